/**
 * The drop log in the lab (issue 5): real dockerd, real containers, real kernel log lines.
 *
 * - The rollout: audit mode → probes from named containers → `lanfence logs --json` names them →
 *   `lanfence audit suggest --write` merges exactly the services into the policy file (comments
 *   kept, the scan left out) → enforce mode: the probe matrix equals the evaluator, and the cells
 *   the exceptions open are exactly the services that were used.
 * - Floods stay bounded: a 5,000-port scan from one container writes at most the ceiling's burst
 *   plus its rate over the scan's duration to the kernel log (nftables with the daemon following
 *   the log, then iptables), the daemon counts every line it was given, its RSS stays bounded, and
 *   its metrics pass `promtool check metrics`.
 *
 * Each test uses its own log prefix, so lines from other tests on this machine never count.
 * `bin/lanfence` runs from dist/ (vitest's global setup builds it; LF_NO_BUILD=1 skips that).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rootNamespaceTraces } from '../../src/lab/inspect.js';
import { kmsgCursor, readKmsg } from '../../src/lab/kmsg.js';
import { createLab, type Lab, type LabContainer } from '../../src/lab/lab.js';
import { expectedResolved, runMatrix } from '../../src/lab/matrix.js';
import { containerSource, probeFrom, type Probe } from '../../src/lab/probe.js';
import { HOST_UPLINK4 } from '../../src/lab/topology.js';
import { LogParser, type DropRecord } from '../../src/logs/index.js';
import { parsePolicy } from '../../src/policy/load.js';
import { DEFAULT_POLICY_YAML } from '../../src/policy/default-policy.js';
import type { BackendName } from '../../src/ruleset/types.js';
import { kernelTestsEnabled } from '../support/root.js';

const enabled = kernelTestsEnabled('the drop-log lab (test/lab/drop-log.test.ts)');
const CI = process.env.CI === 'true';
const PROMTOOL = '/usr/bin/promtool';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The default policy in audit mode, with a prefix of its own and the given per-flow rate. */
function policyText(prefix: string, rate: string): string {
  const text = DEFAULT_POLICY_YAML.replace(/^mode: enforce\b/m, 'mode: audit  ')
    .replace('prefix: "DOCKER_NET_DROP: "', `prefix: "${prefix}"`)
    .replace(/rate: 1\/10s/, `rate: ${rate}`);
  if (!text.includes(prefix) || !/^mode: audit/m.test(text) || !text.includes(`rate: ${rate}`)) throw new Error('the default policy changed shape: update policyText()');
  return text;
}

async function lanfenceOk(lab: Lab, args: string[]): Promise<string> {
  const r = await lab.lanfence(args);
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${lab.lanfenceCommand(args)}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r.stdout;
}

/** Kernel log lines with `prefix` since `cursor`, parsed by lanfence's own parser. */
function kernelLines(cursor: number, prefix: string): DropRecord[] {
  const parser = new LogParser({ prefix });
  return readKmsg(cursor)
    .map((r) => parser.parseLine(r.text))
    .filter((r): r is DropRecord => r !== null);
}

function container(lab: Lab, name: string): LabContainer {
  const c = lab.containers.find((x) => x.name === name);
  if (!c) throw new Error(`lab: no container ${name}`);
  return c;
}

/** A service a container uses during the audit: the suggestion must open exactly this cell. */
interface Use {
  container: string;
  probe: Probe & { kind: 'tcp' | 'udp'; port: number };
}

const USES: Use[] = [
  { container: 'c-user', probe: { kind: 'tcp', addr: '10.57.17.5', port: 5432 } },
  { container: 'c-custom', probe: { kind: 'udp', addr: '100.64.57.5', port: 53 } },
  { container: 'c-default', probe: { kind: 'tcp', addr: HOST_UPLINK4, port: 9100 } },
  { container: 'c-v6', probe: { kind: 'tcp', addr: 'fd57:17::5', port: 80 } },
];
/** A port scan during the audit: logged, attributed, never suggested. */
const SCANNER = 'c-pub';
const SCAN: Probe[] = Array.from({ length: 40 }, (_, i) => ({ kind: 'tcp', addr: '10.57.17.5', port: 1000 + i }));

const cellKey = (row: string, p: Probe) => `${row} → ${p.addr} ${p.kind}/${p.port ?? ''}`;

describe.runIf(enabled)('lab: the drop log (dockerd in a namespace)', () => {
  let lab: Lab;
  beforeAll(async () => {
    expect(await rootNamespaceTraces(), 'lanfence in the machine\'s own network namespace (before)').toEqual([]);
    lab = await createLab({ ipv6: true });
    console.log(`lab ${lab.id} ready: ${JSON.stringify(lab.timings)} (s)`);
  }, 180_000);
  afterAll(async () => {
    await lab?.teardown();
    expect(await rootNamespaceTraces(), 'lanfence in the machine\'s own network namespace (after)').toEqual([]);
  }, 90_000);

  it('audit → `logs` names the containers → `audit suggest --write` → enforce: exactly the used services are reachable', async () => {
    const prefix = `LFWF-${lab.id}: `;
    const file = join(lab.dir, 'workflow.yaml');
    const original = policyText(prefix, '1/1s');
    writeFileSync(file, original);
    await lanfenceOk(lab, ['apply', '--policy', file, '--backend', 'nftables']);

    // Audit: each service used three times, a second apart (one line per flow per second), and one scan.
    for (let round = 0; round < 3; round++) {
      await lab.resetConntrack();
      const results = await Promise.all(USES.map((u) => probeFrom(containerSource(container(lab, u.container)), [u.probe])));
      results.forEach((r, i) => expect(r[0].outcome, `audit mode passes ${cellKey(USES[i].container, USES[i].probe)}: ${r[0].detail}`).toBe('open'));
      await sleep(1100);
    }
    await probeFrom(containerSource(container(lab, SCANNER)), SCAN);
    await sleep(300);

    // `lanfence logs --json`: the lines by container name.
    const logs = (await lanfenceOk(lab, ['logs', '--json', '--source', 'kmsg', '--since', '1h', '--policy', file]))
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { container: string | null; dst: string; dpt?: number; proto: string; entry: string | null });
    for (const u of USES) {
      const mine = logs.filter((l) => l.container === u.container && l.dst === u.probe.addr && l.dpt === u.probe.port && l.proto.toLowerCase() === u.probe.kind);
      expect(mine.length, `lanfence logs: lines for ${cellKey(u.container, u.probe)} (got ${logs.length} lines in all)`).toBeGreaterThanOrEqual(2);
      expect(mine.every((l) => l.entry !== null)).toBe(true);
    }
    const scanLines = logs.filter((l) => l.container === SCANNER);
    expect(scanLines.length, 'the scan is logged and attributed to its container').toBe(SCAN.length);
    expect(logs.filter((l) => l.container === null), 'every line is attributed to a container').toEqual([]);
    console.log(`audit: ${logs.length} lines from lanfence logs --json, containers ${[...new Set(logs.map((l) => l.container))].join(', ')}`);

    // `audit suggest --write`: exactly the services, scoped to their containers, merged into the file.
    const sug = await lab.lanfence(['audit', 'suggest', '--source', 'kmsg', '--since', '1h', '--policy', file, '--write', '--json']);
    expect(sug.code, `audit suggest --write:\n${sug.stdout}\n${sug.stderr}`).toBe(0);
    console.log(`audit suggest --write: ${sug.stderr.trim()}`);
    const merged = readFileSync(file, 'utf8');
    for (const line of original.split('\n').filter((l) => /^\s*#/.test(l))) expect(merged, 'comments of the policy file are kept').toContain(line);
    const parsed = parsePolicy(merged, file);
    expect(parsed.ruleset, parsed.diagnostics.map((d) => d.message).join('\n')).toBeTruthy();
    const granted = parsed.ruleset!.exceptions.map((e) => ({
      from: e.from.kind === 'container' ? e.from.container : `${e.from.kind}?`,
      to: e.to.kind === 'cidr' ? e.to.cidr.text.replace(/\/(32|128)$/, '') : 'host',
      ports: e.ports?.map((p) => `${p.from}/${p.proto}`).join(',') ?? 'all',
    }));
    const wanted = USES.map((u) => ({ from: u.container, to: u.probe.addr, ports: `${u.probe.port}/${u.probe.kind}` }));
    const sortKey = (x: { from: string; to: string }) => `${x.from} ${x.to}`;
    expect(granted.sort((a, b) => sortKey(a).localeCompare(sortKey(b)))).toEqual(wanted.sort((a, b) => sortKey(a).localeCompare(sortKey(b))));

    // Enforce: the matrix equals the evaluator, and the exceptions open exactly the used cells.
    const enforced = merged.replace(/^mode: audit/m, 'mode: enforce');
    writeFileSync(file, enforced);
    await lanfenceOk(lab, ['apply', '--policy', file, '--backend', 'nftables']);
    const m = await runMatrix(lab, { kind: 'policy', resolved: await expectedResolved(lab, enforced, { file }) }, 'enforce with the suggested exceptions');
    console.log(`${m.table}\n`);
    if (m.mismatches.length > 0) throw new Error(`${m.mismatches.length} cell(s) differ from the evaluator\n${m.report}`);
    const opened = m.cells.filter((c) => c.verdict?.verdict === 'pass' && c.verdict.exception && c.observed?.outcome === 'open').map((c) => cellKey(c.row, c.probe));
    expect(opened.sort()).toEqual(USES.map((u) => cellKey(u.container, u.probe)).sort());
    const scanned = m.cells.filter((c) => c.row === SCANNER && c.probe.addr === '10.57.17.5' && c.probe.kind === 'tcp');
    expect(scanned.length).toBeGreaterThan(0);
    expect(scanned.filter((c) => c.observed?.outcome === 'open'), 'the scanner gets nothing').toEqual([]);
    await lanfenceOk(lab, ['remove', '--backend', 'nftables']);
  }, 300_000);

  /**
   * Scans 5,000 TCP ports of a blocked LAN address (audit mode: each is refused at once by the LAN
   * namespace). Returns how many lines the kernel logged meanwhile (the log rules' own counters: the
   * kernel's ring buffer holds fewer lines than a burst, so reading it afterwards would undercount),
   * the lines still in the buffer, and how long the scan took.
   */
  async function scan(from: LabContainer, prefix: string, logged: () => Promise<number>): Promise<{ logged: number; lines: DropRecord[]; seconds: number; answered: number }> {
    const probes: Probe[] = Array.from({ length: 5000 }, (_, i) => ({ kind: 'tcp', addr: '172.31.57.5', port: i + 1 }));
    await lab.resetConntrack();
    const cursor = kmsgCursor();
    const before = await logged();
    const t0 = Date.now();
    const results = await probeFrom(containerSource(from), probes);
    const seconds = (Date.now() - t0) / 1000;
    await sleep(300);
    const src = from.net.ipv4!;
    const lines = kernelLines(cursor, prefix).filter((l) => l.src === src && l.dst === '172.31.57.5');
    return { logged: (await logged()) - before, lines, seconds, answered: results.filter((r) => r.outcome === 'refused' || r.outcome === 'open').length };
  }

  /** nftables: packets through the log rules (`counter comment "lines logged"`), IPv4 and IPv6. */
  const nftLogged = async (): Promise<number> => {
    const out = await lab.exec('host', 'nft', ['-j', 'list', 'chain', 'inet', 'lanfence', 'block']);
    const items = (JSON.parse(out.stdout) as { nftables: { rule?: { comment?: string; expr?: { counter?: { packets: number } }[] } }[] }).nftables;
    const rules = items.flatMap((o) => (o.rule?.comment === 'lines logged' ? [o.rule] : []));
    if (rules.length !== 2) throw new Error(`expected two log rules in the block chain, found ${rules.length}:\n${out.stdout}`);
    return rules.flatMap((r) => r.expr ?? []).reduce((n, e) => n + (e.counter?.packets ?? 0), 0);
  };

  /** iptables: packets through the LOG rule of LANFENCE-BLOCK (IPv4; the scan is IPv4). */
  const iptablesLogged = async (): Promise<number> => {
    const out = await lab.exec('host', 'iptables', ['-L', 'LANFENCE-BLOCK', '-v', '-x', '-n']);
    const row = out.stdout.split('\n').find((l) => /\sLOG\s/.test(l));
    if (!row) throw new Error(`no LOG rule in LANFENCE-BLOCK:\n${out.stdout}`);
    return Number(row.trim().split(/\s+/)[0]);
  };

  /** The ceiling's bound for a scan of `seconds`: the burst plus the rate over the scan, with 5 % slack. */
  const bound = (seconds: number) => Math.ceil((500 + 50 * (seconds + 0.5)) * 1.05);

  const rssMiB = (pid: number): number => {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (!m) throw new Error(`no VmRSS for pid ${pid}`);
    return Number(m[1]) / 1024;
  };

  it('a 5,000-port scan under nftables: log lines bounded by the ceiling; the daemon counts each, its RSS stays bounded; metrics pass promtool', async () => {
    const prefix = `LFFL-${lab.id}: `;
    const file = join(lab.dir, 'flood.yaml');
    writeFileSync(file, policyText(prefix, '1/10s'));
    const port = 9731;
    const daemon = await lab.startDaemon(['--policy', file, '--backend', 'nftables', '--interval', '1', '--http', `127.0.0.1:${port}`]);
    try {
      for (const until = Date.now() + 20_000; ; await sleep(100)) {
        const st = await daemon.status();
        if (st?.applies && st.lastCheck?.matches) break;
        if (Date.now() > until) throw new Error(`the daemon did not apply within 20 s:\n${daemon.log()}`);
      }
      expect(readFileSync(`/proc/${daemon.pid}/status`, 'utf8')).toMatch(/^Name:\s+node/m);
      await sleep(1000);
      const scanner = container(lab, 'c-default');
      const scrape = async () => (await lab.exec('host', 'busybox', ['wget', '-q', '-O', '-', `http://127.0.0.1:${port}/metrics`])).stdout;
      const counted = (text: string) =>
        text
          .split('\n')
          .filter((l) => l.startsWith('lanfence_drops_total{'))
          .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
      const countedBefore = counted(await scrape());
      const before = rssMiB(daemon.pid);
      const s = await scan(scanner, prefix, nftLogged);
      expect(s.answered, 'every probe of the scan got an answer (audit mode passes them)').toBeGreaterThan(4900);
      const counter = JSON.parse((await lab.exec('host', 'nft', ['-j', 'list', 'chain', 'inet', 'lanfence', 'block'])).stdout) as { nftables: { rule?: { comment?: string; expr?: { counter?: { packets: number } }[] } }[] };
      const judged = counter.nftables.flatMap((o) => (o.rule?.comment === 'audit: logged, passed' ? (o.rule.expr ?? []) : [])).reduce((n, e) => n + (e.counter?.packets ?? 0), 0);
      console.log(`nftables: 5,000-port scan in ${s.seconds.toFixed(1)} s; ${judged} packets judged; ${s.logged} lines logged (ceiling bound ${bound(s.seconds)}); ${s.lines.length} still in the kernel's buffer`);
      expect(judged, 'every connection of the scan reached the block chain').toBeGreaterThanOrEqual(5000);
      expect(s.logged, 'the ceiling bounds the lines').toBeLessThanOrEqual(bound(s.seconds));
      expect(s.logged, 'the burst is logged in full').toBeGreaterThanOrEqual(500);
      expect(new Set(s.lines.map((l) => l.dpt)).size, 'one line per flow').toBe(s.lines.length);

      // The daemon, following the kernel log, read and counted every line the rules logged.
      let metrics = '';
      for (const until = Date.now() + 5000; ; await sleep(200)) {
        metrics = await scrape();
        if (counted(metrics) - countedBefore >= s.logged || Date.now() > until) break;
      }
      const scannerLines = metrics.split('\n').filter((l) => l.startsWith('lanfence_drops_total{') && l.includes(`container="${scanner.name}"`));
      console.log(`daemon: ${counted(metrics) - countedBefore} lines counted (${scannerLines.join('; ')})`);
      expect(counted(metrics) - countedBefore, 'lanfence_drops_total grew by the lines logged').toBe(s.logged);
      expect(scannerLines.length, `drops attributed to ${scanner.name}`).toBeGreaterThan(0);
      const after = rssMiB(daemon.pid);
      console.log(`daemon RSS: ${before.toFixed(1)} MiB before the scan, ${after.toFixed(1)} MiB after`);
      expect(after, 'daemon RSS after the scan (MiB)').toBeLessThan(200);
      expect(after - before, 'daemon RSS growth during the scan (MiB)').toBeLessThan(40);

      if (existsSync(PROMTOOL)) {
        const out = execFileSync(PROMTOOL, ['check', 'metrics'], { input: metrics, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
        expect(out.trim(), 'promtool check metrics: no findings').toBe('');
      } else if (CI) throw new Error(`CI=true and ${PROMTOOL} is missing (apt-get install prometheus)`);
      else console.log(`skipping promtool check metrics: ${PROMTOOL} is missing (apt-get install prometheus)`);
    } finally {
      await daemon.stop();
    }
    await lanfenceOk(lab, ['remove', '--backend', 'nftables']);
  }, 180_000);

  it('a 5,000-port scan under iptables: log lines bounded by the ceiling', async () => {
    const prefix = `LFFI-${lab.id}: `;
    const file = join(lab.dir, 'flood-iptables.yaml');
    writeFileSync(file, policyText(prefix, '1/10s'));
    const backend: BackendName = 'iptables';
    await lanfenceOk(lab, ['apply', '--policy', file, '--backend', backend]);
    try {
      const s = await scan(container(lab, 'c-user'), prefix, iptablesLogged);
      console.log(`iptables: 5,000-port scan in ${s.seconds.toFixed(1)} s; ${s.logged} lines logged (ceiling bound ${bound(s.seconds)}); ${s.lines.length} still in the kernel's buffer`);
      expect(s.answered).toBeGreaterThan(4900);
      expect(s.logged, 'the ceiling bounds the lines').toBeLessThanOrEqual(bound(s.seconds));
      expect(s.logged, 'the burst is logged in full').toBeGreaterThanOrEqual(500);
      expect(new Set(s.lines.map((l) => l.dpt)).size, 'one line per flow').toBe(s.lines.length);
    } finally {
      await lanfenceOk(lab, ['remove', '--backend', backend]);
    }
  }, 120_000);
});
