#!/usr/bin/env bash
# A plugin exports tern_plugin_entry and nothing else (the SDK's linker version script),
# so nothing it links -- wolfSSL, protobuf, its own C++ runtime's inline functions -- can
# interpose on the kernel or on another plugin.
# usage: exports.sh <plugin library>...
set -euo pipefail
failed=0
for lib in "$@"; do
    exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWiu]$/ {print $3}' | sort)
    if [ "$exported" != "tern_plugin_entry" ]; then
        echo "FAIL: $lib exports more (or other) than tern_plugin_entry:"
        echo "$exported" | sed 's/^/    /'
        echo "  build it with tern_add_plugin() (TernPlugin.cmake), which applies tern-plugin.map"
        failed=1
    else
        echo "ok: $(basename "$lib") exports only tern_plugin_entry"
    fi
done
exit $failed
