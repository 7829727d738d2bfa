/*
 * Transaction coordinator: InitProducerId, AddPartitionsToTxn, EndTxn, verification, and the
 * timers. See transaction_coordinator.h.
 *
 * Every request follows the same shape as Kafka's: look the id up (and refuse on the
 * checks), prepare a change on its metadata, append it to __transaction_state, and answer
 * when the append is committed. Answers that come later look the id up again by name:
 * the metadata may have been unloaded meanwhile.
 */
#include "broker/transaction_coordinator.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static int64_t now(const struct mk_txn_coordinator *c) { return c->rt.now_ms(c->rt.ctx); }

int mk_txn_coordinator_init(struct mk_txn_coordinator *c, const struct mk_txn_config *cfg,
                            const struct mk_txn_runtime *rt) {
  memset(c, 0, sizeof *c);
  c->cfg = *cfg;
  c->rt = *rt;
  if (mk_txn_state_init(&c->mgr, &c->cfg, &c->rt)) return MK_ERR__NO_MEMORY;
  mk_txn_marker_channel_init(&c->channel, &c->mgr, &c->rt, &c->cfg);
  c->next_abort_check_ms = now(c) + c->cfg.abort_interval_ms;
  c->next_expiry_check_ms = now(c) + c->cfg.remove_expired_interval_ms;
  return 0;
}

void mk_txn_coordinator_free(struct mk_txn_coordinator *c) {
  mk_txn_marker_channel_free(&c->channel);
  mk_txn_state_free(&c->mgr);
}

/* The metadata of id if it is still object `serial`, else NULL. */
static struct mk_txn_metadata *lookup(struct mk_txn_coordinator *c, const char *id,
                                      uint64_t serial) {
  struct mk_txn_metadata *txn = mk_str_map_get(&c->mgr.txns, id, strlen(id));
  return txn && txn->serial == serial ? txn : NULL;
}

static bool in_prepare(int state) {
  return state == MK_TXN_PREPARE_COMMIT || state == MK_TXN_PREPARE_ABORT;
}

/* ---- EndTxn (also how a fence aborts) ------------------------------------------------------------ */

struct end_wait {
  struct mk_txn_coordinator *c;
  char *transactional_id;
  uint64_t serial;
  int64_t producer_id;
  int16_t epoch;
  int32_t coordinator_epoch;
  bool commit;
  bool fence;                   /* the abort of a fence: a failure is remembered */
  mk_txn_init_callback *cb;
  void *arg;
};

/* Phase one is in the log: answer, then start phase two (Kafka's sendTxnMarkersCallback). */
static void end_appended(void *arg, int16_t error) {
  struct end_wait *w = arg;
  struct mk_txn_coordinator *c = w->c;
  struct mk_txn_metadata *txn = lookup(c, w->transactional_id, w->serial);
  bool same_epoch = txn && c->mgr.parts[txn->partition].coordinator_epoch == w->coordinator_epoch;
  if (!error) {
    int expected = w->commit ? MK_TXN_PREPARE_COMMIT : MK_TXN_PREPARE_ABORT;
    if (!same_epoch) error = MK_ERR_NOT_COORDINATOR;
    else if (txn->producer_id != w->producer_id) error = MK_ERR_INVALID_PRODUCER_ID_MAPPING;
    else if (txn->producer_epoch != w->epoch) error = MK_ERR_PRODUCER_FENCED;
    else if (txn->pending != MK_TXN_NO_PENDING) error = MK_ERR_CONCURRENT_TRANSACTIONS;
    else if (txn->state != expected) error = MK_ERR_INVALID_TXN_STATE;
  } else if (w->fence && same_epoch) {
    /* The bumped epoch was never written or returned: the next fence reuses it. */
    txn->failed_epoch_fence = true;
  }
  if (error) {
    w->cb(w->arg, error, -1, -1);
  } else {
    w->cb(w->arg, 0, txn->producer_id, txn->producer_epoch);
    if (mk_txn_marker_channel_add(&c->channel, txn, w->coordinator_epoch))
      mk_log(MK_LOG_ERROR, "broker", "transactional id %s: out of memory starting its markers; "
             "it completes when its partition is loaded again", txn->transactional_id);
  }
  free(w->transactional_id);
  free(w);
}

/* Kafka's endTransaction, from a client or (from_client false) from a fence with the bumped
 * epoch. */
static void end_txn(struct mk_txn_coordinator *c, int32_t broker_id, struct mk_str id,
                    int64_t producer_id, int16_t epoch, bool commit, bool from_client,
                    mk_txn_init_callback *cb, void *arg) {
  if (id.len <= 0) {
    cb(arg, MK_ERR_INVALID_REQUEST, -1, -1);
    return;
  }
  struct mk_txn_metadata *txn;
  int32_t coordinator_epoch = -1;
  int16_t error = mk_txn_state_get(&c->mgr, broker_id, id, &txn, &coordinator_epoch);
  if (!error && (!txn || txn->producer_epoch < 0)) error = MK_ERR_INVALID_PRODUCER_ID_MAPPING;
  if (error) {
    cb(arg, error, -1, -1);
    return;
  }
  /* Transactions v1: a client must send the current epoch; a fence sends a newer one. */
  bool valid_epoch = (!from_client || epoch == txn->producer_epoch) && epoch >= txn->producer_epoch;
  if (txn->producer_id != producer_id) error = MK_ERR_INVALID_PRODUCER_ID_MAPPING;
  else if (!valid_epoch) error = MK_ERR_PRODUCER_FENCED;
  else if (txn->pending != MK_TXN_NO_PENDING && txn->pending != MK_TXN_PREPARE_EPOCH_FENCE)
    error = MK_ERR_CONCURRENT_TRANSACTIONS;
  else
    switch (txn->state) {
      case MK_TXN_ONGOING: break;
      /* A retry of an EndTxn whose answer was lost: the same answer once it is done. */
      case MK_TXN_COMPLETE_COMMIT: error = commit ? -1 : MK_ERR_INVALID_TXN_STATE; break;
      case MK_TXN_COMPLETE_ABORT: error = !commit ? -1 : MK_ERR_INVALID_TXN_STATE; break;
      case MK_TXN_PREPARE_COMMIT:
        error = commit ? MK_ERR_CONCURRENT_TRANSACTIONS : MK_ERR_INVALID_TXN_STATE;
        break;
      case MK_TXN_PREPARE_ABORT:
        error = !commit ? MK_ERR_CONCURRENT_TRANSACTIONS : MK_ERR_INVALID_TXN_STATE;
        break;
      case MK_TXN_EMPTY: error = MK_ERR_INVALID_TXN_STATE; break;
      default: error = MK_ERR_UNKNOWN_SERVER_ERROR; break;
    }
  if (error == -1) {
    cb(arg, 0, txn->producer_id, txn->producer_epoch);
    return;
  }
  if (error) {
    if (error == MK_ERR_INVALID_TXN_STATE)
      mk_log(MK_LOG_INFO, "broker", "transactional id %s: EndTxn(%s) in state %s: "
             "INVALID_TXN_STATE", txn->transactional_id, commit ? "commit" : "abort",
             mk_txn_state_name(txn->state));
    cb(arg, error, -1, -1);
    return;
  }
  bool fence = false;
  if (!commit && txn->pending == MK_TXN_PREPARE_EPOCH_FENCE) {
    /* The fence takes effect now, in memory, so the abort is written with the new epoch. */
    fence = true;
    mk_txn_take_fenced_epoch(txn, epoch);
    mk_txn_state_trace(txn, MK_TXN_ONGOING, MK_TXN_PREPARE_EPOCH_FENCE, &txn->partitions);
  }
  struct mk_txn_transit t;
  struct mk_err err = {0};
  struct end_wait *w = calloc(1, sizeof *w);
  if (w) w->transactional_id = strdup(txn->transactional_id);
  if (!w || !w->transactional_id ||
      mk_txn_prepare_abort_or_commit(txn, commit ? MK_TXN_PREPARE_COMMIT : MK_TXN_PREPARE_ABORT,
                                     now(c), &t, &err)) {
    if (err.code) mk_log(MK_LOG_ERROR, "broker", "%s", err.msg);
    if (w) free(w->transactional_id);
    free(w);
    cb(arg, MK_ERR_UNKNOWN_SERVER_ERROR, -1, -1);
    return;
  }
  w->c = c;
  w->serial = txn->serial;
  w->producer_id = producer_id;
  w->epoch = txn->producer_epoch;  /* the fenced one, for a fence */
  w->coordinator_epoch = coordinator_epoch;
  w->commit = commit;
  w->fence = fence;
  w->cb = cb;
  w->arg = arg;
  mk_txn_state_append(&c->mgr, txn, coordinator_epoch, &t, end_appended, w);
}

void mk_txn_end_transaction(struct mk_txn_coordinator *c, int32_t broker_id,
                            struct mk_str transactional_id, int64_t producer_id, int16_t epoch,
                            bool commit, mk_txn_init_callback *cb, void *arg) {
  end_txn(c, broker_id, transactional_id, producer_id, epoch, commit, true, cb, arg);
}

/* Fence txn (Ongoing, nothing pending) and abort its transaction: a new producer took the
 * id, or the transaction timed out. cb as for EndTxn. */
static void fence_and_abort(struct mk_txn_coordinator *c, struct mk_txn_metadata *txn,
                            mk_txn_init_callback *cb, void *arg) {
  struct mk_txn_transit fence;
  struct mk_err err = {0};
  if (mk_txn_prepare_fence_epoch(txn, &fence, &err)) {
    mk_log(MK_LOG_ERROR, "broker", "%s", err.msg);
    cb(arg, MK_ERR_UNKNOWN_SERVER_ERROR, -1, -1);
    return;
  }
  int16_t epoch = fence.producer_epoch;
  mk_txn_transit_free(&fence);  /* PrepareEpochFence is never written: only its epoch counts */
  end_txn(c, c->mgr.parts[txn->partition].owner, mk_str_of(txn->transactional_id),
          txn->producer_id, epoch, false, false, cb, arg);
}

/* ---- InitProducerId ------------------------------------------------------------------------------ */

struct init_wait {
  mk_txn_init_callback *cb;
  void *arg;
  int64_t producer_id;
  int16_t epoch;
};

static void init_appended(void *arg, int16_t error) {
  struct init_wait *w = arg;
  if (error)
    w->cb(w->arg, error, -1, -1);
  else
    w->cb(w->arg, 0, w->producer_id, w->epoch);
  free(w);
}

/* The abort of a fenced transaction is under way: the new producer asks again. */
static void fenced(void *arg, int16_t error, int64_t producer_id, int16_t epoch) {
  (void)producer_id;
  (void)epoch;
  struct init_wait *w = arg;
  w->cb(w->arg, error ? error : MK_ERR_CONCURRENT_TRANSACTIONS, -1, -1);
  free(w);
}

void mk_txn_init_producer_id(struct mk_txn_coordinator *c, int32_t broker_id,
                             struct mk_str transactional_id, int32_t timeout_ms,
                             bool has_expected, int64_t expected_producer_id,
                             int16_t expected_epoch, mk_txn_init_callback *cb, void *arg) {
  struct mk_str id = transactional_id;
  if (id.len <= 0) {  /* empty: refused as Kafka's client would refuse it */
    cb(arg, MK_ERR_INVALID_REQUEST, -1, -1);
    return;
  }
  if (timeout_ms <= 0 || timeout_ms > c->cfg.max_timeout_ms) {
    mk_log(MK_LOG_INFO, "broker", "InitProducerId for %.*s: transaction.timeout.ms %d is not in "
           "(0, transaction.max.timeout.ms = %d]: INVALID_TRANSACTION_TIMEOUT", id.len, id.ptr,
           timeout_ms, c->cfg.max_timeout_ms);
    cb(arg, MK_ERR_INVALID_TRANSACTION_TIMEOUT, -1, -1);
    return;
  }
  struct mk_txn_metadata *txn;
  int32_t coordinator_epoch = -1;
  int16_t error = mk_txn_state_get(&c->mgr, broker_id, id, &txn, &coordinator_epoch);
  if (error) {
    cb(arg, error, -1, -1);
    return;
  }
  if (!txn) {
    txn = mk_txn_metadata_new(id, mk_txn_state_partition_for(&c->mgr, id),
                              c->rt.next_producer_id(c->rt.ctx), timeout_ms, now(c));
    if (!txn || mk_txn_state_put(&c->mgr, txn)) {
      cb(arg, MK_ERR_UNKNOWN_SERVER_ERROR, -1, -1);
      return;
    }
  }
  /* KIP-360: a producer that names its id and epoch must still be this id's producer (or
   * the one before a rotation whose answer it never got). */
  bool valid_producer = !has_expected || txn->producer_epoch == -1 ||
                        expected_producer_id == txn->producer_id ||
                        (expected_producer_id == txn->previous_producer_id &&
                         mk_txn_epoch_exhausted(expected_epoch));
  if (txn->pending != MK_TXN_NO_PENDING) error = MK_ERR_CONCURRENT_TRANSACTIONS;
  else if (!valid_producer) error = MK_ERR_PRODUCER_FENCED;
  else if (in_prepare(txn->state)) error = MK_ERR_CONCURRENT_TRANSACTIONS;
  if (error) {
    cb(arg, error, -1, -1);
    return;
  }
  struct init_wait *w = calloc(1, sizeof *w);
  if (!w) {
    cb(arg, MK_ERR_UNKNOWN_SERVER_ERROR, -1, -1);
    return;
  }
  w->cb = cb;
  w->arg = arg;
  if (txn->state == MK_TXN_ONGOING) {
    /* Zombie fencing: the transaction the previous producer left open is aborted with a
     * bumped epoch; this caller retries and gets the epoch after that. */
    mk_log(MK_LOG_INFO, "broker", "transactional id %s: a new producer while a transaction is "
           "open: fencing epoch %d and aborting", txn->transactional_id, txn->producer_epoch);
    fence_and_abort(c, txn, fenced, w);
    return;
  }
  struct mk_txn_transit t;
  struct mk_err err = {0};
  int rc;
  if (mk_txn_epoch_exhausted(txn->producer_epoch) &&
      (!has_expected || expected_epoch == txn->producer_epoch))
    rc = mk_txn_prepare_producer_id_rotation(txn, c->rt.next_producer_id(c->rt.ctx), timeout_ms,
                                             now(c), has_expected, &t, &err);
  else
    rc = mk_txn_prepare_increment_epoch(txn, timeout_ms, has_expected, expected_epoch, now(c),
                                        &t, &err);
  if (rc) {
    if (rc != MK_ERR_PRODUCER_FENCED) mk_log(MK_LOG_ERROR, "broker", "%s", err.msg);
    free(w);
    cb(arg, rc == MK_ERR_PRODUCER_FENCED ? MK_ERR_PRODUCER_FENCED : MK_ERR_UNKNOWN_SERVER_ERROR,
       -1, -1);
    return;
  }
  w->producer_id = t.producer_id;
  w->epoch = t.producer_epoch;
  mk_txn_state_append(&c->mgr, txn, coordinator_epoch, &t, init_appended, w);
}

/* ---- AddPartitionsToTxn ------------------------------------------------------------------------ */

void mk_txn_add_partitions(struct mk_txn_coordinator *c, int32_t broker_id,
                           struct mk_str transactional_id, int64_t producer_id, int16_t epoch,
                           const struct mk_txn_partitions *partitions, mk_txn_done *cb, void *arg) {
  if (transactional_id.len <= 0) {
    cb(arg, MK_ERR_INVALID_REQUEST);
    return;
  }
  struct mk_txn_metadata *txn;
  int32_t coordinator_epoch = -1;
  int16_t error = mk_txn_state_get(&c->mgr, broker_id, transactional_id, &txn, &coordinator_epoch);
  /* An id whose InitProducerId never completed has no producer to map to yet. */
  if (!error && (!txn || txn->producer_epoch < 0)) error = MK_ERR_INVALID_PRODUCER_ID_MAPPING;
  else if (!error && txn->producer_id != producer_id) error = MK_ERR_INVALID_PRODUCER_ID_MAPPING;
  else if (!error && txn->producer_epoch != epoch) error = MK_ERR_PRODUCER_FENCED;
  else if (!error && (txn->pending != MK_TXN_NO_PENDING || in_prepare(txn->state)))
    error = MK_ERR_CONCURRENT_TRANSACTIONS;
  if (error) {
    cb(arg, error);
    return;
  }
  bool all_in = txn->state == MK_TXN_ONGOING;
  for (int32_t i = 0; all_in && i < partitions->count; i++)
    all_in = mk_txn_partitions_contains(&txn->partitions, mk_str_of(partitions->v[i].topic),
                                        partitions->v[i].partition);
  if (all_in) {  /* nothing new: answered at once, as Kafka's optimisation does */
    cb(arg, 0);
    return;
  }
  struct mk_txn_transit t;
  struct mk_err err = {0};
  if (mk_txn_prepare_add_partitions(txn, partitions, now(c), &t, &err)) {
    mk_log(MK_LOG_ERROR, "broker", "%s", err.msg);
    cb(arg, MK_ERR_UNKNOWN_SERVER_ERROR);
    return;
  }
  mk_txn_state_append(&c->mgr, txn, coordinator_epoch, &t, cb, arg);
}

/* ---- verification (KIP-890) ------------------------------------------------------------------------ */

int16_t mk_txn_verify_partition(struct mk_txn_coordinator *c, struct mk_str transactional_id,
                                int64_t producer_id, int16_t epoch, struct mk_str topic,
                                int32_t partition) {
  int32_t p = mk_txn_state_partition_for(&c->mgr, transactional_id);
  if (transactional_id.len <= 0) return MK_ERR_INVALID_REQUEST;
  if (!mk_txn_state_owned(&c->mgr, p)) return MK_ERR_COORDINATOR_NOT_AVAILABLE;
  struct mk_txn_metadata *txn;
  int16_t error = mk_txn_state_get(&c->mgr, c->mgr.parts[p].owner, transactional_id, &txn, NULL);
  if (error) return error;
  if (!txn || txn->producer_id != producer_id) return MK_ERR_INVALID_PRODUCER_ID_MAPPING;
  if (txn->producer_epoch != epoch) return MK_ERR_PRODUCER_FENCED;
  if (in_prepare(txn->state)) return MK_ERR_CONCURRENT_TRANSACTIONS;
  return mk_txn_partitions_contains(&txn->partitions, topic, partition) ? 0
                                                                         : MK_ERR_INVALID_TXN_STATE;
}

/* ---- partitions ------------------------------------------------------------------------------------- */

void mk_txn_coordinator_loaded(struct mk_txn_coordinator *c, int32_t p) {
  /* A predecessor that died between the two phases left these decided but unmarked. */
  for (struct mk_txn_metadata *txn = c->mgr.list; txn; txn = txn->next) {
    if (txn->partition != p || !in_prepare(txn->state)) continue;
    mk_log(MK_LOG_INFO, "broker", "transactional id %s: loaded in %s; writing its markers",
           txn->transactional_id, mk_txn_state_name(txn->state));
    if (mk_txn_marker_channel_add(&c->channel, txn, c->mgr.parts[p].coordinator_epoch))
      mk_log(MK_LOG_ERROR, "broker", "transactional id %s: out of memory starting its markers",
             txn->transactional_id);
  }
}

void mk_txn_coordinator_unload(struct mk_txn_coordinator *c, int32_t p) {
  mk_txn_marker_channel_remove_partition(&c->channel, p);
  mk_txn_state_unload(&c->mgr, p);
}

/* ---- time ------------------------------------------------------------------------------------------- */

static void timeout_aborted(void *arg, int16_t error, int64_t producer_id, int16_t epoch) {
  (void)producer_id;
  (void)epoch;
  char *id = arg;
  if (error)
    mk_log(MK_LOG_INFO, "broker", "transactional id %s: the abort of its timed-out transaction "
           "did not start: %s", id, mk_err_name(error));
  free(id);
}

static void expired(void *arg, int16_t error) {
  char *id = arg;
  if (error)
    mk_log(MK_LOG_INFO, "broker", "transactional id %s: its expiry was not written: %s", id,
           mk_err_name(error));
  else
    mk_log(MK_LOG_INFO, "broker", "transactional id %s expired", id);
  free(id);
}

/* The ids a pass must act on, copied first: acting may add or remove metadata. */
static char **collect(struct mk_txn_coordinator *c, bool (*wanted)(struct mk_txn_coordinator *c,
                                                                    const struct mk_txn_metadata *t,
                                                                    int64_t now),
                      int64_t t, int *n) {
  *n = 0;
  for (struct mk_txn_metadata *txn = c->mgr.list; txn; txn = txn->next)
    if (wanted(c, txn, t)) (*n)++;
  char **ids = *n ? calloc((size_t)*n, sizeof *ids) : NULL;
  int k = 0;
  for (struct mk_txn_metadata *txn = c->mgr.list; ids && txn; txn = txn->next)
    if (wanted(c, txn, t) && (ids[k] = strdup(txn->transactional_id))) k++;
  *n = k;
  return ids;
}

/* Kafka's timedOutTransactions. */
static bool timed_out(struct mk_txn_coordinator *c, const struct mk_txn_metadata *txn, int64_t t) {
  return mk_txn_state_owned(&c->mgr, txn->partition) && txn->state == MK_TXN_ONGOING &&
         txn->pending == MK_TXN_NO_PENDING && txn->start_ms + txn->timeout_ms < t;
}

/* Kafka's shouldExpire. */
static bool expiring(struct mk_txn_coordinator *c, const struct mk_txn_metadata *txn, int64_t t) {
  bool idle = txn->state == MK_TXN_EMPTY || txn->state == MK_TXN_COMPLETE_COMMIT ||
              txn->state == MK_TXN_COMPLETE_ABORT;
  return mk_txn_state_owned(&c->mgr, txn->partition) && idle &&
         txn->pending == MK_TXN_NO_PENDING && !mk_txn_marker_channel_pending(&c->channel, txn) &&
         txn->update_ms <= t - c->cfg.expiration_ms;
}

void mk_txn_coordinator_poll(struct mk_txn_coordinator *c) {
  int64_t t = now(c);
  if (t >= c->next_abort_check_ms) {
    c->next_abort_check_ms = t + c->cfg.abort_interval_ms;
    int n;
    char **ids = collect(c, timed_out, t, &n);
    for (int i = 0; i < n; i++) {
      struct mk_txn_metadata *txn = mk_str_map_get(&c->mgr.txns, ids[i], strlen(ids[i]));
      if (!txn || !timed_out(c, txn, t)) {
        free(ids[i]);
        continue;
      }
      mk_log(MK_LOG_INFO, "broker", "transactional id %s: its transaction has been open for "
             "%lld ms, longer than its transaction.timeout.ms (%d): fencing epoch %d and "
             "aborting", ids[i], (long long)(t - txn->start_ms), txn->timeout_ms,
             txn->producer_epoch);
      fence_and_abort(c, txn, timeout_aborted, ids[i]);  /* takes ids[i] */
    }
    free(ids);
  }
  if (t >= c->next_expiry_check_ms) {
    c->next_expiry_check_ms = t + c->cfg.remove_expired_interval_ms;
    int n;
    char **ids = collect(c, expiring, t, &n);
    for (int i = 0; i < n; i++) {
      struct mk_txn_metadata *txn = mk_str_map_get(&c->mgr.txns, ids[i], strlen(ids[i]));
      struct mk_txn_transit dead;
      if (!txn || mk_txn_prepare_dead(txn, &dead, NULL)) {
        free(ids[i]);
        continue;
      }
      mk_txn_state_append(&c->mgr, txn, c->mgr.parts[txn->partition].coordinator_epoch, &dead,
                          expired, ids[i]);
    }
    free(ids);
  }
  mk_txn_marker_channel_poll(&c->channel);
}

int64_t mk_txn_coordinator_next_deadline(const struct mk_txn_coordinator *c) {
  int64_t next = mk_txn_marker_channel_next_deadline(&c->channel);
  if (c->mgr.list) {  /* the periodic checks matter only while there are ids */
    if (next < 0 || c->next_abort_check_ms < next) next = c->next_abort_check_ms;
    if (c->next_expiry_check_ms < next) next = c->next_expiry_check_ms;
  }
  return next;
}
