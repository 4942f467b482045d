/**
 * Sections measured in a child process (the bundled bench/child/main.ts under plain node):
 * log throughput, and the daemon's resident memory (read from /proc/<pid>/status).
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { median, round } from '../lib/stats.js';
import { createNs, deleteNs, sleep, startChild, stopChild } from '../lib/sys.js';
import { DAEMON_NODE_OPTIONS } from '../../src/daemon/systemd.js';

export interface LogsResult {
  lines: number;
  reps: number;
  corpus: { size: number; sample: string[] };
  /** Median lines/s (wall clock) and per CPU second, per pipeline stage. */
  stages: { name: string; linesPerSecond: number; cpuLinesPerSecond: number; runs: number[]; stats?: unknown }[];
  /** The parser alone on each kind of line (share of the corpus, lines/s). */
  byKind?: { name: string; share: number; linesPerSecond: number; cpuLinesPerSecond: number; lines?: number; reps?: number }[];
}

export async function logsBench(child: string, o: { lines: number; reps: number; corpus: number }, log: (m: string) => void): Promise<LogsResult> {
  // A tracked child (killed with the harness if it is interrupted), pinned to one CPU.
  const proc = startChild('taskset', ['-c', '0', process.execPath, child, 'logs', JSON.stringify(o)]);
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number>((r) => proc.on('exit', (c) => r(c ?? 1)));
  if (code !== 0) throw new Error(`logs child failed (exit ${code}): ${err.slice(-1000)}`);
  const objs = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const stages = objs
    .filter((x) => x.kind === 'logs')
    .map((x) => {
      const runs = x.runs as { wall: number; cpu: number }[];
      return { name: String(x.name), linesPerSecond: Math.round(median(runs.map((r) => r.wall))), cpuLinesPerSecond: Math.round(median(runs.map((r) => r.cpu))), runs: runs.map((r) => Math.round(r.wall)), stats: x.stats };
    });
  const corpus = objs.find((x) => x.kind === 'corpus') as { size: number; sample: string[] };
  const byKind = objs.filter((x) => x.kind === 'by-kind').map((x) => ({ name: String(x.name), share: Math.round(Number(x.share) * 1000) / 1000, linesPerSecond: Number(x.linesPerSecond), cpuLinesPerSecond: Number(x.cpuLinesPerSecond), ...(x.reps !== undefined ? { lines: Number(x.lines), reps: Number(x.reps) } : {}) }));
  for (const s of stages) log(`logs: ${s.name}: ${s.linesPerSecond.toLocaleString('en')} lines/s`);
  return { lines: o.lines, reps: o.reps, corpus: { size: corpus.size, sample: corpus.sample }, stages, byKind };
}

export interface RssPoint {
  phase: string;
  /** VmRSS at the end of the phase, and the largest seen while it ran (MiB). */
  rssMiB: number;
  maxRssMiB: number;
  /** VmHWM: the peak so far (MiB). */
  hwmMiB: number;
  detail: Record<string, unknown>;
}

export interface DaemonResult {
  containers: number;
  floodSeconds: number;
  /** RSS of a Node.js process that loads nothing (MiB): the floor of any daemon written in Node.js. */
  bareNodeMiB: number;
  /** V8 flags the daemon ran with (lanfence.service's NODE_OPTIONS); absent in results from before they existed. */
  nodeOptions?: string;
  phases: RssPoint[];
}

async function bareNodeRss(): Promise<number> {
  const p = startChild(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
  try {
    await sleep(1500);
    return mib(statusKb(p.pid!, 'VmRSS'));
  } finally {
    await stopChild(p);
  }
}

const statusKb = (pid: number, key: string): number => {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
};
const mib = (kb: number) => round(kb / 1024, 1);

export async function daemonRss(child: string, o: { containers: number; floodSeconds: number; corpus: number }, log: (m: string) => void): Promise<DaemonResult> {
  const ns = await createNs('rss');
  // The daemon runs inside the namespace (its nft commands change only that namespace's rules).
  // With the V8 flags lanfence.service gives the daemon (NODE_OPTIONS in the unit).
  const proc = startChild('ip', ['netns', 'exec', ns, process.execPath, ...DAEMON_NODE_OPTIONS.split(' '), child, 'daemon', JSON.stringify(o)], { stdin: true });
  const phases: RssPoint[] = [];
  try {
    const pid = proc.pid!;
    const rl = createInterface({ input: proc.stdout! });
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    let maxKb = 0;
    const sampler = setInterval(() => {
      try {
        maxKb = Math.max(maxKb, statusKb(pid, 'VmRSS'));
      } catch {
        /* exited */
      }
    }, 100);
    try {
      for await (const line of rl) {
        const msg = JSON.parse(line) as { phase: string } & Record<string, unknown>;
        if (msg.phase === 'flood-start') {
          maxKb = 0;
          continue;
        }
        if (msg.phase === 'done') break;
        if (msg.phase === 'idle' || msg.phase === 'containers') {
          // Sample for two more seconds at rest.
          maxKb = 0;
          await sleep(2000);
        }
        const rss = statusKb(pid, 'VmRSS');
        const point = { phase: msg.phase, rssMiB: mib(rss), maxRssMiB: mib(Math.max(maxKb, rss)), hwmMiB: mib(statusKb(pid, 'VmHWM')), detail: msg };
        phases.push(point);
        log(`daemon: ${msg.phase}: RSS ${point.rssMiB} MiB (max ${point.maxRssMiB}, peak ${point.hwmMiB})`);
        proc.stdin?.write('next\n');
      }
    } finally {
      clearInterval(sampler);
    }
    if (phases.length < 3) throw new Error(`daemon child ended early: ${stderr.slice(-1000)}`);
    if (process.env.BENCH_DEBUG) console.error(stderr);
  } finally {
    await stopChild(proc);
    await deleteNs(ns);
  }
  return { containers: o.containers, floodSeconds: o.floodSeconds, bareNodeMiB: await bareNodeRss(), nodeOptions: DAEMON_NODE_OPTIONS, phases };
}
