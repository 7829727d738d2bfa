/*
 * mk_sync_load: synchronous sends on our producer (producer/producer.h), the counterpart of
 * `rdkafka_load --sync`. producer_bench.sh runs both, with the same flags, against the same
 * broker; `minikafka perf` has no synchronous mode (it sends asynchronously, as
 * kafka-producer-perf-test.sh does, and reports whole milliseconds).
 *
 * Each measured send: mk_producer_send() with a future, then mk_future_get() until the
 * broker's answer has completed it; the time from just before send to the return of get,
 * in microseconds. Before the clock starts, --warmup records are sent the same way (not
 * counted), so connections, metadata and (with --idempotence) the producer id exist.
 *
 * Flags and defaults mirror rdkafka_load's, so one command line fits both: every record's
 * value is the same --record-size random capital letters (srand(42), the same bytes as
 * rdkafka_load's), no key; linger.ms 0 (5 with --async); acks 1 unless --acks;
 * batch.size Kafka's 16384 unless --batch-size (rdkafka_load's is 1000000: give it to
 * both when it matters); enable.idempotence=false
 * unless --idempotence (librdkafka's default, not Kafka's: rdkafka_load and we agree);
 * -X key=value sets any other producer setting by Kafka's name (applied first, so the flags
 * win, as in rdkafka_load). TCP_NODELAY needs no setting: our producer always sets it.
 *
 * --async (a diagnostic, not part of the default benchmark): throughput mode like
 * rdkafka_load's default instead: send --records records with a callback that only counts,
 * mk_producer_flush, report records/s and the process's CPU per record. With --payload
 * kafka each record gets fresh letters from SplittableRandom(0) as in `minikafka perf`
 * (rdkafka_load's same generator), so comparing this with `minikafka perf` separates the
 * producer's cost from the perf tool's own per-record work (its stats, callback context,
 * timestamps, payload generator).
 *
 * Output: one machine-readable line of key=value pairs starting with "mk_sync_load" (the
 * same keys as rdkafka_load: sync: p50_us, p99_us, p999_us, max_us; --async:
 * records_per_s, mb_per_s, cpu_s; both: cpu_us_per_record, delivered, failed, valid), then
 * one line for humans. Exit status: 0 = valid run, 1 = some send failed (the first error is
 * printed), 2 = usage.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "producer/producer.h"

struct options {
  const char *bootstrap;
  const char *topic;
  long records;            /* --records: measured sends (default 5000) */
  long record_size;        /* --record-size (default 100) */
  const char *acks;        /* --acks (default 1) */
  long linger_ms;          /* --linger-ms (default 0) */
  int idempotence;         /* --idempotence */
  long warmup;             /* --warmup (default 100) */
  double max_seconds;      /* --max-seconds: stop after this long (0 = no cap) */
  int async;               /* --async: throughput mode */
  int kafka_payload;       /* --payload kafka: fresh letters per record (--async only) */
  long batch_size;         /* --batch-size (default: Kafka's 16384); -1 = not given */
  const char *compression; /* --compression (default none); NULL = not given */
};

/* Java's SplittableRandom(0).nextInt(26) + 65, as rdkafka_load --payload kafka and
 * `minikafka perf --record-size` fill each record. */
static uint64_t splittable_seed;

static int32_t splittable_next_int(void) {
  uint64_t z = splittable_seed += 0x9e3779b97f4a7c15ull;  /* GOLDEN_GAMMA */
  z = (z ^ (z >> 33)) * 0x62a9d9ed799705f5ull;            /* mix32 */
  return (int32_t)(((z ^ (z >> 28)) * 0xcb24d0a5c88c35b3ull) >> 32);
}

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

/* --async: what the completion callback (sender thread) has seen. */
static atomic_long async_delivered, async_failed;
static atomic_flag async_error_taken = ATOMIC_FLAG_INIT;
static char async_first_error[256];

static void on_complete(const struct mk_record_metadata *md, const struct mk_err *err,
                        void *opaque) {
  (void)md;
  (void)opaque;
  if (!err || err->code == 0) {
    atomic_fetch_add_explicit(&async_delivered, 1, memory_order_relaxed);
    return;
  }
  atomic_fetch_add(&async_failed, 1);
  if (!atomic_flag_test_and_set(&async_error_taken))
    snprintf(async_first_error, sizeof async_first_error, "%s: %s", mk_err_name(err->code),
             err->msg);
}

static void usage(FILE *out) {
  fprintf(out,
    "usage: mk_sync_load --bootstrap HOST:PORT --topic T [options]\n"
    "  --records N          sends to measure (default 5000; 1000000 with --async)\n"
    "  --record-size B      bytes per record value (default 100)\n"
    "  --acks 0|1|all       (default 1)\n"
    "  --linger-ms MS       (default 0; 5 with --async)\n"
    "  --idempotence        enable.idempotence=true (default false, as rdkafka_load)\n"
    "  --warmup N           synchronous sends before measuring (default 100)\n"
    "  --max-seconds S      stop after S seconds (default: no limit)\n"
    "  -X key=value         any other producer setting, by Kafka's name (repeatable)\n"
    "  --sync               accepted and ignored (the default mode)\n"
    "  --async              throughput mode instead (a diagnostic; see the top of the file)\n"
    "  --payload P          --async: fixed (default) or kafka (fresh letters per record)\n"
    "  --batch-size B       batch.size (default: Kafka's, 16384)\n"
    "  --compression C      compression.type (default none)\n");
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void set(struct mk_producer_config *cfg, const char *key, const char *value) {
  struct mk_err err = {0};
  if (mk_producer_config_set(cfg, key, value, &err)) {
    fprintf(stderr, "mk_sync_load: %s=%s: %s\n", key, value, err.msg);
    exit(2);
  }
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The p-th percentile (0 < p <= 100) of n sorted values, by nearest rank (as rdkafka_load). */
static double percentile(const double *sorted, long n, double p) {
  long rank = (long)ceil(p / 100.0 * (double)n);
  if (rank < 1) rank = 1;
  return sorted[rank - 1];
}

static char first_error[256];

/* One synchronous send. Returns the latency in microseconds, or -1 on failure (the first
 * failure's text is kept in first_error). */
static double send_sync(struct mk_producer *p, const struct mk_producer_record *rec) {
  struct mk_future *f = NULL;
  struct mk_err err = {0};
  double start = now_seconds();
  int rc = mk_producer_send(p, rec, NULL, NULL, &f, &err);
  if (rc == 0) rc = mk_future_get(f, -1, NULL, &err);
  double us = (now_seconds() - start) * 1e6;
  if (f) mk_future_free(f);
  if (rc != 0) {
    if (!first_error[0])
      snprintf(first_error, sizeof first_error, "%s: %s", mk_err_name(err.code), err.msg);
    return -1;
  }
  return us;
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
    {"bootstrap", required_argument, NULL, 'b'},
    {"topic", required_argument, NULL, 't'},
    {"records", required_argument, NULL, 'n'},
    {"record-size", required_argument, NULL, 's'},
    {"acks", required_argument, NULL, 'a'},
    {"linger-ms", required_argument, NULL, 'l'},
    {"idempotence", no_argument, NULL, 'i'},
    {"warmup", required_argument, NULL, 'w'},
    {"max-seconds", required_argument, NULL, 'm'},
    {"sync", no_argument, NULL, 'S'},
    {"async", no_argument, NULL, 'A'},
    {"payload", required_argument, NULL, 'P'},
    {"batch-size", required_argument, NULL, 'B'},
    {"compression", required_argument, NULL, 'c'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  struct options o = {.records = -1, .record_size = 100, .acks = "1", .linger_ms = -1,
                      .warmup = 100, .batch_size = -1};
  struct mk_producer_config *cfg = mk_producer_config_new();
  if (!cfg) {
    fprintf(stderr, "mk_sync_load: out of memory\n");
    return 2;
  }
  int c;
  while ((c = getopt_long(argc, argv, "X:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'b': o.bootstrap = optarg; break;
    case 't': o.topic = optarg; break;
    case 'n': o.records = atol(optarg); break;
    case 's': o.record_size = atol(optarg); break;
    case 'a': o.acks = optarg; break;
    case 'l': o.linger_ms = atol(optarg); break;
    case 'i': o.idempotence = 1; break;
    case 'w': o.warmup = atol(optarg); break;
    case 'm': o.max_seconds = atof(optarg); break;
    case 'S': break;
    case 'A': o.async = 1; break;
    case 'P':
      if (strcmp(optarg, "kafka") != 0 && strcmp(optarg, "fixed") != 0) {
        fprintf(stderr, "mk_sync_load: --payload is fixed or kafka, not '%s'\n", optarg);
        return 2;
      }
      o.kafka_payload = strcmp(optarg, "kafka") == 0;
      break;
    case 'B': o.batch_size = atol(optarg); break;
    case 'c': o.compression = optarg; break;
    case 'X': {
      char *eq = strchr(optarg, '=');
      if (!eq) {
        fprintf(stderr, "mk_sync_load: -X wants key=value, got '%s'\n", optarg);
        return 2;
      }
      *eq = '\0';
      set(cfg, optarg, eq + 1);
      *eq = '=';
      break;
    }
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (o.records < 0) o.records = o.async ? 1000000 : 5000;
  if (o.linger_ms < 0) o.linger_ms = o.async ? 5 : 0;   /* as rdkafka_load */
  if (!o.bootstrap || !o.topic || optind != argc || o.records < 1 || o.record_size < 0) {
    usage(stderr);
    return 2;
  }

  char number[32];
  set(cfg, "bootstrap.servers", o.bootstrap);
  set(cfg, "acks", o.acks);
  snprintf(number, sizeof number, "%ld", o.linger_ms);
  set(cfg, "linger.ms", number);
  set(cfg, "enable.idempotence", o.idempotence ? "true" : "false");
  if (o.batch_size >= 0) {
    snprintf(number, sizeof number, "%ld", o.batch_size);
    set(cfg, "batch.size", number);
  }
  if (o.compression) set(cfg, "compression.type", o.compression);
  set(cfg, "key.serializer", "ByteArraySerializer");
  set(cfg, "value.serializer", "ByteArraySerializer");
  struct mk_err err = {0};
  if (mk_producer_config_finish(cfg, &err)) {
    fprintf(stderr, "mk_sync_load: %s\n", err.msg);
    return 2;
  }
  struct mk_producer *p = NULL;
  if (mk_producer_new(cfg, &p, &err)) {
    fprintf(stderr, "mk_sync_load: %s\n", err.msg);
    return 2;
  }
  mk_producer_config_free(cfg);

  /* The same value as rdkafka_load's: srand(42), then rand() % 26 per byte. */
  char *value = malloc((size_t)o.record_size + 1);
  srand(42);
  for (long i = 0; i < o.record_size; i++) value[i] = (char)('A' + rand() % 26);
  struct mk_producer_record rec = {
    .topic = o.topic,
    .partition = -1,
    .key = mk_value_null(),
    .value = mk_value_bytes(value, (size_t)o.record_size),
    .timestamp = -1,
  };

  for (long i = 0; i < o.warmup; i++) {
    if (send_sync(p, &rec) < 0) {
      fprintf(stderr, "mk_sync_load: warm-up record failed: %s\n", first_error);
      mk_producer_close(p, 0);
      return 1;
    }
  }

  if (o.async) {
    long sent = 0;
    double cpu_start = cpu_seconds();
    double start = now_seconds();
    for (; sent < o.records; sent++) {
      if (o.kafka_payload) kafka_payload(value, o.record_size);
      struct mk_err e = {0};
      mk_producer_send(p, &rec, on_complete, NULL, NULL, &e);  /* a failure: callback ran */
      if (o.max_seconds > 0 && sent % 1000 == 0 && now_seconds() - start >= o.max_seconds) {
        sent++;
        break;
      }
    }
    mk_producer_flush(p, -1, &err);
    double elapsed = now_seconds() - start;
    double cpu = cpu_seconds() - cpu_start;
    long delivered = atomic_load(&async_delivered), nfailed = atomic_load(&async_failed);
    int valid = nfailed == 0 && delivered == sent;
    printf("mk_sync_load mode=throughput records=%ld record_size=%ld acks=%s linger_ms=%ld "
           "idempotence=%d payload=%s elapsed_s=%.3f records_per_s=%.0f mb_per_s=%.2f "
           "cpu_s=%.3f cpu_us_per_record=%.3f delivered=%ld failed=%ld valid=%d\n",
           sent, o.record_size, o.acks, o.linger_ms, o.idempotence,
           o.kafka_payload ? "kafka" : "fixed", elapsed, (double)sent / elapsed,
           (double)sent * (double)o.record_size / elapsed / 1e6, cpu,
           cpu * 1e6 / (double)sent, delivered, nfailed, valid);
    printf("%ld records of %ld bytes in %.2f s: %.0f records/s; producer CPU %.2f s "
           "(%.3f us/record)\n", sent, o.record_size, elapsed, (double)sent / elapsed, cpu,
           cpu * 1e6 / (double)sent);
    if (!valid)
      fprintf(stderr, "mk_sync_load: INVALID RUN: %ld of %ld records failed; first error: %s\n",
              nfailed, sent, async_first_error);
    mk_producer_close(p, -1);
    free(value);
    return valid ? 0 : 1;
  }

  double *latencies = calloc((size_t)o.records, sizeof *latencies);
  long sent = 0, delivered = 0, failed = 0;
  double cpu_start = cpu_seconds();
  double start = now_seconds();
  while (sent < o.records) {
    double us = send_sync(p, &rec);
    sent++;
    if (us < 0) {
      failed++;
      break;
    }
    latencies[delivered++] = us;
    if (o.max_seconds > 0 && now_seconds() - start >= o.max_seconds) break;
  }
  double elapsed = now_seconds() - start;
  double cpu = cpu_seconds() - cpu_start;
  int valid = failed == 0 && delivered == sent;

  qsort(latencies, (size_t)delivered, sizeof *latencies, compare_doubles);
  long n = delivered;
  double p50 = n ? percentile(latencies, n, 50) : 0;
  double p99 = n ? percentile(latencies, n, 99) : 0;
  double p999 = n ? percentile(latencies, n, 99.9) : 0;
  double max = n ? latencies[n - 1] : 0;
  printf("mk_sync_load mode=sync records=%ld record_size=%ld acks=%s linger_ms=%ld "
         "idempotence=%d elapsed_s=%.3f p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f "
         "cpu_us_per_record=%.2f delivered=%ld failed=%ld valid=%d\n",
         sent, o.record_size, o.acks, o.linger_ms, o.idempotence, elapsed, p50, p99, p999, max,
         sent ? cpu * 1e6 / (double)sent : 0, delivered, failed, valid);
  printf("%ld synchronous sends (acks=%s): p50 %.1f us, p99 %.1f us, p99.9 %.1f us, "
         "max %.1f us\n", n, o.acks, p50, p99, p999, max);
  if (!valid)
    fprintf(stderr, "mk_sync_load: INVALID RUN: %ld of %ld sends failed; first error: %s\n",
            failed, sent, first_error);

  mk_producer_close(p, -1);
  free(latencies);
  free(value);
  return valid ? 0 : 1;
}
