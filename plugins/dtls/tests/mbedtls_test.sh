#!/usr/bin/env bash
# Interop with an independent DTLS 1.2 stack: Mbed TLS 3.6's example client ssl_client2, built
# from Debian trixie's mbedtls source package by tests/support/build-mbedtls.sh (once per
# machine, cached beside the bundled wolfSSL), against the dtls plugin with its default
# connection_id_length. With PSK (PSK-AES128-CCM-8) and with a client certificate
# (ECDHE-ECDSA-AES128-CCM-8, the server's chain verified by the client) it negotiates an RFC
# 9146 Connection ID and application data flows both ways under it: ssl_client2 writes its
# HTTP-like request, which the CoAP engine reads as a confirmable message carrying a response
# code and answers with a Reset, and the client reads that Reset back. (ssl_client2 can send
# nothing but that request, whose first bytes "GET " make it a CoAP response, so no telemetry.)
# A client that asks for no CID gets none, and with connection_id_length = 0 the server
# declines the client's request for one; both sessions still work.
set -u
source "$TERN_SOURCE_DIR/plugins/dtls/tests/dtls_lib.sh"
dtls_need_stack
dtls_init

# ssl_client2: TERN_MBEDTLS_CLIENT names one, else the cached build (built now if missing), in
# the same cache as the bundled wolfSSL (TERN_MBEDTLS_CACHE, which CMake sets to TERN_WOLFSSL_CACHE;
# else the environment's TERN_WOLFSSL_CACHE, $XDG_CACHE_HOME/tern or
# ~/.cache/tern).
SSL_CLIENT2=${TERN_MBEDTLS_CLIENT:-}
if [ -z "$SSL_CLIENT2" ]; then
    cache_root=${TERN_MBEDTLS_CACHE:-${TERN_WOLFSSL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tern}}
    prefix=$(bash "$TERN_SOURCE_DIR/tests/support/build-mbedtls.sh" "$TERN_BUILD_DIR/mbedtls-client" "$cache_root" \
        2>"$TERN_TMP/build-mbedtls.err" | tail -n1)
    [ -n "$prefix" ] || { cat "$TERN_TMP/build-mbedtls.err" >&2; fail "building Mbed TLS's ssl_client2 failed"; }
    SSL_CLIENT2=$prefix/bin/ssl_client2
    tern_note "$(grep -h 'Mbed TLS' "$prefix/tern-mbedtls.txt" | head -n1)"
fi
[ -x "$SSL_CLIENT2" ] || fail "no ssl_client2 at $SSL_CLIENT2"

dtls_start_stack 'log_level = "debug"'
tern_note "$(grep -o 'wolfSSL [0-9.]*, .*' "$TERN_LOG" | head -n1)"
psk_key=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
cli device add mb-psk --psk-identity mb-psk --psk-key "$psk_key"
cli device add mb-cam --x509 "$CERTS/client.pem"

# mbedtls NAME [ssl_client2 options]: a DTLS 1.2 session with a Connection ID asked for, one
# request and its answer; output in $TERN_TMP/NAME.out, exit status in $TERN_TMP/NAME.rc.
mbedtls() {
    local name=$1
    shift
    timeout 60 "$SSL_CLIENT2" server_addr=127.0.0.1 server_port="$DTLS_PORT" server_name=localhost \
        dtls=1 force_version=dtls12 cid=1 hs_timeout=1000-8000 read_timeout=5000 debug_level=0 \
        "$@" >"$TERN_TMP/$name.out" 2>&1
    echo $? >"$TERN_TMP/$name.rc"
    tern_note "$name: exit $(cat "$TERN_TMP/$name.rc"); $(grep -E 'Connection ID|ciphersuite|bytes (read|written)' "$TERN_TMP/$name.out" | tr '\n' ';')"
}

# assert_exchange NAME SUITE: a DTLS 1.2 handshake with SUITE, the request went out and the
# engine's Reset came back (4 bytes).
assert_exchange() {
    local out=$TERN_TMP/$1.out
    assert_eq 0 "$(cat "$TERN_TMP/$1.rc")" "$1: ssl_client2's exit status"
    assert_contains "$out" "[ Protocol is DTLSv1.2 ]" "$1: DTLS 1.2"
    assert_contains "$out" "[ Ciphersuite is $2 ]" "$1: the suite"
    assert_match "$out" "> Write to server:.* [0-9]+ bytes written" "$1: the request sent"
    assert_contains "$out" "< Read from server: 4 bytes read" "$1: the engine's Reset received"
    # ssl_client2 prints them as text up to the first zero byte: 0x70 (version 1, Reset, no token)
    assert_match "$out" '^p  \. Closing the connection' "$1: the 4 bytes are a CoAP Reset"
}
cid_negotiated="(initial handshake) Use of Connection ID has been negotiated."
psk_options=(psk="$psk_key" psk_identity=mb-psk force_ciphersuite=TLS-PSK-WITH-AES-128-CCM-8
    ca_file=none crt_file=none key_file=none auth_mode=none)

# The clients leave without close_notify (skip_close_notify=1), so their sessions stay
# established on the server and the gauges count them.
mbedtls psk "${psk_options[@]}" skip_close_notify=1
assert_exchange psk TLS-PSK-WITH-AES-128-CCM-8
assert_contains "$TERN_TMP/psk.out" "$cid_negotiated" "psk: a Connection ID"
assert_contains "$TERN_TMP/psk.out" "Peer CID (length 8 Bytes): " "psk: the server's 8-byte Connection ID"
wait_until 5 grep -q 'DTLSv1.2 PSK-AES128-CCM-8 CID PSK mb-psk' "$TERN_LOG" || fail "the server did not log the PSK session of mb-psk"
wait_until 5 [ "$(tern_metric dtls_cid_sessions)" = 1 ] || fail "dtls_cid_sessions: expected 1, got $(tern_metric dtls_cid_sessions)"

# X.509 both ways, and a CID of the client's own (4 bytes) for the server's records
mbedtls x509 ca_file="$CERTS/ca.pem" crt_file="$CERTS/client.pem" key_file="$CERTS/client.key" \
    auth_mode=required force_ciphersuite=TLS-ECDHE-ECDSA-WITH-AES-128-CCM-8 cid_val=c1d0c1d0 skip_close_notify=1
assert_exchange x509 TLS-ECDHE-ECDSA-WITH-AES-128-CCM-8
assert_contains "$TERN_TMP/x509.out" "$cid_negotiated" "x509: a Connection ID"
assert_contains "$TERN_TMP/x509.out" "Loading the client cert. and key... ok (key type: EC)" "x509: the device certificate loaded"
assert_contains "$TERN_TMP/x509.out" "Verifying peer X.509 certificate... ok" "x509: the server's chain verified"
wait_until 5 grep -q 'DTLSv1.2 ECDHE-ECDSA-AES128-CCM-8 CID client certificate' "$TERN_LOG" ||
    fail "the server did not log the certificate session"
wait_until 5 [ "$(tern_metric dtls_cid_sessions)" = 2 ] || fail "dtls_cid_sessions: expected 2, got $(tern_metric dtls_cid_sessions)"

# a client that does not ask for a CID gets none, beside the CID sessions
mbedtls nocid "${psk_options[@]}" cid=0 skip_close_notify=1
assert_exchange nocid TLS-PSK-WITH-AES-128-CCM-8
assert_not_contains "$TERN_TMP/nocid.out" "Connection ID" "nocid: no Connection ID"
wait_until 5 [ "$(tern_metric dtls_sessions)" = 3 ] || fail "dtls_sessions: expected 3, got $(tern_metric dtls_sessions)"
assert_eq 2 "$(tern_metric dtls_cid_sessions)" "dtls_cid_sessions beside a session without CID"
assert_eq 3 "$(tern_metric 'dtls_handshakes_total{result="success"}')" "three completed handshakes"
assert_eq 0 "$(tern_metric 'dtls_handshakes_total{result="failure"}')" "no failed handshake"
tern_stop

# connection_id_length = 0: the server declines the client's CID and the session works without
dtls_start_stack 'log_level = "debug"
connection_id_length = 0'
mbedtls off "${psk_options[@]}"
assert_exchange off TLS-PSK-WITH-AES-128-CCM-8
assert_contains "$TERN_TMP/off.out" "(initial handshake) Use of Connection ID was rejected by the server." "off: no Connection ID"
assert_eq 0 "$(tern_metric dtls_cid_sessions)" "dtls_cid_sessions with connection_id_length = 0"
tern_stop
tern_note PASS
