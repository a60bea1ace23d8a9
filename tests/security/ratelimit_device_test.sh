#!/usr/bin/env bash
# Per-device message and data point limits and the per-source limit of unknown-token lookups,
# end to end: raw CoAP from node against the real tern with small limits.
set -u
source "$TERN_SOURCE_DIR/tests/device_api/device_api.sh"
dapi_init
dapi_start --set plugins.device_api.device_message_rate=5 --set plugins.device_api.device_message_burst=10 \
    --set plugins.device_api.device_datapoint_rate=100 --set plugins.device_api.device_datapoint_burst=100 \
    --set plugins.device_api.source_rate=2 --set plugins.device_api.source_burst=5
NODE_PATH="$DAPI_NODE_MODULES" timeout 100 node "$TERN_SOURCE_DIR/tests/security/ratelimit_device.mjs" \
    >"$TERN_TMP/node.out" 2>&1
rc=$?
cat "$TERN_TMP/node.out"
[ $rc -eq 0 ] || fail "ratelimit_device.mjs failed (exit $rc)"
tern_stop
tern_note PASS
