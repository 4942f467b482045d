/**
 * The lab: real dockerd, real containers, real kernel rules — in network namespaces this file
 * creates and tears down. For each backend: audit, enforce, exceptions and remove, each checked
 * cell by cell against the packet evaluator with real TCP/UDP/ICMP probes.
 *
 * `bin/lanfence` runs from dist/ (vitest's global setup builds it).
 * One lab serves the nftables and iptables backends; firewalld gets its own (firewalld must start
 * before dockerd, as on a RHEL/Fedora host).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_YAML } from '../../src/policy/default-policy.js';
import type { BackendName, Mode } from '../../src/ruleset/types.js';
import { kernelTestsEnabled } from '../support/root.js';
import { dockerRules, lanfenceTraces, rootNamespaceTraces } from '../../src/lab/inspect.js';
import { kmsgCursor, readKmsg } from '../../src/lab/kmsg.js';
import { LogParser, type DropRecord } from '../../src/logs/index.js';
import { createLab, type Lab } from '../../src/lab/lab.js';
import { expectedResolved, normAddr, runMatrix, type Cell, type Expectation, type MatrixRun } from '../../src/lab/matrix.js';

const enabled = kernelTestsEnabled('the network-namespace lab (test/lab)');

/**
 * Backends whose `lanfence apply` is not implemented yet: their cases are listed as todo, never
 * faked. Remove an entry once the backend applies.
 */
const PENDING: Partial<Record<BackendName, string>> = {};

/** Exceptions covering every scope kind the lab can show, with and without ports, and `to: host`. */
const EXCEPTIONS_POLICY = `# lab: exceptions
mode: enforce
allow:
  - to: 10.57.17.5
    ports: [5432/tcp]
    from: { network: lab-user }
    comment: the database, for lab-user only (tcp/22 stays closed)
  - to: 172.31.57.5
    from: { container: c-default }
    comment: c-default may reach this address on every port and protocol
  - to: 100.64.0.0/10
    ports: [53/udp]
    comment: CGNAT DNS, for every container
  - to: fd57:17::5
    ports: [80/tcp]
    from: { network: lab-v6 }
    comment: IPv6 ULA web server, for lab-v6
  - to: host
    ports: [53/udp, 9100/tcp]
    from: { network: lab-custom }
    comment: DNS and the exporter on every host address, for lab-custom
  - to: host
    ports: [2375/tcp]
    from: { container: c-pub }
    comment: the Docker TCP socket, for c-pub only
  - to: 192.168.57.2
    ports: [53/udp]
    comment: an exception to one host address opens the input path to it
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function assertMatrix(m: MatrixRun): void {
  console.log(`${m.table}\n`);
  if (m.mismatches.length > 0) throw new Error(`${m.title}: ${m.mismatches.length} cell(s) differ from the evaluator\n${m.table}\n\n${m.report}`);
}

async function assertRootClean(when: string): Promise<void> {
  const traces = await rootNamespaceTraces();
  expect(traces, `lanfence in the machine's own network namespace (${when})`).toEqual([]);
}

function writePolicies(lab: Lab): { defaults: string; exceptions: string } {
  const dir = join(lab.dir, 'policies');
  mkdirSync(dir, { recursive: true });
  const defaults = join(dir, 'default.yaml');
  const exceptions = join(dir, 'exceptions.yaml');
  writeFileSync(defaults, DEFAULT_POLICY_YAML);
  writeFileSync(exceptions, EXCEPTIONS_POLICY);
  return { defaults, exceptions };
}

async function lanfenceOk(lab: Lab, args: string[]): Promise<string> {
  const r = await lab.lanfence(args);
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${lab.lanfenceCommand(args)}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r.stdout;
}

async function applyPolicy(lab: Lab, backend: BackendName, file: string, text: string, mode: Mode): Promise<Expectation> {
  await lanfenceOk(lab, ['apply', '--policy', file, '--backend', backend, '--mode', mode]);
  return { kind: 'policy', resolved: await expectedResolved(lab, text, { mode, file }) };
}

function logLineFor(lines: DropRecord[], c: Cell): boolean {
  const p = c.packet!;
  return lines.some((l) => l.src === normAddr(p.src) && l.dst === normAddr(p.dst) && l.proto === p.proto && (p.dport === undefined || l.dpt === p.dport));
}

/** The cases every backend goes through, in order, on a shared lab. */
function backendCases(backend: BackendName, getLab: () => Lab): void {
  const pending = PENDING[backend];
  if (pending) {
    it.todo(`${backend}: audit — everything open, every would-be drop in the kernel log (pending: ${pending})`);
    it.todo(`${backend}: enforce (default policy) — the matrix equals the evaluator (pending: ${pending})`);
    it.todo(`${backend}: exceptions — exactly the excepted cells open (pending: ${pending})`);
    it.todo(`${backend}: remove — everything open, no trace left (pending: ${pending})`);
    it.todo(`${backend}: Docker's own rules after remove are those before the first apply (pending: ${pending})`);
    return;
  }
  let dockerBefore = '';
  let policies: { defaults: string; exceptions: string };

  beforeAll(async () => {
    const lab = getLab();
    policies = writePolicies(lab);
    expect(await lanfenceTraces(lab), 'lanfence traces before the first apply').toEqual([]);
    dockerBefore = await dockerRules(lab);
  });

  it(`${backend}: audit — everything open, every would-be drop in the kernel log`, async () => {
    const lab = getLab();
    const cursor = kmsgCursor();
    const exp = await applyPolicy(lab, backend, policies.defaults, DEFAULT_POLICY_YAML, 'audit');
    const m = await runMatrix(lab, exp, `${backend} audit (default policy)`);
    assertMatrix(m);
    const prefix = exp.kind === 'policy' ? exp.resolved.ruleset.log.prefix : '';
    const parser = new LogParser({ prefix });
    await sleep(100);
    const lines = readKmsg(cursor)
      .map((r) => parser.parseLine(r.text))
      .filter((l): l is DropRecord => l !== null);
    const wouldDrop = m.cells.filter((c) => c.verdict?.verdict === 'log');
    expect(wouldDrop.length).toBeGreaterThan(0);
    console.log(`${backend} audit: ${wouldDrop.length} would-be drops probed, ${lines.length} "${prefix}" kernel log lines since the apply`);
    const missing = wouldDrop.filter((c) => !logLineFor(lines, c));
    expect(
      missing.map((c) => `${c.row} → ${c.probe.addr} ${c.probe.kind}${c.probe.port ? `/${c.probe.port}` : ''} (${c.why})`),
      `would-be drops without a "${prefix}" kernel log line (${lines.length} lanfence lines read)`,
    ).toEqual([]);
  });

  it(`${backend}: enforce (default policy) — the matrix equals the evaluator`, async () => {
    const lab = getLab();
    const exp = await applyPolicy(lab, backend, policies.defaults, DEFAULT_POLICY_YAML, 'enforce');
    assertMatrix(await runMatrix(lab, exp, `${backend} enforce (default policy)`));
    const status = await lab.lanfence(['status']);
    expect(status.code, `lanfence status after apply:\n${status.stdout}${status.stderr}`).toBe(0);
  });

  it(`${backend}: exceptions — exactly the excepted cells open`, async () => {
    const lab = getLab();
    const exp = await applyPolicy(lab, backend, policies.exceptions, EXCEPTIONS_POLICY, 'enforce');
    const m = await runMatrix(lab, exp, `${backend} enforce with exceptions`);
    assertMatrix(m);
    // The policy really opens something, and every exception is exercised by some open cell.
    const opened = m.cells.filter((c) => c.verdict?.verdict === 'pass' && c.verdict.exception);
    const used = new Set(opened.map((c) => c.verdict!.exception!.index));
    expect([...used].sort()).toEqual(exp.kind === 'policy' ? exp.resolved.ruleset.exceptions.map((e) => e.index).sort() : []);
  });

  it(`${backend}: remove — everything open, no trace left`, async () => {
    const lab = getLab();
    await lanfenceOk(lab, ['remove', '--backend', backend]);
    assertMatrix(await runMatrix(lab, { kind: 'none' }, `${backend} after remove`));
    expect(await lanfenceTraces(lab), 'lanfence traces after remove').toEqual([]);
    const status = await lab.lanfence(['status']);
    expect(status.code, `lanfence status after remove (protection is absent):\n${status.stdout}${status.stderr}`).not.toBe(0);
  });

  it(`${backend}: Docker's own rules after remove are those before the first apply`, async () => {
    const lab = getLab();
    // firewalld's reload makes Docker rebuild its rules a few seconds later: let that settle first.
    let after = await dockerRules(lab);
    for (const until = Date.now() + 20_000; after !== dockerBefore && Date.now() < until; after = await dockerRules(lab)) await sleep(1000);
    const why =
      backend === 'firewalld'
        ? ' (measured in this lab: a bare `firewall-cmd --reload`, without lanfence, makes Docker 20.10 rebuild its rules without the DOCKER-ISOLATION-STAGE-1/2 rules of its bridges)'
        : '';
    expect(after, `iptables-save/ip6tables-save without lanfence's lines, after remove vs before apply${why}`).toBe(dockerBefore);
  });
}

describe.runIf(enabled)('lab: nftables and iptables backends (dockerd in a namespace, no firewalld)', () => {
  let lab: Lab;
  beforeAll(async () => {
    await assertRootClean('before');
    lab = await createLab({ ipv6: true });
    console.log(`lab ${lab.id} ready: ${JSON.stringify(lab.timings)} (s)`);
  }, 180_000);
  afterAll(async () => {
    await lab?.teardown();
    await assertRootClean('after');
  }, 60_000);

  it('no rules: everything open (except what Docker itself isolates)', async () => {
    expect(await lanfenceTraces(lab)).toEqual([]);
    assertMatrix(await runMatrix(lab, { kind: 'none' }, 'no rules'));
  });

  describe('nftables', () => backendCases('nftables', () => lab));
  describe('iptables', () => backendCases('iptables', () => lab));
});

describe.runIf(enabled)('lab: firewalld backend (firewalld started before dockerd)', () => {
  let lab: Lab;
  const pending = PENDING.firewalld;
  beforeAll(async () => {
    if (pending) return;
    await assertRootClean('before');
    lab = await createLab({ ipv6: true, firewalld: true });
    console.log(`lab ${lab.id} (firewalld) ready: ${JSON.stringify(lab.timings)} (s)`);
  }, 180_000);
  afterAll(async () => {
    await lab?.teardown();
    await assertRootClean('after');
  }, 60_000);

  if (pending) it.todo(`no rules: everything open (pending: ${pending})`);
  else
    it('no rules: everything open (except what Docker itself isolates)', async () => {
      expect(await lanfenceTraces(lab)).toEqual([]);
      assertMatrix(await runMatrix(lab, { kind: 'none' }, 'no rules (firewalld)'));
    });

  backendCases('firewalld', () => lab);
});
