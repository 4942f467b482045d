/**
 * nftables refuses overlapping elements in an interval set ("conflicting intervals", "File exists"),
 * yet exceptions may overlap (10.0.0.0/8 for everyone and 10.1.0.0/16 tcp/22 for one container).
 * Elements that another element covers are dropped (both only accept); the rest are spread over as
 * few sets ("layers") as keep each set free of overlaps — usually one. Cost per packet stays flat.
 */
import { rangeOf, type Cidr, type NumericRange } from '../../ruleset/cidr.js';
import type { PortRange } from '../../ruleset/types.js';

export interface Box {
  iface?: string;
  src?: Cidr;
  dst?: Cidr;
  port?: PortRange;
}

export interface Item {
  text: string;
  box: Box;
}

type Range = NumericRange;

const dimOverlaps = (a?: Cidr, b?: Cidr) => {
  if (!a || !b) return true;
  if (a.family !== b.family) return false;
  const x = rangeOf(a);
  const y = rangeOf(b);
  return x.lo <= y.hi && y.lo <= x.hi;
};
const dimCovers = (a?: Cidr, b?: Cidr) => {
  if (!a || !b) return !a;
  if (a.family !== b.family) return false;
  const x = rangeOf(a);
  const y = rangeOf(b);
  return x.lo <= y.lo && y.hi <= x.hi;
};

export function boxesOverlap(a: Box, b: Box): boolean {
  if (a.iface !== b.iface) return false;
  if (a.port && b.port && (a.port.proto !== b.port.proto || a.port.from > b.port.to || b.port.from > a.port.to)) return false;
  return dimOverlaps(a.src, b.src) && dimOverlaps(a.dst, b.dst);
}

export function boxCovers(a: Box, b: Box): boolean {
  if (a.iface !== b.iface) return false;
  if (a.port && (!b.port || a.port.proto !== b.port.proto || a.port.from > b.port.from || a.port.to < b.port.to)) return false;
  return dimCovers(a.src, b.src) && dimCovers(a.dst, b.dst);
}

/** The sweep dimension: destination when the set has one, else the source. */
const primary = (b: Box): Range => (b.dst ? rangeOf(b.dst) : b.src ? rangeOf(b.src) : { lo: 0n, hi: 0n });

/** Splits items into overlap-free layers; covered items are dropped. Deterministic. */
export function layers(items: Item[]): Item[][] {
  const sorted = items
    .map((item, i) => ({ item, i, r: primary(item.box) }))
    .sort((a, b) => (a.r.lo < b.r.lo ? -1 : a.r.lo > b.r.lo ? 1 : a.r.hi > b.r.hi ? -1 : a.r.hi < b.r.hi ? 1 : a.i - b.i));
  const out: Item[][] = [];
  // Per layer, the items whose primary range may still overlap what comes next in the sweep.
  const active: { item: Item; r: Range }[][] = [];
  const kept: { item: Item; r: Range }[] = [];
  const order = new Map<Item, number>();
  for (const cur of sorted) {
    // Covered by an earlier (wider or equal) item that is still in range?
    const reach = kept.filter((k) => k.r.hi >= cur.r.lo);
    if (reach.some((k) => boxCovers(k.item.box, cur.item.box))) continue;
    kept.push(cur);
    if (kept.length > 64) kept.splice(0, kept.length - 64); // bounded look-back for covers
    let placed = false;
    for (let l = 0; l < out.length && !placed; l++) {
      active[l] = active[l].filter((a) => a.r.hi >= cur.r.lo);
      if (active[l].some((a) => boxesOverlap(a.item.box, cur.item.box))) continue;
      out[l].push(cur.item);
      active[l].push(cur);
      order.set(cur.item, cur.i);
      placed = true;
    }
    if (!placed) {
      out.push([cur.item]);
      active.push([cur]);
      order.set(cur.item, cur.i);
    }
  }
  // Within a layer, the order the policy gave.
  return out.map((layer) => layer.sort((a, b) => order.get(a)! - order.get(b)!));
}
