#!/usr/bin/env bash
# Per-profile rate limits set through the admin API's profile options, end to end.
set -u
source "$TERN_SOURCE_DIR/tests/device_api/device_api.sh"
dapi_init
dapi_start
NODE_PATH="$DAPI_NODE_MODULES" timeout 100 node "$TERN_SOURCE_DIR/tests/security/ratelimit_profile.mjs" \
    >"$TERN_TMP/node.out" 2>&1
rc=$?
cat "$TERN_TMP/node.out"
[ $rc -eq 0 ] || fail "ratelimit_profile.mjs failed (exit $rc)"
tern_stop
tern_note PASS
