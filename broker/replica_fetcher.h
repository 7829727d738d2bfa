/*
 * Replica fetcher: followers pull from their leader, as Kafka's do. Kafka:
 * ReplicaFetcherThread and AbstractFetcherThread (the follower's side), and on the leader
 * ReplicaManager.fetchMessages for a replica's fetch with DelayedFetch (its long poll).
 *
 * A Kafka follower never waits to be told about new records; it asks. Its fetcher sends
 * Fetch(offset = its log end) to the leader, appends what comes back, takes the high
 * watermark from the answer, and asks again at once. The leader learns how far a follower
 * has got only from the offset of its *next* fetch, and moves the high watermark then.
 * With nothing new to give, the leader holds the fetch (a long poll) until it appends or
 * replica.fetch.wait.max.ms passes, so an idle follower costs nothing.
 *
 * Here the followers live in this process, so a fetch is a function call, not a request
 * on a socket, but it keeps Kafka's order of events. For one batch, acks=all:
 *
 *   loop turn 1  a Produce arrives; the leader appends [5..9]      leader LEO 10, HW 5
 *                (acks=1 answers here; acks=all waits in the purgatory)
 *   loop turn 2  followers 1 and 2 were parked at offset 5: their fetches are answered
 *                with [5..9] and HW 5                              `replicate` x2
 *                follower 1 fetches again at 10: the leader learns 10; HW stays 5
 *                follower 2 fetches again at 10: HW = min(10, 10, 10)  `hw_advance`
 *                -> the acks=all Produce is answered; both fetches park at 10
 *   later        followers' own HWs still say 5: they learn 10 from the next answer
 *                (new data, or the long poll ending replica.fetch.wait.max.ms later)
 *
 * "Loop turn 2" is the next turn of the broker's loop: an idle handle (uv_idle_t) is
 * active only while some fetch is ready, which keeps the loop's poll from sleeping, so
 * the fetches run right after every response written in turn 1 has left, with no polling
 * delay. Within that turn every fetch that gets data is followed by the follower's next
 * fetch, until each one parks; then the idle handle stops.
 *
 * Faults act on the fetches: follower_pause stops a follower's fetcher (it sends nothing
 * until resumed); follower_lag makes the leader treat each batch as fetchable only lag_ms
 * after it appended it, so the follower copies each batch that late (a timer wakes the
 * parked fetch then).
 *
 * The leader's half of a fetch (what it learns, the ISR, the HW) is replica_set.h's.
 * Batches are shared by reference: a follower's copy is one more reference to the leader's.
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_REPLICA_FETCHER_H
#define MK_BROKER_REPLICA_FETCHER_H

#include "broker/cluster.h"

struct mk_broker;

/* Set up the idle handle and the timer the fetchers run on (from mk_replica_set_start). */
void mk_replica_fetcher_start(struct mk_broker *b);

/* Something a follower of p may be waiting for happened (the leader appended), or a
 * follower's circumstances changed (paused, resumed, lag changed, its broker went or came
 * back): parked fetches that can now get data are answered on the next loop turn (or when
 * their lagged batch falls due), fetchers that may fetch again start, the others stop.
 * Never copies anything itself: whatever called it (a Produce) finishes first. */
void mk_replica_fetcher_wake(struct mk_broker *b, struct mk_partition *p);

/* p has a new leader: every follower's fetch to the old one is void, and each follower
 * that can fetch sends a new one to the new leader on the next loop turn. */
void mk_replica_fetcher_restart(struct mk_broker *b, struct mk_partition *p);

/* The leader's HW of p moved: a parked follower that lacks it hears it when its long poll
 * ends (replica.fetch.wait.max.ms after its fetch arrived), as with Kafka. */
void mk_replica_fetcher_hw_moved(struct mk_broker *b, struct mk_partition *p);

/* The state's name for GET /v1/cluster: "stopped", "fetching" or "waiting". */
const char *mk_fetch_state_name(enum mk_fetch_state s);

#endif
