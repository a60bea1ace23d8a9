# Common start of the dtls shell tests (source it from bash): the tern.sh and coap_client.sh
# helpers with the OpenSSL-based coap-client, certificates made for this run, and a tern
# with the dtls plugin.
#
#   source "$TERN_SOURCE_DIR/plugins/dtls/tests/dtls_lib.sh"
#   dtls_init                       # tern_init + certificates in $CERTS
#   dtls_start [tern run options] <<'EOF'   # extra manifest tables ([plugins.coap] etc.)
#   [plugins.plugtest]
#   EOF
#   ... $DTLS_PORT, coaps NAME [coap-client options] "$(coaps_uri test)" ...
#
# DTLS_TOML (if set) is added to the [plugins.dtls] table.

COAP_CLIENT=${COAP_CLIENT:-coap-client-openssl}
source "$TERN_SOURCE_DIR/tests/lib/tern.sh"
source "$TERN_SOURCE_DIR/tests/lib/coap_client.sh"
DTLS_TESTS="$TERN_SOURCE_DIR/plugins/dtls/tests"
DTLS_CLIENT=${DTLS_CLIENT:-$TERN_BUILD_DIR/bin/dtls_client}
DTLS_PORT=""
CERTS=""

# coap-client prints "DTLS: received N bytes" (or "UDP : ...") before each message dump.
coap_received() { awk '/^v:1 / && prev ~ /(UDP :|DTLS:) received [0-9]+ bytes/ { print } { prev = $0 }' "$TERN_TMP/$1.out"; }
coap_sent() { awk '/^v:1 / && prev ~ /(UDP :|DTLS:) sent [0-9]+ bytes/ { print } { prev = $0 }' "$TERN_TMP/$1.out"; }

dtls_init() {
    tern_init
    command -v "$COAP_CLIENT" >/dev/null || fail "$COAP_CLIENT is missing (Debian package libcoap3-bin)"
    [ -x "$DTLS_CLIENT" ] || fail "the wolfSSL test client is not built: $DTLS_CLIENT"
    CERTS=$TERN_TMP/certs
    bash "$DTLS_TESTS/make_certs.sh" "$CERTS" || fail "cannot make test certificates (openssl CLI)"
}

# dtls_start [tern run options]: tern with [plugins.dtls] on an ephemeral loopback port with
# the server certificate, plus the tables given on stdin.
dtls_start() {
    local extra
    extra=$(cat)
    tern_start "$@" <<TOML
[plugins.dtls]
bind_address = "127.0.0.1"
bind_port = 0
credentials.cert_file = "$CERTS/server.pem"
credentials.key_file = "$CERTS/server.key"
${DTLS_TOML:-}

$extra
TOML
    DTLS_PORT=$(tern_listening_port dtls)
    [ -n "$DTLS_PORT" ] || fail "no dtls port in the tern log"
}

coaps_uri() { echo "coaps://127.0.0.1:$DTLS_PORT/${1#/}"; }

# coaps NAME [options] URI: coap-client over DTLS (see coap in coap_client.sh).
coaps() { coap "$@"; }

# with_cert NAME: the coap-client options presenting certificate NAME of $CERTS.
with_cert() { echo "-c $CERTS/$1.pem -j $CERTS/$1.key"; }

# no_response NAME: the client got no CoAP response at all (handshake refused, or nothing
# answered).
assert_no_response() {
    if coap_received "$1" | grep -E '^v:1 t:[A-Z]+ c:[1-5]\.' >/dev/null; then
        show_file "$TERN_TMP/$1.out" >&2
        fail "$1: expected no CoAP response"
    fi
}

# dtls_client NAME [options]: the wolfSSL client against $DTLS_PORT; output in $TERN_TMP/NAME.out,
# exit status in $TERN_TMP/NAME.rc.
dtls_client() {
    local name=$1
    shift
    timeout 60 "$DTLS_CLIENT" --port "$DTLS_PORT" "$@" >"$TERN_TMP/$name.out" 2>&1
    echo $? >"$TERN_TMP/$name.rc"
}

assert_client_ok() {
    [ "$(cat "$TERN_TMP/$1.rc")" = 0 ] || { show_file "$TERN_TMP/$1.out" >&2; fail "$1: the wolfSSL client failed"; }
}

assert_client_failed() {
    [ "$(cat "$TERN_TMP/$1.rc")" = 1 ] || { show_file "$TERN_TMP/$1.out" >&2; fail "$1: the wolfSSL client should have failed"; }
}

# hex TEXT: the bytes of TEXT in hex (PSK keys: coap-client -k takes text).
hex() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }

# dtls_need_stack: skip the test (exit 77) when a plugin of the device API stack is not built.
dtls_need_stack() {
    local p
    for p in device_api json core_embedded; do
        if [ ! -f "$TERN_BUILD_DIR/plugins/libtern-$p.so" ]; then
            echo "[$TERN_TEST_NAME] SKIP: libtern-$p.so is not built"
            exit 77
        fi
    done
}

# dtls_start_stack [dtls lines]: dtls_start with the device API stack behind it (coap,
# device_api, json, core_embedded on a database in $TERN_TMP/db, admin API on a free port).
dtls_start_stack() {
    DTLS_TOML="${1:-}" dtls_start <<TOML
[plugins.coap]
[plugins.device_api]
[plugins.json]
[plugins.core_embedded]
database = "$TERN_TMP/db/tern.db"
admin_bind = "127.0.0.1:0"
TOML
}

# cli ARGS...: the tern command line against the running manifest; fails the test on error.
cli() { "$TERN_BIN" "$@" --config "$TERN_MANIFEST" >"$TERN_TMP/cli.out" 2>&1 || { show_file "$TERN_TMP/cli.out" >&2; fail "tern $*"; }; }

# latest_of DEVICE KEY: the latest stored value of a telemetry key ("" when none).
latest_of() {
    "$TERN_BIN" telemetry "$1" --key "$2" --latest --json --config "$TERN_MANIFEST" 2>/dev/null |
        grep -oE "\"$2\"[^]]*" | grep -oE '"value": *[^,}]+' | head -n1 | sed -E 's/"value": *//; s/"//g'
}
