// @vitest-environment jsdom
import { h } from 'preact';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveDropsView, merge, MAX_ROWS } from '../../src/web/views/LiveDrops.js';
import { makeDrop, PRIVATE_10 } from './fixtures.js';
import { byText, click, freezeClock, mount, NOW, setValue, stubApi, stubEventSource, text, unmount, waitFor } from './helpers.js';

beforeEach(() => {
  freezeClock();
  sessionStorage.clear();
});
afterEach(() => {
  unmount();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

const rows = (root: HTMLElement) => [...root.querySelectorAll('tbody tr')] as HTMLElement[];

describe('Live drops', () => {
  it('shows the recent drops, then drops from the stream on top, with the container name', async () => {
    const { calls } = stubApi();
    const ES = stubEventSource();
    const root = await mount(h(LiveDropsView, null));
    await waitFor(() => rows(root).length === 18);
    expect(calls[0].url).toBe('/api/drops?limit=200');
    expect(text(rows(root)[0])).toContain('web');
    expect(text(rows(root)[0])).toContain('192.168.1.20:445/tcp');

    const es = ES.instances[0];
    expect(es.url).toBe('api/drops/stream');
    es.open();
    await waitFor(() => text(root).includes('● live'));
    es.emit('drop', makeDrop(NOW, 'billing', '10.99.0.7', 6379, 'tcp', PRIVATE_10, -1000));
    await waitFor(() => rows(root).length === 19);
    const top = rows(root)[0];
    expect(text(top)).toContain('billing');
    expect(text(top)).toContain('10.99.0.7:6379/tcp');
    expect(text(top)).toContain('10.0.0.0/8 (private, RFC 1918)');
    expect(top.classList.contains('fresh')).toBe(true);
    expect(top.querySelector('a[href="#/containers/billing"]')).not.toBeNull();
    expect(top.querySelector('a[href^="#/policy?"]')?.getAttribute('href')).toBe('#/policy?from=billing&to=10.99.0.7%3A6379%2Ftcp');
  });

  it('filters by container', async () => {
    stubApi();
    stubEventSource();
    const root = await mount(h(LiveDropsView, null));
    await waitFor(() => rows(root).length > 0);
    const select = root.querySelector('select')!;
    expect([...select.options].map((o) => o.value)).toEqual(['', 'billing', 'grafana', 'updater', 'web']);
    await setValue(select, 'updater');
    expect(rows(root).length).toBe(12);
    expect(rows(root).every((r) => r.dataset.container === 'updater')).toBe(true);
    expect(window.location.hash).toBe('#/drops?container=updater');
  });

  it('starts filtered when the route names a container', async () => {
    stubApi();
    stubEventSource();
    const root = await mount(h(LiveDropsView, { initialContainer: 'billing' }));
    await waitFor(() => rows(root).length === 3);
    expect(rows(root).every((r) => r.dataset.container === 'billing')).toBe(true);
  });

  it('pauses: new drops wait until resumed', async () => {
    stubApi();
    const ES = stubEventSource();
    const root = await mount(h(LiveDropsView, null));
    await waitFor(() => rows(root).length === 18);
    const pause = byText(root, 'Pause', 'button');
    await click(pause);
    expect(pause.getAttribute('aria-pressed')).toBe('true');
    ES.instances[0].emit('drop', makeDrop(NOW, 'grafana', '192.168.1.77', 161, 'udp', 'x', -1));
    await waitFor(() => text(root).includes('Resume (1 new)'));
    expect(rows(root).length).toBe(18);
    await click(byText(root, 'Resume (1 new)', 'button'));
    expect(rows(root).length).toBe(19);
    expect(text(rows(root)[0])).toContain('192.168.1.77:161/udp');
  });

  it('sends the token: Authorization on fetch, ?token= on the stream', async () => {
    sessionStorage.setItem('lanfence.token', 's3cr3t/+');
    const { calls } = stubApi();
    const ES = stubEventSource();
    await mount(h(LiveDropsView, null));
    await waitFor(() => calls.length > 0);
    expect(calls[0].headers.authorization).toBe('Bearer s3cr3t/+');
    expect(ES.instances[0].url).toBe('api/drops/stream?token=s3cr3t%2F%2B');
  });

  it('ignores malformed events and says when the stream is down', async () => {
    stubApi();
    const ES = stubEventSource();
    const root = await mount(h(LiveDropsView, null));
    await waitFor(() => rows(root).length === 18);
    const es = ES.instances[0];
    es.addEventListener('noop', () => {});
    (es as unknown as { listeners: Map<string, ((e: MessageEvent) => void)[]> }).listeners.get('drop')![0](new MessageEvent('drop', { data: '{not json' }));
    es.onerror?.(new Event('error'));
    await waitFor(() => text(root).includes('reconnecting…'));
    expect(rows(root).length).toBe(18);
  });

  it('merges without duplicates and keeps at most MAX_ROWS', () => {
    const a = makeDrop(NOW, 'web', '10.0.0.1', 80, 'tcp', 'e', 1);
    const b = makeDrop(NOW, 'web', '10.0.0.2', 80, 'tcp', 'e', 2);
    expect(merge([a], [a, b])).toEqual([a, b]);
    const many = Array.from({ length: MAX_ROWS + 50 }, (_, i) => makeDrop(NOW, 'web', '10.0.0.3', 80, 'tcp', 'e', i));
    expect(merge(many, []).length).toBe(MAX_ROWS);
  });
});
