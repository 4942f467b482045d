/** The explicit backend registry. */
import { UsageError } from '../errors.js';
import type { BackendName } from '../ruleset/types.js';
import { firewalldBackend } from './firewalld/index.js';
import { iptablesBackend } from './iptables/index.js';
import { nftablesBackend } from './nftables/index.js';
import type { Backend } from './types.js';

export const BACKENDS: ReadonlyMap<BackendName, Backend> = new Map<BackendName, Backend>([
  ['nftables', nftablesBackend],
  ['iptables', iptablesBackend],
  ['firewalld', firewalldBackend],
]);

export const BACKEND_NAMES = [...BACKENDS.keys()];

export function getBackend(name: string): Backend {
  const b = BACKENDS.get(name as BackendName);
  if (!b) throw new UsageError(`unknown backend "${name}" (expected one of: ${BACKEND_NAMES.join(', ')})`);
  return b;
}

export type { Backend, Rendered, RenderedPart, CheckResult } from './types.js';
