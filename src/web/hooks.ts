import { useCallback, useEffect, useState } from 'preact/hooks';
import { apiGet } from './client/client.js';

export interface Loaded<T> {
  data?: T;
  error?: Error;
  loading: boolean;
  reload: () => void;
}

/** Fetches `api/<path>` (null: nothing), again every `refreshMs` when given; keeps the last data while reloading. */
export function useApi<T>(path: string | null, refreshMs?: number): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean; path: string | null }>({ loading: path !== null, path });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((n) => n + 1), []);

  useEffect(() => {
    if (path === null) return;
    const ctl = new AbortController();
    setState((s) => (s.path === path ? { ...s, loading: true } : { loading: true, path }));
    apiGet<T>(path, ctl.signal).then(
      (data) => !ctl.signal.aborted && setState({ data, loading: false, path }),
      (error: Error) => !ctl.signal.aborted && setState((s) => ({ data: s.path === path ? s.data : undefined, error, loading: false, path })),
    );
    return () => ctl.abort();
  }, [path, tick]);

  useEffect(() => {
    if (!refreshMs || path === null) return;
    const id = setInterval(() => {
      if (document.visibilityState !== 'hidden') reload();
    }, refreshMs);
    return () => clearInterval(id);
  }, [refreshMs, path, reload]);

  const current = state.path === path;
  return { data: current ? state.data : undefined, error: current ? state.error : undefined, loading: current ? state.loading : true, reload };
}
