/*
 * Fuzz target: the admin HTTP API as a client on the network sees it (common/http_server.c:
 * parsing, limits, Host/Origin checks, keep-alive, streams; broker/admin_http.c and
 * admin_state.c: routes and JSON bodies; controller.c and faults.c behind POST /v1/faults;
 * topic creation behind POST /v1/topics). Run it as described in tests/fuzz/README.md.
 *
 * Each input gets a fresh broker (one virtual broker, the admin API on a free loopback
 * port, not started on a thread: this target runs the loop itself while it waits), and one
 * connection to the admin port carrying the input. Its first byte chooses how:
 *
 *   0  the rest, as it is (any bytes: half a request line, pipelined requests, garbage)
 *   1  a POST /v1/faults with the rest as its JSON body
 *   2  a POST /v1/topics with the rest as its JSON body
 *   3  a request line and headers: "GET /v1/" + the rest (path, query, headers, body)
 *   4  a DELETE /v1/faults, then the rest as it is, on the same connection
 *
 * so the JSON handlers are reached without the fuzzer first having to learn HTTP framing.
 * The client then closes its side and the loop runs until the server has answered and
 * closed, or has nothing left to do. Properties:
 *   - whatever came before, a new connection with a whole GET /v1/cluster is answered
 *     200 with a JSON object (the broker neither died nor locked its API);
 *   - every answer on the fuzzed connection starts with an HTTP/1.1 status line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/broker_internal.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static struct mk_broker *broker;

static void die(const char *what, const char *got, size_t len) {
  fprintf(stderr, "fuzz_admin_http: %s\ngot: %.*s\n", what, (int)(len > 2000 ? 2000 : len), got);
  abort();
}

static void pump(void) { uv_run(&broker->loop, UV_RUN_NOWAIT); }

static int connect_admin(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)mk_broker_admin_port(broker)),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  fcntl(fd, F_SETFL, O_NONBLOCK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) abort();
  return fd;
}

/* Send buf (running the loop while the socket is full), close our side, then collect what
 * the server sends until it closes or stays quiet. Returns the bytes received (malloc'ed). */
static char *exchange(int fd, const uint8_t *buf, size_t len, size_t *got) {
  for (int spins = 0; len > 0 && spins < 100000; spins++) {
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n > 0) {
      buf += n;
      len -= (size_t)n;
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      break;  /* the server closed it already (a 4xx and close): fine */
    }
    pump();
  }
  shutdown(fd, SHUT_WR);
  size_t cap = 1 << 16, have = 0;
  char *out = malloc(cap);
  int quiet = 0;
  while (quiet < 2000) {
    if (have == cap && !(out = realloc(out, cap *= 2))) abort();
    ssize_t n = recv(fd, out + have, cap - have, 0);
    if (n > 0) {
      have += (size_t)n;
      quiet = 0;
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) break;
    pump();
    quiet++;
  }
  *got = have;
  return out;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  mk_log_set_level(MK_LOG_ERROR);
  return 0;
}

static void append(uint8_t **buf, size_t *len, const void *p, size_t n) {
  *buf = realloc(*buf, *len + n + 1);
  if (!*buf) abort();
  memcpy(*buf + *len, p, n);
  *len += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  struct mk_broker_config cfg;
  mk_broker_config_init(&cfg);
  cfg.port = 0;
  cfg.admin_port = 0;
  cfg.brokers = 1;
  cfg.min_insync_replicas = 1;
  struct mk_err err = {0};
  if (mk_broker_new(&cfg, &broker, &err)) {
    fprintf(stderr, "fuzz_admin_http: %s\n", err.msg);
    abort();
  }
  unsigned how = data[0] % 5;
  const uint8_t *rest = data + 1;
  size_t n = size - 1;
  uint8_t *req = NULL;
  size_t len = 0;
  char head[256];
  if (how == 1 || how == 2) {
    int h = snprintf(head, sizeof head,
                     "POST /v1/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n", how == 1 ? "faults" : "topics", n);
    append(&req, &len, head, (size_t)h);
  } else if (how == 3) {
    append(&req, &len, "GET /v1/", 8);
  } else if (how == 4) {
    static const char del[] = "DELETE /v1/faults HTTP/1.1\r\nHost: localhost\r\n\r\n";
    append(&req, &len, del, sizeof del - 1);
  }
  append(&req, &len, rest, n);

  int fd = connect_admin();
  size_t got;
  char *answer = exchange(fd, req, len, &got);
  close(fd);
  if (got > 0 && (got < 9 || memcmp(answer, "HTTP/1.1 ", 9) != 0))
    die("the server's first bytes are not an HTTP/1.1 status line", answer, got);
  free(answer);
  free(req);

  static const char probe[] = "GET /v1/cluster HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  fd = connect_admin();
  answer = exchange(fd, (const uint8_t *)probe, sizeof probe - 1, &got);
  close(fd);
  const char *body = got > 12 ? strstr(answer, "\r\n\r\n") : NULL;
  if (got < 12 || memcmp(answer, "HTTP/1.1 200", 12) != 0 || !body)
    die("GET /v1/cluster after the input was not answered 200", answer, got);
  json_t *j = json_loadb(body + 4, got - (size_t)(body + 4 - answer), 0, NULL);
  if (!json_is_object(j)) die("GET /v1/cluster did not answer a JSON object", answer, got);
  json_decref(j);
  free(answer);

  mk_broker_free(broker);
  broker = NULL;
  return 0;
}
