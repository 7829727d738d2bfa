/*
 * Schema registry store: the state, the records of its log, and replaying them. See
 * schema_registry_store.h.
 *
 * The records, as Confluent's registry writes them to _schemas (key and value are JSON, in
 * this key order):
 *
 *   SCHEMA          {"keytype":"SCHEMA","subject":S,"version":V,"magic":1}
 *                   {"subject":S,"version":V,"id":I,"schema":TEXT,"deleted":false}
 *                   (value null: version V of S deleted permanently)
 *   CONFIG          {"keytype":"CONFIG","subject":S,"magic":0}   (no "subject": global)
 *                   {"subject":S,"compatibilityLevel":"FULL","normalize":true}
 *                   (each setting only when set; value null: the config is removed)
 *   DELETE_SUBJECT  {"keytype":"DELETE_SUBJECT","subject":S,"magic":0}
 *                   {"subject":S,"version":V}  (versions 1..V soft-deleted)
 *
 * Subjects and schemas are kept in plain arrays: a teaching registry holds tens of them,
 * and the bounds in schema_registry.h keep the linear searches short.
 */
#include "broker/schema_registry_store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the state -------------------------------------------------------------------------- */

struct mk_schema_registry *mk_schema_registry_new(mk_schema_registry_store_fn store,
                                                  void *store_opaque) {
  struct mk_schema_registry *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->store = store;
  r->store_opaque = store_opaque;
  return r;
}

static void free_subject(struct mk_registry_subject *s) {
  free(s->name);
  free(s->versions);
  free(s);
}

static void free_schema(struct mk_registry_schema *s) {
  free(s->text);
  mk_avro_schema_free(s->parsed);
  free(s);
}

void mk_schema_registry_reset(struct mk_schema_registry *r) {
  for (int i = 0; i < r->num_subjects; i++) free_subject(r->subjects[i]);
  for (int i = 0; i < r->num_schemas; i++) free_schema(r->schemas[i]);
  free(r->subjects);
  free(r->schemas);
  mk_schema_registry_store_fn store = r->store;
  void *opaque = r->store_opaque;
  *r = (struct mk_schema_registry){.store = store, .store_opaque = opaque};
}

void mk_schema_registry_free(struct mk_schema_registry *r) {
  if (!r) return;
  mk_schema_registry_reset(r);
  free(r);
}

int mk_schema_registry_subject_count(const struct mk_schema_registry *r) {
  int n = 0;
  for (int i = 0; i < r->num_subjects; i++) n += mk_registry_has_versions(r->subjects[i], false);
  return n;
}

int mk_schema_registry_schema_count(const struct mk_schema_registry *r) { return r->num_schemas; }

/* ---- reading ---------------------------------------------------------------------------- */

struct mk_registry_subject *mk_registry_subject(const struct mk_schema_registry *r,
                                                const char *name) {
  for (int i = 0; i < r->num_subjects; i++)
    if (strcmp(r->subjects[i]->name, name) == 0) return r->subjects[i];
  return NULL;
}

const struct mk_registry_version *mk_registry_version(const struct mk_registry_subject *s,
                                                      int v, bool deleted_too) {
  for (int i = 0; s && i < s->num_versions; i++)
    if (s->versions[i].version == v) return deleted_too || !s->versions[i].deleted ? &s->versions[i] : NULL;
  return NULL;
}

const struct mk_registry_version *mk_registry_latest(const struct mk_registry_subject *s) {
  for (int i = s ? s->num_versions - 1 : -1; i >= 0; i--)
    if (!s->versions[i].deleted) return &s->versions[i];
  return NULL;
}

bool mk_registry_has_versions(const struct mk_registry_subject *s, bool deleted_too) {
  if (!s) return false;
  return deleted_too ? s->num_versions > 0 : mk_registry_latest(s) != NULL;
}

struct mk_registry_schema *mk_registry_schema_by_id(const struct mk_schema_registry *r, int id) {
  for (int i = 0; i < r->num_schemas; i++)
    if (r->schemas[i]->id == id) return r->schemas[i];
  return NULL;
}

struct mk_registry_schema *mk_registry_schema_by_text(const struct mk_schema_registry *r,
                                                      const char *canonical) {
  uint64_t h = mk_avro_text_hash(canonical);
  for (int i = 0; i < r->num_schemas; i++)
    if (r->schemas[i]->hash == h && strcmp(r->schemas[i]->text, canonical) == 0) return r->schemas[i];
  return NULL;
}

const struct mk_avro_schema *mk_registry_parsed(struct mk_registry_schema *s, struct mk_err *err) {
  if (!s->parsed && mk_avro_schema_parse(s->text, strlen(s->text), false, &s->parsed, err))
    s->parsed = NULL;
  return s->parsed;
}

struct mk_registry_config mk_registry_effective_config(const struct mk_schema_registry *r,
                                                       const struct mk_registry_subject *s) {
  struct mk_registry_config c = {.has_level = true, .level = MK_COMPATIBILITY_BACKWARD};
  const struct mk_registry_config *layers[2] = {r->has_global ? &r->global : NULL,
                                                s && s->has_config ? &s->config : NULL};
  for (int i = 0; i < 2; i++) {
    if (!layers[i]) continue;
    if (layers[i]->has_level) c.level = layers[i]->level;
    if (layers[i]->has_normalize) c.has_normalize = true, c.normalize = layers[i]->normalize;
  }
  return c;
}

/* ---- applying records ------------------------------------------------------------------- */

static struct mk_registry_subject *get_or_add_subject(struct mk_schema_registry *r,
                                                      const char *name) {
  struct mk_registry_subject *s = mk_registry_subject(r, name);
  if (s) return s;
  if (r->num_subjects == r->cap_subjects) {
    int cap = r->cap_subjects ? 2 * r->cap_subjects : 16;
    struct mk_registry_subject **v = realloc(r->subjects, (size_t)cap * sizeof *v);
    if (!v) return NULL;
    r->subjects = v;
    r->cap_subjects = cap;
  }
  s = calloc(1, sizeof *s);
  if (!s || !(s->name = strdup(name))) {
    free(s);
    return NULL;
  }
  r->subjects[r->num_subjects++] = s;
  return s;
}

/* A subject with no versions and no config of its own is forgotten. */
static void maybe_drop_subject(struct mk_schema_registry *r, struct mk_registry_subject *s) {
  if (s->num_versions || s->has_config) return;
  for (int i = 0; i < r->num_subjects; i++)
    if (r->subjects[i] == s) {
      r->subjects[i] = r->subjects[--r->num_subjects];
      free_subject(s);
      return;
    }
}

static void unref_schema(struct mk_schema_registry *r, int id) {
  for (int i = 0; i < r->num_schemas; i++) {
    struct mk_registry_schema *s = r->schemas[i];
    if (s->id != id || --s->refs > 0) continue;
    r->total_bytes -= strlen(s->text);
    r->schemas[i] = r->schemas[--r->num_schemas];
    free_schema(s);
    return;
  }
}

/* Make (or find) the schema with this id and text; it gains one reference. */
static int ref_schema(struct mk_schema_registry *r, int id, const char *text, struct mk_err *err) {
  struct mk_registry_schema *s = mk_registry_schema_by_id(r, id);
  if (s) {
    if (strcmp(s->text, text) != 0)  /* Confluent logs and skips such a record, too */
      return mk_err_set(err, MK_ERR__DECODE, "schema id %d already names another schema", id);
    s->refs++;
    return 0;
  }
  if (r->num_schemas == r->cap_schemas) {
    int cap = r->cap_schemas ? 2 * r->cap_schemas : 16;
    struct mk_registry_schema **v = realloc(r->schemas, (size_t)cap * sizeof *v);
    if (!v) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
    r->schemas = v;
    r->cap_schemas = cap;
  }
  s = calloc(1, sizeof *s);
  if (!s || !(s->text = strdup(text))) {
    free(s);
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  }
  s->id = id;
  s->hash = mk_avro_text_hash(text);
  s->refs = 1;
  r->schemas[r->num_schemas++] = s;
  r->total_bytes += strlen(text);
  if (id > r->max_id) r->max_id = id;
  return 0;
}

static int apply_schema(struct mk_schema_registry *r, const char *subject, int version,
                        json_t *value, struct mk_err *err) {
  struct mk_registry_subject *s = mk_registry_subject(r, subject);
  int at = -1;  /* index of the version in s, if there */
  for (int i = 0; s && i < s->num_versions; i++)
    if (s->versions[i].version == version) at = i;
  if (!value) {  /* tombstone */
    if (at < 0) return 0;
    unref_schema(r, s->versions[at].id);
    memmove(&s->versions[at], &s->versions[at + 1],
            (size_t)(s->num_versions - at - 1) * sizeof *s->versions);
    s->num_versions--;
    maybe_drop_subject(r, s);
    return 0;
  }
  json_t *id = json_object_get(value, "id"), *text = json_object_get(value, "schema");
  if (!json_is_integer(id) || json_integer_value(id) < 1 || json_integer_value(id) > INT32_MAX ||
      !json_is_string(text))
    return mk_err_set(err, MK_ERR__DECODE, "a SCHEMA value needs \"id\" (a positive int) and "
                      "\"schema\" (a string)");
  bool deleted = json_is_true(json_object_get(value, "deleted"));
  if (!s && !(s = get_or_add_subject(r, subject)))
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  int rc = ref_schema(r, (int)json_integer_value(id), json_string_value(text), err);
  if (rc) {
    maybe_drop_subject(r, s);
    return rc;
  }
  if (at >= 0) {  /* the version is rewritten (soft delete, or the log repeating itself) */
    unref_schema(r, s->versions[at].id);
    s->versions[at].id = (int)json_integer_value(id);
    s->versions[at].deleted = deleted;
    return 0;
  }
  if (s->num_versions == s->cap_versions) {
    int cap = s->cap_versions ? 2 * s->cap_versions : 4;
    struct mk_registry_version *v = realloc(s->versions, (size_t)cap * sizeof *v);
    if (!v) {
      unref_schema(r, (int)json_integer_value(id));
      maybe_drop_subject(r, s);
      return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
    }
    s->versions = v;
    s->cap_versions = cap;
  }
  int i = s->num_versions++;  /* keep them ascending */
  while (i > 0 && s->versions[i - 1].version > version) {
    s->versions[i] = s->versions[i - 1];
    i--;
  }
  s->versions[i] = (struct mk_registry_version){version, (int)json_integer_value(id), deleted};
  return 0;
}

static int apply_config(struct mk_schema_registry *r, const char *subject, json_t *value,
                        struct mk_err *err) {
  struct mk_registry_config c = {0};
  if (value) {
    json_t *level = json_object_get(value, "compatibilityLevel");
    json_t *normalize = json_object_get(value, "normalize");
    if (level && !json_is_null(level)) {
      if (!mk_compatibility_from_name(json_string_value(level), &c.level))
        return mk_err_set(err, MK_ERR__DECODE, "a CONFIG value with an unknown level");
      c.has_level = true;
    }
    if (json_is_boolean(normalize)) c.has_normalize = true, c.normalize = json_is_true(normalize);
  }
  if (!subject) {
    r->has_global = value != NULL;
    r->global = c;
    return 0;
  }
  struct mk_registry_subject *s = value ? get_or_add_subject(r, subject) : mk_registry_subject(r, subject);
  if (!s) return value ? mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory") : 0;
  s->has_config = value != NULL;
  s->config = c;
  maybe_drop_subject(r, s);
  return 0;
}

static int apply_delete_subject(struct mk_schema_registry *r, const char *subject, json_t *value,
                                struct mk_err *err) {
  if (!value) return 0;  /* its tombstone changes nothing */
  json_t *version = json_object_get(value, "version");
  if (!json_is_integer(version))
    return mk_err_set(err, MK_ERR__DECODE, "a DELETE_SUBJECT value needs \"version\"");
  struct mk_registry_subject *s = mk_registry_subject(r, subject);
  for (int i = 0; s && i < s->num_versions; i++)
    if (s->versions[i].version <= json_integer_value(version)) s->versions[i].deleted = true;
  return 0;
}

int mk_schema_registry_replay(struct mk_schema_registry *r, const char *key, size_t key_len,
                              const char *value, size_t value_len, struct mk_err *err) {
  json_error_t jerr;
  json_t *k = json_loadb(key, key_len, 0, &jerr);
  json_t *v = value ? json_loadb(value, value_len, JSON_DECODE_ANY, &jerr) : NULL;
  int rc = 0;
  const char *type = json_string_value(json_object_get(k, "keytype"));
  json_t *jsubject = json_object_get(k, "subject");
  const char *subject = json_string_value(jsubject);
  if (!k || !type) {
    rc = mk_err_set(err, MK_ERR__DECODE, "a record key must be a JSON object with \"keytype\"");
  } else if (value && !json_is_object(v) && !json_is_null(v)) {
    rc = mk_err_set(err, MK_ERR__DECODE, "a record value must be a JSON object");
  } else if (json_is_null(v)) {
    json_decref(v);
    v = NULL;  /* the JSON "null" is a tombstone too */
  }
  if (rc == 0 && strcmp(type, "SCHEMA") == 0) {
    json_t *version = json_object_get(k, "version");
    if (!subject || !json_is_integer(version) || json_integer_value(version) < 1 ||
        json_integer_value(version) > INT32_MAX)
      rc = mk_err_set(err, MK_ERR__DECODE, "a SCHEMA key needs \"subject\" and \"version\"");
    else
      rc = apply_schema(r, subject, (int)json_integer_value(version), v, err);
  } else if (rc == 0 && strcmp(type, "CONFIG") == 0) {
    if (jsubject && !json_is_null(jsubject) && !subject)
      rc = mk_err_set(err, MK_ERR__DECODE, "a CONFIG key's \"subject\" must be a string");
    else
      rc = apply_config(r, subject, v, err);
  } else if (rc == 0 && strcmp(type, "DELETE_SUBJECT") == 0) {
    rc = subject ? apply_delete_subject(r, subject, v, err)
                 : mk_err_set(err, MK_ERR__DECODE, "a DELETE_SUBJECT key needs \"subject\"");
  }  /* NOOP, MODE, CONTEXT, ...: nothing this registry keeps */
  json_decref(k);
  json_decref(v);
  return rc;
}

/* ---- writing ---------------------------------------------------------------------------- */

/* Hand the record to the store, then apply it. key and value are taken (decref'd here);
 * value NULL is a tombstone only when tombstone is set (else building it failed). */
static int write_record(struct mk_schema_registry *r, json_t *key, json_t *value,
                        bool tombstone, struct mk_err *err) {
  char *k = key ? json_dumps(key, JSON_COMPACT) : NULL;
  char *v = value ? json_dumps(value, JSON_COMPACT) : NULL;
  int rc = 0;
  if (!k || (!tombstone && !v)) {
    rc = mk_err_set(err, MK_ERR__INVALID_ARG, "cannot build the record (out of memory, or text "
                    "that is not UTF-8)");
  } else {
    size_t klen = strlen(k), vlen = v ? strlen(v) : 0;
    if (r->store) rc = r->store(r->store_opaque, k, klen, v, vlen, err);
    if (rc == 0) rc = mk_schema_registry_replay(r, k, klen, v, vlen, err);
  }
  free(k);
  free(v);
  json_decref(key);
  json_decref(value);
  return rc;
}

static json_t *subject_key(const char *type, const char *subject, int version, int magic) {
  json_t *k = json_object();
  bool ok = k && json_object_set_new(k, "keytype", json_string(type)) == 0 &&
            (!subject || json_object_set_new(k, "subject", json_string(subject)) == 0) &&
            (version <= 0 || json_object_set_new(k, "version", json_integer(version)) == 0) &&
            json_object_set_new(k, "magic", json_integer(magic)) == 0;
  if (ok) return k;
  json_decref(k);
  return NULL;
}

int mk_registry_write_schema(struct mk_schema_registry *r, const char *subject, int version,
                             int id, const char *text, bool deleted, struct mk_err *err) {
  json_t *value = json_pack("{s:s, s:i, s:i, s:s, s:b}", "subject", subject, "version", version,
                            "id", id, "schema", text, "deleted", deleted);
  return write_record(r, subject_key("SCHEMA", subject, version, 1), value, false, err);
}

int mk_registry_write_schema_tombstone(struct mk_schema_registry *r, const char *subject,
                                       int version, struct mk_err *err) {
  return write_record(r, subject_key("SCHEMA", subject, version, 1), NULL, true, err);
}

int mk_registry_write_config(struct mk_schema_registry *r, const char *subject,
                             const struct mk_registry_config *config, struct mk_err *err) {
  json_t *value = NULL;
  if (config) {
    value = json_object();
    bool ok = value && (!subject || json_object_set_new(value, "subject", json_string(subject)) == 0) &&
              (!config->has_level ||
               json_object_set_new(value, "compatibilityLevel",
                                   json_string(mk_compatibility_name(config->level))) == 0) &&
              (!config->has_normalize ||
               json_object_set_new(value, "normalize", json_boolean(config->normalize)) == 0);
    if (!ok) {
      json_decref(value);
      value = NULL;
    }
  }
  return write_record(r, subject_key("CONFIG", subject, 0, 0), value, config == NULL, err);
}

int mk_registry_write_delete_subject(struct mk_schema_registry *r, const char *subject,
                                     int version, struct mk_err *err) {
  json_t *value = json_pack("{s:s, s:i}", "subject", subject, "version", version);
  return write_record(r, subject_key("DELETE_SUBJECT", subject, 0, 0), value, false, err);
}
