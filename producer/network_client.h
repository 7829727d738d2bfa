/*
 * NetworkClient: the Sender's connections to brokers. Kafka: clients/NetworkClient.java,
 * ClusterConnectionStates, InFlightRequests, ApiVersions.
 *
 * One connection per broker, opened on demand:
 *   connecting   resolve the host (client_utils.h: only the first address's family) and
 *                connect to one address; each new attempt at a node takes its next address
 *                (Java's ClusterConnectionStates), so a name's addresses are used in turn;
 *                every attempt is traced (connect, then connected or connect_failed) and a
 *                failed one logged at WARN, as Java's NetworkClient does; TCP_NODELAY on;
 *   negotiating  send ApiVersions (v3; v0 if the broker cannot answer v3) and, per API,
 *                use the highest version both sides know (protocol/api.h is our side);
 *   ready        requests go out pipelined, at most max.in.flight.requests.per.connection
 *                at a time; responses come back in order and are matched by correlation
 *                id; a request not answered within request.timeout.ms closes the
 *                connection (as Java does), failing everything in flight on it.
 *
 * Every request completes exactly once through its callback: with the decoded response,
 * or with an error (disconnect, timeout, a response that does not decode).
 *
 * Thread: sender (the loop's thread), all of it.
 */
#ifndef MK_PRODUCER_NETWORK_CLIENT_H
#define MK_PRODUCER_NETWORK_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "producer/producer_config.h"
#include "protocol/errors.h"

struct mk_network_client;

/* A request's completion. rc 0: body is the decoded response (valid during the call);
 * else err says why there is none (MK_ERR_NETWORK_EXCEPTION: disconnected;
 * MK_ERR_REQUEST_TIMED_OUT: no answer within request.timeout.ms; MK_ERR__DECODE). For a
 * request sent without expecting a response (acks=0), rc 0 and body NULL once written. */
typedef void (*mk_request_cb)(void *opaque, int32_t node, int api_version, void *body, int rc,
                              const struct mk_err *err);

/* on_event(arg) runs after anything that may let the Sender do more (a connection became
 * ready or closed, a response arrived). Borrows cfg. */
struct mk_network_client *mk_network_client_new(uv_loop_t *loop,
                                                const struct mk_producer_config *cfg,
                                                void (*on_event)(void *), void *arg);

/* Start connecting to node at host:port if not connected or connecting. */
void mk_network_client_connect(struct mk_network_client *nc, int32_t node, const char *host,
                               int port);
/* Ready for a request: connected, versions known, fewer than max.in.flight in flight. */
bool mk_network_client_ready(struct mk_network_client *nc, int32_t node);
/* Connected or connecting (so do not start another connection). */
bool mk_network_client_connecting_or_connected(struct mk_network_client *nc, int32_t node);
/* Requests in flight on node's connection. */
int mk_network_client_in_flight(struct mk_network_client *nc, int32_t node);
/* The version to use for api_key with node (the highest both support), or -1. */
int mk_network_client_version(struct mk_network_client *nc, int32_t node, int api_key);
/* The ready node with the fewest requests in flight, or INT32_MIN if none. */
int32_t mk_network_client_least_loaded(struct mk_network_client *nc);

/* Send a request (the request struct for api_key, encoded at the negotiated version).
 * expect_response false: complete once written (acks=0). *correlation_id (may be NULL) gets
 * the request's correlation id. Returns 0 (cb will run once), or an error (cb will not run). */
int mk_network_client_send(struct mk_network_client *nc, int32_t node, int api_key,
                           const void *body, bool expect_response, mk_request_cb cb,
                           void *opaque, int32_t *correlation_id, struct mk_err *err);

/* The correlation id the next request will carry (the Sender traces a request before it is
 * written, so the trace shows it before the broker's side). */
int32_t mk_network_client_next_correlation_id(const struct mk_network_client *nc);

/* Call fn(arg, node) whenever a connection to a broker closes or fails to open. */
void mk_network_client_on_disconnect(struct mk_network_client *nc, void (*fn)(void *, int32_t),
                                     void *arg);

/* Close connections whose oldest request is older than request.timeout.ms, failing their
 * requests; return ms until the next deadline (-1 none). */
int64_t mk_network_client_check_timeouts(struct mk_network_client *nc, int64_t now_ms);

/* Close everything, failing every request in flight with err; the client is freed once
 * its handles have closed (the loop must run on). */
void mk_network_client_close(struct mk_network_client *nc, const struct mk_err *err);

#endif
