/*
 * Dashboard over HTTP: the two handlers that put the dashboard (dashboard.h) and a trace
 * file on an HTTP server of common/http_server.h. The broker's admin API (admin_http.c)
 * and `minikafka replay` (cli/replay.c) both route to them, so the page and the file are
 * served the same way wherever they come from.
 *
 *   GET /, /dashboard, /dashboard/FILE   mk_dashboard_serve: the embedded files, with
 *                                        their caching headers (a GET route answers HEAD)
 *   GET /v1/trace                        mk_dashboard_serve_trace: a --trace file as it is
 *                                        now, whole lines only, for the page's replay
 *
 * Thread: the HTTP server's loop (they are route handlers).
 */
#ifndef MK_BROKER_DASHBOARD_HTTP_H
#define MK_BROKER_DASHBOARD_HTTP_H

#include "common/http_server.h"

/* The largest trace file served (a bigger one is answered 413: open it in the page's
 * Replay tab instead, which reads files from the disk without this limit). */
enum { MK_DASHBOARD_TRACE_MAX = 64 << 20 };

/* Answer a request for the dashboard's files (404 for a name it does not have). */
void mk_dashboard_serve(struct mk_http_request *r);

/* Answer with the trace file at path as application/x-ndjson, up to its last complete line
 * (the broker may be writing the next one). path NULL: 404 saying the server writes no
 * trace file. A file that cannot be read: 404 naming it and why. Borrows path. */
void mk_dashboard_serve_trace(struct mk_http_request *r, const char *path);

#endif
