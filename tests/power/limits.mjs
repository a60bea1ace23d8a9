// The bounds of what is held for a sleeping device (device_api settings; this server runs with
// max_pending_rpcs = 3 and max_pending_update_bytes = 64):
// - five RPCs made while a PSM device sleeps: the two oldest end FAILED, visible through the
//   admin API and `tern rpc NAME --get ID`, the three newest are delivered in order on wake;
// - changes past 64 bytes while it sleeps: the held values give way to a read of every shared
//   attribute on wake; the device then has every current value and every deletion, nothing
//   lost.
import {
    section, check, checkEq, done, sleeper, createDevice, uniqueName, sleep, sendRpc, getRpc, rpcStatus,
    waitRpcStatus, rpcIds, describeAll, waitFor, setShared, deleteShared, body, plain, metric,
    tern,
} from './lib/sleeper.mjs';

const T = 1500, MAX_RPCS = 3;

await section(`PSM: past max_pending_rpcs (${MAX_RPCS}) the oldest held RPC ends FAILED`, async () => {
    const d = await sleeper();
    const { name, token } = await createDevice(uniqueName('psm-limits'), { power: { mode: 'PSM', psmActivityTimer: T } });
    const tr = await d.observe(token, 'rpc');
    await d.uplink(token, { t: 1 });
    d.silent();
    await sleep(T + 700);
    const m0 = d.mark();
    const rs = [];
    for (let i = 1; i <= 5; ++i) rs.push(await sendRpc(name, { method: `m${i}`, params: { i } }));
    const failed = await waitFor(async () => (await rpcStatus(name, rs[0].id)) === 'FAILED' && (await rpcStatus(name, rs[1].id)) === 'FAILED', 5000);
    check(failed, 'the two oldest end FAILED', ['FAILED', 'FAILED'], [await getRpc(name, rs[0].id), await getRpc(name, rs[1].id)]);
    const err = (await getRpc(name, rs[0].id))?.error ?? '';
    check(/max_pending_rpcs/.test(JSON.stringify(err)), 'with an error that names the bound', 'max_pending_rpcs', err);
    const { out } = tern('rpc', name, '--get', String(rs[0].id));
    check(/FAILED/.test(out), '`tern rpc NAME --get ID` shows FAILED', 'FAILED', out);
    check(await metric('device_api_held_limit_total', ['limit="max_pending_rpcs"']) === 2, 'metrics: the bound was hit twice', 2,
        await metric('device_api_held_limit_total', ['limit="max_pending_rpcs"']));
    const rest = [];
    for (const r of rs.slice(2)) rest.push(await rpcStatus(name, r.id));
    checkEq(rest, ['QUEUED', 'QUEUED', 'QUEUED'], 'the three newest wait');
    check(d.datagramsSince(m0) === 0, 'nothing was sent to the sleeping device', 0, describeAll(d.since(m0)));

    d.awake();
    await d.uplink(token, { t: 2 });
    const got = [];
    for (let i = 0; i < 3; ++i) {
        const q = await d.next(tr, 3000);
        got.push(q);
        if (q) await d.answerRpc(token, q, { i });
    }
    checkEq(rpcIds(got), rs.slice(2).map((r) => r.id), 'on wake: the three newest, in order');
    const more = await d.next(tr, 800);
    check(more === null, 'the failed ones never arrive', 'nothing', more?.describe());
    let ok = true;
    for (const r of rs.slice(2)) ok = (await waitRpcStatus(name, r.id, 'SUCCESSFUL')) && ok;
    check(ok, 'the three end SUCCESSFUL', 'SUCCESSFUL x3', await Promise.all(rs.slice(2).map((r) => rpcStatus(name, r.id))));
    d.close();
}, 30000);

await section('PSM: past max_pending_update_bytes (64) every shared attribute is sent on wake, deletions too', async () => {
    const d = await sleeper();
    const { name, token } = await createDevice(uniqueName('psm-bytes'), { power: { mode: 'PSM', psmActivityTimer: T } });
    await setShared(name, { keep: 1, old: 'x' });
    const ta = await d.observe(token, 'attributes');
    await d.uplink(token, { t: 1 });
    d.silent();
    await sleep(T + 700);
    const m0 = d.mark();
    const big1 = 'a'.repeat(40), big2 = 'b'.repeat(40);
    await setShared(name, { big1 });
    await deleteShared(name, ['old']);
    await setShared(name, { big2, n: 5 });
    await setShared(name, { n: 6 });
    await sleep(1000);
    check(d.datagramsSince(m0) === 0, 'nothing was sent to the sleeping device', 0, describeAll(d.since(m0)));
    check(await metric('device_api_held_limit_total', ['limit="max_pending_update_bytes"']) >= 1, 'metrics: the bound was hit', '>= 1',
        await metric('device_api_held_limit_total', ['limit="max_pending_update_bytes"']));

    d.awake();
    await d.uplink(token, { t: 2 });
    // what the device knows after applying every notification it gets, in order
    const known = { keep: 1, old: 'x' };
    const got = [];
    for (;;) {
        const m = await d.next(ta, got.length ? 1000 : 3000);
        if (!m) break;
        got.push(m);
        const b = plain(body(m)) ?? {};
        for (const k of b.deleted ?? []) delete known[k];
        for (const [k, v] of Object.entries(b)) if (k !== 'deleted') known[k] = v;
    }
    check(got.length >= 1 && got.length <= 2, `one or two notifications on wake (${got.length})`, '1..2', describeAll(got));
    checkEq(known, { keep: 1, big1, big2, n: 6 }, 'the device ends with every current value; old deleted');
    d.close();
}, 30000);

done();
