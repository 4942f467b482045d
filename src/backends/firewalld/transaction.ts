/**
 * The reload path: firewalld's permanent direct configuration as one transaction.
 *
 *   write the whole permanent direct configuration (one D-Bus update: others' entries unchanged,
 *   lanfence's replaced) → firewall-cmd --reload → check firewalld's runtime direct rules
 *   → wait for Docker to rebuild FORWARD, put the jump to DOCKER-USER back on top.
 * Any failure: the backup is written back and firewalld reloaded, then BackendError. A reload that
 * fails leaves firewalld in FAILED state, where it refuses every permanent change over D-Bus; the
 * backup is then written to direct.xml in firewalld's configuration directory and reloaded from there.
 */
import { BackendError } from '../../errors.js';
import type { Runner } from '../../exec.js';
import { reload } from './cmd.js';
import { configDir, snapshot, writePermanent } from './dbus.js';
import { directXml, lanfenceOf, type AnyChain, type AnyRule, type DirectSettings } from './direct.js';
import { dockerForwardCount, repairForward, waitForDockerRebuild } from './kernel.js';

export type Runtime = { chains: AnyChain[]; rules: AnyRule[] };

export const asError = (e: unknown): BackendError =>
  e instanceof BackendError ? e : new BackendError(e instanceof Error ? e.message : String(e), 'firewalld', null, String(e));

/** Writes direct.xml itself (atomically, keeping the file's mode) — only for a firewalld in FAILED state. */
async function writeDirectXml(settings: DirectSettings, run: Runner): Promise<void> {
  const file = `${await configDir(run)}/direct.xml`;
  const script = 'umask 077 && t="$1.lanfence-tmp" && cat > "$t" && { chmod --reference="$1" "$t" 2>/dev/null || chmod 644 "$t"; } && mv -f "$t" "$1"';
  const res = await run('sh', ['-c', script, 'sh', file], { input: directXml(settings) });
  if (res.code !== 0) throw new BackendError(`writing ${file} failed: ${res.stderr.trim()}`, `sh -c <write ${file}>`, res.code, res.stderr);
}

async function restore(backup: DirectSettings, dockerBefore: number, run: Runner): Promise<void> {
  let restored = false;
  if ((await snapshot(run).catch(() => null))?.state === 'running') {
    try {
      await writePermanent(backup, run);
      await reload(run);
      restored = true;
    } catch {
      /* firewalld may have failed on the reload: go through the file */
    }
  }
  if (!restored) {
    await writeDirectXml(backup, run);
    await reload(run);
  }
  // Best effort: the previous configuration is back either way.
  const ours = lanfenceOf(backup);
  await waitForDockerRebuild(dockerBefore, run);
  await repairForward(run, ours.chains.length + ours.rules.length > 0).catch(() => undefined);
}

/**
 * Writes `next`, reloads, checks the runtime with `verify`, repairs FORWARD (`insert`: see
 * repairForward); on any failure restores `backup`.
 */
export async function reloadTransaction(backup: DirectSettings, next: DirectSettings, verify: (runtime: Runtime) => string[], insert: boolean, run: Runner): Promise<void> {
  const dockerBefore = await dockerForwardCount(run);
  try {
    await writePermanent(next, run);
    await reload(run);
    const problems = verify((await snapshot(run)).runtime);
    if (problems.length > 0)
      throw new BackendError(
        `after the reload firewalld's runtime direct rules are not the configured ones (${problems.length} difference(s), first: ${problems[0]})`,
        'firewall-cmd --direct --get-all-rules',
        null,
        problems.join('\n'),
      );
    await waitForDockerRebuild(dockerBefore, run);
    await repairForward(run, insert);
  } catch (e) {
    const err = asError(e);
    let outcome = 'the previous direct configuration was restored';
    try {
      await restore(backup, dockerBefore, run);
    } catch (r) {
      outcome = `restoring the previous direct configuration failed too: ${asError(r).message}`;
    }
    throw new BackendError(`${err.message}; ${outcome}`, err.cmd, err.exitStatus, err.stderr);
  }
}
