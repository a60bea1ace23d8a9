#!/usr/bin/env bash
# The bounds of the dtls plugin: handshakes in flight (the oldest goes), handshake
# retransmission giving up, sessions (the least recently active goes only when stale),
# session inactivity, and cookies: a flood of ClientHellos keeps no state.
set -u
source "$TERN_SOURCE_DIR/plugins/dtls/tests/dtls_lib.sh"
dtls_init
export TERN_SHARDS=1  # one shard: the per-shard bounds are the configured ones

# ---- handshakes in flight -----------------------------------------------------------
DTLS_TOML='max_handshakes = 1
retransmission_timeout = 1000
max_retransmission_timeout = 2000' dtls_start <<'TOML'
[plugins.coap]
[plugins.plugtest]
TOML
# a client that vanishes after the server's first flight holds the only handshake slot
dtls_client gone --abandon
assert_client_ok gone
assert_eq 1 "$(tern_metric dtls_handshakes_in_flight)" "the abandoned handshake is in flight"
# a new client pushes it out and completes
dtls_client next --cert "$CERTS/client.pem" --key "$CERTS/client.key"
assert_client_ok next
assert_eq 1 "$(tern_metric 'dtls_handshakes_total{reason="evicted"}')" "the oldest handshake made room"
# another vanishing client: given up after its retransmissions (1 s, then 2 s)
dtls_client gone2 --abandon
wait_until 8 metric_at_least 'dtls_handshakes_total{reason="timeout"}' 1 || fail "the abandoned handshake did not time out"
assert_eq 0 "$(tern_metric dtls_handshakes_in_flight)" "no handshake left in flight"
tern_stop

# ---- a DTLS 1.3 first flight makes no room ---------------------------------------------
# It is answered with a stateless HelloRetryRequest; only a ClientHello that brings the
# cookie back (its address proven) may push out a handshake, so spoofed ones cannot.
DTLS_TOML='versions = ["1.2", "1.3"]
max_handshakes = 1
retransmission_timeout = 4000
max_retransmission_timeout = 8000' dtls_start <<'TOML'
[plugins.coap]
[plugins.plugtest]
TOML
dtls_client gone12 --abandon
assert_client_ok gone12
assert_eq 1 "$(tern_metric dtls_handshakes_in_flight)" "the abandoned handshake is in flight"
for i in 1 2 3; do
    dtls_client probe$i --dtls13 --hello-only
    assert_client_ok probe$i
done
assert_eq 0 "$(tern_metric 'dtls_handshakes_total{reason="evicted"}')" "DTLS 1.3 first flights evicted nothing"
assert_eq 1 "$(tern_metric dtls_handshakes_in_flight)" "the abandoned handshake is still in flight"
dtls_client real13 --dtls13
assert_client_ok real13
assert_eq 1 "$(tern_metric 'dtls_handshakes_total{reason="evicted"}')" "a DTLS 1.3 client with the cookie made room"
tern_stop

# ---- sessions: stale ones make room, active ones are kept ------------------------------
DTLS_TOML='max_sessions = 2
stale_session_threshold = 0' dtls_start <<'TOML'
[plugins.coap]
[plugins.plugtest]
TOML
# three observers (each session stays open while it observes)
for i in 1 2 3; do
    timeout 20 "$DTLS_CLIENT" --port "$DTLS_PORT" --path obs --observe 3 >"$TERN_TMP/obs$i.out" 2>&1 &
    eval "obs$i=\$!"
    sleep 0.3
done
wait "$obs1" "$obs2" "$obs3" 2>/dev/null
assert_ge "$(tern_metric 'dtls_sessions_ended_total{reason="evicted"}')" 1 "sessions evicted for newer ones"
assert_contains "$TERN_TMP/obs3.out" "notification" "the newest session works"
tern_stop

DTLS_TOML='max_sessions = 1
stale_session_threshold = 60000' dtls_start <<'TOML'
[plugins.coap]
[plugins.plugtest]
TOML
timeout 20 "$DTLS_CLIENT" --port "$DTLS_PORT" --path obs --observe 4 >"$TERN_TMP/busy.out" 2>&1 &
busy=$!
wait_until 5 metric_at_least dtls_sessions 1 || fail "the first session did not start"
dtls_client refused --timeout 2000
assert_client_failed refused
assert_ge "$(tern_metric 'dtls_drops_total{reason="shed"}')" 1 "a handshake refused while the session is active"
wait "$busy" 2>/dev/null
assert_contains "$TERN_TMP/busy.out" "notification" "the active session was kept"
tern_stop

# ---- inactivity ---------------------------------------------------------------------------
DTLS_TOML='dtls_session_inactivity_timeout = 1000' dtls_start <<'TOML'
[plugins.coap]
[plugins.plugtest]
TOML
dtls_client idle --requests 1 --idle 4000
assert_client_ok idle
assert_contains "$TERN_TMP/idle.out" "response 2.05"
assert_contains "$TERN_TMP/idle.out" "closed" "the server closed the idle session (close_notify)"
assert_eq 1 "$(tern_metric 'dtls_sessions_ended_total{reason="inactivity"}')" "ended for inactivity"
assert_eq 0 "$(tern_metric dtls_sessions)" "no session left"
tern_stop

# ---- ClientHellos that never return the cookie keep no state -----------------------------
dtls_start <<'TOML'
[plugins.coap]
[plugins.plugtest]
TOML
pids=()
for i in $(seq 1 20); do
    dtls_client hello$i --hello-only --timeout 3000 &
    pids+=($!)
done
wait "${pids[@]}"  # (a bare wait would wait for tern too)
for i in $(seq 1 20); do assert_client_ok hello$i; done
assert_eq 20 "$(tern_metric 'dtls_cookies_total{result="sent"}')" "every ClientHello got a HelloVerifyRequest"
assert_eq 0 "$(tern_metric 'dtls_handshakes_total')" "no handshake started"
assert_eq 0 "$(tern_metric dtls_handshakes_in_flight)" "nothing in flight"
assert_ge "$(tern_metric 'dtls_bytes_received_total')" "$(tern_metric 'dtls_bytes_sent_total')" \
    "no amplification: HelloVerifyRequests are smaller than the ClientHellos"
tern_stop
tern_note PASS
