/*
 * nodelay_preload.so: an LD_PRELOAD shim that sets TCP_NODELAY on every TCP socket the
 * process accepts. broker_bench.sh runs librdkafka's mock cluster under it:
 *
 *   LD_PRELOAD=build/tests/bench/nodelay_preload.so build/tests/bench/mock_cluster
 *
 * Why: the mock leaves Nagle's algorithm on for the connections it accepts. Nagle holds
 * back a segment smaller than the MSS while earlier data on the connection is still
 * unacknowledged. The mock writes each response with one sendmsg(), so a strict
 * ping-pong (one request in flight) is not hurt: each reply is the only unacknowledged
 * data. But with several requests in flight (a producer pipelining ProduceRequests), a
 * reply written while the previous reply is unacknowledged waits for the client's ACK, and
 * a client with nothing to send delays that ACK (Linux's delayed ACK, up to ~40 ms). So the
 * last replies of a burst can arrive ~40 ms late: a tail that measures the mock's socket
 * options, not the mock. (Measured here: 20,000 records with linger.ms=0 take ~60 ms
 * against the stock mock, ~20 ms with this shim.) Kafka's broker sets TCP_NODELAY on
 * every connection, and so must ours; this shim gives the mock the same.
 *
 * How: we define accept() and accept4() ourselves. The dynamic linker finds ours first
 * (LD_PRELOAD), and we call the C library's real ones through dlsym(RTLD_NEXT, ...).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

/* Set TCP_NODELAY on fd if it is a TCP (IPv4 or IPv6) socket; ignore anything else
 * (Unix sockets, errors). Leaves errno as it was. */
static void set_nodelay(int fd) {
  if (fd < 0) return;
  int saved_errno = errno;
  struct sockaddr_storage addr;
  socklen_t len = sizeof addr;
  if (getsockname(fd, (struct sockaddr *)&addr, &len) == 0 &&
      (addr.ss_family == AF_INET || addr.ss_family == AF_INET6)) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  errno = saved_errno;
}

/* glibc declares the address argument as __SOCKADDR_ARG (a "struct sockaddr *" that also
 * accepts the other sockaddr types); our definitions must use the same type. The real
 * functions are looked up on first use; two threads racing here store the same pointer. */
typedef int accept_fn(int, __SOCKADDR_ARG, socklen_t *);
typedef int accept4_fn(int, __SOCKADDR_ARG, socklen_t *, int);

int accept(int fd, __SOCKADDR_ARG addr, socklen_t *len) {
  static accept_fn *real_accept;
  if (!real_accept) real_accept = (accept_fn *)dlsym(RTLD_NEXT, "accept");
  int client = real_accept(fd, addr, len);
  set_nodelay(client);
  return client;
}

int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *len, int flags) {
  static accept4_fn *real_accept4;
  if (!real_accept4) real_accept4 = (accept4_fn *)dlsym(RTLD_NEXT, "accept4");
  int client = real_accept4(fd, addr, len, flags);
  set_nodelay(client);
  return client;
}
