/*
 * Transaction index: a sorted array of aborted transactions. See transaction_index.h.
 */
#include "broker/transaction_index.h"

#include <stdlib.h>
#include <string.h>

#include "protocol/errors.h"

void mk_transaction_index_init(struct mk_transaction_index *idx) { memset(idx, 0, sizeof *idx); }

void mk_transaction_index_free(struct mk_transaction_index *idx) {
  free(idx->entries);
  memset(idx, 0, sizeof *idx);
}

void mk_transaction_index_clear(struct mk_transaction_index *idx) { idx->count = 0; }

int mk_transaction_index_append(struct mk_transaction_index *idx, const struct mk_aborted_txn *txn) {
  if (idx->count && idx->entries[idx->count - 1].last_offset >= txn->last_offset)
    return MK_ERR__INVALID_ARG;
  if (idx->count == idx->cap) {
    size_t cap = idx->cap ? idx->cap * 2 : 8;
    struct mk_aborted_txn *e = realloc(idx->entries, cap * sizeof *e);
    if (!e) return MK_ERR__NO_MEMORY;
    idx->entries = e;
    idx->cap = cap;
  }
  idx->entries[idx->count++] = *txn;
  return 0;
}

/* The first entry whose marker is at or after offset (binary search on last_offset). */
static size_t first_ending_at_or_after(const struct mk_transaction_index *idx, int64_t offset) {
  size_t lo = 0, hi = idx->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (idx->entries[mid].last_offset < offset)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

void mk_transaction_index_truncate_head(struct mk_transaction_index *idx, int64_t log_start_offset) {
  size_t gone = first_ending_at_or_after(idx, log_start_offset);
  if (gone == 0) return;
  memmove(idx->entries, idx->entries + gone, (idx->count - gone) * sizeof *idx->entries);
  idx->count -= gone;
}

size_t mk_transaction_index_collect(const struct mk_transaction_index *idx, int64_t fetch_offset,
                                    int64_t upper_bound, struct mk_aborted_txn *out, size_t max) {
  /* Markers are in order, first offsets are not (a long transaction that started early may
   * end after a short one that started late), so every entry from the first marker at or
   * after fetch_offset on is looked at. */
  size_t n = 0;
  for (size_t i = first_ending_at_or_after(idx, fetch_offset); i < idx->count; i++) {
    if (idx->entries[i].first_offset >= upper_bound) continue;
    if (n < max) out[n] = idx->entries[i];
    n++;
  }
  return n;
}
