/*
 * TransactionManager: the producer's identity (producer id, epoch, sequence numbers) and,
 * with a transactional.id, its transactions. Kafka: producer/internals/TransactionManager.
 * java, KIP-98 (idempotence and transactions), KIP-360 (epoch bumps), KIP-588 (abortable
 * errors). Note 004 section 6. Lab: labs/transactions/README.md.
 *
 * Idempotence (every idempotent producer):
 *   InitProducerId      ->  producer id 1000, epoch 0
 *   batch for t-0       ->  base sequence 0 (3 records: 0..2)
 *   next batch for t-0  ->  base sequence 3 ...        (numbered per partition)
 * A retry resends the same bytes with the same sequence, so a broker that already has the
 * batch answers with the original offset instead of appending a duplicate. When the broker
 * answers OUT_OF_ORDER_SEQUENCE_NUMBER for the batch that was next expected, or
 * UNKNOWN_PRODUCER_ID, the numbering is beyond repair: that batch fails, and the producer
 * asks for a new producer id and numbers every partition from 0 again (KIP-360).
 * OUT_OF_ORDER for a batch whose predecessor is still unresolved means "retry after it".
 * OUT_OF_ORDER for a retried batch the broker has acknowledged past (a later batch of the
 * partition succeeded) means it was written: a broker takes a sequence only after the one
 * before it, so the later success proves it. Its answer was lost (a broken connection) and
 * it is too old to be recognised as a duplicate now (the broker remembers five batches): it
 * completes as written, at an offset nobody can tell any more (-1), as librdkafka reports
 * such records. Failing it, or sending it again under a new producer id, would be wrong
 * (the second writes it twice).
 *
 * Transactions (transactional.id set) add a state machine, driven from both threads:
 *
 *   UNINITIALIZED --init--> INITIALIZING --InitProducerId--> READY --begin--> IN_TRANSACTION
 *        IN_TRANSACTION --commit--> COMMITTING_TRANSACTION --EndTxn--> READY
 *        IN_TRANSACTION --abort---> ABORTING_TRANSACTION   --EndTxn--> READY
 *                                   (or INITIALIZING, then READY, when the epoch is bumped)
 *        a failed send or offset commit --> ABORTABLE_ERROR --abort--> ABORTING_TRANSACTION
 *        fenced, unauthorized, unsupported, or a broken invariant --> FATAL_ERROR (final)
 *
 * mk_txn_transition_valid() is the table of allowed moves (Java's isTransitionValid).
 * An application thread asking for a move the table forbids gets MK_ERR__STATE and the
 * state stays as it was; the Sender finding one is a bug of ours, and "poisons" the
 * manager (FATAL_ERROR), as Java does.
 *
 * The coordinator hears of the transaction through requests the manager queues and the
 * Sender sends, one at a time, in priority order (txn_request_handler.h):
 *   FindCoordinator  <  InitProducerId  <  AddPartitionsToTxn / AddOffsetsToTxn /
 *   TxnOffsetCommit  <  EndTxn  <  InitProducerId to bump the epoch
 * A partition a send touches for the first time is "new"; the next Sender round adds all
 * new partitions in one AddPartitionsToTxn (they are then "pending"); only once the
 * coordinator has answered are they "added", and only then may their batches be drained
 * (mk_transaction_manager_may_send): so the coordinator always knows a partition before
 * it holds records of the transaction. EndTxn waits until every batch has completed (the
 * commit's flush).
 *
 * Errors: an error that concerns this transaction only (a batch that failed, a TxnOffset-
 * Commit refused for ILLEGAL_GENERATION, INVALID_PRODUCER_EPOCH on a Produce) makes it
 * ABORTABLE_ERROR: the application aborts and carries on. PRODUCER_FENCED, an
 * authorization failure, an unsupported version or INVALID_TXN_STATE are fatal.
 *
 * Threads and locks: the idempotence fields are the Sender's. Everything about transactions
 * is guarded by `lock`: app threads call the operations (initialize, begin, commit, abort,
 * send offsets, the checks around send), and wait on `changed` for their result; the
 * Sender takes requests, hands responses to their handlers and reports failed batches.
 * The manager never calls the accumulator: where an answer means the accumulator must act
 * (sequences to restart), it leaves a flag the Sender reads (take_sequence_reset).
 */
#ifndef MK_PRODUCER_TRANSACTION_MANAGER_H
#define MK_PRODUCER_TRANSACTION_MANAGER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/str_map.h"
#include "producer/producer.h"
#include "producer/record_accumulator.h"

struct mk_txn_request;  /* txn_request_handler.h */

/* FindCoordinator's key_type. */
enum mk_coordinator_type { MK_COORDINATOR_GROUP = 0, MK_COORDINATOR_TRANSACTION = 1 };

/* A coordinator as FindCoordinator named it. */
struct mk_coordinator_node {
  int32_t id;      /* -1: unknown (look it up) */
  char host[256];
  int32_t port;
};

/* TransactionalRequestResult: what an app thread waits for. Guarded by the manager's lock;
 * freed when its last holder (the waiting thread, the request handlers, the pending
 * transition) lets go. */
struct mk_txn_result {
  int refs;
  bool done;
  bool acked;              /* a caller's wait saw it done (Java's isAcked) */
  struct mk_err err;       /* code 0: success */
  const char *operation;   /* "InitProducerId", "EndTxn(commit)", ... (a literal) */
};

struct mk_transaction_manager {
  /* Idempotence (Sender only, but producer_id and producer_epoch are written under lock
   * and may be read by app threads under it). */
  bool idempotent;            /* enable.idempotence */
  int64_t producer_id;        /* -1 until InitProducerId answered */
  int16_t producer_epoch;
  bool need_producer_id;      /* idempotent only: ask (again) before draining anything */
  bool requesting;            /* idempotent only: an InitProducerId is in flight */

  /* Set at creation, read-only after. */
  const char *transactional_id;     /* NULL: not transactional (borrowed from the config) */
  const char *client_id;            /* for trace events */
  int32_t transaction_timeout_ms;
  int64_t retry_backoff_ms;

  /* Guarded by lock. */
  pthread_mutex_t lock;
  pthread_cond_t changed;           /* a result completed, or the producer is closing */
  enum mk_transaction_state state;
  struct mk_err last_error;         /* why ABORTABLE_ERROR / FATAL_ERROR (code 0: none) */
  bool epoch_bump_required;         /* abort must end with an InitProducerId bump */
  bool transaction_started;         /* a partition or offsets were added: EndTxn is due */
  bool coordinator_supports_epoch_bump;  /* its InitProducerId is v3+ (KIP-360) */
  bool sequence_reset;              /* a new id/epoch: the Sender restarts sequences */
  bool closing;                     /* waits end at once */
  bool closed;                      /* closed forcefully: requests fail, nothing retries */
  struct mk_str_map partitions;     /* every partition of the transaction (struct
                                       txn_partition), by "topic\0partition" */
  int new_partitions;               /* how many of them are new (to add) */
  struct mk_txn_request *queue;     /* pending requests, by priority, FIFO within one */
  struct mk_txn_request *in_flight; /* sent, not answered (at most one) */
  struct mk_txn_result *pending_result;     /* the last init/commit/abort, until acked */
  enum mk_transaction_state pending_state;  /* the state it was to reach */
  const char *pending_operation;            /* "initTransactions", ... */
  struct mk_coordinator_node txn_coordinator, group_coordinator;
};

/* ---- idempotence (Sender thread) --------------------------------------------------------- */

/* Set up the manager. transactional_id (NULL: none) and client_id are borrowed for the
 * manager's life. Returns 0 or MK_ERR__NO_MEMORY. */
int mk_transaction_manager_init(struct mk_transaction_manager *tm, bool idempotent,
                                const char *transactional_id, int32_t transaction_timeout_ms,
                                int64_t retry_backoff_ms, const char *client_id);
/* Free what the manager holds (queued requests, results nobody waits for). */
void mk_transaction_manager_destroy(struct mk_transaction_manager *tm);

static inline bool mk_transaction_manager_transactional(const struct mk_transaction_manager *tm) {
  return tm->transactional_id != NULL;
}

/* Whether batches may be drained: true without idempotence, else once a producer id is
 * held (and, idempotent only, no reset is pending). */
bool mk_transaction_manager_ready(const struct mk_transaction_manager *tm);

/* InitProducerId answered (idempotent producer): adopt the id and epoch; every partition
 * numbers from 0. */
void mk_transaction_manager_set_producer_id(struct mk_transaction_manager *tm,
                                            struct mk_accumulator *acc, int64_t producer_id,
                                            int16_t epoch);

/* A batch succeeded: remember its last sequence as the partition's last acknowledged. */
void mk_transaction_manager_acked(struct mk_partition_state *ps,
                                  const struct mk_producer_batch *batch);

/* What to do with a batch that failed with a sequence-related error (OUT_OF_ORDER_
 * SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID), as the top of this file says. */
enum mk_sequence_verdict {
  MK_SEQUENCE_RETRY,      /* an earlier batch is still unresolved: retry after it */
  MK_SEQUENCE_WRITTEN,    /* a later batch succeeded, so this one was written: succeed */
  MK_SEQUENCE_RESET,      /* fail it: an idempotent producer requests a new producer id; a
                             transactional one's failure makes the transaction abortable */
};
enum mk_sequence_verdict mk_transaction_manager_sequence_error(struct mk_transaction_manager *tm,
                                                               struct mk_partition_state *ps,
                                                               const struct mk_producer_batch *batch,
                                                               int16_t error);

/* ---- transactions: the state table -------------------------------------------------------- */

/* Java's State.isTransitionValid: may the manager move from `from` to `to`? */
bool mk_txn_transition_valid(enum mk_transaction_state from, enum mk_transaction_state to);

/* The state now. Thread: any. */
enum mk_transaction_state mk_transaction_manager_state(struct mk_transaction_manager *tm);

/* ---- transactions: the application's side (thread: app) ----------------------------------- */

/* Each returns 0, or an error with err filled and the state unchanged unless said. The ones
 * that give a result hand the caller a reference to it (*result), to wait on with
 * mk_transaction_manager_await; the request that completes it is queued for the Sender. */

/* initTransactions: UNINITIALIZED -> INITIALIZING, InitProducerId queued. Called again
 * after a timed-out wait, it hands back the same result. */
int mk_transaction_manager_initialize(struct mk_transaction_manager *tm,
                                      struct mk_txn_result **result, struct mk_err *err);
/* beginTransaction: READY -> IN_TRANSACTION. */
int mk_transaction_manager_begin(struct mk_transaction_manager *tm, struct mk_err *err);
/* commitTransaction: IN_TRANSACTION -> COMMITTING_TRANSACTION, EndTxn(commit) queued. */
int mk_transaction_manager_begin_commit(struct mk_transaction_manager *tm,
                                        struct mk_txn_result **result, struct mk_err *err);
/* abortTransaction: IN_TRANSACTION or ABORTABLE_ERROR -> ABORTING_TRANSACTION, EndTxn(abort)
 * queued (then an epoch bump if the error needs one). Thread: app, or the Sender closing
 * the producer with a transaction open. */
int mk_transaction_manager_begin_abort(struct mk_transaction_manager *tm,
                                       struct mk_txn_result **result, struct mk_err *err);
/* sendOffsetsToTransaction: AddOffsetsToTxn queued (TxnOffsetCommit follows it). Needs
 * IN_TRANSACTION. Borrows offsets and group (copied). */
int mk_transaction_manager_send_offsets(struct mk_transaction_manager *tm,
                                        const struct mk_offset_to_commit *offsets, int n,
                                        const struct mk_consumer_group_metadata *group,
                                        struct mk_txn_result **result, struct mk_err *err);

/* Before a send appends anything: is a send allowed now? (A transactional producer sends
 * only IN_TRANSACTION; nobody sends after a fatal error.) */
int mk_transaction_manager_check_send(struct mk_transaction_manager *tm, struct mk_err *err);
/* After a send appended to topic-partition: remember the partition for the transaction
 * (maybeAddPartition). No-op unless transactional. Borrows topic (copied). */
int mk_transaction_manager_maybe_add_partition(struct mk_transaction_manager *tm,
                                               const char *topic, int32_t partition,
                                               struct mk_err *err);
/* A send, or a batch, failed with err (maybeTransitionToErrorState): PRODUCER_FENCED and the
 * like make the manager fatal; anything else, in a transaction, abortable. Thread: any. */
void mk_transaction_manager_error(struct mk_transaction_manager *tm, const struct mk_err *err);

/* Wait until result completes, the deadline (ms, monotonic) passes, or the producer closes.
 * Returns 0 (success), the result's error, MK_ERR__TIMED_OUT ("Timeout expired after N ms
 * while awaiting <operation>"), or MK_ERR__STATE (closing). Releases the caller's reference
 * unless the wait timed out (the pending transition keeps it for the next call). */
int mk_transaction_manager_await(struct mk_transaction_manager *tm, struct mk_txn_result *r,
                                 int64_t timeout_ms, struct mk_err *err);
/* Let go of a reference (the caller will not wait). */
void mk_transaction_manager_release(struct mk_transaction_manager *tm, struct mk_txn_result *r);

/* The producer is closing: waits end with MK_ERR__STATE. Thread: any. */
void mk_transaction_manager_begin_close(struct mk_transaction_manager *tm);

/* ---- transactions: the Sender's side (thread: sender) ------------------------------------- */

/* Whether a batch of topic-partition may be drained now (isSendToPartitionAllowed): never
 * after a fatal error; for a transactional producer only once the partition is added. */
bool mk_transaction_manager_may_send(struct mk_transaction_manager *tm, const char *topic,
                                     int32_t partition);

/* The next request to send (nextRequest), taken off the queue, or NULL. New partitions
 * become one AddPartitionsToTxn first. EndTxn waits while incomplete_batches. A request the
 * manager's error state forbids is failed here (its result gets the error) instead. The
 * caller must then send it (mk_transaction_manager_sent), or put it back
 * (mk_transaction_manager_requeue / _retry). */
struct mk_txn_request *mk_transaction_manager_next_request(struct mk_transaction_manager *tm,
                                                           bool incomplete_batches);
/* r was sent: it is in flight until mk_txn_request_complete. */
void mk_transaction_manager_sent(struct mk_transaction_manager *tm, struct mk_txn_request *r);
/* Put r back at the head of its priority, unchanged (its node was not ready yet). */
void mk_transaction_manager_requeue(struct mk_transaction_manager *tm, struct mk_txn_request *r);
/* Put r back as a retry: it waits retry.backoff.ms before it goes out again. */
void mk_transaction_manager_retry(struct mk_transaction_manager *tm, struct mk_txn_request *r);
/* Forget the coordinator of this type and queue a FindCoordinator for key (once). */
void mk_transaction_manager_lookup_coordinator(struct mk_transaction_manager *tm,
                                               enum mk_coordinator_type type, const char *key);
/* The coordinator of this type, copied to *out; false if unknown. */
bool mk_transaction_manager_coordinator(struct mk_transaction_manager *tm,
                                        enum mk_coordinator_type type,
                                        struct mk_coordinator_node *out);
/* The connection to node closed: if it was a coordinator, look it up again before the next
 * request to it (it may have moved). */
void mk_transaction_manager_forget_coordinator(struct mk_transaction_manager *tm, int32_t node);
/* The in-flight request was answered (rc 0: body is the response of api `version`) or not
 * (rc: why, err says more): its handler decides what follows; the request is freed unless
 * it was queued again. */
void mk_transaction_manager_complete_request(struct mk_transaction_manager *tm, int32_t node,
                                             int version, const void *body, int rc,
                                             const struct mk_err *err);
/* The transaction coordinator's connection is ready: can it bump epochs (InitProducerId
 * v3+)? */
void mk_transaction_manager_coordinator_ready(struct mk_transaction_manager *tm,
                                              int init_producer_id_version);

/* Why batches not yet sent must be failed now, or false: in ABORTABLE_ERROR (the error) or
 * ABORTING_TRANSACTION (MK_ERR__TRANSACTION_ABORTED). */
bool mk_transaction_manager_abort_reason(struct mk_transaction_manager *tm, struct mk_err *why);
/* FATAL_ERROR, with its error copied to *why (may be NULL). */
bool mk_transaction_manager_fatal(struct mk_transaction_manager *tm, struct mk_err *why);
/* A request is in flight. */
bool mk_transaction_manager_has_in_flight(struct mk_transaction_manager *tm);
/* What closing waits for: a request in flight, or a transaction still open
 * (hasOngoingTransaction: IN_TRANSACTION, completing, or ABORTABLE_ERROR). */
bool mk_transaction_manager_has_ongoing(struct mk_transaction_manager *tm);
bool mk_transaction_manager_is_completing(struct mk_transaction_manager *tm);
/* A new producer id or epoch was adopted since the last call: the Sender restarts every
 * partition's sequences (with *producer_id and *epoch) when this returns true. */
bool mk_transaction_manager_take_sequence_reset(struct mk_transaction_manager *tm,
                                                int64_t *producer_id, int16_t *epoch);
/* A forced close: every queued request and the pending transition fail ("The producer
 * closed forcefully"). */
void mk_transaction_manager_close(struct mk_transaction_manager *tm);

/* ---- used by the request handlers (lock held) ---------------------------------------------- */

/* Move to `to`; an invalid move from the Sender poisons the manager (FATAL_ERROR). Emits
 * the `txn_state` trace event. error: why, for the error states. Returns 0 or
 * MK_ERR__STATE. */
int mk_txn_transition(struct mk_transaction_manager *tm, enum mk_transaction_state to,
                      const struct mk_err *error, bool from_sender, struct mk_err *err);
/* transitionToAbortableError / transitionToFatalError (the latter also fails the pending
 * transition's result). */
void mk_txn_abortable_error(struct mk_transaction_manager *tm, const struct mk_err *error);
void mk_txn_fatal_error(struct mk_transaction_manager *tm, const struct mk_err *error);
/* completeTransaction: READY (or INITIALIZING for a pending epoch bump); the partitions and
 * flags of the transaction are forgotten. */
void mk_txn_complete_transaction(struct mk_transaction_manager *tm);
/* Insert r into the queue by priority. */
void mk_txn_enqueue(struct mk_transaction_manager *tm, struct mk_txn_request *r);
/* Queue r again as a retry: it waits its retry backoff (normally retry.backoff.ms). */
void mk_txn_retry(struct mk_transaction_manager *tm, struct mk_txn_request *r);
/* Forget the coordinator of this type and queue a FindCoordinator for key, unless one is
 * already queued or in flight. */
void mk_txn_lookup_coordinator(struct mk_transaction_manager *tm, enum mk_coordinator_type type,
                               const char *key);
/* Adopt a producer id and epoch (the Sender restarts sequences). */
void mk_txn_set_producer_id(struct mk_transaction_manager *tm, int64_t id, int16_t epoch);
/* The partitions of an AddPartitionsToTxn answered: each added or, failed, forgotten (its
 * batches are then aborted with the transaction). */
void mk_txn_partition_added(struct mk_transaction_manager *tm, const char *topic,
                            int32_t partition, bool ok);
/* Complete a result (success if error is NULL) and wake its waiters. */
void mk_txn_result_complete(struct mk_transaction_manager *tm, struct mk_txn_result *r,
                            const struct mk_err *error);
/* A new result with one reference (the caller's). */
struct mk_txn_result *mk_txn_result_new(const char *operation);
/* Take / drop a reference (lock held). */
struct mk_txn_result *mk_txn_result_ref(struct mk_txn_result *r);
void mk_txn_result_unref(struct mk_txn_result *r);

#endif
