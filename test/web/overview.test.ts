// @vitest-environment jsdom
import { h } from 'preact';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OverviewBody, OverviewView } from '../../src/web/views/Overview.js';
import { overview } from './fixtures.js';
import { freezeClock, mount, NOW, stubApi, text, unmount, waitFor } from './helpers.js';

beforeEach(() => freezeClock());
afterEach(() => {
  unmount();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe('Overview', () => {
  it('shows backend, mode, applied time, rules state, drop counts and unprotected containers', async () => {
    const { calls } = stubApi();
    const root = await mount(h(OverviewView, {}));
    await waitFor(() => text(root).includes('nftables'));
    const t = text(root);
    expect(calls[0].url).toBe('/api/overview');
    expect(t).toContain('Backend nftables');
    expect(t).toMatch(/Mode audit logs, drops nothing/);
    expect(t).toContain('OK: as applied');
    expect(t).toContain('Drops, last hour 37');
    expect(t).toContain('Drops, last day 412');
    expect(t).toContain('pihole — macvlan network');
    expect(t).toContain("netdata — host network: the container shares the host's network stack");
    expect(root.querySelector('a[href="#/containers/pihole"]')).not.toBeNull();
    expect(t).toContain('Drift repairs 1');
    expect(t).toMatch(/Applied \d{4}-\d\d-\d\d \d\d:\d\d:\d\d 3 h ago/);
  });

  it('shows drift with the differences', async () => {
    const o = { ...overview(NOW), rules: 'drifted' as const, differences: ['chain forward lacks: ct state established,related accept'] };
    const root = await mount(h(OverviewBody, { o }));
    expect(text(root)).toContain('Drifted');
    expect(text(root)).toContain('chain forward lacks: ct state established,related accept');
    expect(root.querySelector('.badge-bad')).not.toBeNull();
  });

  it('says so when nothing is unprotected and Docker is down', async () => {
    const o = { ...overview(NOW), unprotected: [], docker: { up: false, since: null } };
    const root = await mount(h(OverviewBody, { o }));
    expect(text(root)).toContain('Every container is on a covered network.');
    expect(text(root)).toContain('unreachable');
  });

  it('explains a missing token', async () => {
    vi.stubGlobal('fetch', async () => new Response(JSON.stringify({ error: 'token required' }), { status: 401 }));
    const root = await mount(h(OverviewView, {}));
    const alert = await waitFor(() => root.querySelector('[role=alert]'));
    expect(text(alert)).toContain('Token required');
    expect(text(alert)).toContain('?token=');
  });

  it('says when the daemon cannot be reached', async () => {
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('fetch failed');
    });
    const root = await mount(h(OverviewView, {}));
    const alert = await waitFor(() => root.querySelector('[role=alert]'));
    expect(text(alert)).toContain('cannot reach the lanfence daemon');
  });
});
