/*
 * JSON view of a decoded message: one walk over the schema tables (protocol/schema.h)
 * that serves every API and version, plus the record batches inside RECORDS fields.
 *
 * The walk follows the decoder's rules: each field present at the version, fixed or
 * tagged, in table order, becomes one key of a JSON object, and its value is read at
 * f->offset in the C struct according to its type:
 *
 *   bool, int8..int64   true/false, a JSON integer (jansson's are 64-bit, so int64 is exact)
 *   float64             a JSON number
 *   string              a JSON string; null when null; {"hex": ...} if not valid UTF-8
 *   bytes               {"len": N, "hex": "0a1b..."}; null when null
 *   uuid                "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
 *   struct, array       a JSON object, a JSON array (null when null)
 *   records             an array of record batches, each with every header field and
 *                       its records, decompressed; a key or value is a JSON string when
 *                       it is printable UTF-8, else {"hex": ...}
 *
 * Record batches are opaque bytes to the schema decoder, so their errors surface only
 * here. A batch that fails to parse, validate or read gets an "error" key in the JSON and
 * is counted in the walk, so the caller can show what did decode and still fail. A Fetch
 * response may end in a batch cut off by the broker's size limit (Kafka's consumer skips
 * it); when the caller allows that, it is shown as {"partial_batch_bytes": N}.
 *
 * Memory: the JSON owns copies of everything; the message and frame are only borrowed.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "protocol/compression.h"
#include "protocol/record_batch.h"
#include "producer/avro_serializer.h"  /* Confluent's wire format: mk_avro_read_header */

/* A decompressed records section larger than this is refused, as a broker would: a few
 * hostile bytes must not make the decoder allocate gigabytes. */
enum { MAX_DECOMPRESSED = 64 << 20 };

struct walk {
  struct mk_json_walk *out;
  const char *message;  /* "ProduceRequest", for problem text */
  int version;
  char path[256];       /* field path to the current value: "topic_data[0].partition_data" */
  size_t path_len;
};

/* ---- the field path, for problem text ----------------------------------------------------- */

/* Append ".name" (or "[index]" when name is NULL) to the path; returns the old length, to
 * hand back to path_pop when the value is done. */
static size_t path_push(struct walk *k, const char *name, int index) {
  size_t mark = k->path_len;
  int n = name ? snprintf(k->path + mark, sizeof k->path - mark, "%s%s", mark ? "." : "", name)
               : snprintf(k->path + mark, sizeof k->path - mark, "[%d]", index);
  if (n > 0) k->path_len = mark + (size_t)n < sizeof k->path ? mark + (size_t)n : sizeof k->path - 1;
  return mark;
}

static void path_pop(struct walk *k, size_t mark) {
  k->path_len = mark;
  k->path[mark] = '\0';
}

/* Note a problem in one batch: an "error" key in its JSON object, and the walk's count.
 * Only a batch's first problem is kept; later ones usually follow from it. */
__attribute__((format(printf, 4, 5))) static void problem(struct walk *k, json_t *batch,
                                                          size_t at, const char *fmt, ...) {
  if (json_object_get(batch, "error")) return;
  char why[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  json_object_set_new(batch, "error", json_string(why));
  if (k->out->problems++ == 0)
    snprintf(k->out->first_problem, sizeof k->out->first_problem,
             "%s v%d: %s, the batch at byte %zu: %s", k->message, k->version, k->path, at, why);
}

/* ---- scalar values ------------------------------------------------------------------------ */

static json_t *hex_json(const uint8_t *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  char *s = malloc(2 * n + 1);
  if (!s) return NULL;
  for (size_t i = 0; i < n; i++) {
    s[2 * i] = digits[p[i] >> 4];
    s[2 * i + 1] = digits[p[i] & 15];
  }
  json_t *j = json_stringn(s, 2 * n);
  free(s);
  return j;
}

static json_t *bytes_json(struct mk_bytes b) {
  if (b.len < 0) return json_null();
  return json_pack("{s:I, s:o}", "len", (json_int_t)b.len, "hex", hex_json(b.ptr, (size_t)b.len));
}

/* A JSON string if the bytes are valid UTF-8 (jansson checks that), else {"hex": ...}. */
static json_t *utf8_or_hex(const void *p, int32_t len) {
  json_t *s = json_stringn(len ? p : "", (size_t)len);
  return s ? s : json_pack("{s:o}", "hex", hex_json(p, (size_t)len));
}

json_t *mk_json_str(struct mk_str s) {
  return s.len < 0 ? json_null() : utf8_or_hex(s.ptr, s.len);
}

/* A record key or value: text when a person could read it, else hex. Control characters
 * other than tab and newlines mean "binary" (a serialized int, Avro, ...). Binary that
 * starts like Confluent's wire format (a 0 byte, then a 4-byte schema id: what
 * AvroSerializer writes, producer/avro_serializer.h) also shows that header; only the
 * schema registry knows whether the id is real. */
static json_t *payload_json(struct mk_bytes b) {
  if (b.len < 0) return json_null();
  for (int32_t i = 0; i < b.len; i++) {
    uint8_t c = b.ptr[i];
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
      json_t *o = json_pack("{s:o}", "hex", hex_json(b.ptr, (size_t)b.len));
      int32_t id;
      struct mk_err err;
      if (o && mk_avro_read_header(b.ptr, (size_t)b.len, &id, &err) == 0)
        json_object_set_new(o, "schema_registry",
                            json_pack("{s:i, s:i, s:i}", "magic_byte", MK_AVRO_MAGIC_BYTE,
                                      "schema_id", id, "payload_bytes",
                                      b.len - MK_AVRO_HEADER_SIZE));
      return o;
    }
  }
  return utf8_or_hex(b.ptr, b.len);
}

static json_t *uuid_json(const struct mk_uuid *u) {
  char s[37];
  const uint8_t *b = u->b;
  snprintf(s, sizeof s,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
           b[13], b[14], b[15]);
  return json_string(s);
}

/* ---- record batches ----------------------------------------------------------------------- */

/* Whether the bytes left are the start of a batch that does not fit: fewer than its length
 * field needs, or fewer than the length field says. A negative length is corruption, not a
 * cut, and is left to mk_record_batch_parse to report. */
static bool is_partial(const uint8_t *p, size_t left) {
  if (left < MK_RECORD_BATCH_LENGTH_OFFSET + 4) return true;
  int32_t batch_length = (int32_t)mk_load_u32(p + MK_RECORD_BATCH_LENGTH_OFFSET);
  return batch_length >= 0 && MK_RECORD_BATCH_LENGTH_OFFSET + 4 + (size_t)batch_length > left;
}

static json_t *attributes_json(int16_t a) {
  const char *codec = mk_compression_name(a & MK_ATTR_COMPRESSION_MASK);
  return json_pack("{s:I, s:s, s:s, s:b, s:b}", "raw", (json_int_t)a,
                   "compression", codec ? codec : "unknown",
                   "timestamp_type", a & MK_ATTR_LOG_APPEND_TIME ? "LogAppendTime" : "CreateTime",
                   "is_transactional", (a & MK_ATTR_TRANSACTIONAL) != 0,
                   "is_control", (a & MK_ATTR_CONTROL) != 0);
}

/* One record; NULL after noting a problem in batch (or when out of memory). */
static json_t *record_json(struct walk *k, json_t *batch, size_t at,
                           const struct mk_record_batch *b, struct mk_record *rec) {
  json_t *o = json_pack("{s:I, s:I, s:o, s:o}", "offset_delta", (json_int_t)rec->offset_delta,
                        "timestamp_delta", (json_int_t)rec->timestamp_delta,
                        "key", payload_json(rec->key), "value", payload_json(rec->value));
  if (!o) return NULL;  /* out of memory */
  json_t *headers = json_array();
  json_object_set_new(o, "headers", headers);
  struct mk_err err;
  for (int32_t i = 0; i < rec->headers_count; i++) {
    struct mk_record_header h;
    if (mk_record_next_header(rec, &h, &err)) {
      problem(k, batch, at, "record at offset delta %d, header %d: %s", rec->offset_delta, i,
              err.msg);
      json_decref(o);
      return NULL;
    }
    json_array_append_new(headers, json_pack("{s:o, s:o}", "key", payload_json(h.key),
                                             "value", payload_json(h.value)));
  }
  if (b->attributes & MK_ATTR_CONTROL) {  /* a transaction marker: show what it says */
    enum mk_control_type type;
    int32_t coordinator_epoch;
    if (mk_control_record_parse(rec, &type, &coordinator_epoch, &err) == 0)
      json_object_set_new(o, "control", json_pack("{s:s, s:I}", "type",
                                                  type == MK_CONTROL_COMMIT ? "COMMIT" : "ABORT",
                                                  "coordinator_epoch",
                                                  (json_int_t)coordinator_epoch));
    else
      problem(k, batch, at, "control record: %s", err.msg);
  }
  return o;
}

static void records_of_batch(struct walk *k, json_t *batch, size_t at,
                             const struct mk_record_batch *b) {
  struct mk_record_reader rr;
  struct mk_err err;
  if (mk_record_reader_init(&rr, b, MAX_DECOMPRESSED, &err)) {
    problem(k, batch, at, "%s", err.msg);
    return;
  }
  json_t *records = json_array();
  json_object_set_new(batch, "records", records);
  for (;;) {
    struct mk_record rec;
    int rc = mk_record_reader_next(&rr, &rec, &err);
    if (rc == MK_ERR__STATE) break;  /* all records_count records read */
    if (rc) {
      problem(k, batch, at, "record %zu: %s", json_array_size(records), err.msg);
      break;
    }
    json_t *r = record_json(k, batch, at, b, &rec);
    if (!r) break;
    json_array_append_new(records, r);
  }
  mk_record_reader_free(&rr);
}

/* One batch starting at p, with left bytes available; *used says where the next begins. */
static json_t *batch_json(struct walk *k, const uint8_t *p, size_t left, size_t *used) {
  size_t at = (size_t)(p - k->out->frame);
  json_t *o = json_object();
  struct mk_record_batch b;
  struct mk_err err;
  if (mk_record_batch_parse(p, left, &b, &err)) {
    problem(k, o, at, "%s", err.msg);
    *used = left;  /* without a length we trust, nothing after this can be found */
    return o;
  }
  *used = b.size;
  char crc[11];
  snprintf(crc, sizeof crc, "0x%08x", b.crc);
  json_object_set_new(o, "base_offset", json_integer(b.base_offset));
  json_object_set_new(o, "batch_length", json_integer(b.batch_length));
  json_object_set_new(o, "partition_leader_epoch", json_integer(b.partition_leader_epoch));
  json_object_set_new(o, "magic", json_integer(b.magic));
  json_object_set_new(o, "crc", json_string(crc));
  json_object_set_new(o, "crc_valid", json_boolean(mk_record_batch_compute_crc(&b) == b.crc));
  json_object_set_new(o, "attributes", attributes_json(b.attributes));
  json_object_set_new(o, "last_offset_delta", json_integer(b.last_offset_delta));
  json_object_set_new(o, "base_timestamp", json_integer(b.base_timestamp));
  json_object_set_new(o, "max_timestamp", json_integer(b.max_timestamp));
  json_object_set_new(o, "producer_id", json_integer(b.producer_id));
  json_object_set_new(o, "producer_epoch", json_integer(b.producer_epoch));
  json_object_set_new(o, "base_sequence", json_integer(b.base_sequence));
  json_object_set_new(o, "records_count", json_integer(b.records_count));
  /* Validate first (what a broker would refuse), then show the records anyway: a batch
   * with a wrong CRC usually still has readable records, and seeing them helps. */
  if (mk_record_batch_validate(&b, MAX_DECOMPRESSED, &err)) problem(k, o, at, "%s", err.msg);
  records_of_batch(k, o, at, &b);
  return o;
}

static json_t *records_json(struct walk *k, struct mk_bytes set) {
  if (set.len < 0) return json_null();
  json_t *batches = json_array();
  size_t pos = 0, len = (size_t)set.len;
  for (int i = 0; pos < len; i++) {
    const uint8_t *p = set.ptr + pos;
    if (k->out->partial_batch_ok && is_partial(p, len - pos)) {
      json_array_append_new(batches, json_pack("{s:I}", "partial_batch_bytes",
                                               (json_int_t)(len - pos)));
      break;
    }
    size_t mark = path_push(k, NULL, i), used;
    json_array_append_new(batches, batch_json(k, p, len - pos, &used));
    path_pop(k, mark);
    pos += used;
  }
  return batches;
}

/* ---- the schema walk ---------------------------------------------------------------------- */

static json_t *struct_json(struct walk *k, const struct mk_schema *s, const void *base);

/* One value of `type` stored at p; f gives the nested schema. */
static json_t *value_json(struct walk *k, const struct mk_field *f, int type, const void *p) {
  switch (type) {
    case MK_BOOL: return json_boolean(*(const bool *)p);
    case MK_INT8: return json_integer(*(const int8_t *)p);
    case MK_INT16: return json_integer(*(const int16_t *)p);
    case MK_UINT16: return json_integer(*(const uint16_t *)p);
    case MK_INT32: return json_integer(*(const int32_t *)p);
    case MK_UINT32: return json_integer(*(const uint32_t *)p);
    case MK_INT64: return json_integer(*(const int64_t *)p);
    case MK_FLOAT64: {
      double d = *(const double *)p;  /* JSON has no NaN or infinity */
      return isfinite(d) ? json_real(d) : json_string(isnan(d) ? "NaN" : d > 0 ? "Infinity"
                                                                                : "-Infinity");
    }
    case MK_UUID: return uuid_json(p);
    case MK_STRING: return mk_json_str(*(const struct mk_str *)p);
    case MK_BYTES: return bytes_json(*(const struct mk_bytes *)p);
    case MK_RECORDS: return records_json(k, *(const struct mk_bytes *)p);
    case MK_STRUCT: return struct_json(k, f->schema, p);
  }
  return json_null();
}

/* An array field: element pointer at f->offset, int32 count at f->count_offset. */
static json_t *array_json(struct walk *k, const struct mk_field *f, const void *base) {
  int32_t n = *(const int32_t *)((const char *)base + f->count_offset);
  if (n < 0) return json_null();
  const char *items = *(const char *const *)((const char *)base + f->offset);
  /* Element sizes as schema.c lays arrays out: the C type of each wire type. */
  size_t size = 0;
  switch (f->elem) {
    case MK_BOOL: size = sizeof(bool); break;
    case MK_INT8: size = 1; break;
    case MK_INT16: case MK_UINT16: size = 2; break;
    case MK_INT32: case MK_UINT32: size = 4; break;
    case MK_INT64: size = 8; break;
    case MK_FLOAT64: size = sizeof(double); break;
    case MK_UUID: size = sizeof(struct mk_uuid); break;
    case MK_STRING: size = sizeof(struct mk_str); break;
    case MK_BYTES: case MK_RECORDS: size = sizeof(struct mk_bytes); break;
    case MK_STRUCT: size = f->schema->size; break;
  }
  json_t *a = json_array();
  for (int32_t i = 0; i < n; i++) {
    size_t mark = path_push(k, NULL, i);
    json_array_append_new(a, value_json(k, f, f->elem, items + size * (size_t)i));
    path_pop(k, mark);
  }
  return a;
}

static json_t *struct_json(struct walk *k, const struct mk_schema *s, const void *base) {
  json_t *o = json_object();
  for (int i = 0; i < s->nfields; i++) {
    const struct mk_field *f = &s->fields[i];
    if (!mk_field_present(f, k->version)) continue;
    size_t mark = path_push(k, f->name, -1);
    json_object_set_new(o, f->name, f->type == MK_ARRAY
                                        ? array_json(k, f, base)
                                        : value_json(k, f, f->type, (const char *)base + f->offset));
    path_pop(k, mark);
  }
  return o;
}

json_t *mk_json_message(const struct mk_schema *s, int version, const void *msg,
                        struct mk_json_walk *w) {
  struct walk k = {.out = w, .message = s->name, .version = version};
  return struct_json(&k, s, msg);
}
