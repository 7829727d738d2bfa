/*
 * Tests for broker/group_coordinator.c (with group_metadata.c and group_metadata_manager.c):
 * the classic group protocol's state machine, driven without sockets. The test is the
 * coordinator's whole world: its clock (`now`, moved by hand), its writer (records are
 * encoded and kept; each write is acknowledged when the test says so), and the callbacks
 * that receive JoinGroup and SyncGroup answers.
 *
 * One test per transition of the state diagram (group_metadata.h) and per error branch of
 * each API, then loading: the records one coordinator wrote, read back by another.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/group_coordinator.h"
#include "protocol/consumer_protocol.h"
#include "protocol/coordinator_records.h"
#include "tests/support/coordinator_log.h"

/* ---- the coordinator's world -------------------------------------------------------------- */

enum { NPARTS = 4, BROKER = 1, MAX_WRITES = 4096, MAX_PENDING = 256 };

static struct {
  int64_t now;
  struct stored writes[MAX_WRITES];
  int nwrites;
  struct {
    mk_group_append_done *done;
    void *arg;
  } pending[MAX_PENDING];
  int npending;
  int16_t fail_append;  /* answer appends with this error at once */
  bool tearing_down;    /* the test's answer structs are gone: callbacks only count */
} world;

static int64_t fake_now(void *ctx) {
  (void)ctx;
  return world.now;
}

static int16_t fake_append(void *ctx, int32_t partition, const struct mk_coordinator_record *recs,
                           int n, mk_group_append_done *done, void *arg) {
  (void)ctx;
  if (world.fail_append) return world.fail_append;
  coordinator_log_append(world.writes, &world.nwrites, MAX_WRITES, partition, recs, n);
  if (done) {
    assert_true(world.npending < MAX_PENDING);
    world.pending[world.npending].done = done;
    world.pending[world.npending++].arg = arg;
  }
  return 0;
}

/* Acknowledge every write waiting, oldest first, with error (0: committed). */
static void ack_writes(int16_t error) {
  while (world.npending) {
    mk_group_append_done *done = world.pending[0].done;
    void *arg = world.pending[0].arg;
    memmove(&world.pending[0], &world.pending[1], sizeof world.pending[0] * (size_t)--world.npending);
    done(arg, error);
  }
}

static void clear_writes(void) { coordinator_log_clear(world.writes, &world.nwrites); }

static struct mk_group_config config;
static struct mk_group_coordinator coord, *c = &coord;

/* A coordinator owning every partition (as broker BROKER), loaded empty. */
static void start(void) {
  struct mk_group_runtime rt = {NULL, fake_now, fake_append};
  assert_int_equal(mk_group_coordinator_init(c, &config, &rt), 0);
  for (int32_t p = 0; p < NPARTS; p++) {
    mk_group_load_begin(&c->mgr, p);
    mk_group_load_end(&c->mgr, p);
    mk_group_coordinator_loaded(c, p, BROKER, 0);
  }
}

static int setup(void **state) {
  (void)state;
  memset(&world, 0, sizeof world);
  world.now = 1700000000000;
  mk_group_config_init(&config);
  config.num_partitions = NPARTS;
  start();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  world.tearing_down = true;
  ack_writes(MK_ERR_NOT_LEADER_OR_FOLLOWER);
  mk_group_coordinator_free(c);
  ack_writes(MK_ERR_NOT_LEADER_OR_FOLLOWER);
  clear_writes();
  world.tearing_down = false;
  return 0;
}

/* Move the clock and let the coordinator act on what is due. */
static void advance(int64_t ms) {
  world.now += ms;
  mk_group_coordinator_poll(c);
}

/* ---- requests and answers ----------------------------------------------------------------- */

static struct mk_group_context ctx_v(int16_t version) {
  return (struct mk_group_context){version, BROKER, mk_str_of("client"), mk_str_of("/127.0.0.1")};
}

struct join_answer {
  bool called;
  int calls;
  int16_t error;
  char member_id[256];
  int32_t generation;
  char leader[256];
  char protocol[64];
  bool protocol_null;
  int nmembers;
  char members[8][256];
  bool skip_assignment;
};

static void on_join(void *arg, const struct mk_join_group_response *r) {
  if (world.tearing_down) return;
  struct join_answer *a = arg;
  a->calls++;
  a->called = true;
  a->error = r->error_code;
  snprintf(a->member_id, sizeof a->member_id, "%.*s", r->member_id.len, r->member_id.ptr);
  a->generation = r->generation_id;
  snprintf(a->leader, sizeof a->leader, "%.*s", r->leader.len < 0 ? 0 : r->leader.len, r->leader.ptr);
  a->protocol_null = r->protocol_name.len < 0;
  snprintf(a->protocol, sizeof a->protocol, "%.*s", r->protocol_name.len < 0 ? 0 : r->protocol_name.len,
           r->protocol_name.ptr);
  a->nmembers = r->members_count;
  for (int32_t i = 0; i < r->members_count && i < 8; i++)
    snprintf(a->members[i], sizeof a->members[i], "%.*s", r->members[i].member_id.len,
             r->members[i].member_id.ptr);
  a->skip_assignment = r->skip_assignment;
}

struct sync_answer {
  bool called;
  int calls;
  int16_t error;
  char assignment[256];
  bool protocol_null;
};

static void on_sync(void *arg, const struct mk_sync_group_response *r) {
  if (world.tearing_down) return;
  struct sync_answer *a = arg;
  a->calls++;
  a->called = true;
  a->error = r->error_code;
  a->protocol_null = r->protocol_name.len < 0;
  snprintf(a->assignment, sizeof a->assignment, "%.*s", r->assignment.len < 0 ? 0 : r->assignment.len,
           (const char *)r->assignment.ptr);
}

/* Protocols from "name=metadata,name=metadata". */
static struct mk_join_group_request_protocol protos_buf[8];
static int protocols(const char *spec) {
  static char copy[8192];
  snprintf(copy, sizeof copy, "%s", spec);
  int n = 0;
  for (char *save, *tok = strtok_r(copy, ",", &save); tok && n < 8; tok = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(tok, '=');
    if (eq) *eq = '\0';
    protos_buf[n].name = mk_str_of(tok);
    protos_buf[n].metadata = eq ? (struct mk_bytes){(const uint8_t *)eq + 1, (int32_t)strlen(eq + 1)}
                                : (struct mk_bytes){NULL, 0};
    n++;
  }
  return n;
}

struct join_opts {
  int16_t version;
  const char *member_id;
  const char *instance_id;
  const char *protocol_type;
  const char *protocols;
  int32_t session_ms, rebalance_ms;
};

static void join_with(const char *group, struct join_opts o, struct join_answer *a) {
  memset(a, 0, sizeof *a);
  struct mk_join_group_request in;
  mk_schema_set_defaults(&mk_join_group_request_schema, &in);
  in.group_id = mk_str_of(group);
  in.session_timeout_ms = o.session_ms ? o.session_ms : 10000;
  in.rebalance_timeout_ms = o.rebalance_ms ? o.rebalance_ms : 30000;
  in.member_id = mk_str_of(o.member_id ? o.member_id : "");
  in.group_instance_id = o.instance_id ? mk_str_of(o.instance_id) : MK_STR_NULL;
  in.protocol_type = mk_str_of(o.protocol_type ? o.protocol_type : "consumer");
  in.protocols_count = protocols(o.protocols ? o.protocols : "range=m");
  in.protocols = protos_buf;
  struct mk_group_context ctx = ctx_v(o.version ? o.version : 5);
  mk_group_join(c, &ctx, &in, on_join, a);
}

/* JoinGroup v5 with a member id: parked or answered into a. */
static void join(const char *group, const char *member_id, struct join_answer *a) {
  join_with(group, (struct join_opts){.member_id = member_id}, a);
}

/* A new member, as a v4+ client does it: MEMBER_ID_REQUIRED, then the join with its id.
 * Leaves the second (parked) join in a and returns its member id. */
static const char *new_member(const char *group, struct join_answer *a) {
  join(group, "", a);
  assert_true(a->called);
  assert_int_equal(a->error, MK_ERR_MEMBER_ID_REQUIRED);
  assert_true(strncmp(a->member_id, "client-", 7) == 0);
  static char ids[64][256];
  static int next;
  char *id = ids[next++ % 64];
  snprintf(id, 256, "%s", a->member_id);
  join(group, id, a);
  return id;
}

static void sync_with(const char *group, const char *member_id, int32_t generation,
                      const char *const *assignments, struct sync_answer *a) {
  memset(a, 0, sizeof *a);
  struct mk_sync_group_request in;
  mk_schema_set_defaults(&mk_sync_group_request_schema, &in);
  in.group_id = mk_str_of(group);
  in.generation_id = generation;
  in.member_id = mk_str_of(member_id);
  in.protocol_type = mk_str_of("consumer");
  in.protocol_name = MK_STR_NULL;
  struct mk_sync_group_request_assignment as[8];
  int n = 0;
  for (; assignments && assignments[2 * n]; n++) {
    as[n].member_id = mk_str_of(assignments[2 * n]);
    as[n].assignment = (struct mk_bytes){(const uint8_t *)assignments[2 * n + 1],
                                         (int32_t)strlen(assignments[2 * n + 1])};
  }
  in.assignments = as;
  in.assignments_count = n;
  struct mk_group_context ctx = ctx_v(5);
  mk_group_sync(c, &ctx, &in, on_sync, a);
}

static int16_t heartbeat(const char *group, const char *member_id, int32_t generation) {
  struct mk_heartbeat_request in;
  mk_schema_set_defaults(&mk_heartbeat_request_schema, &in);
  in.group_id = mk_str_of(group);
  in.member_id = mk_str_of(member_id);
  in.generation_id = generation;
  struct mk_group_context ctx = ctx_v(4);
  return mk_group_heartbeat(c, &ctx, &in);
}

static int16_t leave(const char *group, const char *member_id, int16_t *member_error) {
  struct mk_leave_group_member_identity who;
  mk_schema_set_defaults(&mk_leave_group_member_identity_schema, &who);
  who.member_id = mk_str_of(member_id);
  int16_t err[1] = {-1};
  struct mk_group_context ctx = ctx_v(3);
  int16_t top = mk_group_leave(c, &ctx, mk_str_of(group), &who, 1, err);
  if (member_error) *member_error = err[0];
  return top;
}

static struct mk_group *group(const char *id) {
  return mk_group_metadata_manager_get(&c->mgr, mk_str_of(id));
}

static enum mk_group_state state_of(const char *id) {
  struct mk_group *g = group(id);
  return g ? g->state : MK_GROUP_DEAD;
}

/* A Stable group of two members "a" (leader) and "b" at generation 1, assignments "A"/"B". */
struct two {
  const char *a, *b;
};
static struct two stable_two(const char *g) {
  struct join_answer ja, jb;
  struct two t;
  t.a = new_member(g, &ja);
  t.b = new_member(g, &jb);
  assert_false(ja.called || jb.called);
  advance(config.initial_rebalance_delay_ms);  /* extended once: b arrived */
  advance(config.initial_rebalance_delay_ms);
  assert_true(ja.called && jb.called);
  struct sync_answer sa, sb;
  const char *assign[] = {t.a, "A", t.b, "B", NULL};
  sync_with(g, t.b, 1, NULL, &sb);
  sync_with(g, t.a, 1, assign, &sa);
  ack_writes(0);
  assert_int_equal(state_of(g), MK_GROUP_STABLE);
  assert_string_equal(sa.assignment, "A");
  assert_string_equal(sb.assignment, "B");
  return t;
}

/* ---- JoinGroup: the checks before anything happens ------------------------------------------ */

static void test_join_refuses_bad_requests(void **state) {
  (void)state;
  struct join_answer a;
  join_with("", (struct join_opts){0}, &a);
  assert_int_equal(a.error, MK_ERR_INVALID_GROUP_ID);
  join_with("g", (struct join_opts){.session_ms = 5999}, &a);
  assert_int_equal(a.error, MK_ERR_INVALID_SESSION_TIMEOUT);
  join_with("g", (struct join_opts){.session_ms = 1800001}, &a);
  assert_int_equal(a.error, MK_ERR_INVALID_SESSION_TIMEOUT);
  join_with("g", (struct join_opts){.member_id = "nobody"}, &a);  /* no such group */
  assert_int_equal(a.error, MK_ERR_UNKNOWN_MEMBER_ID);
  join_with("g", (struct join_opts){.protocol_type = ""}, &a);
  assert_int_equal(a.error, MK_ERR_INCONSISTENT_GROUP_PROTOCOL);
  join_with("g", (struct join_opts){.protocols = ""}, &a);
  assert_int_equal(a.error, MK_ERR_INCONSISTENT_GROUP_PROTOCOL);
  /* None of this left a group behind. */
  assert_null(group("g"));
  assert_null(group(""));
}

static void test_join_to_another_broker_is_not_coordinator(void **state) {
  (void)state;
  mk_group_coordinator_unload(c, mk_group_partition_for(mk_str_of("moved"), NPARTS));
  struct join_answer a;
  join("moved", "", &a);
  assert_int_equal(a.error, MK_ERR_NOT_COORDINATOR);
  struct mk_group_context other = ctx_v(5);
  other.broker_id = BROKER + 1;
  struct mk_join_group_request in;
  mk_schema_set_defaults(&mk_join_group_request_schema, &in);
  in.group_id = mk_str_of("g");
  in.session_timeout_ms = 10000;
  in.member_id = mk_str_of("");
  in.protocol_type = mk_str_of("consumer");
  in.protocols_count = protocols("range");
  in.protocols = protos_buf;
  mk_group_join(c, &other, &in, on_join, &a);
  assert_int_equal(a.error, MK_ERR_NOT_COORDINATOR);
}

/* Java's String.hashCode decides the partition: the values Kafka computes for these ids. */
static void test_partition_for_is_javas_hash(void **state) {
  (void)state;
  /* "test-group".hashCode() = 627841412: partition 12 of 50 */
  assert_int_equal(mk_group_partition_for(mk_str_of("test-group"), 50), 12);
  /* "".hashCode() = 0 */
  assert_int_equal(mk_group_partition_for(mk_str_of(""), 50), 0);
  /* "my-group".hashCode() = -1906497762: abs, then 12 of 50 */
  assert_int_equal(mk_group_partition_for(mk_str_of("my-group"), 50), 12);
  /* "é".hashCode() = 233 (one UTF-16 unit, U+00E9); "😀" is a surrogate pair: 31*55357+56832 */
  assert_int_equal(mk_group_partition_for(mk_str_of("\xc3\xa9"), 1000), 233);
  assert_int_equal(mk_group_partition_for(mk_str_of("\xf0\x9f\x98\x80"), 10000000),
                   (31 * 55357 + 56832) % 10000000);
  /* "polygenelubricants".hashCode() is Integer.MIN_VALUE: Kafka's Utils.abs makes it 0. */
  assert_int_equal(mk_group_partition_for(mk_str_of("polygenelubricants"), 50), 0);
}

/* ---- JoinGroup: forming a group ------------------------------------------------------------- */

static void test_member_id_required_from_v4_not_before(void **state) {
  (void)state;
  struct join_answer a;
  join_with("g", (struct join_opts){.version = 4}, &a);
  assert_int_equal(a.error, MK_ERR_MEMBER_ID_REQUIRED);
  assert_int_equal(state_of("g"), MK_GROUP_EMPTY);  /* a pending member id, nothing more */
  char id[256];
  snprintf(id, sizeof id, "%s", a.member_id);
  join_with("g", (struct join_opts){.version = 4, .member_id = id}, &a);
  assert_false(a.called);  /* parked: the group rebalances */
  assert_int_equal(state_of("g"), MK_GROUP_PREPARING_REBALANCE);

  /* v3: joined at once with a new id, no round trip. */
  struct join_answer b;
  join_with("h", (struct join_opts){.version = 3}, &b);
  assert_false(b.called);
  assert_int_equal(state_of("h"), MK_GROUP_PREPARING_REBALANCE);
  assert_int_equal(group("h")->nmembers, 1);
}

/* The first rebalance waits group.initial.rebalance.delay.ms, longer while members arrive,
 * then ends: generation 1, the leader gets the member list, the others do not. */
static void test_initial_rebalance_waits_and_extends(void **state) {
  (void)state;
  struct join_answer a, b;
  const char *ida = new_member("g", &a);
  advance(2000);
  const char *idb = new_member("g", &b);
  advance(1000);  /* the first delay is over, but b arrived: wait again */
  assert_false(a.called);
  assert_int_equal(state_of("g"), MK_GROUP_PREPARING_REBALANCE);
  advance(2999);
  assert_false(a.called);
  advance(1);
  assert_true(a.called && b.called);
  assert_int_equal(a.error, 0);
  assert_int_equal(a.generation, 1);
  assert_int_equal(state_of("g"), MK_GROUP_COMPLETING_REBALANCE);
  assert_string_equal(a.leader, ida);
  assert_string_equal(b.leader, ida);
  assert_string_equal(a.protocol, "range");
  assert_int_equal(a.nmembers, 2);
  assert_string_equal(a.members[0], ida);
  assert_string_equal(a.members[1], idb);
  assert_int_equal(b.nmembers, 0);
}

/* The extension stops at the rebalance timeout even if members keep coming. */
static void test_initial_delay_is_bounded_by_the_rebalance_timeout(void **state) {
  (void)state;
  struct join_answer a, more[8];
  join_with("g", (struct join_opts){.version = 3, .rebalance_ms = 7000}, &a);
  int64_t start_ms = world.now;
  for (int i = 0; i < 8 && !a.called; i++) {
    join_with("g", (struct join_opts){.version = 3, .rebalance_ms = 7000}, &more[i]);
    advance(1000);
  }
  assert_true(a.called);
  /* delay 3000, then 3000 more, then the 1000 left of the 7000 */
  assert_true(world.now - start_ms <= 7000);
  assert_int_equal(a.generation, 1);
}

static void test_protocol_is_chosen_by_vote(void **state) {
  (void)state;
  struct join_answer a, b, d;
  join_with("g", (struct join_opts){.version = 3, .protocols = "range=x,roundrobin=x"}, &a);
  join_with("g", (struct join_opts){.version = 3, .protocols = "roundrobin=y,range=y"}, &b);
  join_with("g", (struct join_opts){.version = 3, .protocols = "sticky=z,roundrobin=z,range=z"}, &d);
  advance(3000);
  advance(3000);
  assert_true(a.called);
  /* candidates: range, roundrobin (sticky is not everyone's); votes: range 1, roundrobin 2 */
  assert_string_equal(a.protocol, "roundrobin");
  /* A member supporting none of the group's protocols is refused. */
  struct join_answer e;
  join_with("g", (struct join_opts){.version = 3, .protocols = "cooperative-sticky=w"}, &e);
  assert_int_equal(e.error, MK_ERR_INCONSISTENT_GROUP_PROTOCOL);
  join_with("g", (struct join_opts){.version = 3, .protocol_type = "connect"}, &e);
  assert_int_equal(e.error, MK_ERR_INCONSISTENT_GROUP_PROTOCOL);
}

static void test_group_max_size(void **state) {
  (void)state;
  teardown(NULL);
  config.max_size = 2;
  start();
  struct join_answer a, b, d;
  join_with("g", (struct join_opts){.version = 3}, &a);
  join_with("g", (struct join_opts){.version = 3}, &b);
  join_with("g", (struct join_opts){.version = 3}, &d);
  assert_int_equal(d.error, MK_ERR_GROUP_MAX_SIZE_REACHED);
  assert_string_equal(d.member_id, "");
  advance(3000);
  advance(3000);
  assert_int_equal(a.error, 0);
  assert_int_equal(group("g")->nmembers, 2);
  config.max_size = INT32_MAX;
}

/* minikafka's memory bound: a group's members must fit one record of __consumer_offsets. */
static void test_group_bytes_are_bounded(void **state) {
  (void)state;
  teardown(NULL);
  config.max_group_bytes = 4096;
  start();
  char big[3000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  char spec[3100];
  snprintf(spec, sizeof spec, "range=%s", big);
  struct join_answer a, b, other;
  join_with("g", (struct join_opts){.version = 3, .protocols = spec}, &a);
  assert_false(a.called);
  join_with("g", (struct join_opts){.version = 3, .protocols = spec}, &b);
  assert_int_equal(b.error, MK_ERR_GROUP_MAX_SIZE_REACHED);
  /* Other groups are not affected. */
  join_with("other", (struct join_opts){.version = 3}, &other);
  assert_false(other.called);
  assert_int_equal(group("other")->nmembers, 1);
  config.max_group_bytes = 1048588;
}

/* ---- SyncGroup ------------------------------------------------------------------------------- */

/* The leader's assignment is stored first; only once the write is acknowledged does the
 * group become Stable and every member hear its part. */
static void test_sync_waits_for_the_write_then_stable(void **state) {
  (void)state;
  struct join_answer ja, jb;
  const char *a = new_member("g", &ja);
  const char *b = new_member("g", &jb);
  advance(3000);
  advance(3000);
  struct sync_answer sa, sb;
  sync_with("g", b, 1, NULL, &sb);
  assert_false(sb.called);
  const char *assign[] = {a, "A", b, "B", NULL};
  int writes = world.nwrites;
  sync_with("g", a, 1, assign, &sa);
  assert_false(sa.called);
  assert_int_equal(world.nwrites, writes + 1);  /* the group's metadata record */
  assert_int_equal(state_of("g"), MK_GROUP_COMPLETING_REBALANCE);
  ack_writes(0);
  assert_int_equal(state_of("g"), MK_GROUP_STABLE);
  assert_int_equal(sa.error, 0);
  assert_string_equal(sa.assignment, "A");
  assert_string_equal(sb.assignment, "B");
  assert_false(sa.protocol_null);
  /* A member syncing again in Stable gets its assignment at once. */
  sync_with("g", b, 1, NULL, &sb);
  assert_true(sb.called);
  assert_string_equal(sb.assignment, "B");
}

static void test_sync_leader_leaving_someone_out_gives_empty(void **state) {
  (void)state;
  struct join_answer ja, jb;
  const char *a = new_member("g", &ja);
  const char *b = new_member("g", &jb);
  advance(3000);
  advance(3000);
  struct sync_answer sa, sb;
  sync_with("g", b, 1, NULL, &sb);
  const char *assign[] = {a, "A", NULL};
  sync_with("g", a, 1, assign, &sa);
  ack_writes(0);
  assert_int_equal(sb.error, 0);
  assert_string_equal(sb.assignment, "");
}

static void test_sync_errors(void **state) {
  (void)state;
  struct sync_answer s;
  sync_with("nope", "m", 1, NULL, &s);
  assert_int_equal(s.error, MK_ERR_UNKNOWN_MEMBER_ID);
  sync_with("", "m", 1, NULL, &s);
  assert_int_equal(s.error, MK_ERR_INVALID_GROUP_ID);
  struct join_answer ja;
  const char *a = new_member("g", &ja);
  sync_with("g", a, 0, NULL, &s);
  assert_int_equal(s.error, MK_ERR_REBALANCE_IN_PROGRESS);  /* PreparingRebalance */
  advance(3000);
  sync_with("g", a, 7, NULL, &s);
  assert_int_equal(s.error, MK_ERR_ILLEGAL_GENERATION);
  sync_with("g", "stranger", 1, NULL, &s);
  assert_int_equal(s.error, MK_ERR_UNKNOWN_MEMBER_ID);
  /* A protocol name that is not the group's. */
  struct mk_sync_group_request in;
  mk_schema_set_defaults(&mk_sync_group_request_schema, &in);
  in.group_id = mk_str_of("g");
  in.generation_id = 1;
  in.member_id = mk_str_of(a);
  in.protocol_type = mk_str_of("consumer");
  in.protocol_name = mk_str_of("roundrobin");
  struct mk_group_context ctx = ctx_v(5);
  memset(&s, 0, sizeof s);
  mk_group_sync(c, &ctx, &in, on_sync, &s);
  assert_int_equal(s.error, MK_ERR_INCONSISTENT_GROUP_PROTOCOL);
}

/* The write of the assignment fails: every parked SyncGroup hears the mapped error, and the
 * group rebalances. */
static void test_sync_store_failure_rebalances(void **state) {
  (void)state;
  struct join_answer ja, jb;
  const char *a = new_member("g", &ja);
  const char *b = new_member("g", &jb);
  advance(3000);
  advance(3000);
  struct sync_answer sa, sb;
  sync_with("g", b, 1, NULL, &sb);
  const char *assign[] = {a, "A", b, "B", NULL};
  sync_with("g", a, 1, assign, &sa);
  ack_writes(MK_ERR_NOT_LEADER_OR_FOLLOWER);
  assert_int_equal(sa.error, MK_ERR_NOT_COORDINATOR);
  assert_int_equal(sb.error, MK_ERR_NOT_COORDINATOR);
  assert_int_equal(state_of("g"), MK_GROUP_PREPARING_REBALANCE);
  /* A timed-out write means "rebalance" to the client. */
  struct join_answer ra, rb;
  join("g", a, &ra);
  join("g", b, &rb);
  assert_true(ra.called && rb.called);
  assert_int_equal(ra.generation, 2);
  sync_with("g", b, 2, NULL, &sb);
  sync_with("g", a, 2, assign, &sa);
  ack_writes(MK_ERR_REQUEST_TIMED_OUT);
  assert_int_equal(sa.error, MK_ERR_REBALANCE_IN_PROGRESS);
  /* Refused at once (the coordinator lost its partition): the same. */
  join("g", a, &ra);
  join("g", b, &rb);
  sync_with("g", b, 3, NULL, &sb);
  world.fail_append = MK_ERR_NOT_ENOUGH_REPLICAS;
  sync_with("g", a, 3, assign, &sa);
  world.fail_append = 0;
  assert_int_equal(sa.error, MK_ERR_COORDINATOR_NOT_AVAILABLE);
  assert_int_equal(sb.error, MK_ERR_COORDINATOR_NOT_AVAILABLE);
}

/* A member that joined but never sends SyncGroup is dropped after the rebalance timeout. */
static void test_missing_sync_expires(void **state) {
  (void)state;
  struct join_answer ja, jb;
  const char *a = new_member("g", &ja);
  new_member("g", &jb);
  advance(3000);
  advance(3000);
  struct sync_answer sa;
  const char *assign[] = {a, "A", NULL};
  sync_with("g", a, 1, assign, &sa);
  ack_writes(0);
  assert_int_equal(state_of("g"), MK_GROUP_STABLE);
  /* Both heartbeat (their sessions are 10 s); b never sends SyncGroup. */
  for (int i = 0; i < 9; i++) {
    advance(3000);
    assert_int_equal(heartbeat("g", a, 1), 0);
    assert_int_equal(heartbeat("g", jb.member_id, 1), 0);
  }
  advance(2999);
  assert_int_equal(group("g")->nmembers, 2);
  advance(1);
  assert_int_equal(group("g")->nmembers, 1);
  assert_int_equal(state_of("g"), MK_GROUP_PREPARING_REBALANCE);
  assert_int_equal(heartbeat("g", a, 1), MK_ERR_REBALANCE_IN_PROGRESS);
}

/* ---- Heartbeat and sessions ------------------------------------------------------------------ */

static void test_heartbeat_answers(void **state) {
  (void)state;
  assert_int_equal(heartbeat("nope", "m", 0), MK_ERR_UNKNOWN_MEMBER_ID);
  assert_int_equal(heartbeat("", "m", 0), MK_ERR_INVALID_GROUP_ID);
  struct two t = stable_two("g");
  assert_int_equal(heartbeat("g", t.a, 1), 0);
  assert_int_equal(heartbeat("g", t.a, 0), MK_ERR_ILLEGAL_GENERATION);
  assert_int_equal(heartbeat("g", "stranger", 1), MK_ERR_UNKNOWN_MEMBER_ID);
  /* The leader rejoins (it wants a rebalance): the others learn from their heartbeat. */
  struct join_answer ra;
  join("g", t.a, &ra);
  assert_int_equal(state_of("g"), MK_GROUP_PREPARING_REBALANCE);
  assert_int_equal(heartbeat("g", t.b, 1), MK_ERR_REBALANCE_IN_PROGRESS);
  struct join_answer rb;
  join("g", t.b, &rb);
  assert_int_equal(rb.generation, 2);
  /* Between JoinGroup and SyncGroup a heartbeat is fine. */
  assert_int_equal(heartbeat("g", t.b, 2), 0);
}

/* A member that stops heartbeating is expired after session.timeout.ms; the group
 * rebalances without it. */
static void test_session_expiry_rebalances(void **state) {
  (void)state;
  struct two t = stable_two("g");
  for (int i = 0; i < 3; i++) {
    advance(3000);
    assert_int_equal(heartbeat("g", t.a, 1), 0);
  }
  /* b sent nothing since its SyncGroup answer: 9 s so far of its 10 s session */
  assert_int_equal(state_of("g"), MK_GROUP_STABLE);
  advance(1000);
  assert_int_equal(state_of("g"), MK_GROUP_PREPARING_REBALANCE);
  assert_int_equal(group("g")->nmembers, 1);
  assert_int_equal(heartbeat("g", t.b, 1), MK_ERR_UNKNOWN_MEMBER_ID);
  struct join_answer ra;
  join("g", t.a, &ra);
  assert_true(ra.called);  /* everyone left has rejoined: done at once */
  assert_int_equal(ra.generation, 2);
  assert_int_equal(ra.nmembers, 1);
}

/* A parked JoinGroup keeps a member alive; a member that does not rejoin within the
 * rebalance timeout is dropped when the join phase ends. */
static void test_members_not_rejoining_are_dropped(void **state) {
  (void)state;
  struct two t = stable_two("g");
  struct join_answer ra;
  join("g", t.a, &ra);
  for (int i = 0; i < 10; i++) {  /* 30 s: a keeps waiting, b sends nothing */
    advance(3000);
    if (ra.called) break;
  }
  assert_true(ra.called);
  assert_int_equal(ra.generation, 2);
  assert_int_equal(ra.nmembers, 1);
  assert_null(mk_group_find(group("g"), mk_str_of(t.b)));
}

/* A MEMBER_ID_REQUIRED id that is never used is forgotten after the session timeout. */
static void test_pending_member_expires(void **state) {
  (void)state;
  struct join_answer a;
  join("g", "", &a);
  assert_int_equal(a.error, MK_ERR_MEMBER_ID_REQUIRED);
  assert_non_null(group("g"));
  advance(10000);
  assert_null(group("g"));  /* nothing left: forgotten */
}

/* ---- LeaveGroup ------------------------------------------------------------------------------ */

static void test_leave_rebalances_and_last_leaves_empty(void **state) {
  (void)state;
  struct two t = stable_two("g");
  int16_t me;
  assert_int_equal(leave("g", t.b, &me), 0);
  assert_int_equal(me, 0);
  assert_int_equal(state_of("g"), MK_GROUP_PREPARING_REBALANCE);
  struct join_answer ra;
  join("g", t.a, &ra);
  assert_int_equal(ra.generation, 2);
  assert_int_equal(leave("g", t.a, &me), 0);
  /* Nobody left: the join phase ends at once into Empty, written down. */
  assert_int_equal(state_of("g"), MK_GROUP_EMPTY);
  assert_int_equal(group("g")->generation_id, 3);
  assert_int_equal(leave("g", "stranger", &me), 0);
  assert_int_equal(me, MK_ERR_UNKNOWN_MEMBER_ID);
  assert_int_equal(leave("nope", "m", &me), MK_ERR_UNKNOWN_MEMBER_ID);
}

/* LeaveGroup v3+ batches members; a static member may be removed by instance id alone, and
 * a pending member id by its id. */
static void test_leave_batch(void **state) {
  (void)state;
  struct join_answer a, b;
  join_with("g", (struct join_opts){.instance_id = "i-1"}, &a);
  join("g", "", &b);
  char pending[256];
  snprintf(pending, sizeof pending, "%s", b.member_id);
  struct mk_leave_group_member_identity who[3];
  for (int i = 0; i < 3; i++) mk_schema_set_defaults(&mk_leave_group_member_identity_schema, &who[i]);
  who[0].member_id = mk_str_of("");
  who[0].group_instance_id = mk_str_of("i-1");
  who[1].member_id = mk_str_of(pending);
  who[2].member_id = mk_str_of("stranger");
  int16_t errors[3];
  struct mk_group_context ctx = ctx_v(3);
  assert_int_equal(mk_group_leave(c, &ctx, mk_str_of("g"), who, 3, errors), 0);
  assert_int_equal(errors[0], 0);
  assert_int_equal(errors[1], 0);
  assert_int_equal(errors[2], MK_ERR_UNKNOWN_MEMBER_ID);
  /* The static member's parked JoinGroup heard UNKNOWN_MEMBER_ID. */
  assert_int_equal(a.error, MK_ERR_UNKNOWN_MEMBER_ID);
}

/* ---- static membership -------------------------------------------------------------------- */

/* Two static members ("i-a", "i-b") joined: generation 1, CompletingRebalance. */
static void static_pair(struct join_answer *a, struct join_answer *b) {
  join_with("g", (struct join_opts){.instance_id = "i-a"}, a);
  join_with("g", (struct join_opts){.instance_id = "i-b"}, b);
  advance(3000);
  advance(3000);
  assert_int_equal(b->generation, 1);
}

/* A restarted static member (same group.instance.id, no member id) takes its place without a
 * rebalance; the old member id is fenced. */
static void test_static_member_rejoins_without_rebalance(void **state) {
  (void)state;
  struct join_answer a, b;
  static_pair(&a, &b);
  char old_b[256];
  snprintf(old_b, sizeof old_b, "%s", b.member_id);
  struct sync_answer sa, sb;
  const char *assign[] = {a.member_id, "A", old_b, "B", NULL};
  sync_with("g", old_b, 1, NULL, &sb);
  sync_with("g", a.member_id, 1, assign, &sa);
  ack_writes(0);
  assert_int_equal(state_of("g"), MK_GROUP_STABLE);

  struct join_answer nb;
  join_with("g", (struct join_opts){.instance_id = "i-b"}, &nb);
  assert_false(nb.called);  /* waits for the new member id to be written */
  ack_writes(0);
  assert_true(nb.called);
  assert_int_equal(nb.error, 0);
  assert_int_equal(nb.generation, 1);
  assert_string_not_equal(nb.member_id, old_b);
  assert_string_equal(nb.leader, a.member_id);
  assert_int_equal(state_of("g"), MK_GROUP_STABLE);
  /* The old instance is fenced everywhere. */
  struct mk_heartbeat_request hb;
  mk_schema_set_defaults(&mk_heartbeat_request_schema, &hb);
  hb.group_id = mk_str_of("g");
  hb.member_id = mk_str_of(old_b);
  hb.group_instance_id = mk_str_of("i-b");
  hb.generation_id = 1;
  struct mk_group_context ctx = ctx_v(4);
  assert_int_equal(mk_group_heartbeat(c, &ctx, &hb), MK_ERR_FENCED_INSTANCE_ID);
  /* It keeps its assignment. */
  sync_with("g", nb.member_id, 1, NULL, &sb);
  assert_string_equal(sb.assignment, "B");
}

/* v9: a rejoining static leader learns it leads, and that it need not assign. */
static void test_static_leader_rejoin_skips_assignment_v9(void **state) {
  (void)state;
  struct join_answer a;
  join_with("g", (struct join_opts){.instance_id = "i-a", .version = 9}, &a);
  advance(3000);
  struct sync_answer sa;
  const char *assign[] = {a.member_id, "A", NULL};
  sync_with("g", a.member_id, 1, assign, &sa);
  ack_writes(0);
  struct join_answer na;
  join_with("g", (struct join_opts){.instance_id = "i-a", .version = 9}, &na);
  ack_writes(0);
  assert_int_equal(na.error, 0);
  assert_true(na.skip_assignment);
  assert_string_equal(na.leader, na.member_id);
  assert_int_equal(na.nmembers, 1);
  /* Before v9 the old leader id is answered instead. */
  char v9_id[256];
  snprintf(v9_id, sizeof v9_id, "%s", na.member_id);
  join_with("g", (struct join_opts){.instance_id = "i-a", .version = 5}, &na);
  ack_writes(0);
  assert_false(na.skip_assignment);
  assert_string_equal(na.leader, v9_id);
  assert_string_not_equal(na.member_id, v9_id);
}

/* During CompletingRebalance a restarted static member forces a new rebalance (the leader
 * may be assigning to its old id); its old parked request is fenced. */
static void test_static_rejoin_while_completing_rebalances(void **state) {
  (void)state;
  struct join_answer a, b;
  static_pair(&a, &b);
  struct sync_answer sb;
  sync_with("g", b.member_id, 1, NULL, &sb);  /* parked */
  struct join_answer nb;
  join_with("g", (struct join_opts){.instance_id = "i-b"}, &nb);
  assert_int_equal(sb.error, MK_ERR_FENCED_INSTANCE_ID);
  assert_int_equal(state_of("g"), MK_GROUP_PREPARING_REBALANCE);
}

/* ---- offsets --------------------------------------------------------------------------------- */

struct commit_answer {
  bool called;
  int16_t errors[1];
};

static void on_commit(void *arg, const int16_t *errors) {
  if (world.tearing_down) return;
  struct commit_answer *a = arg;
  a->called = true;
  a->errors[0] = errors ? errors[0] : MK_ERR_UNKNOWN_SERVER_ERROR;  /* commit() sends one */
}

static void commit(const char *g, const char *member, int32_t generation, int16_t version,
                   const char *topic, int32_t partition, int64_t offset, const char *metadata,
                   struct commit_answer *a) {
  memset(a, 0, sizeof *a);
  struct mk_offset_commit o = {mk_str_of(topic), partition, offset, -1,
                               metadata ? mk_str_of(metadata) : (struct mk_str){"", 0},
                               world.now, -1};
  struct mk_group_context ctx = ctx_v(version);
  mk_group_commit_offsets(c, &ctx, mk_str_of(g), mk_str_of(member), MK_STR_NULL, generation, &o,
                          1, on_commit, a);
}

/* The committed offset of topic/partition (-1: none), with its error. */
static int64_t fetched(const char *g, const char *topic, int32_t partition, bool require_stable,
                       int16_t *error) {
  struct mk_arena arena;
  mk_arena_init(&arena);
  int32_t p = partition;
  struct mk_offset_fetch_request_topics t = {mk_str_of(topic), &p, 1};
  struct mk_offset_fetch_response_group out;
  struct mk_group_context ctx = ctx_v(8);
  mk_group_fetch_offsets(c, &ctx, mk_str_of(g), require_stable, &t, 1, &out, &arena);
  int64_t offset = -1;
  *error = out.error_code;
  if (!out.error_code) {
    assert_int_equal(out.topics_count, 1);
    assert_int_equal(out.topics[0].partitions_count, 1);
    offset = out.topics[0].partitions[0].committed_offset;
    *error = out.topics[0].partitions[0].error_code;
  }
  mk_arena_free(&arena);
  return offset;
}

/* A consumer without a group (generation -1) commits; the offset becomes visible once the
 * write is acknowledged, and require_stable says so until then. */
static void test_simple_commit_is_visible_once_written(void **state) {
  (void)state;
  struct commit_answer a;
  commit("simple", "", -1, 8, "t", 0, 42, "meta", &a);
  assert_false(a.called);
  int16_t e;
  assert_int_equal(fetched("simple", "t", 0, false, &e), -1);
  assert_int_equal(e, 0);
  fetched("simple", "t", 0, true, &e);
  assert_int_equal(e, MK_ERR_UNSTABLE_OFFSET_COMMIT);
  ack_writes(0);
  assert_true(a.called);
  assert_int_equal(a.errors[0], 0);
  assert_int_equal(fetched("simple", "t", 0, true, &e), 42);
  assert_int_equal(e, 0);
  assert_int_equal(fetched("simple", "t", 1, false, &e), -1);  /* never committed */
  assert_int_equal(fetched("nope", "t", 0, false, &e), -1);     /* no such group */
  assert_int_equal(e, 0);
  /* A failed write leaves the old value, and answers the mapped error. */
  commit("simple", "", -1, 8, "t", 0, 50, NULL, &a);
  ack_writes(MK_ERR_NOT_LEADER_OR_FOLLOWER);
  assert_int_equal(a.errors[0], MK_ERR_NOT_COORDINATOR);
  assert_int_equal(fetched("simple", "t", 0, false, &e), 42);
  commit("simple", "", -1, 8, "t", 0, 50, NULL, &a);
  ack_writes(MK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
  assert_int_equal(a.errors[0], MK_ERR_COORDINATOR_NOT_AVAILABLE);
}

static void test_commit_checks_generation_and_member(void **state) {
  (void)state;
  struct commit_answer a;
  commit("nope", "m", 3, 8, "t", 0, 1, NULL, &a);
  assert_int_equal(a.errors[0], MK_ERR_ILLEGAL_GENERATION);  /* no such group, before v9 */
  commit("nope", "m", 3, 9, "t", 0, 1, NULL, &a);
  assert_int_equal(a.errors[0], MK_ERR_GROUP_ID_NOT_FOUND);
  struct two t = stable_two("g");
  commit("g", t.a, 0, 8, "t", 0, 1, NULL, &a);
  assert_int_equal(a.errors[0], MK_ERR_ILLEGAL_GENERATION);
  commit("g", "stranger", 1, 8, "t", 0, 1, NULL, &a);
  assert_int_equal(a.errors[0], MK_ERR_UNKNOWN_MEMBER_ID);
  commit("g", "", -1, 8, "t", 0, 1, NULL, &a);  /* not a member, and the group has some */
  assert_int_equal(a.errors[0], MK_ERR_UNKNOWN_MEMBER_ID);
  char big[5000];
  memset(big, 'm', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  commit("g", t.a, 1, 8, "t", 0, 1, big, &a);
  assert_int_equal(a.errors[0], MK_ERR_OFFSET_METADATA_TOO_LARGE);
  commit("g", t.a, 1, 8, "t", 0, 7, NULL, &a);
  ack_writes(0);
  assert_int_equal(a.errors[0], 0);
  /* During CompletingRebalance a member's commit is told to rejoin. */
  struct join_answer ra, rb;
  join("g", t.a, &ra);
  join("g", t.b, &rb);
  assert_int_equal(state_of("g"), MK_GROUP_COMPLETING_REBALANCE);
  commit("g", t.a, 2, 8, "t", 0, 8, NULL, &a);
  assert_int_equal(a.errors[0], MK_ERR_REBALANCE_IN_PROGRESS);
}

/* A commit counts as a heartbeat. */
static void test_commit_keeps_a_member_alive(void **state) {
  (void)state;
  struct two t = stable_two("g");
  struct commit_answer a;
  for (int i = 0; i < 5; i++) {
    advance(3000);
    assert_int_equal(heartbeat("g", t.a, 1), 0);
    commit("g", t.b, 1, 8, "t", 0, i, NULL, &a);
    ack_writes(0);
  }
  assert_int_equal(state_of("g"), MK_GROUP_STABLE);
  assert_int_equal(group("g")->nmembers, 2);
}

static void test_fetch_all_offsets(void **state) {
  (void)state;
  struct commit_answer a;
  commit("g", "", -1, 8, "b", 1, 11, NULL, &a);
  commit("g", "", -1, 8, "a", 2, 22, NULL, &a);
  commit("g", "", -1, 8, "a", 0, 20, NULL, &a);
  ack_writes(0);
  struct mk_arena arena;
  mk_arena_init(&arena);
  struct mk_offset_fetch_response_group out;
  struct mk_group_context ctx = ctx_v(8);
  mk_group_fetch_offsets(c, &ctx, mk_str_of("g"), false, NULL, -1, &out, &arena);
  assert_int_equal(out.error_code, 0);
  assert_int_equal(out.topics_count, 2);
  assert_true(mk_str_eq(out.topics[0].name, "a"));
  assert_int_equal(out.topics[0].partitions_count, 2);
  assert_int_equal(out.topics[0].partitions[0].partition_index, 0);
  assert_int_equal(out.topics[0].partitions[0].committed_offset, 20);
  assert_int_equal(out.topics[0].partitions[1].committed_offset, 22);
  assert_true(mk_str_eq(out.topics[1].name, "b"));
  assert_int_equal(out.topics[1].partitions[0].committed_offset, 11);
  mk_arena_free(&arena);
}

/* ---- DescribeGroups, ListGroups, DeleteGroups, OffsetDelete ---------------------------------- */

static void test_describe_and_list(void **state) {
  (void)state;
  struct two t = stable_two("g");
  struct join_answer x;
  join("other", "", &x);
  char xid[256];
  snprintf(xid, sizeof xid, "%s", x.member_id);
  join("other", xid, &x);  /* PreparingRebalance */
  struct mk_arena arena;
  mk_arena_init(&arena);
  struct mk_describe_groups_described_group d;
  struct mk_group_context ctx = ctx_v(5);
  mk_group_describe(c, &ctx, mk_str_of("g"), &d, &arena);
  assert_int_equal(d.error_code, 0);
  assert_true(mk_str_eq(d.group_state, "Stable"));
  assert_true(mk_str_eq(d.protocol_type, "consumer"));
  assert_true(mk_str_eq(d.protocol_data, "range"));
  assert_int_equal(d.members_count, 2);
  assert_true(mk_str_eq(d.members[0].member_id, t.a));
  assert_true(mk_str_eq(d.members[0].client_host, "/127.0.0.1"));
  assert_int_equal(d.members[0].member_assignment.len, 1);
  mk_group_describe(c, &ctx, mk_str_of("other"), &d, &arena);
  assert_true(mk_str_eq(d.group_state, "PreparingRebalance"));
  assert_int_equal(d.protocol_data.len, 0);
  assert_int_equal(d.members[0].member_metadata.len, 0);  /* only Stable shows it */
  mk_group_describe(c, &ctx, mk_str_of("nope"), &d, &arena);
  assert_int_equal(d.error_code, 0);
  assert_true(mk_str_eq(d.group_state, "Dead"));

  struct mk_list_groups_response l;
  mk_schema_set_defaults(&mk_list_groups_response_schema, &l);
  mk_group_list(c, &ctx, NULL, 0, NULL, 0, &l, &arena);
  assert_int_equal(l.groups_count, 2);
  struct mk_str stable = mk_str_of(" sTaBle ");
  mk_group_list(c, &ctx, &stable, 1, NULL, 0, &l, &arena);
  assert_int_equal(l.groups_count, 1);
  assert_true(mk_str_eq(l.groups[0].group_id, "g"));
  assert_true(mk_str_eq(l.groups[0].group_type, "classic"));
  struct mk_str consumer = mk_str_of("consumer");  /* KIP-848 groups: none here */
  mk_group_list(c, &ctx, NULL, 0, &consumer, 1, &l, &arena);
  assert_int_equal(l.groups_count, 0);
  struct mk_group_context other = ctx;
  other.broker_id = BROKER + 1;  /* a broker that coordinates nothing lists nothing */
  mk_group_list(c, &other, NULL, 0, NULL, 0, &l, &arena);
  assert_int_equal(l.groups_count, 0);
  mk_arena_free(&arena);
}

static void test_delete_groups(void **state) {
  (void)state;
  struct mk_group_context ctx = ctx_v(2);
  assert_int_equal(mk_group_delete(c, &ctx, mk_str_of("nope")), MK_ERR_GROUP_ID_NOT_FOUND);
  struct two t = stable_two("g");
  assert_int_equal(mk_group_delete(c, &ctx, mk_str_of("g")), MK_ERR_NON_EMPTY_GROUP);
  struct commit_answer a;
  commit("g", t.a, 1, 8, "t", 0, 5, NULL, &a);
  ack_writes(0);
  leave("g", t.a, NULL);
  leave("g", t.b, NULL);
  assert_int_equal(state_of("g"), MK_GROUP_EMPTY);
  int before = world.nwrites;
  assert_int_equal(mk_group_delete(c, &ctx, mk_str_of("g")), 0);
  assert_null(group("g"));
  /* Tombstones: the offset's and the group's. */
  assert_int_equal(world.nwrites, before + 2);
  assert_null(world.writes[before].value);
  assert_null(world.writes[before + 1].value);
  int16_t e;
  assert_int_equal(fetched("g", "t", 0, false, &e), -1);
}

static void test_offset_delete(void **state) {
  (void)state;
  /* A consumer group reading "t": its offsets for "t" cannot go, for "old" they can. */
  struct mk_consumer_protocol_subscription sub;
  mk_schema_set_defaults(&mk_consumer_protocol_subscription_schema, &sub);
  struct mk_str topics[1] = {mk_str_of("t")};
  sub.topics = topics;
  sub.topics_count = 1;
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_consumer_protocol_subscription_encode(&sub, 0, &w, NULL), 0);
  char spec[256] = "range=";
  memcpy(spec + 6, w.buf, w.len);
  spec[6 + w.len] = '\0';
  /* the subscription has NUL bytes: pass it by hand */
  struct join_answer a;
  struct mk_join_group_request in;
  mk_schema_set_defaults(&mk_join_group_request_schema, &in);
  struct mk_join_group_request_protocol p = {mk_str_of("range"), {w.buf, (int32_t)w.len}};
  in.group_id = mk_str_of("g");
  in.session_timeout_ms = 10000;
  in.rebalance_timeout_ms = 10000;
  in.member_id = mk_str_of("");
  in.protocol_type = mk_str_of("consumer");
  in.protocols = &p;
  in.protocols_count = 1;
  struct mk_group_context ctx3 = ctx_v(3);
  memset(&a, 0, sizeof a);
  mk_group_join(c, &ctx3, &in, on_join, &a);
  advance(3000);
  assert_int_equal(a.error, 0);
  char member[256];
  snprintf(member, sizeof member, "%s", a.member_id);
  struct sync_answer s;
  const char *assign[] = {member, "x", NULL};
  sync_with("g", member, 1, assign, &s);
  ack_writes(0);
  mk_writer_free(&w);
  struct commit_answer ca;
  commit("g", member, 1, 8, "t", 0, 1, NULL, &ca);
  commit("g", member, 1, 8, "old", 0, 2, NULL, &ca);
  ack_writes(0);

  struct mk_offset_delete_request_partition p0 = {0};
  struct mk_offset_delete_request_topic del[2] = {{mk_str_of("t"), &p0, 1}, {mk_str_of("old"), &p0, 1}};
  int16_t errors[2];
  struct mk_group_context ctx = ctx_v(0);
  assert_int_equal(mk_group_delete_offsets(c, &ctx, mk_str_of("g"), del, 2, errors), 0);
  assert_int_equal(errors[0], MK_ERR_GROUP_SUBSCRIBED_TO_TOPIC);
  assert_int_equal(errors[1], 0);
  int16_t e;
  assert_int_equal(fetched("g", "t", 0, false, &e), 1);
  assert_int_equal(fetched("g", "old", 0, false, &e), -1);
  assert_int_equal(mk_group_delete_offsets(c, &ctx, mk_str_of("nope"), del, 2, errors),
                   MK_ERR_GROUP_ID_NOT_FOUND);
  /* A non-consumer group with members: NON_EMPTY_GROUP. */
  struct join_answer x;
  join_with("connect", (struct join_opts){.version = 3, .protocol_type = "connect"}, &x);
  assert_int_equal(mk_group_delete_offsets(c, &ctx, mk_str_of("connect"), del, 2, errors),
                   MK_ERR_NON_EMPTY_GROUP);
}

/* ---- coordinator moves: unloading and loading ------------------------------------------------ */

/* The coordinator loses the partition: parked requests hear NOT_COORDINATOR, the groups are
 * gone from here. */
static void test_unload_answers_parked_requests(void **state) {
  (void)state;
  struct join_answer a;
  new_member("g", &a);
  assert_false(a.called);
  mk_group_coordinator_unload(c, mk_group_partition_for(mk_str_of("g"), NPARTS));
  assert_int_equal(a.error, MK_ERR_NOT_COORDINATOR);
  assert_null(group("g"));
  assert_int_equal(heartbeat("g", a.member_id, 0), MK_ERR_NOT_COORDINATOR);
}

/* Load into a fresh coordinator everything written so far. */
static void reload(void) {
  ack_writes(0);
  mk_group_coordinator_free(c);
  struct mk_group_runtime rt = {NULL, fake_now, fake_append};
  assert_int_equal(mk_group_coordinator_init(c, &config, &rt), 0);
  for (int32_t p = 0; p < NPARTS; p++) {
    mk_group_load_begin(&c->mgr, p);
    for (int i = 0; i < world.nwrites; i++) {
      struct stored *s = &world.writes[i];
      if (s->partition != p) continue;
      mk_group_load_record(&c->mgr, p, i, (struct mk_bytes){s->key, s->key_len},
                           (struct mk_bytes){s->value, s->value_len});
    }
    mk_group_load_end(&c->mgr, p);
    mk_group_coordinator_loaded(c, p, BROKER, 1);
  }
}

/* What one coordinator wrote, another reads back: a Stable group with its members,
 * generation, protocol, leader and assignments, and its committed offsets. */
static void test_records_round_trip_through_a_reload(void **state) {
  (void)state;
  struct two t = stable_two("g");
  struct commit_answer a;
  commit("g", t.a, 1, 8, "t", 0, 100, "m0", &a);
  commit("g", t.b, 1, 8, "t", 1, 200, NULL, &a);
  commit("g", t.b, 1, 8, "t", 1, 201, NULL, &a);  /* the latest wins */
  commit("simple", "", -1, 8, "u", 3, 7, NULL, &a);
  commit("deleted", "", -1, 8, "u", 0, 1, NULL, &a);
  ack_writes(0);
  struct mk_group_context ctx = ctx_v(2);
  assert_int_equal(mk_group_delete(c, &ctx, mk_str_of("deleted")), 0);
  reload();

  struct mk_group *g = group("g");
  assert_non_null(g);
  assert_int_equal(g->state, MK_GROUP_STABLE);
  assert_int_equal(g->generation_id, 1);
  assert_string_equal(g->protocol_type, "consumer");
  assert_string_equal(g->protocol_name, "range");
  assert_string_equal(g->leader->member_id, t.a);
  assert_int_equal(g->nmembers, 2);
  struct mk_group_member *mb = mk_group_find(g, mk_str_of(t.b));
  assert_non_null(mb);
  assert_int_equal(mb->assignment_len, 1);
  assert_memory_equal(mb->assignment, "B", 1);
  int16_t e;
  assert_int_equal(fetched("g", "t", 0, false, &e), 100);
  assert_int_equal(fetched("g", "t", 1, false, &e), 201);
  assert_int_equal(fetched("simple", "u", 3, false, &e), 7);
  assert_null(group("deleted"));
  /* The loaded members are alive for one session, then expire unless they heartbeat. */
  assert_int_equal(heartbeat("g", t.a, 1), 0);
  struct sync_answer s;
  sync_with("g", t.b, 1, NULL, &s);
  assert_string_equal(s.assignment, "B");
  advance(5000);
  assert_int_equal(heartbeat("g", t.a, 1), 0);
  advance(5000);  /* b's session (from the load) is over; a heartbeat 5 s ago */
  assert_int_equal(state_of("g"), MK_GROUP_PREPARING_REBALANCE);
  assert_int_equal(group("g")->nmembers, 1);
}

/* Records the coordinator cannot read are skipped, and loading goes on. */
static void test_load_skips_unreadable_records(void **state) {
  (void)state;
  struct commit_answer a;
  commit("g", "", -1, 8, "t", 0, 9, NULL, &a);
  ack_writes(0);
  /* a KIP-848 record (key version 3), a damaged key, a real key with a damaged value */
  static const uint8_t k848[] = {0, 3, 0, 1, 'g'}, bad_key[] = {0}, bad_value[] = {0, 3, 0};
  const struct stored *real = &world.writes[world.nwrites - 1];
  struct {
    const uint8_t *key;
    int32_t key_len;
    const uint8_t *value;
    int32_t value_len;
  } extra[3] = {
      {k848, sizeof k848, k848, sizeof k848},
      {bad_key, 1, NULL, -1},
      {real->key, real->key_len, bad_value, sizeof bad_value},
  };
  int32_t partition = real->partition;
  for (int i = 0; i < 3; i++)
    coordinator_log_keep(world.writes, &world.nwrites, MAX_WRITES, partition,
                         (struct mk_bytes){extra[i].key, extra[i].key_len},
                         (struct mk_bytes){extra[i].value, extra[i].value ? extra[i].value_len : -1});
  reload();
  int16_t e;
  assert_int_equal(fetched("g", "t", 0, false, &e), 9);
}

/* ---- time: offset expiry --------------------------------------------------------------------- */

/* An Empty group's offsets expire offsets.retention.minutes after it became Empty; then the
 * group goes too, tombstones written. */
static void test_offsets_of_an_empty_group_expire(void **state) {
  (void)state;
  teardown(NULL);
  config.offsets_retention_ms = 60000;
  config.offsets_retention_check_interval_ms = 1000;
  start();
  struct two t = stable_two("g");
  struct commit_answer a;
  commit("g", t.a, 1, 8, "t", 0, 5, NULL, &a);
  ack_writes(0);
  leave("g", t.a, NULL);
  leave("g", t.b, NULL);
  assert_int_equal(state_of("g"), MK_GROUP_EMPTY);
  int before = world.nwrites;
  advance(59000);
  assert_non_null(group("g"));
  advance(1000);
  advance(1000);
  assert_null(group("g"));
  assert_true(world.nwrites >= before + 2);  /* the offset's tombstone and the group's */
  config.offsets_retention_ms = 7LL * 24 * 3600 * 1000;
  config.offsets_retention_check_interval_ms = 600000;
}

/* ---- bad input and load ---------------------------------------------------------------------- */

/* 200 members joining at once make one generation of 200; another group is not disturbed. */
static void test_join_storm_of_200(void **state) {
  (void)state;
  static struct join_answer answers[200];
  for (int i = 0; i < 200; i++) join_with("storm", (struct join_opts){.version = 3}, &answers[i]);
  struct join_answer calm;
  join_with("calm", (struct join_opts){.version = 3}, &calm);
  advance(3000);
  advance(3000);
  int leaders = 0;
  for (int i = 0; i < 200; i++) {
    assert_true(answers[i].called);
    assert_int_equal(answers[i].error, 0);
    assert_int_equal(answers[i].generation, 1);
    leaders += answers[i].nmembers == 200;
  }
  assert_int_equal(leaders, 1);
  assert_true(calm.called);
  assert_int_equal(calm.generation, 1);
  assert_int_equal(group("storm")->nmembers, 200);
}

/* The same member's JoinGroup twice while the first is parked: the first is answered (Kafka
 * would drop it), the second parks. */
static void test_repeated_join_answers_the_first(void **state) {
  (void)state;
  struct join_answer first, second;
  const char *id = new_member("g", &first);
  join("g", id, &second);
  assert_int_equal(first.calls, 1);
  assert_int_equal(first.error, MK_ERR_REBALANCE_IN_PROGRESS);
  assert_false(second.called);
  advance(3000);
  assert_int_equal(second.error, 0);
  assert_int_equal(first.calls, 1);
}

/* A new member's parked JoinGroup waits at most 5 minutes (its client may be gone): here an
 * old member stays alive by heartbeats but never rejoins, so the join phase would last the
 * whole 10-minute rebalance timeout. */
static void test_new_member_join_times_out(void **state) {
  (void)state;
  struct join_answer a, b;
  struct join_opts slow = {.version = 3, .rebalance_ms = 600000, .session_ms = 600000};
  join_with("g", slow, &a);
  advance(3000);  /* generation 1: a alone */
  struct sync_answer s;
  const char *assign[] = {a.member_id, "A", NULL};
  sync_with("g", a.member_id, 1, assign, &s);
  ack_writes(0);
  char ida[256];
  snprintf(ida, sizeof ida, "%s", a.member_id);
  join_with("g", slow, &b);
  assert_int_equal(state_of("g"), MK_GROUP_PREPARING_REBALANCE);
  int64_t joined = world.now;
  while (!b.called && world.now - joined < 400000) {
    advance(10000);
    assert_int_equal(heartbeat("g", ida, 1), MK_ERR_REBALANCE_IN_PROGRESS);
  }
  assert_true(b.called);
  assert_int_equal(b.error, MK_ERR_UNKNOWN_MEMBER_ID);
  assert_true(world.now - joined >= MK_GROUP_NEW_MEMBER_JOIN_TIMEOUT_MS);
  assert_true(world.now - joined < MK_GROUP_NEW_MEMBER_JOIN_TIMEOUT_MS + 10000);
  assert_int_equal(group("g")->nmembers, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_join_refuses_bad_requests, setup, teardown),
      cmocka_unit_test_setup_teardown(test_join_to_another_broker_is_not_coordinator, setup, teardown),
      cmocka_unit_test_setup_teardown(test_partition_for_is_javas_hash, setup, teardown),
      cmocka_unit_test_setup_teardown(test_member_id_required_from_v4_not_before, setup, teardown),
      cmocka_unit_test_setup_teardown(test_initial_rebalance_waits_and_extends, setup, teardown),
      cmocka_unit_test_setup_teardown(test_initial_delay_is_bounded_by_the_rebalance_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_protocol_is_chosen_by_vote, setup, teardown),
      cmocka_unit_test_setup_teardown(test_group_max_size, setup, teardown),
      cmocka_unit_test_setup_teardown(test_group_bytes_are_bounded, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sync_waits_for_the_write_then_stable, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sync_leader_leaving_someone_out_gives_empty, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sync_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sync_store_failure_rebalances, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_sync_expires, setup, teardown),
      cmocka_unit_test_setup_teardown(test_heartbeat_answers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_session_expiry_rebalances, setup, teardown),
      cmocka_unit_test_setup_teardown(test_members_not_rejoining_are_dropped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pending_member_expires, setup, teardown),
      cmocka_unit_test_setup_teardown(test_leave_rebalances_and_last_leaves_empty, setup, teardown),
      cmocka_unit_test_setup_teardown(test_leave_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_static_member_rejoins_without_rebalance, setup, teardown),
      cmocka_unit_test_setup_teardown(test_static_leader_rejoin_skips_assignment_v9, setup, teardown),
      cmocka_unit_test_setup_teardown(test_static_rejoin_while_completing_rebalances, setup, teardown),
      cmocka_unit_test_setup_teardown(test_simple_commit_is_visible_once_written, setup, teardown),
      cmocka_unit_test_setup_teardown(test_commit_checks_generation_and_member, setup, teardown),
      cmocka_unit_test_setup_teardown(test_commit_keeps_a_member_alive, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fetch_all_offsets, setup, teardown),
      cmocka_unit_test_setup_teardown(test_describe_and_list, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delete_groups, setup, teardown),
      cmocka_unit_test_setup_teardown(test_offset_delete, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unload_answers_parked_requests, setup, teardown),
      cmocka_unit_test_setup_teardown(test_records_round_trip_through_a_reload, setup, teardown),
      cmocka_unit_test_setup_teardown(test_load_skips_unreadable_records, setup, teardown),
      cmocka_unit_test_setup_teardown(test_offsets_of_an_empty_group_expire, setup, teardown),
      cmocka_unit_test_setup_teardown(test_join_storm_of_200, setup, teardown),
      cmocka_unit_test_setup_teardown(test_repeated_join_answers_the_first, setup, teardown),
      cmocka_unit_test_setup_teardown(test_new_member_join_times_out, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
