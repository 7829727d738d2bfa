/*
 * Compression: each codec is a thin wrapper over its C library.
 *
 *   gzip    zlib, with windowBits 15 + 16 so deflate/inflate write and read the
 *           gzip wrapper (header, CRC-32, length) instead of the zlib one
 *   snappy  libsnappy only knows single blocks; the xerial framing around them
 *           (what Java writes) is done here by hand, 32 KiB of input per block
 *   lz4     liblz4's frame API, told to use independent 64 KiB blocks, the one
 *           layout Kafka's own Lz4BlockInputStream accepts
 *   zstd    libzstd; decoded with the streaming API, since a frame written by a
 *           stream (as Java's zstd-jni does) need not say how big its content is
 *
 * Compressing is simple: the input is already in memory and trusted.
 * Decompressing is where the care goes, because the input comes off the
 * network: every decoder writes through a `sink` that hands out output room a
 * piece at a time and never more than max_out + 1 bytes in total. Getting that
 * one extra byte means the data was going to exceed the limit, so we stop with
 * MESSAGE_TOO_LARGE having allocated about max_out bytes, however much the
 * input claims it will expand to. Snappy states its decompressed size up
 * front, so there we check the claim before allocating anything.
 *
 * Each format allows several frames (gzip "members") back to back, and so do
 * the Java readers, so we decode them all. Bytes after the last frame that do
 * not form another frame are an error (Java's gzip reader ignores them).
 */
#include "protocol/compression.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

static const char *const names[] = {"none", "gzip", "snappy", "lz4", "zstd"};

const char *mk_compression_name(int type) {
  if (type < 0 || type > MK_COMPRESSION_ZSTD) return NULL;
  return names[type];
}

int mk_compression_from_name(const char *name, int *type) {
  for (int t = 0; name && t <= MK_COMPRESSION_ZSTD; t++) {
    if (strcmp(name, names[t]) == 0) {
      *type = t;
      return 0;
    }
  }
  return MK_ERR__INVALID_ARG;
}

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* ---- levels ---------------------------------------------------------------------------- */

/* Kafka's compression.<codec>.level rules: gzip 1..9 or -1 (zlib's default, which is 6);
 * lz4 1..17, default 9; zstd whatever the library allows, default 3. Snappy has none. */
static int check_level(int type, int *level, struct mk_err *err) {
  int lvl = *level;
  bool dflt = lvl == MK_COMPRESSION_LEVEL_DEFAULT;
  switch (type) {
    case MK_COMPRESSION_NONE:
    case MK_COMPRESSION_SNAPPY:
      if (dflt) return 0;
      return mk_err_set(err, MK_ERR__INVALID_ARG, "%s has no compression levels (got %d)",
                        names[type], lvl);
    case MK_COMPRESSION_GZIP:
      if (dflt) lvl = Z_DEFAULT_COMPRESSION;
      if (lvl == Z_DEFAULT_COMPRESSION || (lvl >= 1 && lvl <= 9)) break;
      return mk_err_set(err, MK_ERR__INVALID_ARG,
                        "gzip level %d is out of range: use 1..9, or -1 for the default", lvl);
    case MK_COMPRESSION_LZ4:
      if (dflt) lvl = 9;
      if (lvl >= 1 && lvl <= 17) break;
      return mk_err_set(err, MK_ERR__INVALID_ARG, "lz4 level %d is out of range: use 1..17", lvl);
    case MK_COMPRESSION_ZSTD:
      if (dflt) lvl = 3;
      if (lvl >= ZSTD_minCLevel() && lvl <= ZSTD_maxCLevel()) break;
      return mk_err_set(err, MK_ERR__INVALID_ARG, "zstd level %d is out of range: use %d..%d",
                        lvl, ZSTD_minCLevel(), ZSTD_maxCLevel());
    default:
      return mk_err_set(err, MK_ERR__INVALID_ARG, "unknown compression type %d", type);
  }
  *level = lvl;
  return 0;
}

/* ---- compressing ----------------------------------------------------------------------- */

static int no_memory(struct mk_err *err, const char *codec) {
  return mk_err_set(err, MK_ERR__NO_MEMORY, "%s: out of memory", codec);
}

static int gzip_compress(int level, const uint8_t *in, size_t len, struct mk_writer *out,
                         struct mk_err *err) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return no_memory(err, "gzip");
  /* zlib counts in uInt, so feed the input in pieces; the last one is flushed with
   * Z_FINISH, which writes the gzip trailer. */
  size_t pos = 0;
  int flush;
  do {
    size_t n = min_size(len - pos, 1u << 30);
    zs.next_in = (Bytef *)(uintptr_t)(in + pos);
    zs.avail_in = (uInt)n;
    pos += n;
    flush = pos == len ? Z_FINISH : Z_NO_FLUSH;
    do {
      uint8_t *dst = mk_writer_extend(out, 64 * 1024);
      if (!dst) {
        deflateEnd(&zs);
        return no_memory(err, "gzip");
      }
      zs.next_out = dst;
      zs.avail_out = 64 * 1024;
      deflate(&zs, flush);  /* cannot fail with a valid stream and room to write */
      out->len -= zs.avail_out;
    } while (zs.avail_out == 0);
  } while (flush != Z_FINISH);
  deflateEnd(&zs);
  return 0;
}

static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
enum { XERIAL_HEADER_SIZE = 16, XERIAL_BLOCK_SIZE = 32 * 1024 };

static int snappy_compress_framed(const uint8_t *in, size_t len, struct mk_writer *out,
                                  struct mk_err *err) {
  mk_write_raw(out, xerial_magic, sizeof xerial_magic);
  mk_write_i32(out, 1);  /* version */
  mk_write_i32(out, 1);  /* oldest reader version that can read this */
  for (size_t pos = 0; pos < len; pos += XERIAL_BLOCK_SIZE) {
    size_t n = min_size(len - pos, XERIAL_BLOCK_SIZE);
    size_t room = snappy_max_compressed_length(n);
    uint8_t *dst = mk_writer_extend(out, 4 + room);
    if (!dst) break;
    size_t got = room;
    if (snappy_compress((const char *)in + pos, n, (char *)dst + 4, &got) != SNAPPY_OK)
      return mk_err_set(err, MK_ERR__NO_MEMORY, "snappy: compressing a block failed");
    mk_store_u32(dst, (uint32_t)got);
    out->len -= room - got;
  }
  return out->failed ? no_memory(err, "snappy") : 0;
}

static int lz4_compress(int level, const uint8_t *in, size_t len, struct mk_writer *out,
                        struct mk_err *err) {
  LZ4F_preferences_t prefs;
  memset(&prefs, 0, sizeof prefs);
  /* Left alone, liblz4 links blocks to each other, which Kafka's reader refuses. */
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.compressionLevel = level;
  size_t room = LZ4F_compressFrameBound(len, &prefs);
  uint8_t *dst = mk_writer_extend(out, room);
  if (!dst) return no_memory(err, "lz4");
  size_t got = LZ4F_compressFrame(dst, room, in, len, &prefs);
  if (LZ4F_isError(got)) {
    out->len -= room;
    return mk_err_set(err, MK_ERR__NO_MEMORY, "lz4: %s", LZ4F_getErrorName(got));
  }
  out->len -= room - got;
  return 0;
}

static int zstd_compress(int level, const uint8_t *in, size_t len, struct mk_writer *out,
                         struct mk_err *err) {
  size_t room = ZSTD_compressBound(len);
  uint8_t *dst = mk_writer_extend(out, room);
  if (!dst) return no_memory(err, "zstd");
  size_t got = ZSTD_compress(dst, room, in, len, level);
  if (ZSTD_isError(got)) {
    out->len -= room;
    return mk_err_set(err, MK_ERR__NO_MEMORY, "zstd: %s", ZSTD_getErrorName(got));
  }
  out->len -= room - got;
  return 0;
}

int mk_compress(int type, int level, const uint8_t *in, size_t len, struct mk_writer *out,
                struct mk_err *err) {
  static const uint8_t nothing[1];
  int rc = check_level(type, &level, err);
  if (rc) return rc;
  if (!in) in = nothing;  /* so no library sees NULL + 0 */
  size_t base = out->len;
  switch (type) {
    case MK_COMPRESSION_NONE:
      if (len) mk_write_raw(out, in, len);
      rc = out->failed ? no_memory(err, "none") : 0;
      break;
    case MK_COMPRESSION_GZIP: rc = gzip_compress(level, in, len, out, err); break;
    case MK_COMPRESSION_SNAPPY: rc = snappy_compress_framed(in, len, out, err); break;
    case MK_COMPRESSION_LZ4: rc = lz4_compress(level, in, len, out, err); break;
    case MK_COMPRESSION_ZSTD: rc = zstd_compress(level, in, len, out, err); break;
  }
  if (rc) out->len = base;  /* leave no half-written stream behind */
  return rc;
}

/* ---- decompressing --------------------------------------------------------------------- */

/* Where decoded bytes go: appended to out after the base bytes it held before, at most
 * max_out of them (and one more, to notice going over). */
struct sink {
  struct mk_writer *out;
  size_t base;
  size_t max_out;
  const char *codec;
  struct mk_err *err;
};

static size_t produced(const struct sink *s) { return s->out->len - s->base; }

/* Room for the decoder's next piece of output, at most cap bytes: grows with what was
 * produced so far (so large outputs need few calls), never past max_out + 1 in total. */
static uint8_t *room(struct sink *s, size_t cap, size_t *n) {
  size_t done = produced(s);
  size_t left = s->max_out - done;  /* done <= max_out, or we would have stopped */
  if (left < SIZE_MAX) left++;
  *n = min_size(min_size(done < 16 * 1024 ? 16 * 1024 : done, left), cap);
  return mk_writer_extend(s->out, *n);
}

/* The decoder used `used` of the n bytes room() gave it. Returns 0, or TOO_LARGE once the
 * output has gone past the limit. */
static int commit(struct sink *s, size_t n, size_t used) {
  s->out->len -= n - used;
  if (produced(s) > s->max_out)
    return mk_err_set(s->err, MK_ERR_MESSAGE_TOO_LARGE,
                      "%s: decompressed data exceeds the limit of %zu bytes", s->codec,
                      s->max_out);
  return 0;
}

static int corrupt(struct sink *s, const char *why) {
  return mk_err_set(s->err, MK_ERR_CORRUPT_MESSAGE, "%s: %s", s->codec, why);
}

static int gzip_decompress(struct sink *s, const uint8_t *in, size_t len) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return no_memory(s->err, "gzip");
  size_t pos = 0;
  int rc = 0;
  for (;;) {
    size_t n;
    uint8_t *dst = room(s, UINT_MAX, &n);
    if (!dst) {
      rc = no_memory(s->err, "gzip");
      break;
    }
    size_t in_now = min_size(len - pos, UINT_MAX);
    zs.next_in = (Bytef *)(uintptr_t)(in + pos);
    zs.avail_in = (uInt)in_now;
    zs.next_out = dst;
    zs.avail_out = (uInt)n;
    int z = inflate(&zs, Z_NO_FLUSH);
    pos += in_now - zs.avail_in;
    if ((rc = commit(s, n, n - zs.avail_out))) break;
    if (z == Z_STREAM_END) {
      if (pos == len) break;  /* the last member ended exactly at the end: done */
      inflateReset(&zs);      /* another member follows */
    } else if (z == Z_OK || z == Z_BUF_ERROR) {
      /* Output room left over and no input left: the stream stopped mid-way. */
      if (zs.avail_out > 0 && pos == len) {
        rc = corrupt(s, "data is truncated (no end of stream)");
        break;
      }
    } else {
      char why[128];
      snprintf(why, sizeof why, "data is corrupt (%s)", zs.msg ? zs.msg : "inflate failed");
      rc = corrupt(s, why);
      break;
    }
  }
  inflateEnd(&zs);
  return rc;
}

/* One raw snappy block. Its first bytes state the decompressed size, so the limit is
 * checked before any memory is taken. Validating first (a dry run that writes nothing)
 * makes a damaged block report "corrupt" rather than whatever size its damage claims;
 * it is cheap because snappy cannot expand more than about 21 times. */
static int snappy_block(struct sink *s, const uint8_t *in, size_t len) {
  size_t n;
  if (snappy_uncompressed_length((const char *)in, len, &n) != SNAPPY_OK ||
      snappy_validate_compressed_buffer((const char *)in, len) != SNAPPY_OK)
    return corrupt(s, "block is corrupt");
  if (n > s->max_out - produced(s))
    return mk_err_set(s->err, MK_ERR_MESSAGE_TOO_LARGE,
                      "snappy: block would decompress to %zu bytes, past the limit of %zu", n,
                      s->max_out);
  if (n == 0) return 0;  /* a valid empty block */
  uint8_t *dst = mk_writer_extend(s->out, n);
  if (!dst) return no_memory(s->err, "snappy");
  size_t got = n;
  if (snappy_uncompress((const char *)in, len, (char *)dst, &got) != SNAPPY_OK || got != n)
    return corrupt(s, "block is corrupt");
  return 0;
}

/* Java's SnappyInputStream: anything that does not start with the xerial header is one raw
 * block; otherwise [int32 length][block] chunks, maybe with another header in between
 * (two framed streams glued together). */
static int snappy_decompress(struct sink *s, const uint8_t *in, size_t len) {
  if (len < XERIAL_HEADER_SIZE || memcmp(in, xerial_magic, sizeof xerial_magic) != 0)
    return snappy_block(s, in, len);
  size_t pos = 0;
  while (pos < len) {
    if (len - pos >= sizeof xerial_magic && memcmp(in + pos, xerial_magic, 8) == 0) {
      if (len - pos < XERIAL_HEADER_SIZE) return corrupt(s, "stream header is truncated");
      if ((int32_t)mk_load_u32(in + pos + 8) < 1) return corrupt(s, "bad xerial version");
      pos += XERIAL_HEADER_SIZE;
      continue;
    }
    if (len - pos < 4) return corrupt(s, "chunk length is truncated");
    uint32_t n = mk_load_u32(in + pos);
    pos += 4;
    char why[96];
    if (n > 512u * 1024 * 1024) {  /* snappy-java's MAX_CHUNK_SIZE */
      snprintf(why, sizeof why, "chunk length %u is over the 512 MiB maximum", n);
      return corrupt(s, why);
    }
    if (n > len - pos) {
      snprintf(why, sizeof why, "chunk of %u bytes but only %zu remain", n, len - pos);
      return corrupt(s, why);
    }
    int rc = snappy_block(s, in + pos, n);
    if (rc) return rc;
    pos += n;
  }
  return 0;
}

static int lz4_decompress(struct sink *s, const uint8_t *in, size_t len) {
  LZ4F_dctx *dctx;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
    return no_memory(s->err, "lz4");
  size_t pos = 0;
  int rc = 0;
  char why[128];
  while (pos < len && !rc) {
    /* A new frame: read its header first, to refuse what Kafka's reader refuses. */
    LZ4F_frameInfo_t info;
    size_t used = len - pos;
    size_t hint = LZ4F_getFrameInfo(dctx, &info, in + pos, &used);
    if (LZ4F_isError(hint)) {
      snprintf(why, sizeof why, "bad frame header (%s)", LZ4F_getErrorName(hint));
      rc = corrupt(s, why);
      break;
    }
    pos += used;
    if (info.frameType != LZ4F_frame || info.blockMode != LZ4F_blockIndependent) {
      rc = corrupt(s, "frame uses linked blocks or is a skippable frame; Kafka reads only "
                      "independent blocks");
      break;
    }
    while (hint != 0) {  /* 0: the frame is complete */
      if (pos == len) {
        rc = corrupt(s, "frame is truncated");
        break;
      }
      size_t n;
      uint8_t *dst = room(s, SIZE_MAX, &n);
      if (!dst) {
        rc = no_memory(s->err, "lz4");
        break;
      }
      size_t src = len - pos, got = n;
      hint = LZ4F_decompress(dctx, dst, &got, in + pos, &src, NULL);
      if (LZ4F_isError(hint)) {
        snprintf(why, sizeof why, "data is corrupt (%s)", LZ4F_getErrorName(hint));
        rc = corrupt(s, why);
        break;
      }
      pos += src;
      if ((rc = commit(s, n, got))) break;
    }
  }
  LZ4F_freeDecompressionContext(dctx);
  return rc;
}

static int zstd_decompress(struct sink *s, const uint8_t *in, size_t len) {
  /* The decoder refuses frames whose window is over 128 MiB (ZSTD_WINDOWLOG_LIMIT_DEFAULT,
   * as in zstd-jni), which bounds its own buffers; our sink bounds the output. */
  ZSTD_DCtx *dctx = ZSTD_createDCtx();
  if (!dctx) return no_memory(s->err, "zstd");
  ZSTD_inBuffer ib = {in, len, 0};
  int rc = 0;
  char why[128];
  for (;;) {
    size_t n;
    uint8_t *dst = room(s, SIZE_MAX, &n);
    if (!dst) {
      rc = no_memory(s->err, "zstd");
      break;
    }
    ZSTD_outBuffer ob = {dst, n, 0};
    size_t ret = ZSTD_decompressStream(dctx, &ob, &ib);
    if (ZSTD_isError(ret)) {
      snprintf(why, sizeof why, "data is corrupt (%s)", ZSTD_getErrorName(ret));
      rc = corrupt(s, why);
      break;
    }
    if ((rc = commit(s, n, ob.pos))) break;
    if (ret == 0 && ib.pos == ib.size) break;  /* a frame ended with the input: done */
    if (ib.pos == ib.size && ob.pos < ob.size) {
      rc = corrupt(s, "frame is truncated");
      break;
    }
  }
  ZSTD_freeDCtx(dctx);
  return rc;
}

int mk_decompress(int type, const uint8_t *in, size_t len, size_t max_out, struct mk_writer *out,
                  struct mk_err *err) {
  struct sink s = {out, out->len, max_out, mk_compression_name(type), err};
  int rc;
  if (!s.codec)
    return mk_err_set(err, MK_ERR_CORRUPT_MESSAGE, "unknown compression codec %d", type);
  if (type != MK_COMPRESSION_NONE && len == 0) return corrupt(&s, "no data (empty input)");
  switch (type) {
    case MK_COMPRESSION_GZIP: rc = gzip_decompress(&s, in, len); break;
    case MK_COMPRESSION_SNAPPY: rc = snappy_decompress(&s, in, len); break;
    case MK_COMPRESSION_LZ4: rc = lz4_decompress(&s, in, len); break;
    case MK_COMPRESSION_ZSTD: rc = zstd_decompress(&s, in, len); break;
    default:
      if (len > max_out)
        return mk_err_set(err, MK_ERR_MESSAGE_TOO_LARGE, "none: %zu bytes exceed the limit of %zu",
                          len, max_out);
      if (len) mk_write_raw(out, in, len);
      rc = out->failed ? no_memory(err, "none") : 0;
  }
  if (rc) out->len = s.base;  /* no partial output on failure */
  return rc;
}
