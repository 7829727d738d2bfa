/*
 * Transaction marker channel: each transaction in its second phase, its markers in flight
 * and to retry, and the completion record. See transaction_marker_channel.h.
 *
 * A marker's answer finds its entry again by transactional id and the metadata's serial (the
 * entry may be gone: unloaded, or replaced by a newer coordinator's), never by pointer.
 */
#include "broker/transaction_marker_channel.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* Kafka's PendingCompleteTxn with its markers. */
struct mk_txn_marker_entry {
  char *transactional_id;
  uint64_t serial;             /* the metadata it is for */
  int32_t partition;           /* of __transaction_state */
  int32_t coordinator_epoch;
  bool commit;
  int64_t producer_id;
  int16_t producer_epoch;
  struct mk_txn_partitions remaining;  /* whose marker is not committed yet */
  struct mk_txn_partitions inflight;   /* being written now (a subset of remaining) */
  int64_t retry_at_ms;         /* when to send the rest again, -1: nothing to retry */
  bool held;                   /* the hold fault: nothing is sent until hold_until_ms */
  int64_t hold_until_ms;       /* -1: until released */
  bool completing;             /* the completion record is being written */
  struct mk_txn_marker_entry *next;
};

static int64_t now(const struct mk_txn_marker_channel *ch) { return ch->rt->now_ms(ch->rt->ctx); }

void mk_txn_marker_channel_init(struct mk_txn_marker_channel *ch, struct mk_txn_state_manager *mgr,
                                const struct mk_txn_runtime *rt, const struct mk_txn_config *cfg) {
  memset(ch, 0, sizeof *ch);
  ch->mgr = mgr;
  ch->rt = rt;
  ch->cfg = cfg;
}

static void free_entry(struct mk_txn_marker_entry *e) {
  mk_txn_partitions_free(&e->remaining);
  mk_txn_partitions_free(&e->inflight);
  free(e->transactional_id);
  free(e);
}

static void unlink_entry(struct mk_txn_marker_channel *ch, struct mk_txn_marker_entry *e) {
  for (struct mk_txn_marker_entry **pp = &ch->entries; *pp; pp = &(*pp)->next) {
    if (*pp == e) {
      *pp = e->next;
      return;
    }
  }
}

void mk_txn_marker_channel_free(struct mk_txn_marker_channel *ch) {
  while (ch->entries) {
    struct mk_txn_marker_entry *e = ch->entries;
    ch->entries = e->next;
    free_entry(e);
  }
}

static struct mk_txn_marker_entry *find(const struct mk_txn_marker_channel *ch, const char *id,
                                        uint64_t serial) {
  for (struct mk_txn_marker_entry *e = ch->entries; e; e = e->next)
    if (e->serial == serial && strcmp(e->transactional_id, id) == 0) return e;
  return NULL;
}

/* The entry's metadata if it is still the one the entry is for, at the same coordinator
 * epoch, in the Prepare state the entry writes markers for; else NULL. */
static struct mk_txn_metadata *metadata_of(const struct mk_txn_marker_channel *ch,
                                           const struct mk_txn_marker_entry *e) {
  struct mk_txn_metadata *txn = mk_str_map_get(&ch->mgr->txns, e->transactional_id,
                                               strlen(e->transactional_id));
  int expected = e->commit ? MK_TXN_PREPARE_COMMIT : MK_TXN_PREPARE_ABORT;
  if (!txn || txn->serial != e->serial || txn->state != expected ||
      !mk_txn_state_owned(ch->mgr, txn->partition) ||
      ch->mgr->parts[txn->partition].coordinator_epoch != e->coordinator_epoch)
    return NULL;
  return txn;
}

/* ---- the markers -------------------------------------------------------------------------------- */

/* One marker's answer finds its way back with this. */
struct marker_wait {
  struct mk_txn_marker_channel *ch;
  char *transactional_id;
  uint64_t serial;
  char *topic;
  int32_t partition;
};

static void maybe_complete(struct mk_txn_marker_channel *ch, struct mk_txn_marker_entry *e);

static void marker_done(void *arg, int16_t error) {
  struct marker_wait *w = arg;
  struct mk_txn_marker_channel *ch = w->ch;
  struct mk_txn_marker_entry *e = find(ch, w->transactional_id, w->serial);
  struct mk_str topic = mk_str_of(w->topic);
  if (e) {
    mk_txn_partitions_remove(&e->inflight, topic, w->partition);
    switch (error) {
      case 0:
        mk_txn_partitions_remove(&e->remaining, topic, w->partition);
        break;
      case MK_ERR_INVALID_PRODUCER_EPOCH:
      case MK_ERR_TRANSACTION_COORDINATOR_FENCED:
        /* A newer producer epoch or coordinator owns this transaction now: stop. */
        mk_log(MK_LOG_INFO, "broker", "transactional id %s: the marker for %s-%d was refused "
               "(%s); this coordinator stops writing its markers", e->transactional_id, w->topic,
               w->partition, mk_err_name(error));
        unlink_entry(ch, e);
        free_entry(e);
        e = NULL;
        break;
      default:  /* no leader, not enough replicas, timed out: again, at whoever leads then */
        mk_log(MK_LOG_INFO, "broker", "transactional id %s: the marker for %s-%d failed (%s); "
               "trying again in %lld ms", e->transactional_id, w->topic, w->partition,
               mk_err_name(error), (long long)ch->cfg->marker_retry_backoff_ms);
        if (e->retry_at_ms < 0) e->retry_at_ms = now(ch) + ch->cfg->marker_retry_backoff_ms;
        break;
    }
    if (e) maybe_complete(ch, e);
  }
  free(w->transactional_id);
  free(w->topic);
  free(w);
}

/* Send a marker for every remaining partition not in flight. */
static void send_markers(struct mk_txn_marker_channel *ch, struct mk_txn_marker_entry *e) {
  e->retry_at_ms = -1;
  /* Iterate over a copy: a synchronous answer (a deleted partition) edits remaining. */
  struct mk_txn_partitions todo;
  if (mk_txn_partitions_copy(&todo, &e->remaining)) {
    e->retry_at_ms = now(ch) + ch->cfg->marker_retry_backoff_ms;
    return;
  }
  char *id = strdup(e->transactional_id);
  uint64_t serial = e->serial;
  for (int32_t i = 0; id && i < todo.count; i++) {
    struct mk_txn_marker_entry *cur = find(ch, id, serial);
    if (!cur) break;  /* stopped meanwhile */
    struct mk_str topic = mk_str_of(todo.v[i].topic);
    int32_t partition = todo.v[i].partition;
    if (mk_txn_partitions_contains(&cur->inflight, topic, partition)) continue;
    struct marker_wait *w = calloc(1, sizeof *w);
    if (w) {
      w->ch = ch;
      w->transactional_id = strdup(id);
      w->serial = serial;
      w->topic = strdup(todo.v[i].topic);
      w->partition = partition;
    }
    if (!w || !w->transactional_id || !w->topic ||
        mk_txn_partitions_add(&cur->inflight, topic, partition)) {
      if (w) {
        free(w->transactional_id);
        free(w->topic);
        free(w);
      }
      if (cur->retry_at_ms < 0) cur->retry_at_ms = now(ch) + ch->cfg->marker_retry_backoff_ms;
      continue;
    }
    int16_t rc = ch->rt->write_marker(ch->rt->ctx, topic, partition, cur->producer_id,
                                      cur->producer_epoch, cur->coordinator_epoch, cur->commit,
                                      marker_done, w);
    if (rc == MK_ERR_UNKNOWN_TOPIC_OR_PARTITION) {
      /* Deleted: Kafka skips partitions it finds no leader endpoint for. */
      mk_log(MK_LOG_INFO, "broker", "transactional id %s: %s-%d no longer exists; no marker "
             "needed there", id, todo.v[i].topic, partition);
      marker_done(w, 0);
    } else if (rc) {
      marker_done(w, rc);
    }
  }
  free(id);
  mk_txn_partitions_free(&todo);
}

/* ---- completion ------------------------------------------------------------------------------- */

struct complete_wait {
  struct mk_txn_marker_channel *ch;
  char *transactional_id;
  uint64_t serial;
};

static void completed(void *arg, int16_t error) {
  struct complete_wait *w = arg;
  struct mk_txn_marker_channel *ch = w->ch;
  struct mk_txn_marker_entry *e = find(ch, w->transactional_id, w->serial);
  if (e) {
    e->completing = false;
    if (error == MK_ERR_COORDINATOR_NOT_AVAILABLE) {
      /* The log could not take it now: again later (Kafka's txnLogAppendRetryQueue). */
      e->retry_at_ms = now(ch) + ch->cfg->marker_retry_backoff_ms;
    } else {
      if (error)
        mk_log(MK_LOG_INFO, "broker", "transactional id %s: its completion was not written "
               "(%s); whoever coordinates it next finishes it", w->transactional_id,
               mk_err_name(error));
      unlink_entry(ch, e);
      free_entry(e);
    }
  }
  free(w->transactional_id);
  free(w);
}

/* Every marker written: write CompleteCommit / CompleteAbort (Kafka's writeTxnCompletion). */
static void maybe_complete(struct mk_txn_marker_channel *ch, struct mk_txn_marker_entry *e) {
  if (e->remaining.count || e->inflight.count || e->completing) return;
  struct mk_txn_metadata *txn = metadata_of(ch, e);
  struct mk_txn_transit t;
  struct mk_err err = {0};
  struct complete_wait *w = txn ? calloc(1, sizeof *w) : NULL;
  if (w) w->transactional_id = strdup(e->transactional_id);
  if (!txn || txn->pending != MK_TXN_NO_PENDING || !w || !w->transactional_id ||
      mk_txn_prepare_complete(txn, now(ch), &t, &err)) {
    if (w) free(w->transactional_id);
    free(w);
    if (!txn) {  /* moved on (unloaded, fenced by a newer coordinator): nothing to finish */
      unlink_entry(ch, e);
      free_entry(e);
    } else {     /* busy or out of memory: try again soon */
      if (err.code) mk_log(MK_LOG_WARN, "broker", "%s", err.msg);
      e->retry_at_ms = now(ch) + ch->cfg->marker_retry_backoff_ms;
    }
    return;
  }
  w->ch = ch;
  w->serial = e->serial;
  e->completing = true;
  mk_txn_state_append(ch->mgr, txn, e->coordinator_epoch, &t, completed, w);
}

/* ---- the channel's API ------------------------------------------------------------------------- */

int mk_txn_marker_channel_add(struct mk_txn_marker_channel *ch, struct mk_txn_metadata *txn,
                              int32_t coordinator_epoch) {
  struct mk_txn_marker_entry *e = find(ch, txn->transactional_id, txn->serial);
  if (e) {  /* already under way (a reload re-adds what a Prepare left) */
    e->coordinator_epoch = coordinator_epoch;
    return 0;
  }
  e = calloc(1, sizeof *e);
  if (!e) return MK_ERR__NO_MEMORY;
  e->transactional_id = strdup(txn->transactional_id);
  if (!e->transactional_id || mk_txn_partitions_copy(&e->remaining, &txn->partitions)) {
    free_entry(e);
    return MK_ERR__NO_MEMORY;
  }
  e->serial = txn->serial;
  e->partition = txn->partition;
  e->coordinator_epoch = coordinator_epoch;
  e->commit = txn->state == MK_TXN_PREPARE_COMMIT;
  e->producer_id = txn->producer_id;
  e->producer_epoch = txn->producer_epoch;
  e->retry_at_ms = -1;
  e->hold_until_ms = -1;
  e->next = ch->entries;
  ch->entries = e;
  if (ch->hold && ch->hold_count != 0) {
    e->held = true;
    e->hold_until_ms = ch->hold_ms >= 0 ? now(ch) + ch->hold_ms : -1;
    if (ch->hold_count > 0 && --ch->hold_count == 0) ch->hold = false;
    mk_log(MK_LOG_INFO, "broker", "transactional id %s: %s markers held (hold_markers) %s",
           e->transactional_id, e->commit ? "COMMIT" : "ABORT",
           ch->hold_ms >= 0 ? "for a while" : "until released");
    return 0;
  }
  send_markers(ch, e);
  e = find(ch, txn->transactional_id, txn->serial);
  if (e) maybe_complete(ch, e);
  return 0;
}

void mk_txn_marker_channel_remove_partition(struct mk_txn_marker_channel *ch, int32_t p) {
  struct mk_txn_marker_entry **pp = &ch->entries;
  while (*pp) {
    struct mk_txn_marker_entry *e = *pp;
    if (e->partition == p) {
      *pp = e->next;
      free_entry(e);
    } else {
      pp = &e->next;
    }
  }
}

bool mk_txn_marker_channel_pending(const struct mk_txn_marker_channel *ch,
                                   const struct mk_txn_metadata *txn) {
  return find(ch, txn->transactional_id, txn->serial) != NULL;
}

const struct mk_txn_partitions *mk_txn_marker_channel_remaining(const struct mk_txn_marker_channel *ch,
                                                                const struct mk_txn_metadata *txn) {
  const struct mk_txn_marker_entry *e = find(ch, txn->transactional_id, txn->serial);
  return e ? &e->remaining : NULL;
}

bool mk_txn_marker_channel_held(const struct mk_txn_marker_channel *ch,
                                const struct mk_txn_metadata *txn, int64_t *until_ms) {
  const struct mk_txn_marker_entry *e = find(ch, txn->transactional_id, txn->serial);
  if (!e || !e->held) return false;
  if (until_ms) *until_ms = e->hold_until_ms;
  return true;
}

void mk_txn_marker_channel_hold(struct mk_txn_marker_channel *ch, int64_t ms, int count) {
  ch->hold = true;
  ch->hold_ms = ms;
  ch->hold_count = count;
}

int mk_txn_marker_channel_release(struct mk_txn_marker_channel *ch) {
  ch->hold = false;
  int n = 0;
  for (struct mk_txn_marker_entry *e = ch->entries; e; e = e->next) {
    if (!e->held) continue;
    e->hold_until_ms = now(ch);  /* due now: the next poll sends */
    n++;
  }
  return n;
}

void mk_txn_marker_channel_poll(struct mk_txn_marker_channel *ch) {
  int64_t t = now(ch);
  /* Work on a snapshot of what is due: sending may add, answer and free entries. */
  for (;;) {
    struct mk_txn_marker_entry *due = NULL;
    for (struct mk_txn_marker_entry *e = ch->entries; e && !due; e = e->next) {
      if (e->held && e->hold_until_ms >= 0 && e->hold_until_ms <= t) due = e;
      else if (!e->held && e->retry_at_ms >= 0 && e->retry_at_ms <= t) due = e;
    }
    if (!due) return;
    char *id = strdup(due->transactional_id);
    uint64_t serial = due->serial;
    if (!id) return;
    if (due->held) {
      due->held = false;
      mk_log(MK_LOG_INFO, "broker", "transactional id %s: markers released", id);
    }
    due->retry_at_ms = -1;
    if (due->remaining.count) send_markers(ch, due);
    struct mk_txn_marker_entry *e = find(ch, id, serial);
    if (e) maybe_complete(ch, e);
    free(id);
  }
}

int64_t mk_txn_marker_channel_next_deadline(const struct mk_txn_marker_channel *ch) {
  int64_t next = -1;
  for (const struct mk_txn_marker_entry *e = ch->entries; e; e = e->next) {
    int64_t at = e->held ? e->hold_until_ms : e->retry_at_ms;
    if (at >= 0 && (next < 0 || at < next)) next = at;
  }
  return next;
}
