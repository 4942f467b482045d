/**
 * networking.k8s.io/v1 NetworkPolicy: allow-lists only. Per namespace, one policy for every pod that
 * allows egress to everything but the blocked ranges, the cluster's own pods and CIDRs, DNS, and the
 * unscoped exceptions; one more policy per label scope with that scope's exceptions (allow-lists add up).
 * It cannot log, so audit mode is refused; it cannot select nodes, so `to: host` is inexpressible.
 */
import type { PortRange } from '../../ruleset/types.js';
import { entryText, everythingBut, metadata, NAME_PREFIX, prepare, scopeNames, type Entry } from './common.js';
import { ExportError } from './errors.js';
import { scopeKey } from './labels.js';
import type { ExportOptions, ExportResult, Resource } from './types.js';
import type { Ruleset } from '../../ruleset/types.js';

type NpPort = { protocol: string; port: number; endPort?: number };

export const npPorts = (ports: PortRange[]): NpPort[] =>
  ports.map((p) => ({ protocol: p.proto.toUpperCase(), port: p.from, ...(p.to !== p.from ? { endPort: p.to } : {}) }));

function exceptionRule(e: Entry) {
  if (e.to.kind !== 'cidr') throw new Error('unreachable: host exceptions are refused for networkpolicy');
  return { to: [{ ipBlock: { cidr: e.to.cidr.text } }], ...(e.ports ? { ports: npPorts(e.ports) } : {}) };
}

export function exportNetworkPolicy(ruleset: Ruleset, opts: ExportOptions): ExportResult {
  if (opts.mode === 'audit') {
    throw new ExportError('networkpolicy cannot express audit mode: a NetworkPolicy can neither log nor let blocked traffic through while watching it', [
      'export with --mode enforce once the audit is done, or audit with --flavor calico (Log rules) or cilium (policy audit mode)',
    ]);
  }
  if (opts.namespaces.length === 0) throw new ExportError('networkpolicy needs at least one --namespace (a NetworkPolicy lives in one namespace)');
  const { entries, warnings } = prepare(ruleset, opts, 'networkpolicy', 'a NetworkPolicy cannot select the pod\'s own node');
  const notes = [
    'NetworkPolicy only allows: blocked ranges are the `except` of an allow-everything rule. Any other egress NetworkPolicy selecting the same pods adds to what they may reach.',
    'Pods of every namespace stay reachable (namespaceSelector {}), so in-cluster traffic and cluster DNS keep working.',
    'The pods\' own node: its addresses are blocked when they lie in a blocked range; whether a CNI applies NetworkPolicy to traffic to the local node is implementation-defined.',
  ];
  const unscoped = entries.filter((e) => e.scope.kind === 'all');
  const everything = [everythingBut(ruleset, 4), everythingBut(ruleset, 6)].filter((b) => b !== null).map((b) => ({ ipBlock: b }));
  const egress: Record<string, unknown>[] = [
    { to: [{ namespaceSelector: {} }, ...opts.clusterCidrs.map((c) => ({ ipBlock: { cidr: c } }))] },
    {
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': opts.dns.namespace } }, podSelector: { matchLabels: { [opts.dns.key]: opts.dns.value } } }],
      ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }],
    },
  ];
  if (everything.length) egress.push({ to: everything });
  egress.push(...unscoped.map(exceptionRule));
  const resources: Resource[] = [];
  const scoped = scopeNames(entries);
  for (const ns of opts.namespaces) {
    resources.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: metadata(NAME_PREFIX, opts, { namespace: ns }),
      spec: { podSelector: {}, policyTypes: ['Egress'], egress },
    });
    for (const [key, { scope, name }] of scoped) {
      const mine = entries.filter((e) => scopeKey(e.scope) === key);
      if (scope.kind !== 'label') continue;
      resources.push({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: metadata(name, opts, { namespace: ns, annotations: { 'lanfence.io/exceptions': mine.map(entryText).join('; ') } }),
        spec: { podSelector: { matchLabels: { [scope.key]: scope.value } }, policyTypes: ['Egress'], egress: mine.map(exceptionRule) },
      });
    }
  }
  return { flavor: 'networkpolicy', resources, warnings, notes };
}
