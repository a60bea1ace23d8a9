#!/usr/bin/env bash
# Scale-out (issue 15) c: kill -9 a transport node during a stream. Twenty devices (ten per
# node) stream CON telemetry; once 600 messages are acknowledged, t1 is killed with SIGKILL.
# Its devices get no answer, move to t2 (as a UDP load balancer taking t1 out would) and
# retry their message there. Checked: every message acknowledged with 2.01 (on either node)
# is stored with its value, nothing unsent is stored, and every device of t1 continued on t2.
set -u
source "$TERN_SOURCE_DIR/tests/scaleout/cluster.sh"
cl_init
cl_up

KILL_AFTER=${CL_KILL_AFTER:-600}
cl_node stream.mjs setup "$TERN_TMP/devices.json" 10 tk
: >"$TERN_TMP/progress"
cl_node_env timeout 50 node "$CL_DIR/stream.mjs" stream "$TERN_TMP/devices.json" "$TERN_TMP/out.json" \
    "$TERN_TMP/progress" "$TERN_TMP/stop" --failover >"$TERN_TMP/stream.out" 2>&1 &
streamer=$!
progress() { cat "$TERN_TMP/progress" 2>/dev/null || echo 0; }
wait_until 20 bash -c '[ "$(cat "$0" 2>/dev/null || echo 0)" -ge "$1" ]' "$TERN_TMP/progress" "$KILL_AFTER" ||
    { kill "$streamer"; cat "$TERN_TMP/stream.out"; fail "fewer than $KILL_AFTER messages acknowledged in 20 s ($(progress))"; }
before=$(progress)
cl_crash t1
tern_note "t1 killed after >= $before acknowledged messages; its devices move to t2"
# long enough for every device of t1 to time out (1.5 s), move and stream on t2 for a while
sleep 5
touch "$TERN_TMP/stop"
wait "$streamer"
rc=$?
cat "$TERN_TMP/stream.out"
[ $rc -eq 0 ] || fail "the streaming devices failed (exit $rc)"
assert_ge "$(progress)" "$((before + 100))" "acknowledged messages after the kill"

cl_node stream.mjs verify "$TERN_TMP/devices.json" "$TERN_TMP/out.json" --failover-from t1
cl_stop_all
tern_note PASS
