/**
 * The access token: read once from `?token=` (then removed from the address bar so it is not
 * bookmarked or shared by accident), kept in sessionStorage for this tab only.
 */
const KEY = 'lanfence.token';

function storage(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

/** Moves `?token=` from the address into sessionStorage. Call once at start. */
export function captureToken(): void {
  const url = new URL(window.location.href);
  if (!url.searchParams.has('token')) return;
  const token = url.searchParams.get('token') ?? '';
  if (token) storage()?.setItem(KEY, token);
  url.searchParams.delete('token');
  window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
}

export function getToken(): string | null {
  return storage()?.getItem(KEY) || null;
}
