/** What most commands need: the policy, the inventory, the backend. */
import Docker from 'dockerode';
import { getBackend } from '../backends/index.js';
import type { Backend } from '../backends/types.js';
import { loadDockerInventory } from '../inventory/docker.js';
import { loadInventoryFile } from '../inventory/file.js';
import { emptyInventory, type Inventory } from '../inventory/types.js';
import { formatDiagnostic } from '../policy/diagnostic.js';
import { loadPolicy, type LoadedPolicy } from '../policy/load.js';
import type { Ruleset } from '../ruleset/types.js';
import type { Io } from './output.js';

export function loadPolicyReportingWarnings(path: string | undefined, io: Io, quiet = false): LoadedPolicy {
  const loaded = loadPolicy(path);
  if (!quiet) for (const d of loaded.diagnostics) io.err(formatDiagnostic(d));
  return loaded;
}

export const INVENTORY_HELP = 'Docker inventory JSON snapshot instead of asking Docker ("none": no inventory)';

export interface InventoryResult {
  inventory: Inventory;
  /** Set when Docker could not be asked and the inventory is empty. */
  note?: string;
}

/** `--inventory FILE`, else Docker; when Docker cannot be reached, an empty inventory and a note. */
export async function loadInventoryOption(file: string | undefined, opts: { dns?: boolean } = {}): Promise<InventoryResult> {
  if (file === 'none') return { inventory: emptyInventory(), note: 'no inventory (--inventory none): interface patterns only; scoped exceptions wait for the daemon' };
  if (file) return { inventory: loadInventoryFile(file) };
  try {
    return { inventory: await loadDockerInventory(new Docker({ timeout: 5000 } as Docker.DockerOptions), opts) };
  } catch (e) {
    return {
      inventory: emptyInventory(),
      note: `Docker not reachable (${(e as Error).message.replace(/^cannot read Docker's state: /, '')}): working without an inventory; scoped exceptions grant nothing, custom bridge names are not covered unless listed`,
    };
  }
}

/** `--backend`, else the policy's `backend`; `auto` is nftables (apply probes the host). */
export function chooseBackend(option: string | undefined, ruleset: Ruleset): { backend: Backend; how: string } {
  const name = option ?? ruleset.backend;
  if (name === 'auto') return { backend: getBackend('nftables'), how: 'auto' };
  return { backend: getBackend(name), how: option ? '--backend' : 'policy' };
}
