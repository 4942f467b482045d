/**
 * Resolved rules → one nft script that atomically replaces `table inet lanfence`.
 * Layout and reasons: README.md beside this file.
 */

import { shortText, type Family } from '../../ruleset/cidr.js';
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

/** Named sets, in render order. `key` is the match expression; `type` the set's key type. */
interface SetSpec {
  name: string;
  type: string;
  key: string;
  elements: string[];
  chains: ('forward' | 'input')[];
}

const q = (s: string) => `"${s.replace(/["\\]/g, '')}"`;
const addrType = (f: Family) => (f === 4 ? 'ipv4_addr' : 'ipv6_addr');
const ipKw = (f: Family) => (f === 4 ? 'ip' : 'ip6');
const portEl = (r: PortRange) => `${r.proto} . ${r.from === r.to ? r.from : `${r.from}-${r.to}`}`;

export function nftSets(resolved: Resolved): SetSpec[] {
  const { ruleset } = resolved;
  const sets: SetSpec[] = [
    {
      name: 'container_ifaces',
      type: 'ifname',
      key: 'iifname',
      elements: resolved.interfaces.map(q),
      chains: [],
    },
  ];
  for (const f of [4, 6] as const) {
    sets.push({
      name: `blocked${f}`,
      type: addrType(f),
      key: `${ipKw(f)} daddr`,
      elements: ruleset.blocked.filter((b) => b.cidr.family === f).map((b) => `${b.cidr.text} comment ${q(b.name)}`),
      chains: [],
    });
  }
  const byIndex = new Map(ruleset.exceptions.map((x) => [x.index, x]));
  const comment = (e: AllowElement) => {
    const ex = byIndex.get(e.exception);
    return ` comment ${q(`allow #${e.exception}${ex?.comment ? `: ${ex.comment}` : ''}`.slice(0, 120))}`;
  };
  /** One item per element (and port range), with the box it covers, for layering. */
  const items = (e: AllowElement, head: string[], box: Box): Item[] =>
    e.ports === null
      ? [{ text: `${head.join(' . ')}${comment(e)}`, box }]
      : e.ports.map((r) => ({ text: `${[...head, portEl(r)].join(' . ')}${comment(e)}`, box: { ...box, port: r } }));
  const add = (name: string, type: string, key: string, list: AllowElement[], head: (e: AllowElement) => string[], box: (e: AllowElement) => Box, chains: SetSpec['chains']) => {
    const split = layers(dedupeItems(list.flatMap((e) => items(e, head(e), box(e)))));
    (split.length ? split : [[]]).forEach((layer, i) => sets.push({ name: i === 0 ? name : `${name}_${i + 1}`, type, key, elements: layer.map((x) => x.text), chains }));
  };

  for (const f of [4, 6] as const) {
    const ip = ipKw(f);
    const t = addrType(f);
    const mine = resolved.allow.filter((e) => e.family === f);
    const fwd = mine.filter((e) => e.dst !== null);
    const host = mine.filter((e) => e.dst === null);
    const any = (e: AllowElement) => e.iface === ANY_IFACE;
    const pp = ' . meta l4proto . th dport';
    const ppT = ' . inet_proto . inet_service';
    const srcDst = (e: AllowElement): Box => ({ src: e.src, dst: e.dst! });
    const ifDst = (e: AllowElement): Box => ({ iface: e.iface, dst: e.dst! });
    add(`allow${f}`, `${t} . ${t}`, `${ip} saddr . ${ip} daddr`, fwd.filter((e) => any(e) && !e.ports), (e) => [shortText(e.src), shortText(e.dst!)], srcDst, ['forward', 'input']);
    add(`allow${f}_ports`, `${t} . ${t}${ppT}`, `${ip} saddr . ${ip} daddr${pp}`, fwd.filter((e) => any(e) && e.ports), (e) => [shortText(e.src), shortText(e.dst!)], srcDst, ['forward', 'input']);
    add(`allow${f}_net`, `ifname . ${t}`, `iifname . ${ip} daddr`, fwd.filter((e) => !any(e) && !e.ports), (e) => [q(e.iface), shortText(e.dst!)], ifDst, ['forward', 'input']);
    add(`allow${f}_net_ports`, `ifname . ${t}${ppT}`, `iifname . ${ip} daddr${pp}`, fwd.filter((e) => !any(e) && e.ports), (e) => [q(e.iface), shortText(e.dst!)], ifDst, ['forward', 'input']);
    add(`host${f}`, t, `${ip} saddr`, host.filter((e) => any(e) && !e.ports), (e) => [shortText(e.src)], (e) => ({ src: e.src }), ['input']);
    add(`host${f}_ports`, `${t}${ppT}`, `${ip} saddr${pp}`, host.filter((e) => any(e) && e.ports), (e) => [shortText(e.src)], (e) => ({ src: e.src }), ['input']);
  }
  // Network-scoped host exceptions match by interface only, whatever the family.
  const hostNet = resolved.allow.filter((e) => e.dst === null && e.iface !== ANY_IFACE);
  const ifBox = (e: AllowElement): Box => ({ iface: e.iface });
  add('host_net', 'ifname', 'iifname', hostNet.filter((e) => !e.ports), (e) => [q(e.iface)], ifBox, ['input']);
  add('host_net_ports', 'ifname . inet_proto . inet_service', 'iifname . meta l4proto . th dport', hostNet.filter((e) => e.ports), (e) => [q(e.iface)], ifBox, ['input']);
  return sets;
}

function setBlock(s: SetSpec, dynamic = false): string[] {
  const lines = [`\tset ${s.name} {`, `\t\ttype ${s.type}`, dynamic ? '' : `\t\tflags interval`];
  if (s.elements.length > 0) {
    lines.push(`\t\telements = {`);
    s.elements.forEach((e, i) => lines.push(`\t\t\t${e}${i < s.elements.length - 1 ? ',' : ''}`));
    lines.push(`\t\t}`);
  }
  lines.push('\t}');
  return lines.filter((l) => l !== '');
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

  const exceptionRules = (chain: 'forward' | 'input') =>
    live.filter((s) => s.chains.includes(chain)).map((s) => `\t\t${s.key} @${s.name} accept`);

  out.push(`\tchain forward {`);
  out.push(`\t\ttype filter hook forward priority ${NFT_PRIORITY}; policy accept;`);
  out.push(`\t\tiifname != @container_ifaces accept comment "judge only what enters from containers"`);
  out.push(`\t\toifname @container_ifaces accept comment "container to container: Docker's business"`);
  out.push(`\t\tct state established,related accept comment "only new connections are judged"`);
  out.push(...exceptionRules('forward'));
  out.push(`\t\tip daddr @blocked4 jump block`);
  out.push(`\t\tip6 daddr @blocked6 jump block`);
  out.push(`\t}`, '');

  if (ruleset.protectHost) {
    out.push(`\tchain input {`);
    out.push(`\t\ttype filter hook input priority ${NFT_PRIORITY}; policy accept;`);
    out.push(`\t\tiifname != @container_ifaces accept comment "judge only what enters from containers"`);
    out.push(`\t\tct state established,related accept comment "only new connections are judged"`);
    out.push(`\t\ticmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept comment "IPv6 neighbour discovery"`);
    out.push(...exceptionRules('input'));
    out.push(`\t\tjump block comment "every address of the host"`);
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

