/* producer_probe: see producer_probe.h. */
#include "tests/support/producer_probe.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/trace.h"
#include "producer/producer_config.h"

int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int ms) { usleep((useconds_t)ms * 1000); }

/* ---- completions ---- */

struct completion done[MAX_RECORDS];
atomic_int complete_cb_called;

void on_complete(const struct mk_record_metadata *md, const struct mk_err *err, void *opaque) {
  struct completion *c = &done[(intptr_t)opaque];
  c->error = err->code;
  c->partition = md->partition;
  c->offset = md->offset;
  c->at_ms = now_ms();
  c->thread = pthread_self();
  snprintf(c->msg, sizeof c->msg, "%s", err->msg);
  atomic_fetch_add(&c->calls, 1);
  atomic_fetch_add(&complete_cb_called, 1);
}

void reset_completions(void) {
  for (int i = 0; i < MAX_RECORDS; i++) {
    atomic_store(&done[i].calls, 0);
    done[i].error = 0;
    done[i].partition = -2;
    done[i].offset = -2;
    done[i].msg[0] = 0;
  }
  atomic_store(&complete_cb_called, 0);
}

int wait_completions(int n, int timeout_ms) {
  int64_t until = now_ms() + timeout_ms;
  while (atomic_load(&complete_cb_called) < n && now_ms() < until) sleep_ms(5);
  return atomic_load(&complete_cb_called);
}

void assert_completed_once(int from, int to) {
  for (int i = from; i < to; i++)
    if (atomic_load(&done[i].calls) != 1)
      fail_msg("record %d completed %d times", i, atomic_load(&done[i].calls));
}

void assert_succeeded(int from, int to) {
  assert_completed_once(from, to);
  for (int i = from; i < to; i++)
    if (done[i].error) fail_msg("record %d failed: %s (%s)", i, mk_err_name(done[i].error), done[i].msg);
}

/* ---- trace capture ---- */

static struct {
  pthread_mutex_t lock;
  int sink;
  const char *filters[4];  /* keep a line containing any of these (all lines if none) */
  int nfilters;
  char **lines;
  int64_t *at_ms;
  int n, cap;
} capture = {PTHREAD_MUTEX_INITIALIZER, -1, {NULL}, 0, NULL, NULL, 0, 0};

static void capture_sink(void *opaque, const char *line, size_t len) {
  (void)opaque;
  char *copy = strndup(line, len);
  if (!copy) return;
  bool keep = capture.nfilters == 0;
  for (int i = 0; i < capture.nfilters && !keep; i++) keep = strstr(copy, capture.filters[i]) != NULL;
  if (!keep) {
    free(copy);
    return;
  }
  pthread_mutex_lock(&capture.lock);
  if (capture.n == capture.cap) {
    int cap = capture.cap ? capture.cap * 2 : 256;
    char **l = realloc(capture.lines, sizeof *l * (size_t)cap);
    if (l) capture.lines = l;
    int64_t *t = l ? realloc(capture.at_ms, sizeof *t * (size_t)cap) : NULL;
    if (t) capture.at_ms = t;
    if (!l || !t) {
      pthread_mutex_unlock(&capture.lock);
      free(copy);
      return;
    }
    capture.cap = cap;
  }
  capture.at_ms[capture.n] = now_ms();
  capture.lines[capture.n++] = copy;
  pthread_mutex_unlock(&capture.lock);
}

void capture_start(const char *filter, ...) {
  va_list ap;
  va_start(ap, filter);
  capture.nfilters = 0;
  for (const char *f = filter; f && capture.nfilters < 4; f = va_arg(ap, const char *))
    capture.filters[capture.nfilters++] = f;
  va_end(ap);
  capture.sink = mk_trace_add_sink(capture_sink, NULL);
  assert_true(capture.sink >= 0);
}

void capture_stop(void) {
  if (capture.sink >= 0) mk_trace_remove_sink(capture.sink);
  capture.sink = -1;
  pthread_mutex_lock(&capture.lock);
  for (int i = 0; i < capture.n; i++) free(capture.lines[i]);
  free(capture.lines);
  free(capture.at_ms);
  capture.lines = NULL;
  capture.at_ms = NULL;
  capture.n = capture.cap = 0;
  pthread_mutex_unlock(&capture.lock);
}

int capture_find(int from, const char *a, const char *b) {
  pthread_mutex_lock(&capture.lock);
  int found = -1;
  for (int i = from < 0 ? 0 : from; i < capture.n && found < 0; i++)
    if (strstr(capture.lines[i], a) && (!b || strstr(capture.lines[i], b))) found = i;
  pthread_mutex_unlock(&capture.lock);
  return found;
}

int capture_count(const char *a, const char *b) {
  int n = 0;
  for (int i = capture_find(0, a, b); i >= 0; i = capture_find(i + 1, a, b)) n++;
  return n;
}

int capture_wait_count(const char *a, const char *b, int n, int timeout_ms) {
  int64_t deadline = mk_now_us() + (int64_t)timeout_ms * 1000;
  int count;
  while ((count = capture_count(a, b)) < n && mk_now_us() < deadline) usleep(5000);
  return count;
}

char *capture_line(int i, int64_t *at_ms) {
  pthread_mutex_lock(&capture.lock);
  char *copy = i >= 0 && i < capture.n ? strdup(capture.lines[i]) : NULL;
  if (copy && at_ms) *at_ms = capture.at_ms[i];
  pthread_mutex_unlock(&capture.lock);
  return copy;
}

int64_t json_int(const char *line, const char *key) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":", key);
  const char *at = strstr(line, pattern);
  return at ? strtoll(at + strlen(pattern), NULL, 10) : INT64_MIN;
}

/* ---- sending ---- */

int send_value(struct mk_producer *p, const char *topic, int32_t partition, const char *key,
               const char *value, int index) {
  struct mk_producer_record rec = {.topic = topic, .partition = partition,
                                   .key = mk_value_string(key), .value = mk_value_string(value),
                                   .timestamp = -1};
  struct mk_err err = {0};
  return mk_producer_send(p, &rec, index >= 0 ? on_complete : NULL, (void *)(intptr_t)index, NULL,
                          &err);
}

void flush_ok(struct mk_producer *p, int timeout_ms) {
  struct mk_err err = {0};
  if (mk_producer_flush(p, timeout_ms, &err)) fail_msg("flush: %s", err.msg);
}

void warm_up(struct mk_producer *p, const char *topic, int index) {
  assert_int_equal(send_value(p, topic, 0, NULL, "warm-up", index), 0);
  flush_ok(p, 10000);
  assert_succeeded(index, index + 1);
}

bool assert_retry_backoffs(int base_ms, int max_ms) {
  bool jittered = false;
  int64_t first = -1;
  for (int i = capture_find(0, "\"event\":\"retry\"", NULL); i >= 0;
       i = capture_find(i + 1, "\"event\":\"retry\"", NULL)) {
    char *line = capture_line(i, NULL);
    int64_t attempt = json_int(line, "attempt"), backoff = json_int(line, "backoff_ms");
    free(line);
    double term = base_ms;
    for (int64_t a = 1; a < attempt && term < max_ms; a++) term *= 2;
    if (term > max_ms) term = max_ms;
    if (backoff < (int64_t)floor(0.8 * term) || backoff > (int64_t)ceil(fmin(1.2 * term, max_ms)))
      fail_msg("attempt %lld waited %lld ms; expected %.0f..%.0f (retry.backoff.max.ms %d)",
               (long long)attempt, (long long)backoff, 0.8 * term, fmin(1.2 * term, max_ms),
               max_ms);
    if (first < 0) first = backoff;
    else if (backoff != first) jittered = true;
  }
  return jittered;
}

/* ---- making ---- */

static void set_or_fail(struct mk_producer_config *cfg, const char *key, const char *value) {
  struct mk_err err = {0};
  if (mk_producer_config_set(cfg, key, value, &err)) fail_msg("%s=%s: %s", key, value, err.msg);
}

struct mk_producer *probe_producer_new(const char *const *defaults, const char *first_key,
                                       va_list ap) {
  struct mk_producer_config *cfg = mk_producer_config_new();
  assert_non_null(cfg);
  set_or_fail(cfg, "key.serializer", "StringSerializer");
  set_or_fail(cfg, "value.serializer", "StringSerializer");
  for (int i = 0; defaults && defaults[i]; i += 2) set_or_fail(cfg, defaults[i], defaults[i + 1]);
  for (const char *key = first_key; key; key = va_arg(ap, const char *))
    set_or_fail(cfg, key, va_arg(ap, const char *));
  struct mk_err err = {0};
  struct mk_producer *p = NULL;
  if (mk_producer_config_finish(cfg, &err)) fail_msg("finish: %s", err.msg);
  if (mk_producer_new(cfg, &p, &err)) fail_msg("mk_producer_new: %s", err.msg);
  mk_producer_config_free(cfg);
  return p;
}

struct mk_consumer_group_metadata probe_group_metadata(const char *id, int32_t generation,
                                                       const char *member) {
  struct mk_consumer_group_metadata g;
  memset(&g, 0, sizeof g);
  snprintf(g.group_id, sizeof g.group_id, "%s", id);
  g.generation_id = generation;
  snprintf(g.member_id, sizeof g.member_id, "%s", member);
  return g;
}
