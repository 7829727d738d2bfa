/*
 * An embedded broker for tests: Kafka's defaults, ephemeral loopback ports (tests run side
 * by side), no admin API, plus the settings a test names.
 */
#ifndef MK_TESTS_TEST_BROKER_H
#define MK_TESTS_TEST_BROKER_H

#include "broker/broker.h"

/* Start a broker with Kafka's broker settings given as "key", "value" pairs up to NULL, e.g.
 * test_broker_start(&b, "message.max.bytes", "2000", NULL). Returns 0 with *out running (stop
 * and free it with mk_broker_stop and mk_broker_free), or -1 after printing why. */
int test_broker_start(struct mk_broker **out, ...);

#endif
