#!/usr/bin/env bash
# Provisioning floods, end to end: wrong secrets from 200 loopback addresses are answered from
# a read and cost no write while a victim device is served; one address past its source
# budget gets 4.29.
set -u
source "$TERN_SOURCE_DIR/tests/device_api/device_api.sh"
dapi_init
dapi_start --set plugins.core_embedded.activity_flush_interval=0
NODE_PATH="$DAPI_NODE_MODULES" timeout 100 node "$TERN_SOURCE_DIR/tests/security/provision_flood.mjs" \
    >"$TERN_TMP/node.out" 2>&1
rc=$?
cat "$TERN_TMP/node.out"
[ $rc -eq 0 ] || fail "provision_flood.mjs failed (exit $rc)"
tern_stop
tern_note PASS
