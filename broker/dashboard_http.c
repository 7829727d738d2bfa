/*
 * Dashboard over HTTP: the handlers of dashboard_http.h.
 */
#include "broker/dashboard_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/dashboard.h"

void mk_dashboard_serve(struct mk_http_request *r) {
  const char *path = mk_http_path(r);
  struct mk_web_answer a;
  mk_dashboard_answer(mk_http_method(r), path, strlen(path), mk_http_header(r, "If-None-Match"),
                      &a);
  if (a.status == 404) {
    mk_http_error(r, 404, "not_found", "%s", a.message);
    return;
  }
  if (a.status == 405) {  /* cannot happen: only GET and HEAD are routed here */
    mk_http_error(r, 405, "method_not_allowed", "%s", a.message);
    return;
  }
  mk_http_respond(r, a.status, a.file->content_type, a.headers, a.file->data,
                  a.status == 200 ? a.file->len : 0);
}

void mk_dashboard_serve_trace(struct mk_http_request *r, const char *path) {
  if (!path) {
    mk_http_error(r, 404, "not_found",
                  "this server writes no trace file (start the broker, proxy or lab with --trace "
                  "FILE)");
    return;
  }
  FILE *f = fopen(path, "rb");
  if (!f) {
    mk_http_error(r, 404, "not_found", "cannot read the trace file %.200s: %s", path,
                  strerror(errno));
    return;
  }
  char *buf = NULL;
  size_t len = 0;
  int status = 200;
  if (fseek(f, 0, SEEK_END) == 0) {
    long size = ftell(f);
    if (size > MK_DASHBOARD_TRACE_MAX) {
      status = 413;
    } else if (size >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
               (buf = malloc(size ? (size_t)size : 1))) {
      len = fread(buf, 1, (size_t)size, f);
    }
  }
  fclose(f);
  if (status == 413) {
    mk_http_error(r, 413, "too_large",
                  "the trace file %.200s is over %d MiB: open it in the dashboard's Replay tab "
                  "(its file picker reads it from the disk)", path, MK_DASHBOARD_TRACE_MAX >> 20);
    return;
  }
  if (!buf) {
    mk_http_error(r, 503, "unavailable", "cannot read the trace file %.200s", path);
    return;
  }
  while (len > 0 && buf[len - 1] != '\n') len--;  /* a line still being written waits */
  mk_http_respond(r, 200, "application/x-ndjson; charset=utf-8", NULL, buf, len);
  free(buf);
}
