/**
 * The daemon's HTTP server on 127.0.0.1:9731: Prometheus /metrics, the read-only JSON API the
 * dashboard uses (docs/api.md), the live drop stream (SSE) and the dashboard's static assets.
 * Binding anything but loopback requires a token, compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { DropFeed } from './drops.js';
import type { Metrics } from './metrics.js';

export const DEFAULT_HTTP = '127.0.0.1:9731';

export type ApiHandler = (query: URLSearchParams, rest: string) => unknown | Promise<unknown>;

export interface HttpDeps {
  metrics: Metrics;
  /** Called before each scrape to refresh gauges. */
  beforeScrape?: () => void;
  drops: DropFeed;
  /**
   * `/api/<name>` handlers; a thrown HttpError becomes its status. Or a function that loads them,
   * called on the first `/api/` request (the daemon loads the JSON API, and explain and the CLI
   * modules behind it, only when the dashboard asks).
   */
  api: Record<string, ApiHandler> | (() => Promise<Record<string, ApiHandler>>);
  /** Directory of the built dashboard (dist/web). */
  webDir?: string;
  token?: string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.json': 'application/json', '.png': 'image/png', '.ico': 'image/x-icon', '.woff2': 'font/woff2' };

export const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || host.startsWith('127.');

export function parseListen(text: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text);
  if (!m || Number(m[2]) > 65535) throw new Error(`expected HOST:PORT, got "${text}"`);
  return { host: m[1], port: Number(m[2]) };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Constant-time token check for data (/api/*, /metrics): Authorization: Bearer, or ?token= on the
 * drop stream only (EventSource cannot set headers). The dashboard's own files hold no data.
 */
export function authorized(req: IncomingMessage, url: URL, token: string | undefined): boolean {
  if (!token) return true;
  if (!url.pathname.startsWith('/api/') && url.pathname !== '/metrics') return true;
  const header = req.headers.authorization ?? '';
  const given = header.startsWith('Bearer ') ? header.slice(7) : url.pathname === '/api/drops/stream' ? (url.searchParams.get('token') ?? '') : '';
  return timingSafeEqual(digest(given), digest(token));
}

const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export function createHttpServer(deps: HttpDeps): Server {
  let api: Promise<Record<string, ApiHandler>> | null = null;
  const handlers = () => {
    if (typeof deps.api !== 'function') return Promise.resolve(deps.api);
    // Loaded once; a failed load is retried on the next request.
    api ??= deps.api().catch((e: unknown) => {
      api = null;
      throw e;
    });
    return api;
  };
  return createServer((req, res) => {
    void handle(deps, handlers, req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (!res.headersSent) res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: (e as Error).message }));
    });
  });
}

async function handle(deps: HttpDeps, handlers: () => Promise<Record<string, ApiHandler>>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://lanfence');
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'read-only: GET only');
  if (!authorized(req, url, deps.token)) throw new HttpError(401, 'token required');
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('content-security-policy', CSP);
  res.setHeader('referrer-policy', 'no-referrer');
  if (url.pathname === '/metrics') {
    deps.beforeScrape?.();
    res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
    res.end(await deps.metrics.registry.metrics());
    return;
  }
  if (url.pathname === '/api/drops/stream') return stream(deps, url, req, res);
  if (url.pathname.startsWith('/api/')) {
    const [name, ...rest] = url.pathname.slice(5).split('/');
    const api = await handlers();
    const h = Object.hasOwn(api, name) ? api[name] : undefined;
    if (!h) throw new HttpError(404, `no such endpoint: ${url.pathname}`);
    const body = await h(url.searchParams, decodeURIComponent(rest.join('/')));
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
    return;
  }
  return serveStatic(deps.webDir, url.pathname, res);
}

function stream(deps: HttpDeps, url: URL, req: IncomingMessage, res: ServerResponse): void {
  const container = url.searchParams.get('container');
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  res.write(': lanfence drops\n\n');
  const off = deps.drops.subscribe((d) => {
    if (!container || d.container === container) res.write(`event: drop\ndata: ${JSON.stringify(d)}\n\n`);
  });
  const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
  req.on('close', () => {
    off();
    clearInterval(ping);
  });
}

function serveStatic(webDir: string | undefined, pathname: string, res: ServerResponse): void {
  if (!webDir || !existsSync(webDir)) throw new HttpError(404, 'the dashboard is not built (npm run build)');
  // Canonical form: the daemon passes `dist/web/` with a trailing slash, which `startsWith(dir + sep)` would never match.
  const root = resolve(webDir);
  const rel = normalize(decodeURIComponent(pathname)).replace(/^([/\\])+/, '');
  let file = join(root, rel);
  if (!file.startsWith(root + sep) && file !== root) throw new HttpError(400, 'bad path');
  if (!existsSync(file) || statSync(file).isDirectory()) file = join(root, 'index.html'); // client-side routes
  res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': file.endsWith('index.html') ? 'no-cache' : 'max-age=3600' });
  res.end(readFileSync(file));
}

export function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}
