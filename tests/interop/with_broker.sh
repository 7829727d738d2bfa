#!/usr/bin/env bash
# with_broker.sh MINIKAFKA COMMAND [ARG...]
#
# The one harness of the interop suite: start `MINIKAFKA broker` (3 virtual brokers on free
# loopback ports), wait for its ready line, run COMMAND with BOOTSTRAP set to its
# bootstrap.servers and SCHEMA_REGISTRY_URL to its schema registry's URL, then stop the
# broker with SIGTERM, whatever happened.
# Exit code: COMMAND's; 1 as well if the broker did not start, died during COMMAND, or did not
# exit 0 on SIGTERM. Never 77: the interop tests fail, never skip, when a client is missing.
# Also exported: INTEROP_TMP (a scratch directory, removed afterwards), MK_BROKER_LOG
# (the broker's stderr, printed when the test fails) and MK_BROKER_TRACE (its trace events,
# DESIGN 3.4: what actually arrived, e.g. each batch's codec).
#
# With MK_MOCK_CLUSTER set (tests/bench/mock_cluster), the "broker" is librdkafka's mock
# cluster behind `MINIKAFKA proxy` instead: BOOTSTRAP is the proxy's, MK_BROKER_TRACE the
# proxy's trace (its appends are read from Produce answers), MK_PROXY_ADMIN its admin API,
# INTEROP_PARTITIONS 4 (what the mock auto-creates), MOCK_BOOTSTRAP the mock's own address.
set -u
if [ $# -lt 2 ]; then
  echo "usage: with_broker.sh MINIKAFKA COMMAND [ARG...]" >&2
  exit 2
fi
minikafka=$1
shift
if [ ! -x "$minikafka" ]; then
  echo "with_broker.sh: $minikafka is not an executable (build first)" >&2
  exit 1
fi

if ! command -v "$1" >/dev/null; then
  echo "with_broker.sh: $1 not found: run ./run.sh test, which installs the interop clients" >&2
  exit 1
fi

INTEROP_TMP=$(mktemp -d "${TMPDIR:-/tmp}/minikafka-interop.XXXXXX") || exit 1
export INTEROP_TMP MK_BROKER_LOG="$INTEROP_TMP/broker.log" MK_BROKER_TRACE="$INTEROP_TMP/broker.trace"
broker_pid=""

stop_broker() {  # SIGTERM, then up to 10 s for it to exit; prints a reason and returns 1 if unclean
  [ -n "$broker_pid" ] || return 0
  local pid=$broker_pid status
  broker_pid=""
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid"; status=$?
    echo "with_broker.sh: the broker died during the test (exit status $status)" >&2
    return 1
  fi
  kill -TERM "$pid"
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "with_broker.sh: the broker did not exit within 10 s of SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 1
  fi
  wait "$pid"; status=$?
  if [ "$status" -ne 0 ]; then
    echo "with_broker.sh: the broker exited with status $status on SIGTERM (expected 0)" >&2
    return 1
  fi
}
cleanup() {
  stop_broker >/dev/null 2>&1
  rm -rf "$INTEROP_TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

: >"$INTEROP_TMP/broker.out"
if [ -n "${MK_MOCK_CLUSTER:-}" ]; then
  "$MK_MOCK_CLUSTER" --topic mock-warm-up >"$INTEROP_TMP/mock.out" 2>"$INTEROP_TMP/mock.log" &
  mock_pid=$!
  stop_mock() { kill "$mock_pid" 2>/dev/null; wait "$mock_pid" 2>/dev/null; }
  trap 'stop_broker >/dev/null 2>&1; stop_mock; rm -rf "$INTEROP_TMP"' EXIT
  for _ in $(seq 100); do [ -s "$INTEROP_TMP/mock.out" ] && break; sleep 0.1; done
  export MOCK_BOOTSTRAP; MOCK_BOOTSTRAP=$(head -n1 "$INTEROP_TMP/mock.out")
  export INTEROP_PARTITIONS=4
  "$minikafka" proxy --bootstrap-server "$MOCK_BOOTSTRAP" --port 0 --admin-port 0 \
    --trace "$MK_BROKER_TRACE" >"$INTEROP_TMP/broker.out" 2>"$MK_BROKER_LOG" &
else
  "$minikafka" broker --port 0 --brokers 3 --admin-port 0 --schema-registry-port 0 \
    --trace "$MK_BROKER_TRACE" >"$INTEROP_TMP/broker.out" 2>"$MK_BROKER_LOG" &
fi
broker_pid=$!

ready=""
for _ in $(seq 150); do   # 15 s
  ready=$(grep -Em1 '^minikafka (broker|proxy) ready:' "$INTEROP_TMP/broker.out") && break
  if ! kill -0 "$broker_pid" 2>/dev/null; then
    echo "with_broker.sh: the broker exited before it was ready:" >&2
    cat "$MK_BROKER_LOG" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "with_broker.sh: no ready line from the broker within 15 s" >&2
  cat "$MK_BROKER_LOG" >&2
  exit 1
fi
export BOOTSTRAP=${ready##*bootstrap.servers=}
# (the broker and the proxy print their URL lines with the ready line, in one write)
MK_PROXY_ADMIN=$(sed -n 's/^minikafka admin API: //p' "$INTEROP_TMP/broker.out")
export MK_PROXY_ADMIN
SCHEMA_REGISTRY_URL=$(sed -n 's/^minikafka schema registry: //p' "$INTEROP_TMP/broker.out")
export SCHEMA_REGISTRY_URL
echo "with_broker.sh: broker up, BOOTSTRAP=$BOOTSTRAP; running: $*"

"$@"
rc=$?
[ "$rc" -eq 77 ] && rc=1
stop_broker || rc=1
if [ "$rc" -ne 0 ]; then
  echo "with_broker.sh: FAILED (exit $rc); the broker's log (last 60 lines):" >&2
  tail -n 60 "$MK_BROKER_LOG" | sed 's/^/  | /' >&2
fi
exit "$rc"
