#!/usr/bin/env bash
# Smoke test of tools/bench/flood.sh: its --quick mode (a few seconds, tiny rates, loopback)
# runs end to end against a real tern and prints the quiet/flood table, the p99 ratios, the
# victims' failures and what the flood sent. It checks that the benchmark works, not the
# numbers it measures (those need the full run, docs/benchmarks.md).
#   flood_smoke_test.sh BUILD_DIR
set -u -o pipefail
build=${1:?usage: flood_smoke_test.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
fail() { echo "FAIL: $*" >&2; cat "$out" >&2; exit 1; }

timeout 40 bash "$here/flood.sh" --quick --build "$build" >"$out" 2>&1
rc=$?
[ "$rc" -eq 0 ] || fail "flood.sh --quick exited $rc"

grep -qF '| phase | victim request | p50 µs | p99 µs | max µs | ok/sent | failures | detail |' "$out" || fail "no table header"
for row in '| quiet | telemetry POST |' '| quiet | attributes GET |' '| flood | telemetry POST |' '| flood | attributes GET |' \
    '| after | telemetry POST |' '| after | attributes GET |'; do
    line=$(grep -F -- "$row" "$out") || fail "no row '$row'"
    # ok/sent: every victim request was sent (a measured window of requests), and answered.
    sent=$(awk -F'|' '{ split($7, a, "/"); gsub(/ /, "", a[2]); print a[2] }' <<<"$line")
    [ "${sent:-0}" -gt 0 ] 2>/dev/null || fail "row '$row' sent nothing"
done
grep -qE '^p99\(flood\) / p99\(quiet\): telemetry [0-9.]+, attributes [0-9.]+' "$out" || fail "no p99 ratio line"
grep -qE '^Victim failures under the flood: [0-9]+' "$out" || fail "no failure count"
grep -qE '^Flood: [1-9][0-9]* datagrams' "$out" || fail "the flood sent nothing"
grep -qE 'from [1-9][0-9]* distinct \(address, port\) pairs' "$out" || fail "no source pairs reported"
grep -qE '^Answers the flood got: .*4\.04: [1-9]' "$out" || fail "the server answered no flood request (4.04 for unknown paths expected)"
grep -qF 'tern alive at the end: yes' "$out" || fail "tern did not survive the flood"
echo "PASS: flood.sh --quick printed the table"
sed -n '/^| phase/,/^Target/p' "$out"
