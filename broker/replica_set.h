/*
 * Replica set: followers copying the leader, and the high watermark they define.
 * Kafka: Partition.scala (maybeIncrementLeaderHW, updateFollowerFetchState),
 * ReplicaFetcherThread (what a follower does), ReplicaManager.
 *
 * In Kafka a follower fetches from its leader over the network. Here every
 * replica lives in this process, so a follower copies by taking references to
 * the leader's batches — right away, on the loop, in the same turn as the
 * append, so acks=all pays no polling delay.
 *
 *   leader LEO  10  ------------------------------  (the leader appended 8..9)
 *   follower 1  10  (copied at once)
 *   follower 2   8  (paused, or lagging)
 *   HW = min LEO over the ISR = 8 if follower 2 is in the ISR, else 10
 *
 * A consumer sees only offsets below the HW; an acks=all producer is answered
 * when the HW passes its batch.
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_REPLICA_SET_H
#define MK_BROKER_REPLICA_SET_H

#include <stdbool.h>

#include "broker/cluster.h"

/* Bring every follower that copies at once up to the leader's log end, then recompute the
 * high watermark (and wake waiting requests if it moved). Call after a leader append. */
void mk_replica_set_replicate(struct mk_broker *b, struct mk_partition *p);

/* Set the high watermark to the minimum LEO over the ISR replicas. It never moves back
 * (Kafka's leader keeps it monotonic). Emits hw_advance; returns true if it moved. */
bool mk_replica_set_update_hw(struct mk_broker *b, struct mk_partition *p);

#endif
