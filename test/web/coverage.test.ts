// @vitest-environment jsdom
import { h } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CoverageView } from '../../src/web/views/Coverage.js';
import { mount, stubApi, text, unmount, waitFor } from './helpers.js';

afterEach(() => {
  unmount();
  vi.unstubAllGlobals();
});

describe('Coverage', () => {
  it('lists every network and container, protected or not, with the reason', async () => {
    stubApi();
    const root = await mount(h(CoverageView, {}));
    await waitFor(() => text(root).includes('Networks'));
    const [nets, cts] = [...root.querySelectorAll('table')];
    const netRows = [...nets.querySelectorAll('tbody tr')].map((r) => text(r));
    expect(netRows[0]).toBe("host host — not covered host network: its containers share the host's network stack off —");
    expect(netRows[1]).toBe("lan macvlan — not covered macvlan network: traffic bypasses the host's bridge and forward path off 192.168.1.0/24");
    // Docker's `none` network: no traffic, so not counted as a gap; after the gaps, before the covered ones.
    expect(netRows[2]).toBe('none null — nothing to filter no network: its containers have only loopback, nothing to filter off —');
    expect(netRows.slice(3)).toContain('shop_default bridge br-3f2a9c1d7e6b covered on 172.20.0.0/16, fd00:20::/64');
    const ctRows = [...cts.querySelectorAll('tbody tr')].map((r) => text(r));
    expect(ctRows[0]).toBe("netdata host unprotected host network: the container shares the host's network stack");
    expect(ctRows[1]).toContain('pihole lan unprotected macvlan network');
    expect(ctRows).toContain('web shop_default protected');
    expect(text(root.querySelector('.lede'))).toBe('6 networks 2 not covered · 6 containers 2 unprotected');
  });

  it('can show only the unprotected containers', async () => {
    stubApi();
    const root = await mount(h(CoverageView, {}));
    const box = await waitFor(() => root.querySelector<HTMLInputElement>('input[type=checkbox]'));
    await act(() => box.click());
    const names = [...root.querySelectorAll('table')[1].querySelectorAll('tbody tr td:first-child')].map((td) => text(td));
    expect(names).toEqual(['netdata', 'pihole']);
  });
});
