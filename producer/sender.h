/*
 * Sender: the producer's background thread. Kafka: producer/internals/Sender.java.
 * Note 004 section 1 (the two threads), 000 section 3 (the second timing of send).
 *
 * One thread, one libuv loop. Each time something happens — an application thread
 * appended (a wakeup), a response arrived, a connection opened, a timer fired — it runs
 * runOnce, in Java's order:
 *
 *   1. requests older than request.timeout.ms: close their connection, retry their batches
 *   2. Metadata, if a topic is new, a leader moved, or metadata.max.age.ms passed
 *   3. InitProducerId, if idempotence is on and no producer id is held (yet, or any more)
 *   4. batches older than delivery.timeout.ms in the deques: fail them
 *   5. sendProducerData: which leaders are ready (accumulator), connect to those that are
 *      not connected, drain a request's worth per ready leader, send Produce requests
 *
 * and sleeps until the earliest moment anything will be due (a batch's linger, a retry's
 * backoff, a request's timeout) — never a fixed polling tick.
 *
 * A Produce response completes each batch: success (its offset), or a retry (re-enqueued
 * after an exponential backoff with jitter, retry.backoff.ms to retry.backoff.max.ms,
 * while retries and delivery.timeout.ms allow), or a failure.
 *
 * Thread: mk_sender_start and mk_sender_close from the producer's owner; mk_sender_wakeup
 * from any thread; everything else runs on the Sender thread.
 */
#ifndef MK_PRODUCER_SENDER_H
#define MK_PRODUCER_SENDER_H

#include <stdint.h>

#include "protocol/errors.h"

struct mk_producer;
struct mk_sender;

/* Start the Sender thread for p. Returns 0 or an error. */
int mk_sender_start(struct mk_producer *p, struct mk_sender **out, struct mk_err *err);

/* Ask the Sender to run soon (records appended, flush started). Thread: any. The argument
 * is the struct mk_sender (void * so it can be passed as a plain callback). */
void mk_sender_wakeup(void *sender);

/* Send what is pending for up to timeout_ms (-1 = no limit), then fail the rest ("Producer
 * is closed forcefully"), stop the thread and free the Sender. Returns 0 if nothing had to
 * be failed, MK_ERR__TIMED_OUT otherwise. Thread: the producer's owner. */
int mk_sender_close(struct mk_sender *s, int64_t timeout_ms);

#endif
