/*
 * Schema registry: the REST side, Confluent's endpoints over the store. See
 * schema_registry.h. Confluent: rest/resources/SubjectVersionsResource, SubjectsResource,
 * SchemasResource, CompatibilityResource, ConfigResource; KafkaSchemaRegistry.register,
 * deleteSchemaVersion, deleteSubject; AbstractSchemaRegistry.lookUpSchemaUnderSubject.
 *
 *   handle    split the path into %-decoded segments, read the query, find the route
 *   a route   one endpoint: read the body if it has one, check, then either answer from
 *             the store or write records to it (schema_registry_store.h)
 *   reply     a JSON body and a status; errors are {"error_code", "message"} with
 *             Confluent's codes and wording, because clients and scripts look at both
 *
 * Requests that change nothing never write; a request that fails writes nothing (each
 * check happens before the first record is written).
 */
#define _GNU_SOURCE  /* vasprintf */
#include "broker/schema_registry.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "broker/schema_registry_store.h"

/* ---- replies ---------------------------------------------------------------------------- */

struct reply {
  int status;
  json_t *json;   /* the body ... */
  char *raw;      /* ... or, for GET .../schema, the schema text itself */
};

static void reply_json(struct reply *rp, int status, json_t *json) {
  rp->status = status;
  rp->json = json;
}

/* Confluent's ErrorMessage: {"error_code": code, "message": "..."}. */
static void reply_error(struct reply *rp, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reply_error(struct reply *rp, int status, int code, const char *fmt, ...) {
  char *msg = NULL;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
  va_end(ap);
  json_t *text = msg ? json_string(msg) : NULL;
  if (msg && !text) {  /* it quotes a request's bytes that are not UTF-8: show them as '?' */
    for (char *p = msg; *p; p++)
      if ((unsigned char)*p >= 0x80) *p = '?';
    text = json_string(msg);
  }
  json_decref(rp->json);
  rp->json = json_pack("{s:i, s:o}", "error_code", code, "message", text ? text : json_string("error"));
  rp->status = status;
  free(msg);
}

/* A store failure: Confluent's 50001 (or 500 when memory ran out). */
static void reply_store_error(struct reply *rp, const char *what, const struct mk_err *err) {
  if (err->code == MK_ERR__NO_MEMORY) reply_error(rp, 500, 500, "%s: out of memory", what);
  else reply_error(rp, 500, 50001, "%s failed while writing to the Kafka store: %s", what, err->msg);
}

/* ---- the request ------------------------------------------------------------------------ */

enum { MAX_SEGMENTS = 8 };

struct request {
  struct mk_schema_registry *r;
  const char *method;
  char *seg[MAX_SEGMENTS];  /* the path, %-decoded, one string per segment */
  int nseg;
  const char *body;
  size_t body_len;
  /* query parameters (Jersey reads "true" in any case as true, anything else as false) */
  bool deleted, permanent, normalize, verbose, default_to_global;
  char *subject_prefix;
};

static int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* %-decode [s, s+n) into a new string ('+' is a space in a query). NULL when out of memory
 * or when it would hold a NUL byte (no subject, version or parameter may). */
static char *decode(const char *s, size_t n, bool query, bool *nul) {
  char *out = malloc(n + 1);
  if (!out) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%' && i + 2 < n && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out[k] = (char)(hex(s[i + 1]) << 4 | hex(s[i + 2]));
      if (out[k] == '\0') *nul = true;
      k++;
      i += 2;
    } else {
      out[k++] = query && s[i] == '+' ? ' ' : s[i];
    }
  }
  out[k] = '\0';
  return out;
}

/* Split the path; false when it has too many segments or a %00. */
static bool split_path(struct request *q, const char *path, bool *oom) {
  const char *p = path;
  bool nul = false;
  while (*p) {
    while (*p == '/') p++;
    if (!*p) break;
    const char *e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (q->nseg == MAX_SEGMENTS) return false;
    if (!(q->seg[q->nseg] = decode(p, n, false, &nul))) return *oom = true, false;
    q->nseg++;
    p += n;
  }
  return !nul;
}

static void read_query(struct request *q, const char *query, bool *oom) {
  for (const char *p = query; p && *p;) {
    const char *amp = strchr(p, '&');
    size_t n = amp ? (size_t)(amp - p) : strlen(p);
    const char *eq = memchr(p, '=', n);
    size_t klen = eq ? (size_t)(eq - p) : n;
    bool nul = false;
    char *key = decode(p, klen, true, &nul);
    char *value = eq ? decode(eq + 1, n - klen - 1, true, &nul) : strdup("");
    if (!key || !value) *oom = true;
    else if (!nul) {
      bool t = strcasecmp(value, "true") == 0;
      if (strcmp(key, "deleted") == 0) q->deleted = t;
      else if (strcmp(key, "permanent") == 0) q->permanent = t;
      else if (strcmp(key, "normalize") == 0) q->normalize = t;
      else if (strcmp(key, "verbose") == 0) q->verbose = t;
      else if (strcmp(key, "defaultToGlobal") == 0) q->default_to_global = t;
      else if (strcmp(key, "subjectPrefix") == 0) {
        free(q->subject_prefix);
        q->subject_prefix = value;
        value = NULL;
      }
    }
    free(key);
    free(value);
    p = amp ? amp + 1 : NULL;
  }
}

/* QualifiedSubject.isValidSubject: not empty, no ISO control characters; plus our length
 * bound, and UTF-8 (a Java String always is; jansson, which writes the records, checks).
 * Replies 42208 and returns false when invalid. */
static bool valid_subject(struct reply *rp, const char *s) {
  size_t n = strlen(s);
  json_t *utf8 = json_stringn(s, n);
  bool ok = utf8 && n > 0 && n <= MK_SCHEMA_REGISTRY_SUBJECT_MAX;
  json_decref(utf8);
  for (size_t i = 0; ok && i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    ok = c >= 0x20 && c != 0x7f && !(c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
                                     (unsigned char)s[i + 1] <= 0x9f);
  }
  if (!ok)
    reply_error(rp, 422, 42208, "The specified subject '%.200s' is not a valid.", s);
  return ok;
}

/* VersionId: "latest" (any case, trimmed) or an int in [1, 2^31-1] (-1 also means latest).
 * Sets *v (-1 for latest) and returns true, or replies 42202. */
static bool parse_version(struct reply *rp, const char *text, int *v) {
  const char *b = text, *e = text + strlen(text);
  while (b < e && (unsigned char)*b <= ' ') b++;
  while (e > b && (unsigned char)e[-1] <= ' ') e--;
  if ((size_t)(e - b) == 6 && strncasecmp(b, "latest", 6) == 0) return *v = -1, true;
  long long x = 0;
  const char *p = b;
  bool neg = p < e && *p == '-';
  if (p < e && (*p == '-' || *p == '+')) p++;
  bool digits = p < e;
  for (; p < e && digits; p++) {
    if (*p < '0' || *p > '9' || x > INT32_MAX) digits = false;
    else x = x * 10 + (*p - '0');
  }
  if (neg) x = -x;
  if (!digits || x > INT32_MAX || (x <= 0 && x != -1)) {
    reply_error(rp, 422, 42202, "The specified version '%.60s' is not a valid version id. "
                "Allowed values are between [1, 2^31-1] and the string \"latest\"", text);
    return false;
  }
  *v = (int)x;
  return true;
}

/* The body as a JSON object. Replies 422 (no body: Jersey's @NotNull) or 400 (not JSON, or
 * JSON of another shape: Jackson's parse and mapping errors) and returns NULL. */
static json_t *body_object(struct request *q, struct reply *rp) {
  if (q->body_len == 0) {
    reply_error(rp, 422, 422, "The request body is missing: this endpoint takes a JSON object");
    return NULL;
  }
  json_error_t jerr;
  json_t *j = json_loadb(q->body, q->body_len, JSON_DECODE_ANY, &jerr);
  if (!j) {
    reply_error(rp, 400, 400, "The request body is not JSON: %s (line %d, column %d)",
                jerr.text, jerr.line, jerr.column);
    return NULL;
  }
  if (!json_is_object(j)) {
    json_decref(j);
    reply_error(rp, 400, 400, "The request body must be a JSON object");
    return NULL;
  }
  return j;
}

/* A RegisterSchemaRequest ({"schema": "...", "schemaType": "AVRO", "references": [], ...})
 * read and parsed. Replies and returns NULL on any problem: 400 for a body of the wrong
 * shape, 42201 for a missing, unparsable or non-Avro schema, 42209 for one over 1 MiB.
 * *version is the request's "version" (0 when absent). */
static struct mk_avro_schema *schema_request(struct request *q, struct reply *rp, bool normalize,
                                             int *version) {
  json_t *j = body_object(q, rp);
  if (!j) return NULL;
  struct mk_avro_schema *s = NULL;
  json_t *schema = json_object_get(j, "schema");
  json_t *type = json_object_get(j, "schemaType");
  json_t *refs = json_object_get(j, "references");
  json_t *jversion = json_object_get(j, "version");
  *version = json_is_integer(jversion) ? (int)json_integer_value(jversion) : 0;
  if (schema && !json_is_string(schema) && !json_is_null(schema)) {
    reply_error(rp, 400, 400, "\"schema\" must be a string holding the schema's JSON");
  } else if (type && !json_is_null(type) && !json_is_string(type)) {
    reply_error(rp, 400, 400, "\"schemaType\" must be a string");
  } else if (json_is_string(type) && strcmp(json_string_value(type), "AVRO") != 0) {
    reply_error(rp, 422, 42201, "Invalid schema type %.40s: this registry (minikafka) holds "
                "AVRO schemas only", json_string_value(type));
  } else if (json_array_size(refs) > 0) {
    reply_error(rp, 422, 42201, "Invalid schema: schema references are not supported by this "
                "registry (minikafka); inline the referenced types");
  } else if (json_string_length(schema) == 0) {
    reply_error(rp, 422, 42201, "Empty schema");
  } else if (json_string_length(schema) > MK_AVRO_SCHEMA_MAX_BYTES) {
    reply_error(rp, 422, 42209, "Register operation failed because schema is too large "
                "(%zu bytes; the limit is %d)", json_string_length(schema),
                MK_AVRO_SCHEMA_MAX_BYTES);
  } else {
    struct mk_err err = {0};
    int rc = mk_avro_schema_parse(json_string_value(schema), json_string_length(schema),
                                  normalize, &s, &err);
    if (rc == MK_ERR__NO_MEMORY) reply_error(rp, 500, 500, "out of memory parsing the schema");
    else if (rc) reply_error(rp, 422, 42201, "Invalid schema of type AVRO, details: %s", err.msg);
  }
  json_decref(j);
  return s;
}

/* {"subject": ..., "version": ..., "id": ..., "schema": ...}: Confluent's Schema entity. */
static json_t *schema_entity(const char *subject, int version, const struct mk_registry_schema *s) {
  return json_pack("{s:s, s:i, s:i, s:s}", "subject", subject, "version", version, "id", s->id,
                   "schema", s->text);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- subjects and versions -------------------------------------------------------------- */

/* GET /subjects: the names, sorted; ?deleted=true also those whose versions are all deleted. */
static void list_subjects(struct request *q, struct reply *rp) {
  struct mk_schema_registry *r = q->r;
  const char **names = calloc((size_t)r->num_subjects + 1, sizeof *names);
  int n = 0;
  for (int i = 0; names && i < r->num_subjects; i++) {
    const struct mk_registry_subject *s = r->subjects[i];
    if (!mk_registry_has_versions(s, q->deleted)) continue;
    if (q->subject_prefix && strncmp(s->name, q->subject_prefix, strlen(q->subject_prefix)) != 0)
      continue;
    names[n++] = s->name;
  }
  qsort(names, (size_t)n, sizeof *names, cmp_str);
  json_t *a = names ? json_array() : NULL;
  for (int i = 0; a && i < n; i++) json_array_append_new(a, json_string(names[i]));
  free(names);
  reply_json(rp, 200, a);
}

/* GET /subjects/{s}/versions */
static void list_versions(struct request *q, struct reply *rp, const char *subject) {
  const struct mk_registry_subject *s = mk_registry_subject(q->r, subject);
  if (!mk_registry_has_versions(s, q->deleted))
    return reply_error(rp, 404, 40401, "Subject '%s' not found.", subject);
  json_t *a = json_array();
  for (int i = 0; a && i < s->num_versions; i++)
    if (q->deleted || !s->versions[i].deleted)
      json_array_append_new(a, json_integer(s->versions[i].version));
  reply_json(rp, 200, a);
}

/* Version text of subject for GET: the version (or replies 40401/40402 and NULL). */
static const struct mk_registry_version *find_version(struct request *q, struct reply *rp,
                                                      const char *subject, const char *text) {
  int v;
  if (!parse_version(rp, text, &v)) return NULL;
  const struct mk_registry_subject *s = mk_registry_subject(q->r, subject);
  const struct mk_registry_version *found =
      v == -1 ? mk_registry_latest(s) : mk_registry_version(s, v, q->deleted);
  if (found) return found;
  if (!mk_registry_has_versions(s, q->deleted))
    reply_error(rp, 404, 40401, "Subject '%s' not found.", subject);
  else
    reply_error(rp, 404, 40402, "Version %d not found.", v);
  return NULL;
}

/* GET /subjects/{s}/versions/{v} and .../schema (raw: the schema text alone) */
static void get_version(struct request *q, struct reply *rp, const char *subject,
                        const char *version, bool raw) {
  const struct mk_registry_version *v = find_version(q, rp, subject, version);
  if (!v) return;
  const struct mk_registry_schema *s = mk_registry_schema_by_id(q->r, v->id);
  if (!s) return reply_error(rp, 500, 50001, "version %d of '%s' names the missing schema %d",
                             v->version, subject, v->id);
  if (raw) {
    rp->status = 200;
    rp->raw = strdup(s->text);
    return;
  }
  reply_json(rp, 200, schema_entity(subject, v->version, s));
}

/* The undeleted versions' schemas, oldest first, for a compatibility check. Replies 500 and
 * returns false if a stored schema no longer parses. */
static bool previous_schemas(struct request *q, struct reply *rp,
                             const struct mk_registry_subject *s, int only_version,
                             const struct mk_avro_schema ***out, int **versions, int *n) {
  *n = 0;
  *out = calloc(s && s->num_versions ? (size_t)s->num_versions : 1, sizeof **out);
  *versions = calloc(s && s->num_versions ? (size_t)s->num_versions : 1, sizeof **versions);
  if (!*out || !*versions) {
    reply_error(rp, 500, 500, "out of memory");
    return false;
  }
  for (int i = 0; s && i < s->num_versions; i++) {
    const struct mk_registry_version *v = &s->versions[i];
    if (v->deleted || (only_version > 0 && v->version != only_version)) continue;
    struct mk_err err = {0};
    struct mk_registry_schema *stored = mk_registry_schema_by_id(q->r, v->id);
    const struct mk_avro_schema *parsed = stored ? mk_registry_parsed(stored, &err) : NULL;
    if (!parsed) {
      reply_error(rp, 500, 50001, "version %d of '%s' holds a schema that does not parse: %s",
                  v->version, s->name, err.msg);
      return false;
    }
    (*out)[*n] = parsed;
    (*versions)[(*n)++] = v->version;
  }
  return true;
}

/* "[a, b, c]": a Java List's toString, as Confluent puts the reasons in its 409 message. */
static char *join_messages(const struct mk_avro_messages *m) {
  size_t len = 3;
  for (int i = 0; i < m->n; i++) len += strlen(m->v[i]) + 2;
  char *s = malloc(len);
  if (!s) return NULL;
  strcpy(s, "[");
  for (int i = 0; i < m->n; i++) {
    if (i) strcat(s, ", ");
    strcat(s, m->v[i]);
  }
  strcat(s, "]");
  return s;
}

/* POST /subjects/{s}/versions: register (KafkaSchemaRegistry.register). */
static void register_schema(struct request *q, struct reply *rp, const char *subject) {
  struct mk_schema_registry *r = q->r;
  if (!valid_subject(rp, subject)) return;
  struct mk_registry_subject *s = mk_registry_subject(r, subject);
  struct mk_registry_config config = mk_registry_effective_config(r, s);
  int asked_version;
  struct mk_avro_schema *schema =
      schema_request(q, rp, q->normalize || (config.has_normalize && config.normalize),
                     &asked_version);
  if (!schema) return;
  const struct mk_avro_schema **prev = NULL;
  int *versions = NULL, n = 0;
  struct mk_registry_schema *same = mk_registry_schema_by_text(r, schema->canonical);
  int new_version = 1;
  for (int i = 0; s && i < s->num_versions; i++)
    if (s->versions[i].version >= new_version) new_version = s->versions[i].version + 1;

  /* Registered here already (and not deleted): the existing id, nothing written. */
  for (int i = 0; same && asked_version <= 0 && s && i < s->num_versions; i++)
    if (s->versions[i].id == same->id && !s->versions[i].deleted) {
      reply_json(rp, 200, json_pack("{s:i}", "id", same->id));
      goto done;
    }
  if (asked_version > 0 && asked_version != new_version) {
    reply_error(rp, 422, 42201, "Invalid schema: Version is not one more than previous version "
                "(%d asked, %d next)", asked_version, new_version);
    goto done;
  }
  if (!previous_schemas(q, rp, s, 0, &prev, &versions, &n)) goto done;
  struct mk_avro_messages why = {0};
  if (!mk_compatibility_check(config.level, schema, prev, versions, n, &why)) {
    char *details = join_messages(&why);
    reply_error(rp, 409, 409, "Schema being registered is incompatible with an earlier schema "
                "for subject \"%s\", details: %s", subject, details ? details : "[]");
    free(details);
    mk_avro_messages_free(&why);
    goto done;
  }
  mk_avro_messages_free(&why);

  /* The store's bounds. */
  size_t text_len = strlen(schema->canonical);
  if (!s && mk_schema_registry_subject_count(r) >= MK_SCHEMA_REGISTRY_MAX_SUBJECTS) {
    reply_error(rp, 500, 50001, "Register schema operation failed: the registry holds %d "
                "subjects, its limit (store full)", MK_SCHEMA_REGISTRY_MAX_SUBJECTS);
    goto done;
  }
  if (s && s->num_versions >= MK_SCHEMA_REGISTRY_MAX_VERSIONS) {
    reply_error(rp, 500, 50001, "Register schema operation failed: subject '%s' holds %d "
                "versions, the limit (delete some permanently)", subject,
                MK_SCHEMA_REGISTRY_MAX_VERSIONS);
    goto done;
  }
  if (!same && (r->num_schemas >= MK_SCHEMA_REGISTRY_MAX_SCHEMAS ||
                r->total_bytes + text_len > MK_SCHEMA_REGISTRY_MAX_BYTES)) {
    reply_error(rp, 500, 50001, "Register schema operation failed: the registry holds %d "
                "schemas (%zu bytes); its limits are %d schemas and %d bytes (store full)",
                r->num_schemas, r->total_bytes, MK_SCHEMA_REGISTRY_MAX_SCHEMAS,
                MK_SCHEMA_REGISTRY_MAX_BYTES);
    goto done;
  }
  if (!same && r->max_id == INT32_MAX) {
    reply_error(rp, 500, 50001, "Register schema operation failed: no schema ids left");
    goto done;
  }

  /* Write: earlier soft-deleted versions holding the same id go for good (Confluent
   * tombstones them so one id is not under two versions), then the new version. */
  int id = same ? same->id : r->max_id + 1;
  struct mk_err err = {0};
  for (int i = 0; s && i < s->num_versions; i++) {
    const struct mk_registry_version v = s->versions[i];
    if (v.deleted && v.id == id && v.version < new_version) {
      if (mk_registry_write_schema_tombstone(r, subject, v.version, &err)) {
        reply_store_error(rp, "Register schema operation", &err);
        goto done;
      }
      s = mk_registry_subject(r, subject);  /* the tombstone may have dropped it */
      i = -1;                                /* and the versions moved: look again */
    }
  }
  if (mk_registry_write_schema(r, subject, new_version, id, schema->canonical, false, &err)) {
    reply_store_error(rp, "Register schema operation", &err);
    goto done;
  }
  reply_json(rp, 200, json_pack("{s:i}", "id", id));
done:
  free(prev);
  free(versions);
  mk_avro_schema_free(schema);
}

/* POST /subjects/{s}: is this schema registered under s? (lookUpSchemaUnderSubject) */
static void lookup_schema(struct request *q, struct reply *rp, const char *subject) {
  const struct mk_registry_subject *s = mk_registry_subject(q->r, subject);
  struct mk_registry_config config = mk_registry_effective_config(q->r, s);
  int ignored;
  struct mk_avro_schema *schema =
      schema_request(q, rp, q->normalize || (config.has_normalize && config.normalize), &ignored);
  if (!schema) return;
  const struct mk_registry_schema *same = mk_registry_schema_by_text(q->r, schema->canonical);
  const struct mk_registry_version *found = NULL;
  for (int i = 0; same && s && i < s->num_versions; i++)
    if (s->versions[i].id == same->id && (q->deleted || !s->versions[i].deleted))
      found = &s->versions[i];
  if (found)
    reply_json(rp, 200, schema_entity(subject, found->version, same));
  else if (!mk_registry_has_versions(s, q->deleted))
    reply_error(rp, 404, 40401, "Subject '%s' not found.", subject);
  else
    reply_error(rp, 404, 40403, "Schema not found");
  mk_avro_schema_free(schema);
}

/* DELETE /subjects/{s}/versions/{v} (KafkaSchemaRegistry.deleteSchemaVersion): soft, or
 * ?permanent=true after a soft delete. Answers the version number. */
static void delete_version(struct request *q, struct reply *rp, const char *subject,
                           const char *text) {
  int v;
  if (!parse_version(rp, text, &v)) return;
  struct mk_registry_subject *s = mk_registry_subject(q->r, subject);
  const struct mk_registry_version *any = v > 0 ? mk_registry_version(s, v, true) : NULL;
  if (any && any->deleted && !q->permanent)
    return reply_error(rp, 404, 40406, "Subject '%s' Version %d was soft deleted.Set "
                       "permanent=true to delete permanently", subject, v);
  const struct mk_registry_version *found = v == -1 ? mk_registry_latest(s) : any;
  if (!found) {
    if (!mk_registry_has_versions(s, true))
      return reply_error(rp, 404, 40401, "Subject '%s' not found.", subject);
    return reply_error(rp, 404, 40402, "Version %d not found.", v);
  }
  if (q->permanent && !found->deleted)
    return reply_error(rp, 404, 40407, "Subject '%s' Version %d was not deleted first before "
                       "being permanently deleted", subject, found->version);
  struct mk_registry_version target = *found;
  const struct mk_registry_schema *stored = mk_registry_schema_by_id(q->r, target.id);
  struct mk_err err = {0};
  int rc;
  if (!q->permanent) {
    rc = stored ? mk_registry_write_schema(q->r, subject, target.version, target.id, stored->text,
                                           true, &err)
                : mk_err_set(&err, MK_ERR__STATE, "schema %d is missing", target.id);
  } else {
    rc = mk_registry_write_schema_tombstone(q->r, subject, target.version, &err);
    /* the last version gone for good takes the subject's config with it */
    s = mk_registry_subject(q->r, subject);
    if (rc == 0 && s && !mk_registry_has_versions(s, true) && s->has_config)
      rc = mk_registry_write_config(q->r, subject, NULL, &err);
  }
  if (rc) return reply_store_error(rp, "Delete Schema Version operation", &err);
  reply_json(rp, 200, json_integer(target.version));
}

/* DELETE /subjects/{s} (KafkaSchemaRegistry.deleteSubject): answers the versions deleted. */
static void delete_subject(struct request *q, struct reply *rp, const char *subject) {
  struct mk_registry_subject *s = mk_registry_subject(q->r, subject);
  if (!mk_registry_has_versions(s, true))
    return reply_error(rp, 404, 40401, "Subject '%s' not found.", subject);
  if (!q->permanent && !mk_registry_has_versions(s, false))
    return reply_error(rp, 404, 40404, "Subject '%s' was soft deleted.Set permanent=true to "
                       "delete permanently", subject);
  if (q->permanent && mk_registry_has_versions(s, false))
    return reply_error(rp, 404, 40405, "Subject '%s' was not deleted first before being "
                       "permanently deleted", subject);
  json_t *deleted = json_array();
  int *list = calloc((size_t)s->num_versions, sizeof *list), n = 0;
  if (!deleted || !list) {
    json_decref(deleted);
    free(list);
    return reply_error(rp, 500, 500, "out of memory");
  }
  for (int i = 0; i < s->num_versions; i++)
    if (q->permanent || !s->versions[i].deleted) list[n++] = s->versions[i].version;
  for (int i = 0; i < n; i++) json_array_append_new(deleted, json_integer(list[i]));
  struct mk_err err = {0};
  int rc = 0;
  if (!q->permanent) {
    rc = mk_registry_write_delete_subject(q->r, subject, list[n - 1], &err);
  } else {
    bool had_config = s->has_config;
    for (int i = n - 1; i >= 0 && rc == 0; i--)  /* newest first, as Confluent */
      rc = mk_registry_write_schema_tombstone(q->r, subject, list[i], &err);
    if (rc == 0 && had_config) rc = mk_registry_write_config(q->r, subject, NULL, &err);
  }
  free(list);
  if (rc) {
    json_decref(deleted);
    return reply_store_error(rp, "Delete subject operation", &err);
  }
  reply_json(rp, 200, deleted);
}

/* ---- schemas by id ---------------------------------------------------------------------- */

/* An id in the path: Jersey answers a non-integer with a plain 404. */
static bool parse_id(struct reply *rp, const char *text, int *id) {
  char *end = NULL;
  long x = strtol(text, &end, 10);
  if (!*text || *end || x < INT32_MIN || x > INT32_MAX) {
    reply_error(rp, 404, 404, "HTTP 404 Not Found");
    return false;
  }
  *id = (int)x;
  return true;
}

/* GET /schemas/ids/{id}[/schema|/versions|/subjects] */
static void get_by_id(struct request *q, struct reply *rp, const char *text, const char *what) {
  int id;
  if (!parse_id(rp, text, &id)) return;
  const struct mk_registry_schema *s = mk_registry_schema_by_id(q->r, id);
  if (!s) {
    if (what) return reply_error(rp, 404, 40403, "Schema not found");
    return reply_error(rp, 404, 40403, "Schema %d not found", id);
  }
  if (!what) return reply_json(rp, 200, json_pack("{s:s}", "schema", s->text));
  if (strcmp(what, "schema") == 0) {
    rp->status = 200;
    rp->raw = strdup(s->text);
    return;
  }
  bool versions = strcmp(what, "versions") == 0;
  const char **names = calloc((size_t)q->r->num_subjects + 1, sizeof *names);
  json_t *a = names ? json_array() : NULL;
  int n = 0;
  for (int i = 0; a && i < q->r->num_subjects; i++) {
    const struct mk_registry_subject *sub = q->r->subjects[i];
    bool listed = false;
    for (int k = 0; k < sub->num_versions; k++) {
      const struct mk_registry_version *v = &sub->versions[k];
      if (v->id != id || (v->deleted && !q->deleted)) continue;
      if (versions)
        json_array_append_new(a, json_pack("{s:s, s:i}", "subject", sub->name, "version", v->version));
      else if (!listed)
        names[n++] = sub->name, listed = true;
    }
  }
  if (!versions) {
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; a && i < n; i++) json_array_append_new(a, json_string(names[i]));
  }
  free(names);
  reply_json(rp, 200, a);
}

/* ---- compatibility ---------------------------------------------------------------------- */

/* POST /compatibility/subjects/{s}/versions[/{v}]: would this schema be accepted? Against one
 * version (or the latest), or against what registering would check. */
static void test_compatibility(struct request *q, struct reply *rp, const char *subject,
                               const char *text) {
  int v = 0;
  if (text && !parse_version(rp, text, &v)) return;
  const struct mk_registry_subject *s = mk_registry_subject(q->r, subject);
  const struct mk_registry_version *target = NULL;
  if (text) {
    target = v == -1 ? mk_registry_latest(s) : mk_registry_version(s, v, false);
    if (!target && v != -1) return reply_error(rp, 404, 40402, "Version %d not found.", v);
  }
  struct mk_registry_config config = mk_registry_effective_config(q->r, s);
  int ignored;
  struct mk_avro_schema *schema =
      schema_request(q, rp, q->normalize || (config.has_normalize && config.normalize), &ignored);
  json_t *messages = json_array();
  bool ok = false;
  if (!schema && q->verbose && rp->json && json_integer_value(json_object_get(rp->json, "error_code")) == 42201) {
    /* ?verbose=true: an invalid schema is an answer ("not compatible", and why) */
    json_array_append(messages, json_object_get(rp->json, "message"));
    json_decref(rp->json);
    rp->json = NULL;
  } else if (!schema) {
    json_decref(messages);
    return;
  } else {
    const struct mk_avro_schema **prev = NULL;
    int *versions = NULL, n = 0;
    if (!previous_schemas(q, rp, s, text ? (target ? target->version : INT32_MAX) : 0, &prev,
                          &versions, &n)) {
      free(prev);
      free(versions);
      mk_avro_schema_free(schema);
      json_decref(messages);
      return;
    }
    if (text && !target) n = 0;  /* "latest" of an empty subject: nothing to be against */
    struct mk_avro_messages why = {0};
    ok = mk_compatibility_check(config.level, schema, prev, versions, n, &why);
    for (int i = 0; i < why.n; i++) json_array_append_new(messages, json_string(why.v[i]));
    mk_avro_messages_free(&why);
    free(prev);
    free(versions);
    mk_avro_schema_free(schema);
  }
  json_t *answer = json_pack("{s:b}", "is_compatible", ok);
  if (answer && q->verbose) json_object_set(answer, "messages", messages);
  json_decref(messages);
  reply_json(rp, 200, answer);
}

/* ---- config ----------------------------------------------------------------------------- */

/* Confluent's Config entity: {"compatibilityLevel": ..., "normalize": ...}. */
static json_t *config_json(const struct mk_registry_config *c) {
  json_t *j = json_object();
  if (j && c->has_level)
    json_object_set_new(j, "compatibilityLevel", json_string(mk_compatibility_name(c->level)));
  if (j && c->has_normalize) json_object_set_new(j, "normalize", json_boolean(c->normalize));
  return j;
}

/* GET /config[/{s}] */
static void get_config(struct request *q, struct reply *rp, const char *subject) {
  const struct mk_registry_subject *s = subject ? mk_registry_subject(q->r, subject) : NULL;
  if (subject && !(s && s->has_config) && !q->default_to_global)
    return reply_error(rp, 404, 40408, "Subject '%s' does not have subject-level compatibility "
                       "configured", subject);
  struct mk_registry_config c = subject && !q->default_to_global
                                    ? s->config
                                    : mk_registry_effective_config(q->r, s);
  reply_json(rp, 200, config_json(&c));
}

/* PUT /config[/{s}] {"compatibility": "FULL", "normalize": true}: answers the request's
 * settings (ConfigUpdateRequest); unset settings keep their value. */
static void put_config(struct request *q, struct reply *rp, const char *subject) {
  if (subject && !valid_subject(rp, subject)) return;
  json_t *j = body_object(q, rp);
  if (!j) return;
  json_t *level = json_object_get(j, "compatibility");
  json_t *normalize = json_object_get(j, "normalize");
  const struct mk_registry_subject *s = subject ? mk_registry_subject(q->r, subject) : NULL;
  struct mk_registry_config c = subject ? (s && s->has_config ? s->config : (struct mk_registry_config){0})
                                        : (q->r->has_global ? q->r->global : (struct mk_registry_config){0});
  bool any = false;
  if (level && !json_is_null(level)) {
    if (!mk_compatibility_from_name(json_string_value(level), &c.level)) {
      json_decref(j);
      return reply_error(rp, 422, 42203, "Invalid compatibility level. Valid values are none, "
                         "backward, forward, full, backward_transitive, forward_transitive, and "
                         "full_transitive");
    }
    c.has_level = any = true;
  }
  bool set_level = level && !json_is_null(level), set_normalize = json_is_boolean(normalize);
  if (set_normalize) c.has_normalize = any = true, c.normalize = json_is_true(normalize);
  json_decref(j);
  if (!any)
    return reply_error(rp, 422, 42203, "Invalid compatibility level. Valid values are none, "
                       "backward, forward, full, backward_transitive, forward_transitive, and "
                       "full_transitive");
  struct mk_err err = {0};
  if (mk_registry_write_config(q->r, subject, &c, &err))
    return reply_store_error(rp, "Update config operation", &err);
  json_t *answer = json_object();
  if (answer && set_level)
    json_object_set_new(answer, "compatibility", json_string(mk_compatibility_name(c.level)));
  if (answer && set_normalize) json_object_set_new(answer, "normalize", json_boolean(c.normalize));
  reply_json(rp, 200, answer);
}

/* DELETE /config[/{s}]: answers the config that was removed (the global one falls back to
 * the default, BACKWARD). */
static void delete_config(struct request *q, struct reply *rp, const char *subject) {
  const struct mk_registry_subject *s = subject ? mk_registry_subject(q->r, subject) : NULL;
  if (subject && !(s && s->has_config))
    return reply_error(rp, 404, 40401, "Subject '%s' not found.", subject);
  struct mk_registry_config old = subject ? s->config : mk_registry_effective_config(q->r, NULL);
  struct mk_err err = {0};
  if ((subject || q->r->has_global) && mk_registry_write_config(q->r, subject, NULL, &err))
    return reply_store_error(rp, "Delete config operation", &err);
  reply_json(rp, 200, config_json(&old));
}

/* ---- routing ---------------------------------------------------------------------------- */

static bool is(const struct request *q, int i, const char *s) {
  return i < q->nseg && strcmp(q->seg[i], s) == 0;
}

static bool method(const struct request *q, const char *m) { return strcmp(q->method, m) == 0; }

/* Find and run the endpoint; false when the path names none (404). A known path asked with
 * another method replies 405. */
static bool route(struct request *q, struct reply *rp) {
  int n = q->nseg;
  bool get = method(q, "GET"), post = method(q, "POST"), put = method(q, "PUT"),
       del = method(q, "DELETE");
  if (n == 0) {
    if (!get) goto not_allowed;
    reply_json(rp, 200, json_object());  /* RootResource: {} */
  } else if (is(q, 0, "subjects")) {
    const char *subject = n > 1 ? q->seg[1] : NULL;
    if (n == 1 && get) list_subjects(q, rp);
    else if (n == 2 && post) lookup_schema(q, rp, subject);
    else if (n == 2 && del) delete_subject(q, rp, subject);
    else if (n == 3 && is(q, 2, "versions") && get) list_versions(q, rp, subject);
    else if (n == 3 && is(q, 2, "versions") && post) register_schema(q, rp, subject);
    else if (n == 4 && is(q, 2, "versions") && get) get_version(q, rp, subject, q->seg[3], false);
    else if (n == 4 && is(q, 2, "versions") && del) delete_version(q, rp, subject, q->seg[3]);
    else if (n == 5 && is(q, 2, "versions") && is(q, 4, "schema") && get)
      get_version(q, rp, subject, q->seg[3], true);
    else if (n == 5 && is(q, 2, "versions") && is(q, 4, "referencedby") && get) {
      if (find_version(q, rp, subject, q->seg[3])) reply_json(rp, 200, json_array());
    } else if (n <= 2 || (n <= 5 && is(q, 2, "versions") &&
                          (n < 5 || is(q, 4, "schema") || is(q, 4, "referencedby"))))
      goto not_allowed;
    else
      return false;
  } else if (is(q, 0, "schemas")) {
    if (n == 2 && is(q, 1, "types")) {
      if (!get) goto not_allowed;
      reply_json(rp, 200, json_pack("[s]", "AVRO"));
    } else if (n >= 3 && n <= 4 && is(q, 1, "ids") &&
               (n == 3 || is(q, 3, "schema") || is(q, 3, "versions") || is(q, 3, "subjects"))) {
      if (!get) goto not_allowed;
      get_by_id(q, rp, q->seg[2], n == 4 ? q->seg[3] : NULL);
    } else {
      return false;
    }
  } else if (is(q, 0, "compatibility") && is(q, 1, "subjects") && is(q, 3, "versions") &&
             (n == 4 || n == 5)) {
    if (!post) goto not_allowed;
    test_compatibility(q, rp, q->seg[2], n == 5 ? q->seg[4] : NULL);
  } else if (is(q, 0, "config") && n <= 2) {
    const char *subject = n == 2 ? q->seg[1] : NULL;
    if (get) get_config(q, rp, subject);
    else if (put) put_config(q, rp, subject);
    else if (del) delete_config(q, rp, subject);
    else goto not_allowed;
  } else if (is(q, 0, "mode") && n == 1) {  /* the only mode here */
    if (!get) goto not_allowed;
    reply_json(rp, 200, json_pack("{s:s}", "mode", "READWRITE"));
  } else {
    return false;
  }
  return true;
not_allowed:
  reply_error(rp, 405, 405, "HTTP 405 Method Not Allowed");
  return true;
}

int mk_schema_registry_handle(struct mk_schema_registry *r, const char *method, const char *path,
                              const char *query, const char *body, size_t body_len,
                              int *status, char **response_json) {
  struct request q = {.r = r, .method = method ? method : "", .body = body,
                      .body_len = body ? body_len : 0};
  struct reply rp = {0};
  bool oom = false;
  bool path_ok = split_path(&q, path ? path : "/", &oom);
  read_query(&q, query, &oom);
  if (oom) reply_error(&rp, 500, 500, "out of memory");
  else if (!path_ok || !route(&q, &rp)) reply_error(&rp, 404, 404, "HTTP 404 Not Found");
  for (int i = 0; i < q.nseg; i++) free(q.seg[i]);
  free(q.subject_prefix);
  char *text = rp.raw;
  if (!text && rp.json) text = json_dumps(rp.json, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(rp.json);
  if (!text) return MK_ERR__NO_MEMORY;
  *status = rp.status;
  *response_json = text;
  return 0;
}
