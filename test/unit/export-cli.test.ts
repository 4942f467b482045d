/** `lanfence export kubernetes` as a user runs it: output, --help, exit codes. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { validateResource, type Resource } from '../../src/export/kubernetes/index.js';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(['node', 'lanfence', ...args], { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
const file = (text: string) => {
  const p = join(mkdtempSync(join(tmpdir(), 'lanfence-export-')), 'p.yaml');
  writeFileSync(p, text);
  return p;
};
const docs = (yaml: string) => parseAllDocuments(yaml).map((d) => d.toJS() as Resource);

describe('lanfence export kubernetes', () => {
  it('prints valid YAML objects for every flavor (exit 0)', async () => {
    const p = file('allow:\n  - to: 10.57.17.5\n    ports: [5432/tcp]\n    from: { label: "app=billing" }\n');
    for (const flavor of ['networkpolicy', 'calico', 'cilium', 'clusternetworkpolicy']) {
      const r = await cli('export', 'kubernetes', '--flavor', flavor, '-p', p, '-n', 'shop');
      expect(r.code, `${flavor}: ${r.err}`).toBe(0);
      expect(r.out).toMatch(new RegExp(`^# lanfence export kubernetes --flavor ${flavor}: policy ${p}, mode enforce`));
      const objects = docs(r.out);
      expect(objects.length).toBeGreaterThan(0);
      for (const o of objects) expect(validateResource(o)).toEqual([]);
    }
  });

  it('--namespace is repeatable and takes comma lists', async () => {
    const r = await cli('export', 'kubernetes', '--flavor', 'networkpolicy', '-n', 'a,b', '--namespace', 'c', '-p', file(''));
    expect(docs(r.out).map((o) => o.metadata.namespace)).toEqual(['a', 'b', 'c']);
  });

  it('--cluster-cidr and --dns reach the output; bad values are usage errors (64)', async () => {
    const r = await cli('export', 'kubernetes', '--flavor', 'calico', '--cluster-cidr', '10.42.0.0/16', '--dns', 'dns/app=coredns', '-p', file(''));
    expect(r.code).toBe(0);
    expect(r.out).toContain('- 10.42.0.0/16');
    expect(r.out).toContain("selector: app == 'coredns'");
    const bad = await cli('export', 'kubernetes', '--flavor', 'calico', '--cluster-cidr', '10.42.0.0', '-p', file(''));
    expect(bad.code).toBe(64);
    expect(bad.err).toMatch(/--cluster-cidr "10.42.0.0": not a CIDR/);
    expect((await cli('export', 'kubernetes', '--flavor', 'calico', '--dns', 'kube-dns', '-p', file(''))).code).toBe(64);
    expect((await cli('export', 'kubernetes', '--flavor', 'calico', '-n', 'Bad_NS', '-p', file(''))).code).toBe(64);
  });

  it('--format json / --json give the objects and warnings for scripts', async () => {
    for (const flag of [['--format', 'json'], ['--json']]) {
      const r = await cli('export', 'kubernetes', '--flavor', 'cilium', '-p', file('mode: audit\n'), ...flag);
      expect(r.code).toBe(0);
      const j = JSON.parse(r.out);
      expect(j).toMatchObject({ ok: true, flavor: 'cilium', mode: 'audit' });
      expect(j.resources[0].kind).toBe('CiliumClusterwideNetworkPolicy');
      expect(j.warnings.join('\n')).toMatch(/policy audit mode/);
    }
  });

  it('--help describes the flavors and options', async () => {
    const r = await cli('export', 'kubernetes', '--help');
    expect(r.code).toBe(0);
    for (const s of ['--flavor', '--namespace', '--cluster-cidr', '--dns', '--mode', '--exception-action', '--drop-inexpressible', '--format', 'networkpolicy', 'calico', 'cilium', 'clusternetworkpolicy', 'docs/kubernetes.md']) expect(r.out).toContain(s);
    expect((await cli('--help')).out).toMatch(/export\s+express the policy/);
  });

  it('a bad or missing flavor is a usage error (64)', async () => {
    const bad = await cli('export', 'kubernetes', '--flavor', 'istio', '-p', file(''));
    expect(bad.code).toBe(64);
    expect(bad.err).toMatch(/Allowed choices are networkpolicy, calico, cilium, clusternetworkpolicy/);
    expect((await cli('export', 'kubernetes', '-p', file(''))).code).toBe(64);
  });

  it('an invalid policy exits 2 with file:line:col errors', async () => {
    const p = file('allow:\n  - to: 10.0.0.1\n    ports: [5432/tpc]\n');
    const r = await cli('export', 'kubernetes', '--flavor', 'calico', '-p', p);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${p}:3:13: error: allow.0.ports.0: unknown protocol "tpc"`);
    expect(r.out).toBe('');
  });

  it('inexpressible scopes: refused (exit 1, each allow #N listed), or exported without them with a warning', async () => {
    const p = file('allow:\n  - to: 10.0.0.5\n  - to: 10.0.0.6\n    from: { network: backend }\n');
    const r = await cli('export', 'kubernetes', '--flavor', 'clusternetworkpolicy', '-p', p);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/1 exception\(s\) cannot be expressed for clusternetworkpolicy; nothing was exported/);
    expect(r.err).toMatch(/allow #2: scope "network: backend"/);
    expect(r.out).toBe('');
    const d = await cli('export', 'kubernetes', '--flavor', 'clusternetworkpolicy', '-p', p, '--drop-inexpressible');
    expect(d.code).toBe(0);
    expect(d.err).toMatch(/warning: allow #2: .* left out: that traffic stays blocked/);
    expect(d.out).toContain('10.0.0.5/32');
    expect(d.out).not.toContain('10.0.0.6');
  });

  it('audit mode: refused by networkpolicy (exit 1), overridable with --mode enforce', async () => {
    const p = file('mode: audit\n');
    const r = await cli('export', 'kubernetes', '--flavor', 'networkpolicy', '-n', 'shop', '-p', p);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/networkpolicy cannot express audit mode/);
    expect((await cli('export', 'kubernetes', '--flavor', 'networkpolicy', '-n', 'shop', '-p', p, '--mode', 'enforce')).code).toBe(0);
    const calico = await cli('export', 'kubernetes', '--flavor', 'calico', '-p', file(''), '--mode', 'audit');
    expect(calico.out).toContain('action: Log');
    expect(calico.out).not.toContain('action: Deny');
  });
});
