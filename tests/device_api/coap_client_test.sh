#!/usr/bin/env bash
# The device API as libcoap firmware uses it (coap-client), set up and checked with the
# `tern` CLI: telemetry and attributes (CON, NON, the whole path in one Uri-Path option),
# GET attributes, an attribute observation receiving `tern attr set`, an RPC observation
# receiving `tern rpc`, the reply shown by `tern rpc --get`, a Block2 firmware download
# checked against fw_checksum, and errors with their diagnostics.
set -u
source "$TERN_SOURCE_DIR/tests/device_api/device_api.sh"
dapi_init
dapi_start

TOKEN=cc-token-$RANDOM$RANDOM
DEV=cc-device
dapi_cli_ok device add "$DEV" --token "$TOKEN" >/dev/null

# json_get FILE EXPR: evaluates a JS expression over the JSON in FILE (as `j`)
json_get() {
    node -e 'const fs=require("fs"); const j=JSON.parse(fs.readFileSync(process.argv[1],"utf8")); const v=('"$2"'); process.stdout.write(typeof v==="string"?v:JSON.stringify(v))' "$1"
}

# ---- telemetry, CON: piggy-backed 2.01, stored with its types ----
coap tel -m post -t json -e '{"temperature":21.5,"count":3,"ok":true,"mode":"eco"}' "$(coap_uri "api/v1/$TOKEN/telemetry")"
assert_code tel 2.01 ACK
assert_not_received tel "Content-Format" "2.01 carries no Content-Format"
dapi_cli_ok telemetry "$DEV" --latest --json >"$TERN_TMP/tel.json"
assert_eq 21.5 "$(json_get "$TERN_TMP/tel.json" 'j.temperature.value')" "temperature stored"
assert_contains "$TERN_TMP/tel.json" '"value":21.5' "temperature stored as a double"
assert_contains "$TERN_TMP/tel.json" '"value":3}' "count stored as an integer"
assert_contains "$TERN_TMP/tel.json" '"value":true' "ok stored as a boolean"
assert_contains "$TERN_TMP/tel.json" '"value":"eco"' "mode stored as a string"

# ---- NON telemetry -> NON 2.01 ----
coap tel_non -N -m post -t json -e '{"non":1}' "$(coap_uri "api/v1/$TOKEN/telemetry")"
assert_code tel_non 2.01 NON

# ---- the whole path in one Uri-Path option (some firmware does this, §1.1) ----
coap tel_single -m post -t json -e '{"single":7}' -O "11,/api/v1/$TOKEN/telemetry" "coap://127.0.0.1:$TERN_UDP_PORT"
assert_code tel_single 2.01
dapi_cli_ok telemetry "$DEV" --latest --json >"$TERN_TMP/tel2.json"
assert_contains "$TERN_TMP/tel2.json" '"single"' "telemetry sent with one Uri-Path option is stored"
assert_contains "$TERN_TMP/tel2.json" '"non"' "NON telemetry is stored"

# ---- client attributes and GET attributes ----
coap attr -m post -t json -e '{"fwVersion":"1.2.3","interval":30}' "$(coap_uri "api/v1/$TOKEN/attributes")"
assert_code attr 2.01
dapi_cli_ok attr set "$DEV" --shared targetTemp=22.5 --shared mode=eco >/dev/null
coap attr_get "$(coap_uri "api/v1/$TOKEN/attributes?clientKeys=fwVersion&sharedKeys=targetTemp,mode")"
assert_code attr_get 2.05
assert_received attr_get "Content-Format:application/json" "GET attributes answers application/json (50)"
body=$(coap_body attr_get)
node -e '
const b = JSON.parse(process.argv[1]);
const want = {client:{fwVersion:"1.2.3"}, shared:{targetTemp:22.5, mode:"eco"}};
if (JSON.stringify(b, Object.keys(b).sort()) === undefined || JSON.stringify(b.client) !== JSON.stringify(want.client) ||
    b.shared.targetTemp !== 22.5 || b.shared.mode !== "eco" || Object.keys(b).length !== 2) process.exit(1);' "$body" ||
    fail "GET attributes: expected {\"client\":{\"fwVersion\":\"1.2.3\"},\"shared\":{\"targetTemp\":22.5,\"mode\":\"eco\"}}, got '$body'"

# ---- attribute observation: `tern attr set` arrives as a notification ----
timeout 20 "$COAP_CLIENT" -v 7 -s 8 -B 10 "$(coap_uri "api/v1/$TOKEN/attributes")" >"$TERN_TMP/obs.out" 2>&1 &
obs=$!
wait_until 5 grep -qE "c:2\.05 .*Observe:" "$TERN_TMP/obs.out" || { kill $obs; show_file "$TERN_TMP/obs.out" >&2; fail "attribute observation not registered"; }
grep -E "c:2\.05 .*Observe:.*targetTemp" "$TERN_TMP/obs.out" >/dev/null ||
    { kill $obs; show_file "$TERN_TMP/obs.out" >&2; fail "initial observe response lacks the shared attributes"; }
dapi_cli_ok attr set "$DEV" --shared mode=boost >/dev/null
wait_until 5 grep -qF '{"mode":"boost"}' "$TERN_TMP/obs.out" || { kill $obs; show_file "$TERN_TMP/obs.out" >&2; fail "no notification {\"mode\":\"boost\"} after tern attr set"; }
dapi_cli_ok attr delete "$DEV" --shared mode >/dev/null
wait_until 5 grep -qF '{"deleted":["mode"]}' "$TERN_TMP/obs.out" || { kill $obs; show_file "$TERN_TMP/obs.out" >&2; fail "no notification {\"deleted\":[\"mode\"]} after tern attr delete"; }
grep -E "t:CON c:2\.05 .*boost" "$TERN_TMP/obs.out" >/dev/null || { kill $obs; show_file "$TERN_TMP/obs.out" >&2; fail "CON registration: notification should be CON"; }
wait $obs

# ---- RPC observation: `tern rpc` (one-way) reaches the device ----
timeout 20 "$COAP_CLIENT" -v 7 -s 6 -B 8 "$(coap_uri "api/v1/$TOKEN/rpc")" >"$TERN_TMP/rpc.out" 2>&1 &
rpcobs=$!
wait_until 5 grep -qE "c:2\.03 .*Observe:" "$TERN_TMP/rpc.out" || { kill $rpcobs; show_file "$TERN_TMP/rpc.out" >&2; fail "RPC observation: no 2.03 with Observe"; }
dapi_cli_ok rpc "$DEV" setGpio '{"pin":4,"value":1}' --oneway --timeout 5000 >/dev/null
wait_until 5 grep -qF '"method":"setGpio"' "$TERN_TMP/rpc.out" || { kill $rpcobs; show_file "$TERN_TMP/rpc.out" >&2; fail "the RPC did not reach the device"; }
grep -F '"params":{"pin":4,"value":1}' "$TERN_TMP/rpc.out" >/dev/null || { kill $rpcobs; show_file "$TERN_TMP/rpc.out" >&2; fail "RPC params"; }
wait $rpcobs

# a two-way RPC answered by coap-client posting the reply
dapi_cli_ok rpc "$DEV" getState --persistent --timeout 60000 --json >"$TERN_TMP/rpc2.json"
rpc_id=$(json_get "$TERN_TMP/rpc2.json" 'j.id')
[ -n "$rpc_id" ] || fail "no RPC id from tern rpc --persistent"
timeout 20 "$COAP_CLIENT" -v 7 -s 3 -B 5 "$(coap_uri "api/v1/$TOKEN/rpc")" >"$TERN_TMP/rpc3.out" 2>&1
grep -qF "\"id\":$rpc_id" "$TERN_TMP/rpc3.out" || { show_file "$TERN_TMP/rpc3.out" >&2; fail "persistent RPC $rpc_id not delivered on subscription"; }
coap rpc_reply -m post -t json -e '{"state":"on"}' "$(coap_uri "api/v1/$TOKEN/rpc/$rpc_id")"
assert_code rpc_reply 2.01
dapi_cli_ok rpc "$DEV" --get "$rpc_id" --json >"$TERN_TMP/rpc4.json"
assert_eq SUCCESSFUL "$(json_get "$TERN_TMP/rpc4.json" 'j.status')" "tern rpc --get: status"
assert_eq '{"state":"on"}' "$(json_get "$TERN_TMP/rpc4.json" 'j.result')" "tern rpc --get: result"

# ---- firmware: tern ota upload + assign, Block2 download with 64-byte blocks ----
head -c 3000 /dev/urandom >"$TERN_TMP/fw.bin"
dapi_cli_ok ota upload "$TERN_TMP/fw.bin" --title cc-fw --version 1.0 --json >"$TERN_TMP/ota.json"
pkg=$(json_get "$TERN_TMP/ota.json" 'j.id')
dapi_cli_ok ota assign "$DEV" "$pkg" >/dev/null
dapi_cli_ok attr get "$DEV" --scope shared --json >"$TERN_TMP/shared.json"
fw_checksum=$(json_get "$TERN_TMP/shared.json" 'j.shared.find(a => a.key === "fw_checksum").value')
assert_eq "$(sha256sum "$TERN_TMP/fw.bin" | cut -d' ' -f1)" "$fw_checksum" "fw_checksum is the SHA-256 of the uploaded image"
coap fw -b 64 "$(coap_uri "fw/$TOKEN?title=cc-fw&version=1.0")"
assert_code fw 2.05
assert_same_file "$TERN_TMP/fw.bin" "$TERN_TMP/fw.body" "Block2 download (64-byte blocks) of /fw/TOKEN"
assert_eq "$fw_checksum" "$(sha256sum "$TERN_TMP/fw.body" | cut -d' ' -f1)" "the downloaded image matches fw_checksum"
coap fw_chunk "$(coap_uri "fw/$TOKEN?size=1024&chunk=2")"
assert_code fw_chunk 2.05
tail -c +2049 "$TERN_TMP/fw.bin" >"$TERN_TMP/fw.chunk2"
assert_same_file "$TERN_TMP/fw.chunk2" "$TERN_TMP/fw_chunk.body" "chunk 2 of 1024 bytes"

# ---- errors come with a diagnostic ----
coap bad_token -m post -t json -e '{"a":1}' "$(coap_uri "api/v1/not-a-token/telemetry")"
assert_error bad_token 4.01
coap bad_json -m post -t json -e '{"a":' "$(coap_uri "api/v1/$TOKEN/telemetry")"
assert_error bad_json 4.00
coap bad_method -m put -t json -e '{"a":1}' "$(coap_uri "api/v1/$TOKEN/telemetry")"
assert_error bad_method 4.05
coap bad_feature -m post -e 'x' "$(coap_uri "api/v1/$TOKEN/nothing")"
assert_error bad_feature 4.00
coap fw_mismatch "$(coap_uri "fw/$TOKEN?title=cc-fw&version=9")"
assert_error fw_mismatch 4.00

# ---- /.well-known/core ----
coap wk "$(coap_uri ".well-known/core")"
assert_code wk 2.05
for p in '</api/v1>' '</fw>' '</sw>'; do
    assert_contains "$TERN_TMP/wk.body" "$p" "/.well-known/core lists $p"
done

tern_stop
tern_note PASS
