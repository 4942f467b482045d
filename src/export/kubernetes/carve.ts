/**
 * Deny-only engines (Cilium: a deny always wins over an allow) express an exception by carving it out
 * of the deny. For one blocked range and the exceptions of one set of pods this yields the deny rules:
 * an L3 deny of the range except every exception inside it; inside an exception limited to ports, a
 * deny of the other ports (except nested exceptions, recursively). CIDRs nest or are disjoint.
 */
import { containsCidr, overlaps, type Cidr } from '../../ruleset/cidr.js';
import type { PortRange } from '../../ruleset/types.js';
import { unionPorts } from './ports.js';

export interface Hole {
  cidr: Cidr;
  /** null: every port and protocol. */
  ports: PortRange[] | null;
}

export interface DenyRule {
  cidr: Cidr;
  except: Cidr[];
  /** null: deny everything (L3). Otherwise: everything *but* these ports is denied (TCP, UDP, SCTP, ICMP echo). */
  allowed: PortRange[] | null;
}

type Allowed = PortRange[] | 'all';

function allowedAt(c: Cidr, holes: Hole[]): Allowed {
  let ports: PortRange[] = [];
  for (const h of holes) {
    if (!containsCidr(h.cidr, c)) continue;
    if (h.ports === null) return 'all';
    ports = unionPorts(ports, h.ports);
  }
  return ports;
}

/** Holes clipped to the blocked range (a hole wider than the range applies to all of it). */
function clip(blocked: Cidr, holes: Hole[]): Hole[] {
  return holes.filter((h) => overlaps(h.cidr, blocked)).map((h) => ({ cidr: containsCidr(h.cidr, blocked) ? blocked : h.cidr, ports: h.ports }));
}

export function carve(blocked: Cidr, holes: Hole[]): DenyRule[] {
  const clipped = clip(blocked, holes);
  const cidrs = [...new Map(clipped.map((h) => [h.cidr.text, h.cidr])).values()];
  const out: DenyRule[] = [];
  const visit = (c: Cidr) => {
    const allowed = allowedAt(c, clipped);
    if (allowed === 'all') return;
    const inside = cidrs.filter((x) => x.text !== c.text && containsCidr(c, x));
    const children = inside.filter((x) => !inside.some((y) => y.text !== x.text && containsCidr(y, x)));
    out.push({ cidr: c, except: children, allowed: allowed.length ? allowed : null });
    children.forEach(visit);
  };
  visit(blocked);
  return out;
}
