/*
 * Tests for the dashboard's embedded files (broker/dashboard.c, the generated
 * dashboard_files.c) and how the admin server serves them (broker/admin_http.c): the
 * bytes are the repo's files, each has the right content type, caching works by ETag,
 * unknown files are a JSON 404, other methods a 405, HEAD has no body.
 *
 * The first tests call dashboard.c directly; the last ones talk HTTP to an embedded
 * broker's admin port over a plain socket, as a browser would: the files, and what the page
 * needs besides the API: GET /v1/trace (its replay), GET /v1/events starting with the
 * state, POST /v1/reset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker/broker.h"
#include "broker/dashboard.h"
#include "tests/support/http_client.h"

/* ---- the table ------------------------------------------------------------------------------ */

static const struct mk_web_file *find(const char *path) { return mk_dashboard_find(path, strlen(path)); }

static void test_root_and_dashboard_are_index_html(void **state) {
  (void)state;
  const struct mk_web_file *index = find("/dashboard/index.html");
  assert_non_null(index);
  assert_ptr_equal(find("/"), index);
  assert_ptr_equal(find("/dashboard"), index);
  assert_ptr_equal(find("/dashboard/"), index);
  assert_string_equal(index->content_type, "text/html; charset=utf-8");
  assert_non_null(strstr((const char *)index->data, "<title>minikafka dashboard</title>"));
}

static void test_unknown_paths_find_nothing(void **state) {
  (void)state;
  assert_null(find("/dashboard/nope.js"));
  assert_null(find("/dashboard/../broker/dashboard.c"));
  assert_null(find("/index.html"));
  assert_null(find("/dashboard/app.js/"));
  assert_null(find("/DASHBOARD/app.js"));
  assert_null(mk_dashboard_find("/dashboard/app.jsx", 18));  /* longer than a name: no match */
  assert_non_null(mk_dashboard_find("/dashboard/app.jsx", 17));  /* only len bytes count */
  assert_true(mk_dashboard_owns("/", 1));
  assert_true(mk_dashboard_owns("/dashboard", 10));
  assert_true(mk_dashboard_owns("/dashboard/x", 12));
  assert_false(mk_dashboard_owns("/v1/cluster", 11));
  assert_false(mk_dashboard_owns("/dashboards", 11));
  assert_false(mk_dashboard_owns("/favicon.ico", 12));
}

/* Every embedded file is byte for byte the file in broker/dashboard/, with the content type
 * its extension calls for and a quoted ETag; no two files share an ETag. */
static void test_embedded_files_are_the_repo_files(void **state) {
  (void)state;
  const char *root = getenv("MK_SOURCE_ROOT");
  assert_non_null(root);
  assert_true(mk_dashboard_file_count >= 10);
  static const struct { const char *ext, *type; } types[] = {
    {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"}, {".svg", "image/svg+xml"},
  };
  for (size_t i = 0; i < mk_dashboard_file_count; i++) {
    const struct mk_web_file *f = &mk_dashboard_files[i];
    assert_int_equal(strncmp(f->path, "/dashboard/", 11), 0);
    const char *ext = strrchr(f->path, '.');
    assert_non_null(ext);
    const char *want = NULL;
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
      if (strcmp(ext, types[t].ext) == 0) want = types[t].type;
    assert_non_null(want);
    assert_string_equal(f->content_type, want);
    assert_int_equal(f->etag[0], '"');
    assert_int_equal(f->etag[strlen(f->etag) - 1], '"');
    for (size_t j = 0; j < i; j++) assert_string_not_equal(f->etag, mk_dashboard_files[j].etag);

    char path[512];
    snprintf(path, sizeof path, "%s/broker%s", root, f->path);
    FILE *fp = fopen(path, "rb");
    if (!fp) fail_msg("cannot open %s", path);
    unsigned char *disk = malloc(f->len + 1);
    size_t n = fread(disk, 1, f->len + 1, fp);
    fclose(fp);
    assert_int_equal(n, f->len);
    assert_memory_equal(disk, f->data, f->len);
    free(disk);
  }
}

static void test_answer_get_head_and_caching(void **state) {
  (void)state;
  struct mk_web_answer a;
  const struct mk_web_file *app = find("/dashboard/app.js");
  mk_dashboard_answer("GET", "/dashboard/app.js", 17, "", &a);
  assert_int_equal(a.status, 200);
  assert_ptr_equal(a.file, app);
  assert_true(a.send_body);
  assert_string_equal(app->content_type, "text/javascript; charset=utf-8");
  assert_non_null(strstr(a.headers, "Cache-Control: no-cache\r\n"));
  char etag[64];
  snprintf(etag, sizeof etag, "ETag: %s\r\n", app->etag);
  assert_non_null(strstr(a.headers, etag));
  assert_non_null(strstr(a.headers, "Content-Security-Policy: default-src 'none'; script-src 'self';"));
  assert_non_null(strstr(a.headers, "connect-src 'self'"));
  assert_non_null(strstr(a.headers, "X-Content-Type-Options: nosniff\r\n"));

  mk_dashboard_answer("HEAD", "/dashboard/app.js", 17, "", &a);
  assert_int_equal(a.status, 200);
  assert_false(a.send_body);

  /* If-None-Match: ours (alone, in a list, weak, or *) is 304 without a body; another is 200 */
  char list[128];
  snprintf(list, sizeof list, "\"old\", W/%s", app->etag);
  const char *fresh[] = {app->etag, list, "*"};
  for (size_t i = 0; i < 3; i++) {
    mk_dashboard_answer("GET", "/dashboard/app.js", 17, fresh[i], &a);
    assert_int_equal(a.status, 304);
    assert_false(a.send_body);
    assert_non_null(strstr(a.headers, etag));
  }
  mk_dashboard_answer("GET", "/dashboard/app.js", 17, "\"0123\"", &a);
  assert_int_equal(a.status, 200);
  mk_dashboard_answer("GET", "/dashboard/app.js", 17, find("/")->etag, &a);
  assert_int_equal(a.status, 200);  /* another file's tag */
}

static void test_answer_404_and_405(void **state) {
  (void)state;
  struct mk_web_answer a;
  mk_dashboard_answer("GET", "/dashboard/nope.js", 18, "", &a);
  assert_int_equal(a.status, 404);
  assert_null(a.file);
  assert_non_null(strstr(a.message, "/dashboard/nope.js"));
  mk_dashboard_answer("POST", "/", 1, "", &a);
  assert_int_equal(a.status, 405);
  assert_string_equal(a.allow, "Allow: GET, HEAD\r\n");
  mk_dashboard_answer("DELETE", "/dashboard/style.css", 20, "", &a);
  assert_int_equal(a.status, 405);
}

/* ---- over HTTP ------------------------------------------------------------------------------ */

static struct mk_broker *broker;
static char trace_path[] = "/tmp/test_dashboard_trace_XXXXXX";  /* what GET /v1/trace serves */

static int start_broker(void **state) {
  (void)state;
  int fd = mkstemp(trace_path);
  if (fd < 0) return -1;
  static const char lines[] = "{\"event\":\"a\"}\n{\"event\":\"b\"}\n{\"event\":\"still being wr";
  if (write(fd, lines, sizeof lines - 1) != (ssize_t)(sizeof lines - 1)) return -1;
  close(fd);
  struct mk_broker_config cfg;
  mk_broker_config_init(&cfg);
  cfg.port = 0;
  cfg.admin_port = 0;
  cfg.trace_file = trace_path;
  struct mk_err err = {0};
  if (mk_broker_new(&cfg, &broker, &err) || mk_broker_start(broker, &err)) {
    fprintf(stderr, "broker: %s\n", err.msg);
    mk_broker_free(broker);
    broker = NULL;
    return -1;
  }
  return 0;
}

static int stop_broker(void **state) {
  (void)state;
  if (broker) {
    mk_broker_stop(broker);
    mk_broker_free(broker);
  }
  unlink(trace_path);
  return 0;
}

/* Send request (whole, with "Connection: close") to the admin port and read the answer
 * (tests/support/http_client.h). */
static void request(const char *text, struct test_http_reply *r) {
  test_http_request(mk_broker_admin_port(broker), text, strlen(text), r);
}

/* method path with the header lines extra ("" or "If-None-Match: x\r\n"), alone on a
 * connection. */
static void send_one(const char *method, const char *path, const char *extra, struct test_http_reply *r) {
  char req[512];
  snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sConnection: close\r\n\r\n", method,
           path, extra);
  request(req, r);
}

static void test_http_get_root_serves_index(void **state) {
  (void)state;
  struct test_http_reply r;
  char v[512];
  send_one("GET", "/", "", &r);
  const struct mk_web_file *index = find("/");
  assert_int_equal(r.status, 200);
  assert_string_equal(test_http_header(&r, "Content-Type", v, sizeof v), "text/html; charset=utf-8");
  assert_string_equal(test_http_header(&r, "Cache-Control", v, sizeof v), "no-cache");
  assert_string_equal(test_http_header(&r, "ETag", v, sizeof v), index->etag);
  assert_non_null(strstr(test_http_header(&r, "Content-Security-Policy", v, sizeof v), "default-src 'none'"));
  assert_int_equal(atoi(test_http_header(&r, "Content-Length", v, sizeof v)), (int)index->len);
  assert_int_equal(r.body_len, index->len);
  assert_memory_equal(r.body, index->data, index->len);
  free(r.body);

  send_one("GET", "/?refresh=0", "", &r);
  assert_int_equal(r.status, 200);  /* a query string does not change the file */
  assert_int_equal(r.body_len, index->len);
  free(r.body);
}

static void test_http_content_types(void **state) {
  (void)state;
  static const struct { const char *path, *type; } files[] = {
    {"/dashboard/app.js", "text/javascript; charset=utf-8"},
    {"/dashboard/style.css", "text/css; charset=utf-8"},
    {"/dashboard/icon.svg", "image/svg+xml"},
    {"/dashboard/index.html", "text/html; charset=utf-8"},
  };
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char v[256];
    struct test_http_reply r;
    send_one("GET", files[i].path, "", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(test_http_header(&r, "Content-Type", v, sizeof v), files[i].type);
    assert_int_equal(r.body_len, find(files[i].path)->len);
    free(r.body);
  }
}

static void test_http_head_has_no_body(void **state) {
  (void)state;
  struct test_http_reply r;
  char v[64];
  send_one("HEAD", "/dashboard/style.css", "", &r);
  assert_int_equal(r.status, 200);
  assert_int_equal(atoi(test_http_header(&r, "Content-Length", v, sizeof v)), (int)find("/dashboard/style.css")->len);
  assert_int_equal(r.body_len, 0);
  free(r.body);
}

static void test_http_if_none_match_is_304(void **state) {
  (void)state;
  const struct mk_web_file *app = find("/dashboard/app.js");
  char inm[128], v[64];
  snprintf(inm, sizeof inm, "If-None-Match: %s\r\n", app->etag);
  struct test_http_reply r;
  send_one("GET", "/dashboard/app.js", inm, &r);
  assert_int_equal(r.status, 304);
  assert_string_equal(test_http_header(&r, "ETag", v, sizeof v), app->etag);
  assert_int_equal(r.body_len, 0);
  free(r.body);
  send_one("GET", "/dashboard/app.js", "If-None-Match: \"stale\"\r\n", &r);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, app->len);
  free(r.body);
}

static void test_http_unknown_file_is_json_404(void **state) {
  (void)state;
  struct test_http_reply r;
  char v[64];
  send_one("GET", "/dashboard/nope.js", "", &r);
  assert_int_equal(r.status, 404);
  assert_string_equal(test_http_header(&r, "Content-Type", v, sizeof v), "application/json");
  assert_non_null(strstr(r.body, "\"error\":\"not_found\""));
  assert_non_null(strstr(r.body, "/dashboard/nope.js"));
  free(r.body);
  send_one("GET", "/favicon.ico", "", &r);
  assert_int_equal(r.status, 404);  /* not the dashboard's: the API's own 404 */
  assert_non_null(strstr(r.body, "the dashboard at GET /"));
  free(r.body);
}

static void test_http_other_methods_are_405(void **state) {
  (void)state;
  struct test_http_reply r;
  char v[64];
  send_one("POST", "/", "Content-Length: 0\r\n", &r);
  assert_int_equal(r.status, 405);
  assert_string_equal(test_http_header(&r, "Allow", v, sizeof v), "GET, HEAD");
  assert_non_null(strstr(r.body, "\"error\":\"method_not_allowed\""));
  free(r.body);
}

/* Keep-alive: the page's files and an API call on one connection, answered in order. */
static void test_http_keep_alive_mixes_files_and_api(void **state) {
  (void)state;
  struct test_http_reply r;
  request("GET /dashboard/icon.svg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
          "GET /v1/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", &r);
  assert_int_equal(r.status, 200);
  const struct mk_web_file *icon = find("/dashboard/icon.svg");
  assert_true(r.body_len > icon->len);
  assert_memory_equal(r.body, icon->data, icon->len);
  assert_non_null(strstr(r.body + icon->len, "HTTP/1.1 200 OK"));
  assert_non_null(strstr(r.body + icon->len, "\r\n\r\n[]"));
  free(r.body);
}

/* GET /v1/trace: the broker's --trace file up to its last whole line, for the replay. */
static void test_http_trace_file(void **state) {
  (void)state;
  struct test_http_reply r;
  char v[128];
  send_one("GET", "/v1/trace", "", &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(test_http_header(&r, "Content-Type", v, sizeof v), "application/x-ndjson; charset=utf-8");
  assert_string_equal(r.body, "{\"event\":\"a\"}\n{\"event\":\"b\"}\n");
  free(r.body);
  send_one("POST", "/v1/trace", "Content-Length: 0\r\n", &r);
  assert_int_equal(r.status, 405);
  free(r.body);
}

/* GET /v1/events starts with the state (brokers, then every partition) for this client. */
static void test_http_events_start_with_the_state(void **state) {
  (void)state;
  struct mk_err err = {0};
  assert_int_equal(mk_broker_create_topic(broker, "shown", 2, 3, NULL, &err), 0);
  static const char get[] = "GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  int fd = test_http_send(mk_broker_admin_port(broker), get, sizeof get - 1);
  char buf[16384];
  size_t len = 0;
  while (len < sizeof buf - 1) {  /* until the second partition_state has come */
    ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
    if (n <= 0) fail_msg("the stream ended or timed out after %zu bytes", len);
    len += (size_t)n;
    buf[len] = '\0';
    const char *p1 = strstr(buf, "\"event\":\"partition_state\"");
    if (p1 && strstr(p1 + 1, "\"event\":\"partition_state\"")) break;
  }
  close(fd);
  const char *b0 = strstr(buf, "data: {\"ts_us\":");
  assert_non_null(b0);
  assert_non_null(strstr(b0, "\"event\":\"broker_state\",\"broker\":0,"));  /* first */
  assert_true(strstr(buf, "\"broker\":2,") < strstr(buf, "\"event\":\"partition_state\""));
  assert_non_null(strstr(buf, "\"topic\":\"shown\",\"partition\":1,"));
}

/* POST /v1/reset: what it did, and an empty cluster after. */
static void test_http_post_reset(void **state) {
  (void)state;
  struct mk_err err = {0};
  assert_int_equal(mk_broker_create_topic(broker, "gone", 1, 3, NULL, &err), 0);
  struct test_http_reply r;
  send_one("POST", "/v1/reset", "Content-Length: 0\r\n", &r);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "\"reset\":true"));
  assert_non_null(strstr(r.body, "\"topics_deleted\":"));
  assert_null(strstr(r.body, "\"topics_deleted\":0"));
  free(r.body);
  send_one("GET", "/v1/cluster", "", &r);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "\"topics\":[]"));
  free(r.body);
  send_one("GET", "/v1/reset", "", &r);
  assert_int_equal(r.status, 405);  /* a reset is a POST: a link or a reload cannot do it */
  free(r.body);
}

int main(void) {
  const struct CMUnitTest table[] = {
    cmocka_unit_test(test_root_and_dashboard_are_index_html),
    cmocka_unit_test(test_unknown_paths_find_nothing),
    cmocka_unit_test(test_embedded_files_are_the_repo_files),
    cmocka_unit_test(test_answer_get_head_and_caching),
    cmocka_unit_test(test_answer_404_and_405),
  };
  const struct CMUnitTest http[] = {
    cmocka_unit_test(test_http_get_root_serves_index),
    cmocka_unit_test(test_http_content_types),
    cmocka_unit_test(test_http_head_has_no_body),
    cmocka_unit_test(test_http_if_none_match_is_304),
    cmocka_unit_test(test_http_unknown_file_is_json_404),
    cmocka_unit_test(test_http_other_methods_are_405),
    cmocka_unit_test(test_http_keep_alive_mixes_files_and_api),
    cmocka_unit_test(test_http_trace_file),
    cmocka_unit_test(test_http_events_start_with_the_state),
    cmocka_unit_test(test_http_post_reset),
  };
  int failed = cmocka_run_group_tests_name("dashboard files", table, NULL, NULL);
  return failed | cmocka_run_group_tests_name("dashboard over HTTP", http, start_broker, stop_broker);
}
