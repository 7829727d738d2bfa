/*
 * Trace: every step of a record's life as one JSON line (DESIGN.md 3.4).
 *
 *   {"ts_us":1834567,"side":"broker","event":"append","topic":"t","partition":0,
 *    "base_offset":10,"last_offset":14}
 *
 * Producer and broker emit events through the same functions, so one file (or
 * one timeline in a lab) interleaves both sides by ts_us. An event is built field
 * by field, and delivered whole to every sink: the --trace file, a lab's timeline
 * renderer, the admin API's event stream.
 *
 * Off by default, and cheap when off: callers guard with mk_trace_on(), a
 * single relaxed atomic load, before building anything.
 *
 *   if (mk_trace_on()) {
 *     struct mk_trace_event ev;
 *     mk_trace_begin(&ev, "broker", "append");
 *     mk_trace_str(&ev, "topic", name);
 *     mk_trace_int(&ev, "base_offset", base);
 *     mk_trace_array_begin(&ev, "isr");          "isr":[0,2]
 *     for (...) mk_trace_int(&ev, NULL, id);     inside an array the key is NULL
 *     mk_trace_array_end(&ev);
 *     mk_trace_end(&ev);
 *   }
 *
 * Every line is valid JSON in valid UTF-8, whatever bytes went in: no event is ever
 * written as JSON text by hand (arrays and objects nest through the builder). Strings
 * are escaped; each bad UTF-8 sequence in them (utf8.h: each "maximal subpart") becomes
 * one U+FFFD, as does a NUL byte (JSON could write it as \u0000, but jansson, which reads
 * these lines back in the labs and tests, refuses it by default).
 *
 * Nothing is cut silently. The event starts in a buffer inside struct mk_trace_event (on
 * the caller's stack: an ordinary event costs no allocation) and moves to the heap when it
 * outgrows it. Two limits keep one event's memory bounded, and each says so in the event:
 *   - a string value longer than MK_TRACE_MAX_STRING bytes keeps its first bytes (whole
 *     characters) and ends with "…"; the event then carries "truncated_strings":N;
 *   - an event that would exceed MK_TRACE_MAX_LINE bytes (or finds no memory to grow)
 *     keeps only ts_us, side and event, plus "fields_dropped":"<why>".
 *
 * Thread: any; an event belongs to the thread building it. Sinks are called with the trace
 * lock held, one line at a time, on the emitting thread: a sink must be quick and must not
 * emit events itself.
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

enum {
  MK_TRACE_MAX_STRING = 4096,       /* input bytes of one string value kept */
  MK_TRACE_MAX_LINE = 256 * 1024,   /* bytes of one event (the admin stream holds ~1 MiB) */
  MK_TRACE_MAX_DEPTH = 16,          /* open arrays and objects, the event itself included */
};

/* One event being built. Fields are the builder's own: use the functions below. */
struct mk_trace_event {
  char *buf;           /* inline, or heap once the event outgrew it */
  size_t len, cap;
  size_t head_len;     /* ts_us, side, event: what is left if the fields must go */
  const char *dropped; /* why the fields were dropped, or NULL */
  int depth;           /* containers open; 1 = the event's own object */
  int skipped;         /* containers opened beyond MK_TRACE_MAX_DEPTH, written as null */
  int truncated_strings;
  uint32_t is_array;   /* bit d: the container at depth d+1 is an array */
  uint32_t has_items;  /* bit d: it already holds something (a comma comes first) */
  char inline_buf[1536];
};

/* Start an event: writes ts_us, side ("producer" | "broker") and the event name. Every
 * begin must be matched by mk_trace_end (which frees what the event allocated) or
 * mk_trace_cancel. */
void mk_trace_begin(struct mk_trace_event *ev, const char *side, const char *event);

/* Values. In an object (the event itself or mk_trace_object_begin) each takes its key (a
 * NULL key there is a caller's mistake, written as ""); in an array the key is NULL (a key
 * given there is ignored). Keys and strings may hold any bytes (see above: control
 * characters are escaped, bad UTF-8 replaced); a NULL string, or a negative len, is
 * written as null. */
void mk_trace_str(struct mk_trace_event *ev, const char *key, const char *value);
void mk_trace_strn(struct mk_trace_event *ev, const char *key, const char *value, int len);
void mk_trace_int(struct mk_trace_event *ev, const char *key, int64_t value);
void mk_trace_bool(struct mk_trace_event *ev, const char *key, bool value);

/* Nested arrays and objects: a value like the others (key NULL inside an array), open until
 * the matching _end. Deeper than MK_TRACE_MAX_DEPTH the container is written as null and
 * everything inside it is skipped. */
void mk_trace_array_begin(struct mk_trace_event *ev, const char *key);
void mk_trace_array_end(struct mk_trace_event *ev);
void mk_trace_object_begin(struct mk_trace_event *ev, const char *key);
void mk_trace_object_end(struct mk_trace_event *ev);

/* Finish the event (closing any array or object still open), hand the line (without
 * newline) to every sink, and free what the event allocated. */
void mk_trace_end(struct mk_trace_event *ev);

/* Drop an event without delivering it (an event begun before the outcome it reports was
 * known, when there turns out to be nothing to report), freeing what it allocated. */
void mk_trace_cancel(struct mk_trace_event *ev);

/* A sink receives each finished line (len bytes, no newline, not NUL-terminated). */
typedef void (*mk_trace_sink_fn)(void *opaque, const char *line, size_t len);

/* Finish the event as mk_trace_end does, but hand the line to fn alone rather than to the
 * sinks (fn NULL: to the sinks, as mk_trace_end). For a state one reader needs and the
 * others already had: the snapshot a new /v1/events client starts from. Called without
 * the trace lock, on the caller's thread. */
void mk_trace_end_to(struct mk_trace_event *ev, mk_trace_sink_fn fn, void *opaque);

/* Attach a sink; returns its id (>= 0) for mk_trace_remove_sink, or -1 if all slots are
 * taken. Borrows opaque until removed. */
int mk_trace_add_sink(mk_trace_sink_fn fn, void *opaque);
void mk_trace_remove_sink(int id);

/* Attach a sink writing JSON lines to path ("-" = stdout). Returns the sink id, or -1 with
 * err naming the file and the reason. Closed by mk_trace_remove_sink. */
int mk_trace_open_file(const char *path, struct mk_err *err);

#endif
