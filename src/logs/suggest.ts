/**
 * `audit suggest`: from aggregated flows to `allow:` entries — scoped to the container (or to its
 * network when several containers of that network need the same thing), the exact destination
 * address and the exact ports, each commented with its counts and dates — and `--write`, which
 * merges them into the policy file without disturbing the rest of it.
 *
 * Writing: the file is parsed with the `yaml` Document API, which locates the `allow` sequence and
 * renders the new items (with their comments); the items are spliced into the original text at the
 * end of that sequence, so every other byte of the file (comments, alignment, blank lines) stays as
 * it was. The result must parse to exactly the old policy plus the new entries and must pass
 * `parsePolicy`; otherwise nothing is written. The file is replaced atomically (temp file + rename).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Document, isMap, isScalar, isSeq, parseDocument, type Pair, type YAMLMap, type YAMLSeq } from 'yaml';
import { PolicyError } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import { errorsOf } from '../policy/diagnostic.js';
import { parsePolicy } from '../policy/load.js';
import { mergePortRanges, portText } from '../policy/ports.js';
import { evaluate, type Packet } from '../ruleset/evaluate.js';
import { resolve, type Resolved } from '../ruleset/resolve.js';
import type { PortRange, Proto, Ruleset } from '../ruleset/types.js';
import { flowPortText, type FlowView } from './aggregate.js';
import { entryText, type EntryRef } from './attribute.js';

export interface SuggestOptions {
  /** The policy the suggestions are for (what is already allowed is skipped). */
  ruleset: Ruleset;
  /** Containers and networks now (network scopes need the network's bridge; container scopes its address). */
  inventory: Inventory;
  /** Lines outside scans a flow needs to be suggested; default 1. */
  minCount?: number;
  /** For the entries' `comment:` date. */
  now?: Date;
}

export type SuggestScope = { container: string } | { network: string };

export interface Suggestion {
  from: SuggestScope;
  /** The exact destination address. */
  to: string;
  ports: PortRange[];
  flows: FlowView[];
  containers: string[];
  entry: EntryRef | null;
  count: number;
  first?: number;
  last?: number;
}

export type SkipKind = 'scan' | 'min-count' | 'unattributed' | 'not-tcp-udp' | 'no-entry' | 'allowed' | 'not-judged';

export interface Skipped {
  flow: FlowView;
  kind: SkipKind;
  reason: string;
}

/** One line per kind, for summaries. */
export const SKIP_SUMMARY: Record<SkipKind, string> = {
  scan: 'part of a scan',
  'min-count': 'seen fewer times (outside scans) than --min-count',
  unattributed: 'the source is not attributed to a container',
  'not-tcp-udp': 'not TCP/UDP: exceptions are per TCP/UDP port (one for ICMP would open every port and protocol)',
  'no-entry': 'the destination is in no blocked range of the policy',
  allowed: 'already allowed by an exception',
  'not-judged': 'not judged by the policy',
};

export interface SuggestResult {
  suggestions: Suggestion[];
  skipped: Skipped[];
}

/** The packet a flow stands for, as the evaluator sees it. */
export function packetOf(f: Pick<FlowView, 'iface' | 'out' | 'src' | 'dst' | 'proto' | 'dport' | 'icmpType' | 'path'>): Packet {
  return {
    iif: f.iface,
    ...(f.out ? { oif: f.out } : {}),
    src: f.src,
    dst: f.dst,
    proto: f.proto,
    ...(f.dport !== undefined ? { dport: f.dport } : {}),
    ...(f.icmpType !== undefined ? { icmpType: f.icmpType } : {}),
    path: f.path,
  };
}

const isProto = (p: string): p is Proto => p === 'tcp' || p === 'udp';

export function suggest(flows: FlowView[], o: SuggestOptions): SuggestResult {
  const minCount = o.minCount ?? 1;
  const resolved = resolve(o.ruleset, o.inventory);
  const skipped: Skipped[] = [];
  const wanted: FlowView[] = [];
  for (const f of flows) {
    const skip = skipReason(f, resolved, minCount);
    if (skip) skipped.push({ flow: f, ...skip });
    else wanted.push(f);
  }

  // Several containers of one network needing the same destination and port: scope to the network.
  const bridged = new Set(o.inventory.networks.filter((n) => n.driver === 'bridge' && n.bridge).map((n) => n.name));
  const sharers = new Map<string, Set<string>>();
  const shareKey = (f: FlowView) => `${f.holder?.network}|${f.dst}|${f.proto}|${f.dport}`;
  for (const f of wanted) {
    if (!f.holder?.network || !bridged.has(f.holder.network)) continue;
    const set = sharers.get(shareKey(f)) ?? new Set<string>();
    set.add(f.holder.container);
    sharers.set(shareKey(f), set);
  }

  const groups = new Map<string, Suggestion>();
  for (const f of wanted) {
    const holder = f.holder!;
    const shared = (sharers.get(shareKey(f))?.size ?? 0) >= 2;
    const from: SuggestScope = shared ? { network: holder.network! } : { container: holder.container };
    const key = JSON.stringify([from, f.dst]);
    let s = groups.get(key);
    if (!s) {
      s = { from, to: f.dst, ports: [], flows: [], containers: [], entry: f.entry, count: 0 };
      groups.set(key, s);
    }
    s.flows.push(f);
    s.ports.push({ proto: f.proto as Proto, from: f.dport!, to: f.dport! });
    if (!s.containers.includes(holder.container)) s.containers.push(holder.container);
    s.count += f.count - f.scanCount;
    if (f.first !== undefined && (s.first === undefined || f.first < s.first)) s.first = f.first;
    if (f.last !== undefined && (s.last === undefined || f.last > s.last)) s.last = f.last;
  }
  const suggestions = [...groups.values()].map((s) => ({ ...s, ports: mergePortRanges(s.ports), containers: s.containers.sort() }));
  suggestions.sort((a, b) => scopeName(a.from).localeCompare(scopeName(b.from)) || a.to.localeCompare(b.to));
  return { suggestions, skipped };
}

function skipReason(f: FlowView, resolved: Resolved, minCount: number): { kind: SkipKind; reason: string } | null {
  if (f.class === 'scan') return { kind: 'scan', reason: 'part of a scan' };
  const outside = f.count - f.scanCount;
  if (outside < minCount) return { kind: 'min-count', reason: `seen ${outside} time(s) outside scans, below --min-count ${minCount}` };
  if (!f.holder) return { kind: 'unattributed', reason: `source ${f.src} is not attributed to a container` };
  if (!isProto(f.proto) || f.dport === undefined)
    return {
      kind: 'not-tcp-udp',
      reason: `${flowPortText(f)}: exceptions are per TCP/UDP port; one for ${f.proto} would have to open every port and protocol (write it by hand if you mean it)`,
    };
  if (f.path === 'forward' && f.entry === null) return { kind: 'no-entry', reason: `${f.dst} is in no blocked range of the policy` };
  const v = evaluate(resolved, packetOf(f));
  if (v.verdict === 'pass') return { kind: 'allowed', reason: v.exception ? `already allowed by allow #${v.exception.index}` : `already passes: ${v.reason}` };
  if (v.verdict === 'not-judged') return { kind: 'not-judged', reason: `not judged by the policy: ${v.reason}` };
  return null;
}

export const scopeName = (s: SuggestScope): string => ('container' in s ? `container ${s.container}` : `network ${s.network}`);

// ---------------------------------------------------------------------------------------------
// Rendering

const iso = (ms: number | undefined): string => (ms === undefined ? '?' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));
const span = (first?: number, last?: number): string => (first === undefined ? 'no time stamps' : first === last ? iso(first) : `${iso(first)} → ${iso(last)}`);

/** The comment lines above an entry: the totals, then one line per port. */
export function suggestionComment(s: Suggestion): string[] {
  const lines = [`audit log: ${s.count} line(s), ${span(s.first, s.last)}, ${s.containers.join(', ')} → ${s.to}${s.entry ? ` (${entryText(s.entry)})` : ''}`];
  if (s.flows.length > 1)
    for (const f of [...s.flows].sort((a, b) => (a.proto === b.proto ? a.dport! - b.dport! : a.proto < b.proto ? -1 : 1) || a.container.localeCompare(b.container))) {
      lines.push(`  ${`${f.dport}/${f.proto}`.padEnd(11)} ${String(f.count - f.scanCount).padStart(5)} line(s)  ${span(f.first, f.last)}${s.containers.length > 1 ? `  ${f.container}` : ''}`);
    }
  // Names come from Docker (or the daemon): keep control characters out of the YAML comment.
  return lines.map((l) => l.replace(/[\x00-\x1f\x7f]/g, '?'));
}

export interface AllowItem {
  to: string;
  ports: string[];
  from: SuggestScope;
  comment: string;
}

export function allowItem(s: Suggestion, now: Date = new Date()): AllowItem {
  return { to: s.to, ports: s.ports.map(portText), from: s.from, comment: `suggested from the audit log (${now.toISOString().slice(0, 10)})` };
}

function itemNodes(doc: Document, suggestions: Suggestion[], now: Date): YAMLMap[] {
  return suggestions.map((s) => {
    const node = doc.createNode(allowItem(s, now)) as YAMLMap;
    const ports = node.get('ports', true) as unknown;
    const from = node.get('from', true) as unknown;
    if (isSeq(ports)) ports.flow = true;
    if (isMap(from)) from.flow = true;
    node.commentBefore = suggestionComment(s)
      .map((l) => ` ${l}`)
      .join('\n');
    return node;
  });
}

const TO_STRING = { flowCollectionPadding: false, lineWidth: 0 } as const;

/** The new entries as a YAML sequence (what `audit suggest` prints), indented by `indent` spaces. */
export function renderItems(suggestions: Suggestion[], indent = 0, now: Date = new Date()): string {
  if (suggestions.length === 0) return '';
  const doc = new Document([]);
  (doc.contents as YAMLSeq).items.push(...itemNodes(doc, suggestions, now));
  const text = doc.toString(TO_STRING);
  const pad = ' '.repeat(indent);
  return text
    .split('\n')
    .map((l) => (l === '' ? l : pad + l))
    .join('\n');
}

// ---------------------------------------------------------------------------------------------
// Merging into the policy file

export interface MergeResult {
  text: string;
  added: number;
  /** `splice`: only the new lines were inserted; `reformat`: the whole file was re-serialised (unusual layouts). */
  method: 'splice' | 'reformat' | 'unchanged';
}

function allowPair(doc: Document): Pair | undefined {
  const root = doc.contents;
  if (!isMap(root)) return undefined;
  return root.items.find((p) => isScalar(p.key) && p.key.value === 'allow') as Pair | undefined;
}

const lineStart = (text: string, pos: number): number => text.lastIndexOf('\n', pos - 1) + 1;

/** Splices the new items into the original text; null when the layout is not one it handles. */
function splice(text: string, doc: Document, items: string, itemsAt: (indent: number) => string): string | null {
  const root = doc.contents;
  if (!isMap(root) || root.flow) return null;
  const pair = allowPair(doc);
  const withNl = text.endsWith('\n') ? text : `${text}\n`;
  if (!pair) {
    if (items === '') return text;
    const keyCol = root.items.length > 0 && isScalar(root.items[0].key) && root.items[0].key.range ? root.items[0].key.range[0] - lineStart(text, root.items[0].key.range[0]) : 0;
    if (keyCol !== 0) return null;
    return `${withNl}\nallow:\n${itemsAt(2)}`;
  }
  const key = pair.key as { range?: [number, number, number] };
  if (!key.range) return null;
  const keyCol = key.range[0] - lineStart(text, key.range[0]);
  const value = pair.value as { range?: [number, number, number] } | null;
  if (isSeq(value) && value.flow && value.items.length === 0 && value.range) {
    // `allow: []` → `allow:` followed by the items (a comment on that line stays).
    const [from, to] = value.range;
    let eol = text.indexOf('\n', to);
    if (eol < 0) eol = text.length;
    const rest = text.slice(to, eol);
    const head = text.slice(0, from).replace(/[ \t]+$/, '');
    const tail = eol < text.length ? text.slice(eol + 1) : '';
    return `${head}${rest.trim() ? rest : ''}\n${itemsAt(keyCol + 2)}${tail}`;
  }
  if (isSeq(value) && !value.flow && value.items.length > 0 && value.range) {
    const indent = value.range[0] - lineStart(text, value.range[0]);
    const last = value.items[value.items.length - 1] as { range?: [number, number, number] };
    if (!last.range) return null;
    let at = last.range[1];
    if (text.charCodeAt(at - 1) !== 10) {
      const nl = text.indexOf('\n', at);
      at = nl < 0 ? text.length : nl + 1;
    }
    const head = text.slice(0, at);
    return `${head.endsWith('\n') ? head : `${head}\n`}${itemsAt(indent)}${text.slice(at)}`;
  }
  return null;
}

function expectedData(before: unknown, added: AllowItem[]): unknown {
  const data = (before && typeof before === 'object' ? { ...(before as Record<string, unknown>) } : {}) as Record<string, unknown>;
  const allow = Array.isArray(data.allow) ? data.allow : [];
  data.allow = [...allow, ...added.map((a) => ({ ...a }))];
  return data;
}

/**
 * Merges the suggestions into policy text. Throws PolicyError when the original is invalid, or when
 * the result would not be exactly the old policy plus the new entries, or would not validate.
 */
export function mergeIntoPolicy(text: string, file: string, suggestions: Suggestion[], now: Date = new Date()): MergeResult {
  const original = parsePolicy(text, file);
  if (!original.ruleset) throw new PolicyError(original.diagnostics, `${file} is not valid; fix it before merging suggestions into it`);
  if (suggestions.length === 0) return { text, added: 0, method: 'unchanged' };
  const doc = parseDocument(text);
  const added = suggestions.map((s) => allowItem(s, now));
  const expected = expectedData(doc.toJS(), added);

  const check = (candidate: string): boolean => {
    const d = parseDocument(candidate);
    return d.errors.length === 0 && isDeepStrictEqual(d.toJS(), expected);
  };

  let method: MergeResult['method'] = 'splice';
  let result = splice(text, doc, renderItems(suggestions, 0, now), (indent) => renderItems(suggestions, indent, now));
  if (result === null || !check(result)) {
    // An unusual layout (a flow-style allow list, a flow-style root, ...): let the Document API rewrite
    // the file. Comments survive; alignment may not.
    method = 'reformat';
    const d = parseDocument(text);
    let seq = d.get('allow', true);
    if (!isSeq(seq)) {
      seq = d.createNode([]);
      d.set('allow', seq);
    }
    (seq as YAMLSeq).flow = false;
    (seq as YAMLSeq).items.push(...itemNodes(d, suggestions, now));
    result = d.toString(TO_STRING);
    if (!check(result)) throw new PolicyError([], `merging into ${file} would change more than the allow list; nothing was written`);
  }
  const parsed = parsePolicy(result, file);
  if (!parsed.ruleset || errorsOf(parsed.diagnostics).length > 0)
    throw new PolicyError(parsed.diagnostics, `the merged policy would not be valid; ${file} was not changed`);
  return { text: result, added: suggestions.length, method };
}

/** Replaces `file` atomically: a temporary file in the same directory, fsync, rename. Keeps the mode. */
export function writeFileAtomic(file: string, text: string): void {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  let mode = 0o644;
  try {
    mode = statSync(file).mode & 0o7777;
  } catch {
    /* a new file */
  }
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
