/**
 * From a probe to a cell: what the blocked-packet counter and the connection attempt say happened,
 * and whether that is what explain expects.
 */
import type { Mode } from '../ruleset/types.js';
import type { AgentOutcome } from './agent.js';
import type { Expected, Observed, VerifyCell } from './types.js';

/**
 * What a probe shows. The counter is the proof: it rose → lanfence's final rule took the packet
 * (dropped or rejected in enforce mode, logged in audit mode). In enforce mode a connection that
 * succeeded was not dropped whatever the counter did (another container's blocked packet at the same
 * moment). `open` cells (--internet) need the connection itself to succeed.
 */
export function observe(mode: Mode, expected: Expected, counted: boolean, outcome: AgentOutcome): Observed {
  if (counted && !(mode === 'enforce' && outcome === 'open')) return mode === 'audit' ? 'log' : 'drop';
  if (expected === 'open') return outcome === 'open' ? 'open' : 'closed';
  return 'pass';
}

export const cellMatches = (expected: Expected, observed: Observed): boolean => expected === observed;

/** Cells the kernel must count (probed one at a time, between two counter reads). */
export const isCounted = (e: Expected): boolean => e === 'drop' || e === 'log';

/** `drop/drop`, `drop/pass ✗`, `-` (not probed). */
export function cellText(c: VerifyCell): string {
  if (c.skip || !c.expected) return '-';
  if (!c.seen) return `${c.expected}/?`;
  return `${c.expected}/${c.seen.observed}${c.match ? '' : ' ✗'}`;
}

/** What the observation means, in words (mismatch reports). */
export function observedText(mode: Mode, c: VerifyCell): string {
  const s = c.seen;
  if (!s) return 'not probed';
  const counter = s.counted ? `the blocked-packet counter rose (${mode === 'audit' ? 'logged' : 'dropped or rejected'} by lanfence)` : 'the blocked-packet counter did not rise (lanfence let it through)';
  return `${s.observed}: ${counter}; the connection attempt: ${s.outcome} (${s.detail}, ${s.ms} ms)`;
}
