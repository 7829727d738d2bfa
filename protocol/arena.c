/*
 * Arena: a chain of chunks, each filled front to back. A request that needs
 * more than a chunk holds gets a chunk of its own size.
 */
#include "protocol/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct mk_arena_chunk {
  struct mk_arena_chunk *next;
  size_t size;  /* bytes usable in data[] */
  size_t used;
  alignas(max_align_t) unsigned char data[];
};

enum { CHUNK_SIZE = 4096 };

void mk_arena_init(struct mk_arena *a) {
  a->head = NULL;
  a->total = 0;
}

void *mk_arena_alloc(struct mk_arena *a, size_t n) {
  const size_t align = alignof(max_align_t);
  if (n > SIZE_MAX / 2) return NULL;
  n = (n + align - 1) & ~(align - 1);
  struct mk_arena_chunk *c = a->head;
  if (!c || c->size - c->used < n) {
    size_t size = n > CHUNK_SIZE ? n : CHUNK_SIZE;
    c = malloc(sizeof *c + size);
    if (!c) return NULL;
    c->size = size;
    c->used = 0;
    c->next = a->head;
    a->head = c;
  }
  void *p = c->data + c->used;
  c->used += n;
  a->total += n;
  memset(p, 0, n);
  return p;
}

void mk_arena_free(struct mk_arena *a) {
  struct mk_arena_chunk *c = a->head;
  while (c) {
    struct mk_arena_chunk *next = c->next;
    free(c);
    c = next;
  }
  mk_arena_init(a);
}
