/*
 * NetworkClient: see network_client.h.
 *
 * A connection's requests form a FIFO: the broker answers them in order, so a response
 * always belongs to the oldest request still waiting (the correlation id is checked all
 * the same). Closing a connection fails its whole FIFO at once, from the close callback.
 */
#include "producer/network_client.h"

#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/trace.h"
#include "producer/client_utils.h"
#include "protocol/api.h"
#include "protocol/arena.h"
#include "protocol/frame.h"
#include "protocol/messages/api_versions.h"

enum { MAX_API_KEY = 128 };

struct pending {
  int32_t correlation_id;
  int16_t api_key, version;
  mk_request_cb cb;            /* NULL for the client's own ApiVersions */
  void *opaque;
  int64_t sent_ms;
  struct pending *next;
};

enum conn_state { CONNECTING, NEGOTIATING, READY, CLOSING };

/* A node's addresses across connection attempts (ClusterConnectionStates'
 * NodeConnectionState): resolved when a connection starts with none left, each new attempt
 * taking the next one, and resolved again once all were tried. */
struct node_addresses {
  int32_t node;
  char host[256];
  struct sockaddr_storage addrs[MK_CLIENT_MAX_ADDRESSES];
  int n, index;
  struct sockaddr_storage last;  /* the address last tried: not first again after resolving */
  bool tried;
  struct node_addresses *next;
};

struct conn {
  struct mk_network_client *nc;
  int32_t node;
  char host[256];
  int port;
  enum conn_state state;
  int64_t started_ms;
  uv_tcp_t *tcp;               /* owned; a fresh one per connection attempt */
  uv_connect_t connect;
  char address[80];            /* "127.0.0.1:9092" or "[::1]:9092": what this attempt uses */
  int16_t broker_min[MAX_API_KEY], broker_max[MAX_API_KEY];  /* -1: not offered */
  bool tried_v0;
  struct pending *head, *tail;
  int in_flight;
  uint8_t *rbuf;
  size_t rlen, rcap;
  struct mk_err close_err;     /* why it closed, for the requests it fails */
  struct conn *next;
};

struct mk_network_client {
  uv_loop_t *loop;
  const struct mk_producer_config *cfg;
  void (*on_event)(void *);
  void *arg;
  struct conn *conns;
  struct node_addresses *addresses;
  int32_t next_correlation_id;
  bool closing;
  struct mk_err close_err;
  void (*on_disconnect)(void *, int32_t);
  void *disconnect_arg;
};

void mk_network_client_on_disconnect(struct mk_network_client *nc, void (*fn)(void *, int32_t),
                                     void *arg) {
  nc->on_disconnect = fn;
  nc->disconnect_arg = arg;
}

struct write_req {
  uv_write_t w;
  uint8_t *buf;
  struct pending *no_response;  /* completes when written (acks=0) */
  struct conn *conn;
};

static int64_t now_ms(void) { return mk_now_us() / 1000; }

struct mk_network_client *mk_network_client_new(uv_loop_t *loop,
                                                const struct mk_producer_config *cfg,
                                                void (*on_event)(void *), void *arg) {
  struct mk_network_client *nc = calloc(1, sizeof *nc);
  if (!nc) return NULL;
  nc->loop = loop;
  nc->cfg = cfg;
  nc->on_event = on_event;
  nc->arg = arg;
  nc->next_correlation_id = 1;
  return nc;
}

static struct conn *find(struct mk_network_client *nc, int32_t node) {
  for (struct conn *c = nc->conns; c; c = c->next)
    if (c->node == node && c->state != CLOSING) return c;
  return NULL;
}

/* ---- closing --------------------------------------------------------------------------- */

static void complete(struct pending *p, int32_t node, int version, void *body, int rc,
                     const struct mk_err *err) {
  if (p->cb) p->cb(p->opaque, node, version, body, rc, err);
  free(p);
}


static void free_client(struct mk_network_client *nc) {
  while (nc->addresses) {
    struct node_addresses *a = nc->addresses;
    nc->addresses = a->next;
    free(a);
  }
  free(nc);
}

/* The connection is gone: fail what it carried and free it. */
static void finish_close(struct conn *c) {
  struct mk_network_client *nc = c->nc;
  for (struct conn **pp = &nc->conns; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  while (c->head) {
    struct pending *p = c->head;
    c->head = p->next;
    complete(p, c->node, p->version, NULL, c->close_err.code, &c->close_err);
  }
  int32_t node = c->node;
  free(c->rbuf);
  free(c);
  if (!nc->closing && nc->on_disconnect && node >= 0) nc->on_disconnect(nc->disconnect_arg, node);
  if (!nc->closing) nc->on_event(nc->arg);
  else if (!nc->conns) free_client(nc);  /* the last connection of a closed client */
}

static void on_closed(uv_handle_t *h) {
  struct conn *c = h->data;
  free(h);
  finish_close(c);
}

static void close_conn(struct conn *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void close_conn(struct conn *c, int code, const char *fmt, ...) {
  if (c->state == CLOSING) return;
  c->close_err.code = (int16_t)code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->close_err.msg, sizeof c->close_err.msg, fmt, ap);
  va_end(ap);
  if (c->state != READY || code == MK_ERR_REQUEST_TIMED_OUT)
    mk_log(MK_LOG_DEBUG, "producer", "connection to node %d closed: %s", c->node, c->close_err.msg);
  enum conn_state was = c->state;
  c->state = CLOSING;
  (void)was;
  if (c->tcp) {
    uv_close((uv_handle_t *)c->tcp, on_closed);
    c->tcp = NULL;
  } else {
    finish_close(c);
  }
}

/* ---- reading --------------------------------------------------------------------------- */

static void send_api_versions(struct conn *c, int version);

static void on_api_versions(struct conn *c, const uint8_t *frame, size_t len, struct pending *p) {
  struct mk_arena a;
  mk_arena_init(&a);
  int32_t corr;
  void *body = NULL;
  struct mk_err err = {0};
  int rc = mk_response_decode(frame, len, MK_API_API_VERSIONS, p->version, &corr, &body, &a, &err);
  const struct mk_api_versions_response *r = body;
  if ((rc || r->error_code == MK_ERR_UNSUPPORTED_VERSION) && !c->tried_v0) {
    /* A broker that cannot answer v3 (or answers it badly) can always answer v0. */
    c->tried_v0 = true;
    mk_arena_free(&a);
    send_api_versions(c, 0);
    return;
  }
  if (rc || r->error_code) {
    mk_arena_free(&a);
    close_conn(c, MK_ERR_UNSUPPORTED_VERSION, "ApiVersions with node %d failed: %s", c->node,
               rc ? err.msg : mk_err_name(r->error_code));
    return;
  }
  for (int i = 0; i < r->api_keys_count; i++) {
    int k = r->api_keys[i].api_key;
    if (k < 0 || k >= MAX_API_KEY) continue;
    c->broker_min[k] = r->api_keys[i].min_version;
    c->broker_max[k] = r->api_keys[i].max_version;
  }
  mk_arena_free(&a);
  c->state = READY;
}

static void handle_frame(struct conn *c, const uint8_t *frame, size_t len) {
  struct pending *p = c->head;
  int32_t corr;
  if (!p || mk_response_peek_correlation_id(frame, len, &corr) || corr != p->correlation_id) {
    close_conn(c, MK_ERR_NETWORK_EXCEPTION, "node %d sent a response nobody asked for", c->node);
    return;
  }
  c->head = p->next;
  if (!c->head) c->tail = NULL;
  c->in_flight--;
  if (p->api_key == MK_API_API_VERSIONS && !p->cb) {
    on_api_versions(c, frame, len, p);
    free(p);
    return;
  }
  struct mk_arena a;
  mk_arena_init(&a);
  void *body = NULL;
  struct mk_err err = {0};
  int rc = mk_response_decode(frame, len, p->api_key, p->version, &corr, &body, &a, &err);
  complete(p, c->node, p->version, body, rc, &err);
  mk_arena_free(&a);
  if (rc) close_conn(c, MK_ERR__DECODE, "node %d: %s", c->node, err.msg);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct conn *c = h->data;
  if (c->rcap - c->rlen < suggested) {
    size_t cap = c->rcap ? c->rcap : 65536;
    while (cap - c->rlen < suggested) cap *= 2;
    uint8_t *b = realloc(c->rbuf, cap);
    if (!b) {
      *buf = uv_buf_init(NULL, 0);
      return;
    }
    c->rbuf = b;
    c->rcap = cap;
  }
  *buf = uv_buf_init((char *)c->rbuf + c->rlen, (unsigned)(c->rcap - c->rlen));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  struct conn *c = s->data;
  struct mk_network_client *nc = c->nc;
  if (nread < 0) {
    close_conn(c, MK_ERR_NETWORK_EXCEPTION, "Disconnected from node %d (%s)", c->node,
               nread == UV_EOF ? "closed by the broker" : uv_strerror((int)nread));
    return;
  }
  c->rlen += (size_t)nread;
  size_t at = 0;
  while (c->state != CLOSING && c->rlen - at >= 4) {
    size_t size = mk_load_u32(c->rbuf + at);
    if (size > (size_t)INT32_MAX) {
      close_conn(c, MK_ERR__DECODE, "node %d sent a frame of %zu bytes", c->node, size);
      return;
    }
    if (c->rlen - at - 4 < size) break;
    handle_frame(c, c->rbuf + at + 4, size);
    at += 4 + size;
  }
  if (c->state == CLOSING) return;
  memmove(c->rbuf, c->rbuf + at, c->rlen - at);
  c->rlen -= at;
  nc->on_event(nc->arg);
}

/* ---- writing --------------------------------------------------------------------------- */

static void on_written(uv_write_t *w, int status) {
  struct write_req *wr = (struct write_req *)w;
  struct conn *c = wr->conn;
  free(wr->buf);
  if (wr->no_response) {
    struct mk_err err = {0};
    if (status < 0) mk_err_set(&err, MK_ERR_NETWORK_EXCEPTION, "write to node %d failed: %s",
                               c->node, uv_strerror(status));
    complete(wr->no_response, c->node, wr->no_response->version, NULL, status < 0 ? err.code : 0, &err);
  }
  free(wr);
  if (status < 0 && status != UV_ECANCELED)
    close_conn(c, MK_ERR_NETWORK_EXCEPTION, "write to node %d failed: %s", c->node, uv_strerror(status));
  else if (!c->nc->closing)
    c->nc->on_event(c->nc->arg);
}

static int write_request(struct conn *c, struct pending *p, const void *body, bool expect,
                         struct mk_err *err) {
  struct mk_writer w;
  mk_writer_init(&w);
  struct mk_request_header h = {p->api_key, p->version, p->correlation_id,
                                mk_str_of(c->nc->cfg->client_id)};
  int rc = mk_request_encode(&w, &h, body, err);
  if (rc) {
    mk_writer_free(&w);
    return rc;
  }
  struct write_req *wr = calloc(1, sizeof *wr);
  if (!wr) {
    mk_writer_free(&w);
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  }
  size_t len;
  wr->buf = mk_writer_take(&w, &len);
  wr->conn = c;
  p->sent_ms = now_ms();
  if (expect) {
    p->next = NULL;
    if (c->tail) c->tail->next = p;
    else c->head = p;
    c->tail = p;
    c->in_flight++;
  } else {
    wr->no_response = p;
  }
  uv_buf_t b = uv_buf_init((char *)wr->buf, (unsigned)len);
  rc = uv_write(&wr->w, (uv_stream_t *)c->tcp, &b, 1, on_written);
  if (rc) {
    /* The write never started: nothing will complete it; the close fails what is queued. */
    free(wr->buf);
    free(wr);
    if (!expect) free(p);
    close_conn(c, MK_ERR_NETWORK_EXCEPTION, "write to node %d failed: %s", c->node, uv_strerror(rc));
    return expect ? 0 : mk_err_set(err, MK_ERR_NETWORK_EXCEPTION, "write failed");
  }
  return 0;
}

static void send_api_versions(struct conn *c, int version) {
  struct pending *p = calloc(1, sizeof *p);
  if (!p) {
    close_conn(c, MK_ERR__NO_MEMORY, "out of memory");
    return;
  }
  p->api_key = MK_API_API_VERSIONS;
  p->version = (int16_t)version;
  p->correlation_id = c->nc->next_correlation_id++;
  struct mk_api_versions_request req;
  mk_schema_set_defaults(&mk_api_versions_request_schema, &req);
  req.client_software_name = mk_str_of("minikafka");
  req.client_software_version = mk_str_of("0.1.0");
  struct mk_err err = {0};
  if (write_request(c, p, &req, true, &err)) {
    free(p);
    close_conn(c, err.code, "%s", err.msg);
  }
}

/* ---- connecting ------------------------------------------------------------------------ */

/* The trace of each connection attempt: `connect` (node, host, address), then `connected`
 * or `connect_failed` (with why). */
static void trace_attempt(const struct conn *c, const char *event, const char *error) {
  if (!mk_trace_on()) return;
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "producer", event);
  mk_trace_int(&ev, "node", c->node);
  mk_trace_str(&ev, "host", c->host);
  mk_trace_str(&ev, "address", c->address);
  if (error) mk_trace_str(&ev, "error", error);
  mk_trace_end(&ev);
}

/* What Java logs at WARN for each attempt that fails (NetworkClient: the node "could not be
 * established"), in our words: the node, its host, the address tried, and why. */
static void connect_failed(struct conn *c, const char *why) {
  trace_attempt(c, "connect_failed", why);
  mk_log(MK_LOG_WARN, "producer",
         "Could not connect to node %d (%s/%s): %s. Is a broker running there, listening on "
         "that address?", c->node, c->host, c->address, why);
  close_conn(c, MK_ERR_NETWORK_EXCEPTION, "Connection to node %d (%s/%s) failed: %s", c->node,
             c->host, c->address, why);
}

static void on_connect(uv_connect_t *req, int status) {
  struct conn *c = req->data;
  if (c->state == CLOSING) return;
  if (status < 0) {
    connect_failed(c, uv_strerror(status));
    return;
  }
  trace_attempt(c, "connected", NULL);
  uv_tcp_nodelay(c->tcp, 1);
  c->state = NEGOTIATING;
  uv_read_start((uv_stream_t *)c->tcp, on_alloc, on_read);
  send_api_versions(c, 3);
}

static void trace_resolved(const struct conn *c, const struct sockaddr_storage *all, int nall,
                           const struct node_addresses *a) {
  if (!mk_trace_on()) return;
  struct mk_trace_event ev;
  char text[64];
  mk_trace_begin(&ev, "producer", "resolve");
  mk_trace_int(&ev, "node", c->node);
  mk_trace_str(&ev, "host", c->host);
  mk_trace_array_begin(&ev, "addresses");
  for (int i = 0; i < nall; i++) {
    mk_client_address_text(&all[i], text, sizeof text);
    mk_trace_str(&ev, NULL, text);
  }
  mk_trace_array_end(&ev);
  mk_trace_array_begin(&ev, "using");  /* the first address's family only */
  for (int i = 0; i < a->n; i++) {
    mk_client_address_text(&a->addrs[i], text, sizeof text);
    mk_trace_str(&ev, NULL, text);
  }
  mk_trace_array_end(&ev);
  mk_trace_end(&ev);
}

/* The node's address list; a new one (or a cleared one, if its host changed). */
static struct node_addresses *addresses_of(struct mk_network_client *nc, int32_t node,
                                           const char *host) {
  for (struct node_addresses *a = nc->addresses; a; a = a->next)
    if (a->node == node) {
      if (strcmp(a->host, host) != 0) {  /* the broker moved: start over */
        snprintf(a->host, sizeof a->host, "%s", host);
        a->n = 0;
        a->tried = false;
      }
      return a;
    }
  struct node_addresses *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  a->node = node;
  snprintf(a->host, sizeof a->host, "%s", host);
  a->next = nc->addresses;
  nc->addresses = a;
  return a;
}

/* ClusterConnectionStates.currentAddress: the address this attempt uses, resolving the
 * host first when the list is empty. Returns it, or NULL with err (no address). */
static const struct sockaddr_storage *current_address(struct conn *c, struct node_addresses *a,
                                                      struct mk_err *err) {
  if (a->n == 0) {
    struct sockaddr_storage all[MK_CLIENT_MAX_ADDRESSES];
    int nall = 0;
    int n = mk_client_resolve(c->nc->cfg->host_resolver, c->host, a->addrs, all, &nall, err);
    if (n <= 0) return NULL;
    a->n = n;
    a->index = 0;
    /* Not the address just tried first again, when there is another to try. */
    if (a->n > 1 && a->tried && memcmp(&a->addrs[0], &a->last, sizeof a->last) == 0)
      a->index = 1;
    trace_resolved(c, all, nall, a);
  }
  a->last = a->addrs[a->index];
  a->tried = true;
  return &a->addrs[a->index];
}

/* ClusterConnectionStates.connecting: every attempt after the first moves to the next
 * address; past the last, the list is cleared, to be resolved again. */
static void move_to_next_address(struct node_addresses *a) {
  if (a->n == 0) return;
  a->index = (a->index + 1) % a->n;
  if (a->index == 0) a->n = 0;
}

void mk_network_client_connect(struct mk_network_client *nc, int32_t node, const char *host,
                               int port) {
  if (nc->closing || find(nc, node)) return;
  struct node_addresses *a = addresses_of(nc, node, host);
  struct conn *c = calloc(1, sizeof *c);
  if (!c || !a) {
    free(c);
    return;
  }
  c->nc = nc;
  c->node = node;
  snprintf(c->host, sizeof c->host, "%s", host);
  c->port = port;
  c->state = CONNECTING;
  c->started_ms = now_ms();
  for (int k = 0; k < MAX_API_KEY; k++) c->broker_min[k] = c->broker_max[k] = -1;
  c->next = nc->conns;
  nc->conns = c;
  if (a->tried) move_to_next_address(a);
  struct mk_err err = {0};
  const struct sockaddr_storage *addr = current_address(c, a, &err);
  if (!addr) {
    snprintf(c->address, sizeof c->address, "?:%d", port);
    mk_log(MK_LOG_WARN, "producer", "Could not connect to node %d: cannot resolve %s (%s)", node,
           host, err.msg);
    trace_attempt(c, "connect_failed", err.msg);
    close_conn(c, MK_ERR_NETWORK_EXCEPTION, "Cannot resolve %s: %s", host, err.msg);
    return;
  }
  struct sockaddr_storage target = *addr;
  char text[64];
  mk_client_address_text(&target, text, sizeof text);
  bool v6 = target.ss_family == AF_INET6;
  snprintf(c->address, sizeof c->address, "%s%s%s:%d", v6 ? "[" : "", text, v6 ? "]" : "",
           port);
  if (v6)
    ((struct sockaddr_in6 *)&target)->sin6_port = htons((uint16_t)port);
  else
    ((struct sockaddr_in *)&target)->sin_port = htons((uint16_t)port);
  trace_attempt(c, "connect", NULL);
  c->tcp = malloc(sizeof *c->tcp);
  if (!c->tcp) {
    close_conn(c, MK_ERR__NO_MEMORY, "out of memory");
    return;
  }
  uv_tcp_init(nc->loop, c->tcp);
  c->tcp->data = c;
  c->connect.data = c;
  int rc = uv_tcp_connect(&c->connect, c->tcp, (const struct sockaddr *)&target, on_connect);
  if (rc) connect_failed(c, uv_strerror(rc));
}

/* ---- the Sender's questions ------------------------------------------------------------ */

bool mk_network_client_ready(struct mk_network_client *nc, int32_t node) {
  struct conn *c = find(nc, node);
  return c && c->state == READY && c->in_flight < nc->cfg->max_in_flight_requests_per_connection;
}

bool mk_network_client_connecting_or_connected(struct mk_network_client *nc, int32_t node) {
  return find(nc, node) != NULL;
}

int mk_network_client_in_flight(struct mk_network_client *nc, int32_t node) {
  struct conn *c = find(nc, node);
  return c ? c->in_flight : 0;
}

int mk_network_client_version(struct mk_network_client *nc, int32_t node, int api_key) {
  struct conn *c = find(nc, node);
  const struct mk_api *api = mk_api_find(api_key);
  if (!c || !api || api_key >= MAX_API_KEY || c->broker_max[api_key] < 0) return -1;
  int v = api->advertised_max < c->broker_max[api_key] ? api->advertised_max : c->broker_max[api_key];
  int lo = api->min_version > c->broker_min[api_key] ? api->min_version : c->broker_min[api_key];
  return v >= lo ? v : -1;
}

int32_t mk_network_client_least_loaded(struct mk_network_client *nc) {
  int32_t best = INT32_MIN;
  int load = 0;
  for (struct conn *c = nc->conns; c; c = c->next)
    if (c->state == READY && (best == INT32_MIN || c->in_flight < load)) {
      best = c->node;
      load = c->in_flight;
    }
  return best;
}

int mk_network_client_send(struct mk_network_client *nc, int32_t node, int api_key,
                           const void *body, bool expect_response, mk_request_cb cb,
                           void *opaque, int32_t *correlation_id, struct mk_err *err) {
  struct conn *c = find(nc, node);
  if (!c || c->state != READY)
    return mk_err_set(err, MK_ERR_NETWORK_EXCEPTION, "node %d is not connected", node);
  int version = mk_network_client_version(nc, node, api_key);
  if (version < 0)
    return mk_err_set(err, MK_ERR_UNSUPPORTED_VERSION, "node %d speaks no version of %s that we do",
                      node, mk_api_find(api_key) ? mk_api_find(api_key)->name : "?");
  struct pending *p = calloc(1, sizeof *p);
  if (!p) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  p->api_key = (int16_t)api_key;
  p->version = (int16_t)version;
  p->cb = cb;
  p->opaque = opaque;
  p->correlation_id = nc->next_correlation_id++;
  if (correlation_id) *correlation_id = p->correlation_id;
  int rc = write_request(c, p, body, expect_response, err);
  if (rc) free(p);
  return rc;
}

int32_t mk_network_client_next_correlation_id(const struct mk_network_client *nc) {
  return nc->next_correlation_id;
}

int64_t mk_network_client_check_timeouts(struct mk_network_client *nc, int64_t now) {
  int64_t timeout = nc->cfg->request_timeout_ms, next = -1;
  for (struct conn *c = nc->conns, *next_conn; c; c = next_conn) {
    next_conn = c->next;  /* closing may free c */
    if (c->state == CLOSING) continue;
    int64_t since = c->state == READY ? (c->head ? c->head->sent_ms : -1) : c->started_ms;
    if (since < 0) continue;
    int64_t left = since + timeout - now;
    if (left <= 0) {
      close_conn(c, MK_ERR_REQUEST_TIMED_OUT,
                 "Disconnected from node %d due to timeout: no answer within request.timeout.ms "
                 "(%lld ms)", c->node, (long long)timeout);
      continue;
    }
    if (next < 0 || left < next) next = left;
  }
  return next;
}

void mk_network_client_close(struct mk_network_client *nc, const struct mk_err *err) {
  nc->closing = true;
  nc->close_err = *err;
  if (!nc->conns) {
    free_client(nc);
    return;
  }
  for (struct conn *c = nc->conns, *next; c; c = next) {
    next = c->next;  /* closing may free c */
    close_conn(c, err->code, "%s", err->msg);
  }
}
