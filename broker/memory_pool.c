/*
 * Memory pool: queued.max.request.bytes. See memory_pool.h for the rules.
 */
#include "broker/memory_pool.h"

#include "broker/broker_internal.h"

static bool exhausted(const struct mk_memory_pool *p) {
  return p->limit >= 0 && p->used >= p->limit;
}

static void unlink_waiting(struct mk_memory_pool *p, struct mk_conn *c) {
  if (!c->waiting_memory) return;
  struct mk_conn *prev = NULL;
  for (struct mk_conn *w = p->waiting; w; prev = w, w = w->next_waiting) {
    if (w != c) continue;
    if (prev) prev->next_waiting = w->next_waiting;
    else p->waiting = w->next_waiting;
    if (p->waiting_tail == w) p->waiting_tail = prev;
    break;
  }
  c->next_waiting = NULL;
  c->waiting_memory = false;
}

bool mk_memory_pool_admit(struct mk_broker *b, struct mk_conn *c) {
  struct mk_memory_pool *p = &b->request_memory;
  if (!exhausted(p) || p->overdraft == c) return true;
  if (!p->overdraft && c->frame) {  /* mid-frame: it may finish past the limit */
    unlink_waiting(p, c);
    p->overdraft = c;
    return true;
  }
  if (!c->waiting_memory) {
    c->waiting_memory = true;
    c->next_waiting = NULL;
    if (p->waiting_tail) p->waiting_tail->next_waiting = c;
    else p->waiting = c;
    p->waiting_tail = c;
  }
  return false;
}

/* Memory came back: below the limit everyone reads again; still above it, the oldest
 * waiter in the middle of a frame becomes the overdraft (if there is none). */
static void rebalance(struct mk_broker *b) {
  struct mk_memory_pool *p = &b->request_memory;
  if (!exhausted(p)) {
    struct mk_conn *w = p->waiting;
    p->waiting = p->waiting_tail = NULL;
    while (w) {
      struct mk_conn *next = w->next_waiting;
      w->next_waiting = NULL;
      w->waiting_memory = false;
      mk_conn_update_reading(w);
      w = next;
    }
    return;
  }
  if (p->overdraft) return;
  for (struct mk_conn *w = p->waiting; w; w = w->next_waiting) {
    if (!w->frame) continue;
    unlink_waiting(p, w);
    p->overdraft = w;
    mk_conn_update_reading(w);
    return;
  }
}

void mk_memory_pool_account(struct mk_broker *b, struct mk_conn *c, int64_t delta) {
  struct mk_memory_pool *p = &b->request_memory;
  p->used += delta;
  if (p->used > p->peak) p->peak = p->used;
  if (delta >= 0) return;
  if (p->overdraft == c && !c->frame) p->overdraft = NULL;  /* its frame is done */
  rebalance(b);
}

void mk_memory_pool_forget(struct mk_broker *b, struct mk_conn *c) {
  struct mk_memory_pool *p = &b->request_memory;
  unlink_waiting(p, c);
  if (p->overdraft == c) p->overdraft = NULL;
}
