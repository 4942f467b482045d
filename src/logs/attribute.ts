/**
 * Who sent it and what it hit. The source address (and the input interface) names the container —
 * as it was at the time of the line, when a history is available: Docker reuses addresses, so the
 * container holding 172.17.0.5 now may not be the one that held it an hour ago. The destination
 * names the blocked entry that matched, or `host` for the input path.
 */
import type { Inventory } from '../inventory/types.js';
import { containsAddress, parseAddress, shortText } from '../ruleset/cidr.js';
import type { BlockedEntry, Ruleset } from '../ruleset/types.js';
import type { DropRecord } from './parse.js';
import { RangeTable } from './ranges.js';

/** A container as it was at some time. */
export interface Holder {
  container: string;
  id?: string;
  network?: string;
  composeProject?: string;
}

/**
 * Where attributions come from:
 * - `history`: who held the address at the line's time (the daemon records Docker's events);
 * - `docker-now`: Docker's current state — right for live lines, possibly wrong for old ones;
 * - `snapshot`: an `--inventory` file, likewise current-state-only;
 * - `none`: no inventory (Docker unreachable): containers are shown by address.
 */
export type AttributionSource = 'history' | 'docker-now' | 'snapshot' | 'none';

export interface AddressHistory {
  readonly attributionSource: AttributionSource;
  /** Who held `address` at time `at`; `iface` (the IN= interface) disambiguates when known. */
  lookup(address: string, at: Date, iface?: string): Holder | null;
}

/** Canonical address text, as the parser produces it. */
const canonical = (a: string): string | null => parseAddress(a)?.address ?? null;

/**
 * Docker's current state as an AddressHistory: `lookup` ignores the time. Say so wherever its answers
 * are shown (`attributionSource`).
 */
export class CurrentStateHistory implements AddressHistory {
  readonly attributionSource: AttributionSource;
  private readonly byAddress = new Map<string, Holder[]>();

  constructor(inventory: Inventory, source?: AttributionSource) {
    this.attributionSource = source ?? (inventory.source === 'docker' ? 'docker-now' : inventory.source.startsWith('file:') ? 'snapshot' : 'none');
    for (const c of inventory.containers) {
      for (const a of c.networks) {
        for (const ip of [a.ipv4, a.ipv6]) {
          const key = ip ? canonical(ip) : null;
          if (!key) continue;
          const holder: Holder = { container: c.name, ...(c.id ? { id: c.id } : {}), network: a.network, ...(c.composeProject ? { composeProject: c.composeProject } : {}) };
          const list = this.byAddress.get(key) ?? [];
          list.push(holder);
          this.byAddress.set(key, list);
        }
      }
    }
    this.bridges = new Map(inventory.networks.filter((n) => n.bridge).map((n) => [n.bridge!, n.name]));
  }

  private readonly bridges: Map<string, string>;

  lookup(address: string, _at: Date, iface?: string): Holder | null {
    const list = this.byAddress.get(address);
    if (!list) return null;
    if (list.length > 1 && iface) {
      const net = this.bridges.get(iface);
      const hit = list.find((h) => h.network === net);
      if (hit) return hit;
    }
    return list[0];
  }
}

interface Interval {
  holder: Holder;
  from: number;
  to?: number;
}

/**
 * Who held which address when, in memory and bounded (at most `maxPerAddress` intervals per address,
 * `maxAddresses` addresses; the oldest go first). The daemon can feed it from Docker's events; tests
 * use it as the history stub.
 */
export class IntervalHistory implements AddressHistory {
  readonly attributionSource: AttributionSource = 'history';
  private readonly byAddress = new Map<string, Interval[]>();

  constructor(
    private readonly maxPerAddress = 32,
    private readonly maxAddresses = 65_536,
  ) {}

  /** `holder` holds `address` from `from` (until `to`, or until the next `begin`/`end`). */
  begin(address: string, holder: Holder, from: Date, to?: Date): void {
    const key = canonical(address);
    if (!key) return;
    const list = this.byAddress.get(key) ?? [];
    const open = list[list.length - 1];
    if (open && open.to === undefined && open.from <= from.getTime()) open.to = from.getTime();
    list.push({ holder, from: from.getTime(), ...(to ? { to: to.getTime() } : {}) });
    list.sort((a, b) => a.from - b.from);
    while (list.length > this.maxPerAddress) list.shift();
    this.byAddress.delete(key);
    this.byAddress.set(key, list); // most recently changed last: eviction takes the stalest address
    while (this.byAddress.size > this.maxAddresses) this.byAddress.delete(this.byAddress.keys().next().value!);
  }

  /** The current holder of `address` let go of it at `at`. */
  end(address: string, at: Date): void {
    const key = canonical(address);
    const list = key ? this.byAddress.get(key) : undefined;
    const open = list?.[list.length - 1];
    if (open && open.to === undefined) open.to = at.getTime();
  }

  lookup(address: string, at: Date): Holder | null {
    const list = this.byAddress.get(address);
    if (!list) return null;
    const t = at.getTime();
    for (let i = list.length - 1; i >= 0; i--) {
      const iv = list[i];
      if (iv.from <= t && (iv.to === undefined || t < iv.to)) return iv.holder;
    }
    return null;
  }

  /** Forgets intervals that ended before `before`. */
  prune(before: Date): void {
    const t = before.getTime();
    for (const [k, list] of this.byAddress) {
      const kept = list.filter((iv) => iv.to === undefined || iv.to >= t);
      if (kept.length === 0) this.byAddress.delete(k);
      else if (kept.length !== list.length) this.byAddress.set(k, kept);
    }
  }
}

/**
 * The daemon's history as its API returns it (`GET /v1/history`: address → intervals
 * `{container, id?, network, composeProject?, from, to?}`, times in ms) → an IntervalHistory.
 * Null when the shape is not that (an older or newer daemon): the caller falls back to Docker's state.
 */
export function historyFromSnapshot(data: unknown): IntervalHistory | null {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return null;
  const h = new IntervalHistory();
  for (const [address, list] of Object.entries(data as Record<string, unknown>)) {
    if (!Array.isArray(list)) return null;
    for (const iv of list as Record<string, unknown>[]) {
      if (!iv || typeof iv.container !== 'string' || typeof iv.from !== 'number' || (iv.to !== undefined && typeof iv.to !== 'number')) return null;
      const holder: Holder = {
        container: iv.container,
        ...(typeof iv.id === 'string' ? { id: iv.id } : {}),
        ...(typeof iv.network === 'string' ? { network: iv.network } : {}),
        ...(typeof iv.composeProject === 'string' ? { composeProject: iv.composeProject } : {}),
      };
      h.begin(address, holder, new Date(iv.from), iv.to !== undefined ? new Date(iv.to as number) : undefined);
    }
  }
  return h;
}

/** Adapts any `(address, ms) → holder` lookup (the daemon's own history class) to AddressHistory. */
export function historyFromLookup(lookup: (address: string, atMs: number) => Holder | null, source: AttributionSource = 'history'): AddressHistory {
  return { attributionSource: source, lookup: (address, at) => lookup(address, at.getTime()) };
}

/** The blocked entry a destination matched, or the host (input path). */
export type EntryRef = { kind: 'blocked'; name: string; cidr: string } | { kind: 'host' };

export const entryText = (e: EntryRef | null): string => (e === null ? '?' : e.kind === 'host' ? 'host' : `${e.cidr} ${e.name}`);

/** A record with its who and what. */
export interface Attributed {
  record: DropRecord;
  /** The container (null: unknown). */
  holder: Holder | null;
  /** Which history named it (`none` when none could). */
  attribution: AttributionSource;
  /** The network the IN= interface belongs to, when the inventory knows the bridge. */
  ifaceNetwork?: string;
  entry: EntryRef | null;
}

export interface AttributorOptions {
  /** Asked in order: e.g. the daemon's history, then Docker's current state. */
  history: AddressHistory | AddressHistory[];
  ruleset: Ruleset;
  /** Bridges → network names (for lines whose source is unknown) and the judged interface patterns. */
  inventory?: Inventory;
}

/** Attributes records. */
export class Attributor {
  readonly histories: AddressHistory[];
  private readonly blocked: BlockedEntry[];
  /** The blocked ranges as numbers, in the order of `blocked`, and the entry each names. */
  private readonly table: RangeTable;
  private readonly refs: EntryRef[];
  private readonly bridges = new Map<string, string>();

  constructor(o: AttributorOptions) {
    this.histories = Array.isArray(o.history) ? o.history : [o.history];
    // Longest prefix first: the most specific entry names the destination.
    this.blocked = [...o.ruleset.blocked].sort((a, b) => b.cidr.prefix - a.cidr.prefix);
    this.table = new RangeTable(this.blocked.map((b) => b.cidr));
    this.refs = this.blocked.map((b) => ({ kind: 'blocked', name: b.name, cidr: shortText(b.cidr) }));
    for (const n of o.inventory?.networks ?? []) if (n.bridge) this.bridges.set(n.bridge, n.name);
  }

  /**
   * The entry a destination matched. The input path (IN= a container bridge, OUT= empty) is `host`:
   * lanfence judges every address of the host there, whatever range it is in. One numeric lookup
   * per line (a scan's many destinations cost no more than one); text the fast readers do not take
   * is compared with ipaddr.js, entry by entry.
   */
  entryFor(dst: string, path: 'forward' | 'input'): EntryRef | null {
    if (path === 'input') return { kind: 'host' };
    let i = this.table.find(dst);
    if (i === undefined) i = this.blocked.findIndex((e) => containsAddress(e.cidr, dst));
    return i < 0 ? null : this.refs[i];
  }

  /** The source of the first history, for headers. */
  get attributionSource(): AttributionSource {
    return this.histories[0]?.attributionSource ?? 'none';
  }

  attribute(record: DropRecord, now: number = Date.now()): Attributed {
    const at = new Date(record.time ?? now);
    let holder: Holder | null = null;
    let attribution: AttributionSource = 'none';
    for (const h of this.histories) {
      holder = h.lookup(record.src, at, record.in);
      if (holder) {
        attribution = h.attributionSource;
        break;
      }
    }
    const ifaceNetwork = this.bridges.get(record.in);
    const entry = this.entryFor(record.dst, record.path);
    // (Two literals rather than a spread: this runs for every line.)
    return ifaceNetwork ? { record, holder, attribution, ifaceNetwork, entry } : { record, holder, attribution, entry };
  }

  /** Replaces a history (the daemon's snapshot, refreshed in follow mode). */
  replaceHistory(index: number, h: AddressHistory): void {
    this.histories[index] = h;
  }
}

/** How to show a container: its name, else its source address. */
export const containerText = (a: Pick<Attributed, 'holder' | 'record'>): string => a.holder?.container ?? `(${a.record.src})`;
