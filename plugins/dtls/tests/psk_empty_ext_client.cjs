// A DTLS 1.2 PSK device as small stacks build it, for psk_empty_ext_test.sh: the npm package
// node-dtls-client (a DTLS 1.2 PSK-only client of its own, no OpenSSL or wolfSSL inside), made
// to send its ClientHello with an extensions block that is present but empty (length 0x0000),
// as some PSK device stacks do; left alone it leaves the block out.
//
//   node psk_empty_ext_client.cjs PORT IDENTITY KEY_TEXT CIPHER EXTENSIONS PAYLOAD
//
// EXTENSIONS is "empty" (the block present with length 0) or "absent" (no block at all).
// KEY_TEXT is the key as text (node-dtls-client's form; the server stores its bytes).
// The client talks to the server through a UDP relay in this process, which records every
// datagram both ways; after the handshake it POSTs PAYLOAD (JSON) as a CON request to
// /api/v1/telemetry (retransmitted until answered) and prints what it saw:
//   client_hello cookie=N extensions=empty|absent|<bytes> suites=0xc0a8,...
//   server_flight hello_verify_request server_hello server_hello_done ...
//   cipher <suite>
//   response <code> (e.g. response 2.01)
// Exit 0 when a response came back, 1 otherwise (the reason on stderr), 2 on bad usage.
'use strict';
const dgram = require('node:dgram');
const path = require('node:path');
const crypto = require('node:crypto');

const interopModules = path.join(process.env.TERN_SOURCE_DIR || path.join(__dirname, '../../..'),
    'tests/interop/node_modules');
let dtls, Handshake;
try {
    ({ dtls } = require(path.join(interopModules, 'node-dtls-client')));
    Handshake = require(path.join(interopModules, 'node-dtls-client/build/DTLS/Handshake.js'));
} catch (e) {
    console.error(`psk_empty_ext_client: node-dtls-client is not installed in ${interopModules}` +
        ' (tools/dev.sh deps, or: cd tests/interop && npm ci): ' + e.message);
    process.exit(2);
}

const [portText, identity, keyText, cipher, extensions, payload] = process.argv.slice(2);
const serverPort = Number(portText);
if (!serverPort || !identity || !keyText || !cipher || !['empty', 'absent'].includes(extensions) ||
    payload === undefined) {
    console.error('usage: node psk_empty_ext_client.cjs PORT IDENTITY KEY_TEXT CIPHER empty|absent PAYLOAD');
    process.exit(2);
}

// node-dtls-client declares the ClientHello's extensions vector optional: an empty one is
// left out of the message. Declared mandatory, the empty vector is written as its 2-byte
// length 0. The spec object is shared by every ClientHello this process builds (the first
// one and the one that returns the cookie), and the handshake hash covers the same bytes.
if (extensions === 'empty') Handshake.ClientHello.__spec.extensions.optional = false;

const host = '127.0.0.1';
const captured = []; // { from: 'client' | 'server', data: Buffer }

// ---- the relay: client <-> relay socket | upstream socket <-> server --------------------
const front = dgram.createSocket('udp4');
const upstream = dgram.createSocket('udp4');
let clientAddr = null;
front.on('message', (msg, rinfo) => {
    clientAddr = rinfo;
    captured.push({ from: 'client', data: Buffer.from(msg) });
    upstream.send(msg, serverPort, host);
});
upstream.on('message', (msg) => {
    captured.push({ from: 'server', data: Buffer.from(msg) });
    if (clientAddr) front.send(msg, clientAddr.port, clientAddr.address);
});

// ---- reading the captured handshake ------------------------------------------------------
const handshakeNames = {
    1: 'client_hello', 2: 'server_hello', 3: 'hello_verify_request', 11: 'certificate',
    12: 'server_key_exchange', 13: 'certificate_request', 14: 'server_hello_done',
    16: 'client_key_exchange', 20: 'finished',
};

// The epoch-0 handshake messages of a datagram (records of content type 22, epoch 0; each
// message's 12-byte DTLS header, body only when the fragment is whole).
function plainHandshakes(datagram) {
    const out = [];
    for (let off = 0; off + 13 <= datagram.length;) {
        const type = datagram[off];
        const epoch = datagram.readUInt16BE(off + 3);
        const len = datagram.readUInt16BE(off + 11);
        const body = datagram.subarray(off + 13, off + 13 + len);
        off += 13 + len;
        if (type !== 22 || epoch !== 0) continue;
        for (let m = 0; m + 12 <= body.length;) {
            const msgType = body[m];
            const fragLen = body.readUIntBE(m + 9, 3);
            out.push({ type: msgType, body: body.subarray(m + 12, m + 12 + fragLen) });
            m += 12 + fragLen;
        }
    }
    return out;
}

// What a ClientHello body carries after its fixed fields.
function describeClientHello(b) {
    let off = 2 + 32;                 // client_version, random
    off += 1 + b[off];                // session_id
    const cookieLen = b[off];
    off += 1 + cookieLen;             // cookie
    const suitesLen = b.readUInt16BE(off);
    const suites = [];
    for (let i = 0; i < suitesLen; i += 2) suites.push('0x' + b.readUInt16BE(off + 2 + i).toString(16).padStart(4, '0'));
    off += 2 + suitesLen;
    off += 1 + b[off];                // compression_methods
    let ext;
    if (off === b.length) ext = 'absent';
    else if (off + 2 === b.length && b.readUInt16BE(off) === 0) ext = 'empty';
    else ext = `${b.length - off}-bytes`;
    return `client_hello cookie=${cookieLen} extensions=${ext} suites=${suites.join(',')}`;
}

function report() {
    const serverTypes = [];
    for (const { from, data } of captured) {
        for (const h of plainHandshakes(data)) {
            if (from === 'client' && h.type === 1) console.log(describeClientHello(h.body));
            if (from === 'server') serverTypes.push(handshakeNames[h.type] || `type_${h.type}`);
        }
    }
    console.log(`server_flight ${serverTypes.join(' ')}`);
}

// ---- the CoAP request ----------------------------------------------------------------------
function telemetryRequest(messageId, token) {
    const option = (delta, value) => Buffer.concat([Buffer.from([(delta << 4) | value.length]), value]);
    return Buffer.concat([
        Buffer.from([0x40 | token.length, 0x02, messageId >> 8, messageId & 0xff]), // CON POST
        token,
        option(11, Buffer.from('api')),              // Uri-Path
        option(0, Buffer.from('v1')),
        option(0, Buffer.from('telemetry')),
        option(1, Buffer.from([50])),                // Content-Format: application/json
        Buffer.from([0xff]),
        Buffer.from(payload),
    ]);
}

function codeText(byte) { return `${byte >> 5}.${String(byte & 0x1f).padStart(2, '0')}`; }

let finished = false;
function finish(rc, why) {
    if (finished) return;
    finished = true;
    report();
    if (why) console.error(`psk_empty_ext_client: ${why}`);
    clearTimeout(overall);
    const done = () => { front.close(); upstream.close(); process.exit(rc); };
    try { socket.close(done); } catch (e) { done(); }
    setTimeout(done, 1000).unref();
}
const overall = setTimeout(() => finish(1, 'no response within 20 s'), 20000);

let socket;
function start() {
    socket = dtls.createSocket({
        type: 'udp4', address: host, port: front.address().port,
        psk: { [identity]: keyText }, ciphers: [cipher], timeout: 15000,
    });
    const messageId = crypto.randomInt(0, 0x10000);
    const token = crypto.randomBytes(4);
    const request = telemetryRequest(messageId, token);
    let resend = null;
    socket.on('connected', () => {
        console.log(`cipher ${cipher}`);
        let tries = 0;
        const send = () => {
            if (++tries > 5) return finish(1, 'no CoAP response after 5 transmissions');
            socket.send(request);
            resend = setTimeout(send, 2000);
        };
        send();
    });
    socket.on('message', (msg) => {
        if (msg.length < 4 || msg.readUInt16BE(2) !== messageId) return;
        clearTimeout(resend);
        console.log(`response ${codeText(msg[1])}`);
        finish(0);
    });
    socket.on('error', (e) => finish(1, `DTLS error: ${e.message}`));
    socket.on('close', () => finish(1, 'the DTLS connection closed'));
}

let bound = 0;
const ready = () => { if (++bound === 2) start(); };
front.bind(0, host, ready);
upstream.bind(0, host, ready);
