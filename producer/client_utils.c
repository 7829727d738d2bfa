/*
 * ClientUtils: see client_utils.h.
 */
#define _GNU_SOURCE  /* asprintf */
#include "producer/client_utils.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/trace.h"

int mk_client_split_host_port(const char *url, char *host, size_t size, int *port) {
  const char *colon = strrchr(url, ':');
  if (!colon || colon == url) return -1;
  const char *h = url;
  size_t len = (size_t)(colon - url);
  if (h[0] == '[' && len >= 2 && h[len - 1] == ']') {  /* [v6]:port */
    h++;
    len -= 2;
  }
  if (len == 0 || len >= size) return -1;
  memcpy(host, h, len);
  host[len] = 0;
  *port = atoi(colon + 1);
  return 0;
}

void mk_client_address_text(const struct sockaddr_storage *addr, char *buf, size_t size) {
  const void *in = addr->ss_family == AF_INET6
                       ? (const void *)&((const struct sockaddr_in6 *)addr)->sin6_addr
                       : (const void *)&((const struct sockaddr_in *)addr)->sin_addr;
  if (!inet_ntop(addr->ss_family, in, buf, (socklen_t)size)) snprintf(buf, size, "?");
}

/* DefaultHostResolver: getaddrinfo, IPv4 first (stable), as the JVM's getAllByName. */
static int system_resolve(const char *host, struct sockaddr_storage *out, int max,
                          struct mk_err *err) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(host, NULL, &hints, &res);
  if (rc) return mk_err_set(err, MK_ERR_NETWORK_EXCEPTION, "%s: %s", host, gai_strerror(rc)), -1;
  int n = 0;
  for (int family = 0; family < 2; family++)
    for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
      if (ai->ai_family != (family == 0 ? AF_INET : AF_INET6)) continue;
      bool seen = false;  /* getaddrinfo may list an address once per protocol */
      for (int i = 0; i < n && !seen; i++)
        seen = memcmp(&out[i], ai->ai_addr, ai->ai_addrlen) == 0;
      if (seen) continue;
      memset(&out[n], 0, sizeof out[n]);
      memcpy(&out[n++], ai->ai_addr, ai->ai_addrlen);
    }
  freeaddrinfo(res);
  if (n == 0) return mk_err_set(err, MK_ERR_NETWORK_EXCEPTION, "%s: no address", host), -1;
  return n;
}

int mk_client_resolve_all(const struct mk_host_resolver *r, const char *host,
                          struct sockaddr_storage *out, struct mk_err *err) {
  int n = r ? r->resolve(r->opaque, host, out, MK_CLIENT_MAX_ADDRESSES, err)
            : system_resolve(host, out, MK_CLIENT_MAX_ADDRESSES, err);
  if (n == 0) mk_err_set(err, MK_ERR_NETWORK_EXCEPTION, "%s: no address", host);
  return n > 0 ? n : -1;
}

int mk_client_resolve(const struct mk_host_resolver *r, const char *host,
                      struct sockaddr_storage *out, struct sockaddr_storage *all, int *nall,
                      struct mk_err *err) {
  struct sockaddr_storage found[MK_CLIENT_MAX_ADDRESSES];
  int n = mk_client_resolve_all(r, host, found, err);
  if (nall) *nall = n;
  if (n < 0) return -1;
  if (all) memcpy(all, found, (size_t)n * sizeof *found);
  int kept = 0;
  for (int i = 0; i < n; i++)  /* filterPreferredAddresses: the first one's family only */
    if (found[i].ss_family == found[0].ss_family) out[kept++] = found[i];
  return kept;
}

/* InetAddress.getCanonicalHostName, for the system resolver: a reverse lookup that must
 * find a name, else the address as text. */
static void canonical_name(const struct mk_host_resolver *r, const struct sockaddr_storage *a,
                           char *name, size_t size) {
  if (r) {
    if (r->canonical_name)
      r->canonical_name(r->opaque, a, name, size);
    else
      mk_client_address_text(a, name, size);
    return;
  }
  socklen_t len = a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                           : sizeof(struct sockaddr_in);
  if (getnameinfo((const struct sockaddr *)a, len, name, (socklen_t)size, NULL, 0,
                  NI_NAMEREQD) != 0)
    mk_client_address_text(a, name, size);
}

/* A "host:port" entry, with brackets around an IPv6 address. */
static char *entry(const char *host, int port) {
  char *e = NULL;
  bool v6 = strchr(host, ':') != NULL;
  if (asprintf(&e, "%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port) < 0) return NULL;
  return e;
}

static void trace_bootstrap(const char *url, const char *lookup,
                            const struct sockaddr_storage *addrs, int n, char **entries,
                            int nentries, const char *error) {
  if (!mk_trace_on()) return;
  struct mk_trace_event ev;
  mk_trace_begin(&ev, "producer", "bootstrap");
  mk_trace_str(&ev, "server", url);
  mk_trace_str(&ev, "client_dns_lookup", lookup);
  mk_trace_array_begin(&ev, "addresses");
  for (int i = 0; i < n; i++) {
    char text[64];
    mk_client_address_text(&addrs[i], text, sizeof text);
    mk_trace_str(&ev, NULL, text);
  }
  mk_trace_array_end(&ev);
  mk_trace_array_begin(&ev, "bootstrap_servers");
  for (int i = 0; i < nentries; i++) mk_trace_str(&ev, NULL, entries[i]);
  mk_trace_array_end(&ev);
  if (error) mk_trace_str(&ev, "error", error);
  mk_trace_end(&ev);
}

int mk_client_bootstrap_servers(const struct mk_producer_config *cfg, char ***out, int *n,
                                struct mk_err *err) {
  bool canonical = cfg->client_dns_lookup == MK_CLIENT_DNS_RESOLVE_CANONICAL_BOOTSTRAP_SERVERS_ONLY;
  const char *lookup = canonical ? "resolve_canonical_bootstrap_servers_only" : "use_all_dns_ips";
  int cap = cfg->num_bootstrap_servers * MK_CLIENT_MAX_ADDRESSES;
  char **list = calloc((size_t)(cap ? cap : 1), sizeof *list);
  if (!list) return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  int count = 0;
  for (int i = 0; i < cfg->num_bootstrap_servers; i++) {
    const char *url = cfg->bootstrap_servers[i];
    char host[256];
    int port;
    if (mk_client_split_host_port(url, host, sizeof host, &port)) continue;  /* checked by set */
    struct sockaddr_storage addrs[MK_CLIENT_MAX_ADDRESSES];
    struct mk_err rerr = {0};
    int na = mk_client_resolve_all(cfg->host_resolver, host, addrs, &rerr);
    if (na < 0) {
      mk_log(MK_LOG_WARN, "producer",
             "bootstrap.servers entry %s left out: its host %s does not resolve (%s)", url, host,
             rerr.msg);
      trace_bootstrap(url, lookup, NULL, 0, NULL, 0, rerr.msg);
      continue;
    }
    int first = count;
    if (!canonical) {
      list[count] = strdup(url);
      if (list[count]) count++;
    } else {
      for (int k = 0; k < na; k++) {
        char name[256];
        struct sockaddr_storage again[MK_CLIENT_MAX_ADDRESSES];
        canonical_name(cfg->host_resolver, &addrs[k], name, sizeof name);
        if (mk_client_resolve_all(cfg->host_resolver, name, again, &rerr) < 0) {
          mk_log(MK_LOG_WARN, "producer",
                 "bootstrap.servers entry %s: the canonical name %s of one of its addresses "
                 "does not resolve (%s); left out", url, name, rerr.msg);
          continue;
        }
        if ((list[count] = entry(name, port))) count++;
      }
    }
    trace_bootstrap(url, lookup, addrs, na, list + first, count - first, NULL);
  }
  if (count == 0) {
    free(list);
    return mk_err_set(err, MK_ERR__INVALID_ARG,
                      "No resolvable bootstrap urls given in bootstrap.servers");
  }
  *out = list;
  *n = count;
  return 0;
}
