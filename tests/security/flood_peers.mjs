// H1 end to end: requests that leave no open exchange (NON, unknown paths, bad tokens) from
// thousands of spoofed loopback sources must not lock new devices out of the peer table,
// and one source network holds at most its share of it. The server runs with
// plugins.coap.max_peers = FLOOD_MAX_PEERS on one shard (flood_peers_test.sh).
import crypto from 'node:crypto';
import {
    section, check, done, device, createDevice, telemetry, metric, tp, code, res, encode, CON, NON,
    METHODS, pathOptions,
} from '../device_api/lib/dapi.mjs';
import { floodFrom, spread, deviceAt } from './flood_lib.mjs';

const MAX_PEERS = Number(process.env.FLOOD_MAX_PEERS);
const SHARE = Math.floor(MAX_PEERS * 25 / 100);  // max_peers_per_prefix_percent default

// One flood datagram: what a spoofer sends most cheaply (no open exchange remains).
function junk(n) {
    const mid = n & 0xffff;
    const token = crypto.randomBytes(2);
    switch (n % 3) {
    case 0: return encode({ type: NON, code: METHODS.GET, mid, token, options: pathOptions(`nothing/${n}`) });
    case 1: return encode({ type: NON, code: METHODS.POST, mid, token, options: pathOptions(tp(`bad${n}`, 'telemetry')), payload: Buffer.from('{"x":1}') });
    default: return encode({ type: CON, code: METHODS.GET, mid, token, options: pathOptions('api/v1/x') });
    }
}

// post(d, token, values): CON telemetry POST from device socket d.
const post = (d, token, values) => d.request({ method: 'POST', path: tp(token, 'telemetry'), payload: values, timeoutMs: 5000 });

await section('H1: 3000 one-shot spoofed sources; every new device is still served and stored once', async () => {
    const evicted0 = await metric('coap_dropped_total', ['reason="peer_evicted"']);
    const shed0 = await metric('coap_shed_total', ['reason="peers"']);
    const rounds = 6;
    const victims = [];
    for (let v = 0; v < rounds; ++v) victims.push(await createDevice());
    let n = 0;
    const codes = [];
    for (let round = 0; round < rounds; ++round) {
        const list = [];
        for (let i = 0; i < 500; ++i, ++n) list.push({ addr: spread(n), bufs: [junk(n)] });
        await floodFrom(list);
        // a device never seen before (a new socket: a new peer), in the middle of the flood
        const d = await device();
        const r = await post(d, victims[round].token, { v: round });
        d.close();
        codes.push(code(r));
        if (code(r) !== '2.01') console.log(`    round ${round}: ${res(r)}`);
    }
    check(codes.every((c) => c === '2.01'), `${rounds} new devices during the flood -> 2.01 each`, Array(rounds).fill('2.01'), codes);
    const evicted = await metric('coap_dropped_total', ['reason="peer_evicted"']) - evicted0;
    check(evicted >= n - MAX_PEERS - 50, `the flood's peers were evicted (coap_dropped_total{reason="peer_evicted"} +${evicted})`, `>= ${n - MAX_PEERS - 50}`, evicted);
    const shed = await metric('coap_shed_total', ['reason="peers"']) - shed0;
    check(shed === 0, 'no request refused for the peer table (coap_shed_total{reason="peers"})', 0, shed);
    const peers = await metric('coap_peers');
    check(peers <= MAX_PEERS, `coap_peers stays within max_peers`, `<= ${MAX_PEERS}`, peers);
    for (let v = 0; v < rounds; ++v) {
        const t = await telemetry(victims[v].name);
        const pts = (t?.v ?? []).map((p) => Number(p.value.text ?? p.value));
        check(pts.length === 1 && pts[0] === v, `device ${v}: its one point stored exactly once`, [v], pts);
    }
});

await section('H1: one network (127.88.1.0/24, 1000 address:port sources) holds at most its share', async () => {
    const recycled0 = await metric('coap_dropped_total', ['reason="peer_prefix_recycled"']);
    const list = [];
    for (let i = 0; i < 1000; ++i) list.push({ addr: `127.88.1.${1 + (i % 250)}`, bufs: [junk(10000 + i)] });
    await floodFrom(list);
    const recycled = await metric('coap_dropped_total', ['reason="peer_prefix_recycled"']) - recycled0;
    check(recycled >= 1000 - SHARE - 50, `the network recycled its own peers (coap_dropped_total{reason="peer_prefix_recycled"} +${recycled})`,
        `>= ${1000 - SHARE - 50}`, recycled);
    // A device inside that network and one outside it are both served.
    const inside = await createDevice();
    const outside = await createDevice();
    const di = await deviceAt('127.88.1.253');
    const ri = await post(di, inside.token, { w: 1 });
    di.close();
    check(code(ri) === '2.01', 'a device in the flooded network -> 2.01', '2.01', res(ri));
    const d = await device();
    const ro = await post(d, outside.token, { w: 2 });
    d.close();
    check(code(ro) === '2.01', 'a device elsewhere -> 2.01', '2.01', res(ro));
    for (const [dev, want] of [[inside, 1], [outside, 2]]) {
        const t = await telemetry(dev.name);
        const pts = (t?.w ?? []).map((p) => Number(p.value.text ?? p.value));
        check(pts.length === 1 && pts[0] === want, `${dev.name}: stored once`, [want], pts);
    }
}, 60000);

done();
