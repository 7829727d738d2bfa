/*
 * Reset: the broker back to how it was just after it started, without a restart
 * (POST /v1/reset, mk_broker_reset; DESIGN.md 3.7). Between two demos an instructor wants a
 * clean cluster but the same ports, the same admin URL and the dashboard still connected.
 *
 *   1. each subsystem's clear hook runs, in the order they registered (below)
 *   2. every Kafka client connection closes, as at a restart: clients reconnect and ask for
 *      metadata again (requests waiting in the purgatory go with their connections)
 *   3. every topic is deleted (a topic_delete trace event each), internal ones included
 *   4. brokers that are down come back up (broker_up: listening on their ports again)
 *   5. faults are forgotten and their ids start again at 1; the --faults script starts over
 *      (its at_ms clock and its "after" counts from zero); producer ids start again at
 *      1000; replica placement starts again at broker 0; the quotas forget every client
 *   6. each subsystem's start hook runs: what it does when the broker starts (create the
 *      internal topic it creates at start, if it does so)
 *   7. a `reset` trace event {} and a log line say it is done, then a broker_state per
 *      broker (all up, unless one could not listen again)
 * Steps 3-4 also clear what lives in partitions: logs, ISRs, producer state, paused and
 * lagging followers. Connection ids keep counting (they only need to be unique).
 *
 * Subsystems that keep state of their own (the group coordinator and __consumer_offsets,
 * the schema registry and _schemas, transactions and __transaction_state) register a hook
 * where they start, so that reset never needs to know them:
 *
 *   static void groups_clear(struct mk_broker *b, void *arg) {
 *     ... forget every group, drop pending appends and every pointer into a partition
 *         (the topics are deleted right after this) ...
 *   }
 *   mk_reset_hook_add(b, &(struct mk_reset_hook){"group coordinator", groups_clear, NULL, s});
 *
 * A clear hook must leave nothing that points into a topic or partition, and must not
 * create topics (they would be deleted next); a start hook may. Neither may fail: a
 * subsystem that cannot do something logs why and carries on, as it would at startup.
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_RESET_H
#define MK_BROKER_RESET_H

#include <stddef.h>

#include "protocol/errors.h"

struct mk_broker;

enum { MK_RESET_MAX_HOOKS = 8 };

/* What a subsystem does at a reset. */
struct mk_reset_hook {
  const char *name;                                /* "group coordinator": log lines */
  void (*clear)(struct mk_broker *b, void *arg);   /* step 1; NULL = nothing */
  void (*start)(struct mk_broker *b, void *arg);   /* step 6; NULL = nothing */
  void *arg;
};

/* Register a subsystem's hook (copied; name must outlive the broker). Returns 0, or
 * MK_ERR__STATE when MK_RESET_MAX_HOOKS are taken. From the subsystem's start, on the loop
 * or before it runs (mk_broker_new). */
int mk_reset_hook_add(struct mk_broker *b, const struct mk_reset_hook *hook);

/* What a reset did, for its answer. */
struct mk_reset_result {
  int topics_deleted;
  int brokers_started;       /* were down, are up again */
  int connections_closed;
  int faults_cleared;
  int hooks;                 /* subsystems that took part */
};

/* Reset the broker (steps above). Returns 0, or MK_ERR__TRANSPORT when a broker that was
 * down could not listen again (its port taken meanwhile): everything else is done, err
 * says which broker and why. */
int mk_reset(struct mk_broker *b, struct mk_reset_result *out, struct mk_err *err);

#endif
