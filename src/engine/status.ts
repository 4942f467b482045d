/** `status`: is protection in place as applied, and what does it not cover? */
import { getBackend } from '../backends/index.js';
import type { LiveStatus } from '../backends/types.js';
import type { Runner } from '../exec.js';
import type { Inventory, InventoryContainer } from '../inventory/types.js';
import { interfaceMatches } from '../policy/interfaces.js';
import { parsePolicy } from '../policy/load.js';
import { parseAddress } from '../ruleset/cidr.js';
import { evaluate } from '../ruleset/evaluate.js';
import { resolve, type Resolved, type Unprotected } from '../ruleset/resolve.js';
import type { AppliedState, StateStore } from '../state/store.js';

export type ProtectionState = 'in-place' | 'drifted' | 'absent' | 'not-applied';

export interface NetworkCoverage {
  name: string;
  driver: string;
  bridge?: string;
  covered: boolean;
  ipv6: boolean;
  subnets: string[];
  internal: boolean;
}

export interface DnsIssue {
  container: string;
  server: string;
  reason: string;
  /** The exception that would allow it, as policy YAML. */
  suggestion: string;
}

export interface StatusReport {
  state: ProtectionState;
  applied: Omit<AppliedState, 'rendered' | 'policyText'> | null;
  live: LiveStatus | null;
  inventory: { source: string; note?: string };
  networks: NetworkCoverage[];
  unprotected: Unprotected[];
  dns: DnsIssue[];
  /** The running daemon's own state, when one answers on its socket. */
  daemon?: unknown;
}

export async function collectStatus(store: StateStore, run: Runner, inventory: Inventory, note?: string): Promise<StatusReport> {
  const applied = store.read('current');
  let live: LiveStatus | null = null;
  let state: ProtectionState = 'not-applied';
  if (applied) {
    live = await getBackend(applied.backend).inspect(applied.rendered, run);
    state = live.matches ? 'in-place' : live.present ? 'drifted' : 'absent';
  }
  const resolved = applied ? resolvedOf(applied, inventory) : null;
  const interfaces = resolved?.interfaces ?? applied?.interfaces ?? [];
  const networks = inventory.networks.map((n) => ({
    name: n.name,
    driver: n.driver,
    ...(n.bridge ? { bridge: n.bridge } : {}),
    covered: !!n.bridge && interfaces.some((p) => interfaceMatches(p, n.bridge!)),
    ipv6: n.ipv6,
    subnets: n.subnets,
    internal: n.internal,
  }));
  const summary = applied ? (({ rendered: _r, policyText: _t, ...rest }) => rest)(applied) : null;
  return {
    state,
    applied: summary,
    live,
    inventory: { source: inventory.source, ...(note ? { note } : {}) },
    networks,
    unprotected: resolved?.unprotected ?? resolve(parsePolicy('', 'default').ruleset!, inventory).unprotected,
    dns: resolved ? dnsIssues(resolved, inventory) : [],
  };
}

function resolvedOf(applied: AppliedState, inventory: Inventory): Resolved | null {
  const { ruleset } = parsePolicy(applied.policyText, applied.policyFile);
  return ruleset ? resolve({ ...ruleset, mode: applied.mode }, inventory) : null;
}

/** Containers whose DNS servers lanfence blocks (Docker's embedded 127.0.0.11 never leaves the container). */
export function dnsIssues(resolved: Resolved, inventory: Inventory): DnsIssue[] {
  const out: DnsIssue[] = [];
  const gateways = new Set(inventory.networks.flatMap((n) => n.gateways));
  for (const c of inventory.containers) {
    for (const server of c.dns ?? []) {
      const addr = parseAddress(server);
      if (!addr || server.startsWith('127.0.0.11')) continue;
      const from = sourceFor(c, inventory, addr.family);
      if (!from) continue;
      const v = evaluate(resolved, { iif: from.iif, src: from.ip, dst: addr.address, proto: 'udp', dport: 53, path: gateways.has(addr.address) ? 'input' : 'forward', oif: 'uplink' });
      if (v.verdict !== 'drop') continue;
      out.push({
        container: c.name,
        server,
        reason: v.reason,
        suggestion: `- to: ${gateways.has(addr.address) ? 'host' : addr.address}\n  ports: [53/udp, 53/tcp]\n  from: { container: ${c.name} }\n  comment: DNS for ${c.name}`,
      });
    }
  }
  return out;
}

function sourceFor(c: InventoryContainer, inv: Inventory, family: 4 | 6): { iif: string; ip: string } | null {
  for (const a of c.networks) {
    const ip = family === 4 ? a.ipv4 : a.ipv6;
    const bridge = inv.networks.find((n) => n.name === a.network)?.bridge;
    if (ip && bridge) return { iif: bridge, ip };
  }
  return null;
}
