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
 *   "at_ms": N                       N ms after the broker (or proxy) started
 *   "after": {"api": A, "count": N}  once the N-th request of Kafka API A (all brokers
 *                                    together) has been handled
 *
 * Firing hands the line, without its trigger, to the owner's inject function: exactly what
 * POST /v1/faults does with a body. Whether the fault itself makes sense (does topic t
 * exist yet?) is known only then, so a fault refused at that point is a log line; a line
 * that is not JSON, or lacks a good trigger, or has no "action", stops the broker (or the
 * proxy) from starting, with the file's name and the line number.
 *
 * The script knows nothing of its owner beyond that function and a loop, so the broker
 * (`minikafka broker --faults`) and the proxy (`minikafka proxy --faults`) read the same
 * files the same way.
 *
 * Thread: the owner's loop, except load and start (before the loop runs) and free (after).
 */
#ifndef MK_BROKER_FAULT_SCRIPT_H
#define MK_BROKER_FAULT_SCRIPT_H

#include <stddef.h>
#include <stdio.h>
#include <uv.h>

#include "protocol/errors.h"

struct mk_fault_script;

/* Inject one fault (JSON text, len bytes) into owner, as POST /v1/faults would. Returns 0
 * with *id set, or an error with err saying why the fault was refused. */
typedef int mk_fault_inject_fn(void *owner, const char *json, size_t len, int *id,
                               struct mk_err *err);

/* Read and check the script at path (NULL: no script, *out = NULL). who ("broker",
 * "proxy") names the owner in log lines. Returns 0 with *out (returns new:
 * mk_fault_script_free), or MK_ERR__INVALID_ARG with err naming the file, the line and the
 * problem ("--faults f.jsonl, line 3: \"after\" must be ..."). Borrows path and who. */
int mk_fault_script_load(const char *path, const char *who, struct mk_fault_script **out,
                         struct mk_err *err);

/* Parse a script from f (path names it in messages): what load does once the file is open,
 * without logging (fuzz_fault_script reads scripts this way, over fmemopen). Returns 0 with
 * *out (free with mk_fault_script_free), or MK_ERR__INVALID_ARG naming path, the line and
 * the problem. Borrows path and who. Thread: any. */
int mk_fault_script_read(FILE *f, const char *path, const char *who,
                         struct mk_fault_script **out, struct mk_err *err);
/* Its lines, and line i's fault as it will be injected (the JSON without its trigger). */
size_t mk_fault_script_lines(const struct mk_fault_script *s);
const char *mk_fault_script_fault(const struct mk_fault_script *s, size_t i);

/* Start the clock for the at_ms lines, on loop, firing through inject(owner, ...). Before
 * the loop's thread starts. s may be NULL (no script). The script's timer is one of the
 * loop's handles: the owner's shutdown closes it with the rest (uv_walk). */
void mk_fault_script_start(struct mk_fault_script *s, uv_loop_t *loop, mk_fault_inject_fn *inject,
                           void *owner);

/* Start the script over, as if its owner had just started: every line armed again, the
 * at_ms clock from now, the "after" counts from zero (the broker's reset, reset.h). On the
 * owner's loop, after mk_fault_script_start. s may be NULL. */
void mk_fault_script_restart(struct mk_fault_script *s);

/* A request of api_key has just been handled: fire the "after" lines it completes.
 * Called for every request; costs a test without "after" lines. s may be NULL. */
void mk_fault_script_on_request(struct mk_fault_script *s, int api_key);

/* Free the script (after the loop has ended and closed its timer). NULL is allowed. */
void mk_fault_script_free(struct mk_fault_script *s);

#endif
