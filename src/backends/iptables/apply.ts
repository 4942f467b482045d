/**
 * Applying an iptables rendering: sets, IPv4 chains, IPv6 chains, then the hooks — and, when any step
 * fails, everything already changed goes back to the snapshot taken first. Details: README.md.
 */
import { BackendError } from '../../errors.js';
import type { Runner } from '../../exec.js';
import type { Family } from '../../ruleset/cidr.js';
import type { Rendered } from '../types.js';
import {
  forwardRepairLines,
  declaredChains,
  FAMILIES,
  filterRestore,
  hookRules,
  listOwnSets,
  must,
  ownChains,
  partsOf,
  rulesOf,
  saveFilter,
  saveSets,
  setsOfRestore,
  TOOLS,
  WAIT,
  type FilterDump,
  type SavedSet,
} from './live.js';
import { renderedHooks, type IptablesHook } from './render.js';

/** Suffix of the twin a set's previous content is restored through. */
const ROLLBACK_SUFFIX = '-r';

interface Snapshot {
  filter: Record<Family, FilterDump>;
  sets: Map<string, SavedSet>;
}

/** Docker creates DOCKER-USER when it starts; lanfence may start first. Never flushes an existing one. */
export async function ensureDockerUser(run: Runner): Promise<void> {
  const exists = async () => (await run('iptables', [...WAIT, '-t', 'filter', '-S', 'DOCKER-USER'])).code === 0;
  if (await exists()) return;
  const args = [...WAIT, '-t', 'filter', '-N', 'DOCKER-USER'];
  const r = await run('iptables', args);
  // Docker may have created it in the meantime.
  if (r.code !== 0 && !(await exists())) await must(run, 'iptables', args, 'creating the DOCKER-USER chain');
}

const restoreFilter = (run: Runner, family: Family, content: string, what: string) =>
  must(run, TOOLS[family].restore, [...WAIT, '--noflush'], what, content);

/**
 * After the chains are replaced: each wanted hook exactly once and first in its chain (an existing
 * copy is deleted and re-inserted at 1 in the same transaction, so there is no moment without it),
 * hooks into lanfence's chains that the rendering no longer has deleted, and lanfence chains it no
 * longer declares flushed and deleted.
 */
export function settleLines(live: FilterDump, wanted: IptablesHook[], declared: Set<string>): string[] {
  const lines: string[] = [];
  const want = wanted.map((h) => ({ chain: h.chain, spec: h.rule.join(' ') }));
  const hooks = hookRules(live);
  for (const r of hooks) if (!want.some((w) => w.chain === r.chain && w.spec === r.spec)) lines.push(`-D ${r.chain} ${r.spec}`);
  for (const w of want) {
    const copies = hooks.filter((r) => r.chain === w.chain && r.spec === w.spec);
    if (copies.length === 1 && copies[0].position === 1) continue;
    for (const _ of copies) lines.push(`-D ${w.chain} ${w.spec}`);
    lines.push(`-I ${w.chain} 1 ${w.spec}`);
  }
  const stale = ownChains(live).filter((c) => !declared.has(c));
  for (const c of stale) lines.push(`:${c} - [0:0]`);
  for (const c of stale) lines.push(`-X ${c}`);
  return lines;
}

/** Lines that bring lanfence's chains and hooks in `now` back to `before`; everything else stays. */
export function rollbackLines(before: FilterDump, now: FilterDump): string[] {
  const lines = hookRules(now).map((r) => `-D ${r.chain} ${r.spec}`);
  const had = ownChains(before);
  const has = ownChains(now);
  for (const c of new Set([...had, ...has])) lines.push(`:${c} - [0:0]`);
  for (const c of had) for (const r of rulesOf(before, c)) lines.push(`-A ${c} ${r.spec}`);
  for (const c of has) if (!had.includes(c)) lines.push(`-X ${c}`);
  // The hooks go back to their old positions, in increasing order, among the rules that are not hooks.
  const byChain = new Map<string, typeof before.rules>();
  for (const h of hookRules(before)) byChain.set(h.chain, [...(byChain.get(h.chain) ?? []), h]);
  const nowHooks = new Set(hookRules(now));
  for (const [chain, hooks] of byChain) {
    let length = rulesOf(now, chain).filter((r) => !nowHooks.has(r)).length;
    for (const h of hooks.sort((a, b) => a.position - b.position)) lines.push(`-I ${chain} ${Math.min(h.position, ++length)} ${h.spec}`);
  }
  return lines;
}

/** ipset restore lines that put back each set's previous content through a twin (never empty meanwhile). */
export function setRollbackLines(before: Map<string, SavedSet>, live: Set<string>): string[] {
  const lines: string[] = [];
  for (const [name, s] of before) {
    const twin = `${name}${ROLLBACK_SUFFIX}`;
    if (live.has(twin) && !before.has(twin)) lines.push(`destroy ${twin}`);
    const target = live.has(name) ? twin : name;
    lines.push(`create ${target} ${s.params}`);
    for (const [elem, rest] of s.members) lines.push(`add ${target} ${elem}${rest ? ` ${rest}` : ''}`);
    if (target === twin) lines.push(`swap ${twin} ${name}`, `destroy ${twin}`);
  }
  return lines;
}

/** Returns what could not be restored (empty: the snapshot is back in place). */
async function rollback(run: Runner, before: Snapshot, families: Set<Family>): Promise<string[]> {
  const problems: string[] = [];
  const attempt = async (what: string, f: () => Promise<unknown>) => {
    try {
      await f();
    } catch (e) {
      problems.push(e instanceof BackendError ? `${e.message} (${e.cmd})` : `${what}: ${String(e)}`);
    }
  };
  for (const family of families) {
    await attempt(`restoring the ${TOOLS[family].label} chains`, async () => {
      const content = filterRestore(rollbackLines(before.filter[family], await saveFilter(run, family)));
      if (content) await restoreFilter(run, family, content, `restoring the previous ${TOOLS[family].label} chains`);
    });
  }
  await attempt('restoring the ipsets', async () => {
    const lines = setRollbackLines(before.sets, new Set(await listOwnSets(run)));
    if (lines.length) await must(run, 'ipset', ['restore'], 'restoring the previous ipsets', `${lines.join('\n')}\n`);
  });
  // Sets this apply created (and twins a failed restore left behind) are referenced by nothing now.
  await attempt('listing the ipsets', async () => {
    for (const name of await listOwnSets(run))
      if (!before.sets.has(name)) await attempt(`destroying ipset ${name}`, () => must(run, 'ipset', ['destroy', name], `destroying ipset ${name}`));
  });
  return problems;
}

/** Destroys lanfence sets the rendering does not use. Best effort: a leftover shows in inspect. */
async function destroyUnusedSets(run: Runner, keep: Set<string>): Promise<void> {
  try {
    for (const name of await listOwnSets(run)) if (!keep.has(name)) await run('ipset', ['destroy', name]);
  } catch {
    /* the rules are applied; inspect reports the set as unexpected */
  }
}

export async function applyIptables(rendered: Rendered, run: Runner): Promise<void> {
  const parts = partsOf(rendered);
  const hooks = renderedHooks(rendered);
  await ensureDockerUser(run);
  const before: Snapshot = {
    filter: { 4: await saveFilter(run, 4), 6: await saveFilter(run, 6) },
    sets: await saveSets(run),
  };

  // The ipset restore is not one transaction: the sets are always rolled back; a family once its restore worked.
  const changed = new Set<Family>();
  try {
    await must(run, 'ipset', ['restore'], 'ipset restore (the sets)', parts.ipset);
    for (const f of FAMILIES) {
      await restoreFilter(run, f, parts[f], `${TOOLS[f].restore} --noflush (the ${TOOLS[f].label} chains)`);
      changed.add(f);
    }
    for (const f of FAMILIES) {
      const live = await saveFilter(run, f);
      const lines = [...settleLines(live, hooks.filter((h) => h.family === f), declaredChains(parts[f])), ...(f === 4 ? forwardRepairLines(live) : [])];
      const content = filterRestore(lines);
      if (content) await restoreFilter(run, f, content, `inserting the ${TOOLS[f].label} hooks (${TOOLS[f].restore} --noflush)`);
    }
  } catch (e) {
    const problems = await rollback(run, before, changed);
    const err = e instanceof BackendError ? e : new BackendError(String(e), '(apply)', null, '');
    const outcome = problems.length
      ? `; restoring the previous rules failed too (${problems.join('; ')}): lanfence's rules may be half-applied — apply again or run "lanfence remove"`
      : '; nothing was changed (the previous rules and sets are back in place)';
    throw new BackendError(`${err.message}${outcome}`, err.cmd, err.exitStatus, err.stderr);
  }
  await destroyUnusedSets(run, setsOfRestore(parts.ipset));
}
