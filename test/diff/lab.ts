/**
 * The differential test's lab: network namespaces wired like a Docker host, without Docker, and the
 * recorders that tell which probes arrived. See the comment at the top of differential.test.ts.
 *
 * Safety: every command runs inside a namespace created here (`ip -n NS` / `ip netns exec NS`); the
 * machine's own namespace only ever sees `ip netns add/del`. No namespace has a link to a real
 * interface, so every probe stays between the lab's own namespaces.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { inNetns, runCommand, type Runner } from '../../src/exec.js';
import { createNetns } from '../support/root.js';
import { BRIDGES, ENDPOINTS, LAN_GATEWAY, LAN_IF, UPLINK, UPLINK_ADDRESSES, UPLINK_MAC, canon, caseKey, type Case } from './model.js';

const SENDER = fileURLToPath(new URL('./sender.mjs', import.meta.url));
/** The recorders' own table, in every lab namespace. Not `lanfence`: that one belongs to the backend under test. */
export const TAP_TABLE = 'lfdiff';

interface Recorder {
  hook: 'prerouting' | 'input';
  priority: string;
  /** Record only what enters here (null: from anywhere). */
  iif: string | null;
  /** Drop what was recorded (no answer, no forwarding, no noise). */
  drop: boolean;
}

/**
 * Two dynamic sets of `saddr . daddr . l4proto . dport`, filled from the packet path (`update`), so
 * that one listing after a batch says which of its probes arrived.
 */
export function recorderScript(r: Recorder): string {
  const keys = (f: 4 | 6) => `${f === 4 ? 'ip' : 'ip6'} saddr . ${f === 4 ? 'ip' : 'ip6'} daddr . meta l4proto . th dport`;
  const set = (f: 4 | 6) => `\tset seen${f} { type ipv${f}_addr . ipv${f}_addr . inet_proto . inet_service; size 65535; flags dynamic; }`;
  return [
    `table inet ${TAP_TABLE}`,
    `delete table inet ${TAP_TABLE}`,
    `table inet ${TAP_TABLE} {`,
    set(4),
    set(6),
    `\tchain tap {`,
    `\t\ttype filter hook ${r.hook} priority ${r.priority}; policy accept;`,
    ...(r.iif ? [`\t\tiifname != "${r.iif}" accept`] : []),
    `\t\tmeta l4proto { tcp, udp } update @seen4 { ${keys(4)} }`,
    `\t\tmeta l4proto { tcp, udp } update @seen6 { ${keys(6)} }`,
    ...(r.drop ? ['\t\tmeta l4proto { tcp, udp } drop'] : []),
    `\t}`,
    `}`,
    '',
  ].join('\n');
}

/** Keys of one `nft -j list table` output's seen4/seen6 elements, canonical. */
export function parseSeen(json: string): string[] {
  const out: string[] = [];
  const doc = JSON.parse(json) as { nftables: Record<string, unknown>[] };
  for (const item of doc.nftables) {
    const set = item.set as { name: string; elem?: unknown[] } | undefined;
    if (!set || !set.name.startsWith('seen')) continue;
    for (const e of set.elem ?? []) {
      const val = (e as { elem?: { val: unknown } }).elem?.val ?? e;
      const parts = (val as { concat?: unknown[] }).concat;
      if (!parts || parts.length !== 4) throw new Error(`unexpected set element: ${JSON.stringify(e)}`);
      const [s, d, p, port] = parts as [string, string, string | number, number];
      out.push(`${canon(s)} ${canon(d)} ${p === 6 ? 'tcp' : p === 17 ? 'udp' : p} ${port}`);
    }
  }
  return out;
}

interface SendAnswer {
  id: number;
  sent: number;
  failures: { i: number; code: string }[];
}

interface Sender {
  child: ChildProcess;
  pending: Map<number, { resolve: (a: SendAnswer) => void; reject: (e: Error) => void }>;
  nextId: number;
  stderr: string;
}

export interface Observation {
  /** Keys (model.caseKey) of every probe some recorder saw. */
  arrived: Set<string>;
  /** Cases the sender's own stack refused to send, with the error. */
  unsent: { c: Case; code: string }[];
}

export class Lab {
  readonly host: string;
  readonly lan: string;
  /** Endpoint name → its namespace. */
  readonly ns: ReadonlyMap<string, string>;
  private readonly removers: (() => void)[];

  private constructor(host: string, lan: string, ns: Map<string, string>, removers: (() => void)[]) {
    this.host = host;
    this.lan = lan;
    this.ns = ns;
    this.removers = removers;
  }

  /** Runner for the host namespace (where the backends load their rules). */
  get hostRun(): Runner {
    return inNetns(this.host, runCommand);
  }

  /** Builds the whole topology and starts the senders; on any failure removes what it created and rethrows. */
  static async create(): Promise<Lab> {
    const removers: (() => void)[] = [];
    const mk = (prefix: string) => {
      const n = createNetns(prefix);
      removers.push(n.remove);
      return n.ns;
    };
    let lab: Lab | undefined;
    try {
      const host = mk('lfdiff-host');
      const lan = mk('lfdiff-lan');
      const ns = new Map<string, string>();
      for (const e of ENDPOINTS) ns.set(e.name, mk(`lfdiff-${e.name}`));
      lab = new Lab(host, lan, ns, removers);
      // Should the worker exit without afterAll (killed by a timeout), the namespaces go with it.
      process.once('exit', lab.onExit);
      lab.wire();
      await Promise.all(ENDPOINTS.map((e) => lab!.startSender(e.name, e.v4, e.v6)));
      return lab;
    } catch (e) {
      if (lab) lab.destroy();
      else for (const r of removers.reverse()) r();
      throw e;
    }
  }

  /** Stops the senders (closing their stdin, then by pid), then deletes every namespace this lab made. */
  private readonly onExit = () => this.destroy();

  destroy(): void {
    process.removeListener('exit', this.onExit);
    for (const s of this.senders.values()) {
      s.child.stdin?.end();
      if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGTERM');
    }
    this.senders.clear();
    for (const r of [...this.removers].reverse()) r();
  }

  private readonly senders = new Map<string, Sender>();

  private startSender(name: string, src4: string, src6: string): Promise<void> {
    const child = spawn('ip', ['netns', 'exec', this.ns.get(name)!, process.execPath, SENDER, src4, src6], { stdio: ['pipe', 'pipe', 'pipe'] });
    const sender: Sender = { child, pending: new Map(), nextId: 1, stderr: '' };
    this.senders.set(name, sender);
    child.stderr!.on('data', (d: Buffer) => (sender.stderr += d.toString()));
    return new Promise((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        const msg = JSON.parse(line) as { ready?: boolean; id?: number };
        if (msg.ready) return resolve();
        const p = sender.pending.get(msg.id!);
        sender.pending.delete(msg.id!);
        p?.resolve(msg as SendAnswer);
      });
      child.on('exit', (code) => {
        const err = new Error(`the sender in ${name} exited (${code}): ${sender.stderr.trim()}`);
        reject(err);
        for (const p of sender.pending.values()) p.reject(err);
        sender.pending.clear();
      });
    });
  }

  private send(name: string, cases: Case[], holdMs: number): Promise<SendAnswer> {
    const s = this.senders.get(name);
    if (!s) throw new Error(`no sender for ${name}`);
    const id = s.nextId++;
    return new Promise((resolve, reject) => {
      s.pending.set(id, { resolve, reject });
      s.child.stdin!.write(`${JSON.stringify({ id, holdMs, cases: cases.map((c) => ({ dst: c.dst, proto: c.proto, port: c.dport })) })}\n`);
    });
  }

  /** `ip -n NS ...` */
  ip(ns: string, ...args: string[]): void {
    execFileSync('ip', ['-n', ns, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  /** A command inside a namespace, synchronously; returns stdout. */
  exec(ns: string, cmd: string, args: string[], input?: string): string {
    return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  }

  private wire(): void {
    const { host, lan } = this;
    const all = [host, lan, ...this.ns.values()];
    for (const n of all) this.ip(n, 'link', 'set', 'lo', 'up');
    this.exec(host, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);

    for (const b of BRIDGES) {
      this.ip(host, 'link', 'add', b.name, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0');
      this.ip(host, 'link', 'set', b.name, 'address', b.mac, 'up');
      this.ip(host, 'addr', 'add', `${b.v4.gw}/${b.v4.prefix}`, 'dev', b.name);
      this.ip(host, 'addr', 'add', `${b.v6.gw}/${b.v6.prefix}`, 'dev', b.name, 'nodad');
    }
    for (const e of ENDPOINTS) {
      const ns = this.ns.get(e.name)!;
      const b = BRIDGES.find((x) => x.name === e.bridge)!;
      const hostSide = `vd-${e.name}`;
      this.ip(host, 'link', 'add', hostSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      this.ip(host, 'link', 'set', hostSide, 'master', b.name, 'up');
      this.ip(ns, 'link', 'set', 'eth0', 'address', e.mac, 'up');
      this.ip(ns, 'addr', 'add', `${e.v4}/${b.v4.prefix}`, 'dev', 'eth0');
      this.ip(ns, 'addr', 'add', `${e.v6}/${b.v6.prefix}`, 'dev', 'eth0', 'nodad');
      this.ip(ns, 'route', 'add', 'default', 'via', b.v4.gw);
      this.ip(ns, '-6', 'route', 'add', 'default', 'via', b.v6.gw);
      // Permanent neighbours: no ARP/ND round trip delays or drops a batch's first packets.
      this.ip(ns, 'neigh', 'replace', b.v4.gw, 'lladdr', b.mac, 'dev', 'eth0', 'nud', 'permanent');
      this.ip(ns, 'neigh', 'replace', b.v6.gw, 'lladdr', b.mac, 'dev', 'eth0', 'nud', 'permanent');
      this.ip(host, 'neigh', 'replace', e.v4, 'lladdr', e.mac, 'dev', b.name, 'nud', 'permanent');
      this.ip(host, 'neigh', 'replace', e.v6, 'lladdr', e.mac, 'dev', b.name, 'nud', 'permanent');
      for (const peer of ENDPOINTS.filter((p) => p.bridge === e.bridge && p.name !== e.name)) {
        this.ip(ns, 'neigh', 'replace', peer.v4, 'lladdr', peer.mac, 'dev', 'eth0', 'nud', 'permanent');
        this.ip(ns, 'neigh', 'replace', peer.v6, 'lladdr', peer.mac, 'dev', 'eth0', 'nud', 'permanent');
      }
    }

    // The uplink: /32 and /128 host addresses and a next hop in the lan namespace, so that every
    // destination the host does not own is routed to the LAN (nothing is on-link but the next hop).
    this.ip(host, 'link', 'add', UPLINK, 'type', 'veth', 'peer', 'name', LAN_IF, 'netns', lan);
    this.ip(host, 'link', 'set', UPLINK, 'address', UPLINK_MAC, 'up');
    this.ip(lan, 'link', 'set', LAN_IF, 'address', LAN_GATEWAY.mac, 'up');
    for (const a of UPLINK_ADDRESSES[4]) this.ip(host, 'addr', 'add', `${a}/32`, 'dev', UPLINK);
    for (const a of UPLINK_ADDRESSES[6]) this.ip(host, 'addr', 'add', `${a}/128`, 'dev', UPLINK, 'nodad');
    this.ip(lan, 'addr', 'add', `${LAN_GATEWAY.v4}/32`, 'dev', LAN_IF);
    this.ip(lan, 'addr', 'add', `${LAN_GATEWAY.v6}/64`, 'dev', LAN_IF, 'nodad');
    this.ip(host, 'route', 'add', `${LAN_GATEWAY.v4}/32`, 'dev', UPLINK);
    this.ip(host, 'route', 'add', 'default', 'via', LAN_GATEWAY.v4);
    this.ip(host, '-6', 'route', 'add', 'default', 'via', LAN_GATEWAY.v6, 'dev', UPLINK);
    this.ip(host, 'neigh', 'replace', LAN_GATEWAY.v4, 'lladdr', LAN_GATEWAY.mac, 'dev', UPLINK, 'nud', 'permanent');
    this.ip(host, 'neigh', 'replace', LAN_GATEWAY.v6, 'lladdr', LAN_GATEWAY.mac, 'dev', UPLINK, 'nud', 'permanent');

    // Recorders: the LAN sees everything that left the host (forward path); the host's input hook,
    // after every filter chain, sees what was delivered to the host (input path); each endpoint sees
    // what another endpoint sent it (container to container).
    this.exec(lan, 'nft', ['-f', '-'], recorderScript({ hook: 'prerouting', priority: 'raw - 10', iif: LAN_IF, drop: true }));
    this.exec(host, 'nft', ['-f', '-'], recorderScript({ hook: 'input', priority: 'filter + 50', iif: null, drop: false }));
    for (const ns of this.ns.values()) this.exec(ns, 'nft', ['-f', '-'], recorderScript({ hook: 'prerouting', priority: 'raw - 10', iif: 'eth0', drop: true }));
  }

  private get recorderNamespaces(): string[] {
    return [this.host, this.lan, ...this.ns.values()];
  }

  /**
   * Sends every case once and reports which arrived. Conntrack (host) and the recorders are emptied
   * first, so a batch never sees another batch's flows or records.
   */
  async observe(cases: Case[], opts: { holdMs?: number; settleMs?: number } = {}): Promise<Observation> {
    for (const f of ['ipv4', 'ipv6']) await run(this.host, 'conntrack', ['-F', '-f', f]);
    await Promise.all(this.recorderNamespaces.map((ns) => run(ns, 'nft', ['-f', '-'], `flush set inet ${TAP_TABLE} seen4\nflush set inet ${TAP_TABLE} seen6\n`)));

    const bySource = new Map<string, { c: Case; i: number }[]>();
    cases.forEach((c, i) => bySource.set(c.source, [...(bySource.get(c.source) ?? []), { c, i }]));
    const unsent: Observation['unsent'] = [];
    await Promise.all(
      [...bySource].map(async ([source, list]) => {
        const res = await this.send(source, list.map(({ c }) => c), opts.holdMs ?? 50);
        for (const f of res.failures) unsent.push({ c: list[f.i].c, code: f.code });
      }),
    );
    await sleep(opts.settleMs ?? 100);
    return { arrived: await this.recorded(), unsent };
  }

  /** Everything the recorders hold now (keys as model.caseKey). */
  async recorded(): Promise<Set<string>> {
    const lists = await Promise.all(this.recorderNamespaces.map((ns) => run(ns, 'nft', ['-j', 'list', 'table', 'inet', TAP_TABLE])));
    return new Set(lists.flatMap(parseSeen));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `ip netns exec NS cmd args`; throws with stderr on failure, returns stdout. */
async function run(ns: string, cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`ip netns exec ${ns} ${cmd} ${args.join(' ')}: exit ${code}: ${stderr.trim()}`))));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

/** Whether a case arrived, by its key. */
export const arrivedOf = (o: Observation, c: Case): boolean => o.arrived.has(caseKey(c));
