#!/usr/bin/env bash
# A profile's payload adaptor, on save and after a restart without it (docs/device-api.md §8):
#   1. with the protobuf adaptor loaded, `tern profile add --payload protobuf --telemetry-proto`
#      is refused for a broken schema (exit 1, the schema's line named) and accepted for a
#      good one; a device of it posts protobuf telemetry (2.01, stored)
#   2. restarted on the same database WITHOUT [plugins.protobuf]: the device gets 5.00 with
#      the reason on every request, nothing is stored; JSON devices are served; a new
#      protobuf profile is refused on save with the same reason
# Skips (77) when the build has no protobuf adaptor.
set -u
source "$TERN_SOURCE_DIR/tests/device_api/device_api.sh"
dapi_init
if [ ! -f "$TERN_BUILD_DIR/plugins/libtern-protobuf.so" ]; then
    tern_note "SKIP: no protobuf payload adaptor (libtern-protobuf.so) in $TERN_BUILD_DIR/plugins"
    exit 77
fi
command -v protoc >/dev/null || fail "protoc is required (Debian package protobuf-compiler)"
dapi_start
grep -q "payloads: json, protobuf" "$TERN_LOG" || fail "device_api did not find the protobuf adaptor"

REASON='payload type PROTOBUF needs the payload adaptor "protobuf", which is not loaded (add [plugins.protobuf] to the manifest)'
cat >"$TERN_TMP/bad.proto" <<'PROTO'
syntax = "proto3";
message Telemetry {
  required double temperature = 1;
}
PROTO
cat >"$TERN_TMP/telemetry.proto" <<'PROTO'
syntax = "proto3";
message Telemetry {
  double temperature = 1;
  int32 count = 2;
}
PROTO

# ---- 1. checked on save while the adaptor runs ----
if dapi_cli profile add pb --payload protobuf --telemetry-proto "$TERN_TMP/bad.proto"; then
    show_file "$TERN_TMP/cli.out" >&2; fail "a schema with 'required' was stored"
fi
assert_contains "$TERN_TMP/cli.out" "telemetry" "the refusal names the schema"
assert_contains "$TERN_TMP/cli.out" "line 3" "the refusal names the line"
cat "$TERN_TMP/cli.out"
dapi_cli_ok profile add pb --payload Protobuf --telemetry-proto "$TERN_TMP/telemetry.proto" >/dev/null
TOKEN=pb-restart-$RANDOM$RANDOM
dapi_cli_ok device add pb-dev --profile pb --token "$TOKEN" >/dev/null
dapi_cli_ok device add json-dev --token "json-$TOKEN" >/dev/null

printf 'temperature: 21.5\ncount: 3\n' | protoc --proto_path="$TERN_TMP" --encode=Telemetry telemetry.proto >"$TERN_TMP/tel.bin" ||
    fail "protoc --encode failed"
coap tel -m post -t 42 -f "$TERN_TMP/tel.bin" "$(coap_uri "api/v1/$TOKEN/telemetry")"
assert_code tel 2.01
dapi_cli_ok telemetry pb-dev --latest --json >"$TERN_TMP/tel.json"
assert_contains "$TERN_TMP/tel.json" '"value":21.5' "protobuf telemetry stored"

# ---- 2. the same database, the adaptor left out ----
tern_stop
DAPI_NO_PROTOBUF=1 dapi_start
grep -q "payloads: json)" "$TERN_LOG" || fail "device_api should serve JSON only now"

coap tel2 -m post -t 42 -f "$TERN_TMP/tel.bin" "$(coap_uri "api/v1/$TOKEN/telemetry")"
assert_error tel2 5.00 "$REASON"
coap attr2 -m get "$(coap_uri "api/v1/$TOKEN/attributes")"
assert_error attr2 5.00 "needs the payload adaptor \"protobuf\""
coap json2 -m post -t json -e '{"ok":1}' "$(coap_uri "api/v1/json-$TOKEN/telemetry")"
assert_code json2 2.01
dapi_cli_ok telemetry pb-dev --latest --json >"$TERN_TMP/tel2.json"
assert_contains "$TERN_TMP/tel2.json" '"value":21.5' "the earlier value is still the latest"

if dapi_cli profile add pb2 --payload protobuf --telemetry-proto "$TERN_TMP/telemetry.proto"; then
    show_file "$TERN_TMP/cli.out" >&2; fail "a protobuf profile was stored without the protobuf adaptor"
fi
assert_contains "$TERN_TMP/cli.out" "$REASON" "the refusal says what to do"
dapi_cli_ok profile show pb >/dev/null
tern_stop
tern_note PASS
