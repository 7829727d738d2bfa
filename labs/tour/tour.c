/*
 * Lab 1, the tour: one record's whole journey, then the key ideas in five minutes.
 * Guide: labs/tour/README.md. Notes: 000 section 1.1 (the five steps), 002 "프로듀서 디자인",
 * 004 "프로듀서의 메시지 전송 과정" (application thread vs Sender thread).
 *
 *   part 1  a broker of 3 virtual brokers, topic "tour" (3 partitions x 3 replicas), a
 *           producer at Kafka's defaults; one record, key "hello": its timeline from
 *           send() to the callback, through the broker's append, replication and HW
 *   part 2  five ideas, each a few records and one number:
 *           keys pick partitions / no key sticks to one partition / batching /
 *           acks=all waits for the followers / a lost response, retried, is recognised
 */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "labs/lab.h"
#include "protocol/murmur2.h"

static const struct mk_lab_param params[] = {
    {"partitions", "3", "partitions of topic \"tour\"", 1, 100},
    {"keyless", "20", "keyless records sent in idea 2", 1, 100000},
    {NULL, NULL, NULL},
};

static const char *const TOPIC = "tour";

/* What the producer's settings make of the story: the journey's order of events and
 * idea 5's copies both depend on them (--set acks=1, --set enable.idempotence=false). */
struct tour_mode {
  int acks;         /* 0, 1, or -1 for all */
  bool idempotent;  /* enable.idempotence as the producer runs it (Kafka turns it off
                       unless acks=all) */
};

static const char *acks_name(int acks) { return acks == -1 ? "all" : acks == 0 ? "0" : "1"; }

/* acks and enable.idempotence as the finished config will run them. */
static struct tour_mode mode_of(const struct mk_producer_config *cfg) {
  char acks[16] = "-1", idem[16] = "true";
  mk_producer_config_get(cfg, "acks", acks, sizeof acks, NULL);
  mk_producer_config_get(cfg, "enable.idempotence", idem, sizeof idem, NULL);
  return (struct tour_mode){atoi(acks), strcmp(idem, "true") == 0};
}

/* The ts_us of the first event since `from` matching side/event on the topic whose field
 * `key` (if not NULL) is the string `value`, or -1. */
static int64_t first_ts_where(struct mk_lab_ctx *ctx, size_t from, const char *side,
                              const char *event, const char *topic, const char *key,
                              const char *value) {
  json_t *evs = mk_lab_events(ctx, from, side, event, topic);
  int64_t ts = -1;
  size_t i;
  json_t *ev;
  json_array_foreach(evs, i, ev) {
    const char *v = key ? json_string_value(json_object_get(ev, key)) : NULL;
    if (!key || (v && strcmp(v, value) == 0)) {
      ts = json_integer_value(json_object_get(ev, "ts_us"));
      break;
    }
  }
  json_decref(evs);
  return ts;
}

static int64_t first_ts(struct mk_lab_ctx *ctx, size_t from, const char *side, const char *event,
                        const char *topic) {
  return first_ts_where(ctx, from, side, event, topic, NULL, NULL);
}

/* ---- part 1 ------------------------------------------------------------------------------ */

/* Step 5 of the journey, and the claim about its order of events, for each acks. */
static void journey_order(struct mk_lab_ctx *ctx, size_t mark, struct tour_mode m,
                          int32_t leader) {
  if (mk_lab_external(ctx)) {  /* the order of what follows is the cluster's inside */
    mk_lab_say(
        ctx,
        "  5. the cluster wrote it (the proxy read the offset in the Produce answer: the\n"
        "     `append` in the broker lane). How its followers copied it, and when the high\n"
        "     watermark passed it, happened inside the real cluster, out of the proxy's sight:\n"
        "     that step of the journey only the embedded broker can show.");
    return;
  }
  int64_t appended = first_ts(ctx, mark, "broker", "append", TOPIC);
  int64_t copied = first_ts(ctx, mark, "broker", "replicate", TOPIC);
  int64_t hw = first_ts(ctx, mark, "broker", "hw_advance", TOPIC);
  int64_t answered = first_ts_where(ctx, mark, "broker", "response_sent", NULL, "api", "Produce");
  int64_t received = first_ts(ctx, mark, "producer", "response_received", NULL);
  if (m.acks == -1) {
    mk_lab_say(
        ctx,
        "  5. the leader appended it. Each follower's fetch was waiting at the leader (a long\n"
        "     poll); on the loop's next turn both got the record (replicate) and fetched again\n"
        "     at once, and that second fetch told the leader they had it: the high watermark\n"
        "     passed it, and only then (acks=all) the response left. The callback ran on the\n"
        "     Sender thread.");
    mk_lab_figure(ctx, "journey", "HW before response", hw >= 0 && answered > hw);
    mk_lab_claim(ctx, hw >= 0 && answered > hw && received > answered,
                 "with acks=all the response left only after the high watermark passed the\n"
                 "    record (%.3f ms later)",
                 hw >= 0 && answered >= 0 ? (double)(answered - hw) / 1000.0 : 0.0);
  } else if (m.acks == 1) {
    mk_lab_say(
        ctx,
        "  5. the leader appended it and answered at once (acks=1): the response left before\n"
        "     any follower had the record. On the loop's next turn the followers' fetches\n"
        "     copied it (replicate), their next fetches told the leader, and the high\n"
        "     watermark passed it. Had broker %d died between its answer and those fetches,\n"
        "     the record would be gone though the producer was told it was written\n"
        "     (labs/acks shows it happen). The callback ran on the Sender thread.",
        leader);
    mk_lab_figure(ctx, "journey", "HW before response", hw >= 0 && answered > hw);
    mk_lab_claim(ctx, answered >= 0 && copied > answered && hw > answered,
                 "with acks=1 the response left before any follower copied the record (%.3f ms\n"
                 "    before the first replicate) and before the high watermark passed it",
                 copied >= 0 && answered >= 0 ? (double)(copied - answered) / 1000.0 : 0.0);
  } else {
    mk_lab_say(
        ctx,
        "  5. with acks=0 the broker sends no response at all: the producer completed the\n"
        "     record as soon as the request was written, with no offset (-1), and would never\n"
        "     hear of a failure. The leader appended it; the followers' fetches copied it on\n"
        "     the loop's next turn.");
    mk_lab_figure(ctx, "journey", "HW before response", 0);
    mk_lab_claim(ctx, answered < 0 && appended >= 0 && copied > appended,
                 "with acks=0 no response was sent; the followers copied the record %.3f ms\n"
                 "    after the leader appended it",
                 copied >= 0 && appended >= 0 ? (double)(copied - appended) / 1000.0 : 0.0);
  }
}

static int journey(struct mk_lab_ctx *ctx, int32_t partitions, struct mk_producer **producer,
                   struct tour_mode *mode, int64_t *linger_ms) {
  mk_lab_heading(ctx, "1. One record's whole journey");
  mk_lab_say(
      ctx,
      "A cluster of 3 virtual brokers (node ids 0, 1, 2) runs inside this process, on real\n"
      "sockets. Topic \"%s\" has %d partitions, each with 3 replicas: one leader, two followers\n"
      "(kafka-topics.sh --create --topic %s --partitions %d --replication-factor 3).",
      TOPIC, partitions, TOPIC, partitions);
  int rc = mk_lab_broker_start(ctx, NULL);
  if (!rc) rc = mk_lab_create_topic(ctx, TOPIC, partitions, -1);  /* min(3, brokers) */
  struct mk_producer_config *cfg = NULL;
  if (!rc) rc = mk_lab_producer_config(ctx, NULL, &cfg);
  if (rc) return rc;
  static const char *const shown[] = {"acks",
                                      "enable.idempotence",
                                      "linger.ms",
                                      "batch.size",
                                      "max.in.flight.requests.per.connection",
                                      NULL};
  mk_lab_show_settings(ctx, cfg, shown);
  *mode = mode_of(cfg);
  *linger_ms = cfg->linger_ms;
  mk_lab_note(
      ctx,
      "  Kafka's defaults since 3.0: acks=all and enable.idempotence=true (notes 000 and 002\n"
      "  say acks=1 is the default: it was, before Kafka 3.0).");
  int32_t expected = mk_murmur2_partition("hello", 5, partitions);
  mk_lab_predict(
      ctx,
      "which partition does key \"hello\" go to, and at which offset does it land?\n"
      "         Does the producer hear back before or after the followers have copied it?");

  size_t mark = mk_lab_mark(ctx);
  struct mk_err err = {0};
  rc = mk_producer_new(cfg, producer, &err);
  mk_producer_config_free(cfg);
  if (rc) return mk_lab_fail(ctx, rc, "producer: %s", err.msg);
  struct mk_lab_sends *sends = mk_lab_sends_new(1);
  if (!sends) return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  mk_lab_send(ctx, *producer, sends, TOPIC, -1, "hello", "world");
  rc = mk_lab_sends_wait(sends, 30000);
  struct mk_lab_send one = mk_lab_sends_get(sends, 0);
  mk_lab_sends_free(sends);
  if (rc) return mk_lab_fail(ctx, rc, "the record did not complete within 30 s");
  if (one.error) return mk_lab_fail(ctx, one.error, "the send failed: %s", mk_err_name(one.error));
  mk_lab_sleep_ms(20);  /* the followers' last fetch and the trace's last lines */
  mk_lab_timeline(ctx, mark, "The journey of key \"hello\", value \"world\":");

  mk_lab_say(
      ctx,
      "\nWhat happened, in note 000's five steps (section 1.1):\n"
      "  1. send(): the application thread serialized key and value (StringSerializer).\n"
      "  2. partition: the key decides: murmur2(\"hello\") %% %d = %d (an explicit partition\n"
      "     would win; no key would mean the sticky partition: idea 2 below).\n"
      "  3. append: into a new ProducerBatch in the RecordAccumulator; send() returned here.\n"
      "  4. the Sender thread (not yours) found the batch ready after linger.ms (%lld ms)\n"
      "     and sent a Produce request with acks=%s: %s",
      partitions, expected, (long long)*linger_ms, acks_name(mode->acks),
      mode->idempotent
          ? "producer id, epoch and sequence number ride\n"
            "     along because idempotence is on (InitProducerId, at the top, got that id)."
          : "no producer id rides along (\"no pid\"):\n"
            "     idempotence is off here (the note under the settings says why).");
  struct mk_partition_state st;
  if ((rc = mk_lab_partition_state(ctx, TOPIC, one.partition >= 0 ? one.partition : 0, &st)))
    return rc;
  journey_order(ctx, mark, *mode, st.leader);
  mk_lab_figure(ctx, "journey", "partition", one.partition);
  mk_lab_figure(ctx, "journey", "murmur2 partition", expected);
  mk_lab_figure(ctx, "journey", "offset", (double)one.offset);
  mk_lab_figure(ctx, "journey", "ms", (double)(one.done_us - one.sent_us) / 1000.0);
  if (mode->acks == 0)
    mk_lab_claim(ctx, one.partition == expected && one.offset == -1,
                 "key \"hello\" went to partition %d (murmur2); its offset stayed unknown to\n"
                 "    the producer (-1): with acks=0 no answer tells it",
                 expected);
  else
    mk_lab_claim(ctx, one.partition == expected && one.offset == 0,
                 "key \"hello\" went to partition %d (murmur2), at offset %lld", expected,
                 (long long)one.offset);
  return 0;
}

/* ---- part 2 ------------------------------------------------------------------------------ */

/* Idea 1: the same key, the same partition. */
static int idea_keys(struct mk_lab_ctx *ctx, struct mk_producer *p) {
  mk_lab_heading(ctx, "2. Key ideas in five minutes");
  mk_lab_say(ctx, "Idea 1, keys pick partitions (note 000 section 5, note 004 \"파티셔닝 전략\").");
  mk_lab_predict(ctx,
                 "three records keyed user-42 and three keyed user-7: how many partitions each?");
  static const char *const keys[] = {"user-42", "user-7"};
  struct mk_lab_sends *s = mk_lab_sends_new(6);
  if (!s) return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  for (int i = 0; i < 6; i++) {
    char value[24];
    snprintf(value, sizeof value, "event-%d", i);
    mk_lab_send(ctx, p, s, TOPIC, -1, keys[i % 2], value);
  }
  int rc = mk_lab_sends_wait(s, 30000);
  if (rc) {
    mk_lab_sends_free(s);
    return mk_lab_fail(ctx, rc, "idea 1: sends did not complete");
  }
  int distinct[2] = {0, 0};
  for (int k = 0; k < 2; k++) {
    int32_t seen[8];
    int n = 0;
    for (int i = k; i < 6; i += 2) {
      bool dup = false;
      for (int j = 0; j < n; j++) dup |= seen[j] == s->v[i].partition;
      if (!dup && n < 8) seen[n++] = s->v[i].partition;
    }
    distinct[k] = n;
    mk_lab_say(ctx, "  %-8s -> partition %d (every time)", keys[k], s->v[k].partition);
  }
  mk_lab_sends_free(s);
  mk_lab_figure(ctx, "same key", "partitions used",
                distinct[0] > distinct[1] ? distinct[0] : distinct[1]);
  mk_lab_claim(ctx, distinct[0] == 1 && distinct[1] == 1, "each key always lands in one partition");
  mk_lab_say(ctx, "  -> labs/partitioning (a key's partition changes if partitions are added)");
  return 0;
}

/* Ideas 2 and 3: keyless records stick to one partition, and travel as one batch. */
static int idea_sticky(struct mk_lab_ctx *ctx, struct mk_producer *p, int keyless,
                       int32_t partitions, int64_t linger_ms) {
  mk_lab_say(
      ctx,
      "\nIdea 2, no key: the uniform sticky partitioner (note 002 says round-robin: that was\n"
      "Kafka before 2.4; note 004 gets it right).");
  mk_lab_predict(ctx,
                 "%d keyless records, sent back to back: how many partitions, how many requests?",
                 keyless);
  size_t mark = mk_lab_mark(ctx);
  struct mk_lab_sends *s = mk_lab_sends_new(keyless);
  if (!s) return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  for (int i = 0; i < keyless; i++) {
    char value[24];
    snprintf(value, sizeof value, "nokey-%d", i);
    mk_lab_send(ctx, p, s, TOPIC, -1, NULL, value);
  }
  int rc = mk_lab_sends_wait(s, 30000);
  if (rc) {
    mk_lab_sends_free(s);
    return mk_lab_fail(ctx, rc, "idea 2: sends did not complete");
  }
  int used = 0;
  bool seen[256] = {false};
  for (int i = 0; i < s->n; i++)
    if (s->v[i].partition >= 0 && s->v[i].partition < 256 && !seen[s->v[i].partition]) {
      seen[s->v[i].partition] = true;
      used++;
    }
  mk_lab_sends_free(s);
  int requests = mk_lab_count(ctx, mark, "producer", "request_sent", TOPIC);
  mk_lab_say(ctx, "  %d records -> %d partition%s, in %d Produce request%s", keyless, used,
             used == 1 ? "" : "s", requests, requests == 1 ? "" : "s");
  mk_lab_figure(ctx, "no key", "records", keyless);
  mk_lab_figure(ctx, "no key", "partitions used", used);
  mk_lab_figure(ctx, "no key", "requests", requests);
  mk_lab_claim(ctx, used == 1,
               "keyless records stuck to one partition (round-robin would use all %d)",
               keyless < partitions ? keyless : (int)partitions);
  if (linger_ms > 0)
    mk_lab_say(
        ctx,
        "\nIdea 3, batching: those records waited up to linger.ms (%lld ms) in one ProducerBatch,\n"
        "so the Sender sent %d request%s instead of %d. -> labs/batching",
        (long long)linger_ms, requests, requests == 1 ? "" : "s", keyless);
  else
    mk_lab_say(
        ctx,
        "\nIdea 3, batching: with linger.ms=0 no record waits: the Sender sends a batch as soon\n"
        "as it holds one, and the records that arrive meanwhile fill the next one, so the\n"
        "Sender sent %d request%s for %d records. -> labs/batching",
        requests, requests == 1 ? "" : "s", keyless);
  return 0;
}

/* Idea 5's claim: how many copies the settings allow, and why. */
static void lost_response_claim(struct mk_lab_ctx *ctx, struct tour_mode m, int retries,
                                int copies) {
  if (m.acks == 0) {
    mk_lab_claim(ctx, retries == 0 && copies == 1,
                 "with acks=0 there was no answer to lose: no retry (%d), %d copy, and the\n"
                 "    producer could not have known had the record been lost",
                 retries, copies);
    mk_lab_say(ctx, "  -> labs/acks (acks=0 loses records silently)");
  } else if (m.idempotent) {
    mk_lab_claim(ctx, copies == 1 && retries >= 1,
                 "retried %d time(s), and the log holds %d copy: the broker knew pid + sequence",
                 retries, copies);
    mk_lab_say(ctx, "  -> labs/duplicates (the same with enable.idempotence=false: two copies)");
  } else {
    mk_lab_claim(ctx, copies == 2 && retries >= 1,
                 "retried %d time(s), and the log holds %d copies: idempotence is off\n"
                 "    (%s): no producer id and sequence to spot the retry by",
                 retries, copies,
                 m.acks == 1 ? "Kafka turns it off unless acks=all" : "enable.idempotence=false");
    mk_lab_say(ctx, "  -> labs/duplicates (retries with and without idempotence)");
  }
}

/* Idea 4 is part 1's timeline; idea 5: a lost response, a retry, and idempotence. */
static int idea_lost_response(struct mk_lab_ctx *ctx, struct mk_producer *p, struct tour_mode m) {
  if (m.acks == -1)
    mk_lab_say(ctx,
               "\nIdea 4, acks=all: in part 1 the broker answered only after both followers had\n"
               "fetched the record and told the leader so (replicate, then high watermark, then\n"
               "the response). -> labs/acks");
  else if (m.acks == 1)
    mk_lab_say(ctx,
               "\nIdea 4, acks: with acks=1 the broker answered before the followers had fetched\n"
               "the record; with Kafka's default, acks=all, it answers only once the high\n"
               "watermark has passed it. -> labs/acks");
  else
    mk_lab_say(ctx,
               "\nIdea 4, acks: with acks=0 the broker never answers, and the producer counts a\n"
               "record as sent once it is written to the socket; with Kafka's default, acks=all,\n"
               "the answer comes only once the high watermark has passed it. -> labs/acks");
  mk_lab_say(
      ctx,
      "\nIdea 5, a lost response (note 004 \"재시도와 멱등성\"): the broker appends the batch,\n"
      "but its answer never arrives; the producer retries the same batch.");
  if (m.acks == 0)
    mk_lab_note(ctx, "  (with acks=0 there is no answer to lose: watch what the producer does.)");
  else if (!m.idempotent)
    mk_lab_note(ctx, "  (idempotence is off in this run: watch for \"no pid\" on the retry.)");
  mk_lab_predict(ctx, "how many copies of the record end up in the log?");
  int rc = mk_lab_fault(ctx,
                        "{\"action\": \"drop_response\", \"api\": \"Produce\", \"topic\": \"%s\", "
                        "\"count\": 1, \"mode\": \"close\"}",
                        TOPIC);
  if (rc) return rc;
  size_t mark = mk_lab_mark(ctx);
  struct mk_lab_sends *s = mk_lab_sends_new(1);
  if (!s) return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  mk_lab_send(ctx, p, s, TOPIC, -1, "retry-me", "exactly-once");
  rc = mk_lab_sends_wait(s, 30000);
  struct mk_lab_send one = mk_lab_sends_get(s, 0);
  mk_lab_sends_free(s);
  if (rc || one.error)
    return mk_lab_fail(ctx, rc ? rc : one.error, "idea 5: the send did not succeed");
  mk_lab_sleep_ms(20);
  mk_lab_timeline(ctx, mark,
                  m.idempotent ? "A lost response, a retry, and the broker recognising it:"
                  : m.acks == 0 ? "A Produce with acks=0: nothing to lose, nothing retried:"
                                : "A lost response, a retry, and no producer id to recognise it by:");
  struct mk_stored_records recs;
  rc = mk_lab_read_records(ctx, TOPIC, one.partition, -1, false, &recs);
  if (rc) return rc;
  int copies = mk_lab_records_count_value(&recs, "exactly-once");
  mk_stored_records_free(&recs);
  int retries = mk_lab_count(ctx, mark, "producer", "retry", TOPIC);
  int recognised = mk_lab_count(ctx, mark, "broker", "duplicate", TOPIC);
  mk_lab_figure(ctx, "lost response", "retries", retries);
  mk_lab_figure(ctx, "lost response", "recognised", recognised);
  mk_lab_figure(ctx, "lost response", "copies in log", copies);
  lost_response_claim(ctx, m, retries, copies);
  return 0;
}

static int run(struct mk_lab_ctx *ctx) {
  int32_t partitions = (int32_t)mk_lab_param(ctx, "partitions");
  int keyless = (int)mk_lab_param(ctx, "keyless");
  struct mk_producer *p = NULL;
  struct tour_mode mode = {-1, true};
  int64_t linger_ms = 0;
  int rc = journey(ctx, partitions, &p, &mode, &linger_ms);
  if (!rc) rc = idea_keys(ctx, p);
  if (!rc) rc = idea_sticky(ctx, p, keyless, partitions, linger_ms);
  if (!rc) rc = idea_lost_response(ctx, p, mode);
  if (p) mk_producer_close(p, 5000);
  if (rc) return rc;
  mk_lab_table(ctx, "What this run measured:", NULL, NULL);
  mk_lab_say(
      ctx,
      "\nNext: labs/acks (what acks=1 loses when a leader dies), labs/duplicates (retries\n"
      "without idempotence), labs/ordering (max.in.flight and retries). `minikafka lab` lists all.");
  return 0;
}

const struct mk_lab mk_lab_tour = {
    "tour",
    "one record's whole journey from send() to the callback, then the key ideas in five minutes",
    params,
    run,
};
