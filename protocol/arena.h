/*
 * Arena: one allocation lifetime for everything a decoded message points to.
 *
 * Decoding a request creates arrays of structs of arrays. Instead of freeing
 * each one, the decoder takes them all from an arena and the caller frees the
 * arena once, when it is done with the message. Strings and byte fields do not
 * live in the arena: they point into the frame buffer, which must outlive the
 * message too.
 *
 * Thread: any (an arena belongs to one thread at a time).
 */
#ifndef MK_PROTOCOL_ARENA_H
#define MK_PROTOCOL_ARENA_H

#include <stddef.h>

struct mk_arena_chunk;

struct mk_arena {
  struct mk_arena_chunk *head;  /* newest chunk first */
  size_t total;                 /* bytes handed out, for limits and tests */
};

/* An empty arena (allocates nothing until first use). */
void mk_arena_init(struct mk_arena *a);
/* n zeroed bytes aligned for any type, valid until mk_arena_free(); NULL if out of memory. */
void *mk_arena_alloc(struct mk_arena *a, size_t n);
/* Free every allocation at once; the arena is empty and reusable afterwards. */
void mk_arena_free(struct mk_arena *a);

#endif
