/** The command line as a user sees it: plan, check, init, schema, --help, --version, exit codes. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { EXIT } from '../../src/errors.js';
import { DEFAULT_POLICY_YAML } from '../../src/policy/default-policy.js';
import { policyJsonSchema } from '../../src/policy/schema.js';

const INV = 'test/golden/inventory.json';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(['node', 'lanfence', ...args], { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const tmp = () => mkdtempSync(join(tmpdir(), 'lanfence-cli-'));

describe('lanfence plan', () => {
  it('prints a header and the nftables rules for the default policy', async () => {
    const r = await cli('plan', '--inventory', INV);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^# lanfence plan: backend nftables \(auto\)/);
    expect(r.out).toMatch(/# mode enforce, action drop, host protected/);
    expect(r.out).toMatch(/# {3}100\.64\.0\.0\/10 +CGNAT/);
    expect(r.out).toMatch(/# unprotected containers \(2\):\n# {3}pihole: macvlan/);
    expect(r.out).toContain('table inet lanfence {');
  });

  it('renders every backend', async () => {
    expect((await cli('plan', '-i', INV, '--backend', 'iptables')).out).toMatch(/LANFENCE-FWD/);
    expect((await cli('plan', '-i', INV, '--backend', 'firewalld')).out).toMatch(/firewall-cmd --permanent --direct/);
  });

  it('--format json gives the rendered rules and the header data', async () => {
    const r = await cli('plan', '-i', INV, '--format', 'json');
    const j = JSON.parse(r.out);
    expect(j.backend).toBe('nftables');
    expect(j.blocked).toHaveLength(20);
    expect(j.rendered.text).toContain('table inet lanfence');
    expect(j.unprotected.map((u: { container: string }) => u.container)).toEqual(['pihole', 'netdata']);
  });

  it('uses the policy\'s backend and mode', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'p.yaml'), 'backend: iptables\nmode: audit\n');
    const r = await cli('plan', '-i', INV, '-p', join(dir, 'p.yaml'));
    expect(r.out).toMatch(/backend iptables, policy/);
    expect(r.out).not.toMatch(/-j DROP/);
  });

  it('an unknown backend is a usage error (64)', async () => {
    const r = await cli('plan', '-i', INV, '--backend', 'pf');
    expect(r.code).toBe(64);
    expect(r.err).toMatch(/Allowed choices are nftables, iptables, firewalld/);
  });

  it('an invalid inventory file is refused (2)', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'inv.json'), '{"networks": [{"nam": "x"}]}');
    const r = await cli('plan', '-i', join(dir, 'inv.json'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/inv.json/);
  });
});

describe('lanfence check', () => {
  it('exits 0 on the embedded default and on the init output', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'p.yaml'), DEFAULT_POLICY_YAML);
    const r = await cli('check', '--policy', join(dir, 'p.yaml'));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/valid \(20 blocked ranges, 0 exceptions\)/);
  });
  it('--json on a valid policy', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'p.yaml'), 'allow:\n  - to: 8.8.8.8\n');
    const r = await cli('check', '--json', '--policy', join(dir, 'p.yaml'));
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.ok).toBe(true);
    expect(j.warnings[0].message).toMatch(/outside every blocked range/);
  });
});

describe('lanfence init', () => {
  it('writes the commented default, refuses to overwrite without --force', async () => {
    const file = join(tmp(), 'etc', 'policy.yaml');
    expect((await cli('init', file)).code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(DEFAULT_POLICY_YAML);
    const again = await cli('init', file);
    expect(again.code).toBe(64);
    expect(again.err).toMatch(/exists; use --force/);
    expect((await cli('init', file, '--force')).code).toBe(0);
  });
  it('"-" prints to stdout', async () => {
    const r = await cli('init', '-');
    expect(r.out).toContain('mode: enforce');
    expect(existsSync('-')).toBe(false);
  });
});

describe('help, version, schema', () => {
  it('--help lists the commands and the exit codes', async () => {
    const r = await cli('--help');
    expect(r.code).toBe(0);
    for (const c of ['plan', 'check', 'explain', 'apply', 'status', 'remove', 'rollback', 'confirm', 'logs', 'audit', 'daemon', 'install-service', 'demo', 'init', 'schema', 'verify', 'export']) expect(r.out).toMatch(new RegExp(`\\n  ${c}\\b`));
    expect(r.out).toMatch(/Exit codes:/);
    for (const [name, code] of Object.entries(EXIT)) expect(r.out, `exit code ${code} (${name}) in --help`).toMatch(new RegExp(`\\n  ${code} +\\S`));
  });
  it('every command has --help', async () => {
    for (const c of ['plan', 'check', 'explain', 'apply', 'status', 'remove', 'rollback', 'confirm', 'logs', 'audit', 'daemon', 'install-service', 'demo', 'init', 'schema', 'verify', 'export']) {
      const r = await cli(c, '--help');
      expect(r.code, c).toBe(0);
      expect(r.out).toMatch(new RegExp(`Usage: lanfence ${c}`));
    }
  });
  it('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
    const r = await cli('--version');
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(pkg.version);
  });
  it('an unknown option is a usage error', async () => {
    expect((await cli('plan', '--frobnicate')).code).toBe(64);
  });
  it('schema/policy.schema.json is current (run `npm run schema` to regenerate)', () => {
    const committed = JSON.parse(readFileSync('schema/policy.schema.json', 'utf8'));
    expect(committed).toEqual(policyJsonSchema());
    expect(committed.additionalProperties).toBe(false);
    expect(committed.properties.allow.items.required).toEqual(['to']);
  });
});

describe('bin/lanfence (built)', () => {
  it('runs from the checkout after the build', () => {
    const r = spawnSync('./bin/lanfence', ['plan', '--inventory', INV], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('table inet lanfence');
    const bad = spawnSync('./bin/lanfence', ['check', '--policy', '/nonexistent.yaml'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
  });
});
