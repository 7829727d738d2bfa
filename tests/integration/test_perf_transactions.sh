#!/usr/bin/env bash
# perf-transactions: `minikafka perf --transactional-id ID --transaction-duration-ms MS` against
# a running `minikafka broker`, read back by kcat (librdkafka) with isolation.level
# read_committed and read_uncommitted.
#
#   usage: test_perf_transactions.sh MINIKAFKA
#
# 1. a 3-broker `minikafka broker` on a random free port (killed on exit, always)
# 2. perf in transactions committed every 200 ms: Kafka's summary line, several EndTxn(commit)
#    in its trace, and a read_committed kcat reads every record exactly once
# 3. a zombie: perf killed (SIGKILL) in the middle of a long transaction leaves records in the
#    log that no marker closes; a second perf with the same --transactional-id fences it (its
#    initTransactions makes the coordinator abort the zombie's transaction), commits its own,
#    and read_committed sees only the second run's records while read_uncommitted sees both
# 4. usage: --transaction-duration-ms 0 is refused as Kafka's tool refuses it
#
# Every command runs under `timeout`. One line per check; exits 1 if any failed.
set -u

MK=${1:?usage: test_perf_transactions.sh MINIKAFKA}
T=$(mktemp -d)
BROKER_PID=
ZOMBIE_PID=
cleanup() {
  [ -n "$ZOMBIE_PID" ] && kill -9 "$ZOMBIE_PID" 2> /dev/null
  stop_broker
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_tools kcat

start_cluster

# kcat_count TOPIC ISOLATION: how many records a consumer with that isolation.level reads from
# the beginning to the end (for read_committed, the end is the last stable offset).
kcat_count() {
  timeout 30 kcat -C -b "$BS" -t "$1" -o beginning -e -q -X isolation.level="$2" -f '%s\n' \
    2> "$T/kcat.err" | wc -l
}

SUMMARY='^[0-9]+ records sent, [0-9]+\.[0-9]{6} records/sec \([0-9]+\.[0-9]{2} MB/sec\), '\
'[0-9]+\.[0-9]{2} ms avg latency, [0-9]+\.[0-9]{2} ms max latency, [0-9]+ ms 50th, '\
'[0-9]+ ms 95th, [0-9]+ ms 99th, [0-9]+ ms 99\.9th\.$'

# ---- 2. committed every 200 ms ------------------------------------------------------------------

create_topic txperf 3
current_name="perf --transactional-id --transaction-duration-ms 200: Kafka's summary line"
run "$current_name" "$MK" perf --topic txperf --num-records 6000 --record-size 100 \
  --throughput 6000 --bootstrap-server "$BS" --transactional-id perf-txn-1 \
  --transaction-duration-ms 200 --trace "$T/trace.jsonl" < /dev/null
if expect_rc 0; then
  last=$(tail -n 1 "$T/out")
  if echo "$last" | grep -Eq "$SUMMARY" && [[ $last == "6000 records sent,"* ]]; then
    pass "$current: $last"
  else
    fail "$current: $(cat "$T/out" "$T/err")"
  fi
fi

current="one EndTxn(commit) per 200 ms, each answered without error"
commits=$(grep '"event":"txn_request"' "$T/trace.jsonl" | grep -c '"result":"commit"')
answered=$(grep '"event":"txn_response"' "$T/trace.jsonl" | grep '"api":"EndTxn"' |
           grep -vc '"error"')
aborts=$(grep '"event":"txn_request"' "$T/trace.jsonl" | grep -c '"result":"abort"')
if [ "$commits" -ge 3 ] && [ "$commits" -le 12 ] && [ "$answered" -eq "$commits" ] &&
   [ "$aborts" -eq 0 ]; then
  pass "$current ($commits commits)"
else
  fail "$current: $commits commits, $answered answered, $aborts aborts"
fi

current="every transaction went IN_TRANSACTION -> COMMITTING_TRANSACTION -> READY"
begins=$(grep -c '"from":"READY","to":"IN_TRANSACTION"' "$T/trace.jsonl")
ends=$(grep -c '"from":"COMMITTING_TRANSACTION","to":"READY"' "$T/trace.jsonl")
if [ "$begins" -eq "$commits" ] && [ "$ends" -eq "$commits" ] &&
   ! grep -q '"to":"ABORTABLE_ERROR"\|"to":"FATAL_ERROR"' "$T/trace.jsonl"; then
  pass "$current"
else
  fail "$current: $begins begins, $ends ends"
fi

current="kcat read_committed reads exactly the 6000 committed records"
n=$(kcat_count txperf read_committed)
[ "$n" -eq 6000 ] && pass "$current" || fail "$current: $n records ($(head -c 300 "$T/kcat.err"))"

# ---- 3. a zombie, fenced ------------------------------------------------------------------------

create_topic zombie 1
current="perf killed inside a transaction leaves its records uncommitted"
# One long transaction (60 s), throttled so that it is still open when killed.
# (Not under `timeout`: SIGKILL must reach perf itself; the cleanup kills it in any case.)
"$MK" perf --topic zombie --num-records 100000 --record-size 20 --throughput 500 \
  --bootstrap-server "$BS" --transactional-id perf-zombie --transaction-duration-ms 60000 \
  < /dev/null > "$T/zombie.out" 2> "$T/zombie.err" &
ZOMBIE_PID=$!
# (A reader of a topic still being written to never reaches its end: count after the kill.)
sleep 2
kill -9 "$ZOMBIE_PID" 2> /dev/null
wait "$ZOMBIE_PID" 2> /dev/null
ZOMBIE_PID=
zombie_written=$(kcat_count zombie read_uncommitted)
zombie_visible=$(kcat_count zombie read_committed)
if [ "$zombie_written" -ge 200 ] && [ "$zombie_visible" -eq 0 ]; then
  pass "$current ($zombie_written written, none visible to read_committed)"
else
  fail "$current: $zombie_written written, $zombie_visible visible to read_committed"
fi

current_name="a second perf with the same transactional.id fences the zombie and commits"
# (Throttled to last about 100 ms: over 0 ms Kafka's rates are "Infinity", as here.)
run "$current_name" "$MK" perf --topic zombie --num-records 300 --record-size 20 \
  --throughput 3000 --bootstrap-server "$BS" --transactional-id perf-zombie < /dev/null
if expect_rc 0; then
  tail -n 1 "$T/out" | grep -Eq "$SUMMARY" && pass "$current" || fail "$current: $(cat "$T/out")"
fi

current="read_committed sees the 300 new records; read_uncommitted sees the zombie's too"
committed=$(kcat_count zombie read_committed)
uncommitted=$(kcat_count zombie read_uncommitted)
if [ "$committed" -eq 300 ] && [ "$uncommitted" -eq $((zombie_written + 300)) ]; then
  pass "$current ($committed and $uncommitted)"
else
  fail "$current: read_committed $committed, read_uncommitted $uncommitted" \
       "(zombie wrote $zombie_written)"
fi

# ---- 4. usage ------------------------------------------------------------------------------------

current_name="perf --transaction-duration-ms 0 is a usage error"
run "$current_name" "$MK" perf --topic zombie --num-records 10 --record-size 10 --throughput -1 \
  --bootstrap-server "$BS" --transaction-duration-ms 0 < /dev/null
expect_rc 2 && { grep -q -- '--transaction-duration-ms should be greater than zero' "$T/err" &&
  pass "$current" || fail "$current: $(cat "$T/err")"; }

finish_checks
