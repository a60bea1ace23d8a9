# Shell helpers for tests that run the real `tern` (source this file from bash).
#
#   source "$TERN_SOURCE_DIR/tests/lib/tern.sh"
#   tern_init                                  # temp dir, cleanup trap, finds the binary
#   tern_start <<'EOF'                         # plugin tables of the manifest on stdin
#   [plugins.udp]
#   [plugins.coap]
#   EOF
#   ... $TERN_UDP_PORT, $TERN_METRICS_PORT, $TERN_LOG, $TERN_TMP ...
#   tern_stop                                  # SIGTERM, bounded wait, exit status 0
#
# Every tern gets ephemeral ports (plugins.udp.bind_port=0, kernel.metrics_bind port 0),
# so tests run in parallel (ctest -j). Every wait is bounded. On a failed assertion the
# log of tern is printed and the test exits 1.
#
# Environment: TERN_BUILD_DIR (the build tree; required), TERN_SHARDS (default 2),
# TERN_START_TIMEOUT / TERN_STOP_TIMEOUT (seconds, default 10 / 15), TERN_KEEP_TMP=1 keeps
# the temp dir.

set -u -o pipefail

TERN_PID=""
TERN_LOG=""
TERN_TMP=""
TERN_UDP_PORT=""
TERN_METRICS_PORT=""
TERN_MANIFEST=""
TERN_TEST_NAME=${TERN_TEST_NAME:-$(basename "${0}")}
TERN_STARTS=0

# ---- reporting --------------------------------------------------------------------------

tern_note() { printf '[%s] %s\n' "$TERN_TEST_NAME" "$*"; }

tern_dump_log() {
    if [ -n "$TERN_LOG" ] && [ -f "$TERN_LOG" ]; then
        echo "----- tern log ($TERN_LOG, last 200 lines) -----"
        tail -n 200 "$TERN_LOG"
        echo "----- end of tern log -----"
    fi
}

# fail MESSAGE...: prints the message and the log, stops tern, exits 1.
fail() {
    printf '[%s] FAIL: %s\n' "$TERN_TEST_NAME" "$*" >&2
    tern_dump_log >&2
    _tern_kill
    exit 1
}

# Prints a file (for context on failure) with a header; used by assertion helpers.
show_file() {
    local f=$1
    echo "----- $f -----"
    if [ -f "$f" ]; then head -c 4000 "$f"; echo; else echo "(missing)"; fi
}

# ---- assertions -------------------------------------------------------------------------

assert_eq() { # expected actual message
    [ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}

assert_ne() { # unexpected actual message
    [ "$1" != "$2" ] || fail "$3: did not expect '$1'"
}

assert_ge() { # actual minimum message
    [ "$1" -ge "$2" ] 2>/dev/null || fail "$3: expected >= $2, got '$1'"
}

# assert_contains FILE TEXT [message]: FILE contains TEXT (fixed string).
assert_contains() {
    grep -qF -- "$2" "$1" 2>/dev/null || { show_file "$1" >&2; fail "${3:-$1 should contain '$2'}"; }
}

assert_not_contains() {
    if grep -qF -- "$2" "$1" 2>/dev/null; then show_file "$1" >&2; fail "${3:-$1 should not contain '$2'}"; fi
}

# assert_match FILE REGEX [message]: FILE has a line matching the extended regex.
assert_match() {
    grep -qE -- "$2" "$1" 2>/dev/null || { show_file "$1" >&2; fail "${3:-$1 should match /$2/}"; }
}

# assert_same_file EXPECTED ACTUAL message: byte for byte.
assert_same_file() {
    if ! cmp -s "$1" "$2"; then
        echo "expected $(wc -c <"$1" 2>/dev/null) bytes, got $(wc -c <"$2" 2>/dev/null) bytes" >&2
        cmp "$1" "$2" >&2 || true
        fail "$3"
    fi
}

# ---- waiting ----------------------------------------------------------------------------

# wait_until SECONDS COMMAND...: runs COMMAND every 50 ms until it succeeds; 1 on timeout.
wait_until() {
    local secs=$1; shift
    local deadline=$((SECONDS + secs))
    while ! "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.05
    done
    return 0
}

# ---- starting and stopping tern ----------------------------------------------------------

_tern_kill() {
    if [ -n "$TERN_PID" ] && kill -0 "$TERN_PID" 2>/dev/null; then
        kill -KILL "$TERN_PID" 2>/dev/null
        wait "$TERN_PID" 2>/dev/null
    fi
    TERN_PID=""
}

_tern_cleanup() {
    local rc=$?
    _tern_kill
    if [ -n "$TERN_TMP" ] && [ -d "$TERN_TMP" ]; then
        if [ "${TERN_KEEP_TMP:-0}" = 1 ] || [ $rc -ne 0 ]; then
            echo "[$TERN_TEST_NAME] files kept in $TERN_TMP" >&2
        else
            rm -rf "$TERN_TMP"
        fi
    fi
}

# tern_init: checks the build tree, makes the temp dir, installs the cleanup trap.
tern_init() {
    [ -n "${TERN_BUILD_DIR:-}" ] || { echo "TERN_BUILD_DIR is not set (the cmake build tree)" >&2; exit 1; }
    TERN_BIN=${TERN_BIN:-$TERN_BUILD_DIR/bin/tern}
    [ -x "$TERN_BIN" ] || { echo "tern is not built: $TERN_BIN is missing" >&2; exit 1; }
    TERN_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tern-test.XXXXXX")
    trap _tern_cleanup EXIT
    trap 'exit 130' INT TERM
}

# The plugin_path of test manifests: shipped plugins and the test-only ones.
tern_plugin_path() {
    local d out="\"$TERN_BUILD_DIR/plugins\""
    for d in "$TERN_BUILD_DIR"/test-plugins/*/; do
        [ -d "$d" ] && out+=", \"${d%/}\""
    done
    echo "[$out]"
}

# tern_start [--name NAME] [tern run options...] < plugin tables
# Writes $TERN_TMP/NAME.toml ([kernel] + stdin), starts tern in the background, waits for
# "tern ready" and reads the ports from the log. Each start of a test gets its own files
# (tern.log, tern-2.log, ...): a fresh log can never show an earlier run's "tern ready".
tern_start() {
    local name=tern
    if [ "${1:-}" = "--name" ]; then name=$2; shift 2; fi
    TERN_STARTS=$((TERN_STARTS + 1))
    [ "$TERN_STARTS" -gt 1 ] && name="$name-$TERN_STARTS"
    TERN_MANIFEST=$TERN_TMP/$name.toml
    TERN_LOG=$TERN_TMP/$name.log
    : >"$TERN_LOG"
    {
        echo "[kernel]"
        echo "plugin_path = $(tern_plugin_path)"
        echo "shards = ${TERN_SHARDS:-2}"
        echo "log_level = \"${TERN_LOG_LEVEL:-info}\""
        echo "metrics_bind = \"127.0.0.1:0\""
        echo
        cat
    } >"$TERN_MANIFEST"
    local sets=(--set kernel.metrics_bind=127.0.0.1:0)
    grep -q '^\[plugins\.udp\]' "$TERN_MANIFEST" && sets+=(--set plugins.udp.bind_port=0)
    (cd "$TERN_TMP" && exec "$TERN_BIN" run --config "$TERN_MANIFEST" "${sets[@]}" "$@") \
        >"$TERN_LOG" 2>&1 &
    TERN_PID=$!
    local timeout=${TERN_START_TIMEOUT:-10}
    local deadline=$((SECONDS + timeout))
    while ! grep -q 'tern ready' "$TERN_LOG" 2>/dev/null; do
        if ! kill -0 "$TERN_PID" 2>/dev/null; then
            wait "$TERN_PID" 2>/dev/null
            local rc=$?
            TERN_PID=""
            show_file "$TERN_MANIFEST" >&2
            fail "tern exited with status $rc before it was ready"
        fi
        [ $SECONDS -ge $deadline ] && { show_file "$TERN_MANIFEST" >&2; fail "tern not ready within ${timeout}s"; }
        sleep 0.05
    done
    TERN_UDP_PORT=$(tern_listening_port udp)
    # the kernel logs "metrics on http://127.0.0.1:PORT/metrics"
    TERN_METRICS_PORT=$(sed -nE 's#.*metrics on http://[^ ]*:([0-9]+)/metrics.*#\1#p' "$TERN_LOG" | head -n1)
    tern_note "tern (pid $TERN_PID) ready: udp port ${TERN_UDP_PORT:-none}, metrics port ${TERN_METRICS_PORT:-none}"
}

# tern_listening_port [INSTANCE]: the port of a transport's "listening on ADDR:PORT (N
# sockets)" line (of the instance named INSTANCE when the log line carries it).
tern_listening_port() {
    local inst=${1:-} line=""
    # text log lines are "[time] [level] [instance] message"
    [ -n "$inst" ] && line=$(grep -E "listening on .*:[0-9]+ \([0-9]+ sockets?\)" "$TERN_LOG" | grep -F -- "[$inst]" | head -n1)
    [ -z "$line" ] && line=$(grep -E "listening on .*:[0-9]+ \([0-9]+ sockets?\)" "$TERN_LOG" | head -n1)
    sed -nE 's/.*listening on .*:([0-9]+) \([0-9]+ sockets?\).*/\1/p' <<<"$line"
}

# tern_stop: SIGTERM, waits (bounded) and checks the exit status is 0.
tern_stop() {
    [ -n "$TERN_PID" ] || fail "tern_stop: tern is not running"
    kill -TERM "$TERN_PID" 2>/dev/null || fail "tern (pid $TERN_PID) died before it was stopped"
    local timeout=${TERN_STOP_TIMEOUT:-15}
    local deadline=$((SECONDS + timeout))
    while kill -0 "$TERN_PID" 2>/dev/null; do
        if [ $SECONDS -ge $deadline ]; then
            fail "tern did not stop within ${timeout}s of SIGTERM"
        fi
        sleep 0.05
    done
    wait "$TERN_PID" 2>/dev/null
    local rc=$?
    TERN_PID=""
    [ $rc -eq 0 ] || fail "tern exited with status $rc after SIGTERM (expected 0)"
}

# tern_crash: SIGKILL (no chance to flush or clean up), bounded wait; for crash-recovery
# tests. A later tern_start may reuse the same database.
tern_crash() {
    [ -n "$TERN_PID" ] && kill -0 "$TERN_PID" 2>/dev/null || fail "tern_crash: tern is not running"
    kill -KILL "$TERN_PID" 2>/dev/null
    local deadline=$((SECONDS + 10))
    while kill -0 "$TERN_PID" 2>/dev/null; do
        [ $SECONDS -ge $deadline ] && fail "tern (pid $TERN_PID) still alive 10 s after SIGKILL"
        sleep 0.05
    done
    wait "$TERN_PID" 2>/dev/null
    TERN_PID=""
}

# tern_running: tern is still alive.
tern_running() { [ -n "$TERN_PID" ] && kill -0 "$TERN_PID" 2>/dev/null; }

# ---- metrics ----------------------------------------------------------------------------

# tern_metrics: prints the body of GET /metrics (plain bash, no curl needed); status 1
# (with a message on stderr) when it cannot be fetched. Never calls fail: it runs in
# subshells.
tern_metrics() {
    if [ -z "$TERN_METRICS_PORT" ]; then
        echo "no metrics port found in the tern log" >&2
        return 1
    fi
    local reply
    if ! reply=$(timeout 5 bash -c '
        exec 3<>/dev/tcp/127.0.0.1/'"$TERN_METRICS_PORT"' || exit 1
        printf "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" >&3
        cat <&3'); then
        echo "GET /metrics on port $TERN_METRICS_PORT failed" >&2
        return 1
    fi
    case "$reply" in
        "HTTP/1."?" 200"*) ;;
        *) echo "GET /metrics: $(head -n1 <<<"$reply")" >&2; return 1 ;;
    esac
    # drop the status line and headers
    printf '%s\n' "$reply" | tr -d '\r' | sed '1,/^$/d'
}

# tern_metric 'NAME{label="x"}': the sum of every sample whose name is NAME and whose
# labels include each given one (the kernel adds instance="..."). 0 when absent.
tern_metric() {
    local spec=$1 name labels
    name=${spec%%\{*}
    labels=""
    [ "$name" != "$spec" ] && labels=${spec#*\{} && labels=${labels%\}}
    tern_metrics | awk -v name="$name" -v labels="$labels" '
        BEGIN { n = split(labels, want, ","); total = 0 }
        /^#/ { next }
        {
            sample = $1; value = $NF
            base = sample; sub(/\{.*/, "", base)
            if (base != name) next
            ok = 1
            for (i = 1; i <= n; i++) if (index(sample, want[i]) == 0) ok = 0
            if (ok) total += value
        }
        END { printf "%d\n", total }'
}

# metric_at_least SPEC MIN: for wait_until.
metric_at_least() {
    local v
    v=$(tern_metric "$1") || return 1
    [ "$v" -ge "$2" ]
}
