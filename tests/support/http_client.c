/* A blocking HTTP/1.1 client for tests; see http_client.h. */
#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

int test_http_send(int port, const char *text, size_t len) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
  for (size_t sent = 0; sent < len;) {
    ssize_t n = write(fd, text + sent, len - sent);
    if (n <= 0) fail_msg("sending the request failed after %zu of %zu bytes", sent, len);
    sent += (size_t)n;
  }
  return fd;
}

int test_http_read(int fd, struct test_http_reply *r) {
  size_t cap = 1 << 16, got = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (got == cap) buf = realloc(buf, cap *= 2);
    ssize_t n = read(fd, buf + got, cap - got);
    if (n < 0) fail_msg("reading the answer: timed out or failed");
    if (n == 0) break;
    got += (size_t)n;
  }
  close(fd);
  char *end = NULL;
  for (size_t i = 0; i + 3 < got; i++) {
    if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
      end = buf + i;
      break;
    }
  }
  if (!end) {
    free(buf);
    return -1;
  }
  size_t head_len = (size_t)(end - buf);
  assert_true(head_len < sizeof r->head);
  memcpy(r->head, buf, head_len);
  r->head[head_len] = '\0';
  r->body_len = got - head_len - 4;
  r->body = malloc(r->body_len + 1);
  memcpy(r->body, end + 4, r->body_len);
  r->body[r->body_len] = '\0';
  free(buf);
  assert_int_equal(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
  return 0;
}

void test_http_request(int port, const char *text, size_t len, struct test_http_reply *r) {
  if (test_http_read(test_http_send(port, text, len), r))
    fail_msg("no answer before the server closed the connection");
}

const char *test_http_header(const struct test_http_reply *r, const char *name, char *out,
                             size_t cap) {
  out[0] = '\0';
  for (const char *line = strstr(r->head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
    const char *p = line + 2;
    if (strncasecmp(p, name, strlen(name)) == 0 && p[strlen(name)] == ':') {
      p += strlen(name) + 1;
      while (*p == ' ') p++;
      size_t n = strcspn(p, "\r");
      if (n >= cap) n = cap - 1;
      memcpy(out, p, n);
      out[n] = '\0';
      break;
    }
  }
  return out;
}
