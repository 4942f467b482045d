/** The daemon's HTTP server: metrics that promtool accepts, token, SSE drops, static files, API. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Daemon, DaemonState } from '../../src/daemon/daemon.js';
import { DropFeed, MAX_RECENT, type AttributedDrop } from '../../src/daemon/drops.js';
import { createHttpServer, listen } from '../../src/daemon/http.js';
import { Metrics, MAX_CONTAINER_LABELS } from '../../src/daemon/metrics.js';
import { uncoveredReason, webApi } from '../../src/daemon/web-api.js';
import { policyHash, StateStore } from '../../src/state/store.js';
import { goldenInventory } from '../support/fixtures.js';

const state: DaemonState = {
  startedAt: '2026-11-29T00:00:00.000Z',
  backend: 'nftables',
  docker: { up: true, since: '2026-11-29T00:00:00.000Z' },
  applies: 3,
  setUpdates: 2,
  failures: 0,
  lastApply: { at: '2026-11-29T00:00:01.000Z', kind: 'sets', reason: 'docker: container start web' },
  lastCheck: { at: '2026-11-29T00:00:02.000Z', matches: true },
  repairs: [{ at: '2026-11-29T00:00:03.000Z', trigger: 'periodic check', differences: ['table inet lanfence is absent'], durationMs: 120 }],
  repairsTotal: 1,
  notes: [],
  addressesTracked: 4,
};
const fakeDaemon = { state, inventorySnapshot: () => goldenInventory() } as unknown as Daemon;

const drop = (i: number, container = 'web'): AttributedDrop => ({ time: Date.now(), container, src: '172.17.0.2', dst: '10.0.0.5', proto: 'tcp', dport: 5000 + i, entry: 'private (RFC 1918)', path: 'forward', mode: 'enforce' });

function server(token?: string) {
  const metrics = new Metrics();
  const drops = new DropFeed();
  const webDir = mkdtempSync(join(tmpdir(), 'lanfence-web-'));
  mkdirSync(join(webDir, 'assets'));
  writeFileSync(join(webDir, 'index.html'), '<!doctype html><title>lanfence</title>');
  writeFileSync(join(webDir, 'assets', 'app.js'), 'console.log(1)');
  const store = new StateStore(mkdtempSync(join(tmpdir(), 'lanfence-state-')));
  const s = createHttpServer({ metrics, beforeScrape: () => metrics.update(state), drops, api: webApi({ daemon: fakeDaemon, store, drops }), webDir, token });
  return { s, metrics, drops };
}

describe('daemon HTTP server', () => {
  const { s, metrics, drops } = server();
  let base = '';
  beforeAll(async () => {
    await listen(s, '127.0.0.1', 0);
    base = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    s.closeAllConnections();
    s.close();
  });

  it('serves metrics that promtool accepts', async () => {
    metrics.drops.inc({ container: metrics.containerLabel('web'), entry: 'private (RFC 1918)', proto: 'tcp', mode: 'enforce' });
    metrics.parserErrors.inc(2);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/lanfence_drops_total\{container="web",entry="private \(RFC 1918\)",proto="tcp",mode="enforce"\} 1/);
    expect(text).toMatch(/lanfence_rules_state\{state="applied"\} 1/);
    expect(text).toMatch(/lanfence_drift_repairs_total 1/);
    expect(text).toMatch(/lanfence_applies_total\{kind="sets"\} 2/);
    expect(text).toMatch(/lanfence_log_parse_errors_total 2/);
    const out = execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(out).toBe('');
  });

  it('bounds the container label cardinality', () => {
    const m = new Metrics();
    for (let i = 0; i < MAX_CONTAINER_LABELS + 50; i++) m.containerLabel(`c${i}`);
    expect(m.containerLabel('one-more')).toBe('other');
    expect(m.containerLabel('c0')).toBe('c0');
  });

  it('streams drops over SSE, filtered by container', async () => {
    const res = await fetch(`${base}/api/drops/stream?container=web`);
    const reader = res.body!.getReader();
    setTimeout(() => {
      drops.push(drop(1, 'other'));
      drops.push(drop(2, 'web'));
    }, 50);
    let text = '';
    while (!text.includes('event: drop')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    expect(text).toContain('"container":"web"');
    expect(text).not.toContain('"container":"other"');
  });

  it('answers the JSON API', async () => {
    const o = await (await fetch(`${base}/api/overview`)).json();
    expect(o).toMatchObject({ backend: 'nftables', rules: 'absent', docker: { up: true }, daemon: { applies: 3, repairs: 1 } });
    const cov = await (await fetch(`${base}/api/coverage`)).json();
    expect(cov.networks.find((n: { name: string }) => n.name === 'lan')).toMatchObject({ driver: 'macvlan', covered: false, reason: "macvlan network: traffic bypasses the host's bridge and forward path" });
    for (const n of cov.networks as { covered: boolean; reason?: string }[]) expect(n.covered || !!n.reason, JSON.stringify(n)).toBe(true);
    const recent = await (await fetch(`${base}/api/drops?container=web`)).json();
    expect(recent[0]).toMatchObject({ container: 'web', dport: 5002 });
    expect((await fetch(`${base}/api/nope`)).status).toBe(404);
    expect((await fetch(`${base}/api/overview`, { method: 'POST' })).status).toBe(405);
  });

  it('serves the dashboard, never outside its directory', async () => {
    expect(await (await fetch(`${base}/assets/app.js`)).text()).toBe('console.log(1)');
    expect(await (await fetch(`${base}/containers/web`)).text()).toContain('<title>lanfence</title>');
    const evil = await fetch(`${base}/..%2f..%2fetc%2fpasswd`);
    expect(await evil.text()).not.toContain('root:');
  });

  it('lists the exceptions of a container as docs/api.md words them (the index apart from the text)', async () => {
    const store = new StateStore(mkdtempSync(join(tmpdir(), 'lanfence-state-')));
    const policyText = 'mode: audit\nallow:\n  - to: 192.168.1.10\n    from: { container: web }\n    comment: NAS\n';
    store.recordApplied({ backend: 'nftables', mode: 'audit', appliedAt: '2026-11-29T00:00:00.000Z', policyFile: '/etc/lanfence/policy.yaml', policyText, policyHash: policyHash(policyText), rendered: { text: '' } as never, interfaces: ['docker0', 'br-*'], version: '0' });
    const api = webApi({ daemon: fakeDaemon, store, drops: new DropFeed() });
    const web = (await api.containers(new URLSearchParams(), 'web')) as { exceptions: { index: number; text: string; origin: { path: string } }[] };
    expect(web.exceptions).toEqual([{ index: 1, text: 'container web → 192.168.1.10 all ports (NAS)', origin: expect.objectContaining({ path: 'allow.0' }) }]);
  });

  it("the explain box knows the host's own addresses (the daemon runs on the host)", async () => {
    const store = new StateStore(mkdtempSync(join(tmpdir(), 'lanfence-state-')));
    const policyText = 'mode: enforce\n';
    store.recordApplied({ backend: 'nftables', mode: 'enforce', appliedAt: '2026-11-29T00:00:00.000Z', policyFile: '/etc/lanfence/policy.yaml', policyText, policyHash: policyHash(policyText), rendered: { text: '' } as never, interfaces: ['docker0', 'br-*'], version: '0' });
    const ask = (hostAddresses: string[]) =>
      webApi({ daemon: fakeDaemon, store, drops: new DropFeed(), hostAddresses: () => hostAddresses }).explain!(new URLSearchParams({ from: 'web', to: '192.168.7.77:22' }), '') as Promise<{ packet: { path: string }; to: { description: string } }>;
    expect((await ask([])).packet.path).toBe('forward');
    const x = await ask(['192.168.7.77']);
    expect(x.packet.path).toBe('input');
    expect(x.to.description).toBe('the host itself (one of its own addresses)');
  });

  it('says why a network is not covered; Docker\'s none network has nothing to filter', () => {
    expect(uncoveredReason({ driver: 'null' }, [])).toBe('no network: its containers have only loopback, nothing to filter');
    expect(uncoveredReason({ driver: 'host' }, [])).toBe("host network: its containers share the host's network stack");
    expect(uncoveredReason({ driver: 'ipvlan' }, [])).toContain('ipvlan network');
    expect(uncoveredReason({ driver: 'overlay' }, [])).toBe('overlay network without a Linux bridge the rules could judge');
    expect(uncoveredReason({ driver: 'bridge', bridge: 'apps0' }, ['docker0', 'br-*'])).toBe('bridge apps0 matches none of the judged interfaces (docker0, br-*)');
  });

  it("serves the dashboard's assets when its directory is given with a trailing slash (as the daemon does)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lanfence-web-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>lanfence</title>');
    writeFileSync(join(dir, 'assets', 'index.css'), 'body{}');
    const s2 = createHttpServer({ metrics: new Metrics(), drops: new DropFeed(), api: {}, webDir: `${dir}/` });
    await listen(s2, '127.0.0.1', 0);
    try {
      const url = `http://127.0.0.1:${(s2.address() as AddressInfo).port}`;
      const css = await fetch(`${url}/assets/index.css`);
      expect(css.status).toBe(200);
      expect(css.headers.get('content-type')).toBe('text/css');
      expect(await css.text()).toBe('body{}');
      expect(await (await fetch(`${url}/`)).text()).toContain('<title>lanfence</title>');
      expect(await (await fetch(`${url}/..%2f..%2fetc%2fpasswd`)).text()).not.toContain("root:");
    } finally {
      s2.closeAllConnections();
      s2.close();
    }
  });

  it('keeps the recent drops bounded', () => {
    const feed = new DropFeed();
    for (let i = 0; i < MAX_RECENT + 500; i++) feed.push(drop(i));
    expect(feed.recent({ limit: MAX_RECENT * 2 })).toHaveLength(MAX_RECENT);
    expect(feed.recent({ limit: 1 })[0].dport).toBe(5000 + MAX_RECENT + 499);
  });
});

describe('daemon HTTP server with a token', () => {
  const { s } = server('s3cret');
  let base = '';
  beforeAll(async () => {
    await listen(s, '127.0.0.1', 0);
    base = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  });
  afterAll(() => s.close());
  it('refuses without the token, accepts Bearer and ?token=', async () => {
    expect((await fetch(`${base}/api/overview`)).status).toBe(401);
    expect((await fetch(`${base}/api/overview`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${base}/api/overview`, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
    expect((await fetch(`${base}/metrics?token=s3cret`)).status).toBe(401);
    // the page and its assets carry no data: they load without the token
    expect((await fetch(`${base}/`)).status).toBe(200);
    expect((await fetch(`${base}/assets/app.js`)).status).toBe(200);
  });
});
