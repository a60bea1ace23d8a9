#!/usr/bin/env bash
# The wolfSSL test client against a server offering DTLS 1.2 and 1.3: with a Connection ID
# (RFC 9146 on DTLS 1.2, RFC 9147 on 1.3) a session survives the client changing its source
# port mid-session (requests and Observe notifications follow it, across shards), and a
# client that does not ask for one gets none; DTLS 1.2 resumption by
# ticket and by session ID keeps the client's identity; resumption_identities = 0 turns
# resumption off without failing handshakes.
set -u
source "$TERN_SOURCE_DIR/plugins/dtls/tests/dtls_lib.sh"
dtls_init

DTLS_TOML='versions = ["1.2", "1.3"]' TERN_LOG_LEVEL=debug dtls_start --set plugins.plugtest.obs_period=300 <<'TOML'
[plugins.coap]
[plugins.plugtest]
TOML
grep -q 'Connection ID 8 bytes' "$TERN_LOG" || fail "the server does not offer Connection IDs"

# DTLS 1.3 with CID: three requests, the last two from a new source port
dtls_client cid --dtls13 --cid $(echo --cert "$CERTS/client.pem" --key "$CERTS/client.key") --requests 3 --rebind
assert_client_ok cid
assert_match "$TERN_TMP/cid.out" '^handshake version=DTLSv1.3 .* cid=[0-9a-f]{16} ' "a DTLS 1.3 session with an 8-byte CID"
assert_contains "$TERN_TMP/cid.out" "rebound port="
[ "$(grep -c '^response 2.05 test: GET CON 0 bytes' "$TERN_TMP/cid.out")" = 3 ] ||
    { show_file "$TERN_TMP/cid.out" >&2; fail "not every request was answered across the port change"; }
# one session for the whole exchange
[ "$(grep -c 'DTLSv1.3 .* client certificate' "$TERN_LOG")" = 1 ] || fail "the port change made a new session"
wait_until 3 metric_at_least 'dtls_cid_address_changes_total' 1 || fail "the address change was not counted"

# Observe keeps notifying at the new address
dtls_client obs --dtls13 --cid --path obs --observe 5 --rebind
assert_client_ok obs
assert_contains "$TERN_TMP/obs.out" "rebound port="
after=$(sed -n '/^rebound/,$p' "$TERN_TMP/obs.out" | grep -c '^notification ')
assert_ge "$after" 3 "notifications after the port change"

# Changing ports many times: some new ports hash to the other shard's socket, whose
# records are posted to the session's shard
for i in 1 2 3 4 5 6; do
    dtls_client hop$i --dtls13 --cid --requests 2 --rebind
    assert_client_ok hop$i
done
assert_ge "$(tern_metric 'dtls_cid_forwarded_total')" 1 "records posted to the owning shard"

# The same on DTLS 1.2 (RFC 9146: tls12_cid records): three requests, the last two from a
# new source port, in one session
changes=$(tern_metric 'dtls_cid_address_changes_total')
dtls_client cid12 --cid $(echo --cert "$CERTS/client2.pem" --key "$CERTS/client2.key") --requests 3 --rebind
assert_client_ok cid12
assert_match "$TERN_TMP/cid12.out" '^handshake version=DTLSv1.2 .* cid=[0-9a-f]{16} ' "a DTLS 1.2 session with an 8-byte CID"
assert_contains "$TERN_TMP/cid12.out" "rebound port="
[ "$(grep -c '^response 2.05 test: GET CON 0 bytes' "$TERN_TMP/cid12.out")" = 3 ] ||
    { show_file "$TERN_TMP/cid12.out" >&2; fail "DTLS 1.2: not every request was answered across the port change"; }
[ "$(grep -c 'DTLSv1.2 .* client certificate' "$TERN_LOG")" = 1 ] || fail "DTLS 1.2: the port change made a new session"
wait_until 3 metric_at_least 'dtls_cid_address_changes_total' $((changes + 1)) ||
    fail "DTLS 1.2: the address change was not counted"

grep -q 'DTLSv1.2 .* CID client certificate' "$TERN_LOG" || fail "DTLS 1.2: the server did not log the CID session"

# Observe keeps notifying at the new address; meanwhile the session counts as a CID session
dtls_client obs12 --cid --path obs --observe 5 --rebind &
observer=$!
wait_until 5 metric_at_least 'dtls_cid_sessions' 1 || fail "dtls_cid_sessions did not count the observer's session"
wait "$observer"
assert_client_ok obs12
assert_match "$TERN_TMP/obs12.out" '^handshake version=DTLSv1.2 .* cid=[0-9a-f]{16} ' "DTLS 1.2 observer with a CID"
assert_contains "$TERN_TMP/obs12.out" "rebound port="
after=$(sed -n '/^rebound/,$p' "$TERN_TMP/obs12.out" | grep -c '^notification ')
assert_ge "$after" 3 "DTLS 1.2 notifications after the port change"

# Many port changes: the records of those that hash to the other shard's socket are posted
# to the session's shard (ten hops: all landing on one shard has odds of 1 in 512)
forwarded=$(tern_metric 'dtls_cid_forwarded_total')
for i in 1 2 3 4 5 6 7 8 9 10; do
    dtls_client hop12_$i --cid --requests 2 --rebind
    assert_client_ok hop12_$i
    assert_contains "$TERN_TMP/hop12_$i.out" "version=DTLSv1.2"
done
assert_ge "$(tern_metric 'dtls_cid_forwarded_total')" $((forwarded + 1)) "DTLS 1.2 records posted to the owning shard"
assert_eq 0 "$(tern_metric 'dtls_drops_total{reason="unknown_cid"}')" "no record lost its session"
assert_eq 0 "$(tern_metric 'dtls_cid_address_changes_refused_total')" "no fresh record was refused a move"
# every CID session ended with its client (close_notify): the gauge is back to zero
no_cid_sessions() { [ "$(tern_metric 'dtls_cid_sessions')" = 0 ]; }
wait_until 3 no_cid_sessions || fail "dtls_cid_sessions did not come back to 0 ($(tern_metric 'dtls_cid_sessions'))"

# a DTLS 1.2 client that does not ask for a CID gets none, and is found by its address
dtls_client v12nocid --requests 2
assert_client_ok v12nocid
assert_match "$TERN_TMP/v12nocid.out" '^handshake version=DTLSv1.2 .* cid=none ' "a DTLS 1.2 session without a CID"
grep -qE 'DTLSv1.2 [^ ]+ no client identity' "$TERN_LOG" || fail "DTLS 1.2 without CID: logged as a CID session"

# DTLS 1.3 without CID, and DTLS 1.2 beside it
dtls_client v13 --dtls13
assert_client_ok v13
assert_contains "$TERN_TMP/v13.out" "cid=none"
dtls_client v12 --cert "$CERTS/client.pem" --key "$CERTS/client.key"
assert_client_ok v12
assert_contains "$TERN_TMP/v12.out" "version=DTLSv1.2"

# resumption by ticket (RFC 5077): abbreviated handshake, the certificate identity kept
dtls_client ticket --cert "$CERTS/client2.pem" --key "$CERTS/client2.key" --resume
assert_client_ok ticket
assert_match "$TERN_TMP/ticket.out" '^resume version=DTLSv1.2 .* resumed=1 ' "resumed by ticket"
wait_until 3 grep -q '(resumed) client certificate' "$TERN_LOG" || fail "the resumed session lost its certificate identity"
assert_ge "$(tern_metric 'dtls_resumptions_total{mechanism="ticket"}')" 1 "ticket resumptions"

# resumption by ticket with a Connection ID: the abbreviated handshake negotiates a new CID
dtls_client ticket_cid --cid --resume
assert_client_ok ticket_cid
assert_match "$TERN_TMP/ticket_cid.out" '^resume version=DTLSv1.2 .* resumed=1 cid=[0-9a-f]{16} ' "resumed by ticket with a CID"

# resumption by session ID (wolfSSL's server cache)
dtls_client sid --cert "$CERTS/client.pem" --key "$CERTS/client.key" --resume --no-tickets
assert_client_ok sid
assert_match "$TERN_TMP/sid.out" '^resume version=DTLSv1.2 .* resumed=1 ' "resumed by session ID"
assert_ge "$(tern_metric 'dtls_resumptions_total{mechanism="session_id"}')" 1 "session ID resumptions"
assert_ge "$(tern_metric 'dtls_handshakes_total{reason="resumed"}')" 2 "resumed handshakes"

# a PSK-only client of a server without a core: no PSK suite to agree on
dtls_client nopsk --psk-identity x --psk-key 00112233 --ciphers PSK-AES128-CCM-8 --timeout 3000
assert_client_failed nopsk
tern_stop

# resumption_identities = 0: no resumption (no ticket is issued), full handshakes succeed
DTLS_TOML='resumption_identities = 0' dtls_start <<'TOML'
[plugins.coap]
[plugins.plugtest]
TOML
dtls_client noresume --cert "$CERTS/client.pem" --key "$CERTS/client.key" --resume
assert_client_ok noresume
assert_match "$TERN_TMP/noresume.out" '^resume version=DTLSv1.2 .* resumed=0 ' "a full handshake instead of a resumption"
coaps openssl $(with_cert client) "$(coaps_uri test)"
assert_body openssl "test: GET CON 0 bytes"
assert_eq 0 "$(tern_metric 'dtls_handshakes_total{result="failure"}')" "no handshake failed"
tern_stop
tern_note PASS
