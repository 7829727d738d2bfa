#!/usr/bin/env bash
# produce-perf: `minikafka produce` and `minikafka perf` against a running `minikafka broker`;
# what they wrote is read back with kcat (librdkafka, an independent client) and with
# `minikafka consume`.
#
#   usage: test_produce_perf.sh MINIKAFKA
#
# 1. start a 3-broker `minikafka broker` on a random free port (killed on exit, always)
# 2. produce: keys (parse.key), headers (parse.headers), null.marker, --sync, --trace;
#    read back exactly, in order, from a one-partition topic
# 3. produce errors: an unknown --producer-property (exit 2, names the key), a line without
#    its separator (exit 1, Kafka's message), a topic that cannot exist (every record fails
#    with Kafka's error name, exit 1)
# 4. perf: 20000 records unthrottled print Kafka's summary line, and exactly 20000 records of
#    100 uppercase letters arrive (the first is the one Kafka's tool sends first); 4000
#    records at --throughput 2000 take about 2 s; --print-metrics; usage errors
#
# Every command runs under `timeout`, so nothing here can hang. Prints one line per check;
# exits 1 if any failed, 1 as well without kcat.
set -u

MK=${1:?usage: test_produce_perf.sh MINIKAFKA}
T=$(mktemp -d)
BROKER_PID=
cleanup() {
  stop_broker
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_tools kcat

# ---- 1. the broker ---------------------------------------------------------------------------

start_cluster

produce() { "$MK" produce --bootstrap-server "$BS" "$@"; }
# kcat_read TOPIC FORMAT: every record of TOPIC from the beginning, printed with FORMAT.
kcat_read() { timeout 30 kcat -C -b "$BS" -t "$1" -o beginning -e -q -f "$2"; }

# ---- 2. produce: what a line becomes ---------------------------------------------------------

create_topic keys 1
current_name="produce --property parse.key=true"
printf 'k1\tv1\nk2\tv2\n' > "$T/in"
run "$current_name" "$MK" produce --bootstrap-server "$BS" \
  --topic keys --property parse.key=true < "$T/in"
if expect_rc 0; then
  if [ -s "$T/out" ] || grep -q ERROR "$T/err"; then
    fail "$current: unexpected output: $(cat "$T/out" "$T/err")"
  else
    pass "$current"
  fi
fi

current="kcat reads back the keys and values"
kcat_read keys '%k|%s|%S\n' > "$T/out" 2> "$T/kcat.err"
printf 'k1|v1|2\nk2|v2|2\n' > "$T/expected"
expect_same "$T/expected"

current_name="consume reads back the keys and values"
run "$current_name" "$MK" consume --bootstrap-server "$BS" --topic keys --from-beginning \
  --max-messages 2 --timeout-ms 10000 --property print.key=true < /dev/null
if expect_rc 0; then
  printf 'k1\tv1\nk2\tv2\n' > "$T/expected"
  expect_same "$T/expected"
fi

# Headers come first on the line: h1:v1,h2:v2 <TAB> key <TAB> value. A part equal to
# null.marker is null; a header without a value has an empty one.
create_topic headers 1
current_name="produce --property parse.headers=true, null.marker"
printf 'h1:x,h2:y\tk1\tv1\nh3:\tk2\tNULL\nNULL\tNULL\tv3\nh4:NULL\tk4\t\n' > "$T/in"
run "$current_name" "$MK" produce --bootstrap-server "$BS" --topic headers \
  --property parse.key=true --property parse.headers=true --property null.marker=NULL < "$T/in"
expect_rc 0 && pass "$current"

current="kcat reads back the headers, keys and values (nulls as -1 lengths)"
kcat_read headers '%h|%k|%K|%s|%S\n' > "$T/out" 2> "$T/kcat.err"
printf '%s\n' 'h1=x,h2=y|k1|2|v1|2' 'h3=|k2|2||-1' '||-1|v3|2' 'h4=NULL|k4|2||0' > "$T/expected"
expect_same "$T/expected"

current_name="consume reads back the headers, keys and values"
run "$current_name" "$MK" consume --bootstrap-server "$BS" --topic headers --from-beginning \
  --max-messages 4 --timeout-ms 10000 --property print.key=true \
  --property print.headers=true < /dev/null
if expect_rc 0; then
  printf '%s\n' $'h1:x,h2:y\tk1\tv1' $'h3:\tk2\tnull' $'NO_HEADERS\tnull\tv3' \
    $'h4:null\tk4\t' > "$T/expected"
  expect_same "$T/expected"
fi

current_name="produce with other separators (key.separator, headers.*)"
create_topic seps 1
printf 'a=1;b=2|key:value:with:colons\n' > "$T/in"
run "$current_name" "$MK" produce \
  --bootstrap-server "$BS" --topic seps --property parse.key=true --property parse.headers=true \
  --property key.separator=: --property headers.delimiter='|' --property headers.separator=';' \
  --property headers.key.separator== < "$T/in"
if expect_rc 0; then
  kcat_read seps '%h|%k|%s\n' > "$T/out" 2> "$T/kcat.err"
  printf 'a=1,b=2|key|value:with:colons\n' > "$T/expected"
  expect_same "$T/expected"
fi

current_name="produce --sync, --trace"
create_topic sync 1
printf 'one\ntwo\nthree\n' > "$T/in"
run "$current_name" "$MK" produce --bootstrap-server "$BS" \
  --topic sync --sync --trace "$T/trace.jsonl" < "$T/in"
if expect_rc 0; then
  kcat_read sync '%s\n' > "$T/out" 2> "$T/kcat.err"
  printf 'one\ntwo\nthree\n' > "$T/expected"
  expect_same "$T/expected"
  current="produce --trace writes producer events as JSON lines"
  if python3 - "$T/trace.jsonl" << 'EOF'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert events, "no events"
for e in events:
    assert isinstance(e["ts_us"], int) and e["side"] == "producer" and e["event"], e
names = {e["event"] for e in events}
assert "send" in names, "no send event: %s" % sorted(names)
assert sum(1 for e in events if e["event"] == "complete") == 3, "not 3 complete events"
EOF
  then pass "$current"; else fail "$current: $(head -c 400 "$T/trace.jsonl")"; fi
fi

# ---- 3. produce errors -------------------------------------------------------------------------

current_name="produce: unknown --producer-property is a usage error naming the key"
run "$current_name" "$MK" produce --bootstrap-server "$BS" --topic keys \
  --producer-property lingerr.ms=5 < /dev/null
expect_rc 2 && { grep -q 'lingerr.ms' "$T/err" && pass "$current" ||
  fail "$current: $(cat "$T/err")"; }

current_name="produce: a bad --batch-size value names the setting"
run "$current_name" "$MK" produce --bootstrap-server "$BS" --topic keys --batch-size abc < /dev/null
expect_rc 2 && { grep -q 'batch.size' "$T/err" && pass "$current" ||
  fail "$current: $(cat "$T/err")"; }

current_name="produce: a line without the key separator stops with Kafka's message"
printf 'k5\tv5\nno separator\nk6\tv6\n' > "$T/in"
run "$current_name" "$MK" produce \
  --bootstrap-server "$BS" --topic keys --property parse.key=true < "$T/in"
if expect_rc 1; then
  if grep -q "No key separator found on line number 2: 'no separator'" "$T/err"; then
    pass "$current"
  else
    fail "$current: $(cat "$T/err")"
  fi
  current="produce: the lines before the bad one were sent, none after"
  kcat_read keys '%k|%s\n' > "$T/out" 2> "$T/kcat.err"
  printf 'k1|v1\nk2|v2\nk5|v5\n' > "$T/expected"
  expect_same "$T/expected"
fi

current_name="produce to a topic that cannot exist: every record fails, with its reason"
printf 'r1\nr2\nr3\n' > "$T/in"
run "$current_name" "$MK" produce --bootstrap-server "$BS" \
  --topic 'bad topic!' --max-block-ms 10000 < "$T/in"
if expect_rc 1; then
  n=$(grep -c "Error when sending message to topic bad topic! .*INVALID_TOPIC_EXCEPTION" "$T/err")
  if [ "$n" -eq 3 ] && grep -q '3 of 3 records failed' "$T/err"; then
    pass "$current"
  else
    fail "$current: $n error lines: $(head -c 800 "$T/err")"
  fi
fi

# ---- 4. perf -----------------------------------------------------------------------------------

# Kafka's summary line (ProducerPerformance.Stats.printTotal).
# "%d records sent, %f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency,
#  %d ms 50th, %d ms 95th, %d ms 99th, %d ms 99.9th." and, every 5 s, printWindow's
# "%d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency."
SUMMARY='^[0-9]+ records sent, [0-9]+\.[0-9]{6} records/sec \([0-9]+\.[0-9]{2} MB/sec\), '\
'[0-9]+\.[0-9]{2} ms avg latency, [0-9]+\.[0-9]{2} ms max latency, [0-9]+ ms 50th, '\
'[0-9]+ ms 95th, [0-9]+ ms 99th, [0-9]+ ms 99\.9th\.$'
WINDOW='^[0-9]+ records sent, [0-9]+\.[0-9] records/sec \([0-9]+\.[0-9]{2} MB/sec\), '\
'[0-9]+\.[0-9] ms avg latency, [0-9]+\.[0-9] ms max latency\.$'

create_topic perf 3
current_name="perf 20000 records unthrottled: Kafka's summary line"
run "$current_name" "$MK" perf --topic perf --num-records 20000 --record-size 100 \
  --throughput -1 --producer-props bootstrap.servers="$BS" acks=all linger.ms=5 < /dev/null
if expect_rc 0; then
  last=$(tail -n 1 "$T/out")
  if echo "$last" | grep -Eq "$SUMMARY" && [[ $last == "20000 records sent,"* ]] &&
     ! head -n -1 "$T/out" | grep -Evq "$WINDOW"; then  # any earlier line: a window line
    pass "$current: $last"
  else
    fail "$current: $(cat "$T/out")"
  fi
fi

current="kcat counts exactly 20000 records of 100 uppercase letters"
kcat_read perf '%s\n' > "$T/values" 2> "$T/kcat.err"
n=$(wc -l < "$T/values")
bad=$(grep -cvE '^[A-Z]{100}$' "$T/values")
if [ "$n" -eq 20000 ] && [ "$bad" -eq 0 ]; then pass "$current"; else
  fail "$current: $n records, $bad not 100 letters"
fi
# The first 100 draws of Java's SplittableRandom(0).nextInt(26) + 'A': the payload
# kafka-producer-perf-test.sh sends first.
current="perf's first payload is Kafka's"
first=YQHHNEBSEPDNSEIFGAMSUJXKOLTXSPLGHDIOYZJFNIDSPWHZMKVJAXDBZFCOXYKYRJO
first+=GYKDESSJMOIIOWVKYUAVWJLXSEPPFEILV
grep -qx "$first" "$T/values" && pass "$current" || fail "$current: not found"

current_name="consume counts exactly 20000 records"
run "$current_name" "$MK" consume --bootstrap-server "$BS" --topic perf --from-beginning \
  --timeout-ms 3000 < /dev/null
if expect_rc 0; then
  n=$(wc -l < "$T/out")
  if [ "$n" -eq 20000 ] && grep -qx 'Processed a total of 20000 messages' "$T/err"; then
    pass "$current"
  else
    fail "$current: $n lines, $(tail -1 "$T/err")"
  fi
fi

current_name="perf --throughput 2000 --num-records 4000 takes about 2 s"
create_topic slow 3
start=$(date +%s%N)
run "$current_name" "$MK" perf --topic slow --num-records 4000 --record-size 10 \
  --throughput 2000 --producer-props bootstrap.servers="$BS" < /dev/null
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if expect_rc 0; then
  if [ "$ms" -ge 1500 ] && [ "$ms" -le 4000 ] && tail -n 1 "$T/out" | grep -Eq "$SUMMARY"; then
    pass "$current (${ms} ms)"
  else
    fail "$current: ${ms} ms, $(cat "$T/out")"
  fi
fi

current_name="perf --print-metrics, --payload-file, --bootstrap-server"
printf 'alpha\nbeta\n\ngamma\n' > "$T/payloads"
# (Throttled, so that the run lasts about 100 ms, not 0 ms: Kafka's rates over 0 ms are
# "Infinity", which this tool prints too.)
run "$current_name" "$MK" perf --topic slow --num-records 500 --payload-file "$T/payloads" \
  --throughput 5000 --bootstrap-server "$BS" --print-metrics < /dev/null
if expect_rc 0; then
  if grep -q '^Reading payloads from: .*/payloads$' "$T/out" &&
     grep -qx 'Number of messages read: 4' "$T/out" &&
     grep -Eq "$(echo "$SUMMARY" | sed 's/^\^\[0-9\]+/^500/')" "$T/out" &&
     grep -Eq '^Metric Name +Value$' "$T/out" &&
     grep -Eq '^producer-metrics:record-send-rate:\{client-id=perf-producer-client\} +: '\
'[0-9]+\.[0-9]{3}$' "$T/out"; then
    pass "$current"
  else
    fail "$current: $(head -c 1500 "$T/out")"
  fi
fi

current_name="perf without --throughput is a usage error"
run "$current_name" "$MK" perf --topic perf --num-records 10 --record-size 10 \
  --producer-props bootstrap.servers="$BS" < /dev/null
expect_rc 2 && { grep -q 'argument --throughput is required' "$T/err" && pass "$current" ||
  fail "$current: $(cat "$T/err")"; }

current_name="perf --producer-props k=v=w is Kafka's 'Invalid property'"
run "$current_name" "$MK" perf --topic perf --num-records 10 --record-size 10 --throughput -1 \
  --producer-props bootstrap.servers="$BS" acks=1=2 < /dev/null
expect_rc 2 && { grep -q 'Invalid property: acks=1=2' "$T/err" && pass "$current" ||
  fail "$current: $(cat "$T/err")"; }

finish_checks
