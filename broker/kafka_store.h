/*
 * Kafka store: the schema registry's state kept in the compacted topic _schemas, the way
 * Confluent's registry keeps it. Confluent: storage/KafkaStore.java (a producer with
 * acks=all writing each change, kafkastore.timeout.ms), KafkaStoreReaderThread.java (a
 * consumer that reads the topic back and applies every record). DESIGN.md 3.8.
 *
 * The registry (schema_registry.h) answers from memory; this file keeps that memory equal
 * to the log of partition 0 of _schemas on its current leader:
 *
 *   a write     the registry hands each record to the store callback here, which appends it
 *               to the leader's log (internal_topics.h: an acks=all append, refused with
 *               NOT_ENOUGH_REPLICAS when the ISR is too small); the registry applies it
 *               only once it is appended
 *   sync        before each request: records someone else appended (a client producing to
 *               _schemas, as one can with Confluent's) are replayed; and when the partition
 *               changed leader or leader epoch (broker_down, elect_leader), or the topic
 *               was deleted (and made again), the registry is rebuilt by replaying the new
 *               leader's log from its start: what the old leader had that no follower
 *               copied is gone, here as in the log
 *   commit      nothing is answered before every record the registry has applied is below
 *               the high watermark (acks=all): a client is never told of a schema that a
 *               failover could take back. mk_kafka_store_when_committed waits for that,
 *               at most kafkastore.timeout.ms (Confluent's default, 500 ms); the HTTP side
 *               defers its answer meanwhile (http_server.h)
 *
 *   state of partition 0       what the registry has applied
 *   [0 ......... HW ... LEO)   [0 ........ applied_end)    applied_end == LEO after sync
 *
 * What differs from Confluent's: their registry applies a record only after reading it
 * back from the topic (below the HW), so it never even holds an uncommitted schema; here
 * the registry applies at append time and the *answers* wait for the HW instead, which a
 * client cannot tell apart. Kafka would compact _schemas (cleanup.policy=compact); our logs
 * have no compaction, so every record stays (and retention is off for the topic).
 *
 * Thread: broker loop, except init (before the loop runs) and free (after it ended).
 */
#ifndef MK_BROKER_KAFKA_STORE_H
#define MK_BROKER_KAFKA_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "broker/cluster.h"
#include "broker/internal_topics.h"
#include "broker/schema_registry.h"

#define MK_SCHEMAS_TOPIC "_schemas"      /* Confluent's kafkastore.topic */
#define MK_KAFKA_STORE_TIMEOUT_MS 500    /* Confluent's kafkastore.timeout.ms */
/* The largest record batch the topic takes (its max.message.bytes): a 1 MiB schema, as the
 * registry allows, still fits once written as JSON inside a SCHEMA record. */
#define MK_SCHEMAS_MAX_MESSAGE_BYTES (MK_SCHEMA_REGISTRY_BODY_MAX + (64 << 10))

struct mk_broker;
struct kafka_store_wait;

struct mk_kafka_store {
  struct mk_broker *b;
  struct mk_schema_registry *registry;  /* owned */
  /* Where what the registry holds came from. */
  bool have_log;                 /* false: nothing read yet (or the topic is gone) */
  struct mk_uuid topic_id;       /* the _schemas it was read from */
  int32_t leader, leader_epoch;  /* the leader whose log it is, in that epoch */
  int64_t applied_end;           /* every record below this offset is applied */
  /* Answers waiting for the high watermark. */
  struct kafka_store_wait *waits;
  uv_timer_t timer;              /* decides the waits: kicked by the purgatory check, or at
                                    the earliest deadline */
  /* Counters, for the admin view and tests. */
  int64_t reloads;               /* times the registry was rebuilt from a new leader's log */
  int64_t replayed;              /* records replayed from the log (not written here) */
  int64_t timeouts;              /* answers that waited kafkastore.timeout.ms in vain */
};

/* Create the registry and start following _schemas. The topic itself (1 partition,
 * replication factor min(3, brokers)) is created by the registry's first write: Confluent's
 * registry creates it when it starts, but here a broker whose registry is never used keeps
 * its topic list to what its users made. From mk_broker_new, before the loop runs. Returns
 * 0 or an error (err). On failure, mk_kafka_store_free still frees what was made. */
int mk_kafka_store_init(struct mk_kafka_store *s, struct mk_broker *b, struct mk_err *err);

/* Bring the registry up to date with the log (see the top). Call before each request. */
void mk_kafka_store_sync(struct mk_kafka_store *s);

/* Once every record the registry holds is committed: done(arg, 0, NULL). If it is already,
 * returns false and done is not called. Else returns true and done runs exactly once, later,
 * on the loop: with 0 when the high watermark gets there, or with an error and err saying
 * why: MK_ERR__TIMED_OUT after kafkastore.timeout.ms, NOT_LEADER_OR_FOLLOWER (the leader
 * changed first: the records may or may not survive; the next request sees which),
 * MK_ERR__STATE (the broker is stopping). done may answer an HTTP request; it must not
 * call back into the store. */
typedef void mk_kafka_store_done(void *arg, int rc, const struct mk_err *err);
bool mk_kafka_store_when_committed(struct mk_kafka_store *s, mk_kafka_store_done *done,
                                   void *arg);

/* Forget every schema: _schemas deleted (the next write makes it again), the registry
 * reset (what POST /v1/reset needs: mk_schema_registry_http_reset). Waiting answers fail
 * first. */
void mk_kafka_store_reset(struct mk_kafka_store *s);

/* The partition the registry follows (NULL if the topic is gone), for views. */
struct mk_partition *mk_kafka_store_partition(struct mk_kafka_store *s);

/* Fail every waiting answer (MK_ERR__STATE) and close the timer: the broker is stopping. */
void mk_kafka_store_close(struct mk_kafka_store *s);
/* Free the registry, after the loop ended. */
void mk_kafka_store_free(struct mk_kafka_store *s);

#endif
