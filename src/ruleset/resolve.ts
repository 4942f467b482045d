/**
 * Ruleset + Inventory → Resolved: the concrete match tuples every backend renders and the evaluator
 * judges. Scoped exceptions become interface names (network scope) or source addresses (container
 * and label scope). A scope that matches nothing grants nothing — it never widens access.
 */
import { interfaceMatches } from '../policy/interfaces.js';
import { ALLOW_LABEL, labelExceptions } from '../policy/labels.js';
import type { Inventory, InventoryContainer } from '../inventory/types.js';
import { anyCidr, cidrOf, parseAddress, type Cidr, type Family } from './cidr.js';
import type { PortRange, Ruleset } from './types.js';

/** `*` as an interface means: any container interface. */
export const ANY_IFACE = '*';

export interface AllowElement {
  /** The exception this element comes from (`allow #N`). */
  exception: number;
  family: Family;
  /** Interface name, or ANY_IFACE. */
  iface: string;
  /** Source addresses (0.0.0.0/0 or ::/0 for every container). */
  src: Cidr;
  /** Destination; null means any address of the host (input path only). */
  dst: Cidr | null;
  ports: PortRange[] | null;
}

export interface Unprotected {
  container: string;
  reason: string;
}

export interface Resolved {
  ruleset: Ruleset;
  /** Container interface patterns judged (policy patterns, plus Docker's bridges when `auto`). */
  interfaces: string[];
  allow: AllowElement[];
  unprotected: Unprotected[];
  /** Notes about scopes that match nothing, networks without a bridge, ... */
  notes: string[];
}

const UNFILTERABLE_DRIVERS: Record<string, string> = {
  macvlan: 'macvlan network: traffic bypasses the host\'s bridge and forward path',
  ipvlan: 'ipvlan network: traffic bypasses the host\'s bridge and forward path',
  host: 'host network: the container shares the host\'s network stack',
};

export function resolve(policyRuleset: Ruleset, inventory: Inventory): Resolved {
  const notes: string[] = [];
  // Container labels add exceptions scoped to their container (never wider).
  const labelled = labelExceptions(inventory.containers, policyRuleset.exceptions.length + 1);
  for (const p of labelled.problems) notes.push(`container ${p.container}: ${ALLOW_LABEL}: ${p.message}`);
  const ruleset = labelled.exceptions.length ? { ...policyRuleset, exceptions: [...policyRuleset.exceptions, ...labelled.exceptions] } : policyRuleset;
  const interfaces = [...ruleset.interfaces.patterns];
  if (ruleset.interfaces.auto) {
    const bridges = inventory.networks.filter((n) => n.driver === 'bridge' && n.bridge).map((n) => n.bridge!);
    for (const b of [...new Set(bridges)].sort()) if (!interfaces.some((p) => interfaceMatches(p, b))) interfaces.push(b);
  }
  const covered = (iface: string) => interfaces.some((p) => interfaceMatches(p, iface));

  const allow: AllowElement[] = [];
  for (const ex of ruleset.exceptions) {
    const label = `allow #${ex.index}`;
    const dstFamilies: Family[] = ex.to.kind === 'cidr' ? [ex.to.cidr.family] : [4, 6];
    const dstFor = (f: Family): Cidr | null => (ex.to.kind === 'cidr' ? ex.to.cidr : null);
    const push = (iface: string, src: Cidr) => {
      for (const f of dstFamilies) if (f === src.family) allow.push({ exception: ex.index, family: f, iface, src, dst: dstFor(f), ports: ex.ports });
    };
    const from = ex.from;
    switch (from.kind) {
      case 'any':
        for (const f of dstFamilies) push(ANY_IFACE, anyCidr(f));
        break;
      case 'network': {
        const net = inventory.networks.find((n) => n.name === from.network || n.id === from.network);
        if (!net) notes.push(`${label}: network "${from.network}" is not in the inventory (${inventory.source}): it grants nothing until it exists`);
        else if (net.driver !== 'bridge' || !net.bridge) notes.push(`${label}: network "${net.name}" (${net.driver}) has no bridge interface lanfence can filter: it grants nothing`);
        else {
          if (!covered(net.bridge)) notes.push(`${label}: bridge ${net.bridge} of network "${net.name}" is not a judged container interface: the exception is moot`);
          for (const f of dstFamilies) push(net.bridge, anyCidr(f));
        }
        break;
      }
      case 'container':
      case 'label': {
        const matches = inventory.containers.filter((c) =>
          from.kind === 'container' ? c.name === from.container || c.id === from.container || (c.id && from.container.length >= 12 && c.id.startsWith(from.container)) : c.labels[from.key] === from.value,
        );
        const what = from.kind === 'container' ? `container "${from.container}"` : `label ${from.key}=${from.value}`;
        if (matches.length === 0) notes.push(`${label}: no ${from.kind === 'container' ? '' : 'container with '}${what} in the inventory (${inventory.source}): it grants nothing until one runs`);
        for (const c of matches) for (const src of containerSources(c)) push(ANY_IFACE, src);
        break;
      }
    }
  }
  return { ruleset, interfaces, allow: dedupe(allow), unprotected: unprotectedContainers(inventory), notes };
}

function containerSources(c: InventoryContainer): Cidr[] {
  const out: Cidr[] = [];
  for (const a of c.networks) {
    for (const ip of [a.ipv4, a.ipv6]) {
      const p = ip ? parseAddress(ip) : null;
      if (p) out.push(cidrOf(p.address));
    }
  }
  return out;
}

function unprotectedContainers(inv: Inventory): Unprotected[] {
  const out: Unprotected[] = [];
  for (const c of inv.containers) {
    if (c.networkMode === 'host') {
      out.push({ container: c.name, reason: UNFILTERABLE_DRIVERS.host });
      continue;
    }
    for (const a of c.networks) {
      const net = inv.networks.find((n) => n.name === a.network);
      const reason = net && UNFILTERABLE_DRIVERS[net.driver];
      if (reason) out.push({ container: c.name, reason: `${reason} (${net.name})` });
    }
  }
  return out;
}

function dedupe(list: AllowElement[]): AllowElement[] {
  const seen = new Set<string>();
  return list.filter((e) => {
    const k = JSON.stringify([e.family, e.iface, e.src.text, e.dst?.text ?? null, e.ports]);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
