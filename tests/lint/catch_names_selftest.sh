#!/usr/bin/env bash
# catch_names.sh must name every "bad" line of fixtures/catch_names.cpp.in and no "good" one,
# so a broken lint cannot pass the tree silently.
set -u
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cp "$here/fixtures/catch_names.cpp.in" "$tmp/names_test.cpp"

out=$(cd "$tmp" && bash "$here/catch_names.sh" names_test.cpp 2>&1)
rc=$?
printf '%s\n' "$out"
fail=0
if ((rc != 1)); then
  echo "FAIL: exit status $rc, expected 1" >&2
  fail=1
fi
n=0
while IFS= read -r text; do
  n=$((n + 1))
  case $text in
    *"// bad")
      if ! grep -q "^names_test.cpp:$n: " <<<"$out"; then
        echo "FAIL: line $n not reported: $text" >&2
        fail=1
      fi ;;
    *"// good")
      if grep -q "^names_test.cpp:$n: " <<<"$out"; then
        echo "FAIL: line $n reported but fine: $text" >&2
        fail=1
      fi ;;
  esac
done <"$tmp/names_test.cpp"
if ((fail == 0)); then echo "catch_names_selftest: every bad fixture line reported, no good one"; fi
exit $fail
