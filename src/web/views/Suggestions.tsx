/** Suggestions: what audit mode saw, as exceptions ready to paste into the policy's `allow:` list. */
import type { Suggestion } from '../client/types.js';
import { CopyButton } from '../components/CopyButton.js';
import { Badge, Empty, Loader } from '../components/ui.js';
import { ago, counted, dateTime } from '../format.js';
import { useApi } from '../hooks.js';
import { href } from '../router.js';

export function SuggestionsBody({ list }: { list: Suggestion[] }) {
  if (!list.length) return <Empty>No suggestions: nothing was blocked that looks like a service a container needs.</Empty>;
  const all = list.map((s) => s.yaml.trimEnd()).join('\n');
  return (
    <>
      <div class="toolbar">
        <p class="muted">
          Each suggestion is an exception for the policy's <code>allow:</code> list. Review before adding: a <em>scan</em> is more likely
          an attack than a need.
        </p>
        <CopyButton text={all} label="Copy all" />
      </div>
      <ul class="cards">
        {list.map((s, i) => (
          <li class="panel suggestion" key={`${s.container}-${i}`}>
            <div class="panel-head">
              <h2>
                <a href={href('containers', s.container)}>{s.container}</a>
                {s.target ? <span class="mono target"> → {s.target}</span> : null}{' '}
                <Badge tone={s.kind === 'scan' ? 'bad' : 'info'}>{s.kind}</Badge>
              </h2>
              <CopyButton text={s.yaml} label="Copy YAML" />
            </div>
            <p class="muted small">
              {counted(s.count, 'attempt')}, first {dateTime(s.first)}, last {ago(s.last)}
            </p>
            <pre class="code" tabIndex={0}>
              <code>{s.yaml}</code>
            </pre>
          </li>
        ))}
      </ul>
    </>
  );
}

export function SuggestionsView() {
  const state = useApi<Suggestion[]>('suggestions', 60_000);
  return <Loader state={state}>{(l) => <SuggestionsBody list={l} />}</Loader>;
}
