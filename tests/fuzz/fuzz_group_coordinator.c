/*
 * Fuzz target: the group coordinator's state machine (broker/group_coordinator.c,
 * offset_metadata_manager.c, group_metadata.c, group_metadata_manager.c) driven by a script
 * the input spells out: joins, syncs, heartbeats, leaves, commits, fetches, the admin APIs,
 * time passing, writes acknowledged or failed, and the coordinator losing its partitions and
 * loading them back from what it wrote. Clients send whatever they like, so every field is
 * the fuzzer's: member ids, instance ids, protocols and their metadata, generations,
 * timeouts, API versions. Run it as described in tests/fuzz/README.md.
 *
 * Each step is one opcode byte, then the bytes it reads (all reads past the end give 0).
 * Besides "never crash, never leak", after every step:
 *   - each group's books agree with its members: the member count, how many are awaiting
 *     join, how many owe a SyncGroup, a leader that is a member (none without members), no
 *     members in Empty or Dead;
 *   - no request has been answered twice;
 * and at the end, once the coordinator is freed, every request has been answered once.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/group_coordinator.h"
#include "common/log.h"
#include "protocol/coordinator_records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

/* UBSan findings stop the run, so libFuzzer saves the input (see fuzz_request.c). */
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static void die(const char *what) {
  fprintf(stderr, "fuzz_group_coordinator: %s\n", what);
  abort();
}

/* ---- the input ------------------------------------------------------------------------------ */

static const uint8_t *in;
static size_t in_left;

static uint8_t byte(void) {
  if (!in_left) return 0;
  in_left--;
  return *in++;
}

/* Up to max bytes of the input as a string (may hold any byte). */
static struct mk_str bytes_str(size_t max) {
  size_t n = byte() % (max + 1);
  if (n > in_left) n = in_left;
  struct mk_str s = {(const char *)in, (int32_t)n};
  in += n;
  in_left -= n;
  return s;
}

/* ---- the world ------------------------------------------------------------------------------- */

enum { NPARTS = 3, BROKER = 0, MAX_REQUESTS = 4096, MAX_WRITES = 2048, MAX_IDS = 16 };

static int64_t clock_ms;
static int answered[MAX_REQUESTS];  /* per request: how many answers */
static int nrequests;

struct stored {
  int32_t partition;
  uint8_t *key;
  int32_t key_len;
  uint8_t *value;
  int32_t value_len;
};
static struct stored writes[MAX_WRITES];
static int nwrites;
static struct {
  mk_group_append_done *done;
  void *arg;
} pending[MAX_WRITES];
static int npending;
static int16_t refuse_appends;

/* Member ids the coordinator handed out, for later requests to use. */
static char ids[MAX_IDS][128];
static int nids;

static int64_t fake_now(void *ctx) {
  (void)ctx;
  return clock_ms;
}

static int16_t fake_append(void *ctx, int32_t partition, const struct mk_coordinator_record *recs,
                           int n, mk_group_append_done *done, void *arg) {
  (void)ctx;
  if (refuse_appends) return refuse_appends;
  for (int i = 0; i < n && nwrites < MAX_WRITES; i++) {
    struct mk_writer k, v;
    mk_writer_init(&k);
    mk_writer_init(&v);
    if (mk_coordinator_record_encode(&recs[i], &k, &v, NULL) == 0 && !k.failed && !v.failed) {
      struct stored *s = &writes[nwrites++];
      s->partition = partition;
      s->key = malloc(k.len + 1);
      memcpy(s->key, k.buf, k.len);
      s->key_len = (int32_t)k.len;
      s->value = recs[i].tombstone ? NULL : malloc(v.len + 1);
      if (s->value) memcpy(s->value, v.buf, v.len);
      s->value_len = recs[i].tombstone ? -1 : (int32_t)v.len;
    }
    mk_writer_free(&k);
    mk_writer_free(&v);
  }
  if (done) {
    if (npending == MAX_WRITES) return MK_ERR_REQUEST_TIMED_OUT;
    pending[npending].done = done;
    pending[npending++].arg = arg;
  }
  return 0;
}

static void ack(int16_t error, int max) {
  for (int i = 0; i < max && npending; i++) {
    mk_group_append_done *done = pending[0].done;
    void *arg = pending[0].arg;
    memmove(&pending[0], &pending[1], sizeof pending[0] * (size_t)--npending);
    done(arg, error);
  }
}

/* Each request's callback argument is its number; an answer counts there. */
static void *new_request(void) {
  if (nrequests == MAX_REQUESTS) die("too many requests for the table");
  answered[nrequests] = 0;
  return (void *)(intptr_t)nrequests++;
}

static void answer(void *arg) {
  intptr_t i = (intptr_t)arg;
  if (++answered[i] > 1) die("a request was answered twice");
}

static void on_join(void *arg, const struct mk_join_group_response *r) {
  answer(arg);
  if (r->member_id.len > 0 && r->member_id.len < 128 && nids < MAX_IDS) {
    memcpy(ids[nids], r->member_id.ptr, (size_t)r->member_id.len);
    ids[nids++][r->member_id.len] = '\0';
  }
}

static void on_sync(void *arg, const struct mk_sync_group_response *r) {
  (void)r;
  answer(arg);
}

static void on_commit(void *arg, const int16_t *errors) {
  (void)errors;
  answer(arg);
}

/* ---- the coordinator ------------------------------------------------------------------------- */

static struct mk_group_config cfg;
static struct mk_group_coordinator coord;
static const struct mk_group_runtime rt = {NULL, fake_now, fake_append};

static void load_all(void) {
  for (int32_t p = 0; p < NPARTS; p++) {
    mk_group_load_begin(&coord.mgr, p);
    for (int i = 0; i < nwrites; i++)
      if (writes[i].partition == p)
        mk_group_load_record(&coord.mgr, p, i, (struct mk_bytes){writes[i].key, writes[i].key_len},
                             (struct mk_bytes){writes[i].value, writes[i].value_len});
    mk_group_load_end(&coord.mgr, p);
    mk_group_coordinator_loaded(&coord, p, BROKER, 0);
  }
}

static struct mk_str group_id(void) {
  static const char *const names[] = {"g", "h", "", "other-group"};
  uint8_t b = byte();
  return b < 240 ? mk_str_of(names[b % 4]) : bytes_str(16);
}

static struct mk_str member_id(void) {
  uint8_t b = byte();
  if (b < 64) return (struct mk_str){"", 0};
  if (b < 224 && nids) return mk_str_of(ids[b % nids]);
  return bytes_str(8);
}

static struct mk_str instance_id(void) {
  uint8_t b = byte();
  static const char *const names[] = {"i-1", "i-2"};
  return b < 192 ? MK_STR_NULL : mk_str_of(names[b % 2]);
}

static struct mk_group_context context(int max_version) {
  return (struct mk_group_context){(int16_t)(byte() % (max_version + 1)), BROKER,
                                   mk_str_of("fuzz"), mk_str_of("/127.0.0.1")};
}

static void do_join(void) {
  struct mk_join_group_request_protocol protos[3];
  static const char *const names[] = {"range", "roundrobin", "sticky"};
  struct mk_join_group_request j;
  mk_schema_set_defaults(&mk_join_group_request_schema, &j);
  struct mk_group_context ctx = context(9);
  j.group_id = group_id();
  j.member_id = member_id();
  j.group_instance_id = ctx.api_version >= 5 ? instance_id() : MK_STR_NULL;
  uint8_t t = byte();
  j.session_timeout_ms = t < 8 ? (int32_t)t * 1000 : 6000 + (int32_t)(t % 8) * 1000;
  j.rebalance_timeout_ms = 1000 * (1 + byte() % 20);
  j.protocol_type = byte() < 224 ? mk_str_of("consumer") : bytes_str(4);
  int n = byte() % 4;
  for (int i = 0; i < n; i++) {
    protos[i].name = mk_str_of(names[byte() % 3]);
    struct mk_str md = bytes_str(24);
    protos[i].metadata = (struct mk_bytes){(const uint8_t *)md.ptr, md.len};
  }
  j.protocols = protos;
  j.protocols_count = n;
  mk_group_join(&coord, &ctx, &j, on_join, new_request());
}

static void do_sync(void) {
  struct mk_sync_group_request s;
  mk_schema_set_defaults(&mk_sync_group_request_schema, &s);
  struct mk_group_context ctx = context(5);
  s.group_id = group_id();
  s.member_id = member_id();
  s.group_instance_id = instance_id();
  s.generation_id = byte() % 4;
  struct mk_sync_group_request_assignment as[4];
  int n = byte() % 5;
  for (int i = 0; i < n; i++) {
    as[i].member_id = member_id();
    struct mk_str a = bytes_str(16);
    as[i].assignment = (struct mk_bytes){(const uint8_t *)a.ptr, a.len};
  }
  s.assignments = as;
  s.assignments_count = n;
  mk_group_sync(&coord, &ctx, &s, on_sync, new_request());
}

static void do_heartbeat(void) {
  struct mk_heartbeat_request h;
  mk_schema_set_defaults(&mk_heartbeat_request_schema, &h);
  struct mk_group_context ctx = context(4);
  h.group_id = group_id();
  h.member_id = member_id();
  h.group_instance_id = instance_id();
  h.generation_id = byte() % 4;
  mk_group_heartbeat(&coord, &ctx, &h);
}

static void do_leave(void) {
  struct mk_leave_group_member_identity who[3];
  int n = 1 + byte() % 3;
  for (int i = 0; i < n; i++) {
    mk_schema_set_defaults(&mk_leave_group_member_identity_schema, &who[i]);
    who[i].member_id = member_id();
    who[i].group_instance_id = instance_id();
  }
  int16_t errors[3];
  struct mk_group_context ctx = context(5);
  mk_group_leave(&coord, &ctx, group_id(), who, n, errors);
}

static void do_commit(void) {
  struct mk_offset_commit o[3];
  int n = byte() % 4;
  for (int i = 0; i < n; i++) {
    o[i] = (struct mk_offset_commit){mk_str_of(byte() & 1 ? "t" : "u"), byte() % 3, byte(), -1,
                                     byte() < 250 ? mk_str_of("m") : bytes_str(255),
                                     clock_ms, byte() & 1 ? -1 : clock_ms + 60000};
  }
  struct mk_group_context ctx = context(9);
  struct mk_str g = group_id(), m = member_id(), inst = instance_id();
  int32_t generation = (int32_t)(byte() % 5) - 1;
  mk_group_commit_offsets(&coord, &ctx, g, m, inst, generation, o, n, on_commit, new_request());
}

static void do_admin(void) {
  struct mk_arena arena;
  mk_arena_init(&arena);
  struct mk_group_context ctx = context(9);
  struct mk_str g = group_id();
  switch (byte() % 5) {
    case 0: {
      struct mk_offset_fetch_response_group out;
      int32_t parts[2] = {0, byte() % 3};
      struct mk_offset_fetch_request_topics t = {mk_str_of("t"), parts, 2};
      bool some = byte() & 1;  /* the partitions of "t", or every committed offset */
      mk_group_fetch_offsets(&coord, &ctx, g, byte() & 1, some ? &t : NULL, some ? 1 : -1, &out,
                             &arena);
      break;
    }
    case 1: {
      struct mk_describe_groups_described_group out;
      mk_group_describe(&coord, &ctx, g, &out, &arena);
      break;
    }
    case 2: {
      struct mk_list_groups_response out;
      mk_schema_set_defaults(&mk_list_groups_response_schema, &out);
      struct mk_str states[1] = {mk_str_of("stable")};
      mk_group_list(&coord, &ctx, states, byte() & 1, NULL, 0, &out, &arena);
      break;
    }
    case 3: mk_group_delete(&coord, &ctx, g); break;
    default: {
      struct mk_offset_delete_request_partition p = {byte() % 3};
      struct mk_offset_delete_request_topic t = {mk_str_of("t"), &p, 1};
      int16_t errors[1];
      mk_group_delete_offsets(&coord, &ctx, g, &t, 1, errors);
    }
  }
  mk_arena_free(&arena);
}

/* ---- the checks ------------------------------------------------------------------------------ */

static void check_books(void) {
  for (const struct mk_group *g = coord.mgr.list; g; g = g->next) {
    int n = 0, awaiting = 0, syncs = 0;
    bool leader_found = false;
    for (const struct mk_group_member *m = g->members; m; m = m->next) {
      n++;
      awaiting += mk_member_awaiting_join(m);
      syncs += m->pending_sync;
      leader_found |= m == g->leader;
      if (mk_group_find(g, mk_str_of(m->member_id)) != m) die("a member is not found by its id");
    }
    if (n != g->nmembers) die("member count differs from the list");
    if (awaiting != g->num_awaiting_join) die("awaiting-join count differs");
    if (syncs != g->num_pending_sync) die("pending-sync count differs");
    if (n ? !leader_found : g->leader != NULL) die("the leader is not a member");
    if (n && (g->state == MK_GROUP_EMPTY || g->state == MK_GROUP_DEAD))
      die("members in an Empty or Dead group");
    if (g->bytes < 0) die("negative byte count");
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mk_log_set_level(MK_LOG_ERROR);  /* a rebalance logs a line; thousands a second drown stderr */
  in = data;
  in_left = size;
  clock_ms = 1700000000000;
  nrequests = nwrites = npending = nids = 0;
  refuse_appends = 0;
  mk_group_config_init(&cfg);
  cfg.num_partitions = NPARTS;
  cfg.max_size = 1 + byte() % 8;
  cfg.max_group_bytes = 2048 + 256 * byte();
  cfg.initial_rebalance_delay_ms = 100 * (byte() % 40);
  cfg.offsets_retention_ms = 1000 * (1 + byte());
  cfg.offsets_retention_check_interval_ms = 1000;
  cfg.min_session_timeout_ms = 1000;
  if (mk_group_coordinator_init(&coord, &cfg, &rt)) return 0;
  load_all();
  for (int steps = 0; in_left && steps < 400; steps++) {
    switch (byte() % 12) {
      case 0: case 1: do_join(); break;
      case 2: do_sync(); break;
      case 3: do_heartbeat(); break;
      case 4: do_leave(); break;
      case 5: do_commit(); break;
      case 6: do_admin(); break;
      case 7: clock_ms += 50 * (int64_t)byte(); mk_group_coordinator_poll(&coord); break;
      case 8: {
        static const int16_t errors[] = {0, 0, 0, MK_ERR_NOT_LEADER_OR_FOLLOWER,
                                         MK_ERR_REQUEST_TIMED_OUT, MK_ERR_MESSAGE_TOO_LARGE};
        ack(errors[byte() % 6], 1 + byte() % 4);
        break;
      }
      case 9: refuse_appends = byte() < 200 ? 0 : MK_ERR_NOT_ENOUGH_REPLICAS; break;
      case 10: {  /* the partition moves away and comes back, loaded from the log */
        int32_t p = byte() % NPARTS;
        mk_group_coordinator_unload(&coord, p);
        mk_group_load_begin(&coord.mgr, p);
        for (int i = 0; i < nwrites; i++)
          if (writes[i].partition == p)
            mk_group_load_record(&coord.mgr, p, i, (struct mk_bytes){writes[i].key, writes[i].key_len},
                                 (struct mk_bytes){writes[i].value, writes[i].value_len});
        mk_group_load_end(&coord.mgr, p);
        mk_group_coordinator_loaded(&coord, p, BROKER, 1);
        break;
      }
      default: clock_ms += 1000 * (int64_t)(byte() % 64); mk_group_coordinator_poll(&coord);
    }
    check_books();
  }
  /* The partition is gone: every write still waiting fails (as the runtime's free does),
   * while the coordinator is still there to hear it; nothing new can be written. */
  refuse_appends = MK_ERR_NOT_LEADER_OR_FOLLOWER;
  ack(MK_ERR_NOT_LEADER_OR_FOLLOWER, MAX_WRITES);
  mk_group_coordinator_free(&coord);
  for (int i = 0; i < nrequests; i++)
    if (answered[i] != 1) die("a parked request was never answered");
  for (int i = 0; i < nwrites; i++) {
    free(writes[i].key);
    free(writes[i].value);
  }
  return 0;
}
