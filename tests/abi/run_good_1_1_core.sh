#!/usr/bin/env bash
# A plugin built against the frozen ABI 1.1 headers (fixtures/good_1_1_core.cpp) uses the
# core's capabilities through the kernel, with core_embedded providing them:
#   - tern.core.auth/1 finds a device by its access token (a record without CoAP fields);
#   - tern.core.events/1 and a tern.core/1 listener of the same plugin both hear a shared
#     attribute update of that device: a second subscriber takes nothing from the first.
# usage: run_good_1_1_core.sh    (environment: see lib.sh)
source "$(dirname "$0")/lib.sh"
TERN_TEST_NAME=abi.runs.good_1_1_core
tern_init

[ -e "$TERN_BUILD_DIR/plugins/libtern-core_embedded.so" ] || fail "core_embedded is not built"
db=$TERN_TMP/var/tern.db
key=abi-core-capabilities-admin-key
token=abi-core-1-1-token
report=$TERN_TMP/report.txt
core_table="[plugins.core_embedded]
database = \"$db\"
admin_bind = \"127.0.0.1:0\"
admin_key = \"$key\""
cli() { timeout 20 "$TERN_BIN" "$@" --config "$TERN_MANIFEST" >"$TERN_TMP/cli.out" 2>&1 ||
            { show_file "$TERN_TMP/cli.out" >&2; fail "tern $* failed"; }; }

# The device first, with the core alone.
tern_start <<<"$core_table"
cli device add sensor --token "$token"
tern_stop

tern_start <<TOML
$core_table

[plugins.good_1_1_core]
report = "$report"
token = "$token"
TOML
wait_until 20 grep -q '^ready$' "$report" || { show_file "$report" >&2; fail "good_1_1_core did not get ready"; }
cli attr set sensor --shared target=5
wait_until 20 grep -q '^events attributes target=5$' "$report" ||
    { show_file "$report" >&2; fail "the tern.core.events/1 subscriber heard no update"; }
wait_until 20 grep -q '^core1 attributes target=5$' "$report" ||
    { show_file "$report" >&2; fail "the tern.core/1 listener heard no update beside the events subscriber"; }
tern_stop

for want in "auth ok" "device sensor" "transport_option absent" "psk_unknown not_found" \
            "subscribe_device ok" "unknown_handle not_found" "stopped"; do
    grep -qx "$want" "$report" || { show_file "$report" >&2; fail "the report lacks '$want'"; }
done
tern_note "PASS: a plugin of ABI 1.1 authenticates through tern.core.auth/1 and hears downlinks through tern.core.events/1 beside a tern.core/1 listener"
