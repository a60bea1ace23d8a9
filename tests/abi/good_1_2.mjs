// A power policy built against the frozen ABI 1.2 headers (fixtures/good_1_2.cpp: one
// downlink after each uplink) decides the devices whose profile names its mode, in the real
// device API, ahead of the power plugin's policy of the same name (the first in manifest
// order decides). A device of that profile observes attributes and RPC and:
//   1. gets the first change at once (awake: one downlink), and nothing after it: a second
//      change and an RPC are held although the device answers everything;
//   2. its uplink wakes it: exactly one downlink, the held change; the RPC still waits;
//   3. its next uplink: the RPC, whose reply ends it SUCCESSFUL.
// run by run_good_1_2.sh, which passes the mode in GOOD_1_2_MODE.
import {
    section, check, checkEq, done, sleeper, createDevice, createProfile, uniqueName, setShared, body, plain, sleep,
    sendRpc, rpcStatus, waitRpcStatus, describeAll,
} from '../power/lib/sleeper.mjs';

const mode = process.env.GOOD_1_2_MODE;

await section(`a vendor's policy decides mode ${mode}: one downlink after each uplink`, async () => {
    const d = await sleeper();
    const profile = uniqueName('good-1-2');
    await createProfile({ name: profile, power: { mode } });
    const { name, token } = await createDevice(uniqueName('class-a'), { profile });
    const ta = await d.observe(token, 'attributes');
    const tr = await d.observe(token, 'rpc');

    // 1. awake: one downlink goes, the next ones wait (the device answers all the while)
    await setShared(name, { a: 1 });
    const first = await d.next(ta, 3000);
    checkEq(plain(body(first)), { a: 1 }, 'awake: the first change arrives at once');
    const m0 = d.mark();
    await setShared(name, { a: 2 });
    const r = await sendRpc(name, { method: 'ping', params: { n: 1 } });
    await sleep(1500);
    check(d.datagramsSince(m0) === 0, 'after its one downlink: a second change and an RPC are held (no datagram)', 0,
        describeAll(d.since(m0)));
    check(await rpcStatus(name, r.id) === 'QUEUED', 'the RPC waits (QUEUED)', 'QUEUED', await rpcStatus(name, r.id));

    // 2. an uplink wakes it: one downlink again, the held change; the RPC stays held
    const m1 = d.mark();
    await d.uplink(token, { t: 1 });
    const second = await d.next(ta, 3000);
    checkEq(plain(body(second)), { a: 2 }, 'its uplink woke it: the held change arrives');
    const early = await d.next(tr, 1500);
    check(early === null, 'and only that: the RPC waits for the next uplink', 'nothing', early?.describe());
    checkEq(d.since(m1).filter((m) => m.type === 0).length, 1, 'one CON downlink after the uplink');

    // 3. the next uplink: the RPC
    await d.uplink(token, { t: 2 });
    const q = await d.next(tr, 3000);
    checkEq(plain(body(q))?.method, 'ping', 'the next uplink: the RPC arrives');
    await d.answerRpc(token, q, { pong: 1 });
    check(await waitRpcStatus(name, r.id, 'SUCCESSFUL'), 'its reply ends it SUCCESSFUL', 'SUCCESSFUL',
        await rpcStatus(name, r.id));
    d.close();
}, 30000);

done();
