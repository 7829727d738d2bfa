/*
 * Peer: see peer.h.
 */
#include "common/peer.h"

#include <stdio.h>

void mk_peer_address(const uv_tcp_t *tcp, char *ip, size_t len, int *port) {
  struct sockaddr_storage addr;
  int alen = sizeof addr;
  snprintf(ip, len, "?");
  *port = 0;
  if (uv_tcp_getpeername(tcp, (struct sockaddr *)&addr, &alen) != 0) return;
  if (addr.ss_family == AF_INET) {
    uv_ip4_name((struct sockaddr_in *)&addr, ip, len);
    *port = ntohs(((struct sockaddr_in *)&addr)->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    uv_ip6_name((struct sockaddr_in6 *)&addr, ip, len);
    *port = ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
  }
}

void mk_peer_name(const uv_tcp_t *tcp, char *out, size_t len) {
  char ip[48];
  int port;
  mk_peer_address(tcp, ip, sizeof ip, &port);
  if (port == 0) snprintf(out, len, "?");
  else snprintf(out, len, "%s:%d", ip, port);
}
