#!/usr/bin/env bash
# H1 (peer-table lockout) against a real tern (udp + coap + device_api + json +
# core_embedded, one shard, plugins.coap.max_peers=500): thousands of one-shot requests
# from spoofed loopback sources, then new devices that must get 2.01 with their telemetry
# stored once; one network's flood stays within its share (flood_peers.mjs).
set -u
source "$TERN_SOURCE_DIR/tests/device_api/device_api.sh"
export TERN_SHARDS=1
dapi_init
dapi_start --set plugins.coap.max_peers=500
export FLOOD_MAX_PEERS=500
out="$TERN_TMP/flood_peers.node.out"
NODE_PATH="$DAPI_NODE_MODULES" timeout 150 node "$TERN_SOURCE_DIR/tests/security/flood_peers.mjs" >"$out" 2>&1
rc=$?
cat "$out"
[ $rc -eq 0 ] || fail "flood_peers.mjs: checks failed (exit $rc)"
tern_stop
tern_note PASS
