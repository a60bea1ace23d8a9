#!/usr/bin/env bash
# libcoap's coap-client against tern (udp + coap engine + plugtest): the four methods as
# CON and NON, queries, path captures, the error responses and /.well-known/core.
set -u
source "$TERN_SOURCE_DIR/tests/interop/interop.sh"
tern_init
start_plugtest

for type in CON NON; do
    flag=(); [ $type = NON ] && flag=(-N)
    coap get_$type "${flag[@]}" "$(coap_uri test)"
    assert_code get_$type 2.05 "$([ $type = CON ] && echo ACK || echo NON)"
    assert_body get_$type "test: GET $type 0 bytes"

    coap post_$type "${flag[@]}" -m post -e hello "$(coap_uri test)"
    assert_code post_$type 2.01
    assert_body post_$type "test: POST $type 5 bytes"

    coap put_$type "${flag[@]}" -m put -e abc "$(coap_uri test)"
    assert_code put_$type 2.04
    assert_body put_$type "test: PUT $type 3 bytes"

    coap delete_$type "${flag[@]}" -m delete "$(coap_uri test)"
    assert_code delete_$type 2.02
    assert_body delete_$type "test: DELETE $type 0 bytes"
done

# without Uri-Port (-U): the same resource
coap get_no_uri_port -U "$(coap_uri test)"
assert_body get_no_uri_port "test: GET CON 0 bytes"

coap query "$(coap_uri 'query?a=1&b=two&flag')"
assert_code query 2.05
assert_body query "a=1&b=two&flag"

coap path "$(coap_uri path/x/y/z)"
assert_body path "path: x/y/z"
coap path_post -m post -e data "$(coap_uri path/deep/er)"
assert_code path_post 2.04
assert_body path_post "path: deep/er"
coap capture "$(coap_uri capture/left/right)"
assert_body capture "a=left b=right"

# errors carry a diagnostic payload
coap not_found "$(coap_uri nope/deeper)"
assert_error not_found 4.04 "nope"
coap not_found_capture "$(coap_uri capture/only-one)"
assert_error not_found_capture 4.04
coap not_allowed -m delete "$(coap_uri large)"
assert_error not_allowed 4.05 "GET"
coap not_allowed_post -m post -e x "$(coap_uri obs)"
assert_error not_allowed_post 4.05

# resource discovery (RFC 6690)
coap wk "$(coap_uri .well-known/core)"
assert_code wk 2.05
assert_contains "$TERN_TMP/wk.out" "Content-Format:application/link-format" "/.well-known/core is link-format (ct 40)"
for r in '</test>' '</separate>' '</large>' '</large-body>' '</large-post>' '</query>' '</path>' '</capture>'; do
    assert_contains "$TERN_TMP/wk.body" "$r" "/.well-known/core lists $r"
done
grep -oE '</obs>[^,]*' "$TERN_TMP/wk.body" >"$TERN_TMP/wk_obs.txt"
assert_contains "$TERN_TMP/wk_obs.txt" ';obs' "/obs is listed as observable"
assert_contains "$TERN_TMP/wk_obs.txt" 'rt="observe"' "/obs keeps its link attributes"

coap wk_rt "$(coap_uri '.well-known/core?rt=observe')"
assert_contains "$TERN_TMP/wk_rt.body" '</obs>' "rt filter keeps /obs"
assert_not_contains "$TERN_TMP/wk_rt.body" '</test>' "rt filter drops /test"

coap wk_href "$(coap_uri '.well-known/core?href=/large*')"
assert_contains "$TERN_TMP/wk_href.body" '</large>' "href prefix filter keeps /large"
assert_contains "$TERN_TMP/wk_href.body" '</large-post>' "href prefix filter keeps /large-post"
assert_not_contains "$TERN_TMP/wk_href.body" '</test>' "href prefix filter drops /test"

coap wk_post -m post -e x "$(coap_uri .well-known/core)"
assert_error wk_post 4.05

# the transport counted what went through it
received=$(tern_metric udp_datagrams_received_total) || fail "no metrics"
assert_ge "$received" 21 "udp_datagrams_received_total (one datagram per request above)"

tern_stop
tern_note PASS
