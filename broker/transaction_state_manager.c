/*
 * Transaction state manager: the cache of transactional ids, their records, and loading them
 * back. See transaction_state_manager.h.
 */
#include "broker/transaction_state_manager.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/trace.h"
#include "protocol/errors.h"

void mk_txn_config_init(struct mk_txn_config *cfg) {
  cfg->num_partitions = 50;
  cfg->max_timeout_ms = 900000;
  cfg->abort_interval_ms = 10000;
  cfg->expiration_ms = 7LL * 24 * 3600 * 1000;
  cfg->remove_expired_interval_ms = 3600000;
  cfg->marker_retry_backoff_ms = 100;
}

/* ---- the cache ------------------------------------------------------------------------------- */

int mk_txn_state_init(struct mk_txn_state_manager *m, const struct mk_txn_config *cfg,
                      const struct mk_txn_runtime *rt) {
  memset(m, 0, sizeof *m);
  m->cfg = cfg;
  m->rt = rt;
  mk_str_map_init(&m->txns);
  return mk_txn_state_set_partitions(m, cfg->num_partitions > 0 ? cfg->num_partitions : 1);
}

void mk_txn_state_free(struct mk_txn_state_manager *m) {
  while (m->list) mk_txn_state_remove(m, m->list);
  mk_str_map_free(&m->txns);
  free(m->parts);
  m->parts = NULL;
  m->nparts = 0;
}

int mk_txn_state_set_partitions(struct mk_txn_state_manager *m, int32_t n) {
  if (n == m->nparts && m->parts) return 0;
  for (int32_t p = 0; p < m->nparts; p++) mk_txn_state_unload(m, p);
  struct mk_txn_state_partition *parts = realloc(m->parts, sizeof *parts * (size_t)n);
  if (!parts) return MK_ERR__NO_MEMORY;
  m->parts = parts;
  m->nparts = n;
  for (int32_t p = 0; p < n; p++) parts[p] = (struct mk_txn_state_partition){-1, -1};
  return 0;
}

int32_t mk_txn_state_partition_for(const struct mk_txn_state_manager *m, struct mk_str id) {
  return mk_coordinator_partition_for(id, m->nparts);
}

int16_t mk_txn_state_get(const struct mk_txn_state_manager *m, int32_t broker_id,
                         struct mk_str id, struct mk_txn_metadata **out,
                         int32_t *coordinator_epoch) {
  *out = NULL;
  int32_t p = mk_txn_state_partition_for(m, id);
  if (!mk_txn_state_owned(m, p) || m->parts[p].owner != broker_id) return MK_ERR_NOT_COORDINATOR;
  if (coordinator_epoch) *coordinator_epoch = m->parts[p].coordinator_epoch;
  if (id.len >= 0) *out = mk_str_map_get(&m->txns, id.ptr, (size_t)id.len);
  return 0;
}

int mk_txn_state_put(struct mk_txn_state_manager *m, struct mk_txn_metadata *txn) {
  txn->serial = ++m->next_serial;
  if (mk_str_map_put(&m->txns, txn->transactional_id, strlen(txn->transactional_id), txn)) {
    mk_txn_metadata_free(txn);
    return MK_ERR__NO_MEMORY;
  }
  txn->next = m->list;
  m->list = txn;
  return 0;
}

void mk_txn_state_remove(struct mk_txn_state_manager *m, struct mk_txn_metadata *txn) {
  mk_str_map_remove(&m->txns, txn->transactional_id, strlen(txn->transactional_id));
  for (struct mk_txn_metadata **pp = &m->list; *pp; pp = &(*pp)->next) {
    if (*pp == txn) {
      *pp = txn->next;
      break;
    }
  }
  mk_txn_metadata_free(txn);
}

/* ---- trace ---------------------------------------------------------------------------------- */

void mk_txn_state_trace(const struct mk_txn_metadata *txn, int from, int to,
                        const struct mk_txn_partitions *partitions) {
  if (!mk_trace_on()) return;
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", "txn_state");
  mk_trace_str(&ev, "transactional_id", txn->transactional_id);
  mk_trace_str(&ev, "from", mk_txn_state_name(from));
  mk_trace_str(&ev, "to", mk_txn_state_name(to));
  mk_trace_int(&ev, "producer_id", txn->producer_id);
  mk_trace_int(&ev, "producer_epoch", txn->producer_epoch);
  mk_trace_array_begin(&ev, "partitions");
  for (int32_t i = 0; i < partitions->count; i++) {
    char tp[300];
    snprintf(tp, sizeof tp, "%s-%d", partitions->v[i].topic, partitions->v[i].partition);
    mk_trace_str(&ev, NULL, tp);
  }
  mk_trace_array_end(&ev);
  mk_trace_int(&ev, "coordinator_partition", txn->partition);
  mk_trace_end(&ev);
}

/* ---- appending a change (appendTransactionToLog) ---------------------------------------------- */

struct append_wait {
  struct mk_txn_state_manager *m;
  char *transactional_id;
  uint64_t serial;            /* the metadata object the change was prepared on */
  int32_t coordinator_epoch;
  struct mk_txn_transit t;
  mk_txn_done *done;
  void *arg;
};

/* What a failed append tells the coordinator's client (Kafka's mapping in
 * appendTransactionToLog: retriable trouble with the log is "not available", a lost
 * leadership is "not the coordinator"). */
static int16_t coordinator_error(int16_t error) {
  switch (error) {
    case 0: return 0;
    case MK_ERR_UNKNOWN_TOPIC_OR_PARTITION:
    case MK_ERR_NOT_ENOUGH_REPLICAS:
    case MK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case MK_ERR_REQUEST_TIMED_OUT: return MK_ERR_COORDINATOR_NOT_AVAILABLE;
    case MK_ERR_NOT_LEADER_OR_FOLLOWER: return MK_ERR_NOT_COORDINATOR;
    case MK_ERR_MESSAGE_TOO_LARGE:
    case MK_ERR_RECORD_LIST_TOO_LARGE: return MK_ERR_UNKNOWN_SERVER_ERROR;
    default: return error;
  }
}

static void appended(void *arg, int16_t error) {
  struct append_wait *w = arg;
  struct mk_txn_state_manager *m = w->m;
  int16_t answer = coordinator_error(error);
  struct mk_txn_metadata *txn = mk_str_map_get(&m->txns, w->transactional_id,
                                               strlen(w->transactional_id));
  bool same = txn && txn->serial == w->serial &&
              m->parts[txn->partition].coordinator_epoch == w->coordinator_epoch &&
              mk_txn_state_owned(m, txn->partition);
  if (!same) {
    /* Unloaded or reloaded meanwhile: the new owner has whatever the log has. */
    answer = error ? answer : MK_ERR_NOT_COORDINATOR;
    if (!error)
      mk_log(MK_LOG_INFO, "broker", "transactional id %s: the coordinator changed while its "
             "%s record was written", w->transactional_id, mk_txn_state_name(w->t.state));
  } else if (!answer) {
    struct mk_err err = {0};
    int from = txn->state;
    /* Complete* has no partitions left: its event names the ones the transaction had. */
    struct mk_txn_partitions had = {0};
    if (mk_trace_on()) mk_txn_partitions_copy(&had, &txn->partitions);
    if (w->t.state == MK_TXN_DEAD) {
      mk_txn_state_trace(txn, from, MK_TXN_DEAD, &had);
      mk_txn_state_remove(m, txn);  /* expired: the tombstone is in */
    } else if (mk_txn_complete_transition(txn, &w->t, &err)) {
      mk_log(MK_LOG_ERROR, "broker", "%s", err.msg);
      answer = MK_ERR_UNKNOWN_SERVER_ERROR;
    } else {
      mk_txn_state_trace(txn, from, txn->state, txn->partitions.count ? &txn->partitions : &had);
    }
    mk_txn_partitions_free(&had);
  } else {
    mk_txn_abort_pending(txn);
  }
  w->done(w->arg, answer);
  mk_txn_transit_free(&w->t);
  free(w->transactional_id);
  free(w);
}

void mk_txn_state_append(struct mk_txn_state_manager *m, struct mk_txn_metadata *txn,
                         int32_t coordinator_epoch, struct mk_txn_transit *t, mk_txn_done *done,
                         void *arg) {
  struct append_wait *w = calloc(1, sizeof *w);
  if (w) w->transactional_id = strdup(txn->transactional_id);
  if (!w || !w->transactional_id) {
    free(w);
    mk_txn_transit_free(t);
    mk_txn_abort_pending(txn);
    done(arg, MK_ERR_UNKNOWN_SERVER_ERROR);
    return;
  }
  w->m = m;
  w->serial = txn->serial;
  w->coordinator_epoch = coordinator_epoch;
  w->t = *t;
  w->done = done;
  w->arg = arg;
  memset(t, 0, sizeof *t);  /* taken */
  struct mk_arena arena;
  mk_arena_init(&arena);
  struct mk_coordinator_record rec;
  int16_t rc = mk_txn_transit_record(&w->t, mk_str_of(txn->transactional_id), &rec, &arena)
                   ? MK_ERR_UNKNOWN_SERVER_ERROR
               : m->parts[txn->partition].coordinator_epoch != coordinator_epoch
                   ? MK_ERR_NOT_LEADER_OR_FOLLOWER
                   : m->rt->append(m->rt->ctx, txn->partition, &rec, 1, appended, w);
  mk_arena_free(&arena);
  if (rc) appended(w, rc);
}

/* ---- loading ------------------------------------------------------------------------------------ */

/* Forget every id of partition p. */
static void forget_partition(struct mk_txn_state_manager *m, int32_t p) {
  struct mk_txn_metadata *txn = m->list, *next;
  for (; txn; txn = next) {
    next = txn->next;
    if (txn->partition == p) mk_txn_state_remove(m, txn);
  }
}

void mk_txn_state_load_begin(struct mk_txn_state_manager *m, int32_t p) { forget_partition(m, p); }

void mk_txn_state_load_record(struct mk_txn_state_manager *m, int32_t p, int64_t offset,
                              struct mk_bytes key, struct mk_bytes value) {
  struct mk_arena arena;
  mk_arena_init(&arena);
  struct mk_err err = {0};
  struct mk_coordinator_record rec;
  int rc = mk_coordinator_record_decode(MK_TRANSACTION_STATE, key, value, &rec, &arena, &err);
  struct mk_str id = rec.key.transaction_log.transactional_id;
  struct mk_txn_metadata *loaded = NULL;
  if (!rc && !rec.tombstone)
    rc = mk_txn_metadata_from_record(id, p, &rec.value.transaction_log, &loaded, &err);
  if (!rc && id.len >= 0 && mk_txn_state_partition_for(m, id) != p)
    rc = mk_err_set(&err, MK_ERR__DECODE, "transactional id %.*s belongs to partition %d",
                    id.len, id.ptr, mk_txn_state_partition_for(m, id));
  if (rc) {
    mk_log(MK_LOG_WARN, "broker", "%s-%d: skipping the record at offset %lld: %s",
           MK_TRANSACTION_STATE_TOPIC, p, (long long)offset, err.msg);
    mk_txn_metadata_free(loaded);
    mk_arena_free(&arena);
    return;
  }
  struct mk_txn_metadata *old = mk_str_map_get(&m->txns, id.ptr, (size_t)id.len);
  if (old) mk_txn_state_remove(m, old);
  if (loaded && mk_txn_state_put(m, loaded))
    mk_log(MK_LOG_ERROR, "broker", "%s-%d: out of memory loading the record at offset %lld",
           MK_TRANSACTION_STATE_TOPIC, p, (long long)offset);
  mk_arena_free(&arena);
}

void mk_txn_state_load_end(struct mk_txn_state_manager *m, int32_t p, int32_t owner,
                           int32_t coordinator_epoch) {
  if (p < 0 || p >= m->nparts) return;
  m->parts[p] = (struct mk_txn_state_partition){owner, coordinator_epoch};
}

void mk_txn_state_unload(struct mk_txn_state_manager *m, int32_t p) {
  if (p < 0 || p >= m->nparts) return;
  forget_partition(m, p);
  m->parts[p] = (struct mk_txn_state_partition){-1, -1};
}
