#!/usr/bin/env bash
# What DTLS costs Tern: full and resumed handshakes per second, requests per second over
# established DTLS sessions beside the same requests over plain UDP (same server, same
# generator), and the memory an idle session keeps. Prints a Markdown table and every
# exact command.
#
#   tools/bench/dtls.sh [--build DIR] [--duration S] [--sessions N] [--idle N]
#                       [--port P] [--tern-set KEY=VALUE ...]
#
# The server (tern with udp + coap + dtls, one shard) runs on CPU 1 and dtls-bench on CPU 0
# when there are 2+ CPUs. The server's certificate is a fresh ECDSA P-256 one, so full
# handshakes are ECDHE-ECDSA with P-256. Requests: GET /.well-known/core, which the coap
# engine answers itself, so the DTLS and UDP rows differ only by the transport.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
build=$here/build
duration=10
sessions=64
idle=2000
port=47684
tern_sets=()

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "dtls.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --build) build=${2:?--build needs a directory}; shift ;;
    --duration) duration=${2:?--duration needs seconds}; shift ;;
    --sessions) sessions=${2:?--sessions needs a number}; shift ;;
    --idle) idle=${2:?--idle needs a number}; shift ;;
    --port) port=${2:?--port needs a number}; shift ;;
    --tern-set) tern_sets+=("--set" "${2:?--tern-set needs KEY=VALUE}"); shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

tern_bin=$build/bin/tern
dbench=$build/bin/dtls-bench
for f in "$tern_bin" "$dbench"; do [ -x "$f" ] || die "missing $f (ninja -C $build tern dtls-bench)"; done
for p in udp coap dtls; do
  [ -f "$build/plugins/libtern-$p.so" ] || die "missing $build/plugins/libtern-$p.so (build the plugins first)"
done
command -v openssl >/dev/null || die "openssl is needed to make the server certificate"

tmp=$(mktemp -d)
trap 'stop_server; rm -rf "$tmp"' EXIT

kv() { sed -n "s/^$1 //p" "$2" | head -n1; }

srv_pin=() gen_pin=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  srv_pin=(taskset -c 1) gen_pin=(taskset -c 0)
fi

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=tern-bench \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null

cat >"$tmp/tern.toml" <<EOF
[plugins.udp]
bind_address = "127.0.0.1"
bind_port = $((port - 1))

[plugins.dtls]
bind_address = "127.0.0.1"
bind_port = $port
# every client is one host (127.0.0.1): no per-source handshake rate or session cap
handshake_rate_per_source = 0
max_sessions_per_source = 0

[plugins.dtls.credentials]
cert_file = "$tmp/cert.pem"
key_file = "$tmp/key.pem"

[plugins.coap]
EOF

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rows=()
commands=()

# start_server EXTRA_SET...: tern on the pinned core, one shard; waits for "tern ready".
start_server() {
  local cmd=("${srv_pin[@]}" "$tern_bin" run --config "$tmp/tern.toml" --set kernel.shards=1
    --set 'kernel.metrics_bind=""' "$@" "${tern_sets[@]}")
  echo "== server: $(shell_words "${cmd[@]}")" >&2
  commands+=("server: \`$(shell_words "${cmd[@]}")\` (manifest: udp on $((port - 1)), dtls on $port with a P-256 certificate, coap)")
  "${cmd[@]}" >"$tmp/tern.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    grep -q "tern ready" "$tmp/tern.log" && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$tmp/tern.log" >&2
  die "tern did not start"
}

run() {
  local out=$1; shift
  local cmd=("${gen_pin[@]}" "$dbench" "$@" --server-pid "$server_pid")
  echo "   $(shell_words "${cmd[@]}")" >&2
  commands+=("\`$(shell_words "${cmd[@]}")\`")
  "${cmd[@]}" >"$out" || echo "dtls.sh: $(shell_words "${cmd[@]}") reported failures (see its output)" >&2
}

start_server
run "$tmp/full.txt" handshakes --port "$port" --duration "$duration"
rows+=("| full handshakes (ECDHE-ECDSA P-256) | $(kv handshakes_per_s "$tmp/full.txt")/s | $(kv server_cpu_us_per_handshake "$tmp/full.txt") µs | $(kv server_core_busy "$tmp/full.txt") | $(kv handshakes_per_server_core_s "$tmp/full.txt")/s | $(kv failed "$tmp/full.txt") failed |")
run "$tmp/ticket.txt" handshakes --port "$port" --duration "$duration" --resume ticket
rows+=("| resumed handshakes (session ticket) | $(kv handshakes_per_s "$tmp/ticket.txt")/s | $(kv server_cpu_us_per_handshake "$tmp/ticket.txt") µs | $(kv server_core_busy "$tmp/ticket.txt") | $(kv handshakes_per_server_core_s "$tmp/ticket.txt")/s | $(kv failed "$tmp/ticket.txt") failed, $(kv not_resumed "$tmp/ticket.txt") not resumed |")
run "$tmp/session.txt" handshakes --port "$port" --duration "$duration" --resume session
rows+=("| resumed handshakes (session ID cache) | $(kv handshakes_per_s "$tmp/session.txt")/s | $(kv server_cpu_us_per_handshake "$tmp/session.txt") µs | $(kv server_core_busy "$tmp/session.txt") | $(kv handshakes_per_server_core_s "$tmp/session.txt")/s | $(kv failed "$tmp/session.txt") failed, $(kv not_resumed "$tmp/session.txt") not resumed |")
run "$tmp/udp.txt" requests --port "$((port - 1))" --plain --sessions "$sessions" --duration "$duration"
run "$tmp/dtls.txt" requests --port "$port" --sessions "$sessions" --duration "$duration"
stop_server

# Idle sessions, compacted after 2 s instead of the default 60 s so the run stays short.
start_server --set plugins.dtls.idle_compact_after=2000
run "$tmp/idle.txt" idle --port "$port" --sessions "$idle" --settle 4
stop_server

udp_rps=$(kv responses_per_s "$tmp/udp.txt")
dtls_rps=$(kv responses_per_s "$tmp/dtls.txt")

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
echo
echo "Machine: $(nproc) CPUs ($cpu_model), $(uname -sr), $(date -u +%Y-%m-%d)."
[ ${#srv_pin[@]} -gt 0 ] && echo "Pinning: tern (one shard) on CPU 1, dtls-bench on CPU 0."
echo "Load average before the run: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "| handshakes | measured | server CPU per handshake | server core busy | per server core | |"
echo "|---|---:|---:|---:|---:|---|"
for r in "${rows[@]}"; do echo "$r"; done
echo
echo "| requests ($sessions sessions, 1 CON GET in flight each) | responses/s | server CPU µs/response | server core busy | lost |"
echo "|---|---:|---:|---:|---:|"
echo "| plain UDP (udp plugin) | $udp_rps | $(kv server_cpu_us_per_response "$tmp/udp.txt") | $(kv server_core_busy "$tmp/udp.txt") | $(kv lost "$tmp/udp.txt") |"
echo "| DTLS 1.2 (dtls plugin) | $dtls_rps | $(kv server_cpu_us_per_response "$tmp/dtls.txt") | $(kv server_core_busy "$tmp/dtls.txt") | $(kv lost "$tmp/dtls.txt") |"
echo
awk -v d="$dtls_rps" -v u="$udp_rps" 'BEGIN { if (u > 0) printf "DTLS throughput: %.2f x plain UDP, same run.\n", d / u }'
echo
echo "Idle sessions: $(kv sessions "$tmp/idle.txt") sessions, server RSS $(kv server_rss_before_kb "$tmp/idle.txt") kB before, $(kv server_rss_after_kb "$tmp/idle.txt") kB after: **$(kv bytes_per_idle_session "$tmp/idle.txt") bytes per idle session** (compacted)."
echo
echo "Commands:"
echo
for c in "${commands[@]}"; do echo "- $c"; done
