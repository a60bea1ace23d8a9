#!/usr/bin/env bash
# A DTLS 1.2 PSK device whose ClientHello carries an extensions block of length 0, as some PSK
# device stacks send it. wolfSSL 5.9.2 as released answers such a hello with a decode_error
# alert after the cookie exchange (cmake/build-wolfssl.sh patches the one comparison at
# fault), and 5.5.4 refused hellos without any extensions block instead: both forms are
# tested. The client is node-dtls-client (npm, a DTLS stack of its own) made to write the
# empty block (psk_empty_ext_client.cjs), behind a UDP relay that records the datagrams: its
# ClientHellos (before and after the cookie) carry the empty list, the handshake completes
# with no ServerKeyExchange in the server's flight (no PSK identity hint: such stacks do not
# expect one), and its token-less telemetry is stored under the device owning the identity.
# The same with PSK-AES128-CBC-SHA256 (the other suite such stacks offer), and with no
# extensions block at all.
set -u
source "$TERN_SOURCE_DIR/plugins/dtls/tests/dtls_lib.sh"
dtls_need_stack
command -v node >/dev/null || { echo "node is missing (Debian package nodejs; tools/dev.sh deps)" >&2; exit 1; }
[ -d "$TERN_SOURCE_DIR/tests/interop/node_modules/node-dtls-client" ] ||
    { echo "node-dtls-client is not installed in tests/interop/node_modules: run tools/dev.sh deps (or: cd tests/interop && npm ci)" >&2; exit 1; }
dtls_init
dtls_start_stack 'log_level = "debug"'
cli device add tiny-1 --psk-identity tiny-1 --psk-key "$(hex tinySecretKey-16)"

# psk_device NAME CIPHER EXTENSIONS PAYLOAD: the node client; output in $TERN_TMP/NAME.out
psk_device() {
    local name=$1
    timeout 40 node "$DTLS_TESTS/psk_empty_ext_client.cjs" "$DTLS_PORT" tiny-1 tinySecretKey-16 "$2" "$3" "$4" \
        >"$TERN_TMP/$name.out" 2>&1
    local rc=$?
    [ $rc -eq 0 ] || { show_file "$TERN_TMP/$name.out" >&2; fail "$name: the node-dtls-client device failed (exit $rc)"; }
    tern_note "$name: $(tr '\n' ';' <"$TERN_TMP/$name.out")"
}

# The ClientHello without a cookie and the one returning it both end in an empty extensions
# list; the server answers the first with a HelloVerifyRequest and the second with its
# ServerHello and ServerHelloDone only.
psk_device empty TLS_PSK_WITH_AES_128_CCM_8 empty '{"temperature":11}'
assert_match "$TERN_TMP/empty.out" '^client_hello cookie=0 extensions=empty suites=0xc0a8$' "the first ClientHello has an empty extensions list"
assert_match "$TERN_TMP/empty.out" '^client_hello cookie=[1-9][0-9]* extensions=empty suites=0xc0a8$' "the ClientHello with the cookie has an empty extensions list"
assert_match "$TERN_TMP/empty.out" '^server_flight (hello_verify_request )+(server_hello server_hello_done ?)+$' \
    "the server's plaintext flight: HelloVerifyRequest, ServerHello, ServerHelloDone (no ServerKeyExchange)"
assert_contains "$TERN_TMP/empty.out" "response 2.01"
wait_until 5 [ "$(latest_of tiny-1 temperature)" = 11 ] || fail "the telemetry of the empty-extensions device is not stored"
wait_until 3 grep -q 'DTLSv1.2 PSK-AES128-CCM-8 PSK tiny-1' "$TERN_LOG" || fail "the server did not log the PSK session of tiny-1"

# CBC with HMAC-SHA256, the other suite small PSK stacks offer
psk_device cbc TLS_PSK_WITH_AES_128_CBC_SHA256 empty '{"temperature":12}'
assert_match "$TERN_TMP/cbc.out" '^client_hello cookie=[1-9][0-9]* extensions=empty suites=0x00ae$' "the CBC ClientHello has an empty extensions list"
assert_contains "$TERN_TMP/cbc.out" "response 2.01"
wait_until 5 [ "$(latest_of tiny-1 temperature)" = 12 ] || fail "the telemetry over PSK-AES128-CBC-SHA256 is not stored"
wait_until 3 grep -q 'DTLSv1.2 PSK-AES128-CBC-SHA256 PSK tiny-1' "$TERN_LOG" || fail "the server did not log the CBC session"

# no extensions block at all (node-dtls-client as it ships)
psk_device absent TLS_PSK_WITH_AES_128_CCM_8 absent '{"temperature":13}'
assert_match "$TERN_TMP/absent.out" '^client_hello cookie=[1-9][0-9]* extensions=absent suites=0xc0a8$' "the ClientHello has no extensions block"
assert_contains "$TERN_TMP/absent.out" "response 2.01"
wait_until 5 [ "$(latest_of tiny-1 temperature)" = 13 ] || fail "the telemetry of the device without extensions is not stored"

assert_eq 3 "$(tern_metric 'dtls_handshakes_total{result="success"}')" "three completed handshakes"
assert_eq 0 "$(tern_metric 'dtls_handshakes_total{result="failure"}')" "no failed handshake"
tern_stop
tern_note PASS
