/*
 * Admin HTTP: the admin API of DESIGN.md 3.2, an HTTP/1.1 server on the broker's own loop.
 *
 *   GET    /v1/cluster     brokers, topics, partitions: leader, epoch, HW, ISR, each
 *                          replica's log end offset (admin_state.h gives the shape)
 *   GET    /v1/producers   each partition's idempotent producers and their sequences
 *   GET    /v1/schemas     the schema registry's subjects, versions and ids
 *                          (schema_registry_http.h)
 *   GET    /v1/events      the trace (DESIGN.md 3.4) as Server-Sent Events:
 *                          one `data: {json}` per event, until the client hangs up;
 *                          it starts with the state (state_events.h) for this client
 *   POST   /v1/faults      inject a fault (faults.h); 201 {"id": N, "fault": {...}}
 *   GET    /v1/faults      the faults injected so far
 *   DELETE /v1/faults      disarm them all
 *   POST   /v1/topics      create a topic: {name, partitions, replication_factor, configs}
 *   POST   /v1/reset       back to a just-started broker (reset.h): {"reset": true, ...}
 *   GET    /v1/trace       the --trace file this broker writes (cfg.trace_file), for the
 *                          dashboard's replay of this run
 *   GET    /               the dashboard, a page built on the endpoints above, and
 *   GET    /dashboard/...  its files (dashboard.h, dashboard_http.h)
 *
 * Anything else gets a 4xx with a JSON body {"error": "...", "message": "..."}; README.md
 * ("The admin HTTP API") lists the statuses and has a curl example for each endpoint.
 *
 * It listens on cfg.admin_port (0 = any free port, -1 = no admin API) on a loopback
 * address only: cfg.host when that is loopback, else 127.0.0.1, since the API can stop
 * brokers and must not be reachable from the network by accident.
 *
 * Running on the broker's loop means every handler reads and changes broker state
 * directly, with no locks, between two Kafka requests.
 *
 * Thread: broker loop, except where a function says otherwise.
 */
#ifndef MK_BROKER_ADMIN_HTTP_H
#define MK_BROKER_ADMIN_HTTP_H

#include "broker/cluster.h"

/* Bind and listen (from mk_broker_new, after the Kafka listeners, before the loop runs).
 * Does nothing when cfg.admin_port is -1. Returns 0, or MK_ERR__TRANSPORT with err naming
 * the address and the reason ("address already in use"). On failure the caller must still
 * run mk_admin_http_close and mk_admin_http_free (mk_broker_free does).
 * Thread: the one creating the broker (the loop is not running yet). */
int mk_admin_http_start(struct mk_broker *b, struct mk_err *err);

/* Stop listening, end every event stream and close every connection. Safe to call more
 * than once, and for a broker without an admin API (from the broker's shutdown). */
void mk_admin_http_close(struct mk_broker *b);

/* Free what is left, once the loop has run every close callback (from mk_broker_free,
 * after the loop ended). Thread: any, with the loop stopped. */
void mk_admin_http_free(struct mk_broker *b);

/* mk_broker_admin_port and mk_broker_admin_url (declared in broker.h) are defined in
 * admin_http.c too. */

#endif
