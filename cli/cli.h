/*
 * cli/: the minikafka executable. Declarations shared between its files, grouped by the
 * file that defines them (xv6's defs.h habit), so this header is also a map of cli/.
 *
 * Every subcommand is one function with main()'s signature: it gets its own name as
 * argv[0] ("decode") and the arguments after it, prints to stdout/stderr, and returns the
 * process exit status: 0 success, 1 the work failed, 2 the command line was wrong.
 * main.c lists the subcommands in one table; adding one is a row there plus its file.
 *
 * Thread: app (the CLI is single-threaded until a subcommand starts a broker or producer).
 */
#ifndef MK_CLI_CLI_H
#define MK_CLI_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/errors.h"
#include "protocol/schema.h"

/* Exit statuses every subcommand uses. */
enum { MK_EXIT_OK = 0, MK_EXIT_FAILED = 1, MK_EXIT_USAGE = 2 };

/* ---- broker.c ---------------------------------------------------------------------------- */

/* minikafka broker [flags]: run the broker in the foreground until SIGINT/SIGTERM. */
int mk_cli_broker(int argc, char **argv);
/* A whole number in [lo, hi] for flag, or -1 after printing "minikafka CMD: FLAG must be a
 * number in [lo, hi], got ..." (the servers' flags: broker, proxy). */
int mk_cli_parse_int(const char *cmd, const char *flag, const char *v, int lo, int hi, int *out);

/* ---- proxy.c ----------------------------------------------------------------------------- */

/* minikafka proxy --bootstrap-server HOST:PORT [flags]: the proxy in the foreground. */
int mk_cli_proxy(int argc, char **argv);

/* ---- topics.c, groups.c, consume.c (client/client.h, consumer/consumer.h) -------------- */

/* minikafka topics: kafka-topics.sh's flags (--create, --list, --describe, --delete). */
int mk_cli_topics(int argc, char **argv);
/* minikafka groups: kafka-consumer-groups.sh's flags (--list, --describe, --reset-offsets,
 * --delete, --delete-offsets). */
int mk_cli_groups(int argc, char **argv);
/* minikafka consume: kafka-console-consumer.sh's flags; --group joins a consumer group. */
int mk_cli_consume(int argc, char **argv);

/* ---- produce.c, perf.c (built on the producer in producer/producer.h) ------------------- */

/* minikafka produce: kafka-console-producer.sh's flags; one record per line of stdin. */
int mk_cli_produce(int argc, char **argv);
/* minikafka perf: kafka-producer-perf-test.sh's flags, and its summary lines. */
int mk_cli_perf(int argc, char **argv);

/* ---- lab.c (built on labs/lab.h) -------------------------------------------------------- */

/* minikafka lab [NAME [--set key=value]... [--trace FILE]]: list the labs, or run one. */
int mk_cli_lab(int argc, char **argv);

/* ---- replay.c, timeline.c: a trace, in the dashboard or in the terminal ----------------- */

/* minikafka replay FILE [--port P]: serve the dashboard in replay mode with FILE. */
int mk_cli_replay(int argc, char **argv);
/* minikafka timeline FILE | - | --follow URL: the two-lane timeline of a trace. */
int mk_cli_timeline(int argc, char **argv);
/* Draw a trace file ("-": all of stdin) as one timeline, summarised unless full (also
 * `lab --timeline FILE`). Returns an exit status. */
int mk_cli_timeline_file(const char *path, bool full, bool all_events);

/* ---- decode.c ---------------------------------------------------------------------------- */

/* minikafka decode [--hex] [--api NAME --version N] [FILE]: one frame -> JSON on stdout. */
int mk_cli_decode(int argc, char **argv);

/* ---- json.c: a decoded message as JSON, walking its schema table ------------------------- */

/* State of one walk: where the frame starts (to turn pointers into byte offsets), whether a
 * cut-off last record batch is normal, and the problems met inside record batches. The
 * schema decoder has already checked the message itself; record batches are opaque bytes to
 * it, so their errors (bad CRC, bad framing, bad records) are found only here. */
struct mk_json_walk {
  const uint8_t *frame;     /* first byte of the frame (its size prefix); borrowed */
  bool partial_batch_ok;    /* true for responses: Fetch may end with a partial batch */
  int problems;             /* record batches that failed to parse, validate or read */
  char first_problem[640];  /* the first one, with its field path and byte offset */
};

/* The JSON object for msg, a struct described by s, decoded at version: every field present
 * at that version, in table order, under its snake_case name. MK_RECORDS fields become an
 * array of record batches with their records. Returns new (json_decref it); NULL only when
 * out of memory. Problems found in record batches are in w (and as "error" keys in the
 * JSON). Borrows s, msg and w->frame. */
json_t *mk_json_message(const struct mk_schema *s, int version, const void *msg,
                        struct mk_json_walk *w);

/* A Kafka string as JSON: a string, null when null, {"hex": ...} when not valid UTF-8.
 * Returns new. */
json_t *mk_json_str(struct mk_str s);

#endif
