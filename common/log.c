/* Log: formats the whole line first so a single write() keeps concurrent lines whole. */
#include "common/log.h"

#include "common/clock.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int max_level = -1;  /* -1 until first use: then read MINIKAFKA_DEBUG */

void mk_log_set_level(enum mk_log_level level) { max_level = (int)level; }

static bool enabled(enum mk_log_level level) {
  if (max_level < 0) {
    const char *d = getenv("MINIKAFKA_DEBUG");
    max_level = d && *d && *d != '0' ? MK_LOG_DEBUG : MK_LOG_INFO;
  }
  return (int)level <= max_level;
}

static void vlog(enum mk_log_level level, const char *who, const char *fmt, va_list ap) {
  static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
  char line[1024];
  int n = snprintf(line, sizeof line, "[%s] %s ", who, names[level]);
  n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
  line[n++] = '\n';
  ssize_t rc = write(STDERR_FILENO, line, (size_t)n);
  (void)rc;
}

void mk_log(enum mk_log_level level, const char *who, const char *fmt, ...) {
  if (!enabled(level)) return;
  va_list ap;
  va_start(ap, fmt);
  vlog(level, who, fmt, ap);
  va_end(ap);
}

void mk_log_limited(struct mk_log_limit *lim, enum mk_log_level level, const char *who,
                    const char *fmt, ...) {
  if (!enabled(level)) return;
  int64_t now = mk_now_us() / 1000;
  if (lim->lines > 0 && now - lim->window_start_ms >= MK_LOG_LIMIT_WINDOW_MS) lim->lines = 0;
  if (lim->lines == 0) lim->window_start_ms = now;
  if (lim->lines >= MK_LOG_LIMIT_LINES) {
    lim->suppressed++;
    return;
  }
  if (lim->suppressed > 0)
    mk_log(level, who, "(%ld similar lines left out in the last %d s)", lim->suppressed,
           MK_LOG_LIMIT_WINDOW_MS / 1000);
  lim->suppressed = 0;
  lim->lines++;
  va_list ap;
  va_start(ap, fmt);
  vlog(level, who, fmt, ap);
  va_end(ap);
}
