#!/usr/bin/env bash
# What DTLS costs Tern: full and resumed handshakes per second, requests per second over
# established DTLS sessions beside the same requests over plain UDP (same server, same
# generator), DTLS 1.2 sessions with a Connection ID (RFC 9146) beside sessions without,
# and the memory an idle session keeps. Prints Markdown tables and every exact command.
#
#   tools/bench/dtls.sh [--build DIR] [--duration S] [--sessions N] [--idle N] [--rounds N]
#                       [--compare-build DIR ...] [--port P] [--tern-set KEY=VALUE ...]
#
# The server (tern with udp + coap + dtls, one shard) runs on CPU 1 and dtls-bench on CPU 0
# when there are 2+ CPUs. The server's certificate is a fresh ECDSA P-256 one, so full
# handshakes are ECDHE-ECDSA with P-256. Requests: GET /.well-known/core, which the coap
# engine answers itself, so the DTLS and UDP rows differ only by the transport. Requests
# with and without CID alternate --rounds times (2) against one server.
# --compare-build DIR (repeatable): another build tree (e.g. a checkout with an older or a
# differently configured wolfSSL); its tern and this build's take turns, --rounds times
# each, under the same dtls-bench (this build's) for full handshakes and DTLS requests, so
# the wolfSSL builds are compared in one run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
build=$here/build
duration=10
sessions=64
idle=2000
rounds=2
others=()
port=47684
tern_sets=()

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "dtls.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --build) build=${2:?--build needs a directory}; shift ;;
    --duration) duration=${2:?--duration needs seconds}; shift ;;
    --sessions) sessions=${2:?--sessions needs a number}; shift ;;
    --idle) idle=${2:?--idle needs a number}; shift ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift ;;
    --compare-build) others+=("${2:?--compare-build needs a build directory}"); shift ;;
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
case $rounds in ''|*[!0-9]*|0) die "--rounds takes a number of at least 1" ;; esac
for k in "${!others[@]}"; do
  others[k]=$(cd "${others[k]}" && pwd) || die "no build directory ${others[k]}"
  [ -x "${others[k]}/bin/tern" ] || die "missing ${others[k]}/bin/tern (ninja -C ${others[k]} tern)"
  for p in udp coap dtls; do
    [ -f "${others[k]}/plugins/libtern-$p.so" ] || die "missing ${others[k]}/plugins/libtern-$p.so"
  done
done

# wolfssl_of BUILD: the bundled wolfSSL a build tree links (from its CMake cache): version
# and the hash of its configure options (two builds of one version differ there).
wolfssl_of() {
  sed -n 's|^TERN_WOLFSSL_PREFIX:INTERNAL=.*/wolfssl-||p' "$1/CMakeCache.txt" 2>/dev/null |
    sed 's/^\(.*\)-\([0-9a-f]\{12\}\)$/\1 (options \2)/' | grep . || echo unknown
}
# commit_of BUILD: the short commit of the checkout a build tree was configured from.
commit_of() {
  local src
  src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$1/CMakeCache.txt" 2>/dev/null)
  src=${src:-.}
  local c
  c=$(git -C "$src" rev-parse --short HEAD 2>/dev/null) || { echo unknown; return; }
  if git -C "$src" status --porcelain --untracked-files=no 2>/dev/null | grep -q .; then c+=" with uncommitted changes"; fi
  echo "$c"
}
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

# start_server [--bin TERN] EXTRA_SET...: tern (this build's unless --bin) on the pinned
# core, one shard; waits for "tern ready".
start_server() {
  local bin=$tern_bin
  if [ "${1:-}" = --bin ]; then bin=$2; shift 2; fi
  local cmd=("${srv_pin[@]}" "$bin" run --config "$tmp/tern.toml" --set kernel.shards=1
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

# hs_row LABEL FILE: a handshakes table row from one dtls-bench output.
hs_row() {
  local f=$2 notes
  notes="$(kv failed "$f") failed"
  [ "$(kv mode "$f")" = full ] || notes+=", $(kv not_resumed "$f") not resumed"
  [ -z "$(kv cid_bytes "$f")" ] || notes+=", CID of $(kv cid_bytes "$f") bytes, $(kv cid_not_negotiated "$f") without"
  echo "| $1 | $(kv handshakes_per_s "$f")/s | $(kv server_cpu_us_per_handshake "$f") µs | $(kv server_core_busy "$f") | $(kv handshakes_per_server_core_s "$f")/s | $notes |"
}
# req_row LABEL FILE: a requests table row.
req_row() {
  local f=$2
  if [ -z "$(kv responses_per_s "$f")" ]; then echo "| $1 | failed (see above) | | | |"; return; fi
  echo "| $1 | $(kv responses_per_s "$f") | $(kv server_cpu_us_per_response "$f") | $(kv server_core_busy "$f") | $(kv lost "$f") |"
}
# median KEY FILE...: the median of KEY over the files that have it (empty when none has);
# one run starved by something else on the machine moves it less than a mean.
median() {
  local key=$1 f; shift
  for f in "$@"; do kv "$key" "$f"; done | sort -g |
    awk '{ v[n++] = $1 } END { if (n) printf "%.2f", n % 2 ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2 }'
}
# ratio A B: A / B to three places (empty when either is missing or B is 0).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b + 0 > 0) printf "%.3f", a / b }'; }
# paired KEY A B: the median over the rounds of KEY in $tmp/A-R.txt over KEY in $tmp/B-R.txt:
# each run against the one next to it in time, so a slow change of load cancels out.
paired() {
  local r
  for r in $(seq "$rounds"); do ratio "$(kv "$1" "$tmp/$2-$r.txt")" "$(kv "$1" "$tmp/$3-$r.txt")"; echo; done |
    grep . | sort -g | awk '{ v[n++] = $1 } END { if (n) printf "%.3f", n % 2 ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2 }'
}

start_server
run "$tmp/full.txt" handshakes --port "$port" --duration "$duration"
rows+=("$(hs_row "full handshakes (ECDHE-ECDSA P-256)" "$tmp/full.txt")")
run "$tmp/full-cid.txt" handshakes --port "$port" --duration "$duration" --cid
rows+=("$(hs_row "full handshakes asking for a CID (RFC 9146)" "$tmp/full-cid.txt")")
run "$tmp/ticket.txt" handshakes --port "$port" --duration "$duration" --resume ticket
rows+=("$(hs_row "resumed handshakes (session ticket)" "$tmp/ticket.txt")")
run "$tmp/session.txt" handshakes --port "$port" --duration "$duration" --resume session
rows+=("$(hs_row "resumed handshakes (session ID cache)" "$tmp/session.txt")")
run "$tmp/udp.txt" requests --port "$((port - 1))" --plain --sessions "$sessions" --duration "$duration"
# With and without CID in turns, so a change of load on the machine hits both alike.
dtls_files=() cid_files=()
for r in $(seq "$rounds"); do
  run "$tmp/dtls-$r.txt" requests --port "$port" --sessions "$sessions" --duration "$duration"
  run "$tmp/cid-$r.txt" requests --port "$port" --sessions "$sessions" --duration "$duration" --cid
  dtls_files+=("$tmp/dtls-$r.txt") cid_files+=("$tmp/cid-$r.txt")
done
stop_server

# Idle sessions, compacted after 2 s instead of the default 60 s so the run stays short.
start_server --set plugins.dtls.idle_compact_after=2000
run "$tmp/idle.txt" idle --port "$port" --sessions "$idle" --settle 4
stop_server
# The same with a CID each (compacted too, as long as the client's own CID is empty).
start_server --set plugins.dtls.idle_compact_after=2000
run "$tmp/idle-cid.txt" idle --port "$port" --sessions "$idle" --settle 4 --cid
stop_server

# The other builds' servers and this one's in turns (the order flips every round), the
# same client for all: full handshakes, then DTLS requests.
compare_one() {  # compare_one NAME TERN_BIN ROUND
  start_server --bin "$2"
  run "$tmp/$1-full-$3.txt" handshakes --port "$port" --duration "$duration"
  run "$tmp/$1-req-$3.txt" requests --port "$port" --sessions "$sessions" --duration "$duration"
  stop_server
}
if [ ${#others[@]} -gt 0 ]; then
  for r in $(seq "$rounds"); do
    [ $((r % 2)) -eq 0 ] && compare_one this "$tern_bin" "$r"
    for k in "${!others[@]}"; do compare_one "other$k" "${others[k]}/bin/tern" "$r"; done
    [ $((r % 2)) -eq 1 ] && compare_one this "$tern_bin" "$r"
  done
fi

udp_rps=$(kv responses_per_s "$tmp/udp.txt")
dtls_rps=$(median responses_per_s "${dtls_files[@]}")
cid_rps=$(median responses_per_s "${cid_files[@]}")
cid_len=$(kv cid_bytes "${cid_files[0]}")

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
echo
echo "Machine: $(nproc) CPUs ($cpu_model), $(uname -sr), $(date -u +%Y-%m-%d)."
[ ${#srv_pin[@]} -gt 0 ] && echo "Pinning: tern (one shard) on CPU 1, dtls-bench on CPU 0."
echo "This build: commit $(commit_of "$build"), wolfSSL $(wolfssl_of "$build")."
echo "Load average before the run: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "| handshakes | measured | server CPU per handshake | server core busy | per server core | |"
echo "|---|---:|---:|---:|---:|---|"
for r in "${rows[@]}"; do echo "$r"; done
echo
echo "| requests ($sessions sessions, 1 CON GET in flight each) | responses/s | server CPU µs/response | server core busy | lost |"
echo "|---|---:|---:|---:|---:|"
req_row "plain UDP (udp plugin)" "$tmp/udp.txt"
for r in $(seq "$rounds"); do
  req_row "DTLS 1.2 (dtls plugin), run $r" "$tmp/dtls-$r.txt"
  req_row "DTLS 1.2 with CID${cid_len:+ ($cid_len bytes)}, run $r" "$tmp/cid-$r.txt"
done
echo
awk -v d="$dtls_rps" -v u="$udp_rps" 'BEGIN { if (u > 0) printf "DTLS throughput: %.2f x plain UDP, same run (DTLS: the median of its runs).\n", d / u }'
if [ -n "$cid_rps" ] && [ "${cid_len:-0}" -gt 0 ]; then
  echo "DTLS 1.2 with CID against without, $rounds alternating pairs of runs (target: within 5 %): responses/s $(paired responses_per_s cid dtls) x (median of the pairs' ratios; medians of the runs: $cid_rps against $dtls_rps), server CPU per response $(paired server_cpu_us_per_response cid dtls) x ($(median server_cpu_us_per_response "${cid_files[@]}") against $(median server_cpu_us_per_response "${dtls_files[@]}") µs)."
else
  echo "DTLS 1.2 with CID: the server granted no Connection ID (connection_id_length = 0, or a dtls plugin without DTLS 1.2 CID), so there is no CID row."
fi
echo
echo "Idle sessions: $(kv sessions "$tmp/idle.txt") sessions, server RSS $(kv server_rss_before_kb "$tmp/idle.txt") kB before, $(kv server_rss_after_kb "$tmp/idle.txt") kB after: **$(kv bytes_per_idle_session "$tmp/idle.txt") bytes per idle session** (compacted)."
echo "Idle sessions with a CID: $(kv sessions "$tmp/idle-cid.txt") sessions, server RSS $(kv server_rss_before_kb "$tmp/idle-cid.txt") kB before, $(kv server_rss_after_kb "$tmp/idle-cid.txt") kB after: **$(kv bytes_per_idle_session "$tmp/idle-cid.txt") bytes per idle session**."
if [ ${#others[@]} -gt 0 ]; then
  this_v=$(wolfssl_of "$build")
  echo
  echo "Builds in turns ($rounds runs each, the order flipping every run), the same dtls-bench (this build's) against each server:"
  echo
  echo "| server | run | full handshakes/s | server CPU µs/handshake | DTLS 1.2 responses/s | server CPU µs/response |"
  echo "|---|---:|---:|---:|---:|---:|"
  for r in $(seq "$rounds"); do
    for name in this $(for k in "${!others[@]}"; do echo "other$k"; done); do
      if [ "$name" = this ]; then dir=$build; else dir=${others[${name#other}]}; fi
      echo "| $dir: commit $(commit_of "$dir"), wolfSSL $(wolfssl_of "$dir") | $r | $(kv handshakes_per_s "$tmp/$name-full-$r.txt") | $(kv server_cpu_us_per_handshake "$tmp/$name-full-$r.txt") | $(kv responses_per_s "$tmp/$name-req-$r.txt") | $(kv server_cpu_us_per_response "$tmp/$name-req-$r.txt") |"
    done
  done
  for k in "${!others[@]}"; do
    echo
    echo "This build (wolfSSL $this_v) against ${others[k]} (wolfSSL $(wolfssl_of "${others[k]}")), medians of the $rounds runs' ratios: full handshakes/s $(paired handshakes_per_s this-full "other$k-full") x, server CPU per handshake $(paired server_cpu_us_per_handshake this-full "other$k-full") x, DTLS responses/s $(paired responses_per_s this-req "other$k-req") x, server CPU per response $(paired server_cpu_us_per_response this-req "other$k-req") x."
  done
fi
echo
echo "Commands:"
echo
for c in "${commands[@]}"; do echo "- $c"; done
