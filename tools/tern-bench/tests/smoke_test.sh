#!/bin/sh
# Smoke test: tern-bench against its own echo server on a free loopback port.
# 200 CON requests from 4 sockets must all come back 2.05 with no timeout; a short flood
# must be sent from the pairs it reports and answered.
# Usage: smoke_test.sh path/to/tern-bench
set -u
bench=${1:?usage: smoke_test.sh path/to/tern-bench}
dir=$(mktemp -d)
server=
server2=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    [ -n "$server2" ] && kill "$server2" 2>/dev/null && wait "$server2" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# Port 0: the kernel picks a free port and the server prints it.
"$bench" echo-server --bind 127.0.0.1:0 >"$dir/server.out" 2>&1 &
server=$!
port=
for _ in $(seq 50); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$dir/server.out")
    [ -n "$port" ] && break
    kill -0 "$server" 2>/dev/null || fail "echo server exited: $(cat "$dir/server.out")"
    sleep 0.1
done
[ -n "$port" ] || fail "echo server did not report its port within 5 s"

timeout 10 "$bench" --requests 200 --clients 4 --timeout 1000 --json \
    "coap://127.0.0.1:$port/smoke" >"$dir/result.json" 2>"$dir/result.err"
rc=$?
[ "$rc" -eq 0 ] || fail "tern-bench exited $rc: $(cat "$dir/result.err")"

field() { sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p" "$dir/result.json"; }
[ "$(field sent)" = 200 ] || fail "sent != 200: $(cat "$dir/result.json")"
[ "$(field ok)" = 200 ] || fail "ok != 200: $(cat "$dir/result.json")"
[ "$(field timeouts)" = 0 ] || fail "timeouts != 0: $(cat "$dir/result.json")"
[ "$(field errors)" = 0 ] || fail "errors != 0: $(cat "$dir/result.json")"

# A protobuf payload goes out and is answered like any other request.
timeout 10 "$bench" --requests 50 --clients 2 --timeout 1000 --method POST --content-format 42 \
    --payload-protobuf '1:double={rand}.5,2:double={seq}.5' --json \
    "coap://127.0.0.1:$port/smoke" >"$dir/proto.json" 2>"$dir/proto.err"
rc=$?
[ "$rc" -eq 0 ] || fail "tern-bench --payload-protobuf exited $rc: $(cat "$dir/proto.err")"
proto_ok=$(sed -n 's/.*"ok":\([0-9][0-9]*\).*/\1/p' "$dir/proto.json")
[ "$proto_ok" = 50 ] || fail "protobuf payload: ok != 50: $(cat "$dir/proto.json")"

# Flood mode: 200 datagrams from 20 addresses x 5 ports, every one answered by the echo
# server (which answers any request) and read back.
timeout 10 "$bench" flood --rate 1000 --count 200 --duration 5 --sources 20 --ports 5 --json \
    "coap://127.0.0.1:$port" >"$dir/flood.json" 2>"$dir/flood.err"
rc=$?
[ "$rc" -eq 0 ] || fail "tern-bench flood exited $rc: $(cat "$dir/flood.err")"
flood_field() { sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p" "$dir/flood.json"; }
[ "$(flood_field sent)" = 200 ] || fail "flood sent != 200: $(cat "$dir/flood.json")"
[ "$(flood_field pairs)" = 100 ] || fail "flood pairs != 100: $(cat "$dir/flood.json")"
[ "$(flood_field answers)" = 200 ] || fail "flood answers != 200: $(cat "$dir/flood.json")"

# --target-ports splits the client sockets over two servers: all answered while both run;
# with the second one stopped, the requests of its sockets are not.
"$bench" echo-server --bind 127.0.0.1:0 >"$dir/server2.out" 2>&1 &
server2=$!
port2=
for _ in $(seq 50); do
    port2=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$dir/server2.out")
    [ -n "$port2" ] && break
    sleep 0.1
done
[ -n "$port2" ] || fail "second echo server did not report its port within 5 s"
timeout 10 "$bench" --requests 100 --clients 4 --timeout 1000 --target-ports "$port,$port2" --json \
    "coap://127.0.0.1:1/smoke" >"$dir/split.json" 2>"$dir/split.err"
[ $? -eq 0 ] || fail "tern-bench --target-ports exited: $(cat "$dir/split.err")"
split_ok=$(sed -n 's/.*"ok":\([0-9][0-9]*\).*/\1/p' "$dir/split.json")
[ "$split_ok" = 100 ] || fail "--target-ports: ok != 100: $(cat "$dir/split.json")"
kill "$server2" && wait "$server2" 2>/dev/null
server2=
timeout 10 "$bench" --duration 0.5 --clients 2 --timeout 200 --target-ports "$port,$port2" --json \
    "coap://127.0.0.1:1/smoke" >"$dir/half.json" 2>"$dir/half.err"
json_num() { sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\\1/p" "$2"; }
half_ok=$(json_num ok "$dir/half.json")
half_lost=$(( $(json_num timeouts "$dir/half.json") + $(json_num icmp_errors "$dir/half.json") ))
[ "${half_ok:-0}" -gt 0 ] || fail "--target-ports: the running server answered nothing: $(cat "$dir/half.json")"
[ "$half_lost" -gt 0 ] || fail "--target-ports: the stopped server's sockets got answers: $(cat "$dir/half.json")"
"$bench" --target-ports 1,x coap://127.0.0.1:1/ >/dev/null 2>&1
[ $? -eq 2 ] || fail "a bad --target-ports value must exit 2"

# Usage errors exit 2, not 0 or 1; the flood refuses anything off loopback.
"$bench" flood coap://192.0.2.1:5683 >/dev/null 2>&1
[ $? -eq 2 ] || fail "a flood to a non-loopback target must exit 2"
"$bench" flood --source-base 192.0.2.1 "coap://127.0.0.1:$port" >/dev/null 2>&1
[ $? -eq 2 ] || fail "a flood from non-loopback sources must exit 2"
"$bench" --clients zero coap://127.0.0.1:1/ >/dev/null 2>&1
[ $? -eq 2 ] || fail "a bad --clients value must exit 2"
"$bench" --payload-protobuf '1:double=abc' coap://127.0.0.1:1/ >/dev/null 2>&1
[ $? -eq 2 ] || fail "a protobuf field that is never a number must exit 2"
echo "PASS: 200/200 ok against echo-server on port $port"
