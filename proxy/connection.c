/*
 * Connections: a client's connection to one of the proxy's listeners, and the proxy's own
 * connection for it to the real broker behind that listener. Kafka has no such class: this
 * is the wire between a client's NetworkClient and a broker's SocketServer, cut open.
 *
 *   client --frame--> request: header read, decoded only if a fault or the trace needs it
 *                     an `error` fault?  answer it here, or forward part (error_fault.h)
 *                     otherwise the bytes go to the broker as they came
 *   broker --frame--> answer: matched to the oldest request waiting (Kafka answers a
 *                     connection's requests in order), merged with an error fault's part,
 *                     broker addresses rewritten (rewrite.h), Metadata learnt (cluster_view)
 *                     drop_response? delay?  then to the client, strictly in request order
 *
 * Each client connection has its own connection to the broker, opened when the client
 * connects; nothing is read from the client until it is up. So a request is never in two
 * places at once, correlation ids pass unchanged, and closing one side closes the other:
 * a client whose answer is dropped with "close" reconnects, as it would to a real broker.
 *
 * Faults act at the moments the broker's act (broker/network.c, kafka_apis.c): `error` when
 * the request arrives, drop_response and delay when the answer is ready. A `silent` drop
 * stops the connection delivering anything from that answer on, as a broken network would:
 * the client hears nothing more until its request.timeout.ms.
 *
 * Memory stays bounded: at most MK_PROXY_MAX_IN_FLIGHT requests wait on one connection, and
 * no side queues more than MK_PROXY_WRITE_HIGH bytes before the proxy stops reading the
 * other.
 *
 * Thread: the proxy's loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/peer.h"
#include "common/trace.h"
#include "broker/fault_script.h"
#include "protocol/api.h"
#include "protocol/messages/metadata.h"
#include "proxy/proxy_internal.h"

static void flush(struct mk_proxy_conn *c);
static void pace(struct mk_proxy_conn *c);

/* ---- trace ----------------------------------------------------------------------------------- */

static const char *api_name(int api_key) {
  const struct mk_api *api = mk_api_find(api_key);
  return api ? api->name : NULL;
}

static void trace_request(const struct mk_proxy_exchange *e) {
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", "request_received");
  mk_trace_int(&ev, "broker", e->conn->broker->node_id);
  mk_trace_str(&ev, "api", api_name(e->header.api_key));
  mk_trace_int(&ev, "api_key", e->header.api_key);
  mk_trace_int(&ev, "api_version", e->header.api_version);
  mk_trace_int(&ev, "correlation_id", e->header.correlation_id);
  mk_trace_strn(&ev, "client_id", e->header.client_id.ptr, e->header.client_id.len);
  mk_trace_str(&ev, "via", "proxy");
  mk_trace_end(&ev);
}

static void trace_answer(const struct mk_proxy_exchange *e, const char *event, size_t bytes,
                         const char *why) {
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", event);
  mk_trace_int(&ev, "broker", e->conn->broker->node_id);
  mk_trace_str(&ev, "api", api_name(e->header.api_key));
  mk_trace_int(&ev, "correlation_id", e->header.correlation_id);
  mk_trace_int(&ev, "bytes", (int64_t)bytes);
  mk_trace_int(&ev, "latency_us", mk_now_us() - e->received_us);
  if (why) mk_trace_str(&ev, "why", why);
  mk_trace_str(&ev, "via", "proxy");
  mk_trace_end(&ev);
}

/* ---- exchanges ------------------------------------------------------------------------------ */

static void free_handle(uv_handle_t *h) { free(h); }

static void free_exchange(struct mk_proxy_exchange *e) {
  if (e->delay) {
    uv_timer_stop(e->delay);
    uv_close((uv_handle_t *)e->delay, free_handle);
  }
  mk_buffer_unref(e->request);
  mk_buffer_unref(e->answer_frame);
  mk_writer_free(&e->answer);
  mk_arena_free(&e->arena);
  free(e);
}

/* The request decoded (once): true when it decodes. */
static bool decoded(struct mk_proxy_exchange *e) {
  if (e->decode_state == 0) {
    struct mk_err err = {0};
    e->decode_state = mk_request_decode(e->request->data, e->request->size, &e->decoded,
                                        &e->arena, &err) ? -1 : 1;
  }
  return e->decode_state > 0;
}

/* Whether any fault of this action is armed (so requests must be decoded to match it). */
static bool armed(const struct mk_proxy *p, enum mk_fault_action action) {
  for (const struct mk_fault *f = p->faults.head; f; f = f->next)
    if (f->action == action && f->count != 0) return true;
  return false;
}

static const struct mk_fault *take_fault(struct mk_proxy_exchange *e,
                                         enum mk_fault_action action) {
  struct mk_proxy *p = e->conn->proxy;
  if (!armed(p, action) || !decoded(e)) return NULL;
  return mk_faults_take(&p->faults, &p->fault_targets, action, &e->decoded,
                        e->conn->broker->node_id);
}

/* ---- writing -------------------------------------------------------------------------------- */

struct out {
  uv_write_t w;
  struct mk_proxy_conn *conn;
  uint8_t prefix[4];
  struct mk_buffer *frame;     /* a frame by reference, sent after prefix; or */
  uint8_t *owned;              /* bytes of our own (size prefix included) */
};

static void on_sent(uv_write_t *w, int status) {
  struct out *o = (struct out *)w;
  struct mk_proxy_conn *c = o->conn;
  mk_buffer_unref(o->frame);
  free(o->owned);
  free(o);
  if (c->closing) return;
  if (status < 0) {
    mk_proxy_conn_close(c, uv_strerror(status));
    return;
  }
  pace(c);
}

/* Send frame (without prefix: a reference is taken) or owned (len bytes with prefix: taken)
 * on tcp. Returns 0, or closes the connection and returns -1. */
static int send_bytes(struct mk_proxy_conn *c, uv_tcp_t *tcp, struct mk_buffer *frame,
                      uint8_t *owned, size_t len) {
  struct out *o = calloc(1, sizeof *o);
  if (!o) {
    free(owned);
    mk_proxy_conn_close(c, "out of memory");
    return -1;
  }
  o->conn = c;
  uv_buf_t bufs[2];
  int n = 0;
  if (frame) {
    o->frame = mk_buffer_ref(frame);
    mk_store_u32(o->prefix, (uint32_t)frame->size);
    bufs[n++] = uv_buf_init((char *)o->prefix, 4);
    bufs[n++] = uv_buf_init((char *)frame->data, (unsigned)frame->size);
  } else {
    o->owned = owned;
    bufs[n++] = uv_buf_init((char *)owned, (unsigned)len);
  }
  int rc = uv_write(&o->w, (uv_stream_t *)tcp, bufs, (unsigned)n, on_sent);
  if (rc) {
    mk_buffer_unref(o->frame);
    free(o->owned);
    free(o);
    mk_proxy_conn_close(c, uv_strerror(rc));
    return -1;
  }
  return 0;
}

/* ---- pacing: bounded memory ----------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_upstream_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Read from each side only while the other can take more. */
static void pace(struct mk_proxy_conn *c) {
  if (c->closing || c->draining || !c->connected) return;
  size_t to_upstream = uv_stream_get_write_queue_size((uv_stream_t *)&c->upstream);
  size_t to_client = uv_stream_get_write_queue_size((uv_stream_t *)&c->client);
  bool client_ok =
      c->in_flight < MK_PROXY_MAX_IN_FLIGHT &&
      to_upstream < (c->client_reading ? MK_PROXY_WRITE_HIGH : MK_PROXY_WRITE_HIGH / 2);
  bool upstream_ok =
      to_client < (c->upstream_reading ? MK_PROXY_WRITE_HIGH : MK_PROXY_WRITE_HIGH / 2);
  if (client_ok != c->client_reading) {
    if (client_ok) uv_read_start((uv_stream_t *)&c->client, on_alloc, on_client_read);
    else uv_read_stop((uv_stream_t *)&c->client);
    c->client_reading = client_ok;
  }
  if (upstream_ok != c->upstream_reading) {
    if (upstream_ok) uv_read_start((uv_stream_t *)&c->upstream, on_alloc, on_upstream_read);
    else uv_read_stop((uv_stream_t *)&c->upstream);
    c->upstream_reading = upstream_ok;
  }
}

/* ---- closing --------------------------------------------------------------------------------- */

static void maybe_free(struct mk_proxy_conn *c) {
  if (c->open_handles > 0 || c->resolving) return;
  mk_frame_reader_free(&c->from_client);
  mk_frame_reader_free(&c->from_upstream);
  free(c);
}

static void on_handle_closed(uv_handle_t *h) {
  struct mk_proxy_conn *c = h->data;
  c->open_handles--;
  maybe_free(c);
}

void mk_proxy_conn_close(struct mk_proxy_conn *c, const char *why) {
  if (c->closing) return;
  c->closing = true;
  if (why)
    mk_log(MK_LOG_WARN, "proxy", "closing connection %s -> broker %d: %s", c->peer,
           c->broker->node_id, why);
  for (struct mk_proxy_conn **pp = &c->broker->conns; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  while (c->head) {
    struct mk_proxy_exchange *e = c->head;
    c->head = e->next;
    free_exchange(e);
  }
  c->tail = NULL;
  uv_close((uv_handle_t *)&c->client, on_handle_closed);
  uv_close((uv_handle_t *)&c->upstream, on_handle_closed);
  if (c->lingering) uv_close((uv_handle_t *)&c->linger, on_handle_closed);
}

/* After a hang-up, what the peer still sends is read and dropped until it closes too (or a
 * while passes): closing a socket with bytes unread resets the connection, and a reset can
 * throw away what the peer has received but not yet read (the last requests of an acks=0
 * producer, when the broker's stray answers to them sit unread here). */
enum { LINGER_MS = 2000 };

static void on_drain_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  if (nread < 0) mk_proxy_conn_close(s->data, NULL);  /* the peer is done too */
}

static void on_linger_over(uv_timer_t *t) { mk_proxy_conn_close(t->data, NULL); }

static void on_shutdown(uv_shutdown_t *s, int status) {
  struct mk_proxy_conn *c = s->data;
  if (status < 0 || c->closing) {
    mk_proxy_conn_close(c, NULL);
    return;
  }
  uv_timer_init(&c->proxy->loop, &c->linger);
  c->linger.data = c;
  c->open_handles++;
  c->lingering = true;
  uv_timer_start(&c->linger, on_linger_over, LINGER_MS, 0);
  if (uv_read_start(s->handle, on_alloc, on_drain_read) != 0) mk_proxy_conn_close(c, NULL);
}

/* Close once everything written so far to `side` has left: to the client, the answers before
 * a dropped one (what the broker's close does) or before the broker hung up; to the broker,
 * the requests a client sent just before it hung up (an acks=0 producer closes as soon as
 * its last request is written: the request must still arrive). */
static void close_after_writes(struct mk_proxy_conn *c, uv_tcp_t *side) {
  uv_read_stop((uv_stream_t *)&c->client);
  uv_read_stop((uv_stream_t *)&c->upstream);
  c->client_reading = c->upstream_reading = false;
  c->shutdown.data = c;
  c->draining = true;
  if (uv_shutdown(&c->shutdown, (uv_stream_t *)side, on_shutdown) != 0)
    mk_proxy_conn_close(c, NULL);
}

/* ---- answers to the client, in order --------------------------------------------------- */

static void on_delay_over(uv_timer_t *t) {
  struct mk_proxy_exchange *e = t->data;
  e->delaying = false;
  flush(e->conn);
}

static void flush(struct mk_proxy_conn *c) {
  while (c->head && c->head->answered && !c->head->delaying && !c->closing && !c->draining) {
    struct mk_proxy_exchange *e = c->head;
    c->head = e->next;
    if (!c->head) c->tail = NULL;
    c->in_flight--;
    size_t len = e->answer.len ? e->answer.len : e->answer_frame ? e->answer_frame->size + 4 : 0;
    if (!len) {
      /* acks=0: no answer was ever coming */
    } else if (c->silent) {
      if (mk_trace_on())
        trace_answer(e, "response_dropped", len, "silent: an answer before it was lost");
    } else if (e->drop) {
      if (mk_trace_on())
        trace_answer(e, "response_dropped", len, e->close_after ? "close" : "silent");
      if (!e->close_after) c->silent = true;
    } else if (len) {
      if (mk_trace_on()) trace_answer(e, "response_sent", len, NULL);
      int rc;
      if (e->answer.len) {
        size_t n;
        uint8_t *bytes = mk_writer_take(&e->answer, &n);
        rc = send_bytes(c, &c->client, NULL, bytes, n);
      } else {
        rc = send_bytes(c, &c->client, e->answer_frame, NULL, 0);
      }
      if (rc) {
        free_exchange(e);
        return;
      }
    }
    bool close_after = e->close_after;
    free_exchange(e);
    if (close_after) {
      close_after_writes(c, &c->client);
      return;
    }
  }
  pace(c);
}

/* The faults that act on an answer once it is ready, the cluster's or the proxy's own
 * (broker/network.c does the same for every response): drop_response, then delay. */
static void answer_faults(struct mk_proxy_exchange *e) {
  const struct mk_fault *f = take_fault(e, MK_FAULT_DROP_RESPONSE);
  if (f) {
    e->drop = true;
    e->close_after = f->close;
  } else if ((f = take_fault(e, MK_FAULT_DELAY)) && f->ms > 0) {
    e->delay = malloc(sizeof *e->delay);
    if (e->delay) {
      uv_timer_init(&e->conn->proxy->loop, e->delay);
      e->delay->data = e;
      e->delaying = true;
      uv_timer_start(e->delay, on_delay_over, (uint64_t)f->ms, 0);
    }
  }
}

/* ---- requests from the client ---------------------------------------------------------------- */

/* Produce's acks, read without decoding the whole request (any version, ours or not), so
 * that an acks=0 request waits for no answer. -1 when unreadable: then an answer is awaited. */
static int16_t peek_acks(const struct mk_buffer *f, int16_t version) {
  struct mk_reader r;
  mk_reader_init(&r, f->data, f->size);
  mk_read_skip(&r, 8);
  (void)mk_read_string(&r, false);  /* client_id: int16 length in every header version */
  bool flexible = version >= 9;
  if (flexible) mk_skip_tagged_fields(&r);
  if (version >= 3) (void)mk_read_string(&r, flexible);  /* transactional_id */
  int16_t acks = mk_read_i16(&r);
  return r.err ? -1 : acks;
}

/* Forward the request's bytes (or the split copy in `split`, prefix included: taken). */
static int forward(struct mk_proxy_exchange *e, struct mk_writer *split) {
  struct mk_proxy_conn *c = e->conn;
  e->forwarded = true;
  if (split && split->len) {
    size_t n;
    uint8_t *bytes = mk_writer_take(split, &n);
    return send_bytes(c, &c->upstream, NULL, bytes, n);
  }
  return send_bytes(c, &c->upstream, e->request, NULL, 0);
}

static void handle_request(struct mk_proxy_conn *c, struct mk_buffer *frame) {
  struct mk_proxy *p = c->proxy;
  if (frame->size < 8) {
    mk_buffer_unref(frame);
    mk_proxy_conn_close(c, "a request shorter than a request header (8 bytes)");
    return;
  }
  struct mk_proxy_exchange *e = calloc(1, sizeof *e);
  if (!e) {
    mk_buffer_unref(frame);
    mk_proxy_conn_close(c, "out of memory");
    return;
  }
  e->conn = c;
  e->request = frame;
  e->received_us = mk_now_us();
  mk_arena_init(&e->arena);
  mk_writer_init(&e->answer);
  struct mk_reader r;
  mk_reader_init(&r, frame->data, frame->size);
  e->header.api_key = mk_read_i16(&r);
  e->header.api_version = mk_read_i16(&r);
  e->header.correlation_id = mk_read_i32(&r);
  e->header.client_id = mk_read_string(&r, false);
  if (r.err) e->header.client_id = MK_STR_NULL;
  if (c->tail) c->tail->next = e;
  else c->head = e;
  c->tail = e;
  c->in_flight++;
  if (mk_trace_on()) trace_request(e);
  bool answer_expected = !(e->header.api_key == MK_API_PRODUCE &&
                           peek_acks(frame, e->header.api_version) == 0);

  struct mk_writer out;
  mk_writer_init(&out);
  const struct mk_fault *f = take_fault(e, MK_FAULT_ERROR);
  if (f) {
    struct mk_err err = {0};
    e->error = *f;
    e->error.next = NULL;
    if (mk_error_fault_plan(&e->decoded, f, &p->fault_targets, &e->arena, &e->plan, &out, &err)) {
      mk_log(MK_LOG_WARN, "proxy", "fault %d cannot act on %s v%d: %s; forwarded as it came",
             f->id, api_name(e->header.api_key), e->header.api_version, err.msg);
      e->plan = MK_ERROR_NONE;
      mk_writer_free(&out);
      mk_writer_init(&out);
    }
  }
  mk_fault_script_on_request(p->script, e->header.api_key);  /* --faults "after" lines */
  int rc = 0;
  if (e->plan == MK_ERROR_ANSWER) {
    e->answered = true;
    if (answer_expected) {
      e->answer = out;
      mk_writer_init(&out);
      answer_faults(e);
    } else {
      /* acks=0 gets no answer; Kafka closes the connection when such a request fails, the
       * one way the producer can learn of it. */
      e->close_after = true;
    }
  } else {
    rc = forward(e, e->plan == MK_ERROR_SPLIT ? &out : NULL);
    if (!rc && !answer_expected) {  /* acks=0: nothing will come back */
      e->answered = true;
      c->acks0[c->nacks0++ % 8] = e->header.correlation_id;
    }
    if (!rc && !answer_expected && e->plan != MK_ERROR_NONE) e->close_after = true;
  }
  mk_writer_free(&out);
  if (!rc) flush(c);
}

/* ---- answers from the broker ----------------------------------------------------------------- */

static bool metadata_for_all(const struct mk_request *req) {
  const struct mk_metadata_request *md = req->body;
  return md->topics_count < 0 || (md->topics_count == 0 && req->header.api_version == 0);
}

/* The answer's final bytes: ours (after the size prefix) or the broker's frame. */
static void answer_bytes(const struct mk_proxy_exchange *e, const uint8_t **buf, size_t *len) {
  if (e->answer.len) {
    *buf = e->answer.buf + 4;
    *len = e->answer.len - 4;
  } else {
    *buf = e->answer_frame->data;
    *len = e->answer_frame->size;
  }
}

/* Merge an error fault's part, rewrite broker addresses, learn Metadata. Returns 0, or -1
 * after closing the connection with a sentence saying why. */
static int transform(struct mk_proxy_conn *c, struct mk_proxy_exchange *e) {
  struct mk_proxy *p = c->proxy;
  struct mk_err err = {0};
  if (e->plan == MK_ERROR_SPLIT || e->plan == MK_ERROR_AFTER) {
    struct mk_writer merged;
    mk_writer_init(&merged);
    if (mk_error_fault_merge(&e->decoded, &e->error, &p->fault_targets, e->answer_frame->data,
                             e->answer_frame->size, &e->arena, &merged, &err)) {
      mk_writer_free(&merged);
      char why[320];
      snprintf(why, sizeof why, "fault %d cannot act on the answer: %s", e->error.id, err.msg);
      mk_proxy_conn_close(c, why);
      return -1;
    }
    e->answer = merged;
  }
  if (!mk_rewrite_needed(e->header.api_key, e->header.api_version)) return 0;
  const uint8_t *buf;
  size_t len;
  answer_bytes(e, &buf, &len);
  struct mk_rewrite_map map = mk_proxy_rewrite_map(p);
  struct mk_writer rewritten;
  mk_writer_init(&rewritten);
  void *body;
  bool changed;
  if (mk_rewrite_response(e->header.api_key, e->header.api_version, buf, len, &map, &e->arena,
                          &body, &changed, &rewritten, &err)) {
    mk_writer_free(&rewritten);
    if (mk_trace_on()) trace_answer(e, "response_dropped", len, err.msg);
    char why[320];
    snprintf(why, sizeof why, "%s (correlation id %d)", err.msg, e->header.correlation_id);
    mk_proxy_conn_close(c, why);
    return -1;
  }
  if (e->header.api_key == MK_API_METADATA && body && decoded(e))
    mk_proxy_learn_metadata(p, body, metadata_for_all(&e->decoded));
  if (changed) {
    mk_writer_free(&e->answer);
    e->answer = rewritten;
  }
  return 0;
}

/* Tell the trace what the cluster did with a Produce request (produce_watch.c). */
static void watch_produce(struct mk_proxy_exchange *e) {
  if (!mk_trace_on() || e->header.api_key != MK_API_PRODUCE || !decoded(e)) return;
  const uint8_t *buf;
  size_t len;
  answer_bytes(e, &buf, &len);
  int32_t cid;
  void *body;
  struct mk_err err = {0};
  if (mk_response_decode(buf, len, MK_API_PRODUCE, e->header.api_version, &cid, &body,
                         &e->arena, &err) == 0)
    mk_produce_watch_answer(e->conn->proxy->watch, &e->decoded, body, e->conn->broker->node_id);
}

/* Whether cid is that of a recent acks=0 request (an answer Kafka would not have sent). */
static bool answers_acks0(struct mk_proxy_conn *c, int32_t cid) {
  for (int i = 0; i < c->nacks0 && i < 8; i++)
    if (c->acks0[i] == cid) return true;
  return false;
}

static void handle_answer(struct mk_proxy_conn *c, struct mk_buffer *frame) {
  struct mk_proxy_exchange *e = c->head;
  while (e && !(e->forwarded && !e->answered)) e = e->next;
  int32_t cid = 0;
  bool peeked = mk_response_peek_correlation_id(frame->data, frame->size, &cid) == 0;
  if (peeked && (!e || cid != e->header.correlation_id) && answers_acks0(c, cid)) {
    if (!c->acks0_said)
      mk_log(MK_LOG_INFO, "proxy", "broker %d answered an acks=0 Produce request (correlation "
             "id %d), which Kafka never does: such answers are dropped", c->broker->node_id, cid);
    c->acks0_said = true;
    mk_buffer_unref(frame);
    return;
  }
  if (!peeked || !e || cid != e->header.correlation_id) {
    char why[200];
    snprintf(why, sizeof why, "broker %d answered correlation id %d, but the oldest request "
             "waiting has %d", c->broker->node_id, cid, e ? e->header.correlation_id : -1);
    mk_buffer_unref(frame);
    mk_proxy_conn_close(c, why);
    return;
  }
  e->answered = true;
  e->answer_frame = frame;
  if (transform(c, e)) return;
  watch_produce(e);
  answer_faults(e);
  flush(c);
}

/* ---- reading ------------------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  struct mk_proxy_conn *c = h->data;
  *buf = uv_buf_init((char *)c->proxy->read_buf, sizeof c->proxy->read_buf);
}

static void read_frames(struct mk_proxy_conn *c, struct mk_frame_reader *r, bool from_client,
                        ssize_t nread, const uv_buf_t *buf) {
  if (nread < 0) {  /* a hang-up: what was written to the other side still goes */
    if (!from_client || nread != UV_EOF)
      mk_log(MK_LOG_INFO, "proxy", "%s -> broker %d: the %s hung up (%s)", c->peer,
             c->broker->node_id, from_client ? "client" : "broker", uv_strerror((int)nread));
    close_after_writes(c, from_client ? &c->upstream : &c->client);
    return;
  }
  const uint8_t *p = (const uint8_t *)buf->base;
  size_t n = (size_t)nread;
  while (n > 0 && !c->closing && !c->draining) {
    struct mk_buffer *f;
    struct mk_err err = {0};
    int rc = mk_frame_read(r, &p, &n, from_client ? 8 : 4, MK_PROXY_MAX_FRAME, &f, &err);
    if (rc < 0) {
      char why[256];
      snprintf(why, sizeof why, "%s sent %s", from_client ? "the client" : "the broker", err.msg);
      mk_proxy_conn_close(c, why);
      return;
    }
    if (rc == 0) return;
    if (from_client) handle_request(c, f);
    else handle_answer(c, f);
  }
}

static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct mk_proxy_conn *c = s->data;
  read_frames(c, &c->from_client, true, nread, buf);
}

static void on_upstream_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct mk_proxy_conn *c = s->data;
  read_frames(c, &c->from_upstream, false, nread, buf);
}

/* ---- opening --------------------------------------------------------------------------------- */

static void on_upstream_connect(uv_connect_t *req, int status) {
  struct mk_proxy_conn *c = req->data;
  if (c->closing) return;
  if (status < 0) {
    char why[400];
    snprintf(why, sizeof why, "cannot reach broker %d at %s:%d: %s", c->broker->node_id,
             c->broker->host, c->broker->port, uv_strerror(status));
    mk_proxy_conn_close(c, why);
    return;
  }
  uv_tcp_nodelay(&c->upstream, 1);
  c->connected = true;
  pace(c);
}

static void on_resolved(uv_getaddrinfo_t *r, int status, struct addrinfo *res) {
  struct mk_proxy_conn *c = r->data;
  c->resolving = false;
  if (c->closing || status < 0) {
    if (res) uv_freeaddrinfo(res);
    if (!c->closing) {
      char why[400];
      snprintf(why, sizeof why, "cannot resolve broker %d's host %s: %s", c->broker->node_id,
               c->broker->host, uv_strerror(status));
      mk_proxy_conn_close(c, why);
    }
    maybe_free(c);
    return;
  }
  c->connect.data = c;
  int rc = uv_tcp_connect(&c->connect, &c->upstream, res->ai_addr, on_upstream_connect);
  uv_freeaddrinfo(res);
  if (rc) on_upstream_connect(&c->connect, rc);
}

void mk_proxy_conn_accept(struct mk_proxy_broker *b, uv_stream_t *server) {
  struct mk_proxy *p = b->proxy;
  struct mk_proxy_conn *c = calloc(1, sizeof *c);
  if (!c) return;  /* the connection stays in the backlog until the kernel gives up */
  c->proxy = p;
  c->broker = b;
  uv_tcp_init(&p->loop, &c->client);
  uv_tcp_init(&p->loop, &c->upstream);
  c->client.data = c->upstream.data = c;
  c->open_handles = 2;
  if (uv_accept(server, (uv_stream_t *)&c->client) != 0) {
    c->closing = true;
    uv_close((uv_handle_t *)&c->client, on_handle_closed);
    uv_close((uv_handle_t *)&c->upstream, on_handle_closed);
    return;
  }
  uv_tcp_nodelay(&c->client, 1);
  mk_peer_name(&c->client, c->peer, sizeof c->peer);
  c->next = b->conns;
  b->conns = c;
  char port[8];
  snprintf(port, sizeof port, "%d", b->port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  c->resolve.data = c;
  c->resolving = true;
  int rc = uv_getaddrinfo(&p->loop, &c->resolve, on_resolved, b->host, port, &hints);
  if (rc) {
    c->resolving = false;
    char why[400];
    snprintf(why, sizeof why, "cannot resolve broker %d's host %s: %s", b->node_id, b->host,
             uv_strerror(rc));
    mk_proxy_conn_close(c, why);
  }
}
