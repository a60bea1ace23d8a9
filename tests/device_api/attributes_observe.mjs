// Spec §3 (Observe of shared attributes), §0.2 (notifications never dropped, deltas merged),
// §0.3 (Observe=1 gets a real answer), §10 (session open/close): a device observes
// /api/v1/{token}/attributes, an operator changes shared attributes through the admin API.
import {
    section, check, checkEq, done, device, createDevice, setShared, deleteShared, tp, code, res, typeOf, plain, body,
    api, enc, waitFor, metric, sleep, CON, NON, ACK, RST, encode,
} from './lib/dapi.mjs';
import crypto from 'node:crypto';

const tok = () => crypto.randomBytes(6);
const sessionsOf = async (name) => ((await api('GET', '/api/sessions')).json?.sessions ?? []).filter((s) => s.device === name);

await section('§3.1 registration: 2.05, Observe 0, every shared attribute (flat), Content-Format 50', async () => {
    const d = await device();
    const { name, token } = await createDevice();
    await setShared(name, '{"a":1,"b":"x","c":42.0,"j":{"k":[1,2]}}'); // 42.0 written out: a double
    await api('POST', `/api/devices/${enc(name)}/attributes/server`, { srv: 1 });
    await d.request({ method: 'POST', path: tp(token, 'attributes'), payload: { cl: 1 } });
    const r = await d.request({ path: tp(token, 'attributes'), observe: 0, token: tok() });
    check(code(r) === '2.05' && r.response.observe === 0, 'GET+Observe=0 attributes -> 2.05 Observe 0', '2.05 Observe=0', res(r));
    check(r.piggybacked, 'piggy-backed in the ACK (§0.1)', 'ACK', r.response?.typeName);
    check(r.response?.contentFormat === 50, 'Content-Format 50', 50, r.response?.contentFormat);
    const b = body(r.response);
    checkEq(plain(b), { a: 1, b: 'x', c: 42, j: { k: [1, 2] } }, 'payload: the shared attributes only, flat');
    check(typeOf(b?.c) === 'DOUBLE' && typeOf(b?.a) === 'LONG' && typeOf(b?.j) === 'JSON', 'values keep their types (42.0 double, 1 long, JSON embedded)',
        'c DOUBLE, a LONG, j JSON', b);
    await d.request({ path: tp(token, 'attributes'), observe: 1, token: r.token });

    const e = await createDevice();
    const r2 = await d.request({ path: tp(e.token, 'attributes'), observe: 0 });
    check(code(r2) === '2.05' && r2.response.observe === 0 && r2.response.text === '{}', 'no shared attributes: 2.05 Observe 0 {}', '2.05 {}', res(r2));
    await d.request({ path: tp(e.token, 'attributes'), observe: 1, token: r2.token });
    const r3 = await d.request({ path: tp(e.token, 'attributes', 'updates'), observe: 0 });
    check(code(r3) === '2.05' && r3.response.observe === 0, 'GET+Observe /api/v1/T/attributes/updates (extra segments) -> 2.05 Observe 0', '2.05', res(r3));
    await d.request({ path: tp(e.token, 'attributes', 'updates'), observe: 1, token: r3.token });
    d.close();
});

await section('§3.2 notifications: changed keys only, "deleted", increasing Observe, CON for a CON registration', async () => {
    const d = await device();
    const { name, token } = await createDevice();
    await setShared(name, { a: 1, b: 'x', j: { z: 1 } });
    const t = tok();
    const r = await d.request({ path: tp(token, 'attributes'), observe: 0, token: t });
    check(code(r) === '2.05', 'registered', '2.05', res(r));
    const seen = [];
    await setShared(name, { a: 2, n: 'new' });
    let m = await d.next(t, 3000);
    seen.push(m);
    check(m?.codeText === '2.05' && m.type === CON, 'update -> CON 2.05 notification', 'CON 2.05', m?.describe());
    checkEq(plain(body(m)), { a: 2, n: 'new' }, 'payload: the changed keys only');
    check(m?.contentFormat === 50, 'Content-Format 50', 50, m?.contentFormat);
    check(m?.observe === 1, 'Observe 1 (0 was the registration)', 1, m?.observe);
    await deleteShared(name, ['j']);
    m = await d.next(t, 3000);
    seen.push(m);
    checkEq(plain(body(m)), { deleted: ['j'] }, 'deletion -> {"deleted":["j"]}');
    check(m?.observe === 2, 'Observe 2', 2, m?.observe);
    await setShared(name, { dbl: 2.5, obj: { q: [1] } });
    m = await d.next(t, 3000);
    seen.push(m);
    const b = body(m);
    check(typeOf(b?.dbl) === 'DOUBLE' && typeOf(b?.obj) === 'JSON', 'typed values (2.5 double, JSON embedded)', '{"dbl":2.5,"obj":{"q":[1]}}', m?.text);
    check(seen.every((x) => x && x.answered === 'ack' && x.has(6)), 'every notification carries Observe (and was ACKed)', 'Observe option', seen.map((x) => x?.describe()));
    const obs = seen.map((x) => x?.observe);
    check(obs.every((v, i) => i === 0 || v > obs[i - 1]), 'Observe numbers increase', 'increasing', obs);
    // server-scope changes and the device's own client attributes are not notified
    await api('POST', `/api/devices/${enc(name)}/attributes/server`, { srv: 2 });
    await d.request({ method: 'POST', path: tp(token, 'attributes'), payload: { mine: 1 } });
    m = await d.next(t, 1000);
    check(m === null, 'server-scope and client attributes are not notified', 'nothing', m?.describe());
    await d.request({ path: tp(token, 'attributes'), observe: 1, token: t });
    d.close();
});

await section('§3.2 a NON registration gets NON notifications', async () => {
    const d = await device();
    const { name, token } = await createDevice();
    const t = tok();
    const r = await d.request({ path: tp(token, 'attributes'), observe: 0, token: t, type: NON });
    check(code(r) === '2.05' && r.response.type === NON && r.response.observe === 0, 'NON GET+Observe -> NON 2.05 Observe 0', 'NON 2.05', res(r));
    await setShared(name, { v: 1 });
    const m = await d.next(t, 3000);
    check(m?.type === NON && m.codeText === '2.05', 'notification is NON', 'NON 2.05', m?.describe());
    checkEq(plain(body(m)), { v: 1 }, 'payload');
    await d.request({ path: tp(token, 'attributes'), observe: 1, token: t, type: NON });
    d.close();
});

await section('§0.3 Observe=1 gets the answer of a plain GET, without Observe, and ends the relation; §10 session closes', async () => {
    const d = await device();
    const { name, token } = await createDevice();
    await setShared(name, { a: 1 });
    const t = tok();
    const r = await d.request({ path: tp(token, 'attributes'), observe: 0, token: t });
    check(code(r) === '2.05', 'registered', '2.05', res(r));
    const open = await waitFor(async () => (await sessionsOf(name)).length > 0, 3000);
    check(open, 'the admin API lists a session for the device (§10 OPEN)', 'a session', await sessionsOf(name));
    const plainGet = await d.request({ path: tp(token, 'attributes') });
    const dereg = await d.request({ path: tp(token, 'attributes'), observe: 1, token: t });
    check(dereg.response !== null && dereg.response.observe === undefined, 'Observe=1 -> a response without Observe', 'response, no Observe', res(dereg));
    check(code(dereg) === code(plainGet) && dereg.response?.text === plainGet.response?.text,
        'same code and payload as a plain GET', res(plainGet), res(dereg));
    await setShared(name, { a: 2 });
    const m = await d.next(t, 1500);
    check(m === null, 'no notification after deregistration', 'nothing', m?.describe());
    const closed = await waitFor(async () => (await sessionsOf(name)).length === 0, 3000);
    check(closed, 'the session is gone once no observation remains (§10 CLOSE)', 'no session', await sessionsOf(name));
    d.close();
});

await section('§3.1 a new token replaces the observation (old one gets 2.02); same token re-registers', async () => {
    const d = await device();
    const { name, token } = await createDevice();
    await setShared(name, { a: 1 });
    const t1 = tok(), t2 = tok();
    await d.request({ path: tp(token, 'attributes'), observe: 0, token: t1 });
    const r2 = await d.request({ path: tp(token, 'attributes'), observe: 0, token: t2 });
    check(code(r2) === '2.05' && r2.response.observe === 0, 'second registration (new token) -> 2.05 Observe 0', '2.05', res(r2));
    checkEq(plain(body(r2.response)), { a: 1 }, 'with every shared attribute');
    const gone = await d.next(t1, 2000);
    check(gone?.codeText === '2.02', 'the replaced observation gets 2.02 Deleted', '2.02', gone?.describe());
    await setShared(name, { a: 2 });
    const n2 = await d.next(t2, 3000);
    checkEq(plain(body(n2)), { a: 2 }, 'the update goes to the new token');
    const n1 = await d.next(t1, 800);
    check(n1 === null, 'nothing more on the old token', 'nothing', n1?.describe());

    // another peer (another port) registering for the same device replaces it too
    const other = await device();
    const t3 = tok();
    const r3 = await other.request({ path: tp(token, 'attributes'), observe: 0, token: t3 });
    check(code(r3) === '2.05', 'registration from another port -> 2.05', '2.05', res(r3));
    const gone2 = await d.next(t2, 2000);
    check(gone2?.codeText === '2.02', 'the first peer\'s observation gets 2.02 Deleted', '2.02', gone2?.describe());
    await setShared(name, { a: 3 });
    const n3 = await other.next(t3, 3000);
    checkEq(plain(body(n3)), { a: 3 }, 'the update goes to the new peer');

    // re-registration with the same identity: a fresh initial response, one relation
    const again = await other.request({ path: tp(token, 'attributes'), observe: 0, token: t3 });
    check(code(again) === '2.05' && again.response.observe !== undefined, 're-registration (same token) -> fresh 2.05 with Observe', '2.05', res(again));
    checkEq(plain(body(again.response)), { a: 3 }, 'fresh initial payload: every shared attribute');
    await setShared(name, { a: 4 });
    const n4 = await other.next(t3, 3000);
    const dup = await other.next(t3, 800);
    check(n4 && dup === null && n4.observe > again.response.observe, 'one notification after re-registration, Observe above the re-registration\'s',
        'one, newer', `${n4?.describe()} / ${dup?.describe()}`);
    await other.request({ path: tp(token, 'attributes'), observe: 1, token: t3 });
    d.close();
    other.close();
});

await section('§3.3 RST in reply to a notification cancels the observation', async () => {
    const d = await device();
    const { name, token } = await createDevice();
    const t = tok();
    d.setPolicy(t, 'rst');
    await d.request({ path: tp(token, 'attributes'), observe: 0, token: t });
    await setShared(name, { a: 1 });
    const m = await d.next(t, 3000);
    check(m?.codeText === '2.05' && m.answered === 'rst', 'notification answered with RST', 'RST sent', m?.describe());
    await sleep(300);
    await setShared(name, { a: 2 });
    const m2 = await d.next(t, 1500);
    check(m2 === null, 'no notification after the RST', 'nothing', m2?.describe());
    const closed = await waitFor(async () => (await sessionsOf(name)).length === 0, 3000);
    check(closed, 'session closed', 'no session', await sessionsOf(name));
    d.close();
});

await section('§0.2 CON notifications one at a time; deltas merged, never lost', async () => {
    const d = await device();
    const { name, token } = await createDevice();
    const t = tok();
    d.setPolicy(t, 'ignore'); // hold the first notification unacknowledged
    await d.request({ path: tp(token, 'attributes'), observe: 0, token: t });
    await setShared(name, { k0: 0 });
    const first = await d.next(t, 3000);
    check(first?.codeText === '2.05', 'first notification arrives (not ACKed yet)', '2.05', first?.describe());
    await setShared(name, { k1: 1 });
    await setShared(name, { k2: 2 });
    await setShared(name, { k1: 11 });
    await deleteShared(name, ['k0']);
    const early = await d.next(t, 700);
    check(early === null || early.mid === first.mid, 'nothing new while the first is unacknowledged (one in flight)', 'nothing or a retransmission',
        early?.describe());
    d.setPolicy(t, 'ack');
    await d.sendRaw(encode({ type: ACK, code: 0, mid: first.mid }));
    const state = plain(body(first)) ?? {};
    const rest = [];
    for (;;) {
        const m = await d.next(t, 1500);
        if (!m) break;
        if (m.mid === first.mid) continue; // a retransmission of the first
        rest.push(m);
        const b = plain(body(m)) ?? {};
        for (const [k, v] of Object.entries(b)) if (k !== 'deleted') state[k] = v;
        for (const k of b.deleted ?? []) delete state[k];
    }
    check(rest.length >= 1, `queued updates delivered after the ACK (${rest.length} notification(s))`, '>= 1', rest.map((m) => m.describe()));
    checkEq(state, { k1: 11, k2: 2 }, 'applying the notifications in order gives the final shared state (newer wins, deletion kept)');
    const obs = [first, ...rest].map((m) => m.observe);
    check(obs.every((v, i) => i === 0 || v > obs[i - 1]), 'Observe numbers increase', 'increasing', obs);
    await d.request({ path: tp(token, 'attributes'), observe: 1, token: t });
    d.close();
});

await section('§3 twenty devices on their own ports (both shards): each gets its own notifications', async () => {
    const devs = await Promise.all(Array.from({ length: 20 }, async () => ({ d: await device(), ...(await createDevice()), t: tok() })));
    const regs = await Promise.all(devs.map((x) => x.d.request({ path: tp(x.token, 'attributes'), observe: 0, token: x.t })));
    check(regs.every((r) => code(r) === '2.05'), 'all registered', '2.05 x20', regs.map(code));
    await Promise.all(devs.map((x, i) => setShared(x.name, { who: x.name, i })));
    const got = await Promise.all(devs.map((x) => x.d.next(x.t, 5000)));
    const ok = got.filter((m, i) => plain(body(m))?.who === devs[i].name && plain(body(m))?.i === i).length;
    check(ok === 20, 'every device got exactly its own update', 20, got.map((m) => m?.text));
    const extra = await Promise.all(devs.map((x) => x.d.next(x.t, 300)));
    check(extra.every((m) => m === null), 'and nothing else', 'nothing', extra.filter(Boolean).map((m) => m.describe()));
    await Promise.all(devs.map((x) => x.d.request({ path: tp(x.token, 'attributes'), observe: 1, token: x.t })));
    devs.forEach((x) => x.d.close());
});

await section('§3.3 deleting the device cancels its observations', async () => {
    const d = await device();
    const { name, token } = await createDevice();
    const before = await metric('coap_observations');
    await d.request({ path: tp(token, 'attributes'), observe: 0, token: tok() });
    await d.request({ path: tp(token, 'rpc'), observe: 0, token: tok() });
    const up = await waitFor(async () => (await metric('coap_observations')) >= before + 2, 3000);
    check(up, 'two observations live', before + 2, await metric('coap_observations'));
    await api('DELETE', `/api/devices/${enc(name)}`);
    const down = await waitFor(async () => (await metric('coap_observations')) <= before, 5000);
    check(down, 'both observations ended after the device was deleted', before, await metric('coap_observations'));
    const closed = await waitFor(async () => (await sessionsOf(name)).length === 0, 3000);
    check(closed, 'no session left', 'none', await sessionsOf(name));
    d.close();
});

done();
