#!/usr/bin/env python3
"""`minikafka consume --group` and `minikafka groups`, end to end, against `minikafka broker`.

    usage: test_consume_groups.py MINIKAFKA

1. Two `consume --group cg` processes split a 6-partition topic 3 + 3; of 120 records each
   is printed exactly once across both.
2. One stops (SIGTERM: it commits and leaves): the other takes all 6 partitions and reads the
   next records of every partition.
3. `groups --describe` (offsets, --members, --members --verbose, --state) in
   kafka-consumer-groups.sh's layout, byte for byte where the values are known; `--list`.
4. The last member stops: the group is Empty, its commits stay; a restarted member reads
   exactly the records written since (it resumes after the last commit).
5. `--reset-offsets`: the dry run (the default, with Kafka's warning) changes nothing;
   --execute does; --shift-by and --to-offset clamp as Kafka does; a group with members is
   refused; `consume --group` then reads from the new offsets.
6. `--delete`: refused with a member, done without; then the group does not exist.
7. `--consumer-property group.id=G` is the same as --group; mismatched ids are refused.
Every process runs under a timeout. Prints one line per check; exits 1 if any failed.
"""
import os
import re
import signal
import subprocess
import sys
import threading
import time

MK = sys.argv[1] if len(sys.argv) > 1 else "build/minikafka"
failures = 0


def check(name, ok, detail=""):
    global failures
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))
    sys.stdout.flush()
    if not ok:
        failures += 1


def start_broker():
    p = subprocess.Popen([MK, "broker", "--port", "0", "--admin-port", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        m = re.search(r"bootstrap\.servers=(\S+)", line)
        if m:
            return p, m.group(1)
    p.kill()
    raise RuntimeError("the broker did not start")


def run(*args, timeout=60, stdin=None):
    r = subprocess.run([MK, *args], capture_output=True, text=True, timeout=timeout, input=stdin)
    if re.search(r"runtime error|Sanitizer", r.stderr):
        check(" ".join(args[:2]) + ": no sanitizer report", False, r.stderr[-800:])
    return r


def produce(bs, topic, lines):
    """Records "key:value" with `minikafka produce` (keys pick the partitions)."""
    r = run("produce", "--bootstrap-server", bs, "--topic", topic, "--property",
            "parse.key=true", "--property", "key.separator=:", stdin="".join(l + "\n" for l in lines))
    if r.returncode != 0:
        raise RuntimeError("produce failed: " + r.stderr)


class Consumer:
    """A `minikafka consume --group` process: its records (partition, offset, value) and the
    partitions its last assignment line named."""

    def __init__(self, bs, topic, group, *extra, name=""):
        self.name = name
        self.records = []
        self.assignments = []   # (generation, [partitions]) per assignment line
        self.err = []
        self.lock = threading.Lock()
        self.p = subprocess.Popen(
            [MK, "consume", "--bootstrap-server", bs, "--topic", topic, "--group", group,
             "--property", "print.partition=true", "--property", "print.offset=true", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._out, daemon=True).start()
        threading.Thread(target=self._err, daemon=True).start()

    def _out(self):
        for line in self.p.stdout:
            m = re.match(r"Partition:(\d+)\tOffset:(\d+)\t(.*)", line.rstrip("\n"))
            if m:
                with self.lock:
                    self.records.append((int(m.group(1)), int(m.group(2)), m.group(3)))

    def _err(self):
        for line in self.p.stderr:
            with self.lock:
                self.err.append(line)
            m = re.search(r"generation (\d+) \(.*\): assigned (\d+) partitions?(?:: (.*))?", line)
            if m:
                parts = [int(x.rsplit("-", 1)[1]) for x in (m.group(3) or "").split(", ") if x]
                with self.lock:
                    self.assignments.append((int(m.group(1)), parts))

    def partitions(self):
        with self.lock:
            return self.assignments[-1][1] if self.assignments else None

    def generation(self):
        with self.lock:
            return self.assignments[-1][0] if self.assignments else None

    def count(self):
        with self.lock:
            return len(self.records)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        self.p.send_signal(sig)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = None
        time.sleep(0.2)  # the reader threads drain the pipes
        return rc

    def stderr(self):
        with self.lock:
            return "".join(self.err)


def wait_for(cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def keyed(prefix, n):
    return [f"{prefix}{i}:{prefix}-v{i}" for i in range(n)]


def main():
    broker, bs = start_broker()
    consumers = []
    try:
        r = run("topics", "--bootstrap-server", bs, "--create", "--topic", "g6", "--partitions",
                "6", "--replication-factor", "3")
        check("topics --create g6", r.returncode == 0, r.stderr)

        # ---- 1. two members split the topic -----------------------------------------------
        a = Consumer(bs, "g6", "cg", "--from-beginning", name="a")
        consumers.append(a)
        check("a joins alone and gets all 6 partitions",
              wait_for(lambda: a.partitions() == [0, 1, 2, 3, 4, 5], 30), a.stderr())
        b = Consumer(bs, "g6", "cg", "--from-beginning", name="b")
        consumers.append(b)
        split = wait_for(lambda: b.partitions() is not None and a.partitions() is not None and
                         len(a.partitions()) == 3 and len(b.partitions()) == 3 and
                         a.generation() == b.generation(), 30)
        check("a second member: 3 + 3 partitions, one generation", split,
              f"a {a.assignments} b {b.assignments}")
        check("the shares are disjoint and cover the topic",
              sorted((a.partitions() or []) + (b.partitions() or [])) == list(range(6)),
              f"{a.partitions()} {b.partitions()}")
        produce(bs, "g6", keyed("k", 120))
        wait_for(lambda: a.count() + b.count() >= 120, 30)
        seen = a.records + b.records
        check("every record is printed once across both members",
              len(seen) == 120 and len({(p, o) for p, o, _ in seen}) == 120 and
              sorted(v for _, _, v in seen) == sorted(l.split(":")[1] for l in keyed("k", 120)),
              f"{len(seen)} records")
        check("each member printed only its own partitions",
              {p for p, _, _ in a.records} <= set(a.partitions() or []) and
              {p for p, _, _ in b.records} <= set(b.partitions() or []))

        # ---- 2. one leaves, the other takes all ------------------------------------------
        rc = a.stop()
        check("a stops on SIGTERM (exit 128+15) and says how many it printed",
              rc == 128 + signal.SIGTERM and f"Processed a total of {len(a.records)} messages"
              in a.stderr(), f"rc {rc}: {a.stderr()[-300:]}")
        check("b takes all 6 partitions when a leaves",
              wait_for(lambda: b.partitions() == [0, 1, 2, 3, 4, 5], 30), str(b.assignments))
        before = b.count()
        produce(bs, "g6", keyed("m", 60))
        wait_for(lambda: b.count() >= before + 60, 30)
        check("b reads the next 60 records, from every partition",
              b.count() == before + 60 and len({p for p, _, _ in b.records[before:]}) == 6,
              f"{b.count() - before} records")

        # ---- 3. describe, list ---------------------------------------------------------------
        wait_for(lambda: "LAG" in run("groups", "--bootstrap-server", bs, "--describe", "--group",
                                      "cg").stdout, 10)
        lags_zero = lambda: all(
            row.split()[5] == "0" for row in
            run("groups", "--bootstrap-server", bs, "--describe", "--group", "cg")
            .stdout.splitlines()[2:] if row.strip())
        check("b's auto commits catch up: every LAG is 0", wait_for(lags_zero, 15))
        d = run("groups", "--bootstrap-server", bs, "--describe", "--group", "cg")
        lines = d.stdout.split("\n")
        member = re.search(r"(consumer-cg-1-[0-9a-f-]{36})", d.stdout)
        cid = member.group(1) if member else "?"
        header = ("GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  "
                  f"LAG             {'CONSUMER-ID':<{len(cid)}} HOST            CLIENT-ID")
        check("--describe: a blank line, then Kafka's header with its column widths",
              lines[0] == "" and lines[1] == header, repr(lines[:2]))
        rows = [l for l in lines[2:] if l]
        ends = {}
        for l in rows:
            f = l.split()
            ends[int(f[2])] = int(f[4])
        want_rows = [f"{'cg':<15} {'g6':<15} {p:<10} {ends.get(p, -1):<15} {ends.get(p, -1):<15} "
                     f"{0:<15} {cid} {'/127.0.0.1':<15} consumer-cg-1" for p in range(6)]
        check("--describe: one row per partition, by partition, b's id, host and client id",
              rows == want_rows and sum(ends.values()) == 180, "\n".join(rows))
        check("--describe ends with a newline and says nothing on stderr for a stable group",
              d.stdout.endswith("consumer-cg-1\n") and d.stderr == "", repr(d.stderr))
        m = run("groups", "--bootstrap-server", bs, "--describe", "--group", "cg", "--members")
        want = ("\n" + f"{'GROUP':<15} {'CONSUMER-ID':<{len(cid)}} {'HOST':<15} {'CLIENT-ID':<15} "
                f"{'#PARTITIONS':<15} \n" + f"{'cg':<15} {cid} {'/127.0.0.1':<15} "
                f"{'consumer-cg-1':<15} {'6':<15} \n")
        check("--describe --members: Kafka's layout (trailing spaces too)", m.stdout == want,
              repr(m.stdout))
        mv = run("groups", "--bootstrap-server", bs, "--describe", "--group", "cg", "--members",
                 "--verbose")
        check("--members --verbose: the assignment column, as Kafka 3.9 prints it",
              mv.stdout.splitlines()[1].endswith("#PARTITIONS     ASSIGNMENT") and
              mv.stdout.splitlines()[2].endswith("6               (0,1,2,3,4,5)"), repr(mv.stdout))
        st = run("groups", "--bootstrap-server", bs, "--describe", "--group", "cg", "--state")
        sl = st.stdout.split("\n")
        coord = re.search(r"(127\.0\.0\.1:\d+  \(\d\))", st.stdout)
        cw = max(25, len(coord.group(1))) if coord else 25
        check("--describe --state: Stable, range, 1 member, the coordinator as host:port  (id)",
              coord is not None and sl[1] == f"{'GROUP':<{cw}} {'COORDINATOR (ID)':<25} "
              f"{'ASSIGNMENT-STRATEGY':<20} {'STATE':<15} #MEMBERS" and
              sl[2] == f"{'cg':<{cw}} {coord.group(1):<25} {'range':<20} {'Stable':<15} 1",
              repr(st.stdout))
        ls = run("groups", "--bootstrap-server", bs, "--list")
        check("--list names the group", "cg" in ls.stdout.split(), ls.stdout)
        lss = run("groups", "--bootstrap-server", bs, "--list", "--state")
        check("--list --state: GROUP and STATE columns",
              re.search(r"^GROUP\s+STATE\s*$", lss.stdout, re.M) is not None and
              re.search(r"^cg\s+Stable\s*$", lss.stdout, re.M) is not None, lss.stdout)

        # ---- 4. the group empties; a restart resumes at the commits -------------------------
        busy = run("groups", "--bootstrap-server", bs, "--reset-offsets", "--group", "cg",
                   "--topic", "g6", "--to-earliest", "--execute")
        check("--reset-offsets of a group with a member is refused, as Kafka refuses it",
              "Error: Assignments can only be reset if the group 'cg' is inactive, but the "
              "current state is Stable." in busy.stdout and busy.returncode == 1, busy.stdout)
        busy = run("groups", "--bootstrap-server", bs, "--delete", "--group", "cg")
        check("--delete of a group with a member is refused (GroupNotEmptyException)",
              "* Group 'cg' could not be deleted due to: org.apache.kafka.common.errors."
              "GroupNotEmptyException: The group is not empty." in busy.stdout, busy.stdout)
        rc = b.stop()
        check("b stops cleanly", rc == 128 + signal.SIGTERM, b.stderr()[-300:])
        e = run("groups", "--bootstrap-server", bs, "--describe", "--group", "cg")
        check("an empty group: Kafka's note on stderr, rows without a consumer, LAG 0",
              "Consumer group 'cg' has no active members." in e.stderr and
              all(l.split()[5:] == ["0", "-", "-", "-"] for l in e.stdout.splitlines()[2:] if l),
              e.stdout + e.stderr)
        produce(bs, "g6", keyed("n", 30))
        c = Consumer(bs, "g6", "cg", "--timeout-ms", "6000", name="c")
        consumers.append(c)
        c.p.wait(40)
        time.sleep(0.2)
        check("a restarted member prints exactly the 30 records written since the commits",
              sorted(v for _, _, v in c.records) == sorted(l.split(":")[1] for l in keyed("n", 30)),
              f"{len(c.records)}: {c.records[:3]}")

        # ---- 5. reset-offsets ----------------------------------------------------------------
        dry = run("groups", "--bootstrap-server", bs, "--reset-offsets", "--group", "cg",
                  "--topic", "g6", "--to-earliest")
        want = ("\n" + f"{'GROUP':<30} {'TOPIC':<30} {'PARTITION':<10} {'NEW-OFFSET':<15}" +
                "".join(f"\n{'cg':<30} {'g6':<30} {p:<10} {0:<15}" for p in range(6)) + "\n")
        check("--reset-offsets --to-earliest: Kafka's plan layout, and its warning without "
              "--execute", dry.stdout == want and "WARN: No action will be performed as the "
              "--execute option is missing." in dry.stderr, repr(dry.stdout) + dry.stderr)
        after_dry = run("groups", "--bootstrap-server", bs, "--describe", "--group", "cg")
        check("the dry run changed nothing (LAG still 0)",
              all(l.split()[5] == "0" for l in after_dry.stdout.splitlines()[2:] if l),
              after_dry.stdout)
        ex = run("groups", "--bootstrap-server", bs, "--reset-offsets", "--group", "cg", "--topic",
                 "g6", "--to-earliest", "--execute")
        check("--execute prints the same plan", ex.stdout == want, ex.stdout)
        now = run("groups", "--bootstrap-server", bs, "--describe", "--group", "cg")
        total = sum(int(l.split()[5]) for l in now.stdout.splitlines()[2:] if l)
        check("--execute moved every CURRENT-OFFSET to 0: the LAG is all 210 records",
              total == 210, now.stdout)
        sh = run("groups", "--bootstrap-server", bs, "--reset-offsets", "--group", "cg", "--topic",
                 "g6:0,1", "--shift-by", "-5", "--execute")
        check("--shift-by below the log start is clamped to it, with Kafka's warning",
              "New offset (-5) is lower than earliest offset for topic partition g6-0. Value will "
              "be set to 0" in sh.stderr and f"\n{'cg':<30} {'g6':<30} {1:<10} {0:<15}" in sh.stdout,
              sh.stdout + sh.stderr)
        to = run("groups", "--bootstrap-server", bs, "--reset-offsets", "--group", "cg", "--topic",
                 "g6:2", "--to-offset", "999999", "--execute")
        end2 = ends.get(2, -1) + sum(1 for p, _, _ in c.records if p == 2)
        check("--to-offset past the log end is clamped to it",
              f"\n{'cg':<30} {'g6':<30} {2:<10} {end2:<15}" in to.stdout and
              "is higher than latest offset" in to.stderr, to.stdout + to.stderr)
        exp = run("groups", "--bootstrap-server", bs, "--reset-offsets", "--group", "cg",
                  "--all-topics", "--to-current", "--dry-run", "--export")
        check("--export prints topic,partition,offset lines",
              re.fullmatch(r"(g6,\d,\d+\n){6}\n", exp.stdout) is not None, repr(exp.stdout))
        d = Consumer(bs, "g6", "cg", "--timeout-ms", "6000", name="d")
        consumers.append(d)
        d.p.wait(40)
        time.sleep(0.2)
        check("consume --group then reads from the new offsets: all but partition 2's",
              len(d.records) == 210 - end2 and 2 not in {p for p, _, _ in d.records},
              f"{len(d.records)} records")

        # ---- 6. delete -------------------------------------------------------------------------
        dl = run("groups", "--bootstrap-server", bs, "--delete", "--group", "cg")
        check("--delete of an empty group", dl.stdout == "Deletion of requested consumer groups "
              "('cg') was successful.\n", dl.stdout)
        gone = run("groups", "--bootstrap-server", bs, "--describe", "--group", "cg")
        check("a deleted group does not exist", "\nError: Consumer group 'cg' does not exist.\n"
              in gone.stdout and gone.returncode == 1, gone.stdout)

        # ---- 7. group.id by --consumer-property ------------------------------------------------
        produce(bs, "g6", keyed("p", 12))
        q = subprocess.run([MK, "consume", "--bootstrap-server", bs, "--topic", "g6",
                            "--consumer-property", "group.id=cp", "--from-beginning",
                            "--timeout-ms", "6000"], capture_output=True, text=True, timeout=40)
        check("--consumer-property group.id joins a group and reads from the beginning",
              q.returncode == 0 and len(q.stdout.splitlines()) == 222, q.stderr[-300:])
        lc = run("groups", "--bootstrap-server", bs, "--describe", "--group", "cp")
        check("... and commits on exit: the group's LAG is 0",
              all(l.split()[5] == "0" for l in lc.stdout.splitlines()[2:] if l) and
              len([l for l in lc.stdout.splitlines()[2:] if l]) == 6, lc.stdout + lc.stderr)
        mm = run("consume", "--bootstrap-server", bs, "--topic", "g6", "--group", "x",
                 "--consumer-property", "group.id=y")
        check("different group ids in two places are refused",
              mm.returncode == 2 and "do not match" in mm.stderr, mm.stderr)
        gp = run("consume", "--bootstrap-server", bs, "--topic", "g6", "--group", "x",
                 "--partition", "0")
        check("--group with --partition is refused, as Kafka refuses it",
              gp.returncode == 2 and "group and partition cannot be specified together" in gp.stderr,
              gp.stderr)
        bad = run("consume", "--bootstrap-server", bs, "--topic", "g6", "--group", "x",
                  "--consumer-property", "partition.assignment.strategy=cooperative-sticky")
        check("cooperative-sticky is refused with a clear reason",
              bad.returncode == 2 and "not implemented" in bad.stderr, bad.stderr)
    finally:
        for c in consumers:
            if c.p.poll() is None:
                c.p.kill()
        broker.send_signal(signal.SIGTERM)
        try:
            broker.wait(10)
        except subprocess.TimeoutExpired:
            broker.kill()
    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
