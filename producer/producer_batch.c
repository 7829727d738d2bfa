/*
 * ProducerBatch: see producer_batch.h.
 */
#include "producer/producer_batch.h"

#include <stdlib.h>
#include <string.h>

#include "producer/producer_internal.h"

struct mk_producer_batch *mk_producer_batch_new(struct mk_producer *producer, const char *topic,
                                                int32_t partition, int32_t batch_size,
                                                int compression, int compression_level,
                                                float estimated_ratio, int64_t now_ms) {
  struct mk_producer_batch *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->producer = producer;
  b->topic = topic;
  b->partition = partition;
  b->created_ms = now_ms;
  b->estimated_ratio = compression ? estimated_ratio : 1.0f;
  b->producer_id = -1;
  b->producer_epoch = -1;
  b->base_sequence = -1;
  mk_record_batch_builder_init(&b->builder);
  b->builder.compression = compression;
  b->builder.compression_level = compression_level;
  if (mk_record_batch_builder_reserve(&b->builder, batch_size > 0 ? (size_t)batch_size : 0)) {
    mk_producer_batch_free(b);
    return NULL;
  }
  return b;
}

void mk_producer_batch_free(struct mk_producer_batch *b) {
  if (!b) return;
  mk_record_batch_builder_free(&b->builder);
  free(b->thunks);
  free(b->bytes);
  free(b);
}

size_t mk_producer_batch_size(const struct mk_producer_batch *b) {
  return mk_record_batch_builder_size(&b->builder);
}

size_t mk_producer_batch_estimated_size(const struct mk_producer_batch *b) {
  size_t raw = mk_producer_batch_size(b);
  if (!b->builder.compression || raw <= MK_RECORD_BATCH_HEADER_SIZE) return raw;
  double records = (double)(raw - MK_RECORD_BATCH_HEADER_SIZE);
  return MK_RECORD_BATCH_HEADER_SIZE + (size_t)(records * b->estimated_ratio * 1.05);
}

bool mk_producer_batch_is_full(const struct mk_producer_batch *b, int32_t batch_size) {
  return b->bytes != NULL || mk_producer_batch_estimated_size(b) >= (size_t)batch_size;
}

int mk_producer_batch_try_append(struct mk_producer_batch *b, int32_t batch_size,
                                 int64_t timestamp, struct mk_bytes key, struct mk_bytes value,
                                 const struct mk_record_header *headers, int headers_count,
                                 const struct mk_record_thunk *thunk, size_t *appended_bytes) {
  if (b->bytes) return 1;  /* closed: drained already */
  int64_t delta = b->record_count ? timestamp - b->builder.base_timestamp : 0;
  size_t need = mk_record_batch_record_size(delta, b->record_count, key, value, headers,
                                            headers_count);
  /* Java's hasRoomFor: the estimate so far plus the record uncompressed (an upper bound). */
  size_t now = mk_producer_batch_size(b);
  if (b->record_count > 0 && mk_producer_batch_estimated_size(b) + need > (size_t)batch_size)
    return 1;
  /* And never more than max.request.size uncompressed: if the data suddenly compresses
   * worse than estimated, the batch must still be small enough to send. (Java splits a
   * batch the broker refused as too large and sends the halves; we have no split.) */
  if (b->record_count > 0 && now + need > (size_t)b->producer->cfg->max_request_size) return 1;
  if (b->record_count == b->thunks_cap) {
    int32_t cap = b->thunks_cap ? b->thunks_cap * 2 : 16;
    struct mk_record_thunk *t = realloc(b->thunks, sizeof *t * (size_t)cap);
    if (!t) return MK_ERR__NO_MEMORY;
    b->thunks = t;
    b->thunks_cap = cap;
  }
  if (mk_record_batch_builder_append(&b->builder, timestamp, key, value, headers, headers_count))
    return MK_ERR__NO_MEMORY;
  struct mk_record_thunk *t = &b->thunks[b->record_count];
  *t = *thunk;
  t->offset_delta = b->record_count++;
  t->timestamp = timestamp;
  if (appended_bytes) *appended_bytes = mk_producer_batch_size(b) - now;
  return 0;
}

int mk_producer_batch_close(struct mk_producer_batch *b, struct mk_err *err) {
  if (b->bytes) return 0;
  b->builder.producer_id = b->producer_id;
  b->builder.producer_epoch = b->producer_epoch;
  b->builder.base_sequence = b->base_sequence;
  /* The records move into bytes: uncompressed, without a copy (the builder kept room for
   * the header in front of them). The builder is spent after this. */
  return mk_record_batch_builder_take(&b->builder, &b->bytes, &b->bytes_len, err);
}

bool mk_producer_batch_done(struct mk_producer_batch *b, int64_t base_offset,
                            int64_t log_append_time, const struct mk_err *err) {
  if (b->state != MK_BATCH_OPEN) return false;
  b->state = err && err->code ? MK_BATCH_FAILED : MK_BATCH_SUCCEEDED;
  /* Counted before any callback runs, as Java does, so code woken by the last callback
   * already sees this batch in record-send-total / record-error-total. The records' sizes
   * are counted here too, in the same step, rather than one by one in send(): that was a
   * lock and a clock read per record on the application's thread. */
  double size_sum = 0, size_max = 0;
  for (int32_t i = 0; i < b->record_count; i++) {
    size_sum += b->thunks[i].record_size;
    if (b->thunks[i].record_size > size_max) size_max = b->thunks[i].record_size;
  }
  mk_metrics_record_batch(&b->producer->metrics,
                          b->state == MK_BATCH_SUCCEEDED ? MK_M_RECORD_SEND : MK_M_RECORD_ERROR,
                          b->topic, b->record_count, size_sum, size_max);
  for (int32_t i = 0; i < b->record_count; i++) {
    const struct mk_record_thunk *t = &b->thunks[i];
    struct mk_record_metadata md = {
        .topic = b->topic,
        .partition = b->partition,
        .offset = base_offset >= 0 && b->state == MK_BATCH_SUCCEEDED ? base_offset + t->offset_delta : -1,
        .timestamp = log_append_time >= 0 ? log_append_time : t->timestamp,
        .serialized_key_size = t->key_size,
        .serialized_value_size = t->value_size,
    };
    mk_producer_complete_record(b->producer, t, &md, b->state == MK_BATCH_SUCCEEDED ? NULL : err);
  }
  return true;
}
