/*
 * Frames: request and response headers, and whole-message encode/decode on top of the
 * schema codec. See frame.h for the layouts.
 */
#include "protocol/frame.h"

#include <string.h>

int mk_request_header_version(int api_key, int api_version) {
  const struct mk_api *api = mk_api_find(api_key);
  return api && mk_api_is_flexible(api, api_version) ? 2 : 1;
}

int mk_response_header_version(int api_key, int api_version) {
  if (api_key == MK_API_API_VERSIONS) return 0;
  const struct mk_api *api = mk_api_find(api_key);
  return api && mk_api_is_flexible(api, api_version) ? 1 : 0;
}

void mk_skip_tagged_fields(struct mk_reader *r) {
  uint32_t n = mk_read_uvarint(r);
  for (uint32_t i = 0; i < n && !r->err; i++) {
    (void)mk_read_uvarint(r);
    mk_read_skip(r, mk_read_uvarint(r));
  }
}

static int header_error(struct mk_reader *r, const char *what, struct mk_err *err) {
  return mk_err_set(err, MK_ERR__DECODE, "%s at byte %zu: %s", what, r->err_pos,
                    mk_reader_strerror(r->err));
}

int mk_request_decode(const uint8_t *buf, size_t len, struct mk_request *req,
                      struct mk_arena *arena, struct mk_err *err) {
  struct mk_reader r;
  mk_reader_init(&r, buf, len);
  memset(req, 0, sizeof *req);
  struct mk_request_header *h = &req->header;
  h->api_key = mk_read_i16(&r);
  h->api_version = mk_read_i16(&r);
  h->correlation_id = mk_read_i32(&r);
  h->client_id = mk_read_string(&r, false);
  if (r.err) return header_error(&r, "request header", err);

  req->api = mk_api_find(h->api_key);
  if (!req->api)
    return mk_err_set(err, MK_ERR_UNSUPPORTED_VERSION, "unknown api key %d (version %d)",
                      h->api_key, h->api_version);
  if (!mk_api_supports(req->api, h->api_version))
    return mk_err_set(err, MK_ERR_UNSUPPORTED_VERSION,
                      "%s v%d is not supported (we speak v%d-%d)", req->api->name,
                      h->api_version, req->api->min_version, req->api->max_version);
  bool flexible = mk_api_is_flexible(req->api, h->api_version);
  if (flexible) mk_skip_tagged_fields(&r);
  if (r.err) return header_error(&r, "request header tagged fields", err);

  void *body = mk_arena_alloc(arena, req->api->request->size);
  if (!body) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  int rc = mk_schema_decode(req->api->request, h->api_version, flexible, &r, body, arena, err);
  if (rc) return rc;
  req->body = body;
  req->trailing = len - r.pos;
  return 0;
}

/* Reserve the size prefix, returning where it is, so it can be patched after the body. */
static size_t begin_frame(struct mk_writer *w) {
  size_t at = w->len;
  mk_write_i32(w, 0);
  return at;
}

static int end_frame(struct mk_writer *w, size_t at, int rc, struct mk_err *err) {
  if (!rc && w->failed) rc = mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  if (rc) {
    w->len = at;  /* leave no half-written frame behind */
    return rc;
  }
  mk_writer_patch_i32(w, at, (int32_t)(w->len - at - 4));
  return 0;
}

int mk_request_encode(struct mk_writer *w, const struct mk_request_header *h, const void *body,
                      struct mk_err *err) {
  const struct mk_api *api = mk_api_find(h->api_key);
  if (!mk_api_supports(api, h->api_version))
    return mk_err_set(err, MK_ERR_UNSUPPORTED_VERSION, "cannot encode api key %d v%d",
                      h->api_key, h->api_version);
  bool flexible = mk_api_is_flexible(api, h->api_version);
  size_t at = begin_frame(w);
  mk_write_i16(w, h->api_key);
  mk_write_i16(w, h->api_version);
  mk_write_i32(w, h->correlation_id);
  mk_write_string(w, h->client_id, false);
  if (flexible) mk_write_uvarint(w, 0);
  int rc = mk_schema_encode(api->request, h->api_version, flexible, body, w, err);
  return end_frame(w, at, rc, err);
}

int mk_response_encode(struct mk_writer *w, int api_key, int api_version, int32_t correlation_id,
                       const void *body, struct mk_err *err) {
  const struct mk_api *api = mk_api_find(api_key);
  if (!mk_api_supports(api, api_version))
    return mk_err_set(err, MK_ERR_UNSUPPORTED_VERSION, "cannot encode api key %d v%d", api_key,
                      api_version);
  size_t at = begin_frame(w);
  mk_write_i32(w, correlation_id);
  if (mk_response_header_version(api_key, api_version) == 1) mk_write_uvarint(w, 0);
  int rc = mk_schema_encode(api->response, api_version, mk_api_is_flexible(api, api_version),
                            body, w, err);
  return end_frame(w, at, rc, err);
}

int mk_response_peek_correlation_id(const uint8_t *buf, size_t len, int32_t *correlation_id) {
  if (len < 4) return MK_ERR__DECODE;
  *correlation_id = (int32_t)mk_load_u32(buf);
  return 0;
}

int mk_response_decode(const uint8_t *buf, size_t len, int api_key, int api_version,
                       int32_t *correlation_id, void **body, struct mk_arena *arena,
                       struct mk_err *err) {
  const struct mk_api *api = mk_api_find(api_key);
  if (!mk_api_supports(api, api_version))
    return mk_err_set(err, MK_ERR_UNSUPPORTED_VERSION, "cannot decode api key %d v%d", api_key,
                      api_version);
  struct mk_reader r;
  mk_reader_init(&r, buf, len);
  *correlation_id = mk_read_i32(&r);
  if (mk_response_header_version(api_key, api_version) == 1) mk_skip_tagged_fields(&r);
  if (r.err) return header_error(&r, "response header", err);
  void *out = mk_arena_alloc(arena, api->response->size);
  if (!out) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  int rc = mk_schema_decode(api->response, api_version, mk_api_is_flexible(api, api_version), &r,
                            out, arena, err);
  if (rc) return rc;
  *body = out;
  return 0;
}
