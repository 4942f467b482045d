/**
 * Calico (projectcalico.org/v3): a `lanfence` Tier ordered before the default tier (where Kubernetes
 * NetworkPolicies live) and one GlobalNetworkPolicy in it. Rules, in order: exceptions (Pass by
 * default: hand the flow on to the next tier, like lanfence's RETURN; Allow with --exception-action
 * accept), DNS, pod and cluster-CIDR traffic (Pass), Log + Deny for the blocked ranges (audit: Log
 * only), and a final Pass so the tier's default action does not drop everything else.
 */
import type { PortRange, Proto, Ruleset } from '../../ruleset/types.js';
import { blockedOf, entryText, metadata, NAME_PREFIX, namespacesText, prepare, type Entry } from './common.js';
import { DEFAULT_EXCLUDED_NAMESPACES, NAMESPACE_NAME_LABEL } from './labels.js';
import { byProto, PROTOS } from './ports.js';
import type { ExportOptions, ExportResult, Resource } from './types.js';

export const CALICO_TIER = NAME_PREFIX;
export const CALICO_TIER_ORDER = 100;

const quote = (s: string) => `'${s}'`;
const setOf = (values: string[]) => `{${values.map(quote).join(', ')}}`;

/** Calico selector for the fenced namespaces. */
export const calicoNamespaceSelector = (opts: ExportOptions): string =>
  opts.namespaces.length ? `${NAMESPACE_NAME_LABEL} in ${setOf(opts.namespaces)}` : `${NAMESPACE_NAME_LABEL} not in ${setOf(DEFAULT_EXCLUDED_NAMESPACES)}`;

const calicoPorts = (ports: PortRange[]) => ports.map((p) => (p.from === p.to ? p.from : `${p.from}:${p.to}`));

type Rule = Record<string, unknown>;

function exceptionRules(e: Entry, action: string): Rule[] {
  if (e.to.kind !== 'cidr') throw new Error('unreachable: host exceptions are refused for calico');
  const cidr = e.to.cidr;
  const base = {
    action,
    ipVersion: cidr.family,
    metadata: { annotations: { 'lanfence.io/exception': entryText(e) } },
    ...(e.scope.kind === 'label' ? { source: { selector: `${e.scope.key} == ${quote(e.scope.value)}` } } : {}),
  };
  if (!e.ports) return [{ ...base, destination: { nets: [cidr.text] } }];
  return PROTOS.filter((p) => byProto(e.ports!, p).length).map((proto: Proto) => ({
    ...base,
    protocol: proto.toUpperCase(),
    destination: { nets: [cidr.text], ports: calicoPorts(byProto(e.ports!, proto)) },
  }));
}

export function exportCalico(ruleset: Ruleset, opts: ExportOptions): ExportResult {
  const { entries, warnings } = prepare(ruleset, opts, 'calico', 'Calico can select a node only through host endpoints, which lanfence cannot assume exist');
  const exAction = opts.exceptionAction === 'accept' ? 'Allow' : 'Pass';
  const pass = (what: string) => ({ action: 'Pass', metadata: { annotations: { 'lanfence.io/rule': what } } });
  const rules: Rule[] = [];
  for (const e of entries) rules.push(...exceptionRules(e, exAction));
  for (const proto of ['UDP', 'TCP']) {
    rules.push({
      ...pass('cluster DNS'),
      protocol: proto,
      destination: { selector: `${opts.dns.key} == ${quote(opts.dns.value)}`, namespaceSelector: `${NAMESPACE_NAME_LABEL} == ${quote(opts.dns.namespace)}`, ports: [53] },
    });
  }
  rules.push({ ...pass('pods of every namespace'), destination: { selector: 'all()', namespaceSelector: 'all()' } });
  if (opts.clusterCidrs.length) rules.push({ ...pass('cluster CIDRs'), destination: { nets: [...opts.clusterCidrs] } });
  for (const family of [4, 6] as const) {
    const nets = blockedOf(ruleset, family).map((c) => c.text);
    if (!nets.length) continue;
    rules.push({ action: 'Log', ipVersion: family, destination: { nets } });
    if (opts.mode === 'enforce') rules.push({ action: 'Deny', ipVersion: family, destination: { nets } });
  }
  rules.push(pass('everything else: on to the next tier'));

  const tier: Resource = {
    apiVersion: 'projectcalico.org/v3',
    kind: 'Tier',
    metadata: metadata(CALICO_TIER, opts),
    spec: { order: CALICO_TIER_ORDER, defaultAction: 'Pass' },
  };
  const gnp: Resource = {
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: metadata(`${CALICO_TIER}.egress`, opts),
    spec: { tier: CALICO_TIER, order: 10, namespaceSelector: calicoNamespaceSelector(opts), selector: 'all()', types: ['Egress'], egress: rules },
  };
  const notes = [
    `Fences pods in ${namespacesText(opts)}; host endpoints are not selected.`,
    `Exceptions ${exAction === 'Pass' ? 'Pass: the next tier (Kubernetes NetworkPolicies) still judges them, as lanfence exceptions never accept outright' : 'Allow: they end policy evaluation, overriding NetworkPolicies in later tiers'}.`,
    opts.mode === 'audit' ? 'Audit mode: blocked ranges are logged (Log) and passed on, nothing is denied.' : 'Blocked ranges are logged (Log, every new connection, no rate limit) and denied.',
    'The pods\' own node: its addresses are blocked when they lie in a blocked range; `to: host` exceptions cannot be expressed.',
  ];
  if (ruleset.protectHost) notes.push('protect.host: Calico has no generic "the pod\'s node" selector; nodes on addresses outside the blocked ranges stay reachable.');
  return { flavor: 'calico', resources: [tier, gnp], warnings, notes };
}
