/**
 * `lanfence logs`: the drop log by container name — time, container, destination, port/protocol,
 * the blocked entry it hit, and how often that flow was seen. `-f` follows live. Also the shared
 * set-up of `logs` and `audit` (policy, prefix, source, attribution).
 */
import { existsSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { EXIT, UsageError } from '../../errors.js';
import type { Inventory } from '../../inventory/types.js';
import { Aggregator } from '../../logs/aggregate.js';
import { DEFAULT_SOCKET, queryDaemon } from '../../daemon/api.js';
import { Attributor, CurrentStateHistory, containerText, entryText, historyFromSnapshot, type AddressHistory, type Attributed, type IntervalHistory } from '../../logs/attribute.js';
import { LogParser, portProtoText, type ParseStats } from '../../logs/parse.js';
import { fileSource, journalAvailable, journalSource, kmsgSource, type LogSource, type ReadOptions } from '../../logs/sources.js';
import { DEFAULT_POLICY_PATH } from '../../policy/default-policy.js';
import { EMBEDDED, loadPolicy, parsePolicy } from '../../policy/load.js';
import type { Ruleset } from '../../ruleset/types.js';
import { StateStore } from '../../state/store.js';
import { INVENTORY_HELP, loadInventoryOption } from '../context.js';
import { outputState, type Io } from '../output.js';
import type { CommandModule } from './types.js';

export interface LogInputOptions {
  since?: string;
  source?: string;
  file?: string;
  policy?: string;
  inventory?: string;
  prefix?: string;
}

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90s`, `30m`, `1h`, `7d`, `2w`, or a date (`2025-11-29`, `2025-11-29T01:00:00Z`). */
export function parseSince(text: string, now: number = Date.now()): Date {
  const m = /^\s*(\d+)\s*(s|m|h|d|w)\s*$/.exec(text);
  if (m) return new Date(now - Number(m[1]) * UNITS[m[2]]);
  const t = Date.parse(text);
  if (Number.isFinite(t)) return new Date(t);
  throw new UsageError(`--since: expected a duration like 1h, 7d, 30m or a date, got "${text}"`);
}

export interface PolicyChoice {
  ruleset: Ruleset;
  /** The policy file (or EMBEDDED). */
  file: string;
  /** Where the ruleset came from. */
  from: 'option' | 'applied' | 'file' | 'embedded';
}

/** `--policy`, else what `lanfence apply` recorded, else the policy file (or the embedded default). */
export function choosePolicy(option: string | undefined, store: StateStore = new StateStore()): PolicyChoice {
  if (option !== undefined) {
    const p = loadPolicy(option);
    return { ruleset: p.ruleset, file: p.file, from: 'option' };
  }
  const applied = store.read('current');
  if (applied) {
    const { ruleset } = parsePolicy(applied.policyText, applied.policyFile);
    if (ruleset) return { ruleset, file: applied.policyFile, from: 'applied' };
  }
  const p = loadPolicy();
  return { ruleset: p.ruleset, file: p.file, from: p.file === EMBEDDED ? 'embedded' : 'file' };
}

/** The policy file `audit suggest` merges into, and the ruleset it checks against (what is in that file now). */
export function targetPolicy(option: string | undefined, store: StateStore = new StateStore()): { file: string | null; text: string; ruleset: Ruleset } {
  let file: string | null = option ?? null;
  if (!file) {
    const applied = store.read('current');
    if (applied && applied.policyFile !== EMBEDDED && existsSync(applied.policyFile)) file = applied.policyFile;
    else if (existsSync(DEFAULT_POLICY_PATH)) file = DEFAULT_POLICY_PATH;
  }
  const loaded = file ? loadPolicy(file) : loadPolicy();
  return { file: file && loaded.file !== EMBEDDED ? loaded.file : null, text: loaded.text, ruleset: loaded.ruleset };
}

export interface LogSession {
  policy: PolicyChoice;
  prefix: string;
  source: LogSource;
  parser: LogParser;
  attributor: Attributor;
  inventory: Inventory;
  /** Said on stderr before the output: where names come from, what could not be reached. */
  notes: string[];
  since?: Date;
  /** Fetches the daemon's history again (follow mode keeps it fresh). */
  refreshHistory?: () => Promise<AddressHistory | null>;
}

const SOURCES = ['auto', 'kmsg', 'journal', 'file'] as const;

export interface SessionDeps {
  store?: StateStore;
  now?: number;
  /** The daemon's address history; default: ask the daemon's socket (LANFENCE_SOCKET). */
  daemonHistory?: () => Promise<AddressHistory | null>;
}

export async function openLogSession(o: LogInputOptions, deps: SessionDeps = {}): Promise<LogSession> {
  const policy = choosePolicy(o.policy, deps.store);
  const prefix = o.prefix ?? policy.ruleset.log.prefix;
  const since = o.since !== undefined ? parseSince(o.since, deps.now) : undefined;
  let name = o.source ?? (o.file !== undefined ? 'file' : 'auto');
  if (o.file !== undefined && name !== 'file') throw new UsageError(`--file reads a file; it cannot be combined with --source ${name}`);
  if (name === 'file' && o.file === undefined) throw new UsageError('--source file needs --file FILE (or --file - for standard input)');
  if (name === 'auto') name = (await journalAvailable()) ? 'journal' : 'kmsg';
  const source = name === 'file' ? fileSource(o.file!) : name === 'journal' ? journalSource() : kmsgSource();

  const inv = await loadInventoryOption(o.inventory);
  const current = new CurrentStateHistory(inv.inventory);
  const notes: string[] = [];
  if (policy.from === 'applied') notes.push(`policy: as applied from ${policy.file}`);
  else notes.push(`policy: ${policy.file}${policy.from === 'embedded' ? ' (nothing applied yet)' : ''}`);

  // The daemon, when it runs, knows who held each address when; Docker's state (or a snapshot) fills in.
  const fetchDaemonHistory = deps.daemonHistory ?? defaultDaemonHistory;
  const daemon = o.inventory === undefined ? await fetchDaemonHistory() : null;
  let currentNote: string;
  if (current.attributionSource === 'docker-now') currentNote = "Docker's current state (containers that stopped or changed address since a line was logged may be missing or misnamed)";
  else if (current.attributionSource === 'snapshot') currentNote = `the inventory snapshot ${inv.inventory.source.replace(/^file:/, '')} (current state only)`;
  else {
    const why = inv.note ? /^Docker not reachable \((.*?)\): /.exec(inv.note)?.[1] : undefined;
    currentNote = `${why !== undefined ? `Docker is not reachable (${why})` : 'no inventory'}: containers are shown by source address`;
  }
  if (daemon) notes.push(`attribution: the daemon's address history (who held each address at the time of the line); where it has no answer, ${currentNote}`);
  else notes.push(`attribution: ${currentNote}`);
  return {
    policy,
    prefix,
    source,
    parser: new LogParser({ prefix }),
    attributor: new Attributor({ history: daemon ? [daemon, current] : [current], ruleset: policy.ruleset, inventory: inv.inventory }),
    inventory: inv.inventory,
    notes,
    ...(daemon ? { refreshHistory: async () => fetchDaemonHistory() } : {}),
    ...(since ? { since } : {}),
  };
}

/** The running daemon's address history (`/v1/history` on its socket), or null when no daemon answers. */
export async function defaultDaemonHistory(): Promise<IntervalHistory | null> {
  const data = await queryDaemon<unknown>(process.env.LANFENCE_SOCKET ?? DEFAULT_SOCKET, '/v1/history');
  return data === null ? null : historyFromSnapshot(data);
}

/** The common options of `logs` and the `audit` subcommands. */
export function addLogInputOptions(cmd: Command, sinceHelp: string, sinceDefault?: string): Command {
  return cmd
    .option('--since <when>', sinceHelp, sinceDefault)
    .addOption(new Option('--source <source>', 'kernel log source (auto: the journal when journalctl exists, else /dev/kmsg)').choices([...SOURCES]))
    .option('--file <file>', 'read a log file instead (kern.log, syslog, dmesg or journalctl -o json output; "-" for stdin)')
    .option('-p, --policy <file>', 'policy (default: what lanfence apply recorded, else /etc/lanfence/policy.yaml, else the embedded default)')
    .option('--prefix <prefix>', "log prefix (default: the policy's log.prefix)")
    .option('-i, --inventory <file>', INVENTORY_HELP);
}

export function statsText(s: ParseStats): string {
  const errors = s.garbage + s.truncated;
  const parts = [`${s.lines} line(s) read`, `${s.records} drop line(s)`];
  if (errors) parts.push(`${errors} unreadable (${s.garbage} garbage, ${s.truncated} truncated)`);
  if (s.lost) parts.push(`${s.lost} lost (the kernel buffer wrapped)`);
  return parts.join(', ');
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Local time `YYYY-MM-DD HH:MM:SS` (like journalctl), or `-`. */
export function localTime(ms: number | undefined): string {
  if (ms === undefined) return '-'.padEnd(19);
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

export function matchesContainer(a: Attributed, name: string): boolean {
  const h = a.holder;
  if (h && (h.container === name || (h.id !== undefined && name.length >= 12 && h.id.startsWith(name)))) return true;
  return a.record.src === name;
}

export const LOG_HEADER = `${'TIME'.padEnd(19)}  ${'CONTAINER'.padEnd(20)}  ${'DESTINATION'.padEnd(24)}  ${'PORT/PROTO'.padEnd(18)}  ${'ENTRY'.padEnd(36)}  COUNT`;

export function logRow(a: Attributed, count: number | null): string {
  const r = a.record;
  return `${localTime(r.time)}  ${containerText(a).padEnd(20)}  ${r.dst.padEnd(24)}  ${portProtoText(r).padEnd(18)}  ${entryText(a.entry).padEnd(36)}  ${count ?? '-'}`;
}

export function logJson(a: Attributed, count: number | null): Record<string, unknown> {
  const r = a.record;
  return {
    time: r.time !== undefined ? new Date(r.time).toISOString() : null,
    container: a.holder?.container ?? null,
    containerId: a.holder?.id ?? null,
    network: a.holder?.network ?? a.ifaceNetwork ?? null,
    composeProject: a.holder?.composeProject ?? null,
    attribution: a.attribution,
    src: r.src,
    dst: r.dst,
    proto: r.proto,
    ...(r.spt !== undefined ? { spt: r.spt } : {}),
    ...(r.dpt !== undefined ? { dpt: r.dpt } : {}),
    ...(r.icmpType !== undefined ? { icmpType: r.icmpType, icmpCode: r.icmpCode } : {}),
    ...(r.flags ? { flags: r.flags } : {}),
    in: r.in,
    out: r.out,
    ...(r.physIn ? { physIn: r.physIn } : {}),
    path: r.path,
    entry: a.entry === null ? null : a.entry.kind === 'host' ? 'host' : a.entry.name,
    entryCidr: a.entry?.kind === 'blocked' ? a.entry.cidr : null,
    count,
  };
}

/** An AbortSignal that fires on Ctrl-C, for follow mode (the summary is still printed). */
export function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const onInt = () => ac.abort();
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onInt);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onInt);
    },
  };
}

export const HISTORY_REFRESH_MS = 30_000;

async function refreshDaemon(session: LogSession): Promise<void> {
  const h = await session.refreshHistory?.().catch(() => null);
  if (h) session.attributor.replaceHistory(0, h);
}

interface LogsOpts extends LogInputOptions {
  follow?: boolean;
  container?: string;
  json?: boolean;
  fromStart?: boolean;
}

export async function runLogs(opts: LogsOpts, io: Io): Promise<number> {
  outputState.json = !!opts.json;
  const session = await openLogSession(opts);
  for (const n of session.notes) io.err(`note: ${n}`);
  const agg = new Aggregator();
  const stop = opts.follow ? interruptSignal() : null;
  const readOpts: ReadOptions = { follow: !!opts.follow, ...(session.since ? { since: session.since } : {}), ...(opts.fromStart ? { fromStart: true } : {}), ...(stop ? { signal: stop.signal } : {}) };
  let shown = 0;
  // Follow mode: keep the daemon's history fresh (containers start and stop while we watch).
  const refresh = opts.follow && session.refreshHistory ? setInterval(() => void refreshDaemon(session), HISTORY_REFRESH_MS) : null;
  refresh?.unref();
  try {
    if (!opts.json) io.out(LOG_HEADER);
    for await (const rec of session.source.records(session.parser, readOpts)) {
      const a = session.attributor.attribute(rec);
      const flow = agg.add(a);
      if (opts.container !== undefined && !matchesContainer(a, opts.container)) continue;
      shown++;
      const count = flow?.count ?? null;
      io.out(opts.json ? JSON.stringify(logJson(a, count)) : logRow(a, count));
    }
  } finally {
    stop?.dispose();
    if (refresh) clearInterval(refresh);
  }
  const s = session.parser.stats;
  if (shown === 0) io.err(`no drop lines with prefix "${session.prefix}" from ${session.source.description}${session.since ? ` since ${session.since.toISOString()}` : ''}${opts.container ? ` for ${opts.container}` : ''}`);
  io.err(statsText(s));
  return EXIT.ok;
}

export const logsCommand: CommandModule = {
  name: 'logs',
  register(program, io, setExit) {
    const cmd = program
      .command('logs')
      .description('the drop log by container name: time, container, destination, port/proto, blocked entry, count')
      .option('-f, --follow', 'follow: print new lines as the kernel logs them (Ctrl-C stops)')
      .option('--container <name>', 'only this container (name, id, or source address)')
      .option('--from-start', 'with -f: start at the beginning of the kernel buffer (kmsg) or of the file, not at its end')
      .option('--json', 'one JSON object per line');
    addLogInputOptions(cmd, 'only lines since then (1h, 30m, 7d, or a date)').action(async (opts: LogsOpts) => setExit(await runLogs(opts, io)));
  },
};
