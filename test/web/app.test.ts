// @vitest-environment jsdom
import { h } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { captureToken, getToken } from '../../src/web/client/token.js';
import { App } from '../../src/web/app.js';
import { ago, clock, originText, target } from '../../src/web/format.js';
import { href, parseHash } from '../../src/web/router.js';
import { click, freezeClock, mount, NOW, stubApi, stubEventSource, text, unmount, waitFor } from './helpers.js';

beforeEach(() => {
  freezeClock();
  localStorage.clear();
  sessionStorage.clear();
  document.documentElement.removeAttribute('data-theme');
  window.history.replaceState(null, '', '/');
});
afterEach(() => {
  unmount();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

async function go(hash: string) {
  await act(() => {
    window.location.hash = hash;
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  });
}

describe('App shell', () => {
  it('has a tab per view, marks the current one, and moves between views by the address', async () => {
    stubApi();
    stubEventSource();
    const root = await mount(h(App, {}));
    const tabs = [...root.querySelectorAll<HTMLAnchorElement>('nav a')];
    expect(tabs.map((a) => [text(a), a.getAttribute('href')])).toEqual([
      ['Overview', '#/overview'],
      ['Live drops', '#/drops'],
      ['Containers', '#/containers'],
      ['Coverage', '#/coverage'],
      ['Suggestions', '#/suggestions'],
      ['Policy', '#/policy'],
    ]);
    expect(root.querySelector('[aria-current=page]')?.textContent).toBe('Overview');
    await waitFor(() => text(root).includes('nftables'));

    await go('#/coverage');
    expect(root.querySelector('[aria-current=page]')?.textContent).toBe('Coverage');
    expect(text(root.querySelector('h1'))).toBe('Coverage');
    expect(document.activeElement).toBe(root.querySelector('h1'));
    await waitFor(() => text(root).includes('macvlan'));
    expect(document.title).toBe('Coverage · lanfence');

    await go('#/containers/web');
    expect(text(root.querySelector('h1'))).toBe('Container web');
    await waitFor(() => text(root).includes('br-3f2a9c1d7e6b'));
  });

  it('toggles the theme: auto → light → dark → auto, and remembers it', async () => {
    stubApi();
    const root = await mount(h(App, {}));
    const btn = root.querySelector<HTMLButtonElement>('.theme-toggle')!;
    expect(btn.getAttribute('aria-label')).toMatch(/^Theme: auto, following the system \(light\)/);
    await click(btn);
    expect(document.documentElement.getAttribute('data-theme')).toBe('light');
    await click(btn);
    expect(document.documentElement.getAttribute('data-theme')).toBe('dark');
    expect(localStorage.getItem('lanfence.theme')).toBe('dark');
    await click(btn);
    expect(document.documentElement.hasAttribute('data-theme')).toBe(false);
    expect(localStorage.getItem('lanfence.theme')).toBeNull();
  });
});

describe('token', () => {
  it('is read once from ?token=, kept in sessionStorage and removed from the address', () => {
    window.history.replaceState(null, '', '/?token=abc%2Fdef&x=1#/drops');
    captureToken();
    expect(getToken()).toBe('abc/def');
    expect(window.location.search).toBe('?x=1');
    expect(window.location.hash).toBe('#/drops');
    window.history.replaceState(null, '', '/');
    captureToken();
    expect(getToken()).toBe('abc/def');
  });
});

describe('routes and formats', () => {
  it('parses and builds hash routes', () => {
    expect(parseHash('')).toMatchObject({ view: 'overview', param: undefined });
    expect(parseHash('#/containers/my%2Fapp')).toMatchObject({ view: 'containers', param: 'my/app' });
    expect(parseHash('#/policy?from=web&to=host%3A53%2Fudp').query.get('to')).toBe('host:53/udp');
    expect(parseHash('#/nonsense').view).toBe('overview');
    expect(href('containers', 'my/app')).toBe('#/containers/my%2Fapp');
    expect(href('drops', undefined, { container: '' })).toBe('#/drops');
  });

  it('formats destinations, ages and origins', () => {
    expect(target('fd00::5', 22, 'tcp')).toBe('[fd00::5]:22/tcp');
    expect(target('10.0.0.9', null, 'icmp')).toBe('10.0.0.9/icmp');
    expect(ago(NOW - 90_000, NOW)).toBe('2 min ago');
    expect(ago(new Date(NOW - 3 * 3600_000).toISOString(), NOW)).toBe('3 h ago');
    expect(clock(NOW - 2 * 86400_000, NOW)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(originText({ file: 'p.yaml', path: 'allow.0', pos: { line: 3, col: 5 } })).toBe('p.yaml:3:5 (allow.0)');
    expect(originText('label lanfence.allow on web')).toBe('label lanfence.allow on web');
  });
});
