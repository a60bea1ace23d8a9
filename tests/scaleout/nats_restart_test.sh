#!/usr/bin/env bash
# Scale-out (issue 15) e: stop nats-server during a stream and start it again. Twenty
# devices (ten per node) stream CON telemetry; nats-server is stopped (SIGTERM) for three
# seconds, then started again on the same port and store. Checked: no request sent while it
# was down was answered 2.01, they got 5.03 with Max-Age; both transport nodes reported the
# link down and up again (core_nats_connected) without a restart; every device was
# acknowledged again after the restart (bounded: the stream ends 12 s after it); every
# acknowledged message is stored with its value.
set -u
source "$TERN_SOURCE_DIR/tests/scaleout/cluster.sh"
cl_init
cl_up

cl_node stream.mjs setup "$TERN_TMP/devices.json" 10 nr
: >"$TERN_TMP/progress"
cl_node_env timeout 50 node "$CL_DIR/stream.mjs" stream "$TERN_TMP/devices.json" "$TERN_TMP/out.json" \
    "$TERN_TMP/progress" "$TERN_TMP/stop" >"$TERN_TMP/stream.out" 2>&1 &
streamer=$!
wait_until 20 bash -c '[ "$(cat "$0" 2>/dev/null || echo 0)" -ge 400 ]' "$TERN_TMP/progress" ||
    { kill "$streamer"; cat "$TERN_TMP/stream.out"; fail "fewer than 400 messages acknowledged in 20 s"; }
cl_nats_stop
stopped=$(date +%s%3N)
disconnected() { [ "$(cl_metric "$1" core_nats_connected)" = 0 ]; }
for n in t1 t2; do
    wait_until 5 disconnected $n || fail "$n: core_nats_connected still 1 5 s after nats-server stopped"
done
sleep 3
restarted=$(date +%s%3N)
cl_nats_start
echo "$stopped $restarted" >"$TERN_TMP/outage"
for n in t1 t2; do
    wait_until 15 cl_metric_at_least $n core_nats_connected 1 || fail "$n: not reconnected 15 s after nats-server restarted"
done
tern_note "both transport nodes reconnected; reconnects: t1 $(cl_metric t1 core_nats_reconnects_total), t2 $(cl_metric t2 core_nats_reconnects_total)"
# traffic resumes by itself: the stream goes on until every device had a 2.01 again
sleep 4
touch "$TERN_TMP/stop"
wait "$streamer"
rc=$?
cat "$TERN_TMP/stream.out"
[ $rc -eq 0 ] || fail "the streaming devices failed (exit $rc)"

cl_node stream.mjs verify "$TERN_TMP/devices.json" "$TERN_TMP/out.json" --outage "$TERN_TMP/outage"
cl_stop_all
tern_note PASS
