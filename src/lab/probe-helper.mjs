#!/usr/bin/env node
// Network probes, run inside the network namespace to probe from:
//   nsenter --net=/proc/<container pid>/ns/net node probe-helper.mjs tcp 10.57.17.5 80
//   nsenter --net=/run/netns/<lan ns>        node probe-helper.mjs udp 192.168.57.2 53
//   ...                                       node probe-helper.mjs icmp fd57::5
//   ...                                       node probe-helper.mjs --batch   (JSON array on stdin)
//
// Single mode prints one line (`open`, `refused`, `unreachable`, `timeout` or `error: ...`) and
// exits 0 only when the target answered. Batch mode runs every probe in parallel (bounded) and
// prints a JSON array of {id, result, detail, ms}.
//
// TCP: a connect() that completes. UDP: a datagram whose echo comes back (connected socket, so
// ICMP errors surface as ECONNREFUSED/EHOSTUNREACH). ICMP: one echo request with busybox ping,
// which inherits this process's network namespace.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';

const TIMEOUT_MS = Number(process.env.LAB_PROBE_TIMEOUT_MS ?? 1200);
const CONCURRENCY = Number(process.env.LAB_PROBE_CONCURRENCY ?? 64);

function classify(err) {
  switch (err?.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EACCES':
    case 'EPERM':
      return 'unreachable';
    default:
      return 'error';
  }
}

// A busy machine can hold this process's event loop longer than a probe's timeout; timers run
// before I/O callbacks, so a timer firing late would report `timeout` for a socket that in fact
// connected. Give pending I/O one more turn of the loop before declaring a timeout.
const afterTimeout = (fn) => setTimeout(() => setImmediate(fn), TIMEOUT_MS);

function probeTcp(addr, port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: addr, port });
    let finished = false;
    const done = (result, detail) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ result, detail });
    };
    const timer = afterTimeout(() => done('timeout', `no answer within ${TIMEOUT_MS} ms`));
    sock.once('connect', () => done('open', 'connected'));
    sock.once('error', (e) => done(classify(e), `${e.code ?? ''} ${e.message}`.trim()));
  });
}

function probeUdp(addr, port) {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(net.isIPv6(addr) ? 'udp6' : 'udp4');
    const token = randomBytes(8).toString('hex');
    let resend;
    let finished = false;
    const done = (result, detail) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(resend);
      try {
        sock.close();
      } catch {
        /* already closed */
      }
      resolve({ result, detail });
    };
    const timer = afterTimeout(() => done('timeout', `no echo within ${TIMEOUT_MS} ms`));
    sock.on('error', (e) => done(classify(e), `${e.code ?? ''} ${e.message}`.trim()));
    sock.on('message', (msg) => {
      if (msg.toString() === token) done('open', 'echo received');
    });
    sock.connect(port, addr, () => {
      const send = () => sock.send(token, (e) => e && done(classify(e), `${e.code ?? ''} ${e.message}`.trim()));
      send();
      resend = setTimeout(send, Math.floor(TIMEOUT_MS / 2));
    });
  });
}

function probeIcmp(addr) {
  return new Promise((resolve) => {
    const waitSeconds = String(Math.max(1, Math.round(TIMEOUT_MS / 1000)));
    const child = spawn('busybox', ['ping', '-c', '1', '-W', waitSeconds, addr], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (e) => resolve({ result: 'error', detail: e.message }));
    child.on('close', (code) => {
      if (code === 0) resolve({ result: 'open', detail: 'echo reply' });
      else if (/unreachable|prohibited/i.test(out)) resolve({ result: 'unreachable', detail: out.trim().split('\n').pop() });
      else resolve({ result: 'timeout', detail: out.trim().split('\n').pop() ?? `ping exited ${code}` });
    });
  });
}

async function probe(p) {
  const started = Date.now();
  let r;
  try {
    if (p.kind === 'tcp') r = await probeTcp(p.addr, p.port);
    else if (p.kind === 'udp') r = await probeUdp(p.addr, p.port);
    else if (p.kind === 'icmp') r = await probeIcmp(p.addr);
    else r = { result: 'error', detail: `unknown probe kind ${p.kind}` };
  } catch (e) {
    r = { result: 'error', detail: String(e?.message ?? e) };
  }
  return { id: p.id, ...r, ms: Date.now() - started };
}

async function batch(list) {
  const results = new Array(list.length);
  // Sockets first, then the pings: spawning processes blocks the loop a little each time.
  const order = list.map((_, i) => i).sort((a, b) => (list[a].kind === 'icmp') - (list[b].kind === 'icmp'));
  let next = 0;
  const worker = async () => {
    while (next < order.length) {
      const i = order[next++];
      results[i] = await probe(list[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, list.length) }, worker));
  return results;
}

async function readStdin() {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text;
}

const [kind, addr, port] = process.argv.slice(2);
if (kind === '--batch') {
  const list = JSON.parse(await readStdin());
  process.stdout.write(JSON.stringify(await batch(list)) + '\n');
} else if (kind && addr) {
  const r = await probe({ id: 0, kind, addr, port: port === undefined ? undefined : Number(port) });
  process.stdout.write(`${r.result}${r.detail ? ` (${r.detail})` : ''}\n`);
  process.exitCode = r.result === 'open' ? 0 : 1;
} else {
  process.stderr.write('usage: probe-helper.mjs tcp|udp ADDR PORT | icmp ADDR | --batch < probes.json\n');
  process.exitCode = 64;
}
