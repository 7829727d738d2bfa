/*
 * Schema registry HTTP: the listener, requests in, answers out (when committed), and the
 * admin API's view. See schema_registry_http.h.
 *
 * Every path and method goes to mk_schema_registry_handle, which parses the path itself and
 * answers Confluent's 404 and 405 for what it does not know: so the routes below are
 * "everything", one per method. HEAD is asked as GET (the HTTP layer drops the body).
 */
#include "broker/schema_registry_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_internal.h"
#include "broker/kafka_store.h"
#include "broker/reset.h"
#include "broker/schema_registry_store.h"
#include "common/http_server.h"
#include "common/log.h"

struct mk_schema_registry_service {
  struct mk_broker *broker;
  struct mk_http_server *http;
  struct mk_kafka_store store;
  bool store_ready;              /* mk_kafka_store_init ran (its timer needs closing) */
};

/* An answer computed, waiting for the registry's records to be committed. */
struct answer {
  struct mk_http_request *r;
  int status;
  char *json;
};

int mk_broker_schema_registry_port(const struct mk_broker *b) {
  return b->registry && b->registry->http ? mk_http_server_port(b->registry->http) : -1;
}

const char *mk_broker_schema_registry_url(const struct mk_broker *b) {
  return b->registry && b->registry->http ? mk_http_server_url(b->registry->http) : NULL;
}

/* ---- requests ------------------------------------------------------------------------------ */

static void send_answer(struct answer *a) {
  mk_http_respond(a->r, a->status, MK_SCHEMA_REGISTRY_CONTENT_TYPE, NULL, a->json,
                  strlen(a->json));
  free(a->json);
  free(a);
}

/* Confluent's shape for an error we make here: {"error_code": code, "message": message}. */
static void respond_error(struct mk_http_request *r, int status, int code, const char *message) {
  mk_http_respond_json(r, status, MK_SCHEMA_REGISTRY_CONTENT_TYPE,
                       json_pack("{s:i, s:s}", "error_code", code, "message", message));
}

/* The registry's records are committed (rc 0), or will not be in time (the answer is then
 * Confluent's 50002 for a timeout, 50001 for the rest). */
static void on_committed(void *arg, int rc, const struct mk_err *err) {
  struct answer *a = arg;
  if (rc == 0) {
    send_answer(a);
    return;
  }
  char msg[sizeof err->msg + 64];
  snprintf(msg, sizeof msg, "The Kafka store did not commit in time: %s", err->msg);
  respond_error(a->r, 500, rc == MK_ERR__TIMED_OUT ? 50002 : 50001, msg);
  free(a->json);
  free(a);
}

static void handle(struct mk_http_request *r) {
  struct mk_schema_registry_service *svc = mk_http_opaque(r);
  mk_kafka_store_sync(&svc->store);
  size_t len;
  const char *body = mk_http_body(r, &len);
  const char *query = mk_http_query(r), *method = mk_http_method(r);
  if (strcmp(method, "HEAD") == 0) method = "GET";
  struct answer *a = calloc(1, sizeof *a);
  if (!a || mk_schema_registry_handle(svc->store.registry, method, mk_http_path(r),
                                      *query ? query : NULL, body, len, &a->status, &a->json)) {
    free(a);
    respond_error(r, 500, 500, "out of memory");
    return;
  }
  a->r = mk_http_defer(r);
  if (!mk_kafka_store_when_committed(&svc->store, on_committed, a)) send_answer(a);
}

/* The HTTP layer's own refusals (413, 414, 403, ...), as Confluent's error bodies. */
static void error_body(struct mk_http_request *r, int status, const char *code,
                       const char *message) {
  (void)code;
  respond_error(r, status, status, message);
}

static const struct mk_http_route routes[] = {
  {"GET", "/*", handle},
  {"POST", "/*", handle},
  {"PUT", "/*", handle},
  {"DELETE", "/*", handle},
};

/* ---- the view (GET /v1/schemas on the admin API) ------------------------------------------- */

static json_t *subject_view(struct mk_schema_registry *reg, const struct mk_registry_subject *s) {
  json_t *versions = json_array();
  for (int i = 0; versions && i < s->num_versions; i++)
    json_array_append_new(versions, json_pack("{s:i, s:i, s:b}", "version", s->versions[i].version,
                                              "id", s->versions[i].id,
                                              "deleted", s->versions[i].deleted));
  /* The latest version's text too, so the dashboard (which may only talk to the admin API's
   * origin) can show what the subject holds without asking the registry's port. */
  const struct mk_registry_version *lv = mk_registry_latest(s);
  const struct mk_registry_schema *ls = lv ? mk_registry_schema_by_id(reg, lv->id) : NULL;
  json_t *latest = lv ? json_pack("{s:i, s:i, s:s?}", "version", lv->version, "id", lv->id,
                                  "schema", ls ? ls->text : NULL)
                      : json_null();
  struct mk_registry_config c = mk_registry_effective_config(reg, s);
  return json_pack("{s:s, s:s, s:b, s:o*, s:o*}", "subject", s->name, "compatibility",
                   mk_compatibility_name(c.level), "compatibility_own",
                   s->has_config && s->config.has_level, "versions", versions, "latest", latest);
}

json_t *mk_schema_registry_view(struct mk_broker *b) {
  struct mk_schema_registry_service *svc = b->registry;
  if (!svc) return json_pack("{s:n, s:[]}", "url", "subjects");
  mk_kafka_store_sync(&svc->store);
  struct mk_schema_registry *reg = svc->store.registry;
  json_t *subjects = json_array();
  for (int i = 0; subjects && i < reg->num_subjects; i++)
    json_array_append_new(subjects, subject_view(reg, reg->subjects[i]));
  struct mk_partition *p = mk_kafka_store_partition(&svc->store);
  struct mk_replica *leader = p ? mk_partition_leader(p) : NULL;
  json_t *part = p ? json_pack("{s:i, s:i, s:I, s:I}", "leader", p->leader, "leader_epoch",
                               p->leader_epoch, "high_watermark", (json_int_t)p->high_watermark,
                               "log_end_offset",
                               (json_int_t)(leader ? leader->log.log_end_offset : -1))
                   : json_null();
  struct mk_registry_config global = mk_registry_effective_config(reg, NULL);
  return json_pack("{s:s, s:s, s:o*, s:I, s:I, s:i, s:i, s:s, s:o*}",
                   "url", mk_broker_schema_registry_url(b), "topic", MK_SCHEMAS_TOPIC,
                   "partition", part, "reloads", (json_int_t)svc->store.reloads,
                   "timeouts", (json_int_t)svc->store.timeouts,
                   "subject_count", mk_schema_registry_subject_count(reg),
                   "schema_count", mk_schema_registry_schema_count(reg),
                   "compatibility", mk_compatibility_name(global.level), "subjects", subjects);
}

void mk_schema_registry_http_reset(struct mk_broker *b) {
  if (b->registry && b->registry->store_ready) mk_kafka_store_reset(&b->registry->store);
}

/* POST /v1/reset (reset.h): waiting answers are answered, _schemas goes and the registry
 * empties; the next registration creates the topic again, as on a fresh broker. */
static void reset_clear(struct mk_broker *b, void *arg) {
  (void)arg;
  mk_schema_registry_http_reset(b);
}

/* ---- the service's life --------------------------------------------------------------------- */

int mk_schema_registry_http_start(struct mk_broker *b, struct mk_err *err) {
  if (b->cluster.cfg.schema_registry_port < 0) return 0;
  struct mk_schema_registry_service *svc = calloc(1, sizeof *svc);
  if (!svc) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory for the schema registry");
  svc->broker = b;
  b->registry = svc;  /* from here on, mk_broker_free frees it, whatever fails below */
  int rc = mk_kafka_store_init(&svc->store, b, err);
  svc->store_ready = rc == 0;
  if (rc) return rc;
  if (mk_reset_hook_add(b, &(struct mk_reset_hook){"schema registry", reset_clear, NULL, svc}))
    mk_log(MK_LOG_WARN, "broker", "no reset hook left for the schema registry");
  struct mk_http_options o = {
    .name = "schema registry",
    .host = mk_http_loopback_host(b->cluster.cfg.host),
    .port = b->cluster.cfg.schema_registry_port,
    .routes = routes,
    .nroutes = sizeof routes / sizeof routes[0],
    .opaque = svc,
    .body_max = MK_SCHEMA_REGISTRY_BODY_MAX,
    .error_body = error_body,
  };
  rc = mk_http_server_start(&b->loop, &o, &svc->http, err);
  if (rc) {
    char why[sizeof err->msg];
    snprintf(why, sizeof why, "%s", err->msg);
    return mk_err_set(err, rc, "%s (--schema-registry-port 0 picks a free port, -1 turns it "
                      "off)", why);
  }
  return 0;
}

void mk_schema_registry_http_close(struct mk_broker *b) {
  struct mk_schema_registry_service *svc = b->registry;
  if (!svc) return;
  if (svc->store_ready) mk_kafka_store_close(&svc->store);  /* answers first, then the server */
  mk_http_server_close(svc->http);
}

void mk_schema_registry_http_free(struct mk_broker *b) {
  struct mk_schema_registry_service *svc = b->registry;
  if (!svc) return;
  b->registry = NULL;
  mk_http_server_free(svc->http);
  mk_kafka_store_free(&svc->store);
  free(svc);
}
