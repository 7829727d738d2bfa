/*
 * minikafka perf: send N records as fast as allowed and report throughput and latency, as
 * kafka-producer-perf-test.sh does, line for line. Kafka: tools/.../ProducerPerformance.java
 * (the loop, Stats, PerfCallback), server-common/.../ThroughputThrottler.java, and
 * ToolsUtils.printMetrics (--print-metrics).
 *
 *   minikafka perf --topic t --num-records 30000 --record-size 100 --throughput 5000 \
 *       --producer-props bootstrap.servers=127.0.0.1:9092 acks=all linger.ms=5
 *   24967 records sent, 4989.4 records/sec (0.48 MB/sec), 3.8 ms avg latency, 73.0 ms max
 *   latency.                                                (every 5 s; one line each)
 *   30000 records sent, 5001.667222 records/sec (0.48 MB/sec), 3.70 ms avg latency, 73.00
 *   ms max latency, 3 ms 50th, 7 ms 95th, 16 ms 99th, 73 ms 99.9th.        (at the end)
 *
 * The loop (app thread): make the payload, note the time, send with a callback, and let
 * the throttler sleep if we are ahead of --throughput. The callback (Sender thread) records
 * the latency -- send() to completion, in ms -- into Stats, which prints a window line every
 * 5 s and, at the end, the summary. As in Kafka:
 *   - a failed record is printed (stderr) and not counted in the stats;
 *   - latencies are sampled into a bounded array: every `sampling`-th record, where
 *     sampling = num_records / min(num_records, 500000), so at most ~500k ints; the
 *     percentiles are read from that sorted sample;
 *   - --record-size payloads are uppercase letters drawn from SplittableRandom(0), the
 *     same generator, seed and draws as Java's, refilled for every record; so the bytes
 *     (and how well they compress) are those kafka-producer-perf-test.sh sends;
 *   - numbers are printed with Java's Formatter rounding (java_fixed below).
 * Settings: --producer.config FILE, then --producer-props k=v ... (several values after one
 * flag), then --bootstrap-server (a convenience Kafka's tool does not have); client.id
 * "perf-producer-client" unless set; ByteArraySerializer for key and value.
 *
 * Transactions, as Kafka's tool does them: --transactional-id ID, --transaction-duration-ms
 * MS or a transactional.id in the settings turns them on (the id: the flag, else the
 * setting, else "performance-producer-" and a random id; the duration: 3000 ms unless
 * given). initTransactions once, then the loop begins a transaction before a record when
 * none is open, and commits once MS have passed since it began (checked after each send);
 * the last one is committed after the loop. A record's latency includes its wait for the
 * commit's flush, and the summary line is the same. A transactional call that fails ends
 * the run (exit 1); closing aborts a transaction left open.
 *
 * Ctrl-C or SIGTERM stops sending (also a send waiting for metadata, max.block.ms), sends
 * what was accepted and prints the summary of what was sent.
 *
 * Exit status: 0; 1 when the producer could not start or some record failed (Kafka's tool
 * exits 0 then); 2 bad command line or settings; 128+signal when interrupted.
 */
#define _GNU_SOURCE  /* asprintf */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/interrupt.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/trace.h"
#include "producer/producer.h"

struct options {
  const char *topic;
  int64_t num_records;
  bool num_records_given;
  int64_t record_size;           /* bytes of each random payload */
  bool record_size_given;
  const char *payload_file;
  bool payload_monotonic;        /* the payload is the record's number, "0", "1", ... */
  const char *payload_delimiter; /* between payloads in payload_file; "\n" */
  double throughput;             /* records/s; negative: unthrottled */
  bool throughput_given;
  const char **producer_props;   /* --producer-props k=v ..., in order */
  int nproducer_props;
  bool producer_props_given;
  const char *producer_config;   /* --producer.config FILE */
  bool print_metrics;
  int64_t warmup_records;        /* --warmup-records: left out of the steady-state stats */
  const char *bootstrap;         /* --bootstrap-server (ours) */
  const char *trace;
  const char *transactional_id;  /* --transactional-id */
  int64_t transaction_duration_ms; /* --transaction-duration-ms; 0: not given */
  bool transactions;             /* on: either flag, or transactional.id in the settings */
};

static void usage(FILE *out) {
  fprintf(out,
          "usage: minikafka perf --topic T --num-records N (--record-size B | --payload-file F |\n"
          "                      --payload-monotonic) --throughput R\n"
          "                      (--producer-props K=V [K=V ...] | --producer.config F |\n"
          "                       --bootstrap-server HOST:PORT) [options]\n"
          "\n"
          "Measure the producer, like kafka-producer-perf-test.sh, with its output format.\n"
          "\n"
          "  --topic T                 produce to this topic (required)\n"
          "  --num-records N           how many records (required)\n"
          "  --record-size B           each a random payload of B uppercase letters\n"
          "  --payload-file F          or payloads picked at random from this file ...\n"
          "  --payload-delimiter D     ... split at D (default \\n)\n"
          "  --payload-monotonic       or the record's number as the payload\n"
          "  --throughput R            at most about R records/s; -1: no limit (required)\n"
          "  --producer-props K=V ...  producer settings, e.g. bootstrap.servers=... acks=all\n"
          "  --producer.config F       producer settings from a properties file\n"
          "  --bootstrap-server H:P    bootstrap.servers (a minikafka convenience)\n"
          "  --transactional-id ID     send in transactions with this transactional.id\n"
          "  --transaction-duration-ms MS  commit each transaction after MS (default 3000;\n"
          "                            either flag turns transactions on)\n"
          "  --warmup-records N        also print stats without the first N records\n"
          "  --print-metrics           print the producer's metrics at the end\n"
          "  --trace FILE              write trace events as JSON lines (- = stdout)\n"
          "\n"
          "Every 5 s: N records sent, X records/sec (Y MB/sec), Z ms avg latency, W ms max\n"
          "latency. At the end the same for the whole run, with the 50th, 95th, 99th and\n"
          "99.9th percentile latencies.\n");
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "minikafka perf: ");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n(minikafka perf --help shows the arguments)\n");
  return MK_EXIT_USAGE;
}

static int64_t now_ms(void) { return mk_now_us() / 1000; }

/* ---- Java's number formatting --------------------------------------------------------------- */

/* v as Java's String.format("%.<prec>f") writes it. C's printf rounds the exact binary
 * value (0.125 -> "0.12", 2.0005 -> "2.000"); Java rounds the shortest decimal that reads
 * back as v, half up (0.125 -> "0.13", 2.0005 -> "2.001"), and spells NaN and infinity
 * its own way. Averages such as 9/8 ms are exactly such ties. */
static void java_fixed(char *out, size_t size, double v, int prec) {
  if (isnan(v)) {
    snprintf(out, size, "NaN");
    return;
  }
  if (isinf(v)) {
    snprintf(out, size, v < 0 ? "-Infinity" : "Infinity");
    return;
  }
  char e[40];
  for (int p = 1; p <= 17; p++) {  /* the shortest digits that read back as v */
    snprintf(e, sizeof e, "%.*e", p - 1, v);
    if (strtod(e, NULL) == v) break;
  }
  const char *s = e;
  bool negative = *s == '-';
  if (negative) s++;
  char digits[24];
  int n = 0;
  for (; *s && *s != 'e'; s++)
    if (isdigit((unsigned char)*s)) digits[n++] = *s;
  int exp10 = atoi(s + 1);  /* v = d0.d1d2... * 10^exp10 */
  /* fixed: the integer digits, then prec fraction digits; the digit of weight 10^w is at
   * fixed[last - (w + prec)]. */
  int int_digits = exp10 >= 0 ? exp10 + 1 : 1;
  int len = int_digits + prec, last = len - 1;
  char fixed[400];
  if (len + 2 > (int)sizeof fixed) {  /* beyond any number we print: C's way will do */
    snprintf(out, size, "%.*f", prec, v);
    return;
  }
  memset(fixed + 1, '0', (size_t)len);
  fixed[0] = '0';  /* room for a carry out of the first digit */
  char *f = fixed + 1;
  for (int i = 0; i < n; i++) {
    int w = exp10 - i;
    if (w >= -prec) f[last - (w + prec)] = digits[i];
  }
  int kept = exp10 + prec + 1;  /* digits[kept] is the first one dropped */
  if (kept >= 0 && kept < n && digits[kept] >= '5') {
    int i = last;
    while (i >= 0 && f[i] == '9') f[i--] = '0';
    if (i >= 0) f[i]++;
    else fixed[0] = '1', f = fixed, int_digits++, len++;
  }
  int lead = 0;  /* leading zeros of the integer part, keeping one */
  while (lead < int_digits - 1 && f[lead] == '0') lead++;
  snprintf(out, size, "%s%.*s%s%.*s", negative ? "-" : "", int_digits - lead, f + lead,
           prec > 0 ? "." : "", prec, f + int_digits);
}

/* ---- Java's SplittableRandom(0) ------------------------------------------------------------ */

/* java.util.SplittableRandom: a 64-bit counter stepped by the golden gamma, mixed. */
struct splittable_random {
  uint64_t seed;
};

static int32_t random_next_int(struct splittable_random *r) {
  uint64_t z = r->seed += 0x9e3779b97f4a7c15ull;  /* GOLDEN_GAMMA */
  z = (z ^ (z >> 33)) * 0x62a9d9ed799705f5ull;    /* mix32 */
  return (int32_t)(((z ^ (z >> 28)) * 0xcb24d0a5c88c35b3ull) >> 32);
}

/* nextInt(bound), with Java's rejection of the over-represented values (int arithmetic
 * that may wrap, as in Java). */
static inline int32_t random_next_bounded(struct splittable_random *r, int32_t bound) {
  int32_t v = random_next_int(r), m = bound - 1;
  if ((bound & m) == 0) return v & m;
  for (uint32_t u = (uint32_t)v >> 1;; u = (uint32_t)random_next_int(r) >> 1) {
    v = (int32_t)(u % (uint32_t)bound);
    if ((int32_t)(u + (uint32_t)m - (uint32_t)v) >= 0) return v;
  }
}

/* ---- Stats (ProducerPerformance.Stats) ------------------------------------------------------ */

struct stats {
  int64_t start, window_start;   /* ms */
  int *latencies;                /* every sampling-th latency, ms */
  int64_t sampling;
  int64_t nlatencies;            /* size of latencies */
  int64_t iteration;             /* records recorded so far (decides sampling) */
  int64_t next_sample;           /* the next iteration that is a multiple of sampling */
  int64_t index;                 /* latencies used */
  int64_t count, bytes, total_latency;
  int max_latency;
  int64_t window_count, window_bytes, window_total_latency;
  int window_max_latency;
  bool steady_state;             /* "steady state" in the summary (after --warmup-records) */
};

static bool stats_init(struct stats *s, int64_t num_records, bool steady_state) {
  memset(s, 0, sizeof *s);
  s->start = s->window_start = now_ms();
  s->sampling = num_records / (num_records < 500000 ? num_records : 500000);
  s->nlatencies = num_records / s->sampling + 1;
  s->latencies = calloc((size_t)s->nlatencies, sizeof *s->latencies);
  s->steady_state = steady_state;
  return s->latencies != NULL;
}

static void stats_print_window(struct stats *s) {
  int64_t elapsed = now_ms() - s->window_start;
  char rate[64], mb[64], avg[64], max[64];
  java_fixed(rate, sizeof rate, 1000.0 * (double)s->window_count / (double)elapsed, 1);
  java_fixed(mb, sizeof mb,
             1000.0 * (double)s->window_bytes / (double)elapsed / (1024.0 * 1024.0), 2);
  java_fixed(avg, sizeof avg, (double)s->window_total_latency / (double)s->window_count, 1);
  java_fixed(max, sizeof max, (double)s->window_max_latency, 1);
  printf("%lld records sent, %s records/sec (%s MB/sec), %s ms avg latency, %s ms max latency.\n",
         (long long)s->window_count, rate, mb, avg, max);
  fflush(stdout);  /* Java's System.out flushes each line */
}

static void stats_new_window(struct stats *s) {
  s->window_start = now_ms();
  s->window_count = s->window_bytes = s->window_total_latency = 0;
  s->window_max_latency = 0;
}

/* One successful record. Thread: sender (see struct perf). print_window: false once the
 * steady-state stats print the window lines instead (Java's suppressPrinting). */
static void stats_record(struct stats *s, int latency, int64_t bytes, int64_t time,
                         bool print_window) {
  s->count++;
  s->bytes += bytes;
  s->total_latency += latency;
  if (latency > s->max_latency) s->max_latency = latency;
  s->window_count++;
  s->window_bytes += bytes;
  s->window_total_latency += latency;
  if (latency > s->window_max_latency) s->window_max_latency = latency;
  /* Java's iteration % sampling == 0, without a division per record. */
  if (s->iteration == s->next_sample) {
    s->next_sample += s->sampling;
    if (s->index < s->nlatencies) s->latencies[s->index++] = latency;
  }
  if (time - s->window_start >= 5000) {  /* reportingInterval */
    if (s->steady_state && s->count == s->window_count) {
      printf("In steady state.\n");
      fflush(stdout);
    }
    if (print_window) stats_print_window(s);
    stats_new_window(s);
  }
  s->iteration++;
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* Sort the sampled latencies (Java: Arrays.sort). They are whole milliseconds, from 0 to
 * at most the run's length, so a counting sort takes one pass over them and one over that
 * range, where qsort would make n log n calls of cmp_int (500,000 samples: ~10 million).
 * The order, and so every percentile, is the same. qsort remains for a range too wide to
 * count (or no memory for the counts). */
static void sort_latencies(int *v, size_t n) {
  if (n == 0) return;
  int lo = v[0], hi = v[0];
  for (size_t i = 1; i < n; i++) {
    if (v[i] < lo) lo = v[i];
    if (v[i] > hi) hi = v[i];
  }
  size_t range = (size_t)((int64_t)hi - lo) + 1;
  size_t *counts = range <= 100000000 ? calloc(range, sizeof *counts) : NULL;
  if (!counts) {
    qsort(v, n, sizeof *v, cmp_int);
    return;
  }
  for (size_t i = 0; i < n; i++) counts[v[i] - lo]++;
  size_t at = 0;
  for (size_t x = 0; x < range; x++)
    for (size_t c = counts[x]; c > 0; c--) v[at++] = (int)(lo + (int64_t)x);
  free(counts);
}

static void stats_print_total(struct stats *s) {
  int64_t elapsed = now_ms() - s->start;
  size_t size = (size_t)(s->index < s->nlatencies ? s->index : s->nlatencies);
  sort_latencies(s->latencies, size);
  static const double percentiles[] = {0.5, 0.95, 0.99, 0.999};
  int p[4];
  for (int i = 0; i < 4; i++) p[i] = s->latencies[(size_t)(percentiles[i] * (double)size)];
  char rate[64], mb[64], avg[64], max[64];
  java_fixed(rate, sizeof rate, 1000.0 * (double)s->count / (double)elapsed, 6);
  java_fixed(mb, sizeof mb, 1000.0 * (double)s->bytes / (double)elapsed / (1024.0 * 1024.0), 2);
  java_fixed(avg, sizeof avg, (double)s->total_latency / (double)s->count, 2);
  java_fixed(max, sizeof max, (double)s->max_latency, 2);
  printf("%lld%s records sent, %s records/sec (%s MB/sec), %s ms avg latency, %s ms max latency, "
         "%d ms 50th, %d ms 95th, %d ms 99th, %d ms 99.9th.\n",
         (long long)s->count, s->steady_state ? " steady state" : "", rate, mb, avg, max, p[0],
         p[1], p[2], p[3]);
  fflush(stdout);
}

/* ---- ThroughputThrottler -------------------------------------------------------------------- */

enum { MIN_SLEEP_NS = 2000000 };

struct throttler {
  int64_t start_us;
  int64_t sleep_time_ns;     /* 1 s / target: the pause one record is owed */
  double target;             /* records/s; < 0: never throttle */
  int64_t sleep_deficit_ns;  /* owed but not yet slept */
};

static void throttler_init(struct throttler *t, double target, int64_t start_us) {
  t->start_us = start_us;
  t->target = target;
  t->sleep_time_ns = target > 0 ? (int64_t)(1e9 / target) : INT64_MAX;
  t->sleep_deficit_ns = 0;
}

/* Ahead of the target rate? Java's throttler reads a millisecond clock and never throttles
 * while it still reads the start's millisecond. Java's send takes microseconds, so little
 * slips through that first millisecond; ours is fast enough that over a thousand records
 * did (a 4,000-record run at --throughput 2000 ended in 1.3 s instead of 2). So we measure
 * the elapsed time in microseconds: the same rule, without the free first millisecond. */
static bool throttler_should_throttle(const struct throttler *t, int64_t amount_so_far,
                                      int64_t send_start_us) {
  if (t->target < 0) return false;
  double elapsed_sec = (double)(send_start_us - t->start_us) / 1e6;
  return elapsed_sec > 0 && (double)amount_so_far / elapsed_sec > t->target;
}

/* Owe one record's pause; sleep once at least MIN_SLEEP_NS is owed (short sleeps are
 * inaccurate, so pauses are batched). A target of 0 blocks for good, as in Kafka. */
static void throttler_throttle(struct throttler *t) {
  if (t->target == 0) {
    for (;;) pause();
  }
  t->sleep_deficit_ns += t->sleep_time_ns;
  if (t->sleep_deficit_ns < MIN_SLEEP_NS) return;
  int64_t start = mk_now_us() * 1000, remaining = t->sleep_deficit_ns;
  while (remaining > 0) {
    struct timespec ts = {.tv_sec = remaining / 1000000000, .tv_nsec = remaining % 1000000000};
    nanosleep(&ts, NULL);
    remaining = t->sleep_deficit_ns - (mk_now_us() * 1000 - start);
  }
  t->sleep_deficit_ns = 0;
}

/* ---- the run -------------------------------------------------------------------------------- */

/* What the loop and the callbacks share. No lock: only successes touch the stats, and
 * every success completes on the Sender thread (a send that fails at once fails on the
 * app thread, and failures touch only `failed`), so the stats have a single writer. The
 * app thread reads them after mk_producer_close() or _flush() has returned, which is
 * ordered after every callback. The one hand-over is the end of the warmup: the app thread
 * fills `steady`, then sets have_steady (release); a callback that sees it set (acquire)
 * sees `steady` filled. */
struct perf {
  struct stats stats;
  struct stats steady;       /* after --warmup-records */
  atomic_bool have_steady;   /* steady is filled; stats no longer prints window lines */
  atomic_llong failed;
};

/* What PerfCallback holds for one record. Java allocates one per record, from its nursery
 * (a pointer bump); here they come in blocks of SEND_BLOCK, so that the loop makes one
 * malloc per block and not one per record, and the last completion of a block frees it. */
enum { SEND_BLOCK = 1024 };

struct perf_send {
  struct send_block *block;
  int64_t start_ms;          /* just before send() */
  int64_t bytes;             /* payload size */
  bool steady;               /* sent after the warmup: counts in the steady-state stats */
};

struct send_block {
  struct perf *perf;
  atomic_int pending;        /* sends not yet completed, counting those not yet handed out */
  int used;                  /* sends handed out (app thread only) */
  struct perf_send sends[SEND_BLOCK];
};

/* The next send's PerfCallback, from *current or a new block; NULL when out of memory. */
static struct perf_send *perf_send_new(struct perf *perf, struct send_block **current) {
  struct send_block *b = *current;
  if (!b) {
    if (!(b = malloc(sizeof *b))) return NULL;
    b->perf = perf;
    atomic_init(&b->pending, SEND_BLOCK);
    b->used = 0;
    *current = b;
  }
  struct perf_send *s = &b->sends[b->used++];
  s->block = b;
  /* Full: let go of it now, since its last callback may free it at any time from here on. */
  if (b->used == SEND_BLOCK) *current = NULL;
  return s;
}

/* n of b's sends are finished with (completed, or never to be handed out); the last frees b. */
static void send_block_release(struct send_block *b, int n) {
  if (atomic_fetch_sub_explicit(&b->pending, n, memory_order_acq_rel) == n) free(b);
}

/* PerfCallback.onCompletion: record a success, print a failure. Runs exactly once per
 * record. Thread: sender (or app when mk_producer_send failed at once). */
static void on_complete(const struct mk_record_metadata *md, const struct mk_err *err,
                        void *opaque) {
  struct perf_send *s = opaque;
  (void)md;
  int64_t now = now_ms();
  int latency = (int)(now - s->start_ms);
  struct perf *perf = s->block->perf;
  if (!err || err->code == 0) {
    bool steady = atomic_load_explicit(&perf->have_steady, memory_order_acquire);
    stats_record(&perf->stats, latency, s->bytes, now, !steady);
    if (s->steady) stats_record(&perf->steady, latency, s->bytes, now, true);
  } else {
    atomic_fetch_add(&perf->failed, 1);
    mk_log(MK_LOG_ERROR, "perf", "%s%s%s", mk_err_name(err->code), err->msg[0] ? ": " : "",
           err->msg);
  }
  send_block_release(s->block, 1);
}

/* The payloads of --payload-file, split as Java's Scanner.useDelimiter splits them: one
 * delimiter is skipped before each payload, a payload ends at the next delimiter, and none
 * is made of the end of the input. So "a\n\nb\n" is "a", "", "b". */
struct payloads {
  char *data;                /* the whole file */
  size_t *start, *len;
  int32_t count;
};

static int read_payloads(const char *path, const char *delim, struct payloads *pl) {
  /* Kafka prints the absolute path (Path.toAbsolutePath: the working directory prepended,
   * nothing resolved). */
  char cwd[4096];
  if (path[0] != '/' && getcwd(cwd, sizeof cwd))
    printf("Reading payloads from: %s/%s\n", cwd, path);
  else
    printf("Reading payloads from: %s\n", path);
  fflush(stdout);
  FILE *f = fopen(path, "rb");
  size_t size = 0, cap = 0;
  if (f) {
    for (;;) {
      if (size == cap) {
        char *d = realloc(pl->data, cap = cap ? cap * 2 : 65536);
        if (!d) break;
        pl->data = d;
      }
      size_t got = fread(pl->data + size, 1, cap - size, f);
      if (got == 0) break;
      size += got;
    }
    fclose(f);
  }
  if (!f || size == 0) {
    fprintf(stderr, "minikafka perf: File does not exist or empty file provided.%s%s\n",
            f ? "" : " ", f ? "" : strerror(errno));
    return MK_EXIT_FAILED;
  }
  size_t dlen = strlen(delim), pos = 0;
  for (;;) {
    if (size - pos >= dlen && memcmp(pl->data + pos, delim, dlen) == 0) pos += dlen;
    if (pos >= size) break;
    size_t end = pos;
    while (end < size && !(size - end >= dlen && memcmp(pl->data + end, delim, dlen) == 0)) end++;
    if (pl->count % 1024 == 0) {
      size_t *s = realloc(pl->start, sizeof *s * ((size_t)pl->count + 1024));
      size_t *l = s ? realloc(pl->len, sizeof *l * ((size_t)pl->count + 1024)) : NULL;
      if (s) pl->start = s;
      if (!l) {
        fprintf(stderr, "minikafka perf: out of memory reading %s\n", path);
        return MK_EXIT_FAILED;
      }
      pl->len = l;
    }
    pl->start[pl->count] = pos;
    pl->len[pl->count++] = end - pos;
    if (pl->count == INT32_MAX) break;
    pos = end;
  }
  printf("Number of messages read: %d\n", pl->count);
  fflush(stdout);
  return 0;
}

static void payloads_free(struct payloads *pl) {
  free(pl->data);
  free(pl->start);
  free(pl->len);
}

/* ---- metrics (ToolsUtils.printMetrics) ----------------------------------------------------- */

struct metric {
  char *name;                /* group:name:{tags}, as Java's MetricName prints */
  double value;
};

struct metric_list {
  struct metric *m;
  int count, cap;
  const char *client_id;
};

static void collect_metric(void *opaque, const char *group, const char *topic, const char *name,
                           double value) {
  struct metric_list *l = opaque;
  if (l->count == l->cap) {
    int cap = l->cap ? l->cap * 2 : 64;
    struct metric *m = realloc(l->m, sizeof *m * (size_t)cap);
    if (!m) return;
    l->m = m;
    l->cap = cap;
  }
  char *merged = NULL;
  int n = topic ? asprintf(&merged, "%s:%s:{client-id=%s, topic=%s}", group, name,
                           l->client_id, topic)
                : asprintf(&merged, "%s:%s:{client-id=%s}", group, name, l->client_id);
  if (n < 0) return;
  l->m[l->count++] = (struct metric){merged, value};
}

static int cmp_metric(const void *a, const void *b) {
  return strcmp(((const struct metric *)a)->name, ((const struct metric *)b)->name);
}

/* Every metric, sorted by name, in a column as wide as the longest name. */
static void print_metrics(struct mk_producer *p, const char *client_id) {
  struct metric_list l = {.client_id = client_id};
  mk_producer_metrics_each(p, collect_metric, &l);
  if (l.count == 0) return;
  qsort(l.m, (size_t)l.count, sizeof *l.m, cmp_metric);
  int width = 0;
  for (int i = 0; i < l.count; i++)
    if ((int)strlen(l.m[i].name) > width) width = (int)strlen(l.m[i].name);
  printf("\n%-*s   %s\n", width, "Metric Name", "Value");
  for (int i = 0; i < l.count; i++) {
    char v[64];
    java_fixed(v, sizeof v, l.m[i].value, 3);
    printf("%-*s : %s\n", width, l.m[i].name, v);
    free(l.m[i].name);
  }
  free(l.m);
  fflush(stdout);
}

/* ---- options ------------------------------------------------------------------------------- */

static bool parse_long(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || errno) return false;
  *out = v;
  return true;
}

static int parse_options(int argc, char **argv, struct options *o) {
  enum {
    O_TOPIC = 256, O_NUM_RECORDS, O_RECORD_SIZE, O_PAYLOAD_FILE, O_PAYLOAD_MONOTONIC,
    O_PAYLOAD_DELIMITER, O_THROUGHPUT, O_PRODUCER_PROPS, O_PRODUCER_CONFIG, O_PRINT_METRICS,
    O_TRANSACTIONAL_ID, O_TRANSACTION_DURATION, O_WARMUP, O_BOOTSTRAP, O_TRACE, O_HELP,
  };
  static const struct option longopts[] = {
      {"topic", required_argument, NULL, O_TOPIC},
      {"num-records", required_argument, NULL, O_NUM_RECORDS},
      {"record-size", required_argument, NULL, O_RECORD_SIZE},
      {"payload-file", required_argument, NULL, O_PAYLOAD_FILE},
      {"payload-monotonic", no_argument, NULL, O_PAYLOAD_MONOTONIC},
      {"payload-delimiter", required_argument, NULL, O_PAYLOAD_DELIMITER},
      {"throughput", required_argument, NULL, O_THROUGHPUT},
      {"producer-props", required_argument, NULL, O_PRODUCER_PROPS},
      {"producer.config", required_argument, NULL, O_PRODUCER_CONFIG},
      {"print-metrics", no_argument, NULL, O_PRINT_METRICS},
      {"transactional-id", required_argument, NULL, O_TRANSACTIONAL_ID},
      {"transaction-duration-ms", required_argument, NULL, O_TRANSACTION_DURATION},
      {"warmup-records", required_argument, NULL, O_WARMUP},
      {"bootstrap-server", required_argument, NULL, O_BOOTSTRAP},
      {"trace", required_argument, NULL, O_TRACE},
      {"help", no_argument, NULL, O_HELP},
      {NULL, 0, NULL, 0},
  };
  memset(o, 0, sizeof *o);
  o->payload_delimiter = "\n";
  o->producer_props = calloc((size_t)argc, sizeof *o->producer_props);
  if (!o->producer_props) return usage_error("out of memory");
  if (argc <= 1) {  /* as Kafka: no arguments at all shows the help */
    usage(stdout);
    return -1;
  }
  opterr = 0;
  optind = 1;
  int c;
  char *end;
  /* "+": stop at the first non-option, so the values after --producer-props can be taken
   * by hand (argparse's nargs="+": every following argument that is not an option). */
  while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
    switch (c) {
    case O_TOPIC: o->topic = optarg; break;
    case O_NUM_RECORDS:
      if (!parse_long(optarg, &o->num_records))
        return usage_error("argument --num-records: could not convert '%s' to Long", optarg);
      o->num_records_given = true;
      break;
    case O_RECORD_SIZE:
      if (!parse_long(optarg, &o->record_size) || o->record_size > INT32_MAX ||
          o->record_size < INT32_MIN)
        return usage_error("argument --record-size: could not convert '%s' to Integer", optarg);
      o->record_size_given = true;
      break;
    case O_PAYLOAD_FILE: o->payload_file = optarg; break;
    case O_PAYLOAD_MONOTONIC: o->payload_monotonic = true; break;
    case O_PAYLOAD_DELIMITER:
      /* The default is shown in the help as "\n" and means a newline; so does this. */
      o->payload_delimiter = strcmp(optarg, "\\n") == 0 ? "\n" : optarg;
      break;
    case O_THROUGHPUT:
      errno = 0;
      o->throughput = strtod(optarg, &end);
      if (!*optarg || *end || errno)
        return usage_error("argument --throughput: could not convert '%s' to Double", optarg);
      o->throughput_given = true;
      break;
    case O_PRODUCER_PROPS:
      /* argparse would keep only the last --producer-props list; here they add up. */
      o->producer_props_given = true;
      o->producer_props[o->nproducer_props++] = optarg;
      while (optind < argc && argv[optind][0] != '-')
        o->producer_props[o->nproducer_props++] = argv[optind++];
      break;
    case O_PRODUCER_CONFIG: o->producer_config = optarg; break;
    case O_PRINT_METRICS: o->print_metrics = true; break;
    case O_TRANSACTIONAL_ID: o->transactional_id = optarg; break;
    case O_TRANSACTION_DURATION:
      if (!parse_long(optarg, &o->transaction_duration_ms))
        return usage_error("argument --transaction-duration-ms: could not convert '%s' to Long",
                           optarg);
      if (o->transaction_duration_ms <= 0)
        return usage_error("--transaction-duration-ms should be greater than zero");
      break;
    case O_WARMUP:
      if (!parse_long(optarg, &o->warmup_records))
        return usage_error("argument --warmup-records: could not convert '%s' to Long", optarg);
      if (o->warmup_records < 0) o->warmup_records = 0;
      break;
    case O_BOOTSTRAP: o->bootstrap = optarg; break;
    case O_TRACE: o->trace = optarg; break;
    case 'h':
    case O_HELP: usage(stdout); return -1;
    default: return usage_error("unrecognized arguments: '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc) return usage_error("unrecognized arguments: '%s'", argv[optind]);
  /* argparse's checks, in its order, then ConfigPostProcessor's. */
  int payloads = o->record_size_given + (o->payload_file != NULL) + o->payload_monotonic;
  if (payloads > 1)
    return usage_error("only one of --record-size, --payload-file and --payload-monotonic "
                       "may be given");
  if (!o->topic) return usage_error("argument --topic is required");
  if (!o->num_records_given) return usage_error("argument --num-records is required");
  if (!o->throughput_given) return usage_error("argument --throughput is required");
  if (payloads == 0)
    return usage_error("one of the arguments --record-size --payload-file --payload-monotonic "
                       "is required");
  if (o->num_records <= 0) return usage_error("--num-records should be greater than zero");
  if (o->warmup_records >= o->num_records)
    return usage_error("The value for --warmup-records must be strictly fewer than the number "
                       "of records in the test, --num-records.");
  if (o->record_size_given && o->record_size <= 0)
    return usage_error("--record-size should be greater than zero");
  if (!o->producer_props_given && !o->producer_config && !o->bootstrap)
    return usage_error("Either --producer-props or --producer.config must be specified.");
  return 0;
}

/* Kafka's Uuid.randomUuid().toString(): 16 random bytes in URL-safe base64, unpadded. */
static void random_uuid(char out[23]) {
  static const char b64[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint8_t b[18] = {0};
  FILE *f = fopen("/dev/urandom", "rb");
  if (!f || fread(b, 1, 16, f) != 16) {  /* no urandom: the clock is random enough here */
    uint64_t t = (uint64_t)mk_now_us() ^ ((uint64_t)getpid() << 32);
    memcpy(b, &t, sizeof t);
  }
  if (f) fclose(f);
  for (int i = 0, k = 0; i < 18; i += 3) {
    uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 | b[i + 2];
    for (int j = 3; j >= 0 && k < 22; j--, k++) out[k] = b64[(v >> (6 * j)) & 63];
  }
  out[22] = 0;
}

/* ProducerPerformance.readProps, then our --bootstrap-server, then ConfigPostProcessor's
 * transactions. */
static int build_config(struct options *o, struct mk_producer_config *cfg) {
  struct mk_err err = {0};
  if (o->producer_config && mk_producer_config_load_file(cfg, o->producer_config, &err))
    return usage_error("--producer.config: %s", err.msg);
  for (int i = 0; i < o->nproducer_props; i++) {
    /* Java splits at every '=' and wants exactly two pieces: "k=v", not "k=" or "k=a=b". */
    const char *kv = o->producer_props[i], *eq = strchr(kv, '=');
    if (!eq || strchr(eq + 1, '=') || !eq[1]) return usage_error("Invalid property: %s", kv);
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
    if (mk_producer_config_set(cfg, key, eq + 1, &err))
      return usage_error("--producer-props: %s", err.msg);
  }
  if (o->bootstrap && mk_producer_config_set(cfg, "bootstrap.servers", o->bootstrap, &err))
    return usage_error("--bootstrap-server: %s", err.msg);
  o->transactions = o->transactional_id || o->transaction_duration_ms > 0 ||
                    mk_producer_config_is_set(cfg, "transactional.id");
  if (o->transactions) {
    char id[64];
    if (!o->transactional_id && !mk_producer_config_is_set(cfg, "transactional.id")) {
      char uuid[23];
      random_uuid(uuid);
      snprintf(id, sizeof id, "performance-producer-%s", uuid);
    }
    const char *chosen = o->transactional_id ? o->transactional_id
                         : mk_producer_config_is_set(cfg, "transactional.id") ? NULL : id;
    if (chosen && mk_producer_config_set(cfg, "transactional.id", chosen, &err))
      return usage_error("--transactional-id: %s", err.msg);
    if (o->transaction_duration_ms <= 0) o->transaction_duration_ms = 3000;
  }
  if (mk_producer_config_set(cfg, "key.serializer", "ByteArraySerializer", &err) ||
      mk_producer_config_set(cfg, "value.serializer", "ByteArraySerializer", &err) ||
      (!mk_producer_config_is_set(cfg, "client.id") &&
       mk_producer_config_set(cfg, "client.id", "perf-producer-client", &err)) ||
      mk_producer_config_finish(cfg, &err))
    return usage_error("%s", err.msg);
  for (int i = 0; i < cfg->num_notes; i++)  /* what Java logs at WARN (the tools' level) */
    if (cfg->notes[i].level <= MK_LOG_WARN) mk_log(MK_LOG_WARN, "perf", "%s", cfg->notes[i].msg);
  return 0;
}

/* A transactional call failed: Kafka's tool dies of the exception; this one says why and
 * stops sending (closing aborts the open transaction). */
static int transaction_failed(const char *call, const struct mk_err *err) {
  fprintf(stderr, "minikafka perf: %s failed: %s: %s\n", call, mk_err_name(err->code), err->msg);
  return MK_EXIT_FAILED;
}

/* commitTransaction. After Ctrl-C the tool may be closing (interrupt.h): then the commit is
 * not waited for here, close() waits for it, and that is no failure. */
static int commit(struct mk_producer *p, struct mk_err *err) {
  mk_cli_interrupt_busy(true);
  int rc = mk_producer_commit_transaction(p, err);
  mk_cli_interrupt_busy(false);
  return rc && mk_cli_interrupted() ? 0 : rc;
}

/* The send loop (ProducerPerformance.start). Returns 0, MK_EXIT_FAILED if out of memory or
 * a transactional call failed. */
static int run(struct mk_producer *p, const struct options *o, const struct payloads *pl,
               struct perf *perf) {
  uint8_t *payload = NULL;
  if (o->record_size > 0 && !(payload = malloc((size_t)o->record_size))) return MK_EXIT_FAILED;
  struct splittable_random random = {0};
  if (o->warmup_records > 0) {
    printf("Warmup first %lld records. Steady state results will print after the complete "
           "test summary.\n", (long long)o->warmup_records);
    fflush(stdout);
  }
  if (!stats_init(&perf->stats, o->num_records, false)) {
    free(payload);
    return MK_EXIT_FAILED;
  }
  struct throttler throttler;
  throttler_init(&throttler, o->throughput, mk_now_us());
  int rc = 0;
  char number[24];
  struct send_block *block = NULL;  /* where the next PerfCallbacks come from */
  bool steady = false;              /* the warmup is over */
  int64_t in_transaction = 0, transaction_start = 0;  /* records in the open one; its start */
  bool oom = false;
  struct mk_err err = {0};
  for (int64_t i = 0; i < o->num_records; i++) {
    /* generateRandomPayload */
    const uint8_t *value;
    size_t len;
    if (pl->count > 0) {
      int32_t k = random_next_bounded(&random, pl->count);
      value = (const uint8_t *)pl->data + pl->start[k];
      len = pl->len[k];
    } else if (payload) {
      for (int64_t j = 0; j < o->record_size; j++)
        payload[j] = (uint8_t)(random_next_bounded(&random, 26) + 65);
      value = payload;
      len = (size_t)o->record_size;
    } else {
      len = (size_t)snprintf(number, sizeof number, "%lld", (long long)i);
      value = (const uint8_t *)number;
    }
    if (o->transactions && in_transaction == 0) {
      if (mk_producer_begin_transaction(p, &err)) {
        rc = transaction_failed("beginTransaction", &err);
        break;
      }
      transaction_start = now_ms();
    }
    int64_t send_start_us = mk_now_us(), send_start = send_start_us / 1000;
    if (o->warmup_records > 0 && i == o->warmup_records) {
      if (!stats_init(&perf->steady, o->num_records - o->warmup_records, true)) {
        rc = MK_EXIT_FAILED;
        oom = true;
        break;
      }
      atomic_store_explicit(&perf->have_steady, true, memory_order_release);
      steady = true;
    }
    struct perf_send *s = perf_send_new(perf, &block);
    if (!s) {
      rc = MK_EXIT_FAILED;
      oom = true;
      break;
    }
    s->start_ms = send_start;
    s->bytes = (int64_t)len;
    s->steady = steady;
    struct mk_producer_record rec = {
        .topic = o->topic,
        .partition = -1,
        .key = mk_value_null(),
        .value = mk_value_bytes(value, len),
        .timestamp = -1,
    };
    /* A failure at once has already run on_complete (with the error): the loop goes on,
     * as in Kafka, so the error is not needed here. Ctrl-C ends the loop, and wakes a send
     * waiting for metadata (interrupt.h). */
    mk_cli_interrupt_busy(true);
    int sent = mk_producer_send(p, &rec, on_complete, s, NULL, &err);
    mk_cli_interrupt_busy(false);
    in_transaction++;
    if (mk_cli_interrupted()) break;
    /* The transaction failed (fenced, or a record lost): Java's send throws, and the tool
     * dies; so does this run. */
    if (sent && o->transactions && mk_producer_transaction_state(p) >= MK_TXN_ABORTABLE_ERROR) {
      rc = transaction_failed("send", &err);
      break;
    }
    if (o->transactions && o->transaction_duration_ms <= send_start - transaction_start) {
      in_transaction = 0;
      if (commit(p, &err)) {
        rc = transaction_failed("commitTransaction", &err);
        break;
      }
    }
    if (throttler_should_throttle(&throttler, i, send_start_us)) throttler_throttle(&throttler);
  }
  /* The last transaction, also after Ctrl-C: what was accepted is sent and committed. */
  if (o->transactions && in_transaction > 0 && !rc && commit(p, &err))
    rc = transaction_failed("commitTransaction", &err);
  if (block) send_block_release(block, SEND_BLOCK - block->used);  /* the unused sends */
  free(payload);
  if (oom) fprintf(stderr, "minikafka perf: out of memory\n");
  return rc;
}

int mk_cli_perf(int argc, char **argv) {
  struct options o;
  int rc = parse_options(argc, argv, &o);
  if (rc) {
    free(o.producer_props);
    return rc < 0 ? MK_EXIT_OK : rc;
  }
  struct payloads pl = {0};
  if (o.payload_file && (rc = read_payloads(o.payload_file, o.payload_delimiter, &pl))) {
    payloads_free(&pl);
    free(o.producer_props);
    return rc;
  }
  struct mk_producer_config *cfg = mk_producer_config_new();
  rc = cfg ? build_config(&o, cfg) : usage_error("out of memory");
  free(o.producer_props);
  char client_id[256] = "";
  if (!rc) snprintf(client_id, sizeof client_id, "%s", cfg->client_id ? cfg->client_id : "");

  struct mk_err err = {0};
  int trace_sink = -1;
  if (!rc && o.trace && (trace_sink = mk_trace_open_file(o.trace, &err)) < 0) {
    fprintf(stderr, "minikafka perf: %s\n", err.msg);
    rc = MK_EXIT_FAILED;
  }
  struct mk_producer *p = NULL;
  mk_cli_interrupt_block();  /* the Sender thread starts with SIGINT and SIGTERM blocked */
  if (!rc && mk_producer_new(cfg, &p, &err)) {
    fprintf(stderr, "minikafka perf: %s\n", err.msg);
    rc = MK_EXIT_FAILED;
  }
  if (!rc && mk_cli_interrupt_start(p)) {
    mk_producer_close(p, 0);
    rc = MK_EXIT_FAILED;
  }
  if (cfg) mk_producer_config_free(cfg);  /* the producer keeps its own copy */
  if (rc) {
    payloads_free(&pl);
    mk_trace_remove_sink(trace_sink);
    return rc;
  }

  struct perf perf = {0};
  atomic_init(&perf.have_steady, false);
  atomic_init(&perf.failed, 0);
  if (o.transactions) {  /* ProducerPerformance: before the loop, outside its timing */
    mk_cli_interrupt_busy(true);
    if (mk_producer_init_transactions(p, &err)) rc = transaction_failed("initTransactions", &err);
    mk_cli_interrupt_busy(false);
  }
  if (!rc && !mk_cli_interrupted()) rc = run(p, &o, &pl, &perf);
  /* As Kafka: without --print-metrics, close (which waits for every record) and then
   * print; with it, flush, print the stats and the metrics, then close. */
  if (!o.print_metrics) mk_producer_close(p, -1);
  else mk_producer_flush(p, -1, &err);
  /* Every callback has run, and close/flush returning orders this after them (struct perf). */
  if (perf.stats.latencies) stats_print_total(&perf.stats);
  if (atomic_load(&perf.have_steady)) stats_print_total(&perf.steady);
  if (o.print_metrics) {
    print_metrics(p, client_id);
    mk_producer_close(p, -1);
  }
  int stop_signal = mk_cli_interrupted();
  mk_cli_interrupt_stop();
  mk_trace_remove_sink(trace_sink);
  long long nfailed = atomic_load(&perf.failed);
  if (nfailed > 0) {
    fprintf(stderr, "minikafka perf: %lld of %lld records failed\n", nfailed,
            (long long)o.num_records);
    if (!rc) rc = MK_EXIT_FAILED;
  }
  free(perf.stats.latencies);
  free(perf.steady.latencies);
  payloads_free(&pl);
  return stop_signal ? 128 + stop_signal : rc;
}
