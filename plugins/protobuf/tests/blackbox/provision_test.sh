#!/usr/bin/env bash
# Provisioning with protobuf (docs/device-api.md §5.2, §8): a body that is not JSON is read as
# transport.ProvisionDeviceRequestMsg and answered with transport.ProvisionDeviceResponseMsg,
# with the codes JSON provisioning has: 2.01 SUCCESS (a generated token, or the one asked
# for), 4.00 NOT_FOUND (unknown key, wrong secret), 4.00 FAILURE (a name that is taken,
# provisioning a pre-provisioned device twice), 4.00 with a reason for a body that is neither.
# A provisioned device claims itself with transportapi.ClaimDevice. coap-client-openssl is the
# device; protoc encodes the requests and decodes the answers.
set -u
source "$TERN_SOURCE_DIR/plugins/protobuf/tests/blackbox/pb_blackbox.sh"
pb_init
pb_start

S=$PB_SCHEMAS
T=$S/transport.proto
KEY=pb-prov-key-$RANDOM$RANDOM
SECRET=pb-prov-secret-$RANDOM$RANDOM
pb_cli_ok profile add pb-prov --transport COAP --payload protobuf --provision-key "$KEY" --provision-secret "$SECRET" >/dev/null

# provision NAME TEXT: posts the ProvisionDeviceRequestMsg written in TEXT (protoc text
# format) to /api/v1/provision; the answer's code in $prov_code, its decoded text in
# $TERN_TMP/NAME.txt.
provision() {
    pb_encode_text transport.ProvisionDeviceRequestMsg "$T" "$TERN_TMP/$1.req" "$2"
    coap "$1" -m post -f "$TERN_TMP/$1.req" "$(coap_uri api/v1/provision)"
    prov_code=$(coap_payload_file "$1" 1 "$TERN_TMP/$1.resp")
    pb_decode transport.ProvisionDeviceResponseMsg "$T" "$TERN_TMP/$1.resp" >"$TERN_TMP/$1.txt"
}
creds() { printf 'provisionDeviceCredentialsMsg { provisionDeviceKey: "%s" provisionDeviceSecret: "%s" }' "$1" "$2"; }
device_missing() { if pb_cli device show "$1"; then show_file "$TERN_TMP/cli.out" >&2; fail "$2: device $1 should not exist"; fi; }

# ---- SUCCESS, a generated token that works ----
NAME1=pb-prov-dev-$RANDOM
provision ok1 "deviceName: \"$NAME1\" $(creds "$KEY" "$SECRET")"
assert_eq 2.01 "$prov_code" "provisioning with the right key and secret"
assert_contains "$TERN_TMP/ok1.txt" "status: SUCCESS" "status SUCCESS"
assert_not_contains "$TERN_TMP/ok1.txt" "credentialsType:" "credentialsType ACCESS_TOKEN (the default value)"
token1=$(pb_string_field "$TERN_TMP/ok1.txt" credentialsValue)
[[ "$token1" =~ ^[A-Za-z0-9]{20}$ ]] || { show_file "$TERN_TMP/ok1.txt" >&2; fail "a generated 20-character access token, got '$token1'"; }
pb_cli_ok device show "$NAME1" --json >"$TERN_TMP/dev1.json"
assert_eq "$token1" "$(json_get "$TERN_TMP/dev1.json" 'j.credentials.token')" "the device exists with that token"
assert_eq pb-prov "$(json_get "$TERN_TMP/dev1.json" 'j.profile')" "in the provisioning profile"
pb_encode_text telemetry.SensorDataReading "$S/tb_default_telemetry.proto" "$TERN_TMP/tel.bin" 'temperature: 20.5'
coap tel -m post -f "$TERN_TMP/tel.bin" "$(coap_uri "api/v1/$token1/telemetry")"
assert_code tel 2.01

# ---- the provisioned device claims itself: transportapi.ClaimDevice (docs/device-api.md §5.1) ----
pb_encode_text transportapi.ClaimDevice "$S/transportapi.proto" "$TERN_TMP/claim.bin" 'secretKey: "s3cret" durationMs: 60000'
t0=$(date +%s%3N)
coap claim -m post -f "$TERN_TMP/claim.bin" "$(coap_uri "api/v1/$token1/claim")"
t1=$(date +%s%3N)
assert_code claim 2.01
pb_cli_ok device show "$NAME1" --json >"$TERN_TMP/claimed.json"
expires=$(json_get "$TERN_TMP/claimed.json" 'j.claim.expirationTime')
[ "$expires" -ge $((t0 + 60000)) ] 2>/dev/null && [ "$expires" -le $((t1 + 60000)) ] ||
    { show_file "$TERN_TMP/claimed.json" >&2; fail "the claim expires durationMs (60 s) after it was made"; }
printf '\x0a\x40ab' >"$TERN_TMP/bad_claim.bin"
coap bad_claim -m post -f "$TERN_TMP/bad_claim.bin" "$(coap_uri "api/v1/$token1/claim")"
assert_error bad_claim 4.00

# ---- SUCCESS with the token the device asks for ----
NAME2=pb-prov-dev-$RANDOM
TOKEN2=pb-prov-own-token-$RANDOM$RANDOM
provision ok2 "deviceName: \"$NAME2\" credentialsType: ACCESS_TOKEN $(creds "$KEY" "$SECRET")
credentialsDataProto { validateDeviceTokenRequestMsg { token: \"$TOKEN2\" } }"
assert_eq 2.01 "$prov_code" "provisioning with a requested token"
assert_contains "$TERN_TMP/ok2.txt" "status: SUCCESS" "status SUCCESS"
assert_eq "$TOKEN2" "$(pb_string_field "$TERN_TMP/ok2.txt" credentialsValue)" "credentialsValue is the requested token"

# ---- SUCCESS with MQTT_BASIC credentials: credentialsValue is their JSON object ----
NAME6=pb-prov-mqtt-$RANDOM
provision mqtt "deviceName: \"$NAME6\" credentialsType: MQTT_BASIC $(creds "$KEY" "$SECRET")
credentialsDataProto { validateBasicMqttCredRequestMsg { clientId: \"cid-$NAME6\" userName: \"usr\" password: \"pw\" } }"
assert_eq 2.01 "$prov_code" "provisioning with MQTT_BASIC credentials"
assert_contains "$TERN_TMP/mqtt.txt" "credentialsType: MQTT_BASIC" "credentialsType MQTT_BASIC"
pb_string_field "$TERN_TMP/mqtt.txt" credentialsValue >"$TERN_TMP/mqtt_value.json"
node "$PB_DIR/stored.mjs" json "$TERN_TMP/mqtt_value.json" "{\"clientId\":\"cid-$NAME6\",\"userName\":\"usr\",\"password\":\"pw\"}" ||
    fail "MQTT_BASIC: credentialsValue {clientId, userName, password}"

# ---- NOT_FOUND: wrong secret, unknown key ----
NAME3=pb-prov-dev-$RANDOM
provision secret "deviceName: \"$NAME3\" $(creds "$KEY" wrong-secret)"
assert_eq 4.00 "$prov_code" "wrong secret"
assert_contains "$TERN_TMP/secret.txt" "status: NOT_FOUND" "wrong secret: status NOT_FOUND"
device_missing "$NAME3" "wrong secret"
provision key "deviceName: \"$NAME3\" $(creds no-such-key "$SECRET")"
assert_eq 4.00 "$prov_code" "unknown key"
assert_contains "$TERN_TMP/key.txt" "status: NOT_FOUND" "unknown key: status NOT_FOUND"
device_missing "$NAME3" "unknown key"

# no secret at all: the field is empty, which no profile matches
provision nosecret "deviceName: \"$NAME3\" provisionDeviceCredentialsMsg { provisionDeviceKey: \"$KEY\" }"
assert_eq 4.00 "$prov_code" "no secret"
assert_contains "$TERN_TMP/nosecret.txt" "status: NOT_FOUND" "no secret: status NOT_FOUND"
device_missing "$NAME3" "no secret"

# ---- FAILURE: the name is taken ----
provision taken "deviceName: \"$NAME1\" $(creds "$KEY" "$SECRET")"
assert_eq 4.00 "$prov_code" "a device name that exists"
assert_contains "$TERN_TMP/taken.txt" "status: FAILURE" "name taken: status FAILURE"
pb_cli_ok device show "$NAME1" --json >"$TERN_TMP/dev1_after.json"
assert_eq "$token1" "$(json_get "$TERN_TMP/dev1_after.json" 'j.credentials.token')" "the existing device keeps its token"

# ---- pre-provisioned: the existing credentials once, then FAILURE ----
KEY4=pb-pre-key-$RANDOM$RANDOM
pb_cli_ok profile add pb-pre --transport COAP --payload protobuf --strategy pre-provisioned \
    --provision-key "$KEY4" --provision-secret "$SECRET" >/dev/null
TOKEN4=pb-pre-token-$RANDOM$RANDOM
pb_cli_ok device add pb-pre-dev --token "$TOKEN4" --profile pb-pre >/dev/null
provision pre1 "deviceName: \"pb-pre-dev\" $(creds "$KEY4" "$SECRET")"
assert_eq 2.01 "$prov_code" "pre-provisioned device"
assert_eq "$TOKEN4" "$(pb_string_field "$TERN_TMP/pre1.txt" credentialsValue)" "its existing token"
provision pre2 "deviceName: \"pb-pre-dev\" $(creds "$KEY4" "$SECRET")"
assert_eq 4.00 "$prov_code" "provisioning a pre-provisioned device twice"
assert_contains "$TERN_TMP/pre2.txt" "status: FAILURE" "twice: status FAILURE"

# ---- neither JSON nor protobuf: 4.00 with a reason ----
printf '\x0a\x05\x61' >"$TERN_TMP/garbage.bin"
coap garbage -m post -f "$TERN_TMP/garbage.bin" "$(coap_uri api/v1/provision)"
assert_error garbage 4.00

# ---- JSON provisioning on the same server still answers JSON ----
NAME5=pb-prov-json-$RANDOM
coap json -m post -t json -e "{\"deviceName\":\"$NAME5\",\"provisionDeviceKey\":\"$KEY\",\"provisionDeviceSecret\":\"$SECRET\"}" \
    "$(coap_uri api/v1/provision)"
assert_code json 2.01
assert_eq SUCCESS "$(json_get "$TERN_TMP/json.body" 'j.status')" "JSON request, JSON answer"

tern_stop
tern_note PASS
