/** `lanfence logs` and `lanfence audit report|suggest` through run(), reading fixture files (--file). */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { run } from '../../src/cli/main.js';
import { DEFAULT_POLICY_PATH } from '../../src/policy/default-policy.js';
import { parsePolicy } from '../../src/policy/load.js';

const FIX = 'test/fixtures/logs';
const LOG = `${FIX}/audit-syslog.txt`;
const INV = `${FIX}/inventory.json`;
const POLICY = `${FIX}/policy.yaml`;
const ALL = ['--since', '2026-11-01'];

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(['node', 'lanfence', ...args], { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const tmp = () => mkdtempSync(join(tmpdir(), 'lanfence-logs-cli-'));
const saved = { state: process.env.LANFENCE_STATE_DIR, tz: process.env.TZ, docker: process.env.DOCKER_HOST, socket: process.env.LANFENCE_SOCKET };

beforeAll(() => {
  process.env.LANFENCE_STATE_DIR = tmp(); // nothing applied
  process.env.LANFENCE_SOCKET = join(tmp(), 'no-daemon.sock'); // no daemon answers
  process.env.TZ = 'UTC';
});
afterAll(() => {
  for (const [k, v] of [
    ['LANFENCE_STATE_DIR', saved.state],
    ['TZ', saved.tz],
    ['DOCKER_HOST', saved.docker],
    ['LANFENCE_SOCKET', saved.socket],
  ] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('lanfence logs', () => {
  it('prints a table by container name, with the blocked entry and the count per flow', async () => {
    const r = await cli('logs', '--file', LOG, '--policy', POLICY, '--inventory', INV);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(/^TIME +CONTAINER +DESTINATION +PORT\/PROTO +ENTRY +COUNT$/);
    expect(lines).toHaveLength(1 + 61);
    expect(lines[1]).toMatch(/^2026-11-20 05:05:05 {2}worker +10\.57\.17\.6 +6379\/tcp +10\.0\.0\.0\/8 private \(RFC 1918\) +1$/);
    expect(r.out).toMatch(/2026-11-24 08:30:00 {2}web +172\.17\.0\.1 +2375\/tcp +host +2\n/);
    expect(r.out).toMatch(/\(172\.17\.0\.99\) +10\.0\.0\.1 +22\/tcp/);
    expect(r.out).toMatch(/billing +fd12:3456:789a:1::10 +443\/tcp +fc00::\/7 unique local/);
    expect(r.out).toMatch(/web +192\.168\.1\.1 +icmp echo-request +192\.168\.0\.0\/16/);
    expect(r.err).toMatch(/note: policy: test\/fixtures\/logs\/policy.yaml/);
    expect(r.err).toMatch(/note: attribution: the inventory snapshot test\/fixtures\/logs\/inventory.json \(current state only\)/);
    expect(r.err).toMatch(/67 line\(s\) read, 61 drop line\(s\), 2 unreadable \(1 garbage, 1 truncated\)/);
  });

  it('--json: one object per line, with the attribution source', async () => {
    const r = await cli('logs', '--file', LOG, '--policy', POLICY, '--inventory', INV, '--json');
    const objs = r.out.split('\n').map((l) => JSON.parse(l));
    expect(objs).toHaveLength(61);
    expect(objs[0]).toMatchObject({ time: '2026-11-20T05:05:05.900Z', container: 'worker', network: 'apps', attribution: 'snapshot', src: '172.21.0.7', dst: '10.57.17.6', proto: 'tcp', dpt: 6379, flags: ['SYN'], path: 'forward', entry: 'private (RFC 1918)', entryCidr: '10.0.0.0/8', count: 1 });
    expect(objs.find((o) => o.src === '172.17.0.99')).toMatchObject({ container: null, network: 'bridge', attribution: 'none' });
    expect(objs.find((o) => o.path === 'input')).toMatchObject({ container: 'web', entry: 'host', entryCidr: null });
    expect(objs.find((o) => o.container === 'billing')).toMatchObject({ composeProject: 'shop', containerId: expect.stringMatching(/^5b1e0c4d/) });
  });

  it('--container and --since filter', async () => {
    const r = await cli('logs', '--file', LOG, '--policy', POLICY, '--inventory', INV, '--container', 'billing', '--since', '2026-11-22');
    const rows = r.out.split('\n').slice(1);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((l) => /^\S+ \S+ {2}billing /.test(l))).toBe(true);
    expect(rows[0]).toMatch(/^2026-11-22 /);
    expect(rows.filter((l) => /5432\/tcp/.test(l)).map((l) => l.trim().split(/\s+/).pop())).toEqual(['1', '2']); // the count since 2026-11-22
    const byAddress = await cli('logs', '--file', LOG, '--policy', POLICY, '--inventory', INV, '--container', '172.17.0.99', '--json');
    expect(byAddress.out.split('\n')).toHaveLength(2);
  });

  it('says so when Docker cannot be reached: containers by address', async () => {
    process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
    try {
      const r = await cli('logs', '--file', LOG, '--policy', POLICY, '--json');
      expect(r.err).toMatch(/note: attribution: Docker is not reachable \(.+\): containers are shown by source address/);
      expect(JSON.parse(r.out.split('\n')[0])).toMatchObject({ container: null, attribution: 'none', src: '172.21.0.7' });
    } finally {
      delete process.env.DOCKER_HOST;
    }
    const none = await cli('logs', '--file', LOG, '--policy', POLICY, '--inventory', 'none');
    expect(none.err).toMatch(/note: attribution: no inventory: containers are shown by source address/);
  });

  it('names containers from the running daemon\'s address history (address reuse), Docker\'s state for the rest', async () => {
    const socket = join(tmp(), 'lanfence.sock');
    const history = {
      '172.17.0.2': [
        { container: 'old-web', id: 'aaa', network: 'bridge', from: Date.parse('2026-11-01T00:00:00Z'), to: Date.parse('2026-11-22T00:00:00Z') },
        { container: 'web', id: 'bbb', network: 'bridge', from: Date.parse('2026-11-22T00:01:00Z') },
      ],
    };
    const server = createServer((req, res) => {
      res.writeHead(req.url === '/v1/history' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.url === '/v1/history' ? history : { error: 'not found' }));
    });
    await new Promise<void>((r) => server.listen(socket, r));
    process.env.LANFENCE_SOCKET = socket;
    process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
    try {
      const r = await cli('logs', '--file', LOG, '--policy', POLICY, '--json', '--container', '172.17.0.2');
      expect(r.err).toMatch(/note: attribution: the daemon's address history \(who held each address at the time of the line\); where it has no answer, Docker is not reachable/);
      const objs = r.out.split('\n').map((l) => JSON.parse(l));
      expect(objs.map((o) => [o.time.slice(0, 10), o.container, o.attribution])).toEqual([
        ['2026-11-20', 'old-web', 'history'],
        ['2026-11-21', 'old-web', 'history'],
        ['2026-11-24', 'web', 'history'],
        ['2026-11-26', 'web', 'history'],
      ]);
      const other = await cli('logs', '--file', LOG, '--policy', POLICY, '--json', '--container', '172.20.0.5');
      expect(JSON.parse(other.out.split('\n')[0])).toMatchObject({ container: null, attribution: 'none' });
    } finally {
      process.env.LANFENCE_SOCKET = join(tmp(), 'no-daemon.sock');
      delete process.env.DOCKER_HOST;
      await new Promise((r) => server.close(r));
    }
  });

  it('uses the prefix and policy lanfence apply recorded', async () => {
    const dir = tmp();
    const policyFile = join(dir, 'policy.yaml');
    const text = 'mode: audit\nlog:\n  prefix: "LF_LAB: "\n';
    writeFileSync(policyFile, text);
    const state = tmp();
    writeFileSync(join(state, 'current.json'), JSON.stringify({ backend: 'nftables', mode: 'audit', appliedAt: '2026-11-19T00:00:00Z', policyFile, policyText: text, policyHash: 'x', rendered: { backend: 'nftables', text: '', parts: [] }, interfaces: ['docker0'], version: '0.1.0' }));
    const log = join(dir, 'kern.log');
    writeFileSync(log, readFileSync(LOG, 'utf8').replaceAll('DOCKER_NET_DROP: ', 'LF_LAB: '));
    const before = process.env.LANFENCE_STATE_DIR;
    process.env.LANFENCE_STATE_DIR = state;
    try {
      const r = await cli('logs', '--file', log, '--inventory', INV, '--json');
      expect(r.err).toMatch(new RegExp(`note: policy: as applied from ${policyFile}`));
      expect(r.out.split('\n')).toHaveLength(61);
      const s = await cli('audit', 'suggest', '--file', log, '--inventory', INV, ...ALL, '--write');
      expect(s.code).toBe(0);
      expect(s.err).toMatch(/added 6 exception\(s\) to .*policy.yaml/); // this policy has no exception for the worker's redis
      expect(parsePolicy(readFileSync(policyFile, 'utf8'), policyFile).ruleset!.exceptions).toHaveLength(6);
    } finally {
      process.env.LANFENCE_STATE_DIR = before;
    }
  });

  it('usage errors', async () => {
    expect((await cli('logs', '--file', LOG, '--source', 'kmsg')).code).toBe(64);
    expect((await cli('logs', '--source', 'file')).code).toBe(64);
    expect((await cli('logs', '--file', LOG, '--policy', POLICY, '--since', 'yesterday-ish')).code).toBe(64);
    expect((await cli('logs', '--source', 'pigeon')).code).toBe(64);
  });

  it('every new command has --help', async () => {
    for (const c of [['logs'], ['audit'], ['audit', 'report'], ['audit', 'suggest']]) {
      const r = await cli(...c, '--help');
      expect(r.code, c.join(' ')).toBe(0);
      expect(r.out).toMatch(new RegExp(`Usage: lanfence ${c.join(' ')}`));
    }
  });
});

describe('lanfence audit report', () => {
  it('per container: services, single lines, scans', async () => {
    const r = await cli('audit', 'report', '--file', LOG, '--policy', POLICY, '--inventory', INV, ...ALL);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^audit report: 61 drop line\(s\) from test\/fixtures\/logs\/audit-syslog.txt \(prefix "DOCKER_NET_DROP: "\), 2026-11-20 05:05:05 → 2026-11-27 16:45:30/);
    expect(r.out).toMatch(/\nscanner \(network bridge\): 40 line\(s\)\n {2}SCAN +port scan of 192\.168\.1\.10: 40\+ ports, 40 line\(s\), 2026-11-25 03:00:00 → 2026-11-25 03:00:39\n {2}\(40 flow\(s\) seen only in scans are not listed; --json has them\)/);
    expect(r.out).toMatch(/\nbilling \(project shop, network backend\): 9 line\(s\)\n/);
    expect(r.out).toMatch(/\n {2}service +10\.57\.17\.5 +5432\/tcp +10\.0\.0\.0\/8 private \(RFC 1918\) +4 {2}2026-11-20 09:15:02 → 2026-11-26 18:15:02\n/);
    // columns line up
    const rows = r.out.split('\n').filter((l) => /^ {2}(service|once) /.test(l));
    expect(new Set(rows.map((l) => l.indexOf('2026-')))).toHaveProperty('size', 1);
    expect(r.out).toMatch(/ {2}once +10\.20\.30\.40 +8080\/tcp/);
    expect(r.out).toMatch(/\(172\.17\.0\.99\) \(not attributed\): 2 line\(s\)/);
  });

  it('--json', async () => {
    const r = await cli('audit', 'report', '--file', LOG, '--policy', POLICY, '--inventory', INV, ...ALL, '--json');
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ ok: true, lines: 61, attribution: 'snapshot', parser: { garbage: 1, truncated: 1 } });
    const scanner = j.containers.find((c: { container: string }) => c.container === 'scanner');
    expect(scanner.flows).toHaveLength(40);
    expect(scanner.flows.every((f: { class: string }) => f.class === 'scan')).toBe(true);
    expect(scanner.scans[0]).toMatchObject({ kind: 'ports', target: '192.168.1.10', start: '2026-11-25T03:00:00.000Z' });
    const web = j.containers.find((c: { container: string }) => c.container === 'web');
    expect(web.flows.map((f: { class: string; dport?: number; icmpType?: number; entry: string }) => [f.class, f.dport ?? f.icmpType, f.entry])).toEqual([
      ['service', 2375, 'host'],
      ['service', 8, 'private (RFC 1918)'],
    ]);
  });

  it('--since: the default window is the last 7 days', async () => {
    const r = await cli('audit', 'report', '--file', LOG, '--policy', POLICY, '--inventory', INV, '--json');
    const since = Date.parse(JSON.parse(r.out).since);
    expect(Math.abs(since - (Date.now() - 7 * 86_400_000))).toBeLessThan(60_000);
    const hour = await cli('audit', 'report', '--file', LOG, '--policy', POLICY, '--inventory', INV, '--json', '--since', '1h');
    expect(JSON.parse(hour.out).lines).toBe(0);
  });
});

describe('lanfence audit suggest', () => {
  it('prints the allow: entries as YAML, with comments; notes why others are left out', async () => {
    const r = await cli('audit', 'suggest', '--file', LOG, '--policy', POLICY, '--inventory', INV, ...ALL);
    expect(r.code).toBe(0);
    const doc = parseYaml(r.out) as { allow: { to: string; from: Record<string, string> }[] };
    expect(doc.allow.map((a) => [a.to, a.from])).toEqual([
      ['10.57.17.5', { container: 'billing' }],
      ['fd12:3456:789a:1::10', { container: 'billing' }],
      ['172.17.0.1', { container: 'web' }],
      ['10.20.30.40', { container: 'worker' }],
      ['192.168.1.53', { network: 'backend' }],
    ]);
    expect(r.out).toMatch(/ {2}# audit log: 6 line\(s\), 2026-11-20T11:00:01Z → 2026-11-25T11:00:03Z, billing, billing-worker → 192\.168\.1\.53/);
    expect(r.err).toMatch(/note: 40 flow\(s\) not suggested: part of a scan/);
    expect(r.err).toMatch(/note: 1 flow\(s\) not suggested: already allowed by an exception/);
    expect(r.err).toMatch(/note: 1 flow\(s\) not suggested: the source is not attributed to a container/);
    expect(r.err).toMatch(/note: 1 flow\(s\) not suggested: not TCP\/UDP: exceptions are per TCP\/UDP port/);
  });

  it('--min-count', async () => {
    const r = await cli('audit', 'suggest', '--file', LOG, '--policy', POLICY, '--inventory', INV, ...ALL, '--min-count', '2', '--json');
    const j = JSON.parse(r.out);
    expect(j.suggestions.map((s: { to: string }) => s.to)).toEqual(['10.57.17.5', 'fd12:3456:789a:1::10', '172.17.0.1', '192.168.1.53']);
    expect((await cli('audit', 'suggest', '--file', LOG, '--policy', POLICY, '--min-count', 'lots')).code).toBe(64);
  });

  it('--write merges into the policy file (the golden after, up to the date), validated; a second run adds nothing', async () => {
    const dir = tmp();
    const f = join(dir, 'policy.yaml');
    copyFileSync(POLICY, f);
    const r = await cli('audit', 'suggest', '--file', LOG, '--policy', f, '--inventory', INV, ...ALL, '--write');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/added 5 exception\(s\) to .*policy\.yaml; the file validates/);
    const after = readFileSync(f, 'utf8').replace(/\(\d{4}-\d\d-\d\d\)$/gm, '(DATE)');
    expect(after).toBe(readFileSync(`${FIX}/policy-after.yaml`, 'utf8').replace(/\(\d{4}-\d\d-\d\d\)$/gm, '(DATE)'));
    const again = await cli('audit', 'suggest', '--file', LOG, '--policy', f, '--inventory', INV, ...ALL, '--write');
    expect(again.out).toMatch(/# no exceptions to suggest from 61 drop line\(s\)/);
    expect(again.err).toMatch(/nothing to add to/);
    expect(again.err).toMatch(/note: 7 flow\(s\) not suggested: already allowed by an exception/);
  });

  it.skipIf(existsSync(DEFAULT_POLICY_PATH))('--write without a policy file refuses', async () => {
    const r = await cli('audit', 'suggest', '--file', LOG, '--inventory', INV, ...ALL, '--write');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no policy file to write to/);
  });

  it('--write refuses an invalid policy file and leaves it alone', async () => {
    const dir = tmp();
    const f = join(dir, 'policy.yaml');
    writeFileSync(f, 'mode: audit\nallow:\n  - to: 10.57.17.5\n    ports: [5432/tpc]\n');
    const r = await cli('audit', 'suggest', '--file', LOG, '--policy', f, '--inventory', INV, ...ALL, '--write');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown protocol "tpc"/);
    expect(readFileSync(f, 'utf8')).toBe('mode: audit\nallow:\n  - to: 10.57.17.5\n    ports: [5432/tpc]\n');
  });
});
