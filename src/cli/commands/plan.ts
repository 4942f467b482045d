/** `lanfence plan`: print the rules that apply would load, after a short header. No root needed. */
import { Option } from 'commander';
import { BACKEND_NAMES } from '../../backends/index.js';
import { formatDiagnostic } from '../../policy/diagnostic.js';
import { portText } from '../../policy/ports.js';
import { ceilingText, rateText } from '../../policy/rate.js';
import { shortText } from '../../ruleset/cidr.js';
import { resolve, type Resolved } from '../../ruleset/resolve.js';
import type { Exception, Scope } from '../../ruleset/types.js';
import { chooseBackend, loadInventoryOption, loadPolicyReportingWarnings } from '../context.js';
import { INVENTORY_HELP } from '../context.js';
import { outputState, printJson } from '../output.js';
import type { CommandModule } from './types.js';

export const scopeText = (s: Scope): string =>
  s.kind === 'any' ? 'every container' : s.kind === 'network' ? `network ${s.network}` : s.kind === 'container' ? `container ${s.container}` : `label ${s.key}=${s.value}`;

export const exceptionText = (e: Exception): string =>
  `allow #${e.index}: ${scopeText(e.from)} → ${e.to.kind === 'host' ? 'host' : shortText(e.to.cidr)} ${e.ports ? e.ports.map(portText).join(', ') : 'all ports'}${e.comment ? ` (${e.comment})` : ''}`;

export function planHeader(r: Resolved, meta: { backend: string; how: string; policy: string; inventory: string }): string[] {
  const rs = r.ruleset;
  const lines = [
    `lanfence plan: backend ${meta.backend}${meta.how === 'auto' ? ' (auto)' : ''}, policy ${meta.policy}, inventory ${meta.inventory}`,
    `mode ${rs.mode}${rs.mode === 'audit' ? ' (log, drop nothing)' : ''}, action ${rs.action}, host ${rs.protectHost ? 'protected' : 'NOT protected'}, log "${rs.log.prefix}" ${rateText(rs.log.periodSeconds)} per flow, at most ${ceilingText(rs.log.ceiling)}`,
    `interfaces: ${r.interfaces.join(', ')}`,
    `blocked (${rs.blocked.length}):`,
    ...rs.blocked.map((b) => `  ${b.cidr.text.padEnd(18)} ${b.name}`),
    `exceptions (${rs.exceptions.length}):`,
    ...rs.exceptions.map((e) => `  ${exceptionText(e)}`),
  ];
  if (r.unprotected.length) lines.push(`unprotected containers (${r.unprotected.length}):`, ...r.unprotected.map((u) => `  ${u.container}: ${u.reason}`));
  if (r.notes.length) lines.push('notes:', ...r.notes.map((n) => `  ${n}`));
  return lines;
}

export const planCommand: CommandModule = {
  name: 'plan',
  register(program, io, setExit) {
    program
      .command('plan')
      .description('print the rules lanfence would apply (no root needed)')
      .option('-p, --policy <file>', 'policy file (default /etc/lanfence/policy.yaml, else the embedded default)')
      .addOption(new Option('-b, --backend <name>', 'backend to render for').choices(BACKEND_NAMES))
      .option('-i, --inventory <file>', INVENTORY_HELP)
      .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
      .action(async (opts: { policy?: string; backend?: string; inventory?: string; format: string }) => {
        outputState.json = opts.format === 'json';
        const loaded = loadPolicyReportingWarnings(opts.policy, io, outputState.json);
        const { backend, how } = chooseBackend(opts.backend, loaded.ruleset);
        const inv = await loadInventoryOption(opts.inventory);
        const resolved = resolve(loaded.ruleset, inv.inventory);
        if (inv.note) resolved.notes.unshift(inv.note);
        const rendered = backend.render(resolved);
        if (outputState.json) {
          printJson(io, {
            backend: backend.name,
            backendChoice: how,
            policy: loaded.file,
            inventory: inv.inventory.source,
            mode: loaded.ruleset.mode,
            action: loaded.ruleset.action,
            protectHost: loaded.ruleset.protectHost,
            interfaces: resolved.interfaces,
            blocked: loaded.ruleset.blocked.map((b) => ({ cidr: b.cidr.text, name: b.name, source: b.source })),
            exceptions: loaded.ruleset.exceptions.map((e) => ({ index: e.index, text: exceptionText(e), origin: e.origin })),
            unprotected: resolved.unprotected,
            notes: resolved.notes,
            warnings: loaded.diagnostics.map(formatDiagnostic),
            rendered: { text: rendered.text, parts: rendered.parts },
          });
        } else {
          const header = planHeader(resolved, { backend: backend.name, how, policy: loaded.file, inventory: inv.inventory.source });
          io.out(header.map((l) => `# ${l}`).join('\n') + '\n#');
          io.out(rendered.text);
        }
        setExit(0);
      });
  },
};
