/*
 * Faults: breaking the cluster on purpose, on cue, the same way every time.
 * DESIGN.md 3.2 gives the actions and their JSON.
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
 *   {"action": "hold_markers", "ms": 10000}    {"action": "release_markers"}
 *
 * Two kinds, two homes:
 *   - request faults (drop_response, error, delay) live here: they are armed in a list
 *     and fire on the requests they match, until they have fired `count` times (absent:
 *     every matching request until cleared);
 *   - cluster actions (broker_down/up, follower_*, elect_leader, hold_markers,
 *     release_markers) are the controller's
 *     (controller.h): they act at once, and are only remembered here, in the list that
 *     GET /v1/faults shows, with a sentence saying what they did.
 * controller.c's mk_fault_inject is the one entry point that parses a fault and sends it
 * to the right home.
 *
 * One table (faults.c, `fault_apis`) says for every Kafka API which request faults may
 * target it and how its requests are scoped: every request is sent to one broker; some
 * name topics (Metadata, CreateTopics), some name partitions (Produce, Fetch). A fault
 * scoped by "topic" fires on a request that names that topic (a Metadata request for all
 * topics names every topic); one scoped by "partition" on a request that names that
 * partition. A fault whose API or scope the table does not allow is refused when it is
 * injected, with a sentence saying what is allowed, never armed to sit silent.
 *
 * A `drop_response` fault loses the answer of a request that did its work (records
 * appended): "close" closes the connection once the answers before it are out; "silent"
 * is a broken network (network.c, sever): the connection stays open, the client's requests
 * still arrive and are carried out, but no answer reaches the client from the lost one on,
 * until it gives up and reconnects. TCP keeps answers in order, so a later answer never
 * arrives after a lost one.
 *
 * An `error` fault answers with its error for the topics/partitions it covers (all of them
 * when unscoped), doing first what Kafka does before answering that error: nothing for the
 * errors Kafka returns before writing (NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS, ...),
 * the append first for those that mean "written, but not replicated in time"
 * (REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS_AFTER_APPEND): mk_fault_error_appends says which.
 *
 * Arming a request fault emits a `fault_armed` trace event; every firing a `fault` event
 * and a line in the broker's log. Both carry what GET /v1/faults shows of the fault (its
 * ms, the firings left as count, its mode), so a replay knows what stays armed.
 *
 * What a fault may name (which brokers, topics and partitions exist) is asked through
 * struct mk_fault_targets, so the same code breaks two kinds of cluster: our own broker's
 * (cluster.h's model, mk_cluster_fault_targets) and a real cluster seen from outside
 * through the proxy (proxy/upstream.h).
 *
 * Thread: the loop of the broker or proxy that owns the list, for everything here.
 */
#ifndef MK_BROKER_FAULTS_H
#define MK_BROKER_FAULTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/trace.h"
#include "protocol/errors.h"
#include "protocol/frame.h"

enum mk_fault_action {
  /* request faults */
  MK_FAULT_DROP_RESPONSE,
  MK_FAULT_ERROR,
  MK_FAULT_DELAY,
  /* cluster actions (controller.h) */
  MK_FAULT_BROKER_DOWN,
  MK_FAULT_BROKER_UP,
  MK_FAULT_FOLLOWER_PAUSE,
  MK_FAULT_FOLLOWER_RESUME,
  MK_FAULT_FOLLOWER_LAG,
  MK_FAULT_ELECT_LEADER,
  MK_FAULT_HOLD_MARKERS,     /* the transaction coordinator waits before writing markers */
  MK_FAULT_RELEASE_MARKERS,
};

static inline bool mk_fault_is_request_fault(enum mk_fault_action a) {
  return a <= MK_FAULT_DELAY;
}

struct mk_fault {
  int id;
  enum mk_fault_action action;
  int api_key;          /* request faults: the API, or -1 for any */
  int16_t error_code;   /* error */
  bool close;           /* drop_response: "close" (true) or "silent" */
  bool unclean;         /* elect_leader: "unclean": true (Kafka's ElectLeaders UNCLEAN) */
  int64_t ms;           /* delay, follower_lag; -1 = not given */
  int count;            /* request faults: firings left; -1 = until cleared; hold_markers:
                           how many transactions to hold, -1 = all until released */
  int fired;            /* how many times it acted */
  int32_t broker;       /* scope, or the target broker; -1 = any */
  char topic[250];      /* scope, or the target topic; "" = any */
  int32_t partition;    /* scope, or the target partition; -1 = any */
  char result[200];     /* what it did (cluster actions), for the list */
  struct mk_fault *next;
};

/* What faults need to know of the cluster they break. Each function borrows ctx. */
struct mk_fault_targets {
  const void *ctx;
  /* Whether a broker with this node id exists; if not, write the ids there are into ids
   * ("0-2", "1, 2, 3") for the error message. */
  bool (*broker)(const void *ctx, int32_t id, char *ids, size_t len);
  /* The number of partitions of the topic, MK_FAULT_NO_TOPIC, or MK_FAULT_TOPIC_UNSEEN
   * when the owner cannot tell (a real cluster's topics come and go out of the proxy's
   * sight: a fault naming one it has not seen is armed, and fires if requests name it). */
  int32_t (*topic)(const void *ctx, struct mk_str name);
  /* The name of the topic with this id (Fetch v13+, DeleteTopics v6 name topics by id), or
   * MK_STR_NULL. */
  struct mk_str (*topic_name)(const void *ctx, struct mk_uuid id);
};
enum { MK_FAULT_NO_TOPIC = -1, MK_FAULT_TOPIC_UNSEEN = -2 };

/* Every fault injected, armed and spent, newest first (struct mk_broker holds one). */
struct mk_fault_list {
  struct mk_fault *head;
  int next_id;
};

/* The action's name in JSON ("drop_response"). */
const char *mk_fault_action_name(enum mk_fault_action a);

/* Parse one fault object (JSON text, len bytes) into *f: field names, types and ranges,
 * Kafka's API and error names. Returns 0, or MK_ERR__INVALID_ARG with err naming the field
 * and what it accepts ("unknown action \"crash\"; one of drop_response, error, ..."). The
 * cluster is not consulted. Borrows json. */
int mk_fault_parse(const char *json, size_t len, struct mk_fault *f, struct mk_err *err);

/* Check a parsed request fault against the table and the cluster t (its API allows the
 * action and the scope; the broker, topic and partition exist) and arm it: the list takes
 * f. Returns 0 with f->id set, or MK_ERR__INVALID_ARG with err saying what is allowed
 * (then f is still the caller's). */
int mk_faults_arm(struct mk_fault_list *l, const struct mk_fault_targets *t, struct mk_fault *f,
                  struct mk_err *err);

enum mk_fault_scope { MK_FAULT_SCOPE_BROKER, MK_FAULT_SCOPE_TOPIC, MK_FAULT_SCOPE_PARTITION };

/* What the table says: may `action` (a request fault) target `api_key` requests scoped this
 * way? Every request can be scoped by broker; topic and partition only where the API's
 * requests name them. (Tests walk every API through this.) */
bool mk_fault_allowed(int api_key, enum mk_fault_action action, enum mk_fault_scope scope);

/* Keep a cluster action that has acted (f->result says how) in the list: the list takes f
 * and sets its id. Finishes its `fault` trace event, ev (NULL when tracing is off): begun
 * before the action, so the fault comes before what it caused (leader_change, isr_shrink)
 * in time order. */
void mk_faults_record(struct mk_fault_list *l, struct mk_fault *f, struct mk_trace_event *ev);

/* The one way into a list, for every owner (the broker's controller.c, the proxy's
 * fault_inject.c): parse json; arm a request fault (mk_faults_arm, against t); hand any
 * other action to act(owner, f, err), which carries it out and writes f->result, then
 * record it (mk_faults_record; its `fault` trace event is begun before act runs, so it
 * comes before what act causes). Returns 0 with *id (may be NULL) set, or the error that
 * refused it (nothing is kept, no event written). Borrows json. */
int mk_faults_add(struct mk_fault_list *l, const struct mk_fault_targets *t, const char *json,
                  size_t len, int (*act)(void *owner, struct mk_fault *f, struct mk_err *err),
                  void *owner, int *id, struct mk_err *err);

/* The list, armed and spent, as a JSON array (returns new: free()). */
char *mk_faults_list_json(const struct mk_fault_list *l);
/* The same as JSON (id < 0), or the one fault with that id as GET /v1/faults shows it (NULL
 * when there is none). Returns new (json_decref). */
json_t *mk_faults_json(const struct mk_fault_list *l, int id);

/* Forget every fault (request faults are disarmed), as DELETE /v1/faults asks: a log line
 * and a `faults_clear` trace event {cleared: N} say so. Replica and broker states stay as
 * they are (broker_up / follower_resume / follower_lag ms 0 / release_markers undo those). */
void mk_faults_clear(struct mk_fault_list *l);
/* Free the list without a word (at shutdown). */
void mk_faults_free(struct mk_fault_list *l);

/* ---- hooks: what the network and the handlers ask -------------------------------------- */

/* For a request just decoded and sent to broker node_id: the newest armed fault of this
 * request action (MK_FAULT_ERROR, MK_FAULT_DELAY or MK_FAULT_DROP_RESPONSE) whose API,
 * broker and scope match it. Counts one firing and returns the fault, or NULL. Topic ids
 * in the request (Fetch v13+, DeleteTopics v6) are resolved through t. */
const struct mk_fault *mk_faults_take(struct mk_fault_list *l, const struct mk_fault_targets *t,
                                      enum mk_fault_action action, const struct mk_request *r,
                                      int32_t node_id);

/* Whether a fault scoped by topic/partition covers this topic/partition (an unscoped
 * fault covers all; a NULL topic with partition -1 asks about the request as a whole). */
bool mk_fault_covers(const struct mk_fault *f, struct mk_str topic, int32_t partition);

/* Whether Kafka writes a produce before answering this error: true for the errors that
 * mean "appended, but not replicated in time" (REQUEST_TIMED_OUT,
 * NOT_ENOUGH_REPLICAS_AFTER_APPEND), false for those returned before writing. */
bool mk_fault_error_appends(int16_t error_code);

#endif
