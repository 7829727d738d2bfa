/*
 * Avro data: the values of a schema, moved between three forms.
 * Avro: io/JsonEncoder, JsonDecoder (the JSON encoding), BinaryEncoder/BinaryDecoder;
 * Confluent: AvroSchemaUtils.toObject / toJson (what kafka-avro-console-producer reads).
 *
 *   JSON text   {"name": "Ann", "age": {"int": 30}}    Avro's JSON encoding: a union value
 *        |                                              is {"<branch type>": value} (null
 *        | mk_avro_json_to_value                        stays null), bytes and fixed are
 *        v                                              strings of U+0000..U+00FF
 *   avro_value_t (avro-c's generic value)
 *        | mk_avro_value_encode (avro-c's writer)
 *        v
 *   binary      03 41 6e 6e 02 3c ...                   Avro's binary encoding
 *        | mk_avro_binary_to_json (avro-c's reader, then back to JSON; with a reader
 *        v   schema, avro-c's resolver turns the writer's data into the reader's)
 *   JSON text
 *
 * Conversions from JSON check the value against the schema and name the part that does not
 * fit: "field 'address.zip': expected a string, got 12345". A record field left out of the
 * JSON takes its default (as a reader would), one without a default is an error, and so is
 * a field the schema does not have.
 *
 * Binary input from outside (a record's value) is checked before avro-c sees it
 * (mk_avro_binary_check): avro-c allocates whatever a length prefix asks for and loops for
 * whatever count an array block claims, so a few hostile bytes could make it allocate
 * gigabytes or spin. The check walks the bytes with the schema: every length fits in what
 * is left, at most MK_AVRO_MAX_ITEMS array/map items in all, nesting bounded, no byte left
 * over.
 *
 * Thread: any; a schema may be shared by threads converting at the same time.
 */
#ifndef MK_SCHEMAS_AVRO_DATUM_H
#define MK_SCHEMAS_AVRO_DATUM_H

#include <avro.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/errors.h"
#include "protocol/primitives.h"
#include "schemas/avro_schema.h"

/* Items (array elements and map entries, all levels together) one datum may hold. */
#define MK_AVRO_MAX_ITEMS (1 << 20)
/* How deeply a datum may nest (a recursive schema allows any depth; data must stop). */
#define MK_AVRO_MAX_NESTING 256

/* Read JSON text as a value of schema s into *out (a new avro-c generic value). Returns 0,
 * or MK_ERR__INVALID_ARG with err naming the field and what was expected. Thread: any.
 * Borrows s and json. Returns new: release *out with avro_value_decref(out). */
int mk_avro_json_to_value(const struct mk_avro_schema *s, const char *json, size_t len,
                          avro_value_t *out, struct mk_err *err);

/* Append value's Avro binary encoding to w. Returns 0, or MK_ERR__INVALID_ARG when avro-c
 * cannot write it (a value missing a part), MK_ERR__NO_MEMORY. Thread: any. Borrows value. */
int mk_avro_value_encode(avro_value_t *value, struct mk_writer *w, struct mk_err *err);

/* Check that buf is exactly one datum of type t in Avro binary, within the bounds above.
 * Returns 0, or MK_ERR__DECODE with err saying what and where ("byte 7: a string of 1000
 * bytes, but 3 remain"). Thread: any. Borrows everything. */
int mk_avro_binary_check(const struct mk_avro_type *t, const uint8_t *buf, size_t len,
                         struct mk_err *err);

/* Decode buf (one datum written with `writer`) and write it as JSON text. With a reader
 * schema, the data is first resolved to it by avro-c's resolver, which must be able to
 * (mk_avro_resolvable_by_avro_c; else MK_ERR__UNSUPPORTED saying why). Returns 0 with *json
 * set, or MK_ERR__DECODE (bad bytes), MK_ERR__INVALID_ARG (a string that is not UTF-8).
 * Thread: any. Borrows everything. Returns new: free(*json). */
int mk_avro_binary_to_json(const struct mk_avro_schema *writer,
                           const struct mk_avro_schema *reader, const uint8_t *buf, size_t len,
                           char **json, struct mk_err *err);

/* Write value (of type t: the schema value was made from) as JSON text. Returns 0 with
 * *json set, or an error as above. Thread: any. Returns new: free(*json). */
int mk_avro_value_to_json(const struct mk_avro_type *t, const avro_value_t *value, char **json,
                          struct mk_err *err);

#endif
