// Spec §2.1 (telemetry shapes), §2.2 (value typing), lenient JSON (§0.10) and Block1
// uploads (§1.1): what firmware posts, and what the admin API then shows with its type and
// timestamp.
import {
    section, check, checkEq, done, device, createDevice, telemetry, storedCount, tp, code, res, checkError,
    typeOf, plain, JNum, NON,
} from './lib/dapi.mjs';

const d = await device();

// post(token, payload[, opts]): POST telemetry, returns {r, t0, t1} (the server's receive
// time lies in [t0, t1]).
async function post(token, payload, opts = {}) {
    const t0 = Date.now();
    const r = await d.request({ method: 'POST', path: tp(token, 'telemetry'), payload, ...opts });
    return { r, t0, t1: Date.now() };
}

// points(name): {key: [{ts, type, text}]}
async function points(name) {
    const t = await telemetry(name);
    const out = {};
    for (const [k, list] of Object.entries(t ?? {}))
        out[k] = list.map((p) => ({ ts: p.ts.value, type: typeOf(p.value), value: p.value }));
    return out;
}
const lit = (v) => (v instanceof JNum ? v.text : typeof v === 'string' ? v : JSON.stringify(plain(v)));

await section('§2.1 shape 1: an object is one record at the server\'s receive time', async () => {
    const { name, token } = await createDevice();
    const { r, t0, t1 } = await post(token, { temperature: 42, on: true });
    check(code(r) === '2.01', 'POST {"temperature":42,"on":true} -> 2.01', '2.01', res(r));
    const p = await points(name);
    checkEq(Object.keys(p).sort(), ['on', 'temperature'], 'keys stored');
    const ts = p.temperature?.[0]?.ts;
    check(p.temperature?.length === 1 && ts >= t0 - 5 && ts <= t1 + 5, 'ts = server receive time (ms)', `[${t0}, ${t1}]`, ts);
    check(p.on?.[0]?.ts === ts, 'both keys share one ts', ts, p.on?.[0]?.ts);
    check(p.temperature?.[0]?.type === 'LONG' && lit(p.temperature[0].value) === '42', 'temperature LONG 42', 'LONG 42', p.temperature?.[0]);
    check(p.on?.[0]?.type === 'BOOLEAN' && p.on[0].value === true, 'on BOOLEAN true', 'BOOLEAN true', p.on?.[0]);
});

await section('§2.1 shape 2: {"ts","values"} is one record at the device\'s time; other keys ignored', async () => {
    const { name, token } = await createDevice();
    let { r } = await post(token, { ts: 1451649600512, values: { a: 1, s: 'x' }, ignored: 5 });
    check(code(r) === '2.01', 'POST {"ts":1451649600512,"values":{...},"ignored":5} -> 2.01', '2.01', res(r));
    ({ r } = await post(token, { ts: '1451649600999', values: { a: 2 } }));
    check(code(r) === '2.01', 'ts as a numeric string -> 2.01', '2.01', res(r));
    const p = await points(name);
    checkEq(Object.keys(p).sort(), ['a', 's'], 'only the values are stored (no "ts", "values" or "ignored" key)');
    checkEq(p.a?.map((x) => [x.ts, lit(x.value)]), [[1451649600512, '1'], [1451649600999, '2']], 'a at the client timestamps');
    checkEq(p.s?.map((x) => [x.ts, x.type, x.value]), [[1451649600512, 'STRING', 'x']], 's at the client timestamp');
});

await section('§2.1 only one of ts/values: the object is shape 1 (the key is telemetry)', async () => {
    const { name, token } = await createDevice();
    let x = await post(token, { ts: 1451649600512, b: 1 });
    check(code(x.r) === '2.01', 'POST {"ts":...,"b":1} -> 2.01', '2.01', res(x.r));
    let p = await points(name);
    check(p.ts?.[0]?.type === 'LONG' && lit(p.ts[0].value) === '1451649600512' && p.ts[0].ts >= x.t0 - 5 && p.ts[0].ts <= x.t1 + 5,
        '"ts" stored as a LONG key at server time', 'ts LONG at server time', p.ts);
    const other = await createDevice();
    x = await post(other.token, { values: { c: 1 } });
    check(code(x.r) === '2.01', 'POST {"values":{"c":1}} -> 2.01', '2.01', res(x.r));
    p = await points(other.name);
    check(p.values?.[0]?.type === 'JSON' && JSON.stringify(plain(p.values[0].value)) === '{"c":1}' && p.c === undefined,
        '"values" stored as a JSON key', 'values JSON {"c":1}', p);
});

await section('§2.1 shape 3: an array of shape 1 and 2 objects', async () => {
    const { name, token } = await createDevice();
    const { r, t0, t1 } = await post(token, [{ k: 1 }, { ts: 1500000000000, values: { k: 2 } }, { ts: 1500000000001, values: { k: 3, m: 'x' } }]);
    check(code(r) === '2.01', 'POST [{"k":1},{"ts":..,"values":{"k":2}},{"ts":..,"values":{..}}] -> 2.01', '2.01', res(r));
    const p = await points(name);
    const ks = p.k ?? [];
    check(ks.length === 3, 'three points of k', 3, ks.length);
    checkEq(ks.slice(0, 2).map((x) => [x.ts, lit(x.value)]), [[1500000000000, '2'], [1500000000001, '3']], 'client-timestamped points');
    check(ks[2]?.ts >= t0 - 5 && ks[2]?.ts <= t1 + 5 && lit(ks[2]?.value) === '1', 'shape-1 element at server time', `[${t0},${t1}] 1`, ks[2]);
    checkEq(p.m?.map((x) => [x.ts, x.value]), [[1500000000001, 'x']], 'm');
});

await section('§2.1 refused shapes -> 4.00 with a diagnostic, nothing stored', async () => {
    const bad = [
        ['[{"a":1}, 5]', 'an array with a non-object element'],
        ['[{"a":1}, [1]]', 'an array with an array element'],
        ['{"ts":1451649600512,"values":5}', '"values" not an object'],
        ['{"ts":1451649600512,"values":[1,2]}', '"values" an array'],
        ['42', 'a number'],
        ['"text"', 'a string'],
        ['true', 'a boolean'],
        ['', 'an empty body'],
        ['{"a":', 'truncated JSON'],
        ['{"a":1}}', 'trailing garbage'],
    ];
    for (const [payload, what] of bad) {
        const { name, token } = await createDevice();
        const { r } = await post(token, Buffer.from(payload));
        checkError(r, '4.00', `POST telemetry ${JSON.stringify(payload)} (${what})`);
        checkEq(await storedCount(name), 0, `nothing stored after ${what}`);
    }
});

await section('§1.3 {} is accepted (2.01) and stores nothing; [] stores nothing', async () => {
    let { name, token } = await createDevice();
    let { r } = await post(token, {});
    check(code(r) === '2.01', 'POST {} -> 2.01', '2.01', res(r));
    checkEq(await storedCount(name), 0, 'nothing stored for {}');
    ({ name, token } = await createDevice());
    ({ r } = await post(token, []));
    // ThingsBoard answers [] with only the empty ACK (§1.3 quirk); an improved 2.01 is fine too
    check(code(r) === '2.01' || (code(r) === 'none' && r.emptyAck), 'POST [] -> 2.01, or only the empty ACK (ThingsBoard)',
        '2.01 or empty ACK', res(r));
    checkEq(await storedCount(name), 0, 'nothing stored for []');
});

await section('§2.2 value typing as stored', async () => {
    const { name, token } = await createDevice();
    // key, literal JSON, expected stored type, expected value literal as the admin API renders it
    const table = [
        ['long', '42', 'LONG', '42'],
        ['neg', '-7', 'LONG', '-7'],
        ['dbl', '42.0', 'DOUBLE', '42.0'],
        ['tenth', '0.1', 'DOUBLE', '0.1'],
        ['exp', '1e3', 'LONG', '1000'],
        ['exp2', '1.5e3', 'LONG', '1500'],
        ['exp3', '4.2e1', 'LONG', '42'],
        ['exp4', '1.55e1', 'DOUBLE', '15.5'],
        ['big', '12345678901234567890', 'STRING', '12345678901234567890'],
        ['deep', '0.12345678901234567', 'STRING', '0.12345678901234567'],
        ['str', '"hello"', 'STRING', 'hello'],
        ['castl', '"42"', 'LONG', '42'],
        ['castd', '"-1.5"', 'DOUBLE', '-1.5'],
        ['nocast', '"1e3"', 'STRING', '1e3'],
        ['plus', '"+1"', 'STRING', '+1'],
        ['t', 'true', 'BOOLEAN', 'true'],
        ['f', 'false', 'BOOLEAN', 'false'],
        ['obj', '{"a":[1,2.50]}', 'JSON', '{"a":[1,2.5]}'],
        ['arr', '[1,"x",null]', 'JSON', '[1,"x",null]'],
    ];
    const payload = `{${table.map(([k, v]) => `"${k}":${v}`).join(',')},"gone":null}`;
    const { r } = await post(token, Buffer.from(payload));
    check(code(r) === '2.01', `POST ${payload} -> 2.01`, '2.01', res(r));
    const p = await points(name);
    for (const [k, v, type, want] of table) {
        const got = p[k]?.[0];
        const text = got === undefined ? undefined : got.type === 'BOOLEAN' ? String(got.value) : lit(got.value);
        check(got && got.type === type && (type === 'JSON' ? JSON.stringify(plain(got.value)) === want : text === want),
            `${v} -> ${type} ${want}`, `${type} ${want}`, got ? `${got.type} ${text}` : 'not stored');
    }
    check(p.gone === undefined, 'null value dropped', 'absent', p.gone);
});

await section('§0.10 Gson-lenient JSON is accepted', async () => {
    const { name, token } = await createDevice();
    const { r } = await post(token, Buffer.from("{temperature:25, mode:auto, 'q':'x'}"));
    check(code(r) === '2.01', 'POST {temperature:25, mode:auto, \'q\':\'x\'} -> 2.01', '2.01', res(r));
    const p = await points(name);
    check(p.temperature?.[0]?.type === 'LONG' && lit(p.temperature[0].value) === '25', 'temperature LONG 25', 'LONG 25', p.temperature);
    check(p.mode?.[0]?.type === 'STRING' && p.mode[0].value === 'auto', 'mode STRING auto', 'STRING auto', p.mode);
    check(p.q?.[0]?.value === 'x', 'q STRING x', 'x', p.q);
});

await section('§1.1 a large body in Block1 blocks (transparent reassembly), NON telemetry', async () => {
    const { name, token } = await createDevice();
    const values = {};
    for (let i = 0; i < 150; ++i) values[`key_${String(i).padStart(3, '0')}`] = i;
    const payload = JSON.stringify({ ts: 1600000000000, values });
    const r = await d.postBlocks({ path: tp(token, 'telemetry'), payload, size: 64 });
    check(r.continues.every((m) => m?.codeText === '2.31'), `every intermediate block -> 2.31 Continue (${r.continues.length})`, '2.31', r.continues.map((m) => m?.codeText));
    check(code(r) === '2.01', `Block1 POST of ${payload.length} bytes -> 2.01`, '2.01', res(r));
    const p = await points(name);
    checkEq(Object.keys(p).length, 150, 'all 150 keys stored');
    checkEq(p.key_149?.[0] && [p.key_149[0].ts, lit(p.key_149[0].value)], [1600000000000, '149'], 'key_149 at the client ts');

    const n = await createDevice();
    const x = await post(n.token, { nonval: 1.5 }, { type: NON });
    check(code(x.r) === '2.01' && x.r.response.type === NON, 'NON POST -> NON 2.01', 'NON 2.01', res(x.r));
    const q = await points(n.name);
    check(q.nonval?.[0]?.type === 'DOUBLE', 'stored as DOUBLE', 'DOUBLE', q.nonval);
});

d.close();
done();
