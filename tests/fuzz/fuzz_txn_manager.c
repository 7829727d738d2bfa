/*
 * Fuzz target: the producer's TransactionManager (producer/transaction_manager.c) and its
 * request handlers (txn_request_handler.c), driven by a script the input spells out: the
 * application's calls in any order, batches failing with any error, and the Sender taking
 * requests, building them at any version and handing back whatever a broker might answer
 * (any bytes, decoded at any version of the API's response schema) or no answer at all.
 * A broker is outside input: nothing it says may crash the producer, leak, or break the
 * manager's rules. Run it as described in tests/fuzz/README.md.
 *
 * Each step is one opcode byte, then the bytes it reads (reads past the end give 0). After
 * every step:
 *   - the state is one of the eight, and FATAL_ERROR, once reached, is never left;
 *   - a request the builder made at a version encodes at that version (what we build, we
 *     can send);
 * and at the end every result is released and the manager destroyed (LeakSanitizer checks
 * that nothing is left).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "consumer/consumer.h"
#include "producer/transaction_manager.h"
#include "producer/txn_request_handler.h"
#include "protocol/api.h"
#include "protocol/arena.h"
#include "protocol/primitives.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__ubsan_default_options(void);

/* UBSan findings stop the run, so libFuzzer saves the input (see fuzz_request.c). */
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static void die(const char *what) {
  fprintf(stderr, "fuzz_txn_manager: %s\n", what);
  abort();
}

static const uint8_t *in;
static size_t in_left;

static uint8_t byte(void) {
  if (!in_left) return 0;
  in_left--;
  return *in++;
}

static int16_t error_code(void) {
  static const int16_t codes[] = {
      0, MK_ERR_NOT_COORDINATOR, MK_ERR_COORDINATOR_NOT_AVAILABLE,
      MK_ERR_COORDINATOR_LOAD_IN_PROGRESS, MK_ERR_CONCURRENT_TRANSACTIONS, MK_ERR_PRODUCER_FENCED,
      MK_ERR_INVALID_PRODUCER_EPOCH, MK_ERR_INVALID_TXN_STATE, MK_ERR_UNKNOWN_PRODUCER_ID,
      MK_ERR_INVALID_PRODUCER_ID_MAPPING, MK_ERR_TRANSACTION_ABORTABLE,
      MK_ERR_TOPIC_AUTHORIZATION_FAILED, MK_ERR_OPERATION_NOT_ATTEMPTED,
      MK_ERR_ILLEGAL_GENERATION, MK_ERR_REQUEST_TIMED_OUT, MK_ERR_UNSUPPORTED_VERSION,
      MK_ERR_CLUSTER_AUTHORIZATION_FAILED, MK_ERR_NETWORK_EXCEPTION, MK_ERR__DECODE,
  };
  uint8_t b = byte();
  return b < sizeof codes / sizeof codes[0] ? codes[b] : (int16_t)(b - 100);
}

enum { MAX_RESULTS = 64 };
static struct mk_txn_result *results[MAX_RESULTS];
static int nresults;

/* The application holds r (a full hand lets go of the oldest, as one that gave up waiting). */
static void keep(struct mk_transaction_manager *tm, struct mk_txn_result *r) {
  if (nresults == MAX_RESULTS) {
    mk_transaction_manager_release(tm, results[0]);
    memmove(results, results + 1, sizeof results[0] * (MAX_RESULTS - 1));
    nresults--;
  }
  results[nresults++] = r;
}

static const char *const topics[] = {"t", "u", "a-much-longer-topic-name"};

/* The Sender's turn: take a request and deal with it as the input says. */
static void sender_step(struct mk_transaction_manager *tm) {
  struct mk_txn_request *r = mk_transaction_manager_next_request(tm, byte() & 1);
  if (!r) return;
  switch (byte() % 4) {
    case 0:
      mk_transaction_manager_requeue(tm, r);
      return;
    case 1:
      mk_transaction_manager_retry(tm, r);
      return;
    default:
      break;
  }
  const struct mk_api *api = mk_api_find(mk_txn_request_api_key(r));
  if (!api) die("a request of an API we do not speak");
  int version = api->min_version + byte() % (api->advertised_max - api->min_version + 1);
  struct mk_txn_wire w;
  struct mk_err err = {0};
  if (mk_txn_request_build(tm, r, version, &w, &err) == 0) {
    struct mk_writer out;
    mk_writer_init(&out);
    if (mk_schema_encode(api->request, version, mk_api_is_flexible(api, version), w.body, &out,
                         &err))
      die(err.msg);  /* built for this version, so it must encode at it */
    mk_writer_free(&out);
    mk_txn_wire_free(&w);
  }
  mk_transaction_manager_sent(tm, r);
  if (byte() & 1) {  /* no answer */
    int16_t rc = error_code();
    mk_err_set(&err, rc, "fuzz");  /* rc 0 without a body: the manager must not trust it */
    mk_transaction_manager_complete_request(tm, byte() % 4, version, NULL, rc, &err);
    return;
  }
  /* An answer: any bytes, decoded as the API's response at the version. */
  size_t n = byte();
  if (n > in_left) n = in_left;
  struct mk_reader rd;
  mk_reader_init(&rd, in, n);
  in += n;
  in_left -= n;
  struct mk_arena arena;
  mk_arena_init(&arena);
  void *body = mk_arena_alloc(&arena, api->response->size);
  if (body && mk_schema_decode(api->response, version, mk_api_is_flexible(api, version), &rd, body,
                               &arena, &err) == 0) {
    mk_transaction_manager_complete_request(tm, byte() % 4, version, body, 0, NULL);
  } else {
    mk_transaction_manager_complete_request(tm, byte() % 4, version, NULL, MK_ERR__DECODE, &err);
  }
  mk_arena_free(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  in = data;
  in_left = size;
  mk_log_set_level(MK_LOG_ERROR);  /* quiet: the INFO lines of every transition */
  struct mk_transaction_manager tm;
  if (mk_transaction_manager_init(&tm, true, (byte() & 7) ? "txn" : NULL, 60000, 0, "fuzz"))
    return 0;
  nresults = 0;
  bool was_fatal = false;
  for (int steps = 0; in_left && steps < 400; steps++) {
    struct mk_txn_result *r = NULL;
    struct mk_err err = {0};
    switch (byte() % 12) {
      case 0:
        if (!mk_transaction_manager_initialize(&tm, &r, &err)) keep(&tm, r);
        break;
      case 1:
        mk_transaction_manager_begin(&tm, &err);
        break;
      case 2:
        if (!mk_transaction_manager_check_send(&tm, &err))
          mk_transaction_manager_maybe_add_partition(&tm, topics[byte() % 3], byte() % 4, &err);
        break;
      case 3:
        if (!mk_transaction_manager_begin_commit(&tm, &r, &err)) keep(&tm, r);
        break;
      case 4:
        if (!mk_transaction_manager_begin_abort(&tm, &r, &err)) keep(&tm, r);
        break;
      case 5: {
        struct mk_offset_to_commit o[2] = {{topics[byte() % 3], byte() % 4, byte(), -1, NULL},
                                           {"u", 1, byte(), (int32_t)byte() - 1, "m"}};
        struct mk_consumer_group_metadata g = {.group_id = "g",
                                               .generation_id = (int32_t)(byte() % 4) - 1};
        if (byte() & 1) strcpy(g.member_id, "member");
        if (byte() & 1) strcpy(g.group_instance_id, "instance");
        if (!mk_transaction_manager_send_offsets(&tm, o, 1 + byte() % 2, &g, &r, &err)) keep(&tm, r);
        break;
      }
      case 6: {
        struct mk_err e;
        int16_t code = error_code();
        mk_err_set(&e, code ? code : MK_ERR_REQUEST_TIMED_OUT, "a batch failed");
        mk_transaction_manager_error(&tm, &e);
        break;
      }
      case 7:
      case 8:
        sender_step(&tm);
        break;
      case 9:
        mk_transaction_manager_coordinator_ready(&tm, byte() % 6);
        break;
      case 10:
        if (nresults > 0) {  /* the application waits (not at all) for one of its results */
          int k = byte() % nresults;
          mk_transaction_manager_await(&tm, results[k], 0, &err);
          results[k] = results[--nresults];
        }
        break;
      case 11:
        if (byte() & 1) mk_transaction_manager_forget_coordinator(&tm, byte() % 4);
        else mk_transaction_manager_lookup_coordinator(&tm, (enum mk_coordinator_type)(byte() & 1), "g");
        break;
    }
    enum mk_transaction_state s = mk_transaction_manager_state(&tm);
    if ((unsigned)s > MK_TXN_FATAL_ERROR) die("state out of range");
    if (was_fatal && s != MK_TXN_FATAL_ERROR) die("left FATAL_ERROR");
    was_fatal = s == MK_TXN_FATAL_ERROR;
  }
  if (byte() & 1) mk_transaction_manager_close(&tm);
  for (int i = 0; i < nresults; i++) mk_transaction_manager_release(&tm, results[i]);
  mk_transaction_manager_destroy(&tm);
  return 0;
}
