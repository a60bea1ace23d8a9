#!/usr/bin/env bash
# device_api smoke test: a server-side RPC round trip (Observe /rpc, notification, POST
# rpc/{id}) and a client-side RPC answered by the core's built-in getCurrentTime.
source "$(dirname "$0")/smoke.sh"
start_device_api

cli device add pump-1 --token RPC_TOKEN

out=$TERN_TMP/rpc_observe.out
timeout 30 "$COAP_CLIENT" -v 7 -s 10 -B 14 "$(coap_uri api/v1/RPC_TOKEN/rpc)" >"$out" 2>&1 &
client=$!
wait_until 5 grep -q "c:2\.03 .*Observe:0" "$out" || { show_file "$out" >&2; fail "no 2.03 for the RPC observation"; }

timeout 20 "$TERN_BIN" rpc pump-1 setGpio '{"pin":4,"value":1}' --timeout 8000 --config "$TERN_MANIFEST" \
    >"$TERN_TMP/rpc_cmd.out" 2>&1 &
rpc_cmd=$!
wait_until 5 grep -q '"method":"setGpio","params":{"pin":4,"value":1}' "$out" ||
    { show_file "$out" >&2; fail "the RPC did not reach the device"; }
id=$(grep -o '"id":[0-9]*' "$out" | head -n1 | cut -d: -f2)
[ -n "$id" ] || fail "no RPC id in the notification"

coap reply -m post -e '{"done":true}' "$(coap_uri "api/v1/RPC_TOKEN/rpc/$id")"
assert_code reply 2.01
wait "$rpc_cmd" || { show_file "$TERN_TMP/rpc_cmd.out" >&2; fail "tern rpc failed"; }
assert_contains "$TERN_TMP/rpc_cmd.out" "SUCCESSFUL" "the RPC is SUCCESSFUL"
assert_contains "$TERN_TMP/rpc_cmd.out" '{"done":true}' "the device's reply is the result"

coap call -m post -e '{"method":"getCurrentTime","params":{}}' "$(coap_uri api/v1/RPC_TOKEN/rpc)"
assert_code call 2.05
assert_match "$TERN_TMP/call.body" '^\{"time":[0-9]+\}$' "getCurrentTime answers the time"

kill "$client" 2>/dev/null
wait "$client" 2>/dev/null
tern_stop
tern_note "ok"
