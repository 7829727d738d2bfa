/*
 * ConsumerCoordinator: one member's side of a classic consumer group.
 * Kafka: clients/.../consumer/internals/AbstractCoordinator.java (membership: find the
 * coordinator, join, sync, heartbeat, leave) and ConsumerCoordinator.java (what a consumer
 * adds: subscriptions as protocol metadata, the leader's assignment, committed offsets).
 *
 * The member's states (AbstractCoordinator.MemberState) and the requests between them:
 *
 *   UNJOINED --JoinGroup--> PREPARING_REBALANCE --answer--> COMPLETING_REBALANCE
 *      ^                                                          |  SyncGroup (the leader
 *      | LeaveGroup, or an error that                             |  sends everyone's share)
 *      | ends the membership                                      v
 *      +------------------------------------------------------ STABLE  <-- Heartbeat
 *                                      REBALANCE_IN_PROGRESS: join again (same member id)
 *
 * A join, in poll() on the app thread (joinGroupIfNeeded):
 *   1. FindCoordinator (key = group.id): the broker leading the group's partition of
 *      __consumer_offsets. NOT_COORDINATOR and friends later send us back here.
 *   2. onJoinPrepare: with enable.auto.commit, commit the positions; then revoke every
 *      partition (eager protocol: the rebalance listener's onPartitionsRevoked).
 *   3. JoinGroup: protocol type "consumer", one protocol per assignor we offer, each with
 *      our subscription (consumer_protocol.h). The coordinator holds the request until every
 *      member has joined (or the rebalance timeout, max.poll.interval.ms, passes). From
 *      v4 a new member is first refused with MEMBER_ID_REQUIRED and an id to come back with.
 *   4. The answer names the generation, the chosen protocol and the leader. The leader also
 *      gets every member's subscription: it fetches metadata for all their topics, runs the
 *      assignor and puts each member's share in its SyncGroup; the others send an empty one.
 *   5. SyncGroup's answer is our share: the subscription state takes it, each partition to
 *      start from the group's committed offset (OffsetFetch; none: auto.offset.reset), and
 *      the listener's onPartitionsAssigned runs. The heartbeat thread is enabled.
 *
 * Commits (OffsetCommit, in committed_offsets.c) carry the generation and member id, so a
 * member that has been replaced cannot overwrite its successor's progress: ILLEGAL_GENERATION
 * or UNKNOWN_MEMBER_ID end its membership and it joins again.
 *
 * Thread: app, except the fields marked "lock", which the heartbeat thread shares.
 */
#ifndef MK_CONSUMER_CONSUMER_COORDINATOR_H
#define MK_CONSUMER_CONSUMER_COORDINATOR_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/client.h"
#include "consumer/consumer.h"
#include "protocol/arena.h"
#include "consumer/heartbeat.h"

enum mk_member_state {
  MK_MEMBER_UNJOINED,
  MK_MEMBER_PREPARING_REBALANCE,
  MK_MEMBER_COMPLETING_REBALANCE,
  MK_MEMBER_STABLE,
};

/* No generation (Kafka's Generation.NO_GENERATION). */
enum { MK_NO_GENERATION = -1 };

/* A topic's partition count, as known when the group's assignment was made. */
struct mk_partition_count {
  char *topic;
  int32_t partitions;
};

struct mk_consumer_coordinator {
  /* Set at creation, read-only after. */
  struct mk_consumer *consumer;
  const struct mk_consumer_config *cfg;

  /* App thread only. */
  struct mk_client_conn conn;          /* to the coordinator, on the consumer's client */
  int32_t conn_node;                   /* the coordinator conn was opened for (-1: none) */
  int64_t next_auto_commit_ms;
  bool join_prepared;                  /* onJoinPrepare ran for the rebalance under way */
  struct mk_partition_count *snapshot; /* leader: partition counts it last assigned from */
  int nsnapshot;

  /* lock: shared with the heartbeat thread. */
  pthread_mutex_t lock;
  pthread_cond_t wake;                 /* the heartbeat thread waits on it */
  bool coordinator_known;
  int32_t coordinator_node;
  char coordinator_host[256];
  int coordinator_port;
  uint32_t coordinator_epoch;          /* bumped when the coordinator changes */
  enum mk_member_state state;
  int32_t generation;
  char member_id[256];
  char protocol[32];                   /* the assignor the coordinator chose */
  bool leader;
  bool rejoin_needed;
  char rejoin_reason[192];
  int fatal_code;                      /* an error the heartbeat thread met for poll() */
  char fatal_msg[192];
  struct mk_heartbeat heartbeat;
  bool hb_started, hb_enabled, hb_closing;
  int hb_wake[2];                      /* a pipe: stop() writes, the thread's waits end */
  pthread_t hb_thread;

  /* Heartbeat thread only. */
  struct mk_client hb_client;
  struct mk_client_conn hb_conn;
  uint32_t hb_conn_epoch;              /* the coordinator_epoch hb_conn points at */
};

/* Set up cc for consumer c (group.id set). Returns 0 or an error. */
int mk_consumer_coordinator_init(struct mk_consumer_coordinator *cc, struct mk_consumer *c,
                                 struct mk_err *err);
/* Stop the heartbeat thread and free. No request is sent (see _close). */
void mk_consumer_coordinator_free(struct mk_consumer_coordinator *cc);

/* ConsumerCoordinator.poll: find the coordinator, join if needed (subscribe() only), and
 * auto-commit when due. Waits through a join in progress (the coordinator holds JoinGroup
 * until every member has joined). Returns 0, MK_ERR__TIMED_OUT when the coordinator could
 * not be found by deadline_ms (poll() then just returns no records), MK_ERR__STATE when
 * woken up, or a fatal error. */
int mk_consumer_coordinator_poll(struct mk_consumer_coordinator *cc, int64_t deadline_ms,
                                 struct mk_err *err);

/* Commit offsets[i] for parts[i] (OffsetCommit with our generation and member id, or -1
 * and "" outside a generation: a "simple" commit). Retries coordinator errors until
 * deadline_ms. Returns 0 or the error (err). */
int mk_consumer_coordinator_commit(struct mk_consumer_coordinator *cc,
                                   const struct mk_topic_partition *parts, const int64_t *offsets,
                                   int n, int64_t deadline_ms, struct mk_err *err);

/* The group's committed offsets of parts (-1: none): OffsetFetch, retried until
 * deadline_ms. Returns 0 or the error. */
int mk_consumer_coordinator_fetch_committed(struct mk_consumer_coordinator *cc,
                                            const struct mk_topic_partition *parts, int n,
                                            int64_t *offsets, int64_t deadline_ms,
                                            struct mk_err *err);

/* Every offset the group has committed (OffsetFetch with topics null, v2+): fn(opaque,
 * topic, partition, offset) for each. Returns 0 or the error. */
int mk_consumer_coordinator_fetch_all_committed(struct mk_consumer_coordinator *cc,
                                                void (*fn)(void *, const char *, int32_t, int64_t),
                                                void *opaque, int64_t deadline_ms,
                                                struct mk_err *err);

/* Start the partitions in AWAIT_COMMITTED at the group's committed offsets (the rest go
 * to AWAIT_RESET). Returns 0, MK_ERR__TIMED_OUT (try again), or an error. */
int mk_consumer_coordinator_refresh_committed(struct mk_consumer_coordinator *cc,
                                              int64_t deadline_ms, struct mk_err *err);

/* Metadata was refreshed: a leader that sees a partition count differ from the one it
 * assigned from asks for a rebalance (ConsumerCoordinator.rejoinNeededOrPending). */
void mk_consumer_coordinator_metadata_updated(struct mk_consumer_coordinator *cc);

/* The topics of the leader's snapshot (which metadata refreshes must include), into out
 * (up to max); returns how many there are. */
int mk_consumer_coordinator_snapshot_topics(struct mk_consumer_coordinator *cc,
                                            const char **out, int max);

/* subscribe() was called again: join again with the new topics. */
void mk_consumer_coordinator_request_rejoin(struct mk_consumer_coordinator *cc,
                                            const char *reason);

/* close(): auto commit (if on), onPartitionsRevoked, LeaveGroup (dynamic members,
 * internal.leave.group.on.close), all by deadline_ms. */
void mk_consumer_coordinator_close(struct mk_consumer_coordinator *cc, int64_t deadline_ms);

void mk_consumer_coordinator_group_metadata(struct mk_consumer_coordinator *cc,
                                            struct mk_consumer_group_metadata *out);

/* ---- for committed_offsets.c and heartbeat.c ------------------------------------------- */

/* The generation and member id a request is sent with. */
struct mk_generation {
  int32_t id;
  char member_id[256];
};

/* The current generation and member id (takes cc->lock). */
struct mk_generation mk_coordinator_generation(struct mk_consumer_coordinator *cc);
/* Whether g is still the current generation (cc->lock held): a handler that changes the
 * membership after a request first checks it (Java's generationUnchanged). */
bool mk_coordinator_generation_unchanged_locked(struct mk_consumer_coordinator *cc,
                                                const struct mk_generation *g);
/* Until deadline_ms: know the coordinator and have cc->conn point at it
 * (ensureCoordinatorReady). Returns 0, MK_ERR__TIMED_OUT, MK_ERR__STATE (woken), or a
 * fatal error. */
int mk_coordinator_ensure(struct mk_consumer_coordinator *cc, int64_t deadline_ms,
                          struct mk_err *err);
/* The version cc->conn speaks for api_key, or -1 with err set (a connection that cannot
 * open forgets the coordinator). */
int mk_coordinator_version(struct mk_consumer_coordinator *cc, int api_key, struct mk_err *err);
/* Send body to the coordinator and wait for the answer (timeout_ms, or request.timeout.ms
 * when 0); a transport failure forgets the coordinator. Returns 0, MK_ERR__STATE (woken),
 * or a transport error. resp lives in a. */
int mk_coordinator_call(struct mk_consumer_coordinator *cc, int api_key, const void *body,
                        void **resp, struct mk_arena *a, int timeout_ms, struct mk_err *err);
/* Forget the coordinator (takes cc->lock) and close cc->conn. */
void mk_coordinator_forget(struct mk_consumer_coordinator *cc, const char *why);
/* Errors after which a coordinator request is retried at the coordinator found again. */
bool mk_coordinator_moved(int code);
/* Ask for a rebalance (cc->lock held). */
void mk_coordinator_rejoin_locked(struct mk_consumer_coordinator *cc, const char *reason);
/* Out of the generation, join again; the member id is kept unless reset_member_id (cc->lock
 * held; Java's resetStateAndRejoin). */
void mk_coordinator_reset_locked(struct mk_consumer_coordinator *cc, const char *reason,
                                 bool reset_member_id);

/* ---- for the heartbeat thread (heartbeat.c), called with cc->lock held ----------------- */

/* Handle a Heartbeat answer's error code (AbstractCoordinator.HeartbeatResponseHandler). */
void mk_consumer_coordinator_heartbeat_answer(struct mk_consumer_coordinator *cc, int16_t code,
                                              int32_t generation, int64_t now_ms);
/* Forget the coordinator (it moved or stopped answering); poll() finds it again. */
void mk_consumer_coordinator_mark_unknown(struct mk_consumer_coordinator *cc, const char *why);
/* Leave the group from the heartbeat thread (max.poll.interval.ms passed): LeaveGroup sent
 * on conn, then the member is reset. Called with the lock held; drops it around the I/O. */
void mk_consumer_coordinator_leave_locked(struct mk_consumer_coordinator *cc,
                                          struct mk_client_conn *conn, const char *reason);

#endif
