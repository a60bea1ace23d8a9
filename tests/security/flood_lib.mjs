// Spoofed-source floods for the security tests: datagrams sent from many loopback source
// addresses (Linux accepts any 127/8 address on lo), each from a socket bound to that
// address, a few hundred sockets at a time. What the server answers them is ignored.
import dgram from 'node:dgram';
import { env, HOST, Device } from '../device_api/lib/dapi.mjs';

// spread(n): the n-th source in its own small network: 127.<60+n/5000>.<(n/20)%250>.<1+n%20>
// (20 sources per /24, so no single network reaches its share of the peer table).
export const spread = (n) => `127.${60 + Math.floor(n / 5000)}.${Math.floor(n / 20) % 250}.${1 + (n % 20)}`;

// floodFrom(list): list of {addr, port?, bufs: [Buffer]}; each entry sends its datagrams
// from one socket bound to addr (port 0: any). Resolves when everything was sent.
export async function floodFrom(list, batch = 200) {
    for (let i = 0; i < list.length; i += batch) {
        const socks = [];
        await Promise.all(list.slice(i, i + batch).map(async ({ addr, port = 0, bufs }) => {
            const s = dgram.createSocket('udp4');
            socks.push(s);
            s.on('message', () => {});
            await new Promise((resolve, reject) => {
                s.once('error', reject);
                s.bind(port, addr, () => { s.removeListener('error', reject); resolve(); });
            });
            s.on('error', () => {});
            for (const b of bufs) await new Promise((r) => s.send(b, env.udpPort, HOST, r));
        }));
        // let the server read this batch before the next one (the flood is about state,
        // not about overrunning the socket buffer)
        await new Promise((r) => setTimeout(r, 20));
        for (const s of socks) s.close();
    }
}

// deviceAt(addr): a firmware-like Device (tests/device_api/lib) whose socket is bound to addr.
export async function deviceAt(addr) {
    const d = new Device();
    await new Promise((r) => d.sock.bind(0, addr, r));
    d.port = d.sock.address().port;
    return d;
}
