// Spec §4.2 (client-side RPC) and §0.1 (a slow answer: empty ACK, then a separate response
// of the request's type). The server runs with plugins.device_api.client_rpc_timeout =
// 3000 ms so that "no reply -> no response" is checked in bounded time.
import {
    section, check, checkEq, done, device, createDevice, tp, code, res, checkError, plain, body, api, apiOk,
    waitFor, sleep, CON, NON,
} from './lib/dapi.mjs';

const COAP_TIMEOUT_MS = 3000;
const d = await device();
const call = (token, payload, opts = {}) => d.request({ method: 'POST', path: tp(token, 'rpc'), payload, ...opts });

// operatorCall(deviceName, method): waits for the queued call in GET /api/client-rpc.
async function operatorCall(name, method) {
    return waitFor(async () => ((await api('GET', '/api/client-rpc')).json?.calls ?? []).find((c) => c.device === name && c.method === method), 4000, 50);
}

await section('§4.2 built-in getCurrentTime: 2.05 piggy-backed, Content-Format 50, {"time":now}', async () => {
    const { token } = await createDevice();
    const t0 = Date.now();
    const r = await call(token, { method: 'getCurrentTime', params: {} });
    const b = plain(body(r.response));
    check(code(r) === '2.05' && r.piggybacked, 'POST rpc getCurrentTime -> 2.05 in the ACK', '2.05 ACK', res(r));
    check(r.response?.contentFormat === 50, 'Content-Format 50', 50, r.response?.contentFormat);
    check(typeof b?.time === 'number' && b.time >= t0 - 2000 && b.time <= Date.now() + 2000, '{"time": server time in ms}', `~${t0}`, r.response?.text);
    const n = await call(token, { method: 'getCurrentTime' }, { type: NON });
    check(code(n) === '2.05' && n.response.type === NON, 'NON request -> NON 2.05', 'NON 2.05', res(n));
    const e = await call(token, { method: 'getCurrentTime' }, { cf: 50 });
    check(e.response?.contentFormat === 50, 'request Content-Format 50 echoed', 50, e.response?.contentFormat);
});

await section('§4.2 params optional (-> null); ping echoes them', async () => {
    const { token } = await createDevice();
    let r = await call(token, { method: 'ping', params: { a: [1, 'x'] } });
    checkEq(plain(body(r.response)), { pong: { a: [1, 'x'] } }, 'ping with params -> {"pong":params}');
    r = await call(token, { method: 'ping' });
    check(code(r) === '2.05' && r.response.text.replace(/\s/g, '') === '{"pong":null}', 'ping without params -> {"pong":null}', '{"pong":null}', res(r));
});

await section('§4.2/§0.1 operator-answered call: slow reply -> empty ACK, then a CON 2.05 with the reply', async () => {
    const { name, token } = await createDevice();
    const pending = call(token, { method: 'getWeather', params: { city: 'Oslo' } }, { timeoutMs: COAP_TIMEOUT_MS + 2000 });
    const c = await operatorCall(name, 'getWeather');
    check(c && JSON.stringify(c.params) === '{"city":"Oslo"}', 'the call is queued for the operator with its params', 'getWeather {"city":"Oslo"}', c);
    await sleep(900); // past piggyback_timeout (500 ms)
    const rep = await api('POST', `/api/client-rpc/${c?.id}/reply`, { temp: -3, unit: 'C' });
    check(rep.status === 200, 'operator reply accepted', 200, `${rep.status} ${rep.text}`);
    const r = await pending;
    const ackAfter = r.ack ? r.ack.at - r.t0 : undefined;
    check(r.emptyAck && ackAfter >= 300 && ackAfter <= 2000, 'the request got an empty ACK first, at the piggyback deadline (500 ms)',
        'empty ACK after ~500 ms', `${r.ack?.describe()} after ${ackAfter} ms`);
    check(code(r) === '2.05' && r.response.type === CON, 'then a separate CON 2.05 (the request\'s type)', 'CON 2.05', res(r));
    checkEq(plain(body(r.response)), { temp: -3, unit: 'C' }, 'payload: the operator\'s reply');
    check(r.response?.contentFormat === 50, 'Content-Format 50', 50, r.response?.contentFormat);
    check(r.response?.answered === 'ack', 'the device ACKed it', 'ack', r.response?.answered);
});

await section('§4.2 the reply can be any JSON value; NON request gets a NON answer', async () => {
    const { name, token } = await createDevice();
    const pending = call(token, { method: 'answerNumber' }, { type: NON, timeoutMs: COAP_TIMEOUT_MS });
    const c = await operatorCall(name, 'answerNumber');
    check(c && c.params === null, 'queued with params null', null, c?.params);
    await api('POST', `/api/client-rpc/${c?.id}/reply`, 42);
    const r = await pending;
    check(code(r) === '2.05' && r.response.type === NON && r.response.text.trim() === '42', 'NON 2.05 with payload 42', 'NON 2.05 42', res(r));
});

await section('§4.2 no reply within the timeout -> no response at all (only the empty ACK)', async () => {
    const { name, token } = await createDevice();
    const pending = call(token, { method: 'neverAnswered' }, { timeoutMs: COAP_TIMEOUT_MS + 3000 });
    const c = await operatorCall(name, 'neverAnswered');
    check(!!c, 'the call is queued', 'queued', c);
    const r = await pending;
    check(r.emptyAck && r.response === null, 'empty ACK and then nothing', 'empty ACK only', res(r));
});

await section('§1.3 client RPC request without "method" or not JSON -> 5.00 with a diagnostic', async () => {
    const { token } = await createDevice();
    checkError(await call(token, { params: {} }), '5.00', 'POST rpc {"params":{}} (no method)');
    checkError(await call(token, Buffer.from('{"method":')), '5.00', 'POST rpc with bad JSON');
});

d.close();
done();
