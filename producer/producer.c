/*
 * KafkaProducer: the application's side of the producer. See producer.h for the design.
 * Kafka: producer/KafkaProducer.java (doSend, partition, waitOnMetadata, flush, close).
 *
 * mk_producer_send in order (KafkaProducer.doSend):
 *   1. interceptors' onSend (on a copy of the record: they may change it)
 *   2. serialize key and value (key.serializer, value.serializer)
 *   3. check the size against max.request.size and buffer.memory
 *   4. wait for the topic's metadata (up to max.block.ms)
 *   5. choose the partition: explicit > partitioner.class > key hash > sticky
 *   6. append to the accumulator (waiting for buffer.memory with what is left of max.block.ms)
 *   7. wake the Sender if a batch filled up or a new one began
 * A failure in any step completes the record at once, on this thread.
 */
#include "producer/producer.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/trace.h"
#include "consumer/consumer.h"
#include "producer/client_utils.h"
#include "producer/producer_internal.h"
#include "producer/sender.h"
#include "producer/transaction_manager.h"

/* ---- futures --------------------------------------------------------------------------- */

struct mk_future {
  pthread_mutex_t lock;
  pthread_cond_t done_cond;
  atomic_int refs;             /* the application's, and the pending record's */
  bool done;
  struct mk_record_metadata metadata;
  struct mk_err err;
};

static struct mk_future *future_new(void) {
  struct mk_future *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  pthread_mutex_init(&f->lock, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&f->done_cond, &attr);
  pthread_condattr_destroy(&attr);
  atomic_init(&f->refs, 2);
  return f;
}

static void future_unref(struct mk_future *f) {
  if (!f || atomic_fetch_sub(&f->refs, 1) != 1) return;
  pthread_mutex_destroy(&f->lock);
  pthread_cond_destroy(&f->done_cond);
  free(f);
}

static void future_complete(struct mk_future *f, const struct mk_record_metadata *md,
                            const struct mk_err *err) {
  pthread_mutex_lock(&f->lock);
  f->metadata = *md;
  if (err) f->err = *err;
  f->done = true;
  pthread_cond_broadcast(&f->done_cond);
  pthread_mutex_unlock(&f->lock);
  future_unref(f);
}

int mk_future_get(struct mk_future *f, int64_t timeout_ms, struct mk_record_metadata *metadata,
                  struct mk_err *err) {
  int64_t deadline = timeout_ms < 0 ? -1 : mk_now_us() / 1000 + timeout_ms;
  pthread_mutex_lock(&f->lock);
  while (!f->done) {
    if (deadline < 0) {
      pthread_cond_wait(&f->done_cond, &f->lock);
      continue;
    }
    if (mk_now_us() / 1000 >= deadline) {
      pthread_mutex_unlock(&f->lock);
      return mk_err_set(err, MK_ERR__TIMED_OUT, "the send has not completed within %lld ms",
                        (long long)timeout_ms);
    }
    struct timespec until = {(time_t)(deadline / 1000), (long)(deadline % 1000) * 1000000};
    pthread_cond_timedwait(&f->done_cond, &f->lock, &until);
  }
  if (metadata) *metadata = f->metadata;
  int rc = f->err.code;
  if (rc && err) *err = f->err;
  pthread_mutex_unlock(&f->lock);
  return rc;
}

bool mk_future_done(struct mk_future *f) {
  pthread_mutex_lock(&f->lock);
  bool done = f->done;
  pthread_mutex_unlock(&f->lock);
  return done;
}

void mk_future_free(struct mk_future *f) { future_unref(f); }

/* ---- completion ------------------------------------------------------------------------ */

void mk_producer_complete_record(struct mk_producer *p, const struct mk_record_thunk *t,
                                 const struct mk_record_metadata *md, const struct mk_err *err) {
  static const struct mk_err ok;  /* interceptors and callbacks always get an err (code 0) */
  if (!err) err = &ok;
  for (int i = 0; i < p->cfg->num_interceptors; i++)
    if (p->cfg->interceptors[i]->on_acknowledgement)
      p->cfg->interceptors[i]->on_acknowledgement(p->cfg->interceptors[i]->opaque, md, err);
  if (mk_trace_on()) {
    struct mk_trace_event ev;
    mk_producer_trace_begin(&ev, p->cfg, "complete");
    mk_trace_str(&ev, "topic", md->topic);
    mk_trace_int(&ev, "partition", md->partition);
    if (err->code) {
      mk_trace_str(&ev, "error", mk_err_name(err->code));
      mk_trace_str(&ev, "message", err->msg);
    } else {
      mk_trace_int(&ev, "offset", md->offset);
    }
    mk_trace_end(&ev);
  }
  if (t->callback) t->callback(md, err, t->opaque);
  if (t->future) future_complete(t->future, md, err);
}

/* ---- lifecycle ------------------------------------------------------------------------- */

/* Serializer.configure(configs, isKey): a serializer that needs settings (AvroSerializer)
 * gives this producer its own instance; the others are used as they are. */
static int configure_serializers(struct mk_producer *p, struct mk_err *err) {
  const struct mk_serializer *given[2] = {p->cfg->key_serializer, p->cfg->value_serializer};
  const struct mk_serializer **used[2] = {&p->key_serializer, &p->value_serializer};
  for (int i = 0; i < 2; i++) {
    *used[i] = given[i];
    if (given[i] && given[i]->configure) {
      struct mk_err inner = {0};
      if (!(*used[i] = given[i]->configure(given[i], p->cfg, i == 0, &inner)))
        return mk_err_set(err, inner.code ? inner.code : MK_ERR__INVALID_ARG, "%s %s: %s",
                          i == 0 ? "key.serializer" : "value.serializer", given[i]->name,
                          inner.msg);
    }
  }
  return 0;
}

/* Close the serializers in use, once each (key and value may be one object). */
static void close_serializers(struct mk_producer *p) {
  const struct mk_serializer *key = p->key_serializer, *value = p->value_serializer;
  if (key && key->close) key->close(key->opaque);
  if (value && value->close && value != key) value->close(value->opaque);
  p->key_serializer = p->value_serializer = NULL;
}

int mk_producer_new(const struct mk_producer_config *cfg, struct mk_producer **out,
                    struct mk_err *err) {
  if (!cfg->finished)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "call mk_producer_config_finish() first");
  struct mk_producer *p = calloc(1, sizeof *p);
  if (!p || !(p->cfg = mk_producer_config_dup(cfg))) {
    free(p);
    return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  }
  for (int i = 0; i < p->cfg->num_notes; i++)
    mk_log(p->cfg->notes[i].level, "producer", "%s", p->cfg->notes[i].msg);
  /* ClientUtils.parseAndValidateAddresses: the bootstrap entries client.dns.lookup makes of
   * bootstrap.servers; none that resolves is Java's ConfigException. */
  char **servers;
  int nservers;
  if (mk_client_bootstrap_servers(p->cfg, &servers, &nservers, err)) {
    mk_producer_config_free(p->cfg);
    free(p);
    return err->code;
  }
  for (int i = 0; i < p->cfg->num_bootstrap_servers; i++) free(p->cfg->bootstrap_servers[i]);
  free(p->cfg->bootstrap_servers);
  p->cfg->bootstrap_servers = servers;
  p->cfg->num_bootstrap_servers = nservers;
  mk_producer_metrics_init(&p->metrics, p->cfg->buffer_memory);
  p->partitioner = p->cfg->partitioner;
  if (!p->partitioner && p->cfg->partitioner_class && p->cfg->partitioner_class[0]) {
    int rc = mk_partitioner_new_builtin(p->cfg->partitioner_class, &p->builtin_plugin, err);
    if (rc) {
      mk_producer_config_free(p->cfg);
      free(p);
      return rc;
    }
    p->partitioner = p->builtin_plugin;
  }
  int rc = configure_serializers(p, err);
  if (!rc) {
    p->metadata = mk_producer_metadata_new(p->cfg->metadata_max_age_ms);
    p->accumulator = mk_accumulator_new(p->cfg, p, &p->metrics);
    p->transaction_manager = calloc(1, sizeof *p->transaction_manager);
    rc = p->metadata && p->accumulator && p->transaction_manager &&
                 !mk_transaction_manager_init(p->transaction_manager, p->cfg->enable_idempotence,
                                              p->cfg->transactional_id,
                                              p->cfg->transaction_timeout_ms,
                                              p->cfg->retry_backoff_ms, p->cfg->client_id)
             ? mk_sender_start(p, &p->sender, err)
             : mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  }
  if (rc) {
    if (p->transaction_manager) mk_transaction_manager_destroy(p->transaction_manager);
    free(p->transaction_manager);
    close_serializers(p);
    mk_accumulator_free(p->accumulator);
    mk_producer_metadata_free(p->metadata);
    mk_partitioner_free(p->builtin_plugin);
    mk_producer_metrics_destroy(&p->metrics);
    mk_producer_config_free(p->cfg);
    free(p);
    return rc;
  }
  *out = p;
  return 0;
}

int mk_producer_flush(struct mk_producer *p, int64_t timeout_ms, struct mk_err *err) {
  int64_t deadline = timeout_ms < 0 ? -1 : mk_now_us() / 1000 + timeout_ms;
  int rc = mk_accumulator_flush(p->accumulator, deadline, mk_sender_wakeup, p->sender);
  if (rc) mk_err_set(err, rc, "flush: records still pending after %lld ms", (long long)timeout_ms);
  return rc;
}

void mk_producer_begin_close(struct mk_producer *p) {
  atomic_store(&p->closing, true);
  mk_accumulator_close(p->accumulator);     /* sends after this fail; blocked ones wake */
  mk_producer_metadata_close(p->metadata);  /* threads waiting for metadata wake */
  mk_transaction_manager_begin_close(p->transaction_manager);  /* and those of transactions */
}

int mk_producer_close(struct mk_producer *p, int64_t timeout_ms) {
  mk_producer_begin_close(p);
  int rc = mk_sender_close(p->sender, timeout_ms);
  /* A send that another thread began before closing was set may still be running: woken
   * from a wait, it is failing its record now. Everything it touches is freed below, so
   * wait for it to leave. Woken sends leave within microseconds; a sleep keeps this from
   * spinning if one is slow (an interceptor or serializer of the application's). */
  while (atomic_load(&p->sends_running) > 0) {
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  for (int i = 0; i < p->cfg->num_interceptors; i++)
    if (p->cfg->interceptors[i]->close) p->cfg->interceptors[i]->close(p->cfg->interceptors[i]->opaque);
  close_serializers(p);
  mk_partitioner_free(p->builtin_plugin);
  mk_accumulator_free(p->accumulator);
  mk_transaction_manager_destroy(p->transaction_manager);
  free(p->transaction_manager);
  mk_producer_metadata_free(p->metadata);
  mk_producer_metrics_destroy(&p->metrics);
  mk_producer_config_free(p->cfg);
  free(p);
  return rc;
}

/* ---- send ------------------------------------------------------------------------------ */

static void trace_send(const struct mk_producer *p, const struct mk_producer_record *rec,
                       const struct mk_bytes *key, const struct mk_bytes *value) {
  struct mk_trace_event ev;
  mk_producer_trace_begin(&ev, p->cfg, "send");
  mk_trace_str(&ev, "topic", rec->topic);
  if (rec->partition >= 0) mk_trace_int(&ev, "partition", rec->partition);
  mk_trace_strn(&ev, "key", (const char *)key->ptr, key->len);
  mk_trace_int(&ev, "key_bytes", key->len);
  mk_trace_int(&ev, "value_bytes", value->len);
  mk_trace_end(&ev);
}

/* Fail a send at once, on the caller's thread: the callback runs here (producer.h). A record
 * that got as far as its size check counts in record-size-* (appended ones are counted by
 * their batch, mk_producer_batch_done). */
static int fail_now(struct mk_producer *p, const struct mk_record_thunk *t, const char *topic,
                    int32_t partition, int rc, struct mk_err *err) {
  struct mk_record_metadata md = {topic, partition, -1, -1, t->key_size, t->value_size};
  if (t->record_size > 0) mk_metrics_record(&p->metrics, MK_M_RECORD_SIZE, t->record_size);
  mk_metrics_record_topic(&p->metrics, MK_M_RECORD_ERROR, topic, 1);
  mk_producer_complete_record(p, t, &md, err);
  return rc;
}

static int send_record(struct mk_producer *p, const struct mk_producer_record *record,
                       mk_send_callback callback, void *opaque, struct mk_future **future,
                       struct mk_err *err) {
  struct mk_err local;  /* an empty message, without zeroing its 200 bytes on every send */
  local.code = 0;
  local.msg[0] = '\0';
  if (!err) err = &local;
  const struct mk_producer_config *cfg = p->cfg;
  struct mk_record_thunk thunk = {.callback = callback, .opaque = opaque, .timestamp = -1,
                                  .key_size = -1, .value_size = -1};
  if (future) {
    thunk.future = *future = future_new();  /* refs: the caller's and the thunk's */
    if (!thunk.future) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  }

  /* 1. Interceptors see (and may change) a copy of the record. */
  struct mk_producer_record rec = *record;
  for (int i = 0; i < cfg->num_interceptors; i++)
    if (cfg->interceptors[i]->on_send) cfg->interceptors[i]->on_send(cfg->interceptors[i]->opaque, &rec);
  int32_t partition = rec.partition;  /* once chosen, the one a failure reports */
  if (atomic_load(&p->closing))
    return fail_now(p, &thunk, rec.topic, rec.partition,
                    mk_err_set(err, MK_ERR__STATE, "Cannot perform operation after producer has been closed"), err);
  if (!rec.topic || !rec.topic[0])
    return fail_now(p, &thunk, "", -1, mk_err_set(err, MK_ERR__INVALID_ARG, "a record needs a topic"), err);
  /* A transactional producer sends only inside a transaction (and nobody after a fatal
   * error): refused here, before anything is appended. */
  struct mk_transaction_manager *tm = p->transaction_manager;
  if (mk_transaction_manager_check_send(tm, err))
    return fail_now(p, &thunk, rec.topic, rec.partition, err->code, err);
  for (int i = 0; i < rec.headers_count; i++)  /* Java's RecordHeader refuses these too */
    if (rec.headers[i].key.len < 0)
      return fail_now(p, &thunk, rec.topic, rec.partition,
                      mk_err_set(err, MK_ERR__INVALID_ARG, "Null header keys are not permitted"), err);

  /* 2. Serialize. */
  struct mk_writer kw, vw;
  mk_writer_init(&kw);
  mk_writer_init(&vw);
  struct mk_bytes key = MK_BYTES_NULL, value = MK_BYTES_NULL;
  int rc = mk_serializer_serialize(p->key_serializer, true, rec.topic, &rec.key, &key, &kw, err);
  if (!rc) rc = mk_serializer_serialize(p->value_serializer, false, rec.topic, &rec.value, &value, &vw, err);
  thunk.key_size = key.len;
  thunk.value_size = value.len;
  if (rc) goto fail;
  if (mk_trace_on()) trace_send(p, &rec, &key, &value);

  /* 3. Size checks (ensureValidRecordSize). */
  size_t size = mk_record_batch_record_size(0, 0, key, value, rec.headers, rec.headers_count) +
                MK_RECORD_BATCH_HEADER_SIZE;
  thunk.record_size = size > INT32_MAX ? INT32_MAX : (int32_t)size;
  if (size > (size_t)cfg->max_request_size) {
    rc = mk_err_set(err, MK_ERR_MESSAGE_TOO_LARGE, "The message is %zu bytes when serialized which "
                    "is larger than %d, which is the value of the max.request.size configuration.",
                    size, cfg->max_request_size);
    goto fail;
  }
  if ((int64_t)size > cfg->buffer_memory) {
    rc = mk_err_set(err, MK_ERR_MESSAGE_TOO_LARGE, "The message is %zu bytes when serialized which "
                    "is larger than the total memory buffer you have configured with the "
                    "buffer.memory configuration (%lld).", size, (long long)cfg->buffer_memory);
    goto fail;
  }

  /* 4. Metadata. max.block.ms is one budget for the two waits, for metadata here and for
   * buffer.memory in the append, as in Java's doSend; the clock is read only if one of them
   * has to wait, not on every send. */
  int64_t max_block_ms = cfg->max_block_ms;
  int64_t waited_ms;
  struct mk_topic_snapshot *snap =
      mk_producer_metadata_topic(p->metadata, rec.topic, max_block_ms, &waited_ms,
                                 mk_sender_wakeup, p->sender, err);
  if (!snap) {
    rc = err->code;
    goto fail;
  }
  struct mk_topic_partitions parts = mk_topic_snapshot_partitions(snap);
  if (rec.partition >= parts.count) {
    rc = mk_err_set(err, MK_ERR_UNKNOWN_TOPIC_OR_PARTITION,
                    "Partition %d of topic %s with partition count %d is not present in metadata.",
                    rec.partition, rec.topic, parts.count);
    mk_topic_snapshot_release(snap);
    goto fail;
  }

  /* 5 and 6. Partition, then append; a custom partitioner hears about new batches. */
  int64_t ts = rec.timestamp >= 0 ? rec.timestamp : mk_wall_ms();
  bool wake = false;
  for (int round = 0; round < 2; round++) {
    struct mk_partition_choice choice;
    rc = mk_partitioner_choose(p->partitioner, cfg->partitioner_ignore_keys, cfg->client_id,
                               rec.topic, rec.partition,
                               key, value, &parts, &choice, err);
    if (rc) break;
    partition = choice.partition;
    rc = mk_accumulator_append(p->accumulator, rec.topic, &partition, snap, ts, key, value,
                               rec.headers, rec.headers_count, size, &thunk,
                               p->partitioner != NULL && round == 0,
                               max_block_ms - waited_ms, &wake, err);
    if (rc == MK_APPEND_ABORTED_FOR_NEW_BATCH) {
      mk_partitioner_on_new_batch(p->partitioner, rec.topic, &parts, choice.partition);
      continue;
    }
    break;
  }
  mk_topic_snapshot_release(snap);
  if (rc) goto fail;
  mk_writer_free(&kw);
  mk_writer_free(&vw);
  /* The partition joins the transaction now that it is known (for keyless records the
   * accumulator chose it); the Sender adds it to the coordinator before draining it. An
   * error here is the transaction's (it is then abortable), not this send's: the record
   * is appended, and completes later like any other. */
  struct mk_err ignored;
  mk_transaction_manager_maybe_add_partition(tm, rec.topic, partition, &ignored);
  if (wake) mk_sender_wakeup(p->sender);  /* 7. */
  return 0;

fail:
  mk_writer_free(&kw);
  mk_writer_free(&vw);
  /* Like Java's ApiExceptions (a record too large, metadata not available in time), a
   * failure with a Kafka error code makes the transaction abortable: one of its records
   * is lost. */
  if (rc > 0) mk_transaction_manager_error(tm, err);
  return fail_now(p, &thunk, rec.topic, partition, rc, err);
}

/* Counted in and out, so that mk_producer_close can wait for sends still running in other
 * threads before it frees what they use. */
int mk_producer_send(struct mk_producer *p, const struct mk_producer_record *record,
                     mk_send_callback callback, void *opaque, struct mk_future **future,
                     struct mk_err *err) {
  atomic_fetch_add(&p->sends_running, 1);
  int rc = send_record(p, record, callback, opaque, future, err);
  atomic_fetch_sub(&p->sends_running, 1);
  return rc;
}

/* ---- transactions (KafkaProducer's transactional API) ------------------------------------- */

enum mk_transaction_state mk_producer_transaction_state(struct mk_producer *p) {
  return mk_transaction_manager_state(p->transaction_manager);
}

static int refuse_if_closed(struct mk_producer *p, struct mk_err *err) {
  if (!atomic_load(&p->closing)) return 0;
  return mk_err_set(err, MK_ERR__STATE, "Cannot perform operation after producer has been closed");
}

/* Wake the Sender for the queued request, and wait for its result (max.block.ms). */
static int await_result(struct mk_producer *p, struct mk_txn_result *r, struct mk_err *err) {
  mk_sender_wakeup(p->sender);
  return mk_transaction_manager_await(p->transaction_manager, r, p->cfg->max_block_ms, err);
}

int mk_producer_init_transactions(struct mk_producer *p, struct mk_err *err) {
  struct mk_txn_result *r;
  int rc = refuse_if_closed(p, err);
  if (!rc) rc = mk_transaction_manager_initialize(p->transaction_manager, &r, err);
  return rc ? rc : await_result(p, r, err);
}

int mk_producer_begin_transaction(struct mk_producer *p, struct mk_err *err) {
  int rc = refuse_if_closed(p, err);
  return rc ? rc : mk_transaction_manager_begin(p->transaction_manager, err);
}

int mk_producer_send_offsets_to_transaction(struct mk_producer *p,
                                            const struct mk_offset_to_commit *offsets, int n,
                                            const struct mk_consumer_group_metadata *group,
                                            struct mk_err *err) {
  /* KafkaProducer.throwIfInvalidGroupMetadata */
  if (!group || !group->group_id[0])
    return mk_err_set(err, MK_ERR__INVALID_ARG, "Consumer group metadata needs a group id");
  if (group->generation_id > 0 && !group->member_id[0])
    return mk_err_set(err, MK_ERR__INVALID_ARG, "Passed in group metadata has generationId %d "
                      "but no member.id", group->generation_id);
  if (n < 0 || (n > 0 && !offsets))
    return mk_err_set(err, MK_ERR__INVALID_ARG, "offsets: %d of them, at %p", n, (void *)offsets);
  for (int i = 0; i < n; i++)
    if (!offsets[i].topic || !offsets[i].topic[0] || offsets[i].partition < 0 ||
        offsets[i].offset < 0)
      return mk_err_set(err, MK_ERR__INVALID_ARG, "offsets[%d]: a topic, a partition >= 0 and an "
                        "offset >= 0 are needed", i);
  struct mk_txn_result *r;
  int rc = refuse_if_closed(p, err);
  if (rc || n == 0) return rc;  /* Java does nothing for no offsets */
  rc = mk_transaction_manager_send_offsets(p->transaction_manager, offsets, n, group, &r, err);
  return rc ? rc : await_result(p, r, err);
}

/* Commit and abort go on after mk_producer_begin_close (another thread closing): the Sender
 * still runs, and close waits for a transaction that is completing. */
int mk_producer_commit_transaction(struct mk_producer *p, struct mk_err *err) {
  struct mk_txn_result *r;
  int rc = mk_transaction_manager_begin_commit(p->transaction_manager, &r, err);
  return rc ? rc : await_result(p, r, err);
}

int mk_producer_abort_transaction(struct mk_producer *p, struct mk_err *err) {
  struct mk_txn_result *r;
  mk_log(MK_LOG_INFO, "producer", "Aborting incomplete transaction");
  int rc = mk_transaction_manager_begin_abort(p->transaction_manager, &r, err);
  return rc ? rc : await_result(p, r, err);
}

/* ---- metrics --------------------------------------------------------------------------- */

void mk_producer_metrics_each(struct mk_producer *p, mk_metric_fn fn, void *opaque) {
  mk_producer_metrics_report(&p->metrics, fn, opaque);
}

struct metric_lookup {
  const char *name;
  double value;
};

static void lookup(void *opaque, const char *group, const char *topic, const char *name,
                   double value) {
  (void)group;
  struct metric_lookup *l = opaque;
  if (!topic && strcmp(name, l->name) == 0) l->value = value;
}

double mk_producer_metric(struct mk_producer *p, const char *name) {
  struct metric_lookup l = {name, NAN};
  mk_producer_metrics_report(&p->metrics, lookup, &l);
  return l.value;
}
