#!/usr/bin/env bash
# Tern's developer entry point. On a fresh Debian 12 machine:
#   tools/dev.sh run     install what is missing, build, run the embedded default (foreground)
#   tools/dev.sh test    install what is missing, build, run every test (non-zero on failure)
#   tools/dev.sh build   install what is missing and build into build/
#   tools/dev.sh deps    only install the Debian packages and npm test peers
#   tools/dev.sh cluster build, run nats-server, a core node and two transport nodes (foreground)
# Options come from the environment:
#   TERN_BUILD_DIR (default build), TERN_BUILD_TYPE (default RelWithDebInfo),
#   TERN_JOBS (default: number of cores), TERN_FUZZ_SECONDS (default 20; 0 skips fuzzing),
#   TERN_NO_INSTALL=1 (never call apt-get/npm; fail if something is missing),
#   TERN_NATS_PORT (default 4222: the port of the NATS server `cluster` starts).
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

# The scale-out set-up of docs/scale-out.md on one machine, in the foreground: nats-server
# with JetStream (port TERN_NATS_PORT, default 4222, store var/cluster/nats), a core node
# (config/core-node.toml: database, admin key and bridge state in var/core-node/) and two
# transport nodes t1 and t2 (config/transport-node.toml, UDP 5683 and 5693, metrics 9684 and
# 9685). Each line of output is prefixed with its process; var/cluster/<name>.log keeps it.
# Ctrl-C (or any process ending) stops them all: transport nodes, core node, nats-server.
cluster_pids=()
cluster_names=()
cluster_start() {
  local name=$1; shift
  "$@" > >(tee "var/cluster/$name.log" | sed -u "s/^/[$name] /") 2>&1 &
  cluster_pids+=($!)
  cluster_names+=("$name")
}
cluster_wait_for() {  # NAME TEXT: waits (at most 20 s) for TEXT in the log of NAME, the last started
  local i
  for i in $(seq 200); do
    grep -q "$2" "var/cluster/$1.log" 2>/dev/null && return 0
    kill -0 "${cluster_pids[-1]}" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
cluster_stop() {  # [EXIT STATUS]: stops every process, last started first, and exits
  trap - INT TERM
  local i rc=${1:-0}
  say "stopping the cluster"
  for ((i = ${#cluster_pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${cluster_pids[$i]}" 2>/dev/null || true
    wait "${cluster_pids[$i]}" 2>/dev/null || true
  done
  exit "$rc"
}
run_cluster() {
  local nats_port=${TERN_NATS_PORT:-4222} tern=$build/bin/tern
  local nats_bin
  nats_bin=$(command -v nats-server || echo /usr/sbin/nats-server)
  local url="[\"nats://127.0.0.1:$nats_port\"]"
  mkdir -p var/cluster/nats var/cluster/t1 var/cluster/t2
  trap cluster_stop INT TERM
  say "starting nats-server -js on 127.0.0.1:$nats_port (store var/cluster/nats)"
  cluster_start nats "$nats_bin" -js -a 127.0.0.1 -p "$nats_port" -sd var/cluster/nats
  cluster_wait_for nats 'Server is ready' || { say "nats-server did not start (port $nats_port taken? TERN_NATS_PORT)"; cluster_stop 1; }
  say "starting the core node (config/core-node.toml)"
  cluster_start core "$tern" run --config config/core-node.toml --set "plugins.nats_bridge.servers=$url"
  cluster_wait_for core 'tern ready' || { say "the core node did not start"; cluster_stop 1; }
  local n port metrics
  for n in 1 2; do
    port=$((5683 + 10 * (n - 1))); metrics=$((9683 + n))
    say "starting transport node t$n (config/transport-node.toml, UDP $port)"
    cluster_start "t$n" "$tern" run --config config/transport-node.toml --set "plugins.core_nats.servers=$url" \
      --set "plugins.core_nats.node_id=t$n" --set "plugins.udp.bind_port=$port" \
      --set "kernel.metrics_bind=127.0.0.1:$metrics" --set "plugins.core_nats.ota_cache_dir=var/cluster/t$n/ota-cache"
    cluster_wait_for "t$n" 'tern ready' || { say "transport node t$n did not start"; cluster_stop 1; }
  done
  say "cluster running (Ctrl-C stops it). In another terminal:"
  cat <<EOT
  $tern device add thermo-1 --token thermo-1-token-0001 --config config/core-node.toml
  coap-client-openssl -m post -t json -e '{"temperature":21.5}' coap://127.0.0.1:5683/api/v1/thermo-1-token-0001/telemetry  # via t1
  coap-client-openssl -m post -t json -e '{"temperature":22.5}' coap://127.0.0.1:5693/api/v1/thermo-1-token-0001/telemetry  # via t2
  $tern telemetry thermo-1 --since 1h --config config/core-node.toml
  (coap-client prints nothing for a 2.01; an error shows its code and reason, e.g. "4.01 unknown access token",
  "5.03 ..." while NATS or the core node is away; -v 7 shows every message)
  metrics: core http://127.0.0.1:9680/metrics, t1 http://127.0.0.1:9684/metrics, t2 http://127.0.0.1:9685/metrics
EOT
  # any process ending ends the cluster
  wait -n "${cluster_pids[@]}" 2>/dev/null || true
  say "a process of the cluster ended"
  cluster_stop 1
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
  cluster)
    install_packages "${build_packages[@]}" nats-server libcoap3-bin
    do_build
    run_cluster
    ;;
  help|-h|--help)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  *)
    die "unknown command '$cmd' (try: run, test, build, deps, cluster)"
    ;;
esac
