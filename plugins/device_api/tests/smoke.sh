# Shared set-up of the device_api smoke tests (source from bash): the real kernel with udp,
# coap, json, core_embedded and device_api, a device made through the `tern` CLI.
set -u
source "$TERN_SOURCE_DIR/tests/lib/tern.sh"
source "$TERN_SOURCE_DIR/tests/lib/coap_client.sh"

# start_device_api: starts tern (admin API on a free port, database in the temp dir).
start_device_api() {
    tern_init
    tern_start "$@" <<EOF2
[plugins.udp]
[plugins.coap]
[plugins.json]
[plugins.core_embedded]
database = "$TERN_TMP/var/tern.db"
admin_bind = "127.0.0.1:0"
sync = "normal"
[plugins.device_api]
EOF2
}

# cli ARGS...: the tern CLI against this tern's admin API; output in $TERN_TMP/cli.out.
cli() {
    timeout 20 "$TERN_BIN" "$@" --config "$TERN_MANIFEST" >"$TERN_TMP/cli.out" 2>&1 || {
        show_file "$TERN_TMP/cli.out" >&2
        fail "tern $*: failed"
    }
}
