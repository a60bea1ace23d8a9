// Readiness of a fresh cluster: a probe device posts telemetry to each transport node until
// it gets 2.01 (at most 20 s). Until the core node's bridge has created the uplink stream and
// announced the partition count, and core_nats has read it, uplinks get 5.03.
import { createDevice, tp, code, res, sleep } from '../device_api/lib/dapi.mjs';
import { nodeDevice, nodes } from './lib/cluster.mjs';

const t0 = Date.now();
for (const node of Object.keys(nodes)) {
    const dv = await createDevice(`probe-${node}`);
    const d = await nodeDevice(node);
    let r;
    for (;;) {
        r = await d.request({ method: 'POST', path: tp(dv.token, 'telemetry'), payload: { probe: 1 }, timeoutMs: 2000 });
        if (code(r) === '2.01') break;
        if (Date.now() - t0 > 20000) {
            console.log(`FAIL ${node} (udp ${nodes[node]}) does not store telemetry after 20 s; last answer: ${res(r)}`);
            process.exit(1);
        }
        await sleep(200);
    }
    d.close();
    console.log(`ok   ${node} stores telemetry (${Date.now() - t0} ms after the nodes were ready)`);
}
process.exit(0);
