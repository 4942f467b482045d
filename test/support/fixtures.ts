/** Shared helpers for unit tests: policy text → Resolved against the golden inventory. */
import { readFileSync } from 'node:fs';
import { parseInventory } from '../../src/inventory/file.js';
import type { Inventory } from '../../src/inventory/types.js';
import { parsePolicy } from '../../src/policy/load.js';
import { resolve, type Resolved } from '../../src/ruleset/resolve.js';
import type { Ruleset } from '../../src/ruleset/types.js';

export const goldenInventory = (): Inventory =>
  parseInventory(readFileSync(new URL('../golden/inventory.json', import.meta.url), 'utf8'), 'inventory.json');

export function rulesetOf(yaml: string): Ruleset {
  const { ruleset, diagnostics } = parsePolicy(yaml, 'test.yaml');
  if (!ruleset) throw new Error(`invalid test policy: ${JSON.stringify(diagnostics, null, 1)}`);
  return ruleset;
}

export const resolvedOf = (yaml: string, inventory: Inventory = goldenInventory()): Resolved => resolve(rulesetOf(yaml), inventory);
