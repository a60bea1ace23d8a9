// Shared pieces of the power-saving black-box tests: a simulated sleeping device on top of the
// device API tests' raw CoAP endpoint (tests/device_api/lib/dapi.mjs). A Sleeper is one UDP
// socket, like one NB-IoT modem: it observes attributes and RPC, posts telemetry, and can stop
// answering (silent(): no ACK, no RST, as a modem whose radio is off) while it counts every
// datagram the server sends it, decodable or not.
import {
    Device, check, code, res, tp, api, apiOk, enc, body, plain, waitFor, metric,
} from '../../device_api/lib/dapi.mjs';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';

export * from '../../device_api/lib/dapi.mjs';

export class Sleeper extends Device {
    constructor() {
        super();
        this.datagrams = 0;  // every datagram received, before decoding
        this.sock.on('message', () => { ++this.datagrams; });
    }

    // silent(): the radio is off: nothing is answered from now on (received datagrams are
    // still counted and kept in the log, to prove none came).
    silent() { this.defaultPolicy = 'ignore'; }
    // awake(): CON messages from the server are acknowledged again; what arrived while silent
    // leaves the inbox (a modem with its radio off never saw it; the log keeps it).
    awake() {
        this.defaultPolicy = 'ack';
        this.inbox.length = 0;
    }

    // mark(): a position in the log; since(mark): the messages received after it.
    mark() { return { log: this.log.length, datagrams: this.datagrams, at: Date.now() }; }
    since(m) { return this.log.slice(m.log); }
    datagramsSince(m) { return this.datagrams - m.datagrams; }

    // observe(token, what): GET + Observe 0 on /attributes or /rpc (CON); returns the
    // observation's token; the registration's answer must be 2.05 (attributes) / 2.03 (rpc).
    async observe(token, what) {
        const t = crypto.randomBytes(6);
        const r = await this.request({ path: tp(token, what), observe: 0, token: t });
        const want = what === 'rpc' ? '2.03' : '2.05';
        check(code(r) === want && r.response.observe === 0, `observe /api/v1/T/${what} -> ${want} Observe 0`, want, res(r));
        return t;
    }

    // uplink(token, values): POST telemetry, must get 2.01.
    async uplink(token, values) {
        const r = await this.request({ method: 'POST', path: tp(token, 'telemetry'), payload: values });
        check(code(r) === '2.01', `uplink POST telemetry ${JSON.stringify(values)} -> 2.01`, '2.01', res(r));
        return r;
    }

    // answerRpc(token, msg, result): the device's reply to an RPC notification.
    async answerRpc(token, msg, result = { ok: true }) {
        const id = plain(body(msg))?.id;
        if (!check(Number.isInteger(id), 'an RPC notification to reply to', 'an RPC', msg?.describe())) return undefined;
        const r = await this.request({ method: 'POST', path: tp(token, 'rpc', String(id)), payload: result });
        check(code(r) === '2.01', `reply to RPC ${id} -> 2.01`, '2.01', res(r));
        return id;
    }
}

export async function sleeper() { return new Sleeper().open(); }

// A server-side RPC made by an operator that does not wait for the device (202 QUEUED).
export const rpcPath = (name) => `/api/devices/${enc(name)}/rpc`;
export const sendRpc = (name, req) => apiOk('POST', rpcPath(name), { wait: false, timeout: 30000, ...req }, [200, 202]);
export const getRpc = async (name, id) => (await api('GET', `${rpcPath(name)}/${id}`)).json;
export const rpcStatus = async (name, id) => (await getRpc(name, id))?.status;
export const waitRpcStatus = (name, id, status, ms = 5000) =>
    waitFor(async () => (await rpcStatus(name, id)) === status, ms, 100);

// The RPC requests' ids and methods of a list of notifications.
export const rpcIds = (msgs) => msgs.map((m) => plain(body(m))?.id);

// describeAll(msgs): one line per message, for failure output.
export const describeAll = (msgs) => msgs.map((m) => `+${m.at - (msgs[0]?.at ?? m.at)}ms ${m.describe()}`);

// distinct(msgs): messages with the same MID counted once (a CON and its retransmissions).
export const distinctMids = (msgs) => new Set(msgs.map((m) => m.mid)).size;

// observations(): the engine's live observations (every device of this server).
export const observations = () => metric('coap_observations');

// tern(...args): the `tern` CLI against this server (DAPI_TERN_BIN, DAPI_MANIFEST set by
// run_power_test.sh); {status, out} with stdout and stderr together.
export function tern(...args) {
    const r = spawnSync(process.env.DAPI_TERN_BIN, [...args, '--config', process.env.DAPI_MANIFEST], { encoding: 'utf8', timeout: 20000 });
    return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}
