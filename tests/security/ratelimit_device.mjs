// Per-device message and data point limits, and the per-source limit of unknown-token
// lookups, against the real tern (started by ratelimit_device_test.sh with
// device_message_rate=5, device_message_burst=10, device_datapoint_rate=100,
// device_datapoint_burst=100, source_rate=2, source_burst=5).
import { section, check, checkEq, done, createDevice, storedCount, telemetry, metric, sleep, tp, source, maxAge, tally, newToken } from './ratelimit_lib.mjs';

const base = Date.now() - 3600000;  // client timestamps: no two messages share a ts

const flooder = await createDevice('flooder');
const victim = await createDevice('victim');

await section('a device over its message limit gets 4.29 with Max-Age, nothing stored', async () => {
    const s = await source('127.0.0.1');
    const limitedBefore = await metric('device_api_rate_limited_total', ['limit="device_messages"']);
    const replies = [];
    for (let i = 0; i < 40; ++i) replies.push(await s.request({ path: tp(flooder.token, 'telemetry'), payload: { ts: base + i, values: { seq: i } } }));
    const t = tally(replies);
    console.log(`  40 messages at once: ${JSON.stringify(t)}`);
    check((t['2.01'] ?? 0) >= 10 && (t['2.01'] ?? 0) <= 14, 'about the burst (10) passes', '10..14', t['2.01']);
    check((t['4.29'] ?? 0) >= 26, 'the rest is 4.29', '>= 26', t['4.29']);
    const limited = replies.find((r) => r?.codeText === '4.29');
    check(limited && maxAge(limited) >= 1 && maxAge(limited) <= 2, '4.29 carries Max-Age (1 s at 5/s)', '1..2', maxAge(limited));
    check(limited && /rate limit/.test(limited.text), '4.29 says why', 'rate limit', limited?.text);
    checkEq((await telemetry(flooder.name, ['seq'])).seq?.length ?? 0, t['2.01'], 'exactly the accepted messages are stored');
    checkEq(await metric('device_api_rate_limited_total', ['limit="device_messages"']) - limitedBefore, t['4.29'],
        'device_api_rate_limited_total{limit="device_messages"} counts them');
    // another device on the same address is not limited
    const v = await s.request({ path: tp(victim.token, 'telemetry'), payload: { ok: 1 } });
    checkEq(v?.codeText, '2.01', 'another device is served meanwhile');
    // it recovers after Max-Age
    await sleep(maxAge(limited) * 1000 + 100);
    const again = await s.request({ path: tp(flooder.token, 'telemetry'), payload: { ts: base + 1000, values: { seq: 1000 } } });
    checkEq(again?.codeText, '2.01', 'after Max-Age seconds the device is served again');
    s.close();
});

await section('the data point limit refuses a whole message; one over the burst passes on a full bucket', async () => {
    const d = await createDevice('points');
    const s = await source('127.0.0.2');
    const big = {};
    for (let i = 0; i < 150; ++i) big[`k${i}`] = i;
    const first = await s.request({ path: tp(d.token, 'telemetry'), payload: big });
    checkEq(first?.codeText, '2.01', '150 points on a full bucket of 100 pass');
    const next = await s.request({ path: tp(d.token, 'telemetry'), payload: { a: 1 } });
    checkEq(next?.codeText, '4.29', 'the next message waits off the debt');
    check(maxAge(next) >= 1, 'with Max-Age', '>= 1', maxAge(next));
    checkEq(await storedCount(d.name), 150, 'nothing of the refused message is stored');
    check(await metric('device_api_rate_limited_total', ['limit="device_datapoints"']) >= 1,
        'device_api_rate_limited_total{limit="device_datapoints"}');
    s.close();
});

await section('unknown tokens from one address: the source budget, then 4.29 without asking the core', async () => {
    const s = await source('127.0.9.1');
    const coreBefore = await metric('device_api_authentications_total', ['result="unknown"']);
    const replies = [];
    for (let i = 0; i < 15; ++i) replies.push(await s.request({ path: tp(newToken(), 'telemetry'), payload: {} }));
    const t = tally(replies);
    console.log(`  15 made-up tokens: ${JSON.stringify(t)}`);
    check((t['4.01'] ?? 0) >= 5 && (t['4.01'] ?? 0) <= 7, 'the burst (5) is looked up: 4.01', '5..7', t['4.01']);
    check((t['4.29'] ?? 0) >= 8, 'the rest: 4.29', '>= 8', t['4.29']);
    checkEq(await metric('device_api_authentications_total', ['result="unknown"']) - coreBefore, t['4.01'],
        'only the 4.01 ones reached the core');
    check(maxAge(replies.find((r) => r?.codeText === '4.29')) >= 1, '4.29 carries Max-Age');
    // a device behind another address is not affected, nor a cached device on this one
    const other = await source('127.0.9.2');
    checkEq((await other.request({ path: tp(victim.token, 'telemetry'), payload: { a: 1 } }))?.codeText, '2.01',
        'another address is served');
    other.close();
    s.close();
});

done();
