/** `lanfence export kubernetes`: the same policy for a cluster's own policy engine. No root, no cluster needed. */
import { Option } from 'commander';
import { UsageError } from '../../errors.js';
import { exportKubernetes, FLAVORS, toYaml, type DnsSelector, type ExceptionAction, type Flavor } from '../../export/kubernetes/index.js';
import { isLabelKey, isLabelValue, isNamespaceName } from '../../export/kubernetes/labels.js';
import { formatDiagnostic } from '../../policy/diagnostic.js';
import { parseCidr } from '../../ruleset/cidr.js';
import type { Mode } from '../../ruleset/types.js';
import { loadPolicyReportingWarnings } from '../context.js';
import { outputState, printJson } from '../output.js';
import type { CommandModule } from './types.js';

const collect = (v: string, prev: string[]) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

export const DEFAULT_DNS = 'kube-system/k8s-app=kube-dns';

/** `NAMESPACE/KEY=VALUE` → a DNS selector; UsageError when malformed. */
export function parseDnsSelector(text: string): DnsSelector {
  const m = /^([^/]+)\/([^=]+)=(.*)$/.exec(text);
  if (!m || !isNamespaceName(m[1]) || !isLabelKey(m[2]) || !isLabelValue(m[3])) {
    throw new UsageError(`--dns ${JSON.stringify(text)}: expected NAMESPACE/LABEL=VALUE, e.g. ${DEFAULT_DNS}`);
  }
  return { namespace: m[1], key: m[2], value: m[3] };
}

export function parseClusterCidrs(list: string[]): string[] {
  return list.map((t) => {
    const p = parseCidr(t);
    if (!p || !t.includes('/')) throw new UsageError(`--cluster-cidr ${JSON.stringify(t)}: not a CIDR (e.g. 10.42.0.0/16 or fd00:42::/56)`);
    return p.cidr.text;
  });
}

const HELP_AFTER = `
Flavors:
  networkpolicy         networking.k8s.io/v1 NetworkPolicy, one set per --namespace (required); enforce only
  calico                projectcalico.org/v3 Tier + GlobalNetworkPolicy (Log + Deny; audit: Log only)
  cilium                cilium.io/v2 CiliumClusterwideNetworkPolicy (egressDeny; audit needs Cilium's policy audit mode)
  clusternetworkpolicy  policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy, Admin tier; enforce only

Without --namespace, cluster-wide flavors fence every namespace except kube-system.
Exceptions scoped to a Docker network or container cannot be expressed (pods are selected by labels):
the export is refused and lists each one, or with --drop-inexpressible they are left out (that traffic
stays blocked) and listed as warnings. Every object is checked against its resource schema before output.
See docs/kubernetes.md.`;

export const exportCommand: CommandModule = {
  name: 'export',
  register(program, io, setExit) {
    const exp = program.command('export').description('express the policy for another enforcement point (kubernetes)');
    exp
      .command('kubernetes')
      .description('print Kubernetes network policy objects for the same intent (no cluster needed)')
      .addOption(new Option('-f, --flavor <flavor>', 'policy engine').choices([...FLAVORS]).makeOptionMandatory())
      .option('-p, --policy <file>', 'policy file (default /etc/lanfence/policy.yaml, else the embedded default)')
      .option('-n, --namespace <ns>', 'fence the pods of this namespace (repeatable, or comma-separated)', collect, [])
      .option('--cluster-cidr <cidr>', 'pod or service CIDR allowed before any block (repeatable)', collect, [])
      .option('--dns <selector>', 'the cluster DNS pods, NAMESPACE/LABEL=VALUE', DEFAULT_DNS)
      .addOption(new Option('--mode <mode>', 'override the policy\'s mode').choices(['audit', 'enforce']))
      .addOption(new Option('--exception-action <action>', 'calico/clusternetworkpolicy: exceptions pass on to later policies, or accept outright').choices(['pass', 'accept']).default('pass'))
      .option('--drop-inexpressible', 'export without the exceptions that cannot be expressed (they stay blocked) instead of refusing', false)
      .addOption(new Option('--format <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
      .option('--json', 'same as --format json')
      .addHelpText('after', HELP_AFTER)
      .action((opts: { flavor: Flavor; policy?: string; namespace: string[]; clusterCidr: string[]; dns: string; mode?: Mode; exceptionAction: ExceptionAction; dropInexpressible: boolean; format: string; json?: boolean }) => {
        outputState.json = opts.json === true || opts.format === 'json';
        for (const ns of opts.namespace) if (!isNamespaceName(ns)) throw new UsageError(`--namespace ${JSON.stringify(ns)}: not a namespace name (lowercase letters, digits, '-')`);
        const namespaces = [...new Set(opts.namespace)];
        const clusterCidrs = parseClusterCidrs(opts.clusterCidr);
        const dns = parseDnsSelector(opts.dns);
        const loaded = loadPolicyReportingWarnings(opts.policy, io, outputState.json);
        const mode = opts.mode ?? loaded.ruleset.mode;
        const result = exportKubernetes(opts.flavor, loaded.ruleset, {
          namespaces,
          clusterCidrs,
          dns,
          mode,
          exceptionAction: opts.exceptionAction,
          dropInexpressible: opts.dropInexpressible,
          source: loaded.file,
        });
        if (outputState.json) {
          printJson(io, { ok: true, flavor: result.flavor, policy: loaded.file, mode, resources: result.resources, warnings: result.warnings, notes: result.notes, policyWarnings: loaded.diagnostics.map(formatDiagnostic) });
        } else {
          for (const w of result.warnings) io.err(`lanfence: warning: ${w}`);
          io.out(toYaml(result, [`lanfence export kubernetes --flavor ${result.flavor}: policy ${loaded.file}, mode ${mode}`]));
        }
        setExit(0);
      });
  },
};
