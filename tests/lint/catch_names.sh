#!/usr/bin/env bash
# Catch2 test names that ctest would register wrong, so the test silently runs nothing (or
# something else) and "passes". Catch2 2.13's catch_discover_tests (CatchAddTests.cmake) turns
# the output of --list-test-names-only into a CMake list and hands each name back to the binary
# as a test spec; these names break on the way:
#   ';'                 is CMake's list separator: the name is cut in two, neither half matches;
#   '\'                 is the test spec's escape character: the spec no longer equals the name,
#                       and a trailing one also glues the next name on (other escape sequences
#                       than \" are refused too: a newline would split the listing);
#   unequal '[' / ']'   CMake does not split a list inside square brackets: the name swallows
#                       the names after it until the brackets balance;
#   leading '~' or 'exclude:'  the spec negates (case-sensitive 'exclude:'): ctest runs every
#                       other test instead;
#   leading or trailing '*'    the spec is a wildcard: it matches other tests too.
#
# usage: catch_names.sh [file or directory ...]
#   Without arguments: kernel sdk tests tools libs plugins of $TERN_SOURCE_DIR (or the
#   repository this script sits in). Prints file:line: "name": why, for every offender; exit 1
#   when there is one, 0 when none, 2 on bad usage.
set -u

src=${TERN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
if (($# == 0)); then
  cd "$src" || exit 2
  set -- kernel sdk tests tools libs plugins
fi

# Every Catch2 v2 macro that declares a test case; the name is its first string literal
# (TEST_CASE_METHOD and friends take the fixture first).
macro_re='^[[:space:]]*(TEST_CASE[A-Z_]*|SCENARIO[A-Z_]*|TEMPLATE_[A-Z_]*TEST_CASE[A-Z_]*)[[:space:]]*\('
literal_re='^[^")]*"(([^"\\]|\\.)*)"'

offenders=0
report() { # file line name why
  printf '%s:%s: "%s": %s\n' "$1" "$2" "$3" "$4"
  offenders=$((offenders + 1))
}

check() { # file line
  local file=$1 line=$2 text rest raw name n
  # The name may start on a following line (a wrapped call) and may be several adjacent
  # literals: read a few lines joined.
  text=$(sed -n "${line},$((line + 3))p" "$file" | tr '\n' ' ')
  text=${text#*(}
  if ! [[ $text =~ $literal_re ]]; then
    report "$file" "$line" "?" "no string literal name within 4 lines; write the name as a literal so this check can read it"
    return
  fi
  raw=${BASH_REMATCH[1]}
  rest=${text:${#BASH_REMATCH[0]}}
  while [[ $rest =~ ^[[:space:]]*\"(([^\"\\]|\\.)*)\" ]]; do
    raw+=${BASH_REMATCH[1]}
    rest=${rest:${#BASH_REMATCH[0]}}
  done
  name=${raw//\\\"/\"}

  if [[ $name == *";"* ]]; then
    report "$file" "$line" "$name" "contains ';': ctest splits the name there and runs nothing; use ',' or ' -'"
  fi
  if [[ $name == *"\\"* ]]; then
    report "$file" "$line" "$name" "contains '\\' or an escape sequence: Catch2's test spec reads '\\' as an escape, so the registered spec matches nothing"
  fi
  n=${name//[^\[]/}
  local opens=${#n}
  n=${name//[^\]]/}
  if ((opens != ${#n})); then
    report "$file" "$line" "$name" "unequal '[' and ']': CMake joins this name with the following ones"
  fi
  if [[ $name == "~"* || $name == "exclude:"* ]]; then
    report "$file" "$line" "$name" "starts with '~' or 'exclude:': the test spec excludes it and runs all others"
  fi
  if [[ $name == "*"* || $name == *"*" ]]; then
    report "$file" "$line" "$name" "starts or ends with '*': the test spec is a wildcard and matches other tests"
  fi
}

files=0
while IFS=: read -r file line _; do
  [[ -n $file ]] || continue
  files=1
  check "$file" "$line"
done < <(grep -rnHE --include='*.cpp' --include='*.cc' --include='*.cxx' --include='*.hpp' \
           --include='*.h' --include='*.ipp' --exclude-dir=node_modules "$macro_re" "$@")

if ((offenders > 0)); then
  echo "catch_names: $offenders Catch2 test name(s) that ctest cannot run as registered" >&2
  exit 1
fi
if ((files == 0)); then
  echo "catch_names: no TEST_CASE found under: $*" >&2
  exit 2
fi
echo "catch_names: every Catch2 test name under $* survives catch_discover_tests"
