/*
 * TxnRequestHandler: the transactional requests the producer sends, each with what it does
 * with the answer. Kafka: producer/internals/TransactionManager.java (TxnRequestHandler and
 * its subclasses InitProducerIdHandler, AddPartitionsToTxnHandler, FindCoordinatorHandler,
 * EndTxnHandler, AddOffsetsToTxnHandler, TxnOffsetCommitHandler). Lab: labs/transactions.
 *
 *   request              goes to                   answer: done / retry / abortable / fatal
 *   FindCoordinator      any broker                the coordinator's node; key_type 1 for
 *                                                  the transactional.id, 0 for a group
 *   InitProducerId       transaction coordinator   producer id + epoch -> READY
 *   AddPartitionsToTxn   transaction coordinator   the partitions may now be drained
 *   AddOffsetsToTxn      transaction coordinator   the group's offsets partition joins;
 *                                                  queues the TxnOffsetCommit
 *   TxnOffsetCommit      group coordinator         offsets staged until the end
 *   EndTxn               transaction coordinator   commit/abort written -> READY
 *
 * What each error means follows Java's handlers. In short: NOT_COORDINATOR and
 * COORDINATOR_NOT_AVAILABLE look the coordinator up again and retry; any other retriable
 * error (COORDINATOR_LOAD_IN_PROGRESS, CONCURRENT_TRANSACTIONS, ...) retries after
 * retry.backoff.ms (20 ms for the first AddPartitionsToTxn of a transaction that meets
 * CONCURRENT_TRANSACTIONS: the previous transaction is completing, and will be done soon);
 * PRODUCER_FENCED and INVALID_PRODUCER_EPOCH (the old name of the same thing, for these
 * requests), INVALID_TXN_STATE and authorization failures are fatal; UNKNOWN_PRODUCER_ID
 * and INVALID_PRODUCER_ID_MAPPING are abortable when the coordinator can bump the epoch,
 * else fatal; a TxnOffsetCommit refused for the group's sake (ILLEGAL_GENERATION,
 * UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID) is abortable. A lost connection retries, looking
 * the coordinator up again.
 *
 * Each answer is traced as `txn_response` (api, broker, and error unless none), each request sent as
 * `txn_request` (api, broker, and what it carries: the partitions, the offsets, commit or
 * abort), next to the `txn_state` events of the manager.
 *
 * Thread: sender (the manager's lock held in handle_*), except the constructors, which the
 * manager calls under its lock from either thread.
 */
#ifndef MK_PRODUCER_TXN_REQUEST_HANDLER_H
#define MK_PRODUCER_TXN_REQUEST_HANDLER_H

#include <stdbool.h>
#include <stdint.h>

#include "producer/transaction_manager.h"
#include "protocol/messages/add_offsets_to_txn.h"
#include "protocol/messages/add_partitions_to_txn.h"
#include "protocol/messages/end_txn.h"
#include "protocol/messages/find_coordinator.h"
#include "protocol/messages/init_producer_id.h"
#include "protocol/messages/txn_offset_commit.h"

enum mk_txn_request_kind {
  MK_TXN_FIND_COORDINATOR,
  MK_TXN_INIT_PRODUCER_ID,
  MK_TXN_ADD_PARTITIONS,
  MK_TXN_ADD_OFFSETS,
  MK_TXN_OFFSET_COMMIT,
  MK_TXN_END_TXN,
};

/* Java's Priority: the queue sends lower numbers first. */
enum mk_txn_priority {
  MK_TXN_PRIORITY_FIND_COORDINATOR = 0,
  MK_TXN_PRIORITY_INIT_PRODUCER_ID = 1,
  MK_TXN_PRIORITY_ADD_PARTITIONS_OR_OFFSETS = 2,
  MK_TXN_PRIORITY_END_TXN = 3,
  MK_TXN_PRIORITY_EPOCH_BUMP = 4,
};

/* One offset of a TxnOffsetCommit, with its own outcome (a retry resends the rest). */
struct mk_txn_offset {
  char *topic;
  int32_t partition;
  int64_t offset;
  int32_t leader_epoch;
  char *metadata;     /* NULL: none */
  bool committed;     /* the group coordinator accepted it */
};

struct mk_txn_request {
  enum mk_txn_request_kind kind;
  int priority;
  struct mk_txn_result *result;   /* a reference, or NULL when nobody waits */
  bool is_retry;
  int64_t not_before_ms;          /* a retry waits until then (monotonic ms) */
  int64_t retry_backoff_ms;       /* normally retry.backoff.ms */
  bool queued;                    /* in the manager's queue */
  struct mk_txn_request *next;    /* in the queue */

  /* FindCoordinator: which coordinator, for which key. TxnOffsetCommit: the group's. */
  enum mk_coordinator_type coordinator_type;
  char *key;
  /* InitProducerId: an epoch bump (KIP-360) sends the current id and epoch. */
  bool epoch_bump;
  int64_t bump_producer_id;
  int16_t bump_producer_epoch;
  /* AddPartitionsToTxn: the partitions asked for ("topic\0partition" keys of the manager's
   * map, copied). */
  char **partitions;
  int npartitions;
  /* EndTxn */
  bool committed;
  /* AddOffsetsToTxn and TxnOffsetCommit: the group, its membership, the offsets. */
  int32_t generation_id;
  char *member_id;
  char *group_instance_id;        /* NULL: none */
  struct mk_txn_offset *offsets;
  int noffsets;
};

/* ---- making requests (manager's lock held) ------------------------------------------------ */

/* Each returns a new request (free with mk_txn_request_free), or NULL when out of memory.
 * result: a reference the request takes over (may be NULL). */
struct mk_txn_request *mk_txn_request_find_coordinator(enum mk_coordinator_type type,
                                                       const char *key);
struct mk_txn_request *mk_txn_request_init_producer_id(struct mk_txn_result *result,
                                                       bool epoch_bump, int64_t producer_id,
                                                       int16_t epoch);
/* The partitions are copied from keys[0..n) ("topic\0partition"). */
struct mk_txn_request *mk_txn_request_add_partitions(const char *const *keys, int n);
struct mk_txn_request *mk_txn_request_end_txn(struct mk_txn_result *result, bool committed);
struct mk_txn_request *mk_txn_request_add_offsets(struct mk_txn_result *result,
                                                  const struct mk_offset_to_commit *offsets,
                                                  int n,
                                                  const struct mk_consumer_group_metadata *group);
void mk_txn_request_free(struct mk_txn_request *r);

/* The Kafka name of r's API ("AddPartitionsToTxn"), and its api key. */
const char *mk_txn_request_name(const struct mk_txn_request *r);
int mk_txn_request_api_key(const struct mk_txn_request *r);
/* Which coordinator r must go to; false: any broker will do (FindCoordinator, and an
 * idempotent producer's InitProducerId). */
bool mk_txn_request_needs_coordinator(const struct mk_transaction_manager *tm,
                                      const struct mk_txn_request *r,
                                      enum mk_coordinator_type *type, const char **key);

/* ---- the wire (sender) --------------------------------------------------------------------- */

/* A request body ready for mk_network_client_send, and what it points to. */
struct mk_txn_wire {
  int api_key;
  const void *body;   /* points into `u` */
  union {
    struct mk_find_coordinator_request find_coordinator;
    struct mk_init_producer_id_request init_producer_id;
    struct mk_add_partitions_to_txn_request add_partitions;
    struct mk_add_offsets_to_txn_request add_offsets;
    struct mk_txn_offset_commit_request txn_offset_commit;
    struct mk_end_txn_request end_txn;
  } u;
  void *alloc[3];     /* arrays the body points to; freed by mk_txn_wire_free */
};

/* Build r's request for api `version` (the one negotiated with the target broker), with
 * the manager's producer id and epoch. Returns 0, MK_ERR__NO_MEMORY, or
 * MK_ERR_UNSUPPORTED_VERSION when the version cannot carry what r must say (group
 * membership needs TxnOffsetCommit v3). Manager's lock held. */
int mk_txn_request_build(const struct mk_transaction_manager *tm, const struct mk_txn_request *r,
                         int version, struct mk_txn_wire *w, struct mk_err *err);
void mk_txn_wire_free(struct mk_txn_wire *w);

/* ---- answers (sender, manager's lock held) ------------------------------------------------- */

/* Handle r's decoded response (body of api `version`). The handler re-enqueues r when it
 * retries (r->queued is then true); otherwise the caller frees r. */
void mk_txn_request_handle_response(struct mk_transaction_manager *tm, struct mk_txn_request *r,
                                    int32_t node, int version, const void *body);
/* r got no answer: rc is the network client's error (NETWORK_EXCEPTION or REQUEST_TIMED_OUT:
 * retry, after looking the coordinator up again; anything else: fatal). */
void mk_txn_request_handle_failure(struct mk_transaction_manager *tm, struct mk_txn_request *r,
                                   int32_t node, int rc, const struct mk_err *err);

/* The `txn_request` trace event for r, sent to node with this correlation id (manager's
 * lock held). Its answer is traced as `txn_response` by the handlers above. */
void mk_txn_request_trace_sent(const struct mk_transaction_manager *tm,
                               const struct mk_txn_request *r, int32_t node,
                               int32_t correlation_id);

#endif
