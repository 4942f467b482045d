/**
 * A what-if, not lanfence's current output: lanfence's nftables rendering with its exact IPv4
 * exceptions moved out of the `flags interval` concatenated sets into plain (hash) sets.
 *
 * Concatenated sets with `flags interval` are pipapo sets, whose lookup cost grows with the number
 * of elements; sets without intervals are hash tables, whose lookup cost does not. Exceptions to one
 * address and one port need no interval. Every-container exceptions (source 0.0.0.0/0) go into a
 * set keyed without the source. The packets this allows and judges are the same: only where the
 * elements live changes. Used to measure what a change of the renderer would buy.
 */
import { NFT_TABLE } from '../../src/backends/nftables/render.js';

const V4 = String.raw`\d+\.\d+\.\d+\.\d+`;
const ANY4 = '0.0.0.0/0';

interface Move {
  from: string;
  to: string;
  type: string;
  key: string;
  /** Returns the element for the new set, or null to leave it where it is. */
  convert: (element: string) => string | null;
}

const parts = (el: string): { fields: string[]; comment: string } => {
  const c = el.indexOf(' comment ');
  const body = c < 0 ? el : el.slice(0, c);
  return { fields: body.split(' . '), comment: c < 0 ? '' : el.slice(c) };
};
const exact = (f: string) => new RegExp(`^${V4}$`).test(f);
const port = (f: string) => /^\d+$/.test(f);

const MOVES: Move[] = [
  {
    from: 'allow4',
    to: 'allow4_dst',
    type: 'ipv4_addr',
    key: 'ip daddr',
    convert: (el) => {
      const { fields: [s, d], comment } = parts(el);
      return s === ANY4 && exact(d) ? `${d}${comment}` : null;
    },
  },
  {
    from: 'allow4',
    to: 'allow4_src_dst',
    type: 'ipv4_addr . ipv4_addr',
    key: 'ip saddr . ip daddr',
    convert: (el) => {
      const { fields: [s, d], comment } = parts(el);
      return exact(s) && exact(d) ? `${s} . ${d}${comment}` : null;
    },
  },
  {
    from: 'allow4_ports',
    to: 'allow4_dst_ports',
    type: 'ipv4_addr . inet_proto . inet_service',
    key: 'ip daddr . meta l4proto . th dport',
    convert: (el) => {
      const { fields: [s, d, p, n], comment } = parts(el);
      return s === ANY4 && exact(d) && port(n) ? `${d} . ${p} . ${n}${comment}` : null;
    },
  },
  {
    from: 'allow4_ports',
    to: 'allow4_src_dst_ports',
    type: 'ipv4_addr . ipv4_addr . inet_proto . inet_service',
    key: 'ip saddr . ip daddr . meta l4proto . th dport',
    convert: (el) => {
      const { fields: [s, d, p, n], comment } = parts(el);
      return exact(s) && exact(d) && port(n) ? `${s} . ${d} . ${p} . ${n}${comment}` : null;
    },
  },
  {
    from: 'allow4_net_ports',
    to: 'allow4_net_dst_ports',
    type: 'ifname . ipv4_addr . inet_proto . inet_service',
    key: 'iifname . ip daddr . meta l4proto . th dport',
    convert: (el) => {
      const { fields: [i, d, p, n], comment } = parts(el);
      return /^"[^"*]+"$/.test(i) && exact(d) && port(n) ? `${i} . ${d} . ${p} . ${n}${comment}` : null;
    },
  },
];

/** Rewrites lanfence's nft script (its own, tab-indented format). */
export function hashSetsWhatIf(script: string): string {
  const lines = script.split('\n');
  // Collect each set's element lines and where its block is.
  const blocks = new Map<string, { start: number; end: number; elements: string[]; elStart: number; elEnd: number }>();
  for (let i = 0; i < lines.length; i++) {
    const m = /^\tset (\S+) \{$/.exec(lines[i]);
    if (!m) continue;
    let j = i + 1;
    let elStart = -1;
    let elEnd = -1;
    const elements: string[] = [];
    for (; j < lines.length && lines[j] !== '\t}'; j++) {
      if (lines[j] === '\t\telements = {') elStart = j;
      else if (elStart >= 0 && elEnd < 0 && lines[j] === '\t\t}') elEnd = j;
      else if (elStart >= 0 && elEnd < 0) elements.push(lines[j].trim().replace(/,$/, ''));
    }
    blocks.set(m[1], { start: i, end: j, elements, elStart, elEnd });
  }
  const kept = new Map<string, string[]>([...blocks].map(([name, b]) => [name, [...b.elements]]));
  const added: { move: Move; elements: string[] }[] = [];
  for (const move of MOVES) {
    const source = kept.get(move.from);
    if (!source) continue;
    const moved: string[] = [];
    const stay: string[] = [];
    for (const el of source) {
      const c = move.convert(el);
      if (c === null) stay.push(el);
      else moved.push(c);
    }
    kept.set(move.from, stay);
    if (moved.length) added.push({ move, elements: moved });
  }
  const setText = (name: string, type: string, elements: string[], interval: boolean) => [
    `\tset ${name} {`,
    `\t\ttype ${type}`,
    ...(interval ? ['\t\tflags interval'] : []),
    ...(elements.length ? ['\t\telements = {', ...elements.map((e, i) => `\t\t\t${e}${i < elements.length - 1 ? ',' : ''}`), '\t\t}'] : []),
    '\t}',
  ];
  const out: string[] = [];
  let skipUntil = -1;
  for (let i = 0; i < lines.length; i++) {
    if (i <= skipUntil) continue;
    const m = /^\tset (\S+) \{$/.exec(lines[i]);
    if (m && blocks.has(m[1]) && MOVES.some((x) => x.from === m[1])) {
      const b = blocks.get(m[1])!;
      const type = /^\t\ttype (.+)$/.exec(lines[i + 1])?.[1] ?? '';
      const rest = kept.get(m[1])!;
      // A set emptied by the moves stays declared (its rule still references it) but holds nothing.
      out.push(...setText(m[1], type, rest, true));
      skipUntil = b.end;
      continue;
    }
    if (lines[i] === `table inet ${NFT_TABLE} {`) {
      out.push(lines[i]);
      continue;
    }
    // A set the moves emptied needs no rule any more (sets that were empty to begin with keep theirs).
    const rule = /^\t\t(.+) @(\S+) accept$/.exec(lines[i]);
    if (rule && kept.get(rule[2])?.length === 0 && (blocks.get(rule[2])?.elements.length ?? 0) > 0) continue;
    if (/^\t\tct state established,related accept/.test(lines[i])) {
      out.push(lines[i]);
      for (const a of added) out.push(`\t\t${a.move.key} @${a.move.to} accept`);
      continue;
    }
    out.push(lines[i]);
    if (lines[i] === '\tcomment "managed by lanfence"') for (const a of added) out.push(...setText(a.move.to, a.move.type, a.elements, false), '');
  }
  return out.join('\n');
}
