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
 * Every buffer has a bound. A connection is read from only while all of these hold
 * (mk_conn_update_reading decides; when one stops holding, the client's own TCP window
 * makes it wait, as Kafka's muted channels do):
 *   - fewer than MK_CONN_MAX_QUEUED requests are waiting for or sending their answers,
 *     and fewer than MK_CONN_MAX_UNSENT bytes of answers are not yet in the socket
 *     (a client that sends and never reads stops being read);
 *   - its quota pause, if any, is over (quota.h);
 *   - the memory for requests being read is not taken (memory_pool.h,
 *     queued.max.request.bytes).
 * A frame's buffer grows as its bytes arrive, never from the size prefix alone. Idle
 * connections and frames that stall half-way are closed (connection_quotas.h), and so
 * is a connection beyond max.connections.per.ip; beyond max.connections the listener
 * stops accepting until one closes. Out of memory closes the one connection it
 * concerns (at accept too: the connection is accepted, then closed, so the listener
 * keeps listening).
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

/* The bounds above (per connection). Kafka reads one request at a time per connection;
 * clients keep at most five in flight (Java's max.in.flight.requests.per.connection), so
 * beyond eight the client is only made to wait. */
enum { MK_CONN_MAX_QUEUED = 8, MK_CONN_MAX_UNSENT = 1 << 20 };

/* One virtual broker's socket side (Kafka's SocketServer acceptor): its listener and its
 * client connections. cluster.nodes[i] is what clients are told about it. */
struct mk_listener {
  struct mk_broker *broker;
  struct mk_node *node;        /* the model's view: id, port, up */
  uv_tcp_t *listener;          /* owned; NULL while down (freed when its close completes) */
  struct mk_conn *conns;       /* open client connections, linked through conn->next */
  int nconns;                  /* how many (max.connections) */
  bool accept_waiting;         /* a connection waits to be accepted (max.connections);
                                  libuv polls the listener no more meanwhile */
  uv_tcp_t reject;             /* accepts and closes a connection we have no memory for */
  bool reject_busy;            /* reject is open or closing */
  bool reject_waiting;         /* a connection waits for reject, to be accepted and closed */
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
  bool cut;                    /* drop_response silent: this answer is lost, as are the
                                  ones after it on the connection (a broken network) */
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
  char ip[48];                 /* "127.0.0.1": max.connections.per.ip counts by it */
  /* Reading: the size prefix, then the frame, its buffer grown as the bytes arrive. */
  uint8_t size_buf[4];
  size_t size_len;
  struct mk_buffer *frame;     /* the frame being read; frame->size is what is allocated
                                  so far (memory_pool.h counts it), frame_size once whole */
  size_t frame_size;           /* the size its prefix announced */
  size_t frame_len;            /* bytes of it read so far */
  uint64_t frame_started;      /* loop ms of its first byte (socket.request.read.timeout.ms;
                                  moved on by the time the broker itself did not read) */
  /* Requests in arrival order. */
  struct mk_req *head, *tail;
  int queued;                  /* requests in that queue */
  size_t unsent;               /* bytes of encoded answers not yet handed to the socket */
  /* Whether it is read from (mk_conn_update_reading): */
  bool reading;                /* uv_read_start is in effect */
  uint64_t paused_at;          /* loop ms when the broker stopped reading it, or 0 */
  uv_timer_t *mute_timer;      /* owned: a quota pause, over when it fires (mk_conn_mute) */
  bool yielded;                /* took a request this loop turn: reads again after it */
  struct mk_conn *next_yielded;  /* broker->yielded */
  bool waiting_memory;         /* on the memory pool's waiting list (memory_pool.h) */
  struct mk_conn *next_waiting;
  bool severed;                /* drop_response silent fired: nothing is sent from the cut
                                  answer on (requests read later are cut too) */
  bool draining;               /* reading stopped; closing once the answers are out */
  bool closing;
  uint64_t last_active;        /* loop ms of the last byte read or written
                                  (connections.max.idle.ms) */
  uv_shutdown_t shutdown;
};

/* Set up the loop-turn handle that lets each connection take one request per turn (from
 * mk_broker_new, before any listener). */
void mk_network_start(struct mk_broker *b);

/* Bind and listen for l's virtual broker (port 0 picks a free one; l->node->port is set)
 * and mark it up. Returns 0 or MK_ERR__TRANSPORT with err naming the address and reason. */
int mk_network_listen(struct mk_listener *l, const char *host, int port, struct mk_err *err);
/* Whether host is a loopback address (127.0.0.0/8 or ::1): where nobody else can connect. */
bool mk_network_is_loopback(const char *host);
/* Whether host is the "any address" of IPv4 or IPv6 (0.0.0.0, ::): every interface. */
bool mk_network_is_wildcard(const char *host);

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
 * are dropped, delayed ones taken out of the purgatory. The log line goes through the
 * broker's rate limit for lines clients can cause (common/log.h). */
void mk_conn_close(struct mk_conn *c, const char *why);

/* Start or stop reading c as the bounds at the top say. Call after anything they read
 * changes (an answer sent, a pause over, request memory freed). */
void mk_conn_update_reading(struct mk_conn *c);

/* Accept the connection waiting in l's listener, if any and if max.connections allows
 * (connection_quotas.c calls it when a connection closes). */
void mk_network_accept_waiting(struct mk_listener *l);

/* Called by network.c for each complete frame; defined in kafka_apis.c. Takes frame. */
void mk_kafka_apis_handle(struct mk_conn *c, struct mk_buffer *frame);

#endif
