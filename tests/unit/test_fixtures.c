/*
 * Golden vectors: frames real clients sent (kcat, kafka-python, kafkajs, confluent-kafka)
 * and the answers librdkafka's mock cluster gave them, captured with tshark (see
 * tests/fixtures/README.md). Each must decode, re-encode to the same bytes, and show the
 * facts tshark's own Kafka dissector recorded in MANIFEST.tsv (correlation ids, producer
 * id, epoch, base sequence, codec, keys, values, CRC). The consumer-group frames in
 * tests/fixtures/groups/ also carry what each client's scenario fixes: the topic it
 * subscribed to, the partition it was assigned, the offset it committed; the subscriptions
 * and assignments inside JoinGroup and SyncGroup are read with protocol/consumer_protocol.h.
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
#include "protocol/consumer_protocol.h"
#include "protocol/frame.h"
#include "protocol/messages/join_group.h"
#include "protocol/messages/offset_commit.h"
#include "protocol/messages/produce.h"
#include "protocol/messages/sync_group.h"
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

/* ---- consumer groups -------------------------------------------------------------------- */

/* The top-level field `name` of a decoded message, if the message has it at version. */
static const void *top_field(const struct mk_schema *s, const void *body, const char *name,
                             int type, int version) {
  for (int i = 0; i < s->nfields; i++)
    if (strcmp(s->fields[i].name, name) == 0 && s->fields[i].type == type &&
        mk_field_present(&s->fields[i], version))
      return (const char *)body + s->fields[i].offset;
  return NULL;
}

/* group_id, member_id and generation_id notes against the message's own fields. */
static void check_group_fields(const struct mk_schema *s, const void *body, int version,
                               const char *notes, const char *file) {
  char v[256];
  static const char *const strings[] = {"group_id", "member_id"};
  for (int i = 0; i < 2; i++) {
    if (!note(notes, strings[i], v, sizeof v)) continue;
    const struct mk_str *got = top_field(s, body, strings[i], MK_STRING, version);
    if (!got && i == 0) got = top_field(s, body, "key", MK_STRING, version);  /* FindCoordinator */
    if (!got) fail_msg("%s: no %s field", file, strings[i]);
    if (!mk_str_eq(*got, v))
      fail_msg("%s: %s is \"%.*s\", tshark says \"%s\"", file, strings[i],
               got->len < 0 ? 0 : got->len, got->ptr, v);
  }
  if (note(notes, "generation_id", v, sizeof v)) {
    const int32_t *got = top_field(s, body, "generation_id", MK_INT32, version);
    if (!got) got = top_field(s, body, "generation_id_or_member_epoch", MK_INT32, version);
    if (!got) fail_msg("%s: no generation field", file);
    assert_int_equal(*got, atoi(v));
  }
}

/* A subscription's topics, comma-separated, into out. */
static void subscription_topics(struct mk_bytes metadata, struct mk_arena *a, char *out,
                                size_t outlen, const char *file) {
  struct mk_consumer_protocol_subscription sub;
  int version;
  struct mk_err err = {0};
  if (mk_consumer_protocol_subscription_decode(metadata, &sub, &version, a, &err))
    fail_msg("%s: subscription: %s", file, err.msg);
  out[0] = '\0';
  for (int32_t i = 0; i < sub.topics_count; i++)
    snprintf(out + strlen(out), outlen - strlen(out), "%s%.*s", i ? "," : "",
             sub.topics[i].len, sub.topics[i].ptr);
}

/* An assignment as "topic:p,p;topic:p", into out. */
static void assignment_text(struct mk_bytes bytes, struct mk_arena *a, char *out, size_t outlen,
                            const char *file) {
  struct mk_consumer_protocol_assignment as;
  int version;
  struct mk_err err = {0};
  if (mk_consumer_protocol_assignment_decode(bytes, &as, &version, a, &err))
    fail_msg("%s: assignment: %s", file, err.msg);
  out[0] = '\0';
  for (int32_t i = 0; i < as.assigned_partitions_count; i++) {
    const struct mk_consumer_protocol_assignment_topic_partition *tp = &as.assigned_partitions[i];
    snprintf(out + strlen(out), outlen - strlen(out), "%s%.*s:", i ? ";" : "", tp->topic.len,
             tp->topic.ptr);
    for (int32_t j = 0; j < tp->partitions_count; j++)
      snprintf(out + strlen(out), outlen - strlen(out), "%s%d", j ? "," : "", tp->partitions[j]);
  }
}

/* What the scenario fixes (subscription_topics, assignment, committed) against the frame.
 * Returns how many embedded subscriptions and assignments it read. */
static int check_group_scenario(int key, bool request, const void *body, const char *notes,
                                struct mk_arena *a, const char *file) {
  char want[256], got[256];
  int read = 0;
  if (key == MK_API_JOIN_GROUP && note(notes, "subscription_topics", want, sizeof want)) {
    if (request) {
      const struct mk_join_group_request *r = body;
      assert_true(r->protocols_count >= 1);
      for (int32_t i = 0; i < r->protocols_count; i++, read++) {
        subscription_topics(r->protocols[i].metadata, a, got, sizeof got, file);
        assert_string_equal(got, want);
      }
    } else {  /* the leader gets every member's subscription */
      const struct mk_join_group_response *r = body;
      assert_true(r->members_count >= 1);
      for (int32_t i = 0; i < r->members_count; i++, read++) {
        subscription_topics(r->members[i].metadata, a, got, sizeof got, file);
        assert_string_equal(got, want);
      }
    }
  }
  if (key == MK_API_SYNC_GROUP && note(notes, "assignment", want, sizeof want)) {
    if (request) {  /* the leader's assignments, one per member */
      const struct mk_sync_group_request *r = body;
      assert_true(r->assignments_count >= 1);
      for (int32_t i = 0; i < r->assignments_count; i++, read++) {
        assignment_text(r->assignments[i].assignment, a, got, sizeof got, file);
        assert_string_equal(got, want);
      }
    } else {
      assignment_text(((const struct mk_sync_group_response *)body)->assignment, a, got,
                      sizeof got, file);
      assert_string_equal(got, want);
      read++;
    }
  }
  if (key == MK_API_OFFSET_COMMIT && request && note(notes, "committed", want, sizeof want)) {
    const struct mk_offset_commit_request *r = body;
    assert_int_equal(r->topics_count, 1);
    assert_int_equal(r->topics[0].partitions_count, 1);
    const struct mk_offset_commit_request_partition *p = &r->topics[0].partitions[0];
    snprintf(got, sizeof got, "%.*s:%d@%lld", r->topics[0].name.len, r->topics[0].name.ptr,
             p->partition_index, (long long)p->committed_offset);
    assert_string_equal(got, want);
  }
  return read;
}

/* ---- the walk over a MANIFEST.tsv -------------------------------------------------------- */

struct walk_counts {
  int rows, produce_requests, group_rows, embedded;
};

/* Every row of sub/MANIFEST.tsv ("" is the top folder): decode, check the notes, re-encode
 * to the captured bytes. */
static void walk_manifest(const char *sub, struct walk_counts *n) {
  char path[1024];
  snprintf(path, sizeof path, "%s%s%s/MANIFEST.tsv", dir, *sub ? "/" : "", sub);
  FILE *m = fopen(path, "r");
  if (!m) fail_msg("cannot open %s", path);
  char line[4096];
  fgets(line, sizeof line, m);  /* the column names */
  while (fgets(line, sizeof line, m)) {
    char *cols[7] = {0}, *save = NULL;
    char *tok = strtok_r(line, "\t\n", &save);
    for (int i = 0; i < 7 && tok; i++, tok = strtok_r(NULL, "\t\n", &save)) cols[i] = tok;
    if (!cols[5]) continue;
    char file[512];
    snprintf(file, sizeof file, "%s%s%s", sub, *sub ? "/" : "", cols[0]);
    const char *notes = cols[6] ? cols[6] : "";
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
    const void *decoded;
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
        n->produce_requests++;
      }
      decoded = req.body;
    } else {
      int32_t corr;
      void *body;
      if (mk_response_decode(buf + 4, len - 4, key, version, &corr, &body, &a, &err))
        fail_msg("%s: %s", file, err.msg);
      if (note(notes, "correlation_id", v, sizeof v)) assert_int_equal(corr, atoi(v));
      assert_int_equal(mk_response_encode(&w, key, version, corr, body, &err), 0);
      decoded = body;
    }
    check_group_fields(request ? api->request : api->response, decoded, version, notes, file);
    int embedded = check_group_scenario(key, request, decoded, notes, &a, file);
    n->embedded += embedded;
    if (note(notes, "group_id", v, sizeof v) || embedded) n->group_rows++;
    /* Our encoder writes exactly the bytes the real client (or the mock) wrote. */
    if (w.len != len || memcmp(w.buf, buf, len) != 0)
      fail_msg("%s: re-encoding gives %zu bytes that differ from the %zu captured", file, w.len,
               len);
    mk_writer_free(&w);
    mk_arena_free(&a);
    free(buf);
    n->rows++;
  }
  fclose(m);
}

static void test_every_fixture_decodes_and_round_trips(void **state) {
  (void)state;
  struct walk_counts n = {0};
  walk_manifest("", &n);
  assert_true(n.rows >= 40);
  assert_true(n.produce_requests >= 15);
}

/* kcat and confluent-kafka (librdkafka 2.0.2) and kafka-python 2.0.2 in a consumer group:
 * FindCoordinator, JoinGroup, SyncGroup, Heartbeat, OffsetFetch, OffsetCommit, LeaveGroup,
 * in the versions each negotiated with the mock (JoinGroup v2 and v5, OffsetCommit v2 and
 * v7, OffsetFetch v1 and v5, ...). */
static void test_group_fixtures_decode_and_round_trip(void **state) {
  (void)state;
  struct walk_counts n = {0};
  walk_manifest("groups", &n);
  assert_true(n.rows >= 36);
  assert_true(n.group_rows >= 20);
  /* Every JoinGroup's subscriptions and SyncGroup's assignments were read (3 clients, two
   * protocols from kafka-python). */
  assert_true(n.embedded >= 13);
}

int main(void) {
  const char *d = getenv("MK_FIXTURES");
  snprintf(dir, sizeof dir, "%s", d ? d : "tests/fixtures");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_fixture_decodes_and_round_trips),
      cmocka_unit_test(test_group_fixtures_decode_and_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
