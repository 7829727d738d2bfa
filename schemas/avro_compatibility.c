/*
 * Avro compatibility: the reader/writer walk and the registry's levels. See
 * avro_compatibility.h for the rules. Avro: SchemaCompatibility.ReaderWriterCompatibilityChecker.
 *
 *   can_read(R, W)   one pair of types: dispatch on the two kinds, recurse into fields,
 *                    items, values and branches, and record each incompatibility with its
 *                    location ("/fields/1/type", as Avro's Java checker writes locations)
 *   memo             named pairs already being checked count as compatible while the walk is
 *                    inside them (a recursive record would otherwise never end) and are not
 *                    checked twice (a type used in many places would otherwise be walked once
 *                    per use: exponential in the worst case)
 */
#define _GNU_SOURCE  /* vasprintf */
#include "schemas/avro_compatibility.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const level_names[] = {
    [MK_COMPATIBILITY_NONE] = "NONE",
    [MK_COMPATIBILITY_BACKWARD] = "BACKWARD",
    [MK_COMPATIBILITY_BACKWARD_TRANSITIVE] = "BACKWARD_TRANSITIVE",
    [MK_COMPATIBILITY_FORWARD] = "FORWARD",
    [MK_COMPATIBILITY_FORWARD_TRANSITIVE] = "FORWARD_TRANSITIVE",
    [MK_COMPATIBILITY_FULL] = "FULL",
    [MK_COMPATIBILITY_FULL_TRANSITIVE] = "FULL_TRANSITIVE",
};

const char *mk_compatibility_name(enum mk_compatibility level) {
  return (unsigned)level <= MK_COMPATIBILITY_FULL_TRANSITIVE ? level_names[level] : "?";
}

bool mk_compatibility_from_name(const char *name, enum mk_compatibility *out) {
  for (int i = 0; name && i <= MK_COMPATIBILITY_FULL_TRANSITIVE; i++)
    if (strcasecmp(name, level_names[i]) == 0) return *out = (enum mk_compatibility)i, true;
  return false;
}

/* ---- messages --------------------------------------------------------------------------- */

void mk_avro_messages_free(struct mk_avro_messages *m) {
  for (int i = 0; i < m->n; i++) free(m->v[i]);
  free(m->v);
  *m = (struct mk_avro_messages){0};
}

static void add_message(struct mk_avro_messages *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add_message(struct mk_avro_messages *m, const char *fmt, ...) {
  if (!m) return;
  if (m->n == m->cap) {
    int cap = m->cap ? 2 * m->cap : 8;
    char **v = realloc(m->v, (size_t)cap * sizeof *v);
    if (!v) return;  /* a message lost to memory pressure; the verdict stands */
    m->v = v;
    m->cap = cap;
  }
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&m->v[m->n], fmt, ap) >= 0) m->n++;
  va_end(ap);
}

/* Move every message of from to the end of to. */
static void move_messages(struct mk_avro_messages *to, struct mk_avro_messages *from) {
  for (int i = 0; i < from->n; i++) {
    if (to) add_message(to, "%s", from->v[i]);
  }
  mk_avro_messages_free(from);
}

/* ---- the walk --------------------------------------------------------------------------- */

enum { IN_PROGRESS, COMPATIBLE, INCOMPATIBLE };

struct checker {
  const char *reader_role, *writer_role;  /* "new" / "old", for the descriptions */
  struct mk_avro_messages *out;
  int quiet;                 /* > 0: trying union branches; failures are not reported */
  bool avro_c;               /* judge as avro-c 1.11's resolver can read, not as Avro may */
  struct memo {
    const struct mk_avro_type *r, *w;
    int state;
  } *memo;
  size_t num_memo, cap_memo;
  char path[256];            /* the location, "/fields/0/type" */
  size_t path_len;
};

static size_t push(struct checker *c, const char *part) {
  size_t saved = c->path_len;
  int n = snprintf(c->path + c->path_len, sizeof c->path - c->path_len, "/%s", part);
  if (n > 0) c->path_len = c->path_len + (size_t)n < sizeof c->path ? c->path_len + (size_t)n
                                                                   : sizeof c->path - 1;
  return saved;
}

static size_t push_index(struct checker *c, int i) {
  char part[16];
  snprintf(part, sizeof part, "%d", i);
  return push(c, part);
}

static void pop(struct checker *c, size_t saved) {
  c->path_len = saved;
  c->path[saved] = '\0';
}

static const char *where(const struct checker *c) { return c->path_len ? c->path : "/"; }

/* Java's Schema.Type names, as Avro's messages print them. */
static const char *upper_kind(enum mk_avro_kind k) {
  static const char *const names[] = {"NULL", "BOOLEAN", "INT", "LONG", "FLOAT", "DOUBLE",
                                      "BYTES", "STRING", "RECORD", "ENUM", "ARRAY", "MAP",
                                      "UNION", "FIXED"};
  return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

/* One incompatibility, in Confluent's {errorType, description, additionalInfo} shape. */
static bool report(struct checker *c, const char *type, const char *info, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool report(struct checker *c, const char *type, const char *info, const char *fmt, ...) {
  if (c->quiet || !c->out) return false;
  char description[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(description, sizeof description, fmt, ap);
  va_end(ap);
  if (c->avro_c)  /* a sentence for a struct mk_err */
    add_message(c->out, "%s", description);
  else
    add_message(c->out, "{errorType:'%s', description:'%s', additionalInfo:'%s'}", type,
                description, info);
  return false;
}

static bool can_read(struct checker *c, const struct mk_avro_type *r, const struct mk_avro_type *w);

/* Java's schemaNameEquals: the same short name, or the writer's full name is an alias of
 * the reader. */
static bool names_match(struct checker *c, const struct mk_avro_type *r,
                        const struct mk_avro_type *w) {
  if (c->avro_c ? strcmp(r->full_name, w->full_name) == 0 || (r->kind == MK_AVRO_RECORD &&
                                                                strcmp(r->name, w->name) == 0)
               : strcmp(r->name, w->name) == 0)
    return true;
  for (int i = 0; !c->avro_c && i < r->num_aliases; i++)
    if (strcmp(r->aliases[i], w->full_name) == 0) return true;
  size_t saved = push(c, "name");
  char info[300];
  snprintf(info, sizeof info, "expected: %s", w->full_name);
  report(c, "NAME_MISMATCH", info, "the %s at path '%s' in the %s schema is named %s, not %s as "
         "in the %s schema", mk_avro_kind_name(r->kind), where(c), c->reader_role, r->full_name,
         w->full_name, c->writer_role);
  pop(c, saved);
  return false;
}

/* The writer's field that feeds reader field f: same name, else one of f's aliases. */
static const struct mk_avro_field *writer_field(const struct checker *c,
                                                const struct mk_avro_type *w,
                                                const struct mk_avro_field *f) {
  const struct mk_avro_field *found = mk_avro_record_field(w, f->name);
  for (int i = 0; !found && !c->avro_c && i < f->num_aliases; i++)
    found = mk_avro_record_field(w, f->aliases[i]);
  return found;
}

static bool record_fields(struct checker *c, const struct mk_avro_type *r,
                          const struct mk_avro_type *w) {
  bool ok = true;
  size_t fields = push(c, "fields");
  for (int i = 0; i < r->num_fields; i++) {
    const struct mk_avro_field *rf = &r->fields[i];
    size_t at = push_index(c, i);
    const struct mk_avro_field *wf = writer_field(c, w, rf);
    if (wf) {
      size_t type = push(c, "type");
      ok &= can_read(c, rf->type, wf->type);
      pop(c, type);
    } else if (c->avro_c) {
      ok = report(c, "READER_FIELD_MISSING_DEFAULT_VALUE", rf->name,
                  "field '%s' (%s) is not in the %s's schema, and avro-c 1.11 cannot fill a "
                  "field from its default", rf->name, where(c), c->writer_role);
    } else if (!rf->default_value) {
      if (rf->type->kind == MK_AVRO_ENUM && rf->type->enum_default >= 0) {
        /* Avro's checker compares such an enum with the writer record itself (a quirk we
         * keep, so the answers match Java's). */
        size_t type = push(c, "type");
        ok &= can_read(c, rf->type, w);
        pop(c, type);
      } else {
        ok = report(c, "READER_FIELD_MISSING_DEFAULT_VALUE", rf->name,
                    "the field '%s' at path '%s' in the %s schema has no default value and is "
                    "not in the %s schema", rf->name, where(c), c->reader_role, c->writer_role);
      }
    }
    pop(c, at);
  }
  pop(c, fields);
  return ok;
}

static bool enum_symbols(struct checker *c, const struct mk_avro_type *r,
                         const struct mk_avro_type *w) {
  /* The writer's symbols the reader lacks, sorted (Java prints a TreeSet). */
  char **missing = calloc((size_t)w->num_symbols + 1, sizeof *missing);
  int n = 0;
  for (int i = 0; missing && i < w->num_symbols; i++) {
    bool found = false;
    for (int k = 0; k < r->num_symbols && !found; k++) found = strcmp(w->symbols[i], r->symbols[k]) == 0;
    if (!found) missing[n++] = w->symbols[i];
  }
  bool ok = n == 0 || r->enum_default >= 0;
  if (c->avro_c) {  /* avro-c hands the writer's symbol *index* to the reader */
    ok = w->num_symbols <= r->num_symbols;
    for (int i = 0; ok && i < w->num_symbols; i++) ok = strcmp(w->symbols[i], r->symbols[i]) == 0;
    if (!ok) {
      size_t saved = push(c, "symbols");
      report(c, "MISSING_ENUM_SYMBOLS", "", "enum %s (%s): avro-c 1.11 needs the %s's "
             "symbols to begin the %s's, in the same order", r->full_name, where(c),
             c->writer_role, c->reader_role);
      pop(c, saved);
    }
    free(missing);
    return ok;
  }
  if (!ok) {
    for (int i = 1; i < n; i++)  /* insertion sort: symbol lists are short */
      for (int k = i; k > 0 && strcmp(missing[k - 1], missing[k]) > 0; k--) {
        char *t = missing[k];
        missing[k] = missing[k - 1];
        missing[k - 1] = t;
      }
    char info[400];
    size_t len = (size_t)snprintf(info, sizeof info, "[");
    for (int i = 0; i < n && len < sizeof info; i++)
      len += (size_t)snprintf(info + len, sizeof info - len, "%s%s", i ? ", " : "", missing[i]);
    if (len < sizeof info) snprintf(info + len, sizeof info - len, "]");
    size_t saved = push(c, "symbols");
    report(c, "MISSING_ENUM_SYMBOLS", info, "the enum at path '%s' in the %s schema lacks the "
           "symbols %s of the %s schema and has no default", where(c), c->reader_role, info,
           c->writer_role);
    pop(c, saved);
  }
  free(missing);
  return ok;
}

/* Find the pair in the memo; or add it as in progress. */
static struct memo *memo_find(struct checker *c, const struct mk_avro_type *r,
                              const struct mk_avro_type *w, bool *added) {
  *added = false;
  for (size_t i = 0; i < c->num_memo; i++)
    if (c->memo[i].r == r && c->memo[i].w == w) return &c->memo[i];
  if (c->num_memo == c->cap_memo) {
    size_t cap = c->cap_memo ? 2 * c->cap_memo : 16;
    struct memo *m = realloc(c->memo, cap * sizeof *m);
    if (!m) return NULL;
    c->memo = m;
    c->cap_memo = cap;
  }
  *added = true;
  c->memo[c->num_memo] = (struct memo){r, w, IN_PROGRESS};
  return &c->memo[c->num_memo++];
}

static bool same_kind(struct checker *c, const struct mk_avro_type *r,
                      const struct mk_avro_type *w) {
  switch (r->kind) {
    case MK_AVRO_ARRAY:
    case MK_AVRO_MAP: {
      size_t saved = push(c, r->kind == MK_AVRO_ARRAY ? "items" : "values");
      bool ok = can_read(c, r->items, w->items);
      pop(c, saved);
      return ok;
    }
    case MK_AVRO_FIXED: {
      bool ok = names_match(c, r, w);
      if (r->size != w->size) {
        size_t saved = push(c, "size");
        char info[80];
        snprintf(info, sizeof info, "expected: %lld, found: %lld", (long long)w->size,
                 (long long)r->size);
        ok = report(c, "FIXED_SIZE_MISMATCH", info, "the fixed type at path '%s' holds %lld "
                    "bytes in the %s schema and %lld in the %s schema", where(c),
                    (long long)r->size, c->reader_role, (long long)w->size, c->writer_role);
        pop(c, saved);
      }
      return ok;
    }
    case MK_AVRO_ENUM: {
      bool names = names_match(c, r, w);
      return enum_symbols(c, r, w) && names;
    }
    case MK_AVRO_RECORD: {
      bool names = names_match(c, r, w);
      return record_fields(c, r, w) && names;
    }
    case MK_AVRO_UNION: {
      bool ok = true;
      for (int i = 0; i < w->num_branches; i++) {
        size_t saved = push_index(c, i);
        c->quiet++;
        bool branch = can_read(c, r, w->branches[i]);
        c->quiet--;
        if (!branch) {
          char info[300];
          snprintf(info, sizeof info, "reader union lacking writer type: %s",
                   upper_kind(w->branches[i]->kind));
          ok = report(c, "MISSING_UNION_BRANCH", info, "the union at path '%s' in the %s schema "
                      "has no branch for the %s that the %s schema's union may hold", where(c),
                      c->reader_role, mk_avro_type_branch_name(w->branches[i]), c->writer_role);
        }
        pop(c, saved);
      }
      return ok;
    }
    default:
      return true;  /* the same primitive */
  }
}

static bool promotes(enum mk_avro_kind r, enum mk_avro_kind w) {
  switch (r) {
    case MK_AVRO_LONG: return w == MK_AVRO_INT;
    case MK_AVRO_FLOAT: return w == MK_AVRO_INT || w == MK_AVRO_LONG;
    case MK_AVRO_DOUBLE: return w == MK_AVRO_INT || w == MK_AVRO_LONG || w == MK_AVRO_FLOAT;
    case MK_AVRO_BYTES: return w == MK_AVRO_STRING;
    case MK_AVRO_STRING: return w == MK_AVRO_BYTES;
    default: return false;
  }
}

static bool different_kinds(struct checker *c, const struct mk_avro_type *r,
                            const struct mk_avro_type *w) {
  if (w->kind == MK_AVRO_UNION) {  /* every branch the writer may use must be readable */
    bool ok = true;
    for (int i = 0; i < w->num_branches; i++) {
      size_t saved = push_index(c, i);
      ok &= can_read(c, r, w->branches[i]);
      pop(c, saved);
    }
    return ok;
  }
  if (promotes(r->kind, w->kind) &&
      !(c->avro_c && (r->kind == MK_AVRO_BYTES || r->kind == MK_AVRO_STRING)))
    return true;
  if (r->kind == MK_AVRO_UNION) {  /* the writer's type must fit some branch */
    for (int i = 0; i < r->num_branches; i++) {
      c->quiet++;
      bool ok = can_read(c, r->branches[i], w);
      c->quiet--;
      if (ok) return true;
    }
    char info[300];
    snprintf(info, sizeof info, "reader union lacking writer type: %s", upper_kind(w->kind));
    return report(c, "MISSING_UNION_BRANCH", info, "the union at path '%s' in the %s schema has "
                  "no branch for the %s of the %s schema", where(c), c->reader_role,
                  mk_avro_type_branch_name(w), c->writer_role);
  }
  char info[100];
  snprintf(info, sizeof info, "reader type: %s not compatible with writer type: %s",
           upper_kind(r->kind), upper_kind(w->kind));
  return report(c, "TYPE_MISMATCH", info, "the type at path '%s' is %s in the %s schema, which "
                "cannot read the %s of the %s schema", where(c), mk_avro_type_branch_name(r),
                c->reader_role, mk_avro_type_branch_name(w), c->writer_role);
}

static bool can_read(struct checker *c, const struct mk_avro_type *r, const struct mk_avro_type *w) {
  bool named = r->full_name && w->full_name;
  struct memo *m = NULL;
  size_t memo_index = 0;
  if (named) {
    bool added;
    m = memo_find(c, r, w, &added);
    if (m && !added) return m->state != INCOMPATIBLE;
    if (m) memo_index = (size_t)(m - c->memo);
  }
  bool ok = r->kind == w->kind ? same_kind(c, r, w) : different_kinds(c, r, w);
  if (m) c->memo[memo_index].state = ok ? COMPATIBLE : INCOMPATIBLE;  /* memo may have moved */
  return ok;
}

bool mk_avro_can_read(const struct mk_avro_schema *reader, const struct mk_avro_schema *writer,
                      const char *reader_role, const char *writer_role,
                      struct mk_avro_messages *out) {
  struct checker c = {.reader_role = reader_role, .writer_role = writer_role, .out = out};
  bool ok = can_read(&c, reader->root, writer->root);
  free(c.memo);
  return ok;
}

bool mk_avro_resolvable_by_avro_c(const struct mk_avro_schema *reader,
                                  const struct mk_avro_schema *writer, struct mk_err *why) {
  struct mk_avro_messages out = {0};
  struct checker c = {.reader_role = "reader", .writer_role = "writer", .out = &out,
                      .avro_c = true};
  bool ok = can_read(&c, reader->root, writer->root);
  free(c.memo);
  if (!ok) mk_err_set(why, MK_ERR__UNSUPPORTED, "%s", out.n ? out.v[0] : "incompatible schemas");
  mk_avro_messages_free(&out);
  return ok;
}

/* ---- the levels (SchemaValidatorBuilder) ------------------------------------------------ */

/* "{oldSchemaVersion: 3}", "{oldSchema: '...'}": which old schema a failure is about. */
static void add_old_schema(struct mk_avro_messages *out, const struct mk_avro_schema *old,
                           int version) {
  enum { SHOWN = 2048 };
  add_message(out, "{oldSchemaVersion: %d}", version);
  if (strlen(old->canonical) <= SHOWN)
    add_message(out, "{oldSchema: '%s'}", old->canonical);
  else
    add_message(out, "{oldSchema: <truncated> '%.*s...'}", SHOWN, old->canonical);
}

bool mk_compatibility_check(enum mk_compatibility level, const struct mk_avro_schema *new_schema,
                            const struct mk_avro_schema *const *previous, const int *versions,
                            int n, struct mk_avro_messages *out) {
  if (level == MK_COMPATIBILITY_NONE || n <= 0) return true;
  bool transitive = level == MK_COMPATIBILITY_BACKWARD_TRANSITIVE ||
                    level == MK_COMPATIBILITY_FORWARD_TRANSITIVE ||
                    level == MK_COMPATIBILITY_FULL_TRANSITIVE;
  bool backward = level != MK_COMPATIBILITY_FORWARD && level != MK_COMPATIBILITY_FORWARD_TRANSITIVE;
  bool forward = level != MK_COMPATIBILITY_BACKWARD &&
                 level != MK_COMPATIBILITY_BACKWARD_TRANSITIVE;
  for (int i = n - 1; i >= (transitive ? 0 : n - 1); i--) {
    struct mk_avro_messages fwd = {0}, bwd = {0};
    /* FULL reports the forward problems first, then the backward ones with the old schema,
     * as Confluent's mutualReadStrategy does. */
    bool fwd_ok = !forward || mk_avro_can_read(previous[i], new_schema, "old", "new", &fwd);
    bool bwd_ok = !backward || mk_avro_can_read(new_schema, previous[i], "new", "old", &bwd);
    if (!fwd_ok || !bwd_ok) {
      bool schema_shown = !bwd_ok || !backward;
      move_messages(out, &fwd);
      move_messages(out, &bwd);
      if (schema_shown) add_old_schema(out, previous[i], versions ? versions[i] : i + 1);
      return false;
    }
    mk_avro_messages_free(&fwd);
    mk_avro_messages_free(&bwd);
  }
  return true;
}
