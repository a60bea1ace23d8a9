#!/usr/bin/env bash
# One power-saving black-box test against its own tern:
#   run_power_test.sh NAME [tern run options, e.g. --set plugins.device_api.max_pending_rpcs=3]
# starts the device stack of tests/device_api/device_api.sh with the power plugin
# ([plugins.power], DAPI_POWER=1) and short CON timers (ack_timeout 200 ms, 2 retransmissions:
# an unanswered notification is given up within 200 * 1.5 * (1 + 2 + 4) = 2.1 s instead of
# ~93 s), runs tests/power/NAME.mjs with node (bounded by POWER_NODE_TIMEOUT, default 55 s),
# stops tern (SIGTERM, exit status 0 required).
#
# Skips (77) when the power plugin is not built, unless the build has its target
# (POWER_EXPECT_PLUGIN=1): then its absence is a failure.
set -u
source "$TERN_SOURCE_DIR/tests/device_api/device_api.sh"
name=$1
shift
dapi_init
if [ ! -f "$TERN_BUILD_DIR/plugins/libtern-power.so" ]; then
    [ "${POWER_EXPECT_PLUGIN:-0}" = 1 ] &&
        fail "libtern-power.so is missing from $TERN_BUILD_DIR/plugins (build target tern-plugin-power)"
    tern_note "SKIP: the power plugin is not built in $TERN_BUILD_DIR"
    exit 77
fi
export DAPI_POWER=1
dapi_start --set plugins.coap.ack_timeout=200 --set plugins.coap.max_retransmit=2 "$@"
grep -q 'power' "$TERN_MANIFEST" || fail "no [plugins.power] table in the manifest"
export DAPI_TERN_BIN="$TERN_BIN" DAPI_MANIFEST="$TERN_MANIFEST"
out="$TERN_TMP/$name.node.out"
NODE_PATH="$DAPI_NODE_MODULES" timeout "${POWER_NODE_TIMEOUT:-55}" node "$TERN_SOURCE_DIR/tests/power/$name.mjs" >"$out" 2>&1
rc=$?
cat "$out"
[ $rc -eq 124 ] && fail "$name.mjs did not finish within ${POWER_NODE_TIMEOUT:-55}s"
[ $rc -eq 0 ] || fail "$name.mjs: checks failed (exit $rc; see the FAIL lines above)"
tern_stop
tern_note PASS
