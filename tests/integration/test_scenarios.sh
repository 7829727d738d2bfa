#!/usr/bin/env bash
# scenarios: the fault scripts of labs/INSTRUCTOR.md (labs/scenarios/*.jsonl) work with
# `minikafka broker --faults FILE`, and one of them fires under a real client.
#
#   usage: test_scenarios.sh MINIKAFKA SCENARIO_DIR
#
# 1. every SCENARIO_DIR/*.jsonl: starts with a comment, names itself in its commands
#    (`--faults labs/scenarios/NAME.jsonl`), holds at least one fault line, and
#    `minikafka broker --port 0 --faults FILE` starts with it and prints its ready line (a
#    line the script cannot use stops the broker, naming the line)
# 2. duplicates.jsonl with kcat (librdkafka, idempotence off by default): one record
#    produced; GET /v1/faults shows the drop_response fault fired once, and the partition
#    holds the record twice (the retry of a batch whose answer was lost)
#
# Every command runs under a timeout. Prints one line per check; exits 1 if any failed (or
# without kcat or curl).
set -u

MK=${1:?usage: test_scenarios.sh MINIKAFKA SCENARIO_DIR}
DIR=${2:?usage: test_scenarios.sh MINIKAFKA SCENARIO_DIR}
T=$(mktemp -d)
BROKER_PID=
cleanup() {
  stop_broker
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_tools kcat curl

# start_broker NAME ARGS...: start a broker in the background, wait for its ready line (or
# its exit); sets BROKER_PID, BS (bootstrap.servers) and URL (the admin API).
start_broker() {
  local name=$1; shift
  "$MK" broker --port 0 "$@" > "$T/$name.out" 2> "$T/$name.err" &
  BROKER_PID=$!
  for _ in $(seq 1 100); do  # up to 10 s
    grep -q '^minikafka admin API' "$T/$name.out" 2> /dev/null && break
    kill -0 "$BROKER_PID" 2> /dev/null || break
    sleep 0.1
  done
  BS=$(sed -n 's/^minikafka broker ready: .*bootstrap.servers=//p' "$T/$name.out")
  URL=$(sed -n 's/^minikafka admin API: //p' "$T/$name.out")
}

# ---- 1. every scenario file loads -----------------------------------------------------------

files=("$DIR"/*.jsonl)
if [ ! -e "${files[0]}" ]; then
  echo "FAIL no scenario files in $DIR"
  exit 1
fi
[ ${#files[@]} -ge 5 ] && pass "${#files[@]} scenario files" ||
  fail "only ${#files[@]} scenario files in $DIR"

for f in "${files[@]}"; do
  name=$(basename "$f" .jsonl)
  head -1 "$f" | grep -q '^#' && pass "$name: starts with a comment" ||
    fail "$name: the first line is not a comment"
  grep -q -- "--faults labs/scenarios/$name.jsonl" "$f" && pass "$name: its commands name it" ||
    fail "$name: no \"--faults labs/scenarios/$name.jsonl\" in its comment"
  faults=$(grep -c '^{' "$f")
  [ "$faults" -ge 1 ] && pass "$name: $faults fault line(s)" || fail "$name: no fault line"
  start_broker "$name" --faults "$f"
  if [ -n "$BS" ] && [ -n "$URL" ] && kill -0 "$BROKER_PID" 2> /dev/null; then
    pass "$name: the broker accepts it and is ready"
  else
    fail "$name: the broker did not start: $(cat "$T/$name.out" "$T/$name.err" | head -5)"
  fi
  stop_broker
done

# ---- 2. duplicates.jsonl fires under kcat ---------------------------------------------------

start_broker dups --faults "$DIR/duplicates.jsonl"
if [ -z "$BS" ] || [ -z "$URL" ]; then
  fail "duplicates: the broker did not start: $(cat "$T/dups.out" "$T/dups.err" | head -5)"
else
  echo once | timeout 30 kcat -P -b "$BS" -t dups-demo -p 0 > "$T/kcat.out" 2>&1 ||
    fail "duplicates: kcat -P failed: $(tail -3 "$T/kcat.out")"
  curl -s --max-time 10 "$URL/v1/faults" > "$T/faults.json"
  if python3 -c '
import json, sys
faults = json.load(open(sys.argv[1]))
drops = [f for f in faults if f["action"] == "drop_response"]
assert len(drops) == 1 and drops[0]["fired"] > 0, faults
' "$T/faults.json" 2> "$T/py.err"; then
    pass "duplicates: GET /v1/faults shows the drop_response fault fired"
  else
    fail "duplicates: the fault did not fire: $(cat "$T/faults.json") $(tail -1 "$T/py.err")"
  fi
  copies=$(timeout 30 kcat -C -b "$BS" -t dups-demo -p 0 -e -q 2> /dev/null | grep -c '^once$')
  [ "$copies" = 2 ] && pass "duplicates: the retried record is in the log twice" ||
    fail "duplicates: $copies copies of the record (expected 2)"
fi
stop_broker

[ $failures -eq 0 ] && echo "all scenario checks passed" || echo "$failures check(s) failed"
[ $failures -eq 0 ]
