// Hand-built CoAP datagrams against tern + plugtest: a third, deliberately simple encoder
// for the message-layer rules that the libraries never exercise (RFC 7252 §4, §5.4, §4.3;
// RFC 7967; Observe cancellation by RST). Prints one line per check, exits 0 when all
// passed. usage: node raw_client.mjs <port>
import dgram from 'node:dgram';

const port = Number(process.argv[2]);
let failures = 0;
const check = (cond, what) => {
    console.log(`${cond ? 'ok  ' : 'FAIL'} ${what}`);
    if (!cond) ++failures;
};

// ---- a minimal encoder / decoder ---------------------------------------------------------
const CON = 0, NON = 1, ACK = 2, RST = 3;
const code = (c, d) => (c << 5) | d;
const codeText = (c) => `${c >> 5}.${String(c & 31).padStart(2, '0')}`;

function encode({ type, code: c, mid, token = Buffer.alloc(0), options = [], payload }) {
    const parts = [Buffer.from([0x40 | (type << 4) | token.length, c, mid >> 8, mid & 0xff]), token];
    let last = 0;
    for (const [num, raw] of [...options].sort((a, b) => a[0] - b[0])) {
        const value = typeof raw === 'number' ? uintBytes(raw) : Buffer.from(raw);
        const delta = num - last;
        last = num;
        const ext = [];
        const nib = (n) => {
            if (n < 13) return n;
            if (n < 269) { ext.push(Buffer.from([n - 13])); return 13; }
            ext.push(Buffer.from([(n - 269) >> 8, (n - 269) & 0xff]));
            return 14;
        };
        const d = nib(delta), l = nib(value.length);
        parts.push(Buffer.from([(d << 4) | l]), ...ext, value);
    }
    if (payload !== undefined && payload.length > 0) parts.push(Buffer.from([0xff]), Buffer.from(payload));
    return Buffer.concat(parts);
}

function uintBytes(v) {
    const out = [];
    while (v > 0) { out.unshift(v & 0xff); v = Math.floor(v / 256); }
    return Buffer.from(out);
}

function decode(buf) {
    const m = { type: (buf[0] >> 4) & 3, tkl: buf[0] & 15, code: buf[1], mid: buf.readUInt16BE(2) };
    m.token = buf.subarray(4, 4 + m.tkl);
    let i = 4 + m.tkl, num = 0;
    m.options = [];
    while (i < buf.length && buf[i] !== 0xff) {
        let d = buf[i] >> 4, l = buf[i] & 15;
        ++i;
        const ext = (n) => {
            if (n === 13) return buf[i++] + 13;
            if (n === 14) { const v = buf.readUInt16BE(i) + 269; i += 2; return v; }
            return n;
        };
        d = ext(d); l = ext(l);
        num += d;
        m.options.push([num, buf.subarray(i, i + l)]);
        i += l;
    }
    m.payload = i < buf.length ? buf.subarray(i + 1) : Buffer.alloc(0);
    m.option = (n) => m.options.find((o) => o[0] === n)?.[1];
    return m;
}

// ---- a socket that collects what arrives ---------------------------------------------------
const sock = dgram.createSocket('udp4');
const inbox = [];
let waiter = null;
sock.on('message', (msg) => { inbox.push(decode(msg)); if (waiter) waiter(); });
await new Promise((r) => sock.bind(0, '127.0.0.1', r));
const send = (m) => new Promise((r) => sock.send(Buffer.isBuffer(m) ? m : encode(m), port, '127.0.0.1', r));

// Next message matching pred within ms, or null.
async function receive(pred = () => true, ms = 3000) {
    const deadline = Date.now() + ms;
    for (;;) {
        const i = inbox.findIndex(pred);
        if (i >= 0) return inbox.splice(i, 1)[0];
        const left = deadline - Date.now();
        if (left <= 0) return null;
        await new Promise((r) => { waiter = r; setTimeout(r, left); });
        waiter = null;
    }
}
const quiet = async (ms = 700) => { await new Promise((r) => setTimeout(r, ms)); const n = inbox.length; inbox.length = 0; return n; };

let mid = 0x2000;
const path = (p) => p.split('/').filter((s) => s).map((s) => [11, s]);

// ---- the checks ------------------------------------------------------------------------------
// CoAP ping: an empty CON is answered with RST, same MID (§4.3)
await send({ type: CON, code: 0, mid: ++mid });
let r = await receive();
check(r && r.type === RST && r.code === 0 && r.mid === mid, `ping (empty CON) -> RST with its MID: ${r ? `${r.type}/${codeText(r.code)}/${r.mid}` : 'nothing'}`);

// fewer than 4 bytes, or a wrong version: silently ignored
await send(Buffer.from([0x40, 0x01]));
await send(Buffer.from([0x80, 0x01, 0x12, 0x34]));
check(await quiet() === 0, 'a 2-byte datagram and a version-2 message are ignored');

// a malformed CON (token length 9) gets RST; a malformed NON is ignored
await send(Buffer.from([0x49, 0x01, 0x30, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
r = await receive(() => true, 2000);
check(r && r.type === RST && r.mid === 0x3001, `malformed CON -> RST: ${r ? `${r.type}/${r.mid.toString(16)}` : 'nothing'}`);
await send(Buffer.from([0x59, 0x01, 0x30, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
check(await quiet() === 0, 'malformed NON is ignored');

// a response code in a CON we never asked for: RST
await send({ type: CON, code: code(2, 5), mid: ++mid, token: Buffer.from([7]) });
r = await receive();
check(r && r.type === RST && r.mid === mid, `unsolicited CON 2.05 -> RST: ${r ? `${r.type}/${codeText(r.code)}` : 'nothing'}`);

// GET /test, then the same datagram again: the duplicate gets the same answer (dedup)
const get = encode({ type: CON, code: 1, mid: ++mid, token: Buffer.from([1, 2]), options: path('test') });
await send(get);
const first = await receive();
await send(get);
const again = await receive();
check(first && first.type === ACK && codeText(first.code) === '2.05' && first.payload.toString() === 'test: GET CON 0 bytes',
    `GET /test piggy-backed: ${first ? codeText(first.code) + " '" + first.payload + "'" : 'nothing'}`);
check(again && again.mid === mid && again.code === first?.code && again.payload.equals(first.payload),
    'the duplicate CON is answered with the same response');

// one Uri-Path option holding "path/a/b" is split (split_single_uri_path)
await send({ type: CON, code: 1, mid: ++mid, token: Buffer.from([3]), options: [[11, '/path/a/b']] });
r = await receive();
check(r && r.payload.toString() === 'path: a/b', `single Uri-Path "/path/a/b" is split: '${r?.payload}'`);

// an unknown critical option: 4.02 with a diagnostic naming it; an unknown elective one is ignored
await send({ type: CON, code: 1, mid: ++mid, token: Buffer.from([4]), options: [...path('test'), [2049, 'x']] });
r = await receive();
check(r && codeText(r.code) === '4.02' && r.payload.toString().includes('2049'),
    `unknown critical option 2049 -> ${r ? codeText(r.code) + " '" + r.payload + "'" : 'nothing'}`);
await send({ type: CON, code: 1, mid: ++mid, token: Buffer.from([5]), options: [...path('test'), [2050, 'x']] });
r = await receive();
check(r && codeText(r.code) === '2.05', `unknown elective option 2050 is ignored: ${r ? codeText(r.code) : 'nothing'}`);

// Proxy-Uri: 5.05 Proxying Not Supported
await send({ type: CON, code: 1, mid: ++mid, token: Buffer.from([6]), options: [[35, 'coap://example.com/x']] });
r = await receive();
check(r && codeText(r.code) === '5.05' && r.payload.length > 0, `Proxy-Uri -> ${r ? codeText(r.code) + " '" + r.payload + "'" : 'nothing'}`);

// No-Response (RFC 7967) suppressing 2.xx: a NON GET gets nothing; 4.xx still comes
await send({ type: NON, code: 1, mid: ++mid, token: Buffer.from([7]), options: [...path('test'), [258, 2]] });
check(await quiet(800) === 0, 'No-Response: 2 suppresses the 2.05 of a NON GET');
await send({ type: NON, code: 1, mid: ++mid, token: Buffer.from([8]), options: [...path('missing'), [258, 2]] });
r = await receive(() => true, 2000);
check(r && codeText(r.code) === '4.04', `No-Response: 2 lets 4.04 through: ${r ? codeText(r.code) : 'nothing'}`);

// Block2 past the end of the body: 4.00 with a diagnostic (the body is 3000 bytes; block
// 100 of 64 bytes starts at 6400)
await send({ type: CON, code: 1, mid: ++mid, token: Buffer.from([10]), options: [...path('large'), [23, (100 << 4) | 2]] });
r = await receive();
check(r && codeText(r.code) === '4.00' && r.payload.length > 0, `Block2 100/64 of a 3000-byte body -> ${r ? codeText(r.code) + " '" + r.payload + "'" : 'nothing'}`);

// Block1: a block that does not follow the previous one -> 4.08 Request Entity Incomplete
const blk = (num, more, szx) => (num << 4) | (more << 3) | szx;
await send({ type: CON, code: 2, mid: ++mid, token: Buffer.from([11]), options: [...path('large-post'), [27, blk(0, 1, 2)]], payload: Buffer.alloc(64, 1) });
r = await receive();
check(r && codeText(r.code) === '2.31', `Block1 0/M/64 -> ${r ? codeText(r.code) : 'nothing'}`);
await send({ type: CON, code: 2, mid: ++mid, token: Buffer.from([12]), options: [...path('large-post'), [27, blk(2, 1, 2)]], payload: Buffer.alloc(64, 1) });
r = await receive();
check(r && codeText(r.code) === '4.08', `Block1 2/M/64 after block 0 -> ${r ? codeText(r.code) + " '" + r.payload + "'" : 'nothing'}`);

// Size1 above max_resource_body_size (256 MiB): 4.13 at once, with Size1 telling the limit
await send({ type: CON, code: 2, mid: ++mid, token: Buffer.from([13]), options: [...path('large-post'), [27, blk(0, 1, 2)], [60, 300 * 1024 * 1024]], payload: Buffer.alloc(64, 1) });
r = await receive();
check(r && codeText(r.code) === '4.13' && r.option(60) !== undefined, `Size1 300 MiB -> ${r ? codeText(r.code) + ' Size1 ' + (r.option(60)?.toString('hex') ?? 'absent') : 'nothing'}`);

// Observe ended by RST: register (CON), answer the first CON notification with RST
await send({ type: CON, code: 1, mid: ++mid, token: Buffer.from([9, 9]), options: [[6, 0], ...path('obs')] });
r = await receive();
check(r && r.type === ACK && r.option(6) !== undefined, `Observe registration answered with Observe: ${r ? codeText(r.code) : 'nothing'}`);
const note = await receive((m) => m.type === CON && codeText(m.code) === '2.05', 5000);
check(note && note.token.equals(Buffer.from([9, 9])) && note.option(6) !== undefined,
    `a CON notification arrives with the token and Observe: '${note?.payload}'`);
if (note) await send({ type: RST, code: 0, mid: note.mid });
await quiet(200);
// after the RST no more notifications (one already in flight may still come)
await quiet(1500);
const later = await receive((m) => codeText(m.code) === '2.05' && m.token.equals(Buffer.from([9, 9])), 1500);
check(later === null, 'no notification after the RST');

// Re-registering with the same token replaces the relation (the old one ends REPLACED);
// GET with Observe=1 and that token ends it (DEREGISTERED) and is answered without Observe
const tok = Buffer.from([0x20, 0x21]);
for (let i = 0; i < 2; ++i) {
    await send({ type: CON, code: 1, mid: ++mid, token: tok, options: [[6, 0], ...path('obs')] });
    r = await receive((m) => m.type === ACK && m.mid === mid);
    check(r && codeText(r.code) === '2.05' && r.option(6) !== undefined, `registration ${i + 1} with the same token: ${r ? codeText(r.code) : 'nothing'}`);
}
await send({ type: CON, code: 1, mid: ++mid, token: tok, options: [[6, 1], ...path('obs')] });
r = await receive((m) => m.type === ACK && m.mid === mid);
check(r && codeText(r.code) === '2.05' && r.option(6) === undefined && /^obs \d+$/.test(r.payload.toString()),
    `deregistration answered as a plain GET: ${r ? codeText(r.code) + " '" + r.payload + "' Observe " + (r.option(6) === undefined ? 'absent' : 'present') : 'nothing'}`);
// acknowledge whatever notification was in flight, then expect silence
await new Promise((res) => setTimeout(res, 400));
for (const m of inbox.splice(0)) if (m.type === CON) await send({ type: ACK, code: 0, mid: m.mid });
await new Promise((res) => setTimeout(res, 1000));
check(!inbox.some((m) => m.token.equals(tok) && codeText(m.code) === '2.05'), 'no notification after the deregistration');

sock.close();
console.log(failures === 0 ? 'raw_client: all checks passed' : `raw_client: ${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
