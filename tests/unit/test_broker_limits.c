/*
 * Tests for the bounds on what clients can make the broker hold (broker/network.c,
 * connection_quotas.c, memory_pool.c; Kafka: SocketServer, ConnectionQuotas, MemoryPool):
 *
 *   - a client that pipelines requests and never reads its answers stops being read once
 *     MK_CONN_MAX_QUEUED requests or MK_CONN_MAX_UNSENT bytes of answers wait for it;
 *   - a size prefix costs what has arrived, not what it announces;
 *   - queued.max.request.bytes makes clients wait (no error), and half-read frames that
 *     together hold it all still finish one after another;
 *   - connections.max.idle.ms closes idle connections, socket.request.read.timeout.ms a
 *     frame that stalls (a slowloris trickle too);
 *   - max.connections keeps new connections waiting until one closes, max.connections.per.ip
 *     closes the one too many, socket.listen.backlog.size reaches listen();
 *   - out of memory at accept closes that connection only, and the listener keeps listening;
 *   - fetch.max.bytes caps a Fetch answer;
 *   - retention keeps what it says (a small batch does not pin its request's frame), and
 *     log.memory.max.bytes bounds all logs together, deleting the oldest of the largest;
 *   - log lines about bad clients are rate-limited;
 *   - --host 0.0.0.0 needs --advertised-host, which is what Metadata tells clients.
 *
 * Each test starts its own embedded broker with the settings it needs (test_broker.h), and
 * looks inside it (connections, the request memory pool) through broker_internal.h, on the
 * broker's loop (mk_broker_call). Every wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
/* The checks look inside the broker: its connections and its request memory. */
#include "broker/broker_internal.h"
#include "broker/internal_topics.h"
#include "protocol/api.h"
#include "protocol/frame.h"
#include "protocol/messages/api_versions.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/produce.h"
#include "common/trace.h"
#include "tests/support/raw_client.h"
#include "tests/support/test_broker.h"

enum { WAIT_MS = 5000, QUIET_MS = 300 };

static struct mk_broker *broker;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) { usleep((useconds_t)ms * 1000); }

static int teardown(void **state) {
  (void)state;
  if (broker) {
    mk_broker_stop(broker);
    mk_broker_free(broker);
    broker = NULL;
  }
  return 0;
}

#define start_broker(...) assert_int_equal(test_broker_start(&broker, __VA_ARGS__, NULL), 0)

/* ---- sockets ------------------------------------------------------------------------------ */

/* A connection to broker 0 (rcvbuf > 0: a small receive buffer, so answers back up fast).
 * Non-blocking after connect. */
static int connect_to(int rcvbuf) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)mk_broker_port(broker, 0)),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
    fail_msg("connect: %s", strerror(errno));
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

static int local_port(int fd) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  return ntohs(a.sin_port);
}

/* Send as much of buf as the socket takes within ms; returns the bytes sent. */
static size_t send_for(int fd, const void *buf, size_t len, int ms) {
  const uint8_t *p = buf;
  size_t sent = 0;
  int64_t until = now_ms() + ms;
  while (sent < len && now_ms() < until) {
    ssize_t n = send(fd, p + sent, len - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += (size_t)n;
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
    struct pollfd pfd = {fd, POLLOUT, 0};
    poll(&pfd, 1, 20);
  }
  return sent;
}

static void send_all(int fd, const void *buf, size_t len) {
  assert_int_equal(send_for(fd, buf, len, WAIT_MS), len);
}

/* What arrives within ms: 1 = bytes, 0 = nothing, -1 = the broker closed the connection. */
static int peek_answer(int fd, int ms) {
  struct pollfd pfd = {fd, POLLIN, 0};
  if (poll(&pfd, 1, ms) <= 0) return 0;
  uint8_t b;
  ssize_t n = recv(fd, &b, 1, MSG_PEEK);
  return n > 0 ? 1 : n == 0 || errno == ECONNRESET ? -1 : 0;
}

/* Read one whole response frame (up to WAIT_MS); returns its size, or -1 if the connection
 * closed first. */
static int64_t read_frame(int fd, uint8_t **body) {
  uint8_t size_buf[4];
  size_t got = 0, size = 4;
  uint8_t *dst = size_buf;
  *body = NULL;
  int64_t until = now_ms() + WAIT_MS;
  for (int part = 0; part < 2; part++) {
    while (got < size) {
      if (now_ms() > until) fail_msg("no whole response within %d ms", WAIT_MS);
      ssize_t n = recv(fd, dst + got, size - got, 0);
      if (n > 0) {
        got += (size_t)n;
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        free(*body);
        *body = NULL;
        return -1;
      } else {
        struct pollfd pfd = {fd, POLLIN, 0};
        poll(&pfd, 1, 20);
      }
    }
    if (part == 0) {
      size = (size_t)mk_load_u32(size_buf);
      assert_true(size >= 4 && size < (64u << 20));
      *body = malloc(size);
      assert_non_null(*body);
      dst = *body;
      got = 0;
    }
  }
  return (int64_t)size;
}

/* The bytes of one request frame (size prefix included) into w. */
static void encode_request(struct mk_writer *w, int api_key, int version, int32_t id,
                           const void *body) {
  struct mk_request_header h = {(int16_t)api_key, (int16_t)version, id, mk_str_of("limits")};
  struct mk_err err = {0};
  assert_int_equal(mk_request_encode(w, &h, body, &err), 0);
}

static void encode_api_versions(struct mk_writer *w, int32_t id) {
  struct mk_api_versions_request r;
  mk_schema_set_defaults(&mk_api_versions_request_schema, &r);
  encode_request(w, MK_API_API_VERSIONS, 3, id, &r);
}

/* ApiVersions on fd, and its answer within ms: true if one came. */
static bool answered_within(int fd, int ms) {
  struct mk_writer w;
  mk_writer_init(&w);
  encode_api_versions(&w, 7);
  send_all(fd, w.buf, w.len);
  mk_writer_free(&w);
  return peek_answer(fd, ms) == 1;
}

/* ---- looking inside the broker ------------------------------------------------------------ */

struct probe {
  int port;              /* in: the client's local port, to find its connection */
  bool found;            /* out: the broker has it open */
  bool reading;
  int queued;            /* requests read and not yet answered */
  size_t unsent;         /* answer bytes not yet in the socket (encoded or queued) */
  size_t frame_bytes;    /* the frame buffer being filled */
  int nconns;            /* broker 0's open connections */
  int64_t pool_used, pool_peak;
};

static void probe_on_loop(struct mk_broker *b, void *arg) {
  struct probe *p = arg;
  p->found = false;
  p->nconns = b->listeners[0].nconns;
  p->pool_used = b->request_memory.used;
  p->pool_peak = b->request_memory.peak;
  char suffix[16];
  snprintf(suffix, sizeof suffix, ":%d", p->port);
  for (struct mk_conn *c = b->listeners[0].conns; c; c = c->next) {
    size_t n = strlen(c->peer), m = strlen(suffix);
    if (n < m || strcmp(c->peer + n - m, suffix) != 0) continue;
    p->found = true;
    /* A connection that took a request this turn reads again when the turn ends
     * (network.c, yield_turn): it has not stopped being read. */
    p->reading = c->reading || c->yielded;
    p->queued = c->queued;
    p->unsent = c->unsent + uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
    p->frame_bytes = c->frame ? c->frame->size : 0;
  }
}

static struct probe probe(int fd) {
  struct probe p = {.port = fd >= 0 ? local_port(fd) : -1};
  assert_int_equal(mk_broker_call(broker, probe_on_loop, &p), 0);
  return p;
}

/* Wait until the broker stops reading fd's connection; returns what it holds then. */
static struct probe wait_not_reading(int fd) {
  int64_t until = now_ms() + WAIT_MS;
  struct probe p;
  while (!(p = probe(fd)).found || p.reading) {
    if (now_ms() > until && p.found) fail_msg("the broker still reads a client that never reads");
    if (now_ms() > until) fail_msg("the broker has not accepted the connection");
    sleep_ms(10);
  }
  return p;
}

/* A Fetch v11 request for topic-0 from offset 0 (its parts in *f, which must outlive it). */
struct fetch_req {
  struct mk_fetch_partition part;
  struct mk_fetch_topic topic;
  struct mk_fetch_request req;
};

static struct mk_fetch_request *fetch_from_start(struct fetch_req *f, const char *topic,
                                                 int32_t max_wait_ms, int32_t max_bytes) {
  mk_schema_set_defaults(&mk_fetch_partition_schema, &f->part);
  f->part.partition_max_bytes = 1 << 20;
  mk_schema_set_defaults(&mk_fetch_topic_schema, &f->topic);
  f->topic.topic = mk_str_of(topic);
  f->topic.partitions = &f->part;
  f->topic.partitions_count = 1;
  mk_schema_set_defaults(&mk_fetch_request_schema, &f->req);
  f->req.max_wait_ms = max_wait_ms;
  f->req.min_bytes = 1;
  f->req.max_bytes = max_bytes;
  f->req.topics = &f->topic;
  f->req.topics_count = 1;
  return &f->req;
}

/* ---- a client that does not read ---------------------------------------------------------- */

/* 200 pipelined Fetch requests, each answered with ~256 KiB, from a client that never reads:
 * the broker stops reading it, holding about MK_CONN_MAX_UNSENT of answers (plus the one
 * that crossed the line), not 50 MB. Without the bound it read all 200 and queued every
 * answer. */
static void test_a_client_that_never_reads_stops_being_read(void **state) {
  (void)state;
  start_broker("num.partitions", "1", "default.replication.factor", "1", "min.insync.replicas", "1");
  struct raw_client rc;
  assert_int_equal(raw_client_connect(&rc, mk_broker_port(broker, 0)), 0);
  test_broker_create_topic(broker, "big", 1, 1, NULL);
  struct mk_writer batch;
  mk_writer_init(&batch);
  raw_client_build_batch(&batch, 400, -1, -1, -1);  /* about 4 KiB */
  size_t stored = 0;
  while (stored < 256 * 1024) {  /* 256 KiB to fetch */
    assert_non_null(raw_client_produce(&rc, "big", 0, 1, &batch, 9, WAIT_MS));
    raw_client_forget(&rc);
    stored += batch.len;
  }
  mk_writer_free(&batch);
  raw_client_close(&rc);

  struct fetch_req f;
  const struct mk_fetch_request *fetch = fetch_from_start(&f, "big", 0, 1 << 20);
  struct mk_writer w;
  mk_writer_init(&w);
  for (int i = 0; i < 200; i++) encode_request(&w, MK_API_FETCH, 11, i, fetch);

  int fd = connect_to(4096);
  size_t sent = send_for(fd, w.buf, w.len, 1000);  /* stops when the broker stops reading */
  struct probe p = wait_not_reading(fd);
  print_message("sent %zu of %zu request bytes; the broker holds %zu answer bytes for %d "
                "requests\n", sent, w.len, p.unsent, p.queued);
  assert_true(p.found);
  assert_true(p.unsent >= 256 * 1024);  /* answers did back up: the test tests something */
  assert_true(p.unsent <= MK_CONN_MAX_UNSENT + 300 * 1024);
  assert_true(p.queued <= MK_CONN_MAX_QUEUED);
  /* Reading again: every answer still arrives, in order. */
  for (int i = 0; i < 200; i++) {
    if (i == 0) send_all(fd, w.buf + sent, w.len - sent);  /* the rest, now it reads again */
    uint8_t *body;
    int64_t n = read_frame(fd, &body);
    assert_true(n >= 4);
    int32_t id = -1;
    mk_response_peek_correlation_id(body, (size_t)n, &id);
    free(body);
    assert_int_equal(id, i);
  }
  mk_writer_free(&w);
  close(fd);
}

/* Long-poll Fetch requests that all park: at most MK_CONN_MAX_QUEUED are read. */
static void test_parked_requests_per_connection_are_bounded(void **state) {
  (void)state;
  start_broker("num.partitions", "1", "default.replication.factor", "1");
  test_broker_create_topic(broker, "empty", 1, 1, NULL);
  struct fetch_req f;  /* nothing to fetch: each waits 300 ms */
  const struct mk_fetch_request *fetch = fetch_from_start(&f, "empty", 300, 1 << 20);
  struct mk_writer w;
  mk_writer_init(&w);
  for (int i = 0; i < 100; i++) encode_request(&w, MK_API_FETCH, 11, i, fetch);
  int fd = connect_to(0);
  send_all(fd, w.buf, w.len);  /* 100 small frames: the socket buffers take them all */
  struct probe p = wait_not_reading(fd);
  assert_int_equal(p.queued, MK_CONN_MAX_QUEUED);
  /* They time out, are answered, and the next ones are read: all 100 answers come. */
  for (int i = 0; i < 100; i++) {
    uint8_t *body;
    assert_true(read_frame(fd, &body) >= 4);
    free(body);
  }
  mk_writer_free(&w);
  close(fd);
}

/* ---- request memory ----------------------------------------------------------------------- */

/* 50 connections each announce a 100 MB frame and send 1 KiB of it: the broker holds about
 * 50 x FRAME_CHUNK (64 KiB), not 5 GB. */
static void test_a_size_prefix_alone_costs_little(void **state) {
  (void)state;
  start_broker("queued.max.request.bytes", "-1");
  enum { N = 50 };
  int fds[N];
  uint8_t head[4 + 1024] = {0};
  mk_store_u32(head, 100000000);
  for (int i = 0; i < N; i++) {
    fds[i] = connect_to(0);
    send_all(fds[i], head, sizeof head);
  }
  int64_t until = now_ms() + WAIT_MS;
  struct probe p;
  while ((p = probe(-1)).pool_used < N * 1024 && now_ms() < until) sleep_ms(10);
  print_message("%d frames of 100 MB announced: %lld bytes held\n", N, (long long)p.pool_used);
  assert_true(p.pool_used >= N * 1024);
  assert_true(p.pool_used <= N * 64 * 1024);
  for (int i = 0; i < N; i++) close(fds[i]);
  until = now_ms() + WAIT_MS;
  while (probe(-1).pool_used != 0 && now_ms() < until) sleep_ms(10);
  assert_int_equal(probe(-1).pool_used, 0);  /* closed connections give it all back */
}

/* queued.max.request.bytes = 1 MiB. A client in the middle of a 3 MiB frame takes all of it;
 * another client's small request then waits (no answer, no error) until that frame is whole,
 * and is answered right after. */
static void test_queued_max_request_bytes_makes_others_wait(void **state) {
  (void)state;
  start_broker("queued.max.request.bytes", "1048576");
  enum { BIG = 3 << 20 };
  uint8_t *big = calloc(1, 4 + BIG);
  assert_non_null(big);
  mk_store_u32(big, BIG);  /* garbage inside: the broker closes it once it is whole */
  int a = connect_to(0);
  send_all(a, big, 4 + (2 << 20));
  int64_t until = now_ms() + WAIT_MS;
  while (probe(a).frame_bytes < (1 << 20) && now_ms() < until) sleep_ms(10);
  assert_true(probe(a).pool_used >= 1 << 20);  /* the pool is used up */
  int b = connect_to(0);
  assert_false(answered_within(b, QUIET_MS));  /* b waits */
  assert_true(probe(b).found);                 /* ... and is not closed */
  send_all(a, big + 4 + (2 << 20), BIG - (2 << 20));  /* a finishes its frame (past the limit) */
  assert_int_equal(peek_answer(b, WAIT_MS), 1);       /* and b is answered */
  assert_true(probe(-1).pool_peak <= (1 << 20) + BIG);
  free(big);
  close(a);
  close(b);
}

/* Three clients each send 600 KiB of a 1 MiB frame, with 1 MiB of pool between them: they
 * wait for each other, but one at a time is let past the limit, so all three finish. */
static void test_half_read_frames_that_fill_the_pool_all_finish(void **state) {
  (void)state;
  start_broker("queued.max.request.bytes", "1048576", "socket.request.read.timeout.ms", "-1");
  enum { N = 3, SIZE = 1 << 20, FIRST = 600 << 10 };
  /* Zeros after the size: a Produce v0 header, which this broker does not take; it closes
   * the connection once the frame is whole, and the close is what each client waits for. */
  uint8_t *frame = calloc(1, 4 + SIZE);
  assert_non_null(frame);
  mk_store_u32(frame, SIZE);
  int fds[N];
  size_t sent[N];
  for (int i = 0; i < N; i++) {
    fds[i] = connect_to(0);
    sent[i] = send_for(fds[i], frame, 4 + FIRST, 300);
  }
  /* Then the rest, a little to each in turn, until every connection is closed. */
  bool closed[N] = {false};
  int nclosed = 0;
  int64_t until = now_ms() + 3 * WAIT_MS;
  while (nclosed < N && now_ms() < until) {
    for (int i = 0; i < N; i++) {
      if (closed[i]) continue;
      if (sent[i] < 4 + SIZE) sent[i] += send_for(fds[i], frame + sent[i], 4 + SIZE - sent[i], 5);
      if (peek_answer(fds[i], 1) == -1) {
        closed[i] = true;
        nclosed++;
      }
    }
  }
  for (int i = 0; i < N; i++) {
    print_message("client %d: %zu of %d bytes sent, %s\n", i, sent[i], 4 + SIZE,
                  closed[i] ? "frame read whole and refused" : "still waiting");
    assert_true(closed[i]);
    assert_int_equal(sent[i], 4 + SIZE);
    close(fds[i]);
  }
  free(frame);
  until = now_ms() + WAIT_MS;
  while (probe(-1).pool_used != 0 && now_ms() < until) sleep_ms(10);
  assert_int_equal(probe(-1).pool_used, 0);
}

/* ---- time limits -------------------------------------------------------------------------- */

static void test_idle_connections_are_closed(void **state) {
  (void)state;
  start_broker("connections.max.idle.ms", "300");
  int idle = connect_to(0), busy = connect_to(0);
  int64_t start = now_ms();
  for (int i = 0; i < 8; i++) {  /* busy talks every 100 ms for 800 ms */
    assert_true(answered_within(busy, WAIT_MS));
    uint8_t *body;
    assert_true(read_frame(busy, &body) > 0);
    free(body);
    sleep_ms(100);
  }
  assert_int_equal(peek_answer(idle, WAIT_MS), -1);  /* idle: closed */
  print_message("idle connection closed after about %lld ms\n", (long long)(now_ms() - start));
  assert_true(answered_within(busy, WAIT_MS));       /* busy: still open */
  close(idle);
  close(busy);
}

/* A frame whose client stops half-way, and one that trickles a byte every 50 ms (never idle),
 * are both closed once socket.request.read.timeout.ms has passed since their first byte. */
static void test_a_frame_that_stalls_or_trickles_is_closed(void **state) {
  (void)state;
  start_broker("socket.request.read.timeout.ms", "400", "connections.max.idle.ms", "60000");
  uint8_t head[4 + 100] = {0};
  mk_store_u32(head, 1000);
  int stalled = connect_to(0), trickle = connect_to(0);
  send_all(stalled, head, sizeof head);
  int64_t start = now_ms();
  bool closed = false;
  for (int i = 0; i < 4 + 100 && !closed; i++) {
    if (send_for(trickle, head + i, 1, 100) != 1) closed = true;
    closed = closed || peek_answer(trickle, 50) == -1;
  }
  int64_t took = now_ms() - start;
  print_message("the trickling client was closed after %lld ms\n", (long long)took);
  assert_true(closed);
  assert_true(took >= 350 && took < 4000);
  assert_int_equal(peek_answer(stalled, WAIT_MS), -1);
  close(stalled);
  close(trickle);
}

/* ---- how many connections ----------------------------------------------------------------- */

static void test_max_connections_makes_new_ones_wait(void **state) {
  (void)state;
  start_broker("max.connections", "3");
  int fds[3];
  for (int i = 0; i < 3; i++) {
    fds[i] = connect_to(0);
    assert_true(answered_within(fds[i], WAIT_MS));
  }
  int late = connect_to(0);  /* the kernel completes the handshake; the broker waits */
  assert_false(answered_within(late, QUIET_MS));
  assert_int_equal(probe(-1).nconns, 3);
  close(fds[0]);
  assert_int_equal(peek_answer(late, WAIT_MS), 1);  /* taken as soon as a place is free */
  for (int i = 1; i < 3; i++) close(fds[i]);
  close(late);
}

static void test_max_connections_per_ip_closes_the_one_too_many(void **state) {
  (void)state;
  start_broker("max.connections.per.ip", "2");
  int a = connect_to(0), b = connect_to(0), c = connect_to(0);
  assert_int_equal(peek_answer(c, WAIT_MS), -1);  /* closed at once */
  assert_true(answered_within(a, WAIT_MS));
  assert_true(answered_within(b, WAIT_MS));
  close(a);
  int64_t until = now_ms() + WAIT_MS;
  while (probe(-1).nconns != 1 && now_ms() < until) sleep_ms(10);
  int d = connect_to(0);  /* a place is free again */
  assert_true(answered_within(d, WAIT_MS));
  close(b);
  close(c);
  close(d);
}

/* The backlog setting reaches listen(): `ss` shows a listening socket's backlog as Send-Q. */
static void test_listen_backlog_is_the_setting(void **state) {
  (void)state;
  start_broker("socket.listen.backlog.size", "7");
  char cmd[128];
  snprintf(cmd, sizeof cmd, "ss -ltnH 'sport = :%d'", mk_broker_port(broker, 0));
  FILE *f = popen(cmd, "r");
  assert_non_null(f);
  char line[256] = "";
  char *got = fgets(line, sizeof line, f);
  pclose(f);
  assert_non_null(got);
  char st[32];
  int recv_q = -1, send_q = -1;
  assert_int_equal(sscanf(line, "%31s %d %d", st, &recv_q, &send_q), 3);
  assert_int_equal(send_q, 7);
}

/* ---- out of memory at accept -------------------------------------------------------------- */

static void fail_next_accepts(struct mk_broker *b, void *arg) {
  b->fail_accept_allocs = *(int *)arg;
}

/* Three connections find no memory: each is accepted and closed, and the listener goes on
 * listening (libuv stops polling a listener whose connection is never accepted). */
static void test_out_of_memory_at_accept_closes_only_that_connection(void **state) {
  (void)state;
  start_broker("max.connections", "1000");
  int ok = connect_to(0);
  assert_true(answered_within(ok, WAIT_MS));
  int n = 3;
  assert_int_equal(mk_broker_call(broker, fail_next_accepts, &n), 0);
  for (int i = 0; i < n; i++) {
    int fd = connect_to(0);
    assert_int_equal(peek_answer(fd, WAIT_MS), -1);
    close(fd);
  }
  int later = connect_to(0);
  assert_true(answered_within(later, WAIT_MS));  /* still listening */
  assert_true(answered_within(ok, WAIT_MS));     /* and the others are untouched */
  close(ok);
  close(later);
}

/* ---- fetch.max.bytes ---------------------------------------------------------------------- */

static void test_fetch_max_bytes_caps_an_answer(void **state) {
  (void)state;
  start_broker("fetch.max.bytes", "10000", "num.partitions", "1", "default.replication.factor", "1");
  test_broker_create_topic(broker, "capped", 1, 1, NULL);
  struct raw_client rc;
  assert_int_equal(raw_client_connect(&rc, mk_broker_port(broker, 0)), 0);
  struct mk_writer batch;
  mk_writer_init(&batch);
  raw_client_build_batch(&batch, 100, -1, -1, -1);  /* ~1.5 KiB each */
  size_t one = batch.len;
  for (int i = 0; i < 30; i++) assert_non_null(raw_client_produce(&rc, "capped", 0, 1, &batch, 9, WAIT_MS));
  mk_writer_free(&batch);
  struct fetch_req f;  /* the client asks for 50 MB */
  const struct mk_fetch_request *fetch = fetch_from_start(&f, "capped", 0, 50 << 20);
  struct mk_fetch_response *resp;
  assert_int_equal(raw_client_call(&rc, MK_API_FETCH, 11, fetch, (void **)&resp, WAIT_MS), 0);
  int32_t bytes = resp->responses[0].partitions[0].records.len;
  print_message("30 batches of %zu bytes; one Fetch answered %d bytes\n", one, bytes);
  assert_true(bytes > 0 && bytes <= 10000);
  raw_client_close(&rc);
}

/* ---- rate-limited log lines --------------------------------------------------------------- */

/* 100 connections that each send a bad size prefix: at most MK_LOG_LIMIT_LINES lines about
 * them, then (in the next window) one line saying how many were left out. */
static void test_log_lines_about_bad_clients_are_rate_limited(void **state) {
  (void)state;
  start_broker("max.connections", "1000");
  char path[] = "/tmp/mk-limits-log-XXXXXX";
  int log_fd = mkstemp(path);
  assert_true(log_fd >= 0);
  unlink(path);
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  dup2(log_fd, STDERR_FILENO);
  uint8_t bad[4] = {0xff, 0xff, 0xff, 0xff};  /* size -1 */
  for (int i = 0; i < 100; i++) {
    int fd = connect_to(0);
    send_all(fd, bad, sizeof bad);
    assert_int_equal(peek_answer(fd, WAIT_MS), -1);
    close(fd);
  }
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  char text[65536];
  ssize_t n = pread(log_fd, text, sizeof text - 1, 0);
  close(log_fd);
  text[n > 0 ? n : 0] = '\0';
  int lines = 0;
  for (char *p = text; (p = strstr(p, "closing connection")); p++) lines++;
  print_message("100 bad clients: %d log lines\n", lines);
  assert_int_equal(lines, MK_LOG_LIMIT_LINES);
}

/* ---- the memory of logs ------------------------------------------------------------------ */

static void usage_on_loop(struct mk_broker *b, void *arg) {
  *(struct mk_log_usage *)arg = b->cluster.log_usage;
}

static struct mk_log_usage log_usage(void) {
  struct mk_log_usage u;
  assert_int_equal(mk_broker_call(broker, usage_on_loop, &u), 0);
  return u;
}

/* One Produce request carrying a batch for t1-0 and one for t2-partition2. */
static void produce_two(struct raw_client *rc, const char *t1, const struct mk_writer *b1,
                        const char *t2, int32_t partition2, const struct mk_writer *b2) {
  struct mk_produce_partition_produce_data p1 = {0, {b1->buf, (int32_t)b1->len}};
  struct mk_produce_partition_produce_data p2 = {partition2, {b2->buf, (int32_t)b2->len}};
  struct mk_produce_topic_produce_data td[2] = {{mk_str_of(t1), &p1, 1}, {mk_str_of(t2), &p2, 1}};
  struct mk_produce_request req;
  mk_schema_set_defaults(&mk_produce_request_schema, &req);
  req.acks = 1;
  req.timeout_ms = WAIT_MS;
  req.topic_data = td;
  req.topic_data_count = 2;
  struct mk_produce_response *resp;
  assert_int_equal(raw_client_call(rc, MK_API_PRODUCE, 9, &req, (void **)&resp, WAIT_MS), 0);
  for (int i = 0; i < resp->responses_count; i++)
    assert_int_equal(resp->responses[i].partition_responses[0].error_code, 0);
  raw_client_forget(rc);
}

/* The numbers, scaled down: 500 requests, each with a ~20 KB batch for "big" and a
 * one-record batch for "small", both topics at retention.bytes=100000. Retention keeps ~100 KB
 * of each; before, every small batch kept its request's whole frame (~20 KB) alive, and
 * small's ~600 retained batches pinned ~12 MB. */
static void test_retained_small_batches_do_not_pin_their_requests(void **state) {
  (void)state;
  start_broker("log.memory.max.bytes", "-1");
  const char *configs[] = {"retention.bytes=100000", NULL};
  test_broker_create_topic(broker, "big", 1, 3, configs);
  test_broker_create_topic(broker, "small", 3, 3, configs);
  struct mk_partition_state st = test_broker_state(broker, "big", 0);
  int32_t p2 = 0;  /* a partition of small with the same leader: one request carries both */
  while (test_broker_state(broker, "small", p2).leader != st.leader) p2++;
  struct raw_client rc;
  assert_int_equal(raw_client_connect(&rc, mk_broker_port(broker, st.leader)), 0);
  struct mk_writer big, small;
  mk_writer_init(&big);
  mk_writer_init(&small);
  raw_client_build_batch(&big, 2000, -1, -1, -1);
  raw_client_build_batch(&small, 1, -1, -1, -1);
  for (int i = 0; i < 500; i++) produce_two(&rc, "big", &big, "small", p2, &small);
  struct mk_log_usage u = log_usage();
  print_message("500 requests of %zu + %zu bytes, retention.bytes 100000 each: the logs hold "
                "%lld bytes\n", big.len, small.len, (long long)u.bytes);
  /* ~100 KB of big (whole frames) + ~100 KB of small's copied batches and their structs */
  assert_true(u.bytes < 500000);
  raw_client_close(&rc);
  mk_writer_free(&big);
  mk_writer_free(&small);
}

static void collect_line(void *opaque, const char *line, size_t len) {
  if (strstr(line, "\"event\":\"retention\"") && strstr(line, "log.memory.max.bytes"))
    (*(int *)opaque)++;
  (void)len;
}

/* log.memory.max.bytes=2000000: 100 KB into "small", then 4 MB into "large". The logs stay
 * within the budget; what goes is the oldest of the largest log (large's), small keeps
 * everything, a consumer at large's old offsets gets OFFSET_OUT_OF_RANGE, and `retention`
 * trace events say why. */
static void test_log_memory_budget_deletes_the_oldest_of_the_largest_log(void **state) {
  (void)state;
  start_broker("log.memory.max.bytes", "2000000", "num.partitions", "1");
  int events = 0;
  int sink = mk_trace_add_sink(collect_line, &events);
  test_broker_create_topic(broker, "small", 1, 3, NULL);
  test_broker_create_topic(broker, "large", 1, 3, NULL);
  struct raw_client rs, rl;
  assert_int_equal(raw_client_connect(&rs, mk_broker_port(broker, test_broker_state(broker, "small", 0).leader)), 0);
  assert_int_equal(raw_client_connect(&rl, mk_broker_port(broker, test_broker_state(broker, "large", 0).leader)), 0);
  struct mk_writer w;
  mk_writer_init(&w);
  raw_client_build_batch(&w, 2000, -1, -1, -1);  /* ~20 KB */
  for (size_t sent = 0; sent < 100000; sent += w.len) {
    assert_int_equal(raw_client_produce(&rs, "small", 0, 1, &w, 9, WAIT_MS)->error_code, 0);
    raw_client_forget(&rs);
  }
  for (size_t sent = 0; sent < 4000000; sent += w.len) {
    assert_int_equal(raw_client_produce(&rl, "large", 0, 1, &w, 9, WAIT_MS)->error_code, 0);
    raw_client_forget(&rl);
    assert_true(log_usage().bytes <= 2000000 + (int64_t)w.len + 4096);
  }
  struct mk_log_usage u = log_usage();
  struct mk_partition_state large = test_broker_state(broker, "large", 0);
  struct mk_partition_state small = test_broker_state(broker, "small", 0);
  print_message("4.1 MB produced into a 2 MB budget: %lld bytes held (peak %lld); large starts "
                "at %lld, small at %lld\n", (long long)u.bytes, (long long)u.peak,
                (long long)large.log_start_offset, (long long)small.log_start_offset);
  assert_true(u.peak <= 2000000 + (int64_t)w.len + 4096);
  assert_true(large.log_start_offset > 0);
  assert_int_equal(small.log_start_offset, 0);
  assert_true(events > 0);
  assert_int_equal(raw_client_list_offset(&rl, "large", 0, -2), large.log_start_offset);
  struct fetch_req f;
  const struct mk_fetch_request *fetch = fetch_from_start(&f, "large", 0, 1 << 20);
  struct mk_fetch_response *resp;
  assert_int_equal(raw_client_call(&rl, MK_API_FETCH, 11, fetch, (void **)&resp, WAIT_MS), 0);
  assert_int_equal(resp->responses[0].partitions[0].error_code, MK_ERR_OFFSET_OUT_OF_RANGE);
  mk_trace_remove_sink(sink);
  mk_writer_free(&w);
  raw_client_close(&rs);
  raw_client_close(&rl);
}

/* The services' topics are compacted in Kafka, never deleted from by time or size. Here:
 * 300 KB of records in _schemas (appended as the registry appends them, internal_topics.h),
 * then 1 MB into "large", under a broker-wide log.retention.bytes of 50 KB checked every
 * 50 ms and a log.memory.max.bytes of 200 KB, which _schemas alone exceeds. large loses its
 * oldest batches to both; _schemas keeps every record from offset 0. */
struct internal_fill {
  int rc;             /* the loop's verdict: 0, or what failed */
  int64_t appended;   /* records appended */
  int64_t log_start;  /* _schemas-0's log start and end on its leader */
  int64_t log_end;
  bool compacted;
};

static void append_internal(struct mk_broker *b, void *arg) {
  struct internal_fill *f = arg;
  struct mk_err err = {0};
  struct mk_topic *t = mk_internal_topic_ensure(b, "_schemas", 1, 3, &err);
  static uint8_t value[10000];
  memset(value, 'v', sizeof value);
  struct mk_internal_record r = {{(const uint8_t *)"k", 1}, {value, (int32_t)sizeof value}};
  struct mk_internal_write w;
  f->rc = t ? 0 : -1;
  for (int i = 0; i < 30 && !f->rc; i++, f->appended++)
    f->rc = mk_internal_topic_append(b, t->partitions[0], &r, 1, false, &w, &err);
}

static void internal_state(struct mk_broker *b, void *arg) {
  struct internal_fill *f = arg;
  struct mk_topic *t = mk_cluster_find_topic(&b->cluster, mk_str_of("_schemas"));
  const struct mk_replica *leader = t ? mk_partition_leader(t->partitions[0]) : NULL;
  f->rc = leader ? 0 : -1;
  if (!leader) return;
  f->compacted = t->compacted;
  f->log_start = leader->log.log_start_offset;
  f->log_end = leader->log.log_end_offset;
}

static void test_compacted_topics_are_never_deleted_from(void **state) {
  (void)state;
  start_broker("log.memory.max.bytes", "200000", "num.partitions", "1",
               "log.retention.bytes", "50000", "log.retention.check.interval.ms", "50");
  struct internal_fill f = {0};
  assert_int_equal(mk_broker_call(broker, append_internal, &f), 0);
  assert_int_equal(f.rc, 0);
  test_broker_create_topic(broker, "large", 1, 3, NULL);
  struct raw_client rl;
  int32_t leader = test_broker_state(broker, "large", 0).leader;
  assert_int_equal(raw_client_connect(&rl, mk_broker_port(broker, leader)), 0);
  struct mk_writer w;
  mk_writer_init(&w);
  raw_client_build_batch(&w, 2000, -1, -1, -1);  /* ~20 KB */
  for (size_t sent = 0; sent < 1000000; sent += w.len) {
    assert_int_equal(raw_client_produce(&rl, "large", 0, 1, &w, 9, WAIT_MS)->error_code, 0);
    raw_client_forget(&rl);
  }
  sleep_ms(200);  /* a few retention checks */
  assert_int_equal(mk_broker_call(broker, internal_state, &f), 0);
  assert_int_equal(f.rc, 0);
  struct mk_partition_state large = test_broker_state(broker, "large", 0);
  print_message("_schemas: offsets %lld..%lld kept; large starts at %lld; logs hold %lld "
                "bytes\n", (long long)f.log_start, (long long)f.log_end,
                (long long)large.log_start_offset, (long long)log_usage().bytes);
  assert_true(f.compacted);
  assert_int_equal(f.log_start, 0);
  assert_int_equal(f.log_end, f.appended);
  assert_true(large.log_start_offset > 0);
  mk_writer_free(&w);
  raw_client_close(&rl);
}

/* ---- exposure ----------------------------------------------------------------------------- */

/* --host 0.0.0.0 alone is refused before anything is bound (clients cannot connect to
 * 0.0.0.0, and Kafka refuses it in advertised.listeners); --advertised-host is what
 * Metadata then tells clients. What counts as loopback decides the warning. */
static void test_advertised_host_and_wildcard_listening(void **state) {
  (void)state;
  assert_true(mk_network_is_loopback("127.0.0.1"));
  assert_true(mk_network_is_loopback("127.9.9.9"));
  assert_true(mk_network_is_loopback("::1"));
  assert_false(mk_network_is_loopback("0.0.0.0"));
  assert_false(mk_network_is_loopback("10.1.2.3"));
  assert_false(mk_network_is_loopback("::"));
  assert_true(mk_network_is_wildcard("0.0.0.0"));
  assert_true(mk_network_is_wildcard("::"));
  assert_false(mk_network_is_wildcard("127.0.0.1"));

  struct mk_broker_config cfg;
  mk_broker_config_init(&cfg);
  cfg.port = 0;
  cfg.admin_port = -1;
  strcpy(cfg.host, "0.0.0.0");
  struct mk_err err = {0};
  struct mk_broker *b = NULL;
  assert_int_equal(mk_broker_new(&cfg, &b, &err), MK_ERR__INVALID_ARG);
  assert_non_null(strstr(err.msg, "--advertised-host"));
  assert_null(b);

  strcpy(cfg.host, "127.0.0.1");
  strcpy(cfg.advertised_host, "localhost");
  assert_int_equal(mk_broker_new(&cfg, &broker, &err), 0);
  assert_int_equal(mk_broker_start(broker, &err), 0);
  assert_int_equal(strncmp(mk_broker_bootstrap(broker), "localhost:", 10), 0);
  struct raw_client rc;
  assert_int_equal(raw_client_connect(&rc, mk_broker_port(broker, 0)), 0);
  struct mk_metadata_request mreq;
  mk_schema_set_defaults(&mk_metadata_request_schema, &mreq);
  mreq.topics_count = 0;
  struct mk_metadata_response *m;
  assert_int_equal(raw_client_call(&rc, MK_API_METADATA, 9, &mreq, (void **)&m, WAIT_MS), 0);
  assert_int_equal(m->brokers_count, 3);
  for (int i = 0; i < m->brokers_count; i++)
    assert_true(mk_str_eq(m->brokers[i].host, "localhost"));
  raw_client_close(&rc);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_a_client_that_never_reads_stops_being_read, teardown),
      cmocka_unit_test_teardown(test_parked_requests_per_connection_are_bounded, teardown),
      cmocka_unit_test_teardown(test_a_size_prefix_alone_costs_little, teardown),
      cmocka_unit_test_teardown(test_queued_max_request_bytes_makes_others_wait, teardown),
      cmocka_unit_test_teardown(test_half_read_frames_that_fill_the_pool_all_finish, teardown),
      cmocka_unit_test_teardown(test_idle_connections_are_closed, teardown),
      cmocka_unit_test_teardown(test_a_frame_that_stalls_or_trickles_is_closed, teardown),
      cmocka_unit_test_teardown(test_max_connections_makes_new_ones_wait, teardown),
      cmocka_unit_test_teardown(test_max_connections_per_ip_closes_the_one_too_many, teardown),
      cmocka_unit_test_teardown(test_listen_backlog_is_the_setting, teardown),
      cmocka_unit_test_teardown(test_out_of_memory_at_accept_closes_only_that_connection, teardown),
      cmocka_unit_test_teardown(test_fetch_max_bytes_caps_an_answer, teardown),
      cmocka_unit_test_teardown(test_log_lines_about_bad_clients_are_rate_limited, teardown),
      cmocka_unit_test_teardown(test_advertised_host_and_wildcard_listening, teardown),
      cmocka_unit_test_teardown(test_retained_small_batches_do_not_pin_their_requests, teardown),
      cmocka_unit_test_teardown(test_log_memory_budget_deletes_the_oldest_of_the_largest_log, teardown),
      cmocka_unit_test_teardown(test_compacted_topics_are_never_deleted_from, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
