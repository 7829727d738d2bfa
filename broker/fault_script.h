/*
 * Fault script: `minikafka broker --faults FILE`, faults on cue, so a demo replays the
 * same way every time. Issue "admin HTTP API", DESIGN.md 3.2 for the fault objects.
 *
 * FILE has one fault per line (JSON), each with a trigger saying when it fires:
 *
 *   # lines starting with # and blank lines are ignored
 *   {"at_ms": 2000, "action": "broker_down", "broker": 1}
 *   {"after": {"api": "Produce", "count": 5}, "action": "drop_response", "api": "Produce",
 *    "count": 1, "mode": "close"}                                   (on one line in FILE)
 *
 *   "at_ms": N                       N ms after the broker started (mk_broker_start)
 *   "after": {"api": A, "count": N}  once the N-th request of Kafka API A (all virtual
 *                                    brokers together) has been handled
 *
 * Firing hands the line, without its trigger, to mk_faults_add_json: exactly what
 * POST /v1/faults does with a body. Whether the fault itself makes sense (does topic t
 * exist yet?) is known only then, so a fault refused at that point is a log line; a line
 * that is not JSON, or lacks a good trigger, or has no "action", stops the broker from
 * starting, with the file's name and the line number.
 *
 * Thread: broker loop, except load and start (before the loop runs) and free (after).
 */
#ifndef MK_BROKER_FAULT_SCRIPT_H
#define MK_BROKER_FAULT_SCRIPT_H

#include "broker/cluster.h"

/* Read and check cfg.faults_file (nothing to do when it is NULL) and attach the script to
 * b. Returns 0, or MK_ERR__INVALID_ARG with err naming the file, the line and the
 * problem ("faults.jsonl line 3: \"after\" needs \"count\" >= 1"). From mk_broker_new. */
int mk_fault_script_load(struct mk_broker *b, struct mk_err *err);

/* Start the clock for the at_ms lines. From mk_broker_start, before the loop thread
 * starts. */
void mk_fault_script_start(struct mk_broker *b);

/* Start the script over, as if the broker had just started: every line armed again, the
 * at_ms clock from now, the "after" counts from zero (a reset, reset.h). On the loop. */
void mk_fault_script_restart(struct mk_broker *b);

/* A request of api_key has just been handled: fire the "after" lines it completes.
 * Called by kafka_apis.c for every request; costs a test without "after" lines. */
void mk_fault_script_on_request(struct mk_broker *b, int api_key);

/* Free the script (from mk_broker_free, after the loop has ended and closed its timer). */
void mk_fault_script_free(struct mk_broker *b);

#endif
