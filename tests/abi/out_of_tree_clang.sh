#!/usr/bin/env bash
# The proof the stable ABI exists for: a vendor installs the SDK, builds a plugin OUT OF
# TREE with a different compiler and C++ library (clang + libc++), and the kernel (gcc +
# libstdc++) loads it and serves requests through it, next to gcc-built plugins.
#
#   1. install the SDK alone (sdk/ configures on its own) into a scratch prefix
#   2. build sdk/examples/hello_resource against it with clang++ -stdlib=libc++ -Werror,
#      and the `throws` fixture the same way (exceptions inside a libc++ plugin)
#   3. ldd: libc++, not libstdc++; one exported symbol; the example's own test
#      (tern/sdk/testing.hpp) passes with that toolchain
#   4. tern plugins inspect: name, ABI 1.2 (the SDK's), a build string naming clang and libc++
#   5. run it in the kernel with the gcc-built fake engine and driver (run_hello_resource.sh)
#   6. its exceptions stay inside it: create() and start() failures come back as messages
#   7. with "with-engine" (when the build has the udp and coap plugins): served by the real
#      engine to coap-client: GET, GET with a name, Observe, PUT and its notification
#
# usage: out_of_tree_clang.sh <repo> <tern executable> <build dir> <work dir> [with-engine]
set -u
repo=${1:?usage: out_of_tree_clang.sh <repo> <tern> <build dir> <work dir>}
export TERN_SOURCE_DIR=$repo TERN_BIN=${2:?} TERN_BUILD_DIR=${3:?}
work=${4:?}
with_engine=${5:-}
source "$repo/tests/abi/lib.sh"
TERN_TEST_NAME=abi.out_of_tree_clang_libcxx
tern_init
cxx=${TERN_OOT_CXX:-clang++-14}
command -v "$cxx" >/dev/null || fail "$cxx not found (Debian: clang-14 libc++-14-dev libc++abi-14-dev)"
rm -rf "$work" && mkdir -p "$work"

step() { tern_note "$*"; }
quiet() { # <log> <command...>: runs quietly; on failure shows the log
    local log=$1
    shift
    "$@" >"$log" 2>&1 || { show_file "$log" >&2; fail "$*"; }
}

step "install the SDK from $repo/sdk into $work/sdk"
quiet "$work/sdk-configure.log" cmake -G Ninja -S "$repo/sdk" -B "$work/sdk-build" -DCMAKE_INSTALL_PREFIX="$work/sdk"
quiet "$work/sdk-install.log" cmake --install "$work/sdk-build"

# What a vendor types (sdk/examples/hello_resource/README.md), with their own compiler.
build_plugin() { # <name> <source dir>
    local name=$1 src=$2
    step "build $name out of tree with $cxx -stdlib=libc++"
    quiet "$work/$name-configure.log" env CXX="$cxx" CXXFLAGS="-stdlib=libc++ -Wall -Wextra -Werror" \
        cmake -G Ninja -S "$src" -B "$work/$name-build" -DCMAKE_PREFIX_PATH="$work/sdk" -DCMAKE_BUILD_TYPE=RelWithDebInfo
    quiet "$work/$name-build.log" cmake --build "$work/$name-build"
    [ -f "$work/$name-build/libtern-$name.so" ] || fail "no libtern-$name.so in $work/$name-build"
}

build_plugin hello_resource "$repo/sdk/examples/hello_resource"
# The `throws` fixture as an out-of-tree project of its own: one source, four lines of CMake.
mkdir -p "$work/throws-src"
cp "$ABI_DIR/fixtures/throws.cpp" "$work/throws-src/"
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
    assert_match "$work/ldd.txt" 'libc\+\+\.so' "$lib should link libc++"
    assert_not_contains "$work/ldd.txt" "libstdc++" "$lib should not link libstdc++"
done
"$ABI_DIR/exports.sh" "$hello" "$throws" || fail "an out-of-tree plugin exports more than its entry"

# The example's own test (tern/sdk/testing.hpp's fake host), built with the same clang +
# libc++ as the plugin: the SDK's test support works for a vendor's toolchain too.
step "run hello_resource_test (clang + libc++, the SDK's fake host)"
quiet "$work/hello_resource-test.log" "$work/hello_resource-build/hello_resource_test"

step "tern plugins inspect $hello"
out=$work/inspect.txt
timeout 30 "$TERN_BIN" plugins inspect "$hello" >"$out" 2>&1 || { show_file "$out" >&2; fail "tern plugins inspect failed"; }
cat "$out"
assert_match "$out" '^name: +hello_resource$' "the plugin's name"
assert_match "$out" '^abi: +1\.2 ' "built for ABI 1.2"
assert_match "$out" '^build: +clang [0-9.]+, libc\+\+ ' "the build string should name clang and libc++"
for text in tern.coap.engine/1 greeting max_name_length; do
    assert_contains "$out" "$text" "tern plugins inspect should show '$text'"
done

step "run it in the gcc kernel, beside gcc-built plugins"
"$ABI_DIR/run_hello_resource.sh" "$hello" clang-libcxx || fail "the clang-built hello_resource did not answer right"

step "exceptions thrown inside the libc++ plugin come back as messages"
for where in create start; do
    manifest=$(abi_manifest "throws-$where" <<TOML
[plugins.thrower]
plugin = "throws"
file = "$throws"
throw_in = "$where"
TOML
)
    refused "$TERN_TMP/$where.txt" run --config "$manifest"
done
says "$TERN_TMP/create.txt" "plugin instance 'thrower' could not be created: " "thrown from create() on purpose"
says "$TERN_TMP/start.txt" "plugin instance 'thrower' failed to start: " "thrown from start() on purpose"

if [ "$with_engine" = with-engine ]; then
    step "served by the real engine (udp + coap, gcc-built) to coap-client"
    source "$TERN_SOURCE_DIR/tests/lib/coap_client.sh"
    TERN_LOG_LEVEL=debug tern_start <<TOML
[plugins.udp]
bind_address = "127.0.0.1"

[plugins.coap]

[plugins.hello_resource]
file = "$hello"
TOML
    coap get "$(coap_uri hello)"
    assert_code get 2.05
    assert_body get "hello"
    coap get_name "$(coap_uri hello/world)"
    assert_body get_name "hello, world"
    # Observe in the background; PUT once the relation exists; the observer hears it.
    coap observe -s 4 -B 8 "$(coap_uri hello)" &
    observer=$!
    wait_until 10 grep -q "observation .* registered" "$TERN_LOG" || fail "the Observe registration never arrived"
    coap put -m put -t text/plain -e hi "$(coap_uri hello)"
    assert_code put 2.04
    wait "$observer"
    assert_match "$TERN_TMP/observe.out" "^v:1 t:[A-Z]+ c:2\.05 .*Observe:.* :: 'hi'" "the observer should be notified of the PUT"
    coap get_name_again "$(coap_uri hello/world)"
    assert_body get_name_again "hi, world"
    tern_stop
fi

tern_note "PASS: a clang + libc++ plugin built out of tree against the installed SDK runs in the gcc kernel"
