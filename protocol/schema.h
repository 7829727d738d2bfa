/*
 * Schema: Kafka messages described as tables, and the one codec that reads them.
 * Kafka: the JSON files in clients/src/main/resources/common/message/ and the
 * serialization code MessageDataGenerator.java writes from them.
 *
 * Each message (ProduceRequest, MetadataResponse, ...) is a C struct plus a
 * table with one row per field: its name, its wire type, the versions in which
 * it is on the wire, whether it may be null, and where it lives in the struct.
 * A row reads like a line of the spec:
 *
 *     { "acks", MK_INT16, .since = 0, .until = MK_V_ANY, .offset = ... }
 *
 * mk_schema_decode() and mk_schema_encode() walk such a table for a given
 * version, so 25 APIs x 18 versions need one decoder and one encoder, not
 * hundreds. The tables live in protocol/messages/, one file per API.
 *
 * How a version changes the bytes:
 *   - a field outside [since, until] is not on the wire; decoding leaves its
 *     default (`def`), encoding skips it (and refuses a non-default value,
 *     unless the field is ignorable);
 *   - a flexible version (see api.h) writes strings, bytes and arrays with
 *     compact lengths (unsigned varint of length + 1) and ends every struct
 *     with a tagged-field section: a count, then (tag, size, value) triples.
 *     Fields with .tag >= 0 travel only there; unknown tags are skipped.
 *
 * C representation of each type, as stored at .offset:
 *   MK_BOOL bool, MK_INT8..MK_INT64 the <stdint.h> type, MK_FLOAT64 double,
 *   MK_UUID struct mk_uuid, MK_STRING struct mk_str, MK_BYTES and MK_RECORDS
 *   struct mk_bytes, MK_STRUCT the nested struct itself, MK_ARRAY a pointer to
 *   the first element at .offset and an int32_t count at .count_offset
 *   (count -1 = null array).
 *
 * Memory: decoded strings and bytes point into the input buffer; arrays are
 * allocated from the caller's arena. Both must outlive the decoded struct.
 * Thread: any.
 */
#ifndef MK_PROTOCOL_SCHEMA_H
#define MK_PROTOCOL_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/errors.h"
#include "protocol/primitives.h"

enum mk_type {
  MK_BOOL = 1,
  MK_INT8,
  MK_INT16,
  MK_UINT16,
  MK_INT32,
  MK_UINT32,
  MK_INT64,
  MK_FLOAT64,
  MK_UUID,
  MK_STRING,
  MK_BYTES,
  MK_RECORDS,  /* a record batch set: bytes on the wire, decoded by record_batch.h */
  MK_STRUCT,
  MK_ARRAY,
};

/* "until" for a field that is on the wire from .since on ("3+"). */
#define MK_V_ANY 127
/* nullable_since for a field that is never nullable. */
#define MK_V_NEVER 127

struct mk_schema;

struct mk_field {
  const char *name;        /* the JSON name in snake_case: "producer_epoch" */
  uint8_t type;            /* enum mk_type */
  uint8_t elem;            /* MK_ARRAY: the type of each element */
  int8_t since, until;     /* versions in which the field is on the wire */
  int8_t nullable_since;   /* first version in which it may be null, or MK_V_NEVER */
  int8_t tag;              /* -1: a fixed field; else its number in the tagged section */
  bool ignorable;          /* encoding a version without it may drop a non-default value */
  uint16_t offset;         /* offsetof the value (or the array's pointer) in the C struct */
  uint16_t count_offset;   /* MK_ARRAY: offsetof its int32_t count */
  const struct mk_schema *schema;  /* MK_STRUCT, and MK_ARRAY of MK_STRUCT */
  int64_t def;             /* default of a number or bool; strings: -1 null, 0 empty */
};

struct mk_schema {
  const char *name;        /* Kafka's name: "ProduceRequest", "TopicProduceData" */
  uint16_t size;           /* sizeof the C struct */
  uint16_t nfields;
  const struct mk_field *fields;
};

/* Decode the body of one message (the bytes after its header) into out, which must point
 * to schema->size bytes. Reads from r; on success r->pos is just past the message.
 * Returns 0, or MK_ERR__DECODE with err->msg naming the message, version, field path and
 * byte offset ("MetadataRequest v9: topics[1].name at byte 23: buffer ended inside a
 * value"), or MK_ERR__NO_MEMORY. Borrows r's buffer and arena (both must outlive out). */
int mk_schema_decode(const struct mk_schema *s, int version, bool flexible, struct mk_reader *r,
                     void *out, struct mk_arena *arena, struct mk_err *err);

/* Append the encoding of in (a struct described by s) at version to w.
 * Returns 0, or MK_ERR__INVALID_ARG when a null is given where the version does not allow
 * one or a non-ignorable field holds a value the version cannot carry (err names it), or
 * MK_ERR__NO_MEMORY. Borrows in. */
int mk_schema_encode(const struct mk_schema *s, int version, bool flexible, const void *in,
                     struct mk_writer *w, struct mk_err *err);

/* Fill a struct with every field's default (what an old version that lacks a field means).
 * Call this before setting the fields you want when building a message to encode. */
void mk_schema_set_defaults(const struct mk_schema *s, void *out);

/* Bytes one value of `type` takes in a C struct (an array element's size); s is the nested
 * schema for MK_STRUCT. 0 for MK_ARRAY (an array is two members). Thread: any. */
size_t mk_schema_value_size(int type, const struct mk_schema *s);

/* ---- data messages: an int16 version, then the body ------------------------------------ */

/* A "data" message is one Kafka keeps outside any request: the key and the value of a record
 * in __consumer_offsets or __transaction_state, or the subscription a consumer embeds in
 * JoinGroup. Each is stored as an int16 version followed by the body at that version
 * (Kafka: MessageUtil.toVersionPrefixedBytes). generate.py writes one of these next to each
 * data message's schema, from the versions in Kafka's spec. */
struct mk_data_schema {
  const struct mk_schema *schema;
  int16_t min_version, max_version;  /* the versions Kafka's spec defines */
  int16_t flexible_since;            /* the first flexible version, or MK_V_NEVER */
};

/* What mk_data_decode() does with a version above max_version and with bytes after the body. */
enum mk_data_rule {
  /* both are errors: for records we wrote ourselves, either means a bug or a foreign format */
  MK_DATA_EXACT,
  /* a newer version is read as max_version, and bytes after the body are ignored. Kafka's
   * rule for a consumer's subscription and assignment (ConsumerProtocol.java): their newer
   * versions may only append fields, so an old reader still finds what it knows. */
  MK_DATA_NEWER_AS_LATEST,
};

/* Append in (a struct described by d->schema) to w as int16 version, then the body.
 * Returns 0, MK_ERR__UNSUPPORTED for a version outside d's range, or what mk_schema_encode
 * returns; err names the message. Borrows in. Thread: any. */
int mk_data_encode(const struct mk_data_schema *d, int version, const void *in,
                   struct mk_writer *w, struct mk_err *err);

/* Decode buf[0..len) (version prefix included) into out (d->schema->size bytes); *version
 * gets the version on the wire (under MK_DATA_NEWER_AS_LATEST it may exceed max_version).
 * Returns 0; MK_ERR__UNSUPPORTED for a version below min_version, or above max_version under
 * MK_DATA_EXACT; MK_ERR__DECODE when the bytes do not fit the layout (byte offsets in err
 * count from the version's first byte); MK_ERR__NO_MEMORY. Borrows buf and arena, which must
 * outlive out (decoded strings point into buf). Thread: any. */
int mk_data_decode(const struct mk_data_schema *d, enum mk_data_rule rule, const uint8_t *buf,
                   size_t len, int *version, void *out, struct mk_arena *arena,
                   struct mk_err *err);

/* Whether field f is on the wire at version (tagged fields included). */
static inline bool mk_field_present(const struct mk_field *f, int version) {
  return version >= f->since && version <= f->until;
}

#endif
