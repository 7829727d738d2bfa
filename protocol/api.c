/*
 * API table: the rows described in api.h. Each row's schemas come from protocol/messages/.
 */
#include "protocol/api.h"

#include <string.h>

#include "protocol/messages/add_offsets_to_txn.h"
#include "protocol/messages/add_partitions_to_txn.h"
#include "protocol/messages/api_versions.h"
#include "protocol/messages/create_partitions.h"
#include "protocol/messages/create_topics.h"
#include "protocol/messages/delete_groups.h"
#include "protocol/messages/delete_topics.h"
#include "protocol/messages/describe_cluster.h"
#include "protocol/messages/describe_configs.h"
#include "protocol/messages/describe_groups.h"
#include "protocol/messages/end_txn.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/find_coordinator.h"
#include "protocol/messages/heartbeat.h"
#include "protocol/messages/init_producer_id.h"
#include "protocol/messages/join_group.h"
#include "protocol/messages/leave_group.h"
#include "protocol/messages/list_groups.h"
#include "protocol/messages/list_offsets.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/offset_commit.h"
#include "protocol/messages/offset_delete.h"
#include "protocol/messages/offset_fetch.h"
#include "protocol/messages/produce.h"
#include "protocol/messages/sync_group.h"
#include "protocol/messages/txn_offset_commit.h"

#define API(key, name, lo, hi, adv_lo, adv_hi, flex, s)                                  \
  {key, name, lo, hi, adv_lo, adv_hi, flex, &mk_##s##_request_schema,                   \
   &mk_##s##_response_schema}

#define NEVER MK_V_NEVER

/* "read" is what we decode and encode, "adv." what ApiVersions advertises (api.h). Where
 * the two differ:
 *   - Produce: advertised from 0, see api.h.
 *   - AddPartitionsToTxn v4-5: the broker-to-broker form (KIP-890 part 1: a partition leader
 *     asks the coordinator to verify a transaction; one request carries many). Clients
 *     send v0-3 only, and Kafka's own clients never send more.
 *   - EndTxn v5: transactions v2 (KIP-890 part 2: a new producer epoch at every commit,
 *     returned in the response). Kafka 3.9 has no v5, trunk marked it unstable until
 *     shortly before 4.0, and clients use it only against brokers that enable
 *     transaction.version 2, which we do not.
 * ListOffsets stops at 9, the newest Kafka 3.9 has (v10 only adds a timeout for tiered
 * storage, which we do not have). */
const struct mk_api mk_apis[] = {
  /*  key                           name                  read    adv.   flex */
  API(MK_API_PRODUCE,               "Produce",            3, 12,  0, 12,  9, produce),
  API(MK_API_FETCH,                 "Fetch",              4, 17,  4, 17, 12, fetch),
  API(MK_API_LIST_OFFSETS,          "ListOffsets",        1,  9,  1,  9,  6, list_offsets),
  API(MK_API_METADATA,              "Metadata",           0, 13,  0, 13,  9, metadata),
  API(MK_API_OFFSET_COMMIT,         "OffsetCommit",       0,  9,  0,  9,  8, offset_commit),
  API(MK_API_OFFSET_FETCH,          "OffsetFetch",        0,  9,  0,  9,  6, offset_fetch),
  API(MK_API_FIND_COORDINATOR,      "FindCoordinator",    0,  6,  0,  6,  3, find_coordinator),
  API(MK_API_JOIN_GROUP,            "JoinGroup",          0,  9,  0,  9,  6, join_group),
  API(MK_API_HEARTBEAT,             "Heartbeat",          0,  4,  0,  4,  4, heartbeat),
  API(MK_API_LEAVE_GROUP,           "LeaveGroup",         0,  5,  0,  5,  4, leave_group),
  API(MK_API_SYNC_GROUP,            "SyncGroup",          0,  5,  0,  5,  4, sync_group),
  API(MK_API_DESCRIBE_GROUPS,       "DescribeGroups",     0,  6,  0,  6,  5, describe_groups),
  API(MK_API_LIST_GROUPS,           "ListGroups",         0,  5,  0,  5,  3, list_groups),
  API(MK_API_API_VERSIONS,          "ApiVersions",        0,  4,  0,  4,  3, api_versions),
  API(MK_API_CREATE_TOPICS,         "CreateTopics",       2,  7,  2,  7,  5, create_topics),
  API(MK_API_DELETE_TOPICS,         "DeleteTopics",       1,  6,  1,  6,  4, delete_topics),
  API(MK_API_INIT_PRODUCER_ID,      "InitProducerId",     0,  5,  0,  5,  2, init_producer_id),
  API(MK_API_ADD_PARTITIONS_TO_TXN, "AddPartitionsToTxn", 0,  5,  0,  3,  3, add_partitions_to_txn),
  API(MK_API_ADD_OFFSETS_TO_TXN,    "AddOffsetsToTxn",    0,  4,  0,  4,  3, add_offsets_to_txn),
  API(MK_API_END_TXN,               "EndTxn",             0,  5,  0,  4,  3, end_txn),
  API(MK_API_TXN_OFFSET_COMMIT,     "TxnOffsetCommit",    0,  5,  0,  5,  3, txn_offset_commit),
  API(MK_API_DESCRIBE_CONFIGS,      "DescribeConfigs",    1,  4,  1,  4,  4, describe_configs),
  API(MK_API_CREATE_PARTITIONS,     "CreatePartitions",   0,  3,  0,  3,  2, create_partitions),
  API(MK_API_DELETE_GROUPS,         "DeleteGroups",       0,  2,  0,  2,  2, delete_groups),
  API(MK_API_OFFSET_DELETE,         "OffsetDelete",       0,  0,  0,  0, NEVER, offset_delete),
  API(MK_API_DESCRIBE_CLUSTER,      "DescribeCluster",    0,  2,  0,  2,  0, describe_cluster),
};

const size_t mk_api_count = sizeof mk_apis / sizeof mk_apis[0];

const struct mk_api *mk_api_find(int key) {
  for (size_t i = 0; i < mk_api_count; i++)
    if (mk_apis[i].key == key) return &mk_apis[i];
  return NULL;
}

const struct mk_api *mk_api_by_name(const char *name) {
  for (size_t i = 0; i < mk_api_count; i++)
    if (strcmp(mk_apis[i].name, name) == 0) return &mk_apis[i];
  return NULL;
}

bool mk_api_supports(const struct mk_api *api, int version) {
  return api && version >= api->min_version && version <= api->max_version;
}

bool mk_api_advertises(const struct mk_api *api, int version) {
  return api && version >= api->advertised_min && version <= api->advertised_max;
}

bool mk_api_is_flexible(const struct mk_api *api, int version) {
  return version >= api->flexible_since;
}
