/*
 * Purgatory: requests that cannot be answered yet. Kafka: DelayedOperationPurgatory,
 * DelayedProduce (acks=all waits for the high watermark), DelayedFetch (long poll).
 *
 * A handler that must wait parks its request here with a deadline and a
 * try_complete function. Whenever something a waiter may be waiting for
 * happens — the high watermark moves, data is appended, a replica leaves the
 * ISR — the broker calls mk_purgatory_check(), which asks every waiter to try
 * again; at its deadline a waiter is asked one last time with timed_out set.
 * try_complete answers the request itself and returns true when it is done.
 *
 * Waking is driven by events, never by polling: an acks=all produce is
 * answered in the same loop iteration in which the last follower's fetch tells
 * the leader it has the batch. The list is short (one entry per waiting
 * request), so a scan is fine.
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_PURGATORY_H
#define MK_BROKER_PURGATORY_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/network.h"

/* Park req until try_complete returns true, or timeout_ms passes (then try_complete is
 * called with timed_out = true and must answer). op/free_op: the handler's state, freed
 * with the request. Returns 0 or MK_ERR__NO_MEMORY (the caller then answers at once). */
int mk_purgatory_add(struct mk_req *req, int64_t timeout_ms,
                     bool (*try_complete)(struct mk_req *req, bool timed_out), void *op,
                     void (*free_op)(void *op));

/* Give every waiter a chance to complete. */
void mk_purgatory_check(struct mk_broker *b);

/* Take req out without answering (its connection closed). */
void mk_purgatory_remove(struct mk_req *req);

/* Have fn(b, arg) run at every mk_purgatory_check too: for waiters that are not requests (a
 * coordinator's writes waiting for the HW, its partitions changing leader). fn must not
 * answer anything itself, only note that something may have happened (the purgatory check
 * may run deep inside an append). Returns 0, or MK_ERR__STATE when the few slots are taken. */
int mk_purgatory_watch(struct mk_broker *b, void (*fn)(struct mk_broker *b, void *arg), void *arg);

#endif
