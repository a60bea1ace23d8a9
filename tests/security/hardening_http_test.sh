#!/usr/bin/env bash
# The admin API and the metrics endpoint against clients that misbehave, with a real tern:
#   - metrics: connections held open idle (or with half a request) do not hold up a scrape
#     by curl;
#   - admin API: a 1 MiB body of "[[[[..." gets 400 (no crash) and the API keeps serving;
#     strangers holding every admin connection open do not lock the `tern` commands out
#     (the oldest of them are closed, core_admin_connections_evicted_total counts them);
#   - `tern device add` refuses a 3-character token and warns about a 6-character one.
set -u
source "$TERN_SOURCE_DIR/tests/device_api/device_api.sh"
command -v curl >/dev/null || { tern_note "SKIP: curl is required"; exit 77; }
dapi_init
DAPI_CORE_TOML='admin_max_connections = 8
admin_header_timeout = 2000
max_request_size = 2097152' dapi_start

ADMIN="http://127.0.0.1:$DAPI_ADMIN_PORT"
auth=(-H "Authorization: Bearer $DAPI_ADMIN_KEY")

# ---- metrics: idle and half-sent connections do not block a scrape --------------------------
exec {idle1}<>"/dev/tcp/127.0.0.1/$TERN_METRICS_PORT" || fail "cannot connect to the metrics port"
exec {idle2}<>"/dev/tcp/127.0.0.1/$TERN_METRICS_PORT" || fail "cannot connect to the metrics port"
printf 'GET /metrics HTTP/1.1\r\nHost: x\r\n' >&"$idle2"
start=$SECONDS
code=$(curl -s -o "$TERN_TMP/scrape.txt" -w '%{http_code}' -m 3 "http://127.0.0.1:$TERN_METRICS_PORT/metrics")
assert_eq 200 "$code" "a scrape while two connections are held open"
[ $((SECONDS - start)) -le 2 ] || fail "the scrape waited for the idle connections"
assert_contains "$TERN_TMP/scrape.txt" "core_commits_total" "the scrape has the core's metrics"
exec {idle1}>&- {idle2}>&-

# ---- admin API: deep JSON ------------------------------------------------------------------
head -c 1048576 /dev/zero | tr '\0' '[' >"$TERN_TMP/deep.json"
code=$(curl -s -o "$TERN_TMP/deep.out" -w '%{http_code}' -m 10 "${auth[@]}" -H 'Content-Type: application/json' \
    --data-binary @"$TERN_TMP/deep.json" "$ADMIN/api/devices")
assert_eq 400 "$code" "1 MiB of [[[[ to the admin API"
assert_contains "$TERN_TMP/deep.out" "nested deeper than 128 levels" "the 400 says why"
tern_running || fail "tern died on deep JSON"
code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "${auth[@]}" "$ADMIN/api/info")
assert_eq 200 "$code" "the admin API still serves after deep JSON"

# ---- admin API: strangers holding every connection ------------------------------------------
fds=()
for i in $(seq 1 12); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$DAPI_ADMIN_PORT" || fail "cannot connect to the admin port"
    fds+=("$fd")
done
sleep 0.2
dapi_cli_ok device list >/dev/null
evicted=$(tern_metric core_admin_connections_evicted_total)
assert_ge "$evicted" 1 "strangers' connections closed to make room"
for fd in "${fds[@]}"; do exec {fd}>&-; done

# ---- short credentials through the CLI --------------------------------------------------------
if dapi_cli device add tiny --token abc; then fail "a 3-character token was accepted"; fi
assert_contains "$TERN_TMP/cli.out" "token must be at least 4 characters" "the refusal says why"
dapi_cli device add short --token TOKEN1 || { show_file "$TERN_TMP/cli.out" >&2; fail "a 6-character token was refused"; }
assert_contains "$TERN_TMP/cli.out" "tern: warning: the access token has 6 characters" "the CLI shows the warning"
assert_contains "$TERN_LOG" "device 'short': the access token has 6 characters" "the server logs the warning"
assert_eq 1 "$(tern_metric core_admin_weak_credentials_total)" "weak credentials counted"
tern_stop
tern_note "OK"
