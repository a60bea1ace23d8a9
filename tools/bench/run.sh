#!/usr/bin/env bash
# Tern's CoAP benchmark: starts each server on loopback, loads it with tern-bench, stops
# it, and prints a Markdown table plus every exact command (docs/benchmarks.md explains
# the method). Builds nothing: it expects <build>/bin/tern-bench and, for the Tern rows,
# <build>/bin/tern with the udp and coap plugins in <build>/plugins.
#
#   tools/bench/run.sh [--quick] [--build DIR] [--config FILE] [--tern-path PATH]
#                      [--only LIST] [--duration S] [--clients N] [--concurrency K]
#                      [--port P] [--tern-set KEY=VALUE ...]
#
# Per server: a closed-loop run for peak throughput, then a run paced at half of that
# server's own peak for latency (p99 at 50 % load). With 2+ cores the server is pinned to
# CPU 1 and tern-bench (busy-polling) to CPU 0, so neither steals the other's core.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

root=$(cd "$(dirname "$0")/../.." && pwd)
build=build
config=config/tern.toml
tern_path=/.well-known/core
only=udp-echo,libcoap,tern
quick=0
duration=
clients=64
concurrency=2
port=47683
tern_sets=()

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "run.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --build) build=${2:?--build needs a directory}; shift ;;
    --config) config=${2:?--config needs a file}; shift ;;
    --tern-path) tern_path=${2:?--tern-path needs a path}; shift ;;
    --only) only=${2:?--only needs a list}; shift ;;
    --duration) duration=${2:?--duration needs seconds}; shift ;;
    --clients) clients=${2:?--clients needs a number}; shift ;;
    --concurrency) concurrency=${2:?--concurrency needs a number}; shift ;;
    --port) port=${2:?--port needs a number}; shift ;;
    --tern-set) tern_sets+=("--set" "${2:?--tern-set needs KEY=VALUE}"); shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

cd "$root"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
bench=$build/bin/tern-bench
[ -x "$bench" ] || die "$bench not found: build it first (ninja -C $build tern-bench)"
if [ -z "$duration" ]; then
  if [ "$quick" = 1 ]; then duration=2; else duration=10; fi
fi
if [ "$quick" = 1 ]; then warmup=0.5; else warmup=2; fi

# Pinning: load generator on CPU 0, server on CPU 1. The generator busy-polls there: on a
# VM a sleeping vCPU can take 100 µs+ to wake, which would be counted as server latency.
cpus=$(nproc)
gen_pin=()
srv_pin=()
gen_poll=()
if [ "$cpus" -ge 2 ] && command -v taskset >/dev/null; then
  gen_pin=(taskset -c 0)
  srv_pin=(taskset -c 1)
  gen_poll=(--busy-poll)
fi

tmp=$(mktemp -d)
trap 'stop_server; rm -rf "$tmp"' EXIT



# 0 when URL answers 2.xx, 3 when it answers something else (code in $tmp/probe.json),
# 1 when nothing answers within ~5 s or the server process died.
wait_ready() {
  local url=$1
  for _ in $(seq 50); do
    if [ -n "$server_pid" ] && ! kill -0 "$server_pid" 2>/dev/null; then return 1; fi
    "$bench" --requests 1 --clients 1 --timeout 100 --json "$url" >"$tmp/probe.json" 2>/dev/null || true
    [ "$(field ok "$tmp/probe.json")" = 1 ] && return 0
    [ "$(field errors "$tmp/probe.json")" = 1 ] && return 3
    sleep 0.1
  done
  return 1
}

# True when some CoAP server already answers on the port (then our numbers would be its).
port_busy() {
  "$bench" --requests 1 --clients 1 --timeout 100 --json "coap://127.0.0.1:$1/" >"$tmp/busy.json" 2>/dev/null || true
  [ "$(field ok "$tmp/busy.json")" = 1 ] || [ "$(field errors "$tmp/busy.json")" = 1 ]
}

skip_row() { rows+=("| $1 | - | skipped: $2 | | | | | | |"); }

rows=()
ratios=()
commands=()
echo_peak=
echo_cpu=

# run_server NAME URL -- SERVER COMMAND...
run_server() {
  local name=$1 url=$2; shift 3
  if port_busy "$port"; then
    echo "run.sh: something already answers on 127.0.0.1:$port; pass --port" >&2
    skip_row "$name" "port $port busy"
    return
  fi
  echo "== $name: $*" >&2
  "${srv_pin[@]}" "$@" >"$tmp/$name.log" 2>&1 &
  server_pid=$!
  local rc=0
  wait_ready "$url" || rc=$?
  if [ "$rc" = 3 ]; then
    echo "run.sh: $name answered $url with an error: $(cat "$tmp/probe.json")" >&2
    [ "$name" = tern ] && echo "run.sh: pass --tern-path of a resource the manifest serves" >&2
    stop_server
    skip_row "$name" "$url answers an error code"
    return
  elif [ "$rc" != 0 ]; then
    echo "run.sh: $name did not answer $url; its output:" >&2
    [ "$name" = tern ] && echo "run.sh: (does $config enable the udp and coap plugins? try --config tools/bench/tern-minimal.toml)" >&2
    tail -n 20 "$tmp/$name.log" >&2 || true
    stop_server
    skip_row "$name" "did not start or answer"
    return
  fi
  commands+=("$name server: \`$(shell_words "${srv_pin[@]}" "$@")\`")

  local common=(--clients "$clients" --concurrency "$concurrency" --warmup "$warmup" --duration "$duration" "${gen_poll[@]}")
  local peak_cmd=("${gen_pin[@]}" "$bench" "${common[@]}" --json "$url")
  echo "   peak: ${peak_cmd[*]}" >&2
  measure "$tmp/$name.peak.json" "${peak_cmd[@]}"
  commands+=("$name peak: \`$(shell_words "${peak_cmd[@]}")\`")
  local peak; peak=$(field throughput "$tmp/$name.peak.json")
  if [ "$name" = udp-echo ]; then echo_peak=$peak; echo_cpu=$cpu_per_response; fi
  add_row "$name" "peak (closed loop, $((clients * concurrency)) in flight)" "$tmp/$name.peak.json"
  if [ -n "$echo_peak" ] && [ "$name" != udp-echo ]; then
    ratios+=("$(awk -v n="$name" -v a="$peak" -v b="$echo_peak" -v c="$cpu_per_response" -v d="$echo_cpu" \
      'BEGIN { printf "- %s: peak throughput %.2f x udp-echo; server CPU per response %.1f x udp-echo", n, a / b, (d > 0 ? c / d : 0) }')")
  fi

  local half; half=$(awk -v p="$peak" 'BEGIN { printf "%d", p / 2 }')
  if [ "$half" -ge 1 ]; then
    local half_cmd=("${gen_pin[@]}" "$bench" "${common[@]}" --rate "$half" --json "$url")
    echo "   50%:  ${half_cmd[*]}" >&2
    measure "$tmp/$name.half.json" "${half_cmd[@]}"
    commands+=("$name 50%: \`$(shell_words "${half_cmd[@]}")\`")
    add_row "$name" "50 % of peak ($half req/s paced)" "$tmp/$name.half.json"
  fi
  stop_server
}

# measure OUT.json COMMAND...: runs tern-bench and records what the server spent meanwhile.
# Server CPU per response is the number that survives a shared machine: a starved server
# answers fewer requests per second, but each still costs the same CPU.
cpu_per_response=
core_busy=
measure() {
  local out=$1; shift
  local c0 t0 c1 t1
  c0=$(cpu_ns "$server_pid"); t0=$(now_ns)
  "$@" >"$out"
  c1=$(cpu_ns "$server_pid"); t1=$(now_ns)
  local n; n=$(field responses_total "$out")
  cpu_per_response=$(awk -v c=$((c1 - c0)) -v n="${n:-0}" 'BEGIN { if (n > 0) printf "%.2f", c / n / 1000 }')
  core_busy=$(awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) 'BEGIN { if (t > 0) printf "%.2f", c / t }')
}

add_row() {
  local name=$1 mode=$2 file=$3
  local tp p50 p99 p999 sent ok timeouts
  tp=$(field throughput "$file"); p50=$(field p50 "$file"); p99=$(field p99 "$file")
  p999=$(field 'p99\.9' "$file"); sent=$(field sent "$file"); ok=$(field ok "$file")
  timeouts=$(field timeouts "$file")
  rows+=("| $name | $mode | $(printf '%.0f' "$tp") | $p50 | $p99 | $p999 | $cpu_per_response | $core_busy | $ok/$sent, $timeouts timeouts |")
}

want() { [[ ",$only," == *",$1,"* ]]; }

if want udp-echo; then
  run_server udp-echo "coap://127.0.0.1:$port/bench" -- "$bench" echo-server --bind "127.0.0.1:$port"
fi

if want libcoap; then
  if command -v coap-server-notls >/dev/null; then
    run_server libcoap "coap://127.0.0.1:$port/time" -- coap-server-notls -A 127.0.0.1 -p "$port" -v 0
  else
    echo "run.sh: coap-server-notls not installed (Debian libcoap3-bin); skipping libcoap" >&2
    skip_row libcoap "coap-server-notls not installed"
  fi
fi

if want tern; then
  tern_bin=$build/bin/tern
  missing=
  [ -x "$tern_bin" ] || missing="$tern_bin"
  for p in udp coap; do
    [ -f "$build/plugins/libtern-$p.so" ] || missing="$missing $build/plugins/libtern-$p.so"
  done
  [ -f "$config" ] || missing="$missing $config"
  if [ -n "$missing" ]; then
    echo "run.sh: skipping tern: missing $missing (build the kernel and plugins first)" >&2
    skip_row tern "not built ($missing)"
  else
    # Same footing as the single-threaded servers above: one shard on the pinned core.
    extra=(--set "plugins.udp.bind_port=$port" --set 'kernel.metrics_bind=""')
    [ ${#srv_pin[@]} -gt 0 ] && extra+=(--set kernel.shards=1)
    run_server tern "coap://127.0.0.1:$port$tern_path" -- \
      "$tern_bin" run --config "$config" "${extra[@]}" "${tern_sets[@]}"
  fi
fi

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
echo
echo "Machine: $cpus CPUs ($cpu_model), $(uname -sr), $(date -u +%Y-%m-%d)."
if [ ${#gen_pin[@]} -gt 0 ]; then
  echo "Pinning: server on CPU 1, tern-bench on CPU 0 (busy-polling)."
else
  echo "Pinning: none (fewer than 2 CPUs); client and server share the CPU."
fi
echo "Load average before the run: $load_before (others' work on a shared machine moves absolute numbers)."

echo "Load: $clients client sockets x $concurrency in flight, CON GET, ${warmup} s warm-up, ${duration} s measured."
echo
echo "| server | mode | responses/s | p50 µs | p99 µs | p99.9 µs | server CPU µs/response | server core busy | ok/sent |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---|"
for r in "${rows[@]}"; do echo "$r"; done
echo
if [ ${#ratios[@]} -gt 0 ]; then
  echo "Against the UDP ceiling, same run:"
  echo
  for r in "${ratios[@]}"; do echo "$r"; done
  echo
fi
echo "Commands:"
echo
for c in "${commands[@]}"; do echo "- $c"; done
