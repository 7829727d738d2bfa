/*
 * Coordinator records: the table of record types described in coordinator_records.h, and the
 * two functions that turn a record into key and value bytes and back.
 */
#include "protocol/coordinator_records.h"

#include <string.h>

struct record_type {
  int type;
  const char *name;
  int topic;                           /* enum mk_coordinator_topic */
  const struct mk_data_schema *key;    /* its versions are the record type's key versions */
  const struct mk_data_schema *value;
  int16_t key_version, value_version;  /* what Kafka writes */
};

static const struct record_type types[] = {
  {MK_RECORD_OFFSET_COMMIT, "OffsetCommit", MK_CONSUMER_OFFSETS, &mk_offset_commit_key_data,
   &mk_offset_commit_value_data, MK_OFFSET_COMMIT_KEY_VERSION, MK_OFFSET_COMMIT_VALUE_VERSION},
  {MK_RECORD_GROUP_METADATA, "GroupMetadata", MK_CONSUMER_OFFSETS, &mk_group_metadata_key_data,
   &mk_group_metadata_value_data, MK_GROUP_METADATA_KEY_VERSION,
   MK_GROUP_METADATA_VALUE_VERSION},
  {MK_RECORD_TRANSACTION_LOG, "TransactionLog", MK_TRANSACTION_STATE,
   &mk_transaction_log_key_data, &mk_transaction_log_value_data, MK_TRANSACTION_LOG_KEY_VERSION,
   MK_TRANSACTION_LOG_VALUE_VERSION},
};
enum { NTYPES = sizeof types / sizeof types[0] };

static const struct record_type *find_type(int type) {
  for (int i = 0; i < NTYPES; i++)
    if (types[i].type == type) return &types[i];
  return NULL;
}

static const char *topic_name(int topic) {
  switch (topic) {
    case MK_CONSUMER_OFFSETS: return MK_CONSUMER_OFFSETS_TOPIC;
    case MK_TRANSACTION_STATE: return MK_TRANSACTION_STATE_TOPIC;
  }
  return NULL;
}

const char *mk_coordinator_record_type_name(int type) {
  const struct record_type *t = find_type(type);
  return t ? t->name : "unknown";
}

void mk_coordinator_record_init(struct mk_coordinator_record *rec, int type) {
  memset(rec, 0, sizeof *rec);
  rec->type = type;
  const struct record_type *t = find_type(type);
  if (!t) return;  /* mk_coordinator_record_encode() reports it */
  rec->key_version = t->key_version;
  rec->value_version = t->value_version;
  mk_schema_set_defaults(t->key->schema, &rec->key);
  mk_schema_set_defaults(t->value->schema, &rec->value);
}

int mk_coordinator_record_encode(const struct mk_coordinator_record *rec, struct mk_writer *key,
                                 struct mk_writer *value, struct mk_err *err) {
  const struct record_type *t = find_type(rec->type);
  if (!t) return mk_err_set(err, MK_ERR__INVALID_ARG, "unknown record type %d", rec->type);
  if (rec->key_version < t->key->min_version || rec->key_version > t->key->max_version)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "%s record with key version %d: %s has "
                      "versions %d-%d (a key's version is its record type)", t->name,
                      rec->key_version, t->key->schema->name, t->key->min_version,
                      t->key->max_version);
  int rc = mk_data_encode(t->key, rec->key_version, &rec->key, key, err);
  if (rc || rec->tombstone) return rc;
  return mk_data_encode(t->value, rec->value_version, &rec->value, value, err);
}

/* Put "<topic> record <what>: " in front of the message mk_data_decode left in err. */
static int with_context(struct mk_err *err, int rc, const char *topic, const char *what) {
  if (!err) return rc;
  char inner[sizeof err->msg];
  memcpy(inner, err->msg, sizeof inner);
  return mk_err_set(err, rc, "%s record %s: %s", topic, what, inner);
}

int mk_coordinator_record_decode(int topic, struct mk_bytes key, struct mk_bytes value,
                                 struct mk_coordinator_record *out, struct mk_arena *arena,
                                 struct mk_err *err) {
  memset(out, 0, sizeof *out);
  const char *tname = topic_name(topic);
  if (!tname) return mk_err_set(err, MK_ERR__INVALID_ARG, "unknown coordinator topic %d", topic);
  if (key.len < 2)
    return mk_err_set(err, MK_ERR__DECODE, "%s record key: %s, but a key starts with its "
                      "int16 version (the record type)", tname,
                      key.len < 0 ? "null" : key.len == 0 ? "empty" : "1 byte");

  /* The key's version says which record type this is. */
  int16_t kv = (int16_t)(key.ptr[0] << 8 | key.ptr[1]);
  const struct record_type *t = NULL;
  for (int i = 0; i < NTYPES && !t; i++)
    if (types[i].topic == topic && kv >= types[i].key->min_version &&
        kv <= types[i].key->max_version)
      t = &types[i];
  if (!t)
    return mk_err_set(err, MK_ERR__UNSUPPORTED, "%s record key: version %d is no record type "
                      "we know%s", tname, kv,
                      topic == MK_CONSUMER_OFFSETS && kv >= 3
                          ? " (3 and up are KIP-848 consumer and share group records)" : "");
  out->type = t->type;

  int version;
  int rc = mk_data_decode(t->key, MK_DATA_EXACT, key.ptr, (size_t)key.len, &version, &out->key,
                          arena, err);
  if (rc) return with_context(err, rc, tname, "key");
  out->key_version = (int16_t)version;

  if (value.len < 0) {  /* a tombstone: the value's fields keep their defaults */
    out->tombstone = true;
    out->value_version = -1;
    mk_schema_set_defaults(t->value->schema, &out->value);
    return 0;
  }
  rc = mk_data_decode(t->value, MK_DATA_EXACT, value.ptr, (size_t)value.len, &version,
                      &out->value, arena, err);
  if (rc) return with_context(err, rc, tname, "value");
  out->value_version = (int16_t)version;
  return 0;
}

/* ---- which partition ------------------------------------------------------------------------ */

/* Decode one UTF-8 sequence at s[*i] (advancing *i); -1 if it is not valid UTF-8. */
static int32_t utf8_next(const uint8_t *s, int32_t len, int32_t *i) {
  uint8_t c = s[*i];
  int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
  if (n < 0 || *i + n >= len + (n == 0)) return -1;
  int32_t cp = n == 0 ? c : n == 1 ? c & 0x1F : n == 2 ? c & 0x0F : c & 0x07;
  for (int k = 1; k <= n; k++) {
    if ((s[*i + k] & 0xC0) != 0x80) return -1;
    cp = cp << 6 | (s[*i + k] & 0x3F);
  }
  *i += n + 1;
  return cp;
}

int32_t mk_coordinator_partition_for(struct mk_str key, int32_t nparts) {
  if (nparts <= 0) return 0;
  const uint8_t *s = (const uint8_t *)key.ptr;
  int32_t len = key.len < 0 ? 0 : key.len;
  /* Java's String.hashCode: h = 31 * h + c over UTF-16 code units, wrapping as an int. */
  uint32_t h = 0;
  bool utf8 = true;
  for (int32_t i = 0; i < len && utf8;) {
    int32_t cp = utf8_next(s, len, &i);
    if (cp < 0) {
      utf8 = false;
    } else if (cp >= 0x10000) {  /* a surrogate pair */
      cp -= 0x10000;
      h = 31 * h + (uint32_t)(0xD800 + (cp >> 10));
      h = 31 * h + (uint32_t)(0xDC00 + (cp & 0x3FF));
    } else {
      h = 31 * h + (uint32_t)cp;
    }
  }
  if (!utf8) {  /* not a Java string at all: hash the bytes, one char each */
    h = 0;
    for (int32_t i = 0; i < len; i++) h = 31 * h + s[i];
  }
  int32_t hash = (int32_t)h;
  /* Kafka's Utils.abs: Integer.MIN_VALUE maps to 0. */
  int32_t abs = hash == INT32_MIN ? 0 : hash < 0 ? -hash : hash;
  return abs % nparts;
}
