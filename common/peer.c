/*
 * Peer: see peer.h.
 */
#include "common/peer.h"

#include <stdio.h>

void mk_peer_name(const uv_tcp_t *tcp, char *out, size_t len) {
  struct sockaddr_storage addr;
  int alen = sizeof addr;
  snprintf(out, len, "?");
  if (uv_tcp_getpeername(tcp, (struct sockaddr *)&addr, &alen) != 0) return;
  char ip[48] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET) {
    uv_ip4_name((struct sockaddr_in *)&addr, ip, sizeof ip);
    port = ntohs(((struct sockaddr_in *)&addr)->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    uv_ip6_name((struct sockaddr_in6 *)&addr, ip, sizeof ip);
    port = ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
  }
  snprintf(out, len, "%s:%d", ip, port);
}
