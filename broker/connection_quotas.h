/*
 * Connection quotas: how many connections a virtual broker takes, from whom, and for how
 * long it keeps the ones that do nothing. Kafka: ConnectionQuotas in SocketServer.scala
 * (max.connections, max.connections.per.ip), Selector's idle expiry
 * (connections.max.idle.ms).
 *
 *   max.connections          a full broker stops accepting: the new connection waits in
 *                            the kernel's listen backlog (socket.listen.backlog.size)
 *                            until one closes, as Kafka's acceptor blocks
 *   max.connections.per.ip   a connection beyond it is accepted, logged and closed at
 *                            once, as Kafka does (TooManyConnectionsException)
 *   connections.max.idle.ms  a connection that has read and written nothing for this
 *                            long, with no request waiting for its answer, is closed
 *   socket.request.read.timeout.ms
 *                            minikafka's own: a request frame must arrive whole within
 *                            this long of its first byte, not counting the time the broker
 *                            itself stopped reading; else the connection is closed. Kafka
 *                            has no such limit (its frames are allocated whole up front
 *                            and a trickling client is not idle), so a client sending one
 *                            byte a second could hold a connection and its memory forever.
 *
 * One timer per broker checks every connection a few times per the shorter limit (at most
 * once a second): connection counts stay in struct mk_listener, times in struct mk_conn.
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_CONNECTION_QUOTAS_H
#define MK_BROKER_CONNECTION_QUOTAS_H

#include <stdbool.h>

struct mk_broker;
struct mk_listener;
struct mk_conn;

/* Whether l may take one more connection now (max.connections). */
bool mk_connection_quotas_slot_free(const struct mk_listener *l);

/* Whether c, just accepted, is one too many from its IP address (max.connections.per.ip):
 * then the caller closes it. c is already counted in l->conns. */
bool mk_connection_quotas_over_ip_limit(const struct mk_listener *l, const struct mk_conn *c);

/* Start the timer that closes idle connections and stalled frames (from mk_broker_new). */
void mk_connection_quotas_start(struct mk_broker *b);

#endif
