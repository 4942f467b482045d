/** firewall-cmd: state and reload. */
import { BackendError } from '../../errors.js';
import { commandLine, type RunResult, type Runner } from '../../exec.js';

export async function firewallCmd(run: Runner, args: string[], timeoutMs = 300_000): Promise<RunResult> {
  const res = await run('firewall-cmd', args, { timeoutMs });
  if (res.code !== 0) {
    const cmd = commandLine('firewall-cmd', args);
    throw new BackendError(`${cmd} failed (exit ${res.code}): ${(res.stderr || res.stdout).trim()}`, cmd, res.code, res.stderr || res.stdout);
  }
  return res;
}

/** `firewall-cmd --state`: `running`, `failed`, `not running`, or why it could not say. */
export async function firewalldState(run: Runner): Promise<string> {
  const res = await run('firewall-cmd', ['--state'], { timeoutMs: 30_000 });
  return res.stdout.trim() || res.stderr.trim().split('\n')[0] || `firewall-cmd exited ${res.code}`;
}

export const reload = (run: Runner): Promise<RunResult> => firewallCmd(run, ['--reload']);
