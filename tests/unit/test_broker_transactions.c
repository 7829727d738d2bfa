/*
 * Transactions through a running broker (transaction_coordinator_runtime.c, txn_apis.c,
 * init_producer_id.c, produce.c's verification, fetch.c and list_offsets.c's isolation,
 * the group coordinator's staged offsets): raw requests, as a client's TransactionManager
 * sends them, against the embedded broker. The real clients are tests/interop's.
 *
 *   bad input         EndTxn with nothing to end, AddPartitionsToTxn for an unknown topic,
 *                     a timeout above transaction.max.timeout.ms, a control batch from a
 *                     client, a transactional batch without transactional_id or to a
 *                     partition not added, old versions' INVALID_PRODUCER_EPOCH
 *   read_committed    Fetch stops at the LSO while a transaction is open, then returns
 *                     the aborted transactions; read_uncommitted sees everything, no list;
 *                     ListOffsets latest answers the LSO
 *   replication       the LSO waits for the marker to be replicated (a paused follower)
 *   failover          a data partition's new leader rebuilds its aborted index; a
 *                     coordinator that dies between the phases is replaced by one that
 *                     finishes the commit from __transaction_state
 *   offsets           TxnOffsetCommit is staged (require_stable: UNSTABLE_OFFSET_COMMIT)
 *                     and applied by the COMMIT marker, dropped by ABORT
 *   hooks             hold_markers / release_markers, GET /v1/transactions' JSON,
 *                     the timeout abort, a reset
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
#include <jansson.h>

#include "broker/broker.h"
#include "protocol/api.h"
#include "protocol/coordinator_records.h"
#include "protocol/messages/add_offsets_to_txn.h"
#include "protocol/messages/add_partitions_to_txn.h"
#include "protocol/messages/end_txn.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/find_coordinator.h"
#include "protocol/messages/init_producer_id.h"
#include "protocol/messages/list_offsets.h"
#include "protocol/messages/offset_fetch.h"
#include "protocol/messages/produce.h"
#include "protocol/messages/txn_offset_commit.h"
#include "protocol/record_batch.h"
#include "tests/support/raw_client.h"
#include "tests/support/test_broker.h"

static struct mk_broker *broker;

static int setup(void **state) {
  (void)state;
  return test_broker_start(&broker, "transaction.max.timeout.ms", "60000",
                           "transaction.abort.timed.out.transaction.cleanup.interval.ms", "100",
                           "replica.lag.time.max.ms", "30000", NULL);
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

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

/* A fresh connection to broker node (each helper opens its own: decoded answers live in the
 * client until it closes). */
static void connect_to(struct raw_client *c, int32_t node) {
  assert_int_equal(raw_client_connect(c, mk_broker_port(broker, node)), 0);
}

/* ---- the transaction APIs by hand ---------------------------------------------------------------- */

/* A connection to whichever broker is up. */
static void connect_any(struct raw_client *c) {
  for (int32_t node = 0; node < mk_broker_count(broker); node++)
    if (raw_client_connect(c, mk_broker_port(broker, node)) == 0) return;
  fail_msg("no broker is up");
}

/* The transaction coordinator of id (FindCoordinator key type 1, v3). */
static int32_t coordinator_of(const char *id) {
  struct raw_client c;
  connect_any(&c);
  struct mk_find_coordinator_request req;
  mk_schema_set_defaults(&mk_find_coordinator_request_schema, &req);
  req.key = mk_str_of(id);
  req.key_type = 1;
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_FIND_COORDINATOR, 3, &req, &resp, 5000), 0);
  struct mk_find_coordinator_response *r = resp;
  assert_int_equal(r->error_code, 0);
  int32_t node = r->node_id;
  raw_client_close(&c);
  return node;
}

struct producer {
  const char *id;
  int32_t coordinator;
  int64_t pid;
  int16_t epoch;
  int32_t seq[8];  /* the next sequence per partition of the test's topic */
};

static int16_t init_pid_v(struct producer *p, int32_t timeout, int version) {
  struct raw_client c;
  connect_to(&c, p->coordinator);
  struct mk_init_producer_id_request req;
  mk_schema_set_defaults(&mk_init_producer_id_request_schema, &req);
  req.transactional_id = mk_str_of(p->id);
  req.transaction_timeout_ms = timeout;
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_INIT_PRODUCER_ID, version, &req, &resp, 5000), 0);
  struct mk_init_producer_id_response *r = resp;
  int16_t error = r->error_code;
  if (!error) {
    p->pid = r->producer_id;
    p->epoch = r->producer_epoch;
    memset(p->seq, 0, sizeof p->seq);
  }
  raw_client_close(&c);
  return error;
}

/* InitProducerId until it stops answering CONCURRENT_TRANSACTIONS (a fence in progress). */
static int16_t init_pid(struct producer *p, int32_t timeout) {
  int16_t error;
  for (int i = 0; i < 100; i++) {
    if ((error = init_pid_v(p, timeout, 4)) != MK_ERR_CONCURRENT_TRANSACTIONS) return error;
    sleep_ms(20);
  }
  return error;
}

static struct producer new_producer(const char *id, int32_t timeout) {
  struct producer p = {.id = id, .coordinator = coordinator_of(id)};
  assert_int_equal(init_pid(&p, timeout), 0);
  return p;
}

/* AddPartitionsToTxn v3 for topic's partitions[0..n); errors[i] gets each one's. Returns the
 * first non-zero error, or 0. */
static int16_t add_partitions(struct producer *p, const char *topic, const int32_t *partitions,
                              int n, int16_t *errors) {
  struct raw_client c;
  connect_to(&c, p->coordinator);
  struct mk_add_partitions_to_txn_topic t = {mk_str_of(topic), (int32_t *)partitions, n};
  struct mk_add_partitions_to_txn_request req;
  mk_schema_set_defaults(&mk_add_partitions_to_txn_request_schema, &req);
  req.v3_and_below_transactional_id = mk_str_of(p->id);
  req.v3_and_below_producer_id = p->pid;
  req.v3_and_below_producer_epoch = p->epoch;
  req.v3_and_below_topics = &t;
  req.v3_and_below_topics_count = 1;
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_ADD_PARTITIONS_TO_TXN, 3, &req, &resp, 5000), 0);
  struct mk_add_partitions_to_txn_response *r = resp;
  int16_t first = 0;
  assert_int_equal(r->results_by_topic_v3_and_below_count, 1);
  assert_int_equal(r->results_by_topic_v3_and_below[0].results_by_partition_count, n);
  for (int i = 0; i < n; i++) {
    int16_t e = r->results_by_topic_v3_and_below[0].results_by_partition[i].partition_error_code;
    if (errors) errors[i] = e;
    if (e && !first) first = e;
  }
  raw_client_close(&c);
  return first;
}

static int16_t add_one(struct producer *p, const char *topic, int32_t partition) {
  return add_partitions(p, topic, &partition, 1, NULL);
}

static int16_t end_txn_v(struct producer *p, bool commit, int version) {
  struct raw_client c;
  connect_to(&c, p->coordinator);
  struct mk_end_txn_request req;
  mk_schema_set_defaults(&mk_end_txn_request_schema, &req);
  req.transactional_id = mk_str_of(p->id);
  req.producer_id = p->pid;
  req.producer_epoch = p->epoch;
  req.committed = commit;
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_END_TXN, version, &req, &resp, 5000), 0);
  int16_t error = ((struct mk_end_txn_response *)resp)->error_code;
  raw_client_close(&c);
  return error;
}

static int16_t end_txn(struct producer *p, bool commit) { return end_txn_v(p, commit, 3); }

/* One batch of n records ("r0".."rN") of p's transaction (or not: transactional false) to
 * topic/partition's leader, acks; *base_offset gets its offset. Returns the partition's error. */
static int16_t produce(struct producer *p, const char *topic, int32_t partition, int n,
                       bool transactional, int16_t acks, int64_t *base_offset) {
  struct mk_record_batch_builder bb;
  mk_record_batch_builder_init(&bb);
  bb.producer_id = p->pid;
  bb.producer_epoch = p->epoch;
  bb.base_sequence = p->seq[partition];
  if (transactional) bb.attributes = MK_ATTR_TRANSACTIONAL;
  for (int i = 0; i < n; i++) {
    char v[16];
    int len = snprintf(v, sizeof v, "r%d", i);
    assert_int_equal(mk_record_batch_builder_append(&bb, 1700000000000 + i, MK_BYTES_NULL,
                                                    (struct mk_bytes){(const uint8_t *)v, len},
                                                    NULL, 0), 0);
  }
  struct mk_writer w;
  mk_writer_init(&w);
  struct mk_err err = {0};
  assert_int_equal(mk_record_batch_builder_finish(&bb, &w, &err), 0);
  mk_record_batch_builder_free(&bb);
  struct raw_client c;
  connect_to(&c, test_broker_state(broker, topic, partition).leader);
  struct mk_produce_partition_produce_data part = {partition, {w.buf, (int32_t)w.len}};
  struct mk_produce_topic_produce_data td = {mk_str_of(topic), &part, 1};
  struct mk_produce_request req;
  mk_schema_set_defaults(&mk_produce_request_schema, &req);
  req.transactional_id = transactional ? mk_str_of(p->id) : MK_STR_NULL;
  req.acks = acks;
  req.timeout_ms = 5000;
  req.topic_data = &td;
  req.topic_data_count = 1;
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_PRODUCE, 9, &req, &resp, 8000), 0);
  struct mk_produce_partition_produce_response *r =
      &((struct mk_produce_response *)resp)->responses[0].partition_responses[0];
  int16_t error = r->error_code;
  if (!error) {
    p->seq[partition] += n;
    if (base_offset) *base_offset = r->base_offset;
  }
  raw_client_close(&c);
  mk_writer_free(&w);
  return error;
}

/* ---- reading ----------------------------------------------------------------------------------- */

struct fetched {
  int16_t error;
  int64_t high_watermark;
  int64_t last_stable_offset;
  int records;           /* data records (control batches skipped) */
  int markers;           /* control batches */
  int64_t next_offset;   /* after the last batch */
  int32_t aborted;       /* the aborted list's length, -1 for null */
  int64_t aborted_pid[8], aborted_first[8];
};

static struct fetched fetch(const char *topic, int32_t partition, int64_t offset, bool committed) {
  struct raw_client c;
  connect_to(&c, test_broker_state(broker, topic, partition).leader);
  struct mk_fetch_partition fp;
  mk_schema_set_defaults(&mk_fetch_partition_schema, &fp);
  fp.partition = partition;
  fp.fetch_offset = offset;
  fp.partition_max_bytes = 1 << 20;
  struct mk_fetch_topic ft;
  mk_schema_set_defaults(&mk_fetch_topic_schema, &ft);
  ft.topic = mk_str_of(topic);
  ft.partitions = &fp;
  ft.partitions_count = 1;
  struct mk_fetch_request req;
  mk_schema_set_defaults(&mk_fetch_request_schema, &req);
  req.max_wait_ms = 0;
  req.max_bytes = 1 << 20;
  req.isolation_level = committed ? 1 : 0;
  req.topics = &ft;
  req.topics_count = 1;
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_FETCH, 11, &req, &resp, 5000), 0);
  struct mk_fetch_partition_data *d = &((struct mk_fetch_response *)resp)->responses[0].partitions[0];
  struct fetched f = {d->error_code, d->high_watermark, d->last_stable_offset, 0, 0, offset,
                      d->aborted_transactions_count, {0}, {0}};
  for (int i = 0; i < d->aborted_transactions_count && i < 8; i++) {
    f.aborted_pid[i] = d->aborted_transactions[i].producer_id;
    f.aborted_first[i] = d->aborted_transactions[i].first_offset;
  }
  size_t at = 0;
  while (at < (size_t)d->records.len) {
    struct mk_record_batch b;
    assert_int_equal(mk_record_batch_parse(d->records.ptr + at, (size_t)d->records.len - at, &b, NULL), 0);
    assert_int_equal(mk_record_batch_validate(&b, 1 << 20, NULL), 0);  /* CRC included */
    if (b.attributes & MK_ATTR_CONTROL) f.markers++;
    else f.records += b.records_count;
    f.next_offset = b.base_offset + b.last_offset_delta + 1;
    at += b.size;
  }
  raw_client_close(&c);
  return f;
}

static int64_t list_latest(const char *topic, int32_t partition, bool committed) {
  struct raw_client c;
  connect_to(&c, test_broker_state(broker, topic, partition).leader);
  struct mk_list_offsets_partition part;
  mk_schema_set_defaults(&mk_list_offsets_partition_schema, &part);
  part.partition_index = partition;
  part.timestamp = -1;
  struct mk_list_offsets_topic t = {mk_str_of(topic), &part, 1};
  struct mk_list_offsets_request req;
  mk_schema_set_defaults(&mk_list_offsets_request_schema, &req);
  req.isolation_level = committed ? 1 : 0;
  req.topics = &t;
  req.topics_count = 1;
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_LIST_OFFSETS, 7, &req, &resp, 5000), 0);
  struct mk_list_offsets_partition_response *r = &((struct mk_list_offsets_response *)resp)->topics[0].partitions[0];
  assert_int_equal(r->error_code, 0);
  int64_t offset = r->offset;
  raw_client_close(&c);
  return offset;
}

/* A partition's field in GET /v1/cluster (last_stable_offset, high_watermark, ...). */
static int64_t cluster_field(const char *topic, int32_t partition, const char *field) {
  char *text = mk_broker_cluster_json(broker);
  assert_non_null(text);
  json_t *root = json_loads(text, 0, NULL);
  free(text);
  assert_non_null(root);
  int64_t v = INT64_MIN;
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(root, "topics"), i, t) {
    if (strcmp(json_string_value(json_object_get(t, "name")), topic) != 0) continue;
    json_t *p = json_array_get(json_object_get(t, "partitions"), (size_t)partition);
    v = json_integer_value(json_object_get(p, field));
  }
  json_decref(root);
  assert_true(v != INT64_MIN);
  return v;
}

static int64_t lso_of(const char *topic, int32_t partition) {
  return cluster_field(topic, partition, "last_stable_offset");
}

/* Until GET /v1/cluster's LSO of the partition is `want` (fails after 5 s). */
static void wait_lso(const char *topic, int32_t partition, int64_t want) {
  int64_t deadline = now_ms() + 5000, lso = -1;
  while ((lso = lso_of(topic, partition)) != want && now_ms() < deadline) sleep_ms(10);
  if (lso != want) fail_msg("%s-%d: LSO %lld, expected %lld", topic, partition, (long long)lso,
                            (long long)want);
}

/* id's entry in GET /v1/transactions (a new reference), or NULL. */
static json_t *transaction_json(const char *id) {
  char *text = mk_broker_transactions_json(broker);
  assert_non_null(text);
  json_t *root = json_loads(text, 0, NULL);
  free(text);
  assert_non_null(root);
  json_t *found = NULL, *t;
  size_t i;
  json_array_foreach(json_object_get(root, "transactions"), i, t) {
    if (strcmp(json_string_value(json_object_get(t, "transactional_id")), id) == 0)
      found = json_incref(t);
  }
  json_decref(root);
  return found;
}

static const char *state_of(const char *id) {
  static char s[32];
  json_t *t = transaction_json(id);
  snprintf(s, sizeof s, "%s", t ? json_string_value(json_object_get(t, "state")) : "(none)");
  json_decref(t);
  return s;
}

static void wait_state(const char *id, const char *want) {
  int64_t deadline = now_ms() + 5000;
  while (strcmp(state_of(id), want) != 0 && now_ms() < deadline) sleep_ms(10);
  if (strcmp(state_of(id), want) != 0) fail_msg("%s: state %s, expected %s", id, state_of(id), want);
}

/* ---- bad input ----------------------------------------------------------------------------------- */

static void test_bad_input_is_refused_with_kafkas_errors(void **state) {
  (void)state;
  test_broker_create_topic(broker, "bad", 2, 3, NULL);
  /* A timeout above transaction.max.timeout.ms (60000 here). */
  struct producer p = {.id = "bad-1", .coordinator = coordinator_of("bad-1")};
  assert_int_equal(init_pid(&p, 60001), MK_ERR_INVALID_TRANSACTION_TIMEOUT);
  assert_int_equal(init_pid(&p, 30000), 0);
  assert_int_equal(p.epoch, 0);
  /* EndTxn with no transaction. */
  assert_int_equal(end_txn(&p, true), MK_ERR_INVALID_TXN_STATE);
  assert_int_equal(end_txn(&p, false), MK_ERR_INVALID_TXN_STATE);
  /* AddPartitionsToTxn naming an unknown topic: nothing added, the known one not attempted. */
  int32_t parts[2] = {0, 1};
  int16_t errors[2];
  assert_int_equal(add_partitions(&p, "no-such-topic", parts, 1, errors),
                   MK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
  assert_int_equal(add_partitions(&p, "bad", (int32_t[]){0, 7}, 2, errors),
                   MK_ERR_OPERATION_NOT_ATTEMPTED);
  assert_int_equal(errors[0], MK_ERR_OPERATION_NOT_ATTEMPTED);
  assert_int_equal(errors[1], MK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
  assert_string_equal(state_of("bad-1"), "Empty");
  /* A transactional batch to a partition never added (KIP-890 verification). */
  assert_int_equal(produce(&p, "bad", 0, 1, true, -1, NULL), MK_ERR_INVALID_TXN_STATE);
  /* A control batch (a COMMIT marker) from a client, with or without a transactional id. */
  struct mk_writer marker;
  mk_writer_init(&marker);
  struct mk_err err = {0};
  assert_int_equal(mk_record_batch_write_control(&marker, p.pid, p.epoch, MK_CONTROL_COMMIT, 0,
                                                 1700000000000, &err), 0);
  int32_t leader = test_broker_state(broker, "bad", 0).leader;
  for (int with_id = 0; with_id < 2; with_id++) {
    struct raw_client c;
    connect_to(&c, leader);
    struct mk_produce_partition_produce_data part = {0, {marker.buf, (int32_t)marker.len}};
    struct mk_produce_topic_produce_data td = {mk_str_of("bad"), &part, 1};
    struct mk_produce_request req;
    mk_schema_set_defaults(&mk_produce_request_schema, &req);
    req.transactional_id = with_id ? mk_str_of(p.id) : MK_STR_NULL;
    req.acks = -1;
    req.timeout_ms = 5000;
    req.topic_data = &td;
    req.topic_data_count = 1;
    void *resp;
    assert_int_equal(raw_client_call(&c, MK_API_PRODUCE, 9, &req, &resp, 5000), 0);
    struct mk_produce_partition_produce_response *r =
        &((struct mk_produce_response *)resp)->responses[0].partition_responses[0];
    assert_int_equal(r->error_code, MK_ERR_INVALID_RECORD);
    assert_non_null(strstr(r->error_message.ptr, "control records"));
    raw_client_close(&c);
  }
  mk_writer_free(&marker);
  assert_int_equal(test_broker_state(broker, "bad", 0).replicas[0].log_end_offset, 0);

  /* InitProducerId v3+ with a producer id but no epoch. */
  {
    struct raw_client c;
    connect_to(&c, p.coordinator);
    struct mk_init_producer_id_request req;
    mk_schema_set_defaults(&mk_init_producer_id_request_schema, &req);
    req.transactional_id = mk_str_of(p.id);
    req.transaction_timeout_ms = 1000;
    req.producer_id = p.pid;
    req.producer_epoch = -1;
    void *resp;
    assert_int_equal(raw_client_call(&c, MK_API_INIT_PRODUCER_ID, 3, &req, &resp, 5000), 0);
    assert_int_equal(((struct mk_init_producer_id_response *)resp)->error_code,
                     MK_ERR_INVALID_REQUEST);
    raw_client_close(&c);
  }
  /* The wrong broker for the id. */
  struct producer elsewhere = p;
  elsewhere.coordinator = (p.coordinator + 1) % 3;
  assert_int_equal(end_txn(&elsewhere, true), MK_ERR_NOT_COORDINATOR);
  assert_int_equal(add_one(&elsewhere, "bad", 0), MK_ERR_NOT_COORDINATOR);
  /* A fenced producer: PRODUCER_FENCED from v2, INVALID_PRODUCER_EPOCH before. */
  struct producer old = p;
  struct producer newer = new_producer("bad-1", 30000);
  assert_int_equal(newer.epoch, 1);
  assert_int_equal(end_txn_v(&old, true, 3), MK_ERR_PRODUCER_FENCED);
  assert_int_equal(end_txn_v(&old, true, 1), MK_ERR_INVALID_PRODUCER_EPOCH);
  assert_int_equal(add_one(&old, "bad", 0), MK_ERR_PRODUCER_FENCED);
  assert_int_equal(init_pid_v(&old, 1000, 5) , 0);  /* no expected epoch: a new start, allowed */
}

/* A produce request with transactional batches must carry its transactional_id. */
static void test_transactional_batch_without_transactional_id(void **state) {
  (void)state;
  test_broker_create_topic(broker, "noid", 1, 3, NULL);
  struct producer p = new_producer("noid-1", 30000);
  assert_int_equal(add_one(&p, "noid", 0), 0);
  const char *id = p.id;
  struct mk_record_batch_builder bb;
  mk_record_batch_builder_init(&bb);
  bb.producer_id = p.pid;
  bb.producer_epoch = p.epoch;
  bb.base_sequence = 0;
  bb.attributes = MK_ATTR_TRANSACTIONAL;
  assert_int_equal(mk_record_batch_builder_append(&bb, 1, MK_BYTES_NULL, MK_BYTES_NULL, NULL, 0), 0);
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_record_batch_builder_finish(&bb, &w, NULL), 0);
  mk_record_batch_builder_free(&bb);
  struct raw_client c;
  connect_to(&c, test_broker_state(broker, "noid", 0).leader);
  struct mk_produce_partition_produce_response *r = raw_client_produce(&c, "noid", 0, -1, &w, 9, 5000);
  assert_non_null(r);
  assert_int_equal(r->error_code, MK_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  raw_client_close(&c);
  mk_writer_free(&w);
  (void)id;
  /* With the id it goes in. */
  assert_int_equal(produce(&p, "noid", 0, 1, true, -1, NULL), 0);
  assert_int_equal(end_txn(&p, true), 0);
}

/* ---- read_committed ------------------------------------------------------------------------------ */

static void test_read_committed_stops_at_the_lso_and_gets_the_aborted_list(void **state) {
  (void)state;
  test_broker_create_topic(broker, "rc", 1, 3, NULL);
  struct producer plain = {.id = "plain"};
  plain.pid = -1;
  plain.epoch = -1;
  struct producer p = new_producer("rc-1", 30000);
  assert_int_equal(produce(&plain, "rc", 0, 2, false, -1, NULL), 0);  /* 0..1 */
  assert_int_equal(add_one(&p, "rc", 0), 0);
  int64_t first;
  assert_int_equal(produce(&p, "rc", 0, 3, true, -1, &first), 0);     /* 2..4 */
  assert_int_equal(first, 2);
  assert_int_equal(produce(&plain, "rc", 0, 1, false, -1, NULL), 0);  /* 5 */
  json_t *t = transaction_json("rc-1");
  assert_non_null(t);
  assert_string_equal(json_string_value(json_object_get(t, "state")), "Ongoing");
  assert_string_equal(json_string_value(json_array_get(json_object_get(t, "partitions"), 0)), "rc-0");
  assert_int_equal(json_integer_value(json_object_get(t, "timeout_ms")), 30000);
  assert_true(json_integer_value(json_object_get(t, "age_ms")) >= 0);
  json_decref(t);

  assert_int_equal(lso_of("rc", 0), 2);
  struct fetched f = fetch("rc", 0, 0, true);
  assert_int_equal(f.error, 0);
  assert_int_equal(f.high_watermark, 6);
  assert_int_equal(f.last_stable_offset, 2);
  assert_int_equal(f.records, 2);  /* only what lies below the LSO */
  assert_int_equal(f.aborted, 0);  /* a list, empty */
  f = fetch("rc", 0, 0, false);
  assert_int_equal(f.records, 6);
  assert_int_equal(f.last_stable_offset, 2);
  assert_int_equal(f.aborted, -1);  /* read_uncommitted: no list at all */
  assert_int_equal(list_latest("rc", 0, true), 2);
  assert_int_equal(list_latest("rc", 0, false), 6);
  /* GET /v1/producers shows what holds it. */
  char *text = mk_broker_producers_json(broker);
  assert_non_null(strstr(text, "\"current_txn_first_offset\":2"));
  free(text);

  assert_int_equal(end_txn(&p, false), 0);  /* abort */
  wait_state("rc-1", "CompleteAbort");
  wait_lso("rc", 0, 7);  /* marker at 6, replicated */
  f = fetch("rc", 0, 0, true);
  assert_int_equal(f.records, 6);  /* everything; the consumer drops producer rc-1's */
  assert_int_equal(f.markers, 1);
  assert_int_equal(f.aborted, 1);
  assert_int_equal(f.aborted_pid[0], p.pid);
  assert_int_equal(f.aborted_first[0], 2);
  /* A fetch that starts after the aborted transaction's marker needs no list. */
  f = fetch("rc", 0, 7, true);
  assert_int_equal(f.aborted, 0);
  assert_int_equal(list_latest("rc", 0, true), 7);

  /* A committed transaction: in the log, not in the list. */
  assert_int_equal(add_one(&p, "rc", 0), 0);
  assert_int_equal(produce(&p, "rc", 0, 2, true, -1, NULL), 0);  /* 7..8 */
  assert_int_equal(end_txn(&p, true), 0);
  wait_state("rc-1", "CompleteCommit");
  wait_lso("rc", 0, 10);
  f = fetch("rc", 0, 7, true);
  assert_int_equal(f.records, 2);
  assert_int_equal(f.aborted, 0);
}

/* The marker counts only once replicated: with a follower paused in the ISR, the HW and with
 * it the LSO stay below the marker; resumed, both move past it. */
static void test_lso_waits_for_the_marker_to_be_replicated(void **state) {
  (void)state;
  test_broker_create_topic(broker, "repl", 1, 3, NULL);
  struct producer p = new_producer("repl-1", 30000);
  assert_int_equal(add_one(&p, "repl", 0), 0);
  assert_int_equal(produce(&p, "repl", 0, 4, true, -1, NULL), 0);  /* 0..3, replicated */
  struct mk_partition_state s = test_broker_state(broker, "repl", 0);
  int32_t follower = s.followers[0];
  test_broker_fault(broker, "{\"action\":\"follower_pause\",\"topic\":\"repl\",\"partition\":0,"
                            "\"broker\":%d}", follower);
  assert_int_equal(end_txn(&p, true), 0);  /* phase one: answered */
  sleep_ms(300);
  s = test_broker_state(broker, "repl", 0);
  for (int i = 0; i < s.nreplicas; i++)  /* the leader has the marker, at offset 4 */
    if (s.replicas[i].broker == s.leader) assert_int_equal(s.replicas[i].log_end_offset, 5);
  assert_int_equal(lso_of("repl", 0), 0);  /* but the HW is at 4: no follower has it */
  assert_int_equal(cluster_field("repl", 0, "high_watermark"), 4);
  assert_string_equal(state_of("repl-1"), "PrepareCommit");  /* waiting for the marker */
  assert_int_equal(fetch("repl", 0, 0, true).records, 0);
  test_broker_fault(broker, "{\"action\":\"follower_resume\",\"topic\":\"repl\",\"partition\":0,"
                            "\"broker\":%d}", follower);
  wait_lso("repl", 0, 5);
  wait_state("repl-1", "CompleteCommit");
  assert_int_equal(fetch("repl", 0, 0, true).records, 4);
}

/* A data partition changes leader after an abort: the new leader's aborted index, rebuilt
 * from its log, gives read_committed consumers the same list. */
static void test_new_leader_rebuilds_the_aborted_index(void **state) {
  (void)state;
  test_broker_create_topic(broker, "moved", 1, 3, NULL);
  struct producer p = new_producer("moved-1", 30000);
  assert_int_equal(add_one(&p, "moved", 0), 0);
  assert_int_equal(produce(&p, "moved", 0, 3, true, -1, NULL), 0);
  assert_int_equal(end_txn(&p, false), 0);
  wait_lso("moved", 0, 4);
  struct mk_partition_state s = test_broker_state(broker, "moved", 0);
  test_broker_fault(broker, "{\"action\":\"elect_leader\",\"topic\":\"moved\",\"partition\":0,"
                            "\"broker\":%d}", s.followers[0]);
  assert_int_equal(test_broker_state(broker, "moved", 0).leader, s.followers[0]);
  wait_lso("moved", 0, 4);
  struct fetched f = fetch("moved", 0, 0, true);
  assert_int_equal(f.error, 0);
  assert_int_equal(f.aborted, 1);
  assert_int_equal(f.aborted_pid[0], p.pid);
  assert_int_equal(f.aborted_first[0], 0);
  assert_int_equal(f.records, 3);
}

/* ---- the coordinator fails over ------------------------------------------------------------------- */

/* Held between the phases (hold_markers), the coordinator's broker goes down: the new leader
 * of the id's __transaction_state partition loads PrepareCommit and finishes the commit. */
static void test_new_coordinator_completes_a_prepared_commit(void **state) {
  (void)state;
  test_broker_create_topic(broker, "fo", 2, 3, NULL);
  struct producer p = new_producer("fo-1", 30000);
  int32_t parts[2] = {0, 1};
  assert_int_equal(add_partitions(&p, "fo", parts, 2, NULL), 0);
  assert_int_equal(produce(&p, "fo", 0, 2, true, -1, NULL), 0);
  assert_int_equal(produce(&p, "fo", 1, 2, true, -1, NULL), 0);
  test_broker_fault(broker, "{\"action\":\"hold_markers\",\"count\":1}");
  assert_int_equal(end_txn(&p, true), 0);
  sleep_ms(200);
  json_t *t = transaction_json("fo-1");
  assert_string_equal(json_string_value(json_object_get(t, "state")), "PrepareCommit");
  assert_true(json_is_true(json_object_get(t, "markers_held")));
  assert_int_equal(json_array_size(json_object_get(t, "markers_pending")), 2);
  json_decref(t);
  assert_int_equal(lso_of("fo", 0), 0);  /* read_committed consumers wait at the LSO */
  assert_int_equal(fetch("fo", 0, 0, true).records, 0);
  assert_int_equal(fetch("fo", 0, 0, false).records, 2);  /* read_uncommitted do not */

  int32_t old = p.coordinator;
  test_broker_fault(broker, "{\"action\":\"broker_down\",\"broker\":%d}", old);
  int32_t now = coordinator_of("fo-1");
  assert_true(now != old);
  wait_state("fo-1", "CompleteCommit");
  t = transaction_json("fo-1");
  assert_int_equal(json_integer_value(json_object_get(t, "coordinator")), now);
  json_decref(t);
  for (int32_t i = 0; i < 2; i++) {
    wait_lso("fo", i, 3);
    assert_int_equal(fetch("fo", i, 0, true).records, 2);
  }
  /* The producer carries on with the new coordinator. */
  p.coordinator = now;
  assert_int_equal(add_one(&p, "fo", 0), 0);
  assert_int_equal(end_txn(&p, false), 0);
  wait_state("fo-1", "CompleteAbort");
  test_broker_fault(broker, "{\"action\":\"broker_up\",\"broker\":%d}", old);
}

/* hold_markers for a time, and release_markers. */
static void test_hold_markers_for_ms_and_release(void **state) {
  (void)state;
  test_broker_create_topic(broker, "hold", 1, 3, NULL);
  struct producer p = new_producer("hold-1", 30000);
  assert_int_equal(add_one(&p, "hold", 0), 0);
  assert_int_equal(produce(&p, "hold", 0, 1, true, -1, NULL), 0);
  test_broker_fault(broker, "{\"action\":\"hold_markers\",\"ms\":600}");
  int64_t t0 = now_ms();
  assert_int_equal(end_txn(&p, true), 0);
  wait_state("hold-1", "CompleteCommit");
  assert_true(now_ms() - t0 >= 550);
  /* Until released: the next one stays. */
  test_broker_fault(broker, "{\"action\":\"hold_markers\"}");
  assert_int_equal(add_one(&p, "hold", 0), 0);
  assert_int_equal(produce(&p, "hold", 0, 1, true, -1, NULL), 0);
  assert_int_equal(end_txn(&p, false), 0);
  sleep_ms(300);
  assert_string_equal(state_of("hold-1"), "PrepareAbort");
  assert_int_equal(end_txn(&p, false), MK_ERR_CONCURRENT_TRANSACTIONS);  /* a retry waits */
  test_broker_fault(broker, "{\"action\":\"release_markers\"}");
  wait_state("hold-1", "CompleteAbort");
  assert_int_equal(end_txn(&p, false), 0);  /* the same retry, now answered as the first */
  struct mk_err err = {0};
  assert_int_not_equal(mk_broker_fault(broker, "{\"action\":\"hold_markers\",\"topic\":\"hold\"}",
                                       NULL, &err), 0);
  assert_non_null(strstr(err.msg, "\"ms\" and \"count\" only"));
}

/* ---- timeouts ---------------------------------------------------------------------------------------- */

static void test_timed_out_transaction_is_aborted_and_its_producer_fenced(void **state) {
  (void)state;
  test_broker_create_topic(broker, "slow", 1, 3, NULL);
  struct producer p = new_producer("slow-1", 500);
  assert_int_equal(add_one(&p, "slow", 0), 0);
  assert_int_equal(produce(&p, "slow", 0, 2, true, -1, NULL), 0);
  wait_state("slow-1", "CompleteAbort");
  json_t *t = transaction_json("slow-1");
  assert_int_equal(json_integer_value(json_object_get(t, "epoch")), 1);  /* fenced */
  json_decref(t);
  wait_lso("slow", 0, 3);
  assert_int_equal(fetch("slow", 0, 0, true).aborted, 1);
  /* The producer that let it expire: fenced at the coordinator and at the partition. */
  assert_int_equal(end_txn(&p, true), MK_ERR_PRODUCER_FENCED);
  int16_t e = produce(&p, "slow", 0, 1, true, -1, NULL);
  assert_true(e == MK_ERR_PRODUCER_FENCED || e == MK_ERR_INVALID_PRODUCER_EPOCH);
}

/* ---- TxnOffsetCommit ------------------------------------------------------------------------------------ */

static int16_t add_offsets(struct producer *p, const char *group) {
  struct raw_client c;
  connect_to(&c, p->coordinator);
  struct mk_add_offsets_to_txn_request req;
  mk_schema_set_defaults(&mk_add_offsets_to_txn_request_schema, &req);
  req.transactional_id = mk_str_of(p->id);
  req.producer_id = p->pid;
  req.producer_epoch = p->epoch;
  req.group_id = mk_str_of(group);
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_ADD_OFFSETS_TO_TXN, 3, &req, &resp, 5000), 0);
  int16_t error = ((struct mk_add_offsets_to_txn_response *)resp)->error_code;
  raw_client_close(&c);
  return error;
}

static int32_t group_coordinator(const char *group) {
  struct raw_client c;
  connect_any(&c);
  struct mk_find_coordinator_request req;
  mk_schema_set_defaults(&mk_find_coordinator_request_schema, &req);
  req.key = mk_str_of(group);
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_FIND_COORDINATOR, 3, &req, &resp, 5000), 0);
  int32_t node = ((struct mk_find_coordinator_response *)resp)->node_id;
  raw_client_close(&c);
  return node;
}

static int16_t txn_commit_offset(struct producer *p, const char *group, const char *topic,
                                 int64_t offset) {
  struct raw_client c;
  connect_to(&c, group_coordinator(group));
  struct mk_txn_offset_commit_request_partition part;
  mk_schema_set_defaults(&mk_txn_offset_commit_request_partition_schema, &part);
  part.partition_index = 0;
  part.committed_offset = offset;
  struct mk_txn_offset_commit_request_topic t = {mk_str_of(topic), &part, 1};
  struct mk_txn_offset_commit_request req;
  mk_schema_set_defaults(&mk_txn_offset_commit_request_schema, &req);
  req.transactional_id = mk_str_of(p->id);
  req.group_id = mk_str_of(group);
  req.producer_id = p->pid;
  req.producer_epoch = p->epoch;
  req.topics = &t;
  req.topics_count = 1;
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_TXN_OFFSET_COMMIT, 3, &req, &resp, 5000), 0);
  int16_t error = ((struct mk_txn_offset_commit_response *)resp)->topics[0].partitions[0].error_code;
  raw_client_close(&c);
  return error;
}

/* OffsetFetch v7 of group's topic-0: the offset, or -(error) when the partition errs. */
static int64_t fetch_offset(const char *group, const char *topic, bool require_stable) {
  struct raw_client c;
  connect_to(&c, group_coordinator(group));
  int32_t index = 0;
  struct mk_offset_fetch_request_topic t = {mk_str_of(topic), &index, 1};
  struct mk_offset_fetch_request req;
  mk_schema_set_defaults(&mk_offset_fetch_request_schema, &req);
  req.group_id = mk_str_of(group);
  req.topics = &t;
  req.topics_count = 1;
  req.require_stable = require_stable;
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_OFFSET_FETCH, 7, &req, &resp, 5000), 0);
  struct mk_offset_fetch_response *r = resp;
  assert_int_equal(r->error_code, 0);
  struct mk_offset_fetch_response_partition *pr = &r->topics[0].partitions[0];
  int64_t v = pr->error_code ? -(int64_t)pr->error_code : pr->committed_offset;
  raw_client_close(&c);
  return v;
}

static void test_txn_offsets_are_staged_until_the_commit_marker(void **state) {
  (void)state;
  test_broker_create_topic(broker, "in", 1, 3, NULL);
  struct producer p = new_producer("ctp-1", 30000);
  assert_int_equal(add_offsets(&p, "ctp-group"), 0);
  json_t *t = transaction_json("ctp-1");
  char expect[64];
  snprintf(expect, sizeof expect, "__consumer_offsets-%d",
           mk_coordinator_partition_for(mk_str_of("ctp-group"), 50));
  assert_string_equal(json_string_value(json_array_get(json_object_get(t, "partitions"), 0)), expect);
  json_decref(t);
  assert_int_equal(txn_commit_offset(&p, "ctp-group", "in", 42), 0);
  assert_int_equal(fetch_offset("ctp-group", "in", true), -MK_ERR_UNSTABLE_OFFSET_COMMIT);
  assert_int_equal(fetch_offset("ctp-group", "in", false), -1);  /* not committed yet */
  assert_int_equal(end_txn(&p, true), 0);
  wait_state("ctp-1", "CompleteCommit");
  int64_t deadline = now_ms() + 5000;
  while (fetch_offset("ctp-group", "in", true) != 42 && now_ms() < deadline) sleep_ms(10);
  assert_int_equal(fetch_offset("ctp-group", "in", true), 42);

  /* The next transaction's offsets, aborted: the committed offset stays 42. */
  assert_int_equal(add_offsets(&p, "ctp-group"), 0);
  assert_int_equal(txn_commit_offset(&p, "ctp-group", "in", 99), 0);
  assert_int_equal(fetch_offset("ctp-group", "in", false), 42);
  assert_int_equal(end_txn(&p, false), 0);
  wait_state("ctp-1", "CompleteAbort");
  deadline = now_ms() + 5000;
  while (fetch_offset("ctp-group", "in", true) < 0 && now_ms() < deadline) sleep_ms(10);
  assert_int_equal(fetch_offset("ctp-group", "in", true), 42);

  /* A fenced producer's TxnOffsetCommit is refused. */
  struct producer old = p;
  new_producer("ctp-1", 30000);
  assert_int_equal(txn_commit_offset(&old, "ctp-group", "in", 7), MK_ERR_PRODUCER_FENCED);
}

/* ---- reset --------------------------------------------------------------------------------------------- */

static void test_reset_forgets_every_transaction(void **state) {
  (void)state;
  test_broker_create_topic(broker, "gone", 1, 3, NULL);
  struct producer p = new_producer("reset-1", 30000);
  assert_int_equal(add_one(&p, "gone", 0), 0);
  test_broker_fault(broker, "{\"action\":\"hold_markers\"}");
  assert_int_equal(end_txn(&p, true), 0);
  json_t *t = transaction_json("reset-1");
  assert_non_null(t);
  json_decref(t);
  struct mk_err err = {0};
  assert_int_equal(mk_broker_reset(broker, &err), 0);
  assert_null(transaction_json("reset-1"));
  /* Starting over: the id is new again (producer ids restart at 1000), nothing is held. */
  test_broker_create_topic(broker, "gone", 1, 3, NULL);
  struct producer q = new_producer("reset-1", 30000);
  assert_int_equal(q.epoch, 0);
  assert_int_equal(q.pid, 1000);
  assert_int_equal(add_one(&q, "gone", 0), 0);
  assert_int_equal(produce(&q, "gone", 0, 1, true, -1, NULL), 0);
  assert_int_equal(end_txn(&q, true), 0);
  wait_state("reset-1", "CompleteCommit");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_input_is_refused_with_kafkas_errors),
      cmocka_unit_test(test_transactional_batch_without_transactional_id),
      cmocka_unit_test(test_read_committed_stops_at_the_lso_and_gets_the_aborted_list),
      cmocka_unit_test(test_lso_waits_for_the_marker_to_be_replicated),
      cmocka_unit_test(test_new_leader_rebuilds_the_aborted_index),
      cmocka_unit_test(test_new_coordinator_completes_a_prepared_commit),
      cmocka_unit_test(test_hold_markers_for_ms_and_release),
      cmocka_unit_test(test_timed_out_transaction_is_aborted_and_its_producer_fenced),
      cmocka_unit_test(test_txn_offsets_are_staged_until_the_commit_marker),
      cmocka_unit_test(test_reset_forgets_every_transaction),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
