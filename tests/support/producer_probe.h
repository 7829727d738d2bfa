/*
 * producer_probe: what the producer tests watch, shared by test_producer.c (our broker) and
 * test_producer_mock.c (librdkafka's mock cluster).
 *   completions  done[i] records what record i's callback was told, and how many times
 *   capture      the producer's trace lines (common/trace.h), kept in memory with their time
 *   sending      send_value / flush_ok / warm_up, which report into done[]
 *   making       probe_producer_new (settings in layers), probe_group_metadata
 * Assertions fail the running cmocka test. Names are short on purpose: only tests link this.
 * Thread: completions and capture are filled from the producer's threads; the rest is for
 * the test's thread.
 */
#ifndef MK_TESTS_SUPPORT_PRODUCER_PROBE_H
#define MK_TESTS_SUPPORT_PRODUCER_PROBE_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>

#include "consumer/consumer.h"
#include "producer/producer.h"

int64_t now_ms(void);  /* monotonic */
void sleep_ms(int ms);

/* ---- completions ---- */

enum { MAX_RECORDS = 8000 };

struct completion {
  atomic_int calls;    /* must end at exactly 1 */
  int16_t error;
  int32_t partition;
  int64_t offset;
  int64_t at_ms;       /* when the callback ran */
  pthread_t thread;    /* where it ran */
  char msg[192];
};

extern struct completion done[MAX_RECORDS];
extern atomic_int complete_cb_called;

/* A send callback: opaque is the record's index in done[] (intptr_t). */
void on_complete(const struct mk_record_metadata *md, const struct mk_err *err, void *opaque);
void reset_completions(void);
/* Wait (bounded) until n callbacks have run; returns how many have. */
int wait_completions(int n, int timeout_ms);
/* Records from..to-1 each completed exactly once / and each succeeded. */
void assert_completed_once(int from, int to);
void assert_succeeded(int from, int to);

/* ---- trace capture ---- */

/* Capture trace lines containing any of the filters (NULL-terminated list; none: all). */
void capture_start(const char *filter, ...);
/* Stop and forget what was captured. */
void capture_stop(void);
/* Index of the first captured line at or after `from` containing a (and b, if not NULL),
 * or -1; how many lines contain a (and b). */
int capture_find(int from, const char *a, const char *b);
int capture_count(const char *a, const char *b);
/* capture_count once it reaches n, or when timeout_ms have passed (what happens after an
 * answer, such as transaction markers, comes on the broker's loop later). */
int capture_wait_count(const char *a, const char *b, int n, int timeout_ms);
/* A copy of captured line i (the caller frees it), and when it was captured (at_ms may be
 * NULL); NULL if there is no line i. */
char *capture_line(int i, int64_t *at_ms);
/* The integer after "key": in a JSON line, or INT64_MIN. */
int64_t json_int(const char *line, const char *key);
/* Check every captured `retry` event's backoff_ms: attempt a waits min(base * 2^(a-1), max)
 * ms with Java's ±20% jitter, never above max (retry.backoff.ms, retry.backoff.max.ms).
 * Fails the test naming the attempt otherwise. Returns whether the backoffs differed (the
 * jitter showed). */
bool assert_retry_backoffs(int base_ms, int max_ms);

/* ---- sending ---- */

/* Send a string value (key NULL = no key) reporting to done[index] (index < 0: no
 * callback). Returns mk_producer_send's result. */
int send_value(struct mk_producer *p, const char *topic, int32_t partition, const char *key,
               const char *value, int index);
/* Flush, failing the test if it does not finish within timeout_ms. */
void flush_ok(struct mk_producer *p, int timeout_ms);
/* Send one record to partition 0, flush, and require success: the producer has its
 * metadata and producer id afterwards. Uses done[index]. */
void warm_up(struct mk_producer *p, const char *topic, int index);

/* ---- making ---- */

/* A producer with String serializers and the settings of `defaults` ("key", "value", ...,
 * NULL), then those of ap (key, value, ..., NULL: a test's own), later ones winning. Fails
 * the test naming a refused setting. Close it with mk_producer_close. */
struct mk_producer *probe_producer_new(const char *const *defaults, const char *first_key,
                                       va_list ap);
/* A consumer's group metadata (consumer/consumer.h) as mk_consumer_group_metadata would fill
 * it: for sendOffsetsToTransaction without a consumer. */
struct mk_consumer_group_metadata probe_group_metadata(const char *id, int32_t generation,
                                                       const char *member);

#endif
