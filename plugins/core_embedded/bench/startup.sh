#!/usr/bin/env bash
# startup.sh BUILD DATABASE [PORT] [TOKEN]: how long `tern run` (the default manifest) takes
# with the devices in DATABASE until (1) the udp port answers a CoAP request and (2) a
# device's telemetry (TOKEN, default dev-0) is acknowledged with 2.01 -- its authentication
# a miss that reads the database, as after every start. Prints one JSON line; stops the server.
# Fill a database first: `tern device import FILE` against a server using it (README, "Bulk import").
set -euo pipefail
build=${1:?usage: startup.sh BUILD DATABASE [PORT] [TOKEN]}
db=${2:?usage: startup.sh BUILD DATABASE [PORT] [TOKEN]}
port=${3:-47750}
token=${4:-dev-0}
here=$(cd "$(dirname "$0")/../../.." && pwd)
command -v coap-client-openssl >/dev/null || { echo "startup.sh: needs coap-client-openssl (apt-get install libcoap3-bin)" >&2; exit 1; }
[ -f "$db" ] || { echo "startup.sh: no database $db" >&2; exit 1; }
log=$(mktemp)
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# One CoAP POST; prints the response code (e.g. 2.01, 4.04) or nothing when none came.
post() {
  coap-client-openssl -v 6 -m post -e '{"startup":1}' -B 1 "coap://127.0.0.1:$port/api/v1/$1/telemetry" 2>&1 |
    sed -n 's/.* t:ACK c:\([0-9]\.[0-9][0-9]\).*/\1/p' | head -1
}
t0=$(now_ms)
"$build/bin/tern" run --config "$here/config/tern.toml" \
  --set 'plugins.udp.bind_address="127.0.0.1"' --set "plugins.udp.bind_port=$port" \
  --set "plugins.core_embedded.database=\"$db\"" --set 'plugins.core_embedded.admin_bind="127.0.0.1:0"' \
  --set 'kernel.metrics_bind=""' --set 'kernel.log_level="warn"' >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
bound= answered= acked= code=
# The port first (a request sent before it is bound waits a whole second for its answer).
for _ in $(seq 3000); do
  kill -0 $pid 2>/dev/null || { echo "startup.sh: tern exited:" >&2; cat "$log" >&2; exit 1; }
  ss -Hlun "sport = :$port" | grep -q . && { bound=$(( $(now_ms) - t0 )); break; }
  sleep 0.01
done
[ -n "$bound" ] || { echo "startup.sh: port $port not bound within 30 s" >&2; exit 1; }
for _ in $(seq 600); do
  kill -0 $pid 2>/dev/null || { echo "startup.sh: tern exited:" >&2; cat "$log" >&2; exit 1; }
  code=$(post "$token")
  [ -n "$code" ] && [ -z "$answered" ] && answered=$(( $(now_ms) - t0 ))
  [ "$code" = 2.01 ] && { acked=$(( $(now_ms) - t0 )); break; }
  sleep 0.01
done
[ -n "$acked" ] || { echo "startup.sh: no 2.01 for $token within the wait (last answer: ${code:-none})" >&2; exit 1; }
rss_kb=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status)
printf '{"database_bytes":%s,"udp_bound_ms":%s,"udp_answered_ms":%s,"telemetry_acked_ms":%s,"rss_kb":%s}\n' \
  "$(stat -c %s "$db")" "$bound" "$answered" "$acked" "$rss_kb"
