/**
 * firewalld's direct configuration as data (pure): which entries are lanfence's, merging lanfence's
 * entries into someone else's configuration, comparing, reading firewall-cmd listings, and writing
 * direct.xml (only used to recover a firewalld stuck in FAILED state).
 */
import { commandLine } from '../../exec.js';
import { CHAINS, type DirectEntry } from './render.js';
import { shellWords } from './script.js';

/** A chain, rule or passthrough of anyone's direct configuration (any family, any table). */
export interface AnyChain {
  ipv: string;
  table: string;
  chain: string;
}
export interface AnyRule extends AnyChain {
  priority: number;
  args: string[];
}
export interface AnyPassthrough {
  ipv: string;
  args: string[];
}

/** What `config.direct.getSettings()` returns: the whole permanent direct configuration. */
export interface DirectSettings {
  chains: AnyChain[];
  rules: AnyRule[];
  passthroughs: AnyPassthrough[];
}

/** Chains that only lanfence (and the guide it follows) uses: everything in them is lanfence's. */
export const OWN_CHAINS: ReadonlySet<string> = new Set([CHAINS.internal, CHAINS.host, CHAINS.drop]);

const isIpFamily = (ipv: string) => ipv === 'ipv4' || ipv === 'ipv6';
const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const jumpTarget = (args: string[]): string | undefined => {
  const i = args.findIndex((a) => a === '-j' || a === '--jump' || a === '-g' || a === '--goto');
  return i === -1 ? undefined : args[i + 1];
};

/**
 * Is this rule one that lanfence renders? Every rule in lanfence's own chains; and in DOCKER-USER,
 * INPUT and FORWARD exactly the shapes lanfence renders there: jumps to its chains, `allow #N`
 * exceptions, the established/related and container-interface RETURNs, the IPv6 FORWARD jump.
 */
export function isLanfenceRule(r: AnyRule): boolean {
  if (r.table !== 'filter' || !isIpFamily(r.ipv)) return false;
  if (OWN_CHAINS.has(r.chain)) return true;
  const target = jumpTarget(r.args);
  if (['DOCKER-USER', 'INPUT', 'FORWARD'].includes(r.chain) && target !== undefined && OWN_CHAINS.has(target)) return true;
  if (r.chain === CHAINS.user) {
    const c = r.args.indexOf('--comment');
    if (c > 0 && r.args[c - 1] === 'comment' && /^allow #\d+$/.test(r.args[c + 1] ?? '') && target === 'RETURN') return true;
    if (r.priority === 0 && same(r.args, ['-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'RETURN'])) return true;
    if (r.priority === 0 && r.args.length === 4 && r.args[0] === '-o' && same(r.args.slice(2), ['-j', 'RETURN'])) return true;
  }
  return r.chain === 'FORWARD' && r.ipv === 'ipv6' && r.priority === 0 && same(r.args, ['-j', CHAINS.user]);
}

/** lanfence's own chains. DOCKER-USER is lanfence's only while no one else's rule lives in it or jumps to it. */
function isLanfenceChain(c: AnyChain, otherRules: AnyRule[]): boolean {
  if (c.table !== 'filter' || !isIpFamily(c.ipv)) return false;
  if (OWN_CHAINS.has(c.chain)) return true;
  if (c.chain !== CHAINS.user) return false;
  return !otherRules.some((r) => r.ipv === c.ipv && r.table === 'filter' && (r.chain === CHAINS.user || jumpTarget(r.args) === CHAINS.user));
}

/** The configuration without anything of lanfence's: what `remove` leaves, and what `apply` adds to. */
export function withoutLanfence(s: DirectSettings): DirectSettings {
  const rules = s.rules.filter((r) => !isLanfenceRule(r));
  return { chains: s.chains.filter((c) => !isLanfenceChain(c, rules)), rules, passthroughs: s.passthroughs };
}

/** lanfence's entries of a configuration (or of a runtime listing). */
export function lanfenceOf(s: Pick<DirectSettings, 'chains' | 'rules'>): { chains: AnyChain[]; rules: AnyRule[] } {
  const rules = s.rules.filter(isLanfenceRule);
  const others = s.rules.filter((r) => !isLanfenceRule(r));
  return { rules, chains: s.chains.filter((c) => isLanfenceChain(c, others)) };
}

export const chainKey = (c: AnyChain): string => `${c.ipv} ${c.table} ${c.chain}`;
/** A rule as firewall-cmd prints it: `ipv4 filter DOCKER-USER 0 -m conntrack ...`. */
export const ruleKey = (r: AnyRule): string => commandLine(r.ipv, [r.table, r.chain, String(r.priority), ...r.args]);

const asChain = (e: AnyChain): AnyChain => ({ ipv: e.ipv, table: e.table, chain: e.chain });
const asRule = (e: AnyRule): AnyRule => ({ ipv: e.ipv, table: e.table, chain: e.chain, priority: e.priority, args: [...e.args] });

/** Splits rendered entries into chains and rules. */
export function entriesAsSettings(entries: DirectEntry[]): { chains: AnyChain[]; rules: AnyRule[] } {
  return {
    chains: entries.filter((e) => e.kind === 'chain').map(asChain),
    rules: entries.flatMap((e) => (e.kind === 'rule' ? [asRule(e)] : [])),
  };
}

/** Someone else's configuration plus lanfence's entries (chains and rules they already have are not repeated). */
export function mergeSettings(others: DirectSettings, entries: DirectEntry[]): DirectSettings {
  const ours = entriesAsSettings(entries);
  const chainKeys = new Set(others.chains.map(chainKey));
  const ruleKeys = new Set(others.rules.map(ruleKey));
  const chains = [...others.chains];
  for (const c of ours.chains) {
    if (chainKeys.has(chainKey(c))) continue;
    chains.push(c);
    chainKeys.add(chainKey(c));
  }
  const rules = [...others.rules];
  for (const r of ours.rules) {
    if (ruleKeys.has(ruleKey(r))) continue;
    rules.push(r);
    ruleKeys.add(ruleKey(r));
  }
  return { chains, rules, passthroughs: others.passthroughs };
}

/** Multiset difference both ways: `missing` are in `want` only, `extra` in `have` only. */
export function diffKeys(want: string[], have: string[]): { missing: string[]; extra: string[] } {
  const count = new Map<string, number>();
  for (const k of have) count.set(k, (count.get(k) ?? 0) + 1);
  const missing: string[] = [];
  for (const k of want) {
    const n = count.get(k) ?? 0;
    if (n > 0) count.set(k, n - 1);
    else missing.push(k);
  }
  const extra = [...count].flatMap(([k, n]) => Array<string>(n).fill(k));
  return { missing, extra };
}

/** Chains and rules, compared as sets (order is firewalld's business: it orders rules by priority). */
export function diffSettings(
  want: Pick<DirectSettings, 'chains' | 'rules'>,
  have: Pick<DirectSettings, 'chains' | 'rules'>,
): { missing: string[]; extra: string[] } {
  const chains = diffKeys(want.chains.map(chainKey), have.chains.map(chainKey));
  const rules = diffKeys(want.rules.map(ruleKey), have.rules.map(ruleKey));
  return {
    missing: [...chains.missing.map((k) => `chain ${k}`), ...rules.missing.map((k) => `rule ${k}`)],
    extra: [...chains.extra.map((k) => `chain ${k}`), ...rules.extra.map((k) => `rule ${k}`)],
  };
}

/**
 * lanfence's expected entries against a live configuration: `missing` from all of it (DOCKER-USER may
 * be declared by someone else too), `extra` among lanfence's own entries only.
 */
export function diffOurs(
  want: Pick<DirectSettings, 'chains' | 'rules'>,
  have: Pick<DirectSettings, 'chains' | 'rules'>,
): { missing: string[]; extra: string[] } {
  return { missing: diffSettings(want, have).missing, extra: diffSettings(want, lanfenceOf(have)).extra };
}

export const sameSettings = (a: DirectSettings, b: DirectSettings): boolean => {
  const d = diffSettings(a, b);
  const p = diffKeys(a.passthroughs.map((x) => commandLine(x.ipv, x.args)), b.passthroughs.map((x) => commandLine(x.ipv, x.args)));
  return d.missing.length + d.extra.length + p.missing.length + p.extra.length === 0;
};

/** `firewall-cmd [--permanent] --direct --get-all-chains` output → chains; null on a line it cannot read. */
export function parseChainListing(text: string): AnyChain[] | null {
  const out: AnyChain[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const w = shellWords(line);
    if (!w || w.length !== 3) return null;
    out.push({ ipv: w[0], table: w[1], chain: w[2] });
  }
  return out;
}

/** `firewall-cmd [--permanent] --direct --get-all-rules` output → rules; null on a line it cannot read. */
export function parseRuleListing(text: string): AnyRule[] | null {
  const out: AnyRule[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const w = shellWords(line);
    if (!w || w.length < 4 || !/^-?\d+$/.test(w[3])) return null;
    out.push({ ipv: w[0], table: w[1], chain: w[2], priority: Number(w[3]), args: w.slice(4) });
  }
  return out;
}

/** One change of firewalld's runtime direct rules; `optional`: skipped when it fails. */
export interface RuntimeOp {
  op: 'addChain' | 'removeChain' | 'addRule' | 'removeRule';
  ipv: string;
  table: string;
  chain: string;
  priority?: number;
  args?: string[];
  optional?: boolean;
}

/**
 * The runtime changes from `runtime` to `want`: add chains (but not a DOCKER-USER the kernel has
 * already: Docker creates it, and firewalld's `-N` would fail), add rules, remove lanfence's rules
 * that are not wanted, then its chains. Removing DOCKER-USER is optional: while Docker has rules in
 * it the kernel refuses, and the chain is Docker's as much as lanfence's.
 */
export function runtimeDelta(
  want: Pick<DirectSettings, 'chains' | 'rules'>,
  runtime: Pick<DirectSettings, 'chains' | 'rules'>,
  kernelChains: (ipv: string) => string[],
): RuntimeOp[] {
  const ours = lanfenceOf(runtime);
  const byKey = new Map([...want.rules, ...ours.rules].map((r) => [ruleKey(r), r]));
  const rt = new Set(runtime.chains.map(chainKey));
  const wanted = new Set(want.chains.map(chainKey));
  const rule = (op: 'addRule' | 'removeRule') => (k: string): RuntimeOp => ({ op, ...asRule(byKey.get(k)!) });
  return [
    ...want.chains
      .filter((c) => !rt.has(chainKey(c)) && !(c.chain === CHAINS.user && kernelChains(c.ipv).includes(c.chain)))
      .map((c): RuntimeOp => ({ op: 'addChain', ...asChain(c) })),
    ...diffKeys(want.rules.map(ruleKey), runtime.rules.map(ruleKey)).missing.map(rule('addRule')),
    ...diffKeys(ours.rules.map(ruleKey), want.rules.map(ruleKey)).missing.map(rule('removeRule')),
    ...ours.chains
      .filter((c) => !wanted.has(chainKey(c)))
      .map((c): RuntimeOp => ({ op: 'removeChain', ...asChain(c), ...(c.chain === CHAINS.user ? { optional: true } : {}) })),
  ];
}

const xmlEscape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** Joins arguments so that firewalld's reader (`shlex.split`) gets them back unchanged. */
const joinArgs = (args: string[]): string =>
  args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'"'"'`)}'`)).join(' ');

/** direct.xml as firewalld writes it. */
export function directXml(s: DirectSettings): string {
  const attrs = (c: AnyChain) => `ipv="${xmlEscape(c.ipv)}" table="${xmlEscape(c.table)}" chain="${xmlEscape(c.chain)}"`;
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<direct>',
    ...s.chains.map((c) => `  <chain ${attrs(c)}/>`),
    ...s.rules.map((r) => `  <rule ${attrs(r)} priority="${r.priority}">${xmlEscape(joinArgs(r.args))}</rule>`),
    ...s.passthroughs.map((p) => `  <passthrough ipv="${xmlEscape(p.ipv)}">${xmlEscape(joinArgs(p.args))}</passthrough>`),
    '</direct>',
    '',
  ].join('\n');
}
