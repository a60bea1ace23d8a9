#!/usr/bin/env bash
# NAT rebinding, black box: a UDP relay (udp_relay.mjs) sits between the wolfSSL client and
# tern (dtls -> coap -> device_api -> core_embedded) and, after the handshake, sends the
# client's datagrams from a new source port, later from new source addresses in 127/8, as a
# NAT does when a sleeping device's binding expires. The client follows a steps file
# (dtls_client --steps), so every change of address happens between two known messages.
#
# With a Connection ID (RFC 9146) on DTLS 1.2: the next CON telemetry after each change is
# answered without a new handshake and the move is counted; a server-side RPC reaches the
# device, over its observation of api/v1/rpc, on the relay's newest socket; a record the
# network delayed from the old address, and a duplicate re-sent from it, do not move the
# session back. A PSK device (CCM-8) moves the same way, and so does DTLS 1.3. Without a CID
# (the client offers none, or the server has connection_id_length = 0) a request from the new
# address gets no answer, counted as a drop for no session, and the device must handshake
# again.
set -u
source "$TERN_SOURCE_DIR/plugins/dtls/tests/dtls_lib.sh"
dtls_need_stack
command -v node >/dev/null || fail "node is missing (tools/dev.sh installs it)"
dtls_init
trap 'rc=$?; nat_cleanup; (exit $rc); _tern_cleanup' EXIT

RELAY_PID="" RELAY_PORT="" RELAY_LOG="" RELAY_CTL=""
CLIENT_PID="" CLIENT="" RELAYS=0

nat_cleanup() {
    [ -n "$CLIENT_PID" ] && kill "$CLIENT_PID" 2>/dev/null
    [ -n "$RELAY_PID" ] && kill "$RELAY_PID" 2>/dev/null
    CLIENT_PID="" RELAY_PID=""
}

nat_fail() {
    [ -n "$CLIENT" ] && show_file "$TERN_TMP/$CLIENT.out" >&2
    [ -n "$RELAY_LOG" ] && show_file "$RELAY_LOG" >&2
    nat_cleanup
    fail "$@"
}

# relay_start: a relay in front of $DTLS_PORT; the client sends to $RELAY_PORT.
relay_start() {
    RELAYS=$((RELAYS + 1))
    RELAY_LOG=$TERN_TMP/relay$RELAYS.log RELAY_CTL=$TERN_TMP/relay$RELAYS.ctl
    : >"$RELAY_LOG"
    : >"$RELAY_CTL"
    node "$DTLS_TESTS/udp_relay.mjs" --server "$DTLS_PORT" --control "$RELAY_CTL" --log "$RELAY_LOG" \
        --lifetime 100 &
    RELAY_PID=$!
    wait_until 5 grep -q '^front port=' "$RELAY_LOG" || nat_fail "the relay did not start"
    RELAY_PORT=$(sed -nE 's/^front port=([0-9]+)$/\1/p' "$RELAY_LOG")
}

# relay_logged FROM REGEX: a line of the relay log from line FROM on matches REGEX.
relay_logged() { tail -n +"$1" "$RELAY_LOG" | grep -qE -- "$2"; }

# relay COMMAND...: one command; waits until the relay logged what it did.
relay() {
    local from
    from=$(($(wc -l <"$RELAY_LOG") + 1))
    echo "$*" >>"$RELAY_CTL"
    case $1 in
        switch) wait_until 5 relay_logged "$from" "^open s[0-9]+ addr=$2 " ;;
        hold) wait_until 5 relay_logged "$from" "^holding" ;;
        release) wait_until 5 relay_logged "$from" "^released " ;;
        replay) wait_until 5 relay_logged "$from" "^replayed $2 n=$3 " ;;
        *) true ;;
    esac || nat_fail "the relay did not do: $*"
    grep -q '^error' "$RELAY_LOG" && nat_fail "the relay failed"
    return 0
}

# relay_socket: the name of the relay's newest upstream socket (s1, s2, ...).
relay_socket() { sed -nE 's/^open (s[0-9]+) .*/\1/p' "$RELAY_LOG" | tail -n1; }
# relay_port SOCK: the port tern sees the client on through SOCK.
relay_port() { sed -nE "s/^open $1 addr=[0-9.]+ port=([0-9]+)$/\1/p" "$RELAY_LOG"; }
# downlinks SOCK: datagrams tern sent to SOCK so far.
downlinks() { grep -c "^s2c $1 " "$RELAY_LOG"; }

# client_start NAME [dtls_client options]: the client through the relay, in the background,
# posting telemetry at each "request" step.
client_start() {
    CLIENT=$1
    shift
    : >"$TERN_TMP/$CLIENT.steps"
    timeout 60 "$DTLS_CLIENT" --port "$RELAY_PORT" --steps "$TERN_TMP/$CLIENT.steps" \
        --method POST --path api/v1/telemetry "$@" >"$TERN_TMP/$CLIENT.out" 2>&1 &
    CLIENT_PID=$!
}

# step LINE: the client's next step; waits until it is done.
step() {
    echo "$*" >>"$TERN_TMP/$CLIENT.steps"
    local k
    k=$(wc -l <"$TERN_TMP/$CLIENT.steps")
    wait_until 15 grep -q "^step $k done" "$TERN_TMP/$CLIENT.out" || nat_fail "$CLIENT: step $k ($*) not done"
}

# step_fails LINE: the client's next step fails (the client exits 1 reporting it).
step_fails() {
    echo "$*" >>"$TERN_TMP/$CLIENT.steps"
    local k rc
    k=$(wc -l <"$TERN_TMP/$CLIENT.steps")
    wait "$CLIENT_PID"
    rc=$?
    CLIENT_PID=""
    [ "$rc" = 1 ] || nat_fail "$CLIENT: step $k ($*) should have failed (exit status $rc)"
    assert_match "$TERN_TMP/$CLIENT.out" "^error: step $k $1: no answer in time"
}

# client_end: the last step; the client exits 0.
client_end() {
    step end
    wait "$CLIENT_PID"
    local rc=$?
    CLIENT_PID=""
    [ "$rc" = 0 ] || nat_fail "$CLIENT exited with status $rc"
}

handshakes() { tern_metric 'dtls_handshakes_total{result="success"}'; }
moves() { tern_metric dtls_cid_address_changes_total; }
refused() { tern_metric dtls_cid_address_changes_refused_total; }
no_session() { tern_metric 'dtls_drops_total{reason="no_session"}'; }

# rpc DEVICE N: a one-way server-side RPC "ping" with params {"n":N}.
rpc() { cli rpc "$1" ping "{\"n\":$2}" --oneway; }

# expect_notification N: the client takes the notification of RPC N.
expect_notification() {
    step notification
    assert_match "$TERN_TMP/$CLIENT.out" "^notification [0-9]+ .*\"n\": *$1[^0-9]" "the RPC $1 did not reach the client"
}

# moved_with_cid DEVICE ADDR VALUE: the relay now sends from ADDR; the next telemetry is
# answered and stored, the session moved (one more move counted, no handshake), and an RPC
# reaches the client on the new socket.
moved_with_cid() {
    local device=$1 addr=$2 n=$3 h m sock
    h=$(handshakes) m=$(moves)
    relay switch "$addr"
    sock=$(relay_socket)
    step request "{\"seq\":$n}"
    assert_match "$TERN_TMP/$CLIENT.out" '^response 2\.01' "the telemetry after the move to $addr was not answered"
    wait_until 5 [ "$(latest_of "$device" seq)" = "$n" ] || nat_fail "telemetry $n from $addr is not stored under $device"
    assert_eq "$h" "$(handshakes)" "handshakes after the move to $addr"
    assert_eq "$((m + 1))" "$(moves)" "sessions moved to $addr:$(relay_port "$sock")"
    rpc "$device" "$n"
    expect_notification "$n"
    [ "$(downlinks "$sock")" -ge 2 ] || nat_fail "the response and the RPC did not arrive on $sock"
}

# Idle sessions are compacted after 300 ms, so the device below also wakes from a session held
# as exported state.
dtls_start_stack 'versions = ["1.2", "1.3"]
idle_compact_after = 300'
cli device add nat-12 --x509 "$CERTS/client.pem"
cli device add nat-13 --x509 "$CERTS/client2.pem"
cli device add nat-psk --psk-identity nat-psk --psk-key "$(hex natPSK)"
X509_12=(--cert "$CERTS/client.pem" --key "$CERTS/client.key")
X509_13=(--cert "$CERTS/client2.pem" --key "$CERTS/client2.key")
PSK_ID=(--psk-identity nat-psk --psk-key "$(hex natPSK)")
PSK=("${PSK_ID[@]}" --ciphers PSK-AES128-GCM-SHA256)

# ---- DTLS 1.2 with a Connection ID --------------------------------------------------------
relay_start
client_start cid12 --cid "${X509_12[@]}" --observe-path api/v1/rpc
wait_until 10 grep -q '^observing ' "$TERN_TMP/cid12.out" || nat_fail "cid12: no handshake and observation"
assert_match "$TERN_TMP/cid12.out" '^handshake version=DTLSv1\.2 .* cid=[0-9a-f]{16} ' "a DTLS 1.2 session with an 8-byte CID"
assert_match "$TERN_TMP/cid12.out" '^observing 2\.0[35]' "the RPC observation is registered"
step request '{"seq":1}'
assert_match "$TERN_TMP/cid12.out" '^response 2\.01' "the first telemetry was not answered"
h0=$(handshakes) m0=$(moves) r0=$(refused)
assert_eq 1 "$(tern_metric dtls_cid_sessions)" "sessions with a Connection ID"

moved_with_cid nat-12 127.0.0.1 2   # a new port
# the device sleeps (its idle session is compacted) and wakes behind a new address
wait_until 5 metric_at_least dtls_compact_sessions 1 || nat_fail "the idle CID session was not compacted"
moved_with_cid nat-12 127.0.0.2 3   # a new address

# a record the network delayed: sent from 127.0.0.2 (as NON: no answer awaited), held by
# the relay while the client moves to 127.0.0.3 and sends a newer one, then delivered from
# the old address. It is authentic and new to the server's replay window, but older than the
# record that moved the session: its data is taken, the session stays where it is.
old=$(relay_socket)
relay hold
step non '{"late":1}'
wait_until 5 grep -q "^held $old " "$RELAY_LOG" || nat_fail "the relay held nothing"
moved_with_cid nat-12 127.0.0.3 4
new=$(relay_socket)
old_downlinks=$(downlinks "$old")
relay release
wait_until 5 [ "$(latest_of nat-12 late)" = 1 ] || nat_fail "the delayed record's telemetry is not stored"
wait_until 5 metric_at_least dtls_cid_address_changes_refused_total $((r0 + 1)) ||
    nat_fail "the delayed record from the old address was not refused as a move"
# its (NON) response goes to where the session is now
wait_until 5 grep -q "^late response 2\.01" "$TERN_TMP/cid12.out" || nat_fail "no response to the delayed record"
assert_eq "$old_downlinks" "$(downlinks "$old")" "datagrams to the old address after the delayed record"
# a datagram re-sent from the old address (the duplicate of telemetry 3, the first datagram
# the client sent through $old): the replay window drops it, unanswered; the next downlink
# (an RPC) is the only datagram to the new socket
new_downlinks=$(downlinks "$new")
relay replay "$old" 1
rpc nat-12 5
expect_notification 5
assert_eq "$((m0 + 3))" "$(moves)" "moves after the delayed and the replayed record"
assert_eq "$old_downlinks" "$(downlinks "$old")" "datagrams to the old address after the replay"
assert_eq "$((new_downlinks + 1))" "$(downlinks "$new")" "datagrams to $new after the replay (the RPC alone)"
client_end
assert_eq "$h0" "$(handshakes)" "handshakes over the whole DTLS 1.2 session"
assert_eq 1 "$(grep -c '^handshake ' "$TERN_TMP/cid12.out")" "client handshakes"
nat_cleanup
tern_note "DTLS 1.2 CID: $((m0 + 3)) moves, $(refused) refused, one handshake"

# ---- DTLS 1.2, a PSK device on PSK-AES128-CCM-8 (a constrained stack's suite) ------------
relay_start
client_start cid_psk --cid "${PSK_ID[@]}" --ciphers PSK-AES128-CCM-8 --observe-path api/v1/rpc
wait_until 10 grep -q '^observing ' "$TERN_TMP/cid_psk.out" || nat_fail "cid_psk: no handshake and observation"
assert_match "$TERN_TMP/cid_psk.out" '^handshake version=DTLSv1\.2 cipher=PSK-AES128-CCM-8 .* cid=[0-9a-f]{16} ' "a PSK session with a CID"
step request '{"seq":1}'
h0=$(handshakes)
moved_with_cid nat-psk 127.0.0.4 2
client_end
assert_eq "$h0" "$(handshakes)" "handshakes over the PSK session"
nat_cleanup

# ---- DTLS 1.3 with a Connection ID: the same moves ----------------------------------------
relay_start
client_start cid13 --dtls13 --cid "${X509_13[@]}" --observe-path api/v1/rpc
wait_until 10 grep -q '^observing ' "$TERN_TMP/cid13.out" || nat_fail "cid13: no handshake and observation"
assert_match "$TERN_TMP/cid13.out" '^handshake version=DTLSv1\.3 .* cid=[0-9a-f]{16} ' "a DTLS 1.3 session with an 8-byte CID"
step request '{"seq":1}'
h0=$(handshakes)
moved_with_cid nat-13 127.0.0.1 2
moved_with_cid nat-13 127.0.0.2 3
client_end
assert_eq "$h0" "$(handshakes)" "handshakes over the DTLS 1.3 session"
nat_cleanup

# ---- without a Connection ID: the request from the new address is lost ---------------------
# no_cid NAME [client options]: the first telemetry is answered; from a new port the next
# gets no answer (a drop for no session); a new handshake is what brings the device back.
no_cid() {
    local name=$1 d h
    shift
    relay_start
    client_start "$name" --timeout 3000 "${PSK[@]}" "$@"
    step request '{"seq":10}'
    assert_match "$TERN_TMP/$name.out" '^handshake version=DTLSv1\.2 .* cid=none ' "$name: a session without CID"
    assert_match "$TERN_TMP/$name.out" '^response 2\.01' "$name: the first telemetry was not answered"
    wait_until 5 [ "$(latest_of nat-psk seq)" = 10 ] || nat_fail "$name: the first telemetry is not stored"
    d=$(no_session) h=$(handshakes)
    relay switch 127.0.0.1
    step_fails request '{"seq":11}'
    wait_until 5 metric_at_least 'dtls_drops_total{reason="no_session"}' $((d + 1)) ||
        nat_fail "$name: the record from the new port was not dropped for no session"
    [ "$(latest_of nat-psk seq)" = 10 ] || nat_fail "$name: telemetry from the new port was stored"
    client_start "$name-again" "${PSK[@]}" "$@"
    step request '{"seq":12}'
    assert_match "$TERN_TMP/$name-again.out" '^response 2\.01' "$name: the telemetry after a new handshake was not answered"
    client_end
    assert_eq "$((h + 1))" "$(handshakes)" "$name: handshakes (the device had to handshake again)"
    wait_until 5 [ "$(latest_of nat-psk seq)" = 12 ] || nat_fail "$name: telemetry after the new handshake is not stored"
    nat_cleanup
}
no_cid no_cid_client
tern_stop

# the server issues no CID: a client that asks for one fares the same
dtls_start_stack "connection_id_length = 0"
no_cid no_cid_server --cid
assert_eq 0 "$(moves)" "moves with connection_id_length = 0"
tern_stop
tern_note PASS
