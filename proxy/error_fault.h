/*
 * Error faults on a real cluster: how the proxy answers `{"action": "error", ...}`
 * (broker/faults.h) for a cluster it cannot make fail.
 *
 * Our broker's handlers ask, for each topic and partition they answer, whether an error
 * fault covers it (mk_req_fault_error). The proxy has no handlers: the real cluster does
 * the work. So it decides before forwarding, from the decoded request, one of:
 *
 *   NONE    the fault covers nothing in the request: forward it unchanged
 *   ANSWER  it covers all of it: answer at once with the error on every topic/partition,
 *           built with the codec as a broker handler builds its response; nothing is
 *           forwarded (the errors Kafka returns before doing anything: nothing happens)
 *   SPLIT   it covers part: forward a copy of the request without the covered part, and
 *           add the covered part, with the error, to the cluster's answer (mk_error_merge)
 *   AFTER   an error that Kafka returns after writing (REQUEST_TIMED_OUT and
 *           NOT_ENOUGH_REPLICAS_AFTER_APPEND on Produce, faults.h): forward the request as
 *           it is, then put the error on the covered partitions of the answer; so too a
 *           Metadata request for every topic, whose covered topics are known only from the
 *           answer
 *
 * One table (error_fault.c) says where each API keeps its topics and partitions, in the
 * request and in the response, by the field names of the protocol's tables, so one piece
 * of code splits and merges Produce, Fetch, ListOffsets, Metadata, CreateTopics,
 * DeleteTopics and CreatePartitions. APIs that name no topics (InitProducerId,
 * FindCoordinator, DescribeCluster, DescribeConfigs) are always answered whole.
 *
 * Memory: everything built lives in the caller's arena, strings point into the request.
 * Thread: any (the proxy's loop).
 */
#ifndef MK_PROXY_ERROR_FAULT_H
#define MK_PROXY_ERROR_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include "broker/faults.h"
#include "protocol/arena.h"
#include "protocol/frame.h"

enum mk_error_plan { MK_ERROR_NONE, MK_ERROR_ANSWER, MK_ERROR_SPLIT, MK_ERROR_AFTER };

/* Decide how fault f (an `error` fault that fired for req) acts on req, a decoded request.
 * ANSWER: out gets the whole response frame (size prefix included); SPLIT: out gets the
 * request frame to forward instead (same header); NONE and AFTER: out is untouched.
 * Topic ids are resolved through t. Returns 0, or an error (out of memory, or a response
 * the version cannot carry) with err saying which. Borrows everything. */
int mk_error_fault_plan(const struct mk_request *req, const struct mk_fault *f,
                        const struct mk_fault_targets *t, struct mk_arena *arena,
                        enum mk_error_plan *plan, struct mk_writer *out, struct mk_err *err);

/* After SPLIT or AFTER: the cluster answered (resp, a response frame body without its size
 * prefix); write to out the answer with the error on every topic/partition of req that f
 * covers: set where the answer has it, added where it does not. Returns 0, or
 * MK_ERR__DECODE when the answer does not decode (err says where), or an encoding error. */
int mk_error_fault_merge(const struct mk_request *req, const struct mk_fault *f,
                         const struct mk_fault_targets *t, const uint8_t *resp, size_t len,
                         struct mk_arena *arena, struct mk_writer *out, struct mk_err *err);

#endif
