#!/usr/bin/env bash
# A power policy built against the frozen ABI 1.2 headers (fixtures/good_1_2.cpp) is loaded by
# the real kernel beside the shipped device stack (udp, coap, device_api, json, core_embedded,
# and the power plugin when it is built) and decides the power mode DRX ahead of the power
# plugin, which is listed after it (the first policy in manifest order that accepts a mode
# decides it; core_embedded can only name PSM, E_DRX and DRX):
#   - tern plugins inspect shows it as ABI 1.2, providing tern.power.policy/1;
#   - the start-up log has its line, and no "no power policy decides" warning;
#   - good_1_2.mjs: a device of a DRX profile gets one downlink after each uplink, as the
#     policy says, where the power plugin's DRX would send everything at once;
#   - at stop, its counts: the device API asked it (describe, uplinks, a wake, SENDs, HOLDs).
# usage: run_good_1_2.sh    (environment: see lib.sh)
source "$(dirname "$0")/lib.sh"
source "$TERN_SOURCE_DIR/tests/device_api/device_api.sh"
TERN_TEST_NAME=abi.runs.good_1_2
dapi_init

so=$ABI_PLUGINS/libtern-good_1_2.so
[ -e "$so" ] || fail "$so is not built (target tern-abi-fixture-good_1_2)"
out=$TERN_TMP/inspect.txt
timeout 30 "$TERN_BIN" plugins inspect "$so" >"$out" 2>&1 || { show_file "$out" >&2; fail "tern plugins inspect failed"; }
for want in "good_1_2" "frozen ABI 1.2 headers" "1.2" "tern.power.policy/1"; do
    assert_contains "$out" "$want" "inspect should show: $want"
done

mode=DRX
report=$TERN_TMP/policy.txt
power_table=""
[ -f "$TERN_BUILD_DIR/plugins/libtern-power.so" ] && power_table="[plugins.power]"
tern_start --set plugins.coap.ack_timeout=200 --set plugins.coap.max_retransmit=2 <<TOML
[plugins.udp]
bind_address = "127.0.0.1"

[plugins.coap]

[plugins.device_api]

[plugins.json]

[plugins.good_1_2]
mode = "$mode"
report = "$report"

$power_table

[plugins.core_embedded]
database = "$DAPI_DB"
admin_bind = "127.0.0.1:0"
admin_key = "$DAPI_ADMIN_KEY"
TOML
DAPI_ADMIN_PORT=$(sed -nE 's#.*admin API on http://[^ ]*:([0-9]+).*#\1#p' "$TERN_LOG" | head -n1)
[ -n "$DAPI_ADMIN_PORT" ] || fail "no 'admin API on http://...' line in the tern log"
export DAPI_UDP_PORT=$TERN_UDP_PORT DAPI_ADMIN_PORT DAPI_METRICS_PORT=$TERN_METRICS_PORT
export DAPI_TERN_BIN="$TERN_BIN" DAPI_MANIFEST="$TERN_MANIFEST" GOOD_1_2_MODE=$mode
assert_contains "$TERN_LOG" "started instance 'good_1_2' (plugin good_1_2 1.2.0)" "the kernel starts it"
assert_contains "$TERN_LOG" "good_1_2: power policy of mode \"$mode\"" "the policy's start-up line"

node_out=$TERN_TMP/good_1_2.node.out
NODE_PATH="$DAPI_NODE_MODULES" timeout 60 node "$ABI_DIR/good_1_2.mjs" >"$node_out" 2>&1
rc=$?
cat "$node_out"
[ $rc -eq 124 ] && fail "good_1_2.mjs did not finish within 60 s"
[ $rc -eq 0 ] || fail "good_1_2.mjs: checks failed (exit $rc; see the FAIL lines above)"
if grep -q "no power policy decides" "$TERN_LOG"; then
    show_file "$TERN_LOG" >&2
    fail "the device API found no policy for a mode"
fi
tern_stop

wait_until 10 grep -qx stopped "$report" || { show_file "$report" >&2; fail "good_1_2 wrote no counts at stop"; }
count() { sed -n "s/^$1 //p" "$report"; }
# At least: the device API asked describe(), heard 2 uplinks + the RPC reply and a wake, gave
# it 3 downlinks to allow (SEND) and held at least the second change and the RPC.
[ "$(count describe_accepted)" -ge 1 ] && [ "$(count uplink)" -ge 3 ] && [ "$(count woke)" -ge 2 ] &&
    [ "$(count send)" -ge 3 ] && [ "$(count hold)" -ge 2 ] && [ "$(count other)" -eq 0 ] ||
    { show_file "$report" >&2; fail "the policy's counts do not show the device API asking it"; }
tern_note "PASS: a power policy of ABI 1.2 (frozen headers) decides mode $mode in the device API: one downlink after each uplink"
