#!/usr/bin/env python3
"""Consumer groups with real clients (DESIGN.md 3.5), one scenario per run, each well under a
minute. Run by with_broker.sh (BOOTSTRAP, INTEROP_TMP, MK_BROKER_TRACE; the admin URL is the
second line of the broker's output, $INTEROP_TMP/broker.out).

  usage: with_broker.sh MINIKAFKA /usr/bin/python3 test_groups.py SCENARIO

kcat             two `kcat -G` members on a 6-partition topic split it (disjoint assignments
                 covering every partition) and read every record exactly once; one leaves and
                 the other takes all six; stopped and restarted, a member resumes after the
                 last commit (reads only what came after).
kafka-python     KafkaConsumer(group_id=...) reads everything, commits, and committed() gives
                 the offsets back; a second consumer of the group starts after them.
confluent-kafka  two consumers of one group with manual, synchronous commits split the topic
                 and read every record once; committed() agrees; a new consumer resumes.
failover         a confluent-kafka group consumes a steady stream while the coordinator's
                 broker goes down (broker_down over the admin API): the group carries on with
                 the new coordinator, every record is read, and no committed offset goes back.

Every wait is bounded; only loopback is used. Prints one line per check; exits 1 if any failed.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from interop_support import Cluster, admin_url_of, check, failures, log, wait_until  # noqa: E402

BOOTSTRAP = os.environ.get("BOOTSTRAP")
TMP = os.environ.get("INTEROP_TMP")
if not BOOTSTRAP or not TMP or len(sys.argv) != 2:
    print("usage: with_broker.sh MINIKAFKA /usr/bin/python3 test_groups.py "
          "kcat|kafka-python|confluent-kafka|failover", file=sys.stderr)
    sys.exit(2)
SCENARIO = sys.argv[1]
CLUSTER = Cluster(BOOTSTRAP, admin_url_of(os.path.join(TMP, "broker.out")))
if not CLUSTER.url:
    print("no admin URL in the broker's output", file=sys.stderr)
    sys.exit(1)


def group(group_id):
    """The group as GET /v1/groups shows it, or None."""
    status, body = CLUSTER.http("GET", "/v1/groups")
    if status != 200:
        raise RuntimeError(f"GET /v1/groups: {status} {body}")
    return next((g for g in body["groups"] if g["group_id"] == group_id), None)


def committed_in_admin(group_id, topic):
    g = group(group_id)
    return {o["partition"]: o["committed_offset"] for o in (g or {}).get("offsets", [])
            if o["topic"] == topic}


def produce(topic, records):
    """records: (partition, value) pairs, written with acks=all by librdkafka."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": BOOTSTRAP, "acks": "all", "linger.ms": 5})
    errors = []
    for part, value in records:
        p.produce(topic, value=value.encode(), partition=part,
                  on_delivery=lambda err, msg: err and errors.append(err))
    left = p.flush(30)
    if left or errors:
        raise RuntimeError(f"produce to {topic}: {left} undelivered, errors {errors[:3]}")


# ---- kcat ----------------------------------------------------------------------------------------

class KcatMember:
    """`kcat -G`: a balanced consumer printing "partition offset value" per record."""

    def __init__(self, name, group_id, topic):
        self.name = name
        self.out = os.path.join(TMP, f"{name}.out")
        self.err = os.path.join(TMP, f"{name}.err")
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen(
                ["kcat", "-b", BOOTSTRAP, "-G", group_id, topic, "-u", "-f", "%p %o %s\\n",
                 "-X", "auto.offset.reset=earliest", "-X", "heartbeat.interval.ms=500",
                 "-X", "auto.commit.interval.ms=500", "-X", "session.timeout.ms=10000"],
                stdout=out, stderr=err)

    def records(self):
        with open(self.out) as f:
            text = f.read()
        # kcat -u writes a record in pieces: a line without its newline yet is not one
        text = text[:text.rfind("\n") + 1]
        return [tuple(line.split(" ", 2)) for line in text.splitlines() if line]

    def assigned(self):
        """The partitions of its last "assigned:" line, or None before one."""
        last = None
        with open(self.err) as f:
            for line in f:
                if "rebalanced" in line and "assigned:" in line:
                    last = sorted(int(p) for p in re.findall(r"\[(\d+)\]", line.split("assigned:")[1]))
        return last

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)  # kcat closes the consumer: commit, LeaveGroup
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            log(f"{self.name} did not stop on SIGTERM")
        return self.proc.returncode


def values_of(members):
    return [r[2] for m in members for r in m.records()]


def scenario_kcat():
    topic, group_id = "groups-kcat", "kcat-group"
    CLUSTER.create_topic(topic, 6)
    a = KcatMember("kcat-a", group_id, topic)
    time.sleep(0.5)
    b = KcatMember("kcat-b", group_id, topic)
    try:
        # The records come once both hold their share, so however the joins were timed
        # (one generation or two), each record has one reader.
        split = wait_until("both assigned", lambda: a.assigned() and b.assigned() and
                           sorted(a.assigned() + b.assigned()) == list(range(6)), 30)
        ra, rb = a.assigned() or [], b.assigned() or []
        check("two kcat members split the six partitions",
              split and ra and rb and not set(ra) & set(rb), f"a {ra}, b {rb}")
        produce(topic, [(p, f"p{p}-{i}") for p in range(6) for i in range(10)])
        wait_until("60 read", lambda: len(values_of([a, b])) >= 60, 20)
        values = values_of([a, b])
        check("every record read exactly once across both",
              sorted(values) == sorted(f"p{p}-{i}" for p in range(6) for i in range(10)),
              f"{len(values)} read, {len(set(values))} distinct")
        check("each member read only its own partitions",
              all(int(r[0]) in ra for r in a.records()) and all(int(r[0]) in rb for r in b.records()))

        log("kcat-b leaves")
        b.stop()
        took_all = wait_until("all six", lambda: a.assigned() == list(range(6)), 20)
        check("after one leaves, the other takes all six partitions", took_all, f"a {a.assigned()}")
        produce(topic, [(p, f"p{p}-{i}") for p in range(6) for i in range(10, 12)])
        wait_until("72 read", lambda: len(values_of([a, b])) >= 72, 15)
        values = values_of([a, b])
        check("the records after the rebalance are read once, by the one left",
              sorted(values) == sorted(f"p{p}-{i}" for p in range(6) for i in range(12)),
              f"{len(values)} read, {len(set(values))} distinct")

        log("kcat-a stops; one record more per partition; a member starts again")
        a.stop()
        produce(topic, [(p, f"p{p}-12") for p in range(6)])
        committed = committed_in_admin(group_id, topic)
        check("the group's commits are in /v1/groups (12 per partition)",
              committed == {p: 12 for p in range(6)}, f"{committed}")
        again = KcatMember("kcat-again", group_id, topic)
        try:
            wait_until("6 read", lambda: len(again.records()) >= 6, 20)
            time.sleep(1)  # anything older would come first: give it a moment to show
            got = sorted(r[2] for r in again.records())
            check("a restarted member resumes after the last commit",
                  got == sorted(f"p{p}-12" for p in range(6)), f"read {got}")
        finally:
            again.stop()
        g = group(group_id)
        check("/v1/groups: the group is Empty, offsets 13, lag 0",
              g and g["state"] == "Empty" and all(o["committed_offset"] == 13 and o["lag"] == 0
                                                  for o in g["offsets"]), f"{g}")
    finally:
        for m in (a, b):
            if m.proc.poll() is None:
                m.proc.kill()


# ---- kafka-python --------------------------------------------------------------------------------

def scenario_kafka_python():
    from kafka import KafkaConsumer, TopicPartition
    topic, group_id = "groups-kafka-python", "kafka-python-group"
    CLUSTER.create_topic(topic, 3)
    produce(topic, [(p, f"p{p}-{i}") for p in range(3) for i in range(20)])
    c = KafkaConsumer(topic, bootstrap_servers=BOOTSTRAP.split(","), group_id=group_id,
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      consumer_timeout_ms=6000)
    values = [m.value.decode() for m in c]
    check("KafkaConsumer(group_id=...) reads everything", sorted(values) ==
          sorted(f"p{p}-{i}" for p in range(3) for i in range(20)), f"{len(values)} read")
    c.commit()
    committed = {tp.partition: c.committed(tp) for tp in (TopicPartition(topic, p) for p in range(3))}
    check("committed() returns what commit() stored", committed == {0: 20, 1: 20, 2: 20},
          f"{committed}")
    c.close()
    check("/v1/groups agrees", committed_in_admin(group_id, topic) == {0: 20, 1: 20, 2: 20})
    produce(topic, [(p, f"p{p}-new") for p in range(3)])
    c2 = KafkaConsumer(topic, bootstrap_servers=BOOTSTRAP.split(","), group_id=group_id,
                       auto_offset_reset="earliest", enable_auto_commit=True,
                       consumer_timeout_ms=6000)
    values = sorted(m.value.decode() for m in c2)
    c2.close()
    check("a second consumer of the group starts after the commits", values ==
          sorted(f"p{p}-new" for p in range(3)), f"read {values}")
    with open(os.environ["MK_BROKER_TRACE"]) as f:
        versions = {(e["api"], e["api_version"]) for e in map(json.loads, f)
                    if e.get("event") == "request_received"
                    and e.get("client_id", "").startswith("kafka-python")}
    group_apis = ("JoinGroup", "SyncGroup", "Heartbeat", "OffsetCommit", "OffsetFetch",
                  "FindCoordinator", "LeaveGroup")
    log(f"kafka-python sent: {sorted(v for v in versions if v[0] in group_apis)}")


# ---- confluent-kafka -----------------------------------------------------------------------------

def new_consumer(group_id, **extra):
    from confluent_kafka import Consumer
    conf = {"bootstrap.servers": BOOTSTRAP, "group.id": group_id, "auto.offset.reset": "earliest",
            "enable.auto.commit": False, "heartbeat.interval.ms": 500,
            "session.timeout.ms": 10000}
    conf.update(extra)
    return Consumer(conf)


def poll_until(consumers, want, timeout, on_message=None):
    """Poll every consumer in turn until `want` records were read in all, or time is up;
    commit each record synchronously. Returns {consumer index: [values]}."""
    read = {i: [] for i in range(len(consumers))}
    deadline = time.monotonic() + timeout
    while sum(map(len, read.values())) < want and time.monotonic() < deadline:
        for i, c in enumerate(consumers):
            m = c.poll(0.1)
            if m is None or m.error():
                continue
            read[i].append(m.value().decode())
            if on_message:
                on_message(i, m)
            c.commit(message=m, asynchronous=False)
    return read


def scenario_confluent_kafka():
    from confluent_kafka import TopicPartition
    topic, group_id = "groups-confluent", "confluent-group"
    CLUSTER.create_topic(topic, 4)
    produce(topic, [(p, f"p{p}-{i}") for p in range(4) for i in range(25)])
    consumers = [new_consumer(group_id) for _ in range(2)]
    for c in consumers:
        c.subscribe([topic])
    partitions = {0: set(), 1: set()}
    read = poll_until(consumers, 100, 30,
                      lambda i, m: partitions[i].add(m.partition()))
    values = read[0] + read[1]
    check("two consumers of one group read every record once",
          sorted(values) == sorted(f"p{p}-{i}" for p in range(4) for i in range(25)),
          f"{len(values)} read, {len(set(values))} distinct")
    check("they split the partitions", partitions[0] and partitions[1] and
          not partitions[0] & partitions[1], f"{partitions}")
    committed = consumers[0].committed([TopicPartition(topic, p) for p in range(4)], timeout=10)
    check("committed() gives back the manual commits",
          {tp.partition: tp.offset for tp in committed} == {p: 25 for p in range(4)},
          f"{[(tp.partition, tp.offset) for tp in committed]}")
    for c in consumers:
        c.close()
    produce(topic, [(p, f"p{p}-late") for p in range(4)])
    c = new_consumer(group_id)
    c.subscribe([topic])
    read = poll_until([c], 4, 20)
    time.sleep(0.5)
    extra = poll_until([c], 1, 1)
    c.close()
    check("a new consumer resumes after the commits",
          sorted(read[0]) == sorted(f"p{p}-late" for p in range(4)) and not extra[0],
          f"read {read[0]} then {extra[0]}")


# ---- failover ------------------------------------------------------------------------------------

def scenario_failover():
    from confluent_kafka import TopicPartition
    topic, group_id = "groups-failover", "failover-group"
    CLUSTER.create_topic(topic, 3)
    produce(topic, [(p, f"before-{p}-{i}") for p in range(3) for i in range(30)])
    c = new_consumer(group_id)
    c.subscribe([topic])
    read = poll_until([c], 90, 30)[0]
    check("the group read the first batch", len(read) == 90, f"{len(read)} read")
    before = {tp.partition: tp.offset for tp in
              c.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)}
    check("its commits are in", before == {0: 30, 1: 30, 2: 30}, f"{before}")
    old = group(group_id)["coordinator"]
    log(f"broker_down of the coordinator, broker {old}")
    CLUSTER.fault(action="broker_down", broker=old)
    try:
        new = wait_until("new coordinator",
                         lambda: (group(group_id) or {}).get("coordinator", old) != old
                         and group(group_id)["coordinator"], 10)
        check("another broker coordinates the group", new not in (None, old), f"coordinator {new}")
        produce(topic, [(p, f"after-{p}-{i}") for p in range(3) for i in range(20)])
        more = poll_until([c], 60, 40)[0]
        check("the group carries on: every record after the failover is read",
              sorted(set(more)) == sorted(f"after-{p}-{i}" for p in range(3) for i in range(20)),
              f"{len(more)} read, {len(set(more))} distinct")
        after = {tp.partition: tp.offset for tp in
                 c.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)}
        check("no committed offset went back, and the new ones are in",
              all(after[p] >= before[p] for p in range(3)) and after == {0: 50, 1: 50, 2: 50},
              f"before {before}, after {after}")
        g = group(group_id)
        check("/v1/groups on the new coordinator: Stable, offsets 50",
              g and g["state"] == "Stable"
              and committed_in_admin(group_id, topic) == {0: 50, 1: 50, 2: 50},
              f"{g}")
    finally:
        c.close()
        CLUSTER.fault(action="broker_up", broker=old)


SCENARIOS = {"kcat": scenario_kcat, "kafka-python": scenario_kafka_python,
             "confluent-kafka": scenario_confluent_kafka, "failover": scenario_failover}
if SCENARIO not in SCENARIOS:
    print(f"unknown scenario {SCENARIO}; one of {', '.join(SCENARIOS)}", file=sys.stderr)
    sys.exit(2)
try:
    SCENARIOS[SCENARIO]()
except ImportError as e:
    print(f"a client is missing ({e}): run ./run.sh test, which installs them", file=sys.stderr)
    sys.exit(1)
log(f"groups {SCENARIO}: {'all checks passed' if not failures else 'FAILED: ' + ', '.join(failures)}")
sys.exit(1 if failures else 0)
