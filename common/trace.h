/*
 * Trace: every step of a record's life as one JSON line (DESIGN.md 3.4).
 *
 *   {"ts_us":1834567,"side":"broker","event":"append","topic":"t","partition":0,
 *    "base_offset":10,"last_offset":14}
 *
 * Producer and broker emit events through the same functions, so one file (or
 * one timeline in a lab) interleaves both sides by ts_us. An event is built in
 * a stack buffer, field by field, and delivered whole to every sink: the
 * --trace file, a lab's timeline renderer, the admin API's event stream.
 *
 * Off by default, and cheap when off: callers guard with mk_trace_on(), a
 * single relaxed atomic load, before building anything.
 *
 *   if (mk_trace_on()) {
 *     struct mk_trace_event ev;
 *     mk_trace_begin(&ev, "broker", "append");
 *     mk_trace_str(&ev, "topic", name);
 *     mk_trace_int(&ev, "base_offset", base);
 *     mk_trace_end(&ev);
 *   }
 *
 * Thread: any. Sinks are called with the trace lock held, one line at a time,
 * on the emitting thread: a sink must be quick and must not emit events itself.
 */
#ifndef MK_COMMON_TRACE_H
#define MK_COMMON_TRACE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/errors.h"

extern atomic_int mk_trace_sinks;  /* number of sinks attached; read through mk_trace_on() */

static inline bool mk_trace_on(void) {
  return atomic_load_explicit(&mk_trace_sinks, memory_order_relaxed) > 0;
}

struct mk_trace_event {
  size_t len;
  char buf[1536];  /* a line longer than this is cut and marked "truncated":true */
};

/* Start an event: writes ts_us, side ("producer" | "broker") and the event name. */
void mk_trace_begin(struct mk_trace_event *ev, const char *side, const char *event);
/* Add a field. Strings are JSON-escaped; a NULL string is written as null. */
void mk_trace_str(struct mk_trace_event *ev, const char *key, const char *value);
void mk_trace_strn(struct mk_trace_event *ev, const char *key, const char *value, int len);
void mk_trace_int(struct mk_trace_event *ev, const char *key, int64_t value);
void mk_trace_bool(struct mk_trace_event *ev, const char *key, bool value);
/* Add a field whose value is already JSON (an array or object the caller built). */
void mk_trace_json(struct mk_trace_event *ev, const char *key, const char *json);
/* Finish the event and hand the line (without newline) to every sink. */
void mk_trace_end(struct mk_trace_event *ev);

/* A sink receives each finished line (len bytes, no newline, not NUL-terminated). */
typedef void (*mk_trace_sink_fn)(void *opaque, const char *line, size_t len);

/* Attach a sink; returns its id (>= 0) for mk_trace_remove_sink, or -1 if all slots are
 * taken. Borrows opaque until removed. */
int mk_trace_add_sink(mk_trace_sink_fn fn, void *opaque);
void mk_trace_remove_sink(int id);

/* Attach a sink writing JSON lines to path ("-" = stdout). Returns the sink id, or -1 with
 * err naming the file and the reason. Closed by mk_trace_remove_sink. */
int mk_trace_open_file(const char *path, struct mk_err *err);

#endif
