// A PSM device of a protobuf profile (ThingsBoard's default schemas, docs/device-api.md §8): what
// is held while it sleeps reaches it on wake in the messages its firmware decodes: ONE
// transport.AttributeUpdateNotificationMsg with the newest value per key in sharedUpdated and
// every deleted key in sharedDeleted, then the RPCs as rpc.RpcRequestMsg in order. Every payload
// is decoded by `protoc --decode` with the protobuf tests' copies of the messages.
import {
    section, check, checkEq, done, sleeper, createDevice, createProfile, uniqueName, setShared, deleteShared, sleep,
    sendRpc, waitRpcStatus, rpcStatus, describeAll, tp, code, res,
} from './lib/sleeper.mjs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const T = 1500;
const SCHEMAS = path.join(process.env.TERN_SOURCE_DIR ?? path.resolve(import.meta.dirname, '../..'), 'plugins/protobuf/tests/blackbox/schemas');

// protocDecode(type, file, bytes): the text format protoc prints, or throws with its complaint.
function protocDecode(type, file, bytes) {
    const r = spawnSync('protoc', [`--decode=${type}`, `-I${SCHEMAS}`, file], { input: bytes, encoding: 'utf8', timeout: 10000 });
    if (r.status !== 0) throw new Error(`protoc --decode=${type}: ${r.stderr}`);
    return r.stdout;
}
// The updated keys ({key: "TYPE value"}) and deleted keys of a decoded notification.
function notificationOf(text) {
    const updated = {};
    for (const m of text.matchAll(/kv \{\s*key: "([^"]*)"\s*(?:type: (\w+)\s*)?(\w+_v): ([^\n]*)\n/g)) updated[m[1]] = `${m[2] ?? 'BOOLEAN_V'} ${m[4]}`;
    const deleted = [...text.matchAll(/sharedDeleted: "([^"]*)"/g)].map((m) => m[1]).sort();
    return { updated, deleted };
}
// A telemetry message of ThingsBoard's default schema: temperature (field 1, double).
const telemetry = (t) => {
    const b = Buffer.alloc(9);
    b[0] = 0x09;
    b.writeDoubleLE(t, 1);
    return b;
};

await section('PSM, protobuf profile: one merged AttributeUpdateNotificationMsg and the RPCs on wake', async () => {
    const profile = uniqueName('psm-pb');
    await createProfile({ name: profile, transport: 'COAP', payload: 'PROTOBUF', power: { mode: 'PSM', psmActivityTimer: T } });
    const d = await sleeper();
    const { name, token } = await createDevice(uniqueName('psm-pb-dev'), { profile });
    await setShared(name, { keep: 1, gone: 'old' });
    const ta = await d.observe(token, 'attributes');
    const tr = await d.observe(token, 'rpc');
    const up1 = await d.request({ method: 'POST', path: tp(token, 'telemetry'), payload: telemetry(21.5), cf: 42 });
    check(code(up1) === '2.01', 'protobuf telemetry -> 2.01', '2.01', res(up1));
    d.silent();
    await sleep(T + 700);

    const m0 = d.mark();
    await setShared(name, { a: 1, b: 'x' });
    await setShared(name, { a: 2, s: 'text' });
    await deleteShared(name, ['b', 'gone']);
    const r1 = await sendRpc(name, { method: 'first', params: 'p1', oneway: true });
    const r2 = await sendRpc(name, { method: 'second', params: 'p2', oneway: true });
    await sleep(1500);
    check(d.datagramsSince(m0) === 0, 'nothing sent while it sleeps', 0, describeAll(d.since(m0)));

    d.awake();
    const up2 = await d.request({ method: 'POST', path: tp(token, 'telemetry'), payload: telemetry(22.5), cf: 42 });
    check(code(up2) === '2.01', 'the wake: protobuf telemetry -> 2.01', '2.01', res(up2));
    const an = await d.next(ta, 3000);
    check(an?.contentFormat === 42, 'the notification is Content-Format 42', 42, an?.describe());
    const n = notificationOf(protocDecode('transport.AttributeUpdateNotificationMsg', 'transport.proto', an?.payload ?? Buffer.alloc(0)));
    checkEq(n, { updated: { a: 'LONG_V 2', s: 'STRING_V "text"' }, deleted: ['b', 'gone'] },
        'one AttributeUpdateNotificationMsg: a=2, s in sharedUpdated; b and gone in sharedDeleted');
    const more = await d.next(ta, 800);
    check(more === null, 'exactly one', 'nothing', more?.describe());
    const got = [];
    for (let i = 0; i < 2; ++i) {
        const q = await d.next(tr, 3000);
        const text = protocDecode('rpc.RpcRequestMsg', 'tb_default_rpc.proto', q?.payload ?? Buffer.alloc(0));
        got.push([/method: "(\w+)"/.exec(text)?.[1], Number(/requestId: (\d+)/.exec(text)?.[1]), /params: "(\w+)"/.exec(text)?.[1]]);
    }
    checkEq(got, [['first', r1.id, 'p1'], ['second', r2.id, 'p2']], 'the two RPCs as RpcRequestMsg, in order');
    const ok = await waitRpcStatus(name, r1.id, 'SUCCESSFUL') && await waitRpcStatus(name, r2.id, 'SUCCESSFUL');
    check(ok, 'both one-way RPCs end SUCCESSFUL on their ACKs', 'SUCCESSFUL x2', [await rpcStatus(name, r1.id), await rpcStatus(name, r2.id)]);
    d.close();
}, 30000);

done();
