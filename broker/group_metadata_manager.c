/*
 * Group metadata manager: the cache of groups, their records, and loading them back.
 * See group_metadata_manager.h.
 */
#include "broker/group_metadata_manager.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "protocol/errors.h"

void mk_group_config_init(struct mk_group_config *cfg) {
  cfg->min_session_timeout_ms = 6000;
  cfg->max_session_timeout_ms = 1800000;
  cfg->initial_rebalance_delay_ms = 3000;
  cfg->max_size = INT32_MAX;
  cfg->num_partitions = 50;
  cfg->offset_metadata_max_bytes = 4096;
  cfg->offsets_retention_ms = 7LL * 24 * 60 * 60 * 1000;
  cfg->offsets_retention_check_interval_ms = 600000;
  cfg->max_group_bytes = 1048588;
}

/* ---- which partition ------------------------------------------------------------------------ */

int32_t mk_group_partition_for(struct mk_str group_id, int32_t nparts) {
  return mk_coordinator_partition_for(group_id, nparts);
}

/* ---- the cache ------------------------------------------------------------------------------ */

int mk_group_metadata_manager_init(struct mk_group_metadata_manager *m,
                                   const struct mk_group_config *cfg,
                                   const struct mk_group_runtime *rt) {
  memset(m, 0, sizeof *m);
  m->cfg = cfg;
  m->rt = rt;
  m->nparts = cfg->num_partitions > 0 ? cfg->num_partitions : 1;
  m->parts = calloc((size_t)m->nparts, sizeof *m->parts);
  if (!m->parts) return MK_ERR__NO_MEMORY;
  for (int32_t i = 0; i < m->nparts; i++) m->parts[i].owner = m->parts[i].leader_epoch = -1;
  mk_str_map_init(&m->groups);
  return 0;
}

void mk_group_metadata_manager_free(struct mk_group_metadata_manager *m) {
  while (m->list) {
    struct mk_group *g = m->list;
    m->list = g->next;
    mk_group_free(g);
  }
  mk_str_map_free(&m->groups);
  free(m->parts);
  m->parts = NULL;
}

struct mk_group *mk_group_metadata_manager_get(const struct mk_group_metadata_manager *m,
                                               struct mk_str group_id) {
  if (group_id.len < 0) return NULL;
  return mk_str_map_get(&m->groups, group_id.ptr, (size_t)group_id.len);
}

struct mk_group *mk_group_metadata_manager_get_or_create(struct mk_group_metadata_manager *m,
                                                         struct mk_str group_id, bool create) {
  struct mk_group *g = mk_group_metadata_manager_get(m, group_id);
  if (g || !create || group_id.len < 0) return g;
  char *id = malloc((size_t)group_id.len + 1);
  if (!id) return NULL;
  memcpy(id, group_id.ptr, (size_t)group_id.len);
  id[group_id.len] = '\0';
  g = mk_group_new(id, mk_group_partition_for(group_id, m->nparts), m->rt->now_ms(m->rt->ctx));
  free(id);
  if (!g || mk_str_map_put(&m->groups, g->group_id, strlen(g->group_id), g)) {
    mk_group_free(g);
    return NULL;
  }
  g->next = m->list;
  m->list = g;
  return g;
}

void mk_group_metadata_manager_remove(struct mk_group_metadata_manager *m, struct mk_group *g) {
  mk_str_map_remove(&m->groups, g->group_id, strlen(g->group_id));
  for (struct mk_group **pp = &m->list; *pp; pp = &(*pp)->next) {
    if (*pp == g) {
      *pp = g->next;
      break;
    }
  }
  mk_group_free(g);
}

/* ---- records out ----------------------------------------------------------------------------- */

static struct mk_str str_or_null(const char *s) { return s ? mk_str_of(s) : MK_STR_NULL; }

int16_t mk_group_store_group(struct mk_group_metadata_manager *m, const struct mk_group *g,
                             const struct mk_bytes *assignments, mk_group_append_done *done,
                             void *arg) {
  struct mk_coordinator_record rec;
  mk_coordinator_record_init(&rec, MK_RECORD_GROUP_METADATA);
  rec.key.group_metadata.group = mk_str_of(g->group_id);
  struct mk_group_metadata_value *v = &rec.value.group_metadata;
  v->protocol_type = mk_str_of(g->protocol_type ? g->protocol_type : "");
  v->generation = g->generation_id;
  v->protocol = str_or_null(g->protocol_name);
  v->leader = str_or_null(g->leader ? g->leader->member_id : NULL);
  v->current_state_timestamp = g->state_timestamp_ms;
  struct mk_group_metadata_value_member_metadata *members = NULL;
  if (g->nmembers > 0) {
    members = calloc((size_t)g->nmembers, sizeof *members);
    if (!members) return MK_ERR_UNKNOWN_SERVER_ERROR;
  }
  int i = 0;
  for (const struct mk_group_member *mb = g->members; mb; mb = mb->next, i++) {
    struct mk_group_metadata_value_member_metadata *o = &members[i];
    mk_schema_set_defaults(&mk_group_metadata_value_member_metadata_schema, o);
    o->member_id = mk_str_of(mb->member_id);
    o->group_instance_id = str_or_null(mb->group_instance_id);
    o->client_id = mk_str_of(mb->client_id);
    o->client_host = mk_str_of(mb->client_host);
    o->rebalance_timeout = mb->rebalance_timeout_ms;
    o->session_timeout = mb->session_timeout_ms;
    const struct mk_group_protocol *p = mk_member_protocol(mb, g->protocol_name);
    o->subscription = p ? (struct mk_bytes){p->metadata, p->metadata_len} : (struct mk_bytes){NULL, 0};
    o->assignment = assignments ? assignments[i]
                                : (struct mk_bytes){mb->assignment, mb->assignment_len};
    if (o->assignment.len < 0) o->assignment = (struct mk_bytes){NULL, 0};
  }
  v->members = members;
  v->members_count = g->nmembers;
  int16_t rc = m->rt->append(m->rt->ctx, g->partition, &rec, 1, done, arg);
  free(members);
  return rc;
}

/* An OffsetCommit record for o (a tombstone when o is NULL). */
static void offset_record(struct mk_coordinator_record *rec, const char *group, struct mk_str topic,
                          int32_t partition, const struct mk_offset_commit *o) {
  mk_coordinator_record_init(rec, MK_RECORD_OFFSET_COMMIT);
  rec->key.offset_commit.group = mk_str_of(group);
  rec->key.offset_commit.topic = topic;
  rec->key.offset_commit.partition = partition;
  if (!o) {
    rec->tombstone = true;
    return;
  }
  struct mk_offset_commit_value *v = &rec->value.offset_commit;
  v->offset = o->offset;
  v->leader_epoch = o->leader_epoch;
  v->metadata = o->metadata.len < 0 ? (struct mk_str){"", 0} : o->metadata;
  v->commit_timestamp = o->commit_timestamp_ms;
  v->expire_timestamp = o->expire_timestamp_ms;
  /* Kafka writes version 1 (which has expire_timestamp) only for a commit that carries a
   * retention time of its own (OffsetCommit v2-v4), else the newest non-flexible one. */
  if (o->expire_timestamp_ms >= 0) rec->value_version = 1;
}

int16_t mk_group_store_offsets(struct mk_group_metadata_manager *m, struct mk_group *g,
                               const struct mk_offset_commit *offsets, int n,
                               mk_group_append_done *done, void *arg) {
  if (n <= 0) return 0;
  struct mk_coordinator_record *recs = calloc((size_t)n, sizeof *recs);
  if (!recs) return MK_ERR_UNKNOWN_SERVER_ERROR;
  for (int i = 0; i < n; i++)
    offset_record(&recs[i], g->group_id, offsets[i].topic, offsets[i].partition, &offsets[i]);
  /* Mark them pending first: they must count as pending the moment they are in the log. */
  int marked = 0;
  for (; marked < n; marked++) {
    struct mk_group_offset *o = mk_group_offset(g, offsets[marked].topic, offsets[marked].partition, true);
    if (!o) break;
    o->pending++;
  }
  int16_t rc = marked < n ? MK_ERR_UNKNOWN_SERVER_ERROR
                          : m->rt->append(m->rt->ctx, g->partition, recs, n, done, arg);
  free(recs);
  if (rc) mk_group_offsets_written(g, offsets, marked, false);
  return rc;
}

int16_t mk_group_store_txn_offsets(struct mk_group_metadata_manager *m, struct mk_group *g,
                                   int64_t producer_id, int16_t producer_epoch,
                                   const struct mk_offset_commit *offsets, int n,
                                   mk_group_append_done *done, void *arg) {
  if (n <= 0) return 0;
  if (!m->rt->append_txn) return MK_ERR_UNKNOWN_SERVER_ERROR;
  struct mk_coordinator_record *recs = calloc((size_t)n, sizeof *recs);
  if (!recs) return MK_ERR_UNKNOWN_SERVER_ERROR;
  for (int i = 0; i < n; i++)
    offset_record(&recs[i], g->group_id, offsets[i].topic, offsets[i].partition, &offsets[i]);
  /* Staged first (Kafka's prepareTxnOffsetCommit): require_stable must see them at once. */
  int staged = 0;
  for (; staged < n; staged++) {
    const struct mk_offset_commit *o = &offsets[staged];
    if (mk_group_add_txn_offset(g, producer_id, o->topic, o->partition, o->offset,
                                o->leader_epoch, o->metadata, o->commit_timestamp_ms, false))
      break;
  }
  int16_t rc = staged < n ? MK_ERR_UNKNOWN_SERVER_ERROR
                          : m->rt->append_txn(m->rt->ctx, g->partition, producer_id,
                                              producer_epoch, recs, n, done, arg);
  free(recs);
  if (rc)
    for (int i = 0; i < staged; i++)
      mk_group_txn_offset_written(g, producer_id, offsets[i].topic, offsets[i].partition, false);
  return rc;
}

/* A copy of s, "" for a null one; NULL if out of memory. */
static char *dup_mk_str(struct mk_str s) {
  bool ok = true;
  return mk_group_copy_str(s.len < 0 ? (struct mk_str){"", 0} : s, &ok);
}

/* Set o's committed value. Returns false if out of memory (o unchanged). */
static bool set_committed(struct mk_group_offset *o, int64_t offset, int32_t leader_epoch,
                          struct mk_str metadata, int64_t commit_ts, int64_t expire_ts) {
  char *md = dup_mk_str(metadata);
  if (!md) return false;
  free(o->metadata);
  o->metadata = md;
  o->committed = true;
  o->offset = offset;
  o->leader_epoch = leader_epoch;
  o->commit_timestamp_ms = commit_ts;
  o->expire_timestamp_ms = expire_ts;
  return true;
}

int mk_group_complete_txn_offsets(struct mk_group *g, int64_t producer_id, bool commit) {
  struct mk_group_txn_offset *list = mk_group_take_txn_offsets(g, producer_id);
  int n = 0;
  /* Kafka compares record offsets and keeps the later commit; minikafka keeps no record
   * offset for a plain commit made while the transaction was open, so the transaction's
   * offset wins: the one difference is a plain OffsetCommit racing a transactional one for
   * the same partition, which a transactional consumer never sends. */
  for (struct mk_group_txn_offset *t = commit ? list : NULL; t; t = t->next) {
    if (!t->written) continue;  /* its record never made it: nothing to commit */
    struct mk_group_offset *o = mk_group_offset(g, mk_str_of(t->topic), t->partition, true);
    if (o && set_committed(o, t->offset, t->leader_epoch, mk_str_of(t->metadata),
                           t->commit_timestamp_ms, -1))
      n++;
    else
      mk_log(MK_LOG_ERROR, "broker", "group %s: out of memory committing a transaction's offset",
             g->group_id);
  }
  mk_group_txn_offsets_free(list);
  return n;
}

void mk_group_offsets_written(struct mk_group *g, const struct mk_offset_commit *offsets, int n,
                              bool success) {
  for (int i = 0; i < n; i++) {
    const struct mk_offset_commit *c = &offsets[i];
    struct mk_group_offset *o = mk_group_offset(g, c->topic, c->partition, false);
    if (!o) continue;  /* deleted meanwhile (OffsetDelete, DeleteGroups) */
    if (o->pending > 0) o->pending--;
    if (success && !set_committed(o, c->offset, c->leader_epoch, c->metadata,
                                  c->commit_timestamp_ms, c->expire_timestamp_ms))
      mk_log(MK_LOG_ERROR, "broker", "group %s: out of memory recording a committed offset",
             g->group_id);
    if (!o->committed && !o->pending) mk_group_offset_remove(g, o);
  }
}

int16_t mk_group_write_tombstones(struct mk_group_metadata_manager *m, const struct mk_group *g,
                                  const struct mk_group_offset *const *offsets, int n,
                                  bool group_tombstone) {
  int total = n + (group_tombstone ? 1 : 0);
  if (total <= 0) return 0;
  struct mk_coordinator_record *recs = calloc((size_t)total, sizeof *recs);
  if (!recs) return MK_ERR_UNKNOWN_SERVER_ERROR;
  for (int i = 0; i < n; i++)
    offset_record(&recs[i], g->group_id, mk_str_of(offsets[i]->topic), offsets[i]->partition, NULL);
  if (group_tombstone) {
    mk_coordinator_record_init(&recs[n], MK_RECORD_GROUP_METADATA);
    recs[n].key.group_metadata.group = mk_str_of(g->group_id);
    recs[n].tombstone = true;
  }
  int16_t rc = m->rt->append(m->rt->ctx, g->partition, recs, total, NULL, NULL);
  free(recs);
  return rc;
}

/* ---- loading ------------------------------------------------------------------------------ */

void mk_group_load_begin(struct mk_group_metadata_manager *m, int32_t p) {
  for (struct mk_group *g = m->list; g; g = g->next)
    if (g->partition == p) g->loaded_metadata = false;
}

/* Replace g's membership by what a GroupMetadataValue says (Kafka's loadGroup: Empty without
 * members, Stable with). Returns false if out of memory. */
static bool apply_group_value(struct mk_group *g, const struct mk_group_metadata_value *v,
                              int64_t now_ms) {
  while (g->members) mk_group_remove(g, g->members);  /* a loading group parks nothing */
  free(g->protocol_type);
  free(g->protocol_name);
  g->protocol_type = v->protocol_type.len > 0 ? dup_mk_str(v->protocol_type) : NULL;
  g->protocol_name = v->protocol.len >= 0 ? dup_mk_str(v->protocol) : NULL;
  g->generation_id = v->generation;
  g->state = g->previous_state = v->members_count > 0 ? MK_GROUP_STABLE : MK_GROUP_EMPTY;
  g->state_timestamp_ms = v->current_state_timestamp >= 0 ? v->current_state_timestamp : now_ms;
  g->leader = NULL;
  for (int32_t i = 0; i < v->members_count; i++) {
    const struct mk_group_metadata_value_member_metadata *in = &v->members[i];
    /* The stored subscription is the metadata of the generation's protocol. */
    struct mk_join_group_request_protocol proto = {
        v->protocol.len >= 0 ? v->protocol : (struct mk_str){"", 0},
        in->subscription.len < 0 ? (struct mk_bytes){NULL, 0} : in->subscription};
    struct mk_group_member *mb = mk_group_member_new(in->member_id, in->group_instance_id,
                                                     in->client_id, in->client_host,
                                                     in->rebalance_timeout, in->session_timeout,
                                                     &proto, 1);
    if (!mb) return false;
    if (mk_group_find(g, in->member_id) ||
        (in->group_instance_id.len >= 0 && mk_group_find_static(g, in->group_instance_id))) {
      mk_group_member_free(mb);  /* a damaged record: keep the first */
      continue;
    }
    if (mk_group_add(g, mb, v->protocol_type, NULL, NULL)) {
      mk_group_member_free(mb);
      return false;
    }
    if (mk_group_member_set_assignment(g, mb, in->assignment.ptr, in->assignment.len)) return false;
  }
  if (v->leader.len >= 0) {
    struct mk_group_member *leader = mk_group_find(g, v->leader);
    if (leader) g->leader = leader;
  }
  mk_group_compute_subscribed_topics(g);
  return true;
}

void mk_group_load_record(struct mk_group_metadata_manager *m, int32_t p, int64_t offset,
                          struct mk_bytes key, struct mk_bytes value) {
  struct mk_arena arena;
  mk_arena_init(&arena);
  struct mk_err err = {0};
  struct mk_coordinator_record rec;
  int rc = mk_coordinator_record_decode(MK_CONSUMER_OFFSETS, key, value, &rec, &arena, &err);
  if (rc) {
    mk_log(MK_LOG_WARN, "broker", "%s-%d: skipping the record at offset %lld: %s",
           MK_CONSUMER_OFFSETS_TOPIC, p, (long long)offset, err.msg);
    mk_arena_free(&arena);
    return;
  }
  struct mk_str group_id = rec.type == MK_RECORD_OFFSET_COMMIT ? rec.key.offset_commit.group
                                                              : rec.key.group_metadata.group;
  int64_t now = m->rt->now_ms(m->rt->ctx);
  struct mk_group *g = mk_group_metadata_manager_get(m, group_id);
  if (g && g->partition != p) {
    /* A record in the wrong partition (written with another partition count): the group
     * belongs elsewhere; reading it here would fight over it. */
    mk_log(MK_LOG_WARN, "broker", "%s-%d: skipping the record at offset %lld: group %.*s "
           "belongs to partition %d", MK_CONSUMER_OFFSETS_TOPIC, p, (long long)offset,
           group_id.len, group_id.ptr, g->partition);
    mk_arena_free(&arena);
    return;
  }
  bool ok = true;
  if (rec.type == MK_RECORD_OFFSET_COMMIT) {
    const struct mk_offset_commit_key *k = &rec.key.offset_commit;
    if (rec.tombstone) {
      struct mk_group_offset *o = g ? mk_group_offset(g, k->topic, k->partition, false) : NULL;
      if (o) mk_group_offset_remove(g, o);
    } else {
      if (!g) {
        g = mk_group_metadata_manager_get_or_create(m, group_id, true);
        if (g) g->partition = p;
      }
      struct mk_group_offset *o = g ? mk_group_offset(g, k->topic, k->partition, true) : NULL;
      const struct mk_offset_commit_value *v = &rec.value.offset_commit;
      /* Version 1 always carries expire_timestamp; later versions never do. */
      int64_t expire = rec.value_version == 1 ? v->expire_timestamp : -1;
      ok = o && set_committed(o, v->offset, v->leader_epoch, v->metadata, v->commit_timestamp,
                              expire);
      if (ok) o->record_offset = offset;
    }
  } else {
    if (rec.tombstone) {
      if (g) {
        struct mk_group_metadata_value empty;
        mk_schema_set_defaults(&mk_group_metadata_value_schema, &empty);
        empty.protocol = MK_STR_NULL;
        ok = apply_group_value(g, &empty, now);
        g->generation_id = 0;
        g->loaded_metadata = false;
      }
    } else {
      if (!g) {
        g = mk_group_metadata_manager_get_or_create(m, group_id, true);
        if (g) g->partition = p;
      }
      ok = g && apply_group_value(g, &rec.value.group_metadata, now);
      if (g) g->loaded_metadata = true;
    }
  }
  if (!ok)
    mk_log(MK_LOG_ERROR, "broker", "%s-%d: out of memory loading the record at offset %lld",
           MK_CONSUMER_OFFSETS_TOPIC, p, (long long)offset);
  mk_arena_free(&arena);
}

void mk_group_load_txn_record(struct mk_group_metadata_manager *m, int32_t p, int64_t offset,
                              int64_t producer_id, struct mk_bytes key, struct mk_bytes value) {
  struct mk_arena arena;
  mk_arena_init(&arena);
  struct mk_err err = {0};
  struct mk_coordinator_record rec;
  int rc = mk_coordinator_record_decode(MK_CONSUMER_OFFSETS, key, value, &rec, &arena, &err);
  if (!rc && (rec.type != MK_RECORD_OFFSET_COMMIT || rec.tombstone))
    rc = mk_err_set(&err, MK_ERR__DECODE, "a transaction's record that is not an offset commit");
  struct mk_group *g = NULL;
  if (!rc) {
    const struct mk_offset_commit_key *k = &rec.key.offset_commit;
    g = mk_group_metadata_manager_get(m, k->group);
    if (g && g->partition != p) {  /* as mk_group_load_record: not this partition's group */
      rc = mk_err_set(&err, MK_ERR__DECODE, "group %.*s belongs to partition %d", k->group.len,
                      k->group.ptr, g->partition);
    } else if (!g) {
      g = mk_group_metadata_manager_get_or_create(m, k->group, true);
      if (g) g->partition = p;
    }
    const struct mk_offset_commit_value *v = &rec.value.offset_commit;
    if (!rc && (!g || mk_group_add_txn_offset(g, producer_id, k->topic, k->partition, v->offset,
                                              v->leader_epoch, v->metadata, v->commit_timestamp,
                                              true)))
      rc = mk_err_set(&err, MK_ERR__NO_MEMORY, "out of memory");
  }
  if (rc)
    mk_log(MK_LOG_WARN, "broker", "%s-%d: skipping the transactional record at offset %lld: %s",
           MK_CONSUMER_OFFSETS_TOPIC, p, (long long)offset, err.msg);
  mk_arena_free(&arena);
}

void mk_group_load_marker(struct mk_group_metadata_manager *m, int32_t p, int64_t producer_id,
                          bool commit) {
  for (struct mk_group *g = m->list; g; g = g->next)
    if (g->partition == p) mk_group_complete_txn_offsets(g, producer_id, commit);
}

void mk_group_load_end(struct mk_group_metadata_manager *m, int32_t p) {
  struct mk_group *g = m->list, *next;
  for (; g; g = next) {
    next = g->next;
    if (g->partition == p && !g->loaded_metadata && !g->members && !mk_group_has_offsets(g))
      mk_group_metadata_manager_remove(m, g);
  }
}
