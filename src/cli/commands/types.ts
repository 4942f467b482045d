import type { Command } from 'commander';
import type { Io } from '../output.js';

/** A CLI command: registers itself on the program; its action returns the exit code. */
export interface CommandModule {
  name: string;
  register(program: Command, io: Io, setExit: (code: number) => void): void;
}
