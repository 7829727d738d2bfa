#!/usr/bin/env bash
# log-memory: log.memory.max.bytes holds a broker to its budget under a producer that never
# stops (issue 14: `perf --num-records 20000000` grew the default broker past 2 GB). Here,
# scaled to a test: a 48 MB budget, 400 MB produced by `minikafka perf`.
#
#   test_log_memory.sh MINIKAFKA
#
# Checks: perf succeeds; the broker's peak RSS (VmHWM) stays under the budget plus 80 MB
# (the process itself, request buffers, malloc's slack); the topic's log start moved on
# (old data deleted, so a consumer from the beginning starts there: ListOffsets earliest
# > 0); the broker logged the deletions. Loopback only; bounded by timeouts.
set -u
MK=$1
T=$(mktemp -d /tmp/mk-log-memory.XXXXXX)
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
require_tools kcat
BROKER_PID=""
trap 'stop_broker; rm -rf "$T"' EXIT
stop_broker() {
  if [ -n "$BROKER_PID" ] && kill -0 "$BROKER_PID" 2> /dev/null; then
    kill "$BROKER_PID"
    for _ in $(seq 20); do kill -0 "$BROKER_PID" 2> /dev/null || break; sleep 0.1; done
    kill -9 "$BROKER_PID" 2> /dev/null
  fi
}

BUDGET=$((48 * 1024 * 1024))
# A sanitized build keeps freed blocks in a quarantine (256 MB by default): keep it small, so
# the RSS measured is the broker's.
ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=8" \
  "$MK" broker --port 0 --admin-port -1 -o "log.memory.max.bytes=$BUDGET" \
  -o num.partitions=3 > "$T/broker.out" 2> "$T/broker.err" &
BROKER_PID=$!
for _ in $(seq 100); do grep -q ready "$T/broker.out" 2> /dev/null && break; sleep 0.1; done
BS=$(sed -n 's/.*bootstrap.servers=//p' "$T/broker.out")
[ -n "$BS" ] || { echo "FAIL the broker did not start: $(cat "$T/broker.err")"; exit 1; }

run "perf: 4,000,000 records of 100 bytes" timeout 200 "$MK" perf --topic mem \
  --num-records 4000000 --record-size 100 --throughput -1 \
  --producer-props "bootstrap.servers=$BS" acks=1
expect_rc 0 && pass "$current"
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$BROKER_PID/status")
limit=$(( (BUDGET + 80 * 1024 * 1024) / 1024 ))
echo "     broker peak RSS $((hwm / 1024)) MB; budget $((BUDGET >> 20)) MB; allowed $((limit / 1024)) MB"
[ "$hwm" -le "$limit" ] && pass "peak RSS within the budget + 80 MB" ||
  fail "peak RSS $((hwm / 1024)) MB over $((limit / 1024)) MB"

earliest=$(kcat -b "$BS" -Q -t mem:0:-2 2> /dev/null | awk '{print $NF}')
[ -n "$earliest" ] && [ "$earliest" -gt 0 ] && pass "the oldest records were deleted (partition 0 starts at $earliest)" ||
  fail "partition 0 still starts at '${earliest}'"
grep -q "log.memory.max.bytes" "$T/broker.err" && pass "the broker logged the deletions" ||
  fail "no log line about log.memory.max.bytes: $(tail -3 "$T/broker.err")"
if grep -Eq 'runtime error|Sanitizer' "$T/broker.err"; then fail "sanitizer report in the broker's log"; fi

[ "$failures" -eq 0 ] && echo "log-memory: passed" || echo "log-memory: $failures failed"
[ "$failures" -eq 0 ]
