#!/usr/bin/env bash
# hello_resource (sdk/examples) answers CoAP requests through the ABI, inside the real
# kernel: fake_engine provides tern.coap.engine/1 and the test driver interface, the
# driver plugin plays client and writes a transcript, which must equal
# testcases/hello_resource/expected.txt. Whichever compiler and C++ library built the
# hello_resource library given, the kernel and the fixtures are gcc + libstdc++.
# usage: run_hello_resource.sh <libtern-hello_resource.so> <label>   (environment: lib.sh)
source "$(dirname "$0")/lib.sh"
lib=${1:?usage: run_hello_resource.sh <library> <label>}
TERN_TEST_NAME="abi.runs.hello_resource.${2:?usage: run_hello_resource.sh <library> <label>}"
tern_init

tables=$(cat <<TOML
[plugins.engine]
plugin = "fake_engine"

[plugins.hello]
plugin = "hello_resource"
file = "$lib"
max_name_length = 8

[plugins.driver]
output = "$TERN_TMP/transcript.txt"
TOML
)
manifest=$(abi_manifest check <<<"$tables")
timeout 30 "$TERN_BIN" check --config "$manifest" >"$TERN_TMP/check.txt" 2>&1 ||
    { show_file "$TERN_TMP/check.txt" >&2; fail "tern check refused the manifest"; }

tern_start <<<"$tables"
wait_until 20 test -e "$TERN_TMP/transcript.txt" || fail "the driver wrote no transcript within 20s"
tern_stop
diff -u "$ABI_DIR/testcases/hello_resource/expected.txt" "$TERN_TMP/transcript.txt" ||
    fail "hello_resource answered differently (diff above: expected, then the transcript)"
assert_contains "$TERN_LOG" "serving /hello and /hello/{name}, greeting 'hello'"
tern_note "PASS: GET/PUT /hello, GET /hello/{name} and Observe answered through the ABI"
