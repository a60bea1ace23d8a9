// Spec §4.1 (server-side RPC) and §3 for the RPC observation: an operator sends an RPC
// through the admin API, the device gets it on its /rpc observation, replies, and the admin
// API shows the result.
import {
    section, check, checkEq, done, device, createDevice, tp, code, res, checkError, plain, body, api, apiOk, enc,
    waitFor, sleep, CON, NON, ACK, setShared, encode,
} from './lib/dapi.mjs';
import crypto from 'node:crypto';

const tok = () => crypto.randomBytes(6);
const rpcPath = (name) => `/api/devices/${enc(name)}/rpc`;
const getRpc = async (name, id) => (await api('GET', `${rpcPath(name)}/${id}`)).json;

// subscribe(dev, token): GET+Observe=0 /rpc; returns {r, t}.
async function subscribe(dev, token, opts = {}) {
    const t = tok();
    const r = await dev.request({ path: tp(token, 'rpc'), observe: 0, token: t, ...opts });
    return { r, t };
}

await section('§3.1 RPC observation: 2.03 Valid, Observe 0, empty payload', async () => {
    const d = await device();
    const { token } = await createDevice();
    const { r, t } = await subscribe(d, token);
    check(code(r) === '2.03' && r.response.observe === 0 && r.response.payload.length === 0,
        'GET+Observe=0 /api/v1/T/rpc -> 2.03 Observe 0, no payload', '2.03 Observe=0 empty', res(r));
    const plainGet = await d.request({ path: tp(token, 'rpc') });
    const dereg = await d.request({ path: tp(token, 'rpc'), observe: 1, token: t });
    check(dereg.response && dereg.response.observe === undefined && code(dereg) === code(plainGet),
        'Observe=1 -> the answer of a plain GET of /rpc (§0.3), without Observe', code(plainGet), res(dereg));
    d.close();
});

await section('§4.1 two-way RPC: notification, device reply, result in the admin API', async () => {
    const d = await device();
    const { name, token } = await createDevice();
    const { t } = await subscribe(d, token);
    const pending = api('POST', rpcPath(name), { method: 'setGpio', params: { pin: 4, value: 1 }, timeout: 10000 }, { timeoutMs: 20000 });
    const m = await d.next(t, 5000);
    check(m?.codeText === '2.05' && m.type === CON, 'RPC arrives as a CON 2.05 notification', 'CON 2.05', m?.describe());
    check(m?.observe === 1, 'Observe 1', 1, m?.observe);
    check(m?.contentFormat === 50, 'Content-Format 50', 50, m?.contentFormat);
    const b = plain(body(m));
    check(b && Number.isInteger(b.id) && b.method === 'setGpio' && JSON.stringify(b.params) === '{"pin":4,"value":1}' &&
        Object.keys(b).sort().join() === 'id,method,params', 'payload {"id":N,"method":"setGpio","params":{"pin":4,"value":1}}',
        '{"id":N,"method":"setGpio","params":{"pin":4,"value":1}}', m?.text);
    const reply = await d.request({ method: 'POST', path: tp(token, 'rpc', String(b?.id)), payload: { result: 'ok', level: 3 } });
    check(code(reply) === '2.01' && reply.response.payload.length === 0 && reply.piggybacked, 'POST /api/v1/T/rpc/{id} -> 2.01 (piggy-backed)', '2.01', res(reply));
    const done_ = await pending;
    check(done_.status === 200 && done_.json?.status === 'SUCCESSFUL', 'admin POST rpc -> 200 SUCCESSFUL', '200 SUCCESSFUL', `${done_.status} ${done_.text}`);
    checkEq(plain(done_.json?.result), { result: 'ok', level: 3 }, 'the result is the device\'s reply');
    const rec = await getRpc(name, b?.id);
    check(rec?.status === 'SUCCESSFUL' && JSON.stringify(rec.result) === '{"result":"ok","level":3}', 'GET rpc/{id} shows SUCCESSFUL with the result',
        'SUCCESSFUL', rec);
    await d.request({ path: tp(token, 'rpc'), observe: 1, token: t });
    d.close();
});

await section('§3.2 RPC params: empty -> null, a string stays a string; ids increase', async () => {
    const d = await device();
    const { name, token } = await createDevice();
    const { t } = await subscribe(d, token);
    const a = await apiOk('POST', rpcPath(name), { method: 'reboot', oneway: true, wait: false }, [200, 202]);
    const m1 = await d.next(t, 5000);
    const b1 = plain(body(m1));
    check(b1?.method === 'reboot' && b1.params === null && 'params' in b1, 'no params -> "params":null', '{"id":..,"method":"reboot","params":null}', m1?.text);
    await apiOk('POST', rpcPath(name), { method: 'say', params: 'hello', oneway: true, wait: false }, [200, 202]);
    const m2 = await d.next(t, 5000);
    const b2 = plain(body(m2));
    check(b2?.params === 'hello', 'string params stay a JSON string', '"params":"hello"', m2?.text);
    check(b2?.id > b1?.id && m2.observe > m1.observe, 'ids and Observe numbers increase', `> ${b1?.id}`, b2?.id);
    const done1 = await waitFor(async () => (await getRpc(name, a.id))?.status === 'SUCCESSFUL', 3000);
    check(done1, 'one-way RPC ACKed by the device -> SUCCESSFUL', 'SUCCESSFUL', (await getRpc(name, a.id))?.status);
    await d.request({ path: tp(token, 'rpc'), observe: 1, token: t });
    d.close();
});

await section('§4.1 one-way RPC over a NON observation: NON notification, delivered at once', async () => {
    const d = await device();
    const { name, token } = await createDevice();
    const { r, t } = await subscribe(d, token, { type: NON });
    check(code(r) === '2.03' && r.response.type === NON, 'NON registration -> NON 2.03', 'NON 2.03', res(r));
    const x = await api('POST', rpcPath(name), { method: 'blink', oneway: true, timeout: 5000 }, { timeoutMs: 10000 });
    const m = await d.next(t, 5000);
    check(m?.type === NON && plain(body(m))?.method === 'blink', 'NON notification with the RPC', 'NON blink', m?.describe());
    check(x.status === 200 && x.json?.status === 'SUCCESSFUL', 'admin: 200 SUCCESSFUL', '200 SUCCESSFUL', `${x.status} ${x.text}`);
    await d.request({ path: tp(token, 'rpc'), observe: 1, token: t, type: NON });
    d.close();
});

await section('§4.1 a persistent RPC sent before the device subscribes is delivered after it does', async () => {
    const d = await device();
    const { name, token } = await createDevice();
    const q = await apiOk('POST', rpcPath(name), { method: 'setConfig', params: { period: 60 }, persistent: true, timeout: 60000 }, [200, 202]);
    check(q?.status === 'QUEUED', 'admin: 202 QUEUED', 'QUEUED', q);
    await sleep(300);
    const { r, t } = await subscribe(d, token);
    check(code(r) === '2.03', 'device subscribes -> 2.03', '2.03', res(r));
    const m = await d.next(t, 5000);
    const b = plain(body(m));
    check(b?.id === q?.id && b?.method === 'setConfig' && JSON.stringify(b?.params) === '{"period":60}', 'the queued RPC arrives', `id ${q?.id} setConfig`, m?.describe());
    const reply = await d.request({ method: 'POST', path: tp(token, 'rpc', String(b?.id)), payload: { applied: true } });
    check(code(reply) === '2.01', 'reply -> 2.01', '2.01', res(reply));
    const ok = await waitFor(async () => (await getRpc(name, q?.id))?.status === 'SUCCESSFUL', 3000);
    const rec = await getRpc(name, q?.id);
    check(ok && JSON.stringify(rec?.result) === '{"applied":true}', 'admin: SUCCESSFUL with the result', 'SUCCESSFUL {"applied":true}', rec);
    await d.request({ path: tp(token, 'rpc'), observe: 1, token: t });
    d.close();
});

await section('§1.3/§4.1 a reply that is not a JSON object -> 5.00 with a diagnostic, RPC not completed', async () => {
    const d = await device();
    const { name, token } = await createDevice();
    const { t } = await subscribe(d, token);
    const q = await apiOk('POST', rpcPath(name), { method: 'm', timeout: 20000, wait: false }, [200, 202]);
    const m = await d.next(t, 5000);
    const id = plain(body(m))?.id;
    check(id === q?.id, 'RPC arrived', q?.id, id);
    for (const [payload, what] of [['[1,2]', 'an array'], ['"text"', 'a string'], ['{"a":', 'bad JSON'], ['7', 'a number']]) {
        const r = await d.request({ method: 'POST', path: tp(token, 'rpc', String(id)), payload: Buffer.from(payload) });
        checkError(r, '5.00', `reply ${payload} (${what})`);
    }
    const rec = await getRpc(name, id);
    check(rec?.status !== 'SUCCESSFUL' && rec?.result == null, 'the RPC is not completed by them', 'not SUCCESSFUL', rec);
    const r = await d.request({ method: 'POST', path: tp(token, 'rpc', String(id)), payload: { fine: 1 } });
    check(code(r) === '2.01', 'an object reply then -> 2.01', '2.01', res(r));
    const ok = await waitFor(async () => (await getRpc(name, id))?.status === 'SUCCESSFUL', 3000);
    check(ok, 'and completes it', 'SUCCESSFUL', (await getRpc(name, id))?.status);
    await d.request({ path: tp(token, 'rpc'), observe: 1, token: t });
    d.close();
});

await section('§4.1.3 a CON RPC notification nobody ACKs -> TIMEOUT after the paging window', async () => {
    const d = await device();
    const { name, token } = await createDevice(undefined, { power: { mode: 'DRX', pagingTransmissionWindow: 1500 } });
    const { t } = await subscribe(d, token);
    d.setPolicy(t, 'ignore');
    const t0 = Date.now();
    const x = api('POST', rpcPath(name), { method: 'slow', timeout: 15000 }, { timeoutMs: 20000 });
    const m = await d.next(t, 5000);
    check(m?.type === CON, 'RPC notification arrives (not ACKed)', 'CON', m?.describe());
    const r = await x;
    const rec = await getRpc(name, plain(body(m))?.id);
    const took = Date.now() - t0;
    check(rec?.status === 'TIMEOUT' && took < 6000, `admin: TIMEOUT after ${took} ms: the 1.5 s paging window, not the 15 s expiry`,
        'TIMEOUT in ~1.5 s', `${rec?.status} after ${took} ms (admin ${r.status})`);
    d.close();
});

await section('§4.1.3 a persistent RPC is SENT once its CON notification went out, DELIVERED/SUCCESSFUL on the ACK', async () => {
    const d = await device();
    const { name, token } = await createDevice();
    const { t } = await subscribe(d, token);
    d.setPolicy(t, 'ignore');
    const q = await apiOk('POST', rpcPath(name), { method: 'persist', oneway: true, persistent: true, timeout: 60000 }, [200, 202]);
    const m = await d.next(t, 5000);
    check(plain(body(m))?.id === q?.id, 'notification arrives (held unacknowledged)', q?.id, m?.describe());
    const sent = await waitFor(async () => (await getRpc(name, q?.id))?.status === 'SENT', 2000, 50);
    check(sent, 'admin: SENT while unacknowledged', 'SENT', (await getRpc(name, q?.id))?.status);
    await d.sendRaw(encode({ type: ACK, code: 0, mid: m.mid }));
    const ok = await waitFor(async () => ['DELIVERED', 'SUCCESSFUL'].includes((await getRpc(name, q?.id))?.status), 3000, 50);
    check(ok, 'after the ACK: DELIVERED (one-way: SUCCESSFUL)', 'SUCCESSFUL', (await getRpc(name, q?.id))?.status);
    d.close();
});

await section('§4.1 twenty devices, concurrent two-way RPCs, each answered by its device', async () => {
    const devs = await Promise.all(Array.from({ length: 20 }, async () => ({ d: await device(), ...(await createDevice()) })));
    for (const x of devs) x.sub = await subscribe(x.d, x.token);
    check(devs.every((x) => code(x.sub.r) === '2.03'), 'all subscribed', '2.03 x20', devs.map((x) => code(x.sub.r)));
    const calls = devs.map((x, i) => api('POST', rpcPath(x.name), { method: 'whoAmI', params: { i }, timeout: 10000 }, { timeoutMs: 20000 }));
    await Promise.all(devs.map(async (x, i) => {
        const m = await x.d.next(x.sub.t, 8000);
        const b = plain(body(m));
        x.gotOwn = b?.params?.i === i;
        if (b) await x.d.request({ method: 'POST', path: tp(x.token, 'rpc', String(b.id)), payload: { name: x.name, i: b.params?.i } });
    }));
    check(devs.every((x) => x.gotOwn), 'each device got its own RPC', 20, devs.filter((x) => x.gotOwn).length);
    const results = await Promise.all(calls);
    const ok = results.filter((r, i) => r.status === 200 && r.json?.result?.name === devs[i].name && r.json?.result?.i === i).length;
    check(ok === 20, 'each admin call completed with its own device\'s reply', 20, results.map((r) => `${r.status} ${r.text.slice(0, 80)}`));
    devs.forEach((x) => x.d.close());
});

await section('§3.2 attribute and RPC observations count their Observe numbers separately', async () => {
    const d = await device();
    const { name, token } = await createDevice();
    const ta = tok();
    await d.request({ path: tp(token, 'attributes'), observe: 0, token: ta });
    const { t } = await subscribe(d, token);
    for (let i = 0; i < 3; ++i) {
        await setShared(name, { i });
        await d.next(ta, 3000);
    }
    await apiOk('POST', rpcPath(name), { method: 'x', oneway: true, wait: false }, [200, 202]);
    const m = await d.next(t, 5000);
    check(m?.observe === 1, 'first RPC notification has Observe 1 after three attribute notifications', 1, m?.describe());
    await d.request({ path: tp(token, 'rpc'), observe: 1, token: t });
    await d.request({ path: tp(token, 'attributes'), observe: 1, token: ta });
    d.close();
});

done();
