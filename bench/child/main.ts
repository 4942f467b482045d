/**
 * Runs in a child process of the benchmark, bundled to one JavaScript file (bench/lib/bundle.ts) and
 * run with plain `node`, as the installed product runs: no TypeScript loader in the measured process.
 *
 *   node bench-child.mjs logs '{"lines":1000000,"reps":3}'   parser, attribution, aggregation throughput
 *   node bench-child.mjs daemon '{"containers":1000,...}'    the daemon, for the parent to read its RSS
 *
 * It writes one JSON object per line on stdout; in `daemon` mode it waits for a line on stdin
 * between phases, so the parent can sample /proc/<pid>/status at each.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveApi } from '../../src/daemon/api.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { DropFeed } from '../../src/daemon/drops.js';
import { createHttpServer, listen } from '../../src/daemon/http.js';
import { Metrics } from '../../src/daemon/metrics.js';
import { runCommand } from '../../src/exec.js';
import type { Inventory } from '../../src/inventory/types.js';
import { DropLog } from '../../src/daemon/drop-log.js';
import { Aggregator } from '../../src/logs/aggregate.js';
import { Attributor, CurrentStateHistory } from '../../src/logs/attribute.js';
import { LogParser } from '../../src/logs/parse.js';
import type { LogSource } from '../../src/logs/sources.js';
import { parsePolicy, type LoadedPolicy } from '../../src/policy/load.js';
import { StateStore } from '../../src/state/store.js';
import { logCorpus, taggedLogCorpus } from '../lib/logcorpus.js';
import { benchInventory, benchNetworks } from '../lib/workload.js';

const MiB = (b: number) => Math.round((b / 1048576) * 10) / 10;
const memory = () => {
  const m = process.memoryUsage();
  return { heapUsedMiB: MiB(m.heapUsed), heapTotalMiB: MiB(m.heapTotal), externalMiB: MiB(m.external), arrayBuffersMiB: MiB(m.arrayBuffers) };
};
const emit = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify('phase' in o ? { ...o, memory: memory() } : o)}\n`);
const lines = createInterface({ input: process.stdin });
const queue: string[] = [];
const waiters: ((l: string) => void)[] = [];
lines.on('line', (l) => (waiters.length ? waiters.shift()!(l) : queue.push(l)));
const nextLine = (): Promise<string> => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r)));

const DEFAULT_POLICY = 'mode: enforce\n';
const loaded = (): LoadedPolicy => {
  const p = parsePolicy(DEFAULT_POLICY, 'policy.yaml');
  return { ruleset: p.ruleset!, diagnostics: p.diagnostics, file: 'policy.yaml', text: DEFAULT_POLICY };
};

interface LogsConfig {
  lines: number;
  reps: number;
  corpus: number;
}

/**
 * The parser alone, per kind of line: where its time goes. Run right after the parse stage, before
 * attribution and aggregation fill the heap (their state made these short runs slower than the mix),
 * in a function of its own so that its second corpus can be collected afterwards.
 */
function parserByKind(c: LogsConfig, inventory: Inventory): void {
  const tagged = taggedLogCorpus(c.corpus, inventory);
  for (const kind of [...new Set(tagged.map((t) => t.kind))]) {
    const lines = tagged.filter((t) => t.kind === kind).map((t) => t.line);
    // Runs of half a stage's lines: at a fifth (60,000 lines, ~0.1 s) one major GC could halve a run.
    const n = Math.max(20_000, Math.round(c.lines / 2));
    // Median of `reps` runs (one short run is at the mercy of a GC or a neighbour on a shared machine).
    const walls: number[] = [];
    const cpus: number[] = [];
    for (let rep = 0; rep < c.reps; rep++) {
      const parser = new LogParser({ bootTimeMs: 1_795_915_440_000 });
      for (let i = 0; i < 50_000; i++) parser.parseLine(lines[i % lines.length]);
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) parser.parseLine(lines[i % lines.length]);
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = process.cpuUsage(c0);
      walls.push(n / wall);
      cpus.push(n / ((cpu.user + cpu.system) / 1e6));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    emit({ kind: 'by-kind', name: kind, share: lines.length / tagged.length, lines: n, reps: c.reps, linesPerSecond: Math.round(median(walls)), cpuLinesPerSecond: Math.round(median(cpus)) });
  }
}

function logsBench(c: LogsConfig): void {
  const inventory = benchInventory(1000);
  const corpus = logCorpus(c.corpus, inventory);
  const ruleset = loaded().ruleset;
  const measure = (name: string, perLine: (parser: LogParser, line: string) => void) => {
    const runs: { wall: number; cpu: number }[] = [];
    let stats = null as null | LogParser['stats'];
    for (let rep = 0; rep < c.reps; rep++) {
      const parser = new LogParser({ bootTimeMs: 1_795_915_440_000 });
      for (let i = 0; i < Math.min(100_000, c.lines); i++) perLine(parser, corpus[i % corpus.length]); // warm-up
      const warm = new LogParser({ bootTimeMs: 1_795_915_440_000 });
      const t0 = process.hrtime.bigint();
      const c0 = process.cpuUsage();
      for (let i = 0; i < c.lines; i++) perLine(warm, corpus[i % corpus.length]);
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = process.cpuUsage(c0);
      runs.push({ wall: c.lines / wall, cpu: c.lines / ((cpu.user + cpu.system) / 1e6) });
      stats = warm.stats;
    }
    emit({ kind: 'logs', name, lines: c.lines, runs, stats });
  };
  measure('parse', (p, l) => void p.parseLine(l));
  parserByKind(c, inventory);
  const attributor = new Attributor({ history: new CurrentStateHistory(inventory), ruleset, inventory });
  measure('parse+attribute', (p, l) => {
    const r = p.parseLine(l);
    if (r) attributor.attribute(r, 1_795_915_440_000);
  });
  let aggregator = new Aggregator();
  let n = 0;
  measure('parse+attribute+aggregate', (p, l) => {
    const r = p.parseLine(l);
    if (!r) return;
    aggregator.add(attributor.attribute(r, 1_795_915_440_000), 1_795_915_440_000);
    if (++n % 2_000_000 === 0) aggregator = new Aggregator();
  });
  emit({ kind: 'corpus', size: corpus.length, sample: corpus.slice(0, 3) });
}

interface DaemonConfig {
  containers: number;
  floodSeconds: number;
  corpus: number;
}

async function daemonBench(c: DaemonConfig): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lanfence-bench-daemon-'));
  const docker = { inventory: { source: 'docker', networks: [], containers: [] } as Inventory, emit: (_: string) => undefined as void };
  const store = new StateStore(join(dir, 'state'));
  const daemon = new Daemon({
    loadPolicy: loaded,
    inventory: async () => structuredClone(docker.inventory),
    subscribe: async (onEvent) => {
      docker.emit = onEvent;
      return () => undefined;
    },
    run: runCommand, // this process runs inside the benchmark's namespace
    store,
    backend: 'nftables',
    version: 'bench',
    checkIntervalMs: 5000,
    log: (m) => process.stderr.write(`${new Date().toISOString()} ${m}\n`),
  });
  // What `lanfence daemon` runs besides the loop: the local API, metrics, the drop feed, HTTP.
  await daemon.start();
  const api = await serveApi(daemon, join(dir, 'api.sock'));
  const metrics = new Metrics();
  const drops = new DropFeed();
  // As the CLI: the JSON API loads on the dashboard's first request (a separate chunk of the bundle).
  const http = createHttpServer({ metrics, beforeScrape: () => metrics.update(daemon.state), drops, api: async () => (await import('../../src/daemon/web-api.js')).webApi({ daemon, store, drops }) });
  // (The drop log starts with the flood below; idle, `lanfence daemon` would be following /dev/kmsg.)
  await listen(http, '127.0.0.1', 0);
  const settle = () => new Promise((r) => setTimeout(r, 3000));
  await settle();
  emit({ phase: 'idle', applies: daemon.state.applies });
  await nextLine();

  // 1,000 containers; every tenth has a lanfence.allow label (100 label exceptions in the sets).
  const containers = benchInventory(c.containers).containers;
  containers.forEach((x, i) => {
    if (i % 10 === 0) x.labels['lanfence.allow'] = `10.50.${i >> 8}.${(i & 255) || 1}:5432/tcp`;
  });
  docker.inventory = { source: 'docker', networks: benchNetworks(), containers };
  docker.emit('container start (1,000 containers)');
  for (let i = 0; i < 600 && (daemon.inventorySnapshot()?.containers.length ?? 0) < c.containers; i++) await new Promise((r) => setTimeout(r, 100));
  for (let i = 0; i < 600 && !daemon.state.lastApply?.reason.startsWith('docker: container start (1,000'); i++) await new Promise((r) => setTimeout(r, 100));
  await settle();
  emit({ phase: 'containers', containers: daemon.inventorySnapshot()?.containers.length ?? 0, addressesTracked: daemon.state.addressesTracked, applies: daemon.state.applies, lastApply: daemon.state.lastApply });
  await nextLine();

  // A log flood into the daemon's own drop log (src/daemon/drop-log.ts, as `lanfence daemon` runs
  // it), from a source that replays the corpus as fast as the drop log takes it.
  const corpus = logCorpus(c.corpus, docker.inventory);
  let offered = 0;
  let records = 0;
  const t0 = Date.now();
  const source: LogSource = {
    name: 'kmsg',
    description: 'benchmark corpus',
    async *records(parser) {
      while (Date.now() - t0 < c.floodSeconds * 1000) {
        for (let k = 0; k < 1000; k++) {
          const r = parser.parseLine(corpus[offered++ % corpus.length]);
          if (r) {
            records++;
            yield r;
          }
        }
        await new Promise((r) => setImmediate(r));
      }
    },
  };
  const dropLog = new DropLog({ daemon, store, feed: drops, metrics, log: () => undefined, source });
  emit({ phase: 'flood-start' });
  await dropLog.run();
  const seconds = (Date.now() - t0) / 1000;
  emit({ phase: 'flood', lines: offered, records, seconds, linesPerSecond: Math.round(offered / seconds), recent: drops.recent({ limit: 10_000 }).length, flows: dropLog.aggregator.report().containers.length });
  await nextLine();

  await daemon.stop();
  api.close();
  http.close();
  rmSync(dir, { recursive: true, force: true });
  emit({ phase: 'done' });
  process.exit(0);
}

const [mode, config] = process.argv.slice(2);
if (mode === 'logs') {
  logsBench(JSON.parse(config) as LogsConfig);
  process.exit(0);
} else if (mode === 'daemon') {
  void daemonBench(JSON.parse(config) as DaemonConfig);
} else {
  console.error('usage: bench-child.mjs logs|daemon CONFIG');
  process.exit(64);
}
