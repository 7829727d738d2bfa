#!/usr/bin/env python3
"""confluent-kafka (Python, over librdkafka; Debian python3-confluent-kafka, run by
/usr/bin/python3) against minikafka; run by with_broker.sh, which sets BOOTSTRAP.

An idempotent Producer (enable.idempotence=true: InitProducerId, then producer id, epoch and
sequence numbers on every batch; acks=all) with lz4 and the murmur2_random partitioner (Java's
murmur2; librdkafka's default, consistent_random, hashes differently) sends keyed records
with per-record headers (repeated names, empty and null values). Every delivery report must
succeed, with a partition and offset. Then a Consumer reads every partition from the
beginning with assign() (group.id is required by the client but unused: no subscribe, no
commits, since the broker has no group coordinator yet), CRCs checked, and
interop_check.check() compares: every record once, in order per partition, intact, each key
in its murmur2 partition, each where its delivery report said. The watermarks (ListOffsets)
must match what was read.
"""
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop_check as ic  # noqa: E402

try:
    import confluent_kafka
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
except ImportError as e:
    print(f"confluent-kafka not installed ({e}; Debian package python3-confluent-kafka, for "
          "/usr/bin/python3): run ./run.sh test, which installs it", file=sys.stderr)
    sys.exit(1)

N = int(os.environ.get("INTEROP_RECORDS", "500"))
TOPIC = "interop-confluent-kafka"
bootstrap = os.environ["BOOTSTRAP"]
errors = []
print(f"confluent-kafka {confluent_kafka.version()[0]}, librdkafka {confluent_kafka.libversion()[0]}")


def log_errors(where):
    def cb(err):
        # The consumer has no group: librdkafka may complain about the coordinator; fatal
        # errors are test failures.
        if err.fatal():
            errors.append(f"{where}: fatal client error {err}")
    return cb


records = ic.make_records("confluent-kafka", "idempotent-lz4", N)
producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                     "compression.type": "lz4", "partitioner": "murmur2_random",
                     "linger.ms": 5, "message.timeout.ms": 30000,
                     "error_cb": log_errors("producer")})
reports = {}


def on_delivery(err, msg):
    reports[msg.value().decode()] = (err, msg.partition(), msg.offset())


for r in records:
    while True:
        try:
            producer.produce(TOPIC, key=r["key"].encode(), value=r["value"].encode(),
                             headers=[(k, None if v is None else v.encode())
                                      for k, v in r["headers"]],
                             on_delivery=on_delivery)
            break
        except BufferError:
            producer.poll(0.1)
    producer.poll(0)
left = producer.flush(60)
if left:
    errors.append(f"{left} records still undelivered after flush(60 s)")
failed = 0
for r in records:
    rep = reports.get(r["value"])
    if rep is None:
        failed += 1
        errors.append(f"no delivery report for {r['value'][:40]!r}") if failed <= 3 else None
        continue
    err, r["partition"], r["offset"] = rep
    if err is not None or r["offset"] is None or r["offset"] < 0:
        failed += 1
        if failed <= 3:
            errors.append(f"delivery of {r['value'][:40]!r} failed: {err} "
                          f"(partition {r['partition']}, offset {r['offset']})")
if failed:
    errors.append(f"{failed} of {N} deliveries failed or were not reported")

consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "interop-unused",
                     "enable.auto.commit": False, "enable.auto.offset.store": False,
                     "enable.partition.eof": False, "check.crcs": True,
                     "error_cb": log_errors("consumer")})
consumer.assign([TopicPartition(TOPIC, p, OFFSET_BEGINNING) for p in range(ic.NUM_PARTITIONS)])
# confluent-kafka 1.7.0's Message.headers() puts None (a null header value) in its tuples
# without taking a reference to it: a refcount bug in its C extension (a client bug, not the
# broker's). Each such message costs None one reference; Python 3.11 aborts when None's count
# reaches 0 ("Fatal Python error: none_dealloc"), which happens at interpreter exit. So hold
# spare references while consuming, and leave with os._exit(), skipping the finalization.
none_refs = [None] * (4 * N)
consumed = []
deadline = time.monotonic() + 30
while len(consumed) < N and time.monotonic() < deadline:
    for m in consumer.consume(num_messages=1000, timeout=0.5):
        if m.error():
            if m.error().code() != KafkaError._PARTITION_EOF:
                errors.append(f"consumer: {m.error()}")
            continue
        consumed.append({"partition": m.partition(), "offset": m.offset(), "key": ic.text(m.key()),
                         "value": ic.text(m.value()),
                         "headers": [[k, ic.text(v)] for k, v in (m.headers() or [])]})
marks = {p: consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)
         for p in range(ic.NUM_PARTITIONS)}
consumer.close()

errors += ic.check("confluent-kafka idempotent producer (lz4) -> confluent-kafka consumer",
                   records, consumed)
for p, (low, high) in marks.items():
    n = sum(1 for r in consumed if r["partition"] == p)
    if (low, high) != (0, n):
        errors.append(f"partition {p}: watermarks (ListOffsets) are [{low}, {high}), "
                      f"the consumer read {n} records from 0")
if errors:
    print("confluent-kafka: FAILED")
    for e in errors:
        print(f"  - {e}")
else:
    print("confluent-kafka: passed")
sys.stdout.flush()
sys.stderr.flush()
os._exit(1 if errors else 0)  # see none_refs above
