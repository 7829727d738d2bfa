#!/usr/bin/env bash
# decode-cli: `minikafka decode` on hand-built frames, on broken ones, and on every captured
# client frame listed in tests/fixtures/MANIFEST.tsv and tests/fixtures/groups/MANIFEST.tsv.
#
#   usage: test_decode.sh MINIKAFKA [FIXTURES_DIR]
#
# Frames are written below as annotated hex, one field per line, so each doubles as a
# worked example of the wire format; frames with record batches need a CRC-32C and are
# built by the small Python program further down. JSON is checked with python3's json
# module (stdlib only). Prints one line per check; exits 1 if any failed.
set -u

MK=${1:?usage: test_decode.sh MINIKAFKA [FIXTURES_DIR]}
FIXTURES=${2:-}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# hexframe NAME: annotated hex on stdin ("# ..." comments dropped) -> $T/NAME.hex and .bin
hexframe() {
  sed 's/#.*//' > "$T/$1.hex"
  tr -d ' \n' < "$T/$1.hex" | xxd -r -p > "$T/$1.bin"
}

# run NAME ARGS...: minikafka decode ARGS, stdout/stderr/status into $T/out, $T/err, $rc
run() {
  local name=$1; shift
  "$MK" decode "$@" > "$T/out" 2> "$T/err" < /dev/null
  rc=$?
  current=$name
  # Under ASan/UBSan builds a sanitizer report fails the check even if the exit status is
  # right (UBSan only prints by default).
  if grep -Eq 'runtime error|Sanitizer' "$T/err"; then fail "$current: sanitizer report"; fi
}

# expect_ok EXPR...: status 0, stdout is JSON `d`, and each Python expression holds
expect_ok() {
  if [ "$rc" -ne 0 ]; then
    fail "$current: exit $rc, stderr: $(cat "$T/err")"
    return
  fi
  expect_json "$@"
}

expect_json() {
  if "$PY" - "$T/out" "$@" 2> "$T/pyerr" <<'EOF'
import json, sys
ns = {"d": json.load(open(sys.argv[1]))}  # one namespace, so (x := ...) carries over
for expr in sys.argv[2:]:
    if not eval(expr, ns):
        sys.exit("does not hold: " + expr)
EOF
  then pass "$current"
  else fail "$current: $(tail -1 "$T/pyerr")"
  fi
}

# expect_error STATUS REGEX: that exit status and one stderr line matching REGEX
expect_error() {
  if [ "$rc" -ne "$1" ]; then
    fail "$current: exit $rc, wanted $1; stderr: $(cat "$T/err")"
  elif ! grep -Eq -- "$2" "$T/err"; then
    fail "$current: stderr does not match /$2/: $(cat "$T/err")"
  else
    pass "$current"
  fi
}

# ---- the command table ---------------------------------------------------------------------

"$MK" --help > "$T/out" 2>&1; rc=$?
current="minikafka --help lists decode"
if [ $rc -eq 0 ] && grep -q '^  decode ' "$T/out"; then pass "$current"; else fail "$current"; fi

"$MK" > "$T/out" 2> "$T/err"; rc=$?; current="minikafka with no command prints usage"
expect_error 2 'decode'

"$MK" frobnicate > "$T/out" 2> "$T/err"; rc=$?; current="unknown command is named"
expect_error 2 "unknown command 'frobnicate'"

# ---- requests ------------------------------------------------------------------------------

hexframe api_versions_v3 <<'EOF'
00000017        # size: 23 bytes follow
0012 0003       # api_key 18 (ApiVersions), api_version 3: flexible, so request header v2
00000001        # correlation_id 1
0004 74657374   # client_id "test" (int16 length even in header v2)
00              # header tagged fields: none
03 6d6b         # client_software_name "mk" (compact string: varint length + 1)
04 302e31       # client_software_version "0.1"
00              # body tagged fields: none
EOF

run "ApiVersions v3 request (binary file)" "$T/api_versions_v3.bin"
expect_ok 'd["size"] == 23' \
  'd["header"] == {"api_key": 18, "api_name": "ApiVersions", "api_version": 3, "correlation_id": 1, "client_id": "test", "header_version": 2}' \
  'd["body"] == {"client_software_name": "mk", "client_software_version": "0.1"}'

run "ApiVersions v3 request (--hex file)" --hex "$T/api_versions_v3.hex"
expect_ok 'd["body"]["client_software_version"] == "0.1"'

"$MK" decode --hex < "$T/api_versions_v3.hex" > "$T/out" 2> "$T/err"; rc=$?
current="ApiVersions v3 request (--hex on stdin)"
expect_ok 'd["header"]["correlation_id"] == 1'

hexframe metadata_v1 <<'EOF'
0000001a        # size: 26
0003 0001       # Metadata v1: not flexible, request header v1
00000007        # correlation_id 7
0002 6d6b       # client_id "mk"
00000002        # topics: an array of 2 (int32 count)
0003 666f6f     #   [0].name "foo"
0003 626172     #   [1].name "bar"
EOF
run "Metadata v1 request" "$T/metadata_v1.bin"
expect_ok 'd["header"]["header_version"] == 1' 'd["header"]["client_id"] == "mk"' \
  'd["body"] == {"topics": [{"name": "foo"}, {"name": "bar"}]}'

hexframe metadata_v1_all <<'EOF'
00000010 0003 0001 00000008 0002 6d6b
ffffffff        # topics: null, meaning "all topics" (allowed from v1)
EOF
run "Metadata v1 request for all topics" "$T/metadata_v1_all.bin"
expect_ok 'd["body"] == {"topics": None}'

hexframe metadata_v12 <<'EOF'
00000024        # size: 36
0003 000c 00000003 0002 6d6b 00   # Metadata v12, header v2
02                                # topics: compact array of 1
1b4e28ba2fa111d2883f0016d3cca427  #   [0].topic_id (uuid)
02 74                             #   [0].name "t"
00                                #   [0] tagged fields
01                                # allow_auto_topic_creation true
00                                # include_topic_authorized_operations false
00                                # tagged fields
EOF
run "Metadata v12 request (flexible, uuid)" "$T/metadata_v12.bin"
expect_ok 'd["body"]["topics"] == [{"topic_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "name": "t"}]' \
  'd["body"]["allow_auto_topic_creation"] is True' \
  '"include_cluster_authorized_operations" not in d["body"]'

# ---- group, offset and admin requests ------------------------------------------------------
# decode knows none of these APIs by name: it finds each in the API table (protocol/api.c),
# so every version there is a version decode reads.

hexframe join_group_v0 <<'EOF'
0000003b        # size: 59
000b 0000       # JoinGroup v0 (older Go clients): request header v1
00000010        # correlation_id 16
0002 6d6b       # client_id "mk"
0001 67         # group_id "g"
00007530        # session_timeout_ms 30000 (no rebalance_timeout_ms before v1)
0000            # member_id "": a new member
0008 636f6e73756d6572   # protocol_type "consumer"
00000001        # protocols: 1
0005 72616e6765 #   [0].name "range"
0000000d        #   [0].metadata: 13 bytes, a ConsumerProtocolSubscription v0:
0000 00000001 0001 74 ffffffff  # version 0, topics ["t"], user_data null
EOF
run "JoinGroup v0 request" "$T/join_group_v0.bin"
expect_ok 'd["header"]["api_name"] == "JoinGroup" and d["header"]["api_version"] == 0' \
  'd["header"]["header_version"] == 1' \
  'd["body"] == {"group_id": "g", "session_timeout_ms": 30000, "member_id": "", "protocol_type": "consumer", "protocols": [{"name": "range", "metadata": {"len": 13, "hex": "000000000001000174ffffffff"}}]}'

hexframe offset_commit_v2 <<'EOF'
00000037        # size: 55
0008 0002       # OffsetCommit v2 (kafka-python 2.0.2)
00000011 0002 6d6b
0001 67         # group_id "g"
00000001        # generation_id_or_member_epoch 1
0001 6d         # member_id "m"
ffffffffffffffff  # retention_time_ms -1: the broker's default (v2-4 only)
00000001 0001 74  # topics: 1, name "t"
00000001        #   partitions: 1
00000000        #     partition_index 0
000000000000002a  #   committed_offset 42
0000            #     committed_metadata ""
EOF
run "OffsetCommit v2 request" "$T/offset_commit_v2.bin"
expect_ok 'd["header"]["api_name"] == "OffsetCommit"' \
  'd["body"] == {"group_id": "g", "generation_id_or_member_epoch": 1, "member_id": "m", "retention_time_ms": -1, "topics": [{"name": "t", "partitions": [{"partition_index": 0, "committed_offset": 42, "committed_metadata": ""}]}]}'

hexframe describe_groups_v5 <<'EOF'
00000014        # size: 20
000f 0005       # DescribeGroups v5: flexible, request header v2
00000012 0002 6d6b 00
03 0267 0268    # groups: compact array of 2, "g" and "h"
01              # include_authorized_operations true (v3+)
00              # tagged fields
EOF
run "DescribeGroups v5 request" "$T/describe_groups_v5.bin"
expect_ok 'd["header"]["api_name"] == "DescribeGroups" and d["header"]["header_version"] == 2' \
  'd["body"] == {"groups": ["g", "h"], "include_authorized_operations": True}'

hexframe list_groups_v4 <<'EOF'
00000016        # size: 22
0010 0004       # ListGroups v4: flexible
00000013 0002 6d6b 00
02 07 537461626c65  # states_filter: compact array of 1, "Stable" (v4+)
00              # tagged fields (types_filter is v5+)
EOF
run "ListGroups v4 request" "$T/list_groups_v4.bin"
expect_ok 'd["header"]["api_name"] == "ListGroups"' 'd["body"] == {"states_filter": ["Stable"]}'

hexframe create_partitions_v1 <<'EOF'
00000020        # size: 32
0025 0001       # CreatePartitions v1 (api key 37)
00000014 0002 6d6b
00000001 0001 74  # topics: 1, name "t"
00000006        #   count: grow to 6 partitions
ffffffff        #   assignments: null (the controller places them)
00007530        # timeout_ms 30000
00              # validate_only false
EOF
run "CreatePartitions v1 request" "$T/create_partitions_v1.bin"
expect_ok 'd["header"]["api_name"] == "CreatePartitions"' \
  'd["body"] == {"topics": [{"name": "t", "count": 6, "assignments": None}], "timeout_ms": 30000, "validate_only": False}'

printf '0000000a 000b 000a 00000001 ffff' > "$T/join_group_v10.hex"
run "JoinGroup v10 is not in the table" --hex "$T/join_group_v10.hex"
expect_error 1 'JoinGroup v10 is not supported \(minikafka speaks v0-9\)'

# ---- responses -----------------------------------------------------------------------------

hexframe api_versions_v3_resp <<'EOF'
00000013        # size: 19
00000001        # correlation_id 1 (ApiVersions responses always use header v0)
0000            # error_code 0
02              # api_keys: compact array of 1
0012 0000 0004 00   # ApiVersions 0..4, no tagged fields
00000000        # throttle_time_ms
00              # tagged fields
EOF
run "ApiVersions v3 response (--api ApiVersions)" --api ApiVersions --version 3 "$T/api_versions_v3_resp.bin"
expect_ok 'd["header"] == {"correlation_id": 1, "header_version": 0}' \
  'd["body"]["api_keys"] == [{"api_key": 18, "min_version": 0, "max_version": 4}]' \
  'd["body"]["throttle_time_ms"] == 0'

run "response with a numeric --api" --api 18 --version 3 "$T/api_versions_v3_resp.bin"
expect_ok 'd["body"]["error_code"] == 0'

# ---- record batches (built in Python: they need a CRC-32C) ---------------------------------

"$PY" - "$T" <<'EOF'
import struct, sys
out = sys.argv[1]

def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff

def varint(n):  # zigzag varint, as inside records
    n = (n << 1) ^ (n >> 63)
    b = b''
    while True:
        if n >> 7:
            b += bytes([n & 0x7f | 0x80]); n >>= 7
        else:
            return b + bytes([n])

def blob(b):
    return varint(-1) if b is None else varint(len(b)) + b

def record(i, key, value, headers=()):
    r = b'\x00' + varint(i) + varint(i) + blob(key) + blob(value) + varint(len(headers))
    for k, v in headers:
        r += blob(k) + blob(v)
    return varint(len(r)) + r

def batch(records, attributes=0, pid=-1, epoch=-1, seq=-1, corrupt_crc=False):
    after_crc = struct.pack('>hiqqqhii', attributes, len(records) - 1, 1700000000000,
                            1700000000000 + len(records) - 1, pid, epoch, seq,
                            len(records)) + b''.join(records)
    crc = crc32c(after_crc) ^ (1 if corrupt_crc else 0)
    rest = struct.pack('>ibI', 0, 2, crc) + after_crc  # leader epoch, magic, crc
    return struct.pack('>qi', 0, len(rest)) + rest

def string(s):
    return struct.pack('>h', len(s)) + s

def produce_v7(records):
    body = struct.pack('>hhi', 0, 7, 5) + string(b'mk')   # header v1
    body += struct.pack('>hhi', -1, -1, 30000)              # transactional_id null, acks, timeout
    body += struct.pack('>i', 1) + string(b't')             # one topic "t"
    body += struct.pack('>ii', 1, 0) + struct.pack('>i', len(records)) + records
    return struct.pack('>i', len(body)) + body

def fetch_v4_response(records):
    body = struct.pack('>ii', 9, 0)                         # correlation_id, throttle_time_ms
    body += struct.pack('>i', 1) + string(b't')
    body += struct.pack('>iihqqi', 1, 0, 0, 2, 2, -1)       # partition 0, no error, hw, lso,
    body += struct.pack('>i', len(records)) + records       # aborted_transactions null
    return struct.pack('>i', len(body)) + body

good = batch([record(0, b'k1', b'hello'),
              record(1, None, b'\x00\x01\x02', [(b'h', b'v'), (b'n', None)])],
             pid=42, epoch=0, seq=0)
open(out + '/produce.bin', 'wb').write(produce_v7(good))
open(out + '/produce_bad_crc.bin', 'wb').write(produce_v7(batch([record(0, b'k', b'v')],
                                                                corrupt_crc=True)))
# A transaction marker: attributes transactional (0x10) + control (0x20); the key says
# COMMIT (version 0, type 1), the value holds the coordinator epoch (version 0, epoch 5).
commit = batch([record(0, struct.pack('>hh', 0, 1), struct.pack('>hi', 0, 5))],
               attributes=0x30, pid=42, epoch=0)
open(out + '/fetch_partial.bin', 'wb').write(fetch_v4_response(good + commit + good[:20]))
# What AvroSerializer writes: magic byte 0, schema id 7 (big-endian), then the Avro of
# {"name": "Ann", "age": 30}: the string's zig-zag length 3 (06) and "Ann", then 30 (3c).
avro = batch([record(0, b'k', b'\x00\x00\x00\x00\x07' + bytes.fromhex('06416e6e3c'))])
open(out + '/produce_avro.bin', 'wb').write(produce_v7(avro))
EOF

run "Produce v7 request with a record batch" "$T/produce.bin"
expect_ok '(b := d["body"]["topic_data"][0]["partition_data"][0]["records"][0])' \
  'b["crc_valid"] is True and b["magic"] == 2 and b["records_count"] == 2' \
  'b["producer_id"] == 42 and b["base_sequence"] == 0 and b["last_offset_delta"] == 1' \
  'b["attributes"]["compression"] == "none" and b["attributes"]["is_transactional"] is False' \
  'b["records"][0]["key"] == "k1" and b["records"][0]["value"] == "hello"' \
  'b["records"][1]["key"] is None and b["records"][1]["value"] == {"hex": "000102"}' \
  'b["records"][1]["headers"] == [{"key": "h", "value": "v"}, {"key": "n", "value": None}]'

run "Produce v7 with an Avro value: its magic byte and schema id" "$T/produce_avro.bin"
expect_ok '(v := d["body"]["topic_data"][0]["partition_data"][0]["records"][0]["records"][0]["value"])' \
  'v["hex"] == "000000000706416e6e3c"' \
  'v["schema_registry"] == {"magic_byte": 0, "schema_id": 7, "payload_bytes": 5}'

run "Produce with a bad CRC: JSON, then exit 1" "$T/produce_bad_crc.bin"
expect_error 1 'ProduceRequest v7: topic_data\[0\]\.partition_data\[0\]\.records\[0\], the batch at byte 43: CRC mismatch'
rc=0; current="Produce with a bad CRC: crc_valid false in the JSON"
expect_ok '(b := d["body"]["topic_data"][0]["partition_data"][0]["records"][0])' \
  'b["crc_valid"] is False and "error" in b'

run "Fetch v4 response: a control batch, then a partial batch" --api Fetch --version 4 "$T/fetch_partial.bin"
expect_ok '(p := d["body"]["responses"][0]["partitions"][0])' \
  'len(p["records"]) == 3 and p["records"][0]["records_count"] == 2' \
  'p["records"][1]["attributes"]["is_control"] and p["records"][1]["attributes"]["is_transactional"]' \
  'p["records"][1]["records"][0]["control"] == {"type": "COMMIT", "coordinator_epoch": 5}' \
  'p["records"][2] == {"partial_batch_bytes": 20}' 'p["aborted_transactions"] is None'

hexframe metadata_v1_trailing <<'EOF'
0000001c 0003 0001 00000007 0002 6d6b 00000002 0003 666f6f 0003 626172
beef            # 2 bytes after the body, inside the frame: Kafka ignores them
EOF
run "bytes after the body are shown, not fatal" "$T/metadata_v1_trailing.bin"
expect_ok 'd["trailing_bytes"] == 2' 'len(d["body"]["topics"]) == 2'
expect_error 0 'note: 2 bytes after the body'

# ---- bad input -----------------------------------------------------------------------------

head -c 20 "$T/metadata_v1.bin" > "$T/cut.bin"
run "frame shorter than its size prefix" "$T/cut.bin"
expect_error 1 'cut short: the size prefix says 26 bytes follow, the input has 16'

{ cat "$T/metadata_v1.bin"; printf 'xx'; } > "$T/extra.bin"
run "bytes after the frame" "$T/extra.bin"
expect_error 1 '2 extra bytes after the frame'

# The size prefix is honest (25) but the last name's length (3) runs past the end. Byte
# offsets in errors count from the frame's first byte, as in `xxd` of the frame.
hexframe metadata_v1_truncated <<'EOF'
00000019 0003 0001 00000007 0002 6d6b 00000002 0003 666f6f
0003 6261       # "bar" cut after two bytes; its length field starts at frame byte 25
EOF
run "truncated field: names the field and frame offset" "$T/metadata_v1_truncated.bin"
expect_error 1 'MetadataRequest v1: topics\[1\]\.name at byte 25: '

printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' > "$T/http.bin"
run "garbage (an HTTP request)" "$T/http.bin"
expect_error 1 'cut short'

printf '\0\0\0' > "$T/tiny.bin"
run "input shorter than a size prefix" "$T/tiny.bin"
expect_error 1 'too short for a frame'

printf '0000000a 0063 0000 00000001 ffff' > "$T/unknown_api.hex"
run "unknown api key" --hex "$T/unknown_api.hex"
expect_error 1 'unknown api key 99'

printf '0000000a 0000 0002 00000001 ffff' > "$T/produce_v2.hex"
run "unsupported request version" --hex "$T/produce_v2.hex"
expect_error 1 'Produce v2 is not supported'

printf '00000004 0000 00zz' > "$T/bad.hex"
run "bad hex digit" --hex "$T/bad.hex"
expect_error 1 "bad hex: 'z'.*line 1, column 17"

printf '0000000' > "$T/odd.hex"
run "odd number of hex digits" --hex "$T/odd.hex"
expect_error 1 'odd number of hex digits'

run "unknown --api lists the valid names" --api Frobnicate --version 1 "$T/odd.hex"
expect_error 2 'Produce \(0\), Fetch \(1\)'

run "--api without --version" --api Metadata "$T/odd.hex"
expect_error 2 'go together'

run "unsupported response version" --api Fetch --version 1 "$T/odd.hex"
expect_error 2 'Fetch v1 is not supported'

run "missing file" "$T/does-not-exist"
expect_error 1 'cannot open'

# ---- captured client frames ----------------------------------------------------------------

# The top folder's frames, then the consumer-group ones in groups/.
for sub in "" groups; do
  folder=${FIXTURES:+$FIXTURES${sub:+/$sub}}
  manifest=${folder:+$folder/MANIFEST.tsv}
  if [ -n "$manifest" ] && [ -f "$manifest" ]; then
    n=0
    while IFS=$'\t' read -r file direction client api_key api_name api_version notes; do
      case "$file" in ''|'#'*|file) continue ;; esac  # blank, comment, header row
      args=()
      case "$file" in *.hex) args+=(--hex) ;; esac
      case "$direction" in resp*|*response*) args+=(--api "$api_key" --version "$api_version") ;; esac
      run "fixture ${sub:+$sub/}$file ($client $api_name v$api_version $direction)" "${args[@]}" \
        "$folder/$file"
      expect_ok "d['header'].get('api_key', $api_key) == $api_key"
      n=$((n + 1))
    done < "$manifest"
    [ "$n" -gt 0 ] || fail "$manifest lists no fixtures"
  else
    fail "fixtures: no MANIFEST.tsv in $folder"
  fi
done

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
