// The profile's telemetry schema swapped while devices post (docs/device-api.md §8: compiled
// once per profile revision, an update applies without a restart). DEVICES devices post the
// same Reading bytes as fast as they are answered, each message at its own client ts; the
// telemetry schema goes v1 -> v2 -> v1 -> v2 with `tern profile update` meanwhile. The bytes
// decode under both versions to different keys, so each stored record shows the version that
// decoded it. Checked: every message is answered 2.01 and stored whole by exactly one version
// (never alpha with delta, never half a record); a message sent more than GRACE_MS after an
// update returned uses that update's version; both versions were used; and the first message
// after the load, from every device, uses the last version.
//   node schema_change.mjs PROFILE DEVICE_PREFIX DEVICES         (tokens: <prefix>-token-<i>)
//   node schema_change.mjs --encode TS        prints the hex of one Reading (checked by protoc)
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
    section, check, done, device, tp, code, res, telemetry, sleep,
} from '../../../../tests/device_api/lib/dapi.mjs';

const varint = (n) => {
    const o = [];
    let v = BigInt(n);
    do { let b = Number(v & 0x7fn); v >>= 7n; if (v) b |= 0x80; o.push(b); } while (v);
    return Buffer.from(o);
};
// swap.Reading {ts: TS, values {1: 10, 2: 20}}: v1 {alpha:10, beta:20}, v2 {gamma:5, delta:10}
const reading = (ts) => {
    const values = Buffer.from([0x08, 10, 0x10, 20]);
    return Buffer.concat([Buffer.from([0x08]), varint(ts), Buffer.from([0x12, values.length]), values]);
};
if (process.argv[2] === '--encode') {
    process.stdout.write(reading(Number(process.argv[3])).toString('hex'));
    process.exit(0);
}

const [profile, prefix, nDevices] = [process.argv[2], process.argv[3], Number(process.argv[4])];
const schemaDir = new URL('./schemas/', import.meta.url).pathname;
// GRACE_MS: the core announces a profile change before its admin API answers, and the device
// API applies it on its shards' next turn; a message sent that soon after may be either.
const PHASE_MS = 1000, GRACE_MS = 200, BASE_TS = 1600000000000;
const V1 = { alpha: '10', beta: '20' }, V2 = { gamma: '5', delta: '10' };
const versionOf = (rec) => {
    const same = (want) => Object.keys(rec).length === 2 && Object.entries(want).every(([k, v]) => rec[k]?.text === v);
    return same(V1) ? 1 : same(V2) ? 2 : 0;
};

const run = promisify(execFile);
const updates = []; // {version, start, end}
async function update(version) {
    const start = Date.now();
    await run(process.env.DAPI_TERN_BIN, ['profile', 'update', profile, '--telemetry-proto', `${schemaDir}swap_v${version}.proto`,
        '--config', process.env.DAPI_MANIFEST], { timeout: 20000 });
    updates.push({ version, start, end: Date.now() });
}
// The version a message sent at `at` must use, or 0 when it may use either.
function expectedVersion(at) {
    let v = 1;
    for (const u of updates) {
        if (at < u.start) break;
        if (at <= u.end + GRACE_MS) return 0;
        v = u.version;
    }
    return v;
}

const devs = [];
for (let i = 0; i < nDevices; ++i) devs.push({ name: `${prefix}-${i}`, token: `${prefix}-token-${i}`, d: await device(), sent: [] });

let stop = false;
async function post(x, seq) {
    const ts = BASE_TS + seq;
    const at = Date.now();
    const r = await x.d.request({ method: 'POST', path: tp(x.token, 'telemetry'), payload: reading(ts), timeoutMs: 5000 });
    x.sent.push({ ts, at, code: code(r), res: res(r) });
    return r;
}
async function load(x) {
    let seq = 0;
    while (!stop) await post(x, ++seq);
    x.next = seq + 1;
}

await section('devices post while the schema changes v1 -> v2 -> v1 -> v2', async () => {
    const loops = devs.map(load);
    for (const v of [2, 1, 2]) {
        await sleep(PHASE_MS);
        await update(v);
    }
    await sleep(PHASE_MS);
    stop = true;
    await Promise.all(loops);
    const total = devs.reduce((n, x) => n + x.sent.length, 0);
    const bad = devs.flatMap((x) => x.sent.filter((s) => s.code !== '2.01').map((s) => `${x.name} ts ${s.ts}: ${s.res}`));
    check(bad.length === 0, `all ${total} messages answered 2.01`, 'none refused', bad.slice(0, 5));
    check(total >= nDevices * 20, `a real load: ${total} messages from ${nDevices} devices in ${4 * PHASE_MS} ms`, `>= ${nDevices * 20}`, total);
    console.log(`  updates: ${updates.map((u) => `v${u.version} ${u.end - u.start} ms`).join(', ')}`);
}, 60000);

await section('the next message of every device uses the last schema (v2), without a restart', async () => {
    for (const x of devs) {
        const r = await post(x, x.next);
        check(code(r) === '2.01', `${x.name}: posted`, '2.01', res(r));
    }
}, 30000);

await section('every stored record decoded whole by one version; versions follow the updates', async () => {
    const counts = { 1: 0, 2: 0 };
    const problems = [];
    for (const x of devs) {
        const t = await telemetry(x.name);
        const byTs = new Map();
        for (const [key, points] of Object.entries(t ?? {}))
            for (const p of points) {
                const ts = Number(p.ts.text ?? p.ts);
                if (!byTs.has(ts)) byTs.set(ts, {});
                byTs.get(ts)[key] = p.value;
            }
        const last = x.sent[x.sent.length - 1];
        for (const s of x.sent) {
            if (s.code !== '2.01') continue;
            const rec = byTs.get(s.ts);
            byTs.delete(s.ts);
            if (!rec) { problems.push(`${x.name} ts ${s.ts}: answered 2.01, nothing stored`); continue; }
            const v = versionOf(rec);
            if (v === 0) { problems.push(`${x.name} ts ${s.ts}: neither version: ${JSON.stringify(rec)}`); continue; }
            ++counts[v];
            const want = s === last ? 2 : expectedVersion(s.at);
            if (want !== 0 && v !== want)
                problems.push(`${x.name} ts ${s.ts} sent ${s.at}: decoded by v${v}, expected v${want} (updates ${JSON.stringify(updates)})`);
        }
        for (const ts of byTs.keys()) problems.push(`${x.name}: a record at ts ${ts} that no answered message sent`);
    }
    check(problems.length === 0, 'each record is whole, by the version in force', 'no problems', problems.slice(0, 10));
    check(counts[1] > 0 && counts[2] > 0, `both versions decoded messages (v1 ${counts[1]}, v2 ${counts[2]})`, 'both > 0', counts);
}, 60000);

for (const x of devs) x.d.close();
done();
