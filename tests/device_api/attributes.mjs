// Spec §2.3 (publishing client attributes) and §2.4 (reading attributes with clientKeys /
// sharedKeys), with the values' types as stored and as returned.
import {
    section, check, checkEq, done, device, createDevice, attributes, setShared, storedCount, tp, code, res,
    checkError, typeOf, plain, body, JNum, api, enc,
} from './lib/dapi.mjs';

const d = await device();
const lit = (v) => (v instanceof JNum ? v.text : typeof v === 'string' ? v : JSON.stringify(plain(v)));

await section('§2.3 POST attributes: an object, typed as §2.2, stored in the CLIENT scope', async () => {
    const { name, token } = await createDevice();
    const payload = '{"fw":"v1.0","n":42,"x":42.0,"on":false,"cast":"7","castd":"1.0","cfg":{"a":[1,2]},"gone":null}';
    const r = await d.request({ method: 'POST', path: tp(token, 'attributes'), payload: Buffer.from(payload) });
    check(code(r) === '2.01' && r.response.payload.length === 0, `POST attributes ${payload} -> 2.01, no payload`, '2.01', res(r));
    const c = await attributes(name, 'client');
    const want = { fw: ['STRING', 'v1.0'], n: ['LONG', '42'], x: ['DOUBLE', '42.0'], on: ['BOOLEAN', 'false'], cast: ['LONG', '7'], castd: ['DOUBLE', '1.0'],
        cfg: ['JSON', '{"a":[1,2]}'] };
    for (const [k, [type, text]] of Object.entries(want)) {
        const v = c[k];
        const got = v === undefined ? 'absent' : `${typeOf(v)} ${typeof v === 'boolean' ? String(v) : lit(v)}`;
        check(got === `${type} ${text}`, `client attribute ${k}`, `${type} ${text}`, got);
    }
    check(!('gone' in c), 'null value dropped', 'absent', c.gone);
    checkEq(await attributes(name, 'shared'), {}, 'nothing in the shared scope');
    const srv = await attributes(name, 'server');
    check(!('fw' in srv), 'nothing of it in the server scope', 'no fw', srv);
});

await section('§2.3 no ts handling: {"ts","values"} is two attributes', async () => {
    const { name, token } = await createDevice();
    const r = await d.request({ method: 'POST', path: tp(token, 'attributes'), payload: { ts: 1451649600512, values: { a: 1 } } });
    check(code(r) === '2.01', 'POST attributes {"ts":..,"values":{..}} -> 2.01', '2.01', res(r));
    const c = await attributes(name, 'client');
    check(typeOf(c.ts) === 'LONG' && typeOf(c.values) === 'JSON' && !('a' in c), 'attributes "ts" (LONG) and "values" (JSON)', 'ts, values', c);
});

await section('§2.3 anything but an object -> 4.00 with a diagnostic, nothing stored', async () => {
    for (const [payload, what] of [['[{"a":1}]', 'an array'], ['5', 'a number'], ['"s"', 'a string'], ['', 'an empty body'], ['{"a":', 'bad JSON']]) {
        const { name, token } = await createDevice();
        const r = await d.request({ method: 'POST', path: tp(token, 'attributes'), payload: Buffer.from(payload) });
        checkError(r, '4.00', `POST attributes ${JSON.stringify(payload)} (${what})`);
        checkEq(await storedCount(name), 0, `nothing stored after ${what}`);
    }
});

await section('§2.4 GET attributes: key lists, sections, last occurrence wins, malformed elements ignored', async () => {
    const { name, token } = await createDevice();
    let r = await d.request({ method: 'POST', path: tp(token, 'attributes'), payload: { c1: 1, c2: 'two', cj: { z: [1, 2.5] } } });
    check(code(r) === '2.01', 'client attributes posted', '2.01', res(r));
    await setShared(name, { s1: 1.5, s2: true, sj: [1, { y: 'x' }] });
    await api('POST', `/api/devices/${enc(name)}/attributes/server`, { srv: 1 });
    const get = async (query) => {
        const x = await d.request({ path: tp(token, 'attributes'), query });
        return { x, b: body(x.response) };
    };
    const cases = [
        [undefined, { client: { c1: 1, c2: 'two', cj: { z: [1, 2.5] } }, shared: { s1: 1.5, s2: true, sj: [1, { y: 'x' }] } }, 'no keys: all client and shared (no server)'],
        [['clientKeys=c1,c2'], { client: { c1: 1, c2: 'two' } }, 'clientKeys only: only the client section'],
        [['sharedKeys=s2'], { shared: { s2: true } }, 'sharedKeys only: only the shared section'],
        [['clientKeys=c1', 'sharedKeys=s1,sj'], { client: { c1: 1 }, shared: { s1: 1.5, sj: [1, { y: 'x' }] } }, 'both lists'],
        [['clientKeys=c1', 'clientKeys=c2'], { client: { c2: 'two' } }, 'the last occurrence wins'],
        [['clientKeys='], { client: { c1: 1, c2: 'two', cj: { z: [1, 2.5] } }, shared: { s1: 1.5, s2: true, sj: [1, { y: 'x' }] } }, 'empty value = absent'],
        [['clientKeys=c1=c2', 'sharedKeys=s1'], { shared: { s1: 1.5 } }, 'an element with two "=" is ignored'],
        [['clientKeys', 'sharedKeys=s2'], { shared: { s2: true } }, 'an element without "=" is ignored'],
        [['clientKeys=c1,nope'], { client: { c1: 1 } }, 'unknown keys are left out'],
        [['clientKeys=cj', 'sharedKeys=sj'], { client: { cj: { z: [1, 2.5] } }, shared: { sj: [1, { y: 'x' }] } }, 'JSON values embedded as JSON'],
    ];
    for (const [query, want, what] of cases) {
        const { x, b } = await get(query);
        check(code(x) === '2.05' && JSON.stringify(plain(b)) !== undefined && deepEqual(plain(b), want),
            `GET attributes${query ? '?' + query.join('&') : ''} (${what})`, want, res(x));
    }
    const { x, b } = await get(['sharedKeys=s1', 'clientKeys=c1']);
    check(code(x) === '2.05' && b?.shared?.s1 instanceof JNum && b.shared.s1.text.includes('.') && b?.client?.c1 instanceof JNum && !b.client.c1.text.includes('.'),
        'values rendered with their stored type (1.5 double, 1 integer)', '{"client":{"c1":1},"shared":{"s1":1.5}}', res(x));
    check(x.response?.contentFormat === 50, 'Content-Format 50', 50, x.response?.contentFormat);
});

function deepEqual(a, b) { return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b)); }
function sortKeys(v) {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
    return v;
}

await section('§1.1 strict Block2: a request with Block2 gets Block2 even for a small answer', async () => {
    const { name, token } = await createDevice();
    await setShared(name, { small: 1 });
    const r = await d.request({ path: tp(token, 'attributes'), options: [[23, 0x06]] }); // Block2 num 0, 1024 bytes
    check(code(r) === '2.05' && r.response.block2?.num === 0 && !r.response.block2.more, 'GET attributes with Block2 0/1024 -> 2.05 with Block2 0, M=0',
        'Block2 0/0', res(r));
    checkEq(plain(body(r.response)), { shared: { small: 1 } }, 'payload');
});

await section('§2.4 nothing found -> 4.04 with a diagnostic', async () => {
    const { name, token } = await createDevice();
    checkError(await d.request({ path: tp(token, 'attributes') }), '4.04', 'GET attributes of a device without attributes');
    await setShared(name, { s: 1 });
    checkError(await d.request({ path: tp(token, 'attributes'), query: ['clientKeys=a,b'] }), '4.04', 'GET attributes?clientKeys=a,b (none exist)');
    checkError(await d.request({ path: tp(token, 'attributes'), query: ['sharedKeys=zz'] }), '4.04', 'GET attributes?sharedKeys=zz');
});

await section('§1.1 a large GET attributes answer goes block-wise (Block2)', async () => {
    const { name, token } = await createDevice();
    const values = {};
    for (let i = 0; i < 80; ++i) values[`shared_key_${i}`] = `value-${'v'.repeat(20)}-${i}`;
    await setShared(name, values);
    const first = await d.request({ path: tp(token, 'attributes') });
    check(code(first) === '2.05' && first.response.block2?.num === 0 && first.response.block2.more,
        'first answer: block 0 with more to come', '2.05 Block2 0/1', res(first));
    const { body: all, responses } = await d.getBlocks({ path: tp(token, 'attributes'), size: 256 });
    let parsed;
    try { parsed = JSON.parse(all.toString()); } catch { parsed = undefined; }
    check(parsed && deepEqual(parsed, { shared: values }), `reassembled from ${responses.length} blocks of 256 bytes: every shared attribute`,
        `${JSON.stringify({ shared: values }).length} bytes`, `${all.length} bytes`);
});

d.close();
done();
