/** Entry point: the only place that calls process.exit. */
import { handleError } from './handle-error.js';
import { outputState, stdio, type Io } from './output.js';
import type { CommandModule } from './commands/types.js';
import { buildProgram } from './program.js';

/**
 * The commands to register. `lanfence daemon` registers only itself: the daemon runs for months,
 * and loading every other command (explain, export and its schemas, demo, …) would cost it memory
 * for nothing (`lanfence daemon --help` is the same either way).
 */
async function commandsFor(argv: string[]): Promise<readonly CommandModule[]> {
  if (argv[2] === 'daemon') return [(await import('./commands/daemon.js')).daemonCommand];
  return (await import('./commands/index.js')).COMMANDS;
}

/** Runs the CLI and returns the exit code (tests call this directly). */
export async function run(argv: string[], io: Io = stdio): Promise<number> {
  let code = 0;
  outputState.json = false;
  const program = buildProgram(io, (c) => (code = c), await commandsFor(argv));
  try {
    if (argv.length <= 2) {
      program.outputHelp();
      return 0;
    }
    await program.parseAsync(argv);
    return code;
  } catch (e) {
    return handleError(e, io);
  }
}

export function main(argv: string[]): void {
  run(argv).then(
    (code) => process.stdout.write('', () => process.exit(code)),
    (e) => {
      process.stderr.write(`lanfence: ${String(e)}\n`);
      process.exit(1);
    },
  );
}
