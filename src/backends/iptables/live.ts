/**
 * Reading the live iptables / ipset state and running the tools: shared by apply, inspect and remove.
 * Parsers take the text `iptables-save` and `ipset save` print; only the filter table is ever read.
 */
import { BackendError } from '../../errors.js';
import { commandLine, type RunResult, type Runner } from '../../exec.js';
import type { Family } from '../../ruleset/cidr.js';
import type { Rendered } from '../types.js';

export const FAMILIES = [4, 6] as const;
export const OWN_CHAIN_PREFIX = 'LANFENCE-';
export const OWN_SET_PREFIX = 'lanfence-';
/** Wait for the xtables lock (iptables-legacy hosts, where Docker may hold it) instead of failing. */
export const WAIT = ['-w', '10'];

export const TOOLS = {
  4: { ipt: 'iptables', save: 'iptables-save', restore: 'iptables-restore', label: 'IPv4' },
  6: { ipt: 'ip6tables', save: 'ip6tables-save', restore: 'ip6tables-restore', label: 'IPv6' },
} as const;

export const isOwnChain = (name: string): boolean => name.startsWith(OWN_CHAIN_PREFIX);
export const isOwnSet = (name: string): boolean => name.startsWith(OWN_SET_PREFIX);

/** Runs a command; a non-zero exit becomes a BackendError saying what failed. */
export async function must(run: Runner, cmd: string, args: string[], what: string, input?: string): Promise<RunResult> {
  const r = await run(cmd, args, input === undefined ? undefined : { input });
  if (r.code !== 0) {
    const reason = r.stderr.trim().split('\n').find((l) => l.trim()) ?? `exit status ${r.code}`;
    throw new BackendError(`${what} failed: ${reason}`, commandLine(cmd, args), r.code, r.stderr.trim());
  }
  return r;
}

/** The parts of an iptables rendering, by tool. */
export function partsOf(rendered: Rendered): { ipset: string; 4: string; 6: string } {
  const part = (tool: string) => rendered.parts.find((p) => p.tool === tool)?.content;
  const ipset = part('ipset');
  const v4 = part('iptables');
  const v6 = part('ip6tables');
  if (ipset === undefined || v4 === undefined || v6 === undefined)
    throw new BackendError('the rendered rules lack an ipset, iptables or ip6tables part (not an iptables rendering?)', '(none)', null, '');
  return { ipset, 4: v4, 6: v6 };
}

// ---- iptables-save ----

export interface SavedRule {
  chain: string;
  /** The rule after `-A CHAIN `, exactly as iptables-save prints it (re-usable in a restore file). */
  spec: string;
  /** 1-based position within its chain. */
  position: number;
  packets: number;
}

export interface FilterDump {
  /** Every chain of the filter table, in the order iptables-save declares them. */
  chains: string[];
  rules: SavedRule[];
}

/** Parses `iptables-save -t filter [-c]`: counters, when present, are kept apart from the rule text. */
export function parseSave(text: string): FilterDump {
  const chains: string[] = [];
  const rules: SavedRule[] = [];
  const count = new Map<string, number>();
  let inFilter = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) inFilter = line === '*filter';
    if (!inFilter || !line || line.startsWith('#')) continue;
    const decl = /^:(\S+) /.exec(line);
    if (decl) {
      chains.push(decl[1]);
      continue;
    }
    const m = /^(?:\[(\d+):\d+\] )?-A (\S+)(?: (.*))?$/.exec(line);
    if (!m) continue;
    const position = (count.get(m[2]) ?? 0) + 1;
    count.set(m[2], position);
    rules.push({ chain: m[2], spec: m[3] ?? '', position, packets: Number(m[1] ?? 0) });
  }
  return { chains, rules };
}

/** The lanfence chain a rule jumps or goes to, if any. */
export function ownTarget(spec: string): string | null {
  const m = /(?:^| )-[jg] (\S+)(?: |$)/.exec(spec);
  return m && isOwnChain(m[1]) ? m[1] : null;
}

/** Rules in chains lanfence does not own that lead into one of its chains: the hooks. */
export const hookRules = (d: FilterDump): SavedRule[] => d.rules.filter((r) => !isOwnChain(r.chain) && ownTarget(r.spec) !== null);

export const ownChains = (d: FilterDump): string[] => d.chains.filter(isOwnChain);

export const rulesOf = (d: FilterDump, chain: string): SavedRule[] => d.rules.filter((r) => r.chain === chain);

export async function saveFilter(run: Runner, family: Family): Promise<FilterDump> {
  const { save, label } = TOOLS[family];
  const r = await must(run, save, ['-t', 'filter', '-c'], `reading the ${label} filter table`);
  return parseSave(r.stdout);
}

// ---- ipset save ----

export interface SavedSet {
  /** `create` parameters after the name, without `initval` (random for every set). */
  params: string;
  /** element → the rest of its `add` line (`comment "…"`, or ''). */
  members: Map<string, string>;
}

/** Parses `ipset save`, keeping only lanfence's sets. */
export function parseIpsetSave(text: string): Map<string, SavedSet> {
  const sets = new Map<string, SavedSet>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const create = /^create (\S+) (.*)$/.exec(line);
    if (create && isOwnSet(create[1])) {
      sets.set(create[1], { params: create[2].replace(/ initval \S+/, ''), members: new Map() });
      continue;
    }
    const add = /^add (\S+) (\S+)(?: (.*))?$/.exec(line);
    if (add) sets.get(add[1])?.members.set(add[2], add[3] ?? '');
  }
  return sets;
}

export async function saveSets(run: Runner): Promise<Map<string, SavedSet>> {
  const r = await must(run, 'ipset', ['save'], 'reading the ipsets');
  return parseIpsetSave(r.stdout);
}

export async function listOwnSets(run: Runner): Promise<string[]> {
  const r = await must(run, 'ipset', ['list', '-n'], 'listing the ipsets');
  return r.stdout.split('\n').map((l) => l.trim()).filter(isOwnSet);
}

/** Sets an ipset restore file leaves behind: those it creates and does not destroy again (twins). */
export function setsOfRestore(content: string): Set<string> {
  const names = new Set<string>();
  for (const line of content.split('\n')) {
    const m = /^(create|destroy) (\S+)/.exec(line.trim());
    if (m?.[1] === 'create') names.add(m[2]);
    else if (m) names.delete(m[2]);
  }
  return names;
}

/** The chains a restore file declares (`:NAME POLICY [p:b]`). */
export const declaredChains = (content: string): Set<string> =>
  new Set(content.split('\n').flatMap((l) => /^:(\S+) /.exec(l.trim())?.[1] ?? []));

/** A restore file for the filter table (used with `--noflush`), or null when there is nothing to do. */
export const filterRestore = (lines: string[]): string | null => (lines.length ? `*filter\n${lines.join('\n')}\nCOMMIT\n` : null);

/** The tools work: iptables and ip6tables can list the filter table and ipset can list sets. */
export async function iptablesAvailable(run: Runner): Promise<boolean> {
  for (const [cmd, args] of [
    [TOOLS[4].ipt, [...WAIT, '-L', '-n']],
    [TOOLS[6].ipt, [...WAIT, '-L', '-n']],
    ['ipset', ['list', '-n']],
  ] as const) {
    if ((await run(cmd, [...args])).code !== 0) return false;
  }
  return true;
}

/**
 * Docker 20.10 keeps `-j DOCKER-USER` first in FORWARD, but while it rebuilds its rules (restart,
 * `firewall-cmd --reload`) its per-bridge ACCEPTs can end up above it — and then DOCKER-USER, and
 * lanfence with it, is bypassed. Returns what is wrong with IPv4 FORWARD, or null when DOCKER-USER
 * is reached before any rule that accepts (or hands over to Docker's DOCKER chain).
 */
export function forwardBypass(v4: FilterDump): string | null {
  const forward = v4.rules.filter((r) => r.chain === 'FORWARD');
  const jump = forward.find((r) => r.spec === '-j DOCKER-USER');
  const accepting = forward.find((r) => /-j (ACCEPT|DOCKER)$/.test(r.spec));
  if (!jump) return accepting ? 'FORWARD (IPv4) has no -j DOCKER-USER: lanfence is bypassed' : null;
  if (accepting && accepting.position < jump.position)
    return `FORWARD (IPv4): "${accepting.spec}" (rule ${accepting.position}) comes before -j DOCKER-USER (rule ${jump.position}): lanfence is bypassed`;
  return null;
}

/** restore lines that put `-j DOCKER-USER` first in IPv4 FORWARD (as Docker itself does). */
export function forwardRepairLines(v4: FilterDump): string[] {
  if (!forwardBypass(v4)) return [];
  const copies = v4.rules.filter((r) => r.chain === 'FORWARD' && r.spec === '-j DOCKER-USER');
  return [...copies.map(() => '-D FORWARD -j DOCKER-USER'), '-I FORWARD 1 -j DOCKER-USER'];
}
