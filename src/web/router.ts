/** Hash routes (`#/drops?container=web`): the daemon serves one page, and links keep working offline. */
import { useEffect, useState } from 'preact/hooks';

export type View = 'overview' | 'drops' | 'containers' | 'coverage' | 'suggestions' | 'policy';

export const VIEWS: { view: View; label: string }[] = [
  { view: 'overview', label: 'Overview' },
  { view: 'drops', label: 'Live drops' },
  { view: 'containers', label: 'Containers' },
  { view: 'coverage', label: 'Coverage' },
  { view: 'suggestions', label: 'Suggestions' },
  { view: 'policy', label: 'Policy' },
];

export interface Route {
  view: View;
  /** `#/containers/NAME`: the container's name. */
  param?: string;
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '');
  const [pathPart, queryPart = ''] = raw.split('?', 2);
  const [first = '', ...rest] = pathPart.split('/');
  const view = (VIEWS.some((v) => v.view === first) ? first : 'overview') as View;
  let param: string | undefined;
  if (rest.length && rest.join('/')) {
    try {
      param = decodeURIComponent(rest.join('/'));
    } catch {
      param = rest.join('/');
    }
  }
  return { view, param, query: new URLSearchParams(queryPart) };
}

export function href(view: View, param?: string, query?: Record<string, string | undefined>): string {
  let h = `#/${view}`;
  if (param) h += `/${encodeURIComponent(param)}`;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v) q.set(k, v);
    if ([...q.keys()].length) h += `?${q}`;
  }
  return h;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
