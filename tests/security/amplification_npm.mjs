// The npm coap package as firmware reads an attribute answer larger than a block from an
// unverified address: the engine sends it block-wise in small blocks (amplification limit)
// and the library reassembles it. Usage: node amplification_npm.mjs TOKEN (DAPI_UDP_PORT set).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../interop/package.json'));
const coap = require('coap');

const port = Number(process.env.DAPI_UDP_PORT);
const token = process.argv[2];
const req = coap.request({ hostname: '127.0.0.1', port, pathname: `/api/v1/${token}/attributes`,
    query: 'sharedKeys=big', method: 'GET' });
const timer = setTimeout(() => { console.log('npm coap: no answer within 15 s'); process.exit(1); }, 15000);
req.on('response', (res) => {
    clearTimeout(timer);
    let ok = false;
    try { ok = JSON.parse(res.payload.toString()).shared.big === 'z'.repeat(1500); } catch { ok = false; }
    console.log(`npm coap: ${res.code}, ${res.payload.length} bytes, ${ok ? 'the whole attribute' : 'NOT the attribute'}`);
    process.exit(res.code === '2.05' && ok ? 0 : 1);
});
req.on('error', (e) => { console.log(`npm coap: error ${e}`); process.exit(1); });
req.end();
