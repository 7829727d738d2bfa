/*
 * Fuzz target: the consumer's fetcher (consumer/fetcher.c), what it does with the bytes of
 * one partition of a Fetch answer: cut them into batches, check or skip them, read their
 * records from the position on, drop control batches and (read_committed) the batches of
 * aborted transactions, and hand the records out through poll()'s collector.
 * Run it as described in tests/fuzz/README.md.
 *
 * The input: byte 0 the mode (bit 0 read_committed, bit 1 check.crcs off so mutations get
 * past the CRC, bit 2 skip corrupt batches); byte 1 how many aborted transactions (0-7),
 * then 16 bytes each (producer id, first offset, big-endian); then 8 bytes, the position to
 * fetch from (mod 2^20); the rest is the partition's records bytes.
 *
 * Properties: nothing read outside the input or a decompressed copy (ASan, every key, value
 * and header byte is read); the records handed out are at or past the position, in strictly
 * increasing offsets; the position never goes back; a fatal error leaves nothing handed out.
 * A broken property prints what differed and aborts; libFuzzer saves the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "consumer/consumer_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static volatile uint8_t sink;
static void touch(struct mk_bytes b) {
  uint8_t x = 0;
  for (int32_t i = 0; i < b.len; i++) x ^= b.ptr[i];
  sink ^= x;
}

static uint64_t load64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

static void die(const char *what, long long a, long long b) {
  fprintf(stderr, "fuzz_fetcher: %s (%lld, %lld)\n", what, a, b);
  abort();
}

static struct mk_consumer *consumer(bool read_committed, bool check_crcs) {
  struct mk_consumer_config *cfg = mk_consumer_config_new();
  struct mk_err err = {0};
  /* never connected: the fetcher is driven directly */
  mk_consumer_config_set(cfg, "bootstrap.servers", "127.0.0.1:1", &err);
  mk_consumer_config_set(cfg, "isolation.level",
                         read_committed ? "read_committed" : "read_uncommitted", &err);
  mk_consumer_config_set(cfg, "check.crcs", check_crcs ? "true" : "false", &err);
  struct mk_consumer *c = NULL;
  if (mk_consumer_config_finish(cfg, &err) || mk_consumer_new(cfg, &c, &err))
    die(err.msg, 0, 0);
  mk_consumer_config_free(cfg);
  return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int quiet;
  if (!quiet++) mk_log_set_level(MK_LOG_ERROR);
  if (size < 2) return 0;
  uint8_t mode = data[0];
  int ntxns = data[1] & 7;
  size_t at = 2;
  if (size < at + (size_t)ntxns * 16 + 8) return 0;
  struct mk_fetch_aborted_transaction txns[8];
  for (int i = 0; i < ntxns; i++, at += 16) {
    txns[i].producer_id = (int64_t)load64(data + at);
    txns[i].first_offset = (int64_t)load64(data + at + 8);
  }
  int64_t position = (int64_t)(load64(data + at) % (1u << 20));
  at += 8;

  struct mk_consumer *c = consumer(mode & 1, !(mode & 2));
  mk_consumer_skip_corrupt_batches(c, mode & 4);
  struct mk_topic_partition tp = {"t", 0};
  struct mk_err err = {0};
  if (mk_consumer_assign(c, &tp, 1, &err) || mk_consumer_seek(c, "t", 0, position, &err))
    die(err.msg, 0, 0);

  struct mk_fetch_partition_data pd;
  memset(&pd, 0, sizeof pd);
  pd.partition_index = 0;
  pd.high_watermark = position + 1000;
  pd.aborted_transactions = txns;
  pd.aborted_transactions_count = ntxns;
  pd.records = (struct mk_bytes){data + at, (int32_t)(size - at)};
  int rc = mk_fetcher_take_partition(c, "t", 0, &pd, &err);
  struct mk_consumer_record out[64];
  int64_t last = -1, pos = position;
  int n;
  while ((n = mk_fetcher_collect(c, out, 64)) > 0) {
    if (rc) die("records handed out after a fatal error", rc, n);
    for (int i = 0; i < n; i++) {
      if (out[i].offset < position) die("a record before the position", out[i].offset, position);
      if (out[i].offset <= last) die("offsets not increasing", out[i].offset, last);
      last = out[i].offset;
      struct mk_record r = out[i].record;
      touch(r.key);
      touch(r.value);
      for (int32_t h = 0; h < r.headers_count; h++) {
        struct mk_record_header hd;
        struct mk_err herr = {0};
        if (mk_record_next_header(&r, &hd, &herr)) break;
        touch(hd.key);
        touch(hd.value);
      }
    }
    int64_t now = mk_consumer_position(c, "t", 0);
    if (now < pos) die("the position went back", now, pos);
    pos = now;
  }
  mk_fetcher_clear(c);
  mk_consumer_abandon(c);
  return 0;
}
