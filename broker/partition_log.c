/*
 * Partition log: batches by reference, the offsets at both ends, the leader epoch cache.
 * See partition_log.h for the picture and the contract of each function.
 *
 * The batch array is a queue that only ever grows at the back (append) and shrinks at
 * either end (retention at the front, truncation at the back), so it is a plain array
 * with a head index instead of a ring: batches[head .. head + count) are live. When the
 * back reaches the end of the array we first slide the live part down to index 0, and
 * only grow if that frees too little, so a log under steady retention does not grow.
 *
 * The epoch cache is the same shape in miniature: a sorted array that gets new entries
 * at the back, loses them at the back on truncation and at the front on retention.
 * It rarely holds more than a few entries (one per leader change).
 */
#include "broker/partition_log.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* ---- batches ----------------------------------------------------------------------------- */

/* ---- memory accounting (log.memory.max.bytes) -------------------------------------------- */

static void usage_add(struct mk_log_usage *u, int64_t bytes) {
  if (!u) return;
  u->bytes += bytes;
  if (u->bytes > u->peak) u->peak = u->bytes;
}

/* What a batch costs beyond its frame: the struct, and its bytes when they are its own. */
static int64_t batch_cost(const struct mk_batch *b) {
  return (int64_t)sizeof *b + (b->owner ? 0 : (int64_t)b->size);
}

/* b has just been appended to a log counted in u: count it (once), and its frame. */
static void account_batch(struct mk_batch *b, struct mk_log_usage *u) {
  if (!u || b->usage) return;
  b->usage = u;
  usage_add(u, batch_cost(b));
  if (b->owner && !b->owner->usage) {
    b->owner->usage = u;
    usage_add(u, (int64_t)b->owner->size);
  }
}

/* ---- frames and the batches in them ------------------------------------------------------ */

struct mk_buffer *mk_buffer_new(size_t size) {
  struct mk_buffer *buf = malloc(sizeof *buf + size);
  if (!buf) return NULL;
  buf->refcount = 1;
  buf->size = size;
  buf->batches = NULL;
  buf->nbatches = 0;
  buf->live = 0;
  buf->batch_freed = false;
  buf->usage = NULL;
  return buf;
}

static void attach(struct mk_buffer *owner, struct mk_batch *b) {
  b->owner = mk_buffer_ref(owner);
  b->owner_prev = NULL;
  b->owner_next = owner->batches;
  if (owner->batches) owner->batches->owner_prev = b;
  owner->batches = b;
  owner->nbatches++;
  owner->live += b->size;
}

/* Take b out of its frame's list (the caller then drops b's reference to the frame). */
static void detach(struct mk_batch *b) {
  struct mk_buffer *owner = b->owner;
  if (b->owner_prev) b->owner_prev->owner_next = b->owner_next;
  else owner->batches = b->owner_next;
  if (b->owner_next) b->owner_next->owner_prev = b->owner_prev;
  owner->nbatches--;
  owner->live -= b->size;
  b->owner = NULL;
}

/* Give b bytes of its own and let go of its frame. Returns false if out of memory (b then
 * stays in the frame: nothing is lost but memory). */
static bool copy_out(struct mk_batch *b) {
  uint8_t *data = malloc(b->size);
  if (!data) return false;
  memcpy(data, b->data, b->size);
  struct mk_buffer *owner = b->owner;
  detach(b);
  b->data = data;
  b->data_owned = true;
  usage_add(b->usage, (int64_t)b->size);
  owner->refcount--;  /* b's reference; the caller still holds one, so it stays alive */
  return true;
}

/* The rule of the struct mk_buffer comment: held only by its batches (the caller's
 * reference being one of theirs or the last other one), one batch already gone, and more
 * than an eighth of the frame unused by the rest. */
static void maybe_copy_out(struct mk_buffer *buf) {
  if (!buf->batch_freed || buf->nbatches == 0 || buf->refcount - 1 != buf->nbatches) return;
  if (buf->size - buf->live <= buf->live / 8) return;
  while (buf->batches && copy_out(buf->batches)) {
  }
}

struct mk_buffer *mk_buffer_resize(struct mk_buffer *buf, size_t size) {
  assert(buf->refcount == 1 && buf->nbatches == 0);
  struct mk_buffer *bigger = realloc(buf, sizeof *buf + size);
  if (!bigger) return NULL;
  bigger->size = size;
  return bigger;
}

struct mk_buffer *mk_buffer_ref(struct mk_buffer *buf) {
  assert(buf->refcount > 0);
  buf->refcount++;
  return buf;
}

void mk_buffer_unref(struct mk_buffer *buf) {
  if (!buf) return;
  assert(buf->refcount > 0);
  maybe_copy_out(buf);  /* the last holder but its batches may be going */
  if (--buf->refcount > 0) return;
  usage_add(buf->usage, -(int64_t)buf->size);
  free(buf);
}

struct mk_batch *mk_batch_new(const struct mk_record_batch *parsed, int64_t base_offset,
                              int32_t leader_epoch, int64_t now_ms, struct mk_buffer *owner) {
  assert(parsed->size >= MK_RECORD_BATCH_HEADER_SIZE);
  assert(!owner || (parsed->data >= owner->data &&
                    parsed->data + parsed->size <= owner->data + owner->size));
  struct mk_batch *b = malloc(sizeof *b + (owner ? 0 : parsed->size));
  if (!b) return NULL;
  b->refcount = 1;
  b->base_offset = base_offset;
  b->last_offset = base_offset + parsed->last_offset_delta;
  b->leader_epoch = leader_epoch;
  b->base_timestamp = parsed->base_timestamp;
  b->max_timestamp = parsed->max_timestamp;
  b->append_time_ms = now_ms;
  b->producer_id = parsed->producer_id;
  b->producer_epoch = parsed->producer_epoch;
  b->base_sequence = parsed->base_sequence;
  b->last_sequence = mk_last_sequence(parsed->base_sequence, parsed->last_offset_delta);
  b->records_count = parsed->records_count;
  b->attributes = parsed->attributes;
  b->is_transactional = (parsed->attributes & MK_ATTR_TRANSACTIONAL) != 0;
  b->is_control = (parsed->attributes & MK_ATTR_CONTROL) != 0;
  b->size = parsed->size;

  /* The bytes stay in the request frame when we have it (no copy at all), else one copy;
   * then the two fields the leader owns are written. Neither is covered by the CRC (which
   * starts at attributes, byte 21), so the batch stays valid. */
  b->owner = NULL;
  b->owner_prev = b->owner_next = NULL;
  b->data_owned = false;
  b->usage = NULL;
  if (owner) {
    attach(owner, b);
    b->data = (uint8_t *)parsed->data;
  } else {
    b->data = b->copy;
    memcpy(b->data, parsed->data, parsed->size);
  }
  mk_store_u64(b->data, (uint64_t)base_offset);
  mk_store_u32(b->data + MK_RECORD_BATCH_LEADER_EPOCH_OFFSET, (uint32_t)leader_epoch);
  return b;
}

struct mk_batch *mk_batch_ref(struct mk_batch *b) {
  assert(b->refcount > 0);
  b->refcount++;
  return b;
}

void mk_batch_unref(struct mk_batch *b) {
  if (!b) return;
  assert(b->refcount > 0);
  if (--b->refcount > 0) return;
  usage_add(b->usage, -batch_cost(b));
  if (b->data_owned) free(b->data);
  struct mk_buffer *owner = b->owner;
  if (owner) {
    detach(b);
    owner->batch_freed = true;
  }
  free(b);
  mk_buffer_unref(owner);
}

void mk_batch_parsed(const struct mk_batch *b, struct mk_record_batch *out) {
  /* The bytes passed mk_record_batch_parse once; parsing them again only decodes the
   * header fields into *out. */
  int rc = mk_record_batch_parse(b->data, b->size, out, NULL);
  assert(rc == 0);
  (void)rc;
}

/* ---- the leader epoch cache (LeaderEpochFileCache) --------------------------------------- */

/* Remove entries from the back while they start at or after end_offset
 * (LeaderEpochFileCache.truncateFromEnd). */
static void epochs_truncate_from_end(struct mk_log *log, int64_t end_offset) {
  while (log->epochs_count > 0 && log->epochs[log->epochs_count - 1].start_offset >= end_offset)
    log->epochs_count--;
}

/* Forget epochs wholly before start_offset (LeaderEpochFileCache.truncateFromStart): the
 * entries starting at or before it go, and the last of them comes back starting at
 * start_offset, since its epoch still covers the records from there on. */
static void epochs_truncate_from_start(struct mk_log *log, int64_t start_offset) {
  size_t n = 0;
  while (n < log->epochs_count && log->epochs[n].start_offset <= start_offset) n++;
  if (n == 0) return;
  struct mk_epoch_entry kept = {log->epochs[n - 1].epoch, start_offset};
  memmove(log->epochs + 1, log->epochs + n, (log->epochs_count - n) * sizeof *log->epochs);
  log->epochs[0] = kept;
  log->epochs_count -= n - 1;
}

int mk_log_assign_epoch(struct mk_log *log, int32_t epoch, int64_t start_offset) {
  /* Kafka throws for these; a batch from a leader always carries an epoch >= 0, and a
   * batch appended with -1 (no leader epoch) simply has nothing to record. */
  if (epoch < 0 || start_offset < 0) return 0;
  /* isUpdateNeeded: a new epoch, or the latest one starting earlier than we thought. */
  if (log->epochs_count > 0) {
    const struct mk_epoch_entry *last = &log->epochs[log->epochs_count - 1];
    if (last->epoch == epoch && last->start_offset <= start_offset) return 0;
  }
  /* Room first, so that running out of memory leaves the cache as it was. */
  if (log->epochs_count == log->epochs_cap) {
    size_t cap = log->epochs_cap ? log->epochs_cap * 2 : 4;
    struct mk_epoch_entry *e = realloc(log->epochs, cap * sizeof *e);
    if (!e) return MK_ERR__NO_MEMORY;
    log->epochs = e;
    log->epochs_cap = cap;
  }
  /* maybeTruncateNonMonotonicEntries: keep epochs and start offsets strictly increasing. */
  while (log->epochs_count > 0) {
    const struct mk_epoch_entry *last = &log->epochs[log->epochs_count - 1];
    if (last->epoch < epoch && last->start_offset < start_offset) break;
    log->epochs_count--;
  }
  log->epochs[log->epochs_count++] = (struct mk_epoch_entry){epoch, start_offset};
  return 0;
}

int32_t mk_log_latest_epoch(const struct mk_log *log) {
  return log->epochs_count ? log->epochs[log->epochs_count - 1].epoch : -1;
}

bool mk_log_end_offset_for_epoch(const struct mk_log *log, int32_t epoch, int32_t *end_epoch,
                                 int64_t *end_offset) {
  int32_t found_epoch = -1;
  int64_t found_offset = -1;
  if (epoch == -1) {
    /* UNDEFINED_EPOCH: a follower that has never seen an epoch; it falls back to the
     * high watermark. */
  } else if (mk_log_latest_epoch(log) == epoch) {
    /* The epoch still being written (on the leader): it ends at the log end. */
    found_epoch = epoch;
    found_offset = log->log_end_offset;
  } else {
    /* The first epoch after the requested one starts where the requested one ended. The
     * array is sorted, so "higher" is the first entry with a larger epoch and "floor" the
     * one just before it. */
    size_t higher = 0;
    while (higher < log->epochs_count && log->epochs[higher].epoch <= epoch) higher++;
    if (higher < log->epochs_count) {
      found_offset = log->epochs[higher].start_offset;
      /* With no known epoch at or below the requested one (it was deleted by retention),
       * Kafka answers with the requested epoch itself and the next epoch's start. */
      found_epoch = higher > 0 ? log->epochs[higher - 1].epoch : epoch;
    }
    /* else: the requested epoch is newer than any we know. */
  }
  if (end_epoch) *end_epoch = found_epoch;
  if (end_offset) *end_offset = found_offset;
  return found_offset != -1;
}

/* ---- the log ----------------------------------------------------------------------------- */

void mk_log_init(struct mk_log *log) {
  memset(log, 0, sizeof *log);
}

void mk_log_free(struct mk_log *log) {
  for (size_t i = 0; i < log->count; i++) mk_batch_unref(mk_log_batch(log, i));
  free(log->batches);
  free(log->epochs);
  memset(log, 0, sizeof *log);
}

/* Make room for one more batch at the back. */
static int reserve_one(struct mk_log *log) {
  if (log->head + log->count < log->cap) return 0;
  /* Slide down first if at least half the array is dead space at the front (left by
   * retention): then the memmove costs no more than the appends that filled the array. */
  if (log->head > 0 && log->head >= log->cap / 2) {
    memmove(log->batches, log->batches + log->head, log->count * sizeof *log->batches);
    log->head = 0;
    return 0;
  }
  size_t cap = log->cap ? log->cap * 2 : 16;
  struct mk_batch **a = realloc(log->batches, cap * sizeof *a);
  if (!a) return MK_ERR__NO_MEMORY;
  log->batches = a;
  log->cap = cap;
  return 0;
}

int mk_log_append(struct mk_log *log, struct mk_batch *b, struct mk_err *err) {
  if (b->base_offset != log->log_end_offset)
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "batch at offset %lld cannot be appended to a log ending at %lld",
                      (long long)b->base_offset, (long long)log->log_end_offset);
  /* Both steps allocate before they change anything, so a failure leaves the log as it
   * was (reserve_one may have grown the array, which is harmless). */
  if (reserve_one(log) || mk_log_assign_epoch(log, b->leader_epoch, b->base_offset))
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory appending to the log");
  log->batches[log->head + log->count++] = mk_batch_ref(b);
  account_batch(b, log->usage);
  log->log_end_offset = b->last_offset + 1;
  log->size += (int64_t)b->size;
  return 0;
}

size_t mk_log_find(const struct mk_log *log, int64_t offset) {
  /* Invariant: every batch before lo ends below offset; every batch from hi on ends at
   * or after it. */
  size_t lo = 0, hi = log->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (mk_log_batch(log, mid)->last_offset < offset)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

void mk_log_truncate_fully_and_start_at(struct mk_log *log, int64_t offset) {
  for (size_t i = 0; i < log->count; i++) mk_batch_unref(mk_log_batch(log, i));
  log->head = log->count = 0;
  log->size = 0;
  log->log_start_offset = log->log_end_offset = offset;
  log->epochs_count = 0;
}

void mk_log_truncate_to(struct mk_log *log, int64_t offset) {
  if (offset >= log->log_end_offset) {
    /* No batch goes, but an epoch this replica assigned on becoming leader, at its LEO,
     * before it wrote anything, may conflict with the new leader's: Kafka drops it too. */
    epochs_truncate_from_end(log, log->log_end_offset);
    return;
  }
  if (log->count == 0 || offset < mk_log_batch(log, 0)->base_offset) {
    /* Nothing at or below offset survives: Kafka's "first segment starts after the
     * target" case, which restarts the log at the target. */
    mk_log_truncate_fully_and_start_at(log, offset);
    return;
  }
  /* The first batch that ends at or after offset exists (offset < LEO) and goes, with
   * everything after it: the log ends at a batch boundary, that batch's base offset
   * (Kafka's LogSegment.truncateTo cuts at the batch containing the offset). */
  size_t keep = mk_log_find(log, offset);
  int64_t end = mk_log_batch(log, keep)->base_offset;
  for (size_t i = keep; i < log->count; i++) {
    struct mk_batch *b = mk_log_batch(log, i);
    log->size -= (int64_t)b->size;
    mk_batch_unref(b);
  }
  log->count = keep;
  if (keep == 0) log->head = 0;
  log->log_end_offset = end;
  /* Kafka: logStartOffset = min(target, logStartOffset). */
  if (log->log_start_offset > end) log->log_start_offset = end;
  epochs_truncate_from_end(log, end);
}

/* Drop the oldest batch (retention and log start increments delete from the front). */
static void delete_oldest(struct mk_log *log) {
  struct mk_batch *b = mk_log_batch(log, 0);
  log->size -= (int64_t)b->size;
  mk_batch_unref(b);
  log->head++;
  if (--log->count == 0) log->head = 0;
}

size_t mk_log_advance_start(struct mk_log *log, int64_t offset) {
  if (offset <= log->log_start_offset) return 0;
  if (offset > log->log_end_offset) {  /* it has nothing the new start keeps */
    size_t n = log->count;
    mk_log_truncate_fully_and_start_at(log, offset);
    return n;
  }
  size_t deleted = 0;
  for (; log->count > 0 && mk_log_batch(log, 0)->last_offset < offset; deleted++)
    delete_oldest(log);
  log->log_start_offset = offset;
  epochs_truncate_from_start(log, offset);
  return deleted;
}

size_t mk_log_apply_retention(struct mk_log *log, int64_t retention_bytes,
                              int64_t retention_ms, int64_t now_ms,
                              int64_t max_deletable_offset) {
  size_t deleted = 0;
  while (log->count > 0) {
    struct mk_batch *b = mk_log_batch(log, 0);
    /* Only what every in-sync replica has: Kafka deletes a segment only when the next
     * one starts at or below the high watermark. */
    if (b->last_offset >= max_deletable_offset) break;
    /* Size and time are two passes in Kafka, size first. Running them as one loop
     * deletes the same batches: once the size rule refuses a batch it refuses every
     * later one too (deleting only makes the log smaller). */
    bool over_size = retention_bytes >= 0 && log->size - (int64_t)b->size >= retention_bytes;
    bool too_old = retention_ms >= 0 && now_ms - b->max_timestamp > retention_ms;
    if (!over_size && !too_old) break;
    delete_oldest(log);
    deleted++;
  }
  if (deleted > 0) {
    log->log_start_offset = log->count ? mk_log_batch(log, 0)->base_offset : log->log_end_offset;
    epochs_truncate_from_start(log, log->log_start_offset);
  }
  return deleted;
}

int mk_log_offset_for_timestamp(const struct mk_log *log, int64_t timestamp,
                                size_t max_decompressed, struct mk_timestamp_and_offset *out,
                                struct mk_err *err) {
  *out = (struct mk_timestamp_and_offset){-1, -1, -1};
  /* Batches are in offset order, not timestamp order (producers choose timestamps), so
   * this is a scan, as Kafka's per-segment scan is. ListOffsets is rare; Fetch never
   * comes here. */
  for (size_t i = 0; i < log->count; i++) {
    const struct mk_batch *b = mk_log_batch(log, i);
    if (b->max_timestamp < timestamp || b->last_offset < log->log_start_offset) continue;
    struct mk_record_batch parsed;
    mk_batch_parsed(b, &parsed);
    struct mk_record_reader rr;
    int rc = mk_record_reader_init(&rr, &parsed, max_decompressed, err);
    if (rc) return rc;
    bool log_append_time = (b->attributes & MK_ATTR_LOG_APPEND_TIME) != 0;
    struct mk_record rec;
    while ((rc = mk_record_reader_next(&rr, &rec, err)) == 0) {
      int64_t offset = b->base_offset + rec.offset_delta;
      /* Unsigned addition, as the builder's subtraction: extreme values must not be UB. */
      int64_t ts = log_append_time
                       ? b->max_timestamp
                       : (int64_t)((uint64_t)b->base_timestamp + (uint64_t)rec.timestamp_delta);
      if (ts >= timestamp && offset >= log->log_start_offset) {
        *out = (struct mk_timestamp_and_offset){ts, offset, b->leader_epoch};
        break;
      }
    }
    mk_record_reader_free(&rr);
    if (out->offset >= 0) return 0;
    /* MK_ERR__STATE means "all records read": the max_timestamp promised a record this
     * recent but none was (a producer may set max_timestamp freely); try the next batch. */
    if (rc != MK_ERR__STATE) return rc;
    if (err) *err = (struct mk_err){0};
  }
  return 0;
}
