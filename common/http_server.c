/*
 * HTTP server: connections, parsing, limits, answers and event streams. See http_server.h.
 *
 * Parsing is Node's http-parser (Debian's libhttp-parser-dev), not ours: it feeds us the
 * URL, headers and body of each request, through callbacks, from whatever bytes arrive.
 * A connection lives through these modes:
 *
 *   REQUESTS  --mk_http_stream_begin-->  STREAM  (events, until the client hangs up
 *      |                                          or falls 1 MiB behind)
 *      +--error, or "Connection: close"-->  CLOSING: the answer is sent, our side shut
 *                                            down, and what the client still sends is
 *                                            read and dropped for up to 2 s ("lingering
 *                                            close"), so our answer is not lost to a TCP
 *                                            reset while the client is still sending
 *
 * In REQUESTS mode requests are answered in order as each one completes (handlers answer
 * before they return), so keep-alive and pipelining just work. A handler that must wait
 * (mk_http_defer: a schema registry write waiting for its replicas) pauses the parser
 * instead: the connection stops reading, the bytes already read after that request are
 * held, and the answer, when it comes, resumes reading on the connection's timer (a later
 * loop turn, never inside whatever gave the answer). So the order of answers still holds.
 *
 * One timer per connection does three jobs: the idle timeout between requests, the
 * deadline of a request whose first byte has arrived (slow clients), and the lingering
 * close. Which one runs is clear from the mode and from `in_request`.
 *
 * The event stream. mk_http_broadcast may be called on any thread (the trace's sinks run on
 * whichever thread emits an event), so it only appends the event to a buffer under a mutex
 * and wakes the loop with a uv_async_t; on the loop, the buffered events go to every stream
 * as one shared, reference-counted chunk.
 *
 * Memory: a connection is freed when both its socket and its timer have closed and no
 * deferred request is waiting for its answer.
 */
#include "common/peer.h"
#include "common/http_server.h"

#include <http_parser.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"

enum {
  BODY_MAX_DEFAULT = 1 << 20,
  URL_MAX = 2048,               /* more is 414 */
  HEADER_VALUE_MAX = 256,       /* the headers we keep are cut here */
  READ_BUF_SIZE = 64 * 1024,
  MAX_CONNS = 64,               /* request connections; the idlest makes room for a new one */
  RESERVED = 8,                 /* more, for new clients while all 64 are mid-request */
  MAX_STREAMS = 32,             /* event streams */
  IDLE_MS = 60 * 1000,          /* a keep-alive connection with no request for this long */
  REQUEST_MS = 10 * 1000,       /* from a request's first byte to its last */
  LINGER_MS = 2000,             /* how long to drain a closing connection */
  STREAM_CLIENT_MAX = 1 << 20,  /* unsent event bytes one stream may hold */
  ANSWERS_MAX = 4 << 20,        /* unsent answers a client may leave before its next request */
  STREAM_PENDING_MAX = 4 << 20, /* events buffered between two loop turns */
};

/* A run of SSE lines shared by every stream's writes. */
struct chunk {
  int refs;
  size_t len, cap;
  char data[];
};

enum mode { REQUESTS, STREAM, CLOSING };

/* The headers a handler may ask for (mk_http_header), and two the server reads itself. */
static const char *const kept_headers[] = {"Expect", "Origin", "Host", "Content-Type",
                                           "If-None-Match", "Accept"};
enum { H_EXPECT, H_ORIGIN, H_HOST, NKEPT = sizeof kept_headers / sizeof kept_headers[0] };

struct conn;

struct mk_http_request {
  struct conn *c;
  bool answered;
  bool deferred;       /* mk_http_defer: answered later, the connection paused meanwhile */
  bool head;           /* a HEAD request: headers only */
  const char *method;
  char path[URL_MAX + 1];
  const char *query;
};

struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;             /* idle, request deadline or linger (see the top) */
  uv_shutdown_t shutdown;
  struct mk_http_server *server;
  struct conn *next;            /* server->conns */
  enum mode mode;
  bool closing;                 /* uv_close called; waiting for the callbacks */
  bool must_close;              /* the next answer is the last (the input is unusable) */
  bool in_request;              /* a request's first bytes have arrived, not its last */
  uint64_t last_active;         /* loop time of the last answer: who is idlest */
  int open_handles;             /* tcp and timer, and a deferred request: freed at 0 */
  bool resume;                  /* the timer's next firing resumes after a deferred answer */
  bool reading;                 /* uv_read_start in force (stopped while deferred) */
  char *held;                   /* bytes read after a deferred request, parsed on resume */
  size_t held_len;
  char peer[64];
  http_parser parser;
  /* The request being parsed; reset by on_message_begin. */
  char url[URL_MAX + 1];
  size_t url_len;
  bool url_too_long;
  int header;                   /* which kept header the value callbacks fill, or -1 */
  bool header_done;             /* the last callback was a value: the next field is new */
  char field[32];
  size_t field_len;
  char headers[NKEPT][HEADER_VALUE_MAX];
  char *body;
  size_t body_len, body_cap;
  struct mk_http_request req;
};

struct mk_http_server {
  struct mk_http_options o;
  uv_loop_t *loop;
  uv_tcp_t listener;
  bool listening;
  bool closed;
  int port;
  char host[64];
  char url[96];
  struct conn *conns;
  int nconns;                   /* in REQUESTS or CLOSING mode */
  int nstreams;
  char read_buf[READ_BUF_SIZE]; /* every read lands here; the parser copies what it keeps */
  /* The event stream: pending is filled by mk_http_broadcast (any thread), emptied on the
   * loop. */
  uv_async_t events;
  pthread_mutex_t lock;         /* guards pending and dropped */
  struct chunk *pending;
  uint64_t dropped;
};

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

/* Send len bytes at p, which belong to owned (freed here or once written) or to chunk (one
 * reference taken while a write holds it). uv_try_write sends at once what the socket takes;
 * only the rest is queued. */
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

static void send_copy(struct conn *c, const char *p, size_t len) {
  char *copy = malloc(len);
  if (!copy) {
    conn_close(c, "out of memory");
    return;
  }
  memcpy(copy, p, len);
  send_bytes(c, copy, len, copy, NULL);
}

/* ---- connections -------------------------------------------------------------------------- */

static void conn_unref(struct conn *c) {
  if (--c->open_handles > 0) return;
  free(c->body);
  free(c->held);
  free(c);
}

static void on_handle_closed(uv_handle_t *h) { conn_unref(h->data); }

/* Close now (why: a log line, or NULL for an ordinary close). */
static void conn_close(struct conn *c, const char *why) {
  if (c->closing) return;
  c->closing = true;
  struct mk_http_server *s = c->server;
  if (why) mk_log(MK_LOG_WARN, s->o.name, "closing %s connection %s: %s", s->o.name, c->peer, why);
  for (struct conn **pp = &s->conns; *pp; pp = &(*pp)->next) {
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  }
  if (c->mode == STREAM) {
    if (--s->nstreams == 0 && s->o.streams_changed) s->o.streams_changed(s, false, s->o.opaque);
  } else {
    s->nconns--;
  }
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void error_answer(struct conn *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void resume_held(struct conn *c);

static void on_timer(uv_timer_t *t) {
  struct conn *c = t->data;
  if (c->resume) {  /* a deferred request was answered: read on */
    c->resume = false;
    resume_held(c);
    return;
  }
  if (c->mode == REQUESTS && c->in_request) {  /* a request that never finished arriving */
    c->must_close = true;
    error_answer(c, 408, "request_timeout", "the request did not arrive whole within %d s",
                 REQUEST_MS / 1000);
    return;
  }
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

static void answered_later(struct conn *c);

static void respond(struct conn *c, int status, const char *content_type, const char *extra,
                    const void *body, size_t len) {
  if (c->closing) {
    if (c->req.deferred) answered_later(c);  /* the client left meanwhile: nowhere to send */
    return;
  }
  c->req.answered = true;
  bool keep = c->mode == REQUESTS && !c->must_close && http_should_keep_alive(&c->parser);
  if (!extra) extra = "";
  bool cache_given = strstr(extra, "Cache-Control:") != NULL;
  char head[1024];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                   "Connection: %s\r\n%s\r\n",
                   status, http_status_str((enum http_status)status), content_type, len,
                   cache_given ? "" : "Cache-Control: no-store\r\n", keep ? "keep-alive" : "close",
                   extra);
  if (n < 0 || (size_t)n >= sizeof head) {
    conn_close(c, "response headers too long");
    return;
  }
  size_t blen = c->req.head ? 0 : len;
  char *buf = malloc((size_t)n + blen);
  if (!buf) {
    conn_close(c, "out of memory for a response");
    return;
  }
  memcpy(buf, head, (size_t)n);
  if (blen) memcpy(buf + n, body, blen);
  send_bytes(c, buf, (size_t)n + blen, buf, NULL);
  c->last_active = uv_now(c->server->loop);
  if (!keep) begin_close(c);
  if (c->req.deferred) answered_later(c);
}

/* {"error": code, "message": message}: the default error body. */
static void default_error_body(struct mk_http_request *r, int status, const char *code,
                               const char *message) {
  mk_http_respond_json(r, status, "application/json",
                       json_pack("{s:s, s:s}", "error", code, "message", message));
}

static void error_answer_v(struct conn *c, int status, const char *code, const char *fmt,
                           va_list ap) {
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  /* Messages quote what the client sent (a path, a name's bad byte), which need not be
   * UTF-8; JSON strings must be. */
  for (char *q = msg; *q; q++)
    if ((unsigned char)*q >= 0x80 || (unsigned char)*q < 0x20) *q = '?';
  struct mk_http_server *s = c->server;
  (s->o.error_body ? s->o.error_body : default_error_body)(&c->req, status, code, msg);
}

static void error_answer(struct conn *c, int status, const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  error_answer_v(c, status, code, fmt, ap);
  va_end(ap);
}

void mk_http_respond(struct mk_http_request *r, int status, const char *content_type,
                     const char *extra, const void *body, size_t len) {
  respond(r->c, status, content_type, extra, body, len);
}

void mk_http_respond_json(struct mk_http_request *r, int status, const char *content_type,
                          json_t *j) {
  struct conn *c = r->c;
  const char *query = strchr(c->url, '?');
  bool pretty = query && strstr(query, "pretty");
  char *text = j ? json_dumps(j, pretty ? JSON_INDENT(2) : JSON_COMPACT) : NULL;
  json_decref(j);
  size_t len = text ? strlen(text) : 0;
  char *body = text ? realloc(text, len + 1) : NULL;  /* room for a newline, for terminals */
  if (!body) {
    free(text);
    static const char oom[] = "{\"error\":\"unavailable\",\"message\":\"out of memory\"}\n";
    respond(c, 503, "application/json", NULL, oom, sizeof oom - 1);
    return;
  }
  body[len] = '\n';
  respond(c, status, content_type, NULL, body, len + 1);
  free(body);
}

void mk_http_error(struct mk_http_request *r, int status, const char *code, const char *fmt,
                   ...) {
  va_list ap;
  va_start(ap, fmt);
  error_answer_v(r->c, status, code, fmt, ap);
  va_end(ap);
}

/* ---- the request -------------------------------------------------------------------------- */

const char *mk_http_method(const struct mk_http_request *r) { return r->method; }
const char *mk_http_path(const struct mk_http_request *r) { return r->path; }
const char *mk_http_query(const struct mk_http_request *r) { return r->query; }
void *mk_http_opaque(const struct mk_http_request *r) { return r->c->server->o.opaque; }
struct mk_http_server *mk_http_server_of(const struct mk_http_request *r) { return r->c->server; }

const char *mk_http_body(const struct mk_http_request *r, size_t *len) {
  if (len) *len = r->c->body_len;
  return r->c->body ? r->c->body : "";
}

const char *mk_http_header(const struct mk_http_request *r, const char *name) {
  for (int i = 0; i < NKEPT; i++)
    if (strcasecmp(kept_headers[i], name) == 0) return r->c->headers[i];
  return "";
}

const char *mk_http_query_param(const struct mk_http_request *r, const char *name, char *buf,
                                size_t len) {
  size_t n = strlen(name);
  for (const char *p = r->query; *p;) {
    const char *end = p + strcspn(p, "&");
    if ((size_t)(end - p) >= n && strncmp(p, name, n) == 0 && (p[n] == '=' || p + n == end)) {
      const char *v = p[n] == '=' ? p + n + 1 : p + n;
      size_t vlen = (size_t)(end - v) < len - 1 ? (size_t)(end - v) : len - 1;
      memcpy(buf, v, vlen);
      buf[vlen] = '\0';
      return buf;
    }
    p = *end ? end + 1 : end;
  }
  return NULL;
}

/* ---- streams ------------------------------------------------------------------------------ */

void mk_http_broadcast(struct mk_http_server *s, const char *data, size_t len) {
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
      memcpy(k->data + k->len + 6, data, len);
      memcpy(k->data + k->len + 6 + len, "\n\n", 2);
      k->len += need;
    } else {
      s->dropped++;
    }
  }
  pthread_mutex_unlock(&s->lock);
  uv_async_send(&s->events);
}

/* On the loop: hand the buffered events to every stream. */
static void deliver_pending(struct mk_http_server *s) {
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
      int n = snprintf(note, sizeof note, ": %llu events dropped (the server fell behind)\n\n",
                       (unsigned long long)dropped);
      send_copy(c, note, (size_t)n);
    }
    if (k && !c->closing) send_bytes(c, k->data, k->len, NULL, k);
    size_t unsent = c->closing ? 0 : uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
    if (unsent > STREAM_CLIENT_MAX) {
      char why[128];
      snprintf(why, sizeof why, "event stream client too slow: %zu bytes unsent (limit %d)",
               unsent, STREAM_CLIENT_MAX);
      conn_close(c, why);
    }
  }
  chunk_unref(k);
}

static void on_events(uv_async_t *a) { deliver_pending(a->data); }

void mk_http_stream_begin(struct mk_http_request *r, const char *comment) {
  struct conn *c = r->c;
  struct mk_http_server *s = c->server;
  if (s->nstreams >= MAX_STREAMS) {
    error_answer(c, 503, "unavailable", "too many event streams (at most %d)", MAX_STREAMS);
    return;
  }
  /* What was broadcast before this stream began goes to the streams already open, not to
   * this one: what it is sent next (mk_http_stream_send) comes first. */
  deliver_pending(s);
  r->answered = true;
  s->nconns--;  /* streams do not take a request connection's place */
  c->mode = STREAM;
  uv_timer_stop(&c->timer);  /* a stream may be quiet for as long as it likes */
  if (s->nstreams++ == 0 && s->o.streams_changed) s->o.streams_changed(s, true, s->o.opaque);
  char head[512];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: "
                   "no-cache\r\nConnection: close\r\n\r\n%s%s%s",
                   comment ? ": " : "", comment ? comment : "", comment ? "\n\n" : "");
  send_copy(c, head, (size_t)(n < (int)sizeof head ? n : (int)sizeof head - 1));
}

void mk_http_stream_send(struct mk_http_request *r, const char *data, size_t len) {
  struct conn *c = r->c;
  if (c->mode != STREAM || c->closing) return;
  char *buf = malloc(len + 8);
  if (!buf) {
    conn_close(c, "out of memory");
    return;
  }
  memcpy(buf, "data: ", 6);
  memcpy(buf + 6, data, len);
  memcpy(buf + 6 + len, "\n\n", 2);
  send_bytes(c, buf, len + 8, buf, NULL);
}

/* ---- who may ask -------------------------------------------------------------------------- */

/* Whether host (a Host header's name part, or an Origin's) is a loopback name or address. */
static bool loopback_name(const char *host, size_t len) {
  char name[72];
  if (len >= sizeof name) return false;
  memcpy(name, host, len);
  name[len] = '\0';
  if (strcasecmp(name, "localhost") == 0 || strcmp(name, "[::1]") == 0) return true;
  struct sockaddr_in a4;
  return uv_ip4_addr(name, 0, &a4) == 0 && (ntohl(a4.sin_addr.s_addr) >> 24) == 127;
}

/* Split "name:port" (or "[v6]:port"): the name's length, and the port (-1 if none). */
static size_t host_name_len(const char *hostport, long *port) {
  const char *colon = hostport[0] == '[' ? strstr(hostport, "]:") : strrchr(hostport, ':');
  if (hostport[0] == '[' && colon) colon++;
  *port = colon ? strtol(colon + 1, NULL, 10) : -1;
  return colon ? (size_t)(colon - hostport) : strlen(hostport);
}

/* DNS rebinding: a page of another site whose name now resolves to 127.0.0.1 sends its own
 * name in Host. Only names that mean this machine (or the address we listen on) are
 * answered. */
static bool host_allowed(const struct mk_http_server *s, const char *host) {
  if (!host[0]) return true;  /* HTTP/1.0 clients send none */
  long port;
  size_t n = host_name_len(host, &port);
  return loopback_name(host, n) || (strlen(s->host) == n && strncmp(host, s->host, n) == 0);
}

/* A browser says in Origin which page a request comes from; scripts and curl send none.
 * Only this server's own pages (the dashboard) may send requests: same name rules as Host,
 * and our port. */
static bool origin_allowed(const struct mk_http_server *s, const char *origin) {
  if (!origin[0]) return true;
  if (strncmp(origin, "http://", 7) != 0) return false;
  long port;
  size_t n = host_name_len(origin + 7, &port);
  (void)n;
  return port == s->port && host_allowed(s, origin + 7);
}

/* ---- dispatch ----------------------------------------------------------------------------- */

static bool route_matches(const struct mk_http_route *rt, const char *path, size_t len) {
  size_t n = strlen(rt->path);
  if (n && rt->path[n - 1] == '*') return len >= n - 1 && memcmp(rt->path, path, n - 1) == 0;
  return n == len && memcmp(rt->path, path, len) == 0;
}

/* One complete request: find its route and answer. */
static void dispatch(struct conn *c) {
  struct mk_http_server *s = c->server;
  enum http_method method = (enum http_method)c->parser.method;
  struct mk_http_request *r = &c->req;
  memset(r, 0, sizeof *r);
  r->c = c;  /* (error answers before a dispatch use c->req too: see on_connection) */
  r->method = http_method_str(method);
  r->head = method == HTTP_HEAD;
  r->query = "";
  if (c->url_too_long) {
    error_answer(c, 414, "uri_too_long", "the URL is longer than %d bytes", URL_MAX);
    return;
  }
  if (!host_allowed(s, c->headers[H_HOST])) {
    error_answer(c, 403, "forbidden", "Host %.100s is not this server (only loopback names)",
                 c->headers[H_HOST]);
    return;
  }
  if (!origin_allowed(s, c->headers[H_ORIGIN])) {
    error_answer(c, 403, "forbidden",
                 "requests from web pages of other sites (Origin: %.100s) are refused",
                 c->headers[H_ORIGIN]);
    return;
  }
  struct http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(c->url, c->url_len, method == HTTP_CONNECT, &u) != 0 ||
      !(u.field_set & (1 << UF_PATH))) {
    error_answer(c, 400, "bad_http", "cannot parse the URL \"%.100s\"", c->url);
    return;
  }
  size_t len = u.field_data[UF_PATH].len;
  memcpy(r->path, c->url + u.field_data[UF_PATH].off, len);
  if (len > 1 && r->path[len - 1] == '/') len--;  /* /v1/cluster/ is /v1/cluster */
  r->path[len] = '\0';
  if (u.field_set & (1 << UF_QUERY)) {
    r->query = c->url + u.field_data[UF_QUERY].off;
    c->url[u.field_data[UF_QUERY].off + u.field_data[UF_QUERY].len] = '\0';
  }
  const char *m = r->head ? "GET" : r->method;
  char allow[96] = "";
  for (int i = 0; i < s->o.nroutes; i++) {
    const struct mk_http_route *rt = &s->o.routes[i];
    if (!route_matches(rt, r->path, len)) continue;
    if (strcmp(rt->method, m) == 0) {
      rt->handle(r);
      if (!r->answered && !r->deferred && !c->closing)
        error_answer(c, 500, "internal", "the handler of %s %s gave no answer", m, r->path);
      return;
    }
    size_t n = strlen(allow);
    if (!strstr(allow, rt->method))  /* a GET route answers HEAD too */
      snprintf(allow + n, sizeof allow - n, "%s%s%s", n ? ", " : "", rt->method,
               strcmp(rt->method, "GET") == 0 ? ", HEAD" : "");
  }
  if (allow[0]) {
    char extra[128];
    snprintf(extra, sizeof extra, "Allow: %s\r\n", allow);
    char msg[256];
    snprintf(msg, sizeof msg, "%s %.100s: this endpoint takes %s", r->method, r->path, allow);
    /* error_body cannot add headers; 405 is rare enough to build here. */
    json_t *j = json_pack("{s:s, s:s}", "error", "method_not_allowed", "message", msg);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    respond(c, 405, "application/json", extra, text ? text : "{}", text ? strlen(text) : 2);
    free(text);
    return;
  }
  error_answer(c, 404, "not_found", "no endpoint %.100s on the %s server", r->path, s->o.name);
}

/* ---- parser callbacks ---------------------------------------------------------------------- */

/* Each returns nonzero to stop the parser: after an answer that ends the connection, or
 * once the connection has become an event stream. */

static int on_message_begin(http_parser *p) {
  struct conn *c = p->data;
  c->url_len = 0;
  c->url[0] = '\0';
  c->url_too_long = false;
  c->header = -1;
  c->header_done = true;
  c->field_len = 0;
  for (int i = 0; i < NKEPT; i++) c->headers[i][0] = '\0';
  c->body_len = 0;
  if (c->body) c->body[0] = '\0';
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
    c->header = -1;
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
    c->header = -1;
    for (int i = 0; i < NKEPT; i++)
      if (strcasecmp(c->field, kept_headers[i]) == 0) c->header = i;
  }
  if (c->header < 0) return 0;
  char *dst = c->headers[c->header];
  size_t have = strlen(dst), room = HEADER_VALUE_MAX - 1 - have;
  if (len > room) len = room;
  memcpy(dst + have, at, len);
  dst[have + len] = '\0';
  return 0;
}

static size_t body_max(const struct conn *c) {
  return c->server->o.body_max ? c->server->o.body_max : BODY_MAX_DEFAULT;
}

static int on_headers_complete(http_parser *p) {
  struct conn *c = p->data;
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > body_max(c)) {
    c->must_close = true;  /* the body is not read, so nothing after it can be parsed */
    error_answer(c, 413, "payload_too_large", "the body is %llu bytes; the %s server takes at "
                 "most %zu", (unsigned long long)p->content_length, c->server->o.name,
                 body_max(c));
    return -1;
  }
  /* curl asks before sending a larger body, and would wait a second for this. */
  bool has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENTLENGTH) && p->content_length);
  if (has_body && strcasecmp(c->headers[H_EXPECT], "100-continue") == 0) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    send_copy(c, cont, sizeof cont - 1);
  }
  return c->closing ? -1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  struct conn *c = p->data;
  if (c->body_len + len > body_max(c)) {  /* chunked: no length was announced */
    c->must_close = true;
    error_answer(c, 413, "payload_too_large", "the body is more than %zu bytes, the most the %s "
                 "server takes", body_max(c), c->server->o.name);
    return -1;
  }
  if (c->body_len + len + 1 > c->body_cap) {
    size_t cap = c->body_cap ? c->body_cap : 4096;
    while (cap < c->body_len + len + 1) cap *= 2;
    char *grown = realloc(c->body, cap);
    if (!grown) {
      c->must_close = true;
      error_answer(c, 503, "unavailable", "out of memory for the request body");
      return -1;
    }
    c->body = grown;
    c->body_cap = cap;
  }
  memcpy(c->body + c->body_len, at, len);
  c->body_len += len;
  c->body[c->body_len] = '\0';
  return 0;
}

static int on_message_complete(http_parser *p) {
  struct conn *c = p->data;
  c->in_request = false;
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
    error_answer(c, 400, "bad_http", "protocol upgrades are not supported");
    return -1;
  }
  dispatch(c);
  if (c->req.deferred && !c->closing) {  /* answered later: parse nothing more until then */
    uv_timer_stop(&c->timer);
    http_parser_pause(p, 1);
    return 0;
  }
  if (!c->closing && c->mode == REQUESTS) uv_timer_start(&c->timer, on_timer, IDLE_MS, 0);
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

/* A request was deferred with these bytes still unparsed: keep them, stop reading. */
static void hold(struct conn *c, const char *data, size_t len) {
  char *copy = len ? malloc(len) : NULL;
  if (len && !copy) {
    conn_close(c, "out of memory holding pipelined requests");
    return;
  }
  if (len) memcpy(copy, data, len);  /* data may point into c->held itself */
  free(c->held);
  c->held = copy;
  c->held_len = len;
  if (c->reading) uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = false;
}

/* Feed bytes read from the client to the parser. */
static void parse(struct conn *c, const char *data, size_t len) {
  if (!c->in_request) {  /* the first bytes of a request: its deadline starts now */
    c->in_request = true;
    uv_timer_start(&c->timer, on_timer, REQUEST_MS, 0);
  }
  size_t done = http_parser_execute(&c->parser, &settings, data, len);
  enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
  if (e == HPE_PAUSED && !c->closing) {  /* a deferred request (on_message_complete) */
    hold(c, data + done, len - done);
    return;
  }
  if (c->closing || c->mode != REQUESTS || e == HPE_OK) return;
  /* http-parser refused the bytes (our own stops are handled above). */
  int status = e == HPE_HEADER_OVERFLOW ? 431 : 400;
  c->must_close = true;
  error_answer(c, status, status == 431 ? "headers_too_large" : "bad_http",
               "not an HTTP/1.1 request: %s (%s) at byte %zu", http_errno_description(e),
               http_errno_name(e), done);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  struct conn *c = stream->data;
  if (nread < 0) {
    conn_close(c, NULL);  /* EOF or reset: the client is gone */
    return;
  }
  if (nread == 0 || c->closing || c->mode != REQUESTS) return;  /* a stream, or draining */
  parse(c, buf->base, (size_t)nread);
}

/* ---- deferred answers ------------------------------------------------------------------- */

struct mk_http_request *mk_http_defer(struct mk_http_request *r) {
  if (!r->deferred && !r->answered) {
    r->deferred = true;
    r->c->open_handles++;  /* the connection's memory stays until the answer */
  }
  return r;
}

/* The answer to a deferred request has gone out (or nowhere, the connection having closed):
 * resume reading on a later loop turn, and drop the request's hold on the connection. */
static void answered_later(struct conn *c) {
  c->req.deferred = false;
  /* An answer given inside the handler itself finds the connection still reading: nothing
   * was paused, and on_message_complete carries on as for any answer. */
  if (!c->closing && !c->reading) {
    http_parser_pause(&c->parser, 0);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    c->reading = true;
    if (c->mode == REQUESTS) {  /* (a closing one is draining on its linger timer) */
      c->resume = true;
      uv_timer_start(&c->timer, on_timer, 0, 0);
    }
  }
  conn_unref(c);
}

/* On the timer, after a deferred answer: parse what was held, else wait for the next
 * request as usual. */
static void resume_held(struct conn *c) {
  if (c->closing || c->mode != REQUESTS) return;
  char *held = c->held;
  size_t len = c->held_len;
  c->held = NULL;
  c->held_len = 0;
  if (len) parse(c, held, len);
  else uv_timer_start(&c->timer, on_timer, IDLE_MS, 0);
  free(held);
}

/* The request connection idle longest (no request in progress, nothing unsent), or NULL. */
static struct conn *idlest(struct mk_http_server *s) {
  struct conn *best = NULL;
  for (struct conn *c = s->conns; c; c = c->next)
    if (c->mode == REQUESTS && !c->in_request && !c->closing &&
        !c->req.deferred && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0 &&
        (!best || c->last_active < best->last_active))
      best = c;
  return best;
}

static void free_handle(uv_handle_t *h) { free(h); }

static void on_connection(uv_stream_t *listener, int status) {
  struct mk_http_server *s = listener->data;
  if (status < 0) {
    mk_log(MK_LOG_WARN, s->o.name, "accept failed: %s", uv_strerror(status));
    return;
  }
  /* Full: the idlest connection makes room, so a client with a whole request is answered;
   * if every one is mid-request, a few reserved places still take new clients (and a
   * half-sent request is gone within REQUEST_MS anyway). */
  struct conn *evict = s->nconns >= MAX_CONNS ? idlest(s) : NULL;
  if (evict) conn_close(evict, NULL);
  struct conn *c = calloc(1, sizeof *c);
  if (!c) {
    /* Accept and drop it, so the listener keeps listening (libuv stops polling a listener
     * whose connection was never accepted). */
    uv_tcp_t *drop = malloc(sizeof *drop);
    if (drop && uv_tcp_init(listener->loop, drop) == 0) {
      (void)uv_accept(listener, (uv_stream_t *)drop);
      uv_close((uv_handle_t *)drop, free_handle);
    } else {
      free(drop);
    }
    mk_log(MK_LOG_ERROR, s->o.name, "out of memory accepting a connection");
    return;
  }
  c->server = s;
  c->mode = REQUESTS;
  uv_tcp_init(listener->loop, &c->tcp);
  uv_timer_init(listener->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->req.c = c;
  c->req.method = "";
  c->req.query = "";
  c->open_handles = 2;
  c->next = s->conns;
  c->last_active = uv_now(listener->loop);
  s->conns = c;
  s->nconns++;
  snprintf(c->peer, sizeof c->peer, "?");
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c, NULL);
    return;
  }
  mk_peer_name(&c->tcp, c->peer, sizeof c->peer);
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  uv_tcp_nodelay(&c->tcp, 1);
  uv_timer_start(&c->timer, on_timer, IDLE_MS, 0);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  c->reading = true;
  if (s->nconns > MAX_CONNS + RESERVED) {  /* all busy mid-request, reserve spent too */
    c->must_close = true;
    error_answer(c, 503, "unavailable", "too many %s connections (at most %d), all busy",
                 s->o.name, MAX_CONNS);
  }
}

/* ---- the server's life ---------------------------------------------------------------------- */

static void free_on_close(uv_handle_t *h) { free(h->data); }  /* h is inside it */

int mk_http_server_start(uv_loop_t *loop, const struct mk_http_options *options,
                         struct mk_http_server **out, struct mk_err *err) {
  struct mk_http_server *s = calloc(1, sizeof *s);
  if (!s) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory for the %s server", options->name);
  s->o = *options;
  s->loop = loop;
  snprintf(s->host, sizeof s->host, "%s", options->host);
  struct sockaddr_storage addr;
  bool v6 = strchr(s->host, ':') != NULL;
  int rc = v6 ? uv_ip6_addr(s->host, options->port, (struct sockaddr_in6 *)&addr)
              : uv_ip4_addr(s->host, options->port, (struct sockaddr_in *)&addr);
  if (rc) {
    free(s);
    return mk_err_set(err, MK_ERR__INVALID_ARG, "%s server: %s is not an IP address",
                      options->name, options->host);
  }
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0);
  if (!rc) rc = uv_listen((uv_stream_t *)&s->listener, 128, on_connection);
  if (rc) {
    mk_err_set(err, MK_ERR__TRANSPORT, "cannot listen on %s:%d for the %s server: %s",
               s->host, options->port, options->name, uv_strerror(rc));
    uv_close((uv_handle_t *)&s->listener, free_on_close);  /* frees s on the loop's next run */
    return MK_ERR__TRANSPORT;
  }
  pthread_mutex_init(&s->lock, NULL);
  uv_async_init(loop, &s->events, on_events);
  s->events.data = s;
  struct sockaddr_storage bound;
  int len = sizeof bound;
  uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
  s->port = ntohs(v6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                     : ((struct sockaddr_in *)&bound)->sin_port);
  snprintf(s->url, sizeof s->url, v6 ? "http://[%s]:%d" : "http://%s:%d", s->host, s->port);
  s->listening = true;
  *out = s;
  return 0;
}

const char *mk_http_loopback_host(const char *host) {
  struct sockaddr_in a4;
  struct sockaddr_in6 a6;
  if (uv_ip4_addr(host, 0, &a4) == 0 && (ntohl(a4.sin_addr.s_addr) >> 24) == 127) return host;
  if (uv_ip6_addr(host, 0, &a6) == 0 && IN6_IS_ADDR_LOOPBACK(&a6.sin6_addr)) return host;
  return "127.0.0.1";
}

int mk_http_server_port(const struct mk_http_server *s) { return s->port; }
const char *mk_http_server_url(const struct mk_http_server *s) { return s->url; }

void mk_http_server_close(struct mk_http_server *s) {
  if (!s || s->closed) return;
  s->closed = true;
  while (s->conns) conn_close(s->conns, NULL);  /* the last stream says streams_changed */
  if (!uv_is_closing((uv_handle_t *)&s->listener)) uv_close((uv_handle_t *)&s->listener, NULL);
  if (!uv_is_closing((uv_handle_t *)&s->events)) uv_close((uv_handle_t *)&s->events, NULL);
}

void mk_http_server_free(struct mk_http_server *s) {
  if (!s) return;
  free(s->pending);
  pthread_mutex_destroy(&s->lock);
  free(s);
}
