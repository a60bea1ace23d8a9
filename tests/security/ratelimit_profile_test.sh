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
# the CLI sets and shows the same options
dapi_cli_ok profile add cli-limited --options device_message_rate=3,device_message_burst=6 >/dev/null
dapi_cli_ok profile show cli-limited >"$TERN_TMP/show.out"
assert_contains "$TERN_TMP/show.out" "option: device_message_rate = 3"
assert_contains "$TERN_TMP/show.out" "option: device_message_burst = 6"
dapi_cli_ok profile update cli-limited --options "" >/dev/null
dapi_cli_ok profile show cli-limited >"$TERN_TMP/show2.out"
assert_not_contains "$TERN_TMP/show2.out" "option:"
! dapi_cli profile update cli-limited --options device_message_rate=fast || fail "a non-integer option was accepted"
tern_stop
tern_note PASS
