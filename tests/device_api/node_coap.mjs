// Firmware written with the npm coap package (1.5.0, from tests/interop/node_modules): the
// library's own message layer, Observe and Block2 against the device API.
import { createRequire } from 'node:module';
import dgram from 'node:dgram';
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
    section, check, checkEq, done, createDevice, setShared, env, HOST, latest, apiOk, api, enc, typeOf, uniqueName,
} from './lib/dapi.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../interop/package.json'));
let coap;
try {
    coap = require('coap');
} catch {
    console.log('FAIL the npm package "coap" is not installed in tests/interop/node_modules (cd tests/interop && npm ci)');
    process.exit(1);
}

const socket = dgram.createSocket('udp4');
const agent = new coap.Agent({ socket });

function request(opts, payload, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
        const req = coap.request({ host: HOST, port: env.udpPort, agent, ...opts });
        const timer = setTimeout(() => reject(new Error(`timeout: ${opts.method ?? 'GET'} ${opts.pathname}`)), timeoutMs);
        req.on('response', (res) => {
            if (opts.observe) { clearTimeout(timer); resolve(res); return; }
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => { clearTimeout(timer); res.body = Buffer.concat(chunks); resolve(res); });
        });
        req.on('error', (e) => { clearTimeout(timer); reject(e); });
        if (payload !== undefined) req.write(payload);
        req.end();
    });
}

await section('npm coap: telemetry, attributes, GET attributes', async () => {
    const { name, token } = await createDevice();
    let r = await request({ pathname: `/api/v1/${token}/telemetry`, method: 'POST', options: { 'Content-Format': 'application/json' } },
        JSON.stringify({ temperature: 21.5, n: 7 }));
    check(r.code === '2.01', 'POST telemetry -> 2.01', '2.01', r.code);
    const t = await latest(name);
    check(typeOf(t.temperature?.value) === 'DOUBLE' && typeOf(t.n?.value) === 'LONG', 'stored as DOUBLE and LONG', 'DOUBLE, LONG', t);
    r = await request({ pathname: `/api/v1/${token}/attributes`, method: 'POST' }, JSON.stringify({ fw: 'v1.0' }));
    check(r.code === '2.01', 'POST attributes -> 2.01', '2.01', r.code);
    await setShared(name, { mode: 'eco' });
    r = await request({ pathname: `/api/v1/${token}/attributes`, query: 'clientKeys=fw&sharedKeys=mode' });
    check(r.code === '2.05', 'GET attributes -> 2.05', '2.05', r.code);
    checkEq(JSON.parse(r.body.toString()), { client: { fw: 'v1.0' }, shared: { mode: 'eco' } }, 'payload');
    check(r.headers['Content-Format'] === 'application/json', 'Content-Format application/json', 'application/json', r.headers['Content-Format']);
});

await section('npm coap: attribute observation receives updates', async () => {
    const { name, token } = await createDevice();
    await setShared(name, { a: 1 });
    const res = await request({ pathname: `/api/v1/${token}/attributes`, observe: true });
    check(res.code === '2.05' && res.headers.Observe === 0, 'registered: 2.05 Observe 0', '2.05 0', `${res.code} ${res.headers.Observe}`);
    const values = [];
    const got = new Promise((resolve) => {
        const timer = setTimeout(resolve, 6000);
        res.on('data', (c) => { values.push(JSON.parse(c.toString())); if (values.length >= 3) { clearTimeout(timer); resolve(); } });
    });
    await new Promise((r) => setTimeout(r, 200));
    await setShared(name, { a: 2 });
    await new Promise((r) => setTimeout(r, 200));
    await setShared(name, { b: 'x' });
    await got;
    checkEq(values, [{ a: 1 }, { a: 2 }, { b: 'x' }], 'initial payload then two notifications');
    res.close(true);
    await new Promise((r) => setTimeout(r, 300));
});

await section('npm coap: RPC observation, reply, client-side RPC', async () => {
    const { name, token } = await createDevice();
    const res = await request({ pathname: `/api/v1/${token}/rpc`, observe: true });
    check(res.code === '2.03', 'RPC observation registered: 2.03', '2.03', res.code);
    const rpc = new Promise((resolve) => {
        const timer = setTimeout(() => resolve(null), 6000);
        res.on('data', (c) => { if (c.length) { clearTimeout(timer); resolve(JSON.parse(c.toString())); } });
    });
    const pending = api('POST', `/api/devices/${enc(name)}/rpc`, { method: 'getValue', params: { k: 1 }, timeout: 8000 }, { timeoutMs: 12000 });
    const m = await rpc;
    check(m?.method === 'getValue', 'RPC delivered to the library', 'getValue', m);
    const r = await request({ pathname: `/api/v1/${token}/rpc/${m?.id}`, method: 'POST' }, JSON.stringify({ value: 42 }));
    check(r.code === '2.01', 'reply -> 2.01', '2.01', r.code);
    const x = await pending;
    check(x.status === 200 && JSON.stringify(x.json?.result) === '{"value":42}', 'admin: SUCCESSFUL {"value":42}', '200 {"value":42}', x.text);
    res.close(true);
    const c = await request({ pathname: `/api/v1/${token}/rpc`, method: 'POST' }, JSON.stringify({ method: 'getCurrentTime', params: {} }));
    check(c.code === '2.05' && typeof JSON.parse(c.body.toString()).time === 'number', 'client RPC getCurrentTime -> 2.05 {"time":..}', '2.05', `${c.code} ${c.body}`);
});

await section('npm coap: firmware download, Block2 driven by the library', async () => {
    const { name, token } = await createDevice();
    const img = crypto.randomBytes(6000);
    const pkg = await apiOk('POST', `/api/ota?title=${uniqueName('nc-fw')}&version=1&type=firmware`, img, 201, { raw: true });
    await apiOk('PUT', `/api/devices/${enc(name)}/ota/firmware`, { package: pkg.id }, 200);
    const r = await request({ pathname: `/fw/${token}` }, undefined, 20000);
    check(r.code === '2.05' && r.body.equals(img), `GET /fw/T -> ${r.body.length} bytes, identical`, 6000, r.body.length);
    check(crypto.createHash('sha256').update(r.body).digest('hex') === pkg.checksum, 'SHA-256 equals the package checksum', pkg.checksum, 'different');
});

socket.close();
done();
