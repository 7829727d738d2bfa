/*
 * Rewrite: broker addresses in answers, replaced by the proxy's. See rewrite.h.
 *
 * Each API that names brokers keeps them in its own struct (MetadataResponseBroker,
 * DescribeClusterBroker, the coordinators of FindCoordinator, NodeEndpoint), but every one
 * is a node id, a host and a port; replace() does the one thing to each.
 */
#include "proxy/rewrite.h"

#include "protocol/api.h"
#include "protocol/frame.h"
#include "protocol/messages/describe_cluster.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/find_coordinator.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/produce.h"

/* First versions whose answers carry leader hints (KIP-951), a tagged field. */
enum { PRODUCE_HINTS_SINCE = 10, FETCH_HINTS_SINCE = 16 };
/* FindCoordinator answers one coordinator per key from v4, none at the top level. */
enum { COORDINATORS_SINCE = 4 };

bool mk_rewrite_needed(int api_key, int api_version) {
  switch (api_key) {
    case MK_API_METADATA:
    case MK_API_FIND_COORDINATOR:
    case MK_API_DESCRIBE_CLUSTER: return true;
    case MK_API_PRODUCE: return api_version >= PRODUCE_HINTS_SINCE;
    case MK_API_FETCH: return api_version >= FETCH_HINTS_SINCE;
    default: return false;
  }
}

static int replace(const struct mk_rewrite_map *map, int32_t node_id, struct mk_str *host,
                   int32_t *port, struct mk_err *err) {
  return map->listener(map->ctx, node_id, *host, *port, host, port, err);
}

static int rewrite_metadata(struct mk_metadata_response *r, const struct mk_rewrite_map *map,
                            struct mk_err *err) {
  int rc = 0;
  for (int32_t i = 0; !rc && i < r->brokers_count; i++) {
    struct mk_metadata_response_broker *b = &r->brokers[i];
    rc = replace(map, b->node_id, &b->host, &b->port, err);
  }
  return rc;
}

/* FindCoordinator: one coordinator before v4, one per key from v4 on. node_id -1 (with an
 * error) is no broker at all: nothing to replace. */
static int rewrite_find_coordinator(struct mk_find_coordinator_response *r, int version,
                                    const struct mk_rewrite_map *map, struct mk_err *err) {
  int rc = 0;
  if (version < COORDINATORS_SINCE && r->node_id >= 0)
    rc = replace(map, r->node_id, &r->host, &r->port, err);
  for (int32_t i = 0; !rc && i < r->coordinators_count; i++) {
    struct mk_find_coordinator_coordinator *c = &r->coordinators[i];
    if (c->node_id >= 0) rc = replace(map, c->node_id, &c->host, &c->port, err);
  }
  return rc;
}

static int rewrite_describe_cluster(struct mk_describe_cluster_response *r,
                                    const struct mk_rewrite_map *map, struct mk_err *err) {
  int rc = 0;
  for (int32_t i = 0; !rc && i < r->brokers_count; i++) {
    struct mk_describe_cluster_broker *b = &r->brokers[i];
    rc = replace(map, b->broker_id, &b->host, &b->port, err);
  }
  return rc;
}

static int rewrite_produce(struct mk_produce_response *r, const struct mk_rewrite_map *map,
                           struct mk_err *err) {
  int rc = 0;
  for (int32_t i = 0; !rc && i < r->node_endpoints_count; i++) {
    struct mk_produce_node_endpoint *e = &r->node_endpoints[i];
    rc = replace(map, e->node_id, &e->host, &e->port, err);
  }
  return rc;
}

static int rewrite_fetch(struct mk_fetch_response *r, const struct mk_rewrite_map *map,
                         struct mk_err *err) {
  int rc = 0;
  for (int32_t i = 0; !rc && i < r->node_endpoints_count; i++) {
    struct mk_fetch_node_endpoint *e = &r->node_endpoints[i];
    rc = replace(map, e->node_id, &e->host, &e->port, err);
  }
  return rc;
}

int mk_rewrite_response(int api_key, int api_version, const uint8_t *buf, size_t len,
                        const struct mk_rewrite_map *map, struct mk_arena *arena, void **body,
                        bool *changed, struct mk_writer *out, struct mk_err *err) {
  *changed = false;
  *body = NULL;
  const struct mk_api *api = mk_api_find(api_key);
  if (!mk_rewrite_needed(api_key, api_version)) return 0;
  if (!mk_api_supports(api, api_version))
    return mk_err_set(err, MK_ERR_UNSUPPORTED_VERSION,
                      "%s v%d answers name brokers, but the proxy reads only v%d-%d of them, so "
                      "it cannot put its own addresses in",
                      api->name, api_version, api->min_version, api->max_version);
  int32_t correlation_id;
  struct mk_err why = {0};
  int rc = mk_response_decode(buf, len, api_key, api_version, &correlation_id, body, arena, &why);
  if (rc)
    return mk_err_set(err, rc, "%s v%d answer from the cluster does not decode: %s", api->name,
                      api_version, why.msg);
  switch (api_key) {
    case MK_API_METADATA: rc = rewrite_metadata(*body, map, err); break;
    case MK_API_FIND_COORDINATOR:
      rc = rewrite_find_coordinator(*body, api_version, map, err);
      break;
    case MK_API_DESCRIBE_CLUSTER: rc = rewrite_describe_cluster(*body, map, err); break;
    case MK_API_PRODUCE:
      if (((struct mk_produce_response *)*body)->node_endpoints_count <= 0) return 0;
      rc = rewrite_produce(*body, map, err);
      break;
    case MK_API_FETCH:
      if (((struct mk_fetch_response *)*body)->node_endpoints_count <= 0) return 0;
      rc = rewrite_fetch(*body, map, err);
      break;
  }
  if (rc) return rc;
  rc = mk_response_encode(out, api_key, api_version, correlation_id, *body, &why);
  if (rc)
    return mk_err_set(err, rc, "%s v%d answer cannot be encoded again: %s", api->name,
                      api_version, why.msg);
  *changed = true;
  return 0;
}
