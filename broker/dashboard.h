/*
 * Dashboard: the instructor's live view (DESIGN.md 3.7), a web page the admin server
 * serves at GET / from files compiled into the binary.
 *
 * The page lives in broker/dashboard/ as ordinary HTML, CSS and JavaScript. At build time
 * broker/embed_web_files.py turns each file into a byte array and one entry of
 * mk_dashboard_files[] (a generated dashboard_files.c), with its content type and an ETag,
 * so the broker needs no files on disk and the page needs no network: it talks only to
 * the admin API it came from (/v1/cluster, /v1/events, /v1/faults, ...).
 *
 *   GET /                      index.html
 *   GET /dashboard/FILE        any other file (app.js, style.css, ...)
 *   HEAD, the same             the same headers, no body
 *
 * Caching: every answer says "Cache-Control: no-cache" with a strong ETag, so a browser
 * asks again each time (cheap on loopback) and gets 304 Not Modified until the binary is
 * rebuilt with changed files. A Content-Security-Policy lets the page load scripts,
 * styles, images and connections from its own origin only.
 *
 * Thread: any (everything here reads constant tables).
 */
#ifndef MK_BROKER_DASHBOARD_H
#define MK_BROKER_DASHBOARD_H

#include <stdbool.h>
#include <stddef.h>

/* One embedded file. */
struct mk_web_file {
  const char *path;               /* its URL: "/dashboard/app.js" */
  const unsigned char *data;      /* its bytes, len of them */
  size_t len;
  const char *content_type;       /* "text/javascript; charset=utf-8" */
  const char *etag;               /* quoted, as the ETag header carries it */
};

/* The generated table (dashboard_files.c). */
extern const struct mk_web_file mk_dashboard_files[];
extern const size_t mk_dashboard_file_count;

/* The file a URL path names (len bytes, no query string): "/" and "/dashboard" are
 * /dashboard/index.html, "/dashboard/app.js" is itself. NULL if there is none. */
const struct mk_web_file *mk_dashboard_find(const char *path, size_t len);

/* Whether a URL path belongs to the dashboard ("/", "/dashboard", "/dashboard/..."), so
 * the admin server hands it to mk_dashboard_answer rather than its API routes. */
bool mk_dashboard_owns(const char *path, size_t len);

/* What to answer for one request to a dashboard path. */
struct mk_web_answer {
  int status;                     /* 200, 304, 404 or 405 */
  const struct mk_web_file *file; /* for 200 and 304 */
  bool send_body;                 /* 200 to a GET; not for HEAD or 304 */
  char headers[640];              /* for 200 and 304: header lines, each ending "\r\n"
                                     (Cache-Control, ETag, CSP, ...; the content type is
                                     file->content_type) */
  char allow[32];                 /* for 405: "Allow: GET, HEAD\r\n" */
  char message[200];              /* for 404 and 405: what went wrong, for the JSON error */
};

/* Decide the answer to `method` (its HTTP name: "GET", "HEAD", ...) for path, given the
 * request's If-None-Match header ("" if none). Fills *a; the caller sends the status, the
 * file's content type, a->headers, and the body if a->send_body. Borrows everything. */
void mk_dashboard_answer(const char *method, const char *path, size_t len,
                         const char *if_none_match, struct mk_web_answer *a);

#endif
