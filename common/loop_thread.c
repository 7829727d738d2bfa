/*
 * Loop thread: see loop_thread.h.
 */
#include "common/loop_thread.h"

#include "common/signals.h"

struct mk_loop_call {
  void (*fn)(void *owner, void *arg);
  void *arg;
  uv_sem_t done;
  struct mk_loop_call *next;
};

static void run_calls(struct mk_loop_thread *t) {
  uv_mutex_lock(&t->lock);
  struct mk_loop_call *calls = t->calls;
  t->calls = NULL;
  uv_mutex_unlock(&t->lock);
  while (calls) {
    struct mk_loop_call *c = calls;
    calls = c->next;
    c->fn(t->owner, c->arg);
    uv_sem_post(&c->done);
  }
}

static void on_wakeup(uv_async_t *a) {
  struct mk_loop_thread *t = a->data;
  run_calls(t);
  uv_mutex_lock(&t->lock);
  bool stopping = t->stopping;
  uv_mutex_unlock(&t->lock);
  if (stopping) t->on_stop(t->owner);
}

void mk_loop_thread_init(struct mk_loop_thread *t, uv_loop_t *loop, void (*on_stop)(void *owner),
                         void *owner) {
  *t = (struct mk_loop_thread){.loop = loop, .on_stop = on_stop, .owner = owner};
  uv_mutex_init(&t->lock);
  uv_async_init(loop, &t->wakeup, on_wakeup);
  t->wakeup.data = t;
}

static void thread_main(void *arg) {
  struct mk_loop_thread *t = arg;
  mk_block_sigpipe();
  uv_run(t->loop, UV_RUN_DEFAULT);
  uv_mutex_lock(&t->lock);
  t->running = false;
  uv_mutex_unlock(&t->lock);
  run_calls(t);  /* a call that slipped in while the loop closed still gets its answer */
}

int mk_loop_thread_start(struct mk_loop_thread *t) {
  if (t->threaded) return -1;
  t->running = true;
  if (uv_thread_create(&t->thread, thread_main, t) != 0) {
    t->running = false;
    return -1;
  }
  t->threaded = true;
  return 0;
}

int mk_loop_thread_call(struct mk_loop_thread *t, void (*fn)(void *owner, void *arg), void *arg) {
  struct mk_loop_call c = {.fn = fn, .arg = arg};
  uv_sem_init(&c.done, 0);
  uv_mutex_lock(&t->lock);
  if (!t->running || t->stopping) {
    uv_mutex_unlock(&t->lock);
    uv_sem_destroy(&c.done);
    return -1;
  }
  c.next = t->calls;
  t->calls = &c;
  uv_mutex_unlock(&t->lock);
  uv_async_send(&t->wakeup);
  uv_sem_wait(&c.done);
  uv_sem_destroy(&c.done);
  return 0;
}

void mk_loop_thread_stop(struct mk_loop_thread *t) {
  uv_mutex_lock(&t->lock);
  bool was_running = t->running && !t->stopping;
  t->stopping = true;
  uv_mutex_unlock(&t->lock);
  if (was_running) uv_async_send(&t->wakeup);
  if (t->threaded) {
    uv_thread_join(&t->thread);
    t->threaded = false;
  }
}

void mk_loop_thread_close(struct mk_loop_thread *t) {
  if (!uv_is_closing((uv_handle_t *)&t->wakeup)) uv_close((uv_handle_t *)&t->wakeup, NULL);
}

void mk_loop_thread_destroy(struct mk_loop_thread *t) { uv_mutex_destroy(&t->lock); }
