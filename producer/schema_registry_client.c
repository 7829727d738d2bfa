/*
 * Schema registry client: the caches, the four REST calls, and the blocking HTTP/1.1
 * transport. See schema_registry_client.h.
 *
 *   a call       look in the cache; on a miss, send the request (the transport), read the
 *                JSON answer, cache it
 *   http_once    resolve, connect (non-blocking, so poll() can bound the wait), send the
 *                request, feed what comes back to http-parser until the message is complete
 *                or the deadline passes
 */
#define _GNU_SOURCE  /* asprintf */
#include "producer/schema_registry_client.h"

#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"

#define CONTENT_TYPE "application/vnd.schemaregistry.v1+json"

struct endpoint {
  char *host, *port, *base;  /* base: a path prefix, "" for none */
};

struct id_entry {
  char *subject, *schema;
  bool normalize, registered;  /* registered: by register(), else by lookup() */
  int id;
};

struct schema_entry {
  int id;
  struct mk_avro_schema *schema;
};

struct latest_entry {
  char *subject;
  int id;
  const struct mk_avro_schema *schema;  /* owned by the schemas cache */
};

struct mk_schema_registry_client {
  pthread_mutex_t lock;
  struct endpoint *endpoints;
  int num_endpoints;
  int timeout_ms;
  mk_schema_registry_transport_fn transport;
  void *transport_opaque;
  long requests;
  struct id_entry ids[MK_REGISTRY_CLIENT_CACHE];
  int num_ids;
  struct schema_entry schemas[MK_REGISTRY_CLIENT_CACHE];
  int num_schemas;
  struct latest_entry latest[MK_REGISTRY_CLIENT_CACHE];
  int num_latest;
};

/* ---- HTTP ------------------------------------------------------------------------------- */

struct response {
  char *body;
  size_t len;
  bool complete, too_big;
};

static int on_body(http_parser *p, const char *at, size_t len) {
  struct response *r = p->data;
  if (r->len + len > MK_REGISTRY_CLIENT_RESPONSE_MAX) {
    r->too_big = true;
    return 1;
  }
  char *b = realloc(r->body, r->len + len + 1);
  if (!b) return 1;
  memcpy(b + r->len, at, len);
  r->body = b;
  r->len += len;
  r->body[r->len] = '\0';
  return 0;
}

static int on_message_complete(http_parser *p) {
  ((struct response *)p->data)->complete = true;
  return 0;
}

static const http_parser_settings parser_settings = {.on_body = on_body,
                                                     .on_message_complete = on_message_complete};

static int remaining_ms(int64_t deadline_ms) {
  int64_t left = deadline_ms - mk_now_us() / 1000;
  return left < 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

/* Wait for fd to be ready for events; false at the deadline. */
static bool wait_fd(int fd, short events, int64_t deadline_ms) {
  for (;;) {
    struct pollfd pfd = {.fd = fd, .events = events};
    int n = poll(&pfd, 1, remaining_ms(deadline_ms));
    if (n > 0) return true;
    if (n == 0 || errno != EINTR) return false;
  }
}

/* A connected socket to e, or -1 with err. */
static int connect_to(const struct endpoint *e, int64_t deadline_ms, struct mk_err *err) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
  int rc = getaddrinfo(e->host, e->port, &hints, &res);
  if (rc) {
    mk_err_set(err, MK_ERR__TRANSPORT, "cannot resolve %s: %s", e->host, gai_strerror(rc));
    return -1;
  }
  int fd = -1;
  const char *why = "no address";
  for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline_ms) &&
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
      break;
    why = errno == EINPROGRESS && !soerr ? "timed out" : strerror(soerr ? soerr : errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0)
    mk_err_set(err, strcmp(why, "timed out") == 0 ? MK_ERR__TIMED_OUT : MK_ERR__TRANSPORT,
               "cannot connect to %s:%s: %s", e->host, e->port, why);
  return fd;
}

static int http_once(const struct endpoint *e, int timeout_ms, const char *method,
                     const char *path, const char *body, size_t body_len, int *status,
                     char **out, struct mk_err *err) {
  int64_t deadline = mk_now_us() / 1000 + timeout_ms;
  int fd = connect_to(e, deadline, err);
  if (fd < 0) return err ? err->code : MK_ERR__TRANSPORT;
  char *head = NULL;
  int head_len = asprintf(&head,
                          "%s %s%s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: " CONTENT_TYPE "\r\n"
                          "Accept: " CONTENT_TYPE ", application/json\r\n"
                          "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                          method, e->base, path, e->host, e->port, body_len);
  int rc = 0;
  if (head_len < 0) {
    close(fd);
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  }
  const char *parts[2] = {head, body};
  size_t sizes[2] = {(size_t)head_len, body ? body_len : 0};
  for (int i = 0; i < 2 && rc == 0; i++) {
    for (size_t sent = 0; sent < sizes[i] && rc == 0;) {
      ssize_t n = send(fd, parts[i] + sent, sizes[i] - sent, MSG_NOSIGNAL);
      if (n > 0) sent += (size_t)n;
      else if (n < 0 && errno == EINTR) continue;
      else if (n < 0 && errno == EAGAIN && wait_fd(fd, POLLOUT, deadline)) continue;
      else rc = mk_err_set(err, n < 0 && errno == EAGAIN ? MK_ERR__TIMED_OUT : MK_ERR__TRANSPORT,
                           "sending to %s:%s: %s", e->host, e->port,
                           n < 0 && errno == EAGAIN ? "timed out" : strerror(errno));
    }
  }
  free(head);
  struct response r = {0};
  http_parser parser;
  http_parser_init(&parser, HTTP_RESPONSE);
  parser.data = &r;
  char buf[16384];
  while (rc == 0 && !r.complete) {
    if (!wait_fd(fd, POLLIN, deadline)) {
      rc = mk_err_set(err, MK_ERR__TIMED_OUT, "no answer from %s:%s within %d ms", e->host,
                      e->port, timeout_ms);
      break;
    }
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) {
      rc = mk_err_set(err, MK_ERR__TRANSPORT, "reading from %s:%s: %s", e->host, e->port,
                      strerror(errno));
      break;
    }
    size_t used = http_parser_execute(&parser, &parser_settings, buf, (size_t)n);
    if (r.too_big)
      rc = mk_err_set(err, MK_ERR__DECODE, "the answer from %s:%s is over %d bytes", e->host,
                      e->port, MK_REGISTRY_CLIENT_RESPONSE_MAX);
    else if (parser.http_errno != HPE_OK || used != (size_t)n)
      rc = mk_err_set(err, MK_ERR__DECODE, "%s:%s answered with bad HTTP: %s", e->host, e->port,
                      http_errno_description(HTTP_PARSER_ERRNO(&parser)));
    else if (n == 0 && !r.complete)
      rc = mk_err_set(err, MK_ERR__TRANSPORT, "%s:%s closed the connection before answering",
                      e->host, e->port);
  }
  close(fd);
  if (rc) {
    free(r.body);
    return rc;
  }
  *status = parser.status_code;
  *out = r.body ? r.body : strdup("");
  return *out ? 0 : mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
}

/* The default transport: each endpoint in turn until one can be reached. */
static int http_transport(void *opaque, const char *method, const char *path, const char *body,
                          size_t body_len, int *status, char **response, struct mk_err *err) {
  struct mk_schema_registry_client *c = opaque;
  int rc = MK_ERR__TRANSPORT;
  for (int i = 0; i < c->num_endpoints; i++) {
    rc = http_once(&c->endpoints[i], c->timeout_ms, method, path, body, body_len, status,
                   response, err);
    if (rc != MK_ERR__TRANSPORT && rc != MK_ERR__TIMED_OUT) return rc;
  }
  return rc;
}

/* ---- creating --------------------------------------------------------------------------- */

static bool parse_endpoint(const char *url, size_t n, struct endpoint *e, struct mk_err *err) {
  char *u = strndup(url, n);
  if (!u) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory"), false;
  char *p = u;
  while (*p == ' ') p++;
  char *end = p + strlen(p);
  while (end > p && end[-1] == ' ') *--end = '\0';
  bool ok = strncmp(p, "http://", 7) == 0;
  if (!ok) {
    mk_err_set(err, MK_ERR__INVALID_ARG, "schema.registry.url: \"%.80s\" is not an http:// URL%s",
               p, strncmp(p, "https://", 8) == 0 ? " (minikafka speaks no TLS)" : "");
    free(u);
    return false;
  }
  char *host = p + 7, *slash = strchr(host, '/');
  char *base = slash ? strdup(slash) : strdup("");
  if (slash) *slash = '\0';
  char *colon = host[0] == '[' ? strstr(host, "]:") : strrchr(host, ':');
  if (colon && host[0] == '[') colon++;
  char *port = colon ? strdup(colon + 1) : strdup("80");
  if (colon) *colon = '\0';
  if (host[0] == '[') {  /* [::1] */
    host++;
    char *close_bracket = strchr(host, ']');
    if (close_bracket) *close_bracket = '\0';
  }
  char *h = strdup(host);
  if (base && *base && base[strlen(base) - 1] == '/') base[strlen(base) - 1] = '\0';
  ok = h && port && base && *h && *port;
  if (ok) {
    *e = (struct endpoint){h, port, base};
  } else {
    mk_err_set(err, MK_ERR__INVALID_ARG, "schema.registry.url: \"%.80s\" names no host", url);
    free(h), free(port), free(base);
  }
  free(u);
  return ok;
}

static struct mk_schema_registry_client *alloc_client(void) {
  struct mk_schema_registry_client *c = calloc(1, sizeof *c);
  if (c) pthread_mutex_init(&c->lock, NULL);
  return c;
}

struct mk_schema_registry_client *mk_schema_registry_client_new(const char *url, int timeout_ms,
                                                                struct mk_err *err) {
  if (!url || !*url) {
    mk_err_set(err, MK_ERR__INVALID_ARG, "Missing required configuration \"schema.registry.url\" "
               "which has no default value.");
    return NULL;
  }
  struct mk_schema_registry_client *c = alloc_client();
  if (!c) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory"), NULL;
  c->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
  c->transport = http_transport;
  c->transport_opaque = c;
  for (const char *p = url; *p;) {
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    struct endpoint *v = realloc(c->endpoints, (size_t)(c->num_endpoints + 1) * sizeof *v);
    if (!v) {
      mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
      mk_schema_registry_client_free(c);
      return NULL;
    }
    c->endpoints = v;
    if (!parse_endpoint(p, n, &c->endpoints[c->num_endpoints], err)) {
      mk_schema_registry_client_free(c);
      return NULL;
    }
    c->num_endpoints++;
    p = comma ? comma + 1 : p + n;
  }
  return c;
}

struct mk_schema_registry_client *mk_schema_registry_client_new_with(
    mk_schema_registry_transport_fn transport, void *opaque) {
  struct mk_schema_registry_client *c = alloc_client();
  if (!c) return NULL;
  c->transport = transport;
  c->transport_opaque = opaque;
  return c;
}

void mk_schema_registry_client_free(struct mk_schema_registry_client *c) {
  if (!c) return;
  for (int i = 0; i < c->num_endpoints; i++)
    free(c->endpoints[i].host), free(c->endpoints[i].port), free(c->endpoints[i].base);
  free(c->endpoints);
  for (int i = 0; i < c->num_ids; i++) free(c->ids[i].subject), free(c->ids[i].schema);
  for (int i = 0; i < c->num_schemas; i++) mk_avro_schema_free(c->schemas[i].schema);
  for (int i = 0; i < c->num_latest; i++) free(c->latest[i].subject);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

long mk_schema_registry_client_requests(struct mk_schema_registry_client *c) {
  pthread_mutex_lock(&c->lock);
  long n = c->requests;
  pthread_mutex_unlock(&c->lock);
  return n;
}

/* ---- the REST calls (c->lock held) ------------------------------------------------------ */

/* "/subjects/<subject %-encoded>" + rest */
static char *subject_path(const char *subject, const char *rest) {
  size_t n = strlen(subject);
  char *p = malloc(10 + 3 * n + strlen(rest) + 1);
  if (!p) return NULL;
  size_t k = (size_t)sprintf(p, "/subjects/");
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)subject[i];
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
        ch == '-' || ch == '_' || ch == '.' || ch == '~')
      p[k++] = (char)ch;
    else
      k += (size_t)sprintf(p + k, "%%%02X", ch);
  }
  strcpy(p + k, rest);
  return p;
}

int mk_schema_registry_client_request(struct mk_schema_registry_client *c, const char *method,
                                      const char *path, const char *body, int *status,
                                      char **response, struct mk_err *err) {
  pthread_mutex_lock(&c->lock);
  c->requests++;
  int rc = c->transport(c->transport_opaque, method, path, body, body ? strlen(body) : 0, status,
                        response, err);
  pthread_mutex_unlock(&c->lock);
  return rc;
}

/* Send one request and parse the JSON answer; a registry error becomes err. */
static int rest_call(struct mk_schema_registry_client *c, const char *method, const char *path,
                     json_t *body, json_t **answer, struct mk_err *err) {
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  if (body && !text) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  int status = 0;
  char *response = NULL;
  c->requests++;
  int rc = c->transport(c->transport_opaque, method, path, text, text ? strlen(text) : 0,
                        &status, &response, err);
  free(text);
  if (rc) return rc;
  json_error_t jerr;
  json_t *j = json_loads(response, JSON_DECODE_ANY, &jerr);
  if (status / 100 != 2) {
    const char *msg = json_string_value(json_object_get(j, "message"));
    rc = mk_err_set(err, MK_ERR__INVALID_ARG, "%.120s; error code: %lld", msg ? msg : response,
                    (long long)(j ? json_integer_value(json_object_get(j, "error_code")) : status));
  } else if (!j) {
    rc = mk_err_set(err, MK_ERR__DECODE, "the registry's answer to %s %.60s is not JSON", method, path);
  } else {
    *answer = j;
    j = NULL;
  }
  json_decref(j);
  free(response);
  return rc;
}

/* register (POST .../versions) or lookup (POST /subjects/{s}) */
static int get_id(struct mk_schema_registry_client *c, bool registering, const char *subject,
                  const char *schema, bool normalize, int *id, struct mk_err *err) {
  pthread_mutex_lock(&c->lock);
  for (int i = 0; i < c->num_ids; i++) {
    const struct id_entry *e = &c->ids[i];
    if (e->normalize == normalize && strcmp(e->subject, subject) == 0 &&
        strcmp(e->schema, schema) == 0) {
      *id = e->id;
      pthread_mutex_unlock(&c->lock);
      return 0;
    }
  }
  char *path = subject_path(subject, registering ? (normalize ? "/versions?normalize=true" : "/versions")
                                                 : (normalize ? "?normalize=true" : ""));
  json_t *body = json_pack("{s:s}", "schema", schema), *answer = NULL;
  int rc = path && body ? rest_call(c, "POST", path, body, &answer, err)
                        : mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  json_t *jid = json_object_get(answer, "id");
  if (rc == 0 && (!json_is_integer(jid) || json_integer_value(jid) < 0 || json_integer_value(jid) > INT32_MAX))
    rc = mk_err_set(err, MK_ERR__DECODE, "the registry's answer has no schema \"id\"");
  if (rc == 0) {
    *id = (int)json_integer_value(jid);
    if (c->num_ids < MK_REGISTRY_CLIENT_CACHE) {
      struct id_entry *e = &c->ids[c->num_ids];
      *e = (struct id_entry){strdup(subject), strdup(schema), normalize, registering, *id};
      if (e->subject && e->schema) c->num_ids++;
      else free(e->subject), free(e->schema);
    }
  }
  json_decref(answer);
  json_decref(body);
  free(path);
  pthread_mutex_unlock(&c->lock);
  return rc;
}

int mk_schema_registry_client_register(struct mk_schema_registry_client *c, const char *subject,
                                       const char *schema, bool normalize, int *id,
                                       struct mk_err *err) {
  return get_id(c, true, subject, schema, normalize, id, err);
}

int mk_schema_registry_client_lookup(struct mk_schema_registry_client *c, const char *subject,
                                     const char *schema, bool normalize, int *id,
                                     struct mk_err *err) {
  return get_id(c, false, subject, schema, normalize, id, err);
}

/* Cache text as schema id (c->lock held); *out is the cached, parsed schema. */
static int cache_schema(struct mk_schema_registry_client *c, int id, const char *text,
                        const struct mk_avro_schema **out, struct mk_err *err) {
  for (int i = 0; i < c->num_schemas; i++)
    if (c->schemas[i].id == id) return *out = c->schemas[i].schema, 0;
  struct mk_avro_schema *s = NULL;
  struct mk_err perr = {0};
  if (mk_avro_schema_parse(text, strlen(text), false, &s, &perr))
    return mk_err_set(err, MK_ERR__DECODE, "schema %d from the registry does not parse: %.120s",
                      id, perr.msg);
  if (c->num_schemas == MK_REGISTRY_CLIENT_CACHE) {  /* callers hold pointers into it: no
                                                       * eviction, a clear refusal instead */
    mk_avro_schema_free(s);
    return mk_err_set(err, MK_ERR__STATE, "the client's schema cache is full (%d schemas)",
                      MK_REGISTRY_CLIENT_CACHE);
  }
  c->schemas[c->num_schemas++] = (struct schema_entry){id, s};
  *out = s;
  return 0;
}

int mk_schema_registry_client_by_id(struct mk_schema_registry_client *c, int id,
                                    const struct mk_avro_schema **schema, struct mk_err *err) {
  pthread_mutex_lock(&c->lock);
  for (int i = 0; i < c->num_schemas; i++)
    if (c->schemas[i].id == id) {
      *schema = c->schemas[i].schema;
      pthread_mutex_unlock(&c->lock);
      return 0;
    }
  char path[64];
  snprintf(path, sizeof path, "/schemas/ids/%d", id);
  json_t *answer = NULL;
  int rc = rest_call(c, "GET", path, NULL, &answer, err);
  const char *text = json_string_value(json_object_get(answer, "schema"));
  if (rc == 0 && !text) rc = mk_err_set(err, MK_ERR__DECODE, "the registry's answer has no \"schema\"");
  if (rc == 0) rc = cache_schema(c, id, text, schema, err);
  json_decref(answer);
  pthread_mutex_unlock(&c->lock);
  return rc;
}

int mk_schema_registry_client_latest(struct mk_schema_registry_client *c, const char *subject,
                                     int *id, const struct mk_avro_schema **schema,
                                     struct mk_err *err) {
  pthread_mutex_lock(&c->lock);
  for (int i = 0; i < c->num_latest; i++)
    if (strcmp(c->latest[i].subject, subject) == 0) {
      *id = c->latest[i].id;
      *schema = c->latest[i].schema;
      pthread_mutex_unlock(&c->lock);
      return 0;
    }
  char *path = subject_path(subject, "/versions/latest");
  json_t *answer = NULL;
  int rc = path ? rest_call(c, "GET", path, NULL, &answer, err)
                : mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  json_t *jid = json_object_get(answer, "id");
  const char *text = json_string_value(json_object_get(answer, "schema"));
  if (rc == 0 && (!json_is_integer(jid) || !text))
    rc = mk_err_set(err, MK_ERR__DECODE, "the registry's answer has no \"id\" and \"schema\"");
  if (rc == 0) rc = cache_schema(c, (int)json_integer_value(jid), text, schema, err);
  if (rc == 0) {
    *id = (int)json_integer_value(jid);
    if (c->num_latest < MK_REGISTRY_CLIENT_CACHE && (c->latest[c->num_latest].subject = strdup(subject))) {
      c->latest[c->num_latest].id = *id;
      c->latest[c->num_latest++].schema = *schema;
    }
  }
  json_decref(answer);
  free(path);
  pthread_mutex_unlock(&c->lock);
  return rc;
}
