/**
 * Resolved rules → an ipset restore file, an iptables-restore and an ip6tables-restore file (both for
 * `--noflush`), plus the hooks: the jumps into chains lanfence does not own. Pure and deterministic.
 * Layout and reasons: README.md beside this file.
 */
import { mergePortRanges } from '../../policy/ports.js';
import { cidrOf, compareCidr, shortText, type Cidr, type Family } from '../../ruleset/cidr.js';
import { ANY_IFACE, type AllowElement, type Resolved } from '../../ruleset/resolve.js';
import type { PortRange } from '../../ruleset/types.js';
import type { Rendered, RenderedPart } from '../types.js';
import { ceilingArgs, hashlimitName, hashlimitRate, iptablesInterface } from '../xtables.js';
import { ceilingText } from '../../policy/rate.js';

export const CHAINS = {
  /** Forward path, hooked from DOCKER-USER (IPv4) / FORWARD (IPv6): the interface gate. */
  fwd: 'LANFENCE-FWD',
  /** Forward path for packets that entered from a container interface. */
  fwdJudge: 'LANFENCE-FWD-JUDGE',
  /** Input path, hooked from INPUT: the interface gate. */
  in: 'LANFENCE-IN',
  /** Input path for packets that entered from a container interface. */
  inJudge: 'LANFENCE-IN-JUDGE',
  /** Log (rate-limited), then drop or reject (enforce) or pass (audit). */
  block: 'LANFENCE-BLOCK',
} as const;

export const BLOCK_SETS: Record<Family, string> = { 4: 'lanfence-block4', 6: 'lanfence-block6' };
/** Suffix of the twin a set is refilled through before it is swapped in. */
export const TWIN_SUFFIX = '-n';
/**
 * One constant for every set: `create -exist` only tolerates an existing set whose create parameters
 * are identical, so they must not depend on the content. maxelem is a cap, not an allocation.
 */
export const SET_MAXELEM = 1048576;
/**
 * Port ranges wider than this become plain rules (`--dport A:B`) instead of set members: ipset
 * stores one member per port, so `1-65535/tcp` would be 65535 members per destination.
 */
export const WIDE_PORT_RANGE = 1024;
/** ICMPv6 router solicitation/advertisement, neighbour solicitation/advertisement. */
export const NEIGHBOUR_DISCOVERY = [133, 134, 135, 136] as const;

/** A jump into a chain lanfence does not own: apply inserts it (`-I chain 1 ...rule`) when missing. */
export interface IptablesHook {
  family: Family;
  chain: string;
  rule: string[];
}

type SetType = 'hash:net' | 'hash:net,port' | 'hash:ip,port,net';

interface Member {
  elem: string;
  comment: string;
}

interface IpSet {
  name: string;
  type: SetType;
  family: Family;
  /** `--match-set NAME <flags>` */
  flags: string;
  members: Member[];
  /** The exceptions whose elements it holds (empty for the block sets). */
  exceptions: number[];
  title: string;
}

/** A plain (linear) rule: its match arguments and the exceptions it stands for. */
interface LinearRule {
  match: string[];
  exceptions: number[];
  /** For a stable order whatever order the inventory lists containers in. */
  src: Cidr;
  dst: Cidr | null;
}

/** Exceptions with a CIDR destination, for one (interface, family). */
interface Group {
  family: Family;
  iface: string;
  sets: IpSet[];
  linear: LinearRule[];
}

const tool = (f: Family) => (f === 4 ? 'iptables' : 'ip6tables');
const inet = (f: Family) => (f === 4 ? 'inet' : 'inet6');
const hostPrefix = (f: Family) => (f === 4 ? 32 : 128);

export { hashlimitName, hashlimitRate, iptablesInterface };

/** A quoted comment for ipset and iptables: no `"` or `\` (ipset cannot escape them), at most 255 bytes. */
export function quoteComment(text: string): string {
  let s = text.replace(/"/g, "'").replace(/\\/g, '/').replace(/[\x00-\x1f\x7f]/g, ' ');
  while (Buffer.byteLength(s, 'utf8') > 255) s = s.slice(0, -1);
  // Never end on half a surrogate pair.
  if (/[\ud800-\udbff]$/.test(s)) s = s.slice(0, -1);
  return `"${s}"`;
}

/** Members of a hash:net set cannot be /0: a /0 becomes its two /1 halves. */
export function splitForSet(c: Cidr): Cidr[] {
  if (c.prefix !== 0) return [c];
  return c.family === 4 ? [cidrOf('0.0.0.0/1'), cidrOf('128.0.0.0/1')] : [cidrOf('::/1'), cidrOf('8000::/1')];
}

const setPort = (r: PortRange) => `${r.proto}:${r.from === r.to ? r.from : `${r.from}-${r.to}`}`;
const rulePort = (r: PortRange) => ['-p', r.proto, '--dport', r.from === r.to ? `${r.from}` : `${r.from}:${r.to}`];
const isWide = (r: PortRange) => r.to - r.from + 1 > WIDE_PORT_RANGE;
const overlapsRange = (a: PortRange, b: PortRange) => a.proto === b.proto && a.from <= b.to && b.from <= a.to;

export function iptablesHooks(resolved: Resolved): IptablesHook[] {
  const hooks: IptablesHook[] = [];
  for (const family of [4, 6] as const) {
    // Docker < 24 (e.g. 20.10) has no IPv6 DOCKER-USER chain: the IPv6 forward path hooks FORWARD.
    hooks.push({ family, chain: family === 4 ? 'DOCKER-USER' : 'FORWARD', rule: ['-j', CHAINS.fwd] });
    if (resolved.ruleset.protectHost) hooks.push({ family, chain: 'INPUT', rule: ['-j', CHAINS.in] });
  }
  return hooks;
}

export const hookCommand = (h: IptablesHook): string => [tool(h.family), '-I', h.chain, '1', ...h.rule].join(' ');

/** Heading of the hooks section in the rendered text; `renderedHooks` reads the hooks back from there. */
export const HOOKS_HEADING = '# ---- hooks (inserted once by apply, each only when missing) ----';

/**
 * The hooks of a rendering, read back from its text (the restore files do not hold them): every
 * `hookCommand` line after HOOKS_HEADING.
 */
export function renderedHooks(rendered: Rendered): IptablesHook[] {
  const at = rendered.text.indexOf(HOOKS_HEADING);
  if (at < 0) return [];
  const hooks: IptablesHook[] = [];
  for (const line of rendered.text.slice(at + HOOKS_HEADING.length).split('\n')) {
    const m = /^(iptables|ip6tables) -I (\S+) 1 (.+)$/.exec(line.trim());
    if (m) hooks.push({ family: m[1] === 'iptables' ? 4 : 6, chain: m[2], rule: m[3].split(' ') });
  }
  return hooks;
}

export function renderIptables(resolved: Resolved): Rendered {
  const plan = planExceptions(resolved);
  const blockSets = ([4, 6] as const).map((f) => blockSet(resolved, f)).filter((s): s is IpSet => s !== null);
  const allSets = [...blockSets, ...plan.groups.flatMap((g) => g.sets)];

  const parts: RenderedPart[] = [
    { tool: 'ipset', content: renderIpsets(allSets) },
    { tool: 'iptables', content: renderFamily(resolved, 4, plan, blockSets) },
    { tool: 'ip6tables', content: renderFamily(resolved, 6, plan, blockSets) },
  ];
  const hooks = iptablesHooks(resolved);
  const { ruleset } = resolved;
  const header = [
    '# lanfence: iptables backend (ipset + iptables-restore --noflush + ip6tables-restore --noflush).',
    `# mode ${ruleset.mode}${ruleset.mode === 'enforce' ? `, action ${ruleset.action}` : ' (log only, nothing is dropped)'}; protect host: ${ruleset.protectHost ? 'yes' : 'no'}`,
    `# judged interfaces: ${resolved.interfaces.map(iptablesInterface).join(' ') || '(none)'}`,
    `# log: prefix ${quoteComment(ruleset.log.prefix)}, at most one line per (source, destination, port) per ${ruleset.log.periodSeconds} s (${hashlimitRate(ruleset.log.periodSeconds)}), at most ${ceilingText(ruleset.log.ceiling)} per family`,
    '# apply order: ipset restore, iptables-restore --noflush, ip6tables-restore --noflush, then the hooks (each only when missing).',
  ];
  const text = [
    `${header.join('\n')}\n`,
    `# ---- ipset restore ----\n${parts[0].content}`,
    `# ---- iptables-restore --noflush ----\n${parts[1].content}`,
    `# ---- ip6tables-restore --noflush ----\n${parts[2].content}`,
    `${HOOKS_HEADING}\n${hooks.map(hookCommand).join('\n')}\n`,
  ].join('\n');
  return { backend: 'iptables', text, parts };
}

function blockSet(resolved: Resolved, family: Family): IpSet | null {
  const members = resolved.ruleset.blocked
    .filter((b) => b.cidr.family === family)
    .flatMap((b) => splitForSet(b.cidr).map((c) => ({ elem: shortText(c), comment: b.name })));
  if (members.length === 0) return null;
  return { name: BLOCK_SETS[family], type: 'hash:net', family, flags: 'dst', members, exceptions: [], title: `blocked destinations, IPv${family}` };
}

/** Exception comments by index, per rule set (a lookup per rule, not a search). */
const commentsOf = new WeakMap<Resolved, Map<number, string | undefined>>();
function commentOf(resolved: Resolved, index: number): string | undefined {
  let m = commentsOf.get(resolved);
  if (!m) commentsOf.set(resolved, (m = new Map(resolved.ruleset.exceptions.map((x) => [x.index, x.comment]))));
  return m.get(index);
}

/** `allow #N: comment` for one exception, `allow #1, #3` for several. */
function allowLabel(resolved: Resolved, exceptions: Iterable<number>): string {
  const nums = [...new Set(exceptions)].sort((a, b) => a - b);
  if (nums.length === 1) {
    const comment = commentOf(resolved, nums[0]);
    return `allow #${nums[0]}${comment ? `: ${comment}` : ''}`;
  }
  const shown = nums.slice(0, 12).map((n) => `#${n}`).join(', ');
  return nums.length > 12 ? `allow ${shown}, ... (${nums.length} exceptions)` : `allow ${shown}`;
}

interface Acc<K> {
  key: K;
  entries: { exception: number; range: PortRange | null }[];
}

/** Collects entries under a text key, remembering the first key object. */
class Collector<K> {
  private map = new Map<string, Acc<K>>();
  add(id: string, key: K, exception: number, range: PortRange | null) {
    let acc = this.map.get(id);
    if (!acc) this.map.set(id, (acc = { key, entries: [] }));
    acc.entries.push({ exception, range });
  }
  values(): Acc<K>[] {
    return [...this.map.values()];
  }
}

/** Ranges merged per key; each merged range names the exceptions that contributed to it. */
function mergedRanges(acc: Acc<unknown>): { range: PortRange; exceptions: number[] }[] {
  return mergePortRanges(acc.entries.map((e) => e.range!)).map((range) => ({
    range,
    exceptions: acc.entries.filter((e) => overlapsRange(e.range!, range)).map((e) => e.exception),
  }));
}

function planExceptions(resolved: Resolved): { groups: Group[]; host: Record<Family, LinearRule[]> } {
  const byGroup = new Map<string, AllowElement[]>();
  const hostElements: AllowElement[] = [];
  for (const e of resolved.allow) {
    if (e.dst === null) {
      hostElements.push(e);
      continue;
    }
    const id = `${e.family}|${e.iface}`;
    const list = byGroup.get(id);
    if (list) list.push(e);
    else byGroup.set(id, [e]);
  }
  const order = (a: string, b: string) => (a === b ? 0 : a === ANY_IFACE ? -1 : b === ANY_IFACE ? 1 : a < b ? -1 : 1);
  const keys = [...byGroup.keys()]
    .map((k) => ({ k, family: Number(k.slice(0, 1)) as Family, iface: k.slice(2) }))
    .sort((a, b) => a.family - b.family || order(a.iface, b.iface));

  const groups: Group[] = [];
  const indexInFamily: Record<Family, number> = { 4: 0, 6: 0 };
  for (const { k, family, iface } of keys) {
    groups.push(planGroup(resolved, family, iface, indexInFamily[family]++, byGroup.get(k)!));
  }

  const host: Record<Family, LinearRule[]> = { 4: [], 6: [] };
  for (const f of [4, 6] as const) {
    host[f] = dedupeLinear(
      hostElements
        .filter((e) => e.family === f)
        .flatMap((e) => {
          const head = [...(e.iface === ANY_IFACE ? [] : ['-i', e.iface]), ...(e.src.prefix > 0 ? ['-s', e.src.text] : [])];
          const ports = e.ports === null ? [head] : e.ports.map((r) => [...head, ...rulePort(r)]);
          return ports.map((match) => ({ match, exceptions: [e.exception], src: e.src, dst: null }));
        }),
    );
  }
  return { groups, host };
}

function planGroup(resolved: Resolved, family: Family, iface: string, index: number, elements: AllowElement[]): Group {
  const dst = new Collector<Cidr>();
  const dstPort = new Collector<Cidr>();
  const srcPortDst = new Collector<[string, Cidr]>();
  const linear: LinearRule[] = [];
  const linearRule = (e: AllowElement, d: Cidr, r: PortRange | null) =>
    linear.push({
      match: [...(e.src.prefix > 0 ? ['-s', e.src.text] : []), ...(d.prefix > 0 ? ['-d', d.text] : []), ...(r ? rulePort(r) : [])],
      exceptions: [e.exception],
      src: e.src,
      dst: d,
    });

  for (const e of elements) {
    const d = e.dst!;
    const srcAny = e.src.prefix === 0;
    const srcHost = e.src.prefix === hostPrefix(family);
    if (e.ports === null) {
      // A specific source without ports would need hash:net,net, which not every kernel has (the lab's
      // does not): those few exceptions (container- and label-scoped) stay plain rules.
      if (srcAny) for (const c of splitForSet(d)) dst.add(c.text, c, e.exception, null);
      else linearRule(e, d, null);
      continue;
    }
    for (const r of e.ports) {
      if (isWide(r) || (!srcAny && !srcHost)) linearRule(e, d, r);
      else if (srcAny) for (const c of splitForSet(d)) dstPort.add(c.text, c, e.exception, r);
      else for (const c of splitForSet(d)) srcPortDst.add(`${e.src.address}|${c.text}`, [e.src.address, c], e.exception, r);
    }
  }

  const base = `lanfence-a${family}-${index}`;
  const sets: IpSet[] = [];
  const where = iface === ANY_IFACE ? 'any container interface' : iface;
  const label = (nums: number[]) => allowLabel(resolved, nums);

  const d = dst.values().sort((a, b) => compareCidr(a.key, b.key));
  if (d.length > 0) {
    const members = d.map((acc) => ({ elem: shortText(acc.key), comment: label(acc.entries.map((x) => x.exception)) }));
    sets.push(mkSet(`${base}-d`, 'hash:net', family, 'dst', members, d, `exceptions from ${where}, IPv${family}: destination`));
  }
  const dp = dstPort.values().sort((a, b) => compareCidr(a.key, b.key));
  if (dp.length > 0) {
    const members = dp.flatMap((acc) =>
      mergedRanges(acc).map((m) => ({ elem: `${shortText(acc.key)},${setPort(m.range)}`, comment: label(m.exceptions) })),
    );
    sets.push(mkSet(`${base}-dp`, 'hash:net,port', family, 'dst,dst', members, dp, `exceptions from ${where}, IPv${family}: destination, port`));
  }
  const spd = srcPortDst.values().sort((a, b) => compareCidr(cidrOf(a.key[0]), cidrOf(b.key[0])) || compareCidr(a.key[1], b.key[1]));
  if (spd.length > 0) {
    const members = spd.flatMap((acc) =>
      mergedRanges(acc).map((m) => ({ elem: `${acc.key[0]},${setPort(m.range)},${shortText(acc.key[1])}`, comment: label(m.exceptions) })),
    );
    sets.push(mkSet(`${base}-spd`, 'hash:ip,port,net', family, 'src,dst,dst', members, spd, `exceptions from ${where}, IPv${family}: source, port, destination`));
  }
  return { family, iface, sets, linear: dedupeLinear(linear) };
}

function mkSet(name: string, type: SetType, family: Family, flags: string, members: Member[], accs: Acc<unknown>[], title: string): IpSet {
  const exceptions = [...new Set(accs.flatMap((a) => a.entries.map((e) => e.exception)))].sort((a, b) => a - b);
  return { name, type, family, flags, members, exceptions, title };
}

/**
 * Identical matches become one rule that names every exception behind it. Ordered by exception, then
 * source and destination (not by the inventory's container order), then the rest of the match.
 */
function dedupeLinear(rules: LinearRule[]): LinearRule[] {
  const out = new Map<string, LinearRule>();
  for (const r of rules) {
    const k = r.match.join(' ');
    const seen = out.get(k);
    if (seen) seen.exceptions = [...new Set([...seen.exceptions, ...r.exceptions])].sort((a, b) => a - b);
    else out.set(k, { ...r, exceptions: [...r.exceptions] });
  }
  const cmpDst = (a: Cidr | null, b: Cidr | null) => (a && b ? compareCidr(a, b) : a ? 1 : b ? -1 : 0);
  return [...out.values()].sort(
    (a, b) => a.exceptions[0] - b.exceptions[0] || compareCidr(a.src, b.src) || cmpDst(a.dst, b.dst) || 0,
  );
}

function renderIpsets(sets: IpSet[]): string {
  const lines = [
    '# Every set is filled through a twin (<name>-n) and swapped in: an update never leaves it empty.',
  ];
  if (sets.length === 0) lines.push('# (no sets: nothing is blocked and there are no CIDR exceptions)');
  for (const s of sets) {
    const create = (name: string) => `create ${name} ${s.type} family ${inet(s.family)} comment maxelem ${SET_MAXELEM} -exist`;
    const twin = `${s.name}${TWIN_SUFFIX}`;
    lines.push('', `# ${s.title}`, create(s.name), create(twin), `flush ${twin}`);
    for (const m of s.members) lines.push(`add ${twin} ${m.elem} comment ${quoteComment(m.comment)}`);
    lines.push(`swap ${twin} ${s.name}`, `destroy ${twin}`);
  }
  return `${lines.join('\n')}\n`;
}

function renderFamily(resolved: Resolved, family: Family, plan: ReturnType<typeof planExceptions>, blockSets: IpSet[]): string {
  const { ruleset } = resolved;
  const ifaces = [...new Set(resolved.interfaces.map(iptablesInterface))];
  const groups = plan.groups.filter((g) => g.family === family);
  const block = blockSets.find((s) => s.family === family);
  const out: string[] = ['*filter'];
  for (const c of [CHAINS.fwd, CHAINS.fwdJudge, CHAINS.in, CHAINS.inJudge, CHAINS.block]) out.push(`:${c} - [0:0]`);
  const rule = (chain: string, ...args: string[]) => out.push(['-A', chain, ...args].join(' '));
  const comment = (text: string) => ['-m', 'comment', '--comment', quoteComment(text)];

  const exceptionRules = (chain: string) => {
    for (const g of groups) {
      const i = g.iface === ANY_IFACE ? [] : ['-i', g.iface];
      for (const s of g.sets) rule(chain, ...i, '-m', 'set', '--match-set', s.name, s.flags, ...comment(allowLabel(resolved, s.exceptions)), '-j', 'RETURN');
      for (const l of g.linear) rule(chain, ...i, ...l.match, ...comment(allowLabel(resolved, l.exceptions)), '-j', 'RETURN');
    }
  };
  const gate = (chain: string, judge: string) => {
    if (ifaces.length === 0) out.push('# no container interface is known: nothing is judged');
    for (const i of ifaces) rule(chain, '-i', i, '-g', judge);
  };

  out.push('', `# ${CHAINS.fwd} (from ${family === 4 ? 'DOCKER-USER' : 'FORWARD'}): only packets entering from a container interface are judged.`);
  gate(CHAINS.fwd, CHAINS.fwdJudge);
  out.push('', `# ${CHAINS.fwdJudge}: new connections from containers to other interfaces; exceptions return to the host's other rules.`);
  rule(CHAINS.fwdJudge, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'RETURN');
  for (const i of ifaces) rule(CHAINS.fwdJudge, '-o', i, '-j', 'RETURN');
  exceptionRules(CHAINS.fwdJudge);
  if (block) rule(CHAINS.fwdJudge, '-m', 'set', '--match-set', block.name, 'dst', ...comment('blocked destination'), '-j', CHAINS.block);
  else out.push(`# no IPv${family} destination is blocked`);

  out.push('');
  if (ruleset.protectHost) {
    out.push(`# ${CHAINS.in} (from INPUT): only packets entering from a container interface are judged.`);
    gate(CHAINS.in, CHAINS.inJudge);
    out.push('', `# ${CHAINS.inJudge}: new connections from containers to any address of the host.`);
    rule(CHAINS.inJudge, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'RETURN');
    if (family === 6) for (const t of NEIGHBOUR_DISCOVERY) rule(CHAINS.inJudge, '-p', 'ipv6-icmp', '--icmpv6-type', `${t}`, '-j', 'RETURN');
    exceptionRules(CHAINS.inJudge);
    for (const l of plan.host[family]) rule(CHAINS.inJudge, ...l.match, ...comment(allowLabel(resolved, l.exceptions)), '-j', 'RETURN');
    rule(CHAINS.inJudge, ...comment('host address'), '-j', CHAINS.block);
  } else {
    out.push(`# protect.host is off: ${CHAINS.in} and ${CHAINS.inJudge} stay empty and INPUT is not hooked.`);
  }

  const { periodSeconds, prefix, ceiling } = ruleset.log;
  out.push('', `# ${CHAINS.block}: log at most one line per (source, destination, port) per ${periodSeconds} s and ${ceilingText(ceiling)} in all, then ${ruleset.mode === 'audit' ? 'pass (audit mode)' : ruleset.action}.`);
  rule(
    CHAINS.block,
    ...['-m', 'hashlimit', '--hashlimit-mode', 'srcip,dstip,dstport', '--hashlimit-upto', hashlimitRate(periodSeconds), '--hashlimit-burst', '1'],
    ...['--hashlimit-htable-expire', `${periodSeconds * 1000}`, '--hashlimit-name', hashlimitName(periodSeconds)],
    ...ceilingArgs(ceiling),
    ...['-j', 'LOG', '--log-prefix', quoteComment(prefix)],
  );
  if (ruleset.mode === 'enforce') {
    if (ruleset.action === 'drop') rule(CHAINS.block, '-j', 'DROP');
    else {
      rule(CHAINS.block, '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset');
      rule(CHAINS.block, '-j', 'REJECT', '--reject-with', family === 4 ? 'icmp-admin-prohibited' : 'icmp6-adm-prohibited');
    }
  }
  out.push('COMMIT');
  return `${out.join('\n')}\n`;
}
