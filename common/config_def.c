/*
 * ConfigDef: see config_def.h. A row is found by name, the text trimmed, parsed by type,
 * checked, and only then stored, so a refused value leaves the struct as it was.
 */
#include "common/config_def.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/suggest.h"

static void *field(const struct mk_config_key *k, void *obj) { return (char *)obj + k->offset; }
static const void *cfield(const struct mk_config_key *k, const void *obj) {
  return (const char *)obj + k->offset;
}

/* ---- helpers ---------------------------------------------------------------------------- */

bool mk_config_parse_integer(const char *s, int64_t lo, int64_t hi, int64_t *out) {
  bool neg = *s == '-';
  if (*s == '-' || *s == '+') s++;
  if (!*s) return false;
  uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return false;
    unsigned d = (unsigned)(*s - '0');
    if (v > (limit - d) / 10) return false;
    v = v * 10 + d;
  }
  int64_t x = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
  if (x < lo || x > hi) return false;
  *out = x;
  return true;
}

char *mk_config_trim_dup(const char *s) {
  size_t b = 0, e = strlen(s);
  while (b < e && (unsigned char)s[b] <= ' ') b++;
  while (e > b && (unsigned char)s[e - 1] <= ' ') e--;
  return strndup(s + b, e - b);
}

int mk_config_invalid(struct mk_err *err, const char *name, const char *raw, const char *fmt,
                      ...) {
  char why[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  size_t n = strlen(raw);
  return mk_err_set(err, MK_ERR__INVALID_ARG, "Invalid value %.*s%s for configuration %s: %s",
                    (int)(n > 60 ? 60 : n), raw, n > 60 ? "..." : "", name, why);
}

void mk_config_list_free(struct mk_config_list *l) {
  for (int i = 0; i < l->n; i++) free(l->items[i]);
  free(l->items);
  l->items = NULL;
  l->n = 0;
}

/* ClientUtils.parseAndValidateAddresses: host:port, host being a name, an IPv4 address or
 * [an IPv6 address], port a number. */
static bool valid_address(const char *url) {
  const char *colon = strrchr(url, ':');
  if (!colon || colon == url || !colon[1]) return false;
  int64_t port;
  if (colon[1] == '+' || colon[1] == '-' || !mk_config_parse_integer(colon + 1, 0, 65535, &port))
    return false;
  const char *h = url, *he = colon;
  if (*h == '[') {
    if (he[-1] != ']' || he - h < 3) return false;
    h++, he--;
  }
  for (const char *p = h; p < he; p++) {
    char c = *p;
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '%' || c == '.' || c == '_' || c == ':';
    if (!ok) return false;
  }
  return true;
}

int mk_config_parse_list(const char *name, const char *t, unsigned flags,
                         struct mk_config_list *out, struct mk_err *err) {
  bool addresses = flags & MK_CONFIG_ADDRESSES;
  struct mk_config_list l = {0};
  if (!*t) {
    if (addresses)
      return mk_err_set(err, MK_ERR__INVALID_ARG,
                        "Configuration '%s' must not be empty. Valid values include: any "
                        "non-empty value", name);
    *out = l;  /* Type.LIST: "" is the empty list */
    return 0;
  }
  int n = 1;
  for (const char *p = t; *p; p++) n += *p == ',';
  l.items = calloc((size_t)n, sizeof *l.items);
  if (!l.items) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory parsing %s", name);
  const char *p = t;
  for (int i = 0; i < n; i++) {
    const char *e = strchr(p, ',');
    if (!e) e = p + strlen(p);
    const char *b = p, *q = e;
    while (b < q && (*b == ' ' || *b == '\t')) b++;
    while (q > b && (q[-1] == ' ' || q[-1] == '\t')) q--;
    l.items[i] = strndup(b, (size_t)(q - b));
    l.n = i + 1;
    if (!l.items[i]) {
      mk_config_list_free(&l);
      return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory parsing %s", name);
    }
    p = *e ? e + 1 : e;
  }
  int rc = 0;
  for (int i = 0; addresses && i < n && !rc; i++) {
    if (!l.items[i][0])
      rc = mk_err_set(err, MK_ERR__INVALID_ARG, "Configuration '%s' values must not be empty.",
                      name);
    for (int j = 0; j < i && !rc; j++)
      if (strcmp(l.items[i], l.items[j]) == 0)
        rc = mk_err_set(err, MK_ERR__INVALID_ARG,
                        "Configuration '%s' values must not be duplicated.", name);
  }
  for (int i = 0; addresses && i < n && !rc; i++)
    if (!valid_address(l.items[i]))
      rc = mk_err_set(err, MK_ERR__INVALID_ARG, "Invalid url in %s: %.100s", name, l.items[i]);
  if (rc) {
    mk_config_list_free(&l);
    return rc;
  }
  *out = l;
  return 0;
}

/* ---- the table -------------------------------------------------------------------------- */

const struct mk_config_key *mk_config_def_find(const struct mk_config_def *def, const char *key) {
  for (int i = 0; key && i < def->n; i++)
    if (strcmp(def->keys[i].name, key) == 0) return &def->keys[i];
  return NULL;
}

/* Parse raw as k's type and store it; obj is unchanged on error. */
static int apply(const struct mk_config_key *k, void *obj, const char *raw, struct mk_err *err) {
  char *t = mk_config_trim_dup(raw);
  if (!t) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory setting %s", k->name);
  void *p = field(k, obj);
  int rc = 0;
  int64_t v;
  switch (k->type) {
    case MK_CONFIG_INT:
    case MK_CONFIG_LONG: {
      bool is_int = k->type == MK_CONFIG_INT;
      if (!mk_config_parse_integer(t, is_int ? INT32_MIN : INT64_MIN,
                                   is_int ? INT32_MAX : INT64_MAX, &v)) {
        rc = mk_config_invalid(err, k->name, raw, "Not a number of type %s",
                               is_int ? "INT" : "LONG");
      } else if (v < k->min) {  /* ConfigDef.Range */
        rc = mk_config_invalid(err, k->name, raw, "Value must be at least %lld",
                               (long long)k->min);
      } else if (v > k->max) {
        rc = mk_config_invalid(err, k->name, raw, "Value must be no more than %lld",
                               (long long)k->max);
      } else if (is_int) {
        *(int32_t *)p = (int32_t)v;
      } else {
        *(int64_t *)p = v;
      }
      break;
    }
    case MK_CONFIG_BOOLEAN:
      if (strcasecmp(t, "true") == 0)
        *(bool *)p = true;
      else if (strcasecmp(t, "false") == 0)
        *(bool *)p = false;
      else
        rc = mk_config_invalid(err, k->name, raw, "Expected value to be either true or false");
      break;
    case MK_CONFIG_STRING:
      if (!*t && (k->flags & MK_CONFIG_NON_EMPTY)) {
        rc = mk_config_invalid(err, k->name, raw, "String must be non-empty");
        break;
      }
      free(*(char **)p);
      *(char **)p = t;
      t = NULL;
      break;
    case MK_CONFIG_CHOICE: {
      int i = 0;
      while (k->choices[i] && strcmp(k->choices[i], t) != 0) i++;
      if (k->choices[i]) {
        *(int *)p = i;
        break;
      }
      char list[160] = "";
      for (i = 0; k->choices[i]; i++) {
        if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, k->choices[i], sizeof list - strlen(list) - 1);
      }
      rc = mk_config_invalid(err, k->name, raw, "String must be one of: %s", list);
      break;
    }
    case MK_CONFIG_LIST: {
      struct mk_config_list l;
      if ((rc = mk_config_parse_list(k->name, t, k->flags, &l, err))) break;
      mk_config_list_free(p);
      *(struct mk_config_list *)p = l;
      break;
    }
  }
  free(t);
  return rc;
}

/* Put k back to its default (or null / empty when it has none). */
static int reset(const struct mk_config_key *k, void *obj) {
  if (k->dflt) return apply(k, obj, k->dflt, NULL);
  if (k->type == MK_CONFIG_STRING) {
    free(*(char **)field(k, obj));
    *(char **)field(k, obj) = NULL;
  } else if (k->type == MK_CONFIG_LIST) {
    mk_config_list_free(field(k, obj));
  }
  return 0;
}

int mk_config_def_init(const struct mk_config_def *def, void *obj) {
  for (int i = 0; i < def->n; i++)
    if (reset(&def->keys[i], obj)) return MK_ERR__NO_MEMORY;  /* defaults always parse */
  return 0;
}

void mk_config_def_free(const struct mk_config_def *def, void *obj) {
  for (int i = 0; i < def->n; i++) {
    const struct mk_config_key *k = &def->keys[i];
    if (k->type == MK_CONFIG_STRING) {
      free(*(char **)field(k, obj));
      *(char **)field(k, obj) = NULL;
    } else if (k->type == MK_CONFIG_LIST) {
      mk_config_list_free(field(k, obj));
    }
  }
}

int mk_config_def_copy(const struct mk_config_def *def, void *dst, const void *src) {
  int rc = 0;
  for (int i = 0; i < def->n; i++) {
    const struct mk_config_key *k = &def->keys[i];
    void *d = field(k, dst);
    const void *s = cfield(k, src);
    switch (k->type) {
      case MK_CONFIG_INT: *(int32_t *)d = *(const int32_t *)s; break;
      case MK_CONFIG_LONG: *(int64_t *)d = *(const int64_t *)s; break;
      case MK_CONFIG_BOOLEAN: *(bool *)d = *(const bool *)s; break;
      case MK_CONFIG_CHOICE: *(int *)d = *(const int *)s; break;
      case MK_CONFIG_STRING: {
        const char *str = *(char *const *)s;
        *(char **)d = str ? strdup(str) : NULL;
        if (str && !*(char **)d) rc = MK_ERR__NO_MEMORY;
        break;
      }
      case MK_CONFIG_LIST: {
        const struct mk_config_list *sl = s;
        struct mk_config_list *dl = d;
        dl->items = NULL;
        dl->n = 0;
        if (!sl->n) break;
        dl->items = calloc((size_t)sl->n, sizeof *dl->items);
        if (!dl->items) {
          rc = MK_ERR__NO_MEMORY;
          break;
        }
        for (int j = 0; j < sl->n; j++) {
          dl->items[j] = strdup(sl->items[j]);
          dl->n = j + 1;
          if (!dl->items[j]) {
            rc = MK_ERR__NO_MEMORY;
            break;
          }
        }
        break;
      }
    }
  }
  return rc;
}

int mk_config_def_set_key(const struct mk_config_key *k, void *obj, const char *value,
                          struct mk_err *err) {
  if (!value) {
    int rc = reset(k, obj);
    return rc ? mk_err_set(err, rc, "out of memory setting %s", k->name) : 0;
  }
  return apply(k, obj, value, err);
}

int mk_config_def_set(const struct mk_config_def *def, void *obj, const char *key,
                      const char *value, int *index, struct mk_err *err) {
  const struct mk_config_key *k = mk_config_def_find(def, key);
  if (!k && key) {
    struct mk_suggest near;
    mk_suggest_init(&near, key);
    for (int i = 0; i < def->n; i++) mk_suggest_consider(&near, def->keys[i].name);
    if (mk_suggest_best(&near))
      return mk_err_set(err, MK_ERR__INVALID_ARG,
                        "Unknown configuration \"%.64s\" (did you mean \"%s\"?)", key,
                        mk_suggest_best(&near));
  }
  if (!k)
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "Unknown configuration \"%.64s\": not a %s setting (Java would only warn; "
                      "minikafka refuses)", key ? key : "(null)", def->what);
  int rc = mk_config_def_set_key(k, obj, value, err);
  if (!rc && index) *index = (int)(k - def->keys);
  return rc;
}

void mk_config_def_format(const struct mk_config_key *k, const void *obj, char *buf,
                          size_t size) {
  const void *p = cfield(k, obj);
  switch (k->type) {
    case MK_CONFIG_INT: snprintf(buf, size, "%d", *(const int32_t *)p); break;
    case MK_CONFIG_LONG: snprintf(buf, size, "%lld", (long long)*(const int64_t *)p); break;
    case MK_CONFIG_BOOLEAN: snprintf(buf, size, "%s", *(const bool *)p ? "true" : "false"); break;
    case MK_CONFIG_CHOICE: snprintf(buf, size, "%s", k->choices[*(const int *)p]); break;
    case MK_CONFIG_STRING: {
      const char *s = *(char *const *)p;
      snprintf(buf, size, "%s", s ? s : "null");
      break;
    }
    case MK_CONFIG_LIST: {
      const struct mk_config_list *l = p;
      if (size) buf[0] = '\0';
      for (int i = 0; i < l->n && size; i++) {
        if (i) strncat(buf, ",", size - strlen(buf) - 1);
        strncat(buf, l->items[i], size - strlen(buf) - 1);
      }
      break;
    }
  }
}

const char *mk_config_type_name(enum mk_config_type type) {
  switch (type) {
    case MK_CONFIG_INT: return "int";
    case MK_CONFIG_LONG: return "long";
    case MK_CONFIG_BOOLEAN: return "boolean";
    case MK_CONFIG_LIST: return "list";
    default: return "string";
  }
}
