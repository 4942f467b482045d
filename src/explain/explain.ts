/**
 * `explain`: one question — may this source start a connection to this destination? — answered by the
 * evaluator (src/ruleset/evaluate.ts) on the policy and the inventory. This module only turns names into
 * a packet (source interface and address, destination, path) and the evaluator's verdict into words:
 * the deciding entry, the exception with its file:line, or the smallest exception that would allow it.
 */
import { UsageError } from '../errors.js';
import type { ContainerAttachment, Inventory, InventoryContainer, InventoryNetwork } from '../inventory/types.js';
import { cidrOf, containsAddress, parseAddress, type Family } from '../ruleset/cidr.js';
import { portText } from '../policy/ports.js';
import { allowMatches, evaluate, type Packet, type Verdict } from '../ruleset/evaluate.js';
import type { Resolved } from '../ruleset/resolve.js';
import type { Action, BlockedEntry, Exception, Mode, PortRange, Scope } from '../ruleset/types.js';
import { firstHost, representativeAddress, subnetsOf } from './addresses.js';
import { closeNames } from './names.js';
import { suggestException } from './suggest.js';
import { parseTarget, targetText, type Target } from './target.js';

/** What happens to the connection attempt. */
export type ExplainVerdict = 'dropped' | 'rejected' | 'logged' | 'allowed' | 'passes' | 'not-judged';

export type ConnState = 'new' | 'established' | 'related';

export interface ExplainQuery {
  /** `--from`: container name or id, network name or id, or an address (`container:NAME`, `network:NAME` disambiguate). */
  from: string;
  /** `--to`: see parseTarget. */
  to: string;
  /** Conntrack state of the packet; default `new` (only new connections are judged). */
  state?: ConnState;
  /**
   * The host's own addresses besides the bridge gateways (its uplink and LAN addresses): a packet to
   * one of them takes the input path. The CLI fills them in when it runs on the Docker host.
   */
  hostAddresses?: readonly string[];
}

export interface SourceInfo {
  kind: 'container' | 'network' | 'address';
  /** The `--from` text. */
  spec: string;
  container?: string;
  network?: string;
  bridge?: string;
  /** The source address the packet carries. */
  address?: string;
  /** True when `address` stands for any container of the network (no container holds it). */
  representative?: boolean;
  /** The scope a suggested exception gets. */
  scope?: Exclude<Scope, { kind: 'any' } | { kind: 'label' }>;
}

export interface DestinationInfo {
  /** The `--to` text. */
  spec: string;
  kind: 'host' | 'address';
  /** The destination address the packet carries. */
  address?: string;
  port?: number;
  proto?: string;
  /** What the address is: the host itself, a container on a network, outside Docker's networks. */
  description: string;
}

export interface Explanation {
  verdict: ExplainVerdict;
  mode: Mode;
  /** dropped/rejected: the action taken; logged: what enforce mode would do. */
  action?: Action;
  /** Why, in one line (the evaluator's reason, or why the packet is not judged). */
  reason: string;
  /** The blocked range (forward path) or `host` (input path) that decided a drop, reject or log. */
  entry?: BlockedEntry | 'host';
  /** The exception that allowed it. */
  exception?: Exception;
  /** The port range of that exception the packet fell in. */
  matchedPorts?: PortRange;
  /** dropped/rejected/logged: the smallest exception that allows it, as YAML for `allow:`. */
  suggestion?: string;
  /** The packet the evaluator judged (absent when there is no packet to judge, e.g. host network). */
  packet?: Packet;
  from: SourceInfo;
  to: DestinationInfo;
  notes: string[];
}

// ---------------------------------------------------------------------------------------------------------
// --from

type SourceRef =
  | { kind: 'container'; container: InventoryContainer }
  | { kind: 'network'; network: InventoryNetwork }
  | { kind: 'address'; address: string; family: Family };

const byIdPrefix = <T extends { id?: string }>(list: T[], text: string): T | undefined => {
  if (text.length < 4 || !/^[0-9a-f]+$/i.test(text)) return undefined;
  const hits = list.filter((x) => x.id?.startsWith(text));
  return hits.length === 1 ? hits[0] : undefined;
};

export function findContainer(inv: Inventory, text: string): InventoryContainer | undefined {
  const name = text.replace(/^\//, '');
  return inv.containers.find((c) => c.name === name) ?? inv.containers.find((c) => c.id === name) ?? byIdPrefix(inv.containers, name);
}

export function findNetwork(inv: Inventory, text: string): InventoryNetwork | undefined {
  return inv.networks.find((n) => n.name === text) ?? inv.networks.find((n) => n.id === text) ?? byIdPrefix(inv.networks, text);
}

function unknownSource(inv: Inventory, spec: string, wanted: string, what: 'container' | 'network' | 'both'): never {
  const containers = inv.containers.map((c) => c.name);
  const networks = inv.networks.map((n) => n.name);
  const pool = what === 'container' ? containers : what === 'network' ? networks : [...containers, ...networks];
  const close = closeNames(wanted, pool);
  const list = (label: string, names: string[]) => (names.length ? `${label}: ${names.slice(0, 12).join(', ')}${names.length > 12 ? ', …' : ''}` : `no ${label}`);
  const known = [what !== 'network' ? list('containers', containers) : '', what !== 'container' ? list('networks', networks) : ''].filter(Boolean).join('; ');
  const noun = what === 'both' ? 'container, network or address' : what;
  throw new UsageError(
    `--from "${spec}": no ${noun} "${wanted}" in the inventory (${inv.source})${close.length ? `; did you mean ${close.join(', ')}?` : ''} (${known})`,
  );
}

function parseSource(inv: Inventory, spec: string, notes: string[]): SourceRef {
  const text = spec.trim();
  if (text === '') throw new UsageError('--from: empty; give a container, a network or an address');
  const prefixed = /^(container|network):(.+)$/.exec(text);
  if (prefixed) {
    const [, kind, name] = prefixed;
    if (kind === 'container') {
      const c = findContainer(inv, name);
      return c ? { kind: 'container', container: c } : unknownSource(inv, spec, name, 'container');
    }
    const n = findNetwork(inv, name);
    return n ? { kind: 'network', network: n } : unknownSource(inv, spec, name, 'network');
  }
  const addr = parseAddress(text);
  if (addr) return { kind: 'address', address: addr.address, family: addr.family };
  const c = findContainer(inv, text);
  const n = findNetwork(inv, text);
  if (c && n) notes.push(`"${text}" is both a container and a network; explained as the container (write network:${text} for the network)`);
  if (c) return { kind: 'container', container: c };
  if (n) return { kind: 'network', network: n };
  if (/^[0-9a-f.:]+(\/\d+)?$/i.test(text) && /[.:]/.test(text)) throw new UsageError(`--from "${spec}": not an IPv4 or IPv6 address (give one address, a container or a network)`);
  return unknownSource(inv, spec, text, 'both');
}

// ---------------------------------------------------------------------------------------------------------
// The source endpoint: interface and address the packet enters with.

interface Endpoint {
  iif: string;
  src: string;
  family: Family;
  network: InventoryNetwork;
  /** Every address of the sending container (its own addresses are never "elsewhere"). */
  own: string[];
}

type SourceResult = { info: SourceInfo; ep?: Endpoint; notJudged?: string };

const same = (a: string | undefined, b: string | undefined): boolean => !!a && !!b && parseAddress(a)?.address === parseAddress(b)?.address;
const addressOf = (a: ContainerAttachment, f: Family): string | undefined => (f === 4 ? a.ipv4 : a.ipv6);
const gatewaysOf = (n: InventoryNetwork, f: Family): string[] => n.gateways.filter((g) => parseAddress(g)?.family === f);
const inSubnet = (n: InventoryNetwork, addr: string): boolean => {
  const f = parseAddress(addr)?.family;
  return !!f && subnetsOf(n.subnets, f).some((c) => containsAddress(c, addr));
};
const bridgeNetworks = (inv: Inventory): InventoryNetwork[] => inv.networks.filter((n) => n.driver === 'bridge' && !!n.bridge);

/** Why traffic from a network cannot be judged, or null when it has a bridge lanfence can filter. */
function unfilterable(n: InventoryNetwork): string | null {
  if (n.driver === 'macvlan' || n.driver === 'ipvlan')
    return `${n.driver} network ${n.name}: its containers' traffic bypasses the host's bridges and forward path, lanfence cannot filter it (plan lists such containers as unprotected)`;
  if (n.driver === 'host') return `host network: the container shares the host's network stack, lanfence cannot filter it (plan lists such containers as unprotected)`;
  if (n.driver === 'null') return `network ${n.name} (driver null): no network interface but loopback`;
  if (n.driver !== 'bridge' || !n.bridge) return `network ${n.name} (driver ${n.driver}) has no bridge interface on this host that lanfence filters`;
  return null;
}

function containerSource(inv: Inventory, c: InventoryContainer, target: Target, info: SourceInfo, notes: string[], only?: string): SourceResult {
  let owner = c;
  const joined = /^container:(.+)$/.exec(c.networkMode);
  if (joined && c.networks.length === 0) {
    const other = findContainer(inv, joined[1]);
    if (!other) return { info, notJudged: `container ${c.name} shares the network stack of container ${joined[1]}, which is not in the inventory (${inv.source})` };
    notes.push(`container ${c.name} shares the network stack of container ${other.name}: explained as ${other.name}, and an exception must be scoped to ${other.name}`);
    owner = other;
    info.scope = { kind: 'container', container: other.name };
  }
  if (owner.networkMode === 'host') return { info, notJudged: 'host network: the container shares the host\'s network stack, lanfence cannot filter it (plan lists it as unprotected)' };
  if (owner.networkMode === 'none') return { info, notJudged: `container ${owner.name} has network mode none: no network interface but loopback` };
  if (owner.networks.length === 0) return { info, notJudged: `container ${owner.name} has no network in the inventory (${inv.source}): is it running?` };

  const own = owner.networks.flatMap((a) => [a.ipv4, a.ipv6]).filter((x): x is string => !!x);
  const attachments = only ? owner.networks.filter((a) => same(a.ipv4, only) || same(a.ipv6, only)) : owner.networks;
  const family: Family | undefined = target.family ?? (only ? parseAddress(only)!.family : attachments.some((a) => a.ipv4) ? 4 : attachments.some((a) => a.ipv6) ? 6 : undefined);
  const usable = family ? attachments.filter((a) => addressOf(a, family)) : [];
  if (usable.length === 0) {
    const nets = attachments.map((a) => a.network).join(', ');
    return { info, notJudged: `container ${owner.name} has no IPv${family ?? 4} address (networks: ${nets}): it cannot send IPv${family ?? 4} packets` };
  }
  const net = (a: ContainerAttachment) => inv.networks.find((n) => n.name === a.network || n.id === a.network);
  // The attachment the kernel would route through: the network whose subnet (or gateway) holds the
  // destination, else the first one with an address of the family.
  const dst = target.address;
  const chosen =
    (dst && usable.find((a) => { const n = net(a); return !!n && (inSubnet(n, dst) || n.gateways.some((g) => same(g, dst))); })) || usable[0];
  const n = net(chosen);
  info.network = chosen.network;
  info.address = addressOf(chosen, family!)!;
  if (!n) return { info, notJudged: `network ${chosen.network} of container ${owner.name} is not in the inventory (${inv.source})` };
  const why = unfilterable(n);
  if (why) return { info, notJudged: why };
  info.bridge = n.bridge;
  if (usable.length > 1 && !only) notes.push(`container ${owner.name} is on several networks; judged as sent through ${n.name} (${n.bridge})`);
  return { info, ep: { iif: n.bridge!, src: info.address, family: family!, network: n, own } };
}

function networkSource(inv: Inventory, n: InventoryNetwork, target: Target, info: SourceInfo): SourceResult {
  info.network = n.name;
  const why = unfilterable(n);
  if (why) return { info, notJudged: why };
  info.bridge = n.bridge;
  const family: Family = target.family ?? (subnetsOf(n.subnets, 4).length ? 4 : 6);
  const subnets = subnetsOf(n.subnets, family);
  if (subnets.length === 0) return { info, notJudged: `network ${n.name} has no IPv${family} subnet${n.subnets.length ? ` (${n.subnets.join(', ')})` : ''}: its containers cannot send IPv${family} packets` };
  const taken = new Set<string>();
  for (const c of inv.containers) for (const a of c.networks) for (const x of [a.ipv4, a.ipv6]) if (x) taken.add(parseAddress(x)?.address ?? x);
  for (const g of inv.networks.flatMap((x) => x.gateways)) taken.add(parseAddress(g)?.address ?? g);
  const subnet = (target.address && subnets.find((s) => containsAddress(s, target.address!))) || subnets[0];
  info.address = representativeAddress(subnet, taken);
  info.representative = true;
  return { info, ep: { iif: n.bridge!, src: info.address, family, network: n, own: [info.address] } };
}

function resolveSource(inv: Inventory, spec: string, target: Target, notes: string[]): SourceResult {
  const ref = parseSource(inv, spec, notes);
  if (ref.kind === 'container') {
    const info: SourceInfo = { kind: 'container', spec, container: ref.container.name, scope: { kind: 'container', container: ref.container.name } };
    return containerSource(inv, ref.container, target, info, notes);
  }
  if (ref.kind === 'network') return networkSource(inv, ref.network, target, { kind: 'network', spec, network: ref.network.name, scope: { kind: 'network', network: ref.network.name } });

  if (target.family && target.family !== ref.family)
    throw new UsageError(`--from ${ref.address} is an IPv${ref.family} address but --to ${target.spec} is IPv${target.family}: a packet has one family`);
  const info: SourceInfo = { kind: 'address', spec, address: ref.address };
  const holder = inv.containers.find((c) => c.networks.some((a) => same(a.ipv4, ref.address) || same(a.ipv6, ref.address)));
  if (holder) {
    info.container = holder.name;
    info.scope = { kind: 'container', container: holder.name };
    return containerSource(inv, holder, { ...target, family: ref.family }, info, notes, ref.address);
  }
  const gw = inv.networks.find((n) => n.driver === 'bridge' && n.gateways.some((g) => same(g, ref.address)));
  if (gw) return { info, notJudged: `${ref.address} is the host's own address (gateway of network ${gw.name}): traffic the host itself sends is not judged` };
  const net = bridgeNetworks(inv).find((n) => inSubnet(n, ref.address));
  if (!net) return { info, notJudged: `${ref.address} is not a container address (no container and no bridge network in the inventory has it): not judged` };
  info.network = net.name;
  info.bridge = net.bridge;
  info.scope = { kind: 'network', network: net.name };
  notes.push(`no container in the inventory holds ${ref.address}; judged as an address on network ${net.name} (an exception for it is scoped to the network)`);
  return { info, ep: { iif: net.bridge!, src: ref.address, family: ref.family, network: net, own: [ref.address] } };
}

// ---------------------------------------------------------------------------------------------------------
// The destination: address, path (forward or input), outgoing interface.

interface Destination {
  info: DestinationInfo;
  packet?: Omit<Packet, 'iif' | 'src' | 'proto' | 'dport' | 'state'>;
  notJudged?: string;
}

function resolveDestination(inv: Inventory, target: Target, ep: Endpoint, hostAddresses: readonly string[]): Destination {
  const base = { spec: target.spec, kind: target.kind, port: target.port };
  if (target.kind === 'host') {
    const gw = gatewaysOf(ep.network, ep.family)[0];
    const subnet = subnetsOf(ep.network.subnets, ep.family).find((s) => containsAddress(s, ep.src));
    const address = gw ?? (subnet ? firstHost(subnet) : undefined);
    if (!address) throw new UsageError(`--to host: network ${ep.network.name} has no IPv${ep.family} gateway or subnet in the inventory; ask about one of the host's addresses instead`);
    const how = gw ? `the gateway of network ${ep.network.name}` : `the first address of ${subnet!.text}, where Docker puts the gateway of network ${ep.network.name}`;
    return { info: { ...base, address, description: `the host itself (any of its addresses; asked as ${address}, ${how})` }, packet: { dst: address, path: 'input' } };
  }
  const dst = target.address!;
  if (ep.own.some((a) => same(a, dst)))
    return { info: { ...base, address: dst, description: 'the sender\'s own address' }, notJudged: `${dst} is the sender's own address: the packet never leaves it` };
  const gwNet = bridgeNetworks(inv).find((n) => n.gateways.some((g) => same(g, dst)));
  if (gwNet) return { info: { ...base, address: dst, description: `the host itself (gateway of network ${gwNet.name})` }, packet: { dst, path: 'input' } };
  if (hostAddresses.some((a) => same(a, dst))) return { info: { ...base, address: dst, description: 'the host itself (one of its own addresses)' }, packet: { dst, path: 'input' } };
  const holder = inv.containers.find((c) => c.networks.some((a) => same(a.ipv4, dst) || same(a.ipv6, dst)));
  const peerNet = bridgeNetworks(inv).find((n) => inSubnet(n, dst));
  if (peerNet) {
    const who = holder ? `container ${holder.name} on network ${peerNet.name}` : `an address on network ${peerNet.name} (no container in the inventory holds it)`;
    return { info: { ...base, address: dst, description: `${who}, bridge ${peerNet.bridge}` }, packet: { dst, path: 'forward', oif: peerNet.bridge } };
  }
  const where = holder
    ? `container ${holder.name} on ${holder.networks.map((a) => { const n = inv.networks.find((x) => x.name === a.network); return `${n?.driver ?? 'unknown'} network ${a.network}`; }).join(', ')}, reached through the host's uplink`
    : 'outside Docker\'s bridge networks, leaves through a non-container interface';
  return { info: { ...base, address: dst, description: where }, packet: { dst, path: 'forward' } };
}

// ---------------------------------------------------------------------------------------------------------

const LOOPBACK = [cidrOf('127.0.0.0/8'), cidrOf('::1/128')];

export function explain(resolved: Resolved, inventory: Inventory, query: ExplainQuery): Explanation {
  const { ruleset } = resolved;
  const target = parseTarget(query.to);
  const notes: string[] = [];
  const src = resolveSource(inventory, query.from, target, notes);
  const mode = ruleset.mode;
  const baseTo: DestinationInfo = { spec: target.spec, kind: target.kind, address: target.address, port: target.port, proto: target.proto, description: target.kind === 'host' ? 'the host itself' : '' };
  if (!src.ep) return { verdict: 'not-judged', mode, reason: src.notJudged!, from: src.info, to: baseTo, notes };
  const ep = src.ep;
  const dest = resolveDestination(inventory, target, ep, query.hostAddresses ?? []);
  dest.info.proto = target.proto;
  if (!dest.packet) return { verdict: 'not-judged', mode, reason: dest.notJudged!, from: src.info, to: dest.info, notes };

  const proto = target.proto === undefined || target.proto === 'icmp' ? (ep.family === 4 ? 'icmp' : 'icmpv6') : target.proto;
  const packet: Packet = {
    iif: ep.iif,
    ...(dest.packet.oif ? { oif: dest.packet.oif } : {}),
    src: ep.src,
    dst: dest.packet.dst,
    proto,
    ...(target.port !== undefined ? { dport: target.port } : {}),
    state: query.state ?? 'new',
    path: dest.packet.path,
  };
  dest.info.proto = proto;
  if (target.port === undefined)
    notes.push(`no port given: the question is "every port and protocol" (judged as ${proto} without a port), which only an exception without ports allows`);
  if (LOOPBACK.some((c) => containsAddress(c, packet.dst)))
    notes.push(`inside a container ${packet.dst} is the container's own loopback and never leaves it; the verdict is for a packet to ${packet.dst} that enters from ${packet.iif}`);

  const v = evaluate(resolved, packet);
  const out: Explanation = { verdict: verdictOf(v), mode, reason: v.reason, from: src.info, to: dest.info, packet, notes };
  if (v.action) out.action = v.action;
  if (v.verdict === 'log') out.action = ruleset.action;
  if (v.entry) out.entry = v.entry;
  if (v.exception) {
    out.exception = v.exception;
    const range = v.exception.ports?.find((r) => r.proto === packet.proto && packet.dport !== undefined && packet.dport >= r.from && packet.dport <= r.to);
    if (range) out.matchedPorts = range;
  }
  if (v.verdict === 'not-judged' && packet.oif) {
    if (packet.oif === packet.iif) out.reason = `same network as the destination (network ${ep.network.name}): ${v.reason}`;
    else if (v.reason.startsWith('container to container')) notes.push(`between different networks Docker's own isolation rules decide (normally they drop it)`);
  }
  if (v.verdict === 'drop' || v.verdict === 'log') {
    notes.push(...nearMisses(resolved, packet));
    const scope = src.info.scope;
    if (scope) {
      const who = scope.kind === 'container' ? scope.container : `network ${scope.network}`;
      const s = suggestException(resolved, inventory, packet, {
        to: target.kind === 'host' ? 'host' : packet.dst,
        port: target.port,
        proto: packet.proto,
        scope,
        comment: `${who} → ${targetText(target, packet.dst)}`,
      });
      if (s.ok) out.suggestion = s.yaml;
      else notes.push(s.why);
    }
  }
  return out;
}

function verdictOf(v: Verdict): ExplainVerdict {
  switch (v.verdict) {
    case 'drop':
      return v.action === 'reject' ? 'rejected' : 'dropped';
    case 'log':
      return 'logged';
    case 'pass':
      return v.exception ? 'allowed' : 'passes';
    default:
      return 'not-judged';
  }
}

/** Exceptions for this destination that did not apply, and why (scope, ports, or a scope matching nothing). */
function nearMisses(resolved: Resolved, p: Packet): string[] {
  const out: string[] = [];
  for (const ex of resolved.ruleset.exceptions) {
    const covers = ex.to.kind === 'host' ? p.path === 'input' : containsAddress(ex.to.cidr, p.dst);
    if (!covers) continue;
    const elements = resolved.allow.filter((e) => e.exception === ex.index);
    const label = `allow #${ex.index}${ex.comment ? ` (${ex.comment})` : ''}`;
    if (elements.length === 0) out.push(`${label} covers ${p.dst} but grants nothing: its scope matches nothing in the inventory`);
    else if (elements.some((e) => allowMatches({ ...e, ports: null }, p)))
      out.push(`${label} covers this source and ${p.dst}, but only ${ex.ports!.map(portText).join(', ')}`);
    else out.push(`${label} covers ${p.dst}, but not this source`);
  }
  return out;
}
