#!/usr/bin/env bash
# PSK with keys from the core: a device added with `tern device add --psk-identity
# --psk-key` handshakes with coap-client-openssl (-k/-u) and with the wolfSSL client forced
# to PSK-AES128-CCM-8; a wrong key and an unknown identity fail the handshake; a changed
# key takes effect after psk_cache_ttl; with psk_cache_ttl = 0 every handshake asks the core.
set -u
source "$TERN_SOURCE_DIR/plugins/dtls/tests/dtls_lib.sh"
dtls_init

DTLS_TOML='psk_cache_ttl = 1500
retransmission_timeout = 1000
max_retransmission_timeout = 2000' TERN_LOG_LEVEL=debug dtls_start <<TOML
[plugins.core_embedded]
database = "$TERN_TMP/var/tern.db"
admin_bind = "127.0.0.1:0"

[plugins.coap]
[plugins.plugtest]
TOML
grep -q 'PSK via the core' "$TERN_LOG" || fail "the dtls plugin did not find the core for PSK"

tern_cli() { "$TERN_BIN" "$@" --config "$TERN_MANIFEST" >"$TERN_TMP/cli.out" 2>&1 || { show_file "$TERN_TMP/cli.out" >&2; fail "tern $*"; }; }
tern_cli device add thermo-1 --psk-identity thermo-1 --psk-key "$(hex secretPSK)"

# coap-client-openssl offers OpenSSL's PSK suites; the server's preference picks RFC 7252's
# mandatory PSK-AES128-CCM-8 among them
coaps psk -k secretPSK -u thermo-1 "$(coaps_uri test)"
assert_code psk 2.05 ACK
assert_body psk "test: GET CON 0 bytes"
wait_until 3 grep -q 'PSK-AES128-CCM-8 PSK thermo-1' "$TERN_LOG" || fail "the session did not use PSK-AES128-CCM-8"
assert_eq 1 "$(tern_metric 'dtls_psk_lookups_total{result="found"}')" "one look-up in the core"

# the same identity again: answered from the shard's cache (or found again on the other shard)
coaps psk2 -k secretPSK -u thermo-1 "$(coaps_uri test)"
assert_body psk2 "test: GET CON 0 bytes"

# the wolfSSL client forced to PSK-AES128-CCM-8
dtls_client ccm8 --psk-identity thermo-1 --psk-key "$(hex secretPSK)" --ciphers PSK-AES128-CCM-8
assert_client_ok ccm8
assert_contains "$TERN_TMP/ccm8.out" "cipher=PSK-AES128-CCM-8"
assert_contains "$TERN_TMP/ccm8.out" "response 2.05 test: GET CON 0 bytes"
# and the other static-PSK suites Debian's binary wolfSSL lacks
dtls_client gcm --psk-identity thermo-1 --psk-key "$(hex secretPSK)" --ciphers PSK-AES128-GCM-SHA256
assert_client_ok gcm
assert_contains "$TERN_TMP/gcm.out" "cipher=PSK-AES128-GCM-SHA256"

# a wrong key: the client's Finished does not decrypt; the handshake fails
coaps wrong -k wrongPSK -u thermo-1 -B 4 "$(coaps_uri test)"
assert_no_response wrong
wait_until 10 metric_at_least 'dtls_handshakes_total{reason="decrypt_error"}' 1 ||
    fail "a wrong PSK was not counted as decrypt_error"
dtls_client wrong_ccm8 --psk-identity thermo-1 --psk-key "$(hex wrongPSK)" --ciphers PSK-AES128-CCM-8 --timeout 4000
assert_client_failed wrong_ccm8

# an identity no device has
coaps unknown -k secretPSK -u nobody -B 3 "$(coaps_uri test)"
assert_no_response unknown
wait_until 5 metric_at_least 'dtls_handshakes_total{reason="unknown_psk_identity"}' 1 ||
    fail "an unknown identity was not counted"
assert_ge "$(tern_metric 'dtls_psk_lookups_total{result="not_found"}')" 1 "the core said: no such identity"

# a new key: the old one stops working once the cached one expires (psk_cache_ttl)
tern_cli device credentials thermo-1 --psk-identity thermo-1 --psk-key "$(hex newSecret)"
sleep 1.6
dtls_client new_key --psk-identity thermo-1 --psk-key "$(hex newSecret)" --ciphers PSK-AES128-CCM-8
assert_client_ok new_key
dtls_client old_key --psk-identity thermo-1 --psk-key "$(hex secretPSK)" --ciphers PSK-AES128-CCM-8 --timeout 4000
assert_client_failed old_key

# certificates still work beside PSK
coaps pki $(with_cert client) "$(coaps_uri test)"
assert_body pki "test: GET CON 0 bytes"
tern_stop

# psk_cache_ttl = 0: nothing is cached, and each handshake asks the core once (the answer
# serves the handshake that asked)
DTLS_TOML='psk_cache_ttl = 0' dtls_start <<TOML
[plugins.core_embedded]
database = "$TERN_TMP/var/tern.db"
admin_bind = "127.0.0.1:0"

[plugins.coap]
[plugins.plugtest]
TOML
for i in 1 2; do
    dtls_client nocache$i --psk-identity thermo-1 --psk-key "$(hex newSecret)" --ciphers PSK-AES128-CCM-8
    assert_client_ok nocache$i
done
assert_eq 2 "$(tern_metric 'dtls_psk_lookups_total{result="found"}')" "one look-up in the core per handshake"
assert_eq 0 "$(tern_metric 'dtls_psk_lookups_total{result="cached"}')" "nothing answered from the cache"
tern_stop
tern_note PASS
