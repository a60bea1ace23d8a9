#!/usr/bin/env bash
# M3 (reflection/amplification) against a real tern (udp + coap + device_api + json +
# protobuf + efento + core_embedded, default amplification settings, short CON timers so every retransmission
# falls inside the measurement window):
#   1. amplification.mjs: the smallest valid request to every resource, from addresses the
#      server never verified and that never answer anything (not even the server's ping),
#      with a valid and an unknown token; prints the table of bytes in / bytes out (the
#      empty ACK and the ping included) and fails when a ratio passes
#      plugins.coap.amplification_factor (3);
#   2. amplification_ota_raw.mjs: a raw client without Block2 that answers pings with RST
#      downloads a 20000-byte firmware in 512-byte chunks (?size=512&chunk=N): every chunk
#      whole (the ping verified its address); one that never answers pings gets <= 3x;
#   3. libcoap's coap-client downloads a 20000-byte firmware from a fresh (unverified)
#      address and port: the image arrives whole whatever becomes of the ping (whole blocks
#      when libcoap answers it, small blocks in the ACK when not: at most ~160 GETs); a
#      second download from the same port takes fewer than 30 GETs, the address having
#      been verified during the first (how: coap_address_verifications_total, see below);
#   4. the npm coap package reads a large attribute answer;
#   5. with verify_by_ping = false, libcoap gets the image in small blocks (the cut path).
set -u
source "$TERN_SOURCE_DIR/tests/device_api/device_api.sh"
export TERN_SHARDS=1 DAPI_EFENTO=1
dapi_init
# ack_timeout 100 ms, 4 retransmissions: a separate CON response is given up within ~4.7 s
# ping_timeout 1000 ms: a held answer to an address that never answers the ping goes limited
# after 1 s, and its retransmissions end within the 7 s window
dapi_start --set plugins.coap.ack_timeout=100 --set plugins.coap.max_retransmit=4 \
    --set plugins.coap.ping_timeout=1000
export DAPI_TERN_BIN="$TERN_BIN" DAPI_MANIFEST="$TERN_MANIFEST"
export AMP_FACTOR=3 AMP_WAIT_MS=7000

out="$TERN_TMP/amplification.node.out"
NODE_PATH="$DAPI_NODE_MODULES" timeout 120 node "$TERN_SOURCE_DIR/tests/security/amplification.mjs" >"$out" 2>&1
rc=$?
cat "$out"
[ $rc -eq 0 ] || fail "amplification.mjs: checks failed (exit $rc)"

out="$TERN_TMP/amplification_ota_raw.node.out"
NODE_PATH="$DAPI_NODE_MODULES" timeout 120 node "$TERN_SOURCE_DIR/tests/security/amplification_ota_raw.mjs" >"$out" 2>&1
rc=$?
cat "$out"
[ $rc -eq 0 ] || fail "amplification_ota_raw.mjs: checks failed (exit $rc)"

# ---- libcoap: a firmware download from an unverified address --------------------------------
metric() { # NAME LABEL-SUBSTRING: the sum of matching samples
    curl -s "http://127.0.0.1:$TERN_METRICS_PORT/metrics" 2>/dev/null |
        awk -v n="$1" -v l="$2" '$1 ~ "^"n && index($1, l) { s += $2 } END { print s + 0 }'
}
dapi_cli_ok device add amp-libcoap --token AmpLibcoapToken00001 >/dev/null
head -c 20000 /dev/urandom >"$TERN_TMP/fw.bin"
pkg=$(curl -s -X POST -H "Authorization: Bearer $DAPI_ADMIN_KEY" --data-binary @"$TERN_TMP/fw.bin" \
    "http://127.0.0.1:$DAPI_ADMIN_PORT/api/ota?title=ampfw&version=1.0&type=firmware" |
    sed -nE 's/.*"id":[[:space:]]*([0-9]+).*/\1/p')
[ -n "$pkg" ] || fail "OTA upload failed"
dapi_cli_ok ota assign amp-libcoap "$pkg" >/dev/null
# libcoap 4.3.1 answers an Empty CON with a Reset only when its previous Reset went more than
# 250 ms ago, on a clock that starts with the process: a coap-client pinged in its first
# 250 ms ("dropped message with invalid code (0.00)" in its log) never answers. A download
# from a fresh coap-client therefore normally finds its ping unanswered: the ACK is held for
# ping_timeout (1 s here), then carries the answer cut to the budget (small Block2 blocks,
# with Echo) and libcoap goes on in small blocks. Either way the image must arrive whole.
# The local port is fixed (-p) so that the second download comes from the same address.
port=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
v_before_ping=$(metric coap_address_verifications_total 'how="ping"')
v_before_echo=$(metric coap_address_verifications_total 'how="echo"')
v_before_ack=$(metric coap_address_verifications_total 'how="ack"')
pings_start=$(metric coap_verification_pings_total 'result="sent"')
timeouts_start=$(metric coap_verification_pings_total 'result="timeout"')
gets_before=$(metric coap_requests_total 'method="GET",code="2.05"')
coap fw -p "$port" -m get "$(coap_uri "fw/AmpLibcoapToken00001?title=ampfw&version=1.0")"
cmp -s "$TERN_TMP/fw.bin" "$TERN_TMP/fw.body" ||
    { show_file "$TERN_TMP/fw.err" >&2; fail "libcoap: the 20000-byte firmware did not arrive whole ($(wc -c <"$TERN_TMP/fw.body") bytes)"; }
gets=$(( $(metric coap_requests_total 'method="GET",code="2.05"') - gets_before ))
sizes=$(coap_received fw | grep -oE 'Block2:[0-9]+/[A-Z_0-9]*/?[0-9]+' | awk -F/ '{print $NF}' | sort -u | tr '\n' ' ')
pings_before=$(metric coap_verification_pings_total 'result="sent"')
pings=$((pings_before - pings_start))
ping_timeouts=$(( $(metric coap_verification_pings_total 'result="timeout"') - timeouts_start ))
tern_note "libcoap downloaded 20000 bytes from an unverified address in $gets GET requests (block sizes: ${sizes:-?}; 20 at 1024 bytes when the ping was answered); pings: $pings sent, $ping_timeouts unanswered"
[ "$pings" -ge 1 ] || fail "libcoap: no ping was sent for the first (over-budget) answer"
[ "$gets" -ge 20 ] && [ "$gets" -le 160 ] ||
    fail "libcoap: $gets GET requests for 20000 bytes (want 20..160)"
# No empty ACK then a separate response: every 2.05 rode in an ACK (libcoap cannot take a
# Block2 answer it did not start from a separate response).
if coap_received fw | grep -E '^v:1 t:CON c:2\.05' >/dev/null; then
    fail "libcoap: a 2.05 came as a separate CON response"
fi
v_ping=$(( $(metric coap_address_verifications_total 'how="ping"') - v_before_ping ))
v_echo=$(( $(metric coap_address_verifications_total 'how="echo"') - v_before_echo ))
v_ack=$(( $(metric coap_address_verifications_total 'how="ack"') - v_before_ack ))
tern_note "the first download verified its address: $v_ping by ping, $v_echo by Echo, $v_ack by ACK of our CON"
# What verifies it: the Reset when libcoap answered the ping (it was more than 250 ms old),
# else the Echo value of the cut answer, which libcoap returns in its next block request.
# Our answers all ride in ACKs, so no ACK of a CON of ours ever comes.
[ $((v_ping + v_echo)) -ge 1 ] || fail "libcoap: the first download verified its address neither by ping nor by Echo"
# A second download from the same port: verified, whole blocks from the start.
gets_before=$(metric coap_requests_total 'method="GET",code="2.05"')
coap fw2 -p "$port" -m get "$(coap_uri "fw/AmpLibcoapToken00001?title=ampfw&version=1.0")"
cmp -s "$TERN_TMP/fw.bin" "$TERN_TMP/fw2.body" ||
    { show_file "$TERN_TMP/fw2.err" >&2; fail "libcoap: the second download is not the image ($(wc -c <"$TERN_TMP/fw2.body") bytes)"; }
gets2=$(( $(metric coap_requests_total 'method="GET",code="2.05"') - gets_before ))
tern_note "a second libcoap download from the same port: $gets2 GET requests"
[ "$gets2" -lt 30 ] || fail "libcoap: the second download took $gets2 GET requests (want < 30: its address was verified)"
[ "$(metric coap_verification_pings_total 'result="sent"')" -eq "$pings_before" ] ||
    fail "libcoap: the second download (verified address) was pinged"

# ---- the npm coap package: a large attribute answer --------------------------------------------
curl -s -X POST -H "Authorization: Bearer $DAPI_ADMIN_KEY" -H 'Content-Type: application/json' \
    --data "{\"big\":\"$(head -c 1500 /dev/zero | tr '\0' z)\"}" \
    "http://127.0.0.1:$DAPI_ADMIN_PORT/api/devices/amp-libcoap/attributes/shared" >/dev/null
NODE_PATH="$DAPI_NODE_MODULES" timeout 30 node "$TERN_SOURCE_DIR/tests/security/amplification_npm.mjs" AmpLibcoapToken00001 >"$TERN_TMP/npm.out" 2>&1 ||
    { cat "$TERN_TMP/npm.out"; fail "npm coap: the 1500-byte attribute did not arrive whole"; }
cat "$TERN_TMP/npm.out"

# ---- require_echo: libcoap answers the 4.01 with its Echo value by itself ------------------------
tern_stop
dapi_start --set plugins.coap.require_echo=true
gets_before=$(metric coap_requests_total 'method="GET",code="2.05"')
coap fw3 -m get "$(coap_uri "fw/AmpLibcoapToken00001?title=ampfw&version=1.0")"
cmp -s "$TERN_TMP/fw.bin" "$TERN_TMP/fw3.body" ||
    { show_file "$TERN_TMP/fw3.err" >&2; fail "libcoap with require_echo: the firmware did not arrive whole"; }
gets3=$(( $(metric coap_requests_total 'method="GET",code="2.05"') - gets_before ))
challenges=$(metric coap_requests_total 'method="GET",code="4.01"')
tern_note "require_echo: libcoap downloaded 20000 bytes in $gets3 GET requests after $challenges 4.01 Echo challenge(s)"
[ "$challenges" -ge 1 ] || fail "require_echo: no 4.01 challenge was counted"

# ---- verify_by_ping = false: the answers are cut instead (small Block2 blocks) ---------------------
tern_stop
dapi_start --set plugins.coap.verify_by_ping=false
gets_before=$(metric coap_requests_total 'method="GET",code="2.05"')
coap fw4 -m get "$(coap_uri "fw/AmpLibcoapToken00001?title=ampfw&version=1.0")"
cmp -s "$TERN_TMP/fw.bin" "$TERN_TMP/fw4.body" ||
    { show_file "$TERN_TMP/fw4.err" >&2; fail "libcoap with verify_by_ping=false: the firmware did not arrive whole"; }
gets4=$(( $(metric coap_requests_total 'method="GET",code="2.05"') - gets_before ))
tern_note "verify_by_ping=false: libcoap downloaded 20000 bytes in $gets4 GET requests (smaller blocks until Echo verified it)"
[ "$(metric coap_verification_pings_total 'result="sent"')" -eq 0 ] || fail "verify_by_ping=false: a ping was sent"

tern_stop
tern_note PASS
