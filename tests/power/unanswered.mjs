// A PSM device inside its activity window gets a CON notification and does not answer it (its
// radio went off early). The engine retransmits it a bounded number of times (counted: the
// original and at most max_retransmit copies, one MID) and then gives up WITHOUT ending the
// device's observations (they are sent with KEEP_ON_TIMEOUT): the device counts as asleep, so
// a later change and an RPC are held (nothing more is sent), and all of it is delivered after
// its next uplink over the same observations.
import {
    section, check, checkEq, done, sleeper, createDevice, uniqueName, setShared, body, plain, sleep,
    sendRpc, rpcStatus, waitRpcStatus, rpcIds, describeAll, distinctMids, observations,
} from './lib/sleeper.mjs';

const MAX_RETRANSMIT = 2;  // run_power_test.sh: plugins.coap.max_retransmit=2, ack_timeout=200

await section('PSM, unanswered CON inside the window: observations kept, the rest held until the uplink', async () => {
    const d = await sleeper();
    const { name, token } = await createDevice(uniqueName('psm-unanswered'), { power: { mode: 'PSM', psmActivityTimer: 30000 } });
    const obs0 = await observations();
    const ta = await d.observe(token, 'attributes');
    const tr = await d.observe(token, 'rpc');
    await d.uplink(token, { t: 1 });
    d.silent();

    const m0 = d.mark();
    await setShared(name, { u: 1 });
    await sleep(3500);  // 200 ms * 1.5 * (1 + 2 + 4) = 2.1 s at most until the engine gives up
    const tries = d.since(m0);
    check(tries.length >= 1 && tries.length <= 1 + MAX_RETRANSMIT && distinctMids(tries) === 1,
        `the notification and its retransmissions only (${tries.length} datagrams, one MID, at most ${1 + MAX_RETRANSMIT})`,
        `1..${1 + MAX_RETRANSMIT}`, describeAll(tries));
    checkEq(plain(body(tries[0])), { u: 1 }, 'it was the change');
    check(await observations() === obs0 + 2, 'the timeout did not end its observations', obs0 + 2, await observations());

    const m1 = d.mark();
    await setShared(name, { u: 2, v: 'x' });
    const r = await sendRpc(name, { method: 'afterTimeout', params: { k: 1 } });
    await sleep(2000);
    check(d.datagramsSince(m1) === 0, 'asleep after the timeout: the next change and the RPC are held (no datagram)', 0, describeAll(d.since(m1)));
    check(await rpcStatus(name, r.id) === 'QUEUED', 'the RPC waits (QUEUED)', 'QUEUED', await rpcStatus(name, r.id));

    d.awake();
    const up = Date.now();
    await d.uplink(token, { t: 2 });
    const an = await d.next(ta, 3000);
    const q = await d.next(tr, 3000);
    checkEq(plain(body(an)), { u: 2, v: 'x' }, 'on wake: the undelivered change merged with the newer one');
    checkEq(rpcIds([q]), [r.id], 'on wake: the RPC');
    check(an && q && Math.max(an.at, q.at) - up < 2500, 'right after the uplink (< 2.5 s)', '< 2.5 s', [an?.at - up, q?.at - up]);
    await d.answerRpc(token, q, { fine: true });
    check(await waitRpcStatus(name, r.id, 'SUCCESSFUL'), 'the RPC ends SUCCESSFUL', 'SUCCESSFUL', await rpcStatus(name, r.id));
    const more = await d.next(ta, 800);
    check(more === null, 'nothing else on the attribute observation', 'nothing', more?.describe());
    check(await observations() === obs0 + 2, 'the same two observations', obs0 + 2, await observations());
    d.close();
}, 40000);

done();
