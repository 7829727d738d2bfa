/*
 * The group's committed offsets, from the member's side: OffsetCommit and OffsetFetch.
 * Kafka: ConsumerCoordinator.java (commitOffsetsSync, sendOffsetCommitRequest and its
 * response handler; fetchCommittedOffsets, sendOffsetFetchRequest); the committed offsets
 * themselves live on the coordinator, as records of __consumer_offsets.
 *
 *   commit      offsets[i] for parts[i], with our generation and member id while we are in
 *               one (else -1 and "": a simple commit, which the coordinator accepts only
 *               from outside a live generation). Coordinator errors are retried, the
 *               coordinator found again; ILLEGAL_GENERATION and UNKNOWN_MEMBER_ID mean the
 *               group has moved on without us: the commit fails and we join again
 *   fetch       the committed offset of each partition (-1: none): what a partition new to
 *               us starts from. v0-7 ask for one group, v8+ for a list of groups; with
 *               read_committed, require_stable makes the coordinator answer
 *               UNSTABLE_OFFSET_COMMIT (retried) while a transaction's commit is pending
 *
 * Thread: app. The coordinator's shared state is read under cc->lock (consumer_coordinator.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer/consumer_coordinator.h"
#include "consumer/consumer_internal.h"
#include "protocol/api.h"
#include "protocol/messages/offset_commit.h"
#include "protocol/messages/offset_fetch.h"

static int64_t now_ms(void) { return mk_consumer_now_ms(); }

int mk_consumer_coordinator_commit(struct mk_consumer_coordinator *cc,
                                   const struct mk_topic_partition *parts, const int64_t *offsets,
                                   int n, int64_t deadline_ms, struct mk_err *err) {
  if (n <= 0) return 0;
  for (;;) {
    int rc = mk_coordinator_ensure(cc, deadline_ms, err);
    if (rc) return rc;
    struct mk_arena a;
    mk_arena_init(&a);
    struct mk_generation g = mk_coordinator_generation(cc);
    pthread_mutex_lock(&cc->lock);
    /* A member between generations commits as a non-member would (Kafka's coordinator
     * refuses a stale generation anyway). */
    bool stable = cc->state == MK_MEMBER_STABLE;
    pthread_mutex_unlock(&cc->lock);
    struct mk_err e = {0};
    int version = mk_coordinator_version(cc, MK_API_OFFSET_COMMIT, &e);
    if (version < 0 && (e.code == MK_ERR__STATE || e.code == MK_ERR_UNSUPPORTED_VERSION)) {
      mk_arena_free(&a);
      return mk_err_set(err, e.code, "%s", e.msg);
    }
    struct mk_offset_commit_request req;
    mk_schema_set_defaults(&mk_offset_commit_request_schema, &req);
    req.group_id = mk_str_of(cc->cfg->group_id);
    req.generation_id_or_member_epoch = stable ? g.id : MK_NO_GENERATION;
    req.member_id = mk_str_of(stable ? g.member_id : "");
    if (version >= 7 && cc->cfg->group_instance_id && stable)
      req.group_instance_id = mk_str_of(cc->cfg->group_instance_id);
    req.retention_time_ms = -1;  /* the broker's offsets.retention.minutes */
    req.topics = mk_arena_alloc(&a, sizeof *req.topics * (size_t)n);
    if (!req.topics) {
      mk_arena_free(&a);
      return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
    }
    for (int i = 0; i < n; i++) {
      struct mk_offset_commit_request_topic *t = NULL;
      for (int32_t k = 0; k < req.topics_count && !t; k++)
        if (mk_str_eq(req.topics[k].name, parts[i].topic)) t = &req.topics[k];
      if (!t) {
        t = &req.topics[req.topics_count++];
        mk_schema_set_defaults(&mk_offset_commit_request_topic_schema, t);
        t->name = mk_str_of(parts[i].topic);
        t->partitions = mk_arena_alloc(&a, sizeof *t->partitions * (size_t)n);
        if (!t->partitions) {
          mk_arena_free(&a);
          return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
        }
      }
      struct mk_offset_commit_request_partition *p = &t->partitions[t->partitions_count++];
      mk_schema_set_defaults(&mk_offset_commit_request_partition_schema, p);
      p->partition_index = parts[i].partition;
      p->committed_offset = offsets[i];
      p->committed_leader_epoch = -1;
      p->commit_timestamp = -1;
      p->committed_metadata = mk_str_of("");
    }
    struct mk_offset_commit_response *resp = NULL;
    rc = version < 0 ? e.code
                     : mk_coordinator_call(cc, MK_API_OFFSET_COMMIT, &req, (void **)&resp, &a, 0, &e);
    if (rc == MK_ERR__STATE) {
      mk_arena_free(&a);
      return mk_err_set(err, rc, "%s", e.msg);
    }
    int code = 0;
    char where[300] = "";
    for (int32_t t = 0; !rc && t < resp->topics_count && !code; t++)
      for (int32_t k = 0; k < resp->topics[t].partitions_count && !code; k++)
        if ((code = resp->topics[t].partitions[k].error_code))
          snprintf(where, sizeof where, " (%.*s-%d)",
                   resp->topics[t].name.len > 0 ? (int)resp->topics[t].name.len : 0,
                   resp->topics[t].name.ptr ? resp->topics[t].name.ptr : "",
                   resp->topics[t].partitions[k].partition_index);
    mk_arena_free(&a);
    if (!rc && !code) return 0;
    if (rc) code = MK_ERR__TRANSPORT;
    bool retry = rc || code == MK_ERR_COORDINATOR_LOAD_IN_PROGRESS || mk_coordinator_moved(code) ||
                 code == MK_ERR_UNSTABLE_OFFSET_COMMIT;
    if (mk_coordinator_moved(code)) mk_coordinator_forget(cc, mk_err_name(code));
    if (retry) {
      if (now_ms() >= deadline_ms)
        return mk_err_set(err, MK_ERR__TIMED_OUT,
                          "offset commit for group '%s' did not "
                          "complete in time: %s",
                          cc->cfg->group_id, rc ? e.msg : mk_err_name(code));
      if (mk_consumer_sleep(cc->consumer, cc->cfg->retry_backoff_ms))
        return mk_err_set(err, MK_ERR__STATE, "woken up");
      continue;
    }
    pthread_mutex_lock(&cc->lock);
    bool unchanged = mk_coordinator_generation_unchanged_locked(cc, &g);
    if (code == MK_ERR_REBALANCE_IN_PROGRESS) {
      if (unchanged) mk_coordinator_rejoin_locked(cc, "the group is rebalancing: a commit was refused");
      pthread_mutex_unlock(&cc->lock);
      return mk_err_set(err, code, "Offset commit cannot be completed since the consumer member's "
                        "old generation is fenced by its group instance id, or the group is "
                        "rebalancing (REBALANCE_IN_PROGRESS); it will join again");
    }
    if (code == MK_ERR_UNKNOWN_MEMBER_ID || code == MK_ERR_ILLEGAL_GENERATION) {
      if (unchanged)
        mk_coordinator_reset_locked(cc,
                                code == MK_ERR_UNKNOWN_MEMBER_ID
                                    ? "encountered UNKNOWN_MEMBER_ID from OffsetCommit response"
                                    : "encountered ILLEGAL_GENERATION from OffsetCommit response",
                                code == MK_ERR_UNKNOWN_MEMBER_ID);
      pthread_mutex_unlock(&cc->lock);
      return mk_err_set(err, code, "Commit cannot be completed since the group has already "
                        "rebalanced and assigned the partitions to another member (%s)",
                        mk_err_name(code));
    }
    pthread_mutex_unlock(&cc->lock);
    return mk_err_set(err, code, "offset commit for group '%s' failed%s: %s", cc->cfg->group_id,
                      where, mk_err_name(code));
  }
}

/* One committed offset, as an OffsetFetch answer gives it (offset -1: none). */
typedef void (*committed_fn)(void *opaque, const char *topic, int32_t partition, int64_t offset);

/* OffsetFetch for parts (NULL: every partition the group has committed), retried until
 * deadline_ms; fn is called for each partition in the answer. Returns 0 or the error. */
static int offset_fetch(struct mk_consumer_coordinator *cc, const struct mk_topic_partition *parts,
                        int n, committed_fn fn, void *opaque, int64_t deadline_ms,
                        struct mk_err *err) {
  for (;;) {
    int rc = mk_coordinator_ensure(cc, deadline_ms, err);
    if (rc) return rc;
    int version = mk_coordinator_version(cc, MK_API_OFFSET_FETCH, err);
    if (version < 0) {
      if (err->code == MK_ERR__STATE || err->code == MK_ERR_UNSUPPORTED_VERSION) return err->code;
      if (now_ms() >= deadline_ms) return mk_err_set(err, MK_ERR__TIMED_OUT, "%s", err->msg);
      if (mk_consumer_sleep(cc->consumer, cc->cfg->retry_backoff_ms))
        return mk_err_set(err, MK_ERR__STATE, "woken up");
      continue;
    }
    if (!parts && version < 2)
      return mk_err_set(err, MK_ERR_UNSUPPORTED_VERSION, "listing every committed offset needs "
                        "OffsetFetch v2; the coordinator speaks v%d", version);
    struct mk_arena a;
    mk_arena_init(&a);
    struct mk_offset_fetch_request req;
    mk_schema_set_defaults(&mk_offset_fetch_request_schema, &req);
    /* The topics, in both layouts: v0-7 ask for one group, v8+ for a list of groups. */
    int cap = parts ? n : 1;
    struct mk_offset_fetch_request_topic *topics = mk_arena_alloc(&a, sizeof *topics * (size_t)cap);
    struct mk_offset_fetch_request_topics *gtopics =
        mk_arena_alloc(&a, sizeof *gtopics * (size_t)cap);
    struct mk_offset_fetch_request_group *group = mk_arena_alloc(&a, sizeof *group);
    int32_t *ids = mk_arena_alloc(&a, sizeof *ids * (size_t)cap);
    if (!topics || !gtopics || !group || !ids) {
      mk_arena_free(&a);
      return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
    }
    int nt = 0, used = 0;
    for (int i = 0; parts && i < n; i++) {
      bool seen = false;
      for (int t = 0; t < nt && !seen; t++) seen = mk_str_eq(topics[t].name, parts[i].topic);
      if (seen) continue;
      /* A topic's partition ids, one run of ids[]. */
      mk_schema_set_defaults(&mk_offset_fetch_request_topic_schema, &topics[nt]);
      topics[nt].name = mk_str_of(parts[i].topic);
      topics[nt].partition_indexes = ids + used;
      for (int j = i; j < n; j++)
        if (strcmp(parts[j].topic, parts[i].topic) == 0)
          ids[used + topics[nt].partition_indexes_count++] = parts[j].partition;
      used += topics[nt].partition_indexes_count;
      mk_schema_set_defaults(&mk_offset_fetch_request_topics_schema, &gtopics[nt]);
      gtopics[nt].name = topics[nt].name;
      gtopics[nt].partition_indexes = topics[nt].partition_indexes;
      gtopics[nt].partition_indexes_count = topics[nt].partition_indexes_count;
      nt++;
    }
    if (version < 8) {
      req.group_id = mk_str_of(cc->cfg->group_id);
      req.topics = parts ? topics : NULL;
      req.topics_count = parts ? nt : -1;  /* null: all of them */
    } else {
      mk_schema_set_defaults(&mk_offset_fetch_request_group_schema, group);
      group->group_id = mk_str_of(cc->cfg->group_id);
      group->member_id = (struct mk_str){NULL, -1};
      group->member_epoch = -1;
      group->topics = parts ? gtopics : NULL;
      group->topics_count = parts ? nt : -1;
      req.groups = group;
      req.groups_count = 1;
    }
    /* Offsets of a transaction still open are not stable; read_committed waits for them. */
    if (version >= 7) req.require_stable = cc->cfg->isolation_level == 1;
    struct mk_offset_fetch_response *resp = NULL;
    struct mk_err e = {0};
    rc = mk_coordinator_call(cc, MK_API_OFFSET_FETCH, &req, (void **)&resp, &a, 0, &e);
    if (rc == MK_ERR__STATE) {
      mk_arena_free(&a);
      return mk_err_set(err, rc, "%s", e.msg);
    }
    int code = rc ? MK_ERR__TRANSPORT : 0;
    if (!rc) {
      code = resp->error_code;
      /* v8+: the answer is per group */
      const struct mk_offset_fetch_response_group *rg =
          version >= 8 && resp->groups_count > 0 ? &resp->groups[0] : NULL;
      if (rg) code = rg->error_code;
      int32_t ntopics = rg ? rg->topics_count : resp->topics_count;
      /* First the errors that make us ask again; only then the answers. */
      for (int pass = 0; pass < 2 && !code; pass++) {
        for (int32_t t = 0; t < ntopics && !code; t++) {
          struct mk_str name = rg ? rg->topics[t].name : resp->topics[t].name;
          int32_t np = rg ? rg->topics[t].partitions_count : resp->topics[t].partitions_count;
          char topic[256];
          snprintf(topic, sizeof topic, "%.*s", name.len > 0 ? (int)name.len : 0,
                   name.ptr ? name.ptr : "");
          for (int32_t k = 0; k < np && !code; k++) {
            int32_t pi = rg ? rg->topics[t].partitions[k].partition_index
                            : resp->topics[t].partitions[k].partition_index;
            int64_t off = rg ? rg->topics[t].partitions[k].committed_offset
                             : resp->topics[t].partitions[k].committed_offset;
            int16_t pe = rg ? rg->topics[t].partitions[k].error_code
                            : resp->topics[t].partitions[k].error_code;
            if (pe && pe != MK_ERR_UNKNOWN_TOPIC_OR_PARTITION) code = pe;
            else if (pass == 1) fn(opaque, topic, pi, pe ? -1 : off);
          }
        }
      }
    }
    mk_arena_free(&a);
    if (!code) return 0;
    bool retry = code == MK_ERR__TRANSPORT || code == MK_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
                 mk_coordinator_moved(code) || code == MK_ERR_UNSTABLE_OFFSET_COMMIT;
    if (!retry)
      return mk_err_set(err, code, "OffsetFetch for group '%s' failed: %s", cc->cfg->group_id,
                        mk_err_name(code));
    if (mk_coordinator_moved(code)) mk_coordinator_forget(cc, mk_err_name(code));
    if (now_ms() >= deadline_ms)
      return mk_err_set(err, MK_ERR__TIMED_OUT, "the committed offsets of group '%s' were not "
                        "available in time: %s", cc->cfg->group_id,
                        code == MK_ERR__TRANSPORT ? e.msg : mk_err_name(code));
    if (mk_consumer_sleep(cc->consumer, cc->cfg->retry_backoff_ms))
      return mk_err_set(err, MK_ERR__STATE, "woken up");
  }
}

struct committed_into {
  const struct mk_topic_partition *parts;
  int n;
  int64_t *offsets;
};

static void committed_into(void *opaque, const char *topic, int32_t partition, int64_t offset) {
  struct committed_into *ci = opaque;
  for (int i = 0; i < ci->n; i++)
    if (ci->parts[i].partition == partition && strcmp(ci->parts[i].topic, topic) == 0)
      ci->offsets[i] = offset;
}

int mk_consumer_coordinator_fetch_committed(struct mk_consumer_coordinator *cc,
                                            const struct mk_topic_partition *parts, int n,
                                            int64_t *offsets, int64_t deadline_ms,
                                            struct mk_err *err) {
  for (int i = 0; i < n; i++) offsets[i] = -1;
  if (n <= 0) return 0;
  struct committed_into ci = {parts, n, offsets};
  return offset_fetch(cc, parts, n, committed_into, &ci, deadline_ms, err);
}

int mk_consumer_coordinator_fetch_all_committed(struct mk_consumer_coordinator *cc,
                                                void (*fn)(void *, const char *, int32_t, int64_t),
                                                void *opaque, int64_t deadline_ms,
                                                struct mk_err *err) {
  return offset_fetch(cc, NULL, 0, fn, opaque, deadline_ms, err);
}

int mk_consumer_coordinator_refresh_committed(struct mk_consumer_coordinator *cc,
                                              int64_t deadline_ms, struct mk_err *err) {
  struct mk_consumer *c = cc->consumer;
  int n = 0;
  for (int i = 0; i < c->subs.nparts; i++) n += c->subs.parts[i].state == MK_AWAIT_COMMITTED;
  if (!n) return 0;
  struct mk_topic_partition *parts = malloc(sizeof *parts * (size_t)n);
  int64_t *offsets = malloc(sizeof *offsets * (size_t)n);
  if (!parts || !offsets) {
    free(parts);
    free(offsets);
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  }
  int k = 0;
  for (int i = 0; i < c->subs.nparts; i++)
    if (c->subs.parts[i].state == MK_AWAIT_COMMITTED)
      parts[k++] = (struct mk_topic_partition){c->subs.parts[i].topic, c->subs.parts[i].partition};
  int rc = mk_consumer_coordinator_fetch_committed(cc, parts, n, offsets, deadline_ms, err);
  char missing[256] = "";
  for (int i = 0; !rc && i < n; i++) {
    struct mk_partition_state *p =
        mk_subscription_find(&c->subs, parts[i].topic, parts[i].partition);
    if (!p || p->state != MK_AWAIT_COMMITTED) continue;
    if (offsets[i] >= 0) {
      mk_subscription_seek(p, offsets[i]);
      continue;
    }
    if (c->cfg->auto_offset_reset == MK_OFFSET_RESET_NONE) {
      size_t used = strlen(missing);
      snprintf(missing + used, sizeof missing - used, "%s%s-%d", used ? ", " : "", p->topic,
               p->partition);
      continue;
    }
    mk_subscription_request_reset(p, c->cfg->auto_offset_reset == MK_OFFSET_RESET_EARLIEST
                                         ? MK_OFFSET_EARLIEST
                                         : MK_OFFSET_LATEST);
  }
  free(parts);
  free(offsets);
  if (!rc && missing[0])  /* NoOffsetForPartitionException */
    return mk_err_set(err, MK_ERR_OFFSET_OUT_OF_RANGE,
                      "Undefined offset with no reset policy for partitions: [%s]", missing);
  return rc;
}

