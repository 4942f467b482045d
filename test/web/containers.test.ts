// @vitest-environment jsdom
import { h } from 'preact';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { summary, xRange } from '../../src/web/components/Chart.js';
import { ContainersView } from '../../src/web/views/Containers.js';
import { freezeClock, mount, NOW, stubApi, text, unmount, waitFor } from './helpers.js';

// uPlot needs a real canvas: record what the chart is given instead.
const charts = vi.hoisted(() => [] as { opts: { series: unknown[] }; data: number[][] }[]);
vi.mock('uplot', () => {
  class FakePlot {
    static paths = { bars: () => () => null };
    constructor(opts: { series: unknown[] }, data: number[][], el: HTMLElement) {
      charts.push({ opts, data });
      el.appendChild(document.createElement('canvas'));
    }
    setSize() {}
    destroy() {}
  }
  return { default: FakePlot };
});

beforeEach(() => {
  freezeClock();
  charts.length = 0;
});
afterEach(() => {
  unmount();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe('Containers', () => {
  it('lists the containers with their networks and links to each', async () => {
    stubApi();
    const root = await mount(h(ContainersView, null));
    await waitFor(() => root.querySelectorAll('tbody tr').length === 6);
    const names = [...root.querySelectorAll('tbody tr td:first-child a')].map((a) => a.textContent);
    expect(names).toEqual(['billing', 'grafana', 'netdata', 'pihole', 'updater', 'web']);
    expect(root.querySelector('a[href="#/containers/web"]')).not.toBeNull();
    expect(text(root)).toContain('shop_default');
    expect(text(root)).toContain('172.20.0.2, fd00:20::2');
  });

  it('shows one container: a chart over 24 h, destinations, exceptions with their origin, networks', async () => {
    const { calls } = stubApi();
    const root = await mount(h(ContainersView, { name: 'web' }));
    await waitFor(() => text(root).includes('Destinations'));
    expect(calls.map((c) => c.url)).toEqual(['/api/containers/web']);
    const t = text(root);
    // destinations, most attempts first
    expect(t).toContain('192.168.1.20:445/tcp');
    expect(t).toContain('172.20.0.1:2375/tcp host');
    // exceptions: from the policy file (file:line:col) and from the container's label
    expect(t).toContain('allow #1 every container → 10.57.17.53 53/tcp, 53/udp (LAN DNS resolver)');
    expect(t).toContain('/etc/lanfence/policy.yaml:9:5 (allow.0)');
    expect(t).toContain('allow #4 container web → 10.57.17.5 5432/tcp');
    expect(t).toContain('label lanfence.allow on web (lanfence.allow)');
    // networks
    expect(t).toContain('shop_default br-3f2a9c1d7e6b 172.20.0.2 fd00:20::2');
    // labels, folded
    expect(root.querySelector('details summary')?.textContent).toBe('Labels (3)');
    // the chart: 288 five-minute buckets
    await waitFor(() => charts.length === 1);
    expect(charts[0].data[0].length).toBe(288);
    expect(charts[0].data[0][1] - charts[0].data[0][0]).toBe(300);
    expect(root.querySelector('figure')?.getAttribute('aria-label')).toBe('Drop attempts of web over the last 24 hours');
    expect(text(root.querySelector('figcaption'))).toMatch(/^\d[\d,]* drop attempts; busiest 5 minutes at /);
    // explain links
    expect(root.querySelector('a[href="#/policy?from=web&to=192.168.1.20%3A445%2Ftcp"]')).not.toBeNull();
    expect(root.querySelector('a[href="#/drops?container=web"]')).not.toBeNull();
  });

  it('says so for an unknown container', async () => {
    stubApi();
    const root = await mount(h(ContainersView, { name: 'ghost' }));
    const alert = await waitFor(() => root.querySelector('[role=alert]'));
    expect(text(alert)).toContain('no container "ghost"');
  });

  it('summarises a quiet series', () => {
    expect(summary([{ t: NOW, count: 0 }])).toBe('No drop attempts in this period.');
    expect(summary([{ t: NOW, count: 1 }])).toMatch(/^1 drop attempt; busiest/);
    // Buckets are drawn from their start; the range ends where the newest bucket ends, so it shows whole.
    expect(xRange([0, 300, 600])).toEqual([0, 900]);
    expect(xRange([600])).toEqual([600, 900]);
  });
});
