/** Port sets: grouping by protocol and complements (for flavors that can only deny). */
import type { PortRange, Proto } from '../../ruleset/types.js';

export const PROTOS: readonly Proto[] = ['tcp', 'udp'];
export const MAX_PORT = 65535;

export const byProto = (ports: PortRange[], proto: Proto): PortRange[] => ports.filter((p) => p.proto === proto).sort((a, b) => a.from - b.from);

/** Union of port ranges, merged and sorted per protocol. */
export function unionPorts(a: PortRange[], b: PortRange[]): PortRange[] {
  const out: PortRange[] = [];
  for (const proto of PROTOS) {
    const list = [...byProto(a, proto), ...byProto(b, proto)].sort((x, y) => x.from - y.from);
    for (const r of list) {
      const last = out.length && out[out.length - 1].proto === proto ? out[out.length - 1] : null;
      if (last && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
      else out.push({ ...r });
    }
  }
  return out;
}

/** The ranges of 1–65535 not in `ports` for one protocol. */
export function complement(ports: PortRange[], proto: Proto): PortRange[] {
  const out: PortRange[] = [];
  let next = 1;
  for (const r of unionPorts(byProto(ports, proto), [])) {
    if (r.from > next) out.push({ proto, from: next, to: r.from - 1 });
    next = Math.max(next, r.to + 1);
  }
  if (next <= MAX_PORT) out.push({ proto, from: next, to: MAX_PORT });
  return out;
}


export const portLabel = (r: PortRange): string => `${r.from === r.to ? r.from : `${r.from}-${r.to}`}/${r.proto}`;
