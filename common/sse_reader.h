/*
 * SSE reader: the client's side of a Server-Sent Events stream (the HTML Living Standard's
 * "event stream" format), as GET /v1/events sends it (common/http_server.h), for
 * `minikafka timeline --follow URL`. Also reads the same lines without HTTP around them: a
 * saved stream (curl -N ... > FILE) or a plain --trace file, one event per line.
 *
 * Bytes go in as they arrive, in pieces of any size; each complete event comes out through
 * a callback, its data: lines joined with "\n".
 *
 *   HTTP mode   "HTTP/1.1 200 OK", headers up to a blank line, then the stream. A status
 *               other than 200, a body that is not text/event-stream, or a chunked one
 *               (which our server never sends) is an error that names what came.
 *   plain mode  no HTTP: "data: X" lines and blank lines as in a stream, ": ..." comments
 *               skipped, and any other non-empty line is an event by itself (a trace
 *               file's JSON line).
 * Lines end with "\n", "\r\n" or "\r". A line longer than MK_SSE_MAX_LINE, or an event
 * whose data grows past it, is skipped whole and counted: memory stays bounded whatever
 * the other side sends.
 *
 * Thread: any; a reader belongs to one thread.
 */
#ifndef MK_COMMON_SSE_READER_H
#define MK_COMMON_SSE_READER_H

#include <stdbool.h>
#include <stddef.h>

enum { MK_SSE_MAX_LINE = 1 << 20 };

/* One event: len bytes of data (not NUL-terminated). */
typedef void (*mk_sse_event_fn)(void *opaque, const char *data, size_t len);

struct mk_sse_reader {
  bool http;            /* HTTP mode (set by init) */
  int state;            /* where in the response we are (sse_reader.c) */
  int status;           /* HTTP status, once read */
  bool event_stream;    /* Content-Type: text/event-stream seen */
  bool chunked;         /* Transfer-Encoding: chunked seen */
  char *line;           /* the line being read */
  size_t line_len, line_cap;
  bool line_too_long;   /* skipping the rest of an overlong line */
  bool after_cr;        /* the last byte was "\r": a "\n" right after it ends nothing */
  char *data;           /* the event being gathered from data: lines */
  size_t data_len, data_cap;
  bool has_data;
  bool data_too_long;   /* skipping the rest of an overlong event */
  size_t skipped;       /* lines or events skipped as too long */
  char error[200];      /* why the stream failed (state is then the failed one) */
};

/* Start a reader; http: expect an HTTP response first. */
void mk_sse_reader_init(struct mk_sse_reader *r, bool http);

/* Read n bytes at p, calling fn for each complete event. Returns 0, or -1 once the input
 * cannot be an event stream (r->error says why; later calls return -1 at once). */
int mk_sse_reader_feed(struct mk_sse_reader *r, const char *p, size_t n, mk_sse_event_fn fn,
                       void *opaque);

/* The input ended: in plain mode a last line without its newline, and an event without
 * its blank line, still count (a file's last line). Returns as feed does. */
int mk_sse_reader_finish(struct mk_sse_reader *r, mk_sse_event_fn fn, void *opaque);

/* Free what the reader holds. */
void mk_sse_reader_free(struct mk_sse_reader *r);

#endif
