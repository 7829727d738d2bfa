/*
 * Trace: event formatting and the sink table.
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

atomic_int mk_trace_sinks;

enum { MAX_SINKS = 16 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
  mk_trace_sink_fn fn;
  void *opaque;
  FILE *file;  /* set for sinks made by mk_trace_open_file */
} sinks[MAX_SINKS];

/* ---- building an event ------------------------------------------------------------------ */

static void put(struct mk_trace_event *ev, const char *s, size_t n) {
  size_t room = sizeof ev->buf - 32 - ev->len;  /* keep space for the closing marker */
  if (n > room) n = room;
  memcpy(ev->buf + ev->len, s, n);
  ev->len += n;
}

static void puts_(struct mk_trace_event *ev, const char *s) { put(ev, s, strlen(s)); }

static void put_escaped(struct mk_trace_event *ev, const char *s, size_t n) {
  put(ev, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      put(ev, esc, 2);
    } else if (c < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      put(ev, esc, 6);
    } else {
      put(ev, (const char *)&c, 1);
    }
  }
  put(ev, "\"", 1);
}

static void key(struct mk_trace_event *ev, const char *k) {
  put(ev, ",\"", 2);
  puts_(ev, k);
  put(ev, "\":", 2);
}

void mk_trace_begin(struct mk_trace_event *ev, const char *side, const char *event) {
  ev->len = (size_t)snprintf(ev->buf, sizeof ev->buf,
                             "{\"ts_us\":%" PRId64 ",\"side\":\"%s\",\"event\":\"%s\"",
                             mk_now_us(), side, event);
}

void mk_trace_strn(struct mk_trace_event *ev, const char *k, const char *value, int len) {
  key(ev, k);
  if (!value || len < 0)
    puts_(ev, "null");
  else
    put_escaped(ev, value, (size_t)len);
}

void mk_trace_str(struct mk_trace_event *ev, const char *k, const char *value) {
  mk_trace_strn(ev, k, value, value ? (int)strlen(value) : -1);
}

void mk_trace_int(struct mk_trace_event *ev, const char *k, int64_t value) {
  char num[24];
  key(ev, k);
  snprintf(num, sizeof num, "%" PRId64, value);
  puts_(ev, num);
}

void mk_trace_bool(struct mk_trace_event *ev, const char *k, bool value) {
  key(ev, k);
  puts_(ev, value ? "true" : "false");
}

void mk_trace_json(struct mk_trace_event *ev, const char *k, const char *json) {
  key(ev, k);
  puts_(ev, json);
}

void mk_trace_end(struct mk_trace_event *ev) {
  if (ev->len >= sizeof ev->buf - 32) {
    /* Cut inside a value: close it as well as we can and say so. */
    ev->len = sizeof ev->buf - 32;
    const char *mark = "\",\"truncated\":true}";
    memcpy(ev->buf + ev->len, mark, strlen(mark));
    ev->len += strlen(mark);
  } else {
    ev->buf[ev->len++] = '}';
  }
  pthread_mutex_lock(&lock);
  for (int i = 0; i < MAX_SINKS; i++)
    if (sinks[i].fn) sinks[i].fn(sinks[i].opaque, ev->buf, ev->len);
  pthread_mutex_unlock(&lock);
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
