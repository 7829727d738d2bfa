/*
 * Errors: Kafka's error codes, and the one error type that carries them.
 *
 * Every function in minikafka that can fail returns 0 or an error code and,
 * when given one, fills a struct mk_err with a sentence that names the problem
 * and its values ("CRC mismatch in partition 2: stored 0x1a2b3c4d, computed
 * 0x..."). The code is Kafka's own (the numbers in Errors.java, the same ones
 * that travel on the wire), so a student can look it up in Kafka's docs.
 *
 * A few failures exist only inside this process and have no Kafka code (out of
 * memory, bytes that do not decode). They live in a negative range spelled
 * MK_ERR__NAME, as librdkafka does, and are never written to the wire.
 *
 * MK_ERRORS below is the single table; the enum, mk_err_name() and
 * mk_err_retriable() are all generated from it, so they cannot drift apart.
 * Columns: code, name, retriable (as in Kafka's Errors.java).
 */
#ifndef MK_PROTOCOL_ERRORS_H
#define MK_PROTOCOL_ERRORS_H

#include <stdbool.h>
#include <stdint.h>

#define MK_ERRORS(XX) \
  XX(-108, _TRANSACTION_ABORTED,                   0) \
  XX(-107, _TIMED_OUT,                             1) \
  XX(-106, _STATE,                                 0) \
  XX(-105, _TRANSPORT,                             1) \
  XX(-104, _UNSUPPORTED,                           0) \
  XX(-103, _INVALID_ARG,                           0) \
  XX(-102, _DECODE,                                0) \
  XX(-101, _NO_MEMORY,                             0) \
  XX(-1, UNKNOWN_SERVER_ERROR,                  0) \
  XX(0, NONE,                                  0) \
  XX(1, OFFSET_OUT_OF_RANGE,                   0) \
  XX(2, CORRUPT_MESSAGE,                       1) \
  XX(3, UNKNOWN_TOPIC_OR_PARTITION,            1) \
  XX(4, INVALID_FETCH_SIZE,                    0) \
  XX(5, LEADER_NOT_AVAILABLE,                  1) \
  XX(6, NOT_LEADER_OR_FOLLOWER,                1) \
  XX(7, REQUEST_TIMED_OUT,                     1) \
  XX(8, BROKER_NOT_AVAILABLE,                  0) \
  XX(9, REPLICA_NOT_AVAILABLE,                 1) \
  XX(10, MESSAGE_TOO_LARGE,                     0) \
  XX(11, STALE_CONTROLLER_EPOCH,                0) \
  XX(12, OFFSET_METADATA_TOO_LARGE,             0) \
  XX(13, NETWORK_EXCEPTION,                     1) \
  XX(14, COORDINATOR_LOAD_IN_PROGRESS,          1) \
  XX(15, COORDINATOR_NOT_AVAILABLE,             1) \
  XX(16, NOT_COORDINATOR,                       1) \
  XX(17, INVALID_TOPIC_EXCEPTION,               0) \
  XX(18, RECORD_LIST_TOO_LARGE,                 0) \
  XX(19, NOT_ENOUGH_REPLICAS,                   1) \
  XX(20, NOT_ENOUGH_REPLICAS_AFTER_APPEND,      1) \
  XX(21, INVALID_REQUIRED_ACKS,                 0) \
  XX(22, ILLEGAL_GENERATION,                    0) \
  XX(23, INCONSISTENT_GROUP_PROTOCOL,           0) \
  XX(24, INVALID_GROUP_ID,                      0) \
  XX(25, UNKNOWN_MEMBER_ID,                     0) \
  XX(26, INVALID_SESSION_TIMEOUT,               0) \
  XX(27, REBALANCE_IN_PROGRESS,                 0) \
  XX(28, INVALID_COMMIT_OFFSET_SIZE,            0) \
  XX(29, TOPIC_AUTHORIZATION_FAILED,            0) \
  XX(30, GROUP_AUTHORIZATION_FAILED,            0) \
  XX(31, CLUSTER_AUTHORIZATION_FAILED,          0) \
  XX(32, INVALID_TIMESTAMP,                     0) \
  XX(33, UNSUPPORTED_SASL_MECHANISM,            0) \
  XX(34, ILLEGAL_SASL_STATE,                    0) \
  XX(35, UNSUPPORTED_VERSION,                   0) \
  XX(36, TOPIC_ALREADY_EXISTS,                  0) \
  XX(37, INVALID_PARTITIONS,                    0) \
  XX(38, INVALID_REPLICATION_FACTOR,            0) \
  XX(39, INVALID_REPLICA_ASSIGNMENT,            0) \
  XX(40, INVALID_CONFIG,                        0) \
  XX(41, NOT_CONTROLLER,                        1) \
  XX(42, INVALID_REQUEST,                       0) \
  XX(43, UNSUPPORTED_FOR_MESSAGE_FORMAT,        0) \
  XX(44, POLICY_VIOLATION,                      0) \
  XX(45, OUT_OF_ORDER_SEQUENCE_NUMBER,          0) \
  XX(46, DUPLICATE_SEQUENCE_NUMBER,             0) \
  XX(47, INVALID_PRODUCER_EPOCH,                0) \
  XX(48, INVALID_TXN_STATE,                     0) \
  XX(49, INVALID_PRODUCER_ID_MAPPING,           0) \
  XX(50, INVALID_TRANSACTION_TIMEOUT,           0) \
  XX(51, CONCURRENT_TRANSACTIONS,               1) \
  XX(52, TRANSACTION_COORDINATOR_FENCED,        0) \
  XX(53, TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 0) \
  XX(54, SECURITY_DISABLED,                     0) \
  XX(55, OPERATION_NOT_ATTEMPTED,               0) \
  XX(56, KAFKA_STORAGE_ERROR,                   1) \
  XX(57, LOG_DIR_NOT_FOUND,                     0) \
  XX(58, SASL_AUTHENTICATION_FAILED,            0) \
  XX(59, UNKNOWN_PRODUCER_ID,                   0) \
  XX(60, REASSIGNMENT_IN_PROGRESS,              0) \
  XX(61, DELEGATION_TOKEN_AUTH_DISABLED,        0) \
  XX(62, DELEGATION_TOKEN_NOT_FOUND,            0) \
  XX(63, DELEGATION_TOKEN_OWNER_MISMATCH,       0) \
  XX(64, DELEGATION_TOKEN_REQUEST_NOT_ALLOWED,  0) \
  XX(65, DELEGATION_TOKEN_AUTHORIZATION_FAILED, 0) \
  XX(66, DELEGATION_TOKEN_EXPIRED,              0) \
  XX(67, INVALID_PRINCIPAL_TYPE,                0) \
  XX(68, NON_EMPTY_GROUP,                       0) \
  XX(69, GROUP_ID_NOT_FOUND,                    0) \
  XX(70, FETCH_SESSION_ID_NOT_FOUND,            1) \
  XX(71, INVALID_FETCH_SESSION_EPOCH,           1) \
  XX(72, LISTENER_NOT_FOUND,                    1) \
  XX(73, TOPIC_DELETION_DISABLED,               0) \
  XX(74, FENCED_LEADER_EPOCH,                   1) \
  XX(75, UNKNOWN_LEADER_EPOCH,                  1) \
  XX(76, UNSUPPORTED_COMPRESSION_TYPE,          0) \
  XX(77, STALE_BROKER_EPOCH,                    0) \
  XX(78, OFFSET_NOT_AVAILABLE,                  1) \
  XX(79, MEMBER_ID_REQUIRED,                    0) \
  XX(80, PREFERRED_LEADER_NOT_AVAILABLE,        1) \
  XX(81, GROUP_MAX_SIZE_REACHED,                0) \
  XX(82, FENCED_INSTANCE_ID,                    0) \
  XX(83, ELIGIBLE_LEADERS_NOT_AVAILABLE,        1) \
  XX(84, ELECTION_NOT_NEEDED,                   1) \
  XX(85, NO_REASSIGNMENT_IN_PROGRESS,           0) \
  XX(86, GROUP_SUBSCRIBED_TO_TOPIC,             0) \
  XX(87, INVALID_RECORD,                        0) \
  XX(88, UNSTABLE_OFFSET_COMMIT,                1) \
  XX(89, THROTTLING_QUOTA_EXCEEDED,             1) \
  XX(90, PRODUCER_FENCED,                       0) \
  XX(91, RESOURCE_NOT_FOUND,                    0) \
  XX(92, DUPLICATE_RESOURCE,                    0) \
  XX(93, UNACCEPTABLE_CREDENTIAL,               0) \
  XX(94, INCONSISTENT_VOTER_SET,                0) \
  XX(95, INVALID_UPDATE_VERSION,                0) \
  XX(96, FEATURE_UPDATE_FAILED,                 0) \
  XX(97, PRINCIPAL_DESERIALIZATION_FAILURE,     0) \
  XX(98, SNAPSHOT_NOT_FOUND,                    0) \
  XX(100, UNKNOWN_TOPIC_ID,                      1) \
  XX(101, DUPLICATE_BROKER_REGISTRATION,         0) \
  XX(102, BROKER_ID_NOT_REGISTERED,              0) \
  XX(103, INCONSISTENT_TOPIC_ID,                 1) \
  XX(104, INCONSISTENT_CLUSTER_ID,               0) \
  XX(105, TRANSACTIONAL_ID_NOT_FOUND,            0) \
  XX(106, FETCH_SESSION_TOPIC_ID_ERROR,          1) \
  XX(107, INELIGIBLE_REPLICA,                    0) \
  XX(108, NEW_LEADER_ELECTED,                    0) \
  XX(109, OFFSET_MOVED_TO_TIERED_STORAGE,        0) \
  XX(110, FENCED_MEMBER_EPOCH,                   0) \
  XX(111, UNRELEASED_INSTANCE_ID,                0) \
  XX(112, UNSUPPORTED_ASSIGNOR,                  0) \
  XX(113, STALE_MEMBER_EPOCH,                    0) \
  XX(114, MISMATCHED_ENDPOINT_TYPE,              0) \
  XX(115, UNSUPPORTED_ENDPOINT_TYPE,             0) \
  XX(116, UNKNOWN_CONTROLLER_ID,                 0) \
  XX(117, UNKNOWN_SUBSCRIPTION_ID,               0) \
  XX(118, TELEMETRY_TOO_LARGE,                   0) \
  XX(119, INVALID_REGISTRATION,                  0) \
  XX(120, TRANSACTION_ABORTABLE,                 0) \
  XX(121, INVALID_RECORD_STATE,                  0) \
  XX(122, SHARE_SESSION_NOT_FOUND,               1) \
  XX(123, INVALID_SHARE_SESSION_EPOCH,           1) \
  XX(124, FENCED_STATE_EPOCH,                    0) \
  XX(125, INVALID_VOTER_KEY,                     0) \
  XX(126, DUPLICATE_VOTER,                       0) \
  XX(127, VOTER_NOT_FOUND,                       0) \
  XX(128, INVALID_REGULAR_EXPRESSION,            0) \
  XX(129, REBOOTSTRAP_REQUIRED,                  0) \

/* The local codes (negative, below -100) mean:
 *   _NO_MEMORY    an allocation failed
 *   _DECODE       bytes do not match the message layout (truncated, bad length, ...)
 *   _INVALID_ARG  the caller passed something the function cannot use
 *   _UNSUPPORTED  a feature or version this build does not implement
 *   _TRANSPORT    the connection failed or closed
 *   _STATE        the operation is not allowed in the object's current state
 *   _TIMED_OUT    a local wait ran out (Kafka's REQUEST_TIMED_OUT is for broker waits)
 *   _TRANSACTION_ABORTED  a record not yet sent when its transaction aborted (Java's
 *                 TransactionAbortedException) */

enum mk_error {
#define XX(code, name, retriable) MK_ERR_##name = code,
  MK_ERRORS(XX)
#undef XX
};

/* An error code plus the sentence that explains it. A zeroed struct means "no error". */
struct mk_err {
  int16_t code;
  char msg[192];
};

/* Kafka's name for a code ("NOT_ENOUGH_REPLICAS"), or "UNKNOWN_ERROR_CODE" for one not in the
 * table. Local codes keep their leading underscore ("_DECODE"). Thread: any. */
const char *mk_err_name(int code);

/* Whether Kafka treats the code as retriable (RetriableException in Java). Thread: any. */
bool mk_err_retriable(int code);

/* The code whose name is `name` (as in errors.tsv), or MK_ERR_UNKNOWN_SERVER_ERROR with
 * *found = false. Thread: any. Borrows: name. */
int mk_err_from_name(const char *name, bool *found);

/* Set err->code and format err->msg like printf; returns code so a caller can write
 * `return mk_err_set(err, MK_ERR_CORRUPT_MESSAGE, "...", ...);`. err may be NULL.
 * Thread: any. */
int mk_err_set(struct mk_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
