/*
 * murmur2: Austin Appleby's MurmurHash2, 32-bit, as Kafka's Utils.murmur2 computes it.
 * All arithmetic is on uint32_t so overflow wraps as in Java; the 4-byte groups are read
 * little-endian; the 1-3 tail bytes fall through from the highest down.
 */
#include "protocol/murmur2.h"

int32_t mk_murmur2(const void *key, size_t len) {
  const uint8_t *d = key;
  const uint32_t m = 0x5bd1e995u;
  uint32_t h = 0x9747b28cu ^ (uint32_t)len;

  size_t i = 0;
  for (; i + 4 <= len; i += 4) {
    uint32_t k = (uint32_t)d[i] | (uint32_t)d[i + 1] << 8 | (uint32_t)d[i + 2] << 16 |
                 (uint32_t)d[i + 3] << 24;
    k *= m;
    k ^= k >> 24;
    k *= m;
    h *= m;
    h ^= k;
  }
  switch (len - i) {
    case 3: h ^= (uint32_t)d[i + 2] << 16; /* fall through */
    case 2: h ^= (uint32_t)d[i + 1] << 8;  /* fall through */
    case 1:
      h ^= d[i];
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return (int32_t)h;
}

int32_t mk_murmur2_partition(const void *key, size_t len, int32_t num_partitions) {
  return (int32_t)(((uint32_t)mk_murmur2(key, len) & 0x7fffffffu) % (uint32_t)num_partitions);
}
