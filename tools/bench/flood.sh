#!/usr/bin/env bash
# Victim latency under a flood: what unauthenticated traffic from many loopback sources does
# to real devices of the same server. In one run, against one server process (the embedded
# default, config/tern.toml: udp + coap + json + device_api + core_embedded on a fresh
# SQLite file), it measures victim devices posting CON telemetry and reading attributes at a
# modest steady rate, first quiet, then while `tern-bench flood` runs beside them, and
# prints both, the ratio p99(flood) / p99(quiet) and the victims' failures. A third phase,
# the victims again once the flood has stopped, shows that the server recovers, and how
# much the quiet p99 moves by itself on this machine (the noise the ratio carries).
#
#   tools/bench/flood.sh [--build DIR] [--port P] [--victims N] [--victim-rate R]
#                        [--duration S] [--warmup S] [--timeout MS] [--retransmit]
#                        [--flood-rate R] [--flood-lead S] [--sources N] [--ports M]
#                        [--source-step S] [--per-pair K] [--mix LIST]
#                        [--tern-set KEY=VALUE ...]
#                        [--quick] [--keep DIR]
#
# Victims: N devices (tokens victim-0 ...; default 10), each kind (telemetry POST, GET
# attributes) paced at R requests/s in total (default 50), --warmup s (default 2) then
# --duration s measured (default 20). A failure is any answer other than 2.xx (4.29 and
# 5.03 included: the victims stay far below any limit), a timeout (no answer within
# --timeout ms, default 5000; without --retransmit a lost datagram is not sent again) or a
# request that could not be sent on time.
# Flood: `tern-bench flood` at --flood-rate datagrams/s (default 4000) from --sources
# addresses from 127.100.0.1 on (default 1000; --source-step 256 puts each in a /24 of its
# own) x --ports ports (default 100), i.e. up to
# 100 000 distinct (address, port) pairs, mixing NON requests to unknown paths, CON
# telemetry with made-up access tokens, provisioning with a wrong secret and Block1 first
# blocks announcing a 256 MiB body (--mix, see tern-bench --help). It starts --flood-lead s
# (default 25: ~100 000 datagrams, the size of the default peer table) before the victims'
# measurement and stops by itself just after it. Loopback only; every phase is bounded.
# --quick: a few seconds of everything at tiny rates (a smoke check, not a measurement).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")/../.." && pwd)
build=$here/build
port=0
victims=10
victim_rate=50
duration=20
warmup=2
timeout_ms=5000
retransmit=0
flood_rate=4000
flood_lead=25
sources=1000
ports=100
source_step=1
per_pair=1
mix=
keep=
tern_sets=()

usage() { sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "flood.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --build) build=${2:?--build needs a directory}; shift ;;
    --port) port=${2:?--port needs a number}; shift ;;
    --victims) victims=${2:?--victims needs a number}; shift ;;
    --victim-rate) victim_rate=${2:?--victim-rate needs requests/s}; shift ;;
    --duration) duration=${2:?--duration needs seconds}; shift ;;
    --warmup) warmup=${2:?--warmup needs seconds}; shift ;;
    --timeout) timeout_ms=${2:?--timeout needs ms}; shift ;;
    --retransmit) retransmit=1 ;;
    --flood-rate) flood_rate=${2:?--flood-rate needs datagrams/s}; shift ;;
    --flood-lead) flood_lead=${2:?--flood-lead needs seconds}; shift ;;
    --sources) sources=${2:?--sources needs a number}; shift ;;
    --ports) ports=${2:?--ports needs a number}; shift ;;
    --source-step) source_step=${2:?--source-step needs a number}; shift ;;
    --per-pair) per_pair=${2:?--per-pair needs a number}; shift ;;
    --mix) mix=${2:?--mix needs KIND=WEIGHT,...}; shift ;;
    --tern-set) tern_sets+=("--set" "${2:?--tern-set needs KEY=VALUE}"); shift ;;
    --quick)
      victims=2 victim_rate=20 duration=1 warmup=0.2 timeout_ms=1000
      flood_rate=300 flood_lead=0.5 sources=50 ports=10 ;;
    --keep) keep=${2:?--keep needs a directory}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

require_embedded_build "$build"
[ "$victims" -ge 1 ] 2>/dev/null || die "--victims must be at least 1"
is_number() { awk -v v="$1" 'BEGIN { exit !(v ~ /^[0-9]+(\.[0-9]+)?$/ && v > 0) }'; }
for v in "$victim_rate" "$duration" "$flood_rate" "$timeout_ms"; do is_number "$v" || die "not a positive number: '$v'"; done
is_number "$flood_lead" || [ "$flood_lead" = 0 ] || die "--flood-lead wants seconds, got '$flood_lead'"

tmp=$(mktemp -d)
flood_pid=
victim_pids=()
cleanup() {
  local p
  for p in "${victim_pids[@]}" $flood_pid; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${victim_pids[@]}" $flood_pid; do wait "$p" 2>/dev/null || true; done
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
  --set 'kernel.metrics_bind="127.0.0.1:0"' --set 'kernel.log_level="info"' "${tern_sets[@]}")
echo "== server: $(shell_words "${server_cmd[@]}")" >&2
"${server_cmd[@]}" >"$tmp/tern.log" 2>&1 &
server_pid=$!
udp_port=
for _ in $(seq 100); do
  udp_port=$(sed -nE 's/.*listening on .*:([0-9]+) \([0-9]+ sockets?\).*/\1/p' "$tmp/tern.log" | head -n1)
  [ -n "$udp_port" ] && [ -s "$db.admin-addr" ] && [ -s "$db.admin-key" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/tern.log" >&2; die "tern exited"; }
  sleep 0.1
done
[ -n "$udp_port" ] && [ -s "$db.admin-addr" ] || { cat "$tmp/tern.log" >&2; die "tern not ready after 10 s"; }
metrics_url=$(sed -nE 's#.*metrics on (http://[^ ]*/metrics).*#\1#p' "$tmp/tern.log" | head -n1)
admin=http://$(cat "$db.admin-addr")
key=$(cat "$db.admin-key")
auth=(-H "Authorization: Bearer $key" -H "Content-Type: application/json")

# A profile whose provisioning key the flood knows (its secrets are always wrong), and the
# victims. The provision kind then costs what a real attacker's does: the key is found.
provision_key=flood-provision-key
code=$(curl -sS -o "$tmp/profile.json" -w '%{http_code}' "${auth[@]}" -X POST "$admin/api/profiles" \
  -d "{\"name\":\"flood-profile\",\"provision\":{\"strategy\":\"allow-create\",\"key\":\"$provision_key\",\"secret\":\"the-right-secret\"}}")
[ "$code" = 201 ] || die "creating the provisioning profile: HTTP $code $(cat "$tmp/profile.json")"
{
  for ((i = 0; i < victims; i++)); do
    printf 'url = "%s/api/devices"\nheader = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\ndata = "{\\"name\\":\\"victim-%d\\",\\"token\\":\\"victim-%d\\"}"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
      "$admin" "$key" "$i" "$i"
    [ $((i + 1)) -lt "$victims" ] && echo next
  done
} >"$tmp/devices.curl"
curl -sS -K "$tmp/devices.curl" >"$tmp/devices.codes"
created=$(grep -c '^201$' "$tmp/devices.codes" || true)
[ "$created" = "$victims" ] || die "created $created of $victims victim devices: $(sort "$tmp/devices.codes" | uniq -c | tr '\n' ' ')"

base=coap://127.0.0.1:$udp_port
victim_common=(--devices "$victims" --clients "$victims" --token-pattern 'victim-{i}' --concurrency 4)
# Client attributes, so that GET attributes has something to answer (2.05, not 4.04).
"$bench" "${victim_common[@]}" --requests "$victims" --timeout 2000 --method POST --content-format 50 \
  --payload '{"firmware":"1.0","victim":{i}}' --json "$base/api/v1/{token}/attributes" >"$tmp/attributes.json" 2>/dev/null || true
[ "$(field ok "$tmp/attributes.json")" = "$victims" ] || { cat "$tmp/attributes.json" "$tmp/tern.log" >&2; die "tern did not store the victims' attributes"; }

# Limits the server has at the time of the run (settings whose name speaks of rates, limits,
# bursts or sources): printed, so a reader can check that the victims stay within them.
limits=
for plugin in coap device_api core_embedded; do
  found=$("$tern_bin" config docs "$build/plugins/libtern-$plugin.so" 2>/dev/null |
    awk -F'|' -v p="$plugin" 'tolower($2) ~ /rate|limit|per_source|per_address|per_prefix|per_second|burst|bucket/ && $2 !~ /wal_limit|limited/ {
      gsub(/[ `]/, "", $2); gsub(/[ `]/, "", $4); printf "%s.%s=%s ", p, $2, $4 }' || true)
  limits+=$found
done

per_kind=$victim_rate
victim_args=(--rate "$per_kind" --warmup "$warmup" --duration "$duration" --timeout "$timeout_ms")
[ "$retransmit" = 1 ] && victim_args+=(--retransmit)
tele_cmd=("$bench" "${victim_common[@]}" "${victim_args[@]}" --method POST --content-format 50
  --payload '{"temperature":{rand},"seq":{seq}}' --json "$base/api/v1/{token}/telemetry")
attr_cmd=("$bench" "${victim_common[@]}" "${victim_args[@]}" --json "$base/api/v1/{token}/attributes")

# The two victim loads at once; each writes $tmp/<phase>-<kind>.json.
run_victims() {
  local phase=$1
  victim_pids=()
  "${tele_cmd[@]}" >"$tmp/$phase-telemetry.json" 2>"$tmp/$phase-telemetry.err" &
  victim_pids+=($!)
  "${attr_cmd[@]}" >"$tmp/$phase-attributes.json" 2>"$tmp/$phase-attributes.err" &
  victim_pids+=($!)
  local p rc=0
  for p in "${victim_pids[@]}"; do wait "$p" || rc=1; done
  victim_pids=()
  [ "$rc" = 0 ] || { cat "$tmp/$phase"-*.err >&2; die "a victim load failed ($phase)"; }
}

metric_lines() { # the counters that say what the server refused or dropped, non-zero only
  [ -n "$metrics_url" ] || return 0
  curl -sS --max-time 5 "$metrics_url" 2>/dev/null |
    grep -E '^(coap_shed_total|coap_dropped_total|coap_peers|coap_exchanges|device_api_requests_total\{[^}]*code="(4\.29|5\.0[0-9]|none)"|[a-z_]*(rate_limit|limited|negative)[a-z_]*)' |
    awk '$2 != 0' || true
}

echo "== quiet: victims alone" >&2
run_victims quiet
metric_lines >"$tmp/metrics-quiet.txt"

# The flood runs the lead, the victims' warm-up and window, and a little more (the victims'
# last answers); then it stops by itself.
flood_duration=$(awk -v l="$flood_lead" -v w="$warmup" -v d="$duration" 'BEGIN { t = d / 10; if (t > 2) t = 2; printf "%.3f", l + w + d + t }')
flood_cmd=("$bench" flood --rate "$flood_rate" --duration "$flood_duration" --sources "$sources" --ports "$ports"
  --per-pair "$per_pair" --provision-key "$provision_key" --json)
[ "$source_step" != 1 ] && flood_cmd+=(--source-step "$source_step")
[ -n "$mix" ] && flood_cmd+=(--mix "$mix")
flood_cmd+=("$base")
echo "== flood: $(shell_words "${flood_cmd[@]}")" >&2
"${flood_cmd[@]}" >"$tmp/flood.json" 2>"$tmp/flood.err" &
flood_pid=$!
sleep "$flood_lead"
kill -0 "$flood_pid" 2>/dev/null || { cat "$tmp/flood.err" >&2; die "the flood ended before the victims started"; }
echo "== under the flood: victims" >&2
run_victims flood
# Bounded: the flood stops itself; past its duration + 10 s it is stopped.
for _ in $(seq $(( ${flood_duration%.*} * 10 + 100 ))); do kill -0 "$flood_pid" 2>/dev/null || break; sleep 0.1; done
kill -TERM "$flood_pid" 2>/dev/null || true
wait "$flood_pid" || { cat "$tmp/flood.err" >&2; die "the flood generator failed"; }
flood_pid=
metric_lines >"$tmp/metrics-flood.txt"
echo "== after the flood: victims" >&2
run_victims after
tern_alive=yes
kill -0 "$server_pid" 2>/dev/null || tern_alive="NO: tern exited during the run"
stop_server

stored=
if command -v sqlite3 >/dev/null; then
  stored=$(sqlite3 "$db" 'SELECT count(*) FROM ts_kv' 2>/dev/null || true)
fi

# ---- report ------------------------------------------------------------------------------
failures() { # errors + timeouts + rst + unsent of one JSON
  awk -v e="$(field errors "$1")" -v t="$(field timeouts "$1")" -v r="$(field rst "$1")" -v u="$(field unsent "$1")" \
    'BEGIN { printf "%d", e + t + r + u }'
}
detail() { # "2 errors (5.03: 2), 0 timeouts"
  local codes
  codes=$(sed -n 's/.*"errors_by_code":{\([^}]*\)}.*/\1/p' "$1" | tr -d '"' | sed 's/:/: /g; s/,/, /g')
  echo "$(field errors "$1") errors${codes:+ ($codes)}, $(field timeouts "$1") timeouts, $(field unsent "$1") unsent"
}
row() { # phase kind file
  echo "| $1 | $2 | $(field p50 "$3") | $(field p99 "$3") | $(field max "$3") | $(field ok "$3")/$(field sent "$3") | $(failures "$3") | $(detail "$3") |"
}
ratio() { awk -v a="$(field p99 "$1")" -v b="$(field p99 "$2")" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

tele_ratio=$(ratio "$tmp/flood-telemetry.json" "$tmp/quiet-telemetry.json")
attr_ratio=$(ratio "$tmp/flood-attributes.json" "$tmp/quiet-attributes.json")
flood_failures=$(( $(failures "$tmp/flood-telemetry.json") + $(failures "$tmp/flood-attributes.json") ))
quiet_failures=$(( $(failures "$tmp/quiet-telemetry.json") + $(failures "$tmp/quiet-attributes.json") ))
after_failures=$(( $(failures "$tmp/after-telemetry.json") + $(failures "$tmp/after-attributes.json") ))
worst=$(awk -v a="$tele_ratio" -v b="$attr_ratio" 'BEGIN { m = a + 0; if (b + 0 > m) m = b + 0; printf "%.2f", m }')
f=$tmp/flood.json
kinds=$(sed -n 's/.*"sent_by_kind":{\([^}]*\)}.*/\1/p' "$f" | tr -d '"' | sed 's/:/ /g; s/,/, /g')
answers=$(sed -n 's/.*"answers_by_code":{\([^}]*\)}.*/\1/p' "$f" | tr -d '"' | sed 's/:/: /g; s/,/, /g')

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
echo
echo "Machine: $(nproc) CPUs ($cpu_model), $(uname -sr), $(date -u '+%Y-%m-%d %H:%M UTC'). No pinning."
echo "Server: $tern_bin and $build/plugins (this script at commit $commit)."
echo "Load average before the run: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Victims: $victims devices; telemetry POST (CON, JSON) and GET attributes (CON) at $per_kind requests/s each," \
  "${warmup} s warm-up, ${duration} s measured, timeout ${timeout_ms} ms$([ "$retransmit" = 1 ] && echo ", RFC 7252 retransmission" || echo ", no retransmission")."
echo "Flood: $(field sent "$f") datagrams in $(field elapsed_s "$f") s ($(field achieved_rate "$f")/s; $kinds)" \
  "from $(field pairs "$f") distinct (address, port) pairs ($(field addresses "$f") addresses from $(sed -n 's/.*"source_base":"\([0-9.]*\)".*/\1/p' "$f") in steps of $(field source_step "$f") x $(field ports "$f") ports), starting ${flood_lead} s before the victims' window."
echo "Answers the flood got: ${answers:-none}; empty ACKs $(field empty_acks "$f"), RST $(field rst "$f")."
echo "Rate-limit settings found in the plugins' schemas: ${limits:-none}."
echo
echo "| phase | victim request | p50 µs | p99 µs | max µs | ok/sent | failures | detail |"
echo "|---|---|---:|---:|---:|---|---:|---|"
row quiet "telemetry POST" "$tmp/quiet-telemetry.json"
row quiet "attributes GET" "$tmp/quiet-attributes.json"
row flood "telemetry POST" "$tmp/flood-telemetry.json"
row flood "attributes GET" "$tmp/flood-attributes.json"
row after "telemetry POST" "$tmp/after-telemetry.json"
row after "attributes GET" "$tmp/after-attributes.json"
echo
echo "p99(flood) / p99(quiet): telemetry $tele_ratio, attributes $attr_ratio (target: under 2)."
echo "Victim failures under the flood: $flood_failures (quiet: $quiet_failures, after: $after_failures; target: 0)."
echo "p99(after) / p99(quiet), the same load twice without a flood: telemetry $(ratio "$tmp/after-telemetry.json" "$tmp/quiet-telemetry.json"), attributes $(ratio "$tmp/after-attributes.json" "$tmp/quiet-attributes.json")."
if awk -v w="$worst" 'BEGIN { exit !(w < 2) }' && [ "$flood_failures" = 0 ]; then
  echo "Target: met in this run."
else
  echo "Target: NOT met in this run."
fi
echo "tern alive at the end: $tern_alive.${stored:+ Values in ts_kv after the stop: $stored.}"
if [ -s "$tmp/metrics-flood.txt" ]; then
  echo
  echo "Server counters after the flood (non-zero):"
  echo
  sed 's/^/    /' "$tmp/metrics-flood.txt"
fi
echo
echo "Commands:"
echo
echo "- server: \`$(shell_words "${server_cmd[@]}")\`"
echo "- victims, telemetry: \`$(shell_words "${tele_cmd[@]}")\`"
echo "- victims, attributes: \`$(shell_words "${attr_cmd[@]}")\`"
echo "- flood: \`$(shell_words "${flood_cmd[@]}")\`"
