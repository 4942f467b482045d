/**
 * Forwarding: small-UDP packets per second and request/response round trips through the host
 * namespace, for each approach and number of exceptions, each approach in its own topology (rules
 * loaded once per size), runs alternating with the baseline: B A1 B A2 B A3 B A4 B ..., the
 * approaches' order rotating per round. Each approach run is divided by the mean of the two
 * baseline runs around it.
 */
import type { ChildProcess } from 'node:child_process';
import { median, percentile, round, summarize, type Summary } from '../lib/stats.js';
import { APPROACH_LABEL, createTopology, loadApproach, probeFilter, resetRules, ruleCounts, type Approach, type Topology } from '../lib/topology.js';
import { maxOverlapMs, runJobs, startServer, stopServer, type Job } from '../lib/traffic.js';
import { workload } from '../lib/workload.js';

export interface ForwardingOptions {
  sizes: number[];
  rounds: number;
  throughputSeconds: number;
  pingPongSeconds: number;
  approaches: Exclude<Approach, 'baseline'>[];
  log: (m: string) => void;
}

export interface ApproachAtSize {
  approach: Approach;
  exceptions: number;
  /** Rules in the host namespace after loading (iptables -A lines, nft rules, ipset members). */
  rules: { iptablesRules: number; nftRules: number; nftElements: number; ipsetMembers: number };
  loadSeconds: number;
  /** A packet to a blocked address (10.99.99.99) was not forwarded; one to the benchmark's destination was. */
  filterVerified: boolean;
  pps: Summary;
  /** pps / mean of the two baseline runs around it, per round. */
  ratio: Summary;
  rttP50: Summary;
  rttP99: Summary;
  /** rttP50 / baseline rttP50 around it. */
  rttRatio: Summary;
  raw: { pps: number; ratio: number; rttP50: number; rttP99: number; rttRatio: number; forwardedRatio: number }[];
}

export interface ForwardingResult {
  sizes: number[];
  rounds: number;
  throughputSeconds: number;
  pingPongSeconds: number;
  baseline: { pps: Summary; rttP50: Summary; rttP99: Summary; runs: number };
  /** Largest overlap between two consecutive measured windows (ms); ≤ 0 means none overlapped. */
  windowOverlapMs: number;
  results: ApproachAtSize[];
}

interface Run {
  pps: number;
  rttP50: number;
  rttP99: number;
  forwardedRatio: number;
}

export async function forwarding(o: ForwardingOptions): Promise<ForwardingResult> {
  // sockperf reads -t as whole seconds.
  if (!Number.isInteger(o.throughputSeconds) || !Number.isInteger(o.pingPongSeconds) || o.throughputSeconds < 1 || o.pingPongSeconds < 1) throw new Error('sockperf durations must be whole seconds ≥ 1');
  const all: Approach[] = ['baseline', ...o.approaches];
  const topo = new Map<Approach, Topology>();
  const servers: ChildProcess[] = [];
  const results: ApproachAtSize[] = [];
  const baselineRuns: Run[] = [];
  let overlapMs = 0;
  try {
    for (const a of all) {
      const t = await createTopology(a.slice(0, 3));
      topo.set(a, t);
      servers.push(await startServer(t));
    }
    for (const n of o.sizes) {
      const w = workload(n);
      const meta = new Map<Approach, Pick<ApproachAtSize, 'rules' | 'loadSeconds' | 'filterVerified'>>();
      for (const a of all) {
        const t = topo.get(a)!;
        await resetRules(t.host);
        const t0 = performance.now();
        await loadApproach(a, t.host, w.resolved);
        const loadSeconds = (performance.now() - t0) / 1000;
        const probe = await probeFilter(t);
        const filterVerified = a === 'baseline' ? probe.blockedForwarded >= 3 && probe.publicForwarded >= 3 : probe.blockedForwarded === 0 && probe.publicForwarded >= 3;
        if (!filterVerified) throw new Error(`${a} with ${n} exceptions: the filter does not behave (blocked probe forwarded ${probe.blockedForwarded}/3, public ${probe.publicForwarded}/3)`);
        meta.set(a, { rules: await ruleCounts(t.host), loadSeconds: round(loadSeconds, 2), filterVerified });
      }
      o.log(`forwarding: ${n} exceptions loaded (${all.map((a) => `${a} ${meta.get(a)!.loadSeconds}s`).join(', ')})`);

      // The sequence: B, then per round every approach followed by B; the order rotates per round.
      const sequence: Approach[] = ['baseline'];
      for (let r = 0; r < o.rounds; r++) for (let i = 0; i < o.approaches.length; i++) sequence.push(o.approaches[(i + r) % o.approaches.length], 'baseline');
      const jobs: Job[] = sequence.flatMap((a) => [
        { topo: topo.get(a)!, mode: 'throughput' as const, seconds: o.throughputSeconds },
        { topo: topo.get(a)!, mode: 'ping-pong' as const, seconds: o.pingPongSeconds },
      ]);
      const done = await runJobs(jobs);
      overlapMs = Math.max(overlapMs, maxOverlapMs(done));
      const measured: Run[] = sequence.map((_, i) => {
        const tp = done[2 * i].throughput!;
        const pp = done[2 * i + 1].pingPong!;
        return { pps: tp.pps, rttP50: pp.p50, rttP99: pp.p99, forwardedRatio: tp.forwardedRatio };
      });
      const runs = new Map<Approach, { run: Run; ratio: number; rttRatio: number }[]>(o.approaches.map((a) => [a, []]));
      const sizeBaselines: Run[] = [];
      sequence.forEach((a, i) => {
        if (a === 'baseline') return void sizeBaselines.push(measured[i]);
        const prev = measured[i - 1];
        const next = measured[i + 1];
        runs.get(a)!.push({ run: measured[i], ratio: measured[i].pps / ((prev.pps + next.pps) / 2), rttRatio: measured[i].rttP50 / ((prev.rttP50 + next.rttP50) / 2) });
      });
      baselineRuns.push(...sizeBaselines);
      o.log(`forwarding: ${n} exceptions: median ratio ${o.approaches.map((a) => `${a} ${round(median(runs.get(a)!.map((x) => x.ratio)), 3)}`).join(', ')}; baseline ${round(median(sizeBaselines.map((x) => x.pps)))} pps`);
      for (const a of o.approaches) {
        const list = runs.get(a)!;
        results.push({
          approach: a,
          exceptions: n,
          ...meta.get(a)!,
          pps: summarize(list.map((x) => x.run.pps)),
          ratio: summarize(list.map((x) => x.ratio)),
          rttP50: summarize(list.map((x) => x.run.rttP50)),
          rttP99: summarize(list.map((x) => x.run.rttP99)),
          rttRatio: summarize(list.map((x) => x.rttRatio)),
          raw: list.map((x) => ({ pps: x.run.pps, ratio: round(x.ratio, 4), rttP50: x.run.rttP50, rttP99: x.run.rttP99, rttRatio: round(x.rttRatio, 4), forwardedRatio: round(x.run.forwardedRatio, 4) })),
        });
      }
      // The baseline's own figures at this size (its rules never change: the size is the others').
      results.push({
        approach: 'baseline',
        exceptions: n,
        ...meta.get('baseline')!,
        pps: summarize(sizeBaselines.map((x) => x.pps)),
        ratio: summarize([1]),
        rttP50: summarize(sizeBaselines.map((x) => x.rttP50)),
        rttP99: summarize(sizeBaselines.map((x) => x.rttP99)),
        rttRatio: summarize([1]),
        raw: [],
      });
    }
  } finally {
    for (const s of servers) await stopServer(s);
    for (const t of topo.values()) await t.destroy();
  }
  return {
    sizes: o.sizes,
    rounds: o.rounds,
    throughputSeconds: o.throughputSeconds,
    pingPongSeconds: o.pingPongSeconds,
    baseline: {
      pps: summarize(baselineRuns.map((x) => x.pps)),
      rttP50: summarize(baselineRuns.map((x) => x.rttP50)),
      rttP99: summarize(baselineRuns.map((x) => x.rttP99)),
      runs: baselineRuns.length,
    },
    windowOverlapMs: round(overlapMs, 1),
    results,
  };
}

export { APPROACH_LABEL, median, percentile };
