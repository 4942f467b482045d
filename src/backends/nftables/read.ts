/** Reading `table inet lanfence` back, and comparing it with what was rendered. */
import { BackendError } from '../../errors.js';
import { commandLine, type Runner } from '../../exec.js';
import { inThrowawayNetns } from '../throwaway.js';
import type { LiveStatus, Rendered } from '../types.js';
import { LOG_COUNTER_COMMENT, NFT_TABLE } from './render.js';

const TABLE = ['inet', NFT_TABLE];
/** Sets whose members the kernel adds at run time (log rate limiting): never compared. */
const DYNAMIC_SETS = new Set(['log4', 'log6']);

export interface NftSnapshot {
  sets: Map<string, { decl: string; elements: Set<string> }>;
  chains: Map<string, string[]>;
}

type Json = Record<string, unknown>;

/** `{"prefix":{"addr":"10.0.0.0","len":8}}` → `10.0.0.0/8`, concatenations joined with ` . `. */
export function elementText(e: unknown): string {
  if (e === null || typeof e !== 'object') return String(e);
  const o = e as Json;
  if ('elem' in o) {
    const inner = o.elem as Json;
    const v = elementText(inner.val);
    return inner.comment ? `${v} comment "${String(inner.comment)}"` : v;
  }
  if ('prefix' in o) {
    const p = o.prefix as Json;
    return `${String(p.addr)}/${String(p.len)}`;
  }
  if ('range' in o) return (o.range as unknown[]).map(elementText).join('-');
  if ('concat' in o) return (o.concat as unknown[]).map(elementText).join(' . ');
  return JSON.stringify(o);
}

/** Parses `nft -j -s list table` (sets) and `nft -s list table` (rules, one per line). */
export function parseSnapshot(json: string, text: string): NftSnapshot {
  const sets: NftSnapshot['sets'] = new Map();
  const items = (JSON.parse(json) as { nftables: Json[] }).nftables;
  for (const item of items) {
    const s = item.set as Json | undefined;
    if (!s || DYNAMIC_SETS.has(String(s.name))) continue;
    const decl = `type ${[s.type].flat().join(' . ')}${s.flags ? `; flags ${[s.flags].flat().join(',')}` : ''}`;
    sets.set(String(s.name), { decl, elements: new Set(((s.elem as unknown[]) ?? []).map(elementText)) });
  }
  const chains: NftSnapshot['chains'] = new Map();
  let current: string[] | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const m = /^chain (\S+) \{$/.exec(line);
    if (m) {
      current = [];
      chains.set(m[1], current);
    } else if (line === '}') current = null;
    else if (current && line) current.push(line);
  }
  return { sets, chains };
}

async function listTable(run: Runner): Promise<NftSnapshot | null> {
  const text = await run('nft', ['-s', 'list', 'table', ...TABLE]);
  if (text.code !== 0) {
    if (/No such file|does not exist/i.test(text.stderr)) return null;
    throw new BackendError('cannot read the nftables ruleset', commandLine('nft', ['-s', 'list', 'table', ...TABLE]), text.code, text.stderr);
  }
  const json = await run('nft', ['-j', '-s', 'list', 'table', ...TABLE]);
  return parseSnapshot(json.stdout, text.stdout);
}

/** The canonical form of `rendered` as the kernel lists it: loaded in a throwaway namespace. */
async function expectedSnapshot(rendered: Rendered, run: Runner): Promise<NftSnapshot> {
  const r = await inThrowawayNetns(
    run,
    { 'rules.nft': rendered.parts[0].content },
    (f) => `nft -f ${f('rules.nft')}; nft -j -s list table inet ${NFT_TABLE}; echo; echo '#####'; nft -s list table inet ${NFT_TABLE}`,
  );
  if (r.code !== 0) throw new BackendError('cannot load the rendered rules in a throwaway namespace', r.cmd, r.code, r.stderr);
  const [json, text] = r.stdout.split('\n#####\n');
  return parseSnapshot(json, text);
}

const MAX_LISTED = 8;
const listed = (xs: string[]) => (xs.length > MAX_LISTED ? [...xs.slice(0, MAX_LISTED), `… and ${xs.length - MAX_LISTED} more`] : xs).join(', ');

export function diffSnapshots(expected: NftSnapshot, live: NftSnapshot): string[] {
  const out: string[] = [];
  for (const [name, e] of expected.sets) {
    const l = live.sets.get(name);
    if (!l) {
      out.push(`set ${name} is absent`);
      continue;
    }
    if (l.decl !== e.decl) out.push(`set ${name}: ${l.decl}, expected ${e.decl}`);
    const missing = [...e.elements].filter((x) => !l.elements.has(x));
    const extra = [...l.elements].filter((x) => !e.elements.has(x));
    if (missing.length) out.push(`set ${name} lacks ${listed(missing)}`);
    if (extra.length) out.push(`set ${name} has extra ${listed(extra)}`);
  }
  for (const name of live.sets.keys()) if (!expected.sets.has(name)) out.push(`set ${name} is not lanfence's`);
  for (const [name, e] of expected.chains) {
    const l = live.chains.get(name);
    if (!l) {
      out.push(`chain ${name} is absent`);
      continue;
    }
    const missing = e.filter((x) => !l.includes(x));
    const extra = l.filter((x) => !e.includes(x));
    for (const m of missing) out.push(`chain ${name} lacks: ${m}`);
    for (const x of extra) out.push(`chain ${name} has extra: ${x}`);
    if (!missing.length && !extra.length && e.join('\n') !== l.join('\n')) out.push(`chain ${name}: rules are out of order`);
  }
  for (const name of live.chains.keys()) if (!expected.chains.has(name)) out.push(`chain ${name} is not lanfence's`);
  return out;
}

/** From `nft -j list chain inet lanfence block`: packets counted by the final verdict rules (not the log rules). */
export function countBlocked(json: string): number {
  let n = 0;
  for (const item of (JSON.parse(json) as { nftables: Json[] }).nftables) {
    const rule = item.rule as Json | undefined;
    if (!rule || rule.comment === LOG_COUNTER_COMMENT) continue;
    for (const e of (rule.expr as Json[] | undefined) ?? []) if (e.counter) n += Number((e.counter as Json).packets ?? 0);
  }
  return n;
}

/** Packets counted by the final verdict rules of the `block` chain. */
export async function blockedPackets(run: Runner): Promise<number | undefined> {
  const r = await run('nft', ['-j', 'list', 'chain', ...TABLE, 'block']);
  return r.code === 0 ? countBlocked(r.stdout) : undefined;
}

/**
 * Expected snapshots by rendered text: the daemon inspects the same rendering every few seconds, and
 * loading it in a scratch namespace is most of an inspection's cost. A cached snapshot is only
 * trusted to say "matches": on any difference the rendering is loaded again and compared afresh, so
 * a stale entry (say, nft upgraded and listing differently) can cost time but never report drift.
 */
const EXPECTED_CACHE_SIZE = 4;
const expectedCache = new Map<string, NftSnapshot>();

async function freshExpected(rendered: Rendered, run: Runner): Promise<NftSnapshot> {
  const key = rendered.parts[0].content;
  const snap = await expectedSnapshot(rendered, run);
  expectedCache.delete(key);
  expectedCache.set(key, snap);
  while (expectedCache.size > EXPECTED_CACHE_SIZE) expectedCache.delete(expectedCache.keys().next().value!);
  return snap;
}

async function differencesFrom(rendered: Rendered, live: NftSnapshot, run: Runner): Promise<string[]> {
  const cached = expectedCache.get(rendered.parts[0].content);
  if (cached && diffSnapshots(cached, live).length === 0) return [];
  return diffSnapshots(await freshExpected(rendered, run), live);
}

export async function inspectNftables(expected: Rendered | null, run: Runner): Promise<LiveStatus> {
  const live = await listTable(run);
  if (!live) return { present: false, matches: expected === null, differences: expected ? [`table inet ${NFT_TABLE} is absent`] : [] };
  const differences = expected ? await differencesFrom(expected, live, run) : [`table inet ${NFT_TABLE} is present`];
  return { present: true, matches: differences.length === 0, differences, blockedPackets: await blockedPackets(run) };
}
