/*
 * What the schema tests share (test_avro_*.c, test_schema_registry.c): parsing a schema that
 * must parse, and checking that a message says what it should.
 */
#ifndef MK_TESTS_SCHEMA_SUPPORT_H
#define MK_TESTS_SCHEMA_SUPPORT_H

#include "schemas/avro_schema.h"

/* Fail the test unless haystack contains needle. */
void assert_contains(const char *haystack, const char *needle);

/* text parsed as an Avro schema (not normalized); fails the test if it does not parse.
 * Returns new: mk_avro_schema_free. */
struct mk_avro_schema *parse_schema(const char *text);

#endif
