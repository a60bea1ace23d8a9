#!/usr/bin/env bash
# No small request makes a large write: against a real tern with the default stack (udp, coap,
# device_api, json, core_embedded on a SQLite file) and libcoap's coap-client, all defaults:
#   - normal telemetry is answered 2.01 and stored, a long beyond 64 bits as its digits;
#   - the review's attack, 64 KiB of {"k0":1e9999,"k1":1e9999,...} sent block-wise, is refused
#     with 4.00 naming the key and max_number_text_length, and the database (file and WAL)
#     does not grow by more than a small bound, however often it is sent;
#   - 64 KiB of 64-digit numbers (each within the number bound) is refused by
#     max_decoded_size, nothing stored;
#   - a key longer than max_key_length is refused with 4.00;
#   - distinct telemetry keys beyond max_telemetry_keys_per_device (1000) are refused with
#     4.00 and nothing of that message is stored, while the device's keys still take values;
#   - likewise client attribute keys beyond max_attributes_per_device (1000), and a long one.
set -u
source "$TERN_SOURCE_DIR/tests/device_api/device_api.sh"
dapi_init
command -v sqlite3 >/dev/null || fail "sqlite3 is required (Debian package sqlite3)"
dapi_start

TOKEN=payload-limits-token-5b1e
dapi_cli_ok device add payload --token "$TOKEN" >/dev/null
URI=$(coap_uri "api/v1/$TOKEN/telemetry")

# sql QUERY: one value from the database (read-only, beside the running server)
sql() { timeout 20 sqlite3 -readonly -cmd '.timeout 5000' "$DAPI_DB" "$1"; }
rows() { sql "SELECT count(*) FROM ts_kv k JOIN devices d ON d.id = k.device_id WHERE d.name = 'payload'"; }
keys_of_device() { sql "SELECT count(*) FROM ts_latest l JOIN devices d ON d.id = l.device_id WHERE d.name = 'payload'"; }
db_bytes() { cat "$DAPI_DB" "$DAPI_DB-wal" 2>/dev/null | wc -c; }

# post NAME FILE: the file's bytes as one telemetry POST, block-wise (1 KiB blocks) when large
post() {
    local name=$1 file=$2
    coap "$name" -m post -t json -b 1024 -f "$file" -B 30 "$URI"
}

# ---- normal telemetry ------------------------------------------------------------------------
printf '{"temperature":21.5,"humidity":40,"serial":12345678901234567890}' >"$TERN_TMP/normal.json"
post normal "$TERN_TMP/normal.json"
assert_code normal 2.01
assert_eq 3 "$(rows)" "the normal message's values are stored"
assert_eq 12345678901234567890 "$(sql "SELECT v FROM ts_latest l JOIN ts_keys k ON k.id = l.key_id WHERE k.name = 'serial'")" \
    "a number beyond 64 bits is stored as its digits"

# ---- the review's attack: 64 KiB of 1e9999 ----------------------------------------------------
# {"k0":1e9999,...} up to 65 000 bytes (under device_api.max_payload_size, 65 536)
make_members() { # FILE VALUE
    awk -v v="$2" 'BEGIN { s = "{"; for (i = 0; length(s) < 64980; i++) s = s (i ? "," : "") "\"k" i "\":" v; printf "%s}", s }' >"$1"
}
make_members "$TERN_TMP/attack.json" 1e9999
tern_note "attack body: $(wc -c <"$TERN_TMP/attack.json") bytes"
# let the start-up writes (activity, checkpoints) settle before measuring
sleep 0.5
before=$(db_bytes)
rows_before=$(rows)
for i in 1 2 3 4 5; do
    post "attack$i" "$TERN_TMP/attack.json"
    assert_error "attack$i" 4.00 "max_number_text_length 64"
done
assert_contains "$TERN_TMP/attack1.err" "value of 'k0' (1e9999) would be stored as a string of 10000 characters"
after=$(db_bytes)
tern_note "database and WAL: $before bytes before 5 attacks, $after after"
assert_eq "$rows_before" "$(rows)" "nothing of the attack is stored"
[ $((after - before)) -le 262144 ] || fail "the database grew by $((after - before)) bytes under 5 refused 64 KiB messages"

# ---- 64-digit numbers: each within bounds, together over max_decoded_size ------------------
make_members "$TERN_TMP/digits.json" 1e63
post digits "$TERN_TMP/digits.json"
assert_error digits 4.00 "max_decoded_size"
assert_eq "$rows_before" "$(rows)" "nothing of the 1e63 message is stored"

# ---- a key longer than max_key_length ----------------------------------------------------------
long_key=$(head -c 256 /dev/zero | tr '\0' 'k')
printf '{"ok":1,"%s":1}' "$long_key" >"$TERN_TMP/longkey.json"
post longkey "$TERN_TMP/longkey.json"
assert_error longkey 4.00 "max_key_length 255"
assert_eq "$rows_before" "$(rows)" "nothing of the long-key message is stored"

# ---- distinct keys per device ----------------------------------------------------------------
# 4 messages of 250 new keys: with the 3 it has, 1003 > 1000, so the 4th is refused whole
batch() { # FILE FIRST COUNT
    awk -v f="$2" -v n="$3" 'BEGIN { s = "{"; for (i = 0; i < n; i++) s = s (i ? "," : "") "\"key" (f + i) "\":" i; printf "%s}", s }' >"$1"
}
for b in 0 1 2; do
    batch "$TERN_TMP/keys$b.json" $((b * 250)) 250
    post "keys$b" "$TERN_TMP/keys$b.json"
    assert_code "keys$b" 2.01
done
assert_eq 753 "$(keys_of_device)" "750 new keys and the 3 of the normal message"
batch "$TERN_TMP/keys3.json" 750 250
post keys3 "$TERN_TMP/keys3.json"
assert_error keys3 4.00 "max_telemetry_keys_per_device 1000"
assert_contains "$TERN_TMP/keys3.err" "1003 distinct telemetry keys for the device (it has 753)"
assert_eq 753 "$(keys_of_device)" "the refused message added no key"
assert_eq 0 "$(sql "SELECT count(*) FROM ts_keys WHERE name = 'key999'")" "its names did not reach the dictionary"
# up to the cap is fine, and the keys it has still take values
batch "$TERN_TMP/keys4.json" 750 247
post keys4 "$TERN_TMP/keys4.json"
assert_code keys4 2.01
assert_eq 1000 "$(keys_of_device)" "exactly max_telemetry_keys_per_device keys"
post keys0again "$TERN_TMP/keys0.json"
assert_code keys0again 2.01
printf '{"temperature":22.5,"brandnew":1}' >"$TERN_TMP/one_more.json"
post one_more "$TERN_TMP/one_more.json"
assert_error one_more 4.00 "max_telemetry_keys_per_device"
printf '{"temperature":23.5}' >"$TERN_TMP/known.json"
post known "$TERN_TMP/known.json"
assert_code known 2.01
assert_eq 23.5 "$(sql "SELECT v FROM ts_latest l JOIN ts_keys k ON k.id = l.key_id WHERE k.name = 'temperature'")" \
    "a known key still takes values at the cap"

# ---- client attributes: at most max_attributes_per_device (1000) keys ------------------------
ATTR_URI=$(coap_uri "api/v1/$TOKEN/attributes")
attrs() { sql "SELECT count(*) FROM attributes a JOIN devices d ON d.id = a.device_id WHERE d.name = 'payload' AND a.scope = 1"; }
for b in 0 1 2 3; do
    coap "attrs$b" -m post -t json -b 1024 -f "$TERN_TMP/keys$b.json" -B 30 "$ATTR_URI"
    assert_code "attrs$b" 2.01
done
assert_eq 1000 "$(attrs)" "1000 client attribute keys"
printf '{"key0":"changed","fresh":1}' >"$TERN_TMP/attr_more.json"
coap attr_more -m post -t json -f "$TERN_TMP/attr_more.json" "$ATTR_URI"
assert_error attr_more 4.00 "max_attributes_per_device 1000"
assert_eq 1000 "$(attrs)" "the refused message added no attribute"
assert_eq 0 "$(sql "SELECT v FROM attributes WHERE key = 'key0' AND scope = 1")" "nor changed one"
printf '{"key0":7}' >"$TERN_TMP/attr_known.json"
coap attr_known -m post -t json -f "$TERN_TMP/attr_known.json" "$ATTR_URI"
assert_code attr_known 2.01
printf '{"%s":1}' "$long_key" >"$TERN_TMP/attr_long.json"
coap attr_long -m post -t json -b 1024 -f "$TERN_TMP/attr_long.json" -B 30 "$ATTR_URI"
assert_error attr_long 4.00 "max_key_length 255"

# ---- the metrics count what was refused ---------------------------------------------------------
curl -s --max-time 5 "http://127.0.0.1:$TERN_METRICS_PORT/metrics" >"$TERN_TMP/metrics.txt" || fail "no metrics"
assert_match "$TERN_TMP/metrics.txt" '^json_number_text_refused_total(\{[^}]*\})? 5$' "5 attacks counted"
assert_match "$TERN_TMP/metrics.txt" '^json_decoded_size_refused_total(\{[^}]*\})? 1$' "the 1e63 message counted"
assert_match "$TERN_TMP/metrics.txt" '^core_key_length_refused_total(\{[^}]*\})? 2$' "the long keys counted"
assert_match "$TERN_TMP/metrics.txt" '^core_attribute_keys_refused_total(\{[^}]*\})? 1$' "the attribute refusal counted"
assert_match "$TERN_TMP/metrics.txt" '^core_telemetry_keys_refused_total\{[^}]*max_telemetry_keys_per_device[^}]*\} 2$' \
    "the two key-cap refusals counted"
tern_stop
tern_note "OK"
