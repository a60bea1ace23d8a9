#!/usr/bin/env bash
# Keeps the file maps of the plugin READMEs true: every plugins/*/README.md opens, right after
# its title and summary, with a "## Files" section (the first "## " heading of the file) that
# names every file of the plugin's src/, and every file it names exists.
#
#   bash tests/docs/readme_file_maps_test.sh [plugins/NAME/README.md ...]
#
# What counts as a name in the section (up to the next "## " heading), wherever it stands, in
# a list, a table or a code block:
#   codec.cpp, src/codec.cpp, cli/args.cpp    a file of src/ (src/ may be written or left out)
#   writer.*  shard_*.cpp  cli_<word>.cpp      every file of src/ the pattern matches (at least one;
#                                              a <placeholder> matches like *)
#   core.hpp/.cpp                              core.hpp and core.cpp
#   bench/x.cpp, tests/y.cpp                   a file of the plugin's own folder outside src/ (the
#                                              first part names a folder of the plugin): must exist
#   sdk/include/tern/abi/coap.h, libs/...     a file of the repository: must exist
#   hardening_test.cpp                         not in src/: a file elsewhere in the plugin's folder
# A name is a word ending in .cpp, .hpp, .h, .c, .cc, .hh, .inc, .ipp or .* ; other words
# (tern.core/1, §5.1, e.g.) are prose. Prints README:line: why for every problem.
set -u -o pipefail

name=${TERN_TEST_NAME:-docs_readme_file_maps}
note() { printf '[%s] %s\n' "$name" "$*"; }
src=${TERN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$src" || exit 2

if (($# > 0)); then readmes=("$@"); else readmes=(plugins/*/README.md); fi

failed=()
problems=0
problem() { printf '%s\n' "$*" >&2; problems=$((problems + 1)); }

# names FILE FIRST LAST: "line<TAB>name" for every file name on lines FIRST..LAST.
names() {
    sed -n "$2,$3p" "$1" | perl -ne '
        my $ext = qr/(?:cpp|hpp|h|c|cc|hh|inc|ipp)/;
        while (m{(?<![A-Za-z0-9_./*<>-])([A-Za-z0-9_*<][A-Za-z0-9_*<>./-]*\.(?:$ext|\*)(?:/\.$ext)*)(?![A-Za-z0-9_])}g) {
            (my $w = $1) =~ s/<[^<>\/]*>/*/g;        # cli_<word>.cpp: a placeholder is a pattern
            print $. + '"$2"' - 1, "\t", $w, "\n";
        }'
}

for readme in "${readmes[@]}"; do
    dir=$(dirname "$readme")
    plugin=$(basename "$dir")
    before=$problems
    [ -f "$readme" ] || { problem "$readme: no such file"; failed+=("$plugin"); continue; }
    first_h2=$(grep -n '^## ' "$readme" | head -n1)
    start=$(grep -n '^## Files[[:space:]]*$' "$readme" | head -n1 | cut -d: -f1)
    if [ -z "$start" ]; then
        problem "$readme: no \"## Files\" heading (the first \"## \" section: a map of src/, one line per file saying what it holds; tests/docs/readme_file_maps_test.sh says what counts as a name)"
        failed+=("$plugin")
        continue
    fi
    [ "${first_h2%%:*}" = "$start" ] ||
        problem "$readme:$start: \"## Files\" must be the first \"## \" section (right after the title and summary); the first is line ${first_h2}"
    end=$(awk -v s="$start" 'NR > s && /^## / { print NR - 1; exit }' "$readme")
    [ -n "$end" ] || end=$(wc -l <"$readme")

    # the files of src/ and whether a name covered each
    declare -A covered=()
    if [ -d "$dir/src" ]; then
        while IFS= read -r f; do covered[$f]=0; done < <(cd "$dir/src" && find . -type f | sed 's|^\./||' | sort)
    fi

    while IFS=$'\t' read -r line word; do
        # core.hpp/.cpp -> core.hpp core.cpp
        stem=${word%%/.*}
        expanded=("$stem")
        if [[ $word == */.* ]]; then
            base=${stem%.*}
            rest=${word#"$stem"}
            while [[ $rest == /.* ]]; do
                rest=${rest#/.}
                ext=${rest%%/.*}
                expanded+=("$base.$ext")
                rest=${rest#"$ext"}
            done
        fi
        for w in "${expanded[@]}"; do
            w=${w#./}
            first=${w%%/*}
            if [[ $w == src/* ]]; then
                w=${w#src/}
            elif [[ $w == */* && $first != src && -d $dir/$first && ! -d $dir/src/$first ]]; then
                compgen -G "$dir/$w" >/dev/null ||
                    problem "$readme:$line: names $w, which is not in $dir/"
                continue
            elif [[ $w == */* && -d $first && ! -d $dir/src/$first ]]; then
                compgen -G "$w" >/dev/null ||
                    problem "$readme:$line: names $w, which is not in the repository"
                continue
            fi
            hit=0
            for f in "${!covered[@]}"; do
                # shellcheck disable=SC2053  # $w is a pattern on purpose (writer.*)
                if [[ $f == $w ]]; then covered[$f]=1; hit=1; fi
            done
            ((hit)) && continue
            # a bare name of a file elsewhere in the plugin (a test named beside tests/)
            [[ $w != */* ]] && [ -n "$(find "$dir" -path "$dir/src" -prune -o -name "$w" -print -quit)" ] &&
                continue
            problem "$readme:$line: names $w, which is not in $dir/src/ (renamed or removed? update the map)"
        done
    done < <(names "$readme" "$start" "$end")

    for f in $(printf '%s\n' "${!covered[@]}" | sort); do
        ((covered[$f])) || problem "$readme:$start-$end: the file map does not name src/$f (add a line saying what it holds)"
    done
    unset covered
    ((problems == before)) || failed+=("$plugin")
    ((problems == before)) && note "ok   $readme: the map names every file of src/"
done

if ((${#failed[@]})); then
    printf '[%s] FAIL: %d problem(s); README(s) whose file map is missing or untrue: %s\n' \
        "$name" "$problems" "${failed[*]}" >&2
    exit 1
fi
note "PASS: ${#readmes[@]} README(s) map their src/"
