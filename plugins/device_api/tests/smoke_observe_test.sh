#!/usr/bin/env bash
# device_api smoke test: an attribute observation gets every shared attribute first, then a
# notification for an operator's change through the admin CLI, and the session shows up.
source "$(dirname "$0")/smoke.sh"
start_device_api

cli device add thermo-1 --token OBS_TOKEN
cli attr set thermo-1 --shared mode=eco

out=$TERN_TMP/observe.out
timeout 30 "$COAP_CLIENT" -v 7 -s 8 -B 12 "$(coap_uri api/v1/OBS_TOKEN/attributes)" >"$out" 2>&1 &
client=$!
wait_until 5 grep -q "c:2\.05 .*Observe:0.*{\"mode\":\"eco\"}" "$out" ||
    { show_file "$out" >&2; fail "the registration's answer is not every shared attribute"; }

wait_until 5 bash -c "'$TERN_BIN' device sessions --config '$TERN_MANIFEST' | grep -q thermo-1" ||
    fail "no session is listed for the observing device"

cli attr set thermo-1 --shared target=21.5
wait_until 5 grep -q 'c:2\.05 .*Observe:1,.*{"target":21.5}' "$out" ||
    { show_file "$out" >&2; fail "no notification for the shared attribute change"; }
cli attr delete thermo-1 --shared mode
wait_until 5 grep -q '{"deleted":\["mode"\]}' "$out" ||
    { show_file "$out" >&2; fail "no notification for the deleted attribute"; }

wait "$client"
# coap-client leaves with Observe=1: the session closes
wait_until 5 bash -c "! '$TERN_BIN' device sessions --config '$TERN_MANIFEST' | grep -q thermo-1" ||
    fail "the session is still listed after the observer left"
tern_stop
tern_note "ok"
