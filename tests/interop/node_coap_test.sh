#!/usr/bin/env bash
# The npm coap package (1.5.0, pinned in package-lock.json) as a second client: methods,
# Block2, Block1, Observe with deregistration (node_client.mjs).
set -u
source "$TERN_SOURCE_DIR/tests/interop/interop.sh"
tern_init
command -v node >/dev/null || fail "node is required (Debian package nodejs)"
[ -d "$INTEROP_DIR/node_modules/coap" ] ||
    fail "npm coap is not installed in $INTEROP_DIR/node_modules: run tools/dev.sh deps (or: cd tests/interop && npm ci)"
start_plugtest --set plugins.plugtest.obs_period=300

timeout 90 node "$INTEROP_DIR/node_client.mjs" "$TERN_UDP_PORT" >"$TERN_TMP/node.out" 2>&1
rc=$?
cat "$TERN_TMP/node.out"
[ $rc -eq 0 ] || fail "node client failed (exit $rc)"
wait_until 5 grep -q "ended, reason 1 (deregistered)" "$TERN_LOG" ||
    fail "the node client's deregistration (GET Observe=1) did not end the observation"
tern_stop
tern_note PASS
