# shellcheck shell=bash
# lib.sh: bash helpers shared by broker_bench.sh and producer_bench.sh (sourced, not run).
#
# The scripts that source it set these globals first:
#   WORK     a scratch directory (logs, outputs)
#   MOCK     path of mock_cluster;  PRELOAD  absolute path of nodelay_preload.so
#   TOPIC    the topic the mock creates
# and these helpers set or use:
#   BROKER_PID, BOOTSTRAP   the running broker (start_mock, stop_broker)

# CPU seconds (user + system, all threads) used so far by process $1. Fields 14 and 15 of
# /proc/PID/stat, counted after the ")" that closes the command name.
cpu_seconds() {
  local ticks
  ticks=$(sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}')
  awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}'
}

# librdkafka's mock cluster (3 brokers, topic $TOPIC: 1 partition, replication factor 3).
# $1 = "preload" (TCP_NODELAY on its accepted sockets, the fair figure) or "nagle" (stock).
start_mock() {
  local out=$WORK/mock.out
  : > "$out"
  if [ "$1" = preload ]; then
    LD_PRELOAD=$PRELOAD "$MOCK" --brokers 3 --topic "$TOPIC" --partitions 1 --replication 3 \
      > "$out" 2>> "$WORK/mock.err" &
  else
    "$MOCK" --brokers 3 --topic "$TOPIC" --partitions 1 --replication 3 \
      > "$out" 2>> "$WORK/mock.err" &
  fi
  BROKER_PID=$!
  for _ in $(seq 100); do    # it prints the bootstrap string as soon as it listens
    BOOTSTRAP=$(head -n 1 "$out")
    [ -n "$BOOTSTRAP" ] && return 0
    sleep 0.1
  done
  echo "mock_cluster printed no bootstrap string (see $WORK/mock.err)" >&2
  return 1
}

stop_broker() {
  [ -n "$BROKER_PID" ] || return 0
  kill -TERM "$BROKER_PID" 2>/dev/null || true
  wait "$BROKER_PID" 2>/dev/null || true
  BROKER_PID=""
}

# The value of key $2 in the line that starts with "$1 " in file $3 (the key=value lines
# of rdkafka_load, mk_sync_load and rusage_run); empty if there is none.
keyed_field() {
  { grep "^$1 " "$3" || true; } | head -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# The median of the numbers on stdin (one a line), or "-" if there are none.
median_of() {
  sort -g | awk '{v[NR] = $1} END {
    if (NR == 0) print "-";
    else if (NR % 2) print v[(NR + 1) / 2];
    else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

load_average() { cut -d' ' -f1-3 /proc/loadavg; }
