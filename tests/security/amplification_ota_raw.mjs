// Firmware that knows RFC 7252 but not Block2 (simple Arduino CoAP libraries) downloads an
// OTA package in chunks (GET /fw/TOKEN?title&version&size=512&chunk=N) from an address the
// server has never verified. Its request is ~70 bytes, so a 512-byte chunk is over the
// amplification budget (3x): the server holds it, pings the address, and this client's
// stack answers the ping (Empty CON) with RST as RFC 7252 §4.3 requires; the whole chunk
// then comes in the ACK (or, after piggyback_timeout, as a separate CON response, which this
// client handles too). Every chunk must be the package's bytes.
// The same download from a client that never answers the ping still gets no more than 3x
// its bytes per request (limited answers, which a Block2-less client cannot use: that is
// the point of the ping).
//
// Environment: DAPI_* (tests/device_api/device_api.sh), DAPI_TERN_BIN / DAPI_MANIFEST (the
// tern CLI, to assign the package), AMP_FACTOR (default 3).
import dgram from 'node:dgram';
import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import {
    env, HOST, encode, decode, OPT, METHODS, CON, ACK, RST, createDevice, apiOk, enc, uniqueName, check, done,
    section, metric,
} from '../device_api/lib/dapi.mjs';

const FACTOR = Number(process.env.AMP_FACTOR ?? 3);
const CHUNK = 512;

function cli(...args) {
    return new Promise((resolve, reject) => {
        execFile(process.env.DAPI_TERN_BIN, [...args, '--config', process.env.DAPI_MANIFEST], { timeout: 20000 },
            (err, stdout, stderr) => (err ? reject(new Error(`tern ${args.join(' ')}: ${stdout}${stderr}`)) : resolve(stdout)));
    });
}

// A minimal firmware CoAP stack: CON requests one at a time, a piggy-backed or separate
// response matched by token, separate CON responses ACKed, pings answered with RST (or not,
// answerPings = false), no Block2, no Echo.
class rawDevice {
    constructor(answerPings) {
        this.answerPings = answerPings;
        this.sock = dgram.createSocket('udp4');
        this.mid = crypto.randomInt(0, 65536);
        this.inbox = [];
        this.waiter = null;
        this.sent = 0;      // request bytes (ACKs and RSTs not counted)
        this.received = 0;
        this.pings = 0;
        this.sock.on('message', (buf) => {
            this.received += buf.length;
            let m;
            try { m = decode(buf); } catch { return; }
            if (m.type === CON && m.code === 0) {  // a ping (RFC 7252 §4.3)
                this.pings += 1;
                if (this.answerPings) this.raw(encode({ type: RST, code: 0, mid: m.mid }));
                return;
            }
            if (m.type === CON) this.raw(encode({ type: ACK, code: 0, mid: m.mid }));
            this.inbox.push(m);
            if (this.waiter) this.waiter();
        });
    }
    async open() {
        await new Promise((r) => this.sock.bind(0, HOST, r));
        return this;
    }
    close() { this.sock.close(); }
    raw(b, request = false) {
        if (request) this.sent += b.length;
        this.sock.send(b, env.udpPort, HOST);
    }
    // One CON GET, retransmitted per RFC 7252 until ACKed; resolves with the response
    // carrying a code for its token (piggy-backed or separate), or null after timeoutMs.
    async get(options, timeoutMs = 8000) {
        const token = crypto.randomBytes(4);
        const mid = this.mid = (this.mid + 1) & 0xffff;
        const wire = encode({ type: CON, code: METHODS.GET, mid, token, options });
        const deadline = Date.now() + timeoutMs;
        let acked = false;
        let next = Date.now();
        let tries = 0;
        for (;;) {
            const i = this.inbox.findIndex((m) => (m.type === ACK && m.mid === mid) || (m.code !== 0 && m.token.equals(token)));
            if (i >= 0) {
                const m = this.inbox.splice(i, 1)[0];
                if (m.code !== 0 && m.token.equals(token)) return { response: m, request: wire.length, separate: m.type !== ACK };
                acked = true;  // the empty ACK: the response follows separately
                continue;
            }
            if (Date.now() >= deadline) return null;
            if (!acked && Date.now() >= next && tries < 5) {
                this.raw(wire, true);
                tries += 1;
                next = Date.now() + 2000 * 2 ** (tries - 1);
            }
            await new Promise((r) => { this.waiter = r; setTimeout(r, 50); });
            this.waiter = null;
        }
    }
}

const path = (p) => p.split('/').filter((s) => s !== '').map((s) => [OPT.URI_PATH, s]);
const query = (...q) => q.map((s) => [OPT.URI_QUERY, s]);

const { name, token } = await createDevice();
const image = crypto.randomBytes(20000);
const title = uniqueName('rawfw');
const pkg = await apiOk('POST', `/api/ota?title=${enc(title)}&version=1.0&type=firmware`, image, 201, { raw: true });
await cli('ota', 'assign', name, String(pkg.id));
const chunks = Math.ceil(image.length / CHUNK);
const chunkReq = (n) => [...path(`fw/${token}`), ...query(`title=${title}`, 'version=1.0', `size=${CHUNK}`, `chunk=${n}`)];

await section('a Block2-less client that answers pings downloads every 512-byte chunk whole', async () => {
    const pingsBefore = await metric('coap_verification_pings_total', ['result="sent"']);
    const verifiedBefore = await metric('coap_address_verifications_total', ['how="ping"']);
    const d = await new rawDevice(true).open();
    const got = [];
    let bad = 0, separate = 0, firstLen = 0;
    for (let n = 0; n < chunks; ++n) {
        const r = await d.get(chunkReq(n));
        const want = image.subarray(n * CHUNK, Math.min(image.length, (n + 1) * CHUNK));
        if (n === 0) firstLen = r?.request ?? 0;
        if (!r || r.response.codeText !== '2.05' || r.response.has(OPT.BLOCK2) || !r.response.payload.equals(want)) {
            bad += 1;
            if (bad <= 3) console.log(`chunk ${n}: ${r ? `${r.response.describe()} ${r.response.payload.length} bytes` : 'no response'}`);
        }
        if (r?.separate) separate += 1;
        if (r) got.push(r.response.payload);
    }
    d.close();
    check(bad === 0, `all ${chunks} chunks of the 20000-byte image are the package's bytes (no Block2, no short chunk)`, 0, bad);
    check(Buffer.concat(got).equals(image), 'the chunks put together are the image', image.length, Buffer.concat(got).length);
    check(firstLen * FACTOR < CHUNK, `a chunk request (${firstLen} bytes) is too small for a 512-byte answer within ${FACTOR}x: the ping was needed`);
    check(d.pings === 1, 'the address got one ping (then it was verified)', 1, d.pings);
    console.log(`  (${separate} of ${chunks} chunks came as separate responses: the ping's Reset normally returns within piggyback_timeout, so the first chunk rides in the ACK too)`);
    const pings = (await metric('coap_verification_pings_total', ['result="sent"'])) - pingsBefore;
    const verified = (await metric('coap_address_verifications_total', ['how="ping"'])) - verifiedBefore;
    check(pings >= 1 && verified >= 1, 'counted: coap_verification_pings_total{result="sent"} and coap_address_verifications_total{how="ping"}', '>= 1', { pings, verified });
});

await section(`a client that never answers pings gets at most ${FACTOR}x its bytes`, async () => {
    // A forged source looks like this from the server: the ping goes nowhere.
    const d = await new rawDevice(false).open();
    const r = await d.get(chunkReq(3), 10000);
    await new Promise((res) => setTimeout(res, 3000));  // anything the server still sends
    d.close();
    check(r?.response?.codeText === '2.05' && r.response.has(OPT.BLOCK2), 'after ping_timeout: a limited 2.05 (a small Block2 block)', '2.05 with Block2', r?.response?.describe());
    check(d.pings === 1, 'one ping', 1, d.pings);
    check(d.received <= FACTOR * d.sent, `received ${d.received} bytes (empty ACK, ping, answer, any retransmission) for ${d.sent} bytes of request`, `<= ${FACTOR * d.sent}`, d.received);
});

done();
