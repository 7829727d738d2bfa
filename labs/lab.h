/*
 * Labs: the notes in ../shared/seeds/ made runnable. A lab is a scenario (one .c file) plus
 * its guide (README.md) in labs/NAME/; `minikafka lab NAME` runs it. DESIGN.md 3.1, STYLE.md 6.
 *
 *   mk_lab_run(lab, options, &result)
 *     sorts the --set settings: the lab's own, the producer's, the broker's
 *     attaches a trace sink that keeps every event (producer and broker) in memory
 *     lab->run(ctx): the scenario, written with the helpers below:
 *       mk_lab_broker_start        an embedded broker (virtual brokers, ephemeral ports)
 *       mk_lab_producer_new        a producer: the scenario's settings, then the user's
 *       mk_lab_send / _sends_wait  send records and record each one's fate
 *       mk_lab_fault               break something (DESIGN.md 3.2's JSON faults)
 *       mk_lab_read_records        what a replica's log holds now
 *       mk_lab_mark / _timeline    the two-lane timeline of the events since a mark
 *       mk_lab_figure / _table     the numbers, as a small table
 *       mk_lab_claim               the lab's point, checked on this run's numbers; phrased
 *                                  from the settings in force (mk_lab_claim_unless: one the
 *                                  user's settings defeat, said so beforehand)
 *     detaches the sink, stops the broker; result holds every figure and claim
 *
 * On a real cluster (options.bootstrap_server, `minikafka lab NAME --bootstrap-server`), the
 * same scenario runs against that cluster through an embedded proxy (proxy/proxy.h), with
 * the differences labs/lab_cluster.c lists: unique topic names (mk_lab_topic), no broker
 * settings, only the faults a proxy can do, and no events from inside the cluster. A lab
 * that needs the broker's inside asks mk_lab_external() and says what it cannot show.
 *
 * Settings (`--set key=value`, any number of times). A key goes to the first of these that
 * knows it; a prefix forces the choice:
 *   lab.KEY       the lab's own parameters (records=..., listed by `minikafka lab NAME --help`)
 *   producer.KEY  a Kafka producer setting (linger.ms, acks, enable.idempotence, ...)
 *   consumer.KEY  a Kafka consumer setting (session.timeout.ms, enable.auto.commit, ...), for
 *                 labs with consumers (consumer/consumer_config.h)
 *   broker.KEY    a Kafka broker setting (min.insync.replicas, replica.lag.time.max.ms, ...),
 *                 or broker.brokers=N for the number of virtual brokers
 * So `--set linger.ms=0` changes the producer and `--set min.insync.replicas=1` the broker; a
 * key several knew would go to the first of them (write consumer.KEY or broker.KEY for the
 * consumer's client.id or request.timeout.ms, say). Every value is
 * checked before the lab starts, with the producer's and broker's own error messages (a lab
 * parameter against its limits, naming them).
 *
 * Everything a lab prints is wrapped to MK_TEXT_WIDTH (100) columns, or a narrower terminal's
 * width (labs/text.h): tests/integration/test_lab_exercises.py holds every README exercise to
 * it, to exit 0 and to no cross the lab did not predict.
 * The user's settings are applied after the scenario's, so they win: a lab that compares
 * acks=1 with acks=all shows two identical runs if you --set acks=all (its claims then say
 * that your settings changed the outcome).
 *
 * The result is for tests: every figure a lab prints is also in result->figures under
 * (row, column), so a test asserts the lab's key claim from numbers, never from text.
 *
 * Thread: app. mk_lab_run runs one lab at a time per process (the trace is global).
 * Memory: mk_lab_run stops the broker at the end; producers, send sets (mk_lab_sends) and
 * record lists (mk_stored_records) are the lab's to close and free.
 *
 * Writing a lab: see labs/labs.c, and labs/duplicates/duplicates.c for a short example.
 */
#ifndef MK_LABS_LAB_H
#define MK_LABS_LAB_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "broker/broker.h"
#include "consumer/consumer.h"
#include "producer/producer.h"
#include "protocol/errors.h"

struct mk_lab_ctx;
struct mk_broker;

/* One of a lab's own parameters (settable with --set NAME=VALUE or lab.NAME=VALUE). A
 * value outside [min, max] is refused before the lab starts, the message naming the
 * parameter and its limits. */
struct mk_lab_param {
  const char *name;          /* "records" */
  const char *default_value;  /* "20": a whole number (every parameter is one) */
  const char *doc;           /* one line for --help */
  int64_t min, max;          /* the values the scenario accepts */
};

/* A lab: its folder name, a one-line summary, its parameters and its scenario. */
struct mk_lab {
  const char *name;                  /* labs/NAME/ and `minikafka lab NAME` */
  const char *summary;               /* the line `minikafka lab` lists */
  const struct mk_lab_param *params;  /* ends with {NULL}; may be NULL */
  /* The scenario. Returns 0, or an error code after mk_lab_fail said why. Thread: app. */
  int (*run)(struct mk_lab_ctx *ctx);
  /* NULL when the lesson survives a real cluster (--bootstrap-server); else what the lab
   * cannot show there and why (it needs the broker's inside), said instead of running. */
  const char *not_on_a_cluster;
};

/* ---- the table of labs (labs.c) -------------------------------------------------------- */

extern const struct mk_lab *const mk_labs[];  /* in teaching order, NULL-terminated */
/* Each lab, defined in labs/NAME/NAME.c. */
extern const struct mk_lab mk_lab_tour, mk_lab_acks, mk_lab_duplicates, mk_lab_ordering;
extern const struct mk_lab mk_lab_send_modes, mk_lab_partitioning, mk_lab_batching,
    mk_lab_compression;
extern const struct mk_lab mk_lab_timeouts, mk_lab_isr, mk_lab_headers_interceptors,
    mk_lab_serialization, mk_lab_quotas, mk_lab_bootstrap, mk_lab_schemas,
    mk_lab_consumer_groups, mk_lab_transactions;
/* The lab named name, or NULL. */
const struct mk_lab *mk_lab_find(const char *name);

/* ---- running a lab --------------------------------------------------------------------- */

struct mk_lab_options {
  const char *const *settings;  /* "key=value" strings (--set), nsettings of them; borrowed */
  int nsettings;
  const char *trace_path;  /* --trace FILE: raw JSON lines too ("-" = stdout); or NULL */
  FILE *out;              /* where the lab prints; NULL = stdout */
  int colour;             /* 1 on, 0 off, -1 auto: on if out is a terminal and
                                   NO_COLOR is unset */
  bool full;              /* never summarise a timeline (--full) */
  bool all_events;        /* show Metadata and ApiVersions requests too */
  bool verbose;           /* keep the broker's and producer's log lines (stderr) */
  bool admin;             /* --admin-port: serve the admin API and dashboard for the lab's
                             broker (its proxy's, on a real cluster) on admin_port (0 =
                             any free one) while it runs, and
                             keep the last one up after the lab until Enter or Ctrl-C, its
                             run at GET /v1/trace for the dashboard's replay */
  int admin_port;
  /* A real Kafka cluster ("host:port[,...]") to run on instead of the embedded broker, or
   * NULL (labs/lab_cluster.c). Borrowed. */
  const char *bootstrap_server;
  /* For a cluster without CreateTopics (librdkafka's mock cluster, in tests): creates topic
   * (its real name) through the cluster's own means; returns 0 or an error code. NULL:
   * such a cluster stops the lab, saying which topic to create. */
  int (*create_topic)(void *opaque, const char *topic, int32_t partitions,
                      int32_t replication_factor);
  void *create_topic_opaque;
};

enum { MK_LAB_MAX_FIGURES = 96, MK_LAB_MAX_CLAIMS = 16 };

/* One number a lab measured: a cell of its table. */
struct mk_lab_figure {
  char row[48];    /* "acks=1" */
  char column[48];  /* "lost" */
  double value;
};

/* One of the lab's claims and whether this run bore it out. */
struct mk_lab_claim {
  char text[240];
  bool held;
  bool predicted;  /* it did not hold, and the lab had said so (mk_lab_claim_unless) */
};

struct mk_lab_result {
  struct mk_lab_figure figures[MK_LAB_MAX_FIGURES];
  int nfigures;
  struct mk_lab_claim claims[MK_LAB_MAX_CLAIMS];
  int nclaims;
  size_t events;  /* trace events collected */
  int64_t elapsed_ms;
  bool bad_setting;  /* a --set or --trace argument was refused before the lab began */
  struct mk_err err;  /* err.code != 0: the lab could not run (err.msg says why) */
};

/* Run one lab. Returns 0, MK_ERR__INVALID_ARG for a bad setting (res->err says which, and
 * what is accepted), or the error the lab failed with. res is filled either way.
 * Thread: app, one lab at a time. Borrows lab and opts. */
int mk_lab_run(const struct mk_lab *lab, const struct mk_lab_options *opts,
               struct mk_lab_result *res);

/* The --set checks mk_lab_run makes before the lab begins, without running it: each of the n
 * "key=value" settings sorted (lab, producer or broker) and its value checked. Returns 0 or
 * MK_ERR__INVALID_ARG with err saying which and why. Thread: app. Borrows everything. */
int mk_lab_check_settings(const struct mk_lab *lab, const char *const *settings, int n,
                          struct mk_err *err);

/* A figure by row and column, or NaN if the lab did not report it. */
double mk_lab_result_figure(const struct mk_lab_result *res, const char *row, const char *column);

/* ======================================================================================== */
/* For lab authors: the helpers a scenario is written with. All take the ctx mk_lab_run     */
/* passed to lab->run. Those returning int return 0, or an error code after recording a    */
/* message (mk_lab_fail), so a scenario can `if (rc) return rc;`.                          */
/* ======================================================================================== */

/* ---- text ------------------------------------------------------------------------------ */

/* A section title. */
void mk_lab_heading(struct mk_lab_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Plain text; a trailing newline is added. */
void mk_lab_say(struct mk_lab_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "Predict: ..." — what the student should guess before reading on. */
void mk_lab_predict(struct mk_lab_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A note in a quieter style (where a setting came from, what the notes got wrong). */
void mk_lab_note(struct mk_lab_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "label: done/total" on stderr, rewritten in place, when stderr is a terminal; a call with
 * done == total ends the line. For runs long enough to need it. */
void mk_lab_progress(struct mk_lab_ctx *ctx, const char *label, long done, long total);
/* Where the lab prints (for labs that format their own lines) and whether in colour. */
FILE *mk_lab_out(struct mk_lab_ctx *ctx);
bool mk_lab_colour(struct mk_lab_ctx *ctx);

/* ---- parameters and settings ----------------------------------------------------------- */

/* The lab's parameter `name` (from its params table): the user's value or the default. */
int64_t mk_lab_param(struct mk_lab_ctx *ctx, const char *name);
/* Whether the user --set this producer or broker key (so a scenario can say that its own
 * value was overridden). */
bool mk_lab_user_set(struct mk_lab_ctx *ctx, const char *key);
/* Whether the user changed anything but the lab's own parameters: the claims then describe
 * the user's experiment, and may not hold. */
bool mk_lab_user_changed_settings(struct mk_lab_ctx *ctx);

/* ---- the broker ------------------------------------------------------------------------ */

/* Start an embedded broker (stopping the one running, if any): Kafka's defaults, ephemeral
 * loopback ports, no admin port; then `kv` ("key=value" broker settings, NULL-terminated,
 * may be NULL; "brokers=N" sets the number of virtual brokers, default 3;
 * "schema.registry.port=0" serves the schema registry on a free port: broker.h's
 * mk_broker_schema_registry_url); then the user's broker settings. */
int mk_lab_broker_start(struct mk_lab_ctx *ctx, const char *const *kv);
/* Stop and free the broker (mk_lab_run does it too, at the end). */
void mk_lab_broker_stop(struct mk_lab_ctx *ctx);
/* The running broker (for broker.h's calls), or NULL (none yet, or a real cluster). */
struct mk_broker *mk_lab_broker(struct mk_lab_ctx *ctx);
/* Whether the lab runs on a real cluster (--bootstrap-server): no broker settings, no
 * faults inside the cluster (follower_*, elect_leader), no events from inside it. */
bool mk_lab_external(struct mk_lab_ctx *ctx);
/* The name the cluster knows a topic by: name itself on the embedded broker; on a real
 * cluster, the unique name mk_lab_create_topic gave it (name when it did not create it).
 * Helpers that take a topic translate by themselves; a scenario that builds records or
 * reads events on its own calls this. */
const char *mk_lab_topic(struct mk_lab_ctx *ctx, const char *name);
/* The brokers' node ids (0..n-1 on the embedded broker; the cluster's own ids on a real
 * one), at most max into ids. Returns how many. */
int mk_lab_broker_ids(struct mk_lab_ctx *ctx, int32_t *ids, int max);
/* Create a topic (replication_factor -1 = the broker's default), as kafka-topics.sh
 * --create would. */
int mk_lab_create_topic(struct mk_lab_ctx *ctx, const char *name, int32_t partitions,
                        int32_t replication_factor);
/* The same with topic configs ("message.timestamp.type=LogAppendTime", NULL-terminated). */
int mk_lab_create_topic_configs(struct mk_lab_ctx *ctx, const char *name, int32_t partitions,
                                int32_t replication_factor, const char *const *configs);
/* Grow a topic to count partitions, as kafka-topics.sh --alter --partitions would. */
int mk_lab_create_partitions(struct mk_lab_ctx *ctx, const char *topic, int32_t count);
/* Inject a fault: JSON as DESIGN.md 3.2 and broker/faults.h describe, printf-style. */
int mk_lab_fault(struct mk_lab_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A partition as the broker sees it now (broker.h's mk_broker_partition_state). */
int mk_lab_partition_state(struct mk_lab_ctx *ctx, const char *topic, int32_t partition,
                           struct mk_partition_state *out);
/* Wait (polling every few ms) until the partition's high watermark reaches at least hw, at
 * most timeout_ms. Returns 0 or MK_ERR__TIMED_OUT (not a lab failure: no message). */
int mk_lab_wait_hw(struct mk_lab_ctx *ctx, const char *topic, int32_t partition, int64_t hw,
                   int64_t timeout_ms);

/* The records one replica holds, in offset order (a consumer's view when committed_only:
 * below the high watermark), as broker.h's mk_broker_read_records copies them. broker -1 =
 * the current leader. Free with mk_stored_records_free. */
int mk_lab_read_records(struct mk_lab_ctx *ctx, const char *topic, int32_t partition,
                        int32_t broker, bool committed_only, struct mk_stored_records *out);
/* How many records in r have this value. */
int mk_lab_records_count_value(const struct mk_stored_records *r, const char *value);
/* Whether b holds exactly these len bytes (len -1: whether b is null); or this text. */
bool mk_lab_bytes_equal(struct mk_stored_bytes b, const void *bytes, int32_t len);
bool mk_lab_bytes_is(struct mk_stored_bytes b, const char *text);

/* ---- the producer ---------------------------------------------------------------------- */

/* A finished producer config: bootstrap.servers (the lab's broker), String key and value
 * serializers, then `kv` (the scenario's "key=value" producer settings, NULL-terminated,
 * may be NULL), then the user's producer settings. Returns new (mk_producer_config_free).
 * A lab that adds interceptors or serializers does so before mk_producer_config_finish
 * again. */
int mk_lab_producer_config(struct mk_lab_ctx *ctx, const char *const *kv,
                           struct mk_producer_config **out);
/* Whether the producer accepts the settings mk_lab_producer_config would use (kv, then the
 * user's): 0, or the producer's error with Kafka's message in err ("Must set retries to
 * non-zero when using the idempotent producer."), the lab going on: so a scenario can
 * explain a combination Kafka refuses instead of failing on it. */
int mk_lab_producer_config_check(struct mk_lab_ctx *ctx, const char *const *kv,
                                 struct mk_err *err);
/* mk_lab_producer_config + mk_producer_new. Close it with mk_producer_close. */
int mk_lab_producer_new(struct mk_lab_ctx *ctx, const char *const *kv, struct mk_producer **out);
/* One line with the settings that matter here, as the producer will use them:
 * "acks=all enable.idempotence=true linger.ms=5 ..." (keys NULL-terminated). */
void mk_lab_show_settings(struct mk_lab_ctx *ctx, const struct mk_producer_config *cfg,
                          const char *const *keys);

/* The fate of each record sent through mk_lab_send: filled in by the send callback. */
struct mk_lab_send {
  struct mk_lab_sends *owner;
  int64_t sent_us, done_us;  /* mk_now_us() at send and at completion */
  int32_t partition;
  int64_t offset;  /* -1 on failure, or with acks=0 */
  int16_t error;  /* Kafka's error code, 0 on success */
  bool done;
};
/* A set of sends. Read v[i], n, completed and failed after mk_lab_sends_wait (or under lock).
 * Memory: every send not yet completed holds a reference, so mk_lab_sends_free may be called
 * before the producer has completed them all (a lab that gives up early): the memory goes
 * when the last callback has run. */
struct mk_lab_sends {
  pthread_mutex_t lock;
  pthread_cond_t changed;
  struct mk_lab_send *v;  /* capacity entries, fixed at creation (callbacks point into it) */
  int capacity, n;       /* n sent so far */
  int completed, failed;
  int refs;  /* the owner's, and one per send not yet completed (under lock) */
};
/* Room for capacity sends. Returns new (mk_lab_sends_free), or NULL when out of memory. */
struct mk_lab_sends *mk_lab_sends_new(int capacity);
/* Drop the owner's reference. NULL is allowed. */
void mk_lab_sends_free(struct mk_lab_sends *s);
/* Send value (and key, NULL = no key) to topic/partition (-1 = let the partitioner choose).
 * Returns the record's index in s, or -1 if it failed at once (it still counts in s). */
int mk_lab_send(struct mk_lab_ctx *ctx, struct mk_producer *p, struct mk_lab_sends *s,
                const char *topic, int32_t partition, const char *key, const char *value);
/* Wait until every record sent so far has completed, at most timeout_ms. Returns 0 or
 * MK_ERR__TIMED_OUT. */
int mk_lab_sends_wait(struct mk_lab_sends *s, int64_t timeout_ms);
/* How many have completed successfully, now. */
int mk_lab_sends_succeeded(struct mk_lab_sends *s);
/* A copy of send i as it is now (safe while callbacks may still run). */
struct mk_lab_send mk_lab_sends_get(struct mk_lab_sends *s, int i);

/* ---- consumers ------------------------------------------------------------------------- */

/* A finished consumer config: bootstrap.servers (the lab's broker), then `kv` (the
 * scenario's "key=value" consumer settings, NULL-terminated, may be NULL), then the user's
 * consumer settings. Returns new (mk_consumer_config_free). */
int mk_lab_consumer_config(struct mk_lab_ctx *ctx, const char *const *kv,
                           struct mk_consumer_config **out);
/* mk_lab_consumer_config + mk_consumer_new. Close it with mk_consumer_close (or
 * mk_consumer_abandon, for a crash). */
int mk_lab_consumer_new(struct mk_lab_ctx *ctx, const char *const *kv, struct mk_consumer **out);

/* ---- the trace ------------------------------------------------------------------------- */

/* The number of events collected so far: pass it to the functions below as `from` to look
 * at what happened after this point. */
size_t mk_lab_mark(struct mk_lab_ctx *ctx);
/* Render events [from, now) as the two-lane timeline (labs/timeline.h), under a title.
 * Long runs are summarised unless --full. */
void mk_lab_timeline(struct mk_lab_ctx *ctx, size_t from, const char *title);
/* The same, and a summary still draws the events named in focus ("side:event" strings,
 * NULL-terminated: {"broker:append", NULL}), as it does retries, faults and failures. */
void mk_lab_timeline_focus(struct mk_lab_ctx *ctx, size_t from, const char *title,
                           const char *const *focus);
/* How many events since `from` match side and event (either NULL = any) and, if topic is
 * not NULL, have that topic (request_sent: any of its batches). */
int mk_lab_count(struct mk_lab_ctx *ctx, size_t from, const char *side, const char *event,
                 const char *topic);
/* The events since `from` that match (as for mk_lab_count), parsed, in order of ts_us.
 * Returns a new JSON array (json_decref it). */
json_t *mk_lab_events(struct mk_lab_ctx *ctx, size_t from, const char *side, const char *event,
                      const char *topic);
/* Wait until an event matching side/event/topic appears after `from`, at most timeout_ms.
 * Returns 0 or MK_ERR__TIMED_OUT. */
int mk_lab_wait_event(struct mk_lab_ctx *ctx, size_t from, const char *side, const char *event,
                      const char *topic, int64_t timeout_ms);
/* Sleep; lets the broker and the Sender finish emitting what they were doing. */
void mk_lab_sleep_ms(int64_t ms);
/* A condition variable timed on mk_now_us()'s monotonic clock, and one wait on it (m held)
 * until signalled or deadline_us (mk_now_us() time). Thread: any. */
void mk_lab_cond_init(pthread_cond_t *c);
void mk_lab_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t deadline_us);

/* ---- figures and claims ---------------------------------------------------------------- */

/* Record one number, the cell (row, column) of the lab's table. Reporting the same cell
 * again replaces it. */
void mk_lab_figure(struct mk_lab_ctx *ctx, const char *row, const char *column, double value);
/* A figure reported so far, or NaN. */
double mk_lab_value(struct mk_lab_ctx *ctx, const char *row, const char *column);
/* Print the figures in rows x columns (each NULL-terminated; NULL = all) as a table, in the
 * order given (or first reported). A table that would be mostly empty (rows measuring
 * different things) is printed as one "row: column value, ..." line per row instead. */
void mk_lab_table(struct mk_lab_ctx *ctx, const char *title, const char *const *rows,
                  const char *const *columns);
/* State a claim and whether this run bore it out; prints it with a tick or a cross. A
 * claim must be true of the settings in force: a lab phrases it from them (the user's
 * --set included), so a cross means something went wrong. */
bool mk_lab_claim(struct mk_lab_ctx *ctx, bool held, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same for a claim the settings in force may defeat: `unless` (NULL: none) says which
 * setting and why, and is printed under a cross as "(as predicted: ...)", so the student
 * reads it as the lab's foresight, not its failure. A held claim prints as usual. */
bool mk_lab_claim_unless(struct mk_lab_ctx *ctx, bool held, const char *unless, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5)));
/* Record why the lab cannot go on; returns code (so: return mk_lab_fail(ctx, rc, ...)). */
int mk_lab_fail(struct mk_lab_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Percentile p (0..100) of n values (sorted in place). NaN when n == 0. */
double mk_lab_percentile(double *v, size_t n, double p);

#endif
