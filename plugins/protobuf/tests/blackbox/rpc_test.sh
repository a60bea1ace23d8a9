#!/usr/bin/env bash
# RPC with a protobuf device (docs/device-api.md §4, §8), coap-client-openssl as firmware and
# the `tern` CLI as the operator. Server-side: the device observes …/rpc, `tern rpc` sends a
# call, it arrives as the profile's RPC request message (its message-typed params filled from
# the call's JSON, unknown fields ignored), the device posts its reply in the profile's RPC
# response message to …/rpc/{id}, and `tern rpc` returns that reply as JSON. ThingsBoard's
# default RPC schemas when the profile has none. Client-side: the device posts
# transportapi.RpcRequest and gets transport.ToServerRpcResponseMsg, from the core's built-in
# methods and from an operator (`tern client-rpc reply`).
set -u
source "$TERN_SOURCE_DIR/plugins/protobuf/tests/blackbox/pb_blackbox.sh"
pb_init
pb_start --set plugins.device_api.client_rpc_timeout=8000

S=$PB_SCHEMAS
T=$S/transport.proto
pb_cli_ok profile add pb-rpc --transport COAP --payload protobuf \
    --rpc-request-proto "$S/rpc_request.proto" --rpc-response-proto "$S/rpc_response.proto" >/dev/null
TOKEN=pb-rpc-token-$RANDOM$RANDOM
DEV=pb-rpc-dev
pb_cli_ok device add "$DEV" --token "$TOKEN" --profile pb-rpc >/dev/null

# observe NAME TOKEN SECONDS: an RPC observation by coap-client in the background ($obs_pid);
# returns once the 2.03 registration answer came.
observe_rpc() {
    timeout $(($3 + 10)) "$COAP_CLIENT" -v 7 -s "$3" -B "$3" "$(coap_uri "api/v1/$2/rpc")" >"$TERN_TMP/$1.out" 2>&1 &
    obs_pid=$!
    wait_until 5 coap_payload_count_at_least "$1" 1 || { kill $obs_pid; show_file "$TERN_TMP/$1.out" >&2; fail "$1: no answer to the RPC observation"; }
    assert_received "$1" "t:ACK c:2\.03 .*Observe:0" "$1: RPC observation registered with 2.03, Observe 0"
}

# ---- server-side RPC: custom request/response schemas ----
observe_rpc obs "$TOKEN" 15
timeout 30 "$TERN_BIN" rpc "$DEV" setGpio '{"pin":4,"value":1,"label":"led","extra":true}' --timeout 10000 --json \
    --config "$TERN_MANIFEST" >"$TERN_TMP/rpc.json" 2>&1 &
rpc_pid=$!
wait_until 8 coap_payload_count_at_least obs 2 || { kill $obs_pid $rpc_pid; show_file "$TERN_TMP/obs.out" >&2; fail "the RPC did not reach the device"; }
assert_received obs "t:CON c:2\.05 .*Observe:[0-9]+.*Content-Format:application/octet-stream" "the RPC notification: CON 2.05, Content-Format 42"
assert_eq 2.05 "$(coap_payload_file obs 2 "$TERN_TMP/req.bin")" "the RPC notification"
pb_decode gpio.RpcRequestMsg "$S/rpc_request.proto" "$TERN_TMP/req.bin" >"$TERN_TMP/req.txt"
rpc_id=$(sed -nE 's/^requestId: ([0-9]+)$/\1/p' "$TERN_TMP/req.txt")
[ -n "$rpc_id" ] || { show_file "$TERN_TMP/req.txt" >&2; fail "the RPC request message has no requestId"; }
printf 'method: "setGpio"\nrequestId: %s\nparams {\n  pin: 4\n  value: 1\n  label: "led"\n}\n' "$rpc_id" >"$TERN_TMP/req.want"
diff "$TERN_TMP/req.want" "$TERN_TMP/req.txt" >&2 || fail "the RPC arrives as gpio.RpcRequestMsg with its params merged (diff: < expected, > received)"

pb_encode_text gpio.RpcResponseMsg "$S/rpc_response.proto" "$TERN_TMP/reply.bin" 'result: "ok" state { pin: 4 on: true } uptime: 123456789012'
coap reply -m post -t 42 -f "$TERN_TMP/reply.bin" "$(coap_uri "api/v1/$TOKEN/rpc/$rpc_id")"
assert_code reply 2.01
wait $rpc_pid || { show_file "$TERN_TMP/rpc.json" >&2; fail "tern rpc failed after the device's reply"; }
assert_eq SUCCESSFUL "$(json_get "$TERN_TMP/rpc.json" 'j.status')" "tern rpc: status"
json_get "$TERN_TMP/rpc.json" 'j.result' >"$TERN_TMP/result.json"
node "$PB_DIR/stored.mjs" json "$TERN_TMP/result.json" '{"result":"ok","state":{"pin":4,"on":true},"uptime":"123456789012"}' ||
    fail "tern rpc returns the reply as protobuf's JSON form of the response message"
pb_cli_ok rpc "$DEV" --get "$rpc_id" --json >"$TERN_TMP/rpc_get.json"
assert_eq SUCCESSFUL "$(json_get "$TERN_TMP/rpc_get.json" 'j.status')" "tern rpc --get: status"
json_get "$TERN_TMP/rpc_get.json" 'j.result' >"$TERN_TMP/result2.json"
node "$PB_DIR/stored.mjs" json "$TERN_TMP/result2.json" '{"result":"ok","state":{"pin":4,"on":true},"uptime":"123456789012"}' ||
    fail "tern rpc --get shows the stored reply"
kill $obs_pid 2>/dev/null; wait $obs_pid 2>/dev/null

# ---- default schemas: RpcRequestMsg with a string params, RpcResponseMsg {payload} ----
pb_cli_ok profile add pb-rpc-default --transport COAP --payload protobuf >/dev/null
TOKEN2=pb-rpc-default-$RANDOM$RANDOM
pb_cli_ok device add pb-rpc-default-dev --token "$TOKEN2" --profile pb-rpc-default >/dev/null
observe_rpc obs2 "$TOKEN2" 15
timeout 30 "$TERN_BIN" rpc pb-rpc-default-dev reboot '"now"' --timeout 10000 --json \
    --config "$TERN_MANIFEST" >"$TERN_TMP/rpc2.json" 2>&1 &
rpc_pid=$!
wait_until 8 coap_payload_count_at_least obs2 2 || { kill $obs_pid $rpc_pid; show_file "$TERN_TMP/obs2.out" >&2; fail "the RPC did not reach the default-schema device"; }
coap_payload_file obs2 2 "$TERN_TMP/req2.bin" >/dev/null
pb_decode rpc.RpcRequestMsg "$S/tb_default_rpc.proto" "$TERN_TMP/req2.bin" >"$TERN_TMP/req2.txt"
rpc_id2=$(sed -nE 's/^requestId: ([0-9]+)$/\1/p' "$TERN_TMP/req2.txt")
printf 'method: "reboot"\nrequestId: %s\nparams: "now"\n' "$rpc_id2" >"$TERN_TMP/req2.want"
diff "$TERN_TMP/req2.want" "$TERN_TMP/req2.txt" >&2 || fail "default schema: the RPC arrives as rpc.RpcRequestMsg {method, requestId, params}"
pb_encode_text rpc.RpcResponseMsg "$S/tb_default_rpc.proto" "$TERN_TMP/reply2.bin" 'payload: "done"'
coap reply2 -m post -f "$TERN_TMP/reply2.bin" "$(coap_uri "api/v1/$TOKEN2/rpc/$rpc_id2")"
assert_code reply2 2.01
wait $rpc_pid || { show_file "$TERN_TMP/rpc2.json" >&2; fail "tern rpc (default schemas) failed"; }
json_get "$TERN_TMP/rpc2.json" 'j.result' >"$TERN_TMP/result3.json"
node "$PB_DIR/stored.mjs" json "$TERN_TMP/result3.json" '{"payload":"done"}' || fail "default response schema: the reply is {\"payload\":…}"
kill $obs_pid 2>/dev/null; wait $obs_pid 2>/dev/null

# a number for the default schema's string params arrives as its text
observe_rpc obs5 "$TOKEN2" 10
pb_cli_ok rpc pb-rpc-default-dev setLevel 42 --oneway --timeout 5000 >/dev/null
wait_until 8 coap_payload_count_at_least obs5 2 || { kill $obs_pid; show_file "$TERN_TMP/obs5.out" >&2; fail "the one-way RPC did not reach the device"; }
coap_payload_file obs5 2 "$TERN_TMP/req5.bin" >/dev/null
pb_decode rpc.RpcRequestMsg "$S/tb_default_rpc.proto" "$TERN_TMP/req5.bin" >"$TERN_TMP/req5.txt"
assert_contains "$TERN_TMP/req5.txt" 'params: "42"' "params 42 in a string field: \"42\""
assert_contains "$TERN_TMP/req5.txt" 'method: "setLevel"' "the one-way RPC's method"
kill $obs_pid 2>/dev/null; wait $obs_pid 2>/dev/null

# object params cannot go into the default schema's string params: the RPC is FAILED and the
# observation ends with 5.00 (docs/device-api.md §4.1)
observe_rpc obs4 "$TOKEN2" 12
pb_cli_ok rpc pb-rpc-default-dev setGpio '{"pin":4}' --persistent --timeout 20000 --json >"$TERN_TMP/rpc4.json"
rpc_id4=$(json_get "$TERN_TMP/rpc4.json" 'j.id')
failed() { pb_cli rpc pb-rpc-default-dev --get "$rpc_id4" --json && [ "$(json_get "$TERN_TMP/cli.out" 'j.status')" = FAILED ]; }
wait_until 8 failed || { kill $obs_pid; show_file "$TERN_TMP/cli.out" >&2; fail "an RPC the request schema cannot hold should be FAILED"; }
assert_contains "$TERN_TMP/cli.out" "Failed to convert device RPC command to CoAP msg" "the FAILED RPC's error"
wait_until 5 coap_payload_count_at_least obs4 2 || { kill $obs_pid; show_file "$TERN_TMP/obs4.out" >&2; fail "the RPC observation should end with 5.00"; }
assert_received obs4 "c:5\.00 " "the RPC observation ends with 5.00"
kill $obs_pid 2>/dev/null; wait $obs_pid 2>/dev/null

# a reply that does not decode as the response message: 4.00, the RPC stays unanswered
observe_rpc obs3 "$TOKEN" 12
pb_cli_ok rpc "$DEV" setGpio '{"pin":5}' --persistent --timeout 20000 --json >"$TERN_TMP/rpc3.json"
rpc_id3=$(json_get "$TERN_TMP/rpc3.json" 'j.id')
wait_until 8 coap_payload_count_at_least obs3 2 || { kill $obs_pid; show_file "$TERN_TMP/obs3.out" >&2; fail "the persistent RPC did not reach the device"; }
printf '\x0a\x40ab' >"$TERN_TMP/bad_reply.bin"
coap bad_reply -m post -f "$TERN_TMP/bad_reply.bin" "$(coap_uri "api/v1/$TOKEN/rpc/$rpc_id3")"
assert_error bad_reply 4.00
pb_cli_ok rpc "$DEV" --get "$rpc_id3" --json >"$TERN_TMP/rpc3_get.json"
assert_ne SUCCESSFUL "$(json_get "$TERN_TMP/rpc3_get.json" 'j.status')" "an undecodable reply is not stored as the result"
kill $obs_pid 2>/dev/null; wait $obs_pid 2>/dev/null

# ---- client-side RPC: transportapi.RpcRequest -> transport.ToServerRpcResponseMsg ----
A=$S/transportapi.proto
pb_encode_text transportapi.RpcRequest "$A" "$TERN_TMP/time.bin" 'method: "getCurrentTime" params: "{}"'
t0=$(date +%s%3N)
coap time -m post -f "$TERN_TMP/time.bin" "$(coap_uri "api/v1/$TOKEN/rpc")"
t1=$(date +%s%3N)
assert_code time 2.05 ACK
assert_received time "c:2\.05 .*Content-Format:application/octet-stream" "client-side RPC answer: Content-Format 42"
pb_decode transport.ToServerRpcResponseMsg "$T" "$TERN_TMP/time.body" >"$TERN_TMP/time.txt"
pb_string_field "$TERN_TMP/time.txt" payload >"$TERN_TMP/time_payload.json"
time_ms=$(json_get "$TERN_TMP/time_payload.json" 'j.time')
[ "$time_ms" -ge "$t0" ] 2>/dev/null && [ "$time_ms" -le "$t1" ] ||
    { show_file "$TERN_TMP/time.txt" >&2; fail "getCurrentTime: payload {\"time\":<now>} expected"; }
assert_eq "" "$(pb_string_field "$TERN_TMP/time.txt" error)" "getCurrentTime: no error"

pb_encode_text transportapi.RpcRequest "$A" "$TERN_TMP/ping.bin" 'method: "ping" params: "{\"a\":[1,\"x\"]}"'
coap ping -m post -f "$TERN_TMP/ping.bin" "$(coap_uri "api/v1/$TOKEN/rpc")"
assert_code ping 2.05
pb_decode transport.ToServerRpcResponseMsg "$T" "$TERN_TMP/ping.body" >"$TERN_TMP/ping.txt"
pb_string_field "$TERN_TMP/ping.txt" payload >"$TERN_TMP/ping_payload.json"
node "$PB_DIR/stored.mjs" json "$TERN_TMP/ping_payload.json" '{"pong":{"a":[1,"x"]}}' || fail "ping: the params come back in the payload"

# an operator answers: the call waits in `tern client-rpc list`, `tern client-rpc reply` answers it
pb_encode_text transportapi.RpcRequest "$A" "$TERN_TMP/weather.bin" 'method: "getWeather" params: "{\"city\":\"Oslo\"}"'
COAP_TIMEOUT=20 coap weather -B 12 -m post -f "$TERN_TMP/weather.bin" "$(coap_uri "api/v1/$TOKEN/rpc")" &
weather_pid=$!
call_waiting() {
    pb_cli client-rpc list --json && json_get "$TERN_TMP/cli.out" \
        "(j.calls.find(c => c.device === '$DEV' && c.method === 'getWeather') || {}).id" >"$TERN_TMP/call_id" &&
        [ -s "$TERN_TMP/call_id" ]
}
wait_until 8 call_waiting || { kill $weather_pid; show_file "$TERN_TMP/cli.out" >&2; fail "the client-side call is not queued for the operator"; }
call_id=$(cat "$TERN_TMP/call_id")
pb_cli client-rpc list --json
assert_eq '{"city":"Oslo"}' "$(json_get "$TERN_TMP/cli.out" "j.calls.find(c => c.id === $call_id).params")" "the queued call's params"
pb_cli_ok client-rpc reply "$call_id" '{"temp":-3,"unit":"C"}' >/dev/null
wait $weather_pid
assert_code weather 2.05
pb_decode transport.ToServerRpcResponseMsg "$T" "$TERN_TMP/weather.body" >"$TERN_TMP/weather.txt"
pb_string_field "$TERN_TMP/weather.txt" payload >"$TERN_TMP/weather_payload.json"
node "$PB_DIR/stored.mjs" json "$TERN_TMP/weather_payload.json" '{"temp":-3,"unit":"C"}' || fail "the operator's reply in ToServerRpcResponseMsg.payload"

# a call that does not decode as transportapi.RpcRequest: 4.00 with a reason, as ThingsBoard's
# protobuf adaptor answers (JSON's unreadable calls are 5.00, docs/device-api.md §1.3)
printf '\x0a\x40ab' >"$TERN_TMP/bad_call.bin"
coap bad_call -m post -f "$TERN_TMP/bad_call.bin" "$(coap_uri "api/v1/$TOKEN/rpc")"
assert_error bad_call 4.00

tern_stop
tern_note PASS
