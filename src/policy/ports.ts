/** `5432/tcp`, `8000-8100/udp` → port ranges. */
import type { PortRange, Proto } from '../ruleset/types.js';

const PROTOS: readonly Proto[] = ['tcp', 'udp'];

export type PortParse = { ok: true; range: PortRange } | { ok: false; message: string };

export function parsePortSpec(spec: string): PortParse {
  const m = /^\s*(\d+)(?:\s*-\s*(\d+))?\s*(?:\/\s*([A-Za-z0-9]*)\s*)?$/.exec(spec);
  if (!m) return { ok: false, message: `"${spec}" is not PORT/PROTO or FROM-TO/PROTO (e.g. 5432/tcp, 8000-8100/tcp)` };
  const [, a, b, proto] = m;
  if (proto === undefined || proto === '')
    return { ok: false, message: `"${spec}" has no protocol: write ${spec.trim()}/tcp or ${spec.trim()}/udp` };
  const p = proto.toLowerCase();
  if (!PROTOS.includes(p as Proto)) return { ok: false, message: `unknown protocol "${proto}" in "${spec}" (expected tcp or udp)` };
  const from = Number(a);
  const to = b === undefined ? from : Number(b);
  for (const n of [from, to]) {
    if (n < 1 || n > 65535) return { ok: false, message: `port ${n} in "${spec}" is out of range (1-65535)` };
  }
  if (from > to) return { ok: false, message: `range start ${from} is greater than its end ${to} in "${spec}"` };
  return { ok: true, range: { proto: p as Proto, from, to } };
}

/** Sorts by protocol and start, merges overlapping and adjacent ranges. */
export function mergePortRanges(ranges: PortRange[]): PortRange[] {
  const sorted = [...ranges].sort((x, y) => (x.proto === y.proto ? x.from - y.from : x.proto < y.proto ? -1 : 1));
  const out: PortRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && last.proto === r.proto && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
    else out.push({ ...r });
  }
  return out;
}

export const portText = (r: PortRange): string => `${r.from === r.to ? r.from : `${r.from}-${r.to}`}/${r.proto}`;

/** True when `outer` (null = all) allows every port of `inner` (null = all). */
export function portsCover(outer: PortRange[] | null, inner: PortRange[] | null): boolean {
  if (outer === null) return true;
  if (inner === null) return false;
  return inner.every((r) => outer.some((o) => o.proto === r.proto && o.from <= r.from && o.to >= r.to));
}
