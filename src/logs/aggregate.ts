/**
 * Aggregation of attributed drop lines: per container, per (destination, port, protocol): count,
 * first and last seen; and scan detection. Memory is bounded whatever the input (a flood, a scan of
 * every port): distinct flows and containers are capped and what does not fit is counted, and the
 * scan detector keeps a bounded window per container. A daemon can feed it line by line (`add`) and
 * read it at any time (`report`, `counters`); `prune` forgets old flows.
 *
 * Classification (per flow):
 * - `scan`: every line of the flow fell inside a scan of its container;
 * - `service`: at least `serviceMin` (default 2) lines outside scans — repeated use of one service,
 *   a candidate exception (the kernel logs a flow at most once per `log.rate` period, 10 s by
 *   default, so two lines mean the container came back for it);
 * - `once`: a single line outside scans.
 *
 * A scan: within `scanWindowMs` (default 60 s), one container reached
 * - at least `scanPorts` (default 16) distinct ports/protocols of one destination (a port scan), or
 * - at least `scanHosts` (default 16) distinct destinations (a sweep).
 * Ordinary clients stay far below: a database, DNS and a metrics endpoint are three ports on one
 * or two hosts. Every line inside the window when a threshold is crossed, and every line while it
 * stays crossed, counts as part of the scan.
 */
import type { Attributed, EntryRef, Holder } from './attribute.js';
import { containerText } from './attribute.js';
import { portProtoText } from './parse.js';

export interface AggregateOptions {
  maxFlows?: number;
  maxContainers?: number;
  scanWindowMs?: number;
  scanPorts?: number;
  scanHosts?: number;
  serviceMin?: number;
  /** Lines of one container remembered for the scan window. */
  windowEvents?: number;
  /** Scan episodes kept per container. */
  maxEpisodes?: number;
}

export const AGGREGATE_DEFAULTS: Required<AggregateOptions> = {
  maxFlows: 20_000,
  maxContainers: 1_000,
  scanWindowMs: 60_000,
  scanPorts: 16,
  scanHosts: 16,
  serviceMin: 2,
  windowEvents: 512,
  maxEpisodes: 16,
};

export type FlowClass = 'service' | 'once' | 'scan';

export interface Flow {
  /** The container's name, or `(address)` when it is unknown. */
  container: string;
  holder: Holder | null;
  /** Source address, interfaces and path of the latest line (a container can change address). */
  src: string;
  iface: string;
  out: string;
  path: 'forward' | 'input';
  dst: string;
  proto: string;
  dport?: number;
  icmpType?: number;
  entry: EntryRef | null;
  count: number;
  /** Lines of this flow that were part of a scan. */
  scanCount: number;
  /** ms since the epoch; absent when the lines carried no time. */
  first?: number;
  last?: number;
}

export interface ScanEpisode {
  container: string;
  kind: 'ports' | 'hosts';
  /** The destination of a port scan. */
  target?: string;
  start: number;
  end: number;
  /** Lines that were part of it. */
  lines: number;
  /** The most distinct ports (port scan) or destinations (sweep) seen within one window. */
  distinct: number;
}

export interface FlowView extends Flow {
  class: FlowClass;
}

export interface ContainerSummary {
  container: string;
  holder: Holder | null;
  lines: number;
  flows: FlowView[];
  scans: ScanEpisode[];
  /** Scan episodes not kept (over `maxEpisodes`). */
  scansDropped: number;
}

export interface AuditReport {
  lines: number;
  first?: number;
  last?: number;
  containers: ContainerSummary[];
  /** Lines not kept as flows because the caps were reached. */
  overflow: { flows: number; containers: number };
  thresholds: { scanWindowMs: number; scanPorts: number; scanHosts: number; serviceMin: number };
}

interface WindowEvent {
  t: number;
  dst: string;
  port: string;
  flow: Flow | null;
  marked: boolean;
}

interface ContainerState {
  key: string;
  holder: Holder | null;
  lines: number;
  events: WindowEvent[];
  head: number;
  hostCounts: Map<string, number>;
  portsByHost: Map<string, Map<string, number>>;
  episodes: ScanEpisode[];
  scansDropped: number;
  /** Open episodes: `ports:<dst>` and `hosts`. */
  open: Map<string, ScanEpisode>;
  /** Per open episode: the sequence number up to which the window was already marked. */
  cursor: Map<string, number>;
  /** Sequence number of events[0]. */
  base: number;
}

/** `5432/tcp`, `icmp echo-request`, ... for a flow. */
export const flowPortText = (f: Pick<Flow, 'proto' | 'dport' | 'icmpType'>): string => portProtoText({ proto: f.proto, dpt: f.dport, icmpType: f.icmpType });

export const flowKey = (container: string, dst: string, proto: string, port: number | undefined): string => `${container}|${dst}|${proto}|${port ?? ''}`;

export class Aggregator {
  readonly options: Required<AggregateOptions>;
  private readonly flows = new Map<string, Flow>();
  private readonly containers = new Map<string, ContainerState>();
  private lines = 0;
  private first: number | undefined;
  private last: number | undefined;
  private overflowFlows = 0;
  private overflowContainers = 0;

  constructor(options: AggregateOptions = {}) {
    this.options = { ...AGGREGATE_DEFAULTS, ...options };
  }

  /** Adds one attributed line; returns its flow (null when the caps were reached). */
  add(a: Attributed, now: number = Date.now()): Flow | null {
    const r = a.record;
    const t = r.time ?? now;
    this.lines++;
    if (r.time !== undefined) {
      if (this.first === undefined || r.time < this.first) this.first = r.time;
      if (this.last === undefined || r.time > this.last) this.last = r.time;
    }
    const container = containerText(a);
    let state = this.containers.get(container);
    if (!state) {
      if (this.containers.size >= this.options.maxContainers) {
        this.overflowContainers++;
        return null;
      }
      state = { key: container, holder: a.holder, lines: 0, events: [], head: 0, hostCounts: new Map(), portsByHost: new Map(), episodes: [], scansDropped: 0, open: new Map(), cursor: new Map(), base: 0 };
      this.containers.set(container, state);
    }
    state.lines++;
    if (a.holder) state.holder = a.holder;

    const port = r.dpt ?? r.icmpType;
    const key = flowKey(container, r.dst, r.proto, port);
    let flow = this.flows.get(key) ?? null;
    if (!flow) {
      if (this.flows.size >= this.options.maxFlows) this.overflowFlows++;
      else {
        flow = {
          container,
          holder: a.holder,
          src: r.src,
          iface: r.in,
          out: r.out,
          path: r.path,
          dst: r.dst,
          proto: r.proto,
          ...(r.dpt !== undefined ? { dport: r.dpt } : {}),
          ...(r.dpt === undefined && r.icmpType !== undefined ? { icmpType: r.icmpType } : {}),
          entry: a.entry,
          count: 0,
          scanCount: 0,
        };
        this.flows.set(key, flow);
      }
    }
    if (flow) {
      flow.count++;
      flow.src = r.src;
      flow.iface = r.in;
      flow.out = r.out;
      if (a.holder) flow.holder = a.holder;
      if (r.time !== undefined) {
        if (flow.first === undefined || r.time < flow.first) flow.first = r.time;
        if (flow.last === undefined || r.time > flow.last) flow.last = r.time;
      }
    }
    this.detectScan(state, { t, dst: r.dst, port: `${r.proto}/${port ?? ''}`, flow, marked: false });
    return flow;
  }

  private detectScan(s: ContainerState, ev: WindowEvent): void {
    const o = this.options;
    // Slide the window: drop events older than the window, and the oldest beyond the cap.
    while (s.head < s.events.length && (s.events[s.head].t < ev.t - o.scanWindowMs || s.events.length - s.head >= o.windowEvents)) this.forget(s, s.events[s.head++]);
    if (s.head > 1024 && s.head * 2 > s.events.length) {
      s.events = s.events.slice(s.head);
      s.base += s.head;
      s.head = 0;
    }
    s.events.push(ev);
    s.hostCounts.set(ev.dst, (s.hostCounts.get(ev.dst) ?? 0) + 1);
    let ports = s.portsByHost.get(ev.dst);
    if (!ports) s.portsByHost.set(ev.dst, (ports = new Map()));
    ports.set(ev.port, (ports.get(ev.port) ?? 0) + 1);

    if (ports.size >= o.scanPorts) this.scanEvent(s, ev, 'ports', ev.dst, ports.size);
    if (s.hostCounts.size >= o.scanHosts) this.scanEvent(s, ev, 'hosts', undefined, s.hostCounts.size);
  }

  private forget(s: ContainerState, ev: WindowEvent): void {
    const n = (s.hostCounts.get(ev.dst) ?? 1) - 1;
    if (n <= 0) s.hostCounts.delete(ev.dst);
    else s.hostCounts.set(ev.dst, n);
    const ports = s.portsByHost.get(ev.dst);
    if (!ports) return;
    const m = (ports.get(ev.port) ?? 1) - 1;
    if (m <= 0) ports.delete(ev.port);
    else ports.set(ev.port, m);
    if (ports.size === 0) s.portsByHost.delete(ev.dst);
  }

  private scanEvent(s: ContainerState, ev: WindowEvent, kind: 'ports' | 'hosts', target: string | undefined, distinct: number): void {
    const o = this.options;
    const openKey = kind === 'ports' ? `ports:${target}` : 'hosts';
    let ep = s.open.get(openKey);
    if (ep && ev.t - ep.end > o.scanWindowMs) {
      s.open.delete(openKey);
      ep = undefined;
    }
    if (!ep) {
      ep = { container: s.key, kind, ...(target !== undefined ? { target } : {}), start: ev.t, end: ev.t, lines: 0, distinct };
      if (s.episodes.length >= o.maxEpisodes) s.scansDropped++;
      else s.episodes.push(ep);
      s.open.set(openKey, ep);
      s.cursor.delete(openKey);
      if (s.open.size > 64) {
        const oldest = s.open.keys().next().value!;
        s.open.delete(oldest);
        s.cursor.delete(oldest);
      }
    }
    ep.distinct = Math.max(ep.distinct, distinct);
    // Everything in the window that belongs to this scan (and was not already counted) is part of it;
    // the cursor keeps a long scan from rescanning the window at every line.
    const from = Math.max(s.head, (s.cursor.get(openKey) ?? 0) - s.base);
    s.cursor.set(openKey, s.base + s.events.length);
    for (let i = from; i < s.events.length; i++) {
      const e = s.events[i];
      if (e.marked || (kind === 'ports' && e.dst !== target)) continue;
      e.marked = true;
      ep.lines++;
      if (e.t < ep.start) ep.start = e.t;
      if (e.flow) e.flow.scanCount++;
    }
    if (ev.t > ep.end) ep.end = ev.t;
  }

  /** Forgets flows last seen before `before` (ms), and scan episodes that ended before it. */
  prune(before: number): void {
    for (const [k, f] of this.flows) if ((f.last ?? 0) < before) this.flows.delete(k);
    for (const s of this.containers.values()) s.episodes = s.episodes.filter((e) => e.end >= before);
  }

  classify(f: Flow): FlowClass {
    const outside = f.count - f.scanCount;
    return outside <= 0 ? 'scan' : outside >= this.options.serviceMin ? 'service' : 'once';
  }

  /** Every flow with its class, most lines first. */
  flowViews(): FlowView[] {
    return [...this.flows.values()].map((f) => ({ ...f, class: this.classify(f) })).sort(byCount);
  }

  report(): AuditReport {
    const byContainer = new Map<string, FlowView[]>();
    for (const f of this.flowViews()) {
      const list = byContainer.get(f.container) ?? [];
      list.push(f);
      byContainer.set(f.container, list);
    }
    const containers = [...this.containers.values()]
      .map((s) => ({ container: s.key, holder: s.holder, lines: s.lines, flows: byContainer.get(s.key) ?? [], scans: [...s.episodes], scansDropped: s.scansDropped }))
      .sort((a, b) => b.lines - a.lines || a.container.localeCompare(b.container));
    const o = this.options;
    return {
      lines: this.lines,
      ...(this.first !== undefined ? { first: this.first, last: this.last } : {}),
      containers,
      overflow: { flows: this.overflowFlows, containers: this.overflowContainers },
      thresholds: { scanWindowMs: o.scanWindowMs, scanPorts: o.scanPorts, scanHosts: o.scanHosts, serviceMin: o.serviceMin },
    };
  }

  /** Cheap counters for a daemon's metrics. */
  counters(): { lines: number; flows: number; containers: number; overflowFlows: number; overflowContainers: number } {
    return { lines: this.lines, flows: this.flows.size, containers: this.containers.size, overflowFlows: this.overflowFlows, overflowContainers: this.overflowContainers };
  }
}

const byCount = (a: Flow, b: Flow): number =>
  b.count - a.count || a.container.localeCompare(b.container) || a.dst.localeCompare(b.dst) || (a.dport ?? a.icmpType ?? 0) - (b.dport ?? b.icmpType ?? 0);
