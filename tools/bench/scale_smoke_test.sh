#!/usr/bin/env bash
# Smoke test of tools/bench/scale.sh at a tiny scale: 300 plain devices with two relations
# each and 100 DTLS sessions, a second of quiet, two sample devices. It checks that the
# benchmark runs end to end against a real tern (import, restart, hold, breakdown, downlinks,
# DTLS hold) and prints its tables, not the figures (those need the full run,
# docs/benchmarks.md "A million devices on one node").
#   scale_smoke_test.sh BUILD_DIR
set -u -o pipefail
build=${1:?usage: scale_smoke_test.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
fail() { echo "FAIL: $*" >&2; cat "$out" >&2; exit 1; }
for f in bin/tern bin/tern-bench bin/dtls-bench plugins/libtern-dtls.so plugins/libtern-core_embedded.so; do
  [ -e "$build/$f" ] || { echo "SKIP: $build/$f is not built"; exit 77; }
done

timeout 150 bash "$here/scale.sh" --build "$build" --devices 300 --dtls 100 --idle 1 --dtls-settle 1 \
  --sample 2 --rate 2000 --dtls-rate 200 >"$out" 2>&1
rc=$?
[ "$rc" -eq 0 ] || fail "scale.sh exited $rc"

row=$(grep -E '^\| 300 \| ' "$out") || fail "no plain row for 300 devices"
# the last column: downlinks that took over a second or never came
late=$(awk -F'|' '{ gsub(/ /, "", $10); print $10 }' <<<"$row")
[ "$late" = 0 ] || fail "$late sample downlinks were late or missing: $row"
grep -qE '^\| 100 \| ' "$out" || fail "no DTLS row for 100 sessions"
grep -qF '#### Plain UDP, 300 idle devices with two relations each' "$out" || fail "no plain breakdown"
grep -qE '^\| coap \| peers \| [0-9]+ \| [0-9]+ \|' "$out" || fail "no coap peers row in the breakdown"
grep -qE '^\| device_api \| device_states \| [0-9]+ \|' "$out" || fail "no device_api row in the breakdown"
grep -qE '^\| dtls \| sessions \| [0-9]+ \|' "$out" || fail "no dtls row in the breakdown"
grep -qE '^\| process \| resident \(VmRSS\) \| [0-9]+ \|' "$out" || fail "no resident size row"
echo "PASS: scale.sh printed its tables"
sed -n '/^| idle plain/,/^$/p' "$out"
