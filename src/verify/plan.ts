/**
 * What verify probes and what it expects: the sources (containers, or probe namespaces for networks
 * without containers), the destinations (an address in each blocked range, the source's gateway, the
 * host's other addresses, each exception, --internet), and for every cell the verdict `explain` gives
 * for that exact packet. No I/O here.
 */
import { UsageError } from '../errors.js';
import { explain, findContainer, findNetwork, type Explanation, type Target } from '../explain/index.js';
import { closeNames } from '../explain/names.js';
import { firstHost, subnetsOf } from '../explain/addresses.js';
import type { Inventory, InventoryContainer, InventoryNetwork } from '../inventory/types.js';
import { exceptionText } from '../cli/commands/plan.js';
import { containsAddress, parseAddress, type Family } from '../ruleset/cidr.js';
import type { Resolved } from '../ruleset/resolve.js';
import type { Exception } from '../ruleset/types.js';
import { avoidFor, hostPort, pickAddress, unprobeable, type HostAddress } from './targets.js';
import type { Expected, VerifyCell, VerifyColumn, VerifySource } from './types.js';

/** Ranges and host addresses get a TCP SYN to this port (discard): nothing listens there, usually. */
export const PROBE_PORT = 9;
/** --internet without a port. */
export const INTERNET_PORT = 443;
/** At most this many exceptions get a column (a policy with thousands would take hours). */
export const MAX_EXCEPTION_COLUMNS = 50;

const familyOf = (a: string): Family => (a.includes(':') ? 6 : 4);

// ---------------------------------------------------------------------------------------------------------
// Sources

export interface Selection {
  container?: string;
  network?: string;
  all?: boolean;
}

export interface SelectedSources {
  containers: InventoryContainer[];
  /** Bridge networks without a selected container: probed from a temporary namespace. */
  networks: InventoryNetwork[];
  notVerified: { name: string; why: string }[];
}

const isBridge = (n: InventoryNetwork | undefined): n is InventoryNetwork & { bridge: string } => !!n && n.driver === 'bridge' && !!n.bridge;
const networkOf = (inv: Inventory, name: string) => inv.networks.find((n) => n.name === name || n.id === name);

/** Why a container cannot be verified (no network stack of its own lanfence filters), or null. */
export function ineligible(inv: Inventory, c: InventoryContainer): string | null {
  const joined = /^container:(.+)$/.exec(c.networkMode);
  if (joined) return `shares the network stack of container ${findContainer(inv, joined[1])?.name ?? joined[1]}: verified as that one`;
  if (c.networkMode === 'host') return 'host network: it shares the host\'s network stack, lanfence cannot filter it';
  if (c.networkMode === 'none') return 'network mode none: no interface but loopback';
  if (!c.networks.some((a) => isBridge(networkOf(inv, a.network)))) {
    const drivers = c.networks.map((a) => `${a.network} (${networkOf(inv, a.network)?.driver ?? 'unknown'})`).join(', ');
    return `no bridge network lanfence filters${drivers ? `: ${drivers}` : ''}`;
  }
  return null;
}

export function selectSources(inv: Inventory, sel: Selection): SelectedSources {
  const given = [sel.container !== undefined, sel.network !== undefined, !!sel.all].filter(Boolean).length;
  if (given > 1) throw new UsageError('give one of --container NAME, --network NAME or --all');
  const notVerified: SelectedSources['notVerified'] = [];
  if (sel.container !== undefined) {
    const c = findContainer(inv, sel.container);
    if (!c) {
      const close = closeNames(sel.container, inv.containers.map((x) => x.name));
      throw new UsageError(`--container ${sel.container}: no running container of that name or id${close.length ? `; did you mean ${close.join(', ')}?` : ''}`);
    }
    const why = ineligible(inv, c);
    if (why) throw new UsageError(`--container ${c.name} cannot be verified: ${why}`);
    return { containers: [c], networks: [], notVerified };
  }
  const eligible: InventoryContainer[] = [];
  for (const c of inv.containers) {
    const why = ineligible(inv, c);
    if (why) notVerified.push({ name: c.name, why });
    else eligible.push(c);
  }
  const on = (n: InventoryNetwork) => eligible.filter((c) => c.networks.some((a) => a.network === n.name || a.network === n.id));
  if (sel.network !== undefined) {
    const n = findNetwork(inv, sel.network);
    if (!n) {
      const close = closeNames(sel.network, inv.networks.map((x) => x.name));
      throw new UsageError(`--network ${sel.network}: no network of that name or id${close.length ? `; did you mean ${close.join(', ')}?` : ''}`);
    }
    if (!isBridge(n)) throw new UsageError(`--network ${n.name} cannot be verified: driver ${n.driver}${n.driver === 'bridge' ? ' without a bridge interface' : ''}; lanfence filters bridge networks only`);
    const containers = on(n);
    return { containers, networks: containers.length ? [] : [n], notVerified: [] };
  }
  const networks = inv.networks.filter((n) => isBridge(n) && on(n).length === 0);
  return { containers: eligible, networks, notVerified };
}

/**
 * The gateway of a network, per family: the host's address on its bridge (what the kernel has), else
 * the one Docker reports, else the first address of the subnet (where Docker puts it).
 */
export function gatewayOf(n: InventoryNetwork, family: Family, hostAddresses: readonly HostAddress[] = [], near?: string): string | undefined {
  const subnets = subnetsOf(n.subnets, family);
  const subnet = (near && subnets.find((c) => containsAddress(c, near))) || subnets[0];
  const onBridge = hostAddresses.filter((h) => h.iface === n.bridge && h.family === family);
  const own = onBridge.find((h) => subnet && containsAddress(subnet, h.address)) ?? onBridge[0];
  if (own) return own.address;
  const gw = n.gateways.map((g) => parseAddress(g)).find((g) => g?.family === family && (!subnet || containsAddress(subnet, g.address)));
  if (gw) return gw.address;
  return subnet ? firstHost(subnet) : undefined;
}

/** Address and gateway per family of a container (its first bridge network that has one). */
export function containerSource(inv: Inventory, c: InventoryContainer, netns: string, pid: number | undefined, hostAddresses: readonly HostAddress[] = []): VerifySource {
  const src: VerifySource = { name: c.name, kind: 'container', from: `container:${c.name}`, networks: c.networks.map((a) => a.network), netns, ...(pid ? { pid } : {}), addresses: {}, gateways: {} };
  for (const family of [4, 6] as const) {
    for (const a of c.networks) {
      const n = networkOf(inv, a.network);
      const addr = family === 4 ? a.ipv4 : a.ipv6;
      if (!isBridge(n) || !addr) continue;
      src.addresses[family] = parseAddress(addr)?.address ?? addr;
      const gw = gatewayOf(n, family, hostAddresses, addr);
      if (gw) src.gateways[family] = gw;
      break;
    }
  }
  return src;
}

/** The address a probe namespace on `n` takes, per family: the one `explain --from network:NAME` stands for. */
export function probeAddresses(resolved: Resolved, inv: Inventory, n: InventoryNetwork, hostAddresses: readonly HostAddress[] = []): Partial<Record<Family, { address: string; prefix: number; gateway?: string }>> {
  const out: Partial<Record<Family, { address: string; prefix: number; gateway?: string }>> = {};
  for (const [family, probe] of [[4, '192.0.2.1'], [6, '2001:db8::1']] as const) {
    const subnets = subnetsOf(n.subnets, family);
    if (!subnets.length) continue;
    const x = explain(resolved, inv, { from: `network:${n.name}`, to: probe });
    const address = x.from.address;
    if (!address || !x.from.representative) continue;
    const subnet = subnets.find((s) => containsAddress(s, address)) ?? subnets[0];
    out[family] = { address, prefix: subnet.prefix, gateway: gatewayOf(n, family, hostAddresses, address) };
  }
  return out;
}

export function networkSource(n: InventoryNetwork, netns: string, addresses: Partial<Record<Family, { address: string; gateway?: string }>>): VerifySource {
  const src: VerifySource = { name: `network:${n.name}`, kind: 'network', from: `network:${n.name}`, networks: [n.name], netns, addresses: {}, gateways: {} };
  for (const family of [4, 6] as const) {
    const a = addresses[family];
    if (!a) continue;
    src.addresses[family] = a.address;
    if (a.gateway) src.gateways[family] = a.gateway;
  }
  return src;
}

// ---------------------------------------------------------------------------------------------------------
// Destinations

export interface ColumnInput {
  resolved: Resolved;
  inventory: Inventory;
  hostAddresses: HostAddress[];
  /** --internet, parsed. */
  internet?: Target;
}

/** `private (RFC 1918)` → `private, RFC 1918` (as explain prints a range's name). */
export const flatName = (name: string): string => name.replace(/^(.*?) \((.*)\)$/, '$1, $2');

/** `10.0.0.0/8` → `10/8`, `172.16.0.0/12` → `172.16/12`; IPv6 unchanged. */
export function rangeLabel(text: string): string {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(text);
  if (!m) return text;
  const parts = m[1].split('.');
  while (parts.length > 1 && parts[parts.length - 1] === '0') parts.pop();
  return `${parts.join('.')}/${m[2]}`;
}

function exceptionPort(e: Exception): { proto: 'tcp' | 'udp'; port: number } {
  const first = e.ports?.[0];
  return first ? { proto: first.proto, port: first.from } : { proto: 'tcp', port: PROBE_PORT };
}

export function planColumns(input: ColumnInput): { columns: VerifyColumn[]; notes: string[] } {
  const { resolved, inventory } = input;
  const notes: string[] = [];
  const bridges = inventory.networks.filter(isBridge);
  const containerAddresses = inventory.containers.flatMap((c) => c.networks.flatMap((a) => [a.ipv4, a.ipv6])).filter((x): x is string => !!x);
  const exceptionCidrs = resolved.ruleset.exceptions.flatMap((e) => (e.to.kind === 'cidr' ? [e.to.cidr] : []));
  const avoid = avoidFor({
    bridgeSubnets: bridges.flatMap((n) => n.subnets.map((subnet) => ({ network: n.name, subnet }))),
    hostAddresses: [...input.hostAddresses.map((h) => h.address), ...bridges.flatMap((n) => n.gateways)],
    containerAddresses,
    exceptionDestinations: exceptionCidrs,
  });
  const hostOwned = new Set([...input.hostAddresses.map((h) => h.address), ...bridges.flatMap((n) => n.gateways.map((g) => parseAddress(g)?.address ?? g))]);
  const columns: VerifyColumn[] = [];

  for (const b of resolved.ruleset.blocked) {
    const pick = pickAddress(b.cidr, avoid);
    const base = { key: `range:${b.cidr.text}`, label: rangeLabel(b.cidr.text), kind: 'range' as const, family: b.cidr.family, proto: 'tcp' as const, port: PROBE_PORT };
    const what = `${b.cidr.text} (${flatName(b.name)})`;
    if (pick.ok) columns.push({ ...base, address: pick.address, what, ...(pick.note ? { note: pick.note } : {}) });
    else columns.push({ ...base, what, skip: pick.why });
  }

  for (const family of [4, 6] as const)
    columns.push({ key: `gateway${family}`, label: family === 4 ? 'gateway' : 'gateway6', kind: 'gateway', family, proto: 'tcp', port: PROBE_PORT, what: `the gateway of the source's network (IPv${family}): the host itself` });

  for (const h of input.hostAddresses.filter((x) => !x.bridge)) {
    const why = unprobeable(h.address);
    columns.push({
      key: `host:${h.address}`,
      label: h.address,
      kind: 'host',
      family: h.family,
      address: h.address,
      proto: 'tcp',
      port: PROBE_PORT,
      what: `the host's address on ${h.iface}`,
      ...(why ? { skip: why } : {}),
    });
  }

  const exceptions = resolved.ruleset.exceptions;
  if (exceptions.length > MAX_EXCEPTION_COLUMNS) notes.push(`only the first ${MAX_EXCEPTION_COLUMNS} of ${exceptions.length} exceptions are probed`);
  for (const e of exceptions.slice(0, MAX_EXCEPTION_COLUMNS)) {
    const { proto, port } = exceptionPort(e);
    const what = exceptionText(e);
    const base = { key: `allow:${e.index}`, label: `allow #${e.index}`, kind: 'exception' as const, proto, port, what };
    if (e.to.kind === 'host') {
      columns.push({ ...base, family: 4, what: `${what}; probed at the source's gateway` });
      continue;
    }
    const pick = pickAddress(e.to.cidr, { hard: avoid.hard, soft: [] });
    // An exception to one of the host's addresses opens the input path to it: probe that address.
    const single = e.to.cidr.prefix === (e.to.cidr.family === 4 ? 32 : 128);
    if (single && hostOwned.has(e.to.cidr.address)) columns.push({ ...base, family: e.to.cidr.family, address: e.to.cidr.address });
    else if (pick.ok) columns.push({ ...base, family: e.to.cidr.family, address: pick.address });
    else columns.push({ ...base, family: e.to.cidr.family, skip: pick.why });
  }

  if (input.internet) {
    const t = input.internet;
    columns.push({ key: 'internet', label: 'internet', kind: 'internet', family: t.family, address: t.address!, proto: 'tcp', port: t.port ?? INTERNET_PORT, what: `--internet: a TCP connection to ${hostPort(t.address!, t.port ?? INTERNET_PORT)} must succeed` });
  }
  return { columns, notes };
}

/** The destination address of a column for a row, or why the row cannot send to it. */
export function destinationFor(col: VerifyColumn, src: VerifySource): { address: string } | { skip: string } {
  if (col.skip) return { skip: col.skip };
  if (col.kind === 'gateway' || (col.kind === 'exception' && !col.address)) {
    const family: Family = col.kind === 'gateway' ? col.family! : src.gateways[4] ? 4 : 6;
    const gw = src.gateways[family];
    return gw ? { address: gw } : { skip: `no IPv${family} address` };
  }
  const family = familyOf(col.address!);
  if (!src.addresses[family]) return { skip: `no IPv${family} address` };
  return { address: col.address! };
}

// ---------------------------------------------------------------------------------------------------------
// Cells

/** The expected cell from explain's verdict; null when there is no packet to judge. */
export function expectedOf(x: Explanation, kind: VerifyColumn['kind']): Expected | null {
  switch (x.verdict) {
    case 'dropped':
    case 'rejected':
      return 'drop';
    case 'logged':
      return 'log';
    case 'not-judged':
      if (!x.packet) return null;
      return kind === 'internet' ? 'open' : 'pass';
    default:
      return kind === 'internet' ? 'open' : 'pass';
  }
}

export interface RouteInfo {
  src?: string;
}

/**
 * One cell: the destination for this row, the source address its route picks, and explain's verdict
 * for that packet. `route` null: the source has no route to the destination (nothing would be sent).
 */
export interface CellContext {
  /**
   * Every address of the host (from `ip -j addr`): explain judges a packet to any of them as the
   * kernel does (input path, `host`) — the host's LAN address would otherwise be judged as a packet
   * leaving for the LAN.
   */
  hostAddresses?: readonly string[];
  /** `--internal` networks: Docker gives them no way out, so `--internet` is not probed from them. */
  internalNetworks?: ReadonlySet<string>;
}

export function planCell(resolved: Resolved, inv: Inventory, src: VerifySource, col: VerifyColumn, route: RouteInfo | null | undefined, ctx: CellContext = {}): VerifyCell {
  const internalNetworks = ctx.internalNetworks ?? new Set<string>();
  const cell: VerifyCell = { row: src.name, column: col.key };
  const dest = destinationFor(col, src);
  if ('skip' in dest) return { ...cell, skip: dest.skip };
  const from = route?.src ?? src.from;
  cell.target = { address: dest.address, port: col.port, proto: col.proto, ...(route?.src ? { from: route.src } : {}) };
  if (route === null) return { ...cell, skip: `no route to ${dest.address} (nothing would be sent)` };
  let x: Explanation;
  try {
    x = explain(resolved, inv, { from, to: `${hostPort(dest.address, col.port)}/${col.proto}`, hostAddresses: ctx.hostAddresses });
  } catch (e) {
    return { ...cell, skip: `explain: ${(e as Error).message}` };
  }
  const expected = expectedOf(x, col.kind);
  if (!expected) return { ...cell, skip: `not judged: ${x.reason}`, verdict: x.verdict, reason: x.reason };
  if (col.kind === 'internet' && expected === 'open') {
    const net = x.from.network;
    if (net && internalNetworks.has(net)) return { ...cell, skip: `network ${net} is --internal: Docker gives it no way out`, verdict: x.verdict, reason: x.reason };
  }
  return { ...cell, expected, verdict: x.verdict, reason: decidedBy(x) };
}

/** The entry that decided, in words: `10.0.0.0/8 (private, RFC 1918)`, `host`, `allow #2 (comment)`, or explain's reason. */
export function decidedBy(x: Pick<Explanation, 'entry' | 'exception' | 'reason'>): string {
  if (x.exception) return `allow #${x.exception.index}${x.exception.comment ? ` (${x.exception.comment})` : ''}`;
  if (x.entry === 'host') return 'host (every address of the host itself)';
  if (x.entry) return `${x.entry.cidr.text} (${flatName(x.entry.name)})`;
  return x.reason;
}
