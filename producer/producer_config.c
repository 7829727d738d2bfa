/*
 * Producer config: one table of Kafka's producer settings drives parsing, defaults and
 * listing (as broker/config.c does for the broker). See producer_config.h for the rules.
 * Kafka: ProducerConfig.java (the table below is its CONFIG definition, alphabetized),
 * ConfigDef.java (parseType and the validators, whose sentences are copied so that an
 * error reads like Java's ConfigException), KafkaProducer.java, CommonClientConfigs.java.
 *
 *   row       name, type, where the value lives in struct mk_producer_config, the range
 *             Java's validator allows, the default (as text, parsed by the same code as
 *             user input, so a default cannot disagree with the parser) and a one-line doc
 *   set()     find the row, trim the text, parse it by type, check it, store it, remember
 *             that the user set it (Java's originals(), which finish() needs)
 *   finish()  the rules across settings (postProcessParsedConfig and KafkaProducer's)
 *   each()    the rows again, formatting each value back into the text set() accepts
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config_def.h"
#include "common/properties.h"
#include "common/suggest.h"
#include "producer/partitioner.h"
#include "producer/producer_config.h"
#include "producer/serializers.h"
#include "protocol/compression.h"

enum kind {
  K_INT,          /* Java INT, range-checked */
  K_LONG,         /* Java LONG, range-checked */
  K_BOOL,         /* Java BOOLEAN */
  K_STRING,       /* Java STRING, any text (client.id) */
  K_TXN_ID,       /* STRING, null by default, non-empty when set (transactional.id) */
  K_SERVERS,      /* LIST of host:port (bootstrap.servers) */
  K_ACKS,         /* STRING in all, -1, 0, 1; stored as int16 -1/0/1 */
  K_CHOICE,       /* STRING from a list, case-sensitive; stored as its index */
  K_SECURITY,     /* security.protocol: case-insensitive; only PLAINTEXT is spoken here */
  K_GZIP_LEVEL,   /* INT: 1..9 or -1 */
  K_SERIALIZER,   /* CLASS: a Serializer */
  K_PARTITIONER,  /* CLASS: a Partitioner, null by default */
  K_INTERCEPTORS, /* LIST of ProducerInterceptor classes: registered from C */
};

#define NO_MIN INT64_MIN
#define NO_MAX INT64_MAX
#define F(field) offsetof(struct mk_producer_config, field)

static const char *const dns_lookups[] = {"use_all_dns_ips",
                                          "resolve_canonical_bootstrap_servers_only", NULL};
/* Index = enum mk_compression (protocol/compression.h). */
static const char *const compression_types[] = {"none", "gzip", "snappy", "lz4", "zstd", NULL};
static const char *const security_protocols[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT",
                                                 "SASL_SSL", NULL};

static const struct setting {
  const char *name;
  enum kind kind;
  size_t offset;
  int64_t min, max;             /* the validator's range (K_INT, K_LONG) */
  const char *const *choices;   /* K_CHOICE */
  const char *dflt;             /* NULL = no default: required, or null */
  bool required;
  const char *doc;
} settings[] = {
  {"acks", K_ACKS, F(acks), 0, 0, NULL, "all", false,
   "replicas that must have a record before it counts as written: 0, 1 or all (= -1)"},
  {"auto.register.schemas", K_BOOL, F(auto_register_schemas), 0, 0, NULL, "true", false,
   "AvroSerializer: register the record's schema under its subject (else it must exist)"},
  {"batch.size", K_INT, F(batch_size), 0, NO_MAX, NULL, "16384", false,
   "bytes per partition batch; also the bytes sent to a sticky partition before switching"},
  {"bootstrap.servers", K_SERVERS, F(bootstrap_servers), 0, 0, NULL, NULL, true,
   "host:port list of brokers to ask for the cluster's metadata first"},
  {"buffer.memory", K_LONG, F(buffer_memory), 0, NO_MAX, NULL, "33554432", false,
   "bytes of records waiting to be sent before send() blocks (max.block.ms)"},
  {"client.dns.lookup", K_CHOICE, F(client_dns_lookup), 0, 0, dns_lookups, "use_all_dns_ips",
   false, "how names become addresses: use_all_dns_ips or resolve_canonical_bootstrap_servers_only"},
  {"client.id", K_STRING, F(client_id), 0, 0, NULL, "", false,
   "the name brokers see in requests and logs; default producer-N"},
  {"compression.gzip.level", K_GZIP_LEVEL, F(compression_gzip_level), 0, 0, NULL, "-1", false,
   "gzip level: 1..9, or -1 for zlib's default (6)"},
  {"compression.lz4.level", K_INT, F(compression_lz4_level), 1, 17, NULL, "9", false,
   "lz4 level: 1..17"},
  {"compression.type", K_CHOICE, F(compression_type), 0, 0, compression_types, "none", false,
   "codec for whole batches: none, gzip, snappy, lz4 or zstd"},
  {"compression.zstd.level", K_INT, F(compression_zstd_level), -131072, 22, NULL, "3", false,
   "zstd level: -131072..22"},
  {"connections.max.idle.ms", K_LONG, F(connections_max_idle_ms), NO_MIN, NO_MAX, NULL,
   "540000", false, "close connections idle this long"},
  {"delivery.timeout.ms", K_INT, F(delivery_timeout_ms), 0, NO_MAX, NULL, "120000", false,
   "send() to callback, retries included; >= linger.ms + request.timeout.ms"},
  {"enable.idempotence", K_BOOL, F(enable_idempotence), 0, 0, NULL, "true", false,
   "producer id + sequence numbers, so retries cannot duplicate (needs acks=all)"},
  {"interceptor.classes", K_INTERCEPTORS, F(interceptors), 0, 0, NULL, "", false,
   "interceptors (onSend/onAcknowledgement); registered from C"},
  {"key.serializer", K_SERIALIZER, F(key_serializer), 0, 0, NULL, NULL, true,
   "turns keys into bytes: StringSerializer, IntegerSerializer, ... or one set from C"},
  {"linger.ms", K_LONG, F(linger_ms), 0, NO_MAX, NULL, "5", false,
   "wait this long for a batch to fill before sending it (5 since Kafka 4.0)"},
  {"max.block.ms", K_LONG, F(max_block_ms), 0, NO_MAX, NULL, "60000", false,
   "longest send() waits for metadata or buffer memory"},
  {"max.in.flight.requests.per.connection", K_INT, F(max_in_flight_requests_per_connection), 1,
   NO_MAX, NULL, "5", false,
   "requests sent to a broker without a response yet; <= 5 if idempotent"},
  {"max.request.size", K_INT, F(max_request_size), 0, NO_MAX, NULL, "1048576", false,
   "largest request (and largest record) in bytes"},
  {"metadata.max.age.ms", K_LONG, F(metadata_max_age_ms), 0, NO_MAX, NULL, "300000", false,
   "refresh metadata at least this often"},
  {"metadata.max.idle.ms", K_LONG, F(metadata_max_idle_ms), 5000, NO_MAX, NULL, "300000", false,
   "forget the metadata of a topic not produced to for this long"},
  {"normalize.schemas", K_BOOL, F(normalize_schemas), 0, 0, NULL, "false", false,
   "AvroSerializer: register and look up schemas in normalized form"},
  {"partitioner.adaptive.partitioning.enable", K_BOOL,
   F(partitioner_adaptive_partitioning_enable), 0, 0, NULL, "true", false,
   "send fewer keyless records to partitions with longer queues"},
  {"partitioner.availability.timeout.ms", K_LONG, F(partitioner_availability_timeout_ms), 0,
   NO_MAX, NULL, "0", false,
   "skip partitions whose broker has not taken data for this long; 0 = off"},
  {"partitioner.class", K_PARTITIONER, F(partitioner_class), 0, 0, NULL, NULL, false,
   "null = built-in uniform sticky; RoundRobinPartitioner; StickyPartitioner (pre-3.3)"},
  {"partitioner.ignore.keys", K_BOOL, F(partitioner_ignore_keys), 0, 0, NULL, "false", false,
   "partition keyed records as if they had no key"},
  {"receive.buffer.bytes", K_INT, F(receive_buffer_bytes), -1, NO_MAX, NULL, "32768", false,
   "socket receive buffer (SO_RCVBUF); -1 = the OS default"},
  {"reconnect.backoff.max.ms", K_LONG, F(reconnect_backoff_max_ms), 0, NO_MAX, NULL, "1000",
   false, "longest wait before reconnecting to a broker"},
  {"reconnect.backoff.ms", K_LONG, F(reconnect_backoff_ms), 0, NO_MAX, NULL, "50", false,
   "first wait before reconnecting to a broker"},
  {"request.timeout.ms", K_INT, F(request_timeout_ms), 0, NO_MAX, NULL, "30000", false,
   "how long one request waits for its response"},
  {"retries", K_INT, F(retries), 0, INT32_MAX, NULL, "2147483647", false,
   "resend a failed batch up to this many times (delivery.timeout.ms still applies)"},
  {"retry.backoff.max.ms", K_LONG, F(retry_backoff_max_ms), 0, NO_MAX, NULL, "1000", false,
   "cap of the exponential backoff between retries"},
  {"retry.backoff.ms", K_LONG, F(retry_backoff_ms), 0, NO_MAX, NULL, "100", false,
   "backoff before the first retry"},
  {"schema.registry.url", K_STRING, F(schema_registry_url), 0, 0, NULL, NULL, false,
   "AvroSerializer: the schema registry, http://host:port (a comma-separated list)"},
  {"security.protocol", K_SECURITY, F(security_protocol), 0, 0, NULL, "PLAINTEXT", false,
   "PLAINTEXT (minikafka has no TLS or SASL)"},
  {"send.buffer.bytes", K_INT, F(send_buffer_bytes), -1, NO_MAX, NULL, "131072", false,
   "socket send buffer (SO_SNDBUF); -1 = the OS default"},
  {"transaction.timeout.ms", K_INT, F(transaction_timeout_ms), NO_MIN, NO_MAX, NULL, "60000",
   false, "the coordinator aborts a transaction open longer than this"},
  {"transactional.id", K_TXN_ID, F(transactional_id), 0, 0, NULL, NULL, false,
   "names the producer across restarts for transactions; needs idempotence"},
  {"use.latest.version", K_BOOL, F(use_latest_version), 0, 0, NULL, "false", false,
   "AvroSerializer: write with the subject's latest schema, not the record's own"},
  {"value.serializer", K_SERIALIZER, F(value_serializer), 0, 0, NULL, NULL, true,
   "turns values into bytes: StringSerializer, IntegerSerializer, ... or one set from C"},
};

#define NUM_SETTINGS ((int)(sizeof settings / sizeof settings[0]))
static_assert(sizeof settings / sizeof settings[0] <= 64, "user_set_ has one bit per setting");
static_assert(MK_COMPRESSION_ZSTD == 4, "compression_types[] is indexed by enum mk_compression");

/* "producer-N": N counts producers configured in this process, as Java's
 * PRODUCER_CLIENT_ID_SEQUENCE does. */
static atomic_int client_id_sequence = 1;

static uint64_t bit(const struct setting *s) { return UINT64_C(1) << (s - settings); }

static const struct setting *find(const char *key) {
  for (int i = 0; key && i < NUM_SETTINGS; i++)
    if (strcmp(settings[i].name, key) == 0) return &settings[i];
  return NULL;
}

static void *field(struct mk_producer_config *cfg, const struct setting *s) {
  return (char *)cfg + s->offset;
}

/* ---- errors ----------------------------------------------------------------------------- */

/* Java's ConfigException sentence, naming the setting (common/config_def.h). */
#define invalid(err, s, raw, ...) mk_config_invalid(err, (s)->name, raw, __VA_ARGS__)

static int unknown_key(const char *key, struct mk_err *err) {
  struct mk_suggest near;
  mk_suggest_init(&near, key);
  for (int i = 0; i < NUM_SETTINGS; i++) mk_suggest_consider(&near, settings[i].name);
  const char *best = mk_suggest_best(&near);
  if (best)
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "Unknown configuration \"%.64s\" (did you mean \"%s\"?)", key, best);
  return mk_err_set(err, MK_ERR__INVALID_ARG,
                    "Unknown configuration \"%.64s\": not a producer setting (Java would only "
                    "warn; minikafka refuses)", key);
}

/* ---- parsing ---------------------------------------------------------------------------- */

/* ConfigDef.Range: "Value must be at least N" / "Value must be no more than N". */
static int check_range(const struct setting *s, const char *raw, int64_t v, struct mk_err *err) {
  if (v < s->min) return invalid(err, s, raw, "Value must be at least %lld", (long long)s->min);
  if (v > s->max)
    return invalid(err, s, raw, "Value must be no more than %lld", (long long)s->max);
  return 0;
}

static void free_servers(char **list, int n) {
  for (int i = 0; i < n; i++) free(list[i]);
  free(list);
}

/* bootstrap.servers: Type.LIST with ValidList.anyNonDuplicateValues, each a host:port
 * (ClientUtils.parseAndValidateAddresses), as common/config_def.c parses an address list. */
static int parse_servers(const struct setting *s, const char *t, char ***out_list, int *out_n,
                         struct mk_err *err) {
  struct mk_config_list l;
  int rc = mk_config_parse_list(s->name, t, MK_CONFIG_ADDRESSES, &l, err);
  if (rc) return rc;
  *out_list = l.items;
  *out_n = l.n;
  return 0;
}

/* The names of the interceptors, comma-separated, into buf. */
static void interceptor_names(const struct mk_producer_config *cfg, char *buf, size_t size) {
  buf[0] = '\0';
  for (int i = 0; i < cfg->num_interceptors; i++) {
    if (i) strncat(buf, ",", size - strlen(buf) - 1);
    strncat(buf, cfg->interceptors[i]->name, size - strlen(buf) - 1);
  }
}

/* The custom (non-built-in) serializer called name that this config already knows, if any. */
static const struct mk_serializer *known_custom_serializer(const struct mk_producer_config *cfg,
                                                           const char *name) {
  const struct mk_serializer *both[2] = {cfg->key_serializer, cfg->value_serializer};
  for (int i = 0; i < 2; i++)
    if (both[i] && !both[i]->class_name && strcmp(both[i]->name, name) == 0) return both[i];
  return NULL;
}

/* Parse raw as s's type and store it in cfg. On error cfg is unchanged. */
static int apply(struct mk_producer_config *cfg, const struct setting *s, const char *raw,
                 struct mk_err *err) {
  char *t = mk_config_trim_dup(raw);
  if (!t) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory setting %s", s->name);
  void *p = field(cfg, s);
  int rc = 0;
  int64_t v;
  switch (s->kind) {
    case K_INT:
    case K_LONG:
      if (!mk_config_parse_integer(t, s->kind == K_INT ? INT32_MIN : INT64_MIN,
                         s->kind == K_INT ? INT32_MAX : INT64_MAX, &v)) {
        rc = invalid(err, s, raw, "Not a number of type %s", s->kind == K_INT ? "INT" : "LONG");
        break;
      }
      if ((rc = check_range(s, raw, v, err))) break;
      if (s->kind == K_INT)
        *(int32_t *)p = (int32_t)v;
      else
        *(int64_t *)p = v;
      break;
    case K_GZIP_LEVEL:
      if (!mk_config_parse_integer(t, INT32_MIN, INT32_MAX, &v)) {
        rc = invalid(err, s, raw, "Not a number of type INT");
        break;
      }
      if (v != -1 && (v < 1 || v > 9)) {
        rc = invalid(err, s, raw, "Value must be between 1 and 9 or equal to -1");
        break;
      }
      *(int32_t *)p = (int32_t)v;
      break;
    case K_BOOL:
      if (strcasecmp(t, "true") == 0)
        *(bool *)p = true;
      else if (strcasecmp(t, "false") == 0)
        *(bool *)p = false;
      else
        rc = invalid(err, s, raw, "Expected value to be either true or false");
      break;
    case K_STRING:
      free(*(char **)p);
      *(char **)p = t;
      t = NULL;
      break;
    case K_TXN_ID:
      if (!*t) {
        rc = invalid(err, s, raw, "String must be non-empty");
        break;
      }
      free(*(char **)p);
      *(char **)p = t;
      t = NULL;
      break;
    case K_ACKS:
      if (strcmp(t, "all") == 0 || strcmp(t, "-1") == 0)
        cfg->acks = -1;
      else if (strcmp(t, "0") == 0)
        cfg->acks = 0;
      else if (strcmp(t, "1") == 0)
        cfg->acks = 1;
      else
        rc = invalid(err, s, raw, "String must be one of: all, -1, 0, 1");
      break;
    case K_CHOICE: {
      int i = 0;
      while (s->choices[i] && strcmp(s->choices[i], t) != 0) i++;
      if (s->choices[i]) {
        *(int *)p = i;
        break;
      }
      char list[128] = "";
      for (i = 0; s->choices[i]; i++) {
        if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, s->choices[i], sizeof list - strlen(list) - 1);
      }
      rc = invalid(err, s, raw, "String must be one of: %s", list);
      break;
    }
    case K_SECURITY: {
      int i = 0;
      while (security_protocols[i] && strcasecmp(security_protocols[i], t) != 0) i++;
      if (i == 0)
        *(int *)p = 0;
      else if (security_protocols[i])
        rc = invalid(err, s, raw, "minikafka speaks PLAINTEXT only (no TLS, no SASL)");
      else
        rc = invalid(err, s, raw, "String must be one of (case insensitive): PLAINTEXT, SSL, "
                                  "SASL_PLAINTEXT, SASL_SSL");
      break;
    }
    case K_SERVERS: {
      char **list = NULL;
      int n = 0;
      if ((rc = parse_servers(s, t, &list, &n, err))) break;
      free_servers(cfg->bootstrap_servers, cfg->num_bootstrap_servers);
      cfg->bootstrap_servers = list;
      cfg->num_bootstrap_servers = n;
      break;
    }
    case K_SERIALIZER: {
      const struct mk_serializer *found = mk_serializer_find(t);
      if (!found) found = known_custom_serializer(cfg, t);
      if (!found) {
        rc = invalid(err, s, raw, "Class %.60s could not be found (use a Kafka serializer such "
                                  "as StringSerializer, or set one from C)", t);
        break;
      }
      *(const struct mk_serializer **)p = found;
      break;
    }
    case K_PARTITIONER: {
      const char *builtin = mk_partitioner_builtin_class(t);
      if (!*t) {  /* empty: back to the built-in partitioning (Java's null) */
        free(cfg->partitioner_class);
        cfg->partitioner_class = NULL;
        cfg->partitioner = NULL;
      } else if (builtin) {
        char *copy = strdup(builtin);
        if (!copy) {
          rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory setting %s", s->name);
          break;
        }
        free(cfg->partitioner_class);
        cfg->partitioner_class = copy;
        cfg->partitioner = NULL;
      } else if (cfg->partitioner && strcmp(cfg->partitioner->name, t) == 0) {
        /* the custom partitioner set from C, named again: nothing changes */
      } else {
        rc = invalid(err, s, raw, "Class %.60s could not be found (built-ins: "
                                  "RoundRobinPartitioner, StickyPartitioner; or set one from C)",
                     t);
      }
      break;
    }
    case K_INTERCEPTORS: {
      char names[512];
      interceptor_names(cfg, names, sizeof names);
      if (!*t)
        cfg->num_interceptors = 0;
      else if (strcmp(t, names) != 0)
        rc = invalid(err, s, raw, "Java classes cannot be loaded; register interceptors from C "
                                  "with mk_producer_config_add_interceptor");
      break;
    }
  }
  free(t);
  return rc;
}

/* Put a setting back to Kafka's default. */
static void reset_to_default(struct mk_producer_config *cfg, const struct setting *s) {
  if (s->dflt) {
    int rc = apply(cfg, s, s->dflt, NULL);
    assert(rc == 0 || rc == MK_ERR__NO_MEMORY);
    (void)rc;
    return;
  }
  switch (s->kind) {
    case K_SERVERS:
      free_servers(cfg->bootstrap_servers, cfg->num_bootstrap_servers);
      cfg->bootstrap_servers = NULL;
      cfg->num_bootstrap_servers = 0;
      break;
    case K_TXN_ID:
    case K_STRING:
      free(*(char **)field(cfg, s));
      *(char **)field(cfg, s) = NULL;
      break;
    case K_SERIALIZER:
      *(const struct mk_serializer **)field(cfg, s) = NULL;
      break;
    case K_PARTITIONER:
      free(cfg->partitioner_class);
      cfg->partitioner_class = NULL;
      cfg->partitioner = NULL;
      break;
    default:
      assert(!"every other kind has a default");
  }
}

/* ---- creating, copying, freeing --------------------------------------------------------- */

struct mk_producer_config *mk_producer_config_new(void) {
  struct mk_producer_config *cfg = calloc(1, sizeof *cfg);
  if (!cfg) return NULL;
  for (int i = 0; i < NUM_SETTINGS; i++) reset_to_default(cfg, &settings[i]);
  if (!cfg->client_id) {  /* the only allocation a default needs */
    mk_producer_config_free(cfg);
    return NULL;
  }
  return cfg;
}

void mk_producer_config_free(struct mk_producer_config *cfg) {
  if (!cfg) return;
  free_servers(cfg->bootstrap_servers, cfg->num_bootstrap_servers);
  free(cfg->client_id);
  free(cfg->transactional_id);
  free(cfg->partitioner_class);
  free(cfg->schema_registry_url);
  free(cfg);
}

struct mk_producer_config *mk_producer_config_dup(const struct mk_producer_config *cfg) {
  struct mk_producer_config *c = malloc(sizeof *c);
  if (!c) return NULL;
  *c = *cfg;
  c->bootstrap_servers = NULL;
  c->num_bootstrap_servers = 0;
  c->client_id = c->transactional_id = c->partitioner_class = c->schema_registry_url = NULL;
  bool ok = true;
  if (cfg->num_bootstrap_servers) {
    c->bootstrap_servers = calloc((size_t)cfg->num_bootstrap_servers, sizeof(char *));
    ok = c->bootstrap_servers != NULL;
    for (int i = 0; ok && i < cfg->num_bootstrap_servers; i++) {
      c->bootstrap_servers[i] = strdup(cfg->bootstrap_servers[i]);
      ok = c->bootstrap_servers[i] != NULL;
      c->num_bootstrap_servers = i + 1;
    }
  }
  if (ok && cfg->client_id) ok = (c->client_id = strdup(cfg->client_id)) != NULL;
  if (ok && cfg->transactional_id)
    ok = (c->transactional_id = strdup(cfg->transactional_id)) != NULL;
  if (ok && cfg->partitioner_class)
    ok = (c->partitioner_class = strdup(cfg->partitioner_class)) != NULL;
  if (ok && cfg->schema_registry_url)
    ok = (c->schema_registry_url = strdup(cfg->schema_registry_url)) != NULL;
  if (!ok) {
    mk_producer_config_free(c);
    return NULL;
  }
  return c;
}

/* ---- setting ---------------------------------------------------------------------------- */

int mk_producer_config_set(struct mk_producer_config *cfg, const char *key, const char *value,
                           struct mk_err *err) {
  const struct setting *s = find(key);
  if (!s) return unknown_key(key ? key : "(null)", err);
  if (!value) {
    reset_to_default(cfg, s);
    cfg->user_set_ &= ~bit(s);
  } else {
    int rc = apply(cfg, s, value, err);
    if (rc) return rc;
    cfg->user_set_ |= bit(s);
  }
  cfg->adjusted_ &= ~bit(s);
  cfg->finished = false;
  return 0;
}

bool mk_producer_config_is_set(const struct mk_producer_config *cfg, const char *key) {
  const struct setting *s = find(key);
  return s && (cfg->user_set_ & bit(s));
}

int mk_producer_config_set_key_serializer(struct mk_producer_config *cfg,
                                          const struct mk_serializer *s, struct mk_err *err) {
  if (!s || !s->serialize || !s->name)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "key.serializer: a serializer needs a name and "
                                                "a serialize function");
  cfg->key_serializer = s;
  cfg->user_set_ |= bit(find("key.serializer"));
  cfg->finished = false;
  return 0;
}

int mk_producer_config_set_value_serializer(struct mk_producer_config *cfg,
                                            const struct mk_serializer *s, struct mk_err *err) {
  if (!s || !s->serialize || !s->name)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "value.serializer: a serializer needs a name "
                                                "and a serialize function");
  cfg->value_serializer = s;
  cfg->user_set_ |= bit(find("value.serializer"));
  cfg->finished = false;
  return 0;
}

void mk_producer_config_set_host_resolver(struct mk_producer_config *cfg,
                                          const struct mk_host_resolver *r) {
  cfg->host_resolver = r;
}

int mk_producer_config_set_partitioner(struct mk_producer_config *cfg,
                                       const struct mk_partitioner *p, struct mk_err *err) {
  if (!p || !p->partition || !p->name)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "partitioner.class: a partitioner needs a name "
                                                "and a partition function");
  char *name = strdup(p->name);
  if (!name) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory setting partitioner.class");
  free(cfg->partitioner_class);
  cfg->partitioner_class = name;
  cfg->partitioner = p;
  cfg->user_set_ |= bit(find("partitioner.class"));
  cfg->finished = false;
  return 0;
}

int mk_producer_config_add_interceptor(struct mk_producer_config *cfg,
                                       const struct mk_producer_interceptor *interceptor,
                                       struct mk_err *err) {
  if (!interceptor || !interceptor->name)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "interceptor.classes: an interceptor needs a "
                                                "name");
  if (cfg->num_interceptors == MK_PRODUCER_MAX_INTERCEPTORS)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "interceptor.classes: at most %d interceptors",
                      MK_PRODUCER_MAX_INTERCEPTORS);
  cfg->interceptors[cfg->num_interceptors++] = interceptor;
  cfg->user_set_ |= bit(find("interceptor.classes"));
  cfg->finished = false;
  return 0;
}

/* ---- listing ---------------------------------------------------------------------------- */

static const char *type_name(enum kind k) {
  switch (k) {
    case K_INT:
    case K_GZIP_LEVEL: return "int";
    case K_LONG: return "long";
    case K_BOOL: return "boolean";
    case K_SERVERS:
    case K_INTERCEPTORS: return "list";
    case K_SERIALIZER:
    case K_PARTITIONER: return "class";
    default: return "string";
  }
}

/* The value as text set() accepts ("null" for an unset optional class or string). */
static void format_value(const struct mk_producer_config *cfg, const struct setting *s,
                         char *buf, size_t size) {
  const void *p = (const char *)cfg + s->offset;
  switch (s->kind) {
    case K_INT:
    case K_GZIP_LEVEL: snprintf(buf, size, "%d", *(const int32_t *)p); break;
    case K_LONG: snprintf(buf, size, "%lld", (long long)*(const int64_t *)p); break;
    case K_BOOL: snprintf(buf, size, "%s", *(const bool *)p ? "true" : "false"); break;
    case K_ACKS: snprintf(buf, size, "%d", cfg->acks); break;  /* Java prints "all" as -1 */
    case K_CHOICE: snprintf(buf, size, "%s", s->choices[*(const int *)p]); break;
    case K_SECURITY: snprintf(buf, size, "%s", security_protocols[*(const int *)p]); break;
    case K_STRING:
    case K_TXN_ID:
    case K_PARTITIONER: {
      const char *str = *(char *const *)p;
      snprintf(buf, size, "%s", str ? str : "null");
      break;
    }
    case K_SERIALIZER: {
      const struct mk_serializer *ser = *(const struct mk_serializer *const *)p;
      snprintf(buf, size, "%s", !ser ? "null" : ser->class_name ? ser->class_name : ser->name);
      break;
    }
    case K_SERVERS:
      buf[0] = '\0';
      for (int i = 0; i < cfg->num_bootstrap_servers; i++) {
        if (i) strncat(buf, ",", size - strlen(buf) - 1);
        strncat(buf, cfg->bootstrap_servers[i], size - strlen(buf) - 1);
      }
      break;
    case K_INTERCEPTORS: interceptor_names(cfg, buf, size); break;
  }
}

void mk_producer_config_each(const struct mk_producer_config *cfg, mk_producer_config_each_fn fn,
                             void *opaque) {
  char value[1024];
  for (int i = 0; i < NUM_SETTINGS; i++) {
    const struct setting *s = &settings[i];
    format_value(cfg, s, value, sizeof value);
    struct mk_config_entry e = {
        .key = s->name,
        .value = value,
        .source = (cfg->adjusted_ & bit(s))   ? MK_CONFIG_ADJUSTED
                  : (cfg->user_set_ & bit(s)) ? MK_CONFIG_SET
                                              : MK_CONFIG_DEFAULT,
        .type = type_name(s->kind),
        .doc = s->doc,
    };
    fn(opaque, &e);
  }
}

int mk_producer_config_get(const struct mk_producer_config *cfg, const char *key, char *buf,
                           size_t size, struct mk_err *err) {
  const struct setting *s = find(key);
  if (!s) return unknown_key(key ? key : "(null)", err);
  if (size) format_value(cfg, s, buf, size);
  return 0;
}

/* ---- finish: the rules across settings -------------------------------------------------- */

static void note(struct mk_producer_config *cfg, enum mk_log_level level, const char *key,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void note(struct mk_producer_config *cfg, enum mk_log_level level, const char *key,
                 const char *fmt, ...) {
  if (cfg->num_notes == MK_PRODUCER_CONFIG_MAX_NOTES) return;
  struct mk_config_note *n = &cfg->notes[cfg->num_notes++];
  n->level = level;
  snprintf(n->key, sizeof n->key, "%s", key);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(n->msg, sizeof n->msg, fmt, ap);
  va_end(ap);
}

static void mark_adjusted(struct mk_producer_config *cfg, const char *key) {
  cfg->adjusted_ |= bit(find(key));
}

/* ProducerConfig.postProcessAndValidateIdempotenceConfigs. */
static int idempotence_rules(struct mk_producer_config *cfg, struct mk_err *err) {
  bool user_set = mk_producer_config_is_set(cfg, "enable.idempotence");
  bool disable = false;
  if (!cfg->enable_idempotence) return 0;
  if (cfg->retries == 0) {
    if (user_set)
      return mk_err_set(err, MK_ERR__INVALID_ARG,
                        "Must set retries to non-zero when using the idempotent producer.");
    note(cfg, MK_LOG_INFO, "enable.idempotence",
         "Idempotence will be disabled because retries is set to 0.");
    disable = true;
  }
  if (cfg->acks != -1) {
    if (user_set)
      return mk_err_set(err, MK_ERR__INVALID_ARG,
                        "Must set acks to all in order to use the idempotent producer. "
                        "Otherwise we cannot guarantee idempotence.");
    note(cfg, MK_LOG_INFO, "enable.idempotence",
         "Idempotence will be disabled because acks is set to %d, not set to 'all'.", cfg->acks);
    disable = true;
  }
  /* Kafka 4.0 (KAFKA-17927): an error even when idempotence was only defaulted on, and
   * checked before a conflict above turns it off (so acks=1 with 6 in flight fails too). */
  if (cfg->max_in_flight_requests_per_connection > 5)
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "To use the idempotent producer, max.in.flight.requests.per.connection "
                      "must be set to at most 5. Current value is %d.",
                      cfg->max_in_flight_requests_per_connection);
  if (disable) {
    cfg->enable_idempotence = false;
    mark_adjusted(cfg, "enable.idempotence");
    cfg->idempotence_adjusted = true;
    /* The reason: the INFO line(s) just noted, joined. */
    cfg->idempotence_adjusted_reason[0] = '\0';
    for (int i = 0; i < cfg->num_notes; i++) {
      if (strcmp(cfg->notes[i].key, "enable.idempotence") != 0) continue;
      size_t used = strlen(cfg->idempotence_adjusted_reason);
      snprintf(cfg->idempotence_adjusted_reason + used,
               sizeof cfg->idempotence_adjusted_reason - used, "%s%s", used ? " " : "",
               cfg->notes[i].msg);
    }
  }
  return 0;
}

int mk_producer_config_finish(struct mk_producer_config *cfg, struct mk_err *err) {
  /* Start from the user's settings: undo what an earlier finish() adjusted. */
  for (int i = 0; i < NUM_SETTINGS; i++)
    if (cfg->adjusted_ & bit(&settings[i])) reset_to_default(cfg, &settings[i]);
  cfg->adjusted_ = 0;
  cfg->num_notes = 0;
  cfg->idempotence_adjusted = false;
  cfg->idempotence_adjusted_reason[0] = '\0';
  cfg->finished = false;

  /* ConfigDef.parse: settings without a default must be given. */
  for (int i = 0; i < NUM_SETTINGS; i++) {
    const struct setting *s = &settings[i];
    bool missing = s->required &&
                   (s->kind == K_SERVERS ? cfg->num_bootstrap_servers == 0
                                         : *(const struct mk_serializer **)field(cfg, s) == NULL);
    if (missing)
      return mk_err_set(err, MK_ERR__INVALID_ARG,
                        "Missing required configuration \"%s\" which has no default value.",
                        s->name);
  }

  /* CommonClientConfigs.warnDisablingExponentialBackoff */
  if (cfg->retry_backoff_ms > cfg->retry_backoff_max_ms)
    note(cfg, MK_LOG_WARN, "retry.backoff.ms",
         "Configuration 'retry.backoff.ms' with value '%lld' is greater than configuration "
         "'retry.backoff.max.ms' with value '%lld'. A static backoff with value '%lld' will be "
         "applied.", (long long)cfg->retry_backoff_ms, (long long)cfg->retry_backoff_max_ms,
         (long long)cfg->retry_backoff_max_ms);

  /* CommonClientConfigs.postProcessReconnectBackoffConfigs */
  if (mk_producer_config_is_set(cfg, "reconnect.backoff.ms") &&
      !mk_producer_config_is_set(cfg, "reconnect.backoff.max.ms")) {
    cfg->reconnect_backoff_max_ms = cfg->reconnect_backoff_ms;
    mark_adjusted(cfg, "reconnect.backoff.max.ms");
    note(cfg, MK_LOG_WARN, "reconnect.backoff.max.ms",
         "Disabling exponential reconnect backoff because reconnect.backoff.ms is set, but "
         "reconnect.backoff.max.ms is not.");
  }

  int rc = idempotence_rules(cfg, err);
  if (rc) return rc;

  /* A transactional producer is an idempotent one. */
  if (cfg->transactional_id && !cfg->enable_idempotence)
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "Cannot set a transactional.id without also enabling idempotence.");

  /* ProducerConfig.maybeOverrideClientId */
  if (!mk_producer_config_is_set(cfg, "client.id")) {
    char id[256];
    if (cfg->transactional_id) {
      snprintf(id, sizeof id, "producer-%s", cfg->transactional_id);
    } else {
      if (!cfg->client_id_seq_) cfg->client_id_seq_ = atomic_fetch_add(&client_id_sequence, 1);
      snprintf(id, sizeof id, "producer-%d", cfg->client_id_seq_);
    }
    char *copy = strdup(id);
    if (!copy) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory setting client.id");
    free(cfg->client_id);
    cfg->client_id = copy;
    mark_adjusted(cfg, "client.id");
  }

  /* KafkaProducer.configureDeliveryTimeout (linger.ms counts as at most INT32_MAX) */
  int64_t linger = cfg->linger_ms < INT32_MAX ? cfg->linger_ms : INT32_MAX;
  int64_t floor = linger + cfg->request_timeout_ms;
  if (floor > INT32_MAX) floor = INT32_MAX;
  if (cfg->delivery_timeout_ms < floor) {
    if (mk_producer_config_is_set(cfg, "delivery.timeout.ms"))
      return mk_err_set(err, MK_ERR__INVALID_ARG,
                        "delivery.timeout.ms should be equal to or larger than linger.ms + "
                        "request.timeout.ms");
    cfg->delivery_timeout_ms = (int32_t)floor;
    mark_adjusted(cfg, "delivery.timeout.ms");
    note(cfg, MK_LOG_WARN, "delivery.timeout.ms",
         "delivery.timeout.ms should be equal to or larger than linger.ms + request.timeout.ms. "
         "Setting it to %lld.", (long long)floor);
  }

  cfg->finished = true;
  return 0;
}

/* ---- .properties files (common/properties.h reads them) ------------------------------- */

static int set_property(void *cfg, const char *key, const char *value, struct mk_err *err) {
  return mk_producer_config_set(cfg, key, value, err);
}

int mk_producer_config_load_string(struct mk_producer_config *cfg, const char *text,
                                   size_t len, const char *origin, struct mk_err *err) {
  /* All or nothing: load into a copy, keep it only if every line was accepted. */
  struct mk_producer_config *tmp = mk_producer_config_dup(cfg);
  if (!tmp) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory reading properties");
  int rc = mk_properties_parse(text, len, origin, set_property, tmp, err);
  if (rc == 0) {
    struct mk_producer_config old = *cfg;
    *cfg = *tmp;
    *tmp = old;
  }
  mk_producer_config_free(tmp);
  return rc;
}

int mk_producer_config_load_file(struct mk_producer_config *cfg, const char *path,
                                 struct mk_err *err) {
  /* All or nothing, as load_string: parse into a copy. */
  struct mk_producer_config *tmp = mk_producer_config_dup(cfg);
  if (!tmp) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory reading properties");
  int rc = mk_properties_parse_file(path, set_property, tmp, err);
  if (rc == 0) {
    struct mk_producer_config old = *cfg;
    *cfg = *tmp;
    *tmp = old;
  }
  mk_producer_config_free(tmp);
  return rc;
}
