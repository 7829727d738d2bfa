/*
 * Fuzz target: the transaction coordinator (broker/transaction_coordinator.c,
 * transaction_state_manager.c, transaction_marker_channel.c, transaction_metadata.c) driven by
 * a script the input spells out: InitProducerId (with and without KIP-360's expected epoch),
 * AddPartitionsToTxn, EndTxn and verification, with producer ids, epochs, timeouts and
 * transactional ids that are the fuzzer's; writes and markers acknowledged or failed; time
 * passing; the hold fault; the coordinator losing a partition and loading it back from what
 * it wrote — or from records the fuzzer makes up. Run it as described in tests/fuzz/README.md.
 *
 * Each step is one opcode byte, then the bytes it reads (all reads past the end give 0).
 * Besides "never crash, never leak": no request is answered twice, and once the coordinator
 * is freed (after every write and marker still waiting was answered), every request has been
 * answered exactly once; every metadata's state is a state, its pending change one the table
 * allows.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/transaction_coordinator.h"
#include "common/log.h"
#include "protocol/coordinator_records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

/* UBSan findings stop the run, so libFuzzer saves the input (see fuzz_request.c). */
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static void die(const char *what) {
  fprintf(stderr, "fuzz_transaction_coordinator: %s\n", what);
  abort();
}

/* ---- the input ------------------------------------------------------------------------------ */

static const uint8_t *in;
static size_t in_left;

static uint8_t byte(void) {
  if (!in_left) return 0;
  in_left--;
  return *in++;
}

static int64_t i64(void) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | byte();
  return (int64_t)v;
}

/* Up to max bytes of the input (any bytes). */
static struct mk_bytes raw(size_t max) {
  size_t n = byte() % (max + 1);
  if (n > in_left) n = in_left;
  struct mk_bytes b = {in, (int32_t)n};
  in += n;
  in_left -= n;
  return b;
}

/* ---- the world ------------------------------------------------------------------------------- */

enum { NPARTS = 3, BROKER = 0, MAX_REQUESTS = 4096, MAX_WRITES = 2048 };

static int64_t clock_ms;
static int64_t next_pid;
static int answered[MAX_REQUESTS];
static int nrequests;

struct stored {
  int32_t partition;
  uint8_t *key, *value;
  int32_t key_len, value_len;
};
static struct stored writes[MAX_WRITES];
static int nwrites;

struct waiting {
  mk_txn_done *done;
  void *arg;
};
static struct waiting appends[MAX_WRITES], markers[MAX_WRITES];
static int nappends, nmarkers;
static int16_t refuse_appends, refuse_markers;

static int64_t fake_now(void *ctx) {
  (void)ctx;
  return clock_ms;
}

static int64_t fake_pid(void *ctx) {
  (void)ctx;
  return next_pid++;
}

static void keep(struct stored *s, int32_t partition, struct mk_bytes key, struct mk_bytes value) {
  s->partition = partition;
  s->key = malloc((size_t)key.len + 1);
  memcpy(s->key, key.ptr ? key.ptr : (const uint8_t *)"", (size_t)key.len);
  s->key_len = key.len;
  s->value = value.len < 0 ? NULL : malloc((size_t)value.len + 1);
  if (s->value) memcpy(s->value, value.ptr ? value.ptr : (const uint8_t *)"", (size_t)value.len);
  s->value_len = value.len;
}

static int16_t fake_append(void *ctx, int32_t partition, const struct mk_coordinator_record *recs,
                           int n, mk_txn_done *done, void *arg) {
  (void)ctx;
  if (refuse_appends) return refuse_appends;
  if (nappends == MAX_WRITES) return MK_ERR_REQUEST_TIMED_OUT;
  for (int i = 0; i < n && nwrites < MAX_WRITES; i++) {
    struct mk_writer k, v;
    mk_writer_init(&k);
    mk_writer_init(&v);
    if (mk_coordinator_record_encode(&recs[i], &k, &v, NULL) == 0 && !k.failed && !v.failed)
      keep(&writes[nwrites++], partition, (struct mk_bytes){k.buf, (int32_t)k.len},
           recs[i].tombstone ? MK_BYTES_NULL : (struct mk_bytes){v.buf, (int32_t)v.len});
    mk_writer_free(&k);
    mk_writer_free(&v);
  }
  appends[nappends++] = (struct waiting){done, arg};
  return 0;
}

static int16_t fake_marker(void *ctx, struct mk_str topic, int32_t partition, int64_t pid,
                           int16_t epoch, int32_t coordinator_epoch, bool commit, mk_txn_done *done,
                           void *arg) {
  (void)ctx, (void)topic, (void)partition, (void)pid, (void)epoch, (void)coordinator_epoch;
  (void)commit;
  if (refuse_markers) return refuse_markers;
  if (nmarkers == MAX_WRITES) return MK_ERR_NOT_LEADER_OR_FOLLOWER;
  markers[nmarkers++] = (struct waiting){done, arg};
  return 0;
}

/* Answer up to max of list's waiters, oldest first. */
static void ack(struct waiting *list, int *n, int16_t error, int max) {
  for (int i = 0; i < max && *n; i++) {
    struct waiting w = list[0];
    memmove(&list[0], &list[1], sizeof list[0] * (size_t)--*n);
    w.done(w.arg, error);
  }
}

static void *new_request(void) {
  if (nrequests == MAX_REQUESTS) die("too many requests for the table");
  answered[nrequests] = 0;
  return (void *)(intptr_t)nrequests++;
}

static void answer(void *arg) {
  if (++answered[(intptr_t)arg] > 1) die("a request was answered twice");
}

static void on_answer(void *arg, int16_t error, int64_t pid, int16_t epoch) {
  (void)error, (void)pid, (void)epoch;
  answer(arg);
}

static void on_error(void *arg, int16_t error) {
  (void)error;
  answer(arg);
}

/* ---- the coordinator -------------------------------------------------------------------------- */

static struct mk_txn_config cfg;
static struct mk_txn_coordinator coord;
static const struct mk_txn_runtime rt = {NULL, fake_now, fake_pid, fake_append, fake_marker};

static const char *const ids[] = {"a", "b", "c", "tx-\xff", ""};
static const char *const topics[] = {"t", "u", "__consumer_offsets"};

static struct mk_str some_id(void) { return mk_str_of(ids[byte() % 5]); }

/* A producer id and epoch near the ones in use, or anything. */
static void some_producer(struct mk_str id, int64_t *pid, int16_t *epoch) {
  struct mk_txn_metadata *m = NULL;
  mk_txn_state_get(&coord.mgr, BROKER, id, &m, NULL);
  uint8_t how = byte();
  *pid = m && how % 4 ? m->producer_id : (how % 8 == 0 ? i64() : 1000 + how % 4);
  *epoch = m && how % 3 ? (int16_t)(m->producer_epoch + (int8_t)byte() % 2) : (int16_t)(i64() % 40000);
}

static void load(int32_t p, int32_t epoch) {
  mk_txn_state_load_begin(&coord.mgr, p);
  for (int i = 0; i < nwrites; i++)
    if (writes[i].partition == p)
      mk_txn_state_load_record(&coord.mgr, p, i, (struct mk_bytes){writes[i].key, writes[i].key_len},
                               (struct mk_bytes){writes[i].value, writes[i].value_len});
  mk_txn_state_load_end(&coord.mgr, p, BROKER, epoch);
  mk_txn_coordinator_loaded(&coord, p);
}

static void check_books(void) {
  for (const struct mk_txn_metadata *m = coord.mgr.list; m; m = m->next) {
    if (m->state < MK_TXN_EMPTY || m->state > MK_TXN_PREPARE_EPOCH_FENCE) die("a state out of range");
    if (m->pending != MK_TXN_NO_PENDING && !mk_txn_valid_transition(m->state, m->pending) &&
        m->pending != MK_TXN_PREPARE_ABORT)
      die("a pending change the state table does not allow");
    if (m->partition < 0 || m->partition >= coord.mgr.nparts) die("a metadata outside the partitions");
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mk_log_set_level(MK_LOG_ERROR);
  in = data;
  in_left = size;
  clock_ms = 1700000000000;
  next_pid = 1000;
  nrequests = nwrites = nappends = nmarkers = 0;
  refuse_appends = refuse_markers = 0;
  mk_txn_config_init(&cfg);
  cfg.num_partitions = NPARTS;
  cfg.max_timeout_ms = 1 + byte() * 1000;
  cfg.abort_interval_ms = 100;
  cfg.expiration_ms = 1000 * (1 + byte());
  cfg.remove_expired_interval_ms = 500;
  if (mk_txn_coordinator_init(&coord, &cfg, &rt)) return 0;
  for (int32_t p = 0; p < NPARTS; p++) load(p, 0);
  int32_t epoch = 1;
  for (int steps = 0; in_left && steps < 400; steps++) {
    switch (byte() % 14) {
      case 0: case 1: {  /* InitProducerId */
        struct mk_str id = some_id();
        int32_t timeout = (int32_t)(byte() * 500) - 100;
        bool expected = byte() & 1;
        int64_t pid;
        int16_t ep;
        some_producer(id, &pid, &ep);
        mk_txn_init_producer_id(&coord, byte() % 8 ? BROKER : BROKER + 1, id, timeout, expected,
                                pid, ep, on_answer, new_request());
        break;
      }
      case 2: case 3: {  /* AddPartitionsToTxn */
        struct mk_str id = some_id();
        int64_t pid;
        int16_t ep;
        some_producer(id, &pid, &ep);
        struct mk_txn_partitions set = {0};
        for (int i = 0, n = byte() % 4; i < n; i++)
          mk_txn_partitions_add(&set, mk_str_of(topics[byte() % 3]), byte() % 4);
        mk_txn_add_partitions(&coord, BROKER, id, pid, ep, &set, on_error, new_request());
        mk_txn_partitions_free(&set);
        break;
      }
      case 4: {  /* EndTxn */
        struct mk_str id = some_id();
        int64_t pid;
        int16_t ep;
        some_producer(id, &pid, &ep);
        mk_txn_end_transaction(&coord, BROKER, id, pid, ep, byte() & 1, on_answer, new_request());
        break;
      }
      case 5: {  /* a partition leader verifies */
        struct mk_str id = some_id();
        int64_t pid;
        int16_t ep;
        some_producer(id, &pid, &ep);
        mk_txn_verify_partition(&coord, id, pid, ep, mk_str_of(topics[byte() % 3]), byte() % 4);
        break;
      }
      case 6: {
        static const int16_t errors[] = {0, 0, 0, MK_ERR_NOT_LEADER_OR_FOLLOWER,
                                         MK_ERR_REQUEST_TIMED_OUT, MK_ERR_NOT_ENOUGH_REPLICAS};
        ack(appends, &nappends, errors[byte() % 6], 1 + byte() % 4);
        break;
      }
      case 7: {
        static const int16_t errors[] = {0, 0, 0, MK_ERR_NOT_LEADER_OR_FOLLOWER,
                                         MK_ERR_INVALID_PRODUCER_EPOCH,
                                         MK_ERR_TRANSACTION_COORDINATOR_FENCED};
        ack(markers, &nmarkers, errors[byte() % 6], 1 + byte() % 4);
        break;
      }
      case 8:
        refuse_appends = byte() < 200 ? 0 : MK_ERR_NOT_ENOUGH_REPLICAS;
        refuse_markers = byte() < 200 ? 0 : byte() & 1 ? MK_ERR_UNKNOWN_TOPIC_OR_PARTITION
                                                       : MK_ERR_NOT_LEADER_OR_FOLLOWER;
        break;
      case 9: {  /* the partition moves away and comes back, loaded from the log */
        int32_t p = byte() % NPARTS;
        mk_txn_coordinator_unload(&coord, p);
        load(p, ++epoch);
        break;
      }
      case 10: {  /* a record made up by the fuzzer, in the log of a partition */
        if (nwrites == MAX_WRITES) break;
        struct mk_bytes key = raw(40), value = byte() & 1 ? MK_BYTES_NULL : raw(120);
        keep(&writes[nwrites++], byte() % NPARTS, key, value);
        break;
      }
      case 11:
        if (byte() & 1)
          mk_txn_marker_channel_hold(&coord.channel, byte() & 1 ? -1 : 10 * byte(),
                                     byte() & 1 ? -1 : byte() % 3);
        else
          mk_txn_marker_channel_release(&coord.channel);
        break;
      default:
        clock_ms += 10 * (int64_t)byte() * (1 + byte() % 16);
        mk_txn_coordinator_poll(&coord);
    }
    check_books();
  }
  /* Everything still waiting fails, as when the broker stops; then the coordinator goes. */
  refuse_appends = refuse_markers = MK_ERR_NOT_LEADER_OR_FOLLOWER;
  for (int round = 0; round < 8 && (nappends || nmarkers); round++) {
    ack(markers, &nmarkers, MK_ERR_NOT_LEADER_OR_FOLLOWER, MAX_WRITES);
    ack(appends, &nappends, MK_ERR_NOT_LEADER_OR_FOLLOWER, MAX_WRITES);
  }
  mk_txn_coordinator_free(&coord);
  for (int i = 0; i < nrequests; i++)
    if (answered[i] != 1) die("a request was never answered");
  for (int i = 0; i < nwrites; i++) {
    free(writes[i].key);
    free(writes[i].value);
  }
  return 0;
}
