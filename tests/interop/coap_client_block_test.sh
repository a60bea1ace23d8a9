#!/usr/bin/env bash
# Block-wise transfers (RFC 7959) with coap-client: Block2 downloads of /large and
# /large-body (whole-payload and range-reader bodies) verified byte for byte, with small,
# default and late-start blocks; Block1 uploads to /large-post verified by the echoed sum.
set -u
source "$TERN_SOURCE_DIR/tests/interop/interop.sh"
tern_init
# exact block sizes and counts: the amplification limit (tests/security/amplification_test.sh)
# would answer these small requests from an unverified address in smaller blocks
start_plugtest --set plugins.coap.amplification_factor=0

plugtest_large_body 3000 >"$TERN_TMP/expected"
[ "$(wc -c <"$TERN_TMP/expected")" -eq 3000 ] || fail "expected body generator is broken"

for res in large large-body; do
    name=${res//-/_}
    # 64-byte blocks: the client asks for them (early negotiation)
    coap ${name}_64 -b 64 "$(coap_uri $res)"
    assert_same_file "$TERN_TMP/expected" "$TERN_TMP/${name}_64.body" "/$res with -b 64"
    # distinct block numbers: a retransmitted block request (a slow machine) may add a
    # duplicate response
    blocks=$(coap_received ${name}_64 | sed -nE 's/^v:1 t:ACK c:2\.05 .*Block2:([0-9]+)\/.*/\1/p' | sort -un | wc -l)
    assert_eq 47 "$blocks" "/$res: 3000 bytes in 64-byte blocks"
    assert_received ${name}_64 "Block2:0/M/64" "/$res: first block is 0/M/64"
    assert_received ${name}_64 "Block2:46/_/64" "/$res: last block is 46 without M"
    assert_received ${name}_64 "Size2:3000" "/$res: Size2 tells the total"

    # no Block2 in the request: the server starts block-wise by itself
    coap ${name}_default "$(coap_uri $res)"
    assert_same_file "$TERN_TMP/expected" "$TERN_TMP/${name}_default.body" "/$res without -b"
    assert_received ${name}_default "Block2:0/M/" "/$res: server-initiated Block2"

    # any block on its own: stateless Block2 (coap-client fetches just that block)
    coap ${name}_block2 -b 2,256 "$(coap_uri $res)"
    tail -c +513 "$TERN_TMP/expected" | head -c 256 >"$TERN_TMP/expected_block2"
    assert_same_file "$TERN_TMP/expected_block2" "$TERN_TMP/${name}_block2.body" "/$res block 2 of 256"
    assert_received ${name}_block2 "c:2\.05 .*Block2:2/M/256" "/$res: block 2 with M set"
done

# Block1 uploads: 5000 random bytes, echoed as length and byte sum
head -c 5000 /dev/urandom >"$TERN_TMP/upload.bin"
sum=$(byte_sum "$TERN_TMP/upload.bin")
want="received 5000 bytes, sum $sum"

coap post_64 -m post -b 64 -f "$TERN_TMP/upload.bin" "$(coap_uri large-post)"
assert_code post_64 2.31
assert_code post_64 2.04
assert_body post_64 "$want"
continues=$(coap_received post_64 | sed -nE 's/^v:1 t:ACK c:2\.31 .*Block1:([0-9]+)\/.*/\1/p' | sort -un | wc -l)
assert_eq 78 "$continues" "2.31 Continue for every block but the last (5000/64 -> 79 blocks)"
assert_received post_64 "c:2\.04 .*Block1:78/_/64" "the final response carries Block1 78 without M"

coap put_default -m put -f "$TERN_TMP/upload.bin" "$(coap_uri large-post)"
assert_code put_default 2.04
assert_body put_default "$want"

# a small upload needs no blocks
printf 'tiny' >"$TERN_TMP/tiny.bin"
coap post_tiny -m post -f "$TERN_TMP/tiny.bin" "$(coap_uri large-post)"
assert_body post_tiny "received 4 bytes, sum $(byte_sum "$TERN_TMP/tiny.bin")"

# an upload larger than the server's preferred block size: the server answers with its
# own (smaller or equal) size and the client follows
head -c 20000 /dev/urandom >"$TERN_TMP/upload20k.bin"
coap post_20k -m post -b 1024 -f "$TERN_TMP/upload20k.bin" "$(coap_uri large-post)"
assert_body post_20k "received 20000 bytes, sum $(byte_sum "$TERN_TMP/upload20k.bin")"

tern_stop
tern_note PASS
