/*
 * minikafka produce: send each line of stdin as one record, as kafka-console-producer.sh does.
 * Kafka: tools/.../ConsoleProducer.java (flags and producer settings), LineMessageReader.java
 * (how a line becomes a record), clients/.../ErrorLoggingCallback.java (what a failure prints).
 *
 *   printf 'k1\tv1\nk2\tv2\n' | minikafka produce --bootstrap-server 127.0.0.1:9092 \
 *       --topic t --property parse.key=true
 *
 * A line, with every part but the value optional (LineMessageReader):
 *
 *   h1:v1,h2:v2 <headers.delimiter> key <key.separator> value
 *   `-- parse.headers=true --'      `- parse.key=true -'
 *
 * headers.delimiter and key.separator default to a tab; headers are split at
 * headers.separator (",") and each at its first headers.key.separator (":"). A key, value or
 * header value equal to null.marker is sent as null. A line without a separator it needs is
 * an error that stops the tool (Kafka throws), unless ignore.error=true: then the missing
 * part is simply absent. The bytes of the line are sent as they are (ByteArraySerializer,
 * like Kafka; Java would first replace invalid UTF-8 with U+FFFD).
 *
 * Producer settings, in ConsoleProducerConfig.producerProps' order (later wins):
 *   --producer.config FILE, then each --producer-property, then --bootstrap-server;
 *   client.id "console-producer" unless set; ByteArraySerializer for key and value;
 *   then each shorthand flag (table `shorthands`): set if given, else set to the console
 *   producer's own default unless the file or a --producer-property already set it
 *   (CommandLineUtils.maybeMergeOptions). So, unlike a plain producer, the console
 *   producer lingers 1 s (--timeout), waits 1.5 s per request and retries 3 times.
 * Every setting goes through mk_producer_config_set, so a mistyped key or value is a usage
 * error naming it (Java would only warn about an unknown key).
 *
 * Each send completes exactly once, in on_complete (on the Sender thread); with --sync the
 * next line is read only after the previous record completed. A failure is printed on
 * stderr with Kafka's error name, and counted. At EOF (or Ctrl-C) the producer is flushed
 * and closed, which completes every pending record.
 *
 * Exit status: 0 every record was written; 1 some record failed, a line could not be parsed
 * or the producer could not start; 2 bad command line or producer settings; 128+signal
 * when interrupted.
 */
#define _GNU_SOURCE  /* memmem */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/interrupt.h"
#include "cli/serde.h"  /* --key-serializer, --value-serializer, Avro's --property keys */
#include "common/log.h"
#include "common/trace.h"
#include "producer/producer.h"

/* LineMessageReader's settings (--property), with Kafka's defaults. */
struct reader_config {
  bool parse_key;                     /* parse.key false */
  bool parse_headers;                 /* parse.headers false */
  bool ignore_error;                  /* ignore.error false */
  const char *key_separator;          /* key.separator "\t" */
  const char *headers_delimiter;      /* headers.delimiter "\t": headers | key and value */
  const char *headers_separator;      /* headers.separator ",": between headers */
  const char *headers_key_separator;  /* headers.key.separator ":": header key | value */
  const char *null_marker;            /* null.marker: NULL = none */
};

/* A flag that is shorthand for one producer setting, with the console producer's default. */
struct shorthand {
  const char *flag;   /* without the leading "--" */
  const char *key;    /* the producer setting */
  const char *def;    /* ConsoleProducerConfig's default for the flag */
};

/* In ConsoleProducerConfig.producerProps' order, which matters for batch.size: the second
 * flag for it only counts when given, because by then the first has set it. */
static const struct shorthand shorthands[] = {
  {"timeout", "linger.ms", "1000"},
  {"request-required-acks", "acks", "-1"},
  {"request-timeout-ms", "request.timeout.ms", "1500"},
  {"message-send-max-retries", "retries", "3"},
  {"retry-backoff-ms", "retry.backoff.ms", "100"},
  {"socket-buffer-size", "send.buffer.bytes", "102400"},
  {"max-memory-bytes", "buffer.memory", "33554432"},
  {"batch-size", "batch.size", "16384"},
  {"max-partition-memory-bytes", "batch.size", "16384"},
  {"metadata-expiry-ms", "metadata.max.age.ms", "300000"},
  {"max-block-ms", "max.block.ms", "60000"},
};
enum { NSHORTHANDS = sizeof shorthands / sizeof shorthands[0] };

struct options {
  const char *bootstrap;
  const char *topic;
  const char *producer_config;        /* --producer.config FILE */
  const char **producer_props;        /* --producer-property K=V, in order */
  int nproducer_props;
  const char *compression;            /* --compression-codec; "" = given without a value */
  const char *shorthand[NSHORTHANDS]; /* each flag's value, NULL if not given */
  bool sync;
  const char *trace;
  struct reader_config reader;
  struct mk_cli_serde serde;          /* what a line's key and value become (cli/serde.h) */
};

/* One record on its way: what on_complete needs to report it. Freed by on_complete. */
struct pending {
  int64_t line;              /* line number in the input, from 1 */
  int32_t key_len;           /* -1 for a null key */
  int32_t value_len;         /* -1 for a null value */
};

static atomic_llong sent_ok;  /* records written (callbacks on the Sender thread count) */
static atomic_llong failed;   /* records that completed with an error */
static const char *topic_name;


static void usage(FILE *out) {
  fprintf(out,
          "usage: minikafka produce --bootstrap-server HOST:PORT --topic T [options] < lines\n"
          "\n"
          "Send each line of stdin as one record, like kafka-console-producer.sh.\n"
          "\n"
          "  --bootstrap-server HOST:PORT[,...]  where to connect (required)\n"
          "  --topic T                   the topic (required)\n"
          "  --property K=V              how lines are read (LineMessageReader):\n"
          "                              parse.key, parse.headers, ignore.error (true/false),\n"
          "                              key.separator (\\t), headers.delimiter (\\t),\n"
          "                              headers.separator (,), headers.key.separator (:),\n"
          "                              null.marker; a line is\n"
          "                              [h1:v1,h2:v2<TAB>][key<TAB>]value\n"
          "  --key-serializer NAME       how a line's key is sent: ByteArraySerializer (the\n"
          "  --value-serializer NAME     bytes, default), StringSerializer, IntegerSerializer,\n"
          "                              ... or AvroSerializer: JSON lines in the Avro schema\n"
          "                              --property value.schema=... (key.schema=...), the\n"
          "                              schema registered at --property\n"
          "                              schema.registry.url=URL (also auto.register.schemas,\n"
          "                              use.latest.version), as kafka-avro-console-producer\n"
          "  --producer-property K=V     any producer setting (repeatable)\n"
          "  --producer.config FILE      producer settings from a properties file\n"
          "  --sync                      send one record at a time, waiting for each\n"
          "  --trace FILE                write trace events as JSON lines (- = stdout)\n"
          "\n"
          "Shorthands for producer settings (default in brackets, used unless the setting\n"
          "is given by --producer-property or --producer.config):\n"
          "  --request-required-acks A   acks [-1]\n"
          "  --compression-codec [C]     compression.type: none, gzip, snappy, lz4, zstd\n"
          "                              [none; gzip when given without a value]\n"
          "  --batch-size N              batch.size [16384]\n"
          "  --max-partition-memory-bytes N  batch.size, too\n"
          "  --timeout MS                linger.ms [1000]\n"
          "  --message-send-max-retries N  retries [3]\n"
          "  --retry-backoff-ms MS       retry.backoff.ms [100]\n"
          "  --request-timeout-ms MS     request.timeout.ms [1500]\n"
          "  --max-block-ms MS           max.block.ms [60000]\n"
          "  --metadata-expiry-ms MS     metadata.max.age.ms [300000]\n"
          "  --max-memory-bytes N        buffer.memory [33554432]\n"
          "  --socket-buffer-size N      send.buffer.bytes [102400]\n"
          "\n"
          "A record that fails is reported on stderr with Kafka's error name; the exit\n"
          "status is 1 if any did.\n");
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "minikafka produce: ");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n(minikafka produce --help shows the arguments)\n");
  return MK_EXIT_USAGE;
}

/* ---- options ------------------------------------------------------------------------------- */

/* Kafka reads these with trim().equalsIgnoreCase("true"): anything else is false. */
static bool is_true(const char *v) {
  while (*v == ' ' || *v == '\t') v++;
  size_t n = strlen(v);
  while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
  return n == 4 && strncasecmp(v, "true", 4) == 0;
}

/* --property K=V: LineMessageReader.configure. A missing value is "" (parseKeyValueArgs). */
static int set_property(struct reader_config *r, const char *kv) {
  const char *eq = strchr(kv, '=');
  size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
  const char *v = eq ? eq + 1 : "";
#define IS(name) (klen == strlen(name) && strncmp(kv, name, klen) == 0)
  if (IS("parse.key")) r->parse_key = is_true(v);
  else if (IS("parse.headers")) r->parse_headers = is_true(v);
  else if (IS("ignore.error")) r->ignore_error = is_true(v);
  else if (IS("key.separator")) r->key_separator = v;
  else if (IS("headers.delimiter")) r->headers_delimiter = v;
  else if (IS("headers.separator")) r->headers_separator = v;
  else if (IS("headers.key.separator")) r->headers_key_separator = v;
  else if (IS("null.marker")) r->null_marker = v;
  else  /* Kafka hands every property to the reader, which ignores what it does not know */
    fprintf(stderr, "minikafka produce: ignoring unknown --property '%.*s'\n", (int)klen, kv);
#undef IS
  return 0;
}

static bool same(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* The separators must differ, or a line would be ambiguous (LineMessageReader.configure). */
static int check_reader(const struct reader_config *r) {
  static const char *const names[] = {"headers.delimiter", "headers.separator",
                                      "headers.key.separator"};
  const char *seps[] = {r->headers_delimiter, r->headers_separator, r->headers_key_separator};
  for (int i = 0; i < 3; i++)
    for (int j = i + 1; j < 3; j++)
      if (same(seps[i], seps[j]))
        return usage_error("%s and %s may not be equal", names[i], names[j]);
  if (same(r->key_separator, r->null_marker))
    return usage_error("null.marker and key.separator may not be equal");
  for (int i = 0; i < 3; i++) {
    static const int order[] = {1, 0, 2};  /* Kafka's order of the checks */
    if (same(seps[order[i]], r->null_marker))
      return usage_error("null.marker and %s may not be equal", names[order[i]]);
  }
  /* An empty separator is found at every position (Java's indexOf("") is the start), so
   * it would split every line at its first character: refuse it instead. */
  if (!*r->key_separator || !*r->headers_delimiter || !*r->headers_separator ||
      !*r->headers_key_separator)
    return usage_error("key.separator and the headers separators may not be empty");
  return 0;
}

static int parse_options(int argc, char **argv, struct options *o) {
  enum {
    O_BOOTSTRAP = 256, O_BROKER_LIST, O_TOPIC, O_PROPERTY, O_PRODUCER_PROPERTY,
    O_PRODUCER_CONFIG, O_SYNC, O_COMPRESSION, O_LINE_READER, O_TRACE, O_HELP,
    O_KEY_SERIALIZER, O_VALUE_SERIALIZER,
    O_SHORTHAND,  /* O_SHORTHAND + i: shorthands[i] */
  };
  static const struct option fixed[] = {
      {"bootstrap-server", required_argument, NULL, O_BOOTSTRAP},
      {"broker-list", required_argument, NULL, O_BROKER_LIST},
      {"topic", required_argument, NULL, O_TOPIC},
      {"property", required_argument, NULL, O_PROPERTY},
      {"producer-property", required_argument, NULL, O_PRODUCER_PROPERTY},
      {"producer.config", required_argument, NULL, O_PRODUCER_CONFIG},
      {"sync", no_argument, NULL, O_SYNC},
      {"compression-codec", optional_argument, NULL, O_COMPRESSION},
      {"line-reader", required_argument, NULL, O_LINE_READER},
      {"trace", required_argument, NULL, O_TRACE},
      {"help", no_argument, NULL, O_HELP},
      {"key-serializer", required_argument, NULL, O_KEY_SERIALIZER},
      {"value-serializer", required_argument, NULL, O_VALUE_SERIALIZER},
  };
  enum { NFIXED = sizeof fixed / sizeof fixed[0] };
  static struct option longopts[NFIXED + NSHORTHANDS + 1];  /* fixed, shorthands, end */
  int n = 0;
  for (int i = 0; i < NFIXED; i++) longopts[n++] = fixed[i];
  for (int i = 0; i < NSHORTHANDS; i++)
    longopts[n++] = (struct option){shorthands[i].flag, required_argument, NULL, O_SHORTHAND + i};
  longopts[n] = (struct option){NULL, 0, NULL, 0};

  memset(o, 0, sizeof *o);
  o->reader = (struct reader_config){.key_separator = "\t", .headers_delimiter = "\t",
                                     .headers_separator = ",", .headers_key_separator = ":"};
  mk_cli_serde_init(&o->serde);
  o->producer_props = calloc((size_t)argc, sizeof *o->producer_props);
  if (!o->producer_props) return usage_error("out of memory");
  const char *broker_list = NULL;
  opterr = 0;
  optind = 1;
  int c, rc = 0;
  while (!rc && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case O_BOOTSTRAP: o->bootstrap = optarg; break;
    case O_BROKER_LIST: broker_list = optarg; break;
    case O_TOPIC: o->topic = optarg; break;
    case O_PROPERTY:
      if (!mk_cli_serde_property(&o->serde, optarg)) rc = set_property(&o->reader, optarg);
      break;
    case O_KEY_SERIALIZER: o->serde.key_name = optarg; break;
    case O_VALUE_SERIALIZER: o->serde.value_name = optarg; break;
    case O_PRODUCER_PROPERTY: o->producer_props[o->nproducer_props++] = optarg; break;
    case O_PRODUCER_CONFIG: o->producer_config = optarg; break;
    case O_SYNC: o->sync = true; break;
    case O_COMPRESSION:
      /* An optional value, as joptsimple reads one: "--compression-codec=lz4" or
       * "--compression-codec lz4"; alone it means gzip. */
      if (!optarg && optind < argc && argv[optind][0] != '-') optarg = argv[optind++];
      o->compression = optarg ? optarg : "";
      break;
    case O_LINE_READER:
      if (strcmp(optarg, "org.apache.kafka.tools.LineMessageReader") != 0 &&
          strcmp(optarg, "LineMessageReader") != 0)
        return usage_error("--line-reader %s: only LineMessageReader is built in", optarg);
      break;
    case O_TRACE: o->trace = optarg; break;
    case 'h':
    case O_HELP: usage(stdout); return -1;
    default:
      if (c >= O_SHORTHAND && c < O_SHORTHAND + NSHORTHANDS) {
        o->shorthand[c - O_SHORTHAND] = optarg;
        break;
      }
      return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
    }
  }
  if (rc) return rc;
  if (optind < argc) return usage_error("unexpected argument '%s'", argv[optind]);
  if (!o->bootstrap) o->bootstrap = broker_list;  /* the deprecated spelling */
  if (!o->topic) return usage_error("Missing required argument \"[topic]\"");
  if (!o->bootstrap) return usage_error("Missing required argument \"[bootstrap-server]\"");
  return check_reader(&o->reader);
}

/* set(key, value), turning a refusal into a usage error that names the flag it came from. */
static int set(struct mk_producer_config *cfg, const char *from, const char *key,
               const char *value) {
  struct mk_err err = {0};
  if (mk_producer_config_set(cfg, key, value, &err) == 0) return 0;
  return usage_error("%s: %s", from, err.msg);
}

/* The producer's settings, in ConsoleProducerConfig.producerProps' order (see the top). */
static int build_config(struct options *o, struct mk_producer_config *cfg) {
  struct mk_err err = {0};
  int rc;
  if (o->producer_config && mk_producer_config_load_file(cfg, o->producer_config, &err))
    return usage_error("--producer.config: %s", err.msg);
  for (int i = 0; i < o->nproducer_props; i++) {
    const char *kv = o->producer_props[i];
    const char *eq = strchr(kv, '=');
    char key[128];
    if (eq == kv) return usage_error("--producer-property '%s': expected key=value", kv);
    snprintf(key, sizeof key, "%.*s", eq ? (int)(eq - kv) : (int)strlen(kv), kv);
    if ((rc = set(cfg, "--producer-property", key, eq ? eq + 1 : ""))) return rc;
  }
  if ((rc = set(cfg, "--bootstrap-server", "bootstrap.servers", o->bootstrap))) return rc;
  /* Kafka puts compression.type unconditionally, so a --producer-property of it is lost;
   * here the flag wins when given and the setting is otherwise left alone. */
  if (o->compression &&
      (rc = set(cfg, "--compression-codec", "compression.type",
                *o->compression ? o->compression : "gzip")))
    return rc;
  if (!mk_producer_config_is_set(cfg, "client.id") &&
      (rc = set(cfg, "client.id", "client.id", "console-producer")))
    return rc;
  if ((rc = set(cfg, "key.serializer", "key.serializer", "ByteArraySerializer")) ||
      (rc = set(cfg, "value.serializer", "value.serializer", "ByteArraySerializer")))
    return rc;
  if (mk_cli_serde_producer(&o->serde, cfg, &err)) return usage_error("%s", err.msg);
  for (int i = 0; i < NSHORTHANDS; i++) {
    const char *v = o->shorthand[i];
    if (!v && mk_producer_config_is_set(cfg, shorthands[i].key)) continue;
    char from[64];
    snprintf(from, sizeof from, "--%s", shorthands[i].flag);
    if ((rc = set(cfg, from, shorthands[i].key, v ? v : shorthands[i].def))) return rc;
  }
  if (mk_producer_config_finish(cfg, &err)) return usage_error("%s", err.msg);
  for (int i = 0; i < cfg->num_notes; i++)  /* what Java logs at WARN (the tools' level) */
    if (cfg->notes[i].level <= MK_LOG_WARN) mk_log(MK_LOG_WARN, "produce", "%s", cfg->notes[i].msg);
  return 0;
}

/* ---- reading lines (LineMessageReader) --------------------------------------------------- */

struct line {
  char *buf;
  size_t len, cap;
};

/* The next line without its terminator, which is "\n", "\r" or "\r\n" as for Java's
 * BufferedReader.readLine. Returns 1, 0 at the end of input, -1 on a read error (or a
 * signal) or when out of memory. */
static int read_line(FILE *in, struct line *l) {
  l->len = 0;
  int ch;
  errno = 0;
  while ((ch = getc_unlocked(in)) != EOF) {  /* only this thread reads stdin */
    if (ch == '\n') return 1;
    if (ch == '\r') {
      int next = getc_unlocked(in);
      if (next != '\n' && next != EOF) ungetc(next, in);
      return 1;
    }
    if (l->len + 1 >= l->cap) {
      size_t cap = l->cap ? l->cap * 2 : 256;
      char *b = realloc(l->buf, cap);
      if (!b) return -1;
      l->buf = b;
      l->cap = cap;
    }
    l->buf[l->len++] = (char)ch;
  }
  if (ferror(in)) return -1;
  return l->len > 0 ? 1 : 0;  /* a last line without a newline still counts */
}

/* A piece of a line: [ptr, ptr+len). */
struct span {
  const char *ptr;
  size_t len;
};

static bool span_is(struct span s, const char *text) {
  return text && s.len == strlen(text) && memcmp(s.ptr, text, s.len) == 0;
}

/* Where sep first occurs in s at or after from, or -1 (String.indexOf). */
static long find(struct span s, size_t from, const char *sep) {
  const char *p = memmem(s.ptr + from, s.len - from, sep, strlen(sep));
  return p ? p - s.ptr : -1;
}

struct parsed {
  bool has_key, has_value;              /* false: null */
  struct span key, value;
  struct mk_record_header *headers;     /* growing array, reused from line to line */
  int headers_count, headers_cap;
};

static bool add_header(struct parsed *p, struct span key, const struct span *value) {
  if (p->headers_count == p->headers_cap) {
    int cap = p->headers_cap ? p->headers_cap * 2 : 8;
    struct mk_record_header *h = realloc(p->headers, sizeof *h * (size_t)cap);
    if (!h) return false;
    p->headers = h;
    p->headers_cap = cap;
  }
  struct mk_record_header *h = &p->headers[p->headers_count++];
  h->key = (struct mk_bytes){(const uint8_t *)key.ptr, (int32_t)key.len};
  h->value = value ? (struct mk_bytes){(const uint8_t *)value->ptr, (int32_t)value->len}
                   : MK_BYTES_NULL;
  return true;
}

/* One "k:v" pair of the header list (LineMessageReader.splitHeaders). */
static int parse_header(const struct reader_config *r, struct span pair, int64_t lineno,
                        struct parsed *p) {
  long i = find(pair, 0, r->headers_key_separator);
  if (i < 0) {
    if (r->ignore_error) return add_header(p, pair, NULL) ? 0 : -1;
    fprintf(stderr, "minikafka produce: No header key separator found in pair '%.*s' on line "
            "number %lld\n", (int)pair.len, pair.ptr, (long long)lineno);
    return -1;
  }
  struct span key = {pair.ptr, (size_t)i};
  struct span value = {pair.ptr + i + strlen(r->headers_key_separator),
                       pair.len - (size_t)i - strlen(r->headers_key_separator)};
  if (span_is(key, r->null_marker)) {  /* even with ignore.error, as in Kafka */
    fprintf(stderr, "minikafka produce: Header keys should not be equal to the null marker "
            "'%s' as they can't be null\n", r->null_marker);
    return -1;
  }
  return add_header(p, key, span_is(value, r->null_marker) ? NULL : &value) ? 0 : -1;
}

/* Split the header list at headers.separator, as Java's Pattern.split does for a plain
 * separator: left to right, a list without one is a single pair (even when empty), and
 * empty pieces at the end are dropped. (Kafka compiles the separator as a regex; here it
 * is plain text.) */
static int parse_headers(const struct reader_config *r, struct span list, int64_t lineno,
                         struct parsed *p) {
  size_t seplen = strlen(r->headers_separator);
  if (find(list, 0, r->headers_separator) < 0) return parse_header(r, list, lineno, p);
  /* First pass: where the last non-empty piece ends. */
  size_t at = 0, end = 0;
  for (;;) {
    long i = find(list, at, r->headers_separator);
    size_t stop = i < 0 ? list.len : (size_t)i;
    if (stop > at) end = stop;
    if (i < 0) break;
    at = stop + seplen;
  }
  /* Second pass: every piece up to there. */
  for (at = 0; at < end;) {
    long i = find(list, at, r->headers_separator);
    size_t stop = i < 0 || (size_t)i > end ? end : (size_t)i;
    if (parse_header(r, (struct span){list.ptr + at, stop - at}, lineno, p)) return -1;
    at = stop + seplen;
  }
  return 0;
}

/* LineMessageReader's parse(): the text before sep, starting at from; *found false when
 * the part is off or absent. Returns -1 (after saying why) if it is required but missing. */
static int parse_part(const struct reader_config *r, bool enabled, struct span line,
                      size_t from, const char *sep, const char *what, int64_t lineno,
                      struct span *out, bool *found) {
  *found = false;
  if (!enabled) return 0;
  long i = find(line, from, sep);
  if (i < 0) {
    if (r->ignore_error) return 0;
    fprintf(stderr, "minikafka produce: No %s found on line number %lld: '%.*s'\n", what,
            (long long)lineno, (int)line.len, line.ptr);
    return -1;
  }
  *out = (struct span){line.ptr + from, (size_t)i - from};
  *found = true;
  return 0;
}

/* One line -> key, value and headers (LineMessageReader.readRecords). The parts point into
 * the line. Returns 0, or -1 when the line cannot be read (the reason was printed). */
static int parse_line(const struct reader_config *r, struct span line, int64_t lineno,
                      struct parsed *p) {
  p->headers_count = 0;
  struct span headers = {0}, key = {0};
  bool has_headers, has_key;
  if (parse_part(r, r->parse_headers, line, 0, r->headers_delimiter, "headers delimiter",
                 lineno, &headers, &has_headers))
    return -1;
  size_t header_end = has_headers ? headers.len + strlen(r->headers_delimiter) : 0;
  if (parse_part(r, r->parse_key, line, header_end, r->key_separator, "key separator", lineno,
                 &key, &has_key))
    return -1;
  size_t key_end = has_key ? key.len + strlen(r->key_separator) : 0;
  p->value = (struct span){line.ptr + header_end + key_end, line.len - header_end - key_end};
  p->key = key;
  p->has_key = has_key && !span_is(key, r->null_marker);
  p->has_value = !span_is(p->value, r->null_marker);
  if (has_headers && !span_is(headers, r->null_marker))
    return parse_headers(r, headers, lineno, p);
  return 0;
}

/* ---- sending ------------------------------------------------------------------------------- */

/* Runs exactly once per record: count it, and say why if it failed (ErrorLoggingCallback's
 * sentence, plus Kafka's error name and the line it came from). Thread: sender, or app
 * when mk_producer_send failed at once. */
static void on_complete(const struct mk_record_metadata *md, const struct mk_err *err,
                        void *opaque) {
  struct pending *s = opaque;
  (void)md;
  if (!err || err->code == 0) {
    atomic_fetch_add(&sent_ok, 1);
  } else {
    atomic_fetch_add(&failed, 1);
    char key[32] = "null", value[32] = "null";
    if (s->key_len >= 0) snprintf(key, sizeof key, "%d bytes", s->key_len);
    if (s->value_len >= 0) snprintf(value, sizeof value, "%d bytes", s->value_len);
    mk_log(MK_LOG_ERROR, "produce",
           "Error when sending message to topic %s with key: %s, value: %s with error: %s%s%s "
           "(line %lld)", topic_name, key, value, mk_err_name(err->code), err->msg[0] ? ": " : "",
           err->msg, (long long)s->line);
  }
  free(s);
}

/* Send one parsed line; with sync, wait until it has completed. Returns 0, or -1 when out
 * of memory (nothing was sent). */
static int send_line(struct mk_producer *p, const struct options *o, const struct parsed *pl,
                     int64_t lineno) {
  struct pending *s = malloc(sizeof *s);
  if (!s) return -1;
  s->line = lineno;
  s->key_len = pl->has_key ? (int32_t)pl->key.len : -1;
  s->value_len = pl->has_value ? (int32_t)pl->value.len : -1;
  struct mk_producer_record rec = {
      .topic = o->topic,
      .partition = -1,
      .timestamp = -1,
      .headers = pl->headers,
      .headers_count = pl->headers_count,
  };
  struct mk_future *f = NULL;
  struct mk_err err = {0};
  /* A failure at once has already run on_complete (which counted it): nothing to add.
   * Ctrl-C while send() waits for metadata or memory closes the producer, which ends the
   * wait (interrupt.h). */
  mk_cli_interrupt_busy(true);
  /* The text as the serializer's input type (the bytes themselves by default). */
  if (mk_cli_serde_value(&o->serde, true, pl->key.ptr, pl->key.len, pl->has_key, &rec.key, &err) ||
      mk_cli_serde_value(&o->serde, false, pl->value.ptr, pl->value.len, pl->has_value,
                         &rec.value, &err)) {
    struct mk_record_metadata md = {.topic = o->topic, .partition = -1, .offset = -1};
    on_complete(&md, &err, s);  /* fails like a serializer would: reported, counted */
    return 0;
  }
  /* A failure at once has already run on_complete (which counted it): nothing to add. */
  mk_producer_send(p, &rec, on_complete, s, o->sync ? &f : NULL, &err);
  mk_cli_interrupt_busy(false);
  if (f) {
    mk_future_get(f, -1, NULL, &err);  /* the outcome is on_complete's to report */
    mk_future_free(f);
  }
  return 0;
}

/* Read stdin to the end, sending each line. Returns 0, or MK_EXIT_FAILED when a line could
 * not be parsed or stdin not read (the rest of the input is then left unread, as Kafka
 * stops at the first bad line). */
static int produce(struct mk_producer *p, const struct options *o) {
  /* Java prints the prompt when System.console() exists: stdin and stdout a terminal. */
  bool prompt = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  struct line l = {0};
  struct parsed pl = {0};
  int rc = 0;
  /* A line read whole is sent even when Ctrl-C came meanwhile: it was typed before. A read
   * that Ctrl-C interrupts returns EINTR (the signal comes to this thread only). */
  for (int64_t lineno = 1; !mk_cli_interrupted(); lineno++) {
    if (prompt) {
      fputc('>', stdout);
      fflush(stdout);
    }
    int got = read_line(stdin, &l);
    if (got == 0 || (got < 0 && mk_cli_interrupted())) break;
    if (got < 0) {
      fprintf(stderr, "minikafka produce: reading stdin: %s\n",
              errno ? strerror(errno) : "out of memory");
      rc = MK_EXIT_FAILED;
      break;
    }
    if (parse_line(&o->reader, (struct span){l.buf, l.len}, lineno, &pl)) {
      rc = MK_EXIT_FAILED;
      break;
    }
    if (send_line(p, o, &pl, lineno)) {
      fprintf(stderr, "minikafka produce: out of memory at line %lld\n", (long long)lineno);
      rc = MK_EXIT_FAILED;
      break;
    }
  }
  free(l.buf);
  free(pl.headers);
  return rc;
}

int mk_cli_produce(int argc, char **argv) {
  struct options o;
  int rc = parse_options(argc, argv, &o);
  if (rc) {
    free(o.producer_props);
    return rc < 0 ? MK_EXIT_OK : rc;
  }
  topic_name = o.topic;

  struct mk_producer_config *cfg = mk_producer_config_new();
  if (!cfg) {
    free(o.producer_props);
    return usage_error("out of memory");
  }
  rc = build_config(&o, cfg);
  free(o.producer_props);
  if (rc) {
    mk_producer_config_free(cfg);
    mk_cli_serde_free(&o.serde);
    return rc;
  }

  struct mk_err err = {0};
  int trace_sink = -1;
  if (o.trace && (trace_sink = mk_trace_open_file(o.trace, &err)) < 0) {
    fprintf(stderr, "minikafka produce: %s\n", err.msg);
    mk_producer_config_free(cfg);
    mk_cli_serde_free(&o.serde);
    return MK_EXIT_FAILED;
  }
  /* Ctrl-C stops reading; what was read is still sent (Kafka's shutdown hook closes the
   * producer): see interrupt.h. The Sender thread starts with the signals blocked. */
  mk_cli_interrupt_block();
  struct mk_producer *p;
  rc = mk_producer_new(cfg, &p, &err);
  mk_producer_config_free(cfg);  /* the producer keeps its own copy */
  if (rc || mk_cli_interrupt_start(p)) {
    if (rc) fprintf(stderr, "minikafka produce: %s\n", err.msg);
    else mk_producer_close(p, 0);
    mk_trace_remove_sink(trace_sink);
    mk_cli_serde_free(&o.serde);
    return MK_EXIT_FAILED;
  }

  rc = produce(p, &o);
  mk_producer_flush(p, -1, &err);
  mk_producer_close(p, -1);  /* completes every record still pending */
  int stop_signal = mk_cli_interrupted();
  mk_cli_interrupt_stop();
  mk_cli_serde_free(&o.serde);
  mk_trace_remove_sink(trace_sink);

  long long nfailed = atomic_load(&failed), nok = atomic_load(&sent_ok);
  if (nfailed > 0) {
    fprintf(stderr, "minikafka produce: %lld of %lld records failed\n", nfailed, nfailed + nok);
    rc = MK_EXIT_FAILED;
  }
  if (stop_signal) return 128 + stop_signal;
  return rc;
}
