/*
 * Trace: building an event as JSON, and the sink table. See trace.h.
 *
 * The builder is a small streaming JSON writer: it knows which containers are open (a
 * bit per depth for "array or object", another for "needs a comma"), so callers never
 * write JSON text themselves and every line closes properly.
 *
 * The sink table is small and fixed (a file, a lab, a few admin clients), guarded by one
 * mutex; mk_trace_sinks mirrors how many are attached so the fast path needs no lock.
 */
#include "common/trace.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/utf8.h"

atomic_int mk_trace_sinks;

enum { MAX_SINKS = 16 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
  mk_trace_sink_fn fn;
  void *opaque;
  FILE *file;  /* set for sinks made by mk_trace_open_file */
} sinks[MAX_SINKS];

/* ---- the buffer ------------------------------------------------------------------------- */

/* Room always kept free at the end of the buffer, so that dropping the fields (which may
 * happen because memory ran out) can still close the line without growing it. */
enum { RESERVE = 96 };
_Static_assert(MK_TRACE_MAX_LINE == 262144, "the message in room() names the limit");

static void drop_fields(struct mk_trace_event *ev, const char *why) {
  ev->dropped = why;
  ev->len = ev->head_len;
}

/* Make room for n more bytes; false when the event's fields had to be dropped instead. */
static bool room(struct mk_trace_event *ev, size_t n) {
  if (ev->dropped) return false;
  size_t need = ev->len + n + RESERVE;
  if (need <= ev->cap) return true;
  if (need > MK_TRACE_MAX_LINE + RESERVE) {
    drop_fields(ev, "the event exceeded 262144 bytes (MK_TRACE_MAX_LINE)");
    return false;
  }
  size_t cap = ev->cap * 2;
  if (cap < need) cap = need;
  if (cap > MK_TRACE_MAX_LINE + RESERVE) cap = MK_TRACE_MAX_LINE + RESERVE;
  char *grown = ev->buf == ev->inline_buf ? malloc(cap) : realloc(ev->buf, cap);
  if (!grown) {
    drop_fields(ev, "out of memory");
    return false;
  }
  if (ev->buf == ev->inline_buf) memcpy(grown, ev->buf, ev->len);
  ev->buf = grown;
  ev->cap = cap;
  return true;
}

static void put(struct mk_trace_event *ev, const char *s, size_t n) {
  if (!room(ev, n)) return;
  memcpy(ev->buf + ev->len, s, n);
  ev->len += n;
}

static void put_c(struct mk_trace_event *ev, char c) { put(ev, &c, 1); }

/* ---- JSON values ------------------------------------------------------------------------ */

/* s as a JSON string: escaped, valid UTF-8 (trace.h), at most MK_TRACE_MAX_STRING bytes of
 * it. Runs of plain characters are copied in one go: most strings are nothing else. */
static void put_string(struct mk_trace_event *ev, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const uint8_t *u = (const uint8_t *)s;
  size_t i = 0, run = 0;
  put_c(ev, '"');
  while (i < n && i < MK_TRACE_MAX_STRING) {
    uint8_t c = u[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      i++;
      continue;
    }
    put(ev, s + run, i - run);  /* the plain run before c */
    size_t len;
    if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      put(ev, esc, 2);
      len = 1;
    } else if (c == 0) {
      put(ev, "\xef\xbf\xbd", 3);  /* U+FFFD: see trace.h */
      len = 1;
    } else if (c < 0x20) {
      const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
      if (named) {
        put(ev, named, 2);
      } else {
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        put(ev, esc, 6);
      }
      len = 1;
    } else if (mk_utf8_next(u + i, n - i, &len)) {
      put(ev, s + i, len);
    } else {
      put(ev, "\xef\xbf\xbd", 3);  /* one U+FFFD per bad sequence */
    }
    i += len;
    run = i;
  }
  put(ev, s + run, i - run);
  if (i < n) {
    put(ev, "\xe2\x80\xa6", 3);  /* "…": cut here, and counted in truncated_strings */
    ev->truncated_strings++;
  }
  put_c(ev, '"');
}

static void put_int(struct mk_trace_event *ev, int64_t v) {
  char digits[24], *p = digits + sizeof digits;
  uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;  /* INT64_MIN too */
  do *--p = (char)('0' + m % 10);
  while (m /= 10);
  if (v < 0) *--p = '-';
  put(ev, p, (size_t)(digits + sizeof digits - p));
}

/* What comes before any value: a comma if its container holds something already, and in
 * an object the key. False while inside a container too deep to write (skipped). */
static bool value_prefix(struct mk_trace_event *ev, const char *key) {
  if (ev->skipped || ev->dropped || ev->depth < 1) return false;
  uint32_t bit = 1u << (ev->depth - 1);
  if (ev->has_items & bit) put_c(ev, ',');
  ev->has_items |= bit;
  if (!(ev->is_array & bit)) {
    put_string(ev, key ? key : "", key ? strlen(key) : 0);
    put_c(ev, ':');
  }
  return true;
}

static void open_container(struct mk_trace_event *ev, const char *key, bool array) {
  if (ev->skipped) {
    ev->skipped++;
    return;
  }
  if (!value_prefix(ev, key)) return;
  if (ev->depth >= MK_TRACE_MAX_DEPTH) {
    put(ev, "null", 4);
    ev->skipped = 1;
    return;
  }
  uint32_t bit = 1u << ev->depth;
  ev->depth++;
  ev->is_array = array ? ev->is_array | bit : ev->is_array & ~bit;
  ev->has_items &= ~bit;
  put_c(ev, array ? '[' : '{');
}

/* Close the innermost container (never the event's own object: mk_trace_end does). */
static void close_container(struct mk_trace_event *ev) {
  if (ev->skipped) {
    ev->skipped--;
    return;
  }
  if (ev->depth <= 1) return;
  ev->depth--;
  put_c(ev, (ev->is_array & (1u << ev->depth)) ? ']' : '}');
}

/* ---- building an event ------------------------------------------------------------------ */

void mk_trace_begin(struct mk_trace_event *ev, const char *side, const char *event) {
  ev->buf = ev->inline_buf;
  ev->cap = sizeof ev->inline_buf;
  ev->len = 0;
  ev->head_len = 0;
  ev->dropped = NULL;
  ev->depth = 1;  /* the event's object, opened below */
  ev->skipped = 0;
  ev->truncated_strings = 0;
  ev->is_array = 0;
  ev->has_items = 1;  /* ts_us comes first, and the rest after a comma */
  put(ev, "{\"ts_us\":", 9);
  put_int(ev, mk_now_us());
  ev->head_len = ev->len;  /* "fields_dropped" always follows a whole head */
  mk_trace_str(ev, "side", side);
  mk_trace_str(ev, "event", event);
  if (!ev->dropped) ev->head_len = ev->len;
}

void mk_trace_strn(struct mk_trace_event *ev, const char *k, const char *value, int len) {
  if (!value_prefix(ev, k)) return;
  if (!value || len < 0)
    put(ev, "null", 4);
  else
    put_string(ev, value, (size_t)len);
}

void mk_trace_str(struct mk_trace_event *ev, const char *k, const char *value) {
  if (!value_prefix(ev, k)) return;
  if (!value)
    put(ev, "null", 4);
  else
    put_string(ev, value, strlen(value));
}

void mk_trace_int(struct mk_trace_event *ev, const char *k, int64_t value) {
  if (value_prefix(ev, k)) put_int(ev, value);
}

void mk_trace_bool(struct mk_trace_event *ev, const char *k, bool value) {
  if (value_prefix(ev, k)) put(ev, value ? "true" : "false", value ? 4 : 5);
}

void mk_trace_array_begin(struct mk_trace_event *ev, const char *k) { open_container(ev, k, true); }
void mk_trace_array_end(struct mk_trace_event *ev) { close_container(ev); }
void mk_trace_object_begin(struct mk_trace_event *ev, const char *k) { open_container(ev, k, false); }
void mk_trace_object_end(struct mk_trace_event *ev) { close_container(ev); }

/* Close the event's line: open containers, the counters, "fields_dropped". */
static void finish(struct mk_trace_event *ev) {
  ev->skipped = 0;
  while (ev->depth > 1) close_container(ev);
  if (ev->truncated_strings) mk_trace_int(ev, "truncated_strings", ev->truncated_strings);
  put_c(ev, '}');
  if (ev->dropped) {
    /* Only the head is left; drop_fields kept RESERVE bytes free after it, enough for
     * this closing field without growing (memory may be what ran out). */
    static const char key[] = ",\"fields_dropped\":\"";
    size_t why = strlen(ev->dropped);
    if (ev->len + sizeof key - 1 + why + 2 <= ev->cap) {
      memcpy(ev->buf + ev->len, key, sizeof key - 1);
      memcpy(ev->buf + ev->len + sizeof key - 1, ev->dropped, why);
      memcpy(ev->buf + ev->len + sizeof key - 1 + why, "\"}", 2);
      ev->len += sizeof key - 1 + why + 2;
    }
  }
}

static void release(struct mk_trace_event *ev) {
  if (ev->buf != ev->inline_buf) free(ev->buf);
  ev->buf = ev->inline_buf;
}

void mk_trace_end(struct mk_trace_event *ev) {
  finish(ev);
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_SINKS; i++)
    if (sinks[i].fn) sinks[i].fn(sinks[i].opaque, ev->buf, ev->len);
  pthread_mutex_unlock(&lock);
  release(ev);
}

void mk_trace_end_to(struct mk_trace_event *ev, mk_trace_sink_fn fn, void *opaque) {
  if (!fn) {
    mk_trace_end(ev);
    return;
  }
  finish(ev);
  fn(opaque, ev->buf, ev->len);
  release(ev);
}

void mk_trace_cancel(struct mk_trace_event *ev) {
  if (ev->buf != ev->inline_buf) free(ev->buf);
  ev->buf = ev->inline_buf;
}

/* ---- sinks ------------------------------------------------------------------------------ */

int mk_trace_add_sink(mk_trace_sink_fn fn, void *opaque) {
  int id = -1;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_SINKS && id < 0; i++) {
    if (!sinks[i].fn) {
      sinks[i].fn = fn;
      sinks[i].opaque = opaque;
      sinks[i].file = NULL;
      id = i;
      atomic_fetch_add(&mk_trace_sinks, 1);
    }
  }
  pthread_mutex_unlock(&lock);
  return id;
}

void mk_trace_remove_sink(int id) {
  if (id < 0 || id >= MAX_SINKS) return;
  pthread_mutex_lock(&lock);
  if (sinks[id].fn) {
    if (sinks[id].file && sinks[id].file != stdout) fclose(sinks[id].file);
    else if (sinks[id].file) fflush(stdout);
    sinks[id].fn = NULL;
    sinks[id].file = NULL;
    atomic_fetch_sub(&mk_trace_sinks, 1);
  }
  pthread_mutex_unlock(&lock);
}

/* Each line is flushed so `tail -f` and a lab reading the file see events as they happen. */
static void file_sink(void *opaque, const char *line, size_t len) {
  FILE *f = opaque;
  fwrite(line, 1, len, f);
  fputc('\n', f);
  fflush(f);
}

int mk_trace_open_file(const char *path, struct mk_err *err) {
  FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
  if (!f) {
    mk_err_set(err, MK_ERR__INVALID_ARG, "cannot open trace file %s: %s", path, strerror(errno));
    return -1;
  }
  int id = mk_trace_add_sink(file_sink, f);
  if (id < 0) {
    if (f != stdout) fclose(f);
    mk_err_set(err, MK_ERR__STATE, "too many trace sinks");
    return -1;
  }
  pthread_mutex_lock(&lock);
  sinks[id].file = f;
  pthread_mutex_unlock(&lock);
  return id;
}
