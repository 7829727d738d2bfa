/*
 * rdkafka_support: see rdkafka_support.h.
 */
#include "tests/support/rdkafka_support.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "tests/support/producer_probe.h"

int mock_cluster_start(struct mock_cluster *m, int brokers) {
  char err[512];
  memset(m, 0, sizeof *m);
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "2", err, sizeof err);  /* it has no bootstrap.servers */
  m->owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!m->owner) {
    fprintf(stderr, "rd_kafka_new: %s\n", err);
    return -1;
  }
  m->cluster = rd_kafka_mock_cluster_new(m->owner, brokers);
  if (!m->cluster) {
    fprintf(stderr, "rd_kafka_mock_cluster_new failed\n");
    return -1;
  }
  m->bootstraps = rd_kafka_mock_cluster_bootstraps(m->cluster);
  return 0;
}

void mock_cluster_stop(struct mock_cluster *m) {
  if (m->cluster) rd_kafka_mock_cluster_destroy(m->cluster);
  if (m->owner) rd_kafka_destroy(m->owner);
  memset(m, 0, sizeof *m);
}

static void copy_out(char *dst, size_t cap, int *len, const void *src, size_t n, bool null) {
  *len = null ? -1 : (int)n;
  size_t k = null ? 0 : n < cap - 1 ? n : cap - 1;
  if (k) memcpy(dst, src, k);
  dst[k] = 0;
}

static void read_headers(rd_kafka_message_t *m, struct consumed *c) {
  rd_kafka_headers_t *hdrs = NULL;
  c->headers_count = 0;
  if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  const char *name;
  const void *value;
  size_t size;
  for (size_t h = 0; h < 4 && !rd_kafka_header_get_all(hdrs, h, &name, &value, &size); h++) {
    int ignored;
    copy_out(c->headers[h].name, sizeof c->headers[h].name, &ignored, name, strlen(name), false);
    copy_out(c->headers[h].value, sizeof c->headers[h].value, &c->headers[h].value_len, value,
             size, value == NULL);
    c->headers_count++;
  }
}

int consume_all(const char *bootstrap, const char *topic, int partitions, struct consumed *out,
                int max, int expect, int timeout_ms) {
  char err[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  const char *settings[][2] = {{"bootstrap.servers", bootstrap}, {"group.id", "mk-test-reader"},
                               {"enable.auto.commit", "false"}, {"log_level", "3"}};
  for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
    assert_int_equal(rd_kafka_conf_set(conf, settings[i][0], settings[i][1], err, sizeof err),
                     RD_KAFKA_CONF_OK);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  assert_non_null(rk);
  rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; p++)
    rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  assert_int_equal(rd_kafka_assign(rk, parts), 0);
  rd_kafka_topic_partition_list_destroy(parts);
  int n = 0;
  int64_t until = now_ms() + timeout_ms, last = now_ms();
  while (now_ms() < until && !(n >= expect && now_ms() - last > 300)) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
    if (!m) continue;
    if (!m->err && n < max) {
      struct consumed *c = &out[n++];
      c->partition = m->partition;
      c->offset = m->offset;
      copy_out(c->key, sizeof c->key, &c->key_len, m->key, m->key_len, m->key == NULL);
      copy_out(c->value, sizeof c->value, &c->value_len, m->payload, m->len, m->payload == NULL);
      read_headers(m, c);
      last = now_ms();
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return n;
}

int count_value(const struct consumed *c, int n, const char *value) {
  int k = 0;
  for (int i = 0; i < n; i++) k += strcmp(c[i].value, value) == 0;
  return k;
}
