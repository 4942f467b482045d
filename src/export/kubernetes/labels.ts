/** Kubernetes label syntax, and lanfence scopes as label selectors. */
import type { Scope } from '../../ruleset/types.js';

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A label key: optional `prefix/` (DNS subdomain ≤ 253) and a name (≤ 63). */
export function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const name = slash === -1 ? key : key.slice(slash + 1);
  const prefix = slash === -1 ? null : key.slice(0, slash);
  return NAME.test(name) && (prefix === null || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix)));
}

/** A label value: empty, or ≤ 63 alphanumerics with `-_.` inside. */
export const isLabelValue = (value: string): boolean => value === '' || NAME.test(value);

/** A namespace name (RFC 1123 label). */
export const isNamespaceName = (ns: string): boolean => DNS_LABEL.test(ns);

/** The label every namespace carries with its own name (Kubernetes ≥ 1.21). */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** Namespaces left alone by default: the cluster's own components (DNS upstreams, CNI agents, the API). */
export const DEFAULT_EXCLUDED_NAMESPACES = ['kube-system'];

export type PodScope = { kind: 'all' } | { kind: 'label'; key: string; value: string };

/** A lanfence scope as a pod selector, or the reason it cannot be one. */
export function podScope(s: Scope): PodScope | { kind: 'inexpressible'; reason: string } {
  switch (s.kind) {
    case 'any':
      return { kind: 'all' };
    case 'label':
      if (!isLabelKey(s.key)) return { kind: 'inexpressible', reason: `label key "${s.key}" is not a valid Kubernetes label key` };
      if (!isLabelValue(s.value)) return { kind: 'inexpressible', reason: `label value "${s.value}" is not a valid Kubernetes label value` };
      return { kind: 'label', key: s.key, value: s.value };
    case 'network':
      return { kind: 'inexpressible', reason: `scope "network: ${s.network}" is a Docker network; pods have no such thing (use a label scope)` };
    case 'container':
      return { kind: 'inexpressible', reason: `scope "container: ${s.container}" names a Docker container; pods are selected by labels (use a label scope)` };
  }
}

export const scopeKey = (p: PodScope): string => (p.kind === 'all' ? '' : `${p.key}=${p.value}`);
