/*
 * The proxy's admin API: DESIGN.md 3.2's endpoints where they make sense in front of a real
 * cluster, on the one HTTP layer (common/http_server.h), as the broker's (broker/admin_http.c).
 *
 *   GET    /v1/cluster     what the proxy knows: the cluster's brokers (each with the
 *                          proxy's listener for it, up or down, and its real address),
 *                          topics and partitions as Metadata answers report them, and a
 *                          sentence on what cannot be seen from outside
 *   GET    /v1/events      the trace as Server-Sent Events: request_received,
 *                          response_sent / response_dropped, fault, and append / duplicate
 *                          read from Produce answers; never replication, HW or ISR events,
 *                          which happen inside the cluster (the stream's first comment
 *                          says so)
 *   POST   /v1/faults      drop_response, error, delay, broker_down, broker_up
 *   GET    /v1/faults      the faults so far
 *   DELETE /v1/faults      forget them
 *   GET    /v1/producers   an empty list: producer state lives inside the brokers
 *   GET    /v1/trace       the --trace file this run writes, for the dashboard's replay
 *                          (broker/dashboard_http.h)
 *   GET    /, /dashboard/  the instructor's page (broker/dashboard.h)
 *
 * Thread: the proxy's loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/dashboard_http.h"
#include "common/admin_api.h"
#include "common/http_server.h"
#include "proxy/proxy_internal.h"

static struct mk_proxy *proxy_of(struct mk_http_request *r) { return mk_admin_owner(r); }

static void respond_json(struct mk_http_request *r, int status, json_t *j) {
  mk_http_respond_json(r, status, "application/json", j);
}

static void get_cluster(struct mk_http_request *r) {
  respond_json(r, 200, mk_proxy_cluster_state(proxy_of(r)));
}

static void get_producers(struct mk_http_request *r) {
  respond_json(r, 200, json_pack("{s:[], s:s}", "topics", "not_visible",
                                 "idempotent producers' state lives inside the brokers of the "
                                 "real cluster; the proxy cannot read it"));
}

static void get_events(struct mk_http_request *r) {
  mk_http_stream_begin(r, "minikafka proxy: trace events, one per data line (DESIGN.md 3.4). "
                          "Requests and answers as the proxy sees them, faults, and appends "
                          "read from Produce answers; what happens inside the real cluster "
                          "(replication, high watermarks, ISR changes, elections) is not "
                          "visible from outside and never appears here");
}

static void get_faults(struct mk_http_request *r) {
  respond_json(r, 200, mk_faults_json(&proxy_of(r)->faults, -1));
}

static void post_faults(struct mk_http_request *r) {
  json_t *fault = mk_admin_body_object(r, "{\"action\": \"broker_down\", \"broker\": 1}");
  if (!fault) return;
  struct mk_proxy *p = proxy_of(r);
  struct mk_err err = {0};
  int id = -1;
  size_t len;
  const char *body = mk_http_body(r, &len);
  int rc = mk_proxy_inject(p, body, len, &id, &err);
  if (rc) {
    json_decref(fault);
    if (rc == MK_ERR__NO_MEMORY) mk_http_error(r, 503, "unavailable", "%s", err.msg);
    else mk_http_error(r, 400, "invalid_request", "%s", err.msg);
    return;
  }
  /* Answer with the fault as the list shows it (for broker_down and the other immediate
   * actions, that includes what it did), or else as posted. */
  json_t *entry = mk_faults_json(&p->faults, id);
  if (entry)
    json_decref(fault);
  else
    entry = json_pack("{s:i, s:o}", "id", id, "fault", fault);
  respond_json(r, 201, entry);
}

static void delete_faults(struct mk_http_request *r) {
  mk_faults_clear(&proxy_of(r)->faults);
  respond_json(r, 200, json_pack("{s:b}", "cleared", 1));
}

static void get_trace(struct mk_http_request *r) {
  mk_dashboard_serve_trace(r, proxy_of(r)->cfg.trace_file);
}

static const struct mk_http_route routes[] = {
  {"GET", "/v1/cluster", get_cluster},
  {"GET", "/v1/events", get_events},
  {"GET", "/v1/faults", get_faults},
  {"POST", "/v1/faults", post_faults},
  {"DELETE", "/v1/faults", delete_faults},
  {"GET", "/v1/producers", get_producers},
  {"GET", "/v1/trace", get_trace},
  {"GET", "/", mk_dashboard_serve},
  {"GET", "/dashboard", mk_dashboard_serve},
  {"GET", "/dashboard/*", mk_dashboard_serve},
};

int mk_proxy_admin_start(struct mk_proxy *p, struct mk_err *err) {
  if (p->cfg.admin_port < 0) return 0;
  return mk_admin_server_start(&p->loop, "proxy admin API", p->host, p->cfg.admin_port, routes,
                               sizeof routes / sizeof routes[0],
                               "GET /v1/cluster, GET /v1/events, GET|POST|DELETE /v1/faults, GET "
                               "/v1/producers, GET /v1/trace and the dashboard at GET / (this is "
                               "a proxy: no POST /v1/topics, no POST /v1/reset)",
                               p, &p->admin, err);
}

void mk_proxy_admin_close(struct mk_proxy *p) { mk_admin_server_close(p->admin); }

void mk_proxy_admin_free(struct mk_proxy *p) {
  mk_admin_server_free(p->admin);
  p->admin = NULL;
}

const char *mk_proxy_admin_url(const struct mk_proxy *p) {
  return p->admin ? mk_http_server_url(p->admin->http) : NULL;
}
