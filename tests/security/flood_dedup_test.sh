#!/usr/bin/env bash
# M2 (dedup eviction) against a real tern (one shard, plugins.coap.dedup_capacity=300): a
# device's retransmitted CON telemetry POST after a flood of unique-MID requests from 400
# spoofed loopback sources is answered from the cache and stored once (flood_dedup.mjs).
set -u
source "$TERN_SOURCE_DIR/tests/device_api/device_api.sh"
export TERN_SHARDS=1
dapi_init
dapi_start --set plugins.coap.dedup_capacity=300 --set plugins.coap.max_peers=2000
export FLOOD_DEDUP=300
out="$TERN_TMP/flood_dedup.node.out"
NODE_PATH="$DAPI_NODE_MODULES" timeout 150 node "$TERN_SOURCE_DIR/tests/security/flood_dedup.mjs" >"$out" 2>&1
rc=$?
cat "$out"
[ $rc -eq 0 ] || fail "flood_dedup.mjs: checks failed (exit $rc)"
tern_stop
tern_note PASS
