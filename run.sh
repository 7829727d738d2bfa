#!/usr/bin/env bash
# The two commands of the README:
#   ./run.sh        install any missing Debian packages, build, and run the main job
#   ./run.sh test   install any missing Debian packages, build, and run every test suite:
#                   plain build, AddressSanitizer + UndefinedBehaviorSanitizer, and the fuzzers
# Packages are installed with apt-get when run as root (or through sudo); the test command
# also installs kafkajs and avsc (tests/interop) and puppeteer-core (tests/browser) from npm.
# Build directories: build/ (normal), build-rel/ (release, compiled only), build-asan/, build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")"

# Building needs these; the tests also need a fuzzing clang, and (for the interop suites)
# the real Kafka clients we check compatibility against.
BUILD_PACKAGES=(meson ninja-build pkg-config gcc libc6-dev python3
  libuv1-dev libzstd-dev liblz4-dev zlib1g-dev libsnappy-dev libjansson-dev libhttp-parser-dev
  libavro-dev)
TEST_PACKAGES=(libcmocka-dev clang libclang-rt-14-dev xxd librdkafka-dev
  kcat python3-kafka python3-confluent-kafka python3-requests nodejs curl chromium)

install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "run.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo=sudo
  fi
  echo "run.sh: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# meson setup once per directory; later runs only rebuild what changed.
setup() {
  local dir=$1; shift
  [ -f "$dir/build.ninja" ] || meson setup "$dir" "$@" >/dev/null
}

compile() {  # quiet when it builds; the compiler's messages when it does not
  local log
  if ! log=$(meson compile -C "$1" 2>&1); then
    printf '%s\n' "$log" | grep -v '^\[[0-9]*/[0-9]*\]' >&2
    echo "run.sh: building $1 failed" >&2
    return 1
  fi
}

# The main job: the guided tour lab, against the embedded broker (DESIGN.md 3.1).
main_job() {
  install_missing "${BUILD_PACKAGES[@]}"
  setup build
  compile build
  ./build/minikafka lab tour
  cat <<'TXT'

Next: `./build/minikafka lab` lists every lab; `./build/minikafka broker` runs the broker for
any Kafka client (README.md, "The broker").
TXT
}

# Totals over every suite that ran, printed as the one closing line CI reads.
summarize() {
  python3 - "$@" <<'PY'
import json, sys
passed = failed = skipped = 0
for d in sys.argv[1:]:
    try:
        lines = open(d + "/meson-logs/testlog.json").read().splitlines()
    except OSError:
        continue
    for line in lines:
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"): passed += 1
        elif r == "SKIP": skipped += 1
        else: failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
}

test_job() {
  install_missing "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  export ASAN_OPTIONS=detect_leaks=1
  local rc=0

  # kafkajs and avsc for the interop suite and puppeteer-core (which drives the chromium
  # above) for the dashboard's browser test, each pinned by its package-lock.json, from the
  # npm registry: only when node_modules is missing or older than the lock file. Debian's npm
  # is a separate package (NodeSource's nodejs brings its own npm and conflicts with it).
  command -v npm >/dev/null || install_missing npm
  local dir
  for dir in tests/interop tests/browser; do
    if [ ! -f $dir/node_modules/.package-lock.json ] ||
       [ $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]; then
      npm ci --prefix $dir --no-audit --no-fund --loglevel=error >/dev/null ||
        echo "run.sh: npm ci in $dir failed: its tests will fail" >&2
    fi
  done

  echo "== unit and integration tests (build/)"
  setup build
  compile build
  # -O3 finds warnings (dangling pointers, use after free, null %s) that -O2 does not, and
  # warnings are errors: a release build must compile too. Compiled only, never tested.
  echo "   (and a release build in build-rel/, compiled only)"
  setup build-rel --buildtype=release
  compile build-rel
  meson test -C build --print-errorlogs || rc=1

  echo "== everything again under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
  echo "   (the integration and interop suites then drive a sanitized broker binary)"
  setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
  compile build-asan
  meson test -C build-asan --suite unit --suite integration --suite interop --print-errorlogs \
    --timeout-multiplier 3 || rc=1

  echo "== fuzz targets, a short bounded run each (build-fuzz/; see tests/fuzz/README.md)"
  CC=clang setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false
  compile build-fuzz
  meson test -C build-fuzz --suite fuzz --print-errorlogs || rc=1

  summarize build build-asan build-fuzz
  return $rc
}

case "${1:-}" in
  "") main_job ;;
  test) test_job ;;
  *) echo "usage: ./run.sh [test]" >&2; exit 2 ;;
esac
