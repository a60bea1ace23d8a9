#!/usr/bin/env bash
# Tern's developer entry point. On a fresh Debian 12 machine:
#   tools/dev.sh run     install what is missing, build, run the embedded default (foreground)
#   tools/dev.sh test    install what is missing, build, run every test (non-zero on failure)
#   tools/dev.sh build   install what is missing and build into build/
#   tools/dev.sh deps    only install the Debian packages and npm test peers
# Options come from the environment:
#   TERN_BUILD_DIR (default build), TERN_BUILD_TYPE (default RelWithDebInfo),
#   TERN_JOBS (default: number of cores), TERN_FUZZ_SECONDS (default 20; 0 skips fuzzing),
#   TERN_NO_INSTALL=1 (never call apt-get/npm; fail if something is missing).
# `run` passes extra arguments to `tern run` (e.g. --set plugins.udp.bind_port=15683).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
build=${TERN_BUILD_DIR:-build}
build_type=${TERN_BUILD_TYPE:-RelWithDebInfo}
jobs=${TERN_JOBS:-$(nproc 2>/dev/null || echo 2)}
fuzz_seconds=${TERN_FUZZ_SECONDS:-20}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'tools/dev.sh: %s\n' "$*" >&2; exit 1; }

# Debian 12 packages: what building needs, and what the tests add (real peers, clang for
# the ABI proof and the fuzzers).
build_packages=(
  g++ cmake ninja-build pkg-config git ca-certificates
  libboost1.81-dev libspdlog-dev libtomlplusplus-dev libcli11-dev catch2 rapidjson-dev
  libsqlite3-dev libwolfssl-dev libprotobuf-dev libprotoc-dev protobuf-compiler libnats-dev
  # the build's wolfSSL is built once per machine from the upstream tarball of Debian
  # unstable's source package (cmake/TernWolfSSL.cmake)
  autoconf automake libtool make debian-archive-keyring
)
test_packages=(
  libcoap3-bin openssl procps iproute2 sqlite3 nats-server curl
  clang-14 libc++-14-dev libc++abi-14-dev libclang-rt-14-dev
  # the protobuf walk checked against ThingsBoard's stack: protobuf-java's JSON printer and Gson
  openjdk-17-jdk-headless libprotobuf-java libgoogle-gson-java libguava-java
  # Mbed TLS's ssl_client2, built from trixie's upstream tarball (.tar.bz2) by the dtls_mbedtls
  # test (tests/support/build-mbedtls.sh, with cmake and gcc from above)
  bzip2
)

missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) to run: $*"; fi
}

install_packages() {
  local missing
  missing=$(missing_packages "$@")
  # node and npm may come from elsewhere (e.g. nodesource); only install Debian's when absent
  if [ "${want_node:-0}" = 1 ]; then
    command -v node >/dev/null || missing+=$'\n'nodejs
    command -v npm >/dev/null || missing+=$'\n'npm
  fi
  missing=$(echo "$missing" | grep -v '^$' || true)
  [ -z "$missing" ] && return 0
  [ "${TERN_NO_INSTALL:-0}" = 1 ] && die "missing packages (TERN_NO_INSTALL=1): $(echo $missing)"
  say "installing Debian packages: $(echo $missing)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  # shellcheck disable=SC2086
  as_root apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

configure() {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    say "configuring $dir"
    cmake -G Ninja -S . -B "$dir" -DCMAKE_BUILD_TYPE="$build_type" "$@" >/dev/null
  fi
}

do_build() {
  install_packages "${build_packages[@]}"
  configure "$build"
  say "building ($jobs jobs)"
  ninja -C "$build" -j "$jobs"
}

npm_peers() {
  local d
  for d in tests/interop; do
    [ -f "$d/package-lock.json" ] || continue
    if [ ! -d "$d/node_modules" ] || [ "$d/package-lock.json" -nt "$d/node_modules" ]; then
      [ "${TERN_NO_INSTALL:-0}" = 1 ] && die "npm test peers missing in $d (TERN_NO_INSTALL=1)"
      say "installing npm test peers in $d"
      # Trust the system's CA bundle too (machines behind a TLS-inspecting proxy add
      # their CA there, and npm ignores it otherwise).
      if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
        export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
      fi
      (cd "$d" && npm ci --no-audit --no-fund --loglevel=error) && touch "$d/node_modules"
    fi
  done
}

build_fuzzers() {
  # libFuzzer needs clang; the fuzz targets build in their own tree, only what they need.
  [ "$fuzz_seconds" = 0 ] && return 0
  local dir="$build/fuzz"
  configure "$dir" -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
    -DTERN_FUZZ=ON -DTERN_FUZZ_SECONDS="$fuzz_seconds"
  local targets
  # (not CMake's own cmake_object_order_depends_target_* phony targets, which end the same way)
  targets=$(ninja -C "$dir" -t targets all 2>/dev/null | sed -n 's/^\([a-z_]*_fuzz\): .*/\1/p' | sed '/^cmake_/d' | sort -u)
  if [ -n "$targets" ]; then
    say "building fuzz targets: $(echo $targets)"
    # shellcheck disable=SC2086
    ninja -C "$dir" -j "$jobs" $targets
  fi
}

cmd=${1:-help}
[ $# -gt 0 ] && shift
case "$cmd" in
  deps)
    want_node=1 install_packages "${build_packages[@]}" "${test_packages[@]}"
    npm_peers
    ;;
  build)
    do_build
    ;;
  run)
    do_build
    mkdir -p var
    say "starting tern (Ctrl-C stops it)"
    exec "$build/bin/tern" run --config config/tern.toml "$@"
    ;;
  test)
    want_node=1 install_packages "${build_packages[@]}" "${test_packages[@]}"
    npm_peers
    do_build
    build_fuzzers
    say "running tests"
    status=0
    ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 600 "$@" || status=$?
    if [ "$fuzz_seconds" != 0 ] && [ -d "$build/fuzz" ]; then
      say "running bounded fuzzing (${fuzz_seconds}s a target)"
      ctest --test-dir "$build/fuzz" --output-on-failure -R '_fuzz_bounded$' --timeout 600 || status=$?
    fi
    [ $status -eq 0 ] && say "all tests passed" || say "tests FAILED"
    exit $status
    ;;
  help|-h|--help)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  *)
    die "unknown command '$cmd' (try: run, test, build, deps)"
    ;;
esac
