#!/bin/sh
# tern-bench hold against the real server (config/tern.toml: udp + coap + device_api +
# core_embedded on a temporary SQLite file): 200 devices, each from its own (address, port)
# of 127.16.0.0/12 over 16 sockets, register Observe on /attributes and /rpc; once the ready
# file says 400 registered, a shared-attribute change for 3 devices and a one-way RPC for 1
# through the admin API must each reach its device (a notify-log line) within 5 s; a deleted
# device's relations end (4.xx) and are registered again, refused; --refresh re-registers.
# Exits 77 (ctest: skipped) when the server or its plugins are not built, or curl is missing.
# Usage: hold_test.sh path/to/tern-bench BUILD_DIR
set -u
bench=${1:?usage: hold_test.sh path/to/tern-bench BUILD_DIR}
build=${2:?usage: hold_test.sh path/to/tern-bench BUILD_DIR}
here=$(cd "$(dirname "$0")/../../.." && pwd)
tern=$build/bin/tern
[ -x "$tern" ] || { echo "SKIP: $tern not built"; exit 77; }
for p in udp coap json device_api core_embedded; do
    [ -f "$build/plugins/libtern-$p.so" ] || { echo "SKIP: plugin $p not built"; exit 77; }
done
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }

dir=$(mktemp -d)
server=
holder=
cleanup() {
    [ -n "$holder" ] && kill "$holder" 2>/dev/null && wait "$holder" 2>/dev/null
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    echo "--- server log" >&2; tail -n 20 "$dir/tern.log" >&2 2>/dev/null
    exit 1
}
field() { sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p" "$2"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# The server on the first port of 47710..47719 it can bind; admin API on a free port.
db=$dir/tern.db
port=
for p in 47710 47711 47712 47713 47714 47715 47716 47717 47718 47719; do
    [ -n "$(ss -Hlun "sport = :$p" 2>/dev/null)" ] && continue
    rm -f "$db.admin-addr"
    "$tern" run --config "$here/config/tern.toml" \
        --set 'plugins.udp.bind_address="127.0.0.1"' --set "plugins.udp.bind_port=$p" \
        --set "plugins.core_embedded.database=\"$db\"" --set 'plugins.core_embedded.admin_bind="127.0.0.1:0"' \
        --set 'plugins.device_api.source_rate=0' \
        --set 'kernel.metrics_bind=""' --set 'kernel.log_level="warn"' >"$dir/tern.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do
        [ -s "$db.admin-addr" ] && [ -s "$db.admin-key" ] && break
        kill -0 "$server" 2>/dev/null || break
        sleep 0.1
    done
    if [ -s "$db.admin-addr" ] && kill -0 "$server" 2>/dev/null; then port=$p; break; fi
    kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; server=
done
[ -n "$port" ] || fail "tern did not start on any port of 47710..47719"
admin=http://$(cat "$db.admin-addr")
key=$(cat "$db.admin-key")

# 200 devices dev-0 .. dev-199 over one kept-alive connection.
i=0
while [ $i -lt 200 ]; do
    [ $i -gt 0 ] && echo next
    printf 'url = "%s/api/devices"\nheader = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\ndata = "{\\"name\\":\\"dev-%d\\",\\"token\\":\\"dev-%d\\"}"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
        "$admin" "$key" $i $i
    i=$((i + 1))
done >"$dir/devices.curl"
curl -sS -K "$dir/devices.curl" >"$dir/devices.codes" || fail "curl could not create the devices"
[ "$(grep -c '^201$' "$dir/devices.codes")" = 200 ] || fail "devices not created: $(sort "$dir/devices.codes" | uniq -c)"

"$bench" hold --devices 200 --sockets 16 --rate 2000 --window 100 \
    --observe '/api/v1/{token}/attributes' --observe '/api/v1/{token}/rpc' \
    --ready-file "$dir/ready.json" --notify-log "$dir/notify.log" --json \
    "coap://127.0.0.1:$port" >"$dir/hold.json" 2>"$dir/hold.err" &
holder=$!
for _ in $(seq 200); do
    [ -s "$dir/ready.json" ] && break
    kill -0 "$holder" 2>/dev/null || fail "hold exited: $(cat "$dir/hold.err")"
    sleep 0.1
done
[ -s "$dir/ready.json" ] || fail "no ready file after 20 s"
[ "$(field registered "$dir/ready.json")" = 400 ] || fail "ready: $(cat "$dir/ready.json")"
[ "$(field devices "$dir/ready.json")" = 200 ] || fail "ready: $(cat "$dir/ready.json")"

# Downlinks: a shared attribute of devices 3, 100 and 199 (path 0), a one-way RPC to 42 (path 1).
api() { curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" -H 'Content-Type: application/json' -X POST "$admin$1" -d "$2"; }
sent_ms=$(now_ms)
for d in 3 100 199; do
    code=$(api "/api/devices/dev-$d/attributes/shared" "{\"holdTest\":$d}")
    [ "$code" = 200 ] || fail "attribute change for dev-$d: HTTP $code"
done
code=$(api /api/devices/dev-42/rpc '{"method":"holdPing","params":{"n":1},"oneway":true,"wait":false,"timeout":60000}')
case $code in 200|202) ;; *) fail "one-way RPC to dev-42: HTTP $code" ;; esac

# Each must arrive within 5 s: a notify-log line "<unix_ns> <device> <path> 2.xx <bytes>".
arrived() { grep -q "^[0-9]* $1 $2 2\.[0-9][0-9] [1-9][0-9]*\$" "$dir/notify.log"; }
for want in "3 0" "100 0" "199 0" "42 1"; do
    # shellcheck disable=SC2086
    set -- $want
    for _ in $(seq 50); do arrived "$1" "$2" && break; sleep 0.1; done
    arrived "$1" "$2" || fail "no notification for device $1 path $2 within 5 s: $(cat "$dir/notify.log")"
    at_ms=$(( $(grep "^[0-9]* $1 $2 " "$dir/notify.log" | head -n 1 | cut -d' ' -f1) / 1000000 ))
    [ $((at_ms - sent_ms)) -lt 5000 ] || fail "device $1 path $2 notified $((at_ms - sent_ms)) ms after the change"
done
# Nobody else was notified.
[ "$(wc -l <"$dir/notify.log")" -eq 4 ] || fail "expected 4 notifications, got: $(cat "$dir/notify.log")"

# A deleted device loses both relations (a 4.xx notification each); it registers them again
# after 1 s and is refused.
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" -X DELETE "$admin/api/devices/dev-9")
[ "$code" = 200 ] || fail "deleting dev-9: HTTP $code"
lost() { grep -q "^[0-9]* 9 $1 4\.[0-9][0-9] " "$dir/notify.log"; }
for _ in $(seq 50); do lost 0 && lost 1 && break; sleep 0.1; done
lost 0 && lost 1 || fail "dev-9's relations did not end with a 4.xx: $(cat "$dir/notify.log")"
sleep 2

# SIGTERM ends the hold: one JSON line, the other relations still registered, nothing unexplained.
kill -TERM "$holder"
wait "$holder"
rc=$?
holder=
[ $rc -eq 0 ] || fail "hold exited $rc: $(cat "$dir/hold.err")"
for k in "registered 398" "refused 2" "failed 0" "lost 2" "reregistrations 2" "notifications 6" "malformed 0" \
    "stray 0" "send_errors 0"; do
    set -- $k
    [ "$(field "$1" "$dir/hold.json")" = "$2" ] || fail "final $1 != $2: $(cat "$dir/hold.json")"
done

# --refresh 1: 20 more devices register every relation again each second, and stay registered.
timeout 20 "$bench" hold --devices 20 --first 150 --sockets 4 --refresh 1 --duration 3 \
    --observe '/api/v1/{token}/attributes' --observe '/api/v1/{token}/rpc' --json \
    "coap://127.0.0.1:$port" >"$dir/refresh.json" 2>"$dir/refresh.err" || fail "refresh hold: $(cat "$dir/refresh.err")"
for k in "registered 40" "failed 0" "refused 0" "stray 0" "malformed 0"; do
    set -- $k
    [ "$(field "$1" "$dir/refresh.json")" = "$2" ] || fail "refresh: $1 != $2: $(cat "$dir/refresh.json")"
done
[ "$(field refreshes "$dir/refresh.json")" -ge 40 ] || fail "refresh: too few refreshes: $(cat "$dir/refresh.json")"

# Usage errors exit 2: no --observe, a target off loopback, sources that run out of 127/8.
"$bench" hold coap://127.0.0.1:1 >/dev/null 2>&1
[ $? -eq 2 ] || fail "hold without --observe must exit 2"
"$bench" hold --observe /x coap://192.0.2.1:5683 >/dev/null 2>&1
[ $? -eq 2 ] || fail "hold to a non-loopback target must exit 2"
"$bench" hold --observe /x --source-base 127.255.255.1 --devices 100000 --sockets 1 coap://127.0.0.1:1 >/dev/null 2>&1
[ $? -eq 2 ] || fail "hold whose sources leave 127/8 must exit 2"
echo "PASS: 200 devices x 2 relations held on port $port; 3 attribute changes and 1 RPC delivered; a deletion and --refresh handled"
