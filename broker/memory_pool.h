/*
 * Memory pool: one bound on the memory of requests being read, over every connection of
 * every virtual broker. Kafka: queued.max.request.bytes, MemoryPool / SimpleMemoryPool
 * (clients/.../memory), and how SocketServer's Selector mutes a channel it cannot
 * allocate for.
 *
 * A frame's buffer grows as its bytes arrive (network.c), and the pool counts what those
 * buffers hold; a frame leaves the pool when it is whole and handed to its handler (from
 * then on it is a request, bounded per connection by network.h, or stored batches,
 * bounded by retention.h). When the pool is used up (used >= queued.max.request.bytes):
 *
 *   - no connection is read from, so clients wait in their own TCP windows: back-pressure,
 *     not an error;
 *   - except one, the "overdraft": a connection in the middle of a frame, allowed to go
 *     past the limit until that frame is whole, so the frames already started can always
 *     finish one after another (Kafka's pool is not strict either: one allocation may take
 *     it past its size). Without it, frames that each hold part of the pool could wait
 *     for each other forever;
 *   - when usage falls below the limit, every waiting connection is read from again.
 *
 * A frame whose client stops sending holds its memory until socket.request.read.timeout.ms
 * closes the connection (connection_quotas.h), so a crowd of half-sent frames can delay
 * others, but not for longer, and only by sending real bytes: a size prefix alone costs
 * the broker nothing.
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_MEMORY_POOL_H
#define MK_BROKER_MEMORY_POOL_H

#include <stdbool.h>
#include <stdint.h>

struct mk_broker;
struct mk_conn;

struct mk_memory_pool {
  int64_t limit;               /* queued.max.request.bytes; < 0 = no limit */
  int64_t used;                /* bytes in the buffers of frames being read */
  int64_t peak;                /* the most used at once (for tests and the load test) */
  struct mk_conn *overdraft;   /* the one connection read past the limit, or NULL */
  struct mk_conn *waiting;     /* connections not read for want of memory, oldest first */
  struct mk_conn *waiting_tail;
};

/* Whether c may be read from as far as the pool is concerned. If not, c joins the waiting
 * list and is read again (mk_conn_update_reading) when memory frees up. */
bool mk_memory_pool_admit(struct mk_broker *b, struct mk_conn *c);

/* A frame buffer of c grew or shrank by delta bytes (a negative delta: its frame is whole,
 * or c closed). Wakes waiting connections as memory frees up. */
void mk_memory_pool_account(struct mk_broker *b, struct mk_conn *c, int64_t delta);

/* c is closing: take it off the waiting list (its frame's bytes are returned separately,
 * with mk_memory_pool_account). */
void mk_memory_pool_forget(struct mk_broker *b, struct mk_conn *c);

#endif
