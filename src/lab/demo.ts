/**
 * `lanfence demo`: the lab, offered to users. Builds the sandbox, shows the probe matrix with no
 * rules, applies the embedded default policy inside the sandbox, shows the matrix again side by
 * side, then audit mode with the attributed log lines, and tears everything down. The host's own
 * firewall is never touched: everything happens in network namespaces the demo creates.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Attributor, CurrentStateHistory, LogParser, containerText, entryText, portProtoText } from '../logs/index.js';
import { DEFAULT_POLICY_YAML } from '../policy/default-policy.js';
import { parsePolicy } from '../policy/load.js';
import { createLab, type Lab } from './lab.js';
import { kmsgCursor, readKmsg } from './kmsg.js';
import { expectedResolved, runMatrix, type Cell, type MatrixRun } from './matrix.js';
import { probeText } from './probe.js';

export interface DemoIo {
  out: (s: string) => void;
  step: (s: string) => void;
}

/** Commands the demo needs, with the Debian package that brings each. */
export const DEMO_REQUIREMENTS: [string, string][] = [
  ['nft', 'nftables'],
  ['iptables', 'iptables'],
  ['ip', 'iproute2'],
  ['nsenter', 'util-linux'],
  ['unshare', 'util-linux'],
  ['dockerd', 'docker.io'],
  ['docker', 'docker.io'],
  ['conntrack', 'conntrack'],
];

/** What is missing to run the demo, as messages with the fix. */
export function missingRequirements(onPath: (cmd: string) => boolean, isRoot: boolean, hasBusybox: boolean = existsSync('/bin/busybox')): string[] {
  const out: string[] = [];
  if (!isRoot) out.push('the demo creates network namespaces and a Docker engine in them: run it as root (sudo lanfence demo)');
  const pkgs = new Set<string>();
  for (const [cmd, pkg] of DEMO_REQUIREMENTS) if (!onPath(cmd)) pkgs.add(pkg);
  if (!hasBusybox) pkgs.add('busybox-static');
  if (pkgs.size) out.push(`missing: ${[...pkgs].join(', ')} — install with: apt-get install ${[...pkgs].join(' ')}`);
  return out;
}

const isOpen = (c: Cell) => c.observed?.outcome === 'open';

/** Rows: containers; per column, the probes before → after. */
export function sideBySide(before: MatrixRun, after: MatrixRun): string {
  const key = (c: Cell) => `${c.row}\0${c.column}\0${probeText(c.probe)}`;
  const afterBy = new Map(after.cells.map((c) => [key(c), c]));
  const rows = [...new Set(before.cells.filter((c) => c.row !== 'LAN').map((c) => c.row))];
  const columns = [...new Set(before.cells.filter((c) => c.row !== 'LAN').map((c) => c.column))];
  const sym = (c: Cell | undefined) => (!c ? '-' : isOpen(c) ? 'o' : '.');
  const cellText = (row: string, col: string, side: 'before' | 'after') =>
    before.cells
      .filter((c) => c.row === row && c.column === col)
      .map((c) => sym(side === 'before' ? c : afterBy.get(key(c))))
      .join('');
  const width = (col: string) => Math.max(col.length, ...rows.map((r) => cellText(r, col, 'before').length));
  const rowW = Math.max(...rows.map((r) => r.length)) + 2;
  const lines = [`${' '.repeat(rowW + 10)}${columns.map((c) => c.padEnd(width(c))).join(' ')}`];
  for (const r of rows) {
    lines.push(`${r.padEnd(rowW)}${'no rules'.padEnd(10)}${columns.map((c) => cellText(r, c, 'before').padEnd(width(c))).join(' ')}`);
    lines.push(`${''.padEnd(rowW)}${'lanfence'.padEnd(10)}${columns.map((c) => cellText(r, c, 'after').padEnd(width(c))).join(' ')}`);
  }
  lines.push('  o open  . closed  (one character per probe: tcp ports, udp, icmp — see the legend above)');
  return lines.join('\n');
}

export async function runDemo(io: DemoIo): Promise<void> {
  io.step('building the sandbox: a host namespace with its own Docker engine, a LAN namespace, six containers');
  const lab: Lab = await createLab({ ipv6: true });
  const stop = () => void lab.teardown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    io.out(`sandbox ${lab.id} ready in ${Object.values(lab.timings).reduce((a, b) => a + b, 0).toFixed(1)} s (host uplink ${lab.uplink}; nothing of this machine's own firewall is touched)\n`);
    const policyFile = join(lab.dir, 'default-policy.yaml');
    writeFileSync(policyFile, DEFAULT_POLICY_YAML);

    io.step('probing every container against the LAN, the host and the internet stand-ins, with no rules');
    const before = await runMatrix(lab, { kind: 'none' }, 'no rules');
    io.out(before.table + '\n');

    io.step('applying the embedded default policy inside the sandbox (lanfence apply)');
    const applied = await lab.lanfence(['apply', '--policy', policyFile]);
    if (applied.code !== 0) throw new Error(`lanfence apply failed:\n${applied.stdout}${applied.stderr}`);
    io.out(applied.stdout);
    io.step('probing again');
    const after = await runMatrix(lab, { kind: 'policy', resolved: await expectedResolved(lab, DEFAULT_POLICY_YAML, { file: policyFile }) }, 'enforce (default policy)');
    io.out(`before and after, side by side:\n${sideBySide(before, after)}\n`);
    const same = (a: Cell, b: Cell) => a.row === b.row && a.column === b.column && probeText(a.probe) === probeText(b.probe);
    const closed = after.cells.filter((a) => !isOpen(a) && before.cells.some((b) => same(a, b) && isOpen(b)));
    io.out(`${closed.length} connections that were open are now blocked, for example:`);
    const examples = [...new Map(closed.map((c) => [c.column, c])).values()].slice(0, 8);
    for (const c of examples) io.out(`  ${c.row} → ${c.probe.addr} ${probeText(c.probe)}: ${c.why}`);
    const stillOpen = after.cells.filter((c) => c.column.startsWith('pub') && isOpen(c)).length;
    io.out(`the internet stand-ins stay reachable (${stillOpen} probes open); ${after.mismatches.length === 0 ? 'every cell is what `lanfence explain` predicts' : `${after.mismatches.length} cell(s) differ from the prediction`}\n`);

    io.step('audit mode: nothing is dropped, every would-be drop is logged (lanfence apply --mode audit)');
    const cursor = kmsgCursor();
    const audit = await lab.lanfence(['apply', '--policy', policyFile, '--mode', 'audit']);
    if (audit.code !== 0) throw new Error(`lanfence apply --mode audit failed:\n${audit.stdout}${audit.stderr}`);
    await runMatrix(lab, { kind: 'policy', resolved: await expectedResolved(lab, DEFAULT_POLICY_YAML, { mode: 'audit', file: policyFile }) }, 'audit');
    const ruleset = parsePolicy(DEFAULT_POLICY_YAML, policyFile).ruleset!;
    const parser = new LogParser({ prefix: ruleset.log.prefix });
    const inventory = await lab.inventory();
    const attributor = new Attributor({ history: new CurrentStateHistory(inventory), ruleset, inventory });
    const lines = readKmsg(cursor)
      .map((r) => parser.parseMessage(r.text))
      .filter((r) => r !== null)
      .map((r) => attributor.attribute(r!));
    io.out(`${lines.length} kernel log lines with the prefix "${ruleset.log.prefix}", attributed to containers (lanfence logs shows the same on a real host):`);
    for (const a of lines.slice(0, 12)) io.out(`  ${containerText(a).padEnd(11)} → ${a.record.dst.padEnd(16)} ${portProtoText(a.record).padEnd(10)} ${entryText(a.entry)}`);
    if (lines.length > 12) io.out(`  … and ${lines.length - 12} more`);
    io.out('');
  } finally {
    io.step('tearing the sandbox down');
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await lab.teardown();
  }
}
