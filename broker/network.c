/*
 * Network: listeners, connections, framing and ordered responses. See network.h.
 *
 * Reading. Kafka frames are [int32 size][size bytes]. Small frames arrive many
 * to a read, so reads land in a per-connection scratch buffer and are split
 * into frames by copying. A large frame (a Produce full of batches) would be
 * copied for nothing, so once its size is known and much of it is still to
 * come, libuv is handed the frame buffer itself and reads straight into it.
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
#include "broker/faults.h"
#include "broker/purgatory.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/peer.h"
#include "common/trace.h"

enum {
  SCRATCH_SIZE = 64 * 1024,
  DIRECT_READ_MIN = 16 * 1024,  /* read straight into a frame when this much is missing */
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
  if (status < 0 && status != UV_ECANCELED && c && !c->closing)
    mk_conn_close(c, uv_strerror(status));
}

/* Send len bytes of buf (owned: freed here or after the write). */
static void send_owned(struct mk_conn *c, uint8_t *buf, size_t len) {
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
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
    bool close_after = req->close_after;
    if (!req->silent && req->response.len) {
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
      mk_log(MK_LOG_WARN, "broker", "closing connection %s -> broker %d: %s", c->peer,
             c->listener->node->id, why);
    uv_read_stop((uv_stream_t *)&c->tcp);
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
  /* Faults act here, after the request did its work: a lost response is one whose
   * records were appended anyway, which is what turns a retry into a duplicate. */
  const struct mk_fault *drop_fault = mk_faults_take(
      &b->faults, &b->fault_targets, MK_FAULT_DROP_RESPONSE, &req->request, req->node->id);
  int drop = !drop_fault ? 0 : drop_fault->close ? 2 : 1;
  if (drop) {
    if (mk_trace_on()) trace_response(req, "response_dropped", drop == 2 ? "close" : "silent");
    if (drop == 2) {
      mk_req_close_connection(req, NULL);  /* earlier answers still go out first */
      return;
    }
    req->done = true;
    req->silent = true;
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
  mk_buffer_unref(c->frame);
  free(c->scratch);
  free(c);
}

void mk_conn_close(struct mk_conn *c, const char *why) {
  if (c->closing) return;
  c->closing = true;
  if (why)
    mk_log(MK_LOG_WARN, "broker", "closing connection %s -> broker %d: %s", c->peer, c->listener->node->id,
           why);
  for (struct mk_conn **pp = &c->listener->conns; *pp; pp = &(*pp)->next) {
    if (*pp == c) {
      *pp = c->next;
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
}

static void frame_complete(struct mk_conn *c) {
  struct mk_buffer *frame = c->frame;
  c->frame = NULL;
  c->frame_len = 0;
  c->size_len = 0;
  mk_kafka_apis_handle(c, frame);
}

/* Split n bytes from the scratch buffer into frames. */
static void feed(struct mk_conn *c, const uint8_t *p, size_t n) {
  while (n > 0 && !c->closing && !c->draining) {
    if (!c->frame) {
      while (c->size_len < 4 && n > 0) {
        c->size_buf[c->size_len++] = *p++;
        n--;
      }
      if (c->size_len < 4) return;
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
      c->frame = mk_buffer_new((size_t)size);
      if (!c->frame) {
        mk_conn_close(c, "out of memory for a request frame");
        return;
      }
      c->frame_len = 0;
    }
    size_t take = c->frame->size - c->frame_len;
    if (take > n) take = n;
    memcpy(c->frame->data + c->frame_len, p, take);
    c->frame_len += take;
    p += take;
    n -= take;
    if (c->frame_len == c->frame->size) frame_complete(c);
  }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  struct mk_conn *c = h->data;
  if (c->frame && c->frame->size - c->frame_len >= DIRECT_READ_MIN) {
    *buf = uv_buf_init((char *)c->frame->data + c->frame_len,
                       (unsigned)(c->frame->size - c->frame_len));
    return;
  }
  *buf = uv_buf_init((char *)c->scratch, SCRATCH_SIZE);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct mk_conn *c = s->data;
  if (nread < 0) {
    mk_conn_close(c, nread == UV_EOF ? NULL : uv_strerror((int)nread));
    return;
  }
  if ((uint8_t *)buf->base == c->scratch) {
    feed(c, c->scratch, (size_t)nread);
  } else {
    c->frame_len += (size_t)nread;
    if (c->frame_len == c->frame->size) frame_complete(c);
  }
}

static void on_connection(uv_stream_t *server, int status) {
  struct mk_listener *l = server->data;
  if (status < 0) {
    mk_log(MK_LOG_WARN, "broker", "accept on broker %d failed: %s", l->node->id,
           uv_strerror(status));
    return;
  }
  struct mk_conn *c = calloc(1, sizeof *c);
  if (c) c->scratch = malloc(SCRATCH_SIZE);
  if (!c || !c->scratch) {
    free(c);
    mk_log(MK_LOG_ERROR, "broker", "out of memory accepting a connection");
    return;
  }
  c->listener = l;
  c->id = ++l->broker->next_conn_id;
  uv_tcp_init(server->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  mk_peer_name(&c->tcp, c->peer, sizeof c->peer);
  c->next = l->conns;
  l->conns = c;
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_mute_over(uv_timer_t *t) {
  struct mk_conn *c = t->data;
  if (!c->closing && !c->draining) uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

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
  uv_read_stop((uv_stream_t *)&c->tcp);
  uv_timer_start(c->mute_timer, on_mute_over, (uint64_t)ms, 0);
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
  int rc = uv_tcp_bind(l->listener, (struct sockaddr *)&addr, 0);
  if (!rc) rc = uv_listen((uv_stream_t *)l->listener, 128, on_connection);
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
  mk_network_close_connections(l, why);
  /* Freed when the close completes; a broker_up meanwhile gets a fresh handle. */
  if (l->listener) uv_close((uv_handle_t *)l->listener, free_handle);
  l->listener = NULL;
  l->node->up = false;
}
