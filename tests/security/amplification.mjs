// M3 (reflection/amplification, RFC 7252 §11.3) measured against a real tern: the smallest
// valid request to every resource of the default server, each from its own fresh socket
// (so from an address the server has never verified) that never acknowledges anything and
// never answers the server's ping (verify_by_ping: a forged source cannot), with a valid and
// with an unknown access token. Every datagram the server sends to that socket within
// AMP_WAIT_MS (longer than ping_timeout plus the whole retransmission span of the test's
// timing) is counted: the empty ACK and the 4-byte ping too. Prints the table (resource, request bytes, response bytes, ratio) and fails when
// a ratio passes AMP_FACTOR.
//
// Environment: DAPI_* (tests/device_api/device_api.sh), DAPI_TERN_BIN / DAPI_MANIFEST (the
// tern CLI, to assign OTA packages), AMP_FACTOR (default 3), AMP_WAIT_MS (default 6000).
import dgram from 'node:dgram';
import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import {
    env, HOST, encode, decode, OPT, METHODS, CON, NON, blockValue, createDevice, setShared, apiOk, enc,
    uniqueName, sleep, check, done, section, newToken, metric,
} from '../device_api/lib/dapi.mjs';

const FACTOR = Number(process.env.AMP_FACTOR ?? 3);
const WAIT = Number(process.env.AMP_WAIT_MS ?? 6000);

function cli(...args) {
    return new Promise((resolve, reject) => {
        execFile(process.env.DAPI_TERN_BIN, [...args, '--config', process.env.DAPI_MANIFEST], { timeout: 20000 },
            (err, stdout, stderr) => (err ? reject(new Error(`tern ${args.join(' ')}: ${stdout}${stderr}`)) : resolve(stdout)));
    });
}

// ---- the server's content: a device with attributes and OTA packages ----------------------

const { name, token } = await createDevice();
await setShared(name, { big1: 'x'.repeat(400), big2: 'y'.repeat(400), n: 42 });
const image = (n, seed) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + (i >> 8)) & 0xff));
const fwTitle = uniqueName('fw');
const fw = await apiOk('POST', `/api/ota?title=${enc(fwTitle)}&version=1.0&type=firmware`, image(5000, 1), 201, { raw: true });
const sw = await apiOk('POST', `/api/ota?title=${enc(fwTitle)}&version=2.0&type=software`, image(3000, 2), 201, { raw: true });
await cli('ota', 'assign', name, String(fw.id));
await cli('ota', 'assign', name, String(sw.id));

// ---- the requests ----------------------------------------------------------------------------

const path = (p) => p.split('/').filter((s) => s !== '').map((s) => [OPT.URI_PATH, s]);
const query = (...q) => q.map((s) => [OPT.URI_QUERY, s]);
const tok8 = () => crypto.randomBytes(4); // the token length firmware commonly uses
const json = (o) => Buffer.from(JSON.stringify(o));
// An Efento message holding only its cloud_token, length-delimited: field 16 of measurements
// and device info (key 0x82 0x01), field 24 of the configuration (key 0xC2 0x01).
const efento = (T, key = [0x82, 0x01]) => Buffer.concat([Buffer.from([...key, Buffer.byteLength(T)]), Buffer.from(T)]);

// cases(T): [label, message]; T is the access token in the path.
function cases(T) {
    const m = (code, options, payload, type = CON) => ({ type, code, token: tok8(), options, payload });
    const G = METHODS.GET, P = METHODS.POST;
    return [
        ['POST /api/v1/T/telemetry', m(P, path(`api/v1/${T}/telemetry`), json({ t: 1 }))],
        ['POST /api/v1/T/telemetry (NON)', m(P, path(`api/v1/${T}/telemetry`), json({ t: 1 }), NON)],
        ['POST /api/v1/T/attributes', m(P, path(`api/v1/${T}/attributes`), json({ a: 1 }))],
        ['GET /api/v1/T/attributes', m(G, path(`api/v1/${T}/attributes`))],
        ['GET /api/v1/T/attributes?sharedKeys=big1,big2', m(G, [...path(`api/v1/${T}/attributes`), ...query('sharedKeys=big1,big2')])],
        ['GET /api/v1/T/attributes?clientKeys=a', m(G, [...path(`api/v1/${T}/attributes`), ...query('clientKeys=a')])],
        ['GET /api/v1/T/attributes Observe=0', m(G, [...path(`api/v1/${T}/attributes`), [OPT.OBSERVE, 0]])],
        ['GET /api/v1/T/rpc Observe=0', m(G, [...path(`api/v1/${T}/rpc`), [OPT.OBSERVE, 0]])],
        ['GET /api/v1/T/rpc (no Observe)', m(G, path(`api/v1/${T}/rpc`))],
        ['POST /api/v1/T/rpc/1', m(P, path(`api/v1/${T}/rpc/1`), json({}))],
        ['POST /api/v1/T/rpc (client-side)', m(P, path(`api/v1/${T}/rpc`), json({ method: 'getTime', params: {} }))],
        ['POST /api/v1/T/claim', m(P, path(`api/v1/${T}/claim`), json({}))],
        ['GET /api/v1/T/telemetry', m(G, path(`api/v1/${T}/telemetry`))],
        ['POST /efento/m (cloud_token T)', m(P, path('efento/m'), efento(T))],
        ['POST /efento/c (cloud_token T, NON)', m(P, path('efento/c'), efento(T, [0xc2, 0x01]), NON)],
        ['PUT /api/v1/T/telemetry', m(METHODS.PUT, path(`api/v1/${T}/telemetry`), json({ t: 1 }))],
        ['GET /fw/T?title&version', m(G, [...path(`fw/${T}`), ...query(`title=${fwTitle}`, 'version=1.0')])],
        ['GET /fw/T?title&version&size=1024&chunk=0', m(G, [...path(`fw/${T}`), ...query(`title=${fwTitle}`, 'version=1.0', 'size=1024', 'chunk=0')])],
        ['GET /fw/T Block2 0/1024', m(G, [...path(`fw/${T}`), ...query(`title=${fwTitle}`, 'version=1.0'), [OPT.BLOCK2, blockValue(0, false, 1024)]])],
        ['GET /fw/T Block2 3/1024', m(G, [...path(`fw/${T}`), ...query(`title=${fwTitle}`, 'version=1.0'), [OPT.BLOCK2, blockValue(3, false, 1024)]])],
        ['GET /fw/T (no query)', m(G, path(`fw/${T}`))],
        ['GET /sw/T?title&version', m(G, [...path(`sw/${T}`), ...query(`title=${fwTitle}`, 'version=2.0')])],
        ['GET /api/v1/T/firmware?title&version', m(G, [...path(`api/v1/${T}/firmware`), ...query(`title=${fwTitle}`, 'version=1.0')])],
        ['GET /api/v1/T/software?title&version', m(G, [...path(`api/v1/${T}/software`), ...query(`title=${fwTitle}`, 'version=2.0')])],
        ['GET /api/v1/T/unknownfeature', m(G, path(`api/v1/${T}/unknownfeature`))],
        ['GET /api/v1/T/attributes + unknown critical option', m(G, [...path(`api/v1/${T}/attributes`), [65001, Buffer.from('x')]])],
        ['GET /api/v1/T/attributes + bad Block2 (SZX 7)', m(G, [...path(`api/v1/${T}/attributes`), [OPT.BLOCK2, 7]])],
    ];
}

function tokenless() {
    const m = (code, options, payload, type = CON, token = tok8()) => ({ type, code, token, options, payload });
    const G = METHODS.GET;
    return [
        ['POST /api/v1/provision', m(METHODS.POST, path('api/v1/provision'),
            json({ deviceName: 'amp', provisionDeviceKey: 'k', provisionDeviceSecret: 's' }))],
        ['GET /.well-known/core', m(G, path('.well-known/core'))],
        ['GET /.well-known/core?rt=x', m(G, [...path('.well-known/core'), ...query('rt=x')])],
        ['GET /api', m(G, path('api'))],
        ['GET /no/such/resource', m(G, path('no/such/resource'))],
        ['GET / (4-byte request, no token)', m(G, [], undefined, CON, Buffer.alloc(0))],
        ['DELETE /api/v1/T', m(METHODS.DELETE, path(`api/v1/${token}`))],
        ['GET with Proxy-Uri', m(G, [[35, Buffer.from('coap://x/')]])],
        ['POST /efento/m (garbage)', m(METHODS.POST, path('efento/m'), Buffer.from([1, 2, 3]))],
        ['GET /efento/t', m(G, path('efento/t'))],
        ['GET /efento/x', m(G, path('efento/x'))],
    ];
}

// measure(msg, extra): sends msg (and then extra datagrams) from a fresh socket that never
// answers; {sent, received, datagrams, codes} after WAIT ms.
async function measure(msg, extra = []) {
    const s = dgram.createSocket('udp4');
    const got = [];
    s.on('message', (b) => got.push(b));
    await new Promise((r) => s.bind(0, HOST, r));
    msg.mid = crypto.randomInt(0, 65536);
    const wire = encode(msg);
    await new Promise((r) => s.send(wire, env.udpPort, HOST, r));
    let sent = wire.length;
    const before = { n: 0 };
    if (extra.length) {
        await sleep(500);
        before.n = got.length;
        for (const e of extra) {
            const b = typeof e === 'function' ? e(msg) : e;
            await new Promise((r) => s.send(b, env.udpPort, HOST, r));
        }
    }
    await sleep(WAIT);
    s.close();
    // With extra datagrams: what came after them (the replay check), against the bytes of
    // the request and the extras together, since an answer the server held for a ping
    // (verify_by_ping) belongs to the request and may arrive after the extras.
    const all = got.slice(extra.length ? before.n : 0);
    if (extra.length) sent += extra.reduce((a, e) => a + (typeof e === 'function' ? e(msg) : e).length, 0);
    const received = all.reduce((a, b) => a + b.length, 0);
    const codes = all.map((b) => { try { const d = decode(b); return d.code === 0 ? (['CON', 'NON', 'ACK', 'RST'][d.type]) : d.codeText; } catch { return '?'; } });
    return { sent, received, datagrams: all.length, codes };
}

const rows = [];
await section('every resource, from unverified addresses', async () => {
    const bad = newToken();
    const jobs = [];
    for (const [label, msg] of cases(token)) jobs.push(measure(msg).then((r) => rows.push({ label, auth: 'valid token', ...r })));
    for (const [label, msg] of cases(bad)) jobs.push(measure(msg).then((r) => rows.push({ label, auth: 'unknown token', ...r })));
    for (const [label, msg] of tokenless()) jobs.push(measure(msg).then((r) => rows.push({ label, auth: '-', ...r })));
    // The reflection trick of the review: a request, then a 4-byte CON reusing its MID.
    const dup = (msg) => Buffer.from([0x40, 0x01, msg.mid >> 8, msg.mid & 0xff]);
    const attr = cases(token)[4][1];
    jobs.push(measure(attr, [dup]).then((r) => rows.push({ label: '4-byte CON duplicate of GET attributes?sharedKeys', auth: 'valid token', ...r })));
    const well = tokenless()[1][1];
    jobs.push(measure(well, [dup]).then((r) => rows.push({ label: '4-byte CON duplicate of GET /.well-known/core', auth: '-', ...r })));
    await Promise.all(jobs);
}, WAIT + 20000);

rows.sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : a.auth < b.auth ? -1 : 1));
console.log(`\nAmplification to unverified addresses (amplification_factor = ${FACTOR}); every datagram the server sent within ${WAIT} ms, retransmissions included:\n`);
console.log('| request | token | request bytes | response bytes (datagrams) | ratio | answers |');
console.log('|---|---|---:|---:|---:|---|');
let worst = 0, worstRow;
for (const r of rows) {
    const ratio = r.received / r.sent;
    if (ratio > worst) { worst = ratio; worstRow = r; }
    console.log(`| ${r.label} | ${r.auth} | ${r.sent} | ${r.received} (${r.datagrams}) | ${ratio.toFixed(2)} | ${r.codes.join(' ')} |`);
}
console.log(`\nworst ratio: ${worst.toFixed(2)} (${worstRow?.label}, ${worstRow?.auth})\n`);

await section('the worst ratio is within amplification_factor', async () => {
    check(rows.length > 60, `measured ${rows.length} requests`);
    check(worst <= FACTOR, `worst ratio ${worst.toFixed(2)} <= ${FACTOR}`, `<= ${FACTOR}`, worst.toFixed(2));
    check(rows.some((r) => r.codes.some((c) => c.startsWith('2.'))), 'some requests were answered 2.xx');
    const limited = await metric('coap_amplification_limited_total', ['action="block"']);
    check(limited > 0, 'large answers went in smaller blocks (coap_amplification_limited_total{action="block"})', '> 0', limited);
    // /.well-known/core's answer is cut and cached at once; the attributes answer is held
    // for the ping (not cached: its duplicate gets the empty ACK again), then limited.
    const replay = await metric('coap_amplification_limited_total', ['action="replay_dropped"']);
    check(replay >= 1, 'a 4-byte duplicate got no cached response (action="replay_dropped")', '>= 1', replay);
    const pings = await metric('coap_verification_pings_total', ['result="sent"']);
    const timeouts = await metric('coap_verification_pings_total', ['result="timeout"']);
    check(pings > 0 && timeouts === pings, 'large answers were held for a ping that nobody answered, then limited (coap_verification_pings_total sent = timeout)', pings, timeouts);
    const verified = await metric('coap_address_verifications_total', ['how="ping"']);
    check(verified === 0, 'no address was verified by a ping', 0, verified);
});

done();
