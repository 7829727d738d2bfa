/*
 * String map: a hash table from byte strings to pointers, for the lookups by name that
 * must stay fast however many entries a client makes (group ids, member ids, protocol
 * names, topic-partition keys of committed offsets).
 *
 * Open addressing with linear probing: a key hashes (FNV-1a) to a slot and, if that slot is
 * taken, the next free one after it is used. Removal shifts the entries that follow back
 * into the gap (no tombstones), so a lookup stops at the first empty slot. The table
 * doubles when it is 3/4 full and never shrinks below 16 slots.
 *
 * The map stores the key pointer, not a copy: a key must stay valid, unchanged, while it
 * is in the map. The usual pattern is a key that points into the value itself
 * (member->member_id for the member). Iteration order is the slots' order: arbitrary.
 * Callers that need an order keep a list beside the map.
 *
 * Thread: any (a map belongs to one thread at a time).
 */
#ifndef MK_COMMON_STR_MAP_H
#define MK_COMMON_STR_MAP_H

#include <stddef.h>
#include <stdint.h>

struct mk_str_map_slot {
  const void *key;   /* NULL: an empty slot */
  size_t len;
  uint32_t hash;
  void *value;
};

struct mk_str_map {
  struct mk_str_map_slot *slots;
  size_t cap;        /* a power of two, or 0 before the first put */
  size_t count;
};

/* An empty map; allocates nothing until the first put. */
void mk_str_map_init(struct mk_str_map *m);
/* Free the table (not the keys or values); the map is empty and reusable afterwards. */
void mk_str_map_free(struct mk_str_map *m);

/* The value stored under key[0..len), or NULL. Borrows key. */
void *mk_str_map_get(const struct mk_str_map *m, const void *key, size_t len);

/* Store value under key[0..len), replacing any value there. The map keeps the key pointer
 * (see above). Returns 0, or -1 if out of memory (the map is unchanged). value must not be
 * NULL. */
int mk_str_map_put(struct mk_str_map *m, const void *key, size_t len, void *value);

/* Remove key and return its value, or NULL if it was not there. Borrows key. */
void *mk_str_map_remove(struct mk_str_map *m, const void *key, size_t len);

/* Walk every entry: for (size_t i = 0; mk_str_map_next(m, &i, &value);) { ... }. The map
 * must not change during the walk. */
int mk_str_map_next(const struct mk_str_map *m, size_t *i, void **value);

#endif
