/** Running external commands. Backends take a Runner as a parameter so tests can wrap or fake it. */
import { spawn } from 'node:child_process';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
}

export type Runner = (cmd: string, args: string[], opts?: RunOptions) => Promise<RunResult>;

/** Runs a command directly (no shell). A missing binary yields code 127. */
export const runCommand: Runner = (cmd, args, opts = {}) =>
  new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e: NodeJS.ErrnoException) =>
      resolve({ code: e.code === 'ENOENT' ? 127 : 126, stdout, stderr: stderr + e.message }),
    );
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });

/** A runner that runs every command inside network namespace `ns` (`ip netns exec`). */
export const inNetns =
  (ns: string, run: Runner = runCommand): Runner =>
  (cmd, args, opts) =>
    run('ip', ['netns', 'exec', ns, cmd, ...args], opts);

export const commandLine = (cmd: string, args: string[]): string =>
  [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
