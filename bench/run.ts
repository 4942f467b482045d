/**
 * `npm run bench` (root): every benchmark in one run; writes bench/results.json, the charts in
 * bench/charts/ and docs/benchmarks.md. `BENCH_SMOKE=1` runs a tiny version that only checks the
 * harness works and writes into a temporary directory (or BENCH_OUT), never into the repository.
 * `BENCH_ONLY=forwarding,apply,reaction,logs,daemon` runs some sections (the report then lacks the others).
 * `BENCH_MERGE=1` (with BENCH_ONLY) keeps the other sections of the existing results.json; the report
 * then says which sections were re-run, when, and at which commit (e.g. `BENCH_ONLY=logs BENCH_MERGE=1`).
 * `logs` needs neither root nor the network tools.
 * `BENCH_REPORT_ONLY=1` measures nothing: it renders the report and charts again from bench/results.json.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleChild } from './lib/bundle.js';
import { describeMachine, loadavg, type Machine } from './lib/machine.js';
import { cleanupAll, missingTools } from './lib/sys.js';
import { applyBench, type ApplyOptions, type ApplyResult } from './sections/apply.js';
import { forwarding, type ForwardingOptions, type ForwardingResult } from './sections/forwarding.js';
import { daemonRss, logsBench, type DaemonResult, type LogsResult } from './sections/process.js';
import { reaction, type ReactionOptions, type ReactionResult } from './sections/reaction.js';
import { forwardingChart, applyChart, renderMarkdown } from './report.js';

export type Section = 'forwarding' | 'apply' | 'reaction' | 'logs' | 'daemon';
export const SECTIONS: Section[] = ['forwarding', 'apply', 'reaction', 'logs', 'daemon'];

export interface BenchConfig {
  smoke: boolean;
  forwarding: Omit<ForwardingOptions, 'log'>;
  apply: Omit<ApplyOptions, 'log'>;
  reaction: Omit<ReactionOptions, 'log'>;
  logs: { lines: number; reps: number; corpus: number };
  daemon: { containers: number; floodSeconds: number; corpus: number };
}

export const FULL: BenchConfig = {
  smoke: false,
  // 'nftables-hash' (lib/whatif.ts) is no longer run: lanfence's nftables renderer puts exact exceptions in hash sets itself.
  forwarding: { sizes: [0, 100, 1000, 10_000], rounds: 4, throughputSeconds: 2, pingPongSeconds: 1, approaches: ['guide', 'nftables', 'iptables', 'firewalld'] },
  apply: { sizes: [0, 100, 1000, 10_000, 100_000], reps: 3, capSeconds: 60, parseMax: 10_000, iptablesMax: 10_000 },
  reaction: {
    configs: [
      { name: 'small: 20 containers, 10 policy exceptions', containers: 20, policyExceptions: 10, samples: 60 },
      { name: 'large: 1,000 containers, 100 policy exceptions', containers: 1000, policyExceptions: 100, samples: 30 },
    ],
    driftSamples: 20,
    driftIntervalMs: 1000,
  },
  logs: { lines: 300_000, reps: 3, corpus: 50_000 },
  daemon: { containers: 1000, floodSeconds: 10, corpus: 50_000 },
};

export const SMOKE: BenchConfig = {
  smoke: true,
  // ping-pong: 2 s, not 1: on a loaded machine one second minus sockperf's 400 ms warm-up has left too few
  // round trips for its statistics ("No valid observations found", seen in CI).
  forwarding: { sizes: [0, 10], rounds: 1, throughputSeconds: 1, pingPongSeconds: 2, approaches: ['guide', 'nftables', 'iptables', 'firewalld'] },
  apply: { sizes: [0, 10], reps: 1, capSeconds: 10, parseMax: 10, iptablesMax: 10 },
  reaction: { configs: [{ name: 'smoke', containers: 5, policyExceptions: 2, samples: 3 }], driftSamples: 2, driftIntervalMs: 500 },
  logs: { lines: 20_000, reps: 1, corpus: 2000 },
  daemon: { containers: 50, floodSeconds: 1, corpus: 2000 },
};

export interface BenchResults {
  version: 1;
  smoke: boolean;
  startedAt: string;
  finishedAt: string;
  elapsedSeconds: number;
  command: string;
  machine: Machine;
  config: BenchConfig;
  sections: SectionRun[];
  forwarding?: ForwardingResult;
  apply?: ApplyResult;
  reaction?: ReactionResult;
  logs?: LogsResult;
  daemon?: DaemonResult;
  /** Sections taken over from earlier runs (BENCH_MERGE); each section's own run is in `sections`. */
  merged?: { from: string; sections: Section[]; command?: string; elapsedSeconds?: number; git?: Machine['git'] };
}

/** One section as measured: how long, the load around it, and the run it comes from (BENCH_MERGE keeps several). */
export interface SectionRun {
  name: Section;
  seconds: number;
  loadavgStart: string;
  loadavgEnd: string;
  /** The run that measured it (absent in results written before these fields: see `provenance`). */
  startedAt?: string;
  command?: string;
  git?: Machine['git'];
}

/** The run a section comes from, also for results written before SectionRun carried it. */
export function provenance(r: BenchResults, s: SectionRun): { startedAt: string; command: string; git?: Machine['git'] } {
  if (s.startedAt) return { startedAt: s.startedAt, command: s.command ?? r.command, git: s.git };
  if (r.merged?.sections.includes(s.name)) return { startedAt: r.merged.from, command: r.merged.command ?? 'npm run bench', git: r.merged.git };
  return { startedAt: r.startedAt, command: r.command, git: r.machine.git };
}

export interface RunOptions {
  config: BenchConfig;
  /** Where results.json and the charts go. */
  outDir: string;
  /** Where the markdown report goes. */
  markdownPath: string;
  /** How the markdown refers to the charts (relative path from the markdown file). */
  chartHref: string;
  only?: Section[];
  /** Keep the other sections of the existing results.json in outDir. */
  merge?: boolean;
  log?: (m: string) => void;
}

const REQUIRED_TOOLS = ['ip', 'nft', 'iptables', 'ip6tables', 'iptables-restore', 'ipset', 'sockperf', 'taskset', 'stdbuf', 'unshare', 'bash'];

export async function runBenchmarks(o: RunOptions): Promise<BenchResults> {
  const only = new Set(o.only ?? SECTIONS);
  // Only the log section runs without namespaces (a child pinned to one CPU with taskset).
  const kernel = [...only].some((s) => s !== 'logs');
  if (kernel && process.getuid?.() !== 0) throw new Error('the benchmarks need root (they create network namespaces); BENCH_ONLY=logs does not');
  const missing = await missingTools(kernel ? REQUIRED_TOOLS : ['taskset']);
  if (missing.length) throw new Error(`missing tools: ${missing.join(', ')} (Debian: apt-get install -y ${missing.includes('sockperf') ? 'sockperf ' : ''}nftables iptables ipset iproute2 util-linux coreutils)`);
  const log = o.log ?? ((m: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}`));
  const t0 = Date.now();
  const results: BenchResults = {
    version: 1,
    smoke: o.config.smoke,
    startedAt: new Date().toISOString(),
    finishedAt: '',
    elapsedSeconds: 0,
    command: `${o.config.smoke ? 'BENCH_SMOKE=1 ' : ''}${o.only ? `BENCH_ONLY=${SECTIONS.filter((s) => only.has(s)).join(',')} ` : ''}${o.merge ? 'BENCH_MERGE=1 ' : ''}npm run bench`,
    machine: await describeMachine(),
    config: o.config,
    sections: [],
  };
  const section = async <T>(name: Section, f: () => Promise<T>): Promise<T | undefined> => {
    if (!only.has(name)) return undefined;
    const s0 = Date.now();
    const l0 = loadavg();
    log(`${name}: start (load ${l0})`);
    const r = await f();
    results.sections.push({ name, seconds: Math.round((Date.now() - s0) / 100) / 10, loadavgStart: l0, loadavgEnd: loadavg(), startedAt: results.startedAt, command: results.command, git: results.machine.git });
    log(`${name}: done in ${((Date.now() - s0) / 1000).toFixed(0)} s`);
    return r;
  };
  try {
    const child = only.has('logs') || only.has('daemon') ? await bundleChild() : '';
    results.logs = await section('logs', () => logsBench(child, o.config.logs, log));
    results.daemon = await section('daemon', () => daemonRss(child, o.config.daemon, log));
    results.reaction = await section('reaction', () => reaction({ ...o.config.reaction, log }));
    results.apply = await section('apply', () => applyBench({ ...o.config.apply, log }));
    results.forwarding = await section('forwarding', () => forwarding({ ...o.config.forwarding, log }));
  } finally {
    cleanupAll();
  }
  results.finishedAt = new Date().toISOString();
  results.elapsedSeconds = Math.round((Date.now() - t0) / 1000);
  results.machine.loadavgEnd = loadavg();

  mkdirSync(o.outDir, { recursive: true });
  if (o.merge) {
    // Keep the sections not run now from the previous results (and say so in `sections`).
    const prev = JSON.parse(readFileSync(join(o.outDir, 'results.json'), 'utf8')) as BenchResults;
    for (const s of SECTIONS) if (!only.has(s) && prev[s]) (results as unknown as Record<string, unknown>)[s] = prev[s];
    // Each kept section keeps the run it came from (merging again must not relabel it as the last run's).
    results.sections = [...prev.sections.filter((s) => !only.has(s.name)).map((s) => ({ ...s, ...provenance(prev, s) })), ...results.sections];
    const kept = SECTIONS.filter((s) => !only.has(s) && prev[s]);
    results.merged = { from: prev.startedAt, command: prev.command, elapsedSeconds: prev.elapsedSeconds, git: prev.machine.git, sections: kept };
  }
  writeFileSync(join(o.outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeReport(results, o.outDir, o.markdownPath, o.chartHref);
  log(`wrote ${join(o.outDir, 'results.json')}, ${join(o.outDir, 'charts')}/*.svg and ${o.markdownPath} (${results.elapsedSeconds} s)`);
  return results;
}

/** Writes the charts and the report for results already measured. */
export function writeReport(results: BenchResults, outDir: string, markdownPath: string, chartHref: string): void {
  mkdirSync(join(outDir, 'charts'), { recursive: true });
  if (results.forwarding) writeFileSync(join(outDir, 'charts', 'forwarding.svg'), forwardingChart(results.forwarding));
  if (results.apply) writeFileSync(join(outDir, 'charts', 'apply.svg'), applyChart(results.apply));
  writeFileSync(markdownPath, renderMarkdown(results, chartHref));
}

async function main(): Promise<void> {
  const smoke = process.env.BENCH_SMOKE === '1';
  const repo = fileURLToPath(new URL('..', import.meta.url));
  if (process.env.BENCH_REPORT_ONLY === '1') {
    const results = JSON.parse(readFileSync(join(repo, 'bench', 'results.json'), 'utf8')) as BenchResults;
    writeReport(results, join(repo, 'bench'), join(repo, 'docs', 'benchmarks.md'), '../bench/charts');
    return;
  }
  const outDir = process.env.BENCH_OUT ?? (smoke ? mkdtempSync(join(tmpdir(), 'lanfence-bench-smoke-')) : join(repo, 'bench'));
  const markdownPath = smoke || process.env.BENCH_OUT ? join(outDir, 'benchmarks.md') : join(repo, 'docs', 'benchmarks.md');
  const only = process.env.BENCH_ONLY ? (process.env.BENCH_ONLY.split(',') as Section[]) : undefined;
  const unknown = only?.filter((s) => !SECTIONS.includes(s)) ?? [];
  if (unknown.length) throw new Error(`BENCH_ONLY: unknown section(s) ${unknown.join(', ')} (sections: ${SECTIONS.join(', ')})`);
  await runBenchmarks({ config: smoke ? SMOKE : FULL, outDir, markdownPath, chartHref: markdownPath.startsWith(join(repo, 'docs')) ? '../bench/charts' : 'charts', only, merge: process.env.BENCH_MERGE === '1' });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    cleanupAll();
    console.error(`bench failed: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  });
}
