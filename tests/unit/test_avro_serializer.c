/*
 * Tests for producer/avro_serializer.c and producer/schema_registry_client.c: Confluent's
 * wire format byte for byte, JSON and generic values, the registry steps (auto-register,
 * lookup, use.latest.version, caching), the deserializer, errors that name the field, the
 * HTTP client against a small loopback server (in this file, answering with the real
 * registry model, broker/schema_registry.h), and a producer using value.serializer=
 * AvroSerializer against an embedded broker.
 *
 * Two ways the serializer reaches the registry here, both honest: an in-process transport
 * calling mk_schema_registry_handle (no sockets: exact and fast), and real HTTP over
 * loopback to mini_server, which parses requests with http-parser and answers from the same
 * registry model.
 */
#include <errno.h>
#include <http_parser.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker/schema_registry.h"
#include "common/clock.h"
#include "producer/avro_serializer.h"
#include "producer/producer.h"
#include "schemas/avro_datum.h"
#include "tests/support/test_broker.h"
#include "tests/support/schema_support.h"

static void assert_bytes(const struct mk_bytes *b, const void *want, size_t n) {
  if ((size_t)b->len != n || memcmp(b->ptr, want, n) != 0) {
    char hex[300] = "";
    for (int i = 0; i < b->len && i < 90; i++) sprintf(hex + 3 * i, "%02x ", b->ptr[i]);
    fail_msg("got %d bytes: %s", b->len, hex);
  }
}

#define USER "{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"age\",\"type\":\"int\"}]}"

/* ---- the in-process transport ----------------------------------------------------------- */

static int in_process(void *opaque, const char *method, const char *path, const char *body,
                      size_t body_len, int *status, char **response, struct mk_err *err) {
  char p[512];
  snprintf(p, sizeof p, "%s", path);
  char *query = strchr(p, '?');
  if (query) *query++ = '\0';
  if (mk_schema_registry_handle(opaque, method, p, query, body, body_len, status, response))
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  return 0;
}

/* A registry, a client reaching it in-process, and the scratch serializers write into. */
struct fixture {
  struct mk_schema_registry *registry;
  struct mk_schema_registry_client *client;
  struct mk_writer scratch;
};

static struct fixture fixture_new(void) {
  struct fixture f = {mk_schema_registry_new(NULL, NULL), NULL, {0}};
  f.client = mk_schema_registry_client_new_with(in_process, f.registry);
  mk_writer_init(&f.scratch);
  return f;
}

static void fixture_free(struct fixture *f) {
  mk_schema_registry_client_free(f->client);
  mk_schema_registry_free(f->registry);
  mk_writer_free(&f->scratch);
}

static struct mk_avro_serializer *serializer(struct fixture *f, bool is_key, const char *schema,
                                             bool auto_register, bool use_latest) {
  struct mk_avro_serde_config c = mk_avro_serde_config_default();
  c.client = f->client;
  c.schema = schema;
  c.auto_register_schemas = auto_register;
  c.use_latest_version = use_latest;
  struct mk_err err = {0};
  struct mk_avro_serializer *s = mk_avro_serializer_new(&c, is_key, &err);
  if (!s) fail_msg("mk_avro_serializer_new: %s", err.msg);
  return s;
}

/* Serialize through the producer's entry point (the SerializationException wrapper). */
static int run(struct fixture *f, struct mk_avro_serializer *s, bool is_key, const char *topic,
               struct mk_value v, struct mk_bytes *out, struct mk_err *err) {
  return mk_serializer_serialize(mk_avro_serializer_get(s), is_key, topic, &v, out, &f->scratch,
                                 err);
}

static void expect_registry(struct mk_schema_registry *r, const char *target, const char *want) {
  int status;
  char *out = NULL;
  char p[256];
  snprintf(p, sizeof p, "%s", target);
  assert_int_equal(mk_schema_registry_handle(r, "GET", p, NULL, NULL, 0, &status, &out), 0);
  if (strcmp(out, want) != 0) fail_msg("GET %s: %s, want %s", target, out, want);
  free(out);
}

/* Magic byte 0, the id big-endian, then Avro; the registry is asked once per schema. */
static void test_wire_format_and_one_registration(void **state) {
  (void)state;
  struct fixture f = fixture_new();
  struct mk_avro_serializer *s = serializer(&f, false, USER, true, false);
  struct mk_bytes out;
  struct mk_err err = {0};
  assert_int_equal(run(&f, s, false, "users", mk_value_string("{\"name\":\"Ann\",\"age\":30}"), &out,
                       &err), 0);
  assert_bytes(&out, "\x00\x00\x00\x00\x01\x06" "Ann" "\x3c", 10);
  for (int i = 0; i < 5; i++)
    assert_int_equal(run(&f, s, false, "users", mk_value_string("{\"name\":\"Bo\",\"age\":-1}"),
                         &out, &err), 0);
  assert_bytes(&out, "\x00\x00\x00\x00\x01\x04" "Bo" "\x01", 9);
  assert_int_equal(mk_schema_registry_client_requests(f.client), 1);
  expect_registry(f.registry, "/subjects", "[\"users-value\"]");
  /* null stays null (a tombstone) */
  assert_int_equal(run(&f, s, false, "users", mk_value_null(), &out, &err), 0);
  assert_int_equal(out.len, -1);
  /* a key serializer registers under <topic>-key; another schema gets the next id */
  struct mk_avro_serializer *k = serializer(&f, true, "\"long\"", true, false);
  assert_int_equal(run(&f, k, true, "users", mk_value_string("7"), &out, &err), 0);
  assert_bytes(&out, "\x00\x00\x00\x00\x02\x0e", 6);
  expect_registry(f.registry, "/subjects", "[\"users-key\",\"users-value\"]");
  mk_avro_serializer_free(k);
  mk_avro_serializer_free(s);
  fixture_free(&f);
}

/* A value that does not fit: SerializationException, naming the field. */
static void test_bad_value_names_the_field(void **state) {
  (void)state;
  struct fixture f = fixture_new();
  struct mk_avro_serializer *s = serializer(&f, false, USER, true, false);
  struct mk_bytes out;
  struct mk_err err = {0};
  assert_int_equal(run(&f, s, false, "users", mk_value_string("{\"name\":\"Ann\",\"age\":\"x\"}"), &out,
                       &err), MK_ERR__INVALID_ARG);
  assert_string_equal(err.msg, "SerializationException: value.serializer AvroSerializer: field "
                               "'age': expected an int (32 bits), got a string \"x\"");
  assert_int_equal(f.scratch.len, 0);  /* nothing half-written */
  assert_int_equal(run(&f, s, false, "users", mk_value_string("{\"name\":\"Ann\"}"), &out, &err),
                   MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "field 'age': missing, and it has no default");
  assert_int_equal(run(&f, s, false, "users", mk_value_int(3), &out, &err), MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "can't convert a value of class Integer to an Avro record");
  /* no default schema and none in the record */
  struct mk_avro_serializer *bare = serializer(&f, false, NULL, true, false);
  assert_int_equal(run(&f, bare, false, "users", mk_value_string("{}"), &out, &err),
                   MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "JSON given without a schema");
  struct mk_avro_record rec = {.json = "1", .json_len = 1, .schema = "{\"type\":", .schema_len = 8};
  assert_int_equal(run(&f, bare, false, "users", mk_value_avro(&rec), &out, &err),
                   MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "invalid Avro schema");
  mk_avro_serializer_free(bare);
  mk_avro_serializer_free(s);
  fixture_free(&f);
}

/* A generic avro-c value (Java's GenericRecord) gives the same bytes as its JSON. */
static void test_generic_value_and_json_agree(void **state) {
  (void)state;
  struct fixture f = fixture_new();
  struct mk_avro_serializer *s = serializer(&f, false, NULL, true, false);
  avro_schema_t schema;
  assert_int_equal(avro_schema_from_json_length(USER, strlen(USER), &schema), 0);
  avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
  avro_value_t v, field;
  assert_int_equal(avro_generic_value_new(iface, &v), 0);
  assert_int_equal(avro_value_get_by_name(&v, "name", &field, NULL), 0);
  assert_int_equal(avro_value_set_string(&field, "Ann"), 0);
  assert_int_equal(avro_value_get_by_name(&v, "age", &field, NULL), 0);
  assert_int_equal(avro_value_set_int(&field, 30), 0);
  struct mk_bytes out;
  struct mk_err err = {0};
  struct mk_avro_record by_value = {.value = &v, .schema = USER, .schema_len = strlen(USER)};
  assert_int_equal(run(&f, s, false, "users", mk_value_avro(&by_value), &out, &err), 0);
  assert_bytes(&out, "\x00\x00\x00\x00\x01\x06" "Ann" "\x3c", 10);
  /* without the text, avro-c's rendering of the value's schema is registered: the same
   * canonical schema, so the same id */
  struct mk_avro_record rendered = {.value = &v};
  assert_int_equal(run(&f, s, false, "users", mk_value_avro(&rendered), &out, &err), 0);
  assert_bytes(&out, "\x00\x00\x00\x00\x01\x06" "Ann" "\x3c", 10);
  const char *json = "{\"name\":\"Ann\",\"age\":30}";
  struct mk_avro_record by_json = {.json = json, .json_len = strlen(json), .schema = USER,
                                   .schema_len = strlen(USER)};
  assert_int_equal(run(&f, s, false, "users", mk_value_avro(&by_json), &out, &err), 0);
  assert_bytes(&out, "\x00\x00\x00\x00\x01\x06" "Ann" "\x3c", 10);
  /* a schema text that is not the value's is refused */
  struct mk_avro_record wrong = {.value = &v, .schema = "\"string\"", .schema_len = 8};
  assert_int_equal(run(&f, s, false, "users", mk_value_avro(&wrong), &out, &err),
                   MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "is not the schema of its value");
  avro_value_decref(&v);
  avro_value_iface_decref(iface);
  avro_schema_decref(schema);
  mk_avro_serializer_free(s);
  fixture_free(&f);
}

/* auto.register.schemas=false: the schema must be registered already. */
static void test_lookup_without_auto_register(void **state) {
  (void)state;
  struct fixture f = fixture_new();
  struct mk_avro_serializer *s = serializer(&f, false, USER, false, false);
  struct mk_bytes out;
  struct mk_err err = {0};
  assert_int_not_equal(run(&f, s, false, "users", mk_value_string("{\"name\":\"A\",\"age\":1}"), &out,
                           &err), 0);
  assert_contains(err.msg, "Error retrieving Avro schema of users-value: Subject 'users-value' "
                           "not found.; error code: 40401");
  struct mk_avro_serializer *reg = serializer(&f, false, "\"string\"", true, false);
  assert_int_equal(run(&f, reg, false, "users", mk_value_string("\"x\""), &out, &err), 0);
  assert_int_not_equal(run(&f, s, false, "users", mk_value_string("{\"name\":\"A\",\"age\":1}"), &out,
                           &err), 0);
  assert_contains(err.msg, "Schema not found; error code: 40403");
  struct mk_avro_serializer *same = serializer(&f, false, "\"string\"", false, false);
  assert_int_equal(run(&f, same, false, "users", mk_value_string("\"y\""), &out, &err), 0);
  assert_bytes(&out, "\x00\x00\x00\x00\x01\x02y", 7);
  mk_avro_serializer_free(same);
  mk_avro_serializer_free(reg);
  mk_avro_serializer_free(s);
  fixture_free(&f);
}

/* use.latest.version: the subject's latest schema is the writer's, whatever the record's. */
static void test_use_latest_version(void **state) {
  (void)state;
  struct fixture f = fixture_new();
  const char *v1 = "{\"type\":\"record\",\"name\":\"P\",\"fields\":[{\"name\":\"x\",\"type\":\"float\"}]}";
  const char *v2 = "{\"type\":\"record\",\"name\":\"P\",\"fields\":[{\"name\":\"x\",\"type\":\"double\"}]}";
  struct mk_avro_serializer *r1 = serializer(&f, false, v1, true, false);
  struct mk_avro_serializer *r2 = serializer(&f, false, v2, true, false);
  struct mk_bytes out;
  struct mk_err err = {0};
  assert_int_equal(run(&f, r1, false, "p", mk_value_string("{\"x\":1.5}"), &out, &err), 0);
  assert_bytes(&out, "\x00\x00\x00\x00\x01\x00\x00\xc0\x3f", 9);  /* float 1.5 */
  assert_int_equal(run(&f, r2, false, "p", mk_value_string("{\"x\":1.5}"), &out, &err), 0);
  assert_bytes(&out, "\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\xf8\x3f", 13);
  /* JSON: read in the latest schema (v2), written as a double under id 2 */
  struct mk_avro_serializer *latest = serializer(&f, false, v1, false, true);
  assert_int_equal(run(&f, latest, false, "p", mk_value_string("{\"x\":1.5}"), &out, &err), 0);
  assert_bytes(&out, "\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\xf8\x3f", 13);
  /* a generic value of v1: avro-c's resolver turns its float into v2's double */
  avro_schema_t s1;
  assert_int_equal(avro_schema_from_json_length(v1, strlen(v1), &s1), 0);
  avro_value_iface_t *iface = avro_generic_class_from_schema(s1);
  avro_value_t v, x;
  assert_int_equal(avro_generic_value_new(iface, &v), 0);
  assert_int_equal(avro_value_get_by_index(&v, 0, &x, NULL), 0);
  assert_int_equal(avro_value_set_float(&x, 1.5f), 0);
  struct mk_avro_record rec = {.value = &v, .schema = v1, .schema_len = strlen(v1)};
  assert_int_equal(run(&f, latest, false, "p", mk_value_avro(&rec), &out, &err), 0);
  assert_bytes(&out, "\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\xf8\x3f", 13);
  /* no subject: the error says so */
  assert_int_not_equal(run(&f, latest, false, "q", mk_value_string("{\"x\":1}"), &out, &err), 0);
  assert_contains(err.msg, "Error retrieving the latest schema of q-value: Subject 'q-value' not found.");
  avro_value_decref(&v);
  avro_value_iface_decref(iface);
  avro_schema_decref(s1);
  mk_avro_serializer_free(latest);
  mk_avro_serializer_free(r1);
  mk_avro_serializer_free(r2);
  fixture_free(&f);
}

static void test_deserializer(void **state) {
  (void)state;
  struct fixture f = fixture_new();
  struct mk_avro_serializer *s = serializer(&f, false, USER, true, false);
  struct mk_bytes out;
  struct mk_err err = {0};
  assert_int_equal(run(&f, s, false, "users", mk_value_string("{\"age\":30,\"name\":\"Ann\"}"), &out,
                       &err), 0);
  struct mk_avro_serde_config c = mk_avro_serde_config_default();
  c.client = f.client;
  struct mk_avro_deserializer *d = mk_avro_deserializer_new(&c, NULL, &err);
  assert_non_null(d);
  char *json = NULL;
  int id = 0;
  assert_int_equal(mk_avro_deserialize(d, out.ptr, (size_t)out.len, &json, &id, &err), 0);
  assert_string_equal(json, "{\"name\":\"Ann\",\"age\":30}");
  assert_int_equal(id, 1);
  free(json);
  /* an old reader, without "age" and reading names as bytes? no: with fewer fields */
  struct mk_avro_deserializer *old = mk_avro_deserializer_new(
      &c, "{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"name\",\"type\":\"string\"}]}", &err);
  assert_non_null(old);
  assert_int_equal(mk_avro_deserialize(old, out.ptr, (size_t)out.len, &json, NULL, &err), 0);
  assert_string_equal(json, "{\"name\":\"Ann\"}");
  free(json);
  assert_int_equal(mk_avro_deserialize(d, (const uint8_t *)"{\"a\":1}", 7, &json, NULL, &err), MK_ERR__DECODE);
  assert_contains(err.msg, "Unknown magic byte 0x7b");
  assert_int_equal(mk_avro_deserialize(d, (const uint8_t *)"\x00\x00\x00", 3, &json, NULL, &err), MK_ERR__DECODE);
  assert_int_equal(mk_avro_deserialize(d, (const uint8_t *)"\x00\x00\x00\x00\x09\x02", 6, &json, NULL, &err),
                   MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "Error retrieving Avro schema for id 9: Schema 9 not found; error code: 40403");
  assert_int_equal(mk_avro_deserialize(d, (const uint8_t *)"\x00\x00\x00\x00\x01\x7f", 6, &json, NULL, &err),
                   MK_ERR__DECODE);
  assert_int_equal(mk_avro_deserialize(d, NULL, 0, &json, NULL, &err), 0);
  assert_string_equal(json, "null");
  free(json);
  mk_avro_deserializer_free(old);
  mk_avro_deserializer_free(d);
  mk_avro_serializer_free(s);
  fixture_free(&f);
}

/* ---- a loopback HTTP registry ----------------------------------------------------------- */

struct mini_server {
  int fd, port;
  pthread_t thread;
  struct mk_schema_registry *registry;
  atomic_bool stop;
  atomic_int requests;
  bool silent;  /* accept, read, never answer (for timeouts) */
};

struct http_request {
  char url[1024];
  char *body;
  size_t len;
  bool done;
};

static int req_url(http_parser *p, const char *at, size_t n) {
  struct http_request *r = p->data;
  strncat(r->url, at, n < sizeof r->url - strlen(r->url) - 1 ? n : sizeof r->url - strlen(r->url) - 1);
  return 0;
}

static int req_body(http_parser *p, const char *at, size_t n) {
  struct http_request *r = p->data;
  r->body = realloc(r->body, r->len + n + 1);
  memcpy(r->body + r->len, at, n);
  r->len += n;
  return 0;
}

static int req_done(http_parser *p) {
  ((struct http_request *)p->data)->done = true;
  return 0;
}

static void serve_one(struct mini_server *m, int c) {
  static const http_parser_settings settings = {.on_url = req_url, .on_body = req_body,
                                                .on_message_complete = req_done};
  struct http_request r = {0};
  http_parser parser;
  http_parser_init(&parser, HTTP_REQUEST);
  parser.data = &r;
  char buf[65536];
  int64_t deadline = mk_now_us() / 1000 + 5000;
  while (!r.done && !atomic_load(&m->stop) && mk_now_us() / 1000 < deadline) {
    struct pollfd pfd = {c, POLLIN, 0};
    if (poll(&pfd, 1, 50) <= 0) continue;
    ssize_t n = recv(c, buf, sizeof buf, 0);
    if (n <= 0) break;
    http_parser_execute(&parser, &settings, buf, (size_t)n);
    if (parser.http_errno) break;
  }
  if (r.done) atomic_fetch_add(&m->requests, 1);
  while (m->silent && !atomic_load(&m->stop)) usleep(10000);
  if (r.done && !m->silent) {
    char *query = strchr(r.url, '?');
    if (query) *query++ = '\0';
    int status = 0;
    char *out = NULL;
    if (mk_schema_registry_handle(m->registry, http_method_str(parser.method), r.url, query, r.body,
                                  r.len, &status, &out) == 0) {
      char head[256];
      int hn = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                        "Connection: close\r\n\r\n", status, MK_SCHEMA_REGISTRY_CONTENT_TYPE, strlen(out));
      send(c, head, (size_t)hn, MSG_NOSIGNAL);
      send(c, out, strlen(out), MSG_NOSIGNAL);
      free(out);
    }
  }
  free(r.body);
  close(c);
}

static void *serve(void *arg) {
  struct mini_server *m = arg;
  while (!atomic_load(&m->stop)) {
    struct pollfd pfd = {m->fd, POLLIN, 0};
    if (poll(&pfd, 1, 50) <= 0) continue;
    int c = accept(m->fd, NULL, NULL);
    if (c >= 0) serve_one(m, c);
  }
  return NULL;
}

static void mini_start(struct mini_server *m, struct mk_schema_registry *r, bool silent) {
  *m = (struct mini_server){.registry = r, .silent = silent};
  m->fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  assert_int_equal(bind(m->fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(m->fd, 16), 0);
  assert_int_equal(getsockname(m->fd, (struct sockaddr *)&a, &len), 0);
  m->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&m->thread, NULL, serve, m), 0);
}

static void mini_stop(struct mini_server *m) {
  atomic_store(&m->stop, true);
  pthread_join(m->thread, NULL);
  close(m->fd);
}

/* A port nothing listens on: bound, then closed. */
static int dead_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  bind(fd, (struct sockaddr *)&a, sizeof a);
  getsockname(fd, (struct sockaddr *)&a, &len);
  close(fd);
  return ntohs(a.sin_port);
}

static void test_http_client_against_a_loopback_registry(void **state) {
  (void)state;
  struct mk_schema_registry *registry = mk_schema_registry_new(NULL, NULL);
  struct mini_server m;
  mini_start(&m, registry, false);
  char url[128];
  /* the first URL is down: the client goes on to the second, as Confluent's does */
  snprintf(url, sizeof url, "http://127.0.0.1:%d, http://127.0.0.1:%d/", dead_port(), m.port);
  struct mk_err err = {0};
  struct mk_schema_registry_client *c = mk_schema_registry_client_new(url, 2000, &err);
  assert_non_null(c);
  int id = 0;
  assert_int_equal(mk_schema_registry_client_register(c, "a/b", USER, false, &id, &err), 0);
  assert_int_equal(id, 1);
  assert_int_equal(mk_schema_registry_client_register(c, "a/b", USER, false, &id, &err), 0);  /* cached */
  assert_int_equal(atomic_load(&m.requests), 1);
  expect_registry(registry, "/subjects", "[\"a/b\"]");  /* %-encoded on the way */
  assert_int_equal(mk_schema_registry_client_lookup(c, "a/b", USER, false, &id, &err), 0);
  assert_int_equal(id, 1);
  const struct mk_avro_schema *s = NULL;
  assert_int_equal(mk_schema_registry_client_latest(c, "a/b", &id, &s, &err), 0);
  assert_string_equal(s->canonical, USER);
  assert_int_equal(mk_schema_registry_client_by_id(c, 1, &s, &err), 0);
  assert_string_equal(s->canonical, USER);
  /* register once; lookup answered by register's cache entry (the same id, as Confluent's
   * client shares one schema -> id cache); latest once; by_id from latest's schema */
  assert_int_equal(mk_schema_registry_client_requests(c), 2);
  /* the registry's errors come through with their codes */
  assert_int_equal(mk_schema_registry_client_register(
                       c, "a/b", "{\"type\":\"record\",\"name\":\"User\",\"fields\":[{\"name\":\"z\",\"type\":\"int\"}]}",
                       false, &id, &err), MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "is incompatible with an earlier schema");
  assert_contains(err.msg, "; error code: 409");
  assert_int_equal(mk_schema_registry_client_by_id(c, 42, &s, &err), MK_ERR__INVALID_ARG);
  assert_string_equal(err.msg, "Schema 42 not found; error code: 40403");
  mk_schema_registry_client_free(c);

  /* the serializer over HTTP, end to end */
  struct mk_avro_serde_config cfg = mk_avro_serde_config_default();
  snprintf(url, sizeof url, "http://localhost:%d", m.port);
  cfg.schema_registry_url = url;
  cfg.schema = USER;
  struct mk_avro_serializer *ser = mk_avro_serializer_new(&cfg, false, &err);
  assert_non_null(ser);
  struct fixture f = {.scratch = {0}};  /* only its scratch: the registry is over HTTP */
  struct mk_bytes out;
  assert_int_equal(run(&f, ser, false, "t", mk_value_string("{\"name\":\"Ann\",\"age\":30}"), &out, &err), 0);
  assert_bytes(&out, "\x00\x00\x00\x00\x01\x06" "Ann" "\x3c", 10);
  mk_writer_free(&f.scratch);
  mk_avro_serializer_free(ser);
  mini_stop(&m);
  mk_schema_registry_free(registry);
}

static void test_http_client_failures(void **state) {
  (void)state;
  struct mk_err err = {0};
  assert_null(mk_schema_registry_client_new("https://registry:8081", 1000, &err));
  assert_contains(err.msg, "is not an http:// URL (minikafka speaks no TLS)");
  assert_null(mk_schema_registry_client_new("", 1000, &err));
  assert_contains(err.msg, "Missing required configuration \"schema.registry.url\"");
  struct mk_avro_serde_config cfg = mk_avro_serde_config_default();
  assert_null(mk_avro_serializer_new(&cfg, false, &err));  /* no URL, no client */

  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", dead_port());
  struct mk_schema_registry_client *c = mk_schema_registry_client_new(url, 1000, &err);
  int id;
  assert_int_equal(mk_schema_registry_client_register(c, "s", "\"int\"", false, &id, &err), MK_ERR__TRANSPORT);
  assert_contains(err.msg, "cannot connect to 127.0.0.1:");
  mk_schema_registry_client_free(c);

  /* a server that never answers: the timeout bounds the wait */
  struct mk_schema_registry *registry = mk_schema_registry_new(NULL, NULL);
  struct mini_server m;
  mini_start(&m, registry, true);
  snprintf(url, sizeof url, "http://127.0.0.1:%d", m.port);
  c = mk_schema_registry_client_new(url, 300, &err);
  int64_t t0 = mk_now_us();
  assert_int_equal(mk_schema_registry_client_register(c, "s", "\"int\"", false, &id, &err), MK_ERR__TIMED_OUT);
  int64_t waited_ms = (mk_now_us() - t0) / 1000;
  assert_true(waited_ms >= 250 && waited_ms < 3000);
  assert_contains(err.msg, "no answer from 127.0.0.1:");
  mk_schema_registry_client_free(c);
  mini_stop(&m);
  mk_schema_registry_free(registry);
}

/* ---- a producer with value.serializer=AvroSerializer ------------------------------------- */

static atomic_int completed, failed;

static void on_complete(const struct mk_record_metadata *md, const struct mk_err *err, void *opaque) {
  (void)md, (void)opaque;
  atomic_fetch_add(&completed, 1);
  if (err->code) atomic_fetch_add(&failed, 1);
}

static void test_producer_with_avro_serializer_by_name(void **state) {
  (void)state;
  struct mk_broker *broker = NULL;
  assert_int_equal(test_broker_start(&broker, NULL), 0);
  struct mk_schema_registry *registry = mk_schema_registry_new(NULL, NULL);
  struct mini_server m;
  mini_start(&m, registry, false);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", m.port);
  struct mk_producer_config *cfg = mk_producer_config_new();
  struct mk_err err = {0};
  const char *settings[][2] = {{"bootstrap.servers", mk_broker_bootstrap(broker)},
                               {"key.serializer", "StringSerializer"},
                               {"value.serializer", "io.confluent.kafka.serializers.KafkaAvroSerializer"},
                               {"linger.ms", "0"}};
  for (size_t i = 0; i < 4; i++)
    assert_int_equal(mk_producer_config_set(cfg, settings[i][0], settings[i][1], &err), 0);
  assert_int_equal(mk_producer_config_finish(cfg, &err), 0);
  struct mk_producer *p = NULL;
  /* without schema.registry.url the serializer cannot be configured */
  assert_int_equal(mk_producer_new(cfg, &p, &err), MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "value.serializer AvroSerializer: Missing required configuration "
                           "\"schema.registry.url\"");
  assert_int_equal(mk_producer_config_set(cfg, "schema.registry.url", url, &err), 0);
  assert_int_equal(mk_producer_config_finish(cfg, &err), 0);
  assert_int_equal(mk_producer_new(cfg, &p, &err), 0);

  const char *good = "{\"name\":\"Ann\",\"age\":30}";
  struct mk_avro_record rec = {.json = good, .json_len = strlen(good), .schema = USER,
                               .schema_len = strlen(USER)};
  struct mk_producer_record r = {.topic = "avro-users", .partition = -1, .key = mk_value_string("k"),
                                 .value = mk_value_avro(&rec), .timestamp = -1};
  struct mk_future *f = NULL;
  assert_int_equal(mk_producer_send(p, &r, on_complete, NULL, &f, &err), 0);
  struct mk_record_metadata md;
  assert_int_equal(mk_future_get(f, 10000, &md, &err), 0);
  mk_future_free(f);
  assert_int_equal(md.serialized_value_size, 10);  /* 5-byte header + 5 bytes of Avro */

  /* a bad value: the send completes once, at once, with the field named */
  const char *bad = "{\"name\":\"Ann\",\"age\":\"thirty\"}";
  struct mk_avro_record bad_rec = {.json = bad, .json_len = strlen(bad), .schema = USER,
                                   .schema_len = strlen(USER)};
  r.value = mk_value_avro(&bad_rec);
  int rc = mk_producer_send(p, &r, on_complete, NULL, NULL, &err);
  assert_int_equal(rc, MK_ERR__INVALID_ARG);
  assert_contains(err.msg, "SerializationException: value.serializer AvroSerializer: field 'age'");
  assert_int_equal(atomic_load(&completed), 2);
  assert_int_equal(atomic_load(&failed), 1);
  assert_int_equal(mk_producer_close(p, 10000), 0);
  mk_producer_config_free(cfg);
  expect_registry(registry, "/subjects", "[\"avro-users-value\"]");
  assert_int_equal(atomic_load(&m.requests), 1);
  mini_stop(&m);
  mk_schema_registry_free(registry);
  mk_broker_stop(broker);
  mk_broker_free(broker);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_wire_format_and_one_registration),
      cmocka_unit_test(test_bad_value_names_the_field),
      cmocka_unit_test(test_generic_value_and_json_agree),
      cmocka_unit_test(test_lookup_without_auto_register),
      cmocka_unit_test(test_use_latest_version),
      cmocka_unit_test(test_deserializer),
      cmocka_unit_test(test_http_client_against_a_loopback_registry),
      cmocka_unit_test(test_http_client_failures),
      cmocka_unit_test(test_producer_with_avro_serializer_by_name),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
