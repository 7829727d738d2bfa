/*
 * Discovery: finding the cluster's brokers when the proxy starts. Kafka: a client's
 * bootstrap (ClientUtils.parseAndValidateAddresses, then NetworkClient's first Metadata).
 *
 *   for each server of --bootstrap-server, until one answers:
 *     resolve, connect, ApiVersions v0 (every broker reads it), then Metadata for every
 *     topic at the highest version both sides speak
 *   the answer's brokers and topics go to the view (cluster_view.c)
 *
 * It runs on the proxy's loop before the loop has a thread (mk_proxy_new turns the loop
 * until discovery ends), under one timer for the whole search. A server that fails adds a
 * sentence to the error, so a proxy that cannot start says what it tried.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "protocol/api.h"
#include "protocol/messages/api_versions.h"
#include "protocol/messages/metadata.h"
#include "proxy/proxy_internal.h"

struct discovery {
  struct mk_proxy *proxy;
  const char *next;              /* the rest of the server list */
  char host[256], port[8];
  uv_getaddrinfo_t resolve;
  uv_tcp_t *tcp;                 /* this attempt's connection (freed on close) */
  uv_connect_t connect;
  uv_timer_t timer;
  struct mk_frame_reader in;
  int step;                      /* 0: waiting for ApiVersions, 1: for Metadata */
  int16_t metadata_version;
  bool done;
  int rc;
  int pending;                   /* requests and handles whose callbacks are still to come */
  char tried[768];               /* what each server said */
  uint8_t scratch[64 * 1024];
};

static void try_next(struct discovery *d);

static void finish(struct discovery *d, int rc) {
  d->done = true;
  d->rc = rc;
  uv_timer_stop(&d->timer);
}

static void on_tcp_closed(uv_handle_t *h) {
  ((struct discovery *)h->data)->pending--;
  free(h);
}

static void drop_attempt(struct discovery *d) {
  mk_frame_reader_free(&d->in);
  if (d->tcp) uv_close((uv_handle_t *)d->tcp, on_tcp_closed);
  d->tcp = NULL;
}

/* This server failed: note why, and go on to the next. */
static void server_failed(struct discovery *d, const char *fmt, const char *detail) {
  size_t n = strlen(d->tried);
  snprintf(d->tried + n, sizeof d->tried - n, "%s%s:%s: ", n ? "; " : "", d->host, d->port);
  n = strlen(d->tried);
  snprintf(d->tried + n, sizeof d->tried - n, fmt, detail);
  drop_attempt(d);
  try_next(d);
}

static void on_written(uv_write_t *w, int status) {
  struct discovery *d = w->data;
  free(w);
  (void)status;  /* a failed write shows as a failed read */
  d->pending--;
}

static void send_request(struct discovery *d, int api_key, int version, const void *body) {
  struct mk_writer out;
  mk_writer_init(&out);
  struct mk_request_header h = {(int16_t)api_key, (int16_t)version, d->step + 1,
                                mk_str_of("minikafka-proxy")};
  struct mk_err err = {0};
  uv_write_t *w = malloc(sizeof *w);
  if (mk_request_encode(&out, &h, body, &err) || !w) {
    free(w);
    mk_writer_free(&out);
    server_failed(d, "%s", err.msg[0] ? err.msg : "out of memory");
    return;
  }
  /* The bytes must live until written: they follow the write request in one block. */
  uv_write_t *block = realloc(w, sizeof *w + out.len);
  if (!block) {
    free(w);
    mk_writer_free(&out);
    server_failed(d, "%s", "out of memory");
    return;
  }
  memcpy(block + 1, out.buf, out.len);
  block->data = d;
  uv_buf_t b = uv_buf_init((char *)(block + 1), (unsigned)out.len);
  mk_writer_free(&out);
  if (uv_write(block, (uv_stream_t *)d->tcp, &b, 1, on_written)) {
    free(block);
    server_failed(d, "%s", "cannot write");
    return;
  }
  d->pending++;
}

static void send_metadata(struct discovery *d) {
  struct mk_metadata_request md;
  mk_schema_set_defaults(&mk_metadata_request_schema, &md);
  md.topics_count = d->metadata_version == 0 ? 0 : -1;  /* every topic */
  if (d->metadata_version >= 4) md.allow_auto_topic_creation = false;
  send_request(d, MK_API_METADATA, d->metadata_version, &md);
}

/* ApiVersions v0 answered: the highest Metadata version both sides speak. */
static int pick_metadata_version(struct discovery *d, const struct mk_buffer *f) {
  struct mk_arena arena;
  mk_arena_init(&arena);
  int32_t cid;
  void *body;
  struct mk_err err = {0};
  int rc = mk_response_decode(f->data, f->size, MK_API_API_VERSIONS, 0, &cid, &body, &arena, &err);
  const struct mk_api *ours = mk_api_find(MK_API_METADATA);
  d->metadata_version = -1;
  if (!rc) {
    const struct mk_api_versions_response *r = body;
    for (int32_t i = 0; i < r->api_keys_count; i++) {
      const struct mk_api_versions_api_version *v = &r->api_keys[i];
      if (v->api_key != MK_API_METADATA) continue;
      int16_t hi = v->max_version < ours->max_version ? v->max_version : ours->max_version;
      if (hi >= v->min_version && hi >= ours->min_version) d->metadata_version = hi;
    }
    if (r->error_code)
      rc = mk_err_set(&err, r->error_code, "ApiVersions answered %s", mk_err_name(r->error_code));
    else if (d->metadata_version < 0)
      rc = mk_err_set(&err, MK_ERR_UNSUPPORTED_VERSION, "no Metadata version we both speak");
  }
  mk_arena_free(&arena);
  if (rc) server_failed(d, "%s", err.msg);
  return rc;
}

static void learn(struct discovery *d, const struct mk_buffer *f) {
  struct mk_arena arena;
  mk_arena_init(&arena);
  int32_t cid;
  void *body;
  struct mk_err err = {0};
  int rc = mk_response_decode(f->data, f->size, MK_API_METADATA, d->metadata_version, &cid, &body,
                              &arena, &err);
  if (!rc) {
    const struct mk_metadata_response *md = body;
    for (int32_t i = 0; !rc && i < md->brokers_count; i++)
      if (!mk_proxy_learn_broker(d->proxy, md->brokers[i].node_id, md->brokers[i].host,
                                 md->brokers[i].port, &err))
        rc = err.code ? err.code : MK_ERR__STATE;
    if (!rc && md->brokers_count <= 0)
      rc = mk_err_set(&err, MK_ERR__STATE, "Metadata named no brokers");
    if (!rc) mk_proxy_learn_metadata(d->proxy, md, true);
  }
  mk_arena_free(&arena);
  if (rc) {
    server_failed(d, "Metadata: %s", err.msg);
    return;
  }
  mk_log(MK_LOG_INFO, "proxy", "%s:%s: %d brokers, %d topics (Metadata v%d)", d->host, d->port,
         d->proxy->nbrokers, d->proxy->ntopics, d->metadata_version);
  drop_attempt(d);
  finish(d, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  struct discovery *d = h->data;
  *buf = uv_buf_init((char *)d->scratch, sizeof d->scratch);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct discovery *d = s->data;
  if (nread < 0) {
    server_failed(d, "%s", nread == UV_EOF ? "closed the connection" : uv_strerror((int)nread));
    return;
  }
  const uint8_t *p = (const uint8_t *)buf->base;
  size_t n = (size_t)nread;
  while (n > 0 && !d->done && d->tcp == (uv_tcp_t *)s) {
    struct mk_buffer *f;
    struct mk_err err = {0};
    int rc = mk_frame_read(&d->in, &p, &n, 4, MK_PROXY_MAX_FRAME, &f, &err);
    if (rc < 0) {
      server_failed(d, "%s", err.msg);
      return;
    }
    if (rc == 0) return;
    if (d->step == 0) {
      if (!pick_metadata_version(d, f)) {
        d->step = 1;
        send_metadata(d);
      }
    } else {
      learn(d, f);
    }
    mk_buffer_unref(f);
  }
}

static void on_connect(uv_connect_t *c, int status) {
  struct discovery *d = c->data;
  d->pending--;
  if (status < 0 || d->done || (uv_tcp_t *)c->handle != d->tcp) {
    if (!d->done) server_failed(d, "cannot connect: %s", uv_strerror(status));
    return;
  }
  d->tcp->data = d;
  uv_read_start((uv_stream_t *)d->tcp, on_alloc, on_read);
  d->step = 0;
  struct mk_api_versions_request av;
  mk_schema_set_defaults(&mk_api_versions_request_schema, &av);
  send_request(d, MK_API_API_VERSIONS, 0, &av);
}

static void on_resolved(uv_getaddrinfo_t *r, int status, struct addrinfo *res) {
  struct discovery *d = r->data;
  d->pending--;
  if (status < 0 || d->done) {
    if (res) uv_freeaddrinfo(res);
    if (!d->done) server_failed(d, "cannot resolve: %s", uv_strerror(status));
    return;
  }
  d->tcp = malloc(sizeof *d->tcp);
  if (!d->tcp) {
    uv_freeaddrinfo(res);
    server_failed(d, "%s", "out of memory");
    return;
  }
  uv_tcp_init(&d->proxy->loop, d->tcp);
  d->pending++;
  uv_tcp_nodelay(d->tcp, 1);
  d->tcp->data = d;
  d->connect.data = d;
  int rc = uv_tcp_connect(&d->connect, d->tcp, res->ai_addr, on_connect);
  uv_freeaddrinfo(res);
  if (rc)
    server_failed(d, "cannot connect: %s", uv_strerror(rc));
  else
    d->pending++;
}

/* Split "host:port" (the last colon; "[::1]:9092" for IPv6) into d->host and d->port. */
static int parse_server(struct discovery *d, const char *s, size_t len) {
  const char *colon = NULL;
  for (size_t i = 0; i < len; i++)
    if (s[i] == ':') colon = s + i;
  if (!colon || colon == s || colon + 1 == s + len) return -1;
  size_t hl = (size_t)(colon - s), pl = len - hl - 1;
  if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
    s++;
    hl -= 2;
  }
  if (hl >= sizeof d->host || pl >= sizeof d->port) return -1;
  memcpy(d->host, s, hl);
  d->host[hl] = '\0';
  memcpy(d->port, colon + 1, pl);
  d->port[pl] = '\0';
  char *end;
  long port = strtol(d->port, &end, 10);
  return *end || port < 1 || port > 65535 ? -1 : 0;
}

static void try_next(struct discovery *d) {
  while (*d->next == ',' || *d->next == ' ') d->next++;
  if (!*d->next) {
    finish(d, MK_ERR__TRANSPORT);
    return;
  }
  size_t len = strcspn(d->next, ", ");
  const char *server = d->next;
  d->next += len;
  if (parse_server(d, server, len)) {
    size_t n = strlen(d->tried);
    snprintf(d->tried + n, sizeof d->tried - n, "%s\"%.*s\" is not host:port", n ? "; " : "",
             (int)len, server);
    try_next(d);
    return;
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  d->resolve.data = d;
  int rc = uv_getaddrinfo(&d->proxy->loop, &d->resolve, on_resolved, d->host, d->port, &hints);
  if (rc)
    server_failed(d, "cannot resolve: %s", uv_strerror(rc));
  else
    d->pending++;
}

static void on_timeout(uv_timer_t *t) {
  struct discovery *d = t->data;
  size_t n = strlen(d->tried);
  snprintf(d->tried + n, sizeof d->tried - n, "%s%s:%s: no answer", n ? "; " : "", d->host,
           d->port);
  drop_attempt(d);
  finish(d, MK_ERR__TIMED_OUT);
}

static void on_timer_closed(uv_handle_t *h) { ((struct discovery *)h->data)->pending--; }

int mk_proxy_discover(struct mk_proxy *p, struct mk_err *err) {
  struct discovery *d = calloc(1, sizeof *d);
  if (!d) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  d->proxy = p;
  d->next = p->bootstrap_servers;
  uv_timer_init(&p->loop, &d->timer);
  d->pending++;
  d->timer.data = d;
  uv_timer_start(&d->timer, on_timeout, (uint64_t)p->cfg.timeout_ms, 0);
  try_next(d);
  while (!d->done) uv_run(&p->loop, UV_RUN_ONCE);
  /* Close what is left, and let every callback that still points at d run before d goes
   * (a resolve in flight is cancelled, or finishes and sees d->done). */
  uv_cancel((uv_req_t *)&d->resolve);
  drop_attempt(d);
  uv_close((uv_handle_t *)&d->timer, on_timer_closed);
  while (d->pending > 0) uv_run(&p->loop, UV_RUN_ONCE);
  int rc = d->rc;
  if (rc)
    mk_err_set(err, rc, "cannot reach the cluster at %s (%s)", p->bootstrap_servers,
               d->tried[0] ? d->tried : "no server answered");
  free(d);
  return rc;
}
