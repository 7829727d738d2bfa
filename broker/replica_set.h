/*
 * Replica set: the leader's side of replication (the ISR, the high watermark) and leader
 * changes. Kafka: Partition.scala (updateFollowerFetchState, maybeIncrementLeaderHW,
 * maybeShrinkIsr, maybeExpandIsr, makeLeader, makeFollower), Replica.scala (the state a
 * leader keeps per follower), ReplicaFetcherThread's truncation by leader epoch
 * (KIP-101, KIP-279), the controller's leader election.
 *
 * Followers pull (replica_fetcher.h). All the leader knows of a follower is what its
 * fetches say: the offset of its latest fetch is, to the leader, that follower's log end
 * (leader_view_leo). So the leader learns that a follower copied batch N only from the
 * follower's *next* fetch, and that is when the high watermark can pass N:
 *
 *   leader LEO            10  (the leader appended 8..9)
 *   follower 1's fetches   8, then 10 after copying 8..9   -> the leader knows 10
 *   follower 2's fetches   8  (paused, or lagging)         -> the leader knows 8
 *   HW = min over the ISR of what the leader knows = 8 while follower 2 is in the ISR
 *
 * The high watermark (maybeIncrementLeaderHW): the smallest known log end over the ISR,
 * and over followers outside it that are caught up and may join it (so a follower that
 * catches up is not left behind by a moving HW). It never moves back while the leader
 * stays. A follower's *own* HW is another thing: min(its log end, the HW in the leader's
 * last answer to it), so it lags the leader's (replica_fetcher.h).
 *
 * The ISR. Kafka's lastCaughtUpTimeMs is the last moment at which a follower's latest
 * fetch offset was at or past the leader's log end. We compute it exactly: it is now if
 * the fetch offset is the leader's log end, else the moment the leader appended the first
 * batch the follower lacks. (Kafka approximates that from the leader's log end at the
 * previous fetch, since it does not keep append times.) Every half of
 * replica.lag.time.max.ms the broker checks, and a follower not caught up for longer
 * leaves the ISR (isr_shrink). A follower whose fetch offset reaches the high watermark,
 * and the start of the current leader epoch, rejoins (isr_expand).
 *
 * Leader changes (broker_down, elect_leader, broker_up of the last ISR member): the new
 * leader bumps the leader epoch and starts from its own (follower's) high watermark,
 * knowing nothing of the followers until they fetch; every other live replica asks it
 * where the follower's latest epoch ended (OffsetsForLeaderEpoch) and truncates its log
 * there, exactly how a Kafka follower finds where its log diverged, then fetches from the
 * new leader. What the old leader had acknowledged but no follower had copied is gone:
 * the acks=1 lesson.
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_REPLICA_SET_H
#define MK_BROKER_REPLICA_SET_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/cluster.h"

/* Start the ISR check and the followers' fetchers (from mk_broker_new). */
void mk_replica_set_start(struct mk_broker *b);

/* Call after the leader of p appended, and after any change to who may fetch (a follower
 * paused, resumed or lagging, a broker back): the HW moves at once if the ISR is the
 * leader alone; followers fetch on a later loop turn (replica_fetcher.h), never in this
 * call, so an acks=0/1 answer written after this call still leaves before they copy. */
void mk_replica_set_replicate(struct mk_broker *b, struct mk_partition *p);

/* The leader receives follower f's fetch at fetch_offset (Kafka's
 * Partition.updateFollowerFetchState): it now knows f's log end, updates f's last
 * caught-up time, lets f rejoin the ISR if it qualifies, and moves the HW if it can
 * (hw_advance names f and its fetch offset; waiting requests are woken). */
void mk_replica_set_follower_fetched(struct mk_broker *b, struct mk_partition *p,
                                     struct mk_replica *f, int64_t fetch_offset, int64_t now_ms);

/* f's fetch offset lies outside the leader's log (OFFSET_OUT_OF_RANGE): past its end,
 * f truncates to it; before its start (retention removed what f lacks), f empties its log
 * and starts at the leader's log start, as Kafka's follower does. */
void mk_replica_set_follower_out_of_range(struct mk_broker *b, struct mk_partition *p,
                                          struct mk_replica *f);

/* Kafka's lastCaughtUpTimeMs for follower f of p at now_ms, computed exactly (above).
 * now_ms for the leader itself. */
int64_t mk_replica_set_last_caught_up_ms(struct mk_partition *p, const struct mk_replica *f,
                                         int64_t now_ms);

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

/* Kafka's maybeIncrementLeaderHW: the smallest log end the leader knows of over the ISR
 * (and caught-up followers that may join it), if that is past the HW. It never moves back
 * while the leader stays (a leader change may lower it). Emits hw_advance; returns true if
 * it moved (the caller wakes waiting requests). */
bool mk_replica_set_update_hw(struct mk_broker *b, struct mk_partition *p);

#endif
