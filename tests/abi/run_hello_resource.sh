#!/usr/bin/env bash
# hello_resource (sdk/examples) answers CoAP requests through the ABI, inside the real
# kernel: fake_engine provides tern.coap.engine/1 and the test driver interface, the
# driver plugin plays client and writes a transcript, which must equal
# testcases/hello_resource/expected.txt. Whichever compiler and C++ library built the
# hello_resource library given, the kernel and the fixtures are gcc + libstdc++.
# usage: run_hello_resource.sh <libtern-hello_resource.so> <label>
#        (environment: TERN PLUGINS WORK, see lib.sh)
source "$(dirname "$0")/lib.sh"
need_env TERN PLUGINS WORK
lib=${1:?usage: run_hello_resource.sh <library> <label>}
label=${2:?usage: run_hello_resource.sh <library> <label>}
dir=$(fresh_dir "hello_resource-$label")

{
    kernel_table "$PLUGINS"
    cat <<TOML

[plugins.engine]
plugin = "fake_engine"

[plugins.hello]
plugin = "hello_resource"
file = "$lib"
max_name_length = 8

[plugins.driver]
output = "$dir/transcript.txt"
TOML
} >"$dir/manifest.toml"

run_capture 30 "$dir/check.txt" "$TERN" check --config "$dir/manifest.toml"
expect_rc 0 "$dir/check.txt" "tern check"

run_until "$dir/manifest.toml" "$dir/run.log" test -e "$dir/transcript.txt"
if ! diff -u "$here/testcases/hello_resource/expected.txt" "$dir/transcript.txt"; then
    show "$dir/run.log"
    fail "hello_resource ($label) answered differently (diff above: expected, then the transcript)"
fi
expect_text "$dir/run.log" "serving /hello and /hello/{name}, greeting 'hello'"
echo "ok: hello_resource ($label) answers GET/PUT /hello, GET /hello/{name} and notifies observers"
