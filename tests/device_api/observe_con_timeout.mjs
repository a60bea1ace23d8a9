// Spec §3.3: a CON notification never acknowledged (after all retransmissions) ends every
// observation of that peer (attributes and RPC), and the session closes (§10). The server
// runs with plugins.coap.ack_timeout = 200 ms and max_retransmit = 2, so the engine gives up
// within 200 * 1.5 * (1 + 2 + 4) = 2.1 s instead of ~93 s.
import { section, check, done, device, createDevice, setShared, tp, code, res, api, metric, waitFor } from './lib/dapi.mjs';
import crypto from 'node:crypto';

const sessionsOf = async (name) => ((await api('GET', '/api/sessions')).json?.sessions ?? []).filter((s) => s.device === name);

await section('§3.3 unacknowledged CON notification: both observations of the peer end, session closes', async () => {
    const d = await device();
    const { name, token } = await createDevice();
    const base = await metric('coap_observations');
    const ta = crypto.randomBytes(4), tr = crypto.randomBytes(4);
    let r = await d.request({ path: tp(token, 'attributes'), observe: 0, token: ta });
    check(code(r) === '2.05', 'attribute observation', '2.05', res(r));
    r = await d.request({ path: tp(token, 'rpc'), observe: 0, token: tr });
    check(code(r) === '2.03', 'RPC observation', '2.03', res(r));
    check(await waitFor(async () => (await metric('coap_observations')) >= base + 2, 3000), 'two observations live', base + 2, await metric('coap_observations'));
    d.setPolicy(ta, 'ignore');
    d.setPolicy(tr, 'ignore');
    await setShared(name, { a: 1 });
    const first = await d.next(ta, 3000);
    check(first?.typeName === 'CON', 'CON notification arrives (never ACKed)', 'CON', first?.describe());
    const copies = [];
    for (;;) {
        const m = await d.next(ta, 1500);
        if (!m) break;
        copies.push(m);
    }
    check(copies.length >= 1 && copies.every((m) => m.mid === first.mid), `retransmitted (${copies.length}x, same MID) and then given up`, 'same MID',
        copies.map((m) => m.mid));
    const ended = await waitFor(async () => (await metric('coap_observations')) <= base, 5000);
    check(ended, 'both observations of the peer ended', base, await metric('coap_observations'));
    const closed = await waitFor(async () => (await sessionsOf(name)).length === 0, 3000);
    check(closed, 'the session closed', 'none', await sessionsOf(name));
    await setShared(name, { a: 2 });
    const later = await d.next(ta, 1500);
    check(later === null, 'no notification afterwards', 'nothing', later?.describe());
    d.close();
});

done();
