#!/usr/bin/env bash
# Compiles the ABI headers the way plugin authors will: the C ones as strict C11, every
# header (abi/*.h, sdk/*.hpp) as strict C++20, each alone (self-contained) and all
# together, with -Werror so that no vendor's warning flags trip on our headers.
# usage: header_compile.sh <include dir> <work dir> <cc> <c++> [extra C++ flags, e.g. -stdlib=libc++]
set -euo pipefail
inc=$1 work=$2 cc=$3 cxx=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
for c in "$cc" "$cxx"; do
    command -v "$c" >/dev/null ||
        { echo "FAIL: compiler '$c' not found (Debian: gcc g++ clang-14 libc++-14-dev libc++abi-14-dev)"; exit 1; }
done
rm -rf "$work" && mkdir -p "$work"

c_headers=(version.h status.h types.h plugin.h)
cflags=(-std=c11 -Wall -Wextra -pedantic -Werror -fsyntax-only -I "$inc")
cxxflags=(-std=c++20 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -I "$inc" "$@")
failed=0
compile() { # <label> <compiler> <flags...> -- <file>
    local label=$1; shift
    if ! out=$("$@" 2>&1); then
        echo "FAIL: $label"
        echo "$out"
        failed=1
    fi
}

compile "header_compile.c as C11 ($cc)" "$cc" "${cflags[@]}" "$here/header_compile.c"
for h in "${c_headers[@]}"; do
    # (the typedef: ISO C forbids an empty translation unit, and version.h is only macros)
    printf '#include "tern/abi/%s"\ntypedef int tern_not_empty;\n' "$h" >"$work/c_$h.c"
    compile "tern/abi/$h alone as C11 ($cc)" "$cc" "${cflags[@]}" "$work/c_$h.c"
done

all="$work/all.cpp"
: >"$all"
for h in "$inc"/tern/abi/*.h "$inc"/tern/sdk/*.hpp; do
    [ -e "$h" ] || continue
    rel=${h#"$inc"/}
    printf '#include "%s"\n' "$rel" >>"$all"
    one="$work/cxx_$(basename "$h").cpp"
    printf '#include "%s"\n' "$rel" >"$one"
    compile "$rel alone as C++20 ($cxx $*)" "$cxx" "${cxxflags[@]}" "$one"
done
compile "all headers together as C++20 ($cxx $*)" "$cxx" "${cxxflags[@]}" "$all"
# And in the other order, so no header leans on one included before it.
tac "$all" >"$work/all_reversed.cpp"
compile "all headers, reversed, as C++20 ($cxx $*)" "$cxx" "${cxxflags[@]}" "$work/all_reversed.cpp"

[ $failed = 0 ] && echo "headers in $inc compile cleanly with $cc and $cxx $*"
exit $failed
