/**
 * Live drops: the recent history (`api/drops`) followed by the Server-Sent Events stream
 * (`api/drops/stream`), newest first, filterable by container and pausable.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { apiGet, streamUrl, withQuery } from '../client/client.js';
import type { Drop } from '../client/types.js';
import { Badge, Empty, ErrorBox, TableWrap } from '../components/ui.js';
import { clock, count, dropTarget, toMs } from '../format.js';
import { href } from '../router.js';

export const MAX_ROWS = 500;
type Conn = 'connecting' | 'live' | 'reconnecting' | 'unsupported';

export function dropKey(d: Drop): string {
  return `${toMs(d.time)}|${d.containerId ?? d.container}|${d.src}|${d.dst}|${d.dport}|${d.proto}`;
}

/** Merges newer drops in front of older ones, newest first, without duplicates, at most MAX_ROWS. */
export function merge(newer: Drop[], older: Drop[]): Drop[] {
  const seen = new Set<string>();
  const out: Drop[] = [];
  for (const d of [...newer, ...older]) {
    const k = dropKey(d);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(d);
    if (out.length >= MAX_ROWS) break;
  }
  return out;
}

export function LiveDropsView({ initialContainer = '' }: { initialContainer?: string }) {
  const [drops, setDrops] = useState<Drop[]>([]);
  const [held, setHeld] = useState<Drop[]>([]);
  const [paused, setPaused] = useState(false);
  const [filter, setFilter] = useState(initialContainer);
  const [conn, setConn] = useState<Conn>('connecting');
  const [error, setError] = useState<Error | null>(null);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  useEffect(() => setFilter(initialContainer), [initialContainer]);

  // History first, then the stream; a drop seen by both is shown once.
  useEffect(() => {
    const ctl = new AbortController();
    apiGet<Drop[]>(withQuery('drops', { limit: 200 }), ctl.signal).then(
      (list) => setDrops((cur) => merge(cur, list)),
      (e: Error) => e.name !== 'AbortError' && setError(e),
    );
    if (typeof EventSource !== 'function') {
      setConn('unsupported');
      return () => ctl.abort();
    }
    const es = new EventSource(streamUrl());
    es.onopen = () => setConn('live');
    es.onerror = () => setConn(es.readyState === EventSource.CLOSED ? 'unsupported' : 'reconnecting');
    es.addEventListener('drop', (ev) => {
      let d: Drop;
      try {
        d = JSON.parse((ev as MessageEvent<string>).data) as Drop;
      } catch {
        return;
      }
      setConn('live');
      if (pausedRef.current) setHeld((h) => [d, ...h].slice(0, MAX_ROWS));
      else {
        setDrops((cur) => merge([d], cur));
        setFresh((f) => new Set([...f].slice(-50)).add(dropKey(d)));
      }
    });
    return () => {
      ctl.abort();
      es.close();
    };
  }, []);

  const resume = () => {
    setDrops((cur) => merge(held, cur));
    setFresh(new Set(held.map(dropKey)));
    setHeld([]);
    setPaused(false);
  };

  const containers = useMemo(() => [...new Set(drops.map((d) => d.container).filter((c): c is string => !!c))].sort(), [drops]);
  const shown = filter ? drops.filter((d) => d.container === filter) : drops;
  const heldShown = filter ? held.filter((d) => d.container === filter).length : held.length;

  return (
    <>
      <div class="toolbar">
        <label class="field">
          <span>Container</span>
          <select value={filter} onChange={(e) => {
              const c = (e.currentTarget as HTMLSelectElement).value;
              setFilter(c);
              window.history.replaceState(window.history.state, '', href('drops', undefined, { container: c }));
            }}>
            <option value="">all containers</option>
            {[...new Set([...containers, ...(filter ? [filter] : [])])].map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </label>
        <button type="button" class="btn" aria-pressed={paused} onClick={() => (paused ? resume() : setPaused(true))}>
          {paused ? `Resume${held.length ? ` (${count(held.length)} new)` : ''}` : 'Pause'}
        </button>
        <span class={`conn conn-${conn}`} role="status">
          {conn === 'live' ? (paused ? '● paused' : '● live') : conn === 'connecting' ? 'connecting…' : conn === 'reconnecting' ? 'reconnecting…' : 'stream unavailable'}
        </span>
        <span class="muted small">
          {count(shown.length)} shown{paused && heldShown ? `, ${count(heldShown)} waiting` : ''}
        </span>
      </div>
      {error && <ErrorBox error={error} />}
      {shown.length === 0 ? (
        <Empty>{filter ? `No drops from ${filter} yet.` : 'No drops yet. New ones appear here as they happen.'}</Empty>
      ) : (
        <TableWrap label="Drops, newest first" wide>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Container</th>
              <th scope="col">Destination</th>
              <th scope="col">Blocked by</th>
              <th scope="col">Path</th>
              <th scope="col">Mode</th>
              <th scope="col">
                <span class="sr-only">Explain</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {shown.map((d) => {
              const k = dropKey(d);
              return (
                <tr key={k} class={fresh.has(k) ? 'fresh' : undefined} data-container={d.container ?? ''}>
                  <td class="nowrap mono">{clock(d.time)}</td>
                  <td>
                    {d.container ? <a href={href('containers', d.container)}>{d.container}</a> : <span class="muted">{d.src}</span>}
                    {d.project && <div class="muted small">{d.project}</div>}
                  </td>
                  <td class="mono">
                    {dropTarget(d)}
                    <div class="muted small">from {d.src}</div>
                  </td>
                  <td>{d.entry ?? '—'}</td>
                  <td>{d.path === 'input' ? 'to host' : 'forward'}</td>
                  <td>
                    <Badge tone={d.mode === 'enforce' ? 'bad' : 'warn'}>{d.mode === 'enforce' ? 'dropped' : 'audit'}</Badge>
                  </td>
                  <td>
                    <a
                      class="small"
                      href={href('policy', undefined, { from: d.container ?? d.src, to: dropTarget(d) })}
                      aria-label={`Explain ${d.container ?? d.src} to ${dropTarget(d)}`}
                    >
                      explain
                    </a>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </TableWrap>
      )}
    </>
  );
}
