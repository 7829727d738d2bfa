/*
 * Network: listeners, connections, framing and ordered responses. See network.h.
 *
 * Reading. Kafka frames are [int32 size][size bytes]. Every read asks for exactly
 * what the current frame still lacks: the rest of the size prefix, then the rest of
 * the frame, straight into its buffer. So no byte is ever copied between buffers,
 * nothing of the next frame is read before the connection may take another request
 * (the bounds in network.h apply between any two frames), and the buffer can grow
 * as the bytes come: it starts at FRAME_CHUNK (or the whole frame, if smaller) and
 * grows fourfold each time it fills, never past the announced size. A size prefix
 * alone costs a few bytes; a large frame costs what has actually arrived, times four
 * at most.
 *
 * One request per connection per turn of the loop. Once a frame is whole, the
 * connection stops reading until the loop's check phase (after this turn's I/O), so
 * the next request is read on the next turn, after the work queued for it (the
 * followers' fetches, replica_fetcher.h): a client that answers as fast as it is
 * answered cannot read ahead of replication, and cannot keep the others waiting
 * either (libuv would otherwise read it up to 32 times in a row, since every read
 * fills exactly the buffer it is given).
 *
 * Writing. Responses are tried with uv_try_write() first, which on loopback
 * almost always sends everything at once; only what the socket refuses is
 * queued with uv_write(). Every socket has TCP_NODELAY: without it Nagle's
 * algorithm holds a small response until the client's delayed ACK, ~40 ms.
 */
#include "broker/network.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_internal.h"
#include "broker/connection_quotas.h"
#include "broker/faults.h"
#include "broker/memory_pool.h"
#include "broker/purgatory.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/peer.h"
#include "common/trace.h"

enum {
  FRAME_CHUNK = 64 * 1024,  /* a frame buffer's first size, unless the frame is smaller */
};

/* ---- requests --------------------------------------------------------------------------- */


static void free_req_memory(struct mk_req *req) {
  if (req->free_op && req->op) req->free_op(req->op);
  mk_arena_free(&req->arena);
  mk_writer_free(&req->response);
  mk_buffer_unref(req->frame);
  free(req);
}

/* The close callback of a handle we malloc'ed (timers, listeners). */
static void free_handle(uv_handle_t *h) { free(h); }

/* A closing timer never fires, so the request need not wait for its close callback. */
static void close_timer(struct mk_req *req) {
  if (!req->timer) return;
  uv_timer_stop(req->timer);
  uv_close((uv_handle_t *)req->timer, free_handle);
  req->timer = NULL;
}

static void free_req(struct mk_req *req) {
  if (req->delayed) mk_purgatory_remove(req);
  close_timer(req);
  free_req_memory(req);
}

/* A line about a client's connection, through the broker's rate limit (a client looping
 * on garbage must not bury the log). */
#define log_conn(c, level, ...) \
  mk_log_limited(&(c)->listener->broker->conn_log, level, "broker", __VA_ARGS__)

/* ---- writing ---------------------------------------------------------------------------- */

struct write_req {
  uv_write_t w;
  uint8_t *buf;
};

static void on_written(uv_write_t *w, int status) {
  struct write_req *wr = (struct write_req *)w;
  struct mk_conn *c = w->handle->data;
  free(wr->buf);
  free(wr);
  if (!c || c->closing) return;
  if (status < 0 && status != UV_ECANCELED) {
    mk_conn_close(c, uv_strerror(status));
    return;
  }
  c->last_active = uv_now(c->tcp.loop);
  mk_conn_update_reading(c);  /* the write queue shrank: maybe below MK_CONN_MAX_UNSENT */
}

/* Send len bytes of buf (owned: freed here or after the write). */
static void send_owned(struct mk_conn *c, uint8_t *buf, size_t len) {
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
  if (n > 0) c->last_active = uv_now(c->tcp.loop);
  if (n == (int)len) {
    free(buf);
    return;
  }
  if (n < 0 && n != UV_EAGAIN) {
    free(buf);
    mk_conn_close(c, uv_strerror(n));
    return;
  }
  size_t sent = n > 0 ? (size_t)n : 0;
  struct write_req *wr = malloc(sizeof *wr);
  if (!wr) {
    free(buf);
    mk_conn_close(c, "out of memory");
    return;
  }
  wr->buf = buf;
  b = uv_buf_init((char *)buf + sent, (unsigned)(len - sent));
  int rc = uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, on_written);
  if (rc) {
    free(buf);
    free(wr);
    mk_conn_close(c, uv_strerror(rc));
  }
}

static void on_shutdown(uv_shutdown_t *s, int status) {
  (void)status;
  struct mk_conn *c = s->handle->data;
  if (!c->closing) mk_conn_close(c, NULL);
}

/* Send every finished response at the head of the queue, in order. */
static void flush(struct mk_conn *c) {
  while (c->head && c->head->done && !c->closing) {
    struct mk_req *req = c->head;
    c->head = req->next;
    if (!c->head) c->tail = NULL;
    c->queued--;
    c->unsent -= req->response.len;
    bool close_after = req->close_after;
    if (!req->silent && !req->cut && req->response.len) {
      size_t len;
      uint8_t *buf = mk_writer_take(&req->response, &len);
      send_owned(c, buf, len);
    }
    free_req(req);
    if (close_after && !c->closing) {
      /* Close only once the answers queued before it are written: uv_shutdown waits. */
      if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
        mk_conn_close(c, NULL);
      return;
    }
  }
  mk_conn_update_reading(c);  /* fewer requests queued: maybe read the next */
}

void mk_req_close_connection(struct mk_req *req, const char *why) {
  struct mk_conn *c = req->conn;
  mk_purgatory_remove(req);
  req->done = true;
  req->silent = true;
  req->close_after = true;
  if (!c->draining && !c->closing) {
    c->draining = true;
    if (why)
      log_conn(c, MK_LOG_WARN, "closing connection %s -> broker %d: %s", c->peer,
               c->listener->node->id, why);
    mk_conn_update_reading(c);  /* draining: stops reading */
  }
  flush(c);
}

static void trace_response(const struct mk_req *req, const char *event, const char *why) {
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", event);
  mk_trace_int(&ev, "broker", req->node->id);
  mk_trace_str(&ev, "api", req->request.api ? req->request.api->name : NULL);
  mk_trace_int(&ev, "correlation_id", req->request.header.correlation_id);
  mk_trace_strn(&ev, "client_id", req->request.header.client_id.ptr,
                req->request.header.client_id.len);
  mk_trace_int(&ev, "connection", (int64_t)req->conn->id);
  mk_trace_int(&ev, "bytes", (int64_t)req->response.len);
  mk_trace_int(&ev, "latency_us", mk_now_us() - req->received_us);
  if (why) mk_trace_str(&ev, "why", why);
  mk_trace_end(&ev);
}

static void on_delay_over(uv_timer_t *t) {
  struct mk_req *req = t->data;
  req->done = true;
  flush(req->conn);
}

/* drop_response "silent": the way from broker to client breaks here, as a network can
 * break. Answers queued before req still arrive (they left first); req's and every later
 * one's never do. The client's requests still arrive and are carried out (records
 * appended), unanswered, until the client gives up on the connection (request.timeout.ms
 * or socket.timeout.ms) and closes it. TCP delivers in order, so this is the only way an
 * answer can be lost with the connection still up: a later answer never overtakes it. */
static void sever(struct mk_conn *c, struct mk_req *req) {
  for (struct mk_req *r = req; r; r = r->next) r->cut = true;
  c->severed = true;  /* requests read from now on are cut too (kafka_apis.c) */
}

void mk_req_respond_version(struct mk_req *req, int version, const void *body) {
  struct mk_broker *b = req->broker;
  struct mk_err err = {0};
  mk_purgatory_remove(req);  /* an answered request waits for nothing */
  int rc = mk_response_encode(&req->response, req->request.header.api_key, version,
                              req->request.header.correlation_id, body, &err);
  if (rc) {
    req->done = true;
    mk_log(MK_LOG_ERROR, "broker", "cannot encode %s v%d response: %s", req->request.api->name,
           version, err.msg);
    mk_conn_close(req->conn, "response encoding failed");
    return;
  }
  req->conn->unsent += req->response.len;
  if (req->cut) {  /* after a silent drop on this connection: lost like the one before */
    if (mk_trace_on()) trace_response(req, "response_dropped", "silent");
    req->done = true;
    flush(req->conn);
    return;
  }
  /* Faults act here, after the request did its work: a lost response is one whose
   * records were appended anyway, which is what turns a retry into a duplicate. */
  const struct mk_fault *drop_fault = mk_faults_take(
      &b->faults, &b->fault_targets, MK_FAULT_DROP_RESPONSE, &req->request, req->node->id);
  if (drop_fault) {
    if (mk_trace_on()) trace_response(req, "response_dropped", drop_fault->close ? "close" : "silent");
    if (drop_fault->close) {
      mk_req_close_connection(req, NULL);  /* earlier answers still go out first */
      return;
    }
    sever(req->conn, req);
    req->done = true;
    flush(req->conn);
    return;
  }
  if (mk_trace_on()) trace_response(req, "response_sent", NULL);
  const struct mk_fault *delay_fault =
      mk_faults_take(&b->faults, &b->fault_targets, MK_FAULT_DELAY, &req->request, req->node->id);
  int64_t delay = delay_fault ? delay_fault->ms : 0;
  if (delay > 0 && !req->timer && (req->timer = malloc(sizeof *req->timer)))
    uv_timer_init(&b->loop, req->timer);  /* the purgatory may have made one already */
  if (delay > 0 && req->timer) {
    req->timer->data = req;
    uv_timer_start(req->timer, on_delay_over, (uint64_t)delay, 0);
    return;  /* done when the delay is over; later responses on this connection wait too */
  }
  req->done = true;
  flush(req->conn);
}

void mk_req_respond(struct mk_req *req, const void *body) {
  mk_req_respond_version(req, req->request.header.api_version, body);
}

void mk_req_finish_silently(struct mk_req *req) {
  mk_purgatory_remove(req);
  req->done = true;
  req->silent = true;
  flush(req->conn);
}

void *mk_req_alloc(struct mk_req *req, const struct mk_schema *s, int32_t n) {
  if (n <= 0) return NULL;
  char *items = mk_arena_alloc(&req->arena, (size_t)s->size * (size_t)n);
  for (int32_t i = 0; items && i < n; i++) mk_schema_set_defaults(s, items + (size_t)s->size * (size_t)i);
  return items;
}

/* ---- connections ------------------------------------------------------------------------ */

static void on_conn_closed(uv_handle_t *h) {
  struct mk_conn *c = h->data;
  while (c->head) {
    struct mk_req *req = c->head;
    c->head = req->next;
    free_req(req);
  }
  free(c);
}

void mk_conn_close(struct mk_conn *c, const char *why) {
  if (c->closing) return;
  c->closing = true;
  struct mk_listener *l = c->listener;
  struct mk_broker *b = l->broker;
  if (why) log_conn(c, MK_LOG_WARN, "closing connection %s -> broker %d: %s", c->peer, l->node->id, why);
  for (struct mk_conn **pp = &l->conns; *pp; pp = &(*pp)->next) {
    if (*pp == c) {
      *pp = c->next;
      l->nconns--;
      break;
    }
  }
  if (c->mute_timer) {  /* a closing timer never fires */
    uv_timer_stop(c->mute_timer);
    uv_close((uv_handle_t *)c->mute_timer, free_handle);
    c->mute_timer = NULL;
  }
  /* Delayed requests must not complete on a closed connection. */
  for (struct mk_req *r = c->head; r; r = r->next) {
    if (r->delayed) mk_purgatory_remove(r);
    close_timer(r);
  }
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
  for (struct mk_conn **pp = &b->yielded; *pp; pp = &(*pp)->next_yielded) {
    if (*pp == c) {
      *pp = c->next_yielded;
      break;
    }
  }
  /* Its request memory goes back to the pool (which may wake others), and its place to a
   * connection waiting to be accepted. */
  mk_memory_pool_forget(b, c);
  if (c->frame) {
    int64_t held = (int64_t)c->frame->size;
    mk_buffer_unref(c->frame);
    c->frame = NULL;
    mk_memory_pool_account(b, c, -held);
  }
  mk_network_accept_waiting(l);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

void mk_conn_update_reading(struct mk_conn *c) {
  if (c->closing || c->yielded) return;  /* a yielded one is looked at when the turn ends */
  struct mk_broker *b = c->listener->broker;
  bool muted = c->mute_timer && uv_is_active((uv_handle_t *)c->mute_timer);
  size_t unsent = c->unsent + uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
  bool want = !c->draining && !muted && c->queued < MK_CONN_MAX_QUEUED &&
              unsent < MK_CONN_MAX_UNSENT && mk_memory_pool_admit(b, c);
  if (want == c->reading) return;
  uint64_t now = uv_now(&b->loop);
  if (!want) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
    c->paused_at = now;
    return;
  }
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
    mk_conn_close(c, "cannot read from the socket");
    return;
  }
  c->reading = true;
  /* Time the broker itself did not read counts neither as idle nor against a frame. */
  if (c->paused_at) {
    c->frame_started += now - c->paused_at;
    c->last_active += now - c->paused_at;
    c->paused_at = 0;
  }
}

/* The frame buffer of c, grown to hold at least `need` bytes: fourfold, at least
 * FRAME_CHUNK, never past the announced size. Returns 0, or -1 out of memory. */
static int grow_frame(struct mk_conn *c, size_t need) {
  size_t have = c->frame ? c->frame->size : 0;
  size_t size = have * 4 > FRAME_CHUNK ? have * 4 : FRAME_CHUNK;
  if (size < need) size = need;
  if (size > c->frame_size) size = c->frame_size;
  struct mk_buffer *buf = c->frame ? mk_buffer_resize(c->frame, size) : mk_buffer_new(size);
  if (!buf) return -1;
  c->frame = buf;
  mk_memory_pool_account(c->listener->broker, c, (int64_t)(size - have));
  return 0;
}

/* Ask for exactly what the current frame lacks (see the top of the file). */
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  struct mk_conn *c = h->data;
  if (!c->frame) {
    *buf = uv_buf_init((char *)c->size_buf + c->size_len, (unsigned)(4 - c->size_len));
  } else if (c->frame_len == c->frame->size && grow_frame(c, c->frame_len + 1) != 0) {
    *buf = uv_buf_init(NULL, 0);  /* libuv then reports UV_ENOBUFS */
  } else {
    *buf = uv_buf_init((char *)c->frame->data + c->frame_len,
                       (unsigned)(c->frame->size - c->frame_len));
  }
}

/* The check phase: connections that took a request this turn may read again. */
static void on_turn_over(uv_check_t *h) {
  struct mk_broker *b = h->data;
  struct mk_conn *c = b->yielded;
  b->yielded = NULL;
  uv_check_stop(h);
  while (c) {
    struct mk_conn *next = c->next_yielded;
    c->yielded = false;
    c->next_yielded = NULL;
    mk_conn_update_reading(c);
    c = next;
  }
}

/* c took a request: no more reading until the turn is over (see the top). */
static void yield_turn(struct mk_conn *c) {
  struct mk_broker *b = c->listener->broker;
  if (c->closing || c->yielded) return;
  c->yielded = true;
  c->next_yielded = b->yielded;
  b->yielded = c;
  if (c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;  /* not a pause: no time is excused (paused_at stays 0) */
  }
  uv_check_start(&b->turn_check, on_turn_over);
}

static void frame_complete(struct mk_conn *c) {
  struct mk_buffer *frame = c->frame;
  c->frame = NULL;
  c->frame_len = 0;
  c->size_len = 0;
  /* From here on it is a request: bounded per connection, not by the pool. */
  mk_memory_pool_account(c->listener->broker, c, -(int64_t)frame->size);
  yield_turn(c);
  mk_kafka_apis_handle(c, frame);
}

/* The size prefix is whole: check it and make the frame's first buffer. */
static void prefix_complete(struct mk_conn *c) {
  int32_t size = (int32_t)mk_load_u32(c->size_buf);
  int32_t max = c->listener->broker->cluster.cfg.socket_request_max_bytes;
  char why[160];
  if (size < 8 || size > max) {
    if (size > max)
      snprintf(why, sizeof why, "frame of %d bytes exceeds socket.request.max.bytes (%d)",
               size, max);
    else
      snprintf(why, sizeof why, "frame size %d is too small for a request header (min 8)",
               size);
    mk_conn_close(c, why);
    return;
  }
  c->frame_size = (size_t)size;
  c->frame_len = 0;
  if (grow_frame(c, 0) != 0) mk_conn_close(c, "out of memory for a request frame");
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  struct mk_conn *c = s->data;
  if (nread < 0) {
    mk_conn_close(c, nread == UV_EOF       ? NULL
                     : nread == UV_ENOBUFS ? "out of memory for a request frame"
                                           : uv_strerror((int)nread));
    return;
  }
  if (nread == 0 || c->closing) return;
  uint64_t now = uv_now(s->loop);
  c->last_active = now;
  if (!c->frame) {
    if (c->size_len == 0) c->frame_started = now;  /* a frame's first byte */
    c->size_len += (size_t)nread;
    if (c->size_len == 4) prefix_complete(c);
  } else {
    c->frame_len += (size_t)nread;
    if (c->frame_len == c->frame_size) frame_complete(c);
  }
  if (!c->yielded) mk_conn_update_reading(c);  /* memory was taken: may it go on? */
}

/* ---- accepting -------------------------------------------------------------------------- */

static void accept_and_drop(struct mk_listener *l);

static void on_reject_closed(uv_handle_t *h) {
  struct mk_listener *l = h->data;
  l->reject_busy = false;
  if (l->reject_waiting && l->listener && !uv_is_closing((uv_handle_t *)l->listener)) {
    l->reject_waiting = false;
    accept_and_drop(l);  /* the one that waited for the handle */
  }
}

/* Accept the waiting connection into l->reject and close it at once: what an allocation
 * failure at accept does, so that libuv, which polls a listener no more until its
 * connection is accepted, keeps listening. */
static void accept_and_drop(struct mk_listener *l) {
  if (l->reject_busy) {  /* still closing the last one: drop this one when it is done */
    l->reject_waiting = true;
    return;
  }
  uv_tcp_init(&l->broker->loop, &l->reject);
  l->reject.data = l;
  l->reject_busy = true;
  (void)uv_accept((uv_stream_t *)l->listener, (uv_stream_t *)&l->reject);
  uv_close((uv_handle_t *)&l->reject, on_reject_closed);
}

/* Take the connection waiting in l's listener. */
static void accept_one(struct mk_listener *l) {
  struct mk_broker *b = l->broker;
  struct mk_conn *c = NULL;
  if (b->fail_accept_allocs > 0) b->fail_accept_allocs--;
  else c = calloc(1, sizeof *c);
  if (!c) {
    mk_log_limited(&b->conn_log, MK_LOG_ERROR, "broker",
                   "out of memory accepting a connection on broker %d: closed",
                   l->node->id);
    accept_and_drop(l);
    return;
  }
  c->listener = l;
  c->id = ++b->next_conn_id;
  uv_tcp_init(&b->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept((uv_stream_t *)l->listener, (uv_stream_t *)&c->tcp) != 0) {
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  int port;
  mk_peer_address(&c->tcp, c->ip, sizeof c->ip, &port);
  mk_peer_name(&c->tcp, c->peer, sizeof c->peer);
  c->last_active = uv_now(&b->loop);
  c->next = l->conns;
  l->conns = c;
  l->nconns++;
  if (mk_connection_quotas_over_ip_limit(l, c)) {
    char why[120];
    snprintf(why, sizeof why, "%s already has %d connections (max.connections.per.ip)", c->ip,
             b->cluster.cfg.max_connections_per_ip);
    mk_conn_close(c, why);
    return;
  }
  mk_conn_update_reading(c);
}

void mk_network_accept_waiting(struct mk_listener *l) {
  if (!l->accept_waiting || !l->listener || uv_is_closing((uv_handle_t *)l->listener)) return;
  if (!mk_connection_quotas_slot_free(l)) return;
  l->accept_waiting = false;
  accept_one(l);  /* uv_accept also makes libuv poll the listener again */
}

static void on_connection(uv_stream_t *server, int status) {
  struct mk_listener *l = server->data;
  if (status < 0) {
    mk_log_limited(&l->broker->conn_log, MK_LOG_WARN, "broker", "accept on broker %d failed: %s",
                   l->node->id, uv_strerror(status));
    return;
  }
  if (!mk_connection_quotas_slot_free(l)) {
    /* Kafka's acceptor blocks at max.connections; here the connection stays unaccepted,
     * libuv stops polling the listener, and later ones wait in the kernel's backlog. */
    if (!l->accept_waiting)
      mk_log_limited(&l->broker->conn_log, MK_LOG_WARN, "broker",
                     "broker %d has %d connections (max.connections): new ones wait",
                     l->node->id, l->nconns);
    l->accept_waiting = true;
    return;
  }
  accept_one(l);
}

static void on_mute_over(uv_timer_t *t) { mk_conn_update_reading(t->data); }

void mk_conn_mute(struct mk_conn *c, int64_t ms) {
  if (c->closing || c->draining || ms <= 0) return;
  if (!c->mute_timer) {
    if (!(c->mute_timer = malloc(sizeof *c->mute_timer))) return;  /* then no pause */
    uv_timer_init(c->tcp.loop, c->mute_timer);
    c->mute_timer->data = c;
  }
  uint64_t due = uv_now(c->tcp.loop) + (uint64_t)ms;
  if (uv_is_active((uv_handle_t *)c->mute_timer) &&
      uv_timer_get_due_in(c->mute_timer) + uv_now(c->tcp.loop) >= due)
    return;  /* already muted until later */
  uv_timer_start(c->mute_timer, on_mute_over, (uint64_t)ms, 0);
  mk_conn_update_reading(c);
}

/* ---- listeners -------------------------------------------------------------------------- */

void mk_network_start(struct mk_broker *b) {
  uv_check_init(&b->loop, &b->turn_check);
  b->turn_check.data = b;
  uv_unref((uv_handle_t *)&b->turn_check);
}

bool mk_network_is_loopback(const char *host) {
  struct sockaddr_in a4;
  struct sockaddr_in6 a6;
  if (uv_ip4_addr(host, 0, &a4) == 0) return (ntohl(a4.sin_addr.s_addr) >> 24) == 127;
  return uv_ip6_addr(host, 0, &a6) == 0 && IN6_IS_ADDR_LOOPBACK(&a6.sin6_addr);
}

bool mk_network_is_wildcard(const char *host) {
  struct sockaddr_in a4;
  struct sockaddr_in6 a6;
  if (uv_ip4_addr(host, 0, &a4) == 0) return a4.sin_addr.s_addr == htonl(INADDR_ANY);
  return uv_ip6_addr(host, 0, &a6) == 0 && IN6_IS_ADDR_UNSPECIFIED(&a6.sin6_addr);
}

int mk_network_listen(struct mk_listener *l, const char *host, int port, struct mk_err *err) {
  struct sockaddr_storage addr;
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)&addr) != 0 &&
      uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr) != 0)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "--host %s is not an IP address", host);
  l->listener = malloc(sizeof *l->listener);
  if (!l->listener) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  uv_tcp_init(&l->broker->loop, l->listener);
  l->listener->data = l;
  l->accept_waiting = false;
  int rc = uv_tcp_bind(l->listener, (struct sockaddr *)&addr, 0);
  if (!rc)
    rc = uv_listen((uv_stream_t *)l->listener, l->broker->cluster.cfg.socket_listen_backlog_size,
                   on_connection);
  if (rc) {
    uv_close((uv_handle_t *)l->listener, free_handle);
    l->listener = NULL;
    return mk_err_set(err, MK_ERR__TRANSPORT, "cannot listen on %s:%d for broker %d: %s", host,
                      port, l->node->id, uv_strerror(rc));
  }
  struct sockaddr_storage bound;
  int len = sizeof bound;
  uv_tcp_getsockname(l->listener, (struct sockaddr *)&bound, &len);
  l->node->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                    : ((struct sockaddr_in *)&bound)->sin_port);
  l->node->up = true;
  return 0;
}

int mk_network_close_connections(struct mk_listener *l, const char *why) {
  int n = 0;
  for (; l->conns; n++) mk_conn_close(l->conns, why);
  return n;
}

void mk_network_close(struct mk_listener *l, const char *why) {
  /* Freed when the close completes; a broker_up meanwhile gets a fresh handle. Closing the
   * listener also closes a connection still waiting to be accepted. */
  if (l->listener) uv_close((uv_handle_t *)l->listener, free_handle);
  l->listener = NULL;
  l->accept_waiting = l->reject_waiting = false;
  mk_network_close_connections(l, why);
  l->node->up = false;
}
