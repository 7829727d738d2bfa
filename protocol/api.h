/*
 * API table: which Kafka APIs minikafka speaks, in which versions.
 * Kafka: clients/.../common/protocol/ApiKeys.java.
 *
 * This is the one table that says what we support. The broker's ApiVersions
 * answer is built from it, the producer picks the highest version both sides
 * support from it, and the frame codec refuses versions outside it.
 *
 * min_version..max_version is what we read and write. Some rows reach below
 * Kafka 4.0's minimum because real clients still send those versions
 * (kafka-python 2.0.2 sends Metadata v1, ApiVersions v0, JoinGroup v2 and
 * OffsetCommit v2; older Go clients JoinGroup v0).
 *
 * advertised_min..advertised_max is what ApiVersions claims, and the most a
 * client of ours may send. It differs from what we read in both directions:
 * Produce says 0 although v0-2 are refused, because librdkafka turns
 * compression off against a broker whose Produce minimum is not 0 (Kafka 4.0
 * advertises 0 for the same reason, KAFKA-18659); and a version we can decode
 * but whose meaning we do not implement is read yet not offered (api.c says
 * which, and why).
 *
 * Thread: any (the table is constant).
 */
#ifndef MK_PROTOCOL_API_H
#define MK_PROTOCOL_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/schema.h"

enum mk_api_key {
  MK_API_PRODUCE = 0,
  MK_API_FETCH = 1,
  MK_API_LIST_OFFSETS = 2,
  MK_API_METADATA = 3,
  MK_API_OFFSET_COMMIT = 8,
  MK_API_OFFSET_FETCH = 9,
  MK_API_FIND_COORDINATOR = 10,
  MK_API_JOIN_GROUP = 11,
  MK_API_HEARTBEAT = 12,
  MK_API_LEAVE_GROUP = 13,
  MK_API_SYNC_GROUP = 14,
  MK_API_DESCRIBE_GROUPS = 15,
  MK_API_LIST_GROUPS = 16,
  MK_API_API_VERSIONS = 18,
  MK_API_CREATE_TOPICS = 19,
  MK_API_DELETE_TOPICS = 20,
  MK_API_INIT_PRODUCER_ID = 22,
  MK_API_ADD_PARTITIONS_TO_TXN = 24,
  MK_API_ADD_OFFSETS_TO_TXN = 25,
  MK_API_END_TXN = 26,
  MK_API_TXN_OFFSET_COMMIT = 28,
  MK_API_DESCRIBE_CONFIGS = 32,
  MK_API_CREATE_PARTITIONS = 37,
  MK_API_DELETE_GROUPS = 42,
  MK_API_OFFSET_DELETE = 47,
  MK_API_DESCRIBE_CLUSTER = 60,
};

struct mk_api {
  int16_t key;
  const char *name;           /* Kafka's name: "Produce", "ApiVersions" */
  int16_t min_version;        /* lowest version we read and write */
  int16_t max_version;        /* highest */
  int16_t advertised_min;     /* what ApiVersions reports as the minimum */
  int16_t advertised_max;     /* ... and as the maximum; the highest a client of ours sends */
  int16_t flexible_since;     /* first flexible version (compact fields, tagged fields), or
                                 MK_V_NEVER */
  const struct mk_schema *request;
  const struct mk_schema *response;
};

extern const struct mk_api mk_apis[];
extern const size_t mk_api_count;

/* The row for an api key, or NULL if we do not speak it. */
const struct mk_api *mk_api_find(int key);
/* The row for a name ("Produce"), compared exactly; NULL if none. Borrows name. */
const struct mk_api *mk_api_by_name(const char *name);
/* Whether we read and write this version of this API. */
bool mk_api_supports(const struct mk_api *api, int version);
/* Whether ApiVersions offers this version (a subset of what mk_api_supports accepts, except
 * for the versions below min_version that advertised_min covers, explained above). */
bool mk_api_advertises(const struct mk_api *api, int version);
/* Whether a version uses the flexible encoding. */
bool mk_api_is_flexible(const struct mk_api *api, int version);

#endif
