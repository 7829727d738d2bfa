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

#include <stdio.h>

#include "broker/cluster.h"

struct mk_fault_script;

/* Read and check cfg.faults_file (nothing to do when it is NULL) and attach the script to
 * b. Returns 0, or MK_ERR__INVALID_ARG with err naming the file, the line and the
 * problem ("faults.jsonl line 3: \"after\" needs \"count\" >= 1"). From mk_broker_new. */
int mk_fault_script_load(struct mk_broker *b, struct mk_err *err);

/* Parse a script from f (path names it in messages): every line checked, its trigger taken
 * off, the at_ms lines ordered by time; what load does, without a broker (fuzz_config reads
 * scripts this way). Returns 0 with *out (free with mk_fault_script_destroy), or
 * MK_ERR__INVALID_ARG naming path, the line and the problem. Thread: any. */
int mk_fault_script_read(FILE *f, const char *path, struct mk_fault_script **out,
                         struct mk_err *err);
void mk_fault_script_destroy(struct mk_fault_script *s);
/* Its lines, and line i's fault as it will be injected (the JSON without its trigger). */
size_t mk_fault_script_lines(const struct mk_fault_script *s);
const char *mk_fault_script_fault(const struct mk_fault_script *s, size_t i);

/* Start the clock for the at_ms lines. From mk_broker_start, before the loop thread
 * starts. */
void mk_fault_script_start(struct mk_broker *b);

/* A request of api_key has just been handled: fire the "after" lines it completes.
 * Called by kafka_apis.c for every request; costs a test without "after" lines. */
void mk_fault_script_on_request(struct mk_broker *b, int api_key);

/* Free the script (from mk_broker_free, after the loop has ended and closed its timer). */
void mk_fault_script_free(struct mk_broker *b);

#endif
