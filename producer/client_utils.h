/*
 * ClientUtils: from a name to the addresses the producer connects to, as Kafka's clients
 * do it (client.dns.lookup). Kafka: clients/ClientUtils.java (parseAndValidateAddresses,
 * resolve, filterPreferredAddresses), ClientDnsLookup.java, HostResolver.java,
 * DefaultHostResolver.java, ClusterConnectionStates.java (which address each attempt uses).
 * Lab: labs/bootstrap/README.md.
 *
 *   when the producer is created (mk_client_bootstrap_servers): every bootstrap.servers
 *   entry is resolved once.
 *     use_all_dns_ips (the default): the entry stays a name ("localhost:9092"); a name
 *       with no address is dropped with a warning.
 *     resolve_canonical_bootstrap_servers_only: the entry becomes one entry per address,
 *       each named by the address's canonical host name (a reverse lookup: Java's
 *       InetAddress.getCanonicalHostName), so the connections carry the brokers' own names
 *       (what a Kerberos service principal is checked against) instead of an alias's.
 *     No entry left: the producer refuses to start, as Java's ConfigException does.
 *   when a connection is opened (mk_client_resolve, called by network_client.c for every
 *   broker and bootstrap entry, in either mode): the name is resolved and only addresses of
 *   the first address's family are kept (IPv4 or IPv6, not both); each connection attempt
 *   uses the next of them, starting over (resolving again) when they are used up.
 *
 * The resolver is Kafka's HostResolver: mk_producer_config's host_resolver, or by default
 * the system's (getaddrinfo), with IPv4 addresses put first as the JVM does by default
 * (java.net.preferIPv6Addresses=false), so a Java client and this one pick the same family.
 * Resolution happens on the calling thread and may block, as in Java (whose network thread
 * resolves too): numeric addresses and /etc/hosts names are instant.
 *
 * Thread: any (app at creation, sender at connect). Memory: the caller's buffers.
 */
#ifndef MK_PRODUCER_CLIENT_UTILS_H
#define MK_PRODUCER_CLIENT_UTILS_H

#include <stddef.h>
#include <sys/socket.h>

#include "producer/producer_config.h"
#include "protocol/errors.h"

enum { MK_CLIENT_MAX_ADDRESSES = 16 };

/* Split "host:port" or "[v6]:port" into host (without brackets) and port. Returns 0 or -1. */
int mk_client_split_host_port(const char *url, char *host, size_t size, int *port);

/* An address as text: "127.0.0.1" or "::1" (without the port). */
void mk_client_address_text(const struct sockaddr_storage *addr, char *buf, size_t size);

/* Every address of host from r (NULL: the system resolver, IPv4 first), up to
 * MK_CLIENT_MAX_ADDRESSES into out. Returns how many (at least 1), or -1 with err saying
 * why (unknown host). */
int mk_client_resolve_all(const struct mk_host_resolver *r, const char *host,
                          struct sockaddr_storage *out, struct mk_err *err);

/* ClientUtils.resolve: what mk_client_resolve_all returns, then only the addresses of the
 * first one's family (filterPreferredAddresses), in order. Returns how many, or -1. *nall
 * (may be NULL) gets how many there were before the filter, all[] (may be NULL) them. */
int mk_client_resolve(const struct mk_host_resolver *r, const char *host,
                      struct sockaddr_storage *out, struct sockaddr_storage *all, int *nall,
                      struct mk_err *err);

/* ClientUtils.parseAndValidateAddresses for cfg's bootstrap.servers and client.dns.lookup:
 * the entries to bootstrap from, as a new "host:port" list in *out (*n of them; free each
 * and the array). Emits one `bootstrap` trace event per entry, logs a warning per entry
 * that does not resolve. Returns 0, or MK_ERR__INVALID_ARG when no entry resolves. */
int mk_client_bootstrap_servers(const struct mk_producer_config *cfg, char ***out, int *n,
                                struct mk_err *err);

#endif
