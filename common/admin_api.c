/*
 * Admin API parts: see admin_api.h.
 */
#include "common/admin_api.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/trace.h"

json_t *mk_admin_body_object(struct mk_http_request *r, const char *example) {
  size_t len;
  const char *body = mk_http_body(r, &len);
  if (len == 0) {
    mk_http_error(r, 400, "bad_json", "the body is empty; send a JSON object, e.g. %s", example);
    return NULL;
  }
  json_error_t je;
  json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
  if (!j) {
    mk_http_error(r, 400, "bad_json", "the body is not JSON: %s (line %d, column %d)", je.text,
                  je.line, je.column);
    return NULL;
  }
  if (!json_is_object(j)) {
    json_decref(j);
    mk_http_error(r, 400, "invalid_request", "the body must be a JSON object, e.g. %s", example);
    return NULL;
  }
  return j;
}

/* Any thread, with the trace lock held (trace.h). */
static void on_trace_line(void *opaque, const char *line, size_t len) {
  mk_http_broadcast(((struct mk_admin_trace_stream *)opaque)->http, line, len);
}

void mk_admin_trace_stream_init(struct mk_admin_trace_stream *s) {
  s->http = NULL;
  s->sink = -1;
}

void mk_admin_trace_stream_changed(struct mk_admin_trace_stream *s, bool any) {
  if (any && s->sink < 0) {
    s->sink = mk_trace_add_sink(on_trace_line, s);
    if (s->sink < 0)
      mk_log(MK_LOG_WARN, "admin", "no free trace sink (the trace has 16): /v1/events is quiet");
  } else if (!any && s->sink >= 0) {
    mk_trace_remove_sink(s->sink);  /* waits for a sink call in progress on another thread */
    s->sink = -1;
  }
}

void mk_admin_trace_stream_free(struct mk_admin_trace_stream *s) {
  if (s->sink >= 0) mk_trace_remove_sink(s->sink);
  s->sink = -1;
}

static void streams_changed(struct mk_http_server *http, bool any, void *opaque) {
  (void)http;
  mk_admin_trace_stream_changed(&((struct mk_admin_server *)opaque)->events, any);
}

/* The errors' bodies, {"error": code, "message": ...}, and a 404 that lists what there is. */
static void error_body(struct mk_http_request *r, int status, const char *code,
                       const char *message) {
  json_t *j = json_pack("{s:s, s:s}", "error", code, "message", message);
  if (status == 404 && j) {
    char msg[512];
    snprintf(msg, sizeof msg, "no endpoint %.100s; there are %s", mk_http_path(r),
             ((struct mk_admin_server *)mk_http_opaque(r))->endpoints);
    json_object_set_new(j, "message", json_string(msg));
  }
  mk_http_respond_json(r, status, "application/json", j);
}

int mk_admin_server_start(uv_loop_t *loop, const char *name, const char *host, int port,
                          const struct mk_http_route *routes, int nroutes, const char *endpoints,
                          void *owner, struct mk_admin_server **out, struct mk_err *err) {
  *out = NULL;
  struct mk_admin_server *s = calloc(1, sizeof *s);
  if (!s) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory for the %s", name);
  s->owner = owner;
  s->endpoints = endpoints;
  mk_admin_trace_stream_init(&s->events);
  struct mk_http_options o = {
    .name = name,
    .host = mk_http_loopback_host(host),  /* never on the network by accident */
    .port = port,
    .routes = routes,
    .nroutes = nroutes,
    .opaque = s,
    .error_body = error_body,
    .streams_changed = streams_changed,
  };
  int rc = mk_http_server_start(loop, &o, &s->http, err);
  if (rc) {
    free(s);
    char why[sizeof err->msg];
    snprintf(why, sizeof why, "%s", err->msg);
    return mk_err_set(err, rc, "%s (--admin-port 0 picks a free port, -1 turns it off)", why);
  }
  s->events.http = s->http;
  *out = s;
  return 0;
}

void mk_admin_server_close(struct mk_admin_server *s) {
  if (s) mk_http_server_close(s->http);
}

void mk_admin_server_free(struct mk_admin_server *s) {
  if (!s) return;
  mk_admin_trace_stream_free(&s->events);
  mk_http_server_free(s->http);
  free(s);
}

void *mk_admin_owner(struct mk_http_request *r) {
  return ((struct mk_admin_server *)mk_http_opaque(r))->owner;
}
