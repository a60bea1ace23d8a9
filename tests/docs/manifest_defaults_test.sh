#!/usr/bin/env bash
# Keeps config/tern.toml true of the plugins: every default it states, a commented line
#
#   # key = value
#
# under [kernel] or [plugins.NAME] (and its sub-tables such as [plugins.dtls.x509]), must be
# the default `tern config sample PLUGIN` prints for that key, and the comment line right
# above it must be the sample's description of the key. Every key the sample prints must
# appear in the manifest (as such a default, or set on an uncommented line), so a new setting
# cannot be left out. A key the manifest names that the plugin does not have fails too.
#
#   TERN_BUILD_DIR=build TERN_SOURCE_DIR=. bash tests/docs/manifest_defaults_test.sh
#
# The plugin of a table is its `plugin = "..."` line, else the table's name. TERN_DOCS_PLUGINS
# (set by CMake) lists the plugins this build makes: a table of any other plugin is skipped.
set -u -o pipefail

name=${TERN_TEST_NAME:-docs_manifest_defaults}
note() { printf '[%s] %s\n' "$name" "$*"; }
die() { printf '[%s] FAIL: %s\n' "$name" "$*" >&2; exit 1; }

[ -n "${TERN_BUILD_DIR:-}" ] || die "TERN_BUILD_DIR is not set (the cmake build tree)"
src=${TERN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=$(cd "$TERN_BUILD_DIR" && pwd) || die "no build tree at $TERN_BUILD_DIR"
tern=$build/bin/tern
[ -x "$tern" ] || die "tern is not built: $tern is missing"
manifest=${TERN_MANIFEST:-$src/config/tern.toml}
[ -f "$manifest" ] || die "no manifest at $manifest"
rel=${manifest#"$src"/}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-defaults.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
US=$'\x1f'
search=$tmp/search.toml
printf '[kernel]\nplugin_path = ["%s/plugins"]\n' "$build" >"$search"

# records FILE: one line per key of a TOML text, fields separated by US (the ASCII unit
# separator, so that empty fields survive `read`):
#   instance  subtable  key  value  kind  line  comment-above
# kind: "default" for a commented `# key = value` line, "set" for an uncommented one.
# instance: "kernel" for [kernel], NAME for [plugins.NAME] and its sub-tables; subtable: the
# rest of the table name ("" for the instance's own table). Lines outside such tables and
# comment lines that are prose (not exactly "# key = value") are not keys.
records() {
    awk -v US="$US" '
        function trim(s) { sub(/^[[:space:]]+/, "", s); sub(/[[:space:]]+$/, "", s); return s }
        /^\[[^]]*\][[:space:]]*$/ {
            t = $0; sub(/^\[/, "", t); sub(/\][[:space:]]*$/, "", t); t = trim(t)
            inst = ""; sub_ = ""
            if (t == "kernel") inst = "kernel"
            else if (t ~ /^plugins\.[A-Za-z0-9_-]+/) {
                rest = substr(t, 9); i = index(rest, ".")
                if (i) { inst = substr(rest, 1, i - 1); sub_ = substr(rest, i + 1) }
                else inst = rest
            }
            prev = ""; next
        }
        inst != "" && /^# [A-Za-z_][A-Za-z0-9_]* = / {
            k = substr($0, 3); i = index(k, " = ")
            print inst US sub_ US substr(k, 1, i - 1) US trim(substr(k, i + 3)) US "default" US NR US prev
            prev = $0; next
        }
        inst != "" && /^[A-Za-z_][A-Za-z0-9_]*[[:space:]]*=/ {
            i = index($0, "=")
            print inst US sub_ US trim(substr($0, 1, i - 1)) US trim(substr($0, i + 1)) US "set" US NR US prev
            prev = $0; next
        }
        { prev = $0 }
    ' "$1"
}

records "$manifest" >"$tmp/manifest.rec"
[ -s "$tmp/manifest.rec" ] || die "$rel: no keys found"

built=" ${TERN_DOCS_PLUGINS:-} "
failed=0
checked=0
skipped=0
problem() { failed=1; printf '%s\n' "$*" >&2; }

for inst in $(cut -d"$US" -f1 "$tmp/manifest.rec" | awk '!seen[$0]++'); do
    if [ "$inst" = kernel ]; then
        plugin=kernel
    else
        plugin=$(awk -F"$US" -v i="$inst" '$1 == i && $2 == "" && $3 == "plugin" && $5 == "set" { print $4 }' \
                     "$tmp/manifest.rec" | tr -d '"' | tail -n1)
        [ -n "$plugin" ] || plugin=$inst
        if [ -n "${TERN_DOCS_PLUGINS:-}" ] && [[ $built != *" $plugin "* ]]; then
            note "skip [plugins.$inst] ($plugin is not built in this configuration)"
            skipped=$((skipped + 1))
            continue
        fi
    fi
    if ! timeout 20 "$tern" config sample "$plugin" --config "$search" >"$tmp/$inst.sample" 2>"$tmp/err"; then
        problem "$rel: \`tern config sample $plugin\` failed (is libtern-$plugin.so built in $build/plugins?):"
        head -c 2000 "$tmp/err" >&2
        continue
    fi
    # The sample names its own table: [plugins.PLUGIN...]; key it by this instance's name.
    sed -E "s/^\[plugins\.$plugin([].])/[plugins.$inst\1/" "$tmp/$inst.sample" >"$tmp/$inst.sample.toml"
    records "$tmp/$inst.sample.toml" | awk -F"$US" -v i="$inst" '$1 == i && $5 == "set"' >"$tmp/$inst.want"
    [ -s "$tmp/$inst.want" ] || { problem "$rel: \`tern config sample $plugin\` printed no keys"; continue; }
    awk -F"$US" -v i="$inst" '$1 == i' "$tmp/manifest.rec" >"$tmp/$inst.have"

    # every stated default: a key of the plugin, its default, its description above it
    while IFS=$US read -r _ sub key value kind line above; do
        table=$([ "$inst" = kernel ] && echo kernel || echo "plugins.$inst")${sub:+.$sub}
        want=$(awk -F"$US" -v s="$sub" -v k="$key" '$2 == s && $3 == k' "$tmp/$inst.want" | head -n1)
        if [ -z "$want" ]; then
            [ "$kind" = set ] && continue   # kernel-owned keys (enabled, plugin, file, log_level)
            problem "$rel:$line: [$table] states a default for '$key', which \`tern config sample $plugin\` does not have (a removed or misspelled key?)"
            continue
        fi
        [ "$kind" = default ] || continue
        checked=$((checked + 1))
        want_value=$(cut -d"$US" -f4 <<<"$want")
        want_above=$(cut -d"$US" -f7 <<<"$want")
        [ "$value" = "$want_value" ] ||
            problem "$rel:$line: [$table] $key: the manifest says the default is $value, \`tern config sample $plugin\` says $want_value"
        [ "$above" = "$want_above" ] ||
            problem "$rel:$((line - 1)): [$table] $key: the comment above the default differs from the sample's description
  manifest: $above
  sample:   $want_above"
    done <"$tmp/$inst.have"

    # every key of the sample appears in the manifest
    while IFS=$US read -r _ sub key value _ _ _; do
        awk -F"$US" -v s="$sub" -v k="$key" '$2 == s && $3 == k { found = 1 } END { exit !found }' "$tmp/$inst.have" && continue
        table=$([ "$inst" = kernel ] && echo kernel || echo "plugins.$inst")${sub:+.$sub}
        problem "$rel: [$table] lacks '$key' (default $value): add its description and '# $key = $value' as \`tern config sample $plugin\` prints them"
    done <"$tmp/$inst.want"
done

[ $failed = 0 ] || die "$rel states defaults that are not the plugins' (see above; \`tern config sample PLUGIN\` prints the truth)"
[ $checked -gt 0 ] || die "$rel: no default checked"
note "PASS: $checked defaults in $rel match \`tern config sample\` ($skipped table(s) skipped)"
