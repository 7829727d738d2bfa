/*
 * Purgatory: a doubly linked list of waiting requests plus one timer each. See purgatory.h.
 */
#include "broker/purgatory.h"
#include "broker/broker_internal.h"

#include <stdlib.h>

static void unlink_req(struct mk_req *req) {
  struct mk_broker *b = req->broker;
  if (req->delayed_prev)
    req->delayed_prev->delayed_next = req->delayed_next;
  else
    b->delayed = req->delayed_next;
  if (req->delayed_next) req->delayed_next->delayed_prev = req->delayed_prev;
  req->delayed_prev = req->delayed_next = NULL;
  req->delayed = false;
  if (req->timer) uv_timer_stop(req->timer);
}

static void on_deadline(uv_timer_t *t) {
  struct mk_req *req = t->data;
  if (!req->delayed) return;
  unlink_req(req);
  req->try_complete(req, true);
}

int mk_purgatory_add(struct mk_req *req, int64_t timeout_ms,
                     bool (*try_complete)(struct mk_req *req, bool timed_out), void *op,
                     void (*free_op)(void *op)) {
  struct mk_broker *b = req->broker;
  req->op = op;
  req->free_op = free_op;
  req->try_complete = try_complete;
  if (!req->timer) {
    req->timer = malloc(sizeof *req->timer);
    if (!req->timer) return MK_ERR__NO_MEMORY;
    uv_timer_init(&b->loop, req->timer);
  }
  req->timer->data = req;
  uv_timer_start(req->timer, on_deadline, timeout_ms < 0 ? 0 : (uint64_t)timeout_ms, 0);
  req->delayed = true;
  req->delayed_prev = NULL;
  req->delayed_next = b->delayed;
  if (b->delayed) b->delayed->delayed_prev = req;
  b->delayed = req;
  return 0;
}

void mk_purgatory_remove(struct mk_req *req) {
  if (req->delayed) unlink_req(req);
}

int mk_purgatory_watch(struct mk_broker *b, void (*fn)(struct mk_broker *b, void *arg), void *arg) {
  int n = (int)(sizeof b->watchers / sizeof b->watchers[0]);
  if (b->nwatchers >= n) return MK_ERR__STATE;
  b->watchers[b->nwatchers].fn = fn;
  b->watchers[b->nwatchers++].arg = arg;
  return 0;
}

void mk_purgatory_check(struct mk_broker *b) {
  for (int i = 0; i < b->nwatchers; i++) b->watchers[i].fn(b, b->watchers[i].arg);
  struct mk_req *req = b->delayed;
  while (req) {
    struct mk_req *next = req->delayed_next;
    /* Answering takes req out of the list and may free it (mk_req_respond), so req is not
     * touched afterwards. Answering can also close the connection (a failed write), which
     * takes that connection's other waiters out of the list — possibly `next`. Its memory
     * stays valid until the close completes on a later loop turn, so we can notice and
     * start over from the head (waiters already asked just say "not yet" again). */
    req->try_complete(req, false);
    if (!next) break;
    req = next->delayed ? next : b->delayed;
  }
}
