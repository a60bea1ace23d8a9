#!/usr/bin/env bash
# Negative caching of unknown access tokens, end to end: made-up tokens from ten loopback
# addresses reach the core once per token and shard per TTL; a token created meanwhile works.
set -u
export TERN_SHARDS=2
source "$TERN_SOURCE_DIR/tests/device_api/device_api.sh"
dapi_init
dapi_start --set plugins.device_api.unknown_token_cache_ttl=1500
NODE_PATH="$DAPI_NODE_MODULES" timeout 100 node "$TERN_SOURCE_DIR/tests/security/negcache_flood.mjs" \
    >"$TERN_TMP/node.out" 2>&1
rc=$?
cat "$TERN_TMP/node.out"
[ $rc -eq 0 ] || fail "negcache_flood.mjs failed (exit $rc)"
tern_stop
tern_note PASS
