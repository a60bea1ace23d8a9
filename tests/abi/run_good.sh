#!/usr/bin/env bash
# Old and new plugins of ABI major 1 run in this kernel:
#   good_1_0 -- built from the frozen 1.0 headers (tests/abi/frozen/1.0), raw ABI, no SDK
#               face -- calls every kind of host service and reports what it saw;
#   good_1_1 -- from a future SDK (bigger descriptor, abi_minor above the kernel's) -- loads,
#               because the major matches and the interfaces it needs are there.
# usage: run_good.sh    (environment: see lib.sh)
source "$(dirname "$0")/lib.sh"
TERN_TEST_NAME=abi.runs.good_1_0_and_good_1_1
tern_init

out=$TERN_TMP/inspect.txt
timeout 30 "$TERN_BIN" plugins inspect "$ABI_PLUGINS/libtern-good_1_0.so" >"$out" 2>&1 ||
    { show_file "$out" >&2; fail "tern plugins inspect libtern-good_1_0.so failed"; }
assert_contains "$out" good_1_0
assert_contains "$out" "frozen ABI 1.0 headers" "the build string should be shown"
timeout 30 "$TERN_BIN" plugins inspect "$ABI_PLUGINS/libtern-good_1_1.so" >"$out" 2>&1 ||
    { show_file "$out" >&2; fail "tern plugins inspect libtern-good_1_1.so failed"; }
assert_contains "$out" good_1_1
kernel_minor=$("$TERN_BIN" version | sed -n 's/^ABI 1\.\([0-9]*\)$/\1/p')
assert_contains "$out" "1.$((kernel_minor + 1))" "the plugin's newer ABI minor should be shown"

tern_start <<TOML
[plugins.old]
plugin = "good_1_0"
report = "$TERN_TMP/report.txt"
number = 7
words = ["x", "y"]

[plugins.good_1_1]
TOML
wait_until 20 test -e "$TERN_TMP/report.txt" || fail "good_1_0 wrote no report within 20s"
tern_stop
assert_contains "$TERN_TMP/report.txt.destroyed" "stopped, then destroyed" "the kernel should stop, then destroy good_1_0"
assert_contains "$TERN_LOG" "good_1_0 started"
assert_contains "$TERN_LOG" "good_1_1 started"
diff -u "$ABI_DIR/testcases/good_1_0/expected.txt" "$TERN_TMP/report.txt" ||
    fail "good_1_0 saw the host services differently (diff above: expected, then what it saw)"
tern_note "PASS: plugins of ABI 1.0 (frozen headers) and of a newer minor run in this kernel"
