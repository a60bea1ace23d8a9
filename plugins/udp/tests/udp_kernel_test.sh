#!/usr/bin/env bash
# The udp plugin inside the real kernel: an echo-sink test plugin answers every datagram
# with "<shard>|<datagram>". Checks echoes over IPv4 and IPv6 loopback from several source
# ports in bursts, that a source port always reaches the same shard, the metrics at
# /metrics, and a clean stop while datagrams arrive.
# usage: udp_kernel_test.sh   (TERN_BUILD_DIR, TERN_SOURCE_DIR in the environment)
set -u
source "$TERN_SOURCE_DIR/tests/lib/tern.sh"
here=$(cd "$(dirname "$0")" && pwd)
tern_init
command -v node >/dev/null || fail "node is required (Debian package nodejs)"

run_client() { # port family clients bursts burst_size
    timeout 20 node "$here/udp_client.mjs" "$@" >"$TERN_TMP/client.json" 2>"$TERN_TMP/client.err" ||
        { show_file "$TERN_TMP/client.err" >&2; fail "udp client failed"; }
    cat "$TERN_TMP/client.json"
}
json() { # file expression
    node -e "const r=JSON.parse(require('fs').readFileSync('$1','utf8')); console.log($2)"
}

# --- dual stack: "::" takes IPv4 and IPv6 ------------------------------------------------
tern_start <<'TOML'
[plugins.udp]
bind_address = "::"
batch_size = 8

[plugins.udp_echo]
TOML
assert_match "$TERN_LOG" "listening on \[::\]:$TERN_UDP_PORT \(2 sockets\)" "udp logs its address and socket count"
[ -n "$TERN_UDP_PORT" ] || fail "no udp port in the log"
[ -n "$TERN_METRICS_PORT" ] || fail "no metrics port in the log"

for family in 4 6; do
    tern_note "IPv$family: 16 clients x 4 bursts x 8 datagrams"
    run_client "$TERN_UDP_PORT" $family 16 4 8
    c=$TERN_TMP/client.json
    assert_eq done "$(json $c r.why)" "IPv$family: all echoes arrived"
    assert_eq 512 "$(json $c r.received)" "IPv$family: echoes received"
    assert_eq 0 "$(json $c r.unexpected)" "IPv$family: unexpected echoes"
    # every source port is served by one shard; over 16 ports both shards take part
    assert_eq true "$(json $c 'Object.values(r.shardsByPort).every(s => s.length === 1)')" \
        "IPv$family: each source port sticks to one shard"
    assert_eq 2 "$(json $c 'new Set(Object.values(r.shardsByPort).flat()).size')" \
        "IPv$family: both shards serve peers"
done

wait_until 5 metric_at_least udp_datagrams_sent_total 1024 ||
    fail "udp_datagrams_sent_total did not reach 1024"
received=$(tern_metric udp_datagrams_received_total) || fail "metrics"
sent=$(tern_metric udp_datagrams_sent_total) || fail "metrics"
bytes_in=$(tern_metric udp_bytes_received_total) || fail "metrics"
bytes_out=$(tern_metric udp_bytes_sent_total) || fail "metrics"
assert_eq 1024 "$received" "udp_datagrams_received_total"
assert_eq 1024 "$sent" "udp_datagrams_sent_total"
# each echo carries a 2-byte "<shard>|" prefix
assert_eq $((bytes_in + 2 * 1024)) "$bytes_out" "udp_bytes_sent_total = received + prefixes"
tern_metrics >"$TERN_TMP/metrics.txt"
assert_match "$TERN_TMP/metrics.txt" '^udp_drops_total\{.*reason="truncated".*\} 0' "drops by reason are exported"
assert_match "$TERN_TMP/metrics.txt" 'instance="udp"' "metrics carry the instance label"

# a datagram above max_datagram_size (2048) is dropped and counted
node -e "
const s=require('dgram').createSocket('udp4');
s.send(Buffer.alloc(3000, 65), $TERN_UDP_PORT, '127.0.0.1', () => s.close());"
wait_until 5 metric_at_least 'udp_drops_total{reason="truncated"}' 1 ||
    fail "the oversized datagram was not counted as truncated"

# stop while datagrams keep arriving: the echo plugin detaches first, tern exits 0
node -e "
const s=require('dgram').createSocket('udp4');
let n=0; const t=setInterval(()=>{ for(let i=0;i<20;i++) s.send('flood'+(n++), $TERN_UDP_PORT, '127.0.0.1'); }, 2);
setTimeout(()=>{ clearInterval(t); s.close(); }, 3000);" &
flood=$!
sleep 0.5
tern_stop
wait $flood
assert_contains "$TERN_LOG" "echoing datagrams" "the echo plugin started"

# --- IPv4 only, fixed shard count 3 ------------------------------------------------------
TERN_SHARDS=3 tern_start <<'TOML'
[plugins.udp]
bind_address = "127.0.0.1"

[plugins.udp_echo]
TOML
assert_match "$TERN_LOG" "listening on 127\.0\.0\.1:$TERN_UDP_PORT \(3 sockets\)" "one socket per shard"
run_client "$TERN_UDP_PORT" 4 24 2 4 >/dev/null
c=$TERN_TMP/client.json
assert_eq 192 "$(json $c r.received)" "IPv4-only: echoes received"
assert_eq true "$(json $c 'Object.values(r.shardsByPort).every(s => s.length === 1)')" "sticky shards (3)"
tern_stop

# --- a port that is taken: clear refusal, non-zero exit -----------------------------------
holder=$(mktemp -p "$TERN_TMP")
node -e "
const s=require('dgram').createSocket('udp4');
s.bind(0,'127.0.0.1',()=>{ require('fs').writeFileSync('$holder', String(s.address().port)); });
setTimeout(()=>s.close(), 8000);" &
holder_pid=$!
wait_until 5 test -s "$holder" || fail "could not hold a port"
taken=$(cat "$holder")
printf '[kernel]\nplugin_path = %s\nshards = 2\nmetrics_bind = ""\n[plugins.udp]\nbind_address = "127.0.0.1"\nbind_port = %s\n' \
    "$(tern_plugin_path)" "$taken" >"$TERN_TMP/taken.toml"
timeout 15 "$TERN_BIN" run --config "$TERN_TMP/taken.toml" >"$TERN_TMP/taken.log" 2>&1
rc=$?
kill "$holder_pid" 2>/dev/null
TERN_LOG=$TERN_TMP/taken.log
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "tern should refuse to start on a taken port (exit $rc)"
assert_contains "$TERN_LOG" "Address already in use" "the refusal names the reason"
assert_contains "$TERN_LOG" "127.0.0.1:$taken" "the refusal names the address"

tern_note "PASS"
