/**
 * The benchmark's workload: an inventory of containers and networks, N realistic exceptions, and
 * the guide's layout of the same exceptions (one DOCKER-USER rule each).
 *
 * Exceptions are distinct destinations in private ranges (10/8, 172.20/16, 192.168/16, fd57::/16),
 * mostly with a service port, in mixed scopes (every container, a network, a container, a label).
 * None of them matches the benchmark traffic (container → 198.51.100.10, a public stand-in), so every
 * packet of it is compared with every exception.
 */
import { parsePolicy } from '../../src/policy/load.js';
import { cidrOf } from '../../src/ruleset/cidr.js';
import { ANY_IFACE, resolve, type AllowElement, type Resolved } from '../../src/ruleset/resolve.js';
import type { Exception, PortRange, Ruleset, Scope } from '../../src/ruleset/types.js';
import type { Inventory, InventoryContainer, InventoryNetwork } from '../../src/inventory/types.js';

/** The LOG prefix of every rule set the benchmark loads: never the product's, so no one's log reader counts them. */
export const BENCH_LOG_PREFIX = 'LFBENCH_DROP: ';

const SERVICES: PortRange[] = [
  { proto: 'tcp', from: 5432, to: 5432 },
  { proto: 'tcp', from: 3306, to: 3306 },
  { proto: 'tcp', from: 6379, to: 6379 },
  { proto: 'tcp', from: 443, to: 443 },
  { proto: 'udp', from: 53, to: 53 },
  { proto: 'tcp', from: 9100, to: 9100 },
  { proto: 'tcp', from: 389, to: 389 },
  { proto: 'tcp', from: 2049, to: 2049 },
  { proto: 'tcp', from: 8080, to: 8080 },
  { proto: 'tcp', from: 22, to: 22 },
];

export const USER_NETWORKS = 8;
const hex12 = (n: number) => (0x0123456789ab + n * 0x1111).toString(16).padStart(12, '0').slice(-12);

export function benchNetworks(): InventoryNetwork[] {
  const nets: InventoryNetwork[] = [
    { id: 'f'.repeat(64), name: 'bridge', driver: 'bridge', bridge: 'docker0', subnets: ['172.17.0.0/16'], gateways: ['172.17.0.1'], ipv6: false, internal: false },
  ];
  for (let n = 0; n < USER_NETWORKS; n++) {
    const id = hex12(n);
    nets.push({ id: id.padEnd(64, '0'), name: `proj${n}_default`, driver: 'bridge', bridge: `br-${id}`, subnets: [`172.18.${n}.0/24`], gateways: [`172.18.${n}.1`], ipv6: false, internal: false });
  }
  return nets;
}

/** Container i: on docker0 (every 9th) or on one of the user networks, with a unique service label. */
export function benchContainer(i: number): InventoryContainer {
  const slot = i % (USER_NETWORKS + 1);
  const k = Math.floor(i / (USER_NETWORKS + 1));
  const id = (i + 1).toString(16).padStart(12, '0').repeat(6).slice(0, 64);
  const network = slot === 0 ? 'bridge' : `proj${slot - 1}_default`;
  const ipv4 = slot === 0 ? `172.17.${1 + Math.floor(k / 250)}.${(k % 250) + 2}` : `172.18.${slot - 1}.${(k % 250) + 2}`;
  return {
    id,
    name: `app-${i}`,
    networkMode: network === 'bridge' ? 'default' : network,
    labels: { 'com.example.service': `svc-${i}`, ...(slot > 0 ? { 'com.docker.compose.project': `proj${slot - 1}` } : {}) },
    networks: [{ network, ipv4 }],
    ...(slot > 0 ? { composeProject: `proj${slot - 1}` } : {}),
  };
}

export function benchInventory(containers: number): Inventory {
  return { source: 'docker', networks: benchNetworks(), containers: Array.from({ length: containers }, (_, i) => benchContainer(i)) };
}

/** A distinct private destination for exception i. */
export function destination(i: number): string {
  if (i % 20 === 19) return `fd57:${(i >>> 16).toString(16)}::${(i & 0xffff).toString(16)}`;
  // Host parts 1..254, so no destination is a network or broadcast address.
  const k = Math.floor(i / 3);
  const a = Math.floor(k / 254);
  const b = (k % 254) + 1;
  switch (i % 3) {
    case 0:
      return `10.${(a >> 8) & 255}.${a & 255}.${b}`;
    case 1:
      return `172.20.${a & 255}.${b}`;
    default:
      return `192.168.${a & 255}.${b}`;
  }
}

export interface ExceptionSpec {
  to: string;
  ports: PortRange[] | null;
  from: Scope;
  comment: string;
}

/**
 * Exception i (0-based), by i mod 20: 35 % any container with one port, 5 % any container without
 * ports, 15 % network-scoped (two ports), 20 % container-scoped with a port, 5 % container-scoped
 * without ports, 10 % label-scoped with a port, 5 % a port range (any container), 5 % IPv6.
 */
export function exceptionSpec(i: number, containers: number): ExceptionSpec {
  const kind = i % 20;
  const svc = SERVICES[i % SERVICES.length];
  const svc2 = SERVICES[(i + 3) % SERVICES.length];
  const to = destination(i);
  const comment = `svc ${i}`;
  const container = `app-${(i * 7) % containers}`;
  if (kind <= 6) return { to, ports: [svc], from: { kind: 'any' }, comment };
  if (kind === 7) return { to, ports: null, from: { kind: 'any' }, comment };
  if (kind <= 10) {
    const ports = [svc, svc2].sort((a, b) => (a.proto < b.proto ? -1 : a.proto > b.proto ? 1 : a.from - b.from));
    return { to, ports, from: { kind: 'network', network: `proj${i % USER_NETWORKS}_default` }, comment };
  }
  if (kind <= 14) return { to, ports: [svc], from: { kind: 'container', container }, comment };
  if (kind === 15) return { to, ports: null, from: { kind: 'container', container }, comment };
  if (kind <= 17) return { to, ports: [svc], from: { kind: 'label', key: 'com.example.service', value: `svc-${(i * 13) % containers}` }, comment };
  if (kind === 18) return { to, ports: [{ proto: 'tcp', from: 8000, to: 8100 }], from: { kind: 'any' }, comment };
  return { to, ports: [svc], from: { kind: 'any' }, comment };
}

/** The base rule set: the default policy in enforce mode, with the benchmark's LOG prefix. */
export function baseRuleset(): Ruleset {
  const parsed = parsePolicy(`mode: enforce\nlog:\n  prefix: "${BENCH_LOG_PREFIX}"\n`, 'bench-policy.yaml');
  if (!parsed.ruleset) throw new Error(`bench base policy: ${JSON.stringify(parsed.diagnostics)}`);
  return parsed.ruleset;
}

/**
 * An array whose `find` starts where the previous hit was. Renderers look exceptions up by their
 * (unique) index in exception order, so this returns the same element as Array.prototype.find, in
 * O(1) instead of O(n): used only to render the largest size in reasonable time (the harness checks
 * that the text is identical at 10,000).
 */
export class ResumingFind<T> extends Array<T> {
  private last = 0;
  override find(pred: (value: T, index: number, array: T[]) => unknown): T | undefined {
    const n = this.length;
    for (let k = 0; k < n; k++) {
      const i = (this.last + k) % n;
      if (pred(this[i], i, this)) {
        this.last = i;
        return this[i];
      }
    }
    return undefined;
  }
}

export function benchExceptions(n: number, containers: number, resumingFind = false): Exception[] {
  const out: Exception[] = resumingFind ? new ResumingFind<Exception>() : [];
  for (let i = 0; i < n; i++) {
    const s = exceptionSpec(i, containers);
    out.push({ index: i + 1, to: { kind: 'cidr', cidr: cidrOf(s.to) }, ports: s.ports, from: s.from, comment: s.comment, origin: { file: 'bench-policy.yaml', path: `allow.${i}` } });
  }
  return out;
}

export interface Workload {
  n: number;
  inventory: Inventory;
  ruleset: Ruleset;
  resolved: Resolved;
}

export function workload(n: number, containers = 1000, resumingFind = false): Workload {
  const inventory = benchInventory(containers);
  const ruleset = { ...baseRuleset(), exceptions: benchExceptions(n, containers, resumingFind) };
  return { n, inventory, ruleset, resolved: resolve(ruleset, inventory) };
}

/** The same exceptions as policy YAML (for timing the policy loader). */
export function policyYaml(n: number, containers = 1000): string {
  const lines = ['mode: enforce', 'log:', `  prefix: "${BENCH_LOG_PREFIX}"`, n ? 'allow:' : 'allow: []'];
  const port = (r: PortRange) => (r.from === r.to ? `${r.from}/${r.proto}` : `${r.from}-${r.to}/${r.proto}`);
  for (let i = 0; i < n; i++) {
    const s = exceptionSpec(i, containers);
    lines.push(`  - to: ${s.to.includes(':') ? `"${s.to}"` : s.to}`);
    if (s.ports) lines.push(`    ports: [${s.ports.map(port).join(', ')}]`);
    const f = s.from;
    if (f.kind === 'network') lines.push(`    from: { network: ${f.network} }`);
    if (f.kind === 'container') lines.push(`    from: { container: ${f.container} }`);
    if (f.kind === 'label') lines.push(`    from: { label: "${f.key}=${f.value}" }`);
    lines.push(`    comment: ${s.comment}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * The guide's DOCKER-USER rules for one resolved element: one RETURN rule per exception and port
 * (its `firewall-cmd --direct --add-rule ... DOCKER-USER 1 ... -j RETURN`), with the scope as `-i`
 * (network) or `-s` (container, label).
 */
export function guideRuleArgs(e: AllowElement): string[][] {
  if (e.dst === null) return [];
  const head = [...(e.iface !== ANY_IFACE ? ['-i', e.iface] : []), ...(e.src.prefix > 0 ? ['-s', e.src.text] : []), '-d', e.dst.text];
  const tail = ['-j', 'RETURN'];
  if (e.ports === null) return [[...head, ...tail]];
  return e.ports.map((r) => [...head, '-p', r.proto, '--dport', r.from === r.to ? `${r.from}` : `${r.from}:${r.to}`, ...tail]);
}

/** The guide's blocked ranges (6 IPv4, 3 IPv6). */
export const GUIDE_BLOCKED: Record<4 | 6, string[]> = {
  4: ['10.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.168.0.0/16', '224.0.0.0/4'],
  6: ['fe80::/10', 'fc00::/7', 'ff00::/8'],
};

/**
 * The guide's layout as an iptables-restore file (for `--noflush`): DOCKER-USER holds the exceptions
 * (priority < 4096), then jumps for traffic leaving through `eth+` and `lo` into
 * DOCKER-USER-DENY-INTERNAL (one rule per blocked range → DOCKER-USER-DROP: rate-limited LOG, DROP),
 * and Docker's final RETURN. No established/related shortcut: every forwarded packet, replies
 * included, walks every exception rule.
 */
export function guideRestore(resolved: Resolved, family: 4 | 6): string {
  const lines = ['*filter', ':DOCKER-USER - [0:0]', ':DOCKER-USER-DENY-INTERNAL - [0:0]', ':DOCKER-USER-DROP - [0:0]'];
  for (const e of resolved.allow) if (e.family === family) for (const args of guideRuleArgs(e)) lines.push(['-A', 'DOCKER-USER', ...args].join(' '));
  lines.push('-A DOCKER-USER -o eth+ -j DOCKER-USER-DENY-INTERNAL', '-A DOCKER-USER -o lo -j DOCKER-USER-DENY-INTERNAL', '-A DOCKER-USER -j RETURN');
  for (const b of GUIDE_BLOCKED[family]) lines.push(`-A DOCKER-USER-DENY-INTERNAL -d ${b} -j DOCKER-USER-DROP`);
  lines.push(
    `-A DOCKER-USER-DROP -m hashlimit --hashlimit-mode srcip,dstip,dstport --hashlimit-upto 6/minute --hashlimit-burst 1 --hashlimit-name guide-drop -j LOG --log-prefix "${BENCH_LOG_PREFIX}"`,
    '-A DOCKER-USER-DROP -j DROP',
    'COMMIT',
    '',
  );
  return lines.join('\n');
}

/** The guide's approach to applying: one command per rule (`iptables -A DOCKER-USER ...`). */
export function guideCommands(resolved: Resolved): { tool: 'iptables' | 'ip6tables'; args: string[] }[] {
  const out: { tool: 'iptables' | 'ip6tables'; args: string[] }[] = [];
  for (const e of resolved.allow) for (const args of guideRuleArgs(e)) out.push({ tool: e.family === 4 ? 'iptables' : 'ip6tables', args: ['-A', 'DOCKER-USER', ...args] });
  return out;
}

/**
 * What Docker itself has in a host's filter table, reduced to what matters here: FORWARD jumps to
 * DOCKER-USER (which ends in RETURN) and accepts container traffic, with a conntrack match — so
 * connection tracking runs in every scenario, the baseline included, as on any Docker host.
 */
export const DOCKER_SKELETON: Record<4 | 6, string> = {
  4: [
    '*filter',
    ':DOCKER-USER - [0:0]',
    '-A FORWARD -j DOCKER-USER',
    '-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    '-A FORWARD -i docker0 ! -o docker0 -j ACCEPT',
    '-A FORWARD -i docker0 -o docker0 -j ACCEPT',
    '-A DOCKER-USER -j RETURN',
    'COMMIT',
    '',
  ].join('\n'),
  6: ['*filter', ':DOCKER-USER - [0:0]', '-A FORWARD -j DOCKER-USER', '-A DOCKER-USER -j RETURN', 'COMMIT', ''].join('\n'),
};
