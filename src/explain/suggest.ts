/**
 * The smallest exception that would allow a packet: scoped to the container (or the network), the
 * exact destination address (or `host`), the exact port and protocol. It is checked with the evaluator
 * on the policy plus the new entry before it is offered.
 */
import type { Inventory } from '../inventory/types.js';
import { cidrOf } from '../ruleset/cidr.js';
import { evaluate, type Packet } from '../ruleset/evaluate.js';
import { resolve, type Resolved } from '../ruleset/resolve.js';
import type { Exception, PortRange, Scope } from '../ruleset/types.js';

export interface SuggestionRequest {
  /** `host` for the input path question `--to host`, else the exact destination address. */
  to: 'host' | string;
  port?: number;
  proto?: string;
  scope: Exclude<Scope, { kind: 'any' } | { kind: 'label' }>;
  comment: string;
}

const SUGGESTION_FILE = '(suggestion)';

export type SuggestionResult = { ok: true; yaml: string; exception: Exception } | { ok: false; why: string };

/** A YAML scalar: plain when that is unambiguous, else double-quoted (JSON strings are valid YAML). */
export function yamlScalar(s: string): string {
  const plain = /^[A-Za-z0-9][A-Za-z0-9_.\/:-]*$/.test(s) && !s.endsWith(':');
  const special = /^(true|false|null|yes|no|on|off|y|n)$/i.test(s) || /^[-+]?(0x[0-9a-f_]+|0o[0-7_]+|[0-9][0-9_]*(\.[0-9_]*)?(e[-+]?[0-9]+)?)$/i.test(s);
  return plain && !special ? s : JSON.stringify(s);
}

export function suggestionYaml(req: SuggestionRequest): string {
  const ports = portsOf(req);
  const scopeKey = req.scope.kind;
  const scopeValue = req.scope.kind === 'network' ? req.scope.network : req.scope.container;
  return [
    `- to: ${yamlScalar(req.to)}`,
    ...(ports ? [`  ports: [${ports.map((r) => `${r.from}/${r.proto}`).join(', ')}]`] : []),
    `  from: { ${scopeKey}: ${yamlScalar(scopeValue)} }`,
    `  comment: ${yamlScalar(req.comment)}`,
  ].join('\n');
}

function portsOf(req: SuggestionRequest): PortRange[] | null {
  if (req.port === undefined || (req.proto !== 'tcp' && req.proto !== 'udp')) return null;
  return [{ proto: req.proto, from: req.port, to: req.port }];
}

/** Builds the suggestion and proves it: the evaluator must pass `packet` once it is added to the policy. */
export function suggestException(resolved: Resolved, inventory: Inventory, packet: Packet, req: SuggestionRequest): SuggestionResult {
  const { ruleset } = resolved;
  const index = ruleset.exceptions.reduce((m, e) => Math.max(m, e.index), 0) + 1;
  const exception: Exception = {
    index,
    to: req.to === 'host' ? { kind: 'host' } : { kind: 'cidr', cidr: cidrOf(req.to) },
    ports: portsOf(req),
    from: req.scope,
    comment: req.comment,
    origin: { file: SUGGESTION_FILE, path: `allow.${index - 1}` },
  };
  const after = evaluate(resolve({ ...ruleset, exceptions: [...ruleset.exceptions, exception] }, inventory), packet);
  if (after.verdict !== 'pass' || after.exception?.origin.file !== SUGGESTION_FILE)
    return { ok: false, why: `no exception scoped to ${req.scope.kind} would allow it (with one added the verdict is still: ${after.reason})` };
  return { ok: true, yaml: suggestionYaml(req), exception };
}
