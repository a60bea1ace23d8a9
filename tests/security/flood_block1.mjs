// M1 end to end: Block1 uploads before authentication. A Size1 of 256 MiB or a body
// passing the limit (coap.max_resource_body_size, by default device_api's 64 KiB
// max_payload_size) gets 4.13 with Size1 at once; a flood of uploads from many spoofed
// sources (block 0 with M=1 and a large Size1, never continued) does not stop a device's
// own upload, which is stored once. One shard, plugins.coap.max_block1_transfers =
// FLOOD_TRANSFERS, max_block1_transfers_per_peer default (flood_block1_test.sh).
import crypto from 'node:crypto';
import {
    section, check, done, device, createDevice, telemetry, metric, tp, code, res, encode, CON, OPT, METHODS,
    pathOptions, queryOptions, blockValue, bytesUint,
} from '../device_api/lib/dapi.mjs';
import { floodFrom, spread } from './flood_lib.mjs';

const LIMIT = 65536;
const TRANSFERS = Number(process.env.FLOOD_TRANSFERS);

const block = (d, token, num, more, payload, extra = []) => d.request({
    method: 'POST', path: tp(token, 'telemetry'), payload,
    options: [[OPT.BLOCK1, blockValue(num, more, 1024)], ...extra], timeoutMs: 5000 });

await section('M1: block 0 announcing Size1 = 256 MiB -> 4.13 with Size1 = 64 KiB at once', async () => {
    const { name, token } = await createDevice();
    const d = await device();
    const r = await block(d, token, 0, true, Buffer.alloc(1024, 0x20), [[OPT.SIZE1, 268435456]]);
    check(code(r) === '4.13', '4.13 Request Entity Too Large', '4.13', res(r));
    const size1 = bytesUint(r.response?.option(OPT.SIZE1));
    check(size1 === LIMIT, 'Size1 in the response is the limit', LIMIT, size1);
    check(Object.keys((await telemetry(name)) ?? {}).length === 0, 'nothing stored', 0, Object.keys((await telemetry(name)) ?? {}).length);
    d.close();
});

await section('M1: an upload without Size1 is refused at the block that passes 64 KiB', async () => {
    const { token } = await createDevice();
    const d = await device();
    const tooLarge0 = await metric('coap_dropped_total', ['reason="block1_too_large"']);
    let r;
    let num = 0;
    for (; num < 80; ++num) {
        r = await block(d, token, num, true, Buffer.alloc(1024, 0x20));
        if (code(r) !== '2.31') break;
    }
    check(num === LIMIT / 1024 && code(r) === '4.13', `blocks 0..${LIMIT / 1024 - 1} -> 2.31, block ${LIMIT / 1024} -> 4.13`,
        `4.13 at block ${LIMIT / 1024}`, `${code(r)} at block ${num}`);
    check(bytesUint(r.response?.option(OPT.SIZE1)) === LIMIT, 'with Size1 = the limit', LIMIT, bytesUint(r.response?.option(OPT.SIZE1)));
    const tooLarge = await metric('coap_dropped_total', ['reason="block1_too_large"']) - tooLarge0;
    check(tooLarge === 1, 'coap_dropped_total{reason="block1_too_large"} +1', 1, tooLarge);
    d.close();
});

await section('M1: a device uploads 20 KiB while 400 spoofed sources start uploads that never finish', async () => {
    const { name, token } = await createDevice();
    const evicted0 = await metric('coap_dropped_total', ['reason="block1_evicted"']);
    const peerLimit0 = await metric('coap_dropped_total', ['reason="block1_peer_limit"']);
    const shed0 = await metric('coap_shed_total', ['reason="block1_transfers"']) +
        await metric('coap_shed_total', ['reason="block1_memory"']);
    const blob = 'b'.repeat(20000);
    const body = Buffer.from(JSON.stringify({ blob }));
    const n = Math.ceil(body.length / 1024);
    const d = await device();
    let src = 0;
    const codes = [];
    let last;
    for (let num = 0; num < n; ++num) {
        // 20 new uploads (block 0, M=1, Size1 60000, bad tokens) from new sources per block
        const list = [];
        for (let i = 0; i < 20; ++i, ++src) {
            const buf = encode({ type: CON, code: METHODS.POST, mid: src & 0xffff, token: crypto.randomBytes(2),
                options: [...pathOptions(tp(`bad${src}`, 'telemetry')), [OPT.BLOCK1, blockValue(0, true, 1024)], [OPT.SIZE1, 60000]],
                payload: Buffer.alloc(1024, 0x20) });
            list.push({ addr: spread(src), bufs: [buf] });
        }
        await floodFrom(list);
        const more = num < n - 1;
        last = await block(d, token, num, more, body.subarray(num * 1024, (num + 1) * 1024));
        codes.push(code(last));
    }
    const want = [...Array(n - 1).fill('2.31'), '2.01'];
    check(codes.join() === want.join(), `the device's ${n} blocks -> 2.31 ... 2.01`, want.join(), codes.join());
    // One source opening 6 uploads at once keeps at most max_block1_transfers_per_peer.
    const greedy = [];
    for (let q = 0; q < 6; ++q)
        greedy.push(encode({ type: CON, code: METHODS.POST, mid: 60000 + q, token: crypto.randomBytes(2),
            options: [...pathOptions(tp('greedy', 'telemetry')), ...queryOptions([`q=${q}`]), [OPT.BLOCK1, blockValue(0, true, 1024)]],
            payload: Buffer.alloc(1024, 0x20) }));
    await floodFrom([{ addr: '127.99.9.9', bufs: greedy }]);
    const evicted = await metric('coap_dropped_total', ['reason="block1_evicted"']) - evicted0;
    check(evicted >= src - TRANSFERS - 20, `the flood's uploads were evicted, not the device's (block1_evicted +${evicted})`,
        `>= ${src - TRANSFERS - 20}`, evicted);
    const peerLimit = await metric('coap_dropped_total', ['reason="block1_peer_limit"']) - peerLimit0;
    check(peerLimit === 2, 'a source over max_block1_transfers_per_peer (4) recycled its own uploads', 2, peerLimit);
    const shed = await metric('coap_shed_total', ['reason="block1_transfers"']) +
        await metric('coap_shed_total', ['reason="block1_memory"']) - shed0;
    check(shed === 0, 'no upload refused with 5.03', 0, shed);
    const t = await telemetry(name);
    const pts = (t?.blob ?? []).map((p) => p.value.length);
    check(pts.length === 1 && pts[0] === 20000, 'the 20 KB value stored exactly once', [20000], pts);
    d.close();
}, 90000);

done();
