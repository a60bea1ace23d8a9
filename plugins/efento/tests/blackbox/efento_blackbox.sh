# shellcheck shell=bash disable=SC2034  # sourced; EB_* are for the tests
# Common start of the Efento black-box tests (source from bash): the harness of tests/lib and
# a tern with the device stack and the efento plugin on ephemeral ports:
#   udp (127.0.0.1:0) -> coap -> device_api + efento -> core_embedded (SQLite in the test's
#   temp dir, admin API on 127.0.0.1:0 with a fixed key, activity flushed every 200 ms), TZ=UTC.
#
#   source "$TERN_SOURCE_DIR/plugins/efento/tests/blackbox/efento_blackbox.sh"
#   eb_init
#   eb_start [tern run options, e.g. --set plugins.efento.prefix=sensors]
#   eb_device sensor-1 token-1                       # an EFENTO profile (once) and a device
#   eb_encode m "$EB_MSGS/continuous.txtpb" out.bin  # protoc --encode from plugins/efento/proto
#   eb_post post1 efento/m out.bin [-N -B 2]         # coap-client-openssl, CON unless -N
#   assert_code post1 2.01 ACK
#   eb_history sensor-1 out.json; eb_compare records out.json "$EXPECTED"   # stored.mjs
#   tern_stop
#
# The sensor is libcoap's coap-client-openssl (it exits 0 even when a request failed: the
# helpers of tests/lib/coap_client.sh read what it printed). Every message is encoded by
# protoc from the plugin's own .proto files (the ones the plugin is compiled from) out of a
# text-format file in messages/ or given inline; what was stored is read with the `tern` CLI
# and compared with values written by hand in the test.
COAP_CLIENT=${COAP_CLIENT:-coap-client-openssl}
source "$TERN_SOURCE_DIR/tests/lib/tern.sh"
source "$TERN_SOURCE_DIR/tests/lib/coap_client.sh"

EB_DIR="$TERN_SOURCE_DIR/plugins/efento/tests/blackbox"
EB_MSGS="$EB_DIR/messages"
EB_PROTO="$TERN_SOURCE_DIR/plugins/efento/proto"
EB_ADMIN_KEY="efento-blackbox-admin-key-7c3e"
# The dates the plugin writes use the process's zone: the expected texts are in UTC.
export TZ=UTC

# eb_init: tern_init; the plugins of the stack must be built (skip, 77, when the efento plugin
# is not part of this build; under ctest a missing library is a failure); protoc, node and
# coap-client-openssl must be installed.
eb_init() {
    tern_init
    if [ ! -f "$TERN_BUILD_DIR/plugins/libtern-efento.so" ]; then
        if [ "${EB_EXPECT_PLUGIN:-0}" = 1 ]; then
            fail "libtern-efento.so is missing from $TERN_BUILD_DIR/plugins (build target tern-plugin-efento)"
        fi
        tern_note "SKIP: the efento plugin is not built in $TERN_BUILD_DIR"
        exit 77
    fi
    local p
    for p in udp coap device_api json core_embedded; do
        [ -f "$TERN_BUILD_DIR/plugins/libtern-$p.so" ] || fail "libtern-$p.so is missing from $TERN_BUILD_DIR/plugins"
    done
    command -v protoc >/dev/null || fail "protoc is required (Debian package protobuf-compiler)"
    command -v node >/dev/null || fail "node is required (Debian package nodejs)"
    command -v "$COAP_CLIENT" >/dev/null || fail "$COAP_CLIENT is required (Debian package libcoap3-bin)"
    EB_DB="$TERN_TMP/db/tern.db"
    mkdir -p "$TERN_TMP/db"
    EB_PROFILE_MADE=0
}

# eb_start [tern run options]: starts tern with the efento plugin ($EB_EFENTO_TOML: more lines
# of its table).
eb_start() {
    tern_start "$@" <<TOML
[plugins.udp]
bind_address = "127.0.0.1"

[plugins.coap]

[plugins.device_api]

[plugins.json]

[plugins.efento]
${EB_EFENTO_TOML:-}

[plugins.core_embedded]
database = "$EB_DB"
activity_flush_interval = 200
admin_bind = "127.0.0.1:0"
admin_key = "$EB_ADMIN_KEY"
TOML
    [ -n "$TERN_UDP_PORT" ] || fail "no udp port in the tern log"
}

# eb_cli ARGS...: the tern CLI against the running server; output (stdout and stderr) in
# $TERN_TMP/cli.out, exit status returned.
eb_cli() {
    timeout 20 "$TERN_BIN" "$@" --config "$TERN_MANIFEST" >"$TERN_TMP/cli.out" 2>&1
}

# eb_cli_ok ARGS...: eb_cli that must succeed; prints its output.
eb_cli_ok() {
    eb_cli "$@" || { show_file "$TERN_TMP/cli.out" >&2; fail "tern $* failed"; }
    cat "$TERN_TMP/cli.out"
}

# eb_device NAME TOKEN [PROFILE]: a device with that access token (the sensor's cloud_token)
# in PROFILE, by default `efento-p` (transport COAP, CoAP device type EFENTO; made on first
# use).
eb_device() {
    local name=$1 token=$2 profile=${3:-efento-p}
    if [ "$profile" = efento-p ] && [ "$EB_PROFILE_MADE" = 0 ]; then
        eb_cli_ok profile add efento-p --transport COAP --coap-device-type EFENTO >/dev/null
        EB_PROFILE_MADE=1
    fi
    eb_cli_ok device add "$name" --token "$token" --profile "$profile" >/dev/null
}

# The message type of a resource letter and its .proto file.
_eb_type() {
    case "$1" in
        m) echo "ProtoMeasurements proto_measurements.proto" ;;
        i) echo "ProtoDeviceInfo proto_device_info.proto" ;;
        c) echo "ProtoConfig proto_config.proto" ;;
        *) fail "eb_encode: unknown kind '$1' (m, i or c)" ;;
    esac
}

# eb_encode KIND TEXT_FILE OUT_FILE: protoc --encode of the text format in TEXT_FILE as the
# message of KIND (m measurements, i device info, c configuration).
eb_encode() {
    local t
    read -r -a t <<<"$(_eb_type "$1")"
    protoc --encode="${t[0]}" -I "$EB_PROTO" "$EB_PROTO/${t[1]}" <"$2" >"$3" 2>"$TERN_TMP/protoc.err" ||
        { show_file "$TERN_TMP/protoc.err" >&2; fail "protoc --encode=${t[0]} of $2 failed"; }
}

# eb_encode_text KIND OUT_FILE TEXT: the same with the text given inline.
eb_encode_text() {
    printf '%s\n' "$3" >"$TERN_TMP/encode.txtpb"
    eb_encode "$1" "$TERN_TMP/encode.txtpb" "$2"
}

# eb_post NAME PATH FILE [coap-client options]: a CON POST of FILE's bytes to PATH.
eb_post() {
    local name=$1 path=$2 file=$3
    shift 3
    coap "$name" -m post -f "$file" "$@" "$(coap_uri "$path")"
}

# eb_history NAME OUT_FILE: every stored point of the device, all keys, oldest first (JSON:
# {"key":[{"ts":…,"value":…},…],…}).
eb_history() {
    eb_cli_ok telemetry "$1" --since 0 --asc --limit 1000 --json >"$2"
}

# eb_latest NAME OUT_FILE: the newest point of each key (JSON: {"key":{"ts":…,"value":…},…}).
eb_latest() {
    eb_cli_ok telemetry "$1" --latest --json >"$2"
}

# eb_client_attrs NAME OUT_FILE: the device's client attributes (JSON of `tern attr get`).
eb_client_attrs() {
    eb_cli_ok attr get "$1" --scope client --json >"$2"
}

# eb_server_attr NAME KEY: the value of the device's server attribute KEY (empty when absent);
# the core writes lastActivityTime there for every activity the plugin reports (flushed every
# plugins.core_embedded.activity_flush_interval, 200 ms in these tests).
eb_server_attr() {
    eb_cli_ok attr get "$1" --scope server --json >"$TERN_TMP/server-attrs.json"
    node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        const a = (j.server ?? []).find((x) => x.key === process.argv[2]);
        if (a) process.stdout.write(String(a.value));' "$TERN_TMP/server-attrs.json" "$2"
}

# eb_active_between NAME T0 T1: the device's lastActivityTime appears within 5 s and lies in
# [T0, T1] (ms).
eb_active_between() {
    local v=""
    local deadline=$((SECONDS + 5))
    while v=$(eb_server_attr "$1" lastActivityTime) && [ -z "$v" ]; do
        [ $SECONDS -ge $deadline ] && fail "$1: no lastActivityTime within 5 s (the accepted message reported no activity)"
        sleep 0.1
    done
    [ "$v" -ge "$2" ] && [ "$v" -le "$3" ] || fail "$1: lastActivityTime $v not in [$2, $3]"
}

# eb_compare MODE FILE EXPECTED [ARGS...]: stored.mjs (see there) or fail with its report.
eb_compare() {
    local mode=$1 file=$2
    shift 2
    node "$EB_DIR/stored.mjs" "$mode" "$file" "$@" >"$TERN_TMP/compare.out" 2>&1 || {
        cat "$TERN_TMP/compare.out" >&2
        show_file "$file" >&2
        fail "stored data of $(basename "$file") differs from the expected (above)"
    }
}

# eb_nothing_stored NAME: the device has no telemetry and no client attributes.
eb_nothing_stored() {
    eb_history "$1" "$TERN_TMP/none.json"
    eb_compare records "$TERN_TMP/none.json" '{}'
    eb_client_attrs "$1" "$TERN_TMP/none-attrs.json"
    eb_compare client "$TERN_TMP/none-attrs.json" '{}'
}

# assert_no_reply NAME: coap-client received nothing at all (it gave up after its -B wait).
assert_no_reply() {
    if [ -n "$(coap_received "$1")" ]; then
        show_file "$TERN_TMP/$1.out" >&2
        fail "$1: expected no reply, got: $(coap_received "$1" | head -n 3)"
    fi
    # it did send the request
    [ -n "$(coap_sent "$1")" ] || { show_file "$TERN_TMP/$1.out" >&2; fail "$1: the request was not sent"; }
}
