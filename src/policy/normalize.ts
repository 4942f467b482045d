/**
 * Policy (schema-valid input) → Ruleset: canonical CIDRs, defaults applied, duplicates merged,
 * and semantic checks. Pure; every problem is returned as a diagnostic with its path.
 */
import { AUTO_INTERFACES, DEFAULT_BLOCKED } from '../ruleset/default-blocklist.js';
import { cidrOf, compareCidr, containsCidr, parseCidr, shortText } from '../ruleset/cidr.js';
import type { BlockedEntry, Destination, Exception, PortRange, Ruleset, Scope } from '../ruleset/types.js';
import type { Diagnostic, PathSegment, Position } from './diagnostic.js';
import { checkInterfacePattern, interfaceMatches } from './interfaces.js';
import { mergePortRanges, parsePortSpec, portsCover } from './ports.js';
import { DEFAULT_CEILING, parseCeiling, parseRate } from './rate.js';
import type { ExceptionInput, PolicyInput } from './schema.js';

export const DEFAULT_LOG_PREFIX = 'DOCKER_NET_DROP: ';
export const MAX_LOG_PREFIX = 29;

export interface NormalizeContext {
  file: string;
  positionOf?: (path: PathSegment[]) => Position | undefined;
}

export interface NormalizeResult {
  ruleset: Ruleset;
  diagnostics: Diagnostic[];
}

export function normalize(input: PolicyInput, ctx: NormalizeContext): NormalizeResult {
  const diags: Diagnostic[] = [];
  const error = (path: PathSegment[], message: string) => diags.push({ severity: 'error', path, message });
  const warn = (path: PathSegment[], message: string) => diags.push({ severity: 'warning', path, message });

  const blocked = normalizeBlocked(input, error, warn);
  const interfaces = normalizeInterfaces(input, error, warn);
  const exceptions = normalizeExceptions(input.allow ?? [], blocked, ctx, error, warn);

  const prefix = input.log?.prefix ?? DEFAULT_LOG_PREFIX;
  if (prefix.length > MAX_LOG_PREFIX) error(['log', 'prefix'], `at most ${MAX_LOG_PREFIX} characters (the kernel's LOG limit), got ${prefix.length}`);
  else if (!/^[\x20-\x7e]*$/.test(prefix) || prefix.includes('"') || prefix.includes('\\'))
    error(['log', 'prefix'], 'only printable ASCII without quotes or backslashes');
  else if (prefix.trim() === '') error(['log', 'prefix'], 'must not be empty: logs are found by their prefix');

  let periodSeconds = 10;
  if (input.log?.rate !== undefined) {
    const r = parseRate(input.log.rate);
    if (r.ok) periodSeconds = r.periodSeconds;
    else error(['log', 'rate'], r.message);
  }

  const ceiling = { ...DEFAULT_CEILING };
  if (input.log?.ceiling !== undefined) {
    const c = parseCeiling(input.log.ceiling);
    if (c.ok) Object.assign(ceiling, { rate: c.rate, per: c.per });
    else error(['log', 'ceiling'], c.message);
  }
  if (input.log?.burst !== undefined) ceiling.burst = input.log.burst;

  const protectHost = input.protect?.host ?? true;
  if (blocked.length === 0 && !protectHost)
    warn(['protect'], 'nothing is protected: no blocked networks and protect.host is false');

  return {
    ruleset: {
      mode: input.mode ?? 'enforce',
      action: input.action ?? 'drop',
      backend: input.backend ?? 'auto',
      blocked,
      protectHost,
      interfaces,
      exceptions,
      log: { prefix, periodSeconds, ceiling },
    },
    diagnostics: diags,
  };
}

type Report = (path: PathSegment[], message: string) => void;

function normalizeBlocked(input: PolicyInput, error: Report, warn: Report): BlockedEntry[] {
  const builtinName = new Map(DEFAULT_BLOCKED.map((b) => [cidrOf(b.cidr).text, b.name]));
  const entries: (BlockedEntry & { path: PathSegment[] })[] = [];
  const networks = input.protect?.networks ?? 'default';
  if (networks === 'default') {
    for (const b of DEFAULT_BLOCKED) entries.push({ cidr: cidrOf(b.cidr), name: b.name, source: 'default', path: ['protect', 'networks'] });
  }
  const addList = (list: string[], key: 'networks' | 'extra') =>
    list.forEach((text, i) => {
      const path = ['protect', key, i];
      const parsed = parseCidr(text);
      if (!parsed) return error(path, `"${text}" is not an IPv4 or IPv6 address or CIDR`);
      if (parsed.hadHostBits) warn(path, `"${text}" has host bits set; using ${parsed.cidr.text}`);
      if (parsed.cidr.prefix === 0) warn(path, `${parsed.cidr.text} blocks every IPv${parsed.cidr.family} destination, the internet included`);
      entries.push({ cidr: parsed.cidr, name: builtinName.get(parsed.cidr.text) ?? `protect.${key}`, source: key, path });
    });
  if (networks !== 'default') addList(networks, 'networks');
  addList(input.protect?.extra ?? [], 'extra');

  // Merge: drop entries covered by another one (exact duplicates keep the first).
  const kept: typeof entries = [];
  entries.forEach((e, i) => {
    const coverer = entries.find((o, j) => j !== i && containsCidr(o.cidr, e.cidr) && (o.cidr.prefix < e.cidr.prefix || j < i));
    if (coverer) {
      if (e.source !== 'default')
        warn(e.path, `${e.cidr.text} is already blocked by ${coverer.cidr.text} (${coverer.name}); merged`);
      return;
    }
    kept.push(e);
  });
  return kept.sort((a, b) => compareCidr(a.cidr, b.cidr)).map(({ path: _p, ...e }) => e);
}

function normalizeInterfaces(input: PolicyInput, error: Report, warn: Report): Ruleset['interfaces'] {
  const v = input.containers?.interfaces ?? 'auto';
  if (v === 'auto') return { auto: true, patterns: [...AUTO_INTERFACES] };
  if (v.length === 0) error(['containers', 'interfaces'], 'an empty list judges no container: use "auto" or name patterns');
  v.forEach((p, i) => {
    const problem = checkInterfacePattern(p);
    if (problem) error(['containers', 'interfaces', i], problem);
  });
  // A name or pattern another pattern covers is redundant (and nftables refuses overlapping intervals).
  const unique = [...new Set(v)];
  const kept = unique.filter((p) => {
    const cover = unique.find((q) => q !== p && q.endsWith('*') && interfaceMatches(q, p.replace(/\*$/, '')));
    if (cover) warn(['containers', 'interfaces', v.indexOf(p)], `"${p}" is already covered by "${cover}"; merged`);
    return !cover;
  });
  return { auto: false, patterns: kept };
}

function normalizeExceptions(
  list: ExceptionInput[],
  blocked: BlockedEntry[],
  ctx: NormalizeContext,
  error: Report,
  warn: Report,
): Exception[] {
  const out: Exception[] = [];
  const seen = new Map<string, Exception>();
  // Earlier exceptions by destination, to find one that covers a new one without comparing all pairs.
  const byDest = new Map<string, Exception[]>();
  const prefixes = new Set<string>();
  const destKey = (d: Destination) => (d.kind === 'host' ? 'host' : d.cidr.text);
  const coveringCandidates = (d: Destination): Exception[] => {
    if (d.kind === 'host') return byDest.get('host') ?? [];
    const out: Exception[] = [];
    for (const fp of prefixes) {
      const [fam, p] = fp.split('/').map(Number);
      if (fam !== d.cidr.family || p > d.cidr.prefix) continue;
      const outer = parseCidr(`${d.cidr.address}/${p}`)!.cidr;
      out.push(...(byDest.get(outer.text) ?? []));
    }
    return out.sort((a, b) => a.index - b.index);
  };
  list.forEach((raw, i) => {
    const path: PathSegment[] = ['allow', i];
    const to = normalizeDestination(raw.to, [...path, 'to'], error, warn);
    const ports = normalizePorts(raw.ports, [...path, 'ports'], error);
    const from = normalizeScope(raw.from, [...path, 'from'], error);
    if (!to || ports === undefined || !from) return;
    const ex: Exception = {
      index: i + 1,
      to,
      ports,
      from,
      ...(raw.comment !== undefined ? { comment: raw.comment } : {}),
      origin: { file: ctx.file, path: `allow.${i}`, pos: ctx.positionOf?.(path) },
    };
    if (to.kind === 'cidr' && !blocked.some((b) => containsCidr(b.cidr, to.cidr) || containsCidr(to.cidr, b.cidr)))
      warn([...path, 'to'], `${shortText(to.cidr)} is outside every blocked range: this exception changes nothing unless it is an address of the host itself`);
    const key = JSON.stringify([ex.from, ex.to.kind === 'host' ? 'host' : ex.to.cidr.text, ex.ports]);
    const dup = seen.get(key);
    if (dup) return warn(path, `duplicate of allow #${dup.index}; merged`);
    seen.set(key, ex);
    const shadow = coveringCandidates(ex.to).find((o) => scopeCovers(o.from, ex.from) && portsCover(o.ports, ex.ports));
    if (shadow) warn(path, `shadowed by allow #${shadow.index}, which already allows all of it: this entry changes nothing`);
    out.push(ex);
    const dkey = destKey(ex.to);
    byDest.set(dkey, [...(byDest.get(dkey) ?? []), ex]);
    if (ex.to.kind === 'cidr') prefixes.add(`${ex.to.cidr.family}/${ex.to.cidr.prefix}`);
  });
  return out;
}

function normalizeDestination(to: string, path: PathSegment[], error: Report, warn: Report): Destination | null {
  if (to.trim() === '') return error(path, 'must not be empty: an address, a CIDR or "host"'), null;
  if (to.trim() === 'host') return { kind: 'host' };
  const parsed = parseCidr(to);
  if (!parsed) return error(path, `"${to}" is not an IPv4 or IPv6 address, a CIDR, or "host"`), null;
  if (parsed.hadHostBits) warn(path, `"${to}" has host bits set; using ${parsed.cidr.text}`);
  if (parsed.cidr.prefix === 0) warn(path, `${parsed.cidr.text} allows every IPv${parsed.cidr.family} destination: protection is off for the containers it applies to`);
  return { kind: 'cidr', cidr: parsed.cidr };
}

function normalizePorts(ports: (string | number)[] | undefined, path: PathSegment[], error: Report): PortRange[] | null | undefined {
  if (ports === undefined) return null;
  const ranges: PortRange[] = [];
  let ok = true;
  ports.forEach((spec, i) => {
    const r = parsePortSpec(String(spec));
    if (r.ok) ranges.push(r.range);
    else {
      ok = false;
      error([...path, i], r.message);
    }
  });
  return ok ? mergePortRanges(ranges) : undefined;
}

function normalizeScope(from: ExceptionInput['from'], path: PathSegment[], error: Report): Scope | null {
  if (from === undefined) return { kind: 'any' };
  const keys = (['network', 'container', 'label'] as const).filter((k) => from[k] !== undefined);
  if (keys.length !== 1) {
    error(path, keys.length === 0 ? 'give one of network, container or label' : `give only one of ${keys.join(', ')}`);
    return null;
  }
  if (from.network !== undefined) return { kind: 'network', network: from.network };
  if (from.container !== undefined) return { kind: 'container', container: from.container.replace(/^\//, '') };
  const label = from.label!;
  const eq = label.indexOf('=');
  if (eq <= 0) {
    error([...path, 'label'], `"${label}" is not key=value`);
    return null;
  }
  return { kind: 'label', key: label.slice(0, eq).trim(), value: label.slice(eq + 1).trim() };
}

export function sameScope(a: Scope, b: Scope): boolean {
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'any':
      return true;
    case 'network':
      return a.network === (b as typeof a).network;
    case 'container':
      return a.container === (b as typeof a).container;
    case 'label':
      return a.key === (b as typeof a).key && a.value === (b as typeof a).value;
  }
}

function scopeCovers(outer: Scope, inner: Scope): boolean {
  return outer.kind === 'any' || sameScope(outer, inner);
}

