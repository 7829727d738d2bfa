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
 * Thread: broker loop.
 */
#ifndef MK_BROKER_RETENTION_H
#define MK_BROKER_RETENTION_H

#include <stdbool.h>

#include "broker/cluster.h"

/* Apply retention.bytes and, if with_time, retention.ms (the topic's, else the broker's) to
 * every replica of p. Emits a `retention` trace event when something was deleted. */
void mk_retention_apply(struct mk_broker *b, struct mk_partition *p, bool with_time);

/* Start the periodic check over every partition (log.retention.check.interval.ms). */
void mk_retention_start(struct mk_broker *b);

#endif
