/**
 * The probe agent: a standalone script (node builtins only) that verify runs inside the network
 * namespace of a source — `nsenter --net=/proc/<pid>/ns/net node dist/verify/agent.js` for a container,
 * `--net=/run/netns/<name>` for a probe namespace — so that its sockets are the container's.
 *
 * Protocol, one JSON object per line:
 *   in:  {"id":1,"proto":"tcp","addr":"10.0.0.123","port":9,"timeoutMs":800}   one connection attempt
 *        {"cancel":1}                                                          give up on probe 1 now
 *   out: {"id":1,"sent":true}                                                  the packet is on its way
 *        {"id":1,"outcome":"timeout","detail":"...","ms":801}                    the end of probe 1
 *
 * TCP: one connect() (a SYN; the kernel retransmits it only after 1 s, so a probe cancelled or timed
 * out sooner sends exactly one); an established connection is reset at once. UDP: one datagram on a
 * connected socket (ICMP errors come back as ECONNREFUSED / EHOSTUNREACH); `open` when anything answers.
 * End of stdin: every probe still running is cancelled, then the agent exits.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { createInterface } from 'node:readline';

export type AgentOutcome = 'open' | 'refused' | 'unreachable' | 'timeout' | 'error' | 'cancelled';

export interface AgentRequest {
  id: number;
  proto: 'tcp' | 'udp';
  addr: string;
  port: number;
  timeoutMs: number;
}

export type AgentReply = { id: number; sent: true } | { id: number; outcome: AgentOutcome; detail: string; ms: number };

const PAYLOAD = Buffer.from('lanfence verify probe\n');

function classify(e: NodeJS.ErrnoException): AgentOutcome {
  switch (e.code) {
    case 'ECONNREFUSED':
    case 'ECONNRESET':
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

const reply = (r: AgentReply): void => {
  process.stdout.write(`${JSON.stringify(r)}\n`);
};

const running = new Map<number, () => void>();

function start(req: AgentRequest): void {
  const started = Date.now();
  let finished = false;
  let cleanup: () => void = () => undefined;
  let timer: NodeJS.Timeout | undefined;
  const done = (outcome: AgentOutcome, detail: string) => {
    if (finished) return;
    finished = true;
    if (timer) clearTimeout(timer);
    running.delete(req.id);
    cleanup();
    reply({ id: req.id, outcome, detail, ms: Date.now() - started });
  };
  const errorText = (e: NodeJS.ErrnoException) => `${e.code ?? ''} ${e.message}`.trim();
  running.set(req.id, () => done('cancelled', 'cancelled'));
  // Timers run before I/O callbacks: give pending I/O one more turn before calling it a timeout.
  timer = setTimeout(() => setImmediate(() => done('timeout', `no answer within ${req.timeoutMs} ms`)), req.timeoutMs);

  if (req.proto === 'tcp') {
    const sock = net.connect({ host: req.addr, port: req.port });
    let connected = false;
    cleanup = () => {
      if (connected) sock.resetAndDestroy();
      else sock.destroy();
    };
    sock.once('connect', () => {
      connected = true;
      done('open', 'connected');
    });
    sock.once('error', (e: NodeJS.ErrnoException) => done(classify(e), errorText(e)));
    sock.on('error', () => undefined);
    setImmediate(() => !finished && reply({ id: req.id, sent: true }));
    return;
  }
  const sock = dgram.createSocket(net.isIPv6(req.addr) ? 'udp6' : 'udp4');
  cleanup = () => {
    try {
      sock.close();
    } catch {
      /* already closed */
    }
  };
  sock.on('error', (e: NodeJS.ErrnoException) => done(classify(e), errorText(e)));
  sock.on('message', () => done('open', 'answered'));
  sock.connect(req.port, req.addr, () => {
    sock.send(PAYLOAD, (e) => {
      if (e) done(classify(e as NodeJS.ErrnoException), errorText(e as NodeJS.ErrnoException));
      else if (!finished) reply({ id: req.id, sent: true });
    });
  });
}

function main(): void {
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (!line.trim()) return;
    let msg: Partial<AgentRequest> & { cancel?: number };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      process.stderr.write(`lanfence verify agent: unreadable request: ${line.slice(0, 200)}\n`);
      return;
    }
    if (typeof msg.cancel === 'number') running.get(msg.cancel)?.();
    else if (typeof msg.id === 'number' && (msg.proto === 'tcp' || msg.proto === 'udp') && typeof msg.addr === 'string' && typeof msg.port === 'number')
      start({ id: msg.id, proto: msg.proto, addr: msg.addr, port: msg.port, timeoutMs: msg.timeoutMs ?? 800 });
    else process.stderr.write(`lanfence verify agent: unknown request: ${line.slice(0, 200)}\n`);
  });
  rl.on('close', () => {
    for (const cancel of [...running.values()]) cancel();
  });
}

main();
