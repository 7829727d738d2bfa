#!/usr/bin/env python3
"""The fault scenarios of the ISR/faults issue, with real clients over the admin HTTP API
(DESIGN.md 3.2): confluent-kafka (Python, over librdkafka; Debian python3-confluent-kafka, run
by /usr/bin/python3) produces and consumes, urllib drives POST /v1/faults and reads
GET /v1/cluster and GET /v1/events. Run by with_broker.sh (BOOTSTRAP, INTEROP_TMP; the admin
URL is the second line of the broker's output, $INTEROP_TMP/broker.out).

  usage: with_broker.sh MINIKAFKA /usr/bin/python3 test_faults.py MINIKAFKA

MINIKAFKA again as the argument: scenario 2 needs a broker of its own, started with
`-o replica.lag.time.max.ms=1000` (a broker setting; nothing changes it at run time).

1. drop_response (mode close) on the first Produce request: a non-idempotent producer
   (acks=all, retries, max.in.flight 1) has every delivery succeed, and its retry of the
   dropped request is appended twice (duplicates counted, > 0); an idempotent one has no
   duplicate, and the broker's event stream shows a `duplicate` event.
2. follower_pause on both followers (replica.lag.time.max.ms=1000): the ISR shrinks to the
   leader alone; acks=all fails with NOT_ENOUGH_REPLICAS (retries=0, so the error itself is
   in the delivery report), acks=1 succeeds; follower_resume: ISR of 3, acks=all succeeds.
3. broker_down of partition 0's leader during a steady idempotent acks=all produce: every
   delivery succeeds, every acknowledged record is in the log exactly once; broker_up.
4. follower_lag 2000 ms on both followers, then broker_down of the leader before the lag
   passes: with acks=1 acknowledged records are lost (counted, > 0); with acks=all and
   min.insync.replicas=2 none is.
5. bad admin requests (bad JSON, wrong types, unknown action/broker/topic/partition, unknown
   path, wrong method) during a running produce: each a 4xx with {"error", "message"}; the
   producer keeps succeeding and every record comes back once.

Every wait is bounded; only loopback is used. Prints one line per check; exits 1 if any failed.
"""
import collections
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

try:
    import confluent_kafka
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
except ImportError as e:
    print(f"confluent-kafka not installed ({e}; Debian package python3-confluent-kafka, for "
          "/usr/bin/python3): run ./run.sh test, which installs it", file=sys.stderr)
    sys.exit(1)

if len(sys.argv) != 2 or not os.access(sys.argv[1], os.X_OK):
    print("usage: with_broker.sh MINIKAFKA /usr/bin/python3 test_faults.py MINIKAFKA",
          file=sys.stderr)
    sys.exit(2)
MINIKAFKA = sys.argv[1]
TMP = os.environ["INTEROP_TMP"]
# log, check, wait_until, admin_url_of and Cluster (the admin API) are shared with the other
# Python interop tests.
from interop_support import START, Cluster, admin_url_of, check, failures, log, wait_until  # noqa: E402


class OwnBroker:
    """A broker of this test's own (other settings than with_broker.sh's)."""

    def __init__(self, name, *args):
        self.out = os.path.join(TMP, name + ".out")
        self.err = os.path.join(TMP, name + ".err")
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen([MINIKAFKA, "broker", "--port", "0", "--brokers", "3",
                                          "--admin-port", "0"] + list(args),
                                         stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        url = admin_url_of(self.out)

        def ready():
            with open(self.out) as f:
                for line in f:
                    if line.startswith("minikafka broker ready:"):
                        return line.split("bootstrap.servers=", 1)[1].strip()
            return None
        bootstrap = wait_until("ready", ready, 15)
        if not bootstrap or not url:
            self.stop()
            raise RuntimeError(f"broker {args} did not start: {open(self.err).read()[-2000:]}")
        self.cluster = Cluster(bootstrap, url)

    def stop(self):
        """SIGTERM; it must exit 0 within 10 s with no sanitizer report."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return check("own broker exits on SIGTERM within 10 s", False)
        err = open(self.err, errors="replace").read()
        check("own broker: exit status 0 on SIGTERM, no sanitizer report",
              self.proc.returncode == 0 and "Sanitizer" not in err and "runtime error" not in err,
              f"exit {self.proc.returncode}; log tail: {err[-1500:]}")


class Events:
    """GET /v1/events in a background thread, for a bounded time: the trace events as dicts.
    A raw socket (http.client's file object cannot be read again after a read timed out)."""

    def __init__(self, url, max_s=30):
        host, port = url.split("//", 1)[1].rsplit(":", 1)
        self.events, self.stop_flag, self.opened = [], threading.Event(), threading.Event()
        self.deadline = time.monotonic() + max_s
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.sock.sendall(b"GET /v1/events HTTP/1.1\r\nHost: " + host.encode() + b"\r\n\r\n")
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.opened.wait(5)

    def _run(self):
        buf, head = b"", True
        try:
            while not self.stop_flag.is_set() and time.monotonic() < self.deadline:
                try:
                    chunk = self.sock.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                buf += chunk
                if head:
                    if b"\r\n\r\n" not in buf:
                        continue
                    status, buf = buf.split(b"\r\n\r\n", 1)
                    if b" 200 " not in status.split(b"\r\n", 1)[0]:
                        raise RuntimeError(f"GET /v1/events: {status[:200]!r}")
                    head = False
                    self.opened.set()
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    if line.startswith(b"data: "):
                        self.events.append(json.loads(line[6:]))
        except Exception as e:  # noqa: BLE001 (reported, never hangs the test)
            self.events.append({"event": "reader_error", "error": repr(e)})
        finally:
            self.opened.set()
            self.sock.close()

    def stop(self):
        self.stop_flag.set()
        self.thread.join(5)
        return self.events


# ---------------------------------------------------------------------------------------------
# The clients

# librdkafka's own log lines (errors only: connections refused by a broker that is down),
# indented on stdout so they read as notes, not as this test's FAIL lines.
rdkafka_log = logging.getLogger("librdkafka")
rdkafka_log.propagate = False
_h = logging.StreamHandler(sys.stdout)
_h.setFormatter(logging.Formatter("        (librdkafka: %(message)s)"))
rdkafka_log.addHandler(_h)


def quiet(conf):
    return dict({"log.connection.close": False, "log_level": 3, "logger": rdkafka_log,
                 "error_cb": lambda err: log(f"  (client error: {err})") if err.fatal() else None},
                **conf)


def produce(bootstrap, topic, values, conf, partition=None, pace=None, during=None,
            flush_s=40):
    """Produce values (str) with a Producer of conf; returns {value: (error, partition,
    offset)} from the delivery reports. pace: seconds between records; during: (at_index,
    fn) calls fn() once that many records are handed to the client."""
    p = Producer(quiet(dict({"bootstrap.servers": bootstrap, "linger.ms": 5}, **conf)))
    reports = {}

    def on_delivery(err, msg):
        reports[msg.value().decode()] = (err, msg.partition(), msg.offset())

    for i, v in enumerate(values):
        if during and i == during[0]:
            during[1]()
        kw = {} if partition is None else {"partition": partition}
        while True:
            try:
                p.produce(topic, value=v.encode(), key=f"k{i % 7}".encode(),
                          on_delivery=on_delivery, **kw)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
        if pace:
            time.sleep(pace)
    left = p.flush(flush_s)
    if left:
        log(f"  ({left} records still undelivered after flush({flush_s}))")
    return reports


def acked(reports):
    return {v for v, (err, _, _) in reports.items() if err is None}


def consume(bootstrap, topic, partitions, timeout=20):
    """Every record of the partitions from the beginning to their high watermarks (as
    ListOffsets gives them now): a list of (partition, offset, value)."""
    c = Consumer(quiet({"bootstrap.servers": bootstrap, "group.id": "faults-unused",
                        "enable.auto.commit": False, "enable.auto.offset.store": False,
                        "enable.partition.eof": False, "check.crcs": True,
                        "fetch.wait.max.ms": 100}))
    try:
        ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in partitions}
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        got, pos = [], {p: 0 for p in partitions}
        deadline = time.monotonic() + timeout
        while any(pos[p] < ends[p] for p in partitions) and time.monotonic() < deadline:
            for m in c.consume(num_messages=1000, timeout=0.3):
                if m.error():
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        log(f"  (consumer: {m.error()})")
                    continue
                got.append((m.partition(), m.offset(), m.value().decode()))
                pos[m.partition()] = m.offset() + 1
        if any(pos[p] < ends[p] for p in partitions):
            log(f"  (consume {topic}: reached {pos} of {ends} within {timeout} s)")
        return got
    finally:
        c.close()


def err_name(err):
    return None if err is None else err.name()


def report_errors(reports):
    return collections.Counter(err_name(e) for e, _, _ in reports.values())


# ---------------------------------------------------------------------------------------------
# Scenarios

def scenario_1(cl):
    log("== 1. drop_response (close) on the first Produce request")
    n = 100
    for idem in (False, True):
        name = "idempotent" if idem else "non-idempotent"
        topic = f"faults-drop-{'idem' if idem else 'plain'}"
        cl.create_topic(topic, partitions=1)
        cl.fault(action="drop_response", api="Produce", count=1, mode="close", topic=topic)
        ev = Events(cl.url)
        values = [f"{topic}/{i:04d}" for i in range(n)]
        reports = produce(cl.bootstrap, topic, values, {
            "enable.idempotence": idem, "acks": "all", "retries": 1000000,
            "max.in.flight.requests.per.connection": 1, "retry.backoff.ms": 50,
            "message.timeout.ms": 30000}, partition=0)
        cl.wait_settled(topic, 0)
        if idem:  # the duplicate event comes with the retry's response; give it a moment
            wait_until("duplicate", lambda: any(e.get("event") == "duplicate" and
                                                e.get("topic") == topic for e in ev.events), 3)
        events = ev.stop()
        got = [v for _, _, v in consume(cl.bootstrap, topic, [0])]
        counts = collections.Counter(got)
        dups = len(got) - len(counts)
        log(f"  {name}: {len(acked(reports))} of {n} delivery reports succeeded "
            f"({dict(report_errors(reports))}); consumed {len(got)} records, {len(counts)} "
            f"distinct, {dups} duplicates")
        check(f"1 {name}: every delivery report succeeds", len(acked(reports)) == n,
              dict(report_errors(reports)))
        check(f"1 {name}: every record is in the log", set(counts) == set(values),
              f"{len(set(values) - set(counts))} missing")
        dropped = [e for e in events if e.get("event") == "response_dropped"]
        check(f"1 {name}: the event stream shows the dropped response", len(dropped) >= 1,
              f"{len(events)} events, none response_dropped")
        dup_events = [e for e in events
                      if e.get("event") == "duplicate" and e.get("topic") == topic]
        seen = sorted(collections.Counter(e.get("event") for e in events).items())
        if idem:
            check(f"1 {name}: no duplicate in the log (found {dups})", dups == 0)
            check(f"1 {name}: the broker's event stream shows a `duplicate` event "
                  f"({len(dup_events)}: {dup_events[:1]})", len(dup_events) >= 1,
                  f"events seen: {seen}")
        else:
            check(f"1 {name}: the retry of the dropped request is appended again: "
                  f"{dups} duplicates (> 0)", dups > 0)
            check(f"1 {name}: no `duplicate` event (no sequence numbers to match)",
                  not dup_events, dup_events[:1])
    cl.http("DELETE", "/v1/faults")


def scenario_2():
    log("== 2. follower_pause on both followers (own broker, replica.lag.time.max.ms=1000)")
    ob = OwnBroker("lag1000", "-o", "replica.lag.time.max.ms=1000")
    try:
        cl = ob.cluster
        topic = "faults-isr"
        cl.create_topic(topic, configs={"min.insync.replicas": "2"})
        leader, fol = cl.followers(topic, 0)
        log(f"  {topic}-0: leader {leader}, followers {fol}")
        for f in fol:
            cl.fault(action="follower_pause", topic=topic, partition=0, broker=f)
        t0 = time.monotonic()
        # A caught-up replica stays in sync however long it does not fetch (Kafka's
        # isCaughtUp: its log end offset is the leader's); it is out of sync once it misses a
        # batch appended more than replica.lag.time.max.ms ago. So append one (acks=1).
        one = {"acks": 1, "retries": 0, "enable.idempotence": False, "message.timeout.ms": 5000}
        r = produce(cl.bootstrap, topic, ["isr/first"], one, partition=0)
        check("2 acks=1 with both followers paused succeeds", acked(r) == {"isr/first"}, r)
        isr = wait_until("isr 1", lambda: (lambda s: s["isr"] if len(s["isr"]) == 1 else None)(
            cl.partition(topic, 0)), 5)
        took = time.monotonic() - t0
        check(f"2 the ISR shrinks to the leader alone within 3 s: isr {isr} after {took:.1f} s",
              isr == [leader] and took < 3.5, cl.partition(topic, 0)["isr"])

        strict = {"acks": "all", "retries": 0, "enable.idempotence": False,
                  "message.timeout.ms": 5000}
        r = produce(cl.bootstrap, topic, ["isr/all-1"], strict, partition=0)
        errs = report_errors(r)
        check(f"2 acks=all with ISR 1 < min.insync.replicas 2 fails with NOT_ENOUGH_REPLICAS "
              f"(delivery report: {dict(errs)})", errs == {"NOT_ENOUGH_REPLICAS": 1})
        r = produce(cl.bootstrap, topic, ["isr/one-2"], one, partition=0)
        check("2 acks=1 with ISR 1 succeeds", acked(r) == {"isr/one-2"}, dict(report_errors(r)))

        for f in fol:
            cl.fault(action="follower_resume", topic=topic, partition=0, broker=f)
        t0 = time.monotonic()
        isr = wait_until("isr 3", lambda: (lambda s: s["isr"] if len(s["isr"]) == 3 else None)(
            cl.partition(topic, 0)), 5)
        check(f"2 follower_resume: the ISR is back to 3 ({isr}, after "
              f"{time.monotonic() - t0:.1f} s)", isr and sorted(isr) == sorted([leader] + fol),
              cl.partition(topic, 0)["isr"])
        r = produce(cl.bootstrap, topic, ["isr/all-3"], strict, partition=0)
        check("2 acks=all with ISR 3 succeeds", acked(r) == {"isr/all-3"}, dict(report_errors(r)))
        got = [v for _, _, v in consume(cl.bootstrap, topic, [0])]
        check(f"2 the log holds exactly the acknowledged records ({got})",
              got == ["isr/first", "isr/one-2", "isr/all-3"])
    finally:
        ob.stop()


def scenario_3(cl):
    log("== 3. broker_down of partition 0's leader during a steady idempotent acks=all produce")
    topic = "faults-failover"
    cl.create_topic(topic)
    leader, _ = cl.followers(topic, 0)
    n = 3000
    values = [f"{topic}/{i:05d}" for i in range(n)]
    t0 = time.monotonic()
    down = {}

    def kill_leader():
        down["fault"] = cl.fault(action="broker_down", broker=leader)
        down["at"] = time.monotonic() - t0
    reports = produce(cl.bootstrap, topic, values, {
        "enable.idempotence": True, "acks": "all", "message.timeout.ms": 30000,
        "partitioner": "murmur2_random"}, pace=0.001, during=(n // 2, kill_leader))
    took = time.monotonic() - t0
    new = cl.partition(topic, 0)
    log(f"  broker {leader} down at {down.get('at', -1):.1f} s "
        f"({down.get('fault', {}).get('result')}); produce took {took:.1f} s; {topic}-0 now "
        f"led by {new['leader']} (epoch {new['leader_epoch']}), isr {new['isr']}")
    ok = acked(reports)
    check(f"3 every delivery report succeeds ({len(ok)} of {n}: {dict(report_errors(reports))})",
          len(ok) == n)
    check(f"3 leadership of {topic}-0 moved off broker {leader}",
          new["leader"] not in (leader, -1), new)
    for p in range(3):
        cl.wait_settled(topic, p)
    got = consume(cl.bootstrap, topic, [0, 1, 2])
    counts = collections.Counter(v for _, _, v in got)
    missing = ok - set(counts)
    dups = sum(c - 1 for c in counts.values())
    where = {v: (p, o) for p, o, v in got}
    moved = [v for v in ok if where.get(v) and where[v] != reports[v][1:]]
    log(f"  consumed {len(got)} records: {len(counts)} distinct, {len(missing)} acknowledged "
        f"missing, {dups} duplicates, {len(moved)} not at their reported offset")
    check("3 every acknowledged record is in the log exactly once",
          not missing and dups == 0 and set(counts) <= set(values),
          f"missing {sorted(missing)[:3]}, {dups} duplicates")
    check("3 each at the partition and offset its delivery report gave", not moved,
          [(v, reports[v][1:], where[v]) for v in moved[:3]])
    cl.fault(action="broker_up", broker=leader)
    isr = wait_until("isr 3", lambda: all(len(s["isr"]) == 3 for s in
                                          (cl.partition(topic, p) for p in range(3))), 10)
    check(f"3 broker_up {leader}: every partition's ISR is 3 again", isr,
          [cl.partition(topic, p)["isr"] for p in range(3)])


def scenario_4(cl):
    log("== 4. follower_lag 2000 ms on both followers, broker_down of the leader before it passes")
    for acks in ("1", "all"):
        topic = f"faults-lag-acks{acks}"
        cl.create_topic(topic, partitions=1, configs={"min.insync.replicas": "2"})
        leader, fol = cl.followers(topic, 0)
        for f in fol:
            cl.fault(action="follower_lag", topic=topic, partition=0, broker=f, ms=2000)
        n = 50
        values = [f"{topic}/{i:03d}" for i in range(n)]
        producer = Producer(quiet({  # linger 100 ms: the first 20 records in one request
            "bootstrap.servers": cl.bootstrap, "linger.ms": 100, "acks": acks,
            "enable.idempotence": False, "retries": 1000000, "retry.backoff.ms": 50,
            "max.in.flight.requests.per.connection": 1, "message.timeout.ms": 20000}))
        reports = {}

        def on_delivery(err, msg):
            reports[msg.value().decode()] = (err, msg.partition(), msg.offset())

        def send(vs):
            for v in vs:
                producer.produce(topic, value=v.encode(), partition=0, on_delivery=on_delivery)
        t0 = time.monotonic()
        if acks == "1":  # all acknowledged at once, none copied yet
            send(values)
            producer.flush(10)
        else:
            # The first 20 are acknowledged once both followers have them (after the lag,
            # ~2 s); the other 30 are appended by the leader, not yet copied, when it goes down.
            send(values[:20])
            producer.flush(10)
            send(values[20:])

        # Down before the lag has passed: the leader has all 50, the followers fewer.
        def leader_has_all():
            producer.poll(0.05)
            st = cl.partition(topic, 0)
            return st if {r["broker"]: r["log_end_offset"] for r in st["replicas"]}[leader] == n \
                else None
        before = wait_until("leader has all", leader_has_all, 5, every=0)
        acked_before = acked(reports)
        t_down = time.monotonic() - t0
        cl.fault(action="broker_down", broker=leader)
        leo = {r["broker"]: r["log_end_offset"] for r in (before or {}).get("replicas", [])}
        log(f"  acks={acks}: just before broker_down {leader}: log end offsets {leo}, high "
            f"watermark {(before or {}).get('high_watermark')}, isr {(before or {}).get('isr')}")
        check(f"4 acks={acks}: the leader went down with all {n} records, each follower fewer "
              f"(the lag had not passed)", before and all(leo[f] < n for f in fol), before)
        try:
            new_leader = cl.partition(topic, 0)["leader"]
            for f in fol:  # the remaining follower copies at once again
                if f != new_leader:
                    cl.fault(action="follower_lag", topic=topic, partition=0, broker=f, ms=0)
            left = producer.flush(20)
            if left:
                log(f"  ({left} records still undelivered after flush(20))")
            st = cl.wait_settled(topic, 0)
            present = set(v for _, _, v in consume(cl.bootstrap, topic, [0]))
        finally:
            cl.fault(action="broker_up", broker=leader)
        ok = acked(reports)
        lost = ok - present
        log(f"  acks={acks}: broker {leader} (the leader) down {t_down:.1f} s after the first "
            f"send, {len(acked_before)} of {n} acknowledged by then ({len(ok)} in the end, "
            f"{dict(report_errors(reports))}); new leader {st['leader']}, high watermark "
            f"{st['high_watermark']}, {len(present)} distinct records in its log; lost = "
            f"acknowledged - present = {len(lost)}")
        if acks == "1":
            check(f"4 acks=1: all {n} acknowledged before the leader went down",
                  len(acked_before) == n)
            check(f"4 acks=1: acknowledged records are lost with the leader: lost = {len(lost)} "
                  f"(> 0)", len(lost) > 0)
        else:
            check(f"4 acks=all: the first 20 acknowledged before the leader went down "
                  f"({len(acked_before)})", acked_before >= set(values[:20]))
            check(f"4 acks=all min.insync.replicas=2: acknowledged records lost = {len(lost)} "
                  f"(== 0)", not lost, sorted(lost)[:3])
        wait_until("isr 3", lambda: len(cl.partition(topic, 0)["isr"]) == 3, 10)


def scenario_5(cl):
    log("== 5. bad admin requests during a running produce")
    topic = "faults-bad-admin"
    cl.create_topic(topic)
    bad = [
        ("malformed JSON", "POST", "/v1/faults", b'{"action": "broker_down", ', 400, "bad_json"),
        ("empty body", "POST", "/v1/faults", b"", 400, "bad_json"),
        ("an array", "POST", "/v1/faults", b"[1, 2]", 400, None),
        ("action a number", "POST", "/v1/faults", b'{"action": 5}', 400, None),
        ("broker a string", "POST", "/v1/faults",
         b'{"action": "broker_down", "broker": "1"}', 400, None),
        ("count a string", "POST", "/v1/faults",
         b'{"action": "drop_response", "api": "Produce", "count": "3"}', 400, None),
        ("ms an array", "POST", "/v1/faults",
         b'{"action": "delay", "ms": [500]}', 400, None),
        ("unknown action", "POST", "/v1/faults", b'{"action": "crash", "broker": 1}', 400, None),
        ("unknown broker id", "POST", "/v1/faults",
         b'{"action": "broker_down", "broker": 99}', 400, None),
        ("negative broker id", "POST", "/v1/faults",
         b'{"action": "broker_up", "broker": -7}', 400, None),
        ("unknown topic", "POST", "/v1/faults",
         b'{"action": "follower_pause", "topic": "nope", "partition": 0, "broker": 1}', 400, None),
        ("unknown partition", "POST", "/v1/faults",
         json.dumps({"action": "follower_pause", "topic": topic, "partition": 9,
                     "broker": 1}).encode(), 400, None),
        ("unknown API", "POST", "/v1/faults",
         b'{"action": "drop_response", "api": "Nope", "count": 1}', 400, None),
        ("unknown Kafka error", "POST", "/v1/faults",
         b'{"action": "error", "api": "Produce", "error": "NO_SUCH_ERROR"}', 400, None),
        ("topic partitions a string", "POST", "/v1/topics",
         b'{"name": "x", "partitions": "3"}', 400, None),
        ("unknown path", "GET", "/v1/nope", None, 404, "not_found"),
        ("wrong method", "PUT", "/v1/cluster", b"{}", 405, "method_not_allowed"),
    ]
    n = 2000
    values = [f"{topic}/{i:05d}" for i in range(n)]
    result = {}
    answers = []

    def run():
        result["reports"] = produce(cl.bootstrap, topic, values, {
            "enable.idempotence": True, "acks": "all", "message.timeout.ms": 20000,
            "partitioner": "murmur2_random"}, pace=0.0005)
    _, faults_before = cl.http("GET", "/v1/faults")
    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.3)
    rounds = 0
    while t.is_alive() and rounds < 5:
        for name, method, path, body, want, error in bad:
            status, ans = cl.http(method, path, raw=body if body is not None else None)
            answers.append((name, want, error, status, ans))
        rounds += 1
    t.join(60)
    wrong = [(name, status, ans) for name, want, error, status, ans in answers
             if status != want or not isinstance(ans, dict) or set(ans) != {"error", "message"}
             or (error and ans["error"] != error)]
    check(f"5 {len(answers)} bad admin requests ({rounds} rounds of {len(bad)}) during the "
          f"produce: each its 4xx with {{error, message}}", answers and not wrong, wrong[:3])
    status, faults_after = cl.http("GET", "/v1/faults")
    check("5 none of them became a fault (GET /v1/faults lists the same)",
          status == 200 and faults_after == faults_before, faults_after)
    status, _ = cl.http("GET", "/v1/cluster")
    check("5 the broker still answers GET /v1/cluster", status == 200)
    reports = result.get("reports", {})
    ok = acked(reports)
    check(f"5 the producer keeps succeeding: {len(ok)} of {n} delivered "
          f"({dict(report_errors(reports))})", len(ok) == n)
    got = consume(cl.bootstrap, topic, [0, 1, 2])
    counts = collections.Counter(v for _, _, v in got)
    check(f"5 every record is in the log exactly once ({len(got)} consumed, "
          f"{len(counts)} distinct)",
          set(counts) == set(values) and len(got) == n)


def main():
    log(f"confluent-kafka {confluent_kafka.version()[0]}, "
        f"librdkafka {confluent_kafka.libversion()[0]}")
    url = admin_url_of(os.path.join(TMP, "broker.out"))
    if not url:
        check("the admin API line in the broker's output", False, "not found")
        return 1
    cl = Cluster(os.environ["BOOTSTRAP"], url)
    log(f"BOOTSTRAP={cl.bootstrap}, admin API at {url}")
    # Scenario 2 runs on a broker of its own, alongside the others.
    s2 = threading.Thread(target=lambda: guard(scenario_2))
    s2.start()
    for scenario in (scenario_1, scenario_3, scenario_4, scenario_5):
        guard(scenario, cl)
    s2.join(60)
    check("scenario 2 finished", not s2.is_alive())
    verdict = f"FAILED: {len(failures)} check(s)" if failures else "all fault scenarios passed"
    log(f"{verdict} in {time.monotonic() - START:.1f} s")
    return 1 if failures else 0


def guard(fn, *args):
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 (one scenario's crash must not hide the others)
        import traceback
        traceback.print_exc()
        check(f"{fn.__name__} ran to the end", False, repr(e))


if __name__ == "__main__":
    rc = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)  # no client destructors at exit (a broker may be down for them)
