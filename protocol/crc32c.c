/*
 * CRC-32C: two implementations of the same function.
 *
 * A CRC is the remainder of dividing the message, read as one long binary
 * polynomial, by a fixed polynomial (here 0x1EDC6F41, "Castagnoli"). Kafka's
 * variant is the usual "reflected" one: bits are taken least-significant first,
 * so the polynomial appears bit-reversed as 0x82F63B78, and the register starts
 * at 0xFFFFFFFF and is inverted at the end. That inversion is why the public
 * functions take and return the *final* value: mk_crc32c(mk_crc32c(0, a), b)
 * equals the CRC of a followed by b, because we undo it on entry.
 *
 *   portable   "slicing-by-8": eight 256-entry tables let the loop consume 8
 *              bytes per step instead of one. table[0] is the classic
 *              byte-at-a-time table; table[k][b] is the effect of byte b
 *              followed by k zero bytes, so 8 lookups XORed together advance
 *              the register over 8 bytes at once.
 *   hardware   SSE4.2's crc32 instruction computes exactly this polynomial
 *              (it was added for iSCSI, which uses CRC-32C too), 8 bytes per
 *              instruction. Each instruction must wait for the previous one's
 *              result (about 3 cycles) although the CPU could start one every
 *              cycle, so a long buffer is cut into three equal parts whose CRCs
 *              run side by side and are joined at the end (see "Joining" below).
 *              A broker checks every batch it receives, so this is its hottest
 *              loop after the socket copy.
 *
 * Joining. Running the register over data is linear (XOR) in the register and
 * the data together, so the register after A then B equals "the register after
 * A, pushed through |B| zero bytes" XOR "the CRC of B started from 0". Pushing
 * through n zero bytes is a fixed linear map of 32 bits to 32 bits; we store it
 * as four 256-entry tables (one per byte of the register), built from where
 * each of the 32 single-bit registers ends up.
 *
 * The tables are built and the CPU is asked about SSE4.2 once, under
 * pthread_once, so any thread may call in first.
 */
#include "protocol/crc32c.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#define HAVE_SSE42_PATH 1
#endif

#define POLY_REFLECTED 0x82F63B78u

static uint32_t table[8][256];
static bool use_hardware;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

#ifdef HAVE_SSE42_PATH
/* The three-way split's part lengths: LONG for large buffers, SHORT for the rest of a
 * medium one (a record batch is typically a few hundred bytes to a megabyte). */
enum { LONG = 8192, SHORT = 256 };

/* "Push the register through n zero bytes" (n = LONG or SHORT) as a table per byte. */
struct zeros_shift {
  uint32_t t[4][256];
};
static struct zeros_shift shift_long, shift_short;

static uint32_t shift(const struct zeros_shift *z, uint32_t c) {
  return z->t[0][c & 0xff] ^ z->t[1][(c >> 8) & 0xff] ^ z->t[2][(c >> 16) & 0xff] ^
         z->t[3][c >> 24];
}

static uint32_t portable(uint32_t c, const uint8_t *p, size_t len);

static void build_shift(struct zeros_shift *z, size_t n) {
  static const uint8_t zeros[LONG];
  uint32_t bit_image[32];  /* where register 1 << i ends up after n zero bytes */
  for (int i = 0; i < 32; i++) bit_image[i] = portable(1u << i, zeros, n);
  for (int byte = 0; byte < 4; byte++)
    for (uint32_t v = 0; v < 256; v++) {
      uint32_t img = 0;
      for (int i = 0; i < 8; i++)
        if (v & (1u << i)) img ^= bit_image[8 * byte + i];
      z->t[byte][v] = img;
    }
}
#endif

static void init(void) {
  for (uint32_t b = 0; b < 256; b++) {
    uint32_t c = b;
    for (int bit = 0; bit < 8; bit++)  /* divide one bit at a time */
      c = (c & 1) ? (c >> 1) ^ POLY_REFLECTED : c >> 1;
    table[0][b] = c;
  }
  /* Feeding a zero byte through the register is "shift by 8, fold in table[0]". */
  for (int k = 1; k < 8; k++)
    for (int b = 0; b < 256; b++)
      table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xff];
#ifdef HAVE_SSE42_PATH
  build_shift(&shift_long, LONG);
  build_shift(&shift_short, SHORT);
  __builtin_cpu_init();
  use_hardware = __builtin_cpu_supports("sse4.2");
#endif
}

/* The register form (not inverted) of the portable loop. */
static uint32_t portable(uint32_t c, const uint8_t *p, size_t len) {
  while (len >= 8) {
    /* Bytes are combined explicitly, so this works on any endianness. */
    uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                       (uint32_t)p[3] << 24);
    uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
                  (uint32_t)p[7] << 24;
    c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
        table[4][lo >> 24] ^ table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
        table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
    p += 8;
    len -= 8;
  }
  while (len--) c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
  return c;
}

#ifdef HAVE_SSE42_PATH
/* Compiled for SSE4.2 even though the rest of the file is not; only called after the CPU
 * said it has the instruction. */
__attribute__((target("sse4.2"))) static inline uint64_t crc_u64(uint64_t c,
                                                                 const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8); /* x86 is little-endian: byte 0 is consumed first */
  return _mm_crc32_u64(c, v);
}

/* Whole parts of 3 * n bytes: three independent registers, joined as the top of the file
 * explains. */
__attribute__((target("sse4.2"))) static uint32_t three_way(uint32_t c, const uint8_t **pp,
                                                             size_t *len, size_t n,
                                                             const struct zeros_shift *z) {
  const uint8_t *p = *pp;
  while (*len >= 3 * n) {
    uint64_t a = c, b = 0, d = 0;
    for (size_t i = 0; i < n; i += 8) {
      a = crc_u64(a, p + i);
      b = crc_u64(b, p + n + i);
      d = crc_u64(d, p + 2 * n + i);
    }
    c = shift(z, shift(z, (uint32_t)a) ^ (uint32_t)b) ^ (uint32_t)d;
    p += 3 * n;
    *len -= 3 * n;
  }
  *pp = p;
  return c;
}

/* Compiled for SSE4.2 even though the rest of the file is not; only called after the CPU
 * said it has the instruction. */
__attribute__((target("sse4.2"))) static uint32_t hardware(uint32_t c, const uint8_t *p,
                                                            size_t len) {
  /* Single bytes until p is 8-byte aligned, then 8 bytes at a time. */
  while (len > 0 && ((uintptr_t)p & 7) != 0) {
    c = _mm_crc32_u8(c, *p++);
    len--;
  }
  c = three_way(c, &p, &len, LONG, &shift_long);
  c = three_way(c, &p, &len, SHORT, &shift_short);
  uint64_t c64 = c;
  while (len >= 8) {
    c64 = crc_u64(c64, p);
    p += 8;
    len -= 8;
  }
  c = (uint32_t)c64;
  while (len--) c = _mm_crc32_u8(c, *p++);
  return c;
}
#endif

uint32_t mk_crc32c_portable(uint32_t crc, const void *buf, size_t len) {
  pthread_once(&init_once, init);
  return ~portable(~crc, buf, len);
}

uint32_t mk_crc32c(uint32_t crc, const void *buf, size_t len) {
  pthread_once(&init_once, init);
#ifdef HAVE_SSE42_PATH
  if (use_hardware) return ~hardware(~crc, buf, len);
#endif
  return ~portable(~crc, buf, len);
}
