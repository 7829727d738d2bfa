/*
 * The proxy (proxy/proxy.h) in front of real Kafka implementations we did not write, with
 * real clients on the other side:
 *
 *   librdkafka producer/consumer, our producer, raw requests
 *        |
 *   the proxy (embedded, ephemeral ports)
 *        |
 *   librdkafka's mock cluster (3 brokers, ids 1..3; rdkafka_mock.h)   group "mock"
 *   our own broker (where the mock lacks something: DescribeCluster,   group "broker"
 *     idempotent deduplication without transactions, CreateTopics)
 *   a scripted fake broker (answers the proxy cannot read)             group "bad"
 *
 * What passes through must arrive once and whole; every broker address a client learns
 * must be the proxy's; faults must do what they do on our broker. Every wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/broker.h"
#include "protocol/api.h"
#include "protocol/frame.h"
#include "protocol/messages/api_versions.h"
#include "protocol/messages/describe_cluster.h"
#include "protocol/messages/find_coordinator.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/produce.h"
#include "proxy/proxy.h"
#include "tests/support/producer_probe.h"
#include "tests/support/raw_client.h"
#include "tests/support/rdkafka_support.h"
#include "tests/support/test_broker.h"

static struct mock_cluster mock;
static struct mk_broker *broker;   /* group "broker": our broker as the real cluster */
static struct mk_proxy *proxy;     /* the proxy in front of whichever */
static struct mk_producer *producer;

/* ---- the proxy ----------------------------------------------------------------------------- */

static struct mk_proxy *start_proxy(const char *upstream) {
  struct mk_proxy_config cfg;
  mk_proxy_config_init(&cfg);
  cfg.bootstrap_servers = upstream;
  cfg.port = 0;
  cfg.admin_port = -1;
  struct mk_proxy *p = NULL;
  struct mk_err err = {0};
  if (mk_proxy_new(&cfg, &p, &err) || mk_proxy_start(p, &err)) {
    mk_proxy_free(p);
    fail_msg("proxy: %s", err.msg);
  }
  return p;
}

static const char *proxy_bootstrap(void) { return mk_proxy_bootstrap(proxy); }

/* The proxy's port for its i-th listener ("host:port,host:port,..."). */
static int proxy_port(int i) {
  const char *s = proxy_bootstrap();
  for (; i > 0 && s; i--) {
    s = strchr(s, ',');
    if (s) s++;
  }
  assert_non_null(s);
  return atoi(strchr(s, ':') + 1);
}

static bool is_proxy_port(int port) {
  for (int i = 0; i < mk_proxy_broker_count(proxy); i++)
    if (proxy_port(i) == port) return true;
  return false;
}

static void fault(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fault(const char *fmt, ...) {
  char json[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(json, sizeof json, fmt, ap);
  va_end(ap);
  struct mk_err err = {0};
  if (mk_proxy_fault(proxy, json, NULL, &err)) fail_msg("fault %s: %s", json, err.msg);
}

/* ---- producers ---------------------------------------------------------------------------- */

/* Our producer through the proxy: StringSerializers, then (key, value) pairs up to NULL. */
static struct mk_producer *our_producer(const char *first_key, ...) {
  struct mk_producer_config *cfg = mk_producer_config_new();
  struct mk_err err = {0};
  assert_int_equal(mk_producer_config_set(cfg, "bootstrap.servers", proxy_bootstrap(), &err), 0);
  assert_int_equal(mk_producer_config_set(cfg, "key.serializer", "StringSerializer", &err), 0);
  assert_int_equal(mk_producer_config_set(cfg, "value.serializer", "StringSerializer", &err), 0);
  va_list ap;
  va_start(ap, first_key);
  for (const char *k = first_key; k; k = va_arg(ap, const char *)) {
    const char *v = va_arg(ap, const char *);
    if (mk_producer_config_set(cfg, k, v, &err)) fail_msg("%s=%s: %s", k, v, err.msg);
  }
  va_end(ap);
  if (mk_producer_config_finish(cfg, &err)) fail_msg("finish: %s", err.msg);
  if (mk_producer_new(cfg, &producer, &err)) fail_msg("mk_producer_new: %s", err.msg);
  mk_producer_config_free(cfg);
  return producer;
}

/* librdkafka's producer through the proxy; extra (key, value) settings up to NULL. */
static rd_kafka_t *their_producer(const char *first_key, ...) {
  char err[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", proxy_bootstrap(), err, sizeof err),
                   RD_KAFKA_CONF_OK);
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  va_list ap;
  va_start(ap, first_key);
  for (const char *k = first_key; k; k = va_arg(ap, const char *))
    assert_int_equal(rd_kafka_conf_set(conf, k, va_arg(ap, const char *), err, sizeof err),
                     RD_KAFKA_CONF_OK);
  va_end(ap);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  assert_non_null(rk);
  return rk;
}

/* Each of the values "<prefix>-0" .. "<prefix>-(n-1)" read back exactly once. */
static void assert_each_once(const struct consumed *c, int got, const char *prefix, int n) {
  for (int i = 0; i < n; i++) {
    char v[64];
    snprintf(v, sizeof v, "%s-%d", prefix, i);
    int k = count_value(c, got, v);
    if (k != 1) fail_msg("%s was read %d times", v, k);
  }
  assert_int_equal(got, n);
}

static int setup_test(void **state) {
  (void)state;
  reset_completions();
  return 0;
}

static int teardown_test(void **state) {
  (void)state;
  if (producer) mk_producer_close(producer, 0);
  producer = NULL;
  capture_stop();
  if (proxy) mk_proxy_clear_faults(proxy);
  return 0;
}

/* ======================================================================================== */
/* group "mock": librdkafka's mock cluster behind the proxy                                 */
/* ======================================================================================== */

static int setup_mock(void **state) {
  (void)state;
  if (mock_cluster_start(&mock, 3)) return -1;
  proxy = start_proxy(mock.bootstraps);
  return 0;
}

static int teardown_mock(void **state) {
  (void)state;
  mk_proxy_free(proxy);
  proxy = NULL;
  mock_cluster_stop(&mock);
  return 0;
}

static void mock_topic(const char *name, int partitions) {
  assert_int_equal(rd_kafka_mock_topic_create(mock.cluster, name, partitions, 3), 0);
}

static void test_metadata_names_only_the_proxys_listeners(void **state) {
  (void)state;
  mock_topic("px-meta", 3);
  rd_kafka_t *rk = their_producer(NULL);
  const struct rd_kafka_metadata *md = NULL;
  assert_int_equal(rd_kafka_metadata(rk, 1, NULL, &md, 5000), 0);
  assert_int_equal(md->broker_cnt, 3);
  for (int i = 0; i < md->broker_cnt; i++) {
    assert_string_equal(md->brokers[i].host, "127.0.0.1");
    if (!is_proxy_port(md->brokers[i].port))
      fail_msg("broker %d is at port %d: not one of the proxy's (%s)", md->brokers[i].id,
               md->brokers[i].port, proxy_bootstrap());
    assert_true(md->brokers[i].id >= 1 && md->brokers[i].id <= 3);  /* the mock's node ids */
  }
  rd_kafka_metadata_destroy(md);
  rd_kafka_destroy(rk);
}

static void test_find_coordinator_names_the_proxys_listener(void **state) {
  (void)state;
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, proxy_port(0)), 0);
  struct mk_find_coordinator_request req;
  mk_schema_set_defaults(&mk_find_coordinator_request_schema, &req);
  req.key = mk_str_of("px-group");
  struct mk_find_coordinator_response *resp = NULL;
  assert_int_equal(raw_client_call(&c, MK_API_FIND_COORDINATOR, 2, &req, (void **)&resp, 5000), 0);
  assert_int_equal(resp->error_code, 0);
  assert_true(resp->node_id >= 1 && resp->node_id <= 3);
  assert_true(is_proxy_port(resp->port));
  raw_client_close(&c);
}

static void test_librdkafka_produces_and_consumes_every_record_once(void **state) {
  (void)state;
  enum { N = 300 };
  mock_topic("px-rdk", 3);
  rd_kafka_t *rk = their_producer("linger.ms", "5", NULL);
  for (int i = 0; i < N; i++) {
    char key[16], value[32];
    snprintf(key, sizeof key, "k%d", i);
    snprintf(value, sizeof value, "rdk-%d", i);
    assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("px-rdk"),
                                       RD_KAFKA_V_KEY(key, strlen(key)),
                                       RD_KAFKA_V_VALUE(value, strlen(value)),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     0);
  }
  assert_int_equal(rd_kafka_flush(rk, 10000), 0);
  assert_int_equal(rd_kafka_outq_len(rk), 0);
  rd_kafka_destroy(rk);
  static struct consumed c[N + 50];
  int got = consume_all(proxy_bootstrap(), "px-rdk", 3, c, N + 50, N, 15000);
  assert_each_once(c, got, "rdk", N);
}

static void test_our_producer_produces_every_record_once(void **state) {
  (void)state;
  enum { N = 300 };
  mock_topic("px-ours", 3);
  struct mk_producer *p = our_producer("linger.ms", "5", NULL);
  for (int i = 0; i < N; i++) {
    char key[16], value[32];
    snprintf(key, sizeof key, "k%d", i);
    snprintf(value, sizeof value, "ours-%d", i);
    assert_int_equal(send_value(p, "px-ours", -1, key, value, i), 0);
  }
  flush_ok(p, 15000);
  assert_succeeded(0, N);
  static struct consumed c[N + 50];
  int got = consume_all(proxy_bootstrap(), "px-ours", 3, c, N + 50, N, 15000);
  assert_each_once(c, got, "ours", N);
}

/* A lost answer: the mock wrote the batch; the producer retries it; without idempotence the
 * cluster writes it again. The proxy's trace shows both appends and the dropped answer. */
static void test_drop_response_makes_duplicates_without_idempotence(void **state) {
  (void)state;
  enum { N = 5 };
  mock_topic("px-dup", 1);
  capture_start("\"via\":\"proxy\"", "\"event\":\"fault\"", NULL);
  struct mk_producer *p = our_producer("enable.idempotence", "false", "acks", "all",
                                       "linger.ms", "50", NULL);
  fault("{\"action\": \"drop_response\", \"api\": \"Produce\", \"topic\": \"px-dup\", "
        "\"count\": 1, \"mode\": \"close\"}");
  for (int i = 0; i < N; i++) {
    char v[32];
    snprintf(v, sizeof v, "dup-%d", i);
    assert_int_equal(send_value(p, "px-dup", 0, NULL, v, i), 0);
  }
  flush_ok(p, 15000);
  assert_succeeded(0, N);
  static struct consumed c[4 * N];
  int got = consume_all(proxy_bootstrap(), "px-dup", 1, c, 4 * N, 2 * N, 10000);
  assert_int_equal(got, 2 * N);
  for (int i = 0; i < N; i++) {
    char v[32];
    snprintf(v, sizeof v, "dup-%d", i);
    assert_int_equal(count_value(c, got, v), 2);
  }
  assert_int_equal(capture_count("\"event\":\"response_dropped\"", "\"why\":\"close\""), 1);
  assert_int_equal(capture_count("\"event\":\"append\"", "\"topic\":\"px-dup\""), 2);
  assert_int_equal(capture_count("\"event\":\"duplicate\"", NULL), 0);
}

/* broker_down on the proxy: the broker's listener refuses connections, the real broker
 * carries on. Clients keep working with the brokers still reachable; a partition whose
 * leader is the dead one waits until the cluster moves its leader (here: the test moves it
 * in the mock, as a real cluster's controller would), then goes on there. */
static void test_broker_down_moves_clients_to_the_other_brokers(void **state) {
  (void)state;
  mock_topic("px-down", 3);
  for (int p = 0; p < 3; p++)  /* partition p led by broker p + 1 */
    assert_int_equal(rd_kafka_mock_partition_set_leader(mock.cluster, "px-down", p, p + 1), 0);
  capture_start("\"side\":\"producer\"", NULL);
  struct mk_producer *p = our_producer("linger.ms", "0", "delivery.timeout.ms", "30000",
                                       "request.timeout.ms", "3000", NULL);
  /* Every partition is reachable: a record to each arrives. */
  for (int part = 0; part < 3; part++) {
    char v[16];
    snprintf(v, sizeof v, "up-%d", part);
    assert_int_equal(send_value(p, "px-down", part, NULL, v, 100 + part), 0);
  }
  flush_ok(p, 10000);
  assert_succeeded(100, 103);
  fault("{\"action\": \"broker_down\", \"broker\": 2}");
  struct raw_client rc;
  int port2 = proxy_port(1);
  bool refused = raw_client_connect(&rc, port2) != 0;
  raw_client_close(&rc);
  assert_true(refused);
  /* Partitions 0 and 2 (brokers 1 and 3) go on at once. */
  assert_int_equal(send_value(p, "px-down", 0, NULL, "down-0", 1), 0);
  assert_int_equal(send_value(p, "px-down", 2, NULL, "down-2", 2), 0);
  assert_int_equal(wait_completions(3 + 2, 10000), 3 + 2);
  /* Partition 1 (broker 2) waits: its leader is out of reach. */
  assert_int_equal(send_value(p, "px-down", 1, NULL, "down-1", 3), 0);
  sleep_ms(1000);
  assert_int_equal(atomic_load(&done[3].calls), 0);
  /* The cluster elects broker 3: the producer learns it from Metadata and moves there. */
  assert_int_equal(rd_kafka_mock_partition_set_leader(mock.cluster, "px-down", 1, 3), 0);
  flush_ok(p, 20000);
  assert_succeeded(1, 4);
  assert_int_equal(done[3].partition, 1);
  assert_true(capture_count("\"event\":\"request_sent\"", "\"broker\":3,") >= 2);
  fault("{\"action\": \"broker_up\", \"broker\": 2}");
  assert_int_equal(raw_client_connect(&rc, port2), 0);
  raw_client_close(&rc);
  static struct consumed c[16];
  int got = consume_all(proxy_bootstrap(), "px-down", 3, c, 16, 6, 10000);
  assert_int_equal(count_value(c, got, "down-1"), 1);
  assert_int_equal(count_value(c, got, "down-0"), 1);
  assert_int_equal(count_value(c, got, "down-2"), 1);
}

static void test_cluster_actions_are_refused_with_the_reason(void **state) {
  (void)state;
  struct mk_err err = {0};
  assert_int_not_equal(mk_proxy_fault(proxy, "{\"action\": \"follower_pause\", \"topic\": "
                                             "\"px-meta\", \"partition\": 0, \"broker\": 2}",
                                      NULL, &err),
                       0);
  assert_non_null(strstr(err.msg, "inside a cluster"));
  assert_int_not_equal(mk_proxy_fault(proxy, "{\"action\": \"broker_down\", \"broker\": 7}", NULL,
                                      &err),
                       0);
  assert_non_null(strstr(err.msg, "unknown broker 7; brokers are 1, 2, 3"));
  /* A topic the proxy has never seen may exist in the cluster: armed. */
  int id = -1;
  assert_int_equal(mk_proxy_fault(proxy, "{\"action\": \"delay\", \"ms\": 1, \"topic\": "
                                         "\"not-seen-yet\", \"api\": \"Produce\"}",
                                  &id, &err),
                   0);
  assert_true(id > 0);
  char *faults = mk_proxy_faults_json(proxy);
  assert_non_null(strstr(faults, "not-seen-yet"));
  free(faults);
  char *cluster = mk_proxy_cluster_json(proxy);
  assert_non_null(strstr(cluster, "\"not_visible\""));
  assert_non_null(strstr(cluster, "\"id\":2"));
  free(cluster);
}

/* ======================================================================================== */
/* group "broker": our broker behind the proxy, for what the mock lacks                    */
/* ======================================================================================== */

static int setup_broker(void **state) {
  (void)state;
  if (test_broker_start(&broker, NULL)) return -1;
  proxy = start_proxy(mk_broker_bootstrap(broker));
  return 0;
}

static int teardown_broker(void **state) {
  (void)state;
  mk_proxy_free(proxy);
  proxy = NULL;
  mk_broker_stop(broker);
  mk_broker_free(broker);
  broker = NULL;
  return 0;
}

/* With idempotence the cluster recognises the retry of a batch whose answer was lost: the
 * proxy reads the original offsets in the answer and says `duplicate`. */
static void test_drop_response_makes_no_duplicates_with_idempotence(void **state) {
  (void)state;
  enum { N = 5 };
  test_broker_create_topic(broker, "px-idem", 1, 3, NULL);
  capture_start("\"via\":\"proxy\"", NULL);
  struct mk_producer *p = our_producer("enable.idempotence", "true", "linger.ms", "50", NULL);
  warm_up(p, "px-idem", 99);
  fault("{\"action\": \"drop_response\", \"api\": \"Produce\", \"topic\": \"px-idem\", "
        "\"count\": 1, \"mode\": \"close\"}");
  for (int i = 0; i < N; i++) {
    char v[32];
    snprintf(v, sizeof v, "idem-%d", i);
    assert_int_equal(send_value(p, "px-idem", 0, NULL, v, i), 0);
  }
  flush_ok(p, 15000);
  assert_succeeded(0, N);
  static struct consumed c[4 * N];
  int got = consume_all(proxy_bootstrap(), "px-idem", 1, c, 4 * N, N + 1, 10000);
  assert_int_equal(got, N + 1);  /* the warm-up record and each value once */
  for (int i = 0; i < N; i++) {
    char v[32];
    snprintf(v, sizeof v, "idem-%d", i);
    assert_int_equal(count_value(c, got, v), 1);
  }
  assert_int_equal(capture_count("\"event\":\"duplicate\"", "\"topic\":\"px-idem\""), 1);
  assert_int_equal(capture_count("\"event\":\"append\"", "\"topic\":\"px-idem\""), 2);
}

static void test_describe_cluster_names_the_proxys_listeners(void **state) {
  (void)state;
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, proxy_port(1)), 0);
  struct mk_describe_cluster_request req;
  mk_schema_set_defaults(&mk_describe_cluster_request_schema, &req);
  struct mk_describe_cluster_response *resp = NULL;
  assert_int_equal(raw_client_call(&c, MK_API_DESCRIBE_CLUSTER, 1, &req, (void **)&resp, 5000),
                   0);
  assert_int_equal(resp->error_code, 0);
  assert_int_equal(resp->brokers_count, 3);
  for (int i = 0; i < resp->brokers_count; i++) assert_true(is_proxy_port(resp->brokers[i].port));
  raw_client_close(&c);
}

static int64_t leader_leo(const struct mk_partition_state *st) {
  for (int r = 0; r < st->nreplicas; r++)
    if (st->replicas[r].broker == st->leader) return st->replicas[r].log_end_offset;
  return -1;
}

/* A Produce request to two partitions, and an error fault on one: the proxy answers that
 * one itself and forwards only the other (the broker writes it, never the first). */
static void test_error_fault_on_part_of_a_request_forwards_the_rest(void **state) {
  (void)state;
  test_broker_create_topic(broker, "px-split", 4, 3, NULL);
  /* Two partitions with one leader, so one request may carry both. */
  struct mk_partition_state a = test_broker_state(broker, "px-split", 0), b;
  int32_t other = -1;
  for (int32_t i = 1; i < 4 && other < 0; i++)
    if ((b = test_broker_state(broker, "px-split", i)).leader == a.leader) other = i;
  assert_true(other > 0);
  fault("{\"action\": \"error\", \"api\": \"Produce\", \"topic\": \"px-split\", \"partition\": "
        "0, \"error\": \"NOT_LEADER_OR_FOLLOWER\", \"count\": 1}");
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, proxy_port(a.leader)), 0);
  struct mk_writer b0, b1;
  mk_writer_init(&b0);
  mk_writer_init(&b1);
  raw_client_build_batch(&b0, 2, -1, -1, -1);
  raw_client_build_batch(&b1, 3, -1, -1, -1);
  struct mk_produce_partition_produce_data parts[2] = {
      {0, {b0.buf, (int32_t)b0.len}}, {other, {b1.buf, (int32_t)b1.len}}};
  struct mk_produce_topic_produce_data topic = {mk_str_of("px-split"), parts, 2};
  struct mk_produce_request req = {MK_STR_NULL, 1, 5000, &topic, 1};
  struct mk_produce_response *resp = NULL;
  assert_int_equal(raw_client_call(&c, MK_API_PRODUCE, 8, &req, (void **)&resp, 5000), 0);
  assert_int_equal(resp->responses_count, 1);
  int16_t e0 = -1, e1 = -1;
  int64_t offset1 = -2;
  for (int i = 0; i < resp->responses[0].partition_responses_count; i++) {
    struct mk_produce_partition_produce_response *pr = &resp->responses[0].partition_responses[i];
    if (pr->index == 0) e0 = pr->error_code;
    if (pr->index == other) {
      e1 = pr->error_code;
      offset1 = pr->base_offset;
    }
  }
  assert_int_equal(e0, MK_ERR_NOT_LEADER_OR_FOLLOWER);
  assert_int_equal(e1, 0);
  assert_int_equal(offset1, 0);
  raw_client_close(&c);
  mk_writer_free(&b0);
  mk_writer_free(&b1);
  struct mk_partition_state after0 = test_broker_state(broker, "px-split", 0);
  struct mk_partition_state after1 = test_broker_state(broker, "px-split", other);
  assert_int_equal(leader_leo(&after0), 0);  /* nothing reached partition 0 */
  assert_int_equal(leader_leo(&after1), 3);
}

/* REQUEST_TIMED_OUT is an error Kafka returns after writing: the proxy forwards the request
 * and puts the error on the answer, so the records are in the log though the producer was
 * told they failed. */
static void test_error_after_append_is_forwarded_then_answered_with_the_error(void **state) {
  (void)state;
  struct mk_partition_state st = test_broker_create_topic(broker, "px-after", 1, 3, NULL);
  fault("{\"action\": \"error\", \"api\": \"Produce\", \"topic\": \"px-after\", \"error\": "
        "\"REQUEST_TIMED_OUT\", \"count\": 1}");
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, proxy_port(st.leader)), 0);
  struct mk_writer b;
  mk_writer_init(&b);
  raw_client_build_batch(&b, 4, -1, -1, -1);
  struct mk_produce_partition_produce_response *pr =
      raw_client_produce(&c, "px-after", 0, 1, &b, 8, 5000);
  assert_non_null(pr);
  assert_int_equal(pr->error_code, MK_ERR_REQUEST_TIMED_OUT);
  assert_int_equal(pr->base_offset, -1);
  raw_client_close(&c);
  mk_writer_free(&b);
  struct mk_partition_state after = test_broker_state(broker, "px-after", 0);
  assert_int_equal(leader_leo(&after), 4);
}

/* A whole request covered: the proxy answers, the broker never sees it. Our producer
 * retries and the record arrives once. */
static void test_error_fault_is_answered_without_forwarding(void **state) {
  (void)state;
  test_broker_create_topic(broker, "px-err", 1, 3, NULL);
  struct mk_producer *p = our_producer("linger.ms", "0", NULL);
  warm_up(p, "px-err", 99);
  capture_start("\"event\":\"request_received\"", "\"event\":\"retry\"", NULL);
  fault("{\"action\": \"error\", \"api\": \"Produce\", \"topic\": \"px-err\", \"error\": "
        "\"NOT_ENOUGH_REPLICAS\", \"count\": 2}");
  assert_int_equal(send_value(p, "px-err", 0, NULL, "once", 0), 0);
  flush_ok(p, 15000);
  assert_succeeded(0, 1);
  /* Three Produce requests reached the proxy; only the third reached the broker (whose own
   * request_received events have no "via"). */
  int via_proxy = capture_count("\"api\":\"Produce\"", "\"via\":\"proxy\"");
  int at_broker = capture_count("\"api\":\"Produce\"", NULL) - via_proxy;
  assert_int_equal(via_proxy, 3);
  assert_int_equal(at_broker, 1);
  assert_int_equal(capture_count("\"event\":\"retry\"", "NOT_ENOUGH_REPLICAS"), 2);
  struct consumed c[8];
  int got = consume_all(proxy_bootstrap(), "px-err", 1, c, 8, 2, 10000);
  assert_int_equal(count_value(c, got, "once"), 1);
}

static void test_delay_holds_the_answer(void **state) {
  (void)state;
  fault("{\"action\": \"delay\", \"api\": \"ApiVersions\", \"ms\": 400, \"count\": 1}");
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, proxy_port(0)), 0);
  struct mk_api_versions_request req;
  mk_schema_set_defaults(&mk_api_versions_request_schema, &req);
  void *resp;
  int64_t t0 = now_ms();
  assert_int_equal(raw_client_call(&c, MK_API_API_VERSIONS, 0, &req, &resp, 5000), 0);
  int64_t first = now_ms() - t0;
  t0 = now_ms();
  assert_int_equal(raw_client_call(&c, MK_API_API_VERSIONS, 0, &req, &resp, 5000), 0);
  int64_t second = now_ms() - t0;
  raw_client_close(&c);
  assert_true(first >= 390);
  assert_true(second < 300);
}

/* The proxy's own answer (an error fault) is held by a delay fault as the cluster's would be:
 * what the ordering lab relies on (the refused request's answer comes late). */
static void test_delay_holds_an_answer_the_proxy_made(void **state) {
  (void)state;
  struct mk_partition_state st = test_broker_create_topic(broker, "px-late", 1, 3, NULL);
  fault("{\"action\": \"error\", \"api\": \"Produce\", \"topic\": \"px-late\", \"error\": "
        "\"NOT_ENOUGH_REPLICAS\", \"count\": 1}");
  fault("{\"action\": \"delay\", \"api\": \"Produce\", \"topic\": \"px-late\", \"ms\": 400, "
        "\"count\": 1}");
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, proxy_port(st.leader)), 0);
  struct mk_writer b;
  mk_writer_init(&b);
  raw_client_build_batch(&b, 1, -1, -1, -1);
  int64_t t0 = now_ms();
  struct mk_produce_partition_produce_response *pr =
      raw_client_produce(&c, "px-late", 0, 1, &b, 8, 5000);
  int64_t took = now_ms() - t0;
  assert_non_null(pr);
  assert_int_equal(pr->error_code, MK_ERR_NOT_ENOUGH_REPLICAS);
  assert_true(took >= 390);
  raw_client_close(&c);
  mk_writer_free(&b);
  struct mk_partition_state after = test_broker_state(broker, "px-late", 0);
  assert_int_equal(leader_leo(&after), 0);  /* it never reached the broker */
}

/* A silent drop: the answer never comes, nor any after it; the connection stays open. */
static void test_silent_drop_stops_the_connection_delivering(void **state) {
  (void)state;
  fault("{\"action\": \"drop_response\", \"api\": \"ApiVersions\", \"count\": 1, \"mode\": "
        "\"silent\"}");
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, proxy_port(0)), 0);
  struct mk_api_versions_request req;
  mk_schema_set_defaults(&mk_api_versions_request_schema, &req);
  assert_int_equal(raw_client_send(&c, MK_API_API_VERSIONS, 0, &req), 0);
  assert_int_equal(raw_client_send(&c, MK_API_API_VERSIONS, 0, &req), 0);
  void *resp;
  assert_int_equal(raw_client_receive(&c, MK_API_API_VERSIONS, 0, &resp, 800), MK_ERR__TIMED_OUT);
  raw_client_close(&c);
  /* A new connection is served as usual. */
  assert_int_equal(raw_client_connect(&c, proxy_port(0)), 0);
  assert_int_equal(raw_client_call(&c, MK_API_API_VERSIONS, 0, &req, &resp, 5000), 0);
  raw_client_close(&c);
}

static void test_fault_script_fires_on_the_proxy(void **state) {
  (void)state;
  char path[] = "/tmp/mk-proxy-faults-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *text =
      "# a --faults file, as for minikafka broker\n"
      "{\"at_ms\": 50, \"action\": \"broker_down\", \"broker\": 2}\n"
      "{\"after\": {\"api\": \"ApiVersions\", \"count\": 1}, \"action\": \"broker_up\", "
      "\"broker\": 2}\n";
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  struct mk_proxy_config cfg;
  mk_proxy_config_init(&cfg);
  cfg.bootstrap_servers = mk_broker_bootstrap(broker);
  cfg.port = 0;
  cfg.admin_port = -1;
  cfg.faults_file = path;
  struct mk_proxy *p = NULL;
  struct mk_err err = {0};
  assert_int_equal(mk_proxy_new(&cfg, &p, &err), 0);
  assert_int_equal(mk_proxy_start(p, &err), 0);
  sleep_ms(300);
  char *faults = mk_proxy_faults_json(p);
  assert_non_null(strstr(faults, "broker 2 is down"));
  free(faults);
  struct raw_client c;
  int port0 = atoi(strchr(mk_proxy_bootstrap(p), ':') + 1);
  assert_int_equal(raw_client_connect(&c, port0), 0);
  struct mk_api_versions_request req;
  mk_schema_set_defaults(&mk_api_versions_request_schema, &req);
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_API_VERSIONS, 0, &req, &resp, 5000), 0);
  raw_client_close(&c);
  sleep_ms(100);
  faults = mk_proxy_faults_json(p);
  assert_non_null(strstr(faults, "broker 2 is up"));
  free(faults);
  mk_proxy_free(p);
  /* A bad line stops the proxy from starting, naming the line. */
  FILE *f = fopen(path, "w");
  fputs("{\"at_ms\": 1, \"action\": \"broker_down\", \"broker\": 2}\n{\"action\": 3}\n", f);
  fclose(f);
  assert_int_not_equal(mk_proxy_new(&cfg, &p, &err), 0);
  assert_non_null(strstr(err.msg, "line 2"));
  unlink(path);
}

/* ======================================================================================== */
/* group "bad": what must not take the proxy down                                           */
/* ======================================================================================== */

/* A fake broker on a thread: it answers ApiVersions v0 and Metadata (enough for discovery)
 * with our codec, and everything else as the test scripts it. */
struct fake {
  int listen_fd, port;
  pthread_t thread;
  volatile int stop;
};
static struct fake fake;

static int read_full(int fd, void *buf, size_t len) {
  uint8_t *p = buf;
  while (len > 0) {
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, 100) <= 0) {
      if (fake.stop) return -1;
      continue;
    }
    ssize_t n = read(fd, p, len);
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static void write_frame(int fd, const struct mk_writer *w) {
  if (write(fd, w->buf, w->len) != (ssize_t)w->len) return;
}

static void fake_answer(int fd, const uint8_t *req, size_t len) {
  struct mk_reader r;
  mk_reader_init(&r, req, len);
  int16_t api_key = mk_read_i16(&r), version = mk_read_i16(&r);
  int32_t cid = mk_read_i32(&r);
  struct mk_writer w;
  mk_writer_init(&w);
  struct mk_err err = {0};
  if (api_key == MK_API_API_VERSIONS) {
    struct mk_api_versions_response resp;
    mk_schema_set_defaults(&mk_api_versions_response_schema, &resp);
    struct mk_api_versions_api_version keys[3] = {{3, 0, 14}, {18, 0, 3}, {99, 0, 0}};
    resp.api_keys = keys;
    resp.api_keys_count = 3;
    mk_response_encode(&w, MK_API_API_VERSIONS, 0, cid, &resp, &err);
  } else if (api_key == MK_API_METADATA && version <= 13) {
    struct mk_metadata_response resp;
    mk_schema_set_defaults(&mk_metadata_response_schema, &resp);
    struct mk_metadata_response_broker b = {1, mk_str_of("127.0.0.1"), fake.port, MK_STR_NULL};
    resp.brokers = &b;
    resp.brokers_count = 1;
    resp.controller_id = 1;
    resp.cluster_id = mk_str_of("fake");
    mk_response_encode(&w, MK_API_METADATA, version, cid, &resp, &err);
  } else {
    /* Metadata v14 (which the proxy cannot read) or an API it does not know (99): the
     * correlation id, then bytes only the client would understand. */
    static const char payload[] = "\x00opaque-answer";
    mk_write_i32(&w, (int32_t)(4 + 1 + sizeof payload - 1));
    mk_write_i32(&w, cid);
    mk_write_i8(&w, 0);  /* an empty tagged-field section, as a flexible header would */
    mk_write_raw(&w, payload, sizeof payload - 1);
  }
  write_frame(fd, &w);
  mk_writer_free(&w);
}

static void *fake_main(void *arg) {
  (void)arg;
  int fds[16], n = 0;
  while (!fake.stop) {
    struct pollfd pfds[17];
    pfds[0] = (struct pollfd){fake.listen_fd, POLLIN, 0};
    for (int i = 0; i < n; i++) pfds[i + 1] = (struct pollfd){fds[i], POLLIN, 0};
    if (poll(pfds, (nfds_t)n + 1, 100) <= 0) continue;
    if ((pfds[0].revents & POLLIN) && n < 16) {
      int fd = accept(fake.listen_fd, NULL, NULL);
      if (fd >= 0) fds[n++] = fd;
    }
    for (int i = 0; i < n; i++) {
      if (!(pfds[i + 1].revents & (POLLIN | POLLHUP))) continue;
      uint8_t size_buf[4];
      uint8_t *frame = NULL;
      int32_t size = 0;
      if (read_full(fds[i], size_buf, 4) == 0) {
        size = (int32_t)mk_load_u32(size_buf);
        frame = size > 0 && size < (1 << 20) ? malloc((size_t)size) : NULL;
      }
      if (!frame || read_full(fds[i], frame, (size_t)size) != 0) {
        free(frame);
        close(fds[i]);
        fds[i--] = fds[--n];
        continue;
      }
      fake_answer(fds[i], frame, (size_t)size);
      free(frame);
    }
  }
  for (int i = 0; i < n; i++) close(fds[i]);
  return NULL;
}

static int setup_bad(void **state) {
  (void)state;
  fake.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fake.listen_fd, (struct sockaddr *)&a, sizeof a) || listen(fake.listen_fd, 8) ||
      getsockname(fake.listen_fd, (struct sockaddr *)&a, &len))
    return -1;
  fake.port = ntohs(a.sin_port);
  fake.stop = 0;
  if (pthread_create(&fake.thread, NULL, fake_main, NULL)) return -1;
  char bootstrap[64];
  snprintf(bootstrap, sizeof bootstrap, "127.0.0.1:%d", fake.port);
  proxy = start_proxy(bootstrap);
  return 0;
}

static int teardown_bad(void **state) {
  (void)state;
  mk_proxy_free(proxy);
  proxy = NULL;
  fake.stop = 1;
  pthread_join(fake.thread, NULL);
  close(fake.listen_fd);
  return 0;
}

/* Bytes of a request header, then body bytes, as a frame. */
static void raw_request(struct mk_writer *w, int16_t api_key, int16_t version, int32_t cid,
                        bool flexible, const void *body, size_t body_len) {
  size_t at = w->len;
  mk_write_i32(w, 0);
  mk_write_i16(w, api_key);
  mk_write_i16(w, version);
  mk_write_i32(w, cid);
  mk_write_string(w, mk_str_of("raw"), false);
  if (flexible) mk_write_uvarint(w, 0);
  mk_write_raw(w, body, body_len);
  mk_writer_patch_i32(w, at, (int32_t)(w->len - at - 4));
}

static void test_an_answer_the_proxy_cannot_rewrite_closes_the_connection(void **state) {
  (void)state;
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, proxy_port(0)), 0);
  struct mk_writer w;
  mk_writer_init(&w);
  static const uint8_t body[] = {0x00 /* topics: null */, 0x01, 0x00, 0x00 /* tags */};
  raw_request(&w, MK_API_METADATA, 14, 7, true, body, sizeof body);
  assert_int_equal(raw_client_send_bytes(&c, w.buf, w.len), 0);
  mk_writer_free(&w);
  /* Not a byte of the fake broker's answer (which would carry its real address) arrives:
   * the connection closes. */
  assert_true(raw_client_closed_by_peer(&c, 3000));
  raw_client_close(&c);
}

static void test_an_api_the_proxy_does_not_know_passes_untouched(void **state) {
  (void)state;
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, proxy_port(0)), 0);
  struct mk_writer w;
  mk_writer_init(&w);
  static const uint8_t body[] = {1, 2, 3};
  raw_request(&w, 99, 0, 42, false, body, sizeof body);
  assert_int_equal(raw_client_send_bytes(&c, w.buf, w.len), 0);
  mk_writer_free(&w);
  uint8_t got[64];
  size_t n = 0;
  int64_t until = now_ms() + 3000;
  static const uint8_t want[] = {0, 0, 0, 19, 0, 0, 0, 42, 0, 0, 'o', 'p', 'a', 'q', 'u', 'e',
                                 '-', 'a', 'n', 's', 'w', 'e', 'r'};
  while (n < sizeof want && now_ms() < until) {
    struct pollfd pfd = {c.fd, POLLIN, 0};
    if (poll(&pfd, 1, 100) <= 0) continue;
    ssize_t k = read(c.fd, got + n, sizeof got - n);
    if (k <= 0) break;
    n += (size_t)k;
  }
  assert_int_equal(n, sizeof want);
  assert_memory_equal(got, want, sizeof want);
  raw_client_close(&c);
}

static void test_garbage_from_a_client_closes_only_its_connection(void **state) {
  (void)state;
  static const uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4};
  static const uint8_t tiny[] = {0, 0, 0, 3, 1, 2, 3};
  static const uint8_t negative[] = {0xff, 0xff, 0xff, 0xfe};
  const struct {
    const uint8_t *bytes;
    size_t len;
  } cases[] = {{huge, sizeof huge}, {tiny, sizeof tiny}, {negative, sizeof negative}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct raw_client c;
    assert_int_equal(raw_client_connect(&c, proxy_port(0)), 0);
    assert_int_equal(raw_client_send_bytes(&c, cases[i].bytes, cases[i].len), 0);
    if (!raw_client_closed_by_peer(&c, 3000)) fail_msg("case %zu: the connection stayed open", i);
    raw_client_close(&c);
  }
  /* Everyone else is served as before. */
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, proxy_port(0)), 0);
  struct mk_api_versions_request req;
  mk_schema_set_defaults(&mk_api_versions_request_schema, &req);
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_API_VERSIONS, 0, &req, &resp, 5000), 0);
  raw_client_close(&c);
}

static void test_a_cluster_that_does_not_answer_is_a_clear_error(void **state) {
  (void)state;
  /* A port nobody listens on: bind one, learn it, close it. */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  getsockname(fd, (struct sockaddr *)&a, &len);
  close(fd);
  char bootstrap[128];
  snprintf(bootstrap, sizeof bootstrap, "127.0.0.1:%d,not-a-server", ntohs(a.sin_port));
  struct mk_proxy_config cfg;
  mk_proxy_config_init(&cfg);
  cfg.bootstrap_servers = bootstrap;
  cfg.port = 0;
  cfg.admin_port = -1;
  cfg.timeout_ms = 3000;
  struct mk_proxy *p = NULL;
  struct mk_err err = {0};
  int64_t t0 = now_ms();
  assert_int_not_equal(mk_proxy_new(&cfg, &p, &err), 0);
  assert_null(p);
  assert_true(now_ms() - t0 < 5000);
  assert_non_null(strstr(err.msg, "connection refused"));
  assert_non_null(strstr(err.msg, "\"not-a-server\" is not host:port"));
}

/* The cluster goes away under connected clients: their connections close, the proxy stays
 * up and says so to new ones, and shuts down cleanly. */
static void test_a_cluster_that_disappears_closes_connections_not_the_proxy(void **state) {
  (void)state;
  struct mock_cluster m;
  assert_int_equal(mock_cluster_start(&m, 3), 0);
  struct mk_proxy *saved = proxy;
  proxy = start_proxy(m.bootstraps);
  struct raw_client c;
  assert_int_equal(raw_client_connect(&c, proxy_port(0)), 0);
  struct mk_api_versions_request req;
  mk_schema_set_defaults(&mk_api_versions_request_schema, &req);
  void *resp;
  assert_int_equal(raw_client_call(&c, MK_API_API_VERSIONS, 0, &req, &resp, 5000), 0);
  mock_cluster_stop(&m);
  assert_true(raw_client_closed_by_peer(&c, 5000));
  raw_client_close(&c);
  /* New clients are let in, then let go: there is nobody to forward to. */
  assert_int_equal(raw_client_connect(&c, proxy_port(1)), 0);
  assert_true(raw_client_closed_by_peer(&c, 5000));
  raw_client_close(&c);
  char *cluster = mk_proxy_cluster_json(proxy);
  assert_non_null(cluster);
  free(cluster);
  mk_proxy_free(proxy);
  proxy = saved;
}

int main(void) {
  const struct CMUnitTest mock_tests[] = {
      cmocka_unit_test_setup_teardown(test_metadata_names_only_the_proxys_listeners, setup_test,
                                      teardown_test),
      cmocka_unit_test_setup_teardown(test_find_coordinator_names_the_proxys_listener, setup_test,
                                      teardown_test),
      cmocka_unit_test_setup_teardown(test_librdkafka_produces_and_consumes_every_record_once,
                                      setup_test, teardown_test),
      cmocka_unit_test_setup_teardown(test_our_producer_produces_every_record_once, setup_test,
                                      teardown_test),
      cmocka_unit_test_setup_teardown(test_drop_response_makes_duplicates_without_idempotence,
                                      setup_test, teardown_test),
      cmocka_unit_test_setup_teardown(test_broker_down_moves_clients_to_the_other_brokers,
                                      setup_test, teardown_test),
      cmocka_unit_test_setup_teardown(test_cluster_actions_are_refused_with_the_reason,
                                      setup_test, teardown_test),
  };
  const struct CMUnitTest broker_tests[] = {
      cmocka_unit_test_setup_teardown(test_drop_response_makes_no_duplicates_with_idempotence,
                                      setup_test, teardown_test),
      cmocka_unit_test_setup_teardown(test_describe_cluster_names_the_proxys_listeners,
                                      setup_test, teardown_test),
      cmocka_unit_test_setup_teardown(test_error_fault_on_part_of_a_request_forwards_the_rest,
                                      setup_test, teardown_test),
      cmocka_unit_test_setup_teardown(
          test_error_after_append_is_forwarded_then_answered_with_the_error, setup_test,
          teardown_test),
      cmocka_unit_test_setup_teardown(test_error_fault_is_answered_without_forwarding,
                                      setup_test, teardown_test),
      cmocka_unit_test_setup_teardown(test_delay_holds_the_answer, setup_test, teardown_test),
      cmocka_unit_test_setup_teardown(test_delay_holds_an_answer_the_proxy_made, setup_test,
                                      teardown_test),
      cmocka_unit_test_setup_teardown(test_silent_drop_stops_the_connection_delivering,
                                      setup_test, teardown_test),
      cmocka_unit_test_setup_teardown(test_fault_script_fires_on_the_proxy, setup_test,
                                      teardown_test),
  };
  const struct CMUnitTest bad_tests[] = {
      cmocka_unit_test_setup_teardown(
          test_an_answer_the_proxy_cannot_rewrite_closes_the_connection, setup_test,
          teardown_test),
      cmocka_unit_test_setup_teardown(test_an_api_the_proxy_does_not_know_passes_untouched,
                                      setup_test, teardown_test),
      cmocka_unit_test_setup_teardown(test_garbage_from_a_client_closes_only_its_connection,
                                      setup_test, teardown_test),
      cmocka_unit_test_setup_teardown(test_a_cluster_that_does_not_answer_is_a_clear_error,
                                      setup_test, teardown_test),
      cmocka_unit_test_setup_teardown(
          test_a_cluster_that_disappears_closes_connections_not_the_proxy, setup_test,
          teardown_test),
  };
  int failed = cmocka_run_group_tests_name("mock", mock_tests, setup_mock, teardown_mock);
  failed += cmocka_run_group_tests_name("broker", broker_tests, setup_broker, teardown_broker);
  failed += cmocka_run_group_tests_name("bad", bad_tests, setup_bad, teardown_bad);
  return failed;
}
