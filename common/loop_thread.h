/*
 * Loop thread: a libuv loop running on a thread of its own, and the one way other threads
 * run code on it. The proxy owns one (proxy/proxy.c); the pattern is the broker's
 * (broker/broker.c: mk_broker_call).
 *
 *   owner thread                          loop thread
 *   mk_loop_thread_start  ------------->  uv_run(loop)
 *   mk_loop_thread_call(fn, arg)  -async->  fn(owner, arg) ... then the caller wakes
 *   mk_loop_thread_stop   -async->        on_stop(owner): close every handle; the loop
 *                          <--join--      ends when none is left
 *
 * One uv_async_t carries every call: several uv_async_send() may wake the loop once
 * (libuv merges them), so each wake-up runs the whole list of waiting calls.
 *
 * Thread: init, start, stop and destroy from the owner's thread; call from any thread but
 * the loop's.
 */
#ifndef MK_COMMON_LOOP_THREAD_H
#define MK_COMMON_LOOP_THREAD_H

#include <stdbool.h>
#include <uv.h>

struct mk_loop_call;

struct mk_loop_thread {
  uv_loop_t *loop;                /* the owner's loop */
  void (*on_stop)(void *owner);   /* on the loop: close every handle, this one's included
                                     (mk_loop_thread_close) */
  void *owner;
  uv_async_t wakeup;
  /* Under lock. */
  uv_mutex_t lock;
  struct mk_loop_call *calls;
  bool running, stopping;
  /* The owner's. */
  uv_thread_t thread;
  bool threaded;
};

/* Prepare t for loop (the async handle joins the loop). Borrows loop and owner. */
void mk_loop_thread_init(struct mk_loop_thread *t, uv_loop_t *loop, void (*on_stop)(void *owner),
                         void *owner);
/* Run the loop on a new thread. Returns 0, or -1 if the thread cannot be created. */
int mk_loop_thread_start(struct mk_loop_thread *t);
/* Run fn(owner, arg) on the loop and wait until it returns. Returns 0, or -1 when the loop is
 * not running (never started, or stopping): fn did not run. */
int mk_loop_thread_call(struct mk_loop_thread *t, void (*fn)(void *owner, void *arg), void *arg);
/* Ask the loop to stop (on_stop runs on it) and wait for its thread. Safe twice. */
void mk_loop_thread_stop(struct mk_loop_thread *t);
/* Close the async handle (on the loop, from on_stop; or with no loop running). */
void mk_loop_thread_close(struct mk_loop_thread *t);
/* Free what init made, after the loop has run its last close callbacks. */
void mk_loop_thread_destroy(struct mk_loop_thread *t);

#endif
