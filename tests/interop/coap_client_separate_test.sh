#!/usr/bin/env bash
# Separate responses (RFC 7252 §5.2.2): /separate answers after 1500 ms, past the engine's
# piggyback_timeout (500 ms): an empty ACK first, then a CON response the client ACKs. A
# NON request gets a NON response; a short delay is piggy-backed.
set -u
source "$TERN_SOURCE_DIR/tests/interop/interop.sh"
tern_init
start_plugtest

t0=$(date +%s%N)
coap sep "$(coap_uri separate)"
elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
assert_body sep "separate response after 1500 ms"
# received, in order: the empty ACK of our CON GET, then the CON 2.05 (which we ACK)
coap_received sep | cut -d' ' -f2,3 >"$TERN_TMP/sep.received"
printf 't:ACK c:0.00\nt:CON c:2.05\n' >"$TERN_TMP/sep.expected"
assert_same_file "$TERN_TMP/sep.expected" "$TERN_TMP/sep.received" "an empty ACK, then the separate CON 2.05"
mid=$(coap_received sep | sed -nE 's/^v:1 t:CON c:2\.05 i:([0-9a-f]+) .*/\1/p')
coap_sent sep | grep -E "^v:1 t:ACK c:0\.00 i:$mid " >/dev/null || fail "the client did not ACK the separate response"
[ "$elapsed_ms" -ge 1400 ] || fail "the separate response came after ${elapsed_ms} ms, expected ~1500"

coap sep_non -N "$(coap_uri separate)"
assert_code sep_non 2.05 NON
assert_body sep_non "separate response after 1500 ms"
assert_not_received sep_non "t:ACK" "a NON exchange has no ACK"

# several at once, from different source ports: each gets its own answer
pids=()
for i in 1 2 3 4; do
    ( coap sep_par_$i "$(coap_uri separate)" ) &
    pids+=($!)
done
wait "${pids[@]}"  # not a bare wait: tern runs in the background too
for i in 1 2 3 4; do assert_body sep_par_$i "separate response after 1500 ms"; done

tern_stop

# a handler answering within piggyback_timeout rides in the ACK
start_plugtest --set plugins.plugtest.separate_delay=100
coap piggy "$(coap_uri separate)"
assert_code piggy 2.05 ACK
assert_body piggy "separate response after 100 ms"
tern_stop
tern_note PASS
