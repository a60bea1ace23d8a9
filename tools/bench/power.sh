#!/usr/bin/env bash
# Power-saving benchmark: N PSM devices wake in a burst after a downlink was queued for each
# while they slept; how long until every held downlink is delivered. Prints a Markdown table
# (every run and their median), the machine, and the exact commands.
#
#   tools/bench/power.sh [--build DIR] [--devices N] [--runs R] [--psm-timer MS] [--no-rpc]
#                        [--http-concurrency C] [--port P] [--tern-set KEY=VALUE ...] [--keep DIR]
#
# One server process (the embedded default, config/tern.toml, plus [plugins.power] when the
# manifest has none) on a fresh SQLite file. tools/bench/power_driver.mjs (node, one UDP
# socket per device) creates a PSM profile (activity timer --psm-timer, default 3000 ms) and
# N devices in it (default 10 000), registers Observe on /attributes and /rpc for each, then
# R times (default 3): every device goes silent until its timer has passed; one shared
# attribute change and one one-way RPC per device go in through the admin API (the datagrams
# the sleeping devices receive meanwhile are counted: 0 expected); every device posts
# telemetry at once and acknowledges what comes; measured: from the first wake uplink to the
# last held downlink received (burst), per device from its uplink to its last downlink
# (p50, p99, max), datagrams both ways per second of the burst.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
build=$here/build
devices=10000
runs=3
psm_timer=3000
rpc=1
http_concurrency=32
port=47693
keep=
tern_sets=()

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "power.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --build) build=${2:?--build needs a directory}; shift ;;
    --devices) devices=${2:?--devices needs a number}; shift ;;
    --runs) runs=${2:?--runs needs a number}; shift ;;
    --psm-timer) psm_timer=${2:?--psm-timer needs milliseconds}; shift ;;
    --no-rpc) rpc=0 ;;
    --http-concurrency) http_concurrency=${2:?--http-concurrency needs a number}; shift ;;
    --port) port=${2:?--port needs a number}; shift ;;
    --tern-set) tern_sets+=("--set" "${2:?--tern-set needs KEY=VALUE}"); shift ;;
    --keep) keep=${2:?--keep needs a directory}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

tern_bin=$build/bin/tern
[ -x "$tern_bin" ] || die "missing $tern_bin (ninja -C $build tern)"
for p in udp coap json device_api core_embedded power; do
  [ -f "$build/plugins/libtern-$p.so" ] || die "missing $build/plugins/libtern-$p.so (ninja -C $build tern-plugin-$p)"
done
command -v node >/dev/null || die "node is needed for the driver (Debian package nodejs)"
[ "$devices" -ge 1 ] && [ "$runs" -ge 1 ] || die "--devices and --runs must be at least 1"
# one socket per device, plus the driver's own descriptors
[ "$(ulimit -n)" -gt $((devices + 100)) ] || ulimit -n $((devices + 200)) 2>/dev/null ||
  die "the driver needs $((devices + 100)) file descriptors (ulimit -n is $(ulimit -n))"

tmp=$(mktemp -d)
cleanup() {
  stop_server
  if [ -n "$keep" ]; then mkdir -p "$keep" && cp -r "$tmp"/. "$keep"/; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

manifest=$here/config/tern.toml
if ! grep -q '^\[plugins\.power\]' "$manifest"; then
  cp "$manifest" "$tmp/tern.toml"
  printf '\n[plugins.power]\n' >>"$tmp/tern.toml"
  manifest=$tmp/tern.toml
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
db=$tmp/tern.db
server_cmd=("$tern_bin" run --config "$manifest"
  --set 'plugins.udp.bind_address="127.0.0.1"' --set "plugins.udp.bind_port=$port"
  --set "plugins.core_embedded.database=\"$db\"" --set 'plugins.core_embedded.admin_bind="127.0.0.1:0"'
  --set "kernel.metrics_bind=\"127.0.0.1:$((port + 1))\"" --set 'kernel.log_level="warn"'
  # every simulated device sends from 127.0.0.1: the per-source limit of first token lookups
  # (meant for one address trying many tokens) would refuse real devices' first requests
  --set 'plugins.device_api.source_rate=0' "${tern_sets[@]}")
echo "== server: $(shell_words "${server_cmd[@]}")" >&2
"${server_cmd[@]}" >"$tmp/tern.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  [ -s "$db.admin-addr" ] && [ -s "$db.admin-key" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/tern.log" >&2; die "tern exited"; }
  sleep 0.1
done
[ -s "$db.admin-addr" ] || { cat "$tmp/tern.log" >&2; die "no admin address after 10 s"; }
admin=http://$(cat "$db.admin-addr")
key=$(cat "$db.admin-key")

driver_cmd=(node "$here/tools/bench/power_driver.mjs" --port "$port" --admin "$admin" --key "$key"
  --devices "$devices" --runs "$runs" --psm-timer "$psm_timer" --http-concurrency "$http_concurrency"
  --server-pid "$server_pid")
[ "$rpc" = 1 ] || driver_cmd+=(--no-rpc)
echo "== driver: $(shell_words "${driver_cmd[@]}" | sed "s/$key/KEY/")" >&2
c0=$(cpu_ns "$server_pid")
"${driver_cmd[@]}" >"$tmp/runs.jsonl" || { tail -n 50 "$tmp/tern.log" >&2; die "the driver failed"; }
c1=$(cpu_ns "$server_pid")
# the server's own view: wake -> delivery of the last downlink held at the wake, per device
curl -s "http://127.0.0.1:$((port + 1))/metrics" >"$tmp/metrics.txt" || true
stop_server

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
num() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" <<<"$2"; }
echo
echo "Machine: $(nproc) CPUs ($cpu_model), $(uname -sr), $(date -u +%Y-%m-%d). No pinning."
echo "Load average before the run: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Load: $devices PSM devices (psmActivityTimer $psm_timer ms), one UDP socket each, each observing /attributes and /rpc;" \
  "held per device and run: one shared-attribute change$([ "$rpc" = 1 ] && echo " and one one-way RPC"); $runs runs."
echo "Server CPU over the whole session (creation, registrations, queueing, wakes): $(( (c1 - c0) / 1000000 )) ms."
echo
echo "| run | delivered | missing | duplicates | datagrams while asleep | burst ms | p50 ms | p99 ms | max ms | datagrams/s | server CPU ms | driver CPU ms | queued/s (admin API) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
bursts=()
while read -r line; do
  [ -n "$line" ] || continue
  echo "| $(num run "$line") | $(num delivered "$line") | $(num missing "$line") | $(num duplicates "$line") | $(num asleep_datagrams "$line") | $(num burst_ms "$line") | $(num p50_ms "$line") | $(num p99_ms "$line") | $(num max_ms "$line") | $(num datagrams_per_s "$line") | $(num server_cpu_ms "$line") | $(num driver_cpu_ms "$line") | $(num queue_per_s "$line") |"
  bursts+=("$(num burst_ms "$line")")
done <"$tmp/runs.jsonl"
median=$(printf '%s\n' "${bursts[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
echo
echo "Median burst (first wake uplink -> every held downlink delivered): **$median ms** for $devices devices."
hist=$(awk '/^device_api_wake_delivery_seconds_bucket/ { match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5); printf "%s<=%s ", $NF, le }
  /^device_api_wake_delivery_seconds_count/ { n = $NF } /^device_api_wake_delivery_seconds_sum/ { s = $NF }
  END { if (n > 0) printf "(count %d, mean %.3f s)", n, s / n }' "$tmp/metrics.txt" 2>/dev/null || true)
[ -z "$hist" ] || { echo; echo "Server's wake-to-delivery histogram over all runs (device_api_wake_delivery_seconds, cumulative count<=bound s): $hist"; }
echo
echo "Commands:"
echo
echo "- server: \`$(shell_words "${server_cmd[@]}")\`"
echo "- driver: \`$(shell_words "${driver_cmd[@]}" | sed "s/$key/KEY/")\`"
missing=$(sed -n 's/.*"missing":\([0-9]*\).*/\1/p' "$tmp/runs.jsonl" | awk '{ s += $1 } END { print s + 0 }')
[ "$missing" = 0 ] || { echo "power.sh: $missing held downlinks were never delivered" >&2; exit 1; }
