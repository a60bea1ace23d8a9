#!/usr/bin/env bash
# The repository stands alone: no file may point at a document that lives beside the checkout
# instead of inside it (a parent folder's "shared" tree, its absolute path, or its spec
# folder). A clone has none of them, so such a reference leaves the reader with nothing; the
# device contract is docs/device-api.md, say what you mean there or in the file itself.
#
# usage: outside_paths.sh [directory]
#   Default: $TERN_SOURCE_DIR (or the repository this script sits in). Every text file below
#   it is read except build trees (build*/ at the top), .git, node_modules and var/ (a
#   running server's files). Prints file:line: text for every hit; exit 1 when there is one.
set -u

src=${1:-${TERN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}}
cd "$src" || exit 2

# Written so that this file does not match itself: [.] and [s] are the characters themselves.
patterns=(
  -e '[.][.]/[s]hared'
  -e '/work/[s]hared'
  -e '[s]hared/spec'
)

hits=$(grep -rInE "${patterns[@]}" \
         --exclude-dir=.git --exclude-dir=node_modules --exclude-dir='build*' --exclude-dir=var \
         . 2>/dev/null | sed 's|^\./||')
# (--exclude-dir matches a folder name at any depth: a source folder named build or var
# below the top would be skipped too; there is none, and this keeps the check fast.)

if [ -n "$hits" ]; then
  printf '%s\n' "$hits"
  n=$(printf '%s\n' "$hits" | wc -l)
  printf 'lint.outside_paths: %s line(s) point outside the repository; say what is meant in the file, or point at docs/device-api.md (the device contract) or another file of this repository\n' "$n" >&2
  exit 1
fi
echo "lint.outside_paths: no file points outside the repository"
