// Spec §5.1 (claim; an operator completes it through the admin API) and §5.2 (provisioning:
// SUCCESS, NOT_FOUND and FAILURE with their exact JSON bodies, both strategies, protobuf).
import { existsSync } from 'node:fs';
import {
    section, check, checkEq, done, device, createDevice, createProfile, uniqueName, tp, code, res, checkError, plain,
    body, api, apiOk, enc, attributes, latest, newToken,
} from './lib/dapi.mjs';

const d = await device();
const devInfo = async (name) => (await api('GET', `/api/devices/${enc(name)}`)).json;
const NOT_FOUND = { errorMsg: 'Provision data was not found!', status: 'NOT_FOUND' };
const FAILURE = { errorMsg: 'Failed to provision device!', status: 'FAILURE' };
const provision = (payload, opts = {}) => d.request({ method: 'POST', path: ['api', 'v1', 'provision'], payload, ...opts });

await section('§5.1 claim with secretKey and durationMs; the operator completes it', async () => {
    const { name, token } = await createDevice();
    const t0 = Date.now();
    const r = await d.request({ method: 'POST', path: tp(token, 'claim'), payload: { secretKey: 'mySecret', durationMs: 60000 } });
    check(code(r) === '2.01' && r.response.payload.length === 0, 'POST claim -> 2.01', '2.01', res(r));
    const c = (await devInfo(name))?.claim;
    check(c && c.expirationTime >= t0 + 60000 - 2000 && c.expirationTime <= Date.now() + 60000 + 2000, 'claim registered, expiring in 60 s',
        `~${t0 + 60000}`, c);
    const wrong = await api('POST', `/api/devices/${enc(name)}/claim`, { secretKey: 'nope' });
    check(wrong.status === 400, 'operator with the wrong secret -> 400', 400, `${wrong.status} ${wrong.text}`);
    const ok = await api('POST', `/api/devices/${enc(name)}/claim`, { secretKey: 'mySecret', owner: 'alice' });
    check(ok.status === 200 && ok.json?.claim?.claimedBy === 'alice', 'operator with the secret -> 200, claimed by alice', '200 alice', `${ok.status} ${ok.text}`);
});

await section('§5.1 empty body / durationMs <= 0: secret "" and the default duration (86 400 000 ms)', async () => {
    for (const [payload, what] of [[undefined, 'no body'], [{ secretKey: 's', durationMs: 0 }, 'durationMs 0'], [{ secretKey: 's', durationMs: -5 }, 'durationMs -5']]) {
        const { name, token } = await createDevice();
        const t0 = Date.now();
        const r = await d.request({ method: 'POST', path: tp(token, 'claim'), payload });
        check(code(r) === '2.01', `POST claim (${what}) -> 2.01`, '2.01', res(r));
        const c = (await devInfo(name))?.claim;
        const want = t0 + 86400000;
        check(c && Math.abs(c.expirationTime - want) < 5000, `expires after the default 86 400 000 ms (${what})`, want, c?.expirationTime);
        if (payload === undefined) {
            const ok = await api('POST', `/api/devices/${enc(name)}/claim`, { secretKey: '' });
            check(ok.status === 200, 'operator completes it with the empty secret', 200, `${ok.status} ${ok.text}`);
        }
    }
});

await section('§5.1 claim body not an object or bad JSON -> 4.00 with a diagnostic, nothing registered', async () => {
    for (const [payload, what] of [['[1]', 'an array'], ['"s"', 'a string'], ['{"secretKey":', 'bad JSON']]) {
        const { name, token } = await createDevice();
        checkError(await d.request({ method: 'POST', path: tp(token, 'claim'), payload: Buffer.from(payload) }), '4.00', `POST claim ${payload} (${what})`);
        const c = (await devInfo(name))?.claim;
        check(c == null, 'no claim registered', null, c);
    }
    checkError(await d.request({ method: 'POST', path: tp('no-such-token', 'claim'), payload: { secretKey: 'x' } }), '4.01', 'claim with an unknown token');
});

// ---- provisioning ----

async function allowCreateProfile() {
    const p = { name: uniqueName('prov-ac'), key: `key-${newToken()}`, secret: `secret-${newToken()}` };
    await createProfile({ name: p.name, provision: { strategy: 'allow-create', key: p.key, secret: p.secret } });
    return p;
}

await section('§5.2 allow-create: SUCCESS with a generated token that works; device and provisionState created', async () => {
    const p = await allowCreateProfile();
    const name = uniqueName('prov-dev');
    const r = await provision({ deviceName: name, provisionDeviceKey: p.key, provisionDeviceSecret: p.secret });
    const b = plain(body(r.response));
    check(code(r) === '2.01', 'POST /api/v1/provision -> 2.01', '2.01', res(r));
    check(b && Object.keys(b).sort().join() === 'credentialsType,credentialsValue,status' && b.status === 'SUCCESS' &&
        b.credentialsType === 'ACCESS_TOKEN' && typeof b.credentialsValue === 'string' && b.credentialsValue.length === 20,
        'body {"credentialsValue":<20 chars>,"credentialsType":"ACCESS_TOKEN","status":"SUCCESS"}', 'SUCCESS body', r.response?.text);
    const info = await devInfo(name);
    check(info?.profile === p.name && info?.credentials?.token === b?.credentialsValue, 'the device exists in the profile with that token',
        `${p.name} ${b?.credentialsValue}`, info);
    const srv = await attributes(name, 'server');
    check(srv.provisionState === 'provisioned', 'server attribute provisionState = "provisioned"', 'provisioned', srv);
    const t = await d.request({ method: 'POST', path: tp(b?.credentialsValue, 'telemetry'), payload: { hello: 1 } });
    check(code(t) === '2.01', 'the new device posts telemetry with its token -> 2.01', '2.01', res(t));
    check((await latest(name))?.hello !== undefined, 'stored', 'hello', await latest(name));
});

await section('§5.2 allow-create: requested credentials (ACCESS_TOKEN, MQTT_BASIC), random name, gateway', async () => {
    const p = await allowCreateProfile();
    const tokenName = uniqueName('prov-tok');
    const myToken = newToken();
    let r = await provision({ deviceName: tokenName, provisionDeviceKey: p.key, provisionDeviceSecret: p.secret, credentialsType: 'ACCESS_TOKEN', token: myToken });
    checkEq(plain(body(r.response)), { credentialsValue: myToken, credentialsType: 'ACCESS_TOKEN', status: 'SUCCESS' }, 'ACCESS_TOKEN with "token" -> that token');
    const mq = uniqueName('prov-mqtt');
    r = await provision({ deviceName: mq, provisionDeviceKey: p.key, provisionDeviceSecret: p.secret, credentialsType: 'MQTT_BASIC', clientId: 'cid', username: 'usr', password: 'pw' });
    checkEq(plain(body(r.response)), { credentialsValue: { clientId: 'cid', userName: 'usr', password: 'pw' }, credentialsType: 'MQTT_BASIC', status: 'SUCCESS' },
        'MQTT_BASIC -> credentialsValue {clientId,userName,password}');
    const before = (await api('GET', `/api/devices?profile=${enc(p.name)}&limit=1000`)).json?.devices?.length ?? 0;
    r = await provision({ provisionDeviceKey: p.key, provisionDeviceSecret: p.secret, gateway: true });
    check(code(r) === '2.01' && plain(body(r.response))?.status === 'SUCCESS', 'no deviceName -> SUCCESS', 'SUCCESS', res(r));
    const devs = (await api('GET', `/api/devices?profile=${enc(p.name)}&limit=1000`)).json?.devices ?? [];
    check(devs.length === before + 1, 'one more device in the profile', before + 1, devs.length);
    const fresh = devs.find((x) => x.name !== tokenName && x.name !== mq);
    check(fresh && /^[A-Za-z0-9]{20}$/.test(fresh.name), 'named with 20 random alphanumerics', '20 alphanumerics', fresh?.name);
    check(fresh && JSON.stringify(fresh.additionalInfo ?? {}).includes('"gateway":true'), 'gateway:true kept in additionalInfo', '{"gateway":true}', fresh?.additionalInfo);
});

await section('§5.2 NOT_FOUND: unknown key, wrong secret, empty key, disabled profile -> 4.00 + body', async () => {
    const p = await allowCreateProfile();
    const disabled = { name: uniqueName('prov-off'), key: `key-${newToken()}`, secret: 's' };
    await createProfile({ name: disabled.name, provision: { strategy: 'disabled', key: disabled.key, secret: disabled.secret } });
    const cases = [
        [{ deviceName: uniqueName('x'), provisionDeviceKey: 'no-such-key', provisionDeviceSecret: p.secret }, 'unknown key'],
        [{ deviceName: uniqueName('x'), provisionDeviceKey: p.key, provisionDeviceSecret: 'wrong' }, 'wrong secret'],
        [{ deviceName: uniqueName('x'), provisionDeviceKey: '', provisionDeviceSecret: p.secret }, 'empty key'],
        [{ deviceName: uniqueName('x'), provisionDeviceKey: disabled.key, provisionDeviceSecret: disabled.secret }, 'DISABLED profile'],
    ];
    for (const [payload, what] of cases) {
        const r = await provision(payload);
        check(code(r) === '4.00', `${what} -> 4.00`, '4.00', res(r));
        checkEq(plain(body(r.response)), NOT_FOUND, `${what}: body`);
        check((await api('GET', `/api/devices/${enc(payload.deviceName)}`)).status === 404, `${what}: no device created`, 404, 'exists');
    }
});

await section('§5.2 FAILURE: name taken, blank name -> 4.00 + body; nothing created', async () => {
    const p = await allowCreateProfile();
    const existing = await createDevice();
    let r = await provision({ deviceName: existing.name, provisionDeviceKey: p.key, provisionDeviceSecret: p.secret });
    check(code(r) === '4.00', 'existing device name -> 4.00', '4.00', res(r));
    checkEq(plain(body(r.response)), FAILURE, 'existing device name: body');
    const info = await devInfo(existing.name);
    check(info?.credentials?.token === existing.token && info?.profile === 'default', 'the existing device is unchanged', existing.token, info);
    const before = (await api('GET', `/api/devices?profile=${enc(p.name)}`)).json?.devices?.length;
    r = await provision({ deviceName: '   ', provisionDeviceKey: p.key, provisionDeviceSecret: p.secret });
    check(code(r) === '4.00', 'blank deviceName -> 4.00', '4.00', res(r));
    checkEq(plain(body(r.response)), FAILURE, 'blank deviceName: body');
    checkEq((await api('GET', `/api/devices?profile=${enc(p.name)}`)).json?.devices?.length, before, 'no device created');
});

await section('§5.2 pre-provisioned: SUCCESS returns the existing credentials once, then FAILURE', async () => {
    const p = { name: uniqueName('prov-pre'), key: `key-${newToken()}`, secret: `secret-${newToken()}` };
    await createProfile({ name: p.name, provision: { strategy: 'pre-provisioned', key: p.key, secret: p.secret } });
    const dev = await createDevice(uniqueName('pre-dev'), { profile: p.name });
    let r = await provision({ deviceName: dev.name, provisionDeviceKey: p.key, provisionDeviceSecret: p.secret });
    check(code(r) === '2.01', 'pre-provisioned device -> 2.01', '2.01', res(r));
    checkEq(plain(body(r.response)), { credentialsValue: dev.token, credentialsType: 'ACCESS_TOKEN', status: 'SUCCESS' }, 'its existing token');
    check((await attributes(dev.name, 'server')).provisionState === 'provisioned', 'provisionState set', 'provisioned', await attributes(dev.name, 'server'));
    r = await provision({ deviceName: dev.name, provisionDeviceKey: p.key, provisionDeviceSecret: p.secret });
    checkEq([code(r), plain(body(r.response))], ['4.00', FAILURE], 'provisioning it again -> 4.00 FAILURE');
    r = await provision({ deviceName: uniqueName('not-there'), provisionDeviceKey: p.key, provisionDeviceSecret: p.secret });
    checkEq([code(r), plain(body(r.response))], ['4.00', FAILURE], 'a device that does not exist in the profile -> 4.00 FAILURE');
});

await section('§5.2 request errors: missing secret, unknown credentialsType, undecodable body -> 4.00; NON; /api/v1/x/provision', async () => {
    const p = await allowCreateProfile();
    let r = await provision({ deviceName: uniqueName('x'), provisionDeviceKey: p.key });
    check(code(r) === '4.00' && plain(body(r.response))?.status !== 'SUCCESS', 'missing provisionDeviceSecret -> 4.00', '4.00', res(r));
    r = await provision({ deviceName: uniqueName('x'), provisionDeviceKey: p.key, provisionDeviceSecret: p.secret, credentialsType: 'CARRIER_PIGEON' });
    check(code(r) === '4.00' && plain(body(r.response))?.status !== 'SUCCESS', 'unknown credentialsType -> 4.00', '4.00', res(r));
    // neither JSON nor a ProvisionDeviceRequestMsg (a length-delimited field longer than the body)
    r = await provision(Buffer.from([0x0a, 0x05, 0x61]));
    checkError(r, '4.00', 'undecodable body');
    const name = uniqueName('prov-non');
    r = await provision({ deviceName: name, provisionDeviceKey: p.key, provisionDeviceSecret: p.secret }, { type: 1 });
    check(code(r) === '2.01' && r.response.type === 1 && plain(body(r.response))?.status === 'SUCCESS', 'NON request -> NON 2.01 SUCCESS', 'NON 2.01', res(r));
    const name2 = uniqueName('prov-any');
    r = await d.request({ method: 'POST', path: ['api', 'v1', 'anything', 'provision'], payload: { deviceName: name2, provisionDeviceKey: p.key, provisionDeviceSecret: p.secret } });
    check(code(r) === '2.01' && plain(body(r.response))?.status === 'SUCCESS', 'POST /api/v1/anything/provision -> 2.01 SUCCESS', '2.01', res(r));
    check((await api('GET', `/api/devices/${enc(name2)}`)).status === 200, 'device created', 200, 'missing');
});

// ---- protobuf provisioning (§5.2 codec detection, §8 messages) ----
const varint = (n) => { const o = []; do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; o.push(b); } while (n); return Buffer.from(o); };
const field = (num, bytes) => Buffer.concat([varint((num << 3) | 2), varint(bytes.length), bytes]);
const vfield = (num, v) => Buffer.concat([varint(num << 3), varint(v)]);
function pbDecode(buf) {
    const out = {};
    let i = 0;
    const rv = () => { let r = 0, s = 0, b; do { b = buf[i++]; r += (b & 0x7f) * 2 ** s; s += 7; } while (b & 0x80); return r; };
    while (i < buf.length) {
        const key = rv(), num = Math.floor(key / 8), wt = key & 7;
        if (wt === 0) out[num] = rv();
        else if (wt === 2) { const n = rv(); out[num] = buf.subarray(i, i + n); i += n; }
        else throw new Error(`wire type ${wt}`);
    }
    return out;
}

// The protobuf fallback needs the protobuf payload adaptor (plugins/protobuf), which
// device_api.sh adds to the manifest whenever the build has it. A build without it skips
// this section, loudly, rather than failing for a missing feature.
const protobufBuilt = existsSync(`${process.env.TERN_BUILD_DIR ?? 'build'}/plugins/libtern-protobuf.so`);
if (!protobufBuilt)
    console.log('  SKIP §5.2 protobuf provisioning: no protobuf payload adaptor (libtern-protobuf.so) in this build');
else await section('§5.2 protobuf request (not JSON) -> protobuf ProvisionDeviceResponseMsg', async () => {
    const p = await allowCreateProfile();
    const name = uniqueName('prov-pb');
    const creds = Buffer.concat([field(1, Buffer.from(p.key)), field(2, Buffer.from(p.secret))]);
    const msg = Buffer.concat([field(1, Buffer.from(name)), vfield(2, 0), field(3, creds)]);
    let r = await provision(msg);
    check(code(r) === '2.01', 'protobuf ProvisionDeviceRequestMsg -> 2.01', '2.01', res(r));
    let pb;
    try { pb = r.response ? pbDecode(r.response.payload) : undefined; } catch (e) { pb = { error: e.message }; }
    check(pb && pb[1] === 1 && (pb[2] ?? 0) === 0 && pb[3] && pb[3].length === 20, 'ProvisionDeviceResponseMsg {status SUCCESS(1), ACCESS_TOKEN(0), 20-char token}',
        '{1:1, 3:<token>}', pb && Object.fromEntries(Object.entries(pb).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString() : v])));
    const info = await devInfo(name);
    check(info?.credentials?.token === pb?.[3]?.toString(), 'the device exists with that token', pb?.[3]?.toString(), info?.credentials);
    const bad = Buffer.concat([field(1, Buffer.from(uniqueName('x'))), field(3, Buffer.concat([field(1, Buffer.from('no-key')), field(2, Buffer.from('s'))]))]);
    r = await provision(bad);
    try { pb = r.response ? pbDecode(r.response.payload) : undefined; } catch (e) { pb = { error: e.message }; }
    check(code(r) === '4.00' && pb?.[1] === 2, 'unknown key -> 4.00 ProvisionDeviceResponseMsg {status NOT_FOUND(2)}', '4.00 {1:2}', res(r));
});

d.close();
done();
