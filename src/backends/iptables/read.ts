/**
 * Reading lanfence's chains, hooks and sets back and comparing them with a rendering. The expected
 * form is what the kernel itself lists after loading the rendering into a throwaway namespace, so
 * both sides are printed by the same iptables-save / ipset: no guessing at its canonical spelling.
 */
import { BackendError } from '../../errors.js';
import type { Runner } from '../../exec.js';
import type { Family } from '../../ruleset/cidr.js';
import type { LiveStatus, Rendered } from '../types.js';
import {
  forwardBypass,
  FAMILIES,
  hookRules,
  isOwnChain,
  ownChains,
  ownTarget,
  parseIpsetSave,
  parseSave,
  partsOf,
  rulesOf,
  saveFilter,
  saveSets,
  TOOLS,
  type FilterDump,
  type SavedSet,
} from './live.js';
import { CHAINS, renderedHooks, type IptablesHook } from './render.js';
import { inThrowawayNetns } from '../throwaway.js';

export interface IptablesState {
  filter: Record<Family, FilterDump>;
  sets: Map<string, SavedSet>;
}

export async function liveState(run: Runner): Promise<IptablesState> {
  return { filter: { 4: await saveFilter(run, 4), 6: await saveFilter(run, 6) }, sets: await saveSets(run) };
}

/** The last expected state per runner: a reconcile loop inspects the same rendering over and over. */
const cache = new WeakMap<Runner, { key: string; state: IptablesState }>();

/**
 * The rendering as the kernel lists it: loaded into a throwaway namespace and dumped there. The
 * result is kept per runner (the runner decides which iptables variant prints it).
 */
export async function expectedState(rendered: Rendered, run: Runner): Promise<IptablesState> {
  const parts = partsOf(rendered);
  const key = JSON.stringify([parts.ipset, parts[4], parts[6]]);
  const hit = cache.get(run);
  if (hit?.key === key) return hit.state;
  const state = await loadExpected(parts, run);
  cache.set(run, { key, state });
  return state;
}

async function loadExpected(parts: ReturnType<typeof partsOf>, run: Runner): Promise<IptablesState> {
  const r = await inThrowawayNetns(run, { ipset: parts.ipset, v4: parts[4], v6: parts[6] }, (f) =>
    [
      `ipset restore < ${f('ipset')}`,
      `iptables-restore --noflush < ${f('v4')}`,
      `ip6tables-restore --noflush < ${f('v6')}`,
      'echo "#### lanfence 4"; iptables-save -t filter',
      'echo "#### lanfence 6"; ip6tables-save -t filter',
      'echo "#### lanfence sets"; ipset save',
      '',
    ].join('\n'),
  );
  if (r.code !== 0) throw new BackendError('loading the expected rules into a throwaway namespace failed', r.cmd, r.code, r.stderr.trim());
  const section = (name: string) => r.stdout.split(`#### lanfence ${name}\n`)[1]?.split('#### lanfence ')[0] ?? '';
  return { filter: { 4: parseSave(section('4')), 6: parseSave(section('6')) }, sets: parseIpsetSave(section('sets')) };
}

const MAX_LISTED = 8;
const MAX_RULES = 20;
const listed = (xs: string[]) => (xs.length > MAX_LISTED ? [...xs.slice(0, MAX_LISTED), `… and ${xs.length - MAX_LISTED} more`] : xs).join(', ');
const capped = (xs: string[]) => (xs.length > MAX_RULES ? [...xs.slice(0, MAX_RULES), `… and ${xs.length - MAX_RULES} more`] : xs);

/** Elements of `a` not matched one-to-one in `b`. */
function without(a: string[], b: string[]): string[] {
  const left = new Map<string, number>();
  for (const x of b) left.set(x, (left.get(x) ?? 0) + 1);
  return a.filter((x) => {
    const n = left.get(x) ?? 0;
    left.set(x, n - 1);
    return n <= 0;
  });
}

/** hashsize and bucketsize are tuning the kernel picks, not meaning. */
const setKind = (params: string) => params.replace(/ (hashsize|bucketsize) \S+/g, '');

function diffChains(family: Family, expected: FilterDump, live: FilterDump): string[] {
  const out: string[] = [];
  const label = TOOLS[family].label;
  for (const c of ownChains(expected)) {
    if (!live.chains.includes(c)) {
      out.push(`chain ${c} is absent (${label})`);
      continue;
    }
    const want = rulesOf(expected, c).map((r) => r.spec);
    const have = rulesOf(live, c).map((r) => r.spec);
    const missing = without(want, have);
    const extra = without(have, want);
    for (const m of capped(missing)) out.push(`missing in ${c} (${label}): ${m}`);
    for (const x of capped(extra)) out.push(`extra in ${c} (${label}): ${x}`);
    if (!missing.length && !extra.length && want.join('\n') !== have.join('\n')) out.push(`rules of ${c} (${label}) are out of order`);
  }
  for (const c of ownChains(live)) if (!expected.chains.includes(c)) out.push(`unexpected chain ${c} (${label})`);
  return out;
}

function diffHooks(family: Family, wanted: IptablesHook[], live: FilterDump): string[] {
  const out: string[] = [];
  const label = TOOLS[family].label;
  const want = wanted.filter((h) => h.family === family).map((h) => ({ chain: h.chain, spec: h.rule.join(' ') }));
  const hooks = hookRules(live);
  for (const w of want) {
    const copies = hooks.filter((r) => r.chain === w.chain && r.spec === w.spec);
    if (!copies.length) out.push(`missing in ${w.chain} (${label}): ${w.spec}`);
    else if (copies[0].position !== 1) out.push(`hook not first in ${w.chain} (${label}): ${w.spec} is rule ${copies[0].position}`);
    if (copies.length > 1) out.push(`hook repeated in ${w.chain} (${label}): ${w.spec} appears ${copies.length} times`);
  }
  for (const r of hooks) if (!want.some((w) => w.chain === r.chain && w.spec === r.spec)) out.push(`unexpected in ${r.chain} (${label}): ${r.spec}`);
  return out;
}

function diffSets(expected: Map<string, SavedSet>, live: Map<string, SavedSet>): string[] {
  const out: string[] = [];
  for (const [name, e] of expected) {
    const l = live.get(name);
    if (!l) {
      out.push(`set ${name} is absent`);
      continue;
    }
    if (setKind(l.params) !== setKind(e.params)) out.push(`set ${name} is ${setKind(l.params)}, expected ${setKind(e.params)}`);
    const lacks = [...e.members.keys()].filter((k) => !l.members.has(k));
    const extra = [...l.members.keys()].filter((k) => !e.members.has(k));
    if (lacks.length) out.push(`set ${name} lacks ${listed(lacks)}`);
    if (extra.length) out.push(`set ${name} has extra ${listed(extra)}`);
    for (const [k, rest] of e.members) {
      const has = l.members.get(k);
      if (has !== undefined && has !== rest) out.push(`set ${name}: ${k} has ${has || 'no options'}, expected ${rest || 'none'}`);
    }
  }
  for (const name of live.keys()) if (!expected.has(name)) out.push(`unexpected set ${name}`);
  return out;
}

export function diffStates(expected: IptablesState, live: IptablesState, hooks: IptablesHook[]): string[] {
  const bypass = hooks.some((h) => h.family === 4 && h.chain === 'DOCKER-USER') ? forwardBypass(live.filter[4]) : null;
  return [
    ...FAMILIES.flatMap((f) => [...diffChains(f, expected.filter[f], live.filter[f]), ...diffHooks(f, hooks, live.filter[f])]),
    ...(bypass ? [bypass] : []),
    ...diffSets(expected.sets, live.sets),
  ];
}

/** What of lanfence exists at all, one line each. */
export function presence(live: IptablesState): string[] {
  const out: string[] = [];
  for (const f of FAMILIES) {
    const label = TOOLS[f].label;
    for (const c of ownChains(live.filter[f])) out.push(`chain ${c} is present (${label})`);
    for (const r of hookRules(live.filter[f])) out.push(`hook in ${r.chain} (${label}): ${r.spec}`);
  }
  for (const name of live.sets.keys()) out.push(`set ${name} is present`);
  return out;
}

/**
 * Packets that reached LANFENCE-BLOCK (IPv4 + IPv6): the counters of the rules that jump there. In
 * enforce mode each of them is dropped or rejected; in audit mode they pass (the LOG rule before the
 * verdict is rate-limited, so its counter would undercount).
 */
export function blockedPackets(live: IptablesState): number | undefined {
  const dumps = FAMILIES.map((f) => live.filter[f]).filter((d) => d.chains.includes(CHAINS.block));
  if (!dumps.length) return undefined;
  return dumps
    .flatMap((d) => d.rules)
    .filter((r) => isOwnChain(r.chain) && ownTarget(r.spec) === CHAINS.block)
    .reduce((n, r) => n + r.packets, 0);
}

export async function inspectIptables(expected: Rendered | null, run: Runner): Promise<LiveStatus> {
  const live = await liveState(run);
  const present = presence(live);
  const status = { present: present.length > 0, blockedPackets: blockedPackets(live) };
  if (!expected) return { ...status, matches: present.length === 0, differences: present };
  const differences = diffStates(await expectedState(expected, run), live, renderedHooks(expected));
  return { ...status, matches: differences.length === 0, differences };
}
