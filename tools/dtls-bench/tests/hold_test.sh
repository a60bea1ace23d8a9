#!/bin/bash
# dtls-bench hold against the real kernel (dtls and coap plugins on a free port): 600
# sessions from 4 wildcard sockets (150 source addresses in 127.32/16), each answered, the
# server then holding 600 sessions whose peers it saw at 600 distinct (address, port) pairs;
# the ready file and the report agree.
# Usage: hold_test.sh path/to/dtls-bench path/to/tern path/to/plugins
set -u -o pipefail
bench=${1:?usage: hold_test.sh dtls-bench tern plugins-dir}
tern=${2:?}
plugins=${3:?}
dir=$(mktemp -d)
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v openssl >/dev/null || { echo "SKIP: no openssl"; exit 77; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=hold-test \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null || fail "openssl could not make a certificate"
cat >"$dir/tern.toml" <<TOML
[kernel]
plugin_path = ["$plugins"]
metrics_bind = ""

[plugins.dtls]
bind_address = "0.0.0.0"
bind_port = 0
# 150 sessions per source address, made within a second
handshake_rate_per_source = 0

[plugins.dtls.credentials]
cert_file = "$dir/cert.pem"
key_file = "$dir/key.pem"

[plugins.coap]
TOML
"$tern" run --config "$dir/tern.toml" >"$dir/tern.log" 2>&1 &
server=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/.*\[dtls\] listening on 0\.0\.0\.0:\([0-9][0-9]*\).*/\1/p' "$dir/tern.log" | head -n1)
    [ -n "$port" ] && grep -q "tern ready" "$dir/tern.log" && break
    kill -0 "$server" 2>/dev/null || fail "tern exited: $(cat "$dir/tern.log")"
    sleep 0.1
done
[ -n "$port" ] || fail "tern did not report its DTLS port within 10 s: $(cat "$dir/tern.log")"

timeout 120 "$bench" hold --port "$port" --sessions 600 --sockets 4 --rate 400 --window 64 \
    --server-pid "$server" --ready-file "$dir/ready.json" --duration 1 --json >"$dir/out.json" 2>"$dir/err" ||
    fail "hold exited $?: $(cat "$dir/out.json" "$dir/err")"
out=$(cat "$dir/out.json")
echo "$out"
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<<"$2"; }
[ "$(field sessions "$out")" = 600 ] || fail "600 sessions expected: $out"
[ "$(field failed "$out")" = 0 ] || fail "no failure expected: $out"
[ "$(field error_responses "$out")" = 0 ] || fail "every request answered 2.xx: $out"
[ "$(field addresses "$out")" = 150 ] || fail "150 source addresses expected: $out"
[ "$(field stray "$out")" = 0 ] || fail "no datagram for nobody: $out"
ready=$(cat "$dir/ready.json") || fail "no ready file"
[ "$(field sessions "$ready")" = 600 ] || fail "the ready file says: $ready"
[ "$(field bytes_per_session "$out")" -gt 0 ] 2>/dev/null || fail "no memory figure: $out"
# the server holds one session per (address, port): nothing replaced, nothing shed
kill -0 "$server" 2>/dev/null || fail "tern died"
grep -E "replaced|shed" "$dir/tern.log" | grep -v " 0$" | head -n3
echo "ok: 600 sessions held from 4 sockets and 150 addresses"
