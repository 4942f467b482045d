/**
 * Runs a shell script in a throwaway network namespace (`unshare --net`): the kernel loads and lists
 * rules there and the live firewall is never touched. The namespace disappears with the script.
 * Input files go to a temporary directory the script can read (the mount namespace is shared).
 */
import { mkdtemp, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandLine, type RunResult, type Runner } from '../exec.js';

export const THROWAWAY_TIMEOUT_MS = 120_000;

/** Single-quotes a word for sh. */
export const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export interface ThrowawayResult extends RunResult {
  /** The command line that was run, for error messages. */
  cmd: string;
}

/**
 * `script(file)` gets a function that turns a file name into its quoted path. The script refuses to
 * run (exit 70) if it somehow shares lanfence's own network namespace.
 */
export async function inThrowawayNetns(
  run: Runner,
  files: Record<string, string>,
  script: (file: (name: string) => string) => string,
  input?: string,
): Promise<ThrowawayResult> {
  const dir = await mkdtemp(join(tmpdir(), 'lanfence-throwaway-'));
  try {
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    const ownNs = await readlink('/proc/self/ns/net').catch(() => '');
    const guard = ownNs ? `[ "$(readlink /proc/self/ns/net)" != ${shq(ownNs)} ] || { echo 'lanfence: not in a throwaway network namespace: refusing' >&2; exit 70; }\n` : '';
    const args = ['--net', '--', 'sh', '-ec', guard + script((name) => shq(join(dir, name)))];
    const r = await run('unshare', args, { timeoutMs: THROWAWAY_TIMEOUT_MS, ...(input !== undefined ? { input } : {}) });
    return { ...r, cmd: commandLine('unshare', args) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
