/*
 * Retention: deleting old batches so a long demo cannot fill memory.
 * Kafka: LogManager.cleanupLogs, UnifiedLog.deleteOldSegments (retention.bytes,
 * retention.ms; log.retention.check.interval.ms).
 *
 * Kafka checks retention on a timer (every log.retention.check.interval.ms, five
 * minutes by default). We do the same, and also check a partition's *size* limit
 * right after each append, because here the log lives in memory: a student
 * producing at full speed into retention.bytes=1000000 should never see the
 * broker hold more than that for minutes. Time limits stay on the timer, as in
 * Kafka, so records with old timestamps do not vanish the moment they arrive.
 *
 * Only batches wholly below the high watermark are deleted (a consumer may not
 * have been able to read the others yet), and each replica's log is trimmed on
 * its own: a lagging follower keeps what it has not yet been superseded on.
 *
 * Memory. Kafka's logs live on disk; ours live in memory, so the broker has one more
 * limit of its own, log.memory.max.bytes (default 1 GiB): what all logs hold together,
 * counted as the memory it is (batch structs, the frames batches live in, copies). Over
 * it, the oldest batches of the largest logs go first, as if retention.bytes had been
 * lowered for them, until the logs hold 15/16 of it: a student producing without a
 * limit for hours fills the budget and then keeps its newest data, and a consumer too far
 * behind gets OFFSET_OUT_OF_RANGE, as after Kafka's retention. Batches above a high
 * watermark are never deleted (an acks=all producer's data is safe until replicated).
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_RETENTION_H
#define MK_BROKER_RETENTION_H

#include <stdbool.h>

#include "broker/cluster.h"

/* Apply retention.bytes and, if with_time, retention.ms (the topic's, else the broker's) to
 * every replica of p, then log.memory.max.bytes to every log (mk_retention_check_memory).
 * Emits a `retention` trace event when something was deleted. */
void mk_retention_apply(struct mk_broker *b, struct mk_partition *p, bool with_time);

/* log.memory.max.bytes: when every log together holds more (struct mk_log_usage), delete the
 * oldest batches of the largest logs, on all their replicas (each such log's start moves
 * on, as after retention), down to 15/16 of it. Emits `retention` events with
 * "reason": "log.memory.max.bytes" and one (rate-limited) log line. */
void mk_retention_check_memory(struct mk_broker *b);

/* Start the periodic check over every partition (log.retention.check.interval.ms). */
void mk_retention_start(struct mk_broker *b);

#endif
