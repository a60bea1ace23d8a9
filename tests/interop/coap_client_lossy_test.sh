#!/usr/bin/env bash
# Lost datagrams (coap-client -l drops chosen datagrams of its own): requests and blocks
# still complete because the client retransmits and the engine's deduplication answers
# each retransmission once.
set -u
source "$TERN_SOURCE_DIR/tests/interop/interop.sh"
tern_init
# retransmission of a separate response whose ACK is lost: to an unverified address the
# amplification limit (tests/security/amplification_test.sh) allows no retransmission past 3x the request
start_plugtest --set plugins.coap.amplification_factor=0

# the first transmission of the request is lost: the retransmission gets the answer
coap lost_request -l 1 -B 30 "$(coap_uri test)"
assert_body lost_request "test: GET CON 0 bytes"
assert_ge "$(coap_sent lost_request | grep -c 'c:GET')" 2 "the request went again after the first was dropped"

# block-wise download with two of its block requests lost
plugtest_large_body 3000 >"$TERN_TMP/expected"
coap lost_blocks -l 2,5 -b 64 -B 40 "$(coap_uri large)"
assert_same_file "$TERN_TMP/expected" "$TERN_TMP/lost_blocks.body" "Block2 with losses"

# block-wise upload with a lost block
head -c 2000 /dev/urandom >"$TERN_TMP/upload.bin"
coap lost_upload -l 3 -m post -b 64 -f "$TERN_TMP/upload.bin" -B 40 "$(coap_uri large-post)"
assert_body lost_upload "received 2000 bytes, sum $(byte_sum "$TERN_TMP/upload.bin")"

# the ACK of a separate response is lost: the engine retransmits the CON response (the
# client has left by then; the engine's counter shows the retransmission)
retrans_before=$(tern_metric coap_retransmissions_total) || fail "no metrics"
coap lost_ack -l 2 -B 8 "$(coap_uri separate)"
assert_body lost_ack "separate response after 1500 ms"
wait_until 8 metric_at_least coap_retransmissions_total $((retrans_before + 1)) ||
    fail "the engine did not retransmit the unacknowledged separate response"

# random loss of 20 % of what the client sends, over a few requests (a request fails only
# if 5 transmissions in a row are lost: 0.03 %)
for i in 1 2 3; do
    coap random_$i -l 20% -B 60 -m post -e "n$i" "$(coap_uri test)"
    assert_body random_$i "test: POST CON 2 bytes"
done

tern_stop

# the answer takes longer than the client's ACK timeout (2-3 s) while piggy-backing is
# still allowed: the client retransmits, the engine recognises the duplicate, and the
# client still gets exactly one answer
start_plugtest --set plugins.coap.piggyback_timeout=6000 --set plugins.plugtest.separate_delay=3500
dup_before=$(tern_metric coap_duplicates_total) || fail "no metrics"
coap slow -B 20 "$(coap_uri separate)"
assert_body slow "separate response after 3500 ms"
assert_ge "$(coap_sent slow | grep -c 'c:GET')" 2 "the client retransmitted the request"
wait_until 5 metric_at_least coap_duplicates_total $((dup_before + 1)) ||
    fail "the engine did not count the retransmitted request as a duplicate"
assert_eq 1 "$(coap_received slow | grep -c 'c:2\.05')" "one 2.05 answer"
tern_stop
tern_note PASS
