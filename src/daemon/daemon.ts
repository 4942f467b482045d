/**
 * The reconcile loop: follows Docker (events, debounced), applies only when the rendered rules
 * change (set updates when only members change), checks for drift periodically and on triggers,
 * and never weakens protection when Docker is missing.
 */
import { getBackend } from '../backends/index.js';
import type { Backend, Rendered } from '../backends/types.js';
import { setDelta } from '../backends/nftables/delta.js';
import { BackendError } from '../errors.js';
import type { Runner } from '../exec.js';
import { emptyInventory, type Inventory } from '../inventory/types.js';
import type { LoadedPolicy } from '../policy/load.js';
import { resolve } from '../ruleset/resolve.js';
import { policyHash, type AppliedState, type StateStore } from '../state/store.js';
import { chooseLiveBackend } from '../engine/choose-backend.js';
import { AddressHistory } from './history.js';

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
  debounceMs?: number;
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
    const policy = this.deps.loadPolicy();
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
    return this.serial(() => this.reconcile('policy reloaded'));
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

  private onDockerEvent(what: string): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = null;
      void this.serial(() => this.reconcile(`docker: ${what}`));
    }, this.deps.debounceMs ?? 100);
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
  private async reconcile(reason: string): Promise<void> {
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
    const policy = this.deps.loadPolicy();
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
    const check = await backend.check(rendered, this.deps.run);
    if (!check.ok) {
      this.state.failures++;
      this.deps.log(`not applied (${reason}): ${backend.name} would not accept the rules: ${check.stderr}`);
      return;
    }
    let kind: 'full' | 'sets' = 'full';
    try {
      const delta = backend.name === 'nftables' && this.applied?.backend === 'nftables' ? setDelta(this.applied.rendered.text, rendered.text) : null;
      if (delta !== null && (await backend.inspect(this.applied!.rendered, this.deps.run)).matches) {
        kind = 'sets';
        if (delta) {
          const r = await this.deps.run('nft', ['-f', '-'], { input: delta });
          if (r.code !== 0) throw new BackendError('set update refused', 'nft -f - (set update)', r.code, r.stderr);
        }
        this.state.setUpdates++;
      } else {
        await backend.apply(rendered, this.deps.run);
      }
    } catch (e) {
      this.state.failures++;
      this.deps.log(`apply failed (${reason}): ${(e as Error).message}; the previous rules stay`);
      return;
    }
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
    const status = await backend.inspect(this.applied.rendered, this.deps.run);
    this.state.lastCheck = { at: this.iso(), matches: status.matches };
    if (status.matches) return;
    this.deps.log(`drift (${trigger}): ${status.differences.slice(0, 5).join('; ')}${status.differences.length > 5 ? ` … ${status.differences.length} differences` : ''}`);
    try {
      await backend.apply(this.applied.rendered, this.deps.run);
      const after = await backend.inspect(this.applied.rendered, this.deps.run);
      const repair: Repair = { at: this.iso(), trigger, differences: status.differences, durationMs: Date.now() - t0 };
      this.state.repairs = [...this.state.repairs, repair].slice(-MAX_REPAIRS_KEPT);
      this.state.repairsTotal++;
      this.state.lastCheck = { at: this.iso(), matches: after.matches };
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
