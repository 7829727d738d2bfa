#!/usr/bin/env bash
# The installed library is enough to embed the broker and the producer: install the build
# into a scratch directory, then compile and run tests/embed/embed_example.c against that
# copy alone (its headers through the generated minikafka.pc, its static library). A public
# header that includes an internal one fails here.
#   usage: test_embedding.sh BUILD_DIR EXAMPLE.c [-fsanitize=... of a sanitized build]
set -u
build=$1 example=$2 sanitize=${3:-}
. "$(dirname "$0")/lib.sh"
require_tools cc pkg-config
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

if ! meson install -C "$build" --destdir "$T/root" --no-rebuild --quiet > "$T/install.log" 2>&1; then
  fail "meson install: $(tail -5 "$T/install.log")"
  exit 1
fi
prefix=$(find "$T/root" -name minikafka.pc -printf '%h\n' | head -1)
[ -n "$prefix" ] || { fail "no minikafka.pc installed"; exit 1; }
incdir=$(find "$T/root" -type d -path '*/include/minikafka' | head -1)

# Only public headers are installed: none of the broker's or the producer's insides.
for internal in broker/cluster.h broker/broker_internal.h broker/network.h broker/faults.h \
                producer/record_accumulator.h producer/sender.h producer/producer_internal.h; do
  if [ -e "$incdir/$internal" ]; then fail "internal header $internal is installed"; fi
done
pass "only public headers installed ($(cd "$incdir" && find . -name '*.h' | wc -l) headers)"

root_prefix=$(cd "$prefix/../.." && pwd)   # .../usr/local (the .pc lives in lib/<arch>/pkgconfig or lib/pkgconfig)
[ -f "$root_prefix/include/minikafka/broker/broker.h" ] || root_prefix=$(cd "$prefix/../../.." && pwd)
flags=$(PKG_CONFIG_PATH="$prefix" pkg-config --define-variable=prefix="$root_prefix" --static \
        --cflags --libs minikafka 2>"$T/pc.err")
if [ -z "$flags" ]; then fail "pkg-config: $(cat "$T/pc.err")"; exit 1; fi
if cc -std=gnu11 -Wall -Wextra -Werror $sanitize -o "$T/embed" "$example" $flags > "$T/cc.log" 2>&1; then
  pass "embed_example.c builds against the installed headers and library"
else
  fail "embed_example.c does not build against the installed copy: $(head -c 1500 "$T/cc.log")"
  exit 1
fi
if timeout 60 "$T/embed" > "$T/out" 2> "$T/err"; then
  pass "embed_example runs: $(cat "$T/out")"
else
  fail "embed_example: $(cat "$T/out") $(tail -5 "$T/err")"
fi
[ "$failures" -eq 0 ]
