/*
 * Controller: the cluster actions a fault asks for, and the one entry point for faults.
 * Kafka: the controller (KafkaController, QuorumController's ReplicationControlManager)
 * notices a broker that stops or returns and moves partition leadership; ElectLeaders
 * (kafka-leader-election.sh) moves it on request, PREFERRED or UNCLEAN.
 *
 *   broker_down      the virtual broker's listener and connections close (clients see a
 *                    dead broker); its replicas leave every ISR; each partition it led
 *                    elects a new leader from the ISR, or an unclean one from the live
 *                    replicas when unclean.leader.election.enable is true, or goes offline
 *   broker_up        it listens again on the same port; its replicas truncate to their
 *                    leaders' logs and catch up; offline partitions it can lead elect it
 *   follower_pause   that replica stops fetching (after replica.lag.time.max.ms it leaves
 *   follower_resume  the ISR), and fetches again
 *   follower_lag     that replica fetches each batch ms after the leader appended it
 *   elect_leader     leadership moves to a replica in the ISR; to one outside it only with
 *                    unclean.leader.election.enable or "unclean": true, as Kafka's
 *                    ElectLeaders refuses a non-ISR replica unless asked for UNCLEAN
 *   hold_markers     the transaction coordinator holds transactions between PrepareCommit
 *   release_markers  (or PrepareAbort) and their markers, for ms or until released: the LSO
 *                    of their partitions stays at their first offset meanwhile (a teaching
 *                    hook: Kafka has no such switch, but a slow marker looks the same)
 *
 * These live above the network (they close and reopen listeners) and above the request
 * faults of faults.h (which the network asks about each response), so nothing below
 * imports this file.
 *
 * Thread: broker loop.
 */
#ifndef MK_BROKER_CONTROLLER_H
#define MK_BROKER_CONTROLLER_H

#include <stddef.h>

#include "broker/faults.h"

struct mk_broker;

/* Parse one fault (JSON, len bytes), then arm it (request faults, faults.h) or carry it
 * out (cluster actions, above). Returns 0 with *id (may be NULL) set to its number in the
 * list, or MK_ERR__INVALID_ARG with err naming the field and what it accepts, or
 * MK_ERR__STATE when the cluster cannot do it now (electing a replica that is down, or
 * one outside the ISR without "unclean"). Borrows json. */
int mk_fault_inject(struct mk_broker *b, const char *json, size_t len, int *id,
                    struct mk_err *err);

/* Stop / restart virtual broker id (broker_down / broker_up). Returns 0 or an error
 * (unknown broker; the port taken meanwhile). Sets *result to a sentence for the list. */
int mk_controller_broker_down(struct mk_broker *b, int32_t id, char *result, size_t len,
                              struct mk_err *err);
int mk_controller_broker_up(struct mk_broker *b, int32_t id, char *result, size_t len,
                            struct mk_err *err);

#endif
