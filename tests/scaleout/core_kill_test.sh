#!/usr/bin/env bash
# Scale-out (issue 15) d: kill -9 the core node during a stream and restart it. Twenty
# devices (ten per node) stream CON telemetry; once 600 messages are acknowledged the core
# node is killed with SIGKILL. The transport nodes keep acknowledging uplinks (JetStream
# holds them) for three seconds; the core node is then restarted on the same database and
# bridge state, and the stream goes on for two more seconds. Checked: every message
# acknowledged with 2.01 is stored with its value, none twice, nothing unsent; uplinks were
# acknowledged while the core was down; the bridge skipped or re-applied the redelivered
# messages (its counters are printed).
set -u
source "$TERN_SOURCE_DIR/tests/scaleout/cluster.sh"
# Uplinks delivered to the killed bridge and never acknowledged come back after the
# consumers' ack wait (30 s by default): 3 s keeps the test short.
CL_CORE_SETS=(--set plugins.nats_bridge.consumer_ack_wait=3000)
cl_init
cl_up

KILL_AFTER=${CL_KILL_AFTER:-600}
cl_node stream.mjs setup "$TERN_TMP/devices.json" 10 ck
: >"$TERN_TMP/progress"
cl_node_env timeout 50 node "$CL_DIR/stream.mjs" stream "$TERN_TMP/devices.json" "$TERN_TMP/out.json" \
    "$TERN_TMP/progress" "$TERN_TMP/stop" >"$TERN_TMP/stream.out" 2>&1 &
streamer=$!
progress() { cat "$TERN_TMP/progress" 2>/dev/null || echo 0; }
wait_until 20 bash -c '[ "$(cat "$0" 2>/dev/null || echo 0)" -ge "$1" ]' "$TERN_TMP/progress" "$KILL_AFTER" ||
    { kill "$streamer"; cat "$TERN_TMP/stream.out"; fail "fewer than $KILL_AFTER messages acknowledged in 20 s ($(progress))"; }
cl_crash core
at_kill=$(progress)
sleep 3
while_down=$(( $(progress) - at_kill ))
tern_note "$while_down messages acknowledged while the core node was down (JetStream holds them)"
assert_ge "$while_down" 100 "uplinks acknowledged while the core node was down"
cl_core_start
sleep 2
touch "$TERN_TMP/stop"
wait "$streamer"
rc=$?
cat "$TERN_TMP/stream.out"
[ $rc -eq 0 ] || fail "the streaming devices failed (exit $rc)"

cl_node stream.mjs verify "$TERN_TMP/devices.json" "$TERN_TMP/out.json"
tern_note "bridge after its restart: applied $(cl_metric core nats_bridge_applied_total), redeliveries skipped $(cl_metric core nats_bridge_redeliveries_skipped_total), refused $(cl_metric core nats_bridge_refused_total)"
assert_eq 0 "$(cl_metric core nats_bridge_refused_total)" "uplinks the core refused (nats_bridge_refused_total)"
cl_stop_all
tern_note PASS
