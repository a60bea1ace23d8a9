#!/usr/bin/env bash
# Scale-out (issue 15) a: devices on both transport nodes post telemetry and the core node
# stores every message exactly once. Ten devices (five per node) each stream 40 CON
# messages with client timestamps through the raw CoAP client of the device API tests; two
# devices added with `tern device add` on the core node's manifest post with libcoap's
# coap-client-openssl, one through each node. Checked: every message answered 2.01 at the
# first try; the store holds exactly those points with their values; the core's count of
# telemetry values written grew by exactly the number of values sent (none applied twice);
# both nodes carried uplinks.
set -u
command -v coap-client-openssl >/dev/null && COAP_CLIENT=${COAP_CLIENT:-coap-client-openssl}
source "$TERN_SOURCE_DIR/tests/scaleout/cluster.sh"
cl_init
cl_up

values_before=$(cl_metric core core_telemetry_values_total)
t1_before=$(cl_metric t1 core_nats_uplinks_total)
t2_before=$(cl_metric t2 core_nats_uplinks_total)

PER_NODE=5 COUNT=40
cl_node stream.mjs setup "$TERN_TMP/devices.json" $PER_NODE tel
cl_node stream.mjs stream "$TERN_TMP/devices.json" "$TERN_TMP/out.json" "$TERN_TMP/progress" "$TERN_TMP/stop" --count $COUNT

# libcoap firmware, one device per node, devices added with the CLI on the core node (the
# manifest and overrides it runs with: the CLI finds the bound admin port beside the database)
core_cli() { (cd "$TERN_TMP/core" && timeout 20 "$TERN_BIN" "$@" --config "$TERN_SOURCE_DIR/config/core-node.toml" \
    --set plugins.core_embedded.admin_bind=127.0.0.1:0 --set "plugins.core_embedded.admin_key=$CL_ADMIN_KEY" \
    >"$TERN_TMP/cli.out" 2>&1) ||
    { show_file "$TERN_TMP/cli.out" >&2; fail "tern $* (core node manifest) failed"; }; }
cc_latest_is_3() { core_cli telemetry "cc-$1" --key cc --latest --json && grep -qF '"value":3' "$TERN_TMP/cli.out"; }
for node in t1 t2; do
    token="cc-$node-token-$RANDOM$RANDOM"
    core_cli device add "cc-$node" --token "$token"
    for i in 1 2 3; do
        coap "cc-$node-$i" -m post -t json -e "{\"cc\":$i}" "coap://127.0.0.1:${CL_UDP[$node]}/api/v1/$token/telemetry"
        assert_code "cc-$node-$i" 2.01
    done
    # the core applies an uplink after JetStream stored it: wait (bounded) for the last one
    wait_until 10 cc_latest_is_3 "$node" ||
        { show_file "$TERN_TMP/cli.out" >&2; fail "cc-$node: the value 3 posted by coap-client through $node is not in the core after 10 s"; }
    core_cli telemetry "cc-$node" --key cc --since 1h --json
    assert_eq 3 "$(grep -oF '"value":' "$TERN_TMP/cli.out" | wc -l)" "cc-$node: points stored for the three coap-client messages"
    tern_note "coap-client ($COAP_CLIENT) through $node: 3 messages answered 2.01 and stored once"
done

cl_node stream.mjs verify "$TERN_TMP/devices.json" "$TERN_TMP/out.json" --exact

# nothing applied twice: the core wrote exactly one value per message
want=$((PER_NODE * 2 * COUNT + 6))
wait_until 10 cl_metric_at_least core core_telemetry_values_total $((values_before + want)) ||
    fail "core_telemetry_values_total grew by $(( $(cl_metric core core_telemetry_values_total) - values_before )), expected $want"
sleep 1
assert_eq $want $(( $(cl_metric core core_telemetry_values_total) - values_before )) \
    "telemetry values the core wrote (one per message sent: none applied twice)"
t1_n=$(( $(cl_metric t1 core_nats_uplinks_total) - t1_before ))
t2_n=$(( $(cl_metric t2 core_nats_uplinks_total) - t2_before ))
assert_ge "$t1_n" $((PER_NODE * COUNT + 3)) "uplinks published by t1 (core_nats_uplinks_total)"
assert_ge "$t2_n" $((PER_NODE * COUNT + 3)) "uplinks published by t2 (core_nats_uplinks_total)"
tern_note "core wrote $want values, one per message; t1 published $t1_n uplinks, t2 $t2_n"

cl_stop_all
tern_note PASS
