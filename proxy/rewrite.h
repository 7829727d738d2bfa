/*
 * Rewrite: the answers that tell a client where brokers are, given the proxy's addresses
 * instead of the cluster's. Kafka: MetadataResponse, FindCoordinatorResponse,
 * DescribeClusterResponse, and the leader hints of KIP-951 (ProduceResponse v10+,
 * FetchResponse v16+ carry node_endpoints when a partition's leader moved).
 *
 * A client learns every broker from such answers and then connects to it directly. If one
 * real address slipped through, the client would go round the proxy, and faults would miss
 * what it sends there. So every address in these answers becomes the proxy's listener for
 * that broker (map->listener), and nothing else changes:
 *
 *   upstream answer --mk_response_decode--> struct --host/port replaced--> mk_response_encode
 *
 * It is the one codec (protocol/schema.h) both ways. Two things do not survive the round
 * trip, by design: tagged fields the codec does not know (none carries an address), and the
 * response header's tagged fields (Kafka defines none). A version the codec does not read
 * is an error here (MK_ERR_UNSUPPORTED_VERSION), never a frame forwarded with real
 * addresses in it: the caller says so and drops the connection.
 *
 * Pure functions of their input: no I/O, nothing kept (tests/fuzz/fuzz_proxy_rewrite.c).
 * Thread: any.
 */
#ifndef MK_PROXY_REWRITE_H
#define MK_PROXY_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/errors.h"
#include "protocol/primitives.h"

/* Where clients should reach broker node_id, whose own address is host:port. */
struct mk_rewrite_map {
  /* Set *out_host (valid until the encoding is done) and *out_port to the proxy's
   * listener for the broker. Returns 0, or an error with err saying why there is none
   * (the proxy cannot listen for one more broker). */
  int (*listener)(void *ctx, int32_t node_id, struct mk_str host, int32_t port,
                  struct mk_str *out_host, int32_t *out_port, struct mk_err *err);
  void *ctx;
};

/* Whether answers of api_key at api_version may name brokers (and so must be read). */
bool mk_rewrite_needed(int api_key, int api_version);

/* Rewrite one response frame body (after the size prefix) to a request of api_key at
 * api_version. Returns 0 with:
 *   *changed  true: out holds the whole new frame (size prefix included);
 *             false: the answer names no broker (a Produce answer without leader hints),
 *             forward the original bytes;
 *   *body     the decoded response (the struct for the API, as rewritten), in arena;
 * or MK_ERR_UNSUPPORTED_VERSION (a version the codec does not read), MK_ERR__DECODE (the
 * bytes are not that answer), or map's error; err names the API, version and problem.
 * Borrows buf (decoded strings point into it) and arena, which must outlive *body. */
int mk_rewrite_response(int api_key, int api_version, const uint8_t *buf, size_t len,
                        const struct mk_rewrite_map *map, struct mk_arena *arena, void **body,
                        bool *changed, struct mk_writer *out, struct mk_err *err);

#endif
