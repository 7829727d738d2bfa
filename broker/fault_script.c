/*
 * Fault script: reading --faults FILE, and firing its lines on time or on count.
 * See fault_script.h for the file format.
 *
 *   owner's new      mk_fault_script_load: every line parsed and checked, the trigger
 *                    taken off, the rest kept as the JSON text to fire
 *   owner's start    mk_fault_script_start: time zero; one timer, armed for the
 *                    earliest at_ms line not yet fired
 *   each request     mk_fault_script_on_request: count it for the "after" lines
 *                    waiting on its API, fire those whose count is reached
 *
 * at_ms lines fire in time order (file order for equal times), by one timer re-armed
 * after each firing, rather than one timer per line. Time is the loop's clock, so a
 * loop busy for 50 ms fires a line up to 50 ms late, never early.
 */
#include "broker/fault_script.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "protocol/api.h"

struct script_line {
  int lineno;
  char *fault;          /* the line without its trigger: what the inject function gets */
  int64_t at_ms;        /* an at_ms line: when; else -1 */
  int api_key;          /* an after line: which API it counts; else -1 */
  int64_t count;        /* ... and how many requests of it */
  int64_t seen;
  bool fired;
};

struct mk_fault_script {
  mk_fault_inject_fn *inject;    /* the owner's, and its argument */
  void *owner;
  const char *who;               /* "broker", "proxy": in log lines */
  int after_left;                /* "after" lines not fired yet: none, no counting */
  char path[256];
  struct script_line *lines;
  size_t nlines;
  size_t *timed;                 /* indexes of at_ms lines, by time */
  size_t ntimed, next_timed;
  uv_timer_t timer;
  uint64_t start_ms;             /* the loop's clock at mk_fault_script_start */
};

/* ---- reading the file --------------------------------------------------------------------- */

/* Check one line's JSON and take its trigger off into *l. Returns 0 or
 * MK_ERR__INVALID_ARG with err saying what is wrong (without the line number). */
static int parse_line(const char *text, struct script_line *l, struct mk_err *err) {
  json_error_t je;
  json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &je);
  if (!o)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "not JSON: %s (column %d)", je.text, je.column);
  int rc = 0;
  json_t *at = json_object_get(o, "at_ms"), *after = json_object_get(o, "after");
  l->at_ms = -1;
  l->api_key = -1;
  if (!json_is_object(o)) {
    rc = mk_err_set(err, MK_ERR__INVALID_ARG, "not a JSON object");
  } else if (!json_is_string(json_object_get(o, "action"))) {
    rc = mk_err_set(err, MK_ERR__INVALID_ARG, "no \"action\" (a string: broker_down, error, ...)");
  } else if (!at == !after) {
    rc = mk_err_set(err, MK_ERR__INVALID_ARG,
                    "needs one trigger: \"at_ms\": N or \"after\": {\"api\": \"Produce\", "
                    "\"count\": N}");
  } else if (at) {
    if (!json_is_integer(at) || json_integer_value(at) < 0)
      rc = mk_err_set(err, MK_ERR__INVALID_ARG, "\"at_ms\" must be an integer >= 0");
    else
      l->at_ms = json_integer_value(at);
  } else {
    json_t *api = json_object_get(after, "api"), *count = json_object_get(after, "count");
    const struct mk_api *a = json_is_string(api) ? mk_api_by_name(json_string_value(api)) : NULL;
    if (!json_is_object(after) || json_object_size(after) != 2 || !a || !json_is_integer(count) ||
        json_integer_value(count) < 1)
      rc = mk_err_set(err, MK_ERR__INVALID_ARG,
                      "\"after\" must be {\"api\": A Kafka API name such as \"Produce\", "
                      "\"count\": N >= 1}");
    else {
      l->api_key = a->key;
      l->count = json_integer_value(count);
    }
  }
  if (!rc) {
    json_object_del(o, "at_ms");
    json_object_del(o, "after");
    l->fault = json_dumps(o, JSON_COMPACT);
    if (!l->fault) rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  }
  json_decref(o);
  return rc;
}

/* Read every line of f into s. */
static int read_lines(struct mk_fault_script *s, FILE *f, struct mk_err *err) {
  char *buf = NULL;
  size_t cap = 0, lines_cap = 0;
  ssize_t n;
  int lineno = 0, rc = 0;
  while (!rc && (n = getline(&buf, &cap, f)) >= 0) {
    lineno++;
    char *p = buf;
    while (*p == ' ' || *p == '\t') p++;
    while (n > 0 && strchr(" \t\r\n", buf[n - 1])) buf[--n] = '\0';
    if (*p == '\0' || *p == '#') continue;
    if (s->nlines == lines_cap) {
      lines_cap = lines_cap ? 2 * lines_cap : 8;
      struct script_line *grown = realloc(s->lines, lines_cap * sizeof *grown);
      if (!grown) {
        rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory reading --faults %s", s->path);
        break;
      }
      s->lines = grown;
    }
    struct script_line *l = &s->lines[s->nlines];
    memset(l, 0, sizeof *l);
    l->lineno = lineno;
    struct mk_err why = {0};
    if (parse_line(p, l, &why)) {
      rc = mk_err_set(err, MK_ERR__INVALID_ARG, "--faults %s, line %d: %s", s->path, lineno,
                      why.msg);
      break;
    }
    s->nlines++;
    if (l->api_key >= 0) s->after_left++;
  }
  free(buf);
  return rc;
}

int mk_fault_script_read(FILE *f, const char *path, const char *who,
                         struct mk_fault_script **out, struct mk_err *err) {
  *out = NULL;
  struct mk_fault_script *s = calloc(1, sizeof *s);
  if (!s) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  s->who = who;
  snprintf(s->path, sizeof s->path, "%s", path);
  int rc = read_lines(s, f, err);
  if (!rc && !(s->timed = calloc(s->nlines ? s->nlines : 1, sizeof *s->timed)))
    rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  if (rc) {
    mk_fault_script_free(s);
    return rc;
  }
  /* The at_ms lines by time; an insertion sort keeps file order for equal times. */
  for (size_t i = 0; i < s->nlines; i++) {
    if (s->lines[i].at_ms < 0) continue;
    size_t j = s->ntimed++;
    for (; j > 0 && s->lines[s->timed[j - 1]].at_ms > s->lines[i].at_ms; j--)
      s->timed[j] = s->timed[j - 1];
    s->timed[j] = i;
  }
  *out = s;
  return 0;
}

size_t mk_fault_script_lines(const struct mk_fault_script *s) { return s->nlines; }

const char *mk_fault_script_fault(const struct mk_fault_script *s, size_t i) {
  return i < s->nlines ? s->lines[i].fault : NULL;
}

int mk_fault_script_load(const char *path, const char *who, struct mk_fault_script **out,
                         struct mk_err *err) {
  *out = NULL;
  if (!path) return 0;
  FILE *f = fopen(path, "r");
  if (!f) return mk_err_set(err, MK_ERR__INVALID_ARG, "--faults %s: %s", path, strerror(errno));
  struct mk_fault_script *s;
  int rc = mk_fault_script_read(f, path, who, &s, err);
  fclose(f);
  if (rc) return rc;
  mk_log(MK_LOG_INFO, who, "--faults %s: %zu faults (%zu on a clock, %zu on a count)", path,
         s->nlines, s->ntimed, s->nlines - s->ntimed);
  *out = s;
  return 0;
}

/* ---- firing --------------------------------------------------------------------------------- */

static void fire(struct mk_fault_script *s, struct script_line *l) {
  struct mk_err err = {0};
  int id = -1;
  l->fired = true;
  if (s->inject(s->owner, l->fault, strlen(l->fault), &id, &err) == 0)
    mk_log(MK_LOG_INFO, s->who, "--faults %s, line %d: fault %d: %s", s->path, l->lineno, id,
           l->fault);
  else
    mk_log(MK_LOG_WARN, s->who, "--faults %s, line %d: fault refused: %s", s->path, l->lineno,
           err.msg);
}

static void arm(struct mk_fault_script *s);

static void on_timer(uv_timer_t *t) {
  struct mk_fault_script *s = t->data;
  uint64_t elapsed = uv_now(t->loop) - s->start_ms;
  while (s->next_timed < s->ntimed) {
    struct script_line *l = &s->lines[s->timed[s->next_timed]];
    if ((uint64_t)l->at_ms > elapsed) break;
    s->next_timed++;
    fire(s, l);
  }
  arm(s);
}

/* Arm the timer for the next at_ms line, if any is left. */
static void arm(struct mk_fault_script *s) {
  if (s->next_timed >= s->ntimed) return;
  uint64_t due = s->start_ms + (uint64_t)s->lines[s->timed[s->next_timed]].at_ms;
  uint64_t now = uv_now(s->timer.loop);
  uv_timer_start(&s->timer, on_timer, due > now ? due - now : 0, 0);
}

void mk_fault_script_start(struct mk_fault_script *s, uv_loop_t *loop, mk_fault_inject_fn *inject,
                           void *owner) {
  if (!s) return;
  s->inject = inject;
  s->owner = owner;
  if (s->ntimed == 0) return;
  uv_timer_init(loop, &s->timer);  /* closed by the owner's shutdown, with the rest */
  s->timer.data = s;
  uv_update_time(loop);
  s->start_ms = uv_now(loop);
  arm(s);
}

void mk_fault_script_restart(struct mk_fault_script *s) {
  if (!s) return;
  s->after_left = 0;
  for (size_t i = 0; i < s->nlines; i++) {
    s->lines[i].seen = 0;
    s->lines[i].fired = false;
    if (s->lines[i].api_key >= 0) s->after_left++;
  }
  s->next_timed = 0;
  if (s->ntimed == 0) return;
  uv_timer_stop(&s->timer);  /* started by mk_fault_script_start: it knows its loop */
  uv_update_time(s->timer.loop);
  s->start_ms = uv_now(s->timer.loop);
  arm(s);
  mk_log(MK_LOG_INFO, s->who, "--faults %s: starting over", s->path);
}

void mk_fault_script_on_request(struct mk_fault_script *s, int api_key) {
  if (!s || s->after_left == 0 || !s->inject) return;
  for (size_t i = 0; i < s->nlines; i++) {
    struct script_line *l = &s->lines[i];
    if (l->api_key != api_key || l->fired || ++l->seen < l->count) continue;
    s->after_left--;
    fire(s, l);
  }
}

void mk_fault_script_free(struct mk_fault_script *s) {
  if (!s) return;
  for (size_t i = 0; i < s->nlines; i++) free(s->lines[i].fault);
  free(s->lines);
  free(s->timed);
  free(s);
}
