/*
 * Client: blocking Kafka connections, for the CLI tools (topics, groups) and the consumer
 * (consumer/, which `minikafka consume` and the labs use).
 * Kafka: NetworkClient (one request, one response), ApiVersions / NodeApiVersions (which
 * version of each API to speak), Metadata (which node leads what); the consumer's
 * ConsumerNetworkClient, which also makes NetworkClient's answers something to wait for.
 *
 * The producer has its own Sender thread and event loop; the tools and the consumer only
 * need to ask and wait, so every call blocks until its answer arrives or the timeout passes:
 *
 *   mk_client_init        client.id and request.timeout.ms
 *   mk_client_bootstrap   connect to the first bootstrap server that answers
 *   mk_client_metadata    ask for topics; remember every node's host:port
 *   mk_client_node        the connection to node N (a partition's leader)
 *   mk_client_conn_init   a connection of one's own to host:port (a group coordinator)
 *   mk_client_call        send one request struct, wait for and decode its response
 *   mk_client_send / _receive   the same in two halves, to wait on several nodes at once
 *   mk_client_free
 *
 * A connection opens on first use: TCP (with TCP_NODELAY, as every Kafka client sets),
 * then an ApiVersions exchange. For each API we pick the highest version both we
 * (protocol/api.h) and the broker support. A broker that does not know our ApiVersions
 * version answers UNSUPPORTED_VERSION in the v0 layout with its own range, and we ask
 * again in one it knows, as Java's client does.
 *
 * After a transport failure or a timeout the connection is closed (the byte stream is no
 * longer in step) and opens again on the next call.
 *
 * Memory: a response's frame and everything decoded from it live in the arena passed to
 * mk_client_call, until the caller frees that arena.
 * Thread: app (one thread uses a client at a time; a second thread, such as the consumer's
 * heartbeat thread, has a client of its own).
 */
#ifndef MK_CLIENT_CLIENT_H
#define MK_CLIENT_CLIENT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "protocol/arena.h"
#include "protocol/errors.h"
#include "protocol/messages/metadata.h"

#define MK_CLIENT_MAX_API_KEY 63  /* DescribeCluster (60) is our highest */
#define MK_CLIENT_MAX_NODES 64

struct mk_client;

/* One TCP connection to one broker. */
struct mk_client_conn {
  struct mk_client *client;
  int32_t node_id;           /* -1 for the bootstrap connection */
  char host[256];
  int port;
  int fd;                    /* -1 while closed */
  /* Negotiated when the connection opens: the version of each api key, -1 if we and the
   * broker share none. */
  int16_t versions[MK_CLIENT_MAX_API_KEY + 1];
};

/* A request in flight: what mk_client_receive needs to decode its answer. */
struct mk_client_pending {
  int16_t api_key;
  int16_t api_version;
  int32_t correlation_id;
};

struct mk_client {
  char client_id[64];        /* client.id, sent in every request header */
  int timeout_ms;            /* request.timeout.ms: connect, and each request */
  volatile sig_atomic_t *cancel;  /* if set and nonzero, a wait interrupted by a signal
                                   * gives up with MK_ERR__STATE (Ctrl-C) */
  int wake_fd;               /* if >= 0, a wait gives up with MK_ERR__STATE ("woken up") as
                              * soon as this fd is readable (the consumer's wakeup pipe) */
  int32_t next_correlation_id;
  struct mk_client_conn bootstrap;
  int nnodes;
  struct mk_client_conn nodes[MK_CLIENT_MAX_NODES];  /* from the last Metadata answer */
};

/* Fill in settings: client_id as given, timeout_ms 30000 (Kafka's request.timeout.ms), no
 * cancel flag, wake_fd -1. Opens nothing. Borrows client_id (copied). */
void mk_client_init(struct mk_client *c, const char *client_id);

/* Connect to the first server of "host:port[,host:port...]" that accepts a connection and
 * answers ApiVersions. Returns 0, MK_ERR__INVALID_ARG for a list that does not parse, or
 * MK_ERR__TRANSPORT / MK_ERR__TIMED_OUT with err saying why each server failed
 * ("cannot connect to 127.0.0.1:9092: connection refused"). Borrows servers. */
int mk_client_bootstrap(struct mk_client *c, const char *servers, struct mk_err *err);

/* Send a Metadata request for these topics (ntopics < 0: all topics) on the bootstrap
 * connection, and learn every node's address from the answer. *out lives in arena.
 * allow_auto_create is the request's allow_auto_topic_creation (v4+).
 * Returns 0 or the transport/decode error. Borrows topics. */
int mk_client_metadata(struct mk_client *c, const char *const *topics, int ntopics,
                       bool allow_auto_create, struct mk_metadata_response **out,
                       struct mk_arena *arena, struct mk_err *err);

/* Where the coordinator of key is (FindCoordinator, asked on the bootstrap connection):
 * key_type 0 for a consumer group (key = group.id), 1 for a transactional.id. On success
 * *node, host (256 bytes) and *port are set. Returns 0, a transport error, or the broker's
 * error code (COORDINATOR_NOT_AVAILABLE while the internal topic is being created: retry)
 * with err saying it. Borrows key. */
int mk_client_find_coordinator(struct mk_client *c, const char *key, int8_t key_type,
                               int32_t *node, char host[256], int *port, struct mk_err *err);

/* The connection to node_id, as learned from the last metadata (not opened until used).
 * Returns NULL with MK_ERR_BROKER_NOT_AVAILABLE in err if the node is unknown. */
struct mk_client_conn *mk_client_node(struct mk_client *c, int32_t node_id, struct mk_err *err);

/* The version conn will speak for api_key (opening the connection if needed), or -1 with
 * err set (connection failed, or MK_ERR_UNSUPPORTED_VERSION if we share no version). */
int mk_client_version(struct mk_client_conn *conn, int api_key, struct mk_err *err);

/* Send body (the request struct for api_key, e.g. struct mk_fetch_request) at version
 * (-1: the negotiated one). *p says what to wait for. Borrows body. */
int mk_client_send(struct mk_client_conn *conn, int api_key, int version, const void *body,
                   struct mk_client_pending *p, struct mk_err *err);

/* Wait for the answer to p (at most timeout_ms) and decode it into *response (a struct for
 * the api's response, in arena). Returns 0, MK_ERR__TIMED_OUT, MK_ERR__TRANSPORT or
 * MK_ERR__DECODE (the connection is closed after any of these). */
int mk_client_receive(struct mk_client_conn *conn, const struct mk_client_pending *p,
                      void **response, struct mk_arena *arena, struct mk_err *err);

/* mk_client_send then mk_client_receive at the negotiated version. */
int mk_client_call(struct mk_client_conn *conn, int api_key, const void *body, void **response,
                   struct mk_arena *arena, struct mk_err *err);

/* Set up conn (closed) as a connection of client c to host:port, known as node_id: one that
 * is not among the metadata's nodes, such as the consumer's connection to its group
 * coordinator (Java gives that one a node id of its own, so that it never waits behind a
 * fetch). Opens nothing. Borrows host (copied). */
void mk_client_conn_init(struct mk_client_conn *conn, struct mk_client *c, int32_t node_id,
                         const char *host, int port);

/* Close the connection (it reopens on the next call). */
void mk_client_conn_close(struct mk_client_conn *conn);

/* Close every connection. The struct may be initialised again afterwards. */
void mk_client_free(struct mk_client *c);

/* "rVbY1cGAQdCMUm8Mx5ZAeA": a topic id as Kafka prints it (Uuid.toString: URL-safe base64
 * without padding). out must hold 23 bytes. */
void mk_client_uuid_string(const uint8_t id[16], char out[23]);


#endif
