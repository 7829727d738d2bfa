/*
 * CRC-32C (Castagnoli): the checksum of a record batch.
 * Kafka: clients/.../common/utils/Crc32C.java; RECORD-BATCH.md.
 *
 * A record batch's crc field covers everything from `attributes` to the end of
 * the batch. It deliberately leaves out baseOffset and partitionLeaderEpoch, so
 * a broker can rewrite those two without recomputing the checksum.
 *
 * Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at run
 * time) and a table-driven fallback otherwise; both give the same answers.
 * Thread: any.
 */
#ifndef MK_PROTOCOL_CRC32C_H
#define MK_PROTOCOL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC-32C over len more bytes. Start with crc = 0; the result of one call can be
 * passed as crc to the next to checksum a buffer in pieces. Borrows buf. */
uint32_t mk_crc32c(uint32_t crc, const void *buf, size_t len);

/* The portable implementation alone, so tests can check that both paths agree. */
uint32_t mk_crc32c_portable(uint32_t crc, const void *buf, size_t len);

#endif
