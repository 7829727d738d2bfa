/*
 * Avro schemas: the parser, its checks, and the two text forms. See avro_schema.h.
 * Avro: lang/java/avro/.../Schema.java (Parser, validateName, isValidDefault, toJson);
 * Confluent: AvroSchemaUtils.toNormalizedString.
 *
 *   parse_type    one JSON value -> one type: a primitive name, a reference to a named
 *                 type defined earlier, a union (JSON array) or a definition (object)
 *   parse_named   record / enum / fixed: the name is resolved against the enclosing
 *                 namespace and registered *before* a record's fields are read, so a
 *                 field may refer to the record itself (a linked list)
 *   check_default once the whole schema is read (a default may mention any type),
 *                 each field's default must be a value of the field's type
 *   write_canonical / write_normalized   the tree back to JSON, in Java's key order
 */
#include "schemas/avro_schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the types' storage ----------------------------------------------------------------- */

static struct mk_avro_type *new_type(struct mk_avro_schema *s, enum mk_avro_kind kind,
                                     json_t *def) {
  if (s->num_types_ == s->cap_types_) {
    int cap = s->cap_types_ ? 2 * s->cap_types_ : 16;
    struct mk_avro_type **t = realloc(s->types_, (size_t)cap * sizeof *t);
    if (!t) return NULL;
    s->types_ = t;
    s->cap_types_ = cap;
  }
  struct mk_avro_type *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->kind = kind;
  t->def = def;
  t->enum_default = -1;
  s->types_[s->num_types_++] = t;
  return t;
}

static void free_strings(char **v, int n) {
  for (int i = 0; i < n; i++) free(v[i]);
  free(v);
}

static void free_type(struct mk_avro_type *t) {
  free(t->space);
  free(t->full_name);
  free_strings(t->aliases, t->num_aliases);
  for (int i = 0; i < t->num_fields; i++) free_strings(t->fields[i].aliases, t->fields[i].num_aliases);
  free(t->fields);
  free_strings(t->symbols, t->num_symbols);
  free(t->branches);
  free(t);
}

void mk_avro_schema_free(struct mk_avro_schema *s) {
  if (!s) return;
  for (int i = 0; i < s->num_types_; i++) free_type(s->types_[i]);
  free(s->types_);
  free(s->canonical);
  free(s->normalized);
  if (s->avro) avro_schema_decref(s->avro);
  json_decref(s->json);
  free(s);
}

/* ---- names ------------------------------------------------------------------------------ */

static const char *const kind_names[] = {
    [MK_AVRO_NULL] = "null",     [MK_AVRO_BOOLEAN] = "boolean", [MK_AVRO_INT] = "int",
    [MK_AVRO_LONG] = "long",     [MK_AVRO_FLOAT] = "float",     [MK_AVRO_DOUBLE] = "double",
    [MK_AVRO_BYTES] = "bytes",   [MK_AVRO_STRING] = "string",   [MK_AVRO_RECORD] = "record",
    [MK_AVRO_ENUM] = "enum",     [MK_AVRO_ARRAY] = "array",     [MK_AVRO_MAP] = "map",
    [MK_AVRO_UNION] = "union",   [MK_AVRO_FIXED] = "fixed",
};

const char *mk_avro_kind_name(enum mk_avro_kind kind) {
  return (unsigned)kind < sizeof kind_names / sizeof kind_names[0] ? kind_names[kind] : "?";
}

const char *mk_avro_type_branch_name(const struct mk_avro_type *t) {
  return t->full_name ? t->full_name : mk_avro_kind_name(t->kind);
}

/* The primitive called s, or -1. */
static int primitive_kind(const char *s) {
  for (int k = MK_AVRO_NULL; k <= MK_AVRO_STRING; k++)
    if (strcmp(s, kind_names[k]) == 0) return k;
  return -1;
}

const struct mk_avro_field *mk_avro_record_field(const struct mk_avro_type *t,
                                                 const char *name) {
  for (int i = 0; t->kind == MK_AVRO_RECORD && i < t->num_fields; i++)
    if (strcmp(t->fields[i].name, name) == 0) return &t->fields[i];
  return NULL;
}

/* The spec's name rule: [A-Za-z_][A-Za-z0-9_]* (Java also allows non-ASCII letters;
 * avro-c does not, so neither do we). */
static bool valid_name(const char *s, size_t n) {
  if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
    return false;
  for (size_t i = 1; i < n; i++) {
    char c = s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  }
  return true;
}

/* A dotted name: each part a valid name. */
static bool valid_dotted(const char *s) {
  const char *p = s;
  for (;;) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    if (!valid_name(p, n)) return false;
    if (!dot) return true;
    p = dot + 1;
  }
}

/* The named types defined so far, by full name: open addressing, FNV-1a. */
struct names {
  struct mk_avro_type **slots;
  size_t cap, count;
};

uint64_t mk_avro_text_hash(const char *text) {
  uint64_t h = 1469598103934665603ULL;
  for (; *text; text++) h = (h ^ (uint8_t)*text) * 1099511628211ULL;
  return h;
}

static struct mk_avro_type *names_get(const struct names *n, const char *full) {
  if (!n->cap) return NULL;
  for (size_t i = mk_avro_text_hash(full) & (n->cap - 1);; i = (i + 1) & (n->cap - 1)) {
    if (!n->slots[i]) return NULL;
    if (strcmp(n->slots[i]->full_name, full) == 0) return n->slots[i];
  }
}

static bool names_put(struct names *n, struct mk_avro_type *t) {
  if (2 * (n->count + 1) > n->cap) {
    size_t cap = n->cap ? 2 * n->cap : 32;
    struct mk_avro_type **slots = calloc(cap, sizeof *slots);
    if (!slots) return false;
    for (size_t i = 0; i < n->cap; i++) {
      if (!n->slots[i]) continue;
      size_t j = mk_avro_text_hash(n->slots[i]->full_name) & (cap - 1);
      while (slots[j]) j = (j + 1) & (cap - 1);
      slots[j] = n->slots[i];
    }
    free(n->slots);
    n->slots = slots;
    n->cap = cap;
  }
  size_t j = mk_avro_text_hash(t->full_name) & (n->cap - 1);
  while (n->slots[j]) j = (j + 1) & (n->cap - 1);
  n->slots[j] = t;
  n->count++;
  return true;
}

/* ---- the parser ------------------------------------------------------------------------- */

struct parser {
  struct mk_avro_schema *s;
  struct names names;
  struct mk_err *err;
  bool failed;
  /* fields whose defaults are checked once everything is read */
  struct pending {
    const struct mk_avro_type *record;
    int field;
  } *pending;
  size_t num_pending, cap_pending;
};

static struct mk_avro_type *fail(struct parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static struct mk_avro_type *fail(struct parser *p, const char *fmt, ...) {
  if (!p->failed) {
    char msg[sizeof p->err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mk_err_set(p->err, MK_ERR__INVALID_ARG, "%s", msg);
    p->failed = true;
  }
  return NULL;
}

static struct mk_avro_type *no_memory(struct parser *p) {
  if (!p->failed) mk_err_set(p->err, MK_ERR__NO_MEMORY, "out of memory parsing a schema");
  p->failed = true;
  return NULL;
}

/* A JSON value cut short for an error message. */
static const char *shown(const json_t *j, char *buf, size_t size) {
  char *text = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
  snprintf(buf, size, "%.40s%s", text ? text : "?", text && strlen(text) > 40 ? "..." : "");
  free(text);
  return buf;
}

/* "ns.name" (or name when ns is NULL), freshly allocated. */
static char *join_name(const char *ns, const char *name) {
  size_t a = ns ? strlen(ns) : 0, b = strlen(name);
  char *s = malloc(a + b + 2);
  if (!s) return NULL;
  if (ns) {
    memcpy(s, ns, a);
    s[a++] = '.';
  }
  memcpy(s + a, name, b + 1);
  return s;
}

/* A name as written in a schema, resolved in namespace ns: names with a dot are already
 * full. */
static char *resolve_name(const char *name, const char *ns) {
  return strchr(name, '.') ? strdup(name) : join_name(ns, name);
}

static struct mk_avro_type *parse_type(struct parser *p, json_t *j, const char *ns, int depth);

/* "aliases": an array of names, resolved in ns. */
static bool parse_aliases(struct parser *p, json_t *def, const char *ns, const char *what,
                          char ***out, int *n) {
  json_t *a = json_object_get(def, "aliases");
  if (!a) return true;
  if (!json_is_array(a)) return fail(p, "%s: \"aliases\" must be an array of names", what), false;
  size_t count = json_array_size(a);
  char **v = calloc(count ? count : 1, sizeof *v);
  if (!v) return no_memory(p), false;
  for (size_t i = 0; i < count; i++) {
    const char *alias = json_string_value(json_array_get(a, i));
    if (!alias || !valid_dotted(alias)) {
      free_strings(v, (int)i);
      return fail(p, "%s: alias %zu is not a valid name", what, i), false;
    }
    v[i] = ns ? resolve_name(alias, ns) : strdup(alias);
    if (!v[i]) {
      free_strings(v, (int)i);
      return no_memory(p), false;
    }
  }
  *out = v;
  *n = (int)count;
  return true;
}

static bool parse_fields(struct parser *p, struct mk_avro_type *t, json_t *def, int depth) {
  json_t *fields = json_object_get(def, "fields");
  if (!json_is_array(fields)) return fail(p, "record %s has no \"fields\" array", t->full_name), false;
  size_t n = json_array_size(fields);
  t->fields = calloc(n ? n : 1, sizeof *t->fields);
  if (!t->fields) return no_memory(p), false;
  for (size_t i = 0; i < n; i++) {
    json_t *f = json_array_get(fields, i);
    const char *name = json_string_value(json_object_get(f, "name"));
    if (!json_is_object(f) || !name)
      return fail(p, "record %s: field %zu has no \"name\"", t->full_name, i), false;
    if (!valid_name(name, strlen(name)))
      return fail(p, "record %s: \"%.60s\" is not a valid field name", t->full_name, name), false;
    if (mk_avro_record_field(t, name))
      return fail(p, "record %s: duplicate field '%s'", t->full_name, name), false;
    json_t *type = json_object_get(f, "type");
    if (!type) return fail(p, "record %s: field '%s' has no \"type\"", t->full_name, name), false;
    json_t *order = json_object_get(f, "order");
    const char *o = json_string_value(order);
    if (order && (!o || (strcmp(o, "ascending") && strcmp(o, "descending") && strcmp(o, "ignore"))))
      return fail(p, "record %s: field '%s' has an order other than ascending, descending or "
                  "ignore", t->full_name, name), false;
    struct mk_avro_field *field = &t->fields[t->num_fields];
    field->name = name;
    field->def = f;
    field->default_value = json_object_get(f, "default");
    char what[160];
    snprintf(what, sizeof what, "field '%s' of record %s", name, t->full_name);
    /* Field aliases are plain field names, never namespaced. */
    if (!parse_aliases(p, f, NULL, what, &field->aliases, &field->num_aliases)) return false;
    t->num_fields++;  /* counted before its type is read, so free_type frees the aliases */
    field->type = parse_type(p, type, t->space, depth + 1);
    if (!field->type) return false;
    if (field->default_value) {
      if (p->num_pending == p->cap_pending) {
        size_t cap = p->cap_pending ? 2 * p->cap_pending : 16;
        struct pending *v = realloc(p->pending, cap * sizeof *v);
        if (!v) return no_memory(p), false;
        p->pending = v;
        p->cap_pending = cap;
      }
      p->pending[p->num_pending++] = (struct pending){t, (int)i};
    }
  }
  return true;
}

static bool parse_symbols(struct parser *p, struct mk_avro_type *t, json_t *def) {
  json_t *symbols = json_object_get(def, "symbols");
  if (!json_is_array(symbols)) return fail(p, "enum %s has no \"symbols\" array", t->full_name), false;
  size_t n = json_array_size(symbols);
  if (n == 0) return fail(p, "enum %s has no symbols", t->full_name), false;  /* avro-c needs one */
  t->symbols = calloc(n, sizeof *t->symbols);
  if (!t->symbols) return no_memory(p), false;
  for (size_t i = 0; i < n; i++) {
    const char *sym = json_string_value(json_array_get(symbols, i));
    if (!sym || !valid_name(sym, strlen(sym)))
      return fail(p, "enum %s: symbol %zu is not a valid name", t->full_name, i), false;
    for (int k = 0; k < t->num_symbols; k++)
      if (strcmp(t->symbols[k], sym) == 0)
        return fail(p, "enum %s: duplicate symbol %s", t->full_name, sym), false;
    if (!(t->symbols[t->num_symbols] = strdup(sym))) return no_memory(p), false;
    t->num_symbols++;
  }
  json_t *dflt = json_object_get(def, "default");
  if (dflt) {
    const char *d = json_string_value(dflt);
    for (int k = 0; d && k < t->num_symbols; k++)
      if (strcmp(t->symbols[k], d) == 0) t->enum_default = k;
    if (t->enum_default < 0)
      return fail(p, "enum %s: the default is not one of its symbols", t->full_name), false;
  }
  return true;
}

/* record, enum, fixed: a definition with a name. */
static struct mk_avro_type *parse_named(struct parser *p, enum mk_avro_kind kind, json_t *def,
                                        const char *ns, int depth) {
  json_t *jname = json_object_get(def, "name");
  const char *name = json_string_value(jname);
  if (!name) return fail(p, "a %s needs a \"name\"", kind_names[kind]);
  if (!valid_dotted(name)) return fail(p, "\"%.60s\" is not a valid %s name", name, kind_names[kind]);
  json_t *jns = json_object_get(def, "namespace");
  if (jns && !json_is_string(jns) && !json_is_null(jns))
    return fail(p, "%s %.60s: \"namespace\" must be a string", kind_names[kind], name);
  const char *space = ns;
  if (json_is_string(jns)) space = json_string_value(jns)[0] ? json_string_value(jns) : NULL;
  if (space && !valid_dotted(space))
    return fail(p, "\"%.60s\" is not a valid namespace", space);
  struct mk_avro_type *t = new_type(p->s, kind, def);
  if (!t) return no_memory(p);
  const char *dot = strrchr(name, '.');
  if (dot) {
    t->name = dot + 1;
    t->space = strndup(name, (size_t)(dot - name));
  } else {
    t->name = name;
    t->space = space ? strdup(space) : NULL;
  }
  if ((!dot && space && !t->space) || (dot && !t->space)) return no_memory(p);
  /* avro-c 1.11 resolves a name inside a namespace against that namespace even when the
   * type itself has none, so it cannot read such a schema back. */
  if (!t->space && ns)
    return fail(p, "%s %s has no namespace inside namespace %s (\"namespace\": \"\"), which "
                "avro-c 1.11 cannot resolve", kind_names[kind], name, ns);
  if (!(t->full_name = join_name(t->space, t->name))) return no_memory(p);
  if (primitive_kind(t->full_name) >= 0)
    return fail(p, "a %s may not be named after a primitive type (%s)", kind_names[kind],
                t->full_name);
  if (names_get(&p->names, t->full_name)) return fail(p, "%s is defined twice", t->full_name);
  if (!names_put(&p->names, t)) return no_memory(p);
  if (!parse_aliases(p, def, t->space, t->full_name, &t->aliases, &t->num_aliases)) return NULL;
  switch (kind) {
    case MK_AVRO_RECORD:
      if (!parse_fields(p, t, def, depth)) return NULL;
      break;
    case MK_AVRO_ENUM:
      if (!parse_symbols(p, t, def)) return NULL;
      break;
    default: {  /* fixed */
      json_t *size = json_object_get(def, "size");
      if (!json_is_integer(size) || json_integer_value(size) < 0 ||
          json_integer_value(size) > INT32_MAX)
        return fail(p, "fixed %s needs a \"size\" between 0 and 2^31-1", t->full_name);
      t->size = json_integer_value(size);
    }
  }
  return t;
}

static struct mk_avro_type *parse_union(struct parser *p, json_t *j, const char *ns, int depth) {
  struct mk_avro_type *t = new_type(p->s, MK_AVRO_UNION, NULL);
  if (!t) return no_memory(p);
  size_t n = json_array_size(j);
  t->branches = calloc(n ? n : 1, sizeof *t->branches);
  if (!t->branches) return no_memory(p);
  for (size_t i = 0; i < n; i++) {
    struct mk_avro_type *b = parse_type(p, json_array_get(j, i), ns, depth + 1);
    if (!b) return NULL;
    if (b->kind == MK_AVRO_UNION) return fail(p, "a union may not contain a union");
    for (int k = 0; k < t->num_branches; k++)
      if (strcmp(mk_avro_type_branch_name(t->branches[k]), mk_avro_type_branch_name(b)) == 0)
        return fail(p, "union has %s twice", mk_avro_type_branch_name(b));
    t->branches[t->num_branches++] = b;
  }
  return t;
}

static struct mk_avro_type *lookup(struct parser *p, const char *name, const char *ns) {
  int k = primitive_kind(name);
  if (k >= 0) return new_type(p->s, (enum mk_avro_kind)k, NULL) ?: no_memory(p);
  char *full = resolve_name(name, ns);
  if (!full) return no_memory(p);
  struct mk_avro_type *t = names_get(&p->names, full);
  free(full);
  if (!t) return fail(p, "\"%.60s\" is not a type defined before its use", name);
  return t;
}

static struct mk_avro_type *parse_type(struct parser *p, json_t *j, const char *ns, int depth) {
  char buf[64];
  if (depth > MK_AVRO_SCHEMA_MAX_DEPTH)
    return fail(p, "types nest more than %d deep", MK_AVRO_SCHEMA_MAX_DEPTH);
  if (json_is_string(j)) return lookup(p, json_string_value(j), ns);
  if (json_is_array(j)) return parse_union(p, j, ns, depth);
  if (!json_is_object(j)) return fail(p, "%s is not a schema", shown(j, buf, sizeof buf));
  const char *type = json_string_value(json_object_get(j, "type"));
  if (!type) return fail(p, "%s has no \"type\" name", shown(j, buf, sizeof buf));
  int k = primitive_kind(type);
  if (k >= 0) return new_type(p->s, (enum mk_avro_kind)k, j) ?: no_memory(p);
  if (strcmp(type, "record") == 0) return parse_named(p, MK_AVRO_RECORD, j, ns, depth);
  if (strcmp(type, "enum") == 0) return parse_named(p, MK_AVRO_ENUM, j, ns, depth);
  if (strcmp(type, "fixed") == 0) return parse_named(p, MK_AVRO_FIXED, j, ns, depth);
  if (strcmp(type, "array") == 0 || strcmp(type, "map") == 0) {
    bool array = type[0] == 'a';
    json_t *inner = json_object_get(j, array ? "items" : "values");
    if (!inner) return fail(p, "an %s needs \"%s\"", type, array ? "items" : "values");
    struct mk_avro_type *t = new_type(p->s, array ? MK_AVRO_ARRAY : MK_AVRO_MAP, j);
    if (!t) return no_memory(p);
    if (!(t->items = parse_type(p, inner, ns, depth + 1))) return NULL;
    return t;
  }
  if (strcmp(type, "error") == 0)
    return fail(p, "\"error\" types (Avro RPC) are not supported by avro-c 1.11");
  /* {"type": "com.example.User"}: a reference written as an object */
  return lookup(p, type, ns);
}

/* ---- defaults --------------------------------------------------------------------------- */

/* Whether v is a valid default for t (Avro 1.11's Schema.isValidDefault: a union's default
 * belongs to its first branch). */
static bool valid_default(const struct mk_avro_type *t, const json_t *v, int depth) {
  if (depth > MK_AVRO_SCHEMA_MAX_DEPTH * 2) return false;
  switch (t->kind) {
    case MK_AVRO_NULL: return json_is_null(v);
    case MK_AVRO_BOOLEAN: return json_is_boolean(v);
    case MK_AVRO_INT:
      return json_is_integer(v) && json_integer_value(v) >= INT32_MIN &&
             json_integer_value(v) <= INT32_MAX;
    case MK_AVRO_LONG: return json_is_integer(v);
    case MK_AVRO_FLOAT:
    case MK_AVRO_DOUBLE: return json_is_number(v);
    case MK_AVRO_BYTES:
    case MK_AVRO_STRING: return json_is_string(v);
    case MK_AVRO_FIXED: return json_is_string(v);
    case MK_AVRO_ENUM: {
      const char *s = json_string_value(v);
      for (int i = 0; s && i < t->num_symbols; i++)
        if (strcmp(s, t->symbols[i]) == 0) return true;
      return false;
    }
    case MK_AVRO_ARRAY: {
      if (!json_is_array(v)) return false;
      for (size_t i = 0; i < json_array_size(v); i++)
        if (!valid_default(t->items, json_array_get(v, i), depth + 1)) return false;
      return true;
    }
    case MK_AVRO_MAP: {
      if (!json_is_object(v)) return false;
      const char *key;
      json_t *value;
      json_object_foreach((json_t *)v, key, value)
        if (!valid_default(t->items, value, depth + 1)) return false;
      return true;
    }
    case MK_AVRO_RECORD: {
      if (!json_is_object(v)) return false;
      for (int i = 0; i < t->num_fields; i++) {
        const json_t *fv = json_object_get(v, t->fields[i].name);
        if (fv ? !valid_default(t->fields[i].type, fv, depth + 1) : !t->fields[i].default_value)
          return false;
      }
      return true;
    }
    case MK_AVRO_UNION:
      return t->num_branches > 0 && valid_default(t->branches[0], v, depth + 1);
  }
  return false;
}

static bool check_defaults(struct parser *p) {
  for (size_t i = 0; i < p->num_pending; i++) {
    const struct mk_avro_type *r = p->pending[i].record;
    const struct mk_avro_field *f = &r->fields[p->pending[i].field];
    if (!valid_default(f->type, f->default_value, 0)) {
      char buf[64];
      const char *what = f->type->kind == MK_AVRO_UNION && f->type->num_branches
                             ? mk_avro_type_branch_name(f->type->branches[0])
                             : mk_avro_type_branch_name(f->type);
      fail(p, "field '%s' of record %s: default %s is not a%s %s%s", f->name, r->full_name,
           shown(f->default_value, buf, sizeof buf), strchr("aeiou", what[0]) ? "n" : "", what,
           f->type->kind == MK_AVRO_UNION ? " (a union's default belongs to its first branch)"
                                          : "");
      return false;
    }
  }
  return true;
}

/* ---- values must be finite -------------------------------------------------------------- */

/* A record that holds itself with no way out ({"name": "next", "type": "Self"} rather than
 * ["null", "Self"]) has no finite value. Java's parser accepts it (no value will ever be
 * written); avro-c recurses until the stack runs out when it makes a value of it, so it is
 * refused here. A type is finite if it is not a record or union, a record whose fields are
 * all finite, or a union with a finite branch: marked until nothing changes. */
static bool check_finite(struct parser *p) {
  struct mk_avro_schema *s = p->s;
  for (int i = 0; i < s->num_types_; i++)
    s->types_[i]->finite_ = s->types_[i]->kind != MK_AVRO_RECORD && s->types_[i]->kind != MK_AVRO_UNION;
  for (bool changed = true; changed;) {
    changed = false;
    for (int i = 0; i < s->num_types_; i++) {
      struct mk_avro_type *t = s->types_[i];
      if (t->finite_) continue;
      bool finite = t->kind == MK_AVRO_RECORD;
      for (int k = 0; t->kind == MK_AVRO_RECORD && k < t->num_fields; k++)
        finite = finite && t->fields[k].type->finite_;
      for (int k = 0; t->kind == MK_AVRO_UNION && k < t->num_branches; k++)
        finite = finite || t->branches[k]->finite_;
      if (finite) t->finite_ = changed = true;
    }
  }
  for (int i = 0; i < s->num_types_; i++) {
    const struct mk_avro_type *t = s->types_[i];
    if (t->finite_) continue;
    if (t->kind == MK_AVRO_RECORD)
      return fail(p, "record %s contains itself with no way out (make the field a union with "
                  "null, or an array), so no value of it could ever be written", t->full_name), false;
    return fail(p, "a union with no branches cannot hold a value"), false;
  }
  return true;
}

/* ---- the two text forms ----------------------------------------------------------------- */

/* Keys a definition may carry that are not custom properties. */
static bool reserved_key(const char *key, bool field) {
  static const char *const type_keys[] = {"type", "name", "namespace", "doc", "aliases",
                                          "fields", "symbols", "items", "values", "size",
                                          "default", NULL};
  static const char *const field_keys[] = {"name", "type", "doc", "default", "order",
                                           "aliases", NULL};
  for (const char *const *k = field ? field_keys : type_keys; *k; k++)
    if (strcmp(key, *k) == 0) return true;
  return false;
}

struct writer {
  bool normalized;
  bool failed;
  struct names written;   /* named types already written out in full */
};

static void put(struct writer *w, json_t *obj, const char *key, json_t *v) {
  if (!v || json_object_set_new(obj, key, v)) w->failed = true;
}

static void put_ref(struct writer *w, json_t *obj, const char *key, json_t *v) {
  if (v) put(w, obj, key, json_incref(v));
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The custom properties of def, in the input's order (Java keeps insertion order) or sorted
 * by key (normalized). skip, when set, names keys written already (logicalType ...). */
static void put_props(struct writer *w, json_t *obj, json_t *def, bool field,
                      const char *const *skip) {
  if (!def) return;
  size_t n = json_object_size(def), k = 0;
  const char **keys = calloc(n ? n : 1, sizeof *keys);
  if (!keys) {
    w->failed = true;
    return;
  }
  const char *key;
  json_t *value;
  json_object_foreach(def, key, value) {
    bool skipped = reserved_key(key, field);
    for (const char *const *s = skip; s && *s && !skipped; s++) skipped = strcmp(*s, key) == 0;
    if (!skipped) keys[k++] = key;
  }
  if (w->normalized) qsort(keys, k, sizeof *keys, cmp_str);
  for (size_t i = 0; i < k; i++) put_ref(w, obj, keys[i], json_object_get(def, keys[i]));
  free(keys);
}

/* Aliases as Java writes them: short when in the type's own namespace (canonical), or all
 * full and sorted (normalized). */
static json_t *aliases_json(const struct writer *w, char **aliases, int n, const char *space) {
  json_t *a = json_array();
  char **sorted = malloc((size_t)(n ? n : 1) * sizeof *sorted);
  if (!a || !sorted) {
    free(sorted);
    json_decref(a);
    return NULL;
  }
  memcpy(sorted, aliases, (size_t)n * sizeof *sorted);
  if (w->normalized) qsort(sorted, (size_t)n, sizeof *sorted, cmp_str);
  for (int i = 0; i < n; i++) {
    const char *alias = sorted[i];
    const char *dot = strrchr(alias, '.');
    if (!w->normalized && dot && space && strlen(space) == (size_t)(dot - alias) &&
        strncmp(alias, space, (size_t)(dot - alias)) == 0)
      alias = dot + 1;
    json_array_append_new(a, json_string(alias));
  }
  free(sorted);
  return a;
}

static json_t *write_type(struct writer *w, const struct mk_avro_type *t, const char *space);

static json_t *write_field(struct writer *w, const struct mk_avro_field *f, const char *space) {
  json_t *o = json_object();
  if (!o) return NULL;
  put(w, o, "name", json_string(f->name));
  put(w, o, "type", write_type(w, f->type, space));
  json_t *doc = json_object_get(f->def, "doc");
  json_t *order = json_object_get(f->def, "order");
  if (w->normalized) {  /* Java's Field.order() is never null: ascending by default */
    put(w, o, "order", order ? json_incref(order) : json_string("ascending"));
    put_ref(w, o, "doc", doc);
    if (f->num_aliases) put(w, o, "aliases", aliases_json(w, f->aliases, f->num_aliases, NULL));
    put_ref(w, o, "default", f->default_value);
  } else {
    put_ref(w, o, "doc", doc);
    put_ref(w, o, "default", f->default_value);
    if (order && strcmp(json_string_value(order), "ascending") != 0) put_ref(w, o, "order", order);
    if (f->num_aliases) put(w, o, "aliases", aliases_json(w, f->aliases, f->num_aliases, NULL));
  }
  put_props(w, o, f->def, true, NULL);
  return o;
}

/* A primitive (or array/map) with properties: "logicalType" first when normalized, with a
 * decimal's precision and scale (Confluent's setLogicalProps). */
static void put_logical(struct writer *w, json_t *o, json_t *def) {
  static const char *const logical_keys[] = {"logicalType", "precision", "scale", NULL};
  const char *lt = json_string_value(json_object_get(def, "logicalType"));
  if (!w->normalized || !lt) {
    put_props(w, o, def, false, NULL);
    return;
  }
  put(w, o, "logicalType", json_string(lt));
  if (strcmp(lt, "decimal") == 0) {
    put_ref(w, o, "precision", json_object_get(def, "precision"));
    json_t *scale = json_object_get(def, "scale");
    if (scale && !(json_is_integer(scale) && json_integer_value(scale) == 0))
      put_ref(w, o, "scale", scale);
    put_props(w, o, def, false, logical_keys);
  } else {
    put_props(w, o, def, false, logical_keys);
  }
}

static json_t *write_named(struct writer *w, const struct mk_avro_type *t, const char *space) {
  if (names_get(&w->written, t->full_name)) {  /* written before: a reference */
    bool same = !w->normalized && ((!t->space && !space) ||
                                   (t->space && space && strcmp(t->space, space) == 0));
    return json_string(same ? t->name : t->full_name);
  }
  if (!names_put(&w->written, (struct mk_avro_type *)t)) return NULL;
  json_t *o = json_object();
  if (!o) return NULL;
  if (w->normalized) {
    put(w, o, "name", json_string(t->full_name));
    put(w, o, "type", json_string(kind_names[t->kind]));
  } else {
    put(w, o, "type", json_string(kind_names[t->kind]));
    put(w, o, "name", json_string(t->name));
    if (t->space && (!space || strcmp(t->space, space) != 0))
      put(w, o, "namespace", json_string(t->space));
    put_ref(w, o, "doc", json_object_get(t->def, "doc"));
  }
  if (t->kind == MK_AVRO_RECORD) {
    json_t *fields = json_array();
    for (int i = 0; fields && i < t->num_fields; i++)
      if (json_array_append_new(fields, write_field(w, &t->fields[i], t->space))) w->failed = true;
    put(w, o, "fields", fields);
  } else if (t->kind == MK_AVRO_ENUM) {
    json_t *symbols = json_array();
    for (int i = 0; symbols && i < t->num_symbols; i++)
      json_array_append_new(symbols, json_string(t->symbols[i]));
    put(w, o, "symbols", symbols);
    if (!w->normalized && t->enum_default >= 0)
      put(w, o, "default", json_string(t->symbols[t->enum_default]));
  } else {
    put(w, o, "size", json_integer(t->size));
  }
  if (w->normalized) {
    json_t *doc = json_object_get(t->def, "doc");
    if (json_string_length(doc)) put_ref(w, o, "doc", doc);
    if (t->num_aliases) put(w, o, "aliases", aliases_json(w, t->aliases, t->num_aliases, t->space));
    if (t->kind == MK_AVRO_ENUM && t->enum_default >= 0)
      put(w, o, "default", json_string(t->symbols[t->enum_default]));
    put_logical(w, o, t->def);
  } else {
    put_props(w, o, t->def, false, NULL);
    if (t->num_aliases) put(w, o, "aliases", aliases_json(w, t->aliases, t->num_aliases, t->space));
  }
  return o;
}

static json_t *write_type(struct writer *w, const struct mk_avro_type *t, const char *space) {
  switch (t->kind) {
    case MK_AVRO_RECORD:
    case MK_AVRO_ENUM:
    case MK_AVRO_FIXED:
      return write_named(w, t, space);
    case MK_AVRO_UNION: {
      json_t *a = json_array();
      for (int i = 0; a && i < t->num_branches; i++)
        if (json_array_append_new(a, write_type(w, t->branches[i], space))) w->failed = true;
      return a;
    }
    case MK_AVRO_ARRAY:
    case MK_AVRO_MAP: {
      json_t *o = json_object();
      if (!o) return NULL;
      put(w, o, "type", json_string(kind_names[t->kind]));
      put(w, o, t->kind == MK_AVRO_ARRAY ? "items" : "values", write_type(w, t->items, space));
      put_logical(w, o, t->def);
      return o;
    }
    default: {  /* a primitive: bare unless it carries properties */
      bool props = false;
      const char *key;
      json_t *value;
      json_object_foreach(t->def, key, value) props = props || !reserved_key(key, false);
      if (!props) return json_string(kind_names[t->kind]);
      json_t *o = json_object();
      if (!o) return NULL;
      put(w, o, "type", json_string(kind_names[t->kind]));
      put_logical(w, o, t->def);
      return o;
    }
  }
}

static char *write_text(const struct mk_avro_type *root, bool normalized) {
  struct writer w = {.normalized = normalized};
  json_t *j = write_type(&w, root, NULL);
  char *text = j && !w.failed ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  json_decref(j);
  free(w.written.slots);
  return text;
}

/* ---- parse ------------------------------------------------------------------------------ */

int mk_avro_schema_parse(const char *text, size_t len, bool normalize,
                         struct mk_avro_schema **out, struct mk_err *err) {
  *out = NULL;
  if (len > MK_AVRO_SCHEMA_MAX_BYTES)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "the schema is %zu bytes, more than the %d "
                      "allowed", len, MK_AVRO_SCHEMA_MAX_BYTES);
  struct mk_avro_schema *s = calloc(1, sizeof *s);
  if (!s) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory parsing a schema");
  json_error_t jerr;
  s->json = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
  if (!s->json) {
    mk_avro_schema_free(s);
    return mk_err_set(err, MK_ERR__INVALID_ARG, "the schema is not JSON: %s (line %d, column %d)",
                      jerr.text, jerr.line, jerr.column);
  }
  struct mk_err local;
  struct parser p = {.s = s, .err = err ? err : &local};
  s->root = parse_type(&p, s->json, NULL, 0);
  bool ok = s->root && check_defaults(&p) && check_finite(&p);
  free(p.names.slots);
  free(p.pending);
  if (!ok) {
    mk_avro_schema_free(s);
    return p.err->code;
  }
  s->normalized = write_text(s->root, true);
  s->canonical = normalize ? (s->normalized ? strdup(s->normalized) : NULL)
                           : write_text(s->root, false);
  if (!s->normalized || !s->canonical) {
    mk_avro_schema_free(s);
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory writing a schema");
  }
  if (avro_schema_from_json_length(s->normalized, strlen(s->normalized), &s->avro)) {
    s->avro = NULL;
    int rc = mk_err_set(err, MK_ERR__INVALID_ARG, "avro-c refused the schema: %s",
                        avro_strerror());
    mk_avro_schema_free(s);
    return rc;
  }
  *out = s;
  return 0;
}
