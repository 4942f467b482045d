/**
 * The reconcile loop: follows Docker (events, debounced), applies only when the rendered rules
 * change (set updates when only members change), checks for drift periodically and on triggers,
 * and never weakens protection when Docker is missing.
 *
 * A set update is the path a container start takes, and it is kept short: when the last full
 * inspection of the live table matched (and nothing failed since), the daemon trusts it instead of
 * inspecting again, and sends the set update without `nft -c` — one `nft -f` transaction, which
 * the kernel applies whole or not at all. Afterwards it reads back the sets it changed; any
 * difference leads to a full inspection and a repair. A refused set update (the table gone, a set
 * missing) is drift: the table is inspected, the differences are logged and recorded as a repair,
 * and the rules are applied in full. Drift elsewhere in the table is the periodic check's job, as
 * before: the set update never hides it (the check compares the whole table with what was applied).
 */
import { readFileSync } from 'node:fs';
import { getBackend } from '../backends/index.js';
import type { Backend, Rendered } from '../backends/types.js';
import { setDelta } from '../backends/nftables/delta.js';
import type { Runner } from '../exec.js';
import { emptyInventory, type Inventory } from '../inventory/types.js';
import type { LoadedPolicy } from '../policy/load.js';
import { resolve } from '../ruleset/resolve.js';
import { policyHash, type AppliedState, type StateStore } from '../state/store.js';
import { chooseLiveBackend } from '../engine/choose-backend.js';
import { AddressHistory } from './history.js';
import { changedSets, liveMembers, memberDifferences, renderedMembers } from './set-verify.js';

export type Log = (msg: string) => void;

export interface DaemonDeps {
  loadPolicy: () => LoadedPolicy;
  /** Docker's current state; throws when Docker cannot be reached. */
  inventory: () => Promise<Inventory>;
  /** Subscribes to Docker events; resolves to an unsubscribe function; calls onEnd when the stream ends. */
  subscribe: (onEvent: (what: string) => void, onEnd: (err?: Error) => void) => Promise<() => void>;
  run: Runner;
  store: StateStore;
  backend?: string;
  version: string;
  checkIntervalMs: number;
  /** Quiet time before a reconcile after Docker events (default 100 ms); also the longest a burst is held back. */
  debounceMs?: number;
  /** Quiet time when every event since the last reconcile is a container start (default 15 ms): exceptions go live sooner. */
  startDebounceMs?: number;
  log: Log;
  now?: () => number;
}

export interface Repair {
  at: string;
  trigger: string;
  differences: string[];
  durationMs: number;
}

export interface DaemonState {
  startedAt: string;
  backend: string | null;
  docker: { up: boolean; since: string; lastError?: string; nextRetryMs?: number };
  applies: number;
  setUpdates: number;
  failures: number;
  lastApply?: { at: string; kind: 'full' | 'sets'; reason: string };
  lastCheck?: { at: string; matches: boolean };
  /** The most recent repairs (at most MAX_REPAIRS_KEPT). */
  repairs: Repair[];
  repairsTotal: number;
  notes: string[];
  addressesTracked: number;
}

const MAX_REPAIRS_KEPT = 50;
const BACKOFF_MS = [500, 1000, 2000, 5000, 10000, 30000];

export class Daemon {
  readonly history = new AddressHistory();
  readonly state: DaemonState;
  private backend: Backend | null = null;
  private applied: AppliedState | null;
  private inventory: Inventory | null = null;
  private timers = new Set<NodeJS.Timeout>();
  private unsubscribe: (() => void) | null = null;
  private stopped = false;
  private busy: Promise<void> = Promise.resolve();
  private dockerFailures = 0;
  private readonly appliedListeners = new Set<(applied: AppliedState) => void>();
  private debounce: NodeJS.Timeout | null = null;
  /** Docker events since the last reconcile was queued, and when the first of them came. */
  private pendingEvents: string[] = [];
  private pendingSince = 0;
  /** A reconcile is queued and has not started yet: later events ride along with it. */
  private reconcileQueued = false;
  /**
   * The live rules are known to be `applied.rendered`: the last full inspection matched, or the
   * daemon has since changed them itself (a full apply, or a verified set update), and nothing failed.
   */
  private trusted = false;
  /** The policy last loaded: reused while its file's text is unchanged. */
  private policy: LoadedPolicy | null = null;

  constructor(private readonly deps: DaemonDeps) {
    const now = this.iso();
    this.state = { startedAt: now, backend: null, docker: { up: false, since: now }, applies: 0, setUpdates: 0, failures: 0, repairs: [], repairsTotal: 0, notes: [], addressesTracked: 0 };
    this.applied = deps.store.read('current');
  }

  private iso(): string {
    return new Date(this.deps.now?.() ?? Date.now()).toISOString();
  }

  /** Runs `fn` after whatever is running: one firewall change at a time. */
  private serial(fn: () => Promise<void>): Promise<void> {
    this.busy = this.busy.then(fn, fn).catch((e: unknown) => this.deps.log(`error: ${(e as Error).message}`));
    return this.busy;
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  async start(): Promise<void> {
    const policy = this.loadPolicy(true);
    const chosen = await chooseLiveBackend(this.deps.backend ?? policy.ruleset.backend, this.deps.run, this.deps.backend ? '--backend' : 'policy');
    this.backend = chosen.backend;
    this.state.backend = chosen.backend.name;
    this.deps.log(`lanfence daemon: backend ${chosen.backend.name} (${chosen.how}), policy ${policy.file}, drift check every ${this.deps.checkIntervalMs} ms`);
    // Blocking never waits for Docker: with nothing applied yet, apply the policy without an inventory
    // (interface patterns cover every bridge); otherwise check (and repair) the last applied rules.
    if (!this.applied) {
      const resolved = resolve(policy.ruleset, emptyInventory());
      await this.serial(() => this.install(this.backend!.render(resolved), policy, resolved.interfaces, 'start, before Docker is known'));
    }
    await this.serial(() => this.checkDrift('start'));
    await this.connectDocker();
    const tick = () => {
      void this.serial(() => this.checkDrift('periodic check'));
      this.later(this.deps.checkIntervalMs, tick);
    };
    this.later(this.deps.checkIntervalMs, tick);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.debounce) clearTimeout(this.debounce);
    this.unsubscribe?.();
    await this.busy;
  }

  /** Something outside changed the firewall (firewalld reload, Docker restart): check soon, and again. */
  trigger(reason: string, delaysMs: number[] = [0, 1000, 3000]): void {
    this.deps.log(`trigger: ${reason}`);
    for (const d of delaysMs) this.later(d, () => void this.serial(() => this.checkDrift(reason)));
  }

  /** Re-reads the policy file (SIGHUP) and reconciles. */
  reload(): Promise<void> {
    return this.serial(() => this.reconcile('policy reloaded', true));
  }

  /**
   * The policy, re-read and validated only when its file's text changed since the last load (or
   * when `force`d, on SIGHUP). An unreadable file, or the embedded default, is loaded as before.
   */
  private loadPolicy(force = false): LoadedPolicy {
    const last = this.policy;
    if (!force && last) {
      let text: string | null = null;
      try {
        text = readFileSync(last.file, 'utf8');
      } catch {
        /* not a file we can read: load as usual */
      }
      if (text !== null && text === last.text) return last;
    }
    this.policy = this.deps.loadPolicy();
    return this.policy;
  }

  private async connectDocker(): Promise<void> {
    try {
      this.unsubscribe = await this.deps.subscribe(
        (what) => this.onDockerEvent(what),
        (err) => this.onDockerGone(err),
      );
      await this.serial(() => this.reconcile('docker connected'));
    } catch (e) {
      this.onDockerGone(e as Error);
    }
  }

  /**
   * Debounced: a reconcile runs once events have been quiet for `startDebounceMs` (every event a
   * container start) or `debounceMs` (anything else), and at the latest `debounceMs` after the first
   * event of a burst. A reconcile reads Docker's state when it starts, so one that is queued and
   * not started covers the events that arrive meanwhile: no second one is queued behind it.
   */
  private onDockerEvent(what: string): void {
    const now = Date.now();
    if (!this.pendingEvents.length) this.pendingSince = now;
    this.pendingEvents.push(what);
    const slow = this.deps.debounceMs ?? 100;
    const quiet = this.pendingEvents.every((e) => e.startsWith('container start')) ? Math.min(slow, this.deps.startDebounceMs ?? 15) : slow;
    const delay = Math.max(0, Math.min(quiet, this.pendingSince + slow - now));
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.flushEvents(), delay);
  }

  private flushEvents(): void {
    this.debounce = null;
    const events = this.pendingEvents;
    this.pendingEvents = [];
    if (!events.length || this.stopped) return;
    if (this.reconcileQueued) return; // the queued reconcile has not read Docker yet: it covers these
    this.reconcileQueued = true;
    const reason = `docker: ${events[0]}${events.length > 1 ? ` (+${events.length - 1} more)` : ''}`;
    void this.serial(() => {
      this.reconcileQueued = false;
      return this.reconcile(reason);
    });
  }

  private onDockerGone(err?: Error): void {
    if (this.stopped) return;
    this.unsubscribe = null;
    const wasUp = this.state.docker.up;
    const delay = BACKOFF_MS[Math.min(this.dockerFailures, BACKOFF_MS.length - 1)];
    this.dockerFailures++;
    this.state.docker = { up: false, since: wasUp ? this.iso() : this.state.docker.since, lastError: err?.message ?? 'event stream ended', nextRetryMs: delay };
    if (wasUp) this.deps.log(`docker unavailable (${this.state.docker.lastError}): keeping the last rules, retrying with backoff`);
    this.later(delay, () => void this.connectDocker());
  }

  /** Docker → inventory → rendered rules; applies only when they changed. */
  private async reconcile(reason: string, forcePolicy = false): Promise<void> {
    let inv: Inventory;
    try {
      inv = await this.deps.inventory();
    } catch (e) {
      this.state.docker = { ...this.state.docker, up: false, lastError: (e as Error).message };
      this.deps.log(`cannot read Docker (${(e as Error).message}): keeping the last rules`);
      return;
    }
    if (!this.state.docker.up) {
      this.state.docker = { up: true, since: this.iso() };
      this.dockerFailures = 0;
      this.trigger('docker (re)started: it may have rebuilt its chains', [500, 2000, 5000]);
    }
    this.inventory = inv;
    this.history.observe(inv, this.deps.now?.() ?? Date.now());
    this.state.addressesTracked = this.history.size;
    const policy = this.loadPolicy(forcePolicy);
    const backend = this.backend!;
    const resolved = resolve(policy.ruleset, inv);
    this.state.notes = [...resolved.notes, ...resolved.unprotected.map((u) => `unprotected: ${u.container}: ${u.reason}`)];
    const rendered = backend.render(resolved);
    const same = this.applied && this.applied.backend === backend.name && this.applied.rendered.text === rendered.text;
    if (same) return;
    await this.install(rendered, policy, resolved.interfaces, reason);
  }

  private async install(rendered: Rendered, policy: LoadedPolicy, interfaces: string[], reason: string): Promise<void> {
    const backend = this.backend!;
    const delta = backend.name === 'nftables' && this.applied?.backend === 'nftables' ? setDelta(this.applied.rendered.text, rendered.text) : null;
    if (delta !== null) {
      if (!this.trusted) {
        // Not known to be in place (start, a failure, drift seen): inspect in full before a set update.
        const status = await backend.inspect(this.applied!.rendered, this.deps.run).catch((e: Error) => {
          this.deps.log(`cannot inspect the live rules (${e.message}): applying in full`);
          return null;
        });
        if (status) this.state.lastCheck = { at: this.iso(), matches: status.matches };
        this.trusted = !!status?.matches;
      }
      if (this.trusted) {
        const refused = delta ? await this.setUpdate(delta) : null;
        if (!refused) {
          this.state.setUpdates++;
          this.recordApplied(rendered, policy, interfaces, reason, 'sets');
          if (delta) await this.verifySets(delta, rendered, reason);
          return;
        }
        // Refused (nothing changed: one transaction). Usually the live table is not what the last check
        // saw (gone, a set missing): that is drift, and it is reported and recorded as such. Then apply in full.
        this.trusted = false;
        const t0 = Date.now();
        const status = await backend.inspect(this.applied!.rendered, this.deps.run).catch(() => null);
        if (status) this.state.lastCheck = { at: this.iso(), matches: status.matches };
        const drifted = !status || !status.matches;
        const differences = status && !status.matches ? status.differences : [`set update refused: ${refused}`];
        if (drifted) this.deps.log(`drift (${reason}): the set update was refused (${refused}); ${differences.slice(0, 5).join('; ')}${differences.length > 5 ? ` … ${differences.length} differences` : ''}; applying in full`);
        else this.deps.log(`set update refused (${reason}): ${refused}; the live rules are as applied; applying in full`);
        if (!(await this.fullApply(rendered, reason))) return;
        if (drifted) this.recordRepair({ at: this.iso(), trigger: `${reason} (set update refused)`, differences, durationMs: Date.now() - t0 });
        this.recordApplied(rendered, policy, interfaces, reason, 'full');
        return;
      }
    }
    if (!(await this.fullApply(rendered, reason))) return;
    this.recordApplied(rendered, policy, interfaces, reason, 'full');
  }

  /** One `nft -f` transaction of set statements; the kernel's complaint when refused, else null. */
  private async setUpdate(delta: string): Promise<string | null> {
    try {
      const r = await this.deps.run('nft', ['-f', '-'], { input: delta });
      return r.code === 0 ? null : r.stderr.trim().split('\n')[0] || `nft exited with ${r.code}`;
    } catch (e) {
      return (e as Error).message;
    }
  }

  /** Checks (`nft -c` or the backend's equivalent), then applies the whole rendering. False when it failed (the previous rules stay). */
  private async fullApply(rendered: Rendered, reason: string): Promise<boolean> {
    const backend = this.backend!;
    this.trusted = false;
    const check = await backend.check(rendered, this.deps.run);
    if (!check.ok) {
      this.state.failures++;
      this.deps.log(`not applied (${reason}): ${backend.name} would not accept the rules: ${check.stderr}`);
      return false;
    }
    try {
      await backend.apply(rendered, this.deps.run);
    } catch (e) {
      this.state.failures++;
      this.deps.log(`apply failed (${reason}): ${(e as Error).message}; the previous rules stay`);
      return false;
    }
    // One transaction replaced the whole table: it is what was rendered (the next periodic check confirms).
    this.trusted = true;
    return true;
  }

  /**
   * Reads back the sets a set update changed and compares their members with the rendering. A
   * difference (someone changed them meanwhile, or a form the comparison does not know) is settled
   * by a full inspection, which repairs when the table really differs.
   */
  private async verifySets(delta: string, rendered: Rendered, reason: string): Promise<void> {
    const differences: string[] = [];
    for (const set of changedSets(delta)) {
      const expected = renderedMembers(rendered.text, set);
      const r = await this.deps.run('nft', ['-j', 'list', 'set', 'inet', 'lanfence', set]);
      if (!expected || r.code !== 0) {
        differences.push(r.code !== 0 ? `set ${set} cannot be read: ${r.stderr.trim().split('\n')[0]}` : `set ${set} is not in the rendering`);
        continue;
      }
      try {
        differences.push(...memberDifferences(set, expected, liveMembers(r.stdout)));
      } catch (e) {
        differences.push(`set ${set}: unreadable listing (${(e as Error).message})`);
      }
    }
    if (!differences.length) return;
    this.trusted = false;
    this.deps.log(`set update (${reason}) read back with differences: ${differences.slice(0, 3).join('; ')}; inspecting the table`);
    await this.checkDrift(`after a set update (${reason})`);
  }

  private recordRepair(repair: Repair): void {
    this.state.repairs = [...this.state.repairs, repair].slice(-MAX_REPAIRS_KEPT);
    this.state.repairsTotal++;
  }

  private recordApplied(rendered: Rendered, policy: LoadedPolicy, interfaces: string[], reason: string, kind: 'full' | 'sets'): void {
    const backend = this.backend!;
    this.state.applies++;
    this.state.lastApply = { at: this.iso(), kind, reason };
    const mode = policy.ruleset.mode;
    this.applied = {
      backend: backend.name,
      mode,
      appliedAt: this.iso(),
      policyFile: policy.file,
      policyText: policy.text,
      policyHash: policyHash(policy.text),
      rendered,
      interfaces,
      version: this.deps.version,
    };
    if (this.deps.store.read('current')?.policyHash === this.applied.policyHash) this.deps.store.replaceCurrent(this.applied);
    else this.deps.store.recordApplied(this.applied);
    this.deps.log(`applied (${kind === 'sets' ? 'set update' : 'full'}): ${reason}`);
    for (const l of this.appliedListeners) l(this.applied);
  }

  /** Calls `listener` after each apply, once the state is recorded (the drop log follows a new prefix). */
  onApplied(listener: (applied: AppliedState) => void): () => void {
    this.appliedListeners.add(listener);
    return () => this.appliedListeners.delete(listener);
  }

  /** Compares the live rules with the last applied ones; re-applies and measures when they differ. */
  private async checkDrift(trigger: string): Promise<void> {
    if (!this.applied || !this.backend) return;
    const backend = getBackend(this.applied.backend);
    const t0 = Date.now();
    this.trusted = false;
    const status = await backend.inspect(this.applied.rendered, this.deps.run);
    this.state.lastCheck = { at: this.iso(), matches: status.matches };
    this.trusted = status.matches && this.applied.backend === this.backend.name;
    if (status.matches) return;
    this.deps.log(`drift (${trigger}): ${status.differences.slice(0, 5).join('; ')}${status.differences.length > 5 ? ` … ${status.differences.length} differences` : ''}`);
    try {
      await backend.apply(this.applied.rendered, this.deps.run);
      const after = await backend.inspect(this.applied.rendered, this.deps.run);
      const repair: Repair = { at: this.iso(), trigger, differences: status.differences, durationMs: Date.now() - t0 };
      this.recordRepair(repair);
      this.state.lastCheck = { at: this.iso(), matches: after.matches };
      this.trusted = after.matches && this.applied.backend === this.backend.name;
      this.deps.log(after.matches ? `repaired in ${repair.durationMs} ms` : `re-applied, still differs: ${after.differences.join('; ')}`);
    } catch (e) {
      this.state.failures++;
      this.deps.log(`repair failed: ${(e as Error).message}`);
    }
  }

  inventorySnapshot(): Inventory | null {
    return this.inventory;
  }
}
