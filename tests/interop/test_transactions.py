#!/usr/bin/env python3
"""Transactions with confluent-kafka (librdkafka) against minikafka (DESIGN.md 3.6), one
scenario per run, each well under a minute. Run by with_broker.sh (BOOTSTRAP, INTEROP_TMP,
MK_BROKER_TRACE; the admin URL is the second line of the broker's output).

  usage: with_broker.sh MINIKAFKA /usr/bin/python3 test_transactions.py SCENARIO

commit-abort  a transactional producer commits 1,000 records and aborts 500 (flushed first, so
              they are in the log): a read_committed consumer reads exactly the 1,000, a
              read_uncommitted one all 1,500; every partition got a COMMIT and an ABORT marker
              (trace events and offsets), its LSO is its HW again, and /v1/transactions shows
              the id CompleteAbort.
fencing       two producers with one transactional.id: the second's init_transactions fences
              the first, whose open transaction is aborted (its records are never read
              committed) and whose commit fails with a fatal _FENCED error; the second commits.
offsets       consume-transform-produce with send_offsets_to_transaction: committed with the
              output, the group's offsets move with it (committed() and /v1/groups); aborted,
              they stay where they were and the output is not read committed.

Every wait is bounded; only loopback is used. Prints one line per check; exits 1 if any failed.
"""
import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from interop_support import Cluster, admin_url_of, check, failures, log  # noqa: E402

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition  # noqa: E402

BOOTSTRAP = os.environ.get("BOOTSTRAP")
TMP = os.environ.get("INTEROP_TMP")
TRACE = os.environ.get("MK_BROKER_TRACE")
if not BOOTSTRAP or not TMP or len(sys.argv) != 2:
    print("usage: with_broker.sh MINIKAFKA /usr/bin/python3 test_transactions.py "
          "commit-abort|fencing|offsets", file=sys.stderr)
    sys.exit(2)
SCENARIO = sys.argv[1]
CLUSTER = Cluster(BOOTSTRAP, admin_url_of(os.path.join(TMP, "broker.out")))
if not CLUSTER.url:
    print("no admin URL in the broker's output", file=sys.stderr)
    sys.exit(1)


def txn_producer(txn_id, **extra):
    conf = {"bootstrap.servers": BOOTSTRAP, "transactional.id": txn_id, "linger.ms": 5,
            "transaction.timeout.ms": 30000}
    conf.update(extra)
    return Producer(conf)


def read_all(topic, partitions, isolation, timeout=20):
    """Every record of topic as (partition, offset, value), reading each partition from the
    beginning to its end (partition EOF), with isolation.level."""
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": f"reader-{time.time()}",
                  "isolation.level": isolation, "enable.partition.eof": True,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    got, eof = [], set()
    deadline = time.monotonic() + timeout
    while len(eof) < partitions and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                eof.add(m.partition())
            continue
        eof.discard(m.partition())
        got.append((m.partition(), m.offset(), m.value().decode()))
    c.close()
    return got, len(eof) == partitions


def transaction(txn_id):
    status, body = CLUSTER.http("GET", "/v1/transactions")
    if status != 200:
        raise RuntimeError(f"GET /v1/transactions: {status} {body}")
    return next((t for t in body["transactions"] if t["transactional_id"] == txn_id), None)


def trace_events(name):
    with open(TRACE) as f:
        return [e for e in (json.loads(line) for line in f if f'"{name}"' in line)
                if e.get("event") == name]


# ---- commit-abort ----------------------------------------------------------------------------

def scenario_commit_abort():
    topic, n = "txn-ca", 3
    CLUSTER.create_topic(topic, n)
    p = txn_producer("ca-1")
    p.init_transactions(15)
    log("init_transactions done")
    p.begin_transaction()
    for i in range(1000):
        p.produce(topic, value=f"commit-{i}".encode(), partition=i % n)
    p.commit_transaction(30)
    log("1000 committed")
    p.begin_transaction()
    for i in range(500):
        p.produce(topic, value=f"abort-{i}".encode(), partition=i % n)
    left = p.flush(15)  # in the log before the abort: read_uncommitted readers see them
    check("the 500 to abort were sent before the abort", left == 0, f"{left} left")
    p.abort_transaction(30)
    log("500 aborted")

    committed, done = read_all(topic, n, "read_committed")
    values = sorted(v for _, _, v in committed)
    check("read_committed reads exactly the 1,000 committed records", done and
          values == sorted(f"commit-{i}" for i in range(1000)),
          f"{len(committed)} read, {sum(v.startswith('abort') for v in values)} aborted ones")
    everything, done = read_all(topic, n, "read_uncommitted")
    check("read_uncommitted reads all 1,500", done and len(everything) == 1500,
          f"{len(everything)} read")

    # Two markers per partition (a COMMIT and an ABORT), each taking an offset.
    markers = [e for e in trace_events("txn_marker") if e["topic"] == topic]
    by = {(e["partition"], e["result"]) for e in markers}
    check("every partition got a COMMIT and an ABORT marker (trace)",
          by == {(i, r) for i in range(n) for r in ("commit", "abort")}, sorted(by))
    states = []
    for e in trace_events("txn_state"):  # Ongoing -> Ongoing: more partitions, one state
        if e["transactional_id"] == "ca-1" and (not states or states[-1] != e["to"]):
            states.append(e["to"])
    check("txn_state events walk the states", states == ["Empty", "Ongoing", "PrepareCommit",
          "CompleteCommit", "Ongoing", "PrepareAbort", "CompleteAbort"], states)
    ok = True
    for i in range(n):
        st = CLUSTER.wait_settled(topic, i)
        records = sum(1 for pp, _, _ in everything if pp == i)
        ok &= st["high_watermark"] == records + 2 and st["last_stable_offset"] == st["high_watermark"]
    check("each partition's HW counts its records and two markers; its LSO is back at the HW", ok)
    t = transaction("ca-1")
    check("/v1/transactions: CompleteAbort, epoch 0, no partitions left",
          t and t["state"] == "CompleteAbort" and t["epoch"] == 0 and t["partitions"] == [], t)


# ---- fencing ----------------------------------------------------------------------------------

def scenario_fencing():
    topic = "txn-fence"
    CLUSTER.create_topic(topic, 1)
    zombie = txn_producer("fence-1")
    zombie.init_transactions(15)
    zombie.begin_transaction()
    for i in range(10):
        zombie.produce(topic, value=f"zombie-{i}".encode(), partition=0)
    zombie.flush(10)
    t = transaction("fence-1")
    check("the first producer's transaction is Ongoing", t and t["state"] == "Ongoing", t)

    newer = txn_producer("fence-1")
    newer.init_transactions(15)  # fences the zombie: its open transaction is aborted
    t = transaction("fence-1")
    check("the second producer has the next epoch but one (a fence, then its own)",
          t and t["epoch"] == 2 and t["state"] == "Empty", t)
    fenced = None
    try:
        zombie.commit_transaction(10)
    except KafkaException as e:
        fenced = e.args[0]
    log(f"  (librdkafka said {fenced.name() if fenced else None}: {fenced.str() if fenced else ''})")
    check("the zombie's commit fails with a fatal fencing error",
          fenced is not None and fenced.fatal() and
          fenced.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
                            KafkaError.INVALID_PRODUCER_EPOCH), fenced)

    newer.begin_transaction()
    for i in range(5):
        newer.produce(topic, value=f"newer-{i}".encode(), partition=0)
    newer.commit_transaction(15)
    got, done = read_all(topic, 1, "read_committed")
    values = [v for _, _, v in got]
    check("read_committed sees the second producer's records and none of the zombie's",
          done and values == [f"newer-{i}" for i in range(5)], values)
    fence_events = [e for e in trace_events("txn_state")
                    if e["transactional_id"] == "fence-1" and e["to"] == "PrepareEpochFence"]
    check("the trace shows the fence", len(fence_events) == 1, fence_events)


# ---- offsets (consume-transform-produce) ------------------------------------------------------

def scenario_offsets():
    src, dst, group = "txn-in", "txn-out", "ctp-group"
    CLUSTER.create_topic(src, 1)
    CLUSTER.create_topic(dst, 1)
    plain = Producer({"bootstrap.servers": BOOTSTRAP, "acks": "all"})
    for i in range(100):
        plain.produce(src, value=f"in-{i}".encode(), partition=0)
    plain.flush(10)

    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": group,
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "isolation.level": "read_committed"})
    consumer.subscribe([src])
    producer = txn_producer("ctp-1")
    producer.init_transactions(15)

    def step(count, commit):
        """Read count records, write them transformed, send the offsets, end the txn."""
        msgs, deadline = [], time.monotonic() + 20
        while len(msgs) < count and time.monotonic() < deadline:
            m = consumer.poll(0.5)
            if m is not None and not m.error():
                msgs.append(m)
        producer.begin_transaction()
        for m in msgs:
            producer.produce(dst, value=m.value().upper(), partition=0)
        producer.send_offsets_to_transaction(consumer.position(consumer.assignment()),
                                             consumer.consumer_group_metadata(), 15)
        if commit:
            producer.commit_transaction(15)
        else:
            producer.flush(15)  # librdkafka's abort drops what is still queued: send it first
            producer.abort_transaction(15)
        return len(msgs)

    n = step(60, True)
    check("60 records consumed and produced in a committed transaction", n == 60, n)
    committed = consumer.committed([TopicPartition(src, 0)], 10)[0].offset
    check("the group's offset moved with the commit (committed())", committed == 60, committed)
    n = step(40, False)
    committed = consumer.committed([TopicPartition(src, 0)], 10)[0].offset
    check("an aborted transaction leaves the group's offset where it was", n == 40 and
          committed == 60, (n, committed))
    status, body = CLUSTER.http("GET", "/v1/groups")
    g = next((g for g in body.get("groups", []) if g["group_id"] == group), {})
    offs = {o["partition"]: o["committed_offset"] for o in g.get("offsets", []) if o["topic"] == src}
    check("/v1/groups agrees", offs == {0: 60}, offs)
    consumer.close()
    got, done = read_all(dst, 1, "read_committed")
    check("read_committed sees the 60 committed outputs only",
          done and [v for _, _, v in got] == [f"IN-{i}" for i in range(60)], len(got))
    got, done = read_all(dst, 1, "read_uncommitted")
    check("read_uncommitted sees all 100", done and len(got) == 100, len(got))
    t = transaction("ctp-1")
    check("/v1/transactions: CompleteAbort", t and t["state"] == "CompleteAbort", t)


SCENARIOS = {"commit-abort": scenario_commit_abort, "fencing": scenario_fencing,
             "offsets": scenario_offsets}

if SCENARIO not in SCENARIOS:
    print(f"unknown scenario {SCENARIO}; one of {', '.join(SCENARIOS)}", file=sys.stderr)
    sys.exit(2)
try:
    SCENARIOS[SCENARIO]()
except Exception as e:  # a client error: report it as a failed check
    check(f"{SCENARIO} ran to the end", False, repr(e))
log(f"transactions {SCENARIO}: {'FAILED: ' + ', '.join(failures) if failures else 'all checks passed'}")
sys.exit(1 if failures else 0)
