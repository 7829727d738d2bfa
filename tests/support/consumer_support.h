/*
 * consumer_support: what the consumer tests share, test_consumer.c (our broker) and
 * test_consumer_mock.c (librdkafka's mock cluster): a group member with test settings (quick
 * heartbeats, earliest, manual commits), subscribing, and looking at its membership.
 * Assertions fail the running cmocka test. Thread: the test's.
 */
#ifndef MK_TESTS_SUPPORT_CONSUMER_SUPPORT_H
#define MK_TESTS_SUPPORT_CONSUMER_SUPPORT_H

#include "consumer/consumer.h"

/* A consumer of group at bootstrap: auto.offset.reset=earliest, session.timeout.ms=6000,
 * heartbeat.interval.ms=300, enable.auto.commit=false, fetch.max.wait.ms=100, then kv
 * ("key", "value" pairs up to NULL; may be NULL). Close it with mk_consumer_close. */
struct mk_consumer *test_consumer_new(const char *bootstrap, const char *group,
                                      const char *const *kv);
/* Subscribe c to one topic, without a listener. */
void test_consumer_subscribe(struct mk_consumer *c, const char *topic);
/* How many partitions c holds now. */
int test_consumer_assigned(struct mk_consumer *c);
/* c's view of its group. */
struct mk_consumer_group_metadata test_consumer_group(struct mk_consumer *c);

#endif
