/*
 * Tests for replication as Kafka does it: followers pull (broker/replica_fetcher.c) and the
 * leader learns from their fetches (broker/replica_set.c). Checked through what clients
 * and the trace see, and through the partition state broker.h reports:
 *   - the order of events per acks: acks=1 answers before any follower fetches the batch;
 *     acks=all answers after the HW passes it, which takes the followers' *next* fetch
 *   - what the leader knows of each follower (the offset of its last fetch), and each
 *     follower's own high watermark, which lags the leader's until a later fetch answer
 *   - follower_lag and follower_pause acting on fetches; a follower that lags less than
 *     replica.lag.time.max.ms stays in the ISR under a steady stream of appends
 *   - a new leader starting from its own HW; a follower starting over after retention
 *     removed what it lacked; an idle follower costing nothing
 *
 * One broker for the file (replica.lag.time.max.ms 1500, replica.fetch.wait.max.ms 800, so
 * ISR changes and long polls end within seconds); each test makes its own topic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "broker/broker.h"
#include "producer/producer.h"
#include "protocol/messages/produce.h"
#include "tests/support/producer_probe.h"
#include "tests/support/raw_client.h"
#include "tests/support/test_broker.h"

static struct mk_broker *broker;
enum { LAG_MAX_MS = 1500, FETCH_WAIT_MS = 800 };

static int setup(void **state) {
  (void)state;
  return test_broker_start(&broker, "replica.lag.time.max.ms", "1500", "replica.fetch.wait.max.ms",
                           "800", NULL);
}

static int teardown(void **state) {
  (void)state;
  if (!broker) return 0;
  mk_broker_stop(broker);
  mk_broker_free(broker);
  return 0;
}

/* A test that fails midway leaves no captured lines to the next one. */
static int forget_capture(void **state) {
  (void)state;
  capture_stop();
  return 0;
}

/* ---- helpers --------------------------------------------------------------------------- */

#define fault(...) test_broker_fault(broker, __VA_ARGS__)

static struct mk_partition_state state_of(const char *topic) {
  return test_broker_state(broker, topic, 0);
}

/* Replica `id` of s (fails the test if there is none). */
static int replica_index(struct mk_partition_state s, int32_t id) {
  for (int r = 0; r < s.nreplicas; r++)
    if (s.replicas[r].broker == id) return r;
  fail_msg("no replica on broker %d", id);
  return -1;
}
#define REPLICA(s, id) ((s).replicas[replica_index((s), (id))])

static int isr_size(struct mk_partition_state s) {
  int n = 0;
  for (int r = 0; r < s.nreplicas; r++) n += s.replicas[r].in_isr;
  return n;
}

/* Produce `records` records to partition 0 with a raw client (acks 1 or -1); returns the
 * error code, -1000 for no answer. */
static int16_t produce(const char *topic, int32_t leader, int16_t acks, int records) {
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, mk_broker_port(broker, leader)), 0);
  struct mk_writer w;
  mk_writer_init(&w);
  raw_client_build_batch(&w, records, -1, -1, -1);
  struct mk_produce_partition_produce_response *r =
      raw_client_produce(&c, topic, 0, acks, &w, 9, 10000);
  int16_t rc = r ? r->error_code : -1000;
  mk_writer_free(&w);
  raw_client_close(&c);
  return rc;
}

/* A producer of our own (producer/) at these acks, String serializers, linger.ms 0. */
static struct mk_producer *new_producer(const char *acks) {
  struct mk_producer_config *cfg = mk_producer_config_new();
  assert_non_null(cfg);
  struct mk_err err = {0};
  const char *kv[][2] = {{"bootstrap.servers", mk_broker_bootstrap(broker)},
                         {"key.serializer", "StringSerializer"},
                         {"value.serializer", "StringSerializer"},
                         {"acks", acks},
                         {"linger.ms", "0"}};
  for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
    if (mk_producer_config_set(cfg, kv[i][0], kv[i][1], &err)) fail_msg("%s: %s", kv[i][0], err.msg);
  if (mk_producer_config_finish(cfg, &err)) fail_msg("finish: %s", err.msg);
  struct mk_producer *p = NULL;
  if (mk_producer_new(cfg, &p, &err)) fail_msg("mk_producer_new: %s", err.msg);
  mk_producer_config_free(cfg);
  return p;
}

/* ts_us of captured line i. */
static int64_t ts_of(int i) {
  char *line = capture_line(i, NULL);
  assert_non_null(line);
  int64_t ts = json_int(line, "ts_us");
  free(line);
  return ts;
}

static int64_t field_of(int i, const char *key) {
  char *line = capture_line(i, NULL);
  assert_non_null(line);
  int64_t v = json_int(line, key);
  free(line);
  return v;
}

/* Where the trace events of one batch at `offset` of `topic` were captured (their index in
 * the capture, which is emission order; -1 if missing): the broker's append, its Produce
 * response, the followers' replicate events that copied the offset, the hw_advance that
 * passed it, and the producer's complete. Events of one thread are captured in the order
 * they happened, and so are events that cause one another across threads (the broker
 * traces hw_advance before it writes the response the producer completes on); ts_us is
 * only microseconds, so two events may share it. */
struct journey {
  int append, response, complete, hw;
  int64_t hw_fetch_offset;       /* the fetch offset the hw_advance names */
  int replicate[2];              /* the two followers' copies */
  int64_t replicate_fetch_offset[2];
  int nreplicate;
};

static bool is_broker_line(int i) {
  char *line = capture_line(i, NULL);
  bool yes = line && strstr(line, "\"side\":\"broker\"");
  free(line);
  return yes;
}

static struct journey journey_of(const char *topic, int64_t offset) {
  struct journey j = {-1, -1, -1, -1, -1, {-1, -1}, {-1, -1}, 0};
  char tq[96];
  snprintf(tq, sizeof tq, "\"topic\":\"%s\"", topic);
  for (int i = capture_find(0, "\"event\":\"append\"", tq); i >= 0 && j.append < 0;
       i = capture_find(i + 1, "\"event\":\"append\"", tq)) {
    if (is_broker_line(i) && field_of(i, "base_offset") <= offset && field_of(i, "last_offset") >= offset) {
      j.append = i;
      /* Its response: the first Produce response_sent after it. */
      j.response = capture_find(i + 1, "\"event\":\"response_sent\"", "\"api\":\"Produce\"");
    }
  }
  for (int i = capture_find(0, "\"event\":\"replicate\"", tq); i >= 0 && j.nreplicate < 2;
       i = capture_find(i + 1, "\"event\":\"replicate\"", tq)) {
    if (field_of(i, "fetch_offset") <= offset && field_of(i, "log_end_offset") > offset) {
      j.replicate_fetch_offset[j.nreplicate] = field_of(i, "fetch_offset");
      j.replicate[j.nreplicate++] = i;
    }
  }
  for (int i = capture_find(0, "\"event\":\"hw_advance\"", tq); i >= 0 && j.hw < 0;
       i = capture_find(i + 1, "\"event\":\"hw_advance\"", tq)) {
    if (field_of(i, "high_watermark") > offset) {
      j.hw = i;
      j.hw_fetch_offset = field_of(i, "fetch_offset");
    }
  }
  for (int i = capture_find(0, "\"event\":\"complete\"", tq); i >= 0 && j.complete < 0;
       i = capture_find(i + 1, "\"event\":\"complete\"", tq))
    if (field_of(i, "offset") == offset) j.complete = i;
  return j;
}

/* Send one record with p to partition 0 of topic and wait for it (done[1]; warm_up used
 * done[0]); returns its offset. */
static int64_t send_one(struct mk_producer *p, const char *topic) {
  assert_int_equal(send_value(p, topic, 0, NULL, "v", 1), 0);
  flush_ok(p, 10000);
  assert_succeeded(1, 2);
  return done[1].offset;
}

/* ---- the order of events, per acks ----------------------------------------------------- */

static void test_acks_1_answers_before_the_followers_fetch_the_batch(void **state) {
  (void)state;
  test_broker_create_topic(broker, "order-acks1", 1, 3, NULL);
  reset_completions();
  struct mk_producer *p = new_producer("1");
  warm_up(p, "order-acks1", 0);  /* metadata and connections first */
  capture_start(NULL);
  int64_t offset = send_one(p, "order-acks1");
  sleep_ms(50);  /* the followers' fetches and the HW, on the loop's next turns */
  struct journey j = journey_of("order-acks1", offset);
  assert_true(j.append >= 0 && j.response >= 0 && j.complete >= 0 && j.hw >= 0);
  assert_int_equal(j.nreplicate, 2);
  /* The broker answered before either follower had the batch, and the HW passed it only
   * after both had fetched it: the acks=1 promise is the leader's log alone. (Whether the
   * producer's `complete` comes before the followers' copies is a race between its thread
   * reading the answer and the broker's next loop turn, as it is in Kafka between the
   * answer and the follower fetch it completes; the broker's order is what acks decides.) */
  assert_true(j.append < j.response);
  assert_true(j.response < j.replicate[0] && j.response < j.replicate[1]);
  assert_true(j.replicate[0] < j.hw && j.replicate[1] < j.hw);
  assert_true(j.append < j.complete);
  /* Each follower's copying fetch asked for the batch's offset; the HW moved on the fetch
   * after it, which asked for the next offset. */
  assert_int_equal(j.replicate_fetch_offset[0], offset);
  assert_int_equal(j.replicate_fetch_offset[1], offset);
  assert_int_equal(j.hw_fetch_offset, offset + 1);
  capture_stop();
  mk_producer_close(p, 5000);
}

static void test_acks_all_answers_after_the_hw_passes_the_batch(void **state) {
  (void)state;
  test_broker_create_topic(broker, "order-acksall", 1, 3, NULL);
  reset_completions();
  struct mk_producer *p = new_producer("all");
  warm_up(p, "order-acksall", 0);
  capture_start(NULL);
  int64_t offset = send_one(p, "order-acksall");
  struct journey j = journey_of("order-acksall", offset);
  assert_true(j.append >= 0 && j.response >= 0 && j.complete >= 0 && j.hw >= 0);
  assert_int_equal(j.nreplicate, 2);
  assert_true(j.append < j.replicate[0] && j.append < j.replicate[1]);
  assert_true(j.replicate[0] < j.hw && j.replicate[1] < j.hw);
  assert_true(j.hw < j.response);
  assert_true(j.hw < j.complete);  /* the producer hears only after the HW passed it */
  assert_int_equal(j.hw_fetch_offset, offset + 1);
  capture_stop();
  mk_producer_close(p, 5000);
}

/* ---- what the leader knows, and the followers' own high watermarks ---------------------- */

static void test_leader_knows_a_follower_only_from_its_fetches(void **state) {
  (void)state;
  struct mk_partition_state s = test_broker_create_topic(broker, "views", 1, 3, NULL);
  int32_t a = s.followers[0], b = s.followers[1];
  assert_int_equal(produce("views", s.leader, 1, 3), 0);
  struct mk_partition_state now = state_of("views");
  /* Both copied 0..2 and fetched again from 3: the leader knows 3, the HW is 3. */
  assert_int_equal(REPLICA(now, a).log_end_offset, 3);
  assert_int_equal(REPLICA(now, a).leader_view_log_end_offset, 3);
  assert_int_equal(REPLICA(now, b).leader_view_log_end_offset, 3);
  assert_int_equal(now.high_watermark, 3);
  /* Follower a stops fetching: what the leader knows of it stays where its last fetch was,
   * and holds the HW there while a is in the ISR. */
  fault("{\"action\":\"follower_pause\",\"topic\":\"views\",\"partition\":0,\"broker\":%d}", a);
  assert_int_equal(produce("views", s.leader, 1, 2), 0);
  now = state_of("views");
  assert_int_equal(REPLICA(now, b).log_end_offset, 5);
  assert_int_equal(REPLICA(now, b).leader_view_log_end_offset, 5);
  assert_int_equal(REPLICA(now, a).log_end_offset, 3);
  assert_int_equal(REPLICA(now, a).leader_view_log_end_offset, 3);
  assert_int_equal(isr_size(now), 3);
  assert_int_equal(now.high_watermark, 3);
  /* Resumed: one fetch copies 3..4, the next tells the leader, and the HW moves. */
  fault("{\"action\":\"follower_resume\",\"topic\":\"views\",\"partition\":0,\"broker\":%d}", a);
  now = state_of("views");
  assert_int_equal(REPLICA(now, a).leader_view_log_end_offset, 5);
  assert_int_equal(now.high_watermark, 5);
}

static void test_followers_learn_the_high_watermark_from_a_later_answer(void **state) {
  (void)state;
  struct mk_partition_state s = test_broker_create_topic(broker, "own-hw", 1, 3, NULL);
  int64_t start = now_ms();
  assert_int_equal(produce("own-hw", s.leader, -1, 2), 0);
  struct mk_partition_state now = state_of("own-hw");
  /* acks=all was answered at HW 2, but the answer that brought the followers the records
   * said HW 0, and their next fetches wait at the leader with nothing new to carry. */
  assert_int_equal(now.high_watermark, 2);
  assert_int_equal(REPLICA(now, s.leader).high_watermark, 2);
  if (now_ms() - start < FETCH_WAIT_MS / 2) {  /* (a very slow machine could be past it) */
    assert_int_equal(REPLICA(now, s.followers[0]).high_watermark, 0);
    assert_int_equal(REPLICA(now, s.followers[1]).high_watermark, 0);
  }
  /* The long poll ends after replica.fetch.wait.max.ms with an empty answer carrying HW 2. */
  int64_t until = now_ms() + 4 * FETCH_WAIT_MS;
  while ((REPLICA(now, s.followers[0]).high_watermark < 2 ||
          REPLICA(now, s.followers[1]).high_watermark < 2) && now_ms() < until) {
    sleep_ms(20);
    now = state_of("own-hw");
  }
  assert_int_equal(REPLICA(now, s.followers[0]).high_watermark, 2);
  assert_int_equal(REPLICA(now, s.followers[1]).high_watermark, 2);
  assert_true(now_ms() - start >= FETCH_WAIT_MS - 50);
  /* New data brings the HW at once, but the one before it: the leader moves the HW to 3 only
   * when their next fetches ask for 3. */
  assert_int_equal(produce("own-hw", s.leader, 1, 1), 0);
  now = state_of("own-hw");
  assert_int_equal(now.high_watermark, 3);
  assert_int_equal(REPLICA(now, s.followers[0]).log_end_offset, 3);
  assert_int_equal(REPLICA(now, s.followers[0]).high_watermark, 2);
  assert_int_equal(REPLICA(now, s.followers[1]).high_watermark, 2);
}

/* ---- faults acting on fetches ------------------------------------------------------------ */

static void test_a_lagging_follower_copies_late_yet_stays_in_sync(void **state) {
  (void)state;
  struct mk_partition_state s = test_broker_create_topic(broker, "lagging", 1, 3, NULL);
  int32_t slow = s.followers[0], fast = s.followers[1];
  fault("{\"action\":\"follower_lag\",\"topic\":\"lagging\",\"partition\":0,\"broker\":%d,"
        "\"ms\":400}", slow);
  capture_start("\"topic\":\"lagging\"", NULL);
  /* A steady stream for twice replica.lag.time.max.ms: the slow follower is always behind,
   * but never by more than 400 ms, so it is never out of sync for longer than the limit. */
  int64_t until = now_ms() + 2 * LAG_MAX_MS, appended = 0;
  while (now_ms() < until) {
    assert_int_equal(produce("lagging", s.leader, 1, 1), 0);
    appended++;
    struct mk_partition_state now = state_of("lagging");
    assert_int_equal(isr_size(now), 3);
    assert_int_equal(REPLICA(now, fast).log_end_offset, appended);
    sleep_ms(40);
  }
  struct mk_partition_state now = state_of("lagging");
  assert_true(REPLICA(now, slow).log_end_offset < appended);  /* the last batches are young */
  assert_true(now.high_watermark < appended);                  /* and hold the HW back */
  /* Every copy the slow follower made came at least 400 ms after the append. */
  for (int i = capture_find(0, "\"event\":\"replicate\"", NULL); i >= 0;
       i = capture_find(i + 1, "\"event\":\"replicate\"", NULL)) {
    char *line = capture_line(i, NULL);
    bool is_slow = json_int(line, "broker") == slow;
    int64_t fetch_offset = json_int(line, "fetch_offset"), ts = json_int(line, "ts_us");
    free(line);
    if (!is_slow) continue;
    char base[64];
    snprintf(base, sizeof base, "\"topic\":\"lagging\",\"partition\":0,\"base_offset\":%lld,",
             (long long)fetch_offset);
    int a = capture_find(0, "\"event\":\"append\"", base);
    assert_true(a >= 0);
    assert_true(ts - ts_of(a) >= 400 * 1000 - 2000);  /* ms clocks: allow 2 ms of rounding */
  }
  sleep_ms(600);
  now = state_of("lagging");
  assert_int_equal(REPLICA(now, slow).log_end_offset, appended);
  assert_int_equal(now.high_watermark, appended);
  fault("{\"action\":\"follower_lag\",\"broker\":%d,\"ms\":0}", slow);
  capture_stop();
}

static void test_a_follower_behind_the_leaders_log_start_starts_over(void **state) {
  (void)state;
  const char *configs[] = {"retention.bytes=1", NULL};  /* keep only the newest batch */
  struct mk_partition_state s = test_broker_create_topic(broker, "start-over", 1, 3, configs);
  int32_t a = s.followers[0];
  assert_int_equal(produce("start-over", s.leader, -1, 2), 0);
  fault("{\"action\":\"follower_pause\",\"topic\":\"start-over\",\"partition\":0,\"broker\":%d}", a);
  /* Paused long enough to leave the ISR; then the HW moves without it and retention drops
   * the batches it lacks. */
  assert_int_equal(produce("start-over", s.leader, 1, 2), 0);
  int64_t until = now_ms() + 3 * LAG_MAX_MS;
  while (isr_size(state_of("start-over")) != 2 && now_ms() < until) sleep_ms(20);
  assert_int_equal(isr_size(state_of("start-over")), 2);
  for (int i = 0; i < 3; i++) assert_int_equal(produce("start-over", s.leader, -1, 2), 0);
  struct mk_partition_state now = state_of("start-over");
  assert_true(now.log_start_offset > REPLICA(now, a).log_end_offset);
  /* Resumed, its fetch is out of the leader's range: it empties its log, starts at the
   * leader's log start, catches up and rejoins. */
  fault("{\"action\":\"follower_resume\",\"topic\":\"start-over\",\"partition\":0,\"broker\":%d}", a);
  now = state_of("start-over");
  assert_int_equal(REPLICA(now, a).log_end_offset, REPLICA(now, s.leader).log_end_offset);
  assert_true(REPLICA(now, a).in_isr);
  assert_int_equal(now.high_watermark, REPLICA(now, s.leader).log_end_offset);
  struct mk_stored_records recs;
  struct mk_err err = {0};
  assert_int_equal(mk_broker_read_records(broker, "start-over", 0, a, false, &recs, &err), 0);
  assert_true(recs.n > 0);
  assert_int_equal(recs.v[0].offset, now.log_start_offset);
  mk_stored_records_free(&recs);
}

/* ---- leader changes ---------------------------------------------------------------------- */

static void test_a_new_leader_starts_from_its_own_high_watermark(void **state) {
  (void)state;
  struct mk_partition_state s = test_broker_create_topic(broker, "new-leader", 1, 3, NULL);
  capture_start("\"topic\":\"new-leader\"", NULL);
  int64_t start = now_ms();
  assert_int_equal(produce("new-leader", s.leader, -1, 4), 0);
  fault("{\"action\":\"elect_leader\",\"topic\":\"new-leader\",\"partition\":0,\"broker\":%d}",
        s.followers[0]);
  bool in_time = now_ms() - start < FETCH_WAIT_MS / 2;
  struct mk_partition_state now = state_of("new-leader");
  assert_int_equal(now.leader, s.followers[0]);
  int lc = capture_find(0, "\"event\":\"leader_change\"", NULL);
  assert_true(lc >= 0);
  /* As a follower it had heard HW 0 (its last fetch answer); that is where it starts, and
   * the followers' first fetches to it bring the HW back to 4. Nothing is truncated: every
   * replica has the 4 committed records. */
  if (in_time) assert_int_equal(field_of(lc, "high_watermark"), 0);
  int hw = capture_find(lc, "\"event\":\"hw_advance\"", "\"high_watermark\":4");
  assert_true(hw >= 0);
  assert_true(field_of(hw, "broker") >= 0);
  assert_int_equal(now.high_watermark, 4);
  assert_int_equal(capture_count("\"event\":\"truncate\"", NULL), 0);
  for (int r = 0; r < now.nreplicas; r++) {
    assert_int_equal(now.replicas[r].log_end_offset, 4);
    assert_true(now.replicas[r].in_isr);
  }
  capture_stop();
}

/* ---- idle followers ---------------------------------------------------------------------- */

static int64_t cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
         ru.ru_stime.tv_usec;
}

static void test_idle_followers_wait_at_the_leader_and_cost_nothing(void **state) {
  (void)state;
  struct mk_partition_state s = test_broker_create_topic(broker, "idle", 1, 3, NULL);
  assert_int_equal(produce("idle", s.leader, -1, 1), 0);
  sleep_ms(2 * FETCH_WAIT_MS);  /* past any long poll with news */
  char *json = mk_broker_cluster_json(broker);
  assert_non_null(json);
  const char *idle = strstr(json, "\"name\":\"idle\"");
  assert_non_null(idle);
  assert_non_null(strstr(idle, "\"fetch_state\":\"waiting\""));
  assert_non_null(strstr(idle, "\"leader_view_log_end_offset\":1"));
  free(json);
  /* Parked fetches are not polled: the process does (next to) nothing while idle. */
  int64_t before = cpu_us();
  sleep_ms(400);
  assert_true(cpu_us() - before < 50000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_acks_1_answers_before_the_followers_fetch_the_batch, forget_capture),
      cmocka_unit_test_teardown(test_acks_all_answers_after_the_hw_passes_the_batch, forget_capture),
      cmocka_unit_test_teardown(test_leader_knows_a_follower_only_from_its_fetches, forget_capture),
      cmocka_unit_test_teardown(test_followers_learn_the_high_watermark_from_a_later_answer, forget_capture),
      cmocka_unit_test_teardown(test_a_lagging_follower_copies_late_yet_stays_in_sync, forget_capture),
      cmocka_unit_test_teardown(test_a_follower_behind_the_leaders_log_start_starts_over, forget_capture),
      cmocka_unit_test_teardown(test_a_new_leader_starts_from_its_own_high_watermark, forget_capture),
      cmocka_unit_test_teardown(test_idle_followers_wait_at_the_leader_and_cost_nothing, forget_capture),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
