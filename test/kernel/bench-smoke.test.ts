/**
 * The benchmark harness works: a tiny run of every section (BENCH_SMOKE sizes: one round, 0 and 10
 * exceptions) into a temporary directory. Checks the harness, not the numbers; writes nothing into
 * the repository. Needs root (network namespaces) and sockperf.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBenchmarks, SMOKE, type BenchResults } from '../../bench/run.js';
import { kernelTestsEnabled } from '../support/root.js';

const enabled = kernelTestsEnabled('benchmark smoke run (creates network namespaces)');

describe.runIf(enabled)('benchmark harness (smoke)', () => {
  const out = mkdtempSync(join(tmpdir(), 'lanfence-bench-smoke-test-'));
  const namespacesBefore = new Set(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('runs every section and writes results, charts and the report outside the repository', async () => {
    const r: BenchResults = await runBenchmarks({ config: SMOKE, outDir: out, markdownPath: join(out, 'benchmarks.md'), chartHref: 'charts', log: () => undefined });
    expect(r.smoke).toBe(true);
    expect(r.sections.map((s) => s.name).sort()).toEqual(['apply', 'daemon', 'forwarding', 'logs', 'reaction']);

    // Forwarding: every approach at every size, with a verified filter and a rate.
    const f = r.forwarding!;
    for (const n of SMOKE.forwarding.sizes)
      for (const a of ['baseline', ...SMOKE.forwarding.approaches]) {
        const x = f.results.find((y) => y.approach === a && y.exceptions === n);
        expect(x, `${a} at ${n}`).toBeDefined();
        expect(x!.filterVerified).toBe(true);
        expect(x!.pps.median).toBeGreaterThan(0);
        expect(x!.rttP50.median).toBeGreaterThan(0);
      }
    expect(f.windowOverlapMs).toBeLessThanOrEqual(0);

    // Apply: every approach timed at every size.
    for (const n of SMOKE.apply.sizes)
      for (const a of ['nftables', 'iptables', 'firewalld-kernel', 'guide-per-rule'])
        expect(r.apply!.points.find((p) => p.approach === a && p.exceptions === n)?.seconds, `${a} at ${n}`).toBeGreaterThan(0);

    // Reaction, logs, daemon memory.
    expect(r.reaction!.start[0].ms.n).toBe(SMOKE.reaction.configs[0].samples);
    expect(r.reaction!.drift!.repairedMs.n).toBe(SMOKE.reaction.driftSamples);
    expect(r.logs!.stages.map((s) => s.name)).toEqual(['parse', 'parse+attribute', 'parse+attribute+aggregate']);
    for (const s of r.logs!.stages) expect(s.linesPerSecond).toBeGreaterThan(0);
    expect(r.daemon!.phases.map((p) => p.phase)).toEqual(['idle', 'containers', 'flood']);
    for (const p of r.daemon!.phases) expect(p.rssMiB).toBeGreaterThan(10);

    // What it wrote, and only there.
    for (const f of ['results.json', 'benchmarks.md', 'charts/forwarding.svg', 'charts/apply.svg']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(readFileSync(join(out, 'charts/forwarding.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
    expect(readFileSync(join(out, 'benchmarks.md'), 'utf8')).toContain('## Targets');

    // Every namespace it made is gone.
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]).filter((ns) => ns.startsWith('lfb-') && !namespacesBefore.has(ns));
    expect(left).toEqual([]);
  }, 600_000);
});
