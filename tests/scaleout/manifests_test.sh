#!/usr/bin/env bash
# The shipped scale-out manifests, config/core-node.toml and config/transport-node.toml, pass
# `tern check` as they are (skips without the core_nats and nats_bridge plugins, unless the
# build has their targets: then their absence is a failure).
set -u
source "$TERN_SOURCE_DIR/tests/scaleout/cluster.sh"
cl_init
for m in core-node transport-node; do
    (cd "$TERN_SOURCE_DIR" && timeout 20 "$TERN_BIN" check --config "config/$m.toml" \
        --set "kernel.plugin_path=[\"$TERN_BUILD_DIR/plugins\"]") >"$TERN_TMP/$m.check" 2>&1 ||
        { show_file "$TERN_TMP/$m.check" >&2; fail "tern check --config config/$m.toml failed"; }
    tern_note "config/$m.toml: $(cat "$TERN_TMP/$m.check")"
done
tern_note PASS
