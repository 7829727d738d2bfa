/*
 * Internal topics: topics the broker writes itself, for services that keep their state as a
 * log (the schema registry's _schemas here; a group coordinator's __consumer_offsets is the
 * same idea). Kafka: CoordinatorPartitionWriter (a service's records appended to a
 * partition like a produce), CoordinatorLoaderImpl (the records read back on election);
 * Confluent: KafkaStore (the registry's producer and reader of _schemas).
 *
 *   ensure   the topic, created when missing: no retention (Kafka would compact it;
 *            our logs cannot, so nothing may expire), min.insync.replicas at most its
 *            replication factor (so a one-broker cluster can still write it)
 *   append   records as one batch at the end of the partition leader's log, exactly as a
 *            Produce with acks=all would: the ISR is checked first (NOT_ENOUGH_REPLICAS,
 *            nothing written), the batch is traced (`append`) and the followers copy it on
 *            the loop's next turns like any batch
 *   state    whether a write is committed yet: the high watermark passed it (done), its
 *            leader or leader epoch changed under it (lost, or at least not known to be
 *            kept: NOT_LEADER_OR_FOLLOWER), or not yet; the caller decides how long to wait
 *            and is woken by mk_purgatory_watch (purgatory.h) when the HW or leader moves
 *   read     the records of the leader's log from an offset on, for replaying them
 *
 * These do not answer anyone: a service keeps its own list of writes waiting for the high
 * watermark, asks mk_internal_topic_write_state when the purgatory check says something
 * moved, and answers its clients itself.
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_INTERNAL_TOPICS_H
#define MK_BROKER_INTERNAL_TOPICS_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/cluster.h"

struct mk_broker;

/* The topic called name, created now (partitions; replication_factor -1 = min(3, brokers),
 * never more than the live brokers) if it does not exist. Returns NULL with err saying why
 * it could not be created. Borrows name. */
struct mk_topic *mk_internal_topic_ensure(struct mk_broker *b, const char *name,
                                          int32_t partitions, int32_t replication_factor,
                                          struct mk_err *err);

/* What makes topic t (just created, replication factor rf) an internal topic: no retention,
 * compacted (never deleted from by retention or log.memory.max.bytes), min.insync.replicas
 * of its own (-1: the broker's), at most rf. For mk_internal_topic_ensure and the
 * coordinators' topics (coordinator_runtime.h). */
void mk_internal_topic_configure(struct mk_cluster *c, struct mk_topic *t, int32_t rf,
                                 int32_t min_insync_replicas);

/* One record to append. value.len -1 is a null value (a tombstone). */
struct mk_internal_record {
  struct mk_bytes key, value;
};

/* Where a write went: enough to tell later whether it is committed. */
struct mk_internal_write {
  int32_t leader;          /* the leader that appended it ... */
  int32_t leader_epoch;    /* ... in this epoch */
  int64_t base_offset;     /* its first record's offset */
  int64_t end_offset;      /* the offset after its last record: the HW must reach this */
};

/* Append n records to partition p as one batch on its leader. With acks_all, refused with
 * NOT_ENOUGH_REPLICAS when the ISR is smaller than the topic's min.insync.replicas (Kafka's
 * check before an acks=all append). Returns 0 with *w filled, or NOT_LEADER_OR_FOLLOWER (no
 * leader), NOT_ENOUGH_REPLICAS, MESSAGE_TOO_LARGE (over max.message.bytes), MK_ERR__NO_MEMORY
 * with err saying why; nothing is appended then. Borrows records. */
int mk_internal_topic_append(struct mk_broker *b, struct mk_partition *p,
                             const struct mk_internal_record *records, int n, bool acks_all,
                             struct mk_internal_write *w, struct mk_err *err);

enum mk_write_state {
  MK_WRITE_PENDING,    /* appended, not yet below the HW */
  MK_WRITE_DONE,       /* committed: every ISR member has it */
  MK_WRITE_FAILED,     /* the leader or its epoch changed first, or the topic is gone */
};

/* Where write w to partition `partition` of topic t stands now (t NULL: the topic is
 * gone). On MK_WRITE_FAILED, err says why (NOT_LEADER_OR_FOLLOWER,
 * UNKNOWN_TOPIC_OR_PARTITION); on MK_WRITE_DONE with the ISR below min.insync.replicas,
 * err has NOT_ENOUGH_REPLICAS_AFTER_APPEND (the write is kept, as Kafka keeps it). */
enum mk_write_state mk_internal_topic_write_state(struct mk_broker *b, struct mk_topic *t,
                                                  int32_t partition,
                                                  const struct mk_internal_write *w,
                                                  struct mk_err *err);

/* Call fn for each record of p's leader log with an offset in [from, to) (to -1: up to the
 * log end), oldest first; control batches are skipped. fn returns 0 to go on, anything else
 * to stop (returned). Returns 0, fn's value, or an error reading a batch (err). A partition
 * without a leader has no records to read. Borrows everything; the key and value fn sees
 * are valid during the call only. */
int mk_internal_topic_read(struct mk_partition *p, int64_t from, int64_t to,
                           int (*fn)(void *opaque, int64_t offset, struct mk_bytes key,
                                     struct mk_bytes value),
                           void *opaque, struct mk_err *err);

#endif
