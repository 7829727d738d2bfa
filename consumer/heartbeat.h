/*
 * Heartbeat: the three clocks of a group member, and the thread that keeps it alive.
 * Kafka: clients/.../consumer/internals/Heartbeat.java and AbstractCoordinator.HeartbeatThread.
 *
 * A member of a classic group must show the coordinator two things:
 *
 *   it is alive          a Heartbeat request at least every session.timeout.ms, or the
 *                        coordinator removes it and rebalances (member_expired on the broker).
 *                        The heartbeat thread sends one every heartbeat.interval.ms
 *                        (a third of the session or less, so a lost one or two do no harm).
 *   it is making progress  poll() at least every max.poll.interval.ms. A heartbeat thread
 *                        alone would keep a stuck application in the group forever, its
 *                        partitions unread; so when poll() has not been called for that long,
 *                        the heartbeat thread itself sends LeaveGroup, and the next poll()
 *                        joins again. (The coordinator also uses max.poll.interval.ms as the
 *                        rebalance timeout: how long a rebalance waits for members to rejoin.)
 *
 * struct mk_heartbeat is Java's Heartbeat: pure bookkeeping over a clock passed in, so the
 * unit tests drive it with made-up times. The thread (started by the coordinator, enabled
 * while the member is in a generation) reads these clocks under the coordinator's lock:
 *
 *   loop: wait until enabled
 *         session expired (no answer for session.timeout.ms)  -> coordinator unknown
 *         poll interval expired                               -> LeaveGroup, rejoin later
 *         time for a heartbeat                                -> Heartbeat (its own connection)
 *            NONE: received;  REBALANCE_IN_PROGRESS: rejoin at the next poll();
 *            ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID: out of the group, rejoin;
 *            NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE: find the coordinator again
 *
 * Thread: mk_heartbeat_* are called with the coordinator's lock held (any thread).
 */
#ifndef MK_CONSUMER_HEARTBEAT_H
#define MK_CONSUMER_HEARTBEAT_H

#include <stdbool.h>
#include <stdint.h>

struct mk_consumer_coordinator;

struct mk_heartbeat {
  int64_t session_timeout_ms, heartbeat_interval_ms, max_poll_interval_ms, retry_backoff_ms;
  int64_t heartbeat_deadline;  /* when the next heartbeat is due */
  int64_t session_deadline;    /* no successful answer by then: the session is lost */
  int64_t poll_deadline;       /* poll() not called by then: leave the group */
  int64_t last_sent_ms;
  bool in_flight;              /* a Heartbeat request awaits its answer */
};

void mk_heartbeat_init(struct mk_heartbeat *h, int64_t session_timeout_ms,
                       int64_t heartbeat_interval_ms, int64_t max_poll_interval_ms,
                       int64_t retry_backoff_ms, int64_t now_ms);
/* poll() was called. */
void mk_heartbeat_poll(struct mk_heartbeat *h, int64_t now_ms);
/* A Heartbeat request was sent / answered (any answer from the coordinator counts as
 * "received": it proves the session) / failed (no answer, or an error: retry after
 * retry.backoff.ms). */
void mk_heartbeat_sent(struct mk_heartbeat *h, int64_t now_ms);
void mk_heartbeat_received(struct mk_heartbeat *h, int64_t now_ms);
void mk_heartbeat_failed(struct mk_heartbeat *h, int64_t now_ms);
/* A new generation, or a coordinator found again: all three clocks start over. */
void mk_heartbeat_reset_timeouts(struct mk_heartbeat *h, int64_t now_ms);
bool mk_heartbeat_should_heartbeat(const struct mk_heartbeat *h, int64_t now_ms);
bool mk_heartbeat_session_expired(const struct mk_heartbeat *h, int64_t now_ms);
bool mk_heartbeat_poll_expired(const struct mk_heartbeat *h, int64_t now_ms);
/* ms until the next heartbeat is due (0 if now). */
int64_t mk_heartbeat_time_to_next(const struct mk_heartbeat *h, int64_t now_ms);

/* The thread (heartbeat.c), started and stopped by the coordinator. start returns 0 or an
 * errno-style error from pthread_create. stop wakes it, unblocks its socket and joins it. */
int mk_heartbeat_thread_start(struct mk_consumer_coordinator *cc);
void mk_heartbeat_thread_stop(struct mk_consumer_coordinator *cc);

#endif
