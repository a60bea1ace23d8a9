// Downlinks follow the device (issue 15): the core node routes RPCs and shared-attribute
// updates to the transport node that last heard the device.
//   - an RPC sent through the core's admin API reaches a device observing /rpc on t2 (and
//     one on t1), whose reply there completes it;
//   - a shared-attribute change reaches a device observing /attributes on each node;
//   - a device that stops observing on t1 and observes on t2 keeps receiving both, and
//     nothing more comes from t1;
//   - a device that moves to t2 without a word to t1 (a load balancer moved it) and
//     observes again there receives both on t2 only;
//   - a persistent RPC queued while the device observed nowhere reaches it when it observes
//     on the other node;
//   - a token replaced on the core node is refused by both transport nodes within a second
//     (both had it cached), and the new one works on both;
//   - an OTA package uploaded on the core node is announced (fw_* attributes) to a device on
//     t1 and its image is downloaded block-wise through t1 and through t2, byte for byte.
import crypto from 'node:crypto';
import {
    section, check, checkEq, done, createDevice, setShared, tp, code, res, plain, body, api, apiOk, enc, sleep,
} from '../device_api/lib/dapi.mjs';
import { nodeDevice } from './lib/cluster.mjs';

const tok = () => crypto.randomBytes(6);
const rpcPath = (name) => `/api/devices/${enc(name)}/rpc`;

// observe(d, dv, what): GET+Observe=0 of /attributes or /rpc; returns the CoAP token.
async function observe(d, dv, what) {
    const t = tok();
    const r = await d.request({ path: tp(dv.token, what), observe: 0, token: t });
    const want = what === 'rpc' ? '2.03' : '2.05';
    check(code(r) === want && r.response.observe === 0, `${dv.name}: observe /${what} on ${d.node} -> ${want} Observe 0`, want, res(r));
    return t;
}

// attributeReaches(d, dv, t, from): sets a shared attribute (again, with a new value, for at
// most 5 tries a second apart: the node's subscription may still be on its way to the core)
// and checks the notification arrives from node `from`.
async function attributeReaches(d, dv, t, from) {
    for (let i = 1; i <= 5; ++i) {
        const value = `${from}-${i}-${crypto.randomBytes(3).toString('hex')}`;
        await setShared(dv.name, { where: value });
        const m = await d.next(t, 1000);
        if (!m) continue;
        checkEq(plain(body(m)), { where: value }, `${dv.name}: the shared attribute change arrives as a notification (try ${i})`);
        check(m.fromNode === from, `${dv.name}: the notification comes from ${from}`, from, m.fromNode);
        return;
    }
    check(false, `${dv.name}: a shared attribute change reaches the device on ${from} within 5 tries`, 'a notification', 'nothing');
}

// rpcReaches(d, dv, t, from): a two-way RPC through the admin API arrives from node `from`;
// the device's reply (sent to that node) completes it SUCCESSFUL.
async function rpcReaches(d, dv, t, from) {
    const method = `m${crypto.randomBytes(3).toString('hex')}`;
    const pending = api('POST', rpcPath(dv.name), { method, params: { node: from }, timeout: 8000 }, { timeoutMs: 15000 });
    const m = await d.next(t, 6000);
    const b = plain(body(m));
    check(b?.method === method && b?.params?.node === from, `${dv.name}: the RPC ${method} arrives`, `{"method":"${method}",...}`, m?.describe());
    check(m?.fromNode === from, `${dv.name}: the RPC comes from ${from}`, from, m?.fromNode);
    if (!b) { await pending; return; }
    const reply = await d.request({ method: 'POST', path: tp(dv.token, 'rpc', String(b.id)), payload: { answeredVia: from } });
    check(code(reply) === '2.01', `${dv.name}: the reply posted to ${from} -> 2.01`, '2.01', res(reply));
    const r = await pending;
    check(r.status === 200 && r.json?.status === 'SUCCESSFUL', `${dv.name}: the admin API answers 200 SUCCESSFUL`, '200 SUCCESSFUL', `${r.status} ${r.text}`);
    checkEq(plain(r.json?.result), { answeredVia: from }, `${dv.name}: the result is the device's reply`);
}

async function post(d, dv) {
    const r = await d.request({ method: 'POST', path: tp(dv.token, 'telemetry'), payload: { here: d.node } });
    check(code(r) === '2.01', `${dv.name}: telemetry on ${d.node} -> 2.01`, '2.01', res(r));
}

await section('an RPC and an attribute change reach devices observing on either transport node', async () => {
    for (const node of ['t2', 't1']) {
        const dv = await createDevice(`down-${node}`);
        const d = await nodeDevice(node);
        const ta = await observe(d, dv, 'attributes');
        const tr = await observe(d, dv, 'rpc');
        await attributeReaches(d, dv, ta, node);
        await rpcReaches(d, dv, tr, node);
        await d.request({ path: tp(dv.token, 'attributes'), observe: 1, token: ta });
        await d.request({ path: tp(dv.token, 'rpc'), observe: 1, token: tr });
        d.close();
    }
}, 40000);

await section('a device that stops observing on t1 and observes on t2 keeps receiving both', async () => {
    const dv = await createDevice('down-switch');
    const d = await nodeDevice('t1');
    await post(d, dv);
    let ta = await observe(d, dv, 'attributes');
    let tr = await observe(d, dv, 'rpc');
    await attributeReaches(d, dv, ta, 't1');
    await rpcReaches(d, dv, tr, 't1');
    const dereg = [await d.request({ path: tp(dv.token, 'attributes'), observe: 1, token: ta }),
        await d.request({ path: tp(dv.token, 'rpc'), observe: 1, token: tr })];
    check(dereg.every((r) => r.response), 'both observations ended on t1 (Observe=1 answered)', 'answers', dereg.map(res));
    d.moveTo('t2');
    const mark = d.log.length;
    await post(d, dv);
    ta = await observe(d, dv, 'attributes');
    tr = await observe(d, dv, 'rpc');
    await attributeReaches(d, dv, ta, 't2');
    await rpcReaches(d, dv, tr, 't2');
    await sleep(300);
    const fromT1 = d.log.slice(mark).filter((m) => m.fromNode === 't1');
    check(fromT1.length === 0, 'nothing came from t1 after the device left it', 0, fromT1.map((m) => m.describe()));
    d.close();
}, 40000);

await section('a device moved to t2 without a word to t1 receives its downlinks on t2 only', async () => {
    const dv = await createDevice('down-moved');
    const d = await nodeDevice('t1');
    let ta = await observe(d, dv, 'attributes');
    let tr = await observe(d, dv, 'rpc');
    await attributeReaches(d, dv, ta, 't1');
    d.moveTo('t2');          // t1 still holds both observations
    const mark = d.log.length;
    await post(d, dv);
    ta = await observe(d, dv, 'attributes');
    tr = await observe(d, dv, 'rpc');
    await attributeReaches(d, dv, ta, 't2');
    await rpcReaches(d, dv, tr, 't2');
    await sleep(300);
    const fromT1 = d.log.slice(mark).filter((m) => m.fromNode === 't1');
    check(fromT1.length === 0, 'nothing came from t1, which still has the old observations', 0, fromT1.map((m) => m.describe()));
    d.close();
}, 40000);

await section('a persistent RPC queued while the device observed nowhere reaches it on the other node', async () => {
    const dv = await createDevice('down-persistent');
    const d = await nodeDevice('t1');
    const t1rpc = await observe(d, dv, 'rpc');
    await d.request({ path: tp(dv.token, 'rpc'), observe: 1, token: t1rpc });
    await sleep(300);
    const q = await apiOk('POST', rpcPath(dv.name), { method: 'queued', oneway: true, persistent: true, timeout: 30000 }, [200, 202]);
    check(q?.status === 'QUEUED', 'the persistent RPC is QUEUED while nobody observes', 'QUEUED', q?.status);
    d.moveTo('t2');
    await post(d, dv);
    const tr = await observe(d, dv, 'rpc');
    const m = await d.next(tr, 6000);
    check(plain(body(m))?.method === 'queued' && m?.fromNode === 't2', 'the queued RPC arrives from t2 once the device observes there',
        '{"method":"queued"} from t2', m ? `${m.describe()} from ${m.fromNode}` : 'nothing');
    const rec = await (async () => {
        for (let i = 0; i < 30; ++i) {
            const r = (await api('GET', `${rpcPath(dv.name)}/${q?.id}`)).json;
            if (r?.status === 'SUCCESSFUL') return r;
            await sleep(100);
        }
        return (await api('GET', `${rpcPath(dv.name)}/${q?.id}`)).json;
    })();
    check(rec?.status === 'SUCCESSFUL', 'the one-way RPC, acknowledged by the device, is SUCCESSFUL', 'SUCCESSFUL', rec?.status);
    d.close();
}, 30000);

await section('a token replaced on the core node stops working on both transport nodes within a second', async () => {
    const dv = await createDevice('down-revoked');
    const d = await nodeDevice('t1');
    for (const node of ['t1', 't2']) { d.moveTo(node); await post(d, dv); }  // both nodes know the token now
    const fresh = `down-revoked-${crypto.randomBytes(8).toString('hex')}`;
    await apiOk('PUT', `/api/devices/${enc(dv.name)}/credentials`, { token: fresh }, 200);
    const t0 = Date.now();
    for (const node of ['t1', 't2']) {
        d.moveTo(node);
        let r;
        do {
            r = await d.request({ method: 'POST', path: tp(dv.token, 'telemetry'), payload: { old: 1 } });
            if (code(r) === '4.01') break;
            await sleep(50);
        } while (Date.now() - t0 < 3000);
        const ms = Date.now() - t0;
        check(code(r) === '4.01' && ms <= 1000, `${node}: the old token is refused 4.01 within a second of the change (${ms} ms)`, '4.01 within 1000 ms', `${res(r)} after ${ms} ms`);
        await post(d, { name: dv.name, token: fresh });
    }
    d.close();
});

await section('an OTA package uploaded on the core node is announced and downloaded through either node', async () => {
    const dv = await createDevice('down-ota');
    const bytes = Buffer.from(Array.from({ length: 200000 }, (_, i) => (i * 31 + (i >> 8)) & 0xff));
    const title = `fw-${crypto.randomBytes(3).toString('hex')}`;
    const pkg = await apiOk('POST', `/api/ota?title=${title}&version=1.0&type=firmware`, bytes, 201, { raw: true });
    const d = await nodeDevice('t1');
    const ta = await observe(d, dv, 'attributes');
    await sleep(300);  // the subscription on its way to the core node
    await apiOk('PUT', `/api/devices/${enc(dv.name)}/ota/firmware`, { package: pkg.id }, 200);
    const m = await d.next(ta, 5000);
    const p = plain(body(m));
    const sha = crypto.createHash('sha256').update(bytes).digest('hex');
    check(p?.fw_title === title && p?.fw_size === bytes.length && p?.fw_checksum === sha && m?.fromNode === 't1',
        'fw_title, fw_size, fw_checksum arrive on the attribute observation from t1', { fw_title: title, fw_size: bytes.length }, m?.text);
    await d.request({ path: tp(dv.token, 'attributes'), observe: 1, token: ta });
    for (const node of ['t1', 't2']) {
        d.moveTo(node);
        const t0 = Date.now();
        const { body: img, responses } = await d.getBlocks({ path: ['fw', dv.token], size: 1024, timeoutMs: 10000 });
        check(img.equals(bytes), `the image downloaded block-wise through ${node} is the upload (${responses.length} blocks, ${Date.now() - t0} ms)`,
            `${bytes.length} bytes, SHA-256 ${sha}`, `${img.length} bytes, SHA-256 ${crypto.createHash('sha256').update(img).digest('hex')}; last ${res({ response: responses.at(-1) })}`);
    }
    d.close();
}, 60000);

done();
