/*
 * Labs: the trace as a lab sees it (lab.h, "the trace"). The collector is a trace sink
 * that keeps a copy of every line, from the producer and the broker alike; marks are
 * indexes into it; timelines, counts and waits read the lines after a mark.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "labs/lab_internal.h"
#include "labs/text.h"

/* ======================================================================================== */
/* collector                                                                                */
/* ======================================================================================== */

void mk_lab_collector_init(struct mk_lab_collector *c) {
  memset(c, 0, sizeof *c);
  pthread_mutex_init(&c->lock, NULL);
  mk_lab_cond_init(&c->grew);
}

void mk_lab_collector_free(struct mk_lab_collector *c) {
  for (size_t i = 0; i < c->n; i++) free(c->lines[i]);
  free(c->lines);
  pthread_mutex_destroy(&c->lock);
  pthread_cond_destroy(&c->grew);
}

void mk_lab_collect(void *opaque, const char *line, size_t len) {
  struct mk_lab_collector *c = opaque;
  pthread_mutex_lock(&c->lock);
  if (c->n == c->cap && c->n < MK_LAB_MAX_STORED_EVENTS) {
    size_t cap = c->cap ? c->cap * 2 : 4096;
    char **lines = realloc(c->lines, cap * sizeof *lines);
    if (lines) {
      c->lines = lines;
      c->cap = cap;
    }
  }
  char *copy = c->n < c->cap ? malloc(len + 1) : NULL;
  if (copy) {
    memcpy(copy, line, len);
    copy[len] = 0;
    c->lines[c->n++] = copy;
    pthread_cond_broadcast(&c->grew);
  } else {
    c->dropped++;
  }
  pthread_mutex_unlock(&c->lock);
}

/* The lines [from, n) as a new array of borrowed pointers (the strings live until the end
 * of the run); *count is set. NULL when there are none. */
const char **mk_lab_lines_since(struct mk_lab_collector *c, size_t from, size_t *count) {
  pthread_mutex_lock(&c->lock);
  size_t n = c->n > from ? c->n - from : 0;
  const char **out = n ? malloc(n * sizeof *out) : NULL;
  if (out) memcpy(out, c->lines + from, n * sizeof *out);
  pthread_mutex_unlock(&c->lock);
  *count = out ? n : 0;
  return out;
}

/* ======================================================================================== */
/* trace                                                                                    */
/* ======================================================================================== */

size_t mk_lab_mark(struct mk_lab_ctx *ctx) {
  pthread_mutex_lock(&ctx->col.lock);
  size_t n = ctx->col.n;
  pthread_mutex_unlock(&ctx->col.lock);
  return n;
}

/* MK_TEXT_WIDTH, or a narrower terminal's width (the lab's prose wraps the same way). */
int mk_lab_width(FILE *out) {
  struct winsize ws;
  if (isatty(fileno(out)) && ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 60 &&
      ws.ws_col < MK_TEXT_WIDTH)
    return ws.ws_col;
  return MK_TEXT_WIDTH;
}

void mk_lab_timeline(struct mk_lab_ctx *ctx, size_t from, const char *title) {
  mk_lab_timeline_focus(ctx, from, title, NULL);
}

void mk_lab_timeline_focus(struct mk_lab_ctx *ctx, size_t from, const char *title,
                           const char *const *focus) {
  size_t n;
  const char **lines = mk_lab_lines_since(&ctx->col, from, &n);
  struct mk_timeline_options o = {
      .out = ctx->out,
      .colour = ctx->colour,
      .width = ctx->width,
      .max_events = ctx->opts->full ? 0 : MK_LAB_TIMELINE_EVENTS,
      .all_events = ctx->opts->all_events,
      .focus = focus,
  };
  mk_timeline_render(&o, title, lines, n);
  free(lines);
}

/* Whether ev is about topic: its "topic" field, or one of request_sent's batches. */
static bool about_topic(json_t *ev, const char *topic) {
  const char *t = json_string_value(json_object_get(ev, "topic"));
  if (t) return strcmp(t, topic) == 0;
  size_t i;
  json_t *b;
  json_array_foreach(json_object_get(ev, "batches"), i, b) {
    t = json_string_value(json_object_get(b, "topic"));
    if (t && strcmp(t, topic) == 0) return true;
  }
  return false;
}

static bool matches(json_t *ev, const char *side, const char *event, const char *topic) {
  const char *s = json_string_value(json_object_get(ev, "side"));
  const char *e = json_string_value(json_object_get(ev, "event"));
  return (!side || (s && strcmp(s, side) == 0)) && (!event || (e && strcmp(e, event) == 0)) &&
         (!topic || about_topic(ev, topic));
}

static int by_ts(const void *a, const void *b) {
  json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "ts_us"));
  json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "ts_us"));
  return (x > y) - (x < y);
}

json_t *mk_lab_events(struct mk_lab_ctx *ctx, size_t from, const char *side, const char *event,
                      const char *topic) {
  topic = mk_lab_topic(ctx, topic);
  size_t n;
  const char **lines = mk_lab_lines_since(&ctx->col, from, &n);
  json_t **found = malloc((n ? n : 1) * sizeof *found);
  size_t m = 0;
  for (size_t i = 0; found && i < n; i++) {
    /* A cheap look at the text first: most lines are not the event asked for. */
    if (event && !strstr(lines[i], event)) continue;
    json_t *ev = json_loads(lines[i], 0, NULL);
    if (ev && matches(ev, side, event, topic))
      found[m++] = ev;
    else
      json_decref(ev);
  }
  /* mergesort would be stable; ts ties between matching events are rare enough. */
  if (found) qsort(found, m, sizeof *found, by_ts);
  json_t *arr = json_array();
  for (size_t i = 0; i < m; i++) json_array_append_new(arr, found[i]);
  free(found);
  free(lines);
  return arr;
}

int mk_lab_count(struct mk_lab_ctx *ctx, size_t from, const char *side, const char *event,
                 const char *topic) {
  json_t *arr = mk_lab_events(ctx, from, side, event, topic);
  int n = (int)json_array_size(arr);
  json_decref(arr);
  return n;
}

int mk_lab_wait_event(struct mk_lab_ctx *ctx, size_t from, const char *side, const char *event,
                      const char *topic, int64_t timeout_ms) {
  topic = mk_lab_topic(ctx, topic);
  int64_t deadline_us = mk_now_us() + timeout_ms * 1000;
  size_t checked = from;
  for (;;) {
    size_t n;
    const char **lines = mk_lab_lines_since(&ctx->col, checked, &n);
    bool found = false;
    for (size_t i = 0; i < n && !found; i++) {
      json_t *ev = json_loads(lines[i], 0, NULL);
      found = ev && matches(ev, side, event, topic);
      json_decref(ev);
    }
    free(lines);
    if (found) return 0;
    checked += n;
    int64_t now = mk_now_us();
    if (now >= deadline_us) return MK_ERR__TIMED_OUT;
    pthread_mutex_lock(&ctx->col.lock);
    if (ctx->col.n == checked)
      mk_lab_cond_wait_until(&ctx->col.grew, &ctx->col.lock,
                             deadline_us - now < 20000 ? deadline_us : now + 20000);
    pthread_mutex_unlock(&ctx->col.lock);
  }
}

void mk_lab_sleep_ms(int64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

void mk_lab_cond_init(pthread_cond_t *c) {
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);  /* mk_now_us()'s clock */
  pthread_cond_init(c, &attr);
  pthread_condattr_destroy(&attr);
}

void mk_lab_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t deadline_us) {
  struct timespec ts = {(time_t)(deadline_us / 1000000), (long)(deadline_us % 1000000) * 1000};
  pthread_cond_timedwait(c, m, &ts);
}
