/** Turns zod issues into diagnostics a person can act on. */
import type { z } from 'zod';
import type { Diagnostic, PathSegment } from './diagnostic.js';
import { policySchema } from './schema.js';

type Issue = z.core.$ZodIssue;

export function issueToDiagnostics(issue: Issue): Diagnostic[] {
  const path = issue.path as PathSegment[];
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({
        severity: 'error' as const,
        path: [...path, key],
        message: unknownKeyMessage(key, keysAt(path)),
      }));
    case 'invalid_type':
      return [{ severity: 'error', path, message: `expected ${article(issue.expected)}, got ${describeReceived(issue.input)}` }];
    case 'invalid_value':
      return [
        {
          severity: 'error',
          path,
          message: `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeReceived(issue.input)}`,
        },
      ];
    case 'too_small':
      return [{ severity: 'error', path, message: issue.origin === 'array' ? 'must not be empty' : `must not be empty` }];
    case 'too_big':
      return [{ severity: 'error', path, message: `too long: at most ${String(issue.maximum)} ${issue.origin === 'string' ? 'characters' : 'items'}` }];
    default:
      return [{ severity: 'error', path, message: issue.message }];
  }
}

function article(expected: string): string {
  if (expected === 'array') return 'a list';
  if (expected === 'object') return 'a mapping (key: value)';
  if (expected === 'boolean') return 'true or false';
  return `a ${expected}`;
}

function describeReceived(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (input === null) return 'null (empty value)';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  if (typeof input === 'string') return JSON.stringify(input);
  return `${typeof input} ${JSON.stringify(input)}`;
}

function unknownKeyMessage(key: string, known: string[]): string {
  const close = known
    .map((k) => ({ k, d: editDistance(k, key) }))
    .filter((x) => x.d <= 2)
    .sort((a, b) => a.d - b.d)[0];
  const hint = close ? ` — did you mean "${close.k}"?` : known.length ? ` (expected one of: ${known.join(', ')})` : '';
  return `unknown key "${key}"${hint}`;
}

/** The keys the schema allows at `path` (numbers are list indexes). */
function keysAt(path: PathSegment[]): string[] {
  let schema: unknown = policySchema;
  for (const seg of path) {
    schema = unwrap(schema);
    const def = (schema as { _zod?: { def?: Record<string, unknown> } })?._zod?.def;
    if (!def) return [];
    if (typeof seg === 'number' && def.type === 'array') schema = def.element;
    else if (typeof seg === 'string' && def.type === 'object') schema = (def.shape as Record<string, unknown>)[seg];
    else return [];
  }
  const def = (unwrap(schema) as { _zod?: { def?: Record<string, unknown> } })?._zod?.def;
  return def?.type === 'object' ? Object.keys(def.shape as object) : [];
}

function unwrap(schema: unknown): unknown {
  let s = schema as { _zod?: { def?: Record<string, unknown> } } | undefined;
  while (s?._zod?.def && (s._zod.def.type === 'optional' || s._zod.def.type === 'default')) {
    s = s._zod.def.innerType as typeof s;
  }
  return s;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      dp[i][j] = Math.min(dp[i - 1][j] + 1, dp[i][j - 1] + 1, dp[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return dp[a.length][b.length];
}
