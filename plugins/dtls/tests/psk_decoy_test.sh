#!/usr/bin/env bash
# PSK identities cannot be enumerated (the security issue; README "PSK"): a handshake with
# an identity no device has is answered with a decoy key, so it fails like a handshake with
# a known identity and a wrong key: no alert, the same datagrams, the same error at the
# client. Operators still see which it was (dtls_handshakes_total reasons). A device added
# after its identity was looked up can handshake once psk_negative_cache_ttl has passed.
set -u
source "$TERN_SOURCE_DIR/plugins/dtls/tests/dtls_lib.sh"
if [ ! -f "$TERN_BUILD_DIR/plugins/libtern-core_embedded.so" ]; then
    echo "[$TERN_TEST_NAME] SKIP: libtern-core_embedded.so is not built"
    exit 77
fi
DTLS_FLOOD=${DTLS_FLOOD:-$TERN_BUILD_DIR/bin/dtls_flood}
[ -x "$DTLS_FLOOD" ] || { echo "[$TERN_TEST_NAME] the flood client is not built: $DTLS_FLOOD" >&2; exit 1; }
dtls_init

DTLS_TOML='retransmission_timeout = 1000
max_retransmission_timeout = 2000
psk_negative_cache_ttl = 1000' dtls_start <<TOML
[plugins.core_embedded]
database = "$TERN_TMP/var/tern.db"
admin_bind = "127.0.0.1:0"

[plugins.coap]
[plugins.plugtest]
TOML
cli device add thermo-1 --psk-identity thermo-1 --psk-key "$(hex secretPSK)"

# attempt NAME IDENTITY KEY: one PSK handshake (PSK-AES128-CCM-8) from the wolfSSL client,
# which gives up before its first retransmission; NAME.result: what the client saw and every
# datagram the server sent for the handshake (its retransmissions included: it is over)
none_in_flight() { [ "$(tern_metric dtls_handshakes_in_flight)" = 0 ]; }
attempt() {
    local name=$1 identity=$2 key=$3 before after
    before=$(tern_metric dtls_datagrams_sent_total)
    timeout 60 "$DTLS_FLOOD" --port "$DTLS_PORT" --count 1 --timeout 800 --ciphers PSK-AES128-CCM-8 \
        --psk-identity "$identity" --psk-key "$(hex "$key")" >"$TERN_TMP/$name.out" 2>&1
    # the server gives the handshake up after its retransmissions (1 s, then 2 s)
    wait_until 10 none_in_flight || fail "$name: the handshake was not given up"
    after=$(tern_metric dtls_datagrams_sent_total)
    echo "$(grep '^attempt' "$TERN_TMP/$name.out") server_sent=$((after - before))" >"$TERN_TMP/$name.result"
}

attempt good thermo-1 secretPSK
assert_contains "$TERN_TMP/good.result" "attempt 1 ok" "the right key works"

attempt wrong_key thermo-1 wrongPSK
attempt unknown nobody secretPSK
attempt unknown2 "another-$$" wrongPSK
assert_contains "$TERN_TMP/wrong_key.result" "attempt 1 failed" "a wrong key fails"
for r in unknown unknown2; do
    assert_same_file "$TERN_TMP/wrong_key.result" "$TERN_TMP/$r.result" \
        "an unknown identity ($r) looks exactly like a wrong key to the client"
done
wait_until 5 metric_at_least 'dtls_handshakes_total{reason="unknown_psk_identity"}' 2 ||
    fail "the unknown identities were not counted as such"
assert_ge "$(tern_metric 'dtls_handshakes_total{reason="decrypt_error"}')" 1 "the wrong key was counted as decrypt_error"

# the "no such identity" answer is cached for psk_negative_cache_ttl only: a device added
# now can handshake soon after
cli device add late-1 --psk-identity "another-$$" --psk-key "$(hex latePSK)"
sleep 1.2
attempt late "another-$$" latePSK
assert_contains "$TERN_TMP/late.result" "attempt 1 ok" "the device added after a failed look-up is found"
tern_stop
tern_note PASS
