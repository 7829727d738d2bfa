/*
 * Error faults on a real cluster: planning, answering, splitting and merging by the field
 * names of the protocol's tables. See error_fault.h.
 *
 * A message's topics are an array field of its top struct; a topic's partitions an array
 * field of the topic struct. The table below names those fields for each API, in the
 * request and in the response, and everything else reads them through the schema (field
 * offsets and element sizes), the way protocol/schema.c itself walks a message.
 */
#include "proxy/error_fault.h"

#include <string.h>

#include "protocol/api.h"
#include "protocol/messages/describe_configs.h"
#include "protocol/messages/find_coordinator.h"
#include "protocol/messages/init_producer_id.h"
#include "protocol/messages/describe_cluster.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/produce.h"

/* Where a message keeps its topics and partitions (field names of its schema). */
struct layout {
  const char *topics;      /* the top struct's array of topics */
  const char *names;       /* or an array of plain topic names (DeleteTopics v0-5) */
  const char *name, *id;   /* in a topic: its name, and its id (NULL: none) */
  const char *partitions;  /* in a topic: its partitions; NULL for a topic-level API */
  const char *index;       /* in a partition: its index */
};

static const struct error_api {
  int16_t api_key;
  struct layout req, resp;
  const char *none[4];     /* an error item's fields that mean "no value" as -1 */
} error_apis[] = {
  {MK_API_PRODUCE, {"topic_data", NULL, "name", NULL, "partition_data", "index"},
   {"responses", NULL, "name", NULL, "partition_responses", "index"},
   {"base_offset", "log_append_time_ms", "log_start_offset", NULL}},
  {MK_API_FETCH, {"topics", NULL, "topic", "topic_id", "partitions", "partition"},
   {"responses", NULL, "topic", "topic_id", "partitions", "partition_index"},
   {"high_watermark", "last_stable_offset", "log_start_offset", NULL}},
  {MK_API_LIST_OFFSETS, {"topics", NULL, "name", NULL, "partitions", "partition_index"},
   {"topics", NULL, "name", NULL, "partitions", "partition_index"},
   {"timestamp", "offset", "leader_epoch", NULL}},
  {MK_API_METADATA, {"topics", NULL, "name", "topic_id", NULL, NULL},
   {"topics", NULL, "name", "topic_id", NULL, NULL}, {NULL}},
  {MK_API_CREATE_TOPICS, {"topics", NULL, "name", NULL, NULL, NULL},
   {"topics", NULL, "name", "topic_id", NULL, NULL},
   {"num_partitions", "replication_factor", NULL}},
  {MK_API_DELETE_TOPICS, {"topics", "topic_names", "name", "topic_id", NULL, NULL},
   {"responses", NULL, "name", "topic_id", NULL, NULL}, {NULL}},
  {MK_API_CREATE_PARTITIONS, {"topics", NULL, "name", NULL, NULL, NULL},
   {"results", NULL, "name", NULL, NULL, NULL}, {NULL}},
};
enum { NERROR_APIS = sizeof error_apis / sizeof error_apis[0] };

static const struct error_api *error_api(int api_key) {
  for (int i = 0; i < NERROR_APIS; i++)
    if (error_apis[i].api_key == api_key) return &error_apis[i];
  return NULL;
}

/* ---- reading and writing fields by name ------------------------------------------------ */

static const struct mk_field *field(const struct mk_schema *s, const char *name) {
  for (int i = 0; s && name && i < s->nfields; i++)
    if (strcmp(s->fields[i].name, name) == 0) return &s->fields[i];
  return NULL;
}

static void *at(void *base, const struct mk_field *f) { return (char *)base + f->offset; }

/* An array field: its elements, their count, the size of one. */
static void *items(void *base, const struct mk_field *f) { return *(void **)at(base, f); }
static int32_t *count_of(void *base, const struct mk_field *f) {
  return (int32_t *)((char *)base + f->count_offset);
}
static size_t item_size(const struct mk_field *f) {
  return mk_schema_value_size(f->elem, f->schema);
}
static void *item(void *base, const struct mk_field *f, int32_t i) {
  return (char *)items(base, f) + (size_t)i * item_size(f);
}

/* Append one element (set to its defaults) to an array field; NULL when out of memory. */
static void *append(void *base, const struct mk_field *f, struct mk_arena *arena) {
  int32_t n = *count_of(base, f) > 0 ? *count_of(base, f) : 0;
  size_t size = item_size(f);
  char *grown = mk_arena_alloc(arena, size * (size_t)(n + 1));
  if (!grown) return NULL;
  if (n) memcpy(grown, items(base, f), size * (size_t)n);
  *(void **)at(base, f) = grown;
  *count_of(base, f) = n + 1;
  void *last = grown + size * (size_t)n;
  if (f->schema) mk_schema_set_defaults(f->schema, last);
  return last;
}

/* Set an integer field of whatever width to v, if the version has it. */
static void set_int(void *base, const struct mk_schema *s, const char *name, int64_t v,
                    int version) {
  const struct mk_field *f = field(s, name);
  if (!f || !mk_field_present(f, version)) return;
  void *p = at(base, f);
  switch (f->type) {
    case MK_INT8: *(int8_t *)p = (int8_t)v; break;
    case MK_INT16: *(int16_t *)p = (int16_t)v; break;
    case MK_INT32: *(int32_t *)p = (int32_t)v; break;
    case MK_INT64: *(int64_t *)p = v; break;
    default: break;
  }
}

/* A topic's name at version (resolving its id through t when the name is not on the wire:
 * Fetch v13+, Metadata and DeleteTopics by id). */
static struct mk_str topic_name(void *topic, const struct mk_schema *s, const struct layout *l,
                                const struct mk_fault_targets *t, int version) {
  const struct mk_field *name = field(s, l->name), *id = field(s, l->id);
  struct mk_str n = name && mk_field_present(name, version) ? *(struct mk_str *)at(topic, name)
                                                            : MK_STR_NULL;
  if (n.len < 0 && id && mk_field_present(id, version))
    n = t->topic_name(t->ctx, *(struct mk_uuid *)at(topic, id));
  return n;
}

static bool str_equal(struct mk_str a, struct mk_str b) {
  return a.len >= 0 && a.len == b.len && memcmp(a.ptr, b.ptr, (size_t)a.len) == 0;
}

/* ---- the items of a request ----------------------------------------------------------- */

/* One topic of a request, seen the same way whether it is a struct or a plain name. */
struct topic_ref {
  struct mk_str name;
  struct mk_uuid id;
  bool has_id;
  void *topic;              /* the topic struct, or NULL for a plain name */
};

static int32_t request_topics(const struct mk_request *req, const struct layout *l,
                              const struct mk_field **topics, const struct mk_field **names) {
  const struct mk_schema *s = req->api->request;
  *topics = field(s, l->topics);
  *names = field(s, l->names);
  int32_t n = 0;
  if (*topics && *count_of(req->body, *topics) > 0) n += *count_of(req->body, *topics);
  if (*names && *count_of(req->body, *names) > 0) n += *count_of(req->body, *names);
  return n;
}

static struct topic_ref topic_ref(const struct mk_request *req, const struct layout *l,
                                  const struct mk_fault_targets *t, int32_t i) {
  const struct mk_field *topics, *names;
  request_topics(req, l, &topics, &names);
  struct topic_ref r = {MK_STR_NULL, {{0}}, false, NULL};
  int32_t nt = topics && *count_of(req->body, topics) > 0 ? *count_of(req->body, topics) : 0;
  if (i < nt) {
    r.topic = item(req->body, topics, i);
    r.name = topic_name(r.topic, topics->schema, l, t, req->header.api_version);
    const struct mk_field *id = field(topics->schema, l->id);
    if (id && mk_field_present(id, req->header.api_version)) {
      r.id = *(struct mk_uuid *)at(r.topic, id);
      r.has_id = true;
    }
  } else {
    r.name = *(struct mk_str *)item(req->body, names, i - nt);
  }
  return r;
}

/* ---- building answers --------------------------------------------------------------------- */

static int16_t error_of(const struct mk_fault *f) { return f->error_code; }

/* The response topic for ref, found by name or id, or appended. */
static void *response_topic(void *resp, const struct mk_schema *rs, const struct layout *l,
                            const struct topic_ref *ref, const struct mk_fault_targets *t,
                            int version, struct mk_arena *arena) {
  const struct mk_field *topics = field(rs, l->topics);
  if (!topics) return NULL;
  for (int32_t i = 0; i < *count_of(resp, topics); i++) {
    void *rt = item(resp, topics, i);
    const struct mk_field *id = field(topics->schema, l->id);
    if (ref->has_id && id && mk_field_present(id, version) &&
        memcmp(at(rt, id), &ref->id, sizeof ref->id) == 0)
      return rt;
    if (str_equal(topic_name(rt, topics->schema, l, t, version), ref->name)) return rt;
  }
  void *rt = append(resp, topics, arena);
  if (!rt) return NULL;
  const struct mk_field *name = field(topics->schema, l->name), *id = field(topics->schema, l->id);
  if (name && mk_field_present(name, version)) *(struct mk_str *)at(rt, name) = ref->name;
  if (id && ref->has_id && mk_field_present(id, version)) *(struct mk_uuid *)at(rt, id) = ref->id;
  return rt;
}

/* Put the fault's error on an answer's item (a partition, or a topic of a topic-level
 * API): the error, -1 for the values it cannot have, and no partitions under an errored
 * Metadata topic. */
static void set_error(void *it, const struct mk_schema *s, const struct error_api *a,
                      const struct mk_fault *f, int version) {
  set_int(it, s, "error_code", error_of(f), version);
  for (int i = 0; a->none[i]; i++) set_int(it, s, a->none[i], -1, version);
  const struct mk_field *parts = field(s, "partitions");
  if (parts && parts->type == MK_ARRAY && !a->resp.partitions) *count_of(it, parts) = 0;
}

/* The response partition `index` of topic rt, found or appended. */
static void *response_partition(void *rt, const struct mk_schema *ts, const struct layout *l,
                                int32_t index, struct mk_arena *arena) {
  const struct mk_field *parts = field(ts, l->partitions);
  const struct mk_field *idx = field(parts->schema, l->index);
  for (int32_t i = 0; i < *count_of(rt, parts); i++) {
    void *p = item(rt, parts, i);
    if (*(int32_t *)at(p, idx) == index) return p;
  }
  void *p = append(rt, parts, arena);
  if (p) *(int32_t *)at(p, idx) = index;
  return p;
}

/* Add the error for every covered item of req to resp (found, or appended). Topic-level APIs
 * then also mark covered topics the answer holds that the request did not name (Metadata for
 * every topic). Returns 0 or MK_ERR__NO_MEMORY. */
static int add_errors(const struct mk_request *req, const struct mk_fault *f,
                      const struct mk_fault_targets *t, const struct error_api *a, void *resp,
                      struct mk_arena *arena) {
  int version = req->header.api_version;
  const struct mk_schema *rs = req->api->response;
  const struct mk_field *rtopics = field(rs, a->resp.topics);
  const struct mk_field *topics, *names;
  int32_t n = request_topics(req, &a->req, &topics, &names);
  if (!a->resp.partitions) {
    for (int32_t i = 0; i < *count_of(resp, rtopics); i++) {
      void *rt = item(resp, rtopics, i);
      if (mk_fault_covers(f, topic_name(rt, rtopics->schema, &a->resp, t, version), -1))
        set_error(rt, rtopics->schema, a, f, version);
    }
  }
  for (int32_t i = 0; i < n; i++) {
    struct topic_ref ref = topic_ref(req, &a->req, t, i);
    if (!a->req.partitions) {
      if (!mk_fault_covers(f, ref.name, -1)) continue;
      void *rt = response_topic(resp, rs, &a->resp, &ref, t, version, arena);
      if (!rt) return MK_ERR__NO_MEMORY;
      set_error(rt, rtopics->schema, a, f, version);
      continue;
    }
    const struct mk_field *parts = field(topics->schema, a->req.partitions);
    const struct mk_field *idx = field(parts->schema, a->req.index);
    for (int32_t j = 0; j < *count_of(ref.topic, parts); j++) {
      int32_t index = *(int32_t *)at(item(ref.topic, parts, j), idx);
      if (!mk_fault_covers(f, ref.name, index)) continue;
      void *rt = response_topic(resp, rs, &a->resp, &ref, t, version, arena);
      void *rp = rt ? response_partition(rt, rtopics->schema, &a->resp, index, arena) : NULL;
      if (!rp) return MK_ERR__NO_MEMORY;
      set_error(rp, field(rtopics->schema, a->resp.partitions)->schema, a, f, version);
    }
  }
  return 0;
}

/* Count the request's items (partitions, or topics of a topic-level API) and how many f
 * covers. */
static void count_covered(const struct mk_request *req, const struct mk_fault *f,
                          const struct mk_fault_targets *t, const struct error_api *a,
                          int32_t *total, int32_t *covered) {
  const struct mk_field *topics, *names;
  int32_t n = request_topics(req, &a->req, &topics, &names);
  *total = *covered = 0;
  for (int32_t i = 0; i < n; i++) {
    struct topic_ref ref = topic_ref(req, &a->req, t, i);
    if (!a->req.partitions) {
      (*total)++;
      *covered += mk_fault_covers(f, ref.name, -1);
      continue;
    }
    const struct mk_field *parts = field(topics->schema, a->req.partitions);
    const struct mk_field *idx = field(parts->schema, a->req.index);
    for (int32_t j = 0; j < *count_of(ref.topic, parts); j++) {
      (*total)++;
      *covered += mk_fault_covers(f, ref.name, *(int32_t *)at(item(ref.topic, parts, j), idx));
    }
  }
}

/* A shallow copy of the request body without the covered items (and without topics left
 * with no partitions). */
static void *split_request(const struct mk_request *req, const struct mk_fault *f,
                           const struct mk_fault_targets *t, const struct error_api *a,
                           struct mk_arena *arena) {
  const struct mk_schema *s = req->api->request;
  void *copy = mk_arena_alloc(arena, s->size);
  if (!copy) return NULL;
  memcpy(copy, req->body, s->size);
  const struct mk_field *topics, *names;
  int32_t n = request_topics(req, &a->req, &topics, &names);
  if (topics && *count_of(copy, topics) > 0) *count_of(copy, topics) = 0;
  if (names && *count_of(copy, names) > 0) *count_of(copy, names) = 0;
  for (int32_t i = 0; i < n; i++) {
    struct topic_ref ref = topic_ref(req, &a->req, t, i);
    if (!ref.topic) {  /* a plain name */
      if (mk_fault_covers(f, ref.name, -1)) continue;
      struct mk_str *name = append(copy, names, arena);
      if (!name) return NULL;
      *name = ref.name;
      continue;
    }
    if (!a->req.partitions) {
      if (mk_fault_covers(f, ref.name, -1)) continue;
      void *kept = append(copy, topics, arena);
      if (!kept) return NULL;
      memcpy(kept, ref.topic, topics->schema->size);
      continue;
    }
    const struct mk_field *parts = field(topics->schema, a->req.partitions);
    const struct mk_field *idx = field(parts->schema, a->req.index);
    void *kept = NULL;
    for (int32_t j = 0; j < *count_of(ref.topic, parts); j++) {
      void *p = item(ref.topic, parts, j);
      if (mk_fault_covers(f, ref.name, *(int32_t *)at(p, idx))) continue;
      if (!kept) {
        if (!(kept = append(copy, topics, arena))) return NULL;
        memcpy(kept, ref.topic, topics->schema->size);
        *count_of(kept, parts) = 0;
      }
      void *kp = append(kept, parts, arena);
      if (!kp) return NULL;
      memcpy(kp, p, parts->schema->size);
    }
  }
  return copy;
}

/* ---- the APIs that name no topics: answered whole ------------------------------------- */

static void *whole_answer(const struct mk_request *req, const struct mk_fault *f,
                          struct mk_arena *arena) {
  const struct mk_schema *rs = req->api->response;
  void *resp = mk_arena_alloc(arena, rs->size);
  if (!resp) return NULL;
  mk_schema_set_defaults(rs, resp);
  int version = req->header.api_version;
  int16_t e = error_of(f);
  switch (req->header.api_key) {
    case MK_API_INIT_PRODUCER_ID: {
      struct mk_init_producer_id_response *r = resp;
      r->error_code = e;
      r->producer_id = -1;
      r->producer_epoch = -1;
      break;
    }
    case MK_API_DESCRIBE_CLUSTER:
      ((struct mk_describe_cluster_response *)resp)->error_code = e;
      break;
    case MK_API_FIND_COORDINATOR: {
      struct mk_find_coordinator_response *r = resp;
      const struct mk_find_coordinator_request *in = req->body;
      if (version < 4) {
        r->error_code = e;
        r->node_id = -1;
        r->port = -1;
        break;
      }
      for (int32_t i = 0; i < in->coordinator_keys_count; i++) {
        struct mk_find_coordinator_coordinator *c =
            append(resp, field(rs, "coordinators"), arena);
        if (!c) return NULL;
        c->key = in->coordinator_keys[i];
        c->node_id = -1;
        c->port = -1;
        c->error_code = e;
      }
      break;
    }
    case MK_API_DESCRIBE_CONFIGS: {
      const struct mk_describe_configs_request *in = req->body;
      for (int32_t i = 0; i < in->resources_count; i++) {
        struct mk_describe_configs_result *out = append(resp, field(rs, "results"), arena);
        if (!out) return NULL;
        out->error_code = e;
        out->resource_type = in->resources[i].resource_type;
        out->resource_name = in->resources[i].resource_name;
      }
      break;
    }
    default:
      /* No other API is in the fault table (faults.c) with errors and without topics. */
      return NULL;
  }
  return resp;
}

/* ---- the two entry points ----------------------------------------------------------------- */

static int encode_answer(const struct mk_request *req, const void *resp, struct mk_writer *out,
                         struct mk_err *err) {
  struct mk_err why = {0};
  int rc = mk_response_encode(out, req->header.api_key, req->header.api_version,
                              req->header.correlation_id, resp, &why);
  if (rc)
    return mk_err_set(err, rc, "the proxy's %s v%d error answer cannot be encoded: %s",
                      req->api->name, req->header.api_version, why.msg);
  return 0;
}

int mk_error_fault_plan(const struct mk_request *req, const struct mk_fault *f,
                        const struct mk_fault_targets *t, struct mk_arena *arena,
                        enum mk_error_plan *plan, struct mk_writer *out, struct mk_err *err) {
  *plan = MK_ERROR_NONE;
  const struct error_api *a = error_api(req->header.api_key);
  if (!a) {
    void *resp = whole_answer(req, f, arena);
    if (!resp)
      return mk_err_set(err, MK_ERR__INVALID_ARG, "the proxy cannot answer %s with an error",
                        req->api->name);
    *plan = MK_ERROR_ANSWER;
    return encode_answer(req, resp, out, err);
  }
  const struct mk_metadata_request *md = req->body;
  bool all_topics =
      req->header.api_key == MK_API_METADATA &&
      (md->topics_count < 0 || (md->topics_count == 0 && req->header.api_version == 0));
  if (all_topics ||
      (req->header.api_key == MK_API_PRODUCE && mk_fault_error_appends(f->error_code))) {
    *plan = MK_ERROR_AFTER;
    return 0;
  }
  int32_t total, covered;
  count_covered(req, f, t, a, &total, &covered);
  if (covered == 0) return 0;
  if (covered < total) {
    void *body = split_request(req, f, t, a, arena);
    if (!body) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory splitting a request");
    struct mk_err why = {0};
    int rc = mk_request_encode(out, &req->header, body, &why);
    if (rc)
      return mk_err_set(err, rc, "%s v%d without the faulted part cannot be encoded: %s",
                        req->api->name, req->header.api_version, why.msg);
    *plan = MK_ERROR_SPLIT;
    return 0;
  }
  const struct mk_schema *rs = req->api->response;
  void *resp = mk_arena_alloc(arena, rs->size);
  if (!resp) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  mk_schema_set_defaults(rs, resp);
  if (add_errors(req, f, t, a, resp, arena))
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  *plan = MK_ERROR_ANSWER;
  return encode_answer(req, resp, out, err);
}

int mk_error_fault_merge(const struct mk_request *req, const struct mk_fault *f,
                         const struct mk_fault_targets *t, const uint8_t *resp, size_t len,
                         struct mk_arena *arena, struct mk_writer *out, struct mk_err *err) {
  const struct error_api *a = error_api(req->header.api_key);
  if (!a) return mk_err_set(err, MK_ERR__INVALID_ARG, "%s answers are not merged", req->api->name);
  int32_t correlation_id;
  void *body;
  struct mk_err why = {0};
  int rc = mk_response_decode(resp, len, req->header.api_key, req->header.api_version,
                              &correlation_id, &body, arena, &why);
  if (rc)
    return mk_err_set(err, rc, "%s v%d answer from the cluster does not decode: %s",
                      req->api->name, req->header.api_version, why.msg);
  if (add_errors(req, f, t, a, body, arena))
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  return encode_answer(req, body, out, err);
}
