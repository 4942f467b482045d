// @vitest-environment jsdom
import { h } from 'preact';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SuggestionsBody, SuggestionsView } from '../../src/web/views/Suggestions.js';
import { suggestions } from './fixtures.js';
import { click, freezeClock, mount, NOW, stubApi, text, unmount, waitFor } from './helpers.js';

beforeEach(() => freezeClock());
afterEach(() => {
  unmount();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe('Suggestions', () => {
  it('shows each suggestion with its YAML and copies it', async () => {
    stubApi();
    const writeText = vi.fn(async () => {});
    vi.stubGlobal('isSecureContext', true);
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    const root = await mount(h(SuggestionsView, {}));
    await waitFor(() => root.querySelectorAll('li.suggestion').length === 3);
    const [billing, , scan] = [...root.querySelectorAll<HTMLElement>('li.suggestion')];
    expect(text(billing.querySelector('h2'))).toBe('billing → 10.57.17.5 5432/tcp service');
    expect(billing.querySelector('pre')?.textContent).toBe(suggestions(NOW)[0].yaml);
    expect(text(billing)).toContain('23 attempts');
    expect(text(scan.querySelector('h2'))).toBe('updater scan');
    expect(scan.querySelector('.badge-bad')).not.toBeNull();

    await click(billing.querySelector('button')!);
    expect(writeText).toHaveBeenCalledWith(suggestions(NOW)[0].yaml);
    await waitFor(() => text(billing.querySelector('button')).startsWith('Copied'));

    const all = [...root.querySelectorAll('button')].find((b) => text(b) === 'Copy all')!;
    await click(all);
    expect(writeText).toHaveBeenLastCalledWith(suggestions(NOW).map((s) => s.yaml.trimEnd()).join('\n'));
  });

  it('falls back to a selection copy without the Clipboard API', async () => {
    vi.stubGlobal('isSecureContext', false);
    const exec = vi.fn(() => true);
    (document as unknown as { execCommand: unknown }).execCommand = exec;
    const root = await mount(h(SuggestionsBody, { list: suggestions(NOW).slice(0, 1) }));
    await click(root.querySelector('li button')!);
    await waitFor(() => exec.mock.calls.length === 1);
    expect(exec).toHaveBeenCalledWith('copy');
  });

  it('counts one attempt in the singular', async () => {
    const one = { ...suggestions(NOW)[0], count: 1 };
    const root = await mount(h(SuggestionsBody, { list: [one] }));
    expect(text(root.querySelector('li.suggestion'))).toMatch(/\b1 attempt ?, first/);
  });

  it('says when there is nothing to suggest', async () => {
    const root = await mount(h(SuggestionsBody, { list: [] }));
    expect(text(root)).toContain('No suggestions');
  });
});
