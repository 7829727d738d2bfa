#!/usr/bin/env python3
"""The chaos checker (Jepsen-style): real producers against a seeded random schedule of every
fault minikafka can inject, then a read of the whole log to count what happened to the
records the producers were told were written.

  test_chaos.py MINIKAFKA CHAOS_PRODUCER [--seeds N | --seed S ...] [--modes a,b]
                [--duration SECONDS] [--rate RECORDS_PER_S] [--table]

For each seed and each mode (producer), a fresh `minikafka broker` (3 brokers, ephemeral
loopback ports, replica.lag.time.max.ms=1000, min.insync.replicas=2), a topic of 3
partitions with replication factor 3, one producer sending RATE records/s for DURATION
seconds (values "<seed>-<mode>-<i>", keys k0..k5), and meanwhile a schedule drawn from
random.Random(seed): every 0.15-0.6 s one of
  broker_down / broker_up          at most one broker down at a time
  follower_pause / follower_resume (a paused follower leaves the ISR after 1 s)
  follower_lag                     0-1500 ms
  elect_leader                     to a member of the ISR (never unclean)
  drop_response Produce            mode close, or silent (the broker's answers stop
                                   reaching the client, which gives up on the connection
                                   after socket.timeout.ms and reconnects)
  error Produce                    NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS,
                                   REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS_AFTER_APPEND
  delay Produce                    50-1500 ms
all of them things a real cluster can do to a client. (Issue 14 saw 22 of 30 runs of such
a schedule end in librdkafka's fatal OUT_OF_ORDER_SEQUENCE_NUMBER. Two causes were the
broker's: an `error` REQUEST_TIMED_OUT that did not append, and a silent drop that skipped
one answer while later ones went on, which TCP cannot do. A third is librdkafka's own,
fixed in its 2.3.0 (#4438): after a broken connection it moves its expected sequence past
requests that may not have arrived, and goes fatal when one of them had not (a Kafka broker
would see the same). A silent drop therefore breaks only the way back, as a network can, so
every request sent before the client gives up does arrive.) Then every fault is healed, the
producer flushes, and the log is read from the beginning. Counted per run:
  acked       records whose delivery report said written, at an offset
  lost        acknowledged records not in the log at all
  moved       acknowledged records whose acknowledged offset holds another record (a
              record acknowledged without an offset, as librdkafka sometimes does, is
              checked for loss and duplicates only)
  dup         records in the log more than once
  reordered   per partition, records of one key that appear in the log out of send order
  failed      records whose delivery failed (an error, not an acknowledgement)
  fatal       fatal producer errors (librdkafka's error_cb fatal, our producer's
              OUT_OF_ORDER_SEQUENCE_NUMBER / INVALID_PRODUCER_EPOCH / UNKNOWN_PRODUCER_ID)

The modes and what is asserted:
  idempotent   confluent-kafka (librdkafka), enable.idempotence, acks=all: nothing lost,
               moved, duplicated or reordered; no fatal error (a real broker, faulted in
               these ways, gives none). One exception, librdkafka's own: after requests
               of its time out (a silent drop) it may bump its producer epoch (KIP-360) and
               send them again under the new one, and those it had in fact written are then
               written twice. Duplicates are therefore allowed in a run whose producer
               epoch moved past 0 (GET /v1/producers; the table's "bumped" column), and
               nowhere else
  plain        confluent-kafka, no idempotence, acks=all, retries: nothing lost; the
               duplicates a lost answer causes are counted (and must show up across the
               seeds: every schedule drops at least one Produce answer)
  acks1        confluent-kafka, no idempotence, acks=1: losses around failover counted, not
               asserted (that is the acks=1 lesson)
  minikafka    minikafka's own producer (chaos_producer), its defaults (idempotent,
               acks=all): as idempotent

Every seed is printed first, with the fault schedule as it ran: `--seed S --modes M` runs
that one again (the schedule is the same; the interleaving with the clients is as close as
threads allow). Prints one line per run and, with --table (or more than one seed), a table
per mode. Exits 1 if an assertion failed. Only loopback is used; every wait is bounded.
"""
import argparse
import collections
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True

try:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
except ImportError as e:
    print(f"confluent-kafka not installed ({e}; Debian python3-confluent-kafka, for "
          "/usr/bin/python3): run ./run.sh test", file=sys.stderr)
    sys.exit(1)

TOPIC = "chaos"
PARTITIONS = 3
KEYS = 6
START = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - START:6.1f}s] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# The broker

class Broker:
    def __init__(self, minikafka, workdir, trace=None):
        self.err_path = os.path.join(workdir, "broker.err")
        self.proc = subprocess.Popen(
            [minikafka, "broker", "--port", "0", "--admin-port", "0",
             "-o", "replica.lag.time.max.ms=1000", "-o", "min.insync.replicas=2"]
            + (["--trace", trace] if trace else []),
            stdout=subprocess.PIPE, stderr=open(self.err_path, "w"), text=True)
        self.bootstrap = self.url = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (self.bootstrap and self.url):
            line = self.proc.stdout.readline()
            if not line:
                break
            if "bootstrap.servers=" in line:
                self.bootstrap = line.split("bootstrap.servers=", 1)[1].strip()
            elif line.startswith("minikafka admin API: "):
                self.url = line.split(": ", 1)[1].strip()
        if not (self.bootstrap and self.url):
            self.stop()
            raise RuntimeError("the broker did not start: " + open(self.err_path).read()[-2000:])

    def http(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read().decode() or "null")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def fault(self, **f):
        return self.http("POST", "/v1/faults", f)

    def partitions(self):
        status, body = self.http("GET", "/v1/cluster")
        if status != 200:
            return []
        for t in body["topics"]:
            if t["name"] == TOPIC:
                return t["partitions"]
        return []

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def sanitizer_report(self):
        text = open(self.err_path).read()
        return "runtime error" in text or "Sanitizer" in text


# ---------------------------------------------------------------------------------------------
# The schedule

class Schedule(threading.Thread):
    """Random faults until stop is set; then heal everything. Each fault is one line in
    self.lines, as it was sent (and what the broker answered)."""

    def __init__(self, broker, seed, exclude=(), brokers=3):
        super().__init__(daemon=True)
        self.broker, self.rng, self.brokers = broker, random.Random(seed), brokers
        self.exclude = set(exclude)
        self.stop_event = threading.Event()
        self.lines = []
        self.down = None
        self.paused = set()
        self.lagging = set()
        self.counts = collections.Counter()

    def send(self, **f):
        status, body = self.broker.fault(**f)
        self.lines.append(f"{time.monotonic() - START:6.1f}s {json.dumps(f)} -> {status}")
        if status == 201:
            self.counts[f["action"]] += 1
        return status

    def one(self):
        rng = self.rng
        kind = rng.choice(["broker", "broker", "pause", "lag", "elect", "elect", "drop",
                           "drop", "error", "error", "delay"])
        if kind in self.exclude:
            return
        parts = self.broker.partitions()
        if kind == "broker":
            if self.down is None:
                self.down = rng.randrange(self.brokers)
                self.send(action="broker_down", broker=self.down)
            else:
                self.send(action="broker_up", broker=self.down)
                self.down = None
        elif kind == "pause" and parts:
            p = rng.choice(parts)
            followers = [r["broker"] for r in p["replicas"] if r["broker"] != p["leader"]]
            mine = [(p["partition"], b) for b in followers if (p["partition"], b) in self.paused]
            if mine and rng.random() < 0.6:
                part, b = rng.choice(mine)
                if self.send(action="follower_resume", topic=TOPIC, partition=part, broker=b) == 201:
                    self.paused.discard((part, b))
            elif followers:
                b = rng.choice(followers)
                if self.send(action="follower_pause", topic=TOPIC, partition=p["partition"],
                             broker=b) == 201:
                    self.paused.add((p["partition"], b))
        elif kind == "lag":
            b = rng.randrange(self.brokers)
            ms = rng.choice([0, 0, rng.randrange(50, 1500)])
            if self.send(action="follower_lag", broker=b, ms=ms) == 201:
                (self.lagging.add if ms else self.lagging.discard)(b)
        elif kind == "elect" and parts:
            p = rng.choice(parts)
            isr = [b for b in p["isr"] if b != p["leader"]]
            if isr:
                self.send(action="elect_leader", topic=TOPIC, partition=p["partition"],
                          broker=rng.choice(isr))
        elif kind == "drop":
            self.drop()
        elif kind == "error":
            self.send(action="error", api="Produce", count=1,
                      error=rng.choice(["NOT_LEADER_OR_FOLLOWER", "NOT_ENOUGH_REPLICAS",
                                        "REQUEST_TIMED_OUT",
                                        "NOT_ENOUGH_REPLICAS_AFTER_APPEND"]))
        elif kind == "delay":
            self.send(action="delay", api="Produce", count=1, ms=rng.randrange(50, 1500))

    def drop(self):
        mode = self.rng.choice(["close", "silent"])
        if mode in self.exclude:
            mode = "close"
        self.send(action="drop_response", api="Produce", count=1, mode=mode)

    def run(self):
        first = True
        while not self.stop_event.wait(self.rng.uniform(0.15, 0.6)):
            if first:  # every schedule loses at least one Produce answer
                self.drop()
                first = False
            else:
                self.one()

    def heal(self):
        for b in range(self.brokers):
            self.send(action="broker_up", broker=b)
            self.send(action="follower_lag", broker=b, ms=0)
        for part, b in sorted(self.paused):
            self.send(action="follower_resume", topic=TOPIC, partition=part, broker=b)
        self.broker.http("DELETE", "/v1/faults")


# ---------------------------------------------------------------------------------------------
# The producers. Each returns (acked {value: (partition, offset)}, failed {value: error},
# fatal [messages]).

FATAL_ERRORS = {"OUT_OF_ORDER_SEQUENCE_NUMBER", "INVALID_PRODUCER_EPOCH", "UNKNOWN_PRODUCER_ID",
                "PRODUCER_FENCED"}

CONFLUENT_MODES = {
    "idempotent": {"enable.idempotence": True, "acks": "all"},
    "plain": {"enable.idempotence": False, "acks": "all", "max.in.flight": 5},
    "acks1": {"enable.idempotence": False, "acks": "1", "max.in.flight": 5},
}


def produce_confluent(mode, bootstrap, values, rate, stop_after):
    acked, failed, fatal = {}, {}, []
    # A silently dropped answer is noticed after socket.timeout.ms (librdkafka then closes the
    # connection and retries); request.timeout.ms is the broker's acks=all wait.
    conf = {"bootstrap.servers": bootstrap, "linger.ms": 5, "request.timeout.ms": 3000,
            "socket.timeout.ms": 3000, "message.timeout.ms": 60000, "retry.backoff.ms": 100,
            "log_level": 2,
            "error_cb": lambda e: fatal.append(str(e)) if e.fatal() else None}
    conf.update(CONFLUENT_MODES[mode])
    p = Producer(conf)

    def report(err, msg):
        v = msg.value().decode()
        if err is None:
            acked[v] = (msg.partition(), msg.offset())
        else:
            failed[v] = err.name()

    t0 = time.monotonic()
    try:
        for i, v in enumerate(values):
            while time.monotonic() < t0 + i / rate:
                p.poll(0.002)
            while True:
                try:
                    p.produce(TOPIC, key=f"k{i % KEYS}", value=v, on_delivery=report)
                    break
                except BufferError:
                    p.poll(0.05)
    except KafkaException as e:  # after a fatal error every call raises it
        if not fatal:
            fatal.append(str(e))
    stop_after()
    try:
        left = p.flush(90)
    except KafkaException as e:
        fatal.append(str(e))
        left = 1
    for v in values:
        if v not in acked and v not in failed and left:
            failed[v] = "not completed after flush(90)"
    return acked, failed, fatal


def produce_minikafka(exe, bootstrap, values, rate, stop_after, prefix):
    acked, failed, fatal = {}, {}, []
    proc = subprocess.Popen([exe, bootstrap, TOPIC, str(len(values)), str(rate), prefix,
                             "-X", "request.timeout.ms=3000", "-X", "linger.ms=5",
                             "-X", "delivery.timeout.ms=60000", "-X", "retry.backoff.ms=100"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    timer = threading.Timer(len(values) / rate, stop_after)
    timer.start()
    try:
        out, err = proc.communicate(timeout=len(values) / rate + 150)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        fatal.append("chaos_producer did not finish")
    timer.join()
    for line in out.splitlines():
        f = line.split(" ", 3)
        if f[0] == "ack":
            acked[f[1]] = (int(f[2]), int(f[3]))
        elif f[0] == "fail":
            failed[f[1]] = f[2]
            if f[2] in FATAL_ERRORS:
                fatal.append(line)
    if proc.returncode != 0:
        fatal.append(f"chaos_producer exited {proc.returncode}: {err[-500:]}")
    return acked, failed, fatal


# ---------------------------------------------------------------------------------------------
# Reading the log and judging it

def read_log(bootstrap):
    """{partition: [(offset, value), ...]} for the whole topic, up to each high watermark."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "chaos-checker",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    out = {}
    try:
        for p in range(PARTITIONS):
            low, high = c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)
            out[p] = []
            if high <= low:
                continue
            c.assign([TopicPartition(TOPIC, p, OFFSET_BEGINNING)])
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                m = c.poll(0.5)
                if m is None:
                    continue
                if m.error():
                    if m.error().code() == -191:  # _PARTITION_EOF
                        break
                    continue
                out[p].append((m.offset(), m.value().decode()))
                if m.offset() + 1 >= high:
                    break
    finally:
        c.close()
    return out


def judge(values, acked, failed, fatal, logged):
    at = {}
    count = collections.Counter()
    order = {}
    for p, recs in logged.items():
        for off, v in recs:
            at[(p, off)] = v
            count[v] += 1
    index = {v: i for i, v in enumerate(values)}
    reordered = 0
    for p, recs in logged.items():
        last = {}
        seen = set()
        for _, v in recs:
            if v in seen or v not in index:
                continue
            seen.add(v)
            i = index[v]
            key = i % KEYS
            if key in last and i < last[key]:
                reordered += 1
            last[key] = max(i, last.get(key, -1))
    lost = sum(1 for v in acked if count[v] == 0)
    # librdkafka may report a record delivered without its offset (None): the broker took a
    # later batch in sequence, so this one must be in the log, but where it never said.
    moved_list = [(v, po, [(p, o) for p, recs in logged.items() for o, x in recs if x == v])
                  for v, po in acked.items()
                  if count[v] and po[1] is not None and po[1] >= 0 and at.get(po) != v]
    moved = len(moved_list)
    dups = [v for v in count if count[v] > 1]
    for v in sorted(dups)[:3]:
        where = [(p, o) for p, recs in logged.items() for o, x in recs if x == v]
        log(f"       dup: {v} in the log at {where}, acknowledged at {acked.get(v)}")
    for v, po, where in moved_list[:3]:
        log(f"       moved: {v} acknowledged at partition {po[0]} offset {po[1]}, "
            f"in the log at {where}, where {at.get(po)} is")
    return {"acked": len(acked), "no_offset": sum(1 for po in acked.values() if po[1] is None or po[1] < 0),
            "lost": lost, "moved": moved,
            "dup": sum(1 for v in count if count[v] > 1), "reordered": reordered,
            "failed": len(failed), "fatal": len(fatal)}


def producer_epoch_bumped(broker):
    """Whether an idempotent producer of the topic moved past epoch 0 (what librdkafka does,
    KIP-360, after requests of its that timed out: it cannot know whether they were
    written, bumps its epoch and sends them again, so they may be written twice; a Kafka
    broker can do nothing about it)."""
    status, body = broker.http("GET", "/v1/producers")
    if status != 200:
        return False
    for t in body.get("topics", []):
        if t["name"] != TOPIC:
            continue
        for p in t["partitions"]:
            if any(pr.get("epoch", 0) > 0 for pr in p.get("producers", [])):
                return True
    return False


# ---------------------------------------------------------------------------------------------

def run_one(args, seed, mode, workdir):
    trace = os.path.join(args.trace, f"chaos-{seed}-{mode}.jsonl") if args.trace else None
    broker = Broker(args.minikafka, workdir, trace)
    try:
        status, body = broker.http("POST", "/v1/topics", {"name": TOPIC, "partitions": PARTITIONS,
                                                         "replication_factor": 3, "configs": {}})
        if status != 201:
            raise RuntimeError(f"POST /v1/topics: {status} {body}")
        sched = Schedule(broker, seed, args.exclude.split(",") if args.exclude else ())
        prefix = f"{seed}-{mode}"
        n = int(args.rate * args.duration)
        values = [f"{prefix}-{i}" for i in range(n)]
        stopped = []

        def stop_after():
            if not stopped:
                stopped.append(1)
                sched.stop_event.set()
                sched.join()
                sched.heal()

        sched.start()
        if mode == "minikafka":
            acked, failed, fatal = produce_minikafka(args.chaos_producer, broker.bootstrap, values,
                                                     args.rate, stop_after, prefix)
        else:
            acked, failed, fatal = produce_confluent(mode, broker.bootstrap, values, args.rate,
                                                     stop_after)
        stop_after()
        r = judge(values, acked, failed, fatal, read_log(broker.bootstrap))
        r["epoch_bumped"] = producer_epoch_bumped(broker)
        r["faults"] = sum(sched.counts.values())
        r["schedule"] = sched.lines
        r["fatal_messages"] = fatal[:3]
        r["failures"] = collections.Counter(failed.values()).most_common(3)
        r["sanitizer"] = broker.sanitizer_report()
        return r
    finally:
        broker.stop()


def verdict(mode, r):
    """The assertions of the docstring for one run: a list of what broke."""
    bad = []
    if r["sanitizer"]:
        bad.append("sanitizer report in the broker's log")
    if mode in ("idempotent", "minikafka"):
        for k in ("lost", "moved", "dup", "reordered", "fatal"):
            # librdkafka's own duplicates: after an epoch bump (see producer_epoch_bumped).
            if k == "dup" and mode == "idempotent" and r["epoch_bumped"]:
                continue
            if r[k]:
                bad.append(f"{k}={r[k]}")
    elif mode == "plain":
        for k in ("lost", "moved"):
            if r[k]:
                bad.append(f"{k}={r[k]}")
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("minikafka")
    ap.add_argument("chaos_producer")
    ap.add_argument("--seeds", type=int, default=2, help="how many seeds (from --first-seed)")
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--seed", type=int, action="append", help="exactly these seeds")
    ap.add_argument("--modes", default="idempotent,plain,acks1,minikafka")
    ap.add_argument("--duration", type=float, default=6.0)
    ap.add_argument("--rate", type=float, default=150.0)
    ap.add_argument("--table", action="store_true")
    ap.add_argument("--trace", help="a directory: each run's broker trace goes there as "
                                    "chaos-SEED-MODE.jsonl")
    ap.add_argument("--exclude", default="",
                    help="fault kinds left out, to find which one breaks something: broker, "
                         "pause, lag, elect, drop, silent (drop mode), error, delay")
    ap.add_argument("--workdir", default=os.environ.get("TMPDIR", "/tmp"))
    args = ap.parse_args()
    seeds = args.seed or list(range(args.first_seed, args.first_seed + args.seeds))
    modes = args.modes.split(",")
    for m in modes:
        if m not in CONFLUENT_MODES and m != "minikafka":
            ap.error(f"unknown mode {m}")
    print(f"test_chaos: seeds {seeds}, modes {modes}, {args.duration:g} s at {args.rate:g} "
          f"records/s each (replay one: --seed S --modes M)", flush=True)
    results = collections.defaultdict(list)
    failures = 0
    for seed in seeds:
        for mode in modes:
            r = run_one(args, seed, mode, args.workdir)
            results[mode].append((seed, r))
            bad = verdict(mode, r)
            line = " ".join(f"{k}={r[k]}" for k in ("acked", "no_offset", "lost", "moved", "dup",
                                                     "reordered", "failed", "fatal", "faults"))
            if r["epoch_bumped"]:
                line += " (producer epoch bumped)"
            log(f"{'FAIL' if bad else 'ok  '} seed {seed} {mode:10s} {line}"
                + (f"  <- {', '.join(bad)}" if bad else ""))
            if r["failures"]:
                log(f"       delivery failures: {r['failures']}")
            if bad:
                failures += 1
                for m in r["fatal_messages"]:
                    log(f"       fatal: {m}")
                log(f"       schedule of seed {seed}:")
                for s in r["schedule"]:
                    log(f"         {s}")
    # Non-idempotent producers with lost answers must show duplicates somewhere.
    if "plain" in results and sum(r["dup"] for _, r in results["plain"]) == 0:
        log("FAIL plain: no duplicate in any seed, though every schedule drops a Produce answer")
        failures += 1
    if args.table or len(seeds) > 1:
        print(f"\nper mode, {len(seeds)} seeds ({args.duration:g} s of faults each):")
        print(f"{'mode':12s} {'runs':>4s} {'acked':>7s} {'lost':>5s} {'moved':>5s} {'dup':>5s} "
              f"{'reord':>5s} {'failed':>6s} {'fatal':>5s} {'bumped':>6s} {'runs ok':>7s}")
        for mode in modes:
            rs = [r for _, r in results[mode]]
            tot = {k: sum(r[k] for r in rs) for k in ("acked", "lost", "moved", "dup",
                                                      "reordered", "failed", "fatal")}
            ok = sum(1 for r in rs if not verdict(mode, r))
            bumped = sum(1 for r in rs if r["epoch_bumped"])
            print(f"{mode:12s} {len(rs):4d} {tot['acked']:7d} {tot['lost']:5d} {tot['moved']:5d} "
                  f"{tot['dup']:5d} {tot['reordered']:5d} {tot['failed']:6d} {tot['fatal']:5d} "
                  f"{bumped:6d} {ok:4d}/{len(rs)}")
    print("test_chaos: " + ("passed" if not failures else f"{failures} failed"), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
