/**
 * Reaction: the daemon (src/daemon/daemon.ts) with a scripted Docker and a real nft in a namespace
 * made here, as test/kernel/daemon.test.ts drives it, with the CLI's defaults (debounce 100 ms, the
 * policy re-read from its file on every reconcile as `lanfence daemon` does).
 *
 * - container start → its `lanfence.allow` label exception live in the kernel;
 * - drift (`nft delete table inet lanfence`) → the table back.
 *
 * The kernel is watched with `nft monitor` in the namespace: every committed ruleset generation is
 * announced, and each announcement (and a 50 ms poll, in case one is missed) triggers a query of the
 * kernel; the time of the generation that made the query succeed is the moment it went live.
 */
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon } from '../../src/daemon/daemon.js';
import { inNetns } from '../../src/exec.js';
import type { Inventory } from '../../src/inventory/types.js';
import { parsePolicy, type LoadedPolicy } from '../../src/policy/load.js';
import { StateStore } from '../../src/state/store.js';
import { percentile, round } from '../lib/stats.js';
import { createNs, deleteNs, sh, sleep, startChild, stopChild } from '../lib/sys.js';
import { benchContainer, benchNetworks, policyYaml } from '../lib/workload.js';

export interface ReactionConfig {
  name: string;
  containers: number;
  policyExceptions: number;
  samples: number;
}

export interface ReactionOptions {
  configs: ReactionConfig[];
  driftSamples: number;
  /** Drift check period of the drift measurement (the CLI's default is 5 s). */
  driftIntervalMs: number;
  log: (m: string) => void;
}

export interface Percentiles {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Where the time of one reaction goes: median ms per step across samples (total per sample). */
export type Breakdown = Record<string, number>;

export interface ReactionResult {
  start: { config: ReactionConfig; ms: Percentiles; kinds: Record<string, number>; breakdown: Breakdown; raw: number[] }[];
  drift: { intervalMs: number; repairedMs: Percentiles; repairDurationMs: Percentiles; raw: number[] } | null;
}

const pct = (xs: number[]): Percentiles => ({ n: xs.length, p50: round(percentile(xs, 50), 1), p90: round(percentile(xs, 90), 1), p99: round(percentile(xs, 99), 1), max: round(Math.max(...xs), 1) });

/** Watches ruleset generations in `ns`; `until(check)` resolves with the time the kernel first satisfied it. */
function kernelWatch(ns: string) {
  const mon = startChild('ip', ['netns', 'exec', ns, 'stdbuf', '-oL', 'nft', 'monitor']);
  const generations: number[] = [];
  const listeners = new Set<() => void>();
  let buf = '';
  mon.stdout?.on('data', (d: Buffer) => {
    const now = performance.now();
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const l of lines) if (l.startsWith('# new generation')) generations.push(now);
    if (lines.some((l) => l.startsWith('# new generation'))) for (const f of listeners) f();
  });
  return {
    /** Resolves with the time of the generation (or poll) at which `check` first held, after `since`. */
    async until(since: number, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<number> {
      return new Promise<number>((resolve, reject) => {
        let busy = false;
        let settled = false;
        const attempt = async () => {
          if (busy || settled) return;
          busy = true;
          const gensBefore = generations.filter((g) => g >= since);
          const polledAt = performance.now();
          const ok = await check();
          busy = false;
          if (!ok || settled) return;
          settled = true;
          cleanup();
          // The generation that made it true is the last one announced before the successful query.
          resolve(gensBefore.length ? gensBefore[gensBefore.length - 1] : polledAt);
        };
        const poll = setInterval(() => void attempt(), 50);
        const timer = setTimeout(() => {
          settled = true;
          cleanup();
          reject(new Error(`timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        const cleanup = () => {
          clearInterval(poll);
          clearTimeout(timer);
          listeners.delete(onGen);
        };
        const onGen = () => void attempt();
        listeners.add(onGen);
        void attempt();
      });
    },
    stop: () => stopChild(mon),
  };
}

/** A label for a command the daemon runs, by what it is for. */
function stepOf(cmd: string, args: string[]): string {
  const a = args.join(' ');
  if (cmd === 'unshare') return 'inspect: expected rules loaded in a scratch namespace (unshare + nft)';
  if (cmd !== 'nft') return cmd;
  if (a.startsWith('-c ')) return 'check: nft -c';
  if (a === '-f -') return 'apply: nft -f (set update or table)';
  if (/list table/.test(a)) return 'inspect: nft list table (text and JSON)';
  if (a.startsWith('-j list set ')) return 'read back: nft -j list set (after the update)';
  if (/list chain/.test(a)) return 'inspect: nft list chain block (counters)';
  if (a === 'list tables') return 'backend available: nft list tables';
  return `nft ${args.slice(0, 2).join(' ')}`;
}

interface Harness {
  daemon: Daemon;
  /** Steps timed since the last reset: label → total ms. */
  steps: Map<string, number>;
  docker: { inventory: Inventory; emit: (what: string) => void };
  ns: string;
  dir: string;
  logs: string[];
  stop(): Promise<void>;
}

async function startDaemon(config: ReactionConfig, checkIntervalMs: number): Promise<Harness> {
  const ns = await createNs('react');
  const dir = mkdtempSync(join(tmpdir(), 'lanfence-bench-react-'));
  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, policyYaml(config.policyExceptions, Math.max(1, config.containers)));
  const logs: string[] = [];
  const docker = {
    inventory: { source: 'docker', networks: benchNetworks(), containers: Array.from({ length: config.containers }, (_, i) => benchContainer(i)) } as Inventory,
    emit: (_what: string) => undefined as void,
  };
  // As the CLI: the policy file is read and validated on every reconcile.
  const steps = new Map<string, number>();
  const add = (label: string, ms: number) => steps.set(label, (steps.get(label) ?? 0) + ms);
  const loadPolicy = (): LoadedPolicy => {
    const t0 = performance.now();
    const text = readFileSync(policyFile, 'utf8');
    const parsed = parsePolicy(text, policyFile);
    add('policy: read and validate the file', performance.now() - t0);
    if (!parsed.ruleset) throw new Error('bench policy invalid');
    return { ruleset: parsed.ruleset, diagnostics: parsed.diagnostics, file: policyFile, text };
  };
  const daemon = new Daemon({
    loadPolicy,
    inventory: async () => structuredClone(docker.inventory),
    subscribe: async (onEvent) => {
      docker.emit = onEvent;
      return () => undefined;
    },
    run: async (cmd, args, opts) => {
      const t0 = performance.now();
      try {
        return await inNetns(ns)(cmd, args, opts);
      } finally {
        add(stepOf(cmd, args), performance.now() - t0);
      }
    },
    store: new StateStore(join(dir, 'state')),
    backend: 'nftables',
    version: 'bench',
    checkIntervalMs,
    log: (m) => logs.push(`${new Date().toISOString()} ${m}`),
  });
  await daemon.start();
  return {
    daemon,
    steps,
    docker,
    ns,
    dir,
    logs,
    stop: async () => {
      await daemon.stop();
      await deleteNs(ns);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const nftOk = async (ns: string, args: string[]) => (await sh('ip', ['netns', 'exec', ns, 'nft', ...args])).code === 0;

async function startReaction(config: ReactionConfig, log: (m: string) => void): Promise<ReactionResult['start'][number]> {
  const h = await startDaemon(config, 5000);
  const watch = kernelWatch(h.ns);
  const raw: number[] = [];
  const kinds: Record<string, number> = {};
  const perSample: Map<string, number>[] = [];
  try {
    // Wait for the first reconcile with the inventory, then settle.
    const t0 = performance.now();
    while ((h.daemon.inventorySnapshot()?.containers.length ?? -1) !== config.containers && performance.now() - t0 < 120_000) await sleep(50);
    await sleep(1000);
    for (let s = 0; s < config.samples; s++) {
      const i = config.containers + s;
      const c = benchContainer(i);
      const ip = c.networks[0].ipv4!;
      const dst = `192.168.${200 + (s >> 8)}.${(s & 255) || 1}`;
      c.labels['lanfence.allow'] = `${dst}:5432/tcp`;
      h.docker.inventory.containers.push(c);
      h.steps.clear();
      const since = performance.now();
      h.docker.emit(`container start ${c.name}`);
      const live = await watch.until(since, () => nftOk(h.ns, ['get', 'element', 'inet', 'lanfence', 'allow4_ports', `{ ${ip} . ${dst} . tcp . 5432 }`]));
      raw.push(live - since);
      perSample.push(new Map(h.steps));
      const kind = h.daemon.state.lastApply?.kind ?? '?';
      kinds[kind] = (kinds[kind] ?? 0) + 1;
      // The next start comes 100–400 ms later, at a varying phase of the periodic drift check.
      await sleep(100 + ((s * 137) % 300));
    }
  } finally {
    await watch.stop();
    await h.stop();
  }
  const ms = pct(raw);
  const labels = [...new Set(perSample.flatMap((m) => [...m.keys()]))];
  const breakdown: Breakdown = Object.fromEntries(labels.map((l) => [l, round(percentile(perSample.map((m) => m.get(l) ?? 0), 50), 1)]));
  log(`reaction: ${config.name}: start → label exception live p50 ${ms.p50} ms, p99 ${ms.p99} ms (n=${ms.n})`);
  return { config, ms, kinds, breakdown, raw: raw.map((x) => round(x, 1)) };
}

async function driftReaction(samples: number, intervalMs: number, log: (m: string) => void): Promise<NonNullable<ReactionResult['drift']>> {
  const h = await startDaemon({ name: 'drift', containers: 20, policyExceptions: 10, samples }, intervalMs);
  const watch = kernelWatch(h.ns);
  const raw: number[] = [];
  try {
    await sleep(500);
    for (let s = 0; s < samples; s++) {
      // Sabotage at a varying phase of the check period.
      await sleep(200 + ((s * 389) % intervalMs));
      const before = h.daemon.state.repairsTotal;
      const since = performance.now();
      await sh('ip', ['netns', 'exec', h.ns, 'nft', 'delete', 'table', 'inet', 'lanfence']);
      const back = await watch.until(since + 1, async () => (await nftOk(h.ns, ['list', 'set', 'inet', 'lanfence', 'blocked4'])) && h.daemon.state.repairsTotal > before, intervalMs * 3 + 10_000);
      raw.push(back - since);
    }
  } finally {
    await watch.stop();
    await h.stop();
  }
  const durations = h.daemon.state.repairs.slice(-samples).map((r) => r.durationMs);
  const result = { intervalMs, repairedMs: pct(raw), repairDurationMs: pct(durations), raw: raw.map((x) => round(x, 1)) };
  log(`reaction: drift → repaired p50 ${result.repairedMs.p50} ms, p99 ${result.repairedMs.p99} ms (check every ${intervalMs} ms; the repair itself p50 ${result.repairDurationMs.p50} ms)`);
  return result;
}

export async function reaction(o: ReactionOptions): Promise<ReactionResult> {
  const start: ReactionResult['start'] = [];
  for (const c of o.configs) start.push(await startReaction(c, o.log));
  const drift = o.driftSamples > 0 ? await driftReaction(o.driftSamples, o.driftIntervalMs, o.log) : null;
  return { start, drift };
}
