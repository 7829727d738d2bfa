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
  int64_t offset;        /* -1 with acks=0 (the broker does not say), on failure, or for a
                            retried batch known written whose answer was lost
                            (transaction_manager.h) */
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

/* ---- transactions (transactional.id set: Java's initTransactions, beginTransaction, ...) --
 *
 * A transactional producer writes to several partitions (and commits a consumer group's
 * offsets) as one unit: a read_committed consumer sees all of it or none of it.
 *
 *   mk_producer_init_transactions(p, &err);        once: find the transaction coordinator,
 *                                                  get a producer id and epoch (fencing any
 *                                                  older producer with the same id)
 *   for (;;) {
 *     mk_producer_begin_transaction(p, &err);
 *     mk_producer_send(p, &rec, ...);              any number, any partitions
 *     mk_producer_send_offsets_to_transaction(...) optional: consumed offsets, committed
 *                                                  with the output or not at all
 *     mk_producer_commit_transaction(p, &err);     or mk_producer_abort_transaction
 *   }
 *
 * The producer moves through the TransactionManager's states (enum below; every move is a
 * `txn_state` trace event). A call that fails says what to do next through the state it
 * leaves, as Java's exception types do:
 *   ABORTABLE_ERROR  something in this transaction failed (a send, an offset commit): call
 *                    mk_producer_abort_transaction, then begin the next one;
 *   FATAL_ERROR      the producer cannot go on (PRODUCER_FENCED: another producer with the
 *                    same transactional.id took over): only mk_producer_close remains;
 *   unchanged        the call was not allowed now (MK_ERR__STATE, e.g. commit without a
 *                    transaction) or did not finish in time (MK_ERR__TIMED_OUT: call the
 *                    same function again to go on waiting; another is refused meanwhile).
 *
 * Each blocking call waits at most max.block.ms, as Java's do. A send within a transaction
 * fails at once (MK_ERR__STATE) outside IN_TRANSACTION; records not yet sent when a
 * transaction aborts complete with MK_ERR__TRANSACTION_ABORTED (or the error that made it
 * abortable). Closing a producer with a transaction open aborts it.
 *
 * Threads: app. One thread drives the transaction; sends may come from several threads but
 * must have returned before commit or abort is called (the commit covers the records sent
 * before it). None of these may be called from a callback (they wait for the Sender, which
 * runs the callbacks).
 */
enum mk_transaction_state {  /* TransactionManager.State */
  MK_TXN_UNINITIALIZED,
  MK_TXN_INITIALIZING,
  MK_TXN_READY,
  MK_TXN_IN_TRANSACTION,
  MK_TXN_COMMITTING_TRANSACTION,
  MK_TXN_ABORTING_TRANSACTION,
  MK_TXN_ABORTABLE_ERROR,
  MK_TXN_FATAL_ERROR,
};

/* Java's name for a state ("IN_TRANSACTION"). Thread: any. */
const char *mk_transaction_state_name(enum mk_transaction_state state);

/* The producer's transaction state now (UNINITIALIZED for a producer without a
 * transactional.id). Thread: any. */
enum mk_transaction_state mk_producer_transaction_state(struct mk_producer *p);

/* Find the coordinator of transactional.id and get a producer id (InitProducerId). Any
 * transaction left open by an earlier producer with the same transactional.id is aborted
 * and that producer fenced. Returns 0 (state READY), MK_ERR__TIMED_OUT (call again to keep
 * waiting), MK_ERR__STATE (no transactional.id, already initialized, closed), or the
 * broker's error (state FATAL_ERROR or ABORTABLE_ERROR). Blocks up to max.block.ms.
 * Thread: app. */
int mk_producer_init_transactions(struct mk_producer *p, struct mk_err *err);

/* Start a transaction: READY -> IN_TRANSACTION, locally (the coordinator hears of it with
 * the first partition). Returns 0, or MK_ERR__STATE / the error that left the producer in
 * an error state. Does not block. Thread: app. */
int mk_producer_begin_transaction(struct mk_producer *p, struct mk_err *err);

/* One consumed partition's position to commit with the transaction (Java's
 * OffsetAndMetadata): the offset of the next record to read, i.e. last processed + 1. */
struct mk_offset_to_commit {
  const char *topic;
  int32_t partition;
  int64_t offset;
  int32_t leader_epoch;   /* -1 if unknown */
  const char *metadata;   /* NULL for none */
};

/* The consumer's group membership, Java's ConsumerGroupMetadata: consumer/consumer.h's
 * struct, as mk_consumer_group_metadata() fills it (a consumer of another library fills
 * the group id, generation and member id itself). It lets the group coordinator refuse
 * offsets from a consumer that is no longer a member of that generation (a zombie). */
struct mk_consumer_group_metadata;

/* sendOffsetsToTransaction: AddOffsetsToTxn to the transaction coordinator (the group's
 * __consumer_offsets partition joins the transaction), then TxnOffsetCommit to the group
 * coordinator. The offsets become the group's committed offsets only if the transaction
 * commits. Requires IN_TRANSACTION. Returns 0, MK_ERR__INVALID_ARG (no group id, a
 * generation without a member id), MK_ERR__STATE, MK_ERR__TIMED_OUT, or the coordinators'
 * error (e.g. ILLEGAL_GENERATION: the producer is then in ABORTABLE_ERROR). n == 0 does
 * nothing, as in Java. Blocks up to max.block.ms. Thread: app. Borrows offsets and group
 * (copied). */
int mk_producer_send_offsets_to_transaction(struct mk_producer *p,
                                            const struct mk_offset_to_commit *offsets, int n,
                                            const struct mk_consumer_group_metadata *group,
                                            struct mk_err *err);

/* Commit: send every record of the transaction now (a flush, ignoring linger.ms), then
 * EndTxn(commit) once all have completed. If any of them failed, the transaction is not
 * committed: the call returns that error and the producer is in ABORTABLE_ERROR. Returns 0
 * (state READY; every record's callback has run), MK_ERR__TIMED_OUT (call again), or an
 * error as above. Blocks up to max.block.ms. Thread: app. */
int mk_producer_commit_transaction(struct mk_producer *p, struct mk_err *err);

/* Abort: records not yet sent fail at once (MK_ERR__TRANSACTION_ABORTED), those in flight
 * complete, then EndTxn(abort): the coordinator writes abort markers and read_committed
 * consumers skip the records. Allowed in IN_TRANSACTION and ABORTABLE_ERROR. Returns 0
 * (state READY), MK_ERR__TIMED_OUT (call again), MK_ERR__STATE or a fatal error. Blocks up
 * to max.block.ms. Thread: app. */
int mk_producer_abort_transaction(struct mk_producer *p, struct mk_err *err);

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
