/** `lanfence status`: protection in place as applied? Exit 0 yes, 4 drifted, 5 absent / never applied. */
import { DEFAULT_SOCKET, queryDaemon } from '../../daemon/api.js';
import type { DaemonState } from '../../daemon/daemon.js';
import { EXIT } from '../../errors.js';
import { runCommand } from '../../exec.js';
import { collectStatus, type StatusReport } from '../../engine/status.js';
import { StateStore } from '../../state/store.js';
import { loadInventoryOption } from '../context.js';
import { INVENTORY_HELP } from '../context.js';
import { outputState, printJson } from '../output.js';
import type { CommandModule } from './types.js';

const EXIT_FOR: Record<StatusReport['state'], number> = { 'in-place': EXIT.ok, drifted: EXIT.drifted, absent: EXIT.absent, 'not-applied': EXIT.absent };

export function formatStatus(r: StatusReport): string[] {
  const lines: string[] = [];
  const a = r.applied;
  const verdict = { 'in-place': 'protection in place as applied', drifted: 'DRIFTED: the live rules differ from what was applied', absent: 'ABSENT: lanfence\'s rules are not in the firewall', 'not-applied': 'not applied yet (run `lanfence apply`)' }[r.state];
  lines.push(`status:     ${verdict}`);
  if (a) {
    lines.push(`backend:    ${a.backend}`, `mode:       ${a.mode}`, `applied:    ${a.appliedAt} (lanfence ${a.version})`, `policy:     ${a.policyFile} (sha256 ${a.policyHash})`);
    lines.push(`interfaces: ${a.interfaces.join(', ')}`);
  }
  if (r.live?.blockedPackets !== undefined) lines.push(`blocked:    ${r.live.blockedPackets} packets ${a?.mode === 'audit' ? 'logged (audit)' : 'dropped/rejected'} since applied`);
  if (r.live && r.live.differences.length && r.state !== 'in-place') lines.push('differences:', ...r.live.differences.map((d) => `  ${d}`));
  lines.push(`inventory:  ${r.inventory.source}${r.inventory.note ? ` (${r.inventory.note})` : ''}`);
  if (r.networks.length) {
    lines.push('networks:');
    for (const n of r.networks) {
      const cov = n.bridge ? (n.covered ? `covered (${n.bridge})` : `NOT covered (${n.bridge})`) : `not filterable (${n.driver})`;
      lines.push(`  ${n.name.padEnd(20)} ${cov}, IPv6 ${n.ipv6 ? 'on' : 'off'}${n.internal ? ', internal' : ''}${n.subnets.length ? `, ${n.subnets.join(' ')}` : ''}`);
    }
  }
  const d = r.daemon as DaemonState | undefined;
  if (d) {
    lines.push(`daemon:     running since ${d.startedAt}; Docker ${d.docker.up ? 'connected' : `UNAVAILABLE since ${d.docker.since} (${d.docker.lastError ?? ''}), last rules kept`}; ${d.applies} applies (${d.setUpdates} set updates), ${d.repairsTotal} drift repairs, ${d.failures} failures`);
    for (const n of d.notes) lines.push(`  ${n}`);
  } else lines.push('daemon:     not running (drift is not repaired, new containers\' label exceptions are not applied)');
  if (r.unprotected.length) lines.push('unprotected containers:', ...r.unprotected.map((u) => `  ${u.container}: ${u.reason}`));
  if (r.dns.length) {
    lines.push('containers whose DNS servers are blocked:');
    for (const d of r.dns) lines.push(`  ${d.container} → ${d.server}: ${d.reason}; to allow it:`, ...d.suggestion.split('\n').map((l) => `      ${l}`));
  }
  return lines;
}

export const statusCommand: CommandModule = {
  name: 'status',
  register(program, io, setExit) {
    program
      .command('status')
      .description('is protection in place as applied? drift, counters, coverage, unprotected containers, blocked DNS')
      .option('-i, --inventory <file>', INVENTORY_HELP)
      .option('--json', 'machine-readable result on stdout')
      .action(async (opts: { inventory?: string; json?: boolean }) => {
        outputState.json = !!opts.json;
        const inv = await loadInventoryOption(opts.inventory, { dns: true });
        const report = await collectStatus(new StateStore(), runCommand, inv.inventory, inv.note);
        const daemon = await queryDaemon<DaemonState>(process.env.LANFENCE_SOCKET ?? DEFAULT_SOCKET, '/v1/status');
        if (daemon) report.daemon = daemon;
        if (opts.json) printJson(io, { ok: report.state === 'in-place', ...report });
        else io.out(formatStatus(report).join('\n'));
        setExit(EXIT_FOR[report.state]);
      });
  },
};
