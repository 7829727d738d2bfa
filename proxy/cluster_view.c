/*
 * Cluster view: the real cluster as the proxy knows it, from the answers that pass through.
 * Kafka: the client's Metadata cache (clients/.../Metadata.java, MetadataCache), here kept
 * by a man in the middle.
 *
 * Nothing here asks the cluster anything after start: every Metadata answer a client gets
 * through the proxy is read on its way (connection.c) and teaches the view the brokers and
 * topics it names. A broker named for the first time gets its listener at once, before the
 * answer naming it leaves, so the client can reach it the moment it reads the answer.
 *
 * The view is what the proxy can honestly say from outside: brokers and their addresses,
 * and each partition's leader, leader epoch, replicas and ISR as Metadata reports them.
 * What only a broker's inside knows (log end offsets, high watermarks, each follower's
 * progress, producer state) is not here, and GET /v1/cluster says so.
 *
 * Thread: the proxy's loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "protocol/messages/metadata.h"
#include "proxy/proxy_internal.h"

/* ---- brokers ------------------------------------------------------------------------------ */

struct mk_proxy_broker *mk_proxy_find_broker(struct mk_proxy *p, int32_t node_id) {
  for (int i = 0; i < p->nbrokers; i++)
    if (p->brokers[i]->node_id == node_id) return p->brokers[i];
  return NULL;
}

struct mk_proxy_broker *mk_proxy_learn_broker(struct mk_proxy *p, int32_t node_id,
                                              struct mk_str host, int32_t port,
                                              struct mk_err *err) {
  if (host.len < 0 || host.len >= 256 || port < 0 || port > 65535) {
    mk_err_set(err, MK_ERR__DECODE, "broker %d has no usable address (host length %d, port %d)",
               node_id, host.len, port);
    return NULL;
  }
  struct mk_proxy_broker *b = mk_proxy_find_broker(p, node_id);
  if (b) {
    if (b->port != port || strlen(b->host) != (size_t)host.len ||
        memcmp(b->host, host.ptr, (size_t)host.len) != 0) {
      mk_log(MK_LOG_INFO, "proxy", "broker %d moved from %s:%d to %.*s:%d", node_id, b->host,
             b->port, host.len, host.ptr, port);
      snprintf(b->host, sizeof b->host, "%.*s", host.len, host.ptr);
      b->port = port;  /* new connections go there; open ones stay where they are */
    }
    return b;
  }
  if (p->nbrokers == MK_PROXY_MAX_BROKERS) {
    mk_err_set(err, MK_ERR__STATE, "the cluster has more than %d brokers, the most the proxy "
               "listens for", MK_PROXY_MAX_BROKERS);
    return NULL;
  }
  b = calloc(1, sizeof *b);
  if (!b) {
    mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
    return NULL;
  }
  b->proxy = p;
  b->node_id = node_id;
  snprintf(b->host, sizeof b->host, "%.*s", host.len, host.ptr);
  b->port = port;
  b->index = p->nbrokers;
  p->brokers[p->nbrokers++] = b;
  /* One that appears after start (the cluster grew) is listened for at once. */
  if (p->nbrokers_at_start > 0 && mk_proxy_listen(b, err)) {
    p->nbrokers--;
    free(b);
    return NULL;
  }
  if (p->nbrokers_at_start > 0)
    mk_log(MK_LOG_INFO, "proxy", "broker %d (%s:%d) appeared: listening for it on %s:%d",
           node_id, b->host, b->port, p->host, b->listen_port);
  return b;
}

/* The rewrite map's function: the listener for a broker, learning the broker if new. */
static int listener_for(void *ctx, int32_t node_id, struct mk_str host, int32_t port,
                        struct mk_str *out_host, int32_t *out_port, struct mk_err *err) {
  struct mk_proxy *p = ctx;
  struct mk_proxy_broker *b = mk_proxy_learn_broker(p, node_id, host, port, err);
  if (!b) return err->code ? err->code : MK_ERR__STATE;
  *out_host = mk_str_of(p->host);
  *out_port = b->listen_port;
  return 0;
}

struct mk_rewrite_map mk_proxy_rewrite_map(struct mk_proxy *p) {
  return (struct mk_rewrite_map){listener_for, p};
}

/* ---- topics ---------------------------------------------------------------------------------- */

static void free_topic(struct mk_proxy_topic *t) {
  for (int32_t i = 0; i < t->npartitions; i++) {
    free(t->partitions[i].replicas);
    free(t->partitions[i].isr);
  }
  free(t->partitions);
  free(t->name);
  free(t);
}

static struct mk_proxy_topic *find_topic(const struct mk_proxy *p, struct mk_str name) {
  for (struct mk_proxy_topic *t = p->topics; t; t = t->next)
    if (name.len >= 0 && strlen(t->name) == (size_t)name.len &&
        memcmp(t->name, name.ptr, (size_t)name.len) == 0)
      return t;
  return NULL;
}

static void forget_topic(struct mk_proxy *p, struct mk_proxy_topic *gone) {
  for (struct mk_proxy_topic **pp = &p->topics; *pp; pp = &(*pp)->next)
    if (*pp == gone) {
      *pp = gone->next;
      free_topic(gone);
      p->ntopics--;
      return;
    }
}

static int32_t *copy_ids(const int32_t *ids, int32_t n) {
  int32_t *out = calloc(n > 0 ? (size_t)n : 1, sizeof *out);
  if (out && n > 0) memcpy(out, ids, (size_t)n * sizeof *out);
  return out;
}

/* A topic as one Metadata answer describes it (NULL when out of memory). */
static struct mk_proxy_topic *topic_of(const struct mk_metadata_response_topic *in) {
  struct mk_proxy_topic *t = calloc(1, sizeof *t);
  int32_t n = in->partitions_count > 0 ? in->partitions_count : 0;
  if (!t || !(t->name = malloc((size_t)in->name.len + 1)) ||
      !(t->partitions = calloc(n ? (size_t)n : 1, sizeof *t->partitions))) {
    if (t) free(t->name);
    free(t);
    return NULL;
  }
  memcpy(t->name, in->name.ptr, (size_t)in->name.len);
  t->name[in->name.len] = '\0';
  t->id = in->topic_id;
  t->internal = in->is_internal;
  for (int32_t i = 0; i < n; i++) {
    const struct mk_metadata_response_partition *ip = &in->partitions[i];
    struct mk_proxy_partition *op = &t->partitions[t->npartitions++];
    op->index = ip->partition_index;
    op->error_code = ip->error_code;
    op->leader = ip->leader_id;
    op->leader_epoch = ip->leader_epoch;
    op->nreplicas = ip->replica_nodes_count > 0 ? ip->replica_nodes_count : 0;
    op->nisr = ip->isr_nodes_count > 0 ? ip->isr_nodes_count : 0;
    op->replicas = copy_ids(ip->replica_nodes, op->nreplicas);
    op->isr = copy_ids(ip->isr_nodes, op->nisr);
    if (!op->replicas || !op->isr) {
      free_topic(t);
      return NULL;
    }
  }
  return t;
}

void mk_proxy_learn_metadata(struct mk_proxy *p, const struct mk_metadata_response *md,
                             bool all_topics) {
  if (md->cluster_id.len > 0)
    snprintf(p->cluster_id, sizeof p->cluster_id, "%.*s", md->cluster_id.len, md->cluster_id.ptr);
  p->controller_id = md->controller_id;
  for (int32_t i = 0; i < md->topics_count; i++) {
    const struct mk_metadata_response_topic *in = &md->topics[i];
    if (in->name.len <= 0) continue;  /* by id only (v10+ answers to requests by id) */
    struct mk_proxy_topic *old = find_topic(p, in->name);
    if (in->error_code == MK_ERR_UNKNOWN_TOPIC_OR_PARTITION) {
      if (old) forget_topic(p, old);
      continue;
    }
    if (in->error_code) continue;  /* a passing state (LEADER_NOT_AVAILABLE): keep the last */
    if (!old && p->ntopics >= MK_PROXY_MAX_TOPICS) continue;
    struct mk_proxy_topic *t = topic_of(in);
    if (!t) continue;  /* out of memory: the view stays as it was */
    if (old) forget_topic(p, old);
    t->next = p->topics;
    p->topics = t;
    p->ntopics++;
  }
  if (!all_topics) return;
  /* An answer for every topic: those it does not name are gone. */
  for (struct mk_proxy_topic *t = p->topics, *next; t; t = next) {
    next = t->next;
    bool named = false;
    for (int32_t i = 0; !named && i < md->topics_count; i++)
      named = mk_str_eq(md->topics[i].name, t->name);
    if (!named) forget_topic(p, t);
  }
}

/* ---- what faults may name --------------------------------------------------------------- */

static bool fault_broker(const void *ctx, int32_t id, char *ids, size_t len) {
  const struct mk_proxy *p = ctx;
  size_t n = 0;
  ids[0] = '\0';
  for (int i = 0; i < p->nbrokers && n < len; i++)
    n += (size_t)snprintf(ids + n, len - n, "%s%d", i ? ", " : "", p->brokers[i]->node_id);
  return mk_proxy_find_broker((struct mk_proxy *)p, id) != NULL;
}

/* A topic the proxy has not seen may still exist: a real cluster's topics are created and
 * deleted without the proxy hearing of it, until a client asks. */
static int32_t fault_topic(const void *ctx, struct mk_str name) {
  const struct mk_proxy_topic *t = find_topic(ctx, name);
  return t ? t->npartitions : MK_FAULT_TOPIC_UNSEEN;
}

static struct mk_str fault_topic_name(const void *ctx, struct mk_uuid id) {
  static const struct mk_uuid zero;
  if (memcmp(&id, &zero, sizeof id) == 0) return MK_STR_NULL;
  for (const struct mk_proxy_topic *t = ((const struct mk_proxy *)ctx)->topics; t; t = t->next)
    if (memcmp(&t->id, &id, sizeof id) == 0) return mk_str_of(t->name);
  return MK_STR_NULL;
}

struct mk_fault_targets mk_proxy_fault_targets(const struct mk_proxy *p) {
  return (struct mk_fault_targets){p, fault_broker, fault_topic, fault_topic_name};
}

/* ---- GET /v1/cluster ------------------------------------------------------------------------ */

static json_t *ids_json(const int32_t *ids, int32_t n) {
  json_t *a = json_array();
  for (int32_t i = 0; a && i < n; i++) json_array_append_new(a, json_integer(ids[i]));
  return a;
}

static json_t *partition_json(const struct mk_proxy_partition *pp) {
  json_t *replicas = json_array();
  for (int32_t i = 0; replicas && i < pp->nreplicas; i++) {
    bool in_isr = false;
    for (int32_t j = 0; j < pp->nisr; j++) in_isr |= pp->isr[j] == pp->replicas[i];
    json_array_append_new(replicas, json_pack("{s:i, s:b}", "broker", pp->replicas[i], "in_isr",
                                              in_isr));
  }
  json_t *o = json_pack("{s:i, s:i, s:i, s:o, s:o}", "partition", pp->index, "leader",
                        pp->leader, "leader_epoch", pp->leader_epoch, "isr",
                        ids_json(pp->isr, pp->nisr), "replicas", replicas);
  if (o && pp->error_code)
    json_object_set_new(o, "error", json_string(mk_err_name(pp->error_code)));
  return o;
}

json_t *mk_proxy_cluster_state(const struct mk_proxy *p) {
  json_t *brokers = json_array(), *topics = json_array();
  for (int i = 0; brokers && i < p->nbrokers; i++) {
    const struct mk_proxy_broker *b = p->brokers[i];
    json_array_append_new(
        brokers, json_pack("{s:i, s:s, s:i, s:b, s:{s:s, s:i}}", "id", b->node_id, "host",
                           p->host, "port", b->listen_port, "up", b->up, "upstream", "host",
                           b->host, "port", b->port));
  }
  for (const struct mk_proxy_topic *t = p->topics; topics && t; t = t->next) {
    json_t *parts = json_array();
    for (int32_t i = 0; parts && i < t->npartitions; i++)
      json_array_append_new(parts, partition_json(&t->partitions[i]));
    json_array_append_new(topics, json_pack("{s:s, s:b, s:o}", "name", t->name, "internal",
                                            t->internal, "partitions", parts));
  }
  return json_pack(
      "{s:b, s:s, s:s, s:i, s:o, s:o, s:s}", "proxy", 1, "upstream", p->bootstrap_servers,
      "cluster_id", p->cluster_id, "controller", p->controller_id, "brokers", brokers,
      "topics", topics, "not_visible",
      "seen from outside the cluster: brokers, and each partition's leader, epoch, replicas "
      "and ISR as Metadata answers report them; log end offsets, high watermarks, followers' "
      "progress and producer state live inside the brokers, and replication events never "
      "reach the proxy");
}

void mk_proxy_view_free(struct mk_proxy *p) {
  while (p->topics) {
    struct mk_proxy_topic *t = p->topics;
    p->topics = t->next;
    free_topic(t);
  }
  for (int i = 0; i < p->nbrokers; i++) free(p->brokers[i]);
  p->nbrokers = 0;
}
