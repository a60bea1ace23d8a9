// Shared pieces of the device API conformance tests (the ThingsBoard CoAP device API):
// a raw CoAP endpoint that behaves like device firmware (its own small codec, so every
// byte, type, MID, token and option is under the test's control), the admin API client
// (node's http, no curl), a JSON reader that keeps number literals (so the stored type of a
// value can be told from the admin API's answer: 42 is INT, 42.0 is DOUBLE) and a tiny
// check/report harness.
//
// Environment (set by tests/device_api/device_api.sh): DAPI_UDP_PORT, DAPI_ADMIN_PORT,
// DAPI_ADMIN_KEY, DAPI_METRICS_PORT.
import dgram from 'node:dgram';
import http from 'node:http';
import crypto from 'node:crypto';

export const HOST = '127.0.0.1';
export const env = {
    udpPort: Number(process.env.DAPI_UDP_PORT),
    adminPort: Number(process.env.DAPI_ADMIN_PORT),
    adminKey: process.env.DAPI_ADMIN_KEY ?? '',
    metricsPort: Number(process.env.DAPI_METRICS_PORT ?? 0),
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- report -------------------------------------------------------------------------------

let failures = 0;
let checks = 0;
let currentSection = '';
const failedSections = new Set();

const show = (v) => {
    if (v === undefined) return 'undefined';
    if (Buffer.isBuffer(v)) return `'${v.toString('utf8')}' (${v.length} bytes)`;
    if (typeof v === 'string') return `'${v}'`;
    try { return rawText(v); } catch { return String(v); }
};

// rawText(v): JSON text of a value, numbers (JNum) written as they were received.
export function rawText(v) {
    if (v instanceof JNum) return v.text;
    if (Array.isArray(v)) return `[${v.map(rawText).join(',')}]`;
    if (v && typeof v === 'object' && !Buffer.isBuffer(v))
        return `{${Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => `${JSON.stringify(k)}:${rawText(x)}`).join(',')}}`;
    return JSON.stringify(v) ?? 'undefined';
}

// check(cond, what[, expected, actual]): one assertion; a failure prints both sides.
export function check(cond, what, expected, actual) {
    ++checks;
    if (cond) {
        console.log(`  ok   ${what}`);
        return true;
    }
    ++failures;
    failedSections.add(currentSection);
    let line = `  FAIL ${what}`;
    if (arguments.length >= 3) line += `\n         expected: ${show(expected)}\n         actual:   ${show(actual)}`;
    console.log(line);
    return false;
}

export const checkEq = (actual, expected, what) => check(deepEq(actual, expected), what, expected, actual);

export function deepEq(a, b) {
    if (a instanceof JNum) a = a.text;
    if (b instanceof JNum) b = b.text;
    if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
    if (typeof a !== typeof b) return false;
    if (a === null || b === null || typeof a !== 'object') return a === b;
    if (Array.isArray(a) !== Array.isArray(b)) return false;
    const ka = Object.keys(a), kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEq(a[k], b[k]));
}

// section(name, fn, timeoutMs): runs one group of checks; an exception or a timeout fails it
// and the next section still runs (one missing feature must not hide the others).
export async function section(name, fn, timeoutMs = 30000) {
    currentSection = name;
    console.log(`--- ${name}`);
    let timer;
    try {
        await Promise.race([
            fn(),
            new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`section timed out after ${timeoutMs} ms`)), timeoutMs); }),
        ]);
    } catch (e) {
        ++failures;
        failedSections.add(name);
        console.log(`  FAIL ${name}: ${e.stack ?? e}`);
    } finally {
        clearTimeout(timer);
    }
}

// done(): prints the summary and exits (1 when a check failed).
export function done() {
    if (failures === 0) console.log(`all ${checks} checks passed`);
    else console.log(`${failures} of ${checks} checks failed; sections: ${[...failedSections].join(' | ')}`);
    process.exit(failures === 0 ? 0 : 1);
}

// ---- JSON with number literals kept ---------------------------------------------------------

// A number as written: its type (INT vs DOUBLE) is in its spelling.
export class JNum {
    constructor(text) { this.text = text; }
    get value() { return Number(this.text); }
    toJSON() { return this.value; }
}

// parseJson(text): like JSON.parse, but numbers become JNum. Throws on bad JSON.
export function parseJson(text) {
    let i = 0;
    const ws = () => { while (i < text.length && ' \t\r\n'.includes(text[i])) ++i; };
    const fail = (m) => { throw new Error(`bad JSON at ${i}: ${m}: ${text.slice(0, 200)}`); };
    const value = () => {
        ws();
        const c = text[i];
        if (c === '{') {
            ++i; const o = {}; ws();
            if (text[i] === '}') { ++i; return o; }
            for (;;) {
                ws(); const k = value(); if (typeof k !== 'string') fail('key');
                ws(); if (text[i++] !== ':') fail('colon');
                o[k] = value(); ws();
                if (text[i] === ',') { ++i; continue; }
                if (text[i] === '}') { ++i; return o; }
                fail('object');
            }
        }
        if (c === '[') {
            ++i; const a = []; ws();
            if (text[i] === ']') { ++i; return a; }
            for (;;) {
                a.push(value()); ws();
                if (text[i] === ',') { ++i; continue; }
                if (text[i] === ']') { ++i; return a; }
                fail('array');
            }
        }
        if (c === '"') {
            const start = i; ++i;
            while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
            ++i;
            return JSON.parse(text.slice(start, i));
        }
        const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
        if (m) { i += m[0].length; return new JNum(m[0]); }
        for (const [w, v] of [['true', true], ['false', false], ['null', null]])
            if (text.startsWith(w, i)) { i += w.length; return v; }
        fail('value');
    };
    const v = value(); ws();
    if (i !== text.length) fail('trailing text');
    return v;
}

// The stored type of a value as the admin API renders it (docs/device-api.md §2.2 names).
export function typeOf(v) {
    if (v instanceof JNum) return /[.eE]/.test(v.text) ? 'DOUBLE' : 'LONG';
    if (typeof v === 'boolean') return 'BOOLEAN';
    if (typeof v === 'string') return 'STRING';
    if (v === null) return 'NULL';
    return 'JSON';
}

// plain(v): JNum -> Number, recursively (for comparisons that do not care about spelling).
export function plain(v) {
    if (v instanceof JNum) return v.value;
    if (Array.isArray(v)) return v.map(plain);
    if (v && typeof v === 'object' && !Buffer.isBuffer(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
    return v;
}

// ---- admin API ------------------------------------------------------------------------------

// api(method, path, body): {status, text, json, raw}: json is JSON.parse of the answer,
// raw is parseJson (numbers as JNum, for type checks); undefined when not JSON. A string
// body is sent as it is (JSON text written by hand, e.g. to send 42.0 as a double).
export function api(method, path, body, { raw = false, timeoutMs = 15000, contentType } = {}) {
    return new Promise((resolve, reject) => {
        const data = body === undefined ? undefined : raw ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
        const req = http.request({
            host: HOST, port: env.adminPort, method, path,
            headers: {
                Authorization: `Bearer ${env.adminKey}`,
                ...(data ? { 'Content-Type': contentType ?? (raw ? 'application/octet-stream' : 'application/json'), 'Content-Length': data.length } : {}),
            },
            timeout: timeoutMs,
        }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                const text = Buffer.concat(chunks).toString('utf8');
                let json, raw;
                try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
                try { raw = text ? parseJson(text) : undefined; } catch { raw = undefined; }
                resolve({ status: res.statusCode, text, json, raw });
            });
        });
        req.on('timeout', () => req.destroy(new Error(`admin ${method} ${path}: no answer within ${timeoutMs} ms`)));
        req.on('error', reject);
        if (data) req.write(data);
        req.end();
    });
}

// apiOk(method, path, body, expectStatus): the answer's JSON, or throws with what came back.
export async function apiOk(method, path, body, expect = [200, 201, 202], opts) {
    return (await apiOkRaw(method, path, body, expect, opts)).json;
}
export async function apiOkRaw(method, path, body, expect = [200, 201, 202], opts) {
    const r = await api(method, path, body, opts);
    const want = Array.isArray(expect) ? expect : [expect];
    if (!want.includes(r.status)) throw new Error(`admin ${method} ${path} -> ${r.status} ${r.text} (expected ${want.join('/')})`);
    return r;
}

const apiRaw = async (...a) => (await apiOkRaw(...a)).raw;
export const enc = encodeURIComponent;
let nameCounter = 0;
// uniqueName(prefix): a device/profile name nobody else in this server uses.
export const uniqueName = (prefix) => `${prefix}-${process.pid}-${++nameCounter}`;
// token(): an access token that looks like ThingsBoard's (20 alphanumerics).
export const newToken = () => crypto.randomBytes(15).toString('base64').replace(/[^A-Za-z0-9]/g, 'x').slice(0, 20);

// createDevice(name, extra): creates a device with a known token; {name, token}.
export async function createDevice(name = uniqueName('dev'), extra = {}) {
    const token = extra.token ?? newToken();
    await apiOk('POST', '/api/devices', { name, token, ...extra }, 201);
    return { name, token };
}

export const createProfile = (body) => apiOk('POST', '/api/profiles', body, 201);

// telemetry(name, keys): {key: [{ts, value}]} ascending, every point (JNum values kept).
export async function telemetry(name, keys) {
    const q = `startTs=0&endTs=${Number.MAX_SAFE_INTEGER}&limit=100000&order=asc${keys ? `&keys=${enc(keys.join(','))}` : ''}`;
    return (await apiOkRaw('GET', `/api/devices/${enc(name)}/telemetry?${q}`, undefined, 200)).raw;
}

export const latest = async (name) => (await apiOkRaw('GET', `/api/devices/${enc(name)}/telemetry/latest`, undefined, 200)).raw;

// attributes(name, scope): {key: value} of one scope (JNum values kept).
export async function attributes(name, scope) {
    const j = await apiRaw('GET', `/api/devices/${enc(name)}/attributes?scope=${scope}`, undefined, 200);
    const out = {};
    for (const a of j?.[scope] ?? []) out[a.key] = a.value;
    return out;
}
export async function attributeRecords(name, scope) {
    const j = await apiRaw('GET', `/api/devices/${enc(name)}/attributes?scope=${scope}`, undefined, 200);
    return j?.[scope] ?? [];
}

export const setShared = (name, values) => apiOk('POST', `/api/devices/${enc(name)}/attributes/shared`, values, 200);
export const deleteShared = (name, keys) => apiOk('DELETE', `/api/devices/${enc(name)}/attributes/shared?keys=${enc(keys.join(','))}`, undefined, 200);

// nothingStored(name): no telemetry and no client attributes for the device.
export async function storedCount(name) {
    const t = await latest(name);
    const c = await attributeRecords(name, 'client');
    return Object.keys(t ?? {}).length + c.length;
}

// metrics(): the Prometheus text of the kernel.
export function metrics() {
    return new Promise((resolve, reject) => {
        http.get({ host: HOST, port: env.metricsPort, path: '/metrics', timeout: 5000 }, (res) => {
            let s = '';
            res.on('data', (c) => { s += c; });
            res.on('end', () => resolve(s));
        }).on('error', reject);
    });
}
// metric(name, labels): sum of the samples of NAME whose labels include every given one.
export async function metric(name, labels = []) {
    const text = await metrics();
    let sum = 0;
    for (const line of text.split('\n')) {
        if (line.startsWith('#') || !line) continue;
        const sample = line.split(' ')[0];
        if (sample.replace(/\{.*/, '') !== name) continue;
        if (labels.every((l) => sample.includes(l))) sum += Number(line.split(' ').pop());
    }
    return sum;
}

// ---- CoAP codec ---------------------------------------------------------------------------------

export const CON = 0, NON = 1, ACK = 2, RST = 3;
export const TYPE_NAMES = ['CON', 'NON', 'ACK', 'RST'];
export const METHODS = { GET: 1, POST: 2, PUT: 3, DELETE: 4, FETCH: 5, PATCH: 6, IPATCH: 7 };
export const OPT = {
    IF_MATCH: 1, URI_HOST: 3, ETAG: 4, IF_NONE_MATCH: 5, OBSERVE: 6, URI_PORT: 7, LOCATION_PATH: 8,
    URI_PATH: 11, CONTENT_FORMAT: 12, MAX_AGE: 14, URI_QUERY: 15, ACCEPT: 17, BLOCK2: 23, BLOCK1: 27,
    SIZE2: 28, SIZE1: 60, NO_RESPONSE: 258,
};
export const codeText = (c) => `${c >> 5}.${String(c & 31).padStart(2, '0')}`;
export const codeOf = (text) => { const [a, b] = text.split('.').map(Number); return (a << 5) | b; };

export function uintBytes(v) {
    const out = [];
    while (v > 0) { out.unshift(v & 0xff); v = Math.floor(v / 256); }
    return Buffer.from(out);
}
export const bytesUint = (b) => (b ? [...b].reduce((a, x) => a * 256 + x, 0) : undefined);

export function encode({ type, code, mid, token = Buffer.alloc(0), options = [], payload }) {
    const parts = [Buffer.from([0x40 | (type << 4) | token.length, code, (mid >> 8) & 0xff, mid & 0xff]), token];
    let last = 0;
    // a stable sort keeps repeated options (Uri-Path, Uri-Query) in the caller's order
    const sorted = options.map((o, i) => [o, i]).sort((a, b) => a[0][0] - b[0][0] || a[1] - b[1]).map((x) => x[0]);
    for (const [num, raw] of sorted) {
        const value = typeof raw === 'number' ? uintBytes(raw) : Buffer.from(raw);
        const delta = num - last;
        last = num;
        const ext = [];
        const nib = (n) => {
            if (n < 13) return n;
            if (n < 269) { ext.push(Buffer.from([n - 13])); return 13; }
            ext.push(Buffer.from([(n - 269) >> 8, (n - 269) & 0xff]));
            return 14;
        };
        const d = nib(delta), l = nib(value.length);
        parts.push(Buffer.from([(d << 4) | l]), ...ext, value);
    }
    if (payload !== undefined && payload.length > 0) parts.push(Buffer.from([0xff]), Buffer.from(payload));
    return Buffer.concat(parts);
}

export function decode(buf) {
    const m = { type: (buf[0] >> 4) & 3, tkl: buf[0] & 15, code: buf[1], mid: buf.readUInt16BE(2) };
    m.token = Buffer.from(buf.subarray(4, 4 + m.tkl));
    let i = 4 + m.tkl, num = 0;
    m.options = [];
    while (i < buf.length && buf[i] !== 0xff) {
        let d = buf[i] >> 4, l = buf[i] & 15;
        ++i;
        const ext = (n) => {
            if (n === 13) return buf[i++] + 13;
            if (n === 14) { const v = buf.readUInt16BE(i) + 269; i += 2; return v; }
            return n;
        };
        d = ext(d); l = ext(l);
        num += d;
        m.options.push([num, Buffer.from(buf.subarray(i, i + l))]);
        i += l;
    }
    m.payload = i < buf.length ? Buffer.from(buf.subarray(i + 1)) : Buffer.alloc(0);
    return decorate(m);
}

function decorate(m) {
    m.option = (n) => m.options.find((o) => o[0] === n)?.[1];
    m.has = (n) => m.options.some((o) => o[0] === n);
    m.codeText = codeText(m.code);
    m.typeName = TYPE_NAMES[m.type];
    m.observe = m.has(OPT.OBSERVE) ? bytesUint(m.option(OPT.OBSERVE)) ?? 0 : undefined;
    m.contentFormat = m.has(OPT.CONTENT_FORMAT) ? bytesUint(m.option(OPT.CONTENT_FORMAT)) ?? 0 : undefined;
    m.text = m.payload.toString('utf8');
    const b2 = m.option(OPT.BLOCK2);
    if (m.has(OPT.BLOCK2)) {
        const v = bytesUint(b2) ?? 0;
        m.block2 = { num: Math.floor(v / 16), more: (v & 8) !== 0, szx: v & 7, size: 1 << ((v & 7) + 4) };
    }
    if (m.has(OPT.BLOCK1)) {
        const v = bytesUint(m.option(OPT.BLOCK1)) ?? 0;
        m.block1 = { num: Math.floor(v / 16), more: (v & 8) !== 0, szx: v & 7, size: 1 << ((v & 7) + 4) };
    }
    m.describe = () => `${m.typeName} ${m.codeText} mid=${m.mid} token=${m.token.toString('hex')}` +
        `${m.observe !== undefined ? ` Observe=${m.observe}` : ''}${m.contentFormat !== undefined ? ` CF=${m.contentFormat}` : ''}` +
        `${m.block2 ? ` Block2=${m.block2.num}/${m.block2.more ? 1 : 0}/${m.block2.size}` : ''} '${m.text.slice(0, 300)}'`;
    return m;
}

export const blockValue = (num, more, size) => num * 16 + (more ? 8 : 0) + (Math.log2(size) - 4);

// pathOptions('/api/v1/x') -> Uri-Path options; queryOptions(['a=1']) -> Uri-Query options.
export const pathOptions = (p) => (Array.isArray(p) ? p : p.split('/').filter((s) => s !== '')).map((s) => [OPT.URI_PATH, s]);
export const queryOptions = (q) => (q ?? []).map((s) => [OPT.URI_QUERY, s]);

// ---- a device: one UDP socket, like one firmware instance -----------------------------------

let midSeed = crypto.randomInt(0, 60000);

export class Device {
    // policy for CON messages from the server that carry a code (separate responses,
    // notifications): 'ack' (default), 'rst', or 'ignore' — per token via setPolicy.
    constructor() {
        this.sock = dgram.createSocket('udp4');
        this.inbox = [];
        this.log = [];       // every message received, in order
        this.waiters = new Set();
        this.policy = new Map();
        this.defaultPolicy = 'ack';
        this.mid = (midSeed += 1000) % 65000;
        this.sock.on('message', (buf) => {
            let m;
            try { m = decode(buf); } catch { return; }
            m.at = Date.now();
            this.log.push(m);
            if (m.type === CON && m.code !== 0) {
                const p = this.policy.get(m.token.toString('hex')) ?? this.defaultPolicy;
                if (p === 'ack') this.sendRaw(encode({ type: ACK, code: 0, mid: m.mid }));
                else if (p === 'rst') this.sendRaw(encode({ type: RST, code: 0, mid: m.mid }));
                m.answered = p;
            }
            this.inbox.push(m);
            for (const w of this.waiters) w();
        });
    }

    async open() {
        await new Promise((r) => this.sock.bind(0, HOST, r));
        this.port = this.sock.address().port;
        return this;
    }
    close() { try { this.sock.close(); } catch { /* already */ } }

    nextMid() { this.mid = (this.mid + 1) % 65536; return this.mid; }
    sendRaw(buf) { return new Promise((r) => this.sock.send(buf, env.udpPort, HOST, r)); }
    setPolicy(token, p) { this.policy.set(Buffer.from(token).toString('hex'), p); }

    // receive(pred, ms): the next message of the inbox matching pred (removed), or null.
    async receive(pred = () => true, ms = 3000) {
        const deadline = Date.now() + ms;
        for (;;) {
            const i = this.inbox.findIndex(pred);
            if (i >= 0) return this.inbox.splice(i, 1)[0];
            const left = deadline - Date.now();
            if (left <= 0) return null;
            await new Promise((r) => {
                const w = () => { clearTimeout(t); this.waiters.delete(w); r(); };
                const t = setTimeout(w, left);
                this.waiters.add(w);
            });
        }
    }
    // drain(ms): waits ms and returns (and removes) everything that arrived.
    async drain(ms) {
        await sleep(ms);
        return this.inbox.splice(0, this.inbox.length);
    }

    // request(opts): one request as firmware sends it. Resolves with
    //   {response, ack, piggybacked, emptyAck, mid, token, elapsed}
    // response: the first message carrying a code for this exchange (piggy-backed ACK or
    // separate response by token), null when none came within timeoutMs.
    async request({ method = 'GET', path, query, type = CON, token, options = [], payload, cf, observe, accept,
        timeoutMs = 3000, mid, code } = {}) {
        token = token ?? crypto.randomBytes(4);
        mid = mid ?? this.nextMid();
        const opts = [...(path !== undefined ? pathOptions(path) : []), ...queryOptions(query), ...options];
        if (cf !== undefined) opts.push([OPT.CONTENT_FORMAT, cf]);
        if (accept !== undefined) opts.push([OPT.ACCEPT, accept]);
        if (observe !== undefined) opts.push([OPT.OBSERVE, observe]);
        const body = payload === undefined ? undefined : Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
        const t0 = Date.now();
        await this.sendRaw(encode({ type, code: code ?? METHODS[method], mid, token, options: opts, payload: body }));
        const out = { mid, token, response: null, ack: null, piggybacked: false, emptyAck: false, t0 };
        const deadline = t0 + timeoutMs;
        const tk = token.toString('hex');
        if (type === CON) {
            const first = await this.receive((m) => ((m.type === ACK || m.type === RST) && m.mid === mid) ||
                (m.code !== 0 && m.type !== ACK && m.token.toString('hex') === tk), timeoutMs);
            if (first && first.type === ACK && first.mid === mid) {
                out.ack = first;
                if (first.code !== 0) { out.response = first; out.piggybacked = true; }
                else out.emptyAck = true;
            } else if (first && first.type === RST) {
                out.rst = first;
                out.elapsed = Date.now() - t0;
                return out;
            } else if (first) {
                out.response = first;
            }
        }
        if (!out.response) {
            out.response = await this.receive((m) => m.code !== 0 && m.type !== ACK && m.token.toString('hex') === tk,
                Math.max(0, deadline - Date.now()));
        }
        out.elapsed = Date.now() - t0;
        return out;
    }

    // next(token, ms): the next message with this token (a notification), or null.
    next(token, ms = 3000) {
        const tk = Buffer.from(token).toString('hex');
        return this.receive((m) => m.code !== 0 && m.token.toString('hex') === tk, ms);
    }

    // blockwise GET: asks for block 0, 1, ... with the given size until M=0; returns
    // {body, responses} (responses: every block's message). Any non-2.05 ends it. Like any
    // RFC 7959 client it goes on with the block size the server answered with (a server may
    // choose smaller blocks, e.g. for an address it has not verified yet).
    async getBlocks({ path, query, size = 64, type = CON, timeoutMs = 3000, maxBlocks = 100000 }) {
        const parts = [], responses = [];
        let num = 0;
        for (let i = 0; i < maxBlocks; ++i) {
            const r = await this.request({ path, query, type, options: [[OPT.BLOCK2, blockValue(num, false, size)]], timeoutMs });
            if (!r.response) throw new Error(`no answer to block ${num} of ${path}`);
            responses.push(r.response);
            if (r.response.codeText !== '2.05') break;
            parts.push(r.response.payload);
            if (!r.response.block2 || !r.response.block2.more) break;
            num = r.response.block2.num + 1;
            size = r.response.block2.size;
        }
        return { body: Buffer.concat(parts), responses };
    }

    // POST with Block1 (blocks of `size`), as firmware uploads a large body; resolves with the
    // final request's result (2.31 Continue answers are checked on the way).
    async postBlocks({ path, query, payload, size = 64, timeoutMs = 3000, cf }) {
        const body = Buffer.from(payload);
        const n = Math.ceil(body.length / size);
        let last;
        const continues = [];
        for (let num = 0; num < n; ++num) {
            const more = num < n - 1;
            last = await this.request({ method: 'POST', path, query, cf, payload: body.subarray(num * size, (num + 1) * size),
                options: [[OPT.BLOCK1, blockValue(num, more, size)]], timeoutMs });
            if (more) {
                continues.push(last.response);
                if (!last.response || last.response.codeText !== '2.31') return { ...last, continues, failedAt: num };
            }
        }
        return { ...last, continues };
    }
}

export async function device() { return new Device().open(); }

// res(r): short description of a request's outcome for failure messages.
export const res = (r) => (r?.response ? r.response.describe() : r?.rst ? 'RST' : r?.emptyAck ? 'empty ACK, then nothing' : 'nothing');
// code(r): '2.01', ... or 'none'.
export const code = (r) => r?.response?.codeText ?? 'none';

// isDiagnostic(msg): a non-empty UTF-8 text payload (RFC 7252 §5.5.2).
export function isDiagnostic(msg) {
    if (!msg || msg.payload.length === 0) return false;
    const s = msg.payload.toString('utf8');
    return !s.includes('\uFFFD') && s.trim().length > 0;
}

// checkError(r, code, what): the response is CODE with a diagnostic payload.
export function checkError(r, wantCode, what) {
    const ok = code(r) === wantCode && isDiagnostic(r.response);
    return check(ok, `${what} -> ${wantCode} with a diagnostic`, `${wantCode} + text`, res(r));
}

// tdev(token): path helper for /api/v1/{token}/...
export const tp = (token, ...rest) => ['api', 'v1', token, ...rest];

// body(msg): the payload parsed with parseJson (numbers as JNum); undefined if not JSON.
export function body(msg) {
    if (!msg) return undefined;
    try { return parseJson(msg.text); } catch { return undefined; }
}

// waitFor(fn, ms, every): polls an async predicate until it returns a truthy value.
export async function waitFor(fn, ms = 5000, every = 100) {
    const deadline = Date.now() + ms;
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() >= deadline) return v;
        await sleep(every);
    }
}
