/*
 * minikafka consume: print a topic's records, as kafka-console-consumer.sh does.
 * Kafka: tools/.../ConsoleConsumer.java, ConsoleConsumerOptions.java,
 * DefaultMessageFormatter.java. The consumer itself is consumer/consumer.h (KafkaConsumer):
 * this file is options, the poll loop and formatting. Keys and values print as their bytes,
 * or through --key-deserializer / --value-deserializer (cli/serde.h: Avro as JSON), as
 * DefaultMessageFormatter's key.deserializer and value.deserializer do.
 *
 *   minikafka consume --bootstrap-server 127.0.0.1:9092 --topic t --from-beginning \
 *       --property print.key=true --property print.offset=true
 *   Offset:0	k1	v1
 *
 * With --group G (or group.id in --consumer-property / --consumer.config) it is a member
 * of consumer group G: it subscribes to the topic, the group's leader gives it a share of
 * the partitions, it starts from the group's committed offsets (else auto.offset.reset:
 * latest, or earliest with --from-beginning) and commits as it goes (enable.auto.commit,
 * every auto.commit.interval.ms, before a rebalance and on exit). Two of them in two
 * terminals split the partitions; stop one and the other takes them all.
 *
 * Without a group it reads every partition of the topic (or the one --partition names)
 * and commits nothing. (Kafka's console consumer joins a made-up group
 * "console-consumer-NNNNN" with auto commit off instead; the records are the same.)
 *
 * It stops after --max-messages records, when --timeout-ms pass without a record, or on
 * Ctrl-C, and then prints "Processed a total of N messages" on stderr, like Kafka. As
 * Kafka's does, it commits on exit the position after everything poll() returned, printed
 * or not: with --max-messages, poll() may have returned more (max.poll.records).
 * Exit status: 0, 1 when a non-retriable error stops it, 2 for a bad command line,
 * 128 + the signal after Ctrl-C or SIGTERM.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/serde.h"  /* --key-deserializer, --value-deserializer: Avro as JSON */
#include "common/clock.h"
#include "common/log.h"
#include "consumer/consumer.h"
#include "protocol/record_batch.h"

/* DefaultMessageFormatter's settings (--property), with Kafka's defaults. */
struct format {
  bool print_timestamp, print_key, print_offset, print_partition, print_headers, print_value;
  const char *key_separator;          /* key.separator "\t": between columns */
  const char *line_separator;         /* line.separator "\n" */
  const char *headers_separator;      /* headers.separator "," */
  const char *headers_key_separator;  /* headers.key.separator ":" */
  const char *null_literal;           /* null.literal "null" */
};

struct options {
  const char *bootstrap;
  const char *topic;
  const char *group;                  /* --group */
  int32_t partition;                  /* -1: all */
  bool from_beginning;
  const char *offset;                 /* "earliest", "latest", a number, or NULL */
  int64_t max_messages;               /* -1: no limit */
  int64_t timeout_ms;                 /* -1: wait forever */
  bool skip_message_on_error;
  struct format fmt;
  struct mk_consumer_config *cfg;     /* --consumer-property, --consumer.config, the flags */
  struct mk_cli_serde serde;          /* how keys and values print (cli/serde.h) */
};

static volatile sig_atomic_t stop_signal;
static struct mk_consumer *the_consumer;  /* for the signal handler's wakeup */

static void on_signal(int sig) {
  stop_signal = sig;
  if (the_consumer) mk_consumer_wakeup(the_consumer);  /* async-signal-safe */
}

static int64_t now_ms(void) { return mk_now_us() / 1000; }

static void usage(FILE *out) {
  fprintf(out,
          "usage: minikafka consume --bootstrap-server HOST:PORT --topic T [options]\n"
          "\n"
          "Print a topic's records on stdout, like kafka-console-consumer.sh. With a group,\n"
          "take part in it: the group shares the partitions out and commits how far we got.\n"
          "\n"
          "  --bootstrap-server HOST:PORT[,...]  where to connect (required)\n"
          "  --topic T                 the topic (required)\n"
          "  --group G                 join consumer group G (= --consumer-property group.id=G)\n"
          "  --from-beginning          without a committed offset, start at the earliest\n"
          "                            offset, not the latest (auto.offset.reset=earliest)\n"
          "  --partition N             read only partition N (no group)\n"
          "  --offset earliest|latest|N  where to start in --partition (default latest)\n"
          "  --max-messages N          exit after N records\n"
          "  --timeout-ms N            exit when no record arrives for N ms\n"
          "  --isolation-level read_committed|read_uncommitted\n"
          "                            read_committed hides aborted and open transactions\n"
          "  --property K=V            formatting: print.key, print.value, print.offset,\n"
          "                            print.partition, print.headers, print.timestamp\n"
          "                            (true/false), key.separator, line.separator,\n"
          "                            headers.separator, headers.key.separator, null.literal\n"
          "  --consumer-property K=V   a consumer setting (Kafka's names, listed below)\n"
          "  --consumer.config FILE    consumer settings from a properties file\n"
          "  --skip-message-on-error   skip a batch that cannot be read, or a record the\n"
          "                            deserializer refuses, instead of stopping\n"
          "  --key-deserializer NAME   StringDeserializer, ByteArrayDeserializer (the bytes as\n"
          "  --value-deserializer NAME  they are, default) or AvroDeserializer: Confluent's\n"
          "                            Avro printed as JSON, schemas from --property\n"
          "                            schema.registry.url=URL\n"
          "\n"
          "On exit, \"Processed a total of N messages\" is printed on stderr. A group member\n"
          "commits on exit the position after every record poll() returned, as Kafka's does.\n"
          "\n"
          "Consumer settings [default], for --consumer-property and --consumer.config:\n");
}

/* One line of --help per consumer setting. */
static void usage_setting(void *opaque, const char *key, const char *value, const char *type,
                          const char *doc, bool user_set) {
  (void)type, (void)user_set;
  fprintf(opaque, "  %s [%s]\n      %s\n", key, *value ? value : "\"\"", doc);
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "minikafka consume: ");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n(minikafka consume --help shows the arguments)\n");
  return MK_EXIT_USAGE;
}

/* ---- options ------------------------------------------------------------------------------- */

static bool parse_i64(const char *s, int64_t lo, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || errno || v < lo) return false;
  *out = v;
  return true;
}

/* --property K=V: DefaultMessageFormatter.configure. */
static int set_property(struct options *o, const char *kv) {
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv) return usage_error("--property '%s': expected key=value", kv);
  size_t klen = (size_t)(eq - kv);
  const char *v = eq + 1;
  static const struct { const char *name; size_t offset; } bools[] = {
      {"print.timestamp", offsetof(struct format, print_timestamp)},
      {"print.key", offsetof(struct format, print_key)},
      {"print.offset", offsetof(struct format, print_offset)},
      {"print.partition", offsetof(struct format, print_partition)},
      {"print.headers", offsetof(struct format, print_headers)},
      {"print.value", offsetof(struct format, print_value)},
  };
  static const struct { const char *name; size_t offset; } strings[] = {
      {"key.separator", offsetof(struct format, key_separator)},
      {"line.separator", offsetof(struct format, line_separator)},
      {"headers.separator", offsetof(struct format, headers_separator)},
      {"headers.key.separator", offsetof(struct format, headers_key_separator)},
      {"null.literal", offsetof(struct format, null_literal)},
  };
  for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
    if (strlen(bools[i].name) != klen || strncmp(kv, bools[i].name, klen) != 0) continue;
    /* Kafka reads these with equalsIgnoreCase("true"): anything else is false. */
    *(bool *)((char *)&o->fmt + bools[i].offset) = strcasecmp(v, "true") == 0;
    return 0;
  }
  for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
    if (strlen(strings[i].name) != klen || strncmp(kv, strings[i].name, klen) != 0) continue;
    *(const char **)((char *)&o->fmt + strings[i].offset) = v;
    return 0;
  }
  /* Kafka hands unknown properties to the formatter, which ignores them; say so. */
  fprintf(stderr, "minikafka consume: ignoring unknown --property '%.*s'\n", (int)klen, kv);
  return 0;
}

/* --consumer-property K=V: a ConsumerConfig setting, checked as Java checks it. */
static int set_consumer_property(struct options *o, const char *kv) {
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv) return usage_error("--consumer-property '%s': expected key=value", kv);
  char key[128];
  snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
  struct mk_err err = {0};
  if (mk_consumer_config_set(o->cfg, key, eq + 1, &err)) return usage_error("%s", err.msg);
  return 0;
}

static int set_setting(struct options *o, const char *key, const char *value) {
  struct mk_err err = {0};
  if (mk_consumer_config_set(o->cfg, key, value, &err)) return usage_error("%s", err.msg);
  return 0;
}

/* ConsoleConsumerOptions.checkConsumerGroup and invalidOffset/auto.offset.reset rules. */
static int check_options(struct options *o) {
  int64_t n;
  if (!o->bootstrap) return usage_error("Missing required argument \"[bootstrap-server]\"");
  if (!o->topic) return usage_error("Exactly one of include/topic is required.");
  const char *cfg_group = o->cfg->group_id;
  if (o->group && cfg_group && strcmp(o->group, cfg_group) != 0)
    return usage_error("The group ids provided in different places (directly using '--group', "
                       "via '--consumer-property', or via '--consumer.config') do not match. "
                       "Detected group ids: '%s', '%s'", o->group, cfg_group);
  if (o->group) {
    int rc = set_setting(o, "group.id", o->group);
    if (rc) return rc;
  }
  bool grouped = o->cfg->group_id != NULL;
  if (grouped && o->partition >= 0)
    return usage_error("Options group and partition cannot be specified together.");
  if (o->offset && o->partition < 0)
    return usage_error("The partition is required when offset is specified.");
  if (o->offset && o->from_beginning)
    return usage_error("Options from-beginning and offset cannot be specified together.");
  if (o->offset && strcmp(o->offset, "earliest") && strcmp(o->offset, "latest") &&
      !parse_i64(o->offset, 0, &n))
    return usage_error("The provided offset value '%s' is incorrect. Valid values are "
                       "'earliest', 'latest', or a non-negative long.", o->offset);
  /* auto.offset.reset: the user's, else earliest with --from-beginning, else latest. */
  if (mk_consumer_config_is_set(o->cfg, "auto.offset.reset")) {
    char v[32];
    mk_consumer_config_get(o->cfg, "auto.offset.reset", v, sizeof v, NULL);
    if (o->from_beginning && strcmp(v, "earliest") != 0) {
      fprintf(stderr, "Can't simultaneously specify --from-beginning and 'auto.offset.reset=%s', "
              "please remove one option\n", v);
      return MK_EXIT_FAILED;
    }
  } else {
    int rc = set_setting(o, "auto.offset.reset", o->from_beginning ? "earliest" : "latest");
    if (rc) return rc;
  }
  struct mk_err err = {0};
  int rc = set_setting(o, "bootstrap.servers", o->bootstrap);
  if (!rc && mk_consumer_config_finish(o->cfg, &err)) rc = usage_error("%s", err.msg);
  if (!rc && mk_cli_serde_consumer(&o->serde, &err)) rc = usage_error("%s", err.msg);
  return rc;
}

static int parse_options(int argc, char **argv, struct options *o) {
  enum {
    O_BOOTSTRAP = 256, O_TOPIC, O_PARTITION, O_OFFSET, O_FROM_BEGINNING, O_MAX_MESSAGES,
    O_TIMEOUT, O_ISOLATION, O_PROPERTY, O_CONSUMER_PROPERTY, O_CONSUMER_CONFIG, O_SKIP,
    O_GROUP, O_HELP, O_KEY_DESERIALIZER, O_VALUE_DESERIALIZER,
  };
  static const struct option longopts[] = {
      {"bootstrap-server", required_argument, NULL, O_BOOTSTRAP},
      {"topic", required_argument, NULL, O_TOPIC},
      {"partition", required_argument, NULL, O_PARTITION},
      {"offset", required_argument, NULL, O_OFFSET},
      {"from-beginning", no_argument, NULL, O_FROM_BEGINNING},
      {"max-messages", required_argument, NULL, O_MAX_MESSAGES},
      {"timeout-ms", required_argument, NULL, O_TIMEOUT},
      {"isolation-level", required_argument, NULL, O_ISOLATION},
      {"property", required_argument, NULL, O_PROPERTY},
      {"consumer-property", required_argument, NULL, O_CONSUMER_PROPERTY},
      {"consumer.config", required_argument, NULL, O_CONSUMER_CONFIG},
      {"skip-message-on-error", no_argument, NULL, O_SKIP},
      {"group", required_argument, NULL, O_GROUP},
      {"help", no_argument, NULL, O_HELP},
      {"key-deserializer", required_argument, NULL, O_KEY_DESERIALIZER},
      {"value-deserializer", required_argument, NULL, O_VALUE_DESERIALIZER},
      {NULL, 0, NULL, 0},
  };
  o->partition = -1;
  o->max_messages = -1;
  o->timeout_ms = -1;
  o->fmt = (struct format){.print_value = true, .key_separator = "\t", .line_separator = "\n",
                           .headers_separator = ",", .headers_key_separator = ":",
                           .null_literal = "null"};
  const char *isolation = NULL;
  opterr = 0;
  optind = 1;
  int c, rc = 0;
  struct mk_err err = {0};
  while (!rc && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case O_BOOTSTRAP: o->bootstrap = optarg; break;
    case O_TOPIC: o->topic = optarg; break;
    case O_GROUP: o->group = optarg; break;
    case O_PARTITION: {
      int64_t n;
      if (!parse_i64(optarg, 0, &n) || n > INT32_MAX)
        return usage_error("--partition '%s': expected a partition number", optarg);
      o->partition = (int32_t)n;
      break;
    }
    case O_OFFSET: o->offset = optarg; break;
    case O_FROM_BEGINNING: o->from_beginning = true; break;
    case O_MAX_MESSAGES:
      if (!parse_i64(optarg, 1, &o->max_messages))
        return usage_error("--max-messages '%s': expected a positive number", optarg);
      break;
    case O_TIMEOUT:
      if (!parse_i64(optarg, 0, &o->timeout_ms))
        return usage_error("--timeout-ms '%s': expected milliseconds", optarg);
      break;
    case O_ISOLATION:
      if (strcmp(optarg, "read_committed") && strcmp(optarg, "read_uncommitted"))
        return usage_error("isolation level '%s': expected read_committed or read_uncommitted",
                           optarg);
      isolation = optarg;
      break;
    case O_PROPERTY:
      if (!mk_cli_serde_property(&o->serde, optarg)) rc = set_property(o, optarg);
      break;
    case O_KEY_DESERIALIZER: o->serde.key_name = optarg; break;
    case O_VALUE_DESERIALIZER: o->serde.value_name = optarg; break;
    case O_CONSUMER_PROPERTY: rc = set_consumer_property(o, optarg); break;
    case O_CONSUMER_CONFIG:
      if (mk_consumer_config_load_file(o->cfg, optarg, &err))
        rc = usage_error("--consumer.config %s", err.msg);
      break;
    case O_SKIP: o->skip_message_on_error = true; break;
    case 'h':
    case O_HELP:
      usage(stdout);
      mk_consumer_config_each(o->cfg, usage_setting, stdout);
      return -1;
    default: return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
    }
  }
  if (rc) return rc;
  if (optind < argc) return usage_error("unexpected argument '%s'", argv[optind]);
  /* --isolation-level wins over isolation.level in the consumer settings. */
  if (isolation && (rc = set_setting(o, "isolation.level", isolation))) return rc;
  return check_options(o);
}

/* ---- printing (DefaultMessageFormatter.writeTo) ---------------------------------------------- */

static void put_bytes(const struct format *f, struct mk_bytes b) {
  if (b.len < 0)
    fputs(f->null_literal, stdout);
  else
    fwrite(b.ptr, 1, (size_t)b.len, stdout);
}

/* After a column: the key separator if another column follows, else the line separator. */
static void separator(const struct format *f, bool more) {
  fputs(more ? f->key_separator : f->line_separator, stdout);
}

static void print_record(const struct format *f, int32_t partition, int64_t offset,
                         bool log_append_time, int64_t timestamp, struct mk_record *rec) {
  bool key = f->print_key, value = f->print_value, headers = f->print_headers;
  if (f->print_timestamp) {
    printf("%s:%lld", log_append_time ? "LogAppendTime" : "CreateTime", (long long)timestamp);
    separator(f, f->print_partition || f->print_offset || headers || key || value);
  }
  if (f->print_partition) {
    printf("Partition:%d", partition);
    separator(f, f->print_offset || headers || key || value);
  }
  if (f->print_offset) {
    printf("Offset:%lld", (long long)offset);
    separator(f, headers || key || value);
  }
  if (headers) {
    if (rec->headers_count <= 0) fputs("NO_HEADERS", stdout);
    for (int32_t i = 0; i < rec->headers_count; i++) {
      struct mk_record_header h;
      struct mk_err err = {0};
      if (mk_record_next_header(rec, &h, &err)) break;
      fwrite(h.key.ptr, 1, h.key.len > 0 ? (size_t)h.key.len : 0, stdout);
      fputs(f->headers_key_separator, stdout);
      put_bytes(f, h.value);
      if (i + 1 < rec->headers_count) fputs(f->headers_separator, stdout);
    }
    separator(f, key || value);
  }
  if (key) {
    put_bytes(f, rec->key);
    separator(f, value);
  }
  if (value) {
    put_bytes(f, rec->value);
    fputs(f->line_separator, stdout);
  }
}

/* ---- the poll loop --------------------------------------------------------------------------- */

struct run {
  struct options *o;
  struct mk_consumer *consumer;
  int64_t consumed;
  int64_t last_record_ms;             /* for --timeout-ms */
  int status;
};

/* ConsumerRebalanceListener: say on stderr what this member reads now (Kafka's tools log it
 * at INFO, which their default log settings hide; here it is the point of a group). */
static void on_assigned(void *opaque, struct mk_consumer *c, const struct mk_topic_partition *parts,
                        int n) {
  (void)opaque;
  struct mk_consumer_group_metadata g;
  mk_consumer_group_metadata(c, &g);
  char list[1024] = "";
  for (int i = 0; i < n; i++) {
    size_t used = strlen(list);
    if (used + 40 >= sizeof list) {
      snprintf(list + used, sizeof list - used, ", ...");
      break;
    }
    snprintf(list + used, sizeof list - used, "%s%s-%d", i ? ", " : "", parts[i].topic,
             parts[i].partition);
  }
  mk_log(MK_LOG_INFO, "consumer", "%s generation %d (%s, %s): assigned %d partition%s%s%s",
         g.group_id, g.generation_id, g.member_id, g.leader ? "leader" : "follower", n,
         n == 1 ? "" : "s", n ? ": " : "", list);
}

static void fatal(struct run *r, const char *msg) {
  fprintf(stderr, "[consume] ERROR Error processing message, terminating consumer process: %s\n",
          msg);
  r->status = MK_EXIT_FAILED;
}

static bool running(const struct run *r) {
  return !stop_signal && r->status == MK_EXIT_OK &&
         (r->o->max_messages < 0 || r->consumed < r->o->max_messages);
}

/* Whether --timeout-ms has passed without a record; *left is what remains of it. */
static bool timed_out(const struct run *r, int64_t *left) {
  if (r->o->timeout_ms < 0) {
    *left = INT64_MAX;
    return false;
  }
  *left = r->last_record_ms + r->o->timeout_ms - now_ms();
  return *left <= 0;
}

/* Without a group: every partition of the topic, or --partition, from where the flags say. */
static int assign_partitions(struct run *r) {
  struct options *o = r->o;
  int64_t left;
  int32_t count = 0;
  struct mk_err err = {0};
  for (;;) {  /* the topic may not exist yet: wait for it, as long as --timeout-ms allows */
    int rc = mk_consumer_partitions_for(r->consumer, o->topic, &count, &err);
    if (!rc && count > 0) break;
    if (rc == MK_ERR__STATE) return rc;  /* Ctrl-C */
    if (rc && rc != MK_ERR_UNKNOWN_TOPIC_OR_PARTITION && rc != MK_ERR_LEADER_NOT_AVAILABLE &&
        !(rc > 0 && mk_err_retriable(rc))) {
      fatal(r, err.msg);
      return rc;
    }
    if (timed_out(r, &left) || stop_signal) return MK_ERR__TIMED_OUT;
    struct timespec ts = {0, 100 * 1000000};
    nanosleep(&ts, NULL);
  }
  if (o->partition >= count) {
    char msg[200];
    snprintf(msg, sizeof msg, "partition %d of topic '%s' does not exist (it has %d partitions)",
             o->partition, o->topic, count);
    fatal(r, msg);
    return MK_ERR__INVALID_ARG;
  }
  int n = o->partition >= 0 ? 1 : count;
  struct mk_topic_partition *parts = malloc(sizeof *parts * (size_t)n);
  if (!parts) return MK_ERR__NO_MEMORY;
  for (int i = 0; i < n; i++)
    parts[i] = (struct mk_topic_partition){o->topic, o->partition >= 0 ? o->partition : i};
  int rc = mk_consumer_assign(r->consumer, parts, n, &err);
  free(parts);
  if (rc) {
    fatal(r, err.msg);
    return rc;
  }
  if (o->offset && strcmp(o->offset, "earliest") == 0) mk_consumer_seek_to_beginning(r->consumer);
  if (o->offset && strcmp(o->offset, "latest") == 0) mk_consumer_seek_to_end(r->consumer);
  if (o->offset && strcmp(o->offset, "earliest") && strcmp(o->offset, "latest"))
    mk_consumer_seek(r->consumer, o->topic, o->partition, strtoll(o->offset, NULL, 10), &err);
  return 0;
}

/* A deserializer's text (Avro as JSON) in place of the key's and value's bytes: text[0] and
 * text[1] (new, free() them; NULL where the bytes stay). On an error neither is left. */
static int deserialize(struct options *o, struct mk_record *rec, char *text[2],
                       struct mk_err *err) {
  struct mk_bytes *part[2] = {&rec->key, &rec->value};
  for (int k = 0; k < 2; k++) {
    if (part[k]->len < 0 || !mk_cli_serde_decodes(&o->serde, k == 0)) continue;
    int rc = mk_cli_serde_format(&o->serde, k == 0, part[k]->ptr, (size_t)part[k]->len,
                                 &text[k], err);
    if (rc) {
      free(text[0]);
      text[0] = NULL;
      return rc;
    }
    *part[k] = (struct mk_bytes){(const uint8_t *)text[k], (int32_t)strlen(text[k])};
  }
  return 0;
}

static void consume(struct run *r) {
  struct options *o = r->o;
  struct mk_err err = {0};
  if (o->cfg->group_id) {
    const char *topics[] = {o->topic};
    struct mk_consumer_rebalance_listener l = {.on_partitions_assigned = on_assigned};
    if (mk_consumer_subscribe(r->consumer, topics, 1, &l, &err)) {
      fatal(r, err.msg);
      return;
    }
  } else if (assign_partitions(r)) {
    return;
  }
  int64_t left;
  while (running(r) && !timed_out(r, &left)) {
    struct mk_consumer_records recs;
    int64_t wait = left < 1000 ? left : 1000;
    int rc = mk_consumer_poll(r->consumer, wait, &recs, &err);
    if (rc == MK_ERR__STATE && stop_signal) break;  /* Ctrl-C woke it */
    if (rc) {
      fatal(r, err.msg);
      break;
    }
    for (int i = 0; i < recs.n && running(r); i++) {
      const struct mk_consumer_record *rec = &recs.v[i];
      struct mk_record record = rec->record;  /* the printer reads its headers */
      char *text[2] = {NULL, NULL};
      if (deserialize(o, &record, text, &err)) {
        if (!o->skip_message_on_error) {
          fatal(r, err.msg);
          break;
        }
        /* Kafka's --skip-message-on-error skips just this record */
        fprintf(stderr, "[consume] WARN skipping %s-%d offset %lld: %s\n", o->topic,
                rec->partition, (long long)rec->offset, err.msg);
        continue;
      }
      print_record(&o->fmt, rec->partition, rec->offset, rec->log_append_time, rec->timestamp,
                   &record);
      free(text[0]);
      free(text[1]);
      r->consumed++;
      r->last_record_ms = now_ms();
    }
    fflush(stdout);
  }
}

int mk_cli_consume(int argc, char **argv) {
  struct options o = {0};
  mk_cli_serde_init(&o.serde);
  o.cfg = mk_consumer_config_new();
  if (!o.cfg) {
    fprintf(stderr, "minikafka consume: out of memory\n");
    return MK_EXIT_FAILED;
  }
  int rc = parse_options(argc, argv, &o);
  if (rc) {
    mk_consumer_config_free(o.cfg);
    mk_cli_serde_free(&o.serde);
    return rc < 0 ? MK_EXIT_OK : rc;
  }
  struct run r = {.o = &o, .last_record_ms = now_ms()};
  struct mk_err err = {0};
  if (mk_consumer_new(o.cfg, &r.consumer, &err)) {
    fprintf(stderr, "minikafka consume: %s\n", err.msg);
    mk_consumer_config_free(o.cfg);
    mk_cli_serde_free(&o.serde);
    return MK_EXIT_FAILED;
  }
  mk_consumer_skip_corrupt_batches(r.consumer, o.skip_message_on_error);
  the_consumer = r.consumer;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  consume(&r);
  fflush(stdout);
  fprintf(stderr, "Processed a total of %lld messages\n", (long long)r.consumed);
  mk_consumer_close(r.consumer);  /* commits (with a group) and leaves */
  the_consumer = NULL;
  mk_consumer_config_free(o.cfg);
  mk_cli_serde_free(&o.serde);
  if (stop_signal) return 128 + stop_signal;
  return r.status;
}
