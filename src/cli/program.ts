/** Builds the commander program from the command registry. */
import { Command } from 'commander';
import { VERSION } from '../version.js';
import type { CommandModule } from './commands/types.js';
import type { Io } from './output.js';

export const EXIT_CODES_HELP = `
Exit codes:
  0   success
  1   failure (Docker unreachable, internal error)
  2   invalid policy or inventory (every error is printed with file:line:col)
  3   a firewall command failed (nothing half-applied)
  4   status/apply: the live rules differ from what was applied (drift)
  5   status: lanfence's rules are absent or were never applied
  6   verify: a cell where the kernel does not do what the policy says
  64  usage error (unknown option, unknown backend)`;

/** The program with `commands` registered (main.ts passes every command, or only the one being run). */
export function buildProgram(io: Io, setExit: (code: number) => void, commands: readonly CommandModule[]): Command {
  const program = new Command('lanfence')
    .description('Keep Docker containers off the local network and off their own host.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .addHelpText('after', EXIT_CODES_HELP);
  for (const c of commands) c.register(program, io, setExit);
  for (const sub of program.commands) sub.exitOverride().configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) });
  return program;
}
