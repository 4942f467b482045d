/**
 * The packet evaluator: the specification of what the rules mean. Every backend's kernel rules must
 * agree with it (differential tests in the lab).
 */
import { interfaceMatches } from '../policy/interfaces.js';
import { containsAddress, parseAddress } from './cidr.js';
import type { AllowElement, Resolved } from './resolve.js';
import { ANY_IFACE } from './resolve.js';
import type { Action, BlockedEntry, Exception } from './types.js';

export type Path = 'forward' | 'input';
export type PacketProto = 'tcp' | 'udp' | 'icmp' | 'icmpv6' | string;

export interface Packet {
  /** Interface the packet entered through. */
  iif: string;
  /** Interface it leaves through (forward path). */
  oif?: string;
  src: string;
  dst: string;
  proto: PacketProto;
  dport?: number;
  /** ICMPv6 type, for neighbour discovery. */
  icmpType?: number;
  /** Conntrack state; default `new`. */
  state?: 'new' | 'established' | 'related';
  /** `input` when dst is an address of the host itself. */
  path: Path;
}

export type VerdictKind = 'not-judged' | 'pass' | 'log' | 'drop';

export interface Verdict {
  verdict: VerdictKind;
  /** For `drop`: drop or reject. */
  action?: Action;
  /** Human reason, e.g. `10.0.0.0/8 private (RFC 1918)`. */
  reason: string;
  /** The exception that allowed it, if any. */
  exception?: Exception;
  /** The blocked entry that matched (forward path) or `host` (input path). */
  entry?: BlockedEntry | 'host';
}

/** ICMPv6 types of neighbour discovery the input path always lets through. */
export const NDP_TYPES = [133, 135, 136];

export function evaluate(resolved: Resolved, p: Packet): Verdict {
  const { ruleset } = resolved;
  const isContainerIf = (name: string) => resolved.interfaces.some((pat) => interfaceMatches(pat, name));
  if (!isContainerIf(p.iif)) return { verdict: 'not-judged', reason: `enters from ${p.iif}, not a container interface` };
  if (p.path === 'forward' && p.oif && isContainerIf(p.oif))
    return { verdict: 'not-judged', reason: `container to container (${p.iif} → ${p.oif}): Docker's business` };
  if (p.state && p.state !== 'new') return { verdict: 'not-judged', reason: `${p.state} connection: only new connections are judged` };
  if (p.path === 'input') {
    if (!ruleset.protectHost) return { verdict: 'not-judged', reason: 'protect.host is false: the host\'s own addresses are not judged' };
    if (p.proto === 'icmpv6' && p.icmpType !== undefined && NDP_TYPES.includes(p.icmpType))
      return { verdict: 'not-judged', reason: 'IPv6 neighbour discovery always passes' };
  }

  const element = resolved.allow.find((e) => allowMatches(e, p));
  if (element) {
    const exception = ruleset.exceptions.find((x) => x.index === element.exception)!;
    return { verdict: 'pass', reason: `allowed by allow #${exception.index}${exception.comment ? ` (${exception.comment})` : ''}`, exception };
  }

  let entry: BlockedEntry | 'host' | undefined;
  if (p.path === 'input') entry = 'host';
  else entry = ruleset.blocked.find((b) => containsAddress(b.cidr, p.dst));
  if (!entry) return { verdict: 'pass', reason: `${p.dst} is in no blocked range` };
  const what = entry === 'host' ? 'host (an address of the host itself)' : `${entry.cidr.text} ${entry.name}`;
  if (ruleset.mode === 'audit') return { verdict: 'log', reason: `${what}: audit mode logs and passes`, entry };
  return { verdict: 'drop', action: ruleset.action, reason: what, entry };
}

export function allowMatches(e: AllowElement, p: Packet): boolean {
  const fam = parseAddress(p.dst)?.family;
  if (fam !== e.family) return false;
  if (e.iface !== ANY_IFACE && e.iface !== p.iif) return false;
  if (!containsAddress(e.src, p.src)) return false;
  if (e.dst === null) {
    if (p.path !== 'input') return false;
  } else if (!containsAddress(e.dst, p.dst)) return false;
  if (e.ports === null) return true;
  return p.dport !== undefined && e.ports.some((r) => r.proto === p.proto && p.dport! >= r.from && p.dport! <= r.to);
}
