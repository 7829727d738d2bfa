/*
 * A raw Kafka client for tests: see raw_client.h.
 */
#include "tests/support/raw_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol/frame.h"
#include "protocol/messages/list_offsets.h"
#include "protocol/messages/produce.h"
#include "protocol/record_batch.h"

int raw_client_connect(struct raw_client *c, int port) {
  memset(c, 0, sizeof *c);
  c->next_correlation_id = 1;
  mk_arena_init(&c->arena);
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (c->fd < 0) return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return connect(c->fd, (struct sockaddr *)&a, sizeof a);
}

void raw_client_close(struct raw_client *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  for (int i = 0; i < c->nframes; i++) free(c->frames[i]);
  c->nframes = 0;
  mk_arena_free(&c->arena);
}

void raw_client_forget(struct raw_client *c) {
  for (int i = 0; i < c->nframes; i++) free(c->frames[i]);
  c->nframes = 0;
  mk_arena_free(&c->arena);
  mk_arena_init(&c->arena);
}

int raw_client_send_bytes(struct raw_client *c, const void *buf, size_t len) {
  const uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int raw_client_send(struct raw_client *c, int api_key, int version, const void *body) {
  struct mk_writer w;
  mk_writer_init(&w);
  struct mk_request_header h = {(int16_t)api_key, (int16_t)version, c->next_correlation_id++,
                                mk_str_of("raw-test")};
  struct mk_err err = {0};
  int rc = mk_request_encode(&w, &h, body, &err);
  if (rc) fprintf(stderr, "raw_client: encode: %s\n", err.msg);
  if (!rc) rc = raw_client_send_bytes(c, w.buf, w.len);
  mk_writer_free(&w);
  return rc;
}

/* Read exactly n bytes, waiting at most timeout_ms in total. */
static int read_exact(struct raw_client *c, uint8_t *buf, size_t n, int timeout_ms) {
  while (n > 0) {
    struct pollfd p = {c->fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r == 0) return MK_ERR__TIMED_OUT;
    if (r < 0) return MK_ERR__TRANSPORT;
    ssize_t got = recv(c->fd, buf, n, 0);
    if (got <= 0) return MK_ERR__TRANSPORT;
    buf += got;
    n -= (size_t)got;
  }
  return 0;
}

int raw_client_call(struct raw_client *c, int api_key, int version, const void *body,
                    void **response, int timeout_ms) {
  if (raw_client_send(c, api_key, version, body)) return MK_ERR__TRANSPORT;
  return raw_client_receive(c, api_key, version, response, timeout_ms);
}

int raw_client_receive(struct raw_client *c, int api_key, int version, void **response,
                       int timeout_ms) {
  uint8_t size_buf[4];
  int rc = read_exact(c, size_buf, 4, timeout_ms);
  if (rc) return rc;
  size_t size = mk_load_u32(size_buf);
  if (size > (64u << 20) || c->nframes == 64) return MK_ERR__DECODE;
  uint8_t *frame = malloc(size);
  if (!frame) return MK_ERR__NO_MEMORY;
  c->frames[c->nframes++] = frame;
  if ((rc = read_exact(c, frame, size, timeout_ms))) return rc;
  int32_t got_corr;
  struct mk_err err = {0};
  rc = mk_response_decode(frame, size, api_key, version, &got_corr, response, &c->arena, &err);
  if (rc) {
    fprintf(stderr, "raw_client: decode: %s\n", err.msg);
    return rc;
  }
  (void)got_corr;  /* responses come back in request order; callers check ids if they care */
  return 0;
}

int raw_client_closed_by_peer(struct raw_client *c, int timeout_ms) {
  uint8_t buf[4096];
  for (;;) {
    struct pollfd p = {c->fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0) return 0;
    ssize_t n = recv(c->fd, buf, sizeof buf, 0);
    if (n <= 0) return 1;
  }
}

void raw_client_build_batch(struct mk_writer *out, int count, int64_t producer_id,
                            int16_t producer_epoch, int32_t base_sequence) {
  struct mk_record_batch_builder bb;
  mk_record_batch_builder_init(&bb);
  bb.producer_id = producer_id;
  bb.producer_epoch = producer_epoch;
  bb.base_sequence = base_sequence;
  for (int i = 0; i < count; i++) {
    char k[16], v[16];
    snprintf(k, sizeof k, "k%d", i);
    snprintf(v, sizeof v, "v%d", i);
    mk_record_batch_builder_append(&bb, 1700000000000 + i,
                                   (struct mk_bytes){(const uint8_t *)k, (int32_t)strlen(k)},
                                   (struct mk_bytes){(const uint8_t *)v, (int32_t)strlen(v)},
                                   NULL, 0);
  }
  struct mk_err err = {0};
  mk_record_batch_builder_finish(&bb, out, &err);
  mk_record_batch_builder_free(&bb);
}

struct mk_produce_partition_produce_response *raw_client_produce(struct raw_client *c,
                                                                 const char *topic,
                                                                 int32_t partition, int16_t acks,
                                                                 const struct mk_writer *batch,
                                                                 int version, int timeout_ms) {
  struct mk_produce_partition_produce_data part = {partition, {batch->buf, (int32_t)batch->len}};
  struct mk_produce_topic_produce_data td = {mk_str_of(topic), &part, 1};
  struct mk_produce_request req;
  mk_schema_set_defaults(&mk_produce_request_schema, &req);
  req.acks = acks;
  req.timeout_ms = timeout_ms;
  req.topic_data = &td;
  req.topic_data_count = 1;
  void *resp = NULL;
  if (raw_client_call(c, MK_API_PRODUCE, version, &req, &resp, timeout_ms + 2000)) return NULL;
  struct mk_produce_response *r = resp;
  c->produce_throttle_time_ms = r->throttle_time_ms;
  if (r->responses_count != 1 || r->responses[0].partition_responses_count != 1) return NULL;
  return &r->responses[0].partition_responses[0];
}

int64_t raw_client_list_offset(struct raw_client *c, const char *topic, int32_t partition,
                               int64_t timestamp) {
  struct mk_list_offsets_partition part;
  mk_schema_set_defaults(&mk_list_offsets_partition_schema, &part);
  part.partition_index = partition;
  part.timestamp = timestamp;
  struct mk_list_offsets_topic t = {mk_str_of(topic), &part, 1};
  struct mk_list_offsets_request req;
  mk_schema_set_defaults(&mk_list_offsets_request_schema, &req);
  req.topics = &t;
  req.topics_count = 1;
  void *resp;
  if (raw_client_call(c, MK_API_LIST_OFFSETS, 7, &req, &resp, 5000)) return INT64_MIN;
  struct mk_list_offsets_response *r = resp;
  if (r->topics_count != 1 || r->topics[0].partitions_count != 1 ||
      r->topics[0].partitions[0].error_code)
    return INT64_MIN;
  return r->topics[0].partitions[0].offset;
}
