#!/usr/bin/env bash
# Protobuf beside JSON: durable telemetry in both payload formats, back to back against one
# server process (the embedded default, config/tern.toml, with the protobuf plugin built),
# so that what a protobuf message costs the server can be compared with a JSON one of the
# same content on the same machine at the same moment.
#
#   tools/bench/protobuf.sh [--build DIR] [--devices N] [--clients N] [--concurrency K]
#                           [--duration S] [--warmup S] [--rounds R] [--port P]
#                           [--tern-set KEY=VALUE ...] [--keep DIR] [--perf]
#
# It creates a profile `bench-protobuf` with payload PROTOBUF and no schemas of its own, so
# its devices use ThingsBoard's default telemetry message (temperature = 1 and humidity = 2,
# both double), then N devices in the default (JSON) profile with tokens json-0 ... and N in
# bench-protobuf with tokens pb-0 ... (default 5000 each). Both kinds post the same two
# values per message, temperature = {rand}.5 and humidity = {seq}.5 (so both store two
# doubles): as JSON text (Content-Format 50) and as the protobuf message (Content-Format
# 42). Each phase is a closed loop (CON, --clients sockets x --concurrency in flight,
# --warmup s then --duration s; defaults 250 x 16, 3 s, 10 s): the durable peak. A socket
# sends for its devices in turn, so with a quarter more devices than requests in flight a
# device hardly ever has two messages in flight, two of its messages do not share a receive
# millisecond (the second would replace the first's values, as ThingsBoard does for the
# same key and ts), and every value acknowledged with 2.01 must be in the database
# afterwards. Before the rounds every device sends a first message, 50 at a time (the
# device API's per-source limit on looking up tokens not yet cached would answer a first
# contact of thousands at once with 4.29), so the rounds measure devices the server knows.
# The phases alternate JSON, protobuf, --rounds times (default 2), so the
# machine's drift shows between rounds. Around each phase it reads the server's CPU time
# (/proc/PID/stat utime + stime, every thread) and counts the values in the database
# (sqlite3, between phases), and reports CPU per message stored. Afterwards it checks every
# acknowledged value is stored, and that both formats stored the same types.
# --perf: `perf record -g` on the server during each phase (it costs the server CPU, so use
# it for where the time goes, not for the table), and the top of `perf report` per phase.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
build=$here/build
devices=5000
clients=250
concurrency=16
duration=10
warmup=3
rounds=2
port=47683
keep=
perf_on=0
tern_sets=()

usage() { sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "protobuf.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --build) build=${2:?--build needs a directory}; shift ;;
    --devices) devices=${2:?--devices needs a number}; shift ;;
    --clients) clients=${2:?--clients needs a number}; shift ;;
    --concurrency) concurrency=${2:?--concurrency needs a number}; shift ;;
    --duration) duration=${2:?--duration needs seconds}; shift ;;
    --warmup) warmup=${2:?--warmup needs seconds}; shift ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift ;;
    --port) port=${2:?--port needs a number}; shift ;;
    --tern-set) tern_sets+=("--set" "${2:?--tern-set needs KEY=VALUE}"); shift ;;
    --keep) keep=${2:?--keep needs a directory}; shift ;;
    --perf) perf_on=1 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

require_embedded_build "$build"
[ -f "$build/plugins/libtern-protobuf.so" ] || die "missing $build/plugins/libtern-protobuf.so (ninja -C $build tern-plugin-protobuf)"
[ "$perf_on" = 0 ] || command -v perf >/dev/null || die "--perf needs perf (apt-get install linux-perf)"
command -v sqlite3 >/dev/null || die "sqlite3 is needed to count the stored values (apt-get install sqlite3)"
[ "$devices" -ge 1 ] 2>/dev/null && [ "$clients" -ge 1 ] 2>/dev/null || die "--devices and --clients must be at least 1"
[ "$rounds" -ge 1 ] 2>/dev/null || die "--rounds must be at least 1"
ample=1
if [ $((devices * 4)) -lt $((clients * concurrency * 5)) ]; then
  ample=0
  echo "protobuf.sh: warning: $devices devices for $((clients * concurrency)) requests in flight: a device's two messages may share a millisecond and store once" >&2
fi
# What a shortfall of stored values means.
shortfall() {
  if [ "$ample" = 1 ]; then echo "LOST DATA (unless two messages of a device shared a millisecond)"; else echo "same-millisecond messages of a device replace each other (add devices)"; fi
}

tmp=$(mktemp -d)
cleanup() {
  stop_server
  if [ -n "$keep" ]; then mkdir -p "$keep" && cp -r "$tmp"/. "$keep"/; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
db=$tmp/tern.db
server_cmd=("$tern_bin" run --config "$here/config/tern.toml"
  --set "kernel.plugin_path=[\"$build/plugins\"]"
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

code=$(curl -sS -o "$tmp/profile.json" -w '%{http_code}' -H "Authorization: Bearer $key" \
  -H "Content-Type: application/json" -X POST "$admin/api/profiles" \
  -d '{"name":"bench-protobuf","payload":"PROTOBUF"}')
[ "$code" = 201 ] || die "creating the protobuf profile: HTTP $code $(cat "$tmp/profile.json")"

# create_devices PREFIX PROFILE: N devices named and tokened PREFIX-I, over one connection.
create_devices() {
  local prefix=$1 profile=$2 i
  {
    for ((i = 0; i < devices; i++)); do
      printf 'url = "%s/api/devices"\nheader = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\ndata = "{\\"name\\":\\"%s-%d\\",\\"token\\":\\"%s-%d\\",\\"profile\\":\\"%s\\"}"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
        "$admin" "$key" "$prefix" "$i" "$prefix" "$i" "$profile"
      [ $((i + 1)) -lt "$devices" ] && echo next
    done
  } >"$tmp/$prefix.curl"
  curl -sS -K "$tmp/$prefix.curl" >"$tmp/$prefix.codes"
  local created; created=$(grep -c '^201$' "$tmp/$prefix.codes" || true)
  [ "$created" = "$devices" ] || die "created $created of $devices $prefix devices; codes: $(sort "$tmp/$prefix.codes" | uniq -c | tr '\n' ' ')"
}
echo "== creating $devices JSON devices (json-I, profile default) and $devices protobuf devices (pb-I, profile bench-protobuf)" >&2
t0=$(now_ns)
create_devices json default
create_devices pb bench-protobuf
echo "   $((2 * devices)) devices in $(( ($(now_ns) - t0) / 1000000 )) ms" >&2

base=coap://127.0.0.1:$port
json_payload='{"temperature":{rand}.5,"humidity":{seq}.5}'
proto_payload='1:double={rand}.5,2:double={seq}.5'
json_args=(--token-pattern 'json-{i}' --content-format 50 --payload "$json_payload")
proto_args=(--token-pattern 'pb-{i}' --content-format 42 --payload-protobuf "$proto_payload")

# One message of each kind first: both formats must be stored before anything is measured.
probe() {
  local name=$1; shift
  for _ in $(seq 50); do
    "$bench" --requests 1 --clients 1 --devices 1 --timeout 500 --method POST --json "$@" \
      "$base/api/v1/{token}/telemetry" >"$tmp/probe-$name.json" 2>/dev/null || true
    [ "$(field ok "$tmp/probe-$name.json")" = 1 ] && return 0
    sleep 0.1
  done
  cat "$tmp/probe-$name.json" "$tmp/tern.log" >&2
  die "tern does not store $name telemetry for device 0"
}
probe json "${json_args[@]}"
probe protobuf "${proto_args[@]}"

# Server CPU time in ns: utime + stime of /proc/PID/stat (the whole process, every thread).
hz=$(getconf CLK_TCK)
proc_cpu_ns() { awk -v hz="$hz" '{ sub(/^.*\) /, ""); printf "%.0f", ($12 + $13) * 1e9 / hz }' "/proc/$1/stat"; }
stored_values() { sqlite3 "$db" 'SELECT count(*) FROM ts_kv'; }

rows=()
commands=("server: \`$(shell_words "${server_cmd[@]}")\`")
acked=2 # the probes
declare -A cpu_per_msg rate_of
perf_reports=()
common=(--clients "$clients" --concurrency "$concurrency" --warmup "$warmup" --duration "$duration"
  --devices "$devices" --method POST)
phase() {
  local name=$1 round=$2; shift 2
  local out=$tmp/$name-$round.json
  local cmd=("$bench" "${common[@]}" "$@" --json "$base/api/v1/{token}/telemetry")
  echo "== $name, round $round: $(shell_words "${cmd[@]}")" >&2
  [ "$round" = 1 ] && commands+=("$name: \`$(shell_words "${cmd[@]}")\`")
  local c0 s0 c1 s1 t0 t1
  local perf_pid=
  if [ "$perf_on" = 1 ]; then
    perf record -q -g -F 499 -p "$server_pid" -o "$tmp/$name-$round.perf" 2>/dev/null &
    perf_pid=$!
  fi
  s0=$(stored_values); c0=$(proc_cpu_ns "$server_pid"); t0=$(now_ns)
  "${cmd[@]}" >"$out"
  c1=$(proc_cpu_ns "$server_pid"); t1=$(now_ns); s1=$(stored_values)
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    { perf report -q -i "$tmp/$name-$round.perf" --no-children -g none --sort comm,dso --percent-limit 0.4
      echo
      perf report -q -i "$tmp/$name-$round.perf" --no-children -g none --sort dso,symbol --percent-limit 0.1 \
        --dsos libtern-json.so,libtern-protobuf.so,"$(basename "$(readlink -f "$(ldd "$build/plugins/libtern-protobuf.so" |
          sed -n 's/.*=> \([^ ]*libprotobuf\.so[^ ]*\).*/\1/p')")")"
    } 2>/dev/null | grep -v '^$' | grep -v '^#' | cut -c1-150 >"$tmp/$name-$round.perf.txt" || true
    perf_reports+=("$name, round $round" "$tmp/$name-$round.perf.txt")
  fi
  local msgs=$(( (s1 - s0) / 2 )) ok_all; ok_all=$(field ok_total "$out")
  acked=$((acked + ok_all))
  # Every 2.01 of the phase, warm-up included, must have stored its two values by now.
  [ "$msgs" = "$ok_all" ] || echo "protobuf.sh: $name round $round: $ok_all messages acknowledged, $msgs stored: $(shortfall)" >&2
  local cpu busy tp
  cpu=$(awk -v c=$((c1 - c0)) -v n="$msgs" 'BEGIN { if (n > 0) printf "%.1f", c / n / 1000 }')
  busy=$(awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) 'BEGIN { if (t > 0) printf "%.2f", c / t }')
  tp=$(printf '%.0f' "$(field throughput "$out")")
  cpu_per_msg[$name-$round]=$cpu
  rate_of[$name-$round]=$tp
  rows+=("| $round | $name | $tp | $(field p50 "$out") | $(field p99 "$out") | $msgs | $cpu | $busy | $(field ok "$out")/$(field sent "$out"), $(field errors "$out") errors, $(field timeouts "$out") timeouts; $(( $(field responses_total "$out") - ok_all )) not 2.xx over the whole run |")
}

# first_contact NAME ARGS...: one message per device (about; the sockets take turns),
# stored and counted like the rest.
first_contact() {
  local name=$1; shift
  local out=$tmp/$name-first.json s0 s1 ok_all
  local cmd=("$bench" --clients 50 --concurrency 1 --requests "$devices" --devices "$devices" --method POST
    "$@" --json "$base/api/v1/{token}/telemetry")
  echo "== $name, first contact: $(shell_words "${cmd[@]}")" >&2
  commands+=("$name, first contact: \`$(shell_words "${cmd[@]}")\`")
  s0=$(stored_values)
  "${cmd[@]}" >"$out"
  s1=$(stored_values); ok_all=$(field ok_total "$out")
  acked=$((acked + ok_all))
  [ $(( (s1 - s0) / 2 )) = "$ok_all" ] || echo "protobuf.sh: $name first contact: $ok_all messages acknowledged, $(( (s1 - s0) / 2 )) stored: $(shortfall)" >&2
  [ "$(field ok "$out")" = "$(field sent "$out")" ] || echo "protobuf.sh: $name first contact: not every device answered 2.01: $(cat "$out")" >&2
}
first_contact json "${json_args[@]}"
first_contact protobuf "${proto_args[@]}"

for ((r = 1; r <= rounds; r++)); do
  phase json "$r" "${json_args[@]}"
  phase protobuf "$r" "${proto_args[@]}"
done
stop_server

# Every acknowledged value must be stored; the stored type codes by device kind show that
# both formats stored the same types.
stored=$(stored_values)
types=$(sqlite3 -separator ' ' "$db" "SELECT kind, type, count(*) FROM
  (SELECT substr(d.name, 1, instr(d.name, '-') - 1) AS kind, k.type AS type
   FROM ts_kv k JOIN devices d ON d.id = k.device_id) GROUP BY kind, type ORDER BY kind, type" | tr '\n' ';')

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
echo
echo "Machine: $(nproc) CPUs ($cpu_model), $(uname -sr), $(date -u +%Y-%m-%d) at commit $commit. No pinning."
echo "Load average before the run: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Load: $devices devices per format on $clients client sockets x $concurrency in flight, CON, closed loop, ${warmup} s warm-up, ${duration} s measured, answered 2.01 after the commit."
echo "JSON: \`$json_payload\` (Content-Format 50). Protobuf: \`$proto_payload\` in ThingsBoard's default telemetry message (Content-Format 42)."
echo
echo "| round | payload | messages/s | p50 µs | p99 µs | messages stored | server CPU µs/message stored | server busy (cores) | ok/sent |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---|"
for row in "${rows[@]}"; do echo "$row"; done
echo
echo "Protobuf ÷ JSON in the same round:"
echo
for ((r = 1; r <= rounds; r++)); do
  awk -v r="$r" -v cj="${cpu_per_msg[json-$r]}" -v cp="${cpu_per_msg[protobuf-$r]}" \
      -v tj="${rate_of[json-$r]}" -v tp="${rate_of[protobuf-$r]}" \
    'BEGIN { printf "- round %d: server CPU per message %.2f, messages/s %.2f\n", r, (cj > 0 ? cp / cj : 0), (tj > 0 ? tp / tj : 0) }'
done
echo
echo "Stored values after the stop: $stored in ts_kv; $((acked * 2)) were acknowledged (2 per message answered 2.01, warm-ups and probes included). By device kind, type code and count: ${types%;}."
[ "$stored" = $((acked * 2)) ] || echo "protobuf.sh: $stored values stored, $((acked * 2)) acknowledged: $(shortfall)" >&2
for ((i = 0; i < ${#perf_reports[@]}; i += 2)); do
  echo "perf, ${perf_reports[i]}: the server's samples by thread and library (0.4 % and above), then the payload adaptors' functions (0.1 % and above):"
  echo
  echo '```'
  cat "${perf_reports[i + 1]}"
  echo '```'
  echo
done
echo
echo "Commands:"
echo
for c in "${commands[@]}"; do echo "- $c"; done
