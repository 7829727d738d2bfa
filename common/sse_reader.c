/*
 * SSE reader: lines out of bytes, then HTTP's status line and headers, then the stream's
 * fields. See sse_reader.h.
 */
#include "common/sse_reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { S_STATUS, S_HEADERS, S_BODY, S_FAILED };

void mk_sse_reader_init(struct mk_sse_reader *r, bool http) {
  memset(r, 0, sizeof *r);
  r->http = http;
  r->state = http ? S_STATUS : S_BODY;
}

void mk_sse_reader_free(struct mk_sse_reader *r) {
  free(r->line);
  free(r->data);
  r->line = r->data = NULL;
  r->line_cap = r->data_cap = 0;
}

static int fail(struct mk_sse_reader *r, const char *what, const char *line, size_t len) {
  int shown = len > 80 ? 80 : (int)len;
  snprintf(r->error, sizeof r->error, "%s%s%.*s%s", what, line ? ": \"" : "", line ? shown : 0,
           line ? line : "", line ? "\"" : "");
  for (char *p = r->error; *p; p++)  /* what the other side sent may be anything */
    if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?';
  r->state = S_FAILED;
  return -1;
}

/* Append n bytes to a growing buffer, within MK_SSE_MAX_LINE; false when they would not
 * fit (or no memory). */
static bool append(char **buf, size_t *len, size_t *cap, const char *p, size_t n) {
  if (n == 0) return true;  /* an empty "data:" line: nothing to copy, maybe no buffer yet */
  if (*len + n > MK_SSE_MAX_LINE) return false;
  if (*len + n > *cap) {
    size_t c = *cap ? *cap : 256;
    while (c < *len + n) c *= 2;
    if (c > MK_SSE_MAX_LINE) c = MK_SSE_MAX_LINE;
    char *grown = realloc(*buf, c);
    if (!grown) return false;
    *buf = grown;
    *cap = c;
  }
  memcpy(*buf + *len, p, n);
  *len += n;
  return true;
}

static void dispatch(struct mk_sse_reader *r, mk_sse_event_fn fn, void *opaque) {
  if (r->has_data && !r->data_too_long) fn(opaque, r->data ? r->data : "", r->data_len);
  r->has_data = r->data_too_long = false;
  r->data_len = 0;
}

static bool starts(const char *line, size_t len, const char *prefix) {
  size_t n = strlen(prefix);
  return len >= n && memcmp(line, prefix, n) == 0;
}

/* One line of the stream itself. */
static void stream_line(struct mk_sse_reader *r, const char *line, size_t len,
                        mk_sse_event_fn fn, void *opaque) {
  if (len == 0) {
    dispatch(r, fn, opaque);
    return;
  }
  if (line[0] == ':') return;  /* a comment */
  if (starts(line, len, "data")) {
    const char *colon = len > 4 && line[4] == ':' ? line + 4 : NULL;
    if (colon || len == 4) {
      const char *v = colon ? colon + 1 : line + len;
      if (v < line + len && *v == ' ') v++;
      size_t vlen = (size_t)(line + len - v);
      if (r->data_too_long) return;
      if ((r->has_data && !append(&r->data, &r->data_len, &r->data_cap, "\n", 1)) ||
          !append(&r->data, &r->data_len, &r->data_cap, v, vlen)) {
        r->data_too_long = true;
        r->skipped++;
      }
      r->has_data = true;
      return;
    }
  }
  if (starts(line, len, "event:") || starts(line, len, "id:") || starts(line, len, "retry:") ||
      r->http)
    return;  /* fields we do not use (and, in a real stream, unknown ones are ignored) */
  /* plain mode: a line of a trace file is an event by itself */
  dispatch(r, fn, opaque);
  fn(opaque, line, len);
}

/* The line just completed. Returns -1 when it ends the stream's hopes. */
static int end_line(struct mk_sse_reader *r, mk_sse_event_fn fn, void *opaque) {
  const char *line = r->line ? r->line : "";
  size_t len = r->line_len;
  r->line_len = 0;
  if (r->line_too_long) {
    r->line_too_long = false;
    r->skipped++;
    if (r->state == S_BODY) r->data_too_long = r->has_data = true;  /* the event is lost */
    else return fail(r, "a header line longer than 1 MiB", NULL, 0);
    return 0;
  }
  switch (r->state) {
    case S_STATUS: {
      /* "HTTP/1.1 200 OK": the status is the three digits after the first space. */
      const char *sp = memchr(line, ' ', len);
      size_t at = sp ? (size_t)(sp - line) + 1 : len;
      int status = 0;
      for (size_t i = at; i < at + 3 && i < len && line[i] >= '0' && line[i] <= '9'; i++)
        status = status * 10 + (line[i] - '0');
      if (!starts(line, len, "HTTP/") || status < 100)
        return fail(r, "not an HTTP response", line, len);
      r->status = status;
      if (status != 200) return fail(r, "the server did not answer 200 OK", line, len);
      r->state = S_HEADERS;
      return 0;
    }
    case S_HEADERS: {
      if (len == 0) {
        if (r->chunked)
          return fail(r, "a chunked answer (an event stream from minikafka is not chunked)",
                      NULL, 0);
        if (!r->event_stream)
          return fail(r, "the answer is not an event stream (no Content-Type: "
                         "text/event-stream): is the URL a broker's /v1/events?", NULL, 0);
        r->state = S_BODY;
        return 0;
      }
      char head[160];
      size_t n = len < sizeof head - 1 ? len : sizeof head - 1;
      memcpy(head, line, n);
      head[n] = '\0';
      if (strncasecmp(head, "content-type:", 13) == 0 && strstr(head, "text/event-stream"))
        r->event_stream = true;
      if (strncasecmp(head, "transfer-encoding:", 18) == 0 && strstr(head, "chunked"))
        r->chunked = true;
      return 0;
    }
    case S_BODY:
      stream_line(r, line, len, fn, opaque);
      return 0;
    default:
      return -1;
  }
}

int mk_sse_reader_feed(struct mk_sse_reader *r, const char *p, size_t n, mk_sse_event_fn fn,
                       void *opaque) {
  const char *end = p + n;
  while (p < end) {
    if (r->state == S_FAILED) return -1;
    if (r->after_cr) {
      r->after_cr = false;
      if (*p == '\n') {
        p++;
        continue;
      }
    }
    /* A run of ordinary bytes goes into the line in one copy. */
    const char *q = p;
    while (q < end && *q != '\n' && *q != '\r') q++;
    if (q > p && !r->line_too_long &&
        !append(&r->line, &r->line_len, &r->line_cap, p, (size_t)(q - p)))
      r->line_too_long = true;
    p = q;
    if (p == end) break;
    r->after_cr = *p == '\r';
    p++;
    if (end_line(r, fn, opaque) < 0) return -1;
  }
  return r->state == S_FAILED ? -1 : 0;
}

int mk_sse_reader_finish(struct mk_sse_reader *r, mk_sse_event_fn fn, void *opaque) {
  if (r->state == S_FAILED) return -1;
  if (r->state != S_BODY)
    return fail(r, "the connection closed before the answer's headers ended", NULL, 0);
  if (r->line_len || r->line_too_long) {
    if (end_line(r, fn, opaque) < 0) return -1;
  }
  if (!r->http) dispatch(r, fn, opaque);  /* a stream cut mid-event drops it, as browsers do */
  return 0;
}
