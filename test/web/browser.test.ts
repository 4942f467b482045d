/**
 * The dashboard in a real browser: Debian's /usr/bin/chromium, driven by playwright-core, against the
 * mock server (test/web/mock-server.ts) on 127.0.0.1. Each view loads with fixture data, a drop pushed
 * on the SSE stream shows up in the live view, the explain box answers, the keyboard reaches every
 * tab; screenshots of each view (light and dark) go to test/web/screenshots/.
 *
 * The fixture data is richer than a lab run produces (a scan, a macvlan container, label exceptions,
 * days of history), and the mock answers without root. The same dashboard against the real daemon in
 * the lab, with real probes and kernel log lines, is test/lab/dashboard.test.ts.
 *
 * Skipped, with the reason printed, when chromium is not installed — except with CI=true, where that fails.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { CHROMIUM, haveChromium, launchBrowser } from '../support/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ROOT, startMockServer, type MockServer } from './mock-server.js';

const CI = process.env.CI === 'true';
const HERE = dirname(fileURLToPath(import.meta.url));
const SHOTS = join(HERE, 'screenshots');
const TOKEN = 'browser-test-token';
const have = haveChromium();
if (!have && !CI) console.log(`skipping the browser test: ${CHROMIUM} is missing (apt-get install chromium)`);


/** The views, where each lands, and a text of the fixture data that shows it loaded. */
const VIEWS = [
  { name: 'overview', hash: '#/overview', shows: 'OK: as applied' },
  { name: 'drops', hash: '#/drops', shows: '192.168.1.20:445/tcp' },
  { name: 'containers', hash: '#/containers', shows: '172.22.0.2' },
  { name: 'container', hash: '#/containers/web', shows: 'label lanfence.allow on web' },
  { name: 'coverage', hash: '#/coverage', shows: "host network: the container shares the host's network stack" },
  { name: 'suggestions', hash: '#/suggestions', shows: 'from: { container: billing }' },
  { name: 'policy', hash: '#/policy?from=web&to=192.168.1.20%3A445%2Ftcp', shows: 'Deciding entry' },
] as const;

describe.skipIf(!have && !CI)('dashboard in Chromium', () => {
  let server: MockServer;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  let problems: string[] = [];

  beforeAll(async () => {
    if (!have) throw new Error(`CI=true and ${CHROMIUM} is missing: install Debian's chromium package`);
    if (!existsSync(join(DEFAULT_ROOT, 'index.html'))) {
      const { build } = await import('vite');
      await build({ configFile: join(HERE, '../../vite.config.ts'), logLevel: 'warn' });
    }
    mkdirSync(SHOTS, { recursive: true });
    server = await startMockServer({ token: TOKEN });
    profile = mkdtempSync(join(tmpdir(), 'lanfence-chromium-'));
    ({ context, page, problems } = await launchBrowser(profile));
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  /** A full load (not a same-document hash change): the token stays, in this tab's sessionStorage. */
  async function fresh(p: Page, url: string) {
    await p.goto('about:blank');
    await p.goto(url);
  }

  it('takes the token from the address, then loads the overview with the mode', async () => {
    await page.goto(`${server.url}?token=${TOKEN}#/overview`);
    await page.getByText('OK: as applied').waitFor({ timeout: 15_000 });
    expect(new URL(page.url()).search).toBe('');
    expect(await page.locator('.stat', { hasText: 'Mode' }).innerText()).toContain('audit');
    expect(await page.locator('.stat', { hasText: 'Backend' }).innerText()).toContain('nftables');
    expect(await page.evaluate(() => sessionStorage.getItem('lanfence.token'))).toBe(TOKEN);
  }, 60_000);

  it('shows every view with data, in the light and the dark theme', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const v of VIEWS) {
        await fresh(page, `${server.url}${v.hash}`);
        await page.getByText(v.shows, { exact: false }).first().waitFor({ timeout: 15_000 });
        if (v.name === 'container') await page.locator('.chart-canvas canvas').first().waitFor({ timeout: 15_000 });
        await page.evaluate(() => document.fonts.ready);
        const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
        expect(bg === 'rgb(15, 19, 24)', `${v.name} ${scheme}: body background ${bg}`).toBe(scheme === 'dark');
        await page.screenshot({ path: join(SHOTS, `${v.name}-${scheme}.png`), fullPage: true });
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
  }, 120_000);

  it('shows a drop pushed on the stream within seconds, with the container name', async () => {
    await fresh(page, `${server.url}#/drops`);
    await page.getByText('● live').waitFor({ timeout: 10_000 });
    expect(server.streamClients()).toBeGreaterThan(0);
    const started = Date.now();
    server.pushDrop({ container: 'lab-probe', containerId: 'feedface0001', dst: '10.57.17.99', dport: 8443, time: Date.now() });
    const row = page.locator('tbody tr', { hasText: 'lab-probe' });
    await row.waitFor({ timeout: 5_000 });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await row.innerText()).toContain('10.57.17.99:8443/tcp');
    expect(await page.locator('tbody tr').first().innerText()).toContain('lab-probe');

    // paused: the next one waits
    await page.getByRole('button', { name: 'Pause' }).click();
    server.pushDrop({ container: 'lab-probe-2', containerId: 'feedface0002', dst: '10.57.17.98', dport: 22, time: Date.now() });
    await page.getByRole('button', { name: 'Resume (1 new)' }).waitFor({ timeout: 5_000 });
    expect(await page.locator('tbody tr', { hasText: 'lab-probe-2' }).count()).toBe(0);
    await page.getByRole('button', { name: 'Resume (1 new)' }).click();
    await page.locator('tbody tr', { hasText: 'lab-probe-2' }).waitFor({ timeout: 5_000 });

    // filtered by container
    await page.getByLabel('Container').selectOption('lab-probe');
    expect(await page.locator('tbody tr').count()).toBe(1);
  }, 60_000);

  it('answers in the explain box', async () => {
    await fresh(page, `${server.url}#/policy`);
    const from = page.getByLabel('From', { exact: true });
    const to = page.getByLabel('To', { exact: true });
    await from.fill('updater');
    await to.fill('host:2375/tcp');
    await page.getByRole('button', { name: 'Explain' }).click();
    const result = page.locator('.explain-result');
    await result.waitFor({ timeout: 10_000 });
    const t = await result.innerText();
    expect(t).toContain('logged (audit)');
    expect(t).toMatch(/Deciding entry\s+host/);
    expect(t).toContain('from: { container: updater }');

    await from.fill('grafana');
    await to.fill('192.168.1.10:9100/tcp');
    await to.press('Enter');
    await page.getByText('allow #2 — node exporter on the NAS').waitFor({ timeout: 10_000 });
  }, 60_000);

  it('is usable with the keyboard: every tab is reachable, focus is visible', async () => {
    await fresh(page, `${server.url}#/overview`);
    await page.getByText('OK: as applied').waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    const reached: string[] = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      const info = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement;
        const s = getComputedStyle(el);
        return { text: el.textContent, outline: s.outlineStyle, width: s.outlineWidth };
      });
      reached.push(info.text ?? '');
      expect(info.outline, `focus on ${info.text} is visible`).not.toBe('none');
    }
    expect(reached).toEqual(['Overview', 'Live drops', 'Containers', 'Coverage', 'Suggestions', 'Policy']);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Policy' }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('H1');
  }, 60_000);

  it('fits a phone', async () => {
    // A new tab: its sessionStorage is empty, so the token comes in the address again.
    const phone = await context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    for (const v of [VIEWS[0], VIEWS[1], VIEWS[3]]) {
      await fresh(phone, `${server.url}?token=${TOKEN}${v.hash}`);
      await phone.getByText(v.shows, { exact: false }).first().waitFor({ timeout: 15_000 });
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, `${v.name}: page wider than the phone`).toBeLessThanOrEqual(0);
      await phone.screenshot({ path: join(SHOTS, `phone-${v.name}-light.png`), fullPage: true });
    }
    await phone.close();
  }, 60_000);

  it('ran without console errors, page errors or failed requests (CSP included)', () => {
    expect(problems).toEqual([]);
  });
});
