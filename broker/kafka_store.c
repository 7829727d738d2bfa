/*
 * Kafka store: the registry's writes to _schemas, replaying the topic, and answers that wait
 * for the high watermark. See kafka_store.h.
 *
 * The waits are decided on the store's timer, never where the news comes from: the
 * purgatory check (run when a high watermark moves, a leader changes, a topic goes) may run
 * deep inside an append or an election, so the watcher only kicks the timer, and the timer
 * callback, at the top of a loop turn, answers what can be answered.
 */
#include "broker/kafka_store.h"

#include <stdlib.h>
#include <string.h>

#include "broker/broker_internal.h"
#include "broker/purgatory.h"
#include "common/clock.h"
#include "common/log.h"

/* An answer waiting until the HW reaches `required` under the same leader and epoch. */
struct kafka_store_wait {
  struct mk_internal_write write;  /* leader, epoch and end offset to wait for */
  struct mk_uuid topic_id;
  int64_t deadline_ms;             /* kafkastore.timeout.ms after it began */
  mk_kafka_store_done *done;
  void *arg;
  struct kafka_store_wait *next;
};

static struct mk_topic *schemas_topic(struct mk_kafka_store *s, bool create) {
  struct mk_err err = {0};
  struct mk_topic *t = mk_cluster_find_topic(&s->b->cluster, mk_str_of(MK_SCHEMAS_TOPIC));
  if (t || !create) return t;
  t = mk_internal_topic_ensure(s->b, MK_SCHEMAS_TOPIC, 1, -1, &err);
  if (!t) {
    mk_log(MK_LOG_WARN, "schema-registry", "cannot create %s: %s", MK_SCHEMAS_TOPIC, err.msg);
    return NULL;
  }
  t->config.max_message_bytes = MK_SCHEMAS_MAX_MESSAGE_BYTES;
  return t;
}

struct mk_partition *mk_kafka_store_partition(struct mk_kafka_store *s) {
  return mk_cluster_partition(schemas_topic(s, false), 0);
}

/* ---- writing: the registry's store callback ---------------------------------------------- */

static int store_record(void *opaque, const char *key, size_t key_len, const char *value,
                        size_t value_len, struct mk_err *err) {
  struct mk_kafka_store *s = opaque;
  struct mk_partition *p = mk_cluster_partition(schemas_topic(s, true), 0);
  if (!p) return mk_err_set(err, MK_ERR_UNKNOWN_TOPIC_OR_PARTITION, "%s is missing and could "
                            "not be created", MK_SCHEMAS_TOPIC);
  if (key_len > INT32_MAX || value_len > INT32_MAX)
    return mk_err_set(err, MK_ERR_MESSAGE_TOO_LARGE, "a record of %zu bytes", value_len);
  struct mk_internal_record rec = {
      .key = {(const uint8_t *)key, (int32_t)key_len},
      .value = value ? (struct mk_bytes){(const uint8_t *)value, (int32_t)value_len}
                     : MK_BYTES_NULL};
  struct mk_internal_write w;
  int rc = mk_internal_topic_append(s->b, p, &rec, 1, true, &w, err);
  if (rc) return rc;
  /* sync ran before this request, so the registry had applied the log up to w.base_offset;
   * it applies this record itself when we return. */
  s->applied_end = w.end_offset;
  return 0;
}

/* ---- reading: replay ---------------------------------------------------------------------- */

static int replay_record(void *opaque, int64_t offset, struct mk_bytes key, struct mk_bytes value) {
  struct mk_kafka_store *s = opaque;
  struct mk_err err = {0};
  s->replayed++;
  if (key.len < 0 ||
      mk_schema_registry_replay(s->registry, (const char *)key.ptr, (size_t)key.len,
                                value.len < 0 ? NULL : (const char *)value.ptr,
                                value.len < 0 ? 0 : (size_t)value.len, &err))
    /* Confluent's reader logs a record it cannot read and goes on. */
    mk_log(MK_LOG_WARN, "schema-registry", "%s-0 offset %lld: skipping a record that is not "
           "the registry's: %s", MK_SCHEMAS_TOPIC, (long long)offset,
           key.len < 0 ? "null key" : err.msg);
  return 0;
}

void mk_kafka_store_sync(struct mk_kafka_store *s) {
  struct mk_topic *t = schemas_topic(s, false);
  struct mk_partition *p = mk_cluster_partition(t, 0);
  struct mk_replica *leader = p ? mk_partition_leader(p) : NULL;
  if (!t && s->have_log) {  /* deleted: the registry starts over (a write makes it again) */
    mk_schema_registry_reset(s->registry);
    s->have_log = false;
    s->applied_end = 0;
  }
  if (!leader) return;  /* none, or offline: answer from what we have; writes fail */
  bool same = s->have_log && memcmp(s->topic_id.b, t->id.b, sizeof t->id.b) == 0 &&
              s->leader == p->leader && s->leader_epoch == p->leader_epoch;
  if (!same) {
    if (s->have_log) {
      s->reloads++;
      mk_log(MK_LOG_INFO, "schema-registry", "%s-0 is now led by broker %d (epoch %d): "
             "reloading the registry from its log (%lld records)", MK_SCHEMAS_TOPIC, p->leader,
             p->leader_epoch, (long long)leader->log.log_end_offset);
    }
    mk_schema_registry_reset(s->registry);
    s->have_log = true;
    s->topic_id = t->id;
    s->leader = p->leader;
    s->leader_epoch = p->leader_epoch;
    s->applied_end = leader->log.log_start_offset;
  }
  int64_t end = leader->log.log_end_offset;
  if (s->applied_end >= end) return;
  struct mk_err err = {0};
  if (mk_internal_topic_read(p, s->applied_end, end, replay_record, s, &err))
    mk_log(MK_LOG_WARN, "schema-registry", "reading %s-0 from offset %lld: %s", MK_SCHEMAS_TOPIC,
           (long long)s->applied_end, err.msg);
  s->applied_end = end;
}

/* ---- waiting for the high watermark ------------------------------------------------------- */

static void on_timer(uv_timer_t *timer);

/* The purgatory's check: a HW moved, a leader changed, a topic went. Look on the next turn. */
static void watch(struct mk_broker *b, void *arg) {
  (void)b;
  struct mk_kafka_store *s = arg;
  if (s->waits) uv_timer_start(&s->timer, on_timer, 0, 0);
}

static void finish(struct kafka_store_wait *w, int rc, const struct mk_err *err) {
  w->done(w->arg, rc, err);
  free(w);
}

/* Answer every wait that is decided; re-arm the timer for the earliest deadline left. */
static void on_timer(uv_timer_t *timer) {
  struct mk_kafka_store *s = timer->data;
  int64_t now = mk_wall_ms(), next = -1;
  struct kafka_store_wait **pp = &s->waits;
  while (*pp) {
    struct kafka_store_wait *w = *pp;
    struct mk_topic *t = schemas_topic(s, false);
    if (t && memcmp(t->id.b, w->topic_id.b, sizeof t->id.b) != 0) t = NULL;
    struct mk_err err = {0};
    enum mk_write_state st = mk_internal_topic_write_state(s->b, t, 0, &w->write, &err);
    int rc = 0;
    bool decided = st != MK_WRITE_PENDING;
    if (st == MK_WRITE_FAILED) {
      rc = err.code;
    } else if (st == MK_WRITE_PENDING && now >= w->deadline_ms) {
      decided = true;
      s->timeouts++;
      rc = mk_err_set(&err, MK_ERR__TIMED_OUT, "the write to %s-0 (offsets up to %lld) was not "
                      "replicated to the ISR within kafkastore.timeout.ms (%d ms): high "
                      "watermark %lld", MK_SCHEMAS_TOPIC, (long long)w->write.end_offset - 1,
                      MK_KAFKA_STORE_TIMEOUT_MS,
                      (long long)mk_cluster_partition(t, 0)->high_watermark);
    }
    if (!decided) {
      if (next < 0 || w->deadline_ms < next) next = w->deadline_ms;
      pp = &w->next;
      continue;
    }
    *pp = w->next;
    finish(w, rc, rc ? &err : NULL);  /* may answer (and so add nothing here) */
  }
  if (next >= 0) uv_timer_start(&s->timer, on_timer, (uint64_t)(next > now ? next - now : 0), 0);
}

bool mk_kafka_store_when_committed(struct mk_kafka_store *s, mk_kafka_store_done *done,
                                   void *arg) {
  struct mk_topic *t = schemas_topic(s, false);
  struct mk_partition *p = mk_cluster_partition(t, 0);
  if (!p || !s->have_log || p->high_watermark >= s->applied_end) return false;
  struct kafka_store_wait *w = calloc(1, sizeof *w);
  if (!w) {
    struct mk_err err;
    mk_err_set(&err, MK_ERR__NO_MEMORY, "out of memory waiting for %s", MK_SCHEMAS_TOPIC);
    done(arg, err.code, &err);
    return true;
  }
  /* What was applied came from s->leader in s->leader_epoch (sync): wait under them. */
  w->write = (struct mk_internal_write){.leader = s->leader, .leader_epoch = s->leader_epoch,
                                        .base_offset = s->applied_end,
                                        .end_offset = s->applied_end};
  w->topic_id = s->topic_id;
  w->deadline_ms = mk_wall_ms() + MK_KAFKA_STORE_TIMEOUT_MS;
  w->done = done;
  w->arg = arg;
  w->next = s->waits;
  s->waits = w;
  uv_timer_start(&s->timer, on_timer, 0, 0);  /* the HW may have moved already */
  return true;
}

/* Fail every waiting answer with MK_ERR__STATE and why. */
static void fail_waits(struct mk_kafka_store *s, const char *why) {
  while (s->waits) {
    struct kafka_store_wait *w = s->waits;
    s->waits = w->next;
    struct mk_err err;
    mk_err_set(&err, MK_ERR__STATE, "%s", why);
    finish(w, err.code, &err);
  }
}

/* ---- life ---------------------------------------------------------------------------------- */

int mk_kafka_store_init(struct mk_kafka_store *s, struct mk_broker *b, struct mk_err *err) {
  memset(s, 0, sizeof *s);
  s->b = b;
  if (!(s->registry = mk_schema_registry_new(store_record, s)))
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory for the schema registry");
  if (mk_purgatory_watch(b, watch, s))
    return mk_err_set(err, MK_ERR__STATE, "no free purgatory watcher for the schema registry");
  uv_timer_init(&b->loop, &s->timer);
  s->timer.data = s;
  mk_kafka_store_sync(s);
  return 0;
}

void mk_kafka_store_reset(struct mk_kafka_store *s) {
  fail_waits(s, "the registry was reset");
  struct mk_topic *t = schemas_topic(s, false);
  if (t) {
    mk_cluster_delete_topic(&s->b->cluster, t);
    mk_purgatory_check(s->b);  /* fetches parked on it now find it gone */
  }
  mk_kafka_store_sync(s);  /* the registry emptied; the next write makes _schemas again */
}

void mk_kafka_store_close(struct mk_kafka_store *s) {
  fail_waits(s, "the broker is stopping");
  if (s->timer.data && !uv_is_closing((uv_handle_t *)&s->timer))
    uv_close((uv_handle_t *)&s->timer, NULL);
}

void mk_kafka_store_free(struct mk_kafka_store *s) {
  mk_schema_registry_free(s->registry);
  s->registry = NULL;
}
