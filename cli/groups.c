/*
 * minikafka groups: list, describe, reset and delete consumer groups, as
 * kafka-consumer-groups.sh does. Kafka: tools/.../consumer/group/ConsumerGroupCommand.java,
 * ConsumerGroupCommandOptions.java (the flags, checks and output formats, as of Kafka 3.9).
 *
 *   minikafka groups --bootstrap-server 127.0.0.1:9092 --describe --group g
 *
 *   GROUP  TOPIC  PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  CONSUMER-ID  HOST  CLIENT-ID
 *   g      t      0          4               10              6    consumer-g-1-…  /127.0.0.1 …
 *
 * Where each column comes from:
 *   --list             ListGroups, asked of every broker (each answers for the groups it
 *                      coordinates); groups of protocol type "consumer" (or none yet)
 *   --describe         FindCoordinator, then DescribeGroups at the coordinator: state,
 *                      assignor, members with their client id, host and assignment (the
 *                      consumer protocol's bytes, decoded here)
 *     CURRENT-OFFSET   OffsetFetch: the group's committed offsets (consumer.h's
 *                      mk_consumer_list_group_offsets, through a consumer of that group that
 *                      never joins it)
 *     LOG-END-OFFSET   ListOffsets (latest) to each partition's leader; LAG is the difference
 *   --reset-offsets    the new offsets (earliest, latest, N, committed + N, committed), then
 *                      with --execute an OffsetCommit with no generation, which the coordinator
 *                      accepts only while the group has no members (Empty), as Kafka's does
 *   --delete           DeleteGroups (refused for a group with members: NON_EMPTY_GROUP)
 *   --delete-offsets   OffsetDelete for a topic's partitions
 *
 * Output follows Kafka's byte for byte, blank lines and padding included, with one
 * difference: Kafka prints partitions in a hash map's order; we sort them.
 * Errors: Kafka's "Error: ..." lines (stdout, as Kafka), and exit status 1 (Kafka exits 0);
 * command-line mistakes exit 2.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli/cli.h"
#include "client/client.h"
#include "common/clock.h"
#include "consumer/consumer.h"
#include "protocol/api.h"
#include "protocol/consumer_protocol.h"
#include "protocol/messages/delete_groups.h"
#include "protocol/messages/describe_groups.h"
#include "protocol/messages/list_groups.h"
#include "protocol/messages/offset_delete.h"

enum { MAX_GROUPS = 256, MAX_TOPIC_ARGS = 64 };
#define MISSING "-"  /* Kafka's MISSING_COLUMN_VALUE */

struct options {
  const char *bootstrap;
  enum { NONE, LIST, DESCRIBE, DELETE, RESET_OFFSETS, DELETE_OFFSETS } action;
  int nactions;
  const char *groups[MAX_GROUPS];
  int ngroups;
  bool all_groups;
  const char *topics[MAX_TOPIC_ARGS];  /* "t" or "t:0,1,2" */
  int ntopics;
  bool all_topics;
  bool members, offsets, state, verbose;
  const char *state_filter;            /* --list --state a,b */
  bool dry_run, execute, export_csv;
  enum { SCENARIO_NONE, TO_EARLIEST, TO_LATEST, TO_OFFSET, SHIFT_BY, TO_CURRENT } scenario;
  int nscenarios;
  int64_t scenario_value;
  int64_t timeout_ms;
  const char *command_config;
};

static void usage(FILE *out) {
  fprintf(out,
          "usage: minikafka groups --bootstrap-server HOST:PORT ACTION [options]\n"
          "\n"
          "List, describe, reset and delete consumer groups, like kafka-consumer-groups.sh.\n"
          "\n"
          "actions (exactly one):\n"
          "  --list                   the consumer groups (--state [S,...]: with, or only\n"
          "                           in, these states)\n"
          "  --describe               each --group (or --all-groups): by default its\n"
          "                           partitions with committed offset, log end and lag;\n"
          "                           --members [--verbose]: its members; --state: its state\n"
          "  --reset-offsets          set a group's committed offsets (the group must have no\n"
          "                           members): --topic T[:P,...] or --all-topics, and one of\n"
          "                           --to-earliest, --to-latest, --to-offset N, --shift-by N,\n"
          "                           --to-current; --dry-run (the default) shows them,\n"
          "                           --execute commits them, --export prints them as CSV\n"
          "  --delete                 delete each --group (refused while it has members)\n"
          "  --delete-offsets         delete a group's offsets of --topic T[:P,...]\n"
          "\n"
          "options:\n"
          "  --bootstrap-server HOST:PORT[,...]  where to connect (required)\n"
          "  --group G                a group (repeatable)\n"
          "  --all-groups             every consumer group\n"
          "  --timeout MS             how long each request may take (default 5000)\n"
          "  --command-config FILE    client settings (a .properties file)\n");
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "minikafka groups: ");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n(minikafka groups --help shows the arguments)\n");
  return MK_EXIT_USAGE;
}

/* Kafka's printError: a blank line, then "Error: ..." on stdout. */
__attribute__((format(printf, 1, 2))) static void print_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("\nError: ");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
}

static int64_t now_ms(void) { return mk_now_us() / 1000; }

static bool parse_i64(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || errno) return false;
  *out = v;
  return true;
}

/* ---- options (ConsumerGroupCommandOptions.checkArgs) --------------------------------------- */

static int parse_options(int argc, char **argv, struct options *o) {
  enum {
    O_BOOTSTRAP = 256, O_LIST, O_DESCRIBE, O_DELETE, O_RESET, O_DELETE_OFFSETS, O_GROUP,
    O_ALL_GROUPS, O_TOPIC, O_ALL_TOPICS, O_MEMBERS, O_OFFSETS, O_STATE, O_VERBOSE, O_DRY_RUN,
    O_EXECUTE, O_EXPORT, O_TO_EARLIEST, O_TO_LATEST, O_TO_OFFSET, O_SHIFT_BY, O_TO_CURRENT,
    O_TIMEOUT, O_COMMAND_CONFIG, O_UNSUPPORTED, O_HELP,
  };
  static const struct option longopts[] = {
      {"bootstrap-server", required_argument, NULL, O_BOOTSTRAP},
      {"list", no_argument, NULL, O_LIST},
      {"describe", no_argument, NULL, O_DESCRIBE},
      {"delete", no_argument, NULL, O_DELETE},
      {"reset-offsets", no_argument, NULL, O_RESET},
      {"delete-offsets", no_argument, NULL, O_DELETE_OFFSETS},
      {"group", required_argument, NULL, O_GROUP},
      {"all-groups", no_argument, NULL, O_ALL_GROUPS},
      {"topic", required_argument, NULL, O_TOPIC},
      {"all-topics", no_argument, NULL, O_ALL_TOPICS},
      {"members", no_argument, NULL, O_MEMBERS},
      {"offsets", no_argument, NULL, O_OFFSETS},
      {"state", optional_argument, NULL, O_STATE},
      {"verbose", no_argument, NULL, O_VERBOSE},
      {"dry-run", no_argument, NULL, O_DRY_RUN},
      {"execute", no_argument, NULL, O_EXECUTE},
      {"export", no_argument, NULL, O_EXPORT},
      {"to-earliest", no_argument, NULL, O_TO_EARLIEST},
      {"to-latest", no_argument, NULL, O_TO_LATEST},
      {"to-offset", required_argument, NULL, O_TO_OFFSET},
      {"shift-by", required_argument, NULL, O_SHIFT_BY},
      {"to-current", no_argument, NULL, O_TO_CURRENT},
      {"timeout", required_argument, NULL, O_TIMEOUT},
      {"command-config", required_argument, NULL, O_COMMAND_CONFIG},
      {"to-datetime", required_argument, NULL, O_UNSUPPORTED},
      {"by-duration", required_argument, NULL, O_UNSUPPORTED},
      {"from-file", required_argument, NULL, O_UNSUPPORTED},
      {"type", optional_argument, NULL, O_UNSUPPORTED},
      {"help", no_argument, NULL, O_HELP},
      {NULL, 0, NULL, 0},
  };
  o->timeout_ms = 5000;
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case O_BOOTSTRAP: o->bootstrap = optarg; break;
    case O_LIST: o->action = LIST, o->nactions++; break;
    case O_DESCRIBE: o->action = DESCRIBE, o->nactions++; break;
    case O_DELETE: o->action = DELETE, o->nactions++; break;
    case O_RESET: o->action = RESET_OFFSETS, o->nactions++; break;
    case O_DELETE_OFFSETS: o->action = DELETE_OFFSETS, o->nactions++; break;
    case O_GROUP:
      if (o->ngroups == MAX_GROUPS) return usage_error("at most %d --group options", MAX_GROUPS);
      o->groups[o->ngroups++] = optarg;
      break;
    case O_ALL_GROUPS: o->all_groups = true; break;
    case O_TOPIC:
      if (o->ntopics == MAX_TOPIC_ARGS)
        return usage_error("at most %d --topic options", MAX_TOPIC_ARGS);
      o->topics[o->ntopics++] = optarg;
      break;
    case O_ALL_TOPICS: o->all_topics = true; break;
    case O_MEMBERS: o->members = true; break;
    case O_OFFSETS: o->offsets = true; break;
    case O_STATE:
      o->state = true;
      /* "--state stable,empty": getopt takes an optional value only as --state=...; the
       * next word counts as the value when it is not an option. */
      if (optarg) o->state_filter = optarg;
      else if (optind < argc && argv[optind][0] != '-') o->state_filter = argv[optind++];
      break;
    case O_VERBOSE: o->verbose = true; break;
    case O_DRY_RUN: o->dry_run = true; break;
    case O_EXECUTE: o->execute = true; break;
    case O_EXPORT: o->export_csv = true; break;
    case O_TO_EARLIEST: o->scenario = TO_EARLIEST, o->nscenarios++; break;
    case O_TO_LATEST: o->scenario = TO_LATEST, o->nscenarios++; break;
    case O_TO_CURRENT: o->scenario = TO_CURRENT, o->nscenarios++; break;
    case O_TO_OFFSET:
    case O_SHIFT_BY:
      if (!parse_i64(optarg, &o->scenario_value))
        return usage_error("%s '%s': expected a whole number", argv[optind - 1], optarg);
      o->scenario = c == O_TO_OFFSET ? TO_OFFSET : SHIFT_BY;
      o->nscenarios++;
      break;
    case O_TIMEOUT:
      if (!parse_i64(optarg, &o->timeout_ms) || o->timeout_ms < 1)
        return usage_error("--timeout '%s': expected milliseconds", optarg);
      break;
    case O_COMMAND_CONFIG: o->command_config = optarg; break;
    case O_UNSUPPORTED:
      return usage_error("%s is not supported by minikafka groups (--to-earliest, --to-latest, "
                         "--to-offset, --shift-by and --to-current are)", argv[optind - 1]);
    case 'h':
    case O_HELP: usage(stdout); return -1;
    default: return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc) return usage_error("unexpected argument '%s'", argv[optind]);
  if (!o->bootstrap) return usage_error("Missing required argument \"[bootstrap-server]\"");
  if (o->nactions != 1)
    return usage_error("Command must include exactly one action: --list, --describe, --delete, "
                       "--reset-offsets, --delete-offsets");
  bool has_group = o->ngroups > 0;
  if (has_group && o->all_groups)
    return usage_error("Option \"[group]\" can't be used with option \"[all-groups]\"");
  if ((o->members || o->offsets || o->verbose) && o->action != DESCRIBE)
    return usage_error("Option \"[%s]\" can't be used without option \"[describe]\"",
                       o->members ? "members" : o->offsets ? "offsets" : "verbose");
  if (o->state && o->action != DESCRIBE && o->action != LIST)
    return usage_error("Option \"[state]\" can't be used without option \"[describe]\" or "
                       "\"[list]\"");
  if (o->action == DESCRIBE) {
    if (!has_group && !o->all_groups)
      return usage_error("Option [describe] takes one of these options: [all-groups], [group]");
    if (o->members + o->offsets + o->state > 1)
      return usage_error("Option [describe] takes at most one of these options: [members], "
                         "[offsets], [state]");
    if (o->state && o->state_filter)
      return usage_error("Option [describe] does not take a value for [state]");
  }
  if (o->action == DELETE) {
    if (!has_group && !o->all_groups)
      return usage_error("Option [delete] takes one of these options: [all-groups], [group]");
    if (o->ntopics)
      return usage_error("The consumer does not support topic-specific offset deletion from a "
                         "consumer group.");
  }
  if (o->action == DELETE_OFFSETS && (o->ngroups != 1 || !o->ntopics))
    return usage_error("Option [delete-offsets] takes the following options: [group], [topic]");
  if (o->action == RESET_OFFSETS) {
    if (o->dry_run && o->execute)
      return usage_error("Option [reset-offsets] only accepts one of [execute] and [dry-run]");
    if (!has_group && !o->all_groups)
      return usage_error("Option [reset-offsets] takes one of these options: [all-groups], "
                         "[group]");
    if (o->nscenarios != 1)
      return usage_error(o->nscenarios ? "Option [reset-offsets] takes only one of the reset "
                                         "specifications"
                                       : "Option '[reset-offsets]' requires one of the following "
                                         "scenarios: [to-earliest], [to-latest], [to-offset], "
                                         "[shift-by], [to-current]");
    if (!o->ntopics && !o->all_topics)
      return usage_error("One of the reset scopes should be defined: --all-topics, --topic.");
    if (o->ntopics && o->all_topics)
      return usage_error("Option \"[topic]\" can't be used with option \"[all-topics]\"");
    if (!o->dry_run && !o->execute)
      fprintf(stderr, "WARN: No action will be performed as the --execute option is missing. "
              "In a future major release, the default behavior of this command will be to "
              "prompt the user before executing the reset rather than doing a dry run. You "
              "should add the --dry-run option explicitly if you are scripting this command "
              "and want to keep the current default behavior without prompting.\n");
  } else if (o->nscenarios || o->dry_run || o->execute || o->export_csv) {
    return usage_error("the reset options need [reset-offsets]");
  }
  if (o->ntopics && o->action != RESET_OFFSETS && o->action != DELETE_OFFSETS)
    return usage_error("Option \"[topic]\" can't be used without option \"[reset-offsets]\" or "
                       "\"[delete-offsets]\"");
  if ((has_group || o->all_groups) && o->action == LIST)
    return usage_error("Option \"[group]\" can't be used with option \"[list]\"");
  return 0;
}

/* ---- the admin side: a client, and a consumer per group -------------------------------------- */

struct admin {
  struct options *o;
  struct mk_client client;
  int status;
};

/* A consumer of group (never joining it) for committed offsets, log ends and commits. */
static int group_consumer(struct admin *ad, const char *group, struct mk_consumer **out,
                          struct mk_err *err) {
  struct mk_consumer_config *cfg = mk_consumer_config_new();
  if (!cfg) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  char timeout[32];
  snprintf(timeout, sizeof timeout, "%lld", (long long)ad->o->timeout_ms);
  int rc = mk_consumer_config_set(cfg, "bootstrap.servers", ad->o->bootstrap, err);
  if (!rc && ad->o->command_config)
    rc = mk_consumer_config_load_file(cfg, ad->o->command_config, err);
  if (!rc && group) rc = mk_consumer_config_set(cfg, "group.id", group, err);
  if (!rc && group) rc = mk_consumer_config_set(cfg, "enable.auto.commit", "false", err);
  if (!rc) rc = mk_consumer_config_set(cfg, "default.api.timeout.ms", timeout, err);
  if (!rc) rc = mk_consumer_config_finish(cfg, err);
  if (!rc) rc = mk_consumer_new(cfg, out, err);
  mk_consumer_config_free(cfg);
  return rc;
}

/* The coordinator of group, as a connection of ad->client (conn must be freed with
 * mk_client_conn_close). */
static int coordinator(struct admin *ad, const char *group, struct mk_client_conn *conn,
                       int32_t *node, char host[256], int *port, struct mk_err *err) {
  int64_t deadline = now_ms() + ad->o->timeout_ms;
  for (;;) {
    int rc = mk_client_find_coordinator(&ad->client, group, 0, node, host, port, err);
    if (!rc) {
      mk_client_conn_init(conn, &ad->client, INT32_MAX - *node, host, *port);
      return 0;
    }
    if (!(rc > 0 && mk_err_retriable(rc)) || now_ms() >= deadline) return rc;
    struct timespec ts = {0, 100 * 1000000};
    nanosleep(&ts, NULL);
  }
}

/* ---- --list ---------------------------------------------------------------------------------- */

struct listed {
  char id[256];
  char state[32];
};

static int cmp_listed(const void *a, const void *b) {
  return strcmp(((const struct listed *)a)->id, ((const struct listed *)b)->id);
}

static const char *const group_states[] = {"PreparingRebalance", "CompletingRebalance", "Stable",
                                           "Dead", "Empty", NULL};

/* ListGroups to every broker: the consumer groups, sorted, without duplicates. */
static int list_groups(struct admin *ad, struct listed **out, int *n, struct mk_err *err) {
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_metadata_response *md = NULL;
  int rc = mk_client_metadata(&ad->client, NULL, 0, false, &md, &a, err);
  int cap = 0;
  *out = NULL;
  *n = 0;
  for (int i = 0; !rc && i < ad->client.nnodes; i++) {
    struct mk_client_conn *conn = &ad->client.nodes[i];
    struct mk_list_groups_request req;
    mk_schema_set_defaults(&mk_list_groups_request_schema, &req);
    struct mk_list_groups_response *resp = NULL;
    rc = mk_client_call(conn, MK_API_LIST_GROUPS, &req, (void **)&resp, &a, err);
    if (!rc && resp->error_code == MK_ERR_COORDINATOR_LOAD_IN_PROGRESS) {
      rc = mk_err_set(err, resp->error_code, "broker %d is still loading its groups",
                      conn->node_id);
      break;
    }
    if (!rc && resp->error_code)
      rc = mk_err_set(err, resp->error_code, "ListGroups at broker %d: %s", conn->node_id,
                      mk_err_name(resp->error_code));
    for (int32_t g = 0; !rc && g < resp->groups_count; g++) {
      const struct mk_list_groups_listed_group *lg = &resp->groups[g];
      if (lg->protocol_type.len > 0 && !mk_str_eq(lg->protocol_type, MK_CONSUMER_PROTOCOL_TYPE))
        continue;  /* not a consumer group (Connect workers, ...) */
      if (*n == cap) {
        cap = cap ? 2 * cap : 16;
        struct listed *v = realloc(*out, sizeof *v * (size_t)cap);
        if (!v) {
          rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
          break;
        }
        *out = v;
      }
      struct listed *l = &(*out)[(*n)++];
      snprintf(l->id, sizeof l->id, "%.*s", lg->group_id.len > 0 ? (int)lg->group_id.len : 0,
               lg->group_id.ptr ? lg->group_id.ptr : "");
      /* v4+ says the state; before, the state column says Unknown, as Kafka's */
      snprintf(l->state, sizeof l->state, "%.*s",
               lg->group_state.len > 0 ? (int)lg->group_state.len : 7,
               lg->group_state.len > 0 ? lg->group_state.ptr : "Unknown");
    }
  }
  mk_arena_free(&a);
  if (!rc && *n) qsort(*out, (size_t)*n, sizeof **out, cmp_listed);
  int k = 0;  /* one broker coordinates each group, but drop repeats all the same */
  for (int i = 0; !rc && i < *n; i++)
    if (k == 0 || strcmp((*out)[k - 1].id, (*out)[i].id) != 0) (*out)[k++] = (*out)[i];
  if (!rc) *n = k;
  return rc;
}

/* ConsumerGroupState.parse: case-insensitive. */
static bool state_in(const char *state, const char *filter) {
  const char *p = filter;
  while (*p) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    while (len && isspace((unsigned char)*p)) p++, len--;
    while (len && isspace((unsigned char)p[len - 1])) len--;
    if (len == strlen(state) && strncasecmp(p, state, len) == 0) return true;
    p = e ? e + 1 : p + len;
  }
  return false;
}

static int check_state_filter(const char *filter) {
  const char *p = filter;
  while (*p) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    char one[64];
    snprintf(one, sizeof one, "%.*s", (int)(len < 63 ? len : 63), p);
    bool ok = false;
    for (int i = 0; group_states[i]; i++) ok |= state_in(group_states[i], one);
    if (!ok)
      return usage_error("Invalid state list '%s'. Valid states are: PreparingRebalance, "
                         "CompletingRebalance, Stable, Dead, Empty", filter);
    p = e ? e + 1 : p + len;
  }
  return 0;
}

static int do_list(struct admin *ad) {
  struct options *o = ad->o;
  if (o->state_filter) {
    int rc = check_state_filter(o->state_filter);
    if (rc) return rc;
  }
  struct listed *groups;
  int n;
  struct mk_err err = {0};
  if (list_groups(ad, &groups, &n, &err)) {
    print_error("Executing consumer group command failed due to %s", err.msg);
    return MK_EXIT_FAILED;
  }
  if (!o->state) {
    for (int i = 0; i < n; i++) printf("%s\n", groups[i].id);
  } else {
    int width = 15;
    for (int i = 0; i < n; i++) {
      if (o->state_filter && !state_in(groups[i].state, o->state_filter)) continue;
      if ((int)strlen(groups[i].id) > width) width = (int)strlen(groups[i].id);
    }
    width += 10;  /* printGroupInfo: the longest id (at least 15) plus 10 */
    printf("%-*s %-20s\n", width, "GROUP", "STATE");
    for (int i = 0; i < n; i++)
      if (!o->state_filter || state_in(groups[i].state, o->state_filter))
        printf("%-*s %-20s\n", width, groups[i].id, groups[i].state);
  }
  free(groups);
  return MK_EXIT_OK;
}

/* ---- describing a group ---------------------------------------------------------------------- */

struct member {
  char id[256], instance[256], client_id[256], host[256];
  struct mk_topic_partition *parts;  /* topic names in the description's arena */
  int nparts;
};

struct description {
  char group[256];
  char state[32];
  char protocol_type[64];
  char assignor[64];
  int32_t coordinator;
  char coordinator_host[256];
  int coordinator_port;
  struct member *members;
  int nmembers;
  struct mk_arena arena;
};

static void copy_str(char *dst, size_t size, struct mk_str s) {
  snprintf(dst, size, "%.*s", s.len > 0 ? (int)s.len : 0, s.ptr ? s.ptr : "");
}

static void description_free(struct description *d) {
  free(d->members);
  mk_arena_free(&d->arena);
}

/* DescribeGroups at the coordinator. A group the coordinator does not know is Dead. */
static int describe(struct admin *ad, const char *group, struct description *d,
                    struct mk_err *err) {
  memset(d, 0, sizeof *d);
  mk_arena_init(&d->arena);
  snprintf(d->group, sizeof d->group, "%s", group);
  struct mk_client_conn conn;
  int rc = coordinator(ad, group, &conn, &d->coordinator, d->coordinator_host,
                       &d->coordinator_port, err);
  if (rc) return rc;
  int64_t deadline = now_ms() + ad->o->timeout_ms;
  struct mk_describe_groups_response *resp = NULL;
  for (;;) {
    struct mk_describe_groups_request req;
    mk_schema_set_defaults(&mk_describe_groups_request_schema, &req);
    struct mk_str g = mk_str_of(group);
    req.groups = &g;
    req.groups_count = 1;
    rc = mk_client_call(&conn, MK_API_DESCRIBE_GROUPS, &req, (void **)&resp, &d->arena, err);
    if (rc) break;
    int code = resp->groups_count == 1 ? resp->groups[0].error_code : MK_ERR_UNKNOWN_SERVER_ERROR;
    if (code == MK_ERR_COORDINATOR_LOAD_IN_PROGRESS && now_ms() < deadline) {
      struct timespec ts = {0, 100 * 1000000};
      nanosleep(&ts, NULL);
      continue;
    }
    if (code == MK_ERR_GROUP_ID_NOT_FOUND) {  /* v6 says so; older versions answer Dead */
      snprintf(d->state, sizeof d->state, "Dead");
      break;
    }
    if (code) rc = mk_err_set(err, code, "DescribeGroups for '%s': %s", group, mk_err_name(code));
    break;
  }
  mk_client_conn_close(&conn);
  if (rc || d->state[0]) return rc;
  const struct mk_describe_groups_described_group *dg = &resp->groups[0];
  copy_str(d->state, sizeof d->state, dg->group_state);
  copy_str(d->protocol_type, sizeof d->protocol_type, dg->protocol_type);
  copy_str(d->assignor, sizeof d->assignor, dg->protocol_data);
  if (d->protocol_type[0] && strcmp(d->protocol_type, MK_CONSUMER_PROTOCOL_TYPE) != 0)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "Consumer Group %s with protocol type '%s' is not "
                      "a valid consumer group", group, d->protocol_type);
  d->members = calloc((size_t)(dg->members_count > 0 ? dg->members_count : 1), sizeof *d->members);
  if (!d->members) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  for (int32_t i = 0; i < dg->members_count; i++) {
    const struct mk_describe_groups_described_group_member *m = &dg->members[i];
    struct member *mm = &d->members[d->nmembers++];
    copy_str(mm->id, sizeof mm->id, m->member_id);
    copy_str(mm->instance, sizeof mm->instance, m->group_instance_id);
    copy_str(mm->client_id, sizeof mm->client_id, m->client_id);
    copy_str(mm->host, sizeof mm->host, m->client_host);
    struct mk_consumer_protocol_assignment pa;
    int version;
    struct mk_err derr = {0};
    if (mk_consumer_protocol_assignment_decode(m->member_assignment, &pa, &version, &d->arena,
                                               &derr))
      return mk_err_set(err, MK_ERR__DECODE, "the assignment of member %s does not decode: %s",
                        mm->id, derr.msg);
    int total = 0;
    for (int32_t t = 0; t < pa.assigned_partitions_count; t++)
      total += pa.assigned_partitions[t].partitions_count > 0
                   ? pa.assigned_partitions[t].partitions_count
                   : 0;
    mm->parts = mk_arena_alloc(&d->arena, sizeof *mm->parts * (size_t)(total ? total : 1));
    if (!mm->parts) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
    for (int32_t t = 0; t < pa.assigned_partitions_count; t++) {
      const struct mk_consumer_protocol_assignment_topic_partition *tp = &pa.assigned_partitions[t];
      size_t len = tp->topic.len > 0 ? (size_t)tp->topic.len : 0;
      char *topic = mk_arena_alloc(&d->arena, len + 1);
      if (!topic) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
      if (len) memcpy(topic, tp->topic.ptr, len);
      for (int32_t k = 0; k < tp->partitions_count; k++)
        mm->parts[mm->nparts++] = (struct mk_topic_partition){topic, tp->partitions[k]};
    }
  }
  return 0;
}

/* shouldPrintMemberState: what Kafka says about a group's state before its table. Returns
 * whether the table follows. */
static bool print_state_note(const struct description *d, int rows) {
  if (strcmp(d->state, "Dead") == 0) {
    print_error("Consumer group '%s' does not exist.", d->group);
    return false;
  }
  if (strcmp(d->state, "Empty") == 0)
    fprintf(stderr, "\nConsumer group '%s' has no active members.\n", d->group);
  else if (strcmp(d->state, "PreparingRebalance") == 0 ||
           strcmp(d->state, "CompletingRebalance") == 0)
    fprintf(stderr, "\nWarning: Consumer group '%s' is rebalancing.\n", d->group);
  return rows > 0;
}

/* ---- --describe --offsets (the default) ------------------------------------------------------ */

struct committed {
  char *topic;
  int32_t partition;
  int64_t offset;
};

struct committed_list {
  struct committed *v;
  int n, cap;
  bool failed;
};

static void add_committed(void *opaque, const char *topic, int32_t partition, int64_t offset) {
  struct committed_list *l = opaque;
  if (offset < 0) return;
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 16;
    struct committed *v = realloc(l->v, sizeof *v * (size_t)cap);
    if (!v) {
      l->failed = true;
      return;
    }
    l->v = v;
    l->cap = cap;
  }
  char *t = strdup(topic);
  if (!t) {
    l->failed = true;
    return;
  }
  l->v[l->n++] = (struct committed){t, partition, offset};
}

static void committed_free(struct committed_list *l) {
  for (int i = 0; i < l->n; i++) free(l->v[i].topic);
  free(l->v);
}

static const struct committed *find_committed(const struct committed_list *l, const char *topic,
                                              int32_t partition) {
  for (int i = 0; i < l->n; i++)
    if (l->v[i].partition == partition && strcmp(l->v[i].topic, topic) == 0) return &l->v[i];
  return NULL;
}

/* One row of the offsets table. */
struct row {
  const char *topic;
  int32_t partition;
  int64_t offset;          /* committed, -1 none */
  int64_t log_end;         /* -1 unknown */
  const struct member *member;  /* NULL: no member has it */
};

static int cmp_row(const void *a, const void *b) {  /* by partition, as Kafka sorts them */
  const struct row *x = a, *y = b;
  if (x->partition != y->partition)
    return (x->partition > y->partition) - (x->partition < y->partition);
  return strcmp(x->topic, y->topic);
}

static int cmp_member_size(const void *a, const void *b) {  /* most partitions first */
  const struct member *x = *(const struct member *const *)a, *y = *(const struct member *const *)b;
  return (y->nparts > x->nparts) - (y->nparts < x->nparts);
}

/* Log end offsets of the rows (each -1 if its partition cannot be asked). */
static void fill_log_ends(struct mk_consumer *c, struct row *rows, int n) {
  struct mk_topic_partition *parts = malloc(sizeof *parts * (size_t)(n ? n : 1));
  int64_t *ends = malloc(sizeof *ends * (size_t)(n ? n : 1));
  struct mk_err err = {0};
  for (int i = 0; parts && i < n; i++)
    parts[i] = (struct mk_topic_partition){rows[i].topic, rows[i].partition};
  if (parts && ends && n && !mk_consumer_list_offsets(c, parts, n, MK_OFFSET_LATEST, ends, &err)) {
    for (int i = 0; i < n; i++) rows[i].log_end = ends[i];
  } else {
    for (int i = 0; parts && ends && i < n; i++)  /* one by one: one bad partition is "-" */
      rows[i].log_end = mk_consumer_list_offsets(c, &parts[i], 1, MK_OFFSET_LATEST, &ends[i], &err)
                            ? -1 : ends[i];
  }
  free(parts);
  free(ends);
}

static void print_offsets(const struct description *d, const struct committed_list *cl,
                          struct mk_consumer *c) {
  /* Members with partitions (most first), then committed partitions nobody has. */
  int nm = 0, nrows = 0;
  const struct member **ms = malloc(sizeof *ms * (size_t)(d->nmembers ? d->nmembers : 1));
  int cap = cl->n;
  for (int i = 0; i < d->nmembers; i++) cap += d->members[i].nparts;
  struct row *rows = malloc(sizeof *rows * (size_t)(cap ? cap : 1));
  if (!ms || !rows) {
    free(ms);
    free(rows);
    print_error("out of memory");
    return;
  }
  for (int i = 0; i < d->nmembers; i++)
    if (d->members[i].nparts) ms[nm++] = &d->members[i];
  /* a stable sort by size: insertion into the sorted prefix */
  for (int i = 1; i < nm; i++)
    for (int j = i; j > 0 && cmp_member_size(&ms[j - 1], &ms[j]) > 0; j--) {
      const struct member *t = ms[j];
      ms[j] = ms[j - 1];
      ms[j - 1] = t;
    }
  for (int i = 0; i < nm; i++) {
    int first = nrows;
    for (int k = 0; k < ms[i]->nparts; k++) {
      const struct mk_topic_partition *tp = &ms[i]->parts[k];
      const struct committed *co = find_committed(cl, tp->topic, tp->partition);
      rows[nrows++] = (struct row){tp->topic, tp->partition, co ? co->offset : -1, -1, ms[i]};
    }
    if (nrows - first > 1) qsort(rows + first, (size_t)(nrows - first), sizeof *rows, cmp_row);
  }
  int first = nrows;
  for (int i = 0; i < cl->n; i++) {
    bool assigned = false;
    for (int k = 0; k < first && !assigned; k++)
      assigned =
          rows[k].partition == cl->v[i].partition && strcmp(rows[k].topic, cl->v[i].topic) == 0;
    if (!assigned)
      rows[nrows++] = (struct row){cl->v[i].topic, cl->v[i].partition, cl->v[i].offset, -1, NULL};
  }
  if (nrows - first > 1) qsort(rows + first, (size_t)(nrows - first), sizeof *rows, cmp_row);
  if (print_state_note(d, nrows)) {
    fill_log_ends(c, rows, nrows);
    int wg = 15, wt = 15, wc = 15, wh = 15;  /* printOffsetFormat: at least 15 each */
    for (int i = 0; i < nrows; i++) {
      const struct member *m = rows[i].member;
      if ((int)strlen(d->group) > wg) wg = (int)strlen(d->group);
      if ((int)strlen(rows[i].topic) > wt) wt = (int)strlen(rows[i].topic);
      if (m && (int)strlen(m->id) > wc) wc = (int)strlen(m->id);
      if (m && (int)strlen(m->host) > wh) wh = (int)strlen(m->host);
    }
    printf("\n%-*s %-*s %-10s %-15s %-15s %-15s %-*s %-*s %s", wg, "GROUP", wt, "TOPIC",
           "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", wc, "CONSUMER-ID", wh, "HOST",
           "CLIENT-ID");
    for (int i = 0; i < nrows; i++) {
      const struct row *r = &rows[i];
      char partition[16], offset[24], end[24], lag[24];
      snprintf(partition, sizeof partition, "%d", r->partition);
      snprintf(offset, sizeof offset, "%lld", (long long)r->offset);
      snprintf(end, sizeof end, "%lld", (long long)r->log_end);
      snprintf(lag, sizeof lag, "%lld", (long long)(r->log_end - r->offset));
      printf("\n%-*s %-*s %-10s %-15s %-15s %-15s %-*s %-*s %s", wg, d->group, wt, r->topic,
             partition, r->offset >= 0 ? offset : MISSING, r->log_end >= 0 ? end : MISSING,
             r->offset >= 0 && r->log_end >= 0 ? lag : MISSING, wc,
             r->member ? r->member->id : MISSING, wh, r->member ? r->member->host : MISSING,
             r->member ? r->member->client_id : MISSING);
    }
    printf("\n");
  }
  free(ms);
  free(rows);
}

/* ---- --describe --members, --state ----------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* --verbose's ASSIGNMENT: per topic "(p,p,...)", each sorted as text, the topics' groups
 * sorted as text too, as Kafka 3.9's tool prints it (without the topic names, which its
 * Scala predecessor printed in front: "t(0,1)"). */
static void print_assignment(const struct member *m) {
  if (!m->nparts) {
    printf(MISSING);
    return;
  }
  char **groups = calloc((size_t)m->nparts, sizeof *groups);
  char **nums = calloc((size_t)m->nparts, sizeof *nums);
  int ng = 0;
  for (int i = 0; groups && nums && i < m->nparts; i++) {
    bool seen = false;
    for (int j = 0; j < i && !seen; j++) seen = strcmp(m->parts[j].topic, m->parts[i].topic) == 0;
    if (seen) continue;
    int nn = 0;
    for (int j = i; j < m->nparts; j++)
      if (strcmp(m->parts[j].topic, m->parts[i].topic) == 0) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", m->parts[j].partition);
        nums[nn++] = strdup(buf);
      }
    if (nn > 1) qsort(nums, (size_t)nn, sizeof *nums, cmp_str);
    size_t len = 3;
    for (int k = 0; k < nn; k++) len += (nums[k] ? strlen(nums[k]) : 0) + 1;
    char *g = malloc(len);
    if (g) {
      strcpy(g, "(");
      for (int k = 0; k < nn; k++) {
        if (k) strcat(g, ",");
        if (nums[k]) strcat(g, nums[k]);
      }
      strcat(g, ")");
    }
    for (int k = 0; k < nn; k++) free(nums[k]);
    if (g) groups[ng++] = g;
  }
  if (ng > 1) qsort(groups, (size_t)ng, sizeof *groups, cmp_str);
  for (int i = 0; i < ng; i++) {
    printf("%s%s", i ? ", " : "", groups[i]);
    free(groups[i]);
  }
  free(groups);
  free(nums);
}

static void print_members(const struct description *d, bool verbose) {
  int wg = 15, wc = 15, wi = 17, wh = 15, wl = 15;
  bool instances = false;
  if (print_state_note(d, d->nmembers)) {
    for (int i = 0; i < d->nmembers; i++) {
      const struct member *m = &d->members[i];
      if ((int)strlen(d->group) > wg) wg = (int)strlen(d->group);
      if ((int)strlen(m->id) > wc) wc = (int)strlen(m->id);
      if ((int)strlen(m->instance) > wi) wi = (int)strlen(m->instance);
      if ((int)strlen(m->host) > wh) wh = (int)strlen(m->host);
      if ((int)strlen(m->client_id) > wl) wl = (int)strlen(m->client_id);
      instances |= m->instance[0] != '\0';
    }
  }
  /* Kafka prints the header whatever the state (after the error, for a dead group). */
  if (instances)
    printf("\n%-*s %-*s %-*s %-*s %-*s %-15s ", wg, "GROUP", wc, "CONSUMER-ID", wi,
           "GROUP-INSTANCE-ID", wh, "HOST", wl, "CLIENT-ID", "#PARTITIONS");
  else
    printf("\n%-*s %-*s %-*s %-*s %-15s ", wg, "GROUP", wc, "CONSUMER-ID", wh, "HOST", wl,
           "CLIENT-ID", "#PARTITIONS");
  if (verbose) printf("ASSIGNMENT");
  printf("\n");
  for (int i = 0; i < d->nmembers; i++) {
    const struct member *m = &d->members[i];
    char nparts[16];
    snprintf(nparts, sizeof nparts, "%d", m->nparts);
    if (instances)
      printf("%-*s %-*s %-*s %-*s %-*s %-15s ", wg, d->group, wc, m->id, wi, m->instance, wh,
             m->host, wl, m->client_id, nparts);
    else
      printf("%-*s %-*s %-*s %-*s %-15s ", wg, d->group, wc, m->id, wh, m->host, wl,
             m->client_id, nparts);
    if (verbose) print_assignment(m);
    printf("\n");
  }
}

static void print_group_state(const struct description *d) {
  if (!print_state_note(d, 1)) return;
  char coordinator[300];
  snprintf(coordinator, sizeof coordinator, "%s:%d  (%d)", d->coordinator_host,
           d->coordinator_port, d->coordinator);
  int w = (int)strlen(coordinator) > 25 ? (int)strlen(coordinator) : 25;
  printf("\n%-*s %-25s %-20s %-15s %s", w, "GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY",
         "STATE", "#MEMBERS");
  printf("\n%-*s %-25s %-20s %-15s %d", w, d->group, coordinator, d->assignor, d->state,
         d->nmembers);
  printf("\n");
}

/* The groups an action is about: --group ..., or every consumer group. */
static int target_groups(struct admin *ad, struct listed **out, int *n) {
  struct options *o = ad->o;
  if (!o->all_groups) {
    *out = calloc((size_t)o->ngroups, sizeof **out);
    if (!*out) return MK_ERR__NO_MEMORY;
    for (int i = 0; i < o->ngroups; i++)
      snprintf((*out)[i].id, sizeof(*out)[i].id, "%s", o->groups[i]);
    *n = o->ngroups;
    if (*n > 1) qsort(*out, (size_t)*n, sizeof **out, cmp_listed);  /* Kafka's TreeMap: by group id */
    return 0;
  }
  struct mk_err err = {0};
  int rc = list_groups(ad, out, n, &err);
  if (rc) print_error("Executing consumer group command failed due to %s", err.msg);
  return rc;
}

static int do_describe(struct admin *ad) {
  struct options *o = ad->o;
  struct listed *groups;
  int n, status = MK_EXIT_OK;
  if (target_groups(ad, &groups, &n)) return MK_EXIT_FAILED;
  for (int i = 0; i < n; i++) {
    struct description d;
    struct mk_err err = {0};
    if (describe(ad, groups[i].id, &d, &err)) {
      print_error("Executing consumer group command failed due to %s", err.msg);
      description_free(&d);
      status = MK_EXIT_FAILED;
      continue;
    }
    if (o->members) {
      print_members(&d, o->verbose);
    } else if (o->state) {
      print_group_state(&d);
    } else {
      struct mk_consumer *c = NULL;
      struct committed_list cl = {0};
      int rc = group_consumer(ad, d.group, &c, &err);
      if (!rc && strcmp(d.state, "Dead") != 0)
        rc = mk_consumer_list_group_offsets(c, add_committed, &cl, &err);
      if (!rc && cl.failed) rc = mk_err_set(&err, MK_ERR__NO_MEMORY, "out of memory");
      if (rc) {
        print_error("Executing consumer group command failed due to %s", err.msg);
        status = MK_EXIT_FAILED;
      } else {
        print_offsets(&d, &cl, c);
      }
      committed_free(&cl);
      mk_consumer_close(c);
    }
    if (strcmp(d.state, "Dead") == 0) status = MK_EXIT_FAILED;
    description_free(&d);
  }
  free(groups);
  return status;
}

/* ---- --reset-offsets ------------------------------------------------------------------------- */

struct reset {
  char *topic;
  int32_t partition;
  int64_t offset;
};

static int cmp_reset(const void *a, const void *b) {
  const struct reset *x = a, *y = b;
  int c = strcmp(x->topic, y->topic);
  return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* The partitions --topic names ("t": all of them; "t:0,2": those), or --all-topics's
 * (those the group has committed offsets for). */
static int partitions_to_reset(struct admin *ad, struct mk_consumer *c,
                               const struct committed_list *cl, struct reset **out, int *n,
                               struct mk_err *err) {
  struct options *o = ad->o;
  int cap = 0;
  *out = NULL;
  *n = 0;
  int rc = 0;
#define ADD(t, p)                                                                  \
  do {                                                                             \
    if (*n == cap) {                                                               \
      cap = cap ? 2 * cap : 16;                                                    \
      struct reset *v = realloc(*out, sizeof *v * (size_t)cap);                    \
      if (!v) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");          \
      *out = v;                                                                    \
    }                                                                              \
    (*out)[*n] = (struct reset){strdup(t), (p), -1};                               \
    if (!(*out)[(*n)++].topic) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory"); \
  } while (0)
  if (o->all_topics) {
    for (int i = 0; i < cl->n; i++) ADD(cl->v[i].topic, cl->v[i].partition);
    return 0;
  }
  for (int i = 0; i < o->ntopics && !rc; i++) {
    const char *arg = o->topics[i], *colon = strchr(arg, ':');
    char topic[256];
    snprintf(topic, sizeof topic, "%.*s", (int)(colon ? (size_t)(colon - arg) : strlen(arg)), arg);
    if (!colon) {
      int32_t count = 0;
      rc = mk_consumer_partitions_for(c, topic, &count, err);
      for (int32_t p = 0; !rc && p < count; p++) ADD(topic, p);
      continue;
    }
    const char *p = colon + 1;
    if (!*p || strchr(p, ':'))
      return mk_err_set(err, MK_ERR__INVALID_ARG, "Invalid topic arg '%s', expected topic name "
                        "and partitions", arg);
    while (*p) {
      char *end;
      errno = 0;
      long num = strtol(p, &end, 10);
      if (end == p || (*end && *end != ',') || errno || num < 0 || num > INT32_MAX)
        return mk_err_set(err, MK_ERR__INVALID_ARG, "Invalid partition '%.*s' specified in "
                          "topic arg '%s''", (int)strcspn(p, ","), p, arg);
      ADD(topic, (int32_t)num);
      p = *end ? end + 1 : end;
    }
  }
#undef ADD
  return rc;
}

static void resets_free(struct reset *r, int n) {
  for (int i = 0; i < n; i++) free(r[i].topic);
  free(r);
}

/* prepareOffsetsToReset: the new offset of each partition. Returns 0 or an error. */
static int prepare_resets(struct admin *ad, struct mk_consumer *c, const struct committed_list *cl,
                          struct reset *r, int n, struct mk_err *err) {
  struct options *o = ad->o;
  struct mk_topic_partition *parts = malloc(sizeof *parts * (size_t)(n ? n : 1));
  int64_t *start = malloc(sizeof *start * (size_t)(n ? n : 1));
  int64_t *end = malloc(sizeof *end * (size_t)(n ? n : 1));
  int rc = parts && start && end ? 0 : mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  for (int i = 0; !rc && i < n; i++)
    parts[i] = (struct mk_topic_partition){r[i].topic, r[i].partition};
  if (!rc && n) rc = mk_consumer_list_offsets(c, parts, n, MK_OFFSET_EARLIEST, start, err);
  if (!rc && n) rc = mk_consumer_list_offsets(c, parts, n, MK_OFFSET_LATEST, end, err);
  for (int i = 0; !rc && i < n; i++) {
    const struct committed *co = find_committed(cl, r[i].topic, r[i].partition);
    int64_t want = 0;
    switch (o->scenario) {
      case TO_EARLIEST: r[i].offset = start[i]; continue;
      case TO_LATEST: r[i].offset = end[i]; continue;
      case TO_CURRENT: r[i].offset = co ? co->offset : end[i]; continue;
      case TO_OFFSET: want = o->scenario_value; break;
      case SHIFT_BY:
        if (!co) {
          rc = mk_err_set(err, MK_ERR__INVALID_ARG, "Cannot shift offset for partition %s-%d "
                          "since there is no current committed offset", r[i].topic,
                          r[i].partition);
          continue;
        }
        want = co->offset + o->scenario_value;
        break;
      default: break;
    }
    /* checkOffsetsRange: clamp into [log start, log end], with Kafka's warning. */
    if (want > end[i]) {
      fprintf(stderr, "[groups] WARN New offset (%lld) is higher than latest offset for topic "
              "partition %s-%d. Value will be set to %lld\n", (long long)want, r[i].topic,
              r[i].partition, (long long)end[i]);
      want = end[i];
    } else if (want < start[i]) {
      fprintf(stderr, "[groups] WARN New offset (%lld) is lower than earliest offset for topic "
              "partition %s-%d. Value will be set to %lld\n", (long long)want, r[i].topic,
              r[i].partition, (long long)start[i]);
      want = start[i];
    }
    r[i].offset = want;
  }
  free(parts);
  free(start);
  free(end);
  return rc;
}

static int do_reset_offsets(struct admin *ad) {
  struct options *o = ad->o;
  struct listed *groups;
  int n, status = MK_EXIT_OK;
  if (target_groups(ad, &groups, &n)) return MK_EXIT_FAILED;
  bool header = false;
  char csv_buf[1 << 14];
  size_t csv_len = 0;
  for (int g = 0; g < n; g++) {
    struct description d;
    struct mk_err err = {0};
    struct mk_consumer *c = NULL;
    struct committed_list cl = {0};
    struct reset *r = NULL;
    int nr = 0;
    int rc = describe(ad, groups[g].id, &d, &err);
    if (!rc && strcmp(d.state, "Empty") != 0 && strcmp(d.state, "Dead") != 0) {
      print_error("Assignments can only be reset if the group '%s' is inactive, but the current "
                  "state is %s.", d.group, d.state);
      status = MK_EXIT_FAILED;
      if (!header && !o->export_csv) {
        printf("\n%-30s %-30s %-10s %-15s", "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET");
        header = true;
      }
      description_free(&d);
      continue;
    }
    if (!rc) rc = group_consumer(ad, groups[g].id, &c, &err);
    if (!rc && strcmp(d.state, "Dead") != 0)
      rc = mk_consumer_list_group_offsets(c, add_committed, &cl, &err);
    if (!rc) rc = partitions_to_reset(ad, c, &cl, &r, &nr, &err);
    if (!rc) rc = prepare_resets(ad, c, &cl, r, nr, &err);
    if (!rc && nr) qsort(r, (size_t)nr, sizeof *r, cmp_reset);
    if (!rc && o->execute && nr) {
      struct mk_topic_partition *parts = malloc(sizeof *parts * (size_t)nr);
      int64_t *offsets = malloc(sizeof *offsets * (size_t)nr);
      rc = parts && offsets ? 0 : mk_err_set(&err, MK_ERR__NO_MEMORY, "out of memory");
      for (int i = 0; !rc && i < nr; i++) {
        parts[i] = (struct mk_topic_partition){r[i].topic, r[i].partition};
        offsets[i] = r[i].offset;
      }
      if (!rc) rc = mk_consumer_commit_offsets(c, parts, offsets, nr, &err);
      free(parts);
      free(offsets);
    }
    if (rc) {
      print_error("Executing consumer group command failed due to %s", err.msg);
      status = MK_EXIT_FAILED;
    } else if (o->export_csv) {
      for (int i = 0; i < nr && csv_len < sizeof csv_buf; i++) {
        int w = o->ngroups == 1 ? snprintf(csv_buf + csv_len, sizeof csv_buf - csv_len,
                                           "%s,%d,%lld\n", r[i].topic, r[i].partition,
                                           (long long)r[i].offset)
                                : snprintf(csv_buf + csv_len, sizeof csv_buf - csv_len,
                                           "%s,%s,%d,%lld\n", d.group, r[i].topic, r[i].partition,
                                           (long long)r[i].offset);
        csv_len += w > 0 ? (size_t)w : 0;
      }
    } else {
      if (!header) {
        printf("\n%-30s %-30s %-10s %-15s", "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET");
        header = true;
      }
      for (int i = 0; i < nr; i++) {
        char partition[16], offset[24];
        snprintf(partition, sizeof partition, "%d", r[i].partition);
        snprintf(offset, sizeof offset, "%lld", (long long)r[i].offset);
        printf("\n%-30s %-30s %-10s %-15s", d.group, r[i].topic, partition, offset);
      }
    }
    resets_free(r, nr);
    committed_free(&cl);
    mk_consumer_close(c);
    description_free(&d);
  }
  if (o->export_csv)
    printf("%.*s\n", (int)(csv_len < sizeof csv_buf ? csv_len : sizeof csv_buf), csv_buf);
  else printf("\n");
  free(groups);
  return status;
}

/* ---- --delete, --delete-offsets -------------------------------------------------------------- */

/* The exception Kafka's tool prints for an error code, with its message (Errors.java). */
static const char *exception_text(int code, char *buf, size_t size) {
  static const struct { int code; const char *text;
  } texts[] = {
      {MK_ERR_NON_EMPTY_GROUP,
       "org.apache.kafka.common.errors.GroupNotEmptyException: The group is not empty."},
      {MK_ERR_GROUP_ID_NOT_FOUND,
       "org.apache.kafka.common.errors.GroupIdNotFoundException: The group id does not exist."},
      {MK_ERR_INVALID_GROUP_ID,
       "org.apache.kafka.common.errors.InvalidGroupIdException: The configured groupId is "
       "invalid."},
      {MK_ERR_GROUP_AUTHORIZATION_FAILED,
       "org.apache.kafka.common.errors.GroupAuthorizationException: Group authorization failed."},
      {MK_ERR_COORDINATOR_NOT_AVAILABLE,
       "org.apache.kafka.common.errors.CoordinatorNotAvailableException: The coordinator is not "
       "available."},
      {MK_ERR_NOT_COORDINATOR,
       "org.apache.kafka.common.errors.NotCoordinatorException: This is not the correct "
       "coordinator."},
      {MK_ERR_GROUP_SUBSCRIBED_TO_TOPIC,
       "org.apache.kafka.common.errors.GroupSubscribedToTopicException: The consumer group is "
       "actively subscribed to the topic"},
      {MK_ERR_UNKNOWN_TOPIC_OR_PARTITION,
       "org.apache.kafka.common.errors.UnknownTopicOrPartitionException: This server does not host "
       "this topic-partition."},
  };
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
    if (texts[i].code == code) return texts[i].text;
  snprintf(buf, size, "%s", mk_err_name(code));
  return buf;
}

static int do_delete(struct admin *ad) {
  struct listed *groups;
  int n;
  if (target_groups(ad, &groups, &n)) return MK_EXIT_FAILED;
  char ok[4096] = "", failed[8192] = "";
  int nok = 0, nfailed = 0;
  for (int g = 0; g < n; g++) {
    struct mk_err err = {0};
    struct mk_client_conn conn;
    int32_t node;
    char host[256];
    int port;
    int code = coordinator(ad, groups[g].id, &conn, &node, host, &port, &err);
    if (!code) {
      struct mk_arena a;
      mk_arena_init(&a);
      struct mk_delete_groups_request req;
      mk_schema_set_defaults(&mk_delete_groups_request_schema, &req);
      struct mk_str id = mk_str_of(groups[g].id);
      req.groups_names = &id;
      req.groups_names_count = 1;
      struct mk_delete_groups_response *resp = NULL;
      code = mk_client_call(&conn, MK_API_DELETE_GROUPS, &req, (void **)&resp, &a, &err);
      if (!code)
        code = resp->results_count == 1 ? resp->results[0].error_code : MK_ERR_UNKNOWN_SERVER_ERROR;
      mk_arena_free(&a);
      mk_client_conn_close(&conn);
    }
    size_t used;
    if (!code) {
      used = strlen(ok);
      snprintf(ok + used, sizeof ok - used, "%s%s", nok++ ? ", " : "", groups[g].id);
    } else {
      char buf[64];
      used = strlen(failed);
      snprintf(failed + used, sizeof failed - used,
               "* Group '%s' could not be deleted due to: %s\n", groups[g].id,
               code < 0 ? err.msg : exception_text(code, buf, sizeof buf));
      nfailed++;
    }
  }
  if (!nfailed) {
    printf("Deletion of requested consumer groups ('%s') was successful.\n", ok);
  } else {
    print_error("Deletion of some consumer groups failed:");
    printf("%s", failed);
    if (nok) printf("\nThese consumer groups were deleted successfully: '%s'\n", ok);
  }
  free(groups);
  return nfailed ? MK_EXIT_FAILED : MK_EXIT_OK;
}

static int do_delete_offsets(struct admin *ad) {
  struct options *o = ad->o;
  const char *group = o->groups[0];
  struct mk_err err = {0};
  struct mk_consumer *c = NULL;
  struct reset *r = NULL;
  int nr = 0;
  int rc = group_consumer(ad, NULL, &c, &err);
  struct committed_list none = {0};
  if (!rc) rc = partitions_to_reset(ad, c, &none, &r, &nr, &err);
  mk_consumer_close(c);
  if (rc) {
    print_error("Executing consumer group command failed due to %s", err.msg);
    resets_free(r, nr);
    return MK_EXIT_FAILED;
  }
  if (nr > 1) qsort(r, (size_t)nr, sizeof *r, cmp_reset);
  struct mk_client_conn conn;
  int32_t node;
  char host[256];
  int port;
  int top = coordinator(ad, group, &conn, &node, host, &port, &err);
  int16_t *codes = calloc((size_t)(nr ? nr : 1), sizeof *codes);
  struct mk_arena a;
  mk_arena_init(&a);
  if (!top && codes) {
    struct mk_offset_delete_request req;
    mk_schema_set_defaults(&mk_offset_delete_request_schema, &req);
    req.group_id = mk_str_of(group);
    req.topics = mk_arena_alloc(&a, sizeof *req.topics * (size_t)(nr ? nr : 1));
    for (int i = 0; req.topics && i < nr; i++) {
      struct mk_offset_delete_request_topic *t = NULL;
      for (int32_t k = 0; k < req.topics_count && !t; k++)
        if (mk_str_eq(req.topics[k].name, r[i].topic)) t = &req.topics[k];
      if (!t) {
        t = &req.topics[req.topics_count++];
        t->name = mk_str_of(r[i].topic);
        t->partitions = mk_arena_alloc(&a, sizeof *t->partitions * (size_t)nr);
        if (!t->partitions) break;
      }
      t->partitions[t->partitions_count++].partition_index = r[i].partition;
    }
    struct mk_offset_delete_response *resp = NULL;
    top = mk_client_call(&conn, MK_API_OFFSET_DELETE, &req, (void **)&resp, &a, &err);
    if (!top) top = resp->error_code;
    for (int32_t t = 0; resp && t < resp->topics_count; t++)
      for (int32_t k = 0; k < resp->topics[t].partitions_count; k++)
        for (int i = 0; i < nr; i++)
          if (r[i].partition == resp->topics[t].partitions[k].partition_index &&
              mk_str_eq(resp->topics[t].name, r[i].topic))
            codes[i] = resp->topics[t].partitions[k].error_code;
    mk_client_conn_close(&conn);
  }
  switch (top) {
    case 0:
      printf("Request succeed for deleting offsets with topic ");
      for (int i = 0; i < o->ntopics; i++) printf("%s%s", i ? ", " : "", o->topics[i]);
      printf(" group %s\n", group);
      break;
    case MK_ERR_INVALID_GROUP_ID: print_error("'%s' is not valid.", group); break;
    case MK_ERR_GROUP_ID_NOT_FOUND: print_error("'%s' does not exist.", group); break;
    case MK_ERR_GROUP_AUTHORIZATION_FAILED:
      print_error("Access to '%s' is not authorized.", group);
      break;
    case MK_ERR_NON_EMPTY_GROUP:
      print_error(
          "Deleting offsets of a consumer group '%s' is forbidden if the group is not empty.",
          group);
      break;
    case MK_ERR_GROUP_SUBSCRIBED_TO_TOPIC:
    case MK_ERR_UNKNOWN_TOPIC_OR_PARTITION:
      print_error("Encounter some partition level error, see the follow-up details:");
      break;
    default:
      print_error("Encounter some unknown error: %s", top < 0 ? err.msg : mk_err_name(top));
  }
  printf("\n%-30s %-15s %-15s", "TOPIC", "PARTITION", "STATUS");
  for (int i = 0; i < nr; i++) {
    char partition[16], buf[64], status[300];
    snprintf(partition, sizeof partition, "%d", r[i].partition);
    int code =
        top && top != MK_ERR_GROUP_SUBSCRIBED_TO_TOPIC && top != MK_ERR_UNKNOWN_TOPIC_OR_PARTITION
            ? top
        : codes ? codes[i]
                : MK_ERR__NO_MEMORY;
    if (code) {
      const char *text = code < 0 ? err.msg : exception_text(code, buf, sizeof buf);
      const char *colon = strstr(text, ": ");  /* the exception's message only */
      snprintf(status, sizeof status, "Error: :%s", colon ? colon + 2 : text);
    }
    printf("\n%-30s %-15s %-15s", r[i].topic, partition, code ? status : "Successful");
  }
  printf("\n");
  mk_arena_free(&a);
  free(codes);
  resets_free(r, nr);
  return top ? MK_EXIT_FAILED : MK_EXIT_OK;
}

int mk_cli_groups(int argc, char **argv) {
  struct options o = {0};
  int rc = parse_options(argc, argv, &o);
  if (rc) return rc < 0 ? MK_EXIT_OK : rc;
  struct admin ad = {.o = &o};
  mk_client_init(&ad.client, "minikafka-groups");
  ad.client.timeout_ms = (int)(o.timeout_ms > INT32_MAX ? INT32_MAX : o.timeout_ms);
  struct mk_err err = {0};
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_metadata_response *md = NULL;
  if (mk_client_bootstrap(&ad.client, o.bootstrap, &err) ||
      mk_client_metadata(&ad.client, NULL, 0, false, &md, &a, &err)) {
    mk_arena_free(&a);
    print_error("Executing consumer group command failed due to %s", err.msg);
    mk_client_free(&ad.client);
    return MK_EXIT_FAILED;
  }
  mk_arena_free(&a);
  switch (o.action) {
    case LIST: rc = do_list(&ad); break;
    case DESCRIBE: rc = do_describe(&ad); break;
    case RESET_OFFSETS: rc = do_reset_offsets(&ad); break;
    case DELETE: rc = do_delete(&ad); break;
    case DELETE_OFFSETS: rc = do_delete_offsets(&ad); break;
    default: rc = MK_EXIT_USAGE;
  }
  mk_client_free(&ad.client);
  return rc;
}
