// M2 end to end: a flood of unique-MID requests from many spoofed sources must not push a
// device's duplicate-detection entry out before its lifetime: the device's retransmitted
// CON telemetry POST (same MID, same token) is answered from the cache and stored once.
// The server runs with plugins.coap.dedup_capacity = FLOOD_DEDUP on one shard.
import crypto from 'node:crypto';
import {
    section, check, done, device, createDevice, telemetry, metric, tp, code, res, encode, decode, CON, ACK,
    METHODS, pathOptions, codeText,
} from '../device_api/lib/dapi.mjs';
import { floodFrom, spread } from './flood_lib.mjs';

const DEDUP = Number(process.env.FLOOD_DEDUP);

// flood(first, sources, perSource): CON requests with fresh MIDs, answered 4.04 or 4.01
// (never 2.xx): every one takes a dedup entry with a cached response.
async function flood(first, sources, perSource) {
    const list = [];
    for (let s = 0; s < sources; ++s) {
        const bufs = [];
        for (let k = 0; k < perSource; ++k) {
            const mid = (s * perSource + k) & 0xffff;
            const token = crypto.randomBytes(2);
            bufs.push(k % 4 === 3
                ? encode({ type: CON, code: METHODS.POST, mid, token, options: pathOptions(tp(`bad${s}`, 'telemetry')), payload: Buffer.from('{"x":1}') })
                : encode({ type: CON, code: METHODS.GET, mid, token, options: pathOptions(`nothing/${k}`) }));
        }
        list.push({ addr: spread(first + s), bufs });
    }
    await floodFrom(list, 100);
}

// exchange(d, buf, mid): sends buf, returns the ACK with that MID (or null).
async function exchange(d, buf, mid) {
    await d.sendRaw(buf);
    return d.receive((m) => m.type === ACK && m.mid === mid, 5000);
}

await section('M2: a retransmitted CON POST after a unique-MID flood is answered from the cache, stored once', async () => {
    const evicted0 = await metric('coap_dropped_total', ['reason="dedup_evicted"']);
    const dups0 = await metric('coap_duplicates_total');
    const { name, token } = await createDevice();
    const d = await device();
    // The device has talked to the server before (the usual case: a device reporting).
    const warm = await d.request({ method: 'POST', path: tp(token, 'telemetry'), payload: { warm: 1 }, timeoutMs: 5000 });
    check(code(warm) === '2.01', 'an earlier telemetry POST -> 2.01', '2.01', res(warm));

    const mid = d.nextMid();
    const buf = encode({ type: CON, code: METHODS.POST, mid, token: crypto.randomBytes(4),
        options: pathOptions(tp(token, 'telemetry')), payload: Buffer.from('{"seq":7}') });
    const first = await exchange(d, buf, mid);
    check(first && codeText(first.code) === '2.01', 'the POST -> 2.01 (piggy-backed)', '2.01', first ? codeText(first.code) : 'nothing');

    // Its ACK is "lost": the device retransmits after a flood many times the dedup store.
    await flood(0, 400, 10);
    const evicted = await metric('coap_dropped_total', ['reason="dedup_evicted"']) - evicted0;
    check(evicted >= 4000 - DEDUP - 200, `the flood cycled the dedup store (coap_dropped_total{reason="dedup_evicted"} +${evicted})`,
        `>= ${4000 - DEDUP - 200}`, evicted);

    const again = await exchange(d, buf, mid);
    check(again && codeText(again.code) === '2.01', 'the retransmission -> 2.01', '2.01', again ? codeText(again.code) : 'nothing');
    check(again && first && again.token.equals(first.token) && again.payload.equals(first.payload),
        'the very same response (replayed from the cache)', first && first.describe(), again && again.describe());
    const dups = await metric('coap_duplicates_total') - dups0;
    check(dups >= 1, 'counted as a duplicate (coap_duplicates_total)', '>= 1', dups);
    const t = await telemetry(name);
    const pts = (t?.seq ?? []).map((p) => Number(p.value.text ?? p.value));
    check(pts.length === 1 && pts[0] === 7, 'seq stored exactly once', [7], pts);
    d.close();
}, 60000);

await section('M2: a fresh device whose first POST was answered 2.01 is protected the same way', async () => {
    const { name, token } = await createDevice();
    const d = await device();
    const mid = d.nextMid();
    const buf = encode({ type: CON, code: METHODS.POST, mid, token: crypto.randomBytes(4),
        options: pathOptions(tp(token, 'telemetry')), payload: Buffer.from('{"first":1}') });
    const first = await exchange(d, buf, mid);
    check(first && codeText(first.code) === '2.01', 'its first POST -> 2.01', '2.01', first ? codeText(first.code) : 'nothing');
    await flood(400, 400, 10);
    const again = await exchange(d, buf, mid);
    check(again && codeText(again.code) === '2.01', 'the retransmission after the flood -> 2.01', '2.01', again ? codeText(again.code) : 'nothing');
    const t = await telemetry(name);
    const pts = (t?.first ?? []).map((p) => Number(p.value.text ?? p.value));
    check(pts.length === 1, 'stored exactly once', [1], pts);
    d.close();
}, 60000);

done();
