/**
 * policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy, Admin tier. One object per label scope
 * (its exceptions; lowest priority number = evaluated first), then the main object: unscoped
 * exceptions, DNS and pod traffic (Pass), cluster CIDRs (Pass), Deny for the blocked ranges.
 * Exceptions Pass by default (on to NetworkPolicies and the Baseline tier, like lanfence's RETURN);
 * --exception-action accept makes them Accept. The API has no log action: audit mode is refused.
 */
import type { PortRange, Ruleset } from '../../ruleset/types.js';
import { blockedOf, chunks, entryText, metadata, NAME_PREFIX, namespaceLabelSelector, namespacesText, prepare, scopeNames, type Entry } from './common.js';
import { ExportError } from './errors.js';
import { NAMESPACE_NAME_LABEL, scopeKey } from './labels.js';
import type { ExportOptions, ExportResult, Resource } from './types.js';

/** API limits (CRD schema): rules per object, peers / networks / protocols per rule. */
export const CNP_MAX = 25;
export const CNP_BASE_PRIORITY = 10;

type Rule = { name: string; action: string; to: Record<string, unknown>[]; protocols?: Record<string, unknown>[] };

const portSpec = (p: PortRange) => ({ destinationPort: p.from === p.to ? { number: p.from } : { range: { start: p.from, end: p.to } } });
export const cnpProtocols = (ports: PortRange[]) => ports.map((p) => ({ [p.proto]: portSpec(p) }));

const ruleName = (text: string) => (text.length > 100 ? `${text.slice(0, 99)}…` : text);

function exceptionRules(e: Entry, action: string): Rule[] {
  if (e.to.kind !== 'cidr') throw new Error('unreachable: host exceptions are refused for clusternetworkpolicy');
  const to = [{ networks: [e.to.cidr.text] }];
  if (!e.ports) return [{ name: ruleName(entryText(e)), action, to }];
  return chunks(e.ports, CNP_MAX).map((ps) => ({ name: ruleName(entryText(e)), action, to, protocols: cnpProtocols(ps) }));
}

function cnp(name: string, priority: number, subject: Record<string, unknown>, egress: Rule[], opts: ExportOptions): Resource {
  return { apiVersion: 'policy.networking.k8s.io/v1alpha2', kind: 'ClusterNetworkPolicy', metadata: metadata(name, opts), spec: { tier: 'Admin', priority, subject, egress } };
}

export function exportClusterNetworkPolicy(ruleset: Ruleset, opts: ExportOptions): ExportResult {
  if (opts.mode === 'audit') {
    throw new ExportError('clusternetworkpolicy cannot express audit mode: the API has Accept, Deny and Pass but no log action', [
      'export with --mode enforce once the audit is done, or audit with --flavor calico (Log rules) or cilium (policy audit mode)',
    ]);
  }
  const { entries, warnings } = prepare(ruleset, opts, 'clusternetworkpolicy', 'the standard channel of ClusterNetworkPolicy has no node peer');
  const action = opts.exceptionAction === 'accept' ? 'Accept' : 'Pass';
  const namespaces = namespaceLabelSelector(opts);
  const resources: Resource[] = [];
  let priority = CNP_BASE_PRIORITY;
  for (const [key, { scope, name }] of scopeNames(entries)) {
    const rules = entries.filter((e) => scopeKey(e.scope) === key).flatMap((e) => exceptionRules(e, action));
    const subject = { pods: { namespaceSelector: namespaces, podSelector: { matchLabels: { [scope.key]: scope.value } } } };
    chunks(rules, CNP_MAX).forEach((part, i) => resources.push(cnp(i ? `${name}-${i + 1}` : name, priority, subject, part, opts)));
  }
  if (resources.length) priority++;
  const rules: Rule[] = entries.filter((e) => e.scope.kind === 'all').flatMap((e) => exceptionRules(e, action));
  rules.push({
    name: 'cluster DNS',
    action: 'Pass',
    to: [{ pods: { namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: opts.dns.namespace } }, podSelector: { matchLabels: { [opts.dns.key]: opts.dns.value } } } }],
    protocols: [{ udp: { destinationPort: { number: 53 } } }, { tcp: { destinationPort: { number: 53 } } }],
  });
  rules.push({ name: 'pods of every namespace', action: 'Pass', to: [{ pods: { namespaceSelector: {}, podSelector: {} } }] });
  for (const part of chunks(opts.clusterCidrs, CNP_MAX)) rules.push({ name: 'cluster CIDRs', action: 'Pass', to: [{ networks: part }] });
  for (const family of [4, 6] as const) {
    for (const part of chunks(blockedOf(ruleset, family).map((c) => c.text), CNP_MAX)) rules.push({ name: `blocked IPv${family} ranges`, action: 'Deny', to: [{ networks: part }] });
  }
  const subject = { namespaces };
  chunks(rules, CNP_MAX).forEach((part, i) => resources.push(cnp(i ? `${NAME_PREFIX}-${i + 1}` : NAME_PREFIX, priority + i, subject, part, opts)));
  const notes = [
    `Fences pods in ${namespacesText(opts)} (Admin tier, priorities ${CNP_BASE_PRIORITY}–${priority + Math.ceil(rules.length / CNP_MAX) - 1}).`,
    `Exceptions ${action === 'Pass' ? 'Pass: NetworkPolicies and the Baseline tier still judge them, as lanfence exceptions never accept outright' : 'Accept: they override NetworkPolicies and the Baseline tier'}.`,
    'Pod-to-pod traffic and cluster DNS Pass before the blocked ranges are denied (a Deny on networks also matches pod IPs).',
    'No log action exists: blocked connections are dropped silently.',
  ];
  if (ruleset.protectHost) notes.push('protect.host: node addresses are blocked only when they lie in a blocked range; `to: host` exceptions cannot be expressed.');
  return { flavor: 'clusternetworkpolicy', resources, warnings, notes };
}
