/*
 * ConsumerProtocol: what consumers tell each other through the group coordinator.
 * Kafka: clients/.../consumer/internals/ConsumerProtocol.java.
 *
 * The coordinator of a classic group never looks inside a member's metadata or assignment:
 * they are bytes it stores and relays. Consumers (protocol_type "consumer") fill them so:
 *
 *   JoinGroup request    protocols[].metadata    ConsumerProtocolSubscription: the topics
 *                                                the member wants, user data, and from v1
 *                                                the partitions it owns (cooperative
 *                                                rebalancing), v2 its generation, v3 its rack
 *   JoinGroup response   members[].metadata      the same, relayed to the leader
 *   SyncGroup request    assignments[]           ConsumerProtocolAssignment: partitions per
 *                        .assignment             topic, and user data; the leader sends one
 *   SyncGroup response   assignment              per member, the coordinator hands each its own
 *
 * Both start with an int16 version. Reading follows Kafka's rule: a version newer than ours
 * is read as the newest we know, ignoring bytes after it (newer versions may only append
 * fields). The coordinator hands an empty assignment to a member the leader left out; it
 * decodes here as no partitions, as librdkafka reads it.
 *
 * The structs are generated from Kafka's specs (protocol/messages/consumer_protocol_data.h).
 * Memory: decoding borrows the bytes (strings point into them) and allocates arrays from the
 * caller's arena. Thread: any.
 */
#ifndef MK_PROTOCOL_CONSUMER_PROTOCOL_H
#define MK_PROTOCOL_CONSUMER_PROTOCOL_H

#include "protocol/arena.h"
#include "protocol/errors.h"
#include "protocol/messages/consumer_protocol_data.h"
#include "protocol/primitives.h"

#define MK_CONSUMER_PROTOCOL_TYPE "consumer"
/* The version Kafka's consumer writes: its newest (3 in Kafka 3.9 and 4.0). */
enum { MK_CONSUMER_PROTOCOL_VERSION = 3 };

/* Append sub at version (0-3) to w, version first. What the version lacks is left out, as
 * Kafka does (owned partitions before v1, generation before v2, rack before v3). Returns 0,
 * MK_ERR__UNSUPPORTED for another version, or MK_ERR__INVALID_ARG for a null where the
 * version allows none (err names the field). Borrows sub. */
int mk_consumer_protocol_subscription_encode(const struct mk_consumer_protocol_subscription *sub,
                                             int version, struct mk_writer *w,
                                             struct mk_err *err);

/* Decode a JoinGroup protocol's metadata into *out; *version gets the version on the wire.
 * Returns 0, MK_ERR__UNSUPPORTED for a negative version, MK_ERR__DECODE for bytes that do
 * not fit (err names the field and byte), MK_ERR__NO_MEMORY. Borrows metadata and arena. */
int mk_consumer_protocol_subscription_decode(struct mk_bytes metadata,
                                             struct mk_consumer_protocol_subscription *out,
                                             int *version, struct mk_arena *arena,
                                             struct mk_err *err);

/* Append a at version (0-3) to w, version first. Returns as the subscription's encoder. */
int mk_consumer_protocol_assignment_encode(const struct mk_consumer_protocol_assignment *a,
                                           int version, struct mk_writer *w, struct mk_err *err);

/* Decode a SyncGroup assignment into *out (empty bytes: no partitions, *version -1).
 * Returns as the subscription's decoder. */
int mk_consumer_protocol_assignment_decode(struct mk_bytes assignment,
                                           struct mk_consumer_protocol_assignment *out,
                                           int *version, struct mk_arena *arena,
                                           struct mk_err *err);

#endif
