/*
 * Admin API parts: what every admin API on common/http_server.h does the same way (the
 * broker's, broker/admin_http.c; the proxy's, proxy/admin.c).
 *
 *   mk_admin_body_object    a request body that must be one JSON object, or a 400 saying
 *                           what to send
 *   mk_admin_trace_stream   GET /v1/events: while at least one client streams, a trace
 *                           sink (common/trace.h) hands every event line to the streams;
 *                           when the last leaves, the sink goes, and tracing costs nothing
 *   mk_admin_host           the loopback address to listen on: an admin API can stop
 *                           brokers, so it is never on the network by accident
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

/* host if it is a loopback address, else "127.0.0.1". Borrows host. */
const char *mk_admin_host(const char *host);

#endif
