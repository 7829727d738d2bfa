#!/usr/bin/env bash
# `minikafka proxy` in front of librdkafka's mock cluster, with real clients: run by
# with_broker.sh with MK_MOCK_CLUSTER set, which starts the mock and the proxy and sets
# BOOTSTRAP (the proxy's listeners), MK_PROXY_ADMIN (its admin API) and MOCK_BOOTSTRAP.
#
#   admin API     /v1/cluster names the mock's brokers (ids 1-3) at the proxy's ports
#   our producer  `minikafka produce` through the proxy, read back by kcat: every record once
#   faults        drop_response (kcat without idempotence: every record twice), broker_down
#                 (the listener refuses), errors for what a proxy cannot do
#   trace         GET /v1/events streams the proxy's events while a client works, and
#                 `minikafka timeline --follow` draws them live
#   CLI           --faults FILE on the proxy; an unreachable cluster is a clear error
#
# Usage: test_proxy.sh MINIKAFKA
set -u
minikafka=$1
: "${BOOTSTRAP:?run me through with_broker.sh}" "${MK_PROXY_ADMIN:?run me with MK_MOCK_CLUSTER}"
: "${INTEROP_TMP:?}" "${MOCK_BOOTSTRAP:?}"
T=$INTEROP_TMP
failures=0
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; failures=$((failures + 1)); }
check() { if eval "$2"; then pass "$1"; else fail "$1"; fi; }

# http METHOD PATH [BODY]: the status in $T/status, the body in $T/body.
http() {
  local args=(-s -o "$T/body" -w '%{http_code}' -X "$1" "$MK_PROXY_ADMIN$2")
  [ $# -ge 3 ] && args+=(-d "$3")
  curl "${args[@]}" >"$T/status" 2>/dev/null || echo 000 >"$T/status"
}
status() { cat "$T/status"; }
# body EXPR: EXPR evaluated in Python over the last answer's JSON, as d.
body() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$T/body"; }

# consume TOPIC: every value on the topic, one per line (kcat through the proxy).
consume() {
  timeout 30 kcat -C -b "$BOOTSTRAP" -t "$1" -e -q -f '%s\n' 2>"$T/consume.err"
}

first_port=${BOOTSTRAP%%,*}
first_port=${first_port##*:}

# ---- the admin API's view ----------------------------------------------------------------
http GET /v1/cluster
check "GET /v1/cluster: 200" '[ "$(status)" = 200 ]'
ids=$(body '",".join(str(b["id"]) for b in d["brokers"])')
check "the cluster's brokers are the mock's (1,2,3), got $ids" '[ "$ids" = "1,2,3" ]'
ports=$(body '",".join("127.0.0.1:%d" % b["port"] for b in d["brokers"])')
check "each broker is reached at the proxy's listener ($ports)" '[ "$ports" = "$BOOTSTRAP" ]'
check "/v1/cluster says what cannot be seen from outside" 'grep -q "not_visible" "$T/body"'

# ---- our producer through the proxy ----------------------------------------------------------
seq 1 200 | sed 's/^/ours-/' >"$T/ours.in"
if timeout 60 "$minikafka" produce --bootstrap-server "$BOOTSTRAP" --topic proxy-ours \
     <"$T/ours.in" >"$T/produce.out" 2>&1; then
  pass "minikafka produce through the proxy exited 0"
else
  fail "minikafka produce through the proxy: $(tail -3 "$T/produce.out")"
fi
consume proxy-ours | sort >"$T/ours.out"
check "kcat read each of our producer's 200 records once" \
  'diff <(sort "$T/ours.in") "$T/ours.out" >/dev/null'
timeout 30 "$minikafka" consume --bootstrap-server "$BOOTSTRAP" --topic proxy-ours \
  --from-beginning --max-messages 200 --timeout-ms 10000 2>"$T/consume-mk.err" | sort >"$T/ours.mk"
check "minikafka consume read them back through the proxy too" \
  'diff "$T/ours.out" "$T/ours.mk" >/dev/null ||
   { echo "  read $(wc -l <"$T/ours.mk") of 200; its stderr:"; tail -5 "$T/consume-mk.err"; false; }'

# ---- the trace, live, while a client works ----------------------------------------------
curl -sN --max-time 6 "$MK_PROXY_ADMIN/v1/events" >"$T/events.sse" 2>/dev/null &
sse=$!
sleep 0.5
# ---- drop_response: a lost answer, retried without idempotence --------------------------------
http POST /v1/faults '{"action": "drop_response", "api": "Produce", "topic": "proxy-dups",
                      "count": 1, "mode": "close"}'
check "POST drop_response: 201" '[ "$(status)" = 201 ]'
printf 'd1\nd2\nd3\nd4\nd5\n' | timeout 60 kcat -P -b "$BOOTSTRAP" -t proxy-dups -p 0 \
  -X enable.idempotence=false -X acks=all -X linger.ms=100 -X retry.backoff.ms=50 2>"$T/dups.err"
consume proxy-dups | sort >"$T/dups.out"
check "every record twice after a lost answer without idempotence ($(wc -l <"$T/dups.out") read)" \
  '[ "$(uniq -c "$T/dups.out" | awk "\$1 != 2" | wc -l)" = 0 ] &&
   [ "$(wc -l <"$T/dups.out")" = 10 ]'
wait "$sse"
check "GET /v1/events streamed the proxy's events" 'grep -q "\"via\":\"proxy\"" "$T/events.sse"'
check "... the lost answer among them" 'grep -q "\"event\":\"response_dropped\"" "$T/events.sse"'
check "... and the two appends the cluster made" \
  '[ "$(grep -c "\"event\":\"append\".*\"topic\":\"proxy-dups\"" "$T/events.sse")" = 2 ]'
check "the stream says what it cannot see" 'grep -q "not visible from outside" "$T/events.sse"'

# ---- `minikafka timeline --follow` on the proxy's stream -------------------------------------
# The labs' two-lane timeline, live from the proxy: the Produce request, the append the
# cluster made (read from the answer) and the answer, each on the broker's lane.
timeout -s TERM 8 "$minikafka" timeline --follow "$MK_PROXY_ADMIN" >"$T/timeline.out" \
  2>"$T/timeline.err" &
tl=$!
for _ in $(seq 50); do grep -q '^live: ' "$T/timeline.out" && break; sleep 0.1; done
printf 't1\nt2\nt3\n' | timeout 30 kcat -P -b "$BOOTSTRAP" -t proxy-timeline -p 0 -X acks=all \
  2>"$T/timeline-kcat.err"
for _ in $(seq 50); do grep -q 'Produce response' "$T/timeline.out" && break; sleep 0.1; done
kill -TERM "$tl" 2>/dev/null; wait "$tl"
check "timeline --follow on the proxy: kcat's Produce, the append, the answer" \
  'grep -q "Produce v[0-9]* from rdkafka → broker" "$T/timeline.out" &&
   grep -q "append proxy-timeline-0: offsets 0..2, 3 rec" "$T/timeline.out" &&
   grep -q "Produce response ← broker" "$T/timeline.out"'

# ---- broker_down: the listener refuses ---------------------------------------------------
port2=$(cut -d, -f2 <<<"$BOOTSTRAP"); port2=${port2##*:}
http POST /v1/faults '{"action": "broker_down", "broker": 2}'
check "POST broker_down: 201" '[ "$(status)" = 201 ]'
check "broker 2's listener refuses connections" \
  '! (exec 3<>"/dev/tcp/127.0.0.1/$port2") 2>/dev/null'
http GET /v1/cluster
check "/v1/cluster shows broker 2 down" '[ "$(body "[b[\"up\"] for b in d[\"brokers\"]]")" = "[True, False, True]" ]'
http POST /v1/faults '{"action": "broker_up", "broker": 2}'
check "broker_up: the listener accepts again" '(exec 3<>"/dev/tcp/127.0.0.1/$port2") 2>/dev/null'

# ---- what the proxy refuses ----------------------------------------------------------------------
http POST /v1/faults \
  '{"action": "follower_pause", "topic": "proxy-dups", "partition": 0, "broker": 1}'
check "follower_pause: 400 saying it acts inside a cluster" \
  '[ "$(status)" = 400 ] && grep -q "inside a cluster" "$T/body"'
http POST /v1/faults '{"action": "broker_down", "broker": 0}'
check "an unknown broker: 400 naming the brokers" \
  '[ "$(status)" = 400 ] && grep -q "1, 2, 3" "$T/body"'
http POST /v1/faults 'not json'
check "bad JSON: 400" '[ "$(status)" = 400 ]'
http GET /v1/nothing
check "an unknown endpoint: 404" '[ "$(status)" = 404 ]'
http GET /v1/faults
check "GET /v1/faults lists the faults" '[ "$(status)" = 200 ] && grep -q "drop_response" "$T/body"'
http DELETE /v1/faults
check "DELETE /v1/faults: 200" '[ "$(status)" = 200 ]'

# ---- the CLI: --faults FILE, and an unreachable cluster ------------------------------------------
echo '{"at_ms": 0, "action": "broker_down", "broker": 3}' >"$T/faults.jsonl"
"$minikafka" proxy --bootstrap-server "$MOCK_BOOTSTRAP" --port 0 --admin-port 0 \
  --faults "$T/faults.jsonl" >"$T/p2.out" 2>"$T/p2.err" &
p2=$!
for _ in $(seq 100); do grep -q '^minikafka admin API' "$T/p2.out" && break; sleep 0.1; done
admin2=$(sed -n 's/^minikafka admin API: //p' "$T/p2.out")
sleep 0.3
check "a second proxy with --faults took broker 3 down" \
  'curl -s "$admin2/v1/faults" | grep -q "broker 3 is down"'
kill -TERM "$p2"; wait "$p2"; rc=$?
check "the proxy exits 0 on SIGTERM (got $rc)" '[ "$rc" = 0 ]'
timeout 20 "$minikafka" proxy --bootstrap-server 127.0.0.1:1 --port 0 --admin-port -1 \
  >"$T/p3.out" 2>"$T/p3.err"; rc=$?
check "an unreachable cluster: exit 1 naming it ($(head -c 200 "$T/p3.err"))" \
  '[ "$rc" = 1 ] && grep -q "cannot reach the cluster at 127.0.0.1:1" "$T/p3.err"'
"$minikafka" proxy --port 0 >"$T/p4.out" 2>"$T/p4.err"; rc=$?
check "no --bootstrap-server: exit 2" '[ "$rc" = 2 ] && grep -q "required" "$T/p4.err"'

if [ "$failures" -gt 0 ]; then
  echo "proxy: $failures check(s) failed"
  exit 1
fi
echo "proxy: all checks passed"
