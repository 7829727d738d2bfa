/*
 * murmur2_partition: print the partition minikafka's own partitioner (protocol/murmur2.c)
 * picks for each key, one per line, so the interop checks can compare it with where the
 * real clients put the same keys.
 *
 *   murmur2_partition NUM_PARTITIONS KEY...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/murmur2.h"

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 0;
  if (n <= 0) {
    fprintf(stderr, "usage: murmur2_partition NUM_PARTITIONS KEY...\n");
    return 2;
  }
  for (int i = 2; i < argc; i++) printf("%d\n", mk_murmur2_partition(argv[i], strlen(argv[i]), n));
  return 0;
}
