/*
 * Lab 8, compression: none, gzip, snappy, lz4 and zstd on the same JSON-like records: how much
 * smaller the batches get, and what it costs the producer.
 * Guide: labs/compression/README.md. Notes: 002 (the compression.type row), 004 "배치 처리와
 * 압축" (compression is per batch; it trades producer CPU for network).
 *
 * For each codec: a new topic (one partition, three replicas) and a new producer with that
 * compression.type (Kafka's defaults otherwise: batch.size 16 KiB, linger.ms 5). `records`
 * records of event-like JSON (about 230 B each, generated the same way every run) are sent as
 * fast as possible, then flushed. Measured:
 *   ratio       compressed / uncompressed bytes per batch: the compression-rate-avg metric
 *   wire bytes  the batches the broker appended (its `append` events' bytes), against the
 *               same batches uncompressed (each batch's last producer `append` event: its
 *               size after its last record; `batch_ready` is too early, since records can
 *               still join a batch between ready and drain)
 *   records/s   first send() to flush()'s return
 *   CPU         the producer's: the application thread (send(): serialize, append) and the
 *               Sender thread (where batches are compressed, in drain), each measured with
 *               CLOCK_THREAD_CPUTIME_ID on that thread; and the whole process's (getrusage,
 *               which also counts the embedded broker decompressing each batch to check it)
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "common/clock.h"
#include "labs/lab.h"

static const struct mk_lab_param params[] = {
    {"records", "20000", "records sent with each codec"},
    {NULL, NULL, NULL},
};

static const char *const CODECS[] = {"none", "gzip", "snappy", "lz4", "zstd"};
enum { NCODECS = 5 };

/* ---- the records ---------------------------------------------------------------------------- */

/* xorshift64*: the same records every run. */
static uint64_t next_random(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 2685821657736338717ULL;
}

/* An event as a web shop might log it: field names repeat in every record, values come from
 * small vocabularies or are numbers, as in most JSON on Kafka topics. */
static void make_event(char *buf, size_t size, uint64_t *rng, int i) {
  static const char *const actions[] = {"page_view", "add_to_cart", "search", "checkout", "login"};
  static const char *const sections[] = {"electronics", "books", "garden", "toys", "fashion"};
  static const char *const devices[] = {"mobile", "desktop", "tablet"};
  static const char *const countries[] = {"KR", "US", "DE", "JP", "BR", "IN"};
  uint64_t r = next_random(rng);
  snprintf(buf, size,
           "{\"event_id\":%d,\"user\":\"user-%05u\",\"action\":\"%s\",\"page\":\"/products/%s/%u\","
           "\"ts\":\"2024-11-29T10:%02u:%02u.%03uZ\",\"device\":\"%s\",\"country\":\"%s\","
           "\"session\":\"%08x%04x\",\"duration_ms\":%u}",
           i, (unsigned)(r % 50000), actions[(r >> 16) % 5], sections[(r >> 20) % 5],
           (unsigned)((r >> 24) % 10000), (unsigned)((r >> 32) % 60), (unsigned)((r >> 38) % 60),
           (unsigned)((r >> 44) % 1000), devices[(r >> 54) % 3], countries[(r >> 56) % 6],
           (unsigned)(next_random(rng) >> 32), (unsigned)(r & 0xffff),
           (unsigned)((r >> 8) % 30000));
}

/* ---- CPU time, per thread ------------------------------------------------------------------- */

static int64_t thread_cpu_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t process_cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
         ru.ru_stime.tv_usec;
}

/* The callback runs on the Sender thread, so it can read that thread's CPU clock: the
 * largest reading is the Sender's CPU time at its last completion. */
struct tally {
  pthread_mutex_t lock;
  int completed, failed;
  int64_t sender_cpu_us;
};

static void on_done(const struct mk_record_metadata *md, const struct mk_err *err, void *opaque) {
  (void)md;
  struct tally *t = opaque;
  int64_t cpu = thread_cpu_us();
  pthread_mutex_lock(&t->lock);
  t->completed++;
  t->failed += err->code != 0;
  if (cpu > t->sender_cpu_us) t->sender_cpu_us = cpu;
  pthread_mutex_unlock(&t->lock);
}

static int send_one(struct mk_producer *p, const char *topic, const char *value, struct tally *t) {
  struct mk_producer_record rec = {.topic = topic,
                                   .partition = 0,
                                   .key = mk_value_null(),
                                   .value = mk_value_string(value),
                                   .timestamp = -1};
  struct mk_err err = {0};
  return mk_producer_send(p, &rec, on_done, t, NULL, &err);
}

/* Sum of an integer field over the events since mark. */
static double sum_field(struct mk_lab_ctx *ctx, size_t mark, const char *side, const char *event,
                        const char *topic, const char *field, int *count) {
  json_t *evs = mk_lab_events(ctx, mark, side, event, topic);
  size_t i;
  json_t *ev;
  double sum = 0;
  json_array_foreach(evs, i, ev) sum += (double)json_integer_value(json_object_get(ev, field));
  if (count) *count = (int)json_array_size(evs);
  json_decref(evs);
  return sum;
}

/* The producer's batches before compression: each batch's size after its last record, which
 * its last `append` event reports (the events of one batch grow, and come in order). */
static double raw_batch_bytes(struct mk_lab_ctx *ctx, size_t mark, const char *topic) {
  json_t *evs = mk_lab_events(ctx, mark, "producer", "append", topic);
  json_t *last = json_object();  /* batch_id -> bytes of its latest append */
  size_t i;
  json_t *ev;
  json_array_foreach(evs, i, ev) {
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(ev, "batch_id")));
    json_object_set(last, id, json_object_get(ev, "bytes"));
  }
  double sum = 0;
  const char *id;
  json_t *bytes;
  json_object_foreach(last, id, bytes) sum += (double)json_integer_value(bytes);
  json_decref(last);
  json_decref(evs);
  return sum;
}

/* ---- one codec --------------------------------------------------------------------------------
 */

static int one_codec(struct mk_lab_ctx *ctx, int c, char **values, int records) {
  const char *codec = CODECS[c];
  char topic[32], setting[48];
  snprintf(topic, sizeof topic, "compressed-%s", codec);
  snprintf(setting, sizeof setting, "compression.type=%s", codec);
  int rc = mk_lab_create_topic(ctx, topic, 1, 3);
  if (rc) return rc;
  const char *kv[] = {setting, NULL};
  struct mk_producer *p;
  if ((rc = mk_lab_producer_new(ctx, kv, &p))) return rc;
  /* No warm-up record: compression-rate-avg averages over every batch the producer sent, so
   * it must send only these. The Sender thread's CPU clock starts with the thread, in
   * mk_producer_new: what it used before the first batch (metadata, the producer id) is
   * counted too, and is tiny. */
  struct tally t = {.completed = 0};
  pthread_mutex_init(&t.lock, NULL);
  struct mk_err err = {0};
  size_t mark = mk_lab_mark(ctx);
  int64_t proc_start = process_cpu_us(), app_start = thread_cpu_us(), start = mk_now_us();
  int failed_at_once = 0;
  for (int i = 0; i < records; i++)
    failed_at_once += send_one(p, mk_lab_topic(ctx, topic), values[i], &t) != 0;
  int64_t app_cpu = thread_cpu_us() - app_start;
  rc = mk_producer_flush(p, 60000, &err);
  int64_t elapsed = mk_now_us() - start;
  int64_t proc_cpu = process_cpu_us() - proc_start;
  double ratio = mk_producer_metric(p, "compression-rate-avg");
  double batch_avg = mk_producer_metric(p, "batch-size-avg");
  mk_producer_close(p, 5000);
  pthread_mutex_lock(&t.lock);
  int64_t sender_cpu = t.sender_cpu_us;
  int failed = t.failed, completed = t.completed;
  pthread_mutex_unlock(&t.lock);
  pthread_mutex_destroy(&t.lock);
  if (rc || failed || failed_at_once || completed != records)
    return mk_lab_fail(ctx, rc ? rc : MK_ERR__STATE, "%s: %d of %d records failed", codec, failed,
                       records);

  int appended = 0;
  double raw = raw_batch_bytes(ctx, mark, topic);
  double wire = sum_field(ctx, mark, "broker", "append", topic, "bytes", &appended);
  double producer_cpu_ms = (double)(app_cpu + sender_cpu) / 1000.0;
  mk_lab_figure(ctx, codec, "ratio", ratio);
  mk_lab_figure(ctx, codec, "wire/raw", raw > 0 ? wire / raw : 0);
  mk_lab_figure(ctx, codec, "wire KB", wire / 1024.0);
  mk_lab_figure(ctx, codec, "raw KB", raw / 1024.0);
  mk_lab_figure(ctx, codec, "batch B avg", batch_avg);
  mk_lab_figure(ctx, codec, "rec/batch", appended ? (double)records / appended : 0);
  mk_lab_figure(ctx, codec, "records/s", elapsed > 0 ? records * 1e6 / (double)elapsed : 0);
  mk_lab_figure(ctx, codec, "sender CPU ms", (double)sender_cpu / 1000.0);
  mk_lab_figure(ctx, codec, "producer CPU ms", producer_cpu_ms);
  mk_lab_figure(ctx, codec, "CPU us/batch", appended ? producer_cpu_ms * 1000.0 / appended : 0);
  mk_lab_figure(ctx, codec, "process CPU ms", (double)proc_cpu / 1000.0);
  return 0;
}

static int run(struct mk_lab_ctx *ctx) {
  int records = (int)mk_lab_param(ctx, "records");
  if (records < 10 || records > 200000)
    return mk_lab_fail(ctx, MK_ERR__INVALID_ARG, "records must be 10..200000");
  char **values = calloc((size_t)records, sizeof *values);
  if (!values) return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  uint64_t rng = 0x9e3779b97f4a7c15ULL;
  size_t total = 0;
  int rc = 0;
  for (int i = 0; i < records && !rc; i++) {
    char buf[512];
    make_event(buf, sizeof buf, &rng, i);
    total += strlen(buf);
    if (!(values[i] = strdup(buf))) rc = mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  }
  if (!rc) {
    mk_lab_heading(ctx, "Five codecs, the same records");
    mk_lab_say(ctx, "%d records of JSON, %.0f B each on average, like this one:\n  %s", records,
               (double)total / records, values[0]);
    mk_lab_say(
        ctx,
        "For each compression.type, a producer at Kafka's defaults (batch.size 16 KiB,\n"
        "linger.ms 5) sends them as fast as it can to its own topic. Compression happens once\n"
        "per batch, on the Sender thread, when the batch is drained (note 004: \"압축은 개별\n"
        "메시지가 아닌 배치 단위로 수행\").");
    mk_lab_predict(ctx,
                   "which codec makes the smallest batches? Which is cheapest in CPU? Does any\n"
                   "         make the producer faster?");
    rc = mk_lab_broker_start(ctx, NULL);
  }
  for (int c = 0; !rc && c < NCODECS; c++) {
    rc = one_codec(ctx, c, values, records);
    mk_lab_progress(ctx, "codecs", c + 1, NCODECS);
  }
  for (int i = 0; i < records; i++) free(values[i]);
  free(values);
  if (rc) return rc;

  static const char *const rows[] = {"none", "gzip", "snappy", "lz4", "zstd", NULL};
  static const char *const size_cols[] = {"ratio",       "raw KB",    "wire KB", "wire/raw",
                                          "batch B avg", "rec/batch", NULL};
  mk_lab_table(
      ctx,
      "Size: ratio = compressed / uncompressed, averaged over batches (compression-rate-avg);\n"
      "raw and wire KB = the batches before compression (each batch's last producer append\n"
      "event) and as the leader appended them (the broker's append events); batch B avg =\n"
      "batch-size-avg, the bytes of a batch as sent:",
      rows, size_cols);
  static const char *const cost_cols[] = {"records/s",    "sender CPU ms",  "producer CPU ms",
                                          "CPU us/batch", "process CPU ms", NULL};
  mk_lab_table(ctx,
               "Cost: producer CPU = the application thread (send) + the Sender thread (which\n"
               "compresses); process CPU (getrusage) also counts the broker checking each batch:",
               rows, cost_cols);

  bool all_smaller = true;
  double worst = 0;
  for (int c = 1; c < NCODECS; c++) {
    double r = mk_lab_value(ctx, CODECS[c], "ratio");
    all_smaller &= r < 1.0;
    worst = r > worst ? r : worst;
  }
  double none = mk_lab_value(ctx, "none", "ratio");
  mk_lab_claim(ctx, none == 1.0 && all_smaller,
               "every codec shrank the JSON batches (the worst to %.2f of their size); none\n"
               "    leaves them as they are (ratio %.2f)",
               worst, none);
  double gzip = mk_lab_value(ctx, "gzip", "ratio"), zstd = mk_lab_value(ctx, "zstd", "ratio");
  double lz4 = mk_lab_value(ctx, "lz4", "ratio"), snappy = mk_lab_value(ctx, "snappy", "ratio");
  mk_lab_claim(ctx, gzip < lz4 && gzip < snappy && zstd < lz4 && zstd < snappy,
               "gzip and zstd (%.2f, %.2f) compress text harder than lz4 and snappy (%.2f, %.2f)",
               gzip, zstd, lz4, snappy);
  mk_lab_note(
      ctx,
      "  Note 004 counts the producer's and the consumers' CPU; the broker pays too (it\n"
      "  decompresses each batch to check it: process CPU). And unlike Java's producer, which\n"
      "  estimates each topic's compression ratio and packs more records into a compressed batch,\n"
      "  minikafka's fills every batch to batch.size uncompressed bytes (rec/batch).");
  return 0;
}

const struct mk_lab mk_lab_compression = {
    "compression",
    "none/gzip/snappy/lz4/zstd: compression ratio, bytes on the wire, throughput and CPU",
    params,
    run,
};
