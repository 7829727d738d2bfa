/*
 * Client: blocking connections, ApiVersions negotiation and node addresses. See client.h.
 *
 * All socket I/O is non-blocking underneath and waits in poll(), so every step (connect,
 * write, read) can stop at the request's deadline instead of hanging on a broker that
 * went quiet. A frame is written whole, then read as a 4-byte size and that many bytes.
 */
#include "client/client.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "protocol/api.h"
#include "protocol/frame.h"
#include "protocol/messages/api_versions.h"
#include "protocol/messages/find_coordinator.h"

#ifndef MK_VERSION
#define MK_VERSION "unknown"
#endif

/* No response we ask for comes near this (fetch.max.bytes defaults to 50 MiB); a larger
 * size prefix means the stream is out of step or the peer is not a Kafka broker. */
enum { MAX_RESPONSE = 256 << 20 };

/* strerror, lower-cased ("connection refused"), as the rest of the sentence is. */
static const char *reason(int e, char *buf, size_t len) {
  snprintf(buf, len, "%s", strerror(e));
  if (buf[0] && isupper((unsigned char)buf[0]) && !isupper((unsigned char)buf[1]))
    buf[0] = (char)tolower((unsigned char)buf[0]);
  return buf;
}

static int64_t now_ms(void) { return mk_now_us() / 1000; }

static void conn_reset(struct mk_client_conn *conn, struct mk_client *c, int32_t node_id,
                       const char *host, int port) {
  conn->client = c;
  conn->node_id = node_id;
  snprintf(conn->host, sizeof conn->host, "%s", host);
  conn->port = port;
  conn->fd = -1;
  for (int i = 0; i <= MK_CLIENT_MAX_API_KEY; i++) conn->versions[i] = -1;
}

void mk_client_conn_init(struct mk_client_conn *conn, struct mk_client *c, int32_t node_id,
                         const char *host, int port) {
  conn_reset(conn, c, node_id, host, port);
}

void mk_client_init(struct mk_client *c, const char *client_id) {
  memset(c, 0, sizeof *c);
  snprintf(c->client_id, sizeof c->client_id, "%s", client_id ? client_id : "minikafka");
  c->timeout_ms = 30000;
  c->next_correlation_id = 1;
  c->wake_fd = -1;
  conn_reset(&c->bootstrap, c, -1, "", 0);
}

void mk_client_conn_close(struct mk_client_conn *conn) {
  if (conn->fd >= 0) close(conn->fd);
  conn->fd = -1;
}

void mk_client_free(struct mk_client *c) {
  mk_client_conn_close(&c->bootstrap);
  for (int i = 0; i < c->nnodes; i++) mk_client_conn_close(&c->nodes[i]);
  c->nnodes = 0;
}

/* ---- waiting ------------------------------------------------------------------------------- */

/* Wait until fd is ready for events or the deadline passes. Returns 0, or an error. */
static int wait_fd(struct mk_client_conn *conn, short events, int64_t deadline, const char *doing,
                   struct mk_err *err) {
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0)
      return mk_err_set(err, MK_ERR__TIMED_OUT, "%s %s:%d: no answer within %d ms", doing,
                        conn->host, conn->port, conn->client->timeout_ms);
    struct pollfd p[2] = {{.fd = conn->fd, .events = events},
                          {.fd = conn->client->wake_fd, .events = POLLIN}};
    int n = poll(p, conn->client->wake_fd >= 0 ? 2 : 1, (int)(left > 1000000 ? 1000000 : left));
    if (n > 0 && conn->client->wake_fd >= 0 && p[1].revents)
      return mk_err_set(err, MK_ERR__STATE, "woken up");
    if (n > 0) return 0;
    if (n < 0 && errno == EINTR) {
      if (conn->client->cancel && *conn->client->cancel)
        return mk_err_set(err, MK_ERR__STATE, "interrupted");
      continue;
    }
    if (n < 0) {
      char why[128];
      return mk_err_set(err, MK_ERR__TRANSPORT, "%s %s:%d: poll: %s", doing, conn->host,
                        conn->port, reason(errno, why, sizeof why));
    }
  }
}

static int write_all(struct mk_client_conn *conn, const uint8_t *buf, size_t len, int64_t deadline,
                     struct mk_err *err) {
  while (len > 0) {
    ssize_t n = send(conn->fd, buf, len, MSG_NOSIGNAL);
    if (n > 0) {
      buf += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      int rc = wait_fd(conn, POLLOUT, deadline, "sending to", err);
      if (rc) return rc;
      continue;
    }
    char why[128];
    return mk_err_set(err, MK_ERR__TRANSPORT, "cannot send to %s:%d: %s", conn->host, conn->port,
                      reason(errno, why, sizeof why));
  }
  return 0;
}

static int read_all(struct mk_client_conn *conn, uint8_t *buf, size_t len, int64_t deadline,
                    const char *waiting_for, struct mk_err *err) {
  while (len > 0) {
    ssize_t n = recv(conn->fd, buf, len, 0);
    if (n > 0) {
      buf += n;
      len -= (size_t)n;
      continue;
    }
    if (n == 0)
      return mk_err_set(err, MK_ERR__TRANSPORT,
                        "%s:%d closed the connection while we waited for %s", conn->host,
                        conn->port, waiting_for);
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      char doing[96];
      snprintf(doing, sizeof doing, "waiting for %s from", waiting_for);
      int rc = wait_fd(conn, POLLIN, deadline, doing, err);
      if (rc) return rc;
      continue;
    }
    char why[128];
    return mk_err_set(err, MK_ERR__TRANSPORT, "cannot read from %s:%d: %s", conn->host,
                      conn->port, reason(errno, why, sizeof why));
  }
  return 0;
}

/* ---- connecting ---------------------------------------------------------------------------- */

/* TCP connect to conn->host:conn->port, trying each address it resolves to. */
static int tcp_connect(struct mk_client_conn *conn, struct mk_err *err) {
  char port[16], why[128];
  snprintf(port, sizeof port, "%d", conn->port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
  int grc = getaddrinfo(conn->host, port, &hints, &res);
  if (grc)
    return mk_err_set(err, MK_ERR__TRANSPORT, "cannot resolve %s: %s", conn->host,
                      gai_strerror(grc));
  int rc = MK_ERR__TRANSPORT;
  int64_t deadline = now_ms() + conn->client->timeout_ms;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      rc = mk_err_set(err, MK_ERR__TRANSPORT, "cannot connect to %s:%d: socket: %s", conn->host,
                      conn->port, reason(errno, why, sizeof why));
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  /* as every Kafka client */
    conn->fd = fd;
    int e = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      rc = 0;
      break;
    }
    if (errno != EINPROGRESS) {
      e = errno;
    } else {
      rc = wait_fd(conn, POLLOUT, deadline, "cannot connect to", err);
      if (rc) {  /* timed out or interrupted: err says which */
        mk_client_conn_close(conn);
        if (rc == MK_ERR__STATE) break;
        continue;
      }
      socklen_t sl = sizeof e;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) != 0) e = errno;
      if (e == 0) break;  /* rc is 0: connected */
    }
    rc = mk_err_set(err, MK_ERR__TRANSPORT, "cannot connect to %s:%d: %s", conn->host, conn->port,
                    reason(e, why, sizeof why));
    mk_client_conn_close(conn);
  }
  freeaddrinfo(res);
  return rc;
}

/* Pick, for every API in our table, the highest version both sides support. */
static void choose_versions(struct mk_client_conn *conn, const struct mk_api_versions_response *r) {
  for (int i = 0; i <= MK_CLIENT_MAX_API_KEY; i++) conn->versions[i] = -1;
  for (int32_t i = 0; i < r->api_keys_count; i++) {
    const struct mk_api_versions_api_version *v = &r->api_keys[i];
    const struct mk_api *api = mk_api_find(v->api_key);
    if (!api || v->api_key < 0 || v->api_key > MK_CLIENT_MAX_API_KEY) continue;
    int lo = api->min_version > v->min_version ? api->min_version : v->min_version;
    int hi = api->advertised_max < v->max_version ? api->advertised_max : v->max_version;
    conn->versions[v->api_key] = (int16_t)(hi >= lo ? hi : -1);
  }
}

/* ApiVersions at our newest version; on UNSUPPORTED_VERSION, again at the broker's newest
 * (the refusal carries the broker's ranges, in the v0 layout; mk_client_receive reads it);
 * on an answer that does not decode, again at v0, as the producer's NetworkClient does. */
static int negotiate(struct mk_client_conn *conn, struct mk_err *err) {
  const struct mk_api *api = mk_api_find(MK_API_API_VERSIONS);
  int version = api->max_version;
  for (int attempt = 0;; attempt++) {
    struct mk_api_versions_request req;
    mk_schema_set_defaults(&mk_api_versions_request_schema, &req);
    req.client_software_name = mk_str_of("minikafka");
    req.client_software_version = mk_str_of(MK_VERSION);
    struct mk_client_pending p;
    struct mk_arena arena;
    mk_arena_init(&arena);
    struct mk_api_versions_response *resp = NULL;
    int rc = mk_client_send(conn, MK_API_API_VERSIONS, version, &req, &p, err);
    if (!rc) rc = mk_client_receive(conn, &p, (void **)&resp, &arena, err);
    if (rc == MK_ERR__DECODE && attempt == 0) {
      /* An answer that does not decode (librdkafka's mock cluster answers v3+ so): every
       * broker understands v0. The connection was closed with the bad answer. */
      mk_arena_free(&arena);
      if ((rc = tcp_connect(conn, err))) return rc;
      version = 0;
      continue;
    }
    if (!rc && resp->error_code == MK_ERR_UNSUPPORTED_VERSION && attempt == 0) {
      int broker_max = -1;
      for (int32_t i = 0; i < resp->api_keys_count; i++)
        if (resp->api_keys[i].api_key == MK_API_API_VERSIONS) broker_max = resp->api_keys[i].max_version;
      mk_arena_free(&arena);
      if (broker_max < api->min_version || broker_max >= version)
        return mk_err_set(err, MK_ERR_UNSUPPORTED_VERSION,
                          "%s:%d refused ApiVersions v%d and offers no version we speak",
                          conn->host, conn->port, version);
      version = broker_max;
      continue;
    }
    if (!rc && resp->error_code)
      rc = mk_err_set(err, resp->error_code, "%s:%d answered ApiVersions v%d with %s", conn->host,
                      conn->port, version, mk_err_name(resp->error_code));
    if (!rc) choose_versions(conn, resp);
    mk_arena_free(&arena);
    return rc;
  }
}

/* Open the connection if it is closed: TCP, then ApiVersions. */
static int ensure_open(struct mk_client_conn *conn, struct mk_err *err) {
  if (conn->fd >= 0) return 0;
  int rc = tcp_connect(conn, err);
  if (!rc) rc = negotiate(conn, err);
  if (rc) mk_client_conn_close(conn);
  return rc;
}

/* "host:port" -> host, port; "[::1]:9092" too. */
static int parse_server(const char *s, size_t len, char *host, size_t host_len, int *port,
                        struct mk_err *err) {
  while (len > 0 && isspace((unsigned char)*s)) s++, len--;
  while (len > 0 && isspace((unsigned char)s[len - 1])) len--;
  const char *colon = NULL;
  for (size_t i = 0; i < len; i++)
    if (s[i] == ':') colon = s + i;
  if (!colon || colon == s || colon == s + len - 1)
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "bootstrap server '%.*s' is not host:port (e.g. 127.0.0.1:9092)", (int)len, s);
  const char *h = s;
  size_t hl = (size_t)(colon - s);
  if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') h++, hl -= 2;
  char digits[8] = "";
  size_t pl = len - (size_t)(colon + 1 - s);
  if (hl == 0 || hl >= host_len || pl >= sizeof digits)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "bootstrap server '%.*s' is not host:port",
                      (int)len, s);
  memcpy(digits, colon + 1, pl);
  digits[pl] = '\0';
  char *end;
  long p = strtol(digits, &end, 10);
  if (*end || p < 1 || p > 65535)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "bootstrap server '%.*s': bad port '%s'",
                      (int)len, s, digits);
  memcpy(host, h, hl);
  host[hl] = '\0';
  *port = (int)p;
  return 0;
}

int mk_client_bootstrap(struct mk_client *c, const char *servers, struct mk_err *err) {
  char failures[1024] = "";
  int rc = MK_ERR__INVALID_ARG;
  const char *s = servers ? servers : "";
  if (!*s) return mk_err_set(err, MK_ERR__INVALID_ARG, "no bootstrap server given");
  while (*s) {
    const char *comma = strchr(s, ',');
    size_t len = comma ? (size_t)(comma - s) : strlen(s);
    char host[256];
    int port = 0;
    rc = parse_server(s, len, host, sizeof host, &port, err);
    if (rc) return rc;
    mk_client_conn_close(&c->bootstrap);
    conn_reset(&c->bootstrap, c, -1, host, port);
    rc = ensure_open(&c->bootstrap, err);
    if (!rc) return 0;
    size_t used = strlen(failures);
    if (used + 2 + strlen(err->msg) < sizeof failures)
      sprintf(failures + used, "%s%s", used ? "; " : "", err->msg);
    s = comma ? comma + 1 : s + len;
  }
  return mk_err_set(err, rc, "%s", failures);
}

/* ---- requests ------------------------------------------------------------------------------ */

int mk_client_version(struct mk_client_conn *conn, int api_key, struct mk_err *err) {
  int rc = ensure_open(conn, err);
  if (rc) return -1;
  const struct mk_api *api = mk_api_find(api_key);
  if (!api || api_key > MK_CLIENT_MAX_API_KEY || conn->versions[api_key] < 0) {
    mk_err_set(err, MK_ERR_UNSUPPORTED_VERSION,
               "%s:%d does not support %s in any version we speak (v%d-%d)", conn->host,
               conn->port, api ? api->name : "that API", api ? api->min_version : 0,
               api ? api->max_version : 0);
    return -1;
  }
  return conn->versions[api_key];
}

int mk_client_send(struct mk_client_conn *conn, int api_key, int version, const void *body,
                   struct mk_client_pending *p, struct mk_err *err) {
  if (version < 0) {
    version = mk_client_version(conn, api_key, err);
    if (version < 0) return err->code;
  } else if (api_key != MK_API_API_VERSIONS) {
    int rc = ensure_open(conn, err);
    if (rc) return rc;
  }
  struct mk_request_header h = {
      .api_key = (int16_t)api_key,
      .api_version = (int16_t)version,
      .correlation_id = conn->client->next_correlation_id++,
      .client_id = mk_str_of(conn->client->client_id),
  };
  struct mk_writer w;
  mk_writer_init(&w);
  int rc = mk_request_encode(&w, &h, body, err);
  if (!rc) rc = write_all(conn, w.buf, w.len, now_ms() + conn->client->timeout_ms, err);
  mk_writer_free(&w);
  if (rc) {
    mk_client_conn_close(conn);
    return rc;
  }
  p->api_key = h.api_key;
  p->api_version = h.api_version;
  p->correlation_id = h.correlation_id;
  return 0;
}

int mk_client_receive(struct mk_client_conn *conn, const struct mk_client_pending *p,
                      void **response, struct mk_arena *arena, struct mk_err *err) {
  const struct mk_api *api = mk_api_find(p->api_key);
  char what[64];
  snprintf(what, sizeof what, "the %s v%d response", api ? api->name : "?", p->api_version);
  int64_t deadline = now_ms() + conn->client->timeout_ms;
  uint8_t size_buf[4];
  int rc = read_all(conn, size_buf, 4, deadline, what, err);
  int32_t size = rc ? 0 : (int32_t)mk_load_u32(size_buf);
  if (!rc && (size < 4 || size > MAX_RESPONSE))
    rc = mk_err_set(err, MK_ERR__DECODE, "%s:%d sent a frame of %d bytes for %s", conn->host,
                    conn->port, size, what);
  uint8_t *frame = rc ? NULL : mk_arena_alloc(arena, (size_t)size);
  if (!rc && !frame) rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory for %s", what);
  if (!rc) rc = read_all(conn, frame, (size_t)size, deadline, what, err);
  if (rc) {
    mk_client_conn_close(conn);
    return rc;
  }
  int32_t correlation_id = 0;
  mk_response_peek_correlation_id(frame, (size_t)size, &correlation_id);
  if (correlation_id != p->correlation_id) {
    mk_client_conn_close(conn);
    return mk_err_set(err, MK_ERR__DECODE, "%s:%d answered correlation id %d, we waited for %d",
                      conn->host, conn->port, correlation_id, p->correlation_id);
  }
  /* A broker refusing our ApiVersions version answers in v0 (frame.h). Every version of
   * the response starts with error_code, so look before decoding. */
  int version = p->api_version;
  if (p->api_key == MK_API_API_VERSIONS && size >= 6 &&
      (int16_t)(frame[4] << 8 | frame[5]) == MK_ERR_UNSUPPORTED_VERSION)
    version = 0;
  struct mk_err derr = {0};
  rc = mk_response_decode(frame, (size_t)size, p->api_key, version, &correlation_id, response,
                          arena, &derr);
  if (rc) {
    mk_client_conn_close(conn);
    return mk_err_set(err, rc, "cannot decode %s from %s:%d: %s", what, conn->host, conn->port,
                      derr.msg);
  }
  return 0;
}

int mk_client_call(struct mk_client_conn *conn, int api_key, const void *body, void **response,
                   struct mk_arena *arena, struct mk_err *err) {
  struct mk_client_pending p;
  int rc = mk_client_send(conn, api_key, -1, body, &p, err);
  if (!rc) rc = mk_client_receive(conn, &p, response, arena, err);
  return rc;
}

/* ---- metadata and nodes -------------------------------------------------------------------- */

static void learn_brokers(struct mk_client *c, const struct mk_metadata_response *md) {
  for (int32_t i = 0; i < md->brokers_count; i++) {
    const struct mk_metadata_response_broker *b = &md->brokers[i];
    char host[256];
    snprintf(host, sizeof host, "%.*s", b->host.len < 0 ? 0 : b->host.len,
             b->host.ptr ? b->host.ptr : "");
    struct mk_client_conn *conn = NULL;
    for (int n = 0; n < c->nnodes && !conn; n++)
      if (c->nodes[n].node_id == b->node_id) conn = &c->nodes[n];
    if (conn && strcmp(conn->host, host) == 0 && conn->port == b->port) continue;
    if (conn) {
      mk_client_conn_close(conn);  /* it moved */
    } else {
      if (c->nnodes == MK_CLIENT_MAX_NODES) continue;
      conn = &c->nodes[c->nnodes++];
    }
    conn_reset(conn, c, b->node_id, host, b->port);
  }
}

int mk_client_metadata(struct mk_client *c, const char *const *topics, int ntopics,
                       bool allow_auto_create, struct mk_metadata_response **out,
                       struct mk_arena *arena, struct mk_err *err) {
  struct mk_metadata_request req;
  mk_schema_set_defaults(&mk_metadata_request_schema, &req);
  req.allow_auto_topic_creation = allow_auto_create;
  if (ntopics >= 0) {
    req.topics = ntopics ? mk_arena_alloc(arena, sizeof *req.topics * (size_t)ntopics) : NULL;
    if (ntopics && !req.topics) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
    for (int i = 0; i < ntopics; i++) {
      mk_schema_set_defaults(&mk_metadata_request_topic_schema, &req.topics[i]);
      req.topics[i].name = mk_str_of(topics[i]);
    }
    req.topics_count = ntopics;
  } else {
    req.topics = NULL;
    req.topics_count = -1;
  }
  int version = mk_client_version(&c->bootstrap, MK_API_METADATA, err);
  if (version < 0) return err->code;
  if (version == 0 && ntopics < 0) req.topics_count = 0;  /* v0: empty list = all topics */
  if (version < 4) req.allow_auto_topic_creation = true;  /* before v4, every request may */
  int rc = mk_client_call(&c->bootstrap, MK_API_METADATA, &req, (void **)out, arena, err);
  if (rc) return rc;
  learn_brokers(c, *out);
  return 0;
}

struct mk_client_conn *mk_client_node(struct mk_client *c, int32_t node_id, struct mk_err *err) {
  for (int i = 0; i < c->nnodes; i++)
    if (c->nodes[i].node_id == node_id) return &c->nodes[i];
  mk_err_set(err, MK_ERR_BROKER_NOT_AVAILABLE, "node %d is not in the cluster metadata", node_id);
  return NULL;
}

void mk_client_uuid_string(const uint8_t id[16], char out[23]) {
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  int o = 0;
  for (int i = 0; i < 16; i += 3) {
    uint32_t v = (uint32_t)id[i] << 16;
    if (i + 1 < 16) v |= (uint32_t)id[i + 1] << 8;
    if (i + 2 < 16) v |= id[i + 2];
    out[o++] = b64[(v >> 18) & 63];
    out[o++] = b64[(v >> 12) & 63];
    if (i + 1 < 16) out[o++] = b64[(v >> 6) & 63];
    if (i + 2 < 16) out[o++] = b64[v & 63];
  }
  out[o] = '\0';
}

/* ---- coordinators -------------------------------------------------------------------------- */

int mk_client_find_coordinator(struct mk_client *c, const char *key, int8_t key_type,
                               int32_t *node, char host[256], int *port, struct mk_err *err) {
  int version = mk_client_version(&c->bootstrap, MK_API_FIND_COORDINATOR, err);
  if (version < 0) return err->code;
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_find_coordinator_request req;
  mk_schema_set_defaults(&mk_find_coordinator_request_schema, &req);
  struct mk_str k = mk_str_of(key);
  req.key_type = key_type;       /* v1+ */
  if (version < 4) {
    req.key = k;                 /* v0-3: one key */
  } else {
    req.coordinator_keys = &k;   /* v4+: a batch of keys (of one type) */
    req.coordinator_keys_count = 1;
  }
  struct mk_find_coordinator_response *resp = NULL;
  int rc = mk_client_call(&c->bootstrap, MK_API_FIND_COORDINATOR, &req, (void **)&resp, &a, err);
  if (!rc) {
    int16_t code = resp->error_code;
    struct mk_str h = resp->host, msg = resp->error_message;
    int32_t n = resp->node_id, p = resp->port;
    if (version >= 4) {
      if (resp->coordinators_count < 1) {
        code = MK_ERR_COORDINATOR_NOT_AVAILABLE;
        msg = mk_str_of("no coordinator in the answer");
      } else {
        const struct mk_find_coordinator_coordinator *co = &resp->coordinators[0];
        code = co->error_code, h = co->host, msg = co->error_message, n = co->node_id,
        p = co->port;
      }
    }
    if (code) {
      rc = mk_err_set(err, code, "FindCoordinator for '%s': %s%s%.*s", key, mk_err_name(code),
                      msg.len > 0 ? ": " : "", msg.len > 0 ? (int)msg.len : 0,
                      msg.ptr ? msg.ptr : "");
    } else {
      *node = n;
      *port = p;
      snprintf(host, 256, "%.*s", h.len > 0 ? (int)h.len : 0, h.ptr ? h.ptr : "");
    }
  }
  mk_arena_free(&a);
  return rc;
}
