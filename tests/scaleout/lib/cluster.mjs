// Node side of the scale-out tests: devices that talk to one transport node or another (the
// raw CoAP endpoint of tests/device_api/lib/dapi.mjs, aimed at a node by its UDP port, as a
// UDP load balancer would send it), the ports of the cluster, and the telemetry checks
// every scenario shares.
//
// Environment (set by tests/scaleout/cluster.sh): CL_PORT_T1, CL_PORT_T2 (the transport
// nodes' UDP ports), DAPI_ADMIN_PORT and DAPI_ADMIN_KEY (the core node's admin API).
import { Device, api, enc, sleep, encode, HOST, CON, RST } from '../../device_api/lib/dapi.mjs';

export const nodes = { t1: Number(process.env.CL_PORT_T1), t2: Number(process.env.CL_PORT_T2) };
export const other = (node) => (node === 't1' ? 't2' : 't1');

// A device whose datagrams go to the transport node `node`; `moveTo(node)` sends its next
// datagrams (ACKs of notifications included) to another node from the same address, as a
// load balancer that moved it would. Each received message records the port it came from
// (`m.fromPort`) and the node that is (`m.fromNode`).
export class NodeDevice extends Device {
    constructor(node) {
        super();
        this.node = node;
        this.sock.on('message', (buf, rinfo) => {
            // dapi's own listener ran first and appended the message (unless it did not decode)
            const m = this.log[this.log.length - 1];
            if (m && m.fromPort === undefined) {
                m.fromPort = rinfo.port;
                m.fromNode = Object.keys(nodes).find((n) => nodes[n] === rinfo.port) ?? `port ${rinfo.port}`;
                // a CoAP ping (empty CON) is answered with a Reset, as RFC 7252 section 4.3
                // asks; the engine pings a new address to verify it before it sends large answers
                if (m.type === CON && m.code === 0)
                    this.sock.send(encode({ type: RST, code: 0, mid: m.mid }), rinfo.port, rinfo.address);
            }
        });
    }
    moveTo(node) { this.node = node; }
    sendRaw(buf) { return new Promise((r) => this.sock.send(buf, nodes[this.node], HOST, r)); }
}

export async function nodeDevice(node) { return new NodeDevice(node).open(); }

// storedSeq(name): Map ts -> seq of every stored point of the device's key `seq`.
export async function storedSeq(name) {
    const r = await api('GET', `/api/devices/${enc(name)}/telemetry?keys=seq&startTs=0&endTs=${Number.MAX_SAFE_INTEGER}&limit=100000&order=asc`);
    if (r.status !== 200) throw new Error(`admin telemetry of ${name}: ${r.status} ${r.text}`);
    return new Map((r.json?.seq ?? []).map((p) => [p.ts, p.value]));
}

// verifyStored(devices, acked, sent, {waitMs}): every acknowledged message of every device
// is stored with its value, and nothing else is (every stored point is a message that was
// sent, with the value sent). The core applies uplinks after JetStream acknowledged them, so
// this waits (bounded) for the acknowledged ones to appear. acked / sent: {name: [[ts, seq]]}.
// Returns {ok, lines}.
export async function verifyStored(devices, acked, sent, { waitMs = 20000 } = {}) {
    const deadline = Date.now() + waitMs;
    let stored;
    let missing = [];
    for (;;) {
        stored = new Map();
        missing = [];
        for (const dv of devices) {
            const s = await storedSeq(dv.name);
            stored.set(dv.name, s);
            for (const [ts, seq] of acked[dv.name] ?? []) if (!s.has(ts)) missing.push(`${dv.name} seq ${seq} (ts ${ts})`);
        }
        if (missing.length === 0 || Date.now() >= deadline) break;
        await sleep(250);
    }
    const lines = [];
    let ackedTotal = 0, storedTotal = 0, wrong = 0, unknown = 0;
    for (const dv of devices) {
        const s = stored.get(dv.name);
        const sentTs = new Map((sent[dv.name] ?? []).map(([ts, seq]) => [ts, seq]));
        ackedTotal += (acked[dv.name] ?? []).length;
        storedTotal += s.size;
        for (const [ts, value] of s) {
            if (!sentTs.has(ts)) { ++unknown; if (lines.length < 10) lines.push(`  ${dv.name}: stored ts ${ts} was never sent`); }
            else if (sentTs.get(ts) !== value) { ++wrong; if (lines.length < 10) lines.push(`  ${dv.name} ts ${ts}: stored ${value}, sent ${sentTs.get(ts)}`); }
        }
    }
    for (const m of missing.slice(0, 10)) lines.push(`  acknowledged but not stored: ${m}`);
    lines.unshift(`stored: ${ackedTotal} acknowledged, ${storedTotal} stored, ${missing.length} acknowledged but missing, ` +
        `${wrong} with a wrong value, ${unknown} never sent`);
    return { ok: missing.length === 0 && wrong === 0 && unknown === 0, lines, ackedTotal, storedTotal };
}
