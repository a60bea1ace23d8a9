// udp_relay.mjs: a UDP relay standing for a NAT between one client and a server, for the
// tests of DTLS Connection ID (plugins/dtls/tests/nat_rebind_test.sh). The client sends to
// the relay's front port; the relay sends on to the server from its current upstream socket,
// and what the server sends to any upstream socket goes back to the client. A test changes
// the client's address as the server sees it by opening a new upstream socket, on a new port
// or a new 127/8 address, as a NAT does when its binding expires.
//
//   node udp_relay.mjs --server PORT --control FILE --log FILE [--lifetime S]
//
// Upstream sockets are named s1, s2, ... in the order they open; s1 is on 127.0.0.1. The
// test appends commands to the control file, one a line, read every 20 ms and done in order:
//   switch ADDR      open the next upstream socket on ADDR (port chosen by the kernel); the
//                    client's datagrams go out of it from now on
//   hold             keep the client's next datagram (not sent on), as a network that delays it
//   release          send the held datagram, from the socket it would have left by
//   replay SOCK N    send again the N-th client datagram (from 1) sent from socket SOCK, from it
//   quit             close everything and exit
// The log (one line per event, appended at once):
//   front port=P | open sK addr=A port=P | c2s sK n=N len=L | s2c sK len=L | holding ... |
//   held sK n=N len=L | released sK n=N | replayed sK n=N len=L | error ...
// The relay exits by itself after --lifetime seconds (default 120), so a failed test that
// forgets it leaves nothing behind.
import dgram from 'node:dgram';
import fs from 'node:fs';

const opts = { lifetime: 120 };
for (let i = 2; i < process.argv.length; i += 2) opts[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
if (!opts.server || !opts.control || !opts.log) {
    process.stderr.write('usage: udp_relay.mjs --server PORT --control FILE --log FILE [--lifetime S]\n');
    process.exit(64);
}
const serverPort = Number(opts.server);
const MAX_KEPT = 1000; // client datagrams kept per socket for replay

const log = (line) => fs.appendFileSync(opts.log, `${line}\n`);
const front = dgram.createSocket('udp4');
const upstream = []; // { name, socket, sent: [Buffer] }
let current = null;
let client = null; // { address, port }: where the client's last datagram came from
let holdNext = false;
let held = null; // { up, n, data }

function openUpstream(address) {
    return new Promise((resolve) => {
        const socket = dgram.createSocket('udp4');
        const up = { name: `s${upstream.length + 1}`, socket, sent: [] };
        socket.on('error', (e) => {
            log(`error ${up.name} ${e.message}`);
            resolve(null);
        });
        socket.on('message', (data) => {
            log(`s2c ${up.name} len=${data.length}`);
            if (client) front.send(data, client.port, client.address);
        });
        socket.bind(0, address, () => {
            upstream.push(up);
            log(`open ${up.name} addr=${address} port=${socket.address().port}`);
            resolve(up);
        });
    });
}

// Sends a client datagram from up, numbering it there; returns its number.
function forward(up, data) {
    if (up.sent.length < MAX_KEPT) up.sent.push(data);
    const n = up.sent.length;
    up.socket.send(data, serverPort, '127.0.0.1');
    return n;
}

front.on('message', (data, rinfo) => {
    client = { address: rinfo.address, port: rinfo.port };
    if (!current) return;
    if (holdNext) {
        holdNext = false;
        if (current.sent.length < MAX_KEPT) current.sent.push(data);
        held = { up: current, n: current.sent.length, data };
        log(`held ${current.name} n=${held.n} len=${data.length}`);
        return;
    }
    const n = forward(current, data);
    log(`c2s ${current.name} n=${n} len=${data.length}`);
});

async function command(line) {
    const [word, a, b] = line.trim().split(/\s+/);
    if (word === 'switch') {
        const up = await openUpstream(a);
        if (up) current = up;
    } else if (word === 'hold') {
        holdNext = true;
        log('holding the next client datagram');
    } else if (word === 'release') {
        if (!held) return log('error release: nothing held');
        held.up.socket.send(held.data, serverPort, '127.0.0.1');
        log(`released ${held.up.name} n=${held.n}`);
        held = null;
    } else if (word === 'replay') {
        const up = upstream.find((u) => u.name === a);
        const data = up?.sent[Number(b) - 1];
        if (!data) return log(`error replay: no datagram ${b} on ${a}`);
        up.socket.send(data, serverPort, '127.0.0.1');
        log(`replayed ${a} n=${b} len=${data.length}`);
    } else if (word === 'quit') {
        stop(0);
    } else if (word) {
        log(`error unknown command: ${line}`);
    }
}

// The control file: complete lines not done yet, in order, one command at a time.
let done = 0;
let busy = false;
async function readControl() {
    if (busy) return;
    busy = true;
    let text = '';
    try {
        text = fs.readFileSync(opts.control, 'utf8');
    } catch {
        // not written yet
    }
    const lines = text.split('\n').slice(0, -1);
    while (done < lines.length) await command(lines[done++]);
    busy = false;
}

function stop(code) {
    for (const up of upstream) up.socket.close();
    front.close();
    process.exit(code);
}

front.bind(0, '127.0.0.1', async () => {
    current = await openUpstream('127.0.0.1');
    log(`front port=${front.address().port}`);
    setInterval(readControl, 20);
    setTimeout(() => {
        log('error lifetime over');
        stop(1);
    }, Number(opts.lifetime) * 1000);
});
