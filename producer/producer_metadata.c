/*
 * ProducerMetadata: see producer_metadata.h.
 *
 * One lock guards the topic table and the broker list. The Sender is the only writer,
 * so it may read without the lock; application threads read under it (and keep only
 * snapshot references, which are immutable).
 */
#include "producer/producer_metadata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "protocol/messages/metadata.h"

struct topic_entry {
  char *name;
  struct mk_topic_snapshot *snapshot;  /* NULL until a Metadata answer included it */
  int16_t error;                       /* the last answer's error for it */
};

struct node_entry {
  int32_t id;
  char host[256];
  int port;
};

struct mk_producer_metadata {
  pthread_mutex_t lock;
  pthread_cond_t updated;
  struct topic_entry *topics;
  int ntopics, topics_cap;
  struct node_entry *nodes;
  int nnodes;
  bool need_update;
  bool closed;
  int64_t last_update_ms;  /* -1: never */
  int64_t max_age_ms;
};

static int64_t now_ms(void) { return mk_now_us() / 1000; }

struct mk_producer_metadata *mk_producer_metadata_new(int64_t max_age_ms) {
  struct mk_producer_metadata *md = calloc(1, sizeof *md);
  if (!md) return NULL;
  pthread_mutex_init(&md->lock, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&md->updated, &attr);
  pthread_condattr_destroy(&attr);
  md->last_update_ms = -1;
  md->max_age_ms = max_age_ms;
  return md;
}

void mk_topic_snapshot_release(struct mk_topic_snapshot *s) {
  if (!s || atomic_fetch_sub(&s->refs, 1) != 1) return;
  free(s->leaders);
  free(s->leader_epochs);
  free(s->available);
  free(s);
}

static struct mk_topic_snapshot *retain(struct mk_topic_snapshot *s) {
  if (s) atomic_fetch_add(&s->refs, 1);
  return s;
}

void mk_producer_metadata_free(struct mk_producer_metadata *md) {
  if (!md) return;
  for (int i = 0; i < md->ntopics; i++) {
    free(md->topics[i].name);
    mk_topic_snapshot_release(md->topics[i].snapshot);
  }
  free(md->topics);
  free(md->nodes);
  pthread_mutex_destroy(&md->lock);
  pthread_cond_destroy(&md->updated);
  free(md);
}

static struct topic_entry *find(struct mk_producer_metadata *md, const char *topic) {
  for (int i = 0; i < md->ntopics; i++)
    if (strcmp(md->topics[i].name, topic) == 0) return &md->topics[i];
  return NULL;
}

static struct topic_entry *add(struct mk_producer_metadata *md, const char *topic) {
  if (md->ntopics == md->topics_cap) {
    int cap = md->topics_cap ? md->topics_cap * 2 : 8;
    struct topic_entry *t = realloc(md->topics, sizeof *t * (size_t)cap);
    if (!t) return NULL;
    md->topics = t;
    md->topics_cap = cap;
  }
  char *name = strdup(topic);
  if (!name) return NULL;
  md->topics[md->ntopics] = (struct topic_entry){name, NULL, 0};
  return &md->topics[md->ntopics++];
}

/* Errors that will not go away by waiting. */
static bool fatal_topic_error(int16_t e) {
  return e == MK_ERR_INVALID_TOPIC_EXCEPTION || e == MK_ERR_TOPIC_AUTHORIZATION_FAILED;
}

struct mk_topic_snapshot *mk_producer_metadata_topic(struct mk_producer_metadata *md,
                                                     const char *topic, int64_t max_wait_ms,
                                                     int64_t *waited_ms, void (*wake)(void *),
                                                     void *wake_arg, struct mk_err *err) {
  /* The clock is read only if the topic is not there yet: a known topic, the case of
   * nearly every send, costs one lookup and no clock read (Java's waitOnMetadata). */
  int64_t start = -1, deadline_ms = -1;
  *waited_ms = 0;
  pthread_mutex_lock(&md->lock);
  struct topic_entry *t = find(md, topic);
  if (!t && !(t = add(md, topic))) {
    pthread_mutex_unlock(&md->lock);
    mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
    return NULL;
  }
  for (;;) {
    if (t->snapshot && t->snapshot->count > 0) {
      struct mk_topic_snapshot *s = retain(t->snapshot);
      pthread_mutex_unlock(&md->lock);
      if (start >= 0) *waited_ms = now_ms() - start;
      return s;
    }
    if (fatal_topic_error(t->error)) {
      int16_t e = t->error;
      pthread_mutex_unlock(&md->lock);
      mk_err_set(err, e, "topic %s: %s", topic, mk_err_name(e));
      return NULL;
    }
    if (md->closed) {
      pthread_mutex_unlock(&md->lock);
      mk_err_set(err, MK_ERR__STATE, "the producer is closing");
      return NULL;
    }
    int64_t now = now_ms();
    if (start < 0) {
      start = now;
      deadline_ms = now + max_wait_ms;
    }
    /* Ask for the topic before giving up (Java's requestUpdateForTopic then awaitUpdate):
     * with max.block.ms=0 this send fails, and a later one finds the topic. */
    md->need_update = true;
    if (wake) wake(wake_arg);
    if (now >= deadline_ms) {
      pthread_mutex_unlock(&md->lock);
      mk_err_set(err, MK_ERR_REQUEST_TIMED_OUT, "Topic %s not present in metadata after %lld ms.",
                 topic, (long long)(now - start));
      return NULL;
    }
    struct timespec until = {(time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000};
    pthread_cond_timedwait(&md->updated, &md->lock, &until);
    t = find(md, topic);  /* the table may have grown (and moved) while we waited */
  }
}

void mk_producer_metadata_request_update(struct mk_producer_metadata *md) {
  pthread_mutex_lock(&md->lock);
  md->need_update = true;
  pthread_mutex_unlock(&md->lock);
}

bool mk_producer_metadata_needs_update(struct mk_producer_metadata *md, int64_t now) {
  pthread_mutex_lock(&md->lock);
  bool need = md->ntopics > 0 &&
              (md->need_update || md->last_update_ms < 0 || now - md->last_update_ms >= md->max_age_ms);
  pthread_mutex_unlock(&md->lock);
  return need;
}

int mk_producer_metadata_topics(struct mk_producer_metadata *md, const char ***names) {
  pthread_mutex_lock(&md->lock);
  int n = md->ntopics;
  *names = n ? malloc(sizeof **names * (size_t)n) : NULL;
  if (n && !*names) n = 0;
  for (int i = 0; i < n; i++) (*names)[i] = md->topics[i].name;
  pthread_mutex_unlock(&md->lock);
  return n;
}

static struct mk_topic_snapshot *snapshot_of(const struct mk_metadata_response_topic *t) {
  struct mk_topic_snapshot *s = calloc(1, sizeof *s);
  int32_t n = t->partitions_count > 0 ? t->partitions_count : 0;
  int32_t max_index = -1;
  for (int32_t i = 0; i < n; i++)
    if (t->partitions[i].partition_index > max_index) max_index = t->partitions[i].partition_index;
  int32_t count = max_index + 1;
  if (!s) return NULL;
  atomic_init(&s->refs, 1);
  s->count = count;
  s->leaders = calloc((size_t)(count ? count : 1), sizeof *s->leaders);
  s->leader_epochs = calloc((size_t)(count ? count : 1), sizeof *s->leader_epochs);
  s->available = calloc((size_t)(count ? count : 1), sizeof *s->available);
  if (!s->leaders || !s->leader_epochs || !s->available) {
    mk_topic_snapshot_release(s);
    return NULL;
  }
  for (int32_t p = 0; p < count; p++) s->leaders[p] = -1;
  for (int32_t i = 0; i < n; i++) {
    const struct mk_metadata_response_partition *pi = &t->partitions[i];
    if (pi->partition_index < 0) continue;
    s->leaders[pi->partition_index] = pi->leader_id;
    s->leader_epochs[pi->partition_index] = pi->leader_epoch;
  }
  for (int32_t p = 0; p < count; p++)
    if (s->leaders[p] >= 0) s->available[s->navailable++] = p;
  return s;
}

void mk_producer_metadata_update(struct mk_producer_metadata *md,
                                 const struct mk_metadata_response *resp, int64_t now) {
  struct node_entry *nodes = calloc((size_t)(resp->brokers_count > 0 ? resp->brokers_count : 1),
                                    sizeof *nodes);
  int nnodes = 0;
  for (int i = 0; nodes && i < resp->brokers_count; i++) {
    const struct mk_metadata_response_broker *b = &resp->brokers[i];
    nodes[nnodes].id = b->node_id;
    snprintf(nodes[nnodes].host, sizeof nodes[nnodes].host, "%.*s", b->host.len < 0 ? 0 : b->host.len,
             b->host.ptr ? b->host.ptr : "");
    nodes[nnodes++].port = b->port;
  }
  pthread_mutex_lock(&md->lock);
  if (nodes) {
    free(md->nodes);
    md->nodes = nodes;
    md->nnodes = nnodes;
  }
  for (int i = 0; i < resp->topics_count; i++) {
    const struct mk_metadata_response_topic *rt = &resp->topics[i];
    char name[256];
    snprintf(name, sizeof name, "%.*s", rt->name.len < 0 ? 0 : rt->name.len,
             rt->name.ptr ? rt->name.ptr : "");
    struct topic_entry *t = find(md, name);
    if (!t) continue;
    t->error = rt->error_code;
    if (rt->error_code == 0) {
      struct mk_topic_snapshot *s = snapshot_of(rt);
      if (s) {
        mk_topic_snapshot_release(t->snapshot);
        t->snapshot = s;
      }
    }
  }
  md->need_update = false;
  md->last_update_ms = now;
  pthread_cond_broadcast(&md->updated);
  pthread_mutex_unlock(&md->lock);
}

void mk_producer_metadata_close(struct mk_producer_metadata *md) {
  pthread_mutex_lock(&md->lock);
  md->closed = true;
  pthread_cond_broadcast(&md->updated);
  pthread_mutex_unlock(&md->lock);
}

struct mk_topic_snapshot *mk_producer_metadata_peek(struct mk_producer_metadata *md,
                                                   const char *topic) {
  pthread_mutex_lock(&md->lock);
  struct topic_entry *t = find(md, topic);
  struct mk_topic_snapshot *s = t ? retain(t->snapshot) : NULL;
  pthread_mutex_unlock(&md->lock);
  return s;
}

bool mk_producer_metadata_node(struct mk_producer_metadata *md, int32_t node_id, char *host,
                               size_t host_len, int *port) {
  for (int i = 0; i < md->nnodes; i++) {
    if (md->nodes[i].id != node_id) continue;
    snprintf(host, host_len, "%s", md->nodes[i].host);
    *port = md->nodes[i].port;
    return true;
  }
  return false;
}

int mk_producer_metadata_nodes(struct mk_producer_metadata *md, int32_t *ids, int max) {
  int n = 0;
  for (int i = 0; i < md->nnodes && n < max; i++) ids[n++] = md->nodes[i].id;
  return n;
}
