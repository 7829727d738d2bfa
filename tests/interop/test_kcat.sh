#!/usr/bin/env bash
# kcat (librdkafka) against minikafka: run by with_broker.sh, which sets BOOTSTRAP.
#
# One topic per case: acks 0, 1 and all; each compression codec; idempotence. Every case
# produces keyed records (kcat -K:) with headers (-H, the same on every record: kcat cannot
# vary them per line), using librdkafka's murmur2_random partitioner (Java's murmur2 for
# keyed records; librdkafka's default, consistent_random, hashes differently), then consumes
# the topic back with kcat -C -e -J (every partition, from the beginning, CRCs checked) and
# hands both to interop_check.py: every record once, in order per partition, intact, each key
# in its murmur2 partition. The broker's trace must also show every batch arrived with the
# case's codec: librdkafka quietly falls back to no compression when it thinks a broker lacks
# a feature, and the records would still come back intact.
set -u
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-/usr/bin/python3}
: "${BOOTSTRAP:?run me through with_broker.sh}" "${INTEROP_TMP:?run me through with_broker.sh}"
if ! command -v kcat >/dev/null; then
  echo "kcat not installed (Debian package kcat): run ./run.sh test, which installs it" >&2
  exit 1
fi
N=${INTEROP_RECORDS:-300}

# name              kcat producer options
cases=(
  "acks0            -X acks=0"
  "acks1            -X acks=1"
  "acksall          -X acks=all"
  "gzip             -X acks=all -z gzip"
  "snappy           -X acks=all -z snappy"
  "lz4              -X acks=all -z lz4"
  "zstd             -X acks=all -z zstd"
  "idempotent-zstd  -X enable.idempotence=true -z zstd"
)

failed=()
first=1
for c in "${cases[@]}"; do
  read -r name opts <<<"$c"
  topic="interop-kcat-$name"
  headers=(client=kcat "case=$name" dup=first dup=second empty=)
  hflags=()
  for h in "${headers[@]}"; do hflags+=(-H "$h"); done
  "$python" "$here/interop_check.py" gen-kcat kcat "$name" "$N" \
    "$INTEROP_TMP/$name.in" "$INTEROP_TMP/$name.produced.jsonl" "${headers[@]}" || exit 1
  # shellcheck disable=SC2086  # $opts is a list of options
  if ! timeout 60 kcat -P -b "$BOOTSTRAP" -t "$topic" -K: "${hflags[@]}" \
      -X partitioner=murmur2_random -X message.timeout.ms=30000 $opts \
      <"$INTEROP_TMP/$name.in" 2>"$INTEROP_TMP/$name.err"; then
    echo "FAIL kcat $name: kcat -P $opts exited non-zero:"; sed 's/^/  | /' "$INTEROP_TMP/$name.err"
    failed+=("$name")
    continue
  fi
  if grep -Eiq 'error|fail' "$INTEROP_TMP/$name.err"; then
    echo "FAIL kcat $name: kcat -P $opts reported errors:"; sed 's/^/  | /' "$INTEROP_TMP/$name.err"
    failed+=("$name")
    continue
  fi
  extra=()
  [ $first -eq 1 ] && extra=(--format-check)
  first=0
  "$python" "$here/interop_check.py" verify-kcat "kcat $name ($opts)" "$topic" \
    "$INTEROP_TMP/$name.produced.jsonl" "${extra[@]}" || failed+=("$name")
  case $name in
    *gzip*) codec=gzip ;; *snappy*) codec=snappy ;; *lz4*) codec=lz4 ;; *zstd*) codec=zstd ;;
    *) codec=none ;;
  esac
  # Behind `minikafka proxy` (MK_MOCK_CLUSTER), appends are read from Produce answers, and
  # acks=0 gets none: nothing to check the codec against.
  [ -n "${MK_MOCK_CLUSTER:-}" ] && [ "$name" = acks0 ] && continue
  # A batch of one record may go uncompressed: librdkafka sends the plain bytes when
  # compressing would not shrink them (rdkafka_msgset_writer.c), which a lone first record
  # on a slow machine can hit. Every batch of more records must carry the codec.
  appends=$(grep -F '"event":"append"' "$MK_BROKER_TRACE" | grep -F "\"topic\":\"$topic\"" |
            grep -vF '"records":1,')
  wrong=$(grep -vcF "\"compression\":\"$codec\"" <<<"$appends")
  if [ -z "$appends" ] || [ "$wrong" -ne 0 ]; then
    echo "FAIL kcat $name: expected every batch compressed with $codec; the broker appended:"
    grep -o '"compression":"[a-z0-9]*"' <<<"$appends" | sort | uniq -c | sed 's/^/  | /'
    failed+=("$name")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "kcat: ${#failed[@]} of ${#cases[@]} cases failed: ${failed[*]}"
  exit 1
fi
echo "kcat: all ${#cases[@]} cases passed"
