/** What the iptables and firewalld backends (both xtables rules) spell the same way. */
import type { Ceiling } from '../policy/rate.js';

/** Interface pattern (trailing `*`) → iptables interface match (trailing `+`): `br-*` → `br-+`. */
export const iptablesInterface = (pattern: string): string => (pattern.endsWith('*') ? `${pattern.slice(0, -1)}+` : pattern);

/**
 * One log line per (source, destination, destination port) per `periodSeconds`, as a hashlimit rate:
 * the smallest unit that makes the count an integer (10 s → 6/minute, 90 s → 40/hour, 1 h → 1/hour);
 * a period that divides no unit is rounded per day.
 */
export function hashlimitRate(periodSeconds: number): string {
  const units: [string, number][] = [['second', 1], ['minute', 60], ['hour', 3600], ['day', 86400]];
  for (const [unit, seconds] of units) if (seconds % periodSeconds === 0) return `${seconds / periodSeconds}/${unit}`;
  return `${Math.max(1, Math.round(86400 / periodSeconds))}/day`;
}

/**
 * The hashlimit table name. It carries the period because the kernel reuses an existing table of the
 * same name with its old rate and expiry (measured): a changed rate must get a fresh table.
 */
export const hashlimitName = (periodSeconds: number): string => `lanfence-${periodSeconds}s`;

const XT_PER = { second: 'sec', minute: 'min', hour: 'hour' } as const;

/**
 * The global log ceiling as an xtables `limit` match, spelled as iptables-save prints it. It follows
 * the per-flow hashlimit in the LOG rule, so only flows due a line spend the ceiling's tokens.
 * One bucket per rule: IPv4 and IPv6 each have their own.
 */
export const ceilingArgs = (c: Ceiling): string[] => ['-m', 'limit', '--limit', `${c.rate}/${XT_PER[c.per]}`, '--limit-burst', String(c.burst)];
