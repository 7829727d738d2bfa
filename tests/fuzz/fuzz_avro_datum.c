/*
 * Fuzz target: Avro schemas and data (schemas/avro_schema.c, avro_datum.c, and avro-c
 * behind them). Run it as tests/fuzz/README.md says.
 *
 * The input's first line is a schema; the rest is a value, tried two ways:
 *
 *   as JSON     mk_avro_json_to_value, then encoded (avro-c), decoded back to JSON and
 *               encoded again: the two encodings must be the same bytes (what we write we
 *               read back, exactly);
 *   as binary   mk_avro_binary_to_json: the bounded check, then avro-c's reader. Bytes
 *               that pass must decode, and their JSON must encode back to the same bytes.
 *
 * A schema that parses must also give the same canonical text when its canonical text is
 * parsed again, and be readable as itself by avro-c's resolver whenever we say so.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schemas/avro_compatibility.h"
#include "schemas/avro_datum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static void die(const char *what, const char *detail) {
  fprintf(stderr, "%s: %s\n", what, detail ? detail : "");
  abort();
}

/* JSON text of s -> bytes into w; 0 or an error. */
static int encode_json(const struct mk_avro_schema *s, const char *json, size_t len,
                       struct mk_writer *w) {
  avro_value_t v;
  struct mk_err err;
  int rc = mk_avro_json_to_value(s, json, len, &v, &err);
  if (rc) return rc;
  rc = mk_avro_value_encode(&v, w, &err);
  avro_value_decref(&v);
  return rc;
}

/* bytes -> JSON -> bytes must give the same bytes. */
static void round_trip(const struct mk_avro_schema *s, const uint8_t *bytes, size_t len) {
  char *json = NULL;
  struct mk_err err;
  if (mk_avro_binary_to_json(s, NULL, bytes, len, &json, &err)) {
    if (err.code == MK_ERR__INVALID_ARG) return;  /* a string that is not UTF-8 */
    die("bytes we wrote do not read back", err.msg);
  }
  struct mk_writer again;
  mk_writer_init(&again);
  if (encode_json(s, json, strlen(json), &again)) die("JSON we wrote does not encode", json);
  if (again.len != len || (len && memcmp(again.buf, bytes, len) != 0)) die("the bytes changed", json);
  mk_writer_free(&again);
  free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 << 16) return 0;
  const uint8_t *nl = memchr(data, '\n', size);
  size_t schema_len = nl ? (size_t)(nl - data) : size;
  const uint8_t *value = nl ? nl + 1 : data + size;
  size_t value_len = size - (size_t)(value - data);
  struct mk_avro_schema *s = NULL;
  struct mk_err err;
  if (mk_avro_schema_parse((const char *)data, schema_len, false, &s, &err)) return 0;

  struct mk_avro_schema *again = NULL;
  if (mk_avro_schema_parse(s->canonical, strlen(s->canonical), false, &again, &err))
    die("the canonical text does not parse", err.msg);
  if (strcmp(again->canonical, s->canonical) != 0) die("the canonical text changed", again->canonical);
  if (!mk_avro_can_read(s, again, "reader", "writer", NULL)) die("a schema cannot read itself", s->canonical);
  mk_avro_schema_free(again);

  struct mk_writer w;
  mk_writer_init(&w);
  if (encode_json(s, (const char *)value, value_len, &w) == 0) round_trip(s, w.buf, w.len);
  mk_writer_free(&w);

  char *json = NULL;
  if (mk_avro_binary_to_json(s, NULL, value, value_len, &json, &err) == 0) {
    /* what decoded encodes back; the bytes may differ from the input only where Avro allows
     * two spellings (a varint with extra bytes, blocks split differently), so compare the
     * re-encoding with itself once more */
    struct mk_writer w2;
    mk_writer_init(&w2);
    if (encode_json(s, json, strlen(json), &w2)) die("decoded JSON does not encode", json);
    round_trip(s, w2.buf, w2.len);
    mk_writer_free(&w2);
    free(json);
  }
  mk_avro_schema_free(s);
  return 0;
}
