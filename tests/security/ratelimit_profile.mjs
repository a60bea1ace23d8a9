// A device profile overrides the per-device limits through its options, set with the admin
// API (started by ratelimit_profile_test.sh with the default limits).
import { section, check, checkEq, done, api, apiOk, createDevice, createProfile, sleep, tp, source, tally, maxAge } from './ratelimit_lib.mjs';

await section('a profile with device_message_rate=1, burst 2: its devices get 4.29 after two messages', async () => {
    await createProfile({ name: 'strict', options: { device_message_rate: 1, device_message_burst: 2 } });
    const p = await api('GET', '/api/profiles/strict');
    checkEq(p.json?.options, { device_message_rate: 1, device_message_burst: 2 }, 'the admin API shows the options');
    const strict = await createDevice('strict-dev', { profile: 'strict' });
    const normal = await createDevice('normal-dev');
    const s = await source('127.6.0.1');
    const replies = [];
    for (let i = 0; i < 6; ++i) replies.push(await s.request({ path: tp(strict.token, 'telemetry'), payload: { i } }));
    const t = tally(replies);
    console.log(`  strict: ${JSON.stringify(t)}`);
    checkEq(t['2.01'], 2, 'two pass (the profile burst)');
    checkEq(t['4.29'], 4, 'the rest is 4.29');
    check(maxAge(replies[5]) >= 1, 'with Max-Age');
    const n = [];
    for (let i = 0; i < 6; ++i) n.push(await s.request({ path: tp(normal.token, 'telemetry'), payload: { i } }));
    checkEq(tally(n)['2.01'], 6, 'a device of the default profile keeps the (generous) default limits');
    // the operator lifts the limit: the profile's devices are re-resolved at once
    await apiOk('PATCH', '/api/profiles/strict', { options: { device_message_rate: 0 } }, 200);
    await sleep(100);
    const after = [];
    for (let i = 0; i < 6; ++i) after.push(await s.request({ path: tp(strict.token, 'telemetry'), payload: { i } }));
    checkEq(tally(after)['2.01'], 6, 'after PATCH options {device_message_rate: 0} nothing is limited');
    const bad = await api('PATCH', '/api/profiles/strict', { options: { device_message_rate: 'fast' } });
    checkEq(bad.status, 400, 'a non-integer option is refused (400)');
    s.close();
});

done();
