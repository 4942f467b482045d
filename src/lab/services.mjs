#!/usr/bin/env node
// Lab services: TCP listeners and UDP echo, run inside a lab network namespace
// (`nsenter --net=/run/netns/<ns> node services.mjs --tcp 22,80 --udp 53`).
//
// TCP listens on [::] (dual stack) and closes every connection right after a short banner.
// UDP binds one socket per local address, so that an echo leaves from the address the request
// was sent to (a socket on the wildcard address would answer from whatever address the route
// picks, and the prober's connected socket would never see the reply).
// Prints one JSON line `{"ready":true,...}` on stdout once everything listens; runs until killed.
import dgram from 'node:dgram';
import net from 'node:net';
import os from 'node:os';

function parseArgs(argv) {
  const out = { tcp: [], udp: [] };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    const list = (argv[++i] ?? '').split(',').filter(Boolean).map(Number);
    if (key === '--tcp') out.tcp = list;
    else if (key === '--udp') out.udp = list;
    else throw new Error(`services.mjs: unknown option ${key}`);
  }
  return out;
}

function localAddresses() {
  const out = [];
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80')) continue; // needs a scope id; never probed
      out.push({ address: a.address, family: a.family === 'IPv4' ? 4 : 6 });
    }
  }
  return out;
}

const listenTcp = (port) =>
  new Promise((resolve, reject) => {
    const server = net.createServer((sock) => {
      sock.on('error', () => undefined);
      sock.end('lanfence-lab\n');
    });
    server.once('error', reject);
    server.listen({ host: '::', port, ipv6Only: false }, () => resolve(`tcp [::]:${port}`));
  });

const listenUdp = (address, family, port) =>
  new Promise((resolve, reject) => {
    const sock = dgram.createSocket({ type: family === 4 ? 'udp4' : 'udp6', reuseAddr: true });
    sock.on('message', (msg, rinfo) => sock.send(msg, rinfo.port, rinfo.address));
    sock.once('error', reject);
    sock.bind({ address, port, exclusive: true }, () => {
      sock.removeListener('error', reject);
      sock.on('error', () => undefined);
      resolve(`udp ${family === 6 ? `[${address}]` : address}:${port}`);
    });
  });

const opts = parseArgs(process.argv.slice(2));
const bound = [];
for (const port of opts.tcp) bound.push(await listenTcp(port));
for (const port of opts.udp) for (const a of localAddresses()) bound.push(await listenUdp(a.address, a.family, port));
process.stdout.write(JSON.stringify({ ready: true, pid: process.pid, bound }) + '\n');
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
