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
 * type and versions), encode again (bytes2 == bytes1). A subscription or assignment of a
 * version newer than ours is encoded as ours, the version it was read as.
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
  if (a->len != b->len || memcmp(a->buf, b->buf, a->len) != 0)
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

/* The newest version a decoded subscription or assignment can be written back in. */
static int written_as(int version) {
  return version > MK_CONSUMER_PROTOCOL_VERSION ? MK_CONSUMER_PROTOCOL_VERSION : version;
}

static void fuzz_subscription(const uint8_t *data, size_t size) {
  struct mk_arena a1, a2;
  mk_arena_init(&a1);
  mk_arena_init(&a2);
  struct mk_writer w1, w2;
  mk_writer_init(&w1);
  mk_writer_init(&w2);
  struct mk_err err = {0};
  struct mk_consumer_protocol_subscription s1, s2;
  int version, again;
  const char *kind = "subscription";
  if (mk_consumer_protocol_subscription_decode((struct mk_bytes){data, (int32_t)size}, &s1,
                                               &version, &a1, &err) != 0)
    goto out;
  if (mk_consumer_protocol_subscription_encode(&s1, written_as(version), &w1, &err) != 0)
    die("decoded but does not encode", kind, &err);
  if (mk_consumer_protocol_subscription_decode(bytes_of(&w1), &s2, &again, &a2, &err) != 0)
    die("our own encoding does not decode", kind, &err);
  if (again != written_as(version)) die("version changed in the round trip", kind, NULL);
  if (mk_consumer_protocol_subscription_encode(&s2, again, &w2, &err) != 0)
    die("re-decoded subscription does not encode", kind, &err);
  check_same(&w1, &w2, kind);
out:
  mk_writer_free(&w1);
  mk_writer_free(&w2);
  mk_arena_free(&a1);
  mk_arena_free(&a2);
}

static void fuzz_assignment(const uint8_t *data, size_t size) {
  struct mk_arena a1, a2;
  mk_arena_init(&a1);
  mk_arena_init(&a2);
  struct mk_writer w1, w2;
  mk_writer_init(&w1);
  mk_writer_init(&w2);
  struct mk_err err = {0};
  struct mk_consumer_protocol_assignment s1, s2;
  int version, again;
  const char *kind = "assignment";
  if (mk_consumer_protocol_assignment_decode((struct mk_bytes){data, (int32_t)size}, &s1,
                                             &version, &a1, &err) != 0)
    goto out;
  if (version < 0) {  /* the empty assignment: nothing to write back */
    if (size != 0 || s1.assigned_partitions_count != 0) die("non-empty input read as empty",
                                                            kind, NULL);
    goto out;
  }
  if (mk_consumer_protocol_assignment_encode(&s1, written_as(version), &w1, &err) != 0)
    die("decoded but does not encode", kind, &err);
  if (mk_consumer_protocol_assignment_decode(bytes_of(&w1), &s2, &again, &a2, &err) != 0)
    die("our own encoding does not decode", kind, &err);
  if (again != written_as(version)) die("version changed in the round trip", kind, NULL);
  if (mk_consumer_protocol_assignment_encode(&s2, again, &w2, &err) != 0)
    die("re-decoded assignment does not encode", kind, &err);
  check_same(&w1, &w2, kind);
out:
  mk_writer_free(&w1);
  mk_writer_free(&w2);
  mk_arena_free(&a1);
  mk_arena_free(&a2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  switch (data[0] % 4) {
    case 0: fuzz_record(MK_CONSUMER_OFFSETS, data + 1, size - 1); break;
    case 1: fuzz_record(MK_TRANSACTION_STATE, data + 1, size - 1); break;
    case 2: fuzz_subscription(data + 1, size - 1); break;
    case 3: fuzz_assignment(data + 1, size - 1); break;
  }
  return 0;
}
