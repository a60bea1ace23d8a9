#!/usr/bin/env bash
# Per-source limits of the dtls plugin (the security issue; README "Per-source limits"):
# a host that completes thousands of anonymous handshakes holds at most its own share of the
# session table, and once the table is full of anonymous sessions a device with a
# registered certificate still gets in and posts telemetry; handshakes one address keeps
# in flight never push out another address's; a source over its handshake rate has its
# ClientHellos dropped while other sources go on; a one-way session a 2.01 vouched for
# (or an accepted observation) keeps its session past anonymous_session_timeout, one that
# proved nothing does not.
# Sources are distinct 127/8 addresses (dtls_flood --bind, dtls_client --bind).
set -u
source "$TERN_SOURCE_DIR/plugins/dtls/tests/dtls_lib.sh"
dtls_need_stack
DTLS_FLOOD=${DTLS_FLOOD:-$TERN_BUILD_DIR/bin/dtls_flood}
[ -x "$DTLS_FLOOD" ] || { echo "[$TERN_TEST_NAME] the flood client is not built: $DTLS_FLOOD" >&2; exit 1; }
dtls_init
export TERN_SHARDS=1  # one shard: the per-shard shares are the configured limits

stored() { [ "$(latest_of "$1" "$2")" = "$3" ]; }  # DEVICE KEY VALUE (for wait_until)
# flood NAME [dtls_flood options]: output in $TERN_TMP/NAME.out
flood() {
    local name=$1
    shift
    timeout 200 "$DTLS_FLOOD" --port "$DTLS_PORT" "$@" >"$TERN_TMP/$name.out" 2>&1
}
flood_completed() { awk '/^completed/ { print $2 }' "$TERN_TMP/$1.out"; }

# ---- a host completing thousands of anonymous handshakes cannot lock devices out --------
dtls_start_stack 'max_sessions = 64
max_sessions_per_source = 16
max_handshakes_per_source = 4
handshake_rate_per_source = 0'
cli device add cam-1 --x509 "$CERTS/client.pem"

# 2000 anonymous handshakes, each on a port of its own, from one host: completed, but the
# host holds only its own 16 sessions (each newcomer closes its own oldest)
flood one_host --bind 127.0.0.7 --count 2000
assert_eq 2000 "$(flood_completed one_host)" "every handshake of the flood completed"
assert_eq 16 "$(tern_metric dtls_sessions)" "the flooding host holds max_sessions_per_source sessions"
assert_eq 1984 "$(tern_metric 'dtls_sessions_ended_total{reason="source_limit"}')" \
    "each handshake past the cap closed the host's own oldest session"
assert_eq 16 "$(tern_metric dtls_anonymous_sessions)" "they are anonymous"

# more hosts fill the table with anonymous sessions (8 hosts x 10, table of 64)
pids=()
for i in 1 2 3 4 5 6 7 8; do
    flood many$i --bind 127.0.1.$i --count 10 &
    pids+=($!)
done
wait "${pids[@]}"
for i in 1 2 3 4 5 6 7 8; do assert_eq 10 "$(flood_completed many$i)" "host 127.0.1.$i completed its handshakes"; done
assert_eq 64 "$(tern_metric dtls_sessions)" "the table is full"
assert_ge "$(tern_metric 'dtls_sessions_ended_total{reason="evicted_anonymous"}')" 32 \
    "anonymous sessions made room for newer ones"

# a device with a registered certificate still completes its handshake (an anonymous
# session makes room instead of the device being shed) and its telemetry is stored
dtls_client device --bind 127.0.0.9 --cert "$CERTS/client.pem" --key "$CERTS/client.key" \
    --method POST --path api/v1/telemetry --payload '{"temperature":23.5}'
assert_client_ok device
assert_contains "$TERN_TMP/device.out" "response 2.01"
wait_until 5 stored cam-1 temperature 23.5 || fail "the device's telemetry is not stored"
assert_eq 0 "$(tern_metric 'dtls_drops_total{reason="shed"}')" "no handshake was refused"
tern_stop

# ---- handshakes kept in flight by one address never push out another's ------------------
dtls_start_stack 'max_handshakes = 8
max_handshakes_per_source = 4
handshake_rate_per_source = 0
retransmission_timeout = 30000
max_retransmission_timeout = 60000'
# a slow device's handshake in flight (it stops after the server's first flight)
dtls_client slow --bind 127.0.0.2 --abandon
assert_client_ok slow
# 300 cookie-verified ClientHellos from one address, each from a port of its own
flood attacker --bind 127.0.0.3 --abandon --count 300
assert_eq 300 "$(flood_completed attacker)" "every attacking ClientHello got the server's flight"
assert_eq 296 "$(tern_metric 'dtls_handshakes_total{reason="source_limit"}')" \
    "each ClientHello past the cap pushed out the attacker's own oldest handshake"
assert_eq 0 "$(tern_metric 'dtls_handshakes_total{reason="evicted"}')" "no other handshake was pushed out"
assert_eq 5 "$(tern_metric dtls_handshakes_in_flight)" "the slow device's handshake and the attacker's 4 are in flight"
tern_stop

# ---- the handshake rate per source ---------------------------------------------------------
dtls_start_stack 'handshake_rate_per_source = 2
handshake_burst_per_source = 10'
flood eager --bind 127.0.0.4 --count 30 --timeout 300
done_eager=$(flood_completed eager)
assert_ge "$done_eager" 10 "the burst's handshakes completed"
[ "$done_eager" -lt 30 ] || fail "no handshake of the eager host was held back by the rate"
assert_ge "$(tern_metric 'dtls_drops_total{reason="rate_limited"}')" 1 "ClientHellos over the rate were dropped and counted"
# another host is not held back
dtls_client other --bind 127.0.0.5 --path .well-known/core
assert_client_ok other
assert_contains "$TERN_TMP/other.out" "response 2.05"
tern_stop

# ---- anonymous sessions: a short idle timeout unless a response vouched for them ---------
dtls_start_stack 'anonymous_session_timeout = 1500'
cli device add tok-1 --token TOKEN1
# one-way, a token path: 2.01, so the session is no longer anonymous and stays
dtls_client vouched --bind 127.0.0.6 --method POST --path api/v1/TOKEN1/telemetry \
    --payload '{"humidity":40}' --idle 3500 &
vouched=$!
# one-way, an observation of the token's attributes (2.05 with Observe): kept too
dtls_client observer --bind 127.0.0.10 --path api/v1/TOKEN1/attributes --observe 1 --idle 3500 &
observer=$!
# one-way, only /.well-known/core: still anonymous, closed after 1.5 s idle
dtls_client idle --bind 127.0.0.8 --path .well-known/core --idle 3500
wait $vouched $observer
assert_client_ok vouched
assert_client_ok observer
assert_contains "$TERN_TMP/observer.out" "silent" "the observing session was kept"
assert_contains "$TERN_TMP/vouched.out" "response 2.01"
assert_contains "$TERN_TMP/vouched.out" "silent" "the vouched session was kept"
assert_client_ok idle
assert_contains "$TERN_TMP/idle.out" "response 2.05"
assert_contains "$TERN_TMP/idle.out" "closed" "the anonymous session was closed when idle"
assert_eq 1 "$(tern_metric 'dtls_sessions_ended_total{reason="anonymous_idle"}')" "one anonymous session timed out"
wait_until 5 stored tok-1 humidity 40 || fail "the token device's telemetry is not stored"
tern_stop
tern_note PASS
