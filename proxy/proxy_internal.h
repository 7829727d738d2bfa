/*
 * The proxy, inside: what its files share. Not installed (proxy.h is the public API).
 *
 *   struct mk_proxy
 *     loop, thread                 everything below runs on the loop (common/loop_thread.h)
 *     brokers[]                    the cluster's brokers as the proxy knows them, each with
 *                                  its listener and the client connections on it
 *                                  (cluster_view.c, listener.c)
 *       struct mk_proxy_conn       a client's connection and its own connection to that
 *                                  broker (connection.c)
 *         struct mk_proxy_exchange one request and its answer, in arrival order
 *     topics                       what Metadata answers said of each topic (cluster_view.c)
 *     faults, fault_targets        armed request faults (broker/faults.h) and what they may
 *                                  name (cluster_view.c); fault_inject.c routes a new one
 *     script                       --faults FILE (broker/fault_script.h)
 *     watch                        what Produce answers said (produce_watch.c)
 *     admin                        the admin HTTP API (admin.c)
 *
 * Thread: the proxy's loop, except what proxy.c says.
 */
#ifndef MK_PROXY_PROXY_INTERNAL_H
#define MK_PROXY_PROXY_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "broker/faults.h"
#include "broker/partition_log.h"  /* struct mk_buffer: frames by reference */
#include "common/loop_thread.h"
#include "protocol/arena.h"
#include "protocol/frame.h"
#include "proxy/error_fault.h"
#include "proxy/proxy.h"
#include "proxy/rewrite.h"

enum {
  MK_PROXY_MAX_BROKERS = 128,                /* listeners: a bigger cluster is refused */
  MK_PROXY_MAX_FRAME = 128 * 1024 * 1024,     /* one request or answer (Kafka's
                                                socket.request.max.bytes is 100 MiB) */
  MK_PROXY_MAX_IN_FLIGHT = 100,              /* requests waiting for answers on one
                                                connection before the proxy stops reading */
  MK_PROXY_WRITE_HIGH = 16 * 1024 * 1024,     /* bytes queued to one socket before the
                                                proxy stops reading the other side */
  MK_PROXY_MAX_TOPICS = 100000,              /* topics remembered from Metadata answers */
};

struct mk_proxy_conn;
struct mk_admin_server;
struct mk_produce_watch;
struct mk_metadata_response;

/* A broker of the cluster and the proxy's listener for it (Kafka's Node, seen twice). */
struct mk_proxy_broker {
  struct mk_proxy *proxy;
  int32_t node_id;
  char host[256];              /* the cluster's address for it (from Metadata) */
  int port;
  int index;                   /* the i-th broker the proxy learnt of: it listens on port + i */
  int listen_port;             /* the proxy's port for it, once bound */
  bool up;                     /* false after broker_down */
  uv_tcp_t *listener;          /* owned; NULL while down */
  struct mk_proxy_conn *conns; /* client connections to it, through conn->next */
};

/* A partition as the last Metadata answer told it. */
struct mk_proxy_partition {
  int32_t index;
  int16_t error_code;
  int32_t leader, leader_epoch;
  int32_t nreplicas, nisr;
  int32_t *replicas, *isr;     /* owned */
};

struct mk_proxy_topic {
  char *name;                  /* owned */
  struct mk_uuid id;
  bool internal;
  int32_t npartitions;
  struct mk_proxy_partition *partitions;  /* owned */
  struct mk_proxy_topic *next;
};

/* Reading frames off a stream: the int32 size, then that many bytes. */
struct mk_frame_reader {
  uint8_t size_buf[4];
  size_t size_len;
  struct mk_buffer *frame;     /* the frame being read, once its size is known */
  size_t frame_len;            /* bytes of it read so far */
};

/* One request and its answer. */
struct mk_proxy_exchange {
  struct mk_proxy_conn *conn;
  struct mk_buffer *request;   /* the frame as the client sent it (no size prefix) */
  struct mk_request_header header;  /* client_id points into request */
  int64_t received_us;
  bool forwarded;              /* sent to the cluster, which answers (unless acks=0) */
  bool answered;               /* the answer is here (or made by the proxy) */
  /* The decoded request, made when a fault or the trace needs it (connection.c). */
  struct mk_arena arena;
  struct mk_request decoded;
  int decode_state;            /* 0 not tried, 1 decoded, -1 does not decode */
  /* An `error` fault that fired for it: how it acts (error_fault.h), and a copy of the
   * fault (the list may forget it before the answer comes). */
  enum mk_error_plan plan;
  struct mk_fault error;
  /* The answer: the cluster's frame (answer_frame, no size prefix), or one the proxy
   * wrote (answer, size prefix included). */
  struct mk_buffer *answer_frame;
  struct mk_writer answer;
  bool drop;                   /* a drop_response fault: not delivered */
  bool close_after;            /* close the connection once it is reached */
  uv_timer_t *delay;           /* a delay fault holds it (and what follows) */
  bool delaying;
  struct mk_proxy_exchange *next;
};

/* A client's connection, and the proxy's own connection for it to the same broker. */
struct mk_proxy_conn {
  struct mk_proxy *proxy;
  struct mk_proxy_broker *broker;
  struct mk_proxy_conn *next;  /* broker->conns */
  char peer[64];               /* the client, "127.0.0.1:51234", for log lines */
  uv_tcp_t client, upstream;
  uv_getaddrinfo_t resolve;
  bool resolving;              /* its callback is still to come */
  uv_connect_t connect;
  uv_shutdown_t shutdown;
  uv_timer_t linger;           /* after a hang-up: how long the other side may take to close */
  bool lingering;
  int open_handles;            /* freed when the last closes (and no resolve is pending) */
  bool connected;              /* the upstream connection is up: reading both */
  bool client_reading, upstream_reading;
  struct mk_frame_reader from_client, from_upstream;
  struct mk_proxy_exchange *head, *tail;  /* in arrival order; answers leave from head */
  int in_flight;
  bool silent;                 /* a silent drop_response: nothing more is delivered */
  int32_t acks0[8];            /* correlation ids of the last acks=0 requests forwarded: an
                                  answer to one (librdkafka's mock sends them; Kafka never
                                  does) is dropped, not taken for another's */
  int nacks0;
  bool acks0_said;             /* that was logged once for this connection */
  bool draining;               /* closing once what is written has left */
  bool closing;
};

struct mk_proxy {
  struct mk_proxy_config cfg;  /* strings point at the copies below */
  char bootstrap_servers[1024], host[256], faults_file[1024], trace_file[1024];
  uv_loop_t loop;
  struct mk_loop_thread thread;
  /* The cluster as the proxy knows it (cluster_view.c). */
  struct mk_proxy_broker *brokers[MK_PROXY_MAX_BROKERS];
  int nbrokers;
  int nbrokers_at_start;
  struct mk_proxy_topic *topics;
  int ntopics;
  char cluster_id[128];
  int32_t controller_id;
  char bootstrap[MK_PROXY_MAX_BROKERS * 32];  /* the listeners known at start */
  /* Faults. */
  struct mk_fault_list faults;
  struct mk_fault_targets fault_targets;
  struct mk_fault_script *script;
  /* Produce answers seen (produce_watch.c). */
  struct mk_produce_watch *watch;
  struct mk_admin_server *admin;  /* admin.c, or NULL when admin_port is -1 */
  bool stopping;
  uint8_t read_buf[64 * 1024];  /* every read lands here, then is cut into frames */
};

/* ---- frames.c: size-prefixed frames off a stream --------------------------------------- */

/* Take bytes from *p (*n of them; both advance) until one frame is whole. Returns 1 with
 * *out (returns new: mk_buffer_unref) when it is, 0 when every byte was taken and the frame
 * is not whole yet, or MK_ERR__DECODE (a size outside [min, max]) / MK_ERR__NO_MEMORY with
 * err saying which: the stream is then out of step, and its connection must close. */
int mk_frame_read(struct mk_frame_reader *r, const uint8_t **p, size_t *n, int32_t min,
                  int32_t max, struct mk_buffer **out, struct mk_err *err);
/* Free a frame half read. */
void mk_frame_reader_free(struct mk_frame_reader *r);

/* ---- cluster_view.c: the cluster as answers describe it ------------------------------------ */

/* The broker with this node id, or NULL. */
struct mk_proxy_broker *mk_proxy_find_broker(struct mk_proxy *p, int32_t node_id);
/* Learn (or update) a broker's address from an answer; a new one gets a listener.
 * Returns it, or NULL with err saying why (too many brokers, no port to listen on). */
struct mk_proxy_broker *mk_proxy_learn_broker(struct mk_proxy *p, int32_t node_id,
                                              struct mk_str host, int32_t port,
                                              struct mk_err *err);
/* Learn what a Metadata answer (to a request for all topics, or for some) says of topics. */
void mk_proxy_learn_metadata(struct mk_proxy *p, const struct mk_metadata_response *md,
                             bool all_topics);
/* The rewrite map (rewrite.h) that gives each broker the proxy's listener. */
struct mk_rewrite_map mk_proxy_rewrite_map(struct mk_proxy *p);
/* What faults may name here (faults.h): the known brokers and topics. */
struct mk_fault_targets mk_proxy_fault_targets(const struct mk_proxy *p);
/* GET /v1/cluster. Returns new (json_decref). */
json_t *mk_proxy_cluster_state(const struct mk_proxy *p);
/* Ask the cluster for its brokers and topics before the loop thread starts (runs the loop
 * until answered or timed out). Returns 0 or an error naming each server tried. */
int mk_proxy_discover(struct mk_proxy *p, struct mk_err *err);
/* Free what the view holds (topics, brokers) after the loop has closed every handle. */
void mk_proxy_view_free(struct mk_proxy *p);

/* ---- listener.c: one listener per broker ------------------------------------------------- */

/* Listen for broker b (on cfg.port + b->index, or any free port), and mark it up. Returns 0,
 * or MK_ERR__TRANSPORT naming the address and reason. */
int mk_proxy_listen(struct mk_proxy_broker *b, struct mk_err *err);
/* Stop listening for b and close its connections (broker_down; at shutdown). */
void mk_proxy_unlisten(struct mk_proxy_broker *b, const char *why);

/* ---- connection.c: clients' connections ---------------------------------------------------- */

/* A client connected to b's listener: connect to the broker and start forwarding. Takes
 * nothing; on failure the client's socket is closed with a log line. */
void mk_proxy_conn_accept(struct mk_proxy_broker *b, uv_stream_t *server);
/* Close a connection and its upstream twin, logging why (NULL: a normal close). */
void mk_proxy_conn_close(struct mk_proxy_conn *c, const char *why);

/* ---- fault_inject.c: where a fault goes ---------------------------------------------------- */

/* Parse a fault and arm it (request faults) or carry it out (broker_down, broker_up).
 * Returns 0 with *id, or MK_ERR__INVALID_ARG with err. On the loop. */
int mk_proxy_inject(struct mk_proxy *p, const char *json, size_t len, int *id,
                    struct mk_err *err);

/* ---- produce_watch.c: what Produce answers tell from outside -------------------------------- */

struct mk_produce_watch *mk_produce_watch_new(void);
void mk_produce_watch_free(struct mk_produce_watch *w);
/* Emit `append` and `duplicate` trace events for a Produce request and its answer (both
 * decoded) to broker node_id. Only while the trace is on. */
void mk_produce_watch_answer(struct mk_produce_watch *w, const struct mk_request *req,
                             const void *answer, int32_t node_id);

/* ---- admin.c: the admin HTTP API ------------------------------------------------------------ */

int mk_proxy_admin_start(struct mk_proxy *p, struct mk_err *err);
void mk_proxy_admin_close(struct mk_proxy *p);
void mk_proxy_admin_free(struct mk_proxy *p);

#endif
