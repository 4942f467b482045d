/** results.json → docs/benchmarks.md and the charts. */
import { provenance, type BenchResults } from './run.js';
import type { ApplyResult } from './sections/apply.js';
import { APPLY_LABEL } from './sections/apply.js';
import type { ForwardingResult } from './sections/forwarding.js';
import { APPROACH_LABEL, type Approach } from './lib/topology.js';
import { lineChart, type Series } from './lib/svg.js';

const COLORS: Record<string, string> = {
  baseline: '#222222',
  guide: '#d62728',
  nftables: '#1f77b4',
  iptables: '#2ca02c',
  firewalld: '#ff7f0e',
  'nftables-hash': '#9467bd',
  'firewalld-kernel': '#ff7f0e',
  'guide-per-rule': '#d62728',
};

const int = (n: number | null | undefined) => (n === null || n === undefined || !Number.isFinite(n) ? '–' : Math.round(n).toLocaleString('en'));
const num = (n: number | null | undefined, d = 2) => (n === null || n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(d));
const sizeLabel = (n: number) => n.toLocaleString('en');
const secs = (s: number | null | undefined) => (s === null || s === undefined ? '–' : s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(s < 10 ? 2 : 1)} s`);

export function forwardingChart(f: ForwardingResult): string {
  const approaches: Approach[] = [...new Set<Approach>(['baseline', ...f.results.map((r) => r.approach)])];
  const series: Series[] = approaches.map((a) => ({
    name: APPROACH_LABEL[a],
    color: COLORS[a] ?? '#777',
    dashed: a === 'nftables-hash',
    points: f.sizes.map((n) => {
      const r = f.results.find((x) => x.approach === a && x.exceptions === n);
      return r ? { y: r.pps.median, lo: r.pps.min, hi: r.pps.max } : null;
    }),
  }));
  return lineChart({
    title: 'Forwarding rate against the number of exceptions',
    subtitle: `64-byte UDP, one unreplied flow (every packet judged as new); medians of ${f.rounds} run(s), whiskers min–max`,
    xLabel: 'exceptions',
    yLabel: 'packets per second (log scale)',
    categories: f.sizes.map(sizeLabel),
    logY: true,
    series,
  });
}

export function applyChart(a: ApplyResult): string {
  const approaches = [...new Set(a.points.map((p) => p.approach))];
  const series: Series[] = approaches.map((ap) => ({
    name: APPLY_LABEL[ap],
    color: COLORS[ap] ?? '#777',
    dashed: ap === 'guide-per-rule',
    points: a.sizes.map((n) => {
      const p = a.points.find((x) => x.approach === ap && x.exceptions === n);
      if (!p || p.seconds === null || p.capped) return null;
      return { y: p.seconds, lo: Math.min(...p.runs), hi: Math.max(...p.runs) };
    }),
  }));
  return lineChart({
    title: 'Time to apply N exceptions',
    subtitle: 'into a fresh namespace holding Docker\'s FORWARD skeleton; the guide\'s line stops where it passed the cap',
    xLabel: 'exceptions',
    yLabel: 'seconds (log scale)',
    categories: a.sizes.map(sizeLabel),
    logY: true,
    series,
  });
}

interface Target {
  name: string;
  target: string;
  measured: string;
  met: boolean | null;
  by: string;
}

function targets(r: BenchResults): Target[] {
  const out: Target[] = [];
  const f = r.forwarding;
  const top = f ? Math.max(...f.sizes) : 0;
  const nft = f?.results.find((x) => x.approach === 'nftables' && x.exceptions === top);
  if (nft) {
    const v = nft.ratio.median;
    out.push({ name: `forwarding, nftables, ${sizeLabel(top)} exceptions`, target: '≥ 0.95 of baseline', measured: `${num(v)} (runs ${num(nft.ratio.min)}–${num(nft.ratio.max)})`, met: v >= 0.95, by: v >= 0.95 ? `+${num(v - 0.95)}` : `${num(0.95 / v, 1)}× too slow (${Math.round((1 - v / 0.95) * 100)} % short)` });
  }
  const ap = r.apply;
  if (ap) {
    const top10 = ap.sizes.includes(10_000) ? 10_000 : Math.max(...ap.sizes.filter((n) => n > 0));
    for (const b of ['nftables', 'iptables'] as const) {
      const zero = ap.points.find((p) => p.approach === b && p.exceptions === 0)?.seconds;
      const at = ap.points.find((p) => p.approach === b && p.exceptions === top10)?.seconds;
      if (zero && at) {
        const ratio = at / zero;
        out.push({ name: `apply, ${b}, ${sizeLabel(top10)} vs 0 exceptions`, target: '≤ 2×', measured: `${secs(at)} vs ${secs(zero)} = ${num(ratio, 1)}×`, met: ratio <= 2, by: ratio <= 2 ? 'met' : `${num(ratio / 2, 1)}× over` });
      }
    }
  }
  const re = r.reaction;
  if (re) {
    for (const s of re.start) out.push({ name: `reaction, container start → exception live (${s.config.name})`, target: 'p99 ≤ 200 ms', measured: `p50 ${int(s.ms.p50)} ms, p99 ${int(s.ms.p99)} ms (n=${s.ms.n})`, met: s.ms.p99 <= 200, by: s.ms.p99 <= 200 ? 'met' : `${num(s.ms.p99 / 200, 1)}× over` });
  }
  const lg = r.logs?.stages.find((s) => s.name === 'parse');
  if (lg) {
    out.push({ name: 'log parser (wall clock, shared machine)', target: '≥ 500,000 lines/s', measured: `${int(lg.linesPerSecond)} lines/s`, met: lg.linesPerSecond >= 500_000, by: lg.linesPerSecond >= 500_000 ? 'met' : `${num(500_000 / lg.linesPerSecond, 1)}× short` });
    out.push({ name: 'log parser (per CPU second)', target: '≥ 500,000 lines/s', measured: `${int(lg.cpuLinesPerSecond)} lines/s`, met: lg.cpuLinesPerSecond >= 500_000, by: lg.cpuLinesPerSecond >= 500_000 ? 'met' : `${num(500_000 / lg.cpuLinesPerSecond, 1)}× short` });
  }
  const d = r.daemon?.phases.find((p) => p.phase === 'containers');
  if (d) out.push({ name: `daemon RSS with ${int(r.daemon!.containers)} containers`, target: '≤ 80 MB', measured: `${num(d.rssMiB, 1)} MiB (${num((d.rssMiB * 1048576) / 1e6, 1)} MB)`, met: (d.rssMiB * 1048576) / 1e6 <= 80, by: (d.rssMiB * 1048576) / 1e6 <= 80 ? 'met' : `${num((d.rssMiB * 1048576) / 1e6 - 80, 0)} MB over` });
  return out;
}

export function renderMarkdown(r: BenchResults, chartHref: string): string {
  const L: string[] = [];
  const m = r.machine;
  L.push('# Benchmarks', '');
  // The runs the sections come from (one for a full run; more after BENCH_MERGE), oldest first.
  const runs: { startedAt: string; command: string; git?: NonNullable<typeof m.git>; sections: BenchResults['sections'] }[] = [];
  for (const s of r.sections) {
    const p = provenance(r, s);
    const run = runs.find((x) => x.startedAt === p.startedAt);
    if (run) run.sections.push(s);
    else runs.push({ ...p, sections: [s] });
  }
  runs.sort((x, y) => x.startedAt.localeCompare(y.startedAt));
  const names = (ss: BenchResults['sections']) => ss.map((s) => s.name).join(', ');
  if (runs.length > 1) {
    L.push(`Measured by ${runs.map((x, i) => `${i === 0 ? '' : 'then '}\`${x.command}\`${i === 0 ? ' (root)' : ''} on ${x.startedAt.slice(0, 10)}${x.git ? ` at commit \`${x.git.commit}\`` : ''} (${x.sections.length === 1 ? 'section' : 'sections'} ${names(x.sections)}, ${Math.max(1, Math.round(x.sections.reduce((n, s) => n + s.seconds, 0) / 60))} min)`).join('; ')}; raw figures in [\`bench/results.json\`](../bench/results.json). ${r.smoke ? '**SMOKE RUN: these figures only show the harness works.**' : ''}`);
  } else {
    L.push(`Measured by \`${r.command}\` (root) on ${r.startedAt.slice(0, 10)} in ${Math.round(r.elapsedSeconds / 60)} min; raw figures in [\`bench/results.json\`](../bench/results.json). ${r.smoke ? '**SMOKE RUN: these figures only show the harness works.**' : ''}`);
  }
  L.push('Every kernel-touching measurement runs in network namespaces the benchmark creates and deletes; traffic flows only between them.', '');

  L.push('## Targets', '');
  L.push('| what | target | measured | met | by how much |', '|---|---|---|---|---|');
  for (const t of targets(r)) L.push(`| ${t.name} | ${t.target} | ${t.measured} | ${t.met === null ? '–' : t.met ? 'yes' : '**no**'} | ${t.by} |`);
  L.push('');
  L.push(...analysis(r), '');

  const f = r.forwarding;
  if (f) {
    L.push('## Forwarding', '');
    L.push(`![forwarding rate against exceptions](${chartHref}/forwarding.svg)`, '');
    L.push(`Small UDP packets from a "container" namespace (behind a bridge \`docker0\` in a "host" namespace that forwards) to an "internet" namespace (198.51.100.10). Packets/s: \`sockperf throughput\`, 64-byte messages, ${f.throughputSeconds} s per run, one flow the server never answers — conntrack keeps it NEW, so *every packet* is judged as a new connection (the worst case: a stream of new connections); the destination is not blocked, so lanfence's nftables table does not look it up in its exception sets, the other layouts compare it with every exception. Latency: \`sockperf ping-pong\`, 64-byte UDP round trips, ${f.pingPongSeconds} s per run — after the first reply the flow is established (what long-lived connections pay). Ratios: each run divided by the mean of the two baseline runs around it (B A₁ B A₂ B …, order rotating per round), ${f.rounds} round(s); medians, min–max in parentheses.`, '');
    L.push('| exceptions | approach | packets/s | ratio to baseline | RTT p50 µs | RTT ratio | rules / set members in the host |', '|---|---|---|---|---|---|---|');
    for (const n of f.sizes) {
      for (const x of f.results.filter((y) => y.exceptions === n)) {
        const rules = [x.rules.iptablesRules ? `${int(x.rules.iptablesRules)} iptables rules` : '', x.rules.nftRules ? `${int(x.rules.nftRules)} nft rules, ${int(x.rules.nftElements)} set elements` : '', x.rules.ipsetMembers ? `${int(x.rules.ipsetMembers)} ipset members` : ''].filter(Boolean).join(', ');
        L.push(`| ${sizeLabel(n)} | ${APPROACH_LABEL[x.approach]} | ${int(x.pps.median)} (${int(x.pps.min)}–${int(x.pps.max)}) | ${x.approach === 'baseline' ? '1' : `**${num(x.ratio.median)}** (${num(x.ratio.min)}–${num(x.ratio.max)})`} | ${num(x.rttP50.median, 1)} | ${x.approach === 'baseline' ? '1' : `${num(x.rttRatio.median)} (${num(x.rttRatio.min)}–${num(x.rttRatio.max)})`} | ${rules} |`);
      }
    }
    L.push('');
    L.push(`Every layout was checked after loading: a packet to a blocked, non-excepted address (10.99.99.99) is not forwarded, one to the benchmark's destination is. Measured windows of consecutive runs never overlapped (largest overlap ${num(f.windowOverlapMs, 0)} ms; ≤ 0 means a gap). The baseline is Docker's FORWARD skeleton only (FORWARD → DOCKER-USER → RETURN, and a conntrack rule, so connection tracking runs in every case, as on any Docker host).`, '');
  }

  const a = r.apply;
  if (a) {
    L.push('## Apply', '');
    L.push(`![apply time](${chartHref}/apply.svg)`, '');
    L.push(`Time for \`backend.apply\` (through \`inNetns\`) into a fresh namespace that holds Docker's FORWARD skeleton; median of ${a.reps} runs up to 10,000 exceptions, one run above. The guide's way is one process per rule (\`iptables -A\`, since one \`firewall-cmd\` per rule needs a running firewalld and is slower still), stopped after ${a.capSeconds} s. The firewalld backend's \`apply\` needs a running firewalld; what is timed here is loading its direct rules the way firewalld hands them to the kernel (\`directRulesToRestore\` → \`iptables-restore --noflush\`), a lower bound for a firewalld reload.`, '');
    L.push(`| exceptions | ${[...new Set(a.points.map((p) => p.approach))].map((x) => APPLY_LABEL[x]).join(' | ')} |`, `|---|${[...new Set(a.points.map((p) => p.approach))].map(() => '---').join('|')}|`);
    for (const n of a.sizes) {
      const cells = [...new Set(a.points.map((p) => p.approach))].map((ap) => {
        const p = a.points.find((x) => x.approach === ap && x.exceptions === n);
        if (!p) return '–';
        if (p.skipped) return `not run (${p.skipped})`;
        if (p.capped) return `> ${a.capSeconds} s (${int(p.completed)} of ${int(p.planned)} commands done)`;
        return `${secs(p.seconds)}${p.runs.length > 1 ? ` (${secs(Math.min(...p.runs))}–${secs(Math.max(...p.runs))})` : ''}`;
      });
      L.push(`| ${sizeLabel(n)} | ${cells.join(' | ')} |`);
    }
    L.push('');
    L.push('What `lanfence apply` does before the kernel (CPU, in the benchmark process): loading the policy (YAML → validated rule set) and rendering (resolve + render).', '');
    L.push('| exceptions | policy load | render nftables | render iptables | render firewalld | notes |', '|---|---|---|---|---|---|');
    for (const c of a.cpu) L.push(`| ${sizeLabel(c.exceptions)} | ${secs(c.parseSeconds)} | ${secs(c.render.nftables)} | ${secs(c.render.iptables)} | ${secs(c.render.firewalld)} | ${c.notes.join('; ')} |`);
    L.push('');
  }

  const re = r.reaction;
  if (re) {
    L.push('## Reaction', '');
    L.push("The daemon (`src/daemon/daemon.ts`) with a scripted Docker and a real `nft` in a namespace, with the CLI's defaults: a 15 ms debounce after container starts (100 ms after other events, and a burst held back at most 100 ms), the policy file re-read and validated when its text changed, drift check every 5 s. A container with a `lanfence.allow` label starts; the time until its exception is in the kernel is read with `nft monitor` (every committed ruleset generation wakes a query of the kernel) and a 50 ms poll.", '');
    L.push('| configuration | n | p50 | p90 | p99 | max | how it was applied |', '|---|---|---|---|---|---|---|');
    for (const s of re.start) L.push(`| ${s.config.name} | ${s.ms.n} | ${int(s.ms.p50)} ms | ${int(s.ms.p90)} ms | ${int(s.ms.p99)} ms | ${int(s.ms.max)} ms | ${Object.entries(s.kinds).map(([k, v]) => `${v}× ${k === 'sets' ? 'set update' : k}`).join(', ')} |`);
    L.push('');
    for (const s of re.start) {
      L.push(`Where the time of one reaction goes (${s.config.name}; medians per step, ms): ${Object.entries(s.breakdown).filter(([, v]) => v >= 0.5).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${int(v)}`).join('; ')}; plus the 15 ms debounce.`, '');
    }
    if (re.drift) L.push(`Drift: \`nft delete table inet lanfence\` at varying phases of a ${re.drift.intervalMs} ms check period → the table is back after p50 ${int(re.drift.repairedMs.p50)} ms, p99 ${int(re.drift.repairedMs.p99)} ms (n=${re.drift.repairedMs.n}); the repair itself (inspect, apply, inspect) p50 ${int(re.drift.repairDurationMs.p50)} ms, p99 ${int(re.drift.repairDurationMs.p99)} ms. With the CLI's default \`--interval 5\`, expect p50 ≈ 2.5 s + the repair, p99 ≈ 5 s + the repair.`, '');
  }

  const lg = r.logs;
  if (lg) {
    L.push('## Logs', '');
    L.push(`A synthetic corpus of ${int(lg.corpus.size)} distinct kernel LOG lines (${'kmsg framing mostly'}; IPv4 forward and input path, IPv6, TCP SYN/UDP/ICMP, 5 % journal JSON, 5 % syslog, 8 % other kernel messages, 2 % garbage), sources from a 1,000-container inventory; ${int(lg.lines)} lines per run, ${lg.reps} runs after a warm-up, in a child process under plain \`node\` pinned to one CPU.`, '');
    L.push('| stage | lines/s (wall clock) | lines per CPU second |', '|---|---|---|');
    for (const s of lg.stages) L.push(`| ${s.name} | ${int(s.linesPerSecond)} | ${int(s.cpuLinesPerSecond)} |`);
    if (lg.byKind?.length) {
      const k0 = lg.byKind[0];
      L.push('', `The parser alone, per kind of line${k0.reps !== undefined ? ` (median of ${k0.reps} runs of ${int(k0.lines)} lines each, in the same process right after the parse stage)` : ''}:`, '', '| kind | share of the corpus | lines/s (wall clock) | lines per CPU second |', '|---|---|---|---|');
      for (const k of lg.byKind) L.push(`| ${k.name} | ${Math.round(k.share * 100)} % | ${int(k.linesPerSecond)} | ${int(k.cpuLinesPerSecond)} |`);
    }
    L.push('', `Attribution uses \`Attributor\` with the inventory's current state (\`CurrentStateHistory\`); aggregation is \`Aggregator\` (flows, scan detection).`, '');
  }

  const d = r.daemon;
  if (d) {
    L.push('## Daemon memory', '');
    L.push(`The daemon as \`lanfence daemon\` assembles it (reconcile loop, local API socket, metrics, drop feed, HTTP server; the JSON API loads on its first request, as in the CLI), bundled and run under \`node${d.nodeOptions ? ` ${d.nodeOptions}` : ''}\`${d.nodeOptions ? " (lanfence.service's NODE_OPTIONS)" : ''} inside a namespace, its Docker scripted; VmRSS from \`/proc/<pid>/status\` after each phase settled (3 s + 2 s of sampling). A Node.js process that loads nothing: ${num(d.bareNodeMiB, 1)} MiB.`, '');
    L.push('| phase | VmRSS | largest during the phase | VmHWM (peak so far) | V8 heap used / total | detail |', '|---|---|---|---|---|---|');
    for (const p of d.phases) {
      const mem = (p.detail as { memory?: { heapUsedMiB: number; heapTotalMiB: number } }).memory;
      const det = p.phase === 'flood' ? `${int(p.detail.lines as number)} lines in ${num(p.detail.seconds as number, 1)} s (${int(p.detail.linesPerSecond as number)} lines/s) through the daemon's drop log` : p.phase === 'containers' ? `${int(p.detail.containers as number)} containers, every tenth with a label exception` : 'after start, empty inventory';
      L.push(`| ${p.phase} | ${num(p.rssMiB, 1)} MiB | ${num(p.maxRssMiB, 1)} MiB | ${num(p.hwmMiB, 1)} MiB | ${mem ? `${num(mem.heapUsedMiB, 1)} / ${num(mem.heapTotalMiB, 1)} MiB` : '–'} | ${det} |`);
    }
    L.push('');
  }

  L.push('## Method', '');
  const code = (g: NonNullable<typeof m.git>) => `commit \`${g.commit}\`${g.dirtySrc.length ? ` with uncommitted changes under src/ (${g.dirtySrc.length} file(s): ${g.dirtySrc.slice(0, 6).map((l) => `\`${l.slice(3)}\``).join(', ')}${g.dirtySrc.length > 6 ? ', …' : ''})` : ', src/ clean'}`;
  if (runs.length > 1) L.push(`- Code: ${runs.map((x) => `${x.git ? code(x.git) : 'commit unknown'} (${names(x.sections)})`).join('; ')}.`);
  else if (m.git) L.push(`- Code: ${code(m.git)}.`);
  L.push(`- Machine: ${m.nproc} CPUs (${m.cpuModel}${m.avx2 ? ', AVX2' : ''}), ${m.memoryGiB} GiB; kernel ${m.kernel}; ${m.nft}; ${m.iptables}; ${m.ipset}; sockperf ${m.sockperf}; Node.js ${m.node}.`);
  L.push(`- The machine is shared: load average ${m.loadavgStart} at the start and ${m.loadavgEnd ?? '?'} at the end${runs.length > 1 ? ` of the last run (${names(runs[runs.length - 1].sections)})` : ''} (per section: ${r.sections.map((s) => `${s.name} ${s.loadavgStart.split(' ')[0]}→${s.loadavgEnd.split(' ')[0]}`).join(', ')}). Ratios to a baseline measured right before and after each run cancel most of that; absolute figures (packets/s, lines/s, milliseconds) move with it. The lines-per-CPU-second figure does not depend on waiting for a CPU.`);
  if (runs.length > 1) L.push(`- Runs: ${runs.map((x) => `${names(x.sections)} from \`${x.command}\` started ${x.startedAt}`).join('; ')} (\`BENCH_MERGE=1\` keeps the sections a run does not measure).`);
  L.push(`- Sections and their durations: ${r.sections.map((s) => `${s.name} ${Math.round(s.seconds)} s`).join(', ')}.`);
  L.push('- Exceptions (bench/lib/workload.ts): distinct destinations in 10/8, 172.20/16, 192.168/16 and fd57::/16; by position mod 20: 35 % every container with one port, 5 % every container without ports, 15 % one network with two ports, 20 % one container with a port, 5 % one container without ports, 10 % a label with a port, 5 % a 101-port range, 5 % IPv6. Scopes resolve against a 1,000-container inventory (9 bridge networks). None matches the benchmark traffic.');
  L.push("- The guide's layout (bench/lib/workload.ts `guideRestore`): one `DOCKER-USER … -j RETURN` rule per exception and port ahead of the jumps to `DOCKER-USER-DENY-INTERNAL` for `-o eth+` and `-o lo`, 6 blocked IPv4 ranges, a rate-limited LOG and DROP — reconstructed from the guide's description (its script is not in our copy); no established/related shortcut, so replies walk the exceptions too. The host's uplink is called `eth0`, so its `-o eth+` matches.");
  if (r.forwarding?.results.some((x) => x.approach === 'nftables-hash')) L.push('- The what-if (bench/lib/whatif.ts): lanfence\'s nftables table with exceptions to one address and one port moved from the `flags interval` concatenated sets into hash sets (same verdicts).');
  L.push('- Medians with min–max over runs; percentiles are nearest-rank. Rule sets use the LOG prefix `LFBENCH_DROP: ` so no log reader counts them.');
  L.push('- Reproduce: `sudo npm run bench` (needs `sockperf`, `nftables`, `iptables`, `ipset`, `iproute2`; ~20 min). `BENCH_SMOKE=1 npm run bench` runs a tiny version into a temporary directory; `BENCH_ONLY=forwarding,apply` runs some sections.');
  L.push('');
  return L.join('\n');
}

/** The why and what-would-close-it, from the figures. */
function analysis(r: BenchResults): string[] {
  const L: string[] = [];
  const f = r.forwarding;
  if (f) {
    const top = Math.max(...f.sizes);
    const at = (a: Approach, n: number) => f.results.find((x) => x.approach === a && x.exceptions === n);
    const nft = at('nftables', top);
    const guide = at('guide', top);
    const ipt = at('iptables', top);
    const fwd = at('firewalld', top);
    const nft0 = f.sizes.includes(0) ? at('nftables', 0) : undefined;
    const nftAll = f.sizes.map((n) => at('nftables', n)).filter((x) => x !== undefined);
    const ipt0 = f.sizes.includes(0) ? at('iptables', 0) : undefined;
    if (nft) {
      L.push(`**Forwarding.** With ${sizeLabel(top)} exceptions, lanfence's nftables table forwards new-connection packets at ${num(nft.ratio.median)} of the baseline${guide ? ` (the guide's layout ${num(guide.ratio.median)}, lanfence iptables ${num(ipt?.ratio.median)}, lanfence firewalld ${num(fwd?.ratio.median)})` : ''}${nft0 ? `; at 0 exceptions ${num(nft0.ratio.median)}${ipt0 ? ` (iptables ${num(ipt0.ratio.median)})` : ''}` : ''}. The nftables layout changed since the run that measured 0.85 at 0 and 0.18 at 10,000 exceptions (docs/benchmarks.md at commit \`7b0a406\`), in two ways. First, exceptions are looked up only for packets to a blocked destination (\`ip daddr @blocked4 goto judge4\`): an exception only ever lets through what would otherwise be blocked, so a new connection to anywhere else — this benchmark's traffic to a public address — makes three set lookups (the interface set twice, the blocked ranges) whatever the number of exceptions, where it used to make seven (four exception sets, declared and referenced even when empty). Second, exact exceptions (one address, one port or none; every container, one container or one network) are in hash sets, whose lookup cost does not grow with their size; \`flags interval\` sets — concatenations the kernel stores as pipapo sets, whose lookup walks bitmaps as long as the number of elements — are left for CIDRs and port ranges, keyed destination first so that a lookup stops at the first field nothing matches. The packets measured here never reach the exception sets, so they traverse the same rules at every size (${nftAll.map((x) => `${num(x.ratio.median)} at ${sizeLabel(x.exceptions)}`).join(', ')}: the spread is the shared machine's, see the runs' min–max); what a packet to a blocked destination pays for the exception sets — the second change — is not measured by this table. ${nft.ratio.median >= 0.95 ? '' : `What is left to the baseline is the table's own cost per new connection (a base chain on the forward hook, the conntrack state test, three set lookups). `}Established traffic is another matter: lanfence's layouts accept \`ct state established,related\` first, so a request/response round trip (established after its first packet) costs ${num(nft.rttRatio.median)}× the baseline's with nftables${ipt ? `, ${num(ipt.rttRatio.median)}× with iptables` : ''}${guide ? `, against ${num(guide.rttRatio.median)}× with the guide's layout, which has no such shortcut and charges every packet of every connection` : ''}. So the forwarding penalty above is paid by the first packet of each new connection (and by every packet of unanswered UDP), not by established traffic.`);
      L.push('');
    }
  }
  const a = r.apply;
  if (a) {
    const p = (ap: string, n: number) => a.points.find((x) => x.approach === ap && x.exceptions === n);
    const n10 = p('nftables', 10_000);
    const n0 = p('nftables', 0);
    const parse1k = a.cpu.find((c) => c.exceptions === 1000)?.parseSeconds;
    const nf100k = p('nftables', 100_000);
    const i0 = p('iptables', 0);
    const i10 = p('iptables', 10_000);
    const g1k = p('guide-per-rule', 1000);
    const g10k = p('guide-per-rule', 10_000);
    const guideText = g1k ? ` The guide's one command per rule took ${g1k.capped ? `more than ${a.capSeconds} s (${int(g1k.completed)} of ${int(g1k.planned)} commands)` : secs(g1k.seconds)} for 1,000 exceptions${g10k?.capped ? ` and had done ${int(g10k.completed)} of ${int(g10k.planned)} commands for 10,000 when it was stopped at ${a.capSeconds} s` : ''}: each \`iptables\` process re-reads the growing table.` : '';
    L.push(`**Apply.** Applying is one kernel transaction whatever the size${n0 && n10 ? `: nftables takes ${secs(n0.seconds)} for none and ${secs(n10.seconds)} for 10,000` : ''}${nf100k?.seconds ? ` and ${secs(nf100k.seconds)} for 100,000${nf100k.seconds > 30 ? ' (close to the 60 s that \`runCommand\` allows a command by default: the harness gives the backends 10 minutes)' : ''}` : ''}.${guideText}${n0?.seconds && n10?.seconds && n10.seconds / n0.seconds > 2 ? ` Against *none*, though, 10,000 exceptions cost ${num(n10.seconds / n0.seconds, 0)}× as much with nftables${i0?.seconds && i10?.seconds ? ` (iptables ${num(i10.seconds / i0.seconds, 1)}×)` : ''}: the empty apply is little more than starting \`nft\`, while the 10,000-element apply is the kernel building the sets — mostly hash sets since exact exceptions went into them (before, every exception was in a pipapo interval set, whose insertion cost grows with its size: 479 ms for 10,000 and 31.1 s for 100,000 in the run at commit \`7b0a406\`; now 100,000 take ${nf100k?.seconds ? secs(nf100k.seconds) : '?'}); iptables adds \`ipset restore\` and saving and restoring the tables around it. What would close the 2× target: fewer elements (an exception with several ports is one element per port); short of that, the target is better stated in absolute time (10,000 exceptions in ${n10 ? secs(n10.seconds) : '?'} is fast enough for a reconcile).` : ' Against *none*, 10,000 exceptions stay within 2×.'} Before the kernel, \`lanfence apply\` loads the policy (${a.cpu.filter((c) => c.parseSeconds !== null && c.exceptions > 0).map((c) => `${sizeLabel(c.exceptions)} exceptions ${secs(c.parseSeconds)}`).join(', ')}) and renders it (10,000 exceptions: ${['nftables', 'iptables', 'firewalld'].map((b) => `${b} ${secs(a.cpu.find((c) => c.exceptions === 10_000)?.render[b as 'nftables'])}`).join(', ')}); the daemon does both on every reconcile. The renderers do not scale to 100,000: the iptables renderer copies a group's array for every element (\`byGroup.set(id, [...byGroup.get(id), e])\` in \`planExceptions\`, ≈ 230 s at 100,000 during development, so not run here), and the nftables and iptables renderers look each element's exception up with \`exceptions.find\` (quadratic; ≈ 80 s for nftables at 100,000 during development — the harness renders that size with a resuming \`find\`, same text). An index by exception number, and appending to the group arrays, would make them linear.`);
    L.push('');
  }
  const re = r.reaction;
  if (re && re.start.length) {
    const s = re.start[0];
    const top = Object.entries(s.breakdown).sort((x, y) => y[1] - x[1]);
    L.push(`**Reaction.** A label exception goes live after p50 ${int(s.ms.p50)} ms, p99 ${int(s.ms.p99)} ms (${s.config.name})${re.start.length > 1 ? `; ${re.start.slice(1).map((x) => `p50 ${int(x.ms.p50)} ms, p99 ${int(x.ms.p99)} ms (${x.config.name})`).join('; ')}` : ''}. ${re.start.every((x) => x.ms.p99 <= 200) ? 'Within the target.' : 'Over the target.'} A container start is a 15 ms debounce, Docker's state, resolving and rendering the policy, and one small \`nft -f\` with the set statements: the daemon does not inspect the live table before it when the last check matched and nothing failed since (the periodic check still compares the whole table and repairs), does not run \`nft -c\` first (the update is one transaction, applied whole or not at all), and parses the policy file again only when its text changed. After the update it reads back the sets it changed (\`nft -j list set\`, once the exception is already live); a difference there leads to a full inspection and a repair, and a refused update (the table gone) is recorded as drift and answered with a full apply. Per event until the exception is live (medians, ms): ${top.filter(([, v]) => v >= 0.5).slice(0, 3).map(([k, v]) => `${k} ${int(v)}`).join(', ')}. The slow tail is most likely a start that arrives while the periodic drift check (a full inspection, over 100 ms) is running: the set update waits for it, one firewall change at a time. Every step is still a new process (\`ip netns exec\` + \`nft\`), tens of milliseconds on this shared 2-CPU machine, and the timing moves with its load${re.start.every((x) => x.ms.p99 <= 200) ? '' : '; keeping one `nft` process open (`nft -i`) or talking netlink would remove most of what is left'}.`);
    L.push('');
  }
  const lg = r.logs;
  if (lg) {
    const p = lg.stages.find((x) => x.name === 'parse')!;
    const at = lg.stages.find((x) => x.name === 'parse+attribute');
    const ag = lg.stages.find((x) => x.name === 'parse+attribute+aggregate');
    const kinds = [...(lg.byKind ?? [])].sort((x, y) => x.cpuLinesPerSecond - y.cpuLinesPerSecond);
    const slow = kinds.filter((k) => k.cpuLinesPerSecond < 500_000);
    const cost = kinds.map((k) => ({ ...k, cost: k.share / k.cpuLinesPerSecond }));
    const total = cost.reduce((n, k) => n + k.cost, 0);
    const heaviest = cost.length ? cost.map((k) => ({ ...k, timeShare: k.cost / total })).sort((x, y) => y.timeShare - x.timeShare)[0] : undefined;
    const withoutHeaviest = heaviest ? (1 - heaviest.share) / (total - heaviest.cost) : 0;
    L.push(`**Parser.** ${int(p.linesPerSecond)} lines/s of wall-clock time, ${int(p.cpuLinesPerSecond)} per CPU second, on a realistic mix. ${p.cpuLinesPerSecond >= 500_000 ? `Per CPU second the target is met${p.linesPerSecond >= 500_000 ? ', and in wall-clock time too' : '; the wall-clock figure is lower because the machine was shared'}.${kinds.length ? ` By kind of line (per CPU second): ${kinds.map((k) => `${k.name} ${int(k.cpuLinesPerSecond)}`).join(', ')}${slow.length ? ` — below 500,000 on their own: ${slow.map((k) => k.name).join(', ')}` : ''}.` : ''}` : `Below the target even per CPU second.${kinds.length ? ` By kind of line (per CPU second): ${kinds.map((k) => `${k.name} ${int(k.cpuLinesPerSecond)}`).join(', ')} — ${slow.length === kinds.length ? 'every kind misses it, so the per-line cost itself has to come down (profile the common kmsg IPv4 path first), not one slow framing' : `missed for ${slow.map((k) => k.name).join(', ')}`}.${heaviest ? ` ${heaviest.name} lines are ${Math.round(heaviest.share * 100)} % of the mix and ${Math.round(heaviest.timeShare * 100)} % of the parse time${heaviest.name === 'kmsg-ipv6' ? ': the IPv6 line is where the time goes (from the code, most likely the address canonicalisation, whose cache is keyed by address — the corpus has many distinct IPv6 addresses, as a scan would); without it the mix would parse at about ' + int(withoutHeaviest) + ' lines per CPU second' : ''}.` : ''}` : ''}`}${at ? ` Parse and attribute together: ${int(at.cpuLinesPerSecond)} lines per CPU second${ag ? `, and ${int(ag.cpuLinesPerSecond)} with aggregation` : ''}. ${at.cpuLinesPerSecond * 2 < p.cpuLinesPerSecond ? `Attribution costs more than parsing: from the code, \`Attributor.entryFor\` finds the blocked range with \`containsAddress\` per range, which parses the destination and the range's address with ipaddr.js each time, and its cache holds 10,000 destinations, which a flood with many distinct destinations (a scan) keeps missing; comparing pre-parsed numeric ranges would remove most of it.` : `${1e6 / at.cpuLinesPerSecond - 1e6 / p.cpuLinesPerSecond < 0.05 ? 'Attribution adds no cost this benchmark can tell from run-to-run noise' : `Attribution costs about ${num(1e6 / at.cpuLinesPerSecond - 1e6 / p.cpuLinesPerSecond, 2)} µs per line`}: the source is one map lookup in the inventory's addresses, the destination one pass over the blocked ranges pre-parsed to 32-bit words (\`RangeTable\`: the same answer as ipaddr.js's \`containsAddress\`, without parsing per line or a cache a scan would miss).`}${ag && ag.cpuLinesPerSecond * 1.5 < at.cpuLinesPerSecond ? ` Aggregation (flows and scan detection, \`Aggregator.add\`) is then the larger cost: ${num(1e6 / ag.cpuLinesPerSecond - 1e6 / at.cpuLinesPerSecond, 1)} µs per line.` : ''}` : ''}`);
    L.push('');
  }
  const d = r.daemon;
  if (d) {
    const idle = d.phases.find((x) => x.phase === 'idle');
    const c = d.phases.find((x) => x.phase === 'containers');
    const fl = d.phases.find((x) => x.phase === 'flood');
    const mem = (c?.detail as { memory?: { heapUsedMiB: number; heapTotalMiB: number } } | undefined)?.memory;
    const sample = r.logs?.corpus.sample ?? [];
    const corpusMB = sample.length ? (r.config.daemon.corpus * (sample.reduce((n, l) => n + l.length + 16, 0) / sample.length)) / 1e6 : 0;
    L.push(`**Daemon memory.** ${num(idle?.rssMiB, 0)} MiB idle, ${num(c?.rssMiB, 0)} MiB with ${int(d.containers)} containers, ${num(fl?.maxRssMiB, 0)} MiB at most under a log flood; a bare Node.js process is ${num(d.bareNodeMiB, 0)} MiB. ${c && (c.rssMiB * 1048576) / 1e6 > 80 ? 'Over the 80 MB target' : 'Within the 80 MB target'}${d.nodeOptions ? ` with lanfence.service's V8 flags (\`${d.nodeOptions}\`: a young generation of 1 MiB semi-spaces instead of up to 16 MiB; measured once each way during development: 82 → 71 MiB with 1,000 containers, and under the flood 54,691 → 49,526 lines/s — the price is more frequent minor collections while the daemon allocates fast)` : ''}. The JSON API (and explain and plan behind it) loads on the dashboard's first request; \`lanfence daemon\` registers only its own command, not the CLI's others. Of the containers figure the V8 heap is ${mem ? `${num(mem.heapTotalMiB, 0)} MiB (${num(mem.heapUsedMiB, 0)} MiB in use)` : 'a part'}, code and the runtime the remainder. Not in this figure: the benchmark's Docker is scripted, so dockerode is not loaded; \`lanfence daemon\` loads it, and with it ssh2 and gRPC, which dockerode requires at start whatever the connection (about 13 MiB more, loading the daemon's modules with and without it) — a small Engine API client over the unix socket (four GET requests and the event stream) would avoid that. Under a flood the drop feed (10,000 records), the aggregator (20,000 flows) and metric labels are bounded but large — smaller caps bring the flood figure down${corpusMB ? ` (about ${num(corpusMB, 0)} MB of the flood figure is the benchmark's own corpus of ${int(r.config.daemon.corpus)} lines, held in the same process)` : ''}.`);
    L.push('');
  }
  return L;
}
