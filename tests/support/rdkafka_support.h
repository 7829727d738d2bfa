/*
 * rdkafka_support: librdkafka as the independent side of a test. Shared by
 * test_producer_mock.c (our producer against librdkafka's mock cluster) and test_proxy.c
 * (our proxy in front of it).
 *   mock cluster   rd_kafka_mock_cluster_new in this process (librdkafka's own Kafka
 *                  implementation, rdkafka_mock.h): 3 brokers, ids 1..3
 *   reading back   a librdkafka consumer reads partitions from the beginning, bounded in
 *                  time, into struct consumed
 * Assertions fail the running cmocka test. Thread: the test's.
 */
#ifndef MK_TESTS_SUPPORT_RDKAFKA_SUPPORT_H
#define MK_TESTS_SUPPORT_RDKAFKA_SUPPORT_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

struct mock_cluster {
  rd_kafka_t *owner;                 /* the rd_kafka_t the mock lives in */
  rd_kafka_mock_cluster_t *cluster;
  const char *bootstraps;            /* "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3" */
};

/* Start a mock cluster of n brokers. Returns 0 or -1 (with a line on stderr). */
int mock_cluster_start(struct mock_cluster *m, int brokers);
/* Destroy it (NULL fields are skipped). */
void mock_cluster_stop(struct mock_cluster *m);

/* One record as a librdkafka consumer read it. */
struct consumed {
  int32_t partition;
  int64_t offset;
  int key_len, value_len;  /* -1 = null */
  char key[64], value[128];
  int headers_count;
  struct {
    char name[32];
    int value_len;         /* -1 = null */
    char value[32];
  } headers[4];
};

/* Read topic's partitions 0..partitions-1 from the beginning, through bootstrap, until
 * `expect` records have come and no more arrive for 300 ms, or timeout_ms passes. Returns
 * the number read (up to max). */
int consume_all(const char *bootstrap, const char *topic, int partitions, struct consumed *out,
                int max, int expect, int timeout_ms);
/* How many of the n records have this value. */
int count_value(const struct consumed *c, int n, const char *value);

#endif
