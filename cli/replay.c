/*
 * minikafka replay: a --trace file in the dashboard, with no broker (DESIGN.md 3.7).
 *
 *   minikafka replay FILE [--port P]
 *
 * Serves the dashboard (its files built into the binary, broker/dashboard.h) and FILE at
 * GET /v1/trace, on the one HTTP server of common/http_server.h, on 127.0.0.1 (port P, or
 * any free one), and prints the URL to open: http://127.0.0.1:P/?replay=NAME. The page
 * then shows the run from FILE alone, to play, step and scrub (broker/dashboard/replay.js);
 * there is no live broker behind it, so it changes nothing. GET / without ?replay sends
 * the browser there. The file is read again on every load, so a run still being written
 * (a broker's --trace) shows as far as it has got.
 *
 * Runs in the foreground until SIGINT/SIGTERM (exit 0). Exit 1 if FILE cannot be read or
 * the port cannot be had, 2 for a bad command line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "broker/dashboard_http.h"
#include "cli/cli.h"
#include "common/http_server.h"
#include "common/signals.h"

struct replay_server {
  const char *path;            /* the trace file */
  char location[600];          /* "Location: /?replay=NAME\r\n" */
  struct mk_http_server *http;
  uv_signal_t sigint, sigterm;
};

static struct replay_server *server_of(struct mk_http_request *r) { return mk_http_opaque(r); }

/* GET /: the page in replay mode (?replay=NAME), where a bare / is sent. */
static void get_root(struct mk_http_request *r) {
  if (strcmp(mk_http_path(r), "/") == 0 && mk_http_query_param(r, "replay", (char[2]){0}, 2) == NULL) {
    mk_http_respond(r, 302, "text/plain; charset=utf-8", server_of(r)->location,
                    "see /?replay\n", 13);
    return;
  }
  mk_dashboard_serve(r);
}

static void get_trace(struct mk_http_request *r) { mk_dashboard_serve_trace(r, server_of(r)->path); }

static const struct mk_http_route routes[] = {
    {"GET", "/v1/trace", get_trace},
    {"GET", "/", get_root},
    {"GET", "/dashboard", mk_dashboard_serve},
    {"GET", "/dashboard/*", mk_dashboard_serve},
};

static void on_signal(uv_signal_t *h, int sig) {
  struct replay_server *s = h->data;
  fprintf(stderr, "minikafka replay: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  mk_http_server_close(s->http);
  uv_close((uv_handle_t *)&s->sigint, NULL);
  uv_close((uv_handle_t *)&s->sigterm, NULL);
}

/* NAME for the URL: the file's base name, %-encoded but for [A-Za-z0-9._-]. */
static void url_name(const char *path, char *out, size_t len) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t n = 0;
  for (const unsigned char *c = (const unsigned char *)base; *c && n + 4 < len; c++) {
    bool plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                 (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-';
    n += (size_t)(plain ? snprintf(out + n, len - n, "%c", *c)
                        : snprintf(out + n, len - n, "%%%02X", *c));
  }
  out[n] = '\0';
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: minikafka replay FILE [--port P]\n"
          "\n"
          "Serve the dashboard with FILE (a --trace file from minikafka broker, a lab, produce\n"
          "or perf) to replay: play, step, scrub. Prints the URL to open; Ctrl-C stops.\n"
          "\n"
          "  --port P    listen on 127.0.0.1:P (default: any free port)\n");
}

int mk_cli_replay(int argc, char **argv) {
  const char *path = NULL;
  int port = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return MK_EXIT_OK;
    }
    if (strcmp(argv[i], "--port") == 0) {
      if (i + 1 >= argc) {
        fprintf(stderr, "minikafka replay: --port needs a value\n");
        return MK_EXIT_USAGE;
      }
      if (mk_cli_parse_int("replay", "--port", argv[++i], 0, 65535, &port)) return MK_EXIT_USAGE;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "minikafka replay: unknown option %s\n", argv[i]);
      usage(stderr);
      return MK_EXIT_USAGE;
    } else if (path) {
      fprintf(stderr, "minikafka replay: one trace file at a time (got %s and %s)\n", path,
              argv[i]);
      return MK_EXIT_USAGE;
    } else {
      path = argv[i];
    }
  }
  if (!path) {
    usage(stderr);
    return MK_EXIT_USAGE;
  }
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "minikafka replay: %s: %s\n", path, strerror(errno));
    return MK_EXIT_FAILED;
  }
  fclose(f);

  struct replay_server s = {.path = path};
  char name[512];
  url_name(path, name, sizeof name);
  snprintf(s.location, sizeof s.location, "Location: /?replay=%s\r\n", name);
  mk_block_sigpipe();
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct mk_http_options o = {
      .name = "replay",
      .host = "127.0.0.1",
      .port = port,
      .routes = routes,
      .nroutes = sizeof routes / sizeof routes[0],
      .opaque = &s,
  };
  struct mk_err err = {0};
  if (mk_http_server_start(&loop, &o, &s.http, &err)) {
    fprintf(stderr, "minikafka replay: %s (--port 0 picks a free port)\n", err.msg);
    uv_loop_close(&loop);
    return MK_EXIT_FAILED;
  }
  uv_signal_init(&loop, &s.sigint);
  uv_signal_init(&loop, &s.sigterm);
  s.sigint.data = s.sigterm.data = &s;
  uv_signal_start(&s.sigint, on_signal, SIGINT);
  uv_signal_start(&s.sigterm, on_signal, SIGTERM);
  printf("minikafka replay: %s/?replay=%s\n", mk_http_server_url(s.http), name);
  printf("open it in a browser to play, step and scrub %s (Ctrl-C stops)\n", path);
  fflush(stdout);
  uv_run(&loop, UV_RUN_DEFAULT);
  mk_http_server_free(s.http);
  int closed = uv_loop_close(&loop);
  return closed == 0 ? MK_EXIT_OK : MK_EXIT_FAILED;
}
