/*
 * ConsumerProtocol: the subscription and assignment codecs described in consumer_protocol.h,
 * on top of schema.h's version-prefixed data messages.
 */
#include "protocol/consumer_protocol.h"

int mk_consumer_protocol_subscription_encode(const struct mk_consumer_protocol_subscription *sub,
                                             int version, struct mk_writer *w,
                                             struct mk_err *err) {
  return mk_data_encode(&mk_consumer_protocol_subscription_data, version, sub, w, err);
}

int mk_consumer_protocol_subscription_decode(struct mk_bytes metadata,
                                             struct mk_consumer_protocol_subscription *out,
                                             int *version, struct mk_arena *arena,
                                             struct mk_err *err) {
  return mk_data_decode(&mk_consumer_protocol_subscription_data, MK_DATA_NEWER_AS_LATEST,
                        metadata.ptr, metadata.len < 0 ? 0 : (size_t)metadata.len, version, out,
                        arena, err);
}

int mk_consumer_protocol_assignment_encode(const struct mk_consumer_protocol_assignment *a,
                                           int version, struct mk_writer *w, struct mk_err *err) {
  return mk_data_encode(&mk_consumer_protocol_assignment_data, version, a, w, err);
}

int mk_consumer_protocol_assignment_decode(struct mk_bytes assignment,
                                           struct mk_consumer_protocol_assignment *out,
                                           int *version, struct mk_arena *arena,
                                           struct mk_err *err) {
  if (assignment.len <= 0) {  /* the coordinator's "nothing for you" */
    mk_schema_set_defaults(&mk_consumer_protocol_assignment_schema, out);
    *version = -1;
    return 0;
  }
  return mk_data_decode(&mk_consumer_protocol_assignment_data, MK_DATA_NEWER_AS_LATEST,
                        assignment.ptr, (size_t)assignment.len, version, out, arena, err);
}
