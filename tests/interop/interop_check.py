#!/usr/bin/env python3
"""The checks every interop test makes, in one place (standard library only).

A test produces records with a real client, consumes them all back (from the beginning, every
partition) and calls check(), which fails on any of:

  * a record lost, or delivered more than once (counted separately), or a record that comes
    back changed (its key, value or headers differ from every record produced);
  * a partition whose offsets are not 0, 1, 2, ... in the order the consumer saw them;
  * a partition whose records are not in the order the producer sent them to it;
  * a key found in more than one partition, or in another partition than Kafka's Java
    producer would pick: toPositive(murmur2(key)) % partitions. This file implements murmur2
    (checked against Kafka's own test vectors on import) and compares it with minikafka's
    (protocol/murmur2.c, through the murmur2_partition helper that meson builds), so every
    client, Java and minikafka agree on where each key goes;
  * a partition or offset that the producer's delivery report gave for a record and that the
    consumer does not find it at.

Records are dicts: {"key": str|None, "value": str|None, "headers": [[name, str|None], ...],
"partition": int|None, "offset": int|None}; produced records carry the partition and offset the
client reported, or None when it reports none (kcat, acks=0).

Used as a module by the Python tests and as a command by the others:
  interop_check.py gen CLIENT CASE COUNT OUT.jsonl [--no-null-headers]
      records with per-record headers, for a client to produce
  interop_check.py gen-kcat CLIENT CASE COUNT INPUT.txt PRODUCED.jsonl [NAME=VALUE...]
      records for kcat -P -K: (one "key:value" line each, the same headers on all)
  interop_check.py verify-kcat LABEL TOPIC PRODUCED.jsonl [--format-check]
      consume TOPIC with kcat -C -e -J (BOOTSTRAP from the environment) and check it
"""
import collections
import json
import os
import subprocess
import sys
import time

# What the cluster auto-creates: 3 on minikafka (num.partitions' default), 4 on librdkafka's
# mock cluster (with_broker.sh sets INTEROP_PARTITIONS when the proxy stands in front of it).
NUM_PARTITIONS = int(os.environ.get("INTEROP_PARTITIONS", "3"))

# Every client uses these keys, so every test checks the same key -> partition map. Their
# UTF-8 lengths cover every murmur2 tail length (0..3) and bytes >= 0x80; none contains ':'
# (kcat's -K delimiter).
KEYS = ["21", "foobar", "abc", "k", "user-1", "user-22", "order-333",
        "a-little-bit-long-string", "clé-é", "ключ-7", "key0"]

# ---------------------------------------------------------------------------------------------
# murmur2, as Kafka's Utils.murmur2 / BuiltInPartitioner.partitionForKey compute it
# (see shared/reference/kafka-protocol/MURMUR2.md).

M32 = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 of data, as a signed 32-bit int."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & M32
    for i in range(length // 4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & M32
        k ^= k >> r
        k = (k * m) & M32
        h = (h * m) & M32
        h ^= k
    t = length & ~3
    tail = length & 3
    if tail == 3:
        h ^= data[t + 2] << 16
    if tail >= 2:
        h ^= data[t + 1] << 8
    if tail >= 1:
        h ^= data[t]
        h = (h * m) & M32
    h ^= h >> 13
    h = (h * m) & M32
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for_key(key, num_partitions=NUM_PARTITIONS) -> int:
    if isinstance(key, str):
        key = key.encode("utf-8")
    return (murmur2(key) & 0x7FFFFFFF) % num_partitions


# Kafka's UtilsTest.testMurmur2() vectors: if these fail, the checker itself is wrong.
for _key, _want in [(b"21", -973932308), (b"foobar", -790332482),
                    (b"a-little-bit-long-string", -985981536),
                    (b"a-little-bit-longer-string", -1486304829),
                    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
                    (b"abc", 479470107)]:
    assert murmur2(_key) == _want, ("checker's murmur2 is wrong", _key, murmur2(_key), _want)
assert len({partition_for_key(k) for k in KEYS}) == NUM_PARTITIONS, "KEYS must cover every partition"


def minikafka_partitions(keys, num_partitions=NUM_PARTITIONS):
    """Where minikafka's own partitioner (protocol/murmur2.c) puts each key."""
    helper = os.environ.get("MK_MURMUR2_PARTITION")
    if not helper:
        raise SystemExit("MK_MURMUR2_PARTITION is not set: run the interop tests with "
                         "`meson test --suite interop` (it points at the murmur2_partition helper)")
    out = subprocess.run([helper, str(num_partitions)] + list(keys), check=True,
                         capture_output=True).stdout.decode().split()
    return dict(zip(keys, map(int, out)))


# ---------------------------------------------------------------------------------------------
# Records

WORDS = ("kafka broker partition leader replica offset batch record header producer "
         "consumer sticky linger acks idempotent sequence epoch").split()


def make_value(client, case, i):
    """A distinct value per record: a prefix that names it, then some compressible text of
    varying length (a few are several KiB, so batches fill and compression has work)."""
    n = (i * 37) % 60 + (400 if i % 50 == 7 else 0)
    filler = " ".join(WORDS[(i + j) % len(WORDS)] for j in range(n))
    return f"{client}/{case}/{i:05d}/{filler}"


def record_headers(client, i, allow_null=True):
    """Headers that vary per record: none, several, a repeated name, an empty value, a null."""
    if i % 5 == 0:
        return []
    h = [["client", client], ["seq", str(i)]]
    if i % 3 == 0:
        h += [["dup", "first"], ["dup", "second"]]
    if i % 7 == 0:
        h.append(["empty", ""])
    if allow_null and i % 11 == 0:
        h.append(["null", None])
    return h


def make_records(client, case, count, headers=None, allow_null_headers=True):
    """count records with keys from KEYS; headers=None: per-record headers (record_headers);
    a list: the same headers on every record (kcat -H)."""
    recs = []
    for i in range(count):
        recs.append({
            "key": KEYS[(i * 5 + i // len(KEYS)) % len(KEYS)],
            "value": make_value(client, case, i),
            "headers": [list(h) for h in headers] if headers is not None
            else record_headers(client, i, allow_null_headers),
            "partition": None,
            "offset": None,
        })
    return recs


def text(b):
    """bytes from a client -> the str the records were made of (None stays None)."""
    if b is None or isinstance(b, str):
        return b
    return bytes(b).decode("utf-8", errors="backslashreplace")


def write_jsonl(path, recs):
    with open(path, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# ---------------------------------------------------------------------------------------------
# The check

def _ident(r):
    return (r["key"], r["value"], tuple(tuple(h) for h in r["headers"]))


def _short(r, n=60):
    v = r["value"]
    v = v if v is None or len(v) <= n else v[:n] + "..."
    return f"key={r['key']!r} value={v!r} headers={r['headers']!r}"


def check(label, produced, consumed, num_partitions=NUM_PARTITIONS):
    """Compare what a client produced with what came back. Prints a summary; returns a list of
    failure messages (empty when everything matches)."""
    errors = []
    want = collections.Counter(_ident(r) for r in produced)
    got = collections.Counter(_ident(r) for r in consumed)
    lost = want - got
    extra = got - want
    dups = {k: c for k, c in extra.items() if k in want}
    changed = {k: c for k, c in extra.items() if k not in want}
    changed_values = {v for (k, v, hs) in extra if (k, v, hs) not in want}
    gone = [x for x in lost if x[1] not in changed_values]  # not even changed: missing
    if gone:
        ex = "; ".join(_short({"key": k, "value": v, "headers": [list(h) for h in hs]})
                       for (k, v, hs) in gone[:3])
        errors.append(f"LOST: {sum(lost[x] for x in gone)} of {len(produced)} produced records "
                      f"never came back (e.g. {ex})")
    if dups:
        ex = "; ".join(f"{c} extra cop{'y' if c == 1 else 'ies'} of value={v[:60]!r}"
                       for (k, v, hs), c in list(dups.items())[:3])
        errors.append(f"DUPLICATED: {len(dups)} records came back more than once, "
                      f"{sum(dups.values())} extra copies in all (e.g. {ex})")
    if changed:
        by_value = {r["value"]: r for r in produced}
        ex = []
        for (k, v, hs) in list(changed)[:3]:
            orig = by_value.get(v)
            if orig is None:
                ex.append(f"value {v[:60] if v else v!r} was never produced")
            else:
                diff = [f for f, a, b in (("key", orig["key"], k), ("headers", orig["headers"],
                        [list(h) for h in hs])) if a != b]
                ex.append(f"value {v[:40]!r}: {', '.join(diff)} changed: sent "
                          f"key={orig['key']!r} headers={orig['headers']!r}, got key={k!r} "
                          f"headers={[list(h) for h in hs]!r}")
        errors.append(f"CHANGED: {sum(changed.values())} consumed records match no produced "
                      f"record ({'; '.join(ex)})")

    # Offsets per partition: 0, 1, 2, ... in the order the consumer delivered them.
    by_part = collections.defaultdict(list)
    for r in consumed:
        by_part[r["partition"]].append(r)
    for p, recs in sorted(by_part.items()):
        if not 0 <= p < num_partitions:
            errors.append(f"partition {p} does not exist (topic has {num_partitions})")
        offs = [r["offset"] for r in recs]
        if offs != list(range(len(offs))):
            bad = next(i for i, o in enumerate(offs) if o != i)
            errors.append(f"partition {p}: offsets are not 0..{len(offs) - 1} in order: at position "
                          f"{bad} got offset {offs[bad]} (offsets {offs[max(0, bad - 2):bad + 3]})")

    # Where each key lands: one partition per key, Kafka's murmur2 one, and minikafka's.
    keys = sorted({r["key"] for r in produced if r["key"] is not None})
    ours = minikafka_partitions(keys, num_partitions)
    for k in keys:
        if ours[k] != partition_for_key(k, num_partitions):
            errors.append(f"key {k!r}: minikafka's murmur2 partition {ours[k]} differs from Kafka's "
                          f"{partition_for_key(k, num_partitions)}")
    key_parts = collections.defaultdict(set)
    for r in consumed:
        if r["key"] is not None:
            key_parts[r["key"]].add(r["partition"])
    for k, parts in sorted(key_parts.items()):
        want_p = partition_for_key(k, num_partitions)
        if len(parts) > 1:
            errors.append(f"key {k!r} is in partitions {sorted(parts)}: the same key must always "
                          f"land in the same partition (murmur2 says {want_p})")
        elif parts != {want_p}:
            errors.append(f"key {k!r} is in partition {min(parts)}, but Kafka's murmur2 partitioner "
                          f"(and minikafka's) put it in {want_p}")

    # What the producer's delivery reports said, if it gave any.
    for r in produced:
        if r.get("partition") is not None and r["key"] is not None \
                and r["partition"] != partition_for_key(r["key"], num_partitions):
            errors.append(f"the producer reported key {r['key']!r} delivered to partition "
                          f"{r['partition']}, murmur2 says {partition_for_key(r['key'], num_partitions)}")
            break
    where = {}
    for r in consumed:
        where.setdefault(r["value"], (r["partition"], r["offset"]))
    mism = [(r, where.get(r["value"])) for r in produced
            if r.get("offset") is not None and r["value"] in where
            and where[r["value"]] != (r["partition"], r["offset"])]
    if mism:
        r, w = mism[0]
        errors.append(f"{len(mism)} records are not where the delivery report said: e.g. "
                      f"{r['value'][:40]!r} reported at partition {r['partition']} offset "
                      f"{r['offset']}, consumed at partition {w[0]} offset {w[1]}")

    # Order within each partition: the order the producer sent that partition's records.
    for p in range(num_partitions):
        sent = [r["value"] for r in produced
                if (r["partition"] if r.get("partition") is not None
                    else partition_for_key(r["key"], num_partitions) if r["key"] is not None
                    else None) == p]
        seen = [r["value"] for r in by_part.get(p, [])]
        if sent != seen:
            i = next((i for i, (a, b) in enumerate(zip(sent, seen)) if a != b),
                     min(len(sent), len(seen)))
            errors.append(f"partition {p}: records are not in produce order: first difference at "
                          f"position {i}: sent {sent[i][:40] if i < len(sent) else None!r}, "
                          f"consumed {seen[i][:40] if i < len(seen) else None!r} "
                          f"({len(sent)} sent to it, {len(seen)} consumed)")

    counts = [len(by_part.get(p, [])) for p in range(num_partitions)]
    if errors:
        print(f"FAIL {label}: {len(produced)} produced, {len(consumed)} consumed "
              f"(per partition {counts})")
        for e in errors:
            print(f"  - {e}")
    else:
        print(f"ok   {label}: {len(produced)} records came back once each, in order, intact; "
              f"per partition {counts}; {len(keys)} keys each in its murmur2 partition")
    sys.stdout.flush()
    return errors


# ---------------------------------------------------------------------------------------------
# kcat as the consumer (for kcat's own test and for clients whose consumer needs groups)

def kcat_consume(bootstrap, topic, expected, timeout_s=20.0, fmt=None):
    """Everything in topic from the beginning, every partition, with kcat -C -e. Consumes again
    (for up to timeout_s) while fewer than expected records are there: with acks=0 or 1 the
    producer may finish before the broker has appended or replicated (high watermark) them."""
    deadline = time.monotonic() + timeout_s
    while True:
        cmd = ["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q",
               "-X", "check.crcs=true", "-X", "fetch.wait.max.ms=100"] + (["-f", fmt] if fmt else ["-J"])
        p = subprocess.run(cmd, capture_output=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.decode()[-2000:]}")
        out = p.stdout.decode("utf-8", errors="backslashreplace")
        if fmt:
            return out
        recs = []
        for line in out.splitlines():
            j = json.loads(line)
            hs = j.get("headers") or []
            recs.append({"partition": j["partition"], "offset": j["offset"], "key": j.get("key"),
                         "value": j.get("payload"),
                         "headers": [[hs[i], hs[i + 1]] for i in range(0, len(hs), 2)]})
        if len(recs) >= expected or time.monotonic() > deadline:
            return recs
        time.sleep(0.2)


def _main(argv):
    if len(argv) in (6, 7) and argv[1] == "gen":
        client, case, count, out_path = argv[2:6]
        write_jsonl(out_path, make_records(client, case, int(count),
                                           allow_null_headers="--no-null-headers" not in argv))
        return 0
    if len(argv) >= 7 and argv[1] == "gen-kcat":
        client, case, count, input_path, produced_path = argv[2:7]
        headers = [h.split("=", 1) for h in argv[7:]]
        recs = make_records(client, case, int(count), headers=headers)
        with open(input_path, "w", encoding="utf-8") as f:
            for r in recs:
                f.write(f"{r['key']}:{r['value']}\n")
        write_jsonl(produced_path, recs)
        return 0
    if len(argv) >= 5 and argv[1] == "verify-kcat":
        label, topic, produced_path = argv[2:5]
        bootstrap = os.environ["BOOTSTRAP"]
        produced = read_jsonl(produced_path)
        consumed = kcat_consume(bootstrap, topic, len(produced))
        errors = check(label, produced, consumed)
        if "--format-check" in argv[5:]:
            # The same records once more through kcat's -f formatter.
            out = kcat_consume(bootstrap, topic, len(produced), fmt="%p\\t%o\\t%k\\t%s\\n")
            want = sorted(f"{r['partition']}\t{r['offset']}\t{r['key']}\t{r['value']}"
                          for r in consumed)
            if sorted(out.splitlines()) != want:
                errors.append("kcat -C -f '%p %o %k %s' does not show the same records as -J")
                print(f"  - {errors[-1]}")
            else:
                print(f"ok   {label}: kcat -C -f shows the same {len(want)} records")
        return 1 if errors else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
