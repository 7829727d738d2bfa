/*
 * Produce watch: what a real cluster's Produce answers say about its log, for the trace.
 * Kafka: the broker's own `append` and `duplicate` (our broker/produce.c emits them from
 * inside); here they are read from outside, and say so ("via": "proxy").
 *
 * A Produce answer gives, per partition, the offset the batch was written at. With the
 * request's batch (records, bytes, producer id, sequence) that is an append of offsets
 * base .. base + records - 1. A broker never writes two batches at one offset, so an answer
 * whose offsets were already given to an earlier batch is an idempotent producer's retry
 * that the cluster recognised and did not write again: a `duplicate`. Without idempotence
 * a retry gets new offsets, and shows as a second append: the duplicate in the log.
 *
 * Memory: the last few offset ranges of each partition (Kafka remembers five batches per
 * producer; eight ranges per partition here), for at most MAX_PARTITIONS partitions; past
 * that the oldest entries are forgotten (a recognised retry of one of them would then show
 * as an append).
 *
 * Thread: the proxy's loop.
 */
#include <stdlib.h>
#include <string.h>

#include "common/trace.h"
#include "protocol/compression.h"
#include "protocol/messages/produce.h"
#include "protocol/record_batch.h"
#include "proxy/proxy_internal.h"

enum { RANGES = 8, MAX_PARTITIONS = 4096 };

struct watched {
  char *topic;
  int32_t partition;
  int64_t base[RANGES], last[RANGES];
  int n, next;
  struct watched *newer;        /* a list, newest first */
};

struct mk_produce_watch {
  struct watched *head;
  int count;
};

struct mk_produce_watch *mk_produce_watch_new(void) {
  return calloc(1, sizeof(struct mk_produce_watch));
}

static void free_watched(struct watched *w) {
  free(w->topic);
  free(w);
}

void mk_produce_watch_free(struct mk_produce_watch *pw) {
  if (!pw) return;
  while (pw->head) {
    struct watched *w = pw->head;
    pw->head = w->newer;
    free_watched(w);
  }
  free(pw);
}

/* The partition's entry (moved to the front), or a new one; NULL when out of memory. */
static struct watched *watched(struct mk_produce_watch *pw, struct mk_str topic,
                               int32_t partition) {
  struct watched **pp = &pw->head, *last = NULL;
  for (; *pp; pp = &(*pp)->newer) {
    struct watched *w = *pp;
    if (w->partition == partition && mk_str_eq(topic, w->topic)) {
      *pp = w->newer;
      w->newer = pw->head;
      pw->head = w;
      return w;
    }
  }
  if (pw->count >= MAX_PARTITIONS) {  /* forget the oldest */
    struct watched **oldest = &pw->head;
    while ((*oldest)->newer) oldest = &(*oldest)->newer;
    last = *oldest;
    *oldest = NULL;
    free_watched(last);
    pw->count--;
  }
  struct watched *w = calloc(1, sizeof *w);
  if (!w || !(w->topic = malloc((size_t)topic.len + 1))) {
    free(w);
    return NULL;
  }
  memcpy(w->topic, topic.ptr, (size_t)topic.len);
  w->topic[topic.len] = '\0';
  w->partition = partition;
  w->newer = pw->head;
  pw->head = w;
  pw->count++;
  return w;
}

/* The records the request sent to topic/partition: the first batch's header, and the
 * sum of records and bytes over its batches. False when there is none or it does not parse. */
static bool sent_batch(const struct mk_produce_request *req, struct mk_str topic,
                       int32_t partition, struct mk_record_batch *first, int64_t *records,
                       int64_t *bytes) {
  for (int32_t i = 0; i < req->topic_data_count; i++) {
    const struct mk_produce_topic_produce_data *td = &req->topic_data[i];
    if (td->name.len != topic.len || memcmp(td->name.ptr, topic.ptr, (size_t)topic.len) != 0)
      continue;
    for (int32_t j = 0; j < td->partition_data_count; j++) {
      if (td->partition_data[j].index != partition) continue;
      struct mk_bytes recs = td->partition_data[j].records;
      *records = *bytes = 0;
      size_t at = 0;
      while (recs.len > 0 && at < (size_t)recs.len) {
        struct mk_record_batch b;
        struct mk_err err = {0};
        if (mk_record_batch_parse(recs.ptr + at, (size_t)recs.len - at, &b, &err)) break;
        if (at == 0) *first = b;
        *records += b.records_count;
        *bytes += (int64_t)b.size;
        at += b.size;
      }
      return at > 0;
    }
  }
  return false;
}

static void trace_batch(const char *event, struct mk_str topic, int32_t partition, int64_t base,
                        int64_t last, const struct mk_record_batch *b, int64_t records,
                        int64_t bytes, int32_t node_id) {
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "broker", event);
  mk_trace_strn(&ev, "topic", topic.ptr, topic.len);
  mk_trace_int(&ev, "partition", partition);
  mk_trace_int(&ev, "base_offset", base);
  mk_trace_int(&ev, "last_offset", last);
  mk_trace_int(&ev, "records", records);
  mk_trace_int(&ev, "bytes", bytes);
  mk_trace_str(&ev, "compression", mk_compression_name(mk_record_batch_compression(b)));
  mk_trace_int(&ev, "producer_id", b->producer_id);
  mk_trace_int(&ev, "producer_epoch", b->producer_epoch);
  mk_trace_int(&ev, "base_sequence", b->base_sequence);
  mk_trace_int(&ev, "broker", node_id);
  mk_trace_str(&ev, "via", "proxy");
  mk_trace_end(&ev);
}

void mk_produce_watch_answer(struct mk_produce_watch *pw, const struct mk_request *req,
                             const void *answer, int32_t node_id) {
  const struct mk_produce_request *in = req->body;
  const struct mk_produce_response *out = answer;
  for (int32_t i = 0; i < out->responses_count; i++) {
    const struct mk_produce_topic_produce_response *tr = &out->responses[i];
    if (tr->name.len <= 0) continue;
    for (int32_t j = 0; j < tr->partition_responses_count; j++) {
      const struct mk_produce_partition_produce_response *pr = &tr->partition_responses[j];
      struct mk_record_batch first;
      int64_t records, bytes;
      if (pr->error_code || pr->base_offset < 0 ||
          !sent_batch(in, tr->name, pr->index, &first, &records, &bytes) || records <= 0)
        continue;
      int64_t base = pr->base_offset, last = base + records - 1;
      struct watched *w = watched(pw, tr->name, pr->index);
      if (!w) continue;
      int seen = -1;
      for (int k = 0; k < w->n && seen < 0; k++)
        if (base >= w->base[k] && base <= w->last[k]) seen = k;
      if (seen >= 0) {
        trace_batch("duplicate", tr->name, pr->index, w->base[seen], w->last[seen], &first,
                    records, bytes, node_id);
        continue;
      }
      w->base[w->next] = base;
      w->last[w->next] = last;
      w->next = (w->next + 1) % RANGES;
      if (w->n < RANGES) w->n++;
      trace_batch("append", tr->name, pr->index, base, last, &first, records, bytes, node_id);
    }
  }
}
