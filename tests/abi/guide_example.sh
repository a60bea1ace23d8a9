#!/usr/bin/env bash
# The author guide ends with the complete hello_resource source; this keeps that listing
# equal to the file the tests build, so the guide never teaches code that does not compile.
# usage: guide_example.sh <docs/plugin-author-guide.md> <sdk/examples/hello_resource/hello_resource.cpp>
set -euo pipefail
guide=$1 source=$2
listing=$(awk '/^## The complete example/ {in_section = 1; next}
               in_section && /^```cpp$/ {in_code = 1; next}
               in_code && /^```$/ {exit}
               in_code {print}' "$guide")
if ! diff -u "$source" <(printf '%s\n' "$listing"); then
    echo "FAIL: the listing under '## The complete example' in $guide differs from $source (diff above)"
    echo "      paste the file into the guide again"
    exit 1
fi
echo "ok: the guide shows $(basename "$source") as it is"
