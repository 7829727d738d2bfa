/*
 * BuiltInPartitioner: uniform sticky partitioning for keyless records (KIP-794), and the
 * murmur2 rule for keyed ones. The concept and the calling protocol are in
 * builtin_partitioner.h; this file follows BuiltInPartitioner.java method by method.
 *
 * State per topic:
 *   the sticky partition, its generation and the bytes produced to it (StickyPartitionInfo):
 *   atomics, read and counted on every keyless send without the lock, as Java does with
 *   an AtomicReference and an AtomicInteger; only a switch takes the lock
 *   the load stats: a cumulative frequency table over partition ids (PartitionLoadStats)
 *   the random generator (Java uses ThreadLocalRandom; one generator per topic under the
 *   lock gives the same distribution and lets a test fix the seed)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "producer/builtin_partitioner.h"
#include "protocol/murmur2.h"

struct mk_builtin_partitioner {
  char *topic;               /* set at creation, read-only */
  int32_t sticky_batch_size; /* set at creation, read-only */

  /* The sticky partition: its generation (high 32 bits) and partition id (low 32) in one
   * word, so that a reader without the lock always sees a pair that belongs together; 0
   * until the first choice (generations start at 1). Written under lock. */
  _Atomic uint64_t sticky;
  _Atomic int64_t produced_bytes;  /* bytes appended to the sticky partition since chosen */

  pthread_mutex_t lock;      /* guards switching, and everything below */
  uint32_t next_generation;
  int32_t *cft;              /* load stats: cumulative frequencies, NULL = none (uniform) */
  int32_t *cft_ids;          /* the partition id of each cft entry */
  int32_t cft_len;           /* logical length */
  int32_t cft_cap;
  uint64_t rng;              /* splitmix64 state */
};

/* ---- random numbers --------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* Utils.toPositive(random.nextInt()): a non-negative int32, the sign bit cleared. */
static int32_t random_partition(struct mk_builtin_partitioner *bp) {
  return (int32_t)(splitmix64(&bp->rng) & 0x7fffffff);
}

/* ---- creation --------------------------------------------------------------------------- */

int mk_builtin_partitioner_new(const char *topic, int32_t sticky_batch_size,
                               struct mk_builtin_partitioner **out, struct mk_err *err) {
  *out = NULL;
  if (sticky_batch_size < 1)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "stickyBatchSize must be >= 1 but got %d",
                      sticky_batch_size);
  struct mk_builtin_partitioner *bp = calloc(1, sizeof *bp);
  char *name = strdup(topic ? topic : "");
  if (!bp || !name) {
    free(bp);
    free(name);
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory creating the partitioner");
  }
  bp->topic = name;
  bp->sticky_batch_size = sticky_batch_size;
  atomic_init(&bp->sticky, 0);
  atomic_init(&bp->produced_bytes, 0);
  bp->next_generation = 1;
  bp->rng = (uint64_t)mk_now_us() ^ (uint64_t)(uintptr_t)bp;
  pthread_mutex_init(&bp->lock, NULL);
  *out = bp;
  return 0;
}

void mk_builtin_partitioner_free(struct mk_builtin_partitioner *bp) {
  if (!bp) return;
  pthread_mutex_destroy(&bp->lock);
  free(bp->cft);
  free(bp->cft_ids);
  free(bp->topic);
  free(bp);
}

void mk_builtin_partitioner_set_seed(struct mk_builtin_partitioner *bp, uint64_t seed) {
  pthread_mutex_lock(&bp->lock);
  bp->rng = seed;
  pthread_mutex_unlock(&bp->lock);
}

int32_t mk_builtin_partitioner_partition_for_key(const void *key, size_t len,
                                                 int32_t num_partitions) {
  if (num_partitions <= 0) return MK_PARTITION_UNKNOWN;
  return mk_murmur2_partition(key, len, num_partitions);
}

/* ---- choosing the next partition -------------------------------------------------------- */

/* nextPartition(). Caller holds bp->lock. */
static int32_t next_partition_locked(struct mk_builtin_partitioner *bp,
                                     const struct mk_topic_partitions *cluster) {
  int32_t random = random_partition(bp);
  if (!bp->cft) {
    /* No stats (or adaptive is off): uniform over the partitions that have a leader, or
     * over all partitions if none has. */
    if (cluster->num_available > 0) return cluster->available[random % cluster->num_available];
    if (cluster->count <= 0) return MK_PARTITION_UNKNOWN;
    return random % cluster->count;
  }
  /* Weighted: the first cumulative frequency strictly greater than r in [0, last). Java uses
   * Arrays.binarySearch and adjusts the result; this is the same search written out. */
  int32_t r = random % bp->cft[bp->cft_len - 1];
  int32_t lo = 0, hi = bp->cft_len - 1;
  while (lo < hi) {
    int32_t mid = lo + (hi - lo) / 2;
    if (bp->cft[mid] > r)
      hi = mid;
    else
      lo = mid + 1;
  }
  return bp->cft_ids[lo];
}

int32_t mk_builtin_partitioner_next_partition(struct mk_builtin_partitioner *bp,
                                              const struct mk_topic_partitions *cluster) {
  pthread_mutex_lock(&bp->lock);
  int32_t p = next_partition_locked(bp, cluster);
  pthread_mutex_unlock(&bp->lock);
  return p;
}

/* The sticky word of a StickyPartitionInfo, and back. */
static uint64_t pack(const struct mk_sticky_partition_info *info) {
  return (uint64_t)(uint32_t)info->generation << 32 | (uint32_t)info->partition;
}

static struct mk_sticky_partition_info unpack(uint64_t word) {
  return (struct mk_sticky_partition_info){(int32_t)(uint32_t)word, word >> 32};
}

/* Start a new StickyPartitionInfo; returns its word. Caller holds bp->lock. */
static uint64_t switch_locked(struct mk_builtin_partitioner *bp,
                              const struct mk_topic_partitions *cluster) {
  struct mk_sticky_partition_info info = {next_partition_locked(bp, cluster),
                                          bp->next_generation++};
  if (bp->next_generation == 0) bp->next_generation = 1;  /* 0 means "none chosen" */
  atomic_store(&bp->produced_bytes, 0);
  uint64_t word = pack(&info);
  atomic_store(&bp->sticky, word);
  return word;
}

/* ---- the sticky partition ---------------------------------------------------------------- */

struct mk_sticky_partition_info
mk_builtin_partitioner_peek_current_partition(struct mk_builtin_partitioner *bp,
                                              const struct mk_topic_partitions *cluster) {
  uint64_t word = atomic_load(&bp->sticky);
  if (word == 0 || unpack(word).partition == MK_PARTITION_UNKNOWN) {
    pthread_mutex_lock(&bp->lock);
    word = atomic_load(&bp->sticky);  /* another thread may have chosen meanwhile */
    if (word == 0 || unpack(word).partition == MK_PARTITION_UNKNOWN)
      word = switch_locked(bp, cluster);
    pthread_mutex_unlock(&bp->lock);
  }
  return unpack(word);
}

bool mk_builtin_partitioner_is_partition_changed(struct mk_builtin_partitioner *bp,
                                                 const struct mk_sticky_partition_info *info) {
  if (!info) return false;  /* the record had a partition: the built-in was not used */
  return atomic_load(&bp->sticky) != pack(info);
}

bool mk_builtin_partitioner_update_partition_info(struct mk_builtin_partitioner *bp,
                                                  const struct mk_sticky_partition_info *info,
                                                  int32_t appended_bytes,
                                                  const struct mk_topic_partitions *cluster,
                                                  bool enable_switch) {
  if (!info || atomic_load(&bp->sticky) != pack(info)) return false;  /* stale: ignored */
  /* A thread that saw the old partition just before another switched may count its bytes
   * towards the new one (Java counts them in the old StickyPartitionInfo): one record per
   * racing thread at most, and never in the producer, which calls this under the
   * accumulator's lock. */
  int64_t produced = atomic_fetch_add(&bp->produced_bytes, appended_bytes) + appended_bytes;
  /* Switch once batch.size bytes went to this partition, unless the caller asks to wait
   * because the deque's last batch is still open; never wait past twice batch.size (the
   * long comment in BuiltInPartitioner.updatePartitionInfo explains the 12 KB / 4 KB
   * fractional batches this avoids with a high linger.ms). */
  int64_t size = bp->sticky_batch_size;
  if (!((produced >= size && enable_switch) || produced >= 2 * size)) return false;
  bool switched = false;
  pthread_mutex_lock(&bp->lock);
  if (atomic_load(&bp->sticky) == pack(info)) {  /* not switched by another thread meanwhile */
    switch_locked(bp, cluster);
    switched = true;
  }
  pthread_mutex_unlock(&bp->lock);
  return switched;
}

/* ---- load stats ------------------------------------------------------------------------- */

void mk_builtin_partitioner_update_partition_load_stats(struct mk_builtin_partitioner *bp,
                                                        const int32_t *queue_sizes,
                                                        const int32_t *partition_ids,
                                                        int32_t count, int32_t length) {
  /* Fewer than two partitions in all, or none left: nothing to adapt to. If some partitions
   * were left out for latency, adapt even with one left (it must get everything). */
  bool none = !queue_sizes || !partition_ids || length < 1 || count < 2 || length > count;
  bool all_equal = true;
  int32_t max_plus_1 = 0;
  if (!none) {
    max_plus_1 = queue_sizes[0];
    for (int32_t i = 1; i < length; i++) {
      if (queue_sizes[i] != max_plus_1) all_equal = false;
      if (queue_sizes[i] > max_plus_1) max_plus_1 = queue_sizes[i];
    }
    max_plus_1++;
    /* Same queue everywhere and nobody left out: uniform is the same thing, and cheaper. */
    if (all_equal && length == count) none = true;
  }

  pthread_mutex_lock(&bp->lock);
  if (!none && length > bp->cft_cap) {
    int32_t *cft = realloc(bp->cft, (size_t)length * sizeof *cft);
    if (cft) bp->cft = cft;
    int32_t *ids = realloc(bp->cft_ids, (size_t)length * sizeof *ids);
    if (ids) bp->cft_ids = ids;
    if (cft && ids)
      bp->cft_cap = length;
    else
      none = true;  /* out of memory: fall back to uniform */
  }
  if (none) {
    free(bp->cft);
    free(bp->cft_ids);
    bp->cft = bp->cft_ids = NULL;
    bp->cft_len = bp->cft_cap = 0;
  } else {
    /* Invert (longest queue + 1 - queue) and fold into a running sum. */
    bp->cft[0] = max_plus_1 - queue_sizes[0];
    bp->cft_ids[0] = partition_ids[0];
    for (int32_t i = 1; i < length; i++) {
      bp->cft[i] = max_plus_1 - queue_sizes[i] + bp->cft[i - 1];
      bp->cft_ids[i] = partition_ids[i];
    }
    bp->cft_len = length;
  }
  pthread_mutex_unlock(&bp->lock);
}

void mk_builtin_partitioner_update_load_stats_from_queues(
    struct mk_builtin_partitioner *bp, const struct mk_partition_queue_stats *queues,
    int32_t count, int32_t num_partitions, bool adaptive, int64_t availability_timeout_ms) {
  /* Adaptive only once every partition has a deque: a partition missing from the queue list
   * would never be switched to. The arrays start zeroed, as Java's new int[] does. */
  int32_t *sizes = NULL, *ids = NULL;
  if (adaptive && count > 0 && count >= num_partitions) {
    sizes = calloc((size_t)count, sizeof *sizes);
    ids = calloc((size_t)count, sizeof *ids);
    if (!sizes || !ids) {
      free(sizes);
      free(ids);
      sizes = ids = NULL;
    }
  }
  int32_t index = -1;
  for (int32_t i = 0; i < count; i++) {
    const struct mk_partition_queue_stats *q = &queues[i];
    if (q->has_leader && sizes) {
      ++index;
      ids[index] = q->partition;
    }
    if (q->queue_size == 0) continue;  /* empty deque: Java skips the rest for it */
    if (!q->has_leader) continue;      /* leader unknown: not a candidate */
    if (sizes) sizes[index] = q->queue_size;
    /* The leader has had data ready but nothing drained for too long: leave it out. */
    if (availability_timeout_ms > 0 && q->leader_has_latency &&
        q->leader_ready_time_ms - q->leader_drain_time_ms > availability_timeout_ms)
      --index;
  }
  mk_builtin_partitioner_update_partition_load_stats(bp, sizes, ids, count, index + 1);
  free(sizes);
  free(ids);
}

int32_t mk_builtin_partitioner_load_stats_range_end(struct mk_builtin_partitioner *bp) {
  pthread_mutex_lock(&bp->lock);
  int32_t end = bp->cft ? bp->cft[bp->cft_len - 1] : 0;
  pthread_mutex_unlock(&bp->lock);
  return end;
}
