/*
 * Faults: breaking the cluster on purpose, on cue, the same way every time.
 * DESIGN.md 3.2 (the actions and their JSON), issue "ISR simulation, leader failover
 * and fault injection".
 *
 * A fault is one JSON object, the same whether it arrives over HTTP
 * (POST /v1/faults), from a scripted file (--faults FILE, one per line, with a
 * trigger), or from C (mk_broker_fault):
 *
 *   {"action": "drop_response", "api": "Produce", "count": 3, "mode": "close"}
 *   {"action": "error", "api": "Produce", "error": "NOT_LEADER_OR_FOLLOWER", "count": 2}
 *   {"action": "delay", "ms": 500, "count": 1}
 *   {"action": "broker_down", "broker": 1}           {"action": "broker_up", "broker": 1}
 *   {"action": "follower_pause", "topic": "t", "partition": 0, "broker": 2}
 *   {"action": "follower_resume", "topic": "t", "partition": 0, "broker": 2}
 *   {"action": "follower_lag", "broker": 2, "ms": 2000}          (ms 0 restores)
 *   {"action": "elect_leader", "topic": "t", "partition": 0, "broker": 1}
 *
 * Request faults (drop_response, error, delay) stay armed until they have fired
 * `count` times (absent: every matching request until cleared), and may be
 * scoped by "broker", "topic" and "partition". The others act at once and are
 * remembered only in the list GET /v1/faults shows, with what they did.
 *
 * Every firing emits a `fault` trace event.
 *
 * Thread: broker loop, for everything here (other threads use mk_broker_fault,
 * which goes through mk_broker_call).
 */
#ifndef MK_BROKER_FAULTS_H
#define MK_BROKER_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/cluster.h"
#include "protocol/errors.h"

/* Parse one fault object (JSON text, len bytes), check it against the cluster (the broker,
 * topic and partition must exist; the api and error names must be Kafka's) and apply or arm
 * it. Returns 0 with *id set (its number in the list), or MK_ERR__INVALID_ARG with err
 * naming the field and what it accepts ("unknown action \"crash\"; one of drop_response,
 * error, ..."), or MK_ERR__STATE when the cluster cannot do it now (bringing down the
 * last live broker is allowed; electing a replica that is down is not). Borrows json. */
int mk_faults_add_json(struct mk_broker *b, const char *json, size_t len, int *id,
                       struct mk_err *err);

/* The list of faults, armed and spent, as a JSON array (returns new: free()). */
char *mk_faults_list_json(struct mk_broker *b);

/* Disarm every request fault and forget the list. Replica and broker states stay as they
 * are (use broker_up / follower_resume / follower_lag ms 0 to undo those). */
void mk_faults_clear(struct mk_broker *b);

/* ---- the fault itself -------------------------------------------------------------------- */

enum mk_fault_action {
  MK_FAULT_DROP_RESPONSE,
  MK_FAULT_ERROR,
  MK_FAULT_DELAY,
  MK_FAULT_BROKER_DOWN,
  MK_FAULT_BROKER_UP,
  MK_FAULT_FOLLOWER_PAUSE,
  MK_FAULT_FOLLOWER_RESUME,
  MK_FAULT_FOLLOWER_LAG,
  MK_FAULT_ELECT_LEADER,
};

struct mk_fault {
  int id;
  enum mk_fault_action action;
  int api_key;          /* request faults: the API, or -1 for any */
  int16_t error_code;   /* error */
  bool close;           /* drop_response: "close" (true) or "silent" */
  int64_t ms;           /* delay, follower_lag */
  int count;            /* request faults: firings left; -1 = until cleared */
  int fired;            /* how many times it acted */
  int32_t broker;       /* scope, or the target broker; -1 = any */
  char topic[250];      /* scope, or the target topic; "" = any */
  int32_t partition;    /* scope, or the target partition; -1 = any */
  char result[160];     /* what it did (immediate actions), for the list */
  struct mk_fault *next;
};

/* ---- hooks: what the network and the handlers ask -------------------------------------- */

struct mk_req;

/* For a request just decoded: an armed `error` fault matching it (its API and broker, and,
 * if scoped, a topic/partition it names)? Counts one firing and returns the fault, or NULL.
 * The handler then answers with f->error_code for the partitions mk_fault_covers. */
const struct mk_fault *mk_faults_take_error(struct mk_broker *b, const struct mk_req *req);

/* Whether a fault scoped by topic/partition covers this one (an unscoped fault covers all). */
bool mk_fault_covers(const struct mk_fault *f, struct mk_str topic, int32_t partition);

/* For a response about to be sent: how long to hold it (delay faults), in ms, or 0. */
int64_t mk_faults_take_delay(struct mk_broker *b, const struct mk_req *req);

/* For a response about to be sent: drop it? Returns 0 (send it), 1 (drop it silently) or
 * 2 (drop it and close the connection). The request itself was fully processed. */
int mk_faults_take_drop(struct mk_broker *b, const struct mk_req *req);

/* Free everything (at shutdown). */
void mk_faults_free(struct mk_broker *b);

#endif
