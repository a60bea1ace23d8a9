#!/usr/bin/env bash
# Attribute downlinks to a protobuf device (docs/device-api.md §8, §2.4, §3), with
# coap-client-openssl as the firmware: GET attributes answers transport.GetAttributeResponseMsg,
# the first answer of an attribute observation and every change made with `tern attr
# set|delete` arrive as transport.AttributeUpdateNotificationMsg, all with Content-Format 42.
# Every payload is decoded by `protoc --decode` with the test's own copy of the messages.
set -u
source "$TERN_SOURCE_DIR/plugins/protobuf/tests/blackbox/pb_blackbox.sh"
pb_init
pb_start

S=$PB_SCHEMAS
T=$S/transport.proto
pb_cli_ok profile add pb-attrs --transport COAP --payload protobuf --attributes-proto "$S/attributes.proto" >/dev/null
TOKEN=pb-attr-token-$RANDOM$RANDOM
DEV=pb-attr-dev
pb_cli_ok device add "$DEV" --token "$TOKEN" --profile pb-attrs >/dev/null

t0=$(date +%s%3N)
pb_cli_ok attr set "$DEV" --shared targetTemp=22.5 --shared mode=eco --shared enabled=true \
    --shared interval=30 --shared 'cfg={"a":1}' >/dev/null
pb_encode_text devattrs.DeviceAttributes "$S/attributes.proto" "$TERN_TMP/client.bin" 'firmware_version: "1.4.2" serial: 5'
coap client -m post -f "$TERN_TMP/client.bin" "$(coap_uri "api/v1/$TOKEN/attributes")"
assert_code client 2.01

# ---- GET attributes: GetAttributeResponseMsg, Content-Format 42 ----
coap get "$(coap_uri "api/v1/$TOKEN/attributes?clientKeys=firmwareVersion,serial&sharedKeys=targetTemp,mode")"
assert_code get 2.05 ACK
assert_received get "c:2\.05 .*Content-Format:application/octet-stream" "GET attributes answers Content-Format 42"
pb_decode transport.GetAttributeResponseMsg "$T" "$TERN_TMP/get.body" >"$TERN_TMP/get.txt"
pb_kvs "$t0" "$(date +%s%3N)" <"$TERN_TMP/get.txt" >"$TERN_TMP/get.kvs"
assert_kvs get "$TERN_TMP/get.kvs" '
clientAttributeList "firmwareVersion" STRING_V "1.4.2"
clientAttributeList "serial" LONG_V 5
sharedAttributeList "mode" STRING_V "eco"
sharedAttributeList "targetTemp" DOUBLE_V 22.5'
assert_not_contains "$TERN_TMP/get.txt" "error:" "GetAttributeResponseMsg without an error"

# no keys asked: every client and shared attribute, each typed
coap get_all "$(coap_uri "api/v1/$TOKEN/attributes")"
assert_code get_all 2.05
pb_decode transport.GetAttributeResponseMsg "$T" "$TERN_TMP/get_all.body" >"$TERN_TMP/get_all.txt"
pb_kvs "$t0" "$(date +%s%3N)" <"$TERN_TMP/get_all.txt" >"$TERN_TMP/get_all.kvs"
assert_kvs get_all "$TERN_TMP/get_all.kvs" '
clientAttributeList "features" JSON_V "[]"
clientAttributeList "firmwareVersion" STRING_V "1.4.2"
clientAttributeList "restarts" LONG_V 0
clientAttributeList "serial" LONG_V 5
clientAttributeList "threshold" DOUBLE_V 0
clientAttributeList "ts" LONG_V 0
sharedAttributeList "cfg" JSON_V "{\"a\":1}"
sharedAttributeList "enabled" BOOLEAN_V true
sharedAttributeList "interval" LONG_V 30
sharedAttributeList "mode" STRING_V "eco"
sharedAttributeList "targetTemp" DOUBLE_V 22.5'

# nothing found: 4.04 with a diagnostic, as for JSON devices
coap get_none "$(coap_uri "api/v1/$TOKEN/attributes?sharedKeys=nothing")"
assert_error get_none 4.04

# ---- observation: first answer and notifications are AttributeUpdateNotificationMsg ----
timeout 25 "$COAP_CLIENT" -v 7 -s 12 -B 12 "$(coap_uri "api/v1/$TOKEN/attributes")" >"$TERN_TMP/obs.out" 2>&1 &
obs=$!
wait_until 5 coap_payload_count_at_least obs 1 || { kill $obs; show_file "$TERN_TMP/obs.out" >&2; fail "attribute observation: no first answer"; }
assert_received obs "t:ACK c:2\.05 .*Observe:0.*Content-Format:application/octet-stream" "first answer: 2.05, Observe 0, Content-Format 42"
assert_eq 2.05 "$(coap_payload_file obs 1 "$TERN_TMP/obs1.bin")" "first answer code"
pb_decode transport.AttributeUpdateNotificationMsg "$T" "$TERN_TMP/obs1.bin" | pb_kvs "$t0" "$(date +%s%3N)" >"$TERN_TMP/obs1.kvs"
assert_kvs obs1 "$TERN_TMP/obs1.kvs" '
sharedUpdated "cfg" JSON_V "{\"a\":1}"
sharedUpdated "enabled" BOOLEAN_V true
sharedUpdated "interval" LONG_V 30
sharedUpdated "mode" STRING_V "eco"
sharedUpdated "targetTemp" DOUBLE_V 22.5'

t1=$(date +%s%3N)
pb_cli_ok attr set "$DEV" --shared mode=boost >/dev/null
wait_until 5 coap_payload_count_at_least obs 2 || { kill $obs; show_file "$TERN_TMP/obs.out" >&2; fail "no notification after tern attr set"; }
assert_eq 2.05 "$(coap_payload_file obs 2 "$TERN_TMP/obs2.bin")" "notification code"
pb_decode transport.AttributeUpdateNotificationMsg "$T" "$TERN_TMP/obs2.bin" | pb_kvs "$t1" "$(date +%s%3N)" >"$TERN_TMP/obs2.kvs"
assert_kvs obs2 "$TERN_TMP/obs2.kvs" 'sharedUpdated "mode" STRING_V "boost"'

pb_cli_ok attr delete "$DEV" --shared mode >/dev/null
wait_until 5 coap_payload_count_at_least obs 3 || { kill $obs; show_file "$TERN_TMP/obs.out" >&2; fail "no notification after tern attr delete"; }
coap_payload_file obs 3 "$TERN_TMP/obs3.bin" >/dev/null
pb_decode transport.AttributeUpdateNotificationMsg "$T" "$TERN_TMP/obs3.bin" | pb_kvs 0 0 >"$TERN_TMP/obs3.kvs"
assert_kvs obs3 "$TERN_TMP/obs3.kvs" 'sharedDeleted: "mode"'
n=$(coap_received obs | grep -cE "t:CON c:2\.05 .*Observe:[0-9]+.*Content-Format:application/octet-stream")
assert_ge "$n" 2 "both notifications: CON 2.05 with an Observe number and Content-Format 42"
kill $obs 2>/dev/null; wait $obs 2>/dev/null

# ---- a device without shared attributes: the first answer is 2.05 with an empty payload ----
TOKEN2=pb-attr-empty-$RANDOM$RANDOM
pb_cli_ok device add pb-attr-empty --token "$TOKEN2" --profile pb-attrs >/dev/null
timeout 10 "$COAP_CLIENT" -v 7 -s 1 -B 3 "$(coap_uri "api/v1/$TOKEN2/attributes")" >"$TERN_TMP/obs_empty.out" 2>&1
first=$(coap_payloads obs_empty | head -n1)
assert_eq 2.05 "$first" "observation without shared attributes: 2.05 with no payload"

tern_stop
tern_note PASS
