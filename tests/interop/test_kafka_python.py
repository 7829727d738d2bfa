#!/usr/bin/env python3
"""kafka-python (Debian python3-kafka, run by /usr/bin/python3) against minikafka; run by
with_broker.sh, which sets BOOTSTRAP.

KafkaProducer with acks='all' and gzip sends keyed records with per-record headers (repeated
names, empty values) and no explicit partition, so kafka-python's default partitioner
(Java's murmur2) picks it; every send's RecordMetadata (partition, offset) is kept. Then a
KafkaConsumer with no group (manual assign + seek_to_beginning, CRCs checked) reads every
partition back, and interop_check.check() compares: every record once, in order per partition,
intact, each key in its murmur2 partition, each where its delivery report said. The
consumer's beginning/end offsets (ListOffsets) must match what was read. Last, a topic
created with message.timestamp.type=LogAppendTime: the broker's clock in RecordMetadata and
in every record consumed, typed LogAppendTime.
Also run as kafka-python-proxy, through `minikafka proxy` in front of librdkafka's mock
cluster (MK_MOCK_CLUSTER): there it also checks that ApiVersions pass through the proxy
untouched, and the LogAppendTime check needs CreateTopics, which that mock lacks (see below).
"""
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop_check as ic  # noqa: E402

try:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
except ImportError as e:
    print(f"kafka-python not installed ({e}; Debian package python3-kafka, for /usr/bin/python3): "
          "run ./run.sh test, which installs it", file=sys.stderr)
    sys.exit(1)

N = int(os.environ.get("INTEROP_RECORDS", "500"))
TOPIC = "interop-kafka-python"
bootstrap = os.environ["BOOTSTRAP"].split(",")
errors = []

# kafka-python asserts header values are bytes: no null values here.
records = ic.make_records("kafka-python", "acks-all-gzip", N, allow_null_headers=False)
producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", compression_type="gzip",
                         linger_ms=5, max_in_flight_requests_per_connection=1,
                         request_timeout_ms=15000, retries=3)
futures = []
for r in records:
    futures.append(producer.send(
        TOPIC, key=r["key"].encode(), value=r["value"].encode(),
        headers=[(k, None if v is None else v.encode()) for k, v in r["headers"]]))
producer.flush(timeout=60)
failed = 0
for r, f in zip(records, futures):
    try:
        md = f.get(timeout=30)
        r["partition"], r["offset"] = md.partition, md.offset
    except Exception as e:  # noqa: BLE001 - any failure is a test failure
        failed += 1
        if failed <= 3:
            errors.append(f"send of {r['value'][:40]!r} failed: {type(e).__name__}: {e}")
if failed:
    errors.append(f"{failed} of {N} sends failed")
producer.close(timeout=10)

consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                         auto_offset_reset="earliest", check_crcs=True,
                         request_timeout_ms=15000)
tps = [TopicPartition(TOPIC, p) for p in range(ic.NUM_PARTITIONS)]
consumer.assign(tps)
consumer.seek_to_beginning(*tps)
consumed = []
deadline = time.monotonic() + 30
while len(consumed) < N and time.monotonic() < deadline:
    for tp, msgs in consumer.poll(timeout_ms=500).items():
        for m in msgs:
            consumed.append({"partition": m.partition, "offset": m.offset, "key": ic.text(m.key),
                             "value": ic.text(m.value),
                             "headers": [[k, ic.text(v)] for k, v in (m.headers or [])]})
begin = consumer.beginning_offsets(tps)
end = consumer.end_offsets(tps)
consumer.close()

errors += ic.check("kafka-python producer (acks=all, gzip) -> kafka-python consumer",
                   records, consumed)
for tp in tps:
    n = sum(1 for r in consumed if r["partition"] == tp.partition)
    if begin[tp] != 0 or end[tp] != n:
        errors.append(f"partition {tp.partition}: ListOffsets says [{begin[tp]}, {end[tp]}), "
                      f"the consumer read {n} records from 0")


def api_versions(servers):
    """{api_key: (min, max)} as the cluster at servers advertises it (ApiVersions)."""
    from kafka.client_async import KafkaClient
    client = KafkaClient(bootstrap_servers=servers, request_timeout_ms=15000)
    try:
        return dict(client.get_api_versions() or {})
    finally:
        client.close()


# Behind `minikafka proxy` (MK_MOCK_CLUSTER): ApiVersions are the upstream's, passed through
# untouched, so kafka-python must learn the same table through the proxy as from the mock
# itself. librdkafka 2.0.2's mock has no CreateTopics (api key 19) in that table, so the
# LogAppendTime topic below cannot be created there: that check runs on every cluster that
# advertises CreateTopics and is reported as not run (never as passed) on one that does not.
can_create_topics = True
if os.environ.get("MK_MOCK_CLUSTER"):
    through_proxy = api_versions(bootstrap)
    direct = api_versions(os.environ["MOCK_BOOTSTRAP"].split(","))
    if through_proxy != direct:
        errors.append(f"ApiVersions through the proxy {sorted(through_proxy.items())} differ "
                      f"from the mock's own {sorted(direct.items())}")
    else:
        print(f"ok   ApiVersions through the proxy are the mock's ({len(direct)} APIs)")
    can_create_topics = 19 in through_proxy


# A topic with message.timestamp.type=LogAppendTime (created with kafka-python's admin
# client): the broker stamps each batch with its own clock. The producer's RecordMetadata
# must carry that time (the response's log_append_time_ms), and the consumer (CRCs checked:
# the broker rewrote the batch) must read every record with it, as LogAppendTime.
def check_log_append_time():
    try:
        from kafka.admin import KafkaAdminClient, NewTopic
        LAT = "interop-kafka-python-log-append-time"
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
        admin.create_topics([NewTopic(LAT, 1, 3, topic_configs={
            "message.timestamp.type": "LogAppendTime"})])
        admin.close()
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        sent_at = int(time.time() * 1000)
        old_ts = 1_000_000_000_000  # 2001: far from any clock the broker could read
        mds = [producer.send(LAT, value=f"lat-{i}".encode(), timestamp_ms=old_ts).get(timeout=30)
               for i in range(3)]
        producer.close(timeout=10)
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, check_crcs=True,
                                 enable_auto_commit=False, auto_offset_reset="earliest",
                                 request_timeout_ms=15000)
        tp = TopicPartition(LAT, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        got = []
        deadline = time.monotonic() + 20
        while len(got) < 3 and time.monotonic() < deadline:
            for msgs in consumer.poll(timeout_ms=500).values():
                got += [(m.timestamp, m.timestamp_type, m.value) for m in msgs]
        consumer.close()
        if any(md.timestamp == old_ts or abs(md.timestamp - sent_at) > 60000 for md in mds):
            errors.append(f"LogAppendTime: RecordMetadata timestamps {[md.timestamp for md in mds]}"
                          f" are not the broker's clock (sent at {sent_at})")
        if len(got) != 3 or any(t != 1 for _, t, _ in got) or \
                sorted(ts for ts, _, _ in got) != sorted(md.timestamp for md in mds):
            errors.append(f"LogAppendTime: consumed {got}, expected type 1 (LogAppendTime) and the "
                          f"timestamps the producer was told {[md.timestamp for md in mds]}")
    except Exception as e:  # noqa: BLE001 - any failure is a test failure
        errors.append(f"LogAppendTime topic: {type(e).__name__}: {e}")


if can_create_topics:
    check_log_append_time()
else:
    print("not run: the LogAppendTime topic check (the cluster advertises no CreateTopics)")

if errors:
    print("kafka-python: FAILED")
    for e in errors:
        print(f"  - {e}")
    sys.exit(1)
print("kafka-python: passed")
