#!/usr/bin/env bash
# Writes the protobuf fuzz target's seed corpus: one file per seed, the mode byte that
# payload_fuzz.cpp reads (operation | profile << 3 | variant << 5) and then the body. Bodies
# are encoded by `protoc --encode` from text written here, against the schemas the harness
# itself uses (printed by the replay executable's --schema) and the fixed ThingsBoard messages
# of plugins/protobuf/proto; a few seeds are hand-made bytes that no encoder writes (truncated,
# wrong wire type, bad UTF-8, too deep) and schema texts for mode 7.
#
#   plugins/protobuf/fuzz/make_corpus.sh BUILD/bin/protobuf_payload_fuzz_replay [OUT_DIR]
#
# OUT_DIR defaults to plugins/protobuf/fuzz/corpus (the seeds are committed; rerun this when
# the harness's schemas change, and commit what it writes). The corpus's crash-* files are
# inputs the fuzzer once failed on, added by hand after the fix; this script leaves them be.
# TERN_FUZZ_VERBOSE=1 BUILD/bin/protobuf_payload_fuzz_replay plugins/protobuf/fuzz/corpus
# prints what each seed came to (decoded, or refused and why).
set -euo pipefail
replay=${1:?usage: make_corpus.sh path/to/protobuf_payload_fuzz_replay [OUT_DIR]}
here=$(cd "$(dirname "$0")" && pwd)
out=${2:-$here/corpus}
command -v protoc >/dev/null || { echo "make_corpus.sh: protoc is needed (apt-get install protobuf-compiler)" >&2; exit 2; }
[ -x "$replay" ] || { echo "make_corpus.sh: $replay is not executable" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
# The harness's schemas, one file per profile and kind: p<P>k<K>.proto.
for p in 0 1 2 3; do
  for k in 0 1 2 3; do "$replay" --schema "$p" "$k" >"$tmp/p${p}k$k.proto"; done
done
cp "$here/../proto/thingsboard.proto" "$here/../proto/thingsboard_api.proto" "$tmp/"

byte() { printf "\\$(printf '%03o' "$1")"; }
# seed NAME MODE PROTO_FILE TYPE TEXT: the mode byte, then TEXT encoded as TYPE.
seed() {
  local name=$1 mode=$2 file=$3 type=$4 text=$5
  { byte "$mode"; printf '%s' "$text" | protoc -I "$tmp" --encode="$type" "$tmp/$file"; } >"$out/$name"
}
# Bytes given in hex (bash's printf, no xxd needed).
unhex() { [ -z "$1" ] || printf "$(printf '%s' "$1" | sed 's/../\\x&/g')"; }
# raw NAME MODE HEX: the mode byte, then the bytes.
raw() { { byte "$2"; unhex "${3:-}"; } >"$out/$1"; }
op() { echo $(($1 | ($2 << 3) | (${3:-0} << 5))); }  # op profile [variant]

# Telemetry (op 0).
seed telemetry-default "$(op 0 0)" p0k0.proto telemetry.SensorDataReading \
  'temperature: 42.5 humidity: 73.25 innerObject { key1: "value1" key2: true key3: 3.0 key4: -4 key5: "" }'
# A number ThingsBoard's path would keep as a 302-character string: over max_number_text_length.
seed telemetry-number-too-long "$(op 0 0)" p0k0.proto telemetry.SensorDataReading 'temperature: -1.5e300'
seed telemetry-default-empty "$(op 0 0)" p0k0.proto telemetry.SensorDataReading ''
seed telemetry-ts-values "$(op 0 1)" p1k0.proto sensors.Packet \
  'ts: 1700000000123 values { temperature: -1.5e3 counter: 9007199254740993 mode: MODE_AUTO samples: [1.5, -0.0, 3e38] labels { key: "room" value: 7 } labels { key: "é" value: -1 } inner { name: "x" ok: true raw: "\x00\xff" } history { name: "a" } history { ok: true } }'
seed telemetry-no-ts "$(op 0 1)" p1k0.proto sensors.Packet 'values { temperature: 1 }'
seed telemetry-recursive "$(op 0 2)" p2k0.proto Node \
  'name: "root" value: 1 child { name: "c" child { child { value: 3 } } } children { name: "k1" } children { named { key: "n" value { value: 2 } } }'
seed telemetry-map-values "$(op 0 3)" p3k0.proto flat.Sample \
  'ts: 1 values { key: "a" value: 1.25 } values { key: "b" value: -2 } values { key: "" value: 0 }'
# Attributes (op 1).
seed attributes-default "$(op 1 0)" p0k1.proto attributes.SensorConfiguration \
  'firmwareVersion: "1.2.3" serialNumber: "SN-0001"'
seed attributes-oneof-map "$(op 1 1)" p1k1.proto Attrs \
  'model: "m1" fw { version: "2" build: 4294967295 } tags: ["a", "b"] by_slot { key: -3 value { version: "v" } } battery_mv: 18446744073709551615'
seed attributes-mutual "$(op 1 2)" p2k1.proto B \
  's: "top" a { x: 1 b { s: "inner" list { x: 2 } } } list { x: -2147483648 }'
seed attributes-scalars "$(op 1 3)" p3k1.proto Scalars \
  'i32: -1 i64: -9223372036854775808 u32: 4294967295 u64: 18446744073709551615 s32: -2147483648 s64: 9223372036854775807 f32: 1 f64: 2 sf32: -3 sf64: -4 f: 1e-45 d: 2.25 b: true s: "ü€😀" by: "\x01\x02" level: HIGH many: [1, -1, 9007199254740993] levels: [LOW, HIGH] blobs: ["", "x"]'
# RPC replies (op 2).
seed rpc-reply-default "$(op 2 0)" p0k3.proto rpc.RpcResponseMsg 'payload: "{\"ok\":true,\"n\":[1,2]}"'
seed rpc-reply-default-text "$(op 2 0)" p0k3.proto rpc.RpcResponseMsg 'payload: "plain text, not JSON"'
seed rpc-reply-map "$(op 2 1)" p1k3.proto Reply 'ok: true values: [1, 2.5] extra { key: "k" value: "v" }'
seed rpc-reply-recursive "$(op 2 2)" p2k3.proto R 'next { next { data: "abc" } }'
# Client-side RPC calls (op 3) and claims (op 4): the fixed transportapi messages.
seed rpc-call "$(op 3 0)" thingsboard_api.proto transportapi.RpcRequest 'method: "getTime" params: "{\"tz\":\"UTC\"}"'
seed rpc-call-bad-params "$(op 3 0)" thingsboard_api.proto transportapi.RpcRequest 'method: "m" params: "{not json"'
seed rpc-call-empty "$(op 3 0)" thingsboard_api.proto transportapi.RpcRequest ''
seed claim "$(op 4 0)" thingsboard_api.proto transportapi.ClaimDevice 'secretKey: "s3cr3t" durationMs: 60000'
seed claim-negative "$(op 4 0)" thingsboard_api.proto transportapi.ClaimDevice 'durationMs: -1'
# Provisioning (op 5): the fixed transport messages.
seed provision-token "$(op 5 0)" thingsboard.proto transport.ProvisionDeviceRequestMsg \
  'deviceName: "dev-1" credentialsType: ACCESS_TOKEN provisionDeviceCredentialsMsg { provisionDeviceKey: "k" provisionDeviceSecret: "s" } credentialsDataProto { validateDeviceTokenRequestMsg { token: "t" } }'
seed provision-mqtt "$(op 5 0)" thingsboard.proto transport.ProvisionDeviceRequestMsg \
  'deviceName: "dev-2" credentialsType: MQTT_BASIC provisionDeviceCredentialsMsg { provisionDeviceKey: "k" provisionDeviceSecret: "s" } credentialsDataProto { validateBasicMqttCredRequestMsg { clientId: "c" userName: "u" password: "p" } } gateway: true'
seed provision-x509 "$(op 5 0)" thingsboard.proto transport.ProvisionDeviceRequestMsg \
  'credentialsType: X509_CERTIFICATE credentialsDataProto { validateDeviceX509CertRequestMsg { hash: "-----BEGIN CERTIFICATE-----" } }'
# Encoders (op 6): the body is keys, texts and RPC params.
printf '%s' '{"level":3,"nested":{"on":true,"level":0.5},"target":"lamp","levels":[1,2],"unknown":1}' >"$tmp/params"
{ byte "$(op 6 1)"; cat "$tmp/params"; } >"$out/encode-rpc-merged"
{ byte "$(op 6 0 3)"; printf '%s' '{"a":[1,{"b":null}]}'; } >"$out/encode-json"
{ byte "$(op 6 2 1)"; printf 'plain'; } >"$out/encode-text"
{ byte "$(op 6 3 6)"; printf '%s' '"a string param"'; } >"$out/encode-string-params"
# ThingsBoard's default RPC request (params a string field): a number, a bool, an object.
{ byte "$(op 6 0)"; printf '42'; } >"$out/encode-default-rpc-number"
{ byte "$(op 6 0 1)"; printf 'true'; } >"$out/encode-default-rpc-bool"
{ byte "$(op 6 0 2)"; printf '%s' '{"a":[1,2],"b":"c"}'; } >"$out/encode-default-rpc-object"
# Hand-made bytes no encoder writes.
raw truncated-varint "$(op 0 1)" 08ff
raw wrong-wire-type "$(op 0 0)" 0d00000000          # field 1 as fixed32, the schema says double
raw length-overrun "$(op 1 0)" 0a7f41               # a 127-byte string with 1 byte
raw bad-utf8-string "$(op 1 0)" 0a02c328            # proto3 strings must be UTF-8
raw unknown-field "$(op 0 0)" f8ffffff0f01          # the largest field number, unknown
raw group-wire-type "$(op 0 2)" 0b0c                # start and end group (deprecated wire types)
raw zero-tag "$(op 1 3)" 0000
raw empty "$(op 2 1)"
# Node.child nested 200 deep (past any sane depth limit): 1a <len> ... built inside out.
python_free_nest() {
  local depth=$1 hex='' i len
  for ((i = 0; i < depth; i++)); do
    len=$(( ${#hex} / 2 ))
    if [ "$len" -lt 128 ]; then hex="1a$(printf '%02x' "$len")$hex"
    else hex="1a$(printf '%02x%02x' $(( (len & 0x7f) | 0x80 )) $(( len >> 7 )))$hex"; fi
  done
  echo "$hex"
}
raw too-deep "$(op 0 2)" "$(python_free_nest 200)"
# Schemas (op 7, kind in the profile bits): text, NUL, a body decoded against it.
schema() {
  local name=$1 kind=$2 text=$3 body_hex=${4:-}
  { byte "$(op 7 "$kind")"; printf '%s' "$text"; byte 0; unhex "$body_hex"; } >"$out/$name"
}
schema schema-telemetry 0 'syntax = "proto3"; message T { int64 ts = 1; map<string, double> values = 2; }' \
  0801120c0a016111000000000000f83f
schema schema-attributes-enum 1 'syntax = "proto3"; enum E { A = 0; B = 1; } message M { E e = 1; repeated E es = 2; }' 080112020001
schema schema-rpc-request 2 'syntax = "proto3"; message Q { string method = 1; int64 requestId = 2; message P { int32 level = 1; } P params = 3; }' \
  '7b226c6576656c223a357d'
schema schema-rpc-response 3 'syntax = "proto3"; message Out { oneof r { string text = 1; double value = 2; } }' 0a026f6b
schema schema-proto2 0 'syntax = "proto2"; message M { required int32 a = 1; }'
schema schema-option 0 'syntax = "proto3"; option java_package = "x"; message M { int32 a = 1; }'
schema schema-import 1 'syntax = "proto3"; import "other.proto"; message M { int32 a = 1; }'
schema schema-no-message 0 'syntax = "proto3"; enum E { A = 0; }'
schema schema-reserved 3 'syntax = "proto3"; message M { reserved 2; int32 a = 1; }'
schema schema-unterminated 0 'syntax = "proto3"; message M { int32 a = 1;'
schema schema-recursive-root 0 'syntax = "proto3"; message L { L next = 1; repeated L all = 2; int32 v = 3; }' 0a020803
echo "make_corpus.sh: $(ls "$out" | wc -l) seeds in $out"
