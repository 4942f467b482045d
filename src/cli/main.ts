/** Entry point: the only place that calls process.exit. */
import { handleError } from './handle-error.js';
import { outputState, stdio, type Io } from './output.js';
import { buildProgram } from './program.js';

/** Runs the CLI and returns the exit code (tests call this directly). */
export async function run(argv: string[], io: Io = stdio): Promise<number> {
  let code = 0;
  outputState.json = false;
  const program = buildProgram(io, (c) => (code = c));
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
