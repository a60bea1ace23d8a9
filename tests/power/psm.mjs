// A PSM device (docs/device-api.md §9) observes attributes and RPC (CON), posts telemetry and
// goes silent. While it sleeps an operator changes shared attributes three times (one key
// twice, one key set and then deleted, one old key deleted) and sends two RPCs: nothing at all
// is sent to it (datagrams counted). Its next uplink wakes it: ONE merged attribute
// notification (newest value per key, every deleted key as deleted) and the two RPCs in order
// arrive right after the uplink, over the observations it made before sleeping; its replies
// end the RPCs SUCCESSFUL.
import {
    section, check, checkEq, done, sleeper, createDevice, uniqueName, setShared, deleteShared, body, plain, sleep,
    sendRpc, rpcStatus, waitRpcStatus, rpcIds, describeAll, observations, api, enc, tern, metric, waitFor, encode, ACK,
} from './lib/sleeper.mjs';

const T = 1500;  // the device's psm_activity_timer (ms)

await section('PSM: held while asleep, merged and in order on wake, observations kept', async () => {
    const d = await sleeper();
    const { name, token } = await createDevice(uniqueName('psm'), { power: { mode: 'PSM', psmActivityTimer: T } });
    await setShared(name, { keep: 1, gone: 'old' });
    const obs0 = await observations();
    const ta = await d.observe(token, 'attributes');
    const tr = await d.observe(token, 'rpc');
    check(await observations() === obs0 + 2, 'two observations live', obs0 + 2, await observations());
    await d.uplink(token, { t: 1 });
    d.silent();
    await sleep(T + 700);  // its activity timer has passed: asleep

    const m0 = d.mark();
    await setShared(name, { a: 1, b: 'x' });
    await setShared(name, { a: 2 });
    await deleteShared(name, ['b', 'gone']);
    const r1 = await sendRpc(name, { method: 'first', params: { n: 1 } });
    const r2 = await sendRpc(name, { method: 'second', params: { n: 2 } });
    await sleep(2500);
    const asleep = d.since(m0);
    check(d.datagramsSince(m0) === 0, 'no datagram at all is sent to the sleeping device (3 changes, 2 RPCs)', 0, describeAll(asleep));
    const st = [await rpcStatus(name, r1.id), await rpcStatus(name, r2.id)];
    check(st.every((s) => s === 'QUEUED'), 'both RPCs wait (QUEUED: not sent, not timed out)', ['QUEUED', 'QUEUED'], st);
    check(await observations() === obs0 + 2, 'its observations stay while it sleeps', obs0 + 2, await observations());
    check(await metric('device_api_power_devices', ['state="asleep"']) >= 1 && await metric('device_api_held_rpcs') >= 2,
        'metrics: a device asleep, 2 RPCs held', '>= 1, >= 2',
        [await metric('device_api_power_devices', ['state="asleep"']), await metric('device_api_held_rpcs')]);
    const wakes0 = await metric('device_api_wake_delivery_seconds_count');
    const pw = (await api('GET', `/api/devices/${enc(name)}`)).json?.power;
    check(pw?.state === 'asleep' && pw?.pendingRpcs?.count === 2, 'admin API: power state asleep, 2 pending RPCs', 'asleep, 2',
        { state: pw?.state, pendingRpcs: pw?.pendingRpcs });
    const show = tern('device', 'show', name).out;
    check(/power state: asleep/.test(show) && /pending rpcs: 2/.test(show), '`tern device show` prints the state and what is pending',
        'power state: asleep / pending rpcs: 2', show);

    d.awake();
    d.setPolicy(tr, 'ignore');  // its first RPC is acknowledged by hand, 600 ms late
    const m1 = d.mark();
    await d.uplink(token, { t: 2 });
    const an = await d.next(ta, 3000);
    const q1 = await d.next(tr, 3000);
    const other = (m) => m.code !== 0 && m.token.equals(tr) && m.mid !== q1?.mid;
    const early = await d.receive(other, 600);
    check(early === null, 'one CON in flight on the RPC observation: the second RPC waits for the first one\'s ACK', 'nothing', early?.describe());
    await d.sendRaw(encode({ type: ACK, code: 0, mid: q1?.mid ?? 0 }));
    d.setPolicy(tr, 'ack');
    const q2 = await d.receive(other, 3000);
    const up = m1.at;
    const b = plain(body(an));
    if (b?.deleted) b.deleted.sort();
    checkEq(b, { a: 2, deleted: ['b', 'gone'] }, 'one merged attribute notification: a=2 (newer wins), b and gone deleted');
    check(an?.type === 0 && an?.observe > 0, 'a CON notification on the observation made before sleeping', 'CON Observe>0', an?.describe());
    checkEq(rpcIds([q1, q2]), [r1.id, r2.id], 'the two RPCs, in the order they were made');
    checkEq([q1, q2].map((m) => plain(body(m))?.method), ['first', 'second'], 'their methods');
    const late = [an, q1, q2].filter((m) => !m || m.at - up > 3000).length;
    check(late === 0, 'all three right after the uplink (< 3 s, the 600 ms ACK delay included)', 0, describeAll(d.since(m1)));
    const more = await d.next(ta, 1000);
    check(more === null, 'exactly one attribute notification (nothing more follows)', 'nothing', more?.describe());
    await d.answerRpc(token, q1, { done: 1 });
    await d.answerRpc(token, q2, { done: 2 });
    const ok = await waitRpcStatus(name, r1.id, 'SUCCESSFUL') && await waitRpcStatus(name, r2.id, 'SUCCESSFUL');
    check(ok, 'both RPCs end SUCCESSFUL', 'SUCCESSFUL x2', [await rpcStatus(name, r1.id), await rpcStatus(name, r2.id)]);

    check(await waitFor(async () => (await metric('device_api_wake_delivery_seconds_count')) > wakes0, 2000),
        'metrics: the wake-to-delivery latency was observed', `> ${wakes0}`, await metric('device_api_wake_delivery_seconds_count'));
    const after = (await api('GET', `/api/devices/${enc(name)}`)).json?.power;
    check(after?.state === 'awake' && after?.pendingRpcs?.count === 0, 'admin API: awake, nothing pending', 'awake, 0',
        { state: after?.state, pendingRpcs: after?.pendingRpcs });

    // the same observations go on working: no re-registration
    await setShared(name, { c: 3 });
    const n = await d.next(ta, 3000);
    checkEq(plain(body(n)), { c: 3 }, 'awake again: the next change arrives at once on the same observation');
    check(await observations() === obs0 + 2, 'still the same two observations', obs0 + 2, await observations());
    d.close();
}, 40000);

done();
