/**
 * The probe matrix: every container × {an address in each blocked range, every address of the
 * host, public stand-ins, a peer on the same network} × TCP/UDP/ICMP, plus the published port
 * from the LAN. The expected cell comes from the packet evaluator (the specification); the observed
 * one from a real probe. Both are printed side by side; every difference comes with the command
 * that repeats the probe.
 */
import { parsePolicy } from '../policy/load.js';
import { containsAddress, cidrOf, parseAddress } from '../ruleset/cidr.js';
import { evaluate, type Packet, type Verdict } from '../ruleset/evaluate.js';
import { resolve, type Resolved } from '../ruleset/resolve.js';
import type { Mode } from '../ruleset/types.js';
import type { HostAddress, Lab, LabAttachment, LabContainer } from './lab.js';
import { containerSource, lanSource, probeAll, probeText, reproduceCommand, RETRY_TIMEOUT_MS, type Probe, type ProbeResult, type ProbeSource } from './probe.js';
import { HOST_TCP_PORTS, HOST_UDP_PORTS, HOST_UPLINK4, HOST_UPLINK6, LAB_NETWORKS, LAN_ADDRESSES, PEER_TCP_PORT, PUBLISHED_PORT, UPLINK, type TargetKind } from './topology.js';

type ProbeSpec = Omit<Probe, 'addr'>;

export interface Column {
  label: string;
  kind: TargetKind;
  what: string;
  /** The target address for a row (peer columns depend on the row's network); undefined: n/a. */
  addressFor(row: LabContainer): string | undefined;
  probes: ProbeSpec[];
}

export type Expect = 'open' | 'closed';

export interface Cell {
  row: string;
  column: string;
  source: ProbeSource;
  probe: Probe;
  expected: Expect;
  /** Why: the evaluator's verdict and reason, or Docker's own isolation. */
  why: string;
  verdict?: Verdict;
  /** The packet handed to the evaluator. */
  packet?: Packet;
  observed?: ProbeResult;
  /** The first look, when the cell was probed again (it seemed closed but should be open). */
  firstLook?: ProbeResult;
}

export interface MatrixRun {
  title: string;
  cells: Cell[];
  mismatches: Cell[];
  /** The side-by-side truth table and legend. */
  table: string;
  /** Mismatches, each with the command that repeats it. */
  report: string;
  seconds: number;
}

/** What the kernel is supposed to do: no lanfence rules at all, or a resolved policy. */
export type Expectation = { kind: 'none' } | { kind: 'policy'; resolved: Resolved };

const tcp = (port: number): ProbeSpec => ({ kind: 'tcp', port });
const udp = (port: number): ProbeSpec => ({ kind: 'udp', port });
const ICMP: ProbeSpec = { kind: 'icmp' };

const familyOf = (a: string) => (a.includes(':') ? 6 : 4);
const rowAddress = (net: LabAttachment, family: 4 | 6) => (family === 4 ? net.ipv4 : net.ipv6);

/** Columns of the lab (host columns come from the host namespace's actual addresses). */
export function labColumns(lab: Lab): Column[] {
  const cols: Column[] = [];
  for (const a of LAN_ADDRESSES) {
    if (!lab.ipv6 && familyOf(a.address) === 6) continue;
    const probes = a.address === '10.57.17.5' ? [tcp(22), tcp(5432), udp(53), ICMP] : [tcp(80), udp(53), ICMP];
    cols.push({ label: a.label, kind: a.kind, what: `${a.address} (${a.what})`, addressFor: (row) => (rowAddress(row.net, familyOf(a.address)) ? a.address : undefined), probes });
  }
  const networkOf = (iface: string) => lab.peer.attachments.find((x) => x.bridge === iface)?.network;
  // Uplink first, then the bridges in LAB_NETWORKS order (stable across runs); v4 before v6.
  const rank = (h: HostAddress) => (h.iface === UPLINK ? -1 : LAB_NETWORKS.findIndex((n) => n.name === networkOf(h.iface)));
  const hosts = [...lab.hostAddresses].sort((a, b) => rank(a) - rank(b) || a.iface.localeCompare(b.iface) || a.family - b.family);
  for (const h of hosts) {
    const base = h.iface === UPLINK ? 'up' : h.iface === 'docker0' ? 'd0' : (networkOf(h.iface) ?? h.iface).replace(/^lab-/, '');
    const label = h.iface === UPLINK ? `${base}${h.family}` : h.family === 6 ? `${base}/6` : base;
    cols.push({
      label,
      kind: 'host',
      what: `${h.address} (host, ${h.iface}${h.iface === UPLINK ? ': the uplink' : ': a bridge gateway'})`,
      addressFor: (row) => (rowAddress(row.net, h.family) ? h.address : undefined),
      probes: [...HOST_TCP_PORTS.map(tcp), ...HOST_UDP_PORTS.map(udp), ICMP],
    });
  }
  for (const family of lab.ipv6 ? ([4, 6] as const) : ([4] as const)) {
    cols.push({
      label: family === 4 ? 'peer' : 'peer6',
      kind: 'peer',
      what: `${lab.peer.name} on the row's network (IPv${family})`,
      addressFor: (row) => {
        const att = lab.peer.attachments.find((x) => x.network === row.net.network);
        return att && rowAddress(row.net, family) ? rowAddress(att, family) : undefined;
      },
      probes: [tcp(PEER_TCP_PORT), ICMP],
    });
  }
  return cols;
}

/** Builds the Resolved the kernel rules should implement: the policy file + the lab's inventory. */
export async function expectedResolved(lab: Lab, policyText: string, opts: { mode?: Mode; file?: string } = {}): Promise<Resolved> {
  const parsed = parsePolicy(policyText, opts.file ?? 'policy.yaml');
  if (!parsed.ruleset) throw new Error(`lab: invalid policy:\n${parsed.diagnostics.map((d) => d.message).join('\n')}`);
  const ruleset = opts.mode ? { ...parsed.ruleset, mode: opts.mode } : parsed.ruleset;
  return resolve(ruleset, await lab.inventory());
}

function packetFor(row: LabContainer, col: Column, probe: Probe): Packet {
  const family = familyOf(probe.addr);
  const src = rowAddress(row.net, family)!;
  const proto = probe.kind === 'icmp' ? (family === 4 ? 'icmp' : 'icmpv6') : probe.kind;
  const base = { iif: row.net.bridge, src, dst: probe.addr, proto, ...(probe.port !== undefined ? { dport: probe.port } : {}), ...(proto === 'icmpv6' ? { icmpType: 128 } : {}) };
  if (col.kind === 'host') return { ...base, path: 'input' };
  return { ...base, path: 'forward', oif: col.kind === 'peer' ? row.net.bridge : UPLINK };
}

/**
 * What the host's own firewall closes whatever lanfence does (measured in the lab, Docker 20.10):
 * - Docker drops what an `--internal` network forwards off its subnets (DOCKER-ISOLATION-STAGE-1);
 *   the host's own addresses (input path) stay reachable: such containers still get a default route.
 * - With firewalld, Docker puts its bridges into the `docker` zone (target ACCEPT) — except an
 *   `--internal` network's. That bridge falls to firewalld's default zone, which rejects its
 *   containers' traffic to the host (ICMP echo aside) and even to each other.
 */
function hostFirewallBlocks(lab: Lab, row: LabContainer, col: Column, probe: Probe): string | null {
  const addr = probe.addr;
  if (lab.firewalld && lab.firewalldZones[row.net.bridge] !== 'docker') {
    // The default zone (public) lets ICMP echo reach the host, and rejects all else.
    if (col.kind === 'host' && probe.kind === 'icmp') return null;
    return `firewalld: ${row.net.bridge} (${row.net.network}) is not in zone docker: firewalld's default zone rejects it (ICMP to the host aside)`;
  }
  if (!row.net.internal || col.kind === 'host') return null;
  if (row.net.subnets.some((s) => containsAddress(cidrOf(s), addr))) return null;
  return `Docker: ${row.net.network} is --internal (its forwarding off the subnet is dropped by DOCKER-ISOLATION-STAGE-1)`;
}

function expectCell(lab: Lab, exp: Expectation, row: LabContainer, col: Column, probe: Probe): Pick<Cell, 'expected' | 'why' | 'verdict' | 'packet'> {
  const host = hostFirewallBlocks(lab, row, col, probe);
  if (host) return { expected: 'closed', why: host };
  if (exp.kind === 'none') return { expected: 'open', why: 'no lanfence rules' };
  const packet = packetFor(row, col, probe);
  const verdict = evaluate(exp.resolved, packet);
  return { expected: verdict.verdict === 'drop' ? 'closed' : 'open', why: `${verdict.verdict}: ${verdict.reason}`, verdict, packet };
}

/** The published port, probed from the LAN (never judged: it does not enter from a container). */
function lanCells(lab: Lab, exp: Expectation): Cell[] {
  const source = lanSource(lab);
  const targets = lab.ipv6 ? [HOST_UPLINK4, HOST_UPLINK6] : [HOST_UPLINK4];
  return targets.map((addr) => {
    const probe: Probe = { kind: 'tcp', addr, port: PUBLISHED_PORT };
    const cell: Cell = { row: 'LAN', column: `published ${familyOf(addr) === 6 ? `[${addr}]` : addr}:${PUBLISHED_PORT}`, source, probe, expected: 'open', why: 'published port' };
    if (exp.kind === 'policy') {
      const packet: Packet = { iif: UPLINK, oif: 'docker0', src: familyOf(addr) === 4 ? '192.168.57.1' : 'fd57::1', dst: addr, proto: 'tcp', dport: PUBLISHED_PORT, path: 'forward' };
      const verdict = evaluate(exp.resolved, packet);
      Object.assign(cell, { expected: verdict.verdict === 'drop' ? 'closed' : 'open', why: `${verdict.verdict}: ${verdict.reason}`, verdict, packet });
    }
    return cell;
  });
}

/** Plans every cell (expected only). */
export function planMatrix(lab: Lab, exp: Expectation): { columns: Column[]; cells: Cell[] } {
  const columns = labColumns(lab);
  const cells: Cell[] = [];
  for (const row of lab.containers) {
    const source = containerSource(row);
    for (const col of columns) {
      const addr = col.addressFor(row);
      if (!addr) continue;
      for (const spec of col.probes) {
        const probe: Probe = { ...spec, addr };
        cells.push({ row: row.name, column: col.label, source, probe, ...expectCell(lab, exp, row, col, probe) });
      }
    }
  }
  cells.push(...lanCells(lab, exp));
  return { columns, cells };
}

/** Plans, probes and compares. Never throws on mismatches: see `mismatches` and `report`. */
export async function runMatrix(lab: Lab, exp: Expectation, title: string): Promise<MatrixRun> {
  const started = Date.now();
  const { columns, cells } = planMatrix(lab, exp);
  await lab.resetConntrack();
  await probeCells(cells);
  // A cell that should be open but looked closed gets a second, slower look: on a loaded machine
  // an answer can come late, while a dropped packet never comes. (A cell that should be closed
  // but answered is a definite difference: no retry.)
  const falseClosed = cells.filter((c) => c.expected === 'open' && c.observed!.outcome !== 'open');
  if (falseClosed.length > 0) {
    for (const c of falseClosed) c.firstLook = c.observed;
    await probeCells(falseClosed, RETRY_TIMEOUT_MS);
  }
  const mismatches = cells.filter((c) => (c.observed!.outcome === 'open' ? 'open' : 'closed') !== c.expected);
  const seconds = (Date.now() - started) / 1000;
  const title2 = falseClosed.length ? `${title} (${falseClosed.length} cell(s) probed twice)` : title;
  return { title, cells, mismatches, table: formatTable(lab, title2, columns, cells, seconds), report: formatMismatches(mismatches), seconds };
}

async function probeCells(cells: Cell[], timeoutMs?: number): Promise<void> {
  const bySource = new Map<string, Cell[]>();
  for (const c of cells) bySource.set(c.source.netns, [...(bySource.get(c.source.netns) ?? []), c]);
  const groups = [...bySource.values()];
  const results = await probeAll(groups.map((g) => ({ source: g[0].source, probes: g.map((c) => c.probe) })), timeoutMs);
  groups.forEach((g, i) => g.forEach((c, j) => (c.observed = results[i][j])));
}

const SYMBOL = { open: 'o', closed: '.', na: '-', falseClosed: 'X', falseOpen: '!' } as const;

function symbolOf(c: Cell | undefined, side: 'expected' | 'observed'): string {
  if (!c) return SYMBOL.na;
  if (side === 'expected') return c.expected === 'open' ? SYMBOL.open : SYMBOL.closed;
  const open = c.observed?.outcome === 'open';
  if (open && c.expected === 'closed') return SYMBOL.falseOpen;
  if (!open && c.expected === 'open') return SYMBOL.falseClosed;
  return open ? SYMBOL.open : SYMBOL.closed;
}

export function formatTable(lab: Lab, title: string, columns: Column[], cells: Cell[], seconds: number): string {
  const index = new Map(cells.map((c) => [`${c.row}\0${c.column}\0${probeText(c.probe)}`, c]));
  const widths = columns.map((c) => Math.max(c.label.length, c.probes.length));
  const rowW = Math.max(...lab.containers.map((r) => r.name.length), 3) + 1;
  const pad = (s: string, w: number) => s + ' '.repeat(Math.max(0, w - s.length));
  const lines: string[] = [];
  const mism = cells.filter((c) => symbolOf(c, 'observed') === SYMBOL.falseClosed || symbolOf(c, 'observed') === SYMBOL.falseOpen).length;
  lines.push(`${title}: ${cells.length} probes in ${seconds.toFixed(1)} s, ${mism === 0 ? 'observed = expected' : `${mism} MISMATCH(ES)`}`);
  lines.push(`  ${SYMBOL.open} open  ${SYMBOL.closed} closed  ${SYMBOL.na} n/a  ${SYMBOL.falseClosed} expected open, observed closed  ${SYMBOL.falseOpen} expected closed, observed open`);
  lines.push(`${pad('', rowW)}${pad('', 9)}${columns.map((c, i) => pad(c.label, widths[i])).join(' ')}`);
  for (const row of lab.containers) {
    for (const side of ['expected', 'observed'] as const) {
      const cellsText = columns.map((col, i) => pad(col.probes.map((p) => symbolOf(index.get(`${row.name}\0${col.label}\0${probeText(p)}`), side)).join(''), widths[i]));
      lines.push(`${pad(side === 'expected' ? row.name : '', rowW)}${pad(side, 9)}${cellsText.join(' ')}`);
    }
  }
  for (const c of cells.filter((x) => x.row === 'LAN'))
    lines.push(`${pad('LAN', rowW)}${c.column} tcp: expected ${symbolOf(c, 'expected')} observed ${symbolOf(c, 'observed')}`);
  lines.push('columns (probes in cell order):');
  for (const col of columns) lines.push(`  ${pad(col.label, 8)} ${col.what}  [${col.probes.map((p) => (p.kind === 'icmp' ? 'icmp' : `${p.kind}/${p.port}`)).join(' ')}]`);
  const zone = (r: LabContainer) => (lab.firewalld ? `, firewalld zone ${lab.firewalldZones[r.net.bridge] ?? '(default)'}` : '');
  lines.push(`rows: ${lab.containers.map((r) => `${r.name} (${r.net.network}, ${r.net.bridge}${r.net.internal ? ', internal' : ''}${zone(r)})`).join('; ')}`);
  return lines.join('\n');
}

export function formatMismatches(list: Cell[]): string {
  return list
    .map((c) => {
      const obs = c.observed!;
      return [
        `${c.row} → ${c.probe.addr} ${probeText(c.probe)} [${c.column}]: expected ${c.expected} (${c.why}), observed ${obs.outcome} (${obs.detail}, ${obs.ms} ms${c.firstLook ? `; also on the first look: ${c.firstLook.outcome}` : ''})`,
        ...(c.packet ? [`  packet: ${JSON.stringify(c.packet)}`] : []),
        `  reproduce: ${reproduceCommand(c.source, c.probe)}`,
      ].join('\n');
    })
    .join('\n');
}

/** Normalises an address for comparisons with kernel log lines (which print IPv6 uncompressed). */
export const normAddr = (a: string): string => parseAddress(a)?.address ?? a;
