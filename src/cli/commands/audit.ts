/**
 * `lanfence audit report`: per container, per destination/port/protocol: count, first and last seen,
 * with repeated use of one service (a candidate exception) told apart from scans.
 * `lanfence audit suggest`: the `allow:` entries that would let exactly the services seen through;
 * `--write` merges them into the policy file (comments and layout kept, validated, atomic).
 */
import { Option } from 'commander';
import { EXIT, LanfenceError, UsageError } from '../../errors.js';
import { Aggregator, flowPortText, type AuditReport, type ContainerSummary, type FlowView } from '../../logs/aggregate.js';
import { entryText } from '../../logs/attribute.js';
import { mergeIntoPolicy, packetOf, renderItems, scopeName, SKIP_SUMMARY, suggest, writeFileAtomic, type SkipKind, type SuggestResult } from '../../logs/suggest.js';
import { parsePolicy } from '../../policy/load.js';
import { evaluate } from '../../ruleset/evaluate.js';
import { resolve } from '../../ruleset/resolve.js';
import { addLogInputOptions, localTime, openLogSession, statsText, targetPolicy, type LogInputOptions, type LogSession } from './logs.js';
import { outputState, printJson, type Io } from '../output.js';
import type { CommandModule } from './types.js';

/** Reads the source to its end into an aggregator. */
export async function collect(session: LogSession): Promise<Aggregator> {
  const agg = new Aggregator();
  for await (const rec of session.source.records(session.parser, session.since ? { since: session.since } : {})) agg.add(session.attributor.attribute(rec));
  return agg;
}

const CLASS_LABEL: Record<FlowView['class'], string> = { service: 'service', once: 'once', scan: 'scan' };

interface Widths {
  dst: number;
  port: number;
  entry: number;
}

function flowLine(f: FlowView, w: Widths): string {
  const when = f.first === undefined ? '' : f.first === f.last ? localTime(f.first) : `${localTime(f.first)} → ${localTime(f.last)}`;
  return `  ${CLASS_LABEL[f.class].padEnd(7)}  ${f.dst.padEnd(w.dst)}  ${flowPortText(f).padEnd(w.port)}  ${entryText(f.entry).padEnd(w.entry)}  ${String(f.count).padStart(6)}  ${when}`;
}

function containerHeader(c: ContainerSummary): string {
  const h = c.holder;
  const about = h ? [h.composeProject ? `project ${h.composeProject}` : '', h.network ? `network ${h.network}` : ''].filter(Boolean).join(', ') : 'not attributed';
  return `${c.container}${about ? ` (${about})` : ''}: ${c.lines} line(s)`;
}

export function formatReport(r: AuditReport, session: Pick<LogSession, 'source' | 'prefix'>): string[] {
  const t = r.thresholds;
  const lines = [
    `audit report: ${r.lines} drop line(s) from ${session.source.description} (prefix "${session.prefix}")${r.first !== undefined ? `, ${localTime(r.first)} → ${localTime(r.last)}` : ''}`,
    `classes: service = seen ≥ ${t.serviceMin} times outside scans (a candidate exception), once = seen once, scan = part of a scan (≥ ${t.scanPorts} ports of one host or ≥ ${t.scanHosts} hosts within ${t.scanWindowMs / 1000} s)`,
  ];
  if (r.containers.length === 0) lines.push('', 'nothing was blocked (or logged) in this period');
  const shown = r.containers.flatMap((c) => c.flows.filter((f) => f.class !== 'scan'));
  const w: Widths = {
    dst: Math.max(11, ...shown.map((f) => f.dst.length)),
    port: Math.max(10, ...shown.map((f) => flowPortText(f).length)),
    entry: Math.max(5, ...shown.map((f) => entryText(f.entry).length)),
  };
  for (const c of r.containers) {
    lines.push('', containerHeader(c));
    const listed = c.flows.filter((f) => f.class !== 'scan');
    const scanFlows = c.flows.length - listed.length;
    if (listed.length)
      lines.push(
        `  ${'CLASS'.padEnd(7)}  ${'DESTINATION'.padEnd(w.dst)}  ${'PORT/PROTO'.padEnd(w.port)}  ${'ENTRY'.padEnd(w.entry)}  ${'COUNT'.padStart(6)}  FIRST → LAST`,
        ...listed.map((f) => flowLine(f, w)),
      );
    for (const s of c.scans) {
      const what = s.kind === 'ports' ? `port scan of ${s.target}: ${s.distinct}+ ports` : `sweep: ${s.distinct}+ hosts`;
      lines.push(`  SCAN     ${what}, ${s.lines} line(s), ${localTime(s.start)} → ${localTime(s.end)}`);
    }
    if (c.scansDropped) lines.push(`  (${c.scansDropped} more scan(s) not kept)`);
    if (scanFlows) lines.push(`  (${scanFlows} flow(s) seen only in scans are not listed; --json has them)`);
  }
  if (r.overflow.flows || r.overflow.containers)
    lines.push('', `note: ${r.overflow.flows} line(s) of new flows and ${r.overflow.containers} line(s) of further containers were counted but not kept (memory caps)`);
  return lines;
}

interface ReportOpts extends LogInputOptions {
  json?: boolean;
}

interface SuggestOpts extends LogInputOptions {
  minCount?: string;
  write?: boolean;
  json?: boolean;
}

function reportJson(r: AuditReport, session: LogSession): Record<string, unknown> {
  const iso = (ms?: number) => (ms === undefined ? null : new Date(ms).toISOString());
  return {
    source: session.source.description,
    prefix: session.prefix,
    policy: session.policy.file,
    attribution: session.attributor.attributionSource,
    since: session.since?.toISOString() ?? null,
    lines: r.lines,
    first: iso(r.first),
    last: iso(r.last),
    thresholds: r.thresholds,
    containers: r.containers.map((c) => ({
      container: c.container,
      id: c.holder?.id ?? null,
      network: c.holder?.network ?? null,
      composeProject: c.holder?.composeProject ?? null,
      lines: c.lines,
      flows: c.flows.map((f) => ({
        class: f.class,
        dst: f.dst,
        proto: f.proto,
        ...(f.dport !== undefined ? { dport: f.dport } : {}),
        ...(f.icmpType !== undefined ? { icmpType: f.icmpType } : {}),
        path: f.path,
        entry: f.entry === null ? null : f.entry.kind === 'host' ? 'host' : f.entry.name,
        entryCidr: f.entry?.kind === 'blocked' ? f.entry.cidr : null,
        count: f.count,
        scanCount: f.scanCount,
        first: iso(f.first),
        last: iso(f.last),
      })),
      scans: c.scans.map((s) => ({ ...s, start: iso(s.start), end: iso(s.end) })),
      scansDropped: c.scansDropped,
    })),
    overflow: r.overflow,
    parser: session.parser.stats,
  };
}

async function runReport(opts: ReportOpts, io: Io): Promise<number> {
  outputState.json = !!opts.json;
  const session = await openLogSession(opts);
  if (!opts.json) for (const n of session.notes) io.err(`note: ${n}`);
  const agg = await collect(session);
  const report = agg.report();
  if (opts.json) printJson(io, { ok: true, ...reportJson(report, session), notes: session.notes });
  else {
    io.out(formatReport(report, session).join('\n'));
    io.err(statsText(session.parser.stats));
  }
  return EXIT.ok;
}

function skippedSummary(r: SuggestResult): string[] {
  const byKind = new Map<SkipKind, number>();
  for (const s of r.skipped) byKind.set(s.kind, (byKind.get(s.kind) ?? 0) + 1);
  return [...byKind].map(([kind, n]) => `${n} flow(s) not suggested: ${SKIP_SUMMARY[kind]}`);
}

async function runSuggest(opts: SuggestOpts, io: Io): Promise<number> {
  outputState.json = !!opts.json;
  const minCount = opts.minCount === undefined ? 1 : Number(opts.minCount);
  if (!Number.isInteger(minCount) || minCount < 1) throw new UsageError(`--min-count: expected a whole number ≥ 1, got "${opts.minCount}"`);
  const session = await openLogSession(opts);
  if (!opts.json) for (const n of session.notes) io.err(`note: ${n}`);
  const target = targetPolicy(opts.policy);
  const agg = await collect(session);
  const now = new Date();
  const result = suggest(agg.flowViews(), { ruleset: target.ruleset, inventory: session.inventory, minCount });
  const notes: string[] = [];

  let written: { file: string; method: string } | null = null;
  if (opts.write) {
    if (!target.file) throw new LanfenceError('no policy file to write to (the embedded default is in use): create one with `lanfence init`, or give --policy FILE');
    const merged = mergeIntoPolicy(target.text, target.file, result.suggestions, now);
    if (merged.method !== 'unchanged') {
      writeFileAtomic(target.file, merged.text);
      written = { file: target.file, method: merged.method };
      // Prove it: under the merged policy, every suggested flow passes (unless its scope matches nothing now).
      const { ruleset } = parsePolicy(merged.text, target.file);
      const resolved = resolve(ruleset!, session.inventory);
      for (const s of result.suggestions)
        for (const f of s.flows) {
          const v = evaluate(resolved, packetOf(f));
          if (v.verdict !== 'pass') notes.push(`${scopeName(s.from)} → ${f.dst} ${f.dport}/${f.proto} is still not allowed (${v.reason}): is the container running?`);
        }
      for (const n of resolved.notes) if (/allow #\d+/.test(n)) notes.push(n);
    }
  }

  if (opts.json) {
    printJson(io, {
      ok: true,
      policy: target.file,
      suggestions: result.suggestions.map((s) => ({
        from: s.from,
        to: s.to,
        ports: s.ports.map((p) => `${p.from === p.to ? p.from : `${p.from}-${p.to}`}/${p.proto}`),
        containers: s.containers,
        count: s.count,
        first: s.first !== undefined ? new Date(s.first).toISOString() : null,
        last: s.last !== undefined ? new Date(s.last).toISOString() : null,
      })),
      yaml: renderItems(result.suggestions, 2, now),
      skipped: result.skipped.map((s) => ({ container: s.flow.container, dst: s.flow.dst, port: flowPortText(s.flow), count: s.flow.count, kind: s.kind, reason: s.reason })),
      written,
      notes: [...session.notes, ...notes],
      parser: session.parser.stats,
    });
    return EXIT.ok;
  }

  if (result.suggestions.length === 0) io.out(`# no exceptions to suggest from ${agg.counters().lines} drop line(s)`);
  else io.out(`# ${result.suggestions.length} exception(s) suggested by \`lanfence audit suggest\`\nallow:\n${renderItems(result.suggestions, 2, now).replace(/\n$/, '')}`);
  for (const l of skippedSummary(result)) io.err(`note: ${l}`);
  for (const n of notes) io.err(`note: ${n}`);
  io.err(statsText(session.parser.stats));
  if (opts.write) {
    if (written) io.err(`added ${result.suggestions.length} exception(s) to ${written.file}${written.method === 'reformat' ? ' (its layout had to be re-serialised; comments were kept)' : ''}; the file validates. Apply it with: lanfence apply --policy ${written.file}`);
    else io.err(`nothing to add to ${target.file}`);
  }
  return EXIT.ok;
}

export const auditCommand: CommandModule = {
  name: 'audit',
  register(program, io, setExit) {
    const audit = program.command('audit').description('what the drop log says: a report per container, and suggested exceptions');
    const report = audit
      .command('report')
      .description('per container, per destination/port/protocol: count, first and last seen; services told apart from scans')
      .option('--json', 'machine-readable report on stdout');
    addLogInputOptions(report, 'only lines since then (1h, 7d, or a date)', '7d').action(async (opts: ReportOpts) => setExit(await runReport(opts, io)));

    const sug = audit
      .command('suggest')
      .description('allow: entries for the services containers were seen using (scoped, exact destination and ports, commented)')
      .addOption(new Option('--min-count <n>', 'lines (outside scans) a flow needs to be suggested').default('1'))
      .option('--write', 'merge the entries into the policy file (comments and layout kept; validated; atomic)')
      .option('--json', 'machine-readable result on stdout');
    addLogInputOptions(sug, 'only lines since then (1h, 7d, or a date)', '7d').action(async (opts: SuggestOpts) => setExit(await runSuggest(opts, io)));
  },
};
