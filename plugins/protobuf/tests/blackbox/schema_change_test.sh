#!/usr/bin/env bash
# The telemetry schema of a protobuf profile changed while its devices post: no message is
# decoded with a half-updated schema, nothing answered 2.01 is lost, and the new schema
# applies without a restart (schema_change.mjs has the details). The per-device message
# limits are lifted so that the devices can post as fast as they are answered.
set -u
source "$TERN_SOURCE_DIR/plugins/protobuf/tests/blackbox/pb_blackbox.sh"
pb_init
pb_start --set plugins.device_api.device_message_rate=1000000 --set plugins.device_api.device_message_burst=1000000 \
    --set plugins.device_api.device_datapoint_rate=1000000 --set plugins.device_api.device_datapoint_burst=1000000

S=$PB_SCHEMAS
# the test's hand-made encoding is what protoc makes of the same message
want=$(printf 'ts: 1600000000001 values { alpha: 10 beta: 20 }' |
    protoc --encode=swap.Reading -I"$S" swap_v1.proto | od -An -v -tx1 | tr -d ' \n')
got=$(node "$PB_DIR/schema_change.mjs" --encode 1600000000001)
assert_eq "$want" "$got" "schema_change.mjs encodes swap.Reading as protoc does"

DEVICES=6
pb_cli_ok profile add pb-swap --transport COAP --payload protobuf --telemetry-proto "$S/swap_v1.proto" >/dev/null
for i in $(seq 0 $((DEVICES - 1))); do
    pb_cli_ok device add "pb-swap-$i" --token "pb-swap-token-$i" --profile pb-swap >/dev/null
done
pb_node schema_change.mjs pb-swap pb-swap "$DEVICES"
tern_stop
tern_note PASS
