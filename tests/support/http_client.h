/*
 * A blocking HTTP/1.1 client for tests of minikafka's HTTP servers (the admin API, the
 * dashboard, the schema registry): it sends exactly the bytes a test gives (so a test can
 * pipeline requests, or send bytes that are not HTTP) and reads until the server closes.
 */
#ifndef MK_TESTS_HTTP_CLIENT_H
#define MK_TESTS_HTTP_CLIENT_H

#include <stddef.h>

struct test_http_reply {
  int status;          /* of the first answer */
  char head[4096];     /* its status line and headers */
  char *body;          /* everything after its blank line (malloc'd, NUL-terminated): its
                          body, and the answers to pipelined requests after it */
  size_t body_len;
};

/* Connect to 127.0.0.1:port, send len bytes of text, read the answer until the server
 * closes the connection (so the last request should say "Connection: close"). Fails the
 * test on a socket error, after 5 s without a byte, or when no answer arrived. Free
 * r->body with free(). */
void test_http_request(int port, const char *text, size_t len, struct test_http_reply *r);

/* The two halves of test_http_request: connect and send (returns the socket), then read
 * until the server closes and close the socket (returns 0, or -1 when the server closed
 * without an answer: nothing to free then). */
int test_http_send(int port, const char *text, size_t len);
int test_http_read(int fd, struct test_http_reply *r);

/* The value of header name in r's first answer (any case), or "" if absent. Returns out. */
const char *test_http_header(const struct test_http_reply *r, const char *name, char *out,
                             size_t cap);

#endif
