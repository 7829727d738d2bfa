/*
 * Compression: the four codecs Kafka allows inside a record batch.
 * Kafka: clients/.../common/compress/ (GzipCompression, SnappyCompression,
 * Lz4Compression, ZstdCompression); RECORD-BATCH.md section 8.
 *
 * A batch compresses its records section as one unit; the codec's id sits in
 * the low three bits of the batch attributes:
 *   0 none   1 gzip (RFC 1952 gzip stream)
 *   2 snappy (Java writes the "xerial" framing: magic 82 'SNAPPY' 00,
 *            version, compatible version, then [int32 length, snappy block]...;
 *            some clients send one raw snappy block; both are read)
 *   3 lz4    (the LZ4 frame format)   4 zstd (a zstd frame)
 *
 * Decompression takes a limit: output beyond max_out bytes is an error, so a
 * few kilobytes crafted to expand to gigabytes (a "zip bomb") cannot exhaust
 * memory.
 *
 * Thread: any.
 */
#ifndef MK_PROTOCOL_COMPRESSION_H
#define MK_PROTOCOL_COMPRESSION_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/errors.h"
#include "protocol/primitives.h"

enum mk_compression {
  MK_COMPRESSION_NONE = 0,
  MK_COMPRESSION_GZIP = 1,
  MK_COMPRESSION_SNAPPY = 2,
  MK_COMPRESSION_LZ4 = 3,
  MK_COMPRESSION_ZSTD = 4,
};

/* Use the codec's default level (Kafka's defaults: gzip 6 via -1, lz4 9, zstd 3). */
#define MK_COMPRESSION_LEVEL_DEFAULT (-1000)

/* "none", "gzip", "snappy", "lz4", "zstd" (Kafka's compression.type values), or NULL. */
const char *mk_compression_name(int type);
/* The type for a compression.type value; returns 0 or MK_ERR__INVALID_ARG. Borrows name. */
int mk_compression_from_name(const char *name, int *type);

/* Append the compressed form of in[0..len) to out. Returns 0, MK_ERR__INVALID_ARG for an
 * unknown type or an out-of-range level (err says which levels the codec accepts), or
 * MK_ERR__NO_MEMORY. Borrows in. */
int mk_compress(int type, int level, const uint8_t *in, size_t len, struct mk_writer *out,
                struct mk_err *err);

/* Append the decompressed form of in[0..len) to out, at most max_out bytes. Returns 0, or
 * MK_ERR_CORRUPT_MESSAGE for input that does not decompress (err names the codec and why),
 * or MK_ERR_MESSAGE_TOO_LARGE when the output would exceed max_out. Borrows in. */
int mk_decompress(int type, const uint8_t *in, size_t len, size_t max_out, struct mk_writer *out,
                  struct mk_err *err);

#endif
