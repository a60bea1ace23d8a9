#!/usr/bin/env bash
# M1 (Block1 before authentication) against a real tern (one shard,
# plugins.coap.max_block1_transfers=40, the default 64 KiB body limit): 4.13 with Size1 at
# once for a Size1 of 256 MiB or a body passing 64 KiB; a device's 20 KB upload completes,
# stored once, while 400 spoofed sources start uploads (flood_block1.mjs).
set -u
source "$TERN_SOURCE_DIR/tests/device_api/device_api.sh"
export TERN_SHARDS=1
dapi_init
dapi_start --set plugins.coap.max_block1_transfers=40 --set plugins.coap.max_peers=2000
export FLOOD_TRANSFERS=40
out="$TERN_TMP/flood_block1.node.out"
NODE_PATH="$DAPI_NODE_MODULES" timeout 150 node "$TERN_SOURCE_DIR/tests/security/flood_block1.mjs" >"$out" 2>&1
rc=$?
cat "$out"
[ $rc -eq 0 ] || fail "flood_block1.mjs: checks failed (exit $rc)"
tern_stop
tern_note PASS
