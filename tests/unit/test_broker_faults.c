/*
 * Tests for faults and replication (broker/faults.c, broker/replica_set.c): the scenarios
 * an instructor demonstrates, asserted on what a client sees and on the partition's state.
 *
 * The broker runs embedded with replica.lag.time.max.ms = 1500, so ISR changes happen
 * within a couple of seconds; each test makes its own topic.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker/broker.h"
#include "common/trace.h"
#include "protocol/api.h"
#include "protocol/messages/api_versions.h"
#include "protocol/messages/produce.h"
#include "tests/support/raw_client.h"
#include "tests/support/test_broker.h"

static struct mk_broker *broker;
enum { LAG_MAX_MS = 1500 };

/* ---- set-up and state ------------------------------------------------------------------ */

static int setup(void **state) {
  (void)state;
  char lag[16];
  snprintf(lag, sizeof lag, "%d", LAG_MAX_MS);
  return test_broker_start(&broker, "replica.lag.time.max.ms", lag, NULL);
}

static int teardown(void **state) {
  (void)state;
  if (!broker) return 0;
  mk_broker_stop(broker);
  mk_broker_free(broker);
  return 0;
}

/* Partition 0 of topic now (through broker.h). */
static struct mk_partition_state state_of(const char *topic) {
  return test_broker_state(broker, topic, 0);
}

static int isr_size(struct mk_partition_state s) {
  int n = 0;
  for (int r = 0; r < s.nreplicas; r++) n += s.replicas[r].in_isr;
  return n;
}

static int64_t leader_leo(struct mk_partition_state s) {
  for (int r = 0; r < s.nreplicas; r++)
    if (s.replicas[r].broker == s.leader) return s.replicas[r].log_end_offset;
  return -1;
}

/* A 3-replica topic with one partition; returns its state. */
static struct mk_partition_state create_topic(const char *name) {
  return test_broker_create_topic(broker, name, 1, 3, NULL);
}

#define fault(...) test_broker_fault(broker, __VA_ARGS__)

static int fault_error(const char *json, struct mk_err *err) {
  return mk_broker_fault(broker, json, NULL, err);
}

static void connect_to(struct raw_client *c, int32_t node) {
  assert_int_equal(raw_client_connect(c, mk_broker_port(broker, node)), 0);
}

/* Produce and wait up to timeout_ms for the answer: its error code, or -1000 if none came. */
static int16_t produce_within(struct raw_client *c, const char *topic, int16_t acks, int records,
                              int64_t pid, int32_t seq, int timeout_ms) {
  struct mk_writer w;
  mk_writer_init(&w);
  raw_client_build_batch(&w, records, pid, pid >= 0 ? 0 : -1, seq);
  struct mk_produce_partition_produce_response *r =
      raw_client_produce(c, topic, 0, acks, &w, 9, timeout_ms);
  mk_writer_free(&w);
  return r ? r->error_code : -1000;  /* -1000: no answer */
}

static int16_t produce(struct raw_client *c, const char *topic, int16_t acks, int records,
                       int64_t pid, int32_t seq) {
  return produce_within(c, topic, acks, records, pid, seq, 10000);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait (bounded) until the partition's ISR has n members. */
static void wait_isr(const char *topic, int32_t n, int max_ms) {
  int64_t until = now_ms() + max_ms;
  while (isr_size(state_of(topic)) != n && now_ms() < until) usleep(20000);
  assert_int_equal(isr_size(state_of(topic)), n);
}

/* ---- the ISR --------------------------------------------------------------------------- */

static void test_paused_followers_leave_the_isr_and_acks_all_is_refused(void **state) {
  (void)state;
  struct mk_partition_state s = create_topic("isr");
  struct raw_client c;
  connect_to(&c, s.leader);
  assert_int_equal(produce(&c, "isr", -1, 2, -1, -1), 0);
  fault("{\"action\":\"follower_pause\",\"topic\":\"isr\",\"partition\":0,\"broker\":%d}", s.followers[0]);
  fault("{\"action\":\"follower_pause\",\"topic\":\"isr\",\"partition\":0,\"broker\":%d}", s.followers[1]);
  assert_int_equal(produce(&c, "isr", 1, 2, -1, -1), 0);  /* acks=1: the leader alone is enough */
  assert_int_equal(state_of("isr").high_watermark, 2);                /* ...but the HW waits for the ISR */
  wait_isr("isr", 1, LAG_MAX_MS * 3);                     /* both fell behind too long */
  assert_int_equal(state_of("isr").high_watermark, 4);                /* the ISR is the leader: HW moves */
  assert_int_equal(produce(&c, "isr", -1, 1, -1, -1), MK_ERR_NOT_ENOUGH_REPLICAS);
  assert_int_equal(produce(&c, "isr", 1, 1, -1, -1), 0);
  fault("{\"action\":\"follower_resume\",\"topic\":\"isr\",\"partition\":0,\"broker\":%d}", s.followers[0]);
  fault("{\"action\":\"follower_resume\",\"topic\":\"isr\",\"partition\":0,\"broker\":%d}", s.followers[1]);
  assert_int_equal(isr_size(state_of("isr")), 3);               /* caught up: back at once */
  assert_int_equal(produce(&c, "isr", -1, 1, -1, -1), 0);
  assert_int_equal(state_of("isr").high_watermark, 6);
  raw_client_close(&c);
}

static void test_waiting_acks_all_gets_not_enough_replicas_after_append(void **state) {
  (void)state;
  struct mk_partition_state s = create_topic("after-append");
  fault("{\"action\":\"follower_pause\",\"topic\":\"after-append\",\"partition\":0,\"broker\":%d}", s.followers[0]);
  fault("{\"action\":\"follower_pause\",\"topic\":\"after-append\",\"partition\":0,\"broker\":%d}", s.followers[1]);
  struct raw_client c;
  connect_to(&c, s.leader);
  /* Appended with a full ISR, then the ISR shrinks under the waiting request. */
  assert_int_equal(produce(&c, "after-append", -1, 1, -1, -1), MK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
  assert_int_equal(leader_leo(state_of("after-append")), 1);  /* the record was appended */
  raw_client_close(&c);
}

/* ---- failover: what acks=1 loses and acks=all keeps ------------------------------------- */

static void test_acks_1_loses_acknowledged_records_when_the_leader_dies(void **state) {
  (void)state;
  struct mk_partition_state s = create_topic("acks1");
  /* Slow followers that still count as in sync (1000 ms < replica.lag.time.max.ms). */
  fault("{\"action\":\"follower_lag\",\"topic\":\"acks1\",\"partition\":0,\"broker\":%d,\"ms\":1000}", s.followers[0]);
  fault("{\"action\":\"follower_lag\",\"topic\":\"acks1\",\"partition\":0,\"broker\":%d,\"ms\":1000}", s.followers[1]);
  struct raw_client c;
  connect_to(&c, s.leader);
  int acked = 0;
  for (int i = 0; i < 5; i++) acked += produce(&c, "acks1", 1, 10, -1, -1) == 0 ? 10 : 0;
  assert_int_equal(acked, 50);
  raw_client_close(&c);
  fault("{\"action\":\"broker_down\",\"broker\":%d}", s.leader);  /* before any follower copied */
  struct mk_partition_state after = state_of("acks1");
  assert_true(after.leader >= 0 && after.leader != s.leader);
  assert_int_equal(after.leader_epoch, s.leader_epoch + 1);
  assert_int_equal(leader_leo(after), 0);  /* all 50 acknowledged records are gone */
  /* The old leader comes back as a follower and truncates its log to the new leader's. */
  fault("{\"action\":\"broker_up\",\"broker\":%d}", s.leader);
  fault("{\"action\":\"follower_lag\",\"broker\":%d,\"ms\":0}", s.followers[0]);
  fault("{\"action\":\"follower_lag\",\"broker\":%d,\"ms\":0}", s.followers[1]);
  wait_isr("acks1", 3, 2000);
  assert_int_equal(state_of("acks1").high_watermark, 0);
}

static void test_acks_all_loses_nothing_acknowledged_when_the_leader_dies(void **state) {
  (void)state;
  struct mk_partition_state s = create_topic("acksall");
  fault("{\"action\":\"follower_lag\",\"topic\":\"acksall\",\"partition\":0,\"broker\":%d,\"ms\":300}", s.followers[0]);
  fault("{\"action\":\"follower_lag\",\"topic\":\"acksall\",\"partition\":0,\"broker\":%d,\"ms\":300}", s.followers[1]);
  struct raw_client c;
  connect_to(&c, s.leader);
  int acked = 0;
  for (int i = 0; i < 3; i++) acked += produce(&c, "acksall", -1, 10, -1, -1) == 0 ? 10 : 0;
  /* One more, not yet acknowledged when the leader dies: it may be lost, and may be. */
  struct mk_writer w;
  mk_writer_init(&w);
  raw_client_build_batch(&w, 10, -1, -1, -1);
  struct mk_produce_partition_produce_data part = {0, {w.buf, (int32_t)w.len}};
  struct mk_produce_topic_produce_data td = {mk_str_of("acksall"), &part, 1};
  struct mk_produce_request req;
  mk_schema_set_defaults(&mk_produce_request_schema, &req);
  req.acks = -1;
  req.timeout_ms = 10000;
  req.topic_data = &td;
  req.topic_data_count = 1;
  assert_int_equal(raw_client_send(&c, MK_API_PRODUCE, 9, &req), 0);
  usleep(50000);
  fault("{\"action\":\"broker_down\",\"broker\":%d}", s.leader);
  assert_true(raw_client_closed_by_peer(&c, 2000));  /* its answer never comes: no ack */
  raw_client_close(&c);
  mk_writer_free(&w);
  assert_int_equal(acked, 30);
  struct mk_partition_state after = state_of("acksall");
  assert_true(after.leader >= 0 && after.leader != s.leader);
  assert_true(leader_leo(after) >= 30);  /* every acknowledged record survived */
  fault("{\"action\":\"broker_up\",\"broker\":%d}", s.leader);
}

/* ---- a lost response: duplicates, and idempotence removing them ------------------------ */

static void test_lost_response_duplicates_without_idempotence_only(void **state) {
  (void)state;
  struct mk_partition_state s = create_topic("dups");
  struct raw_client c;
  connect_to(&c, s.leader);
  fault("{\"action\":\"drop_response\",\"api\":\"Produce\",\"count\":1,\"mode\":\"close\"}");
  assert_int_equal(produce(&c, "dups", -1, 5, -1, -1), -1000);  /* no answer: connection closed */
  raw_client_close(&c);
  connect_to(&c, s.leader);
  assert_int_equal(produce(&c, "dups", -1, 5, -1, -1), 0);  /* the retry */
  assert_int_equal(leader_leo(state_of("dups")), 10);        /* appended twice: a duplicate */

  fault("{\"action\":\"drop_response\",\"api\":\"Produce\",\"count\":1,\"mode\":\"close\"}");
  assert_int_equal(produce(&c, "dups", -1, 5, 900, 0), -1000);
  raw_client_close(&c);
  connect_to(&c, s.leader);
  struct mk_writer w;
  mk_writer_init(&w);
  raw_client_build_batch(&w, 5, 900, 0, 0);  /* the same batch: same producer id, same sequence */
  struct mk_produce_partition_produce_response *r = raw_client_produce(&c, "dups", 0, -1, &w, 9, 5000);
  assert_non_null(r);
  assert_int_equal(r->error_code, 0);
  assert_int_equal(r->base_offset, 10);               /* the original offset */
  assert_int_equal(leader_leo(state_of("dups")), 15);  /* appended once */
  mk_writer_free(&w);
  raw_client_close(&c);
}

/* drop_response "silent" is a broken network, not a skipped answer: from the lost answer on,
 * the connection delivers nothing (a later answer would otherwise overtake it, which TCP
 * never does), though what the client sends still arrives and is carried out; the
 * connection stays open until the client gives up on it. A new connection works. */
static void test_silent_drop_stops_the_connection_delivering(void **state) {
  (void)state;
  struct mk_partition_state s = create_topic("silent");
  struct raw_client c;
  connect_to(&c, s.leader);
  struct mk_api_versions_request av;
  mk_schema_set_defaults(&mk_api_versions_request_schema, &av);
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_API_VERSIONS, 3, &av, &resp, 5000), 0);
  fault("{\"action\":\"drop_response\",\"api\":\"Produce\",\"count\":1,\"mode\":\"silent\"}");
  assert_int_equal(produce_within(&c, "silent", 1, 3, -1, -1, 500), -1000);  /* no answer */
  assert_int_equal(leader_leo(state_of("silent")), 3);          /* but it was appended */
  /* The fault is spent, yet nothing more comes back on this connection... */
  assert_int_equal(raw_client_call(&c, MK_API_API_VERSIONS, 3, &av, &resp, 300), MK_ERR__TIMED_OUT);
  assert_int_equal(produce_within(&c, "silent", 1, 2, -1, -1, 300), -1000);
  assert_int_equal(leader_leo(state_of("silent")), 5);  /* ... though requests still work */
  assert_false(raw_client_closed_by_peer(&c, 200));     /* and it is not closed */
  raw_client_close(&c);
  connect_to(&c, s.leader);  /* the client reconnects: a working connection */
  assert_int_equal(produce(&c, "silent", 1, 2, -1, -1), 0);
  assert_int_equal(leader_leo(state_of("silent")), 7);
  raw_client_close(&c);
}

/* Answers queued before the silent drop still arrive; the dropped one and those after it
 * do not, even the ones ready first. Four requests in one go: an acks=all produce that waits
 * for lagging followers (P1), ApiVersions answered at once but queued behind it (V1), an
 * acks=1 produce whose answer is the one dropped (P2), and ApiVersions again (V2). P1 and V1
 * arrive; P2 and V2 never do. */
static void test_silent_drop_keeps_the_answers_before_it(void **state) {
  (void)state;
  struct mk_partition_state s = create_topic("silent-order");
  for (int i = 0; i < 2; i++)
    fault("{\"action\":\"follower_lag\",\"topic\":\"silent-order\",\"partition\":0,"
          "\"broker\":%d,\"ms\":300}", s.followers[i]);
  struct mk_writer w;
  mk_writer_init(&w);
  raw_client_build_batch(&w, 2, -1, -1, -1);
  struct mk_produce_partition_produce_data part = {0, {w.buf, (int32_t)w.len}};
  struct mk_produce_topic_produce_data td = {mk_str_of("silent-order"), &part, 1};
  struct mk_produce_request p1, p2;
  mk_schema_set_defaults(&mk_produce_request_schema, &p1);
  p1.acks = -1;
  p1.timeout_ms = 10000;
  p1.topic_data = &td;
  p1.topic_data_count = 1;
  p2 = p1;
  p2.acks = 1;
  struct mk_api_versions_request av;
  mk_schema_set_defaults(&mk_api_versions_request_schema, &av);
  struct raw_client c;
  connect_to(&c, s.leader);
  fault("{\"action\":\"drop_response\",\"api\":\"Produce\",\"count\":1,\"mode\":\"silent\"}");
  assert_int_equal(raw_client_send(&c, MK_API_PRODUCE, 9, &p1), 0);
  assert_int_equal(raw_client_send(&c, MK_API_API_VERSIONS, 3, &av), 0);
  assert_int_equal(raw_client_send(&c, MK_API_PRODUCE, 9, &p2), 0);
  assert_int_equal(raw_client_send(&c, MK_API_API_VERSIONS, 3, &av), 0);
  void *resp;
  assert_int_equal(raw_client_receive(&c, MK_API_PRODUCE, 9, &resp, 5000), 0);       /* P1 */
  assert_int_equal(raw_client_receive(&c, MK_API_API_VERSIONS, 3, &resp, 5000), 0);  /* V1 */
  assert_int_equal(raw_client_receive(&c, MK_API_PRODUCE, 9, &resp, 500), MK_ERR__TIMED_OUT);
  assert_int_equal(leader_leo(state_of("silent-order")), 4);  /* both produces appended */
  assert_int_equal(raw_client_receive(&c, MK_API_API_VERSIONS, 3, &resp, 300), MK_ERR__TIMED_OUT);
  raw_client_close(&c);
  for (int i = 0; i < 2; i++)
    fault("{\"action\":\"follower_lag\",\"broker\":%d,\"ms\":0}", s.followers[i]);
  mk_writer_free(&w);
}

/* ---- request faults -------------------------------------------------------------------- */

static void test_error_fault_answers_then_disarms(void **state) {
  (void)state;
  struct mk_partition_state s = create_topic("errors");
  struct raw_client c;
  connect_to(&c, s.leader);
  fault("{\"action\":\"error\",\"api\":\"Produce\",\"error\":\"NOT_LEADER_OR_FOLLOWER\",\"count\":2,"
        "\"topic\":\"errors\"}");
  assert_int_equal(produce(&c, "errors", 1, 1, -1, -1), MK_ERR_NOT_LEADER_OR_FOLLOWER);
  assert_int_equal(produce(&c, "errors", 1, 1, -1, -1), MK_ERR_NOT_LEADER_OR_FOLLOWER);
  assert_int_equal(produce(&c, "errors", 1, 1, -1, -1), 0);
  assert_int_equal(leader_leo(state_of("errors")), 1);  /* refused requests appended nothing */
  raw_client_close(&c);
}

/* Kafka answers REQUEST_TIMED_OUT (and NOT_ENOUGH_REPLICAS_AFTER_APPEND) after writing: the
 * batch is in the log, so a retry without idempotence is a duplicate and an idempotent retry
 * is recognised. NOT_LEADER_OR_FOLLOWER is answered before writing: nothing to duplicate. */
static void test_error_fault_timed_out_appends_and_not_leader_does_not(void **state) {
  (void)state;
  struct mk_partition_state s = create_topic("written");
  struct raw_client c;
  connect_to(&c, s.leader);
  fault("{\"action\":\"error\",\"api\":\"Produce\",\"error\":\"REQUEST_TIMED_OUT\",\"count\":1}");
  assert_int_equal(produce(&c, "written", -1, 4, -1, -1), MK_ERR_REQUEST_TIMED_OUT);
  assert_int_equal(leader_leo(state_of("written")), 4);   /* written before the answer */
  assert_int_equal(produce(&c, "written", -1, 4, -1, -1), 0);  /* the client's retry */
  assert_int_equal(leader_leo(state_of("written")), 8);   /* ... is a duplicate */

  fault("{\"action\":\"error\",\"api\":\"Produce\",\"error\":\"NOT_ENOUGH_REPLICAS_AFTER_APPEND\","
        "\"count\":1}");
  assert_int_equal(produce(&c, "written", -1, 2, 901, 0), MK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
  assert_int_equal(leader_leo(state_of("written")), 10);
  assert_int_equal(produce(&c, "written", -1, 2, 901, 0), 0);  /* idempotent retry: recognised */
  assert_int_equal(leader_leo(state_of("written")), 10);

  fault("{\"action\":\"error\",\"api\":\"Produce\",\"error\":\"NOT_LEADER_OR_FOLLOWER\",\"count\":1}");
  assert_int_equal(produce(&c, "written", -1, 4, -1, -1), MK_ERR_NOT_LEADER_OR_FOLLOWER);
  assert_int_equal(leader_leo(state_of("written")), 10);  /* refused before writing */
  assert_int_equal(produce(&c, "written", -1, 4, -1, -1), 0);
  assert_int_equal(leader_leo(state_of("written")), 14);  /* the retry is the only copy */
  raw_client_close(&c);
}

static void test_delay_fault_holds_the_response(void **state) {
  (void)state;
  struct mk_partition_state s = create_topic("slow");
  struct raw_client c;
  connect_to(&c, s.leader);
  fault("{\"action\":\"delay\",\"api\":\"Produce\",\"ms\":300,\"count\":1}");
  int64_t start = now_ms();
  assert_int_equal(produce(&c, "slow", 1, 1, -1, -1), 0);
  assert_true(now_ms() - start >= 290);
  start = now_ms();
  assert_int_equal(produce(&c, "slow", 1, 1, -1, -1), 0);
  assert_true(now_ms() - start < 250);
  raw_client_close(&c);
}

static void test_elect_leader_moves_leadership_and_bumps_the_epoch(void **state) {
  (void)state;
  struct mk_partition_state s = create_topic("elect");
  struct raw_client c;
  connect_to(&c, s.leader);
  assert_int_equal(produce(&c, "elect", -1, 3, -1, -1), 0);
  fault("{\"action\":\"elect_leader\",\"topic\":\"elect\",\"partition\":0,\"broker\":%d}", s.followers[0]);
  struct mk_partition_state after = state_of("elect");
  assert_int_equal(after.leader, s.followers[0]);
  assert_int_equal(after.leader_epoch, s.leader_epoch + 1);
  assert_int_equal(leader_leo(after), 3);
  assert_int_equal(produce(&c, "elect", 1, 1, -1, -1), MK_ERR_NOT_LEADER_OR_FOLLOWER);
  raw_client_close(&c);
  connect_to(&c, after.leader);
  assert_int_equal(produce(&c, "elect", -1, 1, -1, -1), 0);
  assert_int_equal(state_of("elect").high_watermark, 4);
  raw_client_close(&c);
}

/* Electing a replica outside the ISR loses what it lacks: refused (MK_ERR__STATE, which
 * the admin API answers with 409) unless the request says "unclean": true. */
static void test_elect_leader_outside_the_isr_is_refused_unless_unclean(void **state) {
  (void)state;
  struct mk_partition_state s = create_topic("unclean");
  int32_t lagging = s.followers[0];
  fault("{\"action\":\"follower_pause\",\"topic\":\"unclean\",\"partition\":0,\"broker\":%d}", lagging);
  struct raw_client c;
  connect_to(&c, s.leader);
  assert_int_equal(produce(&c, "unclean", 1, 5, -1, -1), 0);
  raw_client_close(&c);
  wait_isr("unclean", 2, LAG_MAX_MS * 3);  /* the paused follower left the ISR */
  struct mk_err err = {0};
  char json[200];
  snprintf(json, sizeof json,
           "{\"action\":\"elect_leader\",\"topic\":\"unclean\",\"partition\":0,\"broker\":%d}", lagging);
  assert_int_equal(fault_error(json, &err), MK_ERR__STATE);
  assert_non_null(strstr(err.msg, "not in the ISR"));
  assert_int_equal(state_of("unclean").leader, s.leader);  /* nothing changed */
  assert_int_equal(state_of("unclean").high_watermark, 5);
  fault("{\"action\":\"elect_leader\",\"topic\":\"unclean\",\"partition\":0,\"broker\":%d,"
        "\"unclean\":true}", lagging);
  struct mk_partition_state after = state_of("unclean");
  assert_int_equal(after.leader, lagging);
  assert_int_equal(leader_leo(after), 0);  /* the unclean election lost the 5 records */
  fault("{\"action\":\"follower_resume\",\"topic\":\"unclean\",\"partition\":0,\"broker\":%d}",
        s.leader);
}

/* The trace of a cluster action: its `fault` event comes before what it caused (the
 * leader_change of broker_down), in time order as the timeline draws it, and a refused
 * action leaves no `fault` event at all. */
struct seen {
  pthread_mutex_t lock;
  char lines[64][512];
  int n;
};

static void keep_line(void *opaque, const char *line, size_t len) {
  struct seen *s = opaque;
  pthread_mutex_lock(&s->lock);
  if (s->n < 64) snprintf(s->lines[s->n++], sizeof s->lines[0], "%.*s", (int)len, line);
  pthread_mutex_unlock(&s->lock);
}

static long long ts_of(const struct seen *s, const char *needle) {
  for (int i = 0; i < s->n; i++)
    if (strstr(s->lines[i], needle)) return atoll(strstr(s->lines[i], "\"ts_us\":") + 8);
  return -1;
}

static void test_a_cluster_fault_is_traced_before_what_it_causes(void **state) {
  (void)state;
  struct mk_partition_state s = create_topic("ordered");
  struct seen seen = {.lock = PTHREAD_MUTEX_INITIALIZER};
  int sink = mk_trace_add_sink(keep_line, &seen);
  assert_true(sink >= 0);
  fault("{\"action\":\"broker_down\",\"broker\":%d}", s.leader);
  struct mk_err err = {0};
  assert_int_equal(fault_error("{\"action\":\"broker_down\",\"broker\":9}", &err),
                   MK_ERR__INVALID_ARG);
  mk_trace_remove_sink(sink);
  long long fault_ts = ts_of(&seen, "\"event\":\"fault\"");
  long long change_ts = ts_of(&seen, "\"event\":\"leader_change\",\"topic\":\"ordered\"");
  assert_true(fault_ts > 0 && change_ts > 0);
  assert_true(fault_ts <= change_ts);
  int faults = 0;
  for (int i = 0; i < seen.n; i++) faults += strstr(seen.lines[i], "\"event\":\"fault\"") != NULL;
  assert_int_equal(faults, 1);  /* the refused one is not traced */
  fault("{\"action\":\"broker_up\",\"broker\":%d}", s.leader);
}

static void test_bad_faults_are_refused_with_reasons(void **state) {
  (void)state;
  struct mk_partition_state s = create_topic("bad");
  struct mk_err err = {0};
  assert_int_equal(fault_error("{\"action\":\"crash\"}", &err), MK_ERR__INVALID_ARG);
  assert_non_null(strstr(err.msg, "unknown action"));
  assert_int_equal(fault_error("{\"action\":\"broker_down\",\"broker\":9}", &err), MK_ERR__INVALID_ARG);
  assert_non_null(strstr(err.msg, "unknown broker 9"));
  assert_int_equal(fault_error("{\"action\":\"error\",\"api\":\"Produce\",\"error\":\"NOPE\"}", &err),
                   MK_ERR__INVALID_ARG);
  assert_int_equal(fault_error("{\"action\":5}", &err), MK_ERR__INVALID_ARG);
  assert_int_equal(fault_error("{\"action\":\"delay\"", &err), MK_ERR__INVALID_ARG);
  assert_non_null(strstr(err.msg, "bad JSON"));
  char json[160];
  snprintf(json, sizeof json, "{\"action\":\"follower_pause\",\"topic\":\"bad\",\"partition\":0,\"broker\":%d}",
           s.leader);
  assert_int_equal(fault_error(json, &err), MK_ERR__STATE);  /* the leader is not a follower */
  assert_non_null(strstr(err.msg, "leads"));
  assert_int_equal(fault_error("{\"action\":\"follower_pause\",\"topic\":\"nope\",\"partition\":0,\"broker\":1}", &err),
                   MK_ERR__INVALID_ARG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_paused_followers_leave_the_isr_and_acks_all_is_refused),
      cmocka_unit_test(test_waiting_acks_all_gets_not_enough_replicas_after_append),
      cmocka_unit_test(test_acks_1_loses_acknowledged_records_when_the_leader_dies),
      cmocka_unit_test(test_acks_all_loses_nothing_acknowledged_when_the_leader_dies),
      cmocka_unit_test(test_lost_response_duplicates_without_idempotence_only),
      cmocka_unit_test(test_silent_drop_stops_the_connection_delivering),
      cmocka_unit_test(test_silent_drop_keeps_the_answers_before_it),
      cmocka_unit_test(test_error_fault_answers_then_disarms),
      cmocka_unit_test(test_error_fault_timed_out_appends_and_not_leader_does_not),
      cmocka_unit_test(test_delay_fault_holds_the_response),
      cmocka_unit_test(test_elect_leader_moves_leadership_and_bumps_the_epoch),
      cmocka_unit_test(test_elect_leader_outside_the_isr_is_refused_unless_unclean),
      cmocka_unit_test(test_a_cluster_fault_is_traced_before_what_it_causes),
      cmocka_unit_test(test_bad_faults_are_refused_with_reasons),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
