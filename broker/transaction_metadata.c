/*
 * Transaction metadata: the states, the partition sets, prepare and complete. See
 * transaction_metadata.h.
 */
#include "broker/transaction_metadata.h"

#include <stdlib.h>
#include <string.h>

/* ---- states ----------------------------------------------------------------------------- */

static const char *const state_names[] = {
    [MK_TXN_EMPTY] = "Empty",
    [MK_TXN_ONGOING] = "Ongoing",
    [MK_TXN_PREPARE_COMMIT] = "PrepareCommit",
    [MK_TXN_PREPARE_ABORT] = "PrepareAbort",
    [MK_TXN_COMPLETE_COMMIT] = "CompleteCommit",
    [MK_TXN_COMPLETE_ABORT] = "CompleteAbort",
    [MK_TXN_DEAD] = "Dead",
    [MK_TXN_PREPARE_EPOCH_FENCE] = "PrepareEpochFence",
};
enum { NSTATES = sizeof state_names / sizeof state_names[0] };

const char *mk_txn_state_name(int state) {
  return state >= 0 && state < NSTATES ? state_names[state] : "Unknown";
}

#define BIT(s) (1u << (s))

/* Kafka's validPreviousStates, one bit per state. */
static const unsigned valid_previous[NSTATES] = {
    [MK_TXN_EMPTY] = BIT(MK_TXN_EMPTY) | BIT(MK_TXN_COMPLETE_COMMIT) | BIT(MK_TXN_COMPLETE_ABORT),
    [MK_TXN_ONGOING] = BIT(MK_TXN_ONGOING) | BIT(MK_TXN_EMPTY) | BIT(MK_TXN_COMPLETE_COMMIT) |
                       BIT(MK_TXN_COMPLETE_ABORT),
    [MK_TXN_PREPARE_COMMIT] = BIT(MK_TXN_ONGOING),
    [MK_TXN_PREPARE_ABORT] = BIT(MK_TXN_ONGOING) | BIT(MK_TXN_PREPARE_EPOCH_FENCE),
    [MK_TXN_COMPLETE_COMMIT] = BIT(MK_TXN_PREPARE_COMMIT),
    [MK_TXN_COMPLETE_ABORT] = BIT(MK_TXN_PREPARE_ABORT),
    [MK_TXN_DEAD] = BIT(MK_TXN_EMPTY) | BIT(MK_TXN_COMPLETE_COMMIT) | BIT(MK_TXN_COMPLETE_ABORT),
    [MK_TXN_PREPARE_EPOCH_FENCE] = BIT(MK_TXN_ONGOING),
};

bool mk_txn_valid_transition(int from, int to) {
  if (from < 0 || from >= NSTATES || to < 0 || to >= NSTATES) return false;
  return (valid_previous[to] & BIT(from)) != 0;
}

bool mk_txn_epoch_exhausted(int16_t epoch) { return epoch >= INT16_MAX - 1; }

/* ---- partition sets -------------------------------------------------------------------- */

static int compare(const struct mk_txn_topic_partition *a, struct mk_str topic, int32_t partition) {
  size_t alen = strlen(a->topic), blen = topic.len < 0 ? 0 : (size_t)topic.len;
  int c = memcmp(a->topic, topic.ptr ? topic.ptr : "", alen < blen ? alen : blen);
  if (c) return c;
  if (alen != blen) return alen < blen ? -1 : 1;
  return a->partition < partition ? -1 : a->partition > partition;
}

/* The index of (topic, partition), or where it would go; *found says which. */
static int32_t search(const struct mk_txn_partitions *s, struct mk_str topic, int32_t partition,
                      bool *found) {
  int32_t lo = 0, hi = s->count;
  while (lo < hi) {
    int32_t mid = lo + (hi - lo) / 2;
    int c = compare(&s->v[mid], topic, partition);
    if (c == 0) {
      *found = true;
      return mid;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = false;
  return lo;
}

void mk_txn_partitions_free(struct mk_txn_partitions *s) {
  for (int32_t i = 0; i < s->count; i++) free(s->v[i].topic);
  free(s->v);
  memset(s, 0, sizeof *s);
}

bool mk_txn_partitions_contains(const struct mk_txn_partitions *s, struct mk_str topic,
                                int32_t partition) {
  bool found;
  search(s, topic, partition, &found);
  return found;
}

int mk_txn_partitions_add(struct mk_txn_partitions *s, struct mk_str topic, int32_t partition) {
  bool found;
  int32_t at = search(s, topic, partition, &found);
  if (found) return 0;
  if (s->count == s->cap) {
    int32_t cap = s->cap ? s->cap * 2 : 4;
    struct mk_txn_topic_partition *v = realloc(s->v, sizeof *v * (size_t)cap);
    if (!v) return MK_ERR__NO_MEMORY;
    s->v = v;
    s->cap = cap;
  }
  size_t len = topic.len < 0 ? 0 : (size_t)topic.len;
  char *name = malloc(len + 1);
  if (!name) return MK_ERR__NO_MEMORY;
  memcpy(name, topic.ptr ? topic.ptr : "", len);
  name[len] = '\0';
  memmove(&s->v[at + 1], &s->v[at], sizeof *s->v * (size_t)(s->count - at));
  s->v[at] = (struct mk_txn_topic_partition){name, partition};
  s->count++;
  return 0;
}

void mk_txn_partitions_remove(struct mk_txn_partitions *s, struct mk_str topic, int32_t partition) {
  bool found;
  int32_t at = search(s, topic, partition, &found);
  if (!found) return;
  free(s->v[at].topic);
  memmove(&s->v[at], &s->v[at + 1], sizeof *s->v * (size_t)(s->count - at - 1));
  s->count--;
}

int mk_txn_partitions_copy(struct mk_txn_partitions *dst, const struct mk_txn_partitions *src) {
  memset(dst, 0, sizeof *dst);
  for (int32_t i = 0; i < src->count; i++) {
    if (mk_txn_partitions_add(dst, mk_str_of(src->v[i].topic), src->v[i].partition)) {
      mk_txn_partitions_free(dst);
      return MK_ERR__NO_MEMORY;
    }
  }
  return 0;
}

/* Whether every element of a is in b. */
static bool subset(const struct mk_txn_partitions *a, const struct mk_txn_partitions *b) {
  for (int32_t i = 0; i < a->count; i++)
    if (!mk_txn_partitions_contains(b, mk_str_of(a->v[i].topic), a->v[i].partition)) return false;
  return true;
}

static bool same_set(const struct mk_txn_partitions *a, const struct mk_txn_partitions *b) {
  return a->count == b->count && subset(a, b);
}

/* ---- the metadata ------------------------------------------------------------------------ */

struct mk_txn_metadata *mk_txn_metadata_new(struct mk_str transactional_id, int32_t partition,
                                            int64_t producer_id, int32_t timeout_ms,
                                            int64_t now_ms) {
  struct mk_txn_metadata *m = calloc(1, sizeof *m);
  size_t len = transactional_id.len < 0 ? 0 : (size_t)transactional_id.len;
  if (m) m->transactional_id = malloc(len + 1);
  if (!m || !m->transactional_id) {
    free(m);
    return NULL;
  }
  memcpy(m->transactional_id, transactional_id.ptr ? transactional_id.ptr : "", len);
  m->transactional_id[len] = '\0';
  m->partition = partition;
  m->producer_id = producer_id;
  m->previous_producer_id = -1;
  m->producer_epoch = m->last_producer_epoch = -1;
  m->timeout_ms = timeout_ms;
  m->state = MK_TXN_EMPTY;
  m->pending = MK_TXN_NO_PENDING;
  m->start_ms = -1;
  m->update_ms = now_ms;
  return m;
}

void mk_txn_metadata_free(struct mk_txn_metadata *m) {
  if (!m) return;
  mk_txn_partitions_free(&m->partitions);
  free(m->transactional_id);
  free(m);
}

void mk_txn_transit_free(struct mk_txn_transit *t) { mk_txn_partitions_free(&t->partitions); }

/* Kafka's prepareTransitionTo: the checks every prepare shares, then the transit. partitions
 * is copied (NULL: none). */
static int prepare(struct mk_txn_metadata *m, int state, int64_t producer_id, int16_t epoch,
                   int16_t last_epoch, int32_t timeout_ms, const struct mk_txn_partitions *partitions,
                   int64_t start_ms, int64_t update_ms, struct mk_txn_transit *out,
                   struct mk_err *err) {
  if (m->pending != MK_TXN_NO_PENDING)
    return mk_err_set(err, MK_ERR__STATE, "transactional id %s: a change to %s is already "
                      "being written (preparing %s)", m->transactional_id,
                      mk_txn_state_name(m->pending), mk_txn_state_name(state));
  if (producer_id < 0)
    return mk_err_set(err, MK_ERR__STATE, "transactional id %s: illegal producer id %lld",
                      m->transactional_id, (long long)producer_id);
  if (state != MK_TXN_DEAD && epoch < 0)
    return mk_err_set(err, MK_ERR__STATE, "transactional id %s: illegal producer epoch %d",
                      m->transactional_id, epoch);
  if (!mk_txn_valid_transition(m->state, state))
    return mk_err_set(err, MK_ERR__STATE, "transactional id %s: %s cannot follow %s",
                      m->transactional_id, mk_txn_state_name(state), mk_txn_state_name(m->state));
  struct mk_txn_transit t = {
      .producer_id = producer_id,
      .previous_producer_id = m->producer_id,
      .producer_epoch = epoch,
      .last_producer_epoch = last_epoch,
      .timeout_ms = timeout_ms,
      .state = state,
      .start_ms = start_ms,
      .update_ms = update_ms,
  };
  if (partitions && mk_txn_partitions_copy(&t.partitions, partitions))
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  *out = t;
  m->pending = state;
  return 0;
}

int mk_txn_prepare_fence_epoch(struct mk_txn_metadata *m, struct mk_txn_transit *out,
                               struct mk_err *err) {
  if (m->producer_epoch == INT16_MAX)
    return mk_err_set(err, MK_ERR__STATE, "transactional id %s: epoch %d cannot be bumped",
                      m->transactional_id, m->producer_epoch);
  int16_t epoch = m->failed_epoch_fence ? m->producer_epoch : (int16_t)(m->producer_epoch + 1);
  return prepare(m, MK_TXN_PREPARE_EPOCH_FENCE, m->producer_id, epoch, -1, m->timeout_ms,
                 &m->partitions, m->start_ms, m->update_ms, out, err);
}

int mk_txn_prepare_increment_epoch(struct mk_txn_metadata *m, int32_t timeout_ms,
                                   bool has_expected, int16_t expected_epoch, int64_t now_ms,
                                   struct mk_txn_transit *out, struct mk_err *err) {
  if (mk_txn_epoch_exhausted(m->producer_epoch))
    return mk_err_set(err, MK_ERR__STATE, "transactional id %s: producer id %lld has no epoch "
                      "left", m->transactional_id, (long long)m->producer_id);
  int16_t bumped = (int16_t)(m->producer_epoch + 1), epoch, last;
  if (!has_expected) {
    /* A new producer (-1 + 1 = epoch 0) or one that starts over: the last epoch is forgotten,
     * so no retry of an older call can succeed. */
    epoch = bumped;
    last = -1;
  } else if (m->producer_epoch == -1 || expected_epoch == m->producer_epoch) {
    /* The producer carries on after an error, and nobody else took the id meanwhile. */
    epoch = bumped;
    last = m->producer_epoch;
  } else if (expected_epoch == m->last_producer_epoch) {
    /* A retry of a bump that succeeded (its answer was lost): the same epoch again. */
    epoch = m->producer_epoch;
    last = m->last_producer_epoch;
  } else {
    return mk_err_set(err, MK_ERR_PRODUCER_FENCED, "transactional id %s: expected epoch %d is "
                      "neither the current %d nor the last %d", m->transactional_id,
                      expected_epoch, m->producer_epoch, m->last_producer_epoch);
  }
  return prepare(m, MK_TXN_EMPTY, m->producer_id, epoch, last, timeout_ms, NULL, -1, now_ms, out,
                 err);
}

int mk_txn_prepare_producer_id_rotation(struct mk_txn_metadata *m, int64_t producer_id,
                                        int32_t timeout_ms, int64_t now_ms,
                                        bool record_last_epoch, struct mk_txn_transit *out,
                                        struct mk_err *err) {
  if (m->state == MK_TXN_ONGOING || m->state == MK_TXN_PREPARE_COMMIT ||
      m->state == MK_TXN_PREPARE_ABORT)
    return mk_err_set(err, MK_ERR__STATE, "transactional id %s: cannot rotate producer ids "
                      "during a transaction (%s)", m->transactional_id, mk_txn_state_name(m->state));
  return prepare(m, MK_TXN_EMPTY, producer_id, 0, record_last_epoch ? m->producer_epoch : -1,
                 timeout_ms, NULL, -1, now_ms, out, err);
}

int mk_txn_prepare_add_partitions(struct mk_txn_metadata *m, const struct mk_txn_partitions *add,
                                  int64_t now_ms, struct mk_txn_transit *out, struct mk_err *err) {
  struct mk_txn_partitions all;
  if (mk_txn_partitions_copy(&all, &m->partitions))
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  for (int32_t i = 0; i < add->count; i++) {
    if (mk_txn_partitions_add(&all, mk_str_of(add->v[i].topic), add->v[i].partition)) {
      mk_txn_partitions_free(&all);
      return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
    }
  }
  bool starts = m->state == MK_TXN_EMPTY || m->state == MK_TXN_COMPLETE_COMMIT ||
                m->state == MK_TXN_COMPLETE_ABORT;
  int rc = prepare(m, MK_TXN_ONGOING, m->producer_id, m->producer_epoch, m->last_producer_epoch,
                   m->timeout_ms, NULL, starts ? now_ms : m->start_ms, now_ms, out, err);
  if (rc) {
    mk_txn_partitions_free(&all);
    return rc;
  }
  out->partitions = all;  /* moved in: no second copy */
  return 0;
}

int mk_txn_prepare_abort_or_commit(struct mk_txn_metadata *m, int state, int64_t now_ms,
                                   struct mk_txn_transit *out, struct mk_err *err) {
  if (state != MK_TXN_PREPARE_COMMIT && state != MK_TXN_PREPARE_ABORT)
    return mk_err_set(err, MK_ERR__STATE, "transactional id %s: %s is not an end",
                      m->transactional_id, mk_txn_state_name(state));
  return prepare(m, state, m->producer_id, m->producer_epoch, m->last_producer_epoch,
                 m->timeout_ms, &m->partitions, m->start_ms, now_ms, out, err);
}

int mk_txn_prepare_complete(struct mk_txn_metadata *m, int64_t now_ms,
                            struct mk_txn_transit *out, struct mk_err *err) {
  int state = m->state == MK_TXN_PREPARE_COMMIT ? MK_TXN_COMPLETE_COMMIT : MK_TXN_COMPLETE_ABORT;
  int rc = prepare(m, state, m->producer_id, m->producer_epoch, m->producer_epoch, m->timeout_ms,
                   NULL, m->start_ms, now_ms, out, err);
  /* The transaction is decided and in the log: a later fence may bump again. */
  if (!rc) m->failed_epoch_fence = false;
  return rc;
}

int mk_txn_prepare_dead(struct mk_txn_metadata *m, struct mk_txn_transit *out,
                        struct mk_err *err) {
  return prepare(m, MK_TXN_DEAD, m->producer_id, m->producer_epoch, m->last_producer_epoch,
                 m->timeout_ms, NULL, m->start_ms, m->update_ms, out, err);
}

void mk_txn_abort_pending(struct mk_txn_metadata *m) { m->pending = MK_TXN_NO_PENDING; }

void mk_txn_take_fenced_epoch(struct mk_txn_metadata *m, int16_t epoch) {
  m->pending = MK_TXN_NO_PENDING;
  m->producer_epoch = epoch;
  m->last_producer_epoch = -1;
}

/* Kafka's validProducerEpoch (transactions v1): the same producer id and epoch. */
static bool same_producer(const struct mk_txn_metadata *m, const struct mk_txn_transit *t) {
  return t->producer_id == m->producer_id && t->producer_epoch == m->producer_epoch;
}

int mk_txn_complete_transition(struct mk_txn_metadata *m, const struct mk_txn_transit *t,
                               struct mk_err *err) {
  int to = m->pending;
  m->pending = MK_TXN_NO_PENDING;
  const char *bad = NULL;
  if (to != t->state) {
    bad = "the state written is not the one pending";
  } else {
    switch (to) {
      case MK_TXN_EMPTY: {  /* InitProducerId */
        bool bump = t->producer_epoch == m->producer_epoch + 1 ||
                    (t->producer_epoch == 0 && t->producer_id != m->producer_id);
        if ((t->producer_epoch != m->producer_epoch && !bump) || t->partitions.count ||
            t->start_ms != -1) {
          bad = "an epoch that is not the next one, or partitions without a transaction";
          break;
        }
        m->timeout_ms = t->timeout_ms;
        m->producer_epoch = t->producer_epoch;
        m->last_producer_epoch = t->last_producer_epoch;
        m->previous_producer_id = t->previous_producer_id;
        m->producer_id = t->producer_id;
        break;
      }
      case MK_TXN_ONGOING: {  /* AddPartitionsToTxn */
        if (!same_producer(m, t) || !subset(&m->partitions, &t->partitions) ||
            m->timeout_ms != t->timeout_ms) {
          bad = "another producer, fewer partitions or another timeout";
          break;
        }
        struct mk_txn_partitions copy;
        if (mk_txn_partitions_copy(&copy, &t->partitions))
          return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
        mk_txn_partitions_free(&m->partitions);
        m->partitions = copy;
        m->start_ms = t->start_ms;
        break;
      }
      case MK_TXN_PREPARE_COMMIT:
      case MK_TXN_PREPARE_ABORT:  /* EndTxn */
        if (!same_producer(m, t) || !same_set(&m->partitions, &t->partitions) ||
            m->timeout_ms != t->timeout_ms || m->start_ms != t->start_ms)
          bad = "another producer, other partitions, timeout or start";
        break;
      case MK_TXN_COMPLETE_COMMIT:
      case MK_TXN_COMPLETE_ABORT:  /* every marker written */
        if (!same_producer(m, t) || m->timeout_ms != t->timeout_ms || t->start_ms == -1) {
          bad = "another producer, another timeout, or no start";
          break;
        }
        m->start_ms = t->start_ms;
        mk_txn_partitions_free(&m->partitions);
        break;
      default:  /* PrepareEpochFence is never written; Dead removes the id instead */
        bad = "a state that is never completed";
        break;
    }
  }
  if (bad)
    return mk_err_set(err, MK_ERR__STATE, "transactional id %s: the change from %s to %s "
                      "cannot complete: %s", m->transactional_id, mk_txn_state_name(m->state),
                      mk_txn_state_name(t->state), bad);
  m->update_ms = t->update_ms;
  m->state = to;
  return 0;
}

/* ---- records ------------------------------------------------------------------------------- */

int mk_txn_transit_record(const struct mk_txn_transit *t, struct mk_str transactional_id,
                          struct mk_coordinator_record *rec, struct mk_arena *arena) {
  mk_coordinator_record_init(rec, MK_RECORD_TRANSACTION_LOG);
  rec->key.transaction_log.transactional_id = transactional_id;
  if (t->state == MK_TXN_DEAD) {
    rec->tombstone = true;
    return 0;
  }
  struct mk_transaction_log_value *v = &rec->value.transaction_log;
  v->producer_id = t->producer_id;
  v->producer_epoch = t->producer_epoch;
  v->transaction_timeout_ms = t->timeout_ms;
  v->transaction_status = (int8_t)t->state;
  v->transaction_last_update_timestamp_ms = t->update_ms;
  v->transaction_start_timestamp_ms = t->start_ms;
  v->transaction_partitions = NULL;
  v->transaction_partitions_count = -1;  /* null while Empty, as Kafka writes it */
  if (t->state == MK_TXN_EMPTY) return 0;
  /* Grouped by topic: the set is sorted, so each topic's partitions are adjacent. */
  int32_t ntopics = 0;
  for (int32_t i = 0; i < t->partitions.count; i++)
    if (i == 0 || strcmp(t->partitions.v[i].topic, t->partitions.v[i - 1].topic) != 0) ntopics++;
  struct mk_transaction_log_value_partitions_schema *topics =
      ntopics ? mk_arena_alloc(arena, sizeof *topics * (size_t)ntopics) : NULL;
  int32_t *ids = t->partitions.count
                     ? mk_arena_alloc(arena, sizeof *ids * (size_t)t->partitions.count) : NULL;
  if ((ntopics && !topics) || (t->partitions.count && !ids)) return MK_ERR__NO_MEMORY;
  int32_t k = -1;
  for (int32_t i = 0; i < t->partitions.count; i++) {
    if (i == 0 || strcmp(t->partitions.v[i].topic, t->partitions.v[i - 1].topic) != 0) {
      k++;
      topics[k].topic = mk_str_of(t->partitions.v[i].topic);
      topics[k].partition_ids = &ids[i];
      topics[k].partition_ids_count = 0;
    }
    ids[i] = t->partitions.v[i].partition;
    topics[k].partition_ids_count++;
  }
  v->transaction_partitions = topics;
  v->transaction_partitions_count = ntopics;
  return 0;
}

int mk_txn_metadata_from_record(struct mk_str transactional_id, int32_t partition,
                                const struct mk_transaction_log_value *v,
                                struct mk_txn_metadata **out, struct mk_err *err) {
  if (v->transaction_status < 0 || v->transaction_status >= NSTATES)
    return mk_err_set(err, MK_ERR__DECODE, "transactional id %.*s: unknown state id %d",
                      transactional_id.len, transactional_id.ptr, v->transaction_status);
  struct mk_txn_metadata *m = mk_txn_metadata_new(transactional_id, partition, v->producer_id,
                                                  v->transaction_timeout_ms,
                                                  v->transaction_last_update_timestamp_ms);
  if (!m) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  m->previous_producer_id = v->previous_producer_id;
  m->producer_epoch = v->producer_epoch;
  m->state = v->transaction_status;
  m->start_ms = v->transaction_start_timestamp_ms;
  if (m->state != MK_TXN_EMPTY) {
    for (int32_t i = 0; i < v->transaction_partitions_count; i++) {
      const struct mk_transaction_log_value_partitions_schema *tp = &v->transaction_partitions[i];
      for (int32_t j = 0; j < tp->partition_ids_count; j++) {
        if (mk_txn_partitions_add(&m->partitions, tp->topic, tp->partition_ids[j])) {
          mk_txn_metadata_free(m);
          return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
        }
      }
    }
  }
  *out = m;
  return 0;
}
