// A second, independent CoAP client (npm coap 1.5.0) against tern + plugtest.
// usage: node node_client.mjs <port>    exits 0 when every check passed
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import dgram from 'node:dgram';

const require = createRequire(import.meta.url);
let coap;
try {
    coap = require('coap');
} catch (e) {
    console.error('node_client: the npm package "coap" is not installed in tests/interop/node_modules;' +
        ' run tools/dev.sh deps (or: cd tests/interop && npm ci)');
    process.exit(2);
}

const port = Number(process.argv[2]);
const host = '127.0.0.1';
// The agent gets our own socket: with its own, coap 1.5.0 closes the socket as soon as the
// last request ends, before res.close(true) sends the deregistration (Observe=1) on it.
const socket = dgram.createSocket('udp4');
const agent = new coap.Agent({ socket });
let failures = 0;

function check(cond, what) {
    if (cond) console.log(`ok   ${what}`);
    else { console.log(`FAIL ${what}`); ++failures; }
}

// One request; resolves with the response (payload reassembled by the library).
function request(opts, payload, timeoutMs = 15000) {
    return new Promise((resolve, reject) => {
        const req = coap.request({ host, port, agent, ...opts });
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

function largeBody(n) {
    const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234';
    let s = '';
    for (let k = 0; s.length < n; ++k) s += String(k).padStart(5, '0') + ' ' + letters + '\n';
    return Buffer.from(s.slice(0, n), 'latin1');
}

async function main() {
    // the four methods
    let r = await request({ pathname: '/test' });
    check(r.code === '2.05' && r.body.toString() === 'test: GET CON 0 bytes', `GET /test -> ${r.code} '${r.body}'`);
    r = await request({ pathname: '/test', confirmable: false });
    check(r.code === '2.05' && r.body.toString() === 'test: GET NON 0 bytes', `NON GET /test -> ${r.code} '${r.body}'`);
    r = await request({ pathname: '/test', method: 'POST' }, 'hello node');
    check(r.code === '2.01' && r.body.toString() === 'test: POST CON 10 bytes', `POST /test -> ${r.code} '${r.body}'`);
    r = await request({ pathname: '/test', method: 'PUT' }, 'x');
    check(r.code === '2.04' && r.body.toString() === 'test: PUT CON 1 bytes', `PUT /test -> ${r.code} '${r.body}'`);
    r = await request({ pathname: '/test', method: 'DELETE' });
    check(r.code === '2.02', `DELETE /test -> ${r.code}`);
    r = await request({ pathname: '/query', query: 'a=1&b=2' });
    check(r.body.toString() === 'a=1&b=2', `GET /query?a=1&b=2 -> '${r.body}'`);
    r = await request({ pathname: '/nowhere' });
    check(r.code === '4.04' && r.body.length > 0, `GET /nowhere -> ${r.code} '${r.body}'`);

    // Block2: the library follows the blocks
    r = await request({ pathname: '/large' });
    check(r.code === '2.05' && r.body.equals(largeBody(3000)), `Block2 GET /large -> ${r.code}, ${r.body.length} bytes, content ${r.body.equals(largeBody(3000)) ? 'identical' : 'DIFFERENT'}`);
    r = await request({ pathname: '/large-body' });
    check(r.code === '2.05' && r.body.equals(largeBody(3000)), `Block2 GET /large-body -> ${r.code}, ${r.body.length} bytes`);

    // Block1: 64-byte blocks (SZX 2), 4000 random bytes
    const upload = crypto.randomBytes(4000);
    const sum = upload.reduce((a, b) => a + b, 0);
    r = await new Promise((resolve, reject) => {
        const req = coap.request({ host, port, agent, pathname: '/large-post', method: 'POST' });
        req.setOption('Block1', Buffer.of(2));
        const timer = setTimeout(() => reject(new Error('timeout: Block1 POST')), 20000);
        req.on('response', (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => { clearTimeout(timer); res.body = Buffer.concat(chunks); resolve(res); });
        });
        req.on('error', reject);
        req.write(upload);
        req.end();
    });
    check(r.code === '2.04' && r.body.toString() === `received 4000 bytes, sum ${sum}`,
        `Block1 POST /large-post -> ${r.code} '${r.body}' (want sum ${sum})`);

    // Observe: three distinct notifications, then deregister
    const res = await request({ pathname: '/obs', observe: true });
    check(res.code === '2.05' && typeof res.headers.Observe === 'number', `Observe /obs registered (${res.code}, Observe ${res.headers.Observe})`);
    const seen = await new Promise((resolve) => {
        const values = new Set();
        const timer = setTimeout(() => resolve(values), 8000);
        res.on('data', (chunk) => {
            values.add(chunk.toString());
            if (values.size >= 4) { clearTimeout(timer); resolve(values); }
        });
    });
    check(seen.size >= 4, `Observe: ${seen.size} distinct values (initial + 3 notifications): ${[...seen].join(', ')}`);
    res.close(true); // eager deregistration: GET with Observe=1 and the same token
    await new Promise((r) => setTimeout(r, 500));
    socket.close();
}

const watchdog = setTimeout(() => { console.log('FAIL global timeout'); process.exit(1); }, 60000);
main().then(() => {
    clearTimeout(watchdog);
    console.log(failures === 0 ? 'node_client: all checks passed' : `node_client: ${failures} check(s) failed`);
    process.exit(failures === 0 ? 0 : 1);
}, (e) => {
    clearTimeout(watchdog);
    console.log(`FAIL ${e.stack ?? e.message}`);
    process.exit(1);
});
