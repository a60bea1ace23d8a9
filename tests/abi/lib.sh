# Shared by the tests/abi shell tests, on top of tests/lib/tern.sh (which starts, stops and
# watches a real tern; see there). What is added here is refusal checking.
# Environment (set by ctest): TERN_BUILD_DIR, TERN_SOURCE_DIR, optionally TERN_BIN.
source "$TERN_SOURCE_DIR/tests/lib/tern.sh"

ABI_DIR=$TERN_SOURCE_DIR/tests/abi
# Loadable fixture plugins, and (one level down, outside every plugin_path) libraries the
# kernel must refuse.
ABI_PLUGINS=$TERN_BUILD_DIR/test-plugins/abi
ABI_REFUSED=$ABI_PLUGINS/refused

# abi_manifest <name> < plugin tables: writes $TERN_TMP/<name>.toml with the [kernel] table
# tern_start would write, and prints its path.
abi_manifest() {
    local file=$TERN_TMP/$1.toml
    {
        echo "[kernel]"
        echo "plugin_path = $(tern_plugin_path)"
        echo "shards = 1"
        echo "metrics_bind = \"127.0.0.1:0\""
        echo
        cat
    } >"$file"
    echo "$file"
}

# refused <output file> <tern arguments...>: tern must refuse, within 30 s, with exit
# status 1 -- never crash, hang or succeed. Its stdout and stderr go to the file.
refused() {
    local out=$1
    shift
    local rc=0
    timeout --kill-after=5 30 "$TERN_BIN" "$@" >"$out" 2>&1 || rc=$?
    [ $rc -ne 124 ] && [ $rc -ne 137 ] || { show_file "$out" >&2; fail "tern $* did not finish within 30s"; }
    [ $rc -eq 1 ] || { show_file "$out" >&2; fail "tern $*: exit status $rc, expected 1 (a refusal)"; }
}

# says <output file> <text>...: the output contains every text (fixed strings)
says() {
    local out=$1 t
    shift
    for t in "$@"; do assert_contains "$out" "$t" "the refusal should say: $t"; done
}
