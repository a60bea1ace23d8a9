#!/usr/bin/env bash
# The shipped scale-out manifests, config/core-node.toml and config/transport-node.toml, pass
# `tern check` as they are, and the tables they state in full ([plugins.nats_bridge],
# [plugins.core_nats]) say what the plugins' schemas say: every key, its default, and its
# description on the line above (tests/docs/manifest_defaults_test.sh run on that table).
# Skips without the core_nats and nats_bridge plugins, unless the build has their targets
# (then their absence is a failure).
set -u
source "$TERN_SOURCE_DIR/tests/scaleout/cluster.sh"
cl_init
for m in core-node:nats_bridge transport-node:core_nats; do
    file=config/${m%%:*}.toml plugin=${m#*:}
    (cd "$TERN_SOURCE_DIR" && timeout 20 "$TERN_BIN" check --config "$file" \
        --set "kernel.plugin_path=[\"$TERN_BUILD_DIR/plugins\"]") >"$TERN_TMP/check.out" 2>&1 ||
        { show_file "$TERN_TMP/check.out" >&2; fail "tern check --config $file failed"; }
    tern_note "$file: $(cat "$TERN_TMP/check.out")"
    # the [plugins.PLUGIN] table alone (up to the next table), checked against the sample
    awk -v t="[plugins.$plugin]" '$0 == t { on = 1 } on && /^\[/ && $0 != t { on = 0 } on' \
        "$TERN_SOURCE_DIR/$file" >"$TERN_TMP/$plugin.toml"
    TERN_MANIFEST="$TERN_TMP/$plugin.toml" TERN_TEST_NAME="$TERN_TEST_NAME" \
        bash "$TERN_SOURCE_DIR/tests/docs/manifest_defaults_test.sh" >"$TERN_TMP/defaults.out" 2>&1 ||
        { cat "$TERN_TMP/defaults.out" >&2; fail "$file: [plugins.$plugin] differs from \`tern config sample $plugin\` (regenerate the table from it)"; }
    tern_note "$file: $(tail -n1 "$TERN_TMP/defaults.out")"
done
tern_note PASS
