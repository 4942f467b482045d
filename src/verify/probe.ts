/**
 * The client side of the probe agent (agent.ts): one long-lived agent per source namespace, probes
 * started and cancelled one by one (the blocked cells, each bracketed by counter reads) or many at
 * once (the allowed cells).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { commandLine, type Runner } from '../exec.js';
import { parseAddress } from '../ruleset/cidr.js';
import type { AgentOutcome, AgentReply, AgentRequest } from './agent.js';

/** dist/verify/agent.js, next to this module once built. */
export const AGENT_SCRIPT = fileURLToPath(new URL('./agent.js', import.meta.url));

export interface ProbeRequest {
  proto: 'tcp' | 'udp';
  addr: string;
  port: number;
  timeoutMs: number;
}

export interface ProbeOutcome {
  outcome: AgentOutcome;
  /** The packet was handed to the kernel (false: the socket failed before, e.g. no route). */
  sent: boolean;
  detail: string;
  ms: number;
}

export interface RunningProbe {
  id: number;
  /** Resolves once the packet has been handed to the kernel (or the probe ended first). */
  sent: Promise<void>;
  result: Promise<ProbeOutcome>;
}

export class Agent {
  private next = 1;
  private buffer = '';
  private stderr = '';
  private readonly pending = new Map<number, { sent: () => void; wasSent: boolean; done: (r: ProbeOutcome) => void }>();
  private exited: string | null = null;

  private constructor(
    readonly label: string,
    readonly netns: string,
    private readonly child: ChildProcessWithoutNullStreams,
  ) {
    child.stdout.on('data', (d: Buffer) => this.onData(d.toString()));
    child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    child.on('close', (code, signal) => {
      this.exited = `agent for ${label} exited (${code ?? signal})${this.stderr.trim() ? `: ${this.stderr.trim()}` : ''}`;
      for (const [, p] of this.pending) {
        p.sent();
        p.done({ outcome: 'error', sent: p.wasSent, detail: this.exited, ms: 0 });
      }
      this.pending.clear();
    });
    child.stdin.on('error', () => undefined);
  }

  /** Starts an agent inside the network namespace file `netns` (`/proc/<pid>/ns/net`, `/run/netns/<name>`). */
  static start(label: string, netns: string, script = AGENT_SCRIPT): Agent {
    if (!existsSync(script)) throw new Error(`the probe agent ${script} is missing (run \`npm run build\`)`);
    const child = spawn('nsenter', [`--net=${netns}`, process.execPath, script], { stdio: ['pipe', 'pipe', 'pipe'] });
    return new Agent(label, netns, child);
  }

  /**
   * The command that repeats one probe by hand (stdin stays open for the answer: the agent cancels
   * what runs when it closes); watch `lanfence status`'s blocked counter around it.
   */
  static reproduce(netns: string, p: Pick<ProbeRequest, 'proto' | 'addr' | 'port'>): string {
    const req = JSON.stringify({ id: 1, proto: p.proto, addr: p.addr, port: p.port, timeoutMs: 2000 });
    return `(echo '${req}'; sleep 3) | ${commandLine('nsenter', [`--net=${netns}`, 'node', AGENT_SCRIPT])}`;
  }

  private onData(text: string): void {
    this.buffer += text;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) !== -1) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (!line.trim()) continue;
      let r: AgentReply;
      try {
        r = JSON.parse(line) as AgentReply;
      } catch {
        this.stderr += `unreadable: ${line}\n`;
        continue;
      }
      const p = this.pending.get(r.id);
      if (!p) continue;
      if ('sent' in r) {
        p.wasSent = true;
        p.sent();
      } else {
        this.pending.delete(r.id);
        p.sent();
        p.done({ outcome: r.outcome, sent: p.wasSent || r.outcome === 'open' || r.outcome === 'refused', detail: r.detail, ms: r.ms });
      }
    }
  }

  probe(req: ProbeRequest): RunningProbe {
    const id = this.next++;
    let sent!: () => void;
    let done!: (r: ProbeOutcome) => void;
    const sentP = new Promise<void>((r) => (sent = r));
    const result = new Promise<ProbeOutcome>((r) => (done = r));
    if (this.exited) {
      sent();
      done({ outcome: 'error', sent: false, detail: this.exited, ms: 0 });
      return { id, sent: sentP, result };
    }
    this.pending.set(id, { sent, wasSent: false, done });
    const msg: AgentRequest = { id, ...req };
    this.child.stdin.write(`${JSON.stringify(msg)}\n`);
    return { id, sent: sentP, result };
  }

  cancel(id: number): void {
    if (this.pending.has(id) && !this.exited) this.child.stdin.write(`${JSON.stringify({ cancel: id })}\n`);
  }

  /** Cancels what still runs and waits for the agent to exit. */
  async close(): Promise<void> {
    if (this.exited) return;
    const closed = new Promise<void>((r) => this.child.once('close', () => r()));
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await closed;
    clearTimeout(timer);
  }
}

export interface Route {
  /** The source address the kernel picks. */
  src?: string;
  dev?: string;
}

/**
 * `ip route get` for every address, inside the namespace: which source address a packet to each would
 * carry (a container on several networks sends through the one its routes pick), or null when it has
 * no route at all.
 */
export async function routeLookups(run: Runner, netns: string, addresses: string[]): Promise<Map<string, Route | null>> {
  const out = new Map<string, Route | null>(addresses.map((a) => [a, null]));
  if (addresses.length === 0) return out;
  const r = await run('nsenter', [`--net=${netns}`, 'ip', '-j', '-force', '-batch', '-'], { input: addresses.map((a) => `route get ${a}\n`).join('') });
  for (const line of r.stdout.split('\n')) {
    if (!line.trim().startsWith('[')) continue;
    let list: { dst?: string; prefsrc?: string; dev?: string; type?: string }[];
    try {
      list = JSON.parse(line) as typeof list;
    } catch {
      continue;
    }
    for (const e of list) {
      const dst = e.dst && parseAddress(e.dst)?.address;
      if (!dst || !out.has(dst) || e.type === 'unreachable' || e.type === 'prohibit' || e.type === 'blackhole') continue;
      out.set(dst, { ...(e.prefsrc ? { src: parseAddress(e.prefsrc)?.address ?? e.prefsrc } : {}), ...(e.dev ? { dev: e.dev } : {}) });
    }
  }
  return out;
}
