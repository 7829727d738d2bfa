/*
 * Producer metrics: see producer_metrics.h. A stat keeps two samples; recording into a
 * sample older than the window starts it afresh, and reads combine both, as Kafka's
 * SampledStat does with its default of two 30-second samples.
 */
#include "producer/producer_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

enum { WINDOW_MS = 30000 };

void mk_producer_metrics_init(struct mk_producer_metrics *m, int64_t buffer_memory) {
  memset(m, 0, sizeof *m);
  pthread_mutex_init(&m->lock, NULL);
  m->buffer_total_bytes = buffer_memory;
  atomic_init(&m->buffer_available_bytes, buffer_memory);
  m->start_ms = mk_now_us() / 1000;
  for (int i = 0; i < MK_M_COUNT; i++)
    m->stats[i].sample_start_ms[0] = m->stats[i].sample_start_ms[1] = m->start_ms;
}

void mk_producer_metrics_destroy(struct mk_producer_metrics *m) {
  for (int i = 0; i < m->topics_count; i++) free(m->topics[i].topic);
  free(m->topics);
  pthread_mutex_destroy(&m->lock);
}

static void roll(struct mk_stat *s, int64_t now) {
  if (now - s->sample_start_ms[s->current] < WINDOW_MS) return;
  s->current ^= 1;
  s->sample_start_ms[s->current] = now;
  s->sum[s->current] = s->max[s->current] = 0;
  s->count[s->current] = 0;
}

/* count observations at once, adding up to sum, the largest max. */
static void add_many(struct mk_stat *s, int64_t now, double sum, int64_t count, double max) {
  roll(s, now);
  s->sum[s->current] += sum;
  s->count[s->current] += count;
  if (max > s->max[s->current]) s->max[s->current] = max;
  s->total += sum;
}

static void add(struct mk_stat *s, int64_t now, double value) { add_many(s, now, value, 1, value); }

void mk_metrics_record(struct mk_producer_metrics *m, enum mk_metric_id id, double value) {
  int64_t now = mk_now_us() / 1000;
  pthread_mutex_lock(&m->lock);
  add(&m->stats[id], now, value);
  pthread_mutex_unlock(&m->lock);
}

/* topic's entry, added if new; NULL only when out of memory. Lock held. A producer writes
 * to a handful of topics, so a linear search is enough. */
static struct mk_topic_stats *topic_stats(struct mk_producer_metrics *m, const char *topic,
                                          int64_t now) {
  for (int i = 0; i < m->topics_count; i++)
    if (strcmp(m->topics[i].topic, topic) == 0) return &m->topics[i];
  if (m->topics_count == m->topics_cap) {
    int cap = m->topics_cap ? 2 * m->topics_cap : 4;
    struct mk_topic_stats *t = realloc(m->topics, (size_t)cap * sizeof *t);
    if (!t) return NULL;
    m->topics = t;
    m->topics_cap = cap;
  }
  struct mk_topic_stats *t = &m->topics[m->topics_count];
  memset(t, 0, sizeof *t);
  if (!(t->topic = strdup(topic))) return NULL;
  for (int i = 0; i < MK_M_TOPIC_COUNT; i++)
    t->stats[i].sample_start_ms[0] = t->stats[i].sample_start_ms[1] = now;
  m->topics_count++;
  return t;
}

/* value for a per-topic metric: the producer's total and topic's share. Lock held. */
static void add_topic(struct mk_producer_metrics *m, enum mk_metric_id id, const char *topic,
                      int64_t now, double value) {
  add(&m->stats[id], now, value);
  struct mk_topic_stats *t = topic ? topic_stats(m, topic, now) : NULL;
  if (t) add(&t->stats[id], now, value);  /* out of memory: only the topic's share is lost */
}

void mk_metrics_record_topic(struct mk_producer_metrics *m, enum mk_metric_id id,
                             const char *topic, double value) {
  int64_t now = mk_now_us() / 1000;
  pthread_mutex_lock(&m->lock);
  add_topic(m, id, topic, now, value);
  pthread_mutex_unlock(&m->lock);
}

void mk_metrics_record_batch(struct mk_producer_metrics *m, enum mk_metric_id id,
                             const char *topic, int32_t records, double size_sum,
                             double size_max) {
  int64_t now = mk_now_us() / 1000;
  pthread_mutex_lock(&m->lock);
  add_topic(m, id, topic, now, records);
  if (records > 0) add_many(&m->stats[MK_M_RECORD_SIZE], now, size_sum, records, size_max);
  pthread_mutex_unlock(&m->lock);
}

/* Sum, count and max over the live samples, and the seconds they cover. */
static void window(struct mk_stat *s, int64_t now, double *sum, double *count, double *max,
                   double *seconds) {
  *sum = *count = 0;
  *max = NAN;
  int64_t oldest = now;
  for (int i = 0; i < 2; i++) {
    if (now - s->sample_start_ms[i] >= 2 * WINDOW_MS) continue;  /* expired */
    *sum += s->sum[i];
    *count += (double)s->count[i];
    if (s->count[i] && (isnan(*max) || s->max[i] > *max)) *max = s->max[i];
    if (s->sample_start_ms[i] < oldest) oldest = s->sample_start_ms[i];
  }
  /* Kafka's Rate.windowSize: the elapsed time, but never less than (samples - 1) full
   * windows, so a short burst is not reported as a huge rate. */
  int64_t elapsed = now - oldest;
  if (elapsed < WINDOW_MS) elapsed = WINDOW_MS;
  *seconds = (double)elapsed / 1000.0;
}

/* Kafka's names for each statistic; only those listed are reported. */
static const struct {
  enum mk_metric_id id;
  const char *rate, *total, *avg, *max;
} names[] = {
    {MK_M_RECORD_SEND, "record-send-rate", "record-send-total", NULL, NULL},
    {MK_M_RECORD_RETRY, "record-retry-rate", "record-retry-total", NULL, NULL},
    {MK_M_RECORD_ERROR, "record-error-rate", "record-error-total", NULL, NULL},
    {MK_M_RECORD_SIZE, NULL, NULL, "record-size-avg", "record-size-max"},
    {MK_M_BATCH_SIZE, NULL, NULL, "batch-size-avg", "batch-size-max"},
    {MK_M_COMPRESSION_RATE, NULL, NULL, "compression-rate-avg", NULL},
    {MK_M_RECORDS_PER_REQUEST, NULL, NULL, "records-per-request-avg", NULL},
    {MK_M_REQUEST_LATENCY, NULL, NULL, "request-latency-avg", "request-latency-max"},
    {MK_M_REQUEST, "request-rate", "request-total", NULL, NULL},
    {MK_M_OUTGOING_BYTE, "outgoing-byte-rate", "outgoing-byte-total", NULL, NULL},
    {MK_M_RECORD_QUEUE_TIME, NULL, NULL, "record-queue-time-avg", "record-queue-time-max"},
    {MK_M_THROTTLE_TIME, NULL, NULL, "produce-throttle-time-avg", "produce-throttle-time-max"},
    {MK_M_BUFFERPOOL_WAIT, NULL, "bufferpool-wait-time-ns-total", NULL, NULL},
};
enum { NAMES = sizeof names / sizeof names[0], PER_STAT = 4 };

/* A metric read out under the lock, reported after it is released (fn may call back in). */
struct reading {
  const char *topic, *name;
  double value;
};

/* Read the stats[] of the ids below limit (all of them, or the per-topic ones) into out. */
static int read_stats(struct mk_stat *stats, enum mk_metric_id limit, const char *topic,
                      int64_t now, struct reading *out) {
  int n = 0;
  for (int i = 0; i < NAMES; i++) {
    if (names[i].id >= limit) continue;
    struct mk_stat *s = &stats[names[i].id];
    double sum, count, max, seconds;
    window(s, now, &sum, &count, &max, &seconds);
    /* A rate of records counts each record once: the value recorded is the count. */
    if (names[i].rate) out[n++] = (struct reading){topic, names[i].rate, sum / seconds};
    if (names[i].total) out[n++] = (struct reading){topic, names[i].total, s->total};
    if (names[i].avg) out[n++] = (struct reading){topic, names[i].avg, count ? sum / count : NAN};
    if (names[i].max) out[n++] = (struct reading){topic, names[i].max, max};
  }
  return n;
}

void mk_producer_metrics_report(struct mk_producer_metrics *m, mk_metric_fn fn, void *opaque) {
  int64_t now = mk_now_us() / 1000;
  pthread_mutex_lock(&m->lock);
  size_t cap = (size_t)(NAMES + MK_M_TOPIC_COUNT * m->topics_count) * PER_STAT + 3;
  struct reading *r = malloc(cap * sizeof *r);
  if (!r) {
    pthread_mutex_unlock(&m->lock);
    return;
  }
  int n = read_stats(m->stats, MK_M_COUNT, NULL, now, r);
  r[n++] = (struct reading){NULL, "buffer-total-bytes", (double)m->buffer_total_bytes};
  r[n++] = (struct reading){NULL, "buffer-available-bytes", (double)atomic_load(&m->buffer_available_bytes)};
  r[n++] = (struct reading){NULL, "waiting-threads", atomic_load(&m->waiting_threads)};
  /* Topic names stay valid after unlocking: entries are freed only by destroy. */
  for (int t = 0; t < m->topics_count; t++)
    n += read_stats(m->topics[t].stats, MK_M_TOPIC_COUNT, m->topics[t].topic, now, r + n);
  pthread_mutex_unlock(&m->lock);
  for (int i = 0; i < n; i++)
    fn(opaque, r[i].topic ? "producer-topic-metrics" : "producer-metrics", r[i].topic, r[i].name,
       r[i].value);
  free(r);
}
