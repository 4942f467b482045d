/** Small shared pieces: badges, panels, loading and error states. */
import type { ComponentChildren } from 'preact';
import type { Loaded } from '../hooks.js';
import { ApiError } from '../client/client.js';

export type Tone = 'good' | 'bad' | 'warn' | 'info' | 'muted';

export function Badge({ tone, children }: { tone: Tone; children: ComponentChildren }) {
  return <span class={`badge badge-${tone}`}>{children}</span>;
}

export function Panel({ title, children, actions, id }: { title: ComponentChildren; children: ComponentChildren; actions?: ComponentChildren; id?: string }) {
  return (
    <section class="panel" aria-labelledby={id}>
      <div class="panel-head">
        <h2 id={id}>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

export function ErrorBox({ error }: { error: Error }) {
  const unauthorized = error instanceof ApiError && error.status === 401;
  return (
    <div class="error" role="alert">
      <strong>{unauthorized ? 'Token required' : 'Could not load'}</strong>: {error.message}
    </div>
  );
}

/** Renders `children(data)` once loaded; a placeholder before, the error when there is no data. */
export function Loader<T>({ state, children }: { state: Loaded<T>; children: (data: T) => ComponentChildren }) {
  if (state.data !== undefined)
    return (
      <>
        {state.error && <ErrorBox error={state.error} />}
        {children(state.data)}
      </>
    );
  if (state.error) return <ErrorBox error={state.error} />;
  return (
    <p class="loading" role="status">
      Loading…
    </p>
  );
}

/** A horizontally scrollable table wrapper (phones), focusable so it can be scrolled with the keyboard. */
export function TableWrap({ label, children, wide }: { label: string; children: ComponentChildren; wide?: boolean }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={label}>
      <table class={wide ? 'wide' : undefined}>{children}</table>
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}
