/*
 * Group coordinator: the classic protocol's state machine. See group_coordinator.h.
 *
 * The file follows a rebalance in order: validation shared by every API, then JoinGroup
 * (new members, existing members, static members), the end of the join phase, SyncGroup,
 * Heartbeat, LeaveGroup, the admin APIs, elections, and last the deadlines. Committed offsets
 * have a file of their own: offset_metadata_manager.c.
 */
#include "broker/group_coordinator.h"
#include "broker/group_coordinator_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/trace.h"
#include "protocol/consumer_protocol.h"
#include "protocol/errors.h"

int64_t mk_group_now(const struct mk_group_coordinator *c) { return c->rt.now_ms(c->rt.ctx); }

/* Make sure poll runs by `deadline`. */
static void schedule(struct mk_group_coordinator *c, int64_t deadline) {
  if (deadline >= 0 && (c->next_deadline_ms < 0 || deadline < c->next_deadline_ms))
    c->next_deadline_ms = deadline;
}

static struct mk_str str_or_null(const char *s) { return s ? mk_str_of(s) : MK_STR_NULL; }
static bool str_is(struct mk_str s, const char *c) { return c && mk_str_eq(s, c); }

/* ---- trace events ---------------------------------------------------------------------------- */

static void trace_rebalance(const struct mk_group *g, enum mk_group_state from,
                            const char *reason) {
  mk_log(MK_LOG_INFO, "broker", "group %s: %s -> %s, generation %d (%s)", g->group_id,
         mk_group_state_name(from), mk_group_state_name(g->state), g->generation_id, reason);
  if (!mk_trace_on()) return;
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", "rebalance");
  mk_trace_str(&ev, "group", g->group_id);
  mk_trace_str(&ev, "from", mk_group_state_name(from));
  mk_trace_str(&ev, "to", mk_group_state_name(g->state));
  mk_trace_int(&ev, "generation", g->generation_id);
  mk_trace_int(&ev, "members", g->nmembers);
  mk_trace_str(&ev, "reason", reason);
  mk_trace_end(&ev);
}

void mk_group_transition_traced(struct mk_group_coordinator *c, struct mk_group *g,
                                enum mk_group_state to, const char *reason) {
  enum mk_group_state from = g->state;
  mk_group_transition(g, to, mk_group_now(c));
  trace_rebalance(g, from, reason);
}

static void trace_member_expired(const struct mk_group *g, const char *member_id,
                                 int32_t timeout_ms, const char *reason) {
  mk_log(MK_LOG_INFO, "broker", "group %s: member %s removed (%s)", g->group_id, member_id, reason);
  if (!mk_trace_on()) return;
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", "member_expired");
  mk_trace_str(&ev, "group", g->group_id);
  mk_trace_str(&ev, "member_id", member_id);
  mk_trace_int(&ev, "timeout_ms", timeout_ms);
  mk_trace_str(&ev, "reason", reason);
  mk_trace_end(&ev);
}

/* ---- answering JoinGroup and SyncGroup ----------------------------------------------------- */

/* The group's state and the member's client id, when known: what the dashboard's replay
 * shows (broker/dashboard/README.md). */
static void trace_group_fields(struct mk_trace_event *ev, const struct mk_group *g,
                               struct mk_str member_id) {
  if (!g) return;
  mk_trace_str(ev, "state", mk_group_state_name(g->state));
  const struct mk_group_member *m = mk_group_find(g, member_id);
  if (m) mk_trace_str(ev, "client_id", m->client_id);
}

static void trace_join(const char *group, const struct mk_group *g,
                       const struct mk_join_group_response *r) {
  if (!mk_trace_on()) return;
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", "group_join");
  mk_trace_str(&ev, "group", group);
  mk_trace_strn(&ev, "member_id", r->member_id.ptr, r->member_id.len);
  mk_trace_int(&ev, "generation", r->generation_id);
  trace_group_fields(&ev, g, r->member_id);
  if (!r->error_code) {
    mk_trace_strn(&ev, "protocol", r->protocol_name.ptr, r->protocol_name.len);
    mk_trace_strn(&ev, "leader", r->leader.ptr, r->leader.len);
    mk_trace_bool(&ev, "is_leader", r->leader.len == r->member_id.len && r->leader.len >= 0 &&
                                        memcmp(r->leader.ptr, r->member_id.ptr,
                                               (size_t)r->leader.len) == 0);
    mk_trace_int(&ev, "members", r->members_count);
  } else {
    mk_trace_str(&ev, "error", mk_err_name(r->error_code));
  }
  mk_trace_end(&ev);
}

static void join_answer(const char *group, const struct mk_group *g, mk_join_callback *cb,
                        void *arg, const struct mk_join_group_response *r) {
  trace_join(group, g, r);
  cb(arg, r);
}

void mk_group_join_error_response(struct mk_join_group_response *r, struct mk_str member_id,
                                  int16_t error) {
  mk_schema_set_defaults(&mk_join_group_response_schema, r);
  r->error_code = error;
  r->generation_id = -1;
  r->protocol_type = MK_STR_NULL;
  r->protocol_name = MK_STR_NULL;
  r->leader = (struct mk_str){"", 0};
  r->member_id = member_id.len < 0 ? (struct mk_str){"", 0} : member_id;
}

static void join_error(struct mk_str group, const struct mk_group *g, mk_join_callback *cb,
                       void *arg, struct mk_str member_id, int16_t error) {
  struct mk_join_group_response r;
  mk_group_join_error_response(&r, member_id, error);
  char id[256];
  snprintf(id, sizeof id, "%.*s", group.len < 0 ? 0 : group.len, group.ptr ? group.ptr : "");
  join_answer(id, g, cb, arg, &r);
}

/* The group's current generation as a JoinGroup answer for member m: the member list only
 * for the leader (with_members), the leader id as given. */
static void join_result(struct mk_group *g, struct mk_group_member *m, bool with_members,
                        const char *leader, bool skip_assignment, bool invoke_parked,
                        mk_join_callback *cb, void *arg) {
  struct mk_join_group_response r;
  mk_schema_set_defaults(&mk_join_group_response_schema, &r);
  r.generation_id = g->generation_id;
  r.protocol_type = str_or_null(g->protocol_type);
  r.protocol_name = str_or_null(g->protocol_name);
  r.leader = leader ? mk_str_of(leader) : (struct mk_str){"", 0};
  r.skip_assignment = skip_assignment;
  r.member_id = mk_str_of(m->member_id);
  struct mk_join_group_response_member *members = NULL;
  if (with_members && g->nmembers > 0 &&
      (members = calloc((size_t)g->nmembers, sizeof *members))) {
    for (struct mk_group_member *o = g->members; o; o = o->next) {
      struct mk_join_group_response_member *out = &members[r.members_count++];
      mk_schema_set_defaults(&mk_join_group_response_member_schema, out);
      out->member_id = mk_str_of(o->member_id);
      out->group_instance_id = str_or_null(o->group_instance_id);
      const struct mk_group_protocol *p = mk_member_protocol(o, g->protocol_name);
      out->metadata = p ? (struct mk_bytes){p->metadata, p->metadata_len} : (struct mk_bytes){NULL, 0};
    }
    r.members = members;
  } else if (with_members && g->nmembers > 0) {
    r.error_code = MK_ERR_UNKNOWN_SERVER_ERROR;  /* out of memory */
  }
  trace_join(g->group_id, g, &r);
  if (invoke_parked)
    mk_group_invoke_join(g, m, &r);
  else
    cb(arg, &r);
  free(members);
}

static void trace_sync(const struct mk_group *g, const char *member_id,
                       const struct mk_sync_group_response *r) {
  if (!mk_trace_on()) return;
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", "group_sync");
  mk_trace_str(&ev, "group", g ? g->group_id : NULL);
  mk_trace_str(&ev, "member_id", member_id);
  if (g) mk_trace_int(&ev, "generation", g->generation_id);
  trace_group_fields(&ev, g, mk_str_of(member_id));
  if (r->error_code) {
    mk_trace_str(&ev, "error", mk_err_name(r->error_code));
  } else {
    mk_trace_int(&ev, "assignment_bytes", r->assignment.len < 0 ? 0 : r->assignment.len);
    /* A consumer's assignment, decoded: which partitions it now reads. */
    struct mk_arena arena;
    mk_arena_init(&arena);
    struct mk_consumer_protocol_assignment a;
    int version;
    if (g && g->protocol_type && strcmp(g->protocol_type, MK_CONSUMER_PROTOCOL_TYPE) == 0 &&
        mk_consumer_protocol_assignment_decode(r->assignment, &a, &version, &arena, NULL) == 0) {
      mk_trace_array_begin(&ev, "assignment");
      for (int32_t i = 0; i < a.assigned_partitions_count; i++) {
        const struct mk_consumer_protocol_assignment_topic_partition *tp = &a.assigned_partitions[i];
        mk_trace_object_begin(&ev, NULL);
        mk_trace_strn(&ev, "topic", tp->topic.ptr, tp->topic.len);
        mk_trace_array_begin(&ev, "partitions");
        for (int32_t j = 0; j < tp->partitions_count; j++) mk_trace_int(&ev, NULL, tp->partitions[j]);
        mk_trace_array_end(&ev);
        mk_trace_object_end(&ev);
      }
      mk_trace_array_end(&ev);
    }
    mk_arena_free(&arena);
  }
  mk_trace_end(&ev);
}

static void sync_error(mk_sync_callback *cb, void *arg, const struct mk_group *g,
                       struct mk_str member_id, int16_t error) {
  struct mk_sync_group_response r;
  mk_schema_set_defaults(&mk_sync_group_response_schema, &r);
  r.error_code = error;
  r.protocol_type = MK_STR_NULL;
  r.protocol_name = MK_STR_NULL;
  r.assignment = (struct mk_bytes){NULL, 0};
  char id[256];
  snprintf(id, sizeof id, "%.*s", member_id.len < 0 ? 0 : member_id.len,
           member_id.ptr ? member_id.ptr : "");
  trace_sync(g, id, &r);
  cb(arg, &r);
}

/* Answer m's parked SyncGroup: its assignment, or an error. Returns whether it was parked. */
static bool invoke_sync(struct mk_group *g, struct mk_group_member *m, int16_t error) {
  if (!mk_member_awaiting_sync(m)) return false;
  struct mk_sync_group_response r;
  mk_schema_set_defaults(&mk_sync_group_response_schema, &r);
  r.error_code = error;
  r.protocol_type = error ? MK_STR_NULL : str_or_null(g->protocol_type);
  r.protocol_name = error ? MK_STR_NULL : str_or_null(g->protocol_name);
  r.assignment = (struct mk_bytes){m->assignment, m->assignment_len};
  trace_sync(g, m->member_id, &r);
  return mk_group_invoke_sync(m, &r);
}

/* Answer m's parked JoinGroup with an error (member id as Kafka sends it back). */
static void invoke_join_error(struct mk_group *g, struct mk_group_member *m, const char *member_id,
                              int16_t error) {
  if (!mk_member_awaiting_join(m)) return;
  struct mk_join_group_response r;
  mk_group_join_error_response(&r, mk_str_of(member_id), error);
  trace_join(g->group_id, g, &r);
  mk_group_invoke_join(g, m, &r);
}

/* ---- shared checks ------------------------------------------------------------------------- */

/* Kafka's validateGroupStatus: a usable group id (empty allowed for the offset and admin
 * APIs, for old clients), and this broker coordinating the group's partition. */
int16_t mk_group_validate_status(const struct mk_group_coordinator *c,
                               const struct mk_group_context *ctx, struct mk_str group_id,
                               bool empty_ok) {
  if (group_id.len < 0 || (group_id.len == 0 && !empty_ok)) return MK_ERR_INVALID_GROUP_ID;
  int32_t p = mk_group_partition_for(group_id, c->mgr.nparts);
  if (c->mgr.parts[p].owner != ctx->broker_id) return MK_ERR_NOT_COORDINATOR;
  return 0;
}

/* Kafka's validateMember: a static member's instance id must map to this member id. */
int16_t mk_group_validate_member(const struct mk_group *g, struct mk_str member_id,
                               struct mk_str instance_id) {
  if (instance_id.len >= 0) {
    struct mk_group_member *s = mk_group_find_static(g, instance_id);
    if (!s) return MK_ERR_UNKNOWN_MEMBER_ID;
    if (!str_is(member_id, s->member_id)) {
      mk_log(MK_LOG_INFO, "broker", "group %s: member %.*s of static instance %.*s is fenced by "
             "member %s", g->group_id, member_id.len < 0 ? 0 : member_id.len, member_id.ptr,
             instance_id.len, instance_id.ptr, s->member_id);
      return MK_ERR_FENCED_INSTANCE_ID;
    }
  }
  return mk_group_find(g, member_id) ? 0 : MK_ERR_UNKNOWN_MEMBER_ID;
}

/* A group we created for a request and that ended up holding nothing is not kept (Kafka
 * keeps it until the next expiry check; we forget it at once so a storm of ids leaves no
 * trace). */
void mk_group_forget_if_empty(struct mk_group_coordinator *c, struct mk_group *g) {
  if (g->state == MK_GROUP_EMPTY && g->generation_id == 0 && !g->members &&
      g->pending.count == 0 && !mk_group_has_offsets(g))
    mk_group_metadata_manager_remove(&c->mgr, g);
}

/* Kafka's member id: client id (or group.instance.id), "-", a random UUID. */
static void new_member_id(struct mk_group_coordinator *c, const char *prefix, int prefix_len,
                          char *out, size_t len) {
  uint8_t b[16];
  for (int i = 0; i < 16; i += 8) {
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    memcpy(b + i, &c->rng, 8);
  }
  b[6] = (uint8_t)((b[6] & 0x0F) | 0x40);  /* version 4 */
  b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);  /* IETF variant */
  snprintf(out, len, "%.*s-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
           prefix_len, prefix, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
           b[11], b[12], b[13], b[14], b[15]);
}

/* ---- heartbeats and removal --------------------------------------------------------------- */

/* Kafka's rescheduleClassicGroupMemberHeartbeat: the session starts over from now. */
void mk_group_reschedule_heartbeat(struct mk_group_coordinator *c, struct mk_group_member *m,
                                 int64_t timeout_ms) {
  m->heartbeat_deadline_ms = mk_group_now(c) + timeout_ms;
  schedule(c, m->heartbeat_deadline_ms);
}

/* Take m out of the group, answering whatever it has parked: UNKNOWN_MEMBER_ID (a parked
 * JoinGroup: a new member timed out, and may simply rejoin; a parked SyncGroup: Kafka would
 * leave it to the client's request timeout, we answer). */
static void drop_member(struct mk_group *g, struct mk_group_member *m) {
  invoke_join_error(g, m, "", MK_ERR_UNKNOWN_MEMBER_ID);
  invoke_sync(g, m, MK_ERR_UNKNOWN_MEMBER_ID);
  mk_group_remove(g, m);
}

static void complete_join(struct mk_group_coordinator *c, struct mk_group *g);

/* Kafka's maybeCompleteJoinPhase: not during the initial delay, only once all are in. */
static void maybe_complete_join_phase(struct mk_group_coordinator *c, struct mk_group *g) {
  if (g->state == MK_GROUP_PREPARING_REBALANCE && g->previous_state != MK_GROUP_EMPTY &&
      mk_group_all_members_joined(g))
    complete_join(c, g);
}

/* ---- rebalancing ----------------------------------------------------------------------------- */

static void propagate_assignment(struct mk_group_coordinator *c, struct mk_group *g, int16_t error) {
  for (struct mk_group_member *m = g->members; m; m = m->next) {
    if (!error && m->assignment_len == 0)
      mk_log(MK_LOG_WARN, "broker", "group %s generation %d: member %s gets an empty assignment",
             g->group_id, g->generation_id, m->member_id);
    /* The session starts over once a member has its answer: any deadline that passed while
     * it waited was ignored (it was waiting), and no other would follow. */
    if (invoke_sync(g, m, error)) mk_group_reschedule_heartbeat(c, m, m->session_timeout_ms);
  }
}

/* Every member's assignment cleared, every parked SyncGroup answered with error. */
static void reset_and_propagate_error(struct mk_group_coordinator *c, struct mk_group *g,
                                      int16_t error) {
  assert(g->state == MK_GROUP_COMPLETING_REBALANCE);
  for (struct mk_group_member *m = g->members; m; m = m->next)
    mk_group_member_set_assignment(g, m, NULL, 0);
  propagate_assignment(c, g, error);
}

static void clear_pending_sync(struct mk_group *g) {
  for (struct mk_group_member *m = g->members; m; m = m->next) m->pending_sync = false;
  g->num_pending_sync = 0;
  g->sync_deadline_ms = -1;
}

/* Kafka's prepareRebalance. */
static void prepare_rebalance(struct mk_group_coordinator *c, struct mk_group *g,
                              const char *reason) {
  if (g->state == MK_GROUP_COMPLETING_REBALANCE)
    reset_and_propagate_error(c, g, MK_ERR_REBALANCE_IN_PROGRESS);
  clear_pending_sync(g);
  bool initial = g->state == MK_GROUP_EMPTY;
  if (initial) {
    /* A new group waits a little for more members, so the first generation has them all
     * instead of rebalancing once per arrival. */
    int32_t delay = c->cfg.initial_rebalance_delay_ms;
    int32_t remaining = mk_group_rebalance_timeout_ms(g) - delay;
    g->join_initial = true;
    g->join_delay_ms = delay;
    g->join_remaining_ms = remaining > 0 ? remaining : 0;
    g->join_deadline_ms = mk_group_now(c) + delay;
    g->new_member_added = false;
    schedule(c, g->join_deadline_ms);
  }
  mk_group_transition_traced(c, g, MK_GROUP_PREPARING_REBALANCE, reason);
  if (initial) return;
  if (mk_group_all_members_joined(g)) {
    complete_join(c, g);
  } else {
    g->join_initial = false;
    g->join_deadline_ms = mk_group_now(c) + mk_group_rebalance_timeout_ms(g);
    schedule(c, g->join_deadline_ms);
  }
}

static void maybe_prepare_rebalance_or_complete_join(struct mk_group_coordinator *c,
                                                     struct mk_group *g, const char *reason) {
  if (mk_group_can_rebalance(g))
    prepare_rebalance(c, g, reason);
  else
    maybe_complete_join_phase(c, g);
}

static void log_empty_store(void *arg, int16_t error) {
  char *group = arg;
  if (error)
    mk_log(MK_LOG_WARN, "broker", "group %s: writing its empty metadata failed: %s", group,
           mk_err_name(error));
  free(group);
}

/* Kafka's completeClassicGroupJoin: the join phase is over. */
static void complete_join(struct mk_group_coordinator *c, struct mk_group *g) {
  g->join_deadline_ms = -1;
  g->join_initial = false;
  /* Dynamic members that did not rejoin are out; static ones keep their place. */
  for (struct mk_group_member *m = g->members, *next; m; m = next) {
    next = m->next;
    if (!mk_member_awaiting_join(m) && !m->group_instance_id) {
      trace_member_expired(g, m->member_id, mk_group_rebalance_timeout_ms(g),
                           "did not rejoin within the rebalance timeout");
      drop_member(g, m);
    }
  }
  if (g->state == MK_GROUP_DEAD) return;
  if (!mk_group_elect_joined_leader(g) && g->members) {
    /* Nobody rejoined: wait another rebalance timeout for the sessions to expire. */
    mk_log(MK_LOG_WARN, "broker", "group %s could not complete the rebalance: no member rejoined",
           g->group_id);
    g->join_deadline_ms = mk_group_now(c) + mk_group_rebalance_timeout_ms(g);
    schedule(c, g->join_deadline_ms);
    return;
  }
  enum mk_group_state from = g->state;
  mk_group_init_next_generation(g, mk_group_now(c));
  trace_rebalance(g, from, g->members ? "join phase over" : "join phase over, no member left");
  if (g->state == MK_GROUP_EMPTY) {
    char *id = strdup(g->group_id);
    int16_t rc = id ? mk_group_store_group(&c->mgr, g, NULL, log_empty_store, id)
                    : MK_ERR_UNKNOWN_SERVER_ERROR;
    if (rc) log_empty_store(id, rc);
    return;
  }
  for (struct mk_group_member *m = g->members; m; m = m->next) {
    bool leader = m == g->leader;
    if (mk_member_awaiting_join(m))
      join_result(g, m, leader, g->leader->member_id, false, true, NULL, NULL);
    mk_group_reschedule_heartbeat(c, m, m->session_timeout_ms);
    m->is_new = false;
    m->pending_sync = true;
    g->num_pending_sync++;
  }
  /* Kafka's DelayedSync: members that do not send SyncGroup in time are dropped. */
  g->sync_generation = g->generation_id;
  g->sync_deadline_ms = mk_group_now(c) + mk_group_rebalance_timeout_ms(g);
  schedule(c, g->sync_deadline_ms);
}

/* ---- JoinGroup ------------------------------------------------------------------------------ */

/* Kafka's acceptJoiningMember (group.max.size), plus minikafka's bound on what a group may
 * hold in memory (struct mk_group_config.max_group_bytes). */
static bool accept_joining_member(const struct mk_group_coordinator *c, const struct mk_group *g,
                                  struct mk_str member_id, int64_t extra_bytes) {
  if (g->bytes + extra_bytes > c->cfg.max_group_bytes) {
    mk_log(MK_LOG_WARN, "broker", "group %s: refusing a member: the group would hold %" PRId64
           " bytes of member metadata, more than one %s record may (%" PRId64 ")", g->group_id,
           g->bytes + extra_bytes, MK_CONSUMER_OFFSETS_TOPIC, c->cfg.max_group_bytes);
    return false;
  }
  const struct mk_group_member *m = mk_group_find(g, member_id);
  switch (g->state) {
    case MK_GROUP_EMPTY:
    case MK_GROUP_DEAD: return true;
    case MK_GROUP_PREPARING_REBALANCE:
      return (m && mk_member_awaiting_join(m)) || g->num_awaiting_join < c->cfg.max_size;
    case MK_GROUP_COMPLETING_REBALANCE:
    case MK_GROUP_STABLE: return m || g->nmembers < c->cfg.max_size;
  }
  return false;
}

static void add_member_and_rebalance(struct mk_group_coordinator *c,
                                     const struct mk_group_context *ctx, struct mk_group *g,
                                     const char *member_id, const struct mk_join_group_request *in,
                                     mk_join_callback *cb, void *arg) {
  struct mk_group_member *m = mk_group_member_new(
      mk_str_of(member_id), in->group_instance_id, ctx->client_id, ctx->client_host,
      in->rebalance_timeout_ms, in->session_timeout_ms, in->protocols, in->protocols_count);
  if (!m || mk_group_add(g, m, in->protocol_type, cb, arg)) {
    mk_group_member_free(m);
    join_error(mk_str_of(g->group_id), g, cb, arg, mk_str_of(member_id), MK_ERR_UNKNOWN_SERVER_ERROR);
    return;
  }
  m->is_new = true;
  if (g->state == MK_GROUP_PREPARING_REBALANCE && g->previous_state == MK_GROUP_EMPTY)
    g->new_member_added = true;  /* the initial delay may be extended */
  /* A new member cannot heartbeat before its JoinGroup is answered; if its client gave up
   * meanwhile, it would sit in every rebalance forever. So it has this long. */
  mk_group_reschedule_heartbeat(c, m, MK_GROUP_NEW_MEMBER_JOIN_TIMEOUT_MS);
  char reason[160];
  snprintf(reason, sizeof reason, "adding member %.100s", member_id);
  maybe_prepare_rebalance_or_complete_join(c, g, reason);
}

static void update_member_and_rebalance(struct mk_group_coordinator *c, struct mk_group *g,
                                        struct mk_group_member *m,
                                        const struct mk_join_group_request *in,
                                        const char *why, mk_join_callback *cb, void *arg) {
  if (mk_group_update_member(g, m, in->protocols, in->protocols_count, in->rebalance_timeout_ms,
                             in->session_timeout_ms, cb, arg)) {
    join_error(mk_str_of(g->group_id), g, cb, arg, in->member_id, MK_ERR_UNKNOWN_SERVER_ERROR);
    return;
  }
  char reason[200];
  snprintf(reason, sizeof reason, "%s %.100s", why, m->member_id);
  maybe_prepare_rebalance_or_complete_join(c, g, reason);
}

/* What a static member's JoinGroup in a Stable group waits for: the group's metadata with
 * its new member id, written. */
struct static_rejoin {
  struct mk_group_coordinator *c;
  uint64_t serial;
  char *group_id;
  char *old_member_id, *new_member_id;
  char *old_leader;       /* the leader id answered before v9 (see below) */
  bool skip_supported;    /* JoinGroup v9+ */
};

static void free_static_rejoin(struct static_rejoin *s) {
  free(s->group_id);
  free(s->old_member_id);
  free(s->new_member_id);
  free(s->old_leader);
  free(s);
}

static void static_rejoin_stored(void *arg, int16_t error) {
  struct static_rejoin *s = arg;
  struct mk_group_coordinator *c = s->c;
  struct mk_group *g = mk_group_metadata_manager_get(&c->mgr, mk_str_of(s->group_id));
  struct mk_group_member *m =
      g && g->serial == s->serial ? mk_group_find(g, mk_str_of(s->new_member_id)) : NULL;
  if (!m || !mk_member_awaiting_join(m)) {
    free_static_rejoin(s);  /* the group moved on (unloaded, rebalanced: answered there) */
    return;
  }
  if (error) {
    /* Not stored: the old member id stays the group's. (Kafka also restores the member's
     * old protocols and timeouts; we keep the new ones, which the next rebalance writes.) */
    mk_log(MK_LOG_WARN, "broker", "group %s: storing static member %s failed (%s); it keeps "
           "member id %s", g->group_id, s->new_member_id, mk_err_name(error), s->old_member_id);
    invoke_join_error(g, m, "", mk_group_append_error(error, false));
    if (mk_group_replace_member_id(g, m, s->old_member_id) == 0)
      mk_group_reschedule_heartbeat(c, m, m->session_timeout_ms);
  } else if (s->skip_supported) {
    /* v9+: the leader learns it leads, and that it need not assign (KIP-814). */
    bool leader = m == g->leader;
    join_result(g, m, leader, g->leader->member_id, leader, true, NULL, NULL);
  } else {
    /* Before v9 the old leader id is answered, so a rejoining leader does not think it must
     * assign (a Stable group would not pass a new assignment on). */
    join_result(g, m, false, s->old_leader, false, true, NULL, NULL);
  }
  free_static_rejoin(s);
}

/* Kafka's updateStaticMemberThenRebalanceOrCompleteJoin: a known group.instance.id joins
 * with an unknown member id (a restarted static member). */
static void update_static_member(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                                 struct mk_group *g, struct mk_group_member *m,
                                 const char *new_member_id, const struct mk_join_group_request *in,
                                 mk_join_callback *cb, void *arg) {
  char *old_leader = g->leader ? strdup(g->leader->member_id) : NULL;
  char *old_id = strdup(m->member_id);
  /* The old instance is fenced: whatever it has parked is answered now. */
  invoke_join_error(g, m, m->member_id, MK_ERR_FENCED_INSTANCE_ID);
  invoke_sync(g, m, MK_ERR_FENCED_INSTANCE_ID);
  if (!old_id || mk_group_replace_member_id(g, m, new_member_id) ||
      mk_group_update_member(g, m, in->protocols, in->protocols_count, in->rebalance_timeout_ms,
                             in->session_timeout_ms, cb, arg)) {
    free(old_leader);
    free(old_id);
    join_error(mk_str_of(g->group_id), g, cb, arg, MK_STR_NULL, MK_ERR_UNKNOWN_SERVER_ERROR);
    return;
  }
  mk_group_reschedule_heartbeat(c, m, m->session_timeout_ms);
  char reason[200];
  snprintf(reason, sizeof reason, "static member %.60s rejoined as %.100s", m->group_instance_id,
           new_member_id);
  if (g->state == MK_GROUP_STABLE) {
    const char *selected = mk_group_select_protocol(g);
    if (selected && g->protocol_name && strcmp(selected, g->protocol_name) == 0) {
      /* Same protocol: no rebalance, only the new member id is stored. */
      struct static_rejoin *s = calloc(1, sizeof *s);
      if (s) {
        s->c = c;
        s->serial = g->serial;
        s->group_id = strdup(g->group_id);
        s->old_member_id = old_id;
        s->new_member_id = strdup(new_member_id);
        s->old_leader = old_leader;
        s->skip_supported = ctx->api_version >= 9;
        old_id = old_leader = NULL;
      }
      int16_t rc = s && s->group_id && s->new_member_id
                       ? mk_group_store_group(&c->mgr, g, NULL, static_rejoin_stored, s)
                       : MK_ERR_UNKNOWN_SERVER_ERROR;
      if (rc) {
        if (s) static_rejoin_stored(s, rc);
        else invoke_join_error(g, m, "", rc);
      }
    } else {
      maybe_prepare_rebalance_or_complete_join(c, g, reason);
    }
  } else if (g->state == MK_GROUP_COMPLETING_REBALANCE) {
    /* The leader may be assigning to the old member id: start over. */
    prepare_rebalance(c, g, reason);
  } else {
    maybe_complete_join_phase(c, g);
  }
  free(old_leader);
  free(old_id);
}

static void new_member_join(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                            struct mk_group *g, const struct mk_join_group_request *in,
                            mk_join_callback *cb, void *arg) {
  struct mk_str gid = mk_str_of(g->group_id);
  if (g->state == MK_GROUP_DEAD) {
    join_error(gid, g, cb, arg, MK_STR_NULL, MK_ERR_COORDINATOR_NOT_AVAILABLE);
    return;
  }
  if (!mk_group_supports_protocols(g, in->protocol_type, in->protocols, in->protocols_count)) {
    join_error(gid, g, cb, arg, MK_STR_NULL, MK_ERR_INCONSISTENT_GROUP_PROTOCOL);
    return;
  }
  bool is_static = in->group_instance_id.len >= 0;
  struct mk_str prefix = is_static ? in->group_instance_id : ctx->client_id;
  char id[400];
  int prefix_len = prefix.len < 0 ? 0 : (prefix.len > 300 ? 300 : prefix.len);
  new_member_id(c, prefix.ptr ? prefix.ptr : "", prefix_len, id, sizeof id);
  if (is_static) {
    struct mk_group_member *existing = mk_group_find_static(g, in->group_instance_id);
    if (existing)
      update_static_member(c, ctx, g, existing, id, in, cb, arg);
    else
      add_member_and_rebalance(c, ctx, g, id, in, cb, arg);
  } else if (ctx->api_version >= 4) {
    /* KIP-394: the member learns its id first and joins with it, so a client that retries a
     * JoinGroup whose answer it lost does not leave a ghost member behind. */
    if (mk_group_add_pending(g, id, mk_group_now(c) + in->session_timeout_ms)) {
      join_error(gid, g, cb, arg, MK_STR_NULL, MK_ERR_UNKNOWN_SERVER_ERROR);
      return;
    }
    schedule(c, mk_group_now(c) + in->session_timeout_ms);
    join_error(gid, g, cb, arg, mk_str_of(id), MK_ERR_MEMBER_ID_REQUIRED);
  } else {
    add_member_and_rebalance(c, ctx, g, id, in, cb, arg);
  }
}

static void current_member_join(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                                struct mk_group *g, const struct mk_join_group_request *in,
                                mk_join_callback *cb, void *arg) {
  struct mk_str gid = mk_str_of(g->group_id), member_id = in->member_id;
  if (g->state == MK_GROUP_DEAD) {
    join_error(gid, g, cb, arg, member_id, MK_ERR_COORDINATOR_NOT_AVAILABLE);
    return;
  }
  if (!mk_group_supports_protocols(g, in->protocol_type, in->protocols, in->protocols_count)) {
    join_error(gid, g, cb, arg, member_id, MK_ERR_INCONSISTENT_GROUP_PROTOCOL);
    return;
  }
  if (mk_group_is_pending(g, member_id)) {
    /* Kafka: a pending id is never a static member's (it throws, UNKNOWN_SERVER_ERROR). */
    if (in->group_instance_id.len >= 0) {
      join_error(gid, g, cb, arg, member_id, MK_ERR_UNKNOWN_SERVER_ERROR);
      return;
    }
    char id[400];
    snprintf(id, sizeof id, "%.*s", member_id.len, member_id.ptr);
    add_member_and_rebalance(c, ctx, g, id, in, cb, arg);
    return;
  }
  int16_t err = mk_group_validate_member(g, member_id, in->group_instance_id);
  if (err) {
    join_error(gid, g, cb, arg, member_id, err);
    return;
  }
  struct mk_group_member *m = mk_group_find(g, member_id);
  if (mk_member_awaiting_join(m)) {
    /* The same member's JoinGroup again while the first is parked (Kafka overwrites the
     * callback and the first request never gets an answer): the first gets one now. */
    invoke_join_error(g, m, m->member_id, MK_ERR_REBALANCE_IN_PROGRESS);
  }
  switch (g->state) {
    case MK_GROUP_PREPARING_REBALANCE:
      update_member_and_rebalance(c, g, m, in, "member joining during PreparingRebalance:", cb, arg);
      return;
    case MK_GROUP_COMPLETING_REBALANCE:
      if (mk_group_member_matches(m, in->protocols, in->protocols_count))
        /* It lost the answer: the current generation again. */
        join_result(g, m, m == g->leader, g->leader->member_id, false, false, cb, arg);
      else
        update_member_and_rebalance(c, g, m, in, "metadata changed for member", cb, arg);
      return;
    case MK_GROUP_STABLE:
      if (m == g->leader)
        /* The leader asks for a rebalance (e.g. the topics it follows gained partitions). */
        update_member_and_rebalance(c, g, m, in, "the leader rejoined:", cb, arg);
      else if (!mk_group_member_matches(m, in->protocols, in->protocols_count))
        update_member_and_rebalance(c, g, m, in, "metadata changed for member", cb, arg);
      else
        join_result(g, m, false, g->leader->member_id, false, false, cb, arg);
      return;
    case MK_GROUP_EMPTY:
    case MK_GROUP_DEAD:
      join_error(gid, g, cb, arg, member_id, MK_ERR_UNKNOWN_MEMBER_ID);
      return;
  }
}

void mk_group_join(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                   const struct mk_join_group_request *in, mk_join_callback *cb, void *arg) {
  int16_t err = mk_group_validate_status(c, ctx, in->group_id, false);
  if (!err && (in->session_timeout_ms < c->cfg.min_session_timeout_ms ||
               in->session_timeout_ms > c->cfg.max_session_timeout_ms))
    err = MK_ERR_INVALID_SESSION_TIMEOUT;
  if (err) {
    join_error(in->group_id, NULL, cb, arg, in->member_id, err);
    return;
  }
  bool unknown = in->member_id.len <= 0;
  struct mk_group *g = mk_group_metadata_manager_get_or_create(&c->mgr, in->group_id, unknown);
  if (!g) {
    join_error(in->group_id, NULL, cb, arg, in->member_id,
               unknown ? MK_ERR_UNKNOWN_SERVER_ERROR : MK_ERR_UNKNOWN_MEMBER_ID);
    return;
  }
  if (!g->serial) g->serial = ++c->next_serial;
  struct mk_str own_id = unknown ? (struct mk_str){"", 0} : in->member_id;
  struct mk_str sized_id = unknown ? (struct mk_str){"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", 36}
                                   : in->member_id;
  int64_t size = mk_group_member_size(sized_id,
                                      in->group_instance_id, ctx->client_id, ctx->client_host,
                                      in->protocols, in->protocols_count);
  struct mk_group_member *existing = mk_group_find(g, own_id);
  if (existing) size -= existing->bytes;  /* its protocols are replaced, not added */
  if (!accept_joining_member(c, g, own_id, size)) {
    /* Kafka drops the refused member id: a pending one, or a member of a rebalancing group
     * that has not rejoined (it would be dropped at the end of the join phase anyway). */
    mk_group_remove_pending(g, own_id);
    if (existing && g->state == MK_GROUP_PREPARING_REBALANCE &&
        !mk_member_awaiting_join(existing) && !mk_member_awaiting_sync(existing))
      mk_group_remove(g, existing);
    join_error(in->group_id, g, cb, arg, MK_STR_NULL, MK_ERR_GROUP_MAX_SIZE_REACHED);
    maybe_complete_join_phase(c, g);
  } else if (unknown) {
    new_member_join(c, ctx, g, in, cb, arg);
  } else {
    current_member_join(c, ctx, g, in, cb, arg);
  }
  mk_group_forget_if_empty(c, g);
}

/* ---- SyncGroup ------------------------------------------------------------------------------ */

/* What the leader's SyncGroup waits for: the group's metadata, with the assignment, written. */
struct sync_store {
  struct mk_group_coordinator *c;
  uint64_t serial;
  char *group_id;
  int32_t generation;
  int n;
  char **member_ids;
  struct mk_bytes *assignments;  /* malloc'ed copies */
};

static void free_sync_store(struct sync_store *s) {
  for (int i = 0; i < s->n; i++) {
    free(s->member_ids[i]);
    free((void *)s->assignments[i].ptr);
  }
  free(s->member_ids);
  free(s->assignments);
  free(s->group_id);
  free(s);
}

int16_t mk_group_append_error(int16_t error, bool offsets) {
  switch (error) {
    case MK_ERR_UNKNOWN_TOPIC_OR_PARTITION:
    case MK_ERR_NOT_ENOUGH_REPLICAS:
    case MK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND: return MK_ERR_COORDINATOR_NOT_AVAILABLE;
    case MK_ERR_NOT_LEADER_OR_FOLLOWER:
    case MK_ERR_KAFKA_STORAGE_ERROR: return MK_ERR_NOT_COORDINATOR;
    case MK_ERR_REQUEST_TIMED_OUT: return offsets ? error : MK_ERR_REBALANCE_IN_PROGRESS;
    case MK_ERR_MESSAGE_TOO_LARGE:
    case MK_ERR_RECORD_LIST_TOO_LARGE:
    case MK_ERR_INVALID_FETCH_SIZE:
      return offsets ? MK_ERR_INVALID_COMMIT_OFFSET_SIZE : MK_ERR_UNKNOWN_SERVER_ERROR;
  }
  return error;
}

static void sync_stored(void *arg, int16_t error) {
  struct sync_store *s = arg;
  struct mk_group_coordinator *c = s->c;
  struct mk_group *g = mk_group_metadata_manager_get(&c->mgr, mk_str_of(s->group_id));
  /* Another member may have joined meanwhile: only the same generation, still completing,
   * takes this assignment. */
  if (g && g->serial == s->serial && g->state == MK_GROUP_COMPLETING_REBALANCE &&
      g->generation_id == s->generation) {
    if (error) {
      int16_t answer = mk_group_append_error(error, false);
      mk_log(MK_LOG_WARN, "broker", "group %s generation %d: storing the assignment failed: %s",
             g->group_id, g->generation_id, mk_err_name(error));
      reset_and_propagate_error(c, g, answer);
      char reason[120];
      snprintf(reason, sizeof reason, "storing the assignment failed: %s", mk_err_name(error));
      maybe_prepare_rebalance_or_complete_join(c, g, reason);
    } else {
      for (struct mk_group_member *m = g->members; m; m = m->next) {
        struct mk_bytes a = {NULL, 0};
        for (int i = 0; i < s->n; i++)
          if (strcmp(s->member_ids[i], m->member_id) == 0) a = s->assignments[i];
        if (mk_group_member_set_assignment(g, m, a.ptr, a.len))
          mk_log(MK_LOG_ERROR, "broker", "group %s: out of memory keeping an assignment",
                 g->group_id);
      }
      propagate_assignment(c, g, 0);
      mk_group_transition_traced(c, g, MK_GROUP_STABLE, "the leader's assignment is stored");
    }
  }
  free_sync_store(s);
}

/* The leader's assignment for every member (an empty one for those it left out), copied,
 * stored as the group's metadata. */
static void store_leader_assignment(struct mk_group_coordinator *c, struct mk_group *g,
                                    const struct mk_sync_group_request *in) {
  struct sync_store *s = calloc(1, sizeof *s);
  int n = g->nmembers;
  bool ok = s && (s->member_ids = calloc((size_t)n + 1, sizeof *s->member_ids)) &&
            (s->assignments = calloc((size_t)n + 1, sizeof *s->assignments)) &&
            (s->group_id = strdup(g->group_id));
  int i = 0;
  for (struct mk_group_member *m = g->members; ok && m; m = m->next, i++) {
    struct mk_bytes a = {NULL, 0};
    for (int32_t j = 0; j < in->assignments_count; j++)
      if (str_is(in->assignments[j].member_id, m->member_id)) a = in->assignments[j].assignment;
    if (a.len <= 0 && in->assignments_count > 0)
      mk_log(MK_LOG_WARN, "broker", "group %s generation %d: the leader gave member %s no "
             "assignment; it gets an empty one", g->group_id, g->generation_id, m->member_id);
    s->member_ids[i] = strdup(m->member_id);
    uint8_t *copy = a.len > 0 ? malloc((size_t)a.len) : NULL;
    if (copy) memcpy(copy, a.ptr, (size_t)a.len);
    s->assignments[i] = (struct mk_bytes){copy, a.len > 0 ? a.len : 0};
    s->n = i + 1;
    ok = s->member_ids[i] && (a.len <= 0 || copy);
  }
  if (!ok) {
    if (s) {
      s->c = c;
      s->serial = g->serial;
      s->generation = g->generation_id;
      if (!s->group_id) s->group_id = strdup(g->group_id);
      if (s->group_id) {
        sync_stored(s, MK_ERR_UNKNOWN_SERVER_ERROR);
        return;
      }
      free_sync_store(s);
    }
    reset_and_propagate_error(c, g, MK_ERR_UNKNOWN_SERVER_ERROR);
    return;
  }
  s->c = c;
  s->serial = g->serial;
  s->generation = g->generation_id;
  int16_t rc = mk_group_store_group(&c->mgr, g, s->assignments, sync_stored, s);
  if (rc) sync_stored(s, rc);
}

/* One member fewer to hear from in this generation's sync phase. */
static void remove_pending_sync(struct mk_group *g, struct mk_group_member *m) {
  if (m->pending_sync) {
    m->pending_sync = false;
    g->num_pending_sync--;
  }
  if (g->num_pending_sync == 0) g->sync_deadline_ms = -1;
}

void mk_group_sync(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                   const struct mk_sync_group_request *in, mk_sync_callback *cb, void *arg) {
  int16_t err = mk_group_validate_status(c, ctx, in->group_id, false);
  struct mk_group *g = err ? NULL : mk_group_metadata_manager_get(&c->mgr, in->group_id);
  if (!err && (!g || g->state == MK_GROUP_EMPTY)) err = MK_ERR_UNKNOWN_MEMBER_ID;
  if (!err && g->state == MK_GROUP_DEAD) err = MK_ERR_COORDINATOR_NOT_AVAILABLE;
  if (!err) err = mk_group_validate_member(g, in->member_id, in->group_instance_id);
  if (!err && in->generation_id != g->generation_id) err = MK_ERR_ILLEGAL_GENERATION;
  if (!err && ((in->protocol_type.len >= 0 && g->protocol_type &&
                !str_is(in->protocol_type, g->protocol_type)) ||
               (in->protocol_name.len >= 0 && g->protocol_name &&
                !str_is(in->protocol_name, g->protocol_name))))
    err = MK_ERR_INCONSISTENT_GROUP_PROTOCOL;
  if (!err && g->state == MK_GROUP_PREPARING_REBALANCE) err = MK_ERR_REBALANCE_IN_PROGRESS;
  if (err) {
    sync_error(cb, arg, g, in->member_id, err);
    return;
  }
  struct mk_group_member *m = mk_group_find(g, in->member_id);
  if (g->state == MK_GROUP_STABLE) {
    remove_pending_sync(g, m);
    struct mk_sync_group_response r;
    mk_schema_set_defaults(&mk_sync_group_response_schema, &r);
    r.protocol_type = str_or_null(g->protocol_type);
    r.protocol_name = str_or_null(g->protocol_name);
    r.assignment = (struct mk_bytes){m->assignment, m->assignment_len};
    trace_sync(g, m->member_id, &r);
    cb(arg, &r);
    return;
  }
  /* CompletingRebalance: park until the leader's assignment is stored. */
  if (mk_member_awaiting_sync(m)) invoke_sync(g, m, MK_ERR_REBALANCE_IN_PROGRESS);  /* a repeat */
  m->sync_cb = cb;
  m->sync_arg = arg;
  remove_pending_sync(g, m);
  if (m == g->leader) {
    mk_log(MK_LOG_INFO, "broker", "group %s generation %d: assignment received from leader %s "
           "for %d members", g->group_id, g->generation_id, m->member_id, g->nmembers);
    store_leader_assignment(c, g, in);
  }
}

/* ---- Heartbeat and LeaveGroup -------------------------------------------------------------- */

int16_t mk_group_heartbeat(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                           const struct mk_heartbeat_request *in) {
  int16_t err = mk_group_validate_status(c, ctx, in->group_id, false);
  if (err) return err;
  struct mk_group *g = mk_group_metadata_manager_get(&c->mgr, in->group_id);
  if (!g) return MK_ERR_UNKNOWN_MEMBER_ID;
  if (g->state == MK_GROUP_DEAD) return MK_ERR_COORDINATOR_NOT_AVAILABLE;
  if ((err = mk_group_validate_member(g, in->member_id, in->group_instance_id))) return err;
  if (in->generation_id != g->generation_id) return MK_ERR_ILLEGAL_GENERATION;
  struct mk_group_member *m = mk_group_find(g, in->member_id);
  switch (g->state) {
    case MK_GROUP_EMPTY: return MK_ERR_UNKNOWN_MEMBER_ID;
    case MK_GROUP_PREPARING_REBALANCE:
      mk_group_reschedule_heartbeat(c, m, m->session_timeout_ms);
      return MK_ERR_REBALANCE_IN_PROGRESS;
    default:
      /* CompletingRebalance counts too: a member heartbeats between JoinGroup and SyncGroup. */
      mk_group_reschedule_heartbeat(c, m, m->session_timeout_ms);
      return 0;
  }
}

int16_t mk_group_leave(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                       struct mk_str group_id, const struct mk_leave_group_member_identity *members,
                       int n, int16_t *errors) {
  int16_t err = mk_group_validate_status(c, ctx, group_id, false);
  if (err) return err;
  struct mk_group *g = mk_group_metadata_manager_get(&c->mgr, group_id);
  if (!g) return MK_ERR_UNKNOWN_MEMBER_ID;
  if (g->state == MK_GROUP_DEAD) return MK_ERR_COORDINATOR_NOT_AVAILABLE;
  int left = 0;
  for (int i = 0; i < n; i++) {
    const struct mk_leave_group_member_identity *who = &members[i];
    errors[i] = 0;
    struct mk_group_member *m = NULL;
    if (who->member_id.len <= 0) {
      /* An admin removing a static member by its group.instance.id alone. */
      m = mk_group_find_static(g, who->group_instance_id);
      if (!m) errors[i] = MK_ERR_UNKNOWN_MEMBER_ID;
    } else if (mk_group_is_pending(g, who->member_id)) {
      mk_group_remove_pending(g, who->member_id);
      left++;
      continue;
    } else if (!(errors[i] = mk_group_validate_member(g, who->member_id, who->group_instance_id))) {
      m = mk_group_find(g, who->member_id);
    }
    if (!m) continue;
    mk_log(MK_LOG_INFO, "broker", "group %s: member %s leaves (LeaveGroup; reason: %.*s)",
           g->group_id, m->member_id,
           who->reason.len > 0 ? (who->reason.len > 200 ? 200 : who->reason.len) : 12,
           who->reason.len > 0 ? who->reason.ptr : "not provided");
    drop_member(g, m);
    left++;
  }
  if (left) {
    if (g->state == MK_GROUP_STABLE || g->state == MK_GROUP_COMPLETING_REBALANCE)
      maybe_prepare_rebalance_or_complete_join(c, g, "members left (LeaveGroup)");
    else if (g->state == MK_GROUP_PREPARING_REBALANCE)
      maybe_complete_join_phase(c, g);
  }
  mk_group_forget_if_empty(c, g);
  return 0;
}

/* ---- DescribeGroups, ListGroups, DeleteGroups -------------------------------------------- */

void mk_group_describe(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                       struct mk_str group_id, struct mk_describe_groups_described_group *out,
                       struct mk_arena *arena) {
  mk_schema_set_defaults(&mk_describe_groups_described_group_schema, out);
  out->group_id = group_id;
  out->group_state = (struct mk_str){"", 0};
  out->protocol_type = (struct mk_str){"", 0};
  out->protocol_data = (struct mk_str){"", 0};
  if ((out->error_code = mk_group_validate_status(c, ctx, group_id, true))) return;
  struct mk_group *g = mk_group_metadata_manager_get(&c->mgr, group_id);
  if (!g) {
    out->group_state = mk_str_of(mk_group_state_name(MK_GROUP_DEAD));
    return;
  }
  out->group_state = mk_str_of(mk_group_state_name(g->state));
  out->protocol_type = mk_str_of(g->protocol_type ? g->protocol_type : "");
  /* Only a Stable group's protocol and assignments are settled enough to show. */
  bool stable = g->state == MK_GROUP_STABLE;
  if (stable && g->protocol_name) out->protocol_data = mk_str_of(g->protocol_name);
  if (!g->nmembers) return;
  out->members = mk_arena_alloc(arena, sizeof *out->members * (size_t)g->nmembers);
  if (!out->members) {
    out->error_code = MK_ERR_UNKNOWN_SERVER_ERROR;
    return;
  }
  for (struct mk_group_member *m = g->members; m; m = m->next) {
    struct mk_describe_groups_described_group_member *o = &out->members[out->members_count++];
    mk_schema_set_defaults(&mk_describe_groups_described_group_member_schema, o);
    o->member_id = mk_str_of(m->member_id);
    o->group_instance_id = str_or_null(m->group_instance_id);
    o->client_id = mk_str_of(m->client_id);
    o->client_host = mk_str_of(m->client_host);
    o->member_metadata = (struct mk_bytes){NULL, 0};
    o->member_assignment = (struct mk_bytes){NULL, 0};
    if (stable) {
      const struct mk_group_protocol *p = mk_member_protocol(m, g->protocol_name);
      if (p) o->member_metadata = (struct mk_bytes){p->metadata, p->metadata_len};
      o->member_assignment = (struct mk_bytes){m->assignment, m->assignment_len};
    }
  }
}

/* A filter entry as Kafka compares it: trimmed, without case. */
static bool filter_matches(struct mk_str want, const char *have) {
  int32_t a = 0, b = want.len;
  while (a < b && (want.ptr[a] == ' ' || want.ptr[a] == '\t')) a++;
  while (b > a && (want.ptr[b - 1] == ' ' || want.ptr[b - 1] == '\t')) b--;
  return (size_t)(b - a) == strlen(have) && strncasecmp(want.ptr + a, have, (size_t)(b - a)) == 0;
}

static bool any_matches(const struct mk_str *filter, int32_t n, const char *have) {
  if (n <= 0) return true;
  for (int32_t i = 0; i < n; i++)
    if (filter[i].len >= 0 && filter_matches(filter[i], have)) return true;
  return false;
}

void mk_group_list(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                   const struct mk_str *states, int32_t nstates, const struct mk_str *types,
                   int32_t ntypes, struct mk_list_groups_response *out, struct mk_arena *arena) {
  int32_t n = 0;
  for (struct mk_group *g = c->mgr.list; g; g = g->next) n++;
  out->groups = n ? mk_arena_alloc(arena, sizeof *out->groups * (size_t)n) : NULL;
  out->groups_count = 0;
  if (n && !out->groups) {
    out->error_code = MK_ERR_UNKNOWN_SERVER_ERROR;
    return;
  }
  for (struct mk_group *g = c->mgr.list; g; g = g->next) {
    if (c->mgr.parts[g->partition].owner != ctx->broker_id || g->state == MK_GROUP_DEAD) continue;
    if (!any_matches(states, nstates, mk_group_state_name(g->state))) continue;
    if (!any_matches(types, ntypes, "classic")) continue;
    struct mk_list_groups_listed_group *o = &out->groups[out->groups_count++];
    mk_schema_set_defaults(&mk_list_groups_listed_group_schema, o);
    o->group_id = mk_str_of(g->group_id);
    o->protocol_type = mk_str_of(g->protocol_type ? g->protocol_type : "");
    o->group_state = mk_str_of(mk_group_state_name(g->state));
    o->group_type = mk_str_of("classic");
  }
}

int16_t mk_group_delete(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                        struct mk_str group_id) {
  int16_t err = mk_group_validate_status(c, ctx, group_id, true);
  if (err) return err;
  struct mk_group *g = mk_group_metadata_manager_get(&c->mgr, group_id);
  if (!g || g->state == MK_GROUP_DEAD) return MK_ERR_GROUP_ID_NOT_FOUND;
  if (g->state != MK_GROUP_EMPTY) return MK_ERR_NON_EMPTY_GROUP;
  mk_group_transition_traced(c, g, MK_GROUP_DEAD, "deleted (DeleteGroups)");
  struct mk_arena arena;
  mk_arena_init(&arena);
  int32_t n;
  const struct mk_group_offset **offsets =
      (const struct mk_group_offset **)mk_group_offsets_sorted(g, &arena, &n);
  int16_t rc = mk_group_write_tombstones(&c->mgr, g, offsets, n, true);
  if (rc)
    mk_log(MK_LOG_WARN, "broker", "group %s: writing its tombstones failed: %s (it is gone "
           "from this coordinator; a reload would bring it back)", g->group_id, mk_err_name(rc));
  mk_arena_free(&arena);
  mk_group_metadata_manager_remove(&c->mgr, g);
  return 0;
}

/* ---- partitions ---------------------------------------------------------------------------- */

void mk_group_coordinator_loaded(struct mk_group_coordinator *c, int32_t p, int32_t owner,
                                 int32_t leader_epoch) {
  c->mgr.parts[p].owner = owner;
  c->mgr.parts[p].leader_epoch = leader_epoch;
  int groups = 0;
  for (struct mk_group *g = c->mgr.list; g; g = g->next) {
    if (g->partition != p) continue;
    groups++;
    if (!g->serial) g->serial = ++c->next_serial;
    for (struct mk_group_member *m = g->members; m; m = m->next)
      mk_group_reschedule_heartbeat(c, m, m->session_timeout_ms);
    if (g->nmembers > c->cfg.max_size)
      prepare_rebalance(c, g, "loaded over group.max.size");
  }
  mk_log(MK_LOG_INFO, "broker", "%s-%d: broker %d coordinates its groups now (%d loaded, leader "
         "epoch %d)", MK_CONSUMER_OFFSETS_TOPIC, p, owner, groups, leader_epoch);
}

void mk_group_coordinator_unload(struct mk_group_coordinator *c, int32_t p) {
  struct mk_group *g = c->mgr.list, *next;
  int groups = 0;
  for (; g; g = next) {
    next = g->next;
    if (g->partition != p) continue;
    groups++;
    if (g->state != MK_GROUP_DEAD) mk_group_transition_traced(c, g, MK_GROUP_DEAD, "coordinator moved");
    for (struct mk_group_member *m = g->members; m; m = m->next) {
      invoke_join_error(g, m, m->member_id, MK_ERR_NOT_COORDINATOR);
      invoke_sync(g, m, MK_ERR_NOT_COORDINATOR);
    }
    mk_group_metadata_manager_remove(&c->mgr, g);
  }
  if (c->mgr.parts[p].owner >= 0)
    mk_log(MK_LOG_INFO, "broker", "%s-%d: broker %d no longer coordinates its groups (%d unloaded)",
           MK_CONSUMER_OFFSETS_TOPIC, p, c->mgr.parts[p].owner, groups);
  c->mgr.parts[p].owner = -1;
  c->mgr.parts[p].leader_epoch = -1;
}

int mk_group_coordinator_init(struct mk_group_coordinator *c, const struct mk_group_config *cfg,
                              const struct mk_group_runtime *rt) {
  memset(c, 0, sizeof *c);
  c->cfg = *cfg;
  c->rt = *rt;
  c->next_deadline_ms = -1;
  c->next_cleanup_ms = mk_group_now(c) + cfg->offsets_retention_check_interval_ms;
  c->rng = (uint64_t)mk_group_now(c) * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)c;
  if (!c->rng) c->rng = 1;
  return mk_group_metadata_manager_init(&c->mgr, &c->cfg, &c->rt);
}

void mk_group_coordinator_free(struct mk_group_coordinator *c) {
  for (struct mk_group *g = c->mgr.list; g; g = g->next)
    for (struct mk_group_member *m = g->members; m; m = m->next) {
      invoke_join_error(g, m, m->member_id, MK_ERR_COORDINATOR_NOT_AVAILABLE);
      invoke_sync(g, m, MK_ERR_COORDINATOR_NOT_AVAILABLE);
    }
  mk_group_metadata_manager_free(&c->mgr);
}

/* ---- deadlines ----------------------------------------------------------------------------- */

/* Kafka's tryCompleteInitialRebalanceElseSchedule and DelayedJoin's expiry. */
static void join_deadline(struct mk_group_coordinator *c, struct mk_group *g) {
  if (g->join_initial && g->new_member_added && g->join_remaining_ms != 0) {
    /* Someone arrived during the delay: wait once more, within the rebalance timeout. */
    int32_t delay = c->cfg.initial_rebalance_delay_ms < g->join_remaining_ms
                        ? c->cfg.initial_rebalance_delay_ms : g->join_remaining_ms;
    int32_t remaining = g->join_remaining_ms - g->join_delay_ms;
    g->new_member_added = false;
    g->join_delay_ms = delay;
    g->join_remaining_ms = remaining > 0 ? remaining : 0;
    g->join_deadline_ms = mk_group_now(c) + delay;
    schedule(c, g->join_deadline_ms);
    return;
  }
  complete_join(c, g);
}

/* Kafka's expirePendingSync: members that never sent SyncGroup are dropped. */
static void sync_deadline(struct mk_group_coordinator *c, struct mk_group *g) {
  g->sync_deadline_ms = -1;
  if (g->sync_generation != g->generation_id ||
      (g->state != MK_GROUP_COMPLETING_REBALANCE && g->state != MK_GROUP_STABLE) ||
      g->num_pending_sync == 0)
    return;
  for (struct mk_group_member *m = g->members, *next; m; m = next) {
    next = m->next;
    if (!m->pending_sync) continue;
    trace_member_expired(g, m->member_id, mk_group_rebalance_timeout_ms(g),
                         "no SyncGroup within the rebalance timeout");
    drop_member(g, m);
  }
  prepare_rebalance(c, g, "members did not send SyncGroup in time");
}

/* The first member whose session deadline has passed, or NULL. */
static struct mk_group_member *first_due_member(struct mk_group *g, int64_t t) {
  for (struct mk_group_member *m = g->members; m; m = m->next)
    if (m->heartbeat_deadline_ms >= 0 && m->heartbeat_deadline_ms <= t) return m;
  return NULL;
}

/* Kafka's expireClassicGroupMemberHeartbeat. */
static void heartbeat_deadline(struct mk_group_coordinator *c, struct mk_group *g,
                               struct mk_group_member *m) {
  m->heartbeat_deadline_ms = -1;
  if (g->state == MK_GROUP_DEAD || mk_member_has_satisfied_heartbeat(m)) return;
  const char *reason = m->is_new ? "its JoinGroup waited too long"
                                 : "no heartbeat within the session timeout";
  trace_member_expired(g, m->member_id, m->is_new ? MK_GROUP_NEW_MEMBER_JOIN_TIMEOUT_MS
                                                  : m->session_timeout_ms, reason);
  char why[200];
  snprintf(why, sizeof why, "member %.100s expired (%s)", m->member_id, reason);
  drop_member(g, m);
  if (g->state == MK_GROUP_STABLE || g->state == MK_GROUP_COMPLETING_REBALANCE)
    maybe_prepare_rebalance_or_complete_join(c, g, why);
  else if (g->state == MK_GROUP_PREPARING_REBALANCE && mk_group_all_members_joined(g))
    complete_join(c, g);
}

static void expire_pending(struct mk_group_coordinator *c, struct mk_group *g, int64_t t) {
  bool removed;
  do {
    removed = false;
    void *v;
    for (size_t i = 0; mk_str_map_next(&g->pending, &i, &v);) {
      struct mk_group_pending *p = v;
      if (p->deadline_ms > t) continue;
      trace_member_expired(g, p->member_id, -1, "a pending member id never joined");
      mk_group_remove_pending(g, mk_str_of(p->member_id));
      removed = true;
      break;  /* the map changed: walk again */
    }
  } while (removed);
  if (g->state == MK_GROUP_PREPARING_REBALANCE && mk_group_all_members_joined(g) &&
      g->previous_state != MK_GROUP_EMPTY)
    complete_join(c, g);
}

/* Every deadline of one group that has passed. */
static void poll_group(struct mk_group_coordinator *c, struct mk_group *g, int64_t t) {
  expire_pending(c, g, t);
  for (struct mk_group_member *m; (m = first_due_member(g, t));) heartbeat_deadline(c, g, m);
  if (g->join_deadline_ms >= 0 && g->join_deadline_ms <= t &&
      g->state == MK_GROUP_PREPARING_REBALANCE)
    join_deadline(c, g);
  if (g->sync_deadline_ms >= 0 && g->sync_deadline_ms <= t) sync_deadline(c, g);
}

static int64_t group_next_deadline(const struct mk_group *g) {
  int64_t next = -1;
#define EARLIER(d) \
  if ((d) >= 0 && (next < 0 || (d) < next)) next = (d)
  EARLIER(g->state == MK_GROUP_PREPARING_REBALANCE ? g->join_deadline_ms : -1);
  EARLIER(g->sync_deadline_ms);
  for (const struct mk_group_member *m = g->members; m; m = m->next) EARLIER(m->heartbeat_deadline_ms);
  void *v;
  for (size_t i = 0; mk_str_map_next(&g->pending, &i, &v);)
    EARLIER(((const struct mk_group_pending *)v)->deadline_ms);
#undef EARLIER
  return next;
}

void mk_group_coordinator_poll(struct mk_group_coordinator *c) {
  int64_t t = mk_group_now(c);
  if ((c->next_deadline_ms < 0 || t < c->next_deadline_ms) && t < c->next_cleanup_ms) return;
  bool cleanup = t >= c->next_cleanup_ms;
  if (cleanup) c->next_cleanup_ms = t + c->cfg.offsets_retention_check_interval_ms;
  c->next_deadline_ms = -1;
  for (struct mk_group *g = c->mgr.list, *next; g; g = next) {
    next = g->next;  /* only g itself may be removed below */
    poll_group(c, g, t);
    if (cleanup && c->mgr.parts[g->partition].owner >= 0 && g->state != MK_GROUP_DEAD)
      mk_group_expire_offsets(c, g, t);  /* offset_metadata_manager.c */
    else
      mk_group_forget_if_empty(c, g);
  }
  /* Deadlines set while acting were scheduled as they were set; add the rest. */
  for (struct mk_group *g = c->mgr.list; g; g = g->next) schedule(c, group_next_deadline(g));
}

int64_t mk_group_coordinator_next_deadline(const struct mk_group_coordinator *c) {
  if (c->next_deadline_ms < 0) return c->next_cleanup_ms;
  return c->next_deadline_ms < c->next_cleanup_ms ? c->next_deadline_ms : c->next_cleanup_ms;
}
