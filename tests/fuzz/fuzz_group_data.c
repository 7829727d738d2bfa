/*
 * Fuzz target: the version-prefixed data messages of groups and transactions, which a broker
 * reads back from its own internal topics and a consumer (or `minikafka groups`) reads from
 * other clients: protocol/coordinator_records.c and protocol/consumer_protocol.c, over
 * mk_data_decode() in protocol/schema.c. Run it as described in tests/fuzz/README.md.
 *
 * input[0] % 4 picks what the rest is:
 *
 *   0, 1   a record of __consumer_offsets (0) or __transaction_state (1): input[1] is the
 *          key's length (folded into what is left), input[2] bit 0 says the value is null
 *          (a tombstone); then the key's bytes, then the value's
 *   2      a JoinGroup protocol's metadata: a ConsumerProtocolSubscription (from input[1])
 *   3      a SyncGroup assignment: a ConsumerProtocolAssignment (from input[1])
 *
 * Besides "never crash, never read outside the input", what decodes must survive a round
 * trip, as in fuzz_request.c: decode, encode (bytes1), decode bytes1 (must succeed, same
 * type and versions, every byte used), encode again (bytes2 == bytes1). A subscription or
 * assignment of a version newer than ours is encoded as ours, the version it was read as;
 * consumer_protocol.h's decoders must agree with mk_data_decode, an empty assignment aside.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/consumer_protocol.h"
#include "protocol/coordinator_records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

/* UBSan findings stop the run, so libFuzzer saves the input (see fuzz_request.c). */
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static void die(const char *what, const char *kind, const struct mk_err *err) {
  fprintf(stderr, "fuzz_group_data: %s: %s", kind, what);
  if (err && err->code) fprintf(stderr, " (%s: %s)", mk_err_name(err->code), err->msg);
  fprintf(stderr, "\n");
  abort();
}

static void check_same(const struct mk_writer *a, const struct mk_writer *b, const char *kind) {
  if (a->len != b->len || (a->len && memcmp(a->buf, b->buf, a->len) != 0))
    die("re-encoding changed the bytes", kind, NULL);
}

static struct mk_bytes bytes_of(const struct mk_writer *w) {
  return (struct mk_bytes){w->buf, (int32_t)w->len};
}

static void fuzz_record(int topic, const uint8_t *data, size_t size) {
  if (size < 2) return;
  size_t key_len = data[0] % (size - 2 + 1);
  bool tombstone = data[1] & 1;
  data += 2;
  size -= 2;
  struct mk_bytes key = {data, (int32_t)key_len};
  struct mk_bytes value = tombstone ? MK_BYTES_NULL
                                    : (struct mk_bytes){data + key_len, (int32_t)(size - key_len)};
  const char *kind = topic == MK_CONSUMER_OFFSETS ? MK_CONSUMER_OFFSETS_TOPIC
                                                  : MK_TRANSACTION_STATE_TOPIC;
  struct mk_arena a1, a2;
  mk_arena_init(&a1);
  mk_arena_init(&a2);
  struct mk_writer k1, v1, k2, v2;
  mk_writer_init(&k1);
  mk_writer_init(&v1);
  mk_writer_init(&k2);
  mk_writer_init(&v2);
  struct mk_err err = {0};
  struct mk_coordinator_record r1, r2;
  if (mk_coordinator_record_decode(topic, key, value, &r1, &a1, &err) != 0) goto out;
  if (r1.tombstone != tombstone) die("tombstone changed in decoding", kind, NULL);
  if (mk_coordinator_record_encode(&r1, &k1, &v1, &err) != 0)
    die("decoded but does not encode", kind, &err);
  if (mk_coordinator_record_decode(topic, bytes_of(&k1), tombstone ? MK_BYTES_NULL : bytes_of(&v1),
                                   &r2, &a2, &err) != 0)
    die("our own encoding does not decode", kind, &err);
  if (r2.type != r1.type || r2.key_version != r1.key_version ||
      r2.value_version != r1.value_version || r2.tombstone != r1.tombstone)
    die("type, versions or tombstone changed in the round trip", kind, NULL);
  if (mk_coordinator_record_encode(&r2, &k2, &v2, &err) != 0)
    die("re-decoded record does not encode", kind, &err);
  check_same(&k1, &k2, kind);
  check_same(&v1, &v2, kind);
out:
  mk_writer_free(&k1);
  mk_writer_free(&v1);
  mk_writer_free(&k2);
  mk_writer_free(&v2);
  mk_arena_free(&a1);
  mk_arena_free(&a2);
}

/* A subscription or an assignment (d says which): read as consumer_protocol.c reads them
 * (MK_DATA_NEWER_AS_LATEST), written back in the version it was read as. */
static void fuzz_consumer_data(const struct mk_data_schema *d, const uint8_t *data, size_t size) {
  const char *kind = d->schema->name;
  struct mk_arena a1, a2;
  mk_arena_init(&a1);
  mk_arena_init(&a2);
  struct mk_writer w1, w2;
  mk_writer_init(&w1);
  mk_writer_init(&w2);
  struct mk_err err = {0};
  void *m1 = mk_arena_alloc(&a1, d->schema->size), *m2 = mk_arena_alloc(&a2, d->schema->size);
  int version, again;
  if (!m1 || !m2 ||
      mk_data_decode(d, MK_DATA_NEWER_AS_LATEST, data, size, &version, m1, &a1, &err) != 0)
    goto out;
  int as = version > d->max_version ? d->max_version : version;
  if (mk_data_encode(d, as, m1, &w1, &err) != 0) die("decoded but does not encode", kind, &err);
  if (mk_data_decode(d, MK_DATA_EXACT, w1.buf, w1.len, &again, m2, &a2, &err) != 0)
    die("our own encoding does not decode exactly", kind, &err);
  if (again != as) die("version changed in the round trip", kind, NULL);
  if (mk_data_encode(d, again, m2, &w2, &err) != 0)
    die("re-decoded message does not encode", kind, &err);
  check_same(&w1, &w2, kind);
out:
  mk_writer_free(&w1);
  mk_writer_free(&w2);
  mk_arena_free(&a1);
  mk_arena_free(&a2);
}

/* The public decoders must say what the generic one says (and read an empty assignment as
 * none). */
static void check_wrappers(int selector, const uint8_t *data, size_t size) {
  struct mk_arena a;
  mk_arena_init(&a);
  struct mk_bytes in = {data, (int32_t)size};
  int version, rc;
  if (selector == 2) {
    struct mk_consumer_protocol_subscription sub;
    rc = mk_consumer_protocol_subscription_decode(in, &sub, &version, &a, NULL);
    int want = mk_data_decode(&mk_consumer_protocol_subscription_data, MK_DATA_NEWER_AS_LATEST,
                              data, size, &version, &sub, &a, NULL);
    if (rc != want) die("the wrapper and mk_data_decode disagree", "subscription", NULL);
  } else {
    struct mk_consumer_protocol_assignment as;
    rc = mk_consumer_protocol_assignment_decode(in, &as, &version, &a, NULL);
    if (size == 0 && (rc != 0 || version != -1 || as.assigned_partitions_count != 0))
      die("an empty assignment is not read as no partitions", "assignment", NULL);
    int want = size == 0 ? 0
                         : mk_data_decode(&mk_consumer_protocol_assignment_data,
                                          MK_DATA_NEWER_AS_LATEST, data, size, &version, &as,
                                          &a, NULL);
    if (rc != want) die("the wrapper and mk_data_decode disagree", "assignment", NULL);
  }
  mk_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  switch (data[0] % 4) {
    case 0: fuzz_record(MK_CONSUMER_OFFSETS, data + 1, size - 1); break;
    case 1: fuzz_record(MK_TRANSACTION_STATE, data + 1, size - 1); break;
    case 2:
      check_wrappers(2, data + 1, size - 1);
      fuzz_consumer_data(&mk_consumer_protocol_subscription_data, data + 1, size - 1);
      break;
    case 3:
      check_wrappers(3, data + 1, size - 1);
      fuzz_consumer_data(&mk_consumer_protocol_assignment_data, data + 1, size - 1);
      break;
  }
  return 0;
}
