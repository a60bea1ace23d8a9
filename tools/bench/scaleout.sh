#!/usr/bin/env bash
# Tern's scale-out benchmark (issue 15): durable telemetry through NATS JetStream, with one
# core node (config/core-node.toml: core_embedded + nats_bridge) and two transport nodes
# (config/transport-node.toml: udp, coap, device_api, ... + core_nats), beside the embedded
# default (config/tern.toml, one process) measured in the same run on the same machine.
#
#   tools/bench/scaleout.sh [--build DIR] [--devices N] [--clients N] [--concurrency K]
#                           [--duration S] [--warmup S] [--load PCT] [--low-rate R]
#                           [--pace-slack US]
#                           [--port P] [--nats-port P] [--keep DIR]
#
# It starts a nats-server -js (temporary store, a free loopback port unless --nats-port),
# the core node, the transport nodes t1 and t2 (UDP P+10 and P+20) and the embedded tern
# (UDP P, default 47683), every one on a temporary directory; creates the same N devices
# (tokens dev-0 ... dev-N-1, default 2000) in the embedded core and in the core node
# through their admin APIs; sends one message per device to each setup (not measured: the
# tokens are cached and the devices registered afterwards; device_api's per-source limit is
# off, all devices being 127.0.0.1); then, one after the other (200 sockets x 8 in flight by
# default, fewer than the devices, so that no device has two messages in flight):
#   1. embedded: telemetry flat out (closed loop) against the embedded tern;
#   2. cluster:  the same against the two transport nodes, the devices split between them
#                (tern-bench --target-ports: device i talks to t1 when i is even);
#   3. and 4.: both paced at --load % (default 50) of the lower of the two peaks, for the
#                latency of each at the same load;
#   5. and 6.: both paced at --low-rate msg/s (default 1000; 0 skips them), where neither is
#                short of CPU: the latency the NATS hop adds by itself.
# Every answer 2.01 means durable: SQLite committed (embedded), JetStream stored (cluster).
# Afterwards it waits (at most 100 s) for the core node to apply the stream, and checks that
# both databases hold every acknowledged value. Nothing is pinned: all processes and the
# load generator share the machine, so the numbers are ratios of one run, not capacities.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
build=$here/build
devices=2000
clients=200
concurrency=8
duration=10
warmup=3
load_pct=50
low_rate=1000
pace_slack=1000
port=47683
nats_port=
keep=

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
die() { echo "scaleout.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --build) build=${2:?--build needs a directory}; shift ;;
    --devices) devices=${2:?--devices needs a number}; shift ;;
    --clients) clients=${2:?--clients needs a number}; shift ;;
    --concurrency) concurrency=${2:?--concurrency needs a number}; shift ;;
    --duration) duration=${2:?--duration needs seconds}; shift ;;
    --warmup) warmup=${2:?--warmup needs seconds}; shift ;;
    --load) load_pct=${2:?--load needs a percentage}; shift ;;
    --low-rate) low_rate=${2:?--low-rate needs msg/s (0: skip)}; shift ;;
    --pace-slack) pace_slack=${2:?--pace-slack needs microseconds}; shift ;;
    --port) port=${2:?--port needs a number}; shift ;;
    --nats-port) nats_port=${2:?--nats-port needs a number}; shift ;;
    --keep) keep=${2:?--keep needs a directory}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

require_embedded_build "$build"
for p in protobuf power efento dtls core_nats nats_bridge; do
  [ -f "$build/plugins/libtern-$p.so" ] || die "missing $build/plugins/libtern-$p.so (build tern-plugin-$p)"
done
nats_bin=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$nats_bin" ] || die "nats-server is needed (apt-get install nats-server)"
[ "$devices" -ge 2 ] && [ "$clients" -ge 2 ] || die "--devices and --clients must be at least 2 (two transport nodes)"
[ $((clients % 2)) = 0 ] || die "--clients must be even, so that the devices split evenly over t1 and t2"

# A free loopback TCP port: nothing accepts a connection on it.
tcp_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ -z "$nats_port" ]; then
  for _ in $(seq 50); do
    nats_port=$((20000 + RANDOM % 20000))
    tcp_port_free "$nats_port" && break
  done
fi
tcp_port_free "$nats_port" || die "port $nats_port is taken (--nats-port)"
for _ in $(seq 50); do  # nats-server's monitoring port, for the stream's state at the end
  mon_port=$((20000 + RANDOM % 20000))
  [ "$mon_port" != "$nats_port" ] && tcp_port_free "$mon_port" && break
done

tmp=$(mktemp -d)
pids=()   # every process started here, in start order
names=()
commands=()
start() {  # NAME COMMAND...: runs it in the background, output in $tmp/NAME.log
  local name=$1; shift
  echo "== $name: $(shell_words "$@")" >&2
  commands+=("$name: \`$(shell_words "$@")\`")
  "$@" >"$tmp/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
}
pid_of() { local i; for i in "${!names[@]}"; do if [ "${names[$i]}" = "$1" ]; then echo "${pids[$i]}"; fi; done; }
stop_all() {  # in reverse start order: terns (bounded like stop_server), then nats-server
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    server_pid=${pids[$i]}
    stop_server
  done
  pids=()
  names=()
}
cleanup() {
  stop_all
  if [ -n "$keep" ]; then mkdir -p "$keep" && cp -r "$tmp"/. "$keep"/; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# Waits (at most 20 s) for FILE to exist and hold something, while process NAME lives.
wait_file() {
  local name=$1 file=$2 pid
  pid=$(pid_of "$name")
  for _ in $(seq 200); do
    [ -s "$file" ] && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/$name.log" >&2; die "$name exited"; }
    sleep 0.1
  done
  cat "$tmp/$name.log" >&2
  die "$name: no $file after 20 s"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# Every simulated device sends from 127.0.0.1: the per-source limit of unauthenticated work
# (device_api's source_rate, for tokens not yet cached) would answer most first requests 4.29.
quiet=(--set 'kernel.metrics_bind=""' --set 'kernel.log_level="warn"')
no_source_limit=(--set plugins.device_api.source_rate=0)
url="[\"nats://127.0.0.1:$nats_port\"]"
mkdir -p "$tmp/nats" "$tmp/embedded" "$tmp/core" "$tmp/t1" "$tmp/t2"

start nats "$nats_bin" -js -a 127.0.0.1 -p "$nats_port" -m "$mon_port" -sd "$tmp/nats"
for _ in $(seq 100); do grep -q 'Server is ready' "$tmp/nats.log" 2>/dev/null && break; sleep 0.1; done
grep -q 'Server is ready' "$tmp/nats.log" || { cat "$tmp/nats.log" >&2; die "nats-server did not start"; }

start core "$tern_bin" run --config "$here/config/core-node.toml" "${quiet[@]}" \
  --set "plugins.core_embedded.database=\"$tmp/core/tern.db\"" --set 'plugins.core_embedded.admin_bind="127.0.0.1:0"' \
  --set "plugins.nats_bridge.servers=$url" --set "plugins.nats_bridge.state_file=\"$tmp/core/nats_bridge.db\""
wait_file core "$tmp/core/tern.db.admin-key"
wait_file core "$tmp/core/tern.db.admin-addr"
for n in 1 2; do
  start "t$n" "$tern_bin" run --config "$here/config/transport-node.toml" "${quiet[@]}" "${no_source_limit[@]}" \
    --set 'plugins.udp.bind_address="127.0.0.1"' --set "plugins.udp.bind_port=$((port + 10 * n))" \
    --set "plugins.core_nats.servers=$url" --set "plugins.core_nats.node_id=\"t$n\"" \
    --set "plugins.core_nats.ota_cache_dir=\"$tmp/t$n/ota-cache\""
done
start embedded "$tern_bin" run --config "$here/config/tern.toml" "${quiet[@]}" "${no_source_limit[@]}" \
  --set 'plugins.udp.bind_address="127.0.0.1"' --set "plugins.udp.bind_port=$port" \
  --set "plugins.core_embedded.database=\"$tmp/embedded/tern.db\"" --set 'plugins.core_embedded.admin_bind="127.0.0.1:0"'
wait_file embedded "$tmp/embedded/tern.db.admin-key"
wait_file embedded "$tmp/embedded/tern.db.admin-addr"

create_devices "$tmp/embedded/tern.db" "$devices" "$tmp"
create_devices "$tmp/core/tern.db" "$devices" "$tmp"

# One telemetry message through each server, retried until it is answered 2.01 (a transport
# node answers 5.03 until it has read the uplink partitions the bridge announces).
probe() {  # NAME PORT
  local ok=
  for _ in $(seq 100); do
    "$bench" --requests 1 --clients 1 --timeout 1000 --json --method POST --content-format 50 \
      --payload '{"probe":1}' "coap://127.0.0.1:$2/api/v1/dev-0/telemetry" >"$tmp/probe.json" 2>/dev/null || true
    ok=$(field ok "$tmp/probe.json")
    [ "$ok" = 1 ] && return 0
    kill -0 "$(pid_of "$1")" 2>/dev/null || { cat "$tmp/$1.log" >&2; die "$1 exited"; }
    sleep 0.2
  done
  cat "$tmp/probe.json" "$tmp/$1.log" >&2
  die "$1 does not store telemetry for dev-0 (on UDP $2)"
}
probe embedded "$port"
probe t1 $((port + 10))
probe t2 $((port + 20))

payload='{"temperature":{rand},"seq":{seq}}'
common=(--clients "$clients" --concurrency "$concurrency" --warmup "$warmup" --duration "$duration"
  --devices "$devices" --method POST --content-format 50 --payload "$payload")
embedded_url="coap://127.0.0.1:$port/api/v1/{token}/telemetry"
cluster_ports=(--target-ports "$((port + 10)),$((port + 20))")
cluster_url="coap://127.0.0.1:1/api/v1/{token}/telemetry"  # the port comes from --target-ports

rows=()
acked_embedded=1 # the probe
acked_cluster=2  # the probes through t1 and t2
cpu_sum() { local s=0 p; for p in "$@"; do s=$((s + $(cpu_ns "$p"))); done; echo "$s"; }
measure() {  # SETUP NAME MODE PIDS -- COMMAND...
  local setup=$1 name=$2 mode=$3 watched=() out
  shift 3
  while [ "$1" != -- ]; do watched+=("$1"); shift; done
  shift
  out="$tmp/$setup-${name//\//-}.json"
  echo "== $setup $name: $(shell_words "$@")" >&2
  commands+=("$setup $name: \`$(shell_words "$@")\`")
  local c0 t0 c1 t1 p before=()
  for p in "${watched[@]}"; do before+=("$(cpu_ns "$p")"); done
  c0=$(cpu_sum "${watched[@]}"); t0=$(now_ns)
  "$@" >"$out"
  c1=$(cpu_sum "${watched[@]}"); t1=$(now_ns)
  local n cpu_per busy i split=
  n=$(field responses_total "$out")
  if [ "${#watched[@]}" -gt 1 ]; then  # each process's share, in the order of $cluster_names
    for i in "${!watched[@]}"; do
      split+="${split:+, }${cluster_names[$i]} $(awk -v c=$(($(cpu_ns "${watched[$i]}") - before[i])) -v n="${n:-0}" 'BEGIN { if (n > 0) printf "%.1f", c / n / 1000 }')"
    done
    splits+=("$setup $name: $split")
  fi
  cpu_per=$(awk -v c=$((c1 - c0)) -v n="${n:-0}" 'BEGIN { if (n > 0) printf "%.1f", c / n / 1000 }')
  busy=$(awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) 'BEGIN { if (t > 0) printf "%.2f", c / t }')
  rows+=("| $setup | $name | $mode | $(printf '%.0f' "$(field throughput "$out")") | $(field p50 "$out") | $(field p99 "$out") | $(field 'p99\.9' "$out") | $cpu_per | $busy | $(field ok "$out")/$(field sent "$out"), $(field errors "$out") errors, $(field timeouts "$out") timeouts |")
}
# Exactly one message per device first (a socket per device: tern-bench takes free sockets in
# order, so each of the first N requests goes to another socket), not measured: every token
# is then in the caches and every device registered to its transport node. Without it a
# device's first messages can wait together for its token and be stamped in the same
# millisecond; they then write the same rows (device, key, ts), one overwriting the other,
# and the stored-value check cannot add up.
ulimit -n $((devices + 256)) 2>/dev/null || true
[ "$(ulimit -n)" -gt "$devices" ] || die "priming needs a socket per device: ulimit -n $(ulimit -n) is too low for $devices devices"
prime() {  # NAME URL [tern-bench options...]
  local name=$1 target=$2; shift 2
  "$bench" --requests "$devices" --clients "$devices" --concurrency 1 --devices "$devices" --timeout 5000 \
    --method POST --content-format 50 --payload "$payload" "$@" --json "$target" >"$tmp/prime-$name.json"
  echo "== primed $name: $(field ok_total "$tmp/prime-$name.json") of $devices answered 2.01" >&2
  [ "$(field ok_total "$tmp/prime-$name.json")" = "$devices" ] || die "$name: not every device was answered 2.01 while priming"
}
prime embedded "$embedded_url"
prime cluster "$cluster_url" "${cluster_ports[@]}"
acked_embedded=$((acked_embedded + $(field ok_total "$tmp/prime-embedded.json")))
acked_cluster=$((acked_cluster + $(field ok_total "$tmp/prime-cluster.json")))

embedded_pids=("$(pid_of embedded)")
cluster_pids=("$(pid_of nats)" "$(pid_of core)" "$(pid_of t1)" "$(pid_of t2)")
cluster_names=(nats-server "core node" t1 t2)
splits=()
inflight=$((clients * concurrency))

measure embedded telemetry "closed loop, $inflight in flight" "${embedded_pids[@]}" -- \
  "$bench" "${common[@]}" --json "$embedded_url"
measure cluster telemetry "closed loop, $inflight in flight" "${cluster_pids[@]}" -- \
  "$bench" "${common[@]}" "${cluster_ports[@]}" --json "$cluster_url"
peak_embedded=$(field throughput "$tmp/embedded-telemetry.json")
peak_cluster=$(field throughput "$tmp/cluster-telemetry.json")
acked_embedded=$((acked_embedded + $(field ok_total "$tmp/embedded-telemetry.json")))
acked_cluster=$((acked_cluster + $(field ok_total "$tmp/cluster-telemetry.json")))

rate=$(awk -v a="$peak_embedded" -v b="$peak_cluster" -v l="$load_pct" 'BEGIN { m = a < b ? a : b; printf "%d", m * l / 100 }')
if [ "$rate" -ge 1 ]; then
  paced=(--rate "$rate" --pace-slack "$pace_slack")
  measure embedded "telemetry $load_pct %" "paced at $rate msg/s" "${embedded_pids[@]}" -- \
    "$bench" "${common[@]}" "${paced[@]}" --json "$embedded_url"
  measure cluster "telemetry $load_pct %" "paced at $rate msg/s" "${cluster_pids[@]}" -- \
    "$bench" "${common[@]}" "${paced[@]}" "${cluster_ports[@]}" --json "$cluster_url"
  acked_embedded=$((acked_embedded + $(field ok_total "$tmp/embedded-telemetry $load_pct %.json")))
  acked_cluster=$((acked_cluster + $(field ok_total "$tmp/cluster-telemetry $load_pct %.json")))
fi
if [ "$low_rate" -ge 1 ]; then
  paced=(--rate "$low_rate" --pace-slack "$pace_slack")
  measure embedded "telemetry $low_rate/s" "paced at $low_rate msg/s" "${embedded_pids[@]}" -- \
    "$bench" "${common[@]}" "${paced[@]}" --json "$embedded_url"
  measure cluster "telemetry $low_rate/s" "paced at $low_rate msg/s" "${cluster_pids[@]}" -- \
    "$bench" "${common[@]}" "${paced[@]}" "${cluster_ports[@]}" --json "$cluster_url"
  acked_embedded=$((acked_embedded + $(field ok_total "$tmp/embedded-telemetry $low_rate-s.json")))
  acked_cluster=$((acked_cluster + $(field ok_total "$tmp/cluster-telemetry $low_rate-s.json")))
fi

# The core node applies what JetStream stored at its own pace: wait until its database holds
# every acknowledged value, or stops growing for 35 s (longer than the bridge's default
# consumer_ack_wait of 30 s, after which JetStream redelivers what was not acknowledged);
# at most 100 s.
stored_count() { sqlite3 "$1" 'SELECT count(*) FROM ts_kv' 2>/dev/null || echo 0; }
drain_ms=
stored_cluster=
if command -v sqlite3 >/dev/null; then
  t0=$(now_ns)
  last=-1
  still=0
  for _ in $(seq 1000); do
    stored_cluster=$(stored_count "$tmp/core/tern.db")
    [ "$stored_cluster" -ge $((acked_cluster * 2 - 2)) ] && break
    if [ "$stored_cluster" = "$last" ]; then still=$((still + 1)); else still=0; fi
    [ "$still" -ge 350 ] && break
    last=$stored_cluster
    sleep 0.1
  done
  drain_ms=$(( ($(now_ns) - t0) / 1000000 ))
fi
# What the uplink stream (tern_UP, work queue: applied messages leave it) still holds.
curl -sS "http://127.0.0.1:$mon_port/jsz?streams=true&consumers=true" >"$tmp/jsz.json" 2>/dev/null || true
stream_left=$(tr -d ' \n' <"$tmp/jsz.json" | grep -o '"name":"tern_UP".*' | grep -o '"messages":[0-9]*' | head -n1 | cut -d: -f2 || true)
stop_all
stored_embedded=
if command -v sqlite3 >/dev/null; then
  stored_embedded=$(stored_count "$tmp/embedded/tern.db")
  stored_cluster=$(stored_count "$tmp/core/tern.db")
fi

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
echo
echo "Machine: $(nproc) CPUs ($cpu_model), $(uname -sr), $(date -u +%Y-%m-%d). No pinning; nats-server $("$nats_bin" --version 2>&1 | sed -n 's/.*v\([0-9.]*\).*/\1/p')."
echo "Load average before the run: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Load: $devices devices on $clients client sockets x $concurrency in flight, CON, ${warmup} s warm-up, ${duration} s measured; in the cluster runs devices on even sockets talk to t1, odd to t2."
echo "Payload: \`$payload\` (Content-Format 50, 2 values). 2.01 means committed to SQLite with sync = full (embedded), stored by JetStream in file storage (cluster)."
echo "CPU: of the server processes (embedded: the one tern; cluster: nats-server, the core node and both transport nodes), not the generator."
echo
echo "| setup | run | load | responses/s | p50 µs | p99 µs | p99.9 µs | server CPU µs/response | server busy (cores) | ok/sent |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---|"
for r in "${rows[@]}"; do echo "$r"; done
echo
awk -v c="$peak_cluster" -v e="$peak_embedded" 'BEGIN { if (e > 0) printf "Cluster / embedded peak: %.2f\n", c / e }'
echo "Server CPU µs/response by process of the cluster:"
for x in "${splits[@]}"; do echo "- $x"; done
if [ -n "$stored_embedded" ]; then
  echo "Stored values after the stop: embedded $stored_embedded in ts_kv for $((acked_embedded * 2 - 1)) acknowledged; core node $stored_cluster for $((acked_cluster * 2 - 2)) acknowledged, all applied $drain_ms ms after the last run ended (2 values per message answered 2.01, 1 per probe; a message that timed out may be stored too)."
  [ "$stored_embedded" -ge $((acked_embedded * 2 - 1)) ] || echo "scaleout.sh: embedded: fewer values stored than acknowledged: LOST DATA" >&2
  echo "Messages left in the uplink stream tern_UP at the end: ${stream_left:-unknown}."
  [ "$stored_cluster" -ge $((acked_cluster * 2 - 2)) ] || echo "scaleout.sh: cluster: fewer values stored than acknowledged (not applied within 100 s, or LOST DATA)" >&2
fi
echo
echo "Commands:"
echo
for c in "${commands[@]}"; do echo "- $c"; done
