/*
 * Admin HTTP: the admin API's endpoints and the dashboard's files (dashboard.h), on the HTTP
 * server of common/http_server.h. See admin_http.h for the endpoints, README.md for curl
 * examples.
 *
 * The event stream: while at least one client streams GET /v1/events, a trace sink
 * (common/trace.h) is attached that broadcasts each event line to the streams; when the
 * last one leaves, the sink goes, so the trace costs nothing again.
 *
 * Thread: broker loop, except on_trace_line (any thread) and the mk_broker_admin_* calls.
 */
#include "broker/admin_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/admin_state.h"
#include "broker/broker_internal.h"
#include "broker/controller.h"
#include "broker/dashboard_http.h"
#include "broker/reset.h"
#include "broker/state_events.h"
#include "broker/schema_registry_http.h"  /* GET /v1/schemas */
#include "common/http_server.h"
#include "common/log.h"
#include "common/trace.h"

struct mk_admin_http {
  struct mk_broker *broker;
  struct mk_http_server *http;
  int sink;                     /* trace sink id while anyone streams, else -1 */
};

static struct mk_broker *broker_of(struct mk_http_request *r) {
  return ((struct mk_admin_http *)mk_http_opaque(r))->broker;
}

/* ---- the server of a broker ---------------------------------------------------------------- */

int mk_broker_admin_port(const struct mk_broker *b) {
  return b->admin ? mk_http_server_port(b->admin->http) : -1;
}

const char *mk_broker_admin_url(const struct mk_broker *b) {
  return b->admin ? mk_http_server_url(b->admin->http) : NULL;
}

/* ---- answers ------------------------------------------------------------------------------ */

static void respond_json(struct mk_http_request *r, int status, json_t *j) {
  mk_http_respond_json(r, status, "application/json", j);
}

/* A failed state change, by its error code: ours (negative) or Kafka's. */
static void respond_failure(struct mk_http_request *r, int code, const struct mk_err *err) {
  switch (code) {
  case MK_ERR__INVALID_ARG: mk_http_error(r, 400, "invalid_request", "%s", err->msg); break;
  case MK_ERR__STATE: mk_http_error(r, 409, "conflict", "%s", err->msg); break;
  case MK_ERR__NO_MEMORY: mk_http_error(r, 503, "unavailable", "%s", err->msg); break;
  case MK_ERR_TOPIC_ALREADY_EXISTS: mk_http_error(r, 409, mk_err_name(code), "%s", err->msg); break;
  case MK_ERR_UNKNOWN_TOPIC_OR_PARTITION:
    mk_http_error(r, 404, mk_err_name(code), "%s", err->msg);
    break;
  default: mk_http_error(r, 400, mk_err_name(code), "%s", err->msg); break;
  }
}

/* Parse the body as a JSON object, or answer 400 and return NULL. Returns new. */
static json_t *body_object(struct mk_http_request *r, const char *example) {
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

/* ---- the event stream --------------------------------------------------------------------- */

/* Any thread, with the trace lock held (trace.h). */
static void on_trace_line(void *opaque, const char *line, size_t len) {
  mk_http_broadcast(((struct mk_admin_http *)opaque)->http, line, len);
}

static void streams_changed(struct mk_http_server *http, bool any, void *opaque) {
  (void)http;
  struct mk_admin_http *s = opaque;
  if (any && s->sink < 0) {
    s->sink = mk_trace_add_sink(on_trace_line, s);
    if (s->sink < 0)
      mk_log(MK_LOG_WARN, "admin", "no free trace sink (the trace has 16): /v1/events is quiet");
  } else if (!any && s->sink >= 0) {
    mk_trace_remove_sink(s->sink);  /* waits for a sink call in progress on another thread */
    s->sink = -1;
  }
}

/* ---- the endpoints ------------------------------------------------------------------------ */

static void get_cluster(struct mk_http_request *r) {
  respond_json(r, 200, mk_admin_state_cluster(broker_of(r)));
}

static void get_producers(struct mk_http_request *r) {
  respond_json(r, 200, mk_admin_state_producers(broker_of(r)));
}

static void get_schemas(struct mk_http_request *r) {
  respond_json(r, 200, mk_schema_registry_view(broker_of(r)));
}

static void get_groups(struct mk_http_request *r) {
  respond_json(r, 200, mk_admin_state_groups(broker_of(r)));
}

/* One line of the new stream's snapshot: to that stream alone. */
static void to_new_stream(void *opaque, const char *line, size_t len) {
  mk_http_stream_send(opaque, line, len);
}

/* The stream starts with the state as it is (broker_state, partition_state: a reader
 * can rebuild the cluster from the stream alone), then every event as it happens. */
static void get_events(struct mk_http_request *r) {
  mk_http_stream_begin(r, "minikafka trace events, one per data line (DESIGN.md 3.4)");
  mk_state_events_all(&broker_of(r)->cluster, to_new_stream, r);
}

static void get_trace(struct mk_http_request *r) {
  mk_dashboard_serve_trace(r, broker_of(r)->cluster.cfg.trace_file);
}

static void get_faults(struct mk_http_request *r) {
  char *text = mk_faults_list_json(&broker_of(r)->faults);
  json_t *j = text ? json_loads(text, 0, NULL) : NULL;
  free(text);
  respond_json(r, 200, j);
}

static void post_faults(struct mk_http_request *r) {
  json_t *fault = body_object(r, "{\"action\": \"broker_down\", \"broker\": 1}");
  if (!fault) return;
  struct mk_broker *b = broker_of(r);
  struct mk_err err = {0};
  int id = -1;
  size_t len;
  const char *body = mk_http_body(r, &len);
  int rc = mk_fault_inject(b, body, len, &id, &err);
  if (rc) {
    json_decref(fault);
    respond_failure(r, rc, &err);
    return;
  }
  /* Answer with the fault as the list shows it (for broker_down and the other immediate
   * actions, that includes what it did), or else as posted. */
  char *text = mk_faults_list_json(&b->faults);
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
  respond_json(r, 201, entry);
}

static void delete_faults(struct mk_http_request *r) {
  mk_faults_clear(&broker_of(r)->faults);
  respond_json(r, 200, json_pack("{s:b}", "cleared", 1));
}

static void post_reset(struct mk_http_request *r) {
  struct mk_reset_result done;
  struct mk_err err = {0};
  int rc = mk_reset(broker_of(r), &done, &err);
  json_t *j = json_pack("{s:b, s:i, s:i, s:i, s:i}", "reset", rc == 0, "topics_deleted",
                        done.topics_deleted, "connections_closed", done.connections_closed,
                        "faults_cleared", done.faults_cleared, "brokers_started",
                        done.brokers_started);
  if (rc && j) json_object_set_new(j, "message", json_string(err.msg));
  respond_json(r, rc ? 503 : 200, j);
}

static void post_topics(struct mk_http_request *r) {
  json_t *body = body_object(r, "{\"name\": \"t\", \"partitions\": 3, \"replication_factor\": 3}");
  if (!body) return;
  struct mk_err err = {0};
  json_t *topic = NULL;
  int rc = mk_admin_state_create_topic(broker_of(r), body, &topic, &err);
  json_decref(body);
  if (rc)
    respond_failure(r, rc, &err);
  else
    respond_json(r, 201, topic);
}

/* The server's error bodies, {"error": code, "message": ...}, and a 404 that lists what
 * there is. */
static void error_body(struct mk_http_request *r, int status, const char *code,
                       const char *message) {
  json_t *j = json_pack("{s:s, s:s}", "error", code, "message", message);
  if (status == 404 && j) {
    char msg[512];
    snprintf(msg, sizeof msg, "no endpoint %.100s; there are the dashboard at GET /, and GET "
             "/v1/cluster, GET /v1/producers, GET /v1/groups, GET /v1/schemas, GET /v1/events, "
             "GET|POST|DELETE /v1/faults, POST /v1/topics, POST /v1/reset, GET /v1/trace",
             mk_http_path(r));
    json_object_set_new(j, "message", json_string(msg));
  }
  respond_json(r, status, j);
}

static const struct mk_http_route routes[] = {
  {"GET", "/v1/cluster", get_cluster},
  {"GET", "/v1/producers", get_producers},
  {"GET", "/v1/schemas", get_schemas},
  {"GET", "/v1/groups", get_groups},
  {"GET", "/v1/events", get_events},
  {"GET", "/v1/faults", get_faults},
  {"POST", "/v1/faults", post_faults},
  {"DELETE", "/v1/faults", delete_faults},
  {"POST", "/v1/topics", post_topics},
  {"POST", "/v1/reset", post_reset},
  {"GET", "/v1/trace", get_trace},
  {"GET", "/", mk_dashboard_serve},
  {"GET", "/dashboard", mk_dashboard_serve},
  {"GET", "/dashboard/*", mk_dashboard_serve},
};

/* ---- the server's life ---------------------------------------------------------------------- */

int mk_admin_http_start(struct mk_broker *b, struct mk_err *err) {
  if (b->cluster.cfg.admin_port < 0) return 0;
  struct mk_admin_http *s = calloc(1, sizeof *s);
  if (!s) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory for the admin API");
  s->broker = b;
  s->sink = -1;
  struct mk_http_options o = {
    .name = "admin API",
    .host = mk_http_loopback_host(b->cluster.cfg.host),  /* admin_http.h: loopback only */
    .port = b->cluster.cfg.admin_port,
    .routes = routes,
    .nroutes = sizeof routes / sizeof routes[0],
    .opaque = s,
    .error_body = error_body,
    .streams_changed = streams_changed,
  };
  int rc = mk_http_server_start(&b->loop, &o, &s->http, err);
  if (rc) {
    free(s);
    char why[sizeof err->msg];
    snprintf(why, sizeof why, "%s", err->msg);
    return mk_err_set(err, rc, "%s (--admin-port 0 picks a free port, -1 turns it off)", why);
  }
  b->admin = s;
  return 0;
}

void mk_admin_http_close(struct mk_broker *b) {
  if (b->admin) mk_http_server_close(b->admin->http);
}

void mk_admin_http_free(struct mk_broker *b) {
  struct mk_admin_http *s = b->admin;
  if (!s) return;
  b->admin = NULL;
  if (s->sink >= 0) mk_trace_remove_sink(s->sink);
  mk_http_server_free(s->http);
  free(s);
}
