/**
 * Debian's Chromium, headless, driven by playwright-core: what the browser tests share (the mock
 * server's in test/web, the lab daemon's in test/lab). Problems the page reports (console errors,
 * page errors, failed requests other than the SSE stream being cut) are collected for the tests.
 */
import { existsSync } from 'node:fs';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const haveChromium = (): boolean => existsSync(CHROMIUM);

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // The browser resolves no names: it only ever talks to a server on loopback.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** What the page reported so far. */
  problems: string[];
}

/** Launches Chromium (or `executablePath`, e.g. a wrapper entering a namespace) at 1280×800, light, reduced motion. */
export async function launchBrowser(profileDir: string, executablePath: string = CHROMIUM): Promise<Browser> {
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 800 },
    colorScheme: 'light',
    reducedMotion: 'reduce',
    timeout: 60_000,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (q) => !q.url().includes('/api/drops/stream') && problems.push(`request failed: ${q.url()} (${q.failure()?.errorText})`));
  return { context, page, problems };
}
