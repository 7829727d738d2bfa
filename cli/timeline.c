/*
 * minikafka timeline: the labs' two-lane timeline (labs/timeline.h) of any trace, for a
 * terminal without a browser.
 *
 *   minikafka timeline FILE              a --trace file (broker, lab, produce, perf) or a
 *                                        saved event stream; long ones summarised unless
 *                                        --full
 *   minikafka timeline -                 stdin, drawn as the lines come: a pipe from
 *                                        `curl -sN http://127.0.0.1:9644/v1/events` works
 *   minikafka timeline --follow URL      live from a broker's event stream (URL is the
 *                                        admin API's, http://127.0.0.1:9644, or its
 *                                        /v1/events); if the broker goes away (a lab
 *                                        restarting its broker, Ctrl-C in the broker's
 *                                        terminal) it reconnects every second until Ctrl-C
 *
 * Both live modes read the stream with common/sse_reader.h and draw each event when it
 * arrives (mk_timeline_live_*): arrival order, no summary. Ctrl-C (or SIGTERM) ends them
 * with a line of counts and exit status 0.
 *
 * Exit status: 0, 1 when the input cannot be read or the URL answers something that is not
 * an event stream, 2 for a bad command line.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/sse_reader.h"
#include "labs/timeline.h"

static volatile sig_atomic_t stop;

static void on_stop(int sig) {
  (void)sig;
  stop = 1;
}

/* SIGINT and SIGTERM set `stop` and interrupt a blocking call (no SA_RESTART). */
static void catch_stop(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

static bool colour_for(FILE *out) { return isatty(fileno(out)) && !getenv("NO_COLOR"); }

/* ---- a whole file ------------------------------------------------------------------------- */

struct lines {
  char **v;
  size_t n, cap;
  bool oom;
};

static void keep_line(void *opaque, const char *data, size_t len) {
  struct lines *l = opaque;
  if (l->oom) return;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 1024;
    char **grown = realloc(l->v, cap * sizeof *grown);
    if (!grown) {
      l->oom = true;
      return;
    }
    l->v = grown;
    l->cap = cap;
  }
  char *copy = malloc(len + 1);
  if (!copy) {
    l->oom = true;
    return;
  }
  memcpy(copy, data, len);
  copy[len] = '\0';
  l->v[l->n++] = copy;
}

int mk_cli_timeline_file(const char *path, bool full, bool all_events) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
  if (!f) {
    fprintf(stderr, "minikafka timeline: %s: %s\n", path, strerror(errno));
    return MK_EXIT_FAILED;
  }
  struct mk_sse_reader r;
  mk_sse_reader_init(&r, false);
  struct lines lines = {0};
  char buf[64 * 1024];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) mk_sse_reader_feed(&r, buf, n, keep_line, &lines);
  mk_sse_reader_finish(&r, keep_line, &lines);
  int rc = MK_EXIT_OK;
  if (ferror(f)) {
    fprintf(stderr, "minikafka timeline: reading %s: %s\n", path, strerror(errno));
    rc = MK_EXIT_FAILED;
  } else if (lines.oom) {
    fprintf(stderr, "minikafka timeline: %s: out of memory after %zu lines\n", path, lines.n);
    rc = MK_EXIT_FAILED;
  } else {
    struct mk_timeline_options o = {.out = stdout, .colour = colour_for(stdout), .width = 120,
                                    .max_events = full ? 0 : 60, .all_events = all_events};
    mk_timeline_render(&o, path, (const char *const *)lines.v, lines.n);
    if (r.skipped) fprintf(stderr, "minikafka timeline: %zu overlong lines skipped\n", r.skipped);
  }
  if (f != stdin) fclose(f);
  mk_sse_reader_free(&r);
  for (size_t i = 0; i < lines.n; i++) free(lines.v[i]);
  free(lines.v);
  return rc;
}

/* ---- live --------------------------------------------------------------------------------- */

static void draw_line(void *opaque, const char *data, size_t len) {
  mk_timeline_live_line(opaque, data, len);
}

/* Read fd until it ends (0), fails (-1 with *why), or Ctrl-C; each event drawn at once.
 * Returns 1 when the reader refused the input (r->error says why). */
static int pump(int fd, struct mk_sse_reader *r, struct mk_timeline_live *tl) {
  char buf[64 * 1024];
  while (!stop) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int ready = poll(&p, 1, 500);  /* wake up now and then to see a Ctrl-C */
    if (ready < 0 && errno != EINTR) return -1;
    if (ready <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n == 0 ? 0 : -1;
    if (mk_sse_reader_feed(r, buf, (size_t)n, draw_line, tl) < 0) return 1;
  }
  return 0;
}

static int follow_stdin(const struct mk_timeline_options *o) {
  struct mk_timeline_live tl;
  mk_timeline_live_begin(&tl, o, NULL);
  struct mk_sse_reader r;
  mk_sse_reader_init(&r, false);
  int rc = pump(STDIN_FILENO, &r, &tl);
  if (rc == 0 && !stop) mk_sse_reader_finish(&r, draw_line, &tl);
  if (rc < 0) fprintf(stderr, "minikafka timeline: reading stdin: %s\n", strerror(errno));
  mk_timeline_live_end(&tl);
  mk_sse_reader_free(&r);
  return rc < 0 ? MK_EXIT_FAILED : MK_EXIT_OK;
}

/* "http://HOST[:PORT][/PATH]": the parts; PATH "" or "/" becomes /v1/events. */
static int parse_url(const char *url, char *host, size_t hlen, char *port, size_t plen,
                     char *path, size_t pathlen) {
  if (strncmp(url, "http://", 7) != 0) return -1;
  const char *h = url + 7, *slash = strchr(h, '/');
  size_t hostport = slash ? (size_t)(slash - h) : strlen(h);
  const char *colon = memchr(h, ':', hostport);
  size_t hl = colon ? (size_t)(colon - h) : hostport;
  if (hl == 0 || hl >= hlen) return -1;
  memcpy(host, h, hl);
  host[hl] = '\0';
  size_t pl = colon ? hostport - hl - 1 : 2;
  if (pl == 0 || pl >= plen) return -1;
  if (colon) {
    memcpy(port, colon + 1, pl);
    port[pl] = '\0';
  } else {
    snprintf(port, plen, "80");
  }
  for (const char *c = port; *c; c++)
    if (*c < '0' || *c > '9') return -1;
  const char *p = slash && strcmp(slash, "/") != 0 ? slash : "/v1/events";
  if (strlen(p) >= pathlen) return -1;
  snprintf(path, pathlen, "%s", p);
  return 0;
}

/* A connected socket to host:port, or -1 with *why. */
static int dial(const char *host, const char *port, const char **why) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
  int gai = getaddrinfo(host, port, &hints, &res);
  if (gai) {
    *why = gai_strerror(gai);
    return -1;
  }
  int fd = -1;
  *why = "no address";
  for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      *why = strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  return fd;
}

static int follow_url(const char *url, const struct mk_timeline_options *o) {
  char host[256], port[16], path[512];
  if (parse_url(url, host, sizeof host, port, sizeof port, path, sizeof path)) {
    fprintf(stderr, "minikafka timeline: --follow takes http://HOST:PORT (a broker's admin API, "
                    "e.g. http://127.0.0.1:9644), got \"%s\"\n", url);
    return MK_EXIT_USAGE;
  }
  char title[900];
  snprintf(title, sizeof title, "live: http://%s:%s%s (Ctrl-C stops)", host, port, path);
  struct mk_timeline_live tl;
  mk_timeline_live_begin(&tl, o, title);
  int rc = MK_EXIT_OK;
  bool said_waiting = false;
  while (!stop) {
    const char *why = NULL;
    int fd = dial(host, port, &why);
    if (fd < 0) {
      if (!said_waiting)
        fprintf(stderr, "minikafka timeline: cannot connect to %s:%s (%s); trying every second "
                        "until it answers (Ctrl-C stops)\n", host, port, why);
      said_waiting = true;
      sleep(1);
      continue;
    }
    char req[1200];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%s\r\nAccept: text/event-stream"
                     "\r\nUser-Agent: minikafka-timeline\r\n\r\n", path, host, port);
    struct mk_sse_reader r;
    mk_sse_reader_init(&r, true);
    int got = send(fd, req, (size_t)n, MSG_NOSIGNAL) == n ? pump(fd, &r, &tl) : -1;
    close(fd);
    if (got == 1 || (got == 0 && !stop && r.status == 0)) {
      if (got == 0) mk_sse_reader_finish(&r, draw_line, &tl);
      fprintf(stderr, "minikafka timeline: %s%s: %s\n", host, path,
              r.error[0] ? r.error : "no answer");
      mk_sse_reader_free(&r);
      rc = MK_EXIT_FAILED;
      break;
    }
    mk_sse_reader_free(&r);
    if (stop) break;
    fprintf(stderr, "minikafka timeline: the stream from %s:%s ended (the broker stopped?); "
                    "reconnecting\n", host, port);
    said_waiting = true;
    sleep(1);
  }
  mk_timeline_live_end(&tl);
  return rc;
}

/* ---- the command -------------------------------------------------------------------------- */

static void usage(FILE *out) {
  fprintf(out,
          "usage: minikafka timeline FILE         a trace file as the two-lane timeline\n"
          "       minikafka timeline -            stdin, drawn as it comes\n"
          "       minikafka timeline --follow URL  live from a broker's /v1/events\n"
          "                                        (URL: its admin API, http://127.0.0.1:9644)\n"
          "\n"
          "  --full          draw every event of a FILE (a long one is summarised)\n"
          "  --all-events    draw Metadata, ApiVersions and broker_state events too\n");
}

int mk_cli_timeline(int argc, char **argv) {
  enum { OPT_FOLLOW = 1000, OPT_FULL, OPT_ALL };
  static const struct option longopts[] = {
      {"follow", required_argument, NULL, OPT_FOLLOW},
      {"full", no_argument, NULL, OPT_FULL},
      {"all-events", no_argument, NULL, OPT_ALL},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *url = NULL;
  bool full = false, all = false;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
      case OPT_FOLLOW: url = optarg; break;
      case OPT_FULL: full = true; break;
      case OPT_ALL: all = true; break;
      case 'h': usage(stdout); return MK_EXIT_OK;
      default: usage(stderr); return MK_EXIT_USAGE;
    }
  }
  int nargs = argc - optind;
  if ((url && nargs != 0) || (!url && nargs != 1)) {
    fprintf(stderr, "minikafka timeline: %s\n",
            url ? "--follow URL takes no FILE" : "which trace? give a FILE, - for stdin, or "
                                                 "--follow URL");
    usage(stderr);
    return MK_EXIT_USAGE;
  }
  struct mk_timeline_options o = {.out = stdout, .colour = colour_for(stdout), .width = 120,
                                  .all_events = all};
  if (url) {
    catch_stop();
    return follow_url(url, &o);
  }
  if (strcmp(argv[optind], "-") == 0) {
    catch_stop();
    return follow_stdin(&o);
  }
  return mk_cli_timeline_file(argv[optind], full, all);
}
