/*
 * Tests for what the broker does with bad input (broker/network.c, kafka_apis.c, produce.c)
 * while a good client keeps producing. Kafka: SocketServer.scala (framing),
 * RequestContext.parseRequest (headers, ApiVersions), KafkaApis.handleProduceRequest.
 *
 * The rules, as Kafka has them:
 *   - a size prefix over socket.request.max.bytes or under a header's 8 bytes, an unknown
 *     api key, or bytes that do not decode: the connection is closed, with a log line
 *     naming the reason;
 *   - ApiVersions in a version the broker does not know: UNSUPPORTED_VERSION in a v0
 *     response that lists the supported ranges, and the connection stays open;
 *   - a Produce that decodes but is wrong: a per-partition error code, nothing appended,
 *     connection open; with acks=0 the connection is closed instead (no response would
 *     tell the client);
 *   - whatever happens, every other connection keeps working;
 *   - and whatever bytes a client id holds, every trace line stays JSON in valid UTF-8.
 *
 * The group setup starts one embedded broker (3 virtual brokers, ephemeral ports,
 * message.max.bytes 10000) with two topics of 3 partitions: GOOD_TOPIC, where a librdkafka
 * producer (acks=all, idempotent) sends a record every millisecond from its own thread for
 * the whole run, and RAW_TOPIC, where the tests send their own Produce requests. Each test
 * throws one kind of bad input at the broker over raw TCP sockets. The last three stop the
 * producer and check that every record was delivered exactly once, with no error and no
 * dropped connection; check that a plain Metadata + Produce still works; and stop the
 * broker while clients still wait on it (LSan then checks that nothing leaked).
 *
 * The broker logs to stderr. The group setup pipes stderr through `tee` into a file, so a
 * test can wait for the log line of a close (and a crash report still reaches the console:
 * tee is another process and outlives us). Every read waits with poll() and a timeout, so
 * no test can hang.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "broker/broker.h"
/* Some checks look inside the broker (connections, stored batches): internal headers. */
#include "broker/broker_internal.h"
#include "common/trace.h"
#include "protocol/api.h"
#include "protocol/compression.h"
#include "protocol/frame.h"
#include "protocol/messages/api_versions.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/produce.h"
#include "protocol/record_batch.h"
#include "tests/support/test_broker.h"

enum {
  NBROKERS = 3,
  NPARTITIONS = 3,
  MESSAGE_MAX_BYTES = 10000,       /* the broker's message.max.bytes in this file */
  WAIT_MS = 5000,                  /* for anything the broker should do at once */
  QUIET_MS = 200,                  /* how long we watch for "nothing happens" */
  MAX_GOOD_RECORDS = 1 << 20,      /* the good producer stops there (about 17 minutes) */
};

/* Kafka's default socket.request.max.bytes; the tests leave it as it is. */
#define SOCKET_REQUEST_MAX_BYTES 104857600

static const char GOOD_TOPIC[] = "bad-input-good";
static const char RAW_TOPIC[] = "bad-input-raw";

static struct mk_broker *broker;
static int32_t raw_leader[NPARTITIONS];  /* RAW_TOPIC's leaders, from Metadata */
static int32_t next_correlation_id = 1;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* ---- the broker's log, captured ----------------------------------------------------------- */

static struct {
  int fd;             /* the captured log: a deleted temporary file, read with pread() */
  int saved_stderr;   /* the real stderr, restored at the end */
  pid_t tee;
} capture = {.fd = -1, .saved_stderr = -1, .tee = -1};

/* Route fd 2 through `tee -a /dev/fd/3`, fd 3 being a temporary file deleted at once (so
 * nothing is left behind, even after a crash): lines still reach the console, and land in
 * the file. Called before any thread exists, so fork() is safe. */
static void capture_start(void) {
  char path[] = "/tmp/mk-bad-input-XXXXXX";
  capture.fd = mkstemp(path);
  assert_true(capture.fd >= 0);
  unlink(path);
  int p[2];
  assert_int_equal(pipe(p), 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(p[0], STDIN_FILENO);
    dup2(STDERR_FILENO, STDOUT_FILENO);
    dup2(capture.fd, 3);
    close(p[0]);
    close(p[1]);
    execlp("tee", "tee", "-a", "/dev/fd/3", (char *)NULL);
    _exit(127);
  }
  capture.tee = pid;
  capture.saved_stderr = dup(STDERR_FILENO);
  dup2(p[1], STDERR_FILENO);
  close(p[0]);
  close(p[1]);
}

static void capture_stop(void) {
  if (capture.saved_stderr < 0) return;
  fflush(stderr);
  dup2(capture.saved_stderr, STDERR_FILENO);  /* closes the pipe: tee sees EOF and exits */
  close(capture.saved_stderr);
  capture.saved_stderr = -1;
  waitpid(capture.tee, NULL, 0);
  close(capture.fd);
  capture.fd = -1;
}

static void reset_log_limit(struct mk_broker *b, void *arg) {
  (void)arg;
  b->conn_log = (struct mk_log_limit){0};
}

/* Where the log ends now: a test looks for its lines after this mark. The broker rate-limits
 * lines about clients (common/log.h) and these tests cause many; each test that looks for
 * its line starts the limit afresh (test_broker_limits.c tests the limit itself). */
static size_t log_mark(void) {
  if (broker) mk_broker_call(broker, reset_log_limit, NULL);
  struct stat st;
  return fstat(capture.fd, &st) == 0 ? (size_t)st.st_size : 0;
}

/* The log from `from` on, NUL-terminated (free it). */
static char *log_since(size_t from) {
  size_t end = log_mark();
  size_t n = end > from ? end - from : 0;
  char *text = malloc(n + 1);
  assert_non_null(text);
  ssize_t got = pread(capture.fd, text, n, (off_t)from);
  text[got > 0 ? got : 0] = '\0';
  return text;
}

/* Whether some line after `from` contains both a and b. */
static bool log_has_line(size_t from, const char *a, const char *b) {
  char *text = log_since(from);
  bool found = false;
  for (char *line = text; line && *line && !found;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    found = strstr(line, a) && strstr(line, b);
    line = nl ? nl + 1 : NULL;
  }
  free(text);
  return found;
}

/* ---- raw connections ---------------------------------------------------------------------- */

struct conn {
  int fd;
  int node;        /* the virtual broker it is connected to */
  int local_port;  /* ours: the broker's log names the connection by it */
};

/* Connect to a virtual broker. rcvbuf > 0 fixes our receive buffer (and turns off its
 * autotuning), so a client that does not read makes the broker's writes back up. */
static struct conn conn_open_rcvbuf(int node, int rcvbuf) {
  struct conn c = {.fd = socket(AF_INET, SOCK_STREAM, 0), .node = node};
  assert_true(c.fd >= 0);
  if (rcvbuf > 0) setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)mk_broker_port(broker, node)),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (connect(c.fd, (struct sockaddr *)&addr, sizeof addr) != 0)
    fail_msg("cannot connect to broker %d (port %d): %s", node, mk_broker_port(broker, node),
             strerror(errno));
  int one = 1;
  setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in local;
  socklen_t len = sizeof local;
  getsockname(c.fd, (struct sockaddr *)&local, &len);
  c.local_port = ntohs(local.sin_port);
  return c;
}

static struct conn conn_open(int node) { return conn_open_rcvbuf(node, 0); }

static void conn_close(struct conn *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
}

/* Send len bytes, waiting while the socket is full (failing if the broker reads nothing for
 * WAIT_MS). Returns 0, or the errno that stopped it (EPIPE, ECONNRESET: the broker closed
 * the connection). */
static int send_bytes(struct conn *c, const void *buf, size_t len) {
  const uint8_t *p = buf;
  int64_t deadline = now_ms() + WAIT_MS;
  while (len > 0) {
    ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      deadline = now_ms() + WAIT_MS;
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return errno;
    int left = (int)(deadline - now_ms());
    if (left <= 0) fail_msg("broker %d has not read our request for %d ms", c->node, WAIT_MS);
    struct pollfd pfd = {c->fd, POLLOUT, 0};
    poll(&pfd, 1, left);
  }
  return 0;
}

static void send_all(struct conn *c, const void *buf, size_t len) {
  int rc = send_bytes(c, buf, len);
  if (rc) fail_msg("sending %zu bytes to broker %d failed: %s", len, c->node, strerror(rc));
}

/* Read exactly n bytes before the deadline. Returns how many arrived; fewer than n means
 * the broker closed the connection (*closed) or the deadline passed. */
static size_t read_exact(struct conn *c, uint8_t *buf, size_t n, int64_t deadline,
                         bool *closed) {
  size_t got = 0;
  *closed = false;
  while (got < n) {
    int left = (int)(deadline - now_ms());
    if (left <= 0) break;
    struct pollfd pfd = {c->fd, POLLIN, 0};
    int rc = poll(&pfd, 1, left);
    if (rc <= 0) continue;
    ssize_t r = recv(c->fd, buf + got, n - got, 0);
    if (r > 0) {
      got += (size_t)r;
    } else if (r == 0 || errno == ECONNRESET) {
      *closed = true;
      break;
    } else if (errno != EINTR && errno != EAGAIN) {
      fail_msg("reading from broker %d: %s", c->node, strerror(errno));
    }
  }
  return got;
}

enum outcome { GOT_FRAME, CLOSED, TORN, TIMED_OUT };

struct frame {
  uint8_t *body;  /* without the size prefix; free it */
  size_t len;
};

static const char *outcome_name(enum outcome o) {
  switch (o) {
  case GOT_FRAME: return "a response";
  case CLOSED: return "a closed connection";
  case TORN: return "part of a response, then a closed connection";
  default: return "nothing";
  }
}

/* Wait up to timeout_ms for one whole response frame (TORN: the broker closed the connection
 * in the middle of one). */
static enum outcome recv_frame(struct conn *c, int timeout_ms, struct frame *f) {
  int64_t deadline = now_ms() + timeout_ms;
  uint8_t size_buf[4];
  bool closed;
  size_t got = read_exact(c, size_buf, 4, deadline, &closed);
  if (got < 4) {
    if (got > 0 && !closed) fail_msg("broker %d sent %zu bytes of a size prefix", c->node, got);
    return !closed ? TIMED_OUT : got > 0 ? TORN : CLOSED;
  }
  int32_t size = (int32_t)mk_load_u32(size_buf);
  if (size < 4 || size > (16 << 20)) fail_msg("broker %d sent a frame of size %d", c->node, size);
  f->body = malloc((size_t)size);
  assert_non_null(f->body);
  f->len = (size_t)size;
  got = read_exact(c, f->body, f->len, now_ms() + WAIT_MS, &closed);
  if (got < f->len) {
    if (!closed)
      fail_msg("broker %d sent %zu of a %d-byte frame, then nothing", c->node, got, size);
    free(f->body);
    return TORN;
  }
  return GOT_FRAME;
}

/* The broker must close the connection without sending anything (EOF or a reset). */
static void expect_closed(struct conn *c, const char *after) {
  int64_t deadline = now_ms() + WAIT_MS;
  uint8_t buf[4096];
  for (;;) {
    int left = (int)(deadline - now_ms());
    if (left <= 0)
      fail_msg("after %s, broker %d kept the connection open for %d ms; expected a close",
               after, c->node, WAIT_MS);
    struct pollfd pfd = {c->fd, POLLIN, 0};
    if (poll(&pfd, 1, left) <= 0) continue;
    ssize_t n = recv(c->fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return;
    if (n > 0)
      fail_msg("after %s, broker %d sent %zd bytes; expected it to close the connection "
               "without an answer", after, c->node, n);
  }
}

/* Nothing may arrive for ms: no bytes, no close (the broker is waiting for more). */
static void expect_quiet(struct conn *c, int ms, const char *after) {
  struct pollfd pfd = {c->fd, POLLIN, 0};
  if (poll(&pfd, 1, ms) <= 0) return;
  uint8_t buf[256];
  ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno == ECONNRESET))
    fail_msg("after %s, broker %d closed the connection; expected it to wait for the rest",
             after, c->node);
  if (n > 0) fail_msg("after %s, broker %d sent %zd unexpected bytes", after, c->node, n);
}

/* Read and discard whatever comes until the broker closes the connection. */
static void expect_drained_then_closed(struct conn *c, const char *after) {
  int64_t deadline = now_ms() + WAIT_MS;
  uint8_t buf[65536];
  for (;;) {
    int left = (int)(deadline - now_ms());
    if (left <= 0)
      fail_msg("after %s, broker %d kept the connection open for %d ms; expected a close",
               after, c->node, WAIT_MS);
    struct pollfd pfd = {c->fd, POLLIN, 0};
    if (poll(&pfd, 1, left) <= 0) continue;
    ssize_t n = recv(c->fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return;
    if (n > 0) deadline = now_ms() + WAIT_MS;
  }
}

/* The broker's log must say it closed this connection, and why (reason: a substring). */
static void expect_close_logged(size_t mark, const struct conn *c, const char *reason) {
  char who[96];
  snprintf(who, sizeof who, "closing connection 127.0.0.1:%d -> broker %d: ", c->local_port,
           c->node);
  int64_t deadline = now_ms() + WAIT_MS;
  while (!log_has_line(mark, who, reason)) {
    if (now_ms() > deadline) {
      char *text = log_since(mark);
      fail_msg("no log line \"%s...%s\"; the log since the test began:\n%s", who, reason, text);
    }
    sleep_ms(10);
  }
}

/* ---- requests ----------------------------------------------------------------------------- */

/* A request with any client_id bytes (the tests' own, or bad ones). */
static void encode_as(struct mk_writer *w, int16_t api_key, int16_t version,
                      int32_t correlation_id, struct mk_str client_id, const void *body) {
  struct mk_request_header h = {api_key, version, correlation_id, client_id};
  struct mk_err err = {0};
  if (mk_request_encode(w, &h, body, &err))
    fail_msg("cannot encode api %d v%d: %s", api_key, version, err.msg);
}

static void encode(struct mk_writer *w, int16_t api_key, int16_t version, int32_t correlation_id,
                   const void *body) {
  encode_as(w, api_key, version, correlation_id, mk_str_of("bad-input-test"), body);
}

static void encode_api_versions(struct mk_writer *w, int16_t version, int32_t correlation_id) {
  struct mk_api_versions_request req;
  mk_schema_set_defaults(&mk_api_versions_request_schema, &req);
  if (version >= 3) {
    req.client_software_name = mk_str_of("minikafka-bad-input-test");
    req.client_software_version = mk_str_of("1.0");
  }
  encode(w, MK_API_API_VERSIONS, version, correlation_id, &req);
}

/* A header by hand, for what mk_request_encode refuses to write: size placeholder, api key,
 * version, correlation id, client_id, and (flexible) an empty tag section. Returns where the
 * size goes, for finish_raw_frame. */
static size_t begin_raw_frame(struct mk_writer *w, int16_t api_key, int16_t version,
                              int32_t correlation_id, bool flexible) {
  size_t at = w->len;
  mk_write_i32(w, 0);
  mk_write_i16(w, api_key);
  mk_write_i16(w, version);
  mk_write_i32(w, correlation_id);
  mk_write_string(w, mk_str_of("bad-input-test"), false);
  if (flexible) mk_write_uvarint(w, 0);
  return at;
}

static void finish_raw_frame(struct mk_writer *w, size_t at) {
  mk_writer_patch_i32(w, at, (int32_t)(w->len - at - 4));
}

static void encode_metadata(struct mk_writer *w, int16_t version, int32_t correlation_id,
                            const char *topic, const char *topic2) {
  struct mk_metadata_request_topic topics[2];
  for (int i = 0; i < 2; i++) mk_schema_set_defaults(&mk_metadata_request_topic_schema, &topics[i]);
  topics[0].name = mk_str_of(topic);
  topics[1].name = mk_str_of(topic2);
  struct mk_metadata_request req;
  mk_schema_set_defaults(&mk_metadata_request_schema, &req);
  req.topics = topics;
  req.topics_count = topic2 ? 2 : 1;
  req.allow_auto_topic_creation = false;
  encode(w, MK_API_METADATA, version, correlation_id, &req);
}

/* A valid record batch of n records, each value value_size bytes of 'x'. */
static void build_batch(struct mk_writer *out, int n, size_t value_size) {
  uint8_t *value = malloc(value_size + 1);
  assert_non_null(value);
  memset(value, 'x', value_size);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  struct mk_record_batch_builder bb;
  mk_record_batch_builder_init(&bb);
  for (int i = 0; i < n; i++)
    assert_int_equal(mk_record_batch_builder_append(&bb, now + i, MK_BYTES_NULL,
                                                    (struct mk_bytes){value, (int32_t)value_size},
                                                    NULL, 0), 0);
  struct mk_err err = {0};
  assert_int_equal(mk_record_batch_builder_finish(&bb, out, &err), 0);
  mk_record_batch_builder_free(&bb);
  free(value);
}

/* A Produce request carrying `records` for one partition of topic, from client_id. */
static void encode_produce_as(struct mk_writer *w, int16_t version, int32_t correlation_id,
                              struct mk_str client_id, int16_t acks, const char *topic,
                              int32_t partition, const struct mk_writer *records) {
  struct mk_produce_partition_produce_data pd;
  mk_schema_set_defaults(&mk_produce_partition_produce_data_schema, &pd);
  pd.index = partition;
  pd.records = (struct mk_bytes){records->buf, (int32_t)records->len};
  struct mk_produce_topic_produce_data td;
  mk_schema_set_defaults(&mk_produce_topic_produce_data_schema, &td);
  td.name = mk_str_of(topic);
  td.partition_data = &pd;
  td.partition_data_count = 1;
  struct mk_produce_request req;
  mk_schema_set_defaults(&mk_produce_request_schema, &req);
  req.acks = acks;
  req.timeout_ms = WAIT_MS;
  req.topic_data = &td;
  req.topic_data_count = 1;
  encode_as(w, MK_API_PRODUCE, version, correlation_id, client_id, &req);
}

static void encode_produce(struct mk_writer *w, int16_t version, int32_t correlation_id,
                           int16_t acks, const char *topic, int32_t partition,
                           const struct mk_writer *records) {
  encode_produce_as(w, version, correlation_id, mk_str_of("bad-input-test"), acks, topic,
                    partition, records);
}

/* Decode a response frame, which must answer correlation_id. Lives in arena. */
static void *decode(const struct frame *f, int16_t api_key, int16_t version,
                    int32_t correlation_id, struct mk_arena *arena) {
  int32_t got_id;
  void *body = NULL;
  struct mk_err err = {0};
  if (mk_response_decode(f->body, f->len, api_key, version, &got_id, &body, arena, &err))
    fail_msg("response to api %d v%d (correlation id %d) does not decode: %s", api_key, version,
             correlation_id, err.msg);
  if (got_id != correlation_id)
    fail_msg("expected the response to correlation id %d, got %d", correlation_id, got_id);
  return body;
}

/* Wait for the response to correlation_id and decode it; a close or silence fails. */
static void *call_response(struct conn *c, int16_t api_key, int16_t version,
                           int32_t correlation_id, struct mk_arena *arena, struct frame *f) {
  enum outcome o = recv_frame(c, WAIT_MS, f);
  if (o != GOT_FRAME)
    fail_msg("expected a response from broker %d to api %d v%d (correlation id %d), got %s",
             c->node, api_key, version, correlation_id, outcome_name(o));
  return decode(f, api_key, version, correlation_id, arena);
}

/* ApiVersions v3 on c must be answered with no error: the connection still works. */
static void expect_api_versions_answered(struct conn *c) {
  struct mk_writer w;
  mk_writer_init(&w);
  int32_t id = next_correlation_id++;
  encode_api_versions(&w, 3, id);
  send_all(c, w.buf, w.len);
  mk_writer_free(&w);
  struct mk_arena arena;
  mk_arena_init(&arena);
  struct frame f;
  struct mk_api_versions_response *r = call_response(c, MK_API_API_VERSIONS, 3, id, &arena, &f);
  assert_int_equal(r->error_code, 0);
  assert_true(r->api_keys_count > 0);
  mk_arena_free(&arena);
  free(f.body);
}

/* Every virtual broker still answers a new connection. */
static void expect_every_broker_answers(void) {
  for (int node = 0; node < NBROKERS; node++) {
    struct conn c = conn_open(node);
    expect_api_versions_answered(&c);
    conn_close(&c);
  }
}

/* Send a Produce (version, acks) for one partition of RAW_TOPIC to c and return that
 * partition's error code; *base_offset gets its base offset (if not NULL). */
static int16_t produce(struct conn *c, int16_t version, int16_t acks, int32_t partition,
                       const struct mk_writer *records, int64_t *base_offset) {
  struct mk_writer w;
  mk_writer_init(&w);
  int32_t id = next_correlation_id++;
  encode_produce(&w, version, id, acks, RAW_TOPIC, partition, records);
  send_all(c, w.buf, w.len);
  mk_writer_free(&w);
  struct mk_arena arena;
  mk_arena_init(&arena);
  struct frame f;
  struct mk_produce_response *r = call_response(c, MK_API_PRODUCE, version, id, &arena, &f);
  assert_int_equal(r->responses_count, 1);
  assert_true(mk_str_eq(r->responses[0].name, RAW_TOPIC));
  assert_int_equal(r->responses[0].partition_responses_count, 1);
  const struct mk_produce_partition_produce_response *p = &r->responses[0].partition_responses[0];
  assert_int_equal(p->index, partition);
  int16_t code = p->error_code;
  if (base_offset) *base_offset = p->base_offset;
  mk_arena_free(&arena);
  free(f.body);
  return code;
}

static void expect_error(int16_t got, int16_t want, const char *what) {
  if (got != want)
    fail_msg("%s: expected %s (%d), got %s (%d)", what, mk_err_name(want), want,
             mk_err_name(got), got);
}

/* ---- broker state, read on its loop ------------------------------------------------------- */

/* RAW_TOPIC's log end offset for a partition: what a refused Produce must not move. */
static int64_t raw_leo(int32_t partition) {
  struct mk_partition_state st = test_broker_state(broker, RAW_TOPIC, partition);
  for (int r = 0; r < st.nreplicas; r++)
    if (st.replicas[r].broker == st.leader) return st.replicas[r].log_end_offset;
  fail_msg("%s-%d has no leader", RAW_TOPIC, partition);
  return -1;
}

/* A Produce that must be refused with `want`, sent to broker `node` (usually the partition's
 * leader): nothing is appended to partition p, and the connection still answers after. */
static void expect_produce_refused(int node, int16_t version, int16_t acks, int32_t p,
                                   const struct mk_writer *records, int16_t want,
                                   const char *what) {
  int64_t leo = raw_leo(p);
  struct conn c = conn_open(node);
  expect_error(produce(&c, version, acks, p, records, NULL), want, what);
  assert_int_equal(raw_leo(p), leo);
  expect_api_versions_answered(&c);
  conn_close(&c);
}


/* Ask broker 0 for topic's leaders with Metadata v9. */
static void find_leaders(const char *topic, int32_t leaders[NPARTITIONS]) {
  struct conn c = conn_open(0);
  struct mk_writer w;
  mk_writer_init(&w);
  int32_t id = next_correlation_id++;
  encode_metadata(&w, 9, id, topic, NULL);
  send_all(&c, w.buf, w.len);
  mk_writer_free(&w);
  struct mk_arena arena;
  mk_arena_init(&arena);
  struct frame f;
  struct mk_metadata_response *r = call_response(&c, MK_API_METADATA, 9, id, &arena, &f);
  assert_int_equal(r->brokers_count, NBROKERS);
  assert_int_equal(r->topics_count, 1);
  assert_int_equal(r->topics[0].error_code, 0);
  assert_int_equal(r->topics[0].partitions_count, NPARTITIONS);
  for (int i = 0; i < NPARTITIONS; i++) {
    const struct mk_metadata_response_partition *p = &r->topics[0].partitions[i];
    assert_int_equal(p->error_code, 0);
    assert_true(p->partition_index >= 0 && p->partition_index < NPARTITIONS);
    assert_true(p->leader_id >= 0 && p->leader_id < NBROKERS);
    leaders[p->partition_index] = p->leader_id;
  }
  mk_arena_free(&arena);
  free(f.body);
  conn_close(&c);
}

/* ---- the good client ---------------------------------------------------------------------- */

/* A librdkafka producer on its own thread. The counters are written by that thread only
 * (delivery reports and errors are served inside its rd_kafka_poll/flush calls) and read by
 * the tests after it is joined; delivered_so_far may be read at any time. */
static struct {
  rd_kafka_t *rk;
  pthread_t thread;
  bool running;
  atomic_bool stop;
  atomic_long delivered_so_far;
  long delivered_before_abuse;  /* main thread: delivered when the tests began */
  long produced;                /* records librdkafka accepted */
  long delivered;               /* delivery reports without an error */
  long failed;                  /* delivery reports with an error */
  long refused;                 /* rd_kafka_producev failures other than a full queue */
  long duplicate_reports;       /* a record reported more than once */
  long strange_reports;         /* a report for a record we did not send */
  long errors;                  /* error_cb calls: a dropped connection, a fatal error */
  long unflushed;               /* still queued after the final flush */
  char first_failure[256];
  char first_error[256];
  uint8_t *reports;             /* reports[i]: delivery reports for record "good-<i>" */
} good;

/* The record number in "good-<i>", or -1. */
static long record_number(const void *value, size_t len) {
  char text[32];
  if (len < 6 || len >= sizeof text || memcmp(value, "good-", 5) != 0) return -1;
  memcpy(text, value, len);
  text[len] = '\0';
  char *end;
  long i = strtol(text + 5, &end, 10);
  return *end == '\0' && i >= 0 ? i : -1;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  (void)opaque;
  if (m->err) {
    if (good.failed++ == 0)
      snprintf(good.first_failure, sizeof good.first_failure, "%s: %s",
               rd_kafka_err2name(m->err), rd_kafka_err2str(m->err));
    return;
  }
  long i = record_number(m->payload, m->len);
  if (i < 0 || i >= good.produced) {
    good.strange_reports++;
    return;
  }
  if (good.reports[i]++ > 0) good.duplicate_reports++;
  good.delivered++;
  atomic_store(&good.delivered_so_far, good.delivered);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  (void)rk;
  (void)opaque;
  if (good.errors++ == 0)
    snprintf(good.first_error, sizeof good.first_error, "%s: %s",
             rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* A record every millisecond until told to stop, then flush. */
static void *good_producer_main(void *arg) {
  (void)arg;
  while (!atomic_load(&good.stop) && good.produced < MAX_GOOD_RECORDS) {
    char value[32];
    int n = snprintf(value, sizeof value, "good-%ld", good.produced);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        good.rk, RD_KAFKA_V_TOPIC(GOOD_TOPIC), RD_KAFKA_V_VALUE(value, (size_t)n),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(good.rk, 10);
      continue;
    }
    if (err) {
      if (good.refused++ == 0)
        snprintf(good.first_failure, sizeof good.first_failure, "producev: %s",
                 rd_kafka_err2str(err));
      break;
    }
    good.produced++;
    rd_kafka_poll(good.rk, 0);
    sleep_ms(1);
  }
  rd_kafka_flush(good.rk, 30000);
  good.unflushed = rd_kafka_outq_len(good.rk);
  return NULL;
}

static void conf_set(rd_kafka_conf_t *conf, const char *key, const char *value) {
  char err[256];
  if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK)
    fail_msg("librdkafka %s=%s: %s", key, value, err);
}

static void good_producer_start(void) {
  good.reports = calloc(MAX_GOOD_RECORDS, 1);
  assert_non_null(good.reports);
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  conf_set(conf, "bootstrap.servers", mk_broker_bootstrap(broker));
  conf_set(conf, "acks", "all");
  conf_set(conf, "enable.idempotence", "true");
  conf_set(conf, "linger.ms", "5");
  conf_set(conf, "batch.size", "4000");  /* well under the broker's message.max.bytes */
  conf_set(conf, "message.timeout.ms", "30000");
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_conf_set_error_cb(conf, on_error);
  char err[256];
  good.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!good.rk) fail_msg("rd_kafka_new: %s", err);
  assert_int_equal(pthread_create(&good.thread, NULL, good_producer_main, NULL), 0);
  good.running = true;
}

/* Stop producing, flush, join the thread and destroy the producer. */
static void good_producer_stop(void) {
  if (!good.running) return;
  atomic_store(&good.stop, true);
  pthread_join(good.thread, NULL);
  good.running = false;
  rd_kafka_destroy(good.rk);
  good.rk = NULL;
}

/* ---- group setup and teardown ------------------------------------------------------------- */

static int group_setup(void **state) {
  (void)state;
  signal(SIGPIPE, SIG_IGN);
  capture_start();
  char max[16];
  snprintf(max, sizeof max, "%d", MESSAGE_MAX_BYTES);
  if (test_broker_start(&broker, "message.max.bytes", max, NULL)) return -1;
  struct mk_err err = {0};
  if (mk_broker_create_topic(broker, GOOD_TOPIC, NPARTITIONS, NBROKERS, NULL, &err) ||
      mk_broker_create_topic(broker, RAW_TOPIC, NPARTITIONS, NBROKERS, NULL, &err)) {
    fprintf(stderr, "cannot create the topics: %s\n", err.msg);
    return -1;
  }
  find_leaders(RAW_TOPIC, raw_leader);

  /* The good producer is up and delivering before any abuse begins. */
  good_producer_start();
  int64_t deadline = now_ms() + 4 * WAIT_MS;
  while (atomic_load(&good.delivered_so_far) < 10) {
    if (now_ms() > deadline) {
      fprintf(stderr, "the good producer delivered %ld records in %d ms\n",
              atomic_load(&good.delivered_so_far), 4 * WAIT_MS);
      return -1;
    }
    sleep_ms(10);
  }
  good.delivered_before_abuse = atomic_load(&good.delivered_so_far);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  good_producer_stop();
  if (broker) {
    mk_broker_stop(broker);
    mk_broker_free(broker);
    broker = NULL;
  }
  free(good.reports);
  good.reports = NULL;
  capture_stop();
  return 0;
}

/* ---- framing ------------------------------------------------------------------------------ */

/* A fixed-seed xorshift: the same "random" bytes every run, so a failure reproduces. */
static uint32_t rng_state = 0x2545f491;

static uint32_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

/* Garbage that looks like protocol: mostly 0x00, 0x01 and 0xff (lengths, counts, nulls),
 * some anything. */
static uint8_t garbage_byte(void) {
  switch (rng() % 6) {
  case 0:
  case 1: return 0;
  case 2: return 1;
  case 3: return 0xff;
  default: return (uint8_t)rng();
  }
}

/* Random bytes read as a size prefix: out of [8, socket.request.max.bytes] the broker
 * closes (saying so in its log); inside, it waits for the rest of the "frame". */
static void test_random_bytes_are_closed_or_left_waiting(void **state) {
  (void)state;
  static const size_t sizes[] = {1, 3, 4, 7, 64, 1000, 4096, 70000, 300000};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    uint8_t *junk = malloc(sizes[i]);
    assert_non_null(junk);
    for (size_t j = 0; j < sizes[i]; j++) junk[j] = (uint8_t)rng();
    size_t mark = log_mark();
    struct conn c = conn_open((int)i % NBROKERS);
    (void)send_bytes(&c, junk, sizes[i]);  /* the broker may close before we finish */
    /* A size prefix in [8, max] makes the broker wait for the rest; anything else closes. */
    int32_t size = sizes[i] >= 4 ? (int32_t)mk_load_u32(junk) : 0;
    bool should_close = sizes[i] >= 4 && (size < 8 || size > SOCKET_REQUEST_MAX_BYTES);
    char what[64];
    snprintf(what, sizeof what, "%zu random bytes (size prefix %d)", sizes[i], size);
    if (should_close) {
      expect_closed(&c, what);
      expect_close_logged(mark, &c, "frame");
    } else if (sizes[i] < 4 || (size_t)size + 4 > sizes[i]) {
      expect_quiet(&c, QUIET_MS, what);
    }  /* (a whole random frame is the garbage-bodies test's business) */
    conn_close(&c);
    free(junk);
  }
  expect_every_broker_answers();
}

/* Each size prefix alone, on its own connection: closed, with `logged` in the log line. */
static void expect_size_prefixes_close(const int32_t *sizes, size_t n, const char *logged) {
  for (size_t i = 0; i < n; i++) {
    size_t mark = log_mark();
    struct conn c = conn_open((int)i % NBROKERS);
    uint8_t prefix[4];
    mk_store_u32(prefix, (uint32_t)sizes[i]);
    send_all(&c, prefix, 4);
    char what[64];
    snprintf(what, sizeof what, "a size prefix of %d", sizes[i]);
    expect_closed(&c, what);
    expect_close_logged(mark, &c, logged);
    conn_close(&c);
  }
  expect_every_broker_answers();
}

static void test_size_over_socket_request_max_bytes_closes(void **state) {
  (void)state;
  static const int32_t sizes[] = {SOCKET_REQUEST_MAX_BYTES + 1, INT32_MAX};
  expect_size_prefixes_close(sizes, 2, "exceeds socket.request.max.bytes");
}

/* Kafka closes only above the limit: a frame of exactly socket.request.max.bytes is read. */
static void test_size_of_exactly_socket_request_max_bytes_is_accepted(void **state) {
  (void)state;
  struct conn c = conn_open(1);
  uint8_t prefix[4];
  mk_store_u32(prefix, SOCKET_REQUEST_MAX_BYTES);
  send_all(&c, prefix, 4);
  expect_quiet(&c, QUIET_MS, "a size prefix of exactly socket.request.max.bytes");
  conn_close(&c);  /* the broker frees the 100 MB it is waiting to fill */
  expect_every_broker_answers();
}

static void test_negative_and_tiny_size_prefixes_close(void **state) {
  (void)state;
  static const int32_t sizes[] = {-1, INT32_MIN, -8, 0, 1, 7};
  expect_size_prefixes_close(sizes, sizeof sizes / sizeof sizes[0], "too small for a request header");
}

/* A frame cut anywhere, then a close: the broker waits, then drops what it had. */
static void test_truncated_frames_then_close_are_dropped(void **state) {
  (void)state;
  struct mk_writer w;
  mk_writer_init(&w);
  encode_metadata(&w, 9, next_correlation_id++, RAW_TOPIC, GOOD_TOPIC);
  size_t cuts[] = {1, 2, 3, 4, 5, 8, 12, w.len / 2, w.len - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    struct conn c = conn_open((int)i % NBROKERS);
    send_all(&c, w.buf, cuts[i]);
    char what[64];
    snprintf(what, sizeof what, "%zu of a %zu-byte Metadata frame", cuts[i], w.len);
    expect_quiet(&c, QUIET_MS / 4, what);
    conn_close(&c);
  }
  mk_writer_free(&w);
  expect_every_broker_answers();
}

/* A frame the broker reads straight into its buffer (most of 40 KB still to come when the
 * size is known), cut off: the buffer must be freed with the connection (ASan checks). */
static void test_half_written_large_frame_then_close_frees_it(void **state) {
  (void)state;
  struct mk_writer batch, w;
  mk_writer_init(&batch);
  mk_writer_init(&w);
  build_batch(&batch, 4, 10000);
  encode_produce(&w, 7, next_correlation_id++, 1, RAW_TOPIC, 0, &batch);
  struct conn c = conn_open(raw_leader[0]);
  send_all(&c, w.buf, 1000);
  sleep_ms(20);  /* let the broker see the size and switch to reading into the frame */
  send_all(&c, w.buf + 1000, w.len / 2);
  expect_quiet(&c, QUIET_MS, "half of a 40 KB Produce frame");
  conn_close(&c);
  mk_writer_free(&batch);
  mk_writer_free(&w);
  expect_every_broker_answers();
}

static void test_request_in_one_byte_writes_is_answered(void **state) {
  (void)state;
  struct mk_writer batch, w;
  mk_writer_init(&batch);
  mk_writer_init(&w);
  build_batch(&batch, 2, 10);
  int32_t id = next_correlation_id++;
  encode_produce(&w, 7, id, 1, RAW_TOPIC, 0, &batch);
  int64_t leo = raw_leo(0);
  struct conn c = conn_open(raw_leader[0]);
  for (size_t i = 0; i < w.len; i++) {
    send_all(&c, w.buf + i, 1);
    sleep_ms(1);
  }
  struct mk_arena arena;
  mk_arena_init(&arena);
  struct frame f;
  struct mk_produce_response *r = call_response(&c, MK_API_PRODUCE, 7, id, &arena, &f);
  assert_int_equal(r->responses_count, 1);
  assert_int_equal(r->responses[0].partition_responses_count, 1);
  expect_error(r->responses[0].partition_responses[0].error_code, 0,
               "Produce sent one byte at a time");
  assert_int_equal(r->responses[0].partition_responses[0].base_offset, leo);
  assert_int_equal(raw_leo(0), leo + 2);
  mk_arena_free(&arena);
  free(f.body);
  conn_close(&c);
  mk_writer_free(&batch);
  mk_writer_free(&w);
}

/* ---- pipelining --------------------------------------------------------------------------- */

static void test_pipelined_requests_are_answered_in_order(void **state) {
  (void)state;
  enum { N = 1000 };
  struct mk_writer w;
  mk_writer_init(&w);
  int32_t first = next_correlation_id;
  for (int i = 0; i < N; i++) encode_api_versions(&w, 3, next_correlation_id++);
  struct conn c = conn_open(0);
  send_all(&c, w.buf, w.len);  /* one write() of about 45 KB */
  mk_writer_free(&w);
  for (int i = 0; i < N; i++) {
    struct mk_arena arena;
    mk_arena_init(&arena);
    struct frame f;
    enum outcome o = recv_frame(&c, WAIT_MS, &f);
    if (o != GOT_FRAME)
      fail_msg("pipelined ApiVersions: %d of %d answered, then %s", i, N, outcome_name(o));
    struct mk_api_versions_response *r = decode(&f, MK_API_API_VERSIONS, 3, first + i, &arena);
    assert_int_equal(r->error_code, 0);
    mk_arena_free(&arena);
    free(f.body);
  }
  expect_quiet(&c, QUIET_MS / 4, "every pipelined request was answered");
  conn_close(&c);
}

/* A backlog: more answers than the sockets between us and the broker hold, from a client
 * whose receive buffer is 4 KB and who does not read for a while. The broker's send buffer
 * grows up to tcp_wmem's maximum (4 MB by default), so the answers must add up to more:
 * twice that. The requests are Metadata v9 for both topics, whose answers are a few hundred
 * bytes (measured once), so that takes tens of thousands of requests, not hundreds. */
static void encode_backlog_request(struct mk_writer *w, int32_t correlation_id) {
  encode_metadata(w, 9, correlation_id, RAW_TOPIC, GOOD_TOPIC);
}

static int backlog_requests(void) {
  static int n;
  if (n) return n;
  long wmem_max = 4L << 20;
  FILE *file = fopen("/proc/sys/net/ipv4/tcp_wmem", "r");
  if (file) {
    long lo, def, hi;
    if (fscanf(file, "%ld %ld %ld", &lo, &def, &hi) == 3) wmem_max = hi;
    fclose(file);
  }
  struct conn c = conn_open(0);
  struct mk_writer w;
  mk_writer_init(&w);
  int32_t id = next_correlation_id++;
  encode_backlog_request(&w, id);
  send_all(&c, w.buf, w.len);
  mk_writer_free(&w);
  struct mk_arena arena;
  mk_arena_init(&arena);
  struct frame f;
  call_response(&c, MK_API_METADATA, 9, id, &arena, &f);
  n = (int)(2 * wmem_max / (long)(f.len + 4)) + 100;
  mk_arena_free(&arena);
  free(f.body);
  conn_close(&c);
  return n;
}

/* Open a slow client on node and send it n backlog requests in one go (ids from *first). */
static struct conn send_backlog(int node, int n, int32_t *first, struct mk_writer *after) {
  struct mk_writer w;
  mk_writer_init(&w);
  *first = next_correlation_id;
  for (int i = 0; i < n; i++) encode_backlog_request(&w, next_correlation_id++);
  if (after) mk_write_raw(&w, after->buf, after->len);
  struct conn c = conn_open_rcvbuf(node, 4096);
  send_all(&c, w.buf, w.len);
  mk_writer_free(&w);
  return c;
}

struct conn_probe {
  int node;
  char peer[64];    /* "127.0.0.1:<our port>", as the broker names the connection */
  bool found;       /* out: the broker still has the connection open */
  size_t queued;    /* out: bytes of answers waiting in its write queue */
};

static void probe_conn(struct mk_broker *b, void *arg) {
  struct conn_probe *q = arg;
  q->found = false;
  q->queued = 0;
  for (struct mk_conn *c = b->listeners[q->node].conns; c; c = c->next) {
    if (strcmp(c->peer, q->peer) != 0) continue;
    q->found = true;
    q->queued = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
  }
}

/* Wait until the broker has read all of a backlog: the answers it could not send stop
 * piling up (or the connection is gone). Returns the bytes queued then. */
static size_t wait_for_backlog(const struct conn *c) {
  struct conn_probe q = {.node = c->node};
  snprintf(q.peer, sizeof q.peer, "127.0.0.1:%d", c->local_port);
  size_t last = 0;
  int64_t deadline = now_ms() + 4 * WAIT_MS;
  for (;;) {
    sleep_ms(QUIET_MS / 2);
    assert_int_equal(mk_broker_call(broker, probe_conn, &q), 0);
    if (!q.found || (q.queued > 0 && q.queued == last)) return q.queued;
    if (now_ms() > deadline)
      fail_msg("the broker is still reading a backlog after %d ms", 4 * WAIT_MS);
    last = q.queued;
  }
}

/* Read n answers, which must carry ids first, first + 1, ... in order (every 100th is
 * decoded in full as well). */
static void read_backlog(struct conn *c, int n, int32_t first, const char *what) {
  for (int i = 0; i < n; i++) {
    struct frame f;
    enum outcome o = recv_frame(c, WAIT_MS, &f);
    if (o != GOT_FRAME)
      fail_msg("%s: %d of %d answers arrived, then %s", what, i, n, outcome_name(o));
    int32_t id = -1;
    mk_response_peek_correlation_id(f.body, f.len, &id);
    if (id != first + i)
      fail_msg("%s: answer %d has correlation id %d, expected %d", what, i, id, first + i);
    if (i % 100 == 0 || i == n - 1) {
      struct mk_arena arena;
      mk_arena_init(&arena);
      struct mk_metadata_response *r = decode(&f, MK_API_METADATA, 9, first + i, &arena);
      assert_int_equal(r->topics_count, 2);
      mk_arena_free(&arena);
    }
    free(f.body);
  }
}

/* The broker must queue what the socket refuses, keep reading, and still send every answer
 * in order. */
static void test_pipelined_requests_are_answered_when_the_client_reads_late(void **state) {
  (void)state;
  int n = backlog_requests();
  int32_t first;
  struct conn c = send_backlog(2, n, &first, NULL);
  size_t queued = wait_for_backlog(&c);
  print_message("%d requests; %zu bytes of answers queued in the broker\n", n, queued);
  assert_true(queued > 0);  /* else this test checks nothing */
  read_backlog(&c, n, first, "pipelined Metadata read late");
  expect_quiet(&c, QUIET_MS / 4, "every pipelined request was answered");
  conn_close(&c);
}

/* Answers to the requests before a bad frame go out before the close. */
static void test_answers_before_a_bad_frame_are_sent_before_the_close(void **state) {
  (void)state;
  struct mk_writer w;
  mk_writer_init(&w);
  int32_t first = next_correlation_id;
  encode_api_versions(&w, 3, next_correlation_id++);
  encode_api_versions(&w, 3, next_correlation_id++);
  size_t at = begin_raw_frame(&w, 9999, 0, next_correlation_id++, false);
  finish_raw_frame(&w, at);
  size_t mark = log_mark();
  struct conn c = conn_open(1);
  send_all(&c, w.buf, w.len);
  mk_writer_free(&w);
  for (int i = 0; i < 2; i++) {
    struct mk_arena arena;
    mk_arena_init(&arena);
    struct frame f;
    call_response(&c, MK_API_API_VERSIONS, 3, first + i, &arena, &f);
    mk_arena_free(&arena);
    free(f.body);
  }
  expect_closed(&c, "two ApiVersions and a frame with api key 9999");
  expect_close_logged(mark, &c, "unknown api key 9999");
  conn_close(&c);
}

/* The same when the answers cannot all leave at once: the client does not read until the
 * bad frame has arrived, so most answers are still queued in the broker when it sees it.
 * Kafka reads a connection's next request only after answering the last one, so every
 * answer reaches the client before the close. */
static void test_answers_before_a_bad_frame_survive_a_slow_reader(void **state) {
  (void)state;
  int n = backlog_requests();
  struct mk_writer bad;
  mk_writer_init(&bad);
  size_t at = begin_raw_frame(&bad, 9999, 0, 0, false);
  finish_raw_frame(&bad, at);
  size_t mark = log_mark();
  int32_t first;
  struct conn c = send_backlog(0, n, &first, &bad);
  mk_writer_free(&bad);
  wait_for_backlog(&c);
  read_backlog(&c, n, first, "a backlog of Metadata, then a frame with api key 9999");
  expect_closed(&c, "the answers to every request before the bad frame");
  expect_close_logged(mark, &c, "unknown api key 9999");
  conn_close(&c);
}

/* ---- headers ------------------------------------------------------------------------------ */

static void test_unknown_api_key_closes(void **state) {
  (void)state;
  static const int16_t keys[] = {9999, -1, INT16_MAX, 4 /* LeaderAndIsr: not ours */};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    struct mk_writer w;
    mk_writer_init(&w);
    size_t at = begin_raw_frame(&w, keys[i], 0, next_correlation_id++, false);
    mk_write_i32(&w, 0);  /* a body, in case someone reads one */
    finish_raw_frame(&w, at);
    size_t mark = log_mark();
    struct conn c = conn_open((int)i % NBROKERS);
    send_all(&c, w.buf, w.len);
    mk_writer_free(&w);
    char what[64], reason[64];
    snprintf(what, sizeof what, "a request with api key %d", keys[i]);
    snprintf(reason, sizeof reason, "unknown api key %d", keys[i]);
    expect_closed(&c, what);
    expect_close_logged(mark, &c, reason);
    conn_close(&c);
  }
  expect_every_broker_answers();
}

/* A header too short for its own fields (client_id's length says 100 bytes follow). */
static void test_malformed_header_closes(void **state) {
  (void)state;
  struct mk_writer w;
  mk_writer_init(&w);
  mk_write_i32(&w, 12);
  mk_write_i16(&w, MK_API_METADATA);
  mk_write_i16(&w, 9);
  mk_write_i32(&w, next_correlation_id++);
  mk_write_i16(&w, 100);
  mk_write_i16(&w, 0x4142);
  size_t mark = log_mark();
  struct conn c = conn_open(2);
  send_all(&c, w.buf, w.len);
  mk_writer_free(&w);
  expect_closed(&c, "a header whose client_id runs past the frame");
  expect_close_logged(mark, &c, "malformed request: request header");
  conn_close(&c);
  expect_every_broker_answers();
}

/* ---- the trace of bad input ---------------------------------------------------------------- */

static struct {
  pthread_mutex_t lock;
  char **lines;
  size_t n, cap;
} traced = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* A trace sink (broker thread, and the good producer's events too): keeps every line. */
static void keep_line(void *opaque, const char *line, size_t len) {
  (void)opaque;
  pthread_mutex_lock(&traced.lock);
  if (traced.n == traced.cap) {
    traced.cap = traced.cap ? traced.cap * 2 : 1024;
    traced.lines = realloc(traced.lines, traced.cap * sizeof *traced.lines);
    assert_non_null(traced.lines);
  }
  char *copy = malloc(len + 1);
  assert_non_null(copy);
  memcpy(copy, line, len);
  copy[len] = 0;
  traced.lines[traced.n++] = copy;
  pthread_mutex_unlock(&traced.lock);
}

/* A client id with bytes that are not UTF-8 (a cut sequence, a surrogate, stray and
 * impossible bytes), a NUL, a control character, a quote and a backslash: ApiVersions and
 * a Produce sent with it while tracing. Every trace line must still be JSON in valid UTF-8
 * (jansson checks both), with each bad sequence read as one U+FFFD. */
static void test_client_id_with_bad_utf8_is_traced_as_valid_json(void **state) {
  (void)state;
  static const char bad_id[] = "bad\xff\xfe-\xc3-\xed\xa0\x80-\0-\x01\"\\-\xe2\x82";
#define R "\xef\xbf\xbd" /* U+FFFD */
  static const char want_id[] = "bad" R R "-" R "-" R R R "-" R "-\x01\"\\-" R;
#undef R
  const struct mk_str client_id = {bad_id, (int32_t)sizeof bad_id - 1};
  int sink = mk_trace_add_sink(keep_line, NULL);
  assert_true(sink >= 0);

  struct conn c = conn_open(raw_leader[0]);
  struct mk_writer w;
  mk_writer_init(&w);
  int32_t versions_id = next_correlation_id++;
  struct mk_api_versions_request av;
  mk_schema_set_defaults(&mk_api_versions_request_schema, &av);
  encode_as(&w, MK_API_API_VERSIONS, 3, versions_id, client_id, &av);
  send_all(&c, w.buf, w.len);
  struct mk_arena arena;
  mk_arena_init(&arena);
  struct frame f;
  struct mk_api_versions_response *vr =
      call_response(&c, MK_API_API_VERSIONS, 3, versions_id, &arena, &f);
  assert_int_equal(vr->error_code, 0);
  free(f.body);

  struct mk_writer batch, w2;
  mk_writer_init(&batch);
  mk_writer_init(&w2);
  build_batch(&batch, 2, 10);
  int32_t produce_id = next_correlation_id++;
  encode_produce_as(&w2, 7, produce_id, client_id, 1, RAW_TOPIC, 0, &batch);
  send_all(&c, w2.buf, w2.len);
  struct mk_produce_response *r = call_response(&c, MK_API_PRODUCE, 7, produce_id, &arena, &f);
  assert_int_equal(r->responses[0].partition_responses[0].error_code, 0);
  free(f.body);
  mk_arena_free(&arena);
  mk_writer_free(&batch);
  mk_writer_free(&w2);
  mk_writer_free(&w);
  conn_close(&c);
  mk_trace_remove_sink(sink);  /* waits for a line being delivered */

  int ours = 0;
  for (size_t i = 0; i < traced.n; i++) {
    json_error_t e;
    json_t *ev = json_loads(traced.lines[i], 0, &e);
    if (!ev) fail_msg("trace line %zu is not valid JSON (%s): %.300s", i, e.text, traced.lines[i]);
    json_t *cid = json_object_get(ev, "client_id");
    int64_t corr = json_integer_value(json_object_get(ev, "correlation_id"));
    const char *event = json_string_value(json_object_get(ev, "event"));
    if (event && strcmp(event, "request_received") == 0 && cid &&
        (corr == versions_id || corr == produce_id)) {
      ours++;
      if (json_string_length(cid) != sizeof want_id - 1 ||
          memcmp(json_string_value(cid), want_id, sizeof want_id - 1) != 0)
        fail_msg("client_id traced as %s", traced.lines[i]);
    }
    json_decref(ev);
    free(traced.lines[i]);
  }
  free(traced.lines);
  traced.lines = NULL;
  traced.n = traced.cap = 0;
  assert_int_equal(ours, 2);  /* both requests were traced, with the client id */
}

/* Kafka answers an ApiVersions it cannot parse with UNSUPPORTED_VERSION in v0, with its
 * ranges, so the client can pick a version; the connection stays open. */
static void api_versions_unsupported(int16_t version) {
  struct mk_writer w;
  mk_writer_init(&w);
  int32_t id = next_correlation_id++;
  size_t at = begin_raw_frame(&w, MK_API_API_VERSIONS, version, id, true);
  mk_write_string(&w, mk_str_of("future-client"), true);
  mk_write_string(&w, mk_str_of("99.0"), true);
  mk_write_uvarint(&w, 0);
  finish_raw_frame(&w, at);
  struct conn c = conn_open(0);
  send_all(&c, w.buf, w.len);
  mk_writer_free(&w);
  struct mk_arena arena;
  mk_arena_init(&arena);
  struct frame f;
  struct mk_api_versions_response *r = call_response(&c, MK_API_API_VERSIONS, 0, id, &arena, &f);
  expect_error(r->error_code, MK_ERR_UNSUPPORTED_VERSION, "ApiVersions in an unknown version");
  assert_true(r->api_keys_count > 0);
  bool produce = false, api_versions = false;
  for (int i = 0; i < r->api_keys_count; i++) {
    const struct mk_api_versions_api_version *v = &r->api_keys[i];
    const struct mk_api *api = mk_api_find(v->api_key);
    assert_non_null(api);
    assert_int_equal(v->min_version, api->advertised_min);
    assert_int_equal(v->max_version, api->advertised_max);
    produce |= v->api_key == MK_API_PRODUCE;
    api_versions |= v->api_key == MK_API_API_VERSIONS;
  }
  assert_true(produce);
  assert_true(api_versions);
  mk_arena_free(&arena);
  free(f.body);
  expect_api_versions_answered(&c);
  conn_close(&c);
}

static void test_api_versions_v99_gets_unsupported_version_in_v0(void **state) {
  (void)state;
  api_versions_unsupported(99);
}

static void test_api_versions_negative_version_gets_unsupported_version(void **state) {
  (void)state;
  api_versions_unsupported(-1);
}

/* ---- bodies ------------------------------------------------------------------------------- */

/* Metadata v9 whose frame ends inside the second topic's name (size prefix adjusted, so the
 * frame is whole and only the body is short). */
static void test_metadata_truncated_inside_a_field_closes(void **state) {
  (void)state;
  struct mk_writer w;
  mk_writer_init(&w);
  encode_metadata(&w, 9, next_correlation_id++, RAW_TOPIC, "abcdefghij");
  /* After the name: the topic's tags, allow_auto_topic_creation, the two
   * include_*_authorized_operations and the request's tags, one byte each. */
  size_t name_end = w.len - 5;
  w.len = name_end - 5;  /* cut after "abcde" */
  mk_writer_patch_i32(&w, 0, (int32_t)(w.len - 4));
  size_t mark = log_mark();
  struct conn c = conn_open(1);
  send_all(&c, w.buf, w.len);
  mk_writer_free(&w);
  expect_closed(&c, "a Metadata request cut inside a topic name");
  expect_close_logged(mark, &c, "malformed request: MetadataRequest v9: topics[1].name");
  conn_close(&c);
  expect_every_broker_answers();
}

/* For every API the broker handles, in every version it reads: frames whose bodies are
 * garbage, each followed on the same connection by a valid ApiVersions. Allowed: an answer
 * to the garbage (decodable, in that version) or none (acks=0), then the ApiVersions answer;
 * or a close. Not allowed: silence, a wrong correlation id, a crash. */
static void test_garbage_bodies_for_every_api_get_an_answer_or_a_close(void **state) {
  (void)state;
  static const int16_t keys[] = {MK_API_PRODUCE, MK_API_FETCH, MK_API_LIST_OFFSETS,
                                 MK_API_METADATA, MK_API_API_VERSIONS, MK_API_INIT_PRODUCER_ID,
                                 MK_API_DESCRIBE_CLUSTER};
  static const size_t lengths[] = {0, 3, 12, 40, 300};
  int answered = 0, closed = 0, silent = 0, connections = 0;
  for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
    const struct mk_api *api = mk_api_find(keys[k]);
    assert_non_null(api);
    for (int16_t v = api->min_version; v <= api->max_version; v++) {
      for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
        struct mk_writer w;
        mk_writer_init(&w);
        int32_t garbage_id = next_correlation_id++, check_id = next_correlation_id++;
        size_t at = begin_raw_frame(&w, keys[k], v, garbage_id, mk_api_is_flexible(api, v));
        size_t body = w.len;
        for (size_t i = 0; i < lengths[l]; i++) mk_write_i8(&w, (int8_t)garbage_byte());
        /* A Fetch that decodes may wait max_wait_ms for data: make that 0. */
        size_t max_wait_at = body + (v >= 15 ? 0 : 4);
        if (keys[k] == MK_API_FETCH && w.len >= max_wait_at + 4)
          memset(w.buf + max_wait_at, 0, 4);
        finish_raw_frame(&w, at);
        encode_api_versions(&w, 3, check_id);

        size_t mark = log_mark();
        struct conn c = conn_open(connections++ % NBROKERS);
        (void)send_bytes(&c, w.buf, w.len);
        mk_writer_free(&w);
        bool got_garbage_answer = false;
        for (;;) {
          struct frame f;
          enum outcome o = recv_frame(&c, WAIT_MS, &f);
          if (o == CLOSED) {
            expect_close_logged(mark, &c, "");  /* with a reason, whatever it is */
            closed++;
            break;
          }
          if (o != GOT_FRAME)
            fail_msg("%s v%d with a %zu-byte garbage body: broker %d sent %s", api->name, v,
                     lengths[l], c.node, outcome_name(o));
          int32_t id = -1;
          mk_response_peek_correlation_id(f.body, f.len, &id);
          struct mk_arena arena;
          mk_arena_init(&arena);
          if (id == garbage_id && !got_garbage_answer) {
            decode(&f, keys[k], v, garbage_id, &arena);
            got_garbage_answer = true;
            mk_arena_free(&arena);
            free(f.body);
            continue;
          }
          if (id != check_id)
            fail_msg("%s v%d with garbage: expected correlation id %d or %d, got %d", api->name,
                     v, garbage_id, check_id, id);
          struct mk_api_versions_response *r = decode(&f, MK_API_API_VERSIONS, 3, check_id, &arena);
          assert_int_equal(r->error_code, 0);
          mk_arena_free(&arena);
          free(f.body);
          if (got_garbage_answer)
            answered++;
          else
            silent++;
          break;
        }
        conn_close(&c);
      }
    }
  }
  print_message("%d garbage requests: %d closed, %d answered, %d unanswered (acks=0)\n",
                connections, closed, answered, silent);
  assert_int_equal(closed + answered + silent, connections);
  expect_every_broker_answers();
}

/* ---- Produce ------------------------------------------------------------------------------ */

static void test_produce_with_a_bad_crc_gets_corrupt_message(void **state) {
  (void)state;
  struct mk_writer batch;
  mk_writer_init(&batch);
  build_batch(&batch, 3, 20);
  batch.buf[batch.len - 2] ^= 0x55;  /* inside the last record's value; the CRC is stale */
  expect_produce_refused(raw_leader[0], 7, -1, 0, &batch, MK_ERR_CORRUPT_MESSAGE,
                         "Produce of a batch with a wrong CRC");
  mk_writer_free(&batch);
}

static void test_produce_to_a_follower_gets_not_leader_or_follower(void **state) {
  (void)state;
  struct mk_writer batch;
  mk_writer_init(&batch);
  build_batch(&batch, 1, 20);
  expect_produce_refused((raw_leader[1] + 1) % NBROKERS, 7, -1, 1, &batch,
                         MK_ERR_NOT_LEADER_OR_FOLLOWER,
                         "Produce to a broker that does not lead the partition");
  mk_writer_free(&batch);
}

static void test_produce_to_an_unknown_partition_gets_unknown_topic_or_partition(void **state) {
  (void)state;
  struct mk_writer batch;
  mk_writer_init(&batch);
  build_batch(&batch, 1, 20);
  struct conn c = conn_open(raw_leader[0]);
  expect_error(produce(&c, 7, -1, NPARTITIONS + 5, &batch, NULL), MK_ERR_UNKNOWN_TOPIC_OR_PARTITION,
               "Produce to a partition that does not exist");
  expect_api_versions_answered(&c);
  conn_close(&c);
  mk_writer_free(&batch);
}

static void test_produce_with_acks_2_gets_invalid_required_acks(void **state) {
  (void)state;
  struct mk_writer batch;
  mk_writer_init(&batch);
  build_batch(&batch, 1, 20);
  expect_produce_refused(raw_leader[2], 7, 2, 2, &batch, MK_ERR_INVALID_REQUIRED_ACKS,
                         "Produce with acks=2");
  mk_writer_free(&batch);
}

/* The request is sent in two parts, so the broker reads most of it straight into the frame
 * buffer (the path for large frames). */
static void test_batch_over_message_max_bytes_gets_message_too_large(void **state) {
  (void)state;
  struct mk_writer batch, w;
  mk_writer_init(&batch);
  mk_writer_init(&w);
  build_batch(&batch, 1, 2 * MESSAGE_MAX_BYTES);
  int32_t id = next_correlation_id++;
  encode_produce(&w, 7, id, -1, RAW_TOPIC, 0, &batch);
  int64_t leo = raw_leo(0);
  struct conn c = conn_open(raw_leader[0]);
  send_all(&c, w.buf, 1000);
  sleep_ms(20);
  send_all(&c, w.buf + 1000, w.len - 1000);
  struct mk_arena arena;
  mk_arena_init(&arena);
  struct frame f;
  struct mk_produce_response *r = call_response(&c, MK_API_PRODUCE, 7, id, &arena, &f);
  assert_int_equal(r->responses_count, 1);
  assert_int_equal(r->responses[0].partition_responses_count, 1);
  expect_error(r->responses[0].partition_responses[0].error_code, MK_ERR_MESSAGE_TOO_LARGE,
               "Produce of a 20 KB batch over message.max.bytes 10000");
  assert_int_equal(raw_leo(0), leo);
  mk_arena_free(&arena);
  free(f.body);
  expect_api_versions_answered(&c);
  conn_close(&c);
  mk_writer_free(&batch);
  mk_writer_free(&w);
}

static void test_two_batches_in_one_partition_get_invalid_record(void **state) {
  (void)state;
  struct mk_writer batches;
  mk_writer_init(&batches);
  build_batch(&batches, 1, 20);
  build_batch(&batches, 1, 20);
  expect_produce_refused(raw_leader[1], 7, -1, 1, &batches, MK_ERR_INVALID_RECORD,
                         "Produce v7 with two batches for one partition");
  mk_writer_free(&batches);
}

/* With acks=0 nothing tells the client of an error, so Kafka closes the connection. */
static void test_acks_0_produce_with_a_bad_crc_closes(void **state) {
  (void)state;
  struct mk_writer batch, w;
  mk_writer_init(&batch);
  mk_writer_init(&w);
  build_batch(&batch, 2, 20);
  batch.buf[batch.len - 1] ^= 0x01;
  encode_produce(&w, 7, next_correlation_id++, 0, RAW_TOPIC, 2, &batch);
  int64_t leo = raw_leo(2);
  size_t mark = log_mark();
  struct conn c = conn_open(raw_leader[2]);
  send_all(&c, w.buf, w.len);
  expect_closed(&c, "an acks=0 Produce with a wrong CRC");
  expect_close_logged(mark, &c, "acks=0");
  assert_int_equal(raw_leo(2), leo);
  conn_close(&c);
  mk_writer_free(&batch);
  mk_writer_free(&w);
  expect_every_broker_answers();
}

/* acks=0 that succeeds: no answer at all, and the next request on the connection is
 * answered as usual. */
static void test_acks_0_produce_is_not_answered_and_the_next_request_is(void **state) {
  (void)state;
  struct mk_writer batch, w;
  mk_writer_init(&batch);
  mk_writer_init(&w);
  build_batch(&batch, 2, 20);
  encode_produce(&w, 7, next_correlation_id++, 0, RAW_TOPIC, 1, &batch);
  int32_t id = next_correlation_id++;
  encode_api_versions(&w, 3, id);
  int64_t leo = raw_leo(1);
  struct conn c = conn_open(raw_leader[1]);
  send_all(&c, w.buf, w.len);
  struct mk_arena arena;
  mk_arena_init(&arena);
  struct frame f;
  call_response(&c, MK_API_API_VERSIONS, 3, id, &arena, &f);  /* fails on a Produce answer */
  mk_arena_free(&arena);
  free(f.body);
  expect_quiet(&c, QUIET_MS / 4, "an acks=0 Produce and an ApiVersions");
  assert_int_equal(raw_leo(1), leo + 2);
  conn_close(&c);
  mk_writer_free(&batch);
  mk_writer_free(&w);
}

/* Transaction markers are written by the broker only: Kafka's LogValidator refuses a control
 * batch from a client ("Clients are not allowed to write control records"). */
static void test_control_batch_from_a_client_gets_invalid_record(void **state) {
  (void)state;
  struct mk_writer marker;
  mk_writer_init(&marker);
  struct mk_err err = {0};
  assert_int_equal(mk_record_batch_write_control(&marker, 4242, 0, MK_CONTROL_COMMIT, 0,
                                                 1700000000000, &err), 0);
  expect_produce_refused(raw_leader[0], 7, -1, 0, &marker, MK_ERR_INVALID_RECORD,
                         "Produce of a COMMIT marker (a control batch) by a client");
  mk_writer_free(&marker);
}

/* zstd came with Produce v7; Kafka's ProduceRequest.validateRecords refuses it in v3-v6
 * ("Produce requests with version N are not allowed to use ZStandard compression"). */
static void test_zstd_batch_before_produce_v7_gets_unsupported_compression_type(void **state) {
  (void)state;
  struct mk_record_batch_builder bb;
  mk_record_batch_builder_init(&bb);
  bb.compression = MK_COMPRESSION_ZSTD;
  for (int i = 0; i < 3; i++)
    assert_int_equal(mk_record_batch_builder_append(&bb, 1700000000000 + i, MK_BYTES_NULL,
                                                    (struct mk_bytes){(const uint8_t *)"zstd", 4},
                                                    NULL, 0), 0);
  struct mk_writer batch;
  mk_writer_init(&batch);
  struct mk_err err = {0};
  assert_int_equal(mk_record_batch_builder_finish(&bb, &batch, &err), 0);
  mk_record_batch_builder_free(&bb);
  int64_t leo = raw_leo(2);
  struct conn c = conn_open(raw_leader[2]);
  for (int16_t v = 3; v <= 6; v++) {
    char what[64];
    snprintf(what, sizeof what, "Produce v%d of a zstd batch", v);
    expect_error(produce(&c, v, -1, 2, &batch, NULL), MK_ERR_UNSUPPORTED_COMPRESSION_TYPE, what);
    assert_int_equal(raw_leo(2), leo);
  }
  expect_error(produce(&c, 7, -1, 2, &batch, NULL), 0, "Produce v7 of a zstd batch");
  assert_int_equal(raw_leo(2), leo + 3);
  conn_close(&c);
  mk_writer_free(&batch);
}

struct stored_check {
  int32_t partition;
  int rc;             /* out: mk_record_batch_validate of the last stored batch */
  char msg[200];
};

static void check_last_stored_batch(struct mk_broker *b, void *arg) {
  struct stored_check *q = arg;
  struct mk_partition *p = mk_cluster_partition(mk_cluster_find_topic(&b->cluster, mk_str_of(RAW_TOPIC)),
                                                q->partition);
  const struct mk_log *log = &mk_partition_leader(p)->log;
  struct mk_record_batch parsed;
  mk_batch_parsed(mk_log_batch(log, log->count - 1), &parsed);
  struct mk_err err = {0};
  q->rc = mk_record_batch_validate(&parsed, 64 << 20, &err);
  snprintf(q->msg, sizeof q->msg, "%s", err.msg);
}

/* Batches with a few bytes changed after the CRC field and the CRC then fixed, so the
 * damage reaches the record parser: each must get an answer (an error, or success with a
 * batch that validates when read back), never a close or a crash. */
static void test_batches_damaged_under_a_valid_crc_get_an_answer(void **state) {
  (void)state;
  enum { ROUNDS = 300 };
  int accepted = 0, refused = 0;
  for (int i = 0; i < ROUNDS; i++) {
    struct mk_record_batch_builder bb;
    mk_record_batch_builder_init(&bb);
    struct mk_record_header h = {{(const uint8_t *)"h", 1}, {(const uint8_t *)"hv", 2}};
    struct mk_bytes key = {(const uint8_t *)"key", 3}, value = {(const uint8_t *)"value", 5};
    for (int r = 0; r < 3; r++)
      assert_int_equal(mk_record_batch_builder_append(&bb, 1700000000000 + r, key, value, &h, 1),
                       0);
    struct mk_writer batch;
    mk_writer_init(&batch);
    assert_int_equal(mk_record_batch_builder_finish(&bb, &batch, NULL), 0);
    mk_record_batch_builder_free(&bb);
    int changes = 1 + (int)(rng() % 3);
    for (int k = 0; k < changes; k++) {
      size_t from = MK_RECORD_BATCH_ATTRIBUTES_OFFSET;  /* keep length, magic and CRC */
      size_t at = from + rng() % (batch.len - from);
      batch.buf[at] = garbage_byte();
    }
    struct mk_record_batch parsed;
    assert_int_equal(mk_record_batch_parse(batch.buf, batch.len, &parsed, NULL), 0);
    mk_store_u32(batch.buf + MK_RECORD_BATCH_CRC_OFFSET, mk_record_batch_compute_crc(&parsed));

    int32_t p = i % NPARTITIONS;
    int64_t leo = raw_leo(p);
    struct conn c = conn_open(raw_leader[p]);
    int16_t code = produce(&c, 7, -1, p, &batch, NULL);
    if (code == 0) {
      accepted++;
      assert_true(raw_leo(p) > leo);
      struct stored_check q = {.partition = p};
      assert_int_equal(mk_broker_call(broker, check_last_stored_batch, &q), 0);
      if (q.rc)
        fail_msg("round %d: the broker stored a batch that does not validate: %s", i, q.msg);
    } else {
      refused++;
      assert_int_equal(raw_leo(p), leo);
    }
    expect_api_versions_answered(&c);
    conn_close(&c);
    mk_writer_free(&batch);
  }
  print_message("%d damaged batches: %d refused, %d accepted\n", ROUNDS, refused, accepted);
}

/* ---- the good client, and a last round trip ----------------------------------------------- */

struct scan {
  long produced;
  uint8_t *seen;      /* seen[i]: copies of "good-<i>" in the leaders' logs */
  long records;
  long strange;       /* records that are not "good-<i>" for a sent i */
  int64_t leo_sum;
};

static void scan_good_topic(struct mk_broker *b, void *arg) {
  struct scan *s = arg;
  struct mk_topic *t = mk_cluster_find_topic(&b->cluster, mk_str_of(GOOD_TOPIC));
  for (int32_t p = 0; t && p < t->npartitions; p++) {
    const struct mk_log *log = &mk_partition_leader(t->partitions[p])->log;
    s->leo_sum += log->log_end_offset;
    for (size_t i = 0; i < log->count; i++) {
      struct mk_record_batch parsed;
      mk_batch_parsed(mk_log_batch(log, i), &parsed);
      struct mk_record_reader rr;
      struct mk_err err = {0};
      if (mk_record_reader_init(&rr, &parsed, 1 << 20, &err)) {
        s->strange++;
        continue;
      }
      struct mk_record rec;
      while (mk_record_reader_next(&rr, &rec, &err) == 0) {
        s->records++;
        long n = record_number(rec.value.ptr, rec.value.len > 0 ? (size_t)rec.value.len : 0);
        if (n < 0 || n >= s->produced)
          s->strange++;
        else
          s->seen[n]++;
      }
      mk_record_reader_free(&rr);
    }
  }
}

static void test_good_producer_delivered_every_record_exactly_once(void **state) {
  (void)state;
  good_producer_stop();
  print_message("good producer: %ld produced, %ld delivered (%ld before the abuse began)\n",
                good.produced, good.delivered, good.delivered_before_abuse);
  if (good.refused || good.failed)
    fail_msg("good producer: %ld refused, %ld failed deliveries; first: %s", good.refused,
             good.failed, good.first_failure);
  if (good.errors)
    fail_msg("good producer saw %ld errors (a dropped connection?); first: %s", good.errors,
             good.first_error);
  assert_int_equal(good.unflushed, 0);
  assert_int_equal(good.strange_reports, 0);
  assert_int_equal(good.duplicate_reports, 0);
  assert_true(good.delivered > good.delivered_before_abuse);
  assert_int_equal(good.delivered, good.produced);
  for (long i = 0; i < good.produced; i++)
    if (good.reports[i] != 1)
      fail_msg("record good-%ld had %d delivery reports", i, good.reports[i]);

  /* And the broker holds each record once: idempotence removed any retried duplicate. */
  struct scan s = {.produced = good.produced, .seen = calloc((size_t)good.produced + 1, 1)};
  assert_non_null(s.seen);
  assert_int_equal(mk_broker_call(broker, scan_good_topic, &s), 0);
  assert_int_equal(s.strange, 0);
  assert_int_equal(s.records, good.produced);
  assert_int_equal(s.leo_sum, good.produced);
  for (long i = 0; i < good.produced; i++)
    if (s.seen[i] != 1) fail_msg("record good-%ld is in the log %d times", i, s.seen[i]);
  free(s.seen);
}

static void test_metadata_and_produce_still_work_at_the_end(void **state) {
  (void)state;
  int32_t leaders[NPARTITIONS];
  find_leaders(RAW_TOPIC, leaders);
  for (int32_t p = 0; p < NPARTITIONS; p++) {
    assert_int_equal(leaders[p], raw_leader[p]);
    struct mk_writer batch;
    mk_writer_init(&batch);
    build_batch(&batch, 5, 100);
    int64_t leo = raw_leo(p), base = -1;
    struct conn c = conn_open(leaders[p]);
    expect_error(produce(&c, 7, -1, p, &batch, &base), 0, "a last, valid Produce");
    assert_int_equal(base, leo);
    assert_int_equal(raw_leo(p), leo + 5);
    conn_close(&c);
    mk_writer_free(&batch);
  }
}

/* Last: stop the broker while clients still wait on it: a Fetch long-polling with an absurd
 * max_wait_ms, half a frame, and a client that never reads (answers queued in the broker).
 * The broker must close them all, stop, and free everything (LSan checks). */
static void test_broker_stops_cleanly_with_clients_still_waiting(void **state) {
  (void)state;
  struct mk_fetch_partition fp;
  mk_schema_set_defaults(&mk_fetch_partition_schema, &fp);
  fp.partition = 0;
  fp.fetch_offset = raw_leo(0);
  fp.partition_max_bytes = 1 << 20;
  struct mk_fetch_topic ft;
  mk_schema_set_defaults(&mk_fetch_topic_schema, &ft);
  ft.topic = mk_str_of(RAW_TOPIC);
  ft.partitions = &fp;
  ft.partitions_count = 1;
  struct mk_fetch_request fetch;
  mk_schema_set_defaults(&mk_fetch_request_schema, &fetch);
  fetch.max_wait_ms = INT32_MAX;
  fetch.min_bytes = 1;
  fetch.max_bytes = 1 << 20;
  fetch.topics = &ft;
  fetch.topics_count = 1;
  struct mk_writer w;
  mk_writer_init(&w);
  encode(&w, MK_API_FETCH, 12, next_correlation_id++, &fetch);
  struct conn fetcher = conn_open(raw_leader[0]);
  send_all(&fetcher, w.buf, w.len);
  mk_writer_free(&w);
  expect_quiet(&fetcher, QUIET_MS, "a Fetch at the log end with max_wait_ms INT32_MAX");

  struct conn half = conn_open(1);
  uint8_t partial[14] = {0, 0, 0x03, 0xe8, 0, MK_API_METADATA, 0, 9};
  send_all(&half, partial, sizeof partial);
  expect_quiet(&half, QUIET_MS / 4, "14 bytes of a 1000-byte frame");

  int32_t first;
  struct conn slow = send_backlog(2, backlog_requests(), &first, NULL);
  wait_for_backlog(&slow);

  mk_broker_stop(broker);
  mk_broker_free(broker);
  broker = NULL;
  expect_closed(&fetcher, "mk_broker_stop with a Fetch waiting");
  expect_closed(&half, "mk_broker_stop with half a frame read");
  expect_drained_then_closed(&slow, "mk_broker_stop with answers queued");
  conn_close(&fetcher);
  conn_close(&half);
  conn_close(&slow);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      /* framing */
      cmocka_unit_test(test_random_bytes_are_closed_or_left_waiting),
      cmocka_unit_test(test_size_over_socket_request_max_bytes_closes),
      cmocka_unit_test(test_size_of_exactly_socket_request_max_bytes_is_accepted),
      cmocka_unit_test(test_negative_and_tiny_size_prefixes_close),
      cmocka_unit_test(test_truncated_frames_then_close_are_dropped),
      cmocka_unit_test(test_half_written_large_frame_then_close_frees_it),
      cmocka_unit_test(test_request_in_one_byte_writes_is_answered),
      /* pipelining */
      cmocka_unit_test(test_pipelined_requests_are_answered_in_order),
      cmocka_unit_test(test_pipelined_requests_are_answered_when_the_client_reads_late),
      cmocka_unit_test(test_answers_before_a_bad_frame_are_sent_before_the_close),
      cmocka_unit_test(test_answers_before_a_bad_frame_survive_a_slow_reader),
      /* headers */
      cmocka_unit_test(test_unknown_api_key_closes),
      cmocka_unit_test(test_malformed_header_closes),
      cmocka_unit_test(test_api_versions_v99_gets_unsupported_version_in_v0),
      cmocka_unit_test(test_api_versions_negative_version_gets_unsupported_version),
      cmocka_unit_test(test_client_id_with_bad_utf8_is_traced_as_valid_json),
      /* bodies */
      cmocka_unit_test(test_metadata_truncated_inside_a_field_closes),
      cmocka_unit_test(test_garbage_bodies_for_every_api_get_an_answer_or_a_close),
      /* Produce */
      cmocka_unit_test(test_produce_with_a_bad_crc_gets_corrupt_message),
      cmocka_unit_test(test_produce_to_a_follower_gets_not_leader_or_follower),
      cmocka_unit_test(test_produce_to_an_unknown_partition_gets_unknown_topic_or_partition),
      cmocka_unit_test(test_produce_with_acks_2_gets_invalid_required_acks),
      cmocka_unit_test(test_batch_over_message_max_bytes_gets_message_too_large),
      cmocka_unit_test(test_two_batches_in_one_partition_get_invalid_record),
      cmocka_unit_test(test_acks_0_produce_with_a_bad_crc_closes),
      cmocka_unit_test(test_acks_0_produce_is_not_answered_and_the_next_request_is),
      cmocka_unit_test(test_control_batch_from_a_client_gets_invalid_record),
      cmocka_unit_test(test_zstd_batch_before_produce_v7_gets_unsupported_compression_type),
      cmocka_unit_test(test_batches_damaged_under_a_valid_crc_get_an_answer),
      /* last: the good client stops here */
      cmocka_unit_test(test_good_producer_delivered_every_record_exactly_once),
      cmocka_unit_test(test_metadata_and_produce_still_work_at_the_end),
      cmocka_unit_test(test_broker_stops_cleanly_with_clients_still_waiting),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
