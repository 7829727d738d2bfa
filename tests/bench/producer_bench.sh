#!/usr/bin/env bash
# producer_bench.sh: issue 5's producer benchmark. Our producer (`minikafka perf`; for
# synchronous sends mk_sync_load) against librdkafka (rdkafka_load), with the same settings
# and the same payload bytes, in the same run, on each broker: ours and librdkafka's mock
# cluster. Prints one table per broker with the ratios against issue 5's targets.
# See README.md here.
#
#   tests/bench/producer_bench.sh [--build-dir build] [--runs 3] [--brokers minikafka,mock]
#          [--scenarios a,b,c,d,d9,e,f,g] [--scale 1] [--no-api] [--minikafka PATH]
#
# It builds nothing: it expects a meson build dir with the bench programs
# (BUILD/tests/bench/) and BUILD/minikafka (or BUILD/cli/minikafka).
#
# Scenarios (--scenarios; --scale multiplies every record count):
#   a   100 B, acks=1, linger.ms=5, batch.size=1000000                       500,000 records
#   b   100 B, acks=all + idempotence, linger.ms=5, batch.size=1000000         500,000
#   c   100 B, Kafka's defaults: acks=all + idempotence, batch.size=16384, linger.ms=5  500,000
#   d   (a) + lz4 at level 1 for both (librdkafka's default lz4: LZ4F fast)    500,000
#   d9  (a) + lz4 at level 9 for both (Kafka's default compression.lz4.level)  250,000
#   e   (a) + zstd at level 3 for both (both clients' default)                500,000
#   f   1 KiB records, (a)'s settings                                          600,000
#   g   synchronous sends, acks=all, linger.ms=0: p50/p99 of send -> ack
#       (3 alternating segments of 2,000 sends per producer per run)
#
# Producers: "ours" = `minikafka perf` (g: mk_sync_load), "librdkafka" = rdkafka_load, and,
# unless --no-api, "api" = mk_sync_load --async: our producer driven directly through
# producer.h with rdkafka_load's loop, which separates the producer's cost from the perf
# tool's own per-record work. Targets are judged on "ours"; "api" is for information.
#
# Exit status: 0 = every run valid and every target met, 1 = a target failed or a run was
# invalid (logs kept under /tmp/producer_bench.*), 2 = usage or missing programs.
set -euo pipefail
# cpu_seconds, start_mock, stop_broker, keyed_field, median_of, load_average
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILD=build
RUNS=3
BROKERS=minikafka,mock
SCENARIOS=a,b,c,d,d9,e,f,g
SCALE=1
API=1
MINIKAFKA=""      # default: BUILD/minikafka, else BUILD/cli/minikafka
TOPIC=bench
CAP_SECONDS=120   # each producer run is killed after this long (a hung run is INVALID)
SYNC_SEGMENTS=3   # g: each producer runs this many times per run, taking turns

usage() {   # $1 = exit status
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  exit "$1"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) BUILD=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --brokers) BROKERS=$2; shift 2 ;;
    --scenarios) SCENARIOS=$2; shift 2 ;;
    --scale) SCALE=$2; shift 2 ;;
    --no-api) API=0; shift ;;
    --minikafka) MINIKAFKA=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "producer_bench: unknown argument '$1'" >&2; usage 2 ;;
  esac
done

BENCH=$BUILD/tests/bench
LOAD=$BENCH/rdkafka_load
SYNC_LOAD=$BENCH/mk_sync_load
RUSAGE=$BENCH/rusage_run
MOCK=$BENCH/mock_cluster
if [ -z "$MINIKAFKA" ]; then
  MINIKAFKA=$BUILD/minikafka
  [ -x "$MINIKAFKA" ] || MINIKAFKA=$BUILD/cli/minikafka
fi
for f in "$LOAD" "$SYNC_LOAD" "$RUSAGE" "$MOCK" "$BENCH/nodelay_preload.so" "$MINIKAFKA"; do
  if [ ! -e "$f" ]; then
    echo "producer_bench: missing $f; build first: meson compile -C $BUILD" >&2
    exit 2
  fi
done
PRELOAD=$(realpath "$BENCH/nodelay_preload.so")

# ---------------------------------------------------------------------------------------
# The scenarios. For each: what it is, record size, record count, `minikafka perf`'s
# --producer-props, rdkafka_load's flags for the same settings, and mk_sync_load --async's
# (rdkafka_load's, with our names for the compression level). g runs mk_sync_load and
# rdkafka_load --sync with the same flags.

declare -A DESC SIZE COUNT PERF_PROPS RDK_FLAGS API_FLAGS CODEC
declare -A UNCOMPRESSED=()   # [broker,codec]=1: librdkafka turned the codec off on that broker
A_PROPS="acks=1 linger.ms=5 batch.size=1000000"
A_FLAGS="--acks 1 --linger-ms 5 --batch-size 1000000"
DESC[a]="100 B acks=1";              SIZE[a]=100;  COUNT[a]=500000
PERF_PROPS[a]=$A_PROPS
RDK_FLAGS[a]=$A_FLAGS
DESC[b]="100 B acks=all idempotent"; SIZE[b]=100;  COUNT[b]=500000
PERF_PROPS[b]="acks=all enable.idempotence=true linger.ms=5 batch.size=1000000"
RDK_FLAGS[b]="--acks all --idempotence --linger-ms 5 --batch-size 1000000"
# Kafka's (4.0) defaults: `minikafka perf` gets no settings at all; librdkafka gets them
# spelled out (its own defaults differ: no idempotence, batch.size 1000000).
DESC[c]="100 B Kafka's defaults";    SIZE[c]=100;  COUNT[c]=500000
PERF_PROPS[c]=""
RDK_FLAGS[c]="--acks all --idempotence --linger-ms 5 --batch-size 16384"
# lz4: the clients' default levels differ (ours 9 = Kafka's; librdkafka 0 = LZ4F's fast
# mode), so each lz4 scenario sets one level for both. LZ4F treats levels 0-2 alike.
DESC[d]="100 B lz4 level 1";         SIZE[d]=100;  COUNT[d]=500000;  CODEC[d]=lz4
PERF_PROPS[d]="$A_PROPS compression.type=lz4 compression.lz4.level=1"
RDK_FLAGS[d]="$A_FLAGS --compression lz4 -X compression.level=1"
API_FLAGS[d]="$A_FLAGS --compression lz4 -X compression.lz4.level=1"
DESC[d9]="100 B lz4 level 9";        SIZE[d9]=100; COUNT[d9]=250000; CODEC[d9]=lz4
PERF_PROPS[d9]="$A_PROPS compression.type=lz4 compression.lz4.level=9"
RDK_FLAGS[d9]="$A_FLAGS --compression lz4 -X compression.level=9"
API_FLAGS[d9]="$A_FLAGS --compression lz4 -X compression.lz4.level=9"
DESC[e]="100 B zstd level 3";        SIZE[e]=100;  COUNT[e]=500000;  CODEC[e]=zstd
PERF_PROPS[e]="$A_PROPS compression.type=zstd compression.zstd.level=3"
RDK_FLAGS[e]="$A_FLAGS --compression zstd -X compression.level=3"
API_FLAGS[e]="$A_FLAGS --compression zstd -X compression.zstd.level=3"
DESC[f]="1 KiB acks=1";              SIZE[f]=1024; COUNT[f]=600000
PERF_PROPS[f]=$A_PROPS
RDK_FLAGS[f]=$A_FLAGS
DESC[g]="sync acks=all";             SIZE[g]=100;  COUNT[g]=2000   # per segment
RDK_FLAGS[g]="--acks all --linger-ms 0"   # both tools; idempotence off in both

SCENARIO_LIST=()
for s in ${SCENARIOS//,/ }; do
  if [ -z "${DESC[$s]+x}" ]; then
    echo "producer_bench: unknown scenario '$s' (a b c d d9 e f g)" >&2; exit 2
  fi
  SCENARIO_LIST+=("$s")
  [ -n "${API_FLAGS[$s]+x}" ] || API_FLAGS[$s]=${RDK_FLAGS[$s]}
  COUNT[$s]=$(awk -v n="${COUNT[$s]}" -v k="$SCALE" 'BEGIN {n = int(n * k); print n < 1 ? 1 : n}')
done
BROKER_LIST=()
for b in ${BROKERS//,/ }; do
  case "$b" in
    minikafka|mock) BROKER_LIST+=("$b") ;;
    *) echo "producer_bench: unknown broker '$b' (minikafka, mock)" >&2; exit 2 ;;
  esac
done

WORK=$(mktemp -d /tmp/producer_bench.XXXXXX)
RESULTS=$WORK/results.tsv   # broker  scenario  producer  run  metric  value
: > "$RESULTS"
BROKER_PID=""
STATUS=0

cleanup() {
  stop_broker
  if [ "$STATUS" -eq 0 ]; then rm -rf "$WORK"; else echo "logs kept in $WORK"; fi
}
trap cleanup EXIT
trap 'STATUS=1; exit 130' INT TERM

# ---------------------------------------------------------------------------------------
# Brokers. Every producer run gets a fresh broker, so no run inherits another's log.

# Our broker as issue 5 asks: 3 virtual brokers on free ports, no admin API; then topic
# $TOPIC with 1 partition and replication factor 3 (as the mock's), created before the
# producer starts so that neither producer waits for auto-creation.
start_minikafka() {
  local out=$WORK/minikafka.out
  : > "$out"
  "$MINIKAFKA" broker --port 0 --admin-port -1 -o num.partitions=1 \
    > "$out" 2>> "$WORK/minikafka.err" &
  BROKER_PID=$!
  BOOTSTRAP=""
  for _ in $(seq 200); do   # "minikafka broker ready: 3 brokers, bootstrap.servers=..."
    BOOTSTRAP=$(sed -n 's/.*bootstrap\.servers=\([^ ]*\).*/\1/p' "$out" | head -n 1)
    [ -n "$BOOTSTRAP" ] && break
    kill -0 "$BROKER_PID" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$BOOTSTRAP" ]; then
    echo "producer_bench: minikafka broker did not start; see $WORK/minikafka.err" >&2
    return 1
  fi
  "$MINIKAFKA" topics --bootstrap-server "$BOOTSTRAP" --create --topic "$TOPIC" \
    --partitions 1 --replication-factor 3 >> "$WORK/minikafka.err" 2>&1
}

start_broker() {
  case "$1" in
    minikafka) start_minikafka ;;
    mock) start_mock preload ;;   # TCP_NODELAY on the mock's sockets too
  esac
}

# ---------------------------------------------------------------------------------------
# One producer run. Every producer runs under rusage_run: CPU = user + system time of the
# whole process (every thread; start-up and shutdown included) divided by the records sent.

record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$RESULTS"; }

invalid() {   # broker scenario producer run why [output file]
  printf '  %-9s %-3s %-7s run %-4s INVALID RUN: %s\n' "$1" "$2" "$3" "$4" "$5"
  [ -n "${6:-}" ] && tail -n 15 "$6" | sed 's/^/      /'
  STATUS=1
}

# $1 broker, $2 scenario, $3 producer (ours|api|rdkafka), $4 run label
run_producer() {
  local b=$1 s=$2 p=$3 run=$4
  local out=$WORK/$b-$s-$p-$run.txt ru=$WORK/$b-$s-$p-$run.rusage rc=0
  local n=${COUNT[$s]} size=${SIZE[$s]}
  local -a cmd
  if [ "$s" = g ]; then          # the same flags for both tools
    local tool=$SYNC_LOAD; [ "$p" = rdkafka ] && tool=$LOAD
    # shellcheck disable=SC2206  # the flags are a word list on purpose
    cmd=("$tool" --sync --bootstrap "$BOOTSTRAP" --topic "$TOPIC" --records "$n"
         --record-size "$size" ${RDK_FLAGS[$s]})
  elif [ "$p" = ours ]; then
    # shellcheck disable=SC2206
    cmd=("$MINIKAFKA" perf --topic "$TOPIC" --num-records "$n" --record-size "$size"
         --throughput -1 --producer-props "bootstrap.servers=$BOOTSTRAP" ${PERF_PROPS[$s]})
  else
    # --payload kafka: the bytes minikafka perf sends, refilled per record as it does;
    # --warmup 0: the clock starts before the first send, as perf's does.
    local tool=$LOAD flags=${RDK_FLAGS[$s]}
    [ "$p" = api ] && { tool=$SYNC_LOAD; flags="--async ${API_FLAGS[$s]}"; }
    # shellcheck disable=SC2206
    cmd=("$tool" --bootstrap "$BOOTSTRAP" --topic "$TOPIC" --records "$n" --record-size "$size"
         --payload kafka --warmup 0 $flags)
  fi
  "$RUSAGE" "$ru" timeout -s KILL "$CAP_SECONDS" "${cmd[@]}" > "$out" 2>&1 || rc=$?
  if ! kill -0 "$BROKER_PID" 2>/dev/null; then
    invalid "$b" "$s" "$p" "$run" "the broker died" "$out"; return
  fi
  if [ "$rc" -ne 0 ]; then
    local why="exit status $rc"
    [ "$rc" -eq 137 ] && why+=" (killed after $CAP_SECONDS s)"
    invalid "$b" "$s" "$p" "$run" "$why" "$out"; return
  fi
  local prefix=rdkafka_load
  [ "$p" != rdkafka ] && prefix=mk_sync_load
  if [ "$s" = g ]; then
    if [ "$(keyed_field "$prefix" valid "$out")" != 1 ]; then
      invalid "$b" "$s" "$p" "$run" "not valid" "$out"; return
    fi
    local p50 p99
    p50=$(keyed_field "$prefix" p50_us "$out")
    p99=$(keyed_field "$prefix" p99_us "$out")
    record "$b" "$s" "$p" "$run" p50_us "$p50"
    record "$b" "$s" "$p" "$run" p99_us "$p99"
    record "$b" "$s" "$p" "$run" cpu_us "$(keyed_field "$prefix" cpu_us_per_record "$out")"
    printf '  %-9s %-3s %-7s run %-4s %5s sync sends  p50 %7s us  p99 %7s us  p99.9 %7s us\n' \
      "$b" "$s" "$p" "$run" "$(keyed_field "$prefix" records "$out")" "$p50" "$p99" \
      "$(keyed_field "$prefix" p999_us "$out")"
    return
  fi
  local sent rate
  if [ "$p" = ours ]; then
    # Kafka's summary: "N records sent, R records/sec (M MB/sec), ... 99.9th."
    local summary
    summary=$(grep -E '^[0-9]+ records sent, .* 99\.9th\.$' "$out" | tail -n 1 || true)
    sent=$(sed -E 's/^([0-9]+) records sent, .*/\1/' <<< "$summary")
    rate=$(sed -E 's/^[0-9]+ records sent, ([0-9.]+) records\/sec.*/\1/' <<< "$summary")
    if [ -z "$summary" ] || [ "$sent" != "$n" ]; then
      invalid "$b" "$s" "$p" "$run" "no summary line for $n records" "$out"; return
    fi
  else
    if [ "$(keyed_field "$prefix" valid "$out")" != 1 ] ||
       [ "$(keyed_field "$prefix" records "$out")" != "$n" ]; then
      invalid "$b" "$s" "$p" "$run" "not valid, or not all $n records sent" "$out"; return
    fi
    sent=$n
    rate=$(keyed_field "$prefix" records_per_s "$out")
  fi
  local cpu cpu_us
  cpu=$(keyed_field rusage_run cpu_s "$ru")
  cpu_us=$(awk -v c="$cpu" -v n="$sent" 'BEGIN {printf "%.3f", c * 1e6 / n}')
  record "$b" "$s" "$p" "$run" records_per_s "$rate"
  record "$b" "$s" "$p" "$run" cpu_us "$cpu_us"
  printf '  %-9s %-3s %-7s run %-4s %8.0f records/s  CPU %6.3f s = %6.3f us/record  wall %6.2f s\n' \
    "$b" "$s" "$p" "$run" "$rate" "$cpu" "$cpu_us" "$(keyed_field rusage_run wall_s "$ru")"
}

# ---------------------------------------------------------------------------------------
# Payload check: minikafka perf --record-size and rdkafka_load --payload kafka must send the
# same bytes (Kafka's SplittableRandom(0) letters, fresh per record), or the compressed
# scenarios would compare different data. Send 200 records with each to our broker, read
# them back, compare.
payload_check() {
  if ! start_minikafka; then echo "payload check: broker did not start"; STATUS=1; return; fi
  local t
  for t in payload-perf payload-rdkafka; do
    "$MINIKAFKA" topics --bootstrap-server "$BOOTSTRAP" --create --topic "$t" \
      --partitions 1 --replication-factor 1 >> "$WORK/minikafka.err" 2>&1 || true
  done
  "$MINIKAFKA" perf --topic payload-perf --num-records 200 --record-size 100 --throughput -1 \
    --producer-props "bootstrap.servers=$BOOTSTRAP" acks=1 > "$WORK/payload-perf.log" 2>&1 || true
  "$LOAD" --bootstrap "$BOOTSTRAP" --topic payload-rdkafka --records 200 --record-size 100 \
    --payload kafka --warmup 0 > "$WORK/payload-rdkafka.log" 2>&1 || true
  for t in payload-perf payload-rdkafka; do
    "$MINIKAFKA" consume --bootstrap-server "$BOOTSTRAP" --topic "$t" --from-beginning \
      --max-messages 200 --timeout-ms 5000 > "$WORK/$t.values" 2>/dev/null || true
  done
  stop_broker
  local a=$WORK/payload-perf.values r=$WORK/payload-rdkafka.values
  if [ "$(wc -l < "$a")" -eq 200 ] && cmp -s "$a" "$r"; then
    echo "payload check: minikafka perf and rdkafka_load --payload kafka sent the same 200" \
         "values ($(head -c 24 "$a")...)"
  else
    echo "payload check: FAILED: the two producers' values differ (see $a and $r)"
    STATUS=1
  fi
}

# Codec check: librdkafka decides from a broker's ApiVersions whether it may compress, and
# if not, sends uncompressed without a word. librdkafka 2.0.2 enables lz4 only if the broker
# offers FindCoordinator v0 (its test for "Kafka 0.8.2 or later"), which our broker (no
# consumer groups) does not. Ask librdkafka (debug=feature) on each broker, and mark the
# compressed scenarios whose baseline was not compressed: their ratios compare nothing.
codec_check() {   # $1 = broker
  local b=$1 codec feature log
  if ! start_broker "$b"; then echo "codec check: $b did not start"; STATUS=1; return; fi
  for codec in lz4 zstd; do
    feature=${codec^^}
    log=$WORK/codec-$b-$codec.log
    "$LOAD" --bootstrap "$BOOTSTRAP" --topic "$TOPIC" --records 10 --warmup 0 \
      --compression "$codec" -X debug=feature > "$log" 2>&1 || true
    if grep -q "Disabling feature $feature\\b" "$log"; then
      UNCOMPRESSED[$b,$codec]=1
      echo "codec check: $b: librdkafka turns $codec OFF and sends uncompressed:" \
           "$(grep -m1 "Feature $feature:" "$log" | sed 's/.*Feature /Feature /')"
    elif grep -q "Enabling feature $feature\\b" "$log"; then
      echo "codec check: $b: librdkafka compresses with $codec"
    else
      echo "codec check: $b: could not tell whether librdkafka compresses with $codec"
    fi
  done
  stop_broker
}

# ---------------------------------------------------------------------------------------
# The runs. Within each run every scenario runs on every broker with every producer, each
# on a fresh broker; brokers and producers take turns (the producer order flips every run),
# so noise from other work on the machine falls on all alike. g runs SYNC_SEGMENTS short
# segments per producer, alternating, because one sync p50 moves with whatever else the
# machine is doing at that moment.

echo "producer_bench: $RUNS runs; brokers: ${BROKER_LIST[*]}; scenarios: ${SCENARIO_LIST[*]}"
for s in "${SCENARIO_LIST[@]}"; do
  if [ "$s" = g ]; then
    printf '  %-3s %-26s %8s records   both: %s --sync (%s segments per run)\n' "$s" \
      "${DESC[$s]}" "${COUNT[$s]}" "${RDK_FLAGS[$s]}" "$SYNC_SEGMENTS"
  else
    props=${PERF_PROPS[$s]}
    [ -n "$props" ] || props="(none: Kafka's defaults)"
    printf '  %-3s %-26s %8s records   perf: %s\n' "$s" "${DESC[$s]}" "${COUNT[$s]}" "$props"
    printf '  %-3s %-26s %8s           rdkafka_load: %s\n' "" "" "" "${RDK_FLAGS[$s]}"
    if [ "$API" = 1 ]; then
      printf '  %-3s %-26s %8s           mk_sync_load --async: %s\n' "" "" "" "${API_FLAGS[$s]}"
    fi
  fi
done
echo "machine: $(nproc) cores, load average $(load_average) at start"
payload_check
for b in "${BROKER_LIST[@]}"; do codec_check "$b"; done
START=$(date +%s)
for run in $(seq "$RUNS"); do
  PRODUCERS=(ours rdkafka)
  [ "$API" = 1 ] && PRODUCERS=(ours api rdkafka)
  if [ $((run % 2)) -eq 0 ]; then   # reverse the order
    rev=(); for ((i = ${#PRODUCERS[@]} - 1; i >= 0; i--)); do rev+=("${PRODUCERS[i]}"); done
    PRODUCERS=("${rev[@]}")
  fi
  for s in "${SCENARIO_LIST[@]}"; do
    for b in "${BROKER_LIST[@]}"; do
      segments=1 list=("${PRODUCERS[@]}")
      [ "$s" = g ] && { segments=$SYNC_SEGMENTS; list=(ours rdkafka); }
      for seg in $(seq "$segments"); do
        label=$run; [ "$segments" -gt 1 ] && label=$run.$seg
        for p in "${list[@]}"; do
          if ! start_broker "$b"; then
            invalid "$b" "$s" "$p" "$label" "the broker did not start"; stop_broker; continue
          fi
          run_producer "$b" "$s" "$p" "$label"
          stop_broker
        done
        if [ "$s" = g ]; then list=("${list[1]}" "${list[0]}"); fi   # alternate who goes first
      done
    done
  done
  echo "  -- run $run done after $(( $(date +%s) - START )) s; load average $(load_average)"
done
echo "load average $(load_average) at end; $(( $(date +%s) - START )) s of runs"

# ---------------------------------------------------------------------------------------
# The tables: medians over the runs (g: over every segment); ratio = ours / librdkafka's.

median() {   # broker scenario producer metric
  awk -F'\t' -v b="$1" -v s="$2" -v p="$3" -v m="$4" \
    '$1 == b && $2 == s && $3 == p && $5 == m {print $6}' "$RESULTS" | median_of
}

ratio_of() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", a / b}'; }

# One row: broker scenario label metric judge(ge|le|-) limit [aim]
row() {
  local b=$1 s=$2 label=$3 metric=$4 judge=$5 limit=$6 aim=${7:-}
  local ours lib api=- api_ratio=- ratio=- target=- result=-
  ours=$(median "$b" "$s" ours "$metric")
  lib=$(median "$b" "$s" rdkafka "$metric")
  [ "$API" = 1 ] && [ "$s" != g ] && api=$(median "$b" "$s" api "$metric")
  [ "$judge" != - ] && target="$([ "$judge" = ge ] && echo '>=' || echo '<=') ${limit}x"
  if [ "$ours" != - ] && [ "$lib" != - ]; then
    ratio=$(ratio_of "$ours" "$lib")
    if [ "$judge" != - ] && [ -n "${CODEC[$s]:-}" ] &&
       [ -n "${UNCOMPRESSED[$b,${CODEC[$s]}]:-}" ]; then
      result="N/A (lib: uncompressed)"
    elif [ "$judge" != - ]; then
      if awk -v a="$ours" -v b="$lib" -v l="$limit" -v j="$judge" \
           'BEGIN {r = a / b; exit !(j == "ge" ? r >= l : r <= l)}'; then
        result=PASS
        if [ -n "$aim" ]; then
          if awk -v a="$ours" -v b="$lib" -v l="$aim" 'BEGIN {exit !(a / b >= l)}'; then
            result="PASS (aim ${aim}x met)"
          else
            result="PASS (below aim ${aim}x)"
          fi
        fi
      else
        result=FAIL; STATUS=1
      fi
    fi
  elif [ "$judge" != - ]; then
    result="NO DATA"; STATUS=1
  fi
  [ "$api" != - ] && [ "$lib" != - ] && api_ratio=$(ratio_of "$api" "$lib")
  local v fmt=%.3f   # records/s as integers, sync figures to 0.1 us
  [ "$metric" = records_per_s ] && fmt=%.0f
  [ "$s" = g ] && fmt=%.1f
  for v in ours lib api; do
    if [ "${!v}" != - ]; then printf -v "$v" "$fmt" "${!v}"; fi
  done
  printf '%-3s %-26s %-13s %10s %10s %7s  %-7s %-24s %10s %7s\n' "$s" "${DESC[$s]}" "$label" \
    "$ours" "$lib" "$ratio" "$target" "$result" "$api" "$api_ratio"
}

for b in "${BROKER_LIST[@]}"; do
  echo
  echo "broker: $b$([ "$b" = mock ] && echo " (librdkafka 2.0.2's mock cluster, with the TCP_NODELAY shim)")" \
       "-- median of $RUNS runs"
  echo "ours = minikafka perf (g: mk_sync_load); librdkafka = rdkafka_load; ratio = ours/librdkafka;" \
       "api = mk_sync_load --async (no target)"
  printf '%-3s %-26s %-13s %10s %10s %7s  %-7s %-24s %10s %7s\n' "" scenario metric ours \
    librdkafka ratio target result api api/lib
  for s in "${SCENARIO_LIST[@]}"; do
    if [ "$s" = g ]; then
      row "$b" "$s" "p50 us" p50_us le 1.1
      row "$b" "$s" "p99 us" p99_us - -
      row "$b" "$s" "CPU us/send" cpu_us - -
    else
      row "$b" "$s" "records/s" records_per_s ge 1.0 1.2
      row "$b" "$s" "CPU us/record" cpu_us le 1.0
    fi
  done
done

if [ "${#UNCOMPRESSED[@]}" -gt 0 ]; then
  echo
  echo "N/A (lib: uncompressed): librdkafka 2.0.2 turned that codec off on that broker (codec" \
       "check above) and sent the records uncompressed, so the ratio compares compressing" \
       "with not compressing; it is shown, not judged."
fi

# The same medians, one machine-readable line per broker, scenario and producer.
echo
for b in "${BROKER_LIST[@]}"; do
  for s in "${SCENARIO_LIST[@]}"; do
    for p in ours api rdkafka; do
      line="bench broker=$b scenario=$s producer=$p"
      any=""
      for m in records_per_s cpu_us p50_us p99_us; do
        v=$(median "$b" "$s" "$p" "$m")
        if [ "$v" != - ]; then line+=" $m=$v"; any=1; fi
      done
      if [ -n "$any" ]; then echo "$line"; fi
    done
  done
done
exit "$STATUS"
