/*
 * String map: open addressing with linear probing and backward-shift removal.
 * See str_map.h.
 */
#include "common/str_map.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { MIN_CAP = 16 };

static uint32_t fnv1a(const void *key, size_t len) {
  const uint8_t *p = key;
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

void mk_str_map_init(struct mk_str_map *m) { memset(m, 0, sizeof *m); }

void mk_str_map_free(struct mk_str_map *m) {
  free(m->slots);
  memset(m, 0, sizeof *m);
}

static bool same(const struct mk_str_map_slot *s, const void *key, size_t len, uint32_t h) {
  return s->hash == h && s->len == len && (len == 0 || memcmp(s->key, key, len) == 0);
}

/* The slot holding key, or the empty slot where it would go. */
static size_t find(const struct mk_str_map *m, const void *key, size_t len, uint32_t h) {
  size_t mask = m->cap - 1, i = h & mask;
  while (m->slots[i].key && !same(&m->slots[i], key, len, h)) i = (i + 1) & mask;
  return i;
}

void *mk_str_map_get(const struct mk_str_map *m, const void *key, size_t len) {
  if (!m->count) return NULL;
  size_t i = find(m, key, len, fnv1a(key, len));
  return m->slots[i].key ? m->slots[i].value : NULL;
}

static int grow(struct mk_str_map *m) {
  size_t cap = m->cap ? m->cap * 2 : MIN_CAP;
  struct mk_str_map_slot *slots = calloc(cap, sizeof *slots), *old = m->slots;
  if (!slots) return -1;
  size_t old_cap = m->cap;
  m->slots = slots;
  m->cap = cap;
  for (size_t i = 0; i < old_cap; i++)
    if (old[i].key) m->slots[find(m, old[i].key, old[i].len, old[i].hash)] = old[i];
  free(old);
  return 0;
}

int mk_str_map_put(struct mk_str_map *m, const void *key, size_t len, void *value) {
  if ((m->count + 1) * 4 > m->cap * 3 && grow(m)) return -1;
  uint32_t h = fnv1a(key, len);
  size_t i = find(m, key, len, h);
  if (!m->slots[i].key) m->count++;
  /* A zero-length key still needs a non-NULL pointer to mark the slot taken. */
  m->slots[i] = (struct mk_str_map_slot){key ? key : (const void *)"", len, h, value};
  return 0;
}

void *mk_str_map_remove(struct mk_str_map *m, const void *key, size_t len) {
  if (!m->count) return NULL;
  size_t mask = m->cap - 1, i = find(m, key, len, fnv1a(key, len));
  if (!m->slots[i].key) return NULL;
  void *value = m->slots[i].value;
  /* Move back every later entry of the run that would no longer be found past the gap. */
  size_t gap = i, j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (!m->slots[j].key) break;
    size_t home = m->slots[j].hash & mask;
    /* Entry j may fill the gap unless its home lies cyclically in (gap, j]. */
    bool stays = gap <= j ? (home > gap && home <= j) : (home > gap || home <= j);
    if (stays) continue;
    m->slots[gap] = m->slots[j];
    gap = j;
  }
  memset(&m->slots[gap], 0, sizeof m->slots[gap]);
  m->count--;
  return value;
}

int mk_str_map_next(const struct mk_str_map *m, size_t *i, void **value) {
  for (; *i < m->cap; (*i)++) {
    if (m->slots[*i].key) {
      *value = m->slots[(*i)++].value;
      return 1;
    }
  }
  return 0;
}
