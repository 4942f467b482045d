/** The JSON API handlers behind /api/* (docs/api.md), from the daemon's state. */
import { exceptionText } from '../cli/commands/plan.js';
import { explanationJson } from '../cli/commands/explain.js';
import { explain } from '../explain/index.js';
import { localAddresses } from '../inventory/host-addresses.js';
import { emptyInventory, type Inventory } from '../inventory/types.js';
import { interfaceMatches } from '../policy/interfaces.js';
import { parsePolicy } from '../policy/load.js';
import { resolve, type Resolved } from '../ruleset/resolve.js';
import type { StateStore } from '../state/store.js';
import type { Daemon } from './daemon.js';
import type { DropFeed } from './drops.js';
import { HttpError, type ApiHandler } from './http.js';

export interface WebApiDeps {
  daemon: Daemon;
  store: StateStore;
  drops: DropFeed;
  suggestions?: (resolved: Resolved) => unknown[];
  /** The host's own addresses, for the explain box (default: this machine's; the daemon runs on the host). */
  hostAddresses?: () => string[];
}

const API_VERDICT: Record<string, string> = { dropped: 'drop', rejected: 'drop', logged: 'log', allowed: 'pass', passes: 'pass', 'not-judged': 'not-judged' };

/** `/api/explain`: the same answer as `lanfence explain --json`, plus the short verdict of docs/api.md. */
function explainApi(from: string, to: string, resolved: Resolved, inventory: Inventory, policyFile: string, hostAddresses: string[]): unknown {
  const x = explain(resolved, inventory, { from, to, hostAddresses });
  const full = explanationJson(x, { policy: policyFile, inventory: inventory.source });
  return { ...full, verdict: API_VERDICT[x.verdict], detail: x.verdict, exception: full.exception };
}

const HOUR = 3_600_000;

/** Why a network's traffic is not judged (docs/api.md, `/api/coverage`). Docker's `none` network (driver `null`) has nothing to judge. */
export function uncoveredReason(n: Pick<Inventory['networks'][number], 'driver' | 'bridge'>, patterns: string[]): string {
  if (n.driver === 'null') return 'no network: its containers have only loopback, nothing to filter';
  if (n.driver === 'host') return "host network: its containers share the host's network stack";
  if (n.driver === 'macvlan' || n.driver === 'ipvlan') return `${n.driver} network: traffic bypasses the host's bridge and forward path`;
  if (!n.bridge) return `${n.driver} network without a Linux bridge the rules could judge`;
  return `bridge ${n.bridge} matches none of the judged interfaces (${patterns.join(', ') || 'none'})`;
}

export function webApi(deps: WebApiDeps): Record<string, ApiHandler> {
  const current = () => deps.store.read('current');
  const resolved = (): Resolved | null => {
    const applied = current();
    if (!applied) return null;
    const { ruleset } = parsePolicy(applied.policyText, applied.policyFile);
    return ruleset ? resolve({ ...ruleset, mode: applied.mode }, deps.daemon.inventorySnapshot() ?? emptyInventory()) : null;
  };
  return {
    overview: () => {
      const a = current();
      const s = deps.daemon.state;
      const now = Date.now();
      return {
        backend: a?.backend ?? s.backend,
        mode: a?.mode ?? null,
        appliedAt: a?.appliedAt ?? null,
        policyHash: a?.policyHash ?? null,
        rules: !a ? 'absent' : !s.lastCheck ? 'unknown' : s.lastCheck.matches ? 'ok' : 'drifted',
        differences: s.repairs.at(-1)?.differences ?? [],
        docker: { up: s.docker.up, since: s.docker.since },
        drops: { lastHour: deps.drops.count(now - HOUR), lastDay: deps.drops.count(now - 24 * HOUR) },
        unprotected: resolved()?.unprotected ?? [],
        daemon: { startedAt: s.startedAt, applies: s.applies, setUpdates: s.setUpdates, repairs: s.repairsTotal, failures: s.failures },
      };
    },
    drops: (q) =>
      deps.drops.recent({
        ...(q.get('since') ? { since: Number(q.get('since')) } : {}),
        ...(q.get('container') ? { container: q.get('container')! } : {}),
        limit: Math.min(Number(q.get('limit') ?? 200) || 200, 5000),
      }),
    containers: (_q, name) => {
      const inv = deps.daemon.inventorySnapshot() ?? emptyInventory();
      const bridgeOf = (net: string) => inv.networks.find((n) => n.name === net)?.bridge;
      const view = (c: (typeof inv.containers)[number]) => ({ name: c.name, id: c.id, networks: c.networks.map((a) => ({ ...a, bridge: bridgeOf(a.network) })) });
      if (!name) return inv.containers.map(view);
      const c = inv.containers.find((x) => x.name === name);
      if (!c) throw new HttpError(404, `no container "${name}"`);
      const r = resolved();
      const exceptions = (r?.ruleset.exceptions ?? []).filter((e) => r!.allow.some((el) => el.exception === e.index && c.networks.some((a) => [a.ipv4, a.ipv6].includes(el.src.address) || el.iface === bridgeOf(a.network) || el.src.prefix === 0)));
      const dests = new Map<string, { dst: string; port?: number; proto: string; entry: string; count: number; first: number; last: number }>();
      for (const d of deps.drops.recent({ container: name, limit: 10_000 })) {
        const k = `${d.dst}|${d.dport}|${d.proto}`;
        const e = dests.get(k) ?? { dst: d.dst, port: d.dport, proto: d.proto, entry: d.entry, count: 0, first: d.time, last: d.time };
        e.count++;
        e.first = Math.min(e.first, d.time);
        e.last = Math.max(e.last, d.time);
        dests.set(k, e);
      }
      return { ...view(c), labels: c.labels, exceptions: exceptions.map((e) => ({ index: e.index, text: exceptionText(e).replace(/^allow #\d+: /, ''), origin: e.origin })), series: deps.drops.seriesOf(name), destinations: [...dests.values()].sort((a, b) => b.count - a.count) };
    },
    coverage: () => {
      const inv = deps.daemon.inventorySnapshot() ?? emptyInventory();
      const r = resolved();
      const patterns = r?.interfaces ?? current()?.interfaces ?? [];
      const covered = (bridge?: string) => !!bridge && patterns.some((p) => interfaceMatches(p, bridge));
      const unprotected = new Map((r?.unprotected ?? []).map((u) => [u.container, u.reason]));
      return {
        networks: inv.networks.map((n) => {
          const ok = covered(n.bridge);
          return { name: n.name, driver: n.driver, bridge: n.bridge ?? null, covered: ok, ...(ok ? {} : { reason: uncoveredReason(n, patterns) }), ipv6: n.ipv6, internal: n.internal, subnets: n.subnets };
        }),
        containers: inv.containers.map((c) => ({ name: c.name, networks: c.networks.map((a) => a.network), protected: !unprotected.has(c.name), ...(unprotected.has(c.name) ? { reason: unprotected.get(c.name) } : {}) })),
      };
    },
    policy: () => {
      const a = current();
      if (!a) throw new HttpError(404, 'nothing applied yet');
      return { file: a.policyFile, hash: a.policyHash, text: a.policyText, backend: a.backend, rendered: a.rendered.text };
    },
    suggestions: () => {
      const r = resolved();
      return r && deps.suggestions ? deps.suggestions(r) : [];
    },
    explain: (q) => {
      const from = q.get('from');
      const to = q.get('to');
      if (!from || !to) throw new HttpError(400, 'from and to are required');
      const r = resolved();
      if (!r) throw new HttpError(404, 'nothing applied yet');
      try {
        return explainApi(from, to, r, deps.daemon.inventorySnapshot() ?? emptyInventory(), current()!.policyFile, (deps.hostAddresses ?? localAddresses)());
      } catch (e) {
        throw new HttpError(400, (e as Error).message);
      }
    },
  };
}
