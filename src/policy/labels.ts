/**
 * Container labels as a second source of exceptions, scoped to that container:
 * `lanfence.allow=10.0.0.5:5432/tcp,192.168.1.10,[fd00::5]:22/tcp,host:53/udp`.
 * Same syntax and validation as the policy; a bad entry is reported and grants nothing.
 */
import type { InventoryContainer } from '../inventory/types.js';
import type { Exception } from '../ruleset/types.js';
import { formatDiagnostic } from './diagnostic.js';
import { normalize } from './normalize.js';
import { policySchema, type ExceptionInput } from './schema.js';

export const ALLOW_LABEL = 'lanfence.allow';

export interface LabelProblem {
  container: string;
  message: string;
}

/** Splits one label value into exception inputs; syntax problems are returned, not thrown. */
export function parseAllowLabel(value: string, container: string): { entries: ExceptionInput[]; problems: string[] } {
  const entries: ExceptionInput[] = [];
  const problems: string[] = [];
  for (const raw of value.split(',').map((s) => s.trim())) {
    if (!raw) continue;
    let to: string;
    let port: string | undefined;
    const bracket = /^\[([^\]]+)\](?::(.+))?$/.exec(raw);
    if (bracket) [, to, port] = bracket;
    else if ((raw.match(/:/g) ?? []).length > 1) to = raw; // a bare IPv6 address or CIDR
    else {
      const i = raw.indexOf(':');
      to = i === -1 ? raw : raw.slice(0, i);
      port = i === -1 ? undefined : raw.slice(i + 1);
    }
    if (port !== undefined && port.trim() === '') {
      problems.push(`"${raw}": empty port after ":"`);
      continue;
    }
    entries.push({ to, ...(port !== undefined ? { ports: [port] } : {}), from: { container }, comment: `label ${ALLOW_LABEL} on ${container}` });
  }
  return { entries, problems };
}

/** Exceptions from the `lanfence.allow` labels of `containers`, numbered from `firstIndex`. */
export function labelExceptions(containers: InventoryContainer[], firstIndex: number): { exceptions: Exception[]; problems: LabelProblem[] } {
  const exceptions: Exception[] = [];
  const problems: LabelProblem[] = [];
  for (const c of containers) {
    const value = c.labels[ALLOW_LABEL];
    if (value === undefined) continue;
    if (c.labelsFromImage?.includes(ALLOW_LABEL)) {
      problems.push({ container: c.name, message: `${ALLOW_LABEL} comes from the image, not from the container's own configuration: ignored` });
      continue;
    }
    const file = `label ${ALLOW_LABEL} on ${c.name}`;
    const { entries, problems: syntax } = parseAllowLabel(value, c.name);
    for (const p of syntax) problems.push({ container: c.name, message: p });
    entries.forEach((entry) => {
      const parsed = policySchema.safeParse({ allow: [entry] });
      if (!parsed.success) return problems.push({ container: c.name, message: `"${entry.to}": ${parsed.error.issues[0].message}` });
      const { ruleset, diagnostics } = normalize(parsed.data, { file });
      const errors = diagnostics.filter((d) => d.severity === 'error');
      if (errors.length) return problems.push({ container: c.name, message: errors.map((d) => formatDiagnostic({ ...d, path: d.path.slice(2) })).join('; ') });
      const ex = ruleset.exceptions[0];
      if (!ex) return;
      exceptions.push({ ...ex, index: firstIndex + exceptions.length, origin: { file, path: ALLOW_LABEL } });
    });
  }
  return { exceptions, problems };
}
