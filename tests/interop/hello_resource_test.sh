#!/usr/bin/env bash
# The SDK's example plugin (sdk/examples/hello_resource, built out of tree into
# test-plugins/abi/) served by the real engine: GET /hello and /hello/world.
# Exits 77 (skipped) when the example has not been built.
set -u
source "$TERN_SOURCE_DIR/tests/interop/interop.sh"
lib=$TERN_BUILD_DIR/test-plugins/abi/libtern-hello_resource.so
if [ ! -f "$lib" ]; then
    echo "SKIP: $lib is not built"
    exit 77
fi
tern_init
tern_start <<TOML
[plugins.udp]
bind_address = "127.0.0.1"

[plugins.coap]

[plugins.hello_resource]
file = "$lib"
TOML

coap hello "$(coap_uri hello)"
assert_code hello 2.05
assert_body hello "hello"
coap hello_world "$(coap_uri hello/world)"
assert_code hello_world 2.05
assert_body hello_world "hello, world"
coap wk "$(coap_uri .well-known/core)"
assert_contains "$TERN_TMP/wk.body" "</hello>" "/hello is listed"
tern_stop
tern_note PASS
