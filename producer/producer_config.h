/*
 * Producer config: Kafka's producer settings by name, with Java's types, defaults and checks.
 * Kafka: clients/.../producer/ProducerConfig.java (the definitions and
 * postProcessParsedConfig), KafkaProducer.java (configureDeliveryTimeout), ConfigDef.java
 * (parsing and the error sentences), CommonClientConfigs.java. Note 002's options table.
 *
 * The life of a config, as in Java (Properties -> new ProducerConfig(props)):
 *
 *   cfg = mk_producer_config_new()             every setting at Kafka's default
 *   mk_producer_config_set(cfg, "acks", "1")   parse and check one value (ConfigDef.parse);
 *   mk_producer_config_load_file(cfg, path)      or a whole .properties file (--producer.config)
 *   mk_producer_config_set_key_serializer(...)   plug-ins written in C
 *   mk_producer_config_finish(cfg)             the rules that look at several settings at once,
 *                                                and the "implicit defaults" Java adjusts
 *   ... the producer reads the typed fields below ...
 *   mk_producer_config_free(cfg)
 *
 * What finish() does, in Java's order:
 *   - required settings: bootstrap.servers, key.serializer, value.serializer
 *   - retry.backoff.ms > retry.backoff.max.ms: warn (the backoff stays at the max)
 *   - reconnect.backoff.ms set but not reconnect.backoff.max.ms: max = reconnect.backoff.ms
 *   - idempotence (enable.idempotence defaults to true since Kafka 3.0) needs acks=all,
 *     retries > 0 and max.in.flight.requests.per.connection <= 5. If the user set
 *     enable.idempotence, a conflict is an error naming the setting. If not, a conflicting
 *     acks or retries quietly turns idempotence off (Java logs it at INFO; here
 *     idempotence_adjusted and a note say why). Since Kafka 4.0 (KAFKA-17927) max.in.flight
 *     > 5 is an error whenever idempotence is on at that point, set or defaulted.
 *   - transactional.id needs idempotence.
 *   - client.id not set: "producer-<transactional.id>" or "producer-<n>" (n = 1, 2, ... per
 *     process).
 *   - delivery.timeout.ms < linger.ms + request.timeout.ms: an error if the user set it, else
 *     raised to that sum (Java warns).
 *
 * One difference from Java, on purpose: an unknown key is an error (Java only warns that the
 * setting "was supplied but isn't a known config"), with a suggestion for near misses such
 * as note 000's "max.inflight.requests.per.connection".
 *
 * Errors are MK_ERR__INVALID_ARG with Java's ConfigException sentence, which always names the
 * key: "Invalid value abc for configuration linger.ms: Not a number of type LONG".
 *
 * Thread: a config is built by one thread; after finish() it is read-only and may be read by
 * any thread. Every string field is owned by the config.
 */
#ifndef MK_PRODUCER_PRODUCER_CONFIG_H
#define MK_PRODUCER_PRODUCER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/log.h"
#include "protocol/errors.h"

struct mk_serializer;    /* producer/serializers.h */
struct mk_partitioner;   /* producer/partitioner.h */
struct mk_producer_record;   /* the record being sent (ProducerRecord) */
struct mk_record_metadata;   /* where it was written (RecordMetadata) */

/* client.dns.lookup */
enum mk_client_dns_lookup {
  MK_CLIENT_DNS_USE_ALL_DNS_IPS,  /* each attempt: the next address of the name's family */
  MK_CLIENT_DNS_RESOLVE_CANONICAL_BOOTSTRAP_SERVERS_ONLY,  /* bootstrap entries become the
                                                             canonical names of their addresses */
};

/* How host names become addresses: Kafka's HostResolver (clients/HostResolver.java), which
 * Kafka's own tests replace; labs and tests here do the same (labs/bootstrap). The default
 * (host_resolver NULL) is the system's resolver, getaddrinfo, with IPv4 addresses first as
 * the JVM orders them. producer/client_utils.h says what the producer does with the
 * answers under each client.dns.lookup. */
struct mk_host_resolver {
  void *opaque;  /* passed to both functions */
  /* Every address of host (the port is ignored), in the order the resolver prefers, up to
   * max into out; returns how many, or -1 with err set (unknown host). Thread: app (when
   * the producer is created) and sender (at every connection): keep it quick. */
  int (*resolve)(void *opaque, const char *host, struct sockaddr_storage *out, int max,
                 struct mk_err *err);
  /* The canonical host name of addr (Java's InetAddress.getCanonicalHostName: the name a
   * reverse lookup gives, else the address as text) into name. May be NULL: the address
   * as text. Thread: app. */
  void (*canonical_name)(void *opaque, const struct sockaddr_storage *addr, char *name,
                         size_t size);
};

/* A producer interceptor written in C (Java's ProducerInterceptor; interceptor.classes).
 * Note 000 section 7. The producer calls every registered interceptor, in order. */
struct mk_producer_interceptor {
  const char *name;  /* shown in interceptor.classes */
  void *opaque;      /* passed to every function below */
  /* onSend: before the key and value are serialized; may change the record. May be NULL.
   * Thread: app. */
  void (*on_send)(void *opaque, struct mk_producer_record *record);
  /* onAcknowledgement: when the send completed, with err->code 0 on success. May be NULL.
   * Thread: sender (keep it quick: it delays every other completion). */
  void (*on_acknowledgement)(void *opaque, const struct mk_record_metadata *metadata,
                             const struct mk_err *err);
  /* close: the producer is closing. May be NULL. */
  void (*close)(void *opaque);
};

#define MK_PRODUCER_MAX_INTERCEPTORS 8
#define MK_PRODUCER_CONFIG_MAX_NOTES 8

/* Something finish() adjusted or warned about, as Java would log it. */
struct mk_config_note {
  enum mk_log_level level;  /* MK_LOG_INFO or MK_LOG_WARN: Java's level for the same line */
  char key[48];             /* the setting it is about */
  char msg[200];
};

/* The settings. Set them by name with mk_producer_config_set; read them directly. */
struct mk_producer_config {
  /* where the cluster is */
  char **bootstrap_servers;       /* bootstrap.servers: "host:port" list; required */
  int num_bootstrap_servers;
  char *client_id;                /* client.id: finish() fills in "producer-N" if unset */
  int client_dns_lookup;          /* client.dns.lookup: enum mk_client_dns_lookup */
  const struct mk_host_resolver *host_resolver;  /* NULL: the system's; set from C, borrowed */
  int security_protocol;          /* security.protocol: always 0, PLAINTEXT (nothing else) */

  /* durability, retries, ordering */
  int16_t acks;                   /* acks: -1 (= "all"), 0 or 1 */
  bool enable_idempotence;        /* enable.idempotence */
  char *transactional_id;         /* transactional.id: NULL = not transactional */
  int32_t transaction_timeout_ms; /* transaction.timeout.ms */
  int32_t retries;                /* retries */
  int64_t retry_backoff_ms;       /* retry.backoff.ms: first retry's backoff */
  int64_t retry_backoff_max_ms;   /* retry.backoff.max.ms: exponential backoff's cap */
  int32_t delivery_timeout_ms;    /* delivery.timeout.ms: send() to callback, all retries */
  int32_t request_timeout_ms;     /* request.timeout.ms: one request's wait for its response */
  int32_t max_in_flight_requests_per_connection; /* max.in.flight.requests.per.connection */

  /* batching, memory, compression */
  int32_t batch_size;             /* batch.size: bytes; 0 means 1 (no batching) */
  int64_t linger_ms;              /* linger.ms: the accumulator uses min(this, INT32_MAX) */
  int64_t buffer_memory;          /* buffer.memory: bytes for records waiting to be sent */
  int64_t max_block_ms;           /* max.block.ms: send()'s wait for metadata or memory */
  int32_t max_request_size;       /* max.request.size: bytes */
  int compression_type;           /* compression.type: enum mk_compression */
  int32_t compression_gzip_level; /* compression.gzip.level: 1..9, or -1 (zlib's 6) */
  int32_t compression_lz4_level;  /* compression.lz4.level: 1..17 */
  int32_t compression_zstd_level; /* compression.zstd.level: -131072..22 */

  /* partitioning */
  char *partitioner_class;        /* partitioner.class: NULL = built-in (uniform sticky) */
  const struct mk_partitioner *partitioner;  /* the custom one named by partitioner_class,
                                                when set from C; borrowed */
  bool partitioner_adaptive_partitioning_enable;  /* partitioner.adaptive.partitioning.enable */
  int64_t partitioner_availability_timeout_ms;    /* partitioner.availability.timeout.ms */
  bool partitioner_ignore_keys;                   /* partitioner.ignore.keys */

  /* metadata and connections */
  int64_t metadata_max_age_ms;    /* metadata.max.age.ms: refresh metadata at least this often */
  int64_t metadata_max_idle_ms;   /* metadata.max.idle.ms: forget idle topics after this */
  int64_t reconnect_backoff_ms;   /* reconnect.backoff.ms */
  int64_t reconnect_backoff_max_ms;  /* reconnect.backoff.max.ms */
  int64_t connections_max_idle_ms;   /* connections.max.idle.ms */
  int32_t send_buffer_bytes;      /* send.buffer.bytes: SO_SNDBUF; -1 = the OS default */
  int32_t receive_buffer_bytes;   /* receive.buffer.bytes: SO_RCVBUF; -1 = the OS default */

  /* serializers and interceptors (borrowed: they must outlive the producer) */
  const struct mk_serializer *key_serializer;    /* key.serializer; required */
  const struct mk_serializer *value_serializer;  /* value.serializer; required */
  const struct mk_producer_interceptor *interceptors[MK_PRODUCER_MAX_INTERCEPTORS];
  int num_interceptors;                          /* interceptor.classes */

  /* AvroSerializer's settings (Confluent's AbstractKafkaSchemaSerDeConfig; Java passes every
   * producer setting to Serializer.configure, so they live here; producer/avro_serializer.h) */
  char *schema_registry_url;      /* schema.registry.url: NULL = not set */
  bool auto_register_schemas;     /* auto.register.schemas */
  bool use_latest_version;        /* use.latest.version */
  bool normalize_schemas;         /* normalize.schemas */

  /* what finish() did */
  bool finished;                  /* finish() succeeded and nothing was set since */
  bool idempotence_adjusted;      /* enable.idempotence was defaulted on, and turned off */
  char idempotence_adjusted_reason[200];  /* why, as Java's INFO line says it */
  struct mk_config_note notes[MK_PRODUCER_CONFIG_MAX_NOTES];  /* every adjustment/warning */
  int num_notes;

  /* private to producer_config.c */
  uint64_t user_set_;   /* bit i: setting i was given by the user (Java's originals()) */
  uint64_t adjusted_;   /* bit i: setting i was changed by finish() */
  int client_id_seq_;   /* the n in "producer-n" once assigned */
};

/* Where a setting's value came from, for listings. */
enum mk_config_source {
  MK_CONFIG_DEFAULT,   /* Kafka's default */
  MK_CONFIG_SET,       /* given by the user */
  MK_CONFIG_ADJUSTED,  /* changed by finish() (an implicit default, as Java adjusts it) */
};

/* One line of a listing. */
struct mk_config_entry {
  const char *key;      /* "linger.ms" */
  const char *value;    /* in the form set() accepts; "null" for an unset optional one */
  enum mk_config_source source;
  const char *type;     /* Java's type: "int", "long", "boolean", "string", "list", "class" */
  const char *doc;      /* one line: what it does */
};

/* A config at Kafka's defaults (bootstrap.servers, key.serializer and value.serializer have
 * none: finish() insists on them). Returns NULL only when out of memory. Thread: any.
 * Free with mk_producer_config_free. */
struct mk_producer_config *mk_producer_config_new(void);
void mk_producer_config_free(struct mk_producer_config *cfg);

/* A deep copy (plug-ins stay borrowed), or NULL when out of memory. Thread: any.
 * Returns new: free with mk_producer_config_free. */
struct mk_producer_config *mk_producer_config_dup(const struct mk_producer_config *cfg);

/* Set one setting by its Kafka name, parsing value as Java does: surrounding whitespace
 * trimmed; numbers in decimal within the type's range; booleans true/false in any case;
 * lists comma-separated; enumerations exactly as Kafka spells them (acks: all, -1, 0, 1).
 * value NULL puts the setting back to its default (as if never set). Returns 0, or
 * MK_ERR__INVALID_ARG with err naming the key and what it accepts; the config is unchanged
 * on error. Thread: app (the config's builder). Borrows key and value. */
int mk_producer_config_set(struct mk_producer_config *cfg, const char *key, const char *value,
                           struct mk_err *err);

/* Whether the user gave this setting (Java's originals().containsKey). Thread: any. */
bool mk_producer_config_is_set(const struct mk_producer_config *cfg, const char *key);

/* A setting's current value as text (as listed by mk_producer_config_each) into buf.
 * Returns 0, or MK_ERR__INVALID_ARG for an unknown key. Thread: any. */
int mk_producer_config_get(const struct mk_producer_config *cfg, const char *key, char *buf,
                           size_t size, struct mk_err *err);

/* Apply the multi-setting rules listed at the top of this file. Returns 0, or
 * MK_ERR__INVALID_ARG with Java's sentence (which names the setting). May be called again
 * after more set() calls: it starts from the user's settings each time. Thread: app. */
int mk_producer_config_finish(struct mk_producer_config *cfg, struct mk_err *err);

/* Read a Java .properties file (kafka-console-producer's --producer.config): key=value or
 * key:value or "key value" lines, # and ! comments, blank lines, backslash continuation lines
 * and escapes (\t \n \r \f \uXXXX). Every line goes through mk_producer_config_set. All or
 * nothing: on an error nothing is applied and err says "path:line: ...". The file is read as
 * UTF-8 (Java reads ISO-8859-1; only non-ASCII text differs). Thread: app. Borrows path. */
int mk_producer_config_load_file(struct mk_producer_config *cfg, const char *path,
                                 struct mk_err *err);

/* The same, from memory; origin names the text in errors ("<string>", a file name).
 * Borrows text and origin. */
int mk_producer_config_load_string(struct mk_producer_config *cfg, const char *text,
                                   size_t len, const char *origin, struct mk_err *err);

/* Call fn once per setting, in alphabetical order (as Java's "ProducerConfig values:" log).
 * entry and its strings are valid only during the call. Thread: any. Borrows opaque. */
typedef void (*mk_producer_config_each_fn)(void *opaque, const struct mk_config_entry *entry);
void mk_producer_config_each(const struct mk_producer_config *cfg, mk_producer_config_each_fn fn,
                             void *opaque);

/* Plug-ins written in C (Java's KafkaProducer(props, keySerializer, valueSerializer) and
 * configured classes). Each counts as set by the user; its name becomes the setting's value,
 * and set(key, that name) selects it again. Each returns 0 or MK_ERR__INVALID_ARG (NULL, or
 * too many interceptors). Thread: app. Borrows the plug-in until the config and every
 * producer made from it are freed. */
int mk_producer_config_set_key_serializer(struct mk_producer_config *cfg,
                                          const struct mk_serializer *s, struct mk_err *err);
int mk_producer_config_set_value_serializer(struct mk_producer_config *cfg,
                                            const struct mk_serializer *s, struct mk_err *err);
int mk_producer_config_set_partitioner(struct mk_producer_config *cfg,
                                       const struct mk_partitioner *p, struct mk_err *err);
int mk_producer_config_add_interceptor(struct mk_producer_config *cfg,
                                       const struct mk_producer_interceptor *interceptor,
                                       struct mk_err *err);
/* Resolve host names with r instead of the system's resolver (NULL: the system's again).
 * Borrows r as the plug-ins above. Thread: app. */
void mk_producer_config_set_host_resolver(struct mk_producer_config *cfg,
                                          const struct mk_host_resolver *r);

#endif
