/*
 * Tests for producer/producer_config.c: Kafka's defaults, Java's parsing and error sentences
 * (each naming its key), the idempotence rules (explicit vs implicit), the other implicit
 * adjustments, .properties files, plug-ins set from C, listing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "producer/partitioner.h"
#include "producer/producer_config.h"
#include "producer/serializers.h"
#include "protocol/compression.h"

static struct mk_producer_config *new_config(void) {
  struct mk_producer_config *cfg = mk_producer_config_new();
  assert_non_null(cfg);
  return cfg;
}

/* A config finish() accepts: the three settings Kafka requires. */
static struct mk_producer_config *minimal_config(void) {
  struct mk_producer_config *cfg = new_config();
  struct mk_err err = {0};
  assert_int_equal(mk_producer_config_set(cfg, "bootstrap.servers", "localhost:9092", &err), 0);
  assert_int_equal(mk_producer_config_set(cfg, "key.serializer", "StringSerializer", &err), 0);
  assert_int_equal(mk_producer_config_set(cfg, "value.serializer", "StringSerializer", &err), 0);
  return cfg;
}

static void set_ok(struct mk_producer_config *cfg, const char *key, const char *value) {
  struct mk_err err = {0};
  int rc = mk_producer_config_set(cfg, key, value, &err);
  if (rc) fail_msg("set %s=%s: %s", key, value ? value : "(NULL: the default)", err.msg);
}

static const char *get(const struct mk_producer_config *cfg, const char *key) {
  static char buf[1024];
  struct mk_err err = {0};
  assert_int_equal(mk_producer_config_get(cfg, key, buf, sizeof buf, &err), 0);
  return buf;
}

static void assert_contains(const char *haystack, const char *needle) {
  if (!strstr(haystack, needle)) fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

/* ---- listing helpers -------------------------------------------------------------------- */

struct listing {
  int count;
  char keys[64][64];
  char values[64][256];
  enum mk_config_source sources[64];
};

static void collect(void *opaque, const struct mk_config_entry *e) {
  struct listing *l = opaque;
  assert_true(l->count < 64);
  snprintf(l->keys[l->count], sizeof l->keys[0], "%s", e->key);
  snprintf(l->values[l->count], sizeof l->values[0], "%s", e->value);
  l->sources[l->count] = e->source;
  assert_non_null(e->doc);
  assert_non_null(e->type);
  l->count++;
}

static enum mk_config_source source_of(const struct mk_producer_config *cfg, const char *key) {
  struct listing l = {0};
  mk_producer_config_each(cfg, collect, &l);
  for (int i = 0; i < l.count; i++)
    if (strcmp(l.keys[i], key) == 0) return l.sources[i];
  fail_msg("%s is not listed", key);
  return MK_CONFIG_DEFAULT;
}

/* ---- defaults --------------------------------------------------------------------------- */

static void test_every_default_is_kafkas(void **state) {
  (void)state;
  struct mk_producer_config *cfg = new_config();
  assert_int_equal(cfg->num_bootstrap_servers, 0);
  assert_string_equal(cfg->client_id, "");
  assert_int_equal(cfg->client_dns_lookup, MK_CLIENT_DNS_USE_ALL_DNS_IPS);
  assert_int_equal(cfg->security_protocol, 0);
  assert_int_equal(cfg->acks, -1);
  assert_true(cfg->enable_idempotence);
  assert_null(cfg->transactional_id);
  assert_int_equal(cfg->transaction_timeout_ms, 60000);
  assert_int_equal(cfg->retries, INT32_MAX);
  assert_int_equal(cfg->retry_backoff_ms, 100);
  assert_int_equal(cfg->retry_backoff_max_ms, 1000);
  assert_int_equal(cfg->delivery_timeout_ms, 120000);
  assert_int_equal(cfg->request_timeout_ms, 30000);
  assert_int_equal(cfg->max_in_flight_requests_per_connection, 5);
  assert_int_equal(cfg->batch_size, 16384);
  assert_int_equal(cfg->linger_ms, 5);  /* KIP-1030: 0 -> 5 in Kafka 4.0 */
  assert_int_equal(cfg->buffer_memory, 33554432);
  assert_int_equal(cfg->max_block_ms, 60000);
  assert_int_equal(cfg->max_request_size, 1048576);
  assert_int_equal(cfg->compression_type, MK_COMPRESSION_NONE);
  assert_int_equal(cfg->compression_gzip_level, -1);
  assert_int_equal(cfg->compression_lz4_level, 9);
  assert_int_equal(cfg->compression_zstd_level, 3);
  assert_null(cfg->partitioner_class);
  assert_null(cfg->partitioner);
  assert_true(cfg->partitioner_adaptive_partitioning_enable);
  assert_int_equal(cfg->partitioner_availability_timeout_ms, 0);
  assert_false(cfg->partitioner_ignore_keys);
  assert_int_equal(cfg->metadata_max_age_ms, 300000);
  assert_int_equal(cfg->metadata_max_idle_ms, 300000);
  assert_int_equal(cfg->reconnect_backoff_ms, 50);
  assert_int_equal(cfg->reconnect_backoff_max_ms, 1000);
  assert_int_equal(cfg->connections_max_idle_ms, 540000);
  assert_int_equal(cfg->send_buffer_bytes, 131072);
  assert_int_equal(cfg->receive_buffer_bytes, 32768);
  assert_null(cfg->key_serializer);
  assert_null(cfg->value_serializer);
  assert_int_equal(cfg->num_interceptors, 0);
  assert_null(cfg->schema_registry_url);  /* AvroSerializer's, at Confluent's defaults */
  assert_true(cfg->auto_register_schemas);
  assert_false(cfg->use_latest_version);
  assert_false(cfg->normalize_schemas);
  assert_false(cfg->finished);
  mk_producer_config_free(cfg);
}

static void test_listing_is_alphabetical_and_all_default(void **state) {
  (void)state;
  struct mk_producer_config *cfg = new_config();
  struct listing l = {0};
  mk_producer_config_each(cfg, collect, &l);
  assert_int_equal(l.count, 41);
  for (int i = 0; i < l.count; i++) {
    assert_int_equal(l.sources[i], MK_CONFIG_DEFAULT);
    if (i) assert_true(strcmp(l.keys[i - 1], l.keys[i]) < 0);
  }
  assert_string_equal(get(cfg, "acks"), "-1");  /* Java lists "all" as -1 */
  assert_string_equal(get(cfg, "linger.ms"), "5");
  assert_string_equal(get(cfg, "compression.type"), "none");
  assert_string_equal(get(cfg, "client.dns.lookup"), "use_all_dns_ips");
  assert_string_equal(get(cfg, "enable.idempotence"), "true");
  assert_string_equal(get(cfg, "transactional.id"), "null");
  assert_string_equal(get(cfg, "partitioner.class"), "null");
  assert_string_equal(get(cfg, "key.serializer"), "null");
  assert_string_equal(get(cfg, "retries"), "2147483647");
  assert_string_equal(get(cfg, "bootstrap.servers"), "");
  mk_producer_config_free(cfg);
}

static void test_minimal_config_finishes_with_defaults(void **state) {
  (void)state;
  struct mk_producer_config *cfg = minimal_config();
  struct mk_err err = {0};
  assert_int_equal(mk_producer_config_finish(cfg, &err), 0);
  assert_true(cfg->finished);
  assert_true(cfg->enable_idempotence);
  assert_false(cfg->idempotence_adjusted);
  assert_int_equal(cfg->delivery_timeout_ms, 120000);
  assert_int_equal(cfg->num_notes, 0);
  assert_int_equal(strncmp(cfg->client_id, "producer-", 9), 0);
  assert_int_equal(source_of(cfg, "client.id"), MK_CONFIG_ADJUSTED);
  assert_int_equal(source_of(cfg, "bootstrap.servers"), MK_CONFIG_SET);
  assert_int_equal(source_of(cfg, "linger.ms"), MK_CONFIG_DEFAULT);
  assert_ptr_equal(cfg->key_serializer, mk_serializer_find("StringSerializer"));
  /* finishing again keeps the same producer-N */
  char first[64];
  snprintf(first, sizeof first, "%s", cfg->client_id);
  assert_int_equal(mk_producer_config_finish(cfg, &err), 0);
  assert_string_equal(cfg->client_id, first);
  mk_producer_config_free(cfg);
}

static void test_client_id_numbers_producers_and_keeps_explicit_ones(void **state) {
  (void)state;
  struct mk_err err = {0};
  struct mk_producer_config *a = minimal_config(), *b = minimal_config(), *c = minimal_config();
  assert_int_equal(mk_producer_config_finish(a, &err), 0);
  assert_int_equal(mk_producer_config_finish(b, &err), 0);
  assert_int_equal(atoi(b->client_id + 9), atoi(a->client_id + 9) + 1);
  set_ok(c, "client.id", "  lab-producer  ");
  assert_int_equal(mk_producer_config_finish(c, &err), 0);
  assert_string_equal(c->client_id, "lab-producer");
  assert_int_equal(source_of(c, "client.id"), MK_CONFIG_SET);
  mk_producer_config_free(a);
  mk_producer_config_free(b);
  mk_producer_config_free(c);
}

/* ---- parsing ---------------------------------------------------------------------------- */

static void test_values_parse_as_java_does(void **state) {
  (void)state;
  struct mk_producer_config *cfg = new_config();
  set_ok(cfg, "linger.ms", "  20\t");
  assert_int_equal(cfg->linger_ms, 20);
  set_ok(cfg, "batch.size", "+32768");
  assert_int_equal(cfg->batch_size, 32768);
  set_ok(cfg, "buffer.memory", "9223372036854775807");
  assert_int_equal(cfg->buffer_memory, INT64_MAX);
  set_ok(cfg, "enable.idempotence", "FALSE");
  assert_false(cfg->enable_idempotence);
  set_ok(cfg, "partitioner.ignore.keys", " True ");
  assert_true(cfg->partitioner_ignore_keys);
  const char *acks[][2] = {{"all", "-1"}, {"-1", "-1"}, {"0", "0"}, {"1", "1"}, {" all ", "-1"}};
  for (size_t i = 0; i < sizeof acks / sizeof acks[0]; i++) {
    set_ok(cfg, "acks", acks[i][0]);
    assert_string_equal(get(cfg, "acks"), acks[i][1]);
  }
  set_ok(cfg, "compression.type", "zstd");
  assert_int_equal(cfg->compression_type, MK_COMPRESSION_ZSTD);
  set_ok(cfg, "compression.type", "snappy");
  assert_int_equal(cfg->compression_type, MK_COMPRESSION_SNAPPY);
  set_ok(cfg, "compression.gzip.level", "9");
  set_ok(cfg, "compression.gzip.level", "-1");
  set_ok(cfg, "compression.zstd.level", "-131072");
  set_ok(cfg, "compression.lz4.level", "17");
  set_ok(cfg, "client.dns.lookup", "resolve_canonical_bootstrap_servers_only");
  assert_int_equal(cfg->client_dns_lookup, MK_CLIENT_DNS_RESOLVE_CANONICAL_BOOTSTRAP_SERVERS_ONLY);
  set_ok(cfg, "security.protocol", "plaintext");
  set_ok(cfg, "send.buffer.bytes", "-1");
  set_ok(cfg, "bootstrap.servers", " a.example:9092 , b:9093,[::1]:9094,10.0.0.1:9095 ");
  assert_int_equal(cfg->num_bootstrap_servers, 4);
  assert_string_equal(cfg->bootstrap_servers[0], "a.example:9092");
  assert_string_equal(cfg->bootstrap_servers[2], "[::1]:9094");
  assert_string_equal(get(cfg, "bootstrap.servers"),
                      "a.example:9092,b:9093,[::1]:9094,10.0.0.1:9095");
  set_ok(cfg, "transactional.id", " tx-1 ");
  assert_string_equal(cfg->transactional_id, "tx-1");
  set_ok(cfg, "key.serializer", "org.apache.kafka.common.serialization.IntegerSerializer");
  assert_ptr_equal(cfg->key_serializer, mk_serializer_find("IntegerSerializer"));
  assert_string_equal(get(cfg, "key.serializer"),
                      "org.apache.kafka.common.serialization.IntegerSerializer");
  set_ok(cfg, "value.serializer", "ByteArraySerializer");
  assert_ptr_equal(cfg->value_serializer, mk_serializer_find("ByteArraySerializer"));
  set_ok(cfg, "partitioner.class", "RoundRobinPartitioner");
  assert_string_equal(cfg->partitioner_class,
                      "org.apache.kafka.clients.producer.RoundRobinPartitioner");
  set_ok(cfg, "partitioner.class", "StickyPartitioner");
  assert_string_equal(cfg->partitioner_class,
                      "org.apache.kafka.clients.producer.internals.DefaultPartitioner");
  set_ok(cfg, "partitioner.class", "");
  assert_null(cfg->partitioner_class);
  assert_true(mk_producer_config_is_set(cfg, "linger.ms"));
  assert_false(mk_producer_config_is_set(cfg, "retries"));
  /* NULL puts a setting back to its default, as if never set */
  set_ok(cfg, "linger.ms", NULL);
  assert_int_equal(cfg->linger_ms, 5);
  assert_false(mk_producer_config_is_set(cfg, "linger.ms"));
  set_ok(cfg, "transactional.id", NULL);
  assert_null(cfg->transactional_id);
  mk_producer_config_free(cfg);
}

/* Each bad value: the error is Java's sentence, names the key, and changes nothing. */
static void test_every_bad_value_error_names_the_key(void **state) {
  (void)state;
  static const struct {
    const char *key, *value, *says;
  } cases[] = {
      {"linger.ms", "abc",
       "Invalid value abc for configuration linger.ms: Not a number of type LONG"},
      {"linger.ms", "", "Not a number of type LONG"},
      {"linger.ms", "-1", "Value must be at least 0"},
      {"linger.ms", "5ms", "Not a number of type LONG"},
      {"batch.size", "-1",
       "Invalid value -1 for configuration batch.size: Value must be at least 0"},
      {"batch.size", "1.5", "Not a number of type INT"},
      {"retries", "2147483648", "Not a number of type INT"},
      {"retries", "-1", "Value must be at least 0"},
      {"delivery.timeout.ms", "-5", "Value must be at least 0"},
      {"request.timeout.ms", "x", "Not a number of type INT"},
      {"buffer.memory", "99999999999999999999", "Not a number of type LONG"},
      {"max.block.ms", "-1", "Value must be at least 0"},
      {"max.request.size", "-1", "Value must be at least 0"},
      {"max.in.flight.requests.per.connection", "0", "Value must be at least 1"},
      {"metadata.max.age.ms", "-1", "Value must be at least 0"},
      {"metadata.max.idle.ms", "100", "Value must be at least 5000"},
      {"retry.backoff.ms", "-1", "Value must be at least 0"},
      {"retry.backoff.max.ms", "-1", "Value must be at least 0"},
      {"partitioner.availability.timeout.ms", "-1", "Value must be at least 0"},
      {"acks", "2", "Invalid value 2 for configuration acks: String must be one of: all, -1, 0, 1"},
      {"acks", "ALL", "String must be one of: all, -1, 0, 1"},
      {"acks", "", "String must be one of: all, -1, 0, 1"},
      {"enable.idempotence", "yes", "Expected value to be either true or false"},
      {"partitioner.ignore.keys", "1", "Expected value to be either true or false"},
      {"partitioner.adaptive.partitioning.enable", "on",
       "Expected value to be either true or false"},
      {"compression.type", "brotli", "String must be one of: none, gzip, snappy, lz4, zstd"},
      {"compression.type", "GZIP", "String must be one of: none, gzip, snappy, lz4, zstd"},
      {"compression.gzip.level", "10", "Value must be between 1 and 9 or equal to -1"},
      {"compression.gzip.level", "0", "Value must be between 1 and 9 or equal to -1"},
      {"compression.lz4.level", "18", "Value must be no more than 17"},
      {"compression.lz4.level", "0", "Value must be at least 1"},
      {"compression.zstd.level", "23", "Value must be no more than 22"},
      {"client.dns.lookup", "default",
       "String must be one of: use_all_dns_ips, resolve_canonical_bootstrap_servers_only"},
      {"transactional.id", "   ", "String must be non-empty"},
      {"key.serializer", "FooSerializer", "Class FooSerializer could not be found"},
      {"value.serializer", "", "could not be found"},
      {"partitioner.class", "com.example.MyPartitioner",
       "Class com.example.MyPartitioner could not be found"},
      {"security.protocol", "SSL", "PLAINTEXT only"},
      {"security.protocol", "TLS", "String must be one of (case insensitive)"},
      {"interceptor.classes", "com.example.Audit", "register interceptors from C"},
      {"bootstrap.servers", "", "Configuration 'bootstrap.servers' must not be empty"},
      {"bootstrap.servers", "a:1,,b:2",
       "Configuration 'bootstrap.servers' values must not be empty."},
      {"bootstrap.servers", "a:1, a:1",
       "Configuration 'bootstrap.servers' values must not be duplicated."},
      {"bootstrap.servers", "localhost", "Invalid url in bootstrap.servers: localhost"},
      {"bootstrap.servers", "localhost:99999", "Invalid url in bootstrap.servers: localhost:99999"},
      {"bootstrap.servers", "local host:9092", "Invalid url in bootstrap.servers"},
      {"bootstrap.servers", ":9092", "Invalid url in bootstrap.servers"},
  };
  struct mk_producer_config *cfg = new_config();
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char before[1024];
    snprintf(before, sizeof before, "%s", get(cfg, cases[i].key));
    struct mk_err err = {0};
    int rc = mk_producer_config_set(cfg, cases[i].key, cases[i].value, &err);
    if (rc != MK_ERR__INVALID_ARG)
      fail_msg("%s=%s: expected an error, got %d", cases[i].key, cases[i].value, rc);
    assert_contains(err.msg, cases[i].key);
    assert_contains(err.msg, cases[i].says);
    assert_string_equal(get(cfg, cases[i].key), before);
    assert_false(mk_producer_config_is_set(cfg, cases[i].key));
  }
  mk_producer_config_free(cfg);
}

static void test_unknown_key_is_an_error_with_a_suggestion(void **state) {
  (void)state;
  struct mk_producer_config *cfg = new_config();
  struct mk_err err = {0};
  /* note 000's spelling */
  assert_int_equal(mk_producer_config_set(cfg, "max.inflight.requests.per.connection", "1", &err),
                   MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "Unknown configuration \"max.inflight.requests.per.connection\"");
  assert_contains(err.msg, "did you mean \"max.in.flight.requests.per.connection\"");
  /* note 002's spelling */
  assert_int_equal(mk_producer_config_set(cfg, "max.in.flight.request.per.connection", "1", &err),
                   MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "did you mean \"max.in.flight.requests.per.connection\"");
  assert_int_equal(mk_producer_config_set(cfg, "lingerms", "1", &err), MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "did you mean \"linger.ms\"");
  assert_int_equal(mk_producer_config_set(cfg, "group.id", "g", &err), MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "Unknown configuration \"group.id\"");
  assert_null(strstr(err.msg, "did you mean"));
  char buf[16];
  assert_int_equal(mk_producer_config_get(cfg, "nope", buf, sizeof buf, &err), MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "\"nope\"");
  assert_false(mk_producer_config_is_set(cfg, "nope"));
  mk_producer_config_free(cfg);
}

static void test_finish_requires_kafkas_required_settings(void **state) {
  (void)state;
  struct mk_producer_config *cfg = new_config();
  struct mk_err err = {0};
  assert_int_equal(mk_producer_config_finish(cfg, &err), MK_ERR__INVALID_ARG);
  assert_string_equal(err.msg, "Missing required configuration \"bootstrap.servers\" which has "
                               "no default value.");
  set_ok(cfg, "bootstrap.servers", "localhost:9092");
  assert_int_equal(mk_producer_config_finish(cfg, &err), MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "\"key.serializer\"");
  set_ok(cfg, "key.serializer", "StringSerializer");
  assert_int_equal(mk_producer_config_finish(cfg, &err), MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "\"value.serializer\"");
  set_ok(cfg, "value.serializer", "StringSerializer");
  assert_int_equal(mk_producer_config_finish(cfg, &err), 0);
  mk_producer_config_free(cfg);
}

/* ---- idempotence ------------------------------------------------------------------------ */

/* enable.idempotence=true given explicitly: each conflict is an error naming the setting. */
static void test_explicit_idempotence_conflicts_are_errors(void **state) {
  (void)state;
  static const struct {
    const char *key, *value, *says;
  } cases[] = {
      {"acks", "1", "Must set acks to all in order to use the idempotent producer."},
      {"acks", "0", "Must set acks to all in order to use the idempotent producer."},
      {"retries", "0", "Must set retries to non-zero when using the idempotent producer."},
      {"max.in.flight.requests.per.connection", "6",
       "To use the idempotent producer, max.in.flight.requests.per.connection must be set to at "
       "most 5. Current value is 6."},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct mk_producer_config *cfg = minimal_config();
    set_ok(cfg, "enable.idempotence", "true");
    set_ok(cfg, cases[i].key, cases[i].value);
    struct mk_err err = {0};
    assert_int_equal(mk_producer_config_finish(cfg, &err), MK_ERR__INVALID_ARG);
    assert_contains(err.msg, cases[i].says);
    assert_false(cfg->finished);
    mk_producer_config_free(cfg);
  }
}

/* enable.idempotence left at its default: acks or retries in conflict turn it off, with the
 * reason Java logs at INFO. */
static void test_implicit_idempotence_is_disabled_by_acks_or_retries(void **state) {
  (void)state;
  struct mk_err err = {0};
  struct mk_producer_config *cfg = minimal_config();
  set_ok(cfg, "acks", "1");
  assert_int_equal(mk_producer_config_finish(cfg, &err), 0);
  assert_false(cfg->enable_idempotence);
  assert_true(cfg->idempotence_adjusted);
  assert_string_equal(cfg->idempotence_adjusted_reason,
                      "Idempotence will be disabled because acks is set to 1, not set to 'all'.");
  assert_int_equal(cfg->num_notes, 1);
  assert_int_equal(cfg->notes[0].level, MK_LOG_INFO);
  assert_string_equal(cfg->notes[0].key, "enable.idempotence");
  assert_int_equal(source_of(cfg, "enable.idempotence"), MK_CONFIG_ADJUSTED);
  assert_string_equal(get(cfg, "enable.idempotence"), "false");

  /* Back to acks=all: finish starts from the user's settings again. */
  set_ok(cfg, "acks", "all");
  assert_int_equal(mk_producer_config_finish(cfg, &err), 0);
  assert_true(cfg->enable_idempotence);
  assert_false(cfg->idempotence_adjusted);
  assert_int_equal(cfg->num_notes, 0);
  assert_int_equal(source_of(cfg, "enable.idempotence"), MK_CONFIG_DEFAULT);
  mk_producer_config_free(cfg);

  cfg = minimal_config();
  set_ok(cfg, "acks", "0");
  set_ok(cfg, "retries", "0");
  assert_int_equal(mk_producer_config_finish(cfg, &err), 0);
  assert_false(cfg->enable_idempotence);
  assert_contains(cfg->idempotence_adjusted_reason, "because retries is set to 0.");
  assert_contains(cfg->idempotence_adjusted_reason, "because acks is set to 0,");
  assert_int_equal(cfg->num_notes, 2);
  mk_producer_config_free(cfg);
}

/* Kafka 4.0 (KAFKA-17927): max.in.flight > 5 is an error even when idempotence is only
 * defaulted on, and even if acks=1 would have turned it off (checked first). */
static void test_in_flight_above_five_fails_unless_idempotence_is_off(void **state) {
  (void)state;
  struct mk_err err = {0};
  struct mk_producer_config *cfg = minimal_config();
  set_ok(cfg, "max.in.flight.requests.per.connection", "6");
  assert_int_equal(mk_producer_config_finish(cfg, &err), MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "max.in.flight.requests.per.connection");
  set_ok(cfg, "acks", "1");
  assert_int_equal(mk_producer_config_finish(cfg, &err), MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "Current value is 6.");
  set_ok(cfg, "enable.idempotence", "false");
  assert_int_equal(mk_producer_config_finish(cfg, &err), 0);
  assert_false(cfg->enable_idempotence);
  assert_false(cfg->idempotence_adjusted);  /* the user turned it off; nothing adjusted */
  assert_int_equal(cfg->max_in_flight_requests_per_connection, 6);
  mk_producer_config_free(cfg);
}

static void test_transactional_id_needs_idempotence(void **state) {
  (void)state;
  struct mk_err err = {0};
  struct mk_producer_config *cfg = minimal_config();
  set_ok(cfg, "transactional.id", "orders");
  assert_int_equal(mk_producer_config_finish(cfg, &err), 0);
  assert_true(cfg->enable_idempotence);
  assert_string_equal(cfg->client_id, "producer-orders");
  /* Transactions are implemented: nothing to warn about (there once was a warning). */
  assert_int_equal(cfg->num_notes, 0);
  set_ok(cfg, "enable.idempotence", "false");
  assert_int_equal(mk_producer_config_finish(cfg, &err), MK_ERR__INVALID_ARG);
  assert_string_equal(err.msg, "Cannot set a transactional.id without also enabling idempotence.");
  /* turned off implicitly (acks=1) is no better */
  set_ok(cfg, "enable.idempotence", NULL);
  set_ok(cfg, "acks", "1");
  assert_int_equal(mk_producer_config_finish(cfg, &err), MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "transactional.id");
  mk_producer_config_free(cfg);
}

/* ---- the other implicit adjustments ----------------------------------------------------- */

static void test_delivery_timeout_is_raised_unless_set(void **state) {
  (void)state;
  struct mk_err err = {0};
  struct mk_producer_config *cfg = minimal_config();
  set_ok(cfg, "linger.ms", "100000");
  assert_int_equal(mk_producer_config_finish(cfg, &err), 0);
  assert_int_equal(cfg->delivery_timeout_ms, 130000);
  assert_int_equal(source_of(cfg, "delivery.timeout.ms"), MK_CONFIG_ADJUSTED);
  assert_int_equal(cfg->num_notes, 1);
  assert_int_equal(cfg->notes[0].level, MK_LOG_WARN);
  assert_string_equal(cfg->notes[0].msg, "delivery.timeout.ms should be equal to or larger than "
                                         "linger.ms + request.timeout.ms. Setting it to 130000.");
  /* linger.ms counts as at most INT32_MAX, and the sum is capped there too */
  set_ok(cfg, "linger.ms", "9223372036854775807");
  assert_int_equal(mk_producer_config_finish(cfg, &err), 0);
  assert_int_equal(cfg->delivery_timeout_ms, INT32_MAX);
  /* back to a small linger: the adjusted value returns to the default */
  set_ok(cfg, "linger.ms", "5");
  assert_int_equal(mk_producer_config_finish(cfg, &err), 0);
  assert_int_equal(cfg->delivery_timeout_ms, 120000);
  /* set explicitly and too small: an error */
  set_ok(cfg, "delivery.timeout.ms", "1000");
  assert_int_equal(mk_producer_config_finish(cfg, &err), MK_ERR__INVALID_ARG);
  assert_string_equal(err.msg, "delivery.timeout.ms should be equal to or larger than linger.ms "
                               "+ request.timeout.ms");
  set_ok(cfg, "request.timeout.ms", "995");
  assert_int_equal(mk_producer_config_finish(cfg, &err), 0);  /* exactly equal is fine */
  mk_producer_config_free(cfg);
}

static void test_backoff_adjustments_and_warnings(void **state) {
  (void)state;
  struct mk_err err = {0};
  struct mk_producer_config *cfg = minimal_config();
  set_ok(cfg, "reconnect.backoff.ms", "200");
  set_ok(cfg, "retry.backoff.ms", "5000");
  assert_int_equal(mk_producer_config_finish(cfg, &err), 0);
  assert_int_equal(cfg->reconnect_backoff_max_ms, 200);
  assert_int_equal(source_of(cfg, "reconnect.backoff.max.ms"), MK_CONFIG_ADJUSTED);
  assert_int_equal(cfg->retry_backoff_ms, 5000);  /* a warning only */
  assert_int_equal(cfg->num_notes, 2);
  assert_string_equal(cfg->notes[0].key, "retry.backoff.ms");
  assert_contains(cfg->notes[0].msg, "A static backoff with value '1000' will be applied.");
  assert_string_equal(cfg->notes[1].key, "reconnect.backoff.max.ms");
  set_ok(cfg, "reconnect.backoff.max.ms", "400");
  assert_int_equal(mk_producer_config_finish(cfg, &err), 0);
  assert_int_equal(cfg->reconnect_backoff_max_ms, 400);
  assert_int_equal(source_of(cfg, "reconnect.backoff.max.ms"), MK_CONFIG_SET);
  mk_producer_config_free(cfg);
}

/* ---- .properties files ------------------------------------------------------------------ */

static void test_properties_text_is_read_like_java(void **state) {
  (void)state;
  static const char text[] =
      "# a producer.properties file\r\n"
      "! another comment style\n"
      "\n"
      "   bootstrap.servers = localhost:9092, localhost:9093\n"
      "key.serializer=org.apache.kafka.common.serialization.StringSerializer\n"
      "value.serializer:StringSerializer\n"
      "linger.ms 50\n"
      "acks\t=\tall   \n"
      "client.id = caf\\u00e9-\\\n"
      "            producer\n"
      "compression.type=\\\n"
      "    lz4\n"
      "transactional.id = a\\:b\\=c\\\\\n"
      "batch.size=1000";  /* no final newline */
  struct mk_producer_config *cfg = new_config();
  struct mk_err err = {0};
  int rc = mk_producer_config_load_string(cfg, text, strlen(text), "p.properties", &err);
  if (rc) fail_msg("%s", err.msg);
  assert_int_equal(cfg->num_bootstrap_servers, 2);
  assert_string_equal(cfg->bootstrap_servers[1], "localhost:9093");
  assert_ptr_equal(cfg->key_serializer, mk_serializer_find("StringSerializer"));
  assert_ptr_equal(cfg->value_serializer, mk_serializer_find("StringSerializer"));
  assert_int_equal(cfg->linger_ms, 50);
  assert_int_equal(cfg->acks, -1);
  assert_string_equal(cfg->client_id, "caf\xc3\xa9-producer");
  assert_int_equal(cfg->compression_type, MK_COMPRESSION_LZ4);
  assert_string_equal(cfg->transactional_id, "a:b=c\\");
  assert_int_equal(cfg->batch_size, 1000);
  assert_true(mk_producer_config_is_set(cfg, "acks"));
  assert_int_equal(mk_producer_config_finish(cfg, &err), 0);
  mk_producer_config_free(cfg);
}

static void test_properties_error_names_line_and_applies_nothing(void **state) {
  (void)state;
  static const char text[] = "linger.ms=50\n"
                             "# fine so far\n"
                             "batch.size=big\n"
                             "acks=0\n";
  struct mk_producer_config *cfg = new_config();
  struct mk_err err = {0};
  assert_int_equal(mk_producer_config_load_string(cfg, text, strlen(text), "p.properties", &err),
                   MK_ERR__INVALID_ARG);
  assert_string_equal(err.msg, "p.properties:3: Invalid value big for configuration batch.size: "
                               "Not a number of type INT");
  assert_int_equal(cfg->linger_ms, 5);  /* all or nothing */
  assert_false(mk_producer_config_is_set(cfg, "linger.ms"));

  static const char typo[] = "max.inflight.requests.per.connection=1\n";
  assert_int_equal(mk_producer_config_load_string(cfg, typo, strlen(typo), "q", &err),
                   MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "q:1: Unknown configuration");
  static const char bad_escape[] = "\n\nclient.id=\\u00zz\n";
  assert_int_equal(mk_producer_config_load_string(cfg, bad_escape, strlen(bad_escape), "r", &err),
                   MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "r:3: Malformed \\uxxxx encoding.");
  mk_producer_config_free(cfg);
}

static void test_properties_file(void **state) {
  (void)state;
  char path[] = "/tmp/mk_producer_config_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  static const char text[] = "bootstrap.servers=127.0.0.1:9092\nkey.serializer=LongSerializer\n"
                             "value.serializer=StringSerializer\nenable.idempotence=false\n"
                             "acks=1\n";
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  struct mk_producer_config *cfg = new_config();
  struct mk_err err = {0};
  assert_int_equal(mk_producer_config_load_file(cfg, path, &err), 0);
  assert_ptr_equal(cfg->key_serializer, mk_serializer_find("LongSerializer"));
  assert_int_equal(mk_producer_config_finish(cfg, &err), 0);
  assert_false(cfg->enable_idempotence);
  assert_false(cfg->idempotence_adjusted);
  unlink(path);
  assert_int_equal(mk_producer_config_load_file(cfg, path, &err), MK_ERR__INVALID_ARG);
  assert_contains(err.msg, path);
  assert_contains(err.msg, "No such file");
  mk_producer_config_free(cfg);
}

/* ---- plug-ins from C -------------------------------------------------------------------- */

static int point_serialize(void *opaque, const char *topic, const struct mk_value *v,
                           struct mk_bytes *out, struct mk_writer *scratch, struct mk_err *err) {
  (void)opaque, (void)topic, (void)v, (void)scratch, (void)err;
  *out = MK_BYTES_NULL;
  return 0;
}

static int first_partition(void *opaque, const char *topic, struct mk_bytes key,
                           struct mk_bytes value, const struct mk_topic_partitions *partitions,
                           int32_t *partition, enum mk_partition_reason *reason,
                           struct mk_err *err) {
  (void)opaque, (void)topic, (void)key, (void)value, (void)partitions, (void)reason, (void)err;
  *partition = 0;
  return 0;
}

static void test_plugins_set_from_c(void **state) {
  (void)state;
  static const struct mk_serializer point = {.name = "PointSerializer",
                                             .input = MK_VALUE_OBJECT,
                                             .serialize = point_serialize};
  static const struct mk_partitioner mine = {.name = "FirstPartitioner",
                                             .partition = first_partition};
  static const struct mk_producer_interceptor audit = {.name = "Audit"}, count = {.name = "Count"};
  struct mk_err err = {0};
  struct mk_producer_config *cfg = new_config();
  assert_int_equal(mk_producer_config_set_value_serializer(cfg, &point, &err), 0);
  assert_ptr_equal(cfg->value_serializer, &point);
  assert_string_equal(get(cfg, "value.serializer"), "PointSerializer");
  assert_true(mk_producer_config_is_set(cfg, "value.serializer"));
  /* a built-in by name, then the custom one by its name again */
  set_ok(cfg, "key.serializer", "StringSerializer");
  set_ok(cfg, "key.serializer", "PointSerializer");
  assert_ptr_equal(cfg->key_serializer, &point);

  assert_int_equal(mk_producer_config_set_partitioner(cfg, &mine, &err), 0);
  assert_string_equal(cfg->partitioner_class, "FirstPartitioner");
  assert_ptr_equal(cfg->partitioner, &mine);
  set_ok(cfg, "partitioner.class", "FirstPartitioner");  /* naming it again changes nothing */
  assert_ptr_equal(cfg->partitioner, &mine);
  set_ok(cfg, "partitioner.class", "RoundRobinPartitioner");
  assert_null(cfg->partitioner);

  assert_int_equal(mk_producer_config_add_interceptor(cfg, &audit, &err), 0);
  assert_int_equal(mk_producer_config_add_interceptor(cfg, &count, &err), 0);
  assert_string_equal(get(cfg, "interceptor.classes"), "Audit,Count");
  set_ok(cfg, "interceptor.classes", "Audit,Count");
  assert_int_equal(cfg->num_interceptors, 2);
  for (int i = 2; i < MK_PRODUCER_MAX_INTERCEPTORS; i++)
    assert_int_equal(mk_producer_config_add_interceptor(cfg, &audit, &err), 0);
  assert_int_equal(mk_producer_config_add_interceptor(cfg, &audit, &err), MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "interceptor.classes");
  set_ok(cfg, "interceptor.classes", "");
  assert_int_equal(cfg->num_interceptors, 0);

  assert_int_equal(mk_producer_config_set_key_serializer(cfg, NULL, &err), MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "key.serializer");
  mk_producer_config_free(cfg);
}

static void test_dup_is_independent(void **state) {
  (void)state;
  struct mk_producer_config *cfg = minimal_config();
  set_ok(cfg, "transactional.id", "t1");
  set_ok(cfg, "partitioner.class", "RoundRobinPartitioner");
  struct mk_producer_config *copy = mk_producer_config_dup(cfg);
  assert_non_null(copy);
  set_ok(cfg, "bootstrap.servers", "other:1");
  set_ok(cfg, "transactional.id", "t2");
  assert_string_equal(copy->bootstrap_servers[0], "localhost:9092");
  assert_string_equal(copy->transactional_id, "t1");
  assert_string_equal(copy->partitioner_class, cfg->partitioner_class);
  assert_true(mk_producer_config_is_set(copy, "transactional.id"));
  mk_producer_config_free(cfg);
  mk_producer_config_free(copy);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_default_is_kafkas),
      cmocka_unit_test(test_listing_is_alphabetical_and_all_default),
      cmocka_unit_test(test_minimal_config_finishes_with_defaults),
      cmocka_unit_test(test_client_id_numbers_producers_and_keeps_explicit_ones),
      cmocka_unit_test(test_values_parse_as_java_does),
      cmocka_unit_test(test_every_bad_value_error_names_the_key),
      cmocka_unit_test(test_unknown_key_is_an_error_with_a_suggestion),
      cmocka_unit_test(test_finish_requires_kafkas_required_settings),
      cmocka_unit_test(test_explicit_idempotence_conflicts_are_errors),
      cmocka_unit_test(test_implicit_idempotence_is_disabled_by_acks_or_retries),
      cmocka_unit_test(test_in_flight_above_five_fails_unless_idempotence_is_off),
      cmocka_unit_test(test_transactional_id_needs_idempotence),
      cmocka_unit_test(test_delivery_timeout_is_raised_unless_set),
      cmocka_unit_test(test_backoff_adjustments_and_warnings),
      cmocka_unit_test(test_properties_text_is_read_like_java),
      cmocka_unit_test(test_properties_error_names_line_and_applies_nothing),
      cmocka_unit_test(test_properties_file),
      cmocka_unit_test(test_plugins_set_from_c),
      cmocka_unit_test(test_dup_is_independent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
