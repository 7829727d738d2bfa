/*
 * rdkafka_load: a load generator on librdkafka (Debian's librdkafka-dev), the reference
 * producer that our broker (issue 3) and our producer (issue 5) are measured against.
 * broker_bench.sh runs it; README.md in this folder explains the figures.
 *
 *   throughput mode (default)  produce --records records as fast as librdkafka accepts
 *       them, serving delivery reports as we go, then flush. Prints records/s, MB/s (of
 *       record values) and the producer's own CPU time (getrusage: user + system, all
 *       threads) per record. Any failed delivery is counted and makes the run invalid.
 *   sync mode (--sync)  send one record, wait for its delivery report, repeat; prints the
 *       p50/p99/p99.9 of those round trips in microseconds.
 *
 * Before the clock starts, --warmup records are sent synchronously (not counted), so the
 * connection to the partition leader (and, with --idempotence, the producer id) exists.
 *
 * Output: one machine-readable line of key=value pairs starting with "rdkafka_load", then
 * one line for humans. Exit status: 0 = valid run, 1 = some delivery failed, 2 = usage.
 *
 * Record values (no key) are --record-size random capital letters. With --payload fixed
 * (the default) every record has the same value, drawn once. With --payload kafka each
 * record gets fresh letters from Java's SplittableRandom(0), exactly the bytes
 * kafka-producer-perf-test.sh (and `minikafka perf --record-size`) send, refilled per record
 * as they do: the same compressibility (a batch of identical values compresses far better)
 * and the same per-record cost of making the payload. librdkafka copies each value
 * (RD_KAFKA_MSG_F_COPY), as a real application needs.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

/* Command-line settings, with the defaults of issue 3's benchmark. */
struct options {
  const char *bootstrap;   /* --bootstrap HOST:PORT */
  const char *topic;       /* --topic */
  long records;            /* --records: how many to measure */
  long record_size;        /* --record-size: bytes per record value */
  const char *acks;        /* --acks 1|all (also 0, -1) */
  long linger_ms;          /* --linger-ms; -1 = not given: 5, or 0 with --sync */
  long batch_size;         /* --batch-size (librdkafka's batch.size) */
  const char *compression; /* --compression none|gzip|snappy|lz4|zstd */
  int idempotence;         /* --idempotence: enable.idempotence=true */
  int sync;                /* --sync: one record at a time */
  long warmup;             /* --warmup: synchronous records before the clock starts */
  double max_seconds;      /* --max-seconds: stop producing after this long (0 = no cap) */
  int kafka_payload;       /* --payload kafka: fresh letters per record, as Kafka's perf tool */
};

/* Java's SplittableRandom(0).nextInt(26) + 65, as kafka-producer-perf-test.sh fills each
 * record's payload (ProducerPerformance.generateRandomPayload); same generator as
 * cli/perf.c, so both producers send the same bytes. */
static uint64_t splittable_seed;

static int32_t splittable_next_int(void) {
  uint64_t z = splittable_seed += 0x9e3779b97f4a7c15ull;  /* GOLDEN_GAMMA */
  z = (z ^ (z >> 33)) * 0x62a9d9ed799705f5ull;            /* mix32 */
  return (int32_t)(((z ^ (z >> 28)) * 0xcb24d0a5c88c35b3ull) >> 32);
}

/* nextInt(26): 26 is not a power of two, so Java rejects the over-represented values. */
static int32_t splittable_next_26(void) {
  for (uint32_t u = (uint32_t)splittable_next_int() >> 1;;
       u = (uint32_t)splittable_next_int() >> 1) {
    int32_t v = (int32_t)(u % 26u);
    if ((int32_t)(u + 25u - (uint32_t)v) >= 0) return v;
  }
}

static void kafka_payload(char *value, long size) {
  for (long j = 0; j < size; j++) value[j] = (char)(splittable_next_26() + 65);
}

/* What the delivery report callback has seen. It runs on this (the app) thread, inside
 * rd_kafka_poll()/rd_kafka_flush(), so no locking is needed. */
struct delivery_counts {
  long delivered;          /* reports without an error */
  long failed;             /* reports with an error */
  char first_error[256];   /* text of the first error, for the report */
};

static struct delivery_counts counts;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
  (void)rk;
  (void)opaque;
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    counts.delivered++;
    return;
  }
  if (counts.failed++ == 0)
    snprintf(counts.first_error, sizeof counts.first_error, "%s: %s",
             rd_kafka_err2name(msg->err), rd_kafka_err2str(msg->err));
}

static void usage(FILE *out) {
  fprintf(out,
    "usage: rdkafka_load --bootstrap HOST:PORT --topic T [options]\n"
    "  --records N          records to measure (default 1000000; 5000 with --sync)\n"
    "  --record-size B      bytes per record value (default 100)\n"
    "  --acks 1|all         (default 1)\n"
    "  --linger-ms MS       (default 5; 0 with --sync)\n"
    "  --batch-size BYTES   (default 1000000)\n"
    "  --compression C      none|gzip|snappy|lz4|zstd (default none)\n"
    "  --idempotence        enable.idempotence=true (needs --acks all)\n"
    "  --sync               send one record, wait for its delivery report, repeat\n"
    "  --warmup N           synchronous records sent before measuring (default 100)\n"
    "  --payload P          fixed: one value for every record (default); kafka: fresh\n"
    "                       letters per record, the bytes kafka-producer-perf-test sends\n"
    "  --max-seconds S      stop sending after S seconds (default: no limit)\n"
    "  -X key=value         any other librdkafka property (repeatable)\n");
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time (user + system) used so far by this whole process: our thread and
 * librdkafka's background threads. */
static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Set one librdkafka property or exit with librdkafka's explanation. */
static void set_property(rd_kafka_conf_t *conf, const char *key, const char *value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "rdkafka_load: %s=%s: %s\n", key, value, err);
    exit(2);
  }
}

/* Produce one record, waiting (and serving delivery reports) while librdkafka's queue is
 * full. Returns 0, or -1 if librdkafka refused the record for another reason. */
static int produce_one(rd_kafka_t *rk, rd_kafka_topic_t *topic, char *value, size_t size) {
  for (;;) {
    if (rd_kafka_produce(topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, value, size,
                         NULL, 0, NULL) == 0)
      return 0;
    rd_kafka_resp_err_t err = rd_kafka_last_error();
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      if (counts.failed++ == 0)
        snprintf(counts.first_error, sizeof counts.first_error, "produce() refused: %s",
                 rd_kafka_err2str(err));
      return -1;
    }
    rd_kafka_poll(rk, 1);  /* queue full: let deliveries drain it */
  }
}

/* Produce one record and wait for its delivery report. Returns the latency in
 * microseconds, or -1 if it failed. */
static double produce_sync(rd_kafka_t *rk, rd_kafka_topic_t *topic, char *value, size_t size) {
  long done_before = counts.delivered + counts.failed;
  long failed_before = counts.failed;
  double start = now_seconds();
  if (produce_one(rk, topic, value, size) != 0) return -1;
  while (counts.delivered + counts.failed == done_before)
    rd_kafka_poll(rk, 1000);  /* returns as soon as the report is served */
  double us = (now_seconds() - start) * 1e6;
  return counts.failed == failed_before ? us : -1;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The p-th percentile (0 < p <= 100) of n sorted values, by nearest rank. */
static double percentile(const double *sorted, long n, double p) {
  long rank = (long)ceil(p / 100.0 * (double)n);
  if (rank < 1) rank = 1;
  return sorted[rank - 1];
}

static void parse_options(int argc, char **argv, struct options *o, rd_kafka_conf_t *conf) {
  static const struct option longopts[] = {
    {"bootstrap", required_argument, NULL, 'b'},
    {"topic", required_argument, NULL, 't'},
    {"records", required_argument, NULL, 'n'},
    {"record-size", required_argument, NULL, 's'},
    {"acks", required_argument, NULL, 'a'},
    {"linger-ms", required_argument, NULL, 'l'},
    {"batch-size", required_argument, NULL, 'B'},
    {"compression", required_argument, NULL, 'c'},
    {"idempotence", no_argument, NULL, 'i'},
    {"sync", no_argument, NULL, 'S'},
    {"warmup", required_argument, NULL, 'w'},
    {"max-seconds", required_argument, NULL, 'm'},
    {"payload", required_argument, NULL, 'P'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  *o = (struct options){.records = -1, .record_size = 100, .acks = "1", .linger_ms = -1,
                        .batch_size = 1000000, .compression = "none", .warmup = 100};
  int c;
  while ((c = getopt_long(argc, argv, "X:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'b': o->bootstrap = optarg; break;
    case 't': o->topic = optarg; break;
    case 'n': o->records = atol(optarg); break;
    case 's': o->record_size = atol(optarg); break;
    case 'a': o->acks = optarg; break;
    case 'l': o->linger_ms = atol(optarg); break;
    case 'B': o->batch_size = atol(optarg); break;
    case 'c': o->compression = optarg; break;
    case 'i': o->idempotence = 1; break;
    case 'S': o->sync = 1; break;
    case 'w': o->warmup = atol(optarg); break;
    case 'm': o->max_seconds = atof(optarg); break;
    case 'P':
      if (strcmp(optarg, "kafka") != 0 && strcmp(optarg, "fixed") != 0) {
        fprintf(stderr, "rdkafka_load: --payload is fixed or kafka, not '%s'\n", optarg);
        exit(2);
      }
      o->kafka_payload = strcmp(optarg, "kafka") == 0;
      break;
    case 'X': {  /* key=value; main() sets --acks etc. after this, so they win */
      char *eq = strchr(optarg, '=');
      if (!eq) {
        fprintf(stderr, "rdkafka_load: -X wants key=value, got '%s'\n", optarg);
        exit(2);
      }
      *eq = '\0';
      set_property(conf, optarg, eq + 1);
      *eq = '=';
      break;
    }
    case 'h': usage(stdout); exit(0);
    default: usage(stderr); exit(2);
    }
  }
  if (!o->bootstrap || !o->topic || optind != argc) { usage(stderr); exit(2); }
  if (o->records < 0) o->records = o->sync ? 5000 : 1000000;
  if (o->linger_ms < 0) o->linger_ms = o->sync ? 0 : 5;
  if (o->record_size < 0 || o->records < 1) { usage(stderr); exit(2); }
}

int main(int argc, char **argv) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  /* Java's producer always sets TCP_NODELAY (and ours will too); ask librdkafka to do the
   * same (its default leaves Nagle on). -X socket.nagle.disable=false undoes it. */
  set_property(conf, "socket.nagle.disable", "true");
  /* A record that cannot be delivered fails after 30 s instead of librdkafka's 5 minutes,
   * so a benchmark against a dead broker ends. (-X message.timeout.ms=... overrides.) */
  set_property(conf, "message.timeout.ms", "30000");

  struct options o;
  parse_options(argc, argv, &o, conf);

  char number[32];
  set_property(conf, "bootstrap.servers", o.bootstrap);
  set_property(conf, "acks", o.acks);
  snprintf(number, sizeof number, "%ld", o.linger_ms);
  set_property(conf, "linger.ms", number);
  snprintf(number, sizeof number, "%ld", o.batch_size);
  set_property(conf, "batch.size", number);
  set_property(conf, "compression.codec", o.compression);
  set_property(conf, "enable.idempotence", o.idempotence ? "true" : "false");
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);

  char err[512];
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    fprintf(stderr, "rdkafka_load: %s\n", err);
    return 2;
  }
  rd_kafka_topic_t *topic = rd_kafka_topic_new(rk, o.topic, NULL);

  /* One value for every record (and for the warm-up): random capital letters. With
   * --payload kafka each measured record refills it from SplittableRandom(0) instead. */
  char *value = malloc((size_t)o.record_size + 1);
  srand(42);
  for (long i = 0; i < o.record_size; i++) value[i] = (char)('A' + rand() % 26);

  /* Warm up: connections, metadata, producer id. Not measured. */
  for (long i = 0; i < o.warmup; i++) {
    if (produce_sync(rk, topic, value, (size_t)o.record_size) < 0) {
      fprintf(stderr, "rdkafka_load: warm-up record failed: %s\n", counts.first_error);
      return 1;
    }
  }
  counts = (struct delivery_counts){0};

  long sent = 0;
  double *latencies = o.sync ? calloc((size_t)o.records, sizeof(double)) : NULL;
  double cpu_start = cpu_seconds();
  double start = now_seconds();

  if (o.sync) {
    while (sent < o.records) {
      if (o.kafka_payload) kafka_payload(value, o.record_size);
      double us = produce_sync(rk, topic, value, (size_t)o.record_size);
      sent++;
      if (us < 0) break;  /* already counted in counts.failed */
      latencies[sent - 1] = us;
      if (o.max_seconds > 0 && now_seconds() - start >= o.max_seconds) break;
    }
  } else {
    for (; sent < o.records; sent++) {
      if (o.kafka_payload) kafka_payload(value, o.record_size);
      if (produce_one(rk, topic, value, (size_t)o.record_size) != 0) break;
      if (sent % 1000 == 0) {
        rd_kafka_poll(rk, 0);  /* serve delivery reports that are ready */
        if (o.max_seconds > 0 && now_seconds() - start >= o.max_seconds) { sent++; break; }
      }
    }
    rd_kafka_flush(rk, 60 * 1000);  /* wait for every delivery report */
  }

  double elapsed = now_seconds() - start;
  double cpu = cpu_seconds() - cpu_start;
  int unfinished = rd_kafka_outq_len(rk);
  int valid = counts.failed == 0 && unfinished == 0 && counts.delivered == sent;

  printf("rdkafka_load mode=%s records=%ld record_size=%ld acks=%s linger_ms=%ld "
         "batch_size=%ld compression=%s idempotence=%d payload=%s elapsed_s=%.3f",
         o.sync ? "sync" : "throughput", sent, o.record_size, o.acks, o.linger_ms,
         o.batch_size, o.compression, o.idempotence, o.kafka_payload ? "kafka" : "fixed",
         elapsed);
  if (o.sync) {
    long n = counts.delivered < sent ? counts.delivered : sent;
    qsort(latencies, (size_t)n, sizeof(double), compare_doubles);
    double p50 = n ? percentile(latencies, n, 50) : 0;
    double p99 = n ? percentile(latencies, n, 99) : 0;
    double p999 = n ? percentile(latencies, n, 99.9) : 0;
    double max = n ? latencies[n - 1] : 0;
    printf(" p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f", p50, p99, p999, max);
    printf(" cpu_us_per_record=%.2f delivered=%ld failed=%ld valid=%d\n",
           sent ? cpu * 1e6 / (double)sent : 0, counts.delivered, counts.failed, valid);
    printf("%ld synchronous sends (acks=%s): p50 %.1f us, p99 %.1f us, p99.9 %.1f us, "
           "max %.1f us\n", n, o.acks, p50, p99, p999, max);
  } else {
    double records_per_s = (double)sent / elapsed;
    double mb_per_s = (double)sent * (double)o.record_size / elapsed / 1e6;
    double cpu_us_per_record = sent ? cpu * 1e6 / (double)sent : 0;
    printf(" records_per_s=%.0f mb_per_s=%.2f cpu_s=%.3f cpu_us_per_record=%.3f"
           " delivered=%ld failed=%ld valid=%d\n",
           records_per_s, mb_per_s, cpu, cpu_us_per_record, counts.delivered, counts.failed,
           valid);
    printf("%ld records of %ld bytes in %.2f s: %.0f records/s, %.1f MB/s; "
           "producer CPU %.2f s (%.3f us/record)\n",
           sent, o.record_size, elapsed, records_per_s, mb_per_s, cpu, cpu_us_per_record);
  }
  if (!valid)
    fprintf(stderr, "rdkafka_load: INVALID RUN: %ld of %ld records failed, %d undelivered"
            "%s%s\n", counts.failed, sent, unfinished,
            counts.failed ? "; first error: " : "", counts.first_error);

  rd_kafka_topic_destroy(topic);
  rd_kafka_destroy(rk);
  free(latencies);
  free(value);
  return valid ? 0 : 1;
}
