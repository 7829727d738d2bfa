/*
 * The KafkaProducer object, shared by the producer's own files (not part of the API).
 *
 *   producer.c            send(), flush(), close(), futures, interceptors
 *   record_accumulator.c  the deques           sender.c          the background thread
 *   producer_metadata.c   what is where        network_client.c  its connections
 *   transaction_manager.c producer id, sequences, transactions (+ txn_request_handler.c)
 *   producer_batch.c      one batch's life
 */
#ifndef MK_PRODUCER_PRODUCER_INTERNAL_H
#define MK_PRODUCER_PRODUCER_INTERNAL_H

#include <stdatomic.h>

#include "common/trace.h"

#include "producer/partitioner.h"
#include "producer/producer.h"
#include "producer/producer_batch.h"
#include "producer/producer_metadata.h"
#include "producer/producer_metrics.h"
#include "producer/record_accumulator.h"

struct mk_sender;
struct mk_transaction_manager;

struct mk_producer {
  /* Set by mk_producer_new, read-only after. */
  struct mk_producer_config *cfg;            /* the producer's own finished copy */
  struct mk_partitioner *builtin_plugin;     /* partitioner.class naming a built-in (owned) */
  const struct mk_partitioner *partitioner;  /* the plug-in in use; NULL = built-in sticky */
  const struct mk_serializer *key_serializer;    /* in use: cfg's, or an instance configure()d */
  const struct mk_serializer *value_serializer;  /* from it (AvroSerializer), closed by close */
  struct mk_producer_metadata *metadata;
  struct mk_accumulator *accumulator;
  struct mk_transaction_manager *transaction_manager;  /* shared with the Sender (own lock) */
  struct mk_sender *sender;
  /* Shared, internally locked. */
  struct mk_producer_metrics metrics;
  atomic_bool closing;
  atomic_int sends_running;  /* mk_producer_send calls inside the producer right now */
};

/* Begin a producer-side trace event (common/trace.h): side "producer", then the
 * producer's client.id, so a reader of the trace can tell several producers apart (the
 * dashboard draws a lane per client). Thread: any. */
static inline void mk_producer_trace_begin(struct mk_trace_event *ev,
                                           const struct mk_producer_config *cfg,
                                           const char *event) {
  mk_trace_begin(ev, "producer", event);
  mk_trace_str(ev, "client_id", cfg->client_id);
}

/* Complete one record: interceptors' onAcknowledgement, the `complete` trace event, the
 * callback, the future. err NULL for success. Thread: sender (or the caller's thread for
 * a send that failed at once). */
void mk_producer_complete_record(struct mk_producer *p, const struct mk_record_thunk *t,
                                 const struct mk_record_metadata *md, const struct mk_err *err);

#endif
