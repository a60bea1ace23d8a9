// Durability (issue 4): many devices stream CON telemetry; every message answered 2.01 must
// be in the store after the server is killed with SIGKILL and restarted on the same database.
//   node durability.mjs setup   DEVICES_JSON N
//   node durability.mjs stream  DEVICES_JSON ACKED_JSON PROGRESS_FILE STOP_FILE
//     (streams until STOP_FILE exists, at most 60 s; PROGRESS_FILE: acknowledged so far)
//   node durability.mjs verify  DEVICES_JSON ACKED_JSON
// Each message is {"ts": BASE + seq, "values": {"seq": seq}}: a client timestamp per message,
// so no two messages of a device share a ts (a point with the same ts replaces the old one).
import fs from 'node:fs';
import { device, createDevice, api, enc, tp, sleep } from './lib/dapi.mjs';

const [mode, devicesFile, ...rest] = process.argv.slice(2);

if (mode === 'setup') {
    const n = Number(rest[0]);
    const devices = [];
    for (let i = 0; i < n; ++i) devices.push(await createDevice(`dur-${String(i).padStart(3, '0')}`));
    fs.writeFileSync(devicesFile, JSON.stringify(devices));
    console.log(`created ${n} devices`);
    process.exit(0);
}

if (mode === 'stream') {
    const [ackedFile, progressFile, stopFile] = rest;
    const devices = JSON.parse(fs.readFileSync(devicesFile, 'utf8'));
    const base = Date.now() - 86400000; // a day ago: clearly client timestamps
    const acked = {};
    let total = 0, failed = 0;
    const end = Date.now() + 60000;
    let stop = false;
    const stopper = setInterval(() => { stop = stop || fs.existsSync(stopFile); }, 20);
    const progress = setInterval(() => fs.writeFileSync(progressFile, String(total)), 50);
    await Promise.all(devices.map(async (dv) => {
        const d = await device();
        acked[dv.name] = [];
        for (let seq = 0; !stop && Date.now() < end; ++seq) {
            const payload = { ts: base + seq, values: { seq } };
            const r = await d.request({ method: 'POST', path: tp(dv.token, 'telemetry'), payload, timeoutMs: 1500 });
            if (r.response?.codeText === '2.01') {
                acked[dv.name].push([base + seq, seq]);
                ++total;
            } else {
                ++failed;
                if (!r.response && !r.ack) await sleep(200); // server gone: do not spin
            }
        }
        d.close();
    }));
    clearInterval(progress);
    clearInterval(stopper);
    fs.writeFileSync(progressFile, String(total));
    fs.writeFileSync(ackedFile, JSON.stringify(acked));
    console.log(`stream: ${total} messages acknowledged with 2.01, ${failed} not, over ${devices.length} devices`);
    process.exit(0);
}

if (mode === 'verify') {
    const [ackedFile] = rest;
    const devices = JSON.parse(fs.readFileSync(devicesFile, 'utf8'));
    const acked = JSON.parse(fs.readFileSync(ackedFile, 'utf8'));
    let missing = 0, wrong = 0, ackedTotal = 0, storedTotal = 0;
    const examples = [];
    for (const dv of devices) {
        const r = await api('GET', `/api/devices/${enc(dv.name)}/telemetry?keys=seq&startTs=0&endTs=${Number.MAX_SAFE_INTEGER}&limit=100000&order=asc`);
        if (r.status !== 200) { console.log(`FAIL admin telemetry of ${dv.name}: ${r.status} ${r.text}`); process.exit(1); }
        const stored = new Map((r.json?.seq ?? []).map((p) => [p.ts, p.value]));
        storedTotal += stored.size;
        for (const [ts, seq] of acked[dv.name] ?? []) {
            ++ackedTotal;
            if (!stored.has(ts)) { ++missing; if (examples.length < 10) examples.push(`${dv.name} seq ${seq} (ts ${ts}) missing`); }
            else if (stored.get(ts) !== seq) { ++wrong; if (examples.length < 10) examples.push(`${dv.name} ts ${ts}: stored ${stored.get(ts)}, sent ${seq}`); }
        }
    }
    console.log(`verify: ${ackedTotal} acknowledged, ${storedTotal} stored, ${missing} acknowledged but missing, ${wrong} with a wrong value`);
    for (const e of examples) console.log(`  ${e}`);
    if (missing || wrong) { console.log('FAIL acknowledged telemetry lost after kill -9'); process.exit(1); }
    console.log('ok   every acknowledged message is in the store');
    process.exit(0);
}

console.error(`unknown mode ${mode}`);
process.exit(64);
