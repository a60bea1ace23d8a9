#!/usr/bin/env bash
# The kernel refuses what it cannot run, before running any of its code, with one message
# that names the file (or the instance), says what is wrong, and says what to do about it.
# Each case asserts the parts of the message that matter, not its exact wording.
# usage: refusals.sh <case>    (environment: TERN PLUGINS REFUSED WORK, see lib.sh)
source "$(dirname "$0")/lib.sh"
need_env TERN PLUGINS REFUSED WORK
case_name=${1:?usage: refusals.sh <case>}
dir=$(fresh_dir "refuses-$case_name")
out=$dir/output.txt

# inspect <library>: `tern plugins inspect` must refuse it: exit 1
inspect() {
    run_capture 20 "$out" "$TERN" plugins inspect "$1"
    expect_rc 1 "$out" "tern plugins inspect $1"
}

# manifest_with <toml>: a manifest of our fixture plugins plus the given tables
manifest_with() {
    { kernel_table "$PLUGINS"; echo; cat; } >"$dir/manifest.toml"
}

# through <check|run>: the manifest must be refused by `tern check` / `tern run`: exit 1
through() {
    run_capture 30 "$out" "$TERN" "$1" --config "$dir/manifest.toml"
    expect_rc 1 "$out" "tern $1 --config $dir/manifest.toml"
}

case "$case_name" in
missing_file)
    lib=$REFUSED/libtern-does_not_exist.so
    inspect "$lib"
    expect_text "$out" "cannot load plugin library $lib: " \
        "check that the file exists and that its dependencies resolve (ldd $lib)"
    ;;
not_a_library)
    lib=$REFUSED/not_a_library.so
    inspect "$lib"
    # dlerror's own words come through ("invalid ELF header" or "file too short").
    expect_text "$out" "cannot load plugin library $lib: " "$lib: " \
        "check that the file exists and that its dependencies resolve (ldd $lib)"
    grep -qE 'invalid ELF header|file too short' "$out" || { show "$out"; fail "dlerror's text is missing"; }
    ;;
no_entry)
    lib=$REFUSED/libtern-bad_no_entry.so
    inspect "$lib"
    expect_text "$out" "$lib is not a Tern plugin" "exports no tern_plugin_entry" \
        "build it with TERN_PLUGIN() from the Tern SDK"
    ;;
bad_magic)
    lib=$REFUSED/libtern-bad_magic.so
    inspect "$lib"
    expect_text "$out" "$lib is not a Tern plugin" "bad magic number (0xdeadbeef, expected 0x4e524554)" \
        "rebuild it with the Tern SDK"
    ;;
small_header)
    lib=$REFUSED/libtern-bad_small_header.so
    inspect "$lib"
    expect_text "$out" "$lib: descriptor too small (16 bytes, ABI 1.0 needs 104)" "rebuild it with the Tern SDK"
    ;;
next_major)
    lib=$REFUSED/libtern-bad_major.so
    want=("plugin 'bad_major' ($lib)" "built for Tern ABI 2.0, this kernel provides ABI 1.0"
          "rebuild it against the Tern 1.x SDK, or run a Tern kernel of ABI 2.x")
    inspect "$lib"
    expect_text "$out" "${want[@]}"
    # The same refusal when a manifest names it: nothing of it runs, nothing else starts.
    manifest_with <<TOML
[plugins.future]
plugin = "bad_major"
file = "$lib"
TOML
    through check
    expect_text "$out" "${want[@]}"
    ;;
missing_iid)
    manifest_with <<'TOML'
[plugins.missing_iid]
TOML
    for cmd in check run; do
        through $cmd
        expect_text "$out" "plugin 'missing_iid' ($PLUGINS/libtern-missing_iid.so)" \
            "requires interface 'tern.nothing/1', which no enabled plugin provides" \
            "enable a plugin that provides it ('tern plugins list' shows who provides what)"
    done
    ;;
create_throws)
    manifest_with <<'TOML'
[plugins.thrower]
plugin = "throws"
throw_in = "create"
TOML
    through run
    expect_text "$out" "plugin instance 'thrower' could not be created: thrown from create() on purpose"
    ;;
start_throws)
    manifest_with <<'TOML'
[plugins.thrower]
plugin = "throws"
throw_in = "start"
TOML
    through run
    expect_text "$out" "plugin instance 'thrower' failed to start: thrown from start() on purpose"
    ;;
start_fails)
    # Beside an instance that starts fine: start-up is all or nothing, and the kernel
    # must still exit (stopping what it started) rather than hang half-started.
    manifest_with <<TOML
[plugins.good_1_1]

[plugins.start_fails]
TOML
    through run
    expect_text "$out" "plugin instance 'start_fails' failed to start: cannot open /dev/tern-fixture: simulated failure"
    ;;
schema_reserved_key)
    manifest_with <<'TOML'
[plugins.bad_schema_reserved]
TOML
    through check
    expect_text "$out" "bad_schema_reserved" "key 'enabled'" "kernel owns"
    ;;
schema_duplicate_key)
    manifest_with <<'TOML'
[plugins.bad_schema_duplicate]
TOML
    through check
    expect_text "$out" "bad_schema_duplicate" "key 'port' is declared twice"
    ;;
*)
    fail "unknown case '$case_name'"
    ;;
esac
echo "ok: $case_name refused as it should be"
