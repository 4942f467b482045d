/** Reads a policy file (or the embedded default), validates it in layers, returns a Ruleset. */
import { existsSync, readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { PolicyError } from '../errors.js';
import type { Ruleset } from '../ruleset/types.js';
import { errorsOf, type Diagnostic, type PathSegment } from './diagnostic.js';
import { DEFAULT_POLICY_PATH, DEFAULT_POLICY_YAML } from './default-policy.js';
import { normalize } from './normalize.js';
import { sourceMap } from './positions.js';
import { policySchema } from './schema.js';
import { issueToDiagnostics } from './schema-issues.js';

export interface LoadedPolicy {
  ruleset: Ruleset;
  /** Warnings (errors throw). */
  diagnostics: Diagnostic[];
  /** The file read, or `(embedded default)`. */
  file: string;
  text: string;
}

export const EMBEDDED = '(embedded default)';

/**
 * Parses and validates policy text. Returns every diagnostic (errors and warnings), each with
 * file, line and column; `ruleset` is present only when there is no error.
 */
export function parsePolicy(text: string, file: string): { ruleset?: Ruleset; diagnostics: Diagnostic[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const map = sourceMap(doc, lines);
  const withFile = (d: Diagnostic): Diagnostic => ({ ...d, file, pos: d.pos ?? map.valueAt(d.path) });

  if (doc.errors.length > 0) {
    return {
      diagnostics: doc.errors.map((e) => ({
        severity: 'error',
        path: [],
        message: `YAML: ${e.message.split('\n')[0]}`,
        file,
        pos: lines.linePos(e.pos[0]),
      })),
    };
  }
  const data: unknown = doc.toJS() ?? {};
  // Layer 1: structure. Every schema problem is reported; the offending fields are then pruned so that
  // layer 2 (normalize: CIDRs, ports, scopes) still reports its problems in the same run.
  const schemaDiags: Diagnostic[] = [];
  let candidate = data;
  let parsed = policySchema.safeParse(candidate, { reportInput: true });
  const seen = new Set<string>();
  for (let round = 0; !parsed.success && round < 8; round++) {
    const paths: PathSegment[][] = [];
    for (const issue of parsed.error.issues) {
      for (const d of issueToDiagnostics(issue)) {
        paths.push(d.path);
        const key = `${d.path.join('.')}\0${d.message}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const last = d.path[d.path.length - 1];
        const pos = issue.code === 'unrecognized_keys' && typeof last === 'string' ? map.keyAt(d.path.slice(0, -1), last) : undefined;
        schemaDiags.push(withFile({ ...d, pos }));
      }
    }
    candidate = prune(candidate, paths);
    parsed = policySchema.safeParse(candidate, { reportInput: true });
  }
  if (!parsed.success) return { diagnostics: sortDiagnostics(schemaDiags) };
  const { ruleset, diagnostics } = normalize(parsed.data, { file, positionOf: (p) => map.valueAt(p) });
  const located = sortDiagnostics([...schemaDiags, ...diagnostics.map(withFile)]);
  return errorsOf(located).length > 0 ? { diagnostics: located } : { ruleset, diagnostics: located };
}

/** Returns a copy of `data` without the object properties that hold the given paths. */
function prune(data: unknown, paths: PathSegment[][]): unknown {
  const copy = structuredClone(data);
  const at = (path: PathSegment[]) => path.reduce<unknown>((v, seg) => (v && typeof v === 'object' ? (v as Record<PathSegment, unknown>)[seg] : undefined), copy);
  for (const path of paths) {
    // Cut at the deepest object property that exists: a missing required key removes its parent.
    let cut = path.length - 1;
    while (cut >= 0 && (typeof path[cut] !== 'string' || at(path.slice(0, cut + 1)) === undefined)) cut--;
    if (cut < 0) return {};
    const parent = at(path.slice(0, cut));
    if (parent && typeof parent === 'object') delete (parent as Record<string, unknown>)[path[cut] as string];
  }
  return copy;
}

/** Loads `path` (or the default path, or the embedded default when no file exists). Throws PolicyError. */
export function loadPolicy(path?: string): LoadedPolicy {
  let file: string;
  let text: string;
  if (path !== undefined) {
    if (!existsSync(path)) throw new PolicyError([{ severity: 'error', path: [], message: 'no such file', file: path }], `policy file not found: ${path}`);
    file = path;
    text = readFileSync(path, 'utf8');
  } else if (existsSync(DEFAULT_POLICY_PATH)) {
    file = DEFAULT_POLICY_PATH;
    text = readFileSync(file, 'utf8');
  } else {
    file = EMBEDDED;
    text = DEFAULT_POLICY_YAML;
  }
  const { ruleset, diagnostics } = parsePolicy(text, file);
  if (!ruleset) throw new PolicyError(diagnostics, `${file}: ${errorsOf(diagnostics).length} error(s)`);
  return { ruleset, diagnostics, file, text };
}

function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => (a.pos?.line ?? 0) - (b.pos?.line ?? 0) || (a.pos?.col ?? 0) - (b.pos?.col ?? 0));
}
