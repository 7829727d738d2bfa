/*
 * HTTP server: one small HTTP/1.1 server on a libuv loop, for every HTTP endpoint minikafka
 * has (the broker's admin API and dashboard, the schema registry, `minikafka replay`, the
 * proxy's admin API). Each user gives a table of routes; the server does the rest the same
 * way for all of them: parsing (Node's http-parser), limits, keep-alive and pipelining,
 * timeouts, who may connect, and Server-Sent Events streams.
 *
 *   routes      exact paths ("/v1/cluster") or prefixes ending in a star; a GET route
 *               answers HEAD too; a path with routes but not this method gets 405 + Allow
 *   limits      body (options.body_max, 413), URL 2 KiB (414), headers 80 KiB (431),
 *               bytes that are not HTTP (400): answered, then the connection closes
 *   timeouts    a request must arrive whole within 10 s of its first byte (a slow client
 *               cannot hold a connection with a half-sent request: 408); an idle
 *               keep-alive connection is closed after 60 s
 *   capacity    64 request connections; when all are taken, the one idle longest makes
 *               room, and 8 more places wait for new clients while all 64 are busy
 *               mid-request, so one slow or idle crowd cannot lock the API out;
 *               streams (SSE) do not count against it (at most 32 of those)
 *   who         only loopback Host names (DNS rebinding: a page on evil.example resolving
 *               to 127.0.0.1 gets 403) unless options.host is not loopback; browsers'
 *               cross-site requests (an Origin other than this server's own) get 403
 *   streams     mk_http_stream_begin turns a request into an SSE stream; mk_http_stream_send
 *               gives it its first events; mk_http_broadcast (any thread) sends an event to
 *               every stream; a stream that falls 1 MiB behind is dropped
 *
 * Handlers run on the loop, answer with exactly one mk_http_respond* (or begin a stream)
 * before returning, and may read the request only until then; or they defer the answer
 * (mk_http_defer) and give it later, on the loop: the connection reads nothing more until
 * then, so answers keep the order of the requests.
 *
 * Thread: the loop's, except mk_http_broadcast (any thread).
 */
#ifndef MK_COMMON_HTTP_SERVER_H
#define MK_COMMON_HTTP_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "protocol/errors.h"

struct mk_http_server;
struct mk_http_request;

struct mk_http_route {
  const char *method;  /* "GET", "POST", "PUT", "DELETE" */
  const char *path;    /* "/v1/cluster", or a prefix ending in a star ("/subjects/" then "*") */
  void (*handle)(struct mk_http_request *r);
};

struct mk_http_options {
  const char *name;                   /* in log lines and the default error bodies: "admin" */
  const char *host;                   /* the address to listen on */
  int port;                           /* 0 = any free port */
  const struct mk_http_route *routes; /* matched in order */
  int nroutes;
  void *opaque;                       /* for handlers: mk_http_opaque() */
  size_t body_max;                    /* 0 = 1 MiB */
  /* How the server's own errors look (404, 405, 413, ...) and mk_http_error's. NULL =
   * {"error": code, "message": message} as application/json. */
  void (*error_body)(struct mk_http_request *r, int status, const char *code,
                     const char *message);
  /* Called on the loop when the number of open streams goes from 0 to 1 (1) and from 1
   * to 0 (0): where a user attaches and detaches what feeds the streams. May be NULL. */
  void (*streams_changed)(struct mk_http_server *s, bool any, void *opaque);
};

/* Listen on loop. Returns 0 with *out, or MK_ERR__TRANSPORT naming the address and the reason
 * ("address already in use"). On failure nothing is left to close. Borrows options (copied;
 * routes and name must outlive the server). */
int mk_http_server_start(uv_loop_t *loop, const struct mk_http_options *options,
                         struct mk_http_server **out, struct mk_err *err);
/* host if it is a loopback address, else "127.0.0.1": where a server that must not be
 * reachable from the network by accident listens (the admin API, the schema registry). */
const char *mk_http_loopback_host(const char *host);
/* The port listened on; the base URL, "http://127.0.0.1:9644". */
int mk_http_server_port(const struct mk_http_server *s);
const char *mk_http_server_url(const struct mk_http_server *s);
/* Stop listening and close every connection and stream (on the loop). Safe twice. */
void mk_http_server_close(struct mk_http_server *s);
/* Free it once the loop has run the close callbacks (after mk_http_server_close). */
void mk_http_server_free(struct mk_http_server *s);

/* ---- the request, during its handler ---------------------------------------------------- */

const char *mk_http_method(const struct mk_http_request *r);  /* "GET" */
const char *mk_http_path(const struct mk_http_request *r);    /* as sent (not %-decoded), without the query */
const char *mk_http_query(const struct mk_http_request *r);   /* after '?', or "" */
/* The value of query parameter name ("?deleted=true&x"), or NULL; "" for a bare "x". */
const char *mk_http_query_param(const struct mk_http_request *r, const char *name, char *buf,
                                size_t len);
const char *mk_http_body(const struct mk_http_request *r, size_t *len);  /* NUL-terminated */
/* One of the headers the server keeps: "Content-Type", "If-None-Match", "Accept", "Host",
 * "Origin"; "" when absent. */
const char *mk_http_header(const struct mk_http_request *r, const char *name);
void *mk_http_opaque(const struct mk_http_request *r);
struct mk_http_server *mk_http_server_of(const struct mk_http_request *r);

/* ---- answers: exactly one per request --------------------------------------------------- */

/* Answer with status and body (len bytes, copied). extra: more header lines, each ending in
 * "\r\n", or NULL. A HEAD request gets the headers only. */
void mk_http_respond(struct mk_http_request *r, int status, const char *content_type,
                     const char *extra, const void *body, size_t len);
/* Answer with j as JSON (takes j; NULL means out of memory: 503). "?pretty" indents it. */
void mk_http_respond_json(struct mk_http_request *r, int status, const char *content_type,
                          json_t *j);
/* Answer an error through options.error_body. */
void mk_http_error(struct mk_http_request *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Answer later: the handler returns without answering, and r (method, path, query, body
 * included) stays valid until exactly one mk_http_respond* or mk_http_error is called with
 * it, on the loop, on a later turn or within the handler; after that call r is gone. The
 * connection reads no further request meanwhile and has no idle or request timeout: the
 * caller bounds the wait. If the connection closes first, the answer goes nowhere (the
 * call is still needed, to free it). Every deferred request must be answered before
 * mk_http_server_free. Returns r. */
struct mk_http_request *mk_http_defer(struct mk_http_request *r);

/* ---- Server-Sent Events ----------------------------------------------------------------- */

/* Answer with an event stream (text/event-stream); comment, if not NULL, is sent first as an
 * SSE comment line. The connection then receives every mk_http_broadcast until it closes. */
void mk_http_stream_begin(struct mk_http_request *r, const char *comment);
/* Send one event (len bytes of data, one line) to the stream r has just begun, and to no
 * other: what this client needs first (a snapshot of the state the events change). Only in
 * the handler that called mk_http_stream_begin, after it; the broadcasts that follow come
 * after these, and those queued before the stream began never reach it. */
void mk_http_stream_send(struct mk_http_request *r, const char *data, size_t len);
/* Queue one event (len bytes of data, one line) for every stream. Any thread; a full queue
 * (4 MiB between two loop turns) drops the event, and the streams are told how many. */
void mk_http_broadcast(struct mk_http_server *s, const char *data, size_t len);

#endif
