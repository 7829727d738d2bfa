#!/usr/bin/env bash
# topics-consume: `minikafka topics` and `minikafka consume` against a running
# `minikafka broker`, with kcat (librdkafka) as the independent producer.
#
#   usage: test_topics_consume.sh MINIKAFKA
#
# 1. start a 3-broker `minikafka broker` on a random free port (killed on exit, always)
# 2. topics --create, then --describe: leaders, replicas, ISR, configs as kafka-topics.sh
#    prints them; --create errors (exists, bad config, replication factor > brokers)
# 3. kcat -P writes records with keys, headers and a null value to chosen partitions,
#    and keyed records to partitions of librdkafka's choosing
# 4. consume --from-beginning prints them back; compared exactly, per partition, with
#    offsets, keys, headers; then --partition/--offset, --max-messages, --timeout-ms
# 5. topics --delete, then --list no longer shows the topic
#
# Every command runs under `timeout`, so nothing here can hang. Prints one line per
# check; exits 1 if any failed, 1 as well without kcat.
set -u

MK=${1:?usage: test_topics_consume.sh MINIKAFKA}
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
RUN_TIMEOUT=30
exec < /dev/null  # no command here reads stdin

# ---- 1. the broker ---------------------------------------------------------------------------

start_cluster
topics() { run "$current_name" "$MK" topics --bootstrap-server "$BS" "$@"; }

# ---- 2. create and describe --------------------------------------------------------------------

current_name="topics --create"
topics --create --topic tc --partitions 3 --replication-factor 3 --config retention.ms=3600000
expect_rc 0 && { grep -qx 'Created topic tc.' "$T/out" && pass "$current" || fail "$current: $(cat "$T/out")"; }

current_name="topics --create existing topic"
topics --create --topic tc --partitions 3
expect_rc 1 && { grep -q "Topic 'tc' already exists" "$T/err" && pass "$current" || fail "$current: $(cat "$T/err")"; }

current_name="topics --create --if-not-exists"
topics --create --topic tc --if-not-exists
expect_rc 0 && pass "$current"

current_name="topics --create unknown config"
topics --create --topic tc-bad --config cleanup.policy=compact
expect_rc 1 && { grep -q 'cleanup.policy.*INVALID_CONFIG' "$T/err" && pass "$current" || fail "$current: $(cat "$T/err")"; }

current_name="topics --create replication factor 4 of 3 brokers"
topics --create --topic tc-bad --replication-factor 4
expect_rc 1 && { grep -q 'INVALID_REPLICATION_FACTOR' "$T/err" && pass "$current" || fail "$current: $(cat "$T/err")"; }

current_name="topics --describe"
topics --describe --topic tc
if expect_rc 0; then
  # Topic line, then one line per partition: leader = first replica, 3 distinct brokers
  # 0-2, ISR = all replicas (nothing has failed).
  if python3 - "$T/out" << 'EOF'
import re, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == "", "output must end with a newline"
lines = lines[:-1]
head = re.fullmatch(r"Topic: tc\tTopicId: [A-Za-z0-9_-]{22}\tPartitionCount: 3\t"
                    r"ReplicationFactor: 3\tConfigs: retention.ms=3600000", lines[0])
assert head, "topic line: %r" % lines[0]
assert len(lines) == 4, "expected 3 partition lines, got %d" % (len(lines) - 1)
leaders = set()
for p, line in enumerate(lines[1:]):
    m = re.fullmatch(r"\tTopic: tc\tPartition: (\d+)\tLeader: (\d+)\tReplicas: ([\d,]+)\tIsr: ([\d,]+)", line)
    assert m, "partition line: %r" % line
    replicas = [int(x) for x in m.group(3).split(",")]
    isr = [int(x) for x in m.group(4).split(",")]
    assert int(m.group(1)) == p, line
    assert sorted(replicas) == [0, 1, 2], line
    assert int(m.group(2)) == replicas[0], "leader is the preferred replica: " + line
    assert sorted(isr) == [0, 1, 2], line
    leaders.add(replicas[0])
assert leaders == {0, 1, 2}, "leaders spread over the brokers: %s" % leaders
EOF
  then pass "$current"; else fail "$current: $(cat "$T/out")"; fi
fi

current_name="topics --list"
topics --list
expect_rc 0 && { grep -qx tc "$T/out" && pass "$current" || fail "$current: $(cat "$T/out")"; }

# ---- 3. produce with kcat --------------------------------------------------------------------

# kcat_produce ARGS...: kcat -P with stdin; fails the named check if kcat fails.
kcat_produce() {
  if ! timeout 30 kcat -P -b "$BS" -t tc -K: "$@" 2> "$T/kcat.err"; then
    fail "kcat -P $*: $(cat "$T/kcat.err")"
  fi
}
# Partition 0: two headers on every record; partition 1: none (and a null value, -Z);
# partition 2: one header, and a value containing the key separator.
printf 'k0a:v0a\nk0b:v0b\nk0c:v0c\n' | kcat_produce -p 0 -H h1=x -H h2=y
printf 'k1a:v1a\nk1b:\nk1c:v1c\n' | kcat_produce -p 1 -Z
printf 'k2a:v2a\nk2b:v:2b\n' | kcat_produce -p 2 -H only=1

current_name="consume --from-beginning, all print properties"
run "$current_name" "$MK" consume --bootstrap-server "$BS" --topic tc --from-beginning \
  --max-messages 8 --timeout-ms 10000 --property print.key=true --property print.partition=true \
  --property print.offset=true --property print.headers=true
if expect_rc 0; then
  # Partitions may interleave; within one partition the order is the offsets'.
  sort -s -t "$(printf '\t')" -k1,1 "$T/out" > "$T/sorted" && mv "$T/sorted" "$T/out"
  printf '%s\n' \
    $'Partition:0\tOffset:0\th1:x,h2:y\tk0a\tv0a' \
    $'Partition:0\tOffset:1\th1:x,h2:y\tk0b\tv0b' \
    $'Partition:0\tOffset:2\th1:x,h2:y\tk0c\tv0c' \
    $'Partition:1\tOffset:0\tNO_HEADERS\tk1a\tv1a' \
    $'Partition:1\tOffset:1\tNO_HEADERS\tk1b\tnull' \
    $'Partition:1\tOffset:2\tNO_HEADERS\tk1c\tv1c' \
    $'Partition:2\tOffset:0\tonly:1\tk2a\tv2a' \
    $'Partition:2\tOffset:1\tonly:1\tk2b\tv:2b' > "$T/expected"
  expect_same "$T/expected"
  grep -qx 'Processed a total of 8 messages' "$T/err" || fail "$current: no total line: $(cat "$T/err")"
fi

current_name="consume: default format is the value only"
run "$current_name" "$MK" consume --bootstrap-server "$BS" --topic tc --partition 1 \
  --offset earliest --max-messages 3 --timeout-ms 10000
if expect_rc 0; then
  printf 'v1a\nnull\nv1c\n' > "$T/expected"
  expect_same "$T/expected"
fi

current_name="consume --partition --offset N skips records before N"
run "$current_name" "$MK" consume --bootstrap-server "$BS" --topic tc --partition 0 --offset 1 \
  --timeout-ms 1500 --property print.offset=true --property print.timestamp=true \
  --property key.separator=' | '
if expect_rc 0; then
  sed -E 's/^CreateTime:[0-9]{13} \| /CreateTime:T | /' "$T/out" > "$T/o2" && mv "$T/o2" "$T/out"
  printf 'CreateTime:T | Offset:1 | v0b\nCreateTime:T | Offset:2 | v0c\n' > "$T/expected"
  expect_same "$T/expected"
fi

# Keyed records, partitioned by librdkafka: per key, order must survive.
: > "$T/keyed"
for i in $(seq 1 60); do echo "key$((i % 6)):n$i" >> "$T/keyed"; done
kcat_produce < "$T/keyed"

current_name="consume keyed records: all of them, per-key order kept"
run "$current_name" "$MK" consume --bootstrap-server "$BS" --topic tc --from-beginning \
  --max-messages 68 --timeout-ms 10000 --property print.key=true --property print.partition=true
if expect_rc 0; then
  if python3 - "$T/out" "$T/keyed" << 'EOF'
import sys
out = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
sent = [l.split(":", 1) for l in open(sys.argv[2]).read().splitlines()]
got = [(k, v) for p, k, v in out if k.startswith("key")]
assert sorted(got) == sorted(map(tuple, sent)), "records differ"
for key in {k for k, _ in sent}:
    assert [v for k, v in got if k == key] == [v for k, v in sent if k == key], "order of " + key
    assert len({p for p, k, _ in out if k == key}) == 1, key + " in more than one partition"
EOF
  then pass "$current"; else fail "$current"; fi
fi

current_name="consume --timeout-ms ends an idle consumer"
start=$(date +%s%N)
run "$current_name" "$MK" consume --bootstrap-server "$BS" --topic tc --timeout-ms 1000
ms=$(( ($(date +%s%N) - start) / 1000000 ))
if expect_rc 0; then
  if [ ! -s "$T/out" ] && [ "$ms" -ge 900 ] && [ "$ms" -lt 8000 ] &&
     grep -qx 'Processed a total of 0 messages' "$T/err"; then
    pass "$current (${ms} ms)"
  else
    fail "$current: ${ms} ms, stdout $(head -c 200 "$T/out"), stderr $(cat "$T/err")"
  fi
fi

current_name="consume: --offset without --partition is a usage error"
run "$current_name" "$MK" consume --bootstrap-server "$BS" --topic tc --offset 3
expect_rc 2 && { grep -q 'partition is required' "$T/err" && pass "$current" || fail "$current: $(cat "$T/err")"; }

current_name="consume --isolation-level read_committed"
run "$current_name" "$MK" consume --bootstrap-server "$BS" --topic tc --partition 2 \
  --offset earliest --isolation-level read_committed --max-messages 2 --timeout-ms 10000
if expect_rc 0; then
  printf 'v2a\nv:2b\n' > "$T/expected"
  expect_same "$T/expected"
fi

current_name="clear error when nothing listens"
run "$current_name" "$MK" topics --bootstrap-server 127.0.0.1:1 --list
expect_rc 1 && { grep -q 'cannot connect to 127.0.0.1:1: connection refused' "$T/err" &&
  pass "$current" || fail "$current: $(cat "$T/err")"; }

# ---- 4b. alter: more partitions (CreatePartitions) ----------------------------------------------

current_name="topics --alter --partitions 6"
topics --create --topic ta --partitions 3 --replication-factor 2
topics --alter --topic ta --partitions 6
if expect_rc 0; then
  topics --describe --topic ta
  if grep -q $'PartitionCount: 6\tReplicationFactor: 2' "$T/out" &&
     [ "$(grep -c $'\tPartition: ' "$T/out")" -eq 6 ]; then pass "$current"
  else fail "$current: $(cat "$T/out")"; fi
fi
# A real client sees the new partitions: kcat's metadata, and a record produced to one.
current_name="kcat sees and produces to an added partition"
if printf 'k:new\n' | timeout 30 kcat -P -b "$BS" -t ta -K: -p 5 2> "$T/kcat.err" &&
   timeout 30 kcat -L -b "$BS" -t ta 2> /dev/null | grep -q 'topic "ta" with 6 partitions'; then
  pass "$current_name"
else
  fail "$current_name: $(cat "$T/kcat.err")"
fi
current_name="topics --alter to fewer partitions is refused as Kafka refuses it"
topics --alter --topic ta --partitions 4
expect_rc 1 && { grep -q 'The topic ta currently has 6 partition(s); 4 would not be an increase.' "$T/out" "$T/err" &&
  pass "$current" || fail "$current: $(cat "$T/out" "$T/err")"; }
current_name="topics --alter with --replica-assignment for the new partitions"
topics --alter --topic ta --replica-assignment 0:1,1:2,2:0,0:1,1:2,2:0,1:0,2:1
if expect_rc 0; then
  topics --describe --topic ta
  grep -q $'Partition: 7\tLeader: 2\tReplicas: 2,1' "$T/out" && pass "$current" ||
    fail "$current: $(cat "$T/out")"
fi
current_name="topics --alter of a missing topic"
topics --alter --topic nope --partitions 2
expect_rc 1 && { grep -q "Topic 'nope' does not exist as expected" "$T/out" "$T/err" && pass "$current" ||
  fail "$current: $(cat "$T/out" "$T/err")"; }

# ---- 5. delete -------------------------------------------------------------------------------

# A consumer long-polling an empty topic has Fetch requests parked in the broker's
# purgatory; deleting the topic under them must answer them, not crash the broker.
current_name="topics --delete while fetches wait in the purgatory"
topics --create --topic tw --partitions 3 --replication-factor 2
if expect_rc 0; then
  timeout 30 "$MK" consume --bootstrap-server "$BS" --topic tw --timeout-ms 3000 \
    --consumer-property allow.auto.create.topics=false --consumer-property fetch.max.wait.ms=2000 \
    > "$T/wait.out" 2> "$T/wait.err" &
  waiter=$!
  sleep 1
  topics --delete --topic tw
  wait "$waiter"; wrc=$?
  if [ "$rc" -eq 0 ] && [ "$wrc" -eq 0 ] && kill -0 "$BROKER_PID" 2> /dev/null &&
     grep -qx 'Processed a total of 0 messages' "$T/wait.err"; then
    pass "$current"
  else
    fail "$current: delete exit $rc, consumer exit $wrc: $(cat "$T/err" "$T/wait.err")"
  fi
fi

current_name="topics --delete"
topics --delete --topic tc
expect_rc 0 && pass "$current"

current_name="topics --list after delete"
topics --list
expect_rc 0 && { grep -qx tc "$T/out" && fail "$current: tc still listed" || pass "$current"; }

current_name="topics --describe of a deleted topic"
topics --describe --topic tc
expect_rc 1 && { grep -q "Topic 'tc' does not exist as expected" "$T/err" && pass "$current" ||
  fail "$current: $(cat "$T/err")"; }

current_name="topics --delete of a missing topic"
topics --delete --topic tc
expect_rc 1 && pass "$current"

finish_checks
