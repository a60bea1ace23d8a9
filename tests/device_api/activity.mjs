// Spec §0.7 and §10: a device is active only for real traffic (uplinks, ACKs of its
// notifications), not forever while an observation exists (ThingsBoard issue #12406).
// Observed through the admin API: GET /api/sessions (lastActivityTime, kept in memory) and
// the server attribute lastActivityTime (written every activity_flush_interval; the server
// runs with 200 ms). ThingsBoard reports every 3 s regardless of traffic, so silences here
// last longer than that.
import {
    section, check, done, device, createDevice, setShared, tp, code, res, api, attributes, waitFor, sleep, plain,
} from './lib/dapi.mjs';
import crypto from 'node:crypto';

const QUIET_MS = 4500;
const d = await device();
const session = async (name) => ((await api('GET', '/api/sessions')).json?.sessions ?? []).find((s) => s.device === name);
const serverActivity = async (name) => plain((await attributes(name, 'server')).lastActivityTime);

await section('§0.7 activity follows uplinks and notification ACKs only', async () => {
    const { name, token } = await createDevice();
    check((await session(name)) === undefined, 'no session before any observation', 'none', await session(name));
    const t = crypto.randomBytes(4);
    const tObs = Date.now();
    const r = await d.request({ path: tp(token, 'attributes'), observe: 0, token: t });
    check(code(r) === '2.05', 'device observes its attributes', '2.05', res(r));
    const s0 = await waitFor(() => session(name), 3000);
    check(s0 && s0.transport && s0.address && s0.address.includes(String(d.port)), 'a session is listed, with transport and the device\'s address',
        `address ...:${d.port}`, s0);
    await sleep(600);
    const l0 = (await session(name))?.lastActivityTime;
    const a0 = await serverActivity(name);
    check(typeof l0 === 'number' && l0 >= tObs - 50, 'lastActivityTime set by the registration (an uplink)', `>= ${tObs}`, l0);

    await sleep(QUIET_MS);
    const l1 = (await session(name))?.lastActivityTime;
    const a1 = await serverActivity(name);
    check(l1 === l0, `no activity during ${QUIET_MS} ms of silence with a live observation (session)`, l0, l1);
    check(a1 === a0, 'nor in the stored server attribute lastActivityTime', a0, a1);

    const tUp = Date.now();
    const p = await d.request({ method: 'POST', path: tp(token, 'telemetry'), payload: { x: 1 } });
    check(code(p) === '2.01', 'uplink: POST telemetry', '2.01', res(p));
    const l2 = await waitFor(async () => { const v = (await session(name))?.lastActivityTime; return v > l1 ? v : 0; }, 5000);
    check(l2 >= tUp - 50, 'the uplink moves lastActivityTime', `>= ${tUp}`, l2 || (await session(name))?.lastActivityTime);
    const a2 = await waitFor(async () => { const v = await serverActivity(name); return v > (a1 ?? 0) ? v : 0; }, 3000);
    check(a2 >= tUp - 50, 'and the stored server attribute lastActivityTime', `>= ${tUp}`, a2 || await serverActivity(name));

    await sleep(QUIET_MS);
    const l3 = (await session(name))?.lastActivityTime;
    check(l3 === (l2 || l3), `silence again for ${QUIET_MS} ms: unchanged`, l2, l3);

    const tAck = Date.now();
    await setShared(name, { poke: 1 });
    const n = await d.next(t, 3000);
    check(n?.answered === 'ack', 'a CON notification, ACKed by the device', 'ACK', n?.describe());
    const l4 = await waitFor(async () => { const v = (await session(name))?.lastActivityTime; return v > l3 ? v : 0; }, 5000);
    check(l4 >= tAck - 50, 'the ACK of the notification moves lastActivityTime', `>= ${tAck}`, l4 || (await session(name))?.lastActivityTime);

    await d.request({ path: tp(token, 'attributes'), observe: 1, token: t });
    const gone = await waitFor(async () => (await session(name)) === undefined, 3000);
    check(gone, 'deregistration closes the session', 'no session', await session(name));
    const both = await waitFor(async () => {
        const srv = await attributes(name, 'server');
        return typeof plain(srv.lastConnectTime) === 'number' && typeof plain(srv.lastDisconnectTime) === 'number';
    }, 3000);
    check(both, 'lastConnectTime and lastDisconnectTime stored', 'both', await attributes(name, 'server'));
});

await section('§0.7 a NON notification is not activity; a one-shot uplink without observation is', async () => {
    const { name, token } = await createDevice();
    const t = crypto.randomBytes(4);
    await d.request({ path: tp(token, 'attributes'), observe: 0, token: t, type: 1 });
    await sleep(600);
    const l0 = (await session(name))?.lastActivityTime;
    await sleep(3200);
    await setShared(name, { poke: 1 });
    const n = await d.next(t, 3000);
    check(n?.typeName === 'NON', 'NON notification received', 'NON', n?.describe());
    await sleep(1500);
    const l1 = (await session(name))?.lastActivityTime;
    check(l1 === l0, 'a NON notification (no ACK) is no activity', l0, l1);
    await d.request({ path: tp(token, 'attributes'), observe: 1, token: t, type: 1 });

    const other = await createDevice();
    const tUp = Date.now();
    await d.request({ method: 'POST', path: tp(other.token, 'telemetry'), payload: { y: 1 } });
    const a = await waitFor(async () => serverActivity(other.name), 4000);
    check(a >= tUp - 50, 'an uplink of a device without observation is stored as lastActivityTime', `>= ${tUp}`, a);
});

d.close();
done();
