#!/usr/bin/env bash
# Tern's device-API benchmark: the embedded default (config/tern.toml: udp + coap + json +
# device_api + core_embedded on SQLite) with N simulated devices posting JSON telemetry as
# CON requests, each answered only once SQLite has committed it (durable). Prints a
# Markdown table, the exact commands, and checks afterwards that the database holds every
# acknowledged value.
#
#   tools/bench/devices.sh [--build DIR] [--devices N] [--clients N] [--concurrency K]
#                          [--duration S] [--warmup S] [--observe] [--load PCT]
#                          [--port P] [--pace-slack US] [--tern-set KEY=VALUE ...]
#                          [--keep DIR]
#
# In one run, against one server process: the engine alone (GET /.well-known/core, which
# the coap engine answers without the device API or the core), then telemetry flat out
# (closed loop: the durable peak), then telemetry paced at --load % of that peak (default
# 80) for the latency. Nothing is pinned: Tern's shards, its SQLite writer and the load
# generator share the machine's cores, as they would on a small server; so the paced run
# sends what fell due in bursts at most --pace-slack µs late (default 1000) rather than
# spinning a core for exact send times (latency still counts from each due time).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
build=$here/build
devices=10000
clients=500
concurrency=16
duration=20
warmup=5
observe=0
load_pct=80
port=47683
pace_slack=1000
keep=
tern_sets=()

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "devices.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --build) build=${2:?--build needs a directory}; shift ;;
    --devices) devices=${2:?--devices needs a number}; shift ;;
    --clients) clients=${2:?--clients needs a number}; shift ;;
    --concurrency) concurrency=${2:?--concurrency needs a number}; shift ;;
    --duration) duration=${2:?--duration needs seconds}; shift ;;
    --warmup) warmup=${2:?--warmup needs seconds}; shift ;;
    --observe) observe=1 ;;
    --load) load_pct=${2:?--load needs a percentage}; shift ;;
    --port) port=${2:?--port needs a number}; shift ;;
    --pace-slack) pace_slack=${2:?--pace-slack needs microseconds}; shift ;;
    --tern-set) tern_sets+=("--set" "${2:?--tern-set needs KEY=VALUE}"); shift ;;
    --keep) keep=${2:?--keep needs a directory}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

require_embedded_build "$build"
[ "$devices" -ge 1 ] && [ "$clients" -ge 1 ] || die "--devices and --clients must be at least 1"

tmp=$(mktemp -d)
cleanup() {
  stop_server
  if [ -n "$keep" ]; then mkdir -p "$keep" && cp -r "$tmp"/. "$keep"/; fi
  rm -rf "$tmp"
}
trap cleanup EXIT


load_before=$(cut -d' ' -f1-3 /proc/loadavg)
db=$tmp/tern.db
server_cmd=("$tern_bin" run --config "$here/config/tern.toml"
  --set 'plugins.udp.bind_address="127.0.0.1"' --set "plugins.udp.bind_port=$port"
  --set "plugins.core_embedded.database=\"$db\"" --set 'plugins.core_embedded.admin_bind="127.0.0.1:0"'
  --set 'kernel.metrics_bind=""' --set 'kernel.log_level="warn"' "${tern_sets[@]}")
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

create_devices "$db" "$devices" "$tmp"

base=coap://127.0.0.1:$port
telemetry_url="$base/api/v1/{token}/telemetry"
payload='{"temperature":{rand},"seq":{seq}}'
common=(--clients "$clients" --concurrency "$concurrency" --warmup "$warmup" --duration "$duration")
tele=(--devices "$devices" --method POST --content-format 50 --payload "$payload")
[ "$observe" = 1 ] && tele+=(--observe '/api/v1/{token}/attributes')

probe=("$bench" --requests 1 --clients 1 --timeout 500 --json)
for _ in $(seq 50); do
  "${probe[@]}" --method POST --content-format 50 --payload '{"probe":1}' "$base/api/v1/dev-0/telemetry" >"$tmp/probe.json" 2>/dev/null || true
  [ "$(field ok "$tmp/probe.json")" = 1 ] && break
  sleep 0.1
done
[ "$(field ok "$tmp/probe.json")" = 1 ] || { cat "$tmp/probe.json" "$tmp/tern.log" >&2; die "tern does not store telemetry for dev-0"; }

rows=()
commands=("server: \`$(shell_words "${server_cmd[@]}")\`")
acked=1 # the probe
cpu_per=
busy=
measure() {
  local name=$1 mode=$2 out=$tmp/$1.json; shift 2
  echo "== $name: $(shell_words "$@")" >&2
  commands+=("$name: \`$(shell_words "$@")\`")
  local c0 t0 c1 t1
  c0=$(cpu_ns "$server_pid"); t0=$(now_ns)
  "$@" >"$out"
  c1=$(cpu_ns "$server_pid"); t1=$(now_ns)
  local n ok sent timeouts errors
  n=$(field responses_total "$out"); ok=$(field ok "$out"); sent=$(field sent "$out")
  timeouts=$(field timeouts "$out"); errors=$(field errors "$out")
  cpu_per=$(awk -v c=$((c1 - c0)) -v n="${n:-0}" 'BEGIN { if (n > 0) printf "%.1f", c / n / 1000 }')
  busy=$(awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) 'BEGIN { if (t > 0) printf "%.2f", c / t }')
  rows+=("| $name | $mode | $(printf '%.0f' "$(field throughput "$out")") | $(field p50 "$out") | $(field p99 "$out") | $(field 'p99\.9' "$out") | $cpu_per | $busy | $ok/$sent, $errors errors, $timeouts timeouts |")
}

measure engine "GET /.well-known/core, closed loop, $((clients * concurrency)) in flight" \
  "$bench" "${common[@]}" --json "$base/.well-known/core"

measure telemetry "POST telemetry, closed loop, $((clients * concurrency)) in flight" \
  "$bench" "${common[@]}" "${tele[@]}" --json "$telemetry_url"
peak=$(field throughput "$tmp/telemetry.json")
acked=$((acked + $(field ok_total "$tmp/telemetry.json")))
[ "$(field errors "$tmp/telemetry.json")" = 0 ] || echo "devices.sh: warning: error responses at peak (see above); the stored-value check below counts only 2.xx answers as acknowledged" >&2

rate=$(awk -v p="$peak" -v l="$load_pct" 'BEGIN { printf "%d", p * l / 100 }')
if [ "$rate" -ge 1 ]; then
  measure "telemetry $load_pct %" "POST telemetry paced at $rate msg/s" \
    "$bench" "${common[@]}" "${tele[@]}" --rate "$rate" --pace-slack "$pace_slack" --json "$telemetry_url"
  acked=$((acked + $(field ok_total "$tmp/telemetry $load_pct %.json")))
fi
stop_server

stored=
if command -v sqlite3 >/dev/null; then
  stored=$(sqlite3 "$db" 'SELECT count(*) FROM ts_kv')
fi

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
echo
echo "Machine: $(nproc) CPUs ($cpu_model), $(uname -sr), $(date -u +%Y-%m-%d). No pinning."
echo "Load average before the run: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Load: $devices devices on $clients client sockets x $concurrency in flight, CON, ${warmup} s warm-up, ${duration} s measured$([ "$observe" = 1 ] && echo ", every device holding an attribute Observe")."
echo "Payload: \`$payload\` (Content-Format 50, 2 values), answered 2.01 after the commit (sync = full)."
echo
echo "| run | load | responses/s | p50 µs | p99 µs | p99.9 µs | server CPU µs/response | server busy (cores) | ok/sent |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---|"
for r in "${rows[@]}"; do echo "$r"; done
echo
if [ -n "$stored" ]; then
  echo "Stored values after the stop: $stored in ts_kv; $((acked * 2)) were acknowledged (2 per message answered 2.xx, the probe's 1 included); a message that timed out at the client may be stored too."
  [ "$stored" -ge $((acked * 2 - 1)) ] || echo "devices.sh: fewer values stored than acknowledged: LOST DATA" >&2
fi
echo
echo "Commands:"
echo
for c in "${commands[@]}"; do echo "- $c"; done
