/**
 * Where verify sends its probes: one address inside each blocked range (network address + a fixed
 * offset, moved on when that address is Docker's, the host's, an exception's or cannot leave a
 * container at all), the host's own addresses, and the address of each exception. Pure functions.
 */
import ipaddr from 'ipaddr.js';
import { interfaceMatches } from '../policy/interfaces.js';
import { cidrOf, containsAddress, containsCidr, parseAddress, parseCidr, type Cidr, type Family } from '../ruleset/cidr.js';

/** The fixed offset from a range's network address: 10.0.0.0/8 → 10.0.0.123, fc00::/7 → fc00::7b. */
export const TARGET_OFFSET = 123n;

/**
 * Address space a probe from inside a container cannot use to test lanfence: the packet never leaves
 * the container, or leaves as something else. Ranges inside it are listed as not probed, with the reason.
 */
export const UNPROBEABLE: readonly { cidr: Cidr; why: string }[] = [
  { cidr: cidrOf('0.0.0.0/32'), why: 'the unspecified address: a connection to it stays inside the container' },
  { cidr: cidrOf('127.0.0.0/8'), why: 'loopback: inside a container it is the container\'s own and never leaves it' },
  { cidr: cidrOf('224.0.0.0/4'), why: 'multicast: TCP cannot connect to it and the host does not route it between interfaces' },
  { cidr: cidrOf('255.255.255.255/32'), why: 'limited broadcast: never routed' },
  { cidr: cidrOf('::/128'), why: 'the unspecified address: a connection to it stays inside the container' },
  { cidr: cidrOf('::1/128'), why: 'loopback: inside a container it is the container\'s own and never leaves it' },
  { cidr: cidrOf('::ffff:0:0/96'), why: 'IPv4-mapped: the container\'s kernel sends these as IPv4 packets, which the IPv4 ranges judge' },
  { cidr: cidrOf('fe80::/10'), why: 'link-local: needs an interface and never leaves the container\'s own link' },
  { cidr: cidrOf('ff00::/8'), why: 'multicast: TCP cannot connect to it and the host does not route it between interfaces' },
];

/** Why no probe can be sent to `address` from a container, or null. */
export function unprobeable(address: string): string | null {
  return UNPROBEABLE.find((u) => containsAddress(u.cidr, address))?.why ?? null;
}

const toBig = (address: string): bigint => ipaddr.parse(address).toByteArray().reduce((n, b) => (n << 8n) | BigInt(b), 0n);

function fromBig(n: bigint, family: Family): string {
  const bytes: number[] = [];
  for (let i = 0; i < (family === 4 ? 4 : 16); i++) {
    bytes.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  return ipaddr.fromByteArray(bytes).toString();
}

/**
 * Candidate addresses of a range, in order: network + TARGET_OFFSET, then the same offset in each
 * eighth of the range, then the first addresses. The network and broadcast addresses of an IPv4 range
 * (prefix ≤ 30) and the subnet-router anycast address of an IPv6 range are never candidates.
 */
export function candidates(c: Cidr, max = 64): string[] {
  const bits = BigInt((c.family === 4 ? 32 : 128) - c.prefix);
  const size = 1n << bits;
  const base = toBig(c.address);
  const offsets: bigint[] = [TARGET_OFFSET % size];
  for (let j = 1n; j < 8n && size >= 16n; j++) offsets.push(((size * j) / 8n + TARGET_OFFSET) % size);
  for (let k = 1n; k < size && k <= 64n; k++) offsets.push(k);
  if (size === 1n) offsets.push(0n);
  const excluded = (o: bigint) => (size > 2n && o === 0n) || (c.family === 4 && size > 2n && o === size - 1n);
  const out: string[] = [];
  for (const o of offsets) {
    if (excluded(o)) continue;
    const a = fromBig(base + o, c.family);
    if (!out.includes(a)) out.push(a);
    if (out.length >= max) break;
  }
  return out;
}

export interface Avoid {
  /** Never pick these: Docker's bridge subnets (container to container), the host's and the containers' addresses. */
  hard: { cidr: Cidr; why: string }[];
  /** Prefer not to pick these: exception destinations (a probe there would test the exception, not the block). */
  soft: Cidr[];
}

export type Pick = { ok: true; address: string; note?: string } | { ok: false; why: string };

/** One address inside `range` to probe, or why none can be. */
export function pickAddress(range: Cidr, avoid: Avoid): Pick {
  const whole = UNPROBEABLE.find((u) => containsCidr(u.cidr, range));
  if (whole) return { ok: false, why: whole.why };
  const hardFor = (a: string) => unprobeable(a) ?? avoid.hard.find((h) => containsAddress(h.cidr, a))?.why ?? null;
  const list = candidates(range);
  let fallback: string | undefined;
  for (const a of list) {
    if (hardFor(a)) continue;
    if (!avoid.soft.some((s) => containsAddress(s, a))) return { ok: true, address: a };
    fallback ??= a;
  }
  if (fallback) return { ok: true, address: fallback, note: `every address tried in ${range.text} is opened by an exception` };
  const inside = avoid.hard.find((h) => containsCidr(h.cidr, range));
  return { ok: false, why: inside ? inside.why : `no address of ${range.text} could be probed (${list.length ? hardFor(list[0]) : 'empty range'})` };
}

/** What `pickAddress` must avoid on this host. */
export function avoidFor(input: {
  bridgeSubnets: { network: string; subnet: string }[];
  hostAddresses: string[];
  containerAddresses: string[];
  exceptionDestinations: Cidr[];
}): Avoid {
  const hard: Avoid['hard'] = [];
  for (const s of input.bridgeSubnets) {
    const c = parseCidr(s.subnet)?.cidr;
    if (c) hard.push({ cidr: c, why: `inside Docker network ${s.network}'s subnet ${c.text}: container to container traffic is Docker's business` });
  }
  for (const a of input.hostAddresses) {
    const p = parseAddress(a);
    if (p) hard.push({ cidr: cidrOf(p.address), why: `${p.address} is an address of the host (probed as such)` });
  }
  for (const a of input.containerAddresses) {
    const p = parseAddress(a);
    if (p) hard.push({ cidr: cidrOf(p.address), why: `${p.address} is a container's address` });
  }
  return { hard, soft: input.exceptionDestinations };
}

export interface HostAddress {
  address: string;
  family: Family;
  iface: string;
  /** On a container interface (a bridge: the address is that network's gateway). */
  bridge: boolean;
}

interface IpAddrLink {
  ifname: string;
  addr_info?: { family: string; local: string; scope: string; prefixlen?: number }[];
}

/**
 * The host's global addresses from `ip -j addr show`; those on container interfaces (Docker's
 * bridges: the networks' gateways) are flagged — each source probes its own network's gateway, the
 * others are columns of their own.
 */
export function parseHostAddresses(json: string, containerInterfaces: readonly string[]): HostAddress[] {
  const links = JSON.parse(json) as IpAddrLink[];
  const out: HostAddress[] = [];
  for (const l of links) {
    const bridge = containerInterfaces.some((p) => interfaceMatches(p, l.ifname));
    for (const a of l.addr_info ?? []) {
      if (a.scope !== 'global') continue;
      const p = parseAddress(a.local);
      if (p && !out.some((x) => x.address === p.address)) out.push({ address: p.address, family: p.family, iface: l.ifname, bridge });
    }
  }
  return out.sort((a, b) => Number(a.bridge) - Number(b.bridge) || a.family - b.family);
}

/** `10.0.0.123`, `[fc00::7b]` with `:port` appended. */
export const hostPort = (address: string, port: number): string => `${address.includes(':') ? `[${address}]` : address}:${port}`;
