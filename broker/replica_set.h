/*
 * Replica set: followers copying the leader, the ISR, the high watermark, and leader
 * changes. Kafka: Partition.scala (maybeIncrementLeaderHW, maybeShrinkIsr,
 * maybeExpandIsr, makeLeader, makeFollower), ReplicaFetcherThread (what a follower does,
 * truncation by leader epoch, KIP-101/KIP-279), the controller's leader election.
 *
 * In Kafka a follower fetches from its leader over the network. Here every replica lives
 * in this process, so a follower "fetches" by taking references to the leader's batches:
 *   - at once, on the loop, in the same turn as the append (the default), so acks=all
 *     pays no polling delay;
 *   - lag_ms after the leader appended each batch (a slow follower: follower_lag);
 *   - not at all while paused (follower_pause).
 *
 *   leader LEO  10  -------------------------------  (the leader appended 8..9)
 *   follower 1  10  (copied at once)
 *   follower 2   8  (paused, or lagging)
 *   HW = min LEO over the ISR = 8 while follower 2 is in the ISR, 10 after it leaves
 *
 * The ISR. A follower is in sync while it has copied everything the leader appended
 * more than replica.lag.time.max.ms ago (Kafka's lastCaughtUpTime rule). Every half of
 * that interval the broker checks, and removes laggards (isr_shrink). A follower that
 * reaches the high watermark again rejoins (isr_expand).
 *
 * Leader changes (broker_down, elect_leader, broker_up of the last ISR member): the new
 * leader bumps the leader epoch; every other live replica asks it where the follower's
 * latest epoch ended (OffsetsForLeaderEpoch) and truncates its log there — exactly how a
 * Kafka follower finds where its log diverged — then copies from the new leader. What
 * the old leader had acknowledged but no follower had copied is gone: the acks=1 lesson.
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_REPLICA_SET_H
#define MK_BROKER_REPLICA_SET_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/cluster.h"

/* Start the ISR check and the lagging-follower timers (from mk_broker_new). */
void mk_replica_set_start(struct mk_broker *b);

/* Let every follower that may copy now catch up with the leader, update the ISR and the
 * high watermark, and wake waiting requests if it moved. Call after a leader append, and
 * after any change to a follower's pause or lag. */
void mk_replica_set_replicate(struct mk_broker *b, struct mk_partition *p);

/* Make broker_id the leader of p: bump the leader epoch, truncate the other live replicas
 * to the new leader's log, rebuild the producer state from it. unclean: the new leader was
 * not in the ISR (records may be lost); the ISR becomes just the new leader. broker_id -1
 * takes the partition offline (no leader). Returns 0 or MK_ERR__STATE with err saying why
 * (not a replica, broker down). Emits leader_change and truncate events. */
int mk_replica_set_elect(struct mk_broker *b, struct mk_partition *p, int32_t broker_id,
                         bool unclean, struct mk_err *err);

/* A virtual broker stopped: its replicas leave every ISR, and each partition it led elects
 * a new leader from the ISR (or any live replica if unclean.leader.election.enable), or goes
 * offline. Its listener and connections are the caller's to close. */
void mk_replica_set_broker_down(struct mk_broker *b, int32_t broker_id);

/* A virtual broker returned: offline partitions whose last ISR member it holds elect it;
 * elsewhere its replicas truncate to the current leader's log and catch up. */
void mk_replica_set_broker_up(struct mk_broker *b, int32_t broker_id);

/* Set the high watermark to the minimum LEO over the ISR replicas. It never moves back
 * while the leader stays (a leader change may lower it). Emits hw_advance; returns true if
 * it moved. */
bool mk_replica_set_update_hw(struct mk_broker *b, struct mk_partition *p);

#endif
