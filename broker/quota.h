/*
 * Quotas: how fast a client may produce, and how long it must pause when it goes faster.
 * Kafka: server/ClientQuotaManager.scala (recordAndGetThrottleTimeMs), metrics/stats/Rate.java
 * (the measured window), KIP-13 (quotas), KIP-219 (the client throttles itself).
 *
 * Each virtual broker measures each client id's produce rate: the bytes of its Produce
 * requests, kept in 11 samples of 1 second (Kafka's quota.window.num and
 * quota.window.size.seconds). When the rate goes above quota.producer.default bytes/s, the
 * throttle time is how long the client must send nothing for the rate to come back down:
 *
 *     throttle_ms = (rate - quota) / quota * window_ms       (KIP-13's formula)
 *
 * where window_ms is the time the samples cover, counted as at least 10 whole samples, as
 * Kafka's Rate does: a client's first busy second is averaged over ten, not judged alone.
 *
 * The broker answers at once with throttle_time_ms in the response and then reads nothing
 * more from that connection for throttle_ms (KIP-219, Kafka 2.0+). A well-behaved client
 * (Java, librdkafka, ours) also sends that broker nothing until the time is up; one that
 * ignores it finds its requests waiting in the socket. Brokers before KIP-219 held the
 * response back instead; we do the newer thing for every Produce version.
 *
 * quota.producer.default is the name of Kafka 1.x-2.x's static default quota; Kafka 3+ sets
 * the same default with `kafka-configs.sh --alter --entity-type clients --entity-default
 * --add-config producer_byte_rate=N`. There is one quota for every client id here.
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_QUOTA_H
#define MK_BROKER_QUOTA_H

#include <stdint.h>

#include "broker/network.h"

/* Count a Produce request of `bytes` from client_id on node, at now_ms, and return the
 * throttle time in ms (0 when the client is within quota.producer.default, or there is no
 * quota). Emits a `throttle` trace event when it is not 0. Borrows client_id. */
int32_t mk_quota_record_produce(struct mk_broker *b, struct mk_listener *l, struct mk_str client_id,
                                int64_t bytes, int64_t now_ms);

/* Free node's per-client measurements (the broker is being freed). */
void mk_quota_free(struct mk_listener *l);

#endif
