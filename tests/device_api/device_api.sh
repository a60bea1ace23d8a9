# Common start of the device API conformance tests (source from bash): the harness of
# tests/lib, and a tern with the whole device stack on ephemeral ports:
#   udp (127.0.0.1:0) -> coap -> device_api -> json (and protobuf, when this build has
#   libtern-protobuf.so) -> core_embedded (SQLite in the test's temp dir, admin API on
#   127.0.0.1:0 with a fixed key).
#
#   source "$TERN_SOURCE_DIR/tests/device_api/device_api.sh"
#   dapi_init
#   dapi_start [tern run options, e.g. --set plugins.core_embedded.activity_flush_interval=200]
#   dapi_node NAME.mjs [args]          # a node script of tests/device_api, exit status checked
#   dapi_cli device add thermo --token T   # the `tern` CLI against this server (admin API)
#   tern_stop
#
# Extra manifest lines per table: DAPI_UDP_TOML, DAPI_COAP_TOML, DAPI_DEVICE_API_TOML,
# DAPI_JSON_TOML, DAPI_PROTOBUF_TOML, DAPI_CORE_TOML, DAPI_POWER_TOML (appended inside the table).
# DAPI_NO_PROTOBUF=1 leaves the protobuf adaptor out (a server restarted without it).
# After dapi_start:
# $DAPI_UDP_PORT, $DAPI_ADMIN_PORT, $DAPI_ADMIN_KEY, $DAPI_DB (exported for node).
source "$TERN_SOURCE_DIR/tests/lib/tern.sh"
source "$TERN_SOURCE_DIR/tests/lib/coap_client.sh"

DAPI_DIR="$TERN_SOURCE_DIR/tests/device_api"
export DAPI_ADMIN_KEY="dapi-conformance-admin-key-7c41"
# node resolves the npm coap package (and our lib) from the interop tests' node_modules
DAPI_NODE_MODULES="$TERN_SOURCE_DIR/tests/interop/node_modules"

# dapi_init: tern_init, and skip (77) when the device_api plugin is not part of this build,
# unless the build has its target (then its absence is a failure).
dapi_init() {
    tern_init
    if [ ! -f "$TERN_BUILD_DIR/plugins/libtern-device_api.so" ]; then
        if [ "${DAPI_EXPECT_PLUGIN:-0}" = 1 ]; then
            fail "libtern-device_api.so is missing from $TERN_BUILD_DIR/plugins (build target tern-plugin-device_api)"
        fi
        tern_note "SKIP: the device_api plugin is not built in $TERN_BUILD_DIR"
        exit 77
    fi
    command -v node >/dev/null || fail "node is required (Debian package nodejs)"
    DAPI_DB="$TERN_TMP/db/tern.db"
    export DAPI_DB
}

# The [plugins.protobuf] table when the build has the adaptor and the test wants it.
dapi_protobuf_table() {
    [ -f "$TERN_BUILD_DIR/plugins/libtern-protobuf.so" ] && [ "${DAPI_NO_PROTOBUF:-0}" != 1 ] || return 0
    printf '[plugins.protobuf]\n%s\n' "${DAPI_PROTOBUF_TOML:-}"
}

# The [plugins.efento] table when the build has the plugin and the test asks for it
# (DAPI_EFENTO=1): the tests that measure every resource of the default server.
dapi_efento_table() {
    [ -f "$TERN_BUILD_DIR/plugins/libtern-efento.so" ] && [ "${DAPI_EFENTO:-0}" = 1 ] || return 0
    printf '[plugins.efento]\n'
}

# The [plugins.power] table (with DAPI_POWER_TOML inside) when the build has the plugin and
# the test asks for it (DAPI_POWER=1): the power-saving tests (tests/power).
dapi_power_table() {
    [ -f "$TERN_BUILD_DIR/plugins/libtern-power.so" ] && [ "${DAPI_POWER:-0}" = 1 ] || return 0
    printf '[plugins.power]\n%s\n' "${DAPI_POWER_TOML:-}"
}

# dapi_start [tern run options]: starts tern (a restart on the same database works: the
# database path does not change between starts of one test).
dapi_start() {
    tern_start "$@" <<TOML
[plugins.udp]
bind_address = "127.0.0.1"
${DAPI_UDP_TOML:-}

[plugins.coap]
${DAPI_COAP_TOML:-}

[plugins.device_api]
${DAPI_DEVICE_API_TOML:-}

[plugins.json]
${DAPI_JSON_TOML:-}
$(dapi_protobuf_table)
$(dapi_efento_table)
$(dapi_power_table)

[plugins.core_embedded]
database = "$DAPI_DB"
admin_bind = "127.0.0.1:0"
admin_key = "$DAPI_ADMIN_KEY"
${DAPI_CORE_TOML:-}
TOML
    [ -n "$TERN_UDP_PORT" ] || fail "no udp port in the tern log"
    # core_embedded logs "admin API on http://127.0.0.1:PORT" (this start's log only)
    DAPI_ADMIN_PORT=$(sed -nE 's#.*admin API on http://[^ ]*:([0-9]+).*#\1#p' "$TERN_LOG" | head -n1)
    [ -n "$DAPI_ADMIN_PORT" ] || fail "no 'admin API on http://...' line in the tern log"
    DAPI_UDP_PORT=$TERN_UDP_PORT
    DAPI_METRICS_PORT=$TERN_METRICS_PORT
    export DAPI_UDP_PORT DAPI_ADMIN_PORT DAPI_METRICS_PORT
}

# dapi_node SCRIPT [args]: runs tests/device_api/SCRIPT with node (bounded by
# DAPI_NODE_TIMEOUT, default 100 s), prints its output, fails the test on a non-zero exit.
dapi_node() {
    local script=$1; shift
    local out="$TERN_TMP/$(basename "$script" .mjs).node.out"
    NODE_PATH="$DAPI_NODE_MODULES" timeout "${DAPI_NODE_TIMEOUT:-100}" node "$DAPI_DIR/$script" "$@" >"$out" 2>&1
    local rc=$?
    cat "$out"
    [ $rc -eq 124 ] && fail "$script did not finish within ${DAPI_NODE_TIMEOUT:-100}s"
    [ $rc -eq 0 ] || fail "$script: checks failed (exit $rc; see the FAIL lines above)"
}

# dapi_cli ARGS...: the tern CLI (plugin commands of core_embedded) against the running
# server; output in $TERN_TMP/cli.out, exit status returned.
dapi_cli() {
    timeout 20 "$TERN_BIN" "$@" --config "$TERN_MANIFEST" >"$TERN_TMP/cli.out" 2>&1
}

# dapi_cli_ok ARGS...: dapi_cli that must succeed; prints its output.
dapi_cli_ok() {
    dapi_cli "$@" || { show_file "$TERN_TMP/cli.out" >&2; fail "tern $* failed"; }
    cat "$TERN_TMP/cli.out"
}
