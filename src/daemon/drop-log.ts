/**
 * The daemon's drop log: /dev/kmsg (followed) → parser → attribution by the daemon's address history
 * → the dashboard's feed, the metrics and the audit aggregator (for suggestions). Bounded throughout.
 */
import { Aggregator, Attributor, entryText, historyFromLookup, kmsgSource, LogParser, renderItems, suggest, type Attributed, type LogSource } from '../logs/index.js';
import { emptyInventory } from '../inventory/types.js';
import { parsePolicy } from '../policy/load.js';
import { portText } from '../policy/ports.js';
import type { Resolved } from '../ruleset/resolve.js';
import type { StateStore } from '../state/store.js';
import type { Daemon } from './daemon.js';
import type { AttributedDrop, DropFeed } from './drops.js';
import type { Metrics } from './metrics.js';

/** Re-read the applied policy (prefix, blocked names, mode) at most this often. */
const REFRESH_MS = 10_000;

export function toDrop(a: Attributed, mode: 'enforce' | 'audit'): AttributedDrop {
  const r = a.record;
  return {
    time: r.time ?? Date.now(),
    container: a.holder?.container ?? null,
    ...(a.holder?.id ? { containerId: a.holder.id } : {}),
    ...((a.holder?.network ?? a.ifaceNetwork) ? { network: a.holder?.network ?? a.ifaceNetwork } : {}),
    ...(a.holder?.composeProject ? { project: a.holder.composeProject } : {}),
    src: r.src,
    dst: r.dst,
    proto: r.proto,
    ...(r.dpt !== undefined ? { dport: r.dpt } : {}),
    // The range with its name, as `lanfence logs` shows it: several ranges share a name (private (RFC 1918)).
    entry: entryText(a.entry),
    path: r.path,
    mode,
  };
}

export interface DropLogDeps {
  daemon: Daemon;
  store: StateStore;
  feed: DropFeed;
  metrics: Metrics;
  log: (m: string) => void;
  source?: LogSource;
}

export class DropLog {
  readonly aggregator = new Aggregator();
  private readonly abort = new AbortController();
  private parser: LogParser | null = null;
  private attributor: Attributor | null = null;
  private mode: 'enforce' | 'audit' = 'enforce';
  private hash = '';
  private refreshedAt = 0;
  private readonly unsubscribe: () => void;
  private errorsSeen = 0;

  constructor(private readonly deps: DropLogDeps) {
    this.unsubscribe = deps.daemon.onApplied(() => this.refresh(Date.now(), true));
  }

  /**
   * (Re)builds the attributor and follows the parser's prefix from what is applied now: at once after
   * each of the daemon's applies (before the kernel's next lines are read), else every REFRESH_MS
   * (an apply by the CLI).
   */
  private refresh(now: number, force = false): void {
    if (!force && now - this.refreshedAt < REFRESH_MS && this.parser) return;
    this.refreshedAt = now;
    const applied = this.deps.store.read('current');
    const text = applied?.policyText ?? '';
    const ruleset = parsePolicy(text, applied?.policyFile ?? 'default').ruleset ?? parsePolicy('', 'default').ruleset!;
    this.mode = applied?.mode ?? ruleset.mode;
    const history = historyFromLookup((address, at) => this.deps.daemon.history.lookup(address, at));
    this.attributor = new Attributor({ history, ruleset, inventory: this.deps.daemon.inventorySnapshot() ?? emptyInventory() });
    // One parser for the life of the source (it holds the source's statistics); a new prefix is followed.
    if (!this.parser) this.parser = new LogParser({ prefix: ruleset.log.prefix });
    else if (applied?.policyHash !== this.hash) this.parser.setPrefix(ruleset.log.prefix);
    this.hash = applied?.policyHash ?? '';
  }

  /** Handles one parsed record (exposed for tests and benchmarks). */
  ingest(a: Attributed): void {
    const d = toDrop(a, this.mode);
    this.deps.feed.push(d);
    const m = this.deps.metrics;
    m.drops.inc({ container: m.containerLabel(d.container ?? undefined), entry: d.entry, proto: d.proto, mode: d.mode });
    this.aggregator.add(a);
  }

  async run(): Promise<void> {
    const source = this.deps.source ?? kmsgSource();
    this.refresh(Date.now());
    try {
      for await (const rec of source.records(this.parser!, { follow: true, signal: this.abort.signal })) {
        const now = Date.now();
        this.refresh(now);
        this.ingest(this.attributor!.attribute(rec, now));
        const s = this.parser!.stats;
        const errors = s.garbage + s.truncated;
        if (errors > this.errorsSeen) this.deps.metrics.parserErrors.inc(errors - this.errorsSeen);
        this.errorsSeen = errors;
      }
    } catch (e) {
      if (!this.abort.signal.aborted) this.deps.log(`drop log stopped: ${(e as Error).message}`);
    }
  }

  stop(): void {
    this.unsubscribe();
    this.abort.abort();
  }

  /** Suggestions for the dashboard (docs/api.md). */
  suggestions(resolved: Resolved): { container: string; kind: 'service' | 'scan'; target?: string; count: number; first?: number; last?: number; yaml: string }[] {
    const flows = this.aggregator.flowViews();
    const { suggestions } = suggest(flows, { ruleset: resolved.ruleset, inventory: this.deps.daemon.inventorySnapshot() ?? emptyInventory() });
    const out: { container: string; kind: 'service' | 'scan'; target?: string; count: number; first?: number; last?: number; yaml: string }[] = suggestions.map((s) => ({
      container: s.containers.join(', '),
      kind: 'service',
      target: `${s.to} ${s.ports.map(portText).join(', ')}`,
      count: s.count,
      ...(s.first !== undefined ? { first: s.first } : {}),
      ...(s.last !== undefined ? { last: s.last } : {}),
      yaml: renderItems([s]),
    }));
    for (const c of this.aggregator.report().containers)
      if (c.scans.length) out.push({ container: c.container, kind: 'scan', count: c.scans.length, yaml: `# ${c.container}: ${c.scans.length} scan(s) — not suggested` });
    return out;
  }
}
