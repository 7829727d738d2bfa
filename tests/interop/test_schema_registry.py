#!/usr/bin/env python3
"""confluent-kafka's SchemaRegistryClient (Python; Debian python3-confluent-kafka with
python3-requests, run by /usr/bin/python3) against minikafka's schema registry; run by
with_broker.sh, which sets BOOTSTRAP and SCHEMA_REGISTRY_URL. argv[1] is the minikafka
executable.

1. The client registers, looks up and fetches: ids are global (the same schema under two
   subjects has one id), registering a schema again returns its id, versions count per
   subject, latest, get_versions, lookup_schema, get_subjects, soft and permanent deletes.
2. Compatibility: for every level and a table of schema pairs (field added with and without
   a default, removed, int promoted to long, enum symbol added and removed, union widened),
   test_compatibility answers as Avro's rules say, and registering answers an id or 409;
   the transitive levels check every earlier version, the others the latest only.
3. `minikafka produce --value-serializer AvroSerializer` writes Confluent's wire format: a
   confluent-kafka Consumer reads the raw values, each a 0 byte, a 4-byte id the client
   resolves (get_schema) to the schema produced with, then the Avro bytes.
4. Bad input against the live listener (requests): invalid schema JSON, a schema over 1 MiB,
   unknown subject, version and id, bodies that are not JSON or not objects, an unknown
   compatibility level, another schemaType: each 4xx with Confluent's error_code and a
   message. The broker is unaffected: the registry and a Kafka producer and consumer still work.
"""
import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True

try:
    import requests
    from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.error import SchemaRegistryError
except ImportError as e:
    print(f"confluent-kafka's SchemaRegistryClient not importable ({e}; Debian packages "
          "python3-confluent-kafka and python3-requests, for /usr/bin/python3): run "
          "./run.sh test, which installs them", file=sys.stderr)
    sys.exit(1)

MINIKAFKA = sys.argv[1]
BOOTSTRAP = os.environ["BOOTSTRAP"]
URL = os.environ.get("SCHEMA_REGISTRY_URL", "")
if not URL:
    print("SCHEMA_REGISTRY_URL is not set: run me through with_broker.sh", file=sys.stderr)
    sys.exit(1)

START = time.monotonic()
failures = []


def log(msg):
    print(f"[{time.monotonic() - START:5.1f}s] {msg}")
    sys.stdout.flush()


def check(name, ok, detail=""):
    if ok:
        log(f"ok   {name}")
    else:
        failures.append(name)
        log(f"FAIL {name}" + (f": {detail}" if detail else ""))
    return ok


def record(name, fields, namespace=None):
    s = {"type": "record", "name": name, "fields": fields}
    if namespace:
        s["namespace"] = namespace
    return json.dumps(s)


def avro(text):
    return Schema(text, "AVRO")


def registry_error(fn):
    """(http status, error_code) of the SchemaRegistryError fn raises, or None."""
    try:
        fn()
    except SchemaRegistryError as e:
        return e.http_status_code, e.error_code
    return None


def read_values(topic, count, timeout=20):
    """The raw values of topic (every partition, from the beginning), up to count of them."""
    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "unused",
                         "enable.auto.commit": False})
    meta = consumer.list_topics(topic, timeout=10)
    consumer.assign([TopicPartition(topic, part, OFFSET_BEGINNING)
                     for part in meta.topics[topic].partitions])
    values, deadline = [], time.monotonic() + timeout
    while len(values) < count and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is not None and not m.error():
            values.append(m.value())
    consumer.close()
    return values


client = SchemaRegistryClient({"url": URL})

# ---------------------------------------------------------------------------------------------
# 1. register, fetch, look up, delete

USER_V1 = record("User", [{"name": "name", "type": "string"}], "com.example")
USER_V2 = record("User", [{"name": "name", "type": "string"},
                          {"name": "age", "type": "int", "default": 0}], "com.example")

id1 = client.register_schema("users-value", avro(USER_V1))
id1_again = client.register_schema("users-value", avro(USER_V1))
check("registering a schema again returns its id", id1 == id1_again, f"{id1} then {id1_again}")
# Whitespace and key order do not make another schema (the canonical form decides).
respaced = json.dumps(json.loads(USER_V1), indent=3, sort_keys=True)
check("the same schema spelled differently has the same id",
      client.register_schema("users-value", avro(respaced)) == id1)
id_other_subject = client.register_schema("audit-value", avro(USER_V1))
check("ids are global: the same schema under another subject has the same id",
      id_other_subject == id1, f"{id_other_subject} != {id1}")
id2 = client.register_schema("users-value", avro(USER_V2))
check("a new schema gets a new id", id2 != id1)
got = client.get_schema(id2)
check("get_schema(id) returns the schema", json.loads(got.schema_str) == json.loads(USER_V2),
      got.schema_str)
latest = client.get_latest_version("users-value")
check("get_latest_version: version 2, its id", (latest.version, latest.schema_id) == (2, id2),
      f"{latest.version} {latest.schema_id}")
v1 = client.get_version("users-value", 1)
check("get_version(1)", v1.schema_id == id1 and json.loads(v1.schema.schema_str) == json.loads(USER_V1))
check("get_versions", client.get_versions("users-value") == [1, 2])
check("versions count per subject", client.get_versions("audit-value") == [1])
found = client.lookup_schema("users-value", avro(USER_V1))
check("lookup_schema finds version 1", (found.version, found.schema_id) == (1, id1))
check("get_subjects", sorted(client.get_subjects()) == ["audit-value", "users-value"],
      client.get_subjects())
check("lookup_schema of an unregistered schema: 404 40403",
      registry_error(lambda: client.lookup_schema("users-value", avro('"bytes"'))) == (404, 40403))

client.register_schema("temp-value", avro('"string"'))
client.register_schema("temp-value", avro('["null", "string"]'))
client.delete_version("temp-value", 1)
check("delete_version hides it", client.get_versions("temp-value") == [2])
client.delete_subject("temp-value")
check("a soft-deleted subject is gone from get_subjects", "temp-value" not in client.get_subjects())
# This client's permanent delete soft-deletes first, which Confluent's registry refuses for a
# subject soft-deleted already (404 40404): so does ours.
check("a second soft delete: 404 40404",
      registry_error(lambda: client.delete_subject("temp-value")) == (404, 40404))
r = requests.delete(URL + "/subjects/temp-value?permanent=true", timeout=10)
check("permanent delete after a soft one: every version", r.status_code == 200 and
      r.json() == [1, 2], r.text)
check("the subject is gone for good: 404 40401",
      registry_error(lambda: client.get_versions("temp-value")) == (404, 40401))
client.register_schema("temp2-value", avro('"string"'))
check("delete_subject(permanent=True) (soft, then permanent)",
      client.delete_subject("temp2-value", permanent=True) == [1] and
      registry_error(lambda: client.get_versions("temp2-value")) == (404, 40401))

# ---------------------------------------------------------------------------------------------
# 2. compatibility levels on a table of schema pairs

F = lambda name, type_, **kw: dict(name=name, type=type_, **kw)  # noqa: E731
E = lambda *symbols, **kw: dict(type="enum", name="Color", symbols=list(symbols), **kw)  # noqa: E731

# (what changes, old, new, can new read old data?, can old read new data?)
PAIRS = [
    ("field added with a default", [F("a", "int")], [F("a", "int"), F("b", "string", default="x")],
     True, True),
    ("field added without a default", [F("a", "int")], [F("a", "int"), F("b", "string")],
     False, True),
    ("field removed (it had no default)", [F("a", "int"), F("b", "string")], [F("a", "int")],
     True, False),
    ("field removed (it had a default)", [F("a", "int"), F("b", "string", default="x")],
     [F("a", "int")], True, True),
    ("int promoted to long", [F("a", "int")], [F("a", "long")], True, False),
    ("enum symbol added", [F("c", E("RED", "GREEN"))], [F("c", E("RED", "GREEN", "BLUE"))],
     True, False),
    ("enum symbol removed", [F("c", E("RED", "GREEN", "BLUE"))], [F("c", E("RED", "GREEN"))],
     False, True),
    ("union widened", [F("u", ["null", "string"])], [F("u", ["null", "string", "int"])],
     True, False),
    ("type changed int -> string", [F("a", "int")], [F("a", "string")], False, False),
]


def expected(level, backward, forward):
    if level == "NONE":
        return True
    if level.startswith("BACKWARD"):
        return backward
    if level.startswith("FORWARD"):
        return forward
    return backward and forward


n = 0
for level in ["NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE",
              "FULL", "FULL_TRANSITIVE"]:
    wrong = []
    for what, old, new, backward, forward in PAIRS:
        n += 1
        subject = f"compat-{n}-value"
        client.set_compatibility(subject_name=subject, level=level)
        client.register_schema(subject, avro(record("R", old)))
        want = expected(level, backward, forward)
        got_test = client.test_compatibility(subject, avro(record("R", new)))
        status = registry_error(lambda: client.register_schema(subject, avro(record("R", new))))
        got_register = status is None
        if got_test != want or got_register != want or (status and status != (409, 409)):
            wrong.append(f"{what}: want {want}, test_compatibility {got_test}, register "
                         f"{'ok' if got_register else status}")
    check(f"{level}: test_compatibility and register follow Avro's rules on "
          f"{len(PAIRS)} pairs", not wrong, "; ".join(wrong))
    check(f"get_compatibility says {level}",
          client.get_compatibility(subject_name=f"compat-{n}-value") == level)

# Transitive levels look at every earlier version, the others at the latest only.
T1 = record("T", [F("a", "int")])
T2 = record("T", [F("a", "int"), F("b", "int", default=0)])
T3 = record("T", [F("a", "int"), F("b", "int")])  # reads v2's data, not v1's
for level, ok in [("BACKWARD", True), ("BACKWARD_TRANSITIVE", False)]:
    subject = f"transitive-{level.lower()}-value"
    client.set_compatibility(subject_name=subject, level=level)
    client.register_schema(subject, avro(T1))
    client.register_schema(subject, avro(T2))
    status = registry_error(lambda: client.register_schema(subject, avro(T3)))
    check(f"{level}: a third version that reads only the second's data is "
          f"{'accepted' if ok else 'refused (409)'}",
          (status is None) == ok and (ok or status == (409, 409)), str(status))
check("the global level is BACKWARD by default", client.get_compatibility() == "BACKWARD")
client.set_compatibility(level="FULL")
check("set_compatibility (global)", client.get_compatibility() == "FULL")
client.set_compatibility(level="BACKWARD")

# ---------------------------------------------------------------------------------------------
# 3. minikafka produce writes Confluent's wire format, with ids the client resolves

LINES = ['{"name": "Ann", "age": 30}', '{"name": "Bob", "age": 41}', '{"name": "Cy", "age": 7}']
TOPIC = "interop-avro"
p = subprocess.run([MINIKAFKA, "produce", "--bootstrap-server", BOOTSTRAP, "--topic", TOPIC,
                    "--value-serializer", "AvroSerializer", "--property",
                    f"value.schema={USER_V2}", "--property", f"schema.registry.url={URL}"],
                   input="\n".join(LINES) + "\n", capture_output=True, text=True, timeout=60)
check("minikafka produce --value-serializer AvroSerializer", p.returncode == 0, p.stderr)
values = read_values(TOPIC, len(LINES))
check("every Avro record read back", len(values) == len(LINES), f"{len(values)} read")
ids = set()
for v in values:
    ok = len(v) > 5 and v[0] == 0
    ids.add(int.from_bytes(v[1:5], "big"))
    check(f"value {v.hex()}: magic byte 0 and a 4-byte id", ok)
check("one id for every record: the schema's, registered under interop-avro-value",
      ids == {client.get_latest_version(f"{TOPIC}-value").schema_id}, str(ids))
check("the id resolves to the schema produced with",
      json.loads(client.get_schema(ids.pop()).schema_str) == json.loads(USER_V2))
# Avro of {"name": "Ann", "age": 30}: the string (zig-zag length 3 -> 06, "Ann"), then 30 -> 3c.
check("the Avro bytes after the header are the Avro binary encoding",
      bytes.fromhex("06416e6e3c") in [v[5:] for v in values], [v[5:].hex() for v in values])

# ---------------------------------------------------------------------------------------------
# 4. bad input against the live listener

H = {"Content-Type": "application/vnd.schemaregistry.v1+json"}


def post(path, data):
    return requests.post(URL + path, data=data, headers=H, timeout=10)


big = '"int"' + " " * (1 << 20)  # a schema text over 1 MiB (valid JSON, but too large)
BAD = [
    ("invalid schema JSON", lambda: post("/subjects/bad-value/versions",
                                          json.dumps({"schema": "{\"type\": \"record\", "})),
     422, 42201),
    ("a schema that is JSON but not Avro", lambda: post("/subjects/bad-value/versions",
                                                         json.dumps({"schema": '{"type": "nope"}'})),
     422, 42201),
    ("a schema over 1 MiB", lambda: post("/subjects/bad-value/versions",
                                         json.dumps({"schema": big})), 422, 42209),
    ("a body that is not JSON", lambda: post("/subjects/bad-value/versions", "schema=int"),
     400, 400),
    ("a body that is not an object", lambda: post("/subjects/bad-value/versions", "[]"), 400, 400),
    ("no body", lambda: post("/subjects/bad-value/versions", ""), 422, 422),
    ("another schemaType", lambda: post("/subjects/bad-value/versions",
                                        json.dumps({"schema": "syntax = \"proto3\";",
                                                    "schemaType": "PROTOBUF"})), 422, 42201),
    ("unknown subject", lambda: requests.get(URL + "/subjects/nobody-value/versions", timeout=10),
     404, 40401),
    ("unknown version", lambda: requests.get(URL + "/subjects/users-value/versions/42",
                                             timeout=10), 404, 40402),
    ("unknown id", lambda: requests.get(URL + "/schemas/ids/99999", timeout=10), 404, 40403),
    ("an unknown compatibility level", lambda: requests.put(
        URL + "/config", data=json.dumps({"compatibility": "SIDEWAYS"}), headers=H, timeout=10),
     422, 42203),
    ("a body over 3 MiB", lambda: post("/subjects/bad-value/versions",
                                       json.dumps({"schema": " " * (3 << 20)})), 413, 413),
]
for what, fn, status, code in BAD:
    r = fn()
    try:
        body = r.json()
    except ValueError:
        body = {}
    check(f"{what}: {status} {code}",
          r.status_code == status and body.get("error_code") == code and
          isinstance(body.get("message"), str) and
          r.headers.get("Content-Type") == "application/vnd.schemaregistry.v1+json",
          f"{r.status_code} {r.text[:200]}")
check("nothing was registered by the bad requests",
      registry_error(lambda: client.get_versions("bad-value")) == (404, 40401))

# The broker carries on: the registry answers and a Kafka client produces and consumes.
check("the registry still answers", client.get_schema(id2).schema_str == USER_V2 or
      json.loads(client.get_schema(id2).schema_str) == json.loads(USER_V2))
producer = Producer({"bootstrap.servers": BOOTSTRAP})
producer.produce("interop-after-bad-input", b"still here")
check("a Kafka producer still works", producer.flush(15) == 0)
got = read_values("interop-after-bad-input", 1)
got = got[0] if got else None
check("and a Kafka consumer reads it back", got == b"still here", str(got))

if failures:
    print(f"{len(failures)} check(s) failed", file=sys.stderr)
    sys.exit(1)
print("schema registry interop: all checks passed")
