/*
 * TransactionManager: see transaction_manager.h. In this file, in order: idempotence (the
 * Sender's), the state table and transitions, the application's operations, the Sender's
 * side. The requests themselves, and what their answers do, are in txn_request_handler.c.
 */
#include "producer/transaction_manager.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/trace.h"
#include "producer/txn_request_handler.h"

static int64_t now_ms(void) { return mk_now_us() / 1000; }

/* ---- idempotence (Sender) ------------------------------------------------------------------ */

int mk_transaction_manager_init(struct mk_transaction_manager *tm, bool idempotent,
                                const char *transactional_id, int32_t transaction_timeout_ms,
                                int64_t retry_backoff_ms, const char *client_id) {
  memset(tm, 0, sizeof *tm);
  tm->idempotent = idempotent;
  tm->producer_id = -1;
  tm->producer_epoch = -1;
  tm->transactional_id = transactional_id;
  tm->client_id = client_id;
  tm->transaction_timeout_ms = transaction_timeout_ms;
  tm->retry_backoff_ms = retry_backoff_ms;
  /* A transactional producer asks for its id through initTransactions, not on its own. */
  tm->need_producer_id = idempotent && !transactional_id;
  tm->state = MK_TXN_UNINITIALIZED;
  tm->txn_coordinator.id = tm->group_coordinator.id = -1;
  mk_str_map_init(&tm->partitions);
  pthread_mutex_init(&tm->lock, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  int rc = pthread_cond_init(&tm->changed, &attr);
  pthread_condattr_destroy(&attr);
  return rc ? MK_ERR__NO_MEMORY : 0;
}

static void forget_partitions(struct mk_transaction_manager *tm) {
  void *v;
  for (size_t i = 0; mk_str_map_next(&tm->partitions, &i, &v);) free(v);
  mk_str_map_free(&tm->partitions);
  tm->new_partitions = 0;
}

void mk_transaction_manager_destroy(struct mk_transaction_manager *tm) {
  while (tm->queue) {
    struct mk_txn_request *r = tm->queue;
    tm->queue = r->next;
    mk_txn_request_free(r);
  }
  if (tm->in_flight) mk_txn_request_free(tm->in_flight);
  if (tm->pending_result) mk_txn_result_unref(tm->pending_result);
  forget_partitions(tm);
  pthread_mutex_destroy(&tm->lock);
  pthread_cond_destroy(&tm->changed);
}

bool mk_transaction_manager_ready(const struct mk_transaction_manager *tm) {
  if (tm->transactional_id) return tm->producer_id >= 0;
  return !tm->idempotent || (tm->producer_id >= 0 && !tm->need_producer_id);
}

void mk_transaction_manager_set_producer_id(struct mk_transaction_manager *tm,
                                            struct mk_accumulator *acc, int64_t producer_id,
                                            int16_t epoch) {
  pthread_mutex_lock(&tm->lock);
  tm->producer_id = producer_id;
  tm->producer_epoch = epoch;
  pthread_mutex_unlock(&tm->lock);
  tm->need_producer_id = false;
  tm->requesting = false;
  mk_accumulator_reset_sequences(acc, producer_id, epoch);
}

void mk_transaction_manager_acked(struct mk_partition_state *ps,
                                  const struct mk_producer_batch *batch) {
  if (!ps || batch->base_sequence < 0) return;
  int32_t last = mk_last_sequence(batch->base_sequence, batch->record_count - 1);
  /* Responses for one partition can come back out of order only across connections;
   * keep the highest. */
  if (last > ps->last_acked_sequence || ps->last_acked_sequence - last > INT32_MAX / 2)
    ps->last_acked_sequence = last;
}

enum mk_sequence_verdict mk_transaction_manager_sequence_error(struct mk_transaction_manager *tm,
                                                               struct mk_partition_state *ps,
                                                               const struct mk_producer_batch *batch,
                                                               int16_t error) {
  int32_t expected = ps ? ps->last_acked_sequence + 1 : 0;
  if (error == MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER && batch->base_sequence > expected) {
    /* An earlier batch of this partition has not been written yet (it failed, or is
     * still in flight): this one must wait for it. */
    return MK_SEQUENCE_RETRY;
  }
  int32_t last = mk_last_sequence(batch->base_sequence, batch->record_count - 1);
  if (error == MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER && ps && ps->last_acked_sequence >= 0 &&
      batch->attempts > 1 && last <= ps->last_acked_sequence) {
    /* Acknowledged past it: it was written (see the top of transaction_manager.h). */
    mk_log(MK_LOG_INFO, "producer",
           "%s-%d: batch with sequences %d-%d answered %s after sequence %d was acknowledged: "
           "it was written, at an offset no longer known", batch->topic, batch->partition,
           batch->base_sequence, last, mk_err_name(error), ps->last_acked_sequence);
    return MK_SEQUENCE_WRITTEN;
  }
  if (tm->transactional_id) {
    /* Java's canRetry says no; the failed batch makes the transaction abortable, and the
     * abort bumps the epoch, which restarts the sequences (mk_transaction_manager_error). */
    mk_log(MK_LOG_WARN, "producer", "%s for %s-%d (base sequence %d, expected %d): the "
           "transaction must be aborted", mk_err_name(error), batch->topic, batch->partition,
           batch->base_sequence, expected);
    return MK_SEQUENCE_RESET;
  }
  mk_log(MK_LOG_WARN, "producer",
         "%s for %s-%d (base sequence %d, expected %d): resetting the producer id and "
         "sequence numbers (KIP-360)", mk_err_name(error), batch->topic, batch->partition,
         batch->base_sequence, expected);
  tm->need_producer_id = true;
  return MK_SEQUENCE_RESET;
}

/* ---- results -------------------------------------------------------------------------------- */

struct mk_txn_result *mk_txn_result_new(const char *operation) {
  struct mk_txn_result *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->refs = 1;
  r->operation = operation;
  return r;
}

struct mk_txn_result *mk_txn_result_ref(struct mk_txn_result *r) {
  if (r) r->refs++;
  return r;
}

void mk_txn_result_unref(struct mk_txn_result *r) {
  if (r && --r->refs == 0) free(r);
}

void mk_txn_result_complete(struct mk_transaction_manager *tm, struct mk_txn_result *r,
                            const struct mk_err *error) {
  if (!r || r->done) return;
  r->done = true;
  if (error) r->err = *error;
  pthread_cond_broadcast(&tm->changed);
}

/* ---- the state table and transitions -------------------------------------------------------- */

static const char *const state_names[] = {
    "UNINITIALIZED",          "INITIALIZING",         "READY",
    "IN_TRANSACTION",         "COMMITTING_TRANSACTION", "ABORTING_TRANSACTION",
    "ABORTABLE_ERROR",        "FATAL_ERROR",
};

const char *mk_transaction_state_name(enum mk_transaction_state state) {
  return (unsigned)state < sizeof state_names / sizeof state_names[0] ? state_names[state] : "?";
}

bool mk_txn_transition_valid(enum mk_transaction_state from, enum mk_transaction_state to) {
  switch (to) {
    case MK_TXN_UNINITIALIZED:  /* after an authorization error, init may be tried again */
      return from == MK_TXN_READY || from == MK_TXN_ABORTABLE_ERROR;
    case MK_TXN_INITIALIZING:   /* first init, or an abort that ends with an epoch bump */
      return from == MK_TXN_UNINITIALIZED || from == MK_TXN_ABORTING_TRANSACTION;
    case MK_TXN_READY:
      return from == MK_TXN_INITIALIZING || from == MK_TXN_COMMITTING_TRANSACTION ||
             from == MK_TXN_ABORTING_TRANSACTION;
    case MK_TXN_IN_TRANSACTION:
      return from == MK_TXN_READY;
    case MK_TXN_COMMITTING_TRANSACTION:
      return from == MK_TXN_IN_TRANSACTION;
    case MK_TXN_ABORTING_TRANSACTION:
      return from == MK_TXN_IN_TRANSACTION || from == MK_TXN_ABORTABLE_ERROR;
    case MK_TXN_ABORTABLE_ERROR:
      return from == MK_TXN_IN_TRANSACTION || from == MK_TXN_COMMITTING_TRANSACTION ||
             from == MK_TXN_ABORTABLE_ERROR || from == MK_TXN_INITIALIZING;
    case MK_TXN_FATAL_ERROR:    /* from anywhere; and nothing ever leaves it */
      return true;
  }
  return false;
}

enum mk_transaction_state mk_transaction_manager_state(struct mk_transaction_manager *tm) {
  pthread_mutex_lock(&tm->lock);
  enum mk_transaction_state s = tm->state;
  pthread_mutex_unlock(&tm->lock);
  return s;
}

static void trace_state(const struct mk_transaction_manager *tm, enum mk_transaction_state from,
                        enum mk_transaction_state to, const struct mk_err *error) {
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "producer", "txn_state");
  mk_trace_str(&ev, "client_id", tm->client_id);
  mk_trace_str(&ev, "transactional_id", tm->transactional_id);
  mk_trace_str(&ev, "from", mk_transaction_state_name(from));
  mk_trace_str(&ev, "to", mk_transaction_state_name(to));
  if (error && error->code) {
    mk_trace_str(&ev, "error", mk_err_name(error->code));
    mk_trace_str(&ev, "message", error->msg);
  }
  mk_trace_end(&ev);
}

static void set_state(struct mk_transaction_manager *tm, enum mk_transaction_state to,
                      const struct mk_err *error) {
  enum mk_transaction_state from = tm->state;
  if (error && error->code) tm->last_error = *error;
  else memset(&tm->last_error, 0, sizeof tm->last_error);
  tm->state = to;
  mk_log(to >= MK_TXN_ABORTABLE_ERROR ? MK_LOG_INFO : MK_LOG_DEBUG, "producer",
         "TransactionalId %s: %s -> %s%s%s", tm->transactional_id, mk_transaction_state_name(from),
         mk_transaction_state_name(to), error && error->code ? ": " : "",
         error && error->code ? error->msg : "");
  if (mk_trace_on()) trace_state(tm, from, to, error);
}

int mk_txn_transition(struct mk_transaction_manager *tm, enum mk_transaction_state to,
                      const struct mk_err *error, bool from_sender, struct mk_err *err) {
  if (!mk_txn_transition_valid(tm->state, to)) {
    struct mk_err e;
    mk_err_set(&e, MK_ERR__STATE, "TransactionalId %s: Invalid transition attempted from state %s "
               "to state %s", tm->transactional_id, mk_transaction_state_name(tm->state),
               mk_transaction_state_name(to));
    /* From the application: refuse and change nothing (the caller can fix its call). From
     * the Sender: our own invariant broke; nothing transactional may go on (KAFKA-14831). */
    if (from_sender) set_state(tm, MK_TXN_FATAL_ERROR, &e);
    if (err) *err = e;
    return MK_ERR__STATE;
  }
  set_state(tm, to, error);
  return 0;
}

static bool has_error(const struct mk_transaction_manager *tm) {
  return tm->state == MK_TXN_ABORTABLE_ERROR || tm->state == MK_TXN_FATAL_ERROR;
}

static bool completing(const struct mk_transaction_manager *tm) {
  return tm->state == MK_TXN_COMMITTING_TRANSACTION || tm->state == MK_TXN_ABORTING_TRANSACTION;
}

void mk_txn_abortable_error(struct mk_transaction_manager *tm, const struct mk_err *error) {
  /* Already aborting: the abort goes on; the error changes nothing. Already fatal: the
   * fatal error is the one that matters (Java would overwrite it with an invalid-transition
   * error). */
  if (tm->state == MK_TXN_ABORTING_TRANSACTION || tm->state == MK_TXN_FATAL_ERROR) return;
  mk_txn_transition(tm, MK_TXN_ABORTABLE_ERROR, error, true, NULL);
}

void mk_txn_fatal_error(struct mk_transaction_manager *tm, const struct mk_err *error) {
  if (tm->state != MK_TXN_FATAL_ERROR) set_state(tm, MK_TXN_FATAL_ERROR, error);
  if (tm->pending_result) mk_txn_result_complete(tm, tm->pending_result, error);
}

/* maybeFailWithError: in an error state, the operation fails with (a sentence about) the
 * error that caused it. */
static int fail_if_error(const struct mk_transaction_manager *tm, struct mk_err *err) {
  if (!has_error(tm)) return 0;
  const struct mk_err *e = &tm->last_error;
  if (e->code == MK_ERR_PRODUCER_FENCED)
    return mk_err_set(err, e->code, "Producer with transactionalId '%s' and producer id %lld, "
                      "epoch %d has been fenced by another producer with the same "
                      "transactionalId", tm->transactional_id, (long long)tm->producer_id,
                      tm->producer_epoch);
  if (e->code == MK_ERR_INVALID_PRODUCER_EPOCH)
    return mk_err_set(err, e->code, "Producer with transactionalId '%s' and producer id %lld, "
                      "epoch %d attempted to produce with an old epoch", tm->transactional_id,
                      (long long)tm->producer_id, tm->producer_epoch);
  return mk_err_set(err, e->code ? e->code : MK_ERR__STATE,
                    "Cannot execute transactional method because we are in an error state "
                    "(%s): %s", mk_transaction_state_name(tm->state), e->msg);
}

static int ensure_transactional(const struct mk_transaction_manager *tm, struct mk_err *err) {
  if (tm->transactional_id) return 0;
  return mk_err_set(err, MK_ERR__STATE, "Cannot use transactional methods without enabling "
                    "transactions by setting the transactional.id configuration property");
}

/* The last init/commit/abort timed out and has not been seen to finish: another operation
 * must wait (throwIfPendingState). One whose result has been seen is forgotten. */
static int fail_if_pending(struct mk_transaction_manager *tm, const char *operation,
                           struct mk_err *err) {
  struct mk_txn_result *p = tm->pending_result;
  if (!p) return 0;
  if (p->acked) {  /* its caller saw it finish */
    mk_txn_result_unref(p);
    tm->pending_result = NULL;
    return 0;
  }
  return mk_err_set(err, MK_ERR__STATE, "Cannot attempt operation `%s` because the previous call "
                    "to `%s` timed out and must be retried", operation, tm->pending_operation);
}

/* handleCachedTransactionRequestResult, first half: true when the call is answered here
 * (*rc: 0 with *result the pending one again, or the refusal). */
static bool cached_result(struct mk_transaction_manager *tm, enum mk_transaction_state next,
                          const char *operation, struct mk_txn_result **result, int *rc,
                          struct mk_err *err) {
  struct mk_txn_result *p = tm->pending_result;
  if (!p) return false;
  if (p->acked) {
    mk_txn_result_unref(p);
    tm->pending_result = NULL;
    return false;
  }
  if (next != tm->pending_state) {
    *rc = mk_err_set(err, MK_ERR__STATE, "Cannot attempt operation `%s` because the previous "
                     "call to `%s` timed out and must be retried", operation,
                     tm->pending_operation);
    return true;
  }
  *result = mk_txn_result_ref(p);
  *rc = 0;
  return true;
}

static void remember_pending(struct mk_transaction_manager *tm, struct mk_txn_result *r,
                             enum mk_transaction_state next, const char *operation) {
  if (tm->pending_result) mk_txn_result_unref(tm->pending_result);
  tm->pending_result = mk_txn_result_ref(r);
  tm->pending_state = next;
  tm->pending_operation = operation;
}

void mk_txn_enqueue(struct mk_transaction_manager *tm, struct mk_txn_request *r) {
  if (!r->is_retry && r->retry_backoff_ms == 0) r->retry_backoff_ms = tm->retry_backoff_ms;
  struct mk_txn_request **at = &tm->queue;
  while (*at && (*at)->priority <= r->priority) at = &(*at)->next;
  r->next = *at;
  *at = r;
  r->queued = true;
}

void mk_txn_set_producer_id(struct mk_transaction_manager *tm, int64_t id, int16_t epoch) {
  tm->producer_id = id;
  tm->producer_epoch = epoch;
  tm->sequence_reset = true;
}

static int no_memory(struct mk_err *err) {
  return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
}

/* ---- partitions of the transaction ---------------------------------------------------------- */

enum partition_status { PARTITION_NEW, PARTITION_PENDING, PARTITION_ADDED };

/* A partition of the transaction. Its key, "topic\0" then the partition's 4 bytes, names
 * it: txn_request_handler.c reads the topic and partition back from a copy of the key. */
struct txn_partition {
  enum partition_status status;
  size_t key_len;
  char key[];
};

enum { MAX_KEY = 512 };

static size_t partition_key(char *buf, const char *topic, int32_t partition) {
  size_t n = strlen(topic);
  if (n + 1 + sizeof partition > MAX_KEY) return 0;
  memcpy(buf, topic, n + 1);
  memcpy(buf + n + 1, &partition, sizeof partition);
  return n + 1 + sizeof partition;
}

static struct txn_partition *find_partition(const struct mk_transaction_manager *tm,
                                            const char *topic, int32_t partition) {
  char key[MAX_KEY];
  size_t len = partition_key(key, topic, partition);
  return len ? mk_str_map_get(&tm->partitions, key, len) : NULL;
}

/* The partitions to add, new ones made pending (addPartitionsToTransactionHandler): one
 * request for all of them. Java sends every pending partition, those of an earlier request
 * being retried too; adding a partition twice is harmless. */
static struct mk_txn_request *add_partitions_request(struct mk_transaction_manager *tm) {
  const char **keys = malloc(sizeof *keys * (tm->partitions.count ? tm->partitions.count : 1));
  if (!keys) return NULL;
  int n = 0;
  void *v;
  for (size_t i = 0; mk_str_map_next(&tm->partitions, &i, &v);) {
    struct txn_partition *p = v;
    if (p->status == PARTITION_NEW) p->status = PARTITION_PENDING;
    if (p->status == PARTITION_PENDING) keys[n++] = p->key;
  }
  tm->new_partitions = 0;
  struct mk_txn_request *r = mk_txn_request_add_partitions(keys, n);
  free(keys);
  return r;
}

void mk_txn_partition_added(struct mk_transaction_manager *tm, const char *topic,
                            int32_t partition, bool ok) {
  char key[MAX_KEY];
  size_t len = partition_key(key, topic, partition);
  struct txn_partition *p = len ? mk_str_map_get(&tm->partitions, key, len) : NULL;
  if (!p || p->status != PARTITION_PENDING) return;
  if (ok) {
    p->status = PARTITION_ADDED;
  } else {
    /* Not in the transaction: its batches will be aborted with it, and a later send to it
     * (in the next transaction) adds it again. */
    mk_str_map_remove(&tm->partitions, p->key, p->key_len);
    free(p);
  }
}

/* Forget the new partitions (an abort will not add them). */
static void drop_new_partitions(struct mk_transaction_manager *tm) {
  void *v;
  for (size_t i = 0; mk_str_map_next(&tm->partitions, &i, &v);) {
    struct txn_partition *p = v;
    if (p->status != PARTITION_NEW) continue;
    mk_str_map_remove(&tm->partitions, p->key, p->key_len);
    free(p);
    i = 0;  /* removal moves entries: walk again (the map is small) */
  }
  tm->new_partitions = 0;
}

void mk_txn_complete_transaction(struct mk_transaction_manager *tm) {
  mk_txn_transition(tm, tm->epoch_bump_required ? MK_TXN_INITIALIZING : MK_TXN_READY, NULL, true,
                    NULL);
  tm->epoch_bump_required = false;
  tm->transaction_started = false;
  forget_partitions(tm);
}

/* ---- the application's operations ----------------------------------------------------------- */

int mk_transaction_manager_initialize(struct mk_transaction_manager *tm,
                                      struct mk_txn_result **result, struct mk_err *err) {
  int rc;
  pthread_mutex_lock(&tm->lock);
  if ((rc = ensure_transactional(tm, err)) || (rc = fail_if_error(tm, err)) ||
      cached_result(tm, MK_TXN_INITIALIZING, "initTransactions", result, &rc, err))
    goto out;
  if ((rc = mk_txn_transition(tm, MK_TXN_INITIALIZING, NULL, false, err))) goto out;
  struct mk_txn_result *r = mk_txn_result_new("InitProducerId");
  struct mk_txn_request *req = r ? mk_txn_request_init_producer_id(mk_txn_result_ref(r), false,
                                                                   -1, -1) : NULL;
  if (!req) {
    mk_txn_result_unref(r);
    mk_txn_result_unref(r);
    /* INITIALIZING with nothing queued would wait forever: nothing transactional goes on. */
    struct mk_err e;
    rc = no_memory(&e);
    mk_txn_fatal_error(tm, &e);
    if (err) *err = e;
    goto out;
  }
  mk_txn_enqueue(tm, req);
  remember_pending(tm, r, MK_TXN_INITIALIZING, "initTransactions");
  *result = r;
out:
  pthread_mutex_unlock(&tm->lock);
  return rc;
}

int mk_transaction_manager_begin(struct mk_transaction_manager *tm, struct mk_err *err) {
  int rc;
  pthread_mutex_lock(&tm->lock);
  if (!(rc = ensure_transactional(tm, err)) && !(rc = fail_if_pending(tm, "beginTransaction", err)) &&
      !(rc = fail_if_error(tm, err)))
    rc = mk_txn_transition(tm, MK_TXN_IN_TRANSACTION, NULL, false, err);
  pthread_mutex_unlock(&tm->lock);
  return rc;
}

/* beginCompletingTransaction: add what is still new, then EndTxn; an abort after an error
 * that needs an epoch bump ends with InitProducerId(current id and epoch), and that is what
 * the caller waits for. Returns the result, or NULL when out of memory. */
static struct mk_txn_result *begin_completing(struct mk_transaction_manager *tm, bool commit) {
  if (tm->new_partitions > 0) {
    struct mk_txn_request *add = add_partitions_request(tm);
    if (!add) return NULL;
    mk_txn_enqueue(tm, add);
  }
  struct mk_txn_result *r = mk_txn_result_new(commit ? "EndTxn(commit)" : "EndTxn(abort)");
  struct mk_txn_request *end = r ? mk_txn_request_end_txn(mk_txn_result_ref(r), commit) : NULL;
  if (!end) {
    if (r) mk_txn_result_unref(r);
    mk_txn_result_unref(r);
    return NULL;
  }
  mk_txn_enqueue(tm, end);
  if (!tm->epoch_bump_required) return r;
  mk_txn_result_unref(r);  /* nobody waits for the EndTxn itself, but for the bump after it */
  r = mk_txn_result_new("InitProducerId");
  struct mk_txn_request *bump =
      r ? mk_txn_request_init_producer_id(mk_txn_result_ref(r), true, tm->producer_id,
                                          tm->producer_epoch)
        : NULL;
  if (!bump) {
    if (r) mk_txn_result_unref(r);
    mk_txn_result_unref(r);
    return NULL;
  }
  mk_txn_enqueue(tm, bump);
  return r;
}

static int complete_with(struct mk_transaction_manager *tm, bool commit,
                         struct mk_txn_result **result, struct mk_err *err) {
  struct mk_txn_result *r = begin_completing(tm, commit);
  if (!r) {
    struct mk_err e;
    no_memory(&e);
    mk_txn_fatal_error(tm, &e);
    if (err) *err = e;
    return e.code;
  }
  enum mk_transaction_state next = commit ? MK_TXN_COMMITTING_TRANSACTION
                                          : MK_TXN_ABORTING_TRANSACTION;
  remember_pending(tm, r, next, commit ? "commitTransaction" : "abortTransaction");
  *result = r;
  return 0;
}

int mk_transaction_manager_begin_commit(struct mk_transaction_manager *tm,
                                        struct mk_txn_result **result, struct mk_err *err) {
  int rc;
  pthread_mutex_lock(&tm->lock);
  if ((rc = ensure_transactional(tm, err)) ||
      cached_result(tm, MK_TXN_COMMITTING_TRANSACTION, "commitTransaction", result, &rc, err) ||
      (rc = fail_if_error(tm, err)) ||
      (rc = mk_txn_transition(tm, MK_TXN_COMMITTING_TRANSACTION, NULL, false, err)))
    goto out;
  rc = complete_with(tm, true, result, err);
out:
  pthread_mutex_unlock(&tm->lock);
  return rc;
}

int mk_transaction_manager_begin_abort(struct mk_transaction_manager *tm,
                                       struct mk_txn_result **result, struct mk_err *err) {
  int rc;
  pthread_mutex_lock(&tm->lock);
  if ((rc = ensure_transactional(tm, err)) ||
      cached_result(tm, MK_TXN_ABORTING_TRANSACTION, "abortTransaction", result, &rc, err))
    goto out;
  /* An abortable error is what abort is for; any other error state refuses. */
  if (tm->state != MK_TXN_ABORTABLE_ERROR && (rc = fail_if_error(tm, err))) goto out;
  if ((rc = mk_txn_transition(tm, MK_TXN_ABORTING_TRANSACTION, NULL, false, err))) goto out;
  drop_new_partitions(tm);
  rc = complete_with(tm, false, result, err);
out:
  pthread_mutex_unlock(&tm->lock);
  return rc;
}

int mk_transaction_manager_send_offsets(struct mk_transaction_manager *tm,
                                        const struct mk_offset_to_commit *offsets, int n,
                                        const struct mk_consumer_group_metadata *group,
                                        struct mk_txn_result **result, struct mk_err *err) {
  int rc;
  pthread_mutex_lock(&tm->lock);
  if ((rc = ensure_transactional(tm, err)) ||
      (rc = fail_if_pending(tm, "sendOffsetsToTransaction", err)) || (rc = fail_if_error(tm, err)))
    goto out;
  if (tm->state != MK_TXN_IN_TRANSACTION) {
    rc = mk_err_set(err, MK_ERR__STATE, "Cannot send offsets if a transaction is not in progress "
                    "(currentState= %s)", mk_transaction_state_name(tm->state));
    goto out;
  }
  struct mk_txn_result *r = mk_txn_result_new("AddOffsetsToTxn");
  struct mk_txn_request *req = r ? mk_txn_request_add_offsets(mk_txn_result_ref(r), offsets, n,
                                                              group) : NULL;
  if (!req) {
    if (r) mk_txn_result_unref(r);
    mk_txn_result_unref(r);
    rc = no_memory(err);
    goto out;
  }
  mk_txn_enqueue(tm, req);
  *result = r;
out:
  pthread_mutex_unlock(&tm->lock);
  return rc;
}

int mk_transaction_manager_check_send(struct mk_transaction_manager *tm, struct mk_err *err) {
  if (!tm->transactional_id) return 0;
  int rc;
  pthread_mutex_lock(&tm->lock);
  if (!(rc = fail_if_error(tm, err)) && !(rc = fail_if_pending(tm, "send", err))) {
    if (tm->producer_id < 0 && tm->state != MK_TXN_IN_TRANSACTION)
      rc = mk_err_set(err, MK_ERR__STATE, "Cannot send a record to a transaction before completing "
                      "a call to initTransactions (mk_producer_init_transactions)");
    else if (tm->state != MK_TXN_IN_TRANSACTION)
      rc = mk_err_set(err, MK_ERR__STATE, "Cannot send a record to a transaction while in state "
                      "%s: call mk_producer_begin_transaction first",
                      mk_transaction_state_name(tm->state));
  }
  pthread_mutex_unlock(&tm->lock);
  return rc;
}

int mk_transaction_manager_maybe_add_partition(struct mk_transaction_manager *tm,
                                               const char *topic, int32_t partition,
                                               struct mk_err *err) {
  if (!tm->transactional_id) return 0;
  int rc = 0;
  pthread_mutex_lock(&tm->lock);
  /* Normally IN_TRANSACTION (check_send said so). A commit begun by another thread since
   * then still takes the partition: its EndTxn waits for this record's batch, so the
   * partition is added first. Aborting or failed, the batch will be aborted instead. */
  if ((tm->state == MK_TXN_IN_TRANSACTION || tm->state == MK_TXN_COMMITTING_TRANSACTION) &&
      !find_partition(tm, topic, partition)) {
    char key[MAX_KEY];
    size_t len = partition_key(key, topic, partition);
    struct txn_partition *p = len ? malloc(sizeof *p + len) : NULL;
    if (p) {
      p->status = PARTITION_NEW;
      p->key_len = len;
      memcpy(p->key, key, len);
    }
    if (!p || mk_str_map_put(&tm->partitions, p->key, p->key_len, p)) {
      free(p);
      struct mk_err e;
      if (!len)
        mk_err_set(&e, MK_ERR__INVALID_ARG, "topic name too long for a transaction: %.60s...",
                   topic);
      else
        no_memory(&e);
      /* The record is already in the accumulator: the transaction cannot include it. */
      mk_txn_abortable_error(tm, &e);
      if (err) *err = e;
      rc = e.code;
    } else {
      tm->new_partitions++;
    }
  }
  pthread_mutex_unlock(&tm->lock);
  return rc;
}

static bool fatal_kind(int code) {
  return code == MK_ERR_PRODUCER_FENCED || code == MK_ERR_CLUSTER_AUTHORIZATION_FAILED ||
         code == MK_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED || code == MK_ERR_UNSUPPORTED_VERSION;
}

void mk_transaction_manager_error(struct mk_transaction_manager *tm, const struct mk_err *err) {
  if (!tm->transactional_id || !err || !err->code) return;
  pthread_mutex_lock(&tm->lock);
  if (fatal_kind(err->code)) {
    mk_txn_fatal_error(tm, err);
  } else if (tm->state != MK_TXN_FATAL_ERROR && tm->state != MK_TXN_ABORTING_TRANSACTION) {
    /* A record of this transaction failed, so the transaction cannot commit. Its
     * sequence numbers may now have a gap the broker would refuse: the abort bumps the
     * epoch, which restarts them (KIP-360), where the coordinator can do that. */
    if (tm->coordinator_supports_epoch_bump && !completing(tm)) tm->epoch_bump_required = true;
    mk_txn_abortable_error(tm, err);
  }
  pthread_mutex_unlock(&tm->lock);
}

int mk_transaction_manager_await(struct mk_transaction_manager *tm, struct mk_txn_result *r,
                                 int64_t timeout_ms, struct mk_err *err) {
  int64_t deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
  int rc;
  pthread_mutex_lock(&tm->lock);
  while (!r->done && !tm->closing) {
    int64_t now = now_ms();
    if (now >= deadline) break;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    int64_t ns = until.tv_nsec + (deadline - now) % 1000 * 1000000;
    until.tv_sec += (time_t)((deadline - now) / 1000 + ns / 1000000000);
    until.tv_nsec = (long)(ns % 1000000000);
    pthread_cond_timedwait(&tm->changed, &tm->lock, &until);
  }
  if (r->done) {
    r->acked = true;
    rc = r->err.code;
    if (rc && err) *err = r->err;
  } else if (tm->closing) {
    rc = mk_err_set(err, MK_ERR__STATE, "the producer is closing: gave up waiting for %s",
                    r->operation);
  } else {
    rc = mk_err_set(err, MK_ERR__TIMED_OUT, "Timeout expired after %lld ms while awaiting %s",
                    (long long)timeout_ms, r->operation);
  }
  mk_txn_result_unref(r);
  pthread_mutex_unlock(&tm->lock);
  return rc;
}

void mk_transaction_manager_release(struct mk_transaction_manager *tm, struct mk_txn_result *r) {
  pthread_mutex_lock(&tm->lock);
  mk_txn_result_unref(r);
  pthread_mutex_unlock(&tm->lock);
}

void mk_transaction_manager_begin_close(struct mk_transaction_manager *tm) {
  pthread_mutex_lock(&tm->lock);
  tm->closing = tm->closed = true;
  pthread_cond_broadcast(&tm->changed);
  pthread_mutex_unlock(&tm->lock);
}

/* ---- the Sender's side ---------------------------------------------------------------------- */

bool mk_transaction_manager_may_send(struct mk_transaction_manager *tm, const char *topic,
                                     int32_t partition) {
  if (!tm->transactional_id) return true;
  pthread_mutex_lock(&tm->lock);
  struct txn_partition *p = tm->state == MK_TXN_FATAL_ERROR ? NULL
                                                            : find_partition(tm, topic, partition);
  bool ok = p && p->status == PARTITION_ADDED;
  pthread_mutex_unlock(&tm->lock);
  return ok;
}

static struct mk_txn_request *pop(struct mk_transaction_manager *tm) {
  struct mk_txn_request *r = tm->queue;
  if (r) {
    tm->queue = r->next;
    r->next = NULL;
    r->queued = false;
  }
  return r;
}

/* maybeTerminateRequestWithError: in an error state nothing but FindCoordinator (harmless,
 * and needed by the abort to come) goes out; the request fails with the error. */
static bool terminated_by_error(struct mk_transaction_manager *tm, struct mk_txn_request *r) {
  if (!has_error(tm)) return false;
  if (tm->state == MK_TXN_ABORTABLE_ERROR && r->kind == MK_TXN_FIND_COORDINATOR) return false;
  mk_txn_result_complete(tm, r->result, &tm->last_error);
  return true;
}

struct mk_txn_request *mk_transaction_manager_next_request(struct mk_transaction_manager *tm,
                                                           bool incomplete_batches) {
  pthread_mutex_lock(&tm->lock);
  if (tm->new_partitions > 0 && !has_error(tm)) {
    struct mk_txn_request *add = add_partitions_request(tm);
    if (add) mk_txn_enqueue(tm, add);
  }
  struct mk_txn_request *r = tm->queue;
  /* EndTxn only once every batch has completed: the commit's flush. */
  if (!r || (r->kind == MK_TXN_END_TXN && incomplete_batches)) {
    r = NULL;
    goto out;
  }
  pop(tm);
  if (terminated_by_error(tm, r)) {
    mk_txn_request_free(r);
    r = NULL;
    goto out;
  }
  if (r->kind == MK_TXN_END_TXN && !tm->transaction_started) {
    /* Nothing reached the coordinator (no partition, no offsets): there is nothing to end. */
    mk_txn_result_complete(tm, r->result, NULL);
    if (tm->state != MK_TXN_FATAL_ERROR) mk_txn_complete_transaction(tm);
    mk_txn_request_free(r);
    r = pop(tm);
  }
out:
  pthread_mutex_unlock(&tm->lock);
  return r;
}

void mk_transaction_manager_sent(struct mk_transaction_manager *tm, struct mk_txn_request *r) {
  pthread_mutex_lock(&tm->lock);
  tm->in_flight = r;
  pthread_mutex_unlock(&tm->lock);
}

void mk_transaction_manager_requeue(struct mk_transaction_manager *tm, struct mk_txn_request *r) {
  pthread_mutex_lock(&tm->lock);
  struct mk_txn_request **at = &tm->queue;
  while (*at && (*at)->priority < r->priority) at = &(*at)->next;
  r->next = *at;
  *at = r;
  r->queued = true;
  pthread_mutex_unlock(&tm->lock);
}

void mk_txn_retry(struct mk_transaction_manager *tm, struct mk_txn_request *r) {
  r->is_retry = true;
  r->not_before_ms = now_ms() + r->retry_backoff_ms;
  mk_txn_enqueue(tm, r);
}

void mk_transaction_manager_retry(struct mk_transaction_manager *tm, struct mk_txn_request *r) {
  pthread_mutex_lock(&tm->lock);
  mk_txn_retry(tm, r);
  pthread_mutex_unlock(&tm->lock);
}

void mk_txn_lookup_coordinator(struct mk_transaction_manager *tm, enum mk_coordinator_type type,
                               const char *key) {
  if (type == MK_COORDINATOR_TRANSACTION) tm->txn_coordinator.id = -1;
  else tm->group_coordinator.id = -1;
  const struct mk_txn_request *f = tm->in_flight;
  if (f && f->kind == MK_TXN_FIND_COORDINATOR && f->coordinator_type == type) return;
  for (f = tm->queue; f; f = f->next)
    if (f->kind == MK_TXN_FIND_COORDINATOR && f->coordinator_type == type) return;
  struct mk_txn_request *r = mk_txn_request_find_coordinator(type, key);
  if (r) {
    mk_txn_enqueue(tm, r);
  } else {
    struct mk_err e;
    no_memory(&e);
    mk_txn_fatal_error(tm, &e);
  }
}

void mk_transaction_manager_lookup_coordinator(struct mk_transaction_manager *tm,
                                               enum mk_coordinator_type type, const char *key) {
  pthread_mutex_lock(&tm->lock);
  mk_txn_lookup_coordinator(tm, type, key);
  pthread_mutex_unlock(&tm->lock);
}

bool mk_transaction_manager_coordinator(struct mk_transaction_manager *tm,
                                        enum mk_coordinator_type type,
                                        struct mk_coordinator_node *out) {
  pthread_mutex_lock(&tm->lock);
  *out = type == MK_COORDINATOR_TRANSACTION ? tm->txn_coordinator : tm->group_coordinator;
  pthread_mutex_unlock(&tm->lock);
  return out->id >= 0;
}

void mk_transaction_manager_forget_coordinator(struct mk_transaction_manager *tm, int32_t node) {
  pthread_mutex_lock(&tm->lock);
  if (tm->txn_coordinator.id == node) tm->txn_coordinator.id = -1;
  if (tm->group_coordinator.id == node) tm->group_coordinator.id = -1;
  pthread_mutex_unlock(&tm->lock);
}

void mk_transaction_manager_complete_request(struct mk_transaction_manager *tm, int32_t node,
                                             int version, const void *body, int rc,
                                             const struct mk_err *err) {
  pthread_mutex_lock(&tm->lock);
  struct mk_txn_request *r = tm->in_flight;
  tm->in_flight = NULL;
  if (r) {
    struct mk_err none;
    if (!rc && !body) {  /* an answer without a body: not one to act on */
      rc = mk_err_set(&none, MK_ERR__DECODE, "%s: an empty answer", mk_txn_request_name(r));
      err = &none;
    }
    if (rc) mk_txn_request_handle_failure(tm, r, node, rc, err);
    else mk_txn_request_handle_response(tm, r, node, version, body);
    if (!r->queued) mk_txn_request_free(r);
  }
  pthread_mutex_unlock(&tm->lock);
}

void mk_transaction_manager_coordinator_ready(struct mk_transaction_manager *tm,
                                              int init_producer_id_version) {
  pthread_mutex_lock(&tm->lock);
  tm->coordinator_supports_epoch_bump = init_producer_id_version >= 3;
  pthread_mutex_unlock(&tm->lock);
}

bool mk_transaction_manager_abort_reason(struct mk_transaction_manager *tm, struct mk_err *why) {
  if (!tm->transactional_id) return false;
  pthread_mutex_lock(&tm->lock);
  bool abort = tm->state == MK_TXN_ABORTABLE_ERROR || tm->state == MK_TXN_ABORTING_TRANSACTION;
  if (tm->state == MK_TXN_ABORTABLE_ERROR && tm->last_error.code)
    *why = tm->last_error;
  else if (abort)
    mk_err_set(why, MK_ERR__TRANSACTION_ABORTED, "Failing batch since transaction was aborted");
  pthread_mutex_unlock(&tm->lock);
  return abort;
}

bool mk_transaction_manager_fatal(struct mk_transaction_manager *tm, struct mk_err *why) {
  if (!tm->transactional_id) return false;
  pthread_mutex_lock(&tm->lock);
  bool fatal = tm->state == MK_TXN_FATAL_ERROR;
  if (fatal && why) *why = tm->last_error;
  pthread_mutex_unlock(&tm->lock);
  return fatal;
}

bool mk_transaction_manager_has_in_flight(struct mk_transaction_manager *tm) {
  pthread_mutex_lock(&tm->lock);
  bool any = tm->in_flight != NULL;
  pthread_mutex_unlock(&tm->lock);
  return any;
}

bool mk_transaction_manager_has_ongoing(struct mk_transaction_manager *tm) {
  if (!tm->transactional_id) return false;
  pthread_mutex_lock(&tm->lock);
  bool ongoing = tm->state == MK_TXN_IN_TRANSACTION || completing(tm) ||
                 tm->state == MK_TXN_ABORTABLE_ERROR;
  pthread_mutex_unlock(&tm->lock);
  return ongoing;
}

bool mk_transaction_manager_is_completing(struct mk_transaction_manager *tm) {
  pthread_mutex_lock(&tm->lock);
  bool c = completing(tm);
  pthread_mutex_unlock(&tm->lock);
  return c;
}

bool mk_transaction_manager_take_sequence_reset(struct mk_transaction_manager *tm,
                                                int64_t *producer_id, int16_t *epoch) {
  pthread_mutex_lock(&tm->lock);
  bool reset = tm->sequence_reset;
  tm->sequence_reset = false;
  *producer_id = tm->producer_id;
  *epoch = tm->producer_epoch;
  pthread_mutex_unlock(&tm->lock);
  return reset;
}

void mk_transaction_manager_close(struct mk_transaction_manager *tm) {
  struct mk_err e;
  mk_err_set(&e, MK_ERR__STATE, "The producer closed forcefully");
  pthread_mutex_lock(&tm->lock);
  if (tm->queue) mk_txn_fatal_error(tm, &e);
  while (tm->queue) {
    struct mk_txn_request *r = pop(tm);
    mk_txn_result_complete(tm, r->result, &e);
    mk_txn_request_free(r);
  }
  if (tm->pending_result) mk_txn_result_complete(tm, tm->pending_result, &e);
  tm->closing = tm->closed = true;
  pthread_cond_broadcast(&tm->changed);
  pthread_mutex_unlock(&tm->lock);
}
