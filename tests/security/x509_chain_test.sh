#!/usr/bin/env bash
# A forged certificate chain may not impersonate a device (the security issue, X.509 part).
# Real clients against the real stack (dtls -> coap -> device_api -> json -> core_embedded):
#   - the attack: a device is registered by its CA or intermediate certificate; an attacker
#     who has only that (public) certificate makes a look-alike CA with the same name, signs
#     a leaf of its own and sends [own leaf, real CA certificate]. The wolfSSL client sends
#     that chain from its certificate file (dtls_client_chains_total shows it arrived and
#     was cut); coap-client-openssl is tried with -R as well (OpenSSL 3 checks signatures
#     when it builds the chain, so it sends the forged leaf alone). Token-less telemetry
#     gets 4.01 and nothing is stored;
#   - a leaf really issued by the registered certificate (sent with -R) still works;
#   - the same with a trust store configured;
#   - a real, trusted intermediate appended to a chain it did not issue identifies nobody.
set -u
source "$TERN_SOURCE_DIR/plugins/dtls/tests/dtls_lib.sh"
for p in dtls device_api json core_embedded; do
    if [ ! -f "$TERN_BUILD_DIR/plugins/libtern-$p.so" ]; then
        echo "[$TERN_TEST_NAME] SKIP: libtern-$p.so is not built"
        exit 77
    fi
done
dtls_init

# count_of DEVICE KEY: how many values of KEY are stored for DEVICE
count_of() {
    "$TERN_BIN" telemetry "$1" --key "$2" --json --config "$TERN_MANIFEST" 2>/dev/null | grep -o '"value"' | wc -l
}

attacks() { # the forged chains against whatever dtls_start_stack configured
    # against the intermediate: [forged leaf, real intermediate, root], OpenSSL builds it from
    # -R (which also holds the root, so the client accepts the server's certificate)
    coaps forged_intermediate -c "$CERTS/forged.pem" -j "$CERTS/forged.key" -R "$CERTS/chain-trust.pem" \
        -B 5 -m post -e '{"stolen":1}' "$(coaps_uri api/v1/telemetry)"
    assert_not_contains "$TERN_TMP/forged_intermediate.out" "c:2.01"
    # the same chain from the wolfSSL client's certificate file
    dtls_client forged_file --cert "$CERTS/forged-chain.pem" --key "$CERTS/forged.key" \
        --method POST --path api/v1/telemetry --payload '{"stolen":2}'
    assert_not_contains "$TERN_TMP/forged_file.out" "response 2.01"
    # against the root: [leaf of a look-alike root, real root]
    coaps forged_root -c "$CERTS/forged-ca.pem" -j "$CERTS/forged-ca.key" -R "$CERTS/ca.pem" \
        -B 5 -m post -e '{"stolen":3}' "$(coaps_uri api/v1/telemetry)"
    assert_not_contains "$TERN_TMP/forged_root.out" "c:2.01"
    dtls_client forged_root_file --cert "$CERTS/forged-ca-chain.pem" --key "$CERTS/forged-ca.key" \
        --method POST --path api/v1/telemetry --payload '{"stolen":4}'
    assert_not_contains "$TERN_TMP/forged_root_file.out" "response 2.01"
    # a real trusted intermediate (registered as gw2) appended to a leaf it did not issue
    # (client2, issued by the root, which is not sent: only the leaf is proven)
    dtls_client stray --cert "$CERTS/stray-chain.pem" --key "$CERTS/client2.key" \
        --method POST --path api/v1/telemetry --payload '{"stolen":5}'
    assert_not_contains "$TERN_TMP/stray.out" "response 2.01"
}

for mode in plain trust; do
    if [ "$mode" = plain ]; then
        dtls_start_stack
    else
        rm -rf "$TERN_TMP/db"
        dtls_start_stack "x509.trust_store = \"$CERTS/ca.pem\""
    fi
    tern_note "mode: $mode"
    cli device add gateway --x509 "$CERTS/intermediate.pem"
    cli device add fleet --x509 "$CERTS/ca.pem"
    cli device add gw2 --x509 "$CERTS/intermediate2.pem"

    attacks
    if [ "$mode" = plain ]; then
        # no trust store: the handshake proves the forged leaf's key, the request gets 4.01
        assert_code forged_intermediate 4.01
        assert_code forged_root 4.01
        assert_contains "$TERN_TMP/forged_file.out" "response 4.01"
        assert_contains "$TERN_TMP/forged_root_file.out" "response 4.01"
        # the operator sees where the forged chains were cut
        assert_ge "$(tern_metric 'dtls_client_chains_total{reason="bad_signature"}')" 2 "forged chains counted as cut"
        assert_ge "$(tern_metric 'dtls_client_chains_total{reason="name_mismatch"}')" 1 "the stray chain counted as cut"
    else
        # the trust store refuses the look-alike CA's leaf in the handshake already
        assert_no_response forged_intermediate
        assert_no_response forged_root
    fi
    sleep 0.5
    assert_contains "$TERN_TMP/stray.out" "response 4.01"
    for dev in gateway fleet gw2; do
        assert_eq 0 "$(count_of $dev stolen)" "$mode: forged telemetry stored under $dev"
    done

    # a leaf really issued by the intermediate, sent with it: the gateway device
    coaps real_chain $(with_cert chain) -R "$CERTS/chain-trust.pem" -m post -e '{"pressure":1013}' \
        "$(coaps_uri api/v1/telemetry)"
    assert_code real_chain 2.01
    wait_until 5 [ "$(latest_of gateway pressure)" = 1013 ] || fail "$mode: the real chain's telemetry is not stored under gateway"
    dtls_client real_chain_file --cert "$CERTS/chain.pem" --key "$CERTS/chain.key" \
        --method POST --path api/v1/telemetry --payload '{"pressure":1014}'
    assert_client_ok real_chain_file
    assert_contains "$TERN_TMP/real_chain_file.out" "response 2.01"
    wait_until 5 [ "$(latest_of gateway pressure)" = 1014 ] || fail "$mode: the wolfSSL client's real chain is not stored"
    # a leaf issued by the root, sent with the root: the fleet device (nearest registered)
    coaps real_root -c "$CERTS/client2.pem" -j "$CERTS/client2.key" -R "$CERTS/ca.pem" -m post -e '{"level":7}' \
        "$(coaps_uri api/v1/telemetry)"
    assert_code real_root 2.01
    wait_until 5 [ "$(latest_of fleet level)" = 7 ] || fail "$mode: a leaf issued by the registered root is not the fleet device"
    assert_ge "$(tern_metric 'dtls_client_chains_total{result="proven"}')" 3 "$mode: real chains counted as proven"
    tern_stop
done
tern_note PASS
