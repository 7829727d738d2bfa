/*
 * Tests for protocol/frame.c: size prefixes, header versions, and whole-frame decoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/frame.h"
#include "protocol/messages/api_versions.h"
#include "protocol/messages/init_producer_id.h"
#include "protocol/messages/metadata.h"

static void test_header_versions_follow_flexibility(void **state) {
  (void)state;
  assert_int_equal(mk_request_header_version(MK_API_PRODUCE, 8), 1);
  assert_int_equal(mk_request_header_version(MK_API_PRODUCE, 9), 2);
  assert_int_equal(mk_response_header_version(MK_API_METADATA, 8), 0);
  assert_int_equal(mk_response_header_version(MK_API_METADATA, 9), 1);
  /* ApiVersions responses use header v0 even in flexible versions. */
  assert_int_equal(mk_request_header_version(MK_API_API_VERSIONS, 3), 2);
  assert_int_equal(mk_response_header_version(MK_API_API_VERSIONS, 3), 0);
}

/* An ApiVersions v3 request as librdkafka sends it, byte by byte:
 * size, api_key 18, version 3, correlation id 1, client_id "rdkafka" (int16 length even in
 * header v2), header tags 0, client_software_name "librdkafka" and version "2.0.2" (compact),
 * body tags 0. */
static const uint8_t api_versions_v3[] = {
    0, 0, 0, 0x24, 0, 18, 0, 3, 0, 0, 0, 1, 0, 7, 'r', 'd', 'k', 'a', 'f', 'k', 'a', 0,
    11, 'l', 'i', 'b', 'r', 'd', 'k', 'a', 'f', 'k', 'a', 6, '2', '.', '0', '.', '2', 0};

static void test_decode_api_versions_v3_request(void **state) {
  (void)state;
  assert_int_equal(mk_load_u32(api_versions_v3), sizeof api_versions_v3 - 4);
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_request req;
  struct mk_err err = {0};
  int rc = mk_request_decode(api_versions_v3 + 4, sizeof api_versions_v3 - 4, &req, &a, &err);
  assert_int_equal(rc, 0);
  assert_int_equal(req.header.api_key, MK_API_API_VERSIONS);
  assert_int_equal(req.header.api_version, 3);
  assert_int_equal(req.header.correlation_id, 1);
  assert_true(mk_str_eq(req.header.client_id, "rdkafka"));
  const struct mk_api_versions_request *body = req.body;
  assert_true(mk_str_eq(body->client_software_name, "librdkafka"));
  assert_true(mk_str_eq(body->client_software_version, "2.0.2"));
  assert_int_equal(req.trailing, 0);

  /* And encoding the decoded request gives back the same bytes. */
  struct mk_writer w;
  mk_writer_init(&w);
  assert_int_equal(mk_request_encode(&w, &req.header, req.body, &err), 0);
  assert_int_equal(w.len, sizeof api_versions_v3);
  assert_memory_equal(w.buf, api_versions_v3, w.len);
  mk_writer_free(&w);
  mk_arena_free(&a);
}

static void test_unknown_api_and_version_keep_the_header(void **state) {
  (void)state;
  /* api key 999, version 0, correlation id 42, null client id. */
  const uint8_t unknown[] = {0x03, 0xe7, 0, 0, 0, 0, 0, 42, 0xff, 0xff};
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_request req;
  struct mk_err err = {0};
  assert_int_equal(mk_request_decode(unknown, sizeof unknown, &req, &a, &err),
                   MK_ERR_UNSUPPORTED_VERSION);
  assert_int_equal(req.header.correlation_id, 42);
  assert_null(req.api);
  assert_non_null(strstr(err.msg, "999"));

  /* ApiVersions v99: a known API at a version we do not speak. */
  const uint8_t future[] = {0, 18, 0, 99, 0, 0, 0, 7, 0, 0, 0x01, 0x02, 0x03};
  assert_int_equal(mk_request_decode(future, sizeof future, &req, &a, &err),
                   MK_ERR_UNSUPPORTED_VERSION);
  assert_int_equal(req.header.correlation_id, 7);
  assert_non_null(req.api);
  assert_non_null(strstr(err.msg, "ApiVersions v99"));
  mk_arena_free(&a);
}

static void test_truncated_header_is_a_decode_error(void **state) {
  (void)state;
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_request req;
  struct mk_err err = {0};
  for (size_t cut = 0; cut < 12; cut++) {
    int rc = mk_request_decode(api_versions_v3 + 4, cut, &req, &a, &err);
    assert_int_equal(rc, MK_ERR__DECODE);
  }
  mk_arena_free(&a);
}

static void test_response_round_trip_with_header_v1(void **state) {
  (void)state;
  struct mk_init_producer_id_response resp;
  mk_schema_set_defaults(&mk_init_producer_id_response_schema, &resp);
  resp.producer_id = 4000;
  resp.producer_epoch = 3;
  struct mk_writer w;
  mk_writer_init(&w);
  struct mk_err err = {0};
  assert_int_equal(mk_response_encode(&w, MK_API_INIT_PRODUCER_ID, 4, 77, &resp, &err), 0);
  /* size, correlation id, header tags (v1 header since v4 is flexible), then the body. */
  assert_int_equal(mk_load_u32(w.buf), w.len - 4);
  assert_int_equal(mk_load_u32(w.buf + 4), 77);
  assert_int_equal(w.buf[8], 0);

  int32_t corr = 0;
  assert_int_equal(mk_response_peek_correlation_id(w.buf + 4, w.len - 4, &corr), 0);
  assert_int_equal(corr, 77);
  struct mk_arena a;
  mk_arena_init(&a);
  void *body = NULL;
  assert_int_equal(mk_response_decode(w.buf + 4, w.len - 4, MK_API_INIT_PRODUCER_ID, 4, &corr,
                                      &body, &a, &err), 0);
  const struct mk_init_producer_id_response *back = body;
  assert_true(back->producer_id == 4000);
  assert_int_equal(back->producer_epoch, 3);
  mk_writer_free(&w);
  mk_arena_free(&a);
}

static void test_failed_encode_leaves_no_partial_frame(void **state) {
  (void)state;
  struct mk_writer w;
  mk_writer_init(&w);
  mk_write_i8(&w, 0x55);  /* something already queued on the connection */
  struct mk_metadata_request req;
  mk_schema_set_defaults(&mk_metadata_request_schema, &req);
  req.topics_count = -1;  /* null: "all topics", not allowed before v1 */
  struct mk_request_header h = {MK_API_METADATA, 0, 1, MK_STR_NULL};
  struct mk_err err = {0};
  assert_int_equal(mk_request_encode(&w, &h, &req, &err), MK_ERR__INVALID_ARG);
  assert_int_equal(w.len, 1);
  assert_non_null(strstr(err.msg, "topics"));
  mk_writer_free(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_header_versions_follow_flexibility),
      cmocka_unit_test(test_decode_api_versions_v3_request),
      cmocka_unit_test(test_unknown_api_and_version_keep_the_header),
      cmocka_unit_test(test_truncated_header_is_a_decode_error),
      cmocka_unit_test(test_response_round_trip_with_header_v1),
      cmocka_unit_test(test_failed_encode_leaves_no_partial_frame),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
