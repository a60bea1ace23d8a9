// Devices streaming telemetry through the transport nodes, as NSTART 1 firmware does (one
// CON request in flight per device, a message retried until it is acknowledged), and the
// checks of what the core node stored.
//
//   node stream.mjs setup  DEVICES_JSON PER_NODE PREFIX
//       creates PER_NODE devices for each transport node (t1, t2) through the admin API
//   node stream.mjs stream DEVICES_JSON OUT_JSON PROGRESS_FILE STOP_FILE [options]
//       streams until STOP_FILE exists (at most 40 s); PROGRESS_FILE: messages acknowledged
//       --count N      each device stops after N acknowledged messages
//       --interval MS  pause between two messages of a device (default 20: 50/s, under
//                      device_api's per-device rate limit)
//       --failover     a device whose request got no answer at all moves to the other
//                      node and retries the message there (a load balancer taking a dead
//                      node out)
//   node stream.mjs verify DEVICES_JSON OUT_JSON [checks]
//       every acknowledged message is stored with its value and nothing unsent is stored
//       --exact             every message sent was acknowledged, none twice
//       --failover-from N   every device of node N moved to the other one and got 2.01 there
//       --outage FILE       FILE holds "STOPPED RESTARTED" (ms since the epoch): no request
//                           sent after STOPPED was acknowledged before RESTARTED; they got
//                           5.03 with Max-Age; every device got 2.01 again after RESTARTED
//
// Message seq of a device is {"ts": BASE + seq, "values": {"seq": seq}}: a client timestamp
// per message, so a message applied twice writes the same row and never a second one.
import fs from 'node:fs';
import { createDevice, tp, code, sleep, OPT, bytesUint } from '../device_api/lib/dapi.mjs';
import { nodeDevice, other, verifyStored } from './lib/cluster.mjs';

const [mode, devicesFile, ...rest] = process.argv.slice(2);
const opt = (name, dflt) => { const i = rest.indexOf(name); return i < 0 ? dflt : rest[i + 1]; };
const flag = (name) => rest.includes(name);

if (mode === 'setup') {
    const [perNode, prefix] = [Number(rest[0]), rest[1]];
    const devices = [];
    for (const node of ['t1', 't2'])
        for (let i = 0; i < perNode; ++i)
            devices.push({ ...(await createDevice(`${prefix}-${node}-${String(i).padStart(2, '0')}`)), node });
    fs.writeFileSync(devicesFile, JSON.stringify(devices));
    console.log(`created ${devices.length} devices, ${perNode} per transport node`);
    process.exit(0);
}

if (mode === 'stream') {
    const [outFile, progressFile, stopFile] = rest;
    const count = Number(opt('--count', 0));
    const interval = Number(opt('--interval', 20));
    const failover = flag('--failover');
    const devices = JSON.parse(fs.readFileSync(devicesFile, 'utf8'));
    const base = Date.now() - 86400000; // a day ago: clearly client timestamps
    const out = { base, sent: {}, acked: {}, events: {} };
    let total = 0, failed = 0, moved = 0;
    const end = Date.now() + 40000;
    let stop = false;
    const stopper = setInterval(() => { stop = stop || fs.existsSync(stopFile); }, 20);
    const progress = setInterval(() => fs.writeFileSync(progressFile, String(total)), 50);
    await Promise.all(devices.map(async (dv) => {
        const d = await nodeDevice(dv.node);
        const sent = out.sent[dv.name] = [], acked = out.acked[dv.name] = [], events = out.events[dv.name] = [];
        for (let seq = 0; !stop && Date.now() < end && (!count || seq < count);) {
            const ts = base + seq;
            if (sent.length === 0 || sent[sent.length - 1][1] !== seq) sent.push([ts, seq]);
            const t0 = Date.now();
            const r = await d.request({ method: 'POST', path: tp(dv.token, 'telemetry'), payload: { ts, values: { seq } }, timeoutMs: 1500 });
            const c = code(r);
            const maxAge = r.response?.has(OPT.MAX_AGE) ? (bytesUint(r.response.option(OPT.MAX_AGE)) ?? 0) : null;
            events.push([seq, d.node, t0, Date.now(), c, maxAge]);
            if (c === '2.01') {
                acked.push([ts, seq]);
                ++total;
                ++seq;
                if (interval) await sleep(interval);
                continue;
            }
            ++failed;
            if (c === 'none' && failover && d.node === dv.node) { d.moveTo(other(dv.node)); ++moved; continue; }
            await sleep(200);
        }
        d.close();
    }));
    clearInterval(progress);
    clearInterval(stopper);
    fs.writeFileSync(progressFile, String(total));
    fs.writeFileSync(outFile, JSON.stringify(out));
    console.log(`stream: ${total} messages acknowledged with 2.01, ${failed} requests not, ${moved} devices moved, over ${devices.length} devices`);
    process.exit(0);
}

if (mode === 'verify') {
    const [outFile] = rest;
    const devices = JSON.parse(fs.readFileSync(devicesFile, 'utf8'));
    const out = JSON.parse(fs.readFileSync(outFile, 'utf8'));
    let ok = true;
    const fail = (msg) => { ok = false; console.log(`FAIL ${msg}`); };
    const v = await verifyStored(devices, out.acked, out.sent);
    for (const l of v.lines) console.log(l);
    if (!v.ok) fail('the store does not hold exactly the acknowledged messages');
    else console.log('ok   every acknowledged message is stored once with its value; nothing unsent is stored');
    if (v.ackedTotal === 0) fail('no message was acknowledged at all');

    if (flag('--exact')) {
        let bad = 0;
        for (const dv of devices) {
            const codes = out.events[dv.name].map((e) => e[4]);
            if (codes.some((c) => c !== '2.01')) { ++bad; if (bad < 5) console.log(`  ${dv.name}: answers ${[...new Set(codes)].join(',')}`); }
        }
        if (bad) fail(`${bad} devices got an answer other than 2.01`);
        else console.log(`ok   every one of the ${v.ackedTotal} messages was answered 2.01 at the first try`);
        if (v.storedTotal !== v.ackedTotal) fail(`stored ${v.storedTotal} points for ${v.ackedTotal} messages`);
        else console.log(`ok   ${v.storedTotal} points stored for ${v.ackedTotal} messages`);
    }

    const from = opt('--failover-from');
    if (from) {
        let movers = 0, continued = 0;
        for (const dv of devices.filter((x) => x.node === from)) {
            const ev = out.events[dv.name];
            const i = ev.findIndex((e) => e[1] !== from);
            if (i < 0) { console.log(`  ${dv.name} never moved off ${from}`); continue; }
            ++movers;
            if (ev.slice(i).some((e) => e[4] === '2.01')) ++continued;
            else console.log(`  ${dv.name} moved but got no 2.01 on ${other(from)}: ${ev.slice(i, i + 5).map((e) => e[4]).join(',')}`);
        }
        const n = devices.filter((x) => x.node === from).length;
        if (movers !== n || continued !== n) fail(`of ${n} devices of ${from}, ${movers} moved and ${continued} continued on ${other(from)}`);
        else console.log(`ok   all ${n} devices of ${from} moved to ${other(from)} and their messages were acknowledged there`);
    }

    const outage = opt('--outage');
    if (outage) {
        const [stopped, restarted] = fs.readFileSync(outage, 'utf8').trim().split(/\s+/).map(Number);
        let during = 0, falseAcks = 0, unavailable = 0, noMaxAge = 0, others = new Set(), resumed = 0;
        for (const dv of devices) {
            let back = false;
            for (const [seq, node, t0, at, c, maxAge] of out.events[dv.name]) {
                if (t0 >= stopped && at <= restarted) {
                    ++during;
                    if (c === '2.01') { ++falseAcks; console.log(`  ${dv.name} seq ${seq} on ${node}: 2.01 while NATS was down`); }
                    else if (c === '5.03') { ++unavailable; if (maxAge === null) ++noMaxAge; }
                    else others.add(c);
                }
                if (t0 > restarted && c === '2.01') back = true;
            }
            if (back) ++resumed;
        }
        console.log(`outage: ${during} requests while NATS was down: ${unavailable} got 5.03, ${falseAcks} got 2.01, others: ${[...others].join(',') || 'none'}`);
        if (falseAcks) fail(`${falseAcks} uplinks acknowledged 2.01 while NATS was down`);
        if (unavailable === 0) fail('no 5.03 while NATS was down');
        else if (noMaxAge) fail(`${noMaxAge} of the 5.03 answers had no Max-Age`);
        else console.log(`ok   every uplink answered while NATS was down got 5.03 with Max-Age, none 2.01`);
        if (resumed !== devices.length) fail(`${resumed} of ${devices.length} devices were acknowledged again after nats-server restarted`);
        else console.log(`ok   all ${devices.length} devices were acknowledged again after nats-server restarted`);
    }
    process.exit(ok ? 0 : 1);
}

console.error(`unknown mode ${mode}`);
process.exit(64);
