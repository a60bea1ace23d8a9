# shellcheck shell=bash disable=SC2034  # sourced; PB_* are for the tests
# Common start of the protobuf black-box tests (source from bash): the harness of tests/lib
# and a tern with the device stack and the protobuf adaptor on ephemeral ports:
#   udp (127.0.0.1:0) -> coap -> device_api -> json + protobuf -> core_embedded (SQLite in
#   the test's temp dir, admin API on 127.0.0.1:0 with a fixed key).
#
#   source "$TERN_SOURCE_DIR/plugins/protobuf/tests/blackbox/pb_blackbox.sh"
#   pb_init
#   pb_start [tern run options, e.g. --set plugins.protobuf.enabled=false]
#   pb_cli_ok profile add thermo-pb --payload protobuf --telemetry-proto "$PB_SCHEMAS/telemetry.proto"
#   pb_encode pkg.Msg "$PB_SCHEMAS/telemetry.proto" text.txt out.bin   # protoc --encode
#   coap tel -m post -f out.bin "$(coap_uri api/v1/TOKEN/telemetry)"   # coap-client-openssl
#   pb_decode transport.AttributeUpdateNotificationMsg "$PB_SCHEMAS/transport.proto" in.bin
#   tern_stop
#
# The devices are libcoap's coap-client-openssl (it exits 0 even when a request failed: the
# helpers of tests/lib/coap_client.sh read what it printed) and, where many messages are
# needed, node with tests/device_api/lib/dapi.mjs. Every payload is encoded and decoded by
# protoc from the test's own .proto copies in schemas/. After pb_start: $PB_UDP_PORT,
# $PB_ADMIN_PORT, $PB_DB (exported, as the DAPI_* names dapi.mjs reads).
COAP_CLIENT=${COAP_CLIENT:-coap-client-openssl}
source "$TERN_SOURCE_DIR/tests/lib/tern.sh"
source "$TERN_SOURCE_DIR/tests/lib/coap_client.sh"

PB_DIR="$TERN_SOURCE_DIR/plugins/protobuf/tests/blackbox"
PB_SCHEMAS="$PB_DIR/schemas"
PB_NODE_MODULES="$TERN_SOURCE_DIR/tests/interop/node_modules"
export DAPI_ADMIN_KEY="pb-blackbox-admin-key-51d2"

# pb_init: tern_init; the plugins of the stack must be built (skip, 77, when the protobuf
# plugin is not part of this build; with its target a missing library is a failure); protoc,
# node and coap-client-openssl must be installed.
pb_init() {
    tern_init
    if [ ! -f "$TERN_BUILD_DIR/plugins/libtern-protobuf.so" ]; then
        if [ "${PB_EXPECT_PLUGIN:-0}" = 1 ]; then
            fail "libtern-protobuf.so is missing from $TERN_BUILD_DIR/plugins (build target tern-plugin-protobuf)"
        fi
        tern_note "SKIP: the protobuf plugin is not built in $TERN_BUILD_DIR"
        exit 77
    fi
    local p
    for p in udp coap device_api json core_embedded; do
        [ -f "$TERN_BUILD_DIR/plugins/libtern-$p.so" ] || fail "libtern-$p.so is missing from $TERN_BUILD_DIR/plugins"
    done
    command -v protoc >/dev/null || fail "protoc is required (Debian package protobuf-compiler)"
    command -v node >/dev/null || fail "node is required (Debian package nodejs)"
    command -v "$COAP_CLIENT" >/dev/null || fail "$COAP_CLIENT is required (Debian package libcoap3-bin)"
    PB_DB="$TERN_TMP/db/tern.db"
    mkdir -p "$TERN_TMP/db"
    export PB_DB DAPI_DB="$PB_DB"
}

# pb_start [tern run options]: starts tern with the protobuf adaptor enabled.
pb_start() {
    tern_start "$@" <<TOML
[plugins.udp]
bind_address = "127.0.0.1"

[plugins.coap]

[plugins.device_api]
${PB_DEVICE_API_TOML:-}

[plugins.json]

[plugins.protobuf]
${PB_PROTOBUF_TOML:-}

[plugins.core_embedded]
database = "$PB_DB"
admin_bind = "127.0.0.1:0"
admin_key = "$DAPI_ADMIN_KEY"
TOML
    [ -n "$TERN_UDP_PORT" ] || fail "no udp port in the tern log"
    PB_ADMIN_PORT=$(sed -nE 's#.*admin API on http://[^ ]*:([0-9]+).*#\1#p' "$TERN_LOG" | head -n1)
    [ -n "$PB_ADMIN_PORT" ] || fail "no 'admin API on http://...' line in the tern log"
    PB_UDP_PORT=$TERN_UDP_PORT
    export PB_UDP_PORT PB_ADMIN_PORT
    export DAPI_UDP_PORT=$PB_UDP_PORT DAPI_ADMIN_PORT=$PB_ADMIN_PORT DAPI_METRICS_PORT=$TERN_METRICS_PORT
}

# pb_cli ARGS...: the tern CLI against the running server; output (stdout and stderr) in
# $TERN_TMP/cli.out, exit status returned.
pb_cli() {
    timeout 20 "$TERN_BIN" "$@" --config "$TERN_MANIFEST" >"$TERN_TMP/cli.out" 2>&1
}

# pb_cli_ok ARGS...: pb_cli that must succeed; prints its output.
pb_cli_ok() {
    pb_cli "$@" || { show_file "$TERN_TMP/cli.out" >&2; fail "tern $* failed"; }
    cat "$TERN_TMP/cli.out"
}

# pb_encode TYPE PROTO TEXT_FILE OUT_FILE: protoc --encode of the text format in TEXT_FILE.
pb_encode() {
    local type=$1 proto=$2 text=$3 out=$4
    protoc --encode="$type" -I"$(dirname "$proto")" "$(basename "$proto")" <"$text" >"$out" \
        2>"$TERN_TMP/protoc.err" || { show_file "$TERN_TMP/protoc.err" >&2; fail "protoc --encode=$type failed"; }
}

# pb_encode_text TYPE PROTO OUT_FILE TEXT: the same with the text given inline.
pb_encode_text() {
    printf '%s\n' "$4" >"$TERN_TMP/encode.txt"
    pb_encode "$1" "$2" "$TERN_TMP/encode.txt" "$3"
}

# pb_decode TYPE PROTO IN_FILE: prints the text format of the message (fails the test when
# the bytes are not a TYPE).
pb_decode() {
    local type=$1 proto=$2 in=$3
    protoc --decode="$type" -I"$(dirname "$proto")" "$(basename "$proto")" <"$in" \
        2>"$TERN_TMP/protoc.err" || { show_file "$TERN_TMP/protoc.err" >&2; fail "protoc --decode=$type: not a $type"; }
}

# coap_payloads NAME: one line per message with a code that coap-client received, in order:
# "CODE HEX" for a binary payload (libcoap prints one as <<hex>> on the line after the
# message; Content-Format 42 is always shown so), "CODE" alone when there is no payload,
# "CODE :: 'text'" for a payload libcoap shows as text.
coap_payloads() {
    awk '
        pending && /^<<[0-9a-f]*>>$/ { print code " " substr($0, 3, length($0) - 4); pending = 0; next }
        pending { print code; pending = 0 }
        /^v:1 / && prev ~ /UDP : received [0-9]+ bytes/ && match($0, / c:[0-9]\.[0-9][0-9] /) {
            code = substr($0, RSTART + 3, 4)
            if ($0 ~ /:: binary data length/) pending = 1
            else if (index($0, " :: ")) print code substr($0, index($0, " :: "))
            else print code
        }
        { prev = $0 }
    ' "$TERN_TMP/$1.out"
}

# hex_to_file HEX FILE: writes the bytes (with node, which the tests need anyway; a fresh
# Debian has no xxd).
hex_to_file() {
    node -e 'require("fs").writeFileSync(process.argv[2], Buffer.from(process.argv[1], "hex"))' "$1" "$2"
}

# json_get FILE EXPR: evaluates a JS expression over the JSON in FILE (as `j`); strings are
# printed as they are, anything else as JSON.
json_get() {
    node -e 'const fs=require("fs"); const j=JSON.parse(fs.readFileSync(process.argv[1],"utf8")); const v=('"$2"'); process.stdout.write(typeof v==="string"?v:JSON.stringify(v))' "$1"
}

# pb_node SCRIPT [args]: runs a node script of this folder (bounded), prints its output and
# fails the test on a non-zero exit.
pb_node() {
    local script=$1; shift
    local out
    out="$TERN_TMP/$(basename "$script" .mjs).node.out"
    DAPI_TERN_BIN="$TERN_BIN" DAPI_MANIFEST="$TERN_MANIFEST" NODE_PATH="$PB_NODE_MODULES" \
        timeout "${PB_NODE_TIMEOUT:-100}" node "$PB_DIR/$script" "$@" >"$out" 2>&1
    local rc=$?
    cat "$out"
    [ $rc -eq 124 ] && fail "$script did not finish within ${PB_NODE_TIMEOUT:-100}s"
    [ $rc -eq 0 ] || fail "$script: checks failed (exit $rc; see the FAIL lines above)"
}

# pb_kvs TS_MIN TS_MAX < protoc text: the TsKvProto entries of a decoded message, one line
# "LIST KEY TYPE VALUE" each (VALUE as protoc prints it, the proto3 default when it printed
# none), sorted; a ts outside [TS_MIN, TS_MAX] adds a line "bad ts LIST KEY TS". A ts of 0
# (not sent) passes: Tern's adaptors get attributes without their update time (ThingsBoard
# sends it; docs/device-api.md §8.3). Top-level scalars (sharedDeleted: "k", error: "…") are
# printed as they are.
pb_kvs() {
    awk -v lo="$1" -v hi="$2" '
        depth == 0 && /^[A-Za-z]+ \{$/ { list = $1; key = ""; type = "BOOLEAN_V"; val = ""; ts = 0; depth = 1; next }
        depth == 0 && /^[A-Za-z]+: / { print; next }
        depth == 1 && /^  ts: / { ts = $2; next }
        depth == 1 && /^  kv \{$/ { depth = 2; next }
        depth == 2 && /^    key: / { key = substr($0, index($0, ":") + 2); next }
        depth == 2 && /^    type: / { type = $2; next }
        depth == 2 && /^    [a-z]+_v: / { val = substr($0, index($0, ":") + 2); next }
        depth == 2 && /^  \}$/ { depth = 1; next }
        depth == 1 && /^\}$/ {
            if (val == "") val = type == "BOOLEAN_V" ? "false" : (type == "LONG_V" || type == "DOUBLE_V") ? "0" : "\"\""
            print list " " key " " type " " val
            if (ts + 0 != 0 && (ts + 0 < lo + 0 || ts + 0 > hi + 0)) print "bad ts " list " " key " " ts
            depth = 0; next
        }
    ' | LC_ALL=C sort
}

# assert_kvs NAME ACTUAL_FILE EXPECTED_TEXT: the lines are equal (both sorted).
assert_kvs() {
    printf '%s\n' "$3" | sed '/^$/d' | LC_ALL=C sort >"$TERN_TMP/$1.want"
    if ! diff "$TERN_TMP/$1.want" "$2" >"$TERN_TMP/$1.diff"; then
        show_file "$TERN_TMP/$1.diff" >&2
        fail "$1: the decoded message differs from the expected one (diff: < expected, > received)"
    fi
}

# coap_payload_count_at_least NAME N: coap-client received at least N messages with a code
# (for wait_until).
coap_payload_count_at_least() { [ "$(coap_payloads "$1" | wc -l)" -ge "$2" ]; }

# coap_payload_file NAME INDEX FILE: the INDEX-th (from 1) received payload into FILE; its
# code is printed.
coap_payload_file() {
    local line
    line=$(coap_payloads "$1" | sed -n "$2p")
    [ -n "$line" ] || { show_file "$TERN_TMP/$1.out" >&2; fail "$1: no message number $2 received"; }
    case "$line" in
        *" :: "*) fail "$1: message $2 has a text payload, expected protobuf bytes: $line" ;;
    esac
    if [ "${line#* }" != "$line" ]; then hex_to_file "${line#* }" "$3"; else : >"$3"; fi
    echo "${line%% *}"
}

# pb_string_field FILE NAME: the value of the top-level string field NAME in protoc's text
# output FILE, unescaped (empty when the field is not there).
pb_string_field() {
    node -e '
        const fs = require("fs");
        const m = fs.readFileSync(process.argv[1], "utf8").match(new RegExp("^" + process.argv[2] + ": (\".*\")$", "m"));
        if (m) process.stdout.write(JSON.parse(m[1]));' "$1" "$2"
}
