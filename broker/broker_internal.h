/*
 * The broker's runtime: what serves the cluster model (cluster.h) on one libuv loop.
 * Not installed: embedding programs see struct mk_broker only as the opaque handle of
 * broker.h, as libuv's users see uv_loop_t's private fields only through uv_ calls.
 *
 *   struct mk_broker
 *     struct mk_cluster cluster        the model: settings, brokers, topics (cluster.h)
 *     uv_loop_t loop                   everything below runs on it
 *     struct mk_listener[N]            each virtual broker's socket side (network.h)
 *     request_memory, conn_timer       bounds on connections (memory_pool.h,
 *                                      connection_quotas.h)
 *     delayed                          requests waiting in the purgatory (purgatory.h)
 *     timers, fetch_idle               retention, ISR expiry, the followers' fetchers
 *     faults, script                   armed request faults, the --faults script
 *     admin                            the admin HTTP API (admin_http.h)
 *     writer, groups, txns             the broker's own appends, the group and transaction
 *                                      coordinators
 *     reset_hooks                      what each subsystem clears at a reset (reset.h)
 *     registry                         the schema registry (schema_registry_http.h)
 *     thread                           the loop's thread, and how other threads reach
 *                                      it (common/loop_thread.h)
 *
 * Thread: broker loop, except `thread` (common/loop_thread.h says who may call what).
 */
#ifndef MK_BROKER_BROKER_INTERNAL_H
#define MK_BROKER_BROKER_INTERNAL_H

#include <stdbool.h>
#include <uv.h>

#include "broker/broker.h"
#include "broker/cluster.h"
#include "broker/faults.h"
#include "broker/memory_pool.h"
#include "broker/network.h"
#include "common/log.h"
#include "broker/reset.h"
#include "common/loop_thread.h"

struct mk_fault_script;
struct mk_admin_server;
struct mk_schema_registry_service;
struct mk_group_runtime_state;
struct mk_partition_writer_state;
struct mk_txn_runtime_state;

struct mk_broker {
  struct mk_cluster cluster;      /* the model */
  uv_loop_t loop;
  struct mk_listener listeners[MK_MAX_BROKERS];  /* listeners[i] serves cluster.nodes[i] */
  char bootstrap[MK_MAX_BROKERS * 80];
  struct mk_req *delayed;         /* requests waiting for the HW or for data (purgatory) */
  uv_timer_t retention_timer;     /* retention.c */
  uv_timer_t isr_timer;           /* replica_set.c: ISR expiry check */
  uv_idle_t fetch_idle;           /* replica_fetcher.c: followers' fetches, next loop turn */
  uv_timer_t fetch_timer;         /* replica_fetcher.c: parked fetches that fall due */
  uv_timer_t conn_timer;          /* connection_quotas.c: idle connections, stalled frames */
  uv_check_t turn_check;          /* network.c: connections that took a request this turn */
  struct mk_conn *yielded;        /* ... read again when it ends */
  struct mk_memory_pool request_memory;  /* memory_pool.h: queued.max.request.bytes */
  struct mk_log_limit conn_log;   /* network.c: the rate limit of log lines about clients */
  struct mk_log_limit retention_log; /* retention.c: log.memory.max.bytes lines */
  int fail_accept_allocs;         /* tests only: the next n connections accepted find no
                                     memory (network.c's out-of-memory path) */
  struct mk_fault_list faults;    /* faults.h: every fault injected, armed and spent */
  struct mk_fault_targets fault_targets;  /* what they may name: mk_cluster_fault_targets */
  struct mk_fault_script *script; /* fault_script.c: --faults FILE, or NULL */
  struct mk_admin_server *admin;  /* admin_http.c, or NULL when admin_port is -1 */
  struct mk_partition_writer_state *writer;  /* partition_writer.c: the broker's own appends */
  struct mk_group_runtime_state *groups;  /* group_coordinator_runtime.c: the group coordinator */
  struct mk_schema_registry_service *registry;  /* schema_registry_http.c, or NULL when
                                                  schema_registry_port is -1 */
  struct mk_txn_runtime_state *txns;      /* transaction_coordinator_runtime.c: transactions */
  struct {                        /* purgatory.h: what else waits for HW moves and elections */
    void (*fn)(struct mk_broker *b, void *arg);
    void *arg;
  } watchers[6];
  int nwatchers;
  uint64_t next_conn_id;          /* network.c: the last connection's id */
  struct mk_reset_hook reset_hooks[MK_RESET_MAX_HOOKS];  /* reset.h: what subsystems clear */
  int nreset_hooks;
  struct mk_loop_thread thread;   /* mk_broker_start's thread; mk_broker_call */
};

/* Run fn(b, arg) on the broker loop and wait until it returns: how other threads read or
 * change broker state safely. Must not be called from the loop itself. Returns 0, or
 * MK_ERR__STATE if the broker is not running. Thread: any but the broker loop. */
int mk_broker_call(struct mk_broker *b, void (*fn)(struct mk_broker *b, void *arg), void *arg);

#endif
