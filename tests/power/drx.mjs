// DRX devices and devices without a power mode are never held (docs/device-api.md §9): long
// after their last uplink (past any window) every change and every RPC goes to them at once,
// as before power saving existed.
import {
    section, check, checkEq, done, sleeper, createDevice, uniqueName, setShared, body, plain, sleep,
    sendRpc, waitRpcStatus, rpcStatus, rpcIds,
} from './lib/sleeper.mjs';

for (const [what, power] of [['DRX', { mode: 'DRX', pagingTransmissionWindow: 1000, psmActivityTimer: 1000 }], ['no power mode', undefined]]) {
    await section(`${what}: everything at once, long after the last uplink`, async () => {
        const d = await sleeper();
        const { name, token } = await createDevice(uniqueName('drx'), power ? { power } : {});
        const ta = await d.observe(token, 'attributes');
        const tr = await d.observe(token, 'rpc');
        await d.uplink(token, { t: 1 });
        await sleep(1800);  // past the 1 s window and timer a sleeping mode would use
        const t0 = Date.now();
        const got = [];
        for (let i = 1; i <= 3; ++i) {
            await setShared(name, { i });
            got.push(plain(body(await d.next(ta, 2000))));
        }
        checkEq(got, [{ i: 1 }, { i: 2 }, { i: 3 }], 'three changes: three notifications, each at once');
        const r = await sendRpc(name, { method: 'now', params: { x: 1 } });
        const q = await d.next(tr, 2000);
        checkEq(rpcIds([q]), [r.id], 'the RPC at once');
        check(Date.now() - t0 < 8000, 'all within 8 s (each one at once, above), no uplink needed', '< 8 s', Date.now() - t0);
        await d.answerRpc(token, q);
        check(await waitRpcStatus(name, r.id, 'SUCCESSFUL'), 'the RPC ends SUCCESSFUL', 'SUCCESSFUL', await rpcStatus(name, r.id));
        d.close();
    });
}

done();
