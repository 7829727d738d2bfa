/*
 * Cluster: creating, finding and deleting topics, and placing their replicas.
 * See cluster.h for the model.
 */
#include "broker/cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "broker/config.h"
#include "broker/state_events.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/trace.h"

const char *mk_cluster_advertised_host(const struct mk_cluster *c) {
  return c->cfg.advertised_host[0] ? c->cfg.advertised_host : c->cfg.host;
}

struct mk_topic *mk_cluster_find_topic(struct mk_cluster *c, struct mk_str name) {
  for (struct mk_topic *t = c->topics; t; t = t->next)
    if (name.len >= 0 && strlen(t->name) == (size_t)name.len &&
        memcmp(t->name, name.ptr, (size_t)name.len) == 0)
      return t;
  return NULL;
}

struct mk_topic *mk_cluster_find_topic_id(struct mk_cluster *c, struct mk_uuid id) {
  for (struct mk_topic *t = c->topics; t; t = t->next)
    if (memcmp(t->id.b, id.b, sizeof id.b) == 0) return t;
  return NULL;
}

int mk_cluster_validate_topic_name(struct mk_str name, struct mk_err *err) {
  if (name.len <= 0)
    return mk_err_set(err, MK_ERR_INVALID_TOPIC_EXCEPTION, "topic name is empty");
  if (name.len > 249)
    return mk_err_set(err, MK_ERR_INVALID_TOPIC_EXCEPTION,
                      "topic name is %d characters; the limit is 249", name.len);
  if ((name.len == 1 && name.ptr[0] == '.') ||
      (name.len == 2 && name.ptr[0] == '.' && name.ptr[1] == '.'))
    return mk_err_set(err, MK_ERR_INVALID_TOPIC_EXCEPTION, "topic name cannot be \".\" or \"..\"");
  for (int i = 0; i < name.len; i++) {
    char c = name.ptr[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok)
      return mk_err_set(err, MK_ERR_INVALID_TOPIC_EXCEPTION,
                        "topic name \"%.*s\" has '%c' at %d; allowed are a-z A-Z 0-9 . _ -",
                        name.len, name.ptr, c, i);
  }
  return 0;
}

static void random_uuid(struct mk_uuid *id) {
  if (uv_random(NULL, NULL, id->b, sizeof id->b, 0, NULL) != 0) {
    /* No entropy source: fall back to a counter, which is still unique in this process. */
    static uint64_t n;
    memset(id->b, 0, sizeof id->b);
    memcpy(id->b, &(uint64_t){++n}, sizeof n);
  }
  id->b[6] = (uint8_t)((id->b[6] & 0x0f) | 0x40);  /* a version-4 uuid, as Kafka makes */
  id->b[8] = (uint8_t)((id->b[8] & 0x3f) | 0x80);
}

static void free_partition(struct mk_partition *part) {
  if (!part) return;
  for (int r = 0; r < part->nreplicas && part->replicas; r++) mk_log_free(&part->replicas[r].log);
  free(part->replicas);
  mk_producer_state_free(&part->producers);
  free(part);
}

static void free_topic(struct mk_topic *t) {
  for (int32_t p = 0; p < t->npartitions; p++) free_partition(t->partitions[p]);
  free(t->partitions);
  free(t->name);
  free(t);
}

/* Grow t to `count` partitions, the new ones placed on the ring of live brokers: partition
 * p's replicas are live[(start + p + r) % nlive], the first being the preferred leader. */
static int add_partitions(struct mk_topic *t, int32_t count, int32_t replication_factor,
                          const int32_t *live, int nlive, int start,
                          struct mk_log_usage *usage, struct mk_err *err) {
  struct mk_partition **grown = realloc(t->partitions, (size_t)count * sizeof *grown);
  if (!grown) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory adding partitions");
  t->partitions = grown;
  for (int32_t p = t->npartitions; p < count; p++) {
    struct mk_partition *part = calloc(1, sizeof *part);
    struct mk_replica *reps = calloc((size_t)replication_factor, sizeof *reps);
    if (!part || !reps) {
      free(part);
      free(reps);
      return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory adding partitions");
    }
    part->topic = t;
    part->index = p;
    part->nreplicas = replication_factor;
    part->replicas = reps;
    int64_t now_ms = mk_wall_ms();
    for (int r = 0; r < replication_factor; r++) {
      struct mk_replica *rep = &reps[r];
      rep->broker_id = live[(start + p + r) % nlive];
      rep->in_isr = true;
      mk_log_init(&rep->log);
      rep->log.usage = usage;  /* log.memory.max.bytes counts every log */
      /* A follower fetches from the moment it exists: its first fetch, at offset 0, waits
       * at the leader for the first append (replica_fetcher.h). */
      bool follower = r > 0;
      rep->leader_view_leo = follower ? 0 : -1;
      rep->last_caught_up_ms = now_ms;
      rep->fetch_state = follower ? MK_FETCH_PARKED : MK_FETCH_STOPPED;
      rep->fetch_sent_ms = now_ms;
      rep->fetch_due_ms = -1;
    }
    part->leader = reps[0].broker_id;
    part->leader_epoch = 0;
    mk_producer_state_init(&part->producers);
    t->partitions[t->npartitions++] = part;
  }
  return 0;
}

int mk_cluster_add_partitions(struct mk_cluster *c, struct mk_topic *t, int32_t count,
                              struct mk_err *err) {
  if (count <= t->npartitions)
    return mk_err_set(err, MK_ERR_INVALID_PARTITIONS,
                      "The topic %s currently has %d partition(s); %d would not be an increase.",
                      t->name, t->npartitions, count);
  if (count > 10000)
    return mk_err_set(err, MK_ERR_INVALID_PARTITIONS,
                      "Number of partitions %d exceeds minikafka's limit of 10000.", count);
  int32_t live[MK_MAX_BROKERS];
  int nlive = 0;
  for (int i = 0; i < c->nnodes; i++)
    if (c->nodes[i].up) live[nlive++] = c->nodes[i].id;
  int32_t rf = t->partitions[0]->nreplicas;
  if (rf > nlive)
    return mk_err_set(err, MK_ERR_INVALID_REPLICATION_FACTOR,
                      "Unable to replicate the partition %d time(s): only %d broker(s) are live.",
                      rf, nlive);
  /* The ring continues where partition 0 started it, as Kafka's placement does when it
   * adds partitions: the new ones' leaders keep spreading round the brokers. */
  int start = 0;
  for (int i = 0; i < nlive; i++)
    if (live[i] == t->partitions[0]->replicas[0].broker_id) start = i;
  int32_t before = t->npartitions;
  int rc = add_partitions(t, count, rf, live, nlive, start, &c->log_usage, err);
  if (rc) return rc;
  mk_log(MK_LOG_INFO, "broker", "topic %s: %d partitions, now %d", t->name, before, count);
  for (int32_t p = before; p < count; p++) mk_state_event_partition(t->partitions[p], NULL, NULL);
  return 0;
}

int mk_cluster_create_topic(struct mk_cluster *c, struct mk_str name, int32_t partitions,
                            int32_t replication_factor, struct mk_topic **out,
                            struct mk_err *err) {
  int rc = mk_cluster_validate_topic_name(name, err);
  if (rc) return rc;
  if (mk_cluster_find_topic(c, name))
    return mk_err_set(err, MK_ERR_TOPIC_ALREADY_EXISTS, "topic \"%.*s\" already exists", name.len,
                      name.ptr);
  if (partitions == -1) partitions = c->cfg.num_partitions;
  if (replication_factor == -1) replication_factor = c->cfg.default_replication_factor;
  if (partitions < 1 || partitions > 10000)
    return mk_err_set(err, MK_ERR_INVALID_PARTITIONS,
                      "number of partitions must be 1-10000, got %d", partitions);
  /* Replicas go only on live brokers, as Kafka's controller places them. */
  int32_t live[MK_MAX_BROKERS];
  int nlive = 0;
  for (int i = 0; i < c->nnodes; i++)
    if (c->nodes[i].up) live[nlive++] = c->nodes[i].id;
  if (replication_factor < 1 || replication_factor > nlive)
    return mk_err_set(err, MK_ERR_INVALID_REPLICATION_FACTOR,
                      "replication factor %d: must be 1-%d (there are %d live brokers)",
                      replication_factor, nlive, nlive);

  struct mk_topic *t = calloc(1, sizeof *t);
  char *tname = malloc((size_t)name.len + 1);
  if (!t || !tname) {
    free(t);
    free(tname);
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory creating topic");
  }
  memcpy(tname, name.ptr, (size_t)name.len);
  tname[name.len] = '\0';
  t->name = tname;
  mk_topic_config_init(&t->config);
  random_uuid(&t->id);

  /* Kafka's rack-unaware placement: a ring of the live brokers, starting at a rotating one. */
  int start = c->next_placement++ % nlive;
  if (add_partitions(t, partitions, replication_factor, live, nlive, start, &c->log_usage, err)) {
    free_topic(t);
    return err ? err->code : MK_ERR__NO_MEMORY;
  }
  t->next = c->topics;
  c->topics = t;
  mk_log(MK_LOG_INFO, "broker", "created topic %s: %d partitions, replication factor %d",
         t->name, partitions, replication_factor);
  for (int32_t p = 0; p < t->npartitions; p++) mk_state_event_partition(t->partitions[p], NULL, NULL);
  if (out) *out = t;
  return 0;
}

void mk_cluster_delete_topic(struct mk_cluster *c, struct mk_topic *t) {
  for (struct mk_topic **pp = &c->topics; *pp; pp = &(*pp)->next) {
    if (*pp == t) {
      *pp = t->next;
      break;
    }
  }
  mk_log(MK_LOG_INFO, "broker", "deleted topic %s", t->name);
  if (mk_trace_on()) {
    struct mk_trace_event ev;
    mk_trace_begin(&ev, "broker", "topic_delete");
    mk_trace_str(&ev, "topic", t->name);
    mk_trace_end(&ev);
  }
  free_topic(t);
}

void mk_cluster_free(struct mk_cluster *c) {
  while (c->topics) {
    struct mk_topic *t = c->topics;
    c->topics = t->next;
    free_topic(t);
  }
}

struct mk_partition *mk_cluster_partition(struct mk_topic *t, int32_t index) {
  return t && index >= 0 && index < t->npartitions ? t->partitions[index] : NULL;
}

struct mk_replica *mk_partition_replica(struct mk_partition *p, int32_t broker_id) {
  for (int r = 0; r < p->nreplicas; r++)
    if (p->replicas[r].broker_id == broker_id) return &p->replicas[r];
  return NULL;
}

struct mk_replica *mk_partition_leader(struct mk_partition *p) {
  return p->leader < 0 ? NULL : mk_partition_replica(p, p->leader);
}

int64_t mk_partition_log_start_offset(struct mk_partition *p) {
  /* With no leader (every replica down), the first replica's log says where it starts. */
  const struct mk_replica *leader = mk_partition_leader(p);
  const struct mk_replica *start = leader ? leader : p->nreplicas ? &p->replicas[0] : NULL;
  return start ? start->log.log_start_offset : 0;
}

int64_t mk_partition_last_stable_offset(const struct mk_partition *p) {
  int64_t first = mk_producer_state_first_unstable_offset(&p->producers);
  return first >= 0 && first < p->high_watermark ? first : p->high_watermark;
}

void mk_topic_id_string(const struct mk_uuid *id, char out[23]) {
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  int n = 0;
  for (int i = 0; i < 16; i += 3) {
    uint32_t v = (uint32_t)id->b[i] << 16;
    if (i + 1 < 16) v |= (uint32_t)id->b[i + 1] << 8;
    if (i + 2 < 16) v |= id->b[i + 2];
    out[n++] = b64[(v >> 18) & 63];
    out[n++] = b64[(v >> 12) & 63];
    if (i + 1 < 16) out[n++] = b64[(v >> 6) & 63];
    if (i + 2 < 16) out[n++] = b64[v & 63];
  }
  out[n] = '\0';
}

int mk_partition_isr_count(const struct mk_partition *p) {
  int n = 0;
  for (int r = 0; r < p->nreplicas; r++) n += p->replicas[r].in_isr;
  return n;
}

int32_t mk_topic_min_insync_replicas(const struct mk_cluster *c, const struct mk_topic *t) {
  return t->config.min_insync_replicas >= 0 ? t->config.min_insync_replicas
                                            : c->cfg.min_insync_replicas;
}

bool mk_topic_log_append_time(const struct mk_cluster *c, const struct mk_topic *t) {
  return (t->config.message_timestamp_type >= 0 ? t->config.message_timestamp_type
                                                : c->cfg.log_message_timestamp_type) == 1;
}

int32_t mk_topic_max_message_bytes(const struct mk_cluster *c, const struct mk_topic *t) {
  return t->config.max_message_bytes >= 0 ? t->config.max_message_bytes
                                          : c->cfg.message_max_bytes;
}

/* ---- what faults may name (faults.h) ------------------------------------------------------ */

static bool fault_broker(const void *ctx, int32_t id, char *ids, size_t len) {
  const struct mk_cluster *c = ctx;
  snprintf(ids, len, "0-%d", c->nnodes - 1);
  return id >= 0 && id < c->nnodes;
}

static int32_t fault_topic(const void *ctx, struct mk_str name) {
  const struct mk_topic *t = mk_cluster_find_topic((struct mk_cluster *)ctx, name);
  return t ? t->npartitions : MK_FAULT_NO_TOPIC;
}

static struct mk_str fault_topic_name(const void *ctx, struct mk_uuid id) {
  const struct mk_topic *t = mk_cluster_find_topic_id((struct mk_cluster *)ctx, id);
  return t ? mk_str_of(t->name) : MK_STR_NULL;
}

struct mk_fault_targets mk_cluster_fault_targets(const struct mk_cluster *c) {
  return (struct mk_fault_targets){c, fault_broker, fault_topic, fault_topic_name};
}
