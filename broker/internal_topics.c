/*
 * Internal topics: creating one, appending a service's records, telling when they are
 * committed, reading them back. See internal_topics.h.
 *
 * An append here is produce.c's acks=all path without a request around it: the same ISR
 * check before writing, the same stored batch (a copy of the bytes a record batch builder
 * made: magic 2, CRC, no producer id), the same trace event, the same call that wakes the
 * followers. Only the waiting differs: a Produce parks in the purgatory; a service keeps
 * its own waiting list and asks mk_internal_topic_write_state.
 */
#include "broker/internal_topics.h"

#include <stdlib.h>
#include <string.h>

#include "broker/broker_internal.h"
#include "broker/config.h"
#include "broker/kafka_apis.h"
#include "broker/replica_set.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/trace.h"
#include "protocol/record_batch.h"

struct mk_topic *mk_internal_topic_ensure(struct mk_broker *b, const char *name,
                                          int32_t partitions, int32_t replication_factor,
                                          struct mk_err *err) {
  struct mk_cluster *c = &b->cluster;
  struct mk_topic *t = mk_cluster_find_topic(c, mk_str_of(name));
  if (t) return t;
  int live = 0;
  for (int i = 0; i < c->nnodes; i++) live += c->nodes[i].up;
  int32_t rf = replication_factor > 0 ? replication_factor : 3;
  if (rf > live) rf = live;
  if (mk_cluster_create_topic(c, mk_str_of(name), partitions, rf, &t, err)) return NULL;
  mk_internal_topic_configure(c, t, rf, -1);
  return t;
}

void mk_internal_topic_configure(struct mk_cluster *c, struct mk_topic *t, int32_t rf,
                                 int32_t min_insync_replicas) {
  /* Kafka compacts these topics; our logs cannot (see the header), so nothing may expire
   * from them, and neither retention nor log.memory.max.bytes deletes from them. */
  static const char *const no_retention[] = {"retention.ms", "retention.bytes"};
  for (size_t i = 0; i < sizeof no_retention / sizeof no_retention[0]; i++)
    mk_topic_config_set(&t->config, mk_str_of(no_retention[i]), mk_str_of("-1"), NULL);
  t->compacted = true;
  /* Their writes are acks=all: with fewer replicas than min.insync.replicas (a one-broker
   * cluster) none could ever succeed, so the topic asks for at most what it has. */
  int32_t min_isr = min_insync_replicas >= 0 ? min_insync_replicas : c->cfg.min_insync_replicas;
  if (min_isr > rf) t->config.min_insync_replicas = rf;
  else if (min_insync_replicas >= 0) t->config.min_insync_replicas = min_isr;
}

/* The records as one stored batch (a copy), or NULL with err. */
static struct mk_batch *build_batch(struct mk_partition *p,
                                    const struct mk_internal_record *records, int n,
                                    int64_t base, int64_t now_ms, struct mk_record_batch *parsed,
                                    uint8_t **bytes, struct mk_err *err) {
  struct mk_record_batch_builder bb;
  mk_record_batch_builder_init(&bb);
  size_t len = 0;
  int rc = 0;
  for (int i = 0; i < n && !rc; i++)
    rc = mk_record_batch_builder_append(&bb, now_ms, records[i].key, records[i].value, NULL, 0);
  if (rc) mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory building a batch for %s-%d",
                     p->topic->name, p->index);
  else rc = mk_record_batch_builder_take(&bb, bytes, &len, err);
  mk_record_batch_builder_free(&bb);
  if (rc || mk_record_batch_parse(*bytes, len, parsed, err)) return NULL;
  struct mk_batch *stored = mk_batch_new(parsed, base, p->leader_epoch, now_ms, NULL);
  if (!stored) mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory storing a batch");
  return stored;
}

int mk_internal_topic_append(struct mk_broker *b, struct mk_partition *p,
                             const struct mk_internal_record *records, int n, bool acks_all,
                             struct mk_internal_write *w, struct mk_err *err) {
  struct mk_topic *t = p->topic;
  struct mk_replica *leader = mk_partition_leader(p);
  if (!leader)
    return mk_err_set(err, MK_ERR_NOT_LEADER_OR_FOLLOWER, "%s-%d has no leader (its replicas' "
                      "brokers are down)", t->name, p->index);
  int32_t min_isr = mk_topic_min_insync_replicas(&b->cluster, t);
  if (acks_all && mk_partition_isr_count(p) < min_isr)
    return mk_err_set(err, MK_ERR_NOT_ENOUGH_REPLICAS, "the ISR of %s-%d has %d replicas, "
                      "min.insync.replicas is %d", t->name, p->index, mk_partition_isr_count(p),
                      min_isr);
  int64_t base = leader->log.log_end_offset, now = mk_wall_ms();
  struct mk_record_batch parsed;
  uint8_t *bytes = NULL;
  struct mk_batch *stored = build_batch(p, records, n, base, now, &parsed, &bytes, err);
  int rc = stored ? 0 : err->code ? err->code : MK_ERR__NO_MEMORY;
  int32_t max = mk_topic_max_message_bytes(&b->cluster, t);
  if (!rc && stored->size > (size_t)max)
    rc = mk_err_set(err, MK_ERR_MESSAGE_TOO_LARGE, "a batch of %zu bytes for %s-%d exceeds "
                    "max.message.bytes (%d)", stored->size, t->name, p->index, max);
  if (!rc) rc = mk_log_append(&leader->log, stored, err);
  if (!rc) {
    if (mk_trace_on()) mk_produce_trace_batch("append", p, &parsed, base, stored->last_offset, NULL);
    *w = (struct mk_internal_write){.leader = p->leader, .leader_epoch = p->leader_epoch,
                                    .base_offset = base, .end_offset = stored->last_offset + 1};
  }
  mk_batch_unref(stored);
  free(bytes);
  if (!rc) mk_replica_set_replicate(b, p);  /* may move the HW at once (an ISR of one) */
  return rc;
}

enum mk_write_state mk_internal_topic_write_state(struct mk_broker *b, struct mk_topic *t,
                                                  int32_t partition,
                                                  const struct mk_internal_write *w,
                                                  struct mk_err *err) {
  struct mk_partition *p = mk_cluster_partition(t, partition);
  if (!p) {
    mk_err_set(err, MK_ERR_UNKNOWN_TOPIC_OR_PARTITION, "the topic was deleted");
    return MK_WRITE_FAILED;
  }
  if (p->leader != w->leader || p->leader_epoch != w->leader_epoch) {
    mk_err_set(err, MK_ERR_NOT_LEADER_OR_FOLLOWER, "%s-%d changed leader (broker %d, epoch %d "
               "-> broker %d, epoch %d) before its followers had the write", t->name, partition,
               w->leader, w->leader_epoch, p->leader, p->leader_epoch);
    return MK_WRITE_FAILED;
  }
  if (p->high_watermark < w->end_offset) return MK_WRITE_PENDING;
  int32_t min_isr = mk_topic_min_insync_replicas(&b->cluster, t);
  if (mk_partition_isr_count(p) < min_isr)
    mk_err_set(err, MK_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND, "the ISR of %s-%d shrank to %d, "
               "below min.insync.replicas %d", t->name, partition, mk_partition_isr_count(p),
               min_isr);
  return MK_WRITE_DONE;
}

int mk_internal_topic_read(struct mk_partition *p, int64_t from, int64_t to,
                           int (*fn)(void *opaque, int64_t offset, struct mk_bytes key,
                                     struct mk_bytes value),
                           void *opaque, struct mk_err *err) {
  struct mk_replica *r = mk_partition_leader(p);
  if (!r) return 0;
  int rc = 0;
  for (size_t i = mk_log_find(&r->log, from); i < r->log.count && !rc; i++) {
    const struct mk_batch *batch = mk_log_batch(&r->log, i);
    if (to >= 0 && batch->base_offset >= to) break;
    if (batch->is_control) continue;
    struct mk_record_batch parsed;
    mk_batch_parsed(batch, &parsed);
    struct mk_record_reader rr;
    if ((rc = mk_record_reader_init(&rr, &parsed, 64 << 20, err))) break;
    struct mk_record rec;
    int next = 0;
    while (!rc && (next = mk_record_reader_next(&rr, &rec, err)) == 0) {
      int64_t offset = batch->base_offset + rec.offset_delta;
      if (offset < from) continue;
      if (to >= 0 && offset >= to) break;
      rc = fn(opaque, offset, rec.key, rec.value);
    }
    if (!rc && next != MK_ERR__STATE) rc = next;  /* _STATE: every record was read */
    mk_record_reader_free(&rr);
  }
  return rc;
}
