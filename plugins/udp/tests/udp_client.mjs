// UDP load for udp_kernel_test.sh: several client sockets send bursts to the echo-sink
// plugin behind the udp transport, and check every echo. Prints one JSON summary line.
// usage: node udp_client.mjs <port> <4|6> <clients> <bursts> <burst_size>
import dgram from 'node:dgram';

const [port, family, clients, bursts, burstSize] = process.argv.slice(2).map(Number);
const host = family === 6 ? '::1' : '127.0.0.1';
const type = family === 6 ? 'udp6' : 'udp4';
const deadline = setTimeout(() => finish('timeout'), 10000);

const sockets = [];
const expected = new Map(); // "<port>:<payload>" -> true while unanswered
const shardsByPort = {};
let sent = 0, received = 0, unexpected = 0, bytes = 0;

function finish(why) {
    clearTimeout(deadline);
    for (const s of sockets) s.close();
    console.log(JSON.stringify({ why, sent, received, unexpected, bytes, missing: expected.size, shardsByPort }));
    process.exit(0);
}

async function bound(s) {
    return new Promise((resolve, reject) => {
        s.once('error', reject);
        s.bind(0, host, () => resolve());
    });
}

for (let c = 0; c < clients; ++c) {
    const s = dgram.createSocket(type);
    await bound(s);
    const me = s.address().port;
    shardsByPort[me] = [];
    s.on('message', (msg) => {
        const text = msg.toString('latin1');
        const bar = text.indexOf('|');
        const key = `${me}:${text.slice(bar + 1)}`;
        if (bar < 0 || !expected.has(key)) { ++unexpected; return; }
        expected.delete(key);
        ++received;
        const shard = text.slice(0, bar);
        if (!shardsByPort[me].includes(shard)) shardsByPort[me].push(shard);
        if (expected.size === 0 && sent === clients * bursts * burstSize) finish('done');
    });
    sockets.push(s);
}

for (let b = 0; b < bursts; ++b) {
    for (const s of sockets) {
        const me = s.address().port;
        for (let k = 0; k < burstSize; ++k) {
            // payload sizes vary: 1 .. ~1200 bytes
            const body = `b${b}k${k}-` + 'x'.repeat((b * 131 + k * 17) % 1200);
            expected.set(`${me}:${body}`, true);
            bytes += body.length;
            s.send(body, port, host);
            ++sent;
        }
    }
    // let the burst drain so a small socket buffer does not drop it
    await new Promise((r) => setTimeout(r, 20));
}
