/**
 * Traffic with sockperf (Debian package `sockperf`), between the benchmark's own namespaces only.
 *
 * - Packets per second: `sockperf throughput`, 64-byte UDP messages, one flow the server never
 *   answers. Conntrack keeps it unreplied (state NEW), so every packet is judged in full by every
 *   layout — the guide's, and lanfence's, whose `ct state established` shortcut never applies.
 *   (iperf3 would not do: its UDP test starts with a handshake the server answers, after which the
 *   flow is established and lanfence's rules pass it before any exception is consulted.)
 * - Request/response latency: `sockperf ping-pong`, 64-byte UDP, round-trip times (established
 *   after the first reply: what a long-lived connection pays).
 *
 * The client is pinned to CPU 0 and the server to CPU 1. Forwarding runs in softirq context on the
 * sending CPU, so the rate reflects the sender's syscall plus the whole forward path.
 */
import type { ChildProcess } from 'node:child_process';
import { sh, sleep, startChild, stopChild } from './sys.js';
import { INTERNET_IP, ipInReceives, type Topology } from './topology.js';

export const SOCKPERF_PORT = 11111;
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

export async function startServer(t: Topology): Promise<ChildProcess> {
  const child = startChild('ip', ['netns', 'exec', t.inet, 'taskset', '-c', '1', 'sockperf', 'server', '-i', INTERNET_IP, '-p', String(SOCKPERF_PORT)]);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  for (let i = 0; i < 50 && !/socket|blocking|recvfrom|epoll|select|poll/i.test(out); i++) {
    if (child.exitCode !== null) throw new Error(`sockperf server exited: ${out}`);
    await sleep(100);
  }
  return child;
}

export const stopServer = (c: ChildProcess): Promise<void> => stopChild(c, 'SIGINT');

export interface ThroughputResult {
  /** Messages per second the client sent during its measured window (every one forwarded: see forwardedRatio). */
  pps: number;
  sent: number;
  seconds: number;
  /** IP packets the internet namespace received during the run (warm-up included), over `sent`. */
  forwardedRatio: number;
}

export interface PingPongResult {
  /** Round-trip times in µs. */
  p50: number;
  p90: number;
  p99: number;
  avg: number;
  observations: number;
}

export function parseThroughput(out: string): Omit<ThroughputResult, 'forwardedRatio'> | null {
  const text = stripAnsi(out);
  const total = /Total of (\d+) messages sent in ([\d.]+) sec/.exec(text);
  const rate = /Message Rate is (\d+)/.exec(text);
  return total && rate ? { pps: Number(rate[1]), sent: Number(total[1]), seconds: Number(total[2]) } : null;
}

export function parsePingPong(out: string): PingPongResult | null {
  const text = stripAnsi(out);
  const pct = (p: string) => Number(new RegExp(`percentile ${p.replace('.', '\\.')} =\\s*([\\d.]+)`).exec(text)?.[1] ?? NaN);
  const r = { p50: pct('50.000'), p90: pct('90.000'), p99: pct('99.000'), avg: Number(/avg-rtt=([\d.]+)/.exec(text)?.[1] ?? NaN), observations: Number(/Total (\d+) observations/.exec(text)?.[1] ?? NaN) };
  return Number.isFinite(r.p50) ? r : null;
}

export interface Job {
  topo: Topology;
  mode: 'throughput' | 'ping-pong';
  seconds: number;
}

export interface JobResult {
  job: Job;
  throughput?: ThroughputResult;
  pingPong?: PingPongResult;
  /** When its measured window started and ended (ms, performance.now()). */
  windowStart: number;
  windowEnd: number;
}

/** sockperf sleeps this long after its warm-up, before the measured window (fixed in sockperf 3.7). */
const SOCKPERF_IDLE_MS = 2000;

/**
 * Runs sockperf clients one after the other with their measured windows back to back: sockperf
 * idles 2 s between its warm-up and its window, so each client is started while the previous one
 * measures, timed so that its window opens `marginMs` after the previous window closes. A client is
 * started on CPU 1 (its start-up and warm-up never share CPU 0 with a window) and moved to CPU 0
 * while it idles. Windows are read from the clients' own output ("Starting test", "Test end") and
 * checked not to overlap.
 */
export async function runJobs(jobs: Job[], marginMs = 300): Promise<JobResult[]> {
  const results: JobResult[] = [];
  const running: Promise<void>[] = [];
  let nextLaunchAt = performance.now();
  for (const job of jobs) {
    const wait = nextLaunchAt - performance.now();
    if (wait > 0) await sleep(wait);
    let windowStartResolve!: (t: number) => void;
    const windowStarted = new Promise<number>((r) => (windowStartResolve = r));
    const p = (async () => {
      try {
        const before = job.mode === 'throughput' ? await ipInReceives(job.topo.inet) : 0;
        const args = ['netns', 'exec', job.topo.ctr, 'stdbuf', '-oL', 'taskset', '-c', '1', 'sockperf', job.mode, '-i', INTERNET_IP, '-p', String(SOCKPERF_PORT), '-m', '64', '-t', String(job.seconds)];
        if (job.mode === 'ping-pong') args.push('--full-rtt');
        const child = startChild('ip', args);
        let out = '';
        let windowStart = NaN;
        let windowEnd = NaN;
        const repin = setTimeout(() => void sh('taskset', ['-a', '-p', '-c', '0', String(child.pid)]), 700);
        child.stdout?.on('data', (d: Buffer) => {
          const now = performance.now();
          out += d.toString();
          if (Number.isNaN(windowStart) && out.includes('Starting test')) {
            windowStart = now;
            windowStartResolve(now);
          }
          if (Number.isNaN(windowEnd) && /Test end/.test(out)) windowEnd = now;
        });
        child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
        const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? 1)));
        clearTimeout(repin);
        windowStartResolve(performance.now());
        const result: JobResult = { job, windowStart, windowEnd };
        if (job.mode === 'throughput') {
          const after = await ipInReceives(job.topo.inet);
          const tp = parseThroughput(out);
          if (code !== 0 || !tp) throw new Error(`sockperf throughput failed (exit ${code}): ${stripAnsi(out).slice(-800)}`);
          result.throughput = { ...tp, forwardedRatio: tp.sent ? (after - before) / tp.sent : 0 };
        } else {
          const pp = parsePingPong(out);
          if (code !== 0 || !pp) throw new Error(`sockperf ping-pong failed (exit ${code}): ${stripAnsi(out).slice(-800)}`);
          result.pingPong = pp;
        }
        results.push(result);
      } finally {
        windowStartResolve(performance.now());
      }
    })();
    p.catch(() => undefined); // handled by Promise.all below
    running.push(p);
    const started = await windowStarted;
    nextLaunchAt = started + job.seconds * 1000 + marginMs - SOCKPERF_IDLE_MS;
  }
  await Promise.all(running);
  return jobs.map((j) => results.find((r) => r.job === j)!);
}

/** The largest overlap (ms) between consecutive measured windows: 0 when none overlapped. */
export function maxOverlapMs(results: JobResult[]): number {
  let worst = 0;
  for (let i = 1; i < results.length; i++) worst = Math.max(worst, results[i - 1].windowEnd - results[i].windowStart);
  return worst;
}
