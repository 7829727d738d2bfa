/*
 * Coordinator records: how the group and transaction coordinators store their state as
 * records in their own compacted topics. Kafka: CoordinatorRecordSerde and
 * GroupCoordinatorRecordSerde (coordinator-common, group-coordinator), TransactionLog.scala.
 *
 * A coordinator never keeps state only in memory: every change is a record appended to one
 * partition of its topic, so it replicates, survives a restart and moves with leadership. A
 * new coordinator replays the partition to rebuild its groups or transactions.
 *
 *   topic                key version  record type      key                value versions
 *   __consumer_offsets   0 or 1       OffsetCommit     group, topic,      0-4
 *                                                      partition
 *                        2            GroupMetadata    group              0-4
 *   __transaction_state  0            TransactionLog   transactional id   0-1
 *
 * Key and value are each an int16 version followed by the fields of that version (schema.h,
 * mk_data_*). The key's version doubles as the record's type, so a reader of
 * __consumer_offsets knows from its first two bytes whether an offset or a group follows.
 * Key versions 3 and up there are KIP-848's consumer-group and share-group records, which a
 * classic coordinator never writes; decoding one reports MK_ERR__UNSUPPORTED, and a loader
 * skips it as Kafka's does. The value has a version of its own. A null value is a tombstone:
 * the offset was deleted or expired, the group deleted, the transactional id expired; after
 * compaction the key is gone too.
 *
 * The field structs are generated from Kafka's specs: protocol/messages/
 * consumer_offsets_records.h and transaction_state_records.h.
 *
 * Memory: decoding borrows the key and value bytes (strings point into them) and allocates
 * arrays from the caller's arena; all must outlive the decoded record. Thread: any.
 */
#ifndef MK_PROTOCOL_COORDINATOR_RECORDS_H
#define MK_PROTOCOL_COORDINATOR_RECORDS_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/errors.h"
#include "protocol/messages/consumer_offsets_records.h"
#include "protocol/messages/transaction_state_records.h"
#include "protocol/primitives.h"

#define MK_CONSUMER_OFFSETS_TOPIC "__consumer_offsets"
#define MK_TRANSACTION_STATE_TOPIC "__transaction_state"

/* Which internal topic a record belongs to: the same key version means different record
 * types in the two (0 is an offset in one, a transaction in the other). */
enum mk_coordinator_topic {
  MK_CONSUMER_OFFSETS = 1,
  MK_TRANSACTION_STATE,
};

enum mk_coordinator_record_type {
  MK_RECORD_OFFSET_COMMIT = 1,   /* a group's committed offset for one partition */
  MK_RECORD_GROUP_METADATA,      /* a classic group: generation, protocol, leader, members */
  MK_RECORD_TRANSACTION_LOG,     /* a transactional id: producer id/epoch, state, partitions */
};

/* The versions Kafka 3.9 and 4.0 write (MetadataVersion, GroupCoordinatorRecordHelpers,
 * TransactionLog): the newest versions that are not flexible. */
enum {
  MK_OFFSET_COMMIT_KEY_VERSION = 1,
  MK_OFFSET_COMMIT_VALUE_VERSION = 3,  /* 1 if the commit has an expire_timestamp (a
                                          retention_time_ms from OffsetCommit v2-4) */
  MK_GROUP_METADATA_KEY_VERSION = 2,
  MK_GROUP_METADATA_VALUE_VERSION = 3,
  MK_TRANSACTION_LOG_KEY_VERSION = 0,
  MK_TRANSACTION_LOG_VALUE_VERSION = 0,  /* 1 (tagged fields) once transaction.version 2 */
};

/* TransactionLogValue.transaction_status: Kafka's TransactionState ids. */
enum mk_transaction_status {
  MK_TXN_EMPTY = 0,
  MK_TXN_ONGOING = 1,
  MK_TXN_PREPARE_COMMIT = 2,
  MK_TXN_PREPARE_ABORT = 3,
  MK_TXN_COMPLETE_COMMIT = 4,
  MK_TXN_COMPLETE_ABORT = 5,
  MK_TXN_DEAD = 6,
  MK_TXN_PREPARE_EPOCH_FENCE = 7,
};

/* One record: a key and, unless it is a tombstone, a value. `type` says which member of
 * each union is meant. */
struct mk_coordinator_record {
  int type;                 /* enum mk_coordinator_record_type */
  int16_t key_version;      /* OffsetCommit 0-1, GroupMetadata 2, TransactionLog 0 */
  int16_t value_version;    /* ignored for a tombstone */
  bool tombstone;           /* a null value */
  union {
    struct mk_offset_commit_key offset_commit;
    struct mk_group_metadata_key group_metadata;
    struct mk_transaction_log_key transaction_log;
  } key;
  union {
    struct mk_offset_commit_value offset_commit;
    struct mk_group_metadata_value group_metadata;
    struct mk_transaction_log_value transaction_log;
  } value;
};

/* Start a record of `type` to encode: the versions Kafka writes (above), key and value at
 * their defaults (what an old version that lacks a field means), not a tombstone. Set the
 * fields, then call mk_coordinator_record_encode(). Thread: any. */
void mk_coordinator_record_init(struct mk_coordinator_record *rec, int type);

/* Append the key's bytes to key and, unless rec is a tombstone, the value's bytes to value
 * (a tombstone leaves value untouched: write the record's value as null). Returns 0;
 * MK_ERR__INVALID_ARG for an unknown type or a key version that is not that type's;
 * MK_ERR__UNSUPPORTED for a version Kafka's spec does not have; or an encoding error from
 * schema.h naming the field. Borrows rec. */
int mk_coordinator_record_encode(const struct mk_coordinator_record *rec, struct mk_writer *key,
                                 struct mk_writer *value, struct mk_err *err);

/* Decode one record of `topic` from its key and value as stored (value.len -1 = null = a
 * tombstone) into *out. Returns 0; MK_ERR__UNSUPPORTED for a key version that is no record
 * type we know (err says which; KIP-848 records land here) or a value version we do not
 * know; MK_ERR__DECODE for bytes that do not fit the layout, or bytes left after it;
 * MK_ERR__INVALID_ARG for an unknown topic; MK_ERR__NO_MEMORY. err names the topic, the
 * message and the field. Borrows key, value and arena (see the top of this file). */
int mk_coordinator_record_decode(int topic, struct mk_bytes key, struct mk_bytes value,
                                 struct mk_coordinator_record *out, struct mk_arena *arena,
                                 struct mk_err *err);

/* Which partition of its topic holds a key's records (Kafka's partitionFor, for group ids
 * and transactional ids alike): Utils.abs(key.hashCode()) % nparts, with Java's
 * String.hashCode over UTF-16 code units (a key that is not UTF-8 hashes its bytes as
 * Latin-1). Thread: any. */
int32_t mk_coordinator_partition_for(struct mk_str key, int32_t nparts);

/* "OffsetCommit", "GroupMetadata", "TransactionLog", or "unknown". Thread: any. */
const char *mk_coordinator_record_type_name(int type);

#endif
