#!/usr/bin/env python3
"""Load test: a crowd of hostile clients while a real client produces and consumes.

  test_load.py MINIKAFKA [--seconds 20] [--idle 1000] [--slowloris 200] [--big 50]
               [--nonreaders 20] [--pipelined 2000] [--no-assert]

One `minikafka broker` (3 brokers, loopback, defaults except socket.request.read.timeout.ms
=5000 so the slowloris connections are closed within the test), a topic of 3 partitions,
replication factor 3. Meanwhile, for --seconds:

  real client   confluent-kafka (librdkafka): a producer (acks=all, idempotent) sending 400
                records/s, each timed from produce() to its delivery report, and a consumer
                reading them back (end-to-end time from the record's timestamp)
  idle          --idle connections spread over the brokers that send nothing
  slowloris     --slowloris connections announcing a 1 MiB request and sending one byte a
                second (closed by socket.request.read.timeout.ms; they reconnect)
  big prefixes  --big connections announcing 100 MB requests and sending 64 KiB of each
  non-readers   --nonreaders connections that each pipeline --pipelined Fetch requests for
                partition 0, which --preload-mb (2 MB) filled first, so each answer is 1 MiB
                (up to 40 GB in all, unbounded), and never read an answer

Reported: the broker's RSS before the crowd, at its peak (sampled every 0.25 s), and after
the crowd has gone (10 s later); the real client's produce and end-to-end latency (p50,
p99, max) and whether every record made it. Asserted (unless --no-assert): the real client
lost nothing, its p99 produce latency stays under 2 s, and the peak RSS stays within 600 MB
of the RSS before (the crowd could take gigabytes before the bounds; each bound is in
`minikafka broker --help`). Only loopback; every wait is bounded.
"""
import argparse
import multiprocessing
import os
import socket
import struct
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
try:
    from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING
except ImportError as e:
    print(f"confluent-kafka not installed ({e}): run ./run.sh test", file=sys.stderr)
    sys.exit(1)

TOPIC = "load"
START = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - START:5.1f}s] {msg}", flush=True)


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def percentile(xs, q):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def fetch_frame(correlation_id, max_bytes=1 << 20):
    """A Fetch v4 request for TOPIC partition 0 from offset 0 (hand-encoded: the raw socket
    side of this test needs no client library)."""
    topic = TOPIC.encode()
    body = struct.pack(">iiiib", -1, 0, 1, max_bytes, 0)           # replica, wait, min, max, iso
    body += struct.pack(">i", 1) + struct.pack(">h", len(topic)) + topic
    body += struct.pack(">i", 1) + struct.pack(">iqi", 0, 0, max_bytes)
    header = struct.pack(">hhi", 1, 4, correlation_id) + struct.pack(">h", 4) + b"load"
    msg = header + body
    return struct.pack(">i", len(msg)) + msg


class Crowd:
    def __init__(self, ports, args):
        self.ports, self.args = ports, args
        self.stop = threading.Event()
        self.socks = []
        self.lock = threading.Lock()
        self.threads = []
        self.counts = {"idle": 0, "slowloris_reconnects": 0, "big": 0, "nonreaders": 0}

    def connect(self, i, rcvbuf=0):
        s = socket.socket()
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(10)
        s.connect(("127.0.0.1", self.ports[i % len(self.ports)]))
        with self.lock:
            self.socks.append(s)
        return s

    def idle(self):
        for i in range(self.args.idle):
            try:
                self.connect(i)
                self.counts["idle"] += 1
            except OSError:
                pass
            if self.stop.is_set():
                return

    def slowloris(self):
        conns = []
        for i in range(self.args.slowloris):
            try:
                s = self.connect(i)
                s.setblocking(False)
                s.send(struct.pack(">i", 1 << 20))
                conns.append([i, s])
            except OSError:
                pass
        while not self.stop.wait(1.0):
            for c in conns:
                try:
                    c[1].send(b"x")
                except OSError:  # closed by the read timeout: come back, as an attacker would
                    self.counts["slowloris_reconnects"] += 1
                    try:
                        s = self.connect(c[0])
                        s.setblocking(False)
                        s.send(struct.pack(">i", 1 << 20))
                        c[1] = s
                    except OSError:
                        pass

    def big(self):
        chunk = b"\0" * (64 << 10)
        for i in range(self.args.big):
            try:
                s = self.connect(i)
                s.sendall(struct.pack(">i", 100_000_000) + chunk)
                self.counts["big"] += 1
            except OSError:
                pass

    def nonreader(self, i):
        try:
            s = self.connect(i, rcvbuf=4096)
            s.setblocking(False)
            data = b"".join(fetch_frame(n) for n in range(self.args.pipelined))
            sent = 0
            self.counts["nonreaders"] += 1
            while sent < len(data) and not self.stop.is_set():
                try:
                    sent += s.send(data[sent:])
                except BlockingIOError:
                    time.sleep(0.05)  # the broker stopped reading us: as it should
        except OSError:
            pass

    def start(self):
        self.threads = [threading.Thread(target=self.idle), threading.Thread(target=self.slowloris),
                        threading.Thread(target=self.big)]
        self.threads += [threading.Thread(target=self.nonreader, args=(i,))
                         for i in range(self.args.nonreaders)]
        for t in self.threads:
            t.daemon = True
            t.start()

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=15)
        with self.lock:
            for s in self.socks:
                try:
                    s.close()
                except OSError:
                    pass


def run_crowd(ports, args, stop, counts):
    """The crowd's process: start it, wait for stop, report its counts, close it all."""
    crowd = Crowd(ports, args)
    crowd.start()
    stop.wait(args.seconds + 60)
    crowd.close()
    counts.update(crowd.counts)


class RealClient:
    def __init__(self, bootstrap):
        self.bootstrap = bootstrap
        self.stop = threading.Event()
        self.sent = 0
        self.acked = 0
        self.errors = []
        self.produce_ms = []
        self.e2e_ms = []
        self.consumed = set()

    def produce(self):
        p = Producer({"bootstrap.servers": self.bootstrap, "acks": "all",
                      "enable.idempotence": True, "linger.ms": 0, "log_level": 3})

        def report(err, msg, t0):
            if err:
                self.errors.append(err.name())
            else:
                self.acked += 1
                self.produce_ms.append((time.monotonic() - t0) * 1000)

        t_start = time.monotonic()
        while not self.stop.is_set():
            due = t_start + self.sent / 400.0
            while time.monotonic() < due:
                p.poll(0.001)
            t0 = time.monotonic()
            p.produce(TOPIC, value=f"r{self.sent}".encode(), on_delivery=lambda e, m, t0=t0: report(e, m, t0))
            self.sent += 1
        p.flush(60)

    def consume(self):
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "load",
                      "enable.auto.commit": False, "log_level": 3})
        c.assign([TopicPartition(TOPIC, p, OFFSET_BEGINNING) for p in range(3)])
        idle_after_stop = 0
        while idle_after_stop < 20:
            m = c.poll(0.25)
            if m is None or m.error():
                if self.stop.is_set():
                    idle_after_stop += 1
                continue
            idle_after_stop = 0
            if not m.value().startswith(b"r"):
                continue  # the preloaded records
            self.consumed.add(m.value())
            ts = m.timestamp()[1]
            self.e2e_ms.append(time.time() * 1000 - ts)
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("minikafka")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--idle", type=int, default=1000)
    ap.add_argument("--slowloris", type=int, default=200)
    ap.add_argument("--big", type=int, default=50)
    ap.add_argument("--nonreaders", type=int, default=20)
    ap.add_argument("--pipelined", type=int, default=2000)
    ap.add_argument("--preload-mb", type=float, default=2,
                    help="MB written to partition 0 first, so every pipelined Fetch answer is "
                         "1 MiB (as in issue 14's measurement)")
    ap.add_argument("--no-assert", action="store_true")
    ap.add_argument("--read-timeout-ms", type=int, default=5000,
                    help="socket.request.read.timeout.ms for the broker; 0 = leave it unset "
                         "(to measure a broker that does not know the setting)")
    args = ap.parse_args()

    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] += ":quarantine_size_mb=16"  # a sanitized build's RSS, without the
    #                                                  quarantine's 256 MB of freed blocks
    err = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), f"load-broker-{os.getpid()}.err"), "w+")
    setting = (["-o", f"socket.request.read.timeout.ms={args.read_timeout_ms}"]
               if args.read_timeout_ms else [])
    broker = subprocess.Popen([args.minikafka, "broker", "--port", "0", "--admin-port", "-1"] + setting,
                              stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    bootstrap = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not bootstrap:
        line = broker.stdout.readline()
        if "bootstrap.servers=" in line:
            bootstrap = line.split("bootstrap.servers=", 1)[1].strip()
    if not bootstrap:
        print("test_load: the broker did not start", file=sys.stderr)
        broker.kill()
        return 1
    ports = [int(hp.rsplit(":", 1)[1]) for hp in bootstrap.split(",")]
    failures = []
    try:
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic(TOPIC, 3, 3)])[TOPIC].result(10)
        if args.preload_mb > 0:
            pre = Producer({"bootstrap.servers": bootstrap, "acks": "1", "log_level": 3,
                            "linger.ms": 5})
            for _ in range(int(args.preload_mb * 1024)):
                while True:
                    try:
                        pre.produce(TOPIC, value=b"p" * 1024, partition=0)
                        break
                    except BufferError:
                        pre.poll(0.05)
            pre.flush(30)
        client = RealClient(bootstrap)
        threads = [threading.Thread(target=client.produce), threading.Thread(target=client.consume)]
        for t in threads:
            t.start()
        time.sleep(3)  # the real client settles, and has data to fetch
        before = rss_kb(broker.pid)
        log(f"RSS before the crowd: {before / 1024:.0f} MB ({client.acked} records acknowledged)")
        # The crowd runs in a process of its own, so its threads do not slow the real client
        # (Python runs one thread at a time): what the client sees is the broker's doing.
        counts = multiprocessing.Manager().dict()
        stop = multiprocessing.Event()
        crowd = multiprocessing.Process(target=run_crowd, args=(ports, args, stop, counts))
        crowd.start()
        peak, t_end = before, time.monotonic() + args.seconds
        while time.monotonic() < t_end:
            peak = max(peak, rss_kb(broker.pid))
            time.sleep(0.25)
            if broker.poll() is not None:
                failures.append("the broker died")
                break
        stop.set()
        crowd.join(timeout=30)
        counts = dict(counts)
        log(f"crowd: {counts}")
        time.sleep(10)
        after = rss_kb(broker.pid)
        client.stop.set()
        for t in threads:
            t.join(timeout=90)
        err.flush()
        err.seek(0)
        log_text = err.read()
        lines = log_text.count("\n")
        log(f"RSS: before {before / 1024:.0f} MB, peak {peak / 1024:.0f} MB, after {after / 1024:.0f} MB")
        log(f"real client: {client.sent} sent, {client.acked} acknowledged, "
            f"{len(client.consumed)} consumed, errors {sorted(set(client.errors))[:5]}")
        log(f"produce latency ms: p50 {percentile(client.produce_ms, .5):.1f}  "
            f"p99 {percentile(client.produce_ms, .99):.1f}  max {max(client.produce_ms or [0]):.1f}")
        log(f"end-to-end latency ms: p50 {percentile(client.e2e_ms, .5):.1f}  "
            f"p99 {percentile(client.e2e_ms, .99):.1f}  max {max(client.e2e_ms or [0]):.1f}")
        log(f"broker log: {lines} lines ({log_text.count('left out')} rate-limit summaries)")
        if "runtime error" in log_text or "Sanitizer" in log_text:
            failures.append("sanitizer report in the broker's log")
        if not args.no_assert:
            if client.errors or client.acked != client.sent:
                failures.append(f"the real client lost records: {client.sent} sent, {client.acked} acked")
            if len(client.consumed) != client.acked:
                failures.append(f"consumed {len(client.consumed)} of {client.acked}")
            if percentile(client.produce_ms, .99) > 2000:
                failures.append("p99 produce latency over 2 s")
            if peak - before > 600 * 1024:
                failures.append(f"peak RSS grew {(peak - before) / 1024:.0f} MB")
            if counts.get("idle", 0) < args.idle * 0.95:
                failures.append(f"only {counts.get('idle', 0)} idle connections were accepted")
    finally:
        broker.terminate()
        try:
            broker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            broker.kill()
        err.close()
    for f in failures:
        log(f"FAIL {f}")
    print("test_load: " + ("passed" if not failures else "failed"), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
