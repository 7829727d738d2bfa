/*
 * Group APIs: what the handlers of the group coordinator's APIs share (group_apis.c,
 * offset_apis.c, group_admin_apis.c). Kafka: KafkaApis.handleJoinGroupRequest and its
 * neighbours, which turn a request into a coordinator call and its result into a response.
 *
 * A JoinGroup or SyncGroup may wait in the coordinator long after its handler returned,
 * and its client may hang up meanwhile (the connection then frees the request). So the
 * coordinator is given a reply slot, not the request: the slot is shared by the request
 * (which clears it when it is freed) and the coordinator's callback (which answers through
 * it if the request is still there). Whichever lets go last frees it.
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_GROUP_APIS_H
#define MK_BROKER_GROUP_APIS_H

#include "broker/group_coordinator.h"
#include "broker/network.h"

struct mk_group_reply {
  int refs;
  struct mk_req *req;  /* NULL once the request is gone */
  void *data;          /* the handler's own state (from the request's arena) */
};

/* A reply slot for req (refs: the request's and the callback's). NULL if out of memory. */
struct mk_group_reply *mk_group_reply_new(struct mk_req *req);
/* The callback side lets go (after answering through r->req, if it was still there). */
void mk_group_reply_release(struct mk_group_reply *r);

/* A commit's answer (OffsetCommit, TxnOffsetCommit): the response to send, and where each
 * offset handed to the coordinator (in order) writes its error code. */
struct mk_commit_answer {
  const void *resp;     /* the response struct, from req's arena */
  int16_t **errors;     /* errors[k]: the error_code field of offsets[k]'s partition */
  int n;
};

/* A reply slot for req's commit, whose answer a (from req's arena) describes; pass it with
 * mk_group_commit_answered to the coordinator. Returns NULL when there is nothing to wait
 * for: n is 0 (every partition was answered already), or out of memory (every offset then
 * answers UNKNOWN_SERVER_ERROR); req has been answered then. */
struct mk_group_reply *mk_group_commit_reply(struct mk_req *req, struct mk_commit_answer *a);
/* The coordinator's mk_commit_callback for such a slot: the errors go in, the request is
 * answered (if it is still there), the slot released. */
void mk_group_commit_answered(void *arg, const int16_t *errors);

/* Who sent req: api version, the broker it reached, client id, and its address as Kafka
 * writes it ("/127.0.0.1"). Strings live in req's arena. */
void mk_group_context_of(struct mk_req *req, struct mk_group_context *ctx);

#endif
