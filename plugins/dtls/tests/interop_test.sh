#!/usr/bin/env bash
# libcoap's OpenSSL-based coap-client against the dtls plugin (with the coap engine and the
# plugtest resources): methods, Block2, Block1, Observe over coaps; one-way DTLS; client
# certificate policy without and with a trust store; plain CoAP to the DTLS port; an RSA
# server certificate.
set -u
source "$TERN_SOURCE_DIR/plugins/dtls/tests/dtls_lib.sh"
dtls_init

# ---- without a trust store (ThingsBoard's behaviour: any chain, dates checked) ----------
dtls_start --set plugins.plugtest.obs_period=300 <<'TOML'
[plugins.coap]
[plugins.plugtest]
TOML

coaps get $(with_cert client) "$(coaps_uri test)"
assert_code get 2.05 ACK
assert_body get "test: GET CON 0 bytes"

# one-way DTLS: no client certificate at all
coaps oneway "$(coaps_uri test)"
assert_body oneway "test: GET CON 0 bytes"

coaps post $(with_cert client) -m post -e hello "$(coaps_uri test)"
assert_code post 2.01
assert_body post "test: POST CON 5 bytes"

coaps non -N $(with_cert client) "$(coaps_uri test)"
assert_code non 2.05 NON

# Block2: the 3000-byte body of /large in 64-byte blocks
coaps large $(with_cert client) -b 64 "$(coaps_uri large)"
plugtest_large_body 3000 >"$TERN_TMP/large.expected"
assert_same_file "$TERN_TMP/large.expected" "$TERN_TMP/large.body" "Block2 over DTLS"

# Block1: 3000 bytes up in 256-byte blocks
head -c 3000 /dev/urandom >"$TERN_TMP/upload.bin"
coaps upload $(with_cert client) -m post -b 256 -f "$TERN_TMP/upload.bin" "$(coaps_uri large-post)"
assert_body upload "received 3000 bytes, sum $(byte_sum "$TERN_TMP/upload.bin")"

# Observe over DTLS: a stream of distinct notifications
coaps obs $(with_cert client) -s 3 -B 5 "$(coaps_uri obs)"
n=$(coap_received obs | grep -E '^v:1 t:[A-Z]+ c:2\.05 .*Observe:' | sed -nE "s/.*:: 'obs ([0-9]+)'.*/\1/p" | sort -un | wc -l)
assert_ge "$n" 3 "distinct notifications over DTLS in 3 s at 300 ms"

# a chain with an intermediate CA, and a certificate from a CA nobody configured: both
# accepted without a trust store (the device is found by certificate hash)
coaps chain -c "$CERTS/chain.pem" -j "$CERTS/chain.key" "$(coaps_uri test)"
assert_body chain "test: GET CON 0 bytes"
coaps other $(with_cert other) "$(coaps_uri test)"
assert_body other "test: GET CON 0 bytes"
coaps self $(with_cert selfsigned) "$(coaps_uri test)"
assert_body self "test: GET CON 0 bytes"

# dates are checked: expired and not-yet-valid certificates are refused
coaps expired $(with_cert expired) -B 3 "$(coaps_uri test)"
assert_no_response expired
coaps future $(with_cert future) -B 3 "$(coaps_uri test)"
assert_no_response future
wait_until 5 metric_at_least 'dtls_handshakes_total{reason="certificate_expired"}' 2 ||
    fail "expired and future certificates not counted as certificate_expired"

# plain CoAP to the DTLS port gets nothing
COAP_CLIENT=coap-client-notls coap plain -B 2 "coap://127.0.0.1:$DTLS_PORT/test"
assert_no_response plain
wait_until 3 metric_at_least 'dtls_drops_total{reason="not_dtls"}' 1 || fail "plain CoAP not counted as not_dtls"

# an RFC 9146 record (DTLS 1.2 with a Connection ID: content type 25, here an 8-byte CID
# before the length) whose CID names no session (nor a shard: first byte 0xff) is dropped
# and counted as such
printf '\x19\xfe\xfd\x00\x01\x00\x00\x00\x00\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff\x00\x10%s' 0123456789abcdef \
    >"/dev/udp/127.0.0.1/$DTLS_PORT"
wait_until 3 metric_at_least 'dtls_drops_total{reason="unknown_cid"}' 1 || fail "an RFC 9146 record with an unknown CID not counted as unknown_cid"

# the stateless cookie exchange preceded every handshake; sessions end with close_notify
assert_ge "$(tern_metric 'dtls_cookies_total{result="sent"}')" 11 "HelloVerifyRequests sent"
assert_ge "$(tern_metric 'dtls_cookies_total{result="verified"}')" 11 "cookies verified"
assert_ge "$(tern_metric 'dtls_handshakes_total{result="success",reason="full"}')" 10 "full handshakes"
wait_until 5 metric_at_least 'dtls_sessions_ended_total{reason="close_notify"}' 10 ||
    fail "sessions closed by the clients not counted"
tern_stop

# ---- with a trust store: chains must verify ---------------------------------------------
DTLS_TOML="x509.trust_store = \"$CERTS/ca.pem\"" dtls_start <<'TOML'
[plugins.coap]
[plugins.plugtest]
TOML
coaps t_client $(with_cert client) "$(coaps_uri test)"
assert_body t_client "test: GET CON 0 bytes"
# coap-client sends its leaf certificate only: without the intermediate the chain does not
# verify. The wolfSSL client sends the whole chain: verified. wolfSSL then keeps the
# verified intermediate as a known CA, so the leaf alone verifies afterwards.
coaps t_chain_leaf -c "$CERTS/chain.pem" -j "$CERTS/chain.key" -B 3 "$(coaps_uri test)"
assert_no_response t_chain_leaf
dtls_client t_chain --cert "$CERTS/chain.pem" --key "$CERTS/chain.key"
assert_client_ok t_chain
coaps t_chain_leaf2 -c "$CERTS/chain.pem" -j "$CERTS/chain.key" "$(coaps_uri test)"
assert_body t_chain_leaf2 "test: GET CON 0 bytes"
coaps t_oneway "$(coaps_uri test)"
assert_body t_oneway "test: GET CON 0 bytes"
coaps t_other $(with_cert other) -B 3 "$(coaps_uri test)"
assert_no_response t_other
coaps t_self $(with_cert selfsigned) -B 3 "$(coaps_uri test)"
assert_no_response t_self
coaps t_expired $(with_cert expired) -B 3 "$(coaps_uri test)"
assert_no_response t_expired
wait_until 5 metric_at_least 'dtls_handshakes_total{reason="untrusted_certificate"}' 3 ||
    fail "chains from other CAs not counted as untrusted_certificate"
assert_ge "$(tern_metric 'dtls_handshakes_total{reason="certificate_expired"}')" 1 "expired with a trust store"
tern_stop

# ---- dates not checked, RSA server certificate ------------------------------------------
DTLS_TOML="x509.skip_validity_check_for_client_cert = true
x509.trust_store = \"$CERTS/ca.pem\"" dtls_start \
    --set "plugins.dtls.credentials.cert_file=$CERTS/server-rsa.pem" \
    --set "plugins.dtls.credentials.key_file=$CERTS/server-rsa.key" <<'TOML'
[plugins.coap]
[plugins.plugtest]
TOML
coaps s_expired $(with_cert expired) -v 7 "$(coaps_uri test)"
assert_body s_expired "test: GET CON 0 bytes"
coaps s_future $(with_cert future) "$(coaps_uri test)"
assert_body s_future "test: GET CON 0 bytes"
coaps s_other $(with_cert other) -B 3 "$(coaps_uri test)"
assert_no_response s_other
dtls_client rsa --ca "$CERTS/ca.pem" --cert "$CERTS/client.pem" --key "$CERTS/client.key"
assert_client_ok rsa
assert_contains "$TERN_TMP/rsa.out" "cipher=ECDHE-RSA-" "an RSA server certificate gives ECDHE-RSA"
tern_stop
tern_note PASS
