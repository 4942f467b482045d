/**
 * Cilium (cilium.io/v2 CiliumClusterwideNetworkPolicy). Cilium's deny rules win over every allow, so
 * exceptions are holes carved out of `egressDeny` (toCIDRSet `except`); a port-scoped exception gets
 * complementary denies for its other ports. Each combination of label scopes needs its own policy
 * (at most 4 distinct label scopes: 16 policies). `enableDefaultDeny.egress: false` keeps everything
 * not denied open. The node: toEntities `host` and `remote-node`. CIDR rules do not match pods, so
 * pod-to-pod traffic and cluster DNS are unaffected.
 */
import { cidrOf, compareCidr, shortText } from '../../ruleset/cidr.js';
import type { PortRange, Ruleset } from '../../ruleset/types.js';
import { carve, type DenyRule, type Hole } from './carve.js';
import { blockedOf, entryText, labelScopes, metadata, NAME_PREFIX, namespacesText, prepare, type Entry } from './common.js';
import { ExportError } from './errors.js';
import { DEFAULT_EXCLUDED_NAMESPACES } from './labels.js';
import { complement, MAX_PORT, portLabel, unionPorts } from './ports.js';
import type { ExportOptions, ExportResult, Resource } from './types.js';

export const CILIUM_MAX_LABEL_SCOPES = 4;
const NS_KEY = 'k8s:io.kubernetes.pod.namespace';
const ECHO = { 4: { type: 8, family: 'IPv4' }, 6: { type: 128, family: 'IPv6' } } as const;

type Rule = Record<string, unknown>;

const l4 = (r: PortRange | { proto: 'sctp'; from: number; to: number }) => {
  const proto = r.proto.toUpperCase();
  if (r.from === 1 && r.to === MAX_PORT) return { port: '0', protocol: proto };
  return { port: String(r.from), ...(r.to !== r.from ? { endPort: r.to } : {}), protocol: proto };
};

/** toPorts that deny everything but `allowed` (TCP, UDP ranges; all of SCTP). */
function denyPortsBut(allowed: PortRange[]) {
  const ports = [...complement(allowed, 'tcp'), ...complement(allowed, 'udp')].map(l4);
  ports.push({ port: '0', protocol: 'SCTP' });
  return [{ ports }];
}

function renderDeny(d: DenyRule): Rule[] {
  const peer = { toCIDRSet: [{ cidr: d.cidr.text, ...(d.except.length ? { except: [...d.except].sort(compareCidr).map((c) => c.text) } : {}) }] };
  if (d.allowed === null) return [peer];
  return [
    { ...peer, toPorts: denyPortsBut(d.allowed) },
    { ...peer, icmps: [{ fields: [ECHO[d.cidr.family]] }] },
  ];
}

function hostRules(entries: Entry[], protectHost: boolean): Rule[] {
  if (!protectHost) return [];
  let allowed: PortRange[] | 'all' = [];
  for (const e of entries) {
    if (e.to.kind !== 'host') continue;
    if (e.ports === null) allowed = 'all';
    else if (allowed !== 'all') allowed = unionPorts(allowed, e.ports);
  }
  if (allowed === 'all') return [{ toEntities: ['remote-node'] }];
  if (allowed.length === 0) return [{ toEntities: ['host', 'remote-node'] }];
  return [
    { toEntities: ['remote-node'] },
    { toEntities: ['host'], toPorts: denyPortsBut(allowed) },
    { toEntities: ['host'], icmps: [{ fields: [ECHO[4], ECHO[6]] }] },
  ];
}

/** Deny rules for one set of pods; `limited` collects the port-limited holes (for the warning). */
function denyRules(ruleset: Ruleset, entries: Entry[], opts: ExportOptions, limited: Set<string>): Rule[] {
  const holes: Hole[] = [
    ...entries.flatMap((e) => (e.to.kind === 'cidr' ? [{ cidr: e.to.cidr, ports: e.ports }] : [])),
    ...opts.clusterCidrs.map((c) => ({ cidr: cidrOf(c), ports: null })),
  ];
  const rules = hostRules(entries, ruleset.protectHost);
  if (rules.some((r) => r.toPorts)) limited.add('the node (host entity)');
  for (const family of [4, 6] as const) {
    for (const b of blockedOf(ruleset, family)) {
      for (const d of carve(b, holes)) {
        if (d.allowed) limited.add(`${shortText(d.cidr)} (open: ${d.allowed.map(portLabel).join(', ')})`);
        rules.push(...renderDeny(d));
      }
    }
  }
  return rules;
}

type LabelScope = ReturnType<typeof labelScopes>[number];

/** Every consistent combination of label scopes: the pods that carry exactly those labels. */
function partitions(scopes: LabelScope[]): LabelScope[][] {
  const out: LabelScope[][] = [];
  for (let mask = 0; mask < 1 << scopes.length; mask++) {
    const chosen = scopes.filter((_, i) => mask & (1 << i));
    const clash = chosen.some((a) => chosen.some((b) => a.key === b.key && a.value !== b.value));
    if (!clash) out.push(chosen);
  }
  return out;
}

function endpointSelector(opts: ExportOptions, scopes: LabelScope[], chosen: LabelScope[]) {
  const ns = opts.namespaces.length
    ? { key: NS_KEY, operator: 'In', values: [...opts.namespaces] }
    : { key: NS_KEY, operator: 'NotIn', values: [...DEFAULT_EXCLUDED_NAMESPACES] };
  const labels = scopes.map((s) => ({ key: s.key, operator: chosen.includes(s) ? 'In' : 'NotIn', values: [s.value] }));
  return { matchExpressions: [ns, ...labels] };
}

export function exportCilium(ruleset: Ruleset, opts: ExportOptions): ExportResult {
  const { entries, warnings } = prepare(ruleset, opts, 'cilium', null);
  const scopes = labelScopes(entries);
  if (scopes.length > CILIUM_MAX_LABEL_SCOPES) {
    throw new ExportError(`cilium: ${scopes.length} distinct label scopes; at most ${CILIUM_MAX_LABEL_SCOPES} can be exported (a deny always wins in Cilium, so every combination of scopes needs its own policy)`, [
      scopes.map((s) => `${s.key}=${s.value}`).join(', '),
    ]);
  }
  const limited = new Set<string>();
  const resources: Resource[] = partitions(scopes).map((chosen) => {
    const mine = entries.filter((e) => e.scope.kind === 'all' || chosen.some((s) => e.scope.kind === 'label' && s.key === e.scope.key && s.value === e.scope.value));
    const name = scopes.length === 0 ? NAME_PREFIX : chosen.length === 0 ? `${NAME_PREFIX}-base` : `${NAME_PREFIX}-scope-${chosen.map((s) => scopes.indexOf(s) + 1).join('-')}`;
    const annotations: Record<string, string> = {};
    if (mine.length) annotations['lanfence.io/exceptions'] = mine.map(entryText).join('; ');
    return {
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumClusterwideNetworkPolicy',
      metadata: metadata(name, opts, { annotations }),
      spec: {
        description: `lanfence: pods in ${namespacesText(opts)}${chosen.length ? ` with ${chosen.map((s) => `${s.key}=${s.value}`).join(', ')}` : ''} may not reach the blocked ranges${ruleset.protectHost ? ' or the nodes' : ''}`,
        endpointSelector: endpointSelector(opts, scopes, chosen),
        enableDefaultDeny: { egress: false, ingress: false },
        egressDeny: denyRules(ruleset, mine, opts, limited),
      },
    };
  });
  for (const where of limited) warnings.push(`port-scoped exception to ${where}: cilium denies the other TCP/UDP/SCTP ports and ICMP echo there; other ICMP types are not denied`);
  const notes = [
    `Fences pods in ${namespacesText(opts)}; a deny always wins in Cilium, so exceptions are holes in the deny (toCIDRSet except).`,
    'CIDR rules do not match pods or nodes (they have identities), so pod-to-pod traffic and cluster DNS keep working without an allow.',
    ruleset.protectHost ? 'The nodes: toEntities host (the pod\'s own node) and remote-node (every other node) are denied; `to: host` exceptions open only the pod\'s own node.' : 'protect.host is false: nodes stay reachable (CIDR rules never match node addresses).',
  ];
  if (opts.mode === 'audit') {
    warnings.push('audit mode: a CiliumClusterwideNetworkPolicy has no audit switch of its own. Turn on Cilium\'s policy audit mode (Helm policyAuditMode=true, or per endpoint: cilium-dbg endpoint config ID PolicyAuditMode=Enabled) BEFORE applying, or these policies enforce; the would-be drops show as audit verdicts in Hubble.');
  }
  return { flavor: 'cilium', resources, warnings, notes };
}
