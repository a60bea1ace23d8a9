// eDRX (docs/device-api.md §9): inside the paging transmission window after an uplink every
// downlink goes at once; outside it exactly one downlink (the first after the last uplink) is
// still sent, the rest are held until the next uplink, then delivered (merged, RPC in order).
// The device does not answer outside its window (an ACK would prove it awake: a new window).
// Each uplink starts a new window and allows a new single downlink after it.
import {
    section, check, checkEq, done, sleeper, createDevice, uniqueName, setShared, body, plain, sleep,
    sendRpc, rpcStatus, waitRpcStatus, rpcIds, describeAll, distinctMids, observations,
} from './lib/sleeper.mjs';

const W = 1500;  // the device's paging_transmission_window (ms)

await section('E_DRX inside the paging window: every downlink at once', async () => {
    const d = await sleeper();
    const { name, token } = await createDevice(uniqueName('edrx-in'), { power: { mode: 'E_DRX', pagingTransmissionWindow: 5000 } });
    const ta = await d.observe(token, 'attributes');
    await d.uplink(token, { t: 1 });
    const got = [];
    for (let i = 1; i <= 3; ++i) {
        await setShared(name, { i });
        got.push(plain(body(await d.next(ta, 2000))));
    }
    checkEq(got, [{ i: 1 }, { i: 2 }, { i: 3 }], 'three changes, three notifications, each at once');
    d.close();
});

await section('E_DRX outside the window: exactly one downlink, the rest held until the uplink', async () => {
    const d = await sleeper();
    const { name, token } = await createDevice(uniqueName('edrx-out'), { power: { mode: 'E_DRX', pagingTransmissionWindow: W } });
    const obs0 = await observations();
    const ta = await d.observe(token, 'attributes');
    const tr = await d.observe(token, 'rpc');
    await d.uplink(token, { t: 1 });
    d.silent();
    await sleep(W + 700);  // outside the window

    const m0 = d.mark();
    await setShared(name, { e: 1 });
    await sleep(3000);  // its retransmissions end within 2.1 s
    await setShared(name, { e: 2, f: true });
    const r = await sendRpc(name, { method: 'edrx', params: null });
    await setShared(name, { g: 3 });
    await sleep(2000);
    const sent = d.since(m0);
    check(distinctMids(sent) === 1, `exactly one downlink outside the window (${sent.length} datagrams, retransmissions included)`, 1, describeAll(sent));
    checkEq(plain(body(sent[0])), { e: 1 }, 'the first one after the last uplink');
    check(await rpcStatus(name, r.id) === 'QUEUED', 'the RPC waits (QUEUED)', 'QUEUED', await rpcStatus(name, r.id));
    check(await observations() === obs0 + 2, 'its observations stay', obs0 + 2, await observations());

    d.awake();
    const up = Date.now();
    await d.uplink(token, { t: 2 });
    const an = await d.next(ta, 3000);
    const q = await d.next(tr, 3000);
    checkEq(plain(body(an)), { e: 2, f: true, g: 3 }, 'on the uplink: the held changes, merged');
    checkEq(rpcIds([q]), [r.id], 'and the RPC');
    check(an && q && Math.max(an.at, q.at) - up < 2500, 'right after the uplink (< 2.5 s)', '< 2.5 s', [an?.at - up, q?.at - up]);
    await d.answerRpc(token, q);
    check(await waitRpcStatus(name, r.id, 'SUCCESSFUL'), 'the RPC ends SUCCESSFUL', 'SUCCESSFUL', await rpcStatus(name, r.id));

    // the uplink started a new window: outside it, one downlink again
    d.silent();
    await sleep(W + 700);
    const m2 = d.mark();
    await setShared(name, { h: 1 });
    await sleep(2600);
    await setShared(name, { h: 2 });
    await sleep(800);
    const again = d.since(m2);
    check(distinctMids(again) === 1 && plain(body(again[0]))?.h === 1, 'after the next uplink, outside the new window: one downlink again',
        '{"h":1} once', describeAll(again));
    d.close();
}, 40000);

done();
