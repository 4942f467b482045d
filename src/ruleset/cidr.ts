/** CIDR math on top of ipaddr.js: parse, canonicalise, compare. */
import ipaddr from 'ipaddr.js';

export type Family = 4 | 6;

export interface Cidr {
  family: Family;
  /** Network address with host bits cleared, in canonical text form. */
  address: string;
  prefix: number;
  /** `address/prefix`, canonical. */
  text: string;
}

export interface ParsedCidr {
  cidr: Cidr;
  /** True when the input had host bits set (they were cleared). */
  hadHostBits: boolean;
}

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

function parseAddr(text: string): Addr | null {
  // ipaddr.parse accepts shorthand IPv4 forms like "10.1" or octal; accept only four-part decimal.
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (!text.includes(':')) return null;
  const v6 = dottedTailToHex(text);
  return v6 !== null && ipaddr.IPv6.isValid(v6) ? ipaddr.IPv6.parse(v6) : null;
}

/**
 * `x::a.b.c.d` → `x::hhhh:hhhh`. ipaddr.js reads `::a.b.c.d` as the IPv4-*mapped* `::ffff:a.b.c.d`,
 * a different address; the dotted quad only ever spells the last 32 bits. Null when the quad is bad.
 */
function dottedTailToHex(text: string): string | null {
  const m = /^(.*:)([^:]*\.[^:]*)$/.exec(text);
  if (!m) return text;
  if (!ipaddr.IPv4.isValidFourPartDecimal(m[2])) return null;
  const [a, b, c, d] = m[2].split('.').map(Number);
  return `${m[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

/** Parses `a.b.c.d`, `a.b.c.d/n`, `x::y`, `x::y/n`. A bare address is a host route. Null when invalid. */
export function parseCidr(text: string): ParsedCidr | null {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addrText = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const addr = parseAddr(addrText);
  if (!addr) return null;
  const family: Family = addr.kind() === 'ipv4' ? 4 : 6;
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const p = trimmed.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return null;
    prefix = Number(p);
    if (prefix > max) return null;
  }
  const network = networkOf(addr, prefix);
  const address = network.toString();
  return {
    cidr: { family, address, prefix, text: `${address}/${prefix}` },
    hadHostBits: address !== addr.toString(),
  };
}

function networkOf(addr: Addr, prefix: number): Addr {
  const bytes = addr.toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const bitsHere = Math.max(0, Math.min(8, prefix - i * 8));
    bytes[i] &= bitsHere === 0 ? 0 : (0xff << (8 - bitsHere)) & 0xff;
  }
  return ipaddr.fromByteArray(bytes) as Addr;
}

/** Parses one address (no prefix). Null when invalid. */
export function parseAddress(text: string): { family: Family; address: string } | null {
  const addr = parseAddr(text.trim());
  if (!addr) return null;
  return { family: addr.kind() === 'ipv4' ? 4 : 6, address: addr.toString() };
}

export function cidrOf(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed) throw new Error(`not a CIDR: ${text}`);
  return parsed.cidr;
}

export function containsAddress(cidr: Cidr, address: string): boolean {
  const addr = parseAddr(address);
  if (!addr) return false;
  if ((addr.kind() === 'ipv4' ? 4 : 6) !== cidr.family) return false;
  return addr.match(ipaddr.parse(cidr.address) as Addr, cidr.prefix);
}

/** A CIDR as an inclusive numeric range (memoised: the hot path of overlap and containment checks). */
export interface NumericRange {
  lo: bigint;
  hi: bigint;
}

const ranges = new Map<string, NumericRange>();
export function rangeOf(c: Cidr): NumericRange {
  let r = ranges.get(c.text);
  if (!r) {
    const bits = c.family === 4 ? 32 : 128;
    const lo = ipaddr
      .parse(c.address)
      .toByteArray()
      .reduce((n, b) => (n << 8n) | BigInt(b), 0n);
    r = { lo, hi: lo | ((1n << BigInt(bits - c.prefix)) - 1n) };
    if (ranges.size > 200_000) ranges.clear();
    ranges.set(c.text, r);
  }
  return r;
}

/** True when `outer` contains every address of `inner`. */
export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || outer.prefix > inner.prefix) return false;
  const o = rangeOf(outer);
  const i = rangeOf(inner);
  return o.lo <= i.lo && i.hi <= o.hi;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return containsCidr(a, b) || containsCidr(b, a);
}

export const anyCidr = (family: Family): Cidr => cidrOf(family === 4 ? '0.0.0.0/0' : '::/0');

/** `10.0.0.5/32` → `10.0.0.5`; everything else unchanged. */
export function shortText(c: Cidr): string {
  return c.prefix === (c.family === 4 ? 32 : 128) ? c.address : c.text;
}

/** Orders CIDRs by family, then numerically by address, then by prefix. */
export function compareCidr(a: Cidr, b: Cidr): number {
  if (a.family !== b.family) return a.family - b.family;
  const ab = ipaddr.parse(a.address).toByteArray();
  const bb = ipaddr.parse(b.address).toByteArray();
  for (let i = 0; i < ab.length; i++) if (ab[i] !== bb[i]) return ab[i] - bb[i];
  return a.prefix - b.prefix;
}
