// A flood of provisioning requests with wrong secrets from 200 loopback addresses costs no
// write (counted by the core's ops-per-commit histogram) while a victim device keeps being
// served; one address past its budget gets 4.29. Started by provision_flood_test.sh
// (activity flushes off, so the victim's telemetry is the only write).
import { section, check, checkEq, done, api, createDevice, createProfile, metric, sleep, tp, source, tally, maxAge } from './ratelimit_lib.mjs';

const writes = () => metric('core_ops_per_commit_sum');

await createProfile({ name: 'fleet', provision: { strategy: 'allow-create', key: 'fleet-key', secret: 'fleet-secret' } });
const victim = await createDevice('victim');
const base = Date.now() - 3600000;

await section('wrong secrets from 200 addresses: NOT_FOUND, no write; the victim is served throughout', async () => {
    const w0 = await writes();
    const flood = [];
    for (let a = 0; a < 200; ++a) flood.push(`127.5.${a >> 6}.${(a & 63) + 1}`);
    const sources = await Promise.all(flood.map((a) => source(a)));
    const victimSock = await source('127.0.0.1');
    let stop = false;
    const victimReplies = [];
    const victimLoop = (async () => {
        for (let seq = 0; !stop; ++seq) {
            victimReplies.push(await victimSock.request({ path: tp(victim.token, 'telemetry'), payload: { ts: base + seq, values: { seq } } }));
            await sleep(20);
        }
    })();
    const replies = [];
    const t0 = Date.now();
    await Promise.all(sources.map(async (s, i) => {
        for (let k = 0; k < 5; ++k) {
            const secret = k % 2 === 0 ? 'fleet-secreT' : `guess-${i}-${k}`;
            replies.push(await s.request({ path: ['api', 'v1', 'provision'], payload: { deviceName: `evil-${i}-${k}`, provisionDeviceKey: k === 4 ? 'no-such-key' : 'fleet-key', provisionDeviceSecret: secret } }));
        }
    }));
    const elapsed = Date.now() - t0;
    await sleep(200);
    stop = true;
    await victimLoop;
    const t = tally(replies);
    const v = tally(victimReplies);
    const written = await writes() - w0;
    console.log(`  flood: ${replies.length} requests in ${elapsed} ms: ${JSON.stringify(t)}; victim: ${JSON.stringify(v)}; write ops: ${written}`);
    checkEq(t['4.00'], replies.length, 'every wrong secret or key is answered 4.00');
    check(replies.every((r) => r && /"status":"NOT_FOUND"/.test(r.text)), 'with status NOT_FOUND');
    check(victimReplies.length >= 5, 'the victim sent all along', '>= 5', victimReplies.length);
    checkEq(v['2.01'], victimReplies.length, 'every victim message got 2.01');
    checkEq(written, v['2.01'], 'the only writes were the victim\'s messages (the flood wrote nothing)');
    const devices = await api('GET', '/api/devices');
    check(!/evil-/.test(devices.text), 'no device was created by the flood');
    for (const s of sources) s.close();
    victimSock.close();
});

await section('one address past its source budget gets 4.29 with Max-Age before any work', async () => {
    const s = await source('127.5.9.9');
    const replies = [];
    for (let k = 0; k < 130; ++k)
        replies.push(await s.request({ path: ['api', 'v1', 'provision'], payload: { provisionDeviceKey: 'fleet-key', provisionDeviceSecret: 'wrong' } }));
    const t = tally(replies);
    console.log(`  130 from one address: ${JSON.stringify(t)}`);
    check((t['4.29'] ?? 0) >= 25, 'past the burst (100): 4.29', '>= 25', t['4.29']);
    check(maxAge(replies.find((r) => r?.codeText === '4.29')) >= 1, 'with Max-Age');
    check(await metric('device_api_rate_limited_total', ['limit="source_provision"']) >= t['4.29'],
        'device_api_rate_limited_total{limit="source_provision"}');
    s.close();
});

await section('the right secret still provisions (one write)', async () => {
    const s = await source('127.5.10.1');
    const w0 = await writes();
    const r = await s.request({ path: ['api', 'v1', 'provision'], payload: { deviceName: 'good', provisionDeviceKey: 'fleet-key', provisionDeviceSecret: 'fleet-secret' } });
    checkEq(r?.codeText, '2.01', '2.01');
    check(/"status":"SUCCESS"/.test(r?.text ?? ''), 'SUCCESS', 'SUCCESS', r?.text);
    await sleep(100);
    checkEq(await writes() - w0, 1, 'one write op');
    s.close();
});

done();
