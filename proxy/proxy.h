/*
 * The proxy: minikafka's faults and trace in front of any real Kafka cluster.
 * Public API (installed), for `minikafka proxy` and for programs that embed one (labs).
 *
 *   client (kcat, confluent-kafka, our producer)
 *      |  bootstrap.servers = the proxy's first listener
 *      v
 *   listener for broker 1   listener for broker 2   ...   one per broker of the cluster
 *      |  frames forwarded as bytes; faults act here; trace events come from here
 *      v
 *   broker 1 of the real cluster, broker 2, ...
 *
 * At start the proxy asks the cluster (bootstrap_servers) for its brokers (Metadata) and
 * listens once for each, on port, port + 1, ... (or any free ports when port is 0). Every
 * address a client learns from an answer (Metadata, FindCoordinator, DescribeCluster, the
 * leader hints of Produce and Fetch) is rewritten to the proxy's listener for that broker
 * (rewrite.h), so a client never leaves the proxy; a broker that appears later gets its
 * listener when an answer first names it. Everything else passes as the bytes it came in,
 * and client and cluster negotiate versions between themselves (ApiVersions passes too).
 *
 * Faults are the broker's (DESIGN.md 3.2, broker/faults.h), where they make sense from
 * outside a cluster: drop_response (the cluster did the work, the client never hears),
 * error (answered by the proxy, proxy/error_fault.h), delay, and broker_down / broker_up
 * (the proxy's listener for that broker refuses and drops connections; the real broker
 * keeps running). The actions that act inside a cluster (follower_*, elect_leader) are
 * refused, saying why. The admin API (proxy/admin.h) serves them over HTTP with
 * /v1/cluster and /v1/events.
 *
 * Thread: mk_proxy_new, _start, _stop and _free from one thread (the owner); the rest from
 * any thread but the proxy's loop. Memory: strings returned are the proxy's (valid until
 * mk_proxy_free) unless a function says "returns new".
 */
#ifndef MK_PROXY_PROXY_H
#define MK_PROXY_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/errors.h"

struct mk_proxy;

struct mk_proxy_config {
  const char *bootstrap_servers;  /* the real cluster: "host:port[,host:port...]"; required */
  const char *host;               /* where to listen, and the host clients are told
                                     (default "127.0.0.1") */
  int port;                       /* broker i's listener: port + i (default 19092; 0 = any
                                     free port for each) */
  int admin_port;                 /* admin HTTP API on loopback (default 19644; 0 = any free
                                     port; -1 = none) */
  const char *faults_file;        /* --faults: a fault script (broker/fault_script.h), or NULL */
  const char *trace_file;         /* the --trace file this run writes: the admin API serves
                                     it at GET /v1/trace (the dashboard's "replay this
                                     run"), as the broker's does; NULL = none */
  int timeout_ms;                 /* how long to wait for the cluster at start (default 10000) */
};

/* Fill cfg with the defaults above (bootstrap_servers NULL). */
void mk_proxy_config_init(struct mk_proxy_config *cfg);

/* Ask the cluster for its brokers, listen for each, start the admin API and read the fault
 * script. Blocks up to cfg->timeout_ms. Returns 0 with *out, or an error naming the server
 * and reason ("cannot reach 127.0.0.1:9092: connection refused"; "port 19093 is in use").
 * Borrows cfg (strings copied). */
int mk_proxy_new(const struct mk_proxy_config *cfg, struct mk_proxy **out, struct mk_err *err);
/* Serve, on a thread of the proxy's own. */
int mk_proxy_start(struct mk_proxy *p, struct mk_err *err);
/* Close every listener and connection and end the thread. Safe twice. */
void mk_proxy_stop(struct mk_proxy *p);
/* Stop if needed, and free. NULL is allowed. */
void mk_proxy_free(struct mk_proxy *p);

/* "127.0.0.1:19092,127.0.0.1:19093,...": the listeners of the brokers known at start, for a
 * client's bootstrap.servers. */
const char *mk_proxy_bootstrap(const struct mk_proxy *p);
/* The admin API's URL ("http://127.0.0.1:19644"), or NULL when it is off. */
const char *mk_proxy_admin_url(const struct mk_proxy *p);
/* How many brokers of the cluster the proxy knew at start. */
int mk_proxy_broker_count(const struct mk_proxy *p);
/* The node ids of the brokers the proxy knows now (the cluster's own ids: what faults name),
 * at most max of them into ids. Returns how many, or -1 when the proxy is not running. */
int mk_proxy_broker_ids(struct mk_proxy *p, int32_t *ids, int max);

/* Inject a fault (JSON, as POST /v1/faults). Returns 0 with *id (may be NULL), or
 * MK_ERR__INVALID_ARG with err saying what is wrong or why the proxy cannot do it. */
int mk_proxy_fault(struct mk_proxy *p, const char *json, int *id, struct mk_err *err);
/* Forget every fault; brokers the proxy took down stay down (broker_up brings them back). */
int mk_proxy_clear_faults(struct mk_proxy *p);
/* GET /v1/cluster's and GET /v1/faults's JSON. Returns new (free()), or NULL when the
 * proxy is not running. */
char *mk_proxy_cluster_json(struct mk_proxy *p);
char *mk_proxy_faults_json(struct mk_proxy *p);

#endif
