/**
 * Apply: how long putting N exceptions into the kernel takes, per backend (backend.apply through
 * `inNetns`, into a fresh namespace holding Docker's skeleton), against the guide's way (one
 * `iptables -A` per rule), up to where that stays practical. Plus the CPU side of `lanfence apply`
 * that comes before the kernel: loading the policy and rendering.
 */
import { nftablesBackend } from '../../src/backends/nftables/index.js';
import { iptablesBackend } from '../../src/backends/iptables/index.js';
import { firewalldBackend } from '../../src/backends/firewalld/index.js';
import type { Backend, Rendered } from '../../src/backends/types.js';
import { inNetns, runCommand, type Runner } from '../../src/exec.js';
import { parsePolicy } from '../../src/policy/load.js';
import { median, round } from '../lib/stats.js';
import { createNs, deleteNs, inNs, sh } from '../lib/sys.js';
import { firewalldRestore, loadFirewalldRestore, resetRules } from '../lib/topology.js';
import { guideCommands, guideRestore, policyYaml, workload, type Workload } from '../lib/workload.js';

export type ApplyApproach = 'nftables' | 'iptables' | 'firewalld-kernel' | 'guide-per-rule';

export const APPLY_LABEL: Record<ApplyApproach, string> = {
  nftables: 'lanfence nftables (backend.apply)',
  iptables: 'lanfence iptables (backend.apply)',
  'firewalld-kernel': 'lanfence firewalld direct rules, as firewalld hands them to the kernel (iptables-restore; no firewalld)',
  'guide-per-rule': "the guide's way: one command per rule (iptables -A)",
};

export interface ApplyOptions {
  sizes: number[];
  /** Repetitions up to 10,000 exceptions (one above). */
  reps: number;
  /** The guide's per-rule approach stops after this many seconds. */
  capSeconds: number;
  /** Policy loading is timed up to this many exceptions. */
  parseMax: number;
  /** iptables rendering is quadratic: it is skipped above this size. */
  iptablesMax: number;
  log: (m: string) => void;
}

export interface ApplyPoint {
  approach: ApplyApproach;
  exceptions: number;
  /** Median seconds, and every run. */
  seconds: number | null;
  runs: number[];
  /** Kernel objects applied: rules + set members (per the rendering). */
  objects?: number;
  /** Guide: commands run of those planned, when the cap stopped it. */
  completed?: number;
  planned?: number;
  capped?: boolean;
  skipped?: string;
}

export interface CpuPoint {
  exceptions: number;
  /** parsePolicy of the YAML (s), null when not run. */
  parseSeconds: number | null;
  /** resolve + render per backend (s). */
  render: Partial<Record<'nftables' | 'iptables' | 'firewalld', number | null>>;
  renderedBytes: Partial<Record<'nftables' | 'iptables' | 'firewalld', number>>;
  notes: string[];
}

export interface ApplyResult {
  sizes: number[];
  reps: number;
  capSeconds: number;
  points: ApplyPoint[];
  cpu: CpuPoint[];
}

/**
 * The backends' runner inside `ns`, with a 10-minute command timeout: runCommand's default (60 s)
 * is close to what nft needs for 100,000 exceptions on a loaded machine.
 */
const runner = (ns: string): Runner => inNetns(ns, (cmd, args, opts) => runCommand(cmd, args, { ...opts, timeoutMs: opts?.timeoutMs ?? 600_000 }));

const time = async (f: () => Promise<unknown>): Promise<number> => {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
};

/** A fresh namespace with Docker's skeleton; removed afterwards. */
async function inFreshNs<T>(f: (ns: string) => Promise<T>): Promise<T> {
  const ns = await createNs('apply');
  try {
    await resetRules(ns);
    return await f(ns);
  } finally {
    await deleteNs(ns);
  }
}

function objectsOf(r: Rendered): number {
  return r.parts.reduce((n, p) => n + p.content.split('\n').filter((l) => /^(-A |add |\t\t\t|\t\t[a-z]|firewall-cmd --permanent --direct --add-rule)/.test(l)).length, 0);
}

export async function applyBench(o: ApplyOptions): Promise<ApplyResult> {
  const points: ApplyPoint[] = [];
  const cpu: CpuPoint[] = [];
  for (const n of o.sizes) {
    const notes: string[] = [];
    const point: CpuPoint = { exceptions: n, parseSeconds: null, render: {}, renderedBytes: {}, notes };
    // Policy loading (YAML → Ruleset), as `lanfence apply` and the daemon's every reconcile do it.
    if (n <= o.parseMax) {
      const yaml = policyYaml(n);
      const t0 = performance.now();
      const parsed = parsePolicy(yaml, 'bench-policy.yaml');
      point.parseSeconds = round((performance.now() - t0) / 1000, 3);
      if (!parsed.ruleset) throw new Error(`bench policy with ${n} exceptions is invalid: ${parsed.diagnostics[0]?.message}`);
      if (parsed.ruleset.exceptions.length !== n) throw new Error(`bench policy: ${parsed.ruleset.exceptions.length} exceptions, expected ${n}`);
    } else notes.push(`policy loading not timed above ${o.parseMax.toLocaleString('en')} exceptions`);

    // Rendering. Above 10,000 the renderers' own comment lookups are quadratic: the rule set is then
    // built with exceptions whose find() resumes at the last hit (same output, checked at 10,000).
    const big = n > 10_000;
    const t0 = performance.now();
    const w: Workload = workload(n, 1000, big);
    const resolveSeconds = (performance.now() - t0) / 1000;
    const rendered = new Map<string, Rendered>();
    for (const b of [nftablesBackend, iptablesBackend, firewalldBackend] as Backend[]) {
      if (b.name === 'iptables' && n > o.iptablesMax) {
        point.render.iptables = null;
        notes.push(`iptables rendering not run above ${o.iptablesMax.toLocaleString('en')} exceptions: it is quadratic (planExceptions copies its group array per element; ≈ 230 s at 100,000 when measured once during development)`);
        continue;
      }
      const t1 = performance.now();
      const r = b.render(w.resolved);
      point.render[b.name] = round(resolveSeconds + (performance.now() - t1) / 1000, 3);
      point.renderedBytes[b.name] = r.text.length;
      rendered.set(b.name, r);
    }
    if (big) notes.push('rendered with the resuming find() (identical text verified at 10,000); render times at this size are not the product\'s');
    if (n === 10_000) {
      const fast = workload(n, 1000, true);
      for (const b of [nftablesBackend, firewalldBackend]) {
        if (b.render(fast.resolved).text !== rendered.get(b.name)!.text) throw new Error(`${b.name}: the resuming find() changes the rendering`);
      }
      notes.push('resuming find(): nftables and firewalld renderings identical to the plain ones');
    }
    cpu.push(point);
    o.log(`apply: ${n} exceptions rendered (${Object.entries(point.render).map(([k, v]) => `${k} ${v ?? '-'}s`).join(', ')}${point.parseSeconds !== null ? `, policy load ${point.parseSeconds}s` : ''})`);

    const reps = n > 10_000 ? 1 : o.reps;
    const runBackend = async (approach: ApplyApproach, apply: (ns: string) => Promise<unknown>, objects?: number) => {
      const runs: number[] = [];
      for (let i = 0; i < reps; i++) runs.push(await inFreshNs((ns) => time(() => apply(ns))));
      points.push({ approach, exceptions: n, seconds: round(median(runs), 3), runs: runs.map((x) => round(x, 3)), objects });
      o.log(`apply: ${approach} ${n}: ${runs.map((x) => x.toFixed(2)).join(' ')} s`);
    };
    await runBackend('nftables', (ns) => nftablesBackend.apply(rendered.get('nftables')!, runner(ns)), objectsOf(rendered.get('nftables')!));
    if (rendered.has('iptables')) await runBackend('iptables', (ns) => iptablesBackend.apply(rendered.get('iptables')!, runner(ns)), objectsOf(rendered.get('iptables')!));
    else points.push({ approach: 'iptables', exceptions: n, seconds: null, runs: [], skipped: 'its rendering is quadratic at this size' });
    const fwFiles = firewalldRestore(w.resolved);
    await runBackend('firewalld-kernel', (ns) => loadFirewalldRestore(ns, fwFiles), objectsOf(rendered.get('firewalld')!));

    // The guide: one process per rule, until done or the cap.
    const commands = guideCommands(w.resolved);
    const base = guideBaseCommands();
    const planned = base.length + commands.length;
    const prev = points.filter((p) => p.approach === 'guide-per-rule' && p.seconds !== null).at(-1);
    if (prev && prev.capped) {
      points.push({ approach: 'guide-per-rule', exceptions: n, seconds: null, runs: [], planned, skipped: 'the cap already stopped it at a smaller size' });
      continue;
    }
    await inFreshNs(async (ns) => {
      const t1 = performance.now();
      let done = 0;
      for (const c of [...base, ...commands]) {
        const r = await sh('ip', ['netns', 'exec', ns, c.tool, '-w', '10', ...c.args]);
        if (r.code !== 0) throw new Error(`guide: ${c.tool} ${c.args.join(' ')}: ${r.stderr}`);
        done++;
        if ((performance.now() - t1) / 1000 > o.capSeconds) break;
      }
      const seconds = (performance.now() - t1) / 1000;
      const capped = done < planned;
      points.push({ approach: 'guide-per-rule', exceptions: n, seconds: round(seconds, 3), runs: [round(seconds, 3)], completed: done, planned, capped, objects: planned });
      o.log(`apply: guide-per-rule ${n}: ${done}/${planned} commands in ${seconds.toFixed(1)} s${capped ? ' (cap)' : ''}`);
    });
  }
  return { sizes: o.sizes, reps: o.reps, capSeconds: o.capSeconds, points, cpu };
}

/** The guide's chains, jumps, blocked ranges and drop rules, as one command each (before its exceptions). */
function guideBaseCommands(): { tool: 'iptables' | 'ip6tables'; args: string[] }[] {
  const empty = workload(0, 1).resolved;
  const out: { tool: 'iptables' | 'ip6tables'; args: string[] }[] = [];
  for (const family of [4, 6] as const) {
    const tool = family === 4 ? 'iptables' : 'ip6tables';
    for (const line of guideRestore(empty, family).split('\n')) {
      if (line.startsWith(':') && line !== ':DOCKER-USER - [0:0]') out.push({ tool, args: ['-N', line.slice(1).split(' ')[0]] });
      if (line.startsWith('-A ') && line !== '-A DOCKER-USER -j RETURN') out.push({ tool, args: splitArgs(line) });
    }
  }
  return out;
}

/** Splits a restore line into arguments (double quotes group). */
function splitArgs(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
}

export { inNs };
