// Bad input (issue 4, docs/device-api.md §0.6, §1.3, §2): invalid JSON, wrong types, unknown token, unknown
// resource, oversized payload, wrong method -- each gets its code and a diagnostic payload,
// and nothing is stored. The server runs with plugins.coap.max_resource_body_size = 8192,
// plugins.device_api.max_payload_size = 4096,
// plugins.json.max_string_value_length = 100 and plugins.json.type_cast_enabled = false.
import {
    section, check, checkEq, done, device, createDevice, tp, code, res, checkError, storedCount, api, apiOk, enc,
    OPT, blockValue, NON, plain, body, latest,
} from './lib/dapi.mjs';
import crypto from 'node:crypto';

const d = await device();
const victim = await createDevice();
const T = victim.token;
const post = (feature, payload, opts = {}) => d.request({ method: 'POST', path: tp(T, ...[].concat(feature)), payload: Buffer.from(payload), ...opts });

await section('invalid JSON -> 4.00 with a diagnostic', async () => {
    checkError(await post('telemetry', '{"temperature":'), '4.00', 'telemetry {"temperature":');
    checkError(await post('telemetry', '{"a":1]'), '4.00', 'telemetry {"a":1]');
    checkError(await post('telemetry', '\xff\xfe{"a"'), '4.00', 'telemetry with binary garbage');
    checkError(await post('attributes', '{"a":'), '4.00', 'attributes {"a":');
    checkError(await post('claim', '{"secretKey":'), '4.00', 'claim {"secretKey":');
    checkError(await post('telemetry', '{"a":1', { type: NON }), '4.00', 'NON telemetry {"a":1 (NON errors are answered too)');
});

await section('wrong types -> 4.00 with a diagnostic', async () => {
    checkError(await post('telemetry', '5'), '4.00', 'telemetry 5');
    checkError(await post('telemetry', '"x"'), '4.00', 'telemetry "x"');
    checkError(await post('telemetry', '{"ts":1451649600512,"values":"x"}'), '4.00', 'telemetry values a string');
    checkError(await post('telemetry', '[{"a":1},"b"]'), '4.00', 'telemetry array with a string element');
    checkError(await post('attributes', '[{"a":1}]'), '4.00', 'attributes as an array');
    checkError(await post('attributes', 'true'), '4.00', 'attributes true');
    checkError(await post('claim', '[1]'), '4.00', 'claim [1]');
});

await section('string longer than json.max_string_value_length (100) -> 4.00, whole message refused', async () => {
    const long = 'x'.repeat(101);
    checkError(await post('telemetry', JSON.stringify({ ok: 1, s: long })), '4.00', 'telemetry with a 101-char string');
    checkError(await post('attributes', JSON.stringify({ ok: 1, s: long })), '4.00', 'attributes with a 101-char string');
});

await section('unknown token / resource -> 4.01 / 4.00 / 4.04 with a diagnostic', async () => {
    checkError(await d.request({ method: 'POST', path: tp('not-a-token', 'telemetry'), payload: '{"a":1}' }), '4.01', 'telemetry with an unknown token');
    checkError(await d.request({ method: 'POST', path: tp('not-a-token', 'attributes'), payload: '{"a":1}' }), '4.01', 'attributes with an unknown token');
    checkError(await d.request({ path: tp('not-a-token', 'attributes'), observe: 0 }), '4.01', 'observe with an unknown token');
    checkError(await post('temperature', '{"a":1}'), '4.00', 'POST /api/v1/T/temperature (unknown feature)');
    checkError(await d.request({ method: 'POST', path: ['api', 'v2', T, 'telemetry'], payload: '{"a":1}' }), '4.04', 'POST /api/v2/T/telemetry');
    checkError(await d.request({ method: 'POST', path: ['telemetry'], payload: '{"a":1}' }), '4.04', 'POST /telemetry');
});

await section('oversized payload -> 4.13 with Size1 and a diagnostic (device_api.max_payload_size 4096)', async () => {
    const body6k = JSON.stringify({ blob: 'z'.repeat(6000) });
    const r = await d.postBlocks({ path: tp(T, 'telemetry'), payload: body6k, size: 1024 });
    check(r.response?.codeText === '4.13' && r.response.payload.length > 0, `Block1 upload of ${body6k.length} bytes -> 4.13 with a diagnostic`,
        '4.13 + text', res(r));
    check(r.response?.has(OPT.SIZE1), 'with Size1', 'Size1', r.response?.describe());
});

await section('oversized payload -> 4.13 (Block1 over coap.max_resource_body_size 8192) with a diagnostic', async () => {
    const big = JSON.stringify({ blob: 'y'.repeat(9000) });
    const r = await d.postBlocks({ path: tp(T, 'telemetry'), payload: big, size: 1024 });
    const final = r.response;
    check(final?.codeText === '4.13' && final.payload.length > 0, `Block1 upload of ${big.length} bytes -> 4.13 with a diagnostic`, '4.13 + text', res(r));
    check(final?.has(OPT.SIZE1) && (final.option(OPT.SIZE1).length > 0), 'with Size1 (the limit)', 'Size1', final?.describe());
    const announced = await d.request({ method: 'POST', path: tp(T, 'telemetry'), payload: Buffer.from(big.slice(0, 1024)),
        options: [[OPT.BLOCK1, blockValue(0, true, 1024)], [OPT.SIZE1, big.length]] });
    check(announced.response?.codeText === '4.13', 'Size1 announcing it -> 4.13 at once', '4.13', res(announced));
});

await section('wrong method -> 4.05 with a diagnostic', async () => {
    checkError(await d.request({ method: 'PUT', path: tp(T, 'telemetry'), payload: '{"a":1}' }), '4.05', 'PUT telemetry');
    checkError(await d.request({ method: 'DELETE', path: tp(T, 'attributes') }), '4.05', 'DELETE attributes');
    checkError(await d.request({ method: 'PATCH', path: tp(T, 'attributes'), payload: '{"a":1}' }), '4.05', 'PATCH attributes');
    checkError(await d.request({ method: 'FETCH', path: tp(T, 'attributes'), payload: '{"a":1}' }), '4.05', 'FETCH attributes');
    checkError(await d.request({ method: 'POST', path: ['sw', T], payload: 'x' }), '4.05', 'POST /sw/T');
});

await section('an RPC reply that is not an object -> 5.00 with a diagnostic', async () => {
    const obs = crypto.randomBytes(4);
    await d.request({ path: tp(T, 'rpc'), observe: 0, token: obs });
    const q = await apiOk('POST', `/api/devices/${enc(victim.name)}/rpc`, { method: 'm', timeout: 20000, wait: false }, [200, 202]);
    const m = await d.next(obs, 5000);
    check(plain(body(m))?.id === q?.id, 'RPC received', q?.id, m?.describe());
    checkError(await post(['rpc', String(q?.id)], '[1]'), '5.00', 'rpc reply [1]');
    const rec = (await api('GET', `/api/devices/${enc(victim.name)}/rpc/${q?.id}`)).json;
    check(rec?.status !== 'SUCCESSFUL', 'RPC not completed', 'not SUCCESSFUL', rec?.status);
    await d.request({ path: tp(T, 'rpc'), observe: 1, token: obs });
});

await section('nothing of it was stored', async () => {
    checkEq(await storedCount(victim.name), 0, 'no telemetry and no client attributes for the device');
    const info = (await api('GET', `/api/devices/${enc(victim.name)}`)).json;
    check(info?.claim == null, 'no claim registered', null, info?.claim);
});

await section('§2.2 with json.type_cast_enabled = false: out-of-range numbers refused, numeric strings stay strings', async () => {
    const other = await createDevice();
    checkError(await d.request({ method: 'POST', path: tp(other.token, 'telemetry'), payload: '{"big":12345678901234567890}' }), '4.00',
        'telemetry {"big":12345678901234567890} without type casting');
    checkError(await d.request({ method: 'POST', path: tp(other.token, 'telemetry'), payload: '{"tiny":0.12345678901234567}' }), '4.00',
        'telemetry {"tiny":0.12345678901234567} (17 decimals) without type casting');
    checkEq(await storedCount(other.name), 0, 'nothing stored');
    const r = await d.request({ method: 'POST', path: tp(other.token, 'telemetry'), payload: '{"s":"42"}' });
    check(code(r) === '2.01', '{"s":"42"} -> 2.01', '2.01', res(r));
    const v = (await latest(other.name))?.s?.value;
    check(v === '42', '"42" stays the string "42"', '"42"', v);
});

await section('the request Content-Format is never validated (§1.4): JSON sent as CBOR is stored', async () => {
    const other = await createDevice();
    const r = await d.request({ method: 'POST', path: tp(other.token, 'telemetry'), payload: '{"cf":1}', cf: 60 });
    check(code(r) === '2.01', 'telemetry with Content-Format 60 -> 2.01', '2.01', res(r));
    check((await latest(other.name))?.cf !== undefined, 'stored', 'cf', await latest(other.name));
});

d.close();
done();
