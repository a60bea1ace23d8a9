#!/usr/bin/env bash
# Keeps references into the device contract landing: every "device-api.md §N" (or §N.M, and
# the §… that follow it in the same list: "docs/device-api.md §3, §0.2") anywhere in the
# repository, and every "§N" inside docs/device-api.md itself, must name a section heading of
# docs/device-api.md ("## N. Title" or "### N.M Title"). A reference one level deeper
# (§4.1.3: step 3 of §4.1) needs its section. The sections §0 to §11 and their subsections
# must all be there. Prints file:line: why for each dangling reference.
#
#   bash tests/docs/device_api_refs_test.sh
set -u -o pipefail

name=${TERN_TEST_NAME:-docs_device_api_refs}
src=${TERN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$src" || exit 2
doc=docs/device-api.md
[ -f "$doc" ] || { echo "[$name] FAIL: $doc is missing" >&2; exit 1; }

# the section numbers the contract has
sections=$(sed -nE 's/^## ([0-9]+)\. .*/\1/p; s/^### ([0-9]+\.[0-9]+) .*/\1/p' "$doc" | sort -u)
[ -n "$sections" ] || { echo "[$name] FAIL: $doc has no numbered sections" >&2; exit 1; }
has() { grep -qxF -- "$1" <<<"$sections"; }

# The numbering code and docs rely on (these sections are referred to from the whole tree).
missing=()
for want in 0 1 1.1 1.2 1.3 1.4 2 2.1 2.2 2.3 2.4 3 3.1 3.2 3.3 4 4.1 4.2 5 5.1 5.2 6 7 8 9 10 11; do
    has "$want" || missing+=("§$want")
done
if ((${#missing[@]})); then
    echo "[$name] FAIL: $doc lacks the section heading(s) ${missing[*]} (\"## N. Title\" / \"### N.M Title\")" >&2
    exit 1
fi

# file<TAB>line<TAB>number for every reference: after "device-api.md" (the § list that
# follows it, up to the first word that is not a §, "and" or "item"), and every § inside the
# contract itself (RFC sections such as "RFC 7252 §5.2" excluded).
refs() {
    grep -rIn --exclude-dir=.git --exclude-dir=node_modules --exclude-dir='build*' --exclude-dir=var \
        -e 'device-api\.md' . 2>/dev/null | sed 's|^\./||' | perl -ne '
        my ($f, $l, $t) = /^([^:]+):(\d+):(.*)$/ or next;
        while ($t =~ /device-api\.md((?:[\s,;]*(?:and\s+)?§\d+(?:\.\d+)*)+)/g) {
            my $list = $1;
            print "$f\t$l\t$_\n" for $list =~ /§(\d+(?:\.\d+)*)/g;
        }'
    perl -ne '
        my $t = $_;
        $t =~ s/RFC\s*\d+\s*§\d+(?:\.\d+)*//g;          # RFC 7252 §5.2
        $t =~ s/RFC\s*\d+\s*\(§\d+(?:\.\d+)*\)//g;
        print "'"$doc"'\t$.\t$_\n" for $t =~ /§(\d+(?:\.\d+)*)/g;
    ' "$doc"
}

bad=0
n=0
while IFS=$'\t' read -r file line num; do
    n=$((n + 1))
    has "$num" && continue
    parent=${num%.*}
    [[ $num == *.*.* ]] && has "$parent" && continue
    printf '%s:%s: §%s is not a section of %s (its sections: %s)\n' \
        "$file" "$line" "$num" "$doc" "$(tr '\n' ' ' <<<"$sections")" >&2
    bad=$((bad + 1))
done < <(refs | sort -u)

if ((bad)); then
    echo "[$name] FAIL: $bad reference(s) into $doc name no section" >&2
    exit 1
fi
echo "[$name] PASS: $n reference(s) into $doc land on a section"
