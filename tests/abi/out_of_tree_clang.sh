#!/usr/bin/env bash
# The proof the stable ABI exists for: a vendor installs the SDK, builds a plugin OUT OF
# TREE with a different compiler and C++ library (clang + libc++), and the kernel (gcc +
# libstdc++) loads it and serves requests through it, next to gcc-built plugins.
#
#   1. install the SDK alone (sdk/ configures on its own) into a scratch prefix
#   2. build sdk/examples/hello_resource against it with clang++ -stdlib=libc++,
#      and the `throws` fixture the same way (exceptions inside a libc++ plugin)
#   3. ldd: libc++, no libstdc++; one exported symbol
#   4. tern plugins inspect: name, ABI 1.0, a build string naming clang and libc++
#   5. run it in the kernel with the gcc-built fake engine and driver (run_hello_resource.sh)
#   6. its exceptions stay inside it: create() and start() failures come back as messages
#
# usage: out_of_tree_clang.sh <repo> <tern> <fixture plugin dir> <work dir>
source "$(dirname "$0")/lib.sh"
repo=${1:?usage: out_of_tree_clang.sh <repo> <tern> <plugin dir> <work dir>}
export TERN=$2 PLUGINS=$3
work=$4
cxx=${TERN_OOT_CXX:-clang++-14}
command -v "$cxx" >/dev/null || fail "$cxx not found (Debian: apt-get install clang-14 libc++-14-dev libc++abi-14-dev)"
rm -rf "$work" && mkdir -p "$work"
export WORK=$work

step() { printf '== %s\n' "$*"; }
quiet() { # <log> <command...>: runs quietly, shows the log on failure
    local log=$1
    shift
    if ! "$@" >"$log" 2>&1; then
        show "$log"
        fail "$*"
    fi
}

step "install the SDK from $repo/sdk into $work/sdk"
quiet "$work/sdk-configure.log" cmake -S "$repo/sdk" -B "$work/sdk-build" -DCMAKE_INSTALL_PREFIX="$work/sdk"
quiet "$work/sdk-install.log" cmake --install "$work/sdk-build"

# What a vendor types (sdk/examples/hello_resource/README.md), with their own compiler.
build_plugin() { # <name> <source dir>
    local name=$1 src=$2
    step "build $name out of tree with $cxx -stdlib=libc++"
    quiet "$work/$name-configure.log" env CXX="$cxx" CXXFLAGS="-stdlib=libc++ -Wall -Wextra -Werror" \
        cmake -S "$src" -B "$work/$name-build" -DCMAKE_PREFIX_PATH="$work/sdk" -DCMAKE_BUILD_TYPE=RelWithDebInfo
    quiet "$work/$name-build.log" cmake --build "$work/$name-build"
    [ -f "$work/$name-build/libtern-$name.so" ] || fail "no libtern-$name.so in $work/$name-build"
}

build_plugin hello_resource "$repo/sdk/examples/hello_resource"
# The `throws` fixture as an out-of-tree project of its own: one source, two lines of CMake.
mkdir -p "$work/throws-src"
cp "$repo/tests/abi/fixtures/throws.cpp" "$work/throws-src/"
cat >"$work/throws-src/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(throws LANGUAGES CXX)
find_package(TernSDK 1.0 REQUIRED)
tern_add_plugin(throws SOURCES throws.cpp)
CMAKE
build_plugin throws "$work/throws-src"

hello=$work/hello_resource-build/libtern-hello_resource.so
throws=$work/throws-build/libtern-throws.so

for lib in "$hello" "$throws"; do
    step "ldd $(basename "$lib"): libc++, not libstdc++"
    ldd "$lib" >"$work/ldd.txt"
    grep -q 'libc++\.so' "$work/ldd.txt" || { show "$work/ldd.txt"; fail "$lib does not link libc++"; }
    if grep -q 'libstdc++' "$work/ldd.txt"; then show "$work/ldd.txt"; fail "$lib links libstdc++"; fi
done
"$here/exports.sh" "$hello" "$throws"

step "tern plugins inspect $hello"
run_capture 20 "$work/inspect.txt" "$TERN" plugins inspect "$hello"
expect_rc 0 "$work/inspect.txt" "tern plugins inspect"
cat "$work/inspect.txt"
expect_text "$work/inspect.txt" hello_resource 1.0.0 "1.0" clang libc++ tern.coap.engine/1 greeting max_name_length

step "run it in the gcc kernel, beside gcc-built plugins"
"$here/run_hello_resource.sh" "$hello" clang-libcxx

step "exceptions thrown inside the libc++ plugin come back as messages"
dir=$(fresh_dir oot-throws)
for where in create start; do
    {
        kernel_table "$PLUGINS"
        cat <<TOML

[plugins.thrower]
plugin = "throws"
file = "$throws"
throw_in = "$where"
TOML
    } >"$dir/manifest.toml"
    run_capture 30 "$dir/$where.txt" "$TERN" run --config "$dir/manifest.toml"
    expect_rc 1 "$dir/$where.txt" "tern run with the clang-built throws ($where)"
done
expect_text "$dir/create.txt" "plugin instance 'thrower' could not be created: thrown from create() on purpose"
expect_text "$dir/start.txt" "plugin instance 'thrower' failed to start: thrown from start() on purpose"

echo "ok: a clang + libc++ plugin built out of tree against the installed SDK runs in the gcc kernel"
