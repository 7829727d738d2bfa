#!/usr/bin/env bash
# admin-http: the admin HTTP API of DESIGN.md 3.2 and `minikafka broker --faults FILE`,
# end to end, with curl as the HTTP client and kcat (librdkafka) as the producer.
#
#   usage: test_admin_http.sh MINIKAFKA
#
# 1. `minikafka broker --port 0 --admin-port 0`; the admin URL from its second line
# 2. GET /v1/cluster: brokers; POST /v1/topics; the new topic's partitions, in DESIGN's shape
# 3. GET /v1/events (curl -N, and 20 clients at once) while kcat produces idempotently:
#    `data: {json}` lines with request_received, append, hw_advance
# 4. GET /v1/cluster again: high watermark and every replica's log end offset moved;
#    GET /v1/producers: kcat's producer id, epoch 0, last sequence
# 5. POST/GET/DELETE /v1/faults: the HTTP plumbing (the faults themselves are tested in
#    tests/unit/test_broker_faults.c)
# 6. bad input, each answered with its 4xx and {"error", "message"}, the broker answering
#    GET /v1/cluster after every one: bad JSON, wrong types, unknown action, broker, topic,
#    partition, path, method; bodies over 1 MiB; long URLs and headers; garbage bytes;
#    random bytes; keep-alive and pipelining around errors; an event stream client that
#    never reads (dropped, the loop keeps going)
# 7. --faults FILE: an at_ms line fires; a bad line stops the broker naming the line;
#    --admin-port -1; an admin port in use
# 8. SIGTERM with an event stream open: exit 0
#
# Every command runs under a timeout, so nothing here can hang. Prints one line per check;
# exits 1 if any failed, 1 as well without kcat or curl.
set -u

MK=${1:?usage: test_admin_http.sh MINIKAFKA}
T=$(mktemp -d)
PIDS=()
BROKER_PID=
cleanup() {
  for p in "${PIDS[@]}" $BROKER_PID; do kill "$p" 2> /dev/null; done
  for p in "${PIDS[@]}" $BROKER_PID; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2> /dev/null || break; sleep 0.2; done
    kill -9 "$p" 2> /dev/null
    wait "$p" 2> /dev/null
  done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_tools kcat curl

# sanitizer_clean FILE: no AddressSanitizer/UBSan report in FILE (checked after every run
# whose stderr is overwritten later).
sanitizer_clean() {
  if grep -Eq 'runtime error|Sanitizer' "$1"; then
    fail "sanitizer report in $(basename "$1"): $(grep -Eh -A5 'runtime error|Sanitizer' "$1" | head -12)"
  fi
}

# start_broker NAME ARGS...: start a broker in the background, wait for its ready line (or
# its exit); sets BROKER_PID, BS (bootstrap.servers) and URL (the admin API, if any).
start_broker() {
  local name=$1; shift
  "$MK" broker --port 0 "$@" > "$T/$name.out" 2> "$T/$name.err" &
  BROKER_PID=$!
  for _ in $(seq 1 100); do  # up to 10 s
    grep -q 'ready' "$T/$name.out" 2> /dev/null && break
    kill -0 "$BROKER_PID" 2> /dev/null || break
    sleep 0.1
  done
  BS=$(sed -n 's/^minikafka broker ready: .*bootstrap.servers=//p' "$T/$name.out")
  URL=$(sed -n 's/^minikafka admin API: //p' "$T/$name.out")
}

# http METHOD PATH [BODY-FILE|""] [curl args...]: status in $status, body in $T/body,
# headers in $T/headers.
http() {
  local method=$1 path=$2; shift 2
  local data=()
  if [ $# -gt 0 ] && [ -n "$1" ]; then data=(--data-binary "@$1"); fi
  [ $# -gt 0 ] && shift
  status=$(curl -s --max-time 10 -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$method" \
    "${data[@]}" "$@" "$URL$path")
}
body() { printf '%s' "$1" > "$T/req"; echo "$T/req"; }

# py NAME SCRIPT: run python on $T/body (as sys.argv[1]); pass if it exits 0.
py() {
  local name=$1 script=$2
  if python3 -c "$script" "$T/body" 2> "$T/py.err"; then pass "$name"; else
    fail "$name: $(tail -1 "$T/py.err") -- body: $(head -c 400 "$T/body")"
  fi
}

# expect_error NAME STATUS ERROR: the last answer was STATUS with {"error": ERROR, "message": ...}
# (ERROR '*' = any); then the broker still answers GET /v1/cluster.
expect_error() {
  local name=$1 want=$2 error=$3
  if [ "$status" != "$want" ]; then
    fail "$name: status $status (expected $want), body: $(head -c 300 "$T/body")"
  else
    py "$name" "
import json, sys
d = json.load(open(sys.argv[1]))
assert set(d) == {'error', 'message'}, d
assert isinstance(d['error'], str) and isinstance(d['message'], str) and d['message'], d
assert '$error' == '*' or d['error'] == '$error', d
"
  fi
  local s=$status
  cp "$T/body" "$T/error-body"
  http GET /v1/cluster
  [ "$status" = 200 ] || fail "$name: GET /v1/cluster afterwards answered $status"
  status=$s
  cp "$T/error-body" "$T/body"
}

# ---- 1. the broker --------------------------------------------------------------------------

start_broker main --admin-port 0
if [ -z "$URL" ] || [ -z "$BS" ]; then
  echo "FAIL broker did not start: $(cat "$T/main.out" "$T/main.err")"
  exit 1
fi
MAIN_PID=$BROKER_PID
pass "broker ready on $BS, admin API at $URL"
grep -Eq '^minikafka admin API: http://127\.0\.0\.1:[0-9]+$' "$T/main.out" &&
  pass "the admin API line" || fail "the admin API line: $(cat "$T/main.out")"

# ---- 2. cluster shape, topic creation -------------------------------------------------------

http GET /v1/cluster
[ "$status" = 200 ] && grep -qi '^content-type: application/json' "$T/headers" &&
  pass "GET /v1/cluster: 200 application/json" || fail "GET /v1/cluster: $status"
py "GET /v1/cluster: brokers" "
import json, sys
d = json.load(open(sys.argv[1]))
assert d['topics'] == [], d['topics']
ports = [int(hp.rsplit(':', 1)[1]) for hp in '$BS'.split(',')]
assert [b['id'] for b in d['brokers']] == [0, 1, 2], d['brokers']
for b, port in zip(d['brokers'], ports):
    assert {'id', 'host', 'port', 'up'} <= set(b), b
    assert b['host'] == '127.0.0.1' and b['port'] == port and b['up'] is True, b
"

http POST /v1/topics "$(body '{"name": "adm", "partitions": 3, "replication_factor": 3,
  "configs": {"retention.ms": "3600000", "min.insync.replicas": 2}}')"
[ "$status" = 201 ] && pass "POST /v1/topics: 201" || fail "POST /v1/topics: $status $(cat "$T/body")"
py "POST /v1/topics: the created topic" "
import json, sys
d = json.load(open(sys.argv[1]))
assert d['name'] == 'adm' and d['partitions'] == 3 and d['replication_factor'] == 3, d
assert len(d['id']) == 22, d
assert d['configs'] == {'retention.ms': '3600000', 'min.insync.replicas': '2'}, d
"
"$MK" topics --bootstrap-server "${BS%%,*}" --describe --topic adm > "$T/describe" 2>&1
grep -q 'Configs: .*min.insync.replicas=2' "$T/describe" && grep -q 'retention.ms=3600000' "$T/describe" &&
  pass "POST /v1/topics: configs as kafka-topics.sh --describe shows them" ||
  fail "POST /v1/topics configs: $(head -1 "$T/describe")"

http GET /v1/cluster
cp "$T/body" "$T/cluster0.json"
py "GET /v1/cluster: partitions in DESIGN.md 3.2's shape" "
import json, sys
d = json.load(open(sys.argv[1]))
[t] = d['topics']
assert t['name'] == 'adm' and len(t['partitions']) == 3, t
for i, p in enumerate(t['partitions']):
    assert {'partition', 'leader', 'leader_epoch', 'high_watermark', 'log_start_offset', 'isr',
            'replicas'} <= set(p), p
    assert p['partition'] == i and p['leader_epoch'] == 0 and p['high_watermark'] == 0, p
    assert p['log_start_offset'] == 0, p
    brokers = [r['broker'] for r in p['replicas']]
    assert sorted(brokers) == [0, 1, 2] and p['leader'] == brokers[0], p
    assert sorted(p['isr']) == [0, 1, 2], p
    for r in p['replicas']:
        assert {'broker', 'log_end_offset', 'caught_up'} <= set(r), r
        assert r['log_end_offset'] == 0 and r['caught_up'] is True, r
assert len({p['leader'] for p in t['partitions']}) == 3, 'leaders spread over the brokers'
"

# ---- 3. the event stream while producing -----------------------------------------------------

# wait_for FILE PATTERN: up to 5 s for a line matching PATTERN.
wait_for() {
  for _ in $(seq 1 50); do grep -q "$2" "$1" 2> /dev/null && return 0; sleep 0.1; done
  return 1
}

curl -sN --max-time 60 "$URL/v1/events" > "$T/events" 2> /dev/null &
EVENTS_PID=$!
PIDS+=("$EVENTS_PID")
wait_for "$T/events" '^: minikafka trace events' && pass "GET /v1/events: the stream opens" ||
  fail "GET /v1/events: no stream head"
for i in $(seq 1 20); do
  curl -sN --max-time 60 "$URL/v1/events" > "$T/events.$i" 2> /dev/null &
  PIDS+=("$!")
done
for i in $(seq 1 20); do wait_for "$T/events.$i" '^: minikafka' || break; done

seq 1 5 | sed 's/^/record-/' > "$T/records"
timeout 30 kcat -P -b "$BS" -t adm -p 0 -X enable.idempotence=true -X acks=all \
  < "$T/records" > "$T/kcat.out" 2>&1 && pass "kcat -P (idempotent) to adm/0" ||
  fail "kcat -P: $(cat "$T/kcat.out")"
wait_for "$T/events" '"event":"hw_advance"' || true
kill "$EVENTS_PID" 2> /dev/null
python3 - "$T/events" "$T/events.1" "$T/events.20" > "$T/py.out" 2>&1 << 'EOF'
import json, sys
for path in sys.argv[1:]:
    text = open(path).read()
    assert text.startswith(': minikafka'), text[:200]
    events = []
    for block in text.split('\n\n'):
        if not block or block.startswith(':'):
            continue
        assert block.startswith('data: ') and '\n' not in block, repr(block[:200])
        e = json.loads(block[len('data: '):])
        assert {'ts_us', 'side', 'event'} <= set(e), e
        events.append(e)
    names = {e['event'] for e in events}
    for want in ('request_received', 'append', 'hw_advance'):
        assert want in names, (path, want, sorted(names))
    appends = [e for e in events if e['event'] == 'append']
    assert any(e.get('topic') == 'adm' and e.get('partition') == 0 for e in appends), appends
print('ok')
EOF
[ "$(tail -1 "$T/py.out")" = ok ] && pass "GET /v1/events: data: {json} lines with request_received, append, hw_advance (21 clients)" ||
  fail "GET /v1/events: $(tail -3 "$T/py.out")"
for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null; done
sleep 0.3
http GET /v1/cluster
[ "$status" = 200 ] && pass "clients that hung up are gone; the broker answers" || fail "after the streams: $status"

# ---- 4. state after producing -------------------------------------------------------------------

http GET /v1/cluster
py "GET /v1/cluster: high watermark and log end offsets moved" "
import json, sys
d = json.load(open(sys.argv[1]))
[t] = d['topics']
p0 = t['partitions'][0]
assert p0['high_watermark'] == 5, p0
for r in p0['replicas']:
    assert r['log_end_offset'] == 5 and r['caught_up'] is True, p0
for p in t['partitions'][1:]:
    assert p['high_watermark'] == 0, p
"
http GET /v1/producers
[ "$status" = 200 ] && pass "GET /v1/producers: 200" || fail "GET /v1/producers: $status"
py "GET /v1/producers: kcat's producer id and last sequence" "
import json, sys
d = json.load(open(sys.argv[1]))
[t] = d['topics']
assert t['name'] == 'adm' and [p['partition'] for p in t['partitions']] == [0, 1, 2], t
[pr] = t['partitions'][0]['producers']
assert pr['producer_id'] >= 0 and pr['epoch'] == 0, pr
assert pr['last_sequence'] == 4 and pr['last_offset'] == 4, pr
assert pr['batches'] and pr['batches'][-1]['last_sequence'] == 4, pr
assert pr['batches'][0]['first_sequence'] == 0 and pr['batches'][0]['first_offset'] == 0, pr
assert t['partitions'][1]['producers'] == [] and t['partitions'][2]['producers'] == [], t
"

# ---- 5. faults: the HTTP plumbing ------------------------------------------------------------

http GET /v1/faults
[ "$status" = 200 ] && [ "$(tr -d ' \n' < "$T/body")" = "[]" ] && pass "GET /v1/faults: []" ||
  fail "GET /v1/faults: $status $(cat "$T/body")"
http POST /v1/faults "$(body '{"action": "error", "api": "Produce", "error": "NOT_LEADER_OR_FOLLOWER", "count": 1}')"
[ "$status" = 201 ] && pass "POST /v1/faults: 201" || fail "POST /v1/faults: $status $(cat "$T/body")"
py "POST /v1/faults: the answer has the fault's id" "
import json, sys
d = json.load(open(sys.argv[1]))
assert isinstance(d['id'], int) and d['id'] >= 1, d
"
FAULT_ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/body" 2> /dev/null)
http GET /v1/faults
py "GET /v1/faults: lists it" "
import json, sys
d = json.load(open(sys.argv[1]))
assert isinstance(d, list) and [f['id'] for f in d] == [int('${FAULT_ID:-0}')], d
assert d[0]['action'] == 'error', d
"
http DELETE /v1/faults
[ "$status" = 200 ] && pass "DELETE /v1/faults: 200" || fail "DELETE /v1/faults: $status"
http GET /v1/faults
[ "$(tr -d ' \n' < "$T/body")" = "[]" ] && pass "GET /v1/faults after DELETE: []" ||
  fail "GET /v1/faults after DELETE: $(cat "$T/body")"

# ---- 6. bad input ------------------------------------------------------------------------------

http POST /v1/faults "$(body '{"action": "broker_down", ')"
expect_error "malformed JSON: 400 bad_json" 400 bad_json
http POST /v1/faults "$(body '')"
expect_error "empty body: 400 bad_json" 400 bad_json
http POST /v1/faults "$(body '[1, 2]')"
expect_error "an array for a fault: 400" 400 '*'
http POST /v1/faults "$(body '{"action": 5}')"
expect_error "wrong type {\"action\": 5}: 400" 400 '*'
http POST /v1/faults "$(body '{"action": "crash", "broker": 1}')"
expect_error "unknown action: 400" 400 '*'
grep -q 'crash' "$T/body" && pass "unknown action: the message names it" || fail "unknown action message: $(cat "$T/body")"
http POST /v1/faults "$(body '{"action": "broker_down", "broker": 99}')"
expect_error "unknown broker id: 4xx" 400 '*'
http POST /v1/faults "$(body '{"action": "follower_pause", "topic": "nope", "partition": 0, "broker": 1}')"
expect_error "unknown topic: 4xx" 400 '*'
http POST /v1/faults "$(body '{"action": "follower_pause", "topic": "adm", "partition": 9, "broker": 1}')"
expect_error "unknown partition: 4xx" 400 '*'
http POST /v1/faults "$(body '{"action": "error", "api": "Produce", "error": "NO_SUCH_ERROR"}')"
expect_error "unknown Kafka error name: 4xx" 400 '*'
http POST /v1/faults "$(body '{"action": "broker_down", "broker": 1, "broker": 2}')"
expect_error "duplicate keys: 400 bad_json" 400 bad_json

http POST /v1/topics "$(body '{"name": "adm"}')"
expect_error "POST /v1/topics existing topic: 409" 409 TOPIC_ALREADY_EXISTS
http POST /v1/topics "$(body '{"name": "t2", "partitions": "3"}')"
expect_error "POST /v1/topics partitions as a string: 400" 400 invalid_request
http POST /v1/topics "$(body '{"partitions": 3}')"
expect_error "POST /v1/topics without a name: 400" 400 invalid_request
http POST /v1/topics "$(body '{"name": "t2", "replicas": 3}')"
expect_error "POST /v1/topics unknown field: 400" 400 invalid_request
http POST /v1/topics "$(body '{"name": "t2", "configs": {"cleanup.policy": "compact"}}')"
expect_error "POST /v1/topics unknown config: 400 INVALID_CONFIG" 400 INVALID_CONFIG
http POST /v1/topics "$(body '{"name": "t2", "configs": {"retention.ms": "soon"}}')"
expect_error "POST /v1/topics bad config value: 400 INVALID_CONFIG" 400 INVALID_CONFIG
http POST /v1/topics "$(body '{"name": "t2", "replication_factor": 4}')"
expect_error "POST /v1/topics replication factor 4 of 3: 400" 400 INVALID_REPLICATION_FACTOR
http POST /v1/topics "$(body '{"name": "bad/name"}')"
expect_error "POST /v1/topics bad topic name: 400" 400 INVALID_TOPIC_EXCEPTION
http GET /v1/cluster
python3 -c 'import json,sys; assert [t["name"] for t in json.load(open(sys.argv[1]))["topics"]] == ["adm"]' "$T/body" &&
  pass "refused topics were not created" || fail "refused topics: $(head -c 300 "$T/body")"

http GET /v1/nope
expect_error "unknown path: 404" 404 not_found
http GET /
[ "$status" = 200 ] && grep -qi '^content-type: text/html' "$T/headers" &&
  pass "GET /: the dashboard (tests/browser has its own tests)" || fail "GET /: $status $(cat "$T/headers")"
http PUT /v1/cluster
expect_error "wrong method: 405" 405 method_not_allowed
http DELETE /v1/topics
expect_error "DELETE /v1/topics: 405" 405 method_not_allowed
http PATCH /v1/faults
grep -qi '^allow: GET, HEAD, POST, DELETE' "$T/headers" && pass "405 names the allowed methods" ||
  fail "405 Allow header: $(cat "$T/headers")"
expect_error "PATCH /v1/faults: 405" 405 method_not_allowed
head -c 1100000 /dev/zero | tr '\0' ' ' > "$T/big"
http POST /v1/faults "$T/big"
expect_error "a body over 1 MiB: 413" 413 payload_too_large
http POST /v1/topics "$T/big" -H 'Transfer-Encoding: chunked'
expect_error "a chunked body over 1 MiB: 413" 413 payload_too_large
http GET "/v1/cluster?$(head -c 3000 /dev/zero | tr '\0' 'a')"
expect_error "a URL over 2 KiB: 414" 414 uri_too_long
http GET /v1/cluster "" -H "X-Big: $(head -c 90000 /dev/zero | tr '\0' 'a')"
expect_error "headers over 80 KiB: 431" 431 '*'
http POST /v1/faults "$(body '{"action": "broker_down", "broker": 1}')" -H 'Origin: http://example.com'
expect_error "a request from a web page of another site: 403" 403 forbidden
# Only the admin server's own pages (the dashboard) may post: another local port is another
# site (a dev server on :3000 must not drive the broker).
http POST /v1/faults "$(body '{"action": "broker_down", "broker": 1}')" -H 'Origin: http://localhost:3000'
expect_error "a request from a page on another local port: 403" 403 forbidden
http GET /v1/faults "" -H "Origin: http://localhost:${URL##*:}"
[ "$status" = 200 ] && pass "a request from the admin server's own page: 200" ||
  fail "own origin: $status $(head -c 300 "$T/body")"
# DNS rebinding: a page on attacker.example whose name now resolves to 127.0.0.1 sends its
# own name in Host; what it could read must not be answered.
http GET /v1/cluster "" -H 'Host: attacker.example'
expect_error "a Host that is not a loopback name (DNS rebinding): 403" 403 forbidden
http GET /v1/cluster "" -H "Host: localhost:${URL##*:}"
[ "$status" = 200 ] && pass "Host: localhost:PORT is answered" || fail "Host localhost: $status"
http GET /v1/cluster?pretty
[ "$status" = 200 ] && [ "$(wc -l < "$T/body")" -gt 10 ] && pass "?pretty indents" || fail "?pretty: $status"

# Raw sockets: garbage, pipelining, keep-alive around errors, random bytes, a stream that
# never reads. python3's socket module, so the bytes are exactly these.
PORT=${URL##*:}
python3 - "$PORT" "${BS%%,*}" "$T/main.err" > "$T/raw.out" 2>&1 << 'EOF'
import json, os, random, socket, sys, time
port = int(sys.argv[1])
kafka_host, kafka_port = sys.argv[2].rsplit(':', 1)
broker_log = sys.argv[3]

def connect():
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    return s

def read_responses(s, n):
    """Read n HTTP responses (Content-Length framed); returns [(status, headers, body)]."""
    buf, out = b'', []
    while len(out) < n:
        while b'\r\n\r\n' not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise AssertionError('connection closed after %d responses: %r' % (len(out), buf[:200]))
            buf += chunk
        head, buf = buf.split(b'\r\n\r\n', 1)
        lines = head.decode().split('\r\n')
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, v in (l.split(':', 1) for l in lines[1:])}
        length = int(headers['content-length'])
        while len(buf) < length:
            buf += s.recv(65536)
        out.append((status, headers, json.loads(buf[:length])))
        buf = buf[length:]
    return out

def check(name, cond, detail=''):
    print(('ok   ' if cond else 'FAIL ') + name + ('' if cond else ': ' + str(detail)))

# Garbage bytes: 400 bad_http, then the connection closes.
s = connect()
s.sendall(b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n')
[(st, h, b)] = read_responses(s, 1)
check('garbage bytes: 400 bad_http, Connection: close',
      st == 400 and b['error'] == 'bad_http' and h['connection'] == 'close', (st, h, b))
check('garbage bytes: then the connection closes', s.recv(100) == b'')
s.close()

# Keep-alive: several requests on one connection, errors among them.
s = connect()
body = b'{"action": '
reqs = [b'GET /v1/cluster HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
        b'POST /v1/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s' % (len(body), body),
        b'GET /v1/nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
        b'GET /v1/producers HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n']
got = []
for r in reqs:
    s.sendall(r)
    got += read_responses(s, 1)
check('keep-alive: 4 requests, errors among them, on one connection',
      [g[0] for g in got] == [200, 400, 404, 200] and all(g[1]['connection'] == 'keep-alive' for g in got),
      [(g[0], g[1].get('connection')) for g in got])
# Pipelined: all at once, answered in order.
s.sendall(b''.join(reqs))
got = read_responses(s, 4)
check('pipelining: 4 requests in one write, 4 answers in order', [g[0] for g in got] == [200, 400, 404, 200],
      [g[0] for g in got])
# Chunked body, small enough.
s.sendall(b'POST /v1/topics HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n'
          b'7\r\n{"name"\r\nc\r\n: "chunked"}\r\n0\r\n\r\n')
[(st, h, b)] = read_responses(s, 1)
check('a chunked POST /v1/topics: 201', st == 201 and b['name'] == 'chunked', (st, b))
# HTTP/1.0 without keep-alive: answered, then closed.
s.sendall(b'GET /v1/cluster HTTP/1.0\r\n\r\n')
[(st, h, b)] = read_responses(s, 1)
check('HTTP/1.0: answered with Connection: close', st == 200 and h['connection'] == 'close', h)
s.close()

# Random bytes on 30 connections (a fixed seed, so a failure repeats).
rng = random.Random(1234)
answered = 0
for i in range(30):
    s = connect()
    data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000)))
    if i % 3 == 0:
        data = b'POST /v1/faults HTTP/1.1\r\nContent-Length: 40\r\n\r\n' + data[:40]
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            answered += 1
    except OSError:
        pass
    s.close()
check('random bytes on 30 connections: answered or closed, never hung', True)

# A client that pipelines requests and never reads the answers: dropped, not buffered.
greedy = socket.socket()
greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
greedy.connect(('127.0.0.1', port))
greedy.settimeout(10)
start = time.time()
try:
    while time.time() - start < 20 and 'not reading its answers' not in open(broker_log).read():
        greedy.sendall(b'GET /v1/cluster HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' * 1000)
except OSError:
    pass  # the broker closed it: expected
greedy.close()
time.sleep(0.2)
check('a client that never reads its answers is dropped', 'not reading its answers' in open(broker_log).read())

# An event stream client that never reads: dropped once 1 MiB waits for it. The broker's
# log says so (reading the socket to find out would make the client a reader).
slow = socket.socket()
slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
slow.connect(('127.0.0.1', port))
slow.sendall(b'GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
time.sleep(0.3)
# Trace events come from Kafka requests: pipelined ApiVersions v0 on one connection.
k = socket.create_connection((kafka_host, int(kafka_port)), timeout=10)
req = b'\x00\x12\x00\x00' + b'\x00\x00\x00\x01' + b'\x00\x04load'
frame = len(req).to_bytes(4, 'big') + req
requests = 0
start = time.time()
dropped = False
while time.time() - start < 30 and not dropped:
    k.sendall(frame * 500)
    for _ in range(500):  # read the answers, so the Kafka side never backs up
        size = int.from_bytes(k.recv(4, socket.MSG_WAITALL), 'big')
        k.recv(size, socket.MSG_WAITALL)
    requests += 500
    dropped = 'event stream client too slow' in open(broker_log).read()
check('an event stream client that never reads is dropped (after %d requests)' % requests, dropped)
k.close()
s = connect()
s.sendall(b'GET /v1/cluster HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
check('the broker answers after dropping it', read_responses(s, 1)[0][0] == 200)
s.close()

# A crowd cannot lock the API out: 64 idle connections, then 64 that stop half-way through
# their request (slowloris), then 40 event streams; a client with a whole request is still
# answered (the idlest connections make room; a few places are kept for new clients), and
# the half-sent requests are answered 408 and closed after 10 s.
idle = [connect() for _ in range(64)]
slow = []
for _ in range(64):
    c = connect()
    c.sendall(b'GET /v1/cluster HTTP/1.1\r\nHost: 127.0.0.1\r\n')  # no blank line: unfinished
    slow.append(c)
streams = []
for _ in range(40):
    c = connect()
    c.sendall(b'GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    streams.append(c)
t0 = time.time()
s = connect()
s.sendall(b'GET /v1/cluster HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
got = read_responses(s, 1)
check('a whole request is answered past 64 idle, 64 half-sent and 40 streaming connections '
      '(%.2f s)' % (time.time() - t0), got and got[0][0] == 200)
s.close()
for c in idle + slow + streams: c.close()
# A half-sent request on its own (in the crowd, one whose bytes were not read yet may be the
# idlest connection, closed to make room): answered 408 once its 10 s are up.
late = connect()
late.sendall(b'GET /v1/cluster HTTP/1.1\r\nHost: 127.0.0.1\r\n')
late.settimeout(15)
answer = b''
try:
    while b'\r\n\r\n' not in answer:
        chunk = late.recv(4096)
        if not chunk: break
        answer += chunk
except OSError:
    pass
check('a request that stops half-way is answered 408 within 15 s', answer.startswith(b'HTTP/1.1 408'))
late.close()
EOF
grep -E '^(ok|FAIL) ' "$T/raw.out"
failures=$((failures + $(grep -c '^FAIL' "$T/raw.out")))
if [ "$(grep -c '^ok' "$T/raw.out")" -lt 10 ]; then  # the script stopped early
  fail "raw socket checks stopped early:"
  grep -Ev '^(ok|FAIL) ' "$T/raw.out" | tail -8 | sed 's/^/     /'
fi
grep -q 'event stream client too slow' "$T/main.err" && pass "the drop is logged" ||
  fail "no log line for the slow client: $(tail -3 "$T/main.err")"
http GET /v1/cluster
[ "$status" = 200 ] && pass "GET /v1/cluster after all the bad input" || fail "after bad input: $status"

# ---- 7. --faults FILE, --admin-port -1, a port in use -----------------------------------------------

printf '# lines starting with # and blank lines are ignored\n\n' > "$T/faults.jsonl"
echo '{"at_ms": 100, "action": "error", "api": "Produce", "error": "NOT_LEADER_OR_FOLLOWER", "count": 1}' \
  >> "$T/faults.jsonl"
echo '{"after": {"api": "Metadata", "count": 1}, "action": "delay", "ms": 1, "count": 1}' >> "$T/faults.jsonl"
start_broker scripted --admin-port 0 --faults "$T/faults.jsonl"
SCRIPTED_PID=$BROKER_PID
PIDS+=("$SCRIPTED_PID")
if [ -n "$URL" ]; then
  sleep 0.4
  http GET /v1/faults
  py "--faults: the at_ms line fired" "
import json, sys
d = json.load(open(sys.argv[1]))
errors = [f for f in d if f['action'] == 'error']
assert len(errors) == 1 and errors[0]['api'] == 'Produce', d
assert errors[0]['error'] == 'NOT_LEADER_OR_FOLLOWER' and errors[0]['count'] == 1, d
assert [f for f in d if f['action'] == 'delay'] == [], 'the after line fired too early: %s' % d
"
  timeout 10 kcat -L -b "$BS" > /dev/null 2>&1
  sleep 0.2
  http GET /v1/faults
  py "--faults: the after line fired after the first Metadata request" "
import json, sys
d = json.load(open(sys.argv[1]))
assert [f['ms'] for f in d if f['action'] == 'delay'] == [1], d
"
  grep -q 'line 3: fault' "$T/scripted.err" && pass "--faults: the firing is logged with its line number" ||
    fail "--faults log: $(cat "$T/scripted.err")"
else
  fail "--faults FILE: the broker did not start: $(cat "$T/scripted.err")"
fi
kill "$SCRIPTED_PID" 2> /dev/null; wait "$SCRIPTED_PID" 2> /dev/null

printf '{"at_ms": 100, "action": "broker_down", "broker": 1}\n# fine so far\n{"at_ms": "soon", "action": "broker_up", "broker": 1}\n' \
  > "$T/bad.jsonl"
timeout 10 "$MK" broker --port 0 --admin-port 0 --faults "$T/bad.jsonl" > "$T/bad.out" 2> "$T/bad.err"
rc=$?
sanitizer_clean "$T/bad.err"
[ "$rc" -ne 0 ] && grep -q 'line 3' "$T/bad.err" && ! grep -q ready "$T/bad.out" &&
  pass "--faults with a bad line: refused to start, naming line 3 ($(head -1 "$T/bad.err"))" ||
  fail "--faults bad line: rc $rc, $(cat "$T/bad.out" "$T/bad.err")"
for bad in '{"action": "broker_down", "broker": 1}' '{"at_ms": 1, "after": {"api": "Produce", "count": 1}, "action": "delay", "ms": 1}' \
    '{"after": {"api": "Nope", "count": 1}, "action": "delay", "ms": 1}' '{"at_ms": 5}' 'not json'; do
  echo "$bad" > "$T/bad2.jsonl"
  timeout 10 "$MK" broker --port 0 --admin-port 0 --faults "$T/bad2.jsonl" > "$T/bad.out" 2> "$T/bad.err"
  rc=$?
  sanitizer_clean "$T/bad.err"
  [ "$rc" -ne 0 ] && grep -q 'line 1' "$T/bad.err" ||
    fail "--faults line $bad: rc $rc, $(cat "$T/bad.err")"
done
pass "--faults: no trigger, two triggers, unknown API, no action, not JSON: each refused"
timeout 10 "$MK" broker --port 0 --admin-port 0 --faults "$T/does-not-exist" > "$T/bad.out" 2> "$T/bad.err"
[ $? -ne 0 ] && grep -q 'does-not-exist' "$T/bad.err" && pass "--faults with a missing file: refused" ||
  fail "--faults missing file: $(cat "$T/bad.err")"

start_broker noadmin --admin-port -1
NOADMIN_PID=$BROKER_PID
PIDS+=("$NOADMIN_PID")
[ -n "$BS" ] && ! grep -q 'admin API' "$T/noadmin.out" && pass "--admin-port -1: no admin API" ||
  fail "--admin-port -1: $(cat "$T/noadmin.out" "$T/noadmin.err")"
kill "$NOADMIN_PID" 2> /dev/null; wait "$NOADMIN_PID" 2> /dev/null

timeout 10 "$MK" broker --port 0 --admin-port "$PORT" > "$T/busy.out" 2> "$T/busy.err"
rc=$?
[ "$rc" -ne 0 ] && grep -q "admin API.*address already in use" "$T/busy.err" &&
  pass "an admin port in use: refused ($(head -1 "$T/busy.err"))" ||
  fail "admin port in use: rc $rc $(cat "$T/busy.out" "$T/busy.err")"

# ---- 8. SIGTERM with an event stream open ------------------------------------------------------

BROKER_PID=$MAIN_PID
URL="http://127.0.0.1:$PORT"
curl -sN --max-time 30 "$URL/v1/events" > "$T/events.last" 2> /dev/null &
PIDS+=("$!")
wait_for "$T/events.last" '^: minikafka' || true
kill -TERM "$MAIN_PID"
for _ in $(seq 1 50); do kill -0 "$MAIN_PID" 2> /dev/null || break; sleep 0.1; done
wait "$MAIN_PID"
rc=$?
BROKER_PID=
[ "$rc" -eq 0 ] && pass "SIGTERM with an event stream open: exit 0" || fail "SIGTERM: exit $rc"
for f in "$T"/*.err; do sanitizer_clean "$f"; done

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all admin API checks passed"
