/*
 * Log: one line per event worth a human's attention, on stderr.
 *
 *   [broker] WARN closing connection 127.0.0.1:51234 -> broker 1: frame of 104857700 bytes
 *            exceeds socket.request.max.bytes (104857600)
 *
 * Levels: ERROR (something failed that should not), WARN (bad input from a peer, handled),
 * INFO (start, stop, topic created). DEBUG lines appear only with MINIKAFKA_DEBUG=1 in the
 * environment. The trace (trace.h) is for machines; the log is for people.
 * Thread: any (each line is written with one call, so lines do not interleave).
 */
#ifndef MK_COMMON_LOG_H
#define MK_COMMON_LOG_H

#include <stdint.h>

enum mk_log_level { MK_LOG_ERROR, MK_LOG_WARN, MK_LOG_INFO, MK_LOG_DEBUG };

/* Write one line "[who] LEVEL message". who names the part: "broker", "producer". */
void mk_log(enum mk_log_level level, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Lines below this level are dropped (default INFO; MINIKAFKA_DEBUG=1 makes it DEBUG). */
void mk_log_set_level(enum mk_log_level level);

/* A rate limit for lines a peer can cause at will (a client sending garbage in a loop must
 * not bury the log): at most MK_LOG_LIMIT_LINES lines per MK_LOG_LIMIT_WINDOW_MS through
 * one limiter; the rest are counted, and the first line of a later window says how many
 * were left out. Zero-initialise one per source of such lines. Thread: the limiter
 * belongs to one thread (the broker loop). */
enum { MK_LOG_LIMIT_LINES = 20, MK_LOG_LIMIT_WINDOW_MS = 10000 };
struct mk_log_limit {
  int64_t window_start_ms;  /* monotonic ms when the current window began */
  int lines;                /* lines written in it */
  long suppressed;          /* lines left out since the last one written */
};

/* mk_log through lim (see struct mk_log_limit). */
void mk_log_limited(struct mk_log_limit *lim, enum mk_log_level level, const char *who,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
