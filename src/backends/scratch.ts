/**
 * Runs a shell script inside a throwaway network namespace (`unshare --net`): the way to let the
 * kernel load and list rules without touching the live firewall. Input files go to a temp dir.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunResult, Runner } from '../exec.js';

export async function inScratchNetns(run: Runner, script: (dir: string) => string, files: Record<string, string> = {}): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'lanfence-scratch-'));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    return await run('unshare', ['--net', '--', 'sh', '-ec', script(dir)]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
