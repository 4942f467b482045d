/**
 * The dashboard against the real daemon in the lab (issue 8 §4): `lanfence daemon --http
 * 127.0.0.1:9731` runs in the lab's host namespace, in audit mode with the nftables backend, against
 * the lab's dockerd; Debian's /usr/bin/chromium, driven by playwright-core, runs in that same
 * namespace (playwright's `executablePath` is a wrapper script that does `nsenter --net=<host ns>
 * chromium "$@"`; playwright talks to the browser over a pipe, so nothing crosses namespaces but the
 * pipe). Nothing listens or is loaded in the machine's own namespace.
 *
 * - the overview loads with the mode (audit), the backend (nftables), the live rules OK;
 * - with the live view open, a TCP probe from c-user to a blocked LAN address (10.57.17.5:22) shows
 *   up within seconds, named c-user (kernel LOG → /dev/kmsg → the daemon's drop log → SSE);
 * - more probes (IPv6, the input path, UDP) from other containers; the overview counts them;
 * - containers, one container (c-user: its drops, its exception, its networks), coverage (every lab
 *   network and container, an unprotected host-network container with its reason), suggestions
 *   (YAML for c-user → 10.57.17.5 22/tcp), the explain box (logged by 10.0.0.0/8; allowed by allow #1);
 * - a screenshot of each view goes to test/lab/screenshots/ (artefacts, ignored by git).
 *
 * The policy uses a log prefix unique to this run, so kernel log lines of other labs running at the
 * same time on this machine (the kernel log is shared) never reach this daemon's drop log.
 *
 * Needs root and /usr/bin/chromium: skipped with the reason printed otherwise — except with CI=true,
 * where that fails. `bin/lanfence` and the dashboard run from dist/ (LF_NO_BUILD=1 skips the build).
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { CHROMIUM, haveChromium, launchBrowser } from '../support/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DaemonState } from '../../src/daemon/daemon.js';
import { rootNamespaceTraces } from '../../src/lab/inspect.js';
import { createLab, REPO, type Lab, type LabContainer, type LabDaemon } from '../../src/lab/lab.js';
import { containerSource, probeFrom, RETRY_TIMEOUT_MS, type Probe } from '../../src/lab/probe.js';
import { IMAGE } from '../../src/lab/topology.js';
import { kernelTestsEnabled } from '../support/root.js';

const CI = process.env.CI === 'true';
const HERE = dirname(fileURLToPath(import.meta.url));
const SHOTS = join(HERE, 'screenshots');
const HTTP = '127.0.0.1:9731';
const URL_BASE = `http://${HTTP}/`;

const root = kernelTestsEnabled('the dashboard in the lab (test/lab/dashboard.test.ts)');
const haveBrowser = haveChromium();
if (root && !haveBrowser && !CI) console.warn(`skipping the dashboard lab test: ${CHROMIUM} is missing (apt-get install chromium)`);
const enabled = root && (haveBrowser || CI);


/** A blocked LAN address (10.0.0.0/8) with tcp 22, 80, 5432 listening, in the lab's LAN namespace. */
const LAN = '10.57.17.5';
const LAN172 = '172.31.57.5';
const CGNAT = '100.64.57.5';
const ULA = 'fd57:17::5';
/** The prober: on lab-user, with one exception (5432/tcp to LAN) in the policy. */
const PROBER = 'c-user';
const HOSTNET = 'c-hostnet';

function policyYaml(prefix: string): string {
  return `# lab: the dashboard test — an audit rollout
mode: audit
log:
  prefix: "${prefix}"
  rate: 1/10s
allow:
  - to: ${LAN}
    ports: [5432/tcp]
    from: { container: ${PROBER} }
    comment: the database, for ${PROBER}
`;
}

/** The views and their screenshot files. */
const SHOT_NAMES = ['overview', 'drops', 'containers', 'container', 'coverage', 'suggestions', 'policy-explain'] as const;
type ShotName = (typeof SHOT_NAMES)[number];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | false | null | undefined>, timeoutMs: number, diag?: () => string): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}${diag ? `\n${diag()}` : ''}`);
    await sleep(100);
  }
}

describe.skipIf(!enabled)('the dashboard, in Chromium, against the daemon in the lab', () => {
  let lab: Lab | null = null;
  let daemon: LabDaemon | null = null;
  let context: BrowserContext | null = null;
  let page: Page;
  let tmp = '';
  let problems: string[] = [];
  const t0 = Date.now();

  const byName = (name: string): LabContainer => {
    const c = lab!.containers.find((x) => x.name === name);
    if (!c) throw new Error(`no lab container ${name}`);
    return c;
  };
  const daemonLog = () => (daemon ? `--- daemon log (${daemon.logFile})\n${daemon.log(30)}` : '(no daemon)');

  /** One TCP/UDP probe from a lab container, as a new connection. */
  async function probe(from: string, p: Probe): Promise<void> {
    await lab!.resetConntrack();
    let [r] = await probeFrom(containerSource(byName(from)), [p]);
    // Audit mode passes everything: the lab's services answer (a busy machine may answer late: a
    // second, longer look; the kernel logs a flow at most once per 10 s, so it adds no line).
    if (r.outcome !== 'open') [r] = await probeFrom(containerSource(byName(from)), [p], RETRY_TIMEOUT_MS);
    expect(r.outcome, `${from} → ${p.addr} ${p.kind}/${p.port} in audit mode: ${r.detail}`).toBe('open');
  }

  /** A full load (not a same-document hash change), so each view starts from the daemon's data. */
  async function open(hash: string): Promise<void> {
    await page.goto('about:blank');
    await page.goto(`${URL_BASE}${hash}`);
  }

  async function shot(name: ShotName): Promise<void> {
    await page.evaluate(() => document.fonts.ready);
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  }

  beforeAll(async () => {
    if (!haveBrowser) throw new Error(`CI=true and ${CHROMIUM} is missing: install Debian's chromium package`);
    if (!existsSync(join(REPO, 'dist', 'web', 'index.html'))) throw new Error('dist/web is not built (npm run build)');
    mkdirSync(SHOTS, { recursive: true });
    for (const f of readdirSync(SHOTS)) if (f.endsWith('.png')) rmSync(join(SHOTS, f));
    tmp = mkdtempSync(join(tmpdir(), 'lanfence-dash-'));

    lab = await createLab({ ipv6: true });
    // One container the rules cannot filter (it shares the lab host's network stack): coverage and
    // the overview must name it, with the reason.
    const r = await lab.docker(['run', '-d', '--name', HOSTNET, '--network', 'host', '--label', 'lanfence.lab=1', IMAGE, 'sleep', '1000000']);
    if (r.code !== 0) throw new Error(`docker run ${HOSTNET}: ${r.stderr}`);

    const prefix = `LFDASH-${lab.id}: `;
    const policy = join(lab.dir, 'dashboard-policy.yaml');
    writeFileSync(policy, policyYaml(prefix));
    daemon = await lab.startDaemon(['--policy', policy, '--backend', 'nftables', '--interval', '2', '--http', HTTP], { readyTimeoutMs: 60_000 });
    await until(
      'the daemon applied the policy, checked the live rules and sees Docker',
      async () => {
        const s = await daemon!.status();
        return !!s && s.docker.up && s.lastCheck?.matches === true;
      },
      30_000,
      daemonLog,
    );

    // The browser, in the lab's host namespace.
    const wrapper = join(tmp, 'chromium-in-lab');
    writeFileSync(wrapper, `#!/bin/sh\nexec nsenter --net=${lab.nsPath('host')} ${CHROMIUM} "$@"\n`);
    chmodSync(wrapper, 0o755);
    ({ context, page, problems } = await launchBrowser(join(tmp, 'profile'), wrapper));
    console.log(`lab ${lab.id} and daemon ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (lab: ${JSON.stringify(lab.timings)})`);
  }, 300_000);

  afterAll(async () => {
    const step = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (e) {
        console.warn(`dashboard lab test cleanup: ${what}: ${(e as Error).message}`);
      }
    };
    await step('closing the browser', async () => context?.close());
    await step('stopping the daemon', async () => daemon?.stop());
    await step('tearing the lab down', async () => lab?.teardown());
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    console.log(`dashboard lab test: ${((Date.now() - t0) / 1000).toFixed(1)} s in all`);
  }, 120_000);

  it('loads the overview with the mode, the backend and the live rules OK', async () => {
    await open('#/overview');
    await page.getByText('OK: as applied').waitFor({ timeout: 15_000 });
    expect(await page.locator('.stat', { hasText: 'Mode' }).innerText()).toContain('audit');
    expect(await page.locator('.stat', { hasText: 'Backend' }).innerText()).toContain('nftables');
    expect(await page.locator('.stat', { hasText: 'Docker' }).innerText()).toContain('connected');
    expect(await page.locator('.stat', { hasText: 'Unprotected containers' }).innerText()).toContain('1');
  }, 60_000);

  it('shows a probe from a container in the live view within seconds, with its name', async () => {
    await open('#/drops');
    await page.getByText('● live').waitFor({ timeout: 10_000 });
    const started = Date.now();
    await probe(PROBER, { kind: 'tcp', addr: LAN, port: 22 });
    const row = page.locator('tbody tr', { hasText: `${LAN}:22/tcp` });
    await row.first().waitFor({ timeout: 10_000 }).catch((e: Error) => {
      throw new Error(`${e.message}\n${daemonLog()}`);
    });
    const ms = Date.now() - started;
    console.log(`probe ${PROBER} → ${LAN}:22/tcp shown in the live view after ${ms} ms`);
    expect(ms).toBeLessThan(5_000);
    const text = await row.first().innerText();
    expect(text).toContain(PROBER);
    expect(text).toContain(`from ${byName(PROBER).net.ipv4}`);
    expect(text).toContain('10.0.0.0/8 private (RFC 1918)');
    expect(text).toContain('audit');
    expect(await row.first().getAttribute('data-container')).toBe(PROBER);

    // More traffic for the other views: the allowed database (no line), another blocked service,
    // IPv6, the input path (the host's exporter on the gateway) and UDP — from several containers.
    const custom = byName('c-custom');
    await probe(PROBER, { kind: 'tcp', addr: LAN, port: 5432 });
    await probe(PROBER, { kind: 'tcp', addr: LAN172, port: 80 });
    await probe('c-default', { kind: 'tcp', addr: LAN, port: 5432 });
    await probe('c-v6', { kind: 'tcp', addr: ULA, port: 22 });
    await probe('c-custom', { kind: 'tcp', addr: custom.net.gateway4!, port: 9100 });
    await probe('c-custom', { kind: 'udp', addr: CGNAT, port: 53 });
    for (const [who, what] of [
      [PROBER, `${LAN172}:80/tcp`],
      ['c-default', `${LAN}:5432/tcp`],
      ['c-v6', `[${ULA}]:22/tcp`],
      ['c-custom', `${custom.net.gateway4}:9100/tcp`],
      ['c-custom', `${CGNAT}:53/udp`],
    ])
      await page.locator(`tbody tr[data-container="${who}"]`, { hasText: what }).first().waitFor({ timeout: 10_000 });
    // The allowed connection was not logged.
    expect(await page.locator(`tbody tr[data-container="${PROBER}"]`, { hasText: `${LAN}:5432/tcp` }).count()).toBe(0);
    expect(await page.locator('tbody tr', { hasText: `${custom.net.gateway4}:9100/tcp` }).first().innerText()).toMatch(/host\s+to host/);
    await shot('drops');

    // Filtered by container.
    await page.getByLabel('Container').selectOption(PROBER);
    const rows = await page.locator('tbody tr').allInnerTexts();
    expect(rows.length).toBe(2);
    for (const r of rows) expect(r).toContain(PROBER);
  }, 90_000);

  it('counts the drops on the overview', async () => {
    await open('#/overview');
    await page.getByText('OK: as applied').waitFor({ timeout: 15_000 });
    const lastHour = await page.locator('.stat', { hasText: 'Drops, last hour' }).locator('.stat-value').innerText();
    expect(Number(lastHour.replace(/,/g, ''))).toBeGreaterThanOrEqual(6);
    await page.getByText(`${HOSTNET}`, { exact: true }).waitFor();
    await shot('overview');
  }, 60_000);

  it('lists the lab containers with their networks and addresses', async () => {
    await open('#/containers');
    const row = page.locator('tbody tr', { hasText: PROBER });
    await row.first().waitFor({ timeout: 15_000 });
    expect(await row.first().innerText()).toContain(byName(PROBER).net.ipv4);
    const names = await page.locator('tbody tr td:first-child a').allInnerTexts();
    for (const c of [...lab!.containers.map((x) => x.name), 'c-peer', HOSTNET]) expect(names).toContain(c);
    const peer = await page.locator('tbody tr', { hasText: 'c-peer' }).innerText();
    for (const n of ['bridge', 'lab-user', 'lab-custom', 'lab-v6', 'lab-internal']) expect(peer).toContain(n);
    await shot('containers');
  }, 60_000);

  it("shows the prober's drops, its exception and its networks on its page", async () => {
    await open(`#/containers/${PROBER}`);
    await page.getByRole('heading', { name: 'Destinations' }).waitFor({ timeout: 15_000 });
    const dest = page.locator('section[aria-labelledby="ct-dest"]');
    await dest.getByText(`${LAN}:22/tcp`).waitFor({ timeout: 10_000 });
    expect(await dest.innerText()).toContain(`${LAN172}:80/tcp`);
    expect(await page.locator('.lede').innerText()).toMatch(/\b2 drop attempts in 24 h/);
    const exc = await page.locator('section[aria-labelledby="ct-exc"]').innerText();
    // The index once (the badge), then what it allows: no "allow #1 allow #1: …".
    expect(exc).toMatch(new RegExp(`allow #1\\s+container ${PROBER} → ${LAN.replace(/\./g, '\\.')} 5432/tcp \\(the database, for ${PROBER}\\)`));
    expect(exc).toContain('dashboard-policy.yaml:7:5 (allow.0)');
    const nets = await page.locator('section[aria-labelledby="ct-net"]').innerText();
    expect(nets).toContain('lab-user');
    expect(nets).toContain(byName(PROBER).net.bridge);
    await page.locator('.chart-canvas canvas').first().waitFor({ timeout: 10_000 });
    await shot('container');
  }, 60_000);

  it('covers every lab network and container, and names the unprotected one with the reason', async () => {
    await open('#/coverage');
    await page.getByRole('heading', { name: 'Networks' }).waitFor({ timeout: 15_000 });
    const nets = page.locator('section[aria-labelledby="cov-net"]');
    for (const [n, bridge] of [
      ['bridge', 'docker0'],
      ['lab-user', byName('c-user').net.bridge],
      ['lab-custom', 'lab-custom0'],
      ['lab-v6', byName('c-v6').net.bridge],
      ['lab-internal', byName('c-internal').net.bridge],
    ]) {
      const row = (await nets.locator('tbody tr').allInnerTexts()).find((r) => r.split(/[\t\n]/)[0] === n) ?? `(no row for ${n})`;
      expect(row).toContain(bridge);
      expect(row).toContain('covered');
      expect(row).not.toContain('not covered');
    }
    // Docker's own networks: host is a gap (c-hostnet uses it), none has nothing to filter.
    const rows = await nets.locator('tbody tr').allInnerTexts();
    const host = rows.find((r) => r.startsWith('host\t')) ?? '(no host row)';
    expect(host).toContain('not covered');
    expect(host).toContain("host network: its containers share the host's network stack");
    expect(rows.find((r) => r.startsWith('none\t')) ?? '(no none row)').toContain('nothing to filter');
    expect(await page.locator('.lede').innerText()).toMatch(/7 networks\s+1 not covered · 8 containers\s+1 unprotected/);
    const cts = page.locator('section[aria-labelledby="cov-ct"]');
    for (const c of [...lab!.containers, lab!.peer]) {
      const row = await cts.locator('tbody tr', { hasText: c.name }).first().innerText();
      expect(row).toContain('protected');
      expect(row).not.toContain('unprotected');
      expect(row).toContain(c.net.network);
    }
    const hostnet = await cts.locator('tbody tr', { hasText: HOSTNET }).innerText();
    expect(hostnet).toContain('unprotected');
    expect(hostnet).toContain('host network');
    await shot('coverage');
  }, 60_000);

  it('offers YAML for the probed service', async () => {
    await open('#/suggestions');
    const card = page.locator('li.suggestion', { hasText: `${LAN}` }).filter({ hasText: PROBER });
    await card.first().waitFor({ timeout: 15_000 }).catch(async (e: Error) => {
      throw new Error(`${e.message}\npage: ${await page.locator('main').innerText()}\n${daemonLog()}`);
    });
    const yaml = await card.first().locator('pre').innerText();
    expect(yaml).toContain(`to: ${LAN}`);
    expect(yaml).toContain('22/tcp');
    expect(yaml).toMatch(new RegExp(`from: \\{ ?container: ${PROBER} ?\\}`));
    await shot('suggestions');
  }, 60_000);

  it('answers in the explain box with the deciding entry', async () => {
    await open('#/policy');
    await page.getByText('Rendered rules (nftables)').waitFor({ timeout: 15_000 });
    expect(await page.locator('[aria-label="Policy file"]').innerText()).toContain('mode: audit');
    const from = page.getByLabel('From', { exact: true });
    const to = page.getByLabel('To', { exact: true });

    // Allowed by the policy's exception.
    await from.fill(PROBER);
    await to.fill(`${LAN}:5432/tcp`);
    await page.getByRole('button', { name: 'Explain' }).click();
    const result = page.locator('.explain-result');
    await result.getByText('allow #1', { exact: false }).first().waitFor({ timeout: 10_000 });
    expect(await result.innerText()).toContain('dashboard-policy.yaml');

    // Logged (audit), decided by 10.0.0.0/8, with the exception that would allow it.
    await from.fill(PROBER);
    await to.fill(`${LAN}:22/tcp`);
    await to.press('Enter');
    await result.getByText('logged (audit)').waitFor({ timeout: 10_000 });
    const t = await result.innerText();
    expect(t).toMatch(/Deciding entry\s+10\.0\.0\.0\/8/);
    expect(t).toContain(`from: { container: ${PROBER} }`);
    await shot('policy-explain');
  }, 60_000);

  it('saved a non-trivial screenshot of every view', () => {
    for (const name of SHOT_NAMES) {
      const file = join(SHOTS, `${name}.png`);
      expect(existsSync(file), `${file} exists`).toBe(true);
      const png = readFileSync(file);
      expect(png.subarray(1, 4).toString(), `${name}.png is a PNG`).toBe('PNG');
      // 1280 wide, at least 800 high; a blank or error page compresses to a few KB.
      expect(png.readUInt32BE(16), `${name}.png width`).toBe(1280);
      expect(png.readUInt32BE(20), `${name}.png height`).toBeGreaterThanOrEqual(800);
      expect(statSync(file).size, `${name}.png size`).toBeGreaterThan(30_000);
    }
  });

  it('ran without console errors, page errors or failed requests (CSP included), and left the root namespace alone', async () => {
    expect(problems).toEqual([]);
    expect(await rootNamespaceTraces(), "lanfence in the machine's own network namespace").toEqual([]);
    const s: DaemonState | null = await daemon!.status();
    expect(s?.failures ?? 0, daemonLog()).toBe(0);
  });
});
