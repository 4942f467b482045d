/**
 * `lanfence verify` on a real Docker host in the lab: after `apply` every cell matches (nftables, then
 * iptables); a blocked range deleted behind lanfence's back makes it fail and name the cells that
 * differ; a network without containers is probed from a temporary namespace that is gone afterwards;
 * audit mode is refused without --force.
 *
 * `bin/lanfence` runs from dist/ (`npm run build` first, or let vitest's global setup build it).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab } from '../../src/lab/lab.js';
import type { BackendName } from '../../src/ruleset/types.js';
import { EXIT } from '../../src/errors.js';
import { formatReport, type VerifyReport } from '../../src/verify/index.js';
import { kernelTestsEnabled } from '../support/root.js';

const enabled = kernelTestsEnabled('lanfence verify in the lab (test/lab)');

/** Exceptions of every kind verify has a column for: a LAN address with a port, one without ports, `host`, a host address, IPv6. */
const POLICY = `# lab: verify
mode: enforce
allow:
  - to: 10.57.17.5
    ports: [5432/tcp]
    from: { network: lab-user }
    comment: the database, for lab-user only
  - to: 172.31.57.5
    from: { container: c-default }
    comment: every port, for c-default only
  - to: host
    ports: [53/udp]
    from: { network: lab-custom }
    comment: DNS on the host, for lab-custom
  - to: 192.168.57.2
    ports: [9100/tcp]
    comment: the exporter on the host's LAN address, for everyone
  - to: fd57:17::5
    ports: [80/tcp]
    from: { network: lab-v6 }
    comment: the IPv6 web server, for lab-v6
`;

/** A public stand-in in the LAN namespace with a TCP listener on port 80: the --internet check. */
const INTERNET = '198.51.100.10:80';
const EMPTY_NETWORK = 'lab-empty';

describe.runIf(enabled)('lab: lanfence verify', () => {
  let lab: Lab;
  let policy: string;

  beforeAll(async () => {
    lab = await createLab({ ipv6: true });
    console.log(`lab ${lab.id} ready: ${JSON.stringify(lab.timings)} (s)`);
    const dir = join(lab.dir, 'verify');
    mkdirSync(dir, { recursive: true });
    policy = join(dir, 'policy.yaml');
    writeFileSync(policy, POLICY);
  }, 180_000);
  afterAll(async () => {
    await lab?.teardown();
  }, 60_000);

  const ok = async (args: string[]) => {
    const r = await lab.lanfence(args);
    if (r.code !== 0) throw new Error(`exit ${r.code}: ${lab.lanfenceCommand(args)}\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  const verifyJson = async (args: string[]): Promise<{ code: number; report: VerifyReport; stderr: string }> => {
    const r = await lab.lanfence(['verify', ...args, '--json']);
    let report: VerifyReport;
    try {
      report = JSON.parse(r.stdout) as VerifyReport;
    } catch {
      throw new Error(`verify ${args.join(' ')}: exit ${r.code}, no JSON on stdout:\n${r.stdout}\n${r.stderr}`);
    }
    return { code: r.code, report, stderr: r.stderr };
  };
  const cellsOf = (r: VerifyReport, column: string) => r.cells.filter((c) => c.column === column);
  const leftovers = async () => {
    const links = await lab.exec('host', 'ip', ['-o', 'link', 'show']);
    const netns = await lab.exec('host', 'ip', ['netns', 'list']);
    return [...links.stdout.split('\n').filter((l) => /\blfv-/.test(l)), ...netns.stdout.split('\n').filter((l) => l.startsWith('lf-verify-'))];
  };

  for (const backend of ['nftables', 'iptables'] as BackendName[]) {
    it(`${backend}: after apply, verify --all exits 0 and every cell matches`, async () => {
      await ok(['apply', '--policy', policy, '--backend', backend]);
      const { code, report } = await verifyJson(['--all', '--internet', INTERNET]);
      console.log(formatReport(report).join('\n'));
      expect(code).toBe(0);
      expect(report.ok).toBe(true);
      expect(report.mismatches).toEqual([]);
      expect(report.backend).toBe(backend);
      expect(report.sources.map((s) => s.name).sort()).toEqual([...lab.containers.map((c) => c.name), lab.peer.name].sort());
      // Every kind of destination was probed, and both verdicts were seen.
      for (const kind of ['range', 'gateway', 'host', 'exception', 'internet']) {
        const keys = report.columns.filter((c) => c.kind === kind).map((c) => c.key);
        expect(report.cells.filter((c) => keys.includes(c.column) && c.seen).length, `probed cells of kind ${kind}`).toBeGreaterThan(0);
      }
      const probed = report.cells.filter((c) => c.seen);
      expect(probed.filter((c) => c.expected === 'drop').length).toBeGreaterThan(50);
      expect(probed.filter((c) => c.expected === 'pass').length).toBeGreaterThan(3);
      expect(probed.filter((c) => c.expected === 'open' && c.seen!.observed === 'open').length).toBeGreaterThan(3);
      expect(probed.every((c) => c.match)).toBe(true);
      expect(report.counter.after - report.counter.before).toBeGreaterThanOrEqual(probed.filter((c) => c.expected === 'drop').length);
      // The exceptions open exactly their scope: the database for c-user only.
      const db = Object.fromEntries(cellsOf(report, 'allow:1').map((c) => [c.row, c.expected]));
      expect(db['c-user']).toBe('pass');
      expect(db['c-default']).toBe('drop');
      // The host: every gateway and the LAN address are blocked, except what the exceptions open there.
      const at = (column: string, row: string) => cellsOf(report, column).find((c) => c.row === row);
      expect(at('gateway4', 'c-user')?.seen?.observed).toBe('drop');
      expect(at('host:192.168.57.2', 'c-user')?.seen?.observed).toBe('drop');
      expect(at('allow:3', 'c-custom')?.seen?.observed).toBe('pass'); // `to: host` 53/udp for lab-custom
      expect(at('allow:3', 'c-user')?.seen?.observed).toBe('drop');
      expect(cellsOf(report, 'allow:4').map((c) => c.seen?.observed)).toEqual(report.sources.map(() => 'pass')); // 192.168.57.2:9100 for all
      // IPv6 ranges are probed from the IPv6 sources only.
      const ula = cellsOf(report, 'range:fc00::/7');
      expect(ula.find((c) => c.row === 'c-v6')?.seen?.observed).toBe('drop');
      expect(ula.find((c) => c.row === 'c-user')?.skip).toMatch(/no IPv6/);
      expect(await leftovers()).toEqual([]);
    });

    it(`${backend}: a blocked range deleted behind lanfence's back — verify fails and names the cells`, async () => {
      const sabotage =
        backend === 'nftables'
          ? ['nft', ['delete', 'element', 'inet', 'lanfence', 'blocked4', '{ 10.0.0.0/8 }']]
          : ['ipset', ['del', 'lanfence-block4', '10.0.0.0/8']];
      const s = await lab.exec('host', sabotage[0] as string, sabotage[1] as string[]);
      expect(s.code, s.stderr).toBe(0);
      try {
        const { code, report } = await verifyJson(['--all']);
        console.log(formatReport(report).join('\n'));
        expect(code).toBe(EXIT.mismatch);
        expect(report.ok).toBe(false);
        // Every source has its 10.0.0.0/8 cell wrong: expected drop, observed pass.
        const tenSlash8 = report.mismatches.filter((c) => c.column === 'range:10.0.0.0/8');
        expect(tenSlash8.map((c) => c.row).sort()).toEqual(report.sources.filter((s) => s.addresses[4]).map((s) => s.name).sort());
        for (const c of tenSlash8) expect([c.expected, c.seen?.observed]).toEqual(['drop', 'pass']);
        // Nothing else differs but the exception inside 10/8 (allow #1: 10.57.17.5 for lab-user), whose
        // other sources now pass too.
        expect(new Set(report.mismatches.map((c) => c.column))).toEqual(new Set(['range:10.0.0.0/8', 'allow:1']));
        expect(report.mismatches.find((c) => c.column === 'allow:1' && c.row === 'c-user')).toBeUndefined();
        const text = formatReport(report).join('\n');
        expect(text).toMatch(/^MISMATCHES \(\d+\): container × destination$/m);
        expect(text).toMatch(/^  c-user × 10\/8: tcp 10\.0\.0\.123:9 from 172\.20\.1\.2$/m);
        expect(text).toMatch(/^  c-default × allow #1: tcp 10\.57\.17\.5:5432 from /m);
        // Each mismatch comes with the command that repeats its probe by hand.
        const again = tenSlash8.find((c) => c.row === 'c-user')!;
        expect(again.reproduce).toMatch(/nsenter --net=\/proc\/\d+\/ns\/net node \S+\/agent\.js$/);
        const r = await lab.exec('host', 'sh', ['-c', again.reproduce!]);
        expect(r.stdout).toMatch(/"outcome":"timeout"/);
      } finally {
        await ok(['apply', '--policy', policy, '--backend', backend]);
      }
    });
  }

  it('--network of a network without containers: a probe namespace on its bridge, removed afterwards', async () => {
    const c = await lab.docker(['network', 'create', '--subnet', '172.20.9.0/24', EMPTY_NETWORK]);
    expect(c.code, c.stderr).toBe(0);
    const { code, report } = await verifyJson(['--network', EMPTY_NETWORK]);
    expect(code, JSON.stringify(report.mismatches, null, 1)).toBe(0);
    expect(report.sources).toHaveLength(1);
    const src = report.sources[0];
    expect(src).toMatchObject({ name: `network:${EMPTY_NETWORK}`, kind: 'network' });
    expect(src.addresses[4]).toBe('172.20.9.254');
    expect(report.cells.filter((x) => x.seen && x.expected === 'drop').length).toBeGreaterThan(5);
    expect(report.cells.find((x) => x.column === 'gateway4')?.seen?.observed).toBe('drop');
    expect(await leftovers()).toEqual([]);
    await lab.docker(['network', 'rm', EMPTY_NETWORK]);
  });

  it('--container: one source, the table on stdout and progress on stderr; bad selections are usage errors (64)', async () => {
    const r = await lab.lanfence(['verify', '--container', 'c-v6']);
    console.log(r.stdout);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^1 source\(s\) × \d+ destination\(s\): \d+ probes in [\d.]+ s, every cell matches$/m);
    expect(r.stdout).toMatch(/^c-v6 +drop\/drop +drop\/drop/m);
    expect(r.stdout).toMatch(/^  allow #5 +tcp \[fd57:17::5\]:80: allow #5: network lab-v6 → fd57:17::5 80\/tcp/m);
    expect(r.stderr).toMatch(/^… probing \d+ cell\(s\) that should be blocked, one at a time \([\d.]+s\)$/m);
    const unknown = await lab.lanfence(['verify', '--container', 'c-v7']);
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toMatch(/did you mean c-v6/);
    const both = await lab.lanfence(['verify', '--all', '--container', 'c-v6']);
    expect(both.code).toBe(64);
  });

  it('audit mode: refused without --force; with --force every would-be drop is logged', async () => {
    await ok(['apply', '--policy', policy, '--backend', 'nftables', '--mode', 'audit']);
    const refused = await lab.lanfence(['verify', '--all']);
    expect(refused.code).toBe(64);
    expect(refused.stderr).toMatch(/audit mode.*--force/s);
    expect(refused.stdout).toBe('');
    const { code, report } = await verifyJson(['--container', 'c-user', '--force']);
    expect(code, JSON.stringify(report.mismatches, null, 1)).toBe(0);
    expect(report.mode).toBe('audit');
    expect(report.cells.filter((c) => c.seen?.observed === 'log').length).toBeGreaterThan(5);
    await ok(['remove', '--backend', 'nftables']);
    const absent = await lab.lanfence(['verify', '--all']);
    expect(absent.code).toBe(5);
  });
});
