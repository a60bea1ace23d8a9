#!/usr/bin/env bash
# Scale-out (issue 15) b: downlinks follow the device. RPCs sent through the core node's
# admin API and shared-attribute changes reach devices observing on either transport node;
# a device that leaves t1 for t2 (ending its observations there, or without a word, as a
# load balancer would move it) and observes again on t2 keeps receiving both, from t2 only;
# a persistent RPC queued meanwhile reaches it on its new node; a replaced token is refused
# by both nodes within a second; an OTA package uploaded on
# the core node is announced and downloaded through both nodes, each caching it
# (downlinks.mjs).
set -u
source "$TERN_SOURCE_DIR/tests/scaleout/cluster.sh"
cl_init
cl_up

cl_node downlinks.mjs
for n in t1 t2; do
    tern_note "$n: downlinks $(cl_metric $n core_nats_downlinks_total), dropped $(cl_metric $n core_nats_downlinks_dropped_total)"
done
tern_note "core: downlinks published $(cl_metric core nats_bridge_downlinks_total), unrouted $(cl_metric core nats_bridge_downlinks_unrouted_total)"
assert_ge "$(cl_metric t1 core_nats_downlinks_total)" 2 "downlinks received by t1 (core_nats_downlinks_total)"
assert_ge "$(cl_metric t2 core_nats_downlinks_total)" 2 "downlinks received by t2 (core_nats_downlinks_total)"
# each transport node fetched the 200000-byte OTA image from the core node into its cache
assert_ge "$(cl_metric t1 core_nats_ota_cache_bytes)" 200000 "t1: OTA cache bytes (core_nats_ota_cache_bytes)"
assert_ge "$(cl_metric t2 core_nats_ota_cache_bytes)" 200000 "t2: OTA cache bytes (core_nats_ota_cache_bytes)"

cl_stop_all
tern_note PASS
