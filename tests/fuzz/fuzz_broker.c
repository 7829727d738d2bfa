/*
 * Fuzz target: an in-process broker driven by a sequence of requests the input decides
 * (broker/: kafka_apis.c and every handler, the log, producer state, replication,
 * retention). Run it as described in tests/fuzz/README.md.
 *
 * Each input gets a fresh broker: 3 virtual brokers on loopback, log.memory.max.bytes
 * small enough that the budget acts, not started on a thread: this target runs its loop
 * itself (uv_run, UV_RUN_NOWAIT) while it waits for an answer, so everything happens on
 * one thread in an order the input alone decides (up to the clock: timeouts are kept at a
 * few ms or 0). The input is read as operations, one byte choosing each:
 *
 *   CreateTopics / DeleteTopics   topics t0-t2, 1-3 partitions, replication 1-3
 *   Produce                       to any partition (or none), acks 0/1/all, plain or as one
 *                                 of two idempotent producers, whose next batch is the
 *                                 next sequence, a retry of its last batch, a rewind or a
 *                                 jump; 1-5 records, any codec
 *   Fetch, ListOffsets, Metadata  from offsets at and around both ends
 *   InitProducerId                a producer id for the idempotent producers
 *   a transaction                 one transactional producer ("tx"): FindCoordinator and
 *                                 InitProducerId at its coordinator, AddPartitionsToTxn,
 *                                 transactional batches (op_produce as a third producer),
 *                                 EndTxn commit or abort (markers written by the
 *                                 coordinator as the loop runs)
 *   a cluster fault               elect_leader (clean), broker_down/up, follower_pause/
 *                                 resume, follower_lag 0 (controller.c)
 *   raw bytes                     a frame of input bytes, on a connection of its own
 *
 * After every operation, properties of the whole cluster are checked (any broken one
 * aborts, so libFuzzer keeps the input):
 *   - every request on a connection is answered once, in order (correlation ids), unless
 *     the broker closed the connection (only for bad input: the raw frames);
 *   - each replica's log: offsets dense (a batch starts where the last ended), LEO = last
 *     offset + 1, log start within its first batch (or LEO when empty), size = the sum of
 *     the batches, the leader epoch cache strictly increasing;
 *   - each partition: the leader is in the ISR, HW <= the leader's LEO, every ISR member
 *     has the HW, log start <= LSO <= HW;
 *   - producer state: a retained batch of a producer that is still in the leader's log is
 *     that batch (same producer id and sequences at that offset); the retry of a batch the
 *     leader acknowledged, with no leader change since, gets the original offset;
 *   - what the logs hold (log.memory.max.bytes' count) is exactly the batches and frames
 *     they reference, each counted once; and, leaving out the services' compacted topics
 *     (__transaction_state, which the budget never deletes from), never more than the
 *     budget plus one request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/broker_internal.h"
#include "broker/controller.h"
#include "common/log.h"
#include "protocol/api.h"
#include "protocol/frame.h"
#include "protocol/messages/add_partitions_to_txn.h"
#include "protocol/messages/create_topics.h"
#include "protocol/messages/delete_topics.h"
#include "protocol/messages/end_txn.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/find_coordinator.h"
#include "protocol/messages/init_producer_id.h"
#include "protocol/messages/list_offsets.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/produce.h"
#include "protocol/record_batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

enum { NBROKERS = 3, MAX_OPS = 48, BUDGET = 64 * 1024 };

static void die(const char *fmt, const char *a, long x, long y) {
  fprintf(stderr, "fuzz_broker: ");
  fprintf(stderr, fmt, a, x, y);
  fprintf(stderr, "\n");
  abort();
}

/* ---- the input ------------------------------------------------------------------------------ */

struct input {
  const uint8_t *p;
  size_t n;
};

static unsigned byte(struct input *in) {
  if (in->n == 0) return 0;
  in->n--;
  return *in->p++;
}

/* ---- talking to the broker on its own thread's loop ----------------------------------------- */

struct client {
  int fd;                  /* -1: not connected (or closed by the broker) */
  bool unanswered;         /* the last request had no answer (acks=0): if it failed, the
                              broker closes the connection, as Kafka does */
  int32_t next_id;
  uint8_t buf[1 << 20];
  size_t len;
};

static struct mk_broker *broker;
static struct client clients[NBROKERS + 1];  /* one per virtual broker, + one for raw frames */

static void pump(void) { uv_run(&broker->loop, UV_RUN_NOWAIT); }

static void disconnect(struct client *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->len = 0;
}

static bool connect_to(struct client *c, int node) {
  if (c->fd >= 0) return true;
  if (!broker->cluster.nodes[node].up) return false;
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)broker->cluster.nodes[node].port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(c->fd, F_SETFL, O_NONBLOCK);
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
    disconnect(c);
    return false;
  }
  c->next_id = 1;
  c->len = 0;
  return true;
}

/* Send all of buf, running the loop while the socket is full. */
static bool send_all(struct client *c, const uint8_t *buf, size_t len) {
  for (int spins = 0; len > 0 && spins < 100000; spins++) {
    ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
    if (n > 0) {
      buf += n;
      len -= (size_t)n;
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      return false;
    }
    pump();
  }
  return len == 0;
}

/* The next whole frame on c, running the loop meanwhile. false: the broker closed the
 * connection, or nothing came while the loop had nothing left to do for long. */
static bool next_frame(struct client *c, uint8_t **frame, size_t *len) {
  for (int spins = 0; spins < 200000; spins++) {
    if (c->len >= 4) {
      size_t size = mk_load_u32(c->buf);
      if (size > sizeof c->buf - 4) die("a response frame of %s%ld bytes", "", (long)size, 0);
      if (c->len >= 4 + size) {
        *frame = c->buf + 4;
        *len = size;
        return true;
      }
    }
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (n > 0) {
      c->len += (size_t)n;
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return false;
    pump();
    if (spins > 1000) usleep(20);  /* let a few-ms timer come due */
  }
  return false;
}

static void consume_frame(struct client *c, size_t len) {
  memmove(c->buf, c->buf + 4 + len, c->len - 4 - len);
  c->len -= 4 + len;
}

/* One request to virtual broker node, its answer decoded into *resp (from arena); NULL when
 * nothing came back (acks=0, a closed connection, a broker that is down). */
static void *call(int node, int api_key, int version, const void *body, bool expect_answer,
                  struct mk_arena *arena) {
  struct client *c = &clients[node];
  if (c->unanswered && c->fd >= 0) {
    /* After an acks=0 request: closed if it failed; start afresh either way. */
    disconnect(c);
  }
  c->unanswered = !expect_answer;
  if (!connect_to(c, node)) return NULL;
  struct mk_writer w;
  mk_writer_init(&w);
  int32_t id = c->next_id++;
  struct mk_request_header h = {(int16_t)api_key, (int16_t)version, id, mk_str_of("fuzz")};
  struct mk_err err = {0};
  if (mk_request_encode(&w, &h, body, &err)) die("cannot encode a request: %s%ld%ld", err.msg, 0, 0);
  bool sent = send_all(c, w.buf, w.len);
  mk_writer_free(&w);
  if (!sent) {
    disconnect(c);
    return NULL;
  }
  if (!expect_answer) {
    for (int i = 0; i < 10; i++) pump();
    return NULL;
  }
  uint8_t *frame;
  size_t len;
  if (!next_frame(c, &frame, &len)) {
    /* Only a broker going down (broker_down closes its connections) may end it. */
    if (broker->cluster.nodes[node].up)
      die("broker %s%ld closed a connection or never answered request %ld", "", node, id);
    disconnect(c);
    return NULL;
  }
  int32_t got = -1;
  void *resp = NULL;
  if (mk_response_decode(frame, len, api_key, version, &got, &resp, arena, &err))
    die("cannot decode an answer: %s%ld%ld", err.msg, 0, 0);
  if (got != id) die("answer to request %s%ld came for %ld", "", id, got);
  consume_frame(c, len);
  return resp;
}

/* ---- the model the operations drive --------------------------------------------------------- */

static const char *const topic_names[] = {"t0", "t1", "t2"};

struct idem {
  int64_t producer_id;      /* -1 until InitProducerId */
  int16_t epoch;
  int32_t next_seq[3][4];   /* per topic, partition */
  /* The last batch acknowledged, per topic and partition, for the retry check. */
  struct {
    bool valid;
    int32_t seq, records;
    int64_t offset;
    int32_t leader_epoch;
  } last[3][4];
};
static struct idem idems[3];  /* two idempotent producers, and the transactional one */
static int txn_coordinator = -1;  /* the transactional producer's coordinator, or -1 */

static struct mk_partition *partition_of(const char *topic, int32_t p) {
  return mk_cluster_partition(mk_cluster_find_topic(&broker->cluster, mk_str_of(topic)), p);
}

/* The node to send a request for topic/partition to: its leader, or any up broker. */
static int node_for(const char *topic, int32_t p, unsigned pick) {
  struct mk_partition *part = partition_of(topic, p);
  if (part && part->leader >= 0 && (pick & 3) != 0) return part->leader;
  for (int i = 0; i < NBROKERS; i++)
    if (broker->cluster.nodes[(pick + (unsigned)i) % NBROKERS].up) return (int)((pick + (unsigned)i) % NBROKERS);
  return 0;
}

static void op_create(struct input *in, struct mk_arena *a) {
  struct mk_create_topics_creatable_topic t;
  mk_schema_set_defaults(&mk_create_topics_creatable_topic_schema, &t);
  t.name = mk_str_of(topic_names[byte(in) % 3]);
  t.num_partitions = (int32_t)(byte(in) % 4);          /* 0: invalid */
  t.replication_factor = (int16_t)(byte(in) % 4);      /* 0: invalid */
  if (t.num_partitions == 0) t.num_partitions = -1;    /* the broker's default */
  struct mk_create_topics_request r;
  mk_schema_set_defaults(&mk_create_topics_request_schema, &r);
  r.topics = &t;
  r.topics_count = 1;
  call(node_for("", 0, byte(in)), MK_API_CREATE_TOPICS, 5, &r, true, a);
}

static void op_delete(struct input *in, struct mk_arena *a) {
  struct mk_str name = mk_str_of(topic_names[byte(in) % 3]);
  struct mk_delete_topics_request r;
  mk_schema_set_defaults(&mk_delete_topics_request_schema, &r);
  r.topic_names = &name;
  r.topic_names_count = 1;
  call(node_for("", 0, byte(in)), MK_API_DELETE_TOPICS, 4, &r, true, a);
  for (int i = 0; i < 3; i++) memset(idems[i].last, 0, sizeof idems[i].last);
}

static void op_init_producer_id(struct input *in, struct mk_arena *a) {
  struct idem *p = &idems[byte(in) & 1];
  struct mk_init_producer_id_request r;
  mk_schema_set_defaults(&mk_init_producer_id_request_schema, &r);
  struct mk_init_producer_id_response *resp =
      call(node_for("", 0, byte(in)), MK_API_INIT_PRODUCER_ID, 4, &r, true, a);
  if (resp && resp->error_code == 0) {
    memset(p, 0, sizeof *p);
    p->producer_id = resp->producer_id;
    p->epoch = resp->producer_epoch;
  }
}

static void op_produce(struct input *in, struct mk_arena *a) {
  int ti = (int)(byte(in) % 3);
  int32_t part = (int32_t)(byte(in) % 4);
  unsigned mode = byte(in);
  int16_t acks = (mode & 3) == 0 ? 0 : (mode & 3) == 1 ? 1 : -1;
  int who = (int)((mode >> 2) % 4) - 1;  /* -1: not idempotent; 2: transactional */
  struct idem *p = who >= 0 ? &idems[who] : NULL;
  if (p && p->producer_id < 0) p = NULL;
  int records = 1 + (int)(byte(in) % 5);
  unsigned seq_mode = byte(in);
  int32_t seq = -1;
  bool retry = false;
  if (p) {
    seq = p->next_seq[ti][part];
    switch (seq_mode % 8) {
      case 0:  /* a retry of the last acknowledged batch */
        if (p->last[ti][part].valid) {
          seq = p->last[ti][part].seq;
          records = p->last[ti][part].records;
          retry = true;
        }
        break;
      case 1: seq -= (int32_t)(byte(in) % 8); break;                 /* rewound */
      case 2: seq += 1 + (int32_t)(byte(in) % 8); break;             /* a gap */
      default: break;                                                /* the next */
    }
    if (seq < 0) seq = 0;
  }
  struct mk_record_batch_builder bb;
  mk_record_batch_builder_init(&bb);
  bb.compression = (int)(byte(in) % 5);
  if (p) {
    bb.producer_id = p->producer_id;
    bb.producer_epoch = p->epoch;
    bb.base_sequence = seq;
    if (who == 2) bb.attributes = 0x10;  /* transactional */
  }
  for (int i = 0; i < records; i++) {
    char v[16];
    snprintf(v, sizeof v, "v%d", i);
    mk_record_batch_builder_append(&bb, 1700000000000, MK_BYTES_NULL,
                                   (struct mk_bytes){(const uint8_t *)v, (int32_t)strlen(v)},
                                   NULL, 0);
  }
  struct mk_writer w;
  mk_writer_init(&w);
  mk_record_batch_builder_finish(&bb, &w, NULL);
  mk_record_batch_builder_free(&bb);
  struct mk_produce_partition_produce_data pd = {part, {w.buf, (int32_t)w.len}};
  struct mk_produce_topic_produce_data td = {mk_str_of(topic_names[ti]), &pd, 1};
  struct mk_produce_request r;
  mk_schema_set_defaults(&mk_produce_request_schema, &r);
  r.acks = acks;
  if (p && who == 2) r.transactional_id = mk_str_of("tx");
  r.timeout_ms = (int32_t)(byte(in) % 4);  /* an acks=all wait ends within a few ms */
  r.topic_data = &td;
  r.topic_data_count = 1;
  struct mk_partition *before = partition_of(topic_names[ti], part);
  int32_t epoch_before = before ? before->leader_epoch : -1;
  int node = node_for(topic_names[ti], part, byte(in));
  struct mk_produce_response *resp = call(node, MK_API_PRODUCE, 9, &r, acks != 0, a);
  mk_writer_free(&w);
  if (!resp || resp->responses_count != 1 || resp->responses[0].partition_responses_count != 1)
    return;
  const struct mk_produce_partition_produce_response *pr = &resp->responses[0].partition_responses[0];
  if (!p || pr->error_code != 0) return;
  struct mk_partition *now = partition_of(topic_names[ti], part);
  if (retry && now && now->leader_epoch == epoch_before &&
      p->last[ti][part].leader_epoch == now->leader_epoch &&
      pr->base_offset != p->last[ti][part].offset)
    die("a retry of the batch at offset %s%ld was answered with offset %ld", "",
        (long)p->last[ti][part].offset, (long)pr->base_offset);
  if (!retry && now) {
    p->next_seq[ti][part] = seq + records;
    p->last[ti][part].valid = true;
    p->last[ti][part].seq = seq;
    p->last[ti][part].records = records;
    p->last[ti][part].offset = pr->base_offset;
    p->last[ti][part].leader_epoch = now->leader_epoch;
  }
}

/* The transactional producer's steps, one per operation, in any order the input picks (the
 * coordinator answers those out of place with its errors). */
static void op_transaction(struct input *in, struct mk_arena *a) {
  struct idem *p = &idems[2];
  const struct mk_str id = mk_str_of("tx");
  unsigned step = byte(in) % 4;
  if (step == 0 || txn_coordinator < 0 || !broker->cluster.nodes[txn_coordinator].up) {
    struct mk_find_coordinator_request fc;
    mk_schema_set_defaults(&mk_find_coordinator_request_schema, &fc);
    fc.key = id;
    fc.key_type = 1;  /* a transactional id */
    struct mk_find_coordinator_response *r =
        call(node_for("", 0, byte(in)), MK_API_FIND_COORDINATOR, 3, &fc, true, a);
    txn_coordinator = r && r->error_code == 0 && r->node_id >= 0 && r->node_id < NBROKERS
                          ? r->node_id : -1;
    for (int i = 0; i < 10; i++) pump();  /* the coordinator takes its partition */
    if (txn_coordinator < 0) return;
  }
  if (step == 0 || step == 1) {
    struct mk_init_producer_id_request r;
    mk_schema_set_defaults(&mk_init_producer_id_request_schema, &r);
    r.transactional_id = id;
    r.transaction_timeout_ms = 60000;
    if (step == 1 && p->producer_id >= 0) {  /* KIP-360: the same producer again */
      r.producer_id = p->producer_id;
      r.producer_epoch = p->epoch;
    }
    struct mk_init_producer_id_response *resp =
        call(txn_coordinator, MK_API_INIT_PRODUCER_ID, 4, &r, true, a);
    if (resp && resp->error_code == 0) {
      memset(p, 0, sizeof *p);
      p->producer_id = resp->producer_id;
      p->epoch = resp->producer_epoch;
    }
  } else if (step == 2) {
    int32_t part = (int32_t)(byte(in) % 4);
    struct mk_add_partitions_to_txn_topic t = {mk_str_of(topic_names[byte(in) % 3]), &part, 1};
    struct mk_add_partitions_to_txn_request r;
    mk_schema_set_defaults(&mk_add_partitions_to_txn_request_schema, &r);
    r.v3_and_below_transactional_id = id;
    r.v3_and_below_producer_id = p->producer_id;
    r.v3_and_below_producer_epoch = p->epoch;
    r.v3_and_below_topics = &t;
    r.v3_and_below_topics_count = 1;
    call(txn_coordinator, MK_API_ADD_PARTITIONS_TO_TXN, 3, &r, true, a);
  } else {
    struct mk_end_txn_request r = {id, p->producer_id, p->epoch, (byte(in) & 1) != 0};
    call(txn_coordinator, MK_API_END_TXN, 3, &r, true, a);
    for (int i = 0; i < 10; i++) pump();  /* markers */
  }
}

static void op_fetch(struct input *in, struct mk_arena *a) {
  int ti = (int)(byte(in) % 3);
  int32_t part = (int32_t)(byte(in) % 4);
  struct mk_partition *pp = partition_of(topic_names[ti], part);
  struct mk_replica *leader = pp ? mk_partition_leader(pp) : NULL;
  int64_t ends[] = {0, leader ? leader->log.log_start_offset : 0, pp ? pp->high_watermark : 0,
                    leader ? leader->log.log_end_offset : 0};
  unsigned which = byte(in);
  struct mk_fetch_partition fp;
  mk_schema_set_defaults(&mk_fetch_partition_schema, &fp);
  fp.partition = part;
  fp.fetch_offset = ends[which % 4] + (int64_t)((which >> 2) % 5) - 2;
  fp.partition_max_bytes = 1 + (int32_t)byte(in) * 64;
  struct mk_fetch_topic ft;
  mk_schema_set_defaults(&mk_fetch_topic_schema, &ft);
  ft.topic = mk_str_of(topic_names[ti]);
  ft.partitions = &fp;
  ft.partitions_count = 1;
  struct mk_fetch_request r;
  mk_schema_set_defaults(&mk_fetch_request_schema, &r);
  r.max_wait_ms = 0;
  r.max_bytes = 1 + (int32_t)byte(in) * 256;
  r.topics = &ft;
  r.topics_count = 1;
  call(node_for(topic_names[ti], part, byte(in)), MK_API_FETCH, 11, &r, true, a);
}

static void op_list_offsets(struct input *in, struct mk_arena *a) {
  int ti = (int)(byte(in) % 3);
  struct mk_list_offsets_partition lp;
  mk_schema_set_defaults(&mk_list_offsets_partition_schema, &lp);
  lp.partition_index = (int32_t)(byte(in) % 4);
  static const int64_t ts[] = {-1, -2, -3, 0, 1700000000000, 1800000000000};
  lp.timestamp = ts[byte(in) % 6];
  struct mk_list_offsets_topic lt = {mk_str_of(topic_names[ti]), &lp, 1};
  struct mk_list_offsets_request r;
  mk_schema_set_defaults(&mk_list_offsets_request_schema, &r);
  r.topics = &lt;
  r.topics_count = 1;
  call(node_for(topic_names[ti], lp.partition_index, byte(in)), MK_API_LIST_OFFSETS, 7, &r, true, a);
}

static void op_metadata(struct input *in, struct mk_arena *a) {
  struct mk_metadata_request r;
  mk_schema_set_defaults(&mk_metadata_request_schema, &r);
  r.topics_count = -1;
  r.allow_auto_topic_creation = false;
  call(node_for("", 0, byte(in)), MK_API_METADATA, 9, &r, true, a);
}

static void op_fault(struct input *in) {
  char json[200];
  unsigned kind = byte(in) % 6, b = byte(in) % NBROKERS;
  const char *t = topic_names[byte(in) % 3];
  unsigned part = byte(in) % 4;
  switch (kind) {
    case 0: snprintf(json, sizeof json, "{\"action\":\"elect_leader\",\"topic\":\"%s\",\"partition\":%u,\"broker\":%u}", t, part, b); break;
    case 1: snprintf(json, sizeof json, "{\"action\":\"broker_down\",\"broker\":%u}", b); break;
    case 2: snprintf(json, sizeof json, "{\"action\":\"broker_up\",\"broker\":%u}", b); break;
    case 3: snprintf(json, sizeof json, "{\"action\":\"follower_pause\",\"topic\":\"%s\",\"partition\":%u,\"broker\":%u}", t, part, b); break;
    case 4: snprintf(json, sizeof json, "{\"action\":\"follower_resume\",\"topic\":\"%s\",\"partition\":%u,\"broker\":%u}", t, part, b); break;
    default: snprintf(json, sizeof json, "{\"action\":\"follower_lag\",\"broker\":%u,\"ms\":0}", b); break;
  }
  struct mk_err err = {0};
  mk_fault_inject(broker, json, strlen(json), NULL, &err);  /* refusals are fine */
  for (int i = 0; i < NBROKERS; i++)
    if (!broker->cluster.nodes[i].up) disconnect(&clients[i]);
  for (int i = 0; i < 20; i++) pump();
}

/* A frame of input bytes on a connection of its own: answered or closed, never a crash. */
static void op_raw(struct input *in) {
  struct client *c = &clients[NBROKERS];
  size_t len = byte(in) % 64;
  if (len > in->n) len = in->n;
  uint8_t frame[4 + 64];
  mk_store_u32(frame, (uint32_t)len);
  memcpy(frame + 4, in->p, len);
  in->p += len;
  in->n -= len;
  disconnect(c);
  if (!connect_to(c, 0)) return;
  if (!send_all(c, frame, 4 + len)) return;
  uint8_t *f;
  size_t flen;
  next_frame(c, &f, &flen);  /* an answer or a close: either is fine */
  disconnect(c);
}

/* ---- the properties ------------------------------------------------------------------------- */

/* A set of pointers, to count shared batches and frames once. */
struct ptrset {
  const void **v;
  size_t n, cap;
};

static bool ptrset_add(struct ptrset *s, const void *p) {
  for (size_t i = 0; i < s->n; i++)
    if (s->v[i] == p) return false;
  if (s->n == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 64;
    s->v = realloc(s->v, s->cap * sizeof *s->v);
    if (!s->v) abort();
  }
  s->v[s->n++] = p;
  return true;
}

static void check_log(const struct mk_partition *p, const struct mk_replica *r,
                      struct ptrset *batches, struct ptrset *frames, int64_t *bytes) {
  const struct mk_log *log = &r->log;
  const char *name = p->topic->name;
  int64_t size = 0, next = -1;
  for (size_t i = 0; i < log->count; i++) {
    const struct mk_batch *b = mk_log_batch(log, i);
    if (next >= 0 && b->base_offset != next) die("%s: a gap in a log at offset %ld (%ld)", name, (long)next, (long)b->base_offset);
    if (b->last_offset < b->base_offset) die("%s: a batch ends before it starts (%ld, %ld)", name, (long)b->base_offset, (long)b->last_offset);
    next = b->last_offset + 1;
    size += (int64_t)b->size;
    if (ptrset_add(batches, b)) {
      *bytes += (int64_t)sizeof *b + (b->owner ? 0 : (int64_t)b->size);
      if (b->owner && ptrset_add(frames, b->owner)) *bytes += (int64_t)b->owner->size;
    }
  }
  if (log->count == 0 && log->log_start_offset != log->log_end_offset)
    die("%s: an empty log with start %ld and end %ld", name, (long)log->log_start_offset, (long)log->log_end_offset);
  if (log->count > 0) {
    const struct mk_batch *first = mk_log_batch(log, 0);
    if (next != log->log_end_offset) die("%s: LEO %ld, last batch ends at %ld", name, (long)log->log_end_offset, (long)next - 1);
    if (log->log_start_offset < first->base_offset || log->log_start_offset > first->last_offset)
      die("%s: log start %ld outside the first batch starting at %ld", name, (long)log->log_start_offset, (long)first->base_offset);
  }
  if (size != log->size) die("%s: log size %ld, its batches %ld", name, (long)log->size, (long)size);
  for (size_t i = 1; i < log->epochs_count; i++)
    if (log->epochs[i].epoch <= log->epochs[i - 1].epoch ||
        log->epochs[i].start_offset <= log->epochs[i - 1].start_offset)
      die("%s: the epoch cache is not increasing at entry %ld (%ld)", name, (long)i, 0);
}

static void check_producers(const struct mk_partition *p) {
  const struct mk_replica *leader = mk_partition_leader((struct mk_partition *)p);
  if (!leader) return;
  size_t it = 0;
  const struct mk_producer_entry *e;
  while ((e = mk_producer_state_next(&p->producers, &it)) != NULL) {
    for (int i = 0; i < e->batches_count; i++) {
      const struct mk_batch_metadata *m = &e->batches[i];
      if (m->first_offset < leader->log.log_start_offset) continue;  /* deleted since */
      size_t at = mk_log_find(&leader->log, m->first_offset);
      if (at == leader->log.count) die("%s: producer state remembers offset %ld beyond LEO %ld", p->topic->name, (long)m->first_offset, (long)leader->log.log_end_offset);
      const struct mk_batch *b = mk_log_batch(&leader->log, at);
      if (b->base_offset != m->first_offset || b->producer_id != e->producer_id ||
          b->base_sequence != m->first_seq || b->last_sequence != m->last_seq)
        die("%s: producer state's batch at offset %ld is not the log's (producer %ld)", p->topic->name, (long)m->first_offset, (long)e->producer_id);
    }
  }
}

/* The bytes the services' compacted topics hold (check_cluster): outside the budget. */
static int64_t compacted_bytes;

static void check_cluster(void) {
  struct ptrset batches = {0}, frames = {0};
  int64_t bytes = 0;
  compacted_bytes = 0;
  for (struct mk_topic *t = broker->cluster.topics; t; t = t->next) {
    int64_t before = bytes;
    for (int32_t i = 0; i < t->npartitions; i++) {
      const struct mk_partition *p = t->partitions[i];
      for (int r = 0; r < p->nreplicas; r++) check_log(p, &p->replicas[r], &batches, &frames, &bytes);
      const struct mk_replica *leader = mk_partition_leader((struct mk_partition *)p);
      if (!leader) continue;
      if (!leader->in_isr) die("%s-%ld: the leader %ld is not in the ISR", t->name, i, p->leader);
      if (p->high_watermark > leader->log.log_end_offset)
        die("%s: HW %ld above the leader's LEO %ld", t->name, (long)p->high_watermark, (long)leader->log.log_end_offset);
      for (int r = 0; r < p->nreplicas; r++)
        if (p->replicas[r].in_isr && p->replicas[r].log.log_end_offset < p->high_watermark &&
            broker->cluster.nodes[p->replicas[r].broker_id].up)
          die("%s: an ISR member's LEO %ld below the HW %ld", t->name, (long)p->replicas[r].log.log_end_offset, (long)p->high_watermark);
      int64_t lso = mk_partition_last_stable_offset(p);
      if (lso > p->high_watermark || lso < leader->log.log_start_offset)
        die("%s: LSO %ld outside [log start, HW %ld]", t->name, (long)lso, (long)p->high_watermark);
      check_producers(p);
    }
    if (t->compacted) compacted_bytes += bytes - before;
  }
  free(batches.v);
  free(frames.v);
  if (bytes != broker->cluster.log_usage.bytes)
    die("%s: the logs reference %ld bytes, log.memory.max.bytes counts %ld", "", (long)bytes, (long)broker->cluster.log_usage.bytes);
}

/* ---- libFuzzer ------------------------------------------------------------------------------ */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  mk_log_set_level(MK_LOG_ERROR);  /* refusals are the point; keep the output readable */
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mk_broker_config cfg;
  mk_broker_config_init(&cfg);
  cfg.port = 0;
  cfg.admin_port = -1;
  cfg.brokers = NBROKERS;
  cfg.log_memory_max_bytes = BUDGET;
  cfg.replica_lag_time_max_ms = 50;
  cfg.transaction_state_log_num_partitions = 1;  /* a fresh broker per input: keep it small */
  cfg.offsets_topic_num_partitions = 1;
  struct mk_err err = {0};
  if (mk_broker_new(&cfg, &broker, &err)) {
    fprintf(stderr, "fuzz_broker: %s\n", err.msg);
    abort();
  }
  for (int i = 0; i <= NBROKERS; i++) clients[i].fd = -1;
  for (int i = 0; i < 3; i++) {
    memset(&idems[i], 0, sizeof idems[i]);
    idems[i].producer_id = -1;
  }
  txn_coordinator = -1;
  struct input in = {data, size};
  for (int op = 0; op < MAX_OPS && in.n > 0; op++) {
    struct mk_arena arena;
    mk_arena_init(&arena);
    switch (byte(&in) % 11) {
      case 0: op_create(&in, &arena); break;
      case 1: op_delete(&in, &arena); break;
      case 2: case 3: op_produce(&in, &arena); break;
      case 4: op_fetch(&in, &arena); break;
      case 5: op_init_producer_id(&in, &arena); break;
      case 6: op_list_offsets(&in, &arena); break;
      case 7: op_metadata(&in, &arena); break;
      case 8: op_fault(&in); break;
      case 9: op_transaction(&in, &arena); break;
      default: op_raw(&in); break;
    }
    mk_arena_free(&arena);
    check_cluster();
    if (broker->cluster.log_usage.bytes - compacted_bytes > BUDGET + (64 << 10))
      die("the logs hold %s%ld bytes, over the budget %ld", "",
          (long)(broker->cluster.log_usage.bytes - compacted_bytes), BUDGET);
  }
  for (int i = 0; i <= NBROKERS; i++) disconnect(&clients[i]);
  for (int i = 0; i < 20; i++) pump();
  mk_broker_free(broker);
  broker = NULL;
  return 0;
}
