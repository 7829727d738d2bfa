/*
 * Network: client connections and the requests on them. Kafka: SocketServer.scala.
 *
 * As in libuv, a connection is a handle (long-lived: struct mk_conn) and a
 * request is a request (one frame in, at most one frame out: struct mk_req).
 *
 *   bytes --read--> frames --kafka_apis.c--> handler --mk_req_respond()--> queue --write--> bytes
 *
 * Clients pipeline: librdkafka and Java keep up to five requests in flight on
 * one connection and match responses by order as well as correlation id. So
 * every request joins its connection's queue when it arrives, and responses
 * leave strictly from the head of the queue: a request answered early (say,
 * Metadata) waits behind an older one still waiting (a Produce with acks=all).
 *
 * A request's lifetime: created when its frame is complete; the handler
 * answers at once or parks it in the purgatory (purgatory.h); it is freed when
 * its response has been handed to the socket, or when the connection closes.
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_NETWORK_H
#define MK_BROKER_NETWORK_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "broker/cluster.h"
#include "protocol/arena.h"
#include "protocol/frame.h"
#include "protocol/primitives.h"

struct mk_quota_client;

/* One virtual broker's socket side (Kafka's SocketServer acceptor): its listener and its
 * client connections. cluster.nodes[i] is what clients are told about it. */
struct mk_listener {
  struct mk_broker *broker;
  struct mk_node *node;        /* the model's view: id, port, up */
  uv_tcp_t *listener;          /* owned; NULL while down (freed when its close completes) */
  struct mk_conn *conns;       /* open client connections, linked through conn->next */
  struct mk_quota_client *quota_clients;  /* quota.c: each client id's produce rate here */
};

struct mk_req {
  /* Set when the request arrives; read-only afterwards. */
  struct mk_conn *conn;
  struct mk_broker *broker;
  struct mk_cluster *cluster;  /* &broker->cluster: what handlers read and change */
  struct mk_node *node;        /* the virtual broker it was sent to */
  struct mk_buffer *frame;     /* a reference: the frame without its size prefix (stored
                                  batches may keep it alive after the request is gone) */
  struct mk_arena arena;       /* the decoded body lives here */
  struct mk_request request;   /* header, api, body */
  int64_t received_us;
  const struct mk_fault *fault; /* an `error` fault that fired for this request, or NULL;
                                   valid during the handler call only (faults.h) */
  /* The answer. */
  struct mk_writer response;   /* the encoded response frame, once done */
  bool done;
  bool silent;                 /* done, but nothing is sent (acks=0 produce) */
  bool close_after;            /* close the connection once everything before is sent */
  struct mk_req *next;         /* the connection's queue, oldest first */
  /* Purgatory (delayed requests only; see purgatory.h). */
  bool (*try_complete)(struct mk_req *req, bool timed_out);
  void *op;                    /* the handler's state while waiting */
  void (*free_op)(void *op);
  struct mk_req *delayed_prev, *delayed_next;
  bool delayed;
  uv_timer_t *timer;           /* owned; closed and freed with the request */
};

struct mk_conn {
  uv_tcp_t tcp;
  struct mk_listener *listener;  /* the virtual broker it connected to */
  uint64_t id;                 /* 1, 2, ... per broker process: in trace events, so a
                                  response pairs with its request even when two
                                  connections use the same correlation ids */
  struct mk_conn *next;        /* listener->conns */
  char peer[64];               /* "127.0.0.1:51234", for log lines */
  /* Reading: the size prefix, then a buffer of exactly that size. */
  uint8_t size_buf[4];
  size_t size_len;
  struct mk_buffer *frame;     /* the frame being read, frame->size bytes once complete */
  size_t frame_len;            /* bytes of it read so far */
  uint8_t *scratch;            /* where small reads land before being split into frames */
  /* Requests in arrival order. */
  struct mk_req *head, *tail;
  bool draining;               /* reading stopped; closing once the answers are out */
  uv_timer_t *mute_timer;      /* owned: reading resumes when it fires (mk_conn_mute) */
  uv_shutdown_t shutdown;
  bool closing;
};

/* Bind and listen for l's virtual broker (port 0 picks a free one; l->node->port is set)
 * and mark it up. Returns 0 or MK_ERR__TRANSPORT with err naming the address and reason. */
int mk_network_listen(struct mk_listener *l, const char *host, int port, struct mk_err *err);
/* Stop listening, close every connection of l, and mark its virtual broker down. */
void mk_network_close(struct mk_listener *l, const char *why);
/* Close every client connection of l, and keep listening. Returns how many there were. */
int mk_network_close_connections(struct mk_listener *l, const char *why);

/* Encode body as the response to req (at the request's version), mark it done and send
 * whatever is now at the head of the queue. If encoding fails (a bug: we built something
 * the version cannot carry), the connection is closed with a log line. Borrows body. */
void mk_req_respond(struct mk_req *req, const void *body);
/* The same at an explicit version (ApiVersions answers an unknown version with v0). */
void mk_req_respond_version(struct mk_req *req, int version, const void *body);
/* Finish req without a response (acks=0). */
void mk_req_finish_silently(struct mk_req *req);
/* Stop reading the connection and close it once every answer queued before req is sent
 * (as Kafka does: it reads a connection's next request only after answering the last).
 * Logs why (if not NULL). */
void mk_req_close_connection(struct mk_req *req, const char *why);

/* n structs described by s, each set to its defaults, from the request's arena (freed with
 * the request): how handlers build response arrays. NULL if out of memory or n <= 0. */
void *mk_req_alloc(struct mk_req *req, const struct mk_schema *s, int32_t n);

/* Read nothing more from c for ms (a throttled client, quota.h); requests already read
 * are answered as usual. A second call while muted extends the pause to the later end. */
void mk_conn_mute(struct mk_conn *c, int64_t ms);

/* Close a connection, logging why (NULL for a normal close by the peer). Pending requests
 * are dropped, delayed ones taken out of the purgatory. */
void mk_conn_close(struct mk_conn *c, const char *why);

/* Called by network.c for each complete frame; defined in kafka_apis.c. Takes frame. */
void mk_kafka_apis_handle(struct mk_conn *c, struct mk_buffer *frame);

#endif
