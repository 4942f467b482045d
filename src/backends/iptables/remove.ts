/**
 * Removing exactly what lanfence added: per family one `--noflush` restore transaction that deletes
 * every rule leading into a LANFENCE-* chain (all copies, wherever they are), then flushes and deletes
 * the chains; afterwards every lanfence-* ipset is destroyed. DOCKER-USER and all other rules stay.
 */
import type { Runner } from '../../exec.js';
import { FAMILIES, filterRestore, hookRules, listOwnSets, must, ownChains, saveFilter, TOOLS, WAIT, type FilterDump } from './live.js';

export function removeLines(live: FilterDump): string[] {
  const chains = ownChains(live);
  return [
    ...hookRules(live).map((r) => `-D ${r.chain} ${r.spec}`),
    // Declaring a chain in a --noflush restore flushes it: none references another when -X runs.
    ...chains.map((c) => `:${c} - [0:0]`),
    ...chains.map((c) => `-X ${c}`),
  ];
}

export async function removeIptables(run: Runner): Promise<void> {
  for (const f of FAMILIES) {
    const content = filterRestore(removeLines(await saveFilter(run, f)));
    if (content) await must(run, TOOLS[f].restore, [...WAIT, '--noflush'], `removing lanfence's ${TOOLS[f].label} chains and hooks`, content);
  }
  const sets = await listOwnSets(run);
  if (sets.length) await must(run, 'ipset', ['restore'], "destroying lanfence's ipsets", `${sets.map((s) => `destroy ${s}`).join('\n')}\n`);
}
