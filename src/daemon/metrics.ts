/**
 * Prometheus metrics (prom-client). Label cardinality is bounded: at most MAX_CONTAINER_LABELS
 * distinct container names; the rest are counted as `other`.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { DaemonState } from './daemon.js';

export const MAX_CONTAINER_LABELS = 200;

export class Metrics {
  readonly registry = new Registry();
  private readonly containers = new Set<string>();
  readonly drops = new Counter({
    name: 'lanfence_drops_total',
    help: 'Connections blocked (enforce) or logged (audit), from the kernel log, by container, blocked entry and protocol',
    labelNames: ['container', 'entry', 'proto', 'mode'] as const,
    registers: [this.registry],
  });
  readonly parserErrors = new Counter({ name: 'lanfence_log_parse_errors_total', help: 'Kernel log lines with the prefix that could not be parsed', registers: [this.registry] });
  readonly ruleState = new Gauge({ name: 'lanfence_rules_state', help: '1 for the current state of the live rules (applied, drifted, unknown)', labelNames: ['state'] as const, registers: [this.registry] });
  readonly applies = new Counter({ name: 'lanfence_applies_total', help: 'Rule applies by the daemon (full and set updates)', labelNames: ['kind'] as const, registers: [this.registry] });
  readonly failures = new Counter({ name: 'lanfence_apply_failures_total', help: 'Applies or repairs that failed', registers: [this.registry] });
  readonly repairs = new Counter({ name: 'lanfence_drift_repairs_total', help: 'Drift repairs since the daemon started', registers: [this.registry] });
  private readonly seen = new Map<string, number>();
  readonly lastApply = new Gauge({ name: 'lanfence_last_apply_timestamp_seconds', help: 'Unix time of the last apply', registers: [this.registry] });
  readonly dockerUp = new Gauge({ name: 'lanfence_docker_up', help: '1 when the Docker Engine API answers', registers: [this.registry] });

  /** Maps a container name to a bounded label value. */
  containerLabel(name: string | undefined): string {
    const n = name ?? 'unknown';
    if (this.containers.has(n)) return n;
    if (this.containers.size >= MAX_CONTAINER_LABELS) return 'other';
    this.containers.add(n);
    return n;
  }

  /** Counters follow the daemon's running totals: increment by what is new since the last scrape. */
  private advance(key: string, total: number, inc: (n: number) => void): void {
    const delta = total - (this.seen.get(key) ?? 0);
    if (delta > 0) inc(delta);
    this.seen.set(key, Math.max(total, this.seen.get(key) ?? 0));
  }

  /** Copies the daemon's state into the gauges (called on each scrape). */
  update(state: DaemonState): void {
    const drifted = state.lastCheck ? !state.lastCheck.matches : false;
    this.ruleState.reset();
    this.ruleState.set({ state: state.lastCheck ? (drifted ? 'drifted' : 'applied') : 'unknown' }, 1);
    this.advance('full', state.applies - state.setUpdates, (n) => this.applies.inc({ kind: 'full' }, n));
    this.advance('sets', state.setUpdates, (n) => this.applies.inc({ kind: 'sets' }, n));
    this.advance('failures', state.failures, (n) => this.failures.inc(n));
    this.advance('repairs', state.repairsTotal, (n) => this.repairs.inc(n));
    if (state.lastApply) this.lastApply.set(Date.parse(state.lastApply.at) / 1000);
    this.dockerUp.set(state.docker.up ? 1 : 0);
  }
}
