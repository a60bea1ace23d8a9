#!/usr/bin/env bash
# What a protobuf profile or device is refused (docs/device-api.md §8, §1.3): a schema that
# does not compile or breaks the profile rules is refused on save by `tern profile add|update`
# (non-zero exit, the reason with its line and column; an update keeps the old schema); a
# payload that does not decode against the schema, nests deeper than the adaptor follows, is
# longer than max_message_size or decodes past max_decoded_size gets 4.00 with a diagnostic
# and stores nothing, each refusal counted; messages of a cached profile revision compile
# nothing; with the protobuf plugin disabled a protobuf profile is refused on save with the
# reason, and a device of an existing one gets 5.00.
set -u
source "$TERN_SOURCE_DIR/plugins/protobuf/tests/blackbox/pb_blackbox.sh"
pb_init
pb_start

S=$PB_SCHEMAS

# refused_profile NAME WHAT REGEX ARGS...: `tern profile ARGS` must fail, its output match
# REGEX (extended, case-insensitive).
refused_profile() {
    local name=$1 what=$2 re=$3; shift 3
    if pb_cli profile "$@"; then show_file "$TERN_TMP/cli.out" >&2; fail "$what: tern profile $1 succeeded, expected a refusal"; fi
    cp "$TERN_TMP/cli.out" "$TERN_TMP/$name.refusal"
    grep -qiE -- "$re" "$TERN_TMP/$name.refusal" || { show_file "$TERN_TMP/$name.refusal" >&2; fail "$what: the refusal should match /$re/"; }
    tern_note "refused as expected ($what): $(head -c 300 "$TERN_TMP/$name.refusal" | tr '\n' ' ')"
}

# ---- schemas refused on save, with line and column ----
refused_profile type "unknown type" '"?doubel"?' add pb-bad1 --payload protobuf --telemetry-proto "$S/broken_type.proto"
grep -qE '(line 6\b.*col(umn)? 3\b|\b6:3\b)' "$TERN_TMP/type.refusal" ||
    { show_file "$TERN_TMP/type.refusal" >&2; fail "the refusal names line 6, column 3"; }
grep -qi telemetry "$TERN_TMP/type.refusal" || { show_file "$TERN_TMP/type.refusal" >&2; fail "the refusal names the telemetry schema"; }
pb_cli profile show pb-bad1 && fail "a refused profile must not exist"

refused_profile option "an option" '(line 5\b|\b5:[0-9]+\b)' add pb-bad2 --payload protobuf --attributes-proto "$S/broken_option.proto"
grep -qi option "$TERN_TMP/option.refusal" || { show_file "$TERN_TMP/option.refusal" >&2; fail "the refusal says options are not allowed"; }
refused_profile proto2 "proto2" 'proto3' add pb-bad3 --payload protobuf --rpc-request-proto "$S/broken_proto2.proto"
refused_profile no_message "no message, so no root" 'no message' add pb-bad4 --payload protobuf --rpc-response-proto "$S/broken_no_message.proto"

# an update with a broken schema is refused and the profile keeps its schema
pb_cli_ok profile add pb-ok --transport COAP --payload protobuf --telemetry-proto "$S/telemetry.proto" >/dev/null
refused_profile update "update with a broken schema" '(line 6\b|\b6:3\b)' update pb-ok --telemetry-proto "$S/broken_type.proto"
pb_cli_ok profile show pb-ok --json >"$TERN_TMP/pb-ok.json"
json_get "$TERN_TMP/pb-ok.json" 'j.schemas.telemetry' >"$TERN_TMP/kept.proto"
assert_same_file "$S/telemetry.proto" "$TERN_TMP/kept.proto" "the refused update left the telemetry schema as it was"

TOKEN=pb-refusal-token-$RANDOM$RANDOM
DEV=pb-refusal-dev
pb_cli_ok device add "$DEV" --token "$TOKEN" --profile pb-ok >/dev/null
pb_encode_text sensors.Reading "$S/telemetry.proto" "$TERN_TMP/good.bin" 'ts: 1700000000000 values { temperature: 1.5 }'

# ---- payloads that do not decode: 4.00 with a diagnostic, nothing stored ----
# field 2 (values) claims 64 bytes, 2 follow
printf '\x08\x01\x12\x40\x08\x01' >"$TERN_TMP/truncated.bin"
# a tag of wire type 7, which does not exist
printf '\x08\x01\x0f\x01' >"$TERN_TMP/wiretype.bin"
# values.label (field 9, a string) holding bytes that are not UTF-8
printf '\x12\x04\x4a\x02\xc3\x28' >"$TERN_TMP/utf8.bin"
for c in truncated wiretype utf8; do
    coap "bad_$c" -m post -t 42 -f "$TERN_TMP/$c.bin" "$(coap_uri "api/v1/$TOKEN/telemetry")"
    assert_error "bad_$c" 4.00
done
coap bad_attr -m post -f "$TERN_TMP/truncated.bin" "$(coap_uri "api/v1/$TOKEN/attributes")"
assert_error bad_attr 4.00
# libprotobuf's own complaint about the bad UTF-8 stays out of the server's output (the 4.00
# and protobuf_unparsable_total say it once, through Tern's log and metrics)
if grep -q 'libprotobuf' "$TERN_LOG"; then
    grep 'libprotobuf' "$TERN_LOG" | head -3 >&2
    fail "libprotobuf wrote to the server's output for a device's bad bytes"
fi
pb_cli_ok telemetry "$DEV" --latest --json >"$TERN_TMP/none.json"
assert_eq '{}' "$(tr -d ' \n' <"$TERN_TMP/none.json")" "nothing stored from the refused telemetry"
pb_cli_ok attr get "$DEV" --scope client --json >"$TERN_TMP/none_attr.json"
assert_eq '[]' "$(json_get "$TERN_TMP/none_attr.json" 'j.client')" "nothing stored from the refused attributes"
# the device is fine: a good message is stored
coap good -m post -f "$TERN_TMP/good.bin" "$(coap_uri "api/v1/$TOKEN/telemetry")"
assert_code good 2.01
# compiled once per profile revision: more messages compile nothing
compiles=$(tern_metric protobuf_profile_compiles_total)
for i in 1 2 3 4 5 6 7 8; do
    coap "good$i" -m post -f "$TERN_TMP/good.bin" "$(coap_uri "api/v1/$TOKEN/telemetry")"
    assert_code "good$i" 2.01
done
assert_eq "$compiles" "$(tern_metric protobuf_profile_compiles_total)" "no schema compiled for messages of a cached profile revision"

# ---- nesting: a few levels are a JSON value, hundreds are refused ----
pb_cli_ok profile add pb-tree --transport COAP --payload protobuf --telemetry-proto "$S/tree.proto" >/dev/null
TOKEN2=pb-tree-token-$RANDOM$RANDOM
pb_cli_ok device add pb-tree-dev --token "$TOKEN2" --profile pb-tree >/dev/null
# tree.Tree nested n levels, v counting from 1 at the root
nested_tree() {
    node -e '
        const varint = (n) => { const o = []; do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; o.push(b); } while (n); return Buffer.from(o); };
        const n = Number(process.argv[1]);
        let m = Buffer.from([0x08, n & 0x7f]);
        for (let v = n - 1; v >= 1; --v) m = Buffer.concat([Buffer.from([0x08, v & 0x7f, 0x12]), varint(m.length), m]);
        process.stdout.write(m);' "$1" >"$2"
}
nested_tree 3 "$TERN_TMP/tree3.bin"
t0=$(date +%s%3N)
coap tree3 -m post -f "$TERN_TMP/tree3.bin" "$(coap_uri "api/v1/$TOKEN2/telemetry")"
t1=$(date +%s%3N)
assert_code tree3 2.01
pb_cli_ok telemetry pb-tree-dev --latest --json >"$TERN_TMP/tree.json"
node "$PB_DIR/stored.mjs" latest "$TERN_TMP/tree.json" '{"v":1,"child":{"v":2,"child":{"v":3}}}' "$t0" "$t1" ||
    fail "a nested message is one JSON value"
nested_tree 300 "$TERN_TMP/tree300.bin"
coap tree300 -m post -f "$TERN_TMP/tree300.bin" "$(coap_uri "api/v1/$TOKEN2/telemetry")"
assert_error tree300 4.00
pb_cli_ok telemetry pb-tree-dev --latest --json >"$TERN_TMP/tree_after.json"
assert_same_file "$TERN_TMP/tree.json" "$TERN_TMP/tree_after.json" "nothing stored from the message nested 300 deep"
# each refusal counted: 5 bodies that do not parse (the one nested too deep among them), 5 schemas
assert_ge "$(tern_metric protobuf_unparsable_total)" 5 "protobuf_unparsable_total"
assert_ge "$(tern_metric protobuf_schema_refusals_total)" 5 "protobuf_schema_refusals_total"

tern_stop

# ---- the size bounds, made small (the same database): a body longer than max_message_size,
# and a short body whose values decode to more than max_decoded_size (a packed repeated field
# of zeros: 1 byte each on the wire, "0," in its JSON text) ----
pb_start --set plugins.protobuf.max_message_size=512 --set plugins.protobuf.max_decoded_size=600
before=$(pb_cli_ok telemetry "$DEV" --latest --json)
pb_encode_text sensors.Reading "$S/telemetry.proto" "$TERN_TMP/big.bin" \
    "ts: 1700000000500 values { label: \"$(head -c 600 /dev/zero | tr '\0' x)\" }"
coap too_big -m post -f "$TERN_TMP/big.bin" "$(coap_uri "api/v1/$TOKEN/telemetry")"
assert_error too_big 4.00
assert_eq 1 "$(tern_metric protobuf_message_size_refused_total)" "protobuf_message_size_refused_total"
pb_encode_text sensors.Reading "$S/telemetry.proto" "$TERN_TMP/wide.bin" \
    "ts: 1700000000600 values { samples: [$(printf '0,%.0s' $(seq 1 399))0] }"
[ "$(wc -c <"$TERN_TMP/wide.bin")" -lt 512 ] || fail "the wide message should be shorter than max_message_size"
coap too_wide -m post -f "$TERN_TMP/wide.bin" "$(coap_uri "api/v1/$TOKEN/telemetry")"
assert_error too_wide 4.00
assert_eq 1 "$(tern_metric protobuf_decoded_size_refused_total)" "protobuf_decoded_size_refused_total"
assert_eq "$before" "$(pb_cli_ok telemetry "$DEV" --latest --json)" "nothing stored from the refused messages"
coap small -m post -f "$TERN_TMP/good.bin" "$(coap_uri "api/v1/$TOKEN/telemetry")"
assert_code small 2.01
tern_stop

# ---- the protobuf plugin disabled: the same database ----
pb_start --set plugins.protobuf.enabled=false
refused_profile disabled "protobuf plugin disabled" 'not loaded' add pb-none --payload protobuf
grep -qi protobuf "$TERN_TMP/disabled.refusal" || { show_file "$TERN_TMP/disabled.refusal" >&2; fail "the refusal names the protobuf adaptor"; }
pb_cli profile show pb-none && fail "a refused profile must not exist"
coap no_adaptor -m post -f "$TERN_TMP/good.bin" "$(coap_uri "api/v1/$TOKEN/telemetry")"
assert_error no_adaptor 5.00 "not loaded"
# JSON profiles are not affected
jtoken=json-dev-token-$RANDOM$RANDOM
pb_cli_ok device add pb-json-dev --token "$jtoken" >/dev/null
coap json_ok -m post -t json -e '{"a":1}' "$(coap_uri "api/v1/$jtoken/telemetry")"
assert_code json_ok 2.01
tern_stop
tern_note PASS
