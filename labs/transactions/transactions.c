/*
 * Lab 17, transactions: a transactional producer writes records to the log at once, and a
 * read_committed consumer sees them only once the coordinator's marker says "commit".
 * Guide: labs/transactions/README.md. Note: 002's transactional.id row. Code:
 * producer/transaction_manager.h (the producer's side), broker/transaction_coordinator.h (the
 * coordinator), broker/producer_state.h (the last stable offset).
 *
 *   part 1  one transaction committed, one aborted; a read_committed and a read_uncommitted
 *           reader, side by side, read the topic from the start
 *   part 2  the log itself: data records and the two markers, each at an offset of its own;
 *           a group that commits "last record + 1" keeps a lag of 1 after a commit marker
 *   part 3  a zombie: a second producer with the same transactional.id fences the first,
 *           whose open transaction the coordinator aborts; its commit is PRODUCER_FENCED
 *   part 4  an open transaction holds the last stable offset (LSO): plain records written
 *           after it wait too; the commit's markers held (hold_markers) keep them waiting
 *           after the producer was told "committed"; released, the LSO jumps
 *   part 5  consume-transform-produce: the input's offsets are sent to the transaction
 *           (sendOffsetsToTransaction), so they commit with the output or not at all
 *
 * Every reader is built from the lab's settings and then the user's: a --set isolation.level
 * reaches both readers, so each reader's view is predicted from its own isolation.level.
 */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "labs/lab.h"

static const struct mk_lab_param params[] = {
    {"records", "5", "records in each transaction", 1, 200},
    {NULL, NULL, NULL, 0, 0},
};

enum { WAIT_MS = 30000, PATIENCE_MS = 1500, MAX_PREFIXES = 4 };

static const char *const GROUP = "enricher";

/* ---- producers ------------------------------------------------------------------------- */

/* A transactional producer with transactional.id id, initialized (initTransactions). On a
 * failure says why and returns the error, *out NULL. */
static int txn_producer(struct mk_lab_ctx *ctx, const char *id, const char *client_id,
                        struct mk_producer **out, struct mk_err *err) {
  char tid[96], cid[64];
  snprintf(tid, sizeof tid, "transactional.id=%s", id);
  snprintf(cid, sizeof cid, "client.id=%s", client_id);
  const char *const kv[] = {tid, cid, NULL};
  *out = NULL;
  struct mk_producer *p;
  int rc = mk_lab_producer_new(ctx, kv, &p);
  if (rc) return rc;
  if ((rc = mk_producer_init_transactions(p, err))) {
    mk_producer_close(p, 0);
    return rc;
  }
  *out = p;
  return 0;
}

/* Send n records "<prefix>-<i>" to topic partition 0 and wait for them to be in the log
 * (flush: sent, not committed). Returns how many succeeded. */
static int send_n(struct mk_lab_ctx *ctx, struct mk_producer *p, const char *topic,
                  const char *prefix, int n) {
  struct mk_lab_sends *s = mk_lab_sends_new(n);
  if (!s) return 0;
  for (int i = 0; i < n; i++) {
    char value[48];
    snprintf(value, sizeof value, "%s-%d", prefix, i);
    mk_lab_send(ctx, p, s, topic, 0, NULL, value);
  }
  struct mk_err err = {0};
  mk_producer_flush(p, WAIT_MS, &err);
  mk_lab_sends_wait(s, WAIT_MS);
  int ok = mk_lab_sends_succeeded(s);
  mk_lab_sends_free(s);
  return ok;
}

/* What became of a transaction the lab ended. */
struct ending {
  bool done;        /* the commit or abort returned 0 */
  char what[320];   /* otherwise the error, in words */
};

/* Commit (or abort) p's transaction. A failure leaves the transaction aborted or never
 * committed: an abortable error is aborted here, as an application would. */
static struct ending end_txn(struct mk_producer *p, bool commit) {
  struct ending e = {0};
  struct mk_err err = {0};
  int rc = commit ? mk_producer_commit_transaction(p, &err) : mk_producer_abort_transaction(p, &err);
  e.done = rc == 0;
  if (rc) {
    snprintf(e.what, sizeof e.what, "%s", err.msg);
    if (mk_producer_transaction_state(p) == MK_TXN_ABORTABLE_ERROR) {
      struct mk_err ignored = {0};
      mk_producer_abort_transaction(p, &ignored);
    }
  }
  return e;
}

/* ---- readers --------------------------------------------------------------------------- */

/* What one reader saw of a one-partition topic, from offset 0. */
struct view {
  bool read_committed;   /* its isolation.level (the lab's, or the user's) */
  int64_t latest;        /* ListOffsets latest as it asks it: the LSO, or the high watermark */
  int64_t position;      /* where it stopped: the next offset it would read */
  int n;                 /* records it returned */
  int counts[MAX_PREFIXES];  /* of them, those whose value starts "<prefixes[i]>-" */
};

static const char *level_name(bool read_committed) {
  return read_committed ? "read_committed" : "read_uncommitted";
}

/* Read topic (partition 0) from the beginning with isolation.level `isolation` until the
 * reader's position reaches `until` (-1: its own latest offset), or PATIENCE_MS pass with
 * nothing new. */
static int read_view(struct mk_lab_ctx *ctx, const char *isolation, const char *topic,
                     const char *const *prefixes, int64_t until, struct view *v) {
  memset(v, 0, sizeof *v);
  char level[48], cid[48];
  snprintf(level, sizeof level, "isolation.level=%s", isolation);
  snprintf(cid, sizeof cid, "client.id=%s", isolation);
  const char *const kv[] = {level, cid, "enable.auto.commit=false", NULL};
  struct mk_consumer_config *cfg;
  int rc = mk_lab_consumer_config(ctx, kv, &cfg);
  if (rc) return rc;
  v->read_committed = cfg->isolation_level == 1;
  struct mk_consumer *c;
  struct mk_err err = {0};
  rc = mk_consumer_new(cfg, &c, &err);
  mk_consumer_config_free(cfg);
  if (rc) return mk_lab_fail(ctx, rc, "consumer: %s", err.msg);
  struct mk_topic_partition tp = {mk_lab_topic(ctx, topic), 0};
  rc = mk_consumer_assign(c, &tp, 1, &err);
  if (!rc) rc = mk_consumer_list_offsets(c, &tp, 1, MK_OFFSET_LATEST, &v->latest, &err);
  if (!rc) rc = mk_consumer_seek(c, tp.topic, 0, 0, &err);
  if (until < 0) until = v->latest;
  int64_t quiet_since = mk_now_us() / 1000, deadline = quiet_since + WAIT_MS;
  v->position = 0;
  while (!rc && v->position < until) {
    struct mk_consumer_records r;
    if ((rc = mk_consumer_poll(c, 100, &r, &err))) break;
    int64_t now = mk_now_us() / 1000;
    if (r.n) quiet_since = now;
    for (int i = 0; i < r.n; i++) {
      v->n++;
      const struct mk_bytes *val = &r.v[i].record.value;
      for (int k = 0; prefixes && prefixes[k] && k < MAX_PREFIXES; k++) {
        size_t len = strlen(prefixes[k]);
        if (val->len > (int32_t)len && memcmp(val->ptr, prefixes[k], len) == 0 &&
            val->ptr[len] == '-')
          v->counts[k]++;
      }
    }
    int64_t pos = mk_consumer_position(c, tp.topic, 0);
    if (pos >= 0) v->position = pos;
    if (now - quiet_since > PATIENCE_MS || now > deadline) break;
  }
  mk_consumer_close(c);
  return rc ? mk_lab_fail(ctx, rc, "%s reader: %s", isolation, err.msg) : 0;
}

/* The log end offset (the high watermark: the lab waits for replication) of partition 0. */
static int64_t log_end(struct mk_lab_ctx *ctx, const char *topic) {
  struct mk_partition_state st;
  return mk_lab_partition_state(ctx, topic, 0, &st) ? -1 : st.high_watermark;
}

/* The markers the coordinator wrote to topic since mark: offsets and results, in order. */
static int markers(struct mk_lab_ctx *ctx, size_t mark, const char *topic, int64_t *offsets,
                   bool *commit, int max) {
  json_t *evs = mk_lab_events(ctx, mark, "broker", "txn_marker", topic);
  size_t i;
  json_t *ev;
  int n = 0;
  json_array_foreach(evs, i, ev) {
    if (n == max) break;
    offsets[n] = json_integer_value(json_object_get(ev, "offset"));
    const char *r = json_string_value(json_object_get(ev, "result"));
    commit[n++] = r && strcmp(r, "commit") == 0;
  }
  json_decref(evs);
  return n;
}

/* Wait until n markers are in topic since mark (the coordinator writes them after
 * answering EndTxn), then for the high watermark to pass the last. */
static void wait_markers(struct mk_lab_ctx *ctx, size_t mark, const char *topic, int n) {
  int64_t deadline = mk_now_us() / 1000 + WAIT_MS;
  int64_t off[8];
  bool c[8];
  int got;
  while ((got = markers(ctx, mark, topic, off, c, 8)) < n && mk_now_us() / 1000 < deadline)
    mk_lab_sleep_ms(10);
  if (got > 0) mk_lab_wait_hw(ctx, topic, 0, off[got - 1] + 1, WAIT_MS);
}

/* The broker's txn_state moves of transactional id since mark, one quiet line each. */
static void show_coordinator(struct mk_lab_ctx *ctx, size_t mark, const char *id) {
  json_t *evs = mk_lab_events(ctx, mark, "broker", "txn_state", NULL);
  size_t i;
  json_t *ev;
  json_array_foreach(evs, i, ev) {
    const char *tid = json_string_value(json_object_get(ev, "transactional_id"));
    if (!tid || strcmp(tid, id) != 0) continue;
    mk_lab_note(ctx, "    coordinator: %s -> %s (producer id %lld, epoch %lld)",
                json_string_value(json_object_get(ev, "from")),
                json_string_value(json_object_get(ev, "to")),
                (long long)json_integer_value(json_object_get(ev, "producer_id")),
                (long long)json_integer_value(json_object_get(ev, "producer_epoch")));
  }
  json_decref(evs);
}

/* What a reader at this level should have seen of the parts of a topic: the committed
 * ones only, or everything written. */
static int expected(bool read_committed, int committed, int written) {
  return read_committed ? committed : written;
}

/* The user's settings may make a transaction fail (a short transaction.timeout.ms lets the
 * coordinator abort it); the claims that need it to succeed say so beforehand. */
static const char *timeout_risk(struct mk_lab_ctx *ctx) {
  if (mk_lab_user_set(ctx, "transaction.timeout.ms") ||
      mk_lab_user_set(ctx, "transaction.abort.timed.out.transaction.cleanup.interval.ms"))
    return "your transaction.timeout.ms lets the coordinator abort a transaction that lasts "
           "longer, and this one may have";
  return NULL;
}

/* ---- part 1: commit and abort, seen side by side --------------------------------------- */

static int part1(struct mk_lab_ctx *ctx, struct mk_producer *p, int records, size_t *mark,
                 struct ending *commit, struct ending *abort_) {
  mk_lab_heading(ctx, "Part 1: commit and abort, seen by two readers");
  mk_lab_say(ctx,
             "Producer \"payer\" (transactional.id=payer) writes %d records \"paid-N\" to topic\n"
             "payments in one transaction and commits it, then %d records \"void-N\" in a\n"
             "second one and aborts it. Both transactions' records are written to the log as\n"
             "they are sent (flush): the commit or abort comes after. Then two readers read the\n"
             "topic from the start: one with isolation.level=read_committed, one with\n"
             "read_uncommitted (the default).",
             records, records);
  mk_lab_predict(ctx, "what does each reader see? Did the aborted records ever reach the log?");
  *mark = mk_lab_mark(ctx);
  struct mk_err err = {0};
  int sent_paid = 0, sent_void = 0;
  if (mk_producer_begin_transaction(p, &err) == 0) {
    sent_paid = send_n(ctx, p, "payments", "paid", records);
    *commit = end_txn(p, true);
  } else {
    snprintf(commit->what, sizeof commit->what, "%s", err.msg);
  }
  if (mk_producer_begin_transaction(p, &err) == 0) {
    sent_void = send_n(ctx, p, "payments", "void", records);
    *abort_ = end_txn(p, false);
  } else {
    snprintf(abort_->what, sizeof abort_->what, "%s", err.msg);
  }
  if (!commit->done) mk_lab_say(ctx, "  the commit failed: %s", commit->what);
  if (!abort_->done) mk_lab_say(ctx, "  the abort failed: %s", abort_->what);
  wait_markers(ctx, *mark, "payments", 2);

  static const char *const prefixes[] = {"paid", "void", NULL};
  struct view rc_view, ru_view;
  int rc = read_view(ctx, "read_committed", "payments", prefixes, log_end(ctx, "payments"),
                     &rc_view);
  if (!rc) rc = read_view(ctx, "read_uncommitted", "payments", prefixes, -1, &ru_view);
  if (rc) return rc;
  if (mk_lab_user_set(ctx, "isolation.level"))
    mk_lab_note(ctx, "(your isolation.level applies to both readers: the first is %s, the "
                "second %s)", level_name(rc_view.read_committed),
                level_name(ru_view.read_committed));
  const char *rows[] = {"reader 1", "reader 2", NULL};
  struct view *views[] = {&rc_view, &ru_view};
  mk_lab_say(ctx, "%s", "");
  for (int i = 0; i < 2; i++) {
    mk_lab_say(ctx, "  %s (%s): %d paid, %d void", rows[i], level_name(views[i]->read_committed),
               views[i]->counts[0], views[i]->counts[1]);
    mk_lab_figure(ctx, rows[i], "read_committed", views[i]->read_committed);
    mk_lab_figure(ctx, rows[i], "paid", views[i]->counts[0]);
    mk_lab_figure(ctx, rows[i], "void", views[i]->counts[1]);
  }
  int paid_committed = commit->done ? sent_paid : 0;
  const char *risk = timeout_risk(ctx);
  mk_lab_claim_unless(ctx, commit->done && abort_->done && sent_paid == records &&
                      sent_void == records, risk,
                      "both transactions' %d records each were written to the log; the first "
                      "ended with a commit, the second with an abort", records);
  for (int i = 0; i < 2; i++) {
    bool rcm = views[i]->read_committed;
    mk_lab_claim(ctx,
                 views[i]->counts[0] == expected(rcm, paid_committed, sent_paid) &&
                     views[i]->counts[1] == expected(rcm, 0, sent_void),
                 "%s (%s) saw %s", rows[i], level_name(rcm),
                 rcm ? "the committed records only: the aborted ones are skipped"
                     : "every record written, the aborted ones too: it does not look at "
                       "markers");
  }
  return 0;
}

/* ---- part 2: the markers in the log ----------------------------------------------------- */

static int part2(struct mk_lab_ctx *ctx, size_t mark, const struct ending *commit,
                 const struct ending *abort_) {
  mk_lab_heading(ctx, "Part 2: the markers are records too");
  mk_lab_say(ctx,
             "The log of payments-0, offset by offset. The coordinator ended each transaction\n"
             "by writing a marker (a control batch: COMMIT or ABORT, with the producer id) to\n"
             "every partition the transaction wrote to. Consumers never return markers, but\n"
             "each takes an offset.");
  struct mk_stored_records log;
  int rc = mk_lab_read_records(ctx, "payments", 0, -1, true, &log);
  if (rc) return rc;
  int64_t moff[8];
  bool mcommit[8];
  int nm = markers(ctx, mark, "payments", moff, mcommit, 8);
  int64_t end = log_end(ctx, "payments");
  /* Runs of data records between the markers, one line each. */
  size_t r = 0;
  int m = 0;
  while (r < log.n || m < nm) {
    if (m < nm && (r == log.n || moff[m] < log.v[r].offset)) {
      mk_lab_say(ctx, "  offset %3lld        %s marker", (long long)moff[m],
                 mcommit[m] ? "COMMIT" : "ABORT");
      m++;
      continue;
    }
    size_t first = r;
    while (r + 1 < log.n && log.v[r + 1].offset == log.v[r].offset + 1 &&
           (m == nm || log.v[r + 1].offset < moff[m]))
      r++;
    mk_lab_say(ctx, "  offsets %3lld..%-3lld  %zu data records (producer id %lld, epoch %d): "
               "%.*s .. %.*s", (long long)log.v[first].offset, (long long)log.v[r].offset,
               r - first + 1, (long long)log.v[r].producer_id, log.v[r].producer_epoch,
               (int)log.v[first].value.len, log.v[first].value.ptr,
               (int)log.v[r].value.len, log.v[r].value.ptr);
    r++;
  }
  mk_lab_say(ctx, "  log end offset %lld", (long long)end);
  size_t data = log.n;
  mk_stored_records_free(&log);
  mk_lab_figure(ctx, "log", "data records", (double)data);
  mk_lab_figure(ctx, "log", "markers", nm);
  mk_lab_figure(ctx, "log", "log end offset", (double)end);
  int ended = (commit->done ? 1 : 0) + (abort_->done ? 1 : 0);
  mk_lab_claim_unless(ctx, nm == ended && end == (int64_t)data + nm, timeout_risk(ctx),
                      "%zu data records and %d markers: the log end offset is %lld, one offset "
                      "per marker more than the data", data, nm, (long long)end);

  mk_lab_say(ctx,
             "\nA consumer commits the offset of the next record it wants: last record + 1.\n"
             "If the last thing in the partition is a marker, that is the marker's offset, and\n"
             "the log end offset is one past it.");
  mk_lab_predict(ctx, "what LAG does `minikafka groups --describe` show for such a group?");
  return 0;
}

/* Part 2's second half: a third transaction, committed, so the partition ends with a commit
 * marker; a group that processed all of it. */
static int lag_after_commit(struct mk_lab_ctx *ctx, struct mk_producer *p, int records) {
  size_t mark = mk_lab_mark(ctx);
  struct mk_err err = {0};
  struct ending e = {0};
  if (mk_producer_begin_transaction(p, &err) == 0) {
    send_n(ctx, p, "payments", "paid2", records);
    e = end_txn(p, true);
  } else {
    snprintf(e.what, sizeof e.what, "%s", err.msg);
  }
  if (!e.done) mk_lab_say(ctx, "  the commit failed: %s", e.what);
  wait_markers(ctx, mark, "payments", 1);
  static const char *const prefixes[] = {"paid2", NULL};
  struct view v;
  int64_t end = log_end(ctx, "payments");
  int rc = read_view(ctx, "read_committed", "payments", prefixes, end, &v);
  if (rc) return rc;
  struct mk_stored_records log;
  if ((rc = mk_lab_read_records(ctx, "payments", 0, -1, true, &log))) return rc;
  int64_t last = log.n ? log.v[log.n - 1].offset : -1;
  mk_stored_records_free(&log);
  int64_t moff[2];
  bool mc[2];
  int nm = markers(ctx, mark, "payments", moff, mc, 2);
  int64_t committed = last + 1, lag = end - committed;
  mk_lab_say(ctx, "  %d more records, committed: the last data record is at offset %lld, the "
             "COMMIT marker at %lld,\n  the log end offset is %lld.", records, (long long)last,
             nm ? (long long)moff[0] : -1LL, (long long)end);
  mk_lab_say(ctx, "  a group that processed every record commits %lld: LAG = %lld - %lld = %lld",
             (long long)committed, (long long)end, (long long)committed, (long long)lag);
  mk_lab_say(ctx, "  the reader's own position after reading: %lld (%s)", (long long)v.position,
             v.position == end ? "it stepped over the marker: committing the position, not "
                                 "the last record + 1, shows LAG 0"
                               : "short of the log end");
  mk_lab_figure(ctx, "after commit", "last record", (double)last);
  mk_lab_figure(ctx, "after commit", "log end offset", (double)end);
  mk_lab_figure(ctx, "after commit", "lag", (double)lag);
  mk_lab_figure(ctx, "after commit", "reader position", (double)v.position);
  mk_lab_claim_unless(ctx, e.done && nm == 1 && moff[0] == last + 1 && end == last + 2 && lag == 1,
                      timeout_risk(ctx),
                      "the commit marker took offset %lld, right after the last record: a group "
                      "that committed last record + 1 shows LAG 1 however long it waits",
                      (long long)(last + 1));
  return 0;
}

/* ---- part 3: a zombie ------------------------------------------------------------------- */

static int part3(struct mk_lab_ctx *ctx, int records) {
  mk_lab_heading(ctx, "Part 3: a zombie, fenced");
  mk_lab_say(ctx,
             "Producer Z (transactional.id=ledger-writer) writes %d records \"zombie-N\" to topic\n"
             "ledger and stalls before committing: a long GC pause, a lost network, a process\n"
             "its supervisor believes dead. The supervisor starts N with the same\n"
             "transactional.id. Then Z wakes up and commits.",
             records);
  mk_lab_predict(ctx, "can two producers with one transactional.id both commit?");
  size_t mark = mk_lab_mark(ctx);
  struct mk_producer *z, *n;
  struct mk_err err = {0};
  int rc = txn_producer(ctx, "ledger-writer", "Z", &z, &err);
  if (rc) return mk_lab_fail(ctx, rc, "Z's initTransactions: %s", err.msg);
  int zombie_sent = 0;
  if (mk_producer_begin_transaction(z, &err) == 0)
    zombie_sent = send_n(ctx, z, "ledger", "zombie", records);
  if ((rc = txn_producer(ctx, "ledger-writer", "N", &n, &err))) {
    mk_producer_close(z, 0);
    return mk_lab_fail(ctx, rc, "N's initTransactions: %s", err.msg);
  }
  struct mk_err zerr = {0};
  int zrc = mk_producer_commit_transaction(z, &zerr);
  enum mk_transaction_state zstate = mk_producer_transaction_state(z);
  mk_producer_close(z, 0);
  struct ending ne = {0};
  int fresh_sent = 0;
  if (mk_producer_begin_transaction(n, &err) == 0) {
    fresh_sent = send_n(ctx, n, "ledger", "fresh", records);
    ne = end_txn(n, true);
  } else {
    snprintf(ne.what, sizeof ne.what, "%s", err.msg);
  }
  mk_producer_close(n, 5000);
  wait_markers(ctx, mark, "ledger", 2);
  mk_lab_say(ctx, "  Z's commit: %s", zrc ? zerr.msg : "succeeded");
  mk_lab_say(ctx, "  Z's state now: %s", mk_transaction_state_name(zstate));
  mk_lab_say(ctx, "  N's commit: %s", ne.done ? "succeeded" : ne.what);
  mk_lab_say(ctx, "  What the coordinator did with transactional.id ledger-writer:");
  show_coordinator(ctx, mark, "ledger-writer");
  static const char *const prefixes[] = {"zombie", "fresh", NULL};
  struct view rcv, ruv;
  rc = read_view(ctx, "read_committed", "ledger", prefixes, log_end(ctx, "ledger"), &rcv);
  if (!rc) rc = read_view(ctx, "read_uncommitted", "ledger", prefixes, -1, &ruv);
  if (rc) return rc;
  mk_lab_say(ctx, "  %s reader: %d zombie, %d fresh;  %s reader: %d zombie, %d fresh",
             level_name(rcv.read_committed), rcv.counts[0], rcv.counts[1],
             level_name(ruv.read_committed), ruv.counts[0], ruv.counts[1]);
  mk_lab_figure(ctx, "zombie", "fenced", zrc == MK_ERR_PRODUCER_FENCED);
  mk_lab_figure(ctx, "zombie", "written", zombie_sent);
  mk_lab_figure(ctx, "fresh", "committed", ne.done ? fresh_sent : 0);
  const char *risk = timeout_risk(ctx);
  mk_lab_claim_unless(ctx, zrc == MK_ERR_PRODUCER_FENCED && zstate == MK_TXN_FATAL_ERROR, risk,
                      "Z's commit was refused with PRODUCER_FENCED, a fatal error: N's "
                      "initTransactions bumped the epoch, and only close() is left to Z");
  int fresh_ok = ne.done ? fresh_sent : 0;
  for (int i = 0; i < 2; i++) {
    const struct view *v = i ? &ruv : &rcv;
    bool rcm = v->read_committed;
    mk_lab_claim(ctx,
                 v->counts[0] == expected(rcm, 0, zombie_sent) &&
                     v->counts[1] == expected(rcm, fresh_ok, fresh_sent),
                 "the %s reader saw %d of Z's %d records and %d of N's %s", level_name(rcm),
                 v->counts[0], zombie_sent, v->counts[1],
                 rcm ? "(the coordinator aborted Z's transaction before N's began)"
                     : "(Z's were written before the fence; only a marker says they are void)");
  }
  return 0;
}

/* ---- part 4: the last stable offset ----------------------------------------------------- */

static int part4(struct mk_lab_ctx *ctx, int records) {
  mk_lab_heading(ctx, "Part 4: an open transaction holds the last stable offset");
  mk_lab_say(ctx,
             "Producer A (transactional.id=auditor) writes %d records \"open-N\" to topic audit\n"
             "and leaves its transaction open. A plain producer (no transactions) then writes\n"
             "%d records \"plain-N\" after them. A read_committed reader may read only below the\n"
             "last stable offset (LSO): the first offset of the oldest transaction still open.",
             records, records);
  mk_lab_predict(ctx, "the plain records are in no transaction: does read_committed see them?");
  struct mk_producer *a, *plain;
  struct mk_err err = {0};
  int rc = txn_producer(ctx, "auditor", "A", &a, &err);
  if (rc) return mk_lab_fail(ctx, rc, "A's initTransactions: %s", err.msg);
  int open_sent = 0, plain_sent = 0;
  if (mk_producer_begin_transaction(a, &err) == 0)
    open_sent = send_n(ctx, a, "audit", "open", records);
  static const char *const plain_kv[] = {"client.id=plain", NULL};
  if ((rc = mk_lab_producer_new(ctx, plain_kv, &plain))) {
    mk_producer_close(a, 0);
    return rc;
  }
  plain_sent = send_n(ctx, plain, "audit", "plain", records);
  mk_producer_close(plain, 5000);
  static const char *const prefixes[] = {"open", "plain", NULL};
  struct view ru1, rc1, rc2, rc3;
  int64_t hw = log_end(ctx, "audit");
  rc = read_view(ctx, "read_uncommitted", "audit", prefixes, -1, &ru1);
  if (!rc) rc = read_view(ctx, "read_committed", "audit", prefixes, hw, &rc1);
  if (rc) {
    mk_producer_close(a, 0);
    return rc;
  }
  mk_lab_say(ctx, "\n  open transaction: high watermark %lld;", (long long)hw);
  mk_lab_say(ctx, "    %s reader: latest offset %lld, read %d open + %d plain",
             level_name(ru1.read_committed), (long long)ru1.latest, ru1.counts[0],
             ru1.counts[1]);
  mk_lab_say(ctx, "    %s reader: latest offset %lld, read %d open + %d plain",
             level_name(rc1.read_committed), (long long)rc1.latest, rc1.counts[0],
             rc1.counts[1]);

  mk_lab_say(ctx,
             "\nNow A commits, with the coordinator held between its two phases (the broker's\n"
             "hold_markers fault): PrepareCommit is written to __transaction_state and A is\n"
             "told the commit succeeded, but the COMMIT marker is not yet in audit-0.");
  size_t mark = mk_lab_mark(ctx);
  if ((rc = mk_lab_fault(ctx, "{\"action\": \"hold_markers\"}"))) {
    mk_producer_close(a, 0);
    return rc;
  }
  struct ending e = end_txn(a, true);
  mk_lab_sleep_ms(200);
  int markers_while_held = mk_lab_count(ctx, mark, "broker", "txn_marker", "audit");
  rc = read_view(ctx, "read_committed", "audit", prefixes, hw, &rc2);
  mk_lab_say(ctx, "  A's commit: %s; markers in audit-0: %d", e.done ? "succeeded" : e.what,
             markers_while_held);
  if (!rc)
    mk_lab_say(ctx, "    %s reader: latest offset %lld, read %d open + %d plain",
               level_name(rc2.read_committed), (long long)rc2.latest, rc2.counts[0],
               rc2.counts[1]);
  int frc = mk_lab_fault(ctx, "{\"action\": \"release_markers\"}");
  if (!rc) rc = frc;
  mk_producer_close(a, 5000);
  if (rc) return rc;
  if (e.done) wait_markers(ctx, mark, "audit", 1);  /* a failed commit wrote no marker now */
  int64_t end = log_end(ctx, "audit");
  if ((rc = read_view(ctx, "read_committed", "audit", prefixes, end, &rc3))) return rc;
  mk_lab_say(ctx, "  released: %s; log end offset %lld",
             e.done ? "the marker is written" : "there was no commit to finish", (long long)end);
  mk_lab_say(ctx, "    %s reader: latest offset %lld, read %d open + %d plain",
             level_name(rc3.read_committed), (long long)rc3.latest, rc3.counts[0],
             rc3.counts[1]);
  mk_lab_timeline_focus(ctx, mark, "the commit, held and released",
                        (const char *const[]){"broker:txn_marker", "broker:lso_advance",
                                              "broker:txn_state", NULL});
  mk_lab_figure(ctx, "open", "high watermark", (double)hw);
  mk_lab_figure(ctx, "open", "LSO", (double)rc1.latest);
  mk_lab_figure(ctx, "held", "markers", markers_while_held);
  mk_lab_figure(ctx, "released", "read_committed read", rc3.n);

  /* Each reader's view is predicted from its own isolation.level. */
  bool ok1 = ru1.read_committed ? ru1.n == 0 : ru1.counts[0] == open_sent &&
                                                   ru1.counts[1] == plain_sent;
  const char *risk = timeout_risk(ctx);
  mk_lab_claim_unless(ctx, ok1 && (ru1.read_committed ? ru1.latest == 0 : ru1.latest == hw), risk,
               "while the transaction was open, the %s reader %s", level_name(ru1.read_committed),
               ru1.read_committed ? "read nothing: its latest offset was the LSO, 0"
                                  : "read every record, open and plain: its latest offset was "
                                    "the high watermark");
  bool held_ok = rc1.read_committed ? rc1.n == 0 && rc1.latest == 0
                                    : rc1.n == open_sent + plain_sent;
  mk_lab_claim_unless(ctx, held_ok, rc1.read_committed ? risk : NULL, "the %s reader %s",
                      level_name(rc1.read_committed),
                      rc1.read_committed
                          ? "read nothing, not even the plain records: the LSO was 0, the open "
                            "transaction's first offset, and it reads only below the LSO"
                          : "read everything, as the other reader did");
  bool rc2_ok = rc2.read_committed ? rc2.n == 0 : rc2.n == open_sent + plain_sent;
  mk_lab_claim_unless(ctx, e.done && markers_while_held == 0 && rc2_ok, risk,
                      "A was told \"committed\" before any marker was written, and with the "
                      "markers held the %s reader %s", level_name(rc2.read_committed),
                      rc2.read_committed ? "still read nothing" : "read everything");
  bool rc3_ok = rc3.read_committed ? rc3.n == open_sent + plain_sent && rc3.latest == end
                                   : rc3.n == open_sent + plain_sent;
  mk_lab_claim_unless(ctx, e.done && rc3_ok, risk,
                      "once the marker was written the LSO jumped to the log end (%lld) and the "
                      "%s reader read all %d records", (long long)end,
                      level_name(rc3.read_committed), open_sent + plain_sent);
  return 0;
}

/* ---- part 5: consume-transform-produce -------------------------------------------------- */

/* Read n records of orders-0 from offset `from` (seek), as the transformer would process
 * them. Returns how many it got into values (each "order-N"). */
static int take(struct mk_consumer *c, const char *topic, int64_t from, int n,
                char (*values)[48], struct mk_err *err) {
  if (mk_consumer_seek(c, topic, 0, from, err)) return 0;
  int got = 0;
  int64_t deadline = mk_now_us() / 1000 + WAIT_MS;
  while (got < n && mk_now_us() / 1000 < deadline) {
    struct mk_consumer_records r;
    if (mk_consumer_poll(c, 100, &r, err)) break;
    for (int i = 0; i < r.n && got < n; i++) {
      if (r.v[i].offset != from + got) continue;
      snprintf(values[got++], 48, "%.*s", (int)r.v[i].record.value.len,
               (const char *)r.v[i].record.value.ptr);
    }
  }
  return got;
}

/* One round of the loop: records [from, from + n) of orders become receipts, and the
 * position from + n goes to the transaction; then commit or abort. */
static struct ending transform(struct mk_lab_ctx *ctx, struct mk_consumer *c,
                               struct mk_producer *p, int64_t from, int n, bool commit,
                               int *sent) {
  struct ending e = {0};
  struct mk_err err = {0};
  char(*values)[48] = calloc((size_t)n, 48);
  const char *orders = mk_lab_topic(ctx, "orders");
  int got = values ? take(c, orders, from, n, values, &err) : 0;
  *sent = 0;
  if (got < n) {
    snprintf(e.what, sizeof e.what, "read %d of %d input records: %s", got, n, err.msg);
  } else if (mk_producer_begin_transaction(p, &err)) {
    snprintf(e.what, sizeof e.what, "%s", err.msg);
  } else {
    struct mk_lab_sends *s = mk_lab_sends_new(n);
    for (int i = 0; s && i < n; i++) {
      char out[64];
      snprintf(out, sizeof out, "receipt-for-%s", values[i]);
      mk_lab_send(ctx, p, s, "receipts", 0, NULL, out);
    }
    /* In the log before the round ends, as a crash would leave them. */
    mk_producer_flush(p, WAIT_MS, &err);
    struct mk_consumer_group_metadata g;
    mk_consumer_group_metadata(c, &g);
    struct mk_offset_to_commit o = {orders, 0, from + n, -1, NULL};
    if (mk_producer_send_offsets_to_transaction(p, &o, 1, &g, &err)) {
      end_txn(p, false);  /* the round is lost: nothing of it may count */
      snprintf(e.what, sizeof e.what, "sendOffsetsToTransaction: %s", err.msg);
    } else {
      e = end_txn(p, commit);
    }
    if (s) {
      mk_lab_sends_wait(s, WAIT_MS);
      *sent = mk_lab_sends_succeeded(s);
    }
    mk_lab_sends_free(s);
  }
  free(values);
  return e;
}

/* The group's committed offset of orders-0 (OffsetFetch), or -1. */
static int committed_offset(struct mk_lab_ctx *ctx, int64_t *out) {
  char gid[300];
  snprintf(gid, sizeof gid, "group.id=%s", GROUP);
  const char *const kv[] = {gid, "enable.auto.commit=false", "client.id=describe", NULL};
  struct mk_consumer *c;
  int rc = mk_lab_consumer_new(ctx, kv, &c);
  if (rc) return rc;
  struct mk_topic_partition tp = {mk_lab_topic(ctx, "orders"), 0};
  struct mk_err err = {0};
  rc = mk_consumer_committed(c, &tp, 1, out, &err);
  mk_consumer_close(c);
  return rc ? mk_lab_fail(ctx, rc, "committed offsets of %s: %s", GROUP, err.msg) : 0;
}

static int part5(struct mk_lab_ctx *ctx, int records) {
  mk_lab_heading(ctx, "Part 5: consume, transform, produce: offsets with the output");
  mk_lab_say(ctx,
             "%d orders are in topic orders. The transformer (group \"%s\", transactional.id\n"
             "enricher-0) reads %d at a time, writes a receipt for each to topic receipts, and\n"
             "hands the input position to the same transaction (sendOffsetsToTransaction)\n"
             "instead of committing it with the consumer. Round 1 commits. Round 2 aborts (a\n"
             "crash, a bad record). Round 3 starts again where the group's committed offset\n"
             "says, and commits.",
             2 * records, GROUP, records);
  mk_lab_predict(ctx, "after the abort, what is the group's committed offset? How many receipts "
                      "does a read_committed reader of receipts see at the end?");
  struct mk_producer *up, *p;
  struct mk_err err = {0};
  int rc = mk_lab_producer_new(ctx, (const char *const[]){"client.id=orders-app", NULL}, &up);
  if (rc) return rc;
  int in = send_n(ctx, up, "orders", "order", 2 * records);
  mk_producer_close(up, 5000);
  if (in != 2 * records) return mk_lab_fail(ctx, MK_ERR__STATE, "only %d orders written", in);
  if ((rc = txn_producer(ctx, "enricher-0", "T", &p, &err)))
    return mk_lab_fail(ctx, rc, "the transformer's initTransactions: %s", err.msg);
  char gid[300];
  snprintf(gid, sizeof gid, "group.id=%s", GROUP);
  const char *const ckv[] = {gid, "enable.auto.commit=false", "isolation.level=read_committed",
                             "client.id=transformer", NULL};
  struct mk_consumer *c;
  if ((rc = mk_lab_consumer_new(ctx, ckv, &c))) {
    mk_producer_close(p, 0);
    return rc;
  }
  struct mk_topic_partition tp = {mk_lab_topic(ctx, "orders"), 0};
  rc = mk_consumer_assign(c, &tp, 1, &err);
  int64_t after[3] = {-1, -1, -1};
  struct ending e[3] = {{0}};
  int sent[3] = {0};
  int64_t from = 0;
  for (int round = 0; !rc && round < 3; round++) {
    bool commit = round != 1;
    e[round] = transform(ctx, c, p, from, records, commit, &sent[round]);
    if ((rc = committed_offset(ctx, &after[round]))) break;
    mk_lab_say(ctx, "  round %d: orders %lld..%lld -> %d receipts, %s%s%s; committed offset "
               "now %lld", round + 1, (long long)from, (long long)(from + records - 1),
               sent[round], commit ? "commit" : "abort", e[round].done ? "" : " failed: ",
               e[round].what, (long long)after[round]);
    /* After an abort the application goes back to the group's committed offset. */
    from = after[round] >= 0 ? after[round] : 0;
  }
  mk_consumer_close(c);
  mk_producer_close(p, 5000);
  if (rc) return rc;
  static const char *const prefixes[] = {"receipt", NULL};
  struct view rcv, ruv;
  int64_t end = log_end(ctx, "receipts");
  if ((rc = read_view(ctx, "read_committed", "receipts", prefixes, end, &rcv))) return rc;
  if ((rc = read_view(ctx, "read_uncommitted", "receipts", prefixes, -1, &ruv))) return rc;
  mk_lab_say(ctx, "  receipts: the %s reader sees %d, the %s reader %d",
             level_name(rcv.read_committed), rcv.n, level_name(ruv.read_committed), ruv.n);
  mk_lab_figure(ctx, "round 1", "committed offset", (double)after[0]);
  mk_lab_figure(ctx, "round 2", "committed offset", (double)after[1]);
  mk_lab_figure(ctx, "round 3", "committed offset", (double)after[2]);
  const char *risk = timeout_risk(ctx);
  mk_lab_claim_unless(ctx, e[0].done && after[0] == records, risk,
                      "round 1's commit moved the group's offset to %d, with its receipts",
                      records);
  mk_lab_claim_unless(ctx, e[1].done && after[1] == after[0], risk,
                      "round 2's abort left the group's offset where it was (%lld): the "
                      "position was staged in the transaction and dropped with it",
                      (long long)after[0]);
  mk_lab_claim_unless(ctx, e[2].done && after[2] == 2 * records, risk,
                      "round 3 redid orders %d..%d from the committed offset and committed: "
                      "offset %d", records, 2 * records - 1, 2 * records);
  int committed_receipts = (e[0].done ? sent[0] : 0) + (e[2].done ? sent[2] : 0);
  int written = sent[0] + sent[1] + sent[2];
  for (int i = 0; i < 2; i++) {
    const struct view *v = i ? &ruv : &rcv;
    bool rcm = v->read_committed;
    mk_lab_claim(ctx, v->n == expected(rcm, committed_receipts, written),
                 "the %s reader of receipts saw %d: %s", level_name(rcm), v->n,
                 rcm ? (committed_receipts == 2 * records
                            ? "one per order, none from the aborted round"
                            : "the receipts of the rounds that committed only")
                 : !sent[1] ? "every receipt written (the aborted round wrote none)"
                 : sent[2] ? "the aborted round's receipts too, duplicates of round 3's"
                           : "the aborted round's receipts too");
  }
  return 0;
}

static int run(struct mk_lab_ctx *ctx) {
  int records = (int)mk_lab_param(ctx, "records");
  const char *const kv[] = {"transactional.id=payer", NULL};
  struct mk_err refused = {0};
  int rc = mk_lab_broker_start(ctx, NULL);
  if (rc) return rc;
  if (mk_lab_producer_config_check(ctx, kv, &refused)) {
    /* A combination Kafka's producer refuses with a transactional.id (acks=1, retries=0,
     * enable.idempotence=false): its rule is the lesson. */
    mk_lab_say(ctx, "The producer refuses a transactional.id with these settings, as Kafka's "
               "does:\n  \"%s\"\nA transactional producer is an idempotent one: acks=all, "
               "retries > 0, at most 5 requests in flight.", refused.msg);
    return 0;
  }
  /* Every write of a transaction is acks=all, markers included: with fewer replicas than
   * min.insync.replicas each one is refused (NOT_ENOUGH_REPLICAS) and retried until it times
   * out. */
  const struct mk_broker_config *b = mk_broker_config(mk_lab_broker(ctx));
  int32_t rf = b->default_replication_factor > 0 ? b->default_replication_factor
                                                 : (b->brokers < 3 ? b->brokers : 3);
  if (rf > b->brokers) rf = b->brokers;
  if (rf < b->min_insync_replicas) {
    mk_lab_say(ctx, "With %d replica(s) per partition and min.insync.replicas=%d every acks=all "
               "write is refused\n(NOT_ENOUGH_REPLICAS), and a transactional producer writes "
               "only with acks=all, as the\ncoordinator writes its markers: there would be no "
               "transaction to watch. Add\n--set broker.min.insync.replicas=%d.", rf,
               b->min_insync_replicas, rf);
    return 0;
  }
  static const char *const topics[] = {"payments", "ledger", "audit", "orders", "receipts"};
  for (int i = 0; i < 5 && !rc; i++) rc = mk_lab_create_topic(ctx, topics[i], 1, -1);
  if (rc) return rc;
  struct mk_producer *p;
  struct mk_err err = {0};
  if ((rc = txn_producer(ctx, "payer", "payer", &p, &err))) {
    if (rc == MK_ERR__INVALID_ARG || rc == MK_ERR__NO_MEMORY) return rc;
    mk_lab_say(ctx, "initTransactions failed: %s\nWithout a producer id from the transaction "
               "coordinator there is no transaction to watch.", err.msg);
    return 0;
  }
  size_t mark;
  struct ending commit = {0}, abort_ = {0};
  rc = part1(ctx, p, records, &mark, &commit, &abort_);
  if (!rc) rc = part2(ctx, mark, &commit, &abort_);
  if (!rc) rc = lag_after_commit(ctx, p, records);
  mk_producer_close(p, 5000);
  if (!rc) rc = part3(ctx, records);
  if (!rc) rc = part4(ctx, records);
  if (!rc) rc = part5(ctx, records);
  return rc;
}

const struct mk_lab mk_lab_transactions = {
    "transactions",
    "transactions: commit and abort side by side, markers, a zombie fenced, the LSO, offsets",
    params,
    run,
    "It holds the transaction coordinator between its two phases (the hold_markers fault)\n"
    "and reads the coordinator's own account (txn_state and txn_marker events): on a real\n"
    "cluster both live inside the brokers, and the markers go from broker to broker\n"
    "(WriteTxnMarkers), past any proxy in front of the clients. On a real cluster, run\n"
    "`minikafka perf --transactional-id T --transaction-duration-ms 1000` and read the topic\n"
    "with `minikafka consume --isolation-level read_committed` and without it.",
};
