#!/usr/bin/env bash
# Keeps the configuration tables of the plugin READMEs true: in every plugins/*/README.md,
# the Markdown table right after a line
#
#   Generated with `tern config docs NAME`:
#
# must be exactly what `tern config docs NAME` prints for the plugin as built. On a
# difference the test prints the diff and how to regenerate the table.
#
#   TERN_BUILD_DIR=build TERN_SOURCE_DIR=. bash tests/docs/readme_config_tables_test.sh [--fix]
#
# --fix rewrites the drifted tables in place instead of failing. TERN_DOCS_PLUGINS (set by
# CMake) lists the plugins this build makes; a README of a plugin not in it is skipped,
# one in it whose library is missing fails. Unset: every README is checked.
set -u -o pipefail

name=${TERN_TEST_NAME:-docs_readme_config_tables}
note() { printf '[%s] %s\n' "$name" "$*"; }
die() { printf '[%s] FAIL: %s\n' "$name" "$*" >&2; exit 1; }

fix=0
[ "${1:-}" = "--fix" ] && fix=1

[ -n "${TERN_BUILD_DIR:-}" ] || die "TERN_BUILD_DIR is not set (the cmake build tree)"
src=${TERN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=$(cd "$TERN_BUILD_DIR" && pwd) || die "no build tree at $TERN_BUILD_DIR"
tern=$build/bin/tern
[ -x "$tern" ] || die "tern is not built: $tern is missing"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-docs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
manifest=$tmp/docs.toml
printf '[kernel]\nplugin_path = ["%s/plugins"]\n' "$build" >"$manifest"

built=" ${TERN_DOCS_PLUGINS:-} "
checked=0
skipped=0
failed=0

# table_after FILE LINE: the lines of the Markdown table that follows line LINE of FILE
# (blank lines in between allowed), with their line numbers as "N<TAB>text".
table_after() {
    awk -v start="$2" '
        NR <= start { next }
        !seen && /^[[:space:]]*$/ { next }
        /^\|/ { seen = 1; print NR "\t" $0; next }
        { exit }
    ' "$1"
}

for readme in "$src"/plugins/*/README.md; do
    [ -f "$readme" ] || continue
    rel=${readme#"$src"/}
    # every marker of the file (a README may document several plugins), last first, so
    # that --fix leaves the line numbers of the markers still to come as they were
    while IFS= read -r entry; do
        line=${entry%%:*}
        text=${entry#*:}
        plugin=$(sed -nE 's/^Generated with `tern config docs ([A-Za-z0-9_.-]+)`:[[:space:]]*$/\1/p' <<<"$text")
        [ -n "$plugin" ] || { failed=1; printf '%s:%s: malformed marker: %s\n' "$rel" "$line" "$text" >&2; continue; }
        if [ -n "${TERN_DOCS_PLUGINS:-}" ] && [[ $built != *" $plugin "* ]]; then
            note "skip $rel ($plugin is not built in this configuration)"
            skipped=$((skipped + 1))
            continue
        fi
        # (the tern of a build tree finds its plugins in ../plugins without a manifest)
        regen="$tern config docs $plugin"
        want=$tmp/$plugin.generated
        if ! timeout 20 "$tern" config docs "$plugin" --config "$manifest" >"$want" 2>"$tmp/err"; then
            failed=1
            printf '%s:%s: `tern config docs %s` failed (is libtern-%s.so built in %s/plugins?):\n' \
                "$rel" "$line" "$plugin" "$plugin" "$build" >&2
            head -c 2000 "$tmp/err" >&2
            continue
        fi
        # what the command prints, without trailing blank lines
        awk '{ l[NR] = $0 } END { n = NR; while (n > 0 && l[n] ~ /^[[:space:]]*$/) n--; for (i = 1; i <= n; i++) print l[i] }' \
            "$want" >"$want.trimmed" && mv "$want.trimmed" "$want"
        table_after "$readme" "$line" >"$tmp/numbered"
        cut -f2- "$tmp/numbered" >"$tmp/$plugin.readme"
        checked=$((checked + 1))
        if cmp -s "$want" "$tmp/$plugin.readme"; then
            note "ok   $rel: the table of $plugin ($(wc -l <"$want") lines)"
            continue
        fi
        if [ ! -s "$tmp/numbered" ]; then
            if [ $fix = 1 ]; then
                next=$(sed -n "$((line + 1))p" "$readme")
                {
                    head -n "$line" "$readme"
                    echo
                    cat "$want"
                    # a blank line after the table (the one that followed the marker, if any)
                    [ -n "${next//[[:space:]]/}" ] && echo
                    tail -n +$((line + 1)) "$readme"
                } >"$tmp/fixed" && cat "$tmp/fixed" >"$readme"
                note "fixed $rel: the table of $plugin inserted after line $line"
                continue
            fi
            failed=1
            printf '%s:%s: no Markdown table after the marker; paste the output of\n  %s\n' \
                "$rel" "$line" "$regen" >&2
            printf 'or run: TERN_BUILD_DIR=%s bash %s/tests/docs/readme_config_tables_test.sh --fix\n' \
                "$build" "$src" >&2
            continue
        fi
        first=$(head -n1 "$tmp/numbered" | cut -f1)
        last=$(tail -n1 "$tmp/numbered" | cut -f1)
        if [ $fix = 1 ]; then
            {
                head -n $((first - 1)) "$readme"
                cat "$want"
                tail -n +$((last + 1)) "$readme"
            } >"$tmp/fixed" && cat "$tmp/fixed" >"$readme"
            note "fixed $rel: lines $first-$last replaced with the table of $plugin"
            continue
        fi
        failed=1
        {
            printf '%s:%s-%s: the configuration table of %s differs from the plugin schema\n' \
                "$rel" "$first" "$last" "$plugin"
            echo "--- README ($rel)"
            echo "+++ tern config docs $plugin"
            diff -u "$tmp/$plugin.readme" "$want" | tail -n +3 | head -n 200
            echo "Regenerate it: replace lines $first-$last of $rel with the output of"
            echo "  $regen"
            echo "or run: TERN_BUILD_DIR=$build bash $src/tests/docs/readme_config_tables_test.sh --fix"
        } >&2
    done < <(grep -n '^Generated with `tern config docs' "$readme" | sort -t: -k1,1nr)
done

[ $failed = 0 ] || die "README configuration tables are out of date (see above)"
if [ $checked = 0 ]; then
    note "SKIP: no README table to check ($skipped skipped)"
    exit 77
fi
note "PASS: $checked table(s) match their schema ($skipped skipped)"
