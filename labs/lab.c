/*
 * Lab runner: see lab.h, and lab_internal.h for how the lab_*.c files divide the work. Here:
 * sorting --set settings, the text a lab prints (headings, predictions, notes, progress,
 * the figures table, claims) and mk_lab_run itself.
 */
#define _GNU_SOURCE  /* asprintf, vasprintf */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "consumer/consumer_config.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/suggest.h"
#include "common/trace.h"
#include "labs/lab_internal.h"
#include "labs/text.h"

/* ======================================================================================== */
/* settings                                                                                 */
/* ======================================================================================== */

static const struct mk_lab_param *find_param(const struct mk_lab *lab, const char *name) {
  for (const struct mk_lab_param *p = lab->params; p && p->name; p++)
    if (strcmp(p->name, name) == 0) return p;
  return NULL;
}

bool mk_lab_parse_int64(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end) return false;
  *out = v;
  return true;
}

static bool is_producer_key(const char *key) {
  struct mk_producer_config *cfg = mk_producer_config_new();
  char buf[256];
  struct mk_err err = {0};
  bool known = cfg && mk_producer_config_get(cfg, key, buf, sizeof buf, &err) == 0;
  mk_producer_config_free(cfg);
  return known;
}

static bool is_consumer_key(const char *key) {
  struct mk_consumer_config *cfg = mk_consumer_config_new();
  char buf[256];
  bool known = cfg && mk_consumer_config_get(cfg, key, buf, sizeof buf, NULL) == 0;
  mk_consumer_config_free(cfg);
  return known;
}

/* A broker key is one mk_broker_config_set does not call unknown (whatever it says of the
 * value), or "brokers", the number of virtual brokers. */
static bool is_broker_key(const char *key, const char *value) {
  if (strcmp(key, "brokers") == 0) return true;
  struct mk_broker_config cfg;
  mk_broker_config_init(&cfg);
  struct mk_err err = {0};
  return mk_broker_config_set(&cfg, key, value, &err) == 0 ||
         strncmp(err.msg, "unknown broker setting", 22) != 0;
}

/* Check one setting's value where it goes: the same calls the scenario will make. */
static int check_value(struct mk_lab_ctx *ctx, const struct mk_lab_setting *s, struct mk_err *err) {
  if (s->target == MK_LAB_TARGET_LAB) {
    int64_t v;
    const struct mk_lab_param *p = find_param(ctx->lab, s->key);
    if (!mk_lab_parse_int64(s->value, &v) || v < p->min || v > p->max)
      return mk_err_set(err, MK_ERR__INVALID_ARG,
                        "%s must be a whole number from %lld to %lld, got \"%s\" (%s: %s)", s->key,
                        (long long)p->min, (long long)p->max, s->value, s->key, p->doc);
    return 0;
  }
  if (s->target == MK_LAB_TARGET_PRODUCER) {
    struct mk_producer_config *cfg = mk_producer_config_new();
    int rc = cfg ? mk_producer_config_set(cfg, s->key, s->value, err)
                 : mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
    mk_producer_config_free(cfg);
    return rc;
  }
  if (s->target == MK_LAB_TARGET_CONSUMER) {
    struct mk_consumer_config *cfg = mk_consumer_config_new();
    int rc = cfg ? mk_consumer_config_set(cfg, s->key, s->value, err)
                 : mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
    mk_consumer_config_free(cfg);
    return rc;
  }
  if (strcmp(s->key, "brokers") == 0) {
    int64_t v;
    if (!mk_lab_parse_int64(s->value, &v) || v < 1 || v > MK_MAX_BROKERS)
      return mk_err_set(err, MK_ERR__INVALID_ARG, "brokers must be 1..%d, got \"%s\"",
                        MK_MAX_BROKERS, s->value);
    return 0;
  }
  struct mk_broker_config cfg;
  mk_broker_config_init(&cfg);
  return mk_broker_config_set(&cfg, s->key, s->value, err);
}

/* Sort one "key=value" into ctx->settings (see lab.h for the rules). */
static int add_setting(struct mk_lab_ctx *ctx, const char *kv, struct mk_err *err) {
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "--set wants key=value, got \"%s\"", kv);
  if (ctx->nsettings == MK_LAB_MAX_SETTINGS)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "more than %d --set settings", MK_LAB_MAX_SETTINGS);
  struct mk_lab_setting *s = &ctx->settings[ctx->nsettings];
  char key[128];
  snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
  snprintf(s->value, sizeof s->value, "%s", eq + 1);
  const char *bare = key;
  int forced = -1;
  if (strncmp(key, "lab.", 4) == 0)
    forced = MK_LAB_TARGET_LAB, bare = key + 4;
  else if (strncmp(key, "producer.", 9) == 0)
    forced = MK_LAB_TARGET_PRODUCER, bare = key + 9;
  else if (strncmp(key, "broker.", 7) == 0)
    forced = MK_LAB_TARGET_BROKER, bare = key + 7;
  else if (strncmp(key, "consumer.", 9) == 0)
    forced = MK_LAB_TARGET_CONSUMER, bare = key + 9;
  snprintf(s->key, sizeof s->key, "%s", bare);

  bool lab = find_param(ctx->lab, bare) != NULL, producer = is_producer_key(bare),
       consumer = is_consumer_key(bare), broker = is_broker_key(bare, s->value);
  if (forced == MK_LAB_TARGET_LAB        ? lab
      : forced == MK_LAB_TARGET_PRODUCER ? producer
      : forced == MK_LAB_TARGET_CONSUMER ? consumer
      : forced == MK_LAB_TARGET_BROKER   ? broker
                                         : false) {
    s->target = (enum mk_lab_target)forced;
  } else if (forced >= 0) {
    return mk_err_set(err, MK_ERR__INVALID_ARG, "\"%s\" is not a %s setting", bare,
                      forced == MK_LAB_TARGET_LAB        ? "parameter of this lab"
                      : forced == MK_LAB_TARGET_PRODUCER ? "producer"
                      : forced == MK_LAB_TARGET_CONSUMER ? "consumer"
                                                         : "broker");
  } else if (lab) {
    s->target = MK_LAB_TARGET_LAB;
  } else if (producer) {
    s->target = MK_LAB_TARGET_PRODUCER;
  } else if (consumer) {
    s->target = MK_LAB_TARGET_CONSUMER;
  } else if (broker) {
    s->target = MK_LAB_TARGET_BROKER;
  } else {
    char params[256] = "";
    for (const struct mk_lab_param *p = ctx->lab->params; p && p->name; p++)
      snprintf(params + strlen(params), sizeof params - strlen(params), "%s%s",
               params[0] ? ", " : "", p->name);
    /* The nearest name of the three kinds, for near misses; the producer's own error
     * names its nearest setting. */
    struct mk_suggest near;
    mk_suggest_init(&near, bare);
    for (const struct mk_lab_param *p = ctx->lab->params; p && p->name; p++)
      mk_suggest_consider(&near, p->name);
    for (int i = 0; mk_broker_setting_at(i); i++)
      mk_suggest_consider(&near, mk_broker_setting_at(i)->name);
    for (int i = 0; mk_consumer_config_key_at(i); i++)
      mk_suggest_consider(&near, mk_consumer_config_key_at(i));
    char producer_best[128] = "";
    struct mk_producer_config *cfg = mk_producer_config_new();
    struct mk_err perr = {0};
    const char *hint;
    if (cfg && mk_producer_config_set(cfg, bare, s->value, &perr) &&
        (hint = strstr(perr.msg, "did you mean \"")) &&
        sscanf(hint, "did you mean \"%127[^\"]", producer_best) == 1)
      mk_suggest_consider(&near, producer_best);
    mk_producer_config_free(cfg);
    if (mk_suggest_best(&near))
      return mk_err_set(err, MK_ERR__INVALID_ARG, "unknown setting \"%s\" (did you mean \"%s\"?)",
                        bare, mk_suggest_best(&near));
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "unknown setting \"%s\": not a parameter of lab %s (%s) nor a producer, "
                      "consumer or broker setting",
                      bare, ctx->lab->name, params[0] ? params : "none");
  }
  int rc = check_value(ctx, s, err);
  if (rc) return rc;
  ctx->nsettings++;
  return 0;
}

int mk_lab_check_settings(const struct mk_lab *lab, const char *const *settings, int n,
                          struct mk_err *err) {
  struct mk_lab_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  ctx->lab = lab;
  int rc = 0;
  for (int i = 0; i < n && !rc; i++) rc = add_setting(ctx, settings[i], err);
  free(ctx);
  return rc;
}

int64_t mk_lab_param(struct mk_lab_ctx *ctx, const char *name) {
  const struct mk_lab_param *p = find_param(ctx->lab, name);
  int64_t v = 0;
  if (!p) {
    mk_log(MK_LOG_ERROR, "lab", "lab %s asked for parameter %s, which it does not declare",
           ctx->lab->name, name);
    return 0;
  }
  for (int i = ctx->nsettings - 1; i >= 0; i--)
    if (ctx->settings[i].target == MK_LAB_TARGET_LAB && strcmp(ctx->settings[i].key, name) == 0 &&
        mk_lab_parse_int64(ctx->settings[i].value, &v))
      return v;
  mk_lab_parse_int64(p->default_value, &v);
  return v;
}

bool mk_lab_user_set(struct mk_lab_ctx *ctx, const char *key) {
  for (int i = 0; i < ctx->nsettings; i++)
    if (ctx->settings[i].target != MK_LAB_TARGET_LAB && strcmp(ctx->settings[i].key, key) == 0)
      return true;
  return false;
}

bool mk_lab_user_changed_settings(struct mk_lab_ctx *ctx) {
  for (int i = 0; i < ctx->nsettings; i++)
    if (ctx->settings[i].target != MK_LAB_TARGET_LAB) return true;
  return false;
}

/* ======================================================================================== */
/* text                                                                                     */
/* ======================================================================================== */

const char *mk_lab_ansi_on(struct mk_lab_ctx *ctx, enum mk_timeline_style style) {
  return ctx->colour ? mk_timeline_ansi(style, NULL) : "";
}
const char *mk_lab_ansi_off(struct mk_lab_ctx *ctx) { return ctx->colour ? MK_ANSI_RESET : ""; }

FILE *mk_lab_out(struct mk_lab_ctx *ctx) { return ctx->out; }
bool mk_lab_colour(struct mk_lab_ctx *ctx) { return ctx->colour; }

/* fmt and its arguments as a new string (free()), or NULL when out of memory. */
static char *format_text(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static char *format_text(const char *fmt, va_list ap) {
  char *text = NULL;
  return vasprintf(&text, fmt, ap) < 0 ? NULL : text;
}

/* Every line a lab prints goes through here: wrapped to the lab's width (text.h). */
static void print_wrapped(struct mk_lab_ctx *ctx, const char *text, const char *first,
                          const char *rest, enum mk_timeline_style style) {
  mk_text_wrap(ctx->out, text ? text : "(out of memory)", (size_t)ctx->width, first, rest,
               (int)style >= 0 ? mk_lab_ansi_on(ctx, style) : "",
               (int)style >= 0 ? mk_lab_ansi_off(ctx) : "");
}

enum { PLAIN = -1 };

void mk_lab_heading(struct mk_lab_ctx *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *text = format_text(fmt, ap);
  va_end(ap);
  char *line = NULL;
  if (asprintf(&line, "== %s ==", text ? text : "") < 0) line = NULL;
  fputc('\n', ctx->out);
  print_wrapped(ctx, line, "", "   ", MK_STYLE_STRONG);
  free(line);
  free(text);
}

void mk_lab_say(struct mk_lab_ctx *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *text = format_text(fmt, ap);
  va_end(ap);
  print_wrapped(ctx, text, "", "", (enum mk_timeline_style)PLAIN);
  free(text);
}

void mk_lab_predict(struct mk_lab_ctx *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *text = format_text(fmt, ap);
  va_end(ap);
  char first[32];
  snprintf(first, sizeof first, "%sPredict:%s ", ctx->colour ? "\033[1;33m" : "",
           mk_lab_ansi_off(ctx));
  print_wrapped(ctx, text, first, "         ", (enum mk_timeline_style)PLAIN);
  free(text);
}

void mk_lab_note(struct mk_lab_ctx *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *text = format_text(fmt, ap);
  va_end(ap);
  print_wrapped(ctx, text, "", "", MK_STYLE_DIM);
  free(text);
}

void mk_lab_progress(struct mk_lab_ctx *ctx, const char *label, long done, long total) {
  if (!ctx->progress) return;
  fprintf(stderr, "\r  %s: %ld/%ld%s", label, done, total, done >= total ? "\n" : "");
  fflush(stderr);
}

/* ---- figures and claims ---------------------------------------------------------------- */

void mk_lab_figure(struct mk_lab_ctx *ctx, const char *row, const char *column, double value) {
  struct mk_lab_result *r = ctx->res;
  for (int i = 0; i < r->nfigures; i++)
    if (strcmp(r->figures[i].row, row) == 0 && strcmp(r->figures[i].column, column) == 0) {
      r->figures[i].value = value;
      return;
    }
  if (r->nfigures == MK_LAB_MAX_FIGURES) {
    mk_log(MK_LOG_ERROR, "lab", "more than %d figures; %s/%s dropped", MK_LAB_MAX_FIGURES, row,
           column);
    return;
  }
  struct mk_lab_figure *f = &r->figures[r->nfigures++];
  snprintf(f->row, sizeof f->row, "%s", row);
  snprintf(f->column, sizeof f->column, "%s", column);
  f->value = value;
}

double mk_lab_result_figure(const struct mk_lab_result *res, const char *row, const char *column) {
  for (int i = 0; i < res->nfigures; i++)
    if (strcmp(res->figures[i].row, row) == 0 && strcmp(res->figures[i].column, column) == 0)
      return res->figures[i].value;
  return NAN;
}

double mk_lab_value(struct mk_lab_ctx *ctx, const char *row, const char *column) {
  return mk_lab_result_figure(ctx->res, row, column);
}

static void format_value(double v, char *buf, size_t size) {
  if (isnan(v))
    snprintf(buf, size, "-");
  else if (fabs(v - round(v)) < 1e-9 && fabs(v) < 1e15)
    snprintf(buf, size, "%.0f", v);
  else if (fabs(v) < 10)
    snprintf(buf, size, "%.2f", v);
  else
    snprintf(buf, size, "%.1f", v);
}

/* Whether name is in list (NULL-terminated; a NULL list holds everything). */
static bool listed(const char *name, const char *const *list) {
  if (!list) return true;
  for (int i = 0; list[i]; i++)
    if (strcmp(list[i], name) == 0) return true;
  return false;
}

/* Add name to names (n of them) unless there; returns its index. */
static int index_of(const char **names, int *n, const char *name) {
  for (int i = 0; i < *n; i++)
    if (strcmp(names[i], name) == 0) return i;
  names[*n] = name;
  return (*n)++;
}

void mk_lab_table(struct mk_lab_ctx *ctx, const char *title, const char *const *rows,
                  const char *const *columns) {
  const struct mk_lab_result *r = ctx->res;
  const char *cols[MK_LAB_MAX_FIGURES], *rowv[MK_LAB_MAX_FIGURES];
  int ncols = 0, nrows = 0, cells = 0;
  size_t colw[MK_LAB_MAX_FIGURES], roww = 0;
  /* Rows in the caller's order when given, else as first reported; columns likewise. */
  for (int i = 0; rows && rows[i]; i++)
    for (int j = 0; j < r->nfigures; j++)
      if (strcmp(r->figures[j].row, rows[i]) == 0 && listed(r->figures[j].column, columns)) {
        index_of(rowv, &nrows, rows[i]);
        break;
      }
  for (int i = 0; columns && columns[i]; i++)
    for (int j = 0; j < r->nfigures; j++)
      if (strcmp(r->figures[j].column, columns[i]) == 0 && listed(r->figures[j].row, rows)) {
        colw[index_of(cols, &ncols, columns[i])] = strlen(columns[i]);
        break;
      }
  for (int i = 0; i < r->nfigures; i++) {
    const struct mk_lab_figure *f = &r->figures[i];
    if (!listed(f->row, rows) || !listed(f->column, columns)) continue;
    int before = ncols;
    int c = index_of(cols, &ncols, f->column);
    if (ncols > before) colw[c] = strlen(f->column);
    index_of(rowv, &nrows, f->row);
    char v[32];
    format_value(f->value, v, sizeof v);
    if (strlen(v) > colw[c]) colw[c] = strlen(v);
    if (strlen(f->row) > roww) roww = strlen(f->row);
    cells++;
  }
  if (title) {
    fputc('\n', ctx->out);
    print_wrapped(ctx, title, "", "", MK_STYLE_STRONG);
  }
  if (cells * 4 < nrows * ncols * 3) {
    /* Mostly empty as a grid (rows measuring different things): one line per row. */
    for (int k = 0; k < nrows; k++) {
      char line[1024], first[96];
      size_t len = 0;
      line[0] = 0;
      for (int c = 0; c < ncols && len < sizeof line; c++) {
        double v = mk_lab_result_figure(r, rowv[k], cols[c]);
        if (isnan(v)) continue;
        char text[32];
        format_value(v, text, sizeof text);
        len += (size_t)snprintf(line + len, sizeof line - len, "%s%s %s", len ? ", " : "",
                                cols[c], text);
      }
      snprintf(first, sizeof first, "  %-*s ", (int)roww + 1, rowv[k]);
      print_wrapped(ctx, line, first, "      ", (enum mk_timeline_style)PLAIN);
    }
    return;
  }
  /* A grid too wide for the lab's width goes out in slices of columns, each repeating the
   * row names. */
  for (int from = 0; from < ncols;) {
    size_t used = 2 + roww;
    int to = from;
    while (to < ncols && (to == from || used + 2 + colw[to] <= (size_t)ctx->width))
      used += 2 + colw[to++];
    if (from > 0) fputc('\n', ctx->out);
    fprintf(ctx->out, "  %-*s", (int)roww, "");
    for (int c = from; c < to; c++) fprintf(ctx->out, "  %*s", (int)colw[c], cols[c]);
    fputc('\n', ctx->out);
    for (int k = 0; k < nrows; k++) {
      fprintf(ctx->out, "  %-*s", (int)roww, rowv[k]);
      for (int c = from; c < to; c++) {
        char v[32];
        format_value(mk_lab_result_figure(r, rowv[k], cols[c]), v, sizeof v);
        fprintf(ctx->out, "  %*s", (int)colw[c], v);
      }
      fputc('\n', ctx->out);
    }
    from = to;
  }
}

static bool claim(struct mk_lab_ctx *ctx, bool held, const char *unless, const char *fmt,
                  va_list ap) __attribute__((format(printf, 4, 0)));
static bool claim(struct mk_lab_ctx *ctx, bool held, const char *unless, const char *fmt,
                  va_list ap) {
  struct mk_lab_result *r = ctx->res;
  char *text = format_text(fmt, ap);
  bool predicted = !held && unless;
  if (r->nclaims < MK_LAB_MAX_CLAIMS) {
    snprintf(r->claims[r->nclaims].text, sizeof r->claims[0].text, "%s", text ? text : "");
    r->claims[r->nclaims].predicted = predicted;
    r->claims[r->nclaims++].held = held;
  }
  char first[64], *line = NULL;
  snprintf(first, sizeof first, "  %s%s%s ",
           mk_lab_ansi_on(ctx, held ? MK_STYLE_OK : MK_STYLE_BAD), held ? "✓" : "✗",
           mk_lab_ansi_off(ctx));
  if (asprintf(&line, "%s%s%s%s", text ? text : "",
               held         ? ""
               : predicted  ? "\n    (as predicted: "
               : mk_lab_user_changed_settings(ctx) ? "  (not in this run: your --set changed it)"
                                                   : "  (NOT in this run)",
               predicted ? unless : "", predicted ? ")" : "") < 0)
    line = NULL;
  print_wrapped(ctx, line, first, "    ", (enum mk_timeline_style)PLAIN);
  free(line);
  free(text);
  return held;
}

bool mk_lab_claim(struct mk_lab_ctx *ctx, bool held, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  claim(ctx, held, NULL, fmt, ap);
  va_end(ap);
  return held;
}

bool mk_lab_claim_unless(struct mk_lab_ctx *ctx, bool held, const char *unless, const char *fmt,
                         ...) {
  va_list ap;
  va_start(ap, fmt);
  claim(ctx, held, unless, fmt, ap);
  va_end(ap);
  return held;
}

int mk_lab_fail(struct mk_lab_ctx *ctx, int code, const char *fmt, ...) {
  struct mk_err *e = &ctx->res->err;
  if (e->code) return code;  /* keep the first reason */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
  e->code = (int16_t)(code ? code : MK_ERR__STATE);
  return code ? code : MK_ERR__STATE;
}

double mk_lab_percentile(double *v, size_t n, double p) {
  if (n == 0) return NAN;
  for (size_t i = 1; i < n; i++)  /* insertion sort: labs measure hundreds, not millions */
    for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
      double t = v[j];
      v[j] = v[j - 1];
      v[j - 1] = t;
    }
  double rank = ceil(p / 100.0 * (double)n);
  size_t i = rank < 1 ? 0 : (size_t)rank - 1;
  return v[i < n ? i : n - 1];
}

/* ======================================================================================== */
/* mk_lab_run                                                                               */
/* ======================================================================================== */

/* --admin-port: GET /v1/trace serves the run for the dashboard's replay, so the run goes
 * to a file: --trace FILE, or else a temporary one (removed at the end). */
static int serve_trace(struct mk_lab_ctx *ctx, int *sink) {
  const char *given = ctx->opts->trace_path;
  if (given && strcmp(given, "-") != 0) {
    snprintf(ctx->served_trace, sizeof ctx->served_trace, "%s", given);
    return 0;
  }
  const char *dir = getenv("TMPDIR");
  snprintf(ctx->served_trace, sizeof ctx->served_trace, "%s/minikafka-lab-%s-XXXXXX",
           dir && *dir ? dir : "/tmp", ctx->lab->name);
  int fd = mkstemp(ctx->served_trace);
  if (fd < 0) {
    ctx->served_trace[0] = '\0';
    return mk_err_set(&ctx->res->err, MK_ERR__INVALID_ARG, "no temporary file for the trace "
                      "--admin-port serves: %s (give one with --trace FILE)", strerror(errno));
  }
  close(fd);
  *sink = mk_trace_open_file(ctx->served_trace, &ctx->res->err);
  if (*sink < 0) {
    unlink(ctx->served_trace);
    ctx->served_trace[0] = '\0';
    return ctx->res->err.code ? ctx->res->err.code : MK_ERR__STATE;
  }
  return 0;
}

static void end_serving_trace(struct mk_lab_ctx *ctx, int sink) {
  if (sink < 0) return;
  mk_trace_remove_sink(sink);
  unlink(ctx->served_trace);  /* ours: a temporary file */
}

static volatile sig_atomic_t interrupted;
static void on_interrupt(int sig) {
  (void)sig;
  interrupted = 1;
}

/* --admin-port: the lab is over; its broker and dashboard stay until Enter or Ctrl-C (or
 * the end of stdin), so the class can look at the end state and replay the run. */
static void keep_serving(struct mk_lab_ctx *ctx) {
  fprintf(ctx->out, "\nThe dashboard stays at %s/ with this lab's %s: its Replay tab's "
          "\"Replay this run\" plays the run again. Press Enter (or Ctrl-C) to stop.\n",
          mk_lab_admin_url(ctx), ctx->cluster ? "proxy" : "broker");
  fflush(ctx->out);
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  interrupted = 0;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  while (!interrupted) {  /* the signal may land on another thread: poll, and look again */
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    int ready = poll(&p, 1, 200);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    char c;
    ssize_t n = read(STDIN_FILENO, &c, 1);
    if (n <= 0 ? !(n < 0 && errno == EINTR) : c == '\n') break;
  }
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
}

static void restore_log_level(void) {
  const char *d = getenv("MINIKAFKA_DEBUG");
  mk_log_set_level(d && *d && *d != '0' ? MK_LOG_DEBUG : MK_LOG_INFO);
}

int mk_lab_run(const struct mk_lab *lab, const struct mk_lab_options *opts,
               struct mk_lab_result *res) {
  memset(res, 0, sizeof *res);
  struct mk_lab_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return mk_err_set(&res->err, MK_ERR__NO_MEMORY, "out of memory");
  ctx->lab = lab;
  ctx->opts = opts;
  ctx->res = res;
  ctx->out = opts->out ? opts->out : stdout;
  ctx->colour =
      opts->colour >= 0 ? opts->colour != 0 : isatty(fileno(ctx->out)) && !getenv("NO_COLOR");
  ctx->progress = isatty(STDERR_FILENO);
  ctx->width = mk_lab_width(ctx->out);
  mk_lab_collector_init(&ctx->col);

  int rc = 0;
  for (int i = 0; i < opts->nsettings && !rc; i++)
    rc = add_setting(ctx, opts->settings[i], &res->err);
  int file_sink = -1, sink = -1, served_sink = -1;
  if (!rc && opts->trace_path && (file_sink = mk_trace_open_file(opts->trace_path, &res->err)) < 0)
    rc = res->err.code ? res->err.code : MK_ERR__INVALID_ARG;
  if (!rc && opts->admin) rc = serve_trace(ctx, &served_sink);
  if (!rc && (sink = mk_trace_add_sink(mk_lab_collect, &ctx->col)) < 0)
    rc = mk_err_set(&res->err, MK_ERR__STATE, "no free trace sink");
  if (rc) {
    res->bad_setting = true;
    if (file_sink >= 0) mk_trace_remove_sink(file_sink);
    end_serving_trace(ctx, served_sink);
    mk_lab_collector_free(&ctx->col);
    free(ctx);
    return rc;
  }

  const char *debug = getenv("MINIKAFKA_DEBUG");
  if (!opts->verbose && !(debug && *debug && *debug != '0')) mk_log_set_level(MK_LOG_ERROR);
  int64_t start = mk_now_us();
  char first[128];
  snprintf(first, sizeof first, "%slab %s%s: ", mk_lab_ansi_on(ctx, MK_STYLE_STRONG), lab->name,
           mk_lab_ansi_off(ctx));
  print_wrapped(ctx, lab->summary, first, "  ", (enum mk_timeline_style)PLAIN);
  fprintf(ctx->out, "%s(the guide: labs/%s/README.md)%s\n", mk_lab_ansi_on(ctx, MK_STYLE_DIM),
          lab->name, mk_lab_ansi_off(ctx));
  for (int i = 0; i < ctx->nsettings; i++)
    mk_lab_note(ctx, "your setting: %s%s=%s",
                ctx->settings[i].target == MK_LAB_TARGET_LAB        ? "lab."
                : ctx->settings[i].target == MK_LAB_TARGET_PRODUCER ? "producer."
                : ctx->settings[i].target == MK_LAB_TARGET_CONSUMER ? "consumer."
                                                                    : "broker.",
                ctx->settings[i].key, ctx->settings[i].value);

  if (opts->bootstrap_server && lab->not_on_a_cluster) {
    mk_lab_heading(ctx, "Not on a real cluster");
    mk_lab_say(ctx, "%s", lab->not_on_a_cluster);
    rc = mk_lab_fail(ctx, MK_ERR__UNSUPPORTED, "lab %s needs the embedded broker (run it "
                     "without --bootstrap-server)", lab->name);
  } else {
    rc = lab->run(ctx);
  }

  if (opts->admin && mk_lab_admin_url(ctx)) keep_serving(ctx);
  mk_lab_broker_stop(ctx);
  mk_trace_remove_sink(sink);
  if (file_sink >= 0) mk_trace_remove_sink(file_sink);
  end_serving_trace(ctx, served_sink);
  restore_log_level();
  res->events = ctx->col.n + ctx->col.dropped;
  res->elapsed_ms = (mk_now_us() - start) / 1000;
  if (rc && !res->err.code) mk_lab_fail(ctx, rc, "the lab failed (%s)", mk_err_name(rc));
  if (rc) {
    char *line = NULL;
    if (asprintf(&line, "lab %s failed: %s", lab->name, res->err.msg) < 0) line = NULL;
    fputc('\n', ctx->out);
    print_wrapped(ctx, line, "", "  ", MK_STYLE_BAD);
    free(line);
  } else
    mk_lab_note(ctx, "\nlab %s done in %.1f s (%zu trace events%s%s)", lab->name,
                (double)res->elapsed_ms / 1000.0, res->events,
                opts->trace_path ? " written to " : "", opts->trace_path ? opts->trace_path : "");
  fflush(ctx->out);
  mk_lab_collector_free(&ctx->col);
  free(ctx);
  return rc;
}
