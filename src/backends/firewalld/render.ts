/**
 * Resolved → firewalld permanent direct rules (pure).
 *
 * The hardening guide's DOCKER-USER layout, corrected: every chain referenced is declared
 * (DOCKER-USER too, for both families), IPv6 gets its own FORWARD jump, only packets entering
 * from container interfaces are judged, established traffic passes first, blocking is by
 * destination (never by uplink name), and the input path to the host itself is filtered too.
 */
import { commandLine } from '../../exec.js';
import { ANY_IFACE, type AllowElement, type Resolved } from '../../ruleset/resolve.js';
import type { Family } from '../../ruleset/cidr.js';
import type { PortRange } from '../../ruleset/types.js';
import type { Rendered } from '../types.js';
import { ceilingArgs, hashlimitName, hashlimitRate, iptablesInterface } from '../xtables.js';
import { ceilingText } from '../../policy/rate.js';

export type IpFamily = 'ipv4' | 'ipv6';

/** `firewall-cmd --permanent --direct --add-chain <ipv> filter <chain>` */
export interface DirectChain {
  kind: 'chain';
  ipv: IpFamily;
  table: 'filter';
  chain: string;
}

/** `firewall-cmd --permanent --direct --add-rule <ipv> filter <chain> <priority> <args...>` */
export interface DirectRule {
  kind: 'rule';
  ipv: IpFamily;
  table: 'filter';
  chain: string;
  priority: number;
  args: string[];
}

export type DirectEntry = DirectChain | DirectRule;

export const CHAINS = {
  /** Docker's hook in FORWARD; declared here as well so firewalld never references a missing chain. */
  user: 'DOCKER-USER',
  /** Forward path: blocked destinations. */
  internal: 'DOCKER-USER-DENY-INTERNAL',
  /** Input path: everything addressed to the host itself. */
  host: 'DOCKER-USER-DENY-HOST',
  /** Log (rate-limited), then drop or reject; in audit mode log and return. */
  drop: 'DOCKER-USER-DROP',
} as const;

export const PRIORITY = {
  /** Established/related, traffic into container interfaces, IPv6 neighbour discovery, chain jumps. */
  pass: 0,
  /** lanfence's exceptions: below the guide's 4096, so operators' own guide-style rules still fit in. */
  exception: 1024,
  /** The guide's priority for the deny jump (and the input path's final drop jump). */
  deny: 4096,
  log: 0,
  /** The guide's audit RETURN, right before the verdict. */
  audit: 127,
  verdict: 128,
} as const;

/** Name of the hashlimit table behind the LOG rule (per family, per network namespace). */

/** IPv6 neighbour discovery: router solicitation/advertisement, neighbour solicitation/advertisement. */
const ND_TYPES = [133, 134, 135, 136] as const;

const FAMILIES: readonly [IpFamily, Family][] = [
  ['ipv4', 4],
  ['ipv6', 6],
];


/**
 * firewalld wraps arguments that contain whitespace in double quotes without escaping what is
 * inside, so a `"` or `\` in a comment would corrupt its iptables-restore input: replace them.
 */
export const commentText = (text: string): string => text.replace(/"/g, "'").replace(/\\/g, '/').slice(0, 255);

const portArgs = (r: PortRange): string[] => ['-p', r.proto, '--dport', r.from === r.to ? String(r.from) : `${r.from}:${r.to}`];

/**
 * One RETURN rule per port range of an exception. `iface: *` carries no `-i`: the rule sits before
 * the jumps that judge container traffic, and a RETURN changes nothing for any other packet.
 */
function exceptionArgs(e: AllowElement): string[][] {
  const base: string[] = [];
  if (e.iface !== ANY_IFACE) base.push('-i', e.iface);
  if (e.src.prefix > 0) base.push('-s', e.src.text);
  if (e.dst && e.dst.prefix > 0) base.push('-d', e.dst.text);
  const tail = ['-m', 'comment', '--comment', `allow #${e.exception}`, '-j', 'RETURN'];
  if (e.ports === null) return [[...base, ...tail]];
  return e.ports.map((r) => [...base, ...portArgs(r), ...tail]);
}

/** The complete direct configuration, in a fixed order: per family, chains first, then rules chain by chain. */
export function firewalldDirectRules(resolved: Resolved): DirectEntry[] {
  const { ruleset } = resolved;
  const ifaces = resolved.interfaces.map(iptablesInterface);
  const out: DirectEntry[] = [];

  for (const [ipv, family] of FAMILIES) {
    const chain = (name: string) => out.push({ kind: 'chain', ipv, table: 'filter', chain: name });
    const rule = (name: string, priority: number, args: string[]) => out.push({ kind: 'rule', ipv, table: 'filter', chain: name, priority, args });
    const allow = resolved.allow.filter((e) => e.family === family);

    chain(CHAINS.user);
    chain(CHAINS.internal);
    if (ruleset.protectHost) chain(CHAINS.host);
    chain(CHAINS.drop);

    // Docker before 24 installs no IPv6 jump into DOCKER-USER.
    if (ipv === 'ipv6') rule('FORWARD', PRIORITY.pass, ['-j', CHAINS.user]);

    // Forward path.
    rule(CHAINS.user, PRIORITY.pass, ['-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'RETURN']);
    for (const i of ifaces) rule(CHAINS.user, PRIORITY.pass, ['-o', i, '-j', 'RETURN']);
    for (const e of allow) if (e.dst !== null) for (const args of exceptionArgs(e)) rule(CHAINS.user, PRIORITY.exception, args);
    for (const i of ifaces) rule(CHAINS.user, PRIORITY.deny, ['-i', i, '-j', CHAINS.internal]);

    for (const b of ruleset.blocked) {
      if (b.cidr.family !== family) continue;
      rule(CHAINS.internal, PRIORITY.pass, ['-d', b.cidr.text, '-m', 'comment', '--comment', commentText(b.name), '-j', CHAINS.drop]);
    }

    // Input path.
    if (ruleset.protectHost) {
      for (const i of ifaces) rule('INPUT', PRIORITY.pass, ['-i', i, '-j', CHAINS.host]);
      rule(CHAINS.host, PRIORITY.pass, ['-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'RETURN']);
      if (ipv === 'ipv6') for (const t of ND_TYPES) rule(CHAINS.host, PRIORITY.pass, ['-p', 'ipv6-icmp', '-m', 'icmp6', '--icmpv6-type', String(t), '-j', 'RETURN']);
      for (const e of allow) for (const args of exceptionArgs(e)) rule(CHAINS.host, PRIORITY.exception, args);
      rule(CHAINS.host, PRIORITY.deny, ['-j', CHAINS.drop]);
    }

    // Log, then (audit) return, then the verdict.
    const period = ruleset.log.periodSeconds;
    rule(CHAINS.drop, PRIORITY.log, [
      '-m', 'hashlimit',
      '--hashlimit-mode', 'srcip,dstip,dstport',
      '--hashlimit-upto', hashlimitRate(period),
      '--hashlimit-burst', '1',
      '--hashlimit-htable-expire', String(period * 1000),
      '--hashlimit-name', hashlimitName(period),
      ...ceilingArgs(ruleset.log.ceiling),
      '-j', 'LOG', '--log-prefix', ruleset.log.prefix,
    ]);
    if (ruleset.mode === 'audit') rule(CHAINS.drop, PRIORITY.audit, ['-j', 'RETURN']);
    if (ruleset.action === 'reject') {
      rule(CHAINS.drop, PRIORITY.verdict, ['-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset']);
      rule(CHAINS.drop, PRIORITY.verdict + 1, ['-j', 'REJECT', '--reject-with', ipv === 'ipv4' ? 'icmp-admin-prohibited' : 'icmp6-adm-prohibited']);
    } else {
      rule(CHAINS.drop, PRIORITY.verdict, ['-j', 'DROP']);
    }
  }
  return out;
}

/** The firewall-cmd argument vector of one entry (without the leading `firewall-cmd`). */
export function firewallCmdArgs(e: DirectEntry, op: 'add' | 'remove' = 'add'): string[] {
  return e.kind === 'chain'
    ? ['--permanent', '--direct', `--${op}-chain`, e.ipv, e.table, e.chain]
    : ['--permanent', '--direct', `--${op}-rule`, e.ipv, e.table, e.chain, String(e.priority), ...e.args];
}

const SECTION: Record<string, string> = {
  FORWARD: 'FORWARD: Docker < 24 has no IPv6 jump into DOCKER-USER',
  [CHAINS.user]: 'DOCKER-USER: pass established and container-to-container, exceptions (< 4096), then judge (4096)',
  [CHAINS.internal]: `${CHAINS.internal}: blocked destinations`,
  INPUT: 'INPUT: packets from containers to the host itself',
  [CHAINS.host]: `${CHAINS.host}: the host's own addresses`,
  [CHAINS.drop]: `${CHAINS.drop}: log (rate-limited), then the verdict`,
};

function header(resolved: Resolved): string[] {
  const { ruleset } = resolved;
  const period = ruleset.log.periodSeconds;
  const lines = [
    '#!/bin/sh',
    '# lanfence: firewalld backend (permanent direct rules, ipv4 and ipv6 alike)',
    '#',
    '# FORWARD (ipv6 only)  0     -j DOCKER-USER',
    '# DOCKER-USER          0     established/related RETURN; -o <container interface> RETURN',
    '#                      1024  exceptions (allow #N) RETURN: on to Docker\'s own rules, never ACCEPT',
    '#                      4096  -i <container interface> -j DOCKER-USER-DENY-INTERNAL',
    '# DOCKER-USER-DENY-INTERNAL  -d <blocked range> -j DOCKER-USER-DROP, one named rule per range',
  ];
  if (ruleset.protectHost)
    lines.push(
      '# INPUT                0     -i <container interface> -j DOCKER-USER-DENY-HOST',
      '# DOCKER-USER-DENY-HOST 0    established/related, IPv6 neighbour discovery RETURN',
      '#                      1024  exceptions RETURN',
      '#                      4096  -j DOCKER-USER-DROP',
    );
  lines.push(
    `# DOCKER-USER-DROP     0     LOG, at most one line per source, destination and port per ${period} s, ${ceilingText(ruleset.log.ceiling)} per family`,
    '#                      127   RETURN (audit mode only: log, drop nothing)',
    `#                      128   ${ruleset.action === 'reject' ? 'REJECT (tcp-reset, else ICMP administratively prohibited)' : 'DROP'}`,
    '#',
    '# Only packets entering from container interfaces are judged; blocking is by destination,',
    '# whatever the uplink is called. Every chain is declared (DOCKER-USER too), so the direct',
    '# configuration loads whichever of firewalld and Docker starts first.',
    '# Caveat: with Docker 20.10, `firewall-cmd --reload` makes Docker rebuild FORWARD so that',
    '# user-defined networks bypass DOCKER-USER; `lanfence apply` detects and repairs that.',
    '#',
    `# mode: ${ruleset.mode}   action: ${ruleset.action}   protect.host: ${ruleset.protectHost}`,
    `# container interfaces: ${resolved.interfaces.join(', ') || '(none)'}`,
    '',
    'set -eu',
  );
  return lines;
}

export function renderFirewalld(resolved: Resolved): Rendered {
  const lines = header(resolved);
  let section = '';
  for (const e of firewalldDirectRules(resolved)) {
    const s = e.kind === 'chain' ? `${e.ipv}: chains` : `${e.ipv} ${SECTION[e.chain] ?? e.chain}`;
    if (s !== section) {
      lines.push('', `# ${s}`);
      section = s;
    }
    lines.push(commandLine('firewall-cmd', firewallCmdArgs(e)));
  }
  lines.push('', 'firewall-cmd --reload', '');
  const content = lines.join('\n');
  return { backend: 'firewalld', text: content, parts: [{ tool: 'firewall-cmd', content }] };
}
