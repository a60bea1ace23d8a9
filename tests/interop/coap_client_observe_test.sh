#!/usr/bin/env bash
# Observe (RFC 7641) with coap-client: CON and NON registrations on /obs receive a stream of
# distinct notifications of the registration's type; the relation ends when the client
# leaves.
set -u
source "$TERN_SOURCE_DIR/tests/interop/interop.sh"
tern_init
start_plugtest --set plugins.plugtest.obs_period=300

# notifications NAME: the distinct "obs <n>" payloads of responses carrying Observe
notifications() {
    coap_received "$1" | grep -E "^v:1 t:[A-Z]+ c:2\.05 .*Observe:[0-9]+" |
        sed -nE "s/.*:: 'obs ([0-9]+)'.*/\1/p" | sort -un
}

# CON registration: the first response is piggy-backed (ACK) with Observe, then CON
# notifications that the client acknowledges
coap obs_con -s 4 -B 8 "$(coap_uri obs)"
assert_code obs_con 2.05 ACK
assert_received obs_con "^v:1 t:ACK c:2\.05 .*Observe:" "the registration's response has an Observe option"
n=$(notifications obs_con | wc -l)
assert_ge "$n" 3 "distinct CON notifications in 4 s at 300 ms"
assert_received obs_con "^v:1 t:CON c:2\.05 .*Observe:" "CON registration: notifications are CON"
assert_not_received obs_con "^v:1 t:NON c:2\.05 " "CON registration: no NON notifications in 4 s"
# Observe sequence numbers grow
seqs=$(coap_received obs_con | grep -E "^v:1 t:CON c:2\.05 " | sed -nE 's/.*Observe:([0-9]+).*/\1/p')
[ "$(printf '%s\n' $seqs | sort -n | tr '\n' ' ')" = "$(printf '%s\n' $seqs | tr '\n' ' ')" ] ||
    fail "Observe values are not increasing: $seqs"

# the client leaves with GET Observe=1 (same token; it does not wait for the answer): the
# relation ends as DEREGISTERED
assert_eq 1 "$(coap_sent obs_con | grep -c 'c:GET .*Observe:1,')" "coap-client deregistered at the end"
wait_until 3 grep -q "ended, reason 1 (deregistered)" "$TERN_LOG" || fail "the observation did not end as deregistered"

# NON registration: NON notifications
coap obs_non -N -s 3 -B 6 "$(coap_uri obs)"
assert_code obs_non 2.05 NON
n=$(coap_received obs_non | grep -cE "^v:1 t:NON c:2\.05 .*Observe:")
assert_ge "$n" 3 "NON notifications in 3 s at 300 ms"
assert_ge "$(notifications obs_non | wc -l)" 3 "distinct NON notifications"
wait_until 3 [ "$(grep -c "ended, reason 1 (deregistered)" "$TERN_LOG")" -ge 2 ] ||
    fail "the NON observation did not end as deregistered"

# a plain GET of an observable resource has no Observe option
coap obs_plain "$(coap_uri obs)"
assert_code obs_plain 2.05 ACK
assert_not_received obs_plain "Observe:" "a plain GET is not registered"
assert_match "$TERN_TMP/obs_plain.body" '^obs [0-9]+$' "plain GET of /obs"

# Observe on a resource that is not observable: answered as a plain GET
coap obs_not_observable -s 1 -B 3 "$(coap_uri test)"
assert_code obs_not_observable 2.05
assert_not_received obs_not_observable "Observe:" "the response of a non-observable resource has no Observe"

# stopping tern while a client observes: a clean exit, the relation ends as SHUTDOWN
# (timeout passes our SIGTERM on to coap-client, so nothing outlives the test)
timeout 30 "$COAP_CLIENT" -v 7 -s 20 -B 25 "$(coap_uri obs)" >"$TERN_TMP/obs_at_stop.out" 2>&1 &
client=$!
wait_until 5 grep -q "c:2\.05 .*Observe:" "$TERN_TMP/obs_at_stop.out" || fail "the last observer did not register"
tern_stop
assert_contains "$TERN_LOG" "ended, reason 6 (shutdown)" "stopping ends the relation as SHUTDOWN"
kill "$client" 2>/dev/null
wait "$client" 2>/dev/null
tern_note PASS
