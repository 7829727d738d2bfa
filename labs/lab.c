/*
 * Lab runner: see lab.h, and lab_internal.h for how the lab_*.c files divide the work. Here:
 * sorting --set settings, the text a lab prints (headings, predictions, notes, progress,
 * the figures table, claims) and mk_lab_run itself.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/broker.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/trace.h"
#include "labs/lab_internal.h"

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
    if (!mk_lab_parse_int64(s->value, &v))
      return mk_err_set(err, MK_ERR__INVALID_ARG, "lab %s: %s must be a whole number, got \"%s\"",
                        ctx->lab->name, s->key, s->value);
    return 0;
  }
  if (s->target == MK_LAB_TARGET_PRODUCER) {
    struct mk_producer_config *cfg = mk_producer_config_new();
    int rc = cfg ? mk_producer_config_set(cfg, s->key, s->value, err)
                 : mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
    mk_producer_config_free(cfg);
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
  snprintf(s->key, sizeof s->key, "%s", bare);

  bool lab = find_param(ctx->lab, bare) != NULL, producer = is_producer_key(bare),
       broker = is_broker_key(bare, s->value);
  if (forced == MK_LAB_TARGET_LAB        ? lab
      : forced == MK_LAB_TARGET_PRODUCER ? producer
      : forced == MK_LAB_TARGET_BROKER   ? broker
                                         : false) {
    s->target = (enum mk_lab_target)forced;
  } else if (forced >= 0) {
    return mk_err_set(err, MK_ERR__INVALID_ARG, "\"%s\" is not a %s setting", bare,
                      forced == MK_LAB_TARGET_LAB        ? "parameter of this lab"
                      : forced == MK_LAB_TARGET_PRODUCER ? "producer"
                                                         : "broker");
  } else if (lab) {
    s->target = MK_LAB_TARGET_LAB;
  } else if (producer) {
    s->target = MK_LAB_TARGET_PRODUCER;
  } else if (broker) {
    s->target = MK_LAB_TARGET_BROKER;
  } else {
    char params[256] = "";
    for (const struct mk_lab_param *p = ctx->lab->params; p && p->name; p++)
      snprintf(params + strlen(params), sizeof params - strlen(params), "%s%s",
               params[0] ? ", " : "", p->name);
    /* The producer's own error suggests the key meant, for near misses. */
    char hint[160] = "";
    struct mk_producer_config *cfg = mk_producer_config_new();
    struct mk_err perr = {0};
    if (cfg && mk_producer_config_set(cfg, bare, s->value, &perr) &&
        strstr(perr.msg, "did you mean"))
      snprintf(hint, sizeof hint, " %s", strstr(perr.msg, "(did you mean"));
    mk_producer_config_free(cfg);
    if (hint[0])
      return mk_err_set(err, MK_ERR__INVALID_ARG, "unknown setting \"%s\"%s", bare, hint);
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "unknown setting \"%s\": not a parameter of lab %s (%s) nor a producer or "
                      "broker setting",
                      bare, ctx->lab->name, params[0] ? params : "none");
  }
  int rc = check_value(ctx, s, err);
  if (rc) return rc;
  ctx->nsettings++;
  return 0;
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

void mk_lab_heading(struct mk_lab_ctx *ctx, const char *fmt, ...) {
  char text[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  fprintf(ctx->out, "\n%s== %s ==%s\n", mk_lab_ansi_on(ctx, MK_STYLE_STRONG), text,
          mk_lab_ansi_off(ctx));
}

void mk_lab_say(struct mk_lab_ctx *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(ctx->out, fmt, ap);
  va_end(ap);
  fputc('\n', ctx->out);
}

void mk_lab_predict(struct mk_lab_ctx *ctx, const char *fmt, ...) {
  fprintf(ctx->out, "%sPredict:%s ", ctx->colour ? "\033[1;33m" : "", mk_lab_ansi_off(ctx));
  va_list ap;
  va_start(ap, fmt);
  vfprintf(ctx->out, fmt, ap);
  va_end(ap);
  fputc('\n', ctx->out);
}

void mk_lab_note(struct mk_lab_ctx *ctx, const char *fmt, ...) {
  fputs(mk_lab_ansi_on(ctx, MK_STYLE_DIM), ctx->out);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(ctx->out, fmt, ap);
  va_end(ap);
  fprintf(ctx->out, "%s\n", mk_lab_ansi_off(ctx));
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
  if (title)
    fprintf(ctx->out, "\n%s%s%s\n", mk_lab_ansi_on(ctx, MK_STYLE_STRONG), title,
            mk_lab_ansi_off(ctx));
  if (cells * 4 < nrows * ncols * 3) {
    /* Mostly empty as a grid (rows measuring different things): one line per row. */
    for (int k = 0; k < nrows; k++) {
      fprintf(ctx->out, "  %-*s ", (int)roww + 1, rowv[k]);
      bool first = true;
      for (int c = 0; c < ncols; c++) {
        double v = mk_lab_result_figure(r, rowv[k], cols[c]);
        if (isnan(v)) continue;
        char text[32];
        format_value(v, text, sizeof text);
        fprintf(ctx->out, "%s%s %s", first ? "" : ", ", cols[c], text);
        first = false;
      }
      fputc('\n', ctx->out);
    }
    return;
  }
  fprintf(ctx->out, "  %-*s", (int)roww, "");
  for (int c = 0; c < ncols; c++) fprintf(ctx->out, "  %*s", (int)colw[c], cols[c]);
  fputc('\n', ctx->out);
  for (int k = 0; k < nrows; k++) {
    fprintf(ctx->out, "  %-*s", (int)roww, rowv[k]);
    for (int c = 0; c < ncols; c++) {
      char v[32];
      format_value(mk_lab_result_figure(r, rowv[k], cols[c]), v, sizeof v);
      fprintf(ctx->out, "  %*s", (int)colw[c], v);
    }
    fputc('\n', ctx->out);
  }
}

bool mk_lab_claim(struct mk_lab_ctx *ctx, bool held, const char *fmt, ...) {
  struct mk_lab_result *r = ctx->res;
  char text[sizeof r->claims[0].text];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (r->nclaims < MK_LAB_MAX_CLAIMS) {
    snprintf(r->claims[r->nclaims].text, sizeof text, "%s", text);
    r->claims[r->nclaims++].held = held;
  }
  fprintf(ctx->out, "  %s%s%s %s%s\n", mk_lab_ansi_on(ctx, held ? MK_STYLE_OK : MK_STYLE_BAD),
          held ? "✓" : "✗", mk_lab_ansi_off(ctx), text,
          held                                ? ""
          : mk_lab_user_changed_settings(ctx) ? "  (not in this run: your --set changed it)"
                                              : "  (NOT in this run)");
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
  mk_lab_collector_init(&ctx->col);

  int rc = 0;
  for (int i = 0; i < opts->nsettings && !rc; i++)
    rc = add_setting(ctx, opts->settings[i], &res->err);
  int file_sink = -1, sink = -1;
  if (!rc && opts->trace_path && (file_sink = mk_trace_open_file(opts->trace_path, &res->err)) < 0)
    rc = res->err.code ? res->err.code : MK_ERR__INVALID_ARG;
  if (!rc && (sink = mk_trace_add_sink(mk_lab_collect, &ctx->col)) < 0)
    rc = mk_err_set(&res->err, MK_ERR__STATE, "no free trace sink");
  if (rc) {
    res->bad_setting = true;
    if (file_sink >= 0) mk_trace_remove_sink(file_sink);
    mk_lab_collector_free(&ctx->col);
    free(ctx);
    return rc;
  }

  const char *debug = getenv("MINIKAFKA_DEBUG");
  if (!opts->verbose && !(debug && *debug && *debug != '0')) mk_log_set_level(MK_LOG_ERROR);
  int64_t start = mk_now_us();
  fprintf(ctx->out, "%slab %s%s: %s\n", mk_lab_ansi_on(ctx, MK_STYLE_STRONG), lab->name,
          mk_lab_ansi_off(ctx), lab->summary);
  fprintf(ctx->out, "%s(the guide: labs/%s/README.md)%s\n", mk_lab_ansi_on(ctx, MK_STYLE_DIM),
          lab->name, mk_lab_ansi_off(ctx));
  for (int i = 0; i < ctx->nsettings; i++)
    mk_lab_note(ctx, "your setting: %s%s=%s",
                ctx->settings[i].target == MK_LAB_TARGET_LAB        ? "lab."
                : ctx->settings[i].target == MK_LAB_TARGET_PRODUCER ? "producer."
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

  mk_lab_broker_stop(ctx);
  mk_trace_remove_sink(sink);
  if (file_sink >= 0) mk_trace_remove_sink(file_sink);
  restore_log_level();
  res->events = ctx->col.n + ctx->col.dropped;
  res->elapsed_ms = (mk_now_us() - start) / 1000;
  if (rc && !res->err.code) mk_lab_fail(ctx, rc, "the lab failed (%s)", mk_err_name(rc));
  if (rc)
    fprintf(ctx->out, "\n%slab %s failed: %s%s\n", mk_lab_ansi_on(ctx, MK_STYLE_BAD), lab->name,
            res->err.msg, mk_lab_ansi_off(ctx));
  else
    mk_lab_note(ctx, "\nlab %s done in %.1f s (%zu trace events%s%s)", lab->name,
                (double)res->elapsed_ms / 1000.0, res->events,
                opts->trace_path ? " written to " : "", opts->trace_path ? opts->trace_path : "");
  fflush(ctx->out);
  mk_lab_collector_free(&ctx->col);
  free(ctx);
  return rc;
}
