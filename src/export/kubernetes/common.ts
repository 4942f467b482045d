/** What every flavor starts from: the exceptions as pod scopes, the refusals, names and selectors. */
import { containsCidr, overlaps, type Cidr, type Family } from '../../ruleset/cidr.js';
import type { PortRange, Ruleset } from '../../ruleset/types.js';
import { ExportError } from './errors.js';
import { DEFAULT_EXCLUDED_NAMESPACES, NAMESPACE_NAME_LABEL, podScope, type PodScope } from './labels.js';
import type { ExportOptions, Flavor, Inexpressible } from './types.js';

export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'lanfence' };
export const NAME_PREFIX = 'lanfence';

/** One exception, as the cluster sees it. */
export interface Entry {
  index: number;
  comment?: string;
  scope: PodScope;
  to: { kind: 'cidr'; cidr: Cidr } | { kind: 'host' };
  ports: PortRange[] | null;
}

export interface Prepared {
  entries: Entry[];
  warnings: string[];
}

/**
 * Maps every exception to a pod scope. Exceptions a flavor cannot express are refused as a whole
 * (ExportError listing each `allow #N`), or — with `dropInexpressible` — left out and listed: left out
 * means the traffic stays blocked, so an export is never wider than the policy.
 */
export function prepare(ruleset: Ruleset, opts: ExportOptions, flavor: Flavor, hostReason: string | null): Prepared {
  const entries: Entry[] = [];
  const bad: Inexpressible[] = [];
  for (const ex of ruleset.exceptions) {
    const scope = podScope(ex.from);
    if (scope.kind === 'inexpressible') bad.push({ index: ex.index, reason: scope.reason });
    else if (ex.to.kind === 'host' && hostReason) bad.push({ index: ex.index, reason: `to: host: ${hostReason}` });
    else entries.push({ index: ex.index, comment: ex.comment, scope, to: ex.to, ports: ex.ports });
  }
  const lines = bad.map((b) => `allow #${b.index}: ${b.reason}`);
  if (bad.length && !opts.dropInexpressible) {
    throw new ExportError(`${bad.length} exception(s) cannot be expressed for ${flavor}; nothing was exported (--drop-inexpressible exports without them: that traffic stays blocked)`, lines);
  }
  return { entries, warnings: lines.map((l) => `${l} — left out: that traffic stays blocked`) };
}

export const blockedOf = (ruleset: Ruleset, family: Family): Cidr[] => ruleset.blocked.filter((b) => b.cidr.family === family).map((b) => b.cidr);

/** Whether a destination matters at all: it overlaps a blocked range. */
export const touchesBlocked = (ruleset: Ruleset, cidr: Cidr): boolean => ruleset.blocked.some((b) => overlaps(b.cidr, cidr));

/** `0.0.0.0/0` minus the blocked ranges, as one `cidr` + `except` (null when a blocked range is the whole family). */
export function everythingBut(ruleset: Ruleset, family: Family): { cidr: string; except: string[] } | null {
  const all = family === 4 ? '0.0.0.0/0' : '::/0';
  const blocked = blockedOf(ruleset, family);
  if (blocked.some((c) => c.prefix === 0)) return null;
  return { cidr: all, except: blocked.map((c) => c.text) };
}

/** Namespaces as a Kubernetes label selector on the namespace-name label. */
export function namespaceLabelSelector(opts: ExportOptions): { matchExpressions: { key: string; operator: string; values: string[] }[] } {
  return opts.namespaces.length
    ? { matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: 'In', values: [...opts.namespaces] }] }
    : { matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: 'NotIn', values: [...DEFAULT_EXCLUDED_NAMESPACES] }] };
}

/** Which namespaces are fenced, in words. */
export const namespacesText = (opts: ExportOptions): string =>
  opts.namespaces.length ? `namespaces ${opts.namespaces.join(', ')}` : `every namespace except ${DEFAULT_EXCLUDED_NAMESPACES.join(', ')}`;

export function metadata(name: string, opts: ExportOptions, extra: { namespace?: string; annotations?: Record<string, string> } = {}) {
  return {
    name,
    ...(extra.namespace ? { namespace: extra.namespace } : {}),
    labels: { ...MANAGED_BY },
    annotations: { 'lanfence.io/source': opts.source, 'lanfence.io/mode': opts.mode, ...(extra.annotations ?? {}) },
  };
}

/** A short description of an exception for rule names and warnings. */
export const entryText = (e: Entry): string => `allow #${e.index}${e.comment ? `: ${e.comment}` : ''}`;

/** Distinct label scopes among the entries, in order of first use. */
export function labelScopes(entries: Entry[]): Extract<PodScope, { kind: 'label' }>[] {
  const seen = new Map<string, Extract<PodScope, { kind: 'label' }>>();
  for (const e of entries) if (e.scope.kind === 'label') seen.set(`${e.scope.key}=${e.scope.value}`, e.scope);
  return [...seen.values()];
}

export const cidrWithin = (outer: Cidr, inner: Cidr): boolean => outer.family === inner.family && containsCidr(outer, inner);

/** Splits a list into chunks of at most `size`. */
export function chunks<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** Label scopes with a stable object name each: `lanfence-scope-1`, ... in order of first use. */
export function scopeNames(entries: Entry[]): Map<string, { scope: Extract<PodScope, { kind: 'label' }>; name: string }> {
  const out = new Map<string, { scope: Extract<PodScope, { kind: 'label' }>; name: string }>();
  for (const s of labelScopes(entries)) out.set(`${s.key}=${s.value}`, { scope: s, name: `${NAME_PREFIX}-scope-${out.size + 1}` });
  return out;
}
