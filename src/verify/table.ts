/**
 * The truth table: rows are sources, columns destinations, each cell `expected/observed` (`✗` marks a
 * mismatch, `-` a cell not probed). Too many columns for one screen width are split into blocks, each
 * repeating the row names. Then the legend, the mismatches by name, and what was not probed.
 */
import { cellText, observedText } from './compare.js';
import { hostPort } from './targets.js';
import type { VerifyCell, VerifyColumn, VerifyReport } from './types.js';

const pad = (s: string, w: number) => s + ' '.repeat(Math.max(0, w - [...s].length));
const len = (s: string) => [...s].length;

/** The table itself: rows × columns, split into blocks no wider than `width` (at least one column each). */
export function renderTable(rows: string[], columns: VerifyColumn[], cells: VerifyCell[], width = 120): string[] {
  const index = new Map(cells.map((c) => [`${c.row}\0${c.column}`, c]));
  const text = (row: string, col: VerifyColumn) => {
    const c = index.get(`${row}\0${col.key}`);
    return c ? cellText(c) : '-';
  };
  const rowW = Math.max(6, ...rows.map(len)) + 2;
  const widths = columns.map((col) => Math.max(len(col.label), ...rows.map((r) => len(text(r, col)))));
  const blocks: number[][] = [];
  let current: number[] = [];
  let used = rowW;
  columns.forEach((_, i) => {
    const w = widths[i] + 2;
    if (current.length && used + w > width) {
      blocks.push(current);
      current = [];
      used = rowW;
    }
    current.push(i);
    used += w;
  });
  if (current.length) blocks.push(current);
  const lines: string[] = [];
  blocks.forEach((block, b) => {
    if (b > 0) lines.push('');
    lines.push(`${pad('', rowW)}${block.map((i) => pad(columns[i].label, widths[i] + 2)).join('')}`.trimEnd());
    for (const r of rows) lines.push(`${pad(r, rowW)}${block.map((i) => pad(text(r, columns[i]), widths[i] + 2)).join('')}`.trimEnd());
  });
  return lines;
}

export const cellName = (c: VerifyCell, columns: VerifyColumn[]): string => {
  const col = columns.find((x) => x.key === c.column);
  return `${c.row} × ${col?.label ?? c.column}`;
};

/** `tcp 10.0.0.123:9 from 172.17.0.2`. */
export const targetText = (c: VerifyCell): string =>
  c.target ? `${c.target.proto} ${hostPort(c.target.address, c.target.port)}${c.target.from ? ` from ${c.target.from}` : ''}` : '';

/** Cells not probed (columns not probed at all aside), grouped by row and reason. */
export function notProbed(r: Pick<VerifyReport, 'cells' | 'columns'>): { row: string; why: string; columns: string[] }[] {
  const out: { row: string; why: string; columns: string[] }[] = [];
  for (const c of r.cells) {
    const col = r.columns.find((x) => x.key === c.column);
    if (!c.skip || col?.skip) continue;
    const label = col?.label ?? c.column;
    const group = out.find((g) => g.row === c.row && g.why === c.skip);
    if (group) group.columns.push(label);
    else out.push({ row: c.row, why: c.skip, columns: [label] });
  }
  return out;
}

export function formatReport(r: VerifyReport, width = 120): string[] {
  const lines: string[] = [];
  const verdict = r.ok ? 'every cell matches' : `${r.counts.mismatched} cell(s) DIFFER from the policy`;
  lines.push(`lanfence verify: backend ${r.backend}, mode ${r.mode}, policy ${r.policy.file} (${r.policy.hash}), applied ${r.policy.appliedAt}`);
  lines.push(`${r.sources.length} source(s) × ${r.columns.length} destination(s): ${r.counts.probed} probes in ${r.seconds.toFixed(1)} s, ${verdict}`);
  if (!r.live.matches) lines.push(`the live rules differ from what was applied (lanfence status): ${r.live.differences.slice(0, 5).join('; ')}${r.live.differences.length > 5 ? '; …' : ''}`);
  lines.push('');
  lines.push(...renderTable(r.sources.map((s) => s.name), r.columns, r.cells, width));
  lines.push('');
  lines.push(`cells: expected/observed — ${r.mode === 'audit' ? 'log: the blocked-packet counter rose (logged, passed)' : 'drop: the blocked-packet counter rose'}; pass: it did not; open/closed: the connection succeeded or not; ✗ mismatch; - not probed`);
  lines.push('destinations:');
  const labelW = Math.max(...r.columns.map((c) => len(c.label)), 5);
  for (const c of r.columns) {
    const where = c.address ? `${c.proto} ${hostPort(c.address, c.port)}` : `${c.proto} port ${c.port}`;
    lines.push(`  ${pad(c.label, labelW)}  ${c.skip ? 'not probed' : where}: ${c.what}${c.skip ? ` — ${c.skip}` : ''}${c.note ? ` (${c.note})` : ''}`);
  }
  lines.push(`sources: ${r.sources.map((s) => `${s.name} (${s.kind === 'network' ? `probe namespace on ${s.networks[0]}` : s.networks.join(', ')}${s.addresses[4] ? `, ${s.addresses[4]}` : ''}${s.addresses[6] ? `, ${s.addresses[6]}` : ''})`).join('; ')}`);
  if (r.notVerified.length) lines.push('not verified:', ...r.notVerified.map((n) => `  ${n.name}: ${n.why}`));
  const skipped = notProbed(r);
  if (skipped.length) lines.push('cells not probed (-):', ...skipped.map((s) => `  ${s.row}: ${s.why}: ${s.columns.join(', ')}`));
  if (r.counter.background > 0)
    lines.push(`note: the blocked-packet counter rose by ${r.counter.background} in ${r.counter.backgroundMs} ms while nothing was probed (other containers' traffic); mismatching cells were probed twice`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  if (r.mismatches.length) {
    lines.push(`MISMATCHES (${r.mismatches.length}): container × destination`);
    for (const c of r.mismatches) {
      lines.push(`  ${cellName(c, r.columns)}: ${targetText(c)}`);
      lines.push(`    expected ${c.expected} (explain: ${c.verdict}, ${c.reason})`);
      lines.push(`    observed ${observedText(r.mode, c)}`);
      if (c.firstLook) lines.push(`    (probed twice; the first look: ${c.firstLook.observed}, ${c.firstLook.outcome})`);
      if (c.reproduce) lines.push(`    reproduce: ${c.reproduce}`);
    }
  }
  return lines;
}
