/** The golden scenarios: test/golden/NN-topic/{policy.yaml, inventory.json?, expected.*}. */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BACKENDS } from '../../src/backends/index.js';
import { parseInventory } from '../../src/inventory/file.js';
import { parsePolicy } from '../../src/policy/load.js';
import { resolve, type Resolved } from '../../src/ruleset/resolve.js';
import type { BackendName } from '../../src/ruleset/types.js';

export const GOLDEN_DIR = new URL('../golden/', import.meta.url).pathname;
export const EXT: Record<BackendName, string> = { nftables: 'nft', iptables: 'iptables', firewalld: 'firewalld' };

export interface Scenario {
  name: string;
  dir: string;
  resolved: Resolved;
}

export function scenarios(): Scenario[] {
  return readdirSync(GOLDEN_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^\d\d-/.test(d.name))
    .map((d) => {
      const dir = join(GOLDEN_DIR, d.name);
      const policyFile = join(dir, 'policy.yaml');
      const { ruleset, diagnostics } = parsePolicy(readFileSync(policyFile, 'utf8'), `${d.name}/policy.yaml`);
      if (!ruleset) throw new Error(`${d.name}: invalid policy: ${JSON.stringify(diagnostics)}`);
      const invFile = existsSync(join(dir, 'inventory.json')) ? join(dir, 'inventory.json') : join(GOLDEN_DIR, 'inventory.json');
      const inventory = parseInventory(readFileSync(invFile, 'utf8'), 'inventory.json');
      return { name: d.name, dir, resolved: resolve(ruleset, inventory) };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

export const expectedPath = (s: Scenario, backend: BackendName): string => join(s.dir, `expected.${EXT[backend]}`);

/** Renders; with UPDATE_GOLDEN=1 writes the expected file; returns [actual, expected]. */
export function renderGolden(s: Scenario, backend: BackendName): [string, string] {
  const actual = BACKENDS.get(backend)!.render(s.resolved).text;
  const file = expectedPath(s, backend);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) writeFileSync(file, actual);
  return [actual, readFileSync(file, 'utf8')];
}
