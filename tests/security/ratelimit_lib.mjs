// Shared pieces of the rate-limit, negative-cache and provisioning security tests: the
// device API harness of tests/device_api (admin API, metrics, CoAP codec) and a raw CoAP
// client bound to a chosen loopback source address (127.x.y.z works on lo without setup),
// so one test can be many hosts.
import dgram from 'node:dgram';
import crypto from 'node:crypto';
import { encode, decode, pathOptions, METHODS, CON, ACK, OPT, bytesUint, env, sleep } from '../device_api/lib/dapi.mjs';

export * from '../device_api/lib/dapi.mjs';

// A CoAP client on its own socket bound to `address`; request() sends one CON request and
// waits for its piggy-backed (or separate) response.
export class Source {
    constructor(address) {
        this.address = address;
        this.sock = dgram.createSocket('udp4');
        this.waiting = new Map();  // token hex -> resolve
        this.mid = crypto.randomInt(0, 65535);
        this.sock.on('message', (buf) => {
            let m;
            try { m = decode(buf); } catch { return; }
            if (m.code === 0) return;  // empty ACK: a separate response follows
            if (m.type === CON) this.sock.send(encode({ type: ACK, code: 0, mid: m.mid }), env.udpPort, '127.0.0.1');
            const k = m.token.toString('hex');
            const w = this.waiting.get(k);
            if (w) { this.waiting.delete(k); w(m); }
        });
    }
    open() { return new Promise((resolve, reject) => { this.sock.once('error', reject); this.sock.bind(0, this.address, () => resolve(this)); }); }
    close() { try { this.sock.close(); } catch { /* closed */ } }

    // request({method, path, payload, timeoutMs}): the response message, or null.
    request({ method = 'POST', path, payload, timeoutMs = 3000 }) {
        const token = crypto.randomBytes(4);
        this.mid = (this.mid + 1) % 65536;
        const body = payload === undefined ? undefined : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
        const msg = encode({ type: CON, code: METHODS[method], mid: this.mid, token, options: pathOptions(path), payload: body });
        return new Promise((resolve) => {
            const k = token.toString('hex');
            const t = setTimeout(() => { this.waiting.delete(k); resolve(null); }, timeoutMs);
            this.waiting.set(k, (m) => { clearTimeout(t); resolve(m); });
            this.sock.send(msg, env.udpPort, '127.0.0.1');
        });
    }
}

export async function source(address) { return new Source(address).open(); }

// maxAge(m): the response's Max-Age option in seconds (undefined when absent).
export const maxAge = (m) => (m && m.has(OPT.MAX_AGE) ? bytesUint(m.option(OPT.MAX_AGE)) ?? 0 : undefined);

// The tally of codes over many responses ('none' when no answer came).
export function tally(responses) {
    const t = {};
    for (const r of responses) {
        const c = r ? r.codeText : 'none';
        t[c] = (t[c] ?? 0) + 1;
    }
    return t;
}

