#!/usr/bin/env bash
# Protobuf uplinks from libcoap firmware (docs/device-api.md §8, §2): a profile with the
# test's own telemetry and attributes schemas (a `ts` + `values` root, nested messages, an
# enum, repeated fields, 64-bit integers, proto3 `optional`), the payloads encoded by
# `protoc --encode` and posted with coap-client-openssl; what `tern telemetry` and
# `tern attr get` then show is compared with the keys, types, values and client timestamp
# written out here. A second profile without schemas uses ThingsBoard's defaults, at the
# server's time, and so does one whose telemetry schema is empty. With
# protobuf.type_cast_enabled off, 64-bit integers stay strings.
set -u
source "$TERN_SOURCE_DIR/plugins/protobuf/tests/blackbox/pb_blackbox.sh"
pb_init
pb_start

S=$PB_SCHEMAS
pb_cli_ok profile add pb-sensors --transport COAP --payload protobuf \
    --telemetry-proto "$S/telemetry.proto" --attributes-proto "$S/attributes.proto" >/dev/null
TOKEN=pb-uplink-token-$RANDOM$RANDOM
DEV=pb-sensor
pb_cli_ok device add "$DEV" --token "$TOKEN" --profile pb-sensors >/dev/null

# ---- telemetry: a `ts` + `values` root; every protobuf type into its stored value ----
cat >"$TERN_TMP/reading.txt" <<'TXT'
ts: 1700000000123
values {
  temperature: 21.5
  humidity: 40.0
  ratio: 0.1
  energy: 9007199254740993
  offset: -5
  counter: 18446744073709551615
  error_count: 0
  online: false
  label: ""
  mode: MODE_ECO
  samples: [1, 2, 3]
  location { lat: 59.91 lon: 10.75 site_name: "roof" serial: 42 }
  note: "hi"
  raw: "\001\002\003"
}
TXT
pb_encode sensors.Reading "$S/telemetry.proto" "$TERN_TMP/reading.txt" "$TERN_TMP/reading.bin"
coap tel -m post -t 42 -f "$TERN_TMP/reading.bin" "$(coap_uri "api/v1/$TOKEN/telemetry")"
assert_code tel 2.01 ACK
assert_not_received tel "Content-Format" "2.01 carries no Content-Format"
pb_cli_ok telemetry "$DEV" --latest --json >"$TERN_TMP/tel.json"
# Typed as ThingsBoard does (protobuf's JSON printer with default values, then the JSON
# rules): doubles stay doubles even when integral, a float prints as its shortest decimal,
# 64-bit integers are integers (beyond 2^53 too) and an unsigned one past 2^63 stays text,
# plain fields at their defaults are stored, unset `optional` and message fields are not,
# names are lowerCamelCase, an enum is its name, bytes are Base64, a repeated field (empty
# too) and a nested message are JSON (with its 64-bit integer quoted).
node "$PB_DIR/stored.mjs" latest "$TERN_TMP/tel.json" '{
  "temperature": 21.5, "humidity": 40.0, "ratio": 0.1,
  "energy": 9007199254740993, "offset": -5, "counter": "18446744073709551615",
  "errorCount": 0, "online": false, "label": "", "mode": "MODE_ECO", "fallback": "MODE_OFF",
  "samples": [1,2,3], "tags": [],
  "location": {"lat":59.91,"lon":10.75,"siteName":"roof","serial":"42"},
  "note": "hi", "raw": "AQID"
}' 1700000000123 || { show_file "$TERN_TMP/tel.json" >&2; fail "telemetry of the ts+values root: keys, types, values or timestamp differ (above)"; }

# a second reading at a later client time: the history holds both, each at its own ts. Java
# writes doubles and floats of 10^7 or more with an exponent, which JSON typing reads as an
# integer when there is no fraction; small ones keep a fraction.
pb_encode_text sensors.Reading "$S/telemetry.proto" "$TERN_TMP/reading2.bin" \
    'ts: 1700000060000 values { temperature: -3.25 humidity: 12345678 ratio: 1e10 energy: -9007199254740993 mode: MODE_BOOST }'
coap tel2 -m post -f "$TERN_TMP/reading2.bin" "$(coap_uri "api/v1/$TOKEN/telemetry")"
assert_code tel2 2.01
pb_cli_ok telemetry "$DEV" --key temperature --key humidity --key ratio --key energy --key mode --since 0 --asc --json >"$TERN_TMP/hist.json"
node "$PB_DIR/stored.mjs" json "$TERN_TMP/hist.json" '{
  "temperature": [{"ts":1700000000123,"value":21.5},{"ts":1700000060000,"value":-3.25}],
  "humidity": [{"ts":1700000000123,"value":40.0},{"ts":1700000060000,"value":12345678}],
  "ratio": [{"ts":1700000000123,"value":0.1},{"ts":1700000060000,"value":10000000000}],
  "energy": [{"ts":1700000000123,"value":9007199254740993},{"ts":1700000060000,"value":-9007199254740993}],
  "mode": [{"ts":1700000000123,"value":"MODE_ECO"},{"ts":1700000060000,"value":"MODE_BOOST"}]
}' || { show_file "$TERN_TMP/hist.json" >&2; fail "telemetry history of two readings"; }

# ---- client attributes: no ts rule; the same typing ----
cat >"$TERN_TMP/attrs.txt" <<'TXT'
firmware_version: "1.4.2"
serial: 1234567890123
threshold: 0.75
config { interval: 30 enabled: true }
features: "ota"
features: "psm"
ts: 1700000000999
TXT
pb_encode devattrs.DeviceAttributes "$S/attributes.proto" "$TERN_TMP/attrs.txt" "$TERN_TMP/attrs.bin"
coap attr -m post -t 42 -f "$TERN_TMP/attrs.bin" "$(coap_uri "api/v1/$TOKEN/attributes")"
assert_code attr 2.01 ACK
pb_cli_ok attr get "$DEV" --scope client --json >"$TERN_TMP/attr.json"
node "$PB_DIR/stored.mjs" client "$TERN_TMP/attr.json" '{
  "firmwareVersion": "1.4.2", "serial": 1234567890123, "threshold": 0.75,
  "config": {"interval":30,"enabled":true}, "restarts": 0, "features": ["ota","psm"],
  "ts": 1700000000999
}' || { show_file "$TERN_TMP/attr.json" >&2; fail "client attributes: keys, types or values differ (above)"; }

# ---- a profile without schemas: ThingsBoard's default schemas, server time ----
pb_cli_ok profile add pb-defaults --payload protobuf >/dev/null  # no --transport: DEFAULT, still protobuf (docs/device-api.md §8.1)
TOKEN2=pb-default-token-$RANDOM$RANDOM
pb_cli_ok device add pb-default-dev --token "$TOKEN2" --profile pb-defaults >/dev/null
pb_encode_text telemetry.SensorDataReading "$S/tb_default_telemetry.proto" "$TERN_TMP/default.bin" \
    'temperature: 42.0 innerObject { key1: "v" key4: 0 }'
t0=$(date +%s%3N)
coap dtel -m post -f "$TERN_TMP/default.bin" "$(coap_uri "api/v1/$TOKEN2/telemetry")"
t1=$(date +%s%3N)
assert_code dtel 2.01
pb_cli_ok telemetry pb-default-dev --latest --json >"$TERN_TMP/dtel.json"
node "$PB_DIR/stored.mjs" latest "$TERN_TMP/dtel.json" '{"temperature": 42.0, "innerObject": {"key1":"v","key4":0}}' \
    "$t0" "$t1" || { show_file "$TERN_TMP/dtel.json" >&2; fail "default telemetry schema: stored at the server's time"; }
pb_encode_text attributes.SensorConfiguration "$S/tb_default_attributes.proto" "$TERN_TMP/dattr.bin" 'firmwareVersion: "2.0"'
coap dattr -m post -f "$TERN_TMP/dattr.bin" "$(coap_uri "api/v1/$TOKEN2/attributes")"
assert_code dattr 2.01
pb_cli_ok attr get pb-default-dev --scope client --json >"$TERN_TMP/dattr.json"
node "$PB_DIR/stored.mjs" client "$TERN_TMP/dattr.json" '{"firmwareVersion": "2.0"}' ||
    { show_file "$TERN_TMP/dattr.json" >&2; fail "default attributes schema"; }

# an empty schema text is the default too
: >"$TERN_TMP/empty.proto"
pb_cli_ok profile add pb-empty --payload protobuf --telemetry-proto "$TERN_TMP/empty.proto" >/dev/null
TOKEN3=pb-empty-token-$RANDOM$RANDOM
pb_cli_ok device add pb-empty-dev --token "$TOKEN3" --profile pb-empty >/dev/null
coap etel -m post -f "$TERN_TMP/default.bin" "$(coap_uri "api/v1/$TOKEN3/telemetry")"
assert_code etel 2.01
pb_cli_ok telemetry pb-empty-dev --latest --json >"$TERN_TMP/etel.json"
node "$PB_DIR/stored.mjs" latest "$TERN_TMP/etel.json" '{"temperature": 42.0, "innerObject": {"key1":"v","key4":0}}' \
    0 99999999999999 || { show_file "$TERN_TMP/etel.json" >&2; fail "an empty telemetry schema is ThingsBoard's default"; }

# ---- NON telemetry gets a NON 2.01 ----
pb_encode_text sensors.Reading "$S/telemetry.proto" "$TERN_TMP/reading3.bin" 'ts: 1700000120000 values { temperature: 1.5 }'
coap tel_non -N -m post -f "$TERN_TMP/reading3.bin" "$(coap_uri "api/v1/$TOKEN/telemetry")"
assert_code tel_non 2.01 NON

tern_stop

# ---- type casting off: ThingsBoard's path leaves the printed 64-bit integers strings ----
pb_start --set plugins.protobuf.type_cast_enabled=false
pb_encode_text sensors.Reading "$S/telemetry.proto" "$TERN_TMP/nocast.bin" \
    'ts: 1700000180000 values { temperature: 2.5 energy: 42 error_count: 7 label: "17" }'
coap nocast -m post -f "$TERN_TMP/nocast.bin" "$(coap_uri "api/v1/$TOKEN/telemetry")"
assert_code nocast 2.01
pb_cli_ok telemetry "$DEV" --key temperature --key energy --key errorCount --key label --latest --json >"$TERN_TMP/nocast.json"
node "$PB_DIR/stored.mjs" latest "$TERN_TMP/nocast.json" '{"temperature": 2.5, "energy": "42", "errorCount": 7, "label": "17"}' \
    1700000180000 || { show_file "$TERN_TMP/nocast.json" >&2; fail "type casting off: an int64 stays the string the printer wrote"; }
tern_stop
tern_note PASS
