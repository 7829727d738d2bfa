#!/usr/bin/env python3
"""`minikafka consume --group` in one group with real clients' consumers (DESIGN.md 3.5): they
must not be able to tell it from a Java consumer. Run by with_broker.sh (BOOTSTRAP,
INTEROP_TMP), one scenario per run:

  usage: with_broker.sh MINIKAFKA /usr/bin/python3 test_consumer_groups_cli.py MINIKAFKA SCENARIO

kcat             with kcat -G (librdkafka 2.0.2), twice: our member first (we are the leader
                 and run the range assignor for both), then kcat first (librdkafka's leader
                 assigns to us). Each time: 3 + 3 partitions, every record read once across
                 both, `minikafka groups --describe --members` lists both, and when ours leaves
                 kcat takes all six.
confluent-kafka  a confluent-kafka consumer offering only roundrobin and ours offering
                 roundrobin,range: the group picks roundrobin (`groups --describe --state`),
                 the two split the topic and read every record once. Then a confluent-kafka
                 consumer offering only cooperative-sticky: ours cannot join (we have no
                 cooperative assignor) and says so, with INCONSISTENT_GROUP_PROTOCOL.
kafka-python     kafka-python 2.0.2 (JoinGroup v2, subscription v0) and ours in one group:
                 each decodes the other's subscription or assignment; split, read once.

Every wait is bounded; only loopback is used. Prints one line per check; exits 1 if any failed.
"""
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from interop_support import check, failures, log, wait_until  # noqa: E402

BOOTSTRAP = os.environ.get("BOOTSTRAP")
TMP = os.environ.get("INTEROP_TMP")
if not BOOTSTRAP or not TMP or len(sys.argv) != 3:
    print("usage: with_broker.sh MINIKAFKA /usr/bin/python3 test_consumer_groups_cli.py "
          "MINIKAFKA kcat|confluent-kafka|kafka-python", file=sys.stderr)
    sys.exit(2)
MK, SCENARIO = sys.argv[1], sys.argv[2]


def mk(*args, timeout=60):
    return subprocess.run([MK, *args], capture_output=True, text=True, timeout=timeout)


def create_topic(name, partitions):
    r = mk("topics", "--bootstrap-server", BOOTSTRAP, "--create", "--topic", name,
           "--partitions", str(partitions), "--replication-factor", "3")
    if r.returncode:
        raise RuntimeError(r.stderr)


def produce(topic, records):
    """(partition, value) pairs, written with acks=all by librdkafka."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": BOOTSTRAP, "acks": "all", "linger.ms": 5})
    for part, value in records:
        p.produce(topic, value=value.encode(), partition=part)
    if p.flush(30):
        raise RuntimeError("produce: records left undelivered")


class Ours:
    """`minikafka consume --group`: its records and its last assignment line."""

    def __init__(self, topic, group, *extra):
        self.records, self.assigned, self.err = [], None, []
        self.p = subprocess.Popen(
            [MK, "consume", "--bootstrap-server", BOOTSTRAP, "--topic", topic, "--group", group,
             "--from-beginning", "--property", "print.partition=true", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._out, daemon=True).start()
        threading.Thread(target=self._err, daemon=True).start()

    def _out(self):
        for line in self.p.stdout:
            part, _, value = line.rstrip("\n").partition("\t")
            self.records.append((int(part.split(":")[1]), value))

    def _err(self):
        for line in self.p.stderr:
            self.err.append(line)
            m = re.search(r"assigned (\d+) partitions?(?:: (.*))?", line)
            if m:
                self.assigned = sorted(int(x.rsplit("-", 1)[1])
                                       for x in (m.group(2) or "").split(", ") if x)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return None


class Kcat:
    def __init__(self, name, topic, group):
        self.out, self.err = os.path.join(TMP, name + ".out"), os.path.join(TMP, name + ".err")
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.p = subprocess.Popen(
                ["kcat", "-b", BOOTSTRAP, "-G", group, topic, "-u", "-f", "%p %s\\n",
                 "-X", "auto.offset.reset=earliest", "-X", "heartbeat.interval.ms=500",
                 "-X", "session.timeout.ms=10000"], stdout=out, stderr=err)

    def records(self):
        with open(self.out) as f:
            return [(int(l.split(" ", 1)[0]), l.split(" ", 1)[1]) for l in f.read().splitlines() if l]

    def assigned(self):
        last = None
        with open(self.err) as f:
            for line in f:
                if "rebalanced" in line and "assigned:" in line:
                    last = sorted(int(p) for p in re.findall(r"\[(\d+)\]", line.split("assigned:")[1]))
        return last

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(15)
        except subprocess.TimeoutExpired:
            self.p.kill()


class PyConsumer:
    """A confluent-kafka or kafka-python consumer polled on a thread."""

    def __init__(self, kind, topic, group, **conf):
        self.records, self.assigned, self.error = [], None, None
        self.stopping = False
        if kind == "confluent-kafka":
            from confluent_kafka import Consumer
            cfg = {"bootstrap.servers": BOOTSTRAP, "group.id": group,
                   "auto.offset.reset": "earliest", "heartbeat.interval.ms": 500,
                   "session.timeout.ms": 10000}
            cfg.update(conf)
            self.c = Consumer(cfg)
            self.c.subscribe([topic], on_assign=self._on_assign)
        else:
            from kafka import KafkaConsumer
            self.c = KafkaConsumer(bootstrap_servers=BOOTSTRAP.split(","), group_id=group,
                                   auto_offset_reset="earliest", heartbeat_interval_ms=500,
                                   session_timeout_ms=10000)
            from kafka import ConsumerRebalanceListener

            outer = self

            class Listener(ConsumerRebalanceListener):
                def on_partitions_revoked(self, revoked):
                    pass

                def on_partitions_assigned(self, assigned):
                    outer.assigned = sorted(tp.partition for tp in assigned)

            self.c.subscribe([topic], listener=Listener())
        self.kind = kind
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _on_assign(self, consumer, partitions):
        self.assigned = sorted(p.partition for p in partitions)

    def _run(self):
        try:
            while not self.stopping:
                if self.kind == "confluent-kafka":
                    m = self.c.poll(0.2)
                    if m is None:
                        continue
                    if m.error():
                        self.error = str(m.error())
                        continue
                    self.records.append((m.partition(), m.value().decode()))
                else:
                    for tp, msgs in self.c.poll(200).items():
                        for m in msgs:
                            self.records.append((tp.partition, m.value.decode()))
        except Exception as e:  # noqa: BLE001 (reported as a check)
            self.error = repr(e)

    def stop(self):
        self.stopping = True
        self.t.join(10)
        self.c.close()


def pair(label, topic, group, ours, other, other_assigned, other_records):
    split = wait_until("split", lambda: ours.assigned and other_assigned() and
                       sorted(ours.assigned + other_assigned()) == list(range(6)), 40)
    check(f"{label}: 3 + 3 partitions, disjoint", split and len(ours.assigned) == 3,
          f"ours {ours.assigned}, theirs {other_assigned()}; {''.join(ours.err)[-400:]}")
    produce(topic, [(p, f"{topic}-p{p}-{i}") for p in range(6) for i in range(10)])
    wait_until("60 read", lambda: len(ours.records) + len(other_records()) >= 60, 30)
    got = [v for _, v in ours.records] + [v for _, v in other_records()]
    check(f"{label}: every record read exactly once across both",
          sorted(got) == sorted(f"{topic}-p{p}-{i}" for p in range(6) for i in range(10)),
          f"{len(got)} read, {len(set(got))} distinct")
    check(f"{label}: each read only its own partitions",
          {p for p, _ in ours.records} <= set(ours.assigned or []) and
          {p for p, _ in other_records()} <= set(other_assigned() or []))
    d = mk("groups", "--bootstrap-server", BOOTSTRAP, "--describe", "--group", group, "--members")
    rows = [l for l in d.stdout.splitlines()[2:] if l.strip()]
    check(f"{label}: groups --describe --members lists both, 3 partitions each",
          len(rows) == 2 and all(l.split()[-1] == "3" for l in rows) and
          any("consumer-" + group in l for l in rows), d.stdout + d.stderr)


def scenario_kcat():
    for first in ("ours", "kcat"):
        topic, group = f"cli-kcat-{first}", f"cli-kcat-{first}-group"
        create_topic(topic, 6)
        log(f"{first} joins first (and leads)")
        if first == "ours":
            ours = Ours(topic, group)
            wait_until("ours assigned", lambda: ours.assigned == list(range(6)), 30)
            kc = Kcat(f"kcat-{first}", topic, group)
        else:
            kc = Kcat(f"kcat-{first}", topic, group)
            wait_until("kcat assigned", lambda: kc.assigned() == list(range(6)), 30)
            ours = Ours(topic, group)
        try:
            pair(f"with kcat, {first} leading", topic, group, ours, kc, kc.assigned, kc.records)
            rc = ours.stop()
            check("ours leaves on SIGTERM", rc == 128 + signal.SIGTERM, "".join(ours.err)[-300:])
            check("kcat then takes all six partitions",
                  wait_until("kcat all", lambda: kc.assigned() == list(range(6)), 30),
                  f"{kc.assigned()}")
        finally:
            ours.stop()
            kc.stop()


def scenario_confluent_kafka():
    topic, group = "cli-ck", "cli-ck-group"
    create_topic(topic, 6)
    ck = PyConsumer("confluent-kafka", topic, group, **{"partition.assignment.strategy": "roundrobin"})
    wait_until("ck assigned", lambda: ck.assigned == list(range(6)), 30)
    ours = Ours(topic, group, "--consumer-property", "partition.assignment.strategy=roundrobin,range")
    try:
        pair("with confluent-kafka (roundrobin)", topic, group, ours, ck, lambda: ck.assigned,
             lambda: ck.records)
        st = mk("groups", "--bootstrap-server", BOOTSTRAP, "--describe", "--group", group, "--state")
        check("the group's assignor is roundrobin, the one both offered", re.search(
            r"\sroundrobin\s+Stable\s+2\s*$", st.stdout, re.M) is not None, st.stdout)
    finally:
        ours.stop()
        ck.stop()
    check("confluent-kafka saw no error", ck.error is None, str(ck.error))

    topic, group = "cli-coop", "cli-coop-group"
    create_topic(topic, 6)
    coop = PyConsumer("confluent-kafka", topic, group,
                      **{"partition.assignment.strategy": "cooperative-sticky"})
    try:
        wait_until("coop assigned", lambda: coop.assigned == list(range(6)), 30)
        r = subprocess.run([MK, "consume", "--bootstrap-server", BOOTSTRAP, "--topic", topic,
                            "--group", group, "--timeout-ms", "20000"],
                           capture_output=True, text=True, timeout=60)
        check("a group of cooperative-sticky members: ours cannot join, and says why",
              r.returncode == 1 and "INCONSISTENT_GROUP_PROTOCOL" in r.stderr and
              "share no assignor" in r.stderr, r.stderr[-400:])
    finally:
        coop.stop()


def scenario_kafka_python():
    topic, group = "cli-kp", "cli-kp-group"
    create_topic(topic, 6)
    for first in ("ours", "kafka-python"):
        group_i = f"{group}-{first}"
        log(f"{first} joins first (and leads)")
        if first == "ours":
            ours = Ours(topic, group_i)
            wait_until("ours assigned", lambda: ours.assigned == list(range(6)), 30)
            kp = PyConsumer("kafka-python", topic, group_i)
        else:
            kp = PyConsumer("kafka-python", topic, group_i)
            wait_until("kp assigned", lambda: kp.assigned == list(range(6)), 30)
            ours = Ours(topic, group_i)
        try:
            split = wait_until("split", lambda: ours.assigned and kp.assigned and
                               sorted(ours.assigned + kp.assigned) == list(range(6)), 40)
            check(f"with kafka-python, {first} leading: 3 + 3 partitions, disjoint", split,
                  f"ours {ours.assigned}, kafka-python {kp.assigned}")
        finally:
            ours.stop()
            kp.stop()
        check(f"kafka-python saw no error ({first} leading)", kp.error is None, str(kp.error))
    # the records: both groups read the topic; each group's members once between them
    produce(topic, [(p, f"kp-p{p}-{i}") for p in range(6) for i in range(5)])
    ours = Ours(topic, group + "-read")
    kp = PyConsumer("kafka-python", topic, group + "-read")
    try:
        wait_until("split", lambda: ours.assigned and kp.assigned and
                   sorted(ours.assigned + kp.assigned) == list(range(6)), 40)
        wait_until("30 read", lambda: len(ours.records) + len(kp.records) >= 30, 30)
        got = [v for _, v in ours.records] + [v for _, v in kp.records]
        check("with kafka-python: every record read exactly once across both",
              sorted(got) == sorted(f"kp-p{p}-{i}" for p in range(6) for i in range(5)),
              f"{len(got)} read")
    finally:
        ours.stop()
        kp.stop()


SCENARIOS = {"kcat": scenario_kcat, "confluent-kafka": scenario_confluent_kafka,
             "kafka-python": scenario_kafka_python}
if SCENARIO not in SCENARIOS:
    print(f"unknown scenario {SCENARIO}", file=sys.stderr)
    sys.exit(2)
SCENARIOS[SCENARIO]()
log(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
