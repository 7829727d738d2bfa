/*
 * Admin HTTP: the admin API's endpoints and the dashboard's files (dashboard_http.h), on the HTTP
 * server of common/http_server.h. See admin_http.h for the endpoints, README.md for curl
 * examples.
 *
 * The event stream, the JSON bodies and the loopback address are common/admin_api.h's, as
 * the proxy's admin API has them too.
 *
 * Thread: broker loop, except the mk_broker_admin_* calls.
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
#include "broker/schema_registry_http.h"  /* GET /v1/schemas */
#include "broker/state_events.h"
#include "common/admin_api.h"
#include "common/http_server.h"

static struct mk_broker *broker_of(struct mk_http_request *r) { return mk_admin_owner(r); }

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

static void get_transactions(struct mk_http_request *r) {
  respond_json(r, 200, mk_admin_state_transactions(broker_of(r)));
}

/* One line of the new stream's snapshot: to that stream alone. */
static void to_new_stream(void *opaque, const char *line, size_t len) {
  mk_http_stream_send(opaque, line, len);
}

/* The stream starts with the state as it is (broker_state, partition_state: a reader
 * can rebuild the cluster from the stream alone), then every event as it happens (the
 * trace feeds the streams: common/admin_api.h). */
static void get_events(struct mk_http_request *r) {
  mk_http_stream_begin(r, "minikafka trace events, one per data line (DESIGN.md 3.4)");
  mk_state_events_all(&broker_of(r)->cluster, to_new_stream, r);
}

static void get_trace(struct mk_http_request *r) {
  mk_dashboard_serve_trace(r, broker_of(r)->cluster.cfg.trace_file);
}

static void get_faults(struct mk_http_request *r) {
  respond_json(r, 200, mk_faults_json(&broker_of(r)->faults, -1));
}

static void post_faults(struct mk_http_request *r) {
  json_t *fault = mk_admin_body_object(r, "{\"action\": \"broker_down\", \"broker\": 1}");
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
  json_t *entry = mk_faults_json(&b->faults, id);
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
  json_t *body =
      mk_admin_body_object(r, "{\"name\": \"t\", \"partitions\": 3, \"replication_factor\": 3}");
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

static const struct mk_http_route routes[] = {
  {"GET", "/v1/cluster", get_cluster},
  {"GET", "/v1/producers", get_producers},
  {"GET", "/v1/schemas", get_schemas},
  {"GET", "/v1/groups", get_groups},
  {"GET", "/v1/transactions", get_transactions},
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
  return mk_admin_server_start(&b->loop, "admin API", b->cluster.cfg.host,
                               b->cluster.cfg.admin_port, routes, sizeof routes / sizeof routes[0],
                               "the dashboard at GET /, and GET /v1/cluster, GET /v1/producers, "
                               "GET /v1/groups, GET /v1/transactions, GET /v1/schemas, "
                               "GET /v1/events, GET|POST|DELETE /v1/faults, POST /v1/topics, "
                               "POST /v1/reset, GET /v1/trace",
                               b, &b->admin, err);
}

void mk_admin_http_close(struct mk_broker *b) { mk_admin_server_close(b->admin); }

void mk_admin_http_free(struct mk_broker *b) {
  mk_admin_server_free(b->admin);
  b->admin = NULL;
}
