/**
 * nftables apply / inspect / remove, and the apply/status/rollback/confirm commands, in a network
 * namespace this test creates (never the machine's own).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nftablesBackend } from '../../src/backends/nftables/index.js';
import { BackendError } from '../../src/errors.js';
import { inNetns } from '../../src/exec.js';
import { resolvedOf } from '../support/fixtures.js';
import { createNetns, kernelTestsEnabled } from '../support/root.js';

const enabled = kernelTestsEnabled('nftables apply/inspect/remove (creates a network namespace)');
const INV = 'test/golden/inventory.json';

describe.runIf(enabled)('nftables backend on a live (namespaced) kernel', () => {
  let netns: ReturnType<typeof createNetns>;
  let run: ReturnType<typeof inNetns>;
  const nft = (...args: string[]) => execFileSync('ip', ['netns', 'exec', netns.ns, 'nft', ...args], { encoding: 'utf8' });
  const ruleset = () => nft('-s', 'list', 'ruleset');

  beforeAll(() => {
    netns = createNetns('lf-nft');
    run = inNetns(netns.ns);
    // Docker-like iptables-nft rules and another table that must survive apply and remove.
    execFileSync('ip', ['netns', 'exec', netns.ns, 'nft', '-f', '-'], { input: 'table ip other { chain fw { type filter hook forward priority 0; policy accept; iifname "docker0" counter accept; }; }\n' });
  });
  afterAll(() => netns?.remove());

  const a = nftablesBackend.render(resolvedOf('allow:\n  - to: 10.57.17.5\n    ports: [5432/tcp]\n'));
  const b = nftablesBackend.render(resolvedOf('mode: audit\nallow:\n  - to: 192.168.1.10\n    from: { container: web }\n'));

  it('applies, verifies, and re-applies to identical state', async () => {
    const other = ruleset();
    await nftablesBackend.apply(a, run);
    const s = await nftablesBackend.inspect(a, run);
    expect(s).toMatchObject({ present: true, matches: true, differences: [] });
    const once = ruleset();
    await nftablesBackend.apply(a, run);
    expect(ruleset()).toBe(once);
    expect(once).toContain('table ip other');
    expect(other).toContain('table ip other');
  });

  it('inspect names what differs from another rendering', async () => {
    const s = await nftablesBackend.inspect(b, run);
    expect(s.matches).toBe(false);
    expect(s.differences.join('\n')).toMatch(/set allow4 is absent|chain block/);
  });

  it('detects drift: a deleted element, a flushed chain, a deleted table', async () => {
    await nftablesBackend.apply(a, run);
    nft('delete', 'element', 'inet', 'lanfence', 'blocked4', '{ 10.0.0.0/8 }');
    let s = await nftablesBackend.inspect(a, run);
    expect(s.matches).toBe(false);
    expect(s.differences).toContain('set blocked4 lacks 10.0.0.0/8 comment "private (RFC 1918)"');
    await nftablesBackend.apply(a, run);
    nft('flush', 'chain', 'inet', 'lanfence', 'forward');
    s = await nftablesBackend.inspect(a, run);
    expect(s.differences.some((d) => d.startsWith('chain forward lacks: ct state established,related accept'))).toBe(true);
    nft('flush', 'ruleset');
    s = await nftablesBackend.inspect(a, run);
    expect(s).toMatchObject({ present: false, matches: false, differences: ['table inet lanfence is absent'] });
  });

  it('a rejected script changes nothing', async () => {
    await nftablesBackend.apply(a, run);
    const before = ruleset();
    const broken = { ...b, parts: [{ tool: 'nft', content: b.parts[0].content.replace('counter comment "audit: logged, passed"', 'counter bogus') }] };
    await expect(nftablesBackend.apply(broken, run)).rejects.toBeInstanceOf(BackendError);
    expect(ruleset()).toBe(before);
  });

  it('remove leaves no trace and is idempotent; other tables are untouched', async () => {
    execFileSync('ip', ['netns', 'exec', netns.ns, 'nft', '-f', '-'], { input: 'table ip other2 { chain c { type filter hook input priority 0; }; }\n' });
    await nftablesBackend.apply(a, run);
    await nftablesBackend.remove(run);
    await nftablesBackend.remove(run);
    expect(ruleset()).not.toMatch(/lanfence/);
    expect(ruleset()).toContain('table ip other2');
    expect((await nftablesBackend.inspect(null, run)).present).toBe(false);
  });
});

describe.runIf(enabled)('apply / status / rollback / confirm / remove commands (nftables)', () => {
  let netns: ReturnType<typeof createNetns>;
  let stateDir: string;
  let dir: string;
  const cli = (args: string[], input?: string) => {
    const r = spawnSync('ip', ['netns', 'exec', netns.ns, 'node', 'bin/lanfence', ...args], {
      encoding: 'utf8',
      env: { ...process.env, LANFENCE_STATE_DIR: stateDir, DOCKER_HOST: 'unix:///nonexistent.sock' },
      input,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const nftList = () => execFileSync('ip', ['netns', 'exec', netns.ns, 'nft', '-s', 'list', 'ruleset'], { encoding: 'utf8' });

  beforeAll(() => {
    netns = createNetns('lf-cli');
    dir = mkdtempSync(join(tmpdir(), 'lanfence-cli-'));
    stateDir = join(dir, 'state');
    writeFileSync(join(dir, 'a.yaml'), 'allow:\n  - to: 10.57.17.5\n    comment: db\n');
    writeFileSync(join(dir, 'b.yaml'), 'action: reject\n');
    writeFileSync(join(dir, 'bad.yaml'), 'allow:\n  - to: 10.57.17.5\n    ports: [5432/tpc]\n');
  });
  afterAll(() => netns?.remove());

  it('status before any apply: exit 5', () => {
    const r = cli(['status', '--inventory', INV]);
    expect(r.code).toBe(5);
    expect(r.out).toMatch(/not applied yet/);
  });

  it('apply (auto → nftables), then status in place (0)', () => {
    const r = cli(['apply', '--policy', join(dir, 'a.yaml'), '--inventory', INV]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/backend nftables \(auto: `nft` works\)/);
    expect(r.out).toMatch(/applied and verified/);
    const s = cli(['status', '--inventory', INV, '--json']);
    expect(s.code).toBe(0);
    const j = JSON.parse(s.out);
    expect(j).toMatchObject({ ok: true, state: 'in-place', applied: { backend: 'nftables', mode: 'enforce' } });
    expect(j.unprotected.map((u: { container: string }) => u.container)).toEqual(['pihole', 'netdata']);
    expect(j.networks.find((n: { name: string }) => n.name === 'apps')).toMatchObject({ covered: true, bridge: 'apps0' });
  });

  it('without Docker (--inventory none), the bridges Docker reported last time stay judged', () => {
    const r = cli(['apply', '--policy', join(dir, 'a.yaml'), '--inventory', 'none']);
    expect(r.code, r.err).toBe(0);
    expect(nftList()).toMatch(/"apps0"/);
    expect(cli(['apply', '--policy', join(dir, 'a.yaml'), '--inventory', INV]).code).toBe(0);
  });

  it('--mode audit overrides the file for this apply', () => {
    const r = cli(['apply', '--policy', join(dir, 'a.yaml'), '--inventory', INV, '--mode', 'audit', '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ ok: true, mode: 'audit', verified: true });
    expect(nftList()).toMatch(/audit: logged, passed/);
  });

  it('an invalid policy changes nothing (exit 2)', () => {
    const before = nftList();
    const r = cli(['apply', '--policy', join(dir, 'bad.yaml'), '--inventory', INV]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/bad.yaml:3:13: error: allow.0.ports.0: unknown protocol "tpc"/);
    expect(nftList()).toBe(before);
  });

  it('status reports drift (exit 4) and names it', () => {
    execFileSync('ip', ['netns', 'exec', netns.ns, 'nft', 'delete', 'element', 'inet', 'lanfence', 'blocked4', '{ 192.168.0.0/16 }']);
    const r = cli(['status', '--inventory', INV]);
    expect(r.code).toBe(4);
    expect(r.out).toMatch(/DRIFTED/);
    expect(r.out).toMatch(/set blocked4 lacks 192.168.0.0\/16/);
  });

  it('rollback restores the previous apply', () => {
    expect(cli(['apply', '--policy', join(dir, 'b.yaml'), '--inventory', INV]).code).toBe(0);
    expect(nftList()).toMatch(/reject with tcp reset/);
    const r = cli(['rollback']);
    expect(r.code, r.err).toBe(0);
    expect(nftList()).not.toMatch(/reject with tcp reset/);
    expect(nftList()).toMatch(/audit: logged, passed/);
    expect(cli(['status', '--inventory', INV]).code).toBe(0);
  });

  it('--confirm without confirmation restores the previous rules', () => {
    const before = nftList();
    const r = cli(['apply', '--policy', join(dir, 'b.yaml'), '--inventory', INV, '--confirm', '1']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/not confirmed within 1s/);
    expect(nftList()).toBe(before);
    expect(cli(['status', '--inventory', INV]).code).toBe(0);
  });

  it('--confirm with `lanfence confirm` from another shell keeps the new rules', async () => {
    const child = spawn('ip', ['netns', 'exec', netns.ns, 'node', 'bin/lanfence', 'apply', '--policy', join(dir, 'b.yaml'), '--inventory', INV, '--confirm', '20'], {
      env: { ...process.env, LANFENCE_STATE_DIR: stateDir },
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const done = new Promise<number | null>((res) => child.on('close', res));
    for (let i = 0; i < 100 && !err.includes('waiting 20s'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(cli(['confirm']).code).toBe(0);
    expect(await done).toBe(0);
    expect(nftList()).toMatch(/reject with tcp reset/);
  });

  it('remove leaves no trace, and status then says absent (5)', () => {
    const r = cli(['remove']);
    expect(r.code, r.err).toBe(0);
    expect(nftList()).not.toMatch(/lanfence/);
    expect(cli(['status', '--inventory', INV]).code).toBe(5);
  });
});
