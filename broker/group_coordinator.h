/*
 * Group coordinator: Kafka's classic consumer group protocol, as a state machine.
 * Kafka: GroupCoordinator.scala (the old coordinator) and the classic-group half of
 * GroupMetadataManager.java / OffsetMetadataManager.java (the new one, Kafka 4.0).
 *
 * How a group forms (group_metadata.h draws the states):
 *
 *   member A  JoinGroup(member "")  -> MEMBER_ID_REQUIRED, member id "A-…" (v4+)
 *   member A  JoinGroup("A-…")      -> parked: Empty -> PreparingRebalance; the first join
 *                                      waits group.initial.rebalance.delay.ms, longer while
 *                                      members keep arriving (up to the rebalance timeout)
 *   member B  JoinGroup("B-…")      -> parked
 *             join phase over       -> generation 1, protocol chosen by vote,
 *                                      PreparingRebalance -> CompletingRebalance; every
 *                                      parked JoinGroup answered; the leader's answer lists
 *                                      the members and their subscriptions
 *   member B  SyncGroup(no assignment)  -> parked
 *   leader A  SyncGroup(assignments)    -> the group's metadata is appended to
 *                                      __consumer_offsets; once committed (the HW passed
 *                                      it): CompletingRebalance -> Stable, every parked
 *                                      SyncGroup answered with its member's assignment
 *   both      Heartbeat every few seconds; REBALANCE_IN_PROGRESS tells them to rejoin
 *   both      OffsetCommit(generation, member) -> appended, answered once committed
 *
 * A member that joins or leaves, changes its subscription, or misses its session timeout
 * (member_expired) starts the next rebalance: Stable -> PreparingRebalance, and members
 * that do not rejoin within the rebalance timeout are dropped. Static members
 * (group.instance.id) may rejoin without a rebalance; a second instance with the same id
 * fences the first (FENCED_INSTANCE_ID).
 *
 * Everything here is driven from outside: requests arrive through the functions below,
 * time through the runtime's clock and mk_group_coordinator_poll() (the deadlines of the
 * join phase, the sync phase, sessions and offset expiry), records leave through the
 * runtime's append and come back through load. No sockets, no timers of its own: unit
 * tests drive it with a clock and a writer of their own (tests/unit/test_group_coordinator.c).
 *
 * Parked requests: mk_group_join and mk_group_sync may answer at once or later; their
 * callback runs exactly once either way. Callbacks must not call back into the coordinator
 * (they encode and send an answer).
 *
 * Trace events (DESIGN.md 3.5): group_join, group_sync, rebalance (from, to, reason),
 * member_expired, offset_commit.
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_GROUP_COORDINATOR_H
#define MK_BROKER_GROUP_COORDINATOR_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/group_metadata.h"
#include "broker/group_metadata_manager.h"
#include "protocol/arena.h"
#include "protocol/messages/describe_groups.h"
#include "protocol/messages/heartbeat.h"
#include "protocol/messages/join_group.h"
#include "protocol/messages/leave_group.h"
#include "protocol/messages/list_groups.h"
#include "protocol/messages/offset_delete.h"
#include "protocol/messages/offset_fetch.h"
#include "protocol/messages/sync_group.h"

/* How long a new member's parked JoinGroup may wait before it is dropped (Kafka's
 * group.classic.new.member.join.timeout.ms / NewMemberJoinTimeoutMs). */
#define MK_GROUP_NEW_MEMBER_JOIN_TIMEOUT_MS 300000

/* Who asks: what the coordinator needs to know about a request besides its body. */
struct mk_group_context {
  int16_t api_version;
  int32_t broker_id;         /* the broker it was sent to: the coordinator must be it */
  struct mk_str client_id;
  struct mk_str client_host; /* "/127.0.0.1", as Kafka writes a client address */
};

struct mk_group_coordinator {
  struct mk_group_config cfg;
  struct mk_group_runtime rt;
  struct mk_group_metadata_manager mgr;
  int64_t next_deadline_ms;  /* no deadline is earlier than this; -1: none */
  int64_t next_cleanup_ms;   /* the next offset expiry check */
  uint64_t next_serial;      /* for struct mk_group.serial */
  uint64_t rng;              /* member ids' random part (xorshift) */
};

/* Set up a coordinator that owns no partition yet. Copies cfg and rt. Returns 0 or
 * MK_ERR__NO_MEMORY. */
int mk_group_coordinator_init(struct mk_group_coordinator *c, const struct mk_group_config *cfg,
                              const struct mk_group_runtime *rt);
/* Answer every parked request COORDINATOR_NOT_AVAILABLE and free everything. */
void mk_group_coordinator_free(struct mk_group_coordinator *c);

/* ---- partitions: elections and resignations (Kafka's onElection / onResignation) ------- */

/* Partition p's groups become broker `owner`'s, as loaded by mk_group_load_begin/record/
 * end (group_metadata_manager.h) just before: each loaded member gets a session deadline
 * from now, and a group over group.max.size rebalances. */
void mk_group_coordinator_loaded(struct mk_group_coordinator *c, int32_t p, int32_t owner,
                                 int32_t leader_epoch);
/* Partition p is no longer ours: its groups die, their parked requests are answered
 * NOT_COORDINATOR, and they are forgotten. */
void mk_group_coordinator_unload(struct mk_group_coordinator *c, int32_t p);

/* ---- the APIs ---------------------------------------------------------------------------- */

/* Kafka's JoinGroupResult(memberId, error): r as an error answer to JoinGroup (generation
 * -1, no protocol, no leader). Borrows member_id. */
void mk_group_join_error_response(struct mk_join_group_response *r, struct mk_str member_id,
                                  int16_t error);

/* JoinGroup. in has been normalized by the caller (v0: rebalance timeout = session
 * timeout). cb runs exactly once, now or when the join phase ends. Borrows in. */
void mk_group_join(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                   const struct mk_join_group_request *in, mk_join_callback *cb, void *arg);

/* SyncGroup. cb runs exactly once, now or when the leader's assignment is stored. */
void mk_group_sync(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                   const struct mk_sync_group_request *in, mk_sync_callback *cb, void *arg);

/* Heartbeat: returns the error code to answer (0 = none). */
int16_t mk_group_heartbeat(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                           const struct mk_heartbeat_request *in);

/* LeaveGroup for members[0..n) (v0-2 callers pass one member made from member_id). Fills
 * errors[i] for each and returns the top-level error. */
int16_t mk_group_leave(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                       struct mk_str group_id, const struct mk_leave_group_member_identity *members,
                       int n, int16_t *errors);

/* OffsetCommit of offsets[0..n) (topics the cluster knows; the caller answers the others).
 * cb(arg, errors) runs exactly once, now or when the commit is acknowledged; errors[i] is
 * offsets[i]'s, valid during the call (NULL: out of memory, every offset failed with
 * UNKNOWN_SERVER_ERROR). Borrows offsets (copied). */
typedef void mk_commit_callback(void *arg, const int16_t *errors);
void mk_group_commit_offsets(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                             struct mk_str group_id, struct mk_str member_id,
                             struct mk_str group_instance_id, int32_t generation_id,
                             const struct mk_offset_commit *offsets, int n,
                             mk_commit_callback *cb, void *arg);

/* TxnOffsetCommit: as mk_group_commit_offsets, for producer_id's transaction at
 * producer_epoch: the offsets are staged until the transaction ends (validation as Kafka's
 * for a transactional commit: no member needed for v0-2 requests, no rebalance check). */
void mk_group_commit_txn_offsets(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                                 struct mk_str group_id, struct mk_str member_id,
                                 struct mk_str group_instance_id, int32_t generation_id,
                                 int64_t producer_id, int16_t producer_epoch,
                                 const struct mk_offset_commit *offsets, int n,
                                 mk_commit_callback *cb, void *arg);

/* A transaction marker of producer_id was committed in __consumer_offsets partition
 * `partition`: its staged offsets in that partition's groups are applied (commit) or dropped
 * (Kafka's GroupCoordinator.onTransactionCompleted). */
void mk_group_coordinator_txn_completed(struct mk_group_coordinator *c, int32_t partition,
                                        int64_t producer_id, bool commit);

/* OffsetFetch for one group: topics[0..ntopics), or every committed offset when ntopics is
 * -1. Fills out (v8+ layout; strings point into the group, valid until the coordinator
 * next changes; arrays from arena). */
void mk_group_fetch_offsets(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                            struct mk_str group_id, bool require_stable,
                            const struct mk_offset_fetch_request_topics *topics, int32_t ntopics,
                            struct mk_offset_fetch_response_group *out, struct mk_arena *arena);

/* DescribeGroups for one group (out's strings as for fetch). */
void mk_group_describe(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                       struct mk_str group_id, struct mk_describe_groups_described_group *out,
                       struct mk_arena *arena);

/* ListGroups: the groups this broker coordinates, filtered by state and type names (empty
 * filters match all; compared without case). Fills out->groups from arena. */
void mk_group_list(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                   const struct mk_str *states, int32_t nstates, const struct mk_str *types,
                   int32_t ntypes, struct mk_list_groups_response *out, struct mk_arena *arena);

/* DeleteGroups for one group: returns its error (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, ...). */
int16_t mk_group_delete(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                        struct mk_str group_id);

/* OffsetDelete: returns the group-level error; on 0, errors[i] is topics/partitions' i-th
 * partition's (in request order). */
int16_t mk_group_delete_offsets(struct mk_group_coordinator *c, const struct mk_group_context *ctx,
                                struct mk_str group_id,
                                const struct mk_offset_delete_request_topic *topics, int32_t n,
                                int16_t *errors);

/* ---- time ---------------------------------------------------------------------------------- */

/* Act on every deadline that has passed: join phases ending, syncs and sessions expiring,
 * pending member ids forgotten, offsets expiring. */
void mk_group_coordinator_poll(struct mk_group_coordinator *c);
/* When poll next has something to do (wall ms), or -1 for never. */
int64_t mk_group_coordinator_next_deadline(const struct mk_group_coordinator *c);

#endif
