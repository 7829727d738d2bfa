/*
 * Producer state: the per-partition table of idempotent producers, and the checks a
 * produced batch must pass. See producer_state.h for the rules and who calls what.
 *
 * The checks follow ProducerAppendInfo.checkProducerEpoch and checkSequence for a
 * request from a client (AppendOrigin.CLIENT), preceded by the duplicate search that
 * UnifiedLog.analyzeAndValidateProducerState runs first. Kafka's checks work on a copy
 * of the entry (ProducerAppendInfo.updatedEntry) that is committed only after the
 * append; here check reads the table and update writes it, which comes to the same
 * thing because a Produce request carries one batch per partition.
 *
 * The table is open addressing with linear probing: a producer id hashes to a slot and
 * lives there or in the first empty slot after it. Nothing is ever deleted (rebuild
 * empties the whole table), so a lookup can stop at the first empty slot without
 * tombstones. The table doubles when it would become more than half full.
 */
#include "broker/producer_state.h"

#include <stdlib.h>
#include <string.h>

void mk_producer_state_init(struct mk_producer_state *ps) {
  memset(ps, 0, sizeof *ps);
  mk_transaction_index_init(&ps->aborted);
}

void mk_producer_state_free(struct mk_producer_state *ps) {
  free(ps->slots);
  free(ps->spans);
  mk_transaction_index_free(&ps->aborted);
  memset(ps, 0, sizeof *ps);
}

/* ---- the hash table ---------------------------------------------------------------------- */

/* Producer ids come from a counter (InitProducerId hands out 1000, 1001, ...), so mix the
 * bits before masking, or neighbours would cluster. This is the 64-bit finaliser of
 * MurmurHash3. */
static size_t home_slot(int64_t producer_id, size_t cap) {
  uint64_t x = (uint64_t)producer_id;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return (size_t)(x & (cap - 1));
}

/* The slot holding producer_id, or the empty slot where it would go. cap must be > 0,
 * and the table never full (it is at most half full). */
static struct mk_producer_entry *probe(const struct mk_producer_state *ps, int64_t producer_id) {
  size_t i = home_slot(producer_id, ps->cap);
  while (ps->slots[i].producer_id != producer_id && ps->slots[i].producer_id != MK_NO_PRODUCER_ID)
    i = (i + 1) & (ps->cap - 1);
  return &ps->slots[i];
}

static void clear_slots(struct mk_producer_entry *slots, size_t n) {
  for (size_t i = 0; i < n; i++) slots[i].producer_id = MK_NO_PRODUCER_ID;
}

static int grow(struct mk_producer_state *ps) {
  size_t cap = ps->cap ? ps->cap * 2 : 8;
  struct mk_producer_entry *slots = malloc(cap * sizeof *slots);
  if (!slots) return MK_ERR__NO_MEMORY;
  clear_slots(slots, cap);
  struct mk_producer_state bigger = {slots, cap, ps->count};
  for (size_t i = 0; i < ps->cap; i++)
    if (ps->slots[i].producer_id != MK_NO_PRODUCER_ID)
      *probe(&bigger, ps->slots[i].producer_id) = ps->slots[i];
  free(ps->slots);
  *ps = bigger;
  return 0;
}

const struct mk_producer_entry *mk_producer_state_lookup(const struct mk_producer_state *ps,
                                                         int64_t producer_id) {
  if (ps->cap == 0 || producer_id < 0) return NULL;
  const struct mk_producer_entry *e = probe(ps, producer_id);
  return e->producer_id == producer_id ? e : NULL;
}

/* The entry for producer_id, created empty (no epoch, no batches) if it is new. */
static struct mk_producer_entry *find_or_add(struct mk_producer_state *ps, int64_t producer_id) {
  if (ps->cap > 0) {
    struct mk_producer_entry *e = probe(ps, producer_id);
    if (e->producer_id == producer_id) return e;
  }
  /* Keep the table at most half full, so probes stay short and always end. */
  if ((ps->count + 1) * 2 > ps->cap && grow(ps)) return NULL;
  struct mk_producer_entry *e = probe(ps, producer_id);
  memset(e, 0, sizeof *e);
  e->producer_id = producer_id;
  e->producer_epoch = MK_NO_PRODUCER_EPOCH;
  e->last_timestamp = -1;
  e->current_txn_first_offset = -1;
  e->coordinator_epoch = -1;
  ps->count++;
  return e;
}

const struct mk_producer_entry *mk_producer_state_next(const struct mk_producer_state *ps,
                                                       size_t *iter) {
  while (*iter < ps->cap) {
    const struct mk_producer_entry *e = &ps->slots[(*iter)++];
    if (e->producer_id != MK_NO_PRODUCER_ID) return e;
  }
  return NULL;
}

/* ---- the checks (ProducerAppendInfo) ----------------------------------------------------- */

/* ProducerAppendInfo.inSequence: one more than the last, in 64 bits so INT32_MAX + 1 is
 * not undefined, or the wrap from INT32_MAX to 0. */
static bool in_sequence(int32_t last_seq, int32_t next_seq) {
  return (int64_t)next_seq == (int64_t)last_seq + 1 || (next_seq == 0 && last_seq == INT32_MAX);
}

int mk_producer_state_check(const struct mk_producer_state *ps, const struct mk_record_batch *b,
                            bool *duplicate, struct mk_batch_metadata *original,
                            struct mk_err *err) {
  *duplicate = false;
  if (b->producer_id < 0) return 0;  /* RecordBatch.hasProducerId() is false */

  const struct mk_producer_entry *e = mk_producer_state_lookup(ps, b->producer_id);
  bool control = (b->attributes & MK_ATTR_CONTROL) != 0;
  int32_t first_seq = b->base_sequence;
  int32_t last_seq = mk_last_sequence(first_seq, b->last_offset_delta);

  /* A retry of a batch that made it into the log the first time (its response was
   * lost): same epoch, and exactly the sequence range of one of the retained batches.
   * Kafka looks before any other check, so a duplicate is never an error. */
  if (e && !control && b->producer_epoch == e->producer_epoch) {
    for (int i = 0; i < e->batches_count; i++) {
      if (e->batches[i].first_seq == first_seq && e->batches[i].last_seq == last_seq) {
        *duplicate = true;
        if (original) *original = e->batches[i];
        return 0;
      }
    }
  }

  /* checkProducerEpoch: an older epoch is a zombie, fenced by the producer that bumped
   * the epoch. Kafka 2.7+ answers INVALID_PRODUCER_EPOCH (abortable) rather than the
   * fatal PRODUCER_FENCED here. */
  int16_t known_epoch = e ? e->producer_epoch : MK_NO_PRODUCER_EPOCH;
  if (b->producer_epoch < known_epoch)
    return mk_err_set(err, MK_ERR_INVALID_PRODUCER_EPOCH,
                      "Epoch of producer %lld is %d, which is smaller than the last seen "
                      "epoch %d", (long long)b->producer_id, b->producer_epoch, known_epoch);
  if (control) return 0;  /* markers carry no sequence */

  /* checkSequence. */
  if (b->producer_epoch != known_epoch) {
    /* A bumped epoch restarts sequences at 0. An unknown producer (known_epoch
     * NO_PRODUCER_EPOCH) may start anywhere: its state may have been lost. */
    if (first_seq != 0 && known_epoch != MK_NO_PRODUCER_EPOCH)
      return mk_err_set(err, MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                        "Invalid sequence number for new epoch of producer %lld: epoch %d "
                        "(current %d), expected sequence 0, received %d",
                        (long long)b->producer_id, b->producer_epoch, known_epoch, first_seq);
  } else {
    int32_t last = e ? mk_producer_entry_last_seq(e) : MK_NO_SEQUENCE;
    /* A producer id with no epoch yet (only possible for batches with epoch -1) accepts
     * any sequence, as Kafka does. */
    if (known_epoch != MK_NO_PRODUCER_EPOCH && !in_sequence(last, first_seq)) {
      int32_t expected = last == MK_NO_SEQUENCE ? 0 : mk_sequence_increment(last, 1);
      return mk_err_set(err, MK_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                        "Out of order sequence number for producer %lld epoch %d: expected "
                        "%d, received %d (last appended sequence %d)",
                        (long long)b->producer_id, b->producer_epoch, expected, first_seq,
                        last);
    }
  }
  /* appendDataBatch: once a producer's transaction is open here, everything it writes here
   * belongs to a transaction until the marker. */
  if (e && e->current_txn_first_offset >= 0 && !(b->attributes & MK_ATTR_TRANSACTIONAL))
    return mk_err_set(err, MK_ERR_INVALID_TXN_STATE,
                      "Expected transactional write from producer %lld: its transaction is open "
                      "here since offset %lld", (long long)b->producer_id,
                      (long long)e->current_txn_first_offset);
  return 0;
}

int mk_producer_state_check_coordinator(const struct mk_producer_state *ps, int64_t producer_id,
                                        int16_t producer_epoch, int32_t coordinator_epoch,
                                        struct mk_err *err) {
  const struct mk_producer_entry *e = mk_producer_state_lookup(ps, producer_id);
  if (!e) return 0;
  if (producer_epoch < e->producer_epoch)
    return mk_err_set(err, MK_ERR_INVALID_PRODUCER_EPOCH,
                      "Epoch of producer %lld is %d, which is smaller than the last seen "
                      "epoch %d", (long long)producer_id, producer_epoch, e->producer_epoch);
  if (coordinator_epoch >= 0 && coordinator_epoch < e->coordinator_epoch)
    return mk_err_set(err, MK_ERR_TRANSACTION_COORDINATOR_FENCED,
                      "Invalid coordinator epoch for producer %lld: %d (zombie), %d (current)",
                      (long long)producer_id, coordinator_epoch, e->coordinator_epoch);
  return 0;
}

/* ---- transactions (ProducerStateManager's ongoingTxns and unreplicatedTxns) ------------ */

static int add_span(struct mk_producer_state *ps, int64_t producer_id, int64_t first_offset) {
  if (ps->nspans == ps->spans_cap) {
    size_t cap = ps->spans_cap ? ps->spans_cap * 2 : 8;
    struct mk_txn_span *v = realloc(ps->spans, cap * sizeof *v);
    if (!v) return MK_ERR__NO_MEMORY;
    ps->spans = v;
    ps->spans_cap = cap;
  }
  /* A transaction opens at the log end, so spans arrive in first-offset order. */
  ps->spans[ps->nspans++] = (struct mk_txn_span){producer_id, first_offset, -1};
  return 0;
}

int64_t mk_producer_state_first_unstable_offset(const struct mk_producer_state *ps) {
  return ps->nspans ? ps->spans[0].first_offset : -1;
}

/* Drop the closed spans whose marker is below offset. */
static void drop_closed_before(struct mk_producer_state *ps, int64_t offset) {
  size_t k = 0;
  for (size_t i = 0; i < ps->nspans; i++)
    if (ps->spans[i].last_offset < 0 || ps->spans[i].last_offset >= offset)
      ps->spans[k++] = ps->spans[i];
  ps->nspans = k;
}

void mk_producer_state_on_high_watermark(struct mk_producer_state *ps, int64_t hw) {
  drop_closed_before(ps, hw);
}

void mk_producer_state_on_log_start(struct mk_producer_state *ps, int64_t log_start_offset) {
  drop_closed_before(ps, log_start_offset);
  mk_transaction_index_truncate_head(&ps->aborted, log_start_offset);
}

/* Kafka's lastStableOffset(CompletedTxn): the first offset of the earliest transaction still
 * open of another producer, else just after the marker. */
static int64_t lso_after(const struct mk_producer_state *ps, int64_t producer_id, int64_t marker) {
  for (size_t i = 0; i < ps->nspans; i++)
    if (ps->spans[i].last_offset < 0 && ps->spans[i].producer_id != producer_id)
      return ps->spans[i].first_offset;
  return marker + 1;
}

/* The marker of a control batch: its type and coordinator epoch. Returns 0 or an error (a
 * batch we did not write ourselves: Produce refuses control batches from clients). */
static int read_marker(const struct mk_batch *stored, enum mk_control_type *type,
                       int32_t *coordinator_epoch) {
  struct mk_record_batch parsed;
  mk_batch_parsed(stored, &parsed);
  struct mk_record_reader rr;
  struct mk_err err = {0};
  int rc = mk_record_reader_init(&rr, &parsed, 4096, &err);
  if (rc) return rc;
  struct mk_record rec;
  rc = mk_record_reader_next(&rr, &rec, &err);
  if (!rc) rc = mk_control_record_parse(&rec, type, coordinator_epoch, &err);
  mk_record_reader_free(&rr);
  return rc;
}

/* ProducerAppendInfo.appendEndTxnMarker and ProducerStateManager.completeTxn: the marker
 * closes e's open transaction (if it has one here), an ABORT goes to the index. */
static int close_transaction(struct mk_producer_state *ps, struct mk_producer_entry *e,
                             const struct mk_batch *stored) {
  enum mk_control_type type;
  int32_t coordinator_epoch;
  if (read_marker(stored, &type, &coordinator_epoch)) return 0;  /* not a marker at all */
  e->coordinator_epoch = coordinator_epoch;
  int64_t first = e->current_txn_first_offset;
  e->current_txn_first_offset = -1;
  if (first < 0) return 0;  /* a marker for a transaction with no records here */
  int rc = 0;
  if (type == MK_CONTROL_ABORT) {
    struct mk_aborted_txn a = {e->producer_id, first, stored->base_offset,
                               lso_after(ps, e->producer_id, stored->base_offset)};
    rc = mk_transaction_index_append(&ps->aborted, &a);
  }
  for (size_t i = 0; i < ps->nspans; i++)
    if (ps->spans[i].producer_id == e->producer_id && ps->spans[i].last_offset < 0)
      ps->spans[i].last_offset = stored->base_offset;
  return rc;
}

/* ---- remembering batches (ProducerStateEntry.addBatch) ----------------------------------- */

int mk_producer_state_update(struct mk_producer_state *ps, const struct mk_batch *stored) {
  if (stored->producer_id < 0) return 0;
  struct mk_producer_entry *e = find_or_add(ps, stored->producer_id);
  if (!e) return MK_ERR__NO_MEMORY;

  /* maybeUpdateProducerEpoch: sequences restart with a new epoch, so the old batches
   * can no longer be matched against. */
  if (e->producer_epoch != stored->producer_epoch) {
    e->producer_epoch = stored->producer_epoch;
    e->batches_count = 0;
  }
  e->last_timestamp = stored->max_timestamp;
  if (stored->is_control) return close_transaction(ps, e, stored);
  if (stored->is_transactional && e->current_txn_first_offset < 0) {
    /* Began a new transaction here. */
    e->current_txn_first_offset = stored->base_offset;
    int rc = add_span(ps, e->producer_id, stored->base_offset);
    if (rc) return rc;
  }

  /* addBatchMetadata: a queue of five, oldest dropped first. */
  if (e->batches_count == MK_PRODUCER_BATCHES_TO_RETAIN) {
    memmove(&e->batches[0], &e->batches[1],
            (MK_PRODUCER_BATCHES_TO_RETAIN - 1) * sizeof e->batches[0]);
    e->batches_count--;
  }
  e->batches[e->batches_count++] = (struct mk_batch_metadata){
      .first_seq = stored->base_sequence,
      .last_seq = stored->last_sequence,
      .first_offset = stored->base_offset,
      .last_offset = stored->last_offset,
      .timestamp = stored->max_timestamp,
  };
  return 0;
}

int mk_producer_state_rebuild(struct mk_producer_state *ps, const struct mk_log *log) {
  /* Keep the slots (the producers will mostly come back), forget their contents. */
  clear_slots(ps->slots, ps->cap);
  ps->count = 0;
  ps->nspans = 0;
  mk_transaction_index_clear(&ps->aborted);
  for (size_t i = 0; i < log->count; i++) {
    int rc = mk_producer_state_update(ps, mk_log_batch(log, i));
    if (rc) return rc;
  }
  return 0;
}
