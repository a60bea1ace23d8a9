#!/bin/sh
# tern-bench against libcoap's coap-server-notls: piggy-backed GETs, the empty-ACK +
# separate CON response path (/async, which tern-bench must ACK), and Observe
# registration, notifications and deregistration (/time notifies every second).
# Exits 77 (ctest: skipped) when coap-server-notls is not installed.
# Usage: libcoap_test.sh path/to/tern-bench
set -u
bench=${1:?usage: libcoap_test.sh path/to/tern-bench}
command -v coap-server-notls >/dev/null || { echo "SKIP: coap-server-notls not installed"; exit 77; }
dir=$(mktemp -d)
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
field() { sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p" "$2"; }

# libcoap cannot pick its own port: try a few random ones until one answers.
port=
for _ in 1 2 3 4 5; do
    p=$(( $(od -An -N2 -tu2 /dev/urandom) % 20000 + 30000 ))
    coap-server-notls -A 127.0.0.1 -p "$p" -v 0 >"$dir/server.log" 2>&1 &
    server=$!
    for _ in $(seq 30); do
        "$bench" --requests 1 --clients 1 --timeout 100 --json "coap://127.0.0.1:$p/time" >"$dir/probe.json" 2>/dev/null
        if [ "$(field ok "$dir/probe.json")" = 1 ]; then port=$p; break; fi
        kill -0 "$server" 2>/dev/null || break
    done
    [ -n "$port" ] && break
    kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; server=
done
[ -n "$port" ] || fail "coap-server-notls did not start: $(cat "$dir/server.log")"
url=coap://127.0.0.1:$port

# 1. Piggy-backed responses.
timeout 10 "$bench" --requests 300 --clients 10 --json "$url/time" >"$dir/get.json" || fail "GET run failed"
[ "$(field ok "$dir/get.json")" = 300 ] || fail "GET /time: $(cat "$dir/get.json")"
[ "$(field timeouts "$dir/get.json")" = 0 ] || fail "GET /time timeouts: $(cat "$dir/get.json")"

# 2. A 4.04 is an error, counted by code.
timeout 10 "$bench" --requests 20 --clients 2 --json "$url/missing" >"$dir/404.json" || fail "404 run failed"
grep -q '"errors_by_code":{"4.04":20}' "$dir/404.json" || fail "4.04 accounting: $(cat "$dir/404.json")"

# 3. Empty ACK, then a separate CON 2.05 a second later.
timeout 10 "$bench" --requests 4 --clients 4 --timeout 3000 --json "$url/async?1" >"$dir/async.json" || fail "async run failed"
for f in ok separate empty_acks; do
    [ "$(field $f "$dir/async.json")" = 4 ] || fail "/async $f != 4: $(cat "$dir/async.json")"
done

# 4. Observe: 4 devices register on /time, get notified, deregister at the end.
timeout 15 "$bench" --devices 4 --clients 4 --observe /time --rate 20 --duration 2.5 --json "$url/" >"$dir/obs.json" \
    || fail "observe run failed"
[ "$(field observe_registered "$dir/obs.json")" = 4 ] || fail "observe registrations: $(cat "$dir/obs.json")"
[ "$(field observe_cancelled "$dir/obs.json")" = 4 ] || fail "observe deregistrations: $(cat "$dir/obs.json")"
[ "$(field notifications "$dir/obs.json")" -ge 2 ] || fail "too few notifications: $(cat "$dir/obs.json")"
[ "$(field stray "$dir/obs.json")" = 0 ] || fail "stray messages in observe run: $(cat "$dir/obs.json")"
echo "PASS: libcoap GET, 4.04, separate response and Observe on port $port"
