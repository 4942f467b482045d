/** GET requests against the daemon's JSON API (same origin, relative paths so a path prefix works). */
import { getToken } from './token.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function headers(): Record<string, string> {
  const token = getToken();
  return token ? { authorization: `Bearer ${token}`, accept: 'application/json' } : { accept: 'application/json' };
}

/** `path` like `overview` or `drops?limit=10`, relative to `api/`. */
export async function apiGet<T>(path: string, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`api/${path}`, { headers: headers(), signal });
  } catch (e) {
    if ((e as Error)?.name === 'AbortError') throw e;
    throw new ApiError(0, 'cannot reach the lanfence daemon');
  }
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`.trim();
    try {
      const body = (await res.json()) as { error?: string };
      if (body?.error) message = body.error;
    } catch {
      /* not JSON */
    }
    if (res.status === 401) message = 'this dashboard needs a token: open it as …/?token=YOUR_TOKEN';
    throw new ApiError(res.status, message);
  }
  return (await res.json()) as T;
}

/** The URL of the Server-Sent Events stream (EventSource cannot send headers: the token goes in the query). */
export function streamUrl(): string {
  const token = getToken();
  return token ? `api/drops/stream?token=${encodeURIComponent(token)}` : 'api/drops/stream';
}

/** Builds `name?k=v&…`, leaving out empty values. */
export function withQuery(path: string, query: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
