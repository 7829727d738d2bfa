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

enum mk_log_level { MK_LOG_ERROR, MK_LOG_WARN, MK_LOG_INFO, MK_LOG_DEBUG };

/* Write one line "[who] LEVEL message". who names the part: "broker", "producer". */
void mk_log(enum mk_log_level level, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Lines below this level are dropped (default INFO; MINIKAFKA_DEBUG=1 makes it DEBUG). */
void mk_log_set_level(enum mk_log_level level);

#endif
