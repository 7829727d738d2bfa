/*
 * Admin HTTP: a small HTTP/1.1 server on the broker loop. See admin_http.h for the
 * endpoints, README.md for curl examples.
 *
 * Parsing is Node's http-parser (Debian's libhttp-parser-dev), not ours: it feeds us the
 * URL, headers and body of each request, through callbacks, from whatever bytes arrive.
 * A connection lives through these modes:
 *
 *   REQUESTS  --GET /v1/events-->  STREAM  (the trace, until the client hangs up)
 *      |                                     or until it falls 1 MiB behind
 *      +--error, or "Connection: close"-->  CLOSING: the answer is sent, our side shut
 *                                            down, and what the client still sends is
 *                                            read and dropped for up to 2 s ("lingering
 *                                            close"), so our answer is not lost to a TCP
 *                                            reset while the client is still sending
 *
 * In REQUESTS mode requests are answered in order as each one completes, so keep-alive
 * and pipelining just work. Limits, each answered with a 4xx JSON error: a body over
 * 1 MiB (413), a URL over 2 KiB (414), headers over http-parser's 80 KiB (431), bytes
 * that are not HTTP (400), more than 64 connections (503). A connection idle for 60 s is
 * closed, and so is one that sends requests without reading the answers (4 MiB unsent).
 * Requests carrying a non-loopback Origin (a web page of another site) are refused (403).
 *
 * The event stream. Trace sinks (common/trace.h) run on whichever thread emits the event:
 * the broker loop, or a producer's Sender thread when the broker is embedded. So the one
 * sink this server attaches (while at least one client streams) only appends the line to
 * a buffer under a mutex and wakes the loop with a uv_async_t; on the loop, the buffered
 * events go to every streaming client as one shared, reference-counted chunk. A client
 * that reads too slowly is not allowed to hold the loop or grow memory without bound: when
 * more than 1 MiB of events waits unsent on its socket, it is dropped.
 *
 * Thread: broker loop, except on_trace_line (any thread) and the mk_broker_admin_* calls.
 * Memory: a connection is freed when both its socket and its timer have closed.
 */
#include "broker/admin_http.h"
#include "broker/broker_internal.h"

#include <http_parser.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "broker/admin_state.h"
#include "broker/controller.h"
#include "common/log.h"
#include "common/trace.h"

enum {
  BODY_MAX = 1 << 20,           /* request bodies; more is 413 */
  URL_MAX = 2048,               /* more is 414 */
  HEADER_VALUE_MAX = 256,       /* the headers we read (Expect, Origin) are cut here */
  READ_BUF_SIZE = 64 * 1024,
  MAX_CONNS = 64,               /* more are refused with 503 */
  IDLE_MS = 60 * 1000,          /* a keep-alive connection with no request for this long */
  LINGER_MS = 2000,             /* how long to drain a closing connection */
  STREAM_CLIENT_MAX = 1 << 20,  /* unsent event bytes one client may hold */
  ANSWERS_MAX = 4 << 20,        /* unsent answers a client may leave before its next request */
  STREAM_PENDING_MAX = 4 << 20, /* events buffered between two loop turns */
};

/* A run of SSE lines shared by every streaming client's writes. */
struct chunk {
  int refs;
  size_t len, cap;
  char data[];
};

enum mode { REQUESTS, STREAM, CLOSING };
enum header { H_OTHER, H_EXPECT, H_ORIGIN };

struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;             /* idle timeout, then the linger deadline */
  uv_shutdown_t shutdown;
  struct mk_admin_http *server;
  struct conn *next;            /* server->conns */
  enum mode mode;
  bool closing;                 /* uv_close called; waiting for the callbacks */
  bool must_close;              /* the next answer is the last (the input is unusable) */
  int open_handles;             /* tcp and timer: freed when both have closed */
  char peer[64];
  http_parser parser;
  /* The request being parsed; reset by on_message_begin. */
  char url[URL_MAX + 1];
  size_t url_len;
  bool url_too_long;
  enum header header;           /* which header the value callbacks are filling */
  bool header_done;             /* the last callback was a value: the next field is new */
  char field[32];
  size_t field_len;
  char expect[HEADER_VALUE_MAX], origin[HEADER_VALUE_MAX];
  char *body;
  size_t body_len, body_cap;
};

struct mk_admin_http {
  struct mk_broker *broker;
  uv_tcp_t listener;
  bool listening;               /* listener initialised (so it must be closed) */
  bool closed;
  int port;
  char url[96];
  struct conn *conns;
  int nconns;
  int nstreams;                 /* connections in STREAM mode */
  char read_buf[READ_BUF_SIZE]; /* every read lands here; the parser copies what it keeps */
  /* The event stream: pending is filled by on_trace_line (any thread), emptied on the loop. */
  uv_async_t events;
  bool events_init;
  int sink;                     /* trace sink id while nstreams > 0, else -1 */
  pthread_mutex_t lock;         /* guards pending and dropped */
  struct chunk *pending;
  uint64_t dropped;
};

/* ---- the server of a broker ---------------------------------------------------------------- */

int mk_broker_admin_port(const struct mk_broker *b) {
  const struct mk_admin_http *s = b->admin;
  return s && s->listening ? s->port : -1;
}

const char *mk_broker_admin_url(const struct mk_broker *b) {
  const struct mk_admin_http *s = b->admin;
  return s && s->listening ? s->url : NULL;
}

/* ---- writing ------------------------------------------------------------------------------ */

struct write_req {
  uv_write_t w;
  char *owned;          /* freed when written, or */
  struct chunk *chunk;  /* unreferenced when written */
};

static void chunk_unref(struct chunk *k) {
  if (k && --k->refs == 0) free(k);
}

static void conn_close(struct conn *c, const char *why);

static void on_written(uv_write_t *w, int status) {
  struct write_req *wr = (struct write_req *)w;
  struct conn *c = w->handle->data;
  free(wr->owned);
  chunk_unref(wr->chunk);
  free(wr);
  if (status < 0 && status != UV_ECANCELED && !c->closing) conn_close(c, uv_strerror(status));
}

/* Send len bytes at p, which belong to owned (freed here or once written) or to chunk
 * (one reference taken while a write holds it). uv_try_write sends at once what the
 * socket takes; only the rest is queued. */
static void send_bytes(struct conn *c, const char *p, size_t len, char *owned,
                       struct chunk *chunk) {
  if (c->closing) {
    free(owned);
    return;
  }
  uv_buf_t buf = uv_buf_init((char *)p, (unsigned)len);
  int n = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
  if (n == (int)len) {
    free(owned);
    return;
  }
  if (n < 0 && n != UV_EAGAIN) {
    free(owned);
    conn_close(c, uv_strerror(n));
    return;
  }
  size_t sent = n > 0 ? (size_t)n : 0;
  struct write_req *wr = malloc(sizeof *wr);
  if (!wr) {
    free(owned);
    conn_close(c, "out of memory");
    return;
  }
  wr->owned = owned;
  wr->chunk = chunk;
  if (chunk) chunk->refs++;
  buf = uv_buf_init((char *)p + sent, (unsigned)(len - sent));
  int rc = uv_write(&wr->w, (uv_stream_t *)&c->tcp, &buf, 1, on_written);
  if (rc) {
    free(owned);
    chunk_unref(chunk);
    free(wr);
    conn_close(c, uv_strerror(rc));
  }
}

/* ---- connections -------------------------------------------------------------------------- */

static void stream_detach(struct conn *c);

static void on_handle_closed(uv_handle_t *h) {
  struct conn *c = h->data;
  if (--c->open_handles > 0) return;
  free(c->body);
  free(c);
}

/* Close now (why: a log line, or NULL for an ordinary close). */
static void conn_close(struct conn *c, const char *why) {
  if (c->closing) return;
  c->closing = true;
  if (why) mk_log(MK_LOG_WARN, "admin", "closing admin connection %s: %s", c->peer, why);
  if (c->mode == STREAM) stream_detach(c);
  for (struct conn **pp = &c->server->conns; *pp; pp = &(*pp)->next) {
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  }
  c->server->nconns--;
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_timer(uv_timer_t *t) {
  struct conn *c = t->data;
  conn_close(c, NULL);  /* idle too long, or done lingering */
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  struct conn *c = req->data;
  if (status == UV_ECANCELED || c->closing) return;
  if (status < 0) {
    conn_close(c, NULL);
    return;
  }
  uv_timer_start(&c->timer, on_timer, LINGER_MS, 0);
}

/* After the last answer: shut down our side once it is written, then drain (see top). */
static void begin_close(struct conn *c) {
  if (c->closing || c->mode == CLOSING) return;
  c->mode = CLOSING;
  uv_timer_start(&c->timer, on_timer, LINGER_MS, 0);  /* in case the shutdown never ends */
  c->shutdown.data = c;
  if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0) conn_close(c, NULL);
}

/* ---- answers ------------------------------------------------------------------------------ */

/* Send one response; close the connection after it unless keep-alive applies (the client
 * asked for it, and what it sent can still be parsed). extra is more header lines
 * ("Allow: GET\r\n") or "". */
static void respond(struct conn *c, int status, const char *extra, const char *body,
                    size_t len) {
  bool keep = c->mode == REQUESTS && !c->must_close && http_should_keep_alive(&c->parser);
  char head[512];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\nCache-Control: no-store\r\nConnection: %s\r\n%s\r\n",
                   status, http_status_str((enum http_status)status), len,
                   keep ? "keep-alive" : "close", extra);
  char *buf = malloc((size_t)n + len);
  if (!buf) {
    conn_close(c, "out of memory for a response");
    return;
  }
  memcpy(buf, head, (size_t)n);
  memcpy(buf + n, body, len);
  send_bytes(c, buf, (size_t)n + len, buf, NULL);
  if (!keep) begin_close(c);
}

/* Answer with j as the body (takes j; NULL means out of memory). ?pretty in the URL
 * indents it for people. extra as for respond(). */
static void respond_json_with(struct conn *c, int status, const char *extra, json_t *j) {
  const char *query = strchr(c->url, '?');
  bool pretty = query && strstr(query, "pretty");
  char *text = j ? json_dumps(j, pretty ? JSON_INDENT(2) : JSON_COMPACT) : NULL;
  json_decref(j);
  size_t len = text ? strlen(text) : 0;
  char *body = text ? realloc(text, len + 1) : NULL;  /* room for a newline, for terminals */
  if (!body) {
    free(text);
    static const char oom[] = "{\"error\":\"unavailable\",\"message\":\"out of memory\"}\n";
    respond(c, 503, "", oom, sizeof oom - 1);
    return;
  }
  body[len] = '\n';
  respond(c, status, extra, body, len + 1);
  free(body);
}

static void respond_json(struct conn *c, int status, json_t *j) {
  respond_json_with(c, status, "", j);
}

/* The error body every 4xx carries: {"error": error, "message": ...}. */
__attribute__((format(printf, 5, 6))) static void respond_error(struct conn *c, int status,
                                                                const char *extra,
                                                                const char *error,
                                                                const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* Messages quote what the client sent (a path, a topic name's first bad byte), which
   * need not be UTF-8; JSON strings must be. */
  for (char *q = msg; *q; q++)
    if ((unsigned char)*q >= 0x80 || (unsigned char)*q < 0x20) *q = '?';
  respond_json_with(c, status, extra, json_pack("{s:s, s:s}", "error", error, "message", msg));
}

/* A failed state change, by its error code: ours (negative) or Kafka's. */
static void respond_failure(struct conn *c, int code, const struct mk_err *err) {
  switch (code) {
  case MK_ERR__INVALID_ARG: respond_error(c, 400, "", "invalid_request", "%s", err->msg); break;
  case MK_ERR__STATE: respond_error(c, 409, "", "conflict", "%s", err->msg); break;
  case MK_ERR__NO_MEMORY: respond_error(c, 503, "", "unavailable", "%s", err->msg); break;
  case MK_ERR_TOPIC_ALREADY_EXISTS:
    respond_error(c, 409, "", mk_err_name(code), "%s", err->msg);
    break;
  case MK_ERR_UNKNOWN_TOPIC_OR_PARTITION:
    respond_error(c, 404, "", mk_err_name(code), "%s", err->msg);
    break;
  default: respond_error(c, 400, "", mk_err_name(code), "%s", err->msg); break;
  }
}

/* Parse the body as a JSON object, or answer 400 and return NULL. Returns new. */
static json_t *body_object(struct conn *c, const char *example) {
  if (c->body_len == 0) {
    respond_error(c, 400, "", "bad_json", "the body is empty; send a JSON object, e.g. %s",
                  example);
    return NULL;
  }
  json_error_t je;
  json_t *j = json_loadb(c->body, c->body_len, JSON_REJECT_DUPLICATES, &je);
  if (!j) {
    respond_error(c, 400, "", "bad_json", "the body is not JSON: %s (line %d, column %d)",
                  je.text, je.line, je.column);
    return NULL;
  }
  if (!json_is_object(j)) {
    json_decref(j);
    respond_error(c, 400, "", "invalid_request", "the body must be a JSON object, e.g. %s",
                  example);
    return NULL;
  }
  return j;
}

/* ---- the event stream --------------------------------------------------------------------- */

/* Any thread, with the trace lock held (trace.h): buffer the line as one SSE event and
 * wake the loop. A full buffer drops the event and counts it. */
static void on_trace_line(void *opaque, const char *line, size_t len) {
  struct mk_admin_http *s = opaque;
  size_t need = len + 8;  /* "data: " line "\n\n" */
  pthread_mutex_lock(&s->lock);
  struct chunk *k = s->pending;
  size_t used = k ? k->len : 0;
  if (used + need > STREAM_PENDING_MAX) {
    s->dropped++;
  } else {
    if (!k || k->cap < used + need) {
      size_t cap = k ? k->cap * 2 : 16 * 1024;
      while (cap < used + need) cap *= 2;
      struct chunk *grown = realloc(k, sizeof *k + cap);
      if (grown) {
        if (!k) grown->len = 0;
        grown->refs = 1;
        grown->cap = cap;
        k = s->pending = grown;
      } else {
        k = NULL;
      }
    }
    if (k) {
      memcpy(k->data + k->len, "data: ", 6);
      memcpy(k->data + k->len + 6, line, len);
      memcpy(k->data + k->len + 6 + len, "\n\n", 2);
      k->len += need;
    } else {
      s->dropped++;
    }
  }
  pthread_mutex_unlock(&s->lock);
  uv_async_send(&s->events);
}

/* On the loop: hand the buffered events to every streaming client. */
static void on_events(uv_async_t *a) {
  struct mk_admin_http *s = a->data;
  pthread_mutex_lock(&s->lock);
  struct chunk *k = s->pending;
  uint64_t dropped = s->dropped;
  s->pending = NULL;
  s->dropped = 0;
  pthread_mutex_unlock(&s->lock);
  struct conn *next;
  for (struct conn *c = s->conns; c; c = next) {
    next = c->next;  /* c may close below */
    if (c->mode != STREAM) continue;
    if (dropped) {
      char note[96];
      int n = snprintf(note, sizeof note,
                       ": %llu events dropped (the admin server fell behind)\n\n",
                       (unsigned long long)dropped);
      char *copy = malloc((size_t)n);
      if (copy) {
        memcpy(copy, note, (size_t)n);
        send_bytes(c, copy, (size_t)n, copy, NULL);
      }
    }
    if (k && !c->closing) send_bytes(c, k->data, k->len, NULL, k);
    size_t unsent = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
    if (!c->closing && unsent > STREAM_CLIENT_MAX) {
      char why[128];
      snprintf(why, sizeof why, "event stream client too slow: %zu bytes unsent (limit %d)",
               unsent, STREAM_CLIENT_MAX);
      conn_close(c, why);
    }
  }
  chunk_unref(k);
}

/* GET /v1/events: answer with the stream's head and switch the connection to STREAM. */
static void stream_attach(struct conn *c) {
  struct mk_admin_http *s = c->server;
  if (s->sink < 0) {
    s->sink = mk_trace_add_sink(on_trace_line, s);
    if (s->sink < 0) {
      respond_error(c, 503, "", "unavailable",
                    "no free trace sink for an event stream (the trace has 16)");
      return;
    }
  }
  s->nstreams++;
  c->mode = STREAM;
  uv_timer_stop(&c->timer);  /* a stream may be quiet for as long as it likes */
  static const char head[] =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
      "Connection: close\r\n\r\n"
      ": minikafka trace events, one per data line (DESIGN.md 3.4)\n\n";
  char *copy = malloc(sizeof head - 1);
  if (!copy) {
    conn_close(c, "out of memory");
    return;
  }
  memcpy(copy, head, sizeof head - 1);
  send_bytes(c, copy, sizeof head - 1, copy, NULL);
}

/* The last streaming client gone: detach the sink, so the trace costs nothing again. */
static void stream_detach(struct conn *c) {
  struct mk_admin_http *s = c->server;
  if (--s->nstreams > 0 || s->sink < 0) return;
  mk_trace_remove_sink(s->sink);  /* waits for a sink call in progress on another thread */
  s->sink = -1;
  pthread_mutex_lock(&s->lock);
  free(s->pending);
  s->pending = NULL;
  s->dropped = 0;
  pthread_mutex_unlock(&s->lock);
}

/* ---- the endpoints ------------------------------------------------------------------------ */

static void get_cluster(struct conn *c) {
  respond_json(c, 200, mk_admin_state_cluster(c->server->broker));
}

static void get_producers(struct conn *c) {
  respond_json(c, 200, mk_admin_state_producers(c->server->broker));
}

static void get_groups(struct conn *c) {
  respond_json(c, 200, mk_admin_state_groups(c->server->broker));
}

static void get_events(struct conn *c) { stream_attach(c); }

static void get_faults(struct conn *c) {
  char *text = mk_faults_list_json(&c->server->broker->faults);
  json_t *j = text ? json_loads(text, 0, NULL) : NULL;
  free(text);
  respond_json(c, 200, j);
}

static void post_faults(struct conn *c) {
  json_t *fault = body_object(c, "{\"action\": \"broker_down\", \"broker\": 1}");
  if (!fault) return;
  struct mk_err err = {0};
  int id = -1;
  int rc = mk_fault_inject(c->server->broker, c->body, c->body_len, &id, &err);
  if (rc) {
    json_decref(fault);
    respond_failure(c, rc, &err);
    return;
  }
  /* Answer with the fault as the list shows it (for broker_down and the other immediate
   * actions, that includes what it did), or else as posted. */
  char *text = mk_faults_list_json(&c->server->broker->faults);
  json_t *list = text ? json_loads(text, 0, NULL) : NULL, *entry = NULL, *item;
  size_t i;
  free(text);
  json_array_foreach(list, i, item) {
    if (json_integer_value(json_object_get(item, "id")) == id) entry = json_incref(item);
  }
  json_decref(list);
  if (entry)
    json_decref(fault);
  else
    entry = json_pack("{s:i, s:o}", "id", id, "fault", fault);
  respond_json(c, 201, entry);
}

static void delete_faults(struct conn *c) {
  mk_faults_clear(&c->server->broker->faults);
  respond_json(c, 200, json_pack("{s:b}", "cleared", 1));
}

static void post_topics(struct conn *c) {
  json_t *body = body_object(c, "{\"name\": \"t\", \"partitions\": 3, \"replication_factor\": 3}");
  if (!body) return;
  struct mk_err err = {0};
  json_t *topic = NULL;
  int rc = mk_admin_state_create_topic(c->server->broker, body, &topic, &err);
  json_decref(body);
  if (rc)
    respond_failure(c, rc, &err);
  else
    respond_json(c, 201, topic);
}

static const struct route {
  const char *path;
  enum http_method method;
  void (*fn)(struct conn *c);
} routes[] = {
  {"/v1/cluster", HTTP_GET, get_cluster},
  {"/v1/producers", HTTP_GET, get_producers},
  {"/v1/groups", HTTP_GET, get_groups},
  {"/v1/events", HTTP_GET, get_events},
  {"/v1/faults", HTTP_GET, get_faults},
  {"/v1/faults", HTTP_POST, post_faults},
  {"/v1/faults", HTTP_DELETE, delete_faults},
  {"/v1/topics", HTTP_POST, post_topics},
};
enum { NROUTES = sizeof routes / sizeof routes[0] };

/* A browser page from another site may send "simple" requests to a loopback port, which
 * would let any web page inject faults. Browsers say where a request comes from in Origin;
 * curl and scripts send none. So: no Origin, or a loopback one. */
static bool origin_allowed(const char *origin) {
  if (!origin[0]) return true;
  static const char *const ok[] = {"http://127.0.0.1", "http://localhost", "http://[::1]"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    size_t n = strlen(ok[i]);
    if (strncmp(origin, ok[i], n) == 0 && (origin[n] == '\0' || origin[n] == ':')) return true;
  }
  return false;
}

/* One complete request: find its endpoint and answer. */
static void dispatch(struct conn *c) {
  enum http_method method = (enum http_method)c->parser.method;
  if (c->url_too_long) {
    respond_error(c, 414, "", "uri_too_long", "the URL is longer than %d bytes", URL_MAX);
    return;
  }
  if (!origin_allowed(c->origin)) {
    respond_error(c, 403, "", "forbidden",
                  "requests from web pages of other sites (Origin: %.100s) are refused",
                  c->origin);
    return;
  }
  struct http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(c->url, c->url_len, method == HTTP_CONNECT, &u) != 0 ||
      !(u.field_set & (1 << UF_PATH))) {
    respond_error(c, 400, "", "bad_http", "cannot parse the URL \"%.100s\"", c->url);
    return;
  }
  const char *path = c->url + u.field_data[UF_PATH].off;
  size_t len = u.field_data[UF_PATH].len;
  if (len > 1 && path[len - 1] == '/') len--;  /* /v1/cluster/ is /v1/cluster */
  char allow[64] = "";
  for (int i = 0; i < NROUTES; i++) {
    if (strlen(routes[i].path) != len || memcmp(routes[i].path, path, len) != 0) continue;
    if (routes[i].method == method) {
      routes[i].fn(c);
      return;
    }
    size_t n = strlen(allow);
    snprintf(allow + n, sizeof allow - n, "%s%s", n ? ", " : "", http_method_str(routes[i].method));
  }
  if (allow[0]) {
    char extra[96];
    snprintf(extra, sizeof extra, "Allow: %s\r\n", allow);
    respond_error(c, 405, extra, "method_not_allowed", "%s %.*s: this endpoint takes %s",
                  http_method_str(method), (int)len, path, allow);
    return;
  }
  respond_error(c, 404, "", "not_found",
                "no endpoint %.*s; the endpoints are GET /v1/cluster, GET /v1/producers, "
                "GET /v1/groups, GET /v1/events, GET|POST|DELETE /v1/faults, POST /v1/topics",
                (int)(len > 100 ? 100 : len), path);
}

/* ---- parser callbacks ---------------------------------------------------------------------- */

/* Each returns nonzero to stop the parser: after an answer that ends the connection, or
 * once the connection has become an event stream. */

static int on_message_begin(http_parser *p) {
  struct conn *c = p->data;
  c->url_len = 0;
  c->url[0] = '\0';
  c->url_too_long = false;
  c->header = H_OTHER;
  c->header_done = true;
  c->field_len = 0;
  c->expect[0] = c->origin[0] = '\0';
  c->body_len = 0;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  struct conn *c = p->data;
  if (c->url_len + len > URL_MAX) {
    c->url_too_long = true;
    return 0;
  }
  memcpy(c->url + c->url_len, at, len);
  c->url_len += len;
  c->url[c->url_len] = '\0';
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  struct conn *c = p->data;
  if (c->header_done) {  /* a new header begins */
    c->header_done = false;
    c->field_len = 0;
    c->header = H_OTHER;
  }
  size_t room = sizeof c->field - 1 - c->field_len;
  if (len > room) len = room;
  memcpy(c->field + c->field_len, at, len);
  c->field_len += len;
  c->field[c->field_len] = '\0';
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  struct conn *c = p->data;
  if (!c->header_done) {  /* the first piece of this value: which header is it? */
    c->header_done = true;
    c->header = strcasecmp(c->field, "Expect") == 0   ? H_EXPECT
                : strcasecmp(c->field, "Origin") == 0 ? H_ORIGIN
                                                      : H_OTHER;
  }
  char *dst = c->header == H_EXPECT ? c->expect : c->header == H_ORIGIN ? c->origin : NULL;
  if (!dst) return 0;
  size_t have = strlen(dst), room = HEADER_VALUE_MAX - 1 - have;
  if (len > room) len = room;
  memcpy(dst + have, at, len);
  dst[have + len] = '\0';
  return 0;
}

static int on_headers_complete(http_parser *p) {
  struct conn *c = p->data;
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > BODY_MAX) {
    c->must_close = true;  /* the body is not read, so nothing after it can be parsed */
    respond_error(c, 413, "", "payload_too_large",
                  "the body is %llu bytes; the admin API takes at most %d",
                  (unsigned long long)p->content_length, BODY_MAX);
    return -1;
  }
  /* curl asks before sending a larger body, and would wait a second for this. */
  bool has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENTLENGTH) && p->content_length);
  if (has_body && strcasecmp(c->expect, "100-continue") == 0) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    char *copy = malloc(sizeof cont - 1);
    if (copy) {
      memcpy(copy, cont, sizeof cont - 1);
      send_bytes(c, copy, sizeof cont - 1, copy, NULL);
    }
  }
  return c->closing ? -1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  struct conn *c = p->data;
  if (c->body_len + len > BODY_MAX) {  /* chunked: no length was announced */
    c->must_close = true;
    respond_error(c, 413, "", "payload_too_large",
                  "the body is more than %d bytes, the most the admin API takes", BODY_MAX);
    return -1;
  }
  if (c->body_len + len + 1 > c->body_cap) {
    size_t cap = c->body_cap ? c->body_cap : 4096;
    while (cap < c->body_len + len + 1) cap *= 2;
    char *grown = realloc(c->body, cap);
    if (!grown) {
      c->must_close = true;
      respond_error(c, 503, "", "unavailable", "out of memory for the request body");
      return -1;
    }
    c->body = grown;
    c->body_cap = cap;
  }
  memcpy(c->body + c->body_len, at, len);
  c->body_len += len;
  return 0;
}

static int on_message_complete(http_parser *p) {
  struct conn *c = p->data;
  if (c->closing || c->mode != REQUESTS) return -1;
  /* A client that sends requests but does not read the answers would make us hold them
   * all: past ANSWERS_MAX unsent, it is disconnected (one large answer is always fine). */
  size_t unsent = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
  if (unsent > ANSWERS_MAX) {
    char why[128];
    snprintf(why, sizeof why, "client not reading its answers: %zu bytes unsent (limit %d)",
             unsent, ANSWERS_MAX);
    conn_close(c, why);
    return -1;
  }
  if (p->upgrade) {  /* WebSocket and friends: we answer, then close */
    c->must_close = true;
    respond_error(c, 400, "", "bad_http", "protocol upgrades are not supported");
    return -1;
  }
  dispatch(c);
  return c->closing || c->mode != REQUESTS ? -1 : 0;
}

static const http_parser_settings settings = {
  .on_message_begin = on_message_begin,
  .on_url = on_url,
  .on_header_field = on_header_field,
  .on_header_value = on_header_value,
  .on_headers_complete = on_headers_complete,
  .on_body = on_body,
  .on_message_complete = on_message_complete,
};

/* ---- reading and accepting ----------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  struct conn *c = h->data;
  *buf = uv_buf_init(c->server->read_buf, sizeof c->server->read_buf);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  struct conn *c = stream->data;
  if (nread < 0) {
    conn_close(c, NULL);  /* EOF or reset: the client is gone */
    return;
  }
  if (nread == 0 || c->closing || c->mode != REQUESTS) return;  /* a stream, or draining */
  uv_timer_start(&c->timer, on_timer, IDLE_MS, 0);
  size_t done = http_parser_execute(&c->parser, &settings, buf->base, (size_t)nread);
  enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
  if (c->closing || c->mode != REQUESTS || e == HPE_OK) return;
  /* http-parser refused the bytes (our own stops are handled above). */
  int status = e == HPE_HEADER_OVERFLOW ? 431 : 400;
  c->must_close = true;
  respond_error(c, status, "", status == 431 ? "headers_too_large" : "bad_http",
                "not an HTTP/1.1 request: %s (%s) at byte %zu", http_errno_description(e),
                http_errno_name(e), done);
}

static void on_connection(uv_stream_t *listener, int status) {
  struct mk_admin_http *s = listener->data;
  if (status < 0) {
    mk_log(MK_LOG_WARN, "admin", "accept failed: %s", uv_strerror(status));
    return;
  }
  struct conn *c = calloc(1, sizeof *c);
  if (!c) {
    mk_log(MK_LOG_ERROR, "admin", "out of memory accepting a connection");
    return;
  }
  c->server = s;
  c->mode = REQUESTS;
  uv_tcp_init(listener->loop, &c->tcp);
  uv_timer_init(listener->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->open_handles = 2;
  c->next = s->conns;
  s->conns = c;
  s->nconns++;
  snprintf(c->peer, sizeof c->peer, "?");
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c, NULL);
    return;
  }
  struct sockaddr_storage addr;
  int len = sizeof addr;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&addr, &len) == 0) {
    char ip[48] = "?";
    if (addr.ss_family == AF_INET6)
      uv_ip6_name((struct sockaddr_in6 *)&addr, ip, sizeof ip);
    else
      uv_ip4_name((struct sockaddr_in *)&addr, ip, sizeof ip);
    int port = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                                : ((struct sockaddr_in *)&addr)->sin_port);
    snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
  }
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  uv_tcp_nodelay(&c->tcp, 1);
  uv_timer_start(&c->timer, on_timer, IDLE_MS, 0);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (s->nconns > MAX_CONNS) {
    c->must_close = true;
    respond_error(c, 503, "", "unavailable", "too many admin connections (at most %d)",
                  MAX_CONNS);
  }
}

/* ---- the server's life ---------------------------------------------------------------------- */

/* The admin API stays on loopback (admin_http.h): host if it is a loopback address. */
static const char *admin_host(const char *host) {
  struct sockaddr_in a4;
  struct sockaddr_in6 a6;
  if (uv_ip4_addr(host, 0, &a4) == 0 && (ntohl(a4.sin_addr.s_addr) >> 24) == 127) return host;
  if (uv_ip6_addr(host, 0, &a6) == 0 && IN6_IS_ADDR_LOOPBACK(&a6.sin6_addr)) return host;
  return "127.0.0.1";
}

int mk_admin_http_start(struct mk_broker *b, struct mk_err *err) {
  if (b->cluster.cfg.admin_port < 0) return 0;
  struct mk_admin_http *s = calloc(1, sizeof *s);
  if (!s) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory for the admin API");
  s->broker = b;
  s->sink = -1;
  pthread_mutex_init(&s->lock, NULL);
  uv_async_init(&b->loop, &s->events, on_events);
  s->events.data = s;
  s->events_init = true;
  uv_tcp_init(&b->loop, &s->listener);
  s->listener.data = s;
  b->admin = s;

  const char *host = admin_host(b->cluster.cfg.host);
  struct sockaddr_storage addr;
  bool v6 = strchr(host, ':') != NULL;
  if (v6)
    uv_ip6_addr(host, b->cluster.cfg.admin_port, (struct sockaddr_in6 *)&addr);
  else
    uv_ip4_addr(host, b->cluster.cfg.admin_port, (struct sockaddr_in *)&addr);
  int rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0);
  if (!rc) rc = uv_listen((uv_stream_t *)&s->listener, 64, on_connection);
  if (rc)
    return mk_err_set(err, MK_ERR__TRANSPORT,
                      "cannot listen on %s:%d for the admin API: %s (--admin-port 0 picks a "
                      "free port, -1 turns it off)", host, b->cluster.cfg.admin_port, uv_strerror(rc));
  struct sockaddr_storage bound;
  int len = sizeof bound;
  uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
  s->port = ntohs(v6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                     : ((struct sockaddr_in *)&bound)->sin_port);
  snprintf(s->url, sizeof s->url, v6 ? "http://[%s]:%d" : "http://%s:%d", host, s->port);
  s->listening = true;
  return 0;
}

void mk_admin_http_close(struct mk_broker *b) {
  struct mk_admin_http *s = b->admin;
  if (!s || s->closed) return;
  s->closed = true;
  while (s->conns) conn_close(s->conns, NULL);  /* the last stream detaches the sink */
  if (!uv_is_closing((uv_handle_t *)&s->listener)) uv_close((uv_handle_t *)&s->listener, NULL);
  if (!uv_is_closing((uv_handle_t *)&s->events)) uv_close((uv_handle_t *)&s->events, NULL);
}

void mk_admin_http_free(struct mk_broker *b) {
  struct mk_admin_http *s = b->admin;
  if (!s) return;
  b->admin = NULL;
  if (s->sink >= 0) mk_trace_remove_sink(s->sink);
  free(s->pending);
  pthread_mutex_destroy(&s->lock);
  free(s);
}
