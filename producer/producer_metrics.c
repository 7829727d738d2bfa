/*
 * Producer metrics: see producer_metrics.h. A stat keeps two samples; recording into a
 * sample older than the window starts it afresh, and reads combine both, as Kafka's
 * SampledStat does with its default of two 30-second samples.
 */
#include "producer/producer_metrics.h"

#include <math.h>
#include <string.h>

#include "common/clock.h"

enum { WINDOW_MS = 30000 };

void mk_producer_metrics_init(struct mk_producer_metrics *m, int64_t buffer_memory) {
  memset(m, 0, sizeof *m);
  pthread_mutex_init(&m->lock, NULL);
  m->buffer_total_bytes = m->buffer_available_bytes = buffer_memory;
  m->start_ms = mk_now_us() / 1000;
  for (int i = 0; i < MK_M_COUNT; i++)
    m->stats[i].sample_start_ms[0] = m->stats[i].sample_start_ms[1] = m->start_ms;
}

void mk_producer_metrics_destroy(struct mk_producer_metrics *m) {
  pthread_mutex_destroy(&m->lock);
}

static void roll(struct mk_stat *s, int64_t now) {
  if (now - s->sample_start_ms[s->current] < WINDOW_MS) return;
  s->current ^= 1;
  s->sample_start_ms[s->current] = now;
  s->sum[s->current] = s->max[s->current] = 0;
  s->count[s->current] = 0;
}

void mk_metrics_record(struct mk_producer_metrics *m, enum mk_metric_id id, double value) {
  int64_t now = mk_now_us() / 1000;
  pthread_mutex_lock(&m->lock);
  struct mk_stat *s = &m->stats[id];
  roll(s, now);
  s->sum[s->current] += value;
  s->count[s->current]++;
  if (value > s->max[s->current]) s->max[s->current] = value;
  s->total += value;
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

void mk_producer_metrics_report(struct mk_producer_metrics *m, mk_metric_fn fn, void *opaque) {
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
  const char *g = "producer-metrics";
  int64_t now = mk_now_us() / 1000;
  pthread_mutex_lock(&m->lock);
  double values[64];
  const char *labels[64];
  int n = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    struct mk_stat *s = &m->stats[names[i].id];
    double sum, count, max, seconds;
    window(s, now, &sum, &count, &max, &seconds);
    if (names[i].rate) {
      /* A rate of records counts each record once: the value recorded is the count. */
      labels[n] = names[i].rate;
      values[n++] = sum / seconds;
    }
    if (names[i].total) {
      labels[n] = names[i].total;
      values[n++] = s->total;
    }
    if (names[i].avg) {
      labels[n] = names[i].avg;
      values[n++] = count ? sum / count : NAN;
    }
    if (names[i].max) {
      labels[n] = names[i].max;
      values[n++] = max;
    }
  }
  labels[n] = "buffer-total-bytes";
  values[n++] = (double)m->buffer_total_bytes;
  labels[n] = "buffer-available-bytes";
  values[n++] = (double)m->buffer_available_bytes;
  labels[n] = "waiting-threads";
  values[n++] = m->waiting_threads;
  pthread_mutex_unlock(&m->lock);
  for (int i = 0; i < n; i++) fn(opaque, g, NULL, labels[i], values[i]);
}
