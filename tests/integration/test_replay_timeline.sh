#!/usr/bin/env bash
# replay-timeline: a run shown again without its broker, and in a terminal (issue 15).
#
#   usage: test_replay_timeline.sh MINIKAFKA
#
# 1. a broker with --trace: kcat produces through a drop_response (the broker's log says the
#    fault fired), broker 1 goes down; GET /v1/trace is the file so far
# 2. minikafka timeline FILE draws the run (the append, broker 1 DOWN, the lost response);
#    `timeline -` draws a saved event stream from a pipe; bad arguments exit 2
# 3. minikafka timeline --follow URL draws events live, says so when the broker goes away and
#    picks up the new one on the same admin port; Ctrl-C ends it with its counts, exit 0; a
#    URL that is not an event stream exits 1 saying so
# 4. minikafka replay FILE: prints its URL; / leads to /?replay=NAME; the page's files and
#    GET /v1/trace are served; nothing else (no /v1/cluster); Ctrl-C exits 0; a missing file
#    exits 1
# 5. minikafka lab duplicates --admin-port P: the lab's broker serves the dashboard and the
#    run at /v1/trace after the lab, until Enter; then the port closes and the temporary
#    trace file is gone
#
# Every command runs under a timeout. Prints one line per check; exits 1 if any failed.
set -u

MK=${1:?usage: test_replay_timeline.sh MINIKAFKA}
T=$(mktemp -d)
BROKER_PID=
PIDS=()
cleanup() {
  stop_broker
  for p in "${PIDS[@]}"; do kill -9 "$p" 2> /dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_tools kcat curl

# free_port: a port nothing listens on now (and its +1, +2 for brokers)
free_port() {
  python3 -c 'import socket,random
for _ in range(50):
    p = random.randrange(20000, 40000)
    try:
        for q in (p, p + 1, p + 2, p + 552):
            s = socket.socket(); s.bind(("127.0.0.1", q)); s.close()
        print(p); break
    except OSError: pass'
}

# wait_for FILE PATTERN: up to 10 s for a line matching PATTERN in FILE
wait_for() {
  for _ in $(seq 1 100); do
    grep -q "$2" "$1" 2> /dev/null && return 0
    sleep 0.1
  done
  return 1
}

start_traced_broker() {  # PORT: on PORT..PORT+2, admin PORT+552, trace $T/run.trace
  "$MK" broker --port "$1" --admin-port $(($1 + 552)) --schema-registry-port 0 --trace "$T/run.trace" \
    > "$T/broker.out" 2> "$T/broker.err" &
  BROKER_PID=$!
  wait_for "$T/broker.out" '^minikafka admin API' || fail "the broker did not start: $(cat "$T/broker.err")"
}

# ---- 1. a run to show --------------------------------------------------------------------

PORT=$(free_port)
BS=127.0.0.1:$PORT,127.0.0.1:$((PORT + 1)),127.0.0.1:$((PORT + 2))
ADMIN=http://127.0.0.1:$((PORT + 552))
start_traced_broker "$PORT"
"$MK" timeline --follow "$ADMIN" > "$T/follow.out" 2> "$T/follow.err" &
FOLLOW_PID=$!
PIDS+=("$FOLLOW_PID")
wait_for "$T/follow.out" 'live: ' || fail "timeline --follow printed no header"
sleep 0.5
curl -s -X POST "$ADMIN/v1/topics" -d '{"name": "shown", "partitions": 1}' > /dev/null
curl -s -X POST "$ADMIN/v1/faults" -d '{"action": "drop_response", "api": "Produce", "count": 1, "mode": "close"}' > /dev/null
echo once | timeout 30 kcat -P -b "$BS" -t shown -p 0 -X client.id=kcat-shown > /dev/null 2>&1 ||
  fail "kcat could not produce"
curl -s -X POST "$ADMIN/v1/faults" -d '{"action": "broker_down", "broker": 1}' > /dev/null
sleep 0.5
grep -q 'fault 1 fired: drop_response on broker 0.s Produce request' "$T/broker.err" &&
  pass "the broker's log says when a drop_response fires" ||
  fail "no log line for the fired drop_response: $(grep fault "$T/broker.err" | head -3)"
status=$(curl -s -o "$T/served.trace" -w '%{http_code}' "$ADMIN/v1/trace")
[ "$status" = 200 ] && cmp -s <(head -c "$(stat -c %s "$T/served.trace")" "$T/run.trace") "$T/served.trace" &&
  pass "GET /v1/trace is the broker's --trace file" ||
  fail "GET /v1/trace: $status, $(stat -c %s "$T/served.trace") of $(stat -c %s "$T/run.trace") bytes"

# ---- 2. timeline FILE and - ------------------------------------------------------------------

run "timeline FILE" "$MK" timeline --full "$T/run.trace"
if expect_rc 0; then
  grep -q 'append shown-0: offsets 0\.\.0' "$T/out" && grep -q 'broker 1 DOWN' "$T/out" &&
    grep -q 'Produce response LOST' "$T/out" && grep -q 'shown-0: leader 0 (epoch 0)' "$T/out" &&
    pass "timeline FILE draws the run: the partition made, the append, the lost response, broker 1 down" ||
    fail "timeline FILE: $(head -30 "$T/out")"
fi
sed 's/^/data: /; s/$/\n/' "$T/run.trace" > "$T/saved.sse"
run "timeline - (a saved event stream on stdin)" bash -c "cat '$T/saved.sse' | '$MK' timeline -"
if expect_rc 0; then
  grep -q 'broker 1 DOWN' "$T/out" && grep -Eq '[0-9]+ events drawn' "$T/out" &&
    pass "timeline - draws a saved event stream from a pipe, then its counts" ||
    fail "timeline -: $(tail -5 "$T/out")"
fi
run "timeline with no input" "$MK" timeline
expect_rc 2 && grep -q 'give a FILE' "$T/err" && pass "timeline without a FILE: usage, exit 2" ||
  fail "timeline without a FILE: $(cat "$T/err")"
run "timeline --follow with a bad URL" "$MK" timeline --follow ftp://x
expect_rc 2 && grep -q 'takes http://HOST:PORT' "$T/err" && pass "timeline --follow ftp://x: exit 2" ||
  fail "timeline --follow ftp://x: $(cat "$T/err")"
run "timeline --follow a URL that is no event stream" "$MK" timeline --follow "$ADMIN/v1/cluster"
expect_rc 1 && grep -q 'not an event stream' "$T/err" &&
  pass "timeline --follow .../v1/cluster: exit 1, not an event stream" || fail "--follow /v1/cluster: $(cat "$T/err")"

# ---- 3. timeline --follow, live, across a broker restart ----------------------------------

grep -q 'append shown-0: offsets 0\.\.0' "$T/follow.out" && grep -q 'broker 1 DOWN' "$T/follow.out" &&
  grep -q 'kcat-shown' "$T/follow.out" &&
  pass "timeline --follow drew the events as they happened" ||
  fail "timeline --follow: $(tail -10 "$T/follow.out")"
stop_broker
wait_for "$T/follow.err" 'ended (the broker stopped?); reconnecting' &&
  pass "timeline --follow says so when the broker goes away" || fail "--follow: $(cat "$T/follow.err")"
start_traced_broker "$PORT"
sleep 1.5
curl -s -X POST "$ADMIN/v1/topics" -d '{"name": "after-restart", "partitions": 1}' > /dev/null
wait_for "$T/follow.out" 'after-restart-0: leader' &&
  pass "... and follows the broker started again on the same admin port" ||
  fail "--follow after a restart: $(tail -5 "$T/follow.out") $(tail -3 "$T/follow.err")"
kill -INT "$FOLLOW_PID"
for _ in $(seq 1 50); do kill -0 "$FOLLOW_PID" 2> /dev/null || break; sleep 0.1; done
wait "$FOLLOW_PID"
code=$?
[ "$code" = 0 ] && grep -Eq '[0-9]+ events drawn' "$T/follow.out" &&
  pass "Ctrl-C ends timeline --follow with its counts, exit 0" || fail "--follow after Ctrl-C: exit $code"
stop_broker

# ---- 4. minikafka replay FILE --------------------------------------------------------------

cp "$T/run.trace" "$T/class run.trace"
"$MK" replay "$T/class run.trace" > "$T/replay.out" 2> "$T/replay.err" &
REPLAY_PID=$!
PIDS+=("$REPLAY_PID")
if wait_for "$T/replay.out" '^minikafka replay: http'; then
  URL=$(sed -n 's/^minikafka replay: //p' "$T/replay.out")
  BASE=${URL%%/\?*}
  [[ "$URL" =~ ^http://127\.0\.0\.1:[0-9]+/\?replay=class%20run\.trace$ ]] &&
    pass "replay prints its URL, the file's name encoded ($URL)" || fail "replay's URL: $URL"
  loc=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$BASE/")
  [ "$loc" = "302 $BASE/?replay=class%20run.trace" ] && pass "GET / leads to the replay page" ||
    fail "GET /: $loc"
  curl -s -o /dev/null -w '%{http_code}' "$URL" | grep -q 200 &&
    curl -s "$BASE/dashboard/app.js" | grep -q 'REPLAY_ONLY' &&
    pass "the page and its files are served" || fail "the page's files"
  curl -s "$BASE/v1/trace" | cmp -s - "$T/run.trace" && pass "GET /v1/trace is the file" ||
    fail "GET /v1/trace differs from the file"
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/cluster")" = 404 ] &&
    pass "nothing else: /v1/cluster is 404" || fail "/v1/cluster answered"
  kill -INT "$REPLAY_PID"
  wait "$REPLAY_PID"
  code=$?
  [ "$code" = 0 ] && pass "replay exits 0 on Ctrl-C" || fail "replay exit $code"
else
  fail "replay printed no URL: $(cat "$T/replay.out" "$T/replay.err")"
fi
run "replay of a missing file" "$MK" replay "$T/nope.trace"
expect_rc 1 && grep -q 'nope.trace: No such file' "$T/err" && pass "replay of a missing file: exit 1, says so" ||
  fail "replay of a missing file: $(cat "$T/err")"

# ---- 5. lab --admin-port -------------------------------------------------------------------

LAB_PORT=$(free_port)
mkfifo "$T/enter"
mkdir "$T/tmp"
TMPDIR="$T/tmp" timeout 120 "$MK" lab duplicates --admin-port "$LAB_PORT" < "$T/enter" > "$T/lab.out" 2> "$T/lab.err" &
LAB_PID=$!
PIDS+=("$LAB_PID")
exec 7> "$T/enter"  # hold the fifo open: the lab waits for Enter
if wait_for "$T/lab.out" 'Press Enter'; then
  grep -q "dashboard: http://127.0.0.1:$LAB_PORT/" "$T/lab.out" && pass "lab --admin-port prints the dashboard's URL" ||
    fail "lab --admin-port: no URL: $(head -5 "$T/lab.out")"
  LAB=http://127.0.0.1:$LAB_PORT
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$LAB/")" = 200 ] && curl -s "$LAB/v1/cluster" | grep -q '"name":"dups' &&
    pass "after the lab its broker still serves the dashboard and its state" || fail "the lab's admin API after the lab"
  curl -s "$LAB/v1/trace" > "$T/lab.trace"
  grep -q '"event":"duplicate"' "$T/lab.trace" && grep -q '"event":"broker_state"' "$T/lab.trace" &&
    pass "... and its run at /v1/trace, to replay (broker_state first, the duplicate)" ||
    fail "the lab's /v1/trace: $(head -c 300 "$T/lab.trace")"
  ls "$T/tmp" | grep -q 'minikafka-lab-duplicates-' && pass "the run goes to a temporary file" ||
    fail "no temporary trace file in TMPDIR"
  echo >&7
  exec 7>&-
  wait "$LAB_PID"
  code=$?
  [ "$code" = 0 ] && pass "Enter ends it: exit 0" || fail "lab after Enter: exit $code $(tail -3 "$T/lab.err")"
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$LAB/")" = 000 ] && pass "... the port is closed" ||
    fail "the lab's port still answers"
  [ -z "$(ls "$T/tmp")" ] && pass "... and the temporary trace file is gone" || fail "left in TMPDIR: $(ls "$T/tmp")"
else
  exec 7>&-
  fail "lab --admin-port did not wait: $(tail -5 "$T/lab.out") $(tail -5 "$T/lab.err")"
fi

[ $failures -eq 0 ] && echo "all replay and timeline checks passed" || echo "$failures check(s) failed"
[ $failures -eq 0 ]
