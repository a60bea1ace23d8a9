# Shared by the tests/abi shell tests: bounded runs of the kernel and readable failures.
# The tests get their paths from ctest's environment:
#   TERN      the kernel executable            PLUGINS  loadable fixture plugins
#   REFUSED   libraries the kernel must refuse WORK     scratch space for this build
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

fail() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}

need_env() {
    local v
    for v in "$@"; do
        [ -n "${!v:-}" ] || fail "environment variable $v is not set (run this through ctest)"
    done
}

# fresh_dir <name>: an empty scratch directory of this test; prints its path
fresh_dir() {
    local d=$WORK/$1
    rm -rf "$d" && mkdir -p "$d"
    echo "$d"
}

# run_capture <seconds> <output file> <command...>: runs the command with a time limit,
# its stdout and stderr into the file; the exit code goes to $rc.
run_capture() {
    local seconds=$1 out=$2
    shift 2
    set +e
    timeout --kill-after=5 "$seconds" "$@" >"$out" 2>&1
    rc=$?
    set -e
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        show "$out"
        fail "did not finish within ${seconds}s: $*"
    fi
    return 0
}

show() {
    echo "---- $1:" >&2
    sed 's/^/    /' "$1" >&2
    echo "----" >&2
}

# expect_rc <wanted> <output file> <what>
expect_rc() {
    if [ "$rc" != "$1" ]; then
        show "$2"
        fail "$3: exit code $rc, expected $1"
    fi
}

# expect_text <output file> <substring>...: every substring appears (fixed strings)
expect_text() {
    local out=$1 s
    shift
    for s in "$@"; do
        if ! grep -qF -- "$s" "$out"; then
            show "$out"
            fail "the output lacks: $s"
        fi
    done
}

# wait_until <seconds> <pid> <command...>: until the command succeeds; fails early (1)
# when pid exits, or when the time is up
wait_until() {
    local seconds=$1 pid=$2 i
    shift 2
    for ((i = 0; i < seconds * 10; i++)); do
        "$@" && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# run_until <manifest> <log> <ready command...>: `tern run` until the ready command
# succeeds (within 20 s), then SIGTERM: the kernel must stop every instance and exit 0,
# within 15 s.
run_until() {
    local manifest=$1 log=$2 pid i
    shift 2
    "$TERN" run --config "$manifest" >"$log" 2>&1 &
    pid=$!
    if ! wait_until 20 "$pid" "$@"; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        show "$log"
        fail "tern run did not get ready ($*) within 20s"
    fi
    kill -TERM "$pid"
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        wait "$pid" 2>/dev/null || true
        show "$log"
        fail "tern run did not stop within 15s of SIGTERM"
    fi
    set +e
    wait "$pid"
    rc=$?
    set -e
    expect_rc 0 "$log" "tern run stopped by SIGTERM"
}

# kernel_table <plugin dir>...: the [kernel] table of a test manifest: only our fixture
# directories, one shard, no metrics listener (tests run in parallel).
kernel_table() {
    local dirs="" d
    for d in "$@"; do dirs+="${dirs:+, }\"$d\""; done
    cat <<TOML
[kernel]
plugin_path = [$dirs]
shards = 1
log_level = "info"
metrics_bind = ""
TOML
}
