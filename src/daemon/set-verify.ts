/**
 * After a set update, the daemon reads back only the sets it changed and compares their members
 * with the rendered ones. The kernel lists members in its own form (interface names unquoted,
 * `::1/128` as `::1`, `::ffff:0:0/96` as `::ffff:0.0.0.0/96`, ranges that are prefixes as
 * prefixes), so both sides are normalised first. A difference here is not yet drift: the daemon
 * then inspects the whole table, exactly (scratch namespace), before it repairs anything.
 */
import ipaddr from 'ipaddr.js';
import { setBlocks } from '../backends/nftables/delta.js';
import { elementText } from '../backends/nftables/read.js';

/** The sets a set-update script flushes (`flush set inet lanfence NAME`), in order. */
export function changedSets(delta: string): string[] {
  const out: string[] = [];
  for (const m of delta.matchAll(/^flush set \S+ \S+ (\S+)$/gm)) out.push(m[1]);
  return out;
}

const ADDRESS = /^(\d+\.\d+\.\d+\.\d+|[0-9a-f:.]*:[0-9a-f:.]*)(\/\d+)?$/i;

function address(text: string): string | null {
  if (!ADDRESS.test(text)) return null;
  try {
    if (text.includes('/')) {
      const [a, len] = ipaddr.parseCIDR(text);
      const full = a.kind() === 'ipv4' ? 32 : 128;
      return len === full ? a.toNormalizedString() : `${networkOf(a, len)}/${len}`;
    }
    return ipaddr.isValid(text) ? ipaddr.parse(text).toNormalizedString() : null;
  } catch {
    return null;
  }
}

function networkOf(a: ipaddr.IPv4 | ipaddr.IPv6, len: number): string {
  const bytes = a.toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, len - i * 8));
    bytes[i] &= keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
  }
  return ipaddr.fromByteArray(bytes).toNormalizedString();
}

/** A range `a-b` of addresses that is exactly one prefix, as that prefix; else null. */
function rangeAsPrefix(lo: string, hi: string): string | null {
  if (!ADDRESS.test(lo) || !ADDRESS.test(hi) || !ipaddr.isValid(lo) || !ipaddr.isValid(hi)) return null;
  const a = ipaddr.parse(lo).toByteArray();
  const b = ipaddr.parse(hi).toByteArray();
  if (a.length !== b.length) return null;
  let len = 0;
  while (len < a.length * 8) {
    const i = len >> 3;
    const bit = 7 - (len & 7);
    if (((a[i] >> bit) & 1) !== ((b[i] >> bit) & 1)) break;
    len++;
  }
  for (let k = len; k < a.length * 8; k++) {
    const i = k >> 3;
    const bit = 7 - (k & 7);
    if (((a[i] >> bit) & 1) !== 0 || ((b[i] >> bit) & 1) !== 1) return null;
  }
  return len === a.length * 8 ? ipaddr.fromByteArray(a).toNormalizedString() : `${ipaddr.fromByteArray(a).toNormalizedString()}/${len}`;
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
