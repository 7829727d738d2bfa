/*
 * Partitioner: KafkaProducer.partition() and the two built-in plug-ins kept for comparison,
 * RoundRobinPartitioner and the pre-3.3 sticky DefaultPartitioner. See partitioner.h.
 *
 * The plug-ins keep per-topic state (Java: a ConcurrentMap from topic to an AtomicInteger or
 * to the sticky partition). Here it is a short list of topics behind one mutex per plug-in:
 * a producer writes to a handful of topics, and the lock is held for a few instructions.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/trace.h"
#include "producer/partitioner.h"
#include "protocol/murmur2.h"

const char *mk_partition_reason_name(enum mk_partition_reason reason) {
  switch (reason) {
    case MK_PARTITION_REASON_EXPLICIT: return "explicit";
    case MK_PARTITION_REASON_KEY_HASH: return "key_hash";
    case MK_PARTITION_REASON_STICKY: return "sticky";
    case MK_PARTITION_REASON_ROUND_ROBIN: return "round_robin";
    case MK_PARTITION_REASON_UNIFORM_STICKY: return "uniform_sticky";
    case MK_PARTITION_REASON_CUSTOM: return "custom";
  }
  return "unknown";
}

void mk_partitioner_trace(const char *client_id, const char *topic, int32_t partition,
                          enum mk_partition_reason reason) {
  if (!mk_trace_on()) return;
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "producer", "partition");
  mk_trace_str(&ev, "client_id", client_id);
  mk_trace_str(&ev, "topic", topic);
  mk_trace_int(&ev, "partition", partition);
  mk_trace_str(&ev, "reason", mk_partition_reason_name(reason));
  mk_trace_end(&ev);
}

/* ---- KafkaProducer.partition() ---------------------------------------------------------- */

int mk_partitioner_choose(const struct mk_partitioner *custom, bool ignore_keys,
                          const char *client_id, const char *topic, int32_t explicit_partition, struct mk_bytes key,
                          struct mk_bytes value, const struct mk_topic_partitions *partitions,
                          struct mk_partition_choice *out, struct mk_err *err) {
  out->partition = MK_PARTITION_UNKNOWN;
  out->reason = MK_PARTITION_REASON_UNIFORM_STICKY;

  /* 1. The record says where it goes. */
  if (explicit_partition >= 0) {
    out->partition = explicit_partition;
    out->reason = MK_PARTITION_REASON_EXPLICIT;
    mk_partitioner_trace(client_id, topic, out->partition, out->reason);
    return 0;
  }
  if (explicit_partition != MK_PARTITION_UNKNOWN)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "Invalid partition: %d", explicit_partition);

  /* 2. partitioner.class decides everything else, keyed or not. */
  if (custom) {
    int32_t p = MK_PARTITION_UNKNOWN;
    enum mk_partition_reason reason = MK_PARTITION_REASON_CUSTOM;
    int rc = custom->partition(custom->opaque, topic, key, value, partitions, &p, &reason, err);
    if (rc) return rc;
    if (p < 0)
      return mk_err_set(err, MK_ERR__INVALID_ARG,
                        "The partitioner generated an invalid partition number: %d. Partition "
                        "number should always be non-negative.", p);
    out->partition = p;
    out->reason = reason;
    mk_partitioner_trace(client_id, topic, p, reason);
    return 0;
  }

  /* 3. A key (even an empty one) hashes, unless partitioner.ignore.keys. */
  if (key.len >= 0 && !ignore_keys) {
    if (partitions->count <= 0)
      return mk_err_set(err, MK_ERR__INVALID_ARG,
                        "cannot hash a key for topic %s: its partition count is not known",
                        topic);
    out->partition = mk_murmur2_partition(key.ptr, (size_t)key.len, partitions->count);
    out->reason = MK_PARTITION_REASON_KEY_HASH;
    mk_partitioner_trace(client_id, topic, out->partition, out->reason);
    return 0;
  }

  /* 4. No partition, no key: the accumulator's built-in sticky partitioner picks. */
  return 0;
}

void mk_partitioner_on_new_batch(const struct mk_partitioner *p, const char *topic,
                                 const struct mk_topic_partitions *partitions,
                                 int32_t prev_partition) {
  if (p && p->on_new_batch) p->on_new_batch(p->opaque, topic, partitions, prev_partition);
}

/* ---- per-topic state shared by the built-in plug-ins ------------------------------------ */

struct topic_state {
  char *topic;
  int32_t value;  /* round-robin: the counter; sticky: the sticky partition (-1 = none) */
};

struct builtin {
  struct mk_partitioner iface;  /* iface.opaque points back here */
  pthread_mutex_t lock;         /* guards everything below */
  struct topic_state *topics;
  size_t num_topics, cap_topics;
  uint64_t rng;                 /* sticky: splitmix64 state */
};

/* The topic's entry, created with `initial` if missing; NULL when out of memory. Caller
 * holds b->lock. */
static struct topic_state *topic_state(struct builtin *b, const char *topic, int32_t initial) {
  for (size_t i = 0; i < b->num_topics; i++)
    if (strcmp(b->topics[i].topic, topic) == 0) return &b->topics[i];
  if (b->num_topics == b->cap_topics) {
    size_t cap = b->cap_topics ? 2 * b->cap_topics : 4;
    struct topic_state *t = realloc(b->topics, cap * sizeof *t);
    if (!t) return NULL;
    b->topics = t;
    b->cap_topics = cap;
  }
  char *name = strdup(topic);
  if (!name) return NULL;
  b->topics[b->num_topics] = (struct topic_state){name, initial};
  return &b->topics[b->num_topics++];
}

static void builtin_close(void *opaque) {
  struct builtin *b = opaque;
  for (size_t i = 0; i < b->num_topics; i++) free(b->topics[i].topic);
  free(b->topics);
  pthread_mutex_destroy(&b->lock);
  free(b);
}

static int32_t to_positive(int32_t v) { return (int32_t)((uint32_t)v & 0x7fffffff); }

/* ---- RoundRobinPartitioner -------------------------------------------------------------- */

/* The counter's next value for the topic; it starts at 0 and wraps like Java's int. */
static int round_robin_partition(void *opaque, const char *topic, struct mk_bytes key,
                                 struct mk_bytes value, const struct mk_topic_partitions *parts,
                                 int32_t *partition, enum mk_partition_reason *reason,
                                 struct mk_err *err) {
  (void)key, (void)value;
  struct builtin *b = opaque;
  pthread_mutex_lock(&b->lock);
  struct topic_state *t = topic_state(b, topic, 0);
  int32_t next = t ? t->value : 0;
  if (t) t->value = (int32_t)((uint32_t)t->value + 1);
  pthread_mutex_unlock(&b->lock);
  if (!t) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory in RoundRobinPartitioner");
  *reason = MK_PARTITION_REASON_ROUND_ROBIN;
  if (parts->num_available > 0) {
    *partition = parts->available[to_positive(next) % parts->num_available];
  } else {
    if (parts->count <= 0)
      return mk_err_set(err, MK_ERR__INVALID_ARG, "topic %s has no known partitions", topic);
    *partition = to_positive(next) % parts->count;  /* none available: give any partition */
  }
  return 0;
}

/* ---- StickyPartitioner: DefaultPartitioner + StickyPartitionCache (Kafka 2.4-3.2) -------- */

static int32_t random_int(struct builtin *b) {
  uint64_t z = (b->rng += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return to_positive((int32_t)(uint32_t)(z ^ (z >> 31)));
}

/* StickyPartitionCache.nextPartition: change the topic's sticky partition only if it is
 * unset or still prev_partition (another thread may have changed it already); pick a random
 * available partition different from the old one. Caller holds b->lock. */
static int32_t sticky_next_locked(struct builtin *b, struct topic_state *t,
                                  const struct mk_topic_partitions *parts, int32_t prev) {
  int32_t old = t->value;
  if (old != MK_PARTITION_UNKNOWN && old != prev) return old;
  int32_t part = old;
  if (parts->num_available < 1) {
    part = parts->count > 0 ? random_int(b) % parts->count : MK_PARTITION_UNKNOWN;
  } else if (parts->num_available == 1) {
    part = parts->available[0];
  } else {
    while (part == MK_PARTITION_UNKNOWN || part == old)
      part = parts->available[random_int(b) % parts->num_available];
  }
  t->value = part;
  return part;
}

static int sticky_partition(void *opaque, const char *topic, struct mk_bytes key,
                            struct mk_bytes value, const struct mk_topic_partitions *parts,
                            int32_t *partition, enum mk_partition_reason *reason,
                            struct mk_err *err) {
  (void)value;
  struct builtin *b = opaque;
  if (key.len >= 0) {  /* DefaultPartitioner hashed keys itself */
    if (parts->count <= 0)
      return mk_err_set(err, MK_ERR__INVALID_ARG, "topic %s has no known partitions", topic);
    *partition = mk_murmur2_partition(key.ptr, (size_t)key.len, parts->count);
    *reason = MK_PARTITION_REASON_KEY_HASH;
    return 0;
  }
  pthread_mutex_lock(&b->lock);
  struct topic_state *t = topic_state(b, topic, MK_PARTITION_UNKNOWN);
  int32_t p = MK_PARTITION_UNKNOWN;
  if (t) p = t->value != MK_PARTITION_UNKNOWN ? t->value : sticky_next_locked(b, t, parts, -1);
  pthread_mutex_unlock(&b->lock);
  if (!t) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory in StickyPartitioner");
  if (p < 0) return mk_err_set(err, MK_ERR__INVALID_ARG, "topic %s has no known partitions", topic);
  *partition = p;
  *reason = MK_PARTITION_REASON_STICKY;
  return 0;
}

static void sticky_on_new_batch(void *opaque, const char *topic,
                                const struct mk_topic_partitions *parts, int32_t prev) {
  struct builtin *b = opaque;
  pthread_mutex_lock(&b->lock);
  struct topic_state *t = topic_state(b, topic, MK_PARTITION_UNKNOWN);
  if (t) sticky_next_locked(b, t, parts, prev);
  pthread_mutex_unlock(&b->lock);
}

/* ---- the built-in plug-ins by name ------------------------------------------------------ */

#define ROUND_ROBIN_CLASS "org.apache.kafka.clients.producer.RoundRobinPartitioner"
#define DEFAULT_CLASS "org.apache.kafka.clients.producer.internals.DefaultPartitioner"

const char *mk_partitioner_builtin_class(const char *name) {
  if (!name) return NULL;
  if (strcmp(name, ROUND_ROBIN_CLASS) == 0 || strcmp(name, "RoundRobinPartitioner") == 0)
    return ROUND_ROBIN_CLASS;
  if (strcmp(name, DEFAULT_CLASS) == 0 || strcmp(name, "DefaultPartitioner") == 0 ||
      strcmp(name, "StickyPartitioner") == 0)
    return DEFAULT_CLASS;
  return NULL;
}

int mk_partitioner_new_builtin(const char *class_name, struct mk_partitioner **out,
                               struct mk_err *err) {
  *out = NULL;
  const char *canonical = mk_partitioner_builtin_class(class_name);
  if (!canonical)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "no built-in partitioner named \"%.80s\"",
                      class_name ? class_name : "(null)");
  struct builtin *b = calloc(1, sizeof *b);
  if (!b) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory creating a partitioner");
  pthread_mutex_init(&b->lock, NULL);
  b->rng = (uint64_t)mk_now_us() ^ (uint64_t)(uintptr_t)b;
  b->iface.opaque = b;
  b->iface.close = builtin_close;
  if (strcmp(canonical, ROUND_ROBIN_CLASS) == 0) {
    b->iface.name = "RoundRobinPartitioner";
    b->iface.partition = round_robin_partition;
  } else {
    b->iface.name = "StickyPartitioner";
    b->iface.partition = sticky_partition;
    b->iface.on_new_batch = sticky_on_new_batch;
  }
  *out = &b->iface;
  return 0;
}

void mk_partitioner_free(struct mk_partitioner *p) {
  if (p && p->close) p->close(p->opaque);
}

void mk_partitioner_set_seed(struct mk_partitioner *p, uint64_t seed) {
  if (!p || p->partition != sticky_partition) return;
  struct builtin *b = p->opaque;
  pthread_mutex_lock(&b->lock);
  b->rng = seed;
  pthread_mutex_unlock(&b->lock);
}
