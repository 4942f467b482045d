/** Options and results shared by every Kubernetes flavor. */
import type { Mode } from '../../ruleset/types.js';

export const FLAVORS = ['networkpolicy', 'calico', 'cilium', 'clusternetworkpolicy'] as const;
export type Flavor = (typeof FLAVORS)[number];

/** What an exception does in flavors that have a choice (Calico, ClusterNetworkPolicy). */
export type ExceptionAction = 'pass' | 'accept';

/** A label selector for the cluster's DNS pods: namespace plus one label. */
export interface DnsSelector {
  namespace: string;
  key: string;
  value: string;
}

export interface ExportOptions {
  /** Namespaces whose pods are fenced; empty: every namespace but the excluded ones (cluster-wide flavors). */
  namespaces: string[];
  /** Pod and service CIDRs, allowed before any block. */
  clusterCidrs: string[];
  dns: DnsSelector;
  /** Policy's mode unless overridden on the command line. */
  mode: Mode;
  exceptionAction: ExceptionAction;
  /** Export even when some exceptions cannot be expressed: they are left out (stay blocked) and listed. */
  dropInexpressible: boolean;
  /** Where the policy came from (a comment in the output). */
  source: string;
}

/** One Kubernetes object, as it will be serialised. */
export type Resource = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

export interface ExportResult {
  flavor: Flavor;
  resources: Resource[];
  /** Things the operator must know: inexpressible or narrowed exceptions, semantic gaps. */
  warnings: string[];
  /** Background facts: what each part of the output is for. */
  notes: string[];
}

/** An exception that a flavor cannot express, with the reason. */
export interface Inexpressible {
  index: number;
  reason: string;
}
