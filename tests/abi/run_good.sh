#!/usr/bin/env bash
# Old and new plugins of ABI major 1 run in this kernel:
#   good_1_0 -- built from the frozen 1.0 headers (tests/abi/frozen/1.0), raw ABI, no SDK
#               face -- calls every kind of host service and reports what it saw;
#   good_1_1 -- from a future 1.1 SDK (bigger descriptor, abi_minor 1) -- loads, because
#               the major matches and the interfaces it needs are there.
# usage: run_good.sh    (environment: TERN PLUGINS WORK, see lib.sh)
source "$(dirname "$0")/lib.sh"
need_env TERN PLUGINS WORK
dir=$(fresh_dir run-good)

run_capture 20 "$dir/inspect-1.0.txt" "$TERN" plugins inspect "$PLUGINS/libtern-good_1_0.so"
expect_rc 0 "$dir/inspect-1.0.txt" "tern plugins inspect libtern-good_1_0.so"
expect_text "$dir/inspect-1.0.txt" good_1_0 1.0 "frozen ABI 1.0 headers"

run_capture 20 "$dir/inspect-1.1.txt" "$TERN" plugins inspect "$PLUGINS/libtern-good_1_1.so"
expect_rc 0 "$dir/inspect-1.1.txt" "tern plugins inspect libtern-good_1_1.so"
expect_text "$dir/inspect-1.1.txt" good_1_1 1.1

{
    kernel_table "$PLUGINS"
    cat <<TOML

[plugins.old]
plugin = "good_1_0"
report = "$dir/report.txt"
number = 7
words = ["x", "y"]

[plugins.good_1_1]
TOML
} >"$dir/manifest.toml"

run_capture 30 "$dir/check.txt" "$TERN" check --config "$dir/manifest.toml"
expect_rc 0 "$dir/check.txt" "tern check of good_1_0 + good_1_1"

ready() { [ -e "$dir/report.txt" ] && grep -qF "good_1_1 started" "$dir/run.log"; }
run_until "$dir/manifest.toml" "$dir/run.log" ready
expect_text "$dir/run.log" "good_1_0 started" "good_1_1 started"
if ! diff -u "$here/testcases/good_1_0/expected.txt" "$dir/report.txt"; then
    show "$dir/run.log"
    fail "good_1_0 saw the host services differently (diff above: expected, then what it saw)"
fi
echo "ok: plugins of ABI 1.0 (frozen headers) and 1.1 (newer minor) run in this kernel"
