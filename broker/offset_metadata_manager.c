/*
 * Offset metadata manager: a group's committed offsets — OffsetCommit, OffsetFetch,
 * OffsetDelete and offset expiry. Kafka: OffsetMetadataManager.java (the new coordinator),
 * the offset half of GroupCoordinator.scala and GroupMetadataManager.scala (the old one).
 * The functions are declared in group_coordinator.h with the rest of the coordinator's APIs.
 *
 *   commit   the coordinator checks who commits (a member of the current generation, or
 *            anyone while the group is Empty, with generation -1), appends one record per
 *            partition, and answers once they are committed; meanwhile they are "pending"
 *   fetch    answers what was acknowledged; with require_stable, a partition with a commit
 *            still pending answers UNSTABLE_OFFSET_COMMIT so the client asks again
 *   delete   tombstones for offsets of topics the group no longer reads
 *   expiry   offsets.retention.minutes after a group emptied, its offsets go, then the group
 *
 * Transactions (DESIGN.md 3.6): a transactional producer commits its consumer's offsets
 * with TxnOffsetCommit inside the transaction (sendOffsetsToTransaction). They are appended
 * in a transactional batch and staged per producer id (struct mk_group_txn_offset) until the
 * transaction coordinator's marker reaches this partition of __consumer_offsets: COMMIT makes
 * them the committed offsets, ABORT drops them (mk_group_coordinator_txn_completed; the loader
 * replays the same from the log). Meanwhile OffsetFetch with require_stable answers
 * UNSTABLE_OFFSET_COMMIT for their partitions, so a read_committed consumer does not start
 * from offsets that may still be rolled back.
 *
 * Thread: broker loop.
 */
#include <stdlib.h>
#include <string.h>

#include "broker/group_coordinator.h"
#include "broker/group_coordinator_internal.h"
#include "common/log.h"
#include "common/trace.h"
#include "protocol/consumer_protocol.h"
#include "protocol/errors.h"

/* ---- OffsetCommit ---------------------------------------------------------------------------- */

/* An OffsetCommit waiting for its records to be committed. */
struct commit_wait {
  struct mk_group_coordinator *c;
  uint64_t serial;
  char *group_id;
  char *member_id;
  int32_t generation;
  int n;                           /* all the request's offsets */
  int16_t *errors;                 /* per offset; those written are filled at the end */
  int nwritten;
  struct mk_offset_commit *written;  /* copies of the offsets being written */
  int *index;                      /* written[k] is offsets[index[k]] */
  int64_t producer_id;             /* TxnOffsetCommit: the transaction's producer, else -1 */
  mk_commit_callback *cb;
  void *arg;
};

static void free_commit_wait(struct commit_wait *w) {
  for (int k = 0; k < w->nwritten; k++) {
    free((void *)w->written[k].topic.ptr);
    free((void *)w->written[k].metadata.ptr);
  }
  free(w->written);
  free(w->index);
  free(w->errors);
  free(w->group_id);
  free(w->member_id);
  free(w);
}

static void trace_commit(const struct commit_wait *w, const struct mk_offset_commit *o,
                         int16_t error) {
  if (!mk_trace_on()) return;
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", "offset_commit");
  mk_trace_str(&ev, "group", w->group_id);
  mk_trace_str(&ev, "member_id", w->member_id);
  mk_trace_int(&ev, "generation", w->generation);
  mk_trace_strn(&ev, "topic", o->topic.ptr, o->topic.len);
  mk_trace_int(&ev, "partition", o->partition);
  mk_trace_int(&ev, "offset", o->offset);
  if (w->producer_id >= 0) {  /* staged: committed only with its transaction */
    mk_trace_bool(&ev, "transactional", true);
    mk_trace_int(&ev, "producer_id", w->producer_id);
  }
  if (error) mk_trace_str(&ev, "error", mk_err_name(error));
  mk_trace_end(&ev);
}

static void commit_done(void *arg, int16_t error) {
  struct commit_wait *w = arg;
  struct mk_group *g = mk_group_metadata_manager_get(&w->c->mgr, mk_str_of(w->group_id));
  if (g && g->serial == w->serial) {
    if (w->producer_id < 0)
      mk_group_offsets_written(g, w->written, w->nwritten, !error);
    else
      for (int k = 0; k < w->nwritten; k++)
        mk_group_txn_offset_written(g, w->producer_id, w->written[k].topic,
                                    w->written[k].partition, !error);
  }
  int16_t answer = error ? mk_group_append_error(error, true) : 0;
  for (int k = 0; k < w->nwritten; k++) {
    w->errors[w->index[k]] = answer;
    trace_commit(w, &w->written[k], answer);
  }
  w->cb(w->arg, w->errors);
  free_commit_wait(w);
}

/* ClassicGroup.validateOffsetCommit; a transactional commit (TxnOffsetCommit) may come
 * without member and generation (its v0-2) whatever the group's state, and is not held back
 * by a rebalance. */
static int16_t validate_offset_commit(const struct mk_group *g, struct mk_str member_id,
                                      struct mk_str instance_id, int32_t generation,
                                      bool transactional) {
  if (g->state == MK_GROUP_DEAD) return MK_ERR_COORDINATOR_NOT_AVAILABLE;
  /* Generation -1 from outside the group (the admin client, a consumer assigning partitions
   * itself): allowed while nobody is in the group. */
  if (generation < 0 && g->state == MK_GROUP_EMPTY) return 0;
  if (generation >= 0 || member_id.len > 0 || instance_id.len >= 0) {
    int16_t err = mk_group_validate_member(g, member_id, instance_id);
    if (err) return err;
    if (generation != g->generation_id) return MK_ERR_ILLEGAL_GENERATION;
  } else if (!transactional && g->state != MK_GROUP_EMPTY) {
    return MK_ERR_UNKNOWN_MEMBER_ID;  /* only members commit for a group with members */
  }
  if (!transactional && g->state == MK_GROUP_COMPLETING_REBALANCE)
    return MK_ERR_REBALANCE_IN_PROGRESS;
  return 0;
}

/* A copy of s ("" for a null one) and its length; NULL if out of memory. */
static char *copy_str(struct mk_str s, int32_t *len) {
  bool ok = true;
  *len = s.len < 0 ? 0 : s.len;
  return mk_group_copy_str(s.len < 0 ? (struct mk_str){"", 0} : s, &ok);
}

/* The transaction a TxnOffsetCommit belongs to. */
struct txn_producer {
  int64_t producer_id;
  int16_t producer_epoch;
};

/* OffsetCommit and, with a producer, TxnOffsetCommit. */
static void commit_offsets(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                           struct mk_str group_id, struct mk_str member_id,
                           struct mk_str group_instance_id, int32_t generation_id,
                           const struct txn_producer *producer,
                           const struct mk_offset_commit *offsets, int n, mk_commit_callback *cb,
                           void *arg) {
  int16_t *errors = calloc((size_t)n + 1, sizeof *errors);
  if (!errors) {
    cb(arg, NULL);  /* out of memory: every offset failed */
    return;
  }
  int16_t err = mk_group_validate_status(c, ctx, group_id, true);
  struct mk_group *g = err ? NULL : mk_group_metadata_manager_get(&c->mgr, group_id);
  if (!err && !g) {
    if (generation_id < 0) {
      /* A "simple" group: offsets stored for a consumer that assigns partitions itself. */
      g = mk_group_metadata_manager_get_or_create(&c->mgr, group_id, true);
      if (!g) err = MK_ERR_UNKNOWN_SERVER_ERROR;
      else if (!g->serial) g->serial = ++c->next_serial;
    } else {
      /* v9+ says so plainly; older versions (and TxnOffsetCommit) keep the old answer. */
      err = !producer && ctx->api_version >= 9 ? MK_ERR_GROUP_ID_NOT_FOUND
                                               : MK_ERR_ILLEGAL_GENERATION;
    }
  }
  if (!err) err = validate_offset_commit(g, member_id, group_instance_id, generation_id,
                                         producer != NULL);
  if (err) {
    for (int i = 0; i < n; i++) errors[i] = err;
    cb(arg, errors);
    free(errors);
    if (g) mk_group_forget_if_empty(c, g);
    return;
  }
  /* A commit from a member counts as a sign of life while it is a member. */
  if (g->state == MK_GROUP_STABLE || g->state == MK_GROUP_PREPARING_REBALANCE) {
    struct mk_group_member *m = mk_group_find(g, member_id);
    if (m) mk_group_reschedule_heartbeat(c, m, m->session_timeout_ms);
  }
  struct commit_wait *w = calloc(1, sizeof *w);
  bool ok = w && (w->written = calloc((size_t)n + 1, sizeof *w->written)) &&
            (w->index = calloc((size_t)n + 1, sizeof *w->index)) &&
            (w->group_id = strdup(g->group_id));
  if (ok) {
    int32_t len;
    w->c = c;
    w->serial = g->serial;
    w->producer_id = producer ? producer->producer_id : -1;
    w->generation = generation_id;
    w->n = n;
    w->errors = errors;
    w->cb = cb;
    w->arg = arg;
    w->member_id = copy_str(member_id, &len);
    ok = w->member_id != NULL;
  }
  for (int i = 0; ok && i < n; i++) {
    const struct mk_offset_commit *o = &offsets[i];
    if (o->metadata.len > c->cfg.offset_metadata_max_bytes) {
      errors[i] = MK_ERR_OFFSET_METADATA_TOO_LARGE;
      continue;
    }
    struct mk_offset_commit *copy = &w->written[w->nwritten];
    *copy = *o;
    int32_t tlen, mlen;
    char *topic = copy_str(o->topic, &tlen), *md = copy_str(o->metadata, &mlen);
    copy->topic = (struct mk_str){topic, tlen};
    copy->metadata = (struct mk_str){md, mlen};
    w->index[w->nwritten++] = i;
    ok = topic && md;
  }
  if (!ok) {
    if (w) {
      w->errors = NULL;
      free_commit_wait(w);
    }
    for (int i = 0; i < n; i++) errors[i] = MK_ERR_UNKNOWN_SERVER_ERROR;
    cb(arg, errors);
    free(errors);
    return;
  }
  if (w->nwritten == 0) {  /* nothing to write: every offset was refused */
    cb(arg, errors);
    free_commit_wait(w);
    return;
  }
  int16_t rc = producer ? mk_group_store_txn_offsets(&c->mgr, g, producer->producer_id,
                                                     producer->producer_epoch, w->written,
                                                     w->nwritten, commit_done, w)
                        : mk_group_store_offsets(&c->mgr, g, w->written, w->nwritten,
                                                 commit_done, w);
  if (rc) commit_done(w, rc);
}

void mk_group_commit_offsets(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                             struct mk_str group_id, struct mk_str member_id,
                             struct mk_str group_instance_id, int32_t generation_id,
                             const struct mk_offset_commit *offsets, int n,
                             mk_commit_callback *cb, void *arg) {
  commit_offsets(c, ctx, group_id, member_id, group_instance_id, generation_id, NULL, offsets, n,
                 cb, arg);
}

void mk_group_commit_txn_offsets(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                                 struct mk_str group_id, struct mk_str member_id,
                                 struct mk_str group_instance_id, int32_t generation_id,
                                 int64_t producer_id, int16_t producer_epoch,
                                 const struct mk_offset_commit *offsets, int n,
                                 mk_commit_callback *cb, void *arg) {
  struct txn_producer producer = {producer_id, producer_epoch};
  commit_offsets(c, ctx, group_id, member_id, group_instance_id, generation_id, &producer, offsets,
                 n, cb, arg);
}

void mk_group_coordinator_txn_completed(struct mk_group_coordinator *c, int32_t partition,
                                        int64_t producer_id, bool commit) {
  for (struct mk_group *g = c->mgr.list; g; g = g->next) {
    if (g->partition != partition) continue;
    int n = mk_group_complete_txn_offsets(g, producer_id, commit);
    if (n)
      mk_log(MK_LOG_INFO, "broker", "group %s: %d offsets of producer %lld's transaction "
             "committed", g->group_id, n, (long long)producer_id);
  }
}

/* ---- OffsetFetch --------------------------------------------------------------------------- */

static void fetch_partition(const struct mk_group *g, struct mk_str topic, int32_t partition,
                            bool require_stable, struct mk_offset_fetch_response_partitions *out) {
  mk_schema_set_defaults(&mk_offset_fetch_response_partitions_schema, out);
  out->partition_index = partition;
  out->committed_offset = -1;
  out->committed_leader_epoch = -1;
  out->metadata = (struct mk_str){"", 0};
  struct mk_group_offset *o = g ? mk_group_offset((struct mk_group *)g, topic, partition, false) : NULL;
  bool unstable = (o && o->pending) || (g && mk_group_has_txn_offset(g, topic, partition));
  if (require_stable && unstable) {
    /* A commit is being written: the client asked not to see the value before it. */
    out->error_code = MK_ERR_UNSTABLE_OFFSET_COMMIT;
  } else if (o && o->committed) {
    out->committed_offset = o->offset;
    out->committed_leader_epoch = o->leader_epoch;
    out->metadata = mk_str_of(o->metadata ? o->metadata : "");
  }
}

void mk_group_fetch_offsets(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                            struct mk_str group_id, bool require_stable,
                            const struct mk_offset_fetch_request_topics *topics, int32_t ntopics,
                            struct mk_offset_fetch_response_group *out, struct mk_arena *arena) {
  mk_schema_set_defaults(&mk_offset_fetch_response_group_schema, out);
  out->group_id = group_id;
  if ((out->error_code = mk_group_validate_status(c, ctx, group_id, true))) return;
  struct mk_group *g = mk_group_metadata_manager_get(&c->mgr, group_id);
  if (g && g->state == MK_GROUP_DEAD) g = NULL;
  if (ntopics >= 0) {
    out->topics = ntopics ? mk_arena_alloc(arena, sizeof *out->topics * (size_t)ntopics) : NULL;
    if (ntopics && !out->topics) {
      out->error_code = MK_ERR_UNKNOWN_SERVER_ERROR;
      return;
    }
    out->topics_count = ntopics;
    for (int32_t i = 0; i < ntopics; i++) {
      struct mk_offset_fetch_response_topics *t = &out->topics[i];
      mk_schema_set_defaults(&mk_offset_fetch_response_topics_schema, t);
      t->name = topics[i].name;
      int32_t np = topics[i].partition_indexes_count;
      t->partitions = np > 0 ? mk_arena_alloc(arena, sizeof *t->partitions * (size_t)np) : NULL;
      t->partitions_count = t->partitions ? np : 0;
      for (int32_t j = 0; j < t->partitions_count; j++)
        fetch_partition(g, t->name, topics[i].partition_indexes[j], require_stable,
                        &t->partitions[j]);
    }
    return;
  }
  /* Every committed offset, grouped by topic. */
  int32_t n;
  struct mk_group_offset **all = mk_group_offsets_sorted(g, arena, &n);
  out->topics = n ? mk_arena_alloc(arena, sizeof *out->topics * (size_t)n) : NULL;
  if (n && !out->topics) {
    out->error_code = MK_ERR_UNKNOWN_SERVER_ERROR;
    return;
  }
  for (int32_t i = 0; i < n;) {
    int32_t j = i;
    while (j < n && strcmp(all[j]->topic, all[i]->topic) == 0) j++;
    struct mk_offset_fetch_response_topics *t = &out->topics[out->topics_count];
    mk_schema_set_defaults(&mk_offset_fetch_response_topics_schema, t);
    t->name = mk_str_of(all[i]->topic);
    t->partitions = mk_arena_alloc(arena, sizeof *t->partitions * (size_t)(j - i));
    for (int32_t k = i; t->partitions && k < j; k++) {
      if (!all[k]->committed && !(require_stable && all[k]->pending)) continue;
      fetch_partition(g, t->name, all[k]->partition, require_stable,
                      &t->partitions[t->partitions_count++]);
    }
    if (t->partitions_count) out->topics_count++;
    i = j;
  }
}

int16_t mk_group_delete_offsets(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                                struct mk_str group_id,
                                const struct mk_offset_delete_request_topic *topics, int32_t n,
                                int16_t *errors) {
  int16_t err = mk_group_validate_status(c, ctx, group_id, false);
  if (err) return err;
  struct mk_group *g = mk_group_metadata_manager_get(&c->mgr, group_id);
  if (!g || g->state == MK_GROUP_DEAD) return MK_ERR_GROUP_ID_NOT_FOUND;
  bool consumer = g->protocol_type && strcmp(g->protocol_type, MK_CONSUMER_PROTOCOL_TYPE) == 0;
  if (g->state != MK_GROUP_EMPTY && !consumer) return MK_ERR_NON_EMPTY_GROUP;
  int k = 0, total = 0;
  for (int32_t i = 0; i < n; i++) total += topics[i].partitions_count;
  const struct mk_group_offset **doomed = calloc((size_t)total + 1, sizeof *doomed);
  if (!doomed) return MK_ERR_UNKNOWN_SERVER_ERROR;
  int ndoomed = 0;
  for (int32_t i = 0; i < n; i++) {
    bool subscribed = mk_group_is_subscribed(g, topics[i].name);
    for (int32_t j = 0; j < topics[i].partitions_count; j++, k++) {
      errors[k] = subscribed ? MK_ERR_GROUP_SUBSCRIBED_TO_TOPIC : 0;
      if (subscribed) continue;
      struct mk_group_offset *o = mk_group_offset(g, topics[i].name,
                                                  topics[i].partitions[j].partition_index, false);
      bool seen = false;
      for (int d = 0; d < ndoomed; d++) seen |= doomed[d] == o;
      if (o && !seen) doomed[ndoomed++] = o;
    }
  }
  if (ndoomed) {
    int16_t rc = mk_group_write_tombstones(&c->mgr, g, doomed, ndoomed, false);
    if (rc)
      mk_log(MK_LOG_WARN, "broker", "group %s: writing offset tombstones failed: %s", g->group_id,
             mk_err_name(rc));
    for (int d = 0; d < ndoomed; d++) mk_group_offset_remove(g, (struct mk_group_offset *)doomed[d]);
  }
  free(doomed);
  mk_group_forget_if_empty(c, g);
  return 0;
}


/* Kafka's offset expiry (removeExpiredOffsets, cleanupGroupMetadata): a group's offsets
 * expire offsets.retention.minutes after it became Empty (or, for a group that stores
 * offsets only, after each commit; for a Stable consumer group, for topics it no longer
 * reads); an Empty group left without offsets is deleted. */
void mk_group_expire_offsets(struct mk_group_coordinator *c, struct mk_group *g, int64_t t) {
  bool consumer = g->protocol_type && strcmp(g->protocol_type, MK_CONSUMER_PROTOCOL_TYPE) == 0;
  int mode = g->protocol_type && g->state == MK_GROUP_EMPTY              ? 1
             : consumer && g->subscribed_known && g->state == MK_GROUP_STABLE ? 2
             : !g->protocol_type                                            ? 3
                                                                            : 0;
  struct mk_arena arena;
  mk_arena_init(&arena);
  int32_t n;
  struct mk_group_offset **all = mode ? mk_group_offsets_sorted(g, &arena, &n) : NULL;
  int nexpired = 0;
  for (int32_t i = 0; all && i < n; i++) {
    struct mk_group_offset *o = all[i];
    if (!o->committed || o->pending) continue;
    if (mode == 2 && mk_group_is_subscribed(g, mk_str_of(o->topic))) continue;
    bool expired;
    if (o->expire_timestamp_ms >= 0) {
      expired = t >= o->expire_timestamp_ms;
    } else {
      int64_t base = mode == 1 && g->state_timestamp_ms >= 0 ? g->state_timestamp_ms
                                                             : o->commit_timestamp_ms;
      expired = t - base >= c->cfg.offsets_retention_ms;
    }
    if (expired) all[nexpired++] = o;
  }
  bool dead = g->state == MK_GROUP_EMPTY && n == nexpired && !g->pending.count && !g->txn_offsets;
  if (nexpired || (dead && g->generation_id > 0)) {
    mk_log(MK_LOG_INFO, "broker", "group %s: %d offsets expired%s", g->group_id, nexpired,
           dead ? "; the group is gone" : "");
    int16_t rc = mk_group_write_tombstones(&c->mgr, g, (const struct mk_group_offset *const *)all,
                                           nexpired, dead && g->generation_id > 0);
    if (rc)
      mk_log(MK_LOG_WARN, "broker", "group %s: writing expiry tombstones failed: %s", g->group_id,
             mk_err_name(rc));
    for (int i = 0; i < nexpired; i++) mk_group_offset_remove(g, all[i]);
  }
  mk_arena_free(&arena);
  if (dead) {
    mk_group_transition_traced(c, g, MK_GROUP_DEAD, "its offsets expired");
    mk_group_metadata_manager_remove(&c->mgr, g);
  }
}
