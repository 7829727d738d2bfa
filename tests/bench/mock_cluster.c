/*
 * mock_cluster: librdkafka's built-in mock Kafka cluster (rdkafka_mock.h) in a process of
 * its own, the baseline broker of broker_bench.sh.
 *
 * It creates a cluster of --brokers brokers and one topic (--partitions, --replication),
 * prints the cluster's bootstrap string on one line of stdout (e.g.
 * "127.0.0.1:40811,127.0.0.1:36745,127.0.0.1:43207") and serves until SIGINT or SIGTERM.
 * Being its own process lets the benchmark read the mock's CPU time from /proc/PID/stat
 * (utime + stime); on exit it also prints its own CPU time to stderr.
 *
 * What the mock is: one thread that serves every mock broker's sockets; a produced batch is
 * stored as the raw bytes received (no CRC check, no replication; acks is ignored beyond
 * "send a response or not"; the log keeps only the newest batches). It leaves Nagle's
 * algorithm on for the sockets it accepts; run it with nodelay_preload.so for fair latency.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static void usage(FILE *out) {
  fprintf(out,
    "usage: mock_cluster [--brokers N] [--topic T] [--partitions P] [--replication R]\n"
    "  defaults: 3 brokers, topic 'bench' with 1 partition and replication factor 3\n");
}

int main(int argc, char **argv) {
  int brokers = 3, partitions = 1, replication = 3;
  const char *topic = "bench";
  for (int i = 1; i < argc; i += 2) {  /* flags come in pairs: --name value */
    const char *value = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(argv[i], "--help") == 0) { usage(stdout); return 0; }
    if (!value) { usage(stderr); return 2; }
    if (strcmp(argv[i], "--brokers") == 0) brokers = atoi(value);
    else if (strcmp(argv[i], "--topic") == 0) topic = value;
    else if (strcmp(argv[i], "--partitions") == 0) partitions = atoi(value);
    else if (strcmp(argv[i], "--replication") == 0) replication = atoi(value);
    else { usage(stderr); return 2; }
  }

  /* Block SIGINT and SIGTERM before librdkafka starts its threads (they inherit the mask),
   * so that sigwait() below is where the signal is taken. */
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

  /* The mock needs an rd_kafka_t for its bookkeeping; this one never produces anything.
   * It has no bootstrap.servers, so silence its complaint about that. */
  char err[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    fprintf(stderr, "mock_cluster: %s\n", err);
    return 1;
  }

  rd_kafka_mock_cluster_t *cluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (!cluster) {
    fprintf(stderr, "mock_cluster: could not create a mock cluster of %d brokers\n", brokers);
    return 1;
  }
  rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(cluster, topic, partitions, replication);
  if (e) {
    fprintf(stderr, "mock_cluster: creating topic %s: %s\n", topic, rd_kafka_err2str(e));
    return 1;
  }

  printf("%s\n", rd_kafka_mock_cluster_bootstraps(cluster));
  fflush(stdout);

  int sig;
  sigwait(&stop_signals, &sig);

  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  fprintf(stderr, "mock_cluster: stopped by signal %d; cpu_s=%.3f\n", sig,
          (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
              (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}
