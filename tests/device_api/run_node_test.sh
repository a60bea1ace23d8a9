#!/usr/bin/env bash
# One node conformance test against its own tern:
#   run_node_test.sh NAME [tern run options, e.g. --set plugins.coap.timeout=4000]
# starts the device stack (device_api.sh), runs tests/device_api/NAME.mjs, stops tern
# (SIGTERM, exit status 0 required).
set -u
source "$TERN_SOURCE_DIR/tests/device_api/device_api.sh"
name=$1
shift
dapi_init
dapi_start "$@"
export DAPI_TERN_BIN="$TERN_BIN" DAPI_MANIFEST="$TERN_MANIFEST"
dapi_node "$name.mjs"
tern_stop
tern_note PASS
