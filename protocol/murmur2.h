/*
 * murmur2: the hash that decides which partition a keyed record goes to.
 * Kafka: clients/.../common/utils/Utils.java (murmur2, toPositive) and
 * producer/internals/BuiltInPartitioner.java (partitionForKey).
 *
 *   partition = toPositive(murmur2(serialized key bytes)) % number of partitions
 *
 * It is part of the protocol in all but name: every client that wants its keys
 * to land where the Java producer puts them (librdkafka's "murmur2_random"
 * partitioner, kafkajs's default) computes exactly this, so the same key always
 * reaches the same partition whichever client wrote it. Two details are easy to
 * get wrong: bytes are unsigned, and toPositive clears the sign bit rather than
 * taking abs() (abs(INT32_MIN) is still negative).
 *
 * Thread: any.
 */
#ifndef MK_PROTOCOL_MURMUR2_H
#define MK_PROTOCOL_MURMUR2_H

#include <stddef.h>
#include <stdint.h>

/* Kafka's murmur2 of len bytes (seed 0x9747b28c). Borrows key. */
int32_t mk_murmur2(const void *key, size_t len);

/* toPositive(murmur2(key)) % num_partitions; num_partitions must be > 0. Borrows key. */
int32_t mk_murmur2_partition(const void *key, size_t len, int32_t num_partitions);

#endif
