/*
 * A raw Kafka client for tests: one blocking TCP connection that sends request structs and
 * reads response structs, with a timeout on every wait. It does nothing a real client would
 * do for you (no retries, no metadata, no version negotiation) — that is the point: tests
 * use it to send exactly the bytes a scenario needs, including wrong ones.
 */
#ifndef MK_TESTS_RAW_CLIENT_H
#define MK_TESTS_RAW_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/errors.h"
#include "protocol/primitives.h"

struct raw_client {
  int fd;
  int32_t next_correlation_id;
  struct mk_arena arena;  /* decoded responses live here until raw_client_close */
  int32_t produce_throttle_time_ms;  /* the last raw_client_produce response's */
  uint8_t *frames[64];    /* response frames kept alive for the decoded structs */
  int nframes;
};

/* Connect to 127.0.0.1:port. Returns 0 or -1. */
int raw_client_connect(struct raw_client *c, int port);
void raw_client_close(struct raw_client *c);
/* Free every response decoded so far (a connection keeps at most 64): for tests that make
 * many calls. Pointers into earlier responses are then invalid. */
void raw_client_forget(struct raw_client *c);

/* Send a request (body: the request struct for api_key) and wait up to timeout_ms for its
 * response, decoded into *response (from c->arena). Returns 0, or an error code (the
 * connection closed or the wait timed out: MK_ERR__TRANSPORT / MK_ERR__TIMED_OUT). */
int raw_client_call(struct raw_client *c, int api_key, int version, const void *body,
                    void **response, int timeout_ms);

/* Read and decode the next response on the connection (for a request sent earlier with
 * raw_client_send), waiting up to timeout_ms. Returns as raw_client_call. */
int raw_client_receive(struct raw_client *c, int api_key, int version, void **response,
                       int timeout_ms);

/* Send a request without waiting (acks=0, or pipelining). Returns 0 or -1. */
int raw_client_send(struct raw_client *c, int api_key, int version, const void *body);

/* Send raw bytes as they are. Returns 0 or -1. */
int raw_client_send_bytes(struct raw_client *c, const void *buf, size_t len);

/* Whether the peer closed the connection within timeout_ms (reads and discards data). */
int raw_client_closed_by_peer(struct raw_client *c, int timeout_ms);

/* Produce one batch (batch->buf, batch->len) to topic/partition with acks, at version, and
 * wait for the answer. Returns that partition's response (struct
 * mk_produce_partition_produce_response *, from c->arena), or NULL if no answer came
 * (connection closed or timed out). */
struct mk_produce_partition_produce_response;
struct mk_produce_partition_produce_response *raw_client_produce(struct raw_client *c,
                                                                 const char *topic,
                                                                 int32_t partition, int16_t acks,
                                                                 const struct mk_writer *batch,
                                                                 int version, int timeout_ms);

/* ListOffsets v7 for topic/partition at timestamp (-1 latest, -2 earliest). Returns the
 * offset, or INT64_MIN if the call failed or the partition answered an error. */
int64_t raw_client_list_offset(struct raw_client *c, const char *topic, int32_t partition,
                               int64_t timestamp);

/* One record batch holding `count` records "v0".."vN" (keys "k0".. when keyed), for
 * producer_id/epoch/base_sequence (-1 = not idempotent). Appends to out. */
void raw_client_build_batch(struct mk_writer *out, int count, int64_t producer_id,
                            int16_t producer_epoch, int32_t base_sequence);

#endif
