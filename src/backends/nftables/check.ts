/** `nft -c -f -`: the kernel parses and validates the script without applying it. */
import { commandLine, type Runner } from '../../exec.js';
import type { CheckResult, Rendered } from '../types.js';

export async function checkNftables(rendered: Rendered, run: Runner): Promise<CheckResult> {
  const args = ['-c', '-f', '-'];
  const r = await run('nft', args, { input: rendered.parts[0].content });
  return { ok: r.code === 0, cmd: commandLine('nft', args), stderr: r.stderr.trim() };
}
