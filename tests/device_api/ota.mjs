// Spec §6 and §0.5 (OTA): fw_* / sw_* attributes reach the attribute observation after
// `tern ota assign`; the image is downloaded whole, in chunks (size/chunk) and block-wise
// (Block2), from /fw/{token}, /sw/{token} and /api/v1/{token}/firmware|software, and its
// checksum is verified against fw_checksum.
import {
    section, check, checkEq, done, device, createDevice, tp, code, res, checkError, plain, body, api, apiOk, enc,
    OPT, blockValue, uniqueName, createProfile, typeOf, latest,
} from './lib/dapi.mjs';
import crypto from 'node:crypto';
import { execFile } from 'node:child_process';

const d = await device();
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

// cli(...args): runs the tern CLI against this server; {rc, out}.
function cli(...args) {
    return new Promise((resolve) => {
        execFile(process.env.DAPI_TERN_BIN, [...args, '--config', process.env.DAPI_MANIFEST], { timeout: 20000 },
            (err, stdout, stderr) => resolve({ rc: err ? (err.code ?? 1) : 0, out: `${stdout}${stderr}` }));
    });
}
async function cliOk(...args) {
    const r = await cli(...args);
    if (r.rc !== 0) throw new Error(`tern ${args.join(' ')} -> exit ${r.rc}: ${r.out}`);
    return r.out;
}

async function upload(bytes, { title = uniqueName('fw'), version = '1.0', type = 'firmware', url } = {}) {
    const q = `title=${enc(title)}&version=${enc(version)}&type=${type}${url ? `&url=${enc(url)}` : ''}`;
    const r = await apiOk('POST', `/api/ota?${q}`, url ? undefined : bytes, 201, { raw: true });
    return { ...r, title, version, bytes };
}

// A deterministic image of n bytes (not all the same, so an off-by-one block shows).
const image = (n, seed) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + (i >> 8)) & 0xff));

const fw = await upload(image(5000, 1), { version: '1.0' });
const sw = await upload(image(2100, 2), { type: 'software', version: '2.0' });
let urlOnly, urlOnlyError;
try {
    urlOnly = await upload(undefined, { url: 'https://example.com/fw.bin', version: '9.9' });
} catch (e) {
    urlOnlyError = e.message; // checked (and reported) in its section
}

await section('§6 fw_* attributes arrive on the attribute observation after `tern ota assign`', async () => {
    const { name, token } = await createDevice();
    const t = crypto.randomBytes(4);
    const r = await d.request({ path: tp(token, 'attributes'), observe: 0, token: t });
    check(code(r) === '2.05', 'observing attributes', '2.05', res(r));
    await cliOk('ota', 'assign', name, String(fw.id));
    const m = await d.next(t, 5000);
    const b = body(m);
    const p = plain(b);
    check(p?.fw_title === fw.title && p?.fw_version === '1.0' && p?.fw_size === 5000 && p?.fw_checksum_algorithm === 'SHA256' &&
        p?.fw_checksum === sha256(fw.bytes), 'notification: fw_title, fw_version, fw_size 5000, fw_checksum (SHA-256 of the image), SHA256',
        { fw_title: fw.title, fw_version: '1.0', fw_size: 5000, fw_checksum: sha256(fw.bytes), fw_checksum_algorithm: 'SHA256' }, m?.text);
    check(typeOf(b?.fw_size) === 'LONG', 'fw_size is a number', 'LONG', b?.fw_size);
    const tl = plain(await latest(name));
    check(tl?.target_fw_title?.value === fw.title && tl?.target_fw_version?.value === '1.0' && tl?.fw_state?.value === 'QUEUED',
        'telemetry target_fw_title, target_fw_version, fw_state = QUEUED', 'QUEUED', tl);
    const get = await d.request({ path: tp(token, 'attributes'), query: ['sharedKeys=fw_title,fw_version,fw_size,fw_checksum'] });
    check(plain(body(get.response))?.shared?.fw_version === '1.0', 'GET attributes?sharedKeys=fw_... shows them too', '1.0', res(get));
    await cliOk('ota', 'unassign', name);
    const u = await d.next(t, 5000);
    const del = plain(body(u))?.deleted ?? [];
    check(['fw_title', 'fw_version', 'fw_size', 'fw_checksum', 'fw_checksum_algorithm'].every((k) => del.includes(k)),
        '`tern ota unassign` -> notification {"deleted":[fw_*]}', 'deleted fw_*', u?.text);
    checkError(await d.request({ path: ['fw', token] }), '4.04', 'GET /fw/T after unassign');
    await d.request({ path: tp(token, 'attributes'), observe: 1, token: t });
});

// one device with fw and sw assigned for the download checks
const dev = await createDevice();
await apiOk('PUT', `/api/devices/${enc(dev.name)}/ota/firmware`, { package: fw.id }, 200);
await apiOk('PUT', `/api/devices/${enc(dev.name)}/ota/software`, { package: sw.id }, 200);

await section('§6 whole image: GET /fw/{token} (block-wise by the stack), checksum verified, no Content-Format', async () => {
    const first = await d.request({ path: ['fw', dev.token] });
    check(code(first) === '2.05', 'GET /fw/T -> 2.05', '2.05', res(first));
    check(first.response?.contentFormat === undefined, 'no Content-Format', undefined, first.response?.contentFormat);
    check(first.response?.block2?.num === 0 && first.response.block2.more && first.response.block2.size === 1024 && first.response.payload.length === 1024,
        'a 5000-byte image starts as Block2 block 0 of 1024 bytes (SZX 6) with more', 'Block2 0/1/1024', res(first));
    const { body: img, responses } = await d.getBlocks({ path: ['fw', dev.token], size: 1024 });
    check(img.length === 5000 && sha256(img) === sha256(fw.bytes), `reassembled ${img.length} bytes from ${responses.length} blocks: SHA-256 equals fw_checksum`,
        sha256(fw.bytes), sha256(img));
    const q = await d.getBlocks({ path: ['fw', dev.token], query: [`title=${fw.title}`, 'version=1.0'], size: 1024 });
    check(q.body.equals(fw.bytes), 'with matching title and version: the same image', 5000, q.body.length);
    const z = await d.getBlocks({ path: ['fw', dev.token], query: ['size=0', 'chunk=3'], size: 1024 });
    check(z.body.equals(fw.bytes), 'size=0 -> the whole image', 5000, z.body.length);
});

await section('§6 chunks: size/chunk slices, last partial chunk, past the end -> 2.05 empty', async () => {
    const parts = [];
    for (let chunk = 0; chunk < 5; ++chunk) {
        const r = await d.request({ path: ['fw', dev.token], query: ['size=1000', `chunk=${chunk}`] });
        const want = fw.bytes.subarray(chunk * 1000, (chunk + 1) * 1000);
        check(code(r) === '2.05' && r.response.payload.equals(want), `chunk ${chunk} of 1000 bytes`, `${want.length} bytes`, res(r));
        parts.push(r.response?.payload ?? Buffer.alloc(0));
    }
    check(sha256(Buffer.concat(parts)) === sha256(fw.bytes), 'the chunks put together match fw_checksum', sha256(fw.bytes), sha256(Buffer.concat(parts)));
    const last = await d.request({ path: ['fw', dev.token], query: ['size=300', 'chunk=16'] });
    check(code(last) === '2.05' && last.response.payload.equals(fw.bytes.subarray(4800)), 'size=300 chunk=16 -> the last 200 bytes', '200 bytes', res(last));
    for (const chunk of [5, 99]) {
        const r = await d.request({ path: ['fw', dev.token], query: ['size=1000', `chunk=${chunk}`] });
        check(code(r) === '2.05' && r.response.payload.length === 0, `chunk ${chunk} past the end -> 2.05 with an empty payload (§0.5)`, '2.05 empty', res(r));
    }
    checkError(await d.request({ path: ['fw', dev.token], query: ['size=abc', 'chunk=0'] }), '5.00', 'size=abc');
    checkError(await d.request({ path: ['fw', dev.token], query: ['size=100', 'chunk=x'] }), '5.00', 'chunk=x');
});

await section('§6/§0.5 Block2 with small blocks, any block at any time, over a chunk too', async () => {
    const { body: img, responses } = await d.getBlocks({ path: ['fw', dev.token], size: 64 });
    check(img.equals(fw.bytes) && responses.length === Math.ceil(5000 / 64), `64-byte blocks: ${responses.length} blocks, image equal`,
        Math.ceil(5000 / 64), responses.length);
    check(responses.every((m, i) => m.block2?.num === i && m.block2.size === 64), 'each block answered with Block2 num/64', 'num i size 64',
        responses.map((m) => m.block2 && `${m.block2.num}/${m.block2.size}`).slice(0, 5));
    const late = await d.request({ path: ['fw', dev.token], options: [[OPT.BLOCK2, blockValue(40, false, 64)]] });
    check(code(late) === '2.05' && late.response.payload.equals(fw.bytes.subarray(40 * 64, 41 * 64)) && late.response.block2?.num === 40,
        'block 40 asked for first, cold (stateless Block2)', '64 bytes at 2560', res(late));
    const past = await d.request({ path: ['fw', dev.token], options: [[OPT.BLOCK2, blockValue(200, false, 64)]] });
    check(code(past).startsWith('4.') && past.response && past.response.payload.length > 0, 'a block past the end of the image -> 4.xx with a diagnostic',
        '4.00 + text', res(past));
    const c = await d.getBlocks({ path: ['fw', dev.token], query: ['size=1000', 'chunk=2'], size: 256 });
    check(c.body.equals(fw.bytes.subarray(2000, 3000)) && c.responses.length === 4, 'chunk 2 (1000 bytes) in 256-byte blocks', '4 blocks, 1000 bytes',
        `${c.responses.length} blocks, ${c.body.length} bytes`);
});

await section('§6 title/version mismatch -> 4.00; no package -> 4.04; URL-only -> 4.04; auth -> 4.01; POST -> 4.05', async () => {
    checkError(await d.request({ path: ['fw', dev.token], query: ['title=other', 'version=1.0'] }), '4.00', 'title mismatch');
    checkError(await d.request({ path: ['fw', dev.token], query: [`title=${fw.title}`, 'version=0.9'] }), '4.00', 'version mismatch');
    const bare = await createDevice();
    checkError(await d.request({ path: ['fw', bare.token] }), '4.04', 'GET /fw/T without a package');
    checkError(await d.request({ path: ['sw', bare.token] }), '4.04', 'GET /sw/T without a package');
    if (check(urlOnly !== undefined, 'admin API: a URL-only package (POST /api/ota?url=..., no body) is created', '201', urlOnlyError)) {
        const u = await createDevice();
        await apiOk('PUT', `/api/devices/${enc(u.name)}/ota/firmware`, { package: urlOnly.id }, 200);
        checkError(await d.request({ path: ['fw', u.token] }), '4.04', 'GET /fw/T of a URL-only package');
    }
    checkError(await d.request({ path: ['fw', 'no-such-token'] }), '4.01', 'GET /fw/unknown-token');
    checkError(await d.request({ path: ['fw'] }), '4.01', 'GET /fw (one segment)');
    checkError(await d.request({ path: ['fw', dev.token, 'extra'] }), '4.01', 'GET /fw/T/extra (three segments)');
    checkError(await d.request({ method: 'POST', path: ['fw', dev.token], payload: 'x' }), '4.05', 'POST /fw/T');
});

await section('§6 software: /sw/{token}, sw_* attributes', async () => {
    const s = await d.getBlocks({ path: ['sw', dev.token], size: 512 });
    check(s.body.equals(sw.bytes), 'GET /sw/T -> the software image', sha256(sw.bytes), sha256(s.body));
    const r = await d.request({ path: tp(dev.token, 'attributes'), query: ['sharedKeys=sw_title,sw_version,sw_size,sw_checksum,sw_checksum_algorithm'] });
    checkEq(plain(body(r.response))?.shared, { sw_title: sw.title, sw_version: '2.0', sw_size: 2100, sw_checksum: sha256(sw.bytes), sw_checksum_algorithm: 'SHA256' },
        'sw_* shared attributes');
});

await section('§0.5 /api/v1/{token}/firmware and /software with the same options; token-less forms need X.509', async () => {
    const w = await d.getBlocks({ path: tp(dev.token, 'firmware'), size: 1024 });
    check(w.body.equals(fw.bytes), 'GET /api/v1/T/firmware -> the image', 5000, w.body.length);
    const c = await d.request({ path: tp(dev.token, 'firmware'), query: [`title=${fw.title}`, 'version=1.0', 'size=1000', 'chunk=4'] });
    check(code(c) === '2.05' && c.response.payload.equals(fw.bytes.subarray(4000)), '/api/v1/T/firmware?title&version&size=1000&chunk=4', '1000 bytes', res(c));
    const past = await d.request({ path: tp(dev.token, 'firmware'), query: ['size=1000', 'chunk=7'] });
    check(code(past) === '2.05' && past.response.payload.length === 0, '/api/v1/T/firmware chunk past the end -> 2.05 empty', '2.05 empty', res(past));
    checkError(await d.request({ path: tp(dev.token, 'firmware'), query: ['version=7'] }), '4.00', '/api/v1/T/firmware?version=7 (mismatch)');
    const s = await d.getBlocks({ path: tp(dev.token, 'software'), size: 1024 });
    check(s.body.equals(sw.bytes), 'GET /api/v1/T/software -> the software image', 2100, s.body.length);
    const bare = await createDevice();
    checkError(await d.request({ path: tp(bare.token, 'firmware') }), '4.04', '/api/v1/T/firmware without a package');
    checkError(await d.request({ path: ['api', 'v1', 'firmware'] }), '4.01', 'token-less /api/v1/firmware without X.509');
    checkError(await d.request({ path: ['api', 'v1', 'software'] }), '4.01', 'token-less /api/v1/software without X.509');
});

await section('§6 profile-level package, device-level assignment overrides it', async () => {
    const prof = uniqueName('ota-prof');
    await createProfile({ name: prof });
    const fw2 = await upload(image(1500, 3), { version: '3.0' });
    const x = await createDevice(uniqueName('ota-dev'), { profile: prof });
    await cliOk('ota', 'assign', '--profile', prof, String(fw2.id));
    let g = await d.getBlocks({ path: ['fw', x.token], size: 1024 });
    check(g.body.equals(fw2.bytes), 'the profile\'s package is served', sha256(fw2.bytes), sha256(g.body));
    await cliOk('ota', 'assign', x.name, String(fw.id));
    g = await d.getBlocks({ path: ['fw', x.token], size: 1024 });
    check(g.body.equals(fw.bytes), 'after assigning to the device, its own package is served', sha256(fw.bytes), sha256(g.body));
    const a = await d.request({ path: tp(x.token, 'attributes'), query: ['sharedKeys=fw_version'] });
    check(plain(body(a.response))?.shared?.fw_version === '1.0', 'fw_version follows', '1.0', res(a));
});

d.close();
done();
