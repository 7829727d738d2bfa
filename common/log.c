/* Log: formats the whole line first so a single write() keeps concurrent lines whole. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int max_level = -1;  /* -1 until first use: then read MINIKAFKA_DEBUG */

void mk_log_set_level(enum mk_log_level level) { max_level = (int)level; }

void mk_log(enum mk_log_level level, const char *who, const char *fmt, ...) {
  static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
  if (max_level < 0) {
    const char *d = getenv("MINIKAFKA_DEBUG");
    max_level = d && *d && *d != '0' ? MK_LOG_DEBUG : MK_LOG_INFO;
  }
  if ((int)level > max_level) return;
  char line[1024];
  int n = snprintf(line, sizeof line, "[%s] %s ", who, names[level]);
  va_list ap;
  va_start(ap, fmt);
  n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
  line[n++] = '\n';
  ssize_t rc = write(STDERR_FILENO, line, (size_t)n);
  (void)rc;
}
