/** Read-only looks at a lab's firewall state: lanfence's traces, Docker's own rules. */
import { runCommand } from '../exec.js';
import type { Lab } from './lab.js';

/** Names lanfence's objects carry: the nft table, iptables chains and ipsets, the firewalld layout's chains. */
const OURS = /lanfence|DOCKER-USER-(DENY|DROP)/i;

async function firewallCmd(lab: Lab, args: string[]) {
  return lab.exec('host', 'env', [...Object.entries(lab.env).map(([k, v]) => `${k}=${v}`), 'firewall-cmd', ...args]);
}

/** Every trace of lanfence in the lab's host namespace, as `command: line`. Empty = clean. */
export async function lanfenceTraces(lab: Lab): Promise<string[]> {
  const found: string[] = [];
  const scan = async (label: string, r: Promise<{ code: number; stdout: string; stderr: string }>, filter: (l: string) => boolean = (l) => OURS.test(l)) => {
    const res = await r;
    for (const l of res.stdout.split('\n')) if (l.trim() && filter(l)) found.push(`${label}: ${l.trim()}`);
  };
  await scan('nft list ruleset', lab.exec('host', 'nft', ['list', 'ruleset']));
  await scan('iptables-save', lab.exec('host', 'iptables-save', []), (l) => OURS.test(l) && !l.startsWith('#'));
  await scan('ip6tables-save', lab.exec('host', 'ip6tables-save', []), (l) => OURS.test(l) && !l.startsWith('#'));
  await scan('ipset list -n', lab.exec('host', 'ipset', ['list', '-n']));
  if (lab.firewalld) {
    // The lab's firewalld has no direct configuration of its own: anything left is ours.
    await scan('firewall-cmd --direct --get-all-chains', firewallCmd(lab, ['--direct', '--get-all-chains']), () => true);
    await scan('firewall-cmd --direct --get-all-rules', firewallCmd(lab, ['--direct', '--get-all-rules']), () => true);
    await scan('firewall-cmd --permanent --direct --get-all-rules', firewallCmd(lab, ['--permanent', '--direct', '--get-all-rules']), () => true);
  }
  return found;
}

/** Docker's (and firewalld's) iptables rules without lanfence's lines, counters and timestamps. */
export async function dockerRules(lab: Lab): Promise<string> {
  const parts: string[] = [];
  for (const cmd of ['iptables-save', 'ip6tables-save']) {
    const r = await lab.exec('host', cmd, []);
    if (r.code !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
    parts.push(
      `## ${cmd}`,
      ...r.stdout
        .split('\n')
        .filter((l) => l && !l.startsWith('#') && !OURS.test(l))
        .map((l) => l.replace(/\[\d+:\d+\]/g, '[-]')),
    );
  }
  return parts.join('\n');
}

/** Read-only: lanfence traces in the machine's own network namespace (there must never be any). */
export async function rootNamespaceTraces(): Promise<string[]> {
  const found: string[] = [];
  for (const [cmd, args] of [['nft', ['list', 'ruleset']], ['iptables-save', []], ['ip6tables-save', []]] as const) {
    const r = await runCommand(cmd, [...args]);
    for (const l of r.stdout.split('\n')) if (/lanfence/i.test(l) && !l.startsWith('#')) found.push(`${cmd} (root namespace): ${l.trim()}`);
  }
  return found;
}
