/*
 * Listeners: the proxy's stand-in for each broker of the cluster. Kafka: SocketServer's
 * acceptor, one per broker, as clients see it.
 *
 * Broker i (the i-th the proxy learnt of) is reached at the proxy's port + i, or at a free
 * port when the proxy was given port 0 (labs, tests). broker_down closes the listener and
 * every connection on it, so clients see that broker die exactly as they would a real one
 * (refused connections, broken sockets) while the real broker carries on serving everyone
 * else; broker_up listens again on the same port.
 *
 * Thread: the proxy's loop.
 */
#include <stdlib.h>

#include "proxy/proxy_internal.h"

static void free_handle(uv_handle_t *h) { free(h); }

static void on_connection(uv_stream_t *server, int status) {
  struct mk_proxy_broker *b = server->data;
  if (status < 0 || !b->up || b->proxy->stopping) return;
  mk_proxy_conn_accept(b, server);
}

int mk_proxy_listen(struct mk_proxy_broker *b, struct mk_err *err) {
  struct mk_proxy *p = b->proxy;
  int port = b->listen_port ? b->listen_port : p->cfg.port ? p->cfg.port + b->index : 0;
  if (port > 65535)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "no port left for broker %d: %d + %d is past "
                      "65535", b->node_id, p->cfg.port, b->index);
  struct sockaddr_storage addr;
  if (uv_ip4_addr(p->host, port, (struct sockaddr_in *)&addr) != 0 &&
      uv_ip6_addr(p->host, port, (struct sockaddr_in6 *)&addr) != 0)
    return mk_err_set(err, MK_ERR__INVALID_ARG, "--host %s is not an IP address", p->host);
  b->listener = malloc(sizeof *b->listener);
  if (!b->listener) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  uv_tcp_init(&p->loop, b->listener);
  b->listener->data = b;
  int rc = uv_tcp_bind(b->listener, (struct sockaddr *)&addr, 0);
  if (!rc) rc = uv_listen((uv_stream_t *)b->listener, 128, on_connection);
  if (rc) {
    uv_close((uv_handle_t *)b->listener, free_handle);
    b->listener = NULL;
    return mk_err_set(err, MK_ERR__TRANSPORT, "cannot listen on %s:%d for broker %d: %s",
                      p->host, port, b->node_id, uv_strerror(rc));
  }
  struct sockaddr_storage bound;
  int len = sizeof bound;
  uv_tcp_getsockname(b->listener, (struct sockaddr *)&bound, &len);
  b->listen_port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                     : ((struct sockaddr_in *)&bound)->sin_port);
  b->up = true;
  return 0;
}

void mk_proxy_unlisten(struct mk_proxy_broker *b, const char *why) {
  while (b->conns) mk_proxy_conn_close(b->conns, why);
  if (b->listener) uv_close((uv_handle_t *)b->listener, free_handle);
  b->listener = NULL;
  b->up = false;
}
