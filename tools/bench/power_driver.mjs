// The load side of tools/bench/power.sh: N PSM devices, one UDP socket each (each its own peer,
// as real modems are), against a running tern. Run by power.sh; stand-alone:
//
//   node tools/bench/power_driver.mjs --port P --admin http://H:P --key K [--devices N]
//        [--runs R] [--psm-timer MS] [--no-rpc] [--http-concurrency C] [--prefix NAME]
//        [--server-pid PID]
//
// Once: a PSM profile (activity timer --psm-timer) and N devices in it (token and name
// PREFIX-I), each of which registers Observe on /attributes and /rpc. Then R times:
//   1. every device goes silent (answers nothing, not even the server's pings) and the driver
//      waits until its activity timer has passed (asleep);
//   2. for each device, one shared-attribute change and (unless --no-rpc) one one-way RPC
//      through the admin API; every datagram the devices receive meanwhile is counted
//      (expected: none);
//   3. the wake: every device posts telemetry at once (CON; retransmitted after 2 s like
//      firmware) and acknowledges what comes; the run ends when every device has its merged
//      attribute notification (and its RPC), or after --deadline ms.
// Prints one JSON line per run: {"run", "devices", "delivered", "missing", "duplicates",
// "asleep_datagrams", "burst_ms", "p50_ms", "p99_ms", "max_ms", "datagrams_in",
// "datagrams_out", "datagrams_per_s", "queue_ms", "queue_per_s", "server_cpu_ms",
// "driver_cpu_ms"}.
//   burst_ms: first wake uplink sent -> last held downlink received;
//   p50/p99/max: per device, its uplink sent -> its last held downlink received;
//   server_cpu_ms / driver_cpu_ms: CPU time of the server (--server-pid, every thread) and of
//   this driver during the burst.
import dgram from 'node:dgram';
import http from 'node:http';
import fs from 'node:fs';
import { encode, decode, CON, ACK, RST, METHODS, OPT, pathOptions } from '../../tests/device_api/lib/dapi.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : def;
};
const flag = (name) => args.includes(name);
const port = Number(opt('--port'));
const admin = new URL(opt('--admin'));
const key = opt('--key');
const N = Number(opt('--devices', 10000));
const RUNS = Number(opt('--runs', 3));
const PSM = Number(opt('--psm-timer', 3000));
const RPC = !flag('--no-rpc');
const HTTPC = Number(opt('--http-concurrency', 32));
const PREFIX = opt('--prefix', 'psm');
const DEADLINE = Number(opt('--deadline', 120000));
const SERVER_PID = opt('--server-pid');
// cpuMs(pid): CPU time of every thread of a process (schedstat, ns -> ms); null without a pid.
function cpuMs(pid) {
    if (!pid) return null;
    let ns = 0;
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
        try { ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]); } catch { /* thread gone */ }
    }
    return ns / 1e6;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (s) => process.stderr.write(`power_driver: ${s}\n`);

// ---- admin API, a few requests in flight over kept-alive connections ----------------------
const agent = new http.Agent({ keepAlive: true, maxSockets: HTTPC });
function api(method, path, body) {
    return new Promise((resolve, reject) => {
        const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
        const req = http.request({
            host: admin.hostname, port: admin.port, method, path, agent, timeout: 60000,
            headers: { Authorization: `Bearer ${key}`, ...(data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}) },
        }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
        });
        req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 60 s`)));
        req.on('error', reject);
        if (data) req.write(data);
        req.end();
    });
}
// all(n, fn): fn(0..n-1) with HTTPC calls at a time; throws on the first unexpected status.
async function all(n, fn, ok) {
    let next = 0;
    const worker = async () => {
        while (next < n) {
            const i = next++;
            const r = await fn(i);
            if (!ok.includes(r.status)) throw new Error(`admin call ${i}: ${r.status} ${r.text.slice(0, 200)}`);
        }
    };
    await Promise.all(Array.from({ length: HTTPC }, worker));
}

// ---- devices ------------------------------------------------------------------------------
let datagramsIn = 0, datagramsOut = 0;
class Dev {
    constructor(i) {
        this.i = i;
        this.token = `${PREFIX}-${i}`;
        this.silent = false;
        this.mid = (i * 7) % 65536;
        this.pending = new Map();  // mid -> resolve (our CON requests)
        this.sock = dgram.createSocket('udp4');
        this.sock.on('message', (buf) => this.onMessage(buf));
    }
    open() { return new Promise((r) => this.sock.bind(0, '127.0.0.1', r)); }
    send(buf) { ++datagramsOut; this.sock.send(buf, port, '127.0.0.1'); }
    onMessage(buf) {
        ++datagramsIn;
        if (this.silent) { this.onSilent?.(); return; }
        let m;
        try { m = decode(buf); } catch { return; }
        if (m.type === ACK || m.type === RST) {
            const p = this.pending.get(m.mid);
            if (p) { this.pending.delete(m.mid); p(m); }
            return;
        }
        if (m.type === CON) this.send(encode({ type: m.code === 0 ? RST : ACK, code: 0, mid: m.mid }));
        if (m.code !== 0) this.onNotification?.(m);
    }
    // request: CON, resends after 2, 4, 8 s (RFC 7252 style); resolves with the ACK.
    async request(method, path, { observe, token, payload } = {}) {
        const mid = this.mid = (this.mid + 1) % 65536;
        const options = [...pathOptions(path)];
        if (observe !== undefined) options.push([OPT.OBSERVE, observe]);
        if (payload) options.push([OPT.CONTENT_FORMAT, 50]);
        const buf = encode({ type: CON, code: METHODS[method], mid, token: token ?? Buffer.alloc(0), options, payload: payload ? Buffer.from(payload) : undefined });
        const got = new Promise((r) => this.pending.set(mid, r));
        for (let t = 0, wait = 2000; t < 4; ++t, wait *= 2) {
            this.send(buf);
            const m = await Promise.race([got, sleep(wait).then(() => null)]);
            if (m) return m;
        }
        this.pending.delete(mid);
        throw new Error(`${this.token}: no answer to ${method} ${path}`);
    }
}

// pool(n, k, fn): fn(i) for 0..n-1, k at a time.
async function pool(n, k, fn) {
    let next = 0;
    await Promise.all(Array.from({ length: k }, async () => { while (next < n) await fn(next++); }));
}

const profile = `${PREFIX}-bench-profile`;
log(`creating profile ${profile} (PSM, psmActivityTimer ${PSM} ms) and ${N} devices`);
let t = Date.now();
const pr = await api('POST', '/api/profiles', { name: profile, power: { mode: 'PSM', psmActivityTimer: PSM } });
if (pr.status !== 201) throw new Error(`profile: ${pr.status} ${pr.text}`);
await all(N, (i) => api('POST', '/api/devices', { name: `${PREFIX}-${i}`, token: `${PREFIX}-${i}`, profile }), [201]);
const createMs = Date.now() - t;
log(`  ${N} devices in ${createMs} ms`);

const devs = Array.from({ length: N }, (_, i) => new Dev(i));
await Promise.all(devs.map((d) => d.open()));
t = Date.now();
await pool(N, 500, async (i) => {
    const d = devs[i];
    d.ta = Buffer.from([0xa0, i >> 16, (i >> 8) & 255, i & 255]);
    d.tr = Buffer.from([0xb0, i >> 16, (i >> 8) & 255, i & 255]);
    const a = await d.request('GET', `/api/v1/${d.token}/attributes`, { observe: 0, token: d.ta });
    if (a.code !== (2 << 5 | 5)) throw new Error(`${d.token}: attributes observe -> ${a.code >> 5}.${a.code & 31}`);
    const r = await d.request('GET', `/api/v1/${d.token}/rpc`, { observe: 0, token: d.tr });
    if (r.code !== (2 << 5 | 3)) throw new Error(`${d.token}: rpc observe -> ${r.code >> 5}.${r.code & 31}`);
});
log(`  ${2 * N} observations registered in ${Date.now() - t} ms`);

for (let run = 1; run <= RUNS; ++run) {
    // 1. asleep
    let asleepDatagrams = 0;
    for (const d of devs) {
        d.silent = true;
        d.onSilent = () => { ++asleepDatagrams; };
        d.gotAttr = 0; d.gotRpc = 0; d.dupes = 0; d.doneAt = 0; d.upAt = 0;
    }
    await sleep(PSM + 1500);
    // 2. queue one change (and one RPC) per device
    asleepDatagrams = 0;
    t = Date.now();
    await all(N, (i) => api('POST', `/api/devices/${PREFIX}-${i}/attributes/shared`, { run, v: i }), [200]);
    if (RPC) await all(N, (i) => api('POST', `/api/devices/${PREFIX}-${i}/rpc`, { method: `wake${run}`, params: { i }, oneway: true, wait: false, timeout: 600000 }), [200, 202]);
    const queueMs = Date.now() - t;
    const queued = N * (RPC ? 2 : 1);
    log(`run ${run}: ${queued} downlinks queued in ${queueMs} ms (${Math.round(queued * 1000 / queueMs)}/s); datagrams to the sleeping devices: ${asleepDatagrams}`);
    await sleep(1000);
    const asleepTotal = asleepDatagrams;

    // 3. wake
    let remaining = N;
    let lastAt = 0;
    let finished;
    const allDone = new Promise((r) => { finished = r; });
    const need = RPC ? 2 : 1;
    for (const d of devs) {
        d.onNotification = (m) => {
            const tk = m.token;
            let body;
            try { body = JSON.parse(m.payload.toString('utf8')); } catch { body = undefined; }
            if (tk.equals(d.ta) && body?.run === run) { if (d.gotAttr++) ++d.dupes; }
            else if (tk.equals(d.tr) && body?.method === `wake${run}`) { if (d.gotRpc++) ++d.dupes; }
            else return;
            if (!d.doneAt && Math.min(d.gotAttr, 1) + Math.min(d.gotRpc, 1) === need) {
                d.doneAt = Date.now();
                lastAt = d.doneAt;
                if (--remaining === 0) finished();
            }
        };
    }
    const in0 = datagramsIn, out0 = datagramsOut;
    const scpu0 = cpuMs(SERVER_PID), dcpu0 = process.cpuUsage();
    for (const d of devs) d.silent = false;
    const t0 = Date.now();
    const ups = devs.map((d) => { d.upAt = Date.now(); return d.request('POST', `/api/v1/${d.token}/telemetry`, { payload: `{"wake":${run}}` }).catch((e) => e); });
    await Promise.race([allDone, sleep(DEADLINE)]);
    const burstMs = (lastAt || Date.now()) - t0;
    const inN = datagramsIn - in0, outN = datagramsOut - out0;
    const scpu = SERVER_PID ? Math.round(cpuMs(SERVER_PID) - scpu0) : null;
    const dcpuU = process.cpuUsage(dcpu0);
    const dcpu = Math.round((dcpuU.user + dcpuU.system) / 1000);
    await Promise.all(ups);
    await sleep(1000);  // a duplicate (a second merged update, an RPC twice) would come now
    const lat = devs.filter((d) => d.doneAt).map((d) => d.doneAt - d.upAt).sort((a, b) => a - b);
    const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : null);
    const r = {
        run, devices: N, delivered: lat.length, missing: N - lat.length, duplicates: devs.reduce((s, d) => s + d.dupes, 0),
        asleep_datagrams: asleepTotal, burst_ms: burstMs, p50_ms: q(0.5), p99_ms: q(0.99), max_ms: lat.length ? lat[lat.length - 1] : null,
        datagrams_in: inN, datagrams_out: outN, datagrams_per_s: Math.round((inN + outN) * 1000 / Math.max(1, burstMs)),
        server_cpu_ms: scpu, driver_cpu_ms: dcpu, queue_ms: queueMs, queue_per_s: Math.round(queued * 1000 / queueMs), create_ms: createMs, rpc: RPC,
    };
    console.log(JSON.stringify(r));
    log(`run ${run}: ${JSON.stringify(r)}`);
}
for (const d of devs) d.sock.close();
agent.destroy();
