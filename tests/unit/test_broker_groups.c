/*
 * Tests for the group coordinator as a client meets it over the network (broker/group_apis.c,
 * offset_apis.c, group_admin_apis.c, find_coordinator.c, group_coordinator_runtime.c): raw
 * requests of every version against an embedded broker, commits waiting for the replicas,
 * the coordinator moving with its partition's leadership, faults, and bad input.
 *
 * The broker runs with a short initial rebalance delay (200 ms), a short minimum session
 * (1 s) and replica.lag.time.max.ms = 1000, so each scenario takes a second or two.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "broker/broker.h"
#include "broker/group_metadata_manager.h"
#include "broker/network.h"  /* MK_CONN_MAX_QUEUED */
#include "protocol/api.h"
#include "protocol/consumer_protocol.h"
#include "protocol/coordinator_records.h"
#include "protocol/messages/api_versions.h"
#include "protocol/messages/delete_groups.h"
#include "protocol/messages/describe_groups.h"
#include "protocol/messages/find_coordinator.h"
#include "protocol/messages/heartbeat.h"
#include "protocol/messages/join_group.h"
#include "protocol/messages/leave_group.h"
#include "protocol/messages/list_groups.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/offset_commit.h"
#include "protocol/messages/offset_delete.h"
#include "protocol/messages/offset_fetch.h"
#include "protocol/messages/produce.h"
#include "protocol/messages/sync_group.h"
#include "tests/support/raw_client.h"
#include "tests/support/test_broker.h"

static struct mk_broker *broker;

static int setup(void **state) {
  (void)state;
  return test_broker_start(&broker, "group.initial.rebalance.delay.ms", "200",
                           "group.min.session.timeout.ms", "1000", "replica.lag.time.max.ms",
                           "1000", NULL);
}

static int teardown(void **state) {
  (void)state;
  if (!broker) return 0;
  mk_broker_stop(broker);
  mk_broker_free(broker);
  broker = NULL;
  return 0;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void connect_to(struct raw_client *c, int32_t node) {
  assert_int_equal(raw_client_connect(c, mk_broker_port(broker, node)), 0);
}

/* ---- finding the coordinator ---------------------------------------------------------------- */

/* The coordinator of group as FindCoordinator v3 answers on broker `ask` (-1 on an error). */
static int32_t find_coordinator(const char *group, int32_t ask, int16_t *error) {
  struct raw_client c;
  connect_to(&c, ask);
  struct mk_find_coordinator_request req;
  mk_schema_set_defaults(&mk_find_coordinator_request_schema, &req);
  req.key = mk_str_of(group);
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_FIND_COORDINATOR, 3, &req, &resp, 5000), 0);
  struct mk_find_coordinator_response *r = resp;
  if (error) *error = r->error_code;
  int32_t node = r->error_code ? -1 : r->node_id;
  if (!r->error_code) assert_int_equal(r->port, mk_broker_port(broker, node));
  raw_client_close(&c);
  return node;
}

static int32_t offsets_partition(const char *group) {
  return mk_group_partition_for(mk_str_of(group), 50);
}

/* A group id nobody uses whose coordinator is broker `node`. */
static const char *unused_group_on(int32_t node) {
  static char name[32];
  for (int i = 0; i < 1000; i++) {
    snprintf(name, sizeof name, "ghost-%d", i);
    if (test_broker_state(broker, MK_CONSUMER_OFFSETS_TOPIC, offsets_partition(name)).leader == node)
      return name;
  }
  fail_msg("no group id lands on broker %d", node);
  return NULL;
}

static void test_find_coordinator_names_the_partition_leader(void **state) {
  (void)state;
  const char *groups[] = {"orders", "payments", "test-group", "x"};
  for (int i = 0; i < 4; i++) {
    int16_t err;
    int32_t node = find_coordinator(groups[i], i % 3, &err);
    assert_int_equal(err, 0);
    struct mk_partition_state s = test_broker_state(broker, MK_CONSUMER_OFFSETS_TOPIC,
                                                    offsets_partition(groups[i]));
    assert_int_equal(node, s.leader);
    assert_int_equal(s.nreplicas, 3);
  }
  /* Every version: v0-3 one key, v4+ a list. */
  struct raw_client c;
  connect_to(&c, 1);
  for (int v = 0; v <= 6; v++) {
    struct mk_find_coordinator_request req;
    mk_schema_set_defaults(&mk_find_coordinator_request_schema, &req);
    struct mk_str keys[2] = {mk_str_of("orders"), mk_str_of("x")};
    if (v < 4) {
      req.key = keys[0];
    } else {
      req.coordinator_keys = keys;
      req.coordinator_keys_count = 2;
    }
    void *resp;
    assert_int_equal(raw_client_call(&c, MK_API_FIND_COORDINATOR, v, &req, &resp, 5000), 0);
    struct mk_find_coordinator_response *r = resp;
    if (v < 4) {
      assert_int_equal(r->error_code, 0);
      assert_int_equal(r->node_id, find_coordinator("orders", 0, NULL));
    } else {
      assert_int_equal(r->coordinators_count, 2);
      assert_int_equal(r->coordinators[1].error_code, 0);
      assert_int_equal(r->coordinators[1].node_id, find_coordinator("x", 0, NULL));
    }
  }
  /* __consumer_offsets is internal, and clients may not write it. */
  struct mk_metadata_request_topic t = {.name = mk_str_of(MK_CONSUMER_OFFSETS_TOPIC)};
  struct mk_metadata_request mreq;
  mk_schema_set_defaults(&mk_metadata_request_schema, &mreq);
  mreq.topics = &t;
  mreq.topics_count = 1;
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_METADATA, 12, &mreq, &resp, 5000), 0);
  struct mk_metadata_response *m = resp;
  assert_int_equal(m->topics_count, 1);
  assert_true(m->topics[0].is_internal);
  assert_int_equal(m->topics[0].partitions_count, 50);
  struct mk_writer batch;
  mk_writer_init(&batch);
  raw_client_build_batch(&batch, 1, -1, -1, -1);
  int32_t p0 = 0;
  struct mk_partition_state s0 = test_broker_state(broker, MK_CONSUMER_OFFSETS_TOPIC, p0);
  struct raw_client lc;
  connect_to(&lc, s0.leader);
  struct mk_produce_partition_produce_response *pr =
      raw_client_produce(&lc, MK_CONSUMER_OFFSETS_TOPIC, p0, -1, &batch, 9, 5000);
  assert_non_null(pr);
  assert_int_equal(pr->error_code, MK_ERR_INVALID_TOPIC_EXCEPTION);
  mk_writer_free(&batch);
  raw_client_close(&lc);
  raw_client_close(&c);
}

/* ---- a member, by hand ----------------------------------------------------------------------- */

struct member {
  struct raw_client c;
  char group[64];
  char id[256];
  int16_t join_version;
  int32_t generation;
  bool leader;
  int nmembers;
  char members[8][256];
};

/* The topic members subscribe to (the JoinGroup metadata of member_start / join_send). */
static const char *subscribe_to = "t";

/* A consumer subscription to topic (what JoinGroup carries for protocol type "consumer"). */
static struct mk_writer subscription(const char *topic) {
  struct mk_consumer_protocol_subscription sub;
  mk_schema_set_defaults(&mk_consumer_protocol_subscription_schema, &sub);
  struct mk_str topics[1] = {mk_str_of(topic)};
  sub.topics = topics;
  sub.topics_count = 1;
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_consumer_protocol_subscription_encode(&sub, 0, &w, NULL), 0);
  return w;
}

/* An assignment of topic's partitions [from, to). */
static struct mk_writer assignment(const char *topic, int32_t from, int32_t to) {
  struct mk_consumer_protocol_assignment a;
  mk_schema_set_defaults(&mk_consumer_protocol_assignment_schema, &a);
  int32_t parts[16];
  for (int32_t p = from; p < to; p++) parts[p - from] = p;
  struct mk_consumer_protocol_assignment_topic_partition tp = {mk_str_of(topic), parts, to - from};
  a.assigned_partitions = &tp;
  a.assigned_partitions_count = 1;
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_consumer_protocol_assignment_encode(&a, 0, &w, NULL), 0);
  return w;
}

static void join_send(struct member *m, const struct mk_bytes *metadata, int32_t session_ms) {
  struct mk_join_group_request req;
  mk_schema_set_defaults(&mk_join_group_request_schema, &req);
  struct mk_writer sub = subscription(subscribe_to);
  struct mk_bytes own = {sub.buf, (int32_t)sub.len};
  struct mk_join_group_request_protocol p = {mk_str_of("range"), metadata ? *metadata : own};
  req.group_id = mk_str_of(m->group);
  req.session_timeout_ms = session_ms;
  req.rebalance_timeout_ms = m->join_version >= 1 ? 10000 : -1;
  req.member_id = mk_str_of(m->id);
  req.protocol_type = mk_str_of("consumer");
  req.protocols = &p;
  req.protocols_count = 1;
  assert_int_equal(raw_client_send(&m->c, MK_API_JOIN_GROUP, m->join_version, &req), 0);
  mk_writer_free(&sub);
}

/* The answer to the JoinGroup sent last; returns its error. */
static int16_t join_receive(struct member *m, int timeout_ms) {
  void *resp;
  int rc = raw_client_receive(&m->c, MK_API_JOIN_GROUP, m->join_version, &resp, timeout_ms);
  if (rc) return (int16_t)rc;
  struct mk_join_group_response *r = resp;
  snprintf(m->id, sizeof m->id, "%.*s", r->member_id.len, r->member_id.ptr);
  if (r->error_code) return r->error_code;
  m->generation = r->generation_id;
  m->leader = r->leader.len == r->member_id.len &&
              memcmp(r->leader.ptr, r->member_id.ptr, (size_t)r->leader.len) == 0;
  m->nmembers = r->members_count;
  for (int32_t i = 0; i < r->members_count && i < 8; i++)
    snprintf(m->members[i], sizeof m->members[i], "%.*s", r->members[i].member_id.len,
             r->members[i].member_id.ptr);
  if (m->join_version >= 7) assert_true(mk_str_eq(r->protocol_type, "consumer"));
  assert_true(mk_str_eq(r->protocol_name, "range"));
  return 0;
}

/* Connect to the group's coordinator and join (v4+: the MEMBER_ID_REQUIRED round trip
 * first); the final JoinGroup is left in flight. */
static void member_start(struct member *m, const char *group, int16_t version) {
  memset(m, 0, sizeof *m);
  snprintf(m->group, sizeof m->group, "%s", group);
  m->join_version = version;
  int16_t err;
  int32_t node = find_coordinator(group, 0, &err);
  assert_int_equal(err, 0);
  connect_to(&m->c, node);
  if (version >= 4) {
    join_send(m, NULL, 10000);
    assert_int_equal(join_receive(m, 5000), MK_ERR_MEMBER_ID_REQUIRED);
    assert_true(strlen(m->id) > 0);
  }
  join_send(m, NULL, 10000);
}

static int16_t sync_group(struct member *m, int16_t version, const char *const *member_ids,
                          const struct mk_writer *assignments, int n, struct mk_writer *mine) {
  struct mk_sync_group_request req;
  mk_schema_set_defaults(&mk_sync_group_request_schema, &req);
  struct mk_sync_group_request_assignment as[8];
  for (int i = 0; i < n; i++) {
    as[i].member_id = mk_str_of(member_ids[i]);
    as[i].assignment = (struct mk_bytes){assignments[i].buf, (int32_t)assignments[i].len};
  }
  req.group_id = mk_str_of(m->group);
  req.generation_id = m->generation;
  req.member_id = mk_str_of(m->id);
  if (version >= 5) {
    req.protocol_type = mk_str_of("consumer");
    req.protocol_name = mk_str_of("range");
  }
  req.assignments = n ? as : NULL;
  req.assignments_count = n;
  void *resp;
  int rc = raw_client_call(&m->c, MK_API_SYNC_GROUP, version, &req, &resp, 10000);
  if (rc) return (int16_t)rc;
  struct mk_sync_group_response *r = resp;
  if (mine) {
    mk_writer_init(mine);
    mk_write_raw(mine, r->assignment.ptr, (size_t)(r->assignment.len > 0 ? r->assignment.len : 0));
  }
  return r->error_code;
}

static int16_t heartbeat(struct member *m, int16_t version) {
  struct mk_heartbeat_request req;
  mk_schema_set_defaults(&mk_heartbeat_request_schema, &req);
  req.group_id = mk_str_of(m->group);
  req.generation_id = m->generation;
  req.member_id = mk_str_of(m->id);
  void *resp;
  int rc = raw_client_call(&m->c, MK_API_HEARTBEAT, version, &req, &resp, 5000);
  return rc ? (int16_t)rc : ((struct mk_heartbeat_response *)resp)->error_code;
}

static int16_t leave(struct member *m, int16_t version) {
  struct mk_leave_group_request req;
  mk_schema_set_defaults(&mk_leave_group_request_schema, &req);
  struct mk_leave_group_member_identity who;
  mk_schema_set_defaults(&mk_leave_group_member_identity_schema, &who);
  who.member_id = mk_str_of(m->id);
  req.group_id = mk_str_of(m->group);
  if (version < 3) {
    req.member_id = mk_str_of(m->id);
  } else {
    req.members = &who;
    req.members_count = 1;
  }
  void *resp;
  int rc = raw_client_call(&m->c, MK_API_LEAVE_GROUP, version, &req, &resp, 5000);
  if (rc) return (int16_t)rc;
  struct mk_leave_group_response *r = resp;
  if (version >= 3 && !r->error_code) {
    assert_int_equal(r->members_count, 1);
    return r->members[0].error_code;
  }
  return r->error_code;
}

/* Commit offset for topic/partition as m (or as no member: generation -1). */
static int16_t commit(struct raw_client *c, int16_t version, const char *group, const char *member,
                      int32_t generation, const char *topic, int32_t partition, int64_t offset) {
  struct mk_offset_commit_request req;
  mk_schema_set_defaults(&mk_offset_commit_request_schema, &req);
  struct mk_offset_commit_request_partition p;
  mk_schema_set_defaults(&mk_offset_commit_request_partition_schema, &p);
  p.partition_index = partition;
  p.committed_offset = offset;
  p.committed_metadata = mk_str_of("m");
  struct mk_offset_commit_request_topic t = {mk_str_of(topic), &p, 1};
  req.group_id = mk_str_of(group);
  if (version >= 1) {
    req.generation_id_or_member_epoch = generation;
    req.member_id = mk_str_of(member);
  }
  req.topics = &t;
  req.topics_count = 1;
  void *resp;
  int rc = raw_client_call(c, MK_API_OFFSET_COMMIT, version, &req, &resp, 10000);
  if (rc) return (int16_t)rc;
  struct mk_offset_commit_response *r = resp;
  assert_int_equal(r->topics_count, 1);
  assert_int_equal(r->topics[0].partitions_count, 1);
  return r->topics[0].partitions[0].error_code;
}

/* The committed offset of topic/partition (-1 none; INT64_MIN with *error on an error). */
static int64_t fetch(struct raw_client *c, int16_t version, const char *group, const char *topic,
                     int32_t partition, int16_t *error) {
  struct mk_offset_fetch_request req;
  mk_schema_set_defaults(&mk_offset_fetch_request_schema, &req);
  int32_t parts[1] = {partition};
  struct mk_offset_fetch_request_topic t = {mk_str_of(topic), parts, 1};
  struct mk_offset_fetch_request_topics ts = {mk_str_of(topic), parts, 1};
  struct mk_offset_fetch_request_group g;
  mk_schema_set_defaults(&mk_offset_fetch_request_group_schema, &g);
  if (version < 8) {
    req.group_id = mk_str_of(group);
    req.topics = &t;
    req.topics_count = 1;
  } else {
    g.group_id = mk_str_of(group);
    g.topics = &ts;
    g.topics_count = 1;
    req.groups = &g;
    req.groups_count = 1;
  }
  void *resp;
  *error = 0;
  int rc = raw_client_call(c, MK_API_OFFSET_FETCH, version, &req, &resp, 5000);
  if (rc) {
    *error = (int16_t)rc;
    return INT64_MIN;
  }
  struct mk_offset_fetch_response *r = resp;
  if (version < 8) {
    if (r->error_code) *error = r->error_code;
    if (r->error_code || !r->topics_count) return INT64_MIN;
    if (r->topics[0].partitions[0].error_code) *error = r->topics[0].partitions[0].error_code;
    return *error ? INT64_MIN : r->topics[0].partitions[0].committed_offset;
  }
  assert_int_equal(r->groups_count, 1);
  if ((*error = r->groups[0].error_code)) return INT64_MIN;
  if ((*error = r->groups[0].topics[0].partitions[0].error_code)) return INT64_MIN;
  return r->groups[0].topics[0].partitions[0].committed_offset;
}

/* ---- every version --------------------------------------------------------------------------- */

/* JoinGroup v0-9 (with SyncGroup, Heartbeat and LeaveGroup of matching age): two members form
 * a group, get their assignments, heartbeat and leave. */
static void test_every_join_version_forms_a_group(void **state) {
  (void)state;
  test_broker_create_topic(broker, "t", 4, 3, NULL);
  for (int16_t v = 0; v <= 9; v++) {
    char group[32];
    snprintf(group, sizeof group, "versions-%d", v);
    int16_t sv = v < 5 ? (v < 3 ? 0 : v - 2) : 5, hv = v < 4 ? v / 2 : 4, lv = v < 5 ? v : 5;
    struct member a, b;
    member_start(&a, group, v);
    member_start(&b, group, v);
    assert_int_equal(join_receive(&a, 5000), 0);
    assert_int_equal(join_receive(&b, 5000), 0);
    assert_int_equal(a.generation, 1);
    assert_int_equal(b.generation, 1);
    struct member *leader = a.leader ? &a : &b, *follower = a.leader ? &b : &a;
    assert_true(leader->leader && !follower->leader);
    assert_int_equal(leader->nmembers, 2);
    assert_int_equal(follower->nmembers, 0);
    struct mk_writer as[2] = {assignment("t", 0, 2), assignment("t", 2, 4)};
    const char *ids[2] = {leader->members[0], leader->members[1]};
    /* the follower syncs first: its SyncGroup waits for the leader's */
    struct mk_sync_group_request freq;
    mk_schema_set_defaults(&mk_sync_group_request_schema, &freq);
    freq.group_id = mk_str_of(group);
    freq.generation_id = 1;
    freq.member_id = mk_str_of(follower->id);
    if (sv >= 5) {
      freq.protocol_type = mk_str_of("consumer");
      freq.protocol_name = mk_str_of("range");
    }
    assert_int_equal(raw_client_send(&follower->c, MK_API_SYNC_GROUP, sv, &freq), 0);
    struct mk_writer mine;
    assert_int_equal(sync_group(leader, sv, ids, as, 2, &mine), 0);
    void *resp;
    assert_int_equal(raw_client_receive(&follower->c, MK_API_SYNC_GROUP, sv, &resp, 5000), 0);
    struct mk_sync_group_response *fr = resp;
    assert_int_equal(fr->error_code, 0);
    const struct mk_writer *fwant = strcmp(ids[0], follower->id) == 0 ? &as[0] : &as[1];
    assert_int_equal(fr->assignment.len, (int32_t)fwant->len);
    assert_memory_equal(fr->assignment.ptr, fwant->buf, fwant->len);
    const struct mk_writer *lwant = fwant == &as[0] ? &as[1] : &as[0];
    assert_int_equal(mine.len, lwant->len);
    mk_writer_free(&mine);
    assert_int_equal(heartbeat(&a, hv), 0);
    assert_int_equal(heartbeat(&b, hv), 0);
    assert_int_equal(leave(follower, lv), 0);
    assert_int_equal(heartbeat(leader, hv), MK_ERR_REBALANCE_IN_PROGRESS);
    assert_int_equal(leave(leader, lv), 0);
    for (int i = 0; i < 2; i++) mk_writer_free(&as[i]);
    raw_client_close(&a.c);
    raw_client_close(&b.c);
  }
}

/* OffsetCommit v0-9 and OffsetFetch v0-9 on a group that only stores offsets. */
static void test_every_offset_version(void **state) {
  (void)state;
  test_broker_create_topic(broker, "o", 2, 3, NULL);
  int16_t err;
  int32_t node = find_coordinator("offsets-only", 0, &err);
  struct raw_client c;
  for (int16_t v = 0; v <= 9; v++) {
    connect_to(&c, node);  /* (a raw client keeps 64 answers) */
    assert_int_equal(commit(&c, v, "offsets-only", "", -1, "o", v % 2, 100 + v), 0);
    for (int16_t fv = 0; fv <= 9; fv++)
      assert_int_equal(fetch(&c, fv, "offsets-only", "o", v % 2, &err), 100 + v);
    raw_client_close(&c);
  }
  connect_to(&c, node);
  /* OffsetFetch v8+ asks for several groups at once: two this broker coordinates, one it
   * does not. */
  char neighbour[32];
  snprintf(neighbour, sizeof neighbour, "%s", unused_group_on(node));
  assert_int_equal(commit(&c, 8, neighbour, "", -1, "o", 1, 55), 0);
  struct mk_offset_fetch_request req;
  mk_schema_set_defaults(&mk_offset_fetch_request_schema, &req);
  struct mk_offset_fetch_request_group groups[3];
  const char *names[3] = {"offsets-only", neighbour, unused_group_on((node + 1) % 3)};
  for (int i = 0; i < 3; i++) {
    mk_schema_set_defaults(&mk_offset_fetch_request_group_schema, &groups[i]);
    groups[i].group_id = mk_str_of(names[i]);
    groups[i].topics_count = -1;  /* every committed offset */
  }
  req.groups = groups;
  req.groups_count = 3;
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_OFFSET_FETCH, 9, &req, &resp, 5000), 0);
  struct mk_offset_fetch_response *fr = resp;
  assert_int_equal(fr->groups_count, 3);
  assert_int_equal(fr->groups[0].error_code, 0);
  assert_int_equal(fr->groups[0].topics_count, 1);
  assert_int_equal(fr->groups[0].topics[0].partitions_count, 2);  /* o-0 and o-1 */
  assert_int_equal(fr->groups[1].error_code, 0);
  assert_int_equal(fr->groups[1].topics[0].partitions[0].committed_offset, 55);
  assert_int_equal(fr->groups[2].error_code, MK_ERR_NOT_COORDINATOR);

  /* A partition nobody committed: -1; a topic that does not exist: UNKNOWN_TOPIC_OR_PARTITION
   * to commit, -1 to fetch, as Kafka. */
  assert_int_equal(fetch(&c, 8, "offsets-only", "o", 5, &err), -1);
  assert_int_equal(commit(&c, 8, "offsets-only", "", -1, "nope", 0, 1),
                   MK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
  /* Another broker is not the coordinator. */
  struct raw_client other;
  connect_to(&other, (node + 1) % 3);
  assert_int_equal(commit(&other, 8, "offsets-only", "", -1, "o", 0, 1), MK_ERR_NOT_COORDINATOR);
  fetch(&other, 8, "offsets-only", "o", 0, &err);
  assert_int_equal(err, MK_ERR_NOT_COORDINATOR);
  fetch(&other, 1, "offsets-only", "o", 0, &err);  /* v0-1: the error on each partition */
  assert_int_equal(err, MK_ERR_NOT_COORDINATOR);
  raw_client_close(&other);
  raw_client_close(&c);
}

/* DescribeGroups v0-6, ListGroups v0-5 (v4 by state), DeleteGroups v0-2, OffsetDelete v0. */
static void test_admin_api_versions(void **state) {
  (void)state;
  test_broker_create_topic(broker, "adm", 2, 3, NULL);
  struct member a;
  subscribe_to = "adm";
  member_start(&a, "adm-group", 5);
  subscribe_to = "t";
  assert_int_equal(join_receive(&a, 5000), 0);
  struct mk_writer as = assignment("adm", 0, 2);
  const char *ids[1] = {a.id};
  assert_int_equal(sync_group(&a, 5, ids, &as, 1, NULL), 0);
  mk_writer_free(&as);
  int32_t coordinator = find_coordinator("adm-group", 0, NULL);
  struct raw_client c;
  connect_to(&c, coordinator);
  for (int16_t v = 0; v <= 6; v++) {
    struct mk_describe_groups_request req;
    mk_schema_set_defaults(&mk_describe_groups_request_schema, &req);
    struct mk_str groups[2] = {mk_str_of("adm-group"), mk_str_of(unused_group_on(coordinator))};
    req.groups = groups;
    req.groups_count = 2;
    void *resp;
    assert_int_equal(raw_client_call(&c, MK_API_DESCRIBE_GROUPS, v, &req, &resp, 5000), 0);
    struct mk_describe_groups_response *r = resp;
    assert_int_equal(r->groups_count, 2);
    assert_int_equal(r->groups[0].error_code, 0);
    assert_true(mk_str_eq(r->groups[0].group_state, "Stable"));
    assert_true(mk_str_eq(r->groups[0].protocol_data, "range"));
    assert_int_equal(r->groups[0].members_count, 1);
    assert_true(mk_str_eq(r->groups[0].members[0].member_id, a.id));
    assert_true(mk_str_eq(r->groups[0].members[0].client_id, "raw-test"));
    assert_true(r->groups[0].members[0].member_assignment.len > 0);
    assert_int_equal(r->groups[1].error_code, 0);
    assert_true(mk_str_eq(r->groups[1].group_state, "Dead"));
  }
  for (int16_t v = 0; v <= 5; v++) {
    struct mk_list_groups_request req;
    mk_schema_set_defaults(&mk_list_groups_request_schema, &req);
    struct mk_str empty = mk_str_of("Empty");
    if (v >= 4) {
      req.states_filter = &empty;
      req.states_filter_count = 1;
    }
    void *resp;
    assert_int_equal(raw_client_call(&c, MK_API_LIST_GROUPS, v, &req, &resp, 5000), 0);
    struct mk_list_groups_response *r = resp;
    assert_int_equal(r->error_code, 0);
    bool seen = false;
    for (int32_t i = 0; i < r->groups_count; i++)
      seen |= mk_str_eq(r->groups[i].group_id, "adm-group");
    assert_int_equal(seen, v < 4);  /* Stable: filtered out by "Empty" from v4 */
  }
  /* DeleteGroups: not while it has members; OffsetDelete: not for a topic it reads. */
  assert_int_equal(commit(&c, 8, "adm-group", a.id, 1, "adm", 0, 5), 0);
  struct mk_offset_delete_request od;
  mk_schema_set_defaults(&mk_offset_delete_request_schema, &od);
  struct mk_offset_delete_request_partition odp = {0};
  struct mk_offset_delete_request_topic odt = {mk_str_of("adm"), &odp, 1};
  od.group_id = mk_str_of("adm-group");
  od.topics = &odt;
  od.topics_count = 1;
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_OFFSET_DELETE, 0, &od, &resp, 5000), 0);
  struct mk_offset_delete_response *odr = resp;
  assert_int_equal(odr->error_code, 0);
  assert_int_equal(odr->topics[0].partitions[0].error_code, MK_ERR_GROUP_SUBSCRIBED_TO_TOPIC);
  for (int16_t v = 0; v <= 2; v++) {
    struct mk_delete_groups_request req;
    mk_schema_set_defaults(&mk_delete_groups_request_schema, &req);
    struct mk_str names[2] = {mk_str_of("adm-group"), mk_str_of("adm-group")};
    req.groups_names = names;
    req.groups_names_count = 2;
    assert_int_equal(raw_client_call(&c, MK_API_DELETE_GROUPS, v, &req, &resp, 5000), 0);
    struct mk_delete_groups_response *r = resp;
    assert_int_equal(r->results_count, 1);  /* each name answered once */
    assert_int_equal(r->results[0].error_code, MK_ERR_NON_EMPTY_GROUP);
  }
  assert_int_equal(leave(&a, 5), 0);
  assert_int_equal(raw_client_call(&c, MK_API_OFFSET_DELETE, 0, &od, &resp, 5000), 0);
  odr = resp;
  assert_int_equal(odr->topics[0].partitions[0].error_code, 0);  /* empty now: it may go */
  int16_t err;
  assert_int_equal(fetch(&c, 8, "adm-group", "adm", 0, &err), -1);
  struct mk_delete_groups_request dreq;
  mk_schema_set_defaults(&mk_delete_groups_request_schema, &dreq);
  struct mk_str name = mk_str_of("adm-group");
  dreq.groups_names = &name;
  dreq.groups_names_count = 1;
  assert_int_equal(raw_client_call(&c, MK_API_DELETE_GROUPS, 2, &dreq, &resp, 5000), 0);
  assert_int_equal(((struct mk_delete_groups_response *)resp)->results[0].error_code, 0);
  assert_int_equal(raw_client_call(&c, MK_API_DELETE_GROUPS, 2, &dreq, &resp, 5000), 0);
  assert_int_equal(((struct mk_delete_groups_response *)resp)->results[0].error_code,
                   MK_ERR_GROUP_ID_NOT_FOUND);
  raw_client_close(&c);
  raw_client_close(&a.c);
}

/* ApiVersions offers every group API, from v0 to Kafka 4.0's newest classic version. */
static void test_api_versions_lists_the_group_apis(void **state) {
  (void)state;
  struct raw_client c;
  connect_to(&c, 0);
  struct mk_api_versions_request req;
  mk_schema_set_defaults(&mk_api_versions_request_schema, &req);
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_API_VERSIONS, 3, &req, &resp, 5000), 0);
  struct mk_api_versions_response *r = resp;
  static const struct { int16_t key, max; } want[] = {
      {MK_API_OFFSET_COMMIT, 9}, {MK_API_OFFSET_FETCH, 9}, {MK_API_FIND_COORDINATOR, 6},
      {MK_API_JOIN_GROUP, 9},    {MK_API_HEARTBEAT, 4},    {MK_API_LEAVE_GROUP, 5},
      {MK_API_SYNC_GROUP, 5},    {MK_API_DESCRIBE_GROUPS, 6}, {MK_API_LIST_GROUPS, 5},
      {MK_API_DELETE_GROUPS, 2}, {MK_API_OFFSET_DELETE, 0},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    bool found = false;
    for (int32_t j = 0; j < r->api_keys_count; j++) {
      if (r->api_keys[j].api_key != want[i].key) continue;
      found = true;
      assert_int_equal(r->api_keys[j].min_version, 0);
      assert_int_equal(r->api_keys[j].max_version, want[i].max);
    }
    if (!found) fail_msg("api key %d not advertised", want[i].key);
  }
  raw_client_close(&c);
}

/* ---- commits are acknowledged at the high watermark ------------------------------------------ */

/* A commit is answered only once every in-sync replica of its __consumer_offsets partition
 * has it; a paused follower holds it until the follower leaves the ISR. And the commit is a
 * record in that partition, which anyone can read. */
static void test_commit_waits_for_the_in_sync_replicas(void **state) {
  (void)state;
  test_broker_create_topic(broker, "w", 1, 3, NULL);
  const char *group = "patient";
  int32_t coordinator = find_coordinator(group, 0, NULL);
  int32_t p = offsets_partition(group);
  struct mk_partition_state s = test_broker_state(broker, MK_CONSUMER_OFFSETS_TOPIC, p);
  test_broker_fault(broker, "{\"action\": \"follower_pause\", \"topic\": \"%s\", \"partition\": %d, "
                    "\"broker\": %d}", MK_CONSUMER_OFFSETS_TOPIC, p, s.followers[0]);
  struct raw_client c;
  connect_to(&c, coordinator);
  struct mk_offset_commit_request req;
  mk_schema_set_defaults(&mk_offset_commit_request_schema, &req);
  struct mk_offset_commit_request_partition part;
  mk_schema_set_defaults(&mk_offset_commit_request_partition_schema, &part);
  part.committed_offset = 77;
  struct mk_offset_commit_request_topic t = {mk_str_of("w"), &part, 1};
  req.group_id = mk_str_of(group);
  req.topics = &t;
  req.topics_count = 1;
  int64_t start = now_ms();
  assert_int_equal(raw_client_send(&c, MK_API_OFFSET_COMMIT, 8, &req), 0);
  void *resp;
  assert_int_equal(raw_client_receive(&c, MK_API_OFFSET_COMMIT, 8, &resp, 300), MK_ERR__TIMED_OUT);
  /* Meanwhile the commit is pending: not visible, and require_stable says so. */
  struct raw_client q;
  connect_to(&q, coordinator);
  int16_t ferr;
  assert_int_equal(fetch(&q, 6, group, "w", 0, &ferr), -1);
  struct mk_offset_fetch_request freq;
  mk_schema_set_defaults(&mk_offset_fetch_request_schema, &freq);
  int32_t p0 = 0;
  struct mk_offset_fetch_request_topic ft = {mk_str_of("w"), &p0, 1};
  freq.group_id = mk_str_of(group);
  freq.topics = &ft;
  freq.topics_count = 1;
  freq.require_stable = true;
  void *fresp;
  assert_int_equal(raw_client_call(&q, MK_API_OFFSET_FETCH, 7, &freq, &fresp, 5000), 0);
  assert_int_equal(((struct mk_offset_fetch_response *)fresp)->topics[0].partitions[0].error_code,
                   MK_ERR_UNSTABLE_OFFSET_COMMIT);
  raw_client_close(&q);
  assert_int_equal(raw_client_receive(&c, MK_API_OFFSET_COMMIT, 8, &resp, 5000), 0);
  assert_int_equal(((struct mk_offset_commit_response *)resp)->topics[0].partitions[0].error_code, 0);
  assert_true(now_ms() - start >= 900);  /* the follower left the ISR after ~1 s */
  test_broker_fault(broker, "{\"action\": \"follower_resume\", \"topic\": \"%s\", \"partition\": %d, "
                    "\"broker\": %d}", MK_CONSUMER_OFFSETS_TOPIC, p, s.followers[0]);
  raw_client_close(&c);

  /* The commit is an OffsetCommit record (key group/topic/partition, value offset 77). */
  struct mk_stored_records recs;
  struct mk_err err = {0};
  assert_int_equal(mk_broker_read_records(broker, MK_CONSUMER_OFFSETS_TOPIC, p, -1, true, &recs,
                                          &err), 0);
  bool found = false;
  for (size_t i = 0; i < recs.n; i++) {
    struct mk_arena arena;
    mk_arena_init(&arena);
    struct mk_coordinator_record rec;
    struct mk_bytes k = {(const uint8_t *)recs.v[i].key.ptr, recs.v[i].key.len};
    struct mk_bytes v = {(const uint8_t *)recs.v[i].value.ptr, recs.v[i].value.len};
    if (mk_coordinator_record_decode(MK_CONSUMER_OFFSETS, k, v, &rec, &arena, NULL) == 0 &&
        rec.type == MK_RECORD_OFFSET_COMMIT && mk_str_eq(rec.key.offset_commit.group, group)) {
      assert_int_equal(rec.key_version, 1);
      assert_int_equal(rec.value_version, 3);
      assert_int_equal(rec.value.offset_commit.offset, 77);
      found = true;
    }
    mk_arena_free(&arena);
  }
  mk_stored_records_free(&recs);
  assert_true(found);
}

/* ---- the coordinator moves ------------------------------------------------------------------- */

/* The coordinator's broker goes down: the group's partition elects a new leader, which loads
 * the committed offsets from its own log; the old one, back up, is no longer the coordinator. */
static void test_failover_keeps_committed_offsets(void **state) {
  (void)state;
  test_broker_create_topic(broker, "f", 3, 3, NULL);
  const char *group = "survivor";
  struct member a;
  member_start(&a, group, 7);
  assert_int_equal(join_receive(&a, 5000), 0);
  struct mk_writer as = assignment("f", 0, 3);
  const char *ids[1] = {a.id};
  assert_int_equal(sync_group(&a, 5, ids, &as, 1, NULL), 0);
  mk_writer_free(&as);
  for (int32_t p = 0; p < 3; p++) assert_int_equal(commit(&a.c, 8, group, a.id, 1, "f", p, 10 + p), 0);
  int32_t old = find_coordinator(group, 0, NULL);
  raw_client_close(&a.c);

  test_broker_fault(broker, "{\"action\": \"broker_down\", \"broker\": %d}", old);
  int16_t err;
  int32_t now = find_coordinator(group, (old + 1) % 3, &err);
  assert_int_equal(err, 0);
  assert_int_not_equal(now, old);
  struct raw_client c;
  connect_to(&c, now);
  for (int32_t p = 0; p < 3; p++) assert_int_equal(fetch(&c, 8, group, "f", p, &err), 10 + p);
  /* The member is still in the group (loaded, Stable, generation 1): it may commit on. */
  assert_int_equal(commit(&c, 8, group, a.id, 1, "f", 0, 20), 0);
  test_broker_fault(broker, "{\"action\": \"broker_up\", \"broker\": %d}", old);
  struct raw_client back;
  connect_to(&back, old);
  assert_int_equal(commit(&back, 8, group, a.id, 1, "f", 0, 21), MK_ERR_NOT_COORDINATOR);
  raw_client_close(&back);
  assert_int_equal(fetch(&c, 8, group, "f", 0, &err), 20);
  raw_client_close(&c);
}

/* A JoinGroup parked on the coordinator when leadership moves (elect_leader, the broker stays
 * up) is answered NOT_COORDINATOR at once; the member finds the new coordinator and rejoins. */
static void test_election_answers_parked_joins(void **state) {
  (void)state;
  test_broker_create_topic(broker, "e", 2, 3, NULL);
  const char *group = "elected";
  struct member a, b;
  member_start(&a, group, 5);
  member_start(&b, group, 5);
  assert_int_equal(join_receive(&a, 5000), 0);
  assert_int_equal(join_receive(&b, 5000), 0);
  struct member *leader = a.leader ? &a : &b;
  struct mk_writer as[2] = {assignment("e", 0, 1), assignment("e", 1, 2)};
  const char *ids[2] = {leader->members[0], leader->members[1]};
  struct member *follower = leader == &a ? &b : &a;
  struct mk_sync_group_request freq;
  mk_schema_set_defaults(&mk_sync_group_request_schema, &freq);
  freq.group_id = mk_str_of(group);
  freq.generation_id = 1;
  freq.member_id = mk_str_of(follower->id);
  freq.protocol_type = mk_str_of("consumer");
  freq.protocol_name = mk_str_of("range");
  assert_int_equal(raw_client_send(&follower->c, MK_API_SYNC_GROUP, 5, &freq), 0);
  assert_int_equal(sync_group(leader, 5, ids, as, 2, NULL), 0);
  void *resp;
  assert_int_equal(raw_client_receive(&follower->c, MK_API_SYNC_GROUP, 5, &resp, 5000), 0);
  for (int i = 0; i < 2; i++) mk_writer_free(&as[i]);
  /* a rejoins: parked until b rejoins too (up to the 10 s rebalance timeout) */
  join_send(&a, NULL, 10000);
  assert_int_equal(join_receive(&a, 300), MK_ERR__TIMED_OUT);
  int32_t p = offsets_partition(group);
  struct mk_partition_state s = test_broker_state(broker, MK_CONSUMER_OFFSETS_TOPIC, p);
  int64_t start = now_ms();
  test_broker_fault(broker, "{\"action\": \"elect_leader\", \"topic\": \"%s\", \"partition\": %d, "
                    "\"broker\": %d}", MK_CONSUMER_OFFSETS_TOPIC, p, s.followers[0]);
  assert_int_equal(join_receive(&a, 5000), MK_ERR_NOT_COORDINATOR);
  assert_true(now_ms() - start < 2000);
  assert_int_equal(find_coordinator(group, 0, NULL), s.followers[0]);
  /* The new coordinator loaded the group: b's heartbeat works there. */
  raw_client_close(&b.c);
  connect_to(&b.c, s.followers[0]);
  assert_int_equal(heartbeat(&b, 4), 0);
  raw_client_close(&a.c);
  raw_client_close(&b.c);
}

/* POST /v1/reset with a group in the middle of a rebalance: the parked JoinGroup is answered
 * (or its connection closed) before __consumer_offsets goes, the group is forgotten, and a
 * new group forms on the fresh broker. (Under ASan: nothing waits on freed memory.) */
static void test_reset_forgets_groups(void **state) {
  (void)state;
  const char *group = "reset-me";
  struct member a, b;
  member_start(&a, group, 5);
  assert_int_equal(join_receive(&a, 5000), 0);
  struct mk_writer as = assignment("t", 0, 1);
  const char *ids[1] = {a.id};
  assert_int_equal(sync_group(&a, 5, ids, &as, 1, NULL), 0);  /* Stable, one member */
  mk_writer_free(&as);
  member_start(&b, group, 5);  /* a rebalance: b's JoinGroup waits for a to rejoin */
  assert_int_equal(join_receive(&b, 300), MK_ERR__TIMED_OUT);
  struct mk_err err = {0};
  assert_int_equal(mk_broker_reset(broker, &err), 0);
  int16_t got = join_receive(&b, 5000);
  assert_true(got == MK_ERR_NOT_COORDINATOR || got == MK_ERR__TRANSPORT);
  raw_client_close(&a.c);
  raw_client_close(&b.c);
  char *groups = mk_broker_groups_json(broker);
  assert_non_null(groups);
  assert_null(strstr(groups, group));
  free(groups);
  /* A fresh broker: the coordinator creates __consumer_offsets again and a group forms. */
  member_start(&a, "after-reset", 5);
  assert_int_equal(join_receive(&a, 10000), 0);
  assert_int_equal(a.generation, 1);
  raw_client_close(&a.c);
}

/* ---- faults ---------------------------------------------------------------------------------- */

static void test_faults_reach_the_group_apis(void **state) {
  (void)state;
  test_broker_create_topic(broker, "fa", 2, 3, NULL);
  test_broker_create_topic(broker, "fb", 2, 3, NULL);
  const char *group = "faulty";
  struct member a;
  int32_t coordinator = find_coordinator(group, 0, NULL);
  test_broker_fault(broker, "{\"action\": \"error\", \"api\": \"JoinGroup\", \"error\": "
                    "\"COORDINATOR_LOAD_IN_PROGRESS\", \"count\": 1}");
  memset(&a, 0, sizeof a);
  snprintf(a.group, sizeof a.group, "%s", group);
  a.join_version = 5;
  connect_to(&a.c, coordinator);
  join_send(&a, NULL, 10000);
  assert_int_equal(join_receive(&a, 5000), MK_ERR_COORDINATOR_LOAD_IN_PROGRESS);
  join_send(&a, NULL, 10000);  /* the fault is spent */
  assert_int_equal(join_receive(&a, 5000), MK_ERR_MEMBER_ID_REQUIRED);
  join_send(&a, NULL, 10000);
  assert_int_equal(join_receive(&a, 5000), 0);
  struct mk_writer as = assignment("fa", 0, 2);
  const char *ids[1] = {a.id};
  assert_int_equal(sync_group(&a, 5, ids, &as, 1, NULL), 0);
  mk_writer_free(&as);

  test_broker_fault(broker, "{\"action\": \"error\", \"api\": \"Heartbeat\", \"error\": "
                    "\"REBALANCE_IN_PROGRESS\", \"count\": 1, \"broker\": %d}", coordinator);
  assert_int_equal(heartbeat(&a, 4), MK_ERR_REBALANCE_IN_PROGRESS);
  assert_int_equal(heartbeat(&a, 4), 0);

  /* Scoped to a topic: only that topic's commit fails. */
  test_broker_fault(broker, "{\"action\": \"error\", \"api\": \"OffsetCommit\", \"error\": "
                    "\"NOT_COORDINATOR\", \"topic\": \"fb\"}");
  assert_int_equal(commit(&a.c, 8, group, a.id, 1, "fa", 0, 1), 0);
  assert_int_equal(commit(&a.c, 8, group, a.id, 1, "fb", 0, 1), MK_ERR_NOT_COORDINATOR);
  assert_int_equal(mk_broker_clear_faults(broker), 0);
  assert_int_equal(commit(&a.c, 8, group, a.id, 1, "fb", 0, 1), 0);

  test_broker_fault(broker, "{\"action\": \"error\", \"api\": \"OffsetFetch\", \"error\": "
                    "\"COORDINATOR_NOT_AVAILABLE\", \"count\": 1}");
  int16_t err;
  fetch(&a.c, 8, group, "fa", 0, &err);
  assert_int_equal(err, MK_ERR_COORDINATOR_NOT_AVAILABLE);
  assert_int_equal(fetch(&a.c, 8, group, "fa", 0, &err), 1);

  test_broker_fault(broker, "{\"action\": \"error\", \"api\": \"FindCoordinator\", \"error\": "
                    "\"COORDINATOR_NOT_AVAILABLE\", \"count\": 1}");
  find_coordinator(group, 0, &err);
  assert_int_equal(err, MK_ERR_COORDINATOR_NOT_AVAILABLE);

  /* delay: the answer comes late; drop_response (close): the connection goes. */
  test_broker_fault(broker,
                    "{\"action\": \"delay\", \"api\": \"Heartbeat\", \"ms\": 400, \"count\": 1}");
  int64_t start = now_ms();
  assert_int_equal(heartbeat(&a, 4), 0);
  assert_true(now_ms() - start >= 350);
  test_broker_fault(broker, "{\"action\": \"drop_response\", \"api\": \"Heartbeat\", \"count\": 1, "
                    "\"mode\": \"close\"}");
  assert_int_equal(heartbeat(&a, 4), MK_ERR__TRANSPORT);
  raw_client_close(&a.c);
  /* A topic scope on an API that names no topic is refused when injected. */
  struct mk_err ferr = {0};
  assert_int_equal(mk_broker_fault(broker, "{\"action\": \"error\", \"api\": \"JoinGroup\", "
                                   "\"error\": \"NOT_COORDINATOR\", \"topic\": \"fa\"}", NULL, &ferr),
                   MK_ERR__INVALID_ARG);
}

/* ---- bad input and load ---------------------------------------------------------------------- */

/* Protocol metadata and assignments are bytes the coordinator relays: garbage in them forms a
 * group all the same, and /v1/groups shows what it can. */
static void test_garbage_metadata_is_relayed(void **state) {
  (void)state;
  struct member a;
  memset(&a, 0, sizeof a);
  snprintf(a.group, sizeof a.group, "garbage");
  a.join_version = 3;
  connect_to(&a.c, find_coordinator("garbage", 0, NULL));
  static const uint8_t junk[] = {0xff, 0xff, 0x80, 0, 0, 0, 9, 'x'};
  struct mk_bytes md = {junk, sizeof junk};
  join_send(&a, &md, 10000);
  assert_int_equal(join_receive(&a, 5000), 0);
  struct mk_writer bad;
  mk_writer_init(&bad);
  mk_write_raw(&bad, junk, sizeof junk);
  const char *ids[1] = {a.id};
  assert_int_equal(sync_group(&a, 3, ids, &bad, 1, NULL), 0);
  mk_writer_free(&bad);
  char *json = mk_broker_groups_json(broker);
  assert_non_null(json);
  assert_non_null(strstr(json, "\"group_id\":\"garbage\""));
  assert_non_null(strstr(json, "\"state\":\"Stable\""));
  assert_non_null(strstr(json, "\"assignment\":null"));  /* not a ConsumerProtocolAssignment */
  free(json);
  raw_client_close(&a.c);
}

/* The state of group in /v1/groups (into out), or false if it is not there. */
static bool group_state(const char *group, char *out, size_t len) {
  char *json = mk_broker_groups_json(broker);
  assert_non_null(json);
  char key[96];
  snprintf(key, sizeof key, "\"group_id\":\"%s\"", group);
  const char *g = strstr(json, key), *st = g ? strstr(g, "\"state\":\"") : NULL;
  bool found = st != NULL;
  if (found) {
    st += strlen("\"state\":\"");
    snprintf(out, len, "%.*s", (int)strcspn(st, "\""), st);
  }
  free(json);
  return found;
}

/* A member that never heartbeats is expired after its session; GET /v1/groups shows the
 * group's state, members with decoded assignments, committed offsets and lag. */
static void test_silent_member_expires_and_groups_json(void **state) {
  (void)state;
  test_broker_create_topic(broker, "j", 2, 3, NULL);
  struct member a;
  memset(&a, 0, sizeof a);
  snprintf(a.group, sizeof a.group, "silent");
  a.join_version = 3;
  connect_to(&a.c, find_coordinator("silent", 0, NULL));
  join_send(&a, NULL, 1000);
  assert_int_equal(join_receive(&a, 5000), 0);
  struct mk_writer as = assignment("j", 0, 2);
  const char *ids[1] = {a.id};
  assert_int_equal(sync_group(&a, 3, ids, &as, 1, NULL), 0);
  mk_writer_free(&as);
  assert_int_equal(commit(&a.c, 2, "silent", a.id, 1, "j", 1, 0), 0);
  int64_t last_sign_of_life = now_ms();  /* a commit counts as one */
  struct raw_client p;
  struct mk_partition_state s = test_broker_state(broker, "j", 1);
  connect_to(&p, s.leader);
  struct mk_writer batch;
  mk_writer_init(&batch);
  raw_client_build_batch(&batch, 5, -1, -1, -1);
  assert_non_null(raw_client_produce(&p, "j", 1, -1, &batch, 9, 5000));
  mk_writer_free(&batch);
  raw_client_close(&p);
  char *json = mk_broker_groups_json(broker);
  assert_non_null(json);
  const char *g = strstr(json, "\"group_id\":\"silent\"");
  assert_non_null(g);
  assert_non_null(strstr(g, "\"state\":\"Stable\""));
  assert_non_null(strstr(g, "\"topic\":\"j\",\"partitions\":[0,1]"));
  assert_non_null(strstr(g, "\"committed_offset\":0"));
  assert_non_null(strstr(g, "\"lag\":5"));
  free(json);
  /* 1 s session, nothing sent: expired, the group rebalances and empties. */
  int64_t start = now_ms();
  for (;;) {
    char st[32] = "";
    assert_true(group_state("silent", st, sizeof st));
    if (strcmp(st, "Empty") == 0) break;
    assert_true(now_ms() - start < 5000);
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  assert_true(now_ms() - last_sign_of_life >= 900);
  assert_int_equal(heartbeat(&a, 2), MK_ERR_UNKNOWN_MEMBER_ID);
  raw_client_close(&a.c);
}

/* 200 JoinGroups at once (25 connections of 8 pipelined v3 requests, as many as a
 * connection may have waiting: network.h's MK_CONN_MAX_QUEUED; a ninth would not be read
 * until one is answered, as Kafka reads a connection's next request only after answering
 * the last): one generation of 200 members, every request answered, and another group is
 * served meanwhile. */
static void test_join_storm(void **state) {
  (void)state;
  enum { CONNS = 25, PER_CONN = MK_CONN_MAX_QUEUED };
  const char *group = "storm";
  int32_t coordinator = find_coordinator(group, 0, NULL);
  static struct member conns[CONNS];
  for (int i = 0; i < CONNS; i++) {
    memset(&conns[i], 0, sizeof conns[i]);
    snprintf(conns[i].group, sizeof conns[i].group, "%s", group);
    conns[i].join_version = 3;
    connect_to(&conns[i].c, coordinator);
    for (int j = 0; j < PER_CONN; j++) join_send(&conns[i], NULL, 10000);
  }
  /* meanwhile, a quiet group forms */
  struct member q;
  member_start(&q, "quiet", 5);
  assert_int_equal(join_receive(&q, 5000), 0);
  int leaders = 0;
  for (int i = 0; i < CONNS; i++)
    for (int j = 0; j < PER_CONN; j++) {
      assert_int_equal(join_receive(&conns[i], 10000), 0);
      assert_int_equal(conns[i].generation, 1);
      leaders += conns[i].leader;
    }
  assert_int_equal(leaders, 1);
  for (int i = 0; i < CONNS; i++) raw_client_close(&conns[i].c);
  raw_client_close(&q.c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_find_coordinator_names_the_partition_leader),
      cmocka_unit_test(test_every_join_version_forms_a_group),
      cmocka_unit_test(test_every_offset_version),
      cmocka_unit_test(test_admin_api_versions),
      cmocka_unit_test(test_api_versions_lists_the_group_apis),
      cmocka_unit_test(test_commit_waits_for_the_in_sync_replicas),
      cmocka_unit_test(test_failover_keeps_committed_offsets),
      cmocka_unit_test(test_election_answers_parked_joins),
      cmocka_unit_test(test_reset_forgets_groups),
      cmocka_unit_test(test_faults_reach_the_group_apis),
      cmocka_unit_test(test_garbage_metadata_is_relayed),
      cmocka_unit_test(test_silent_member_expires_and_groups_json),
      cmocka_unit_test(test_join_storm),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
