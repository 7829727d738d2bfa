/*
 * KafkaConsumer: the public calls (consumer.h), the poll loop and the consumer's metadata.
 * Kafka: clients/.../consumer/KafkaConsumer.java (ClassicKafkaConsumer: poll,
 * updateAssignmentMetadataIfNeeded, pollForFetches), ConsumerMetadata.java.
 *
 * One poll(), in order:
 *   1. the coordinator's turn (consumer_coordinator.c): heartbeat clock, join or rejoin,
 *      auto commit
 *   2. metadata when something asked for it (new partitions, a leader moved) or when it is
 *      older than metadata.max.age.ms
 *   3. positions: committed offsets for new partitions (OffsetFetch), resets (ListOffsets)
 *   4. records already fetched: up to max.poll.records of them, and return
 *   5. else one Fetch round (held by the brokers up to fetch.max.wait.ms, never past the
 *      poll's own timeout), and back to 4
 *
 * The first metadata request also bootstraps: a cluster never reached is an error for
 * poll(); one that was reached and went away is retried (and logged), as Java does.
 */
#define _GNU_SOURCE  /* pipe2 */
#include "consumer/consumer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "consumer/consumer_coordinator.h"
#include "consumer/consumer_internal.h"
#include "protocol/messages/metadata.h"

/* Java's KafkaConsumer.close() without a timeout waits this long (DEFAULT_CLOSE_TIMEOUT_MS). */
enum { DEFAULT_CLOSE_TIMEOUT_MS = 30000 };

int64_t mk_consumer_now_ms(void) { return mk_now_us() / 1000; }

void mk_consumer_warn(struct mk_consumer *c, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (strcmp(msg, c->last_warning) == 0) return;
  snprintf(c->last_warning, sizeof c->last_warning, "%s", msg);
  mk_log(MK_LOG_WARN, "consumer", "%s", msg);
}

/* Consume a pending wakeup. Returns whether there was one. */
static bool take_wakeup(struct mk_consumer *c) {
  char buf[16];
  bool woken = false;
  while (read(c->wake_pipe[0], buf, sizeof buf) > 0) woken = true;
  return woken;
}

bool mk_consumer_sleep(struct mk_consumer *c, int64_t ms) {
  if (ms <= 0) return false;
  struct pollfd p = {.fd = c->wake_pipe[0], .events = POLLIN};
  int n = poll(&p, 1, (int)(ms > 1000000 ? 1000000 : ms));
  return n > 0;  /* readable: a wakeup (left in the pipe for poll() to see) */
}

void mk_consumer_wakeup(struct mk_consumer *c) {
  ssize_t n = write(c->wake_pipe[1], "w", 1);  /* async-signal-safe */
  (void)n;
}

/* ---- metadata (ConsumerMetadata) ------------------------------------------------------------- */

static void free_topics(struct mk_consumer *c) {
  for (int i = 0; i < c->ntopics; i++) {
    free(c->topics[i].name);
    free(c->topics[i].leaders);
  }
  free(c->topics);
  c->topics = NULL;
  c->ntopics = 0;
}

const struct mk_topic_metadata *mk_consumer_topic(const struct mk_consumer *c, const char *name) {
  for (int i = 0; i < c->ntopics; i++)
    if (strcmp(c->topics[i].name, name) == 0) return &c->topics[i];
  return NULL;
}

int mk_consumer_rebootstrap(struct mk_consumer *c, struct mk_err *err) {
  char servers[2048] = "";
  const struct mk_config_list *l = &c->cfg->bootstrap_servers;
  for (int i = 0; i < l->n; i++) {
    size_t used = strlen(servers);
    snprintf(servers + used, sizeof servers - used, "%s%s", i ? "," : "", l->items[i]);
  }
  int rc = mk_client_bootstrap(&c->client, servers, err);
  if (!rc) c->bootstrapped = true;
  return rc;
}

/* Keep what the answer says about topic t (replacing what we knew). */
static int learn_topic(struct mk_consumer *c, const struct mk_metadata_response_topic *t) {
  char name[256];
  snprintf(name, sizeof name, "%.*s", t->name.len > 0 ? (int)t->name.len : 0,
           t->name.ptr ? t->name.ptr : "");
  struct mk_topic_metadata *tm = (struct mk_topic_metadata *)mk_consumer_topic(c, name);
  if (!tm) {
    struct mk_topic_metadata *v = realloc(c->topics, sizeof *v * (size_t)(c->ntopics + 1));
    if (!v) return MK_ERR__NO_MEMORY;
    c->topics = v;
    tm = &c->topics[c->ntopics];
    *tm = (struct mk_topic_metadata){.name = strdup(name)};
    if (!tm->name) return MK_ERR__NO_MEMORY;
    c->ntopics++;
  }
  int32_t n = 0;
  for (int32_t j = 0; j < t->partitions_count; j++)
    if (t->partitions[j].partition_index >= n) n = t->partitions[j].partition_index + 1;
  int32_t *leaders = malloc(sizeof *leaders * (size_t)(n ? n : 1));
  if (!leaders) return MK_ERR__NO_MEMORY;
  for (int32_t j = 0; j < n; j++) leaders[j] = -1;
  for (int32_t j = 0; j < t->partitions_count; j++) {
    const struct mk_metadata_response_partition *p = &t->partitions[j];
    if (p->partition_index >= 0 && !p->error_code) leaders[p->partition_index] = p->leader_id;
  }
  free(tm->leaders);
  tm->leaders = leaders;
  tm->npartitions = t->error_code ? 0 : t->partitions_count;
  tm->error = t->error_code;
  tm->id = t->topic_id;
  return 0;
}

int mk_consumer_refresh_metadata(struct mk_consumer *c, const char *const *extra, int nextra,
                                 struct mk_err *err) {
  /* The topics: subscribed, assigned, the extra ones, and those a leader watches. */
  int nsnap = c->coordinator ? mk_consumer_coordinator_snapshot_topics(c->coordinator, NULL, 0) : 0;
  int cap = c->subs.ntopics + c->subs.nparts + nextra + nsnap;
  const char **topics = malloc(sizeof *topics * (size_t)(cap ? cap : 1));
  const char **snap = malloc(sizeof *snap * (size_t)(nsnap ? nsnap : 1));
  if (!topics || !snap) {
    free(topics);
    free(snap);
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  }
  if (nsnap) mk_consumer_coordinator_snapshot_topics(c->coordinator, snap, nsnap);
  int n = 0;
  for (int k = 0; k < 4; k++) {
    int count = k == 0 ? c->subs.ntopics : k == 1 ? c->subs.nparts : k == 2 ? nextra : nsnap;
    for (int i = 0; i < count; i++) {
      const char *t = k == 0   ? c->subs.topics[i]
                      : k == 1 ? c->subs.parts[i].topic
                      : k == 2 ? extra[i]
                               : snap[i];
      bool seen = false;
      for (int j = 0; j < n && !seen; j++) seen = strcmp(topics[j], t) == 0;
      if (!seen) topics[n++] = t;
    }
  }
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_metadata_response *md = NULL;
  struct mk_err e = {0};
  int rc = c->bootstrapped ? 0 : mk_consumer_rebootstrap(c, &e);
  if (rc && rc != MK_ERR__STATE) {
    /* Never reached: say so (a consumer pointed at the wrong address should not wait). */
    mk_arena_free(&a);
    free(topics);
    free(snap);
    return mk_err_set(err, MK_ERR__TRANSPORT, "%s", e.msg);
  }
  if (!rc) rc = mk_client_metadata(&c->client, topics, n, c->cfg->allow_auto_create_topics, &md,
                                   &a, &e);
  if (rc == MK_ERR__TRANSPORT || rc == MK_ERR__TIMED_OUT) {
    /* The bootstrap broker is gone: try the whole list again (and the others in it). */
    struct mk_err berr = {0};
    if (!mk_consumer_rebootstrap(c, &berr))
      rc = mk_client_metadata(&c->client, topics, n, c->cfg->allow_auto_create_topics, &md, &a,
                              &e);
  }
  free(topics);
  free(snap);
  if (rc) {
    mk_arena_free(&a);
    return mk_err_set(err, rc, "metadata: %s", e.msg);
  }
  for (int32_t i = 0; i < md->topics_count && !rc; i++) rc = learn_topic(c, &md->topics[i]);
  mk_arena_free(&a);
  if (rc) return mk_err_set(err, rc, "out of memory reading metadata");
  c->metadata_ms = mk_consumer_now_ms();
  /* Leaders of our partitions. */
  bool all = true;
  for (int i = 0; i < c->subs.nparts; i++) {
    struct mk_partition_state *p = &c->subs.parts[i];
    const struct mk_topic_metadata *tm = mk_consumer_topic(c, p->topic);
    p->leader = tm && p->partition < tm->npartitions ? tm->leaders[p->partition] : -1;
    if (p->leader < 0) {
      if (!tm || tm->error == MK_ERR_UNKNOWN_TOPIC_OR_PARTITION ||
          tm->error == MK_ERR_LEADER_NOT_AVAILABLE)
        mk_consumer_warn(c, "topic '%s' is not available yet (%s); waiting", p->topic,
                         mk_err_name(tm ? tm->error : MK_ERR_UNKNOWN_TOPIC_OR_PARTITION));
      else
        mk_consumer_warn(c, "partition %s-%d has no leader yet; waiting", p->topic, p->partition);
      all = false;
    }
  }
  for (int i = 0; i < c->subs.ntopics; i++) {  /* subscribed topics that do not exist yet */
    const struct mk_topic_metadata *tm = mk_consumer_topic(c, c->subs.topics[i]);
    if (tm && tm->error && tm->error != MK_ERR_UNKNOWN_TOPIC_OR_PARTITION &&
        tm->error != MK_ERR_LEADER_NOT_AVAILABLE && !mk_err_retriable(tm->error))
      return mk_err_set(err, tm->error, "topic '%s': %s", tm->name, mk_err_name(tm->error));
  }
  c->need_metadata = !all;
  if (c->coordinator) mk_consumer_coordinator_metadata_updated(c->coordinator);
  return 0;
}

/* ---- creating -------------------------------------------------------------------------------- */

int mk_consumer_new(const struct mk_consumer_config *cfg, struct mk_consumer **out,
                    struct mk_err *err) {
  *out = NULL;
  if (!cfg || !cfg->finished)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "the consumer config is not finished "
                      "(call mk_consumer_config_finish)");
  struct mk_consumer *c = calloc(1, sizeof *c);
  if (!c) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  c->wake_pipe[0] = c->wake_pipe[1] = -1;
  c->cfg = mk_consumer_config_dup(cfg);
  if (!c->cfg || pipe2(c->wake_pipe, O_NONBLOCK | O_CLOEXEC)) {
    mk_consumer_config_free(c->cfg);
    free(c);
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory creating the consumer");
  }
  mk_client_init(&c->client, c->cfg->client_id);
  c->client.timeout_ms = c->cfg->request_timeout_ms;
  c->client.wake_fd = c->wake_pipe[0];
  mk_arena_init(&c->fetch.arena);
  c->need_metadata = true;
  if (c->cfg->group_id) {
    c->coordinator = calloc(1, sizeof *c->coordinator);
    int rc = c->coordinator ? mk_consumer_coordinator_init(c->coordinator, c, err)
                            : mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
    if (rc) {
      free(c->coordinator);
      c->coordinator = NULL;
      mk_consumer_abandon(c);
      return rc;
    }
  }
  *out = c;
  return 0;
}

int mk_consumer_subscribe(struct mk_consumer *c, const char *const *topics, int ntopics,
                          const struct mk_consumer_rebalance_listener *listener,
                          struct mk_err *err) {
  if (!c->coordinator)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "To use the group management or offset commit "
                      "APIs, you must provide a valid group.id in the consumer configuration.");
  if (c->subs.user_assigned)
    return mk_err_set(err, MK_ERR__STATE, "Subscription to topics, partitions and pattern are "
                      "mutually exclusive (assign() was called)");
  if (ntopics < 1) return mk_err_set(err, MK_ERR__INVALID_ARG, "subscribe: no topics");
  for (int i = 0; i < ntopics; i++)
    if (!topics[i] || !*topics[i])
      return mk_err_set(err, MK_ERR__INVALID_ARG, "Topic collection to subscribe to cannot "
                        "contain null or empty topic");
  bool had = c->subs.topics != NULL;
  struct mk_partition_state *keep = c->subs.parts;
  int nkeep = c->subs.nparts;
  c->subs.parts = NULL;  /* the assignment stays until the rebalance revokes it */
  c->subs.nparts = 0;
  int rc = mk_subscription_subscribe(&c->subs, topics, ntopics);
  c->subs.parts = keep;
  c->subs.nparts = nkeep;
  if (rc) return mk_err_set(err, rc, "out of memory");
  if (listener) c->listener = *listener;
  c->need_metadata = true;
  if (had) mk_consumer_coordinator_request_rejoin(c->coordinator, "subscription changed");
  return 0;
}

int mk_consumer_assign(struct mk_consumer *c, const struct mk_topic_partition *parts, int n,
                       struct mk_err *err) {
  if (c->subs.topics)
    return mk_err_set(err, MK_ERR__STATE, "Subscription to topics, partitions and pattern are "
                      "mutually exclusive (subscribe() was called)");
  int64_t reset = c->cfg->auto_offset_reset == MK_OFFSET_RESET_EARLIEST ? MK_OFFSET_EARLIEST
                                                                        : MK_OFFSET_LATEST;
  mk_fetcher_clear(c);
  int rc = mk_subscription_assign(&c->subs, parts, n, c->coordinator != NULL, reset);
  if (rc) return mk_err_set(err, rc, "out of memory");
  c->subs.user_assigned = true;
  c->need_metadata = true;
  return 0;
}

/* ---- poll ------------------------------------------------------------------------------------ */

/* Whether some partition waits for a position (AWAIT_RESET, AWAIT_COMMITTED) or can fetch. */
static bool any_in(const struct mk_consumer *c, enum mk_fetch_state st) {
  for (int i = 0; i < c->subs.nparts; i++)
    if (c->subs.parts[i].state == st && (st == MK_AWAIT_COMMITTED || c->subs.parts[i].leader >= 0))
      return true;
  return false;
}

static int woken(struct mk_consumer *c, struct mk_err *err) {
  take_wakeup(c);
  return mk_err_set(err, MK_ERR__STATE, "woken up");
}

int mk_consumer_poll(struct mk_consumer *c, int64_t timeout_ms, struct mk_consumer_records *out,
                     struct mk_err *err) {
  out->v = NULL;
  out->n = 0;
  if (take_wakeup(c)) return mk_err_set(err, MK_ERR__STATE, "woken up");
  if (!c->subs.topics && !c->subs.nparts)
    return mk_err_set(err, MK_ERR__STATE, "Consumer is not subscribed to any topics or "
                      "assigned any partitions");
  int max = c->cfg->max_poll_records;
  if (c->given_cap < max) {
    struct mk_consumer_record *g = realloc(c->given, sizeof *g * (size_t)max);
    if (!g) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
    c->given = g;
    c->given_cap = max;
  }
  int64_t deadline = mk_consumer_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
  for (;;) {
    int rc = 0;
    if (c->coordinator) {
      rc = mk_consumer_coordinator_poll(c->coordinator, deadline, err);
      if (rc == MK_ERR__TIMED_OUT) return 0;  /* no coordinator yet: no records this time */
      if (rc == MK_ERR__STATE) return woken(c, err);
      if (rc) return rc;
    }
    if (c->need_metadata || mk_consumer_now_ms() - c->metadata_ms >= c->cfg->metadata_max_age_ms) {
      struct mk_err e = {0};
      rc = mk_consumer_refresh_metadata(c, NULL, 0, &e);
      if (rc == MK_ERR__STATE) return woken(c, err);
      if (rc == MK_ERR__TRANSPORT && !c->bootstrapped) return mk_err_set(err, rc, "%s", e.msg);
      if (rc == MK_ERR__NO_MEMORY || (rc > 0 && !mk_err_retriable(rc)))
        return mk_err_set(err, rc, "%s", e.msg);
      if (rc) mk_consumer_warn(c, "%s", e.msg);
    }
    if (c->coordinator && any_in(c, MK_AWAIT_COMMITTED)) {
      rc = mk_consumer_coordinator_refresh_committed(c->coordinator, deadline, err);
      if (rc == MK_ERR__STATE) return woken(c, err);
      if (rc && rc != MK_ERR__TIMED_OUT) return rc;
    }
    if (any_in(c, MK_AWAIT_RESET)) {
      rc = mk_fetcher_reset_offsets(c, err);
      if (rc == MK_ERR__STATE) return woken(c, err);
      if (rc) return rc;
    }
    int n = mk_fetcher_collect(c, c->given, max);
    if (n > 0) {
      out->v = c->given;
      out->n = n;
      return 0;
    }
    int64_t left = deadline - mk_consumer_now_ms();
    if (left <= 0) return 0;
    mk_fetcher_clear(c);  /* everything handed out: its memory goes */
    bool sent = false;
    if (any_in(c, MK_FETCHING)) {
      rc = mk_fetcher_fetch(c, left < c->cfg->fetch_max_wait_ms ? left : c->cfg->fetch_max_wait_ms,
                            &sent, err);
      if (rc == MK_ERR__STATE) return woken(c, err);
      if (rc) return rc;
    }
    if (!sent && !mk_fetcher_has_buffered(c)) {
      int64_t pause = left < c->cfg->retry_backoff_ms ? left : c->cfg->retry_backoff_ms;
      if (mk_consumer_sleep(c, pause)) return woken(c, err);
    }
  }
}

/* ---- commits, positions ---------------------------------------------------------------------- */

static int need_group(struct mk_consumer *c, struct mk_err *err) {
  if (c->coordinator) return 0;
  return mk_err_set(err, MK_ERR__STATE, "To use the group management or offset commit APIs, "
                    "you must provide a valid group.id in the consumer configuration.");
}

int mk_consumer_commit_offsets(struct mk_consumer *c, const struct mk_topic_partition *parts,
                               const int64_t *offsets, int n, struct mk_err *err) {
  int rc = need_group(c, err);
  if (rc) return rc;
  rc = mk_consumer_coordinator_commit(c->coordinator, parts, offsets, n,
                                      mk_consumer_now_ms() + c->cfg->default_api_timeout_ms, err);
  if (rc == MK_ERR__STATE) take_wakeup(c);
  return rc;
}

int mk_consumer_commit_sync(struct mk_consumer *c, struct mk_err *err) {
  int rc = need_group(c, err);
  if (rc) return rc;
  int n = c->subs.nparts, k = 0;
  struct mk_topic_partition *parts = malloc(sizeof *parts * (size_t)(n ? n : 1));
  int64_t *offsets = malloc(sizeof *offsets * (size_t)(n ? n : 1));
  if (!parts || !offsets) {
    free(parts);
    free(offsets);
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  }
  for (int i = 0; i < n; i++) {
    const struct mk_partition_state *p = &c->subs.parts[i];
    if (p->state != MK_FETCHING) continue;
    parts[k] = (struct mk_topic_partition){p->topic, p->partition};
    offsets[k++] = p->position;
  }
  rc = k ? mk_consumer_commit_offsets(c, parts, offsets, k, err) : 0;
  free(parts);
  free(offsets);
  return rc;
}

int mk_consumer_committed(struct mk_consumer *c, const struct mk_topic_partition *parts, int n,
                          int64_t *offsets, struct mk_err *err) {
  int rc = need_group(c, err);
  if (rc) return rc;
  rc = mk_consumer_coordinator_fetch_committed(
      c->coordinator, parts, n, offsets, mk_consumer_now_ms() + c->cfg->default_api_timeout_ms,
      err);
  if (rc == MK_ERR__STATE) take_wakeup(c);
  return rc;
}

int mk_consumer_list_group_offsets(struct mk_consumer *c,
                                   void (*fn)(void *opaque, const char *topic, int32_t partition,
                                              int64_t offset),
                                   void *opaque, struct mk_err *err) {
  int rc = need_group(c, err);
  if (rc) return rc;
  rc = mk_consumer_coordinator_fetch_all_committed(
      c->coordinator, fn, opaque, mk_consumer_now_ms() + c->cfg->default_api_timeout_ms, err);
  if (rc == MK_ERR__STATE) take_wakeup(c);
  return rc;
}

int mk_consumer_list_offsets(struct mk_consumer *c, const struct mk_topic_partition *parts, int n,
                             int64_t timestamp, int64_t *offsets, struct mk_err *err) {
  int64_t deadline = mk_consumer_now_ms() + c->cfg->default_api_timeout_ms;
  const char **topics = malloc(sizeof *topics * (size_t)(n ? n : 1));
  if (!topics) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  for (int i = 0; i < n; i++) topics[i] = parts[i].topic;
  int rc;
  for (;;) {
    rc = mk_consumer_refresh_metadata(c, topics, n, err);
    if (!rc) rc = mk_fetcher_list_offsets(c, parts, n, timestamp, offsets, err);
    if (rc == MK_ERR__STATE) take_wakeup(c);
    bool retry = rc && rc != MK_ERR__STATE && rc != MK_ERR__NO_MEMORY &&
                 (rc == MK_ERR__TRANSPORT || rc == MK_ERR__TIMED_OUT || mk_err_retriable(rc));
    if (!retry || mk_consumer_now_ms() >= deadline) break;
    if (mk_consumer_sleep(c, c->cfg->retry_backoff_ms)) {
      take_wakeup(c);
      rc = mk_err_set(err, MK_ERR__STATE, "woken up");
      break;
    }
  }
  free(topics);
  return rc;
}

int mk_consumer_partitions_for(struct mk_consumer *c, const char *topic, int32_t *count,
                               struct mk_err *err) {
  const char *topics[] = {topic};
  int rc = mk_consumer_refresh_metadata(c, topics, 1, err);
  if (rc == MK_ERR__STATE) take_wakeup(c);
  if (rc) return rc;
  const struct mk_topic_metadata *tm = mk_consumer_topic(c, topic);
  int code = !tm ? MK_ERR_UNKNOWN_TOPIC_OR_PARTITION : tm->error;
  if (code) return mk_err_set(err, code, "topic '%s': %s", topic, mk_err_name(code));
  *count = tm->npartitions;
  return 0;
}

int64_t mk_consumer_position(struct mk_consumer *c, const char *topic, int32_t partition) {
  struct mk_partition_state *p = mk_subscription_find(&c->subs, topic, partition);
  return p && p->state == MK_FETCHING ? p->position : -1;
}

int64_t mk_consumer_high_watermark(struct mk_consumer *c, const char *topic, int32_t partition) {
  struct mk_partition_state *p = mk_subscription_find(&c->subs, topic, partition);
  return p ? p->high_watermark : -1;
}

int mk_consumer_seek(struct mk_consumer *c, const char *topic, int32_t partition, int64_t offset,
                     struct mk_err *err) {
  struct mk_partition_state *p = mk_subscription_find(&c->subs, topic, partition);
  if (!p)
    return mk_err_set(err, MK_ERR__STATE, "No current assignment for partition %s-%d", topic,
                      partition);
  if (offset < 0)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "seek offset must not be a negative number");
  mk_subscription_seek(p, offset);
  return 0;
}

static void reset_all(struct mk_consumer *c, int64_t to) {
  for (int i = 0; i < c->subs.nparts; i++) mk_subscription_request_reset(&c->subs.parts[i], to);
}

void mk_consumer_seek_to_beginning(struct mk_consumer *c) { reset_all(c, MK_OFFSET_EARLIEST); }
void mk_consumer_seek_to_end(struct mk_consumer *c) { reset_all(c, MK_OFFSET_LATEST); }

void mk_consumer_skip_corrupt_batches(struct mk_consumer *c, bool skip) { c->skip_corrupt = skip; }

int mk_consumer_assignment(struct mk_consumer *c, struct mk_topic_partition *out, int max) {
  return mk_subscription_assignment(&c->subs, out, max);
}

void mk_consumer_group_metadata(struct mk_consumer *c, struct mk_consumer_group_metadata *out) {
  memset(out, 0, sizeof *out);
  out->generation_id = -1;
  if (c->coordinator) mk_consumer_coordinator_group_metadata(c->coordinator, out);
}

/* ---- closing --------------------------------------------------------------------------------- */

static void free_consumer(struct mk_consumer *c) {
  if (c->coordinator) {
    mk_consumer_coordinator_free(c->coordinator);
    free(c->coordinator);
  }
  mk_fetcher_clear(c);
  mk_arena_free(&c->fetch.arena);
  mk_subscription_free(&c->subs);
  free_topics(c);
  free(c->given);
  mk_client_free(&c->client);
  for (int i = 0; i < 2; i++)
    if (c->wake_pipe[i] >= 0) close(c->wake_pipe[i]);
  mk_consumer_config_free(c->cfg);
  free(c);
}

void mk_consumer_close(struct mk_consumer *c) {
  if (!c) return;
  take_wakeup(c);  /* a wakeup meant for poll() must not cut the close short */
  if (c->coordinator) {
    int64_t timeout = c->cfg->default_api_timeout_ms < DEFAULT_CLOSE_TIMEOUT_MS
                          ? c->cfg->default_api_timeout_ms
                          : DEFAULT_CLOSE_TIMEOUT_MS;
    mk_consumer_coordinator_close(c->coordinator, mk_consumer_now_ms() + timeout);
  }
  free_consumer(c);
}

void mk_consumer_abandon(struct mk_consumer *c) {
  if (!c) return;
  free_consumer(c);  /* the heartbeat thread stops; nothing is sent */
}
