/** The Kubernetes export's mapping: scopes, ports, IPv6, audit, refusals, namespaces, cluster CIDRs and DNS. */
import { describe, expect, it } from 'vitest';
import { carve, ExportError, exportKubernetes, validateResource, type ExportOptions, type Flavor, type Resource } from '../../src/export/kubernetes/index.js';
import { complement } from '../../src/export/kubernetes/ports.js';
import { parsePolicy } from '../../src/policy/load.js';
import { cidrOf } from '../../src/ruleset/cidr.js';
import type { Ruleset } from '../../src/ruleset/types.js';

const policy = (yaml: string): Ruleset => {
  const { ruleset, diagnostics } = parsePolicy(yaml, 'p.yaml');
  if (!ruleset) throw new Error(JSON.stringify(diagnostics));
  return ruleset;
};
const opts = (o: Partial<ExportOptions> = {}): ExportOptions => ({
  namespaces: ['shop'],
  clusterCidrs: [],
  dns: { namespace: 'kube-system', key: 'k8s-app', value: 'kube-dns' },
  mode: 'enforce',
  exceptionAction: 'pass',
  dropInexpressible: false,
  source: 'p.yaml',
  ...o,
});
const run = (flavor: Flavor, yaml: string, o: Partial<ExportOptions> = {}) => exportKubernetes(flavor, policy(yaml), opts({ mode: policy(yaml).mode, ...o }));
/* eslint-disable @typescript-eslint/no-explicit-any */
const spec = (r: Resource): any => r.spec;
const refusal = (f: () => unknown): ExportError => {
  try {
    f();
  } catch (e) {
    if (e instanceof ExportError) return e;
    throw e;
  }
  throw new Error('not refused');
};

const SCOPED = `allow:
  - to: 10.0.0.5
    ports: [5432/tcp]
    from: { label: "app=billing" }
  - to: 192.168.1.10
    from: { network: backend }
  - to: 10.1.0.0/16
    from: { container: web }
`;

describe('scopes', () => {
  for (const flavor of ['networkpolicy', 'calico', 'cilium', 'clusternetworkpolicy'] as const) {
    it(`${flavor}: network and container scopes are refused, naming each allow #N`, () => {
      const e = refusal(() => run(flavor, SCOPED));
      expect(e.message).toMatch(/2 exception\(s\) cannot be expressed/);
      expect(e.details).toEqual([expect.stringMatching(/^allow #2: scope "network: backend"/), expect.stringMatching(/^allow #3: scope "container: web"/)]);
    });
    it(`${flavor}: --drop-inexpressible leaves them out (blocked) and warns`, () => {
      const r = run(flavor, SCOPED, { dropInexpressible: true });
      expect(r.warnings.filter((w) => /left out: that traffic stays blocked/.test(w)).map((w) => w.split(':')[0])).toEqual(['allow #2', 'allow #3']);
      const text = JSON.stringify(r.resources);
      expect(text).not.toContain('192.168.1.10');
      expect(text).not.toContain('10.1.0.0/16');
      expect(text).toContain('10.0.0.5/32');
    });
  }

  it('networkpolicy: a label scope becomes its own policy with podSelector matchLabels', () => {
    const r = run('networkpolicy', SCOPED, { dropInexpressible: true });
    const scoped = r.resources.find((x) => x.metadata.name === 'lanfence-scope-1')!;
    expect(spec(scoped).podSelector).toEqual({ matchLabels: { app: 'billing' } });
    expect(spec(scoped).egress).toEqual([{ to: [{ ipBlock: { cidr: '10.0.0.5/32' } }], ports: [{ protocol: 'TCP', port: 5432 }] }]);
    // the unscoped policy does not carry the scoped exception
    expect(JSON.stringify(r.resources.find((x) => x.metadata.name === 'lanfence'))).not.toContain('10.0.0.5');
  });

  it('calico: a label scope is a source selector on the rule', () => {
    const r = run('calico', SCOPED, { dropInexpressible: true });
    const rule = spec(r.resources[1]).egress[0];
    expect(rule).toMatchObject({ action: 'Pass', protocol: 'TCP', source: { selector: "app == 'billing'" }, destination: { nets: ['10.0.0.5/32'], ports: [5432] } });
  });

  it('clusternetworkpolicy: a label scope is a subject of its own, evaluated before the main policy', () => {
    const r = run('clusternetworkpolicy', SCOPED, { dropInexpressible: true });
    const [scoped, main] = r.resources;
    expect(spec(scoped).subject.pods.podSelector).toEqual({ matchLabels: { app: 'billing' } });
    expect(spec(scoped).priority).toBeLessThan(spec(main).priority);
    expect(JSON.stringify(spec(main))).not.toContain('10.0.0.5');
  });

  it('cilium: each combination of label scopes is a policy; only pods with the label get the hole', () => {
    const r = run('cilium', SCOPED, { dropInexpressible: true });
    expect(r.resources.map((x) => x.metadata.name)).toEqual(['lanfence-base', 'lanfence-scope-1']);
    const [base, scoped] = r.resources.map(spec);
    expect(base.endpointSelector.matchExpressions[1]).toEqual({ key: 'app', operator: 'NotIn', values: ['billing'] });
    expect(scoped.endpointSelector.matchExpressions[1]).toEqual({ key: 'app', operator: 'In', values: ['billing'] });
    expect(JSON.stringify(base.egressDeny)).not.toContain('10.0.0.5');
    expect(scoped.egressDeny).toContainEqual({ toCIDRSet: [{ cidr: '10.0.0.0/8', except: ['10.0.0.5/32'] }] });
  });

  it('cilium: more than 4 label scopes are refused', () => {
    const yaml = `allow:\n${[1, 2, 3, 4, 5].map((i) => `  - to: 10.0.0.${i}\n    from: { label: "k${i}=v" }\n`).join('')}`;
    expect(refusal(() => run('cilium', yaml)).message).toMatch(/5 distinct label scopes; at most 4/);
  });

  it('a label that is not a valid Kubernetes label is inexpressible', () => {
    expect(refusal(() => run('calico', 'allow:\n  - to: 10.0.0.5\n    from: { label: "a b=c" }\n')).details[0]).toMatch(/allow #1: label key "a b"/);
  });
});

describe('ports', () => {
  const PORTS = 'allow:\n  - to: 10.0.0.5\n    ports: [5432/tcp, 8000-8100/tcp, 53/udp]\n';
  it('networkpolicy: port and endPort', () => {
    const eg = spec(run('networkpolicy', PORTS).resources[0]).egress.at(-1);
    expect(eg.ports).toEqual([{ protocol: 'TCP', port: 5432 }, { protocol: 'TCP', port: 8000, endPort: 8100 }, { protocol: 'UDP', port: 53 }]);
  });
  it('calico: one rule per protocol, ranges as a:b', () => {
    const eg = spec(run('calico', PORTS).resources[1]).egress;
    expect(eg[0]).toMatchObject({ protocol: 'TCP', destination: { ports: [5432, '8000:8100'] } });
    expect(eg[1]).toMatchObject({ protocol: 'UDP', destination: { ports: [53] } });
  });
  it('clusternetworkpolicy: number, or a range with start < end', () => {
    const eg = spec(run('clusternetworkpolicy', PORTS).resources[0]).egress[0];
    expect(eg.protocols).toEqual([{ tcp: { destinationPort: { number: 5432 } } }, { tcp: { destinationPort: { range: { start: 8000, end: 8100 } } } }, { udp: { destinationPort: { number: 53 } } }]);
    for (const p of eg.protocols) {
      const range = (Object.values(p)[0] as any).destinationPort.range;
      if (range) expect(range.start).toBeLessThan(range.end);
    }
  });
  it('cilium: a hole for the address and complementary denies for every other port', () => {
    const deny = spec(run('cilium', PORTS).resources[0]).egressDeny;
    expect(deny).toContainEqual({ toCIDRSet: [{ cidr: '10.0.0.0/8', except: ['10.0.0.5/32'] }] });
    const ports = deny.find((d: any) => d.toCIDRSet?.[0].cidr === '10.0.0.5/32' && d.toPorts).toPorts[0].ports;
    expect(ports).toEqual([
      { port: '1', endPort: 5431, protocol: 'TCP' },
      { port: '5433', endPort: 7999, protocol: 'TCP' },
      { port: '8101', endPort: 65535, protocol: 'TCP' },
      { port: '1', endPort: 52, protocol: 'UDP' },
      { port: '54', endPort: 65535, protocol: 'UDP' },
      { port: '0', protocol: 'SCTP' },
    ]);
    expect(deny).toContainEqual({ toCIDRSet: [{ cidr: '10.0.0.5/32' }], icmps: [{ fields: [{ type: 8, family: 'IPv4' }] }] });
    expect(run('cilium', PORTS).warnings).toContainEqual(expect.stringMatching(/^port-scoped exception to 10\.0\.0\.5 \(open: 5432\/tcp, 8000-8100\/tcp, 53\/udp\): .*other ICMP types are not denied/));
  });
  it('complement of port ranges', () => {
    expect(complement([{ proto: 'tcp', from: 1, to: 10 }, { proto: 'tcp', from: 5, to: 20 }, { proto: 'udp', from: 7, to: 7 }], 'tcp')).toEqual([{ proto: 'tcp', from: 21, to: 65535 }]);
    expect(complement([], 'udp')).toEqual([{ proto: 'udp', from: 1, to: 65535 }]);
  });
});

describe('carving (deny-only engines)', () => {
  const B = cidrOf('10.0.0.0/8');
  it('an all-port hole is an except; a wider hole removes the range', () => {
    expect(carve(B, [{ cidr: cidrOf('10.1.0.0/16'), ports: null }])).toEqual([{ cidr: B, except: [cidrOf('10.1.0.0/16')], allowed: null }]);
    expect(carve(B, [{ cidr: cidrOf('0.0.0.0/0'), ports: null }])).toEqual([]);
    expect(carve(B, [{ cidr: cidrOf('192.168.0.0/16'), ports: null }])).toEqual([{ cidr: B, except: [], allowed: null }]);
  });
  it('nested holes: ports add up inside, an all-port outer hole covers the inner one', () => {
    const tcp22 = [{ proto: 'tcp' as const, from: 22, to: 22 }];
    const tcp80 = [{ proto: 'tcp' as const, from: 80, to: 80 }];
    const rules = carve(B, [{ cidr: cidrOf('10.1.0.0/16'), ports: tcp22 }, { cidr: cidrOf('10.1.2.0/24'), ports: tcp80 }]);
    expect(rules.map((r) => [r.cidr.text, r.except.map((c) => c.text), r.allowed])).toEqual([
      ['10.0.0.0/8', ['10.1.0.0/16'], null],
      ['10.1.0.0/16', ['10.1.2.0/24'], tcp22],
      ['10.1.2.0/24', [], [...tcp22, ...tcp80]],
    ]);
    expect(carve(B, [{ cidr: cidrOf('10.1.0.0/16'), ports: null }, { cidr: cidrOf('10.1.2.0/24'), ports: tcp80 }]).map((r) => r.cidr.text)).toEqual(['10.0.0.0/8']);
  });
});

describe('IPv6', () => {
  const V6 = 'allow:\n  - to: fd12::10\n    ports: [22/tcp]\n';
  it('every flavor carries the IPv6 blocked ranges and the IPv6 exception', () => {
    const np = spec(run('networkpolicy', V6).resources[0]).egress;
    expect(np).toContainEqual({ to: [{ ipBlock: { cidr: 'fd12::10/128' } }], ports: [{ protocol: 'TCP', port: 22 }] });
    expect(JSON.stringify(np)).toContain('"cidr":"::/0","except":["::/128"');
    const calico = spec(run('calico', V6).resources[1]).egress;
    expect(calico[0]).toMatchObject({ ipVersion: 6, destination: { nets: ['fd12::10/128'] } });
    expect(calico).toContainEqual(expect.objectContaining({ action: 'Deny', ipVersion: 6, destination: { nets: expect.arrayContaining(['fc00::/7', 'fe80::/10']) } }));
    const cilium = spec(run('cilium', V6).resources[0]).egressDeny;
    expect(cilium).toContainEqual({ toCIDRSet: [{ cidr: 'fc00::/7', except: ['fd12::10/128'] }] });
    expect(cilium).toContainEqual({ toCIDRSet: [{ cidr: 'fd12::10/128' }], icmps: [{ fields: [{ type: 128, family: 'IPv6' }] }] });
    const cnp = spec(run('clusternetworkpolicy', V6).resources[0]).egress;
    expect(cnp).toContainEqual(expect.objectContaining({ action: 'Deny', to: [{ networks: expect.arrayContaining(['fc00::/7']) }] }));
  });
});

describe('audit mode', () => {
  it('networkpolicy and clusternetworkpolicy refuse it', () => {
    expect(refusal(() => run('networkpolicy', 'mode: audit\n')).message).toMatch(/networkpolicy cannot express audit mode/);
    expect(refusal(() => run('clusternetworkpolicy', 'mode: audit\n')).message).toMatch(/clusternetworkpolicy cannot express audit mode/);
    expect(() => run('networkpolicy', 'mode: audit\n', { mode: 'enforce' })).not.toThrow();
  });
  it('calico logs and denies nothing', () => {
    const audit = spec(run('calico', 'mode: audit\n').resources[1]).egress.map((r: any) => r.action);
    expect(audit).toContain('Log');
    expect(audit).not.toContain('Deny');
    expect(spec(run('calico', '').resources[1]).egress.map((r: any) => r.action)).toContain('Deny');
  });
  it('cilium marks the objects and warns that Cilium\'s policy audit mode must be on', () => {
    const r = run('cilium', 'mode: audit\n');
    expect(r.resources[0].metadata).toMatchObject({ annotations: { 'lanfence.io/mode': 'audit' } });
    expect(r.warnings).toContainEqual(expect.stringMatching(/policy audit mode .*BEFORE applying/));
    expect(run('cilium', '').warnings).toEqual([]);
  });
});

describe('namespaces, cluster CIDRs, DNS', () => {
  it('networkpolicy: one policy per --namespace; none is a refusal', () => {
    const r = run('networkpolicy', '', { namespaces: ['shop', 'web'] });
    expect(r.resources.map((x) => x.metadata.namespace)).toEqual(['shop', 'web']);
    expect(refusal(() => run('networkpolicy', '', { namespaces: [] })).message).toMatch(/at least one --namespace/);
  });
  it('cluster-wide flavors select the given namespaces, else all but kube-system', () => {
    expect(spec(run('calico', '', { namespaces: ['a', 'b'] }).resources[1]).namespaceSelector).toBe("kubernetes.io/metadata.name in {'a', 'b'}");
    expect(spec(run('calico', '', { namespaces: [] }).resources[1]).namespaceSelector).toBe("kubernetes.io/metadata.name not in {'kube-system'}");
    expect(spec(run('clusternetworkpolicy', '', { namespaces: ['a', 'b'] }).resources[0]).subject).toEqual({ namespaces: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['a', 'b'] }] } });
    expect(spec(run('cilium', '', { namespaces: [] }).resources[0]).endpointSelector.matchExpressions[0]).toEqual({ key: 'k8s:io.kubernetes.pod.namespace', operator: 'NotIn', values: ['kube-system'] });
  });
  it('cluster CIDRs and DNS pods are allowed before the blocks', () => {
    const o = { clusterCidrs: ['10.42.0.0/16'], dns: { namespace: 'dns', key: 'app', value: 'coredns' } };
    const np = spec(run('networkpolicy', '', o).resources[0]).egress;
    expect(np[0].to).toContainEqual({ ipBlock: { cidr: '10.42.0.0/16' } });
    expect(np[0].to).toContainEqual({ namespaceSelector: {} });
    expect(np[1].to).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'dns' } }, podSelector: { matchLabels: { app: 'coredns' } } }]);
    const calico = spec(run('calico', '', o).resources[1]).egress;
    const firstDeny = calico.findIndex((r: any) => r.action === 'Deny');
    const dns = calico.findIndex((r: any) => r.destination?.selector === "app == 'coredns'");
    const cidr = calico.findIndex((r: any) => r.destination?.nets?.[0] === '10.42.0.0/16');
    expect(dns).toBeGreaterThanOrEqual(0);
    expect(cidr).toBeGreaterThan(dns);
    expect(firstDeny).toBeGreaterThan(cidr);
    expect(calico.at(-1)).toMatchObject({ action: 'Pass' });
    expect(calico.at(-1).destination).toBeUndefined();
    const cnp = spec(run('clusternetworkpolicy', '', o).resources[0]).egress;
    expect(cnp.findIndex((r: any) => r.action === 'Deny')).toBeGreaterThan(cnp.findIndex((r: any) => r.name === 'cluster CIDRs'));
    expect(cnp).toContainEqual(expect.objectContaining({ action: 'Pass', to: [{ pods: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'dns' } }, podSelector: { matchLabels: { app: 'coredns' } } } }] }));
    const cilium = spec(run('cilium', '', o).resources[0]).egressDeny;
    expect(cilium).toContainEqual({ toCIDRSet: [{ cidr: '10.0.0.0/8', except: ['10.42.0.0/16'] }] });
  });
});

describe('exceptions pass on unless told to accept', () => {
  const ONE = 'allow:\n  - to: 10.0.0.5\n';
  it('calico Pass / Allow', () => {
    expect(spec(run('calico', ONE).resources[1]).egress[0].action).toBe('Pass');
    expect(spec(run('calico', ONE, { exceptionAction: 'accept' }).resources[1]).egress[0].action).toBe('Allow');
  });
  it('clusternetworkpolicy Pass / Accept', () => {
    expect(spec(run('clusternetworkpolicy', ONE).resources[0]).egress[0].action).toBe('Pass');
    expect(spec(run('clusternetworkpolicy', ONE, { exceptionAction: 'accept' }).resources[0]).egress[0].action).toBe('Accept');
  });
});

describe('protect.host and `to: host`', () => {
  it('cilium denies host and remote-node; a host exception opens the pod\'s own node only', () => {
    expect(spec(run('cilium', '').resources[0]).egressDeny[0]).toEqual({ toEntities: ['host', 'remote-node'] });
    expect(spec(run('cilium', 'allow:\n  - to: host\n').resources[0]).egressDeny[0]).toEqual({ toEntities: ['remote-node'] });
    expect(JSON.stringify(spec(run('cilium', 'protect:\n  host: false\n').resources[0]).egressDeny)).not.toContain('toEntities');
  });
  for (const flavor of ['networkpolicy', 'calico', 'clusternetworkpolicy'] as const) {
    it(`${flavor}: \`to: host\` is inexpressible`, () => {
      expect(refusal(() => run(flavor, 'allow:\n  - to: host\n    ports: [53/udp]\n')).details[0]).toMatch(/^allow #1: to: host: /);
    });
  }
});

describe('the schema check is not vacuous', () => {
  const base = () => run('clusternetworkpolicy', 'allow:\n  - to: 10.0.0.5\n').resources[0];
  it('rejects an unknown field, a bad enum value and a bad name', () => {
    const r = base();
    expect(validateResource(r)).toEqual([]);
    expect(validateResource({ ...r, spec: { ...spec(r), colour: 'red' } }).join('\n')).toMatch(/must NOT have additional properties \(colour\)/);
    expect(validateResource({ ...r, spec: { ...spec(r), tier: 'Root' } }).join('\n')).toMatch(/\/spec\/tier: must be equal to one of the allowed values/);
    expect(validateResource({ ...r, metadata: { name: 'Lanfence_X' } }).join('\n')).toMatch(/not a DNS subdomain name/);
  });
  it('rejects a NetworkPolicy port of the wrong type and a Cilium rule with a bad entity', () => {
    const np = run('networkpolicy', 'allow:\n  - to: 10.0.0.5\n    ports: [22/tcp]\n').resources[0];
    const bad = JSON.parse(JSON.stringify(np));
    bad.spec.egress.at(-1).ports[0].port = { n: 22 };
    expect(validateResource(bad).length).toBeGreaterThan(0);
    const cil = JSON.parse(JSON.stringify(run('cilium', '').resources[0]));
    cil.spec.egressDeny[0].toEntities = ['the-host'];
    expect(validateResource(cil).join('\n')).toMatch(/egressDeny\/0\/toEntities\/0/);
  });
});
