# Common start of the interop tests: helpers, and a tern with udp + coap + plugtest.
source "$TERN_SOURCE_DIR/tests/lib/tern.sh"
source "$TERN_SOURCE_DIR/tests/lib/coap_client.sh"
INTEROP_DIR="$TERN_SOURCE_DIR/tests/interop"

# start_plugtest [tern run options, e.g. --set plugins.plugtest.obs_period=200]: starts
# tern with the plugins every interop test uses; $EXTRA_TOML (if set) is appended to the
# manifest.
start_plugtest() {
    tern_start "$@" <<TOML
[plugins.udp]
bind_address = "127.0.0.1"

[plugins.coap]

[plugins.plugtest]

${EXTRA_TOML:-}
TOML
    [ -n "$TERN_UDP_PORT" ] || fail "no udp port in the tern log"
    grep -q 'plugtest resources registered' "$TERN_LOG" || fail "plugtest did not register its resources"
}
