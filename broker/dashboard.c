/*
 * Dashboard: finding an embedded file for a URL and deciding the answer. See dashboard.h.
 *
 * The admin server (admin_http.c) does the HTTP; this file only says what to send, so it
 * can be tested without a socket and moved with the HTTP layer as it is.
 */
#include "broker/dashboard.h"

#include <stdio.h>
#include <string.h>

/* The page may load its own scripts, styles and images and talk to its own origin (the
 * admin API), nothing else: no other host, no inline script, no plug-ins, no framing. */
static const char csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

static bool is(const char *path, size_t len, const char *s) {
  return strlen(s) == len && memcmp(path, s, len) == 0;
}

bool mk_dashboard_owns(const char *path, size_t len) {
  static const char prefix[] = "/dashboard/";
  return is(path, len, "/") || is(path, len, "/dashboard") ||
         (len >= sizeof prefix - 1 && memcmp(path, prefix, sizeof prefix - 1) == 0);
}

const struct mk_web_file *mk_dashboard_find(const char *path, size_t len) {
  if (is(path, len, "/") || is(path, len, "/dashboard") || is(path, len, "/dashboard/")) {
    path = "/dashboard/index.html";
    len = strlen(path);
  }
  for (size_t i = 0; i < mk_dashboard_file_count; i++)
    if (is(path, len, mk_dashboard_files[i].path)) return &mk_dashboard_files[i];
  return NULL;
}

/* If-None-Match is "*" or a comma-separated list of entity tags, each maybe weak (W/"x");
 * it matches when any tag equals ours, weakness ignored (RFC 9110, 13.1.2). */
static bool etag_matches(const char *if_none_match, const char *etag) {
  size_t elen = strlen(etag);
  const char *p = if_none_match;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    if (*p == '*') return true;
    if (strncmp(p, "W/", 2) == 0) p += 2;
    const char *end = p;
    while (*end && *end != ',') end++;
    const char *last = end;
    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) last--;
    if ((size_t)(last - p) == elen && memcmp(p, etag, elen) == 0) return true;
    p = end;
  }
  return false;
}

void mk_dashboard_answer(const char *method, const char *path, size_t len,
                         const char *if_none_match, struct mk_web_answer *a) {
  memset(a, 0, sizeof *a);
  int shown = len > 100 ? 100 : (int)len;
  bool get = strcmp(method, "GET") == 0, head = strcmp(method, "HEAD") == 0;
  a->file = mk_dashboard_find(path, len);
  if (!a->file) {
    a->status = 404;
    snprintf(a->message, sizeof a->message,
             "no dashboard file %.*s; the dashboard is GET / on this port", shown, path);
    return;
  }
  if (!get && !head) {
    a->status = 405;
    snprintf(a->allow, sizeof a->allow, "Allow: GET, HEAD\r\n");
    snprintf(a->message, sizeof a->message, "%.16s %.*s: the dashboard's files take GET, HEAD",
             method, shown, path);
    return;
  }
  bool fresh = if_none_match && etag_matches(if_none_match, a->file->etag);
  a->status = fresh ? 304 : 200;
  a->send_body = get && !fresh;
  snprintf(a->headers, sizeof a->headers,
           "Cache-Control: no-cache\r\nETag: %s\r\n"
           "Content-Security-Policy: %s\r\nX-Content-Type-Options: nosniff\r\n"
           "Referrer-Policy: no-referrer\r\n",
           a->file->etag, csp);
}
