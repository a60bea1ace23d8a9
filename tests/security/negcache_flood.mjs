// A flood of made-up access tokens from many loopback addresses reaches the core at most
// once per token per shard and unknown_token_cache_ttl; a token created meanwhile works at
// once (the core announces new credentials). Started by negcache_flood_test.sh with 2 shards,
// unknown_token_cache_ttl=1500.
import { section, check, checkEq, done, createDevice, metric, sleep, tp, source, tally, newToken } from './ratelimit_lib.mjs';

const SHARDS = 2;
const tokens = Array.from({ length: 40 }, () => newToken());
const addresses = Array.from({ length: 10 }, (_, i) => `127.4.${i}.${i + 1}`);

await section('each made-up token reaches the core at most once per shard within the TTL', async () => {
    const lookups0 = await metric('device_api_authentications_total', ['result="unknown"']);
    const coreMiss0 = await metric('core_auth_cache_misses_total');
    const hits0 = await metric('device_api_auth_cache_hits_total', ['cache="unknown_token"']);
    const sources = await Promise.all(addresses.map((a) => source(a)));
    const replies = [];
    const t0 = Date.now();
    // every address sends every token twice; addresses run side by side
    await Promise.all(sources.map(async (s) => {
        for (let round = 0; round < 2; ++round)
            for (const t of tokens) replies.push(await s.request({ path: tp(t, 'telemetry'), payload: { a: 1 } }));
    }));
    const elapsed = Date.now() - t0;
    const t = tally(replies);
    const lookups = await metric('device_api_authentications_total', ['result="unknown"']) - lookups0;
    const coreMiss = await metric('core_auth_cache_misses_total') - coreMiss0;
    const hits = await metric('device_api_auth_cache_hits_total', ['cache="unknown_token"']) - hits0;
    console.log(`  ${replies.length} requests in ${elapsed} ms: ${JSON.stringify(t)}; core lookups ${lookups}, core misses ${coreMiss}, negative hits ${hits}`);
    checkEq(t['4.01'], replies.length, 'every request is answered 4.01');
    check(elapsed < 1500, 'the flood took less than the TTL (else the bound below does not apply)', '< 1500 ms', elapsed);
    check(lookups >= tokens.length && lookups <= tokens.length * SHARDS, 'unknown-token lookups in the core: once per token and shard',
        `${tokens.length}..${tokens.length * SHARDS}`, lookups);
    check(coreMiss <= tokens.length * SHARDS, 'the core read its database as often at most', `<= ${tokens.length * SHARDS}`, coreMiss);
    checkEq(hits, replies.length - lookups, 'the rest was answered from the negative cache');
    for (const s of sources) s.close();
});

await section('after the TTL a token is asked again; a token created meanwhile works at once', async () => {
    const s = await source('127.4.0.1');
    const lookups0 = await metric('device_api_authentications_total', ['result="unknown"']);
    checkEq((await s.request({ path: tp(tokens[0], 'telemetry'), payload: { a: 1 } }))?.codeText, '4.01', 'still remembered: 4.01');
    checkEq(await metric('device_api_authentications_total', ['result="unknown"']) - lookups0, 0, 'without asking the core');
    await sleep(1700);
    checkEq((await s.request({ path: tp(tokens[0], 'telemetry'), payload: { a: 1 } }))?.codeText, '4.01', 'after the TTL: 4.01');
    checkEq(await metric('device_api_authentications_total', ['result="unknown"']) - lookups0, 1, 'asked the core once more');
    // remembered as unknown a moment ago; the operator creates a device with it now
    const fresh = tokens[1];
    checkEq((await s.request({ path: tp(fresh, 'telemetry'), payload: { a: 1 } }))?.codeText, '4.01', 'not a device yet');
    await createDevice('late', { token: fresh });
    // the core announces the new credentials; every shard forgets its unknown tokens
    let r = null;
    for (let i = 0; i < 10; ++i) {
        r = await s.request({ path: tp(fresh, 'telemetry'), payload: { a: 1 } });
        if (r?.codeText === '2.01') break;
        await sleep(20);
    }
    checkEq(r?.codeText, '2.01', 'the new device is served well within the TTL');
    s.close();
});

done();
