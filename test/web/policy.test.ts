// @vitest-environment jsdom
import { h } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ExplainResult, PolicyView } from '../../src/web/views/Policy.js';
import { policy } from './fixtures.js';
import { mount, setValue, stubApi, text, unmount, waitFor } from './helpers.js';

afterEach(() => {
  unmount();
  vi.unstubAllGlobals();
  window.location.hash = '';
});

async function ask(root: HTMLElement, from: string, to: string) {
  await setValue(root.querySelector<HTMLInputElement>('input[name=from]')!, from);
  await setValue(root.querySelector<HTMLInputElement>('input[name=to]')!, to);
  await act(() => {
    root.querySelector('form')!.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true }));
  });
}

describe('Policy', () => {
  it('shows the applied policy and the rendered rules', async () => {
    stubApi();
    const root = await mount(h(PolicyView, null));
    await waitFor(() => text(root).includes('Rendered rules'));
    const [pol, rules] = [...root.querySelectorAll('pre')];
    expect(pol.textContent).toBe(policy.text);
    expect(rules.textContent).toBe(policy.rendered);
    expect(text(root)).toContain('Rendered rules (nftables)');
    expect(text(root)).toContain('/etc/lanfence/policy.yaml · sha256 6b29eb5c0181e986');
  });

  it('explains: verdict, deciding entry and the exception that would allow it', async () => {
    const { calls } = stubApi();
    const root = await mount(h(PolicyView, null));
    await ask(root, 'web', '192.168.1.20:445/tcp');
    const result = await waitFor(() => root.querySelector('.explain-result'));
    expect(calls.map((c) => c.url)).toContain('/api/explain?from=web&to=192.168.1.20%3A445%2Ftcp');
    expect(text(result)).toContain('logged (audit) action: drop');
    expect(text(result)).toContain('Deciding entry 192.168.0.0/16 (private, RFC 1918)');
    expect(result.querySelector('pre')?.textContent).toBe('- to: 192.168.1.20\n  ports: [445/tcp]\n  from: { container: web }\n  comment: "web → 192.168.1.20:445/tcp"');
    expect(window.location.hash).toBe('#/policy?from=web&to=192.168.1.20%3A445%2Ftcp');
  });

  it('names the exception that allows a connection, with its origin', async () => {
    stubApi();
    const root = await mount(h(PolicyView, { from: 'grafana', to: '192.168.1.10:9100/tcp' }));
    const result = await waitFor(() => root.querySelector('.explain-result'));
    expect(text(result)).toContain('passes');
    expect(text(result)).toContain('Exception allow #2 — node exporter on the NAS /etc/lanfence/policy.yaml:12:5 (allow.1)');
    expect(root.querySelector<HTMLInputElement>('input[name=from]')!.value).toBe('grafana');
  });

  it('shows the error for bad input', async () => {
    stubApi();
    const root = await mount(h(PolicyView, null));
    await ask(root, 'nosuch', '10.0.0.1');
    const alert = await waitFor(() => root.querySelector('.explain-form ~ [role=alert]'));
    expect(text(alert)).toContain('"nosuch" is not a container, network or address');
  });

  it('renders the answer shapes `lanfence explain --json` prints', async () => {
    const root = await mount(
      h(ExplainResult, {
        e: {
          verdict: 'logged' as never,
          action: 'drop',
          reason: 'host (an address of the host itself): audit mode logs and passes',
          entry: { kind: 'host', text: 'host: every address of the host itself (protect.host, input path)' },
          exception: null,
          suggestion: null,
        },
      }),
    );
    expect(text(root)).toContain('logged (audit)');
    expect(text(root)).toContain('Deciding entry host: every address of the host itself');
    const r2 = await mount(
      h(ExplainResult, {
        e: { verdict: 'pass', reason: 'allowed', exception: { index: 2, text: 'allow #2: container grafana → 192.168.1.10 9100/tcp', origin: { file: 'p.yaml', line: 12, col: 5, path: 'allow.1' } } },
      }),
    );
    expect(text(r2)).toContain('allow #2: container grafana → 192.168.1.10 9100/tcp p.yaml:12:5 (allow.1)');
  });
});
