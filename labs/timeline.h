/*
 * Timeline: trace events (DESIGN.md 3.4) as two lanes, producer | broker, in time order.
 * Issue "labs": the timeline. Input: the JSON lines common/trace.h emits, from both sides.
 *
 *        ms  producer                                   │ broker
 *     0.000  send to tour: key "hello", value 5 B       │
 *     0.021  partition tour-1 (key_hash)                │
 *     0.034  append: new batch #0 for tour-1 (1 rec)    │
 *     5.310  Produce → broker 1, acks=all: #0 tour-1    │
 *            pid 0 epoch 0 seq 0                        │
 *     5.402                                             │ Produce v11 from producer-1 → broker 1
 *     5.480                                             │ append tour-1: offsets 0..0, pid 0 seq 0
 *
 * Times are milliseconds since the first event (or a given t0). Each event becomes one
 * sentence (mk_timeline_describe), wrapped inside its lane. Colour (ANSI) when asked for:
 * the caller decides (a terminal, and NO_COLOR unset); plain text otherwise.
 *
 * Long runs are summarised rather than flooding the screen: past max_events, only the first
 * few events, the first of each kind, the notable ones (retries, duplicates, ISR and leader
 * changes, faults, failures) and those the caller focuses on, and the last few are drawn;
 * each gap becomes one line counting what it skipped by type, and a totals line ends the
 * timeline. The completions of one batch (the producer completes each record) are drawn as
 * one line, "complete ×148: t-0 @ offsets 148..295".
 *
 * Metadata and ApiVersions traffic, and the producer finding its brokers (bootstrap,
 * resolve, connect, connected: a failed connection still shows), is left out unless
 * all_events or the caller focuses on it (it is counted, though).
 *
 * Thread: any (no state outside the call). Memory: nothing kept.
 */
#ifndef MK_LABS_TIMELINE_H
#define MK_LABS_TIMELINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct mk_timeline_options {
  FILE *out;
  bool colour;              /* ANSI colours */
  int width;                /* total columns; 0 = MK_TEXT_WIDTH (100) */
  size_t max_events;        /* draw at most about this many events, then summarise; 0 = all */
  bool all_events;          /* include Metadata and ApiVersions requests and responses */
  int64_t t0_us;            /* times are relative to this ts_us; 0 = the first event's */
  const char *const *focus;  /* "side:event" names a summary draws like the notable ones
                                ("broker:append"); NULL-terminated, may be NULL */
};

/* Draw the timeline of n JSON lines (each one event, NUL-terminated), under title (may be
 * NULL). Lines that are not JSON objects are skipped. Borrows everything. */
void mk_timeline_render(const struct mk_timeline_options *o, const char *title,
                        const char *const *lines, size_t n);

/* Drawing events one at a time, as they arrive (`minikafka timeline -` from a pipe, or
 * --follow a broker's /v1/events): in arrival order, never summarised, each line flushed;
 * times are ms since the first event drawn (or o->t0_us). Plumbing is counted, not drawn,
 * unless o->all_events. */
struct mk_timeline_live {
  FILE *out;
  bool colour, all_events;
  size_t lane;       /* columns of each lane's text */
  size_t width;      /* of the whole timeline */
  int64_t t0;
  size_t drawn, hidden, bad;  /* events drawn; plumbing left out; lines that were not
                                 JSON objects */
};
/* Draw the header (title may be NULL). Borrows o during the call. */
void mk_timeline_live_begin(struct mk_timeline_live *tl, const struct mk_timeline_options *o,
                            const char *title);
/* Draw one event: a JSON object of len bytes (not NUL-terminated). */
void mk_timeline_live_line(struct mk_timeline_live *tl, const char *line, size_t len);
/* A closing line with the counts. */
void mk_timeline_live_end(struct mk_timeline_live *tl);

/* How an event is drawn. */
enum mk_timeline_style {
  MK_STYLE_LANE,   /* the lane's own colour */
  MK_STYLE_OK,     /* a record completed */
  MK_STYLE_WARN,   /* retries, duplicates recognised, ISR and leader changes */
  MK_STYLE_BAD,    /* failures, faults, lost responses, truncation */
  MK_STYLE_DIM,    /* request/response plumbing */
  MK_STYLE_STRONG,  /* titles */
};

/* The ANSI escape that starts style on a side's lane ("producer" | "broker" | NULL), and
 * the one that ends it. */
const char *mk_timeline_ansi(enum mk_timeline_style style, const char *side);
#define MK_ANSI_RESET "\033[0m"

/* One event as a sentence, into buf. Returns its style. Borrows ev. */
enum mk_timeline_style mk_timeline_describe(json_t *ev, char *buf, size_t size);
/* Whether a summary must still show this event (the rare, important ones). */
bool mk_timeline_notable(json_t *ev);
/* Whether it is plumbing (Metadata/ApiVersions, connecting), hidden unless all_events. */
bool mk_timeline_plumbing(json_t *ev);

#endif
