/**
 * apply and remove.
 *
 * Every `firewall-cmd --reload` flushes all iptables tables, and Docker 20.10 rebuilds its rules
 * incompletely (measured in the lab): user-defined networks bypass DOCKER-USER, and the isolation
 * rules between Docker networks (DOCKER-ISOLATION-STAGE-1/2) are gone until dockerd restarts. So
 * lanfence avoids the reload when it can:
 *
 * - runtime path (up to MAX_RUNTIME_CHANGES changes): change firewalld's runtime direct rules one by
 *   one over D-Bus (undone on the first failure), then write the permanent configuration in one
 *   D-Bus update; read back firewalld's runtime and the kernel. Docker's rules are not touched.
 * - reload path (more changes, or the kernel has drifted from what firewalld believes, e.g. after
 *   `iptables -F`): permanent configuration + reload, see transaction.ts.
 *
 * Each runtime change costs firewalld more the more rules it holds (measured: 100 rules 0.8 s,
 * 2,000 rules 67 s on a loaded 2-CPU machine) while a reload of 2,000 rules takes ~3 s.
 */
import { BackendError } from '../../errors.js';
import type { Runner } from '../../exec.js';
import type { Rendered } from '../types.js';
import { firewalldState } from './cmd.js';
import { changeRuntime, snapshot, undoOps, writePermanent, type Snapshot } from './dbus.js';
import {
  chainKey,
  diffOurs,
  diffSettings,
  entriesAsSettings,
  lanfenceOf,
  mergeSettings,
  OWN_CHAINS,
  ruleKey,
  runtimeDelta,
  sameSettings,
  withoutLanfence,
  type DirectSettings,
  type RuntimeOp,
} from './direct.js';
import { entriesOf } from './entries.js';
import { liveDetails } from './inspect.js';
import { FAMILIES, kernelDrift, liveSave, removeStrayJumps, repairForward } from './kernel.js';
import { asError, reloadTransaction, type Runtime } from './transaction.js';
import { CHAINS, type DirectEntry, type IpFamily } from './render.js';

/** Up to this many runtime changes, apply and remove do without a reload. */
export const MAX_RUNTIME_CHANGES = 300;

/** firewalld's snapshot, when it is running; BackendError otherwise. */
async function running(run: Runner): Promise<Snapshot> {
  const snap = await snapshot(run);
  if (snap.state === 'running') return snap;
  const why =
    snap.state === 'failed' ? ': its configuration failed to load; fix it (firewall-offline-cmd --check-config) and reload or restart firewalld' : snap.error ? ` (${snap.error})` : '';
  throw new BackendError(`firewalld is not running (state: ${snap.state})${why}`, 'firewall-cmd --state', null, snap.error ?? snap.state);
}

/** lanfence's entries of firewalld's runtime, as rendered entries. */
const asEntries = (s: Pick<DirectSettings, 'chains' | 'rules'>): DirectEntry[] => {
  const ours = lanfenceOf(s);
  return [
    ...ours.chains.map((c) => ({ kind: 'chain', ...c }) as DirectEntry),
    ...ours.rules.map((r) => ({ kind: 'rule', ...r }) as DirectEntry),
  ];
};

/**
 * The runtime path works when it is small and the kernel holds what firewalld believes it loaded
 * (no more: lanfence's chains unknown to firewalld's runtime would make its `-N` fail).
 */
async function runtimeUsable(ops: RuntimeOp[], snap: Snapshot, kernel: (ipv: string) => string[], run: Runner): Promise<boolean> {
  if (ops.length > MAX_RUNTIME_CHANGES) return false;
  const known = new Set(snap.runtime.chains.map(chainKey));
  const unknown = FAMILIES.some((ipv) => kernel(ipv).some((c) => OWN_CHAINS.has(c) && !known.has(`${ipv} filter ${c}`)));
  return !unknown && (await kernelDrift(asEntries(snap.runtime), run)).length === 0;
}

async function kernelChains(run: Runner): Promise<(ipv: string) => string[]> {
  const saves = await Promise.all(FAMILIES.map((ipv) => liveSave(ipv, run)));
  return (ipv) => saves[FAMILIES.indexOf(ipv as (typeof FAMILIES)[number])]?.chains ?? [];
}

/**
 * The runtime path: runtime changes, then the permanent configuration (the runtime changes are
 * undone if that fails). Returns the optional changes skipped, or null when `remaining()` still
 * finds differences (the caller then takes the reload path).
 */
async function viaRuntime(
  ops: RuntimeOp[],
  backup: DirectSettings,
  next: DirectSettings,
  remaining: (skipped: RuntimeOp[]) => Promise<string[]>,
  run: Runner,
): Promise<RuntimeOp[] | null> {
  const { done, skipped } = await changeRuntime(ops, run).catch((e: unknown) => {
    const err = asError(e);
    throw new BackendError(`${err.message}; the runtime changes made before were undone, nothing else was changed`, err.cmd, err.exitStatus, err.stderr);
  });
  if (!sameSettings(backup, next)) {
    try {
      await writePermanent(next, run);
    } catch (e) {
      const err = asError(e);
      await changeRuntime(undoOps(done), run).catch(() => undefined);
      throw new BackendError(`${err.message}; the runtime changes were undone`, err.cmd, err.exitStatus, err.stderr);
    }
  }
  // Nothing changed at runtime: runtimeUsable has already compared firewalld's runtime with the kernel.
  if (ops.length === 0) return skipped;
  return (await remaining(skipped)).length === 0 ? skipped : null;
}

export async function applyFirewalld(rendered: Rendered, run: Runner): Promise<void> {
  const entries = entriesOf(rendered);
  const snap = await running(run);
  const backup = snap.permanent;
  const others = withoutLanfence(backup);
  const next = mergeSettings(others, entries);
  const want = entriesAsSettings(entries);

  const kernel = await kernelChains(run);
  const ops = runtimeDelta(want, snap.runtime, kernel);
  if (await runtimeUsable(ops, snap, kernel, run)) {
    const remaining = async () => (await liveDetails(entries, await snapshot(run), run)).rules;
    if ((await viaRuntime(ops, backup, next, remaining, run)) !== null) {
      await repairForward(run);
      return;
    }
  }
  await reloadTransaction(
    backup,
    next,
    (runtime) => {
      const ours = diffOurs(want, runtime);
      const lost = diffSettings(others, runtime).missing;
      return [...ours.missing.map((k) => `missing ${k}`), ...ours.extra.map((k) => `unexpected ${k}`), ...lost.map((k) => `lost ${k}`)];
    },
    true,
    run,
  );
}

export async function removeFirewalld(run: Runner): Promise<void> {
  const snap = await running(run);
  const backup = snap.permanent;
  const next = withoutLanfence(backup);
  const stillThere = (runtime: Runtime, tolerated: RuntimeOp[] = []) => {
    const ours = lanfenceOf(runtime);
    const keep = new Set(tolerated.map((o) => chainKey(o)));
    return [
      ...ours.chains.filter((c) => !keep.has(chainKey(c))).map((c) => `still present: chain ${chainKey(c)}`),
      ...ours.rules.map((r) => `still present: rule ${ruleKey(r)}`),
    ];
  };
  if (sameSettings(backup, next) && stillThere(snap.runtime).length === 0) return;

  const ops = runtimeDelta({ chains: [], rules: [] }, snap.runtime, () => []);
  if (await runtimeUsable(ops, snap, await kernelChains(run), run)) {
    // A DOCKER-USER that Docker still uses cannot be deleted: firewalld lists it until its next reload.
    // One that only a jump lanfence inserted (repairForward) still refers to can, once that jump is gone.
    const remaining = async (skipped: RuntimeOp[]) => {
      let still = skipped.filter((o) => o.chain === CHAINS.user);
      for (const op of still) await removeStrayJumps(op.ipv as IpFamily, run);
      if (still.length > 0) still = (await changeRuntime(still, run)).skipped;
      return stillThere((await snapshot(run)).runtime, still);
    };
    if ((await viaRuntime(ops, backup, next, remaining, run)) !== null) return;
  }
  await reloadTransaction(backup, next, (runtime) => stillThere(runtime), false, run);
}

export async function firewalldAvailable(run: Runner): Promise<boolean> {
  return (await firewalldState(run)) === 'running';
}
