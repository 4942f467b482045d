/** The daemon's local API: HTTP over a root-only unix socket (`/run/lanfence.sock`). */
import { chmodSync, existsSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { Daemon } from './daemon.js';

export const DEFAULT_SOCKET = '/run/lanfence.sock';

export function serveApi(daemon: Daemon, socketPath: string): Promise<Server> {
  const server = createServer((req, res) => {
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return send(405, { error: 'read-only API' });
    const url = new URL(req.url ?? '/', 'http://lanfence');
    switch (url.pathname) {
      case '/v1/status':
        return send(200, daemon.state);
      case '/v1/inventory':
        return send(200, daemon.inventorySnapshot());
      case '/v1/history': {
        const address = url.searchParams.get('address');
        const at = Number(url.searchParams.get('at') ?? Date.now());
        return send(200, address ? { address, at, holder: daemon.history.lookup(address, at) } : daemon.history.toJSON());
      }
      default:
        return send(404, { error: 'not found', paths: ['/v1/status', '/v1/inventory', '/v1/history?address=A&at=MS'] });
    }
  });
  if (existsSync(socketPath)) rmSync(socketPath);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      chmodSync(socketPath, 0o600);
      resolve(server);
    });
  });
}

/** GET a path from a running daemon; null when none answers. */
export function queryDaemon<T>(socketPath: string, path: string, timeoutMs = 2000): Promise<T | null> {
  if (!existsSync(socketPath)) return Promise.resolve(null);
  return new Promise((resolve) => {
    const req = request({ socketPath, path, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as T);
        } catch {
          resolve(null);
        }
      });
    });
    req.on('error', () => resolve(null));
    req.on('timeout', () => {
      req.destroy();
      resolve(null);
    });
    req.end();
  });
}
