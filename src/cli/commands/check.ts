/** `lanfence check`: validate the policy only. Exit 0 when valid, 2 when not. */
import { EXIT } from '../../errors.js';
import { errorsOf, formatDiagnostic, warningsOf } from '../../policy/diagnostic.js';
import { loadPolicy } from '../../policy/load.js';
import { outputState, printJson } from '../output.js';
import type { CommandModule } from './types.js';

export const checkCommand: CommandModule = {
  name: 'check',
  register(program, io, setExit) {
    program
      .command('check')
      .description('validate a policy file: every error at once, with file:line:col (exit 0 valid, 2 invalid)')
      .option('-p, --policy <file>', 'policy file (default /etc/lanfence/policy.yaml, else the embedded default)')
      .option('--json', 'machine-readable result on stdout')
      .action((opts: { policy?: string; json?: boolean }) => {
        outputState.json = !!opts.json;
        const loaded = loadPolicy(opts.policy); // throws PolicyError → exit 2 via the handler
        const warnings = warningsOf(loaded.diagnostics);
        if (opts.json) {
          printJson(io, { ok: true, file: loaded.file, errors: errorsOf(loaded.diagnostics), warnings, exceptions: loaded.ruleset.exceptions.length, blocked: loaded.ruleset.blocked.length });
        } else {
          for (const w of warnings) io.err(formatDiagnostic(w));
          io.out(`${loaded.file}: valid (${loaded.ruleset.blocked.length} blocked ranges, ${loaded.ruleset.exceptions.length} exceptions${warnings.length ? `, ${warnings.length} warning(s)` : ''})`);
        }
        setExit(EXIT.ok);
      });
  },
};
