/*
 * KafkaApis: which function answers which request. Kafka: core/.../server/KafkaApis.scala.
 *
 * Each handler receives a decoded request (req->request.body is the request struct for its
 * API, e.g. struct mk_produce_request) and must answer it exactly once, now or later:
 * mk_req_respond(), mk_req_finish_silently(), or by parking it in the purgatory.
 * Thread: broker loop.
 */
#ifndef MK_BROKER_KAFKA_APIS_H
#define MK_BROKER_KAFKA_APIS_H

#include <stdbool.h>

#include "broker/network.h"

void mk_handle_api_versions(struct mk_req *req);     /* kafka_apis.c */
void mk_handle_metadata(struct mk_req *req);         /* metadata.c */
void mk_handle_describe_cluster(struct mk_req *req); /* metadata.c */
void mk_handle_produce(struct mk_req *req);          /* produce.c */
/* The broker's `append` trace event (and `duplicate`, `out_of_order`) for batch b of p,
 * offsets base..last (produce.c): every append to a leader's log emits it, whoever
 * appends (internal_topics.c too). */
void mk_produce_trace_batch(const char *event, const struct mk_partition *p,
                            const struct mk_record_batch *b, int64_t base, int64_t last,
                            const char *error);
void mk_handle_fetch(struct mk_req *req);            /* fetch.c */
void mk_handle_list_offsets(struct mk_req *req);     /* list_offsets.c */
void mk_handle_init_producer_id(struct mk_req *req); /* init_producer_id.c */
void mk_handle_find_coordinator(struct mk_req *req); /* find_coordinator.c */
void mk_handle_create_topics(struct mk_req *req);    /* topic_admin.c */
void mk_handle_delete_topics(struct mk_req *req);    /* topic_admin.c */
void mk_handle_create_partitions(struct mk_req *req);  /* topic_admin.c */
void mk_handle_describe_configs(struct mk_req *req); /* topic_admin.c */
void mk_handle_join_group(struct mk_req *req);       /* group_apis.c */
void mk_handle_sync_group(struct mk_req *req);       /* group_apis.c */
void mk_handle_heartbeat(struct mk_req *req);        /* group_apis.c */
void mk_handle_leave_group(struct mk_req *req);      /* group_apis.c */
void mk_handle_offset_commit(struct mk_req *req);    /* offset_apis.c */
void mk_handle_offset_fetch(struct mk_req *req);     /* offset_apis.c */
void mk_handle_offset_delete(struct mk_req *req);    /* offset_apis.c */
void mk_handle_describe_groups(struct mk_req *req);  /* group_admin_apis.c */
void mk_handle_list_groups(struct mk_req *req);      /* group_admin_apis.c */
void mk_handle_delete_groups(struct mk_req *req);    /* group_admin_apis.c */
void mk_handle_add_partitions_to_txn(struct mk_req *req);  /* txn_apis.c */
void mk_handle_add_offsets_to_txn(struct mk_req *req);     /* txn_apis.c */
void mk_handle_end_txn(struct mk_req *req);                /* txn_apis.c */
void mk_handle_txn_offset_commit(struct mk_req *req);      /* txn_apis.c */

/* The error an `error` fault (faults.h) makes this request answer for topic/partition
 * (MK_STR_NULL and -1: for the request as a whole), or 0. Handlers ask this wherever
 * their response carries an error code; a fault only fires on requests its scope names. */
int16_t mk_req_fault_error(const struct mk_req *req, struct mk_str topic, int32_t partition);

/* Whether the broker answers this api key (what ApiVersions advertises). */
bool mk_kafka_apis_handles(int api_key);

#endif
