/*
 * Errors: name and retriability lookups generated from the MK_ERRORS table in errors.h.
 */
#include "protocol/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *mk_err_name(int code) {
  switch (code) {
#define XX(c, name, retriable) \
  case c:                      \
    return #name;
    MK_ERRORS(XX)
#undef XX
  }
  return "UNKNOWN_ERROR_CODE";
}

bool mk_err_retriable(int code) {
  switch (code) {
#define XX(c, name, retriable) \
  case c:                      \
    return retriable;
    MK_ERRORS(XX)
#undef XX
  }
  return false;
}

int mk_err_from_name(const char *name, bool *found) {
#define XX(c, n, retriable)      \
  if (strcmp(name, #n) == 0) {   \
    if (found) *found = true;    \
    return c;                    \
  }
  MK_ERRORS(XX)
#undef XX
  if (found) *found = false;
  return MK_ERR_UNKNOWN_SERVER_ERROR;
}

int mk_err_set(struct mk_err *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    err->code = (int16_t)code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}
