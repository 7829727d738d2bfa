/*
 * Admin API parts: what every admin API on common/http_server.h does the same way (the
 * broker's, broker/admin_http.c; the proxy's, proxy/admin.c).
 *
 *   mk_admin_body_object    a request body that must be one JSON object, or a 400 saying
 *                           what to send
 *   mk_admin_trace_stream   GET /v1/events: while at least one client streams, a trace
 *                           sink (common/trace.h) hands every event line to the streams;
 *                           when the last leaves, the sink goes, and tracing costs nothing
 *   mk_admin_server_*       an admin API's server: its routes on a loopback address, its event
 *                           streams fed by the trace, its owner (the broker, the proxy)
 *                           for the handlers (mk_admin_owner)
 *
 * Thread: the server's loop, except the trace sink (any thread that emits an event).
 */
#ifndef MK_COMMON_ADMIN_API_H
#define MK_COMMON_ADMIN_API_H

#include <jansson.h>
#include <stdbool.h>

#include "common/http_server.h"

/* The body as a JSON object (returns new: json_decref), or NULL after answering 400
 * ("bad_json" or "invalid_request", naming what is wrong; example shows a good body). */
json_t *mk_admin_body_object(struct mk_http_request *r, const char *example);

/* The trace feeding one server's event streams. */
struct mk_admin_trace_stream {
  struct mk_http_server *http;
  int sink;                     /* the trace sink's id while anyone streams, else -1 */
};

/* Initialise (no sink yet) for server http (set http once the server exists). */
void mk_admin_trace_stream_init(struct mk_admin_trace_stream *s);
/* The server's streams_changed option calls this: any is whether a stream is open. */
void mk_admin_trace_stream_changed(struct mk_admin_trace_stream *s, bool any);
/* Remove the sink if still attached (when the server is freed). */
void mk_admin_trace_stream_free(struct mk_admin_trace_stream *s);

struct mk_admin_server {
  void *owner;                          /* what the routes serve: a broker, a proxy */
  const char *endpoints;                /* what a 404 lists */
  struct mk_http_server *http;
  struct mk_admin_trace_stream events;  /* GET /v1/events */
};

/* Start an admin API on loop: routes (nroutes, borrowed for the server's life) on
 * mk_http_loopback_host(host):port (an admin API can stop brokers: never on the network by
 * accident; port 0 = any free port), errors as {"error": code, "message": ...}
 * with a 404 that lists `endpoints` (a sentence, borrowed), streams fed by the trace.
 * Returns 0 with *out (free with mk_admin_server_close, then mk_admin_server_free once the
 * loop has run), or the server's error with a hint at --admin-port. Before the loop runs,
 * or on it. */
int mk_admin_server_start(uv_loop_t *loop, const char *name, const char *host, int port,
                          const struct mk_http_route *routes, int nroutes, const char *endpoints,
                          void *owner, struct mk_admin_server **out, struct mk_err *err);
/* Stop listening, end the streams, close the connections. NULL is allowed; safe twice. */
void mk_admin_server_close(struct mk_admin_server *s);
/* Free it (after the loop ran the close callbacks). NULL is allowed. */
void mk_admin_server_free(struct mk_admin_server *s);
/* The owner, in a route handler of such a server. */
void *mk_admin_owner(struct mk_http_request *r);

#endif
