/*
 * Group metadata: one classic consumer group as its coordinator holds it — members, state,
 * generation, protocol, leader, committed offsets. Kafka: GroupMetadata.scala and
 * MemberMetadata.scala (the old coordinator), ClassicGroup.java and ClassicGroupMember.java
 * (the new one). No I/O and no clock: group_coordinator.c decides what happens; this file
 * keeps the books and enforces the state diagram.
 *
 *                       join (first member)
 *           +-------+ -------------------> +--------------------+
 *           | Empty |                      | PreparingRebalance | <--+ join / leave / expiry
 *           +-------+ <------------------- +--------------------+    | of a member,
 *               ^      join phase over,              | join phase    | leader rejoins
 *               |      nobody rejoined               v over          |
 *               |                          +---------------------+   |
 *      (any) ---+-> Dead                   | CompletingRebalance | --+
 *   (unloaded, deleted,                    +---------------------+   |
 *    offsets expired)                                | the leader's  |
 *                                                    v assignment    |
 *                                               +--------+           |
 *                                               | Stable | ----------+
 *                                               +--------+
 *
 * mk_group_transition() refuses any other move (an assert: it is our bug, not input).
 *
 * A member has two "awaiting" states while its request is parked: awaiting join (its
 * JoinGroup waits for the join phase to end) and awaiting sync (its SyncGroup waits for
 * the leader's assignment). Each holds a callback that is invoked exactly once, by
 * mk_group_invoke_join / mk_group_invoke_sync, with the answer.
 *
 * Memory: a group owns its members, its pending member ids and its offsets (all malloc'ed
 * copies of what requests carried). `bytes` counts what members and pending ids hold, so
 * the coordinator can bound a group by size (a group's metadata is one record in
 * __consumer_offsets and must fit one).
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_GROUP_METADATA_H
#define MK_BROKER_GROUP_METADATA_H

#include <stdbool.h>
#include <stdint.h>

#include "common/str_map.h"
#include "protocol/arena.h"
#include "protocol/messages/join_group.h"
#include "protocol/messages/sync_group.h"
#include "protocol/primitives.h"

enum mk_group_state {
  MK_GROUP_EMPTY,
  MK_GROUP_PREPARING_REBALANCE,
  MK_GROUP_COMPLETING_REBALANCE,
  MK_GROUP_STABLE,
  MK_GROUP_DEAD,
};

/* Kafka's names: "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead". */
const char *mk_group_state_name(enum mk_group_state s);
/* The state named s, compared without case (ListGroups' states filter); -1 if none. */
int mk_group_state_parse(struct mk_str s);

/* The answers of a parked JoinGroup / SyncGroup, invoked exactly once. resp and what it
 * points to are valid during the call only. */
typedef void mk_join_callback(void *arg, const struct mk_join_group_response *resp);
typedef void mk_sync_callback(void *arg, const struct mk_sync_group_response *resp);

struct mk_group_protocol {
  char *name;
  uint8_t *metadata;
  int32_t metadata_len;
};

/* MemberMetadata. */
struct mk_group_member {
  char *member_id;
  char *group_instance_id;        /* static membership, or NULL */
  char *client_id;
  char *client_host;
  int32_t rebalance_timeout_ms;
  int32_t session_timeout_ms;
  struct mk_group_protocol *protocols;  /* in the member's order of preference */
  int nprotocols;
  uint8_t *assignment;            /* what the leader gave it in the current generation */
  int32_t assignment_len;
  /* Parked requests. */
  mk_join_callback *join_cb;      /* awaiting join when set */
  void *join_arg;
  mk_sync_callback *sync_cb;      /* awaiting sync when set */
  void *sync_arg;
  /* Liveness (Kafka's heartbeat timer): each heartbeat, commit or answer moves the
   * deadline one session timeout ahead; at the deadline the member expires unless it is
   * waiting in a parked request (mk_member_has_satisfied_heartbeat). */
  bool is_new;                    /* joined in this rebalance, no JoinGroup answer yet */
  int64_t heartbeat_deadline_ms;  /* -1: none */
  bool pending_sync;              /* expected to send SyncGroup in this generation */
  int64_t bytes;                  /* what it holds, for the group's bound */
  struct mk_group_member *prev, *next;  /* the group's members, in joining order */
};

static inline bool mk_member_awaiting_join(const struct mk_group_member *m) {
  return m->join_cb != NULL;
}
static inline bool mk_member_awaiting_sync(const struct mk_group_member *m) {
  return m->sync_cb != NULL;
}
/* Kafka's hasSatisfiedHeartbeat, asked at the deadline: a new member has not proved itself
 * (its JoinGroup may be a retry from a client long gone); an old one waiting in a parked
 * JoinGroup or SyncGroup is alive by definition; anyone else missed its heartbeats. */
bool mk_member_has_satisfied_heartbeat(const struct mk_group_member *m);
/* The member's metadata for protocol `name`, or NULL if it does not support it. */
const struct mk_group_protocol *mk_member_protocol(const struct mk_group_member *m,
                                                   const char *name);

/* A committed offset (Kafka's OffsetAndMetadata), and the commits still being written. */
struct mk_group_offset {
  char *key;                /* topic, NUL, partition (4 bytes): the map key */
  size_t key_len;
  const char *topic;        /* points into key */
  int32_t partition;
  bool committed;           /* the fields below hold a committed value */
  int64_t offset;
  int32_t leader_epoch;     /* -1: none */
  char *metadata;
  int64_t commit_timestamp_ms;
  int64_t expire_timestamp_ms;  /* -1: none (the broker's offsets.retention.minutes) */
  int64_t record_offset;    /* where in __consumer_offsets it was written, -1 if unknown */
  int pending;              /* commits appended and not yet acknowledged (require_stable) */
};

/* An offset a transaction committed (TxnOffsetCommit), waiting for the transaction's marker
 * (Kafka's pendingTransactionalOffsetCommits): a COMMIT makes it the committed offset, an
 * ABORT drops it. Until then OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT
 * for its partition. */
struct mk_group_txn_offset {
  int64_t producer_id;
  char *topic;
  int32_t partition;
  int64_t offset;
  int32_t leader_epoch;
  char *metadata;
  int64_t commit_timestamp_ms;
  bool written;             /* its record is in __consumer_offsets (acknowledged, or loaded) */
  struct mk_group_txn_offset *next;
};

struct mk_group {
  char *group_id;
  uint64_t serial;                 /* unique per group object: answers that arrive later
                                      (a write acknowledged) check they still have it */
  int32_t partition;               /* its __consumer_offsets partition */
  enum mk_group_state state;
  enum mk_group_state previous_state;
  int64_t state_timestamp_ms;      /* when it entered the state (wall clock); -1 unknown */
  char *protocol_type;             /* NULL until the first member joins */
  char *protocol_name;             /* the generation's protocol, or NULL */
  int32_t generation_id;
  struct mk_group_member *leader;  /* NULL when empty */

  struct mk_group_member *members, *members_tail;  /* joining order */
  int nmembers;
  struct mk_str_map member_map;    /* member id -> member */
  struct mk_str_map static_map;    /* group.instance.id -> member */
  struct mk_str_map pending;       /* pending member id -> struct mk_group_pending */
  struct mk_str_map protocol_counts; /* protocol name -> struct mk_protocol_count */
  int num_awaiting_join;
  int num_pending_sync;
  bool new_member_added;           /* during the initial join delay: extend it */

  /* The join phase (Kafka's DelayedJoin / InitialDelayedJoin) and the sync phase
   * (DelayedSync), as deadlines the coordinator's poll acts on. */
  int64_t join_deadline_ms;        /* -1: none */
  bool join_initial;               /* the initial delay: no early completion */
  int32_t join_delay_ms, join_remaining_ms;
  int64_t sync_deadline_ms;        /* -1: none */
  int32_t sync_generation;

  /* Subscribed topics (protocol type "consumer"): the union of the members' subscriptions,
   * computed at each new generation. known is false when it could not be computed. */
  bool subscribed_known;
  char **subscribed;
  int nsubscribed;

  struct mk_str_map offsets;       /* key -> struct mk_group_offset */
  struct mk_group_txn_offset *txn_offsets;  /* transactions' offsets awaiting their marker */

  int64_t bytes;                   /* members' and pending ids' memory */
  bool loaded_metadata;            /* while loading: a metadata record has been read */
  struct mk_group *next;           /* the coordinator's list of groups */
};

/* A member id handed out with MEMBER_ID_REQUIRED, not yet joined. */
struct mk_group_pending {
  char *member_id;
  int64_t deadline_ms;             /* it is forgotten then (the session timeout) */
};

/* A NUL-terminated malloc'ed copy of s, or NULL for a null s; *ok becomes false if out of
 * memory. (The group keeps copies of what requests carried.) */
char *mk_group_copy_str(struct mk_str s, bool *ok);

/* A new Empty group at generation 0 (state timestamp now_ms). NULL if out of memory. */
struct mk_group *mk_group_new(const char *group_id, int32_t partition, int64_t now_ms);
/* Free the group and everything it owns. Parked callbacks must have been invoked. */
void mk_group_free(struct mk_group *g);

/* Move to state `to`, stamping now_ms. Asserts the move is one of the diagram's. */
void mk_group_transition(struct mk_group *g, enum mk_group_state to, int64_t now_ms);
/* Kafka's canRebalance: Stable, CompletingRebalance or Empty. */
bool mk_group_can_rebalance(const struct mk_group *g);

struct mk_group_member *mk_group_find(const struct mk_group *g, struct mk_str member_id);
struct mk_group_member *mk_group_find_static(const struct mk_group *g, struct mk_str instance_id);
bool mk_group_is_pending(const struct mk_group *g, struct mk_str member_id);

/* A member made from a JoinGroup (copies everything). NULL if out of memory. */
struct mk_group_member *mk_group_member_new(struct mk_str member_id, struct mk_str instance_id,
                                            struct mk_str client_id, struct mk_str client_host,
                                            int32_t rebalance_timeout_ms,
                                            int32_t session_timeout_ms,
                                            const struct mk_join_group_request_protocol *protocols,
                                            int nprotocols);
void mk_group_member_free(struct mk_group_member *m);
/* The bytes a member made from this JoinGroup would hold (checked against the bound before
 * anything is copied). */
int64_t mk_group_member_size(struct mk_str member_id, struct mk_str instance_id,
                             struct mk_str client_id, struct mk_str client_host,
                             const struct mk_join_group_request_protocol *protocols,
                             int nprotocols);

/* Kafka's add: the group takes m; the first member sets the protocol type and becomes
 * leader; join_cb (may be NULL) parks its JoinGroup. A pending id of the same name is
 * dropped. Returns 0 or -1 if out of memory (m is then still the caller's). */
int mk_group_add(struct mk_group *g, struct mk_group_member *m, struct mk_str protocol_type,
                 mk_join_callback *join_cb, void *join_arg);
/* Take m out and free it; a new leader is chosen when m led. Its parked callbacks must have
 * been invoked. */
void mk_group_remove(struct mk_group *g, struct mk_group_member *m);
/* Replace a member's protocols and timeouts, and park (or un-park, with NULL) its JoinGroup.
 * Returns 0 or -1 if out of memory (nothing changed). */
int mk_group_update_member(struct mk_group *g, struct mk_group_member *m,
                           const struct mk_join_group_request_protocol *protocols, int nprotocols,
                           int32_t rebalance_timeout_ms, int32_t session_timeout_ms,
                           mk_join_callback *join_cb, void *join_arg);
/* Kafka's replaceStaticMember, the renaming: m takes a new member id (copied). Its parked
 * requests must have been answered (FENCED_INSTANCE_ID) by the caller. Returns 0 or -1 if
 * out of memory (nothing changed). */
int mk_group_replace_member_id(struct mk_group *g, struct mk_group_member *m,
                               const char *new_member_id);
/* Whether the member's protocols are exactly these (names and metadata, in order). */
bool mk_group_member_matches(const struct mk_group_member *m,
                             const struct mk_join_group_request_protocol *protocols, int n);

/* Remember a member id handed out with MEMBER_ID_REQUIRED until deadline_ms.
 * Returns 0 or -1 if out of memory. */
int mk_group_add_pending(struct mk_group *g, const char *member_id, int64_t deadline_ms);
void mk_group_remove_pending(struct mk_group *g, struct mk_str member_id);

/* Kafka's supportsProtocols: an Empty group takes any non-empty type and protocol list;
 * otherwise the type must match and one of the protocols must be supported by every member. */
bool mk_group_supports_protocols(const struct mk_group *g, struct mk_str protocol_type,
                                 const struct mk_join_group_request_protocol *protocols, int n);
/* Kafka's selectProtocol: among the protocols every member supports, each member votes for
 * its most preferred; the most votes wins (ties: the first member's vote). NULL if none. */
const char *mk_group_select_protocol(const struct mk_group *g);

/* Every member has rejoined and no member id is pending (hasAllMembersJoined). */
bool mk_group_all_members_joined(const struct mk_group *g);
/* The largest rebalance timeout among the members (0 when empty). */
int32_t mk_group_rebalance_timeout_ms(const struct mk_group *g);

/* Kafka's maybeElectNewJoinedLeader: if the leader has not rejoined, the first member that
 * has becomes leader. False when no member has rejoined (or the group is empty). */
bool mk_group_elect_joined_leader(struct mk_group *g);

/* Kafka's initNextGeneration: generation + 1, the protocol selected (none when empty), the
 * subscribed topics recomputed, pending syncs cleared; to CompletingRebalance (or Empty). */
void mk_group_init_next_generation(struct mk_group *g, int64_t now_ms);
/* Recompute the subscribed topics from the members' metadata (protocol type "consumer"). */
void mk_group_compute_subscribed_topics(struct mk_group *g);
/* Whether the consumers subscribe to topic (true when unknown, to be safe). */
bool mk_group_is_subscribed(const struct mk_group *g, struct mk_str topic);

/* Invoke a parked JoinGroup's / SyncGroup's callback with resp, once, and un-park it.
 * Returns whether there was one. */
bool mk_group_invoke_join(struct mk_group *g, struct mk_group_member *m,
                          const struct mk_join_group_response *resp);
bool mk_group_invoke_sync(struct mk_group_member *m, const struct mk_sync_group_response *resp);

/* Set the member's assignment (copied; len 0 clears). Returns 0 or -1 if out of memory. */
int mk_group_member_set_assignment(struct mk_group *g, struct mk_group_member *m,
                                   const uint8_t *bytes, int32_t len);

/* ---- offsets ------------------------------------------------------------------------------ */

/* The offset entry for topic/partition, or NULL. create: make an empty (uncommitted) one.
 * Returns NULL if out of memory when creating. */
struct mk_group_offset *mk_group_offset(struct mk_group *g, struct mk_str topic,
                                        int32_t partition, bool create);
/* Drop an entry. */
void mk_group_offset_remove(struct mk_group *g, struct mk_group_offset *o);
/* The group's offset entries sorted by topic, then partition, in an array from arena; *n
 * gets their count. NULL (and *n 0) when there are none or out of memory. */
struct mk_group_offset **mk_group_offsets_sorted(const struct mk_group *g, struct mk_arena *arena,
                                                 int32_t *n);
/* Whether the group holds any offset, committed or pending, transactional ones included
 * (Kafka's hasOffsets). */
bool mk_group_has_offsets(const struct mk_group *g);

/* ---- transactions' offsets ------------------------------------------------------------------- */

/* Stage an offset of producer_id's transaction (copies topic and metadata), replacing one it
 * staged for the same partition. Returns 0 or -1 if out of memory. */
int mk_group_add_txn_offset(struct mk_group *g, int64_t producer_id, struct mk_str topic,
                            int32_t partition, int64_t offset, int32_t leader_epoch,
                            struct mk_str metadata, int64_t commit_timestamp_ms, bool written);
/* Whether a transaction has staged an offset for topic/partition (Kafka's
 * hasPendingOffsetCommitsForTopicPartition, transactional half). */
bool mk_group_has_txn_offset(const struct mk_group *g, struct mk_str topic, int32_t partition);
/* The append of producer_id's staged offset for topic/partition was answered: success marks it
 * written, failure drops it (if a marker has not dropped it already). */
void mk_group_txn_offset_written(struct mk_group *g, int64_t producer_id, struct mk_str topic,
                                 int32_t partition, bool success);
/* Take producer_id's staged offsets out of the group, oldest first, as a list the caller
 * frees with mk_group_txn_offsets_free (the transaction ended). */
struct mk_group_txn_offset *mk_group_take_txn_offsets(struct mk_group *g, int64_t producer_id);
void mk_group_txn_offsets_free(struct mk_group_txn_offset *list);

#endif
