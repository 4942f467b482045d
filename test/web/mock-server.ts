/**
 * A stand-in for the daemon's web server: serves the built dashboard (dist/web) and the JSON API
 * (docs/api.md) from fixture data, with the live-drops SSE stream. For the browser test, and for
 * development: `npx tsx test/web/mock-server.ts [--port 9732] [--token T] [--demo]` (with --demo a
 * made-up drop arrives every 3 s; `npm run dev:web` proxies /api here).
 */
import { timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Drop } from '../../src/web/client/types.js';
import { makeDrop, PRIVATE_192 } from './fixtures.js';
import { handleApi, newState, type MockState } from './mock-api.js';

export const DEFAULT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/web');

/** The Content-Security-Policy the dashboard works under (the daemon should send the same). */
export const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

export interface MockOptions {
  host?: string;
  /** 0: any free port. */
  port?: number;
  /** Directory of the built dashboard. */
  root?: string;
  /** When set, the API requires `Authorization: Bearer <token>` (or `?token=` on the stream). */
  token?: string;
  now?: () => number;
}

export interface MockServer {
  url: string;
  state: MockState;
  /** Paths of the API requests received, in order. */
  requests: string[];
  /** Sends a drop on the SSE stream (and adds it to /api/drops); returns it as sent. */
  pushDrop(d?: Partial<Drop>): Drop;
  streamClients(): number;
  close(): Promise<void>;
}

function sameToken(given: string, want: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(want);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startMockServer(opts: MockOptions = {}): Promise<MockServer> {
  const root = resolve(opts.root ?? DEFAULT_ROOT);
  const state = newState(opts.now);
  const requests: string[] = [];
  const clients = new Set<ServerResponse>();

  const authorized = (req: IncomingMessage, url: URL): boolean => {
    if (!opts.token) return true;
    const h = req.headers.authorization ?? '';
    if (h.startsWith('Bearer ') && sameToken(h.slice(7), opts.token)) return true;
    return url.pathname.endsWith('/api/drops/stream') && sameToken(url.searchParams.get('token') ?? '', opts.token);
  };

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };

  const serveFile = (res: ServerResponse, pathname: string) => {
    let rel: string;
    try {
      rel = decodeURIComponent(pathname);
    } catch {
      return json(res, 400, { error: 'bad path' });
    }
    if (rel.endsWith('/')) rel += 'index.html';
    const file = normalize(join(root, rel));
    if (file !== root && !file.startsWith(root + sep)) return json(res, 403, { error: 'outside the web root' });
    if (!existsSync(file) || !statSync(file).isFile())
      return json(res, 404, { error: existsSync(root) ? 'not found' : `no dashboard build in ${root}: npm run build:web` });
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    const headers: Record<string, string> = { 'content-type': type, 'x-content-type-options': 'nosniff' };
    if (type.startsWith('text/html')) Object.assign(headers, { 'content-security-policy': CSP, 'cache-control': 'no-cache', 'referrer-policy': 'no-referrer' });
    else headers['cache-control'] = 'public, max-age=31536000, immutable';
    res.writeHead(200, headers);
    res.end(readFileSync(file));
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://mock');
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'read-only' });
    if (!url.pathname.startsWith('/api/')) return serveFile(res, url.pathname);
    requests.push(url.pathname + url.search.replace(/token=[^&]*/, 'token=…'));
    if (!authorized(req, url)) {
      res.setHeader('www-authenticate', 'Bearer');
      return json(res, 401, { error: 'token required' });
    }
    if (url.pathname === '/api/drops/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write('retry: 2000\n: connected\n\n');
      clients.add(res);
      const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
      req.on('close', () => {
        clearInterval(ping);
        clients.delete(res);
      });
      return;
    }
    const { status, body } = handleApi(url, state);
    json(res, status, body);
  });

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => ok());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;

  return {
    url: `http://${host}:${port}/`,
    state,
    requests,
    pushDrop(partial = {}) {
      const d: Drop = { ...makeDrop(state.now(), 'web', '192.168.1.20', 445, 'tcp', PRIVATE_192, 0), ...partial };
      state.drops.unshift(d);
      const frame = `event: drop\ndata: ${JSON.stringify(d)}\n\n`;
      for (const c of clients) c.write(frame);
      return d;
    },
    streamClients: () => clients.size,
    close() {
      for (const c of clients) c.end();
      clients.clear();
      server.closeAllConnections();
      return new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

// Standalone: a server to develop the dashboard against.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const srv = await startMockServer({ port: Number(arg('--port') ?? process.env.PORT ?? 9732), token: arg('--token') });
  console.log(`mock lanfence API and dashboard on ${srv.url}${arg('--token') ? `?token=${arg('--token')}` : ''}`);
  if (process.argv.includes('--demo')) {
    const who = ['web', 'billing', 'grafana', 'updater'];
    let n = 0;
    setInterval(() => {
      const c = who[n++ % who.length];
      srv.pushDrop(makeDrop(srv.state.now(), c, `192.168.1.${100 + (n % 50)}`, [22, 80, 443, 445, 9100][n % 5], 'tcp', PRIVATE_192, 0));
    }, 3000);
  }
  const stop = () => void srv.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
