/*
 * Fuzz target: what the proxy does to a cluster's answers (proxy/rewrite.c, and the merge of
 * proxy/error_fault.c), the bytes a real cluster (or anything pretending to be one) sends.
 * Run it as described in tests/fuzz/README.md.
 *
 *   input[0]   which answer: Metadata, FindCoordinator, DescribeCluster, Produce, Fetch
 *   input[1]   its version, folded into the API's versions plus one above (which the codec
 *              does not read: the rewrite must refuse it)
 *   input[2..] the answer's frame body (correlation id, header, body)
 *
 * Besides "never crash, never read outside the input" (ASan and UBSan watch that):
 *   - an answer rewritten is a whole frame that decodes again, every broker address in it
 *     is the map's, and rewriting it once more changes no byte;
 *   - the map is asked for every broker (node id 13 has no listener: the rewrite must then
 *     fail, never leave a real address behind);
 *   - for Produce, the same bytes merged with an error fault on partition a-0 decode again
 *     with that error on a-0.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/api.h"
#include "protocol/frame.h"
#include "protocol/messages/describe_cluster.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/find_coordinator.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/produce.h"
#include "proxy/error_fault.h"
#include "proxy/rewrite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static void die(const char *what, int api_key, int version) {
  fprintf(stderr, "fuzz_proxy_rewrite: %s v%d: %s\n", mk_api_find(api_key)->name, version, what);
  abort();
}

enum { NO_LISTENER = 13 };

static int listener(void *ctx, int32_t node_id, struct mk_str host, int32_t port,
                    struct mk_str *out_host, int32_t *out_port, struct mk_err *err) {
  (void)ctx;
  (void)host;
  (void)port;
  if (node_id == NO_LISTENER) return mk_err_set(err, MK_ERR__STATE, "no listener");
  *out_host = mk_str_of("proxy.local");
  *out_port = 30000 + (node_id & 0xff);
  return 0;
}
static const struct mk_rewrite_map map = {listener, NULL};

static bool ours(int32_t node_id, struct mk_str host, int32_t port) {
  return mk_str_eq(host, "proxy.local") && port == 30000 + (node_id & 0xff);
}

/* Every address in a rewritten answer is the map's. */
static bool all_ours(int api_key, int version, const void *body) {
  switch (api_key) {
    case MK_API_METADATA: {
      const struct mk_metadata_response *r = body;
      for (int32_t i = 0; i < r->brokers_count; i++)
        if (!ours(r->brokers[i].node_id, r->brokers[i].host, r->brokers[i].port)) return false;
      return true;
    }
    case MK_API_FIND_COORDINATOR: {
      const struct mk_find_coordinator_response *r = body;
      if (version < 4 && r->node_id >= 0 && !ours(r->node_id, r->host, r->port)) return false;
      for (int32_t i = 0; i < r->coordinators_count; i++) {
        const struct mk_find_coordinator_coordinator *c = &r->coordinators[i];
        if (c->node_id >= 0 && !ours(c->node_id, c->host, c->port)) return false;
      }
      return true;
    }
    case MK_API_DESCRIBE_CLUSTER: {
      const struct mk_describe_cluster_response *r = body;
      for (int32_t i = 0; i < r->brokers_count; i++)
        if (!ours(r->brokers[i].broker_id, r->brokers[i].host, r->brokers[i].port)) return false;
      return true;
    }
    case MK_API_PRODUCE: {
      const struct mk_produce_response *r = body;
      for (int32_t i = 0; i < r->node_endpoints_count; i++)
        if (!ours(r->node_endpoints[i].node_id, r->node_endpoints[i].host,
                  r->node_endpoints[i].port))
          return false;
      return true;
    }
    default: {
      const struct mk_fetch_response *r = body;
      for (int32_t i = 0; i < r->node_endpoints_count; i++)
        if (!ours(r->node_endpoints[i].node_id, r->node_endpoints[i].host,
                  r->node_endpoints[i].port))
          return false;
      return true;
    }
  }
}

/* The Produce answer's partition a-0 carries the fault's error. */
static bool a0_has(const struct mk_produce_response *r, int16_t error) {
  for (int32_t i = 0; i < r->responses_count; i++)
    for (int32_t j = 0;
         mk_str_eq(r->responses[i].name, "a") && j < r->responses[i].partition_responses_count; j++)
      if (r->responses[i].partition_responses[j].index == 0)
        return r->responses[i].partition_responses[j].error_code == error;
  return false;
}

static bool no_broker(const void *ctx, int32_t id, char *ids, size_t len) {
  (void)ctx;
  (void)id;
  (void)ids;
  (void)len;
  return true;
}
static int32_t no_topic(const void *ctx, struct mk_str name) {
  (void)ctx;
  (void)name;
  return MK_FAULT_TOPIC_UNSEEN;
}
static struct mk_str no_name(const void *ctx, struct mk_uuid id) {
  (void)ctx;
  (void)id;
  return MK_STR_NULL;
}
static const struct mk_fault_targets targets = {NULL, no_broker, no_topic, no_name};

/* Merge the answer with an error fault on a-0 of a request for a-0 and a-1. */
static void merge_produce(int version, const uint8_t *answer, size_t len) {
  static const uint8_t records[] = {0};
  struct mk_produce_partition_produce_data parts[2] = {{0, {records, 1}}, {1, {records, 1}}};
  struct mk_produce_topic_produce_data topic = {mk_str_of("a"), parts, 2};
  struct mk_produce_request in = {MK_STR_NULL, 1, 1000, &topic, 1};
  struct mk_request req = {{MK_API_PRODUCE, (int16_t)version, 1, MK_STR_NULL},
                           mk_api_find(MK_API_PRODUCE), &in, 0};
  struct mk_fault f;
  memset(&f, 0, sizeof f);
  f.action = MK_FAULT_ERROR;
  f.api_key = MK_API_PRODUCE;
  f.error_code = MK_ERR_NOT_LEADER_OR_FOLLOWER;
  f.broker = -1;
  snprintf(f.topic, sizeof f.topic, "a");
  f.partition = 0;
  struct mk_arena arena;
  mk_arena_init(&arena);
  struct mk_writer out;
  mk_writer_init(&out);
  struct mk_err err = {0};
  if (mk_error_fault_merge(&req, &f, &targets, answer, len, &arena, &out, &err) == 0) {
    int32_t cid;
    void *body;
    if (out.len < 4 || mk_load_u32(out.buf) != out.len - 4)
      die("merged frame's size is wrong", MK_API_PRODUCE, version);
    if (mk_response_decode(out.buf + 4, out.len - 4, MK_API_PRODUCE, version, &cid, &body, &arena,
                           &err))
      die("a merged answer does not decode", MK_API_PRODUCE, version);
    if (!a0_has(body, MK_ERR_NOT_LEADER_OR_FOLLOWER))
      die("a-0 lacks the fault's error", MK_API_PRODUCE, version);
  }
  mk_writer_free(&out);
  mk_arena_free(&arena);
}

static const int apis[] = {MK_API_METADATA, MK_API_FIND_COORDINATOR, MK_API_DESCRIBE_CLUSTER,
                           MK_API_PRODUCE, MK_API_FETCH};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  int api_key = apis[data[0] % (sizeof apis / sizeof apis[0])];
  const struct mk_api *api = mk_api_find(api_key);
  int version = api->min_version + data[1] % (api->max_version - api->min_version + 2);
  const uint8_t *body = data + 2;
  size_t len = size - 2;
  struct mk_arena arena;
  mk_arena_init(&arena);
  struct mk_writer out, again;
  mk_writer_init(&out);
  mk_writer_init(&again);
  struct mk_err err = {0};
  void *decoded;
  bool changed;
  int rc = mk_rewrite_response(api_key, version, body, len, &map, &arena, &decoded, &changed, &out,
                               &err);
  if (version > api->max_version && rc != MK_ERR_UNSUPPORTED_VERSION)
    die("a version the codec does not read was not refused", api_key, version);
  if (rc && out.len) die("a failed rewrite left bytes behind", api_key, version);
  if (!rc && changed) {
    if (out.len < 4 || mk_load_u32(out.buf) != out.len - 4)
      die("the frame's size is wrong", api_key, version);
    /* It decodes again, with only the map's addresses, and a second rewrite is the same. */
    int32_t cid;
    void *body2;
    if (mk_response_decode(out.buf + 4, out.len - 4, api_key, version, &cid, &body2, &arena, &err))
      die("a rewritten answer does not decode", api_key, version);
    if (!all_ours(api_key, version, body2)) die("a real address was left", api_key, version);
    void *decoded2;
    bool changed2;
    if (mk_rewrite_response(api_key, version, out.buf + 4, out.len - 4, &map, &arena, &decoded2,
                            &changed2, &again, &err))
      die("a rewritten answer cannot be rewritten again", api_key, version);
    if (changed2 && (again.len != out.len || memcmp(again.buf, out.buf, out.len) != 0))
      die("a second rewrite changed bytes", api_key, version);
  }
  if (!rc && !changed && mk_rewrite_needed(api_key, version) && decoded &&
      !all_ours(api_key, version, decoded) && api_key != MK_API_PRODUCE && api_key != MK_API_FETCH)
    die("an answer naming brokers passed unchanged", api_key, version);
  if (api_key == MK_API_PRODUCE && version <= api->max_version) merge_produce(version, body, len);
  mk_writer_free(&out);
  mk_writer_free(&again);
  mk_arena_free(&arena);
  return 0;
}
