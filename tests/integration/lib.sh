# tests/integration/lib.sh: what every integration script shares. Source it after `set -u`.
#   pass NAME / fail NAME   one check's verdict; fail counts into $failures
#   require_tools TOOL...   a missing tool fails the test (exit 1), never skips it: run
#                           ./run.sh test, which installs them
failures=0

pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; failures=$((failures + 1)); }

require_tools() {
  local tool
  for tool in "$@"; do
    if ! command -v "$tool" > /dev/null; then
      echo "FAIL $tool is not installed (Debian package $tool): run ./run.sh test, which installs it" >&2
      exit 1
    fi
  done
}
