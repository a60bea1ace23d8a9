#!/usr/bin/env bash
# Durability (issue 4): 60 devices stream CON telemetry (one message in flight each, as
# NSTART 1 firmware does); tern is killed with SIGKILL mid-stream and restarted on the same
# database; every message that had been answered 2.01 must be in the store.
set -u
source "$TERN_SOURCE_DIR/tests/device_api/device_api.sh"
dapi_init
dapi_start

DEVICES=${DAPI_DURABILITY_DEVICES:-60}
KILL_AFTER=${DAPI_DURABILITY_KILL_AFTER:-1500}   # acknowledged messages before the kill
dapi_node durability.mjs setup "$TERN_TMP/devices.json" "$DEVICES"

: >"$TERN_TMP/progress"
NODE_PATH="$DAPI_NODE_MODULES" timeout 90 node "$DAPI_DIR/durability.mjs" stream \
    "$TERN_TMP/devices.json" "$TERN_TMP/acked.json" "$TERN_TMP/progress" "$TERN_TMP/stop" >"$TERN_TMP/stream.out" 2>&1 &
streamer=$!

# kill once a good number of messages has been acknowledged (the stream is well under way)
progress() { local n; n=$(cat "$TERN_TMP/progress" 2>/dev/null); echo "${n:-0}"; }
t0=$(date +%s%N)
wait_until 30 bash -c '[ "$(cat "$0" 2>/dev/null || echo 0)" -ge "$1" ]' "$TERN_TMP/progress" "$KILL_AFTER" ||
    { kill "$streamer" 2>/dev/null; cat "$TERN_TMP/stream.out"; fail "fewer than $KILL_AFTER messages acknowledged in 30 s ($(progress))"; }
before=$(progress)
tern_crash
tern_note "killed tern (SIGKILL) $(( ($(date +%s%N) - t0) / 1000000 )) ms into the stream, after >= $before acknowledged messages, devices still sending"

# the devices keep trying (and time out) for a moment, then stop
sleep 2
touch "$TERN_TMP/stop"
wait "$streamer"
rc=$?
cat "$TERN_TMP/stream.out"
[ $rc -eq 0 ] || fail "the streaming devices failed (exit $rc)"
after=$(progress)
assert_ge "$after" "$before" "acknowledged messages"

dapi_start
dapi_node durability.mjs verify "$TERN_TMP/devices.json" "$TERN_TMP/acked.json"
tern_stop
tern_note PASS
