/** The one place that maps errors to messages and exit codes. */
import { CommanderError } from 'commander';
import { BackendError, EXIT, InventoryError, LanfenceError, PolicyError, UsageError } from '../errors.js';
import { formatDiagnostic } from '../policy/diagnostic.js';
import { outputState, printJson, type Io } from './output.js';

export function handleError(e: unknown, io: Io): number {
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
    return EXIT.usage; // commander already printed the message
  }
  if (e instanceof PolicyError) {
    if (outputState.json) {
      printJson(io, { ok: false, error: 'invalid', message: e.message, diagnostics: e.diagnostics });
    } else {
      for (const d of e.diagnostics) io.err(formatDiagnostic(d));
      io.err(`lanfence: ${e.message}; nothing was changed`);
    }
    return e.exitCode;
  }
  if (e instanceof BackendError) {
    if (outputState.json) printJson(io, { ok: false, error: 'backend', message: e.message, cmd: e.cmd, exitStatus: e.exitStatus, stderr: e.stderr });
    else {
      io.err(`lanfence: ${e.message}`);
      io.err(`  command: ${e.cmd} (exit ${e.exitStatus ?? 'signal'})`);
      if (e.stderr) io.err(e.stderr.replace(/^/gm, '  | '));
    }
    return e.exitCode;
  }
  if (e instanceof UsageError || e instanceof InventoryError || e instanceof LanfenceError) {
    if (outputState.json) printJson(io, { ok: false, error: e.name, message: e.message });
    else io.err(`lanfence: ${e.message}`);
    return e.exitCode;
  }
  io.err(`lanfence: internal error: ${(e as Error)?.stack ?? String(e)}`);
  return EXIT.failure;
}
