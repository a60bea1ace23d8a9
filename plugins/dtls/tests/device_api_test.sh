#!/usr/bin/env bash
# End to end over DTLS with the device API (docs/device-api.md §7): coap-client-openssl devices against
# dtls -> coap -> device_api -> json -> core_embedded. A device whose certificate is
# registered posts telemetry without a token and the core stores it under that device; an
# unregistered certificate gets 4.01 on token-less paths but can use token paths; a device
# registered by its intermediate CA certificate is found by walking the client's chain; expired
# certificates, and with a trust store other CAs' certificates, are refused; a PSK device
# posts telemetry, a wrong PSK fails the handshake; plain CoAP to the DTLS port gets
# nothing; attribute Observe over DTLS delivers notifications.
set -u
source "$TERN_SOURCE_DIR/plugins/dtls/tests/dtls_lib.sh"
dtls_need_stack
dtls_init


dtls_start_stack
cli device add cam-1 --x509 "$CERTS/client.pem"
cli device add thermo-1 --psk-identity thermo-1 --psk-key "$(hex secretPSK)"
cli device add tok-1 --token TOKEN1

# a registered certificate: token-less telemetry, stored under that device
coaps x509 $(with_cert client) -m post -e '{"temperature":21.5}' "$(coaps_uri api/v1/telemetry)"
assert_code x509 2.01
wait_until 5 [ "$(latest_of cam-1 temperature)" = 21.5 ] || fail "the telemetry is not stored under cam-1"

# the same device again on a new session: the identity is found again
coaps x509_again $(with_cert client) -m post -e '{"temperature":22}' "$(coaps_uri api/v1/telemetry)"
assert_code x509_again 2.01
wait_until 5 [ "$(latest_of cam-1 temperature)" = 22 ] || fail "the second session's telemetry is missing"

# an unregistered certificate: 4.01 without a token, the token path works
coaps unknown_cert $(with_cert client2) -m post -e '{"x":1}' "$(coaps_uri api/v1/telemetry)"
assert_error unknown_cert 4.01
coaps token_path $(with_cert client2) -m post -e '{"humidity":40}' "$(coaps_uri api/v1/TOKEN1/telemetry)"
assert_code token_path 2.01
wait_until 5 [ "$(latest_of tok-1 humidity)" = 40 ] || fail "the token path's telemetry is not stored under tok-1"

# a device registered by an intermediate CA certificate (docs/device-api.md §7: every certificate of the
# chain, leaf first): a leaf issued by it, sent with the intermediate (coap-client-openssl
# builds that chain from -R), is that device; the leaf's own certificate is not registered
cli device add gateway-1 --x509 "$CERTS/intermediate.pem"
coaps by_intermediate $(with_cert chain) -R "$CERTS/chain-trust.pem" -m post -e '{"pressure":1013}' \
    "$(coaps_uri api/v1/telemetry)"
assert_code by_intermediate 2.01
wait_until 5 [ "$(latest_of gateway-1 pressure)" = 1013 ] || fail "the chain's telemetry is not stored under gateway-1"
# the same leaf sent alone (no -R: coap-client sends only the -c leaf): no certificate of
# the chain is registered, so no identity
coaps leaf_alone $(with_cert chain) -m post -e '{"pressure":1}' "$(coaps_uri api/v1/telemetry)"
assert_error leaf_alone 4.01

# one-way DTLS (no certificate): a token device
coaps oneway -m post -e '{"humidity":41}' "$(coaps_uri api/v1/TOKEN1/telemetry)"
assert_code oneway 2.01
coaps oneway_tokenless -m post -e '{"humidity":42}' "$(coaps_uri api/v1/telemetry)"
assert_error oneway_tokenless 4.01

# an expired certificate is refused (even one registered for a device)
cli device add old-1 --x509 "$CERTS/expired.pem"
coaps expired $(with_cert expired) -B 3 -m post -e '{"x":1}' "$(coaps_uri api/v1/telemetry)"
assert_no_response expired

# a PSK device: token-less telemetry under the device owning the identity
coaps psk -k secretPSK -u thermo-1 -m post -e '{"temperature":5}' "$(coaps_uri api/v1/telemetry)"
assert_code psk 2.01
wait_until 5 [ "$(latest_of thermo-1 temperature)" = 5 ] || fail "the PSK device's telemetry is not stored"
dtls_client psk_ccm8 --psk-identity thermo-1 --psk-key "$(hex secretPSK)" --ciphers PSK-AES128-CCM-8 \
    --method POST --path api/v1/telemetry --payload '{"temperature":6}'
assert_client_ok psk_ccm8
assert_contains "$TERN_TMP/psk_ccm8.out" "response 2.01"
wait_until 5 [ "$(latest_of thermo-1 temperature)" = 6 ] || fail "PSK-AES128-CCM-8 telemetry is not stored"

# a wrong PSK fails the handshake
coaps wrong_psk -k notTheKey -u thermo-1 -B 4 -m post -e '{"temperature":99}' "$(coaps_uri api/v1/telemetry)"
assert_no_response wrong_psk

# plain CoAP to the DTLS port gets nothing
COAP_CLIENT=coap-client-notls coap plain -B 2 -m post -e '{"x":1}' "coap://127.0.0.1:$DTLS_PORT/api/v1/TOKEN1/telemetry"
assert_no_response plain

# Observe over DTLS: shared attribute updates reach a certificate device token-less
timeout 30 "$COAP_CLIENT" -v 7 -B 8 -s 6 $(with_cert client) "$(coaps_uri api/v1/attributes?shared=mode)" \
    >"$TERN_TMP/observe.out" 2>&1 &
observer=$!
wait_until 5 grep -qE 'c:2\.05 .*Observe:' "$TERN_TMP/observe.out" || { kill $observer; fail "the attribute observation did not register"; }
cli attr set cam-1 --shared mode='"eco"'
wait_until 5 grep -q 'eco' "$TERN_TMP/observe.out" || { kill $observer; show_file "$TERN_TMP/observe.out" >&2; fail "no notification of the shared attribute"; }
kill $observer 2>/dev/null
wait $observer 2>/dev/null
tern_stop

# ---- with a trust store: the registered device still works, another CA's is refused ----
dtls_start_stack "x509.trust_store = \"$CERTS/ca.pem\""
cli device add stranger --x509 "$CERTS/other.pem"
coaps trusted $(with_cert client) -m post -e '{"temperature":23}' "$(coaps_uri api/v1/telemetry)"
assert_code trusted 2.01
wait_until 5 [ "$(latest_of cam-1 temperature)" = 23 ] || fail "telemetry with a trusted chain is not stored"
coaps trusted_chain $(with_cert chain) -R "$CERTS/chain-trust.pem" -m post -e '{"pressure":1000}' \
    "$(coaps_uri api/v1/telemetry)"
assert_code trusted_chain 2.01
wait_until 5 [ "$(latest_of gateway-1 pressure)" = 1000 ] || fail "a verified chain's telemetry is not stored under gateway-1"
coaps other_ca $(with_cert other) -B 3 -m post -e '{"temperature":1}' "$(coaps_uri api/v1/telemetry)"
assert_no_response other_ca
assert_ge "$(tern_metric 'dtls_handshakes_total{reason="untrusted_certificate"}')" 1 "another CA's certificate refused"
tern_stop
tern_note PASS
