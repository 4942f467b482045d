/**
 * After a set update, the daemon reads back only the sets it changed and compares their members
 * with the rendered ones. The kernel lists members in its own form (interface names unquoted,
 * `::1/128` as `::1`, `::ffff:0:0/96` as `::ffff:0.0.0.0/96`, ranges that are prefixes as
 * prefixes), so both sides are normalised first. A difference here is not yet drift: the daemon
 * then inspects the whole table, exactly (scratch namespace), before it repairs anything.
 */
import { setBlocks } from '../backends/nftables/delta.js';
import { elementText } from '../backends/nftables/read.js';
import { cidrOf, parseAddress, parseCidr, rangeOf } from '../ruleset/cidr.js';

/** The sets a set-update script flushes (`flush set inet lanfence NAME`), in order. */
export function changedSets(delta: string): string[] {
  const out: string[] = [];
  for (const m of delta.matchAll(/^flush set \S+ \S+ (\S+)$/gm)) out.push(m[1]);
  return out;
}

/** An address or prefix in canonical form (a host prefix as the bare address); null for anything else. */
function address(text: string): string | null {
  const p = parseCidr(text);
  if (!p) return null;
  return p.cidr.prefix === (p.cidr.family === 4 ? 32 : 128) ? p.cidr.address : p.cidr.text;
}

/** A range `a-b` of addresses that is exactly one prefix, as that prefix; else null. */
function rangeAsPrefix(lo: string, hi: string): string | null {
  const a = parseAddress(lo);
  const b = parseAddress(hi);
  if (!a || !b || a.family !== b.family) return null;
  const bits = a.family === 4 ? 32 : 128;
  const from = rangeOf(cidrOf(`${a.address}/${bits}`)).lo;
  const size = rangeOf(cidrOf(`${b.address}/${bits}`)).lo - from + 1n;
  // A prefix: a power-of-two number of addresses, starting on a multiple of it.
  if (size <= 0n || (size & (size - 1n)) !== 0n || (from & (size - 1n)) !== 0n) return null;
  return address(`${a.address}/${bits - (size.toString(2).length - 1)}`);
}

function component(c: string): string {
  const s = c.replace(/^"(.*)"$/, '$1');
  const addr = address(s);
  if (addr) return addr;
  const range = /^([^-]+)-([^-]+)$/.exec(s);
  if (range) {
    const p = rangeAsPrefix(range[1], range[2]);
    if (p) return p;
    const [lo, hi] = [address(range[1]), address(range[2])];
    if (lo && hi) return `${lo}-${hi}`;
  }
  return s;
}

/** One member in a comparable form: components normalised, the comment kept verbatim. */
export function normaliseElement(text: string): string {
  const m = /^(.*?)( comment ".*")?$/.exec(text.trim())!;
  return `${m[1].split(' . ').map(component).join(' . ')}${m[2] ?? ''}`;
}

/** Members of `set` in `rendered` (our own text), normalised. */
export function renderedMembers(rendered: string, set: string): Set<string> | null {
  const block = setBlocks(rendered).find((s) => s.name === set);
  return block ? new Set(block.elements.map(normaliseElement)) : null;
}

/** Members of the set in `nft -j list set …` output, normalised. */
export function liveMembers(json: string): Set<string> {
  const items = (JSON.parse(json) as { nftables: Record<string, unknown>[] }).nftables;
  const set = items.find((i) => i.set)?.set as { elem?: unknown[] } | undefined;
  return new Set((set?.elem ?? []).map((e) => normaliseElement(elementText(e))));
}

/** Human-readable differences between expected and live members of one set (empty: the same). */
export function memberDifferences(set: string, expected: Set<string>, live: Set<string>): string[] {
  const missing = [...expected].filter((x) => !live.has(x));
  const extra = [...live].filter((x) => !expected.has(x));
  const out: string[] = [];
  if (missing.length) out.push(`set ${set} lacks ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` … ${missing.length} in all` : ''}`);
  if (extra.length) out.push(`set ${set} has extra ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ` … ${extra.length} in all` : ''}`);
  return out;
}
