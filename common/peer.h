/*
 * Peer: who is at the other end of a TCP connection, as a log line says it
 * ("127.0.0.1:51234", "[::1]:51234" is written "::1:51234"). The broker's connections, the
 * HTTP server's and the proxy's all name their clients this way.
 *
 * Thread: the loop that owns the handle.
 */
#ifndef MK_COMMON_PEER_H
#define MK_COMMON_PEER_H

#include <stddef.h>
#include <uv.h>

/* Write the peer's address and port into out (len bytes), or "?" when it has none. */
void mk_peer_name(const uv_tcp_t *tcp, char *out, size_t len);

/* The peer's address alone into ip (len bytes; "?" when it has none) and its port into *port
 * (0 when none): what max.connections.per.ip counts by. */
void mk_peer_address(const uv_tcp_t *tcp, char *ip, size_t len, int *port);

#endif
