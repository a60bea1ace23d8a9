#!/usr/bin/env bash
# Hand-built datagrams (raw_client.mjs) for the message-layer rules real clients rarely
# exercise: ping, malformed and unsolicited messages, duplicates, Uri-Path splitting,
# critical options, Proxy-Uri, No-Response, Observe cancelled by RST.
set -u
source "$TERN_SOURCE_DIR/tests/interop/interop.sh"
tern_init
command -v node >/dev/null || fail "node is required (Debian package nodejs)"
start_plugtest --set plugins.plugtest.obs_period=300

timeout 60 node "$INTEROP_DIR/raw_client.mjs" "$TERN_UDP_PORT" >"$TERN_TMP/raw.out" 2>&1
rc=$?
cat "$TERN_TMP/raw.out"
[ $rc -eq 0 ] || fail "raw client checks failed (exit $rc)"
wait_until 5 grep -q "ended, reason 2 (reset)" "$TERN_LOG" || fail "the RST did not end the observation as RESET"
assert_contains "$TERN_LOG" "ended, reason 4 (replaced)" "a re-registration ends the old relation as REPLACED"
assert_contains "$TERN_LOG" "ended, reason 1 (deregistered)" "GET Observe=1 ends the relation as DEREGISTERED"
dups=$(tern_metric coap_duplicates_total) || fail "no metrics"
assert_ge "$dups" 1 "coap_duplicates_total"
tern_stop
tern_note PASS
