/*
 * Tests for the broker's produce path (broker/produce.c, fetch.c, list_offsets.c,
 * producer_state.c through the network): an embedded broker, raw requests, exact answers.
 *
 * Each test speaks to the broker the way a client would, over TCP, so what is checked is
 * what a real client would see: offsets, error codes, and duplicates answered with their
 * original offset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "broker/broker.h"
#include "common/clock.h"
#include "protocol/api.h"
#include "protocol/coordinator_records.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/find_coordinator.h"
#include "protocol/messages/list_offsets.h"
#include "protocol/messages/produce.h"
#include "protocol/record_batch.h"
#include "tests/support/raw_client.h"
#include "tests/support/test_broker.h"

static struct mk_broker *broker;

/* ---- set-up: one broker for the whole file; each test makes its own topic ------------------ */

/* Create a topic and return the port of partition 0's leader. */
static int create_topic(const char *name, int32_t replication, int64_t retention_bytes) {
  char retention[48];
  snprintf(retention, sizeof retention, "retention.bytes=%lld", (long long)retention_bytes);
  const char *configs[] = {retention, NULL};
  struct mk_partition_state st =
      test_broker_create_topic(broker, name, 1, replication, retention_bytes >= 0 ? configs : NULL);
  return mk_broker_port(broker, st.leader);
}

static int setup(void **state) {
  (void)state;
  return test_broker_start(&broker, NULL);
}

static int teardown(void **state) {
  (void)state;
  if (!broker) return 0;
  mk_broker_stop(broker);
  mk_broker_free(broker);
  return 0;
}

/* ---- request helpers -------------------------------------------------------------------- */

/* Produce one batch to partition 0 of topic; returns that partition's response. */
static struct mk_produce_partition_produce_response *produce(struct raw_client *c, const char *topic,
                                                             int16_t acks, struct mk_writer *batch,
                                                             int version) {
  struct mk_produce_partition_produce_response *r =
      raw_client_produce(c, topic, 0, acks, batch, version, 5000);
  assert_non_null(r);
  return r;
}

static int64_t list_offset(struct raw_client *c, const char *topic, int64_t timestamp) {
  int64_t offset = raw_client_list_offset(c, topic, 0, timestamp);
  assert_true(offset != INT64_MIN);
  return offset;
}

static struct mk_fetch_request fetch_request(struct mk_fetch_topic *t, struct mk_fetch_partition *p,
                                             const char *topic, int64_t offset, int32_t max_wait_ms) {
  mk_schema_set_defaults(&mk_fetch_partition_schema, p);
  p->partition = 0;
  p->fetch_offset = offset;
  p->partition_max_bytes = 1 << 20;
  mk_schema_set_defaults(&mk_fetch_topic_schema, t);
  t->topic = mk_str_of(topic);
  t->partitions = p;
  t->partitions_count = 1;
  struct mk_fetch_request req;
  mk_schema_set_defaults(&mk_fetch_request_schema, &req);
  req.max_wait_ms = max_wait_ms;
  req.min_bytes = 1;
  req.max_bytes = 1 << 20;
  req.topics = t;
  req.topics_count = 1;
  return req;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_offsets_are_assigned_and_fetch_reads_them_back(void **state) {
  (void)state;
  int port = create_topic("offsets", 3, -1);
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, port), 0);
  struct mk_writer b1, b2;
  mk_writer_init(&b1);
  mk_writer_init(&b2);
  raw_client_build_batch(&b1, 5, -1, -1, -1);
  raw_client_build_batch(&b2, 3, -1, -1, -1);
  assert_int_equal(produce(&c, "offsets", -1, &b1, 9)->base_offset, 0);  /* flexible v9 */
  assert_int_equal(produce(&c, "offsets", -1, &b2, 7)->base_offset, 5);  /* classic v7 */

  struct mk_fetch_topic ft;
  struct mk_fetch_partition fp;
  struct mk_fetch_request req = fetch_request(&ft, &fp, "offsets", 0, 0);
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_FETCH, 12, &req, &resp, 5000), 0);
  struct mk_fetch_partition_data *pd = &((struct mk_fetch_response *)resp)->responses[0].partitions[0];
  assert_int_equal(pd->error_code, 0);
  assert_int_equal(pd->high_watermark, 8);
  /* Two batches, as sent, with the offsets the broker wrote into them. */
  struct mk_record_batch batch;
  assert_int_equal(mk_record_batch_parse(pd->records.ptr, (size_t)pd->records.len, &batch, NULL), 0);
  assert_int_equal(batch.base_offset, 0);
  assert_int_equal(batch.records_count, 5);
  assert_int_equal(mk_record_batch_validate(&batch, 1 << 20, NULL), 0);  /* CRC still valid */
  const uint8_t *second = batch.data + batch.size;
  assert_int_equal(mk_record_batch_parse(second, (size_t)pd->records.len - batch.size, &batch, NULL), 0);
  assert_int_equal(batch.base_offset, 5);

  /* A fetch that may wait, but finds data at once, answers at once (the long-poll path). */
  struct mk_fetch_request waiting = fetch_request(&ft, &fp, "offsets", 5, 10000);
  assert_int_equal(raw_client_call(&c, MK_API_FETCH, 12, &waiting, &resp, 5000), 0);
  pd = &((struct mk_fetch_response *)resp)->responses[0].partitions[0];
  assert_int_equal(mk_record_batch_parse(pd->records.ptr, (size_t)pd->records.len, &batch, NULL), 0);
  assert_int_equal(batch.base_offset, 5);
  mk_writer_free(&b1);
  mk_writer_free(&b2);
  raw_client_close(&c);
}

static void test_retry_is_acknowledged_with_its_original_offset(void **state) {
  (void)state;
  int port = create_topic("dedupe", 3, -1);
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, port), 0);
  struct mk_writer first, second;
  mk_writer_init(&first);
  mk_writer_init(&second);
  raw_client_build_batch(&first, 3, 4242, 0, 0);   /* sequences 0..2 */
  raw_client_build_batch(&second, 2, 4242, 0, 3);  /* sequences 3..4 */
  assert_int_equal(produce(&c, "dedupe", -1, &first, 9)->base_offset, 0);
  assert_int_equal(produce(&c, "dedupe", -1, &second, 9)->base_offset, 3);
  /* The lost-ack retry of the first batch: no error, the original offset, nothing appended. */
  struct mk_produce_partition_produce_response *r = produce(&c, "dedupe", -1, &first, 9);
  assert_int_equal(r->error_code, 0);
  assert_int_equal(r->base_offset, 0);
  assert_int_equal(list_offset(&c, "dedupe", -1), 5);
  mk_writer_free(&first);
  mk_writer_free(&second);
  raw_client_close(&c);
}

static void test_sequence_gap_and_old_epoch_are_refused(void **state) {
  (void)state;
  int port = create_topic("sequences", 3, -1);
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, port), 0);
  struct mk_writer w;
  mk_writer_init(&w);
  raw_client_build_batch(&w, 3, 7, 1, 0);
  assert_int_equal(produce(&c, "sequences", 1, &w, 9)->error_code, 0);
  w.len = 0;
  raw_client_build_batch(&w, 1, 7, 1, 10);  /* expected 3 */
  struct mk_produce_partition_produce_response *r = produce(&c, "sequences", 1, &w, 9);
  assert_int_equal(r->error_code, MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
  w.len = 0;
  raw_client_build_batch(&w, 1, 7, 0, 3);  /* epoch 0 < 1: a fenced, older producer */
  assert_int_equal(produce(&c, "sequences", 1, &w, 9)->error_code, MK_ERR_INVALID_PRODUCER_EPOCH);
  w.len = 0;
  raw_client_build_batch(&w, 1, 7, 2, 5);  /* a new epoch must start at sequence 0 */
  assert_int_equal(produce(&c, "sequences", 1, &w, 9)->error_code,
                   MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert_int_equal(list_offset(&c, "sequences", -1), 3);  /* nothing refused was appended */
  mk_writer_free(&w);
  raw_client_close(&c);
}

static void test_produce_to_a_follower_names_the_leader(void **state) {
  (void)state;
  int leader_port = create_topic("follower", 3, -1);
  int other = mk_broker_port(broker, 0) == leader_port ? 1 : 0;
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, mk_broker_port(broker, other)), 0);
  struct mk_writer w;
  mk_writer_init(&w);
  raw_client_build_batch(&w, 1, -1, -1, -1);
  struct mk_produce_partition_produce_response *r = produce(&c, "follower", 1, &w, 10);
  assert_int_equal(r->error_code, MK_ERR_NOT_LEADER_OR_FOLLOWER);
  assert_int_equal(mk_broker_port(broker, r->current_leader.leader_id), leader_port);
  mk_writer_free(&w);
  raw_client_close(&c);
}

static void test_unknown_topic_and_bad_acks(void **state) {
  (void)state;
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, mk_broker_port(broker, 0)), 0);
  struct mk_writer w;
  mk_writer_init(&w);
  raw_client_build_batch(&w, 1, -1, -1, -1);
  /* Produce never creates topics (only Metadata does, when allowed). */
  assert_int_equal(produce(&c, "never-made", 1, &w, 9)->error_code, MK_ERR_UNKNOWN_TOPIC_OR_PARTITION);
  assert_int_equal(produce(&c, "never-made", 2, &w, 9)->error_code, MK_ERR_INVALID_REQUIRED_ACKS);
  mk_writer_free(&w);
  raw_client_close(&c);
}

static void test_acks_all_needs_min_insync_replicas(void **state) {
  (void)state;
  int port = create_topic("lonely", 1, -1);  /* ISR of 1 < min.insync.replicas 2 */
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, port), 0);
  struct mk_writer w;
  mk_writer_init(&w);
  raw_client_build_batch(&w, 1, -1, -1, -1);
  assert_int_equal(produce(&c, "lonely", -1, &w, 9)->error_code, MK_ERR_NOT_ENOUGH_REPLICAS);
  assert_int_equal(produce(&c, "lonely", 1, &w, 9)->error_code, 0);  /* acks=1 is fine */
  assert_int_equal(list_offset(&c, "lonely", -1), 1);
  mk_writer_free(&w);
  raw_client_close(&c);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_long_poll_fetch_wakes_on_produce(void **state) {
  (void)state;
  int port = create_topic("longpoll", 3, -1);
  struct raw_client consumer, producer;
  assert_int_equal(raw_client_connect(&consumer, port), 0);
  assert_int_equal(raw_client_connect(&producer, port), 0);
  struct mk_fetch_topic ft;
  struct mk_fetch_partition fp;
  struct mk_fetch_request req = fetch_request(&ft, &fp, "longpoll", 0, 10000);
  int64_t start = now_ms();
  /* The fetch waits (nothing to read); the produce below must wake it long before 10 s. */
  assert_int_equal(raw_client_send(&consumer, MK_API_FETCH, 12, &req), 0);
  struct mk_writer w;
  mk_writer_init(&w);
  raw_client_build_batch(&w, 2, -1, -1, -1);
  assert_int_equal(produce(&producer, "longpoll", -1, &w, 9)->error_code, 0);
  void *resp;
  assert_int_equal(raw_client_receive(&consumer, MK_API_FETCH, 12, &resp, 5000), 0);
  struct mk_fetch_partition_data *pd = &((struct mk_fetch_response *)resp)->responses[0].partitions[0];
  assert_int_equal(pd->error_code, 0);
  assert_int_equal(pd->high_watermark, 2);
  assert_true(pd->records.len > 0);
  assert_true(now_ms() - start < 5000);
  mk_writer_free(&w);
  raw_client_close(&consumer);
  raw_client_close(&producer);
}

static void test_list_offsets_earliest_latest_and_by_time(void **state) {
  (void)state;
  int port = create_topic("timeline", 3, -1);
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, port), 0);
  struct mk_writer w;
  mk_writer_init(&w);
  raw_client_build_batch(&w, 4, -1, -1, -1);  /* timestamps 1700000000000 + 0..3 */
  assert_int_equal(produce(&c, "timeline", -1, &w, 9)->error_code, 0);
  assert_int_equal(list_offset(&c, "timeline", -2), 0);
  assert_int_equal(list_offset(&c, "timeline", -1), 4);
  assert_int_equal(list_offset(&c, "timeline", 1700000000002), 2);
  assert_int_equal(list_offset(&c, "timeline", 1800000000000), -1);
  mk_writer_free(&w);
  raw_client_close(&c);
}

/* message.timestamp.type=LogAppendTime (LogValidator): the broker's clock replaces the
 * producer's timestamps, the batch says LogAppendTime, its CRC is recomputed, and the
 * produce response carries the time; a CreateTime topic keeps the producer's. */
static void test_log_append_time_topic_stamps_batches_with_the_broker_clock(void **state) {
  (void)state;
  const char *configs[] = {"message.timestamp.type=LogAppendTime", NULL};
  struct mk_partition_state st = test_broker_create_topic(broker, "appended", 1, 3, configs);
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, mk_broker_port(broker, st.leader)), 0);
  struct mk_writer w;
  mk_writer_init(&w);
  raw_client_build_batch(&w, 3, -1, -1, -1);  /* CreateTime 1700000000000 + 0..2 */
  int64_t before = mk_wall_ms();
  struct mk_produce_partition_produce_response *r = produce(&c, "appended", -1, &w, 9);
  int64_t after = mk_wall_ms();
  assert_int_equal(r->error_code, 0);
  assert_true(r->log_append_time_ms >= before && r->log_append_time_ms <= after);
  int64_t stamped = r->log_append_time_ms;

  struct mk_fetch_topic ft;
  struct mk_fetch_partition fp;
  struct mk_fetch_request req = fetch_request(&ft, &fp, "appended", 0, 0);
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_FETCH, 12, &req, &resp, 5000), 0);
  struct mk_fetch_partition_data *pd = &((struct mk_fetch_response *)resp)->responses[0].partitions[0];
  struct mk_record_batch batch;
  assert_int_equal(mk_record_batch_parse(pd->records.ptr, (size_t)pd->records.len, &batch, NULL), 0);
  assert_true(batch.attributes & MK_ATTR_LOG_APPEND_TIME);
  assert_int_equal(batch.max_timestamp, stamped);
  assert_int_equal(batch.base_timestamp, 1700000000000);  /* only the max timestamp changes */
  assert_int_equal(mk_record_batch_validate(&batch, 1 << 20, NULL), 0);  /* the new CRC */

  /* As embedding code (and any consumer) reads it: every record has the broker's time. */
  struct mk_stored_records recs;
  struct mk_err err = {0};
  assert_int_equal(mk_broker_read_records(broker, "appended", 0, -1, false, &recs, &err), 0);
  assert_int_equal(recs.n, 3);
  for (size_t i = 0; i < recs.n; i++) {
    assert_true(recs.v[i].log_append_time);
    assert_int_equal(recs.v[i].timestamp, stamped);
  }
  mk_stored_records_free(&recs);

  /* A CreateTime topic (the default) answers -1 and keeps the producer's timestamps. */
  int port = create_topic("created", 3, -1);
  struct raw_client c2;
  assert_int_equal(raw_client_connect(&c2, port), 0);
  r = produce(&c2, "created", -1, &w, 9);
  assert_int_equal(r->error_code, 0);
  assert_int_equal(r->log_append_time_ms, -1);
  assert_int_equal(mk_broker_read_records(broker, "created", 0, -1, false, &recs, &err), 0);
  assert_false(recs.v[1].log_append_time);
  assert_int_equal(recs.v[1].timestamp, 1700000000001);
  mk_stored_records_free(&recs);
  mk_writer_free(&w);
  raw_client_close(&c);
  raw_client_close(&c2);
}

static void test_retention_bytes_drops_the_oldest_batches(void **state) {
  (void)state;
  int port = create_topic("retained", 3, 300);
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, port), 0);
  struct mk_writer w;
  mk_writer_init(&w);
  raw_client_build_batch(&w, 3, -1, -1, -1);  /* ~100 bytes each */
  for (int i = 0; i < 20; i++) assert_int_equal(produce(&c, "retained", -1, &w, 9)->error_code, 0);
  int64_t earliest = list_offset(&c, "retained", -2);
  assert_true(earliest > 0);              /* old batches are gone */
  assert_int_equal(list_offset(&c, "retained", -1), 60);
  assert_true((60 - earliest) * 30 < 600);  /* what is left is about retention.bytes */
  mk_writer_free(&w);
  raw_client_close(&c);
}

/* quota.producer.default (quota.h): a client over it is told how long to pause, and the
 * broker reads nothing more from its connection for that long (KIP-219), so even a client
 * that ignores the throttle time waits it out. */
static void test_a_client_over_its_produce_quota_is_paused(void **state) {
  (void)state;
  struct mk_broker *b;
  assert_int_equal(test_broker_start(&b, "quota.producer.default", "5000", NULL), 0);
  int port = mk_broker_port(b, test_broker_create_topic(b, "throttled", 1, 1, NULL).leader);
  assert_true(port > 0);
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, port), 0);
  struct mk_writer w;
  mk_writer_init(&w);
  raw_client_build_batch(&w, 1000, -1, -1, -1);  /* ~10 KB a request */
  /* A new client is measured over at least 10 s, so about 50 KB go through before the
   * quota bites; each request after that adds about 2 s. */
  int requests = 0;
  c.produce_throttle_time_ms = 0;
  while (c.produce_throttle_time_ms < 300 && requests < 20) {
    assert_int_equal(produce(&c, "throttled", 1, &w, 9)->error_code, 0);
    requests++;
  }
  int32_t throttle = c.produce_throttle_time_ms;
  assert_in_range(throttle, 300, 11000);
  assert_in_range(requests, 4, 12);
  /* The next request on the connection is read only when the pause is over. */
  int64_t start = now_ms();
  list_offset(&c, "throttled", -1);
  assert_true(now_ms() - start >= throttle - 50);
  mk_writer_free(&w);
  raw_client_close(&c);
  mk_broker_stop(b);
  mk_broker_free(b);
}

/* A transactional id's coordinator is the leader of its partition of __transaction_state,
 * created by this very request: v1-3 answer at the top, v4+ per key; an empty id has none.
 * (Answering at all is what makes librdkafka enable lz4: find_coordinator.c. Groups:
 * test_broker_groups.c; the coordinator itself: test_broker_transactions.c.) */
static void test_find_coordinator_finds_the_transaction_coordinator(void **state) {
  (void)state;
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, mk_broker_port(broker, 0)), 0);
  struct mk_find_coordinator_request req;
  mk_schema_set_defaults(&mk_find_coordinator_request_schema, &req);
  req.key = mk_str_of("a-transactional-id");
  req.key_type = 1;
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_FIND_COORDINATOR, 1, &req, &resp, 5000), 0);
  struct mk_find_coordinator_response *r = resp;
  assert_int_equal(r->error_code, 0);
  /* Kafka's partitionFor: abs("a-transactional-id".hashCode()) % 50. */
  int32_t p = mk_coordinator_partition_for(req.key, 50);
  struct mk_partition_state st = test_broker_state(broker, "__transaction_state", p);
  assert_int_equal(r->node_id, st.leader);
  assert_int_equal(r->port, mk_broker_port(broker, st.leader));

  struct mk_str keys[2] = {mk_str_of("txn-a"), (struct mk_str){"", 0}};
  mk_schema_set_defaults(&mk_find_coordinator_request_schema, &req);
  req.key_type = 1;
  req.coordinator_keys = keys;
  req.coordinator_keys_count = 2;
  assert_int_equal(raw_client_call(&c, MK_API_FIND_COORDINATOR, 4, &req, &resp, 5000), 0);
  r = resp;
  assert_int_equal(r->coordinators_count, 2);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(r->coordinators[i].key.len, keys[i].len);
    assert_memory_equal(r->coordinators[i].key.ptr, keys[i].ptr, (size_t)keys[i].len);
  }
  st = test_broker_state(broker, "__transaction_state", mk_coordinator_partition_for(keys[0], 50));
  assert_int_equal(r->coordinators[0].error_code, 0);
  assert_int_equal(r->coordinators[0].node_id, st.leader);
  assert_int_equal(r->coordinators[1].error_code, MK_ERR_INVALID_REQUEST);
  assert_int_equal(r->coordinators[1].node_id, -1);
  raw_client_close(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_offsets_are_assigned_and_fetch_reads_them_back),
      cmocka_unit_test(test_retry_is_acknowledged_with_its_original_offset),
      cmocka_unit_test(test_sequence_gap_and_old_epoch_are_refused),
      cmocka_unit_test(test_produce_to_a_follower_names_the_leader),
      cmocka_unit_test(test_unknown_topic_and_bad_acks),
      cmocka_unit_test(test_acks_all_needs_min_insync_replicas),
      cmocka_unit_test(test_long_poll_fetch_wakes_on_produce),
      cmocka_unit_test(test_list_offsets_earliest_latest_and_by_time),
      cmocka_unit_test(test_log_append_time_topic_stamps_batches_with_the_broker_clock),
      cmocka_unit_test(test_retention_bytes_drops_the_oldest_batches),
      cmocka_unit_test(test_find_coordinator_finds_the_transaction_coordinator),
      cmocka_unit_test(test_a_client_over_its_produce_quota_is_paused),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
