/*
 * Producer metrics: what Kafka's producer reports, by Kafka's names.
 * Kafka: producer/internals/SenderMetricsRegistry.java, KafkaProducer (buffer metrics),
 * common/metrics/stats/Rate, Avg, Max (windowed: two 30-second samples).
 *
 * Every metric is recorded by whoever sees the event (app threads: records sent, queue
 * waits; the Sender: requests, batches, retries, errors) under one small lock, and read
 * by mk_producer_metrics_each. Rates are per second over the last 30-60 s, as Kafka's
 * default two 30 s samples give; averages and maxima over the same window.
 *
 * Thread: any.
 */
#ifndef MK_PRODUCER_PRODUCER_METRICS_H
#define MK_PRODUCER_PRODUCER_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "producer/producer.h"

/* One windowed statistic: sum, count and max over two 30 s samples. */
struct mk_stat {
  int64_t sample_start_ms[2];
  double sum[2], max[2];
  int64_t count[2];
  int current;          /* which sample is being filled */
  double total;         /* since the producer started (the *-total metrics) */
};

enum mk_metric_id {
  /* The first MK_M_TOPIC_COUNT are also kept per topic ("producer-topic-metrics"). */
  MK_M_RECORD_SEND,        /* records sent successfully */
  MK_M_RECORD_RETRY,       /* records retried */
  MK_M_RECORD_ERROR,       /* records failed */
  MK_M_TOPIC_COUNT,
  MK_M_RECORD_SIZE = MK_M_TOPIC_COUNT, /* bytes per record (serialized) */
  MK_M_BATCH_SIZE,         /* bytes per batch sent */
  MK_M_COMPRESSION_RATE,   /* compressed / uncompressed, per batch */
  MK_M_RECORDS_PER_REQUEST,
  MK_M_REQUEST_LATENCY,    /* ms from send to response */
  MK_M_REQUEST,            /* requests sent */
  MK_M_OUTGOING_BYTE,      /* bytes written to brokers */
  MK_M_RECORD_QUEUE_TIME,  /* ms a batch waited in the accumulator */
  MK_M_THROTTLE_TIME,      /* produce-throttle-time: ms brokers asked us to wait */
  MK_M_BUFFERPOOL_WAIT,    /* ns app threads waited for buffer.memory */
  MK_M_COUNT
};

/* One topic's share of the per-topic metrics. */
struct mk_topic_stats {
  char *topic;
  struct mk_stat stats[MK_M_TOPIC_COUNT];
};

struct mk_producer_metrics {
  pthread_mutex_t lock;
  struct mk_stat stats[MK_M_COUNT];
  struct mk_topic_stats *topics;   /* grown as topics are first seen */
  int topics_count, topics_cap;
  int64_t buffer_total_bytes;      /* buffer.memory */
  /* Kept by the accumulator under its own lock, read here under ours: atomic. */
  _Atomic int64_t buffer_available_bytes;
  atomic_int waiting_threads;      /* app threads blocked on buffer.memory */
  int64_t start_ms;
};

void mk_producer_metrics_init(struct mk_producer_metrics *m, int64_t buffer_memory);
void mk_producer_metrics_destroy(struct mk_producer_metrics *m);
/* Record one observation of value (1 for a count) for a metric. Thread: any. */
void mk_metrics_record(struct mk_producer_metrics *m, enum mk_metric_id id, double value);
/* The same for one of the per-topic metrics (id < MK_M_TOPIC_COUNT): counts towards both
 * the producer's total and topic's (borrowed; copied the first time it is seen). */
void mk_metrics_record_topic(struct mk_producer_metrics *m, enum mk_metric_id id,
                             const char *topic, double value);
/* A completed batch, in one step: its records counted under id (MK_M_RECORD_SEND or
 * MK_M_RECORD_ERROR, for the producer and for topic), and `records` observations of
 * MK_M_RECORD_SIZE adding up to size_sum, the largest size_max. Thread: any. */
void mk_metrics_record_batch(struct mk_producer_metrics *m, enum mk_metric_id id,
                             const char *topic, int32_t records, double size_sum,
                             double size_max);
/* Report every metric (see producer.h's mk_metric_fn). Thread: any. */
void mk_producer_metrics_report(struct mk_producer_metrics *m, mk_metric_fn fn, void *opaque);

#endif
