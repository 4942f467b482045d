#!/usr/bin/env node
// The differential test's packet sender, one long-lived process per lab namespace:
//   ip netns exec NS node sender.mjs SRC4 SRC6
// Starting Node costs ~0.3 s of CPU, so the process is started once and then takes one request per
// line on stdin and answers one line on stdout:
//   request: {"id": N, "holdMs": 50, "cases": [{"dst": "...", "proto": "tcp"|"udp", "port": N}]}
//   answer:  {"id": N, "sent": N, "failures": [{"i": index, "code": "..."}]}
// UDP: one datagram from a socket bound to the endpoint's address. TCP: a non-blocking connect (one
// SYN), held open for holdMs, then destroyed — long before the first retransmission (1 s). Nothing
// waits for an answer: the recorders decide. `failures` are packets the local stack refused to send
// (they never left, so the case cannot be judged). Exits when stdin closes.
import dgram from 'node:dgram';
import net from 'node:net';
import readline from 'node:readline';

const LOCAL_ERRORS = new Set(['ENETUNREACH', 'EINVAL', 'EADDRNOTAVAIL', 'EACCES', 'EPERM', 'EAFNOSUPPORT', 'EADDRINUSE', 'ENOBUFS']);
const [src4, src6] = process.argv.slice(2);

const bind = (type, address) =>
  new Promise((resolve, reject) => {
    const s = dgram.createSocket(type);
    s.once('error', reject);
    s.bind({ address, port: 0, exclusive: true }, () => resolve(s));
  });
const udp = { 4: await bind('udp4', src4), 6: await bind('udp6', src6) };
const payload = Buffer.from('lanfence-diff');

async function send({ id, holdMs = 50, cases }) {
  const failures = [];
  const sends = [];
  const sockets = [];
  cases.forEach((c, i) => {
    const family = c.dst.includes(':') ? 6 : 4;
    if (c.proto === 'udp') {
      sends.push(
        new Promise((resolve) =>
          udp[family].send(payload, c.port, c.dst, (err) => {
            if (err) failures.push({ i, code: err.code ?? String(err) });
            resolve();
          }),
        ),
      );
    } else {
      const s = net.connect({ host: c.dst, port: c.port, localAddress: family === 4 ? src4 : src6 });
      s.on('error', (err) => {
        if (LOCAL_ERRORS.has(err.code)) failures.push({ i, code: err.code });
      });
      sockets.push(s);
    }
  });
  await Promise.all(sends);
  await new Promise((r) => setTimeout(r, holdMs));
  for (const s of sockets) s.destroy();
  return { id, sent: cases.length, failures };
}

// Requests are served one at a time, in order.
let queue = Promise.resolve();
const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (!line.trim()) return;
  queue = queue.then(async () => process.stdout.write(`${JSON.stringify(await send(JSON.parse(line)))}\n`));
});
lines.on('close', () =>
  queue.then(() => {
    udp[4].close();
    udp[6].close();
  }),
);
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
