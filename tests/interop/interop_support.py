"""What the Python interop tests share: timestamped progress lines, named checks that are
counted, bounded waits, and a client of the broker's admin HTTP API (DESIGN.md 3.2).

The admin URL is the second line a broker prints ("minikafka admin API: http://...");
with_broker.sh keeps that output in $INTEROP_TMP/broker.out.
"""
import json
import sys
import time
import urllib.error
import urllib.request

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


def wait_until(what, fn, timeout, every=0.1):
    """fn() until it returns something true, for at most timeout seconds; returns its last
    value (false on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(every)


def admin_url_of(out_path, timeout=15):
    def find():
        try:
            with open(out_path) as f:
                for line in f:
                    if line.startswith("minikafka admin API: "):
                        return line.split(": ", 1)[1].strip()
        except OSError:
            pass
        return None
    return wait_until("admin URL", find, timeout)


class Cluster:
    def __init__(self, bootstrap, url):
        self.bootstrap, self.url = bootstrap, url

    def http(self, method, path, body=None, raw=None):
        """(status, parsed JSON or the raw text) of one request; never raises for a 4xx."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, text = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def fault(self, **f):
        status, body = self.http("POST", "/v1/faults", f)
        if status != 201:
            raise RuntimeError(f"POST /v1/faults {f}: {status} {body}")
        return body

    def create_topic(self, name, partitions=3, configs=None):
        status, body = self.http("POST", "/v1/topics", {
            "name": name, "partitions": partitions, "replication_factor": 3,
            "configs": configs or {}})
        if status != 201:
            raise RuntimeError(f"POST /v1/topics {name}: {status} {body}")

    def partition(self, topic, p):
        status, body = self.http("GET", "/v1/cluster")
        if status != 200:
            raise RuntimeError(f"GET /v1/cluster: {status} {body}")
        for t in body["topics"]:
            if t["name"] == topic:
                return t["partitions"][p]
        raise RuntimeError(f"GET /v1/cluster: no topic {topic}")

    def followers(self, topic, p):
        st = self.partition(topic, p)
        return st["leader"], [r["broker"] for r in st["replicas"] if r["broker"] != st["leader"]]

    def wait_settled(self, topic, p, timeout=10):
        """Until the partition's high watermark is its leader's log end offset (what a
        consumer can read is everything the leader has); returns the partition's state."""
        def settled():
            st = self.partition(topic, p)
            leo = {r["broker"]: r["log_end_offset"] for r in st["replicas"]}
            return st if st["leader"] >= 0 and st["high_watermark"] == leo[st["leader"]] else None
        return wait_until("settled", settled, timeout) or self.partition(topic, p)
