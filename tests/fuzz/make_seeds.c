/*
 * make_seeds: writes the seed corpus for the fuzz targets in this folder.
 * Run: ninja -C build-fuzz fuzz-seeds   (or: make_seeds CORPUS_DIR [FIXTURES_DIR])
 *
 * A fuzzer mutates what it is given, so seeds that already decode let it spend its time
 * inside the message bodies instead of rediscovering the header. Seeds written here:
 *
 *   corpus/request/
 *     req-<Api>-v<N>          every field present at v<N> set to a non-default value
 *                             (strings hold the field's name, arrays one element,
 *                             records a real batch), for the API's lowest version, the
 *                             last non-flexible one, the first flexible one and the
 *                             highest; request frame body, no size prefix
 *     req-<Api>-v<N>-defaults every field at its default (null and empty arrays)
 *     req-<what>              a few requests filled by hand the way clients send them
 *     resp-<Api>-v<N>         a filled response, in fuzz_request's response layout:
 *                             api key (1 byte), version (2 bytes), response frame body
 *     fixture-<name>          frames captured from real clients (tests/fixtures and its
 *                             groups/, listed in their MANIFEST.tsv): requests with the
 *                             size prefix stripped, responses in the layout above
 *   corpus/group_data/         (fuzz_group_data's layout: a selector byte, then ...)
 *     record-<Type>-k<K>-v<V>  a coordinator record, every field set, for each key and value
 *                             version; record-<Type>-tombstone: its key, a null value
 *     subscription-v<N>, assignment-v<N>   the consumer protocol at each version
 *     fixture-group-<name>-subscription-<i>, -assignment-<i>   the ones real clients sent,
 *                             from the captured JoinGroup and SyncGroup requests
 *   corpus/record_batch/
 *     batch-<codec>           three records (null key, headers) under each codec
 *     batch-idempotent, batch-transactional, control-commit, control-abort,
 *     batch-many-lz4, batches-mixed (several batches back to back),
 *     batch-doc-example       the worked example of RECORD-BATCH.md section 10
 *     batch-snappy-raw-block  snappy as one raw block instead of the xerial framing
 *     raw-<codec>             a bare compressed stream, for mk_decompress on its own
 *                             (raw-snappy is xerial-framed, raw-snappy-block is not)
 *     raw-<codec>-bomb, batch-zstd-bomb   2 MiB of zeros, over the 1 MiB limit
 *     raw-lz4-linked-blocks   an lz4 frame Kafka refuses; raw-snappy-4k: 4 KiB of text
 *     fixture-<name>-<n>      the record batches inside the captured Produce requests
 *
 * Files are overwritten, never deleted; delete a folder first to drop stale seeds.
 * Memory: messages are built in one arena, freed at exit; it is a one-shot tool.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lz4frame.h>
#include <snappy-c.h>

#include "protocol/api.h"
#include "protocol/arena.h"
#include "protocol/compression.h"
#include "protocol/consumer_protocol.h"
#include "protocol/coordinator_records.h"
#include "protocol/frame.h"
#include "protocol/messages/api_versions.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/init_producer_id.h"
#include "protocol/messages/join_group.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/produce.h"
#include "protocol/messages/sync_group.h"
#include "protocol/record_batch.h"

static const char *corpus_dir;
static struct mk_arena arena;
static int files_written;

static void fail(const char *what, const struct mk_err *err) {
  fprintf(stderr, "make_seeds: %s%s%s\n", what, err ? ": " : "", err ? err->msg : "");
  exit(1);
}

static void write_seed(const char *sub, const char *name, const void *buf, size_t len) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s/%s", corpus_dir, sub, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
    fprintf(stderr, "make_seeds: cannot write %s: %s\n", path, strerror(errno));
    exit(1);
  }
  files_written++;
}

/* ---- record batches ------------------------------------------------------------------ */

static struct mk_bytes bytes_of(const char *s) {
  return s ? (struct mk_bytes){(const uint8_t *)s, (int32_t)strlen(s)} : MK_BYTES_NULL;
}

/* Three records: a plain one, a null key with two headers (one with a null value), and a
 * null value (a tombstone). Appended to out, compressed with `codec`. */
static void three_record_batch(struct mk_writer *out, int codec, int64_t producer_id,
                               int16_t epoch, int32_t sequence, int16_t attributes) {
  struct mk_record_batch_builder bb;
  mk_record_batch_builder_init(&bb);
  bb.compression = codec;
  bb.attributes = attributes;
  bb.producer_id = producer_id;
  bb.producer_epoch = epoch;
  bb.base_sequence = sequence;
  struct mk_record_header headers[2] = {
      {bytes_of("trace-id"), bytes_of("4bf92f35")},
      {bytes_of("empty"), MK_BYTES_NULL},
  };
  const int64_t t = 1700000000000;
  if (mk_record_batch_builder_append(&bb, t, bytes_of("k1"), bytes_of("v1"), NULL, 0) ||
      mk_record_batch_builder_append(&bb, t + 5, MK_BYTES_NULL, bytes_of("hello"), headers, 2) ||
      mk_record_batch_builder_append(&bb, t + 7, bytes_of("k1"), MK_BYTES_NULL, NULL, 0))
    fail("builder append failed", NULL);
  struct mk_err err = {0};
  if (mk_record_batch_builder_finish(&bb, out, &err)) fail("builder finish failed", &err);
  mk_record_batch_builder_free(&bb);
}

static void write_writer(const char *sub, const char *name, struct mk_writer *w) {
  write_seed(sub, name, w->buf, w->len);
  mk_writer_free(w);
}

/* RECORD-BATCH.md section 10, byte for byte. */
static const uint8_t doc_example[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x4C, 0xFF, 0xFF, 0xFF,
    0xFF, 0x02, 0x32, 0xDE, 0xAE, 0x19, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01,
    0x8B, 0xCF, 0xE5, 0x68, 0x00, 0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE5, 0x68, 0x05, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00,
    0x02, 0x14, 0x00, 0x00, 0x00, 0x04, 0x6B, 0x31, 0x04, 0x76, 0x31, 0x00, 0x1E, 0x00, 0x0A,
    0x02, 0x01, 0x0A, 0x68, 0x65, 0x6C, 0x6C, 0x6F, 0x02, 0x02, 0x68, 0x02, 0x78,
};

static void record_batch_seeds(void) {
  const char *sub = "record_batch";
  struct mk_writer w;
  struct mk_err err = {0};
  char name[64];

  for (int codec = MK_COMPRESSION_NONE; codec <= MK_COMPRESSION_ZSTD; codec++) {
    mk_writer_init(&w);
    three_record_batch(&w, codec, MK_NO_PRODUCER_ID, MK_NO_PRODUCER_EPOCH, MK_NO_SEQUENCE, 0);
    snprintf(name, sizeof name, "batch-%s", mk_compression_name(codec));
    write_writer(sub, name, &w);
  }

  mk_writer_init(&w);
  three_record_batch(&w, MK_COMPRESSION_NONE, 1000, 2, 5, 0);
  write_writer(sub, "batch-idempotent", &w);

  mk_writer_init(&w);
  three_record_batch(&w, MK_COMPRESSION_GZIP, 1000, 2, 8, MK_ATTR_TRANSACTIONAL);
  write_writer(sub, "batch-transactional", &w);

  mk_writer_init(&w);
  if (mk_record_batch_write_control(&w, 1000, 2, MK_CONTROL_COMMIT, 7, 1700000000100, &err))
    fail("control batch", &err);
  write_writer(sub, "control-commit", &w);
  mk_writer_init(&w);
  if (mk_record_batch_write_control(&w, 1000, 2, MK_CONTROL_ABORT, 7, 1700000000100, &err))
    fail("control batch", &err);
  write_writer(sub, "control-abort", &w);

  /* Fifty records with growing keys and values: lz4 finds repeats, and the reader walks
   * a long records section. */
  struct mk_record_batch_builder bb;
  mk_record_batch_builder_init(&bb);
  bb.compression = MK_COMPRESSION_LZ4;
  char key[32], value[64];
  for (int i = 0; i < 50; i++) {
    snprintf(key, sizeof key, "key-%d", i);
    snprintf(value, sizeof value, "value-%d-%.*s", i, i % 40,
             "abcdefghijklmnopqrstuvwxyz0123456789ABCD");
    if (mk_record_batch_builder_append(&bb, 1700000000000 + i, bytes_of(key), bytes_of(value),
                                       NULL, 0))
      fail("builder append failed", NULL);
  }
  mk_writer_init(&w);
  if (mk_record_batch_builder_finish(&bb, &w, &err)) fail("builder finish failed", &err);
  mk_record_batch_builder_free(&bb);
  write_writer(sub, "batch-many-lz4", &w);

  /* What a fetch returns: batches back to back, including a transaction marker. */
  mk_writer_init(&w);
  three_record_batch(&w, MK_COMPRESSION_NONE, 1000, 2, 0, MK_ATTR_TRANSACTIONAL);
  three_record_batch(&w, MK_COMPRESSION_ZSTD, 1000, 2, 3, MK_ATTR_TRANSACTIONAL);
  if (mk_record_batch_write_control(&w, 1000, 2, MK_CONTROL_COMMIT, 7, 1700000000100, &err))
    fail("control batch", &err);
  three_record_batch(&w, MK_COMPRESSION_SNAPPY, MK_NO_PRODUCER_ID, MK_NO_PRODUCER_EPOCH,
                     MK_NO_SEQUENCE, 0);
  write_writer(sub, "batches-mixed", &w);

  write_seed(sub, "batch-doc-example", doc_example, sizeof doc_example);

  /* Snappy as one raw block, not xerial-framed: some clients send this, and our own
   * compressor never writes it, so build it here with libsnappy and patch the header. */
  struct mk_writer plain;
  mk_writer_init(&plain);
  three_record_batch(&plain, MK_COMPRESSION_NONE, MK_NO_PRODUCER_ID, MK_NO_PRODUCER_EPOCH,
                     MK_NO_SEQUENCE, 0);
  const size_t head = MK_RECORD_BATCH_HEADER_SIZE;
  size_t clen = snappy_max_compressed_length(plain.len - head);
  mk_writer_init(&w);
  mk_write_raw(&w, plain.buf, head);
  uint8_t *block = mk_writer_extend(&w, clen);
  if (!block || snappy_compress((const char *)plain.buf + head, plain.len - head, (char *)block,
                                &clen) != SNAPPY_OK)
    fail("snappy_compress failed", NULL);
  w.len = head + clen;
  mk_store_u32(w.buf + MK_RECORD_BATCH_LENGTH_OFFSET, (uint32_t)(w.len - 12));
  w.buf[MK_RECORD_BATCH_ATTRIBUTES_OFFSET + 1] |= MK_COMPRESSION_SNAPPY;
  struct mk_record_batch b;
  if (mk_record_batch_parse(w.buf, w.len, &b, &err)) fail("raw snappy batch", &err);
  mk_store_u32(w.buf + MK_RECORD_BATCH_CRC_OFFSET, mk_record_batch_compute_crc(&b));
  write_seed(sub, "raw-snappy-block", block, clen);
  write_writer(sub, "batch-snappy-raw-block", &w);
  mk_writer_free(&plain);

  /* Zip bombs: 2 MiB of zeros in a few hundred bytes, over the fuzzers' 1 MiB limit. */
  static const size_t bomb_size = 2 << 20;
  uint8_t *zeros = calloc(1, bomb_size);
  if (!zeros) fail("out of memory", NULL);
  static const int bomb_codecs[] = {MK_COMPRESSION_GZIP, MK_COMPRESSION_ZSTD};
  for (size_t i = 0; i < sizeof bomb_codecs / sizeof bomb_codecs[0]; i++) {
    mk_writer_init(&w);
    if (mk_compress(bomb_codecs[i], MK_COMPRESSION_LEVEL_DEFAULT, zeros, bomb_size, &w, &err))
      fail("compress failed", &err);
    snprintf(name, sizeof name, "raw-%s-bomb", mk_compression_name(bomb_codecs[i]));
    write_writer(sub, name, &w);
  }
  mk_record_batch_builder_init(&bb);
  bb.compression = MK_COMPRESSION_ZSTD;
  if (mk_record_batch_builder_append(&bb, 1700000000000, MK_BYTES_NULL,
                                     (struct mk_bytes){zeros, (int32_t)bomb_size}, NULL, 0))
    fail("builder append failed", NULL);
  mk_writer_init(&w);
  if (mk_record_batch_builder_finish(&bb, &w, &err)) fail("builder finish failed", &err);
  mk_record_batch_builder_free(&bb);
  write_writer(sub, "batch-zstd-bomb", &w);
  free(zeros);

  /* Two streams our compressor never writes: lz4 with linked blocks (Kafka refuses it),
   * and a snappy stream big enough (4 KiB) to pass the fuzzer's small second limit. */
  static uint8_t pattern[4096];
  for (size_t i = 0; i < sizeof pattern; i++) pattern[i] = (uint8_t)"minikafka"[i % 9];
  LZ4F_preferences_t prefs;
  memset(&prefs, 0, sizeof prefs);
  prefs.frameInfo.blockMode = LZ4F_blockLinked;
  size_t lz4_cap = LZ4F_compressFrameBound(sizeof pattern, &prefs);
  mk_writer_init(&w);
  uint8_t *frame = mk_writer_extend(&w, lz4_cap);
  size_t lz4_len = frame ? LZ4F_compressFrame(frame, lz4_cap, pattern, sizeof pattern, &prefs) : 0;
  if (!frame || LZ4F_isError(lz4_len)) fail("LZ4F_compressFrame failed", NULL);
  w.len = lz4_len;
  write_writer(sub, "raw-lz4-linked-blocks", &w);
  mk_writer_init(&w);
  if (mk_compress(MK_COMPRESSION_SNAPPY, MK_COMPRESSION_LEVEL_DEFAULT, pattern, sizeof pattern,
                  &w, &err))
    fail("compress failed", &err);
  write_writer(sub, "raw-snappy-4k", &w);

  static const char text[] =
      "Kafka is a distributed event streaming platform. Kafka is a distributed event "
      "streaming platform. The quick brown fox jumps over the lazy dog.";
  for (int codec = MK_COMPRESSION_GZIP; codec <= MK_COMPRESSION_ZSTD; codec++) {
    mk_writer_init(&w);
    if (mk_compress(codec, MK_COMPRESSION_LEVEL_DEFAULT, (const uint8_t *)text, sizeof text - 1,
                    &w, &err))
      fail("compress failed", &err);
    snprintf(name, sizeof name, "raw-%s", mk_compression_name(codec));
    write_writer(sub, name, &w);
  }
}

/* ---- requests and responses filled from the schema tables ----------------------------- */

/* The record batch that every MK_RECORDS field in a generated message carries. */
static struct mk_bytes sample_records;

static size_t value_size(int type, const struct mk_schema *s) {
  size_t n = mk_schema_value_size(type, s);
  if (!n) fail("unknown field type in a schema table", NULL);
  return n;
}

static void fill_struct(const struct mk_schema *s, int version, void *out);

/* One non-default value of `type` at p. Numbers are the default plus one, so they differ
 * from the default (and tagged fields get written) while staying small. */
static void fill_value(const struct mk_field *f, int type, int version, void *p) {
  int64_t n = f->def + 1;
  switch (type) {
    case MK_BOOL: *(bool *)p = f->def == 0; break;
    case MK_INT8: *(int8_t *)p = (int8_t)n; break;
    case MK_INT16: *(int16_t *)p = (int16_t)n; break;
    case MK_UINT16: *(uint16_t *)p = (uint16_t)n; break;
    case MK_INT32: *(int32_t *)p = (int32_t)n; break;
    case MK_UINT32: *(uint32_t *)p = (uint32_t)n; break;
    case MK_INT64: *(int64_t *)p = n; break;
    case MK_FLOAT64: *(double *)p = (double)n + 0.5; break;
    case MK_UUID:
      for (int i = 0; i < 16; i++) ((struct mk_uuid *)p)->b[i] = (uint8_t)(i + 1);
      break;
    case MK_STRING: *(struct mk_str *)p = mk_str_of(f->name); break;
    case MK_BYTES: *(struct mk_bytes *)p = bytes_of(f->name); break;
    case MK_RECORDS: *(struct mk_bytes *)p = sample_records; break;
    case MK_STRUCT: fill_struct(f->schema, version, p); break;
  }
}

/* Set every field present at `version` (tagged ones too); arrays get one element.
 * Fields absent at this version keep their defaults, or the encoder would refuse them. */
static void fill_struct(const struct mk_schema *s, int version, void *out) {
  mk_schema_set_defaults(s, out);
  for (int i = 0; i < s->nfields; i++) {
    const struct mk_field *f = &s->fields[i];
    if (!mk_field_present(f, version)) continue;
    void *p = (char *)out + f->offset;
    if (f->type != MK_ARRAY) {
      fill_value(f, f->type, version, p);
      continue;
    }
    void *item = mk_arena_alloc(&arena, value_size(f->elem, f->schema));
    if (!item) fail("out of memory", NULL);
    fill_value(f, f->elem, version, item);
    *(void **)p = item;
    *(int32_t *)((char *)out + f->count_offset) = 1;
  }
}

/* Encode a request and write its frame body (size prefix stripped). */
static void write_request(const char *name, int api_key, int version, const void *body) {
  struct mk_request_header h = {api_key, (int16_t)version, 42, mk_str_of("minikafka-seed")};
  struct mk_writer w;
  mk_writer_init(&w);
  struct mk_err err = {0};
  if (mk_request_encode(&w, &h, body, &err)) fail(name, &err);
  write_seed("request", name, w.buf + 4, w.len - 4);
  mk_writer_free(&w);
}

/* Encode a response and write it in fuzz_request's layout: key, version, frame body. */
static void write_response(const char *name, const struct mk_api *api, int version,
                           const void *body) {
  struct mk_writer w;
  mk_writer_init(&w);
  struct mk_err err = {0};
  if (mk_response_encode(&w, api->key, version, 42, body, &err)) fail(name, &err);
  /* The 4-byte size prefix becomes the 3-byte selector (its last byte stays unused). */
  w.buf[1] = (uint8_t)api->key;
  w.buf[2] = (uint8_t)(version >> 8);
  w.buf[3] = (uint8_t)version;
  write_seed("request", name, w.buf + 1, w.len - 1);
  mk_writer_free(&w);
}

static void generated_seeds(void) {
  char name[96];
  for (size_t i = 0; i < mk_api_count; i++) {
    const struct mk_api *api = &mk_apis[i];
    int versions[4] = {api->min_version, api->flexible_since - 1, api->flexible_since,
                       api->max_version};
    for (int j = 0; j < 4; j++) {
      int v = versions[j];
      bool repeat = false;
      for (int k = 0; k < j; k++) repeat |= versions[k] == v;
      if (repeat || !mk_api_supports(api, v)) continue;
      void *body = mk_arena_alloc(&arena, api->request->size);
      if (!body) fail("out of memory", NULL);
      fill_struct(api->request, v, body);
      snprintf(name, sizeof name, "req-%s-v%d", api->name, v);
      write_request(name, api->key, v, body);

      if (j == 0 || j == 3) {  /* responses: lowest and highest version */
        void *resp = mk_arena_alloc(&arena, api->response->size);
        if (!resp) fail("out of memory", NULL);
        fill_struct(api->response, v, resp);
        snprintf(name, sizeof name, "resp-%s-v%d", api->name, v);
        write_response(name, api, v, resp);
      }
    }
  }

  /* All defaults, for the versions clients use most (kafka-python, librdkafka, Java). */
  static const struct { int key, version; } plain[] = {
      {MK_API_API_VERSIONS, 0}, {MK_API_API_VERSIONS, 3}, {MK_API_METADATA, 1},
      {MK_API_METADATA, 4},     {MK_API_METADATA, 12},    {MK_API_PRODUCE, 3},
      {MK_API_PRODUCE, 7},      {MK_API_PRODUCE, 9},      {MK_API_INIT_PRODUCER_ID, 4},
      {MK_API_FETCH, 4},        {MK_API_FETCH, 12},
  };
  for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
    const struct mk_api *api = mk_api_find(plain[i].key);
    void *body = mk_arena_alloc(&arena, api->request->size);
    if (!body) fail("out of memory", NULL);
    mk_schema_set_defaults(api->request, body);
    snprintf(name, sizeof name, "req-%s-v%d-defaults", api->name, plain[i].version);
    write_request(name, api->key, plain[i].version, body);
  }
}

/* ---- answers the proxy rewrites (fuzz_proxy_rewrite: API selector, version, frame body) -- */

static void proxy_rewrite_seeds(void) {
  static const int apis[] = {MK_API_METADATA, MK_API_FIND_COORDINATOR, MK_API_DESCRIBE_CLUSTER,
                             MK_API_PRODUCE, MK_API_FETCH};
  char name[96];
  for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++) {
    const struct mk_api *api = mk_api_find(apis[i]);
    for (int v = api->min_version; v <= api->max_version; v++) {
      void *resp = mk_arena_alloc(&arena, api->response->size);
      if (!resp) fail("out of memory", NULL);
      fill_struct(api->response, v, resp);
      struct mk_writer w;
      mk_writer_init(&w);
      struct mk_err err = {0};
      if (mk_response_encode(&w, api->key, v, 42, resp, &err)) fail(api->name, &err);
      /* The 4-byte size prefix becomes the selector and the version's offset (2 bytes). */
      w.buf[2] = (uint8_t)i;
      w.buf[3] = (uint8_t)(v - api->min_version);
      snprintf(name, sizeof name, "%s-v%d", api->name, v);
      write_seed("proxy_rewrite", name, w.buf + 2, w.len - 2);
      mk_writer_free(&w);
    }
  }
}

/* ---- a few requests filled the way real clients fill them ----------------------------- */

/* The schema of a nested struct (only the top-level schemas are exported), for defaults. */
static const struct mk_schema *nested(const struct mk_schema *s, const char *field) {
  for (int i = 0; i < s->nfields; i++)
    if (strcmp(s->fields[i].name, field) == 0 && s->fields[i].schema) return s->fields[i].schema;
  fail("no such struct field", NULL);
  return NULL;
}

static void client_seeds(void) {
  struct mk_api_versions_request av;
  mk_schema_set_defaults(&mk_api_versions_request_schema, &av);
  av.client_software_name = mk_str_of("librdkafka");
  av.client_software_version = mk_str_of("2.3.0");
  write_request("req-api-versions-v3-librdkafka", MK_API_API_VERSIONS, 3, &av);

  /* Metadata for every topic: a null topic array. */
  struct mk_metadata_request md;
  mk_schema_set_defaults(&mk_metadata_request_schema, &md);
  md.topics = NULL;
  md.topics_count = -1;
  write_request("req-metadata-v12-all-topics", MK_API_METADATA, 12, &md);

  /* Metadata for two named topics, as kafka-python 2.0 sends it. */
  struct mk_metadata_request_topic topics[2];
  for (int i = 0; i < 2; i++)
    mk_schema_set_defaults(nested(&mk_metadata_request_schema, "topics"), &topics[i]);
  topics[0].name = mk_str_of("orders");
  topics[1].name = mk_str_of("payments");
  mk_schema_set_defaults(&mk_metadata_request_schema, &md);
  md.topics = topics;
  md.topics_count = 2;
  write_request("req-metadata-v1-two-topics", MK_API_METADATA, 1, &md);
  md.allow_auto_topic_creation = true;
  write_request("req-metadata-v4-two-topics", MK_API_METADATA, 4, &md);

  /* An idempotent producer asking for its id. */
  struct mk_init_producer_id_request ip;
  mk_schema_set_defaults(&mk_init_producer_id_request_schema, &ip);
  ip.transactional_id = MK_STR_NULL;
  ip.transaction_timeout_ms = 60000;
  ip.producer_id = -1;
  ip.producer_epoch = -1;
  write_request("req-init-producer-id-v4-idempotent", MK_API_INIT_PRODUCER_ID, 4, &ip);

  /* acks=all Produce of a zstd batch to two partitions of one topic. */
  struct mk_writer batch;
  mk_writer_init(&batch);
  three_record_batch(&batch, MK_COMPRESSION_ZSTD, 1000, 0, 0, 0);
  struct mk_produce_partition_produce_data parts[2] = {
      {.index = 0, .records = {batch.buf, (int32_t)batch.len}},
      {.index = 3, .records = {batch.buf, (int32_t)batch.len}},
  };
  struct mk_produce_topic_produce_data td = {mk_str_of("orders"), parts, 2};
  struct mk_produce_request pr;
  mk_schema_set_defaults(&mk_produce_request_schema, &pr);
  pr.acks = -1;
  pr.timeout_ms = 30000;
  pr.topic_data = &td;
  pr.topic_data_count = 1;
  write_request("req-produce-v3-acks-all", MK_API_PRODUCE, 3, &pr);
  write_request("req-produce-v7-acks-all", MK_API_PRODUCE, 7, &pr);
  write_request("req-produce-v9-acks-all", MK_API_PRODUCE, 9, &pr);
  mk_writer_free(&batch);

  /* A consumer fetching one partition from offset 0. */
  struct mk_fetch_partition fp;
  mk_schema_set_defaults(nested(nested(&mk_fetch_request_schema, "topics"), "partitions"), &fp);
  fp.partition = 0;
  fp.fetch_offset = 0;
  fp.partition_max_bytes = 1048576;
  struct mk_fetch_topic ft;
  mk_schema_set_defaults(nested(&mk_fetch_request_schema, "topics"), &ft);
  ft.topic = mk_str_of("orders");
  ft.partitions = &fp;
  ft.partitions_count = 1;
  struct mk_fetch_request fr;
  mk_schema_set_defaults(&mk_fetch_request_schema, &fr);
  fr.replica_id = -1;
  fr.max_wait_ms = 500;
  fr.min_bytes = 1;
  fr.max_bytes = 52428800;
  fr.topics = &ft;
  fr.topics_count = 1;
  write_request("req-fetch-v4-one-partition", MK_API_FETCH, 4, &fr);
  write_request("req-fetch-v12-one-partition", MK_API_FETCH, 12, &fr);
}

/* ---- group and transaction data messages ----------------------------------------------- */

/* One fuzz_group_data seed: the selector, then head, a and b (either may be empty). */
static void write_group_data(const char *name, int selector, const uint8_t *head, size_t head_len,
                             struct mk_bytes a, struct mk_bytes b) {
  struct mk_writer w;
  mk_writer_init(&w);
  mk_write_i8(&w, (int8_t)selector);
  mk_write_raw(&w, head, head_len);
  if (a.len > 0) mk_write_raw(&w, a.ptr, (size_t)a.len);
  if (b.len > 0) mk_write_raw(&w, b.ptr, (size_t)b.len);
  write_writer("group_data", name, &w);
}

static struct mk_bytes written(const struct mk_writer *w) {
  return (struct mk_bytes){w->buf, (int32_t)w->len};
}

static void group_data_seeds(void) {
  static const struct {
    int type, topic;
    const struct mk_schema *key, *value;
    const struct mk_data_schema *key_data, *value_data;
  } types[] = {
      {MK_RECORD_OFFSET_COMMIT, MK_CONSUMER_OFFSETS, &mk_offset_commit_key_schema,
       &mk_offset_commit_value_schema, &mk_offset_commit_key_data, &mk_offset_commit_value_data},
      {MK_RECORD_GROUP_METADATA, MK_CONSUMER_OFFSETS, &mk_group_metadata_key_schema,
       &mk_group_metadata_value_schema, &mk_group_metadata_key_data,
       &mk_group_metadata_value_data},
      {MK_RECORD_TRANSACTION_LOG, MK_TRANSACTION_STATE, &mk_transaction_log_key_schema,
       &mk_transaction_log_value_schema, &mk_transaction_log_key_data,
       &mk_transaction_log_value_data},
  };
  char name[96];
  struct mk_err err = {0};
  for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
    const char *tname = mk_coordinator_record_type_name(types[t].type);
    for (int kv = types[t].key_data->min_version; kv <= types[t].key_data->max_version; kv++) {
      for (int vv = types[t].value_data->min_version; vv <= types[t].value_data->max_version;
           vv++) {
        struct mk_coordinator_record rec;
        mk_coordinator_record_init(&rec, types[t].type);
        rec.key_version = (int16_t)kv;
        rec.value_version = (int16_t)vv;
        fill_struct(types[t].key, kv, &rec.key);
        fill_struct(types[t].value, vv, &rec.value);
        bool tombstone = vv == types[t].value_data->max_version;  /* one more, without value */
        for (int pass = 0; pass < 1 + tombstone; pass++) {
          rec.tombstone = pass == 1;
          struct mk_writer k, v;
          mk_writer_init(&k);
          mk_writer_init(&v);
          if (mk_coordinator_record_encode(&rec, &k, &v, &err)) fail(tname, &err);
          if (k.len > 255) fail("a seed key longer than its 1-byte length", NULL);
          uint8_t head[2] = {(uint8_t)k.len, (uint8_t)rec.tombstone};
          if (rec.tombstone)
            snprintf(name, sizeof name, "record-%s-k%d-tombstone", tname, kv);
          else
            snprintf(name, sizeof name, "record-%s-k%d-v%d", tname, kv, vv);
          write_group_data(name, types[t].topic == MK_CONSUMER_OFFSETS ? 0 : 1, head, 2,
                           written(&k), written(&v));
          mk_writer_free(&k);
          mk_writer_free(&v);
        }
      }
    }
  }
  static const struct {
    const char *name;
    int selector;
    const struct mk_data_schema *d;
  } consumer[] = {
      {"subscription", 2, &mk_consumer_protocol_subscription_data},
      {"assignment", 3, &mk_consumer_protocol_assignment_data},
  };
  for (size_t i = 0; i < sizeof consumer / sizeof consumer[0]; i++) {
    const struct mk_data_schema *d = consumer[i].d;
    for (int v = d->min_version; v <= d->max_version; v++) {
      void *msg = mk_arena_alloc(&arena, d->schema->size);
      if (!msg) fail("out of memory", NULL);
      fill_struct(d->schema, v, msg);
      struct mk_writer w;
      mk_writer_init(&w);
      if (mk_data_encode(d, v, msg, &w, &err)) fail(consumer[i].name, &err);
      snprintf(name, sizeof name, "%s-v%d", consumer[i].name, v);
      write_group_data(name, consumer[i].selector, NULL, 0, written(&w), MK_BYTES_NULL);
      mk_writer_free(&w);
    }
  }
}

/* ---- frames captured from real clients ------------------------------------------------ */

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  struct mk_writer w;
  mk_writer_init(&w);
  uint8_t chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) mk_write_raw(&w, chunk, n);
  fclose(f);
  if (w.failed) fail("out of memory", NULL);
  return mk_writer_take(&w, len);
}

/* A Produce request's record batches, each partition's as one record_batch seed. */
static void produce_batches(const char *stem, const uint8_t *body, size_t len) {
  struct mk_request req;
  struct mk_err err = {0};
  if (mk_request_decode(body, len, &req, &arena, &err) || req.header.api_key != MK_API_PRODUCE)
    return;
  const struct mk_produce_request *pr = req.body;
  int n = 0;
  for (int32_t t = 0; t < pr->topic_data_count; t++)
    for (int32_t p = 0; p < pr->topic_data[t].partition_data_count; p++) {
      struct mk_bytes records = pr->topic_data[t].partition_data[p].records;
      if (records.len <= 0) continue;
      char name[600];
      snprintf(name, sizeof name, "%s-%d", stem, n++);
      write_seed("record_batch", name, records.ptr, (size_t)records.len);
    }
}

/* The subscriptions in a JoinGroup request and the assignments in a SyncGroup request, each
 * as a group_data seed. */
static void embedded_group_data(const char *stem, const uint8_t *body, size_t len) {
  struct mk_request req;
  struct mk_err err = {0};
  if (mk_request_decode(body, len, &req, &arena, &err)) return;
  char name[600];
  if (req.header.api_key == MK_API_JOIN_GROUP) {
    const struct mk_join_group_request *r = req.body;
    for (int32_t i = 0; i < r->protocols_count; i++) {
      snprintf(name, sizeof name, "%s-subscription-%d", stem, i);
      write_group_data(name, 2, NULL, 0, r->protocols[i].metadata, MK_BYTES_NULL);
    }
  } else if (req.header.api_key == MK_API_SYNC_GROUP) {
    const struct mk_sync_group_request *r = req.body;
    for (int32_t i = 0; i < r->assignments_count; i++) {
      snprintf(name, sizeof name, "%s-assignment-%d", stem, i);
      write_group_data(name, 3, NULL, 0, r->assignments[i].assignment, MK_BYTES_NULL);
    }
  }
}

/* The frames listed in dir/MANIFEST.tsv (columns: file, direction, client, api_key,
 * api_name, api_version, notes), each a whole frame with its size prefix. Requests become
 * request seeds as they are; responses get fuzz_request's 3-byte selector, from the
 * manifest's api_key and api_version since a response frame does not say. Returns the
 * number of seeds written. */
static int fixture_seeds(const char *dir, const char *prefix) {
  char path[1024];
  snprintf(path, sizeof path, "%s/MANIFEST.tsv", dir);
  FILE *m = fopen(path, "r");
  if (!m) return 0;
  int added = 0;
  char line[4096];
  while (fgets(line, sizeof line, m)) {
    char file[256], direction[16], client[64], api_name[64];
    int api_key, version;
    if (sscanf(line, "%255[^\t]\t%15[^\t]\t%63[^\t]\t%d\t%63[^\t]\t%d", file, direction,
               client, &api_key, api_name, &version) != 6)
      continue;  /* the header row */
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t len;
    uint8_t *buf = read_file(path, &len);
    if (!buf) continue;
    char stem[512];
    snprintf(stem, sizeof stem, "fixture-%s%.*s", prefix,
             (int)(strlen(file) > 4 ? strlen(file) - 4 : strlen(file)), file);  /* no .bin */
    if (len >= 8 && mk_load_u32(buf) == len - 4) {
      if (strcmp(direction, "request") == 0) {
        write_seed("request", stem, buf + 4, len - 4);
        produce_batches(stem, buf + 4, len - 4);
        embedded_group_data(stem, buf + 4, len - 4);
        added++;
      } else if (strcmp(direction, "response") == 0 && version >= 0 && version <= 0xffff) {
        buf[1] = (uint8_t)api_key;  /* the size prefix becomes the 3-byte selector */
        buf[2] = (uint8_t)(version >> 8);
        buf[3] = (uint8_t)version;
        write_seed("request", stem, buf + 1, len - 1);
        added++;
      }
    }
    free(buf);
  }
  fclose(m);
  return added;
}

/* ---- main ------------------------------------------------------------------------------ */

static void make_dir(const char *sub) {
  char path[1024];
  snprintf(path, sizeof path, "%s%s%s", corpus_dir, sub ? "/" : "", sub ? sub : "");
  if (mkdir(path, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "make_seeds: cannot create %s: %s\n", path, strerror(errno));
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s CORPUS_DIR [FIXTURES_DIR]\n", argv[0]);
    return 2;
  }
  corpus_dir = argv[1];
  make_dir(NULL);
  make_dir("request");
  make_dir("record_batch");
  make_dir("group_data");
  make_dir("proxy_rewrite");
  mk_arena_init(&arena);

  record_batch_seeds();

  struct mk_writer batch;
  mk_writer_init(&batch);
  three_record_batch(&batch, MK_COMPRESSION_NONE, MK_NO_PRODUCER_ID, MK_NO_PRODUCER_EPOCH,
                     MK_NO_SEQUENCE, 0);
  sample_records = (struct mk_bytes){batch.buf, (int32_t)batch.len};
  generated_seeds();
  client_seeds();
  group_data_seeds();
  proxy_rewrite_seeds();
  int fixtures = 0;
  if (argc == 3) {
    char quirks[1024];
    snprintf(quirks, sizeof quirks, "%s/mock-quirks", argv[2]);
    char groups[1024];
    snprintf(groups, sizeof groups, "%s/groups", argv[2]);
    fixtures = fixture_seeds(argv[2], "") + fixture_seeds(quirks, "quirk-") +
               fixture_seeds(groups, "group-");
  }

  printf("make_seeds: wrote %d files under %s (%d from fixtures)\n", files_written, corpus_dir,
         fixtures);
  mk_writer_free(&batch);
  mk_arena_free(&arena);
  return 0;
}
