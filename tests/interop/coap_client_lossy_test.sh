#!/usr/bin/env bash
# Lost datagrams (coap-client -l drops chosen datagrams of its own): requests and blocks
# still complete because the client retransmits and the engine's deduplication answers
# each retransmission once.
set -u
source "$TERN_SOURCE_DIR/tests/interop/interop.sh"
tern_init
start_plugtest

# the first transmission of the request is lost: the retransmission gets the answer
coap lost_request -l 1 -B 30 "$(coap_uri test)"
assert_body lost_request "test: GET CON 0 bytes"

# block-wise download with two of its block requests lost
plugtest_large_body 3000 >"$TERN_TMP/expected"
coap lost_blocks -l 2,5 -b 64 -B 40 "$(coap_uri large)"
assert_same_file "$TERN_TMP/expected" "$TERN_TMP/lost_blocks.body" "Block2 with losses"

# block-wise upload with a lost block
head -c 2000 /dev/urandom >"$TERN_TMP/upload.bin"
coap lost_upload -l 3 -m post -b 64 -f "$TERN_TMP/upload.bin" -B 40 "$(coap_uri large-post)"
assert_body lost_upload "received 2000 bytes, sum $(byte_sum "$TERN_TMP/upload.bin")"

# the ACK of a separate response is lost: the engine retransmits the CON response and the
# client (still there, -B) sees it again and ACKs the duplicate
coap lost_ack -l 2 -B 8 "$(coap_uri separate)"
assert_body lost_ack "separate response after 1500 ms"

# random loss of 20 % of what the client sends, over a few requests (a request fails only
# if 5 transmissions in a row are lost: 0.03 %)
for i in 1 2 3; do
    coap random_$i -l 20% -B 60 -m post -e "n$i" "$(coap_uri test)"
    assert_body random_$i "test: POST CON 2 bytes"
done

tern_stop
tern_note PASS
