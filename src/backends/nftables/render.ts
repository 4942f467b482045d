/**
 * Resolved rules → one nft script that atomically replaces `table inet lanfence`.
 * Layout and reasons: README.md beside this file.
 */

import { shortText, type Cidr, type Family } from '../../ruleset/cidr.js';
import { ANY_IFACE, type AllowElement, type Resolved } from '../../ruleset/resolve.js';
import type { PortRange } from '../../ruleset/types.js';
import type { Rendered } from '../types.js';
import { layers, type Box, type Item } from './layers.js';

/** Same element text twice (one exception resolved to the same tuple twice): keep the first. */
function dedupeItems(items: Item[]): Item[] {
  const seen = new Set<string>();
  return items.filter((i) => {
    const key = i.text.replace(/ comment .*$/, '');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export const NFT_TABLE = 'lanfence';
/** Before Docker's iptables-nft chains (filter, 0) and firewalld's (filter + 10). */
export const NFT_PRIORITY = 'filter - 10';
export const LOG_SET_SIZE = 65536;

/** Where a set's rule lives: a family's `judge` chain (forward and input paths) or the input chain. */
export type SetChain = 'judge4' | 'judge6' | 'input';

/**
 * Named sets, in render order. `key` is the match expression; `type` the set's key type. `interval`
 * sets (pipapo when concatenated) hold CIDRs and port ranges; the others are hash sets, whose lookup
 * cost does not grow with their size, and hold exact elements (one address, one port).
 */
export interface SetSpec {
  name: string;
  type: string;
  key: string;
  elements: string[];
  interval: boolean;
  chain: SetChain | null;
}

const q = (s: string) => `"${s.replace(/["\\]/g, '')}"`;
/** A bridge name in an exception: a trailing `*` is escaped, so it stays a literal name (nft reads `"br*"` as a wildcard). */
const qName = (s: string) => q(s).replace(/\*"$/, '\\*"');
const addrType = (f: Family) => (f === 4 ? 'ipv4_addr' : 'ipv6_addr');
const ipKw = (f: Family) => (f === 4 ? 'ip' : 'ip6');
const portEl = (r: PortRange) => `${r.proto} . ${r.from === r.to ? r.from : `${r.from}-${r.to}`}`;
const isHost = (c: Cidr) => c.prefix === (c.family === 4 ? 32 : 128);
const isAny = (c: Cidr) => c.prefix === 0;
const PP = ' . meta l4proto . th dport';
const PP_T = ' . inet_proto . inet_service';

/** One element (or one port range of it) and the set it belongs in. */
interface Placed extends Item {
  set: string;
}

export function nftSets(resolved: Resolved): SetSpec[] {
  const { ruleset } = resolved;
  const sets: SetSpec[] = [
    {
      name: 'container_ifaces',
      type: 'ifname',
      key: 'iifname',
      elements: resolved.interfaces.map(q),
      interval: true,
      chain: null,
    },
  ];
  for (const f of [4, 6] as const) {
    sets.push({
      name: `blocked${f}`,
      type: addrType(f),
      key: `${ipKw(f)} daddr`,
      elements: ruleset.blocked.filter((b) => b.cidr.family === f).map((b) => `${b.cidr.text} comment ${q(b.name)}`),
      interval: true,
      chain: null,
    });
  }
  const byIndex = new Map(ruleset.exceptions.map((x) => [x.index, x]));
  const comment = (e: AllowElement) => {
    const ex = byIndex.get(e.exception);
    return ` comment ${q(`allow #${e.exception}${ex?.comment ? `: ${ex.comment}` : ''}`.slice(0, 120))}`;
  };
  const any = (e: AllowElement) => e.iface === ANY_IFACE;

  /**
   * Every exception element, per port range, is placed in exactly one set: a hash set when it is
   * exact (one destination address, one port or none, one source address or every container), an
   * interval set otherwise. The set names and rules do not depend on the members (see below).
   */
  const placed: Placed[] = [];
  const place = (e: AllowElement, box: Box, exactHead: boolean, hash: (r: PortRange | null) => { set: string; head: string[] }, wide: (r: PortRange | null) => { set: string; head: string[] }) => {
    for (const r of e.ports ?? [null]) {
      const exact = exactHead && (r === null || r.from === r.to);
      const { set, head } = (exact ? hash : wide)(r);
      const fields = r ? [...head, portEl(r)] : head;
      placed.push({ set, text: `${fields.join(' . ')}${comment(e)}`, box: r ? { ...box, port: r } : box });
    }
  };
  for (const e of resolved.allow) {
    const f = e.family;
    const p = (r: PortRange | null) => (r ? '_ports' : '');
    if (e.dst !== null) {
      const dst = e.dst;
      if (!any(e)) {
        // Network scope: the source is every address on the bridge.
        const box: Box = { iface: e.iface, dst };
        place(e, box, isHost(dst), (r) => ({ set: `allow${f}_net${p(r)}`, head: [qName(e.iface), shortText(dst)] }), (r) => ({ set: `allow${f}_net${p(r)}_ranges`, head: [shortText(dst), qName(e.iface)] }));
      } else {
        const box: Box = { src: e.src, dst };
        const everyone = isAny(e.src);
        place(
          e,
          box,
          isHost(dst) && (everyone || isHost(e.src)),
          (r) => (everyone ? { set: `allow${f}_any${p(r)}`, head: [shortText(dst)] } : { set: `allow${f}${p(r)}`, head: [shortText(e.src), shortText(dst)] }),
          (r) => ({ set: `allow${f}${p(r)}_ranges`, head: [shortText(dst), shortText(e.src)] }),
        );
      }
    } else if (any(e)) {
      place(e, { src: e.src }, isHost(e.src), (r) => ({ set: `host${f}${p(r)}`, head: [shortText(e.src)] }), (r) => ({ set: `host${f}${p(r)}_ranges`, head: [shortText(e.src)] }));
    } else {
      // Network-scoped host exceptions match by interface only, whatever the family.
      place(e, { iface: e.iface }, true, (r) => ({ set: `host_net${p(r)}`, head: [qName(e.iface)] }), (r) => ({ set: `host_net${p(r)}_ranges`, head: [qName(e.iface)] }));
    }
  }
  const bySet = new Map<string, Item[]>();
  for (const x of placed) {
    const list = bySet.get(x.set);
    if (list) list.push(x);
    else bySet.set(x.set, [x]);
  }

  /**
   * Every set below is always declared, empty or not: the table's structure depends only on the
   * policy's shape. Interval sets may split into overlap-free layers (`_2`, …: layers.ts).
   */
  const add = (name: string, type: string, key: string, interval: boolean, chain: SetChain) => {
    const items = dedupeItems(bySet.get(name) ?? []);
    const split = interval ? layers(items) : [items];
    (split.length ? split : [[]]).forEach((layer, i) => sets.push({ name: i === 0 ? name : `${name}_${i + 1}`, type, key, elements: layer.map((x) => x.text), interval, chain }));
  };
  for (const f of [4, 6] as const) {
    const ip = ipKw(f);
    const t = addrType(f);
    const judge = `judge${f}` as const;
    for (const ports of [false, true]) {
      const s = ports ? '_ports' : '';
      const pp = ports ? PP : '';
      const ppT = ports ? PP_T : '';
      add(`allow${f}_any${s}`, `${t}${ppT}`, `${ip} daddr${pp}`, false, judge);
      add(`allow${f}${s}`, `${t} . ${t}${ppT}`, `${ip} saddr . ${ip} daddr${pp}`, false, judge);
      add(`allow${f}_net${s}`, `ifname . ${t}${ppT}`, `iifname . ${ip} daddr${pp}`, false, judge);
    }
    for (const ports of [false, true]) {
      const s = ports ? '_ports' : '';
      const pp = ports ? PP : '';
      const ppT = ports ? PP_T : '';
      // Destination first: the kernel's pipapo lookup stops at the first field nothing matches.
      add(`allow${f}${s}_ranges`, `${t} . ${t}${ppT}`, `${ip} daddr . ${ip} saddr${pp}`, true, judge);
      add(`allow${f}_net${s}_ranges`, `${t} . ifname${ppT}`, `${ip} daddr . iifname${pp}`, true, judge);
    }
    for (const ports of [false, true]) {
      const s = ports ? '_ports' : '';
      add(`host${f}${s}`, `${t}${ports ? PP_T : ''}`, `${ip} saddr${ports ? PP : ''}`, false, 'input');
      add(`host${f}${s}_ranges`, `${t}${ports ? PP_T : ''}`, `${ip} saddr${ports ? PP : ''}`, true, 'input');
    }
  }
  add('host_net', 'ifname', 'iifname', false, 'input');
  add('host_net_ports', `ifname${PP_T}`, `iifname${PP}`, false, 'input');
  add('host_net_ports_ranges', `ifname${PP_T}`, `iifname${PP}`, true, 'input');
  // Every placed element has its set (a set name placed but not declared would be a renderer bug).
  const declared = new Set(sets.map((x) => x.name));
  for (const name of bySet.keys()) if (!declared.has(name)) throw new Error(`nftables renderer: no set ${name}`);
  return sets;
}

function setBlock(s: SetSpec): string[] {
  const lines = [`\tset ${s.name} {`, `\t\ttype ${s.type}`];
  if (s.interval) lines.push(`\t\tflags interval`);
  if (s.elements.length > 0) {
    lines.push(`\t\telements = {`);
    s.elements.forEach((e, i) => lines.push(`\t\t\t${e}${i < s.elements.length - 1 ? ',' : ''}`));
    lines.push(`\t\t}`);
  }
  lines.push('\t}');
  return lines;
}

/** Comment of the log rules' counters (lines logged, told apart from packets blocked by read.ts). */
export const LOG_COUNTER_COMMENT = 'lines logged';

/** The named limit object shared by both log rules: the global ceiling. */
export const LOG_CEILING = 'log_ceiling';

export function renderNftables(resolved: Resolved): Rendered {
  const { ruleset } = resolved;
  const sets = nftSets(resolved);
  // Every set is always declared (empty ones too): a change of members never changes the table's
  // structure, so the daemon can update members in one small transaction (delta.ts).
  const live = sets;
  const period = `${ruleset.log.periodSeconds}s`;

  const out: string[] = [];
  out.push(`# lanfence ${ruleset.mode} mode, action ${ruleset.action}: generated, do not edit.`);
  out.push(`# Applied with one \`nft -f\`: the table is created (if missing), deleted and re-created in one transaction.`);
  out.push(`table inet ${NFT_TABLE}`);
  out.push(`delete table inet ${NFT_TABLE}`);
  out.push(`table inet ${NFT_TABLE} {`);
  out.push(`\tcomment "managed by lanfence"`);
  const c = ruleset.log.ceiling;
  out.push(`\tlimit ${LOG_CEILING} {`, `\t\tcomment "log lines over all containers and both families: a scan cannot flood the log"`, `\t\trate ${c.rate}/${c.per} burst ${c.burst} packets`, `\t}`, '');
  for (const s of live) out.push(...setBlock(s), '');
  for (const f of [4, 6] as const) {
    const t = addrType(f);
    out.push(`\tset log${f} {`, `\t\ttype ${t} . ${t} . inet_proto . inet_service`, `\t\tsize ${LOG_SET_SIZE}`, `\t\tflags dynamic,timeout`, `\t\ttimeout ${period}`, `\t}`, '');
  }

  const exceptionRules = (chain: SetChain) => live.filter((s) => s.chain === chain).map((s) => `\t\t${s.key} @${s.name} accept`);

  // Exceptions only ever let through what would be blocked: on the forward path they are looked up
  // for blocked destinations only, so traffic to anywhere else pays for none of them.
  out.push(`\tchain forward {`);
  out.push(`\t\ttype filter hook forward priority ${NFT_PRIORITY}; policy accept;`);
  out.push(`\t\tiifname != @container_ifaces accept comment "judge only what enters from containers"`);
  out.push(`\t\toifname @container_ifaces accept comment "container to container: Docker's business"`);
  out.push(`\t\tct state established,related accept comment "only new connections are judged"`);
  out.push(`\t\tip daddr @blocked4 goto judge4`);
  out.push(`\t\tip6 daddr @blocked6 goto judge6`);
  out.push(`\t}`, '');

  if (ruleset.protectHost) {
    out.push(`\tchain input {`);
    out.push(`\t\ttype filter hook input priority ${NFT_PRIORITY}; policy accept;`);
    out.push(`\t\tiifname != @container_ifaces accept comment "judge only what enters from containers"`);
    out.push(`\t\tct state established,related accept comment "only new connections are judged"`);
    out.push(`\t\ticmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept comment "IPv6 neighbour discovery"`);
    out.push(...exceptionRules('input'));
    out.push(`\t\tmeta nfproto ipv4 goto judge4 comment "every address of the host"`);
    out.push(`\t\tmeta nfproto ipv6 goto judge6 comment "every address of the host"`);
    out.push(`\t}`, '');
  }

  // A family's exceptions with a destination, then the block verdict.
  for (const f of [4, 6] as const) {
    out.push(`\tchain judge${f} {`);
    out.push(...exceptionRules(`judge${f}`));
    out.push(`\t\tjump block`);
    out.push(`\t}`, '');
  }

  out.push(`\tchain block {`);
  for (const f of [4, 6] as const) {
    const ip = ipKw(f);
    const key = `${ip} saddr . ${ip} daddr . meta l4proto . th dport`;
    out.push(`\t\t${key} != @log${f} limit name ${q(LOG_CEILING)} add @log${f} { ${key} } log prefix ${q(ruleset.log.prefix)} level warn counter comment ${q(LOG_COUNTER_COMMENT)}`);
  }
  if (ruleset.mode === 'audit') {
    out.push(`\t\tcounter comment "audit: logged, passed"`);
  } else if (ruleset.action === 'reject') {
    out.push(`\t\tmeta l4proto tcp counter reject with tcp reset`);
    out.push(`\t\tcounter reject with icmpx admin-prohibited`);
  } else {
    out.push(`\t\tcounter drop`);
  }
  out.push(`\t}`);
  out.push(`}`);
  const text = out.join('\n') + '\n';
  return { backend: 'nftables', text, parts: [{ tool: 'nft', content: text }] };
}

