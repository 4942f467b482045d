/**
 * Asks the kernel whether it accepts the rendered sets, rules and hooks — inside a throwaway network
 * namespace (`unshare --net`), so nothing on the live host changes. The namespace starts empty: the
 * script creates DOCKER-USER itself.
 *
 * `iptables-restore --test` alone is not enough with iptables-nft: it never sends the rules to the
 * kernel (measured: a jump to a chain that does not exist passes). The rules are therefore also loaded
 * for real, twice (re-applying must work: sets are swapped, chains flushed), and every hook inserted —
 * all in the namespace, which disappears with the script.
 */
import type { Runner } from '../../exec.js';
import type { CheckResult, Rendered } from '../types.js';
import { CHAINS, hookCommand, type IptablesHook } from './render.js';
import { inThrowawayNetns, shq, THROWAWAY_TIMEOUT_MS } from '../throwaway.js';

export const CHECK_TIMEOUT_MS = THROWAWAY_TIMEOUT_MS;

/**
 * Every hook apply may insert. LANFENCE-IN is declared even when protect.host is off, so inserting
 * all of them is valid whatever the policy; hooks are not part of the rendered restore files.
 */
const ALL_HOOKS: IptablesHook[] = [4, 6].flatMap((family) => [
  { family: family as 4 | 6, chain: family === 4 ? 'DOCKER-USER' : 'FORWARD', rule: ['-j', CHAINS.fwd] },
  { family: family as 4 | 6, chain: 'INPUT', rule: ['-j', CHAINS.in] },
]);

/** `f` turns a file name (ipset.restore, iptables.rules, ip6tables.rules) into its quoted path. */
export function checkScript(f: (name: string) => string): string {
  const step = (what: string, cmd: string) => `${cmd} || fail ${shq(what)}`;
  const lines = [
    'fail() { echo "lanfence check: $1 failed" >&2; exit 1; }',
    step('ipset restore', `ipset restore < ${f('ipset.restore')}`),
    step('iptables -N DOCKER-USER', 'iptables -N DOCKER-USER'),
    step('iptables-restore --noflush --test', `iptables-restore --noflush --test < ${f('iptables.rules')}`),
    step('ip6tables-restore --noflush --test', `ip6tables-restore --noflush --test < ${f('ip6tables.rules')}`),
  ];
  for (const pass of ['', ' (again)']) {
    if (pass) lines.push(step(`ipset restore${pass}`, `ipset restore < ${f('ipset.restore')}`));
    lines.push(step(`iptables-restore --noflush${pass}`, `iptables-restore --noflush < ${f('iptables.rules')}`));
    lines.push(step(`ip6tables-restore --noflush${pass}`, `ip6tables-restore --noflush < ${f('ip6tables.rules')}`));
  }
  for (const h of ALL_HOOKS) lines.push(step(hookCommand(h), hookCommand(h)));
  return `${lines.join('\n')}\n`;
}

export async function checkIptables(rendered: Rendered, run: Runner): Promise<CheckResult> {
  const part = (tool: string) => rendered.parts.find((p) => p.tool === tool)?.content;
  const ipset = part('ipset');
  const v4 = part('iptables');
  const v6 = part('ip6tables');
  if (ipset === undefined || v4 === undefined || v6 === undefined)
    return { ok: false, cmd: '(none)', stderr: 'rendered rules lack an ipset, iptables or ip6tables part' };

  const r = await inThrowawayNetns(run, { 'ipset.restore': ipset, 'iptables.rules': v4, 'ip6tables.rules': v6 }, checkScript);
  return { ok: r.code === 0, cmd: r.cmd, stderr: r.stderr.trim() };
}
