// Spec §1 (paths, methods, codes, content formats), §0.1 (piggy-backing), §0.6
// (diagnostics), §0.8 (/.well-known/core): requests as firmware sends them, and what the
// admin API then shows.
import {
    section, check, checkEq, done, device, createDevice, createProfile, uniqueName, telemetry, latest, storedCount,
    api, tp, code, res, checkError, body, plain, typeOf, OPT, CON, NON, ACK, sleep,
} from './lib/dapi.mjs';

const d = await device();

await section('§1.3/§1.4/§0.1 success codes, piggy-backed ACKs, no Content-Format on 2.01', async () => {
    const { name, token } = await createDevice();
    let r = await d.request({ method: 'POST', path: tp(token, 'telemetry'), payload: { temperature: 21 } });
    check(code(r) === '2.01' && r.piggybacked, 'CON POST telemetry -> 2.01 piggy-backed in the ACK (§0.1)', '2.01 in ACK', res(r));
    check(r.response && r.response.payload.length === 0, '2.01 has no payload', 0, r.response?.payload.length);
    check(r.response && r.response.contentFormat === undefined, '2.01 has no Content-Format (§1.4)', undefined, r.response?.contentFormat);
    r = await d.request({ method: 'POST', path: tp(token, 'telemetry'), payload: { humidity: 40 }, type: NON });
    check(code(r) === '2.01' && r.response.type === NON, 'NON POST telemetry -> NON 2.01', 'NON 2.01', res(r));
    r = await d.request({ method: 'POST', path: tp(token, 'attributes'), payload: { fw: 'v1' } });
    check(code(r) === '2.01' && r.piggybacked && r.response.contentFormat === undefined,
        'CON POST attributes -> 2.01 piggy-backed, no Content-Format', '2.01 ACK', res(r));
    const t = await latest(name);
    check(typeOf(t.temperature?.value) === 'LONG' && typeOf(t.humidity?.value) === 'LONG', 'both telemetry values stored', 'temperature, humidity', t);

    r = await d.request({ path: tp(token, 'attributes') });
    check(code(r) === '2.05' && r.piggybacked, 'GET attributes -> 2.05 piggy-backed', '2.05 ACK', res(r));
    check(r.response?.contentFormat === 50, 'GET attributes without Content-Format -> Content-Format 50 (§1.4)', 50, r.response?.contentFormat);
    checkEq(plain(body(r.response)), { client: { fw: 'v1' } }, 'GET attributes payload');
    r = await d.request({ path: tp(token, 'attributes'), cf: 50 });
    check(r.response?.contentFormat === 50, 'GET attributes with Content-Format 50 -> 50 echoed', 50, r.response?.contentFormat);
    r = await d.request({ path: tp(token, 'attributes'), cf: 0 });
    check(r.response?.contentFormat === 0, 'GET attributes with Content-Format 0 -> 0 echoed (JSON profiles echo the request\'s, §1.4)',
        0, r.response?.contentFormat);
});

await section('§1.2 feature names are case-insensitive; deeper segments after the feature are ignored', async () => {
    const { name, token } = await createDevice();
    let r = await d.request({ method: 'POST', path: tp(token, 'TeLeMeTrY'), payload: { a: 1 } });
    check(code(r) === '2.01', 'POST /api/v1/T/TeLeMeTrY -> 2.01', '2.01', res(r));
    r = await d.request({ method: 'POST', path: tp(token, 'ATTRIBUTES'), payload: { b: 2 } });
    check(code(r) === '2.01', 'POST /api/v1/T/ATTRIBUTES -> 2.01', '2.01', res(r));
    r = await d.request({ method: 'POST', path: tp(token, 'telemetry', 'extra', 'segments'), payload: { c: 3 } });
    check(code(r) === '2.01', 'POST /api/v1/T/telemetry/extra/segments -> 2.01 (feature = 4th segment)', '2.01', res(r));
    r = await d.request({ path: tp(token, 'Rpc'), observe: 0 });
    check(code(r) === '2.03' && r.response.observe === 0, 'GET+Observe /api/v1/T/Rpc -> 2.03 Observe 0', '2.03 Observe=0', res(r));
    await d.request({ path: tp(token, 'Rpc'), observe: 1, token: r.token });
    const t = await latest(name);
    check(t.a !== undefined && t.c !== undefined, 'telemetry a and c stored', 'a, c', Object.keys(t));
    const attrs = await api('GET', `/api/devices/${name}/attributes?scope=client`);
    check(attrs.text.includes('"b"'), 'client attribute b stored', 'b', attrs.text);
});

await section('§1.2 parse algorithm: n<3, unknown features, n==4 digits rule, missing token', async () => {
    const { name, token } = await createDevice();
    const cases = [
        [['api', 'v1'], 'POST', '4.00', 'n == 2 (n < 3)'],
        [['api', 'v1', token, 'bogus'], 'POST', '4.00', 'unknown feature'],
        [['api', 'v1', 'NO-SUCH-TOKEN', 'bogus'], 'POST', '4.00', 'unknown feature is refused before authentication'],
        [['api', 'v1', 'bogus'], 'POST', '4.00', 'n == 3, unknown feature'],
        [['api', 'v1', token, '123'], 'POST', '4.00', 'n == 4 and last segment all digits: feature = 3rd segment (the token) -> unknown'],
        [['api', 'v1', 'telemetry'], 'POST', '4.01', 'n == 3 token-less telemetry without X.509 -> no token'],
        [['api', 'v1', 'attributes'], 'POST', '4.01', 'n == 3 token-less attributes'],
        [['api', 'v1', 'claim'], 'POST', '4.01', 'n == 3 token-less claim'],
        [['api', 'v1', 'rpc'], 'POST', '4.01', 'n == 3 token-less client RPC'],
        [['api', 'v1', 'rpc', '5'], 'POST', '4.01', 'n == 4 digits: token-less rpc/{id}'],
        [['api', 'v1', 'NO-SUCH-TOKEN', 'telemetry'], 'POST', '4.01', 'unknown token'],
    ];
    for (const [path, method, want, what] of cases) {
        const r = await d.request({ method, path, payload: { x: 1 } });
        checkError(r, want, `${method} /${path.join('/')} (${what})`);
    }
    checkEq(await storedCount(name), 0, 'nothing stored for the device');
});

await section('§1.2 provision under /api/v1/provision and /api/v1/{anything}/provision (no auth)', async () => {
    for (const path of [['api', 'v1', 'provision'], ['api', 'v1', 'whatever', 'provision'], ['api', 'v1', 'PROVISION']]) {
        const r = await d.request({ method: 'POST', path, payload: { provisionDeviceKey: 'no-such-key', provisionDeviceSecret: 's' } });
        const b = plain(body(r.response));
        check(code(r) === '4.00' && b?.status === 'NOT_FOUND', `POST /${path.join('/')} reaches provisioning (NOT_FOUND for an unknown key)`,
            '4.00 {"status":"NOT_FOUND"}', res(r));
    }
});

await section('§1.2 rpc id: POST rpc/{non-number} is a client-side RPC', async () => {
    const { token } = await createDevice();
    const before = Date.now();
    const r = await d.request({ method: 'POST', path: tp(token, 'rpc', 'abc'), payload: { method: 'getCurrentTime', params: {} } });
    const b = plain(body(r.response));
    check(code(r) === '2.05' && typeof b?.time === 'number' && b.time >= before - 5000 && b.time <= Date.now() + 5000,
        'POST /api/v1/T/rpc/abc {"method":"getCurrentTime"} -> 2.05 {"time":now}', '2.05 {"time":...}', res(r));
});

await section('§1.1 one Uri-Path option holding the whole path is split on "/"', async () => {
    const { name, token } = await createDevice();
    let r = await d.request({ method: 'POST', options: [[OPT.URI_PATH, `/api/v1/${token}/telemetry`]], payload: { single: 1 } });
    check(code(r) === '2.01', `POST with one Uri-Path "/api/v1/T/telemetry" -> 2.01`, '2.01', res(r));
    r = await d.request({ method: 'POST', options: [[OPT.URI_PATH, `api/v1/${token}/telemetry`]], payload: { single2: 2 } });
    check(code(r) === '2.01', `POST with one Uri-Path "api/v1/T/telemetry" (no leading slash) -> 2.01`, '2.01', res(r));
    await api('POST', `/api/devices/${name}/attributes/shared`, { one: 1 });
    r = await d.request({ options: [[OPT.URI_PATH, `/api/v1/${token}/attributes`]] });
    check(code(r) === '2.05' && r.response.text === '{"shared":{"one":1}}', 'GET with one Uri-Path "/api/v1/T/attributes" -> 2.05 {"shared":{"one":1}}',
        '2.05 {"shared":{"one":1}}', res(r));
    const t = await latest(name);
    check(t.single !== undefined && t.single2 !== undefined, 'both stored', 'single, single2', Object.keys(t));
});

await section('§1.1/§1.3 methods: PUT/DELETE/FETCH/PATCH -> 4.05, GET /api -> 4.05, unknown top level -> 4.04', async () => {
    const { name, token } = await createDevice();
    for (const method of ['PUT', 'DELETE', 'FETCH', 'PATCH', 'IPATCH']) {
        for (const feature of ['telemetry', 'attributes', 'rpc']) {
            const r = await d.request({ method, path: tp(token, feature), payload: { x: 1 } });
            checkError(r, '4.05', `${method} /api/v1/T/${feature}`);
        }
    }
    checkError(await d.request({ path: ['api'] }), '4.05', 'GET /api');
    checkError(await d.request({ method: 'POST', path: ['api'], payload: { x: 1 } }), '4.05', 'POST /api');
    checkError(await d.request({ path: ['nothing', 'here'] }), '4.04', 'GET /nothing/here');
    checkError(await d.request({ method: 'POST', path: ['api', 'v2', token, 'telemetry'], payload: { x: 1 } }), '4.04', 'POST /api/v2/T/telemetry');
    checkError(await d.request({ method: 'POST', path: ['fw', token], payload: 'x' }), '4.05', 'POST /fw/T');
    checkError(await d.request({ method: 'PUT', path: ['sw', token], payload: 'x' }), '4.05', 'PUT /sw/T');
    checkEq(await storedCount(name), 0, 'nothing stored by refused methods');
});

await section('§1.3 GET of POST-only features -> 4.00', async () => {
    const { name, token } = await createDevice();
    checkError(await d.request({ path: tp(token, 'telemetry') }), '4.00', 'GET telemetry');
    checkError(await d.request({ path: tp(token, 'telemetry'), observe: 0 }), '4.00', 'GET+Observe telemetry');
    checkError(await d.request({ path: tp(token, 'rpc') }), '4.00', 'GET rpc without Observe');
    checkError(await d.request({ path: tp(token, 'claim') }), '4.00', 'GET claim without Observe');
    checkError(await d.request({ path: ['api', 'v1', 'provision'] }), '4.00', 'GET provision without Observe');
    checkEq(await storedCount(name), 0, 'nothing stored');
});

await section('§1.3 quirk: GET+Observe of another feature (claim) is an attribute subscription', async () => {
    const { name, token } = await createDevice();
    await api('POST', `/api/devices/${name}/attributes/shared`, { q: 1 });
    const r = await d.request({ path: tp(token, 'claim'), observe: 0 });
    check(code(r) === '2.05' && r.response.observe === 0, 'GET+Observe /api/v1/T/claim -> 2.05 Observe 0', '2.05 Observe=0', res(r));
    checkEq(plain(body(r.response)), { q: 1 }, 'payload: the shared attributes');
    await d.request({ path: tp(token, 'claim'), observe: 1, token: r.token });
});

await section('§1.3 authentication: unknown token 4.01, foreign transport profile 5.00, EFENTO profile 4.00', async () => {
    checkError(await d.request({ method: 'POST', path: tp('unknown-token-xyz', 'telemetry'), payload: { a: 1 } }), '4.01', 'unknown token');
    checkError(await d.request({ path: tp('unknown-token-xyz', 'attributes') }), '4.01', 'GET attributes, unknown token');
    const mqtt = uniqueName('mqtt-profile');
    await createProfile({ name: mqtt, transport: 'MQTT' });
    const m = await createDevice(uniqueName('mqtt-dev'), { profile: mqtt });
    checkError(await d.request({ method: 'POST', path: tp(m.token, 'telemetry'), payload: { a: 1 } }), '5.00', 'device of an MQTT profile');
    checkEq(await storedCount(m.name), 0, 'nothing stored for the MQTT device');
    const efento = uniqueName('efento-profile');
    await createProfile({ name: efento, transport: 'COAP', coapDeviceType: 'EFENTO' });
    const e = await createDevice(uniqueName('efento-dev'), { profile: efento });
    checkError(await d.request({ method: 'POST', path: tp(e.token, 'telemetry'), payload: { a: 1 } }), '4.00', 'device of an EFENTO profile on /api/v1');
    checkEq(await storedCount(e.name), 0, 'nothing stored for the EFENTO device');
    const coap = uniqueName('coap-profile');
    await createProfile({ name: coap, transport: 'COAP' });
    const c = await createDevice(uniqueName('coap-dev'), { profile: coap });
    const r = await d.request({ method: 'POST', path: tp(c.token, 'telemetry'), payload: { a: 1 } });
    check(code(r) === '2.01', 'device of a COAP/DEFAULT profile -> 2.01', '2.01', res(r));
});

await section('§1.3/§10 authentication follows credential, profile and device changes at once (no stale cache)', async () => {
    const { name, token } = await createDevice();
    let r = await d.request({ method: 'POST', path: tp(token, 'telemetry'), payload: { a: 1 } });
    check(code(r) === '2.01', 'old token works (and is now cached)', '2.01', res(r));
    const fresh = `${token}NEW`;
    await api('PUT', `/api/devices/${name}/credentials`, { token: fresh });
    r = await d.request({ method: 'POST', path: tp(token, 'telemetry'), payload: { a: 2 } });
    checkError(r, '4.01', 'old token right after the credentials changed');
    r = await d.request({ method: 'POST', path: tp(fresh, 'telemetry'), payload: { a: 3 } });
    check(code(r) === '2.01', 'new token -> 2.01', '2.01', res(r));
    const mqtt = uniqueName('mqtt-later');
    await createProfile({ name: mqtt, transport: 'MQTT' });
    await api('PATCH', `/api/devices/${name}`, { profile: mqtt });
    checkError(await d.request({ method: 'POST', path: tp(fresh, 'telemetry'), payload: { a: 4 } }), '5.00', 'right after moving to an MQTT profile');
    await api('PATCH', `/api/devices/${name}`, { profile: 'default' });
    r = await d.request({ method: 'POST', path: tp(fresh, 'telemetry'), payload: { a: 5 } });
    check(code(r) === '2.01', 'back in the default profile -> 2.01', '2.01', res(r));
    await api('DELETE', `/api/devices/${name}`);
    checkError(await d.request({ method: 'POST', path: tp(fresh, 'telemetry'), payload: { a: 6 } }), '4.01', 'right after the device was deleted');
});

await section('§1.1 a retransmitted CON (same MID) gets the same answer and is stored once', async () => {
    const { name, token } = await createDevice();
    const mid = d.nextMid();
    const tok = Buffer.from([9, 8, 7, 6]);
    const r1 = await d.request({ method: 'POST', path: tp(token, 'telemetry'), payload: { dup: 1 }, mid, token: tok });
    const r2 = await d.request({ method: 'POST', path: tp(token, 'telemetry'), payload: { dup: 1 }, mid, token: tok });
    check(code(r1) === '2.01' && code(r2) === '2.01' && r2.response.type === ACK, 'both copies answered 2.01 in an ACK', '2.01, 2.01', `${res(r1)} / ${res(r2)}`);
    const t = await telemetry(name, ['dup']);
    checkEq(t.dup?.length, 1, 'one point stored');
});

await section('§0.8 /.well-known/core lists /api/v1, /fw and /sw in link format', async () => {
    const { body: doc, responses } = await d.getBlocks({ path: ['.well-known', 'core'], size: 1024 });
    const r0 = responses[0];
    check(r0?.codeText === '2.05' && r0.contentFormat === 40, 'GET /.well-known/core -> 2.05, Content-Format 40', '2.05 CF=40', r0?.describe());
    const text = doc.toString();
    for (const p of ['</api/v1>', '</fw>', '</sw>'])
        check(text.includes(p), `lists ${p}`, p, text);
});

d.close();
done();
