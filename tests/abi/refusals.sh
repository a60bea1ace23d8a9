#!/usr/bin/env bash
# The kernel refuses what it cannot run, before running any of its code, with one message
# that names the file (or the instance), says what is wrong, and says what to do about it.
# Each case asserts the parts of the message that matter, not its exact wording.
# usage: refusals.sh <case>    (environment: see lib.sh)
source "$(dirname "$0")/lib.sh"
case_name=${1:?usage: refusals.sh <case>}
TERN_TEST_NAME=abi.refuses.$case_name
tern_init
out=$TERN_TMP/output.txt

case "$case_name" in
missing_file)
    lib=$ABI_REFUSED/libtern-does_not_exist.so
    refused "$out" plugins inspect "$lib"
    says "$out" "cannot load plugin library $lib: " \
        "check that the file exists and that its dependencies resolve (ldd $lib)"
    ;;
not_a_library)
    lib=$ABI_REFUSED/not_a_library.so
    refused "$out" plugins inspect "$lib"
    says "$out" "cannot load plugin library $lib: " \
        "check that the file exists and that its dependencies resolve (ldd $lib)"
    # dlerror's own words come through
    assert_match "$out" 'invalid ELF header|file too short' "dlerror's text should be passed on"
    ;;
no_entry)
    lib=$ABI_REFUSED/libtern-bad_no_entry.so
    refused "$out" plugins inspect "$lib"
    says "$out" "$lib is not a Tern plugin" "exports no tern_plugin_entry" \
        "build it with TERN_PLUGIN() from the Tern SDK"
    ;;
bad_magic)
    lib=$ABI_REFUSED/libtern-bad_magic.so
    refused "$out" plugins inspect "$lib"
    says "$out" "$lib is not a Tern plugin" "bad magic number (0xdeadbeef, expected 0x4e524554)" \
        "rebuild it with the Tern SDK"
    ;;
small_header)
    lib=$ABI_REFUSED/libtern-bad_small_header.so
    refused "$out" plugins inspect "$lib"
    says "$out" "$lib: descriptor too small (16 bytes, ABI 1.0 needs 104)" "rebuild it with the Tern SDK"
    ;;
next_major)
    lib=$ABI_REFUSED/libtern-bad_major.so
    want=("plugin 'bad_major' ($lib)" "built for Tern ABI 2.0, this kernel provides ABI 1.2"
          "rebuild it against the Tern 1.x SDK, or run a Tern kernel of ABI 2.x")
    refused "$out" plugins inspect "$lib"
    says "$out" "${want[@]}"
    # The same refusal when a manifest names it.
    manifest=$(abi_manifest future <<TOML
[plugins.future]
plugin = "bad_major"
file = "$lib"
TOML
)
    refused "$out" check --config "$manifest"
    says "$out" "${want[@]}"
    ;;
next_major_small_header)
    # Another major with a descriptor smaller than 1.0's: the version is what to hear about
    # (the major is checked before the size), and the name comes from the file.
    lib=$ABI_REFUSED/libtern-bad_major_small_header.so
    refused "$out" plugins inspect "$lib"
    says "$out" "plugin 'bad_major_small_header' ($lib)" "built for Tern ABI 2.0, this kernel provides ABI 1.2" \
        "rebuild it against the Tern 1.x SDK, or run a Tern kernel of ABI 2.x"
    if grep -q 'descriptor too small' "$out"; then fail "a 2.x plugin was told its descriptor is too small"; fi
    ;;
missing_iid)
    manifest=$(abi_manifest missing_iid <<'TOML'
[plugins.missing_iid]
TOML
)
    for cmd in check run; do
        refused "$out" $cmd --config "$manifest"
        says "$out" "plugin 'missing_iid' ($ABI_PLUGINS/libtern-missing_iid.so)" \
            "requires interface 'tern.nothing/1', which no enabled plugin provides" \
            "enable a plugin that provides it ('tern plugins list' shows who provides what)"
    done
    ;;
create_throws | start_throws)
    where=${case_name%_throws}
    # An instance name other than the plugin's: messages name the instance.
    manifest=$(abi_manifest throws <<TOML
[plugins.thrower]
plugin = "throws"
throw_in = "$where"
TOML
)
    refused "$out" run --config "$manifest"
    if [ "$where" = create ]; then
        says "$out" "plugin instance 'thrower' could not be created: " "thrown from create() on purpose"
    else
        says "$out" "plugin instance 'thrower' failed to start: " "thrown from start() on purpose"
    fi
    ;;
start_fails)
    # Beside an instance that starts fine: start-up is all or nothing, and the kernel must
    # still exit (stopping what it started) rather than hang half-started.
    manifest=$(abi_manifest start_fails <<'TOML'
[plugins.good_1_1]

[plugins.start_fails]
TOML
)
    refused "$out" run --config "$manifest"
    says "$out" "plugin instance 'start_fails' failed to start: cannot open /dev/tern-fixture: simulated failure"
    ;;
schema_reserved_key)
    manifest=$(abi_manifest reserved <<'TOML'
[plugins.bad_schema_reserved]
TOML
)
    refused "$out" check --config "$manifest"
    says "$out" "plugin 'bad_schema_reserved' declares a bad config schema" "key 'enabled'" "kernel owns" \
        "fix its tern_config_key table and rebuild it"
    ;;
schema_duplicate_key)
    manifest=$(abi_manifest duplicate <<'TOML'
[plugins.bad_schema_duplicate]
TOML
)
    refused "$out" check --config "$manifest"
    says "$out" "plugin 'bad_schema_duplicate' declares a bad config schema" "key 'port' is declared twice" \
        "fix its tern_config_key table and rebuild it"
    ;;
*)
    fail "unknown case '$case_name'"
    ;;
esac
tern_note "PASS: refused with the right message"
