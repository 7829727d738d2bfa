/*
 * ConsumerCoordinator: see consumer_coordinator.h for the member's states and the join.
 *
 * Every request here goes to the coordinator on cc->conn, a connection of the consumer's
 * client that is not any metadata node's (Java gives it node id MAX_VALUE - id), so a
 * JoinGroup never queues behind a Fetch to the same broker. The heartbeat thread has a
 * connection of its own (heartbeat.c).
 *
 * Locking: the fields the heartbeat thread shares are read and written under cc->lock,
 * never across a request; a handler that wants to change the membership after a request
 * first checks that the generation it sent is still the current one (Java's
 * generationUnchanged), since the heartbeat thread may have reset it meanwhile.
 */
#define _GNU_SOURCE  /* pipe2 */
#include "consumer/consumer_coordinator.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "consumer/consumer_internal.h"
#include "protocol/api.h"
#include "protocol/consumer_protocol.h"
#include "protocol/messages/heartbeat.h"
#include "protocol/messages/join_group.h"
#include "protocol/messages/leave_group.h"
#include "protocol/messages/sync_group.h"

/* Java's JoinGroup request timeout: the rebalance timeout plus this (JOIN_GROUP_TIMEOUT_LAPSE). */
enum { JOIN_GROUP_TIMEOUT_LAPSE_MS = 5000 };

static int64_t now_ms(void) { return mk_consumer_now_ms(); }

static void copy_str(char *dst, size_t size, struct mk_str s) {
  snprintf(dst, size, "%.*s", s.len > 0 ? (int)s.len : 0, s.ptr ? s.ptr : "");
}

/* s as a C string in a (a null string is ""); NULL when out of memory. */
static char *arena_str(struct mk_arena *a, struct mk_str s) {
  size_t n = s.len > 0 ? (size_t)s.len : 0;
  char *d = mk_arena_alloc(a, n + 1);
  if (d && n) memcpy(d, s.ptr, n);
  return d;
}

static int cmp_topic_partition(const void *a, const void *b) {
  const struct mk_topic_partition *x = a, *y = b;
  int c = strcmp(x->topic, y->topic);
  return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* ---- creating and freeing ------------------------------------------------------------- */

int mk_consumer_coordinator_init(struct mk_consumer_coordinator *cc, struct mk_consumer *c,
                                 struct mk_err *err) {
  memset(cc, 0, sizeof *cc);
  cc->consumer = c;
  cc->cfg = c->cfg;
  cc->conn_node = -1;
  cc->conn.fd = -1;
  cc->hb_conn.fd = -1;
  cc->generation = MK_NO_GENERATION;
  cc->state = MK_MEMBER_UNJOINED;
  cc->rejoin_needed = true;
  cc->next_auto_commit_ms = now_ms() + cc->cfg->auto_commit_interval_ms;
  if (pipe2(cc->hb_wake, O_NONBLOCK | O_CLOEXEC))
    return mk_err_set(err, MK_ERR__NO_MEMORY, "cannot create the heartbeat thread's pipe");
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);  /* the thread's waits follow mk_now_us */
  int rc = pthread_cond_init(&cc->wake, &ca);
  pthread_condattr_destroy(&ca);
  if (!rc && pthread_mutex_init(&cc->lock, NULL)) {
    pthread_cond_destroy(&cc->wake);
    rc = -1;
  }
  if (rc) {
    close(cc->hb_wake[0]);
    close(cc->hb_wake[1]);
    return mk_err_set(err, MK_ERR__NO_MEMORY, "cannot create the coordinator's lock");
  }
  mk_client_init(&cc->hb_client, cc->cfg->client_id);
  cc->hb_client.timeout_ms = cc->cfg->request_timeout_ms;
  cc->hb_client.wake_fd = cc->hb_wake[0];
  mk_heartbeat_init(&cc->heartbeat, cc->cfg->session_timeout_ms, cc->cfg->heartbeat_interval_ms,
                    cc->cfg->max_poll_interval_ms, cc->cfg->retry_backoff_ms, now_ms());
  return 0;
}

static void free_snapshot(struct mk_consumer_coordinator *cc) {
  for (int i = 0; i < cc->nsnapshot; i++) free(cc->snapshot[i].topic);
  free(cc->snapshot);
  cc->snapshot = NULL;
  cc->nsnapshot = 0;
}

/* The leader's record of the partition counts it assigned from (Java's assignmentSnapshot):
 * when metadata later says otherwise (partitions added, a topic created), it rebalances. */
static void take_snapshot(struct mk_consumer_coordinator *cc, const struct mk_assignor_topic *t,
                          int n) {
  free_snapshot(cc);
  cc->snapshot = calloc((size_t)(n ? n : 1), sizeof *cc->snapshot);
  for (int i = 0; cc->snapshot && i < n; i++) {
    if (!(cc->snapshot[i].topic = strdup(t[i].name))) break;
    cc->snapshot[i].partitions = t[i].partitions;
    cc->nsnapshot = i + 1;
  }
}

void mk_consumer_coordinator_free(struct mk_consumer_coordinator *cc) {
  mk_heartbeat_thread_stop(cc);
  mk_client_conn_close(&cc->conn);
  mk_client_conn_close(&cc->hb_conn);
  mk_client_free(&cc->hb_client);
  free_snapshot(cc);
  close(cc->hb_wake[0]);
  close(cc->hb_wake[1]);
  pthread_cond_destroy(&cc->wake);
  pthread_mutex_destroy(&cc->lock);
}

/* ---- membership bookkeeping (lock held) ----------------------------------------------------- */

void mk_coordinator_rejoin_locked(struct mk_consumer_coordinator *cc, const char *reason) {
  if (!cc->rejoin_needed || !cc->rejoin_reason[0])
    snprintf(cc->rejoin_reason, sizeof cc->rejoin_reason, "%s", reason);
  cc->rejoin_needed = true;
}

/* Java's resetStateAndRejoin: out of the generation; keep the member id unless told not to
 * (an ILLEGAL_GENERATION member id is still valid, and reusing it spares the coordinator
 * waiting for the old one). */
void mk_coordinator_reset_locked(struct mk_consumer_coordinator *cc, const char *reason,
                                    bool reset_member_id) {
  mk_log(MK_LOG_DEBUG, "consumer", "%s: resetting generation%s: %s", cc->cfg->group_id,
         reset_member_id ? " and member id" : "", reason);
  cc->state = MK_MEMBER_UNJOINED;
  cc->generation = MK_NO_GENERATION;
  cc->protocol[0] = '\0';
  cc->leader = false;
  if (reset_member_id) cc->member_id[0] = '\0';
  cc->hb_enabled = false;
  mk_coordinator_rejoin_locked(cc, reason);
  cc->join_prepared = false;
}

void mk_consumer_coordinator_mark_unknown(struct mk_consumer_coordinator *cc, const char *why) {
  if (!cc->coordinator_known) return;
  mk_log(MK_LOG_INFO, "consumer", "%s: group coordinator %s:%d (id %d) is unavailable or "
         "invalid (%s); will rediscover it", cc->cfg->group_id, cc->coordinator_host,
         cc->coordinator_port, cc->coordinator_node, why);
  cc->coordinator_known = false;
}

void mk_coordinator_forget(struct mk_consumer_coordinator *cc, const char *why) {
  pthread_mutex_lock(&cc->lock);
  mk_consumer_coordinator_mark_unknown(cc, why);
  pthread_mutex_unlock(&cc->lock);
  mk_client_conn_close(&cc->conn);
}

void mk_consumer_coordinator_request_rejoin(struct mk_consumer_coordinator *cc,
                                            const char *reason) {
  pthread_mutex_lock(&cc->lock);
  mk_coordinator_rejoin_locked(cc, reason);
  pthread_mutex_unlock(&cc->lock);
}

struct mk_generation mk_coordinator_generation(struct mk_consumer_coordinator *cc) {
  struct mk_generation g;
  pthread_mutex_lock(&cc->lock);
  g.id = cc->generation;
  snprintf(g.member_id, sizeof g.member_id, "%s", cc->member_id);
  pthread_mutex_unlock(&cc->lock);
  return g;
}

bool mk_coordinator_generation_unchanged_locked(struct mk_consumer_coordinator *cc,
                                        const struct mk_generation *g) {
  return cc->generation == g->id && strcmp(cc->member_id, g->member_id) == 0;
}

/* ---- finding the coordinator ---------------------------------------------------------------- */

/* Until deadline_ms: know the coordinator and have cc->conn point at it
 * (ensureCoordinatorReady). Returns 0, MK_ERR__TIMED_OUT, MK_ERR__STATE (woken), or a
 * fatal error. */
int mk_coordinator_ensure(struct mk_consumer_coordinator *cc, int64_t deadline_ms,
                              struct mk_err *err) {
  struct mk_consumer *c = cc->consumer;
  for (;;) {
    pthread_mutex_lock(&cc->lock);
    bool known = cc->coordinator_known;
    int32_t node = cc->coordinator_node;
    char host[256];
    snprintf(host, sizeof host, "%s", cc->coordinator_host);
    int port = cc->coordinator_port;
    pthread_mutex_unlock(&cc->lock);
    if (known) {
      if (cc->conn_node != node || strcmp(cc->conn.host, host) || cc->conn.port != port) {
        mk_client_conn_close(&cc->conn);
        mk_client_conn_init(&cc->conn, &c->client, INT32_MAX - node, host, port);
        cc->conn_node = node;
      }
      return 0;
    }
    struct mk_err e = {0};
    int rc = mk_client_find_coordinator(&c->client, cc->cfg->group_id, 0, &node, host, &port, &e);
    if (rc == MK_ERR__TRANSPORT || rc == MK_ERR__TIMED_OUT) {
      /* The bootstrap broker is gone: try the whole list again (and the others in it). */
      if (mk_consumer_rebootstrap(c, &e) == 0)
        rc = mk_client_find_coordinator(&c->client, cc->cfg->group_id, 0, &node, host, &port,
                                        &e);
    }
    if (!rc) {
      pthread_mutex_lock(&cc->lock);
      cc->coordinator_known = true;
      cc->coordinator_node = node;
      snprintf(cc->coordinator_host, sizeof cc->coordinator_host, "%s", host);
      cc->coordinator_port = port;
      cc->coordinator_epoch++;
      pthread_mutex_unlock(&cc->lock);
      mk_log(MK_LOG_DEBUG, "consumer", "%s: discovered group coordinator %s:%d (id %d)",
             cc->cfg->group_id, host, port, node);
      continue;
    }
    if (rc == MK_ERR__STATE) return mk_err_set(err, rc, "%s", e.msg);
    /* An answer that does not decode is logged and asked again, as a lost one would be. */
    if (rc != MK_ERR__TRANSPORT && rc != MK_ERR__TIMED_OUT && rc != MK_ERR__DECODE &&
        !mk_err_retriable(rc))
      return mk_err_set(err, rc, "%s", e.msg);
    mk_consumer_warn(c, "%s", e.msg);
    int64_t left = deadline_ms - now_ms();
    if (left <= 0)
      return mk_err_set(err, MK_ERR__TIMED_OUT, "no group coordinator for '%s' yet: %s",
                        cc->cfg->group_id, e.msg);
    if (mk_consumer_sleep(c, left < cc->cfg->retry_backoff_ms ? left : cc->cfg->retry_backoff_ms))
      return mk_err_set(err, MK_ERR__STATE, "woken up");
  }
}

/* Send body to the coordinator and wait for its answer (at most timeout_ms, or the
 * client's request.timeout.ms when 0). A transport failure forgets the coordinator.
 * Returns 0, MK_ERR__STATE (woken), or a transport error (err). */
int mk_coordinator_call(struct mk_consumer_coordinator *cc, int api_key, const void *body,
                            void **resp, struct mk_arena *a, int timeout_ms, struct mk_err *err) {
  struct mk_client *client = &cc->consumer->client;
  int saved = client->timeout_ms;
  if (timeout_ms > 0) client->timeout_ms = timeout_ms;
  int rc = mk_client_call(&cc->conn, api_key, body, resp, a, err);
  client->timeout_ms = saved;
  if (rc && rc != MK_ERR__STATE) {
    char why[200];
    snprintf(why, sizeof why, "%s", err->msg);
    mk_coordinator_forget(cc, why);
  }
  return rc;
}

/* The version cc->conn speaks for api_key (opening it if needed), or -1 with err set; a
 * connection that cannot open forgets the coordinator. */
int mk_coordinator_version(struct mk_consumer_coordinator *cc, int api_key,
                               struct mk_err *err) {
  int version = mk_client_version(&cc->conn, api_key, err);
  if (version < 0 && err->code != MK_ERR__STATE && err->code != MK_ERR_UNSUPPORTED_VERSION) {
    char why[200];
    snprintf(why, sizeof why, "%s", err->msg);
    mk_coordinator_forget(cc, why);
  }
  return version;
}

/* Errors after which a coordinator request is retried with the coordinator found again. */
bool mk_coordinator_moved(int code) {
  return code == MK_ERR_COORDINATOR_NOT_AVAILABLE || code == MK_ERR_NOT_COORDINATOR ||
         code == MK_ERR_REQUEST_TIMED_OUT;
}

/* ---- the subscription we offer --------------------------------------------------------------- */

/* ConsumerProtocol's subscription for our topics, at its newest version. */
static int subscription_bytes(struct mk_consumer_coordinator *cc, int32_t generation,
                              struct mk_writer *w, struct mk_arena *a, struct mk_err *err) {
  const struct mk_subscription_state *s = &cc->consumer->subs;
  struct mk_consumer_protocol_subscription sub;
  mk_schema_set_defaults(&mk_consumer_protocol_subscription_schema, &sub);
  sub.topics = mk_arena_alloc(a, sizeof *sub.topics * (size_t)(s->ntopics ? s->ntopics : 1));
  if (!sub.topics) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  for (int i = 0; i < s->ntopics; i++) sub.topics[i] = mk_str_of(s->topics[i]);
  sub.topics_count = s->ntopics;
  sub.user_data = (struct mk_bytes){NULL, -1};
  sub.owned_partitions_count = 0;  /* eager: everything was revoked before joining */
  sub.generation_id = generation;
  sub.rack_id = cc->cfg->client_rack && *cc->cfg->client_rack ? mk_str_of(cc->cfg->client_rack)
                                                              : (struct mk_str){NULL, -1};
  return mk_consumer_protocol_subscription_encode(&sub, MK_CONSUMER_PROTOCOL_VERSION, w, err);
}

/* ---- the leader's assignment ---------------------------------------------------------------- */

/* The assignor the coordinator chose (one we offered). */
static const struct mk_partition_assignor *chosen_assignor(struct mk_consumer_coordinator *cc,
                                                           const char *protocol) {
  for (int i = 0; i < cc->cfg->num_assignors; i++)
    if (strcmp(cc->cfg->assignors[i]->name, protocol) == 0) return cc->cfg->assignors[i];
  return NULL;
}

/* onLeaderElected: decode every member's subscription, learn the partition counts of all
 * their topics, run the assignor, and encode each member's share into *out (SyncGroup's
 * assignments, in a). Returns 0 or an error. */
static int perform_assignment(struct mk_consumer_coordinator *cc,
                              const struct mk_join_group_response *jr, const char *protocol,
                              struct mk_sync_group_request_assignment **out, struct mk_arena *a,
                              struct mk_err *err) {
  struct mk_consumer *c = cc->consumer;
  const struct mk_partition_assignor *assignor = chosen_assignor(cc, protocol);
  if (!assignor)
    return mk_err_set(err, MK_ERR_INCONSISTENT_GROUP_PROTOCOL,
                      "the coordinator chose assignor '%s', which we did not offer", protocol);
  int n = jr->members_count > 0 ? jr->members_count : 0;
  struct mk_assignor_member *members = mk_arena_alloc(a, sizeof *members * (size_t)(n ? n : 1));
  struct mk_consumer_protocol_subscription *subs =
      mk_arena_alloc(a, sizeof *subs * (size_t)(n ? n : 1));
  if (!members || !subs) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  int min_version = MK_CONSUMER_PROTOCOL_VERSION, total = 0;
  for (int i = 0; i < n; i++) {
    const struct mk_join_group_response_member *m = &jr->members[i];
    int version = 0;
    int rc = mk_consumer_protocol_subscription_decode(m->metadata, &subs[i], &version, a, err);
    if (rc)
      return mk_err_set(err, rc, "the subscription of member %.*s does not decode: %s",
                        m->member_id.len > 0 ? (int)m->member_id.len : 0,
                        m->member_id.ptr ? m->member_id.ptr : "", err->msg);
    if (version < min_version) min_version = version;
    if (subs[i].topics_count > 0) total += subs[i].topics_count;
  }
  /* Every topic any member subscribes to, once. */
  const char **all = mk_arena_alloc(a, sizeof *all * (size_t)(total ? total : 1));
  if (!all) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  int nall = 0;
  for (int i = 0; i < n; i++) {
    const struct mk_join_group_response_member *m = &jr->members[i];
    const struct mk_consumer_protocol_subscription *sub = &subs[i];
    int32_t nt = sub->topics_count > 0 ? sub->topics_count : 0;
    char *id = arena_str(a, m->member_id);
    char *instance = m->group_instance_id.len >= 0 ? arena_str(a, m->group_instance_id) : NULL;
    const char **topics = mk_arena_alloc(a, sizeof *topics * (size_t)(nt ? nt : 1));
    if (!id || !topics || (m->group_instance_id.len >= 0 && !instance))
      return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
    for (int32_t t = 0; t < nt; t++) {
      char *name = arena_str(a, sub->topics[t]);
      if (!name) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
      topics[t] = name;
      bool seen = false;
      for (int k = 0; k < nall && !seen; k++) seen = strcmp(all[k], name) == 0;
      if (!seen) all[nall++] = name;
    }
    members[i] = (struct mk_assignor_member){id, instance, topics, nt};
  }
  /* The leader needs the partition counts of every member's topics, not only its own. */
  int rc = mk_consumer_refresh_metadata(c, all, nall, err);
  if (rc) return rc;
  struct mk_assignor_topic *topics = mk_arena_alloc(a, sizeof *topics * (size_t)(nall ? nall : 1));
  if (!topics) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  for (int k = 0; k < nall; k++) {
    const struct mk_topic_metadata *tm = mk_consumer_topic(c, all[k]);
    topics[k] = (struct mk_assignor_topic){all[k], tm && !tm->error ? tm->npartitions : 0};
  }
  take_snapshot(cc, topics, nall);
  struct mk_assignment *shares = calloc((size_t)(n ? n : 1), sizeof *shares);
  if (!shares) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  rc = mk_partition_assignor_assign(assignor, topics, nall, members, n, shares);
  if (rc) {
    free(shares);
    return mk_err_set(err, rc, "out of memory running the %s assignor", assignor->name);
  }
  struct mk_sync_group_request_assignment *sa = mk_arena_alloc(a, sizeof *sa * (size_t)(n ? n : 1));
  if (!sa) rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  /* Assignments in the oldest subscription version a member spoke, so every member can
   * read its own (the layout is the same in all versions). */
  int version = min_version < 0 ? 0 : min_version;
  for (int i = 0; !rc && i < n; i++) {
    struct mk_consumer_protocol_assignment pa;
    mk_schema_set_defaults(&mk_consumer_protocol_assignment_schema, &pa);
    pa.user_data = (struct mk_bytes){NULL, -1};
    pa.assigned_partitions =
        mk_arena_alloc(a, sizeof *pa.assigned_partitions * (size_t)(shares[i].n ? shares[i].n : 1));
    int32_t *parts = mk_arena_alloc(a, sizeof *parts * (size_t)(shares[i].n ? shares[i].n : 1));
    if (!pa.assigned_partitions || !parts) {
      rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
      break;
    }
    /* Sorted, so each topic's partition numbers are one run of parts[]. */
    if (shares[i].n > 1) qsort(shares[i].v, (size_t)shares[i].n, sizeof *shares[i].v, cmp_topic_partition);
    for (int k = 0; k < shares[i].n; k++) {
      const struct mk_topic_partition *tp = &shares[i].v[k];
      struct mk_consumer_protocol_assignment_topic_partition *t = NULL;
      for (int32_t j = 0; j < pa.assigned_partitions_count && !t; j++)
        if (mk_str_eq(pa.assigned_partitions[j].topic, tp->topic)) t = &pa.assigned_partitions[j];
      if (!t) {
        t = &pa.assigned_partitions[pa.assigned_partitions_count++];
        t->topic = mk_str_of(tp->topic);
        t->partitions = parts + k;
        t->partitions_count = 0;
      }
      t->partitions[t->partitions_count++] = tp->partition;
    }
    struct mk_writer w;
    mk_writer_init(&w);
    rc = mk_consumer_protocol_assignment_encode(&pa, version, &w, err);
    uint8_t *bytes = rc ? NULL : mk_arena_alloc(a, w.len ? w.len : 1);
    if (!rc && !bytes) rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
    if (!rc) memcpy(bytes, w.buf, w.len);
    sa[i].member_id = jr->members[i].member_id;
    sa[i].assignment = (struct mk_bytes){bytes, (int32_t)w.len};
    mk_writer_free(&w);
  }
  for (int i = 0; i < n; i++) mk_assignment_free(&shares[i]);
  free(shares);
  if (!rc) *out = sa;
  return rc;
}

/* ---- joining: onJoinPrepare, JoinGroup, SyncGroup, onJoinComplete ---------------------------- */

static void revoke_all(struct mk_consumer_coordinator *cc) {
  struct mk_consumer *c = cc->consumer;
  int n = c->subs.nparts;
  if (n && c->listener.on_partitions_revoked) {
    struct mk_topic_partition *parts = malloc(sizeof *parts * (size_t)n);
    if (parts) {
      mk_subscription_assignment(&c->subs, parts, n);
      c->listener.on_partitions_revoked(c->listener.opaque, c, parts, n);
      free(parts);
    }
  }
  mk_subscription_assign(&c->subs, NULL, 0, true, MK_OFFSET_LATEST);
  mk_fetcher_clear(c);
}

/* The positions of every assigned partition that has one. Returns how many (arrays new). */
static int positions(struct mk_consumer *c, struct mk_topic_partition **parts, int64_t **offsets) {
  int n = 0;
  *parts = malloc(sizeof **parts * (size_t)(c->subs.nparts ? c->subs.nparts : 1));
  *offsets = malloc(sizeof **offsets * (size_t)(c->subs.nparts ? c->subs.nparts : 1));
  if (!*parts || !*offsets) {
    free(*parts);
    free(*offsets);
    *parts = NULL;
    *offsets = NULL;
    return 0;
  }
  for (int i = 0; i < c->subs.nparts; i++) {
    const struct mk_partition_state *p = &c->subs.parts[i];
    if (p->state != MK_FETCHING) continue;
    (*parts)[n] = (struct mk_topic_partition){p->topic, p->partition};
    (*offsets)[n++] = p->position;
  }
  return n;
}

/* maybeAutoCommitOffsetsSync: commit the positions now (before a rebalance, on close).
 * A failure is logged, not raised: the rebalance goes on. */
static void auto_commit_sync(struct mk_consumer_coordinator *cc, int64_t deadline_ms) {
  if (!cc->cfg->enable_auto_commit) return;
  struct mk_topic_partition *parts;
  int64_t *offsets;
  int n = positions(cc->consumer, &parts, &offsets);
  struct mk_err e = {0};
  if (n && mk_consumer_coordinator_commit(cc, parts, offsets, n, deadline_ms, &e))
    mk_log(MK_LOG_WARN, "consumer", "%s: synchronous auto-commit of offsets failed: %s",
           cc->cfg->group_id, e.msg);
  free(parts);
  free(offsets);
}

static void on_join_prepare(struct mk_consumer_coordinator *cc) {
  /* The positions reached in the old generation are committed before the partitions go,
   * so whoever gets them next starts where we stopped. */
  auto_commit_sync(cc, now_ms() + cc->cfg->request_timeout_ms);
  revoke_all(cc);
  cc->join_prepared = true;
}

int mk_consumer_coordinator_snapshot_topics(struct mk_consumer_coordinator *cc,
                                            const char **out, int max) {
  for (int i = 0; i < cc->nsnapshot && i < max; i++) out[i] = cc->snapshot[i].topic;
  return cc->nsnapshot;
}

void mk_consumer_coordinator_metadata_updated(struct mk_consumer_coordinator *cc) {
  struct mk_consumer *c = cc->consumer;
  if (!cc->snapshot) return;
  for (int i = 0; i < cc->nsnapshot; i++) {
    const struct mk_topic_metadata *tm = mk_consumer_topic(c, cc->snapshot[i].topic);
    if (!tm) continue;  /* not asked for this time */
    int32_t now = tm->error ? 0 : tm->npartitions;
    if (now != cc->snapshot[i].partitions) {
      char reason[192];
      snprintf(reason, sizeof reason, "cached metadata has changed: %s has %d partitions, was %d",
               cc->snapshot[i].topic, now, cc->snapshot[i].partitions);
      mk_consumer_coordinator_request_rejoin(cc, reason);
      free_snapshot(cc);
      return;
    }
  }
}

/* onJoinComplete: take our share of the new generation. */
static int on_join_complete(struct mk_consumer_coordinator *cc, struct mk_bytes assignment,
                            struct mk_err *err) {
  struct mk_consumer *c = cc->consumer;
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_consumer_protocol_assignment pa;
  int version;
  int rc = mk_consumer_protocol_assignment_decode(assignment, &pa, &version, &a, err);
  if (rc) {
    mk_arena_free(&a);
    return mk_err_set(err, rc, "our assignment does not decode: %s", err->msg);
  }
  int total = 0;
  for (int32_t t = 0; t < pa.assigned_partitions_count; t++)
    total += pa.assigned_partitions[t].partitions_count > 0
                 ? pa.assigned_partitions[t].partitions_count
                 : 0;
  struct mk_topic_partition *parts =
      mk_arena_alloc(&a, sizeof *parts * (size_t)(total ? total : 1));
  int n = 0;
  for (int32_t t = 0; parts && t < pa.assigned_partitions_count; t++) {
    const struct mk_consumer_protocol_assignment_topic_partition *tp = &pa.assigned_partitions[t];
    char *topic = arena_str(&a, tp->topic);
    if (!topic) break;
    if (!mk_subscription_wants_topic(&c->subs, topic)) {
      mk_consumer_warn(c, "the leader assigned us %s, which we do not subscribe to; ignored",
                       topic);
      continue;
    }
    for (int32_t k = 0; k < tp->partitions_count; k++)
      parts[n++] = (struct mk_topic_partition){topic, tp->partitions[k]};
  }
  if (!parts || mk_subscription_assign(&c->subs, parts, n, true,
                                       c->cfg->auto_offset_reset == MK_OFFSET_RESET_EARLIEST
                                           ? MK_OFFSET_EARLIEST
                                           : MK_OFFSET_LATEST)) {
    mk_arena_free(&a);
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory taking our assignment");
  }
  c->need_metadata = true;  /* leaders of the new partitions */
  pthread_mutex_lock(&cc->lock);
  bool leader = cc->leader;
  pthread_mutex_unlock(&cc->lock);
  if (!leader) free_snapshot(cc);  /* only the leader watches partition counts */
  if (c->listener.on_partitions_assigned) {
    struct mk_topic_partition *mine =
        malloc(sizeof *mine * (size_t)(c->subs.nparts ? c->subs.nparts : 1));
    if (mine) {
      int m = mk_subscription_assignment(&c->subs, mine, c->subs.nparts);
      c->listener.on_partitions_assigned(c->listener.opaque, c, mine, m);
      free(mine);
    }
  }
  cc->next_auto_commit_ms = now_ms() + cc->cfg->auto_commit_interval_ms;
  mk_arena_free(&a);
  return 0;
}

/* Java's messages for the JoinGroup/SyncGroup errors that end the consumer. */
static int join_fatal(struct mk_consumer_coordinator *cc, const char *api, int code,
                      struct mk_err *err) {
  const char *group = cc->cfg->group_id;
  switch (code) {
    case MK_ERR_INCONSISTENT_GROUP_PROTOCOL:
      return mk_err_set(err, code, "%s: INCONSISTENT_GROUP_PROTOCOL: the members of group '%s' "
                        "share no assignor (we offer %s%s) or protocol type", api, group,
                        cc->cfg->assignors[0]->name,
                        cc->cfg->num_assignors > 1 ? ", ..." : "");
    case MK_ERR_INVALID_SESSION_TIMEOUT:
      return mk_err_set(err, code, "%s: INVALID_SESSION_TIMEOUT: session.timeout.ms %d is outside "
                        "the broker's group.min/max.session.timeout.ms", api,
                        cc->cfg->session_timeout_ms);
    case MK_ERR_GROUP_MAX_SIZE_REACHED:
      return mk_err_set(err, code, "%s: Consumer group %s already has the configured maximum "
                        "number of members.", api, group);
    case MK_ERR_FENCED_INSTANCE_ID:
      return mk_err_set(err, code, "%s: FENCED_INSTANCE_ID: another consumer with "
                        "group.instance.id %s has taken our place", api,
                        cc->cfg->group_instance_id ? cc->cfg->group_instance_id : "");
    default:
      return mk_err_set(err, code, "%s for group '%s' failed: %s", api, group, mk_err_name(code));
  }
}

/* SyncGroup after a successful JoinGroup. Returns 0 (joined, or a retriable failure
 * that set rejoin_needed), MK_ERR__STATE (woken), or a fatal error. */
static int sync_group(struct mk_consumer_coordinator *cc, const struct mk_join_group_response *jr,
                      struct mk_arena *a, struct mk_err *err) {
  struct mk_generation g = mk_coordinator_generation(cc);
  char protocol[32];
  copy_str(protocol, sizeof protocol, jr->protocol_name);
  struct mk_sync_group_request req;
  mk_schema_set_defaults(&mk_sync_group_request_schema, &req);
  req.group_id = mk_str_of(cc->cfg->group_id);
  req.generation_id = g.id;
  req.member_id = mk_str_of(g.member_id);
  struct mk_err e = {0};
  int version = mk_coordinator_version(cc, MK_API_SYNC_GROUP, &e);
  if (version < 0 && (e.code == MK_ERR__STATE || e.code == MK_ERR_UNSUPPORTED_VERSION))
    return mk_err_set(err, e.code, "%s", e.msg);
  if (version >= 3 && cc->cfg->group_instance_id)
    req.group_instance_id = mk_str_of(cc->cfg->group_instance_id);
  req.protocol_type = mk_str_of(MK_CONSUMER_PROTOCOL_TYPE);  /* v5+; ignored before */
  req.protocol_name = mk_str_of(protocol);
  if (mk_str_eq(jr->leader, g.member_id)) {
    int rc = perform_assignment(cc, jr, protocol, &req.assignments, a, err);
    if (rc == MK_ERR__STATE) return rc;
    if (rc) {
      /* Java fails the join and retries it; a broken subscription is no reason to stop. */
      mk_consumer_warn(cc->consumer, "assignment as leader failed: %s", err->msg);
      pthread_mutex_lock(&cc->lock);
      mk_coordinator_rejoin_locked(cc, "the leader's assignment failed");
      pthread_mutex_unlock(&cc->lock);
      return 0;
    }
    req.assignments_count = jr->members_count;
  } else {
    req.assignments_count = 0;
  }
  struct mk_sync_group_response *resp = NULL;
  int rc = version < 0 ? e.code
                       : mk_coordinator_call(cc, MK_API_SYNC_GROUP, &req, (void **)&resp, a, 0, &e);
  if (rc == MK_ERR__STATE) return mk_err_set(err, rc, "%s", e.msg);
  if (rc) {
    mk_consumer_warn(cc->consumer, "SyncGroup: %s", e.msg);
    pthread_mutex_lock(&cc->lock);
    mk_coordinator_rejoin_locked(cc, "SyncGroup failed");
    pthread_mutex_unlock(&cc->lock);
    return 0;
  }
  int code = resp->error_code;
  if (!code && resp->protocol_type.len >= 0 && !mk_str_eq(resp->protocol_type,
                                                          MK_CONSUMER_PROTOCOL_TYPE))
    code = MK_ERR_INCONSISTENT_GROUP_PROTOCOL;
  pthread_mutex_lock(&cc->lock);
  bool same = mk_coordinator_generation_unchanged_locked(cc, &g) && cc->state == MK_MEMBER_COMPLETING_REBALANCE;
  if (!code && !same) code = MK_ERR_ILLEGAL_GENERATION;  /* reset meanwhile: join again */
  switch (code) {
    case MK_ERR_NONE:
      cc->state = MK_MEMBER_STABLE;
      cc->rejoin_needed = false;
      cc->rejoin_reason[0] = '\0';
      pthread_mutex_unlock(&cc->lock);
      mk_log(MK_LOG_DEBUG, "consumer", "%s: successfully synced group in generation %d as %s",
             cc->cfg->group_id, g.id, g.member_id);
      rc = on_join_complete(cc, resp->assignment, err);
      cc->join_prepared = false;
      return rc;
    case MK_ERR_REBALANCE_IN_PROGRESS:
      mk_coordinator_rejoin_locked(cc, "the group began another rebalance");
      cc->state = MK_MEMBER_UNJOINED;
      break;
    case MK_ERR_UNKNOWN_MEMBER_ID:
    case MK_ERR_ILLEGAL_GENERATION:
      mk_coordinator_reset_locked(cc, code == MK_ERR_UNKNOWN_MEMBER_ID
                                      ? "encountered UNKNOWN_MEMBER_ID from SyncGroup response"
                                      : "encountered ILLEGAL_GENERATION from SyncGroup response",
                              code == MK_ERR_UNKNOWN_MEMBER_ID);
      break;
    case MK_ERR_COORDINATOR_NOT_AVAILABLE:
    case MK_ERR_NOT_COORDINATOR:
      mk_consumer_coordinator_mark_unknown(cc, mk_err_name(code));
      mk_coordinator_rejoin_locked(cc, "SyncGroup went to a broker that is no longer the coordinator");
      cc->state = MK_MEMBER_UNJOINED;
      break;
    default:
      pthread_mutex_unlock(&cc->lock);
      return join_fatal(cc, "SyncGroup", code, err);
  }
  cc->hb_enabled = false;
  pthread_mutex_unlock(&cc->lock);
  if (code == MK_ERR_NOT_COORDINATOR || code == MK_ERR_COORDINATOR_NOT_AVAILABLE)
    mk_client_conn_close(&cc->conn);
  return 0;
}

/* One JoinGroup (and SyncGroup after it). Returns 0 (done, or retry: rejoin_needed says),
 * MK_ERR__STATE (woken), or a fatal error. *backoff: wait before the next attempt. */
static int join_once(struct mk_consumer_coordinator *cc, bool *backoff, struct mk_err *err) {
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_generation g = mk_coordinator_generation(cc);
  char reason[192];
  pthread_mutex_lock(&cc->lock);
  cc->state = MK_MEMBER_PREPARING_REBALANCE;
  cc->hb_enabled = false;
  snprintf(reason, sizeof reason, "%s", cc->rejoin_reason);
  pthread_mutex_unlock(&cc->lock);

  struct mk_writer w;
  mk_writer_init(&w);
  int rc = subscription_bytes(cc, g.id, &w, &a, err);
  struct mk_join_group_request req;
  mk_schema_set_defaults(&mk_join_group_request_schema, &req);
  req.group_id = mk_str_of(cc->cfg->group_id);
  req.session_timeout_ms = cc->cfg->session_timeout_ms;
  req.rebalance_timeout_ms = cc->cfg->max_poll_interval_ms;
  req.member_id = mk_str_of(g.member_id);
  struct mk_err e = {0};
  int version = rc ? -1 : mk_coordinator_version(cc, MK_API_JOIN_GROUP, &e);
  if (!rc && version < 0 && (e.code == MK_ERR__STATE || e.code == MK_ERR_UNSUPPORTED_VERSION))
    rc = mk_err_set(err, e.code, "%s", e.msg);
  if (!rc && version < 0) {  /* no connection: find the coordinator again */
    mk_consumer_warn(cc->consumer, "JoinGroup: %s", e.msg);
    *backoff = true;
    mk_writer_free(&w);
    mk_arena_free(&a);
    return 0;
  }
  if (!rc && cc->cfg->group_instance_id) {
    if (version < 5)
      rc = mk_err_set(err, MK_ERR_UNSUPPORTED_VERSION, "group.instance.id (static membership) "
                      "needs JoinGroup v5; the coordinator speaks v%d", version);
    req.group_instance_id = mk_str_of(cc->cfg->group_instance_id);
  }
  req.protocol_type = mk_str_of(MK_CONSUMER_PROTOCOL_TYPE);
  req.reason = reason[0] ? mk_str_of(reason) : (struct mk_str){NULL, -1};  /* v8+ */
  req.protocols = mk_arena_alloc(&a, sizeof *req.protocols * MK_CONSUMER_MAX_ASSIGNORS);
  if (!rc && !req.protocols) rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  for (int i = 0; !rc && i < cc->cfg->num_assignors; i++) {
    req.protocols[i].name = mk_str_of(cc->cfg->assignors[i]->name);
    req.protocols[i].metadata = (struct mk_bytes){w.buf, (int32_t)w.len};
  }
  req.protocols_count = cc->cfg->num_assignors;
  if (rc) {
    mk_writer_free(&w);
    mk_arena_free(&a);
    return rc;
  }
  /* The coordinator holds a JoinGroup for up to the rebalance timeout. */
  int64_t timeout = (int64_t)cc->cfg->max_poll_interval_ms + JOIN_GROUP_TIMEOUT_LAPSE_MS;
  if (timeout < cc->cfg->request_timeout_ms) timeout = cc->cfg->request_timeout_ms;
  if (timeout > INT32_MAX) timeout = INT32_MAX;
  struct mk_join_group_response *resp = NULL;
  rc = mk_coordinator_call(cc, MK_API_JOIN_GROUP, &req, (void **)&resp, &a, (int)timeout, &e);
  mk_writer_free(&w);
  if (rc == MK_ERR__STATE) {
    mk_arena_free(&a);
    return mk_err_set(err, rc, "%s", e.msg);
  }
  if (rc) {
    mk_consumer_warn(cc->consumer, "JoinGroup: %s", e.msg);
    *backoff = true;
    mk_arena_free(&a);
    return 0;
  }
  int code = resp->error_code;
  pthread_mutex_lock(&cc->lock);
  switch (code) {
    case MK_ERR_NONE:
      if (cc->state != MK_MEMBER_PREPARING_REBALANCE) {  /* left meanwhile (heartbeat thread) */
        mk_coordinator_rejoin_locked(cc, "the member left the group during the join");
        pthread_mutex_unlock(&cc->lock);
        mk_arena_free(&a);
        return 0;
      }
      cc->generation = resp->generation_id;
      copy_str(cc->member_id, sizeof cc->member_id, resp->member_id);
      copy_str(cc->protocol, sizeof cc->protocol, resp->protocol_name);
      cc->leader = mk_str_eq(resp->leader, cc->member_id);
      cc->state = MK_MEMBER_COMPLETING_REBALANCE;
      /* From here on the coordinator expects heartbeats (a slow leader may keep us waiting
         in SyncGroup). */
      cc->hb_enabled = true;
      mk_heartbeat_reset_timeouts(&cc->heartbeat, now_ms());
      pthread_cond_broadcast(&cc->wake);
      pthread_mutex_unlock(&cc->lock);
      mk_log(MK_LOG_DEBUG, "consumer", "%s: joined generation %d as %s (%s), protocol %s",
             cc->cfg->group_id, resp->generation_id, cc->member_id,
             cc->leader ? "the leader" : "a follower", cc->protocol);
      rc = sync_group(cc, resp, &a, err);
      mk_arena_free(&a);
      return rc;
    case MK_ERR_MEMBER_ID_REQUIRED:  /* v4+: come back with this id (KIP-394) */
      copy_str(cc->member_id, sizeof cc->member_id, resp->member_id);
      mk_coordinator_rejoin_locked(cc, "need to re-join with the given member-id");
      snprintf(cc->rejoin_reason, sizeof cc->rejoin_reason,
               "need to re-join with the given member-id: %.140s", cc->member_id);
      break;
    case MK_ERR_UNKNOWN_MEMBER_ID:
      mk_coordinator_reset_locked(cc, "encountered UNKNOWN_MEMBER_ID from JoinGroup response", true);
      break;
    case MK_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case MK_ERR_REBALANCE_IN_PROGRESS:
      *backoff = true;
      break;
    case MK_ERR_COORDINATOR_NOT_AVAILABLE:
    case MK_ERR_NOT_COORDINATOR:
      mk_consumer_coordinator_mark_unknown(cc, mk_err_name(code));
      *backoff = true;
      break;
    default:
      cc->state = MK_MEMBER_UNJOINED;
      pthread_mutex_unlock(&cc->lock);
      mk_arena_free(&a);
      return join_fatal(cc, "JoinGroup", code, err);
  }
  if (cc->state == MK_MEMBER_PREPARING_REBALANCE) cc->state = MK_MEMBER_UNJOINED;
  pthread_mutex_unlock(&cc->lock);
  if (code == MK_ERR_NOT_COORDINATOR || code == MK_ERR_COORDINATOR_NOT_AVAILABLE)
    mk_client_conn_close(&cc->conn);
  mk_arena_free(&a);
  return 0;
}

static bool rejoin_needed(struct mk_consumer_coordinator *cc) {
  if (!cc->consumer->subs.topics) return false;  /* assign(): no group membership */
  pthread_mutex_lock(&cc->lock);
  bool need = cc->rejoin_needed || cc->state != MK_MEMBER_STABLE;
  pthread_mutex_unlock(&cc->lock);
  return need;
}

/* joinGroupIfNeeded. */
static int join_group_if_needed(struct mk_consumer_coordinator *cc, int64_t deadline_ms,
                                struct mk_err *err) {
  while (rejoin_needed(cc)) {
    int rc = mk_coordinator_ensure(cc, deadline_ms, err);
    if (rc) return rc;
    if (!cc->join_prepared) on_join_prepare(cc);
    bool backoff = false;
    rc = join_once(cc, &backoff, err);
    if (rc) return rc;
    if (backoff && mk_consumer_sleep(cc->consumer, cc->cfg->retry_backoff_ms))
      return mk_err_set(err, MK_ERR__STATE, "woken up");
  }
  return 0;
}

/* ---- poll, close ----------------------------------------------------------------------------- */

int mk_consumer_coordinator_poll(struct mk_consumer_coordinator *cc, int64_t deadline_ms,
                                 struct mk_err *err) {
  pthread_mutex_lock(&cc->lock);
  mk_heartbeat_poll(&cc->heartbeat, now_ms());
  int fatal = cc->fatal_code;
  if (fatal) mk_err_set(err, fatal, "%s", cc->fatal_msg);
  pthread_mutex_unlock(&cc->lock);
  if (fatal) return fatal;
  int rc = 0;
  if (cc->consumer->subs.topics) {
    if (!cc->hb_started) {
      rc = mk_heartbeat_thread_start(cc);
      if (rc) return mk_err_set(err, MK_ERR__NO_MEMORY, "cannot start the heartbeat thread");
    }
    rc = join_group_if_needed(cc, deadline_ms, err);
    if (rc) return rc;
  } else {
    rc = mk_coordinator_ensure(cc, deadline_ms, err);  /* assign(): commits still need it */
    if (rc) return rc;
  }
  if (cc->cfg->enable_auto_commit && now_ms() >= cc->next_auto_commit_ms) {
    /* Java commits asynchronously here; ours waits for the answer, which is quick. */
    cc->next_auto_commit_ms = now_ms() + cc->cfg->auto_commit_interval_ms;
    struct mk_topic_partition *parts;
    int64_t *offsets;
    int n = positions(cc->consumer, &parts, &offsets);
    struct mk_err e = {0};
    rc = n ? mk_consumer_coordinator_commit(cc, parts, offsets, n,
                                            now_ms() + cc->cfg->request_timeout_ms, &e)
           : 0;
    free(parts);
    free(offsets);
    if (rc == MK_ERR__STATE) return mk_err_set(err, rc, "%s", e.msg);
    if (rc)
      mk_log(MK_LOG_WARN, "consumer", "%s: asynchronous auto-commit of offsets failed: %s",
             cc->cfg->group_id, e.msg);
  }
  return 0;
}

void mk_consumer_coordinator_close(struct mk_consumer_coordinator *cc, int64_t deadline_ms) {
  struct mk_consumer *c = cc->consumer;
  pthread_mutex_lock(&cc->lock);
  bool stable = cc->state == MK_MEMBER_STABLE;
  pthread_mutex_unlock(&cc->lock);
  if (stable || !c->subs.topics) auto_commit_sync(cc, deadline_ms);
  if (c->subs.topics) revoke_all(cc);
  mk_heartbeat_thread_stop(cc);
  pthread_mutex_lock(&cc->lock);
  bool leave = !cc->cfg->group_instance_id && cc->cfg->internal_leave_group_on_close &&
               cc->coordinator_known && cc->state != MK_MEMBER_UNJOINED && cc->member_id[0];
  if (leave) mk_consumer_coordinator_leave_locked(cc, &cc->conn, "the consumer is being closed");
  pthread_mutex_unlock(&cc->lock);
}

void mk_consumer_coordinator_group_metadata(struct mk_consumer_coordinator *cc,
                                            struct mk_consumer_group_metadata *out) {
  pthread_mutex_lock(&cc->lock);
  snprintf(out->group_id, sizeof out->group_id, "%s", cc->cfg->group_id);
  out->generation_id = cc->state == MK_MEMBER_STABLE ? cc->generation : MK_NO_GENERATION;
  snprintf(out->member_id, sizeof out->member_id, "%s", cc->member_id);
  snprintf(out->group_instance_id, sizeof out->group_instance_id, "%s",
           cc->cfg->group_instance_id ? cc->cfg->group_instance_id : "");
  snprintf(out->protocol, sizeof out->protocol, "%s", cc->protocol);
  out->leader = cc->leader && cc->state == MK_MEMBER_STABLE;
  pthread_mutex_unlock(&cc->lock);
}

/* ---- for the heartbeat thread ---------------------------------------------------------------- */

void mk_consumer_coordinator_heartbeat_answer(struct mk_consumer_coordinator *cc, int16_t code,
                                              int32_t generation, int64_t now_ms_) {
  switch (code) {
    case MK_ERR_NONE:
      mk_heartbeat_received(&cc->heartbeat, now_ms_);
      break;
    case MK_ERR_REBALANCE_IN_PROGRESS:
      /* Still a member for as long as the rebalance takes: the session holds. */
      mk_heartbeat_received(&cc->heartbeat, now_ms_);
      if (cc->state == MK_MEMBER_STABLE) mk_coordinator_rejoin_locked(cc, "group is already rebalancing");
      break;
    case MK_ERR_ILLEGAL_GENERATION:
    case MK_ERR_UNKNOWN_MEMBER_ID:
      if (cc->generation == generation) {
        char reason[96];
        snprintf(reason, sizeof reason, "encountered %s from Heartbeat response",
                 mk_err_name(code));
        mk_coordinator_reset_locked(cc, reason, code == MK_ERR_UNKNOWN_MEMBER_ID);
      }
      mk_heartbeat_failed(&cc->heartbeat, now_ms_);
      break;
    case MK_ERR_FENCED_INSTANCE_ID:
      cc->fatal_code = code;
      snprintf(cc->fatal_msg, sizeof cc->fatal_msg,
               "Heartbeat: FENCED_INSTANCE_ID: another consumer with group.instance.id %s has "
               "taken our place", cc->cfg->group_instance_id ? cc->cfg->group_instance_id : "");
      cc->hb_enabled = false;
      break;
    case MK_ERR_COORDINATOR_NOT_AVAILABLE:
    case MK_ERR_NOT_COORDINATOR:
      mk_consumer_coordinator_mark_unknown(cc, mk_err_name(code));
      mk_heartbeat_failed(&cc->heartbeat, now_ms_);
      break;
    default:
      mk_heartbeat_failed(&cc->heartbeat, now_ms_);
      break;
  }
}

void mk_consumer_coordinator_leave_locked(struct mk_consumer_coordinator *cc,
                                          struct mk_client_conn *conn, const char *reason) {
  bool dynamic = !cc->cfg->group_instance_id;
  char member[256];
  snprintf(member, sizeof member, "%s", cc->member_id);
  bool send = dynamic && cc->coordinator_known && cc->state != MK_MEMBER_UNJOINED && member[0];
  /* resetGenerationOnLeaveGroup: whatever happens to the request, we are out. */
  mk_coordinator_reset_locked(cc, "consumer pro-actively leaving the group", true);
  if (!send) return;
  mk_log(MK_LOG_DEBUG, "consumer", "%s: member %s sending LeaveGroup request to coordinator "
         "%s:%d due to %s", cc->cfg->group_id, member, cc->coordinator_host,
         cc->coordinator_port, reason);
  pthread_mutex_unlock(&cc->lock);
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_leave_group_request req;
  mk_schema_set_defaults(&mk_leave_group_request_schema, &req);
  struct mk_leave_group_member_identity who;
  mk_schema_set_defaults(&mk_leave_group_member_identity_schema, &who);
  who.member_id = mk_str_of(member);
  who.group_instance_id = (struct mk_str){NULL, -1};
  who.reason = mk_str_of(reason);
  req.group_id = mk_str_of(cc->cfg->group_id);
  struct mk_err e = {0};
  int version = mk_client_version(conn, MK_API_LEAVE_GROUP, &e);
  if (version >= 0 && version < 3) {
    req.member_id = who.member_id;  /* v0-2: one member */
  } else {
    req.members = &who;             /* v3+: a batch of members */
    req.members_count = 1;
  }
  struct mk_leave_group_response *resp = NULL;
  /* A minimal effort, as Java's: no retry. */
  if (version < 0 || mk_client_call(conn, MK_API_LEAVE_GROUP, &req, (void **)&resp, &a, &e))
    mk_log(MK_LOG_INFO, "consumer", "%s: LeaveGroup: %s", cc->cfg->group_id, e.msg);
  mk_arena_free(&a);
  pthread_mutex_lock(&cc->lock);
}
