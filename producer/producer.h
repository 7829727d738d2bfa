/*
 * The producer: Kafka's KafkaProducer, in C. Kafka: clients/.../producer/KafkaProducer.java.
 * Notes 000, 002 and 004 describe this design; the file names follow Kafka's classes.
 *
 *   application thread(s)                      Sender thread (its own libuv loop)
 *   ---------------------                      ----------------------------------
 *   mk_producer_send()                          sender.c: which leaders have batches ready?
 *     interceptors' onSend                       drain them, at most max.request.size per
 *     key and value serializers                  broker; Produce requests (up to
 *     wait for the topic's metadata              max.in.flight.requests.per.connection);
 *     partitioner (explicit > key > sticky)      responses: complete each batch, or retry
 *     record_accumulator.c: append to the        it (backoff, sequence order), or fail it;
 *       partition's open ProducerBatch           callbacks and onAcknowledgement run here
 *   returns at once (a future)
 *
 * The one promise: every send completes exactly once. Its callback runs exactly once — on
 * the caller's thread if mk_producer_send fails at once (a serialization error, a record
 * too large, metadata or memory not available within max.block.ms: as Java does for API
 * errors), else on the Sender thread, with the record's partition and offset or an error
 * with Kafka's name and reason. mk_producer_close() completes whatever is still pending.
 *
 * Fire-and-forget, synchronous and asynchronous sending are three uses of one call:
 *   mk_producer_send(p, &rec, NULL, NULL, NULL, &err);           fire and forget
 *   mk_producer_send(p, &rec, NULL, NULL, &f, &err);              then mk_future_get(f, ...)
 *   mk_producer_send(p, &rec, on_done, ctx, NULL, &err);          callback on completion
 *
 * Threads: mk_producer_send, flush and the future functions may be called from any number
 * of application threads at once. mk_producer_close is called once, from one thread;
 * sends already running in other threads when it starts fail (those waiting for memory or
 * metadata are woken) and return before close frees the producer. After close has returned
 * nothing else may be called. Callbacks must not call close.
 */
#ifndef MK_PRODUCER_PRODUCER_H
#define MK_PRODUCER_PRODUCER_H

#include <stdbool.h>
#include <stdint.h>

#include "producer/producer_config.h"
#include "producer/serializers.h"
#include "protocol/errors.h"
#include "protocol/record_batch.h"

/* What the application sends (Java's ProducerRecord). Borrowed by mk_producer_send: it may
 * be reused or freed as soon as the call returns. */
struct mk_producer_record {
  const char *topic;
  int32_t partition;     /* a partition, or -1 to let the partitioner choose */
  struct mk_value key;   /* mk_value_string("k"), mk_value_int(7), mk_value_null(), ... */
  struct mk_value value;
  int64_t timestamp;     /* ms since the epoch (CreateTime); -1 = now */
  const struct mk_record_header *headers;  /* key: UTF-8 bytes; value: bytes or len -1 */
  int headers_count;
};

/* Where a record was written (Java's RecordMetadata). Valid during the callback; copied
 * by mk_future_get. */
struct mk_record_metadata {
  const char *topic;     /* valid until the producer is closed */
  int32_t partition;     /* -1 if it failed before a partition was chosen */
  int64_t offset;        /* -1 with acks=0 (the broker does not say) or on failure */
  int64_t timestamp;     /* the record's timestamp (the broker's, for LogAppendTime) */
  int32_t serialized_key_size;    /* bytes, -1 for a null key */
  int32_t serialized_value_size;  /* bytes, -1 for a null value */
};

/* Called exactly once per send. err->code is 0 on success; else Kafka's error code (or a
 * local MK_ERR__ one) and err->msg says why, including how many attempts were made.
 * Thread: sender (or the caller's, when mk_producer_send fails at once). Must be quick:
 * it delays every other completion — a lab measures how much. */
typedef void (*mk_send_callback)(const struct mk_record_metadata *metadata,
                                 const struct mk_err *err, void *opaque);

struct mk_producer;
struct mk_future;

/* Create a producer from a finished config (mk_producer_config_finish; the producer keeps
 * its own copy) and start its Sender thread. Returns 0, or an error naming the problem
 * (bad bootstrap.servers, ...). Thread: any. Returns new: close with mk_producer_close. */
int mk_producer_new(const struct mk_producer_config *cfg, struct mk_producer **out,
                    struct mk_err *err);

/* Send one record: see the top of this file. Returns 0 once the record is in the
 * accumulator, or the error it failed with at once (the callback has then already run).
 * If future is not NULL, *future receives a new future (even on failure) to free with
 * mk_future_free. Blocks up to max.block.ms while the topic's metadata is unknown or
 * buffer.memory is full. Thread: app, any number. Borrows rec (copied/serialized). */
int mk_producer_send(struct mk_producer *p, const struct mk_producer_record *rec,
                     mk_send_callback callback, void *opaque, struct mk_future **future,
                     struct mk_err *err);

/* Send every record already appended now (ignoring linger.ms) and wait until each has
 * completed, at most timeout_ms (-1 = no limit, as Java's flush). Returns 0 or
 * MK_ERR__TIMED_OUT. Thread: app. */
int mk_producer_flush(struct mk_producer *p, int64_t timeout_ms, struct mk_err *err);

/* Close: stop taking records, send what is pending for up to timeout_ms (-1 = no limit),
 * then fail anything left with a clear error, stop the Sender and free the producer.
 * Returns 0 if everything was sent, MK_ERR__TIMED_OUT if some records had to be failed.
 * Thread: app, once, not from a callback. Takes p. */
int mk_producer_close(struct mk_producer *p, int64_t timeout_ms);

/* The first half of close, from any other thread (Java: close() from a shutdown hook while
 * the application thread is blocked in send()): sends from now on fail at once, and those
 * waiting for metadata or for buffer.memory stop waiting and fail ("the producer is
 * closing"); records already accepted are still sent. The owner still calls
 * mk_producer_flush / mk_producer_close. Thread: any but a callback; not from a signal
 * handler. Safe to call more than once, and concurrently with sends. */
void mk_producer_begin_close(struct mk_producer *p);

/* Wait for a send's result (Java's Future.get(timeout)). Returns 0 with *metadata filled
 * (may be NULL), the send's error with err filled, or MK_ERR__TIMED_OUT if it has not
 * completed within timeout_ms (-1 = no limit; the future stays usable). Thread: app. */
int mk_future_get(struct mk_future *f, int64_t timeout_ms, struct mk_record_metadata *metadata,
                  struct mk_err *err);
/* Whether the send has completed. Thread: any. */
bool mk_future_done(struct mk_future *f);
/* Release a future, done or not (a pending send still completes; its result is dropped).
 * Thread: any. Takes f. */
void mk_future_free(struct mk_future *f);

/* ---- metrics (Kafka's producer metrics, by Kafka's names) ------------------------------ */

/* Called once per metric: group "producer-metrics" (or "producer-topic-metrics" with
 * topic set), Kafka's metric name ("record-send-rate", "batch-size-avg", ...), its value. */
typedef void (*mk_metric_fn)(void *opaque, const char *group, const char *topic,
                             const char *name, double value);

/* Report every metric's current value. Thread: any. */
void mk_producer_metrics_each(struct mk_producer *p, mk_metric_fn fn, void *opaque);

/* One metric's value by name (producer-metrics group), or NaN if unknown. Thread: any. */
double mk_producer_metric(struct mk_producer *p, const char *name);

#endif
