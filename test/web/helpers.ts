/** For the component tests (jsdom): mount a view, answer its fetches from fixtures, fake EventSource. */
import { render, type VNode } from 'preact';
import { act } from 'preact/test-utils';
import { vi } from 'vitest';
import { handleApi, newState, type MockState } from './mock-api.js';

export const NOW = Date.UTC(2026, 10, 29, 12, 0, 0);

export interface FetchCall {
  url: string;
  headers: Record<string, string>;
}

/** Stubs fetch with the mock API; returns the state (to add drops) and the calls made. */
export function stubApi(now = NOW): { state: MockState; calls: FetchCall[] } {
  const state = newState(() => now);
  const calls: FetchCall[] = [];
  vi.stubGlobal('fetch', async (input: string, init?: RequestInit) => {
    const url = new URL(String(input), 'http://dashboard.test/');
    calls.push({ url: url.pathname + url.search, headers: { ...((init?.headers as Record<string, string>) ?? {}) } });
    const { status, body } = handleApi(url, state);
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  });
  return { state, calls };
}

export class FakeEventSource {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  static instances: FakeEventSource[] = [];
  readyState = 0;
  onopen: ((ev: Event) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  private listeners = new Map<string, ((ev: MessageEvent) => void)[]>();
  constructor(readonly url: string) {
    FakeEventSource.instances.push(this);
  }
  addEventListener(type: string, fn: (ev: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  removeEventListener() {}
  close() {
    this.readyState = 2;
  }
  open() {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  emit(type: string, data: unknown) {
    const ev = new MessageEvent(type, { data: JSON.stringify(data) });
    for (const fn of this.listeners.get(type) ?? []) fn(ev);
  }
}

export function stubEventSource(): typeof FakeEventSource {
  FakeEventSource.instances = [];
  vi.stubGlobal('EventSource', FakeEventSource);
  return FakeEventSource;
}

let mounted: HTMLElement | null = null;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function mount(vnode: VNode<any>): Promise<HTMLElement> {
  unmount();
  const root = document.createElement('div');
  document.body.appendChild(root);
  mounted = root;
  await act(() => render(vnode, root));
  return root;
}

export function unmount(): void {
  if (!mounted) return;
  render(null, mounted);
  mounted.remove();
  mounted = null;
}

/** Polls `check` (which throws or returns false until ready), letting effects and fetches run. */
export async function waitFor<T>(check: () => T, timeoutMs = 2000): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = check();
      if (v !== false && v !== null && v !== undefined) return v as NonNullable<T>;
      last = new Error('condition is false');
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw last;
    await act(() => new Promise((r) => setTimeout(r, 10)));
  }
}

/** The text of `el`, its text nodes joined by spaces (as a reader would see separate cells and labels). */
export function text(el: Node | null | undefined): string {
  if (!el) return '';
  const parts: string[] = [];
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) parts.push(n.nodeValue ?? '');
  return parts.join(' ').replace(/\s+/g, ' ').trim();
}

/** Freezes Date (only Date: timers keep running) at NOW. */
export function freezeClock(now = NOW): void {
  vi.useFakeTimers({ toFake: ['Date'], now });
}

/** The element whose own text (trimmed) is `t`. */
export function byText(root: ParentNode, t: string, selector = '*'): HTMLElement {
  const el = [...root.querySelectorAll<HTMLElement>(selector)].find((e) => text(e) === t);
  if (!el) throw new Error(`no ${selector} with text "${t}"`);
  return el;
}

export async function click(el: Element): Promise<void> {
  await act(() => {
    (el as HTMLElement).click();
  });
}

/** Sets an input's value and fires `input` (or `change` for selects and checkboxes). */
export async function setValue(el: HTMLInputElement | HTMLSelectElement, value: string): Promise<void> {
  await act(() => {
    el.value = value;
    el.dispatchEvent(new Event(el instanceof HTMLSelectElement ? 'change' : 'input', { bubbles: true }));
  });
}
