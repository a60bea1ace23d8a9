// An RPC whose expiration passes while its PSM device sleeps ends EXPIRED (admin API and the
// `tern rpc NAME --get ID` command) and is never delivered, not even after the device wakes;
// an RPC made at the same time with a long expiration is delivered on wake.
import {
    section, check, checkEq, done, sleeper, createDevice, uniqueName, sleep, sendRpc, rpcStatus, waitRpcStatus,
    rpcIds, describeAll, waitFor,
    tern,
} from './lib/sleeper.mjs';

const T = 1500;

await section('PSM: an RPC expiring during sleep ends EXPIRED and is never delivered', async () => {
    const d = await sleeper();
    const { name, token } = await createDevice(uniqueName('psm-expiry'), { power: { mode: 'PSM', psmActivityTimer: T } });
    const tr = await d.observe(token, 'rpc');
    await d.uplink(token, { t: 1 });
    d.silent();
    await sleep(T + 700);
    const m0 = d.mark();
    const short = await sendRpc(name, { method: 'short', timeout: 1500 });
    const long = await sendRpc(name, { method: 'long', timeout: 30000 });
    const expired = await waitFor(async () => (await rpcStatus(name, short.id)) === 'EXPIRED', 5000, 100);
    check(expired, 'the short RPC ends EXPIRED while the device sleeps', 'EXPIRED', await rpcStatus(name, short.id));
    const { out } = tern('rpc', name, '--get', String(short.id));
    check(/EXPIRED/.test(out), '`tern rpc NAME --get ID` shows EXPIRED', 'EXPIRED', out);
    check(d.datagramsSince(m0) === 0, 'nothing was sent to the sleeping device', 0, describeAll(d.since(m0)));

    d.awake();
    const m1 = d.mark();
    await d.uplink(token, { t: 2 });
    const q = await d.next(tr, 3000);
    checkEq(rpcIds([q]), [long.id], 'on wake: the unexpired RPC only');
    await d.answerRpc(token, q);
    await sleep(1000);
    const rpcs = d.since(m1).filter((m) => m.token.equals(tr));
    check(rpcs.length === 1, 'the expired one never arrives', 1, describeAll(rpcs));
    check(await waitRpcStatus(name, long.id, 'SUCCESSFUL'), 'the long one ends SUCCESSFUL', 'SUCCESSFUL', await rpcStatus(name, long.id));
    check(await rpcStatus(name, short.id) === 'EXPIRED', 'the short one stays EXPIRED', 'EXPIRED', await rpcStatus(name, short.id));
    d.close();
}, 30000);

done();
