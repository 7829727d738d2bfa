/*
 * Golden vectors: frames real clients sent (kcat, kafka-python, kafkajs, confluent-kafka)
 * and the answers librdkafka's mock cluster gave them, captured with tshark (see
 * tests/fixtures/README.md). Each must decode, re-encode to the same bytes, and show the
 * facts tshark's own Kafka dissector recorded in MANIFEST.tsv (correlation ids, producer
 * id, epoch, base sequence, codec, keys, values, CRC).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/compression.h"
#include "protocol/frame.h"
#include "protocol/messages/produce.h"
#include "protocol/record_batch.h"

static char dir[512];

static uint8_t *load(const char *name, size_t *len) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s", path);
  uint8_t *buf = malloc(1 << 20);
  *len = fread(buf, 1, 1 << 20, f);
  fclose(f);
  return buf;
}

/* The value of `key=` in a "; "-separated notes column, or NULL. */
static const char *note(const char *notes, const char *key, char *out, size_t outlen) {
  size_t klen = strlen(key);
  for (const char *p = notes; (p = strstr(p, key)); p += klen) {
    if ((p == notes || p[-1] == ' ') && p[klen] == '=') {
      const char *v = p + klen + 1;
      size_t n = strcspn(v, ";");
      if (n >= outlen) n = outlen - 1;
      memcpy(out, v, n);
      out[n] = '\0';
      return out;
    }
  }
  return NULL;
}

/* Check a Produce request's batches against the notes: ids, sequences, codec, records. */
static void check_produce(const struct mk_produce_request *req, const char *notes,
                          const char *file) {
  char v[256];
  int batches = 0;
  for (int t = 0; t < req->topic_data_count; t++) {
    for (int p = 0; p < req->topic_data[t].partition_data_count; p++) {
      struct mk_bytes recs = req->topic_data[t].partition_data[p].records;
      struct mk_record_batch b;
      struct mk_err err = {0};
      assert_true(recs.len > 0);
      if (mk_record_batch_parse(recs.ptr, (size_t)recs.len, &b, &err))
        fail_msg("%s: %s", file, err.msg);
      if (mk_record_batch_validate(&b, 1 << 20, &err)) fail_msg("%s: %s", file, err.msg);
      batches++;
      if (batches > 1) continue;  /* the notes describe the first batch */
      if (note(notes, "producer_id", v, sizeof v)) assert_true(b.producer_id == atoll(v));
      if (note(notes, "producer_epoch", v, sizeof v)) assert_int_equal(b.producer_epoch, atoi(v));
      if (note(notes, "base_sequence", v, sizeof v)) assert_int_equal(b.base_sequence, atoi(v));
      if (note(notes, "records", v, sizeof v)) assert_int_equal(b.records_count, atoi(v));
      if (note(notes, "crc", v, sizeof v)) assert_int_equal(b.crc, (uint32_t)strtoul(v, NULL, 16));
      if (note(notes, "compression", v, sizeof v))
        assert_string_equal(mk_compression_name(mk_record_batch_compression(&b)), v);
      /* keys=k1,k2,k3 and values=v1,v2,v3: read the records back (decompressing). */
      char keys[256] = "", values[256] = "";
      struct mk_record_reader rr;
      assert_int_equal(mk_record_reader_init(&rr, &b, 1 << 20, &err), 0);
      for (int i = 0; i < b.records_count; i++) {
        struct mk_record rec;
        if (mk_record_reader_next(&rr, &rec, &err)) fail_msg("%s: %s", file, err.msg);
        snprintf(keys + strlen(keys), sizeof keys - strlen(keys), "%s%.*s", i ? "," : "",
                 rec.key.len < 0 ? 4 : rec.key.len,
                 rec.key.len < 0 ? "null" : (const char *)rec.key.ptr);
        snprintf(values + strlen(values), sizeof values - strlen(values), "%s%.*s", i ? "," : "",
                 rec.value.len < 0 ? 0 : rec.value.len, (const char *)rec.value.ptr);
      }
      mk_record_reader_free(&rr);
      if (note(notes, "keys", v, sizeof v)) assert_string_equal(keys, v);
      if (note(notes, "values", v, sizeof v) && !strpbrk(v, "+{"))  /* not shorthand */
        assert_string_equal(values, v);
    }
  }
  assert_true(batches >= 1);
}

static void test_every_fixture_decodes_and_round_trips(void **state) {
  (void)state;
  char path[1024];
  snprintf(path, sizeof path, "%s/MANIFEST.tsv", dir);
  FILE *m = fopen(path, "r");
  if (!m) fail_msg("cannot open %s", path);
  char line[4096];
  int rows = 0, produce_requests = 0;
  fgets(line, sizeof line, m);  /* the column names */
  while (fgets(line, sizeof line, m)) {
    char *cols[7] = {0}, *save = NULL;
    char *tok = strtok_r(line, "\t\n", &save);
    for (int i = 0; i < 7 && tok; i++, tok = strtok_r(NULL, "\t\n", &save)) cols[i] = tok;
    if (!cols[5]) continue;
    const char *file = cols[0], *notes = cols[6] ? cols[6] : "";
    bool request = strcmp(cols[1], "request") == 0;
    int key = atoi(cols[3]), version = atoi(cols[5]);
    size_t len;
    uint8_t *buf = load(file, &len);
    assert_true(len >= 8);
    assert_int_equal(mk_load_u32(buf), len - 4);

    struct mk_arena a;
    mk_arena_init(&a);
    struct mk_err err = {0};
    struct mk_writer w;
    mk_writer_init(&w);
    char v[64];
    const struct mk_api *api = mk_api_find(key);
    assert_non_null(api);
    if (request) {
      struct mk_request req;
      if (mk_request_decode(buf + 4, len - 4, &req, &a, &err)) fail_msg("%s: %s", file, err.msg);
      assert_int_equal(req.header.api_key, key);
      assert_int_equal(req.header.api_version, version);
      assert_int_equal(req.trailing, 0);
      if (note(notes, "correlation_id", v, sizeof v))
        assert_int_equal(req.header.correlation_id, atoi(v));
      if (note(notes, "client_id", v, sizeof v)) assert_true(mk_str_eq(req.header.client_id, v));
      assert_int_equal(mk_request_encode(&w, &req.header, req.body, &err), 0);
      if (key == MK_API_PRODUCE) {
        check_produce(req.body, notes, file);
        produce_requests++;
      }
    } else {
      int32_t corr;
      void *body;
      if (mk_response_decode(buf + 4, len - 4, key, version, &corr, &body, &a, &err))
        fail_msg("%s: %s", file, err.msg);
      if (note(notes, "correlation_id", v, sizeof v)) assert_int_equal(corr, atoi(v));
      assert_int_equal(mk_response_encode(&w, key, version, corr, body, &err), 0);
    }
    /* Our encoder writes exactly the bytes the real client (or the mock) wrote. */
    if (w.len != len || memcmp(w.buf, buf, len) != 0)
      fail_msg("%s: re-encoding gives %zu bytes that differ from the %zu captured", file, w.len,
               len);
    mk_writer_free(&w);
    mk_arena_free(&a);
    free(buf);
    rows++;
  }
  fclose(m);
  assert_true(rows >= 40);
  assert_true(produce_requests >= 15);
}

int main(void) {
  const char *d = getenv("MK_FIXTURES");
  snprintf(dir, sizeof dir, "%s", d ? d : "tests/fixtures");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_fixture_decodes_and_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
