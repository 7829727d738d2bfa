/*
 * minikafka consume: print a topic's records, as kafka-console-consumer.sh does.
 * Kafka: tools/.../ConsoleConsumer.java, DefaultMessageFormatter.java; the consumer's
 * Fetcher / FetchCollector / CompletedFetch (how fetched batches become records).
 *
 *   minikafka consume --bootstrap-server 127.0.0.1:9092 --topic t --from-beginning \
 *       --property print.key=true --property print.offset=true
 *   Offset:0	k1	v1
 *
 * There are no consumer groups here: the consumer assigns itself every partition of the
 * topic (or the one --partition names) and keeps its positions in memory. One round:
 *
 *   Metadata     which node leads each partition (again after NOT_LEADER_OR_FOLLOWER)
 *   ListOffsets  where to start: earliest (--from-beginning, --offset earliest) or
 *                latest (the default, as for a new group with auto.offset.reset=latest)
 *   Fetch        to every leader at once, then wait for each answer; a leader holds
 *                the request up to fetch.max.wait.ms (500) when it has nothing new
 *   print        each batch is checked (CRC), decompressed and read record by record;
 *                records below the position are skipped (a batch may start before
 *                it), control batches and, with read_committed, aborted transactions
 *                are dropped, as the Java consumer does
 *
 * It stops after --max-messages records, when --timeout-ms pass without a record, or on
 * Ctrl-C, and then prints "Processed a total of N messages" on stderr, like Kafka.
 * Exit status: 0, 1 when a non-retriable error stops it, 2 for a bad command line.
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
#include "common/properties.h"
#include "cli/client.h"
#include "cli/serde.h"  /* --key-deserializer, --value-deserializer: Avro as JSON */
#include "common/clock.h"
#include "protocol/api.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/list_offsets.h"
#include "protocol/record_batch.h"

/* ListOffsets' special timestamps. */
enum { EARLIEST = -2, LATEST = -1 };
/* A batch may decompress to this much (the consumer's guard against a decompression bomb). */
enum { MAX_DECOMPRESSED = 64 << 20 };

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
  int32_t partition;                  /* -1: all */
  bool from_beginning;
  const char *offset;                 /* "earliest", "latest", a number, or NULL */
  int64_t max_messages;               /* -1: no limit */
  int64_t timeout_ms;                 /* -1: wait forever */
  int8_t isolation_level;             /* 0 read_uncommitted, 1 read_committed */
  bool isolation_given;
  struct format fmt;
  /* Consumer settings (--consumer-property, --consumer.config). */
  const char *client_id;
  int32_t fetch_max_wait_ms, fetch_min_bytes, fetch_max_bytes, max_partition_fetch_bytes;
  int32_t request_timeout_ms;
  const char *auto_offset_reset;      /* "earliest", "latest" or "none"; NULL: by --from-beginning */
  bool allow_auto_create_topics;
  bool check_crcs;
  bool skip_message_on_error;
  struct mk_cli_serde serde;          /* how keys and values print (cli/serde.h) */
};

/* One assigned partition. */
struct position {
  int32_t partition;
  int32_t leader;                     /* node id, -1 while unknown */
  int64_t offset;                     /* the next offset to print */
  int64_t reset_to;                   /* EARLIEST, LATEST or an offset: where to (re)start */
  bool need_offset;                   /* offset is not known yet: ask ListOffsets */
};

struct consumer {
  struct options *o;
  struct mk_client client;
  struct mk_uuid topic_id;
  struct position *parts;
  int nparts;
  bool need_metadata;
  int64_t consumed;
  int64_t last_record_ms;             /* for --timeout-ms */
  bool done;                          /* --max-messages reached */
  int status;                         /* MK_EXIT_FAILED once a fatal error was printed */
  char last_warning[256];             /* to print each retriable problem once */
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

static int64_t now_ms(void) { return mk_now_us() / 1000; }

static void sleep_ms(int64_t ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
  nanosleep(&ts, NULL);  /* a signal cuts it short, which is what we want */
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: minikafka consume --bootstrap-server HOST:PORT --topic T [options]\n"
          "\n"
          "Print a topic's records on stdout, like kafka-console-consumer.sh. There are no\n"
          "consumer groups: every partition (or --partition) is read directly.\n"
          "\n"
          "  --bootstrap-server HOST:PORT[,...]  where to connect (required)\n"
          "  --topic T                 the topic (required)\n"
          "  --from-beginning          start at the earliest offset, not the latest\n"
          "  --partition N             read only partition N\n"
          "  --offset earliest|latest|N  where to start in --partition (default latest)\n"
          "  --max-messages N          exit after N records\n"
          "  --timeout-ms N            exit when no record arrives for N ms\n"
          "  --isolation-level read_committed|read_uncommitted\n"
          "                            read_committed hides aborted and open transactions\n"
          "  --property K=V            formatting: print.key, print.value, print.offset,\n"
          "                            print.partition, print.headers, print.timestamp\n"
          "                            (true/false), key.separator, line.separator,\n"
          "                            headers.separator, headers.key.separator, null.literal\n"
          "  --consumer-property K=V   consumer settings: fetch.max.wait.ms, fetch.min.bytes,\n"
          "                            fetch.max.bytes, max.partition.fetch.bytes, client.id,\n"
          "                            request.timeout.ms, isolation.level, auto.offset.reset,\n"
          "                            allow.auto.create.topics, check.crcs (others ignored)\n"
          "  --consumer.config FILE    consumer settings from a properties file\n"
          "  --skip-message-on-error   skip a batch that cannot be read instead of stopping\n"
          "  --key-deserializer NAME   StringDeserializer, ByteArrayDeserializer (the bytes as\n"
          "  --value-deserializer NAME  they are, default) or AvroDeserializer: Confluent's\n"
          "                            Avro printed as JSON, schemas from --property\n"
          "                            schema.registry.url=URL\n"
          "\n"
          "On exit, \"Processed a total of N messages\" is printed on stderr.\n");
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

static bool parse_bool(const char *v, bool *out) {
  if (strcasecmp(v, "true") == 0) return *out = true, true;
  if (strcasecmp(v, "false") == 0) return *out = false, true;
  return false;
}

static int set_isolation(struct options *o, const char *v) {
  if (strcmp(v, "read_committed") == 0)
    o->isolation_level = 1;
  else if (strcmp(v, "read_uncommitted") == 0)
    o->isolation_level = 0;
  else
    return usage_error("isolation level '%s': expected read_committed or read_uncommitted", v);
  return 0;
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

static int set_int32(const char *key, const char *v, int64_t lo, int32_t *out) {
  int64_t n;
  if (!parse_i64(v, lo, &n) || n > INT32_MAX)
    return usage_error("%s '%s': expected a number >= %lld", key, v, (long long)lo);
  *out = (int32_t)n;
  return 0;
}

/* A consumer setting (ConsumerConfig names). Settings without meaning here are accepted,
 * as a Java consumer accepts group.id without a group coordinator in sight. */
static int set_consumer_property(struct options *o, const char *kv) {
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv) return usage_error("--consumer-property '%s': expected key=value", kv);
  char key[128];
  snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
  const char *v = eq + 1;
  if (strcmp(key, "fetch.max.wait.ms") == 0) return set_int32(key, v, 0, &o->fetch_max_wait_ms);
  if (strcmp(key, "fetch.min.bytes") == 0) return set_int32(key, v, 0, &o->fetch_min_bytes);
  if (strcmp(key, "fetch.max.bytes") == 0) return set_int32(key, v, 0, &o->fetch_max_bytes);
  if (strcmp(key, "max.partition.fetch.bytes") == 0)
    return set_int32(key, v, 0, &o->max_partition_fetch_bytes);
  if (strcmp(key, "request.timeout.ms") == 0) return set_int32(key, v, 1, &o->request_timeout_ms);
  if (strcmp(key, "client.id") == 0) return o->client_id = v, 0;
  if (strcmp(key, "isolation.level") == 0) return o->isolation_given ? 0 : set_isolation(o, v);
  if (strcmp(key, "auto.offset.reset") == 0) {
    if (strcmp(v, "earliest") && strcmp(v, "latest") && strcmp(v, "none"))
      return usage_error("auto.offset.reset '%s': expected earliest, latest or none", v);
    return o->auto_offset_reset = v, 0;
  }
  if (strcmp(key, "allow.auto.create.topics") == 0 || strcmp(key, "check.crcs") == 0) {
    bool *b = key[0] == 'a' ? &o->allow_auto_create_topics : &o->check_crcs;
    if (!parse_bool(v, b)) return usage_error("%s '%s': expected true or false", key, v);
  }
  return 0;
}

/* --consumer.config FILE: a Java properties file, read by the same reader as
 * --producer.config (common/properties.h). The values are kept for the process's life (the
 * options point into them). */
static int set_consumer_config_line(void *opaque, const char *key, const char *value,
                                    struct mk_err *err) {
  size_t n = strlen(key) + strlen(value) + 2;
  char *kv = malloc(n);  /* never freed: options point into it */
  if (!kv) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  snprintf(kv, n, "%s=%s", key, value);
  /* set_consumer_property says what is wrong with the value; the reader adds where. */
  return set_consumer_property(opaque, kv)
             ? mk_err_set(err, MK_ERR__INVALID_ARG, "the setting on this line was refused")
             : 0;
}

static int read_consumer_config(struct options *o, const char *path) {
  struct mk_err err = {0};
  if (mk_properties_parse_file(path, set_consumer_config_line, o, &err))
    return usage_error("--consumer.config %s", err.msg);
  return 0;
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
  memset(o, 0, sizeof *o);
  o->partition = -1;
  o->max_messages = -1;
  o->timeout_ms = -1;
  o->fmt = (struct format){.print_value = true, .key_separator = "\t", .line_separator = "\n",
                           .headers_separator = ",", .headers_key_separator = ":",
                           .null_literal = "null"};
  o->fetch_max_wait_ms = 500;                    /* Kafka's consumer defaults */
  o->fetch_min_bytes = 1;
  o->fetch_max_bytes = 52428800;
  o->max_partition_fetch_bytes = 1048576;
  o->request_timeout_ms = 30000;
  o->client_id = "console-consumer";
  o->allow_auto_create_topics = true;
  o->check_crcs = true;
  mk_cli_serde_init(&o->serde);
  opterr = 0;
  optind = 1;
  int c, rc = 0;
  int64_t n;
  while (!rc && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case O_BOOTSTRAP: o->bootstrap = optarg; break;
    case O_TOPIC: o->topic = optarg; break;
    case O_PARTITION:
      if (!parse_i64(optarg, 0, &n) || n > INT32_MAX)
        return usage_error("--partition '%s': expected a partition number", optarg);
      o->partition = (int32_t)n;
      break;
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
      rc = set_isolation(o, optarg);
      o->isolation_given = true;
      break;
    case O_PROPERTY:
      if (!mk_cli_serde_property(&o->serde, optarg)) rc = set_property(o, optarg);
      break;
    case O_KEY_DESERIALIZER: o->serde.key_name = optarg; break;
    case O_VALUE_DESERIALIZER: o->serde.value_name = optarg; break;
    case O_CONSUMER_PROPERTY: rc = set_consumer_property(o, optarg); break;
    case O_CONSUMER_CONFIG: rc = read_consumer_config(o, optarg); break;
    case O_SKIP: o->skip_message_on_error = true; break;
    case O_GROUP:
      fprintf(stderr, "minikafka consume: --group %s ignored: minikafka has no consumer groups; "
              "partitions are assigned directly and offsets are not committed\n", optarg);
      break;
    case 'h':
    case O_HELP: usage(stdout); return -1;
    default: return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
    }
  }
  if (rc) return rc;
  if (optind < argc) return usage_error("unexpected argument '%s'", argv[optind]);
  if (!o->bootstrap) return usage_error("Missing required argument \"[bootstrap-server]\"");
  if (!o->topic) return usage_error("Exactly one of include/topic is required.");
  if (o->offset && o->partition < 0)
    return usage_error("The partition is required when offset is specified.");
  if (o->offset && o->from_beginning)
    return usage_error("Options from-beginning and offset cannot be specified together.");
  if (o->offset && strcmp(o->offset, "earliest") && strcmp(o->offset, "latest") &&
      !parse_i64(o->offset, 0, &n))
    return usage_error("The provided offset value '%s' is incorrect. Valid values are "
                       "'earliest', 'latest', or a non-negative long.", o->offset);
  struct mk_err err = {0};
  if (mk_cli_serde_consumer(&o->serde, &err)) return usage_error("%s", err.msg);
  return 0;
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

/* ---- warnings and errors ----------------------------------------------------------------------- */

/* A retriable problem: print it once (until a different one happens). */
__attribute__((format(printf, 2, 3))) static void warn(struct consumer *c, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (strcmp(msg, c->last_warning) == 0) return;
  snprintf(c->last_warning, sizeof c->last_warning, "%s", msg);
  fprintf(stderr, "[consume] WARN %s\n", msg);
}

/* A problem that ends the consumer, in Kafka's words. */
__attribute__((format(printf, 2, 3))) static void fatal(struct consumer *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "[consume] ERROR Error processing message, terminating consumer process: ");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  c->status = MK_EXIT_FAILED;
}

static bool running(const struct consumer *c) {
  return !stop_signal && !c->done && c->status == MK_EXIT_OK;
}

/* ---- metadata: partitions and their leaders --------------------------------------------------- */

static int cmp_int32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

/* The first time: assign the partitions. Every time: learn their leaders. Returns true
 * when every assigned partition has a leader. */
static bool refresh_metadata(struct consumer *c) {
  struct options *o = c->o;
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_err err = {0};
  struct mk_metadata_response *md = NULL;
  const char *topics[] = {o->topic};
  int rc = mk_client_metadata(&c->client, topics, 1, o->allow_auto_create_topics, &md, &a, &err);
  if (rc == MK_ERR__TRANSPORT || rc == MK_ERR__TIMED_OUT) {
    /* The bootstrap broker is gone: try the whole list again (and the others in it). */
    struct mk_err berr = {0};
    if (!mk_client_bootstrap(&c->client, o->bootstrap, &berr))
      rc = mk_client_metadata(&c->client, topics, 1, o->allow_auto_create_topics, &md, &a, &err);
  }
  bool ok = false;
  const struct mk_metadata_response_topic *t = NULL;
  for (int32_t i = 0; !rc && i < md->topics_count && !t; i++)
    if (mk_str_eq(md->topics[i].name, o->topic)) t = &md->topics[i];
  if (rc) {
    if (rc == MK_ERR__STATE) goto out;  /* interrupted */
    if (rc == MK_ERR__TRANSPORT || rc == MK_ERR__TIMED_OUT || mk_err_retriable(rc))
      warn(c, "metadata: %s", err.msg);
    else
      fatal(c, "metadata: %s", err.msg);
    goto out;
  }
  if (!t || t->error_code == MK_ERR_UNKNOWN_TOPIC_OR_PARTITION ||
      t->error_code == MK_ERR_LEADER_NOT_AVAILABLE) {
    warn(c, "topic '%s' is not available yet (%s); waiting", o->topic,
         mk_err_name(t ? t->error_code : MK_ERR_UNKNOWN_TOPIC_OR_PARTITION));
    goto out;
  }
  if (t->error_code) {
    fatal(c, "topic '%s': %s", o->topic, mk_err_name(t->error_code));
    goto out;
  }
  c->topic_id = t->topic_id;
  if (!c->parts) {
    int32_t n = o->partition >= 0 ? 1 : t->partitions_count;
    int32_t *ids = calloc((size_t)(t->partitions_count + 1), sizeof *ids);
    c->parts = calloc((size_t)(n + 1), sizeof *c->parts);
    if (!ids || !c->parts) {
      free(ids);
      fatal(c, "out of memory");
      goto out;
    }
    for (int32_t i = 0; i < t->partitions_count; i++) ids[i] = t->partitions[i].partition_index;
    qsort(ids, (size_t)t->partitions_count, sizeof *ids, cmp_int32);
    bool found = o->partition < 0;
    for (int32_t i = 0; i < t->partitions_count; i++) found |= ids[i] == o->partition;
    if (!found) {
      fatal(c, "partition %d of topic '%s' does not exist (it has %d partitions)", o->partition,
            o->topic, t->partitions_count);
      free(ids);
      goto out;
    }
    int64_t start = o->from_beginning ? EARLIEST : LATEST;
    if (o->offset && strcmp(o->offset, "earliest") == 0) start = EARLIEST;
    if (o->offset && strcmp(o->offset, "earliest") && strcmp(o->offset, "latest"))
      start = strtoll(o->offset, NULL, 10);
    for (int32_t i = 0; i < n; i++) {
      struct position *p = &c->parts[c->nparts++];
      p->partition = o->partition >= 0 ? o->partition : ids[i];
      p->leader = -1;
      p->reset_to = start;
      p->need_offset = true;
    }
    free(ids);
  }
  ok = true;
  for (int i = 0; i < c->nparts; i++) {
    struct position *p = &c->parts[i];
    p->leader = -1;
    for (int32_t j = 0; j < t->partitions_count; j++)
      if (t->partitions[j].partition_index == p->partition && !t->partitions[j].error_code)
        p->leader = t->partitions[j].leader_id;
    if (p->leader < 0) {
      warn(c, "partition %s-%d has no leader yet; waiting", o->topic, p->partition);
      ok = false;
    }
  }
  c->need_metadata = !ok;
out:
  mk_arena_free(&a);
  return ok;
}

/* Errors that mean "ask Metadata again", as the Java consumer's Fetcher treats them. */
static bool stale_metadata(int code) {
  return code == MK_ERR_NOT_LEADER_OR_FOLLOWER || code == MK_ERR_LEADER_NOT_AVAILABLE ||
         code == MK_ERR_UNKNOWN_TOPIC_OR_PARTITION || code == MK_ERR_UNKNOWN_TOPIC_ID ||
         code == MK_ERR_FENCED_LEADER_EPOCH || code == MK_ERR_UNKNOWN_LEADER_EPOCH ||
         code == MK_ERR_REPLICA_NOT_AVAILABLE || code == MK_ERR_KAFKA_STORAGE_ERROR ||
         code == MK_ERR_INCONSISTENT_TOPIC_ID || code == MK_ERR_BROKER_NOT_AVAILABLE;
}

/* The leaders (each once) of the partitions whose need_offset is as given: those to ask
 * ListOffsets (true) or to fetch from (false). */
static int leaders(const struct consumer *c, bool need_offset, int32_t *out) {
  int n = 0;
  for (int i = 0; i < c->nparts; i++) {
    const struct position *p = &c->parts[i];
    if (p->leader < 0 || p->need_offset != need_offset) continue;
    bool seen = false;
    for (int j = 0; j < n; j++) seen |= out[j] == p->leader;
    if (!seen) out[n++] = p->leader;
  }
  return n;
}

/* ---- ListOffsets: where each partition starts ------------------------------------------------- */

static void list_offsets(struct consumer *c) {
  struct options *o = c->o;
  int32_t nodes[MK_CLIENT_MAX_NODES + 1];
  /* An exact --offset needs no request. */
  for (int i = 0; i < c->nparts; i++) {
    struct position *p = &c->parts[i];
    if (p->need_offset && p->reset_to >= 0) {
      p->offset = p->reset_to;
      p->need_offset = false;
    }
  }
  int nnodes = leaders(c, true, nodes);
  for (int k = 0; k < nnodes && running(c); k++) {
    struct mk_err err = {0};
    struct mk_client_conn *conn = mk_client_node(&c->client, nodes[k], &err);
    if (!conn) {
      c->need_metadata = true;
      continue;
    }
    struct mk_arena a;
    mk_arena_init(&a);
    struct mk_list_offsets_request req;
    mk_schema_set_defaults(&mk_list_offsets_request_schema, &req);
    struct mk_list_offsets_topic topic;
    mk_schema_set_defaults(&mk_list_offsets_topic_schema, &topic);
    req.replica_id = -1;
    req.isolation_level = o->isolation_level;
    req.topics = &topic;
    req.topics_count = 1;
    req.timeout_ms = o->request_timeout_ms;
    topic.name = mk_str_of(o->topic);
    topic.partitions = mk_arena_alloc(&a, sizeof *topic.partitions * (size_t)c->nparts);
    for (int i = 0; topic.partitions && i < c->nparts; i++) {
      struct position *p = &c->parts[i];
      if (!p->need_offset || p->leader != nodes[k]) continue;
      struct mk_list_offsets_partition *lp = &topic.partitions[topic.partitions_count++];
      mk_schema_set_defaults(&mk_list_offsets_partition_schema, lp);
      lp->partition_index = p->partition;
      lp->current_leader_epoch = -1;
      lp->timestamp = p->reset_to;
    }
    struct mk_list_offsets_response *resp = NULL;
    int rc = mk_client_call(conn, MK_API_LIST_OFFSETS, &req, (void **)&resp, &a, &err);
    if (rc) {
      if (rc != MK_ERR__STATE) warn(c, "ListOffsets to node %d: %s", nodes[k], err.msg);
      c->need_metadata = true;
    }
    for (int32_t t = 0; !rc && t < resp->topics_count; t++) {
      const struct mk_list_offsets_topic_response *tr = &resp->topics[t];
      if (!mk_str_eq(tr->name, o->topic)) continue;
      for (int32_t j = 0; j < tr->partitions_count; j++) {
        const struct mk_list_offsets_partition_response *pr = &tr->partitions[j];
        for (int i = 0; i < c->nparts; i++) {
          struct position *p = &c->parts[i];
          if (p->partition != pr->partition_index || !p->need_offset) continue;
          if (!pr->error_code) {
            p->offset = pr->offset;
            p->need_offset = false;
          } else if (stale_metadata(pr->error_code) || mk_err_retriable(pr->error_code)) {
            warn(c, "ListOffsets %s-%d: %s", o->topic, p->partition, mk_err_name(pr->error_code));
            c->need_metadata = true;
          } else {
            fatal(c, "ListOffsets %s-%d: %s", o->topic, p->partition, mk_err_name(pr->error_code));
          }
        }
      }
    }
    mk_arena_free(&a);
  }
}

/* ---- Fetch: reading the batches --------------------------------------------------------------- */

/* Aborted transactions of one fetched partition (FetchResponse.aborted_transactions), in
 * first_offset order, and the producers whose open transaction we are inside. */
struct aborted {
  const struct mk_fetch_aborted_transaction *txns;
  int32_t ntxns, next;
  int64_t *pids;
  int32_t npids;
};

static int cmp_txn(const void *a, const void *b) {
  const struct mk_fetch_aborted_transaction *x = a, *y = b;
  return (x->first_offset > y->first_offset) - (x->first_offset < y->first_offset);
}

static bool aborted_has(const struct aborted *ab, int64_t pid) {
  for (int32_t i = 0; i < ab->npids; i++)
    if (ab->pids[i] == pid) return true;
  return false;
}

/* CompletedFetch.consumeAbortedTransactionsUpTo: transactions starting at or before
 * `offset` are now open-and-aborted for their producer. */
static void aborted_up_to(struct aborted *ab, int64_t offset) {
  while (ab->next < ab->ntxns && ab->txns[ab->next].first_offset <= offset) {
    int64_t pid = ab->txns[ab->next++].producer_id;
    if (!aborted_has(ab, pid)) ab->pids[ab->npids++] = pid;
  }
}

static void aborted_remove(struct aborted *ab, int64_t pid) {
  for (int32_t i = 0; i < ab->npids; i++)
    if (ab->pids[i] == pid) ab->pids[i] = ab->pids[--ab->npids];
}

/* Whether this control batch holds an ABORT marker. */
static bool is_abort_marker(const struct mk_record_batch *b) {
  struct mk_record_reader rr;
  struct mk_record rec;
  struct mk_err err = {0};
  enum mk_control_type type = MK_CONTROL_COMMIT;
  int32_t epoch;
  if (mk_record_reader_init(&rr, b, MAX_DECOMPRESSED, &err)) return false;
  bool abort = !mk_record_reader_next(&rr, &rec, &err) &&
               !mk_control_record_parse(&rec, &type, &epoch, &err) && type == MK_CONTROL_ABORT;
  mk_record_reader_free(&rr);
  return abort;
}

/* Print the records of one batch at or above p->offset. Returns 0, or an error (err). */
static int print_batch(struct consumer *c, struct position *p, const struct mk_record_batch *b,
                       struct mk_err *err) {
  const struct options *o = c->o;
  if (o->check_crcs && mk_record_batch_compute_crc(b) != b->crc)
    return mk_err_set(err, MK_ERR_CORRUPT_MESSAGE,
                      "record batch at offset %lld: CRC is 0x%08x, computed 0x%08x",
                      (long long)b->base_offset, b->crc, mk_record_batch_compute_crc(b));
  struct mk_record_reader rr;
  int rc = mk_record_reader_init(&rr, b, MAX_DECOMPRESSED, err);
  if (rc) return rc;
  bool log_append = b->attributes & MK_ATTR_LOG_APPEND_TIME;
  struct mk_record rec;
  while (running(c) && (rc = mk_record_reader_next(&rr, &rec, err)) == 0) {
    int64_t offset = b->base_offset + rec.offset_delta;
    if (offset < p->offset) continue;  /* before where we start */
    int64_t ts = log_append ? b->max_timestamp : b->base_timestamp + rec.timestamp_delta;
    /* A deserializer's text (Avro as JSON) replaces the bytes it read. */
    char *text[2] = {NULL, NULL};
    struct mk_bytes *part[2] = {&rec.key, &rec.value};
    for (int k = 0; k < 2 && !rc; k++) {
      if (part[k]->len < 0 || !mk_cli_serde_decodes(&c->o->serde, k == 0)) continue;
      rc = mk_cli_serde_format(&c->o->serde, k == 0, part[k]->ptr, (size_t)part[k]->len,
                               &text[k], err);
      if (!rc) *part[k] = (struct mk_bytes){(const uint8_t *)text[k], (int32_t)strlen(text[k])};
    }
    if (rc) {  /* Kafka's --skip-message-on-error skips just this record */
      free(text[0]);
      free(text[1]);
      if (!o->skip_message_on_error) break;
      fprintf(stderr, "[consume] WARN skipping %s-%d offset %lld: %s\n", o->topic, p->partition,
              (long long)offset, err->msg);
      rc = 0;
      p->offset = offset + 1;
      continue;
    }
    print_record(&o->fmt, p->partition, offset, log_append, ts, &rec);
    free(text[0]);
    free(text[1]);
    p->offset = offset + 1;
    c->last_record_ms = now_ms();
    if (++c->consumed == o->max_messages) c->done = true;
  }
  mk_record_reader_free(&rr);
  return rc == MK_ERR__STATE ? 0 : rc;  /* _STATE: every record was read */
}

/* FetchCollector / CompletedFetch for one partition's records. */
static void consume_records(struct consumer *c, struct position *p,
                            const struct mk_fetch_partition_data *pd) {
  const struct options *o = c->o;
  struct aborted ab = {0};
  if (o->isolation_level == 1 && pd->aborted_transactions_count > 0) {
    int32_t n = pd->aborted_transactions_count;
    struct mk_fetch_aborted_transaction *txns = malloc(sizeof *txns * (size_t)n);
    ab.pids = malloc(sizeof *ab.pids * (size_t)n);
    if (!txns || !ab.pids) {
      free(txns);
      free(ab.pids);
      fatal(c, "out of memory");
      return;
    }
    memcpy(txns, pd->aborted_transactions, sizeof *txns * (size_t)n);
    qsort(txns, (size_t)n, sizeof *txns, cmp_txn);
    ab.txns = txns;
    ab.ntxns = n;
  }
  const uint8_t *buf = pd->records.ptr;
  size_t len = pd->records.len > 0 ? (size_t)pd->records.len : 0, pos = 0;
  while (pos < len && running(c)) {
    /* A fetch may end inside a batch (the broker stops at max bytes): not an error, the
     * rest comes with the next fetch. A batch_length too small to be one is corrupt, and
     * mk_record_batch_parse says how. */
    int32_t batch_length = len - pos >= MK_RECORD_BATCH_HEADER_SIZE
                               ? (int32_t)mk_load_u32(buf + pos + MK_RECORD_BATCH_LENGTH_OFFSET)
                               : -1;
    if (batch_length < 0 || (batch_length >= MK_RECORD_BATCH_HEADER_SIZE - 12 &&
                             12 + (size_t)batch_length > len - pos)) {
      if (pos == 0)  /* nothing usable at all: we would ask for the same bytes forever */
        warn(c, "fetch of %s-%d at offset %lld returned only part of a batch (%zu bytes); is "
             "max.partition.fetch.bytes too small?", o->topic, p->partition,
             (long long)p->offset, len);
      break;
    }
    struct mk_record_batch b;
    struct mk_err err = {0};
    if (mk_record_batch_parse(buf + pos, len - pos, &b, &err)) {
      fatal(c, "%s-%d at offset %lld: %s", o->topic, p->partition, (long long)p->offset, err.msg);
      break;
    }
    pos += b.size;
    int64_t next = b.base_offset + b.last_offset_delta + 1;
    bool control = b.attributes & MK_ATTR_CONTROL, aborted = false;
    /* Transaction bookkeeping sees every batch, even those before our position, so a
     * marker we do not print still closes its transaction. */
    if (o->isolation_level == 1 && b.producer_id >= 0) {
      aborted_up_to(&ab, next - 1);
      if (control && is_abort_marker(&b))
        aborted_remove(&ab, b.producer_id);
      else if ((b.attributes & MK_ATTR_TRANSACTIONAL) && aborted_has(&ab, b.producer_id))
        aborted = true;
    }
    if (next <= p->offset) continue;  /* the whole batch is before where we start */
    if (control || aborted) {         /* markers and aborted batches: skipped whole */
      p->offset = next;
      continue;
    }
    if (print_batch(c, p, &b, &err)) {
      if (!o->skip_message_on_error) {
        fatal(c, "%s-%d: %s", o->topic, p->partition, err.msg);
        break;
      }
      fprintf(stderr, "[consume] WARN skipping a batch of %s-%d: %s\n", o->topic, p->partition,
              err.msg);
    }
    /* Past the batch, even if its last records were compacted away. */
    if (running(c) && p->offset < next) p->offset = next;
  }
  free((void *)ab.txns);
  free(ab.pids);
}

/* Handle one partition of a Fetch answer. */
static void fetched_partition(struct consumer *c, const struct mk_fetch_partition_data *pd) {
  const struct options *o = c->o;
  struct position *p = NULL;
  for (int i = 0; i < c->nparts && !p; i++)
    if (c->parts[i].partition == pd->partition_index) p = &c->parts[i];
  if (!p || p->need_offset) return;
  int code = pd->error_code;
  if (code == MK_ERR_NONE) {
    consume_records(c, p, pd);
  } else if (code == MK_ERR_OFFSET_OUT_OF_RANGE) {
    /* auto.offset.reset: the console consumer's is earliest with --from-beginning. */
    const char *policy = o->auto_offset_reset ? o->auto_offset_reset
                                              : o->from_beginning ? "earliest" : "latest";
    if (strcmp(policy, "none") == 0) {
      fatal(c, "offset %lld is out of range for %s-%d", (long long)p->offset, o->topic, p->partition);
      return;
    }
    warn(c, "offset %lld is out of range for %s-%d; resetting to %s", (long long)p->offset,
         o->topic, p->partition, policy);
    p->reset_to = strcmp(policy, "earliest") == 0 ? EARLIEST : LATEST;
    p->need_offset = true;
  } else if (stale_metadata(code)) {
    warn(c, "fetch %s-%d from node %d: %s; refreshing metadata", o->topic, p->partition,
         p->leader, mk_err_name(code));
    c->need_metadata = true;
  } else if (!mk_err_retriable(code)) {
    fatal(c, "fetch %s-%d: %s", o->topic, p->partition, mk_err_name(code));
  }
}

/* One Fetch to every leader, then each answer in turn. Returns true if anything was sent. */
static bool fetch_round(struct consumer *c, int64_t max_wait_ms) {
  const struct options *o = c->o;
  int32_t nodes[MK_CLIENT_MAX_NODES + 1];
  int nnodes = leaders(c, false, nodes);
  struct {
    struct mk_client_conn *conn;
    struct mk_client_pending pending;
    bool sent;
  } inflight[MK_CLIENT_MAX_NODES + 1];
  struct mk_arena a;
  mk_arena_init(&a);
  bool any = false;
  for (int k = 0; k < nnodes; k++) {
    struct mk_err err = {0};
    inflight[k].sent = false;
    inflight[k].conn = mk_client_node(&c->client, nodes[k], &err);
    if (!inflight[k].conn) {
      c->need_metadata = true;
      continue;
    }
    int version = mk_client_version(inflight[k].conn, MK_API_FETCH, &err);
    /* v13+ names topics by id; without an id from Metadata, stay below it. */
    static const struct mk_uuid zero;
    if (version >= 13 && memcmp(c->topic_id.b, zero.b, sizeof zero.b) == 0) version = 12;
    if (version < 0) {
      if (err.code == MK_ERR_UNSUPPORTED_VERSION) {
        fatal(c, "%s", err.msg);
        break;
      }
      if (err.code != MK_ERR__STATE) warn(c, "fetch from node %d: %s", nodes[k], err.msg);
      c->need_metadata = true;
      continue;
    }
    struct mk_fetch_request req;
    mk_schema_set_defaults(&mk_fetch_request_schema, &req);
    struct mk_fetch_topic *topic = mk_arena_alloc(&a, sizeof *topic);
    struct mk_fetch_partition *parts = mk_arena_alloc(&a, sizeof *parts * (size_t)c->nparts);
    if (!topic || !parts) {
      fatal(c, "out of memory");
      break;
    }
    mk_schema_set_defaults(&mk_fetch_topic_schema, topic);
    req.replica_id = -1;
    req.max_wait_ms = (int32_t)max_wait_ms;
    req.min_bytes = o->fetch_min_bytes;
    req.max_bytes = o->fetch_max_bytes;
    req.isolation_level = o->isolation_level;
    req.session_id = 0;     /* no fetch session: every request names all its partitions */
    req.session_epoch = -1;
    req.topics = topic;
    req.topics_count = 1;
    topic->topic = mk_str_of(o->topic);
    topic->topic_id = c->topic_id;
    topic->partitions = parts;
    for (int i = 0; i < c->nparts; i++) {
      const struct position *p = &c->parts[i];
      if (p->leader != nodes[k] || p->need_offset) continue;
      struct mk_fetch_partition *fp = &parts[topic->partitions_count++];
      mk_schema_set_defaults(&mk_fetch_partition_schema, fp);
      fp->partition = p->partition;
      fp->current_leader_epoch = -1;
      fp->fetch_offset = p->offset;
      fp->last_fetched_epoch = -1;
      fp->log_start_offset = -1;
      fp->partition_max_bytes = o->max_partition_fetch_bytes;
    }
    int rc = mk_client_send(inflight[k].conn, MK_API_FETCH, version, &req, &inflight[k].pending, &err);
    if (rc) {
      if (rc != MK_ERR__STATE) warn(c, "fetch from node %d: %s", nodes[k], err.msg);
      c->need_metadata = true;
      continue;
    }
    inflight[k].sent = any = true;
  }
  for (int k = 0; k < nnodes; k++) {
    if (!inflight[k].sent) continue;
    if (!running(c)) {  /* the stream is mid-answer: close rather than leave it out of step */
      mk_client_conn_close(inflight[k].conn);
      continue;
    }
    struct mk_err err = {0};
    struct mk_fetch_response *resp = NULL;
    int rc = mk_client_receive(inflight[k].conn, &inflight[k].pending, (void **)&resp, &a, &err);
    if (rc) {
      if (rc != MK_ERR__STATE) warn(c, "fetch from node %d: %s", nodes[k], err.msg);
      c->need_metadata = true;
      continue;
    }
    if (resp->error_code) {
      warn(c, "fetch from node %d: %s", nodes[k], mk_err_name(resp->error_code));
      if (!mk_err_retriable(resp->error_code)) fatal(c, "fetch: %s", mk_err_name(resp->error_code));
      continue;
    }
    bool by_id = inflight[k].pending.api_version >= 13;
    for (int32_t t = 0; t < resp->responses_count && running(c); t++) {
      const struct mk_fetch_fetchable_topic_response *tr = &resp->responses[t];
      if (by_id ? memcmp(tr->topic_id.b, c->topic_id.b, sizeof c->topic_id.b) != 0
                : !mk_str_eq(tr->topic, o->topic))
        continue;
      for (int32_t j = 0; j < tr->partitions_count && running(c); j++)
        fetched_partition(c, &tr->partitions[j]);
    }
  }
  mk_arena_free(&a);
  fflush(stdout);
  return any;
}

/* ---- the loop ---------------------------------------------------------------------------------- */

/* Whether --timeout-ms has passed without a record; *left is what remains of it. */
static bool timed_out(const struct consumer *c, int64_t *left) {
  if (c->o->timeout_ms < 0) {
    *left = INT64_MAX;
    return false;
  }
  *left = c->last_record_ms + c->o->timeout_ms - now_ms();
  return *left <= 0;
}

static void consume(struct consumer *c) {
  int64_t left;
  while (running(c) && !timed_out(c, &left)) {
    int64_t backoff = left < 100 ? left : 100;  /* retry.backoff.ms */
    if ((c->need_metadata || !c->parts) && !refresh_metadata(c)) {
      if (running(c)) sleep_ms(backoff);
      continue;
    }
    list_offsets(c);
    if (!running(c)) break;
    int64_t wait = c->o->fetch_max_wait_ms;
    if (wait > left) wait = left;
    if (!fetch_round(c, wait) && running(c)) sleep_ms(backoff);
  }
}

int mk_cli_consume(int argc, char **argv) {
  struct options o;
  int rc = parse_options(argc, argv, &o);
  if (rc) return rc < 0 ? MK_EXIT_OK : rc;

  struct consumer c = {.o = &o, .need_metadata = true};
  mk_client_init(&c.client, o.client_id);
  c.client.timeout_ms = o.request_timeout_ms + o.fetch_max_wait_ms;  /* a fetch may be held */
  c.client.cancel = &stop_signal;
  c.last_record_ms = now_ms();

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;  /* no SA_RESTART: a blocked wait returns at once */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  struct mk_err err = {0};
  if (mk_client_bootstrap(&c.client, o.bootstrap, &err)) {
    fprintf(stderr, "minikafka consume: %s\n", err.msg);
    mk_client_free(&c.client);
    mk_cli_serde_free(&o.serde);
    return MK_EXIT_FAILED;
  }
  consume(&c);
  fflush(stdout);
  fprintf(stderr, "Processed a total of %lld messages\n", (long long)c.consumed);
  mk_cli_serde_free(&o.serde);
  mk_client_free(&c.client);
  free(c.parts);
  if (stop_signal) return 128 + stop_signal;
  return c.status;
}
