/*
 * An embedded broker for tests: Kafka's defaults, ephemeral loopback ports (tests run side
 * by side), no admin API, plus the settings a test names. And the few things every broker
 * test does with it, through broker.h's public API only (a test that must look inside
 * includes broker/broker_internal.h itself, and says why).
 */
#ifndef MK_TESTS_TEST_BROKER_H
#define MK_TESTS_TEST_BROKER_H

#include "broker/broker.h"

/* Start a broker with Kafka's broker settings given as "key", "value" pairs up to NULL, e.g.
 * test_broker_start(&b, "message.max.bytes", "2000", NULL). Returns 0 with *out running (stop
 * and free it with mk_broker_stop and mk_broker_free), or -1 after printing why. */
int test_broker_start(struct mk_broker **out, ...);

/* Create a topic (topic configs "key=value", NULL-terminated, may be NULL) and return its
 * partition 0 as the broker sees it; fails the test if either fails. */
struct mk_partition_state test_broker_create_topic(struct mk_broker *b, const char *name,
                                                   int32_t partitions, int32_t replication,
                                                   const char *const *configs);

/* The partition now; fails the test if it does not exist. */
struct mk_partition_state test_broker_state(struct mk_broker *b, const char *topic,
                                            int32_t partition);

/* Inject a fault (JSON, printf-style); fails the test if the broker refuses it. */
void test_broker_fault(struct mk_broker *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
