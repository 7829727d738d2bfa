#!/usr/bin/env bash
# scenarios: the fault scripts of labs/INSTRUCTOR.md (labs/scenarios/*.jsonl) work with
# `minikafka broker --faults FILE`, and every command their comments tell an instructor to
# type does what the comment says.
#
#   usage: test_scenarios.sh MINIKAFKA SCENARIO_DIR
#
# 1. every SCENARIO_DIR/*.jsonl: starts with a comment, names itself in its commands
#    (`--faults labs/scenarios/NAME.jsonl`), holds at least one fault line, and
#    `minikafka broker --port 0 --faults FILE` starts with it and prints its ready line (a
#    line the script cannot use stops the broker, naming the line)
# 2. every file's "$ " command lines, run in order by run_scenario.py (its top says how they
#    are read): the broker line starts the broker, each client command must succeed or fail
#    as its "=> `X`" / "!> `X`" says and print X; our producer and kcat, each run after a
#    POST /v1/reset (the dashboard's Reset), so the files check the reset as well. What
#    needs a human (clicks on the dashboard) has its curl equivalent on the same line.
#    The files run side by side, each on its own ports.
#
# Every command runs under a timeout. Prints one line per check; exits 1 if any failed (or
# without kcat, curl or python3).
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

require_tools kcat curl python3

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

# ---- 2. every command of every file's comment ------------------------------------------------

ROOT=$(cd "$DIR/../.." && pwd)
RUNNER="$(dirname "${BASH_SOURCE[0]}")/run_scenario.py"
pids=()
for f in "${files[@]}"; do
  name=$(basename "$f" .jsonl)
  timeout 240 python3 "$RUNNER" "$MK" "$f" "$ROOT" > "$T/run-$name.out" 2>&1 &
  pids+=($!)
done
for i in "${!files[@]}"; do
  name=$(basename "${files[$i]}" .jsonl)
  wait "${pids[$i]}"
  code=$?
  cat "$T/run-$name.out"
  n=$(grep -c '^ok' "$T/run-$name.out")
  if [ "$code" -eq 0 ] && [ "$n" -ge 5 ]; then
    pass "$name: all $n commands of its comment do what it says"
  else
    fail "$name: its commands (exit $code, $n ok)"
  fi
done

[ $failures -eq 0 ] && echo "all scenario checks passed" || echo "$failures check(s) failed"
[ $failures -eq 0 ]
