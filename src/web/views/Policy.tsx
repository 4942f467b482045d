/** Policy: the applied policy and the rendered rules, and the explain box (from, to → verdict and deciding entry). */
import { useEffect, useState } from 'preact/hooks';
import type { Explanation, ExplainVerdict, PolicyInfo } from '../client/types.js';
import { withQuery } from '../client/client.js';
import { CopyButton } from '../components/CopyButton.js';
import { Badge, ErrorBox, Loader, Panel, type Tone } from '../components/ui.js';
import { entryText, originText } from '../format.js';
import { useApi } from '../hooks.js';
import { href } from '../router.js';

const VERDICT: Record<string, [Tone, string]> = {
  drop: ['bad', 'dropped'],
  log: ['warn', 'logged (audit)'],
  pass: ['good', 'passes'],
  'not-judged': ['muted', 'not judged'],
  // The words `lanfence explain --json` uses, should the daemon pass them through.
  dropped: ['bad', 'dropped'],
  rejected: ['bad', 'rejected'],
  logged: ['warn', 'logged (audit)'],
  allowed: ['good', 'allowed by an exception'],
  passes: ['good', 'passes'],
} satisfies Record<ExplainVerdict, [Tone, string]> & Record<string, [Tone, string]>;

export function ExplainResult({ e }: { e: Explanation }) {
  const [tone, text] = VERDICT[e.verdict] ?? ['muted', e.verdict];
  return (
    <div class="explain-result" role="status">
      <p class="verdict">
        <Badge tone={tone}>{text}</Badge>
        {e.action && <span class="muted"> action: {e.action}</span>}
      </p>
      <p>{e.reason}</p>
      <dl class="kv">
        {e.entry && [<dt key="et">Deciding entry</dt>, <dd key="ed" class="mono">{entryText(e.entry)}</dd>]}
        {e.exception && [
          <dt key="xt">Exception</dt>,
          <dd key="xd">
            {e.exception.text ?? (
              <>
                {`allow #${e.exception.index}`}
                {e.exception.comment && ` — ${e.exception.comment}`}
              </>
            )}
            <div class="muted small">{originText(e.exception.origin)}</div>
          </dd>,
        ]}
      </dl>
      {e.suggestion && (
        <div class="suggestion">
          <div class="panel-head">
            <h3>To allow it, add to <code>allow:</code></h3>
            <CopyButton text={e.suggestion} label="Copy YAML" />
          </div>
          <pre class="code" tabIndex={0}>
            <code>{e.suggestion}</code>
          </pre>
        </div>
      )}
    </div>
  );
}

export function ExplainBox({ from: initialFrom = '', to: initialTo = '' }: { from?: string; to?: string }) {
  const [from, setFrom] = useState(initialFrom);
  const [to, setTo] = useState(initialTo);
  const [asked, setAsked] = useState<string | null>(initialFrom && initialTo ? withQuery('explain', { from: initialFrom, to: initialTo }) : null);
  useEffect(() => {
    setFrom(initialFrom);
    setTo(initialTo);
    if (initialFrom && initialTo) setAsked(withQuery('explain', { from: initialFrom, to: initialTo }));
  }, [initialFrom, initialTo]);
  const answer = useApi<Explanation>(asked);

  return (
    <Panel title="Explain" id="pol-explain">
      <form
        class="explain-form"
        onSubmit={(ev) => {
          ev.preventDefault();
          if (!from.trim() || !to.trim()) return;
          const q = withQuery('explain', { from: from.trim(), to: to.trim() });
          if (q === asked) answer.reload();
          else setAsked(q);
          window.history.replaceState(window.history.state, '', href('policy', undefined, { from: from.trim(), to: to.trim() }));
        }}
      >
        <label class="field">
          <span>From</span>
          <input
            name="from"
            value={from}
            required
            placeholder="container, network or address"
            autocomplete="off"
            spellcheck={false}
            onInput={(e) => setFrom((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
        <span class="arrow" aria-hidden="true">
          →
        </span>
        <label class="field">
          <span>To</span>
          <input
            name="to"
            value={to}
            required
            placeholder="10.0.0.5:5432/tcp or host:53/udp"
            autocomplete="off"
            spellcheck={false}
            onInput={(e) => setTo((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
        <button type="submit" class="btn btn-primary">
          Explain
        </button>
      </form>
      {asked &&
        (answer.data ? (
          <ExplainResult e={answer.data} />
        ) : answer.error ? (
          <ErrorBox error={answer.error} />
        ) : (
          <p class="loading" role="status">
            Asking…
          </p>
        ))}
    </Panel>
  );
}

export function PolicyBody({ p }: { p: PolicyInfo }) {
  return (
    <>
      <Panel title="Applied policy" id="pol-text" actions={<CopyButton text={p.text} />}>
        <p class="muted small">
          <span class="mono">{p.file}</span> · sha256 <span class="mono">{p.hash.slice(0, 16)}</span>
        </p>
        <pre class="code tall" tabIndex={0} aria-label="Policy file">
          <code>{p.text}</code>
        </pre>
      </Panel>
      <Panel title={`Rendered rules (${p.backend})`} id="pol-rules" actions={<CopyButton text={p.rendered} />}>
        <pre class="code tall" tabIndex={0} aria-label="Rendered rules">
          <code>{p.rendered}</code>
        </pre>
      </Panel>
    </>
  );
}

export function PolicyView({ from, to }: { from?: string; to?: string }) {
  const state = useApi<PolicyInfo>('policy', 60_000);
  return (
    <>
      <ExplainBox from={from} to={to} />
      <Loader state={state}>{(p) => <PolicyBody p={p} />}</Loader>
    </>
  );
}
