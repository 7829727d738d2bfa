/*
 * minikafka topics: create, list, describe and delete topics, as kafka-topics.sh does.
 * Kafka: tools/src/main/java/org/apache/kafka/tools/TopicCommand.java.
 *
 *   minikafka topics --bootstrap-server 127.0.0.1:9092 --create --topic t \
 *       --partitions 3 --replication-factor 3 --config retention.ms=60000
 *   minikafka topics --bootstrap-server 127.0.0.1:9092 --describe --topic t
 *   Topic: t	TopicId: 3qd0...	PartitionCount: 3	ReplicationFactor: 3	Configs: retention.ms=60000
 *   	Topic: t	Partition: 0	Leader: 1	Replicas: 1,2,0	Isr: 1,2,0
 *   ...
 *
 * Each action is one or two requests on the bootstrap connection (client.h):
 *   --create    CreateTopics
 *   --list      Metadata (all topics)
 *   --describe  Metadata, then DescribeConfigs for the topics shown (the "Configs:" column
 *               lists the configs that are not defaults, as Kafka's does)
 *   --delete    Metadata (to see which topics --topic matches), then DeleteTopics
 *   --alter     Metadata (which topics, how many partitions), then CreatePartitions: only
 *               --partitions (more of them; keys then hash to other partitions, the lesson
 *               of labs/partitioning), with --replica-assignment for the new ones
 *
 * As in Kafka, --topic is a regular expression for --list, --describe and --delete (so
 * "orders.*" describes every topic starting with "orders"), and a plain name for --create.
 * Output goes to stdout; errors to stderr with exit status 1 ("Error while executing topic
 * command : Topic 't' already exists."), command-line mistakes with exit status 2.
 */
#include <getopt.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "client/client.h"
#include "protocol/api.h"
#include "protocol/messages/create_partitions.h"
#include "protocol/messages/create_topics.h"
#include "protocol/messages/delete_topics.h"
#include "protocol/messages/describe_configs.h"

enum { MAX_CONFIGS = 64, MAX_ASSIGNED_PARTITIONS = 10000 };

struct options {
  const char *bootstrap;
  enum { NONE, CREATE, LIST, DESCRIBE, DELETE, ALTER } action;
  int nactions;
  const char *topic;
  int32_t partitions;             /* -1: the broker's num.partitions */
  int32_t replication_factor;     /* -1: the broker's default.replication.factor */
  const char *configs[MAX_CONFIGS];
  int nconfigs;
  const char *replica_assignment; /* "1:2,2:0" = partition 0 on 1 and 2, partition 1 on 2 and 0 */
  bool if_exists, if_not_exists, exclude_internal, topics_with_overrides;
  bool under_replicated, unavailable, under_min_isr, at_min_isr;
};

static void usage(FILE *out) {
  fprintf(out,
          "usage: minikafka topics --bootstrap-server HOST:PORT ACTION [options]\n"
          "\n"
          "Create, list, describe and delete topics, like kafka-topics.sh.\n"
          "\n"
          "actions (exactly one):\n"
          "  --create                 create --topic\n"
          "  --list                   list topic names (matching --topic, if given)\n"
          "  --describe               partitions, leaders, replicas, ISR and configs\n"
          "  --delete                 delete the topics matching --topic\n"
          "  --alter                  add partitions to the topics matching --topic\n"
          "                           (--partitions N: the new total)\n"
          "\n"
          "options:\n"
          "  --bootstrap-server HOST:PORT[,HOST:PORT]  where to connect (required)\n"
          "  --topic T                the topic (a regular expression, except for --create)\n"
          "  --partitions N           for --create; default: the broker's num.partitions\n"
          "  --replication-factor R   for --create; default: default.replication.factor\n"
          "  --config K=V             for --create, repeatable: retention.ms, retention.bytes,\n"
          "                           min.insync.replicas, max.message.bytes\n"
          "  --replica-assignment A   for --create instead of --partitions and\n"
          "                           --replication-factor: broker ids, ':' between replicas,\n"
          "                           ',' between partitions (\"0:1,1:2\")\n"
          "  --if-not-exists          --create: no error if the topic exists\n"
          "  --if-exists              --describe/--delete: no error if nothing matches\n"
          "  --exclude-internal       --list/--describe: leave out internal topics\n"
          "  --topics-with-overrides  --describe: only topics with non-default configs\n"
          "  --under-replicated-partitions  --describe: only partitions with ISR < replicas\n"
          "  --unavailable-partitions       --describe: only partitions without a leader\n"
          "  --under-min-isr-partitions     --describe: only partitions with ISR < min.insync\n"
          "  --at-min-isr-partitions        --describe: only partitions with ISR = min.insync\n");
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "minikafka topics: ");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n(minikafka topics --help shows the arguments)\n");
  return MK_EXIT_USAGE;
}

/* Kafka's wording for a failed action. */
__attribute__((format(printf, 1, 2))) static int failed(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "Error while executing topic command : ");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  return MK_EXIT_FAILED;
}

static bool parse_int(const char *s, long lo, long hi, int32_t *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v < lo || v > hi) return false;
  *out = (int32_t)v;
  return true;
}

static int parse_options(int argc, char **argv, struct options *o) {
  enum {
    O_BOOTSTRAP = 256, O_CREATE, O_LIST, O_DESCRIBE, O_DELETE, O_ALTER, O_TOPIC, O_PARTITIONS,
    O_RF, O_CONFIG, O_ASSIGNMENT, O_IF_EXISTS, O_IF_NOT_EXISTS, O_EXCLUDE_INTERNAL,
    O_OVERRIDES, O_UNDER_REPLICATED, O_UNAVAILABLE, O_UNDER_MIN_ISR, O_AT_MIN_ISR, O_HELP,
  };
  static const struct option longopts[] = {
      {"bootstrap-server", required_argument, NULL, O_BOOTSTRAP},
      {"create", no_argument, NULL, O_CREATE},
      {"list", no_argument, NULL, O_LIST},
      {"describe", no_argument, NULL, O_DESCRIBE},
      {"delete", no_argument, NULL, O_DELETE},
      {"alter", no_argument, NULL, O_ALTER},
      {"topic", required_argument, NULL, O_TOPIC},
      {"partitions", required_argument, NULL, O_PARTITIONS},
      {"replication-factor", required_argument, NULL, O_RF},
      {"config", required_argument, NULL, O_CONFIG},
      {"replica-assignment", required_argument, NULL, O_ASSIGNMENT},
      {"if-exists", no_argument, NULL, O_IF_EXISTS},
      {"if-not-exists", no_argument, NULL, O_IF_NOT_EXISTS},
      {"exclude-internal", no_argument, NULL, O_EXCLUDE_INTERNAL},
      {"topics-with-overrides", no_argument, NULL, O_OVERRIDES},
      {"under-replicated-partitions", no_argument, NULL, O_UNDER_REPLICATED},
      {"unavailable-partitions", no_argument, NULL, O_UNAVAILABLE},
      {"under-min-isr-partitions", no_argument, NULL, O_UNDER_MIN_ISR},
      {"at-min-isr-partitions", no_argument, NULL, O_AT_MIN_ISR},
      {"help", no_argument, NULL, O_HELP},
      {NULL, 0, NULL, 0},
  };
  memset(o, 0, sizeof *o);
  o->partitions = o->replication_factor = -1;
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case O_BOOTSTRAP: o->bootstrap = optarg; break;
    case O_CREATE: o->action = CREATE; o->nactions++; break;
    case O_LIST: o->action = LIST; o->nactions++; break;
    case O_DESCRIBE: o->action = DESCRIBE; o->nactions++; break;
    case O_DELETE: o->action = DELETE; o->nactions++; break;
    case O_ALTER: o->action = ALTER; o->nactions++; break;
    case O_TOPIC: o->topic = optarg; break;
    case O_PARTITIONS:
      if (!parse_int(optarg, 1, 10000, &o->partitions))
        return usage_error("--partitions '%s': expected a number of partitions, 1-10000", optarg);
      break;
    case O_RF:
      if (!parse_int(optarg, 1, 32767, &o->replication_factor))
        return usage_error("--replication-factor '%s': expected a positive number", optarg);
      break;
    case O_CONFIG:
      if (!strchr(optarg, '=') || optarg[0] == '=')
        return usage_error("--config '%s': expected key=value", optarg);
      if (o->nconfigs == MAX_CONFIGS) return usage_error("more than %d --config", MAX_CONFIGS);
      o->configs[o->nconfigs++] = optarg;
      break;
    case O_ASSIGNMENT: o->replica_assignment = optarg; break;
    case O_IF_EXISTS: o->if_exists = true; break;
    case O_IF_NOT_EXISTS: o->if_not_exists = true; break;
    case O_EXCLUDE_INTERNAL: o->exclude_internal = true; break;
    case O_OVERRIDES: o->topics_with_overrides = true; break;
    case O_UNDER_REPLICATED: o->under_replicated = true; break;
    case O_UNAVAILABLE: o->unavailable = true; break;
    case O_UNDER_MIN_ISR: o->under_min_isr = true; break;
    case O_AT_MIN_ISR: o->at_min_isr = true; break;
    case 'h':
    case O_HELP: usage(stdout); return -1;
    default:
      return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc) return usage_error("unexpected argument '%s'", argv[optind]);
  if (o->nactions != 1)
    return usage_error("Command must include exactly one action: --list, --describe, --create, "
                       "--alter or --delete");
  if (!o->bootstrap) return usage_error("Missing required argument \"[bootstrap-server]\"");
  if ((o->action == CREATE || o->action == DELETE || o->action == ALTER) && !o->topic)
    return usage_error("Missing required argument \"[topic]\"");
  if (o->action == ALTER) {
    if (o->nconfigs)
      return usage_error("--config with --alter changes topic configs, which minikafka cannot "
                         "do (no IncrementalAlterConfigs); --alter takes --partitions");
    if (o->partitions == -1 && !o->replica_assignment)
      return usage_error("--alter needs --partitions: the topic's new number of partitions");
    if (o->replication_factor != -1)
      return usage_error("Option \"[replication-factor]\" can't be used with option \"[alter]\"");
    if (o->replica_assignment && o->partitions != -1)
      return usage_error("Option \"[replica-assignment]\" can't be used with option "
                         "\"[partitions]\": it says how many partitions there will be");
    return 0;
  }
  if (o->replica_assignment && (o->partitions != -1 || o->replication_factor != -1))
    return usage_error("Option \"[replica-assignment]\" can't be used with option "
                       "\"[partitions]\" or \"[replication-factor]\"");
  if (o->action != CREATE && (o->nconfigs || o->replica_assignment || o->partitions != -1 ||
                              o->replication_factor != -1))
    return usage_error("--config, --partitions, --replication-factor and --replica-assignment "
                       "go with --create");
  return 0;
}

/* ---- helpers ------------------------------------------------------------------------------- */

/* Whether a topic name matches --topic: a whole-name regular expression, as in Kafka. */
struct topic_filter {
  bool all;
  bool is_regex;
  regex_t re;
  const char *literal;
};

static void filter_init(struct topic_filter *f, const char *topic) {
  memset(f, 0, sizeof *f);
  f->all = topic == NULL;
  f->literal = topic;
  if (!topic) return;
  size_t n = strlen(topic) + 8;
  char *anchored = malloc(n);
  if (!anchored) return;
  snprintf(anchored, n, "^(%s)$", topic);
  f->is_regex = regcomp(&f->re, anchored, REG_EXTENDED | REG_NOSUB) == 0;
  free(anchored);
}

static bool filter_matches(const struct topic_filter *f, const char *name) {
  if (f->all) return true;
  if (strcmp(name, f->literal) == 0) return true;
  return f->is_regex && regexec(&f->re, name, 0, NULL, 0) == 0;
}

static void filter_free(struct topic_filter *f) {
  if (f->is_regex) regfree(&f->re);
}

/* A Kafka string as a C string in the arena (empty for null). */
static char *cstr(struct mk_arena *a, struct mk_str s) {
  size_t n = s.len > 0 ? (size_t)s.len : 0;
  char *out = mk_arena_alloc(a, n + 1);
  if (out && n) memcpy(out, s.ptr, n);
  return out ? out : "";
}

static int cmp_topics(const void *a, const void *b) {
  const struct mk_metadata_response_topic *x = a, *y = b;
  int n = x->name.len < y->name.len ? x->name.len : y->name.len;
  int c = memcmp(x->name.ptr, y->name.ptr, (size_t)(n < 0 ? 0 : n));
  return c ? c : x->name.len - y->name.len;
}

static int cmp_partitions(const void *a, const void *b) {
  const struct mk_metadata_response_partition *x = a, *y = b;
  return (x->partition_index > y->partition_index) - (x->partition_index < y->partition_index);
}

/* All topics, sorted by name, for --list/--describe/--delete. */
static int fetch_metadata(struct mk_client *c, struct mk_arena *a,
                          struct mk_metadata_response **md) {
  struct mk_err err = {0};
  if (mk_client_metadata(c, NULL, -1, false, md, a, &err)) return failed("%s", err.msg);
  if ((*md)->topics_count > 1)
    qsort((*md)->topics, (size_t)(*md)->topics_count, sizeof *(*md)->topics, cmp_topics);
  for (int32_t i = 0; i < (*md)->topics_count; i++) {
    struct mk_metadata_response_topic *t = &(*md)->topics[i];
    if (t->partitions_count > 1)
      qsort(t->partitions, (size_t)t->partitions_count, sizeof *t->partitions, cmp_partitions);
  }
  return 0;
}

/* ---- --create -------------------------------------------------------------------------------- */

/* "0:1,1:2" -> one assignment per partition. Returns 0 or prints why not. */
static int parse_assignment(const char *text, struct mk_arena *a,
                            struct mk_create_topics_creatable_topic *t) {
  int32_t nparts = 1;
  for (const char *p = text; *p; p++) nparts += *p == ',';
  if (nparts > MAX_ASSIGNED_PARTITIONS)
    return usage_error("--replica-assignment: more than %d partitions", MAX_ASSIGNED_PARTITIONS);
  t->assignments = mk_arena_alloc(a, sizeof *t->assignments * (size_t)nparts);
  if (!t->assignments) return failed("out of memory");
  t->assignments_count = nparts;
  const char *p = text;
  for (int32_t i = 0; i < nparts; i++) {
    struct mk_create_topics_creatable_replica_assignment *as = &t->assignments[i];
    as->partition_index = i;
    int32_t nrep = 1;
    for (const char *q = p; *q && *q != ','; q++) nrep += *q == ':';
    as->broker_ids = mk_arena_alloc(a, sizeof(int32_t) * (size_t)nrep);
    if (!as->broker_ids) return failed("out of memory");
    as->broker_ids_count = nrep;
    for (int32_t r = 0; r < nrep; r++) {
      char *end;
      long id = strtol(p, &end, 10);
      if (end == p || (*end && *end != ':' && *end != ',') || id < 0 || id > INT32_MAX)
        return usage_error("--replica-assignment '%s': expected broker ids like 0:1,1:2", text);
      as->broker_ids[r] = (int32_t)id;
      p = *end ? end + 1 : end;
    }
  }
  return 0;
}

static int create(struct mk_client *c, const struct options *o, struct mk_arena *a) {
  struct mk_create_topics_request req;
  mk_schema_set_defaults(&mk_create_topics_request_schema, &req);
  struct mk_create_topics_creatable_topic t;
  mk_schema_set_defaults(&mk_create_topics_creatable_topic_schema, &t);
  t.name = mk_str_of(o->topic);
  t.num_partitions = o->partitions;
  t.replication_factor = (int16_t)o->replication_factor;
  if (o->replica_assignment) {
    int rc = parse_assignment(o->replica_assignment, a, &t);
    if (rc) return rc;
  }
  struct mk_create_topics_creatable_topic_config configs[MAX_CONFIGS];
  for (int i = 0; i < o->nconfigs; i++) {
    const char *eq = strchr(o->configs[i], '=');
    configs[i].name = (struct mk_str){o->configs[i], (int32_t)(eq - o->configs[i])};
    configs[i].value = mk_str_of(eq + 1);
  }
  t.configs = configs;
  t.configs_count = o->nconfigs;
  req.topics = &t;
  req.topics_count = 1;
  req.timeout_ms = c->timeout_ms;

  /* Kafka's warning, because metric names turn '.' into '_'. */
  if (strchr(o->topic, '.') || strchr(o->topic, '_'))
    printf("WARNING: Due to limitations in metric names, topics with a period ('.') or "
           "underscore ('_') could collide. To avoid issues it is best to use either, but not "
           "both.\n");

  struct mk_err err = {0};
  struct mk_create_topics_response *resp = NULL;
  if (mk_client_call(&c->bootstrap, MK_API_CREATE_TOPICS, &req, (void **)&resp, a, &err))
    return failed("%s", err.msg);
  if (resp->topics_count != 1) return failed("the broker answered for %d topics, not 1", resp->topics_count);
  const struct mk_create_topics_creatable_topic_result *r = &resp->topics[0];
  if (r->error_code == MK_ERR_TOPIC_ALREADY_EXISTS && o->if_not_exists) return MK_EXIT_OK;
  if (r->error_code) {
    if (r->error_message.len > 0)
      return failed("%.*s (%s)", r->error_message.len, r->error_message.ptr, mk_err_name(r->error_code));
    return failed("%s", mk_err_name(r->error_code));
  }
  printf("Created topic %s.\n", o->topic);
  return MK_EXIT_OK;
}

/* ---- --list ---------------------------------------------------------------------------------- */

static int list(struct mk_client *c, const struct options *o, struct mk_arena *a) {
  struct mk_metadata_response *md;
  int rc = fetch_metadata(c, a, &md);
  if (rc) return rc;
  struct topic_filter f;
  filter_init(&f, o->topic);
  for (int32_t i = 0; i < md->topics_count; i++) {
    const struct mk_metadata_response_topic *t = &md->topics[i];
    if (t->error_code || (o->exclude_internal && t->is_internal)) continue;
    const char *name = cstr(a, t->name);
    if (filter_matches(&f, name)) printf("%s\n", name);
  }
  filter_free(&f);
  return MK_EXIT_OK;
}

/* ---- --describe -------------------------------------------------------------------------------- */

/* The non-default configs of one topic, "k=v,k=v", and its min.insync.replicas. */
static const char *topic_configs(const struct mk_describe_configs_response *dc, const char *topic,
                                 struct mk_arena *a, int32_t *min_isr) {
  char buf[2048] = "";
  size_t used = 0;
  for (int32_t i = 0; dc && i < dc->results_count; i++) {
    const struct mk_describe_configs_result *r = &dc->results[i];
    if (r->error_code || !mk_str_eq(r->resource_name, topic)) continue;
    for (int32_t j = 0; j < r->configs_count; j++) {
      const struct mk_describe_configs_resource_result *e = &r->configs[j];
      if (mk_str_eq(e->name, "min.insync.replicas") && e->value.len > 0)
        *min_isr = (int32_t)strtol(cstr(a, e->value), NULL, 10);
      if (e->config_source == 5 /* DEFAULT_CONFIG */) continue;
      used += (size_t)snprintf(buf + used, used < sizeof buf ? sizeof buf - used : 0, "%s%.*s=%.*s",
                               used ? "," : "", e->name.len, e->name.ptr,
                               e->value.len < 0 ? 4 : e->value.len,
                               e->value.len < 0 ? "null" : e->value.ptr);
      if (used >= sizeof buf) used = sizeof buf - 1;
    }
  }
  return cstr(a, mk_str_of(buf));
}

static void print_ids(const int32_t *ids, int32_t n) {
  for (int32_t i = 0; i < n; i++) printf("%s%d", i ? "," : "", ids[i]);
}

/* Kafka's DescribeOptions.shouldPrintTopicPartition: every partition, unless a report
 * option asks only for the partitions in trouble. */
static bool partition_wanted(const struct options *o, const struct mk_metadata_response *md,
                             const struct mk_metadata_response_partition *p, int32_t min_isr) {
  if (!o->under_replicated && !o->unavailable && !o->under_min_isr && !o->at_min_isr) return true;
  bool has_leader = p->leader_id >= 0, leader_live = false;
  for (int32_t i = 0; i < md->brokers_count; i++) leader_live |= md->brokers[i].node_id == p->leader_id;
  return (o->under_replicated && p->isr_nodes_count < p->replica_nodes_count) ||
         (o->unavailable && (!has_leader || !leader_live)) ||
         (o->under_min_isr && (!has_leader || (min_isr > 0 && p->isr_nodes_count < min_isr))) ||
         (o->at_min_isr && min_isr > 0 && p->isr_nodes_count == min_isr);
}

static int describe(struct mk_client *c, const struct options *o, struct mk_arena *a) {
  struct mk_metadata_response *md;
  int rc = fetch_metadata(c, a, &md);
  if (rc) return rc;
  struct topic_filter f;
  filter_init(&f, o->topic);
  /* The topics to show, and one DescribeConfigs for all of them. */
  bool *shown = mk_arena_alloc(a, sizeof(bool) * (size_t)(md->topics_count + 1));
  struct mk_describe_configs_request dreq;
  mk_schema_set_defaults(&mk_describe_configs_request_schema, &dreq);
  dreq.resources = mk_arena_alloc(a, sizeof *dreq.resources * (size_t)(md->topics_count + 1));
  if (!shown || !dreq.resources) {
    filter_free(&f);
    return failed("out of memory");
  }
  dreq.resources_count = 0;
  for (int32_t i = 0; i < md->topics_count; i++) {
    const struct mk_metadata_response_topic *t = &md->topics[i];
    shown[i] = !t->error_code && !(o->exclude_internal && t->is_internal) &&
               filter_matches(&f, cstr(a, t->name));
    if (!shown[i]) continue;
    struct mk_describe_configs_resource *r = &dreq.resources[dreq.resources_count++];
    mk_schema_set_defaults(&mk_describe_configs_resource_schema, r);
    r->resource_type = 2;  /* TOPIC */
    r->resource_name = t->name;
    r->configuration_keys = NULL;
    r->configuration_keys_count = -1;
  }
  filter_free(&f);
  if (dreq.resources_count == 0) {
    if (o->topic && !o->if_exists) return failed("Topic '%s' does not exist as expected", o->topic);
    return MK_EXIT_OK;
  }
  struct mk_describe_configs_response *dc = NULL;
  struct mk_err err = {0};
  if (mk_client_version(&c->bootstrap, MK_API_DESCRIBE_CONFIGS, &err) >= 0 &&
      mk_client_call(&c->bootstrap, MK_API_DESCRIBE_CONFIGS, &dreq, (void **)&dc, a, &err))
    return failed("%s", err.msg);

  /* As TopicCommand: the topic line unless a report option is given; the partition lines
   * unless --topics-with-overrides is. */
  bool topic_lines = !o->under_replicated && !o->unavailable && !o->under_min_isr && !o->at_min_isr;
  for (int32_t i = 0; i < md->topics_count; i++) {
    if (!shown[i]) continue;
    const struct mk_metadata_response_topic *t = &md->topics[i];
    const char *name = cstr(a, t->name);
    int32_t min_isr = -1;
    const char *configs = topic_configs(dc, name, a, &min_isr);
    if (topic_lines && (!o->topics_with_overrides || *configs)) {
      printf("Topic: %s", name);
      static const struct mk_uuid zero;
      if (memcmp(t->topic_id.b, zero.b, sizeof zero.b) != 0) {
        char id[23];
        mk_client_uuid_string(t->topic_id.b, id);
        printf("\tTopicId: %s", id);
      }
      printf("\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s\n", t->partitions_count,
             t->partitions_count ? t->partitions[0].replica_nodes_count : 0, configs);
    }
    if (o->topics_with_overrides) continue;
    for (int32_t j = 0; j < t->partitions_count; j++) {
      const struct mk_metadata_response_partition *p = &t->partitions[j];
      if (!partition_wanted(o, md, p, min_isr)) continue;
      printf("\tTopic: %s\tPartition: %d\tLeader: ", name, p->partition_index);
      if (p->leader_id >= 0)
        printf("%d", p->leader_id);
      else
        printf("none");
      printf("\tReplicas: ");
      print_ids(p->replica_nodes, p->replica_nodes_count);
      printf("\tIsr: ");
      print_ids(p->isr_nodes, p->isr_nodes_count);
      printf("\n");
    }
  }
  return MK_EXIT_OK;
}

/* ---- --alter ----------------------------------------------------------------------------------- */

static int alter(struct mk_client *c, const struct options *o, struct mk_arena *a) {
  struct mk_metadata_response *md;
  int rc = fetch_metadata(c, a, &md);
  if (rc) return rc;
  struct topic_filter f;
  filter_init(&f, o->topic);
  int32_t n = 0;
  struct mk_create_partitions_topic *topics =
      mk_arena_alloc(a, sizeof *topics * (size_t)(md->topics_count + 1));
  for (int32_t i = 0; topics && i < md->topics_count; i++) {
    const struct mk_metadata_response_topic *t = &md->topics[i];
    if (t->error_code || t->is_internal || !filter_matches(&f, cstr(a, t->name))) continue;
    struct mk_create_partitions_topic *ct = &topics[n++];
    mk_schema_set_defaults(&mk_create_partitions_topic_schema, ct);
    ct->name = t->name;
    ct->count = o->partitions;
    ct->assignments_count = -1;
    if (o->replica_assignment) {
      /* The list covers every partition, as for --create; the ones that exist are skipped. */
      struct mk_create_topics_creatable_topic all;
      mk_schema_set_defaults(&mk_create_topics_creatable_topic_schema, &all);
      if ((rc = parse_assignment(o->replica_assignment, a, &all))) break;
      int32_t skip = t->partitions_count, added = all.assignments_count - skip;
      ct->count = all.assignments_count;
      ct->assignments = mk_arena_alloc(a, sizeof *ct->assignments * (size_t)(added > 0 ? added : 1));
      ct->assignments_count = added > 0 ? added : 0;
      for (int32_t k = 0; ct->assignments && k < ct->assignments_count; k++) {
        ct->assignments[k].broker_ids = all.assignments[skip + k].broker_ids;
        ct->assignments[k].broker_ids_count = all.assignments[skip + k].broker_ids_count;
      }
    }
  }
  filter_free(&f);
  if (rc) return rc;
  if (!topics) return failed("out of memory");
  if (n == 0) return o->if_exists ? MK_EXIT_OK : failed("Topic '%s' does not exist as expected", o->topic);
  struct mk_create_partitions_request req;
  mk_schema_set_defaults(&mk_create_partitions_request_schema, &req);
  req.topics = topics;
  req.topics_count = n;
  req.timeout_ms = c->timeout_ms;
  struct mk_err err = {0};
  struct mk_create_partitions_response *resp = NULL;
  if (mk_client_call(&c->bootstrap, MK_API_CREATE_PARTITIONS, &req, (void **)&resp, a, &err))
    return failed("%s", err.msg);
  int status = MK_EXIT_OK;
  for (int32_t i = 0; i < resp->results_count; i++) {
    const struct mk_create_partitions_topic_result *r = &resp->results[i];
    if (!r->error_code) continue;
    status = r->error_message.len > 0
                 ? failed("%.*s", r->error_message.len, r->error_message.ptr)
                 : failed("%s", mk_err_name(r->error_code));
  }
  return status;
}

/* ---- --delete ---------------------------------------------------------------------------------- */

static int delete(struct mk_client *c, const struct options *o, struct mk_arena *a) {
  struct mk_metadata_response *md;
  int rc = fetch_metadata(c, a, &md);
  if (rc) return rc;
  struct topic_filter f;
  filter_init(&f, o->topic);
  struct mk_str *names = mk_arena_alloc(a, sizeof *names * (size_t)(md->topics_count + 1));
  struct mk_delete_topics_delete_topic_state *states =
      mk_arena_alloc(a, sizeof *states * (size_t)(md->topics_count + 1));
  int32_t n = 0;
  for (int32_t i = 0; names && states && i < md->topics_count; i++) {
    const struct mk_metadata_response_topic *t = &md->topics[i];
    if (t->error_code || t->is_internal || !filter_matches(&f, cstr(a, t->name))) continue;
    names[n] = t->name;
    mk_schema_set_defaults(&mk_delete_topics_delete_topic_state_schema, &states[n]);
    states[n++].name = t->name;
  }
  filter_free(&f);
  if (!names || !states) return failed("out of memory");
  if (n == 0) return o->if_exists ? MK_EXIT_OK : failed("Topic '%s' does not exist as expected", o->topic);

  struct mk_err err = {0};
  int version = mk_client_version(&c->bootstrap, MK_API_DELETE_TOPICS, &err);
  if (version < 0) return failed("%s", err.msg);
  struct mk_delete_topics_request req;
  mk_schema_set_defaults(&mk_delete_topics_request_schema, &req);
  if (version >= 6) {
    req.topics = states;
    req.topics_count = n;
  } else {
    req.topic_names = names;
    req.topic_names_count = n;
  }
  req.timeout_ms = c->timeout_ms;
  struct mk_delete_topics_response *resp = NULL;
  if (mk_client_call(&c->bootstrap, MK_API_DELETE_TOPICS, &req, (void **)&resp, a, &err))
    return failed("%s", err.msg);
  int status = MK_EXIT_OK;
  for (int32_t i = 0; i < resp->responses_count; i++) {
    const struct mk_delete_topics_deletable_topic_result *r = &resp->responses[i];
    if (!r->error_code) continue;
    status = failed("cannot delete topic '%.*s': %s%s%.*s", r->name.len < 0 ? 0 : r->name.len,
                    r->name.ptr ? r->name.ptr : "", mk_err_name(r->error_code),
                    r->error_message.len > 0 ? ": " : "",
                    r->error_message.len > 0 ? r->error_message.len : 0,
                    r->error_message.len > 0 ? r->error_message.ptr : "");
  }
  return status;
}

int mk_cli_topics(int argc, char **argv) {
  struct options o;
  int rc = parse_options(argc, argv, &o);
  if (rc) return rc < 0 ? MK_EXIT_OK : rc;
  struct mk_client c;
  mk_client_init(&c, "minikafka-topics");
  struct mk_err err = {0};
  if (mk_client_bootstrap(&c, o.bootstrap, &err)) {
    mk_client_free(&c);
    return failed("%s", err.msg);
  }
  struct mk_arena a;
  mk_arena_init(&a);
  switch (o.action) {
  case CREATE: rc = create(&c, &o, &a); break;
  case LIST: rc = list(&c, &o, &a); break;
  case DESCRIBE: rc = describe(&c, &o, &a); break;
  case DELETE: rc = delete(&c, &o, &a); break;
  case ALTER: rc = alter(&c, &o, &a); break;
  default: rc = MK_EXIT_USAGE; break;
  }
  mk_arena_free(&a);
  mk_client_free(&c);
  fflush(stdout);
  return rc;
}
