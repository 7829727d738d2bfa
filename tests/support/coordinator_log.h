/*
 * A coordinator's log, for the tests that drive a coordinator without a broker
 * (test_group_coordinator.c, test_transaction_coordinator.c): each record a coordinator
 * appends is encoded as the broker would write it and kept, so a test can look at it or load
 * another coordinator from it.
 */
#ifndef MK_TESTS_COORDINATOR_LOG_H
#define MK_TESTS_COORDINATOR_LOG_H

#include <stdint.h>

#include "protocol/coordinator_records.h"

struct stored {  /* one record as the log would hold it */
  int32_t partition;
  uint8_t *key;
  int32_t key_len;
  uint8_t *value;  /* NULL: a tombstone */
  int32_t value_len;
};

/* Keep a copy of key and value (value.len -1: a tombstone) at log[*n], *n + 1 <= max (the
 * test fails otherwise). */
void coordinator_log_keep(struct stored *log, int *n, int max, int32_t partition,
                          struct mk_bytes key, struct mk_bytes value);
/* Encode recs[0..count) and keep them (the test fails if one does not encode). */
void coordinator_log_append(struct stored *log, int *n, int max, int32_t partition,
                            const struct mk_coordinator_record *recs, int count);
/* Free what the log holds; *n becomes 0. */
void coordinator_log_clear(struct stored *log, int *n);

#endif
