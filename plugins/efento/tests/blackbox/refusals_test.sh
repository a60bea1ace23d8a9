#!/usr/bin/env bash
# What an Efento sensor is answered when something is wrong, and the time resource, from
# coap-client-openssl with messages encoded by protoc: an unknown cloud_token 4.01; a device
# whose profile is not of the EFENTO type 4.00; a truncated message 5.00 (counted as a parse
# error, nothing stored); no channels 5.00; a GET of an uplink, an unknown name and a third
# segment 4.00; GET /efento/t 2.05 with 4 bytes, the server's Unix seconds big-endian, within
# a second of this test's clock. Then, with small bounds: more values than
# max_values_per_message 4.13 and a configuration past max_decoded_size 4.00, nothing stored;
# past source_burst lookups of unknown tokens 4.29 with Max-Age, a known unknown token 4.01
# from memory.
set -u
source "$TERN_SOURCE_DIR/plugins/efento/tests/blackbox/efento_blackbox.sh"
eb_init
eb_start

CHANNEL='channels { type: MEASUREMENT_TYPE_TEMPERATURE timestamp: 1700000000 start_point: 215 sample_offsets: [0, 1] }'
eb_device efento-ok efento-ok-token

# ---- an unknown token: 4.01 ----
eb_encode_text m "$TERN_TMP/unknown.bin" "cloud_token: \"no-such-token\" measurement_period_base: 60 $CHANNEL"
eb_post unknown efento/m "$TERN_TMP/unknown.bin"
assert_code unknown 4.01
# a message without any cloud_token: 4.01 too
eb_encode_text m "$TERN_TMP/notoken.bin" "measurement_period_base: 60 $CHANNEL"
eb_post notoken efento/m "$TERN_TMP/notoken.bin"
assert_code notoken 4.01

# ---- a device whose profile is not EFENTO: 4.00, nothing stored ----
eb_cli_ok profile add plain-coap --transport COAP >/dev/null
eb_device plain-dev plain-dev-token plain-coap
eb_encode_text m "$TERN_TMP/plain.bin" "cloud_token: \"plain-dev-token\" measurement_period_base: 60 $CHANNEL"
eb_post plain efento/m "$TERN_TMP/plain.bin"
assert_error plain 4.00
eb_nothing_stored plain-dev

# ---- truncated: the known token first (messages concatenated merge), then a message cut
# inside a channel: 5.00, nothing stored, counted as a parse error ----
eb_encode_text m "$TERN_TMP/token-part.bin" 'cloud_token: "efento-ok-token"'
eb_encode m "$EB_MSGS/continuous.txtpb" "$TERN_TMP/whole.bin"
{ cat "$TERN_TMP/token-part.bin"; head -c 40 "$TERN_TMP/whole.bin"; } >"$TERN_TMP/truncated.bin"
# protoc refuses these bytes too
if protoc --decode=ProtoMeasurements -I "$EB_PROTO" "$EB_PROTO/proto_measurements.proto" \
    <"$TERN_TMP/truncated.bin" >/dev/null 2>&1; then
    fail "the truncated message still parses with protoc: cut it elsewhere"
fi
parse_errors_before=$(tern_metric 'efento_messages_total{kind="measurements",outcome="parse_error"}')
eb_post truncated efento/m "$TERN_TMP/truncated.bin"
assert_code truncated 5.00
parse_errors_after=$(tern_metric 'efento_messages_total{kind="measurements",outcome="parse_error"}')
assert_eq $((parse_errors_before + 1)) "$parse_errors_after" "efento_messages_total{outcome=\"parse_error\"} after one truncated message"
# device information and configuration cut short too
eb_encode i "$EB_MSGS/device_info_bc660.txtpb" "$TERN_TMP/info-whole.bin"
head -c 30 "$TERN_TMP/info-whole.bin" >"$TERN_TMP/info-cut.bin"
eb_post info_cut efento/i "$TERN_TMP/info-cut.bin"
assert_code info_cut 5.00
eb_encode c "$EB_MSGS/configuration.txtpb" "$TERN_TMP/cfg-whole.bin"
{ cat "$TERN_TMP/cfg-whole.bin"; printf '\x5a\x20\x41'; } >"$TERN_TMP/cfg-cut.bin"  # field 11 (text) of 32 bytes, 1 there
eb_post cfg_cut efento/c "$TERN_TMP/cfg-cut.bin"
assert_code cfg_cut 5.00
eb_nothing_stored efento-ok
# a cloud_token that is not UTF-8 (field 16, bytes C3 28): 5.00, and libprotobuf's own
# complaint does not reach the server's output (a sensor must not be able to write there)
node -e 'require("fs").writeFileSync(process.argv[1], Buffer.from("820102c328", "hex"))' "$TERN_TMP/bad-utf8.bin"
eb_post bad_utf8 efento/m "$TERN_TMP/bad-utf8.bin"
assert_code bad_utf8 5.00
assert_not_contains "$TERN_LOG" "libprotobuf" "libprotobuf's log line reached tern's output"

# ---- no channels: 5.00, nothing stored ----
eb_encode_text m "$TERN_TMP/empty.bin" 'cloud_token: "efento-ok-token" measurement_period_base: 60 serial_number: "\x01"'
eb_post empty efento/m "$TERN_TMP/empty.bin"
assert_code empty 5.00
eb_nothing_stored efento-ok

# ---- paths and methods: 4.00 ----
eb_encode_text m "$TERN_TMP/good.bin" "cloud_token: \"efento-ok-token\" measurement_period_base: 60 $CHANNEL"
coap get_m -m get "$(coap_uri efento/m)"
assert_code get_m 4.00
coap get_x -m get "$(coap_uri efento/x)"
assert_code get_x 4.00
eb_post post_x efento/x "$TERN_TMP/good.bin"
assert_code post_x 4.00
eb_post post_extra efento/m/extra "$TERN_TMP/good.bin"
assert_code post_extra 4.00
eb_post post_t efento/t "$TERN_TMP/good.bin"
assert_code post_t 4.00
coap get_t_extra -m get "$(coap_uri efento/t/extra)"
assert_code get_t_extra 4.00
eb_nothing_stored efento-ok
# and the same message on the right path is stored
eb_post good efento/m "$TERN_TMP/good.bin"
assert_code good 2.01 ACK
eb_history efento-ok "$TERN_TMP/good.json"
eb_compare records "$TERN_TMP/good.json" '{
  "1700000000000": {
    "serial": "", "battery": "low", "next_transmission_at": "1970-01-01 00:00:00 UTC", "signal": 0,
    "temperature_1": 21.5, "measurement_interval_1": 60
  },
  "1700000060000": { "temperature_1": 21.6 }
}'

# ---- time: 2.05, 4 bytes, big-endian Unix seconds ----
before=$(date +%s)
coap time -m get "$(coap_uri efento/t)"
after=$(date +%s)
assert_code time 2.05 ACK
size=$(wc -c <"$TERN_TMP/time.body")
assert_eq 4 "$size" "GET /efento/t: payload length"
server_time=$(od -An -v -tu1 "$TERN_TMP/time.body" | awk '{ for (i = 1; i <= NF; i++) v = v * 256 + $i } END { printf "%d\n", v }')
[ "$server_time" -ge $((before - 1)) ] && [ "$server_time" -le $((after + 1)) ] ||
    fail "GET /efento/t: $server_time (hex $(od -An -v -tx1 "$TERN_TMP/time.body" | tr -d ' ')) is not within a second of [$before, $after]"
tern_note "time: $server_time, this test's clock $before..$after"

tern_stop

# ---- small bounds: 4.13 past max_values_per_message; 4.00 past max_decoded_size ----
eb_start --set plugins.efento.max_values_per_message=10
# 4 message keys + the interval + 6 samples = 11 values
eb_encode_text m "$TERN_TMP/many.bin" 'cloud_token: "efento-ok-token" measurement_period_base: 60 serial_number: "\x0b"
channels { type: MEASUREMENT_TYPE_TEMPERATURE timestamp: 1710000000 start_point: 215 sample_offsets: [0, 1, 2, 3, 4, 5] }'
eb_post many efento/m "$TERN_TMP/many.bin"
assert_error many 4.13
# one sample fewer: 10 values, stored
eb_encode_text m "$TERN_TMP/ten.bin" 'cloud_token: "efento-ok-token" measurement_period_base: 60 serial_number: "\x0b"
channels { type: MEASUREMENT_TYPE_TEMPERATURE timestamp: 1710000000 start_point: 215 sample_offsets: [0, 1, 2, 3, 4] }'
eb_post ten efento/m "$TERN_TMP/ten.bin"
assert_code ten 2.01 ACK
eb_cli_ok telemetry efento-ok --key temperature_1 --since 1710000000000 --asc --json >"$TERN_TMP/ten.json"
eb_compare records "$TERN_TMP/ten.json" '{
  "1710000000000": { "temperature_1": 21.5 }, "1710000060000": { "temperature_1": 21.6 },
  "1710000120000": { "temperature_1": 21.7 }, "1710000180000": { "temperature_1": 21.8 },
  "1710000240000": { "temperature_1": 21.9 }
}'
tern_stop
# A configuration of about 1600 bytes of keys and values passes, one with a 1000-character APN
# more does not. (Its 60 attributes count against max_values_per_message too.)
eb_start --set plugins.efento.max_decoded_size=2200
eb_device efento-cfg-small efento-cfg-small-token
eb_encode_text c "$TERN_TMP/small.bin" 'cloud_token: "efento-cfg-small-token" apn: "internet"'
eb_post small efento/c "$TERN_TMP/small.bin"
assert_code small 2.01 ACK
eb_device efento-cfg-big efento-cfg-big-token
eb_encode_text c "$TERN_TMP/big.bin" "cloud_token: \"efento-cfg-big-token\" apn: \"$(printf 'a%.0s' {1..1000})\""
eb_post big efento/c "$TERN_TMP/big.bin"
assert_error big 4.00
eb_nothing_stored efento-cfg-big
tern_stop

# ---- unknown tokens cost the sender: 2 lookups at once, 1 a second, per source address ----
# One reactor shard: the buckets are kept per shard, and the sensors' source ports spread them
# over the shards.
TERN_SHARDS=1 eb_start --set plugins.efento.source_rate=1 --set plugins.efento.source_burst=2 \
    --set plugins.efento.unknown_token_cache_ttl=60000
# six sensors with six unknown tokens at once: two lookups, the others 4.29 (plus one lookup
# earned for every second the six took, on a loaded machine)
for n in 1 2 3 4 5 6; do
    eb_encode_text m "$TERN_TMP/stranger$n.bin" "cloud_token: \"stranger-$n\" measurement_period_base: 60 $CHANNEL"
done
pids=()
burst_start=$(date +%s%3N)
for n in 1 2 3 4 5 6; do
    eb_post "stranger$n" efento/m "$TERN_TMP/stranger$n.bin" &
    pids+=($!)
done
wait "${pids[@]}"  # not tern, also a child of this shell
burst_ms=$(($(date +%s%3N) - burst_start))
unknown=0 limited=0 known=""
for n in 1 2 3 4 5 6; do
    if coap_received "stranger$n" | grep -E '^v:1 t:ACK c:4\.01 ' >/dev/null; then
        unknown=$((unknown + 1)) known=$n
    elif coap_received "stranger$n" | grep -E '^v:1 t:ACK c:4\.29 .*Max-Age' >/dev/null; then
        limited=$((limited + 1))
    else
        show_file "$TERN_TMP/stranger$n.out" >&2
        fail "stranger$n: expected 4.01, or 4.29 with Max-Age"
    fi
done
earned=$((burst_ms / 1000 + 1))
[ "$unknown" -ge 2 ] && [ "$unknown" -le $((2 + earned)) ] ||
    fail "$unknown of 6 unknown tokens were looked up in $burst_ms ms (expected 2, at most $((2 + earned)))"
[ "$limited" -ge 1 ] || [ "$burst_ms" -ge 3000 ] || fail "no 4.29 among six unknown tokens sent within $burst_ms ms"
assert_eq $((6 - unknown)) "$limited" "answers 4.29 with Max-Age"
assert_eq "$unknown" "$(tern_metric 'efento_core_lookups_total{result="unknown"}')" "lookups of unknown tokens that reached the core"
# an unknown token already seen is answered from memory, without a lookup, limit or not
eb_post known_again efento/m "$TERN_TMP/stranger$known.bin"
assert_code known_again 4.01
assert_eq "$unknown" "$(tern_metric 'efento_core_lookups_total{result="unknown"}')" "lookups after an unknown token came again"
tern_stop
tern_note PASS
