/*
 * Group coordinator, inside: what group_coordinator.c shares with offset_metadata_manager.c,
 * the two halves of one state machine (group_coordinator.h). Not for other files.
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_GROUP_COORDINATOR_INTERNAL_H
#define MK_BROKER_GROUP_COORDINATOR_INTERNAL_H

#include "broker/group_coordinator.h"

/* The runtime's clock (wall ms). */
int64_t mk_group_now(const struct mk_group_coordinator *c);

/* Kafka's validateGroupStatus: INVALID_GROUP_ID for a null id (or an empty one, unless
 * empty_ok: the offset and admin APIs accept it), NOT_COORDINATOR when the group's partition
 * is not ctx->broker_id's; 0 otherwise. */
int16_t mk_group_validate_status(const struct mk_group_coordinator *c,
                                 const struct mk_group_context *ctx, struct mk_str group_id,
                                 bool empty_ok);

/* Kafka's validateMember: UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID (a static member's instance
 * id mapped to another member id), or 0. */
int16_t mk_group_validate_member(const struct mk_group *g, struct mk_str member_id,
                                 struct mk_str instance_id);

/* The member's session starts over: it expires timeout_ms from now unless heard from. */
void mk_group_reschedule_heartbeat(struct mk_group_coordinator *c, struct mk_group_member *m,
                                   int64_t timeout_ms);

/* Forget a group created for a request that left it holding nothing. */
void mk_group_forget_if_empty(struct mk_group_coordinator *c, struct mk_group *g);

/* Move g to state `to`, with a rebalance trace event and a log line giving the reason. */
void mk_group_transition_traced(struct mk_group_coordinator *c, struct mk_group *g,
                                enum mk_group_state to, const char *reason);

/* What a failed append of the coordinator's records tells its client: Kafka's
 * appendGroupMetadataErrorToResponseError for a group's metadata, maybeConvertOffsetCommitError
 * for offsets (they differ on a timeout and on records too large). */
int16_t mk_group_append_error(int16_t error, bool offsets);

/* Expire g's offsets that are past offsets.retention.minutes, and g itself once Empty and
 * without offsets (offset_metadata_manager.c). May free g. */
void mk_group_expire_offsets(struct mk_group_coordinator *c, struct mk_group *g, int64_t t);

#endif
