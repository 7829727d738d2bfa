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
 *   CPU         what a batch of these records costs to compress and to decompress with the
 *               codec and level the producer used: one batch's worth of the records
 *               (batch.size bytes of them) compressed again and again on this thread, timed
 *               with CLOCK_THREAD_CPUTIME_ID, the best of several rounds. Timing the producer
 *               itself would mostly time the lab's own tracing, and a busy machine (other
 *               threads, other processes) would change it from run to run; the CPU time of
 *               one thread doing only this does not change with what else runs.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "labs/lab.h"
#include "protocol/compression.h"
#include "protocol/primitives.h"

static const struct mk_lab_param params[] = {
    {"records", "20000", "records sent with each codec", 10, 200000},
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

struct tally {
  pthread_mutex_t lock;
  int completed, failed;
};

static void on_done(const struct mk_record_metadata *md, const struct mk_err *err, void *opaque) {
  (void)md;
  struct tally *t = opaque;
  pthread_mutex_lock(&t->lock);
  t->completed++;
  t->failed += err->code != 0;
  pthread_mutex_unlock(&t->lock);
}

/* ---- what a batch costs to compress ------------------------------------------------------- */

enum { ROUNDS = 5, ROUND_US = 10000 };

/* CPU microseconds per call of once(), the best of ROUNDS rounds of at least ROUND_US each. */
static double best_us(int (*once)(void *), void *arg) {
  double best = -1;
  for (int r = 0; r < ROUNDS; r++) {
    int64_t start = thread_cpu_us(), used = 0;
    long calls = 0;
    do {
      if (once(arg)) return -1;
      calls++;
      used = thread_cpu_us() - start;
    } while (used < ROUND_US);
    double per = (double)used / (double)calls;
    if (best < 0 || per < best) best = per;
  }
  return best;
}

struct codec_job {
  int type, level;
  const uint8_t *raw;
  size_t raw_len;
  struct mk_writer out;  /* the compressed batch, kept from the last call */
  struct mk_err err;
};

static int compress_once(void *arg) {
  struct codec_job *j = arg;
  mk_writer_free(&j->out);
  mk_writer_init(&j->out);
  return mk_compress(j->type, j->level, j->raw, j->raw_len, &j->out, &j->err);
}

static int decompress_once(void *arg) {
  struct codec_job *j = arg;
  struct mk_writer back;
  mk_writer_init(&back);
  int rc = mk_decompress(j->type, j->out.buf, j->out.len, j->raw_len + 1024, &back, &j->err);
  mk_writer_free(&back);
  return rc;
}

/* The level the producer uses for a codec (compression.<codec>.level). */
static int level_of(const struct mk_producer_config *cfg, int type) {
  switch (type) {
    case MK_COMPRESSION_GZIP: return cfg->compression_gzip_level;
    case MK_COMPRESSION_LZ4: return cfg->compression_lz4_level;
    case MK_COMPRESSION_ZSTD: return cfg->compression_zstd_level;
    default: return MK_COMPRESSION_LEVEL_DEFAULT;
  }
}

/* Compress and decompress batch.size bytes of the records (as the records section of a
 * batch would hold them) with the producer's codec and level; report per-batch CPU. */
static int codec_cost(struct mk_lab_ctx *ctx, const char *row,
                      const struct mk_producer_config *cfg, char **values, int records) {
  if (cfg->compression_type == MK_COMPRESSION_NONE) return 0;
  size_t want = cfg->batch_size > 0 ? (size_t)cfg->batch_size : 1;
  uint8_t *raw = malloc(want + 512);
  if (!raw) return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  size_t len = 0;
  for (int i = 0; len < want; i = (i + 1) % records) {
    size_t n = strlen(values[i]);
    memcpy(raw + len, values[i], n < want + 512 - len ? n : want + 512 - len);
    len += n;
  }
  if (len > want) len = want;
  struct codec_job j = {cfg->compression_type, level_of(cfg, cfg->compression_type), raw, len};
  mk_writer_init(&j.out);
  double comp = best_us(compress_once, &j);
  double decomp = comp >= 0 ? best_us(decompress_once, &j) : -1;
  mk_writer_free(&j.out);
  free(raw);
  if (comp < 0 || decomp < 0)
    return mk_lab_fail(ctx, j.err.code ? j.err.code : MK_ERR__STATE, "%s: %s", row, j.err.msg);
  mk_lab_figure(ctx, row, "compress us/batch", comp);
  mk_lab_figure(ctx, row, "decompress us/batch", decomp);
  mk_lab_figure(ctx, row, "compress MB/s", (double)len / comp);
  return 0;
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
  struct mk_producer_config *cfg;
  if ((rc = mk_lab_producer_config(ctx, kv, &cfg))) return rc;
  struct mk_producer *p;
  struct mk_err err = {0};
  rc = mk_producer_new(cfg, &p, &err);
  if (rc) {
    mk_producer_config_free(cfg);
    return mk_lab_fail(ctx, rc, "producer: %s", err.msg);
  }
  /* No warm-up record: compression-rate-avg averages over every batch the producer sent, so
   * it must send only these. */
  struct tally t = {.completed = 0};
  pthread_mutex_init(&t.lock, NULL);
  size_t mark = mk_lab_mark(ctx);
  int64_t start = mk_now_us();
  int failed_at_once = 0;
  for (int i = 0; i < records; i++)
    failed_at_once += send_one(p, mk_lab_topic(ctx, topic), values[i], &t) != 0;
  rc = mk_producer_flush(p, 60000, &err);
  int64_t elapsed = mk_now_us() - start;
  double ratio = mk_producer_metric(p, "compression-rate-avg");
  double batch_avg = mk_producer_metric(p, "batch-size-avg");
  mk_producer_close(p, 5000);
  pthread_mutex_lock(&t.lock);
  int failed = t.failed, completed = t.completed;
  pthread_mutex_unlock(&t.lock);
  pthread_mutex_destroy(&t.lock);
  if (rc || failed || failed_at_once || completed != records) {
    mk_producer_config_free(cfg);
    return mk_lab_fail(ctx, rc ? rc : MK_ERR__STATE, "%s: %d of %d records failed", codec, failed,
                       records);
  }
  rc = codec_cost(ctx, codec, cfg, values, records);
  mk_producer_config_free(cfg);
  if (rc) return rc;

  int appended = 0;
  double raw = raw_batch_bytes(ctx, mark, topic);
  double wire = sum_field(ctx, mark, "broker", "append", topic, "bytes", &appended);
  mk_lab_figure(ctx, codec, "ratio", ratio);
  mk_lab_figure(ctx, codec, "wire/raw", raw > 0 ? wire / raw : 0);
  mk_lab_figure(ctx, codec, "wire KB", wire / 1024.0);
  mk_lab_figure(ctx, codec, "raw KB", raw / 1024.0);
  mk_lab_figure(ctx, codec, "batch B avg", batch_avg);
  mk_lab_figure(ctx, codec, "rec/batch", appended ? (double)records / appended : 0);
  mk_lab_figure(ctx, codec, "records/s", elapsed > 0 ? records * 1e6 / (double)elapsed : 0);
  return 0;
}

static int run(struct mk_lab_ctx *ctx) {
  int records = (int)mk_lab_param(ctx, "records");
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
  static const char *const cost_cols[] = {"compress us/batch", "decompress us/batch",
                                          "compress MB/s", "records/s", NULL};
  mk_lab_table(ctx,
               "Cost: CPU to compress and to decompress one batch (batch.size bytes of these\n"
               "records, at the producer's compression.<codec>.level; the best of 5 rounds on one\n"
               "thread, so other work on the machine does not count). The producer pays the\n"
               "first once per batch, on the Sender thread; the broker (which checks each batch)\n"
               "and every consumer pay the second. records/s: this producer, flat out (it moves\n"
               "with the machine's load, and the lab's own tracing takes most of its time):",
               rows, cost_cols);

  bool all_smaller = true;
  double worst = 0;
  for (int c = 1; c < NCODECS; c++) {
    double r = mk_lab_value(ctx, CODECS[c], "ratio");
    all_smaller &= r < 1.0;
    worst = r > worst ? r : worst;
  }
  double none = mk_lab_value(ctx, "none", "ratio");
  /* Your --set wins over the lab's: compression.type then names one codec for every row. */
  char same[160] = "";
  char type[32];
  struct mk_err err = {0};
  struct mk_producer_config *probe = mk_producer_config_new();
  if (probe && mk_lab_user_set(ctx, "compression.type") &&
      !mk_producer_config_get(probe, "compression.type", type, sizeof type, &err))
    snprintf(same, sizeof same,
             "your --set compression.type wins over the lab's, so every row used the same codec");
  mk_producer_config_free(probe);
  mk_lab_claim_unless(ctx, none == 1.0 && all_smaller, same[0] ? same : NULL,
                      "every codec shrank the JSON batches (the worst to %.2f of their size); none\n"
                      "    leaves them as they are (ratio %.2f)",
                      worst, none);
  double gzip = mk_lab_value(ctx, "gzip", "ratio"), zstd = mk_lab_value(ctx, "zstd", "ratio");
  double lz4 = mk_lab_value(ctx, "lz4", "ratio"), snappy = mk_lab_value(ctx, "snappy", "ratio");
  mk_lab_claim_unless(ctx, gzip < lz4 && gzip < snappy && zstd < lz4 && zstd < snappy,
                      same[0] ? same : NULL,
                      "gzip and zstd (%.2f, %.2f) compress text harder than lz4 and snappy (%.2f, "
                      "%.2f)",
                      gzip, zstd, lz4, snappy);
  /* The producer's CompressionRatioEstimator at work: the codec whose batches held most. */
  const char *most = CODECS[1];
  for (int c = 2; c < NCODECS; c++)
    if (mk_lab_value(ctx, CODECS[c], "rec/batch") > mk_lab_value(ctx, most, "rec/batch"))
      most = CODECS[c];
  mk_lab_note(ctx,
              "  Note 004 counts the producer's and the consumers' CPU; the broker pays too: it\n"
              "  decompresses each batch to check it (the decompress column).");
  if (!same[0])
    mk_lab_note(ctx,
                "  A compressed batch can hold more records than batch.size uncompressed bytes\n"
                "  (rec/batch: %.0f with %s, %.0f with none): like Java's producer, ours estimates\n"
                "  each topic's compression ratio from the batches it sent (Java's\n"
                "  CompressionRatioEstimator) and closes a batch at batch.size estimated compressed\n"
                "  bytes. The estimate starts at 1.0 and improves by 0.005 a batch, so a short run\n"
                "  shows less of it than a long one.",
                mk_lab_value(ctx, most, "rec/batch"), most, mk_lab_value(ctx, "none", "rec/batch"));
  return 0;
}

const struct mk_lab mk_lab_compression = {
    "compression",
    "none/gzip/snappy/lz4/zstd: compression ratio, bytes on the wire, throughput and CPU",
    params,
    run,
};
