#!/usr/bin/env bash
# Scale-out (issue 15) b: downlinks follow the device. RPCs sent through the core node's
# admin API and shared-attribute changes reach devices observing on either transport node;
# a device that leaves t1 for t2 (ending its observations there, or without a word, as a
# load balancer would move it) and observes again on t2 keeps receiving both, from t2 only;
# a persistent RPC queued meanwhile reaches it on its new node (downlinks.mjs).
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

cl_stop_all
tern_note PASS
