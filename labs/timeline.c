/*
 * Timeline: see timeline.h. The renderer in order:
 *   1. parse every line (jansson), drop what is not an object, sort by ts_us (stable: the
 *      trace delivers lines in emission order, but ts_us is taken when an event begins)
 *   2. set plumbing aside (Metadata, ApiVersions), counting it
 *   3. choose what to draw: everything, or for a long run the head, the notable events
 *      and the tail
 *   4. draw each chosen event in its lane (describe_* below), a gap line for each run of
 *      skipped events, and the totals when anything was skipped
 */
#include "labs/timeline.h"

#include "labs/text.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { HEAD_SHARE = 4, NOTABLE_MAX = 32, TAIL = 4, MAX_WRAP = 4, MAX_TYPES = 48 };

/* ---- reading fields ---------------------------------------------------------------------- */

static const char *str(json_t *ev, const char *key) {
  const char *s = json_string_value(json_object_get(ev, key));
  return s ? s : "";
}

static long long num(json_t *ev, const char *key, long long dflt) {
  json_t *v = json_object_get(ev, key);
  return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

static bool has(json_t *ev, const char *key) { return json_object_get(ev, key) != NULL; }

/* Append printf output to buf (size bytes), keeping it NUL-terminated. */
static void add(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(char *buf, size_t size, const char *fmt, ...) {
  size_t at = strlen(buf);
  if (at + 1 >= size) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + at, size - at, fmt, ap);
  va_end(ap);
}

/* "[1,0,2]" from an ISR array. */
static void isr_text(json_t *ev, char *out, size_t size) {
  out[0] = 0;
  add(out, size, "[");
  json_t *isr = json_object_get(ev, "isr");
  size_t i;
  json_t *v;
  json_array_foreach(isr, i, v)
      add(out, size, "%s%lld", i ? "," : "", (long long)json_integer_value(v));
  add(out, size, "]");
}

/* ---- one sentence per event -------------------------------------------------------------- */

/* The TransactionManager's moves and requests (producer/transaction_manager.h). */
static enum mk_timeline_style describe_producer_transaction(json_t *ev, const char *event, char *b,
                                                            size_t n) {
  const char *api = str(ev, "api");
  if (strcmp(event, "txn_state") == 0) {
    const char *to = str(ev, "to");
    add(b, n, "transaction %s: %s → %s", str(ev, "transactional_id"), str(ev, "from"), to);
    if (has(ev, "error")) add(b, n, " (%s: %s)", str(ev, "error"), str(ev, "message"));
    return strcmp(to, "FATAL_ERROR") == 0 ? MK_STYLE_BAD
           : strcmp(to, "ABORTABLE_ERROR") == 0 ? MK_STYLE_WARN : MK_STYLE_LANE;
  }
  if (strcmp(event, "txn_request") == 0) {
    add(b, n, "%s", api);
    if (has(ev, "result")) add(b, n, "(%s)", str(ev, "result"));
    add(b, n, " → broker %lld", num(ev, "broker", -1));
    size_t i;
    json_t *v;
    if (has(ev, "key_type")) add(b, n, ": %s %s", str(ev, "key_type"), str(ev, "key"));
    if (json_is_true(json_object_get(ev, "epoch_bump")))
      add(b, n, ": bump epoch %lld of pid %lld", num(ev, "epoch", -1), num(ev, "producer_id", -1));
    json_array_foreach(json_object_get(ev, "partitions"), i, v) {
      if (i == 4) {
        add(b, n, " (+%zu more)", json_array_size(json_object_get(ev, "partitions")) - 4);
        break;
      }
      add(b, n, "%s %s", i ? "," : ":", json_string_value(v));
    }
    if (has(ev, "group_id")) add(b, n, ": group %s", str(ev, "group_id"));
    json_array_foreach(json_object_get(ev, "offsets"), i, v) {
      if (i == 3) {
        add(b, n, " (+%zu more)", json_array_size(json_object_get(ev, "offsets")) - 3);
        break;
      }
      add(b, n, ", %s-%lld@%lld", str(v, "topic"), num(v, "partition", -1), num(v, "offset", -1));
    }
    if (!has(ev, "key_type") && !has(ev, "epoch_bump"))
      add(b, n, " (pid %lld epoch %lld)", num(ev, "producer_id", -1), num(ev, "epoch", -1));
    return MK_STYLE_LANE;
  }
  if (strcmp(event, "txn_response") == 0) {
    add(b, n, "%s ← broker %lld: ", api, num(ev, "broker", -1));
    if (has(ev, "error")) {
      add(b, n, "%s", str(ev, "error"));
      if (*str(ev, "message")) add(b, n, " (%s)", str(ev, "message"));
      return MK_STYLE_WARN;
    }
    if (has(ev, "coordinator"))
      add(b, n, "the %s coordinator is broker %lld", str(ev, "key_type"), num(ev, "coordinator", -1));
    else if (has(ev, "producer_id"))
      add(b, n, "pid %lld epoch %lld", num(ev, "producer_id", -1), num(ev, "epoch", -1));
    else
      add(b, n, "ok");
    return MK_STYLE_DIM;
  }
  return (enum mk_timeline_style) - 1;
}

static enum mk_timeline_style describe_producer(json_t *ev, const char *event, char *b, size_t n) {
  const char *topic = str(ev, "topic");
  long long part = num(ev, "partition", -1);
  if (strcmp(event, "send") == 0) {
    add(b, n, "send to %s", topic);
    if (part >= 0) add(b, n, " partition %lld", part);
    if (num(ev, "key_bytes", -1) < 0)
      add(b, n, ": no key");
    else
      add(b, n, ": key \"%.24s\"", str(ev, "key"));
    add(b, n, ", value %lld B", num(ev, "value_bytes", 0));
    return MK_STYLE_LANE;
  }
  if (strcmp(event, "partition") == 0) {
    const char *reason = str(ev, "reason");
    const char *why = strcmp(reason, "key_hash") == 0 ? ": murmur2 of the key"
                      : strcmp(reason, "uniform_sticky") == 0
                          ? ": no key, the partition being filled"
                          : "";
    add(b, n, "partition %s-%lld (%s%s)", topic, part, reason, why);
    return MK_STYLE_LANE;
  }
  if (strcmp(event, "append") == 0) {
    json_t *nb = json_object_get(ev, "new_batch");
    if (json_is_true(nb))
      add(b, n, "append: new batch #%lld for %s-%lld", num(ev, "batch_id", -1), topic, part);
    else
      add(b, n, "append to batch #%lld of %s-%lld", num(ev, "batch_id", -1), topic, part);
    add(b, n, " (%lld rec, %lld B)", num(ev, "records", 0), num(ev, "bytes", 0));
    return MK_STYLE_LANE;
  }
  if (strcmp(event, "batch_ready") == 0) {
    add(b, n, "batch #%lld of %s-%lld ready (%s)", num(ev, "batch_id", -1), topic, part,
        str(ev, "reason"));
    return MK_STYLE_LANE;
  }
  if (strcmp(event, "request_sent") == 0) {
    long long acks = num(ev, "acks", -1);
    add(b, n, "Produce → broker %lld, acks=%s:", num(ev, "broker", -1),
        acks == -1  ? "all"
        : acks == 0 ? "0"
                    : "1");
    json_t *batches = json_object_get(ev, "batches");
    size_t i, count = json_array_size(batches);
    json_t *bt;
    json_array_foreach(batches, i, bt) {
      if (i == 2) {
        add(b, n, " (+%zu more)", count - 2);
        break;
      }
      add(b, n, "%s #%lld %s-%lld ×%lld", i ? ";" : "", num(bt, "batch_id", -1), str(bt, "topic"),
          num(bt, "partition", -1), num(bt, "records", 0));
      if (num(bt, "producer_id", -1) >= 0)
        add(b, n, " pid %lld epoch %lld seq %lld", num(bt, "producer_id", -1), num(bt, "epoch", -1),
            num(bt, "base_sequence", -1));
      else
        add(b, n, " no pid");
      if (num(bt, "attempt", 1) > 1) add(b, n, " (attempt %lld)", num(bt, "attempt", 1));
    }
    return MK_STYLE_LANE;
  }
  if (strcmp(event, "response_received") == 0) {
    if (has(ev, "error")) {
      add(b, n, "no answer from broker %lld: %s", num(ev, "broker", -1), str(ev, "error"));
      return MK_STYLE_BAD;
    }
    add(b, n, "response ← broker %lld: %lld batch%s after %lld ms", num(ev, "broker", -1),
        num(ev, "batches", 0), num(ev, "batches", 0) == 1 ? "" : "es", num(ev, "latency_ms", 0));
    if (has(ev, "throttle_time_ms")) {
      add(b, n, ", THROTTLED: send broker %lld nothing for %lld ms", num(ev, "broker", -1),
          num(ev, "throttle_time_ms", 0));
      return MK_STYLE_WARN;
    }
    return MK_STYLE_DIM;
  }
  if (strcmp(event, "retry") == 0) {
    add(b, n, "retry batch #%lld of %s-%lld after %s (attempt %lld, backoff %lld ms",
        num(ev, "batch_id", -1), topic, part, str(ev, "error"), num(ev, "attempt", 0),
        num(ev, "backoff_ms", 0));
    if (num(ev, "base_sequence", -1) >= 0)
      add(b, n, ", same seq %lld", num(ev, "base_sequence", -1));
    add(b, n, ")");
    return MK_STYLE_WARN;
  }
  if (strcmp(event, "bootstrap") == 0) {
    json_t *used = json_object_get(ev, "bootstrap_servers");
    add(b, n, "bootstrap.servers %s", str(ev, "server"));
    if (has(ev, "error")) {
      add(b, n, ": does not resolve (%s), left out", str(ev, "error"));
      return MK_STYLE_BAD;
    }
    add(b, n, " (%s):", str(ev, "client_dns_lookup"));
    size_t i;
    json_t *v;
    json_array_foreach(used, i, v) add(b, n, "%s %s", i ? "," : "", json_string_value(v));
    return MK_STYLE_LANE;
  }
  if (strcmp(event, "resolve") == 0) {
    add(b, n, "resolve %s for node %lld:", str(ev, "host"), num(ev, "node", -1));
    size_t i, nall = json_array_size(json_object_get(ev, "addresses"));
    json_t *v;
    json_array_foreach(json_object_get(ev, "addresses"), i, v)
        add(b, n, "%s %s", i ? "," : "", json_string_value(v));
    if (json_array_size(json_object_get(ev, "using")) < nall) {
      add(b, n, "; keeps");
      json_array_foreach(json_object_get(ev, "using"), i, v)
          add(b, n, "%s %s", i ? "," : "", json_string_value(v));
      add(b, n, " (the first address's family)");
    }
    return MK_STYLE_LANE;
  }
  if (strcmp(event, "connect") == 0 || strcmp(event, "connected") == 0) {
    bool done = event[7] == 'e';
    add(b, n, "%s node %lld: %s/%s", done ? "connected to" : "connect to", num(ev, "node", -1),
        str(ev, "host"), str(ev, "address"));
    return done ? MK_STYLE_OK : MK_STYLE_LANE;
  }
  if (strcmp(event, "connect_failed") == 0) {
    add(b, n, "could not connect to node %lld (%s/%s): %s", num(ev, "node", -1), str(ev, "host"),
        str(ev, "address"), str(ev, "error"));
    return MK_STYLE_BAD;
  }
  if (strcmp(event, "complete") == 0) {
    /* "completed": how many records of one batch the renderer merged into this line. */
    long long count = num(ev, "completed", 1);
    char times[32] = "";
    if (count > 1) snprintf(times, sizeof times, " ×%lld", count);
    if (has(ev, "error")) {
      if (part < 0)  /* failed inside send(), before the record had a partition */
        add(b, n, "FAILED%s %s (no partition): %s: %s", times, topic, str(ev, "error"),
            str(ev, "message"));
      else
        add(b, n, "FAILED%s %s-%lld: %s: %s", times, topic, part, str(ev, "error"),
            str(ev, "message"));
      return MK_STYLE_BAD;
    }
    long long off = num(ev, "offset", -1), last = num(ev, "last_offset", off);
    if (off < 0)
      add(b, n, "complete%s: %s-%lld (offset%s unknown: acks=0)", times, topic, part,
          count > 1 ? "s" : "");
    else if (count > 1)
      add(b, n, "complete%s: %s-%lld @ offsets %lld..%lld", times, topic, part, off, last);
    else
      add(b, n, "complete: %s-%lld @ offset %lld", topic, part, off);
    return MK_STYLE_OK;
  }
  return describe_producer_transaction(ev, event, b, n);
}

/* The broker's state and the admin API's actions (broker/state_events.h, reset.h). */
static enum mk_timeline_style describe_broker_state(json_t *ev, const char *event, char *b,
                                                    size_t n) {
  const char *topic = str(ev, "topic");
  long long part = num(ev, "partition", -1);
  if (strcmp(event, "partition_state") == 0) {
    char isr[96];
    isr_text(ev, isr, sizeof isr);
    add(b, n, "%s-%lld: leader %lld (epoch %lld), ISR %s, HW %lld, replicas", topic, part,
        num(ev, "leader", -1), num(ev, "leader_epoch", -1), isr, num(ev, "high_watermark", -1));
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(ev, "replicas"), i, r)
        add(b, n, "%s %lld@%lld", i ? "," : "", num(r, "broker", -1), num(r, "log_end_offset", -1));
    return MK_STYLE_DIM;
  }
  if (strcmp(event, "broker_state") == 0) {
    add(b, n, "broker %lld at %s:%lld is %s", num(ev, "broker", -1), str(ev, "host"),
        num(ev, "port", -1), json_is_true(json_object_get(ev, "up")) ? "up" : "down");
    return MK_STYLE_DIM;
  }
  if (strcmp(event, "broker_down") == 0 || strcmp(event, "broker_up") == 0) {
    bool down = event[7] == 'd';
    add(b, n, "broker %lld %s", num(ev, "broker", -1),
        down ? "DOWN: its listener and connections close" : "UP: listening again");
    return down ? MK_STYLE_BAD : MK_STYLE_WARN;
  }
  if (strcmp(event, "topic_delete") == 0) {
    add(b, n, "topic %s deleted", topic);
    return MK_STYLE_WARN;
  }
  if (strcmp(event, "reset") == 0) {
    add(b, n, "RESET: no topics, no faults, every broker up, producer ids from 1000");
    return MK_STYLE_BAD;
  }
  if (strcmp(event, "fault_armed") == 0) {
    add(b, n, "fault armed: %s", str(ev, "action"));
    if (*str(ev, "api")) add(b, n, " %s", str(ev, "api"));
    if (*str(ev, "error")) add(b, n, " %s", str(ev, "error"));
    long long count = num(ev, "count", -1);
    if (count >= 0) add(b, n, ", next %lld request%s", count, count == 1 ? "" : "s");
    else add(b, n, ", until cleared");
    return MK_STYLE_WARN;
  }
  if (strcmp(event, "faults_clear") == 0) {
    add(b, n, "faults cleared (%lld forgotten)", num(ev, "cleared", 0));
    return MK_STYLE_WARN;
  }
  return (enum mk_timeline_style) - 1;
}

/* The transaction coordinator and the partitions' LSO (broker/transaction_coordinator.h). */
static enum mk_timeline_style describe_broker_transaction(json_t *ev, const char *event, char *b,
                                                          size_t n) {
  if (strcmp(event, "txn_state") == 0) {
    add(b, n, "transaction %s: %s → %s (pid %lld epoch %lld)", str(ev, "transactional_id"),
        str(ev, "from"), str(ev, "to"), num(ev, "producer_id", -1), num(ev, "producer_epoch", -1));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(ev, "partitions"), i, v) {
      if (i == 3) {
        add(b, n, " +%zu more", json_array_size(json_object_get(ev, "partitions")) - 3);
        break;
      }
      add(b, n, "%s%s", i ? ", " : " ", json_string_value(v));
    }
    return MK_STYLE_LANE;
  }
  if (strcmp(event, "txn_marker") == 0) {
    bool commit = strcmp(str(ev, "result"), "commit") == 0;
    add(b, n, "%s marker → %s-%lld @ offset %lld (pid %lld)", commit ? "COMMIT" : "ABORT",
        str(ev, "topic"), num(ev, "partition", -1), num(ev, "offset", -1),
        num(ev, "producer_id", -1));
    return commit ? MK_STYLE_OK : MK_STYLE_WARN;
  }
  if (strcmp(event, "lso_advance") == 0) {
    add(b, n, "last stable offset %s-%lld: %lld → %lld (HW %lld)", str(ev, "topic"),
        num(ev, "partition", -1), num(ev, "from", -1), num(ev, "last_stable_offset", -1),
        num(ev, "high_watermark", -1));
    return MK_STYLE_OK;
  }
  return (enum mk_timeline_style) - 1;
}

static enum mk_timeline_style describe_broker(json_t *ev, const char *event, char *b, size_t n) {
  const char *topic = str(ev, "topic");
  long long part = num(ev, "partition", -1);
  enum mk_timeline_style txn = describe_broker_transaction(ev, event, b, n);
  if ((int)txn >= 0) return txn;
  if (strcmp(event, "request_received") == 0) {
    add(b, n, "%s v%lld from %s → broker %lld", str(ev, "api"), num(ev, "api_version", -1),
        *str(ev, "client_id") ? str(ev, "client_id") : "?", num(ev, "broker", -1));
    return MK_STYLE_DIM;
  }
  if (strcmp(event, "append") == 0 || strcmp(event, "duplicate") == 0) {
    bool dup = event[0] == 'd';
    add(b, n, "%s %s-%lld: offsets %lld..%lld", dup ? "DUPLICATE" : "append", topic, part,
        num(ev, "base_offset", -1), num(ev, "last_offset", -1));
    if (num(ev, "producer_id", -1) >= 0)
      add(b, n, ", pid %lld seq %lld", num(ev, "producer_id", -1), num(ev, "base_sequence", -1));
    else
      add(b, n, ", %lld rec, no pid", num(ev, "records", 0));
    if (dup) add(b, n, " already there: not appended again");
    return dup ? MK_STYLE_WARN : MK_STYLE_LANE;
  }
  if (strcmp(event, "out_of_order") == 0) {
    add(b, n, "REFUSED %s-%lld pid %lld seq %lld: %s", topic, part, num(ev, "producer_id", -1),
        num(ev, "base_sequence", -1), str(ev, "error"));
    return MK_STYLE_WARN;
  }
  if (strcmp(event, "replicate") == 0) {
    /* A follower's fetch: the offset it asked for, then its log end and its own HW. */
    add(b, n, "replicate %s-%lld → broker %lld (", topic, part, num(ev, "broker", -1));
    if (has(ev, "fetch_offset")) add(b, n, "fetch %lld, ", num(ev, "fetch_offset", -1));
    add(b, n, "LEO %lld", num(ev, "log_end_offset", -1));
    if (has(ev, "high_watermark")) add(b, n, ", HW %lld", num(ev, "high_watermark", -1));
    add(b, n, ")");
    return MK_STYLE_LANE;
  }
  if (strcmp(event, "hw_advance") == 0) {
    add(b, n, "high watermark %s-%lld: %lld → %lld", topic, part, num(ev, "from", -1),
        num(ev, "high_watermark", -1));
    if (has(ev, "fetch_offset"))  /* the follower fetch that told the leader */
      add(b, n, " (broker %lld fetched %lld)", num(ev, "broker", -1),
          num(ev, "fetch_offset", -1));
    return MK_STYLE_LANE;
  }
  if (strcmp(event, "isr_shrink") == 0 || strcmp(event, "isr_expand") == 0) {
    char isr[96];
    isr_text(ev, isr, sizeof isr);
    bool shrink = event[4] == 's';
    add(b, n, "ISR of %s-%lld %s: broker %lld %s → %s", topic, part, shrink ? "shrinks" : "grows",
        num(ev, "broker", -1), shrink ? "out" : "back in", isr);
    return MK_STYLE_WARN;
  }
  if (strcmp(event, "leader_change") == 0) {
    char isr[96];
    isr_text(ev, isr, sizeof isr);
    add(b, n, "leader of %s-%lld: broker %lld → %lld (epoch %lld, ISR %s)%s", topic, part,
        num(ev, "from", -1), num(ev, "leader", -1), num(ev, "leader_epoch", -1), isr,
        json_is_true(json_object_get(ev, "unclean")) ? " UNCLEAN" : "");
    return MK_STYLE_WARN;
  }
  if (strcmp(event, "truncate") == 0) {
    add(b, n, "truncate %s-%lld on broker %lld: LEO %lld → %lld (%lld records gone)", topic, part,
        num(ev, "broker", -1), num(ev, "from", -1), num(ev, "to", -1), num(ev, "lost_records", 0));
    return MK_STYLE_BAD;
  }
  if (strcmp(event, "response_sent") == 0) {
    add(b, n, "%s response ← broker %lld (%.1f ms)", str(ev, "api"), num(ev, "broker", -1),
        (double)num(ev, "latency_us", 0) / 1000.0);
    return MK_STYLE_DIM;
  }
  if (strcmp(event, "response_dropped") == 0) {
    add(b, n, "%s response LOST (fault: %s) — the request was processed", str(ev, "api"),
        strcmp(str(ev, "why"), "close") == 0 ? "connection closed" : "never sent");
    return MK_STYLE_BAD;
  }
  if (strcmp(event, "throttle") == 0) {
    add(b, n, "broker %lld: %s at %lld B/s, quota %lld B/s → throttle %lld ms, stop reading",
        num(ev, "broker", -1), str(ev, "client_id"), num(ev, "rate_bytes_per_s", 0),
        num(ev, "quota_bytes_per_s", 0), num(ev, "throttle_ms", 0));
    return MK_STYLE_WARN;
  }
  if (strcmp(event, "fault") == 0) {
    add(b, n, "FAULT %s", str(ev, "action"));
    if (*str(ev, "api")) add(b, n, " %s", str(ev, "api"));
    if (*str(ev, "error")) add(b, n, " %s", str(ev, "error"));
    if (*str(ev, "what")) add(b, n, ": %s", str(ev, "what"));
    return MK_STYLE_BAD;
  }
  return describe_broker_state(ev, event, b, n);
}

/* Anything else: "event key=value ...", so a new event type still shows. */
static void describe_generic(json_t *ev, const char *event, char *b, size_t n) {
  add(b, n, "%s", event);
  const char *key;
  json_t *v;
  json_object_foreach(ev, key, v) {
    if (strcmp(key, "ts_us") == 0 || strcmp(key, "side") == 0 || strcmp(key, "event") == 0)
      continue;
    if (json_is_string(v))
      add(b, n, " %s=%s", key, json_string_value(v));
    else if (json_is_integer(v))
      add(b, n, " %s=%lld", key, (long long)json_integer_value(v));
    else if (json_is_boolean(v))
      add(b, n, " %s=%s", key, json_is_true(v) ? "true" : "false");
    else {
      char *t = json_dumps(v, JSON_COMPACT);
      add(b, n, " %s=%s", key, t ? t : "?");
      free(t);
    }
  }
}

enum mk_timeline_style mk_timeline_describe(json_t *ev, char *buf, size_t size) {
  buf[0] = 0;
  const char *side = str(ev, "side"), *event = str(ev, "event");
  enum mk_timeline_style s = (enum mk_timeline_style) - 1;
  if (strcmp(side, "producer") == 0)
    s = describe_producer(ev, event, buf, size);
  else if (strcmp(side, "broker") == 0)
    s = describe_broker(ev, event, buf, size);
  if ((int)s >= 0) return s;
  buf[0] = 0;
  describe_generic(ev, event, buf, size);
  return MK_STYLE_LANE;
}

bool mk_timeline_notable(json_t *ev) {
  static const char *const rare[] = {
      "retry",    "duplicate", "out_of_order",     "isr_shrink", "isr_expand", "leader_change",
      "truncate", "fault",     "response_dropped", "throttle",   "connect_failed", "broker_down",
      "broker_up", "reset",    "topic_delete", "fault_armed",   "faults_clear", NULL};
  const char *event = str(ev, "event");
  for (int i = 0; rare[i]; i++)
    if (strcmp(event, rare[i]) == 0) return true;
  if (strcmp(event, "request_sent") == 0) {  /* a retry going out */
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(ev, "batches"), i,
                       b) if (num(b, "attempt", 1) > 1) return true;
  }
  return has(ev, "error") && strcmp(str(ev, "side"), "producer") == 0;
}

bool mk_timeline_plumbing(json_t *ev) {
  const char *api = str(ev, "api"), *event = str(ev, "event");
  if (strcmp(event, "broker_state") == 0) return true;  /* where a trace starts */
  if (strcmp(str(ev, "side"), "producer") == 0)  /* finding the brokers (failures show) */
    return strcmp(event, "bootstrap") == 0 || strcmp(event, "resolve") == 0 ||
           strcmp(event, "connect") == 0 || strcmp(event, "connected") == 0;
  return (strcmp(api, "Metadata") == 0 || strcmp(api, "ApiVersions") == 0) &&
         strcmp(event, "fault") != 0;
}

/* ---- colour ------------------------------------------------------------------------------ */

const char *mk_timeline_ansi(enum mk_timeline_style style, const char *side) {
  switch (style) {
    case MK_STYLE_OK:
      return "\033[32m";
    case MK_STYLE_WARN:
      return "\033[1;35m";
    case MK_STYLE_BAD:
      return "\033[1;31m";
    case MK_STYLE_DIM:
      return "\033[2m";
    case MK_STYLE_STRONG:
      return "\033[1m";
    case MK_STYLE_LANE:
      break;
  }
  if (side && strcmp(side, "producer") == 0) return "\033[36m";
  if (side && strcmp(side, "broker") == 0) return "\033[33m";
  return "";
}

static bool in_focus(const char *const *focus, json_t *ev);

/* ---- drawing ----------------------------------------------------------------------------- */

struct item {
  json_t *ev;
  int64_t ts;
  size_t seq;  /* input order, for a stable sort */
};

static int by_time(const void *a, const void *b) {
  const struct item *x = a, *y = b;
  if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void pad(FILE *out, size_t n) {
  for (size_t i = 0; i < n; i++) fputc(' ', out);
}

struct layout {
  FILE *out;
  bool colour;
  size_t lane;   /* columns of each lane's text */
  size_t width;  /* of the whole timeline */
  int64_t t0;
};

/* One event: its time, then its sentence in the producer (left) or broker (right) lane,
 * wrapped to MAX_WRAP lines. */
static void draw_event(const struct layout *L, json_t *ev, int64_t ts) {
  char text[1024];
  enum mk_timeline_style style = mk_timeline_describe(ev, text, sizeof text);
  const char *side = str(ev, "side");
  bool right = strcmp(side, "producer") != 0;
  const char *on = L->colour ? mk_timeline_ansi(style, side) : "";
  const char *off = L->colour && *on ? MK_ANSI_RESET : "";
  const char *s = text;
  for (int line = 0; line < MAX_WRAP && (*s || line == 0); line++) {
    size_t len = mk_text_fit(s, L->lane);
    if (line == MAX_WRAP - 1 && s[len]) {  /* last allowed line: cut with an ellipsis */
      len = mk_text_fit(s, L->lane - 1);
    }
    if (line == 0)
      fprintf(L->out, "%10.3f  ", (double)(ts - L->t0) / 1000.0);
    else
      pad(L->out, 12);
    size_t shown = len;
    while (shown > 0 && s[shown - 1] == ' ') shown--;  /* the space it broke at */
    if (right) {
      pad(L->out, L->lane);
      fprintf(L->out, " │ %s%.*s%s", on, (int)shown, s, off);
    } else {
      fprintf(L->out, "%s%.*s%s", on, (int)shown, s, off);
      pad(L->out, L->lane - mk_text_columns(s, shown));
      fprintf(L->out, " │");
    }
    if (line == MAX_WRAP - 1 && s[len]) fputs("…", L->out);
    fputc('\n', L->out);
    s += len;
    while (*s == ' ') s++;
  }
}

struct type_count {
  char side[10], event[40];
  long count;
};

/* How many trace events ev stands for: the records merged into one complete line, else 1. */
static long weight(json_t *ev) { return (long)num(ev, "completed", 1); }

static void count_type(struct type_count *t, int *nt, json_t *ev) {
  const char *side = str(ev, "side"), *event = str(ev, "event");
  for (int i = 0; i < *nt; i++)
    if (strcmp(t[i].side, side) == 0 && strcmp(t[i].event, event) == 0) {
      t[i].count += weight(ev);
      return;
    }
  if (*nt == MAX_TYPES) return;
  snprintf(t[*nt].side, sizeof t[*nt].side, "%s", side);
  snprintf(t[*nt].event, sizeof t[*nt].event, "%s", event);
  t[(*nt)++].count = weight(ev);
}

/* "producer: send 12, append 12 · broker: append 3" */
static void counts_text(const struct type_count *t, int nt, char *b, size_t n) {
  static const char *const sides[] = {"producer", "broker"};
  b[0] = 0;
  for (int s = 0; s < 2; s++) {
    bool first = true;
    for (int i = 0; i < nt; i++) {
      if (strcmp(t[i].side, sides[s]) != 0) continue;
      if (first) add(b, n, "%s%s:", b[0] ? " · " : "", sides[s]);
      add(b, n, "%s %s %ld", first ? "" : ",", t[i].event, t[i].count);
      first = false;
    }
  }
}

/* A line in the time column's margin, dim, wrapped to the timeline's width. */
static void draw_margin(const struct layout *L, const char *text) {
  mk_text_wrap(L->out, text, L->width, "            ", "              ",
               L->colour ? mk_timeline_ansi(MK_STYLE_DIM, NULL) : "",
               L->colour ? MK_ANSI_RESET : "");
}

/* Returns the number of events the gap stands for. */
static long draw_gap(const struct layout *L, json_t **skipped, size_t n) {
  struct type_count t[MAX_TYPES];
  int nt = 0;
  long events = 0;
  for (size_t i = 0; i < n; i++) {
    count_type(t, &nt, skipped[i]);
    events += weight(skipped[i]);
  }
  char counts[1024], text[1100];
  counts_text(t, nt, counts, sizeof counts);
  snprintf(text, sizeof text, "⋮ %ld more: %s", events, counts);
  draw_margin(L, text);
  return events;
}

/* A producer's completions come one per record, a batch's all at once: a run of them for
 * one batch (same partition and outcome, consecutive offsets, no other producer event in
 * between) becomes one line, "complete ×148", its event carrying "completed" and
 * "last_offset". Returns the new number of items. */
static size_t merge_completions(struct item *items, size_t m) {
  size_t out = 0, last_producer = SIZE_MAX;
  for (size_t i = 0; i < m; i++) {
    json_t *ev = items[i].ev;
    bool producer = strcmp(str(ev, "side"), "producer") == 0;
    if (producer && strcmp(str(ev, "event"), "complete") == 0 && last_producer != SIZE_MAX) {
      json_t *prev = items[last_producer].ev;
      long long off = num(ev, "offset", -1), prev_last = num(prev, "last_offset",
                                                             num(prev, "offset", -1));
      if (strcmp(str(prev, "event"), "complete") == 0 &&
          strcmp(str(prev, "topic"), str(ev, "topic")) == 0 &&
          num(prev, "partition", -1) == num(ev, "partition", -1) &&
          strcmp(str(prev, "error"), str(ev, "error")) == 0 &&
          strcmp(str(prev, "message"), str(ev, "message")) == 0 &&
          ((off < 0 && prev_last < 0) || (off >= 0 && prev_last >= 0 && off == prev_last + 1))) {
        json_object_set_new(prev, "completed", json_integer(weight(prev) + 1));
        if (off >= 0) json_object_set_new(prev, "last_offset", json_integer(off));
        json_decref(ev);
        continue;
      }
    }
    if (producer) last_producer = out;
    items[out++] = items[i];
  }
  return out;
}

/* Columns of each lane's text for o's width. */
static size_t timeline_width(const struct mk_timeline_options *o) {
  int width = o->width > 0 ? o->width : MK_TEXT_WIDTH;
  return (size_t)(width < 60 ? 60 : width);
}

static size_t lane_width(const struct mk_timeline_options *o) {
  return (timeline_width(o) - 15) / 2;
}

/* The title (if any) and the lanes' names. */
static void draw_header(const struct layout *L, const char *title) {
  FILE *out = L->out;
  if (title) {
    fputc('\n', out);
    mk_text_wrap(out, title, L->width, "", "",
                 L->colour ? mk_timeline_ansi(MK_STYLE_STRONG, NULL) : "",
                 L->colour ? MK_ANSI_RESET : "");
  }
  fprintf(out, "%10s  %s", "ms", L->colour ? mk_timeline_ansi(MK_STYLE_LANE, "producer") : "");
  fprintf(out, "%-*s%s │ %s%s%s\n", (int)L->lane, "producer", L->colour ? MK_ANSI_RESET : "",
          L->colour ? mk_timeline_ansi(MK_STYLE_LANE, "broker") : "", "broker",
          L->colour ? MK_ANSI_RESET : "");
}

/* Whether ev is one of focus's "side:event" names. */
static bool in_focus(const char *const *focus, json_t *ev) {
  const char *side = str(ev, "side"), *event = str(ev, "event");
  size_t sl = strlen(side);
  for (int i = 0; focus && focus[i]; i++)
    if (strncmp(focus[i], side, sl) == 0 && focus[i][sl] == ':' &&
        strcmp(focus[i] + sl + 1, event) == 0)
      return true;
  return false;
}

void mk_timeline_render(const struct mk_timeline_options *o, const char *title,
                        const char *const *lines, size_t n) {
  FILE *out = o->out ? o->out : stdout;
  struct item *items = calloc(n ? n : 1, sizeof *items);
  json_t **skipped = calloc(n ? n : 1, sizeof *skipped);
  bool *draw = calloc(n ? n : 1, sizeof *draw);
  if (!items || !skipped || !draw) {
    free(items);
    free(skipped);
    free(draw);
    fprintf(out, "(timeline: out of memory)\n");
    return;
  }
  /* 1 and 2: parse, sort, set plumbing aside. */
  size_t m = 0, plumbing = 0;
  for (size_t i = 0; i < n; i++) {
    json_t *ev = json_loads(lines[i], 0, NULL);
    if (!json_is_object(ev)) {
      json_decref(ev);
      continue;
    }
    if (!o->all_events && mk_timeline_plumbing(ev) && !in_focus(o->focus, ev)) {
      plumbing++;
      json_decref(ev);
      continue;
    }
    items[m++] = (struct item){ev, num(ev, "ts_us", 0), i};
  }
  qsort(items, m, sizeof *items, by_time);
  m = merge_completions(items, m);

  struct layout L = {.out = out, .colour = o->colour, .lane = lane_width(o),
                     .width = timeline_width(o), .t0 = o->t0_us ? o->t0_us : (m ? items[0].ts : 0)};
  draw_header(&L, title);

  /* 3: what to draw: all, or the head, the first event of each kind (so one record's path
   * shows), the notable and focus events (up to a budget) and the tail. A gap of one or two
   * events is drawn rather than counted. */
  long events = 0;  /* what the trace holds: a merged line counts every completion in it */
  for (size_t i = 0; i < m; i++) events += weight(items[i].ev);
  bool summarise = o->max_events > 0 && (size_t)events > o->max_events;
  size_t head = o->max_events / HEAD_SHARE, picked = 0;
  struct type_count kinds[MAX_TYPES];
  int nkinds = 0;
  for (size_t i = 0; i < m; i++) {
    int before = nkinds;
    count_type(kinds, &nkinds, items[i].ev);
    draw[i] = !summarise || i < head || i + TAIL >= m || nkinds > before;
    if (!draw[i] && picked < NOTABLE_MAX &&
        (mk_timeline_notable(items[i].ev) || in_focus(o->focus, items[i].ev))) {
      draw[i] = true;
      picked++;
    }
  }
  for (size_t i = 0; summarise && i < m; i++) {
    size_t j = i;
    while (j < m && !draw[j]) j++;
    if (j - i <= 2)
      for (size_t k = i; k < j; k++) draw[k] = true;
    i = j;
  }

  /* 4: draw, with a line for each gap. */
  size_t nskipped = 0;
  long total_skipped = 0, total = 0;
  for (size_t i = 0; i < m; i++) {
    total += weight(items[i].ev);
    if (!draw[i]) {
      skipped[nskipped++] = items[i].ev;
      continue;
    }
    if (nskipped) {
      total_skipped += draw_gap(&L, skipped, nskipped);
      nskipped = 0;
    }
    draw_event(&L, items[i].ev, items[i].ts);
  }
  if (nskipped) total_skipped += draw_gap(&L, skipped, nskipped);
  if (total_skipped || plumbing) {
    struct type_count t[MAX_TYPES];
    int nt = 0;
    for (size_t i = 0; i < m; i++) count_type(t, &nt, items[i].ev);
    char counts[1024], text[1200];
    counts_text(t, nt, counts, sizeof counts);
    if (total_skipped) {
      snprintf(text, sizeof text, "%ld of %ld events drawn (--full draws all). Totals: %s",
               total - total_skipped, total, counts);
      draw_margin(&L, text);
    }
    if (plumbing) {
      snprintf(text, sizeof text, "(%zu Metadata, ApiVersions and connection events hidden)",
               plumbing);
      draw_margin(&L, text);
    }
  }
  for (size_t i = 0; i < m; i++) json_decref(items[i].ev);
  free(items);
  free(skipped);
  free(draw);
}

/* ---- drawing as the events come ---------------------------------------------------------- */

void mk_timeline_live_begin(struct mk_timeline_live *tl, const struct mk_timeline_options *o,
                            const char *title) {
  memset(tl, 0, sizeof *tl);
  tl->out = o->out ? o->out : stdout;
  tl->colour = o->colour;
  tl->all_events = o->all_events;
  tl->lane = lane_width(o);
  tl->width = timeline_width(o);
  tl->t0 = o->t0_us;
  struct layout L = {.out = tl->out, .colour = tl->colour, .lane = tl->lane, .width = tl->width};
  draw_header(&L, title);
  fflush(tl->out);
}

void mk_timeline_live_line(struct mk_timeline_live *tl, const char *line, size_t len) {
  json_t *ev = json_loadb(line, len, 0, NULL);
  if (!json_is_object(ev)) {
    json_decref(ev);
    tl->bad++;
    return;
  }
  if (!tl->all_events && mk_timeline_plumbing(ev)) {
    tl->hidden++;
    json_decref(ev);
    return;
  }
  int64_t ts = num(ev, "ts_us", 0);
  if (tl->drawn == 0 && tl->t0 == 0) tl->t0 = ts;
  struct layout L = {.out = tl->out, .colour = tl->colour, .lane = tl->lane, .width = tl->width,
                     .t0 = tl->t0};
  draw_event(&L, ev, ts);
  tl->drawn++;
  json_decref(ev);
  fflush(tl->out);
}

void mk_timeline_live_end(struct mk_timeline_live *tl) {
  const char *on = tl->colour ? mk_timeline_ansi(MK_STYLE_DIM, NULL) : "";
  const char *off = tl->colour ? MK_ANSI_RESET : "";
  fprintf(tl->out, "%10s  %s%zu events drawn", "", on, tl->drawn);
  if (tl->hidden) fprintf(tl->out, ", %zu Metadata/ApiVersions/state events hidden", tl->hidden);
  if (tl->bad) fprintf(tl->out, ", %zu lines that were not trace events skipped", tl->bad);
  fprintf(tl->out, "%s\n", off);
  fflush(tl->out);
}
