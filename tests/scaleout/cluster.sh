# A scale-out cluster on loopback for the tests of issue 15 (source from bash):
#   nats-server -js (free port, store in the test's temp dir)
#   core   tern run --config config/core-node.toml       (core_embedded + nats_bridge)
#   t1, t2 tern run --config config/transport-node.toml  (device stack + core_nats)
# The shipped manifests are used as they are, with --set for what a test must change
# (ephemeral ports, the NATS URL, node ids, files in the temp dir), so they are tested too.
#
#   source "$TERN_SOURCE_DIR/tests/scaleout/cluster.sh"
#   cl_init                       # temp dir, cleanup trap; skips (77) without the plugins
#   cl_up                         # nats, core, t1, t2, each ready and serving devices
#   cl_node SCRIPT.mjs ARGS...    # a node script of tests/scaleout (env: ports, admin key)
#   cl_crash t1 / cl_stop core / cl_core_start / cl_nats_stop / cl_nats_start
#
# Every process is started in the background with its own log ($TERN_TMP/<name>.log,
# <name>-2.log after a restart) and working directory ($TERN_TMP/<name>/); every wait is
# bounded; on failure the tail of every log is printed and every process is killed (the
# EXIT trap of tests/lib/tern.sh, whose assertions and waits this file reuses).
#
# Before cl_up a test may set the arrays CL_CORE_SETS and CL_TRANSPORT_SETS: more `tern run`
# options (--set ...) for the core node and for each transport node.
# After cl_up: $CL_NATS_URL, $CL_NATS_PORT, $CL_ADMIN_PORT, $CL_ADMIN_KEY, and per node
# (core, t1, t2) ${CL_PID[name]}, ${CL_LOG[name]}, ${CL_METRICS[name]}, ${CL_UDP[name]}.
source "$TERN_SOURCE_DIR/tests/lib/tern.sh"
source "$TERN_SOURCE_DIR/tests/lib/coap_client.sh"

CL_DIR="$TERN_SOURCE_DIR/tests/scaleout"
CL_NODE_MODULES="$TERN_SOURCE_DIR/tests/interop/node_modules"
CL_ADMIN_KEY="scaleout-cluster-admin-key-5e2a"
CL_PREFIX="tern"
declare -A CL_PID=() CL_LOG=() CL_METRICS=() CL_UDP=() CL_STARTS=()
CL_NATS_PID=""
CL_NATS_PORT=""
CL_NATS_URL=""
CL_NATS_LOG=""
CL_NATS_STARTS=0
CL_ADMIN_PORT=""

# ---- what tests/lib/tern.sh calls on failure and at exit -------------------------------

# every log's tail (fail prints it)
tern_dump_log() {
    local f
    for f in "$TERN_TMP"/*.log; do
        [ -f "$f" ] || continue
        echo "----- $f (last 60 lines) -----"
        tail -n 60 "$f"
    done
    echo "----- end of logs -----"
}

# every process of the cluster, SIGKILL (fail and the EXIT trap call it)
_tern_kill() {
    local n
    for n in "${!CL_PID[@]}"; do
        _cl_reap "${CL_PID[$n]}" KILL
        CL_PID[$n]=""
    done
    [ -n "$CL_NATS_PID" ] && _cl_reap "$CL_NATS_PID" KILL
    CL_NATS_PID=""
    TERN_PID=""
}

# _cl_reap PID SIGNAL: sends SIGNAL and waits (at most 10 s) for the process to end. (Its
# stderr is discarded: bash's "Killed" notice of the reaped job comes out there.)
_cl_reap() {
    local pid=$1 sig=$2
    [ -n "$pid" ] || return 0
    {
        kill "-$sig" "$pid" || { wait "$pid"; return 0; }
        local deadline=$((SECONDS + 10))
        while kill -0 "$pid"; do
            [ $SECONDS -ge $deadline ] && { kill -KILL "$pid"; break; }
            sleep 0.05
        done
        wait "$pid"
    } 2>/dev/null
}

# ---- set-up ----------------------------------------------------------------------------

# cl_init: tern_init, and skip (77) when the build lacks a plugin the cluster needs (a
# failure instead when CL_EXPECT_PLUGINS=1: the build has their targets), or nats-server.
cl_init() {
    tern_init
    local p missing=()
    for p in core_nats nats_bridge core_embedded device_api coap udp json; do
        [ -f "$TERN_BUILD_DIR/plugins/libtern-$p.so" ] || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        [ "${CL_EXPECT_PLUGINS:-0}" = 1 ] && fail "plugins missing from $TERN_BUILD_DIR/plugins: ${missing[*]}"
        tern_note "SKIP: plugins not built in $TERN_BUILD_DIR: ${missing[*]}"
        exit 77
    fi
    CL_NATS_BIN=""
    for p in /usr/sbin/nats-server /usr/bin/nats-server /usr/local/bin/nats-server; do
        [ -x "$p" ] && { CL_NATS_BIN=$p; break; }
    done
    if [ -z "$CL_NATS_BIN" ]; then
        tern_note "SKIP: nats-server is not installed (Debian package nats-server; tools/dev.sh deps)"
        exit 77
    fi
    command -v node >/dev/null || fail "node is required (Debian package nodejs)"
    [ -d "$CL_NODE_MODULES" ] || fail "npm test peers missing: $CL_NODE_MODULES (tools/dev.sh deps)"
}

# cl_nats_start: nats-server with JetStream on loopback; the first start picks a free port
# (-p -1), later starts reuse that port and the same store directory.
cl_nats_start() {
    CL_NATS_STARTS=$((CL_NATS_STARTS + 1))
    CL_NATS_LOG=$TERN_TMP/nats$([ $CL_NATS_STARTS -gt 1 ] && echo "-$CL_NATS_STARTS").log
    mkdir -p "$TERN_TMP/nats"
    "$CL_NATS_BIN" -js -a 127.0.0.1 -p "${CL_NATS_PORT:--1}" -sd "$TERN_TMP/nats/store" \
        -n "scaleout-test" >"$CL_NATS_LOG" 2>&1 &
    CL_NATS_PID=$!
    local deadline=$((SECONDS + 10))
    while ! grep -q 'Server is ready' "$CL_NATS_LOG" 2>/dev/null; do
        kill -0 "$CL_NATS_PID" 2>/dev/null || { CL_NATS_PID=""; fail "nats-server exited before it was ready"; }
        [ $SECONDS -ge $deadline ] && fail "nats-server not ready within 10 s"
        sleep 0.05
    done
    CL_NATS_PORT=$(sed -nE 's/.*Listening for client connections on [^ ]*:([0-9]+).*/\1/p' "$CL_NATS_LOG" | head -n1)
    [ -n "$CL_NATS_PORT" ] || fail "no client port in the nats-server log"
    CL_NATS_URL="nats://127.0.0.1:$CL_NATS_PORT"
    tern_note "nats-server (pid $CL_NATS_PID) ready on $CL_NATS_URL"
}

# cl_nats_stop: SIGTERM (a clean shutdown), bounded wait.
cl_nats_stop() {
    [ -n "$CL_NATS_PID" ] || fail "cl_nats_stop: nats-server is not running"
    _cl_reap "$CL_NATS_PID" TERM
    CL_NATS_PID=""
    tern_note "nats-server stopped"
}

# cl_node_start NAME MANIFEST [tern run options...]: starts a node in $TERN_TMP/NAME/ and
# waits for "tern ready"; reads its metrics (and UDP) port from its log.
cl_node_start() {
    local name=$1 manifest=$2; shift 2
    CL_STARTS[$name]=$(( ${CL_STARTS[$name]:-0} + 1 ))
    local log=$TERN_TMP/$name$([ "${CL_STARTS[$name]}" -gt 1 ] && echo "-${CL_STARTS[$name]}").log
    CL_LOG[$name]=$log
    mkdir -p "$TERN_TMP/$name"
    (cd "$TERN_TMP/$name" && exec "$TERN_BIN" run --config "$TERN_SOURCE_DIR/$manifest" \
        --set "kernel.plugin_path=[\"$TERN_BUILD_DIR/plugins\"]" \
        --set "kernel.shards=${TERN_SHARDS:-2}" \
        --set kernel.metrics_bind=127.0.0.1:0 "$@") >"$log" 2>&1 &
    CL_PID[$name]=$!
    local deadline=$((SECONDS + ${TERN_START_TIMEOUT:-15}))
    while ! grep -q 'tern ready' "$log" 2>/dev/null; do
        if ! kill -0 "${CL_PID[$name]}" 2>/dev/null; then
            wait "${CL_PID[$name]}" 2>/dev/null
            local rc=$?
            CL_PID[$name]=""
            fail "$name exited with status $rc before it was ready"
        fi
        [ $SECONDS -ge $deadline ] && fail "$name not ready within ${TERN_START_TIMEOUT:-15} s"
        sleep 0.05
    done
    CL_METRICS[$name]=$(sed -nE 's#.*metrics on http://[^ ]*:([0-9]+)/metrics.*#\1#p' "$log" | head -n1)
    CL_UDP[$name]=$(TERN_LOG=$log tern_listening_port udp)
    tern_note "$name (pid ${CL_PID[$name]}) ready: metrics port ${CL_METRICS[$name]}${CL_UDP[$name]:+, udp port ${CL_UDP[$name]}}"
}

# cl_core_start: the core node on the shipped manifest; database, admin key and the
# bridge's state file in $TERN_TMP/core/var/core-node/ (the manifest's relative paths).
cl_core_start() {
    cl_node_start core config/core-node.toml \
        --set plugins.core_embedded.admin_bind=127.0.0.1:0 \
        --set "plugins.core_embedded.admin_key=$CL_ADMIN_KEY" \
        --set "plugins.nats_bridge.servers=[\"$CL_NATS_URL\"]" \
        --set "plugins.nats_bridge.subject_prefix=$CL_PREFIX" \
        ${CL_CORE_SETS[@]+"${CL_CORE_SETS[@]}"}
    CL_ADMIN_PORT=$(sed -nE 's#.*admin API on http://[^ ]*:([0-9]+).*#\1#p' "${CL_LOG[core]}" | head -n1)
    [ -n "$CL_ADMIN_PORT" ] || fail "no 'admin API on http://...' line in the core node's log"
    export CL_ADMIN_PORT
}

# cl_transport_start NAME: a transport node with node id NAME on a free UDP port.
cl_transport_start() {
    local name=$1
    cl_node_start "$name" config/transport-node.toml \
        --set plugins.udp.bind_address=127.0.0.1 --set plugins.udp.bind_port=0 \
        --set "plugins.core_nats.servers=[\"$CL_NATS_URL\"]" \
        --set "plugins.core_nats.subject_prefix=$CL_PREFIX" \
        --set "plugins.core_nats.node_id=$name" \
        ${CL_TRANSPORT_SETS[@]+"${CL_TRANSPORT_SETS[@]}"}
    [ -n "${CL_UDP[$name]}" ] || fail "no udp port in the log of $name"
}

# cl_crash NAME: SIGKILL, bounded wait.
cl_crash() {
    local name=$1
    [ -n "${CL_PID[$name]:-}" ] && kill -0 "${CL_PID[$name]}" 2>/dev/null || fail "cl_crash: $name is not running"
    _cl_reap "${CL_PID[$name]}" KILL
    CL_PID[$name]=""
    tern_note "$name killed (SIGKILL)"
}

# cl_stop NAME: SIGTERM, bounded wait, exit status 0.
cl_stop() {
    local name=$1 pid=${CL_PID[$1]:-}
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || fail "cl_stop: $name is not running"
    kill -TERM "$pid"
    local deadline=$((SECONDS + ${TERN_STOP_TIMEOUT:-15}))
    while kill -0 "$pid" 2>/dev/null; do
        [ $SECONDS -ge $deadline ] && fail "$name did not stop within ${TERN_STOP_TIMEOUT:-15} s of SIGTERM"
        sleep 0.05
    done
    wait "$pid" 2>/dev/null
    local rc=$?
    CL_PID[$name]=""
    [ $rc -eq 0 ] || fail "$name exited with status $rc after SIGTERM (expected 0)"
}

# cl_metric NAME 'METRIC{label="x"}': tern_metric against node NAME (0 when absent).
cl_metric() {
    TERN_METRICS_PORT=${CL_METRICS[$1]} tern_metric "$2"
}

# cl_metric_at_least NAME SPEC MIN: for wait_until.
cl_metric_at_least() {
    local v
    v=$(cl_metric "$1" "$2") || return 1
    [ "$v" -ge "$3" ]
}

# cl_stop_all: every node, then nats-server, each stopped cleanly (exit status 0).
cl_stop_all() {
    local n
    for n in t1 t2 core; do
        [ -n "${CL_PID[$n]:-}" ] && cl_stop "$n"
    done
    [ -n "$CL_NATS_PID" ] && cl_nats_stop
    return 0
}

# cl_up: nats-server, the core node, t1 and t2; then waits (bounded) until each transport
# node is connected and stores a probe device's telemetry: the bridge has created the stream
# and announced the partitions, and core_nats has read them.
cl_up() {
    cl_nats_start
    cl_core_start
    cl_transport_start t1
    cl_transport_start t2
    wait_until 10 cl_metric_at_least t1 core_nats_connected 1 || fail "t1: core_nats_connected is not 1 after 10 s"
    wait_until 10 cl_metric_at_least t2 core_nats_connected 1 || fail "t2: core_nats_connected is not 1 after 10 s"
    cl_node ready.mjs
}

# cl_node SCRIPT [args]: runs tests/scaleout/SCRIPT with node (bounded by CL_NODE_TIMEOUT,
# default 50 s) in the environment of the cluster, prints its output, fails on non-zero.
cl_node() {
    local script=$1; shift
    local out="$TERN_TMP/$(basename "$script" .mjs).node.out"
    cl_node_env timeout "${CL_NODE_TIMEOUT:-50}" node "$CL_DIR/$script" "$@" >"$out" 2>&1
    local rc=$?
    cat "$out"
    [ $rc -eq 124 ] && fail "$script did not finish within ${CL_NODE_TIMEOUT:-50} s"
    [ $rc -eq 0 ] || fail "$script: checks failed (exit $rc; see the FAIL lines above)"
}

# cl_node_env COMMAND...: runs COMMAND with the cluster's ports in the environment (the
# admin API of tests/device_api/lib/dapi.mjs reads DAPI_ADMIN_PORT and DAPI_ADMIN_KEY).
cl_node_env() {
    NODE_PATH="$CL_NODE_MODULES" DAPI_ADMIN_PORT="$CL_ADMIN_PORT" DAPI_ADMIN_KEY="$CL_ADMIN_KEY" \
        DAPI_METRICS_PORT="${CL_METRICS[core]:-0}" \
        CL_PORT_T1="${CL_UDP[t1]:-0}" CL_PORT_T2="${CL_UDP[t2]:-0}" "$@"
}
