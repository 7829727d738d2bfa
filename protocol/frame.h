/*
 * Frames: one request or response on the TCP stream, header included.
 * Kafka: RequestHeader.json, ResponseHeader.json, ApiMessageTypeGenerator.java.
 *
 *   int32 size  |  header  |  body
 *
 * size counts the bytes after itself. The header comes in versions:
 *   request  v1  api_key int16, api_version int16, correlation_id int32,
 *                client_id nullable string (int16 length)
 *            v2  the same plus a tagged-field section; client_id keeps its
 *                int16 length so any broker can read any request's header
 *   response v0  correlation_id int32
 *            v1  the same plus a tagged-field section
 * A flexible body goes with request header v2 and response header v1, with
 * one exception: ApiVersions responses always use header v0, because the
 * client reads them before it knows which versions the broker speaks.
 *
 * The functions here take and give frame bodies *without* the size prefix
 * (the connection code reads the prefix to know how much to wait for), and
 * the encoders write the prefix themselves.
 *
 * Thread: any.
 */
#ifndef MK_PROTOCOL_FRAME_H
#define MK_PROTOCOL_FRAME_H

#include <stdint.h>

#include "protocol/api.h"
#include "protocol/arena.h"
#include "protocol/errors.h"
#include "protocol/primitives.h"

struct mk_request_header {
  int16_t api_key;
  int16_t api_version;
  int32_t correlation_id;
  struct mk_str client_id;  /* may be null */
};

/* 1 or 2 for a request; 0 or 1 for a response. */
int mk_request_header_version(int api_key, int api_version);
int mk_response_header_version(int api_key, int api_version);

/* A decoded request. body points to a struct of api->request->size bytes (for Produce a
 * struct mk_produce_request), allocated from the arena given to mk_request_decode. */
struct mk_request {
  struct mk_request_header header;
  const struct mk_api *api;  /* NULL if we do not know the api key */
  void *body;                /* NULL unless decoding succeeded */
  size_t trailing;           /* bytes left after the body (Kafka ignores them too) */
};

/* Decode a request frame body (no size prefix). On success returns 0 with req filled.
 * If the api key is unknown or the version unsupported, returns MK_ERR_UNSUPPORTED_VERSION
 * with req->header filled (so the caller can answer with the right correlation id); if the
 * bytes do not decode, MK_ERR__DECODE with err naming the field, and req->header filled if
 * the header itself decoded (check req->api). Borrows buf and arena: both must outlive req. */
int mk_request_decode(const uint8_t *buf, size_t len, struct mk_request *req,
                      struct mk_arena *arena, struct mk_err *err);

/* Append one whole request (size prefix, header, body) to w. body is the request struct
 * for h->api_key (e.g. a struct mk_metadata_request). Returns 0, MK_ERR_UNSUPPORTED_VERSION
 * for a version outside the API table, or an encode error. Borrows h and body. */
int mk_request_encode(struct mk_writer *w, const struct mk_request_header *h, const void *body,
                      struct mk_err *err);

/* Append one whole response (size prefix, header, body) to w. Borrows body. */
int mk_response_encode(struct mk_writer *w, int api_key, int api_version, int32_t correlation_id,
                       const void *body, struct mk_err *err);

/* Skip a tagged-field section we do not interpret (headers define no tag we use): what
 * follows a flexible header's fixed fields. Errors stick in r. */
void mk_skip_tagged_fields(struct mk_reader *r);

/* Read only the correlation id at the start of a response frame body (no size prefix):
 * how a client matches a response to its request before decoding it. Returns 0 or
 * MK_ERR__DECODE. */
int mk_response_peek_correlation_id(const uint8_t *buf, size_t len, int32_t *correlation_id);

/* Decode a response frame body (no size prefix) for a request of api_key at api_version.
 * *body receives a struct of api->response->size bytes from the arena. Borrows buf and arena. */
int mk_response_decode(const uint8_t *buf, size_t len, int api_key, int api_version,
                       int32_t *correlation_id, void **body, struct mk_arena *arena,
                       struct mk_err *err);

#endif
