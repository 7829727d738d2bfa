/*
 * Labs on a real cluster: `minikafka lab NAME --bootstrap-server HOST:PORT`.
 * (lab.h, "the broker"; proxy/proxy.h; README.md "On a real cluster")
 *
 *   the lab's producer --> an embedded proxy (faults, the trace) --> the real cluster
 *   the lab itself     --> the real cluster directly (creating, reading, deleting topics),
 *                          so its own requests stay out of the timeline
 *
 * What changes for a scenario, and what does not:
 *   - mk_lab_broker_start starts a proxy in front of the cluster instead of a broker;
 *     broker settings (--set broker.X) cannot reach a real cluster and are ignored, saying so
 *   - a topic the lab creates as "dups-off" is "dups-off-mkXXXXXX" on the cluster (a tag per
 *     start, so runs and classmates never share a topic) and is deleted when the lab ends;
 *     every helper that takes a topic (sends, faults, counting events, reading the log) says
 *     the lab's name and gets the cluster's; mk_lab_topic tells a scenario the real one
 *   - topic configs go with CreateTopics; a topic grows with CreatePartitions
 *   - faults go to the proxy: drop_response, error, delay, broker_down and broker_up work;
 *     those that act inside a cluster are refused (a lab that needs them says so first)
 *   - --admin-port serves the proxy's admin API and the dashboard (proxy/admin.c)
 *   - the trace has the producer's events and the proxy's: requests and answers, and the
 *     appends and recognised retries read from Produce answers ("via": "proxy"); never
 *     replication, high watermarks or ISR changes
 *   - a partition's state comes from Metadata and ListOffsets: leader, epoch, replicas, ISR,
 *     high watermark and log start; each replica's own log end stays unknown (-1)
 *   - the log is read with Fetch from the leader, up to the high watermark (what any
 *     consumer sees)
 *
 * A cluster that cannot create topics (CreateTopics: librdkafka's mock cluster) stops the
 * lab with a sentence saying what to create, unless the embedding program gave a way
 * (mk_lab_options.create_topic: tests create them in the mock through its own API; such a
 * topic gets no configs, and the lab says so). On a cluster that cannot add partitions
 * (CreatePartitions), a new topic with the grown count stands in for the grown one, under
 * the same lab name, and the lab says so: where keys land depends on the count alone.
 *
 * Thread: app.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "client/client.h"
#include "common/clock.h"
#include "labs/lab_internal.h"
#include "protocol/api.h"
#include "protocol/messages/create_partitions.h"
#include "protocol/messages/create_topics.h"
#include "protocol/messages/delete_topics.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/list_offsets.h"
#include "protocol/record_batch.h"
#include "proxy/proxy.h"

enum { MAX_TOPICS = 64 };

struct mk_lab_cluster {
  struct mk_proxy *proxy;
  struct mk_client client;       /* to the real cluster, not through the proxy */
  char tag[16];                  /* "mk3f9a1c": this start's suffix for topic names */
  struct {
    char name[128];              /* as the lab says it (a name may come twice: the newest
                                    entry is the topic it means now) */
    char real[256];              /* as the cluster knows it */
  } topics[MAX_TOPICS];
  int ntopics;
};

/* ---- topic names ------------------------------------------------------------------------ */

const char *mk_lab_topic(struct mk_lab_ctx *ctx, const char *name) {
  struct mk_lab_cluster *lc = ctx->cluster;
  for (int i = lc && name ? lc->ntopics - 1 : -1; i >= 0; i--)
    if (strcmp(lc->topics[i].name, name) == 0) return lc->topics[i].real;
  return name;
}

bool mk_lab_external(struct mk_lab_ctx *ctx) { return ctx->opts->bootstrap_server != NULL; }

/* ---- start and stop ----------------------------------------------------------------------- */

static void delete_topics(struct mk_lab_ctx *ctx, struct mk_lab_cluster *lc) {
  if (lc->ntopics == 0) return;
  struct mk_err err = {0};
  int version = mk_client_version(&lc->client.bootstrap, MK_API_DELETE_TOPICS, &err);
  char names[1024] = "";
  for (int i = 0; i < lc->ntopics; i++)
    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
             lc->topics[i].real);
  if (version < 0) {
    mk_lab_note(ctx, "\nthe lab's topics stay on the cluster (%s): it does not delete topics "
                "(%s)", names, err.msg);
    return;
  }
  struct mk_str strs[MAX_TOPICS];
  struct mk_delete_topics_delete_topic_state states[MAX_TOPICS];
  for (int i = 0; i < lc->ntopics; i++) {
    strs[i] = mk_str_of(lc->topics[i].real);
    mk_schema_set_defaults(&mk_delete_topics_delete_topic_state_schema, &states[i]);
    states[i].name = strs[i];
  }
  struct mk_delete_topics_request req;
  mk_schema_set_defaults(&mk_delete_topics_request_schema, &req);
  if (version >= 6) {
    req.topics = states;
    req.topics_count = lc->ntopics;
  } else {
    req.topic_names = strs;
    req.topic_names_count = lc->ntopics;
  }
  req.timeout_ms = 30000;
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_delete_topics_response *resp = NULL;
  int rc = mk_client_call(&lc->client.bootstrap, MK_API_DELETE_TOPICS, &req, (void **)&resp, &a,
                          &err);
  int failed = 0;
  for (int32_t i = 0; !rc && i < resp->responses_count; i++)
    failed += resp->responses[i].error_code != 0;
  if (rc || failed)
    mk_lab_note(ctx, "\ncould not delete every topic of the lab (%s): %s", names,
                rc ? err.msg : "the cluster refused some");
  mk_arena_free(&a);
}

void mk_lab_cluster_stop(struct mk_lab_ctx *ctx) {
  struct mk_lab_cluster *lc = ctx->cluster;
  if (!lc) return;
  ctx->cluster = NULL;
  mk_proxy_free(lc->proxy);
  delete_topics(ctx, lc);
  mk_client_free(&lc->client);
  free(lc);
}

int mk_lab_cluster_start(struct mk_lab_ctx *ctx) {
  mk_lab_cluster_stop(ctx);
  const char *servers = ctx->opts->bootstrap_server;
  struct mk_lab_cluster *lc = calloc(1, sizeof *lc);
  if (!lc) return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  uint32_t rnd = 0;
  if (uv_random(NULL, NULL, &rnd, sizeof rnd, 0, NULL))
    rnd = (uint32_t)mk_now_us() ^ (uint32_t)getpid();
  snprintf(lc->tag, sizeof lc->tag, "mk%06x", (unsigned)(rnd & 0xffffff));
  struct mk_proxy_config cfg;
  mk_proxy_config_init(&cfg);
  cfg.bootstrap_servers = servers;
  cfg.port = 0;
  cfg.admin_port = ctx->opts->admin ? ctx->opts->admin_port : -1;  /* --admin-port */
  cfg.trace_file = ctx->served_trace[0] ? ctx->served_trace : NULL;
  struct mk_err err = {0};
  mk_client_init(&lc->client, "minikafka-lab");
  lc->client.timeout_ms = 15000;
  if (mk_proxy_new(&cfg, &lc->proxy, &err) || mk_proxy_start(lc->proxy, &err) ||
      mk_client_bootstrap(&lc->client, servers, &err)) {
    mk_proxy_free(lc->proxy);
    mk_client_free(&lc->client);
    free(lc);
    return mk_lab_fail(ctx, err.code ? err.code : MK_ERR__TRANSPORT, "the cluster at %s: %s",
                       servers, err.msg);
  }
  ctx->cluster = lc;
  bool broker_settings = false;
  for (int i = 0; i < ctx->nsettings; i++)
    broker_settings |= ctx->settings[i].target == MK_LAB_TARGET_BROKER;
  mk_lab_note(ctx,
              "on the real cluster at %s, through a proxy (clients connect to %s). Topics are\n"
              "named NAME-%s there and deleted at the end. What happens inside the cluster\n"
              "(replication, high watermarks, the ISR) is not in the timeline; appends are read\n"
              "from Produce answers.%s",
              servers, mk_proxy_bootstrap(lc->proxy), lc->tag,
              broker_settings ? "\nyour broker settings (--set broker.X) cannot reach a real "
                                "cluster: ignored." : "");
  return 0;
}

const char *mk_lab_cluster_bootstrap(struct mk_lab_ctx *ctx) {
  return mk_proxy_bootstrap(ctx->cluster->proxy);
}

const char *mk_lab_cluster_admin_url(struct mk_lab_ctx *ctx) {
  return mk_proxy_admin_url(ctx->cluster->proxy);
}

int mk_lab_broker_ids(struct mk_lab_ctx *ctx, int32_t *ids, int max) {
  if (ctx->cluster) return mk_proxy_broker_ids(ctx->cluster->proxy, ids, max);
  if (!ctx->broker) return 0;
  int n = mk_broker_count(ctx->broker);
  for (int i = 0; i < n && i < max; i++) ids[i] = i;
  return n < max ? n : max;
}

/* ---- topics -------------------------------------------------------------------------------- */

/* The topic's metadata on the cluster (*t NULL when it has none yet). */
static int topic_metadata(struct mk_lab_ctx *ctx, const char *real, struct mk_arena *a,
                          const struct mk_metadata_response_topic **t, struct mk_err *err) {
  struct mk_lab_cluster *lc = ctx->cluster;
  struct mk_metadata_response *md;
  const char *names[1] = {real};
  *t = NULL;
  int rc = mk_client_metadata(&lc->client, names, 1, false, &md, a, err);
  for (int32_t i = 0; !rc && i < md->topics_count; i++)
    if (mk_str_eq(md->topics[i].name, real) && md->topics[i].error_code == 0 &&
        md->topics[i].partitions_count > 0)
      *t = &md->topics[i];
  return rc;
}

/* Wait (bounded) until every partition of the topic has a leader. */
static int wait_leaders(struct mk_lab_ctx *ctx, const char *real, int32_t partitions) {
  int64_t deadline = mk_now_us() / 1000 + 15000;
  struct mk_err err = {0};
  for (;;) {
    struct mk_arena a;
    mk_arena_init(&a);
    const struct mk_metadata_response_topic *t;
    int rc = topic_metadata(ctx, real, &a, &t, &err);
    bool ready = !rc && t && t->partitions_count >= partitions;
    for (int32_t i = 0; ready && i < t->partitions_count; i++)
      ready = t->partitions[i].leader_id >= 0 && t->partitions[i].error_code == 0;
    mk_arena_free(&a);
    if (ready) return 0;
    if (mk_now_us() / 1000 > deadline)
      return mk_lab_fail(ctx, MK_ERR__TIMED_OUT, "topic %s: no leader for every partition "
                         "within 15 s%s%s", real, rc ? ": " : "", rc ? err.msg : "");
    mk_lab_sleep_ms(50);
  }
}

/* A topic's error in an answer (CreateTopics, CreatePartitions): its name, then its message. */
static int answer_error(struct mk_err *err, int16_t code, struct mk_str message) {
  return mk_err_set(err, code, "%s%s%.*s", mk_err_name(code), message.len > 0 ? ": " : "",
                    message.len > 0 ? message.len : 0, message.len > 0 ? message.ptr : "");
}

static int create_with_kafka(struct mk_lab_ctx *ctx, const char *real, int32_t partitions,
                             int32_t replication_factor, const char *const *configs,
                             int version) {
  struct mk_lab_cluster *lc = ctx->cluster;
  struct mk_err err = {0};
  /* A replication factor the cluster can give: never more than its brokers. */
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_metadata_response *md;
  int rc = mk_client_metadata(&lc->client, NULL, 0, false, &md, &a, &err);
  int32_t brokers = rc ? 3 : md->brokers_count;
  mk_arena_free(&a);
  if (replication_factor < 0 && version < 4) replication_factor = brokers < 3 ? brokers : 3;
  if (replication_factor > brokers) replication_factor = brokers;
  struct mk_create_topics_creatable_topic t;
  mk_schema_set_defaults(&mk_create_topics_creatable_topic_schema, &t);
  t.name = mk_str_of(real);
  t.num_partitions = partitions;
  t.replication_factor = (int16_t)replication_factor;
  enum { MAX_CONFIGS = 8 };
  struct mk_create_topics_creatable_topic_config cv[MAX_CONFIGS];
  for (int i = 0; configs && configs[i]; i++) {
    const char *eq = strchr(configs[i], '=');
    if (!eq || i == MAX_CONFIGS)
      return mk_lab_fail(ctx, MK_ERR__INVALID_ARG, "topic config \"%s\": %s", configs[i],
                         eq ? "too many configs" : "no =");
    cv[i].name = (struct mk_str){configs[i], (int32_t)(eq - configs[i])};
    cv[i].value = mk_str_of(eq + 1);
    t.configs = cv;
    t.configs_count = i + 1;
  }
  struct mk_create_topics_request req;
  mk_schema_set_defaults(&mk_create_topics_request_schema, &req);
  req.topics = &t;
  req.topics_count = 1;
  req.timeout_ms = 30000;
  struct mk_create_topics_response *resp = NULL;
  mk_arena_init(&a);
  rc = mk_client_call(&lc->client.bootstrap, MK_API_CREATE_TOPICS, &req, (void **)&resp, &a, &err);
  if (!rc && resp->topics_count == 1 && resp->topics[0].error_code)
    rc = answer_error(&err, resp->topics[0].error_code, resp->topics[0].error_message);
  mk_arena_free(&a);
  if (rc) return mk_lab_fail(ctx, rc, "create topic %s on the cluster: %s", real, err.msg);
  return 0;
}

/* Create real (partitions, replication_factor, configs: NULL-terminated or NULL) on the
 * cluster and remember it as the lab's name; wait for its leaders. */
static int create_real(struct mk_lab_ctx *ctx, const char *name, const char *real,
                       int32_t partitions, int32_t replication_factor,
                       const char *const *configs) {
  struct mk_lab_cluster *lc = ctx->cluster;
  if (lc->ntopics == MAX_TOPICS)
    return mk_lab_fail(ctx, MK_ERR__STATE, "a lab creates at most %d topics", MAX_TOPICS);
  struct mk_err err = {0};
  int version = mk_client_version(&lc->client.bootstrap, MK_API_CREATE_TOPICS, &err);
  int rc;
  if (version >= 0) {
    rc = create_with_kafka(ctx, real, partitions, replication_factor, configs, version);
  } else if (ctx->opts->create_topic) {
    rc = ctx->opts->create_topic(ctx->opts->create_topic_opaque, real, partitions,
                                 replication_factor < 0 ? 3 : replication_factor);
    if (rc)
      rc = mk_lab_fail(ctx, rc, "create topic %s: the embedding program's creator failed", real);
    for (int i = 0; !rc && configs && configs[i]; i++)
      mk_lab_note(ctx, "  (%s was created without CreateTopics, so without its config %s: "
                  "this cluster keeps its own default)", real, configs[i]);
  } else {
    return mk_lab_fail(ctx, MK_ERR_UNSUPPORTED_VERSION,
                       "the cluster cannot create topics (%s); create topic %s with %d "
                       "partition%s yourself, or use a cluster that can",
                       err.msg, real, partitions, partitions == 1 ? "" : "s");
  }
  if (rc) return rc;
  snprintf(lc->topics[lc->ntopics].name, sizeof lc->topics[0].name, "%s", name);
  snprintf(lc->topics[lc->ntopics].real, sizeof lc->topics[0].real, "%s", real);
  lc->ntopics++;
  return wait_leaders(ctx, real, partitions);
}

int mk_lab_cluster_create_topic(struct mk_lab_ctx *ctx, const char *name, int32_t partitions,
                                int32_t replication_factor, const char *const *configs) {
  if (partitions < 1) partitions = 3;  /* num.partitions' default, as on the embedded broker */
  char real[256];
  snprintf(real, sizeof real, "%s-%s", name, ctx->cluster->tag);
  return create_real(ctx, name, real, partitions, replication_factor, configs);
}

int mk_lab_cluster_create_partitions(struct mk_lab_ctx *ctx, const char *topic, int32_t count) {
  struct mk_lab_cluster *lc = ctx->cluster;
  const char *real = mk_lab_topic(ctx, topic);
  struct mk_err err = {0};
  if (mk_client_version(&lc->client.bootstrap, MK_API_CREATE_PARTITIONS, &err) < 0) {
    /* No CreatePartitions: a topic with count partitions takes the lab's name from here on. */
    char grown[256];
    snprintf(grown, sizeof grown, "%s-%s-p%d", topic, lc->tag, count);
    mk_lab_note(ctx, "  this cluster cannot add partitions (%s): a new topic %s of %d "
                "partitions stands in for \"%s\" grown to %d (where a key lands depends only on "
                "the partition count)", err.msg, grown, count, topic, count);
    return create_real(ctx, topic, grown, count, -1, NULL);
  }
  struct mk_create_partitions_topic t;
  mk_schema_set_defaults(&mk_create_partitions_topic_schema, &t);
  t.name = mk_str_of(real);
  t.count = count;
  t.assignments_count = -1;  /* null: the cluster places the new replicas */
  struct mk_create_partitions_request req;
  mk_schema_set_defaults(&mk_create_partitions_request_schema, &req);
  req.topics = &t;
  req.topics_count = 1;
  req.timeout_ms = 30000;
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_create_partitions_response *resp = NULL;
  int rc = mk_client_call(&lc->client.bootstrap, MK_API_CREATE_PARTITIONS, &req, (void **)&resp,
                          &a, &err);
  if (!rc && resp->results_count == 1 && resp->results[0].error_code)
    rc = answer_error(&err, resp->results[0].error_code, resp->results[0].error_message);
  mk_arena_free(&a);
  if (rc) return mk_lab_fail(ctx, rc, "alter topic %s on the cluster: %s", real, err.msg);
  return wait_leaders(ctx, real, count);
}

/* ---- faults ---------------------------------------------------------------------------------- */

int mk_lab_cluster_fault(struct mk_lab_ctx *ctx, const char *json) {
  json_error_t je;
  json_t *f = json_loads(json, 0, &je);
  if (!f) return mk_lab_fail(ctx, MK_ERR__INVALID_ARG, "fault %s: not JSON: %s", json, je.text);
  const char *topic = json_string_value(json_object_get(f, "topic"));
  if (topic) json_object_set_new(f, "topic", json_string(mk_lab_topic(ctx, topic)));
  char *text = json_dumps(f, JSON_COMPACT);
  json_decref(f);
  if (!text) return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  struct mk_err err = {0};
  int rc = mk_proxy_fault(ctx->cluster->proxy, text, NULL, &err);
  if (rc) rc = mk_lab_fail(ctx, rc, "fault %s: %s", text, err.msg);
  free(text);
  return rc;
}

/* ---- a partition's state, and its log -------------------------------------------------------- */

/* ListOffsets for one partition at timestamp (-1 latest: the high watermark; -2 earliest). */
static int64_t list_offset(struct mk_client_conn *conn, const char *topic, int32_t partition,
                           int64_t timestamp, struct mk_err *err) {
  struct mk_list_offsets_partition p;
  mk_schema_set_defaults(&mk_list_offsets_partition_schema, &p);
  p.partition_index = partition;
  p.timestamp = timestamp;
  p.current_leader_epoch = -1;
  struct mk_list_offsets_topic t = {mk_str_of(topic), &p, 1};
  struct mk_list_offsets_request req;
  mk_schema_set_defaults(&mk_list_offsets_request_schema, &req);
  req.replica_id = -1;
  req.topics = &t;
  req.topics_count = 1;
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_list_offsets_response *resp = NULL;
  int64_t offset = -1;
  int rc = mk_client_call(conn, MK_API_LIST_OFFSETS, &req, (void **)&resp, &a, err);
  if (!rc && resp->topics_count == 1 && resp->topics[0].partitions_count == 1) {
    const struct mk_list_offsets_partition_response *pr = &resp->topics[0].partitions[0];
    if (pr->error_code)
      mk_err_set(err, pr->error_code, "ListOffsets %s-%d: %s", topic, partition,
                 mk_err_name(pr->error_code));
    else
      offset = pr->offset;
  }
  mk_arena_free(&a);
  return offset;
}

int mk_lab_cluster_partition_state(struct mk_lab_ctx *ctx, const char *topic, int32_t partition,
                                   struct mk_partition_state *out) {
  const char *real = mk_lab_topic(ctx, topic);
  memset(out, 0, sizeof *out);
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_err err = {0};
  const struct mk_metadata_response_topic *t;
  int rc = topic_metadata(ctx, real, &a, &t, &err);
  const struct mk_metadata_response_partition *p = NULL;
  for (int32_t i = 0; !rc && t && i < t->partitions_count; i++)
    if (t->partitions[i].partition_index == partition) p = &t->partitions[i];
  if (!rc && !p) rc = mk_err_set(&err, MK_ERR_UNKNOWN_TOPIC_OR_PARTITION, "no partition %s-%d on "
                                 "the cluster", real, partition);
  if (!rc) {
    out->leader = p->leader_id;
    out->leader_epoch = p->leader_epoch;
    out->nreplicas =
        p->replica_nodes_count < MK_MAX_BROKERS ? p->replica_nodes_count : MK_MAX_BROKERS;
    for (int r = 0; r < out->nreplicas; r++) {
      int32_t id = p->replica_nodes[r];
      out->replicas[r].broker = id;
      out->replicas[r].log_end_offset = -1;  /* inside the broker: not visible */
      out->replicas[r].high_watermark = -1;
      out->replicas[r].leader_view_log_end_offset = -1;
      out->replicas[r].last_caught_up_ms = -1;
      for (int32_t k = 0; k < p->isr_nodes_count; k++)
        out->replicas[r].in_isr |= p->isr_nodes[k] == id;
      if (id != p->leader_id) out->followers[out->nfollowers++] = id;
    }
  }
  mk_arena_free(&a);
  struct mk_client_conn *leader =
      rc ? NULL : mk_client_node(&ctx->cluster->client, out->leader, &err);
  if (!rc && !leader) rc = err.code ? err.code : MK_ERR_LEADER_NOT_AVAILABLE;
  if (!rc) {
    out->high_watermark = list_offset(leader, real, partition, -1, &err);
    out->log_start_offset = list_offset(leader, real, partition, -2, &err);
    if (out->high_watermark < 0 || out->log_start_offset < 0)
      rc = err.code ? err.code : MK_ERR__STATE;
  }
  if (rc) return mk_lab_fail(ctx, rc, "%s-%d on the cluster: %s", real, partition, err.msg);
  for (int r = 0; r < out->nreplicas; r++)
    if (out->replicas[r].broker == out->leader)
      out->replicas[r].high_watermark = out->high_watermark;
  return 0;
}

/* One Fetch from offset; appends the records below end to out. Sets *next past the last
 * batch read (unchanged when nothing came). */
static int fetch_once(struct mk_client_conn *conn, const char *topic, struct mk_uuid id,
                      int32_t partition, int64_t offset, int64_t end,
                      struct mk_stored_records *out, size_t *cap, int64_t *next,
                      struct mk_err *err) {
  int version = mk_client_version(conn, MK_API_FETCH, err);
  if (version < 0) return err->code;
  static const struct mk_uuid zero;
  if (version >= 13 && memcmp(id.b, zero.b, sizeof zero.b) == 0) version = 12;
  struct mk_fetch_partition fp;
  mk_schema_set_defaults(&mk_fetch_partition_schema, &fp);
  fp.partition = partition;
  fp.current_leader_epoch = -1;
  fp.fetch_offset = offset;
  fp.last_fetched_epoch = -1;
  fp.log_start_offset = -1;
  fp.partition_max_bytes = 8 << 20;
  struct mk_fetch_topic ft;
  mk_schema_set_defaults(&mk_fetch_topic_schema, &ft);
  ft.topic = mk_str_of(topic);
  ft.topic_id = id;
  ft.partitions = &fp;
  ft.partitions_count = 1;
  struct mk_fetch_request req;
  mk_schema_set_defaults(&mk_fetch_request_schema, &req);
  req.replica_id = -1;
  req.max_wait_ms = 100;
  req.min_bytes = 1;
  req.max_bytes = 16 << 20;
  req.session_epoch = -1;
  req.topics = &ft;
  req.topics_count = 1;
  struct mk_client_pending pending;
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_fetch_response *resp = NULL;
  int rc = mk_client_send(conn, MK_API_FETCH, version, &req, &pending, err);
  if (!rc) rc = mk_client_receive(conn, &pending, (void **)&resp, &a, err);
  for (int32_t t = 0; !rc && t < resp->responses_count; t++)
    for (int32_t j = 0; !rc && j < resp->responses[t].partitions_count; j++) {
      const struct mk_fetch_partition_data *pd = &resp->responses[t].partitions[j];
      if (pd->partition_index != partition) continue;
      if (pd->error_code) {
        rc = mk_err_set(err, pd->error_code, "Fetch %s-%d: %s", topic, partition,
                        mk_err_name(pd->error_code));
        break;
      }
      size_t at = 0;
      while (!rc && pd->records.len > 0 && at < (size_t)pd->records.len) {
        struct mk_record_batch b;
        struct mk_err why = {0};
        /* A batch cut short at the end of the answer is read again by the next Fetch. */
        if (mk_record_batch_parse(pd->records.ptr + at, (size_t)pd->records.len - at, &b, &why))
          break;
        at += b.size;
        *next = b.base_offset + b.last_offset_delta + 1;
        if (b.attributes & 0x20) continue;  /* a control batch (transaction markers) */
        rc = mk_stored_records_add_batch(out, cap, &b, end, err);
      }
    }
  mk_arena_free(&a);
  return rc;
}

int mk_lab_cluster_read_records(struct mk_lab_ctx *ctx, const char *topic, int32_t partition,
                                struct mk_stored_records *out) {
  memset(out, 0, sizeof *out);
  struct mk_partition_state st;
  int rc = mk_lab_cluster_partition_state(ctx, topic, partition, &st);
  if (rc) return rc;
  const char *real = mk_lab_topic(ctx, topic);
  struct mk_err err = {0};
  struct mk_uuid id = {{0}};
  struct mk_arena a;
  mk_arena_init(&a);
  const struct mk_metadata_response_topic *t;
  if (topic_metadata(ctx, real, &a, &t, &err) == 0 && t) id = t->topic_id;
  mk_arena_free(&a);
  struct mk_client_conn *leader = mk_client_node(&ctx->cluster->client, st.leader, &err);
  if (!leader) return mk_lab_fail(ctx, err.code, "%s-%d: %s", real, partition, err.msg);
  size_t cap = 0;
  int64_t offset = st.log_start_offset;
  /* Each Fetch moves on by at least one batch; a bounded number of them reads any lab's log. */
  for (int round = 0; !rc && offset < st.high_watermark && round < 10000; round++) {
    int64_t next = offset;
    rc = fetch_once(leader, real, id, partition, offset, st.high_watermark, out, &cap, &next, &err);
    if (!rc && next == offset) rc = mk_err_set(&err, MK_ERR__STATE, "no progress at offset %lld",
                                               (long long)offset);
    offset = next;
  }
  if (rc) {
    mk_stored_records_free(out);
    return mk_lab_fail(ctx, rc, "reading %s-%d from the cluster: %s", real, partition, err.msg);
  }
  return 0;
}
