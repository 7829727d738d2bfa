# tests/integration/lib.sh: what every integration script shares. Source it after `set -u`.
#   pass NAME / fail NAME   one check's verdict; fail counts into $failures
#   require_tools TOOL...   a missing tool fails the test (exit 1), never skips it: run
#                           ./run.sh test, which installs them
failures=0

pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; failures=$((failures + 1)); }

require_tools() {
  local tool
  for tool in "$@"; do
    if ! command -v "$tool" > /dev/null; then
      echo "FAIL $tool is not installed (Debian package $tool): run ./run.sh test, which installs it" >&2
      exit 1
    fi
  done
}

# Scripts that use the helpers below set MK (the minikafka executable) and T (a scratch
# directory) first.

#   run NAME CMD...   CMD under a timeout (RUN_TIMEOUT s, default 60) with the caller's
#                     stdin; its stdout, stderr and status in $T/out, $T/err, $rc; a
#                     sanitizer report in its stderr fails NAME
#   expect_rc N       the last run exited with N
#   expect_same FILE  the last run printed exactly FILE
run() {
  current=$1; shift
  timeout "${RUN_TIMEOUT:-60}" "$@" > "$T/out" 2> "$T/err"
  rc=$?
  if grep -Eq 'runtime error|Sanitizer' "$T/err"; then fail "$current: sanitizer report"; fi
}
expect_rc() {
  if [ "$rc" -eq "$1" ]; then return 0; fi
  fail "$current: exit $rc (expected $1), stderr: $(head -c 600 "$T/err")"
  return 1
}
expect_same() {
  if cmp -s "$T/out" "$1"; then pass "$current"; else
    fail "$current: output differs from expected"
    diff "$1" "$T/out" | head -20 | sed 's/^/     /'
  fi
}

#   start_cluster     `MK broker --brokers 3` on a random high port with its neighbours
#                     free (a few tries, in case another test took one); sets BROKER_PID,
#                     PORT and BS, or exits 1
#   stop_broker       SIGTERM, up to 2 s, then SIGKILL (for the script's EXIT trap)
#   create_topic NAME PARTITIONS   `MK topics --create` on $BS, replication factor 3; a
#                     refusal fails the check
#   finish_checks     the broker is still up and its stderr has no sanitizer report; then
#                     the verdict: exit 1 if any check failed
start_cluster() {
  local attempt
  for attempt in 1 2 3 4 5; do
    PORT=$((20000 + RANDOM % 30000))
    "$MK" broker --port "$PORT" --brokers 3 --admin-port 0 --schema-registry-port 0 \
      > "$T/broker.out" 2> "$T/broker.err" &
    BROKER_PID=$!
    for _ in $(seq 1 100); do  # up to 10 s for the ready line
      grep -q 'ready' "$T/broker.out" 2> /dev/null && break
      kill -0 "$BROKER_PID" 2> /dev/null || break
      sleep 0.1
    done
    grep -q 'ready' "$T/broker.out" && break
    kill "$BROKER_PID" 2> /dev/null; wait "$BROKER_PID" 2> /dev/null; BROKER_PID=
  done
  if [ -z "$BROKER_PID" ]; then
    echo "FAIL broker did not start: $(cat "$T/broker.err")"
    exit 1
  fi
  BS="127.0.0.1:$PORT"
  pass "broker ready on $BS"
}
stop_broker() {
  [ -n "${BROKER_PID:-}" ] || return 0
  kill "$BROKER_PID" 2> /dev/null
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$BROKER_PID" 2> /dev/null || break; sleep 0.2; done
  kill -9 "$BROKER_PID" 2> /dev/null
  wait "$BROKER_PID" 2> /dev/null
  BROKER_PID=
}
create_topic() {
  if ! timeout 30 "$MK" topics --bootstrap-server "$BS" --create --topic "$1" --partitions "$2" \
       --replication-factor 3 > /dev/null 2> "$T/topics.err"; then
    fail "topics --create $1: $(cat "$T/topics.err")"
  fi
}
finish_checks() {
  if ! kill -0 "$BROKER_PID" 2> /dev/null; then
    fail "the broker died: $(tail -5 "$T/broker.err")"
  elif grep -Eq 'runtime error|Sanitizer' "$T/broker.err"; then
    fail "broker sanitizer report: $(grep -E -m3 'runtime error|Sanitizer' "$T/broker.err")"
  fi
  if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
  fi
  echo "all checks passed"
}
