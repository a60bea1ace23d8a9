#!/usr/bin/env bash
# A million devices on one node: the memory an idle device costs, measured with that many
# real peers, and whether a device among them still gets its downlinks at once. Prints
# Markdown tables, the breakdown per component and every exact command.
#
#   tools/bench/scale.sh [--build DIR] [--devices LIST] [--dtls LIST] [--rate R] [--idle S]
#                        [--sample K] [--sockets M] [--dtls-rate R] [--dtls-settle S] [--port P]
#                        [--keep DIR]
#                        [--tern-set KEY=VALUE ...]
#
# Plain UDP, for each count N of --devices (comma-separated; default 100000,1000000; 0 = none):
#  1. a fresh SQLite file with N devices dev-0 .. dev-(N-1) (token dev-I), imported with
#     `tern device import` into the embedded default (config/tern.toml);
#  2. tern restarted on that database: the start-up (to "tern ready", and to the first
#     telemetry acknowledged) is timed;
#  3. `tern-bench hold`: N devices, each from its own (address, port) in 127.96.0.0/11, each
#     registering Observe on /attributes and /rpc at --rate registrations/s (default 5000),
#     acknowledging notifications and answering pings as a device does;
#  4. --idle S seconds of quiet (default 260: past EXCHANGE_LIFETIME, 247 s, so the
#     deduplication entries of the registrations have expired);
#  5. the server's resident size per device, and per component from its metrics: every
#     `*_memory_bytes{table}` of the plugins, glibc's heap in use and free (tern_heap_bytes);
#  6. --sample K devices (default 10), spread over the range: a shared-attribute change and a
#     one-way RPC each through the admin API, timed from the request to the notification
#     arriving at the device (target: within 1 s).
# DTLS, for each count of --dtls (default 100000; 0 = none): tern with the dtls plugin on and
# a fresh P-256 certificate; `dtls-bench hold` completes that many sessions at --dtls-rate
# handshakes/s (default 500), each from its own (address, port) and one request each, then
# forgets them (the server keeps each until its inactivity timeout); after --dtls-settle S
# (default 260: past EXCHANGE_LIFETIME, as for plain devices; sessions are compacted after
# 60 s idle) the server's resident size per session and the breakdown as above. The run
# raises max_sessions to fit N and keeps anonymous sessions (no client certificate) open.
# Resident size per device is (RSS after - RSS before the devices came) / N; the table also
# gives the whole RSS / N. The 1 000 000 run needs about 3 GB free and 20-30 minutes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
build=$here/build
devices_list=100000,1000000
dtls_list=100000
rate=5000
dtls_rate=500
dtls_settle=260
idle=260
sample=10
sockets=256
port=47760
keep=
tern_sets=()

usage() { sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "scale.sh: $*" >&2; exit 2; }
number() { case $2 in '' | *[!0-9]*) die "$1 takes a number, not '$2'" ;; esac; }

while [ $# -gt 0 ]; do
  case $1 in
    --build) build=${2:?--build needs a directory}; shift ;;
    --devices) devices_list=${2:?--devices needs a list of counts}; shift ;;
    --dtls) dtls_list=${2:?--dtls needs a list of counts}; shift ;;
    --rate) rate=${2:?--rate needs a number}; number --rate "$rate"; shift ;;
    --dtls-rate) dtls_rate=${2:?--dtls-rate needs a number}; number --dtls-rate "$dtls_rate"; shift ;;
    --dtls-settle) dtls_settle=${2:?--dtls-settle needs seconds}; number --dtls-settle "$dtls_settle"; shift ;;
    --idle) idle=${2:?--idle needs seconds}; number --idle "$idle"; shift ;;
    --sample) sample=${2:?--sample needs a number}; number --sample "$sample"; shift ;;
    --sockets) sockets=${2:?--sockets needs a number}; number --sockets "$sockets"; shift ;;
    --port) port=${2:?--port needs a number}; number --port "$port"; shift ;;
    --keep) keep=${2:?--keep needs a directory}; shift ;;
    --tern-set) tern_sets+=("--set" "${2:?--tern-set needs KEY=VALUE}"); shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
IFS=, read -r -a plain_counts <<<"$devices_list"
IFS=, read -r -a dtls_counts <<<"$dtls_list"
for n in "${plain_counts[@]}" "${dtls_counts[@]}"; do number "a count" "$n"; done

require_embedded_build "$build"
dbench=$build/bin/dtls-bench
[ -x "$dbench" ] || die "missing $dbench (ninja -C $build dtls-bench)"
[ -f "$build/plugins/libtern-dtls.so" ] || die "missing $build/plugins/libtern-dtls.so"
command -v openssl >/dev/null || die "openssl is needed to make the DTLS server certificate"
# Everything below runs on loopback; the generators raise their own descriptor limits.

tmp=$(mktemp -d)
hold_pid=
cleanup() {
  [ -n "$hold_pid" ] && { kill -TERM "$hold_pid" 2>/dev/null || true; wait "$hold_pid" 2>/dev/null || true; }
  stop_server
  if [ -n "$keep" ]; then mkdir -p "$keep" && cp -r "$tmp"/. "$keep"/ 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

metrics_port=$((port + 1))
dtls_port=$((port + 2))
metrics_url=http://127.0.0.1:$metrics_port/metrics
commands=()
plain_rows=()
dtls_rows=()
breakdowns=()
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# metric NAME{LABELS} FILE: the value of one series in a scrape (0 when absent).
metric() { awk -v k="$1" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }' "$2"; }
scrape() { curl -sS --max-time 20 "$metrics_url" >"$1" || die "no metrics at $metrics_url"; }
per() { awk -v a="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.0f", a / n; else print "-" }'; }
mib() { awk -v a="$1" 'BEGIN { printf "%.1f", a / 1048576 }'; }

# start_server LOG EXTRA_SET...: the embedded default on $db, waits for "tern ready"; sets
# started_ms (from exec to ready).
start_server() {
  local log=$1
  shift
  local cmd=("$tern_bin" run --config "$here/config/tern.toml"
    --set "kernel.plugin_path=[\"$build/plugins\"]"
    --set 'plugins.udp.bind_address="127.0.0.1"' --set "plugins.udp.bind_port=$port"
    --set "plugins.core_embedded.database=\"$db\"" --set 'plugins.core_embedded.admin_bind="127.0.0.1:0"'
    --set "kernel.metrics_bind=\"127.0.0.1:$metrics_port\"" --set 'kernel.log_level="info"'
    "$@" "${tern_sets[@]}")
  echo "== server: $(shell_words "${cmd[@]}")" >&2
  commands+=("server: \`$(shell_words "${cmd[@]}")\`")
  local t0
  t0=$(now_ns)
  "${cmd[@]}" >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 600); do
    if grep -q "tern ready" "$log"; then
      started_ms=$((($(now_ns) - t0) / 1000000))
      return 0
    fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  cat "$log" >&2
  die "tern did not start"
}

# The device settings every run uses, and why:
#  - device_api.source_rate=0: tern-bench puts 256 devices behind each source address (one per
#    socket, like a carrier NAT), and they register one after the other; the per-address limit
#    of first token lookups is for one address trying many tokens and would slow the start.
device_sets=(--set plugins.device_api.source_rate=0)

# import_devices N: N devices into the running server's database through `tern device import`.
import_devices() {
  local n=$1 t0
  awk -v n="$n" 'BEGIN { print "name,token"; for (i = 0; i < n; i++) printf "dev-%d,dev-%d\n", i, i }' >"$tmp/devices.csv"
  local cmd=("$tern_bin" device import "$tmp/devices.csv" --config "$here/config/tern.toml"
    --set "kernel.plugin_path=[\"$build/plugins\"]"
    --set "plugins.core_embedded.database=\"$db\"" --set 'plugins.core_embedded.admin_bind="127.0.0.1:0"')
  echo "== import: $(shell_words "${cmd[@]}")" >&2
  t0=$(now_ns)
  "${cmd[@]}" >"$tmp/import.out" 2>&1 || { cat "$tmp/import.out" >&2; die "tern device import failed"; }
  import_ms=$((($(now_ns) - t0) / 1000000))
  echo "   $n devices imported in $import_ms ms" >&2
}

# first_telemetry_ms: from now until dev-0's telemetry is acknowledged (2.01).
first_telemetry() {
  local t0
  t0=$(now_ns)
  for _ in $(seq 200); do
    "$bench" --requests 1 --clients 1 --timeout 500 --json --method POST --content-format 50 \
      --payload '{"probe":1}' "coap://127.0.0.1:$port/api/v1/dev-0/telemetry" >"$tmp/probe.json" 2>/dev/null || true
    [ "$(field ok "$tmp/probe.json")" = 1 ] && { echo $((($(now_ns) - t0) / 1000000)); return 0; }
    sleep 0.05
  done
  die "dev-0's telemetry was not acknowledged within 10 s of ready"
}

# breakdown LABEL N SCRAPE_BEFORE SCRAPE_AFTER: one table, a row per *_memory_bytes series and
# the process figures, bytes in total and per device (after minus before).
breakdown() {
  local label=$1 n=$2 before=$3 after=$4 unit=${5:-device} out
  out="#### $label"$'\n\n'"| component | table | bytes | bytes per $unit |"$'\n'"|---|---|---:|---:|"$'\n'
  out+=$(awk -v n="$n" '
    FNR == NR { if ($1 ~ /_memory_bytes\{/) base[$1] = $2; next }
    $1 ~ /_memory_bytes\{/ {
      name = $1; sub(/_memory_bytes\{.*/, "", name)
      t = $1; sub(/.*table="/, "", t); sub(/".*/, "", t)
      d = $2 - base[$1]; sum += d
      printf "| %s | %s | %d | %.0f |\n", name, t, d, d / n
    }
    END { printf "| (all tables) | | %d | %.0f |\n", sum, sum / n }' "$before" "$after")
  local rss0 rss1 in0 in1 fr0 fr1 mm0 mm1
  rss0=$(metric tern_resident_bytes "$before") rss1=$(metric tern_resident_bytes "$after")
  in0=$(metric 'tern_heap_bytes{state="in_use"}' "$before") in1=$(metric 'tern_heap_bytes{state="in_use"}' "$after")
  fr0=$(metric 'tern_heap_bytes{state="free"}' "$before") fr1=$(metric 'tern_heap_bytes{state="free"}' "$after")
  mm0=$(metric 'tern_heap_bytes{state="mmapped"}' "$before") mm1=$(metric 'tern_heap_bytes{state="mmapped"}' "$after")
  out+=$'\n'"| heap | in use (glibc) | $((in1 - in0)) | $(per $((in1 - in0)) "$n") |"
  out+=$'\n'"| heap | mmapped blocks | $((mm1 - mm0)) | $(per $((mm1 - mm0)) "$n") |"
  out+=$'\n'"| heap | free in the arenas (address space, resident only in part) | $((fr1 - fr0)) | $(per $((fr1 - fr0)) "$n") |"
  out+=$'\n'"| process | resident (VmRSS) | $((rss1 - rss0)) | $(per $((rss1 - rss0)) "$n") |"
  breakdowns+=("$out")
  echo "$out" >&2
}

# downlinks N: the --sample devices' attribute change and one-way RPC, each timed from the
# admin request to the notification in the hold log; sets worst_attr_ms, worst_rpc_ms, late.
downlinks() {
  local n=$1 admin key j i t0 line got lat
  admin=http://$(cat "$db.admin-addr")
  key=$(cat "$db.admin-key")
  worst_attr_ms=0 worst_rpc_ms=0 late=0
  for ((j = 0; j < sample; j++)); do
    i=$(((2 * j + 1) * n / (2 * sample)))
    for kind in attr rpc; do
      t0=$(now_ns)
      if [ "$kind" = attr ]; then
        curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
          -d "{\"scale\":$j}" "$admin/api/devices/dev-$i/attributes/shared" >"$tmp/code" || true
        path=0
      else
        curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
          -d "{\"method\":\"scale$j\",\"params\":{},\"oneway\":true,\"wait\":false}" "$admin/api/devices/dev-$i/rpc" >"$tmp/code" || true
        path=1
      fi
      case $(cat "$tmp/code") in 200 | 201 | 202) ;; *) die "admin API refused the $kind for dev-$i: HTTP $(cat "$tmp/code")" ;; esac
      got=
      for _ in $(seq 100); do
        line=$(awk -v d="$i" -v p="$path" -v t="$t0" '$2 == d && $3 == p && $1 >= t { print $1; exit }' "$tmp/notify.log")
        [ -n "$line" ] && { got=$line; break; }
        sleep 0.05
      done
      if [ -z "$got" ]; then
        echo "   dev-$i: no $kind notification within 5 s" >&2
        late=$((late + 1))
        continue
      fi
      lat=$(((got - t0) / 1000000))
      if [ "$lat" -gt 1000 ]; then late=$((late + 1)); fi
      if [ "$kind" = attr ]; then
        if [ "$lat" -gt "$worst_attr_ms" ]; then worst_attr_ms=$lat; fi
      elif [ "$lat" -gt "$worst_rpc_ms" ]; then
        worst_rpc_ms=$lat
      fi
    done
  done
}

# wait_ready DIR LIMIT TOOL WHAT: until the generator $hold_pid wrote DIR/ready.json; dies when
# it exits first or LIMIT seconds pass.
wait_ready() {
  local dir=$1 limit=$2 tool=$3 what=$4 waited=0
  while [ ! -s "$dir/ready.json" ]; do
    kill -0 "$hold_pid" 2>/dev/null || { cat "$dir/hold.err" >&2; die "$tool exited before it was ready"; }
    [ "$waited" -lt "$limit" ] || die "$what not done after $limit s"
    sleep 1
    waited=$((waited + 1))
  done
}

plain_run() {
  local n=$1 dir=$tmp/plain-$1
  mkdir -p "$dir"
  db=$dir/tern.db
  echo "== plain UDP: $n devices" >&2
  start_server "$dir/create.log" "${device_sets[@]}"
  import_devices "$n"
  stop_server
  start_server "$dir/tern.log" "${device_sets[@]}"
  local ready_ms=$started_ms first_ms
  first_ms=$((ready_ms + $(first_telemetry)))
  echo "   start-up with $n devices: ready in $ready_ms ms, first telemetry acknowledged at $first_ms ms" >&2
  scrape "$dir/before.prom"
  : >"$tmp/notify.log"
  rm -f "$dir/ready.json"
  local cmd=("$bench" hold --devices "$n" --sockets "$sockets" --source-base 127.96.0.1 --rate "$rate"
    --observe '/api/v1/{token}/attributes' --observe '/api/v1/{token}/rpc'
    --ready-file "$dir/ready.json" --notify-log "$tmp/notify.log" --json "coap://127.0.0.1:$port")
  echo "== devices: $(shell_words "${cmd[@]}")" >&2
  commands+=("devices: \`$(shell_words "${cmd[@]}")\`")
  "${cmd[@]}" >"$dir/hold.json" 2>"$dir/hold.err" &
  hold_pid=$!
  wait_ready "$dir" $((2 * n / rate * 3 + 120)) "tern-bench hold" registrations
  local registered
  registered=$(field registered "$dir/ready.json")
  echo "   registered $registered of $((2 * n)) relations: $(cat "$dir/ready.json")" >&2
  [ "$registered" = $((2 * n)) ] || die "only $registered of $((2 * n)) relations registered"
  echo "   idle for $idle s" >&2
  sleep "$idle"
  kill -0 "$hold_pid" 2>/dev/null || die "tern-bench hold exited while idle"
  scrape "$dir/after.prom"
  local rss_after rss_before
  rss_before=$(metric tern_resident_bytes "$dir/before.prom")
  rss_after=$(metric tern_resident_bytes "$dir/after.prom")
  breakdown "Plain UDP, $n idle devices with two relations each" "$n" "$dir/before.prom" "$dir/after.prom"
  downlinks "$n"
  kill -TERM "$hold_pid" 2>/dev/null || true
  wait "$hold_pid" 2>/dev/null || true
  hold_pid=
  stop_server
  plain_rows+=("| $n | $(mib "$rss_after") | $(per $((rss_after - rss_before)) "$n") | $(per "$rss_after" "$n") | $((import_ms / 1000)) s | $ready_ms ms / $first_ms ms | $worst_attr_ms ms | $worst_rpc_ms ms | $late |")
}

dtls_run() {
  local n=$1 dir=$tmp/dtls-$1
  mkdir -p "$dir"
  db=$dir/tern.db
  echo "== DTLS: $n idle sessions" >&2
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=tern-scale \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
  # Sessions come 256 to an address (one per generator socket): no per-address handshake
  # rate or session cap, as behind a carrier NAT. The sessions are anonymous (no client
  # certificate, a request the engine answers itself): kept for a day instead of 5 minutes.
  start_server "$dir/tern.log" "${device_sets[@]}" --set plugins.dtls.enabled=true \
    --set 'plugins.dtls.bind_address="127.0.0.1"' --set "plugins.dtls.bind_port=$dtls_port" \
    --set "plugins.dtls.credentials.cert_file=\"$dir/cert.pem\"" --set "plugins.dtls.credentials.key_file=\"$dir/key.pem\"" \
    --set plugins.dtls.handshake_rate_per_source=0 --set plugins.dtls.max_sessions_per_source=0 \
    --set "plugins.dtls.max_sessions=$(( n + n / 10 > 150000 ? n + n / 10 : 150000 ))" \
    --set plugins.dtls.anonymous_session_timeout=86400000
  scrape "$dir/before.prom"
  local cmd=("$dbench" hold --port "$dtls_port" --sessions "$n" --rate "$dtls_rate" --sockets "$sockets"
    --source-base 127.160.0.1 --ready-file "$dir/ready.json" --duration 0 --json)
  echo "== sessions: $(shell_words "${cmd[@]}")" >&2
  commands+=("DTLS sessions: \`$(shell_words "${cmd[@]}")\`")
  "${cmd[@]}" >"$dir/hold.json" 2>"$dir/hold.err" &
  hold_pid=$!
  wait_ready "$dir" $((n / dtls_rate * 3 + 120)) "dtls-bench hold" handshakes
  local sessions
  sessions=$(field sessions "$dir/ready.json")
  echo "   $sessions sessions: $(cat "$dir/ready.json")" >&2
  echo "   settling for $dtls_settle s (idle sessions are compacted after plugins.dtls.idle_compact_after, 60 s)" >&2
  sleep "$dtls_settle"
  scrape "$dir/after.prom"
  kill -TERM "$hold_pid" 2>/dev/null || true
  wait "$hold_pid" 2>/dev/null || true
  hold_pid=
  local rss_after rss_before
  rss_before=$(metric tern_resident_bytes "$dir/before.prom")
  rss_after=$(metric tern_resident_bytes "$dir/after.prom")
  breakdown "DTLS, $sessions idle sessions" "$sessions" "$dir/before.prom" "$dir/after.prom" session
  stop_server
  dtls_rows+=("| $sessions | $(mib "$rss_after") | $(per $((rss_after - rss_before)) "$sessions") | $(per "$rss_after" "$sessions") |")
}

for n in "${plain_counts[@]}"; do if [ "$n" -gt 0 ]; then plain_run "$n"; fi; done
for n in "${dtls_counts[@]}"; do if [ "$n" -gt 0 ]; then dtls_run "$n"; fi; done

echo
echo "Machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr). Load average before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Commit: $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)."
if [ ${#plain_rows[@]} -gt 0 ]; then
  echo
  echo "| idle plain devices (2 relations each) | server RSS (MiB) | RSS per device (B) | RSS / devices (B) | import | start-up: ready / first telemetry | attribute change, worst of $sample | one-way RPC, worst of $sample | over 1 s |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${plain_rows[@]}"
fi
if [ ${#dtls_rows[@]} -gt 0 ]; then
  echo
  echo "| idle DTLS sessions | server RSS (MiB) | RSS per session (B) | RSS / sessions (B) |"
  echo "|---:|---:|---:|---:|"
  printf '%s\n' "${dtls_rows[@]}"
fi
echo
for b in "${breakdowns[@]}"; do printf '%s\n\n' "$b"; done
echo "Commands:"
for c in "${commands[@]}"; do echo "- $c"; done
