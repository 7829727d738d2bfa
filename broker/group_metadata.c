/*
 * Group metadata: the books of one classic group. See group_metadata.h.
 */
#include "broker/group_metadata.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/consumer_protocol.h"

static const char *const state_names[] = {
    [MK_GROUP_EMPTY] = "Empty",
    [MK_GROUP_PREPARING_REBALANCE] = "PreparingRebalance",
    [MK_GROUP_COMPLETING_REBALANCE] = "CompletingRebalance",
    [MK_GROUP_STABLE] = "Stable",
    [MK_GROUP_DEAD] = "Dead",
};
enum { NSTATES = sizeof state_names / sizeof state_names[0] };

const char *mk_group_state_name(enum mk_group_state s) { return state_names[s]; }

int mk_group_state_parse(struct mk_str s) {
  for (int i = 0; i < NSTATES; i++)
    if (s.len >= 0 && (size_t)s.len == strlen(state_names[i]) &&
        strncasecmp(s.ptr, state_names[i], (size_t)s.len) == 0)
      return i;
  return -1;
}

/* Per-protocol count of the members that support it (Kafka's supportedProtocols). */
struct mk_protocol_count {
  char *name;
  int count;
};

char *mk_group_copy_str(struct mk_str s, bool *ok) {
  if (s.len < 0) return NULL;
  char *p = malloc((size_t)s.len + 1);
  if (!p) {
    *ok = false;
    return NULL;
  }
  if (s.len) memcpy(p, s.ptr, (size_t)s.len);
  p[s.len] = '\0';
  return p;
}

static bool str_is(struct mk_str s, const char *c) { return c && mk_str_eq(s, c); }

/* ---- states ----------------------------------------------------------------------------- */

/* Kafka's validPreviousStates, one bit per state. */
static unsigned valid_previous(enum mk_group_state to) {
  switch (to) {
    case MK_GROUP_PREPARING_REBALANCE:
      return 1u << MK_GROUP_STABLE | 1u << MK_GROUP_COMPLETING_REBALANCE | 1u << MK_GROUP_EMPTY;
    case MK_GROUP_COMPLETING_REBALANCE: return 1u << MK_GROUP_PREPARING_REBALANCE;
    case MK_GROUP_STABLE: return 1u << MK_GROUP_COMPLETING_REBALANCE;
    case MK_GROUP_EMPTY: return 1u << MK_GROUP_PREPARING_REBALANCE;
    case MK_GROUP_DEAD: return ~0u;
  }
  return 0;
}

void mk_group_transition(struct mk_group *g, enum mk_group_state to, int64_t now_ms) {
  assert(valid_previous(to) & (1u << g->state));
  g->previous_state = g->state;
  g->state = to;
  g->state_timestamp_ms = now_ms;
}

bool mk_group_can_rebalance(const struct mk_group *g) {
  return valid_previous(MK_GROUP_PREPARING_REBALANCE) & (1u << g->state);
}

/* ---- groups and members ------------------------------------------------------------------- */

struct mk_group *mk_group_new(const char *group_id, int32_t partition, int64_t now_ms) {
  struct mk_group *g = calloc(1, sizeof *g);
  if (!g || !(g->group_id = strdup(group_id))) {
    free(g);
    return NULL;
  }
  g->partition = partition;
  g->state = g->previous_state = MK_GROUP_EMPTY;
  g->state_timestamp_ms = now_ms;
  g->join_deadline_ms = g->sync_deadline_ms = -1;
  mk_str_map_init(&g->member_map);
  mk_str_map_init(&g->static_map);
  mk_str_map_init(&g->pending);
  mk_str_map_init(&g->protocol_counts);
  mk_str_map_init(&g->offsets);
  return g;
}

static void free_subscribed(struct mk_group *g) {
  for (int i = 0; i < g->nsubscribed; i++) free(g->subscribed[i]);
  free(g->subscribed);
  g->subscribed = NULL;
  g->nsubscribed = 0;
}

static void free_offset(struct mk_group_offset *o) {
  free(o->key);
  free(o->metadata);
  free(o);
}

void mk_group_free(struct mk_group *g) {
  if (!g) return;
  while (g->members) {
    struct mk_group_member *m = g->members;
    assert(!m->join_cb && !m->sync_cb);
    g->members = m->next;
    mk_group_member_free(m);
  }
  void *v;
  for (size_t i = 0; mk_str_map_next(&g->pending, &i, &v);) {
    free(((struct mk_group_pending *)v)->member_id);
    free(v);
  }
  for (size_t i = 0; mk_str_map_next(&g->protocol_counts, &i, &v);) {
    free(((struct mk_protocol_count *)v)->name);
    free(v);
  }
  for (size_t i = 0; mk_str_map_next(&g->offsets, &i, &v);) free_offset(v);
  mk_group_txn_offsets_free(g->txn_offsets);
  mk_str_map_free(&g->member_map);
  mk_str_map_free(&g->static_map);
  mk_str_map_free(&g->pending);
  mk_str_map_free(&g->protocol_counts);
  mk_str_map_free(&g->offsets);
  free_subscribed(g);
  free(g->group_id);
  free(g->protocol_type);
  free(g->protocol_name);
  free(g);
}

struct mk_group_member *mk_group_find(const struct mk_group *g, struct mk_str member_id) {
  if (member_id.len < 0) return NULL;
  return mk_str_map_get(&g->member_map, member_id.ptr, (size_t)member_id.len);
}

struct mk_group_member *mk_group_find_static(const struct mk_group *g, struct mk_str instance_id) {
  if (instance_id.len < 0) return NULL;
  return mk_str_map_get(&g->static_map, instance_id.ptr, (size_t)instance_id.len);
}

bool mk_group_is_pending(const struct mk_group *g, struct mk_str member_id) {
  return member_id.len >= 0 &&
         mk_str_map_get(&g->pending, member_id.ptr, (size_t)member_id.len) != NULL;
}

static void free_protocols(struct mk_group_protocol *p, int n) {
  for (int i = 0; i < n; i++) {
    free(p[i].name);
    free(p[i].metadata);
  }
  free(p);
}

/* Copies of a JoinGroup's protocols; NULL (and *ok false) if out of memory. */
static struct mk_group_protocol *copy_protocols(const struct mk_join_group_request_protocol *in,
                                                int n, bool *ok) {
  struct mk_group_protocol *p = n > 0 ? calloc((size_t)n, sizeof *p) : NULL;
  if (n > 0 && !p) {
    *ok = false;
    return NULL;
  }
  for (int i = 0; i < n && *ok; i++) {
    p[i].name = mk_group_copy_str(in[i].name.len < 0 ? (struct mk_str){"", 0} : in[i].name, ok);
    int32_t len = in[i].metadata.len < 0 ? 0 : in[i].metadata.len;
    p[i].metadata_len = len;
    if (len && (p[i].metadata = malloc((size_t)len)))
      memcpy(p[i].metadata, in[i].metadata.ptr, (size_t)len);
    else if (len)
      *ok = false;
  }
  if (!*ok) {
    free_protocols(p, n);
    return NULL;
  }
  return p;
}

static int64_t protocols_size(const struct mk_join_group_request_protocol *in, int n) {
  int64_t bytes = 0;
  for (int i = 0; i < n; i++)
    bytes += (int64_t)sizeof(struct mk_group_protocol) + (in[i].name.len > 0 ? in[i].name.len : 0) +
             1 + (in[i].metadata.len > 0 ? in[i].metadata.len : 0);
  return bytes;
}

static int64_t str_size(struct mk_str s) { return s.len > 0 ? s.len + 1 : 1; }

int64_t mk_group_member_size(struct mk_str member_id, struct mk_str instance_id,
                             struct mk_str client_id, struct mk_str client_host,
                             const struct mk_join_group_request_protocol *protocols,
                             int nprotocols) {
  return (int64_t)sizeof(struct mk_group_member) + str_size(member_id) + str_size(instance_id) +
         str_size(client_id) + str_size(client_host) + protocols_size(protocols, nprotocols);
}

struct mk_group_member *mk_group_member_new(struct mk_str member_id, struct mk_str instance_id,
                                            struct mk_str client_id, struct mk_str client_host,
                                            int32_t rebalance_timeout_ms,
                                            int32_t session_timeout_ms,
                                            const struct mk_join_group_request_protocol *protocols,
                                            int nprotocols) {
  struct mk_group_member *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  bool ok = true;
  struct mk_str empty = {"", 0};
  m->member_id = mk_group_copy_str(member_id, &ok);
  m->group_instance_id = mk_group_copy_str(instance_id, &ok);
  m->client_id = mk_group_copy_str(client_id.len < 0 ? empty : client_id, &ok);
  m->client_host = mk_group_copy_str(client_host.len < 0 ? empty : client_host, &ok);
  m->protocols = copy_protocols(protocols, nprotocols, &ok);
  m->nprotocols = nprotocols;
  m->rebalance_timeout_ms = rebalance_timeout_ms;
  m->session_timeout_ms = session_timeout_ms;
  m->heartbeat_deadline_ms = -1;
  m->bytes = mk_group_member_size(member_id, instance_id, client_id, client_host, protocols,
                                  nprotocols);
  if (!ok || !m->member_id) {
    mk_group_member_free(m);
    return NULL;
  }
  return m;
}

void mk_group_member_free(struct mk_group_member *m) {
  if (!m) return;
  free(m->member_id);
  free(m->group_instance_id);
  free(m->client_id);
  free(m->client_host);
  free_protocols(m->protocols, m->nprotocols);
  free(m->assignment);
  free(m);
}

const struct mk_group_protocol *mk_member_protocol(const struct mk_group_member *m,
                                                   const char *name) {
  for (int i = 0; name && i < m->nprotocols; i++)
    if (strcmp(m->protocols[i].name, name) == 0) return &m->protocols[i];
  return NULL;
}

bool mk_member_has_satisfied_heartbeat(const struct mk_group_member *m) {
  return !m->is_new && (mk_member_awaiting_join(m) || mk_member_awaiting_sync(m));
}

bool mk_group_member_matches(const struct mk_group_member *m,
                             const struct mk_join_group_request_protocol *protocols, int n) {
  if (n != m->nprotocols) return false;
  for (int i = 0; i < n; i++) {
    const struct mk_group_protocol *p = &m->protocols[i];
    int32_t len = protocols[i].metadata.len < 0 ? 0 : protocols[i].metadata.len;
    if (!str_is(protocols[i].name, p->name) || len != p->metadata_len ||
        (len && memcmp(protocols[i].metadata.ptr, p->metadata, (size_t)len) != 0))
      return false;
  }
  return true;
}

/* ---- protocol counts ----------------------------------------------------------------------- */

/* Count m's protocols in (+1) or out (-1). Returns -1 if out of memory while counting in
 * (the counts are then rolled back). */
static int count_protocols(struct mk_group *g, const struct mk_group_member *m, int delta) {
  for (int i = 0; i < m->nprotocols; i++) {
    const char *name = m->protocols[i].name;
    struct mk_protocol_count *pc = mk_str_map_get(&g->protocol_counts, name, strlen(name));
    if (!pc) {
      if (delta < 0) continue;  /* cannot happen: it was counted in */
      pc = calloc(1, sizeof *pc);
      if (!pc || !(pc->name = strdup(name)) ||
          mk_str_map_put(&g->protocol_counts, pc->name, strlen(pc->name), pc)) {
        if (pc) free(pc->name);
        free(pc);
        for (int j = 0; j < i; j++) {  /* undo this member's earlier protocols */
          struct mk_protocol_count *u = mk_str_map_get(&g->protocol_counts, m->protocols[j].name,
                                                       strlen(m->protocols[j].name));
          if (u) u->count--;
        }
        return -1;
      }
    }
    pc->count += delta;
    if (pc->count <= 0) {
      mk_str_map_remove(&g->protocol_counts, pc->name, strlen(pc->name));
      free(pc->name);
      free(pc);
    }
  }
  return 0;
}

static int protocol_count(const struct mk_group *g, const char *name) {
  struct mk_protocol_count *pc = mk_str_map_get(&g->protocol_counts, name, strlen(name));
  return pc ? pc->count : 0;
}

bool mk_group_supports_protocols(const struct mk_group *g, struct mk_str protocol_type,
                                 const struct mk_join_group_request_protocol *protocols, int n) {
  if (g->state == MK_GROUP_EMPTY) return protocol_type.len > 0 && n > 0;
  if (!str_is(protocol_type, g->protocol_type)) return false;
  for (int i = 0; i < n; i++) {
    struct mk_str name = protocols[i].name;
    struct mk_protocol_count *pc =
        name.len >= 0 ? mk_str_map_get(&g->protocol_counts, name.ptr, (size_t)name.len) : NULL;
    if (pc && pc->count == g->nmembers) return true;
  }
  return false;
}

/* The member's vote: its most preferred protocol that every member supports. */
static const char *vote(const struct mk_group *g, const struct mk_group_member *m) {
  for (int i = 0; i < m->nprotocols; i++)
    if (protocol_count(g, m->protocols[i].name) == g->nmembers) return m->protocols[i].name;
  return NULL;
}

const char *mk_group_select_protocol(const struct mk_group *g) {
  const char *best = NULL;
  int best_votes = 0;
  for (const struct mk_group_member *m = g->members; m; m = m->next) {
    const char *candidate = vote(g, m);
    if (!candidate || (best && strcmp(candidate, best) == 0)) continue;
    int votes = 0;
    for (const struct mk_group_member *o = g->members; o; o = o->next) {
      const char *v = vote(g, o);
      votes += v && strcmp(v, candidate) == 0;
    }
    if (votes > best_votes) {
      best = candidate;
      best_votes = votes;
    }
  }
  return best;
}

/* ---- adding and removing ------------------------------------------------------------------- */

int mk_group_add(struct mk_group *g, struct mk_group_member *m, struct mk_str protocol_type,
                 mk_join_callback *join_cb, void *join_arg) {
  char *type = NULL;
  bool ok = true;
  if (!g->members && !(type = mk_group_copy_str(protocol_type.len < 0 ? (struct mk_str){"", 0}
                                                            : protocol_type, &ok)))
    return -1;
  if (mk_str_map_put(&g->member_map, m->member_id, strlen(m->member_id), m)) {
    free(type);
    return -1;
  }
  if (m->group_instance_id &&
      mk_str_map_put(&g->static_map, m->group_instance_id, strlen(m->group_instance_id), m)) {
    mk_str_map_remove(&g->member_map, m->member_id, strlen(m->member_id));
    free(type);
    return -1;
  }
  if (count_protocols(g, m, +1)) {
    mk_str_map_remove(&g->member_map, m->member_id, strlen(m->member_id));
    if (m->group_instance_id)
      mk_str_map_remove(&g->static_map, m->group_instance_id, strlen(m->group_instance_id));
    free(type);
    return -1;
  }
  if (type) {  /* the first member decides the group's protocol type */
    free(g->protocol_type);
    g->protocol_type = type;
  }
  m->prev = g->members_tail;
  m->next = NULL;
  if (g->members_tail)
    g->members_tail->next = m;
  else
    g->members = m;
  g->members_tail = m;
  g->nmembers++;
  g->bytes += m->bytes;
  if (!g->leader) g->leader = m;
  m->join_cb = join_cb;
  m->join_arg = join_arg;
  if (join_cb) g->num_awaiting_join++;
  mk_group_remove_pending(g, mk_str_of(m->member_id));
  return 0;
}

void mk_group_remove(struct mk_group *g, struct mk_group_member *m) {
  assert(!m->join_cb && !m->sync_cb);
  mk_str_map_remove(&g->member_map, m->member_id, strlen(m->member_id));
  if (m->group_instance_id)
    mk_str_map_remove(&g->static_map, m->group_instance_id, strlen(m->group_instance_id));
  count_protocols(g, m, -1);
  if (m->prev)
    m->prev->next = m->next;
  else
    g->members = m->next;
  if (m->next)
    m->next->prev = m->prev;
  else
    g->members_tail = m->prev;
  g->nmembers--;
  g->bytes -= m->bytes;
  if (m->pending_sync) g->num_pending_sync--;
  if (g->leader == m) g->leader = g->members;
  mk_group_remove_pending(g, mk_str_of(m->member_id));
  mk_group_member_free(m);
}

int mk_group_update_member(struct mk_group *g, struct mk_group_member *m,
                           const struct mk_join_group_request_protocol *protocols, int nprotocols,
                           int32_t rebalance_timeout_ms, int32_t session_timeout_ms,
                           mk_join_callback *join_cb, void *join_arg) {
  bool ok = true;
  struct mk_group_protocol *copy = copy_protocols(protocols, nprotocols, &ok);
  if (!ok) return -1;
  struct mk_group_protocol *old = m->protocols;
  int nold = m->nprotocols;
  count_protocols(g, m, -1);
  m->protocols = copy;
  m->nprotocols = nprotocols;
  if (count_protocols(g, m, +1)) {  /* back to the old protocols */
    m->protocols = old;
    m->nprotocols = nold;
    count_protocols(g, m, +1);
    free_protocols(copy, nprotocols);
    return -1;
  }
  int64_t old_bytes = m->bytes;
  m->bytes += protocols_size(protocols, nprotocols);
  for (int i = 0; i < nold; i++)
    m->bytes -= (int64_t)sizeof(struct mk_group_protocol) + (int64_t)strlen(old[i].name) + 1 +
                old[i].metadata_len;
  g->bytes += m->bytes - old_bytes;
  free_protocols(old, nold);
  m->rebalance_timeout_ms = rebalance_timeout_ms;
  m->session_timeout_ms = session_timeout_ms;
  if (join_cb && !m->join_cb) g->num_awaiting_join++;
  else if (!join_cb && m->join_cb) g->num_awaiting_join--;
  m->join_cb = join_cb;
  m->join_arg = join_arg;
  return 0;
}

int mk_group_replace_member_id(struct mk_group *g, struct mk_group_member *m,
                               const char *new_member_id) {
  char *id = strdup(new_member_id);
  if (!id) return -1;
  if (mk_str_map_put(&g->member_map, id, strlen(id), m)) {
    free(id);
    return -1;
  }
  mk_str_map_remove(&g->member_map, m->member_id, strlen(m->member_id));
  g->bytes += (int64_t)strlen(id) - (int64_t)strlen(m->member_id);
  m->bytes += (int64_t)strlen(id) - (int64_t)strlen(m->member_id);
  free(m->member_id);
  m->member_id = id;
  return 0;
}

int mk_group_add_pending(struct mk_group *g, const char *member_id, int64_t deadline_ms) {
  struct mk_group_pending *p = calloc(1, sizeof *p);
  if (!p || !(p->member_id = strdup(member_id))) {
    free(p);
    return -1;
  }
  p->deadline_ms = deadline_ms;
  if (mk_str_map_put(&g->pending, p->member_id, strlen(p->member_id), p)) {
    free(p->member_id);
    free(p);
    return -1;
  }
  g->bytes += (int64_t)(sizeof *p + strlen(member_id) + 1);
  return 0;
}

void mk_group_remove_pending(struct mk_group *g, struct mk_str member_id) {
  if (member_id.len < 0) return;
  struct mk_group_pending *p = mk_str_map_remove(&g->pending, member_id.ptr, (size_t)member_id.len);
  if (!p) return;
  g->bytes -= (int64_t)(sizeof *p + strlen(p->member_id) + 1);
  free(p->member_id);
  free(p);
}

bool mk_group_all_members_joined(const struct mk_group *g) {
  return g->nmembers == g->num_awaiting_join && g->pending.count == 0;
}

int32_t mk_group_rebalance_timeout_ms(const struct mk_group *g) {
  int32_t t = 0;
  for (const struct mk_group_member *m = g->members; m; m = m->next)
    if (m->rebalance_timeout_ms > t) t = m->rebalance_timeout_ms;
  return t;
}

bool mk_group_elect_joined_leader(struct mk_group *g) {
  if (!g->leader) return false;
  if (mk_member_awaiting_join(g->leader)) return true;
  for (struct mk_group_member *m = g->members; m; m = m->next) {
    if (mk_member_awaiting_join(m)) {
      g->leader = m;
      return true;
    }
  }
  return false;
}

/* ---- generations ------------------------------------------------------------------------- */

static bool has_topic(char **topics, int n, struct mk_str t) {
  for (int i = 0; i < n; i++)
    if (mk_str_eq(t, topics[i])) return true;
  return false;
}

void mk_group_compute_subscribed_topics(struct mk_group *g) {
  free_subscribed(g);
  g->subscribed_known = false;
  if (!g->protocol_type || strcmp(g->protocol_type, MK_CONSUMER_PROTOCOL_TYPE) != 0) return;
  if (!g->members) {
    g->subscribed_known = true;
    return;
  }
  if (!g->protocol_name) return;
  /* As Kafka: any member whose subscription cannot be read makes the set unknown. */
  for (const struct mk_group_member *m = g->members; m; m = m->next) {
    const struct mk_group_protocol *p = mk_member_protocol(m, g->protocol_name);
    struct mk_arena arena;
    mk_arena_init(&arena);
    struct mk_consumer_protocol_subscription sub;
    int version;
    int rc = p ? mk_consumer_protocol_subscription_decode(
                     (struct mk_bytes){p->metadata, p->metadata_len}, &sub, &version, &arena, NULL)
               : -1;
    for (int32_t i = 0; !rc && i < sub.topics_count; i++) {
      if (sub.topics[i].len < 0 || has_topic(g->subscribed, g->nsubscribed, sub.topics[i]))
        continue;
      bool ok = true;
      char **grown = realloc(g->subscribed, sizeof *grown * (size_t)(g->nsubscribed + 1));
      char *copy = grown ? mk_group_copy_str(sub.topics[i], &ok) : NULL;
      if (!grown || !copy) {
        if (grown) g->subscribed = grown;
        rc = -1;
        break;
      }
      g->subscribed = grown;
      g->subscribed[g->nsubscribed++] = copy;
    }
    mk_arena_free(&arena);
    if (rc) {
      free_subscribed(g);
      return;
    }
  }
  g->subscribed_known = true;
}

bool mk_group_is_subscribed(const struct mk_group *g, struct mk_str topic) {
  return !g->subscribed_known || has_topic(g->subscribed, g->nsubscribed, topic);
}

void mk_group_init_next_generation(struct mk_group *g, int64_t now_ms) {
  g->generation_id++;
  free(g->protocol_name);
  g->protocol_name = NULL;
  if (g->members) {
    const char *p = mk_group_select_protocol(g);
    g->protocol_name = p ? strdup(p) : NULL;
  }
  mk_group_compute_subscribed_topics(g);
  mk_group_transition(g, g->members ? MK_GROUP_COMPLETING_REBALANCE : MK_GROUP_EMPTY, now_ms);
  for (struct mk_group_member *m = g->members; m; m = m->next) m->pending_sync = false;
  g->num_pending_sync = 0;
}

bool mk_group_invoke_join(struct mk_group *g, struct mk_group_member *m,
                          const struct mk_join_group_response *resp) {
  if (!m->join_cb) return false;
  mk_join_callback *cb = m->join_cb;
  void *arg = m->join_arg;
  m->join_cb = NULL;
  m->join_arg = NULL;
  g->num_awaiting_join--;
  cb(arg, resp);
  return true;
}

bool mk_group_invoke_sync(struct mk_group_member *m, const struct mk_sync_group_response *resp) {
  if (!m->sync_cb) return false;
  mk_sync_callback *cb = m->sync_cb;
  void *arg = m->sync_arg;
  m->sync_cb = NULL;
  m->sync_arg = NULL;
  cb(arg, resp);
  return true;
}

int mk_group_member_set_assignment(struct mk_group *g, struct mk_group_member *m,
                                   const uint8_t *bytes, int32_t len) {
  uint8_t *copy = NULL;
  if (len > 0) {
    if (!(copy = malloc((size_t)len))) return -1;
    memcpy(copy, bytes, (size_t)len);
  } else {
    len = 0;
  }
  g->bytes += len - m->assignment_len;
  m->bytes += len - m->assignment_len;
  free(m->assignment);
  m->assignment = copy;
  m->assignment_len = len;
  return 0;
}

/* ---- offsets ------------------------------------------------------------------------------ */

/* topic, NUL, big-endian partition: a key no two topic-partitions share. out holds
 * topic.len + 5 bytes. */
static size_t offset_key(struct mk_str topic, int32_t partition, char *out) {
  size_t n = topic.len > 0 ? (size_t)topic.len : 0;
  if (n) memcpy(out, topic.ptr, n);
  out[n] = '\0';
  out[n + 1] = (char)((uint32_t)partition >> 24);
  out[n + 2] = (char)((uint32_t)partition >> 16);
  out[n + 3] = (char)((uint32_t)partition >> 8);
  out[n + 4] = (char)partition;
  return n + 5;
}

struct mk_group_offset *mk_group_offset(struct mk_group *g, struct mk_str topic,
                                        int32_t partition, bool create) {
  char small[300];
  size_t need = (topic.len > 0 ? (size_t)topic.len : 0) + 5;
  char *key = need <= sizeof small ? small : malloc(need);
  if (!key) return NULL;
  size_t len = offset_key(topic, partition, key);
  struct mk_group_offset *o = mk_str_map_get(&g->offsets, key, len);
  if (o || !create) {
    if (key != small) free(key);
    return o;
  }
  o = calloc(1, sizeof *o);
  if (o && key == small && (o->key = malloc(len))) memcpy(o->key, key, len);
  else if (o && key != small) o->key = key;
  if (!o || !o->key) {
    if (key != small) free(key);
    free(o);
    return NULL;
  }
  o->key_len = len;
  o->topic = o->key;
  o->partition = partition;
  o->leader_epoch = -1;
  o->expire_timestamp_ms = -1;
  o->record_offset = -1;
  if (mk_str_map_put(&g->offsets, o->key, len, o)) {
    free_offset(o);
    return NULL;
  }
  return o;
}

void mk_group_offset_remove(struct mk_group *g, struct mk_group_offset *o) {
  mk_str_map_remove(&g->offsets, o->key, o->key_len);
  free_offset(o);
}

bool mk_group_has_offsets(const struct mk_group *g) {
  return g->offsets.count > 0 || g->txn_offsets != NULL;
}

/* ---- transactions' offsets ------------------------------------------------------------------- */

static bool same_partition(const struct mk_group_txn_offset *o, struct mk_str topic,
                           int32_t partition) {
  return o->partition == partition && mk_str_eq(topic, o->topic);
}

void mk_group_txn_offsets_free(struct mk_group_txn_offset *list) {
  while (list) {
    struct mk_group_txn_offset *o = list;
    list = o->next;
    free(o->topic);
    free(o->metadata);
    free(o);
  }
}

int mk_group_add_txn_offset(struct mk_group *g, int64_t producer_id, struct mk_str topic,
                            int32_t partition, int64_t offset, int32_t leader_epoch,
                            struct mk_str metadata, int64_t commit_timestamp_ms, bool written) {
  bool ok = true;
  struct mk_group_txn_offset *o = calloc(1, sizeof *o);
  if (o) {
    o->topic = mk_group_copy_str(topic.len < 0 ? (struct mk_str){"", 0} : topic, &ok);
    o->metadata = mk_group_copy_str(metadata.len < 0 ? (struct mk_str){"", 0} : metadata, &ok);
  }
  if (!o || !ok) {
    if (o) {
      free(o->topic);
      free(o->metadata);
    }
    free(o);
    return -1;
  }
  o->producer_id = producer_id;
  o->partition = partition;
  o->offset = offset;
  o->leader_epoch = leader_epoch;
  o->commit_timestamp_ms = commit_timestamp_ms;
  o->written = written;
  /* Replace the producer's earlier stage of the same partition; keep arrival order. */
  struct mk_group_txn_offset **pp = &g->txn_offsets;
  while (*pp) {
    struct mk_group_txn_offset *old = *pp;
    if (old->producer_id == producer_id && same_partition(old, topic, partition)) {
      *pp = old->next;
      old->next = NULL;
      mk_group_txn_offsets_free(old);
    } else {
      pp = &old->next;
    }
  }
  *pp = o;
  return 0;
}

bool mk_group_has_txn_offset(const struct mk_group *g, struct mk_str topic, int32_t partition) {
  for (const struct mk_group_txn_offset *o = g->txn_offsets; o; o = o->next)
    if (same_partition(o, topic, partition)) return true;
  return false;
}

void mk_group_txn_offset_written(struct mk_group *g, int64_t producer_id, struct mk_str topic,
                                 int32_t partition, bool success) {
  for (struct mk_group_txn_offset **pp = &g->txn_offsets; *pp; pp = &(*pp)->next) {
    struct mk_group_txn_offset *o = *pp;
    if (o->producer_id != producer_id || o->written || !same_partition(o, topic, partition))
      continue;
    if (success) {
      o->written = true;
    } else {
      *pp = o->next;
      o->next = NULL;
      mk_group_txn_offsets_free(o);
    }
    return;
  }
}

struct mk_group_txn_offset *mk_group_take_txn_offsets(struct mk_group *g, int64_t producer_id) {
  struct mk_group_txn_offset *taken = NULL, **tail = &taken;
  struct mk_group_txn_offset **pp = &g->txn_offsets;
  while (*pp) {
    struct mk_group_txn_offset *o = *pp;
    if (o->producer_id == producer_id) {
      *pp = o->next;
      o->next = NULL;
      *tail = o;
      tail = &o->next;
    } else {
      pp = &o->next;
    }
  }
  return taken;
}

static int cmp_offsets(const void *a, const void *b) {
  const struct mk_group_offset *x = *(const struct mk_group_offset *const *)a;
  const struct mk_group_offset *y = *(const struct mk_group_offset *const *)b;
  int r = strcmp(x->topic, y->topic);
  return r ? r : (x->partition > y->partition) - (x->partition < y->partition);
}

struct mk_group_offset **mk_group_offsets_sorted(const struct mk_group *g, struct mk_arena *arena,
                                                 int32_t *n) {
  *n = 0;
  if (!g || !g->offsets.count) return NULL;
  struct mk_group_offset **all = mk_arena_alloc(arena, sizeof *all * g->offsets.count);
  if (!all) return NULL;
  void *v;
  for (size_t i = 0; mk_str_map_next(&g->offsets, &i, &v);) all[(*n)++] = v;
  qsort(all, (size_t)*n, sizeof *all, cmp_offsets);
  return all;
}
