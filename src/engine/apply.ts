/**
 * Apply: validate → render → check (kernel dry run) → one transaction → read back and verify →
 * record. Any failure before the transaction changes nothing.
 */
import type { LiveStatus, Rendered } from '../backends/types.js';
import { getBackend } from '../backends/index.js';
import { BackendError } from '../errors.js';
import type { Runner } from '../exec.js';
import type { Inventory } from '../inventory/types.js';
import type { LoadedPolicy } from '../policy/load.js';
import { resolve, type Resolved } from '../ruleset/resolve.js';
import type { Mode } from '../ruleset/types.js';
import { policyHash, type AppliedState, type StateStore } from '../state/store.js';
import { chooseLiveBackend } from './choose-backend.js';

export interface ApplyRequest {
  policy: LoadedPolicy;
  inventory: Inventory;
  backend?: string;
  mode?: Mode;
  run: Runner;
  store: StateStore;
  version: string;
  progress?: (step: string) => void;
}

export interface ApplyOutcome {
  backend: string;
  how: string;
  resolved: Resolved;
  rendered: Rendered;
  status: LiveStatus;
  state: AppliedState;
  /** The state before this apply (for --confirm's rollback). */
  before: { current: AppliedState | null; previous: AppliedState | null };
  /** A different backend that was applied before and has been removed. */
  replaced?: string;
}

export async function applyPolicy(req: ApplyRequest): Promise<ApplyOutcome> {
  const step = req.progress ?? (() => undefined);
  const ruleset = { ...req.policy.ruleset, ...(req.mode ? { mode: req.mode } : {}) };
  const { backend, how } = await chooseLiveBackend(req.backend ?? ruleset.backend, req.run, req.backend ? '--backend' : 'policy');
  // Without Docker (down, restarting, or --inventory none at boot) the bridges it reported last time
  // stay judged: protection is never weakened because Docker is missing.
  const previous = req.store.read('current');
  if (req.inventory.source === 'none' && ruleset.interfaces.auto && previous) {
    const known = previous.interfaces.filter((i) => !ruleset.interfaces.patterns.includes(i));
    ruleset.interfaces = { auto: true, patterns: [...ruleset.interfaces.patterns, ...known] };
  }
  const resolved = resolve(ruleset, req.inventory);
  const rendered = backend.render(resolved);

  step(`checking the rules with ${backend.name}`);
  const check = await backend.check(rendered, req.run);
  if (!check.ok) throw new BackendError(`${backend.name} would not accept the rules; nothing was changed`, check.cmd, 1, check.stderr);

  const before = { current: req.store.read('current'), previous: req.store.read('previous') };
  step(`applying with ${backend.name}`);
  await backend.apply(rendered, req.run);

  let replaced: string | undefined;
  if (before.current && before.current.backend !== backend.name) {
    step(`removing the rules of the previous backend (${before.current.backend})`);
    await getBackend(before.current.backend).remove(req.run);
    replaced = before.current.backend;
  }

  step('reading the live rules back');
  const status = await backend.inspect(rendered, req.run);
  const state: AppliedState = {
    backend: backend.name,
    mode: ruleset.mode,
    appliedAt: new Date().toISOString(),
    policyFile: req.policy.file,
    policyText: req.policy.text,
    policyHash: policyHash(req.policy.text),
    rendered,
    interfaces: resolved.interfaces,
    version: req.version,
  };
  req.store.recordApplied(state);
  return { backend: backend.name, how, resolved, rendered, status, state, before, ...(replaced ? { replaced } : {}) };
}

/**
 * Puts `target` back in place (or removes everything when there is none), removing `from`'s rules
 * when it used another backend. Used by rollback and by an unconfirmed --confirm.
 */
export async function restoreState(target: AppliedState | null, from: AppliedState | null, run: Runner): Promise<void> {
  if (target) await getBackend(target.backend).apply(target.rendered, run);
  if (from && (!target || from.backend !== target.backend)) await getBackend(from.backend).remove(run);
}
