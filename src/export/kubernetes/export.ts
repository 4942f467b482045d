/** One entry point: a flavor's export, checked against the resources' schemas before it is handed out. */
import type { Ruleset } from '../../ruleset/types.js';
import { exportCalico } from './calico.js';
import { exportCilium } from './cilium.js';
import { exportClusterNetworkPolicy } from './clusternetworkpolicy.js';
import { exportNetworkPolicy } from './networkpolicy.js';
import type { ExportOptions, ExportResult, Flavor } from './types.js';
import { validateResources } from './validate.js';

const EXPORTERS: Record<Flavor, (r: Ruleset, o: ExportOptions) => ExportResult> = {
  networkpolicy: exportNetworkPolicy,
  calico: exportCalico,
  cilium: exportCilium,
  clusternetworkpolicy: exportClusterNetworkPolicy,
};

/** Exports; throws (an internal error, a bug) when an object does not validate against its schema. */
export function exportKubernetes(flavor: Flavor, ruleset: Ruleset, opts: ExportOptions): ExportResult {
  const result = EXPORTERS[flavor](ruleset, opts);
  const problems = validateResources(result.resources);
  if (problems.length) throw new Error(`export ${flavor}: output does not validate against its schema:\n${problems.join('\n')}`);
  return result;
}
