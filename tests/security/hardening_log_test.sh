#!/usr/bin/env bash
# What devices send cannot forge log lines, leak SQL, or storm the log, against a real tern:
#   - a device provisions itself with a name holding a newline and a fake log line: the log
#     gets one line, with the newline escaped (\n), and no line that starts like the fake;
#   - when SQLite fails a telemetry write, the device's 5.00 says "database error: ..."
#     without SQL text or SQLite's message; the operator's log has the detail;
#   - 60 failing writes in a row give a bounded number of log lines (repeats suppressed).
set -u
source "$TERN_SOURCE_DIR/tests/device_api/device_api.sh"
dapi_init
dapi_start

# ---- a device name that tries to forge a log line ----------------------------------------
dapi_cli_ok profile add sensors --provision-key hk-key --provision-secret hk-secret >/dev/null
FORGED='[2026-01-01 00:00:00.000] [error] [kernel] FORGED-LINE'
coap prov -m post -t json \
    -e '{"deviceName":"evil\n'"$FORGED"'\u0007\u001b[31m","provisionDeviceKey":"hk-key","provisionDeviceSecret":"hk-secret"}' \
    "$(coap_uri api/v1/provision)"
assert_code prov 2.01
grep -q '"status":"SUCCESS"' "$TERN_TMP/prov.body" || { show_file "$TERN_TMP/prov.out" >&2; fail "provisioning failed"; }
wait_until 5 grep -qF "provisioned device 'evil" "$TERN_LOG" || fail "no provisioning line in the log"
assert_contains "$TERN_LOG" "provisioned device 'evil\\n$FORGED\\x07\\x1b[31m'" "the name is logged escaped, on one line"
if grep -q '^\[2026-01-01 00:00:00.000\]' "$TERN_LOG"; then
    show_file "$TERN_LOG" >&2
    fail "a line of the log starts with the device's fake line"
fi
if grep -qP '\x1b|\x07' "$TERN_LOG"; then fail "raw control characters reached the log"; fi

# ---- SQLite's detail stays in the log ----------------------------------------------------
TOKEN=hardening-log-token-0123
dapi_cli_ok device add sqlfail --token "$TOKEN" >/dev/null
coap ok -m post -t json -e '{"t":1}' "$(coap_uri "api/v1/$TOKEN/telemetry")"
assert_code ok 2.01
# From now on every telemetry insert fails inside SQLite, with a message of its own.
timeout 20 sqlite3 -cmd '.timeout 5000' "$DAPI_DB" \
    "CREATE TRIGGER hardening_fail BEFORE INSERT ON ts_kv BEGIN SELECT RAISE(ABORT, 'secret-detail-91c2'); END;" ||
    fail "cannot add the failing trigger"
coap bad -m post -t json -e '{"t":2}' "$(coap_uri "api/v1/$TOKEN/telemetry")"
assert_code bad 5.00
body=$(cat "$TERN_TMP/bad.body" "$TERN_TMP/bad.err" 2>/dev/null)
tern_note "device got: $(tr '\n' ' ' <"$TERN_TMP/bad.err")"
assert_contains "$TERN_TMP/bad.err" "database error: constraint failed" "the device gets the generic text"
for leak in INSERT ts_kv secret-detail-91c2 SELECT "step ("; do
    case "$body" in *"$leak"*) show_file "$TERN_TMP/bad.out" >&2; fail "the device's error payload holds '$leak'" ;; esac
done
assert_contains "$TERN_LOG" "secret-detail-91c2" "the operator's log has SQLite's message"
assert_contains "$TERN_LOG" "INSERT INTO ts_kv" "the operator's log has the statement"

# ---- a storm of failures gives a bounded log -----------------------------------------------
before=$(grep -c 'secret-detail-91c2' "$TERN_LOG")
for i in $(seq 1 60); do
    coap storm -N -m post -t json -e "{\"s\":$i}" "$(coap_uri "api/v1/$TOKEN/telemetry")" -B 1
done
sleep 0.5
after=$(grep -c 'secret-detail-91c2' "$TERN_LOG")
lines=$((after - before))
tern_note "60 failed writes added $lines log lines naming the error"
# Without throttling: at least 60 (one per failure, plus the writer's own per batch).
[ "$lines" -lt 40 ] || { tail -n 50 "$TERN_LOG" >&2; fail "60 failures gave $lines log lines: repeats are not throttled"; }
tern_stop
# The instance's end reports what was held back.
assert_match "$TERN_LOG" "[0-9]+ similar lines? suppressed" "the suppressed lines are counted"
tern_note "OK"
