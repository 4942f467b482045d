/**
 * The daemon's recent drops: a bounded ring of attributed drop records, per-container 5-minute
 * series, and subscribers (the dashboard's live stream). Memory stays bounded under floods.
 */
export interface AttributedDrop {
  /** ms since the epoch */
  time: number;
  container: string | null;
  containerId?: string;
  network?: string;
  project?: string;
  src: string;
  dst: string;
  proto: string;
  dport?: number;
  /** The blocked entry's name, or `host`. */
  entry: string;
  path: 'forward' | 'input';
  mode: 'enforce' | 'audit';
}

export const MAX_RECENT = 10_000;
export const BUCKET_MS = 5 * 60_000;
export const SERIES_BUCKETS = 288; // 24 h
export const MAX_SERIES_CONTAINERS = 500;

export class DropFeed {
  private readonly ring: AttributedDrop[] = [];
  private next = 0;
  private readonly listeners = new Set<(d: AttributedDrop) => void>();
  private readonly series = new Map<string, Map<number, number>>();

  push(d: AttributedDrop): void {
    if (this.ring.length < MAX_RECENT) this.ring.push(d);
    else this.ring[this.next] = d;
    this.next = (this.next + 1) % MAX_RECENT;
    const name = d.container ?? '(unknown)';
    let s = this.series.get(name);
    if (!s) {
      if (this.series.size >= MAX_SERIES_CONTAINERS) return this.emit(d);
      s = new Map();
      this.series.set(name, s);
    }
    const bucket = Math.floor(d.time / BUCKET_MS) * BUCKET_MS;
    s.set(bucket, (s.get(bucket) ?? 0) + 1);
    for (const b of s.keys()) if (b < bucket - SERIES_BUCKETS * BUCKET_MS) s.delete(b);
    this.emit(d);
  }

  private emit(d: AttributedDrop): void {
    for (const l of this.listeners) l(d);
  }

  subscribe(listener: (d: AttributedDrop) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Newest first. */
  recent(filter: { since?: number; container?: string; limit?: number } = {}): AttributedDrop[] {
    const ordered = this.ring.length < MAX_RECENT ? [...this.ring] : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
    const out: AttributedDrop[] = [];
    for (let i = ordered.length - 1; i >= 0 && out.length < (filter.limit ?? 500); i--) {
      const d = ordered[i];
      if (filter.since !== undefined && d.time < filter.since) break;
      if (filter.container && d.container !== filter.container) continue;
      out.push(d);
    }
    return out;
  }

  count(sinceMs: number): number {
    let n = 0;
    for (const s of this.series.values()) for (const [b, c] of s) if (b + BUCKET_MS > sinceMs) n += c;
    return n;
  }

  seriesOf(container: string, now = Date.now()): { t: number; count: number }[] {
    const s = this.series.get(container) ?? new Map<number, number>();
    const end = Math.floor(now / BUCKET_MS) * BUCKET_MS;
    return Array.from({ length: SERIES_BUCKETS }, (_, i) => {
      const t = end - (SERIES_BUCKETS - 1 - i) * BUCKET_MS;
      return { t, count: s.get(t) ?? 0 };
    });
  }
}
