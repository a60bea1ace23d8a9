// The bounds of what is held for a sleeping device (device_api settings, this server runs with
// max_pending_rpcs = 3): five RPCs made while a PSM device sleeps: the two oldest end FAILED,
// visible through the admin API and `tern rpc NAME --get ID`, the three newest are delivered
// in order on wake.
import {
    section, check, checkEq, done, sleeper, createDevice, uniqueName, sleep, sendRpc, getRpc, rpcStatus,
    waitRpcStatus, rpcIds, describeAll, waitFor,
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

done();
